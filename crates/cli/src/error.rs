use warrant_client::ClientError;

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
    /// The client library failed, or a bundler refused the operation ([`ClientError::is_refusal`]).
    #[error(transparent)]
    Client(warrant_client::ClientError),
    /// Warrant's pre-flight denied the operation: the validator would refuse it with this rule. `words` say what
    /// broke it in the user's terms ([`warrant_core::explain_denial`]).
    #[error("pre-flight: denied — {}: {words}", .denial.name())]
    Denied {
        /// The rule.
        denial: warrant_core::policy::Denial,
        /// The parameter, its value and the bound it broke, in token units and dates where known.
        words: String,
    },
    /// The command refused before anything was sent, by a rule of the chain's state it names (a session already
    /// revoked, an EOA not delegated): nothing to do, and no gas spent.
    #[error("refused — {rule}: {detail}")]
    Refused {
        /// The rule's name.
        rule: &'static str,
        /// What the state is.
        detail: String,
    },
    /// Signing failed.
    #[error("signing failed: {0}")]
    Signing(String),
    /// `warrant serve` could not start or stopped on an error (storage, master key, node, listener).
    #[error("service: {0}")]
    ServiceStopped(String),
    /// The Warrant service did not answer (not running, wrong URL, timeout).
    #[error("cannot reach the Warrant service at {0}")]
    ServiceUnreachable(String),
    /// A service run ended other than included: refused or skipped by a rule (exit 1), reverted, failed or
    /// cancelled (exit 2).
    #[error("run {state}{}: {detail}", .rule.as_ref().map(|r| format!(" — {r}")).unwrap_or_default())]
    RunEnded {
        /// The run's state.
        state: String,
        /// The rule that refused it.
        rule: Option<String>,
        /// The run's error.
        detail: String,
    },
    /// The Warrant service answered an error: `{"error", "message", "rule"?}`. With a rule it is a refusal (exit
    /// 1); bad input and the rest exit 2.
    #[error("{}", service_text(*.status, .code, .message, .rule.as_deref()))]
    Service {
        /// The HTTP status.
        status: u16,
        /// The API's error code (`bad_request`, `forbidden`, …).
        code: String,
        /// What the service said.
        message: String,
        /// The rule that refused it.
        rule: Option<String>,
    },
}

/// How a service's error answer is printed: a refusal as the other commands print one, the rest with the HTTP
/// status and the API's code.
fn service_text(status: u16, code: &str, message: &str, rule: Option<&str>) -> String {
    match rule {
        Some(rule) => format!("refused — {rule}: {message}"),
        None => format!("service: {code} ({status}): {message}"),
    }
}

impl CliError {
    /// Whether the operation was refused by a rule the error names (the pre-flight's, or a bundler's refusal
    /// that names the validator's rule, an EntryPoint `AAxx` check or a token's error): exit 1. A refusal that
    /// names nothing, like any other failure, is an error: exit 2.
    pub(crate) fn is_refusal(&self) -> bool {
        self.rule().is_some()
    }

    /// What `--json` puts in `detail`: a denial's words (the rule is in `rule`), else the whole message.
    pub(crate) fn detail(&self) -> String {
        match self {
            Self::Denied { words, .. } => words.clone(),
            other => other.to_string(),
        }
    }

    /// The name of the rule that refused, if any.
    pub(crate) fn rule(&self) -> Option<&str> {
        match self {
            Self::Denied { denial, .. } => Some(denial.name()),
            Self::Refused { rule, .. } => Some(rule),
            Self::Service { rule, .. } | Self::RunEnded { rule, .. } => rule.as_deref(),
            Self::Client(e) if e.is_refusal() => e.named().map(|n| n.name),
            _ => None,
        }
    }
}

impl From<ClientError> for CliError {
    /// The pre-flight's denial is printed one way wherever it comes from.
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Denied { denial, words } => Self::Denied { denial, words },
            other => Self::Client(other),
        }
    }
}
