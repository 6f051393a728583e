//! A pre-flight denial in the user's words: the parameter by its name, amounts in token units where the caller
//! knows the token, times as UTC dates (ISO 8601). `ArgumentConditionFailed: amount 500 USDC is above the limit
//! 100 USDC`, not "argument word 1 fails condition LTE".
//!
//! The CLI, the client's errors and the browser page render a [`Denial`] here, so they say the same words. The
//! rule's name ([`Denial::name`], the Solidity error's) always comes first and is never reworded.

use std::collections::BTreeMap;

use alloy_primitives::{Address, B256, I256, U256};

use crate::{
    explain::{Arg, TokenHints, TokenInfo, format_units, known_function},
    grant::{ArgCondition, Scope, arg_type},
    policy::{Call, ConditionResult, Denial, condition, evaluate_condition, matching_policy, period_bounds},
};

/// Parameter names the caller knows for a function, by selector: `(head word, name)` pairs (from a signature
/// with names such as `transfer(address to,uint256 amount)`). Functions of the built-in table of
/// [`crate::explain`] are named without it.
pub type ParamNames = BTreeMap<[u8; 4], Vec<(u16, String)>>;

/// What a denial is rendered against: the scope that refused, the operation's calls, and what the caller knows
/// of tokens and parameter names.
#[derive(Clone, Copy, Debug)]
pub struct DenialContext<'a> {
    /// The scope of the grant that refused.
    pub scope: &'a Scope,
    /// The operation's calls, in order (a denial's `index` points into them).
    pub calls: &'a [Call],
    /// Decimals and symbols of tokens, by address.
    pub tokens: &'a TokenHints,
    /// Parameter names of functions the built-in table does not name.
    pub names: &'a ParamNames,
}

/// A Unix time as an ISO 8601 date and time in UTC: `2026-12-02T15:04:05Z`.
pub fn format_iso8601(timestamp: u64) -> String {
    let (y, m, d) = crate::explain::civil_from_days(timestamp / 86_400);
    let secs = timestamp % 86_400;
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", secs / 3600, secs % 3600 / 60, secs % 60)
}

/// `Rule: words` — the rule's name, then [`explain_denial`].
pub fn denial_message(denial: &Denial, ctx: &DenialContext<'_>) -> String {
    format!("{}: {}", denial.name(), explain_denial(denial, ctx))
}

/// The words of a denial, without the rule's name: what the operation did, in the user's units, and the bound
/// it broke. A denial with nothing to add says what its message says.
pub fn explain_denial(denial: &Denial, ctx: &DenialContext<'_>) -> String {
    let plain = || {
        let text = denial.to_string();
        text.strip_prefix(denial.name()).and_then(|t| t.strip_prefix(": ")).map(str::to_owned).unwrap_or(text)
    };
    let eth = |wei: &U256| format!("{} ETH", format_units(*wei, 18));
    let amount = |token: &Address, raw: &U256| asset_amount(*token, *raw, ctx.tokens);
    let refill = |period: u32| match period_bounds(ctx.scope, period) {
        Some((start, end)) => format!(
            " (period {period}: {} to {}); it refills at {}",
            format_iso8601(start),
            format_iso8601(end),
            format_iso8601(end)
        ),
        None => format!(" (period {period})"),
    };
    let words = match denial {
        Denial::ArgumentConditionFailed { index, .. }
        | Denial::ArgumentNotCanonical { index, .. }
        | Denial::ArgumentMalformed { index, .. } => argument_words(*index, ctx),
        Denial::CallNotPermitted { index, target, selector } => {
            let function = match known_function(selector.0) {
                Some(f) => format!("`{}`", f.signature),
                None if selector.0 == [0; 4] => "a plain transfer (empty calldata)".into(),
                None => format!("function {selector}"),
            };
            Some(format!(
                "{}{function} on {} matches no policy of the scope",
                call_prefix(*index, ctx),
                token_label(*target, ctx.tokens)
            ))
        }
        Denial::CallValueExceeded { index, value, cap } => Some(format!(
            "{}the call sends {}, above its policy's limit {}",
            call_prefix(*index, ctx),
            eth(value),
            eth(cap)
        )),
        Denial::SessionValueExceeded { total, cap } => Some(format!(
            "the session would have spent {} of native value in total (calls and gas), above its budget {}",
            eth(total),
            eth(cap)
        )),
        Denial::SpendLimitExceeded { token, spent, cap } => Some(format!(
            "the session would have moved {} in total, above its limit {}",
            amount(token, spent),
            amount(token, cap)
        )),
        Denial::PeriodSpendLimitExceeded { token, period, spent, cap } => Some(format!(
            "the session would have moved {} this period, above its limit {} per period{}",
            amount(token, spent),
            amount(token, cap),
            refill(*period)
        )),
        Denial::PeriodUsesExhausted { period, uses, max } => Some(format!(
            "the session has made {uses} of its {max} operations this period{}",
            refill(*period)
        )),
        Denial::PeriodStale { period, current } => {
            let start =
                period_bounds(ctx.scope, *period).map(|(s, _)| format!(", from {}", format_iso8601(s)));
            Some(format!(
                "the operation names period {period}{}, but the session already acted in the later period \
                 {current}",
                start.unwrap_or_default()
            ))
        }
        Denial::UsesExhausted { uses, max } => {
            Some(format!("the session has made {uses} of its {max} operations: none is left"))
        }
        Denial::GateNotHeld { gate_index, token, balance, min_balance } => Some(format!(
            "gate {gate_index} needs the account to hold at least {}; it holds {}",
            amount(token, min_balance),
            amount(token, balance)
        )),
        Denial::NotYetValid { valid_after, now } => Some(format!(
            "the session is valid only after {}; it is {} now",
            format_iso8601(*valid_after),
            format_iso8601(*now)
        )),
        Denial::Expired { valid_until, now } => Some(format!(
            "the session expired at {}; it is {} now",
            format_iso8601(*valid_until),
            format_iso8601(*now)
        )),
        _ => None,
    };
    words.unwrap_or_else(plain)
}

/// `call 2: ` in a batch, nothing for a single call.
fn call_prefix(index: usize, ctx: &DenialContext<'_>) -> String {
    if ctx.calls.len() > 1 { format!("call {}: ", index + 1) } else { String::new() }
}

/// A token by its symbol and address when known, else its address.
fn token_label(token: Address, tokens: &TokenHints) -> String {
    match tokens.get(&token).and_then(|t| t.symbol.as_deref()) {
        Some(symbol) => format!("{symbol} ({})", token.to_checksum(None)),
        None => token.to_checksum(None),
    }
}

/// An amount of an asset: ETH for address 0, token units where the decimals are known, else raw units named as
/// such.
fn asset_amount(token: Address, raw: U256, tokens: &TokenHints) -> String {
    if token == Address::ZERO {
        return format!("{} ETH", format_units(raw, 18));
    }
    match tokens.get(&token) {
        Some(info) => in_units(raw, info),
        None => format!("{raw} raw units of token {}", token.to_checksum(None)),
    }
}

fn in_units(raw: U256, info: &TokenInfo) -> String {
    let units = format_units(raw, info.decimals);
    // `format_units` always shows a decimal point; a whole amount reads better without `.0`.
    let units = units.strip_suffix(".0").unwrap_or(&units).to_string();
    match &info.symbol {
        Some(symbol) => format!("{units} {symbol}"),
        None => format!("{units} (in the token's units)"),
    }
}

/// How an argument is named and shown: by the caller's names, the built-in table, or its head word.
struct Param<'a> {
    name: String,
    /// Whether `name` is the parameter's (else it is `argument word N`).
    named: bool,
    /// The token whose units the argument is in (the call's target, for an amount of the built-in table).
    units: Option<&'a TokenInfo>,
    /// The target, when the argument is an amount of it whose decimals are unknown.
    raw_of: Option<Address>,
}

fn param<'a>(call: &Call, head: u16, ctx: &DenialContext<'a>) -> Param<'a> {
    let selector: [u8; 4] = call.data.get(..4).and_then(|s| s.try_into().ok()).unwrap_or_default();
    let known = known_function(selector).and_then(|f| f.args.get(usize::from(head)));
    let named =
        ctx.names.get(&selector).and_then(|n| n.iter().find(|(h, _)| *h == head)).map(|(_, n)| n.clone());
    let name = named.or_else(|| known.map(|(n, _)| n.to_string()));
    let amount = known.is_some_and(|(_, kind)| *kind == Arg::Amount);
    let units = amount.then(|| ctx.tokens.get(&call.target)).flatten();
    Param {
        named: name.is_some(),
        name: name.unwrap_or_else(|| format!("argument word {head}")),
        units,
        raw_of: (amount && units.is_none()).then_some(call.target),
    }
}

/// A word shown as a value of type `ty`, in token units for an amount.
fn show(param: &Param<'_>, ty: u8, word: U256) -> String {
    match ty {
        arg_type::ADDRESS if word < U256::from(1) << 160 => {
            Address::from_word(B256::from(word)).to_checksum(None)
        }
        arg_type::BOOL if word <= U256::from(1) => (word == U256::from(1)).to_string(),
        0x20..=0x3f => I256::from_raw(word).to_string(),
        0x40..=0x5f => {
            format!(
                "0x{}",
                alloy_primitives::hex::encode(&word.to_be_bytes::<32>()[..usize::from(ty - 0x3f)])
            )
        }
        _ => match (param.units, param.raw_of) {
            (Some(info), _) => in_units(word, info),
            (None, Some(token)) => format!("{word} (raw units of {})", token.to_checksum(None)),
            _ => word.to_string(),
        },
    }
}

/// The words of an argument denial: the first condition of the call's policy that does not hold, re-evaluated
/// as the validator does, said with the argument's name and value.
fn argument_words(index: usize, ctx: &DenialContext<'_>) -> Option<String> {
    let call = ctx.calls.get(index)?;
    let policy = matching_policy(&ctx.scope.calls, call)?;
    let (c, result) = policy
        .conditions
        .iter()
        .map(|c| (c, evaluate_condition(&call.data, c)))
        .find(|(_, r)| *r != ConditionResult::Pass)?;
    let p = param(call, c.argIndex, ctx);
    let prefix = call_prefix(index, ctx);
    let name = &p.name;
    let at = 4 + 32 * usize::from(c.argIndex);
    let word = call.data.get(at..at + 32).map(U256::from_be_slice);
    Some(match (result, word) {
        (ConditionResult::Malformed, _) | (_, None) => {
            format!("{prefix}{name} lies outside the calldata (its offset or length is out of range)")
        }
        (ConditionResult::NotCanonical, Some(w)) => format!(
            "{prefix}{name} is the word {}, not a canonical {}",
            B256::from(w),
            arg_type::name(c.argType).unwrap_or_default()
        ),
        (ConditionResult::Invalid, _) => {
            format!(
                "{prefix}the scope's condition on {name} is ill-formed: the validator refuses every such call"
            )
        }
        (_, Some(w)) => format!("{prefix}{}", failed_condition(c, &p, w, &call.data)),
    })
}

/// A failed condition: `amount 500 USDC is above the limit 100 USDC`.
fn failed_condition(c: &ArgCondition, p: &Param<'_>, head: U256, data: &[u8]) -> String {
    let name = &p.name;
    let ty = c.argType;
    let value = show(p, ty, head);
    // `amount 500 USDC`; an unnamed word with its value in brackets, `argument word 1 (3)`.
    let subject = if p.named { format!("{name} {value}") } else { format!("{name} ({value})") };
    let reference = || show(p, ty, U256::from_be_bytes(c.values[0].0));
    match c.condition {
        condition::LTE => format!("{subject} is above the limit {}", reference()),
        condition::LT => format!("{subject} is not below the limit {}", reference()),
        condition::GTE => format!("{subject} is below the minimum {}", reference()),
        condition::GT => format!("{subject} is not above the minimum {}", reference()),
        condition::EQ => format!("{name} is {value}, and the scope permits only {}", reference()),
        condition::NEQ => format!("{name} is {value}, which the scope forbids"),
        condition::IN => {
            let allowed: Vec<String> =
                c.values.iter().map(|v| show(p, ty, U256::from_be_bytes(v.0))).collect();
            format!("{name} is {value}, not one of {}", allowed.join(", "))
        }
        kind => {
            // Dynamic kinds: the length word sits at the head's offset (in bounds: the condition was evaluated).
            let length = usize::try_from(head)
                .ok()
                .and_then(|offset| data.get(4 + offset..4 + offset + 32))
                .map(U256::from_be_slice)
                .unwrap_or_default();
            let reference = U256::from_be_bytes(c.values[0].0);
            match kind {
                condition::LENGTH_LTE => format!("{name} has length {length}, above the limit {reference}"),
                condition::LENGTH_GTE => format!("{name} has length {length}, below the minimum {reference}"),
                condition::BYTES_HASH_EQ => {
                    format!("{name} is not the permitted value (its keccak256 is not {})", c.values[0])
                }
                _ => format!(
                    "{name} is not the permitted list (the keccak256 of its elements is not {})",
                    c.values[0]
                ),
            }
        }
    }
}
