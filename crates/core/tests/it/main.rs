//! Integration tests of warrant-core: vectors published by other implementations, grant tokens, the JSON
//! form, plain-words rendering and the session operation builder.

mod eip7702_vectors;
mod explain;
mod grant_json;
mod session_op;
mod support;
mod token;
