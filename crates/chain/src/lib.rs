//! Warrant's chain side: contract artifacts, and an in-process EVM chain (revm) that runs the real EntryPoint
//! v0.8 at its canonical address, EIP-7702 transactions, and bundles of user operations.
//!
//! The in-process chain is for tests and demos; it runs the same bytecode a real node would. Against real
//! processes, [`bundler::BundlerClient`] speaks a bundler's ERC-7769 JSON-RPC interface, and [`devnet::Devnet`]
//! runs anvil and the Alto bundler for end-to-end tests.

pub mod accounts;
pub mod artifacts;
pub mod bundler;
mod dev_chain;
#[cfg(unix)]
pub mod devnet;
mod error;
pub mod gate;

pub use dev_chain::{ChainConfig, DevChain, HandleOpsOutcome, Hardfork, Receipt, TxRequest, create2_address};
pub use error::ChainError;
