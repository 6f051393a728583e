//! Unit-level tests of warrant-client (no network).
