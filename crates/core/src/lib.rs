//! Warrant's pure logic, shared by every front end: EntryPoint v0.8 user operations (wire and packed forms,
//! the EIP-712 `userOpHash`), and the protocol constants the chain side relies on.
//!
//! This crate does no I/O and builds for `wasm32-unknown-unknown`, so wallets can embed the same checks the CLI
//! runs.

pub mod constants;
pub mod eip7702;
mod error;
pub mod grant;
pub mod policy;
pub mod revert;
pub mod user_op;

pub use error::CoreError;
pub use user_op::{IEntryPoint, PackedUserOperation, UserOperation};
