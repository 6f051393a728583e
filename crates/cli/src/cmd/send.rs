//! `warrant send`: build, check, sign and send a session operation through a bundler. The pre-flight runs on
//! the final operation before it is signed; a refusal names the on-chain rule and exits 1 (`--force` sends
//! anyway, to watch the bundler or the chain refuse it).

use std::process::ExitCode;

use warrant_client::{ClientError, SendOptions};
use warrant_core::{
    explain_denial::{DenialContext, explain_denial},
    policy::Denial,
};

use crate::{
    CliError,
    args::{AccountKindArgs, GasArgs, GrantCallArgs, NetArgs, SignerArgs, print_receipt, runtime},
};

/// Arguments of `warrant send`.
#[derive(Debug, clap::Args)]
pub(crate) struct SendArgs {
    #[command(flatten)]
    call: GrantCallArgs,
    /// Send even if the pre-flight denies it (to see the bundler or chain refuse it; for testing).
    #[arg(long)]
    force: bool,
    /// The session key.
    #[command(flatten)]
    session_key: SignerArgs,
    #[command(flatten)]
    account: AccountKindArgs,
    #[command(flatten)]
    net: NetArgs,
    #[command(flatten)]
    gas: GasArgs,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: &SendArgs) -> Result<ExitCode, CliError> {
    let (grant, call) = args.call.load()?;
    let key = args.session_key.signer("session")?;
    // Named before any request (the client checks it too, with a signature).
    if key.address() != grant.grant.session.signer {
        return Err(CliError::InvalidInput(format!(
            "the grant's session key is {}, not {}",
            grant.grant.session.signer,
            key.address()
        )));
    }
    let options =
        SendOptions { account_kind: args.account.account_kind, force: args.force, ..SendOptions::default() };
    let names = args.call.param_names()?;
    runtime()?.block_on(async {
        let client = args.net.connect(Some(&args.gas)).await?;
        let scope = &grant.grant.session.scope;
        let calls = std::slice::from_ref(&call);
        // The client's words name parameters from its built-in table; --sig's names, when it has them, win.
        let words = async |denial: &Denial| {
            let tokens = client.node().token_hints(scope, calls).await;
            explain_denial(denial, &DenialContext { scope, calls, tokens: &tokens, names: &names })
        };
        let prepared = match client.prepare(&grant, &key, calls.to_vec(), &options).await {
            Err(ClientError::Denied { denial, .. }) if names.values().any(|n| !n.is_empty()) => {
                let words = words(&denial).await;
                return Err(CliError::Denied { denial, words });
            }
            other => other?,
        };
        if let Some(denial) = &prepared.denial {
            eprintln!(
                "pre-flight: denied — {}: {}; sending anyway (--force)",
                denial.name(),
                words(denial).await
            );
        }
        let hash = client.submit(&prepared).await?;
        let spinner = crate::args::spinner(format!("user operation {hash} sent; waiting for its receipt"));
        let receipt = client.wait(hash, client.options().receipt_timeout).await;
        if let Some(bar) = spinner {
            bar.finish_and_clear();
        }
        let receipt = receipt?;
        print_receipt(&receipt, args.json)?;
        Ok(if receipt.success { ExitCode::SUCCESS } else { ExitCode::from(1) })
    })
}
