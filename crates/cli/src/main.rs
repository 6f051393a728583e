//! `warrant`: session keys and delegation for Ethereum smart accounts and EIP-7702 EOAs.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod auth;
mod demo;
mod error;

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
    /// Sign and recover EIP-7702 authorizations.
    #[command(subcommand)]
    Auth(auth::AuthCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(args) => demo::run(&args),
        Command::Auth(command) => auth::run(&command),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
