//! `warrant explain`: read a grant (token or JSON) and say in words what it allows.

use std::{collections::BTreeMap, process::ExitCode};

use warrant_core::{
    explain::{TokenHints, TokenInfo, explain_signed_grant},
    grant::{ANY_SELECTOR, ArgCondition, CallPolicy, Scope, arg_type},
    grant_json::SignedGrantJson,
};

use crate::{
    CliError,
    args::load_grant,
    scope_spec::{self, Param, Signature, parse_address},
};

/// `--token ADDR:DECIMALS[:SYMBOL]` hints, to show amounts in token units.
pub(crate) fn parse_hints(hints: &[String]) -> Result<TokenHints, CliError> {
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
    /// Show amounts of a token in its units: ADDRESS:DECIMALS or ADDRESS:DECIMALS:SYMBOL (repeatable).
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

/// What a condition's head word is in the function `params` describe: `` `amount` (parameter 1, uint256) ``,
/// with a warning when the grant reads it as another type or the word is not a parameter's head.
pub(crate) fn describe_head(c: &ArgCondition, params: &[Param]) -> String {
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
pub(crate) fn parse_signatures(sigs: &[String]) -> Result<Vec<Signature>, CliError> {
    sigs.iter()
        .map(|sig| Signature::parse(sig).map_err(|e| CliError::InvalidInput(format!("--sig {sig:?}: {e}"))))
        .collect()
}

pub(crate) fn run(args: &ExplainArgs) -> Result<ExitCode, CliError> {
    let signed = load_grant(&args.grant)?;
    // The signed grant's words name a P-256 session key the token carries (its kind and coordinates).
    let mut text = explain_signed_grant(&signed, &parse_hints(&args.tokens)?);
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
        crate::args::print_json(&value)?;
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
