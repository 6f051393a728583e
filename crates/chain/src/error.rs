use std::path::PathBuf;

use alloy::primitives::Address;

/// Errors of the chain side.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// A contract artifact is missing or unreadable; the toolchain install has not run.
    #[error("cannot read contract artifact {path}: {reason} (run `scripts/install-toolchain` to install it)")]
    Artifact {
        /// The file looked for.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The EVM refused a transaction before executing it (bad nonce, insufficient funds, …).
    #[error("transaction rejected by the EVM: {0}")]
    Evm(String),
    /// A deployment produced no contract.
    #[error("deployment reverted or halted: {0}")]
    DeploymentFailed(String),
    /// A contract landed somewhere other than where it must.
    #[error("{what} deployed at {actual}, expected {expected}")]
    WrongAddress {
        /// Which contract.
        what: &'static str,
        /// Where it must be.
        expected: Address,
        /// Where it is.
        actual: Address,
    },
    /// A read-only call reverted.
    #[error("call to {to} reverted: 0x{data}")]
    CallReverted {
        /// The contract called.
        to: Address,
        /// The revert data, hex.
        data: String,
    },
    /// Return data did not decode as the expected type.
    #[error("cannot decode return data: {0}")]
    Decode(String),
    /// Signing failed.
    #[error("signing failed: {0}")]
    Signing(String),
    /// A hardfork name that the in-process chain does not run.
    #[error("unknown hardfork {0:?}: expected `osaka` or `prague`")]
    UnknownHardfork(String),
}
