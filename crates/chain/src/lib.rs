//! Warrant's chain side: contract artifacts, and an in-process EVM chain (revm) that runs the real EntryPoint
//! v0.8 at its canonical address, EIP-7702 transactions, and bundles of user operations.
//!
//! The in-process chain is for tests and demos; it runs the same bytecode a real node would.

pub mod artifacts;
mod dev_chain;
mod error;

pub use dev_chain::{ChainConfig, DevChain, HandleOpsOutcome, Hardfork, Receipt, TxRequest, create2_address};
pub use error::ChainError;
