//! `warrant`: session keys and delegation for Ethereum smart accounts and EIP-7702 EOAs.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod auth;
mod demo;
mod error;
mod grant;
mod input;
mod inspect;
mod keys;
mod net;
mod scope_spec;

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
    /// Manage the encrypted keystore of owner and session keys.
    #[command(subcommand)]
    Key(keys::KeyCommand),
    /// Sign a grant (dynamic delegation) for a session key, as the account's owner.
    Grant(Box<grant::GrantArgs>),
    /// Say in plain words what a grant allows.
    Explain(inspect::ExplainArgs),
    /// Pre-flight: would the session be allowed this call? Exit 0 if allowed, 1 if denied (naming the rule).
    Check(inspect::CheckArgs),
    /// Build, check, sign and send a session operation through a bundler.
    Send(Box<net::SendArgs>),
    /// What a grant's session has used and has left: uses, value, spend limits in the current period.
    Status(Box<net::StatusArgs>),
    /// Revoke a session (or every session) of an account, as its owner.
    Revoke(Box<net::RevokeArgs>),
    /// Delegate an EOA to WarrantAccount with an EIP-7702 transaction (optionally temporary).
    Delegate(Box<net::DelegateArgs>),
    /// Restore a delegated EOA to a plain EOA (zero-address EIP-7702 authorization).
    Undelegate(Box<net::UndelegateArgs>),
    /// Sign and recover EIP-7702 authorizations.
    #[command(subcommand)]
    Auth(auth::AuthCommand),
}

fn main() -> ExitCode {
    // Like other Unix tools, end quietly when the reader of stdout goes away (`warrant … | head`).
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(args) => demo::run(&args),
        Command::Key(command) => keys::run(&command),
        Command::Grant(args) => grant::run(&args),
        Command::Explain(args) => inspect::explain(&args),
        Command::Check(args) => inspect::check(&args),
        Command::Send(args) => net::send(&args),
        Command::Status(args) => net::status(&args),
        Command::Revoke(args) => net::revoke(&args),
        Command::Delegate(args) => net::delegate(&args),
        Command::Undelegate(args) => net::undelegate(&args),
        Command::Auth(command) => auth::run(&command),
    };
    match result {
        Ok(code) => code,
        Err(CliError::Refused(reason)) => {
            eprintln!("refused: {reason}");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
