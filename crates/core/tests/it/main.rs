//! Integration tests of warrant-core against vectors published by other implementations.

mod eip7702_vectors;
