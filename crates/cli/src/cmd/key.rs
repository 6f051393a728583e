//! `warrant key`: the encrypted keystore of owner and session keys, and the one way every other command gets a
//! signing key (`--key NAME` from the keystore, or `--private-key`).
//!
//! Passwords come from `WARRANT_PASSWORD` or, in a terminal, a prompt that does not echo. Secrets are never
//! printed.

use std::process::ExitCode;

use alloy::primitives::Address;

use crate::{
    CliError,
    args::{KeystoreArgs, password},
};

/// `warrant key` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum KeyCommand {
    /// Create a new random key, stored encrypted (never overwrites an existing name).
    New {
        /// Name of the key (1–64 of A-Z a-z 0-9 . _ -).
        name: String,
        #[command(flatten)]
        keystore: KeystoreArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the keys (names and addresses; nothing is decrypted).
    List {
        #[command(flatten)]
        keystore: KeystoreArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print a key's address (nothing is decrypted).
    Address {
        /// Name of the key.
        name: String,
        #[command(flatten)]
        keystore: KeystoreArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn print_key(name: &str, address: Address, json: bool) -> Result<(), CliError> {
    if json {
        println!("{}", serde_json::json!({ "name": name, "address": address.to_checksum(None) }));
    } else {
        println!("{name}  {address}");
    }
    Ok(())
}

pub(crate) fn run(command: &KeyCommand) -> Result<ExitCode, CliError> {
    match command {
        KeyCommand::New { name, keystore, json } => {
            let keystore = keystore.open()?;
            warrant_keystore::validate_name(name)?;
            if keystore.info(name).is_ok() {
                return Err(CliError::Keystore(warrant_keystore::KeystoreError::KeyExists {
                    name: name.clone(),
                }));
            }
            let password = password(&format!("new password for key {name:?}: "), true)?;
            let info = keystore.create(name, password.as_bytes())?;
            print_key(&info.name, info.address, *json)?;
        }
        KeyCommand::List { keystore, json } => {
            let keys = keystore.open()?.list()?;
            if *json {
                let keys: Vec<_> = keys
                    .iter()
                    .map(|k| serde_json::json!({ "name": k.name, "address": k.address.to_checksum(None) }))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&keys)?);
            } else if keys.is_empty() {
                eprintln!("no keys in {}", keystore.open()?.dir().display());
            } else {
                for k in keys {
                    print_key(&k.name, k.address, false)?;
                }
            }
        }
        KeyCommand::Address { name, keystore, json } => {
            let address = keystore.open()?.address(name)?;
            if *json {
                print_key(name, address, true)?;
            } else {
                println!("{address}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
