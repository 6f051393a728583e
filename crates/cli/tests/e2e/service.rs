//! `warrant serve` and `warrant service …` against real processes: anvil and Alto (safe mode), the service
//! started by the CLI on SQLite in a temporary data directory. The operator's admin token (`service
//! admin-token`), a token minted for one session over the API, a key created by the service, the owner's grant
//! for its address (`warrant grant`), a send with an idempotency key (twice, one transfer), a send the pre-flight
//! refuses (exit 1, the rule named), the sessions with what is left, a recurring job paused, resumed, cancelled
//! and its history, bad input (exit 2, the field named), the token refusals (a session-scoped token can't mint
//! tokens or act on another session; a revoked token gets 401), and a graceful stop on SIGTERM.

use std::{
    net::TcpListener,
    path::Path,
    process::{Child, Command, Output, Stdio},
    time::{Duration, Instant},
};

use alloy::{
    primitives::{Address, U256},
    providers::Provider,
    signers::local::PrivateKeySigner,
};
use serde_json::Value;
use warrant_chain::devnet::{Devnet, DevnetConfig, check_tools};

use super::{ETH, key_hex, text};

/// `warrant` with only the environment a test gives it.
fn warrant(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_warrant"));
    for var in [
        "WARRANT_PASSWORD",
        "WARRANT_KEYSTORE",
        "WARRANT_BUNDLER_URL",
        "ETH_RPC_URL",
        "WARRANT_PRIVATE_KEY",
        "WARRANT_SERVICE_URL",
        "WARRANT_SERVICE_TOKEN",
        "WARRANT_MASTER_KEY",
        "WARRANT_DATA_DIR",
        "WARRANT_DATABASE_URL",
        "WARRANT_CONFIG",
    ] {
        command.env_remove(var);
    }
    command.envs(env.iter().copied()).args(args).output().expect("warrant runs")
}

fn stdout_json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(out)))
}

fn stderr_json(out: &Output) -> Value {
    serde_json::from_slice(&out.stderr).unwrap_or_else(|e| panic!("stderr not JSON ({e}): {}", text(out)))
}

/// The service process: SIGTERM on drop if still running.
struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(data: &Path, port: u16, rpc: &str, bundler: &str, log: &Path) -> Served {
    let log = std::fs::File::create(log).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_warrant"))
        .args(["serve", "--data-dir", data.to_str().unwrap(), "--listen", &format!("127.0.0.1:{port}")])
        .args(["--tick-ms", "100", "--backoff-ms", "300", "--receipt-timeout-secs", "15"])
        // The node and bundler from the environment, as an operator would export them.
        .env("ETH_RPC_URL", rpc)
        .env("WARRANT_BUNDLER_URL", bundler)
        .env_remove("WARRANT_MASTER_KEY")
        .env("RUST_LOG", "info,sqlx=warn")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("warrant serve starts");
    Served(child)
}

#[tokio::test(flavor = "current_thread")]
async fn warrant_serve_and_service_commands_through_alto() {
    if let Err(e) = check_tools() {
        panic!("the end-to-end tests need anvil, node and Alto: {e}");
    }
    let net = Devnet::start(DevnetConfig::default()).await.unwrap_or_else(|e| panic!("devnet: {e}"));
    let contracts = net.deploy_warrant().await.unwrap_or_else(|e| panic!("deploying Warrant: {e}"));
    let (rpc, bundler) = (net.rpc_url().to_string(), net.bundler_url().to_string());
    let owner = PrivateKeySigner::random();
    net.set_balance(owner.address(), U256::from(10 * ETH)).await.unwrap();
    let owner_env = [("WARRANT_PRIVATE_KEY", key_hex(&owner)), ("ETH_RPC_URL", rpc.clone())];
    let owner_env: Vec<(&str, &str)> = owner_env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = warrant(
        &[
            "delegate",
            "--delegate",
            &contracts.implementation.to_string(),
            "--install-module",
            &contracts.validator.to_string(),
        ],
        &owner_env,
    );
    assert!(out.status.success(), "delegate: {}", text(&out));

    // The operator: an admin token straight into the data directory, then the service.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_s = data.to_str().unwrap();
    let out = warrant(&["service", "admin-token", "--data-dir", data_s], &[]);
    assert!(out.status.success(), "admin-token: {}", text(&out));
    let admin_token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(admin_token.starts_with("wst_tok_"), "{admin_token}");
    let port = TcpListener::bind(("127.0.0.1", 0)).unwrap().local_addr().unwrap().port();
    let log = dir.path().join("service.log");
    let mut served = serve(&data, port, &rpc, &bundler, &log);
    let url = format!("http://127.0.0.1:{port}");
    let as_token =
        |token: &str| vec![("WARRANT_SERVICE_URL", url.clone()), ("WARRANT_SERVICE_TOKEN", token.into())];
    let admin_env = as_token(&admin_token);
    let admin: Vec<(&str, &str)> = admin_env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let started = Instant::now();
    loop {
        let out = warrant(&["service", "health", "--json"], &admin);
        if out.status.success() {
            let health = stdout_json(&out);
            assert_eq!((health["status"].as_str(), health["storage"].as_str()), (Some("ok"), Some("sqlite")));
            assert_eq!(health["chain_id"].as_u64(), Some(net.chain_id()));
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the service did not come up: {}\n{}",
            text(&out),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // The admin mints a token for the session `payroll`; it is printed once, alone on stdout.
    let out =
        warrant(&["service", "token", "create", "--sessions", "payroll", "--label", "payroll bot"], &admin);
    assert!(out.status.success(), "token create: {}", text(&out));
    let payroll_token = String::from_utf8(out.stdout.clone()).unwrap().trim().to_string();
    let payroll_id = payroll_token.strip_prefix("wst_").unwrap().split('.').next().unwrap().to_string();
    let payroll_env = as_token(&payroll_token);
    let payroll: Vec<(&str, &str)> = payroll_env.iter().map(|(k, v)| (*k, v.as_str())).collect();

    // The service creates the key; the owner grants its address: ≤ 0.01 ETH a call to one recipient.
    let out = warrant(&["service", "key", "create", "payroll", "--json"], &payroll);
    assert!(out.status.success(), "key create: {}", text(&out));
    let key = stdout_json(&out);
    assert_eq!(key["state"], "new");
    let session_key: Address = key["address"].as_str().unwrap().parse().unwrap();
    let recipient = Address::random();
    let out = warrant(
        &[
            "grant",
            "--account",
            &owner.address().to_string(),
            "--module",
            &contracts.validator.to_string(),
            "--chain-id",
            &net.chain_id().to_string(),
            "--epoch",
            "1",
            "--session-key",
            &session_key.to_string(),
            "--allow",
            &format!("{recipient}:receive:value<=0.01ether"),
            "--max-value",
            "0.2ether",
            "--max-gas",
            "3000000",
            "--valid-until",
            "+3d",
        ],
        &owner_env,
    );
    assert!(out.status.success(), "grant: {}", text(&out));
    let grant_file = dir.path().join("grant.txt");
    std::fs::write(&grant_file, &out.stdout).unwrap();
    let out =
        warrant(&["service", "key", "grant", "payroll", grant_file.to_str().unwrap(), "--json"], &payroll);
    assert!(out.status.success(), "key grant: {}", text(&out));
    assert_eq!(stdout_json(&out)["state"], "active");

    // Send now, twice with one idempotency key: one job, one transfer.
    let recipient_s = recipient.to_string();
    let send = |key: &str, value: &str| {
        warrant(
            &[
                "service",
                "send",
                "payroll",
                "--idempotency-key",
                key,
                "--to",
                &recipient_s,
                "--value",
                value,
                "--wait",
                "120",
                "--json",
            ],
            &payroll,
        )
    };
    let out = send("salary-1", "0.01ether");
    assert!(out.status.success(), "send: {}", text(&out));
    let first = stdout_json(&out);
    assert_eq!(first["runs"][0]["state"], "included", "{first:#}");
    let balance = net.provider().get_balance(recipient).await.unwrap();
    assert_eq!(balance, U256::from(ETH / 100));
    let out = send("salary-1", "0.01ether");
    assert!(out.status.success(), "send again: {}", text(&out));
    assert_eq!(stdout_json(&out)["job"]["id"], first["job"]["id"], "the same idempotency key, the same job");
    assert_eq!(net.provider().get_balance(recipient).await.unwrap(), balance, "sent once");

    // A send the pre-flight refuses: exit 1, the rule named, nothing sent.
    let out = send("salary-2", "0.02ether");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let e = stderr_json(&out);
    assert_eq!(
        (e["error"].as_str(), e["rule"].as_str()),
        (Some("refused"), Some("CallValueExceeded")),
        "{e}"
    );
    let refused = stdout_json(&out);
    assert!(refused["runs"][0]["user_op_hash"].is_null(), "nothing signed: {refused:#}");
    assert_eq!(net.provider().get_balance(recipient).await.unwrap(), balance);
    let out = warrant(
        &[
            "service",
            "send",
            "payroll",
            "--idempotency-key",
            "salary-3",
            "--to",
            &recipient_s,
            "--value",
            "0.02ether",
        ],
        &payroll,
    );
    assert_eq!(out.status.code(), Some(0), "without --wait the job is accepted: {}", text(&out));

    // The sessions with what is left.
    let out = warrant(&["service", "sessions", "--json"], &payroll);
    assert!(out.status.success(), "sessions: {}", text(&out));
    let sessions = stdout_json(&out);
    assert_eq!(sessions.as_array().unwrap().len(), 1, "{sessions:#}");
    assert_eq!(sessions[0]["chain"]["state"], "enabled", "{sessions:#}");
    let out = warrant(&["service", "sessions"], &payroll);
    let human = String::from_utf8_lossy(&out.stdout);
    assert!(human.contains("session payroll") && human.contains("chain: enabled"), "{human}");

    // A recurring job far in the future: paused, resumed, cancelled; its history.
    let start = (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
        + 3600)
        .to_string();
    let out = warrant(
        &[
            "service",
            "job",
            "create",
            "--session",
            "payroll",
            "--to",
            &recipient_s,
            "--value",
            "0.001ether",
            "--every",
            "1d",
            "--start",
            &start,
            "--on-refused",
            "skip",
            "--json",
        ],
        &payroll,
    );
    assert!(out.status.success(), "job create: {}", text(&out));
    let job = stdout_json(&out);
    let job_id = job["id"].as_str().unwrap().to_string();
    assert_eq!(
        (job["schedule"]["every_secs"].as_u64(), job["state"].as_str()),
        (Some(86_400), Some("active"))
    );
    for (verb, state) in [("pause", "paused"), ("resume", "active"), ("cancel", "cancelled")] {
        let out = warrant(&["service", "job", verb, &job_id, "--json"], &payroll);
        assert!(out.status.success(), "job {verb}: {}", text(&out));
        assert_eq!(stdout_json(&out)["state"], state);
    }
    let out = warrant(&["service", "job", "pause", &job_id], &payroll);
    assert_eq!(out.status.code(), Some(2), "a cancelled job can't be paused: {}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cancelled"), "{}", text(&out));
    let out = warrant(&["service", "job", "list", "--json"], &payroll);
    assert_eq!(stdout_json(&out).as_array().unwrap().len(), 4, "three sends and the recurring job");
    let out = warrant(&["service", "job", "show", first["job"]["id"].as_str().unwrap()], &payroll);
    let history = String::from_utf8_lossy(&out.stdout);
    assert!(history.contains("included") && history.contains("userOpHash 0x"), "{history}");

    // Bad input: exit 2, the problem named.
    for (args, needle) in [
        (
            vec![
                "service",
                "job",
                "create",
                "--session",
                "payroll",
                "--to",
                recipient_s.as_str(),
                "--cron",
                "61 * * * *",
            ],
            "schedule.expr",
        ),
        (
            vec![
                "service",
                "job",
                "create",
                "--session",
                "payroll",
                "--to",
                recipient_s.as_str(),
                "--cron",
                "0 9 * * MON",
                "--tz",
                "Mars/Olympus",
            ],
            "schedule.tz",
        ),
        (
            vec!["service", "send", "payroll", "--idempotency-key", "", "--to", recipient_s.as_str()],
            "idempotency_key",
        ),
        (vec!["service", "send", "payroll", "--idempotency-key", "k", "--to", "0x12"], "--to"),
        (vec!["service", "key", "grant", "payroll", "warrant1garbage"], "token"),
        (vec!["service", "job", "show", "job_nope"], "job_nope"),
    ] {
        let out = warrant(&args, &payroll);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(needle),
            "{args:?} should name {needle:?}: {}",
            text(&out)
        );
    }

    // Token refusals: a session-scoped token can't mint tokens or act on another session.
    let out = warrant(&["service", "token", "create", "--sessions", "*", "--admin", "--json"], &payroll);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("admin token"), "{}", text(&out));
    let out = warrant(&["service", "key", "create", "treasury"], &payroll);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("forbidden"), "{}", text(&out));
    // Listing shows no secret.
    let out = warrant(&["service", "token", "list", "--json"], &admin);
    assert!(out.status.success(), "{}", text(&out));
    let (_, secret) = payroll_token.split_once('.').unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains(secret), "no secret listed");
    // Revoked: 401 from then on.
    let out = warrant(&["service", "token", "revoke", &payroll_id], &admin);
    assert!(out.status.success(), "revoke: {}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("REVOKED"), "{}", text(&out));
    let out = warrant(&["service", "sessions", "--json"], &payroll);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let e = stderr_json(&out);
    assert!(e["detail"].as_str().unwrap().contains("401"), "{e}");
    let out = warrant(&["service", "sessions"], &[("WARRANT_SERVICE_URL", url.as_str())]);
    assert_eq!(out.status.code(), Some(2), "no token: {}", text(&out));

    // SIGTERM: a graceful stop, exit 0; no secret in its log.
    // SAFETY: plain syscall on our own child.
    unsafe {
        libc::kill(served.0.id() as i32, libc::SIGTERM);
    }
    let status = served.0.wait().unwrap();
    assert!(status.success(), "{status}: {}", std::fs::read_to_string(&log).unwrap_or_default());
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(!log_text.contains(secret) && !log_text.contains(admin_token.split_once('.').unwrap().1));
    // Stopped: the CLI names where it looked (exit 2).
    let out = warrant(&["service", "health"], &admin);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("cannot reach the Warrant service at {url} (")), "{}", text(&out));
}
