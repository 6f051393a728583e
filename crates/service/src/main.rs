//! `warrant-service`: runs the Warrant service (`serve`), issues API tokens (`token create`) and rotates the
//! master key (`rotate-master-key`). `warrant serve` runs the same [`warrant_service::serve`].

use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};
use warrant_service::{NewTokenArgs, ServeArgs, ServiceError, keys};

#[derive(Parser)]
#[command(
    name = "warrant-service",
    version,
    about = "The Warrant service: session keys for unattended programs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the service until SIGINT or SIGTERM.
    Serve(ServeArgs),
    /// API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Re-seals every key under a new master key (one transaction), then the new one is the master key.
    RotateMasterKey {
        #[command(flatten)]
        serve: ServeArgs,
        /// The new master key's file (64 hex digits; created with a random key if missing).
        #[arg(long)]
        new_master_key_file: PathBuf,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Creates an API token limited to the named sessions (`*`: all); prints it once. Only its hash is stored.
    Create {
        #[command(flatten)]
        serve: ServeArgs,
        #[command(flatten)]
        token: NewTokenArgs,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), ServiceError> {
    match cli.command {
        Command::Serve(args) => {
            let config = args.resolve()?;
            warrant_service::init_logging(config.log_json);
            warrant_service::serve(config).await
        }
        Command::Token(TokenCommand::Create { serve, token }) => {
            println!(
                "{}",
                warrant_service::issue_token(&serve, &token.sessions, &token.label, token.admin).await?
            );
            Ok(())
        }
        Command::RotateMasterKey { serve, new_master_key_file } => {
            let config = serve.resolve_offline()?;
            let storage = warrant_service::open_storage(&config).await?;
            let old = warrant_service::load_master_key(&config)?;
            let new = if new_master_key_file.exists() {
                keys::MasterKey::from_file(&new_master_key_file)?
            } else {
                keys::MasterKey::create_file(&new_master_key_file)?
            };
            let n = keys::rotate(storage.as_ref(), &old, &new).await?;
            storage
                .audit(
                    "operator",
                    "master_key.rotate",
                    "keys",
                    &serde_json::json!({ "keys": n }).to_string(),
                    warrant_service::ids::now(),
                )
                .await?;
            println!(
                "re-sealed {n} keys under {}; start the service with --master-key-file {} and destroy the old key",
                new_master_key_file.display(),
                new_master_key_file.display()
            );
            Ok(())
        }
    }
}
