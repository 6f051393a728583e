//! `warrant`: session keys and delegation for Ethereum smart accounts and EIP-7702 EOAs.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod args;
mod cmd;
mod error;
mod input;
mod scope_spec;

use cmd::{
    auth, check, delegate, demo, devnet, explain, grant, key, revoke, send, serve, service, status,
    undelegate,
};

pub(crate) use error::CliError;

/// Session keys and delegation for Ethereum smart accounts and EIP-7702 EOAs.
#[derive(Debug, Parser)]
#[command(name = "warrant", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the end-to-end demo on an in-process chain (no set-up needed).
    Demo(demo::DemoArgs),
    /// Start a local network to try Warrant on: anvil and Alto on 127.0.0.1 with EntryPoint v0.8, Warrant's
    /// contracts, a funded dev EOA and a test token; prints the environment to export; Ctrl-C stops it.
    Devnet(devnet::DevnetArgs),
    /// Manage the encrypted keystore of owner and session keys.
    #[command(subcommand)]
    Key(key::KeyCommand),
    /// Sign a grant (dynamic delegation) for a session key, as the account's owner.
    Grant(Box<grant::GrantArgs>),
    /// Say in plain words what a grant allows.
    Explain(explain::ExplainArgs),
    /// Pre-flight: would the session be allowed this call? Exit 0 if allowed, 1 if denied (naming the rule).
    Check(Box<check::CheckArgs>),
    /// Build, check, sign and send a session operation through a bundler.
    Send(Box<send::SendArgs>),
    /// What a grant's session has used and has left: uses, value, spend limits in the current period.
    Status(Box<status::StatusArgs>),
    /// Revoke a session (or every session) of an account, as its owner.
    Revoke(Box<revoke::RevokeArgs>),
    /// Delegate an EOA to WarrantAccount with an EIP-7702 transaction (optionally temporary).
    Delegate(Box<delegate::DelegateArgs>),
    /// Restore a delegated EOA to a plain EOA (zero-address EIP-7702 authorization).
    Undelegate(Box<undelegate::UndelegateArgs>),
    /// Sign and recover EIP-7702 authorizations.
    #[command(subcommand)]
    Auth(auth::AuthCommand),
    /// Run the Warrant service: session keys for unattended programs (jobs, agents, backends), an HTTP API on
    /// 127.0.0.1:8645; SQLite in the data directory by default. Settings: config file < environment < flags.
    Serve(Box<warrant_service::ServeArgs>),
    /// Talk to a running Warrant service: keys, grants, sessions, sends, jobs, API tokens.
    Service(Box<service::ServiceCli>),
}

fn main() -> ExitCode {
    // Like other Unix tools, end quietly when the reader of stdout goes away (`warrant … | head`).
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // `--json` anywhere on the command line makes errors JSON too (stderr), for scripts.
    let json = std::env::args_os().skip(1).any(|a| a == "--json");
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(args) => demo::run(&args),
        Command::Devnet(args) => devnet::run(&args),
        Command::Key(command) => key::run(&command),
        Command::Grant(args) => grant::run(&args),
        Command::Explain(args) => explain::run(&args),
        Command::Check(args) => check::run(&args),
        Command::Send(args) => send::run(&args),
        Command::Status(args) => status::run(&args),
        Command::Revoke(args) => revoke::run(&args),
        Command::Delegate(args) => delegate::run(&args),
        Command::Undelegate(args) => undelegate::run(&args),
        Command::Auth(command) => auth::run(&command),
        Command::Serve(args) => serve::run(&args),
        Command::Service(cli) => service::run(&cli),
    };
    match result {
        Ok(code) => code,
        // A refusal of the operation names its rule (`pre-flight: denied — Rule: …`, `bundler: denied — …`):
        // exit 1. Anything else is an error: exit 2.
        Err(e) => {
            let refusal = e.is_refusal();
            // Whatever formed the message, no URL's API key is printed (`https://host/v3/KEY` → `https://host/…`).
            let message = warrant_chain::bundler::redact_urls(&e.to_string());
            if json {
                let value = serde_json::json!({
                    "error": if refusal { "refused" } else { "error" },
                    "rule": e.rule(),
                    "detail": warrant_chain::bundler::redact_urls(&e.detail()),
                });
                eprintln!("{value}");
            } else if refusal {
                eprintln!("{message}");
            } else {
                eprintln!("error: {message}");
            }
            ExitCode::from(if refusal { 1 } else { 2 })
        }
    }
}
