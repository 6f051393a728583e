use alloy::primitives::Address;
use warrant_chain::{ChainError, bundler::BundlerRpcError};
use warrant_core::{CoreError, policy::Denial};

/// Errors of the client library.
///
/// Two of them are refusals of the operation rather than failures: [`ClientError::Denied`] (Warrant's
/// pre-flight, before anything is signed) and [`ClientError::Refused`] (the bundler, whose simulation ran the
/// validator). Both name the rule when there is one; [`ClientError::denial`] gives it either way.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The pre-flight refused the operation: the validator would refuse it with this rule. Nothing was signed.
    /// `words` say it in the user's terms ([`warrant_core::explain_denial`]): parameter names, token units read
    /// from the node, dates.
    #[error("pre-flight: denied — {}: {words}", .denial.name())]
    Denied {
        /// The rule.
        denial: Denial,
        /// What broke it, in words.
        words: String,
    },
    /// The bundler refused the operation. `rule` is the validator's rule when its revert data came back.
    #[error("bundler: {} — {refusal}", match (.rule, refusal.named()) {
        (Some(rule), _) => format!("denied — {rule}"),
        (None, Some(named)) => format!("refused — {named}"),
        (None, None) => "refused".into(),
    })]
    Refused {
        /// The validator's rule, decoded from the bundler's answer.
        rule: Option<Denial>,
        /// The bundler's error as it answered.
        refusal: Box<BundlerRpcError>,
    },
    /// A transaction reverts: the node's gas estimate (or the call it simulates) reverted, so nothing was sent.
    /// `named` is its revert by name when the SDK knows the data (an account's, a token's or the validator's
    /// error).
    #[error("{method}: the transaction reverts — {}", match .named {
        Some(named) => named.to_string(),
        None => format!("revert data {data} (not an error the SDK knows)"),
    })]
    TransactionReverted {
        /// The request that reverted (`eth_estimateGas` when alloy fills the gas).
        method: String,
        /// The revert by name.
        named: Option<warrant_core::revert::NamedRevert>,
        /// The revert data.
        data: alloy::primitives::Bytes,
    },
    /// A node or a bundler could not be asked, or answered with an error (connection refused, timeout, …).
    #[error(transparent)]
    Chain(ChainError),
    /// Warrant's core logic refused its input (a grant for another account, a key that is not the session's, …).
    #[error(transparent)]
    Core(#[from] CoreError),
    /// An operation needs a bundler and the client has none.
    #[error("no bundler: connect with a bundler URL to send user operations")]
    NoBundler,
    /// Two things that must be on one chain are not.
    #[error("{what} is for chain {expected}, the node is chain {actual}")]
    WrongChain {
        /// What is on the other chain (the grant, the bundler, a restore transaction).
        what: &'static str,
        /// Its chain.
        expected: u64,
        /// The node's chain.
        actual: u64,
    },
    /// The account's implementation could not be told from its `accountId()`.
    #[error("can't tell which account implementation {account} runs (accountId() failed: {reason}); name it")]
    UnknownAccount {
        /// The account.
        account: Address,
        /// Why detection failed.
        reason: String,
    },
    /// Something the client does not do (yet), named.
    #[error("{0}")]
    Unsupported(String),
    /// A restore transaction (EIP-7702) is not what it claims to be.
    #[error("restore transaction: {0}")]
    Restore(String),
}

impl ClientError {
    /// The validator's rule that refused the operation, from the pre-flight or from the bundler.
    pub fn denial(&self) -> Option<&Denial> {
        match self {
            Self::Denied { denial, .. } => Some(denial),
            Self::Refused { rule, .. } => rule.as_ref(),
            _ => None,
        }
    }

    /// The refusal by name: the validator's rule, or (from a bundler) an EntryPoint `AAxx` check or a token's
    /// error the SDK knows. `None` for failures and for refusals that name nothing.
    pub fn named(&self) -> Option<warrant_core::revert::NamedRevert> {
        match self {
            Self::Denied { denial, words } => Some(warrant_core::revert::NamedRevert {
                name: denial.name(),
                detail: format!("{}: {words}", denial.name()),
            }),
            Self::Refused { refusal, .. } => refusal.named(),
            Self::TransactionReverted { named, .. } => named.clone(),
            _ => None,
        }
    }

    /// Whether this is a refusal of the operation (by the pre-flight or the bundler, or a transaction whose revert
    /// names a rule), not a failure to ask.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            Self::Denied { .. } | Self::Refused { .. } | Self::TransactionReverted { named: Some(_), .. }
        )
    }
}

impl From<ChainError> for ClientError {
    /// A bundler's refusal becomes [`ClientError::Refused`] with its rule decoded; anything else stays a chain
    /// error.
    fn from(e: ChainError) -> Self {
        match e {
            ChainError::Bundler(refusal) => {
                Self::Refused { rule: refusal.denial(), refusal: Box::new(refusal) }
            }
            other => Self::Chain(other),
        }
    }
}
