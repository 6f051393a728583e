//! Settings: flags, then the environment, then a TOML config file (`--config`), then defaults, in that order of
//! precedence. Nothing secret is read from flags: the master key comes from a file or `WARRANT_MASTER_KEY`.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use serde::Deserialize;

use crate::ServiceError;

/// What a new API token may do, as `warrant-service token create` and `warrant service token create` take it.
#[derive(Clone, Debug, clap::Args)]
pub struct NewTokenArgs {
    /// Session names the token may act on (comma-separated, or `*`).
    #[arg(long, value_delimiter = ',', required = true)]
    pub sessions: Vec<String>,
    /// What to call it (listings, the audit log).
    #[arg(long, default_value = "")]
    pub label: String,
    /// An admin token: it may also create, list and revoke API tokens over the API (`/v1/tokens`).
    #[arg(long)]
    pub admin: bool,
}

/// Settings of `warrant serve` (and `warrant-service serve`).
#[derive(Clone, Debug, Default, clap::Args, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ServeArgs {
    /// A TOML file with any of these settings (keys as the flags, e.g. `rpc-url = "…"`).
    #[arg(long, env = "WARRANT_CONFIG")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Where the service keeps its SQLite database and generated master key (created if missing).
    #[arg(long, env = "WARRANT_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// `postgres://…` for PostgreSQL (several instances), or `sqlite://…`; default SQLite in the data directory.
    #[arg(long, env = "WARRANT_DATABASE_URL")]
    pub database_url: Option<String>,
    /// A file holding the master key (64 hex digits). Default: `WARRANT_MASTER_KEY`, else `master.key` in the
    /// data directory, generated on first start.
    #[arg(long, env = "WARRANT_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,
    /// Address to listen on (loopback by default).
    #[arg(long, env = "WARRANT_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// JSON-RPC URL of a node.
    #[arg(long, env = "ETH_RPC_URL")]
    pub rpc_url: Option<String>,
    /// JSON-RPC URL of an ERC-4337 bundler serving EntryPoint v0.8.
    #[arg(long, env = "WARRANT_BUNDLER_URL")]
    pub bundler_url: Option<String>,
    /// Seconds one request to the node or bundler may take.
    #[arg(long, env = "ETH_RPC_TIMEOUT")]
    pub rpc_timeout: Option<u64>,
    /// Seconds a key's lease lasts without renewal (another instance takes a dead one's keys after it).
    #[arg(long, env = "WARRANT_LEASE_SECS")]
    pub lease_secs: Option<u64>,
    /// Milliseconds between the worker's claims.
    #[arg(long, env = "WARRANT_TICK_MS")]
    pub tick_ms: Option<u64>,
    /// Seconds to wait for a receipt before looking again later.
    #[arg(long, env = "WARRANT_RECEIPT_TIMEOUT_SECS")]
    pub receipt_timeout_secs: Option<u64>,
    /// First retry delay in milliseconds for node and bundler failures (doubling).
    #[arg(long, env = "WARRANT_BACKOFF_MS")]
    pub backoff_ms: Option<u64>,
    /// Longest retry delay in milliseconds.
    #[arg(long, env = "WARRANT_MAX_BACKOFF_MS")]
    pub max_backoff_ms: Option<u64>,
    /// Keys this instance works on at once (each key's runs go one at a time).
    #[arg(long, env = "WARRANT_MAX_KEYS")]
    pub max_keys: Option<usize>,
    /// Logs as JSON lines instead of text.
    #[arg(long, env = "WARRANT_LOG_JSON")]
    pub log_json: Option<bool>,
    /// Serves ERC-7715 permission requests (`POST /rpc`) and the consent page (`/consent`) for accounts with
    /// this `WarrantValidator` module installed (docs/erc7715.md). Unset: neither is served.
    #[arg(long, env = "WARRANT_ERC7715_MODULE")]
    pub erc7715_module: Option<String>,
    /// Origins of dApps allowed to call `/rpc` from a browser (CORS), comma-separated (`http://localhost:3000`).
    #[arg(long, env = "WARRANT_DAPP_ORIGINS")]
    pub dapp_origins: Option<String>,
    /// The browser package the consent page loads (`warrant.js`, `pkg/`): `web/` after `scripts/build-web`.
    #[arg(long, env = "WARRANT_WEB_DIR")]
    pub web_dir: Option<PathBuf>,
    /// Seconds a permission request is held open waiting for the owner before it answers "still pending".
    #[arg(long, env = "WARRANT_PERMISSION_WAIT_SECS")]
    pub permission_wait_secs: Option<u64>,
    /// Dry run, for staging a schedule: runs are pre-flighted, signed and recorded as for real, then end
    /// `signed` and are never sent. A database is for dry runs or for real sends, never both (checked at start).
    #[arg(long, env = "WARRANT_DRY_RUN", num_args = 0..=1, default_missing_value = "true")]
    pub dry_run: Option<bool>,
}

/// The settings the service runs with, every default applied.
#[derive(Clone, Debug)]
pub struct Config {
    /// Data directory.
    pub data_dir: PathBuf,
    /// Database URL.
    pub database_url: String,
    /// Where the master key comes from.
    pub master_key: MasterKeySource,
    /// Listen address.
    pub listen: SocketAddr,
    /// Node URL.
    pub rpc_url: String,
    /// Bundler URL.
    pub bundler_url: String,
    /// Per-request timeout.
    pub rpc_timeout: Duration,
    /// Lease length.
    pub lease: Duration,
    /// Worker tick.
    pub tick: Duration,
    /// Receipt wait.
    pub receipt_timeout: Duration,
    /// First retry delay.
    pub backoff: Duration,
    /// Longest retry delay.
    pub max_backoff: Duration,
    /// Keys worked on at once.
    pub max_keys: usize,
    /// JSON logs.
    pub log_json: bool,
    /// ERC-7715 permission requests and the consent page (`None`: not served).
    pub erc7715: Option<Erc7715Config>,
    /// Dry run: runs end `signed`, nothing is sent (`--dry-run`).
    pub dry_run: bool,
}

/// Settings of the ERC-7715 endpoints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Erc7715Config {
    /// The `WarrantValidator` module the grants are for (the responses' `delegationManager`).
    pub module: alloy::primitives::Address,
    /// dApp origins allowed to call `/rpc` from a browser.
    pub dapp_origins: Vec<String>,
    /// The browser package's directory (`warrant.js`, `pkg/`).
    pub web_dir: PathBuf,
    /// How long a permission request is held open for the owner's decision.
    pub wait: Duration,
}

/// Where the master key comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MasterKeySource {
    /// A file (created with a new key if it is the data directory's default and missing).
    File {
        /// The path.
        path: PathBuf,
        /// Create it when missing (only the default path).
        create: bool,
    },
    /// `WARRANT_MASTER_KEY`.
    Env,
}

/// The default listen address: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8645";

impl ServeArgs {
    /// Fills what flags and environment left unset from the config file, then applies defaults.
    pub fn resolve(&self) -> Result<Config, ServiceError> {
        let file = match &self.config {
            Some(path) => read_file(path)?,
            None => ServeArgs::default(),
        };
        let data_dir =
            self.data_dir.clone().or(file.data_dir).unwrap_or_else(|| PathBuf::from("warrant-data"));
        let database_url = self
            .database_url
            .clone()
            .or(file.database_url)
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("warrant.db").display()));
        let master_key = match self.master_key_file.clone().or(file.master_key_file) {
            Some(path) => MasterKeySource::File { path, create: false },
            None if std::env::var_os("WARRANT_MASTER_KEY").is_some() => MasterKeySource::Env,
            None => MasterKeySource::File { path: data_dir.join("master.key"), create: true },
        };
        let need = |v: Option<String>, what: &str| {
            v.ok_or_else(|| {
                ServiceError::Config(format!("{what} is required (flag, environment or config file)"))
            })
        };
        Ok(Config {
            listen: match self.listen.or(file.listen) {
                Some(a) => a,
                None => DEFAULT_LISTEN.parse().expect("a valid default"),
            },
            rpc_url: need(self.rpc_url.clone().or(file.rpc_url), "--rpc-url (ETH_RPC_URL)")?,
            bundler_url: need(
                self.bundler_url.clone().or(file.bundler_url),
                "--bundler-url (WARRANT_BUNDLER_URL)",
            )?,
            rpc_timeout: Duration::from_secs(self.rpc_timeout.or(file.rpc_timeout).unwrap_or(45).max(1)),
            lease: Duration::from_secs(self.lease_secs.or(file.lease_secs).unwrap_or(30).max(2)),
            tick: Duration::from_millis(self.tick_ms.or(file.tick_ms).unwrap_or(500).max(10)),
            receipt_timeout: Duration::from_secs(
                self.receipt_timeout_secs.or(file.receipt_timeout_secs).unwrap_or(30).max(1),
            ),
            backoff: Duration::from_millis(self.backoff_ms.or(file.backoff_ms).unwrap_or(1000).max(1)),
            max_backoff: Duration::from_millis(
                self.max_backoff_ms.or(file.max_backoff_ms).unwrap_or(60_000).max(1),
            ),
            max_keys: self.max_keys.or(file.max_keys).unwrap_or(16).max(1),
            log_json: self.log_json.or(file.log_json).unwrap_or(false),
            erc7715: match self.erc7715_module.clone().or(file.erc7715_module) {
                None => None,
                Some(module) => Some(Erc7715Config {
                    module: module.trim().parse().map_err(|e| {
                        ServiceError::Config(format!("--erc7715-module {module:?} is not an address: {e}"))
                    })?,
                    dapp_origins: self
                        .dapp_origins
                        .clone()
                        .or(file.dapp_origins)
                        .map(|o| parse_origins(&o))
                        .transpose()?
                        .unwrap_or_default(),
                    web_dir: self.web_dir.clone().or(file.web_dir).unwrap_or_else(|| PathBuf::from("web")),
                    wait: Duration::from_secs(
                        self.permission_wait_secs.or(file.permission_wait_secs).unwrap_or(300).clamp(1, 3600),
                    ),
                }),
            },
            dry_run: self.dry_run.or(file.dry_run).unwrap_or(false),
            data_dir,
            database_url,
            master_key,
        })
    }
}

impl ServeArgs {
    /// [`Self::resolve`] for the commands that only need storage and the master key (no node, no bundler).
    pub fn resolve_offline(&self) -> Result<Config, ServiceError> {
        let mut args = self.clone();
        args.rpc_url.get_or_insert_with(|| "http://unused.invalid".into());
        args.bundler_url.get_or_insert_with(|| "http://unused.invalid".into());
        args.resolve()
    }
}

fn read_file(path: &Path) -> Result<ServeArgs, ServiceError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ServiceError::Config(format!("cannot read the config file {}: {e}", path.display())))?;
    toml::from_str(&text).map_err(|e| ServiceError::Config(format!("{}: {e}", path.display())))
}

/// `scheme://host[:port]` origins, comma-separated; a path, a wildcard or an empty entry is refused (CORS
/// compares origins exactly).
fn parse_origins(text: &str) -> Result<Vec<String>, ServiceError> {
    text.split(',')
        .map(str::trim)
        .map(|o| {
            let ok = (o.starts_with("http://") || o.starts_with("https://"))
                && !o.ends_with('/')
                && o.split("://").nth(1).is_some_and(|rest| !rest.is_empty() && !rest.contains('/'))
                && !o.contains('*');
            if ok {
                Ok(o.to_string())
            } else {
                Err(ServiceError::Config(format!(
                    "--dapp-origins: {o:?} is not an origin (scheme://host[:port], no path, no wildcard)"
                )))
            }
        })
        .collect()
}
