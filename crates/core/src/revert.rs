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

alloy_sol_types::sol! {
    /// OpenZeppelin 5's token errors (ERC-6093), which a session's token call reverts with.
    #[derive(Debug, PartialEq, Eq)]
    interface TokenErrors {
        error ERC20InsufficientBalance(address sender, uint256 balance, uint256 needed);
        error ERC20InvalidSender(address sender);
        error ERC20InvalidReceiver(address receiver);
        error ERC20InsufficientAllowance(address spender, uint256 allowance, uint256 needed);
        error ERC20InvalidApprover(address approver);
        error ERC20InvalidSpender(address spender);
        error ERC721InvalidOwner(address owner);
        error ERC721NonexistentToken(uint256 tokenId);
        error ERC721IncorrectOwner(address sender, uint256 tokenId, address owner);
        error ERC721InvalidSender(address sender);
        error ERC721InvalidReceiver(address receiver);
        error ERC721InsufficientApproval(address operator, uint256 tokenId);
        error ERC721InvalidApprover(address approver);
        error ERC721InvalidOperator(address operator);
        error ERC1155InsufficientBalance(address sender, uint256 balance, uint256 needed, uint256 tokenId);
        error ERC1155InvalidSender(address sender);
        error ERC1155InvalidReceiver(address receiver);
        error ERC1155MissingApprovalForAll(address operator, address owner);
        error ERC1155InvalidApprover(address approver);
        error ERC1155InvalidOperator(address operator);
        error ERC1155InvalidArrayLength(uint256 idsLength, uint256 valuesLength);
    }
}

alloy_sol_types::sol! {
    /// The errors of the account side of a transaction: OpenZeppelin 5's `Account`/ERC-7579 errors (WarrantAccount
    /// is built on them), `Address`'s `FailedCall` (a call of a batch reverted with no data), `MissingPrecompile`
    /// (the validator's P-256 check on a chain without the precompile) and WarrantAccount's own.
    #[derive(Debug, PartialEq, Eq)]
    interface AccountErrors {
        error AccountUnauthorized(address sender);
        error ERC7579UnsupportedCallType(bytes1 callType);
        error ERC7579UnsupportedExecType(bytes1 execType);
        error ERC7579MismatchedModuleTypeId(uint256 moduleTypeId, address module);
        error ERC7579UninstalledModule(uint256 moduleTypeId, address module);
        error ERC7579AlreadyInstalledModule(uint256 moduleTypeId, address module);
        error ERC7579UnsupportedModuleType(uint256 moduleTypeId);
        error ERC7579MissingFallbackHandler(bytes4 selector);
        error FailedCall();
        error MissingPrecompile(address precompile);
        error WarrantAccountUnauthorizedInitializer(address caller);
        error WarrantAccountInvalidInitialization();
    }
}

/// One of the account's errors by name ([`AccountErrors`]), with what it means.
pub fn account_error(data: &[u8]) -> Option<NamedRevert> {
    use AccountErrors::AccountErrorsErrors as A;
    let error = A::abi_decode(data).ok()?;
    let name = A::name_by_selector(error.selector())?;
    let detail = match &error {
        A::AccountUnauthorized(e) => {
            format!("{} may not call the account (only the account or its owner)", e.sender)
        }
        A::ERC7579MismatchedModuleTypeId(e) => {
            format!("{} is not a module of type {} (not a validator?)", e.module, e.moduleTypeId)
        }
        A::ERC7579UninstalledModule(e) => {
            format!("module {} (type {}) is not installed", e.module, e.moduleTypeId)
        }
        A::ERC7579AlreadyInstalledModule(e) => {
            format!("module {} (type {}) is installed already", e.module, e.moduleTypeId)
        }
        A::ERC7579UnsupportedModuleType(e) => {
            format!("the account takes no modules of type {}", e.moduleTypeId)
        }
        A::FailedCall(_) => {
            "a call the account made reverted without a reason (a target without that function?)".into()
        }
        // 0x100: P256VERIFY (RIP-7212, EIP-7951), which the validator's P-256 session keys need.
        A::MissingPrecompile(e) if e.precompile == alloy_primitives::Address::left_padding_from(&[1, 0]) => {
            format!(
                "the chain has no P-256 precompile at {} (RIP-7212 / EIP-7951), so a P-256 session key can't be \
                 verified on it; use a secp256k1 session key here",
                e.precompile
            )
        }
        A::MissingPrecompile(e) => format!("the chain has no precompile at {}", e.precompile),
        other => format!("{other:?}"),
    };
    Some(NamedRevert { name, detail })
}

/// A refusal or revert the SDK can name: one of the validator's rules, one of the EntryPoint's `AAxx` checks,
/// or a token's error. `name` is one word per rule (the Solidity error's name; for the EntryPoint's string
/// reasons, the name in [`entry_point_rule`]); `detail` says the rest in words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedRevert {
    /// The rule's name.
    pub name: &'static str,
    /// What happened, with the values.
    pub detail: String,
}

impl std::fmt::Display for NamedRevert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.detail.starts_with(self.name) {
            f.write_str(&self.detail)
        } else {
            write!(f, "{}: {}", self.name, self.detail)
        }
    }
}

/// The EntryPoint v0.8's `AAxx` reason codes by name, with what each means for the account (one name per code).
const ENTRY_POINT_RULES: &[(&str, &str, &str)] = &[
    ("AA10", "SenderAlreadyConstructed", "the operation carries initCode but the account exists"),
    ("AA13", "InitCodeFailed", "the account's initCode failed or ran out of gas"),
    ("AA14", "InitCodeWrongSender", "initCode must return the sender"),
    ("AA15", "InitCodeNoAccount", "initCode must create the sender"),
    (
        "AA20",
        "AccountNotDeployed",
        "the account has no code: an EOA not delegated (run `warrant delegate`) or an undeployed account",
    ),
    (
        "AA21",
        "InsufficientPrefund",
        "the account cannot pay the operation's maximum gas cost (its ETH balance is below the prefund)",
    ),
    ("AA22", "OutsideValidityWindow", "the operation is expired or not yet due"),
    (
        "AA23",
        "AccountValidationReverted",
        "the account's validation reverted (an account not delegated to WarrantAccount, or a module not installed)",
    ),
    ("AA24", "InvalidSignature", "the signature does not check out"),
    ("AA25", "InvalidAccountNonce", "the nonce is not the account's next one for its key"),
    ("AA26", "VerificationGasExceeded", "validation used more than verificationGasLimit"),
    ("AA30", "PaymasterNotDeployed", "the paymaster has no code"),
    ("AA31", "PaymasterDepositTooLow", "the paymaster's deposit is below the prefund"),
    ("AA32", "PaymasterWindow", "the paymaster's validity window is expired or not due"),
    ("AA33", "PaymasterValidationReverted", "the paymaster's validation reverted"),
    ("AA34", "PaymasterSignatureInvalid", "the paymaster's signature does not check out"),
    ("AA36", "PaymasterVerificationGasExceeded", "the paymaster used more than its verification gas"),
    ("AA40", "VerificationGasLimitTooHigh", "over verificationGasLimit"),
    ("AA41", "VerificationGasTooLow", "too little verificationGas"),
    ("AA50", "PostOpReverted", "the paymaster's postOp reverted"),
    ("AA51", "PrefundBelowCost", "the prefund is below the actual gas cost"),
    ("AA90", "InvalidBeneficiary", "the bundle's beneficiary is invalid"),
    ("AA91", "BeneficiaryPaymentFailed", "paying the beneficiary failed"),
    ("AA92", "InternalCallOnly", "an EntryPoint-internal function was called"),
    ("AA93", "InvalidPaymasterAndData", "paymasterAndData is malformed"),
    ("AA94", "GasValuesOverflow", "a gas value does not fit in 128 bits"),
    ("AA95", "BundleOutOfGas", "the bundle ran out of gas"),
    ("AA96", "InvalidAggregator", "the signature aggregator is invalid"),
];

/// The name and meaning of the EntryPoint's `AAxx` code found in `text` (a `FailedOp` reason, or a bundler's
/// message quoting one), if any.
pub fn entry_point_rule(text: &str) -> Option<(&'static str, &'static str, &'static str)> {
    let at = text.find("AA")?;
    let code = text.get(at..at + 4)?;
    let found = ENTRY_POINT_RULES.iter().find(|(c, _, _)| *c == code).copied();
    found.or_else(|| entry_point_rule(&text[at + 2..]))
}

/// One of OpenZeppelin's token errors by name, with its values.
pub fn token_error(data: &[u8]) -> Option<NamedRevert> {
    use TokenErrors::TokenErrorsErrors as T;
    let error = T::abi_decode(data).ok()?;
    let name = T::name_by_selector(error.selector())?;
    let detail = match &error {
        T::ERC20InsufficientBalance(e) => {
            format!("{} holds {} of the token, the call needs {}", e.sender, e.balance, e.needed)
        }
        T::ERC20InsufficientAllowance(e) => {
            format!("{} may spend {}, the call needs {}", e.spender, e.allowance, e.needed)
        }
        T::ERC1155InsufficientBalance(e) => {
            format!("{} holds {} of id {}, the call needs {}", e.sender, e.balance, e.tokenId, e.needed)
        }
        T::ERC721NonexistentToken(e) => format!("token {} does not exist", e.tokenId),
        T::ERC721IncorrectOwner(e) => format!("token {} belongs to {}, not {}", e.tokenId, e.owner, e.sender),
        T::ERC721InsufficientApproval(e) => format!("{} may not move token {}", e.operator, e.tokenId),
        other => format!("{other:?}"),
    };
    Some(NamedRevert { name, detail })
}

/// Names revert data the SDK knows: the validator's errors (as their [`Denial`]), a token's errors, the account's
/// ([`account_error`]), the
/// EntryPoint's `FailedOp` / `FailedOpWithRevert` (by the inner error when it is one of those, else by the
/// `AAxx` code). `None` for anything else.
pub fn name_revert(data: &[u8]) -> Option<NamedRevert> {
    if let Some(denial) = Denial::from_revert_data(data) {
        return Some(NamedRevert { name: denial.name(), detail: denial.to_string() });
    }
    if let Some(token) = token_error(data) {
        return Some(token);
    }
    if let Some(account) = account_error(data) {
        return Some(account);
    }
    let (reason, inner) = match IEntryPoint::IEntryPointErrors::abi_decode(data).ok()? {
        IEntryPoint::IEntryPointErrors::FailedOp(e) => (e.reason, None),
        IEntryPoint::IEntryPointErrors::FailedOpWithRevert(e) => (e.reason, Some(e.inner)),
    };
    if let Some(inner) = inner.as_ref().and_then(|inner| name_revert(inner)) {
        return Some(NamedRevert { name: inner.name, detail: format!("{reason}: {inner}") });
    }
    let (_, name, meaning) = entry_point_rule(&reason)?;
    Some(NamedRevert { name, detail: format!("{reason} ({meaning})") })
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
    fn entry_point_codes_and_token_errors_are_named() {
        let data = IEntryPoint::FailedOp { opIndex: U256::ZERO, reason: "AA21 didn't pay prefund".into() }
            .abi_encode();
        let named = name_revert(&data).unwrap();
        assert_eq!(named.name, "InsufficientPrefund");
        assert!(named.to_string().starts_with("InsufficientPrefund: AA21 didn't pay prefund"), "{named}");
        // AA23 with the validator's owner-signature error: the validator's rule, not the bare code.
        let inner = WarrantErrors::InvalidOwnerSignature {}.abi_encode();
        let data = IEntryPoint::FailedOpWithRevert {
            opIndex: U256::ZERO,
            reason: "AA23 reverted".into(),
            inner: inner.into(),
        }
        .abi_encode();
        assert_eq!(name_revert(&data).unwrap().name, "InvalidOwnerSignature");
        // AA23 with data nobody knows: the code's name.
        let data = IEntryPoint::FailedOpWithRevert {
            opIndex: U256::ZERO,
            reason: "AA23 reverted".into(),
            inner: vec![0xde, 0xad, 0xbe, 0xef].into(),
        }
        .abi_encode();
        assert_eq!(name_revert(&data).unwrap().name, "AccountValidationReverted");
        let data = TokenErrors::ERC20InsufficientBalance {
            sender: Address::with_last_byte(1),
            balance: U256::from(5),
            needed: U256::from(50),
        }
        .abi_encode();
        let named = name_revert(&data).unwrap();
        assert_eq!(named.name, "ERC20InsufficientBalance");
        assert!(named.detail.contains("holds 5") && named.detail.contains("needs 50"), "{named}");
        assert_eq!(entry_point_rule("reason: AA20 account not deployed").unwrap().1, "AccountNotDeployed");
        assert_eq!(entry_point_rule("no code here, AAH"), None);
        // One name per code.
        let mut names: Vec<_> = ENTRY_POINT_RULES.iter().map(|r| r.1).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ENTRY_POINT_RULES.len());
    }

    #[test]
    fn account_errors_are_named() {
        let failed = AccountErrors::FailedCall {}.abi_encode();
        let named = name_revert(&failed).unwrap();
        assert_eq!(named.name, "FailedCall");
        assert!(named.detail.contains("reverted without a reason"), "{named}");
        let module = Address::with_last_byte(9);
        let mismatch =
            AccountErrors::ERC7579MismatchedModuleTypeId { moduleTypeId: U256::from(1), module }.abi_encode();
        let missing =
            AccountErrors::MissingPrecompile { precompile: Address::with_last_byte(0) }.abi_encode();
        assert_eq!(name_revert(&missing).unwrap().name, "MissingPrecompile");
        // As the validator reverts inside the EntryPoint's validation: AA23 with the inner error named.
        let p256 = Address::from_word(B256::from(U256::from(0x100)));
        let inner = AccountErrors::MissingPrecompile { precompile: p256 }.abi_encode();
        let op = IEntryPoint::FailedOpWithRevert {
            opIndex: U256::ZERO,
            reason: "AA23 reverted".into(),
            inner: inner.into(),
        }
        .abi_encode();
        let named = name_revert(&op).unwrap();
        assert_eq!(named.name, "MissingPrecompile");
        assert!(
            named.detail.contains("no P-256 precompile at 0x0000000000000000000000000000000000000100"),
            "{named}"
        );
        assert_eq!(
            name_revert(&mismatch).unwrap().to_string(),
            format!("ERC7579MismatchedModuleTypeId: {module} is not a module of type 1 (not a validator?)")
        );
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
