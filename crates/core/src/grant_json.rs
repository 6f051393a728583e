//! The stable JSON form of grants, sessions and scopes (specified in `docs/grant-token.md`).
//!
//! The `sol!` structs of [`crate::grant`] also derive serde, but their shape follows alloy's choices (128-bit
//! and 64-bit fields as JSON numbers, which JavaScript rounds above 2^53). These types fix the form instead:
//! camelCase names as in Solidity, EIP-55 addresses, `0x` hex for fixed bytes, JSON numbers only for
//! integers of at most 48 bits, decimal strings for wider ones, and unknown fields refused.

use alloy_primitives::{Address, B256, Bytes, FixedBytes, U256, aliases::U48};
use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error as _};

use crate::{
    CoreError,
    grant::{ArgCondition, CallPolicy, Gate, Grant, Scope, Session, SpendLimit},
    p256::{P256Key, P256Kind},
    token::SignedGrant,
};

/// An unsigned integer written as a decimal string (no sign, no leading zeros, no `0x`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dec<T>(pub T);

macro_rules! dec_impl {
    ($($t:ty),*) => {$(
        impl Serialize for Dec<$t> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0.to_string())
            }
        }
        impl<'de> Deserialize<'de> for Dec<$t> {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                parse_decimal(&s).map_err(D::Error::custom)?;
                s.parse::<$t>().map(Dec).map_err(|_| {
                    D::Error::custom(format!("{s} does not fit in {}", stringify!($t)))
                })
            }
        }
    )*};
}
dec_impl!(u64, u128, U256);

fn parse_decimal(s: &str) -> Result<(), String> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{s:?} is not a decimal string of digits"));
    }
    if s.len() > 1 && s.starts_with('0') {
        return Err(format!("{s:?} has leading zeros"));
    }
    Ok(())
}

fn ser_u48<S: Serializer>(v: &U48, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(v.to::<u64>())
}

fn de_u48<'de, D: Deserializer<'de>>(d: D) -> Result<U48, D::Error> {
    let v = u64::deserialize(d)?;
    U48::try_from(v).map_err(|_| D::Error::custom(format!("{v} does not fit in uint48")))
}

/// Addresses: written EIP-55 checksummed; read from `0x` + 40 hex digits, all lower case, all upper case, or
/// mixed case with a valid checksum (a mistyped checksummed address is refused).
mod address_hex {
    use super::*;

    pub(super) fn serialize<S: Serializer>(a: &Address, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&a.to_checksum(None))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Address, D::Error> {
        let s = String::deserialize(d)?;
        let hex = s.strip_prefix("0x").filter(|h| h.len() == 40 && h.bytes().all(|b| b.is_ascii_hexdigit()));
        let Some(hex) = hex else {
            return Err(D::Error::custom(format!("{s:?} is not an address (0x and 40 hex digits)")));
        };
        let mixed =
            hex.bytes().any(|b| b.is_ascii_lowercase()) && hex.bytes().any(|b| b.is_ascii_uppercase());
        if mixed {
            Address::parse_checksummed(&s, None)
                .map_err(|_| D::Error::custom(format!("{s} has an invalid EIP-55 checksum")))
        } else {
            s.parse().map_err(D::Error::custom)
        }
    }
}

/// Fixed bytes: `0x` + exactly 2·N lower-case hex digits (upper case is read too).
mod fixed_hex {
    use super::*;

    pub(super) fn parse<const N: usize>(s: &str) -> Result<FixedBytes<N>, String> {
        let hex =
            s.strip_prefix("0x").filter(|h| h.len() == 2 * N && h.bytes().all(|b| b.is_ascii_hexdigit()));
        hex.and_then(|h| h.parse().ok()).ok_or_else(|| format!("{s:?} is not 0x and {} hex digits", 2 * N))
    }

    pub(super) fn serialize<const N: usize, S: Serializer>(
        v: &FixedBytes<N>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    pub(super) fn deserialize<'de, const N: usize, D: Deserializer<'de>>(
        d: D,
    ) -> Result<FixedBytes<N>, D::Error> {
        parse(&String::deserialize(d)?).map_err(D::Error::custom)
    }
}

/// Lists of 32-byte words, each as in [`fixed_hex`].
mod words_hex {
    use super::*;

    pub(super) fn serialize<S: Serializer>(v: &[B256], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|w| w.to_string()))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<B256>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|s| fixed_hex::parse::<32>(s).map_err(D::Error::custom))
            .collect()
    }
}

/// [`ArgCondition`] in JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ArgConditionJson {
    /// Condition kind (see [`crate::policy::condition`]).
    pub condition: u8,
    /// The argument's ABI type code (see [`crate::grant::arg_type`]).
    pub arg_type: u8,
    /// Head word index.
    pub arg_index: u16,
    /// Reference values, `0x` + 64 hex digits each.
    #[serde(with = "words_hex")]
    pub values: Vec<B256>,
}

/// [`CallPolicy`] in JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CallPolicyJson {
    /// Target contract.
    #[serde(with = "address_hex")]
    pub target: Address,
    /// Selector, `0x` + 8 hex digits.
    #[serde(with = "fixed_hex")]
    pub selector: FixedBytes<4>,
    /// Flags (bit 0 any target, bit 1 any selector).
    pub flags: u8,
    /// Per-call native value cap, in wei.
    pub max_value: Dec<U256>,
    /// Argument conditions.
    pub conditions: Vec<ArgConditionJson>,
}

/// [`Scope`] in JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScopeJson {
    /// Unix time after which the session is valid (0: no lower bound).
    #[serde(serialize_with = "ser_u48", deserialize_with = "de_u48")]
    pub valid_after: U48,
    /// Unix time until which the session is valid (0: no expiry).
    #[serde(serialize_with = "ser_u48", deserialize_with = "de_u48")]
    pub valid_until: U48,
    /// Most operations (0: unlimited).
    pub max_uses: u32,
    /// Lifetime native value cap, in wei.
    pub max_value_total: Dec<U256>,
    /// Required paymaster (zero address: none).
    #[serde(with = "address_hex")]
    pub paymaster: Address,
    /// Cap on an operation's total gas limits (0: none).
    pub max_gas_limit: Dec<u128>,
    /// Cap on maxFeePerGas in wei (0: none).
    pub max_fee_per_gas: Dec<u128>,
    /// Permitted calls, first match wins.
    pub calls: Vec<CallPolicyJson>,
    /// Period length in seconds for periodic limits (0: none).
    pub period: u32,
    /// Start of period 0 (unix seconds).
    #[serde(serialize_with = "ser_u48", deserialize_with = "de_u48")]
    pub period_start: U48,
    /// Most operations per period (0: no rate limit).
    pub max_uses_per_period: u32,
    /// Spend limits, one per asset (token zero address: native value).
    pub limits: Vec<SpendLimitJson>,
    /// Gates: what the account must hold for the session to act (see `docs/gating.md`).
    pub gates: Vec<GateJson>,
}

/// [`Gate`] in JSON: `kind` 0 ERC-20, 1 ERC-721, 2 ERC-1155; `tokenId` and `minBalance` decimal strings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GateJson {
    /// The token contract.
    #[serde(with = "address_hex")]
    pub token: Address,
    /// Which `balanceOf` is read.
    pub kind: u8,
    /// The ERC-1155 id (0 for the other kinds).
    pub token_id: Dec<U256>,
    /// The least the account must hold.
    pub min_balance: Dec<U256>,
}

/// [`SpendLimit`] in JSON: caps in the asset's smallest unit, decimal strings (`340282366920938463463374607431768211455`,
/// 2¹²⁸ − 1, means no cap).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SpendLimitJson {
    /// The ERC-20 token, or the zero address for native value.
    #[serde(with = "address_hex")]
    pub token: Address,
    /// Cap per period.
    pub per_period: Dec<u128>,
    /// Cap over the session's life.
    pub lifetime: Dec<u128>,
}

/// [`Session`] in JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionJson {
    /// The session key's address.
    #[serde(with = "address_hex")]
    pub signer: Address,
    /// Salt telling apart sessions of one key with one scope.
    #[serde(with = "fixed_hex")]
    pub salt: B256,
    /// What the session may do.
    pub scope: ScopeJson,
}

/// [`Grant`] in JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GrantJson {
    /// The account the grant is for.
    #[serde(with = "address_hex")]
    pub account: Address,
    /// The account's revocation epoch the grant names.
    pub epoch: Dec<u64>,
    /// The session.
    pub session: SessionJson,
}

/// [`SignedGrant`] in JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignedGrantJson {
    /// Chain id.
    pub chain_id: Dec<u64>,
    /// The validator module.
    #[serde(with = "address_hex")]
    pub module: Address,
    /// The grant.
    pub grant: GrantJson,
    /// The owner signature as the validator receives it, `0x` hex.
    pub owner_signature: Bytes,
    /// The P-256 session key the session's signer identifies, when it is one (absent for a secp256k1 key):
    /// what a version-4 token carries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_key: Option<SessionKeyJson>,
}

/// A P-256 session key: `{ "kind": 1 | 2, "x": "0x…", "y": "0x…" }` (kind 1 raw, 2 WebCrypto; the affine
/// coordinates, big-endian).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionKeyJson {
    /// How it signs: 1 raw, 2 WebCrypto.
    pub kind: u8,
    /// The x coordinate.
    pub x: B256,
    /// The y coordinate.
    pub y: B256,
}

impl From<&ArgCondition> for ArgConditionJson {
    fn from(c: &ArgCondition) -> Self {
        Self { condition: c.condition, arg_type: c.argType, arg_index: c.argIndex, values: c.values.clone() }
    }
}

impl From<ArgConditionJson> for ArgCondition {
    fn from(c: ArgConditionJson) -> Self {
        Self { condition: c.condition, argType: c.arg_type, argIndex: c.arg_index, values: c.values }
    }
}

impl From<&CallPolicy> for CallPolicyJson {
    fn from(p: &CallPolicy) -> Self {
        Self {
            target: p.target,
            selector: p.selector,
            flags: p.flags,
            max_value: Dec(p.maxValue),
            conditions: p.conditions.iter().map(Into::into).collect(),
        }
    }
}

impl From<CallPolicyJson> for CallPolicy {
    fn from(p: CallPolicyJson) -> Self {
        Self {
            target: p.target,
            selector: p.selector,
            flags: p.flags,
            maxValue: p.max_value.0,
            conditions: p.conditions.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<&Scope> for ScopeJson {
    fn from(s: &Scope) -> Self {
        Self {
            valid_after: s.validAfter,
            valid_until: s.validUntil,
            max_uses: s.maxUses,
            max_value_total: Dec(s.maxValueTotal),
            paymaster: s.paymaster,
            max_gas_limit: Dec(s.maxGasLimit),
            max_fee_per_gas: Dec(s.maxFeePerGas),
            calls: s.calls.iter().map(Into::into).collect(),
            period: s.period,
            period_start: s.periodStart,
            max_uses_per_period: s.maxUsesPerPeriod,
            limits: s
                .limits
                .iter()
                .map(|l| SpendLimitJson {
                    token: l.token,
                    per_period: Dec(l.perPeriod),
                    lifetime: Dec(l.lifetime),
                })
                .collect(),
            gates: s
                .gates
                .iter()
                .map(|g| GateJson {
                    token: g.token,
                    kind: g.kind,
                    token_id: Dec(g.tokenId),
                    min_balance: Dec(g.minBalance),
                })
                .collect(),
        }
    }
}

impl From<ScopeJson> for Scope {
    fn from(s: ScopeJson) -> Self {
        Self {
            validAfter: s.valid_after,
            validUntil: s.valid_until,
            maxUses: s.max_uses,
            maxValueTotal: s.max_value_total.0,
            paymaster: s.paymaster,
            maxGasLimit: s.max_gas_limit.0,
            maxFeePerGas: s.max_fee_per_gas.0,
            calls: s.calls.into_iter().map(Into::into).collect(),
            period: s.period,
            periodStart: s.period_start,
            maxUsesPerPeriod: s.max_uses_per_period,
            limits: s
                .limits
                .into_iter()
                .map(|l| SpendLimit { token: l.token, perPeriod: l.per_period.0, lifetime: l.lifetime.0 })
                .collect(),
            gates: s
                .gates
                .into_iter()
                .map(|g| Gate {
                    token: g.token,
                    kind: g.kind,
                    tokenId: g.token_id.0,
                    minBalance: g.min_balance.0,
                })
                .collect(),
        }
    }
}

impl From<&Session> for SessionJson {
    fn from(s: &Session) -> Self {
        Self { signer: s.signer, salt: s.salt, scope: (&s.scope).into() }
    }
}

impl From<SessionJson> for Session {
    fn from(s: SessionJson) -> Self {
        Self { signer: s.signer, salt: s.salt, scope: s.scope.into() }
    }
}

impl From<&Grant> for GrantJson {
    fn from(g: &Grant) -> Self {
        Self { account: g.account, epoch: Dec(g.epoch), session: (&g.session).into() }
    }
}

impl From<GrantJson> for Grant {
    fn from(g: GrantJson) -> Self {
        Self { account: g.account, epoch: g.epoch.0, session: g.session.into() }
    }
}

impl From<&SignedGrant> for SignedGrantJson {
    fn from(g: &SignedGrant) -> Self {
        Self {
            chain_id: Dec(g.chain_id),
            module: g.module,
            grant: (&g.grant).into(),
            owner_signature: g.owner_signature.clone(),
            session_key: g.session_key.map(|k| SessionKeyJson { kind: k.kind.byte(), x: k.x, y: k.y }),
        }
    }
}

impl TryFrom<SignedGrantJson> for SignedGrant {
    type Error = CoreError;

    /// The signed grant; a session key that is not a P-256 point of a known kind, or whose identifier is not the
    /// session's signer, is refused (as a token carrying it would be).
    fn try_from(g: SignedGrantJson) -> Result<Self, CoreError> {
        let signed = Self {
            chain_id: g.chain_id.0,
            module: g.module,
            grant: g.grant.into(),
            owner_signature: g.owner_signature,
            session_key: None,
        };
        let Some(key) = g.session_key else { return Ok(signed) };
        let kind = P256Kind::from_byte(key.kind).ok_or_else(|| {
            CoreError::InvalidP256Key(format!("sessionKey.kind {} is not 1 (raw) or 2 (WebCrypto)", key.kind))
        })?;
        Ok(signed.with_session_key(P256Key::new(kind, key.x, key.y)?)?)
    }
}
