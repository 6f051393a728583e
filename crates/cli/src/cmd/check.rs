//! `warrant check`: judge a call of a grant's session key before anything is signed, with the verdict the chain
//! will give, named after the on-chain rule.

use std::process::ExitCode;

use alloy::{primitives::Address, transports::http::reqwest::Url};
use warrant_core::{
    PackedUserOperation, UserOperation,
    explain::TokenHints,
    explain_denial::{DenialContext, denial_message, explain_denial},
    policy::{self, Call, OpCheck, Presentation, SessionStatus, SessionUsage},
    session_op::execute_single,
};

use crate::{
    CliError,
    args::GrantCallArgs,
    cmd::{explain::parse_hints, grant::now},
    scope_spec::parse_amount,
};

/// Arguments of `warrant check`.
#[derive(Debug, clap::Args)]
pub(crate) struct CheckArgs {
    #[command(flatten)]
    call: GrantCallArgs,
    /// Judge the call at this time (unix seconds, RFC 3339 or +1h); default: now.
    #[arg(long)]
    at: Option<String>,
    /// How many operations the session has already made (as `warrant status` shows them). 0: the call would be
    /// the session's first, which presents the grant (ENABLE); N > 0: the session is enabled and this call is
    /// operation N + 1, checked against --max-uses.
    #[arg(long, default_value_t = 0)]
    uses: u32,
    /// Native value the session has already spent, gas included when the account pays for gas (wei, or units
    /// like `0.01ether`).
    #[arg(long, default_value = "0")]
    value_spent: String,
    /// What the account holds of each --require-balance gate's token, in the grant's gate order (one per gate;
    /// required when the grant has gates). `warrant send` reads it from the chain.
    #[arg(long = "holding", value_name = "AMOUNT")]
    holdings: Vec<String>,
    /// Show amounts of a token in its units in a denial: ADDRESS:DECIMALS or ADDRESS:DECIMALS:SYMBOL
    /// (repeatable; read from --rpc-url when it is given).
    #[arg(long = "token", value_name = "ADDRESS:DECIMALS[:SYMBOL]")]
    tokens: Vec<String>,
    /// A node to read the decimals and symbol of the tokens a denial names (optional: the check itself needs no
    /// network; without a node or a --token hint amounts are shown in raw units).
    #[arg(long, env = "ETH_RPC_URL")]
    rpc_url: Option<Url>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Token hints for a denial: `--token` first, then what the node at `rpc_url` says of the other tokens (a node
/// that does not answer leaves them in raw units, which the words say).
fn token_hints(args: &CheckArgs, scope: &warrant_core::Scope, call: &Call) -> Result<TokenHints, CliError> {
    let mut hints = parse_hints(&args.tokens)?;
    if let Some(url) = &args.rpc_url {
        let read = crate::args::runtime()?.block_on(async {
            let node =
                warrant_client::Node::connect(url.clone(), warrant_chain::bundler::DEFAULT_RPC_TIMEOUT)
                    .await
                    .ok()?;
            Some(node.token_hints(scope, std::slice::from_ref(call)).await)
        });
        for (token, info) in read.unwrap_or_default() {
            hints.entry(token).or_insert(info);
        }
    }
    Ok(hints)
}

pub(crate) fn run(args: &CheckArgs) -> Result<ExitCode, CliError> {
    let (signed, call) = args.call.load()?;
    let scope = &signed.grant.session.scope;
    let account = signed.grant.account;
    let value_spent = u128::try_from(
        parse_amount(&args.value_spent).map_err(|e| CliError::InvalidInput(format!("--value-spent: {e}")))?,
    )
    .map_err(|_| CliError::InvalidInput("--value-spent does not fit 128 bits".into()))?;
    let at =
        args.at.as_deref().map(|t| crate::cmd::grant::parse_time(t, now())).transpose()?.unwrap_or_else(now);
    if args.holdings.len() != scope.gates.len() {
        return Err(CliError::InvalidInput(format!(
            "the grant has {} gate(s) and {} --holding value(s) were given: pass one --holding per gate, in order \
             (what the account holds of its token)",
            scope.gates.len(),
            args.holdings.len()
        )));
    }
    let holdings = args
        .holdings
        .iter()
        .map(|h| parse_amount(h).map(Some).map_err(|e| CliError::InvalidInput(format!("--holding: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;

    // The first operation presents the grant (ENABLE); later ones use the enabled session.
    let (status, presentation) = if args.uses == 0 {
        (SessionStatus::None, Presentation::Enable)
    } else {
        (SessionStatus::Enabled, Presentation::Use)
    };
    let op = UserOperation {
        sender: account,
        call_data: execute_single(&call),
        // Gas and fee caps are checked on the real operation (`warrant send`); the paymaster rule here.
        paymaster: (scope.paymaster != Address::ZERO).then_some(scope.paymaster),
        ..Default::default()
    };
    let packed: PackedUserOperation = op.pack();
    let usage = SessionUsage { status, uses: args.uses, value_spent, ..Default::default() };
    let check = OpCheck {
        session_id: signed.session_id(),
        scope,
        usage: &usage,
        presentation,
        op: &packed,
        account,
        module: signed.module,
        period: policy::current_period(scope, at).unwrap_or(0),
        signature_valid: true,
        holdings: &holdings,
    };
    let verdict = policy::check_operation(&check).and_then(|_| policy::check_time(scope, at));

    // A denial in the user's words: parameter names from --sig, token units, dates.
    let words = match &verdict {
        Ok(_) => None,
        Err(denial) => {
            let tokens = token_hints(args, scope, &call)?;
            let names = args.call.param_names()?;
            let calls = std::slice::from_ref(&call);
            let ctx = DenialContext { scope, calls, tokens: &tokens, names: &names };
            Some((denial_message(denial, &ctx), explain_denial(denial, &ctx)))
        }
    };
    if args.json {
        let value = match &verdict {
            Ok(_) => serde_json::json!({ "allowed": true }),
            Err(denial) => serde_json::json!({
                "allowed": false,
                "rule": denial.name(),
                "message": words.as_ref().map(|(message, _)| message),
                "detail": words.as_ref().map(|(_, detail)| detail),
            }),
        };
        crate::args::print_json(&value)?;
        return Ok(if verdict.is_ok() { ExitCode::SUCCESS } else { ExitCode::from(1) });
    }
    match verdict {
        Ok(_) => {
            println!("allowed: the session may make this call (value {} wei)", call.value);
            Ok(ExitCode::SUCCESS)
        }
        // Printed the one way every denial is (stderr, exit 1).
        Err(denial) => Err(CliError::Denied { denial, words: words.map(|(_, w)| w).unwrap_or_default() }),
    }
}
