//! `warrant service health`: `GET /health` (no token needed).

use std::process::ExitCode;

use super::{Http, show, text};
use crate::CliError;

pub(super) fn run(http: &Http, json: bool) -> Result<ExitCode, CliError> {
    let v = http.get("/health")?;
    show(&v, json, |v| {
        println!(
            "{}: storage {}, chain {}, instance {}",
            text(v, "status"),
            text(v, "storage"),
            text(v, "chain_id"),
            text(v, "instance")
        );
    })
}
