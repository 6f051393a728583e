//! One module per command: its arguments (`…Args`, from the shared groups in [`crate::args`]) and its `run`.

pub(crate) mod auth;
pub(crate) mod check;
pub(crate) mod delegate;
pub(crate) mod demo;
pub(crate) mod devnet;
pub(crate) mod explain;
pub(crate) mod grant;
pub(crate) mod key;
pub(crate) mod revoke;
pub(crate) mod send;
pub(crate) mod serve;
pub(crate) mod service;
pub(crate) mod status;
pub(crate) mod undelegate;
