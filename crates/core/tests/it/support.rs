//! Shared helpers: a local signer over a raw key, and proptest strategies for grants.

use alloy_primitives::{Address, B256, FixedBytes, U256, aliases::U48};
use alloy_signer::k256::ecdsa::SigningKey;
use proptest::{collection::vec, prelude::*};
use warrant_core::grant::{ArgCondition, CallPolicy, Gate, Grant, Scope, Session, SpendLimit};

/// A local signer over a raw key, enough for tests (the CLI and chain use alloy's `PrivateKeySigner`).
pub(crate) struct Key(pub(crate) SigningKey);

impl Key {
    /// The key with scalar `keccak256(seed)`.
    pub(crate) fn from_seed(seed: &str) -> Self {
        let scalar = alloy_primitives::keccak256(seed);
        Self(SigningKey::from_bytes(&scalar.0.into()).expect("a keccak output is a valid scalar"))
    }

    /// The key's address.
    pub(crate) fn address(&self) -> Address {
        Address::from_private_key(&self.0)
    }
}

impl alloy_signer::SignerSync for Key {
    fn sign_hash_sync(
        &self,
        hash: &alloy_primitives::B256,
    ) -> alloy_signer::Result<alloy_primitives::Signature> {
        let (sig, recid) = self.0.sign_prehash_recoverable(hash.as_slice())?;
        Ok(alloy_primitives::Signature::from_signature_and_parity(sig, recid.is_y_odd()))
    }

    fn chain_id_sync(&self) -> Option<alloy_primitives::ChainId> {
        None
    }
}

fn word() -> impl Strategy<Value = B256> {
    any::<[u8; 32]>().prop_map(B256::from)
}

fn address() -> impl Strategy<Value = Address> {
    any::<[u8; 20]>().prop_map(Address::from)
}

fn u48() -> impl Strategy<Value = U48> {
    (0u64..1 << 48).prop_map(|v| U48::from(v))
}

pub(crate) fn arg_condition() -> impl Strategy<Value = ArgCondition> {
    (any::<u8>(), any::<u8>(), any::<u16>(), vec(word(), 0..3)).prop_map(
        |(condition, arg_type, arg_index, values)| ArgCondition {
            condition,
            argType: arg_type,
            argIndex: arg_index,
            values,
        },
    )
}

pub(crate) fn call_policy() -> impl Strategy<Value = CallPolicy> {
    (address(), any::<[u8; 4]>(), any::<u8>(), word(), vec(arg_condition(), 0..3)).prop_map(
        |(target, selector, flags, max, conditions)| CallPolicy {
            target,
            selector: FixedBytes(selector),
            flags,
            maxValue: U256::from_be_bytes(max.0),
            conditions,
        },
    )
}

pub(crate) fn spend_limit() -> impl Strategy<Value = SpendLimit> {
    (address(), any::<u128>(), any::<u128>()).prop_map(|(token, per, life)| SpendLimit {
        token,
        perPeriod: per,
        lifetime: life,
    })
}

pub(crate) fn gate() -> impl Strategy<Value = Gate> {
    (address(), 0u8..4, word(), word()).prop_map(|(token, kind, id, min)| Gate {
        token,
        kind,
        tokenId: U256::from_be_bytes(id.0),
        minBalance: U256::from_be_bytes(min.0),
    })
}

pub(crate) fn scope() -> impl Strategy<Value = Scope> {
    let base = (
        u48(),
        u48(),
        any::<u32>(),
        word(),
        address(),
        any::<u128>(),
        any::<u128>(),
        vec(call_policy(), 0..3),
    );
    let periodic = (any::<u32>(), u48(), any::<u32>(), vec(spend_limit(), 0..3), vec(gate(), 0..2));
    (base, periodic).prop_map(
        |(
            (after, until, uses, total, paymaster, gas, fee, calls),
            (period, start, per_period, limits, gates),
        )| {
            Scope {
                validAfter: after,
                validUntil: until,
                maxUses: uses,
                maxValueTotal: U256::from_be_bytes(total.0),
                paymaster,
                maxGasLimit: gas,
                maxFeePerGas: fee,
                calls,
                period,
                periodStart: start,
                maxUsesPerPeriod: per_period,
                limits,
                gates,
            }
        },
    )
}

pub(crate) fn grant() -> impl Strategy<Value = Grant> {
    (address(), any::<u64>(), address(), word(), scope()).prop_map(|(account, epoch, signer, salt, scope)| {
        Grant { account, epoch, session: Session { signer, salt, scope } }
    })
}

/// A scope permitting nothing, with every cap at zero (`Scope::default()`).
pub(crate) fn empty_scope() -> Scope {
    Scope::default()
}
