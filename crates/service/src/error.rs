//! The service's errors.

use crate::{executor::ExecError, storage::StorageError};

/// Errors of the service outside a request.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A setting is missing or wrong.
    #[error("configuration: {0}")]
    Config(String),
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The node or bundler failed.
    #[error(transparent)]
    Chain(#[from] ExecError),
    /// A key's secret can't be used.
    #[error("{0}")]
    KeyUnavailable(String),
    /// An I/O error (binding the listener, …).
    #[error("{0}")]
    Io(String),
    /// A bug.
    #[error("internal: {0}")]
    Internal(String),
}
