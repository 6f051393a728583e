//! The scope flags of `warrant grant`, parsed into a [`Scope`](warrant_core::grant::Scope).
//!
//! A policy is one `--allow` value: `TARGET:FUNCTION[:RULE,RULE,…]`.
//!
//! - `TARGET`: an address, or `*` for any target (an explicit wildcard; the account, the module and the
//!   EntryPoint stay forbidden).
//! - `FUNCTION`: a signature such as `transfer(address to,uint256 amount)` (parameter names are optional and
//!   usable in rules), a 4-byte selector `0xa9059cbb`, `*` for any selector, or `receive` for plain value
//!   transfers (empty calldata).
//! - `RULE`: `ARG==V`, `ARG!=V`, `ARG<V`, `ARG<=V`, `ARG>V`, `ARG>=V`, `ARG in V|V|…` on elementary static
//!   parameters (`uintN`, `intN`, `address`, `bool`, `bytesN`); `len(ARG)<=N`, `len(ARG)>=N` on `bytes`,
//!   `string` and `T[]`; `keccak(ARG)==0x…` (content hash of `bytes`, `string` or an array of one-word
//!   elements); `value<=AMOUNT` caps the native value of each call (default 0). `ARG` is a parameter name or
//!   `argN`: parameter N of the signature, counted from 0, whatever the types before it.
//!
//! Each condition carries its parameter's ABI type (`argType`), taken from the signature: the validator refuses
//! a non-canonical argument word (dirty high bits of an address, say) and compares `intN` signed. Values are
//! parsed per type: `-5` for `intN`, addresses with a valid EIP-55 checksum when mixed-case, `true`/`false`,
//! `bytesN` as exactly N bytes of hex (left-aligned in the word). A value that does not fit the type, or an
//! empty one, is an error.
//!
//! Static arrays and static tuples are inlined in the head (`uint256[2]` takes two words), so a parameter's
//! head word is not its position; [`parameters`] computes it from the types. Conditions on a whole static array
//! or tuple parameter are refused (one condition reads one word); its elements are not addressable by name.
//! Amounts are integers (`100`, `0x64`, `1e18`) or decimals with a unit (`0.5ether`, `20gwei`, `100.5e6`).

use alloy::{
    dyn_abi::{DynSolType, Specifier},
    json_abi::Function,
    primitives::{Address, B256, FixedBytes, U256, utils::parse_units},
};
use warrant_core::{
    grant::{
        ANY_SELECTOR, ANY_TARGET, ArgCondition, CallPolicy, Gate, NO_CAP, SpendLimit, arg_type, gate_kind,
    },
    policy::condition,
};

/// A scope flag that does not parse, with the reason.
#[derive(Debug, thiserror::Error)]
#[error("--allow {spec:?}: {reason}")]
pub(crate) struct SpecError {
    spec: String,
    reason: String,
}

/// One parameter of a function: its name, position, ABI type and head word.
#[derive(Clone, Debug)]
pub(crate) struct Param {
    /// The name the signature gives it, if any.
    pub(crate) name: Option<String>,
    /// Its position in the signature, from 0 (what `argN` counts).
    pub(crate) position: usize,
    pub(crate) ty: DynSolType,
    /// The head word the validator reads for it: the word at `4 + 32 * head` of the calldata.
    pub(crate) head: u16,
}

impl Param {
    /// How rules and messages name it: its name from the signature, else `argN`.
    pub(crate) fn label(&self) -> String {
        self.name.clone().unwrap_or_else(|| format!("arg{}", self.position))
    }
}

/// Head words a type takes in the ABI encoding: a static array or tuple is inlined (its elements' words), a
/// dynamic type takes one (the offset of its tail). `None` on overflow.
fn head_words(ty: &DynSolType) -> Option<usize> {
    if ty.is_dynamic() {
        return Some(1);
    }
    match ty {
        DynSolType::FixedArray(inner, n) => head_words(inner)?.checked_mul(*n),
        DynSolType::Tuple(items) => items.iter().try_fold(0usize, |sum, t| sum.checked_add(head_words(t)?)),
        _ => Some(1),
    }
}

/// The parameters of `function` with their head words. Refuses two parameters of one name (a rule could not
/// say which it means) and heads beyond the 16-bit `argIndex`.
pub(crate) fn parameters(function: &Function) -> Result<Vec<Param>, String> {
    let mut head = 0usize;
    let mut params: Vec<Param> = Vec::new();
    for (position, input) in function.inputs.iter().enumerate() {
        let ty = input.resolve().map_err(|e| format!("parameter {position}: {e}"))?;
        let name = (!input.name.is_empty()).then(|| input.name.clone());
        if let Some(n) = &name
            && params.iter().any(|p| p.name.as_ref() == Some(n))
        {
            return Err(format!("two parameters are named {n:?}"));
        }
        let words = head_words(&ty).ok_or_else(|| format!("parameter {position} ({ty}) is too large"))?;
        let head_index = u16::try_from(head)
            .map_err(|_| format!("parameter {position} starts past head word 65535 (argIndex is 16 bits)"))?;
        params.push(Param { name, position, ty, head: head_index });
        head = head.checked_add(words).ok_or_else(|| "the parameters are too large".to_string())?;
    }
    Ok(params)
}

/// The `argType` code of a parameter a head-word condition can compare: an elementary static type. `None` for
/// dynamic types, static arrays and tuples (several words) and `function` (not comparable).
pub(crate) fn word_type(ty: &DynSolType) -> Option<u8> {
    // The casts are in range: alloy's parser only yields N in 8..=256 (multiples of 8) and n in 1..=32.
    match ty {
        DynSolType::Uint(bits) => Some(arg_type::uint(*bits as u16)),
        DynSolType::Int(bits) => Some(arg_type::int(*bits as u16)),
        DynSolType::FixedBytes(n) => Some(arg_type::fixed_bytes(*n as u8)),
        DynSolType::Address => Some(arg_type::ADDRESS),
        DynSolType::Bool => Some(arg_type::BOOL),
        _ => None,
    }
}

/// Which parameter head word `head` belongs to, and the `argType` a condition on it must carry: its
/// `word_type`, [`arg_type::DYNAMIC`] for a dynamic one, `None` inside a static array or tuple.
pub(crate) fn parameter_at(params: &[Param], head: u16) -> Option<(&Param, Option<u8>)> {
    let param = params.iter().find(|p| {
        p.head <= head && head_words(&p.ty).is_some_and(|words| usize::from(head - p.head) < words)
    })?;
    let code = if param.ty.is_dynamic() { Some(arg_type::DYNAMIC) } else { word_type(&param.ty) };
    Some((param, code.filter(|_| head == param.head)))
}

/// Parses an address: `0x` and 40 hex digits. A mixed-case address must carry a valid EIP-55 checksum (a typo
/// in it is caught, not granted); an all-lower or all-upper case one has no checksum to check.
pub(crate) fn parse_address(text: &str) -> Result<Address, String> {
    let text = text.trim();
    let hex = text.strip_prefix("0x").unwrap_or_default();
    if hex.len() != 40 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("{text:?} is not an address (0x and 40 hex digits)"));
    }
    let address: Address = text.parse().map_err(|e| format!("{text:?} is not an address: {e}"))?;
    let mixed = hex.bytes().any(|b| b.is_ascii_lowercase()) && hex.bytes().any(|b| b.is_ascii_uppercase());
    if mixed && address.to_checksum(None) != text {
        return Err(format!(
            "{text:?} has a wrong EIP-55 checksum (its letter case): a mistyped address? Check it at its source"
        ));
    }
    Ok(address)
}

/// Parses a numeric amount: integer (decimal, hex, `NeM`) or decimal with a unit (`ether`, `gwei`, `wei`).
/// Empty text is an error, never 0.
pub(crate) fn parse_amount(text: &str) -> Result<U256, String> {
    let text = text.trim();
    let nonempty = |number: &str| {
        if number.trim().is_empty() || number.trim() == "0x" {
            Err(format!("{text:?}: the number is missing"))
        } else {
            Ok(())
        }
    };
    nonempty(text)?;
    for (unit, decimals) in [("ether", 18u8), ("gwei", 9), ("wei", 0)] {
        if let Some(number) = text.strip_suffix(unit) {
            nonempty(number)?;
            return parse_units(number.trim(), decimals)
                .map(|v| v.get_absolute())
                .map_err(|e| format!("{text:?} is not an amount in {unit}: {e}"));
        }
    }
    if let Some((mantissa, exponent)) = text.split_once(['e', 'E']).filter(|_| !text.starts_with("0x")) {
        nonempty(mantissa)?;
        let exponent: u8 = exponent.parse().map_err(|_| format!("{text:?}: bad exponent"))?;
        return parse_units(mantissa, exponent)
            .map(|v| v.get_absolute())
            .map_err(|e| format!("{text:?} is not a number: {e}"));
    }
    text.parse::<U256>().map_err(|e| format!("{text:?} is not a number: {e}"))
}

/// An `intN` value (`-5`, `100`, `-1e18`) as its canonical word: the two's complement sign-extended to 256 bits.
fn parse_signed(bits: usize, text: &str) -> Result<B256, String> {
    let (negative, magnitude) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let magnitude = parse_amount(magnitude)?;
    let half = U256::from(1) << (bits - 1);
    let fits = if negative { magnitude <= half } else { magnitude < half };
    if !fits {
        return Err(format!("{text:?} does not fit int{bits} (-2^{0} to 2^{0} - 1)", bits - 1));
    }
    Ok(B256::from(if negative { magnitude.wrapping_neg() } else { magnitude }))
}

/// The canonical 32-byte word of a value of an elementary static type: an address or bool as ABI-encoded,
/// `bytesN` left-aligned, `uintN` as an amount, `intN` sign-extended. Out of range or empty: an error.
fn parse_word(ty: &DynSolType, text: &str) -> Result<B256, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(format!("the {ty} value is missing"));
    }
    match ty {
        DynSolType::Address => Ok(parse_address(text)?.into_word()),
        DynSolType::Bool => match text {
            "true" => Ok(B256::with_last_byte(1)),
            "false" => Ok(B256::ZERO),
            _ => Err(format!("{text:?} is not a bool (true or false)")),
        },
        DynSolType::FixedBytes(n) => {
            let hex = text.strip_prefix("0x").ok_or_else(|| format!("{text:?}: bytes{n} is 0x and hex"))?;
            let bytes = alloy::hex::decode(hex).map_err(|e| format!("{text:?} is not hex: {e}"))?;
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
        DynSolType::Int(bits) => parse_signed(*bits, text),
        other => Err(format!("values of {other} are not supported")),
    }
}

/// A function signature with its parameters, to name what conditions read.
pub(crate) struct Signature {
    /// As the user wrote it.
    pub(crate) text: String,
    pub(crate) selector: [u8; 4],
    pub(crate) params: Vec<Param>,
}

impl Signature {
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let function = Function::parse(text).map_err(|e| format!("signature {text:?}: {e}"))?;
        let params = parameters(&function).map_err(|e| format!("signature {text:?}: {e}"))?;
        Ok(Self { text: text.to_string(), selector: function.selector().0, params })
    }
}

/// Parses `--allow` values into call policies.
pub(crate) fn parse_policy(spec: &str) -> Result<CallPolicy, SpecError> {
    parse_policy_signature(spec).map(|(policy, _)| policy)
}

/// Parses an `--allow` value into its call policy and its signature (none for a selector, `*` or `receive`),
/// so that messages can name the parameters as the user wrote them.
pub(crate) fn parse_policy_signature(spec: &str) -> Result<(CallPolicy, Option<Signature>), SpecError> {
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
        policy.target = parse_address(target_text).map_err(|e| err(format!("target: {e}")))?;
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
    let signature = match function_text {
        "*" => {
            policy.flags |= ANY_SELECTOR;
            None
        }
        "receive" => None,
        s if s.starts_with("0x") => {
            let selector: FixedBytes<4> = s.parse().map_err(|e| err(format!("selector {s:?}: {e}")))?;
            if selector == FixedBytes::ZERO {
                return Err(err("selector 0x00000000 means plain transfers: write `receive`".into()));
            }
            policy.selector = selector;
            None
        }
        s => {
            let signature = Signature::parse(s).map_err(err)?;
            policy.selector = signature.selector.into();
            Some(signature)
        }
    };
    let params = signature.as_ref().map(|s| s.params.as_slice()).unwrap_or_default();

    for rule in rules_text.split(',').map(str::trim).filter(|r| !r.is_empty()) {
        if let Some(amount) = rule.strip_prefix("value<=") {
            policy.maxValue = parse_amount(amount).map_err(|e| err(format!("{rule:?}: {e}")))?;
            continue;
        }
        policy.conditions.push(parse_rule(rule, params).map_err(err)?);
    }
    Ok((policy, signature))
}

/// The parameter a rule names: by its name in the signature, or `argN` for position N. A name that is both (a
/// parameter named `arg1` that is not parameter 1) is refused as ambiguous.
fn find<'a>(params: &'a [Param], name: &str) -> Result<&'a Param, String> {
    let name = name.trim();
    if params.is_empty() {
        return Err(format!(
            "argument rules need the function's signature, not a selector or wildcard ({name:?})"
        ));
    }
    let named = params.iter().find(|p| p.name.as_deref() == Some(name));
    let position = name
        .strip_prefix("arg")
        .filter(|d| {
            !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()) && (d == &"0" || !d.starts_with('0'))
        })
        .and_then(|d| d.parse::<usize>().ok());
    let positional = position.and_then(|n| params.get(n));
    match (named, positional) {
        (Some(a), Some(b)) if a.position != b.position => Err(format!(
            "{name:?} is ambiguous: parameter {} is named {name:?}, and argN means parameter {}",
            a.position, b.position
        )),
        (Some(p), _) | (None, Some(p)) => Ok(p),
        (None, None) => {
            let labels: Vec<_> = params.iter().map(|p| format!("{} {}", p.ty, p.label())).collect();
            Err(format!(
                "no argument {name:?}; the function has {} parameter(s) (arg0 to arg{}): {}",
                params.len(),
                params.len() - 1,
                labels.join(", ")
            ))
        }
    }
}

/// A condition on a dynamic parameter (`len()` or `keccak()`), of type [`arg_type::DYNAMIC`].
fn dynamic_rule(rule: &str, kind: u8, param: &Param, value: &str) -> Result<ArgCondition, String> {
    let p = param.label();
    let ty = &param.ty;
    if !ty.is_dynamic() {
        return Err(format!("{rule:?}: {p} is a static {ty} parameter; compare it instead"));
    }
    let value = value.trim();
    let (kind, value) = if kind == condition::BYTES_HASH_EQ {
        let hash: B256 = value.parse().map_err(|e| format!("{rule:?}: hash {value:?}: {e}"))?;
        // The validator hashes `length` bytes of bytes/string, `32 × length` bytes of an array: only arrays of
        // one-word elements are wholly covered by that.
        let kind = match ty {
            DynSolType::Bytes | DynSolType::String => condition::BYTES_HASH_EQ,
            DynSolType::Array(inner) if !inner.is_dynamic() && head_words(inner) == Some(1) => {
                condition::ARRAY_HASH_EQ
            }
            _ => {
                return Err(format!(
                    "{rule:?}: keccak() needs bytes, string or an array of one-word elements; {p} is {ty}"
                ));
            }
        };
        (kind, hash)
    } else {
        // The word at a dynamic tuple's or a fixed array's offset is its first element, not a length.
        if !matches!(ty, DynSolType::Bytes | DynSolType::String | DynSolType::Array(_)) {
            return Err(format!("{rule:?}: len() needs bytes, string or an array T[]; {p} is {ty}"));
        }
        (kind, B256::from(parse_amount(value).map_err(|e| format!("{rule:?}: {e}"))?))
    };
    Ok(ArgCondition {
        condition: kind,
        argType: arg_type::DYNAMIC,
        argIndex: param.head,
        values: vec![value],
    })
}

fn parse_rule(rule: &str, params: &[Param]) -> Result<ArgCondition, String> {
    for (prefix, ops) in [
        ("len(", &[("<=", condition::LENGTH_LTE), (">=", condition::LENGTH_GTE)][..]),
        ("keccak(", &[("==", condition::BYTES_HASH_EQ)][..]),
    ] {
        let Some(rest) = rule.strip_prefix(prefix) else { continue };
        let (inner, tail) = rest.split_once(')').ok_or_else(|| format!("{rule:?}: missing ')'"))?;
        let param = find(params, inner).map_err(|e| format!("{rule:?}: {e}"))?;
        for (op, kind) in ops {
            if let Some(value) = tail.strip_prefix(op) {
                return dynamic_rule(rule, *kind, param, value);
            }
        }
        return Err(format!("{rule:?}: rules are len(ARG)<=N, len(ARG)>=N or keccak(ARG)==0x…"));
    }
    if let Some((name, values)) = rule.split_once(" in ") {
        let (param, arg_type) = static_param(params, name, rule)?;
        let values = values
            .split('|')
            .map(|v| parse_word(&param.ty, v).map_err(|e| format!("{rule:?}: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(ArgCondition {
            condition: condition::IN,
            argType: arg_type,
            argIndex: param.head,
            values,
        });
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
            let (param, arg_type) = static_param(params, name, rule)?;
            let value = parse_word(&param.ty, value).map_err(|e| format!("{rule:?}: {e}"))?;
            return Ok(ArgCondition {
                condition: kind,
                argType: arg_type,
                argIndex: param.head,
                values: vec![value],
            });
        }
    }
    Err(format!(
        "{rule:?} is not a rule (ARG==V, ARG<=V, ARG in A|B, len(ARG)<=N, keccak(ARG)==H, value<=AMOUNT)"
    ))
}

/// The parameter a head-word rule names and its `argType`; refuses dynamic parameters, static arrays and
/// tuples (more than one word) and anything else one word cannot stand for.
fn static_param<'a>(params: &'a [Param], name: &str, rule: &str) -> Result<(&'a Param, u8), String> {
    let param = find(params, name).map_err(|e| format!("{rule:?}: {e}"))?;
    let (p, ty) = (param.label(), &param.ty);
    if let Some(code) = word_type(ty) {
        return Ok((param, code));
    }
    Err(match ty {
        _ if ty.is_dynamic() => format!("{rule:?}: {p} is a dynamic {ty} parameter; use len() or keccak()"),
        DynSolType::FixedArray(..) | DynSolType::Tuple(_) => format!(
            "{rule:?}: {p} is a static {ty} parameter ({} head words); a condition compares one word, so \
             conditions on static arrays and tuples are not supported",
            head_words(ty).unwrap_or(0)
        ),
        _ => format!("{rule:?}: rules on {ty} parameters are not supported"),
    })
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
    let token = parse_address(token_text).map_err(|e| format!("--spend {text:?}: token: {e}"))?;
    if token == Address::ZERO {
        return Err(format!("--spend {text:?}: address 0 is not a token (use --spend-native for ETH)"));
    }
    parse_spend_amount("--spend", token, amount)
}

/// Parses `--require-balance KIND:TOKEN:MIN` (`erc20`, `erc721`) or `erc1155:TOKEN:ID:MIN` into a gate, refusing
/// what a gate can't be (see `docs/gating.md`), each refusal saying what would work instead.
pub(crate) fn parse_gate(text: &str) -> Result<Gate, String> {
    const FORMS: &str = "expected erc20:TOKEN:MIN, erc721:TOKEN:MIN or erc1155:TOKEN:ID:MIN";
    let what = |e: String| format!("--require-balance {text:?}: {e}");
    let parts: Vec<&str> = text.split(':').collect();
    let (kind, token, id, min) = match parts.as_slice() {
        ["erc20", token, min] => (gate_kind::ERC20, *token, None, *min),
        ["erc721", token, min] => (gate_kind::ERC721, *token, None, *min),
        ["erc1155", token, id, min] => (gate_kind::ERC1155, *token, Some(*id), *min),
        ["erc721", _, _, _] => {
            return Err(what(
                "an ERC-721 gate counts the account's NFTs of the collection (balanceOf(account)); holding one \
                 particular id would need ownerOf(id), whose storage is keyed by the id, not the account, so \
                 ERC-7562 (STO-021) lets no unstaked bundler read it in validation. Gate on the collection \
                 (erc721:TOKEN:1), or mint the pass as an ERC-1155 id (erc1155:TOKEN:ID:1)"
                    .into(),
            ));
        }
        [kind, ..] if !matches!(*kind, "erc20" | "erc721" | "erc1155") => {
            return Err(what(format!(
                "unknown token kind {kind:?} ({FORMS}). Only the account's own balance can be a gate: native ETH \
                 (BALANCE is banned in validation, ERC-7562 OP-080) and other addresses' balances (STO-021) need \
                 a staked entity"
            )));
        }
        _ => return Err(what(FORMS.into())),
    };
    let token = parse_address(token).map_err(|e| what(format!("token: {e}")))?;
    if token == Address::ZERO {
        return Err(what("address 0 is not a token (native ETH can't be a gate: ERC-7562 OP-080)".into()));
    }
    let min_balance = parse_amount(min).map_err(|e| what(format!("minimum: {e}")))?;
    if min_balance.is_zero() {
        return Err(what("a minimum of 0 holds always; give at least 1".into()));
    }
    let token_id = match id {
        Some(id) => parse_amount(id).map_err(|e| what(format!("token id: {e}")))?,
        None => U256::ZERO,
    };
    Ok(Gate { token, kind, tokenId: token_id, minBalance: min_balance })
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
            (&format!("{TOKEN}:f(int8 a):a<=128"), "does not fit int8"),
            (&format!("{TOKEN}:f(int8 a):a>=-129"), "does not fit int8"),
            (&format!("{TOKEN}:f(uint256 amount):amount<="), "the uint256 value is missing"),
            (&format!("{TOKEN}:f(uint256 amount):amount in 1||2"), "the uint256 value is missing"),
            (&format!("{TOKEN}:f(uint256 a):len(data)<="), "no argument \"data\""),
            (&format!("{TOKEN}:f(bytes data):len(data)<="), "the number is missing"),
            (&format!("{TOKEN}:f(address to):to==0x000000000000000000000000000000000000BeeF"), "EIP-55"),
            (
                &format!("{TOKEN}:f(address to):to==0x00000000000000000000000000000000000beef"),
                "40 hex digits",
            ),
            (&format!("{TOKEN}:f(bool b):b==1"), "not a bool"),
            (&format!("{TOKEN}:f(bytes4 b):b==0x1234"), "2 bytes, the argument is bytes4"),
            (&format!("{TOKEN}:f(uint256[2] pair,uint256 c):pair<=5"), "pair is a static uint256[2]"),
            (
                &format!("{TOKEN}:f((uint256,address) t):arg0==1"),
                "t is a static (uint256,address) parameter (2 head words)",
            ),
            (&format!("{TOKEN}:f((uint256,bytes) t):len(t)<=1"), "len() needs bytes"),
            (&format!("{TOKEN}:f(uint256[2][] m):keccak(m)==0x{}", "11".repeat(32)), "one-word elements"),
            (&format!("{TOKEN}:f(uint256 arg1,uint256 b):arg1<=5"), "ambiguous"),
            (&format!("{TOKEN}:f(uint256 a,uint256 a)"), "two parameters are named"),
            (&format!("{TOKEN}:f(uint256 a):arg1<=5"), "(arg0 to arg0)"),
            ("0x000000000000000000000000000000000000BeeF:f(uint256 a)", "EIP-55"),
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

    /// Hole 7: `argN` is parameter N, not head word N, after a static array.
    #[test]
    fn arg_n_names_the_parameter_after_a_static_array() {
        let p = parse_policy(&format!("{TOKEN}:f(uint256[2],uint256,uint256):arg2<=5")).unwrap();
        assert_eq!(p.conditions[0].argIndex, 3, "parameter 2 is head word 3 (after two words of uint256[2])");
        let p = parse_policy(&format!("{TOKEN}:f(uint256[2],uint256,uint256):arg1<=5")).unwrap();
        assert_eq!(p.conditions[0].argIndex, 2);
        let p = parse_policy(&format!("{TOKEN}:f(uint256[3] a,uint256 b,uint256 c):c<=5,arg2>=1")).unwrap();
        assert_eq!([p.conditions[0].argIndex, p.conditions[1].argIndex], [4, 4]);
        let p =
            parse_policy(&format!("{TOKEN}:f((uint8,bool)[2] t,bytes d,address to):arg2=={BOB}")).unwrap();
        assert_eq!(p.conditions[0].argIndex, 5);
        let e = parse_policy(&format!("{TOKEN}:f(uint256[2],uint256):arg2<=5")).unwrap_err().to_string();
        assert!(e.contains("no argument \"arg2\""), "{e}");
    }

    /// Hole 3: each condition carries its parameter's type; values are parsed and encoded per type.
    #[test]
    fn conditions_carry_the_type_and_canonical_values() {
        let p = parse_policy(&format!(
            "{TOKEN}:f(int8 a,int256 b,address to,bool ok,bytes4 tag,uint16 n,bytes data):a>=-128,b<-1,to!={BOB},\
             ok==true,tag==0x11223344,n in 1|65535,len(data)<=10"
        ))
        .unwrap();
        let c = &p.conditions;
        let types: Vec<_> = c.iter().map(|c| arg_type::name(c.argType).unwrap()).collect();
        assert_eq!(types, ["int8", "int256", "address", "bool", "bytes4", "uint16", "dynamic"]);
        assert_eq!(c[0].values[0], B256::from(U256::ZERO.wrapping_sub(U256::from(128))), "sign-extended");
        assert_eq!(c[1].values[0], B256::repeat_byte(0xff));
        assert_eq!(c[2].values[0], BOB.parse::<Address>().unwrap().into_word());
        assert_eq!(c[3].values[0], B256::with_last_byte(1));
        assert_eq!(c[4].values[0], B256::right_padding_from(&[0x11, 0x22, 0x33, 0x44]));
        assert_eq!(c[5].values, [B256::from(U256::from(1)), B256::from(U256::from(65535))]);
        assert_eq!(c[6].values[0], B256::from(U256::from(10)));
        // All-lowercase and all-uppercase addresses have no checksum to check.
        let lower = BOB.to_lowercase();
        let upper = format!("0x{}", BOB[2..].to_uppercase());
        for address in [lower, upper] {
            parse_policy(&format!("{TOKEN}:f(address to):to=={address}")).unwrap();
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
        for empty in ["", " ", "ether", "e18", "0x"] {
            assert!(parse_amount(empty).unwrap_err().contains("missing"), "{empty:?}");
        }
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

/// Property test of the head-word mapping against alloy's ABI encoder (hole 7): for random signatures, the word
/// a condition on `argN` reads is parameter N's encoding (static) or the offset of its tail (dynamic).
#[cfg(test)]
mod head_words_match_the_abi_encoding {
    use alloy::{
        dyn_abi::{DynSolType, DynSolValue},
        json_abi::Function,
        primitives::{Address, B256, I256, U256},
    };
    use proptest::prelude::*;

    use super::{parameters, parse_policy, word_type};

    const TARGET: &str = "0x3000000000000000000000000000000000000003";

    fn elementary() -> impl Strategy<Value = DynSolType> {
        prop_oneof![
            (1usize..=32).prop_map(|n| DynSolType::Uint(n * 8)),
            (1usize..=32).prop_map(|n| DynSolType::Int(n * 8)),
            (1usize..=32).prop_map(DynSolType::FixedBytes),
            Just(DynSolType::Address),
            Just(DynSolType::Bool),
            Just(DynSolType::Bytes),
            Just(DynSolType::String),
        ]
    }

    fn any_type() -> impl Strategy<Value = DynSolType> {
        elementary().prop_recursive(3, 16, 3, |inner| {
            prop_oneof![
                inner.clone().prop_map(|t| DynSolType::Array(Box::new(t))),
                (inner.clone(), 1usize..=3).prop_map(|(t, n)| DynSolType::FixedArray(Box::new(t), n)),
                prop::collection::vec(inner, 1..=3).prop_map(DynSolType::Tuple),
            ]
        })
    }

    /// A small deterministic generator for the values (xorshift64*), seeded by proptest.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn word(&mut self) -> U256 {
            U256::from_limbs([self.next(), self.next(), self.next(), self.next()])
        }
    }

    fn random_value(ty: &DynSolType, rng: &mut Rng) -> DynSolValue {
        let mask =
            |bits: usize| if bits == 256 { U256::MAX } else { (U256::from(1) << bits) - U256::from(1) };
        match ty {
            DynSolType::Uint(bits) => DynSolValue::Uint(rng.word() & mask(*bits), *bits),
            DynSolType::Int(bits) => {
                let mut w = rng.word() & mask(*bits);
                if w.bit(*bits - 1) {
                    w |= !mask(*bits);
                }
                DynSolValue::Int(I256::from_raw(w), *bits)
            }
            DynSolType::Address => DynSolValue::Address(Address::from_word(B256::from(rng.word()))),
            DynSolType::Bool => DynSolValue::Bool(rng.next() & 1 == 1),
            DynSolType::FixedBytes(n) => {
                let word = B256::from(rng.word());
                DynSolValue::FixedBytes(B256::right_padding_from(&word[..*n]), *n)
            }
            DynSolType::Bytes => {
                let len = (rng.next() % 70) as usize;
                DynSolValue::Bytes((0..len).map(|_| rng.next() as u8).collect())
            }
            DynSolType::String => {
                let len = (rng.next() % 40) as usize;
                DynSolValue::String((0..len).map(|_| char::from(b'a' + (rng.next() % 26) as u8)).collect())
            }
            DynSolType::Array(inner) => {
                let len = rng.next() % 4;
                DynSolValue::Array((0..len).map(|_| random_value(inner, rng)).collect())
            }
            DynSolType::FixedArray(inner, n) => {
                DynSolValue::FixedArray((0..*n).map(|_| random_value(inner, rng)).collect())
            }
            DynSolType::Tuple(items) => {
                DynSolValue::Tuple(items.iter().map(|t| random_value(t, rng)).collect())
            }
            other => unreachable!("not generated: {other}"),
        }
    }

    /// The value as `--allow` writes it (only elementary static types are compared).
    fn rule_text(value: &DynSolValue, rng: &mut Rng) -> String {
        match value {
            DynSolValue::Uint(v, _) => v.to_string(),
            DynSolValue::Int(v, _) => v.to_string(),
            DynSolValue::Address(a) if rng.next() & 1 == 0 => a.to_checksum(None),
            DynSolValue::Address(a) => a.to_string().to_lowercase(),
            DynSolValue::Bool(b) => b.to_string(),
            DynSolValue::FixedBytes(w, n) => format!("0x{}", alloy::hex::encode(&w[..*n])),
            other => unreachable!("not compared: {other:?}"),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn random_signatures(types in prop::collection::vec(any_type(), 1..=6), seed in any::<u64>(), named in any::<u8>()) {
            let mut rng = Rng(seed | 1);
            let params_text: Vec<String> = types
                .iter()
                .enumerate()
                .map(|(i, t)| if named >> i & 1 == 1 { format!("{} x{i}", t.sol_type_name()) } else { t.sol_type_name().into_owned() })
                .collect();
            let signature = format!("f({})", params_text.join(","));
            let function = Function::parse(&signature).unwrap();
            let params = parameters(&function).unwrap();
            prop_assert_eq!(params.len(), types.len());
            let values: Vec<DynSolValue> = types.iter().map(|t| random_value(t, &mut rng)).collect();
            let encoded = DynSolValue::Tuple(values.clone()).abi_encode_params();
            let word = |i: usize| &encoded[32 * i..32 * i + 32];

            for (i, (param, value)) in params.iter().zip(&values).enumerate() {
                prop_assert_eq!(param.position, i);
                prop_assert_eq!(&param.ty, &types[i]);
                let head = usize::from(param.head);
                if param.ty.is_dynamic() {
                    // The head word is the offset of the tail, which holds the value's encoding.
                    let offset = U256::from_be_slice(word(head)).to::<usize>();
                    let tail = DynSolValue::Tuple(vec![value.clone()]).abi_encode_params();
                    prop_assert_eq!(&encoded[offset..offset + tail.len() - 32], &tail[32..], "{} param {}", signature, i);
                } else {
                    // A static value is inlined: its words start at the head word.
                    let inline = value.abi_encode();
                    prop_assert_eq!(&encoded[32 * head..32 * head + inline.len()], &inline[..], "{} param {}", signature, i);
                }

                // A rule on argN reads that word, with the parameter's type and the canonical value.
                if let Some(code) = word_type(&param.ty) {
                    let text = rule_text(value, &mut rng);
                    let name = if rng.next() & 1 == 0 { format!("arg{i}") } else { param.label() };
                    let policy = parse_policy(&format!("{TARGET}:{signature}:{name}=={text}")).unwrap();
                    let c = &policy.conditions[0];
                    prop_assert_eq!(c.argIndex, param.head);
                    prop_assert_eq!(c.argType, code);
                    prop_assert_eq!(c.values[0].as_slice(), word(head), "{} {}=={}", signature, name, text);
                }
            }
        }
    }
}
