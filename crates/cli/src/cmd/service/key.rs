//! `warrant service key create|grant|forget`: session keys the service creates and holds (only their addresses
//! ever leave it), the owner's grant attached by token, and forgetting a key.

use std::process::ExitCode;

use serde_json::{Value, json};

use super::{Http, segment, show, text};
use crate::CliError;

#[derive(Debug, clap::Subcommand)]
pub(crate) enum KeyCommand {
    /// Create a session key named NAME; prints its address (the `--session-key` of the owner's grant).
    Create {
        /// The session's name (what API tokens are limited to).
        name: String,
    },
    /// Attach the owner's grant to the key NAME: a `warrant1…` token, or a file holding it.
    Grant {
        /// The session's name.
        name: String,
        /// The grant token (`warrant grant … --session-key ADDRESS` printed it), or a file holding it.
        token: String,
    },
    /// Forget the key NAME: its sealed secret is erased and its jobs cancelled (the session stays valid on chain
    /// until the owner revokes it).
    Forget {
        /// The session's name.
        name: String,
    },
}

pub(super) fn run(http: &Http, command: &KeyCommand, json: bool) -> Result<ExitCode, CliError> {
    let v = match command {
        KeyCommand::Create { name } => http.post("/v1/keys", &json!({ "name": name }))?,
        KeyCommand::Grant { name, token } => {
            let token = crate::input::file_or_text(token, "grant file")?;
            http.post(&format!("/v1/keys/{}/grant", segment(name)), &json!({ "token": token.trim() }))?
        }
        KeyCommand::Forget { name } => http.delete(&format!("/v1/keys/{}", segment(name)))?,
    };
    show(&v, json, print)
}

pub(super) fn print(k: &Value) {
    let reason = k.get("reason").and_then(Value::as_str).map(|r| format!(" ({r})")).unwrap_or_default();
    println!("session {}: key {}, {}{reason}", text(k, "name"), text(k, "address"), text(k, "state"));
    if let Some(account) = k.get("account").and_then(Value::as_str) {
        println!("  account {account}, session id {}", text(k, "session_id"));
    }
}
