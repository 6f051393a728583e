//! The scope flags of `warrant grant`, parsed into a [`Scope`].
//!
//! A policy is one `--allow` value: `TARGET:FUNCTION[:RULE,RULE,…]`.
//!
//! - `TARGET`: an address, or `*` for any target (an explicit wildcard; the account, the module and the
//!   EntryPoint stay forbidden).
//! - `FUNCTION`: a signature such as `transfer(address to,uint256 amount)` (parameter names are optional and
//!   usable in rules), a 4-byte selector `0xa9059cbb`, `*` for any selector, or `receive` for plain value
//!   transfers (empty calldata).
//! - `RULE`: `ARG==V`, `ARG!=V`, `ARG<V`, `ARG<=V`, `ARG>V`, `ARG>=V`, `ARG in V|V|…` on static arguments;
//!   `len(ARG)<=N`, `len(ARG)>=N`, `keccak(ARG)==0x…` (content hash of `bytes`, `string` or an array of static
//!   elements) on dynamic ones; `value<=AMOUNT` caps the native value of each call (default 0). `ARG` is a
//!   parameter name or `argN` (N counts parameters, from 0).
//!
//! Comparisons are unsigned, so they are refused on signed integer arguments rather than silently misread.
//! Amounts are integers (`100`, `0x64`, `1e18`) or decimals with a unit (`0.5ether`, `20gwei`, `100.5e6`).

use alloy::{
    dyn_abi::{DynSolType, Specifier},
    json_abi::Function,
    primitives::{Address, B256, FixedBytes, U256, utils::parse_units},
};
use warrant_core::{
    grant::{ANY_SELECTOR, ANY_TARGET, ArgCondition, CallPolicy, NO_CAP, SpendLimit},
    policy::condition,
};

/// A scope flag that does not parse, with the reason.
#[derive(Debug, thiserror::Error)]
#[error("--allow {spec:?}: {reason}")]
pub(crate) struct SpecError {
    spec: String,
    reason: String,
}

/// One parameter of the allowed function: its ABI type, name and head word.
struct Param {
    name: String,
    ty: DynSolType,
    head: u16,
}

/// Head words a static type takes; dynamic types take one (the offset).
fn head_words(ty: &DynSolType) -> Option<usize> {
    if ty.is_dynamic() {
        return Some(1);
    }
    match ty {
        DynSolType::FixedArray(inner, n) => head_words(inner)?.checked_mul(*n),
        DynSolType::Tuple(items) => items.iter().map(head_words).sum(),
        _ => Some(1),
    }
}

/// Parses a numeric amount: integer (decimal, hex, `NeM`) or decimal with a unit (`ether`, `gwei`, `wei`).
pub(crate) fn parse_amount(text: &str) -> Result<U256, String> {
    let text = text.trim();
    for (unit, decimals) in [("ether", 18u8), ("gwei", 9), ("wei", 0)] {
        if let Some(number) = text.strip_suffix(unit) {
            return parse_units(number.trim(), decimals)
                .map(|v| v.get_absolute())
                .map_err(|e| format!("{text:?} is not an amount in {unit}: {e}"));
        }
    }
    if let Some((mantissa, exponent)) = text.split_once(['e', 'E']).filter(|_| !text.starts_with("0x")) {
        let exponent: u8 = exponent.parse().map_err(|_| format!("{text:?}: bad exponent"))?;
        return parse_units(mantissa, exponent)
            .map(|v| v.get_absolute())
            .map_err(|e| format!("{text:?} is not a number: {e}"));
    }
    text.parse::<U256>().map_err(|e| format!("{text:?} is not a number: {e}"))
}

/// A 32-byte word for a static argument: an address or bool as ABI-encoded, `bytesN` left-aligned, integers
/// as amounts.
fn parse_word(ty: &DynSolType, text: &str) -> Result<B256, String> {
    let text = text.trim();
    match ty {
        DynSolType::Address => {
            let address: Address = text.parse().map_err(|e| format!("{text:?} is not an address: {e}"))?;
            Ok(address.into_word())
        }
        DynSolType::Bool => match text {
            "true" => Ok(B256::with_last_byte(1)),
            "false" => Ok(B256::ZERO),
            _ => Err(format!("{text:?} is not a bool")),
        },
        DynSolType::FixedBytes(n) => {
            let bytes = alloy::hex::decode(text).map_err(|e| format!("{text:?} is not hex: {e}"))?;
            if bytes.len() != *n {
                return Err(format!("{text:?} is {} bytes, the argument is bytes{n}", bytes.len()));
            }
            Ok(B256::right_padding_from(&bytes))
        }
        DynSolType::Uint(bits) => {
            let value = parse_amount(text)?;
            if *bits < 256 && value >= U256::from(1) << *bits {
                return Err(format!("{text:?} does not fit uint{bits}"));
            }
            Ok(B256::from(value))
        }
        other => Err(format!("comparisons on {other} arguments are not supported (unsigned words only)")),
    }
}

/// Parses `--allow` values into call policies.
pub(crate) fn parse_policy(spec: &str) -> Result<CallPolicy, SpecError> {
    let err = |reason: String| SpecError { spec: spec.to_string(), reason };
    let (target_text, rest) =
        spec.split_once(':').ok_or_else(|| err("expected TARGET:FUNCTION[:RULES]".into()))?;
    let mut policy = CallPolicy {
        target: Address::ZERO,
        selector: FixedBytes::ZERO,
        flags: 0,
        maxValue: U256::ZERO,
        conditions: Vec::new(),
    };
    if target_text.trim() == "*" {
        policy.flags |= ANY_TARGET;
    } else {
        policy.target =
            target_text.trim().parse().map_err(|e| err(format!("target {target_text:?}: {e}")))?;
    }

    // The function part ends at the parenthesis matching the signature's first one, or at the next ':'.
    let (function_text, rules_text) = match rest.find('(') {
        Some(open) if rest[..open].chars().all(|c| c.is_alphanumeric() || c == '_') => {
            let mut depth = 0usize;
            let close = rest[open..]
                .char_indices()
                .find_map(|(i, c)| {
                    match c {
                        '(' => depth += 1,
                        ')' => depth -= 1,
                        _ => {}
                    }
                    (depth == 0).then_some(open + i)
                })
                .ok_or_else(|| err("unbalanced parentheses in the signature".into()))?;
            let rules = rest[close + 1..].trim();
            if !rules.is_empty() && !rules.starts_with(':') {
                return Err(err(format!("unexpected {rules:?} after the signature")));
            }
            (&rest[..=close], rules.strip_prefix(':').unwrap_or(""))
        }
        _ => rest.split_once(':').unwrap_or((rest, "")),
    };

    let function_text = function_text.trim();
    let params: Vec<Param> = match function_text {
        "*" => {
            policy.flags |= ANY_SELECTOR;
            Vec::new()
        }
        "receive" => Vec::new(),
        s if s.starts_with("0x") => {
            let selector: FixedBytes<4> = s.parse().map_err(|e| err(format!("selector {s:?}: {e}")))?;
            if selector == FixedBytes::ZERO {
                return Err(err("selector 0x00000000 means plain transfers: write `receive`".into()));
            }
            policy.selector = selector;
            Vec::new()
        }
        s => {
            let function = Function::parse(s).map_err(|e| err(format!("signature {s:?}: {e}")))?;
            policy.selector = function.selector();
            let mut head = 0usize;
            let mut params = Vec::new();
            for (i, input) in function.inputs.iter().enumerate() {
                let ty = input.resolve().map_err(|e| err(format!("parameter {i}: {e}")))?;
                let words = head_words(&ty).ok_or_else(|| err(format!("parameter {i} is too large")))?;
                let name = if input.name.is_empty() { format!("arg{i}") } else { input.name.clone() };
                let head_index = u16::try_from(head).map_err(|_| err("too many parameters".into()))?;
                params.push(Param { name, ty, head: head_index });
                head += words;
            }
            params
        }
    };

    for rule in rules_text.split(',').map(str::trim).filter(|r| !r.is_empty()) {
        if let Some(amount) = rule.strip_prefix("value<=") {
            policy.maxValue = parse_amount(amount).map_err(err)?;
            continue;
        }
        policy.conditions.push(parse_rule(rule, &params).map_err(err)?);
    }
    Ok(policy)
}

fn find<'a>(params: &'a [Param], name: &str) -> Result<&'a Param, String> {
    let name = name.trim();
    params.iter().find(|p| p.name == name || format!("arg{}", p.head) == name).ok_or_else(|| {
        if params.is_empty() {
            format!("argument rules need the function's signature, not a selector or wildcard ({name:?})")
        } else {
            let names: Vec<_> = params.iter().map(|p| p.name.as_str()).collect();
            format!("no argument {name:?}; the function has {}", names.join(", "))
        }
    })
}

fn parse_rule(rule: &str, params: &[Param]) -> Result<ArgCondition, String> {
    let dynamic = |kind: u8, inner: &str, value: &str| -> Result<ArgCondition, String> {
        let param = find(params, inner)?;
        if !param.ty.is_dynamic() {
            return Err(format!(
                "{rule:?}: {} is a static {} argument; compare it instead",
                param.name, param.ty
            ));
        }
        let value = if kind == condition::BYTES_HASH_EQ {
            let hash: B256 = value.trim().parse().map_err(|e| format!("{rule:?}: hash: {e}"))?;
            let is_array = matches!(&param.ty, DynSolType::Array(inner) if !inner.is_dynamic());
            let is_bytes = matches!(param.ty, DynSolType::Bytes | DynSolType::String);
            if !is_array && !is_bytes {
                return Err(format!("{rule:?}: keccak() needs bytes, string or an array of static elements"));
            }
            let kind = if is_array { condition::ARRAY_HASH_EQ } else { condition::BYTES_HASH_EQ };
            return Ok(ArgCondition { condition: kind, argIndex: param.head, values: vec![hash] });
        } else {
            B256::from(parse_amount(value).map_err(|e| format!("{rule:?}: {e}"))?)
        };
        Ok(ArgCondition { condition: kind, argIndex: param.head, values: vec![value] })
    };
    if let Some(rest) = rule.strip_prefix("len(") {
        let (inner, tail) = rest.split_once(')').ok_or_else(|| format!("{rule:?}: missing ')'"))?;
        if let Some(v) = tail.strip_prefix("<=") {
            return dynamic(condition::LENGTH_LTE, inner, v);
        }
        if let Some(v) = tail.strip_prefix(">=") {
            return dynamic(condition::LENGTH_GTE, inner, v);
        }
        return Err(format!("{rule:?}: length rules are len(ARG)<=N or len(ARG)>=N"));
    }
    if let Some(rest) = rule.strip_prefix("keccak(") {
        let (inner, tail) = rest.split_once(')').ok_or_else(|| format!("{rule:?}: missing ')'"))?;
        let v =
            tail.strip_prefix("==").ok_or_else(|| format!("{rule:?}: hash rules are keccak(ARG)==0x…"))?;
        return dynamic(condition::BYTES_HASH_EQ, inner, v);
    }
    if let Some((name, values)) = rule.split_once(" in ") {
        let param = static_param(params, name, rule)?;
        let values = values
            .split('|')
            .map(|v| parse_word(&param.ty, v).map_err(|e| format!("{rule:?}: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(ArgCondition { condition: condition::IN, argIndex: param.head, values });
    }
    // Two-character operators first, so `<=` is not read as `<`.
    for (op, kind) in [
        ("==", condition::EQ),
        ("!=", condition::NEQ),
        ("<=", condition::LTE),
        (">=", condition::GTE),
        ("<", condition::LT),
        (">", condition::GT),
    ] {
        if let Some((name, value)) = rule.split_once(op) {
            let param = static_param(params, name, rule)?;
            let value = parse_word(&param.ty, value).map_err(|e| format!("{rule:?}: {e}"))?;
            return Ok(ArgCondition { condition: kind, argIndex: param.head, values: vec![value] });
        }
    }
    Err(format!(
        "{rule:?} is not a rule (ARG==V, ARG<=V, ARG in A|B, len(ARG)<=N, keccak(ARG)==H, value<=AMOUNT)"
    ))
}

fn static_param<'a>(params: &'a [Param], name: &str, rule: &str) -> Result<&'a Param, String> {
    let param = find(params, name)?;
    match param.ty {
        DynSolType::Address | DynSolType::Bool | DynSolType::Uint(_) | DynSolType::FixedBytes(_) => Ok(param),
        DynSolType::Int(_) => Err(format!(
            "{rule:?}: rules on signed {} arguments are not supported (words compare unsigned)",
            param.ty
        )),
        _ if param.ty.is_dynamic() => {
            Err(format!("{rule:?}: {} is a dynamic {} argument; use len() or keccak()", param.name, param.ty))
        }
        _ => Err(format!("{rule:?}: rules on {} arguments are not supported", param.ty)),
    }
}

/// One `--spend`/`--spend-native` value: the asset (address 0 for native), the amount, the period if any.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct SpendSpec {
    pub(crate) token: Address,
    pub(crate) amount: u128,
    pub(crate) period: Option<u32>,
}

/// The largest finite spend cap: the validator's counters are 112-bit.
const MAX_SPEND: u128 = (1 << 112) - 1;

/// Parses a period length: `1d`, `12h`, `30m`, `3600s` (whole seconds, 1 s to 2^32 - 1 s).
pub(crate) fn parse_period(text: &str) -> Result<u32, String> {
    let text = text.trim();
    let d = humantime::parse_duration(text)
        .map_err(|e| format!("period {text:?}: {e} (for example 1d, 12h, 3600s)"))?;
    if d.subsec_nanos() != 0 || d.as_secs() == 0 {
        return Err(format!("period {text:?} must be a whole, non-zero number of seconds"));
    }
    u32::try_from(d.as_secs()).map_err(|_| format!("period {text:?} is longer than 2^32 - 1 seconds"))
}

/// Parses `AMOUNT[/PERIOD]` for `token` (`flag` names the option in errors).
pub(crate) fn parse_spend_amount(flag: &str, token: Address, text: &str) -> Result<SpendSpec, String> {
    let (amount_text, period) = match text.split_once('/') {
        Some((a, p)) => (a, Some(parse_period(p).map_err(|e| format!("{flag} {text:?}: {e}"))?)),
        None => (text, None),
    };
    let amount = parse_amount(amount_text).map_err(|e| format!("{flag} {text:?}: {e}"))?;
    if amount > U256::from(MAX_SPEND) {
        return Err(format!("{flag} {text:?}: the amount does not fit the validator's 112-bit counters"));
    }
    Ok(SpendSpec { token, amount: amount.to::<u128>(), period })
}

/// Parses one `--spend TOKEN:AMOUNT[/PERIOD]` value.
pub(crate) fn parse_spend(text: &str) -> Result<SpendSpec, String> {
    let (token_text, amount) =
        text.split_once(':').ok_or_else(|| format!("--spend {text:?}: expected TOKEN:AMOUNT[/PERIOD]"))?;
    let token: Address =
        token_text.trim().parse().map_err(|e| format!("--spend {text:?}: token {token_text:?}: {e}"))?;
    if token == Address::ZERO {
        return Err(format!("--spend {text:?}: address 0 is not a token (use --spend-native for ETH)"));
    }
    parse_spend_amount("--spend", token, amount)
}

/// Folds spend specs into the scope's limits and its one period: a token may have one lifetime amount and one
/// per-period amount; every per-period amount (and `period`, from `--period`) must name the same period.
pub(crate) fn spend_limits(
    specs: &[SpendSpec],
    period: Option<u32>,
) -> Result<(u32, Vec<SpendLimit>), String> {
    let mut period = period;
    let mut limits: Vec<SpendLimit> = Vec::new();
    for spec in specs {
        let what =
            if spec.token == Address::ZERO { "native value".to_string() } else { spec.token.to_string() };
        if let (Some(p), Some(q)) = (period, spec.period)
            && p != q
        {
            return Err(format!(
                "one period per session: {what} uses a period of {q} s, another limit (or --period) {p} s"
            ));
        }
        period = period.or(spec.period);
        let index = match limits.iter().position(|l| l.token == spec.token) {
            Some(i) => i,
            None => {
                limits.push(SpendLimit { token: spec.token, perPeriod: NO_CAP, lifetime: NO_CAP });
                limits.len() - 1
            }
        };
        let slot =
            if spec.period.is_some() { &mut limits[index].perPeriod } else { &mut limits[index].lifetime };
        if *slot != NO_CAP {
            let kind = if spec.period.is_some() { "per-period" } else { "lifetime" };
            return Err(format!("{what} has two {kind} spend limits"));
        }
        *slot = spec.amount;
    }
    Ok((period.unwrap_or(0), limits))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "0x1000000000000000000000000000000000000001";
    const BOB: &str = "0x000000000000000000000000000000000000bEEF";

    #[test]
    fn erc20_transfer_with_named_rules() {
        let p =
            parse_policy(&format!("{TOKEN}:transfer(address to,uint256 amount):to=={BOB},amount<=100e18"))
                .unwrap();
        assert_eq!(p.target, TOKEN.parse::<Address>().unwrap());
        assert_eq!(p.selector, FixedBytes([0xa9, 0x05, 0x9c, 0xbb]));
        assert_eq!(p.flags, 0);
        assert_eq!(p.maxValue, U256::ZERO);
        assert_eq!(p.conditions.len(), 2);
        assert_eq!(p.conditions[0].condition, condition::EQ);
        assert_eq!(p.conditions[0].argIndex, 0);
        assert_eq!(p.conditions[0].values[0], BOB.parse::<Address>().unwrap().into_word());
        assert_eq!(p.conditions[1].condition, condition::LTE);
        assert_eq!(p.conditions[1].argIndex, 1);
        assert_eq!(p.conditions[1].values[0], B256::from(U256::from(10u128.pow(20))));
    }

    #[test]
    fn positional_names_wildcards_and_value_caps() {
        let p = parse_policy(&format!("{BOB}:receive:value<=0.5ether")).unwrap();
        assert_eq!(p.selector, FixedBytes::ZERO);
        assert_eq!(p.maxValue, U256::from(5u128 * 10u128.pow(17)));
        let p = parse_policy("*:approve(address,uint256):arg1<100").unwrap();
        assert_eq!(p.flags, ANY_TARGET);
        assert_eq!(p.conditions[0].condition, condition::LT);
        let p = parse_policy(&format!("{TOKEN}:*")).unwrap();
        assert_eq!(p.flags, ANY_SELECTOR);
        let p = parse_policy(&format!("{TOKEN}:0x095ea7b3")).unwrap();
        assert_eq!(p.selector, FixedBytes([0x09, 0x5e, 0xa7, 0xb3]));
    }

    #[test]
    fn head_words_follow_fixed_arrays_and_dynamic_arguments() {
        let p = parse_policy(&format!(
            "{TOKEN}:f(uint256[2] pair,bytes data,string s,uint256[] xs,uint8 k):k in 1|2|3,len(data)<=64,keccak(s)==0x{h},keccak(xs)==0x{h}",
            h = "11".repeat(32)
        ))
        .unwrap();
        let heads: Vec<_> = p.conditions.iter().map(|c| (c.condition, c.argIndex)).collect();
        assert_eq!(
            heads,
            [
                (condition::IN, 5),
                (condition::LENGTH_LTE, 2),
                (condition::BYTES_HASH_EQ, 3),
                (condition::ARRAY_HASH_EQ, 4)
            ]
        );
        assert_eq!(p.conditions[0].values.len(), 3);
    }

    #[test]
    fn mistakes_are_named() {
        let cases = [
            ("transfer(address,uint256)", "expected TARGET:FUNCTION"),
            ("0x12:transfer(address,uint256)", "target"),
            (&format!("{TOKEN}:transfer(address,uint256"), "unbalanced"),
            (&format!("{TOKEN}:transfer(address to,uint256 amount):amount<=lots"), "not a number"),
            (&format!("{TOKEN}:transfer(address to,uint256 amount):who=={BOB}"), "no argument \"who\""),
            (&format!("{TOKEN}:setData(bytes data):data=={BOB}"), "dynamic"),
            (&format!("{TOKEN}:f(uint256 a):len(a)<=3"), "static"),
            (&format!("{TOKEN}:f(int256 a):a<=3"), "signed"),
            (&format!("{TOKEN}:f(uint8 a):a<=300"), "does not fit uint8"),
            (&format!("{TOKEN}:0xa9059cbb:arg0==1"), "need the function's signature"),
            (&format!("{TOKEN}:0x00000000"), "write `receive`"),
            (&format!("{TOKEN}:f(uint256 a):a~1"), "is not a rule"),
        ];
        for (spec, needle) in cases {
            let e = parse_policy(spec).unwrap_err().to_string();
            assert!(e.contains(needle), "{spec}: {e}");
        }
    }

    #[test]
    fn amounts() {
        assert_eq!(parse_amount("1e18").unwrap(), U256::from(10u128.pow(18)));
        assert_eq!(parse_amount("1.5ether").unwrap(), U256::from(15u128 * 10u128.pow(17)));
        assert_eq!(parse_amount("20gwei").unwrap(), U256::from(20_000_000_000u64));
        assert_eq!(parse_amount("0x64").unwrap(), U256::from(100));
        assert!(parse_amount("-1").is_err());
        assert!(parse_amount("1.5").is_err());
    }

    #[test]
    fn spend_specs() {
        let token: Address = "0x3000000000000000000000000000000000000003".parse().unwrap();
        let daily = parse_spend(&format!("{token}:100e18/1d")).unwrap();
        assert_eq!(daily, SpendSpec { token, amount: 100 * 10u128.pow(18), period: Some(86_400) });
        let lifetime = parse_spend(&format!("{token}:500e18")).unwrap();
        let native = parse_spend_amount("--spend-native", Address::ZERO, "0.1ether/24h").unwrap();
        let (period, limits) = spend_limits(&[daily, lifetime, native], None).unwrap();
        assert_eq!(period, 86_400);
        assert_eq!(
            limits,
            vec![
                SpendLimit { token, perPeriod: 100 * 10u128.pow(18), lifetime: 500 * 10u128.pow(18) },
                SpendLimit { token: Address::ZERO, perPeriod: 10u128.pow(17), lifetime: NO_CAP },
            ]
        );
        assert_eq!(parse_period("3600s"), Ok(3600));
        assert_eq!(parse_period("12h"), Ok(43_200));
    }

    #[test]
    fn spend_mistakes_are_named() {
        let token = "0x3000000000000000000000000000000000000003";
        let e = |r: Result<SpendSpec, String>| r.unwrap_err();
        assert!(e(parse_spend("100")).contains("expected TOKEN:AMOUNT"));
        assert!(e(parse_spend(&format!("{token}:1/0s"))).contains("non-zero"));
        assert!(e(parse_spend(&format!("{token}:1/fortnight"))).contains("for example 1d"));
        assert!(e(parse_spend(&format!("{token}:1/200y"))).contains("2^32"));
        assert!(e(parse_spend(&format!("{token}:1e40"))).contains("112-bit"));
        assert!(e(parse_spend("0x0000000000000000000000000000000000000000:1")).contains("--spend-native"));
        let a = parse_spend(&format!("{token}:1/1d")).unwrap();
        let b = parse_spend_amount("--spend-native", Address::ZERO, "1/12h").unwrap();
        assert!(spend_limits(&[a, b], None).unwrap_err().contains("one period per session"));
        let a = parse_spend(&format!("{token}:1/1d")).unwrap();
        let a2 = parse_spend(&format!("{token}:2/1d")).unwrap();
        assert!(spend_limits(&[a, a2], None).unwrap_err().contains("two per-period"));
        let a = parse_spend(&format!("{token}:1/1d")).unwrap();
        assert!(spend_limits(&[a], Some(3600)).unwrap_err().contains("one period per session"));
    }
}
