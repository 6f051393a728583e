//! `warrant-bench`: the benchmarks behind `scripts/bench` (see the README's Benchmarks section).

use std::{path::PathBuf, process::ExitCode, time::Duration};

use clap::{Parser, Subcommand};
use warrant_bench::{BenchError, gas, report, sign};

#[derive(Parser)]
#[command(about = "Warrant's benchmarks: gas on anvil, off-chain signing")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Gas of every job on one anvil chain (writes JSON).
    Gas {
        /// Where to write the figures.
        #[arg(long)]
        out: PathBuf,
        /// MetaMask Delegation Framework bytecode (`@metamask/delegation-abis/dist/bytecode`).
        #[arg(long)]
        metamask_bytecode: PathBuf,
    },
    /// Session operations signed per second on this thread, and the raw libsecp256k1 rate (writes JSON).
    Sign {
        /// Where to write the figures.
        #[arg(long)]
        out: PathBuf,
        /// Where to write the job for viem (`bench/viem-sign.mjs`).
        #[arg(long)]
        job_out: PathBuf,
        /// Seconds per timed round.
        #[arg(long, default_value_t = 1.0)]
        seconds: f64,
        /// Rounds per figure (the best is kept).
        #[arg(long, default_value_t = 5)]
        rounds: usize,
    },
    /// Combines the figures into results.json and results.md, and the README's table. Sections not measured
    /// this time (no --gas/--sign/--viem, or no --service) are carried over from --previous.
    Report {
        /// Gas figures (`gas --out`).
        #[arg(long, requires_all = ["sign", "viem"])]
        gas: Option<PathBuf>,
        /// Signing figures (`sign --out`).
        #[arg(long, requires_all = ["gas", "viem"])]
        sign: Option<PathBuf>,
        /// viem's figures (`bench/viem-sign.mjs`).
        #[arg(long, requires_all = ["gas", "sign"])]
        viem: Option<PathBuf>,
        /// The service's figures (`cargo bench -p warrant-service --bench api -- --out …`); repeatable.
        #[arg(long)]
        service: Vec<PathBuf>,
        /// The previous results.json, for the sections not measured this time.
        #[arg(long)]
        previous: Option<PathBuf>,
        /// Directory for results.json and results.md.
        #[arg(long)]
        out_dir: PathBuf,
        /// README whose Benchmarks section to replace.
        #[arg(long)]
        readme: Option<PathBuf>,
    },
}

fn write_json(path: &PathBuf, value: &serde_json::Value) -> Result<(), BenchError> {
    let text = serde_json::to_string_pretty(value).expect("JSON values serialize");
    std::fs::write(path, text + "\n")
        .map_err(|e| BenchError::File { path: path.clone(), reason: e.to_string() })
}

fn run(cli: Cli) -> Result<(), BenchError> {
    match cli.command {
        Command::Gas { out, metamask_bytecode } => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| BenchError::Job { job: "tokio runtime".into(), reason: e.to_string() })?;
            let figures = runtime.block_on(gas::run(&metamask_bytecode))?;
            write_json(&out, &figures)
        }
        Command::Sign { out, job_out, seconds, rounds } => {
            sign::check_backends_agree()?;
            write_json(&job_out, &sign::Job::new()?.to_json()?)?;
            let figures = sign::run(Duration::from_secs_f64(seconds), rounds.max(1))?;
            println!("{}", serde_json::to_string_pretty(&figures).expect("serializes"));
            write_json(&out, &figures)
        }
        Command::Report { gas, sign, viem, service, previous, out_dir, readme } => {
            let inputs = report::Inputs {
                gas: gas.as_deref(),
                sign: sign.as_deref(),
                viem: viem.as_deref(),
                service: &service,
                previous: previous.as_deref(),
            };
            report::write_results(&inputs, &out_dir, readme.as_deref())
        }
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("warrant-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
