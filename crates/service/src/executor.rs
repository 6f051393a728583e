//! What the service needs from a chain, as a trait: [`Executor`]. The split of a send into prepare (pre-flight,
//! then sign), submit, and receipt is what makes runs exactly-once: the worker records the signed operation
//! (nonce, period, userOpHash) between prepare and submit, and reconciles with [`Executor::receipt`] and
//! [`Executor::nonce`] after a crash. [`ChainExecutor`] implements it on a node and a bundler.

mod bases;
mod chain;

use alloy::{
    primitives::{Address, B256, U256},
    signers::local::PrivateKeySigner,
};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use warrant_core::{UserOperation, policy::Call, token::SignedGrant};

pub use chain::ChainExecutor;

/// A session the service sends for: its key, its grant, and the nonce lane its operations use.
#[derive(Clone, Debug)]
pub struct Session {
    /// The session key.
    pub signer: PrivateKeySigner,
    /// The grant attached to it.
    pub grant: SignedGrant,
    /// EntryPoint nonce key suffix: one sequence per key, so keys of one account do not race for nonces.
    pub nonce_lane: u32,
}

/// A signed operation, not yet sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prepared {
    /// The signed operation.
    pub op: UserOperation,
    /// Its userOpHash.
    pub hash: B256,
    /// Its nonce (key ‖ sequence).
    pub nonce: U256,
    /// The period it names (0 for a scope without periods).
    pub period: u32,
}

/// An included operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpReceipt {
    /// Its userOpHash.
    pub hash: B256,
    /// Whether its execution succeeded.
    pub success: bool,
    /// The bundle transaction.
    pub transaction_hash: B256,
}

/// What one spend limit leaves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LimitLeft {
    /// The asset (0x0: native value).
    pub token: String,
    /// Left in the current period, decimal (`null`: no per-period cap).
    pub remaining_in_period: Option<String>,
    /// Left over the session's life, decimal (`null`: no lifetime cap).
    pub remaining_lifetime: Option<String>,
    /// When the current period's cap refills (unix seconds).
    pub refills_at: Option<u64>,
}

/// A session as the chain counts it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SessionStatus {
    /// `not_enabled` (the grant enables it with the first operation), `enabled`, `revoked`, `expired` or
    /// `exhausted`.
    pub state: String,
    /// The rule behind a state other than enabled / not_enabled.
    pub reason: Option<String>,
    /// Operations counted so far (for a session with a use cap).
    pub uses: u32,
    /// The use cap (0: none).
    pub max_uses: u32,
    /// Native value spent so far, wei, decimal.
    pub value_spent: String,
    /// The current period, if the scope has periods.
    pub period: Option<u32>,
    /// When the current period ends.
    pub period_ends_at: Option<u64>,
    /// When the session expires (unix seconds; `null`: never).
    pub valid_until: Option<u64>,
    /// Every spend limit, in the grant's order.
    pub limits: Vec<LimitLeft>,
}

/// Why an executor step failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExecError {
    /// The pre-flight (or the bundler's simulation) refused the operation under a rule: nothing was signed or sent.
    #[error("{rule}: {message}")]
    Denied {
        /// The rule's name (`Denial::name`, the Solidity custom error).
        rule: String,
        /// The full refusal.
        message: String,
        /// When a period cap refills, if the refusal is a period's.
        refills_at: Option<u64>,
    },
    /// The node or the bundler failed or timed out: try again later.
    #[error("node or bundler unavailable: {0}")]
    Transient(String),
    /// The bundler refused this signed operation (it was not accepted; it may or may not be valid later).
    #[error("the bundler refused the operation: {0}")]
    Rejected(String),
    /// A problem retrying cannot fix (bad grant, wrong chain).
    #[error("{0}")]
    Fatal(String),
}

/// The chain side of the service. The methods mirror `warrant-client`'s `prepare`, `submit`, `receipt` and
/// `status`, so either can run the service.
#[async_trait]
pub trait Executor: Send + Sync + 'static {
    /// The chain id.
    fn chain_id(&self) -> u64;
    /// Chain time (the latest block's timestamp).
    async fn now(&self) -> Result<u64, ExecError>;
    /// Runs the pre-flight on the final operation and signs it; [`ExecError::Denied`] before anything is signed.
    async fn prepare(&self, session: &Session, calls: &[Call]) -> Result<Prepared, ExecError>;
    /// An operation [`Executor::prepare`] signed for `session` was not recorded (and will never be sent): what
    /// the executor counted of it must not be built on. The default keeps nothing to forget.
    fn forget(&self, _session: &Session) {}
    /// Sends a prepared operation to the bundler. Sending the same operation again is harmless: its nonce lets
    /// it execute at most once.
    async fn submit(&self, prepared: &Prepared) -> Result<B256, ExecError>;
    /// Whether the bundler holds this operation (in its mempool or in a bundle not yet mined): then it is not
    /// sent again. Alto counts every submission of an operation it already holds against the sender's mempool
    /// allowance (ERC-7562: 4 for an unstaked sender) and never gives it back, so resending held operations
    /// ends with every operation of that sender refused (`InsufficientStake`). The default, for executors
    /// without a bundler, is "not held".
    async fn held_by_bundler(&self, _hash: B256) -> Result<bool, ExecError> {
        Ok(false)
    }
    /// The receipt of an included operation, `None` while it is not included.
    async fn receipt(&self, hash: B256) -> Result<Option<OpReceipt>, ExecError>;
    /// The EntryPoint nonce (key ‖ sequence) the session's next operation takes.
    async fn nonce(&self, session: &Session) -> Result<U256, ExecError>;
    /// The session's counters and what each limit has left.
    async fn status(&self, session: &Session) -> Result<SessionStatus, ExecError>;
    /// The account's address for a grant (for display).
    fn account(&self, session: &Session) -> Address {
        session.grant.grant.account
    }
}
