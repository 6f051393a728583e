//! `warrant serve`: runs the Warrant service (`warrant_service::serve`), the same as `warrant-service serve`:
//! settings from a config file, then the environment, then flags (each wins over the one before); SQLite in the
//! data directory by default, `--database-url postgres://…` for several instances. Runs until SIGINT or SIGTERM.

use std::process::ExitCode;

use warrant_service::ServeArgs;

use crate::CliError;

pub(crate) fn run(args: &ServeArgs) -> Result<ExitCode, CliError> {
    // Settings first, so a bad one is input error (exit 2) before anything starts.
    let config = args.resolve().map_err(|e| CliError::InvalidInput(e.to_string()))?;
    warrant_service::init_logging(config.log_json);
    // The service's API and worker share a multi-threaded runtime (the other commands use one thread).
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::InvalidInput(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(warrant_service::serve(config)).map_err(|e| CliError::ServiceStopped(e.to_string()))?;
    Ok(ExitCode::SUCCESS)
}
