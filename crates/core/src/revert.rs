//! Reading the chain's refusals: `WarrantValidator`'s custom errors decoded into the evaluator's [`Denial`], and
//! the EntryPoint's `FailedOp`/`FailedOpWithRevert` turned into one message that names the rule. This is how a
//! refusal from the chain (or a bundler's simulation) reads the same as the pre-flight's.

use alloy_primitives::U256;
use alloy_sol_types::SolInterface;

use crate::{grant::WarrantErrors::WarrantErrorsErrors as E, policy::Denial, user_op::IEntryPoint};

fn index(i: U256) -> usize {
    usize::try_from(i).unwrap_or(usize::MAX)
}

impl Denial {
    /// Decodes `WarrantValidator` revert data (a custom error) into the denial of the same name, or `None` if the
    /// data is not one of its errors.
    pub fn from_revert_data(data: &[u8]) -> Option<Self> {
        Some(match E::abi_decode(data).ok()? {
            E::SessionNotEnabled(e) => Self::SessionNotEnabled { id: e.id },
            E::SessionRevoked(e) => Self::SessionRevoked { id: e.id },
            E::UsesExhausted(e) => Self::UsesExhausted { uses: e.uses, max: e.max },
            E::PaymasterRequired(e) => Self::PaymasterRequired { required: e.required },
            E::PaymasterNotPermitted(e) => Self::PaymasterNotPermitted { paymaster: e.paymaster },
            E::GasLimitExceeded(e) => Self::GasLimitExceeded { total: e.total, cap: e.cap },
            E::MaxFeePerGasExceeded(e) => Self::MaxFeePerGasExceeded { fee: e.fee, cap: e.cap },
            E::UnsupportedAccountCall(e) => Self::UnsupportedAccountCall { selector: e.selector },
            E::MalformedCalldata(_) => Self::MalformedCalldata,
            E::UnsupportedExecutionMode(e) => Self::UnsupportedExecutionMode { mode: e.mode },
            E::EmptyBatch(_) => Self::EmptyBatch,
            E::ForbiddenTarget(e) => Self::ForbiddenTarget { index: index(e.index), target: e.target },
            E::CalldataTooShort(e) => Self::CalldataTooShort { index: index(e.index) },
            E::CallNotPermitted(e) => {
                Self::CallNotPermitted { index: index(e.index), target: e.target, selector: e.selector }
            }
            E::CallValueExceeded(e) => {
                Self::CallValueExceeded { index: index(e.index), value: e.value, cap: e.cap }
            }
            E::ArgumentConditionFailed(e) => Self::ArgumentConditionFailed {
                index: index(e.index),
                arg_index: e.argIndex,
                condition: e.condition,
            },
            E::ArgumentMalformed(e) => {
                Self::ArgumentMalformed { index: index(e.index), arg_index: e.argIndex }
            }
            E::ArgumentNotCanonical(e) => {
                Self::ArgumentNotCanonical { index: index(e.index), arg_index: e.argIndex }
            }
            E::InvalidCondition(e) => {
                Self::InvalidCondition { index: index(e.index), condition_index: index(e.conditionIndex) }
            }
            E::SessionValueExceeded(e) => Self::SessionValueExceeded { total: e.total, cap: e.cap },
            E::SpendLimitExceeded(e) => {
                Self::SpendLimitExceeded { token: e.token, spent: e.spent, cap: e.cap }
            }
            E::PeriodSpendLimitExceeded(e) => Self::PeriodSpendLimitExceeded {
                token: e.token,
                period: e.period,
                spent: e.spent,
                cap: e.cap,
            },
            E::PeriodUsesExhausted(e) => {
                Self::PeriodUsesExhausted { period: e.period, uses: e.uses, max: e.max }
            }
            E::PeriodStale(e) => Self::PeriodStale { period: e.period, current: e.current },
            E::PeriodOutOfRange(e) => Self::PeriodOutOfRange { period: e.period },
            E::TokenCallNotAccounted(e) => {
                Self::TokenCallNotAccounted { index: index(e.index), token: e.token, selector: e.selector }
            }
            E::InvalidSpendLimit(e) => Self::InvalidSpendLimit { limit_index: index(e.limitIndex) },
            E::PeriodRequired(_) => Self::PeriodRequired,
            E::GrantAccountMismatch(e) => {
                Self::GrantAccountMismatch { grant_account: e.grantAccount, account: e.account }
            }
            E::GrantEpochStale(e) => {
                Self::GrantEpochStale { grant_epoch: e.grantEpoch, current_epoch: e.currentEpoch }
            }
            E::InvalidOwnerSignature(_) => Self::InvalidOwnerSignature,
            E::MalformedSessionSignature(_) => Self::MalformedSessionSignature,
            E::InvalidGate(e) => Self::InvalidGate { gate_index: index(e.gateIndex) },
            E::GateNotHeld(e) => Self::GateNotHeld {
                gate_index: index(e.gateIndex),
                token: e.token,
                balance: e.balance,
                min_balance: e.minBalance,
            },
            E::GateUnreadable(e) => Self::GateUnreadable { gate_index: index(e.gateIndex), token: e.token },
        })
    }
}

/// Why the EntryPoint refused an operation, as one line naming the rule: `"AA23 reverted: CallNotPermitted: …"`
/// when the validator reverted with one of Warrant's errors, the bare reason (`"AA22 expired or not due"`,
/// `"AA24 signature error"`) otherwise. `None` if `data` is not an EntryPoint error.
pub fn describe_entry_point_error(data: &[u8]) -> Option<String> {
    Some(match IEntryPoint::IEntryPointErrors::abi_decode(data).ok()? {
        IEntryPoint::IEntryPointErrors::FailedOp(e) => e.reason,
        IEntryPoint::IEntryPointErrors::FailedOpWithRevert(e) => {
            format!("{}: {}", e.reason, describe_validator_error(&e.inner))
        }
    })
}

/// One of the validator's errors by name with its arguments (its [`Denial`]), or the raw data.
pub fn describe_validator_error(data: &[u8]) -> String {
    match Denial::from_revert_data(data) {
        Some(denial) => denial.to_string(),
        None => format!("revert data 0x{}", alloy_primitives::hex::encode(data)),
    }
}

#[cfg(test)]
mod tests {
    use alloy_primitives::{Address, B256, FixedBytes};
    use alloy_sol_types::{SolError, SolValue};

    use super::*;
    use crate::grant::WarrantErrors;

    #[test]
    fn validator_errors_decode_to_the_denial_of_the_same_name() {
        let target = Address::with_last_byte(7);
        let data = WarrantErrors::CallNotPermitted {
            index: U256::from(1),
            target,
            selector: FixedBytes([0x09, 0x5e, 0xa7, 0xb3]),
        }
        .abi_encode();
        let denial = Denial::from_revert_data(&data).unwrap();
        assert_eq!(
            denial,
            Denial::CallNotPermitted { index: 1, target, selector: FixedBytes([0x09, 0x5e, 0xa7, 0xb3]) }
        );
        assert!(denial.to_string().starts_with("CallNotPermitted: call 1 to"));
    }

    #[test]
    fn entry_point_errors_name_the_rule() {
        let inner = WarrantErrors::SessionRevoked { id: B256::with_last_byte(1) }.abi_encode();
        let data = IEntryPoint::FailedOpWithRevert {
            opIndex: U256::ZERO,
            reason: "AA23 reverted".into(),
            inner: inner.into(),
        }
        .abi_encode();
        let text = describe_entry_point_error(&data).unwrap();
        assert!(text.starts_with("AA23 reverted: SessionRevoked: session 0x"), "{text}");

        let data = IEntryPoint::FailedOp { opIndex: U256::ZERO, reason: "AA22 expired or not due".into() }
            .abi_encode();
        assert_eq!(describe_entry_point_error(&data).unwrap(), "AA22 expired or not due");
    }

    #[test]
    fn unknown_data_is_not_mistaken_for_a_rule() {
        assert_eq!(Denial::from_revert_data(&[1, 2, 3]), None);
        assert_eq!(describe_entry_point_error(&(U256::from(1), U256::from(2)).abi_encode()), None);
        assert_eq!(describe_validator_error(&[0xab]), "revert data 0xab");
        let stale =
            WarrantErrors::GrantEpochStale { grantEpoch: 0, currentEpoch: U256::from(1) }.abi_encode();
        assert!(describe_validator_error(&stale).starts_with("GrantEpochStale"));
    }
}
