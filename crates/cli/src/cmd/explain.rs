//! `warrant explain` and `warrant check`: read a grant (token or JSON), say in words what it allows, and judge a
//! call before anything is signed — with the verdict the chain will give, named after the on-chain rule.

use std::{collections::BTreeMap, process::ExitCode};

use alloy::{
    dyn_abi::{DynSolType, DynSolValue, JsonAbiExt, Specifier},
    json_abi::Function,
    primitives::{Address, B256, Bytes, I256, U256},
};
use warrant_core::{
    PackedUserOperation, UserOperation,
    explain::{TokenHints, TokenInfo, explain_grant},
    grant::{ANY_SELECTOR, ANY_TARGET, ArgCondition, CallPolicy, Scope, arg_type},
    grant_json::SignedGrantJson,
    policy::{self, Call, Denial, OpCheck, Presentation, SessionStatus, SessionUsage},
    session_op::execute_single,
    token::SignedGrant,
};

use crate::{
    CliError,
    grant::now,
    scope_spec::{self, Param, Signature, parse_address, parse_amount},
};

/// Reads a signed grant: a `warrant1…` token, its JSON form, or a file holding either.
pub(crate) fn load_grant(input: &str) -> Result<SignedGrant, CliError> {
    let text = crate::input::file_or_text(input, "grant file")?;
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
        let address = parse_address(parts.next().ok_or_else(bad)?)
            .map_err(|e| CliError::InvalidInput(format!("--token {hint:?}: {e}")))?;
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
    /// Name the parameters of a function the grant restricts, as a signature with names, e.g.
    /// `f(uint256[2] pair,uint256 fee,uint256 cap)` (repeatable; a grant carries no parameter names).
    #[arg(long = "sig", value_name = "SIGNATURE")]
    sigs: Vec<String>,
    /// Print JSON (the grant's JSON form, with its session id, owner and the text).
    #[arg(long)]
    json: bool,
}

/// A word of a condition in its type: `intN` signed, an address checksummed, `bytesN` as its N bytes; a word
/// that is not canonical for the type in raw hex.
fn show_word(code: u8, word: &B256) -> String {
    let n = U256::from_be_bytes(word.0);
    let name = arg_type::name(code).unwrap_or_default();
    match code {
        arg_type::ADDRESS if word[..12] == [0; 12] => Address::from_word(*word).to_checksum(None),
        arg_type::BOOL if n <= U256::from(1) => (n == U256::from(1)).to_string(),
        0x00..=0x1f => n.to_string(),
        0x20..=0x3f => I256::from_raw(n).to_string(),
        0x40..=0x5f => {
            let len = usize::from(code - 0x3f);
            format!("0x{}", alloy::hex::encode(&word[..len]))
        }
        _ => format!("{word} (raw {name} word)"),
    }
}

/// What a condition's head word is in the function `params` describe: `` `amount` (parameter 1, uint256) ``,
/// with a warning when the grant reads it as another type or the word is not a parameter's head.
fn describe_head(c: &ArgCondition, params: &[Param]) -> String {
    let word = format!("argument word {}", c.argIndex);
    let read_as = arg_type::name(c.argType).unwrap_or_else(|| format!("unknown type {:#04x}", c.argType));
    match scope_spec::parameter_at(params, c.argIndex) {
        Some((p, Some(code))) if code == c.argType => {
            format!("{word} is `{}` (parameter {}, {})", p.label(), p.position, p.ty)
        }
        Some((p, Some(_))) => format!(
            "⚠ {word} is `{}` (parameter {}, {}), but the grant reads it as {read_as}",
            p.label(),
            p.position,
            p.ty
        ),
        Some((p, None)) => format!(
            "⚠ {word} lies inside `{}` (parameter {}, {}), which no condition can name",
            p.label(),
            p.position,
            p.ty
        ),
        None => format!("⚠ {word} is past the parameters of this signature"),
    }
}

/// For each policy that restricts arguments and whose signature `signature_of(index, policy)` gives: which
/// parameter each condition reads, one line per policy (`None` when there is nothing to say).
pub(crate) fn parameter_legend<'a>(
    scope: &Scope,
    signature_of: impl Fn(usize, &CallPolicy) -> Option<&'a Signature>,
) -> Option<String> {
    let mut lines = Vec::new();
    for (i, policy) in scope.calls.iter().enumerate() {
        if policy.flags & ANY_SELECTOR != 0 || policy.conditions.is_empty() {
            continue;
        }
        let Some(signature) = signature_of(i, policy).filter(|s| s.selector == policy.selector.0) else {
            continue;
        };
        let heads: Vec<String> =
            policy.conditions.iter().map(|c| describe_head(c, &signature.params)).collect();
        lines.push(format!("policy {} ({}): {}", i + 1, signature.text, heads.join("; ")));
    }
    (!lines.is_empty()).then(|| format!("Parameters:\n{}", lines.join("\n")))
}

/// Parses `--sig` values.
fn parse_signatures(sigs: &[String]) -> Result<Vec<Signature>, CliError> {
    sigs.iter()
        .map(|sig| Signature::parse(sig).map_err(|e| CliError::InvalidInput(format!("--sig {sig:?}: {e}"))))
        .collect()
}

pub(crate) fn explain(args: &ExplainArgs) -> Result<ExitCode, CliError> {
    let signed = load_grant(&args.grant)?;
    let mut text = explain_grant(&signed.grant, &parse_hints(&args.tokens)?);
    let signatures = parse_signatures(&args.sigs)?;
    let by_selector = |_, p: &CallPolicy| signatures.iter().find(|s| s.selector == p.selector.0);
    if let Some(legend) = parameter_legend(&signed.grant.session.scope, by_selector) {
        text = format!("{text}\n{legend}");
    }
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
    #[arg(long, value_parser = parse_address)]
    to: Address,
    /// The function, e.g. `transfer(address,uint256)`; its arguments follow. Without it: --data or a plain
    /// transfer.
    #[arg(long, conflicts_with = "data")]
    sig: Option<String>,
    /// Raw calldata instead of --sig and arguments.
    #[arg(long)]
    data: Option<Bytes>,
    /// The function's arguments (negative numbers as they are: `-5`).
    #[arg(allow_negative_numbers = true)]
    args: Vec<String>,
    /// Native value sent with the call (e.g. `0.01ether`, or wei).
    #[arg(long, default_value = "0")]
    value: String,
}

impl GrantCallArgs {
    /// The parameters of `--sig` (none without it), to name what a condition reads.
    fn parameters(&self) -> Result<Vec<Param>, CliError> {
        Ok(parse_signatures(self.sig.as_slice())?.pop().map(|s| s.params).unwrap_or_default())
    }

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
    /// What the account holds of each --require-balance gate's token, in the grant's gate order (one per gate;
    /// required when the grant has gates). `warrant send` reads it from the chain.
    #[arg(long = "holding", value_name = "AMOUNT")]
    holdings: Vec<String>,
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

pub(crate) fn check(args: &CheckArgs) -> Result<ExitCode, CliError> {
    let (signed, call) = args.call.load()?;
    let scope = &signed.grant.session.scope;
    let account = signed.grant.account;
    let value_spent = u128::try_from(
        parse_amount(&args.value_spent).map_err(|e| CliError::InvalidInput(format!("--value-spent: {e}")))?,
    )
    .map_err(|_| CliError::InvalidInput("--value-spent does not fit 128 bits".into()))?;
    let at = args.at.as_deref().map(|t| crate::grant::parse_time(t, now())).transpose()?.unwrap_or_else(now);
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
