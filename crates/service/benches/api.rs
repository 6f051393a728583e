//! The service benchmark of `scripts/bench`: signed session operations per second through the HTTP API, with
//! p50 / p99 latency, on SQLite (the default storage) or on the PostgreSQL of `--database-url`. Two paths:
//!
//! - `sign`: the service runs with `--dry-run`; a run is pre-flighted, signed and recorded (nonce, period,
//!   userOpHash) exactly as for real and ends `signed`. Latency: from the `POST /v1/sessions/{name}/send` until
//!   the client sees the run `signed`.
//! - `bundler`: a live service on anvil + Alto; latency until the client sees the run `included`.
//!
//! Each of `--clients` clients has its own session (a key's runs go one at a time) and loops: send, then poll
//! `GET /v1/jobs/{id}` every `--poll-ms` until the run ends. The figures print as JSON (`--out`); they are never
//! asserted. Also timed alone: the API's `send` answer, and `Executor::prepare` (pre-flight + sign, with its
//! reads of the node) outside the service, so the rest is the worker's storage and scheduling.
//!
//! `cargo bench -p warrant-service --bench api -- --mode sign --seconds 10 --clients 32 --out service.json`
//! (`--database-url postgres://…` on an empty database: the service migrates it).

#[allow(dead_code, unreachable_pub)]
#[path = "../tests/e2e/world.rs"]
mod world;

use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

use alloy::{
    primitives::{Address, U256},
    signers::local::PrivateKeySigner,
    sol,
    sol_types::SolCall,
};
use serde_json::{Value, json};
use warrant_core::{policy::Call, token::SignedGrant};
use warrant_service::{
    Config, MasterKeySource, api,
    executor::{ChainExecutor, Executor, Session},
};
use world::{Api, World};

sol! {
    function transfer(address to, uint256 amount) returns (bool);
}

struct Args {
    mode: String,
    seconds: f64,
    clients: usize,
    poll_ms: u64,
    out: Option<PathBuf>,
    /// `None`: SQLite in a temporary directory.
    database_url: Option<String>,
}

fn args() -> Result<Args, String> {
    let mut a =
        Args { mode: "sign".into(), seconds: 10.0, clients: 32, poll_ms: 1, out: None, database_url: None };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--mode" => a.mode = value()?,
            "--seconds" => a.seconds = value()?.parse().map_err(|e| format!("--seconds: {e}"))?,
            "--clients" => a.clients = value()?.parse().map_err(|e| format!("--clients: {e}"))?,
            "--poll-ms" => a.poll_ms = value()?.parse().map_err(|e| format!("--poll-ms: {e}"))?,
            "--out" => a.out = Some(value()?.into()),
            "--database-url" => a.database_url = Some(value()?),
            // `cargo bench` passes `--bench` to every bench binary.
            "--bench" => {}
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if !matches!(a.mode.as_str(), "sign" | "bundler") {
        return Err(format!("--mode {}: sign or bundler", a.mode));
    }
    Ok(a)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// One client: sends on its session until `end`, each time waiting for the run to end in `want`. Answers the
/// latencies of the runs it finished in the window (ms) and of the send answers alone.
async fn client(
    api: Api,
    session: String,
    want: &'static str,
    calls: impl Fn(u64) -> Value,
    poll: Duration,
    start: u32,
    end: Instant,
) -> Result<(Vec<f64>, Vec<f64>), String> {
    let mut done = Vec::new();
    let mut answers = Vec::new();
    let mut n = u64::from(start);
    while Instant::now() < end {
        n += 1;
        // A distinct amount per send, as a payer's would be (the calls' shape stays the same).
        let body = json!({ "calls": calls(n), "idempotency_key": format!("{session}-{n}") });
        let t0 = Instant::now();
        let (status, sent) = api
            .try_post(&format!("/v1/sessions/{session}/send"), &body)
            .await
            .map_err(|e| format!("send: {e}"))?;
        answers.push(ms(t0.elapsed()));
        if status != 202 {
            return Err(format!("send answered {status}: {sent}"));
        }
        let id = sent["job"]["id"].as_str().ok_or("no job id")?.to_string();
        // The answer carries the run as recorded in the request (`signed` under --dry-run, `prepared` live).
        let answered = sent["runs"][0]["state"].as_str().unwrap_or("pending").to_string();
        if answered != want && !matches!(answered.as_str(), "pending" | "prepared" | "submitted") {
            return Err(format!("run ended {answered}, not {want}: {sent}"));
        }
        if answered != want {
            loop {
                let (status, job) =
                    api.try_get(&format!("/v1/jobs/{id}")).await.map_err(|e| format!("job: {e}"))?;
                if status != 200 {
                    return Err(format!("job answered {status}: {job}"));
                }
                let state = job["runs"][0]["state"].as_str().unwrap_or("pending").to_string();
                if state == want {
                    break;
                }
                if !matches!(state.as_str(), "pending" | "prepared" | "submitted") {
                    return Err(format!("run ended {state}, not {want}: {job}"));
                }
                if t0.elapsed() > Duration::from_secs(120) {
                    return Err(format!("run not {want} after 120 s: {job}"));
                }
                tokio::time::sleep(poll).await;
            }
        }
        // Runs still in flight when the window closes are not counted.
        if Instant::now() <= end {
            done.push(ms(t0.elapsed()));
        }
    }
    Ok((done, answers))
}

/// `Executor::prepare` alone (pre-flight, then the signature), outside the service: on the session's kept basis
/// (no node reads) and reading the node and the bundler each time (the basis forgotten before each). Answers
/// `(kept, read)` in ms.
async fn prepare_alone(w: &World, rounds: usize) -> Result<(f64, f64), String> {
    let executor = ChainExecutor::connect(
        w.rpc().parse().map_err(|e| format!("{e}"))?,
        w.bundler().parse().map_err(|e| format!("{e}"))?,
        Duration::from_secs(15),
    )
    .await
    .map_err(|e| e.to_string())?;
    let signer = PrivateKeySigner::random();
    let token = w.grant_token(signer.address(), w.token_scope(vec![], 0, 0)).await;
    let grant = SignedGrant::from_token(&token).map_err(|e| e.to_string())?;
    let session = Session { signer, grant, nonce_lane: 7 };
    let data = transferCall { to: Address::random(), amount: U256::from(1) }.abi_encode();
    let calls = [Call { target: w.token, value: U256::ZERO, data }];
    // The block watcher's first answer, so that the basis is kept.
    tokio::time::sleep(Duration::from_millis(300)).await;
    executor.prepare(&session, &calls).await.map_err(|e| e.to_string())?;
    let t0 = Instant::now();
    for _ in 0..rounds {
        executor.prepare(&session, &calls).await.map_err(|e| e.to_string())?;
    }
    let kept = ms(t0.elapsed()) / rounds as f64;
    let t0 = Instant::now();
    for _ in 0..rounds {
        executor.forget(&session);
        executor.prepare(&session, &calls).await.map_err(|e| e.to_string())?;
    }
    Ok((kept, ms(t0.elapsed()) / rounds as f64))
}

async fn run(a: Args) -> Result<Value, String> {
    let w = World::start().await;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let sign_only = a.mode == "sign";
    let config = Config {
        data_dir: dir.path().to_path_buf(),
        database_url: a
            .database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("warrant.db").display())),
        master_key: MasterKeySource::File { path: dir.path().join("master.key"), create: true },
        listen: "127.0.0.1:0".parse().expect("an address"),
        rpc_url: w.rpc(),
        bundler_url: w.bundler(),
        rpc_timeout: Duration::from_secs(15),
        lease: Duration::from_secs(30),
        // The default tick: the API wakes the worker for a waiting run, and the tick only finds due jobs.
        tick: Duration::from_millis(500),
        receipt_timeout: Duration::from_secs(60),
        backoff: Duration::from_millis(200),
        max_backoff: Duration::from_secs(2),
        max_keys: a.clients,
        log_json: false,
        dry_run: sign_only,
        erc7715: None,
    };
    let running = warrant_service::start(config, None).await.map_err(|e| e.to_string())?;
    let sessions: Vec<String> = (0..a.clients).map(|i| format!("bench-{i}")).collect();
    let (secret, row) = api::new_token(&["*".to_string()], "bench")?;
    running.storage.insert_token(&row).await.map_err(|e| e.to_string())?;
    let api = Api::new(format!("http://{}", running.addr), secret);
    for name in &sessions {
        if sign_only {
            api.session(&w, name, w.token_scope(vec![], 0, 0)).await;
        } else {
            // Alto holds one operation per unstaked sender (ERC-7562): one account per session when live.
            let owner = w.other_account().await;
            api.session_of(&w, &owner, name, w.token_scope(vec![], 0, 0)).await;
        }
    }
    let payee = Address::random();
    let token = w.token;
    let calls = move |n: u64| {
        let data = transferCall { to: payee, amount: U256::from(n) }.abi_encode();
        json!([{ "to": token.to_string(), "data": alloy::primitives::Bytes::from(data).to_string() }])
    };
    let want = if sign_only { "signed" } else { "included" };
    let poll = Duration::from_millis(a.poll_ms);
    // Warm-up: one run per session (connections, caches, the grant's first use on chain when live).
    let warm = Instant::now() + Duration::from_secs(if sign_only { 2 } else { 1 });
    let mut tasks = tokio::task::JoinSet::new();
    for name in &sessions {
        tasks.spawn(client(api.clone(), name.clone(), want, calls, poll, 0, warm));
    }
    while let Some(r) = tasks.join_next().await {
        r.map_err(|e| e.to_string())??;
    }
    let started = Instant::now();
    let end = started + Duration::from_secs_f64(a.seconds);
    for name in &sessions {
        tasks.spawn(client(api.clone(), name.clone(), want, calls, poll, 1_000_000, end));
    }
    let mut latencies = Vec::new();
    let mut answers = Vec::new();
    while let Some(r) = tasks.join_next().await {
        let (done, sent) = r.map_err(|e| e.to_string())??;
        latencies.extend(done);
        answers.extend(sent);
    }
    let window = a.seconds;
    latencies.sort_by(f64::total_cmp);
    answers.sort_by(f64::total_cmp);
    let (prepare_kept_ms, prepare_read_ms) = prepare_alone(&w, 50).await?;
    running.stop().await.map_err(|e| e.to_string())?;
    let ops = latencies.len() as f64 / window;
    let key = if sign_only { "sign" } else { "bundler" };
    let storage = match &a.database_url {
        None => "sqlite (WAL, synchronous = FULL)",
        Some(_) => "postgresql",
    };
    Ok(json!({
        format!("{key}_ops_per_sec"): ops,
        format!("{key}_p50_ms"): percentile(&latencies, 0.50),
        format!("{key}_p99_ms"): percentile(&latencies, 0.99),
        format!("{key}_runs"): latencies.len(),
        format!("{key}_seconds"): window,
        format!("{key}_clients"): a.clients,
        format!("{key}_send_answer_p50_ms"): percentile(&answers, 0.50),
        format!("{key}_send_answer_p99_ms"): percentile(&answers, 0.99),
        format!("{key}_prepare_kept_basis_ms"): prepare_kept_ms,
        format!("{key}_prepare_reading_node_ms"): prepare_read_ms,
        format!("{key}_poll_ms"): a.poll_ms,
        format!("{key}_worker_tick_ms"): 500,
        "storage": storage,
    }))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> std::process::ExitCode {
    let a = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("service bench: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    // Warnings only unless RUST_LOG says otherwise (the service logs every run at info).
    if std::env::var_os("RUST_LOG").is_none() {
        // SAFETY: set before any thread of this program reads the environment.
        unsafe { std::env::set_var("RUST_LOG", "warn") };
    }
    warrant_service::init_logging(false);
    let out = a.out.clone();
    match run(a).await {
        Ok(figures) => {
            let text = serde_json::to_string_pretty(&figures).expect("serializes");
            println!("{text}");
            if let Some(out) = out
                && let Err(e) = std::fs::write(&out, text + "\n")
            {
                eprintln!("service bench: {}: {e}", out.display());
                return std::process::ExitCode::FAILURE;
            }
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("service bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
