//! `warrant undelegate`: restore a delegated EOA to a plain one, broadcasting a pre-signed restore (anyone may)
//! or signing one with the EOA's key.

use std::process::ExitCode;

use alloy::primitives::Address;
use warrant_client::{Restore, RestoreFile};

use crate::{
    CliError,
    args::{NetArgs, SignerArgs, runtime},
};

/// Arguments of `warrant undelegate`.
#[derive(Debug, clap::Args)]
pub(crate) struct UndelegateArgs {
    /// A pre-signed restore transaction (from `warrant delegate --temporary`): broadcast as is; no key is
    /// needed, anyone can send it. Without it, the EOA's key signs a fresh restore transaction.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["module", "keep_sessions"])]
    auth: Option<std::path::PathBuf>,
    /// The WarrantValidator whose sessions the restore ends (`revokeAll` in the same transaction).
    #[arg(long, value_name = "VALIDATOR", conflicts_with = "keep_sessions")]
    module: Option<Address>,
    /// Restore the EOA without ending its sessions: they revive if it delegates to WarrantAccount again.
    #[arg(long)]
    keep_sessions: bool,
    /// The EOA's key (not needed with --auth).
    #[command(flatten)]
    eoa: SignerArgs,
    #[command(flatten)]
    net: NetArgs,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: &UndelegateArgs) -> Result<ExitCode, CliError> {
    let file = match &args.auth {
        Some(path) => {
            let text = crate::input::read_file(path, "restore file")?;
            Some(
                RestoreFile::from_json(&text)
                    .map_err(|e| CliError::InvalidInput(format!("{}: {e}", path.display())))?,
            )
        }
        None => None,
    };
    let eoa = match &file {
        Some(_) => None,
        None => {
            if args.module.is_none() && !args.keep_sessions {
                return Err(CliError::InvalidInput(
                    "which validator's sessions does the restore end? pass --module VALIDATOR (or \
                     --keep-sessions to restore the EOA and keep its sessions, which revive on a later \
                     delegation)"
                        .into(),
                ));
            }
            Some(args.eoa.signer("EOA")?)
        }
    };
    let how = match (file, &eoa) {
        (Some(file), _) => Restore::Presigned(file),
        (None, Some(eoa)) => Restore::Sign { eoa, module: args.module },
        (None, None) => unreachable!("a key is read when there is no file"),
    };
    let account = match &how {
        Restore::Presigned(file) => file.account,
        Restore::Sign { eoa, .. } => eoa.address(),
    };
    let u = runtime()?.block_on(async {
        let client = args.net.connect(None).await?;
        // Read before spending gas: a plain EOA has nothing to restore.
        if client.delegation_of(account).await?.is_none() {
            return Err(CliError::Refused {
                rule: "NotDelegated",
                detail: format!(
                    "{account} is a plain EOA already (no code): nothing to restore, nothing sent"
                ),
            });
        }
        Ok::<_, CliError>(client.undelegate(how).await?)
    })?;
    let account = u.account;
    if args.json {
        crate::args::print_json(&serde_json::json!({
                "account": account,
                "transactionHash": u.receipt.transaction_hash,
                "gasUsed": u.receipt.gas_used.to_string(),
                "restored": u.restored,
                "validator": u.validator,
                "sessionsEnded": u.sessions_ended,
                "epoch": u.epoch.map(|e| e.to_string()),
                "success": u.succeeded(),
        }))?;
    } else if u.succeeded() {
        println!(
            "{account} is a plain EOA again (transaction {}, {} gas){}",
            u.receipt.transaction_hash,
            u.receipt.gas_used,
            match (u.validator, u.epoch) {
                (Some(v), Some(e)) => format!("; every session at {v} ended (epoch {e})"),
                _ => "; its sessions were kept (--keep-sessions)".into(),
            }
        );
    } else {
        println!(
            "{account} was NOT restored as asked (transaction {}: status {}, code cleared {}, sessions ended {}); \
             the nonce may have moved on since the restore was signed",
            u.receipt.transaction_hash,
            u.receipt.status(),
            u.restored,
            u.sessions_ended
        );
    }
    Ok(if u.succeeded() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
