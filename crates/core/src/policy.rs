//! The pre-flight evaluator: decides, before anything is signed, whether `WarrantValidator` will accept a
//! session operation, and if not which rule refuses it — named exactly as the Solidity custom error, with the
//! offending call, argument and bound. It mirrors `WarrantValidator._checkAndDebit` step by step, in the same
//! order, so the first failing rule is the one the chain reports; the differential test holds the two together.

use alloy_primitives::{Address, B256, FixedBytes, U256, keccak256};

use crate::{
    PackedUserOperation,
    constants::ENTRY_POINT_V08,
    grant::{ANY_SELECTOR, ANY_TARGET, ArgCondition, CallPolicy, Scope},
};

/// `execute(bytes32,bytes)` of ERC-7579: the only account function a session may call.
pub const EXECUTE_SELECTOR: [u8; 4] = [0xe9, 0xae, 0x5c, 0x53];

/// Argument condition kinds (`ArgCondition.condition`).
pub mod condition {
    /// Head word == value.
    pub const EQ: u8 = 0;
    /// Head word != value.
    pub const NEQ: u8 = 1;
    /// Head word < value (unsigned).
    pub const LT: u8 = 2;
    /// Head word <= value (unsigned).
    pub const LTE: u8 = 3;
    /// Head word > value (unsigned).
    pub const GT: u8 = 4;
    /// Head word >= value (unsigned).
    pub const GTE: u8 = 5;
    /// Head word is one of the values.
    pub const IN: u8 = 6;
    /// Dynamic argument's length <= value.
    pub const LENGTH_LTE: u8 = 7;
    /// Dynamic argument's length >= value.
    pub const LENGTH_GTE: u8 = 8;
    /// keccak256 of a `bytes`/`string` argument's content == value.
    pub const BYTES_HASH_EQ: u8 = 9;
    /// keccak256 of a static-element array's content (length × 32 bytes) == value.
    pub const ARRAY_HASH_EQ: u8 = 10;
}

/// A session's on-chain status for an account in its current epoch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SessionStatus {
    /// Never enabled (a grant may enable it).
    #[default]
    None,
    /// Enabled.
    Enabled,
    /// Revoked for this epoch; can never be enabled again in it.
    Revoked,
}

impl SessionStatus {
    /// From the validator's `sessionState` status byte.
    pub fn from_u8(status: u8) -> Option<Self> {
        match status {
            0 => Some(Self::None),
            1 => Some(Self::Enabled),
            2 => Some(Self::Revoked),
            _ => None,
        }
    }
}

/// What the validator has counted for a session so far (`sessionState`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionUsage {
    /// Status in the current epoch.
    pub status: SessionStatus,
    /// Operations validated so far, counted only for a session with a `maxUses` cap (0 for an unlimited one).
    pub uses: u32,
    /// Native value debited so far, in wei.
    pub value_spent: u128,
}

/// How the operation presents the session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Presentation {
    /// USE mode: the session must already be enabled.
    Use,
    /// ENABLE mode: the owner's grant enables it in this operation (grant checks are [`check_grant`]'s).
    Enable,
}

/// Why `WarrantValidator` refuses an operation. Every variant but the last three is the Solidity custom error
/// of the same name, with the same fields.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Denial {
    /// USE of a session that was never enabled.
    #[error("SessionNotEnabled: session {id} is not enabled for this account")]
    SessionNotEnabled {
        /// Session id.
        id: B256,
    },
    /// The session was revoked.
    #[error("SessionRevoked: session {id} was revoked")]
    SessionRevoked {
        /// Session id.
        id: B256,
    },
    /// `maxUses` reached.
    #[error("UsesExhausted: the session has been used {uses} times of at most {max}")]
    UsesExhausted {
        /// Uses so far.
        uses: u32,
        /// The cap.
        max: u32,
    },
    /// The scope requires a paymaster the operation does not use.
    #[error("PaymasterRequired: gas must be paid by paymaster {required}")]
    PaymasterRequired {
        /// The required paymaster.
        required: Address,
    },
    /// The operation's gas limits add up to more than `maxGasLimit`.
    #[error("GasLimitExceeded: the operation's gas limits total {total}, above the cap {cap}")]
    GasLimitExceeded {
        /// Sum of the operation's gas limits.
        total: U256,
        /// The cap.
        cap: U256,
    },
    /// `maxFeePerGas` above the scope's cap.
    #[error("MaxFeePerGasExceeded: maxFeePerGas {fee} is above the cap {cap}")]
    MaxFeePerGasExceeded {
        /// The operation's maxFeePerGas.
        fee: U256,
        /// The cap.
        cap: U256,
    },
    /// The operation calls an account function other than `execute(bytes32,bytes)`.
    #[error(
        "UnsupportedAccountCall: a session may only call the account's execute(bytes32,bytes), not {selector}"
    )]
    UnsupportedAccountCall {
        /// The account function's selector.
        selector: FixedBytes<4>,
    },
    /// `execute` calldata is not canonically encoded, or an execution does not decode within its bounds.
    #[error("MalformedCalldata: the execute calldata is not canonically encoded")]
    MalformedCalldata,
    /// An execution mode other than single or batch with revert-on-failure.
    #[error(
        "UnsupportedExecutionMode: mode {mode} is not single or batch (delegatecall, static and try are refused)"
    )]
    UnsupportedExecutionMode {
        /// The mode word.
        mode: B256,
    },
    /// A batch with no calls.
    #[error("EmptyBatch: a batch must contain at least one call")]
    EmptyBatch,
    /// A call to the account itself (or address 0, which the account treats as itself), the module or the
    /// EntryPoint.
    #[error("ForbiddenTarget: call {index} targets {target}, which no session may call")]
    ForbiddenTarget {
        /// Call index.
        index: usize,
        /// The target.
        target: Address,
    },
    /// Calldata of 1–3 bytes.
    #[error("CalldataTooShort: call {index} has 1 to 3 bytes of calldata")]
    CalldataTooShort {
        /// Call index.
        index: usize,
    },
    /// No policy permits the call.
    #[error(
        "CallNotPermitted: call {index} to {target} with selector {selector} matches no policy of the scope"
    )]
    CallNotPermitted {
        /// Call index.
        index: usize,
        /// The target.
        target: Address,
        /// The selector (zero for empty calldata).
        selector: FixedBytes<4>,
    },
    /// The call sends more native value than its policy allows.
    #[error("CallValueExceeded: call {index} sends {value} wei, above its policy's cap of {cap}")]
    CallValueExceeded {
        /// Call index.
        index: usize,
        /// Value sent.
        value: U256,
        /// The cap.
        cap: U256,
    },
    /// An argument condition does not hold.
    #[error("ArgumentConditionFailed: call {index}, argument word {arg_index} fails condition {}", condition_name(*condition))]
    ArgumentConditionFailed {
        /// Call index.
        index: usize,
        /// Head word index.
        arg_index: u16,
        /// Condition kind.
        condition: u8,
    },
    /// The argument lies outside the calldata (or its offset or length is out of range).
    #[error("ArgumentMalformed: call {index}, argument word {arg_index} is out of bounds")]
    ArgumentMalformed {
        /// Call index.
        index: usize,
        /// Head word index.
        arg_index: u16,
    },
    /// An ill-formed condition in the scope (unknown kind or wrong number of values).
    #[error("InvalidCondition: call {index}, condition {condition_index} of its policy is ill-formed")]
    InvalidCondition {
        /// Call index.
        index: usize,
        /// Index of the condition in the policy.
        condition_index: usize,
    },
    /// Lifetime native value cap exceeded.
    #[error("SessionValueExceeded: the session would have sent {total} wei in total, above its cap of {cap}")]
    SessionValueExceeded {
        /// Total after this operation.
        total: U256,
        /// The cap.
        cap: U256,
    },
    /// The batch does not decode (OpenZeppelin's `ERC7579DecodingError`, or Solidity's own calldata checks).
    #[error("ERC7579DecodingError: the batch does not decode")]
    BatchDecoding,
    /// Not valid yet: the EntryPoint refuses it (AA22) while `timestamp <= validAfter`.
    #[error("SessionNotYetValid: valid after {valid_after}, now {now} (the EntryPoint reports AA22)")]
    NotYetValid {
        /// The scope's validAfter.
        valid_after: u64,
        /// The time checked.
        now: u64,
    },
    /// Expired: the EntryPoint refuses it (AA22) once `timestamp > validUntil`.
    #[error("SessionExpired: valid until {valid_until}, now {now} (the EntryPoint reports AA22)")]
    Expired {
        /// The scope's validUntil.
        valid_until: u64,
        /// The time checked.
        now: u64,
    },
}

/// A condition kind's name, as in the Solidity constants (`EQ`, `LTE`, …).
pub fn condition_name(kind: u8) -> &'static str {
    match kind {
        condition::EQ => "EQ",
        condition::NEQ => "NEQ",
        condition::LT => "LT",
        condition::LTE => "LTE",
        condition::GT => "GT",
        condition::GTE => "GTE",
        condition::IN => "IN",
        condition::LENGTH_LTE => "LENGTH_LTE",
        condition::LENGTH_GTE => "LENGTH_GTE",
        condition::BYTES_HASH_EQ => "BYTES_HASH_EQ",
        condition::ARRAY_HASH_EQ => "ARRAY_HASH_EQ",
        _ => "UNKNOWN",
    }
}

/// The outcome of one argument condition (the validator's `evaluateCondition` results 0–3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConditionResult {
    /// Holds.
    Pass = 0,
    /// Does not hold.
    Fail = 1,
    /// The argument is out of bounds.
    Malformed = 2,
    /// The condition itself is ill-formed.
    Invalid = 3,
}

fn word(data: &[u8], pos: usize) -> Option<U256> {
    data.get(pos..pos.checked_add(32)?).map(U256::from_be_slice)
}

/// Evaluates one condition on `data` (selector included), exactly as `WarrantValidator._checkConditions`
/// (and `_evaluateDynamic`) do.
pub fn evaluate_condition(data: &[u8], c: &ArgCondition) -> ConditionResult {
    let kind = c.condition;
    let n = c.values.len();
    if kind > condition::ARRAY_HASH_EQ || if kind == condition::IN { n == 0 } else { n != 1 } {
        return ConditionResult::Invalid;
    }
    let pos = 4 + 32 * usize::from(c.argIndex);
    let Some(head) = word(data, pos) else { return ConditionResult::Malformed };
    let pass = |ok: bool| if ok { ConditionResult::Pass } else { ConditionResult::Fail };
    if kind <= condition::GTE {
        let reference = U256::from_be_bytes(c.values[0].0);
        return pass(match kind {
            condition::EQ => head == reference,
            condition::NEQ => head != reference,
            condition::LT => head < reference,
            condition::LTE => head <= reference,
            condition::GT => head > reference,
            _ => head >= reference,
        });
    }
    if kind == condition::IN {
        return pass(c.values.iter().any(|v| U256::from_be_bytes(v.0) == head));
    }
    // Dynamic argument: offset and length bounded to 32 bits, content inside the calldata.
    if head > U256::from(u32::MAX) {
        return ConditionResult::Malformed;
    }
    let length_pos = 4 + head.to::<usize>();
    let Some(length) = word(data, length_pos) else { return ConditionResult::Malformed };
    if length > U256::from(u32::MAX) {
        return ConditionResult::Malformed;
    }
    let length = length.to::<usize>();
    let content_size = if kind == condition::ARRAY_HASH_EQ { length * 32 } else { length };
    let start = length_pos + 32;
    let Some(content) = data.get(start..start + content_size) else { return ConditionResult::Malformed };
    let reference = U256::from_be_bytes(c.values[0].0);
    pass(match kind {
        condition::LENGTH_LTE => U256::from(length) <= reference,
        condition::LENGTH_GTE => U256::from(length) >= reference,
        _ => keccak256(content) == c.values[0],
    })
}

/// One call the operation makes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    /// The callee.
    pub target: Address,
    /// Native value sent.
    pub value: U256,
    /// Calldata.
    pub data: Vec<u8>,
}

fn check_call(
    policies: &[CallPolicy],
    index: usize,
    call: &Call,
    account: Address,
    module: Address,
) -> Result<(), Denial> {
    let target = call.target;
    // Address 0 is included because OpenZeppelin's ERC-7579 execution calls the account itself for target 0.
    if target == account || target == module || target == ENTRY_POINT_V08 || target == Address::ZERO {
        return Err(Denial::ForbiddenTarget { index, target });
    }
    if !call.data.is_empty() && call.data.len() < 4 {
        return Err(Denial::CalldataTooShort { index });
    }
    let selector = FixedBytes::<4>::from_slice(call.data.get(..4).unwrap_or(&[0; 4]));
    // A zero-selector policy means empty calldata (plain transfers), not calldata starting with four zero bytes.
    let zero_selector_call = selector == FixedBytes::ZERO && !call.data.is_empty();
    let Some(policy) = policies.iter().find(|p| {
        (p.flags & ANY_TARGET != 0 || p.target == target)
            && (p.flags & ANY_SELECTOR != 0 || (p.selector == selector && !zero_selector_call))
    }) else {
        return Err(Denial::CallNotPermitted { index, target, selector });
    };
    if call.value > policy.maxValue {
        return Err(Denial::CallValueExceeded { index, value: call.value, cap: policy.maxValue });
    }
    for (condition_index, c) in policy.conditions.iter().enumerate() {
        match evaluate_condition(&call.data, c) {
            ConditionResult::Pass => {}
            ConditionResult::Invalid => return Err(Denial::InvalidCondition { index, condition_index }),
            ConditionResult::Malformed => {
                return Err(Denial::ArgumentMalformed { index, arg_index: c.argIndex });
            }
            ConditionResult::Fail => {
                return Err(Denial::ArgumentConditionFailed {
                    index,
                    arg_index: c.argIndex,
                    condition: c.condition,
                });
            }
        }
    }
    Ok(())
}

/// Decodes a batch exactly as OpenZeppelin's `ERC7579Utils.decodeBatch` plus the validator's bounds checks on
/// each element, calling `visit` on each call in order (so the first failing call is reported first).
fn for_each_batch_call(
    ec: &[u8],
    mut visit: impl FnMut(usize, Call) -> Result<(), Denial>,
) -> Result<(), Denial> {
    let len = ec.len();
    let as_usize = |w: U256| -> Option<usize> { (w <= U256::from(u32::MAX)).then(|| w.to::<usize>()) };
    if len < 32 {
        return Err(Denial::BatchDecoding);
    }
    let array_offset = word(ec, 0).ok_or(Denial::BatchDecoding)?;
    if array_offset > U256::from(len - 32) {
        return Err(Denial::BatchDecoding);
    }
    let array_offset = array_offset.to::<usize>();
    let count = word(ec, array_offset).ok_or(Denial::BatchDecoding)?;
    if count > U256::from(u64::MAX) || U256::from(len - array_offset - 32) < count * U256::from(32) {
        return Err(Denial::BatchDecoding);
    }
    let count = count.to::<usize>();
    if count == 0 {
        return Err(Denial::EmptyBatch);
    }
    let base = array_offset + 32;
    for i in 0..count {
        let rel = as_usize(word(ec, base + 32 * i).ok_or(Denial::MalformedCalldata)?)
            .ok_or(Denial::MalformedCalldata)?;
        let element = base + rel;
        if element + 0x60 > len {
            return Err(Denial::MalformedCalldata);
        }
        let target_word = word(ec, element).ok_or(Denial::MalformedCalldata)?;
        if target_word > U256::from_be_slice(&[0xff; 20]) {
            // Solidity refuses a dirty address when it reads the struct member.
            return Err(Denial::BatchDecoding);
        }
        let value = word(ec, element + 32).ok_or(Denial::MalformedCalldata)?;
        let data_rel = word(ec, element + 64).ok_or(Denial::MalformedCalldata)?;
        let data_rel = as_usize(data_rel).ok_or(Denial::MalformedCalldata)?;
        let length_pos = element + data_rel;
        let length = word(ec, length_pos).ok_or(Denial::MalformedCalldata)?;
        let length = as_usize(length).ok_or(Denial::MalformedCalldata)?;
        let data = ec.get(length_pos + 32..length_pos + 32 + length).ok_or(Denial::MalformedCalldata)?;
        let target = Address::from_word(B256::from(target_word));
        visit(i, Call { target, value, data: data.to_vec() })?;
    }
    Ok(())
}

/// Checks the account call (`execute(bytes32,bytes)`, canonical, single or batch) and every inner call against
/// the scope's policies; returns the native value sent in total.
pub fn check_calls(
    scope: &Scope,
    call_data: &[u8],
    account: Address,
    module: Address,
) -> Result<U256, Denial> {
    let selector = FixedBytes::<4>::from_slice(&{
        let mut s = [0u8; 4];
        let n = call_data.len().min(4);
        s[..n].copy_from_slice(&call_data[..n]);
        s
    });
    if call_data.len() < 4 || selector.0 != EXECUTE_SELECTOR {
        return Err(Denial::UnsupportedAccountCall { selector });
    }
    if call_data.len() < 100 || word(call_data, 36) != Some(U256::from(0x40)) {
        return Err(Denial::MalformedCalldata);
    }
    let length = word(call_data, 68).ok_or(Denial::MalformedCalldata)?;
    if length > U256::from(u32::MAX) {
        return Err(Denial::MalformedCalldata);
    }
    let length = length.to::<usize>();
    if call_data.len() != 100 + length.div_ceil(32) * 32 {
        return Err(Denial::MalformedCalldata);
    }
    let mode = B256::from_slice(&call_data[4..36]);
    let ec = &call_data[100..100 + length];
    if mode == B256::ZERO {
        if ec.len() < 52 {
            return Err(Denial::MalformedCalldata);
        }
        let call = Call {
            target: Address::from_slice(&ec[..20]),
            value: U256::from_be_slice(&ec[20..52]),
            data: ec[52..].to_vec(),
        };
        check_call(&scope.calls, 0, &call, account, module)?;
        return Ok(call.value);
    }
    let mut batch_mode = [0u8; 32];
    batch_mode[0] = 0x01;
    if mode != B256::from(batch_mode) {
        return Err(Denial::UnsupportedExecutionMode { mode });
    }
    let mut total = U256::ZERO;
    for_each_batch_call(ec, |i, call| {
        check_call(&scope.calls, i, &call, account, module)?;
        total += call.value;
        Ok(())
    })?;
    Ok(total)
}

/// What an accepted operation will debit. The validator writes the session's slot only when one of these changes
/// (a capped session, or native value sent).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Debit {
    /// Uses after the operation (unchanged for a session without a `maxUses` cap).
    pub uses: u32,
    /// Native value spent after the operation.
    pub value_spent: u128,
}

/// Checks a session operation as `WarrantValidator` will (everything but the signatures and the time window,
/// which the EntryPoint enforces: see [`check_time`]), in the validator's order.
pub fn check_operation(
    session_id: B256,
    scope: &Scope,
    usage: &SessionUsage,
    presentation: Presentation,
    op: &PackedUserOperation,
    account: Address,
    module: Address,
) -> Result<Debit, Denial> {
    match (usage.status, presentation) {
        (SessionStatus::Revoked, _) => return Err(Denial::SessionRevoked { id: session_id }),
        (SessionStatus::None, Presentation::Use) => return Err(Denial::SessionNotEnabled { id: session_id }),
        _ => {}
    }
    // Uses are counted only against a cap (uses < maxUses <= u32::MAX, so the counter can't overflow).
    let uses = if scope.maxUses != 0 {
        if usage.uses >= scope.maxUses {
            return Err(Denial::UsesExhausted { uses: usage.uses, max: scope.maxUses });
        }
        usage.uses + 1
    } else {
        usage.uses
    };
    check_gas(scope, op)?;
    let value = check_calls(scope, &op.callData, account, module)?;
    // Value is debited (and checked against the cap) only when the operation sends some.
    if value.is_zero() {
        return Ok(Debit { uses, value_spent: usage.value_spent });
    }
    let spent = U256::from(usage.value_spent) + value;
    if spent > scope.maxValueTotal {
        return Err(Denial::SessionValueExceeded { total: spent, cap: scope.maxValueTotal });
    }
    if spent > U256::from(u128::MAX) {
        return Err(Denial::SessionValueExceeded { total: spent, cap: U256::from(u128::MAX) });
    }
    Ok(Debit { uses, value_spent: spent.to::<u128>() })
}

fn check_gas(scope: &Scope, op: &PackedUserOperation) -> Result<(), Denial> {
    if scope.paymaster != Address::ZERO {
        let pmd = &op.paymasterAndData;
        if pmd.len() < 20 || Address::from_slice(&pmd[..20]) != scope.paymaster {
            return Err(Denial::PaymasterRequired { required: scope.paymaster });
        }
    }
    let unpacked = op.unpack();
    if scope.maxGasLimit != 0 {
        let pm_gas = |field: &[u8]| U256::from_be_slice(field);
        let (pm_verification, pm_post_op) = if op.paymasterAndData.len() >= 52 {
            (pm_gas(&op.paymasterAndData[20..36]), pm_gas(&op.paymasterAndData[36..52]))
        } else {
            (U256::ZERO, U256::ZERO)
        };
        let total = U256::from(unpacked.verification_gas_limit)
            + U256::from(unpacked.call_gas_limit)
            + pm_verification
            + pm_post_op;
        let total = total.saturating_add(op.preVerificationGas);
        if total > U256::from(scope.maxGasLimit) {
            return Err(Denial::GasLimitExceeded { total, cap: U256::from(scope.maxGasLimit) });
        }
    }
    if scope.maxFeePerGas != 0 {
        let fee = U256::from(unpacked.max_fee_per_gas);
        if fee > U256::from(scope.maxFeePerGas) {
            return Err(Denial::MaxFeePerGasExceeded { fee, cap: U256::from(scope.maxFeePerGas) });
        }
    }
    Ok(())
}

/// The time window as the EntryPoint v0.8 enforces it from the returned validationData: refused when
/// `now <= validAfter` or (`validUntil != 0` and) `now > validUntil`.
pub fn check_time(scope: &Scope, now: u64) -> Result<(), Denial> {
    let valid_after = scope.validAfter.to::<u64>();
    let valid_until = scope.validUntil.to::<u64>();
    if valid_after != 0 && now <= valid_after {
        return Err(Denial::NotYetValid { valid_after, now });
    }
    if valid_until != 0 && now > valid_until {
        return Err(Denial::Expired { valid_until, now });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use alloy_primitives::{Bytes, address, aliases::U48};

    use super::*;

    const ACCOUNT: Address = address!("0x00000000000000000000000000000000000000aa");
    const MODULE: Address = address!("0x00000000000000000000000000000000000000bb");
    const TARGET: Address = address!("0x00000000000000000000000000000000000000cc");

    fn scope(max_uses: u32, max_value_total: U256) -> Scope {
        Scope {
            validAfter: U48::ZERO,
            validUntil: U48::ZERO,
            maxUses: max_uses,
            maxValueTotal: max_value_total,
            paymaster: Address::ZERO,
            maxGasLimit: 0,
            maxFeePerGas: 0,
            calls: vec![CallPolicy {
                target: TARGET,
                selector: FixedBytes::ZERO,
                flags: 0,
                maxValue: U256::MAX,
                conditions: vec![],
            }],
        }
    }

    /// `execute(bytes32(0), target ‖ value ‖ "")`, canonically encoded.
    fn op(value: u64) -> PackedUserOperation {
        let mut ec = TARGET.to_vec();
        ec.extend_from_slice(&U256::from(value).to_be_bytes::<32>());
        let mut call = EXECUTE_SELECTOR.to_vec();
        call.extend_from_slice(&[0; 32]);
        call.extend_from_slice(&U256::from(0x40).to_be_bytes::<32>());
        call.extend_from_slice(&U256::from(ec.len()).to_be_bytes::<32>());
        call.extend_from_slice(&ec);
        call.resize(call.len() + (32 - ec.len() % 32) % 32, 0);
        crate::UserOperation { sender: ACCOUNT, call_data: Bytes::from(call), ..Default::default() }.pack()
    }

    fn check(scope: &Scope, usage: SessionUsage, value: u64) -> Result<Debit, Denial> {
        check_operation(B256::ZERO, scope, &usage, Presentation::Use, &op(value), ACCOUNT, MODULE)
    }

    fn enabled(uses: u32, value_spent: u128) -> SessionUsage {
        SessionUsage { status: SessionStatus::Enabled, uses, value_spent }
    }

    #[test]
    fn uses_are_counted_only_against_a_cap() {
        let unlimited = scope(0, U256::ZERO);
        assert_eq!(check(&unlimited, enabled(0, 0), 0), Ok(Debit { uses: 0, value_spent: 0 }));
        let capped = scope(2, U256::ZERO);
        assert_eq!(check(&capped, enabled(1, 0), 0), Ok(Debit { uses: 2, value_spent: 0 }));
        assert_eq!(check(&capped, enabled(2, 0), 0), Err(Denial::UsesExhausted { uses: 2, max: 2 }));
    }

    #[test]
    fn value_is_debited_only_when_sent() {
        let s = scope(0, U256::from(100));
        assert_eq!(check(&s, enabled(0, 100), 0), Ok(Debit { uses: 0, value_spent: 100 }));
        assert_eq!(check(&s, enabled(0, 60), 40), Ok(Debit { uses: 0, value_spent: 100 }));
        assert_eq!(
            check(&s, enabled(0, 60), 41),
            Err(Denial::SessionValueExceeded { total: U256::from(101), cap: U256::from(100) })
        );
    }
}
