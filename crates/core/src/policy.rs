//! The pre-flight evaluator: decides, before anything is signed, whether `WarrantValidator` will accept a
//! session operation, and if not which rule refuses it — named exactly as the Solidity custom error, with the
//! offending call, argument and bound. It mirrors `WarrantValidator._checkSession` and the validator's libraries
//! `CallChecks` and `SpendAccounting` step by step, in the same order, so the first failing rule is the one the
//! chain reports; the differential test holds the two together.

use alloy_primitives::{Address, B256, FixedBytes, U256, keccak256};

use crate::{
    PackedUserOperation,
    constants::ENTRY_POINT_V08,
    grant::{
        ANY_SELECTOR, ANY_TARGET, ArgCondition, CallPolicy, IWarrantValidator, NO_CAP, PERMIT2, Scope,
        SpendLimit, arg_type,
    },
};

/// `execute(bytes32,bytes)` of ERC-7579: the only account function a session may call.
pub const EXECUTE_SELECTOR: [u8; 4] = [0xe9, 0xae, 0x5c, 0x53];

/// Argument condition kinds (`ArgCondition.condition`).
pub mod condition {
    /// Head word == value.
    pub const EQ: u8 = 0;
    /// Head word != value.
    pub const NEQ: u8 = 1;
    /// Head word < value (signed for an intN argument, else unsigned).
    pub const LT: u8 = 2;
    /// Head word <= value (signed for intN).
    pub const LTE: u8 = 3;
    /// Head word > value (signed for intN).
    pub const GT: u8 = 4;
    /// Head word >= value (signed for intN).
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

/// What the validator has counted for one spend limit (`spendState`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpendUsage {
    /// The period `period_spent` belongs to (a later period starts from zero).
    pub period_index: u32,
    /// Spent in period `period_index`.
    pub period_spent: u128,
    /// Spent over the session's life.
    pub lifetime_spent: u128,
}

/// What the validator has counted for a session so far (`sessionState`, `periodState`, `spendState`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionUsage {
    /// Status in the current epoch.
    pub status: SessionStatus,
    /// Operations validated so far, counted only for a session with a `maxUses` cap (0 for an unlimited one).
    pub uses: u32,
    /// Native value debited so far, in wei.
    pub value_spent: u128,
    /// The last period an operation named (scopes with a period).
    pub period_index: u32,
    /// Operations counted in period `period_index`.
    pub uses_in_period: u32,
    /// One entry per spend limit of the scope, in order (missing entries read as zero).
    pub limits: Vec<SpendUsage>,
}

impl SessionUsage {
    /// The usage the validator's views report: `sessionState`, `periodState`, and `spendState(i)` for each spend
    /// limit in order. `None` if the status byte is not one the validator writes.
    pub fn from_views(
        state: &IWarrantValidator::sessionStateReturn,
        period: &IWarrantValidator::periodStateReturn,
        spends: &[IWarrantValidator::spendStateReturn],
    ) -> Option<Self> {
        Some(Self {
            status: SessionStatus::from_u8(state.status)?,
            uses: state.uses,
            value_spent: state.valueSpent,
            period_index: period.periodIndex,
            uses_in_period: period.usesInPeriod,
            limits: spends
                .iter()
                .map(|c| SpendUsage {
                    period_index: c.periodIndex,
                    period_spent: c.periodSpent.to::<u128>(),
                    lifetime_spent: c.lifetimeSpent.to::<u128>(),
                })
                .collect(),
        })
    }
}

/// How the operation presents the session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Presentation {
    /// USE mode: the session must already be enabled.
    Use,
    /// ENABLE mode: the owner's grant enables it in this operation (the grant's own well-formedness is
    /// [`crate::grant::Scope::validate`]'s).
    Enable,
}

/// Why `WarrantValidator` refuses an operation. Every variant but the last two ([`Denial::NotYetValid`],
/// [`Denial::Expired`]: the EntryPoint's AA22) is the Solidity custom error of the same name
/// ([`Denial::name`]), with the same fields.
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
    /// The operation uses a paymaster but the scope pins none: a session may only use one the owner pinned.
    #[error(
        "PaymasterNotPermitted: the operation uses paymaster {paymaster}, but the session may only use a \
         paymaster its scope pins (it pins none)"
    )]
    PaymasterNotPermitted {
        /// The first 20 bytes of `paymasterAndData` (0 if shorter).
        paymaster: Address,
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
    /// The argument word is not a canonical encoding of the condition's argument type (dirty high bits of an
    /// address or uintN, an intN not sign-extended, a bool above 1, bytesN with low bytes set).
    #[error(
        "ArgumentNotCanonical: call {index}, argument word {arg_index} is not a canonical encoding of its type"
    )]
    ArgumentNotCanonical {
        /// Call index.
        index: usize,
        /// Head word index.
        arg_index: u16,
    },
    /// An ill-formed condition in the scope (unknown kind or type, a type that does not fit the kind, a
    /// non-canonical reference value, or a wrong number of values).
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
    /// A spend limit's lifetime cap exceeded.
    #[error(
        "SpendLimitExceeded: the session would have spent {spent} of token {token} in total, above its cap of {cap}"
    )]
    SpendLimitExceeded {
        /// The limited asset (address 0: native value).
        token: Address,
        /// Spent over the session's life after this operation.
        spent: U256,
        /// The cap.
        cap: U256,
    },
    /// A spend limit's per-period cap exceeded.
    #[error(
        "PeriodSpendLimitExceeded: the session would have spent {spent} of token {token} in period {period}, above \
         its cap of {cap} per period"
    )]
    PeriodSpendLimitExceeded {
        /// The limited asset (address 0: native value).
        token: Address,
        /// The period the operation names.
        period: u32,
        /// Spent in the period after this operation.
        spent: U256,
        /// The cap.
        cap: U256,
    },
    /// `maxUsesPerPeriod` reached.
    #[error("PeriodUsesExhausted: the session has made {uses} operations in period {period}, at most {max}")]
    PeriodUsesExhausted {
        /// The period the operation names.
        period: u32,
        /// Operations already counted in it.
        uses: u32,
        /// The cap.
        max: u32,
    },
    /// The operation names a period earlier than one the session already acted in.
    #[error(
        "PeriodStale: the operation names period {period}, the session already acted in period {current}"
    )]
    PeriodStale {
        /// The period the operation names.
        period: u32,
        /// The session's latest period.
        current: u32,
    },
    /// The named period ends beyond 48-bit time (or is the degenerate window ending at time 1).
    #[error("PeriodOutOfRange: period {period} does not fit 48-bit time")]
    PeriodOutOfRange {
        /// The period the operation names.
        period: u32,
    },
    /// A call to a limited token (or to Permit2 while any token is limited) by a route the counters don't see.
    #[error(
        "TokenCallNotAccounted: call {index} to {token} with selector {selector} could move a limited token by a \
         route the spend limits do not count"
    )]
    TokenCallNotAccounted {
        /// Call index.
        index: usize,
        /// The limited token or Permit2.
        token: Address,
        /// The call's selector.
        selector: FixedBytes<4>,
    },
    /// An ill-formed spend limit (a finite cap above 112 bits, or a per-period cap without a period).
    #[error("InvalidSpendLimit: spend limit {limit_index} of the scope is ill-formed")]
    InvalidSpendLimit {
        /// Index of the limit in the scope.
        limit_index: usize,
    },
    /// `maxUsesPerPeriod` without a period.
    #[error("PeriodRequired: the scope limits uses per period but sets no period")]
    PeriodRequired,
    /// An ENABLE operation's grant names another account.
    #[error("GrantAccountMismatch: the grant is for account {grant_account}, not {account}")]
    GrantAccountMismatch {
        /// The grant's account.
        grant_account: Address,
        /// The operation's sender.
        account: Address,
    },
    /// An ENABLE operation's grant names another epoch than the account's: an earlier one (the owner revoked
    /// everything since) or a later one (signed with a wrong `--epoch`).
    #[error(
        "GrantEpochStale: the grant was signed for epoch {grant_epoch}, the account is at epoch {current_epoch} \
         ({})",
        epoch_verdict(*grant_epoch, *current_epoch)
    )]
    GrantEpochStale {
        /// The grant's epoch.
        grant_epoch: u64,
        /// The account's current epoch.
        current_epoch: U256,
    },
    /// The owner's signature over the grant is not valid for the account (ERC-1271).
    #[error("InvalidOwnerSignature: the owner's signature over the grant is not valid for the account")]
    InvalidOwnerSignature,
    /// The module signature does not hold what its mode announces (too short, or session bytes past its end).
    #[error("MalformedSessionSignature: the session signature does not hold the session bytes it announces")]
    MalformedSessionSignature,
    /// Gate `gate_index` is ill-formed (unknown kind, token 0, `minBalance` 0, a token id on an ERC-20 or ERC-721
    /// gate, or more than [`crate::gate::MAX_GATES`] gates): such a session can't be enabled.
    #[error(
        "InvalidGate: gate {gate_index} is ill-formed (an unknown kind, token 0, a minimum of 0, a token id on an \
         ERC-20 or ERC-721 gate, or more than 8 gates)"
    )]
    InvalidGate {
        /// The gate's index in `Scope.gates`.
        gate_index: usize,
    },
    /// The account holds less of a gate's token than the gate requires.
    #[error(
        "GateNotHeld: gate {gate_index} needs the account to hold at least {min_balance} of {token}; it holds {balance}"
    )]
    GateNotHeld {
        /// The gate's index in `Scope.gates`.
        gate_index: usize,
        /// The gate's token.
        token: Address,
        /// What the account holds.
        balance: U256,
        /// What the gate requires.
        min_balance: U256,
    },
    /// A gate's token did not answer `balanceOf` with a word (no code, a revert, or short data).
    #[error(
        "GateUnreadable: gate {gate_index}'s token {token} did not answer balanceOf (no code, a revert, or short data)"
    )]
    GateUnreadable {
        /// The gate's index in `Scope.gates`.
        gate_index: usize,
        /// The gate's token.
        token: Address,
    },
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

/// Why a grant's epoch is not the account's, in words.
fn epoch_verdict(grant_epoch: u64, current_epoch: U256) -> &'static str {
    if U256::from(grant_epoch) < current_epoch {
        "revoked: the account revoked every session since"
    } else {
        "the grant names a later epoch than the account has reached: signed with a wrong epoch"
    }
}

impl Denial {
    /// The rule's name: the Solidity custom error's (and the CLI message's first word); for the two EntryPoint
    /// window refusals, `SessionNotYetValid` and `SessionExpired`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::SessionNotEnabled { .. } => "SessionNotEnabled",
            Self::SessionRevoked { .. } => "SessionRevoked",
            Self::UsesExhausted { .. } => "UsesExhausted",
            Self::PaymasterRequired { .. } => "PaymasterRequired",
            Self::PaymasterNotPermitted { .. } => "PaymasterNotPermitted",
            Self::GasLimitExceeded { .. } => "GasLimitExceeded",
            Self::MaxFeePerGasExceeded { .. } => "MaxFeePerGasExceeded",
            Self::UnsupportedAccountCall { .. } => "UnsupportedAccountCall",
            Self::MalformedCalldata => "MalformedCalldata",
            Self::UnsupportedExecutionMode { .. } => "UnsupportedExecutionMode",
            Self::EmptyBatch => "EmptyBatch",
            Self::ForbiddenTarget { .. } => "ForbiddenTarget",
            Self::CalldataTooShort { .. } => "CalldataTooShort",
            Self::CallNotPermitted { .. } => "CallNotPermitted",
            Self::CallValueExceeded { .. } => "CallValueExceeded",
            Self::ArgumentConditionFailed { .. } => "ArgumentConditionFailed",
            Self::ArgumentMalformed { .. } => "ArgumentMalformed",
            Self::ArgumentNotCanonical { .. } => "ArgumentNotCanonical",
            Self::InvalidCondition { .. } => "InvalidCondition",
            Self::SessionValueExceeded { .. } => "SessionValueExceeded",
            Self::SpendLimitExceeded { .. } => "SpendLimitExceeded",
            Self::PeriodSpendLimitExceeded { .. } => "PeriodSpendLimitExceeded",
            Self::PeriodUsesExhausted { .. } => "PeriodUsesExhausted",
            Self::PeriodStale { .. } => "PeriodStale",
            Self::PeriodOutOfRange { .. } => "PeriodOutOfRange",
            Self::TokenCallNotAccounted { .. } => "TokenCallNotAccounted",
            Self::InvalidSpendLimit { .. } => "InvalidSpendLimit",
            Self::PeriodRequired => "PeriodRequired",
            Self::GrantAccountMismatch { .. } => "GrantAccountMismatch",
            Self::GrantEpochStale { .. } => "GrantEpochStale",
            Self::InvalidOwnerSignature => "InvalidOwnerSignature",
            Self::MalformedSessionSignature => "MalformedSessionSignature",
            Self::InvalidGate { .. } => "InvalidGate",
            Self::GateNotHeld { .. } => "GateNotHeld",
            Self::GateUnreadable { .. } => "GateUnreadable",
            Self::NotYetValid { .. } => "SessionNotYetValid",
            Self::Expired { .. } => "SessionExpired",
        }
    }

    /// Whether this is one of `WarrantValidator`'s custom errors (every denial but the EntryPoint's window
    /// refusals, AA22).
    pub fn is_validator_error(&self) -> bool {
        !matches!(self, Self::NotYetValid { .. } | Self::Expired { .. })
    }
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

/// The outcome of one argument condition (the validator's `evaluateCondition` results 0–4).
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
    /// The argument word is not canonical for the condition's type.
    NotCanonical = 4,
}

fn word(data: &[u8], pos: usize) -> Option<U256> {
    data.get(pos..pos.checked_add(32)?).map(U256::from_be_slice)
}

/// Whether `w` is the canonical ABI encoding of a value of type `ty` (a static type code, see [`arg_type`]).
pub fn is_canonical(ty: u8, w: U256) -> bool {
    match ty {
        0x00..=0x1e => w < U256::from(1u8) << (8 * (usize::from(ty) + 1)),
        0x1f => true,
        0x20..=0x3f => w == sign_extend(ty - 0x20, w),
        0x40..=0x5f => {
            let zero_bytes = 32 - (usize::from(ty - 0x40) + 1);
            w.to_be_bytes::<32>()[32 - zero_bytes..].iter().all(|b| *b == 0)
        }
        arg_type::ADDRESS => w < U256::from(1u8) << 160,
        arg_type::BOOL => w <= U256::from(1u8),
        _ => false,
    }
}

/// EVM `SIGNEXTEND(b, x)`: extends the sign bit of the low `b + 1` bytes of `x` (b < 32).
fn sign_extend(b: u8, x: U256) -> U256 {
    if b >= 31 {
        return x;
    }
    let bits = 8 * (usize::from(b) + 1);
    let mask = (U256::from(1u8) << bits) - U256::from(1u8);
    if x.bit(bits - 1) { x | !mask } else { x & mask }
}

/// Maps two's-complement order onto unsigned order (flip the sign bit), so signed words compare with `<`.
fn signed_key(w: U256) -> U256 {
    w ^ (U256::from(1u8) << 255)
}

/// Whether the validator accepts a condition as well-formed (else `InvalidCondition`): a known kind with its
/// number of values (IN: at least one; others: exactly one), a type that fits the kind (head-word kinds a static
/// type, dynamic kinds [`arg_type::DYNAMIC`]), and head-word reference values canonical for the type.
pub fn condition_well_formed(c: &ArgCondition) -> bool {
    let kind = c.condition;
    let ty = c.argType;
    let n = c.values.len();
    kind <= condition::ARRAY_HASH_EQ
        && (if kind == condition::IN { n != 0 } else { n == 1 })
        && if kind <= condition::IN {
            ty < arg_type::DYNAMIC && c.values.iter().all(|v| is_canonical(ty, U256::from_be_bytes(v.0)))
        } else {
            ty == arg_type::DYNAMIC
        }
}

/// Evaluates one condition on `data` (selector included), exactly as `WarrantValidator`'s `_evaluateCondition`
/// does, in its order: well-formedness, bounds, the canonical word, the comparison.
pub fn evaluate_condition(data: &[u8], c: &ArgCondition) -> ConditionResult {
    let kind = c.condition;
    let ty = c.argType;
    let head_kind = kind <= condition::IN;
    if !condition_well_formed(c) {
        return ConditionResult::Invalid;
    }
    let pos = 4 + 32 * usize::from(c.argIndex);
    let Some(head) = word(data, pos) else { return ConditionResult::Malformed };
    let pass = |ok: bool| if ok { ConditionResult::Pass } else { ConditionResult::Fail };
    if head_kind {
        if !is_canonical(ty, head) {
            return ConditionResult::NotCanonical;
        }
        if kind == condition::IN {
            return pass(c.values.iter().any(|v| U256::from_be_bytes(v.0) == head));
        }
        let reference = U256::from_be_bytes(c.values[0].0);
        let (x, y) = if arg_type::is_signed(ty) {
            (signed_key(head), signed_key(reference))
        } else {
            (head, reference)
        };
        return pass(match kind {
            condition::EQ => head == reference,
            condition::NEQ => head != reference,
            condition::LT => x < y,
            condition::LTE => x <= y,
            condition::GT => x > y,
            _ => x >= y,
        });
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

/// The policy that decides `call`: the first whose target and selector match, as the validator picks it.
pub fn matching_policy<'a>(policies: &'a [CallPolicy], call: &Call) -> Option<&'a CallPolicy> {
    let selector = FixedBytes::<4>::from_slice(call.data.get(..4).unwrap_or(&[0; 4]));
    // A zero-selector policy means empty calldata (plain transfers), not calldata starting with four zero bytes.
    let zero_selector_call = selector == FixedBytes::ZERO && !call.data.is_empty();
    policies.iter().find(|p| {
        (p.flags & ANY_TARGET != 0 || p.target == call.target)
            && (p.flags & ANY_SELECTOR != 0 || (p.selector == selector && !zero_selector_call))
    })
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
    let Some(policy) = matching_policy(policies, call) else {
        let selector = FixedBytes::<4>::from_slice(call.data.get(..4).unwrap_or(&[0; 4]));
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
            ConditionResult::NotCanonical => {
                return Err(Denial::ArgumentNotCanonical { index, arg_index: c.argIndex });
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

/// Decodes a batch exactly as `CallChecks.batchLength` does: only the canonical ABI encoding of
/// `Execution[]`, every offset and length bounded against `ec` itself (spec E of the formats). The whole encoding
/// is checked before any call is (as on chain, so a malformed batch is reported as such even when an earlier call
/// would fail its policy). Anything else is `MalformedCalldata`; a zero-length array is `EmptyBatch`. Canonical
/// means the account's decoder reads exactly these calls.
pub fn decode_batch(ec: &[u8]) -> Result<Vec<Call>, Denial> {
    const BAD: Denial = Denial::MalformedCalldata;
    let len = ec.len();
    if len < 64 || word(ec, 0) != Some(U256::from(0x20)) {
        return Err(BAD);
    }
    let count = word(ec, 32).ok_or(BAD)?;
    if count.is_zero() {
        return Err(Denial::EmptyBatch);
    }
    // Quantities are bounded to 32 bits before any addition, so no sum can wrap.
    if count > U256::from(1u64 << 32) {
        return Err(BAD);
    }
    let count = count.to::<usize>();
    if 64 + 32 * count > len {
        return Err(BAD);
    }
    let mut calls = Vec::with_capacity(count);
    // The offset (from the heads) element i must start at: right after the heads, then each element in turn.
    let mut expected = 32 * count;
    for i in 0..count {
        if word(ec, 64 + 32 * i) != Some(U256::from(expected)) {
            return Err(BAD);
        }
        let element = 64 + expected;
        if element + 128 > len {
            return Err(BAD);
        }
        let target_word = word(ec, element).ok_or(BAD)?;
        let length = word(ec, element + 96).ok_or(BAD)?;
        if target_word >= U256::from(1u8) << 160
            || word(ec, element + 64) != Some(U256::from(0x60))
            || length > U256::from(u32::MAX)
        {
            return Err(BAD);
        }
        let length = length.to::<usize>();
        expected += 128 + length.div_ceil(32) * 32;
        if 64 + expected > len {
            return Err(BAD);
        }
        let start = element + 128;
        calls.push(Call {
            target: Address::from_word(B256::from(target_word)),
            value: word(ec, element + 32).ok_or(BAD)?,
            data: ec[start..start + length].to_vec(),
        });
    }
    if 64 + expected != len {
        return Err(BAD);
    }
    Ok(calls)
}

/// Checks the account call (`execute(bytes32,bytes)`, canonical, single or batch) and every inner call against
/// the scope's policies; returns the native value sent in total.
pub fn check_calls(
    scope: &Scope,
    call_data: &[u8],
    account: Address,
    module: Address,
) -> Result<U256, Denial> {
    check_calls_and_spend(scope, call_data, account, module).map(|(value, _)| value)
}

/// Index of the first limit on `token`, if any (as `SpendAccounting.limitOf`).
fn limit_of(limits: &[SpendLimit], token: Address) -> Option<usize> {
    limits.iter().position(|l| l.token == token)
}

fn low_address(word: U256) -> Address {
    Address::from_word(B256::from(word))
}

/// What call `index` moves of each limited asset, added to `amounts`; the routes of `docs/spend-limits.md`, as
/// `SpendAccounting.accountTokenCall`.
fn account_token_call(
    limits: &[SpendLimit],
    amounts: &mut [U256],
    index: usize,
    call: &Call,
    account: Address,
) -> Result<(), Denial> {
    if limits.is_empty() {
        return Ok(());
    }
    let data = &call.data;
    let selector = FixedBytes::<4>::from_slice(data.get(..4).unwrap_or(&[0; 4]));
    let refuse = || Denial::TokenCallNotAccounted { index, token: call.target, selector };
    let arg = |i: usize| word(data, 4 + 32 * i).unwrap_or_default();
    if let Some(li) = limit_of(limits, call.target) {
        let amount = match selector.0 {
            // transfer, approve (the full amount), increaseAllowance
            [0xa9, 0x05, 0x9c, 0xbb] | [0x09, 0x5e, 0xa7, 0xb3] | [0x39, 0x50, 0x93, 0x51] => {
                if data.len() < 68 {
                    return Err(refuse());
                }
                arg(1)
            }
            // transferFrom(from, to, amount), permit(owner, spender, value, …): only the account's own tokens
            [0x23, 0xb8, 0x72, 0xdd] | [0xd5, 0x05, 0xac, 0xcf] => {
                if data.len() < 100 {
                    return Err(refuse());
                }
                if low_address(arg(0)) == account { arg(2) } else { U256::ZERO }
            }
            // decreaseAllowance
            [0xa4, 0x57, 0xc2, 0xd7] => U256::ZERO,
            _ => return Err(refuse()),
        };
        amounts[li] = amounts[li].saturating_add(amount);
    } else if call.target == PERMIT2 && limits.iter().any(|l| l.token != Address::ZERO) {
        match selector.0 {
            // approve(token, spender, uint160 amount, uint48 expiration)
            [0x87, 0x51, 0x7c, 0x45] => {
                if data.len() < 132 {
                    return Err(refuse());
                }
                if let Some(li) = limit_of(limits, low_address(arg(0))) {
                    amounts[li] = amounts[li].saturating_add(arg(2));
                }
            }
            // transferFrom(from, to, uint160 amount, token)
            [0x36, 0xc7, 0x85, 0x16] => {
                if data.len() < 132 {
                    return Err(refuse());
                }
                if let Some(li) = limit_of(limits, low_address(arg(3)))
                    && low_address(arg(0)) == account
                {
                    amounts[li] = amounts[li].saturating_add(arg(2));
                }
            }
            _ => return Err(refuse()),
        }
    }
    Ok(())
}

/// [`check_calls`], also returning what the calls move of each limited token (one amount per spend limit; the
/// native value is not included).
pub fn check_calls_and_spend(
    scope: &Scope,
    call_data: &[u8],
    account: Address,
    module: Address,
) -> Result<(U256, Vec<U256>), Denial> {
    let mut amounts = vec![U256::ZERO; scope.limits.len()];
    let calls = execute_calls(call_data)?;
    let mut total = U256::ZERO;
    for (i, call) in calls.iter().enumerate() {
        check_call(&scope.calls, i, call, account, module)?;
        total = total.saturating_add(call.value);
    }
    // The spend limits are a second pass once every call is permitted, as in the validator.
    if !amounts.is_empty() {
        for (i, call) in calls.iter().enumerate() {
            account_token_call(&scope.limits, &mut amounts, i, call, account)?;
        }
    }
    Ok((total, amounts))
}

/// The calls of the account's `execute(bytes32 mode, bytes executionCalldata)` calldata, decoded as the validator
/// does: single (mode 0) or batch with revert-on-failure (mode `0x01…`), canonically encoded.
pub fn execute_calls(call_data: &[u8]) -> Result<Vec<Call>, Denial> {
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
        return Ok(vec![Call {
            target: Address::from_slice(&ec[..20]),
            value: U256::from_be_slice(&ec[20..52]),
            data: ec[52..].to_vec(),
        }]);
    }
    let mut batch_mode = [0u8; 32];
    batch_mode[0] = 0x01;
    if mode != B256::from(batch_mode) {
        return Err(Denial::UnsupportedExecutionMode { mode });
    }
    decode_batch(ec)
}

/// What an accepted operation will debit, and the window the validator returns for it. The validator writes the
/// session's slot only when something there changes (a capped session, native value sent, a rate-limited
/// session), and a spend limit's counter only when the operation moves some of its asset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Debit {
    /// Uses after the operation (unchanged for a session without a `maxUses` cap).
    pub uses: u32,
    /// Native value spent after the operation.
    pub value_spent: u128,
    /// The session's period after the operation (kept only for a session with `maxUsesPerPeriod`).
    pub period_index: u32,
    /// Operations counted in that period after the operation (only with `maxUsesPerPeriod`).
    pub uses_in_period: u32,
    /// Every spend limit's counters after the operation, in the scope's order.
    pub limits: Vec<SpendUsage>,
    /// The validAfter the validator returns: the scope's, intersected with the period's (0: none). The
    /// EntryPoint refuses the operation while `now <= valid_after`.
    pub valid_after: u64,
    /// The validUntil the validator returns: the scope's, intersected with the period's (0: forever). The
    /// EntryPoint refuses the operation once `now > valid_until`.
    pub valid_until: u64,
}

impl Debit {
    /// The usage the validator will hold after this operation (status enabled).
    pub fn usage_after(&self) -> SessionUsage {
        SessionUsage {
            status: SessionStatus::Enabled,
            uses: self.uses,
            value_spent: self.value_spent,
            period_index: self.period_index,
            uses_in_period: self.uses_in_period,
            limits: self.limits.clone(),
        }
    }
}

/// The period index an operation sent at `now` should name (in its module signature), or `None` when
/// the scope has no period or `now` is before the first period or past 32-bit indices.
pub fn current_period(scope: &Scope, now: u64) -> Option<u32> {
    let period = u64::from(scope.period);
    let start = scope.periodStart.to::<u64>();
    if period == 0 || now < start {
        return None;
    }
    u32::try_from((now - start) / period).ok()
}

/// `[start, end)` of period `k`, or `None` if the scope has no period or the window is out of the validator's
/// range (`PeriodOutOfRange`).
pub fn period_bounds(scope: &Scope, k: u32) -> Option<(u64, u64)> {
    let period = u64::from(scope.period);
    if period == 0 {
        return None;
    }
    // 128-bit arithmetic: a 32-bit index times a 32-bit period plus a 48-bit start can pass 64 bits.
    let start = u128::from(scope.periodStart.to::<u64>()) + u128::from(k) * u128::from(period);
    let end = start + u128::from(period);
    (2..(1u128 << 48)).contains(&end).then_some((start as u64, end as u64))
}

/// What a spend limit leaves the session now ([`spend_status`]): what `warrant status` shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpendStatus {
    /// The limited asset (address 0: native value).
    pub token: Address,
    /// The current period, if the scope has periods and `now` is inside one.
    pub period: Option<u32>,
    /// What may still be spent in the current period (`None`: no per-period cap).
    pub remaining_in_period: Option<u128>,
    /// What may still be spent over the session's life (`None`: no lifetime cap).
    pub remaining_lifetime: Option<u128>,
    /// When the current period ends and its cap refills (`None` without periods).
    pub refills_at: Option<u64>,
}

/// The remaining amount of limit `limit_index` at time `now`, from the counters `spendState` returns, and the
/// time it refills. `None` if the scope has no such limit.
pub fn spend_status(scope: &Scope, limit_index: usize, usage: &SpendUsage, now: u64) -> Option<SpendStatus> {
    let limit = scope.limits.get(limit_index)?;
    let period = current_period(scope, now);
    let period_spent = match period {
        Some(k) if k == usage.period_index => usage.period_spent,
        _ => 0,
    };
    let remaining = |cap: u128, spent: u128| (cap != NO_CAP).then(|| cap.saturating_sub(spent));
    let remaining_in_period = if scope.period == 0 { None } else { remaining(limit.perPeriod, period_spent) };
    // Remaining in the period can't exceed what the lifetime cap still allows.
    let remaining_lifetime = remaining(limit.lifetime, usage.lifetime_spent);
    let remaining_in_period = match (remaining_in_period, remaining_lifetime) {
        (Some(p), Some(l)) => Some(p.min(l)),
        (p, _) => p,
    };
    let refills_at = period.and_then(|k| period_bounds(scope, k)).map(|(_, end)| end);
    Some(SpendStatus { token: limit.token, period, remaining_in_period, remaining_lifetime, refills_at })
}

fn cap_fits(cap: u128) -> bool {
    cap == NO_CAP || cap <= MAX_U112
}

const MAX_U112: u128 = (1u128 << 112) - 1;

fn effective_cap(cap: u128) -> U256 {
    U256::from(if cap == NO_CAP { MAX_U112 } else { cap })
}

/// The rules `WarrantValidator` enforces on spend rules when a session is enabled (`enableSession`, a grant,
/// `sessionId`, `sessionBytes` all refuse them): a per-period rule needs a period, caps fit the 112-bit counters,
/// at most [`MAX_SPEND_LIMITS`] limits; then the gates ([`crate::gate::check_gates_well_formed`]).
pub fn check_spend_rules(scope: &Scope) -> Result<(), Denial> {
    if scope.period == 0 && scope.maxUsesPerPeriod != 0 {
        return Err(Denial::PeriodRequired);
    }
    for (limit_index, l) in scope.limits.iter().enumerate() {
        if limit_index >= MAX_SPEND_LIMITS
            || !cap_fits(l.perPeriod)
            || !cap_fits(l.lifetime)
            || (scope.period == 0 && l.perPeriod != NO_CAP)
        {
            return Err(Denial::InvalidSpendLimit { limit_index });
        }
    }
    crate::gate::check_gates_well_formed(scope)
}

impl Scope {
    /// The validator's well-formedness rules, for a grant about to be signed: the spend rules and gates it
    /// refuses at enable ([`check_spend_rules`]), then every condition of every policy ([`condition_well_formed`];
    /// the chain would refuse any call matching an ill-formed one with `InvalidCondition`, here `index` is the
    /// policy's). A scope that passes can be enabled and each of its policies can match.
    pub fn validate(&self) -> Result<(), Denial> {
        check_spend_rules(self)?;
        for (index, policy) in self.calls.iter().enumerate() {
            if let Some(condition_index) = policy.conditions.iter().position(|c| !condition_well_formed(c)) {
                return Err(Denial::InvalidCondition { index, condition_index });
            }
        }
        Ok(())
    }
}

/// At most this many spend limits per session: their counters sit within 128 slots of the session's state
/// (ERC-7562's associated storage).
pub const MAX_SPEND_LIMITS: usize = 127;

/// The period rules and spend limits, as `SpendAccounting.debitSpend`, in its order.
fn debit_spend(
    scope: &Scope,
    usage: &SessionUsage,
    k: u32,
    mut amounts: Vec<U256>,
    value_total: U256,
    debit: &mut Debit,
) -> Result<(), Denial> {
    let period = scope.period;
    let limits = &scope.limits;
    if period != 0 {
        let (start, end) = period_bounds(scope, k).ok_or(Denial::PeriodOutOfRange { period: k })?;
        // Intersected with the scope's window: latest validAfter, earliest non-zero validUntil.
        debit.valid_after = debit.valid_after.max(start.saturating_sub(1));
        debit.valid_until = if debit.valid_until == 0 { end - 1 } else { debit.valid_until.min(end - 1) };
    }
    if scope.maxUsesPerPeriod != 0 {
        if k < usage.period_index {
            return Err(Denial::PeriodStale { period: k, current: usage.period_index });
        }
        let uses_in_period = if k > usage.period_index { 0 } else { usage.uses_in_period };
        if uses_in_period >= scope.maxUsesPerPeriod {
            return Err(Denial::PeriodUsesExhausted {
                period: k,
                uses: uses_in_period,
                max: scope.maxUsesPerPeriod,
            });
        }
        debit.period_index = k;
        debit.uses_in_period = uses_in_period + 1;
    }
    if !value_total.is_zero()
        && let Some(native) = limit_of(limits, Address::ZERO)
    {
        amounts[native] = value_total;
    }
    for (i, limit) in limits.iter().enumerate() {
        let amount = amounts[i];
        if amount.is_zero() {
            continue;
        }
        let c = debit.limits[i];
        let mut period_spent = U256::ZERO;
        if period != 0 {
            if c.period_index > k {
                return Err(Denial::PeriodStale { period: k, current: c.period_index });
            }
            let base = if c.period_index == k { c.period_spent } else { 0 };
            period_spent = U256::from(base).saturating_add(amount);
            let cap = effective_cap(limit.perPeriod);
            if period_spent > cap {
                return Err(Denial::PeriodSpendLimitExceeded {
                    token: limit.token,
                    period: k,
                    spent: period_spent,
                    cap,
                });
            }
        }
        let lifetime_spent = U256::from(c.lifetime_spent).saturating_add(amount);
        let cap = effective_cap(limit.lifetime);
        if lifetime_spent > cap {
            return Err(Denial::SpendLimitExceeded { token: limit.token, spent: lifetime_spent, cap });
        }
        debit.limits[i] = SpendUsage {
            period_index: if period != 0 { k } else { 0 },
            period_spent: period_spent.to::<u128>(),
            lifetime_spent: lifetime_spent.to::<u128>(),
        };
    }
    Ok(())
}

/// Everything [`check_operation`] judges: the session, what the validator has counted for it, and the operation.
#[derive(Clone, Copy, Debug)]
pub struct OpCheck<'a> {
    /// The session id (`Session::id(account)`).
    pub session_id: B256,
    /// The session's scope.
    pub scope: &'a Scope,
    /// What the validator has counted for the session so far.
    pub usage: &'a SessionUsage,
    /// USE or ENABLE.
    pub presentation: Presentation,
    /// The operation (its signature is not read: `period` and `signature_valid` say what it carries).
    pub op: &'a PackedUserOperation,
    /// The sender.
    pub account: Address,
    /// The `WarrantValidator` module.
    pub module: Address,
    /// The period index the module signature names (0 for a session without a period).
    pub period: u32,
    /// Whether the session signature recovers to the session's signer. `false` is the validator's estimation
    /// path: gas and fee caps are skipped and gas counts as 1 wei; every other rule still applies.
    pub signature_valid: bool,
    /// What the account holds of each gate's token (`Scope.gates[i]`, read with [`crate::gate::balance_call`];
    /// `None` when the token did not answer). Empty for a session without gates.
    pub holdings: &'a [Option<U256>],
}

/// Checks a session operation as `WarrantValidator` will (everything but the signatures and the time window,
/// which the EntryPoint enforces: see [`check_time`]), in the validator's order.
pub fn check_operation(check: &OpCheck<'_>) -> Result<Debit, Denial> {
    let &OpCheck {
        session_id,
        scope,
        usage,
        presentation,
        op,
        account,
        module,
        period,
        signature_valid,
        holdings,
    } = check;
    // Ill-formed spend rules can't be enabled: a grant carrying them is refused before its status is read.
    if presentation == Presentation::Enable {
        check_spend_rules(scope)?;
    }
    match (usage.status, presentation) {
        (SessionStatus::Revoked, _) => return Err(Denial::SessionRevoked { id: session_id }),
        (SessionStatus::None, Presentation::Use) => return Err(Denial::SessionNotEnabled { id: session_id }),
        _ => {}
    }
    // Unreachable on chain (such a session is never enabled), refused all the same.
    check_spend_rules(scope)?;
    // Uses are counted only against a cap (uses < maxUses <= u32::MAX, so the counter can't overflow).
    let uses = if scope.maxUses != 0 {
        if usage.uses >= scope.maxUses {
            return Err(Denial::UsesExhausted { uses: usage.uses, max: scope.maxUses });
        }
        usage.uses + 1
    } else {
        usage.uses
    };
    let gas_cost = check_gas(scope, op, signature_valid)?;
    let (value, amounts) = check_calls_and_spend(scope, &op.callData, account, module)?;
    // Gas the account pays is native outflow, debited with the calls' value.
    let value_total = value.saturating_add(gas_cost);
    // Value is debited (and checked against the cap) only when the operation sends some.
    let value_spent = if value_total.is_zero() {
        usage.value_spent
    } else {
        let spent = U256::from(usage.value_spent).saturating_add(value_total);
        if spent > scope.maxValueTotal {
            return Err(Denial::SessionValueExceeded { total: spent, cap: scope.maxValueTotal });
        }
        if spent > U256::from(u128::MAX) {
            return Err(Denial::SessionValueExceeded { total: spent, cap: U256::from(u128::MAX) });
        }
        spent.to::<u128>()
    };
    let mut limits = usage.limits.clone();
    limits.resize(scope.limits.len(), SpendUsage::default());
    let mut debit = Debit {
        uses,
        value_spent,
        period_index: usage.period_index,
        uses_in_period: usage.uses_in_period,
        limits,
        valid_after: scope.validAfter.to::<u64>(),
        valid_until: scope.validUntil.to::<u64>(),
    };
    if scope.has_spend_section() {
        debit_spend(scope, usage, period, amounts, value_total, &mut debit)?;
        crate::gate::check_gates(scope, holdings)?;
    }
    Ok(debit)
}

/// The most an operation can cost its payer: `(verificationGasLimit + callGasLimit + preVerificationGas) ×
/// maxFeePerGas`, in 256 bits, saturating (what the validator counts when the account pays).
pub fn max_gas_cost(op: &PackedUserOperation) -> U256 {
    let unpacked = op.unpack();
    let gas = U256::from(unpacked.verification_gas_limit)
        .saturating_add(U256::from(unpacked.call_gas_limit))
        .saturating_add(op.preVerificationGas);
    gas.saturating_mul(U256::from(unpacked.max_fee_per_gas))
}

/// The paymaster and gas rules, as the validator's; returns the gas cost the session is charged (0 when a pinned
/// paymaster pays, 1 wei on the estimation path).
fn check_gas(scope: &Scope, op: &PackedUserOperation, signature_valid: bool) -> Result<U256, Denial> {
    let pmd = &op.paymasterAndData;
    let gas_cost = if scope.paymaster != Address::ZERO {
        if pmd.len() < 20 || Address::from_slice(&pmd[..20]) != scope.paymaster {
            return Err(Denial::PaymasterRequired { required: scope.paymaster });
        }
        U256::ZERO
    } else if !pmd.is_empty() {
        let paymaster = if pmd.len() >= 20 { Address::from_slice(&pmd[..20]) } else { Address::ZERO };
        return Err(Denial::PaymasterNotPermitted { paymaster });
    } else if signature_valid {
        max_gas_cost(op)
    } else {
        U256::from(1u8)
    };
    if !signature_valid {
        return Ok(gas_cost);
    }
    let unpacked = op.unpack();
    if scope.maxGasLimit != 0 {
        let pm_gas = |field: &[u8]| U256::from_be_slice(field);
        let (pm_verification, pm_post_op) = if pmd.len() >= 52 {
            (pm_gas(&pmd[20..36]), pm_gas(&pmd[36..52]))
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
    Ok(gas_cost)
}

/// The scope's time window as the EntryPoint v0.8 enforces it from the returned validationData: refused when
/// `now <= validAfter` or (`validUntil != 0` and) `now > validUntil`. With a period, use [`check_op_time`].
pub fn check_time(scope: &Scope, now: u64) -> Result<(), Denial> {
    check_window(scope.validAfter.to::<u64>(), scope.validUntil.to::<u64>(), now)
}

/// The whole window of an accepted operation (the scope's intersected with its period's, as the validator returns
/// it); the EntryPoint refuses the op outside it.
pub fn check_op_time(debit: &Debit, now: u64) -> Result<(), Denial> {
    check_window(debit.valid_after, debit.valid_until, now)
}

/// One window as the EntryPoint enforces it: refused when `now <= valid_after` (if non-zero) or `now > valid_until`
/// (if non-zero).
pub fn check_window(valid_after: u64, valid_until: u64, now: u64) -> Result<(), Denial> {
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
            calls: vec![CallPolicy {
                target: TARGET,
                selector: FixedBytes::ZERO,
                flags: 0,
                maxValue: U256::MAX,
                conditions: vec![],
            }],
            ..Default::default()
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

    /// The verdict, reduced to (uses, value spent) after the operation.
    fn check(scope: &Scope, usage: SessionUsage, value: u64) -> Result<(u32, u128), Denial> {
        let op = op(value);
        check_operation(&OpCheck {
            session_id: B256::ZERO,
            scope,
            usage: &usage,
            presentation: Presentation::Use,
            op: &op,
            account: ACCOUNT,
            module: MODULE,
            period: 0,
            signature_valid: true,
            holdings: &[],
        })
        .map(|d| (d.uses, d.value_spent))
    }

    fn enabled(uses: u32, value_spent: u128) -> SessionUsage {
        SessionUsage { status: SessionStatus::Enabled, uses, value_spent, ..Default::default() }
    }

    #[test]
    fn uses_are_counted_only_against_a_cap() {
        let unlimited = scope(0, U256::ZERO);
        assert_eq!(check(&unlimited, enabled(0, 0), 0), Ok((0, 0)));
        let capped = scope(2, U256::ZERO);
        assert_eq!(check(&capped, enabled(1, 0), 0), Ok((2, 0)));
        assert_eq!(check(&capped, enabled(2, 0), 0), Err(Denial::UsesExhausted { uses: 2, max: 2 }));
    }

    #[test]
    fn value_is_debited_only_when_sent() {
        let s = scope(0, U256::from(100));
        assert_eq!(check(&s, enabled(0, 100), 0), Ok((0, 100)));
        assert_eq!(check(&s, enabled(0, 60), 40), Ok((0, 100)));
        assert_eq!(
            check(&s, enabled(0, 60), 41),
            Err(Denial::SessionValueExceeded { total: U256::from(101), cap: U256::from(100) })
        );
    }

    fn daily(per_period: u128, lifetime: u128) -> Scope {
        Scope {
            period: 86_400,
            periodStart: alloy_primitives::Uint::from(1_000_000u64),
            limits: vec![SpendLimit { token: Address::with_last_byte(7), perPeriod: per_period, lifetime }],
            ..Default::default()
        }
    }

    #[test]
    fn periods_and_their_bounds() {
        let scope = daily(100, NO_CAP);
        assert_eq!(current_period(&scope, 999_999), None, "before the anchor");
        assert_eq!(current_period(&scope, 1_000_000), Some(0));
        assert_eq!(current_period(&scope, 1_086_399), Some(0));
        assert_eq!(current_period(&scope, 1_086_400), Some(1));
        assert_eq!(period_bounds(&scope, 1), Some((1_086_400, 1_172_800)));
        assert_eq!(period_bounds(&scope, u32::MAX), None, "past 48-bit time");
        assert_eq!(current_period(&Scope::default(), 5), None, "no period");
        // The degenerate window [0, 1) would read as validUntil 0 = forever: out of range.
        let tiny = Scope { period: 1, ..Default::default() };
        assert_eq!(period_bounds(&tiny, 0), None);
        assert_eq!(period_bounds(&tiny, 1), Some((1, 2)));
    }

    #[test]
    fn remaining_and_refill() {
        let scope = daily(100, 250);
        let usage = SpendUsage { period_index: 0, period_spent: 60, lifetime_spent: 200 };
        let now = 1_000_000 + 10;
        let status = spend_status(&scope, 0, &usage, now).unwrap();
        assert_eq!(status.period, Some(0));
        assert_eq!(status.remaining_in_period, Some(40));
        assert_eq!(status.remaining_lifetime, Some(50));
        assert_eq!(status.refills_at, Some(1_086_400));
        // In the next period the per-period cap is fresh, bounded by what the lifetime cap still allows.
        let later = spend_status(&scope, 0, &usage, 1_086_400).unwrap();
        assert_eq!(later.period, Some(1));
        assert_eq!(later.remaining_in_period, Some(50));
        assert_eq!(later.refills_at, Some(1_172_800));
        let unlimited = spend_status(&daily(NO_CAP, NO_CAP), 0, &usage, now).unwrap();
        assert_eq!((unlimited.remaining_in_period, unlimited.remaining_lifetime), (None, None));
        assert_eq!(spend_status(&scope, 1, &usage, now), None, "no such limit");
    }

    #[test]
    fn window_checks_follow_the_entry_point() {
        assert!(check_window(99, 199, 100).is_ok());
        assert!(matches!(check_window(99, 199, 99), Err(Denial::NotYetValid { .. })));
        assert!(matches!(check_window(99, 199, 200), Err(Denial::Expired { .. })));
        assert!(check_window(0, 0, 5).is_ok());
    }
}
