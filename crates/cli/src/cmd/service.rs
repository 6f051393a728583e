//! `warrant service …`: commands that talk to a running Warrant service (`warrant serve`) over its HTTP API.
//! One module per command; they share the connection ([`ServiceArgs`]: `--service-url`, `--service-token`)
//! and [`Http`], which turns the service's error answers into [`CliError::Service`]: a refusal with a rule exits
//! 1, bad input and the rest exit 2.

mod admin_token;
mod health;
mod job;
mod key;
mod send;
mod sessions;
mod token;

use std::{process::ExitCode, time::Duration};

use alloy::transports::http::reqwest::{self, Method};
use serde_json::Value;

use crate::{
    CliError,
    args::{ServiceArgs, runtime},
};

/// Arguments of `warrant service`.
#[derive(Debug, clap::Args)]
pub(crate) struct ServiceCli {
    #[command(flatten)]
    conn: ServiceArgs,
    /// Print the service's answer as JSON.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: ServiceCommand,
}

#[derive(Debug, clap::Subcommand)]
enum ServiceCommand {
    /// Whether the service is up, its storage and chain.
    Health,
    /// Session keys the service holds: create one, attach the owner's grant, forget one.
    #[command(subcommand)]
    Key(key::KeyCommand),
    /// The sessions this token may act on, with what each limit has left.
    Sessions,
    /// Send calls now, once (an idempotency key makes a retry answer the same job).
    Send(send::SendArgs),
    /// Jobs: schedule, list, show with their runs (history), pause, resume, cancel.
    #[command(subcommand)]
    Job(job::JobCommand),
    /// API tokens over the API (admin tokens only): create, list, revoke.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// The operator's first admin token, written straight into the service's storage (no running service).
    AdminToken(Box<admin_token::AdminTokenArgs>),
}

pub(crate) fn run(cli: &ServiceCli) -> Result<ExitCode, CliError> {
    let json = cli.json;
    let http = || Http::new(&cli.conn);
    match &cli.command {
        ServiceCommand::Health => health::run(&http()?, json),
        ServiceCommand::Key(command) => key::run(&http()?, command, json),
        ServiceCommand::Sessions => sessions::run(&http()?, json),
        ServiceCommand::Send(args) => send::run(&http()?, args, json),
        ServiceCommand::Job(command) => job::run(&http()?, command, json),
        ServiceCommand::Token(command) => token::run(&http()?, command, json),
        ServiceCommand::AdminToken(args) => admin_token::run(args),
    }
}

/// A client of the service's API: one request at a time on the CLI's single-threaded runtime.
pub(crate) struct Http {
    base: String,
    /// Scheme, host and port only, for messages (no path or credentials a URL might carry).
    origin: String,
    token: Option<String>,
    client: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

impl Http {
    fn new(conn: &ServiceArgs) -> Result<Self, CliError> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(conn.service_timeout))
            .build()
            .map_err(|e| CliError::InvalidInput(format!("cannot build an HTTP client: {e}")))?;
        let base = conn.service_url.as_str().trim_end_matches('/').to_string();
        let origin = conn.service_url.origin().ascii_serialization();
        let token = conn.service_token.as_ref().map(|t| t.trim().to_string());
        Ok(Self { base, origin, token, client, runtime: runtime()? })
    }

    pub(crate) fn get(&self, path: &str) -> Result<Value, CliError> {
        self.call(Method::GET, path, None)
    }

    pub(crate) fn post(&self, path: &str, body: &Value) -> Result<Value, CliError> {
        self.call(Method::POST, path, Some(body))
    }

    pub(crate) fn delete(&self, path: &str) -> Result<Value, CliError> {
        self.call(Method::DELETE, path, None)
    }

    /// One request. A 2xx answers its JSON; an error answer becomes [`CliError::Service`] with the service's
    /// code, message and rule; a service that can't be reached is named with its URL.
    fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value, CliError> {
        let url = format!("{}{path}", self.base);
        let mut request = self.client.request(method, &url);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        } else if path != "/health" {
            return Err(CliError::InvalidInput(
                "no API token: set WARRANT_SERVICE_TOKEN (or pass --service-token)".into(),
            ));
        }
        if let Some(body) = body {
            request =
                request.header(reqwest::header::CONTENT_TYPE, "application/json").body(body.to_string());
        }
        self.runtime.block_on(async {
            let response = request.send().await.map_err(|e| {
                CliError::ServiceUnreachable(format!("{} ({})", self.origin, causes(&e.without_url())))
            })?;
            let status = response.status();
            let text = response.text().await.map_err(|e| {
                let e = causes(&e.without_url());
                CliError::ServiceUnreachable(format!("{} (reading its answer: {e})", self.origin))
            })?;
            let value: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
            if status.is_success() {
                return Ok(value);
            }
            let field = |k: &str| value.get(k).and_then(Value::as_str).map(str::to_string);
            Err(CliError::Service {
                status: status.as_u16(),
                code: field("error").unwrap_or_else(|| "error".into()),
                message: field("message").unwrap_or_else(|| value.to_string()),
                rule: field("rule"),
            })
        })
    }
}

/// An error and its causes, `a: b: c` (reqwest's own message is only "error sending request").
fn causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// Prints `value` as JSON (`--json`) or runs `human` on it.
pub(crate) fn show(value: &Value, json: bool, human: impl FnOnce(&Value)) -> Result<ExitCode, CliError> {
    if json {
        crate::args::print_json(value)?;
    } else {
        human(value);
    }
    Ok(ExitCode::SUCCESS)
}

/// A JSON field as text for human output (`-` when missing).
pub(crate) fn text(value: &Value, key: &str) -> String {
    match value.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => "-".into(),
        Some(other) => other.to_string(),
    }
}

/// A JSON unix time as UTC for human output (`-` when missing).
pub(crate) fn time(value: &Value, key: &str) -> String {
    match value.get(key).and_then(Value::as_u64) {
        Some(t) => warrant_core::explain::format_utc(t),
        None => "-".into(),
    }
}

/// A path segment from user input (a session name, a job or token id), percent-encoded.
pub(crate) fn segment(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
