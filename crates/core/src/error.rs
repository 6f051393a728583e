use alloy_primitives::Address;

/// Errors of Warrant's pure logic.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CoreError {
    /// The operation's initCode carries the EIP-7702 marker, so its hash depends on the sender's delegate,
    /// which the caller did not supply.
    #[error(
        "user operation of {sender} is an EIP-7702 operation: its hash needs the sender's delegate address"
    )]
    MissingEip7702Delegate {
        /// The operation's sender.
        sender: Address,
    },
    /// A packed gas or fee field does not fit the 16 bytes the EntryPoint gives it.
    #[error("{field} = {value} does not fit in 128 bits")]
    FieldTooLarge {
        /// The field's name in the wire form.
        field: &'static str,
        /// Its value.
        value: String,
    },
    /// Chain id 0 makes an authorization valid on every chain; refused unless asked for explicitly.
    #[error(
        "refusing an EIP-7702 authorization with chain id 0 (valid on every chain); ask for it explicitly"
    )]
    AnyChainAuthorizationRefused,
    /// EIP-7702 requires an authorization nonce below 2^64 - 1.
    #[error("EIP-7702 authorization nonce must be below 2^64 - 1")]
    AuthorizationNonceTooLarge,
    /// The authorization's signature has s > secp256k1n/2, which EIP-7702 rejects.
    #[error("authorization signature has a high s value (s > secp256k1n/2); EIP-7702 rejects it")]
    HighS,
    /// The authorization does not decode or its signature does not recover.
    #[error("invalid EIP-7702 authorization: {0}")]
    InvalidAuthorization(String),
    /// Delegating to the zero address clears a delegation rather than installing one.
    #[error("delegate is the zero address, which clears a delegation; use a reset authorization for that")]
    DelegateIsZero,
    /// The delegate has no code.
    #[error("delegate {delegate} has no code: nothing would run, and code could be deployed there later")]
    DelegateHasNoCode {
        /// The delegate.
        delegate: Address,
    },
    /// The delegate is itself a delegated EOA; EIP-7702 does not follow chains of delegations.
    #[error("delegate {delegate} is itself an EIP-7702-delegated account; delegations do not chain")]
    DelegateIsDelegated {
        /// The delegate.
        delegate: Address,
    },
    /// The delegate is the CREATE2 deployer, which would let anyone deploy from the EOA.
    #[error("delegate is the CREATE2 deployer: anyone could deploy contracts from the account")]
    DelegateIsDeployer,
    /// A signer failed to sign.
    #[error("signing failed: {0}")]
    Signing(String),
    /// An operation needs at least one call.
    #[error("a session operation needs at least one call")]
    NoCalls,
    /// The signed grant is for another account, module or chain than the operation.
    #[error("the grant is for {field} {grant}, but the operation is for {op}")]
    GrantMismatch {
        /// What differs: "account", "module" or "chain id".
        field: &'static str,
        /// The grant's value.
        grant: String,
        /// The operation's value.
        op: String,
    },
    /// The key that signed is not the session's signer.
    #[error("the session key signed as {actual}, but the session's signer is {expected}")]
    SessionKeyMismatch {
        /// The session's signer.
        expected: Address,
        /// The address the signature recovers to.
        actual: Address,
    },
    /// A P-256 public key that is not a point on the curve, or not in the encoding asked for.
    #[error("invalid P-256 session key: {0}")]
    InvalidP256Key(String),
    /// P-256 signature halves the validator would refuse.
    #[error("invalid P-256 signature: {0}")]
    InvalidP256Signature(String),
    /// A session signature that the validator would not accept for the session's signer.
    #[error("the session signature is not one the validator accepts for signer {signer}: {reason}")]
    BadSessionSignature {
        /// The session's signer.
        signer: Address,
        /// Why.
        reason: String,
    },
    /// The EIP-7702 authorization carried by an operation does not match it.
    #[error("the EIP-7702 authorization {0}")]
    AuthorizationMismatch(String),
    /// A grant token was refused.
    #[error(transparent)]
    GrantToken(#[from] crate::token::TokenError),
    /// A grant that the chain would refuse, or that could never be used, was not signed.
    #[error("grant not signed: {0}")]
    InvalidGrant(String),
    /// A scope breaks a rule the validator applies (named as the chain names it); the grant was not signed.
    #[error("grant not signed: {0}")]
    InvalidScope(crate::policy::Denial),
    /// An account whose `accountId()` names no implementation Warrant knows.
    #[error("account implementation {account_id:?} is not one Warrant knows (known: {}); name it with --account-kind", known.join(", "))]
    UnknownAccount {
        /// What `accountId()` returned.
        account_id: String,
        /// The ids Warrant knows, with their kind names.
        known: Vec<String>,
    },
    /// The account checks its owner through a validator module, which the caller did not name.
    #[error(
        "a {kind} account checks its owner's signature through a validator module: name the owner's validator"
    )]
    OwnerValidatorNeeded {
        /// The account kind.
        kind: &'static str,
    },
    /// A nonce key suffix the account's nonce layout has no room for.
    #[error("a {kind} account's nonce key has room for a suffix up to {max}, not {suffix}")]
    NonceKeySuffix {
        /// The account kind.
        kind: &'static str,
        /// The suffix asked for.
        suffix: u32,
        /// The largest suffix that fits.
        max: u32,
    },
}
