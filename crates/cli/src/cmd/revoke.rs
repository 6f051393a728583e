//! `warrant revoke`: the owner revokes one session, or every session of the account (a new epoch).

use std::process::ExitCode;

use alloy::primitives::{Address, B256};

use crate::{
    CliError,
    args::{AccountKindArgs, GasArgs, NetArgs, SignerArgs, load_grant, print_receipt, runtime},
};

/// Arguments of `warrant revoke`.
#[derive(Debug, clap::Args)]
pub(crate) struct RevokeArgs {
    /// The grant whose session to revoke (token, JSON or file); or use --session-id / --all.
    #[arg(conflicts_with_all = ["session_id", "all"])]
    grant: Option<String>,
    /// The session id to revoke (works for grants not yet presented too).
    #[arg(long, conflicts_with = "all")]
    session_id: Option<B256>,
    /// Revoke every session and every unpresented grant of the account (bumps its epoch).
    #[arg(long)]
    all: bool,
    /// The account (taken from the grant when one is given).
    #[arg(long)]
    account: Option<Address>,
    /// The WarrantValidator module (taken from the grant when one is given).
    #[arg(long)]
    module: Option<Address>,
    /// The owner's key.
    #[command(flatten)]
    owner: SignerArgs,
    #[command(flatten)]
    account_kind: AccountKindArgs,
    #[command(flatten)]
    net: NetArgs,
    #[command(flatten)]
    gas: GasArgs,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: &RevokeArgs) -> Result<ExitCode, CliError> {
    let grant = args.grant.as_deref().map(load_grant).transpose()?;
    // --account / --module next to a grant must agree with it: a mismatch is a mistake, never ignored.
    if let Some(grant) = &grant {
        for (flag, given, granted) in
            [("--account", args.account, grant.grant.account), ("--module", args.module, grant.module)]
        {
            if let Some(given) = given
                && given != granted
            {
                return Err(CliError::InvalidInput(format!(
                    "{flag} {given} disagrees with the grant, which is for {granted}; drop {flag} or pass the \
                     grant it belongs to"
                )));
            }
        }
    }
    let account = grant
        .as_ref()
        .map(|s| s.grant.account)
        .or(args.account)
        .ok_or_else(|| CliError::InvalidInput("which account? pass a grant or --account".into()))?;
    let module = grant
        .as_ref()
        .map(|s| s.module)
        .or(args.module)
        .ok_or_else(|| CliError::InvalidInput("which module? pass a grant or --module".into()))?;
    let id = match (&grant, args.session_id, args.all) {
        (Some(grant), _, _) => Some(grant.session_id()),
        (None, Some(id), _) => Some(id),
        (None, None, true) => None,
        (None, None, false) => {
            return Err(CliError::InvalidInput("what to revoke? pass a grant, --session-id or --all".into()));
        }
    };
    let key = args.owner.signer("owner")?;
    let owner = args.account_kind.owner(&key);
    runtime()?.block_on(async {
        let client = args.net.connect(Some(&args.gas)).await?;
        // Read before spending gas: revoking what is already revoked changes nothing.
        if let Some(id) = id
            && let Some(denial) =
                client.revocation_needless(account, module, id, grant.as_ref().map(|g| g.grant.epoch)).await?
        {
            return Err(CliError::Refused {
                rule: denial.name(),
                detail: format!("{denial}; nothing to revoke, nothing sent"),
            });
        }
        let receipt = match id {
            Some(id) => client.revoke(account, module, id, &owner).await?,
            None => client.revoke_all(account, module, &owner).await?,
        };
        print_receipt(&receipt, args.json)?;
        Ok(if receipt.success { ExitCode::SUCCESS } else { ExitCode::from(1) })
    })
}
