//! `warrant key`: the encrypted keystore of owner and session keys, and the one way every other command gets a
//! signing key (`--key NAME` from the keystore, or `--private-key`).
//!
//! Passwords come from `WARRANT_PASSWORD` or, in a terminal, a prompt that does not echo. Secrets are never
//! printed.

use std::process::ExitCode;

use alloy::primitives::Address;

use warrant_keystore::{Keystore, SecretKey};
use zeroize::Zeroizing;

use crate::{
    CliError,
    args::{KeystoreArgs, password},
};

/// The most a hex secret read from stdin may be (a key is 66 characters with `0x`).
const MAX_SECRET_INPUT: u64 = 4096;

/// The secret of `key import`: stdin when it is not a terminal, else a prompt that does not echo.
fn hex_secret() -> Result<Zeroizing<String>, CliError> {
    use std::io::{IsTerminal, Read};
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return rpassword::prompt_password("private key (hex, not shown): ").map(Zeroizing::new).map_err(
            |e| CliError::InvalidInput(format!("cannot read the private key from the terminal: {e}")),
        );
    }
    let mut text = Zeroizing::new(String::new());
    stdin
        .lock()
        .take(MAX_SECRET_INPUT)
        .read_to_string(&mut text)
        .map_err(|_| CliError::InvalidInput("stdin is not a hex private key (not UTF-8 text)".into()))?;
    if text.trim().is_empty() {
        return Err(CliError::InvalidInput(
            "no private key on stdin: pipe the hex key in (`warrant key import NAME < FILE`), run in a terminal \
             to be asked for it, or use --from-file for a key file"
                .into(),
        ));
    }
    Ok(text)
}

/// A secret from the environment variable `var` or, in a terminal, a prompt that does not echo; never empty.
fn secret_input(var: &str, prompt: &str, what: &str) -> Result<Zeroizing<String>, CliError> {
    let value = match std::env::var(var) {
        Ok(value) => Zeroizing::new(value),
        Err(_) => rpassword::prompt_password(prompt)
            .map(Zeroizing::new)
            .map_err(|_| CliError::InvalidInput(format!("no {what}: no terminal to ask on; set {var}")))?,
    };
    if value.is_empty() {
        return Err(CliError::InvalidInput(format!("{what} is empty")));
    }
    Ok(value)
}

/// `warrant key` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum KeyCommand {
    /// Create a new random key, stored encrypted (never overwrites an existing name).
    New {
        /// Name of the key (1–64 of A-Z a-z 0-9 . _ -, starting with a letter or digit).
        name: String,
        #[command(flatten)]
        keystore: KeystoreArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Import an existing key: its hex secret from stdin (piped) or from a prompt that does not echo, never from
    /// the command line; or a Web3 Secret Storage v3 file (geth, `cast wallet`, a wallet's export) with
    /// --from-file, whose password comes from WARRANT_IMPORT_PASSWORD or a prompt. The new entry's password
    /// comes from WARRANT_PASSWORD or a prompt (twice).
    Import {
        /// Name of the key (1–64 of A-Z a-z 0-9 . _ -, starting with a letter or digit).
        name: String,
        /// A Web3 Secret Storage v3 key file to import instead of a hex secret.
        #[arg(long, value_name = "FILE")]
        from_file: Option<std::path::PathBuf>,
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
        KeyCommand::Import { name, from_file, keystore, json } => {
            let keystore = keystore.open()?;
            warrant_keystore::validate_name(name)?;
            if keystore.info(name).is_ok() {
                return Err(CliError::Keystore(warrant_keystore::KeystoreError::KeyExists {
                    name: name.clone(),
                }));
            }
            let secret = match from_file {
                Some(path) => {
                    let password = secret_input(
                        "WARRANT_IMPORT_PASSWORD",
                        &format!("password of {}: ", path.display()),
                        "the key file's password",
                    )?;
                    Keystore::decrypt_file(path, password.as_bytes())?
                }
                None => {
                    let text = hex_secret()?;
                    SecretKey::from_hex(&text)?
                }
            };
            let password = password(&format!("new password for key {name:?}: "), true)?;
            let info = keystore.import(name, &secret, password.as_bytes())?;
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
