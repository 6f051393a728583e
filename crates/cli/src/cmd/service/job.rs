//! `warrant service job create|list|show|pause|resume|cancel`: jobs the service runs, once or on a schedule
//! (an interval, or a cron expression in an IANA time zone), and their history (`show`: every run with its
//! state, nonce, userOpHash, transaction, and the rule of a refusal).

use std::{process::ExitCode, time::Duration};

use serde_json::{Value, json};

use super::{Http, segment, show, text, time};
use crate::{CliError, args::CallArgs};

#[derive(Debug, clap::Subcommand)]
pub(crate) enum JobCommand {
    /// Schedule a job: once (now, or `--at`), every `--every`, or at each `--cron` match in `--tz`.
    Create(Box<CreateArgs>),
    /// The jobs of the sessions this token may act on, newest first.
    List,
    /// A job and its runs (its history).
    Show {
        /// The job's id (`job_…`).
        id: String,
    },
    /// Pause a job: no new run starts until it is resumed.
    Pause {
        /// The job's id.
        id: String,
    },
    /// Resume a paused job (missed slots follow its catch-up policy).
    Resume {
        /// The job's id.
        id: String,
    },
    /// Cancel a job: runs not yet signed are cancelled; one already recorded is still settled.
    Cancel {
        /// The job's id.
        id: String,
    },
}

#[derive(Debug, clap::Args)]
pub(crate) struct CreateArgs {
    /// The session that sends it.
    #[arg(long)]
    session: String,
    #[command(flatten)]
    call: CallArgs,
    /// One run at this time (unix seconds); without a schedule flag: one run now.
    #[arg(long, conflicts_with_all = ["every", "cron"])]
    at: Option<i64>,
    /// A run every this long (`90s`, `1h`, `1d`).
    #[arg(long, conflicts_with = "cron", value_parser = humantime::parse_duration)]
    every: Option<Duration>,
    /// A run at each match of this cron expression (`0 9 * * MON`: Mondays 09:00), read in `--tz`.
    #[arg(long)]
    cron: Option<String>,
    /// The IANA time zone of `--cron` (default UTC).
    #[arg(long, requires = "cron")]
    tz: Option<String>,
    /// The first slot of `--every` (unix seconds; default now).
    #[arg(long, requires = "every")]
    start: Option<i64>,
    /// No slot after this (unix seconds), for `--every` and `--cron`.
    #[arg(long)]
    until: Option<i64>,
    /// A run a period's cap refuses: `wait` for the refill (default) or `skip`.
    #[arg(long, value_parser = ["wait", "skip"])]
    on_refused: Option<String>,
    /// Slots missed while the service was down: `all`, `latest` (default) or `none`.
    #[arg(long, value_parser = ["all", "latest", "none"])]
    catch_up: Option<String>,
    /// Creating again with this key answers the same job.
    #[arg(long)]
    idempotency_key: Option<String>,
}

impl CreateArgs {
    fn schedule(&self) -> Result<Value, CliError> {
        if self.until.is_some() && self.every.is_none() && self.cron.is_none() {
            return Err(CliError::InvalidInput("--until needs --every or --cron".into()));
        }
        Ok(match (&self.every, &self.cron) {
            (Some(every), _) => {
                if every.subsec_nanos() != 0 || every.as_secs() == 0 {
                    return Err(CliError::InvalidInput(format!(
                        "--every {}: a whole number of seconds, at least 1",
                        humantime::format_duration(*every)
                    )));
                }
                json!({ "kind": "interval", "every_secs": every.as_secs(), "start": self.start, "until": self.until })
            }
            (None, Some(expr)) => {
                json!({ "kind": "cron", "expr": expr, "tz": self.tz.as_deref().unwrap_or("UTC"), "until": self.until })
            }
            (None, None) => json!({ "kind": "once", "at": self.at }),
        })
    }
}

pub(super) fn run(http: &Http, command: &JobCommand, json: bool) -> Result<ExitCode, CliError> {
    let path = |id: &str, what: &str| format!("/v1/jobs/{}{what}", segment(id));
    match command {
        JobCommand::Create(args) => {
            let mut body = json!({
                "session": args.session,
                "calls": args.call.calls_json()?,
                "schedule": args.schedule()?,
            });
            for (k, v) in [
                ("on_refused", &args.on_refused),
                ("catch_up", &args.catch_up),
                ("idempotency_key", &args.idempotency_key),
            ] {
                if let Some(v) = v {
                    body[k] = v.clone().into();
                }
            }
            show(&http.post("/v1/jobs", &body)?, json, print)
        }
        JobCommand::List => show(&http.get("/v1/jobs")?, json, |v| {
            let jobs = v.as_array().map(Vec::as_slice).unwrap_or_default();
            if jobs.is_empty() {
                println!("no jobs");
            }
            jobs.iter().for_each(print);
        }),
        JobCommand::Show { id } => show(&http.get(&path(id, ""))?, json, print_with_runs),
        JobCommand::Pause { id } => show(&http.post(&path(id, "/pause"), &json!({}))?, json, print),
        JobCommand::Resume { id } => show(&http.post(&path(id, "/resume"), &json!({}))?, json, print),
        JobCommand::Cancel { id } => show(&http.post(&path(id, "/cancel"), &json!({}))?, json, print),
    }
}

/// One line for a job.
pub(super) fn print(j: &Value) {
    let schedule = &j["schedule"];
    let when = match schedule["kind"].as_str() {
        Some("interval") => format!("every {} s", text(schedule, "every_secs")),
        Some("cron") => format!("cron {:?} in {}", text(schedule, "expr"), text(schedule, "tz")),
        _ => "once".into(),
    };
    println!(
        "job {} of session {}: {when}, {}, next slot {}, on refusal {}, catch-up {}",
        text(j, "id"),
        text(j, "session"),
        text(j, "state"),
        time(j, "next_run_at"),
        text(j, "on_refused"),
        text(j, "catch_up")
    );
}

/// A job (`{job, runs}`) and one line per run.
pub(super) fn print_with_runs(v: &Value) {
    print(&v["job"]);
    let runs = v["runs"].as_array().map(Vec::as_slice).unwrap_or_default();
    if runs.is_empty() {
        println!("  no runs yet");
    }
    for r in runs {
        let state = text(r, "state");
        let mut line = format!("  run {} for slot {}: {state}", text(r, "id"), time(r, "slot"));
        if r["in_doubt"] == true {
            line.push_str(" (in doubt until its receipt is read)");
        }
        if let Some(rule) = r["rule"].as_str() {
            // A run that went after waiting keeps the rule of its last refusal.
            if matches!(state.as_str(), "included" | "reverted") {
                line.push_str(&format!(", after a refusal by rule {rule}"));
            } else {
                line.push_str(&format!(", rule {rule}"));
            }
        }
        if let Some(hash) = r["user_op_hash"].as_str() {
            line.push_str(&format!(", userOpHash {hash} (nonce {})", text(r, "nonce")));
        }
        if let Some(tx) = r["transaction_hash"].as_str() {
            line.push_str(&format!(", transaction {tx}"));
        }
        if let Some(e) = r["error"].as_str() {
            line.push_str(&format!(", error: {e}"));
        }
        println!("{line}");
    }
}

/// Whether a run has ended.
pub(super) fn is_final(run: &Value) -> bool {
    run["state"].as_str().is_some_and(|s| !matches!(s, "pending" | "prepared" | "submitted"))
}

/// A finished run as an exit: included is success; a refusal or skip names its rule (exit 1); the rest exit 2.
pub(super) fn outcome(run: &Value) -> Result<ExitCode, CliError> {
    match run["state"].as_str() {
        Some("included") => Ok(ExitCode::SUCCESS),
        state => Err(CliError::RunEnded {
            state: state.unwrap_or("unknown").into(),
            rule: run["rule"].as_str().map(str::to_string),
            detail: run["error"].as_str().unwrap_or("nothing was sent").into(),
        }),
    }
}
