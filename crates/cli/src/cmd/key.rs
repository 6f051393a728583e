//! `warrant key`: the encrypted keystore of owner and session keys, and the one way every other command gets a
//! signing key (`--key NAME` from the keystore, or `--private-key`).
//!
//! Passwords come from `WARRANT_PASSWORD` or, in a terminal, a prompt that does not echo. Secrets are never
//! printed.

use std::{path::PathBuf, process::ExitCode};

use alloy::{hex, primitives::Address, signers::local::PrivateKeySigner};
use warrant_keystore::Keystore;
use zeroize::Zeroizing;

use crate::CliError;

/// Where the keystore lives: `--keystore`, `$WARRANT_KEYSTORE`, else `~/.warrant/keystore`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct KeystoreArgs {
    /// The keystore directory (default: ~/.warrant/keystore).
    #[arg(long, env = "WARRANT_KEYSTORE", global = true)]
    keystore: Option<PathBuf>,
}

impl KeystoreArgs {
    pub(crate) fn open(&self) -> Result<Keystore, CliError> {
        let dir = match &self.keystore {
            Some(dir) => dir.clone(),
            None => std::env::var_os("HOME")
                .map(|home| PathBuf::from(home).join(".warrant/keystore"))
                .ok_or_else(|| CliError::InvalidInput("HOME is not set: pass --keystore DIR".into()))?,
        };
        Ok(Keystore::open(dir)?)
    }
}

/// A signing key: a keystore entry (`--key NAME`) or a raw private key (`--private-key`, better through
/// `WARRANT_PRIVATE_KEY`).
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct SignerArgs {
    /// Name of the key in the keystore.
    #[arg(long, conflicts_with = "private_key")]
    key: Option<String>,
    /// Raw private key (hex); prefer `--key` or the environment variable.
    #[arg(long, env = "WARRANT_PRIVATE_KEY", hide_env_values = true)]
    private_key: Option<String>,
    #[command(flatten)]
    keystore: KeystoreArgs,
}

impl SignerArgs {
    /// Unlocks the key (prompting for its password if needed).
    pub(crate) fn signer(&self, what: &str) -> Result<PrivateKeySigner, CliError> {
        match (&self.key, &self.private_key) {
            (Some(name), _) => {
                let keystore = self.keystore.open()?;
                keystore.info(name)?; // a missing key is reported before asking for a password
                let password = password(&format!("password for key {name:?}: "), false)?;
                Ok(keystore.unlock(name, password.as_bytes())?)
            }
            (None, Some(text)) => parse_private_key(text),
            (None, None) => Err(CliError::InvalidInput(format!(
                "no {what} key: pass --key NAME (keystore) or --private-key (or WARRANT_PRIVATE_KEY)"
            ))),
        }
    }
}

/// Parses a 32-byte hex private key, naming the problem without echoing the input.
pub(crate) fn parse_private_key(text: &str) -> Result<PrivateKeySigner, CliError> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    let text = text.trim();
    hex::decode_to_slice(text.strip_prefix("0x").unwrap_or(text), &mut *bytes)
        .map_err(|_| CliError::InvalidInput("private key must be 32 bytes of hex".into()))?;
    PrivateKeySigner::from_slice(&*bytes)
        .map_err(|_| CliError::InvalidInput("private key is not a valid secp256k1 scalar".into()))
}

/// The keystore password: `WARRANT_PASSWORD`, else a prompt (twice when `confirm`).
fn password(prompt: &str, confirm: bool) -> Result<Zeroizing<String>, CliError> {
    if let Ok(password) = std::env::var("WARRANT_PASSWORD") {
        return Ok(Zeroizing::new(password));
    }
    let read = |prompt: &str| {
        rpassword::prompt_password(prompt).map(Zeroizing::new).map_err(|_| {
            CliError::InvalidInput("no password: set WARRANT_PASSWORD or run in a terminal".into())
        })
    };
    let first = read(prompt)?;
    if confirm && *read("repeat the password: ")? != *first {
        return Err(CliError::InvalidInput("the two passwords differ".into()));
    }
    if first.is_empty() {
        return Err(CliError::InvalidInput("refusing an empty password".into()));
    }
    Ok(first)
}

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
