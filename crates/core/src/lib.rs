//! Warrant's pure logic, shared by every front end: EntryPoint v0.8 user operations (wire and packed forms,
//! the EIP-712 `userOpHash`), EIP-7702 authorizations, grants and scopes (their hashes, the pre-flight
//! evaluator, grant tokens, the JSON form, plain-words rendering), the session operation builder, and the
//! protocol constants the chain side relies on.
//!
//! The types most callers need are re-exported at the root: a [`Grant`] of a [`Session`] with its [`Scope`],
//! signed by the owner ([`sign_grant`]) into a [`SignedGrant`]; a [`SessionOp`] of [`Call`]s signed by the
//! session key; and the pre-flight, [`check_operation`], which returns the [`Denial`] naming the validator's
//! rule. Talking to a node and a bundler is `warrant-client`'s job.
//!
//! This crate does no I/O and builds for `wasm32-unknown-unknown`, so wallets can embed the same checks the CLI
//! runs.

pub mod account;
pub mod constants;
pub mod eip7702;
pub mod erc7715;
mod error;
pub mod explain;
pub mod explain_denial;
pub mod gate;
pub mod grant;
pub mod grant_json;
pub mod p256;
pub mod policy;
pub mod revert;
pub mod session_op;
pub mod token;
pub mod user_op;

pub use account::AccountKind;
pub use error::CoreError;
pub use grant::{Grant, Scope, Session};
pub use policy::{Call, Denial, OpCheck, check_operation};
pub use session_op::{SessionOp, SignedOp, sign_grant};
pub use token::SignedGrant;
pub use user_op::{IEntryPoint, PackedUserOperation, UserOperation};
