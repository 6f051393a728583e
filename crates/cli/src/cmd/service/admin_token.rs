//! `warrant service admin-token`: the operator's first admin token, written straight into the storage the
//! service uses (the same settings as `warrant serve`: `--data-dir`, `--database-url`, the master key, which it
//! checks). No running service or node needed; printed once, only its hash is stored; audited as `operator`.

use std::process::ExitCode;

use warrant_service::ServeArgs;

use crate::{CliError, args::runtime};

#[derive(Debug, clap::Args)]
pub(crate) struct AdminTokenArgs {
    #[command(flatten)]
    serve: ServeArgs,
    /// Session names the token may act on (comma-separated, or `*`).
    #[arg(long, value_delimiter = ',', default_value = "*")]
    sessions: Vec<String>,
    /// What to call it.
    #[arg(long, default_value = "admin")]
    label: String,
}

pub(super) fn run(args: &AdminTokenArgs) -> Result<ExitCode, CliError> {
    let token = runtime()?
        .block_on(warrant_service::issue_token(&args.serve, &args.sessions, &args.label, true))
        .map_err(|e| CliError::InvalidInput(e.to_string()))?;
    println!("{token}");
    Ok(ExitCode::SUCCESS)
}
