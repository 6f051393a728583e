//! ERC-7715 permission requests, translated exactly into Warrant grants and back (`docs/erc7715.md`).
//!
//! A dApp asks a wallet for an execution permission with `wallet_requestExecutionPermissions` (the ERC's text of
//! 2026-01, and MetaMask's `@metamask/7715-permission-types`); some clients still send the older
//! `wallet_grantPermissions` shape. [`PermissionRequest::from_json`] reads both, strictly: an unknown field, a
//! wrong type or a value out of range is refused with an error naming the field ([`Erc7715Error`]).
//!
//! [`translate`] turns a request into a Warrant [`Scope`] for the session key `to` acting for the account
//! `from`, using the [`GrantTerms`] the owner adds (who pays gas, the per-operation gas caps). It translates a
//! permission type only when the validator enforces exactly what the type says; every other type is refused with
//! the reason, never approximated. [`PERMISSION_TYPES`] is the one table that decides, and
//! [`supported_permissions`] (the `wallet_getSupportedExecutionPermissions` answer) is read from it.
//!
//! Back: [`PermissionResponse::from_grant`] rebuilds the 7715 response from a signed grant alone (`context` is
//! the grant token), recognising only scopes that [`translate`] produces (it translates its answer again and
//! compares), so a response describes exactly the permission the grant enforces; the gas terms, which ERC-7715
//! has no field for, are the owner's (`docs/erc7715.md`).

use alloy_primitives::{Address, Bytes, FixedBytes, U256, aliases::U48, hex};
use serde_json::{Map, Value, json};

use crate::{
    grant::{
        ANY_TARGET, ArgCondition, CallPolicy, GasBudget, Grant, NO_CAP, Scope, Session, SpendLimit, arg_type,
    },
    policy::condition,
    token::SignedGrant,
};

/// The method a current client calls.
pub const REQUEST_METHOD: &str = "wallet_requestExecutionPermissions";
/// The older method some clients still call, with the legacy request shape.
pub const LEGACY_REQUEST_METHOD: &str = "wallet_grantPermissions";

/// `transfer(address,uint256)`.
const TRANSFER: [u8; 4] = [0xa9, 0x05, 0x9c, 0xbb];

/// The largest finite spend cap the validator's 112-bit counters hold.
const MAX_CAP: u128 = (1u128 << 112) - 1;

/// At most this many payees: each native payee is a call policy the validator scans on every operation.
pub const MAX_PAYEES: usize = 32;

/// How Warrant answers one permission type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Support {
    /// Translated exactly; these rule types may accompany it.
    Exact {
        /// The rule types accepted with this permission type.
        rules: &'static [&'static str],
    },
    /// Refused: the validator cannot enforce exactly what the type says.
    Refused {
        /// Why, in words (part of the error a request gets).
        reason: &'static str,
    },
}

/// One row of [`PERMISSION_TYPES`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PermissionTypeInfo {
    /// The permission type, as the request spells it.
    pub name: &'static str,
    /// Translated or refused.
    pub support: Support,
}

const TRANSFER_RULES: &[&str] = &["expiry", "payee", "redeemer"];

const STREAM_REASON: &str = "a stream unlocks amountPerSecond continuously (initialAmount + amountPerSecond × \
    elapsed seconds, up to maxAmount) and unspent amounts accrue; Warrant's spend limits are fixed periods that \
    reset instead of accruing, so any period cap either allows more than the stream at some moment or less at \
    another: it would be an approximation";

const REVOCATION_REASON: &str = "MetaMask's enforcer allows approve(spender, 0), approve(address(0), tokenId) and \
    setApprovalForAll(operator, false) on any contract only while the approval exists (it reads allowance, \
    getApproved or isApprovedForAll on the target); Warrant's validation cannot read those (ERC-7562 forbids \
    storage not keyed by the account), and without the reads approve(spender, 0) on an ERC-721 contract would \
    APPROVE spender for token id 0: anything Warrant could sign would be looser";

/// Every permission type Warrant knows, translated or refused: the translator, the refusals and
/// [`supported_permissions`] all read this table.
pub const PERMISSION_TYPES: &[PermissionTypeInfo] = &[
    PermissionTypeInfo { name: "native-token-periodic", support: Support::Exact { rules: TRANSFER_RULES } },
    PermissionTypeInfo { name: "erc20-token-periodic", support: Support::Exact { rules: TRANSFER_RULES } },
    PermissionTypeInfo { name: "native-token-allowance", support: Support::Exact { rules: TRANSFER_RULES } },
    PermissionTypeInfo { name: "erc20-token-allowance", support: Support::Exact { rules: TRANSFER_RULES } },
    PermissionTypeInfo { name: "native-token-stream", support: Support::Refused { reason: STREAM_REASON } },
    PermissionTypeInfo { name: "erc20-token-stream", support: Support::Refused { reason: STREAM_REASON } },
    PermissionTypeInfo {
        name: "token-approval-revocation",
        support: Support::Refused { reason: REVOCATION_REASON },
    },
    PermissionTypeInfo {
        name: "erc20-token-revocation",
        support: Support::Refused { reason: REVOCATION_REASON },
    },
];

/// The row of `name`, if Warrant knows the type.
pub fn permission_type(name: &str) -> Option<&'static PermissionTypeInfo> {
    PERMISSION_TYPES.iter().find(|t| t.name == name)
}

/// The `wallet_getSupportedExecutionPermissions` answer: every type Warrant translates exactly, with the chains
/// it serves (hex) and the rule types accepted with it (`ruleTypes`, as MetaMask spells it).
pub fn supported_permissions(chain_ids: &[u64]) -> Value {
    let chains: Vec<Value> = chain_ids.iter().map(|c| Value::String(format!("{c:#x}"))).collect();
    let mut out = Map::new();
    for t in PERMISSION_TYPES {
        if let Support::Exact { rules } = t.support {
            out.insert(t.name.into(), json!({ "chainIds": chains, "ruleTypes": rules }));
        }
    }
    Value::Object(out)
}

/// Why a request, a grant or a context was refused. Every variant names the field it is about.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Erc7715Error {
    /// A field is missing, unknown, of the wrong type or out of range.
    #[error("{field}: {reason}")]
    Invalid {
        /// The field's path in the request (`permission.data.periodAmount`).
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// A permission type Warrant knows but cannot enforce exactly.
    #[error("{field}: permission type {ty:?} is refused: {reason}")]
    RefusedType {
        /// The field's path (`permission.type`).
        field: String,
        /// The permission type.
        ty: String,
        /// Why.
        reason: &'static str,
    },
    /// A permission type Warrant does not know.
    #[error("{field}: unknown permission type {ty:?} (Warrant translates {})", translated_types())]
    UnknownType {
        /// The field's path (`permission.type`).
        field: String,
        /// The permission type.
        ty: String,
    },
    /// A rule Warrant cannot enforce exactly in this request.
    #[error("{field}: rule {rule:?} is refused: {reason}")]
    RefusedRule {
        /// The field's path (`rules[0]`).
        field: String,
        /// The rule type.
        rule: String,
        /// Why.
        reason: String,
    },
    /// A grant that is not the translation of one ERC-7715 permission.
    #[error("the grant is not the translation of an ERC-7715 permission: {0}")]
    NotAPermission(String),
}

impl Erc7715Error {
    /// The same error with its field under `prefix` (`params[1].permission.type`).
    fn within(self, prefix: &str) -> Self {
        let under = |field: String| format!("{prefix}.{field}");
        match self {
            Self::Invalid { field, reason } => Self::Invalid { field: under(field), reason },
            Self::RefusedType { field, ty, reason } => Self::RefusedType { field: under(field), ty, reason },
            Self::UnknownType { field, ty } => Self::UnknownType { field: under(field), ty },
            Self::RefusedRule { field, rule, reason } => {
                Self::RefusedRule { field: under(field), rule, reason }
            }
            other @ Self::NotAPermission(_) => other,
        }
    }
}

fn translated_types() -> String {
    let names: Vec<&str> = PERMISSION_TYPES
        .iter()
        .filter(|t| matches!(t.support, Support::Exact { .. }))
        .map(|t| t.name)
        .collect();
    names.join(", ")
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Erc7715Error {
    Erc7715Error::Invalid { field: field.into(), reason: reason.into() }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

/// An object being read: every key must be read by the time [`Obj::finish`] runs, so unknown keys are refused.
struct Obj<'a> {
    path: String,
    map: &'a Map<String, Value>,
    read: Vec<&'static str>,
}

impl<'a> Obj<'a> {
    fn new(value: &'a Value, path: &str) -> Result<Self, Erc7715Error> {
        let map = value.as_object().ok_or_else(|| {
            invalid(if path.is_empty() { "request" } else { path }, "expected a JSON object")
        })?;
        Ok(Self { path: path.to_string(), map, read: Vec::new() })
    }

    fn path(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// The value of `key`; absent and `null` (which MetaMask's optional fields allow) are both `None`.
    fn opt(&mut self, key: &'static str) -> Option<&'a Value> {
        self.read.push(key);
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn req(&mut self, key: &'static str) -> Result<&'a Value, Erc7715Error> {
        let path = self.path(key);
        self.opt(key).ok_or_else(|| invalid(path, "missing"))
    }

    fn finish(self) -> Result<(), Erc7715Error> {
        match self.map.keys().find(|k| !self.read.contains(&k.as_str())) {
            Some(k) => {
                Err(invalid(self.path(k), format!("unknown field (known here: {})", self.read.join(", "))))
            }
            None => Ok(()),
        }
    }
}

fn string<'a>(v: &'a Value, path: &str) -> Result<&'a str, Erc7715Error> {
    v.as_str().ok_or_else(|| invalid(path, format!("expected a string, got {v}")))
}

fn boolean(v: &Value, path: &str) -> Result<bool, Erc7715Error> {
    v.as_bool().ok_or_else(|| invalid(path, format!("expected true or false, got {v}")))
}

/// A hex quantity (`0x` and 1 to 64 hex digits, leading zeros allowed): the only form the sources give amounts.
fn quantity(v: &Value, path: &str) -> Result<U256, Erc7715Error> {
    let s = match v {
        Value::String(s) => s,
        Value::Number(_) => {
            return Err(invalid(path, format!("{v} is a JSON number; amounts are hex strings (\"0x…\")")));
        }
        _ => return Err(invalid(path, format!("expected a hex string (\"0x…\"), got {v}"))),
    };
    let digits =
        s.strip_prefix("0x").ok_or_else(|| invalid(path, format!("{s:?} does not start with 0x")))?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid(path, format!("{s:?} is not a hex number")));
    }
    U256::from_str_radix(digits, 16).map_err(|_| invalid(path, format!("{s:?} does not fit 256 bits")))
}

/// A whole number of seconds, a JSON number as the sources give durations and times.
fn seconds(v: &Value, path: &str) -> Result<u64, Erc7715Error> {
    v.as_u64()
        .ok_or_else(|| invalid(path, format!("expected a whole, non-negative number of seconds, got {v}")))
}

/// A chain id: a hex string (the ERC and MetaMask) or a JSON number (the ERC's older examples); not 0.
fn chain_id(v: &Value, path: &str) -> Result<u64, Erc7715Error> {
    let id = match v {
        Value::Number(n) => n.as_u64().ok_or_else(|| invalid(path, format!("{v} is not a chain id")))?,
        _ => u64::try_from(quantity(v, path)?)
            .map_err(|_| invalid(path, "does not fit 64 bits (a grant binds a 64-bit chain id)"))?,
    };
    if id == 0 {
        return Err(invalid(path, "chain id 0 names no chain"));
    }
    Ok(id)
}

/// An address: `0x` and 40 hex digits; mixed case must be its EIP-55 checksum.
fn address(v: &Value, path: &str) -> Result<Address, Erc7715Error> {
    let s = string(v, path)?;
    let digits =
        s.strip_prefix("0x").ok_or_else(|| invalid(path, format!("{s:?} does not start with 0x")))?;
    if digits.len() != 40 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid(path, format!("{s:?} is not an address (0x and 40 hex digits)")));
    }
    let a: Address = s.parse().map_err(|e| invalid(path, format!("{s:?}: {e}")))?;
    let mixed =
        digits.bytes().any(|b| b.is_ascii_lowercase()) && digits.bytes().any(|b| b.is_ascii_uppercase());
    if mixed && a.to_checksum(None) != s {
        return Err(invalid(path, format!("{s:?} has mixed case but a wrong EIP-55 checksum")));
    }
    Ok(a)
}

fn addresses(v: &Value, path: &str) -> Result<Vec<Address>, Erc7715Error> {
    let items =
        v.as_array().ok_or_else(|| invalid(path, format!("expected an array of addresses, got {v}")))?;
    if items.is_empty() {
        return Err(invalid(path, "an empty list allows nobody"));
    }
    if items.len() > MAX_PAYEES {
        return Err(invalid(path, format!("{} addresses; at most {MAX_PAYEES}", items.len())));
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let a = address(item, &p)?;
        if a == Address::ZERO {
            return Err(invalid(p, "address 0 can't be named"));
        }
        if out.contains(&a) {
            return Err(invalid(p, format!("{a} is listed twice")));
        }
        out.push(a);
    }
    Ok(out)
}

fn hex_quantity(x: U256) -> Value {
    Value::String(format!("{x:#x}"))
}

/// What the permission moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Asset {
    /// The chain's native value (ETH).
    Native,
    /// An ERC-20 token (`tokenAddress`).
    Erc20(Address),
}

/// How much the permission lets move, and when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Budget {
    /// `*-periodic`: `periodAmount` per fixed period of `periodDuration` seconds, periods counted from `startTime`
    /// (the grant's time when absent; unused amounts do not carry over).
    Periodic {
        /// `periodAmount`.
        period_amount: U256,
        /// `periodDuration`, in seconds.
        period_duration: u64,
        /// `startTime`, unix seconds.
        start_time: Option<u64>,
    },
    /// `*-allowance`: `allowanceAmount` in total, from `startTime` on.
    Allowance {
        /// `allowanceAmount` (the ERC's own example calls it `allowance`).
        allowance_amount: U256,
        /// `startTime`, unix seconds.
        start_time: Option<u64>,
    },
}

/// The `permission` of a request: one of the types Warrant translates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Permission {
    /// What moves.
    pub asset: Asset,
    /// How much, and when.
    pub budget: Budget,
    /// `isAdjustmentAllowed`: whether the dApp lets the wallet attenuate the permission. Warrant never adjusts
    /// on its own: it grants exactly what the request says or refuses; an owner who wants less edits the request
    /// on the consent page, which the service may offer only when this is true.
    pub is_adjustment_allowed: bool,
    /// MetaMask's `justification`: the dApp's words, shown to the owner, not enforced and not in the grant.
    pub justification: Option<String>,
}

impl Permission {
    /// The permission type (`erc20-token-periodic`, …).
    pub fn type_name(&self) -> &'static str {
        match (self.asset, self.budget) {
            (Asset::Native, Budget::Periodic { .. }) => "native-token-periodic",
            (Asset::Erc20(_), Budget::Periodic { .. }) => "erc20-token-periodic",
            (Asset::Native, Budget::Allowance { .. }) => "native-token-allowance",
            (Asset::Erc20(_), Budget::Allowance { .. }) => "erc20-token-allowance",
        }
    }

    fn to_json(&self) -> Value {
        let mut data = Map::new();
        let start = match self.budget {
            Budget::Periodic { period_amount, period_duration, start_time } => {
                data.insert("periodAmount".into(), hex_quantity(period_amount));
                data.insert("periodDuration".into(), period_duration.into());
                start_time
            }
            Budget::Allowance { allowance_amount, start_time } => {
                data.insert("allowanceAmount".into(), hex_quantity(allowance_amount));
                start_time
            }
        };
        if let Some(s) = start {
            data.insert("startTime".into(), s.into());
        }
        if let Asset::Erc20(token) = self.asset {
            data.insert("tokenAddress".into(), token.to_checksum(None).into());
        }
        if let Some(j) = &self.justification {
            data.insert("justification".into(), j.clone().into());
        }
        json!({ "type": self.type_name(), "isAdjustmentAllowed": self.is_adjustment_allowed, "data": data })
    }
}

/// One entry of `rules`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rule {
    /// `expiry`: the permission is invalid from `timestamp` (unix seconds) on.
    Expiry {
        /// `data.timestamp`.
        timestamp: u64,
    },
    /// `payee`: transfers may go only to these addresses.
    Payee {
        /// `data.addresses`.
        addresses: Vec<Address>,
    },
    /// `redeemer`: only these addresses may use the permission.
    Redeemer {
        /// `data.addresses`.
        addresses: Vec<Address>,
    },
}

impl Rule {
    /// The rule type.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Expiry { .. } => "expiry",
            Self::Payee { .. } => "payee",
            Self::Redeemer { .. } => "redeemer",
        }
    }

    fn to_json(&self) -> Value {
        let list = |a: &[Address]| a.iter().map(|a| Value::String(a.to_checksum(None))).collect::<Vec<_>>();
        let data = match self {
            Self::Expiry { timestamp } => json!({ "timestamp": timestamp }),
            Self::Payee { addresses } | Self::Redeemer { addresses } => {
                json!({ "addresses": list(addresses) })
            }
        };
        json!({ "type": self.type_name(), "data": data })
    }

    fn from_json(v: &Value, path: &str) -> Result<Self, Erc7715Error> {
        let mut o = Obj::new(v, path)?;
        let ty = string(o.req("type")?, &o.path("type"))?;
        let data_path = o.path("data");
        let data = o.req("data")?;
        // The ERC's text of 2025 had it on rules; the 2026 text and MetaMask's types do not. Read, not used.
        if let Some(v) = o.opt("isAdjustmentAllowed") {
            boolean(v, &o.path("isAdjustmentAllowed"))?;
        }
        o.finish()?;
        let mut d = Obj::new(data, &data_path)?;
        let rule = match ty {
            "expiry" => Self::Expiry { timestamp: seconds(d.req("timestamp")?, &d.path("timestamp"))? },
            "payee" => Self::Payee { addresses: addresses(d.req("addresses")?, &d.path("addresses"))? },
            "redeemer" => Self::Redeemer { addresses: addresses(d.req("addresses")?, &d.path("addresses"))? },
            other => {
                return Err(Erc7715Error::RefusedRule {
                    field: join(path, "type"),
                    rule: other.into(),
                    reason: "unknown rule type (Warrant knows expiry, payee and redeemer)".into(),
                });
            }
        };
        d.finish()?;
        Ok(rule)
    }
}

/// One permission request (an item of `wallet_requestExecutionPermissions`' params).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PermissionRequest {
    /// `chainId`.
    pub chain_id: u64,
    /// `from`: the account asked for (optional: the owner may choose).
    pub from: Option<Address>,
    /// `to`: the dApp's session account. In Warrant, the session key's address: the key that signs the
    /// session's user operations.
    pub to: Address,
    /// `permission`.
    pub permission: Permission,
    /// `rules` (at most one of each type).
    pub rules: Vec<Rule>,
}

fn permission_data(ty: &str, data: &Value, path: &str) -> Result<(Asset, Budget), Erc7715Error> {
    let mut d = Obj::new(data, path)?;
    let start_time = |d: &mut Obj<'_>| -> Result<Option<u64>, Erc7715Error> {
        let p = d.path("startTime");
        let s = d.opt("startTime").map(|v| seconds(v, &p)).transpose()?;
        if s == Some(0) {
            return Err(invalid(p, "0 is not a start time (MetaMask requires a positive one)"));
        }
        Ok(s)
    };
    let token = |d: &mut Obj<'_>, key: &'static str| -> Result<Address, Erc7715Error> {
        let p = d.path(key);
        let t = address(d.req(key)?, &p)?;
        if t == Address::ZERO {
            return Err(invalid(p, "address 0 is not a token"));
        }
        Ok(t)
    };
    let periodic = |d: &mut Obj<'_>| -> Result<Budget, Erc7715Error> {
        let period_amount = quantity(d.req("periodAmount")?, &d.path("periodAmount"))?;
        let period_duration = seconds(d.req("periodDuration")?, &d.path("periodDuration"))?;
        Ok(Budget::Periodic { period_amount, period_duration, start_time: start_time(d)? })
    };
    // MetaMask spells it `allowanceAmount`; the ERC's own example `allowance`. Exactly one.
    let allowance = |d: &mut Obj<'_>| -> Result<Budget, Erc7715Error> {
        let (a, b) = (d.opt("allowanceAmount"), d.opt("allowance"));
        let allowance_amount = match (a, b) {
            (Some(v), None) => quantity(v, &d.path("allowanceAmount"))?,
            (None, Some(v)) => quantity(v, &d.path("allowance"))?,
            (None, None) => return Err(invalid(d.path("allowanceAmount"), "missing")),
            (Some(_), Some(_)) => {
                return Err(invalid(d.path("allowance"), "both allowanceAmount and allowance are given"));
            }
        };
        Ok(Budget::Allowance { allowance_amount, start_time: start_time(d)? })
    };
    let out = match ty {
        "native-token-periodic" => (Asset::Native, periodic(&mut d)?),
        "erc20-token-periodic" => (Asset::Erc20(token(&mut d, "tokenAddress")?), periodic(&mut d)?),
        "native-token-allowance" => (Asset::Native, allowance(&mut d)?),
        "erc20-token-allowance" => (Asset::Erc20(token(&mut d, "tokenAddress")?), allowance(&mut d)?),
        // The legacy ERC text's names (2024-25): a total allowance, as `*-allowance`.
        "native-token-transfer" => {
            let v = d.req("allowance")?;
            (
                Asset::Native,
                Budget::Allowance { allowance_amount: quantity(v, &d.path("allowance"))?, start_time: None },
            )
        }
        "erc20-token-transfer" => {
            let t = token(&mut d, "address")?;
            let v = d.req("allowance")?;
            (
                Asset::Erc20(t),
                Budget::Allowance { allowance_amount: quantity(v, &d.path("allowance"))?, start_time: None },
            )
        }
        // Only a table row without a reader here lands on this arm.
        other => return Err(Erc7715Error::UnknownType { field: join(path, "type"), ty: other.into() }),
    };
    d.opt("justification").map(|v| string(v, &d.path("justification"))).transpose()?;
    d.finish()?;
    Ok(out)
}

/// The legacy shape's type names and the current type each is read as.
const LEGACY_TYPES: &[(&str, &str)] =
    &[("native-token-transfer", "native-token-allowance"), ("erc20-token-transfer", "erc20-token-allowance")];

fn permission(v: &Value, path: &str, legacy: bool) -> Result<Permission, Erc7715Error> {
    let mut o = Obj::new(v, path)?;
    let type_path = o.path("type");
    let ty = string(o.req("type")?, &type_path)?;
    let is_legacy_name = legacy && LEGACY_TYPES.iter().any(|(l, _)| *l == ty);
    if !is_legacy_name {
        match permission_type(ty).map(|t| t.support) {
            Some(Support::Exact { .. }) => {}
            Some(Support::Refused { reason }) => {
                return Err(Erc7715Error::RefusedType { field: type_path, ty: ty.into(), reason });
            }
            None => return Err(Erc7715Error::UnknownType { field: type_path, ty: ty.into() }),
        }
    }
    // The legacy shape has no isAdjustmentAllowed: read as false (Warrant adjusts nothing either way).
    let is_adjustment_allowed =
        if legacy { false } else { boolean(o.req("isAdjustmentAllowed")?, &o.path("isAdjustmentAllowed"))? };
    let data_path = o.path("data");
    let data = o.req("data")?;
    o.finish()?;
    let (asset, budget) = permission_data(ty, data, &data_path)?;
    let justification = data.get("justification").and_then(Value::as_str).map(str::to_string);
    Ok(Permission { asset, budget, is_adjustment_allowed, justification })
}

fn rules(v: Option<&Value>, path: &str) -> Result<Vec<Rule>, Erc7715Error> {
    let Some(v) = v else { return Ok(Vec::new()) };
    let items = v.as_array().ok_or_else(|| invalid(path, format!("expected an array of rules, got {v}")))?;
    let mut out: Vec<Rule> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let rule = Rule::from_json(item, &p)?;
        if out.iter().any(|r| r.type_name() == rule.type_name()) {
            return Err(invalid(p, format!("a second {} rule", rule.type_name())));
        }
        out.push(rule);
    }
    Ok(out)
}

impl PermissionRequest {
    /// Reads one request in either shape: the current one (`{chainId, from?, to, permission, rules?}`) or the
    /// legacy `wallet_grantPermissions` one (`{chainId, address?, expiry, signer, permissions}`, told apart by
    /// its `signer` or `permissions` field).
    pub fn from_json(v: &Value) -> Result<Self, Erc7715Error> {
        let legacy = v.as_object().is_some_and(|o| o.contains_key("signer") || o.contains_key("permissions"));
        if legacy { Self::from_legacy_json(v) } else { Self::from_current_json(v) }
    }

    /// Reads `params` of `wallet_requestExecutionPermissions` (or `wallet_grantPermissions`): an array of
    /// requests. A single object is read as one request.
    pub fn list_from_json(v: &Value) -> Result<Vec<Self>, Erc7715Error> {
        match v {
            Value::Array(items) if items.is_empty() => Err(invalid("params", "no permission requests")),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| Self::from_json(item).map_err(|e| e.within(&format!("params[{i}]"))))
                .collect(),
            _ => Ok(vec![Self::from_json(v)?]),
        }
    }

    /// Reads the current shape (the ERC of 2026-01, MetaMask's `PermissionRequest`).
    pub fn from_current_json(v: &Value) -> Result<Self, Erc7715Error> {
        let mut o = Obj::new(v, "")?;
        let chain_id = chain_id(o.req("chainId")?, "chainId")?;
        let from = o.opt("from").map(|v| address(v, "from")).transpose()?;
        let to = address(o.req("to")?, "to")?;
        let permission = permission(o.req("permission")?, "permission", false)?;
        let rules = rules(o.opt("rules"), "rules")?;
        o.finish()?;
        Ok(Self { chain_id, from, to, permission, rules })
    }

    /// Reads the legacy `wallet_grantPermissions` shape (the ERC's text of 2024-25): `{chainId, address?,
    /// expiry, signer: {type: "account", data: {address}}, permissions: [one permission]}`. `expiry` becomes an
    /// expiry rule, `address` the account, the account signer's address the session key. Permission types: the
    /// current ones, and the legacy `native-token-transfer` / `erc20-token-transfer` (a total `allowance`).
    pub fn from_legacy_json(v: &Value) -> Result<Self, Erc7715Error> {
        let mut o = Obj::new(v, "")?;
        let chain_id = chain_id(o.req("chainId")?, "chainId")?;
        let from = o.opt("address").map(|v| address(v, "address")).transpose()?;
        let expiry = seconds(o.req("expiry")?, "expiry")?;
        let to = legacy_signer(o.req("signer")?)?;
        let list = o.req("permissions")?;
        let items = list.as_array().ok_or_else(|| invalid("permissions", "expected an array"))?;
        if items.len() != 1 {
            return Err(invalid(
                "permissions",
                format!(
                    "{} permissions; Warrant translates one permission per request (send one request per permission)",
                    items.len()
                ),
            ));
        }
        let permission = permission(&items[0], "permissions[0]", true)?;
        if let Some(p) = o.opt("policies")
            && p.as_array().is_none_or(|a| !a.is_empty())
        {
            return Err(invalid(
                "policies",
                "legacy policies are not translated (send rules in the current shape)",
            ));
        }
        o.finish()?;
        Ok(Self { chain_id, from, to, permission, rules: vec![Rule::Expiry { timestamp: expiry }] })
    }

    /// The request in the current wire shape (hex chain id and amounts, checksummed addresses).
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("chainId".into(), Value::String(format!("{:#x}", self.chain_id)));
        if let Some(from) = self.from {
            out.insert("from".into(), from.to_checksum(None).into());
        }
        out.insert("to".into(), self.to.to_checksum(None).into());
        out.insert("permission".into(), self.permission.to_json());
        out.insert("rules".into(), self.rules.iter().map(Rule::to_json).collect::<Vec<_>>().into());
        Value::Object(out)
    }

    fn rule(&self, name: &str) -> Option<(usize, &Rule)> {
        self.rules.iter().enumerate().find(|(_, r)| r.type_name() == name)
    }
}

fn legacy_signer(v: &Value) -> Result<Address, Erc7715Error> {
    let mut o = Obj::new(v, "signer")?;
    let ty = string(o.req("type")?, "signer.type")?;
    let data = o.req("data")?;
    o.finish()?;
    match ty {
        "account" => {
            let mut d = Obj::new(data, "signer.data")?;
            let a = address(d.req("address")?, "signer.data.address")?;
            d.finish()?;
            Ok(a)
        }
        "wallet" => Err(invalid(
            "signer.type",
            "a \"wallet\" signer asks the wallet to hold the session; Warrant grants to a session key the dApp holds \
             (use an \"account\" signer with its address)",
        )),
        "keys" => Err(invalid(
            "signer.type",
            "a multisig session signer can't be expressed: a grant has one session key",
        )),
        other => Err(invalid(
            "signer.type",
            format!(
                "signer type {other:?} is not translated (use an \"account\" signer: the session key's address)"
            ),
        )),
    }
}

/// Who pays the session's gas: what the owner adds to a request, since an ERC-7715 permission says nothing about
/// gas while a Warrant account pays its own (`docs/gas.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GasTerms {
    /// This paymaster must sponsor every operation: no native value leaves the account but what the permission
    /// grants (exact for every type).
    Sponsored {
        /// The paymaster.
        paymaster: Address,
    },
    /// The account pays gas, and `maxValueTotal` is this. For an ERC-20 permission this is the gas budget, the
    /// one native value the session may spend (finite, not 0). For a native permission it must be `U256::MAX`
    /// (no cap of its own): gas counts against the permission's own limit, so its transfers and their gas
    /// together stay within the amount the dApp asked for.
    AccountPays {
        /// `Scope.maxValueTotal`.
        max_value_total: U256,
    },
}

/// What the owner adds to a request to make a grant of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GrantTerms {
    /// Now (unix seconds): the start of periods when the request names none; an expiry must be later.
    pub now: u64,
    /// The account, when the request has no `from` (if both are given they must agree).
    pub account: Option<Address>,
    /// Who pays gas.
    pub gas: GasTerms,
    /// `Scope.maxGasLimit` (0: none).
    pub max_gas_limit: u128,
    /// `Scope.maxFeePerGas` (0: none).
    pub max_fee_per_gas: u128,
}

/// A request translated: the session key, the account and the scope to sign.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Translation {
    /// The chain the grant is for.
    pub chain_id: u64,
    /// The account the session acts for.
    pub account: Address,
    /// The session key (`to`).
    pub session_key: Address,
    /// The scope that enforces the permission.
    pub scope: Scope,
    /// The request as granted: `from` filled in, and a periodic permission's `startTime` set to the start of
    /// period 0.
    pub request: PermissionRequest,
}

impl Translation {
    /// The grant to sign, for the account's revocation `epoch`, with `salt`.
    pub fn grant(&self, epoch: u64, salt: alloy_primitives::B256) -> Grant {
        Grant {
            account: self.account,
            epoch,
            session: Session { signer: self.session_key, salt, scope: self.scope.clone() },
        }
    }
}

fn cap(amount: U256, field: &str) -> Result<u128, Erc7715Error> {
    if amount.is_zero() {
        return Err(invalid(field, "0 allows nothing"));
    }
    u128::try_from(amount).ok().filter(|a| *a <= MAX_CAP).ok_or_else(|| {
        invalid(
            field,
            format!("{amount:#x} is above 2^112 - 1, the most the validator's spend counters hold"),
        )
    })
}

fn u48(value: u64, field: &str) -> Result<U48, Erc7715Error> {
    U48::try_from(value).map_err(|_| invalid(field, format!("{value} does not fit 48 bits")))
}

fn address_word(a: Address) -> alloy_primitives::B256 {
    a.into_word()
}

/// Translates `request` into the scope that enforces exactly what it says, or refuses it with the field and the
/// reason. Nothing is approximated: see `docs/erc7715.md` for the table.
pub fn translate(request: &PermissionRequest, terms: &GrantTerms) -> Result<Translation, Erc7715Error> {
    let account = match (request.from, terms.account) {
        (Some(f), Some(a)) if f != a => {
            return Err(invalid("from", format!("the request is for account {f}, the grant for {a}")));
        }
        (Some(a), _) | (None, Some(a)) => a,
        (None, None) => return Err(invalid("from", "the request names no account and none was given")),
    };
    if account == Address::ZERO {
        return Err(invalid("from", "address 0 is not an account"));
    }
    let to = request.to;
    if to == Address::ZERO {
        return Err(invalid("to", "address 0 is not a session key (no key signs for it)"));
    }
    if to == account {
        return Err(invalid("to", "the session key is the account itself"));
    }
    let ty = request.permission.type_name();
    let Some(Support::Exact { rules: accepted }) = permission_type(ty).map(|t| t.support) else {
        return Err(Erc7715Error::UnknownType { field: "permission.type".into(), ty: ty.into() });
    };
    // What the reader checks, again for requests built in code: one rule per type, well-formed address lists.
    for (i, r) in request.rules.iter().enumerate() {
        if !accepted.contains(&r.type_name()) {
            return Err(Erc7715Error::RefusedRule {
                field: format!("rules[{i}]"),
                rule: r.type_name().into(),
                reason: format!("not accepted with {ty}"),
            });
        }
        if request.rules[..i].iter().any(|q| q.type_name() == r.type_name()) {
            return Err(invalid(format!("rules[{i}]"), format!("a second {} rule", r.type_name())));
        }
        if let Rule::Payee { addresses: list } | Rule::Redeemer { addresses: list } = r {
            let values: Vec<Value> = list.iter().map(|a| Value::String(a.to_checksum(None))).collect();
            addresses(&Value::Array(values), &format!("rules[{i}].data.addresses"))?;
        }
    }
    let mut granted = request.clone();
    granted.from = Some(account);
    let mut scope = Scope::default();

    let (token, erc20) = match request.permission.asset {
        Asset::Native => (Address::ZERO, None),
        Asset::Erc20(t) => {
            if t == account {
                return Err(invalid("permission.data.tokenAddress", "the token is the account itself"));
            }
            (t, Some(t))
        }
    };
    let cap_value = match request.permission.budget {
        Budget::Periodic { period_amount, period_duration, start_time } => {
            let per = cap(period_amount, "permission.data.periodAmount")?;
            let period = u32::try_from(period_duration)
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| invalid("permission.data.periodDuration", "must be 1 to 2^32 - 1 seconds"))?;
            if start_time == Some(0) {
                return Err(invalid("permission.data.startTime", "0 is not a start time"));
            }
            let start = start_time.unwrap_or(terms.now);
            scope.period = period;
            scope.periodStart = u48(start, "permission.data.startTime")?;
            scope.limits = vec![SpendLimit { token, perPeriod: per, lifetime: NO_CAP }];
            if let Budget::Periodic { start_time, .. } = &mut granted.permission.budget {
                *start_time = Some(start);
            }
            per
        }
        Budget::Allowance { allowance_amount, start_time } => {
            let field = "permission.data.allowanceAmount";
            let total = cap(allowance_amount, field)?;
            scope.limits = vec![SpendLimit { token, perPeriod: NO_CAP, lifetime: total }];
            // v0.8 accepts an operation only when `timestamp > validAfter`: from startTime on.
            if let Some(s) = start_time {
                let after = s
                    .checked_sub(1)
                    .ok_or_else(|| invalid("permission.data.startTime", "0 is not a start time"))?;
                scope.validAfter = u48(after, "permission.data.startTime")?;
            }
            total
        }
    };

    let payees = match request.rule("payee") {
        Some((i, Rule::Payee { addresses })) => {
            if erc20.is_none() && addresses.contains(&account) {
                return Err(invalid(
                    format!("rules[{i}].data.addresses"),
                    "the account itself can't be a payee of native value (a session never calls its account)",
                ));
            }
            Some(addresses.clone())
        }
        _ => None,
    };
    scope.calls = match erc20 {
        // Plain native transfers only (empty calldata), as MetaMask's ExactCalldataEnforcer("0x").
        None => {
            let plain = |target: Address, flags: u8| CallPolicy {
                target,
                selector: FixedBytes::ZERO,
                flags,
                maxValue: U256::from(cap_value),
                conditions: vec![],
            };
            match payees {
                None => vec![plain(Address::ZERO, ANY_TARGET)],
                Some(p) => p.into_iter().map(|a| plain(a, 0)).collect(),
            }
        }
        // `transfer` of the token only, no native value: as MetaMask's ERC20PeriodTransferEnforcer and
        // ValueLteEnforcer(0). approve and transferFrom would be counted too but are not what the type grants.
        Some(t) => {
            let conditions = match payees {
                None => vec![],
                Some(p) => vec![ArgCondition {
                    condition: if p.len() == 1 { condition::EQ } else { condition::IN },
                    argType: arg_type::ADDRESS,
                    argIndex: 0,
                    values: p.into_iter().map(address_word).collect(),
                }],
            };
            vec![CallPolicy {
                target: t,
                selector: FixedBytes(TRANSFER),
                flags: 0,
                maxValue: U256::ZERO,
                conditions,
            }]
        }
    };

    if let Some((i, Rule::Expiry { timestamp })) = request.rule("expiry") {
        let field = format!("rules[{i}].data.timestamp");
        if *timestamp <= terms.now {
            return Err(invalid(field, format!("{timestamp} is not later than now ({})", terms.now)));
        }
        // Invalid from `timestamp` on; v0.8 accepts `timestamp <= validUntil`.
        scope.validUntil = u48(timestamp - 1, &field)?;
        if scope.validAfter != U48::ZERO && scope.validUntil <= scope.validAfter {
            return Err(invalid(field, "the permission would expire before its startTime"));
        }
    }
    if let Some((i, Rule::Redeemer { addresses })) = request.rule("redeemer")
        && addresses.as_slice() != [to]
    {
        return Err(Erc7715Error::RefusedRule {
            field: format!("rules[{i}].data.addresses"),
            rule: "redeemer".into(),
            reason: format!(
                "a Warrant grant is used by its one session key, `to` ({to}); other redeemers can't be added, so \
                 the only exact redeemer list is [{to}]"
            ),
        });
    }

    match terms.gas {
        GasTerms::Sponsored { paymaster } => {
            if paymaster == Address::ZERO {
                return Err(invalid("gas.paymaster", "address 0 is not a paymaster"));
            }
            scope.paymaster = paymaster;
            // A native permission's own limit governs; an ERC-20 permission moves no native value at all.
            scope.maxValueTotal = if erc20.is_none() { U256::MAX } else { U256::ZERO };
        }
        GasTerms::AccountPays { max_value_total } => {
            // A native permission's limit already bounds gas; a lifetime cap below it would cap the transfers
            // under what the permission (and the response) says.
            if erc20.is_none() && max_value_total != U256::MAX {
                return Err(invalid(
                    "gas.maxValueTotal",
                    "a native permission's own limit bounds its gas (gas included); a separate native budget \
                     would cap its transfers below what it says",
                ));
            }
            scope.maxValueTotal = max_value_total;
        }
    }
    scope.maxGasLimit = terms.max_gas_limit;
    scope.maxFeePerGas = terms.max_fee_per_gas;

    scope.validate().map_err(|d| invalid("scope", d.to_string()))?;
    match scope.gas_budget() {
        GasBudget::Sponsored { .. } | GasBudget::Native { .. } => {}
        GasBudget::Unbounded => {
            return Err(invalid(
                "gas.maxValueTotal",
                "the account pays gas and nothing bounds it: give a finite native budget (gas included) or a \
                 paymaster",
            ));
        }
        GasBudget::Zero => {
            return Err(invalid(
                "gas.maxValueTotal",
                "the account pays gas but the session may spend no native value, so no operation could pay for its \
                 gas: give a native budget (gas included) or a paymaster",
            ));
        }
    }
    Ok(Translation { chain_id: request.chain_id, account, session_key: to, scope, request: granted })
}

/// One entry of a response's `dependencies`: an account to deploy first (ERC-4337 `factory` and `factoryData`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dependency {
    /// `factory`.
    pub factory: Address,
    /// `factoryData`.
    pub factory_data: Bytes,
}

/// A `wallet_requestExecutionPermissions` response item: the request as granted, and how to use it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PermissionResponse {
    /// The request as granted (what the grant enforces).
    pub request: PermissionRequest,
    /// `context`: the grant token as hex ([`context_of`]).
    pub context: String,
    /// `dependencies`: empty for a deployed proxy or an EIP-7702 account.
    pub dependencies: Vec<Dependency>,
    /// `delegationManager`: the `WarrantValidator` module that enforces the grant. ERC-7710's delegation manager
    /// is the contract a dApp calls `redeemDelegations` on; Warrant has none (the session key sends user
    /// operations from the account, which the module validates), so this names the contract that plays that part
    /// and does NOT implement `redeemDelegations`.
    pub delegation_manager: Address,
}

impl PermissionResponse {
    /// The response for `signed`: the request rebuilt from its scope ([`request_from_grant`]), the grant token as
    /// `context`, the module as `delegationManager`. A dApp's `justification` is not in the grant and
    /// `isAdjustmentAllowed` reads `false` (nothing more can be adjusted once signed).
    pub fn from_grant(signed: &SignedGrant, dependencies: Vec<Dependency>) -> Result<Self, Erc7715Error> {
        Ok(Self {
            request: request_from_grant(signed)?,
            context: context_of(signed)?,
            dependencies,
            delegation_manager: signed.module,
        })
    }

    /// The response in the wire shape.
    pub fn to_json(&self) -> Value {
        let mut out = self.request.to_json();
        let deps: Vec<Value> = self
            .dependencies
            .iter()
            .map(|d| json!({ "factory": d.factory.to_checksum(None), "factoryData": d.factory_data.to_string() }))
            .collect();
        if let Value::Object(o) = &mut out {
            o.insert("context".into(), self.context.clone().into());
            o.insert("dependencies".into(), deps.into());
            o.insert("delegationManager".into(), self.delegation_manager.to_checksum(None).into());
        }
        out
    }
}

/// The `context` of a grant: the grant token's characters as hex (`0x…`), since the ERC and MetaMask type
/// `context` as `Hex`. [`grant_from_context`] reads it back.
pub fn context_of(signed: &SignedGrant) -> Result<String, Erc7715Error> {
    let token = signed.to_token().map_err(|e| invalid("context", e.to_string()))?;
    Ok(hex::encode_prefixed(token.as_bytes()))
}

/// The signed grant a `context` carries: the hex form [`context_of`] writes, or the grant token itself.
pub fn grant_from_context(context: &str) -> Result<SignedGrant, Erc7715Error> {
    let token = if context.starts_with(crate::token::TOKEN_PREFIX) {
        context.to_string()
    } else {
        let bytes = hex::decode(context.strip_prefix("0x").ok_or_else(|| {
            invalid("context", "neither 0x-prefixed hex nor a grant token (\"warrant1…\")")
        })?)
        .map_err(|e| invalid("context", format!("not hex: {e}")))?;
        String::from_utf8(bytes).map_err(|_| invalid("context", "the hex is not a grant token"))?
    };
    SignedGrant::from_token(&token).map_err(|e| invalid("context", e.to_string()))
}

fn not_permission(reason: impl Into<String>) -> Erc7715Error {
    Erc7715Error::NotAPermission(reason.into())
}

/// The request a signed grant enforces, if its scope is exactly what [`translate`] makes of one: the request is
/// rebuilt from the scope, translated again with the grant's own gas terms, and must give the same scope.
pub fn request_from_grant(signed: &SignedGrant) -> Result<PermissionRequest, Erc7715Error> {
    let grant = &signed.grant;
    let scope = &grant.session.scope;
    let [limit] = scope.limits.as_slice() else {
        return Err(not_permission(format!("it has {} spend limits, a permission one", scope.limits.len())));
    };
    let asset = if limit.token == Address::ZERO { Asset::Native } else { Asset::Erc20(limit.token) };
    let budget = if scope.period != 0 {
        Budget::Periodic {
            period_amount: U256::from(limit.perPeriod),
            period_duration: scope.period.into(),
            start_time: Some(scope.periodStart.to()),
        }
    } else {
        let after: u64 = scope.validAfter.to();
        Budget::Allowance {
            allowance_amount: U256::from(limit.lifetime),
            start_time: (after != 0).then(|| after + 1),
        }
    };
    let payees: Option<Vec<Address>> = match asset {
        Asset::Native => match scope.calls.as_slice() {
            [p] if p.flags == ANY_TARGET => None,
            calls => Some(calls.iter().map(|c| c.target).collect()),
        },
        Asset::Erc20(_) => match scope.calls.as_slice() {
            [p] => match p.conditions.as_slice() {
                [] => None,
                [c] => Some(c.values.iter().map(|w| Address::from_word(*w)).collect()),
                _ => return Err(not_permission("its transfer policy has more than one condition")),
            },
            calls => {
                return Err(not_permission(format!(
                    "it has {} call policies, an ERC-20 permission one",
                    calls.len()
                )));
            }
        },
    };
    let mut rules = Vec::new();
    let until: u64 = scope.validUntil.to();
    if until != 0 {
        rules.push(Rule::Expiry { timestamp: until + 1 });
    }
    if let Some(addresses) = payees {
        rules.push(Rule::Payee { addresses });
    }
    let request = PermissionRequest {
        chain_id: signed.chain_id,
        from: Some(grant.account),
        to: grant.session.signer,
        permission: Permission { asset, budget, is_adjustment_allowed: false, justification: None },
        rules,
    };
    let gas = if scope.paymaster != Address::ZERO {
        GasTerms::Sponsored { paymaster: scope.paymaster }
    } else {
        GasTerms::AccountPays { max_value_total: scope.maxValueTotal }
    };
    let terms = GrantTerms {
        // Every time the request carries is explicit now; an expiry only has to be after the epoch.
        now: 0,
        account: Some(grant.account),
        gas,
        max_gas_limit: scope.maxGasLimit,
        max_fee_per_gas: scope.maxFeePerGas,
    };
    let again = translate(&request, &terms).map_err(|e| not_permission(e.to_string()))?;
    if again.scope != *scope {
        return Err(not_permission("its scope has rules no ERC-7715 permission translates to"));
    }
    Ok(again.request)
}
