//! Integration tests of the in-process chain against the real EntryPoint v0.8 bytecode.

mod differential;
mod eip7702;
mod entry_point;
mod session_op;
mod support;
