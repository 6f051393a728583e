//! Warrant's benchmarks (`scripts/bench`): gas on anvil against the owner path, eth-infinitism's
//! `Simple7702Account` and MetaMask's Delegation Framework, and off-chain signing against the raw rate of
//! libsecp256k1 and against viem. They print figures; nothing here is a timed test.

pub mod gas;
pub mod jobs;
pub mod report;
pub mod sign;
pub mod signer;

/// Why a benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// A key is not a valid secp256k1 secret.
    #[error("invalid key: {0}")]
    InvalidKey(String),
    /// The SDK refused to build or sign an operation.
    #[error(transparent)]
    Core(#[from] warrant_core::CoreError),
    /// The chain side failed (anvil, deployment, artifacts).
    #[error(transparent)]
    Chain(#[from] warrant_chain::ChainError),
    /// The client library failed to read the chain.
    #[error(transparent)]
    Client(#[from] warrant_client::ClientError),
    /// Signing failed.
    #[error("signing: {0}")]
    Signing(#[from] alloy::signers::Error),
    /// Pre-flight refused the benchmark's own operation.
    #[error("pre-flight refused the benchmark's operation: {0}")]
    Denied(String),
    /// Two results that must be equal differ.
    #[error("mismatch: {0}")]
    Mismatch(String),
    /// A job failed on chain.
    #[error("{job}: {reason}")]
    Job {
        /// The job.
        job: String,
        /// What went wrong.
        reason: String,
    },
    /// An input or output file.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: std::path::PathBuf,
        /// What went wrong.
        reason: String,
    },
}
