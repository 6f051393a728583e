//! `warrant explain` and `warrant check`: read a grant (token or JSON), say in words what it allows, and judge a
//! call before anything is signed — with the verdict the chain will give, named after the on-chain rule.

use std::{collections::BTreeMap, path::Path, process::ExitCode};

use alloy::{
    dyn_abi::{DynSolType, DynSolValue, JsonAbiExt, Specifier},
    json_abi::Function,
    primitives::{Address, Bytes, U256},
};
use warrant_core::{
    PackedUserOperation, UserOperation,
    explain::{TokenHints, TokenInfo, explain_grant},
    grant_json::SignedGrantJson,
    policy::{self, Call, Denial, Presentation, SessionStatus, SessionUsage},
    session_op::execute_single,
    token::SignedGrant,
};

use crate::{CliError, grant::now, scope_spec::parse_amount};

/// Reads a signed grant: a `warrant1…` token, its JSON form, or a file holding either.
pub(crate) fn load_grant(input: &str) -> Result<SignedGrant, CliError> {
    let text = if input.len() < 4096 && Path::new(input).is_file() {
        std::fs::read_to_string(input)
            .map_err(|e| CliError::InvalidInput(format!("cannot read grant file {input}: {e}")))?
    } else {
        input.to_owned()
    };
    let text = text.trim();
    if text.starts_with('{') {
        let json: SignedGrantJson =
            serde_json::from_str(text).map_err(|e| CliError::InvalidInput(format!("grant JSON: {e}")))?;
        Ok(json.into())
    } else {
        SignedGrant::from_token(text).map_err(|e| CliError::InvalidInput(format!("grant token: {e}")))
    }
}

/// `--token ADDR:DECIMALS[:SYMBOL]` hints, to show amounts in token units.
fn parse_hints(hints: &[String]) -> Result<TokenHints, CliError> {
    let mut out = BTreeMap::new();
    for hint in hints {
        let bad = || CliError::InvalidInput(format!("--token {hint:?}: expected ADDRESS:DECIMALS[:SYMBOL]"));
        let mut parts = hint.splitn(3, ':');
        let address: Address = parts.next().ok_or_else(bad)?.parse().map_err(|_| bad())?;
        let decimals: u8 = parts.next().ok_or_else(bad)?.parse().map_err(|_| bad())?;
        let symbol = parts.next().map(str::to_owned);
        out.insert(address, TokenInfo { symbol, decimals });
    }
    Ok(out)
}

/// Arguments of `warrant explain`.
#[derive(Debug, clap::Args)]
pub(crate) struct ExplainArgs {
    /// The grant: a `warrant1…` token, its JSON, or a file holding either.
    grant: String,
    /// Show amounts of a token in its units: ADDRESS:DECIMALS[:SYMBOL] (repeatable).
    #[arg(long = "token", value_name = "ADDRESS:DECIMALS[:SYMBOL]")]
    tokens: Vec<String>,
    /// Print JSON (the grant's JSON form, with its session id, owner and the text).
    #[arg(long)]
    json: bool,
}

pub(crate) fn explain(args: &ExplainArgs) -> Result<ExitCode, CliError> {
    let signed = load_grant(&args.grant)?;
    let text = explain_grant(&signed.grant, &parse_hints(&args.tokens)?);
    let owner = signed.recover_owner();
    if args.json {
        let value = serde_json::json!({
            "sessionId": signed.session_id(),
            "owner": owner,
            "grant": SignedGrantJson::from(&signed),
            "explanation": text,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        println!("{text}");
        match owner {
            Some(owner) => {
                println!("Signed by {owner} for validator {} on chain {}.", signed.module, signed.chain_id)
            }
            None => println!(
                "Owner signature for validator {} on chain {} is not an ECDSA ERC-7739 signature; the account's \
                 ERC-1271 decides.",
                signed.module, signed.chain_id
            ),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A grant and one call of its session key, as `check` and `send` take them.
#[derive(Debug, clap::Args)]
pub(crate) struct GrantCallArgs {
    /// The grant: a `warrant1…` token, its JSON, or a file holding either.
    pub(crate) grant: String,
    /// The call's target.
    #[arg(long)]
    to: Address,
    /// The function, e.g. `transfer(address,uint256)`; its arguments follow. Without it: --data or a plain
    /// transfer.
    #[arg(long, conflicts_with = "data")]
    sig: Option<String>,
    /// Raw calldata instead of --sig and arguments.
    #[arg(long)]
    data: Option<Bytes>,
    /// The function's arguments.
    args: Vec<String>,
    /// Native value sent with the call (e.g. `0.01ether`, or wei).
    #[arg(long, default_value = "0")]
    value: String,
}

impl GrantCallArgs {
    /// The grant and the call: `sig(args…)` encoded, raw `--data`, or a plain transfer.
    pub(crate) fn load(&self) -> Result<(SignedGrant, Call), CliError> {
        let signed = load_grant(&self.grant)?;
        let data = call_data(self.sig.as_deref(), self.data.as_ref(), &self.args)?;
        let value = parse_amount(&self.value).map_err(|e| CliError::InvalidInput(format!("--value: {e}")))?;
        Ok((signed, Call { target: self.to, value, data }))
    }
}

/// Arguments of `warrant check`.
#[derive(Debug, clap::Args)]
pub(crate) struct CheckArgs {
    #[command(flatten)]
    call: GrantCallArgs,
    /// Judge the call at this time (unix seconds, RFC 3339 or +1h); default: now.
    #[arg(long)]
    at: Option<String>,
    /// Operations the session has already made (after the first, which presents the grant).
    #[arg(long, default_value_t = 0)]
    uses: u32,
    /// Native value the session has already sent, in wei.
    #[arg(long, default_value = "0")]
    value_spent: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Encodes `sig(args…)` with alloy's ABI coder, naming the argument that does not parse.
fn encode_call(sig: &str, args: &[String]) -> Result<Vec<u8>, CliError> {
    let function = Function::parse(sig).map_err(|e| CliError::InvalidInput(format!("--sig {sig:?}: {e}")))?;
    if function.inputs.len() != args.len() {
        return Err(CliError::InvalidInput(format!(
            "{sig} takes {} arguments, {} given",
            function.inputs.len(),
            args.len()
        )));
    }
    let values = function
        .inputs
        .iter()
        .zip(args)
        .enumerate()
        .map(|(i, (param, arg))| {
            let ty: DynSolType =
                param.resolve().map_err(|e| CliError::InvalidInput(format!("argument {i}: {e}")))?;
            ty.coerce_str(arg)
                .map_err(|e| CliError::InvalidInput(format!("argument {i} ({ty}) {arg:?}: {e}")))
        })
        .collect::<Result<Vec<DynSolValue>, _>>()?;
    function.abi_encode_input(&values).map_err(|e| CliError::InvalidInput(format!("{sig}: {e}")))
}

/// The call's data: `sig(args…)` encoded, raw `--data`, or empty (a plain transfer).
pub(crate) fn call_data(
    sig: Option<&str>,
    data: Option<&Bytes>,
    args: &[String],
) -> Result<Vec<u8>, CliError> {
    match (sig, data) {
        (Some(sig), _) => encode_call(sig, args),
        (None, Some(data)) if args.is_empty() => Ok(data.to_vec()),
        (None, None) if args.is_empty() => Ok(Vec::new()),
        _ => Err(CliError::InvalidInput("arguments given without --sig".into())),
    }
}

/// The first word of a denial's message is the rule's name, as in the Solidity custom error.
pub(crate) fn rule_name(denial: &Denial) -> String {
    denial.to_string().split(':').next().unwrap_or_default().to_string()
}

/// For a failed argument condition: the argument's value and the bound it broke, from the matching policy.
fn argument_detail(denial: &Denial, scope: &warrant_core::grant::Scope, call: &Call) -> Option<String> {
    let Denial::ArgumentConditionFailed { arg_index, condition, .. } = denial else { return None };
    let selector = call.data.get(..4)?;
    let policy = scope.calls.iter().find(|p| {
        (p.flags & warrant_core::grant::ANY_TARGET != 0 || p.target == call.target)
            && (p.flags & warrant_core::grant::ANY_SELECTOR != 0 || p.selector.as_slice() == selector)
    })?;
    let c = policy.conditions.iter().find(|c| c.argIndex == *arg_index && c.condition == *condition)?;
    let at = 4 + 32 * usize::from(*arg_index);
    let word = U256::from_be_slice(call.data.get(at..at + 32)?);
    let bounds: Vec<String> = c.values.iter().map(|v| U256::from_be_bytes(v.0).to_string()).collect();
    Some(format!(
        "argument word {arg_index} is {word}; {} {}",
        warrant_core::policy::condition_name(*condition),
        bounds.join(" | ")
    ))
}

pub(crate) fn check(args: &CheckArgs) -> Result<ExitCode, CliError> {
    let (signed, call) = args.call.load()?;
    let scope = &signed.grant.session.scope;
    let account = signed.grant.account;
    let value_spent = u128::try_from(
        parse_amount(&args.value_spent).map_err(|e| CliError::InvalidInput(format!("--value-spent: {e}")))?,
    )
    .map_err(|_| CliError::InvalidInput("--value-spent does not fit 128 bits".into()))?;
    let at = args.at.as_deref().map(|t| crate::grant::parse_time(t, now())).transpose()?.unwrap_or_else(now);

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
    let verdict = policy::check_operation(
        signed.session_id(),
        scope,
        &usage,
        presentation,
        &packed,
        account,
        signed.module,
    )
    .and_then(|_| policy::check_time(scope, at));

    let detail = verdict.as_ref().err().and_then(|d| argument_detail(d, scope, &call));
    if args.json {
        let value = match &verdict {
            Ok(_) => serde_json::json!({ "allowed": true }),
            Err(denial) => serde_json::json!({
                "allowed": false,
                "rule": rule_name(denial),
                "message": denial.to_string(),
                "detail": detail,
            }),
        };
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        match &verdict {
            Ok(_) => println!("allowed: the session may make this call (value {} wei)", call.value),
            Err(denial) => match &detail {
                Some(detail) => println!("denied: {denial} ({detail})"),
                None => println!("denied: {denial}"),
            },
        }
    }
    Ok(if verdict.is_ok() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
