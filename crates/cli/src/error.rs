/// Errors of the `warrant` command line.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    /// The chain side failed.
    #[error(transparent)]
    Chain(#[from] warrant_chain::ChainError),
    /// Warrant's core logic refused its input.
    #[error(transparent)]
    Core(#[from] warrant_core::CoreError),
    /// Output could not be written as JSON.
    #[error("cannot write JSON output: {0}")]
    Json(#[from] serde_json::Error),
    /// A command-line argument or input file is malformed.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The keystore refused (missing key, wrong password, bad permissions, …).
    #[error(transparent)]
    Keystore(#[from] warrant_keystore::KeystoreError),
    /// A bundler, the chain or Warrant's pre-flight refused an operation (the message names the rule).
    #[error("{0}")]
    Refused(String),
    /// Signing failed.
    #[error("signing failed: {0}")]
    Signing(String),
}
