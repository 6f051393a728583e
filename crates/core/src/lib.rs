//! Warrant's pure logic, shared by every front end: EntryPoint v0.8 user operations (wire and packed forms,
//! the EIP-712 `userOpHash`), EIP-7702 authorizations, grants and scopes (their hashes, the pre-flight
//! evaluator, grant tokens, the JSON form, plain-words rendering), the session operation builder, and the
//! protocol constants the chain side relies on.
//!
//! This crate does no I/O and builds for `wasm32-unknown-unknown`, so wallets can embed the same checks the CLI
//! runs.

pub mod account;
pub mod constants;
pub mod eip7702;
mod error;
pub mod explain;
pub mod gate;
pub mod grant;
pub mod grant_json;
pub mod p256;
pub mod policy;
pub mod revert;
pub mod session_op;
pub mod token;
pub mod user_op;

pub use error::CoreError;
pub use user_op::{IEntryPoint, PackedUserOperation, UserOperation};
