//! The Warrant service: session keys for programs that run unattended (scheduled jobs, agents, backends).
//!
//! It creates session keys and keeps them sealed under a master key ([`keys`]), attaches the owner's grants,
//! runs one-off and recurring jobs exactly once through a node and a bundler ([`worker`], [`executor`]), and
//! serves an HTTP JSON API with an OpenAPI document ([`api`]). Storage is SQLite in a data directory by default
//! or PostgreSQL for several instances ([`storage`]). See `docs/service.md`.
//!
//! [`serve`] runs it until SIGINT or SIGTERM; [`start`] runs it in the background (tests, embedding).

pub mod api;
pub mod calls;
pub mod config;
pub mod erc7715;
mod error;
pub mod executor;
pub mod ids;
pub mod keys;
pub mod metrics;
pub mod schedule;
pub mod storage;
pub mod worker;

use std::{net::SocketAddr, sync::Arc};

pub use config::{Config, Erc7715Config, MasterKeySource, NewTokenArgs, ServeArgs};
pub use error::ServiceError;
use tokio::sync::watch;
use tracing::info;

use crate::{
    executor::{ChainExecutor, Executor},
    keys::MasterKey,
    metrics::Metrics,
    storage::Storage,
    worker::{Worker, WorkerConfig},
};

/// Reads the master key the configuration names (creating the data directory's default file if missing).
pub fn load_master_key(config: &Config) -> Result<MasterKey, ServiceError> {
    match &config.master_key {
        MasterKeySource::Env => {
            let text = zeroize::Zeroizing::new(std::env::var("WARRANT_MASTER_KEY").unwrap_or_default());
            MasterKey::from_hex(&text).map_err(|e| ServiceError::Config(format!("WARRANT_MASTER_KEY: {e}")))
        }
        MasterKeySource::File { path, create } => {
            if *create && !path.exists() {
                info!(path = %path.display(), "no master key yet: generated one (keep it apart from the database)");
                MasterKey::create_file(path)
            } else {
                MasterKey::from_file(path)
            }
        }
    }
}

/// Opens the configured storage (creating the data directory for SQLite).
pub async fn open_storage(config: &Config) -> Result<Arc<dyn Storage>, ServiceError> {
    if config.database_url.starts_with("sqlite:") {
        std::fs::create_dir_all(&config.data_dir).map_err(|e| {
            ServiceError::Config(format!(
                "cannot create the data directory {}: {e}",
                config.data_dir.display()
            ))
        })?;
    }
    Ok(storage::open(&config.database_url).await?)
}

/// Creates an API token straight in the storage `serve` names (the operator's way to the first admin token: no
/// running service or node needed), audited as `operator`. Answers the token, shown once; only its hash is kept.
pub async fn issue_token(
    serve: &ServeArgs,
    sessions: &[String],
    label: &str,
    admin: bool,
) -> Result<String, ServiceError> {
    let config = serve.resolve_offline()?;
    let storage = open_storage(&config).await?;
    let master = load_master_key(&config)?;
    keys::check_master_key(storage.as_ref(), &master).await?;
    let (token, mut row) = api::new_token(sessions, label).map_err(ServiceError::Config)?;
    row.admin = admin;
    storage.insert_token(&row).await?;
    let detail = serde_json::json!({ "sessions": row.sessions, "label": label, "admin": admin }).to_string();
    storage.audit("operator", "token.create", &row.id, &detail, ids::now()).await?;
    Ok(token)
}

/// The `meta` row that says whether a database is for dry runs (`dry-run`) or real sends (`live`).
pub const MODE_META: &str = "mode";

/// Binds the database to one mode on its first start and refuses the other afterwards. A dry run signs
/// operations without consuming their nonces, so its recorded operations would collide with real ones: a dry-run
/// database must never send, and a live one never holds dry-run records. A database from before this row
/// existed that already has runs is a live one.
pub async fn check_mode(storage: &dyn Storage, dry_run: bool) -> Result<(), ServiceError> {
    let wanted = if dry_run { "dry-run" } else { "live" };
    let mode = match storage.meta(MODE_META).await? {
        Some(mode) => mode,
        None => {
            let first = if dry_run && storage.has_runs().await? { "live" } else { wanted };
            storage.init_meta(MODE_META, first).await?
        }
    };
    if mode != wanted {
        return Err(ServiceError::Config(if dry_run {
            "this database records real sends; --dry-run needs a database of its own".into()
        } else {
            "this database is a dry run's (its runs were signed, never sent, and their nonces not consumed); \
             start it with --dry-run, or use another database for real sends"
                .into()
        }));
    }
    Ok(())
}

/// A running service.
pub struct Running {
    /// Where the API listens.
    pub addr: SocketAddr,
    /// This instance's id.
    pub instance: String,
    /// Storage.
    pub storage: Arc<dyn Storage>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<Result<(), ServiceError>>,
}

impl Running {
    /// Stops gracefully: the API stops taking requests, the worker finishes its current steps; runs whose
    /// receipt is still awaited stay recorded as in doubt and are reconciled at the next start.
    pub async fn stop(self) -> Result<(), ServiceError> {
        let _ = self.stop.send(true);
        self.task.await.map_err(|e| ServiceError::Internal(e.to_string()))?
    }
}

/// Starts the service in the background with `executor` (or one connected to the configured node and bundler):
/// storage, master key check, reconciliation of in-flight runs (before anything else), then the worker and the
/// API.
pub async fn start(config: Config, executor: Option<Arc<dyn Executor>>) -> Result<Running, ServiceError> {
    let storage = open_storage(&config).await?;
    let master = Arc::new(load_master_key(&config)?);
    keys::check_master_key(storage.as_ref(), &master).await?;
    check_mode(storage.as_ref(), config.dry_run).await?;
    let executor: Arc<dyn Executor> = match executor {
        Some(e) => e,
        None => {
            let rpc = config.rpc_url.parse().map_err(|e| ServiceError::Config(format!("--rpc-url: {e}")))?;
            let bundler = config
                .bundler_url
                .parse()
                .map_err(|e| ServiceError::Config(format!("--bundler-url: {e}")))?;
            Arc::new(ChainExecutor::connect(rpc, bundler, config.rpc_timeout).await?)
        }
    };
    let metrics = Metrics::new();
    let (stop, stop_rx) = watch::channel(false);
    let worker_config = WorkerConfig {
        lease: config.lease,
        tick: config.tick,
        receipt_timeout: config.receipt_timeout,
        backoff: config.backoff,
        max_keys: config.max_keys,
        max_backoff: config.max_backoff,
        submit_window: config.rpc_timeout,
        dry_run: config.dry_run,
        ..WorkerConfig::default()
    };
    let instance = worker_config.instance.clone();
    let worker = Arc::new(Worker::new(
        storage.clone(),
        executor.clone(),
        master.clone(),
        metrics.clone(),
        worker_config,
        stop_rx.clone(),
    ));
    let reconciled = worker.reconcile().await?;
    info!(instance = %instance, reconciled, "reconciled in-flight runs");
    storage
        .audit(
            "service",
            "service.start",
            &instance,
            &serde_json::json!({ "reconciled": reconciled }).to_string(),
            ids::now(),
        )
        .await?;
    let chain_id = executor.chain_id();
    let sends = Arc::new(api::Sends::new(
        storage::GroupCommit::start(storage.clone()),
        worker.locks(),
        worker.wake(),
        config.dry_run,
    ));
    let state = api::AppState {
        storage: storage.clone(),
        executor,
        master,
        metrics,
        instance: instance.clone(),
        sends,
    };
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| ServiceError::Io(format!("cannot listen on {}: {e}", config.listen)))?;
    let addr = listener.local_addr().map_err(|e| ServiceError::Io(e.to_string()))?;
    info!(%addr, storage = storage.backend(), "listening");
    let mut app = api::router(state);
    if let Some(settings) = config.erc7715.clone() {
        // ERC-7715 requests and the consent page (src/erc7715.rs): a router of their own, merged here.
        let erc7715 = erc7715::Erc7715State::new(
            storage.clone(),
            settings,
            chain_id,
            config.rpc_url.clone(),
            config.rpc_timeout,
            stop_rx.clone(),
        );
        app = app.merge(erc7715::router(Arc::new(erc7715)));
    }
    let mut api_stop = stop_rx.clone();
    let task = tokio::spawn(async move {
        let worker_task = tokio::spawn(worker.run());
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = api_stop.wait_for(|s| *s).await;
            })
            .await
            .map_err(|e| ServiceError::Io(e.to_string()));
        let _ = worker_task.await;
        served
    });
    Ok(Running { addr, instance, storage, stop, task })
}

/// Runs the service until SIGINT or SIGTERM, then stops gracefully. What `warrant serve` runs.
pub async fn serve(config: Config) -> Result<(), ServiceError> {
    let running = start(config, None).await?;
    shutdown_signal().await;
    info!("shutting down");
    running.stop().await
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// Sets up logging (text or JSON lines, `RUST_LOG` filter, default `info`). Secrets are never logged.
pub fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if json { builder.json().try_init() } else { builder.try_init() };
}
