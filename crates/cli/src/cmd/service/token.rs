//! `warrant service token create|list|revoke`: API tokens over the API, for admin tokens only. A new token is
//! printed once (only its hash is kept); listings never show a secret; a revoked token gets 401 from then on.

use std::process::ExitCode;

use serde_json::{Value, json};
use warrant_service::NewTokenArgs;

use super::{Http, segment, show, text};
use crate::CliError;

#[derive(Debug, clap::Subcommand)]
pub(crate) enum TokenCommand {
    /// Create a token limited to the named sessions (`*`: all); prints it once.
    Create(NewTokenArgs),
    /// Every token, revoked ones too, without secrets.
    List,
    /// Revoke a token by id (`tok_…`, the part of `wst_tok_….…` before the dot).
    Revoke {
        /// The token's id.
        id: String,
    },
}

pub(super) fn run(http: &Http, command: &TokenCommand, json: bool) -> Result<ExitCode, CliError> {
    match command {
        TokenCommand::Create(NewTokenArgs { sessions, label, admin }) => {
            let v =
                http.post("/v1/tokens", &json!({ "sessions": sessions, "label": label, "admin": admin }))?;
            // The secret alone on stdout (for `$(…)`); what it is on stderr.
            show(&v, json, |v| {
                eprint!("created ");
                print_to_stderr(v);
                println!("{}", text(v, "token"));
            })
        }
        TokenCommand::List => show(&http.get("/v1/tokens")?, json, |v| {
            v.as_array().map(Vec::as_slice).unwrap_or_default().iter().for_each(print);
        }),
        TokenCommand::Revoke { id } => {
            show(&http.post(&format!("/v1/tokens/{}/revoke", segment(id)), &json!({}))?, json, print)
        }
    }
}

fn describe(t: &Value) -> String {
    let sessions: Vec<&str> =
        t["sessions"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    let revoked = t["revoked_at"].as_i64().map(|at| format!(", REVOKED at {at}")).unwrap_or_default();
    format!(
        "token {} {:?}: sessions {}{}{revoked}",
        text(t, "id"),
        text(t, "label"),
        sessions.join(","),
        if t["admin"] == true { ", admin" } else { "" }
    )
}

fn print(t: &Value) {
    println!("{}", describe(t));
}

fn print_to_stderr(t: &Value) {
    eprintln!("{}", describe(t));
}
