//! `warrant check`: judge a call of a grant's session key before anything is signed, with the verdict the chain
//! will give, named after the on-chain rule.

use std::process::ExitCode;

use alloy::primitives::{Address, B256};
use warrant_core::{
    PackedUserOperation, UserOperation,
    grant::{ANY_SELECTOR, ANY_TARGET, CallPolicy, Scope, arg_type},
    policy::{self, Call, Denial, OpCheck, Presentation, SessionStatus, SessionUsage},
    session_op::execute_single,
};

use crate::{
    CliError,
    args::GrantCallArgs,
    cmd::{
        explain::{describe_head, show_word},
        grant::now,
    },
    scope_spec::{Param, parse_amount},
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
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// For a failed argument condition: which parameter it reads (from `--sig`, when given), the argument's
/// value and the bound it broke, from the matching policy.
fn argument_detail(denial: &Denial, scope: &Scope, call: &Call, params: &[Param]) -> Option<String> {
    let (arg_index, condition) = match denial {
        Denial::ArgumentConditionFailed { arg_index, condition, .. } => (*arg_index, Some(*condition)),
        Denial::ArgumentNotCanonical { arg_index, .. } => (*arg_index, None),
        _ => return None,
    };
    let selector = call.data.get(..4)?;
    let policy: &CallPolicy = scope.calls.iter().find(|p| {
        (p.flags & ANY_TARGET != 0 || p.target == call.target)
            && (p.flags & ANY_SELECTOR != 0 || p.selector.as_slice() == selector)
    })?;
    let c = policy
        .conditions
        .iter()
        .find(|c| c.argIndex == arg_index && condition.is_none_or(|kind| c.condition == kind))?;
    let head =
        if params.is_empty() { format!("argument word {arg_index}") } else { describe_head(c, params) };
    let at = 4 + 32 * usize::from(arg_index);
    let word = B256::from_slice(call.data.get(at..at + 32)?);
    let Some(kind) = condition else {
        return Some(format!(
            "{head}: the word {word} is not a canonical {}",
            arg_type::name(c.argType).unwrap_or_default()
        ));
    };
    if c.argType == arg_type::DYNAMIC {
        return Some(format!("{head}; {} {}", policy::condition_name(kind), c.values[0]));
    }
    let bounds: Vec<String> = c.values.iter().map(|v| show_word(c.argType, v)).collect();
    Some(format!(
        "{head}, is {}; {} {}",
        show_word(c.argType, &word),
        policy::condition_name(kind),
        bounds.join(" | ")
    ))
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

    let params = args.call.parameters()?;
    let detail = verdict.as_ref().err().and_then(|d| argument_detail(d, scope, &call, &params));
    if args.json {
        let value = match &verdict {
            Ok(_) => serde_json::json!({ "allowed": true }),
            Err(denial) => serde_json::json!({
                "allowed": false,
                "rule": denial.name(),
                "message": denial.to_string(),
                "detail": detail,
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
        Err(denial) => Err(CliError::Denied { denial, detail }),
    }
}
