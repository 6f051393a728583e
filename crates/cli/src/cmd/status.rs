//! `warrant status`: what a grant's session has used and has left (uses, value, spend limits in the current
//! period, gates), read from the chain.

use std::process::ExitCode;

use alloy::primitives::{Address, U256};
use warrant_client::{SessionReport, SessionState};
use warrant_core::{explain::format_utc, grant::gate_kind};

use crate::{
    CliError,
    args::{NetArgs, load_grant, runtime},
};

/// Arguments of `warrant status`.
#[derive(Debug, clap::Args)]
pub(crate) struct StatusArgs {
    /// The grant: a `warrant1…` token, its JSON, or a file holding either.
    grant: String,
    #[command(flatten)]
    net: NetArgs,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: &StatusArgs) -> Result<ExitCode, CliError> {
    let grant = load_grant(&args.grant)?;
    let (report, epoch) = runtime()?.block_on(async {
        let client = args.net.connect(None).await?;
        let report = client.status(&grant).await?;
        let epoch = client.epoch(grant.module, grant.grant.account).await?;
        Ok::<_, CliError>((report, epoch))
    })?;
    if args.json {
        crate::args::print_json(&json(&report, grant.grant.epoch, epoch))?;
    } else {
        print(&report, grant.grant.epoch, epoch);
    }
    Ok(ExitCode::SUCCESS)
}

/// The report as JSON: the library's form, with `status` in words, whether the session is usable and both
/// epochs (a revoked session's counters are history, not what is left).
fn json(report: &SessionReport, grant_epoch: u64, account_epoch: U256) -> serde_json::Value {
    let mut value = serde_json::to_value(report).unwrap_or_default();
    value["status"] = report.state.describe().into();
    value["usable"] = report.state.is_usable().into();
    value["grantEpoch"] = grant_epoch.to_string().into();
    value["accountEpoch"] = account_epoch.to_string().into();
    value
}

fn print(r: &SessionReport, grant_epoch: u64, account_epoch: U256) {
    match r.state {
        SessionState::Revoked => {
            println!(
                "session {}: REVOKED (revokeSession): every operation is refused (SessionRevoked); nothing is left \
                 to use",
                r.session_id
            );
            println!("when revoked it had made {} operations and spent {} wei", r.uses, r.value_spent);
            return;
        }
        SessionState::EpochRevoked => {
            println!(
                "session {}: REVOKED with every session of the account: the grant is of epoch {grant_epoch}, the \
                 account is at epoch {account_epoch} (GrantEpochStale); nothing is left to use",
                r.session_id
            );
            return;
        }
        SessionState::Enabled | SessionState::NotYetEnabled => {}
    }
    println!("session {}: {}", r.session_id, r.state.describe());
    if r.max_uses != 0 {
        println!("uses          {} of {}", r.uses, r.max_uses);
    }
    let cap = if r.max_value_total == U256::ZERO {
        "0: it may spend no ETH".into()
    } else if r.max_value_total >= U256::from(u128::MAX) {
        "none of its own".into()
    } else {
        r.max_value_total.to_string()
    };
    println!("ETH sent      {} wei (gas included; lifetime cap {cap})", r.value_spent);
    if let Some(k) = r.period {
        println!("period        {k}, refills at {}", r.refills_at.map(format_utc).unwrap_or_default());
        if r.max_uses_per_period != 0 {
            println!("uses          {} of {} this period", r.uses_in_period, r.max_uses_per_period);
        }
    }
    for l in &r.limits {
        let asset = if l.token == Address::ZERO { "ETH (wei)".to_string() } else { l.token.to_string() };
        let show = |v: Option<u128>| v.map_or_else(|| "unlimited".to_string(), |v| v.to_string());
        println!(
            "limit {asset}: {} left this period, {} left over the session",
            show(l.remaining_in_period),
            show(l.remaining_lifetime)
        );
    }
    for (i, g) in r.gates.iter().enumerate() {
        let held = g
            .held
            .map_or_else(|| "unreadable (the token does not answer balanceOf)".into(), |v| v.to_string());
        let verdict = if g.open { "open" } else { "CLOSED: ops are refused" };
        let id =
            if g.gate.kind == gate_kind::ERC1155 { format!(" id {}", g.token_id) } else { String::new() };
        println!(
            "gate {i}       {} {}{id}: holds {held}, needs {}: {verdict}",
            g.kind, g.token, g.min_balance
        );
    }
}
