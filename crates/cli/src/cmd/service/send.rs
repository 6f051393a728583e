//! `warrant service send NAME --idempotency-key K --to …`: the service sends one call now, once (a one-off
//! job). The same idempotency key answers the same job, never a second send, so retrying is safe. `--wait`
//! follows the run to its end: included exits 0, a refusal exits 1 naming its rule.

use std::{
    process::ExitCode,
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use super::{Http, job, segment};
use crate::{CliError, args::CallArgs};

#[derive(Debug, clap::Args)]
pub(crate) struct SendArgs {
    /// The session that sends it.
    name: String,
    /// Your key for this request: sending again with it answers the same job and sends nothing more.
    #[arg(long)]
    idempotency_key: String,
    #[command(flatten)]
    call: CallArgs,
    /// Wait up to this many seconds for the run to end (included, reverted, refused, skipped or failed).
    #[arg(long, value_name = "SECS")]
    wait: Option<u64>,
}

pub(super) fn run(http: &Http, args: &SendArgs, json: bool) -> Result<ExitCode, CliError> {
    let body = json!({ "calls": args.call.calls_json()?, "idempotency_key": args.idempotency_key });
    let v = http.post(&format!("/v1/sessions/{}/send", segment(&args.name)), &body)?;
    let Some(secs) = args.wait else {
        return super::show(&v, json, job::print_with_runs);
    };
    let id = v["job"]["id"].as_str().unwrap_or_default().to_string();
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let v = http.get(&format!("/v1/jobs/{}", segment(&id)))?;
        let run = v["runs"].as_array().and_then(|r| r.first()).cloned().unwrap_or(Value::Null);
        if job::is_final(&run) {
            super::show(&v, json, job::print_with_runs)?;
            return job::outcome(&run);
        }
        if Instant::now() >= deadline {
            super::show(&v, json, job::print_with_runs)?;
            return Err(CliError::InvalidInput(format!(
                "job {id}: its run did not end within {secs} s (it goes on in the service: `warrant service job show \
                 {id}`)"
            )));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}
