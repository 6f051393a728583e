//! `warrant delegate`: an EOA delegates to WarrantAccount with an EIP-7702 transaction, ending every earlier
//! session at the validator and installing it; `--temporary` also pre-signs the restore.

use std::{path::Path, process::ExitCode};

use alloy::primitives::Address;

use crate::{
    CliError,
    args::{NetArgs, SignerArgs, runtime},
};

/// Arguments of `warrant delegate`.
#[derive(Debug, clap::Args)]
pub(crate) struct DelegateArgs {
    /// The contract the EOA delegates to (WarrantAccount's implementation).
    #[arg(long)]
    delegate: Address,
    /// The WarrantValidator to use: the same transaction ends every earlier session there (`revokeAll`) and
    /// installs it unless it is installed already (a module set survives a reset).
    #[arg(long, value_name = "VALIDATOR")]
    install_module: Option<Address>,
    /// Temporary mode: also sign the restore transaction (zero-address authorization + `revokeAll` on the
    /// validator, for the nonce right after this delegation) and write it to this new file (mode 0600) once the
    /// delegation succeeded; anyone can broadcast it later with `warrant undelegate --auth FILE`.
    #[arg(long, value_name = "FILE", requires = "install_module")]
    temporary: Option<std::path::PathBuf>,
    /// The EOA's key (it signs the authorization and pays for the transaction).
    #[command(flatten)]
    eoa: SignerArgs,
    #[command(flatten)]
    net: NetArgs,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: &DelegateArgs) -> Result<ExitCode, CliError> {
    let eoa = args.eoa.signer("EOA")?;
    if let Some(path) = &args.temporary
        && path.exists()
    {
        return Err(CliError::InvalidInput(format!("{} exists; refusing to overwrite it", path.display())));
    }
    let d = runtime()?.block_on(async {
        let client = args.net.connect(None).await?;
        Ok::<_, CliError>(
            client.delegate(&eoa, args.delegate, args.install_module, args.temporary.is_some()).await?,
        )
    })?;
    let account = eoa.address();
    // The restore file exists only for a delegation that happened (the client signs none otherwise).
    let written = match (&args.temporary, &d.restore) {
        (Some(path), Some(restore)) => {
            write_new_file(path, &serde_json::to_string_pretty(restore)?)?;
            Some(path)
        }
        _ => None,
    };
    if args.json {
        crate::args::print_json(&serde_json::json!({
                "account": account,
                "delegate": args.delegate,
                "transactionHash": d.receipt.transaction_hash,
                "gasUsed": d.receipt.gas_used.to_string(),
                "delegated": d.delegated,
                "success": d.receipt.status(),
                "module": args.install_module,
                "moduleWasInstalled": d.module_was_installed,
                "restoreFile": written.map(|p| p.display().to_string()),
                "restoreTransactionHash": d.restore.as_ref().map(|r| r.transaction_hash),
        }))?;
    } else {
        println!(
            "{account} {} {} in transaction {} ({} gas)",
            if d.delegated { "now delegates to" } else { "did NOT delegate to" },
            args.delegate,
            d.receipt.transaction_hash,
            d.receipt.gas_used
        );
        if let Some(module) = args.install_module {
            println!("every earlier session at validator {module} ended (epoch bumped)");
        }
        if let Some(path) = written {
            println!(
                "restore transaction written to {}; `warrant undelegate --auth {}` (anyone may send it) restores \
                 the EOA and ends its sessions",
                path.display(),
                path.display()
            );
        } else if args.temporary.is_some() {
            println!("the delegation failed: no restore file written");
        }
    }
    Ok(if d.succeeded() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// Writes a new file, mode 0600 (it holds a signed transaction); never overwrites one.
pub(crate) fn write_new_file(path: &Path, contents: &str) -> Result<(), CliError> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options
        .open(path)
        .map_err(|e| CliError::InvalidInput(format!("cannot create {}: {e}", path.display())))?;
    file.write_all(contents.as_bytes())
        .map_err(|e| CliError::InvalidInput(format!("cannot write {}: {e}", path.display())))
}
