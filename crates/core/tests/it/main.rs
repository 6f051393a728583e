//! Integration tests of warrant-core: vectors published by other implementations, grant tokens, the JSON
//! form, plain-words rendering and the session operation builder.

mod eip7702_vectors;
mod erc7715;
mod errors;
mod explain;
mod explain_denial;
mod grant_json;
mod p256;
mod policy;
mod session_op;
mod support;
mod token;
