//! `warrant devnet`: a local network to try Warrant on, in one command. anvil and Alto (safe mode) on 127.0.0.1,
//! EntryPoint v0.8, Warrant's contracts, a funded dev EOA holding a test token; it prints the environment to
//! export and runs until Ctrl-C (SIGINT) or SIGTERM, then stops both processes and their process groups.
//!
//! Built on `warrant_chain::devnet::Devnet` (the end-to-end tests' harness), whose `dev_environment` other tools
//! share.

use std::{path::PathBuf, process::ExitCode, time::Duration};

use tokio::signal::unix::{SignalKind, signal};
use warrant_chain::devnet::{DevEnvironment, Devnet, DevnetConfig};
use warrant_core::constants::ENTRY_POINT_V08;

use crate::{CliError, args::runtime};

/// Arguments of `warrant devnet`.
#[derive(Debug, clap::Args)]
pub(crate) struct DevnetArgs {
    /// Also write the `export` lines to this new file (mode 0600; `. FILE` in another shell), removed when the
    /// devnet stops.
    #[arg(long, value_name = "FILE")]
    env_file: Option<PathBuf>,
    /// Keep anvil's and Alto's logs after a clean stop (they are always kept after a failure).
    #[arg(long)]
    keep_logs: bool,
    /// Print JSON (one line, when the network is ready).
    #[arg(long)]
    json: bool,
}

/// How often a running devnet checks that anvil and Alto are still up.
const WATCH_INTERVAL: Duration = Duration::from_millis(500);

pub(crate) fn run(args: &DevnetArgs) -> Result<ExitCode, CliError> {
    if let Some(path) = &args.env_file
        && path.exists()
    {
        return Err(CliError::InvalidInput(format!("{} exists; refusing to overwrite it", path.display())));
    }
    runtime()?.block_on(async {
        let signal_error =
            |e: std::io::Error| CliError::InvalidInput(format!("cannot watch for signals: {e}"));
        let mut interrupt = signal(SignalKind::interrupt()).map_err(signal_error)?;
        let mut terminate = signal(SignalKind::terminate()).map_err(signal_error)?;
        if !args.json {
            eprintln!("starting anvil and Alto on 127.0.0.1 …");
        }
        let config = DevnetConfig {
            keep_logs: args.keep_logs || DevnetConfig::default().keep_logs,
            ..Default::default()
        };
        let start = async {
            let net = Devnet::start(config).await?;
            let env = net.dev_environment().await?;
            Ok::<_, CliError>((net, env))
        };
        // A signal during start-up drops the half-started network, which stops what it started.
        let (mut net, env) = tokio::select! {
            started = start => started?,
            _ = interrupt.recv() => return Ok(stopped("interrupted during start-up")),
            _ = terminate.recv() => return Ok(stopped("terminated during start-up")),
        };
        let vars = env.env(&net);
        if let Some(path) = &args.env_file {
            let text: String = vars.iter().map(|(k, v)| format!("export {k}={v}\n")).collect();
            crate::cmd::delegate::write_new_file(path, &text)?;
        }
        print_ready(&net, &env, &vars, args)?;
        let outcome = loop {
            tokio::select! {
                _ = interrupt.recv() => break Ok("SIGINT"),
                _ = terminate.recv() => break Ok("SIGTERM"),
                _ = tokio::time::sleep(WATCH_INTERVAL) => {
                    if let Err(e) = net.check_running() {
                        break Err(e);
                    }
                }
            }
        };
        if let Some(path) = &args.env_file {
            let _ = std::fs::remove_file(path);
        }
        let log_dir = net.log_dir().to_owned();
        drop(net);
        match outcome {
            Ok(signal) => {
                if !args.json {
                    eprintln!("{signal}: anvil and Alto stopped");
                }
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => Err(CliError::InvalidInput(format!(
                "the devnet stopped by itself: {e} (logs in {})",
                log_dir.display()
            ))),
        }
    })
}

fn stopped(why: &str) -> ExitCode {
    eprintln!("{why}: anvil and Alto stopped");
    ExitCode::from(130)
}

fn print_ready(
    net: &Devnet,
    env: &DevEnvironment,
    vars: &[(&'static str, String)],
    args: &DevnetArgs,
) -> Result<(), CliError> {
    let checksum = |a: alloy::primitives::Address| a.to_checksum(None);
    if args.json {
        let env_map: serde_json::Map<String, serde_json::Value> =
            vars.iter().map(|(k, v)| ((*k).to_owned(), serde_json::Value::String(v.clone()))).collect();
        let json = serde_json::json!({
            "rpcUrl": vars[0].1,
            "bundlerUrl": vars[1].1,
            "chainId": net.chain_id().to_string(),
            "entryPoint": checksum(ENTRY_POINT_V08),
            "warrantAccount": checksum(env.contracts.implementation),
            "factory": checksum(env.contracts.factory),
            "validator": checksum(env.contracts.validator),
            "eoa": checksum(env.eoa.address()),
            "recipient": checksum(env.recipient),
            "token": { "address": checksum(env.token), "symbol": "MOCK", "decimals": "18",
                       "eoaBalance": env.token_balance.to_string() },
            "env": env_map,
            "envFile": args.env_file.as_ref().map(|p| p.display().to_string()),
            "processIds": net.process_ids().iter().map(u32::to_string).collect::<Vec<_>>(),
            "logDir": net.log_dir().display().to_string(),
        });
        println!("{json}");
    } else {
        println!(
            "anvil  {} (chain id {}, EntryPoint v0.8 at {})",
            vars[0].1,
            net.chain_id(),
            ENTRY_POINT_V08
        );
        println!("Alto   {} (safe mode: ERC-7562 tracing)", vars[1].1);
        println!(
            "Warrant: WarrantAccount (the 7702 delegate) {}, factory {}, WarrantValidator {}",
            checksum(env.contracts.implementation),
            checksum(env.contracts.factory),
            checksum(env.contracts.validator)
        );
        println!(
            "dev EOA {} holds 1000000 ETH and {} MOCK (an 18-decimal test ERC-20 at {}); BOB {} is a payee",
            checksum(env.eoa.address()),
            warrant_chain::devnet::DEV_TOKEN_MINTED,
            checksum(env.token),
            checksum(env.recipient)
        );
        println!(
            "# paste into the shell you run warrant from (devnet keys are public: never use them elsewhere)"
        );
        for (k, v) in vars {
            println!("export {k}={v}");
        }
        if let Some(path) = &args.env_file {
            println!("# or: . {}", path.display());
        }
        println!("# logs: {}", net.log_dir().display());
        println!("ready: Ctrl-C stops anvil and Alto");
    }
    use std::io::Write;
    let _ = std::io::stdout().flush();
    Ok(())
}
