use std::path::PathBuf;

use alloy::primitives::Address;

use crate::bundler::BundlerRpcError;

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
    /// A JSON-RPC request could not be made or its answer could not be read (connection refused, bad JSON, …).
    #[error("{method} failed: {reason}")]
    Transport {
        /// The JSON-RPC method.
        method: String,
        /// What went wrong.
        reason: String,
    },
    /// A node answered a JSON-RPC request with an error.
    #[error("{method} refused by the node ({code}): {message}")]
    Node {
        /// The JSON-RPC method.
        method: String,
        /// The JSON-RPC error code.
        code: i64,
        /// The error message.
        message: String,
    },
    /// The bundler refused a request; see [`BundlerRpcError`] for the decoded ERC-7769 code and revert data.
    #[error(transparent)]
    Bundler(#[from] BundlerRpcError),
    /// Something did not happen in time (a receipt, a process becoming ready).
    #[error("timed out after {seconds} s waiting for {what}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long.
        seconds: u64,
    },
    /// An executable the local network needs is not installed.
    #[error("{tool} not found at {path}: {hint}")]
    ToolMissing {
        /// The tool (anvil, node, Alto).
        tool: &'static str,
        /// Where it was looked for.
        path: PathBuf,
        /// How to install it.
        hint: &'static str,
    },
    /// A process of the local network failed to start or exited early.
    #[error("{process} failed: {reason} (log: {log})")]
    Process {
        /// Which process.
        process: &'static str,
        /// What happened, with the end of its log.
        reason: String,
        /// Its log file.
        log: PathBuf,
    },
}
