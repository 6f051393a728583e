//! Human-readable rendering of grants and scopes: what a session key may do, in words, before anyone signs.
//!
//! Wildcards and missing caps are written in capitals with a `⚠` so they stand out. Functions of a small
//! built-in table (ERC-20, ERC-721, ERC-1155, WETH, Permit2) are shown by signature with their argument
//! names; others by raw selector. Token amounts are shown in token units when the caller supplies the
//! token's decimals. Times are UTC, computed without any I/O or time-zone data.

use std::collections::BTreeMap;

use alloy_primitives::{Address, B256, I256, U256, keccak256};

use crate::{
    grant::{
        ANY_SELECTOR, ANY_TARGET, ArgCondition, CallPolicy, GasBudget, Gate, Grant, NO_CAP, Scope, arg_type,
        gate_kind,
    },
    policy::{condition, condition_well_formed},
};

/// What the caller knows about a token contract, to show amounts in its units.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenInfo {
    /// The token's symbol, if known (shown after amounts).
    pub symbol: Option<String>,
    /// The token's decimals.
    pub decimals: u8,
}

/// Token hints by contract address.
pub type TokenHints = BTreeMap<Address, TokenInfo>;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arg {
    Address,
    /// An amount in the target token's units.
    Amount,
    Uint,
    Bool,
    Other,
}

pub(crate) struct KnownFunction {
    pub(crate) signature: &'static str,
    pub(crate) args: &'static [(&'static str, Arg)],
}

const KNOWN: &[KnownFunction] = &[
    KnownFunction {
        signature: "transfer(address,uint256)",
        args: &[("to", Arg::Address), ("amount", Arg::Amount)],
    },
    KnownFunction {
        signature: "approve(address,uint256)",
        args: &[("spender", Arg::Address), ("amount", Arg::Amount)],
    },
    KnownFunction {
        signature: "transferFrom(address,address,uint256)",
        args: &[("from", Arg::Address), ("to", Arg::Address), ("amount", Arg::Amount)],
    },
    KnownFunction {
        signature: "increaseAllowance(address,uint256)",
        args: &[("spender", Arg::Address), ("addedValue", Arg::Amount)],
    },
    KnownFunction {
        signature: "decreaseAllowance(address,uint256)",
        args: &[("spender", Arg::Address), ("subtractedValue", Arg::Amount)],
    },
    KnownFunction {
        signature: "permit(address,address,uint256,uint256,uint8,bytes32,bytes32)",
        args: &[
            ("owner", Arg::Address),
            ("spender", Arg::Address),
            ("value", Arg::Amount),
            ("deadline", Arg::Uint),
            ("v", Arg::Uint),
            ("r", Arg::Other),
            ("s", Arg::Other),
        ],
    },
    KnownFunction {
        signature: "safeTransferFrom(address,address,uint256)",
        args: &[("from", Arg::Address), ("to", Arg::Address), ("tokenId", Arg::Uint)],
    },
    KnownFunction {
        signature: "safeTransferFrom(address,address,uint256,uint256,bytes)",
        args: &[
            ("from", Arg::Address),
            ("to", Arg::Address),
            ("id", Arg::Uint),
            ("amount", Arg::Uint),
            ("data", Arg::Other),
        ],
    },
    KnownFunction {
        signature: "setApprovalForAll(address,bool)",
        args: &[("operator", Arg::Address), ("approved", Arg::Bool)],
    },
    KnownFunction { signature: "deposit()", args: &[] },
    KnownFunction { signature: "withdraw(uint256)", args: &[("amount", Arg::Amount)] },
    // Permit2: the amount is in the units of the `token` argument, not of the target, so it stays raw.
    KnownFunction {
        signature: "approve(address,address,uint160,uint48)",
        args: &[
            ("token", Arg::Address),
            ("spender", Arg::Address),
            ("amount", Arg::Uint),
            ("expiration", Arg::Uint),
        ],
    },
];

pub(crate) fn known_function(selector: [u8; 4]) -> Option<&'static KnownFunction> {
    KNOWN.iter().find(|f| keccak256(f.signature.as_bytes())[..4] == selector)
}

/// The signature of a selector from the built-in table (`transfer(address,uint256)`, …), if known.
pub fn function_signature(selector: [u8; 4]) -> Option<&'static str> {
    known_function(selector).map(|f| f.signature)
}

/// `raw` in units of `decimals`: `100.0` for 100·10^decimals, trailing zeros trimmed, at least one decimal
/// (none when `decimals` is 0).
pub fn format_units(raw: U256, decimals: u8) -> String {
    if decimals == 0 {
        return raw.to_string();
    }
    let digits = raw.to_string();
    let d = usize::from(decimals);
    let padded =
        if digits.len() <= d { format!("{}{digits}", "0".repeat(d + 1 - digits.len())) } else { digits };
    let (int, frac) = padded.split_at(padded.len() - d);
    let frac = frac.trim_end_matches('0');
    format!("{int}.{}", if frac.is_empty() { "0" } else { frac })
}

/// A Unix time as `YYYY-MM-DD HH:MM UTC` (with `:SS` when the seconds are not zero).
pub fn format_utc(timestamp: u64) -> String {
    let days = timestamp / 86_400;
    let secs = timestamp % 86_400;
    let (y, m, d) = civil_from_days(days);
    let (h, min, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    if s == 0 {
        format!("{y:04}-{m:02}-{d:02} {h:02}:{min:02} UTC")
    } else {
        format!("{y:04}-{m:02}-{d:02} {h:02}:{min:02}:{s:02} UTC")
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian date, counting in 400-year eras of 146,097 days that
/// start on March 1st (so the leap day is the last day of its year).
pub(crate) fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468; // days from 0000-03-01 to 1970-01-01
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

fn eth(wei: U256) -> String {
    format!("{} ETH (raw {wei} wei)", format_units(wei, 18))
}

fn gwei(wei: U256) -> String {
    format!("{} gwei", format_units(wei, 9))
}

fn times(n: u32) -> String {
    match n {
        1 => "once".into(),
        2 => "twice".into(),
        n => format!("{n} times"),
    }
}

struct ArgView<'a> {
    name: String,
    kind: Arg,
    token: Option<&'a TokenInfo>,
}

impl ArgView<'_> {
    /// A reference value in the terms of the condition's type `ty` (canonical: the condition is well-formed).
    fn value(&self, ty: u8, word: &B256) -> String {
        let n = U256::from_be_bytes(word.0);
        match ty {
            arg_type::ADDRESS => Address::from_word(*word).to_checksum(None),
            arg_type::BOOL => (n == U256::from(1)).to_string(),
            0x20..=0x3f => I256::from_raw(n).to_string(),
            0x40..=0x5f => {
                format!("0x{}", alloy_primitives::hex::encode(&word[..usize::from(ty - 0x40) + 1]))
            }
            _ => match (self.kind, self.token) {
                (Arg::Amount, Some(t)) => {
                    let symbol = t.symbol.as_deref().map(|s| format!(" {s}")).unwrap_or_default();
                    format!("{}{symbol} (raw {n})", format_units(n, t.decimals))
                }
                (Arg::Amount, None) => format!("{n} (raw; token decimals unknown)"),
                _ => n.to_string(),
            },
        }
    }
}

fn type_name(ty: u8) -> String {
    arg_type::name(ty).unwrap_or_else(|| format!("type {ty:#04x}"))
}

fn explain_condition(c: &ArgCondition, arg: &ArgView<'_>) -> String {
    let n = &arg.name;
    let kind = c.condition;
    let count = c.values.len();
    if !condition_well_formed(c) {
        let kind_name = match crate::policy::condition_name(kind) {
            "UNKNOWN" => format!("unknown kind {kind}"),
            name => name.to_string(),
        };
        return format!(
            "⚠ INVALID condition ({kind_name} on {} with {count} values) on {n}: the validator refuses every call \
             this policy matches",
            type_name(c.argType)
        );
    }
    let ty = c.argType;
    let v = || arg.value(ty, &c.values[0]);
    let raw = || U256::from_be_bytes(c.values[0].0);
    match kind {
        condition::EQ => format!("{n} = {}", v()),
        condition::NEQ => format!("{n} ≠ {}", v()),
        condition::LT => format!("{n} < {}", v()),
        condition::LTE => format!("{n} ≤ {}", v()),
        condition::GT => format!("{n} > {}", v()),
        condition::GTE => format!("{n} ≥ {}", v()),
        condition::IN => {
            let list: Vec<String> = c.values.iter().map(|w| arg.value(ty, w)).collect();
            format!("{n} is one of {}", list.join(", "))
        }
        condition::LENGTH_LTE => format!("{n} has length ≤ {}", raw()),
        condition::LENGTH_GTE => format!("{n} has length ≥ {}", raw()),
        condition::BYTES_HASH_EQ => format!("keccak256({n}) = {}", c.values[0]),
        _ => format!("keccak256 of the elements of {n} = {}", c.values[0]),
    }
}

/// The ABI type code of parameter `i` of a built-in signature (elementary types or `bytes`, no tuples).
fn known_param_type(signature: &str, i: usize) -> Option<u8> {
    let params = signature.split_once('(')?.1.strip_suffix(')')?;
    let param = params.split(',').nth(i)?;
    if param == "bytes" || param == "string" || param.ends_with(']') {
        return Some(arg_type::DYNAMIC);
    }
    arg_type::from_name(param)
}

/// One policy in words: `may call … on … with …; sending …`.
pub fn explain_policy(policy: &CallPolicy, tokens: &TokenHints) -> String {
    let any_target = policy.flags & ANY_TARGET != 0;
    let any_selector = policy.flags & ANY_SELECTOR != 0;
    let known = (!any_selector).then(|| known_function(policy.selector.0)).flatten();
    let function = if any_selector {
        "ANY FUNCTION".to_string()
    } else if let Some(f) = known {
        format!("`{}`", f.signature)
    } else if policy.selector.0 == [0; 4] {
        "with empty calldata only (a plain ETH transfer; calldata starting with 0x00000000 does not match)"
            .to_string()
    } else {
        format!("unknown function {}", policy.selector)
    };
    let (target, token) = if any_target {
        ("ANY CONTRACT (except the account, this module and the EntryPoint)".to_string(), None)
    } else {
        let token = tokens.get(&policy.target);
        let label = token.and_then(|t| t.symbol.as_deref()).map(|s| format!(" ({s})")).unwrap_or_default();
        (format!("{}{label}", policy.target.to_checksum(None)), token)
    };
    let mut out = String::new();
    if any_target || any_selector {
        out.push_str("⚠ ");
    }
    out.push_str(&format!("may call {function} on {target}"));
    let conditions: Vec<String> = policy
        .conditions
        .iter()
        .map(|c| {
            let i = usize::from(c.argIndex);
            let view = match known.and_then(|f| f.args.get(i)) {
                Some((name, kind)) => ArgView { name: format!("`{name}`"), kind: *kind, token },
                // Static types are named; the dynamic kinds say length or hash themselves.
                None if c.argType < arg_type::DYNAMIC => ArgView {
                    name: format!("argument word {i} ({})", type_name(c.argType)),
                    kind: Arg::Other,
                    token: None,
                },
                None => ArgView { name: format!("argument word {i}"), kind: Arg::Other, token: None },
            };
            let mut line = explain_condition(c, &view);
            // A condition typed unlike the parameter it reads checks the wrong encoding rule.
            if let Some(expected) = known.and_then(|f| known_param_type(f.signature, i))
                && expected != c.argType
                && condition_well_formed(c)
            {
                line.push_str(&format!(
                    " (⚠ typed {}, but the parameter is {})",
                    type_name(c.argType),
                    type_name(expected)
                ));
            }
            line
        })
        .collect();
    if !conditions.is_empty() {
        out.push_str(&format!(" with {}", conditions.join(", ")));
    }
    let value = if policy.maxValue.is_zero() {
        "sending no ETH".to_string()
    } else if policy.maxValue == U256::MAX {
        "⚠ sending ANY amount of ETH per call".to_string()
    } else {
        format!("sending at most {} per call", eth(policy.maxValue))
    };
    out.push_str(&format!("; {value}"));
    let unknown_flags = policy.flags & !(ANY_TARGET | ANY_SELECTOR);
    if unknown_flags != 0 {
        out.push_str(&format!(" (flag bits {unknown_flags:#04x} mean nothing to the validator)"));
    }
    out
}

/// A scope in words, one statement per line: the permitted calls, then the time window, uses, ETH and gas.
pub fn explain_scope(scope: &Scope, tokens: &TokenHints) -> String {
    let mut lines = Vec::new();
    if scope.calls.is_empty() {
        lines.push("may call nothing (the scope has no call policies)".to_string());
    } else if scope.calls.len() > 1 {
        lines.push(
            "may make calls matching these policies (the first that matches a call decides):".to_string(),
        );
    }
    for policy in &scope.calls {
        let line = explain_policy(policy, tokens);
        lines.push(if scope.calls.len() > 1 { format!("- {line}") } else { line });
    }

    let after = scope.validAfter.to::<u64>();
    let until = scope.validUntil.to::<u64>();
    lines.push(match (after, until) {
        (0, 0) => "⚠ valid from now on with NO EXPIRY".to_string(),
        (a, 0) => format!("⚠ valid after {} with NO EXPIRY", format_utc(a)),
        (0, u) => format!("valid until {}", format_utc(u)),
        (a, u) if u <= a => {
            format!("valid after {} until {}: an empty window, never valid", format_utc(a), format_utc(u))
        }
        (a, u) => format!("valid after {} until {}", format_utc(a), format_utc(u)),
    });
    lines.push(match scope.maxUses {
        0 => "any number of times".to_string(),
        n => format!("at most {}", times(n)),
    });
    lines.push(explain_native_budget(scope));
    lines.extend(whole_balance_warnings(scope));

    lines.extend(explain_spend(scope, tokens));
    lines.extend(scope.gates.iter().map(|g| explain_gate(g, tokens)));
    lines.push(explain_gas(scope));
    lines.join("\n")
}

/// The session's native budget (`maxValueTotal`) in words, agreeing with the per-call ETH of the policies and
/// with the native spend limits: what the chain enforces is the smaller of all of them, gas included when the
/// account pays for it.
fn explain_native_budget(scope: &Scope) -> String {
    let account_pays = scope.paymaster == Address::ZERO;
    let gas_included = if account_pays { ", gas included" } else { "" };
    let calls_may_send = scope.calls.iter().any(|p| !p.maxValue.is_zero());
    let native_capped = scope.limits.iter().any(|l| {
        l.token == Address::ZERO
            && (l.perPeriod != crate::grant::NO_CAP || l.lifetime != crate::grant::NO_CAP)
    });
    if scope.maxValueTotal.is_zero() {
        let unusable =
            if calls_may_send { ": the per-call ETH a policy allows can never be used" } else { "" };
        let gas = if account_pays { "; with no paymaster it cannot pay for gas either" } else { "" };
        format!("may not send ETH: the session's native budget (--max-value) is 0{unusable}{gas}")
    } else if scope.maxValueTotal >= U256::from(u128::MAX) {
        if native_capped {
            format!(
                "no native budget of its own: the native spend limit below caps the ETH it may spend{gas_included}"
            )
        } else {
            format!("⚠ may send ANY amount of ETH{gas_included}")
        }
    } else if calls_may_send {
        format!("may send at most {} in total{gas_included}", eth(scope.maxValueTotal))
    } else if account_pays {
        format!(
            "may spend at most {} in total, on gas only (no policy lets a call attach ETH)",
            eth(scope.maxValueTotal)
        )
    } else {
        format!(
            "may not send ETH (no policy lets a call attach any; gas is sponsored); native budget {}",
            eth(scope.maxValueTotal)
        )
    }
}

/// Warnings for policies that can hand over a token's whole balance: an `approve` / `increaseAllowance` or a
/// `transfer` / `transferFrom` with no rule on its amount, on a token with no spend limit (or on any target).
fn whole_balance_warnings(scope: &Scope) -> Vec<String> {
    // (selector, name, index of the amount parameter)
    const MOVERS: [([u8; 4], &str, u16); 4] = [
        ([0x09, 0x5e, 0xa7, 0xb3], "approve", 1),
        ([0x39, 0x50, 0x93, 0x51], "increaseAllowance", 1),
        ([0xa9, 0x05, 0x9c, 0xbb], "transfer", 1),
        ([0x23, 0xb8, 0x72, 0xdd], "transferFrom", 2),
    ];
    let mut out = Vec::new();
    for (i, policy) in scope.calls.iter().enumerate() {
        if policy.flags & ANY_SELECTOR != 0 {
            continue;
        }
        let Some((_, name, amount)) = MOVERS.iter().find(|(sel, _, _)| policy.selector.0 == *sel) else {
            continue;
        };
        let any_target = policy.flags & ANY_TARGET != 0;
        let limited = !any_target && scope.limits.iter().any(|l| l.token == policy.target);
        let amount_rule = policy.conditions.iter().any(|c| c.argIndex == *amount);
        if !limited && !amount_rule {
            let on = if any_target { "any token".to_string() } else { policy.target.to_checksum(None) };
            out.push(format!(
                "⚠ policy {} allows `{name}` on {on} with no rule on its amount and no spend limit: the session \
                 can hand over the account's whole balance (add an amount rule such as `amount<=…` or --spend)",
                i + 1
            ));
        }
    }
    out
}

/// One gate in words, with what it does not protect against: anyone who can give the account the token can
/// satisfy it.
fn explain_gate(g: &Gate, tokens: &TokenHints) -> String {
    let token = g.token.to_checksum(None);
    let what = match g.kind {
        gate_kind::ERC20 => match tokens.get(&g.token) {
            Some(t) => {
                let symbol = t.symbol.as_deref().map(|s| format!(" {s}")).unwrap_or_default();
                format!(
                    "{}{symbol} (raw {}) of token {token}",
                    format_units(g.minBalance, t.decimals),
                    g.minBalance
                )
            }
            None => format!("{} (raw; token decimals unknown) of token {token}", g.minBalance),
        },
        gate_kind::ERC721 => {
            let nfts = if g.minBalance == U256::from(1) { "NFT".to_string() } else { "NFTs".to_string() };
            format!("{} {nfts} of collection {token} (any ids)", g.minBalance)
        }
        gate_kind::ERC1155 => format!("{} of id {} of ERC-1155 {token}", g.minBalance, g.tokenId),
        kind => return format!("⚠ an ill-formed gate (kind {kind}): the session can never be enabled"),
    };
    format!(
        "only while the account holds at least {what} (checked before every operation; anyone who can give the \
         account that much satisfies it)"
    )
}

/// The gas line: who pays, what counts it, and the per-operation caps.
fn explain_gas(scope: &Scope) -> String {
    let gas = U256::from(scope.maxGasLimit);
    let fee = U256::from(scope.maxFeePerGas);
    let caps = match (gas.is_zero(), fee.is_zero()) {
        (false, false) => format!(
            "at most {gas} gas at ≤ {} per operation (≤ {} ETH per operation)",
            gwei(fee),
            format_units(gas * fee, 18)
        ),
        (false, true) => format!("at most {gas} gas per operation, at any fee"),
        (true, false) => format!("at ≤ {} per operation, any gas limit", gwei(fee)),
        (true, true) => "no per-operation gas or fee cap".to_string(),
    };
    match scope.gas_budget() {
        GasBudget::Sponsored { paymaster } => format!(
            "gas: sponsored by paymaster {} (every operation must use it; the account's ETH is not spent on \
             gas); {caps}",
            paymaster.to_checksum(None)
        ),
        GasBudget::Native { max_value_total, native_limit } => {
            let mut budget = vec![if max_value_total >= U256::from(u128::MAX) {
                "no total cap".to_string()
            } else {
                format!("at most {} in total", eth(max_value_total))
            }];
            if let Some((per_period, lifetime)) = native_limit {
                if per_period != NO_CAP {
                    budget.push(format!("{} per period", eth(U256::from(per_period))));
                }
                if lifetime != NO_CAP {
                    budget.push(format!("{} over the session", eth(U256::from(lifetime))));
                }
            }
            format!(
                "gas: paid by the account, counted in the native budget of {} (each operation's maximum cost, \
                 (gas limits + preVerificationGas) × maxFeePerGas); {caps}",
                budget.join(" and ")
            )
        }
        GasBudget::Unbounded => format!(
            "⚠ gas: paid by the account with NO BOUND: no paymaster, no native value cap and no native spend \
             limit, so the session key can spend ANY amount of the account's ETH on gas; {caps}"
        ),
        GasBudget::Zero => format!(
            "⚠ gas: paid by the account, but the session may spend NO native value, so EVERY OPERATION IS \
             REFUSED (set a native budget, gas included, or pin a paymaster); {caps}"
        ),
    }
}

/// A period length in words: whole days, hours or minutes when it is one, else seconds.
fn duration(seconds: u32) -> String {
    let unit = |n: u32, one: &str| if n == 1 { format!("1 {one}") } else { format!("{n} {one}s") };
    match seconds {
        s if s % 86_400 == 0 => unit(s / 86_400, "day"),
        s if s % 3_600 == 0 => unit(s / 3_600, "hour"),
        s if s % 60 == 0 => unit(s / 60, "minute"),
        s => unit(s, "second"),
    }
}

/// The spend limits and the rate limit, one line each.
fn explain_spend(scope: &Scope, tokens: &TokenHints) -> Vec<String> {
    let mut lines = Vec::new();
    let period = (scope.period != 0).then(|| {
        format!("per {} (periods from {})", duration(scope.period), format_utc(scope.periodStart.to::<u64>()))
    });
    for limit in &scope.limits {
        let amount = |raw: u128| {
            let raw = U256::from(raw);
            if limit.token == Address::ZERO {
                return eth(raw);
            }
            match tokens.get(&limit.token) {
                Some(t) => {
                    let symbol = t.symbol.as_deref().map(|s| format!(" {s}")).unwrap_or_default();
                    format!("{}{symbol} (raw {raw})", format_units(raw, t.decimals))
                }
                None => format!("{raw} (raw; token decimals unknown)"),
            }
        };
        let asset = if limit.token == Address::ZERO {
            "ETH (native value)".to_string()
        } else {
            format!("token {}", limit.token.to_checksum(None))
        };
        let mut caps = Vec::new();
        if limit.perPeriod != crate::grant::NO_CAP {
            caps.push(format!("{} {}", amount(limit.perPeriod), period.as_deref().unwrap_or("per period")));
        }
        if limit.lifetime != crate::grant::NO_CAP {
            caps.push(format!("{} over the session", amount(limit.lifetime)));
        }
        lines.push(if caps.is_empty() {
            format!("⚠ may move ANY amount of {asset} (its spend limit has no cap)")
        } else {
            format!(
                "may move at most {} of {asset} (every transfer, approval and allowance counts)",
                caps.join(" and ")
            )
        });
    }
    if scope.maxUsesPerPeriod != 0 {
        lines.push(format!(
            "at most {} {}",
            times(scope.maxUsesPerPeriod),
            period.as_deref().unwrap_or("per period")
        ));
    }
    lines
}

/// A grant in words: who may act for which account, then [`explain_scope`].
pub fn explain_grant(grant: &Grant, tokens: &TokenHints) -> String {
    format!(
        "Session key {} may act for account {} (revocation epoch {}, session id {}):\n{}",
        grant.session.signer.to_checksum(None),
        grant.account.to_checksum(None),
        grant.epoch,
        grant.session.id(grant.account),
        explain_scope(&grant.session.scope, tokens)
    )
}

/// A signed grant in words: [`explain_grant`], naming the session key as the token knows it. For a grant that
/// carries its P-256 session key ([`crate::token::SignedGrant::session_key`]) the key is named with its kind and
/// coordinates, after checking that its identifier is the session's signer (a mismatch is said, loudly: such a
/// token was not written by Warrant and its key can't act).
pub fn explain_signed_grant(signed: &crate::token::SignedGrant, tokens: &TokenHints) -> String {
    let grant = &signed.grant;
    let who = match &signed.session_key {
        None => format!("Session key {}", grant.session.signer.to_checksum(None)),
        Some(key) if key.signer() == grant.session.signer => format!(
            "P-256 ({}) session key {} (public key x {}, y {})",
            key.kind,
            grant.session.signer.to_checksum(None),
            key.x,
            key.y
        ),
        Some(key) => format!(
            "⚠ MISMATCH: the P-256 key carried (identifier {}) is not the session's signer; session key {}",
            key.signer().to_checksum(None),
            grant.session.signer.to_checksum(None)
        ),
    };
    format!(
        "{who} may act for account {} (revocation epoch {}, session id {}):\n{}",
        grant.account.to_checksum(None),
        grant.epoch,
        grant.session.id(grant.account),
        explain_scope(&grant.session.scope, tokens)
    )
}
