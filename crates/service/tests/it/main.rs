//! The service's storage, keys and configuration, on SQLite files (no chain needed; the end-to-end tests in
//! `tests/e2e` run the service against anvil, Alto and PostgreSQL).

use clap::Parser;
use warrant_service::{
    ServeArgs,
    ids::now,
    keys::{self, MasterKey},
    storage::{
        AttemptRow, GroupCommit, JobRow, KeyRow, KeySeen, Materialize, NewSend, RunRow, RunUpdate,
        SendRecord, SqliteStorage, Storage, StorageError, TokenRow,
    },
};

async fn store() -> (SqliteStorage, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    (SqliteStorage::connect(&url).await.unwrap(), dir)
}

fn key_row(id: &str, name: &str, sealed: Vec<u8>) -> KeyRow {
    KeyRow {
        id: id.into(),
        name: name.into(),
        address: "0x0000000000000000000000000000000000000001".into(),
        sealed,
        nonce_lane: 1,
        grant_token: None,
        account: None,
        session_id: None,
        state: "active".into(),
        state_reason: None,
        created_at: now(),
    }
}

fn job_row(id: &str, key_id: &str, next: i64) -> JobRow {
    JobRow {
        id: id.into(),
        key_id: key_id.into(),
        calls: "[]".into(),
        schedule: r#"{"kind":"interval","every_secs":10}"#.into(),
        on_refused: "wait".into(),
        catch_up: "all".into(),
        state: "active".into(),
        next_run_at: Some(next),
        idempotency_key: Some(format!("idem-{id}")),
        created_at: now(),
    }
}

#[test]
fn sealed_keys_open_only_with_their_master_key_and_id() {
    let master = MasterKey::generate();
    let (address, sealed) = master.new_session_key("key_a").unwrap();
    assert_eq!(master.signer("key_a", &sealed).unwrap().address(), address);
    // A fresh nonce per seal: sealing the same secret twice gives different bytes.
    let secret = master.open("key_a", &sealed).unwrap();
    assert_ne!(master.seal("key_a", &secret).unwrap(), master.seal("key_a", &secret).unwrap());
    // The key id is associated data: a sealed key moved to another row does not open.
    assert!(master.open("key_b", &sealed).is_err());
    // Another master key does not open it; nor does a flipped byte.
    assert!(MasterKey::generate().open("key_a", &sealed).is_err());
    let mut tampered = sealed.clone();
    *tampered.last_mut().unwrap() ^= 1;
    assert!(master.open("key_a", &tampered).is_err());
    // The secret is nowhere in the sealed bytes, and Debug prints nothing of the master key.
    assert!(!sealed.windows(32).any(|w| w == secret.as_slice()));
    assert_eq!(format!("{master:?}"), "MasterKey(…)");
}

#[test]
fn master_keys_from_hex_and_files() {
    assert!(MasterKey::from_hex(&"ab".repeat(32)).is_ok());
    let e = MasterKey::from_hex("abcd").unwrap_err().to_string();
    assert!(e.contains("64 hex digits"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.key");
    let created = MasterKey::create_file(&path).unwrap();
    assert_eq!(MasterKey::from_file(&path).unwrap().check_value(), created.check_value());
    assert!(MasterKey::create_file(&path).is_err(), "never overwrites a master key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
}

#[tokio::test]
async fn rotation_reseals_every_key_and_retires_the_old_master_key() {
    let (s, _dir) = store().await;
    let old = MasterKey::generate();
    keys::check_master_key(&s, &old).await.unwrap();
    let mut addresses = Vec::new();
    for i in 0..3 {
        let id = format!("key_{i}");
        let (address, sealed) = old.new_session_key(&id).unwrap();
        s.insert_key(&key_row(&id, &format!("n{i}"), sealed)).await.unwrap();
        addresses.push(address);
    }
    s.forget_key("key_2", now()).await.unwrap();
    let new = MasterKey::generate();
    assert!(
        keys::rotate(&s, &new, &MasterKey::generate()).await.is_err(),
        "rotation needs the current master key"
    );
    assert_eq!(keys::rotate(&s, &old, &new).await.unwrap(), 2, "forgotten keys stay empty");
    for (i, address) in addresses.iter().enumerate().take(2) {
        let row = s.key(&format!("key_{i}")).await.unwrap().unwrap();
        assert_eq!(new.signer(&row.id, &row.sealed).unwrap().address(), *address);
        assert!(old.open(&row.id, &row.sealed).is_err());
    }
    let e = keys::check_master_key(&s, &old).await.unwrap_err().to_string();
    assert!(e.contains("not the one"), "{e}");
    keys::check_master_key(&s, &new).await.unwrap();
}

#[tokio::test]
async fn the_audit_log_is_append_only() {
    let (s, _dir) = store().await;
    s.audit("tok_1", "key.create", "payroll", "{}", now()).await.unwrap();
    s.audit("tok_1", "job.create", "job_1", "{}", now()).await.unwrap();
    let log = s.audit_log(0, 10).await.unwrap();
    assert_eq!(log.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(), ["key.create", "job.create"]);
    for sql in ["UPDATE audit SET actor = 'x'", "DELETE FROM audit"] {
        let e = sqlx::query(sql).execute(s.pool()).await.unwrap_err().to_string();
        assert!(e.contains("append-only"), "{sql}: {e}");
    }
    assert_eq!(s.audit_log(0, 10).await.unwrap().len(), 2);
}

#[tokio::test]
async fn leases_fence_writes_and_expire_to_another_instance() {
    let (s, _dir) = store().await;
    s.insert_key(&key_row("key_1", "k", vec![1; 40])).await.unwrap();
    let t = now();
    s.insert_job(&job_row("job_1", "key_1", t - 5)).await.unwrap();
    // A claims the key; B finds nothing while A's lease runs.
    assert_eq!(s.claim_keys("A", t, t + 30, 10).await.unwrap(), ["key_1"]);
    assert!(s.claim_keys("B", t, t + 30, 10).await.unwrap().is_empty());
    // Runs are created once per slot, and only by the lease holder.
    let m = Materialize {
        job_id: "job_1".into(),
        key_id: "key_1".into(),
        expected_next: t - 5,
        slots: vec![t - 5],
        skipped: vec![],
        next_run_at: Some(t + 5),
    };
    assert!(!s.materialize(&m, "B", t).await.unwrap(), "B holds no lease");
    assert!(s.materialize(&m, "A", t).await.unwrap());
    assert!(!s.materialize(&m, "A", t).await.unwrap(), "the job moved on: no second run for the slot");
    let runs = s.open_runs("key_1").await.unwrap();
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    let u = RunUpdate { state: "failed".into(), tries: 1, not_before: t, ..Default::default() };
    assert!(!s.update_run(&run.id, "pending", &u, "B", t).await.unwrap(), "B can't write A's key's runs");
    // A dies; after its lease expires B takes over, and A's writes are refused from then on.
    let later = t + 31;
    assert_eq!(s.claim_keys("B", later, later + 30, 10).await.unwrap(), ["key_1"]);
    assert!(!s.update_run(&run.id, "pending", &u, "A", later).await.unwrap(), "A's lease is gone");
    assert!(s.update_run(&run.id, "pending", &u, "B", later).await.unwrap());
    assert!(!s.update_run(&run.id, "pending", &u, "B", later).await.unwrap(), "compare-and-set on the state");
}

#[tokio::test]
async fn idempotency_keys_return_the_first_job_and_names_are_unique() {
    let (s, _dir) = store().await;
    s.insert_key(&key_row("key_1", "k", vec![1; 40])).await.unwrap();
    let first = s.insert_job(&job_row("job_1", "key_1", now())).await.unwrap();
    let mut again = job_row("job_2", "key_1", now());
    again.idempotency_key = first.idempotency_key.clone();
    assert_eq!(s.insert_job(&again).await.unwrap().id, "job_1");
    assert_eq!(s.jobs().await.unwrap().len(), 1);
    match s.insert_key(&key_row("key_2", "k", vec![1; 40])).await {
        Err(StorageError::Conflict(what)) => assert!(what.contains("\"k\""), "{what}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
}

#[tokio::test]
async fn keys_of_one_account_never_share_a_nonce_lane() {
    let (s, _dir) = store().await;
    for id in ["key_a", "key_b", "key_c"] {
        s.insert_key(&KeyRow { state: "new".into(), nonce_lane: 5, ..key_row(id, id, vec![1; 40]) })
            .await
            .unwrap();
    }
    assert!(s.attach_grant("key_a", "t", "0xA", "s1", 5).await.unwrap());
    // Lane 5 is key_a's on account 0xA: key_b can't have it there, and stays without a grant.
    assert!(!s.attach_grant("key_b", "t", "0xA", "s2", 5).await.unwrap());
    assert_eq!(s.key("key_b").await.unwrap().unwrap().state, "new");
    assert!(s.attach_grant("key_b", "t", "0xA", "s2", 7).await.unwrap());
    assert_eq!(s.key("key_b").await.unwrap().unwrap().nonce_lane, 7);
    // Another account's key may use lane 5.
    assert!(s.attach_grant("key_c", "t", "0xC", "s3", 5).await.unwrap());
    // A key with a grant gets no second one.
    assert!(!s.attach_grant("key_a", "t", "0xA", "s1", 9).await.unwrap());
}

/// A send of `key_id` as the API records it: its job, its run in `state`, the run's operation (for `hash`).
fn new_send(key_id: &str, idem: &str, state: &str, hash: Option<&str>) -> NewSend {
    let t = now();
    let job = JobRow {
        state: "done".into(),
        next_run_at: None,
        idempotency_key: Some(idem.into()),
        ..job_row(&format!("job_{idem}"), key_id, t)
    };
    let run = RunRow {
        id: format!("run_{idem}"),
        job_id: job.id.clone(),
        key_id: key_id.into(),
        slot: t,
        state: state.into(),
        tries: 0,
        not_before: t,
        nonce: hash.map(|_| "7".into()),
        period: hash.map(|_| 0),
        user_op_hash: hash.map(str::to_string),
        transaction_hash: None,
        rule: None,
        error: None,
        created_at: t,
        updated_at: t,
    };
    let attempt = hash.map(|h| AttemptRow {
        run_id: run.id.clone(),
        n: 1,
        nonce: "7".into(),
        period: 0,
        user_op_hash: h.into(),
        user_op: "{}".into(),
        created_at: t,
    });
    NewSend {
        job,
        run,
        attempt,
        actor: "tok_test".into(),
        detail: "{}".into(),
        key_seen: KeySeen { grant_token: Some("grant".into()), nonce_lane: 1 },
    }
}

#[tokio::test]
async fn sends_are_recorded_together_and_name_what_stands_in_their_way() {
    let (s, _dir) = store().await;
    let granted =
        |id: &str, name: &str| KeyRow { grant_token: Some("grant".into()), ..key_row(id, name, vec![1; 40]) };
    s.insert_key(&granted("key_1", "k1")).await.unwrap();
    s.insert_key(&granted("key_2", "k2")).await.unwrap();
    s.insert_key(&granted("key_3", "k3")).await.unwrap();
    s.set_key_state("key_3", "revoked", Some("SessionRevoked")).await.unwrap();
    let token = |id: &str| TokenRow {
        id: id.into(),
        secret_hash: "00".into(),
        sessions: "*".into(),
        label: "test".into(),
        created_at: now(),
        revoked_at: None,
        admin: false,
    };
    s.insert_token(&token("tok_test")).await.unwrap();
    s.insert_token(&token("tok_gone")).await.unwrap();
    s.revoke_token("tok_gone", now()).await.unwrap();
    let stale = [
        // A key no longer active, a token revoked, a key read with another grant or lane: nothing recorded.
        new_send("key_3", "s1", "prepared", Some("0x11")),
        NewSend { actor: "tok_gone".into(), ..new_send("key_2", "s2", "signed", Some("0x12")) },
        NewSend {
            key_seen: KeySeen { grant_token: Some("older".into()), nonce_lane: 1 },
            ..new_send("key_2", "s3", "signed", Some("0x13"))
        },
        NewSend {
            key_seen: KeySeen { grant_token: Some("grant".into()), nonce_lane: 2 },
            ..new_send("key_2", "s4", "signed", Some("0x14"))
        },
    ];
    let records = s.record_sends(&stale, now()).await.unwrap();
    assert_eq!(records, vec![SendRecord::Stale; 4]);
    assert!(s.all_runs().await.unwrap().is_empty());
    let batch = [
        new_send("key_1", "a", "prepared", Some("0x01")),
        // key_1 has an open run now (the one above, in the same transaction): an operation must not overtake it.
        new_send("key_1", "b", "prepared", Some("0x02")),
        // The same idempotency key: the first job, nothing recorded.
        new_send("key_1", "a", "prepared", Some("0x03")),
        // A dry run's operation already recorded.
        new_send("key_2", "c", "signed", Some("0x01")),
        // A refusal carries no operation and is recorded even while the key is busy.
        new_send("key_1", "d", "refused", None),
        new_send("key_2", "e", "signed", Some("0x04")),
    ];
    let records = s.record_sends(&batch, now()).await.unwrap();
    assert_eq!(records[0], SendRecord::Recorded);
    assert_eq!(records[1], SendRecord::Busy);
    assert!(matches!(&records[2], SendRecord::Seen(job) if job.id == "job_a"), "{:?}", records[2]);
    assert_eq!(records[3], SendRecord::Duplicate);
    assert_eq!(records[4], SendRecord::Recorded);
    assert_eq!(records[5], SendRecord::Recorded);
    let mut runs: Vec<_> = s.all_runs().await.unwrap().into_iter().map(|r| (r.id, r.state)).collect();
    runs.sort();
    let expect = [("run_a", "prepared"), ("run_d", "refused"), ("run_e", "signed")];
    assert_eq!(runs, expect.map(|(a, b)| (a.to_string(), b.to_string())));
    assert_eq!(s.attempts("run_a").await.unwrap()[0].user_op_hash, "0x01");
    let audited = s.audit_log(0, 100).await.unwrap();
    assert_eq!(audited.iter().filter(|a| a.action == "job.create").count(), 3, "one entry per recorded send");

    // A later batch: an idempotency key already stored is its first job (read from the database, not the batch);
    // the same idempotency key under another key is another job.
    let mut other = new_send("key_2", "a", "signed", Some("0x22"));
    (other.job.id, other.run.id, other.run.job_id) = ("job_a2".into(), "run_a2".into(), "job_a2".into());
    other.attempt.as_mut().unwrap().run_id = "run_a2".into();
    let again = [new_send("key_2", "e", "signed", Some("0x21")), other];
    let records = s.record_sends(&again, now()).await.unwrap();
    assert!(matches!(&records[0], SendRecord::Seen(job) if job.id == "job_e"), "{:?}", records[0]);
    assert_eq!(records[1], SendRecord::Recorded);

    // Through the writer task, many at once: each hears its own outcome, and every one is stored.
    let commit = GroupCommit::start(std::sync::Arc::new(s.clone()));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..64 {
        let commit = commit.clone();
        tasks.spawn(async move {
            let send = new_send("key_2", &format!("g{i}"), "signed", Some(&format!("0x1{i:02}")));
            commit.record(send).await.unwrap()
        });
    }
    while let Some(record) = tasks.join_next().await {
        assert_eq!(record.unwrap(), SendRecord::Recorded);
    }
    assert_eq!(s.all_runs().await.unwrap().len(), 4 + 64);
}

#[tokio::test]
async fn amounts_and_nonces_keep_every_digit() {
    // U256 values are TEXT: the largest nonce survives the round trip exactly.
    let (s, _dir) = store().await;
    s.insert_key(&key_row("key_1", "k", vec![1; 40])).await.unwrap();
    let t = now();
    s.insert_job(&job_row("job_1", "key_1", t)).await.unwrap();
    s.claim_keys("A", t, t + 30, 1).await.unwrap();
    let m = Materialize {
        job_id: "job_1".into(),
        key_id: "key_1".into(),
        expected_next: t,
        slots: vec![t],
        skipped: vec![],
        next_run_at: None,
    };
    assert!(s.materialize(&m, "A", t).await.unwrap());
    let run = s.open_runs("key_1").await.unwrap().remove(0);
    let max = alloy::primitives::U256::MAX.to_string();
    let attempt = warrant_service::storage::AttemptRow {
        run_id: run.id.clone(),
        n: 1,
        nonce: max.clone(),
        period: 4_000_000_000,
        user_op_hash: format!("0x{}", "ab".repeat(32)),
        user_op: "{}".into(),
        created_at: t,
    };
    assert!(s.record_attempt(&attempt, "pending", "A", t).await.unwrap());
    assert!(!s.record_attempt(&attempt, "pending", "A", t).await.unwrap(), "recorded once");
    let run = s.run(&run.id).await.unwrap().unwrap();
    assert_eq!(
        (run.state.as_str(), run.nonce.as_deref(), run.period),
        ("prepared", Some(max.as_str()), Some(4_000_000_000))
    );
    assert_eq!(s.attempts(&run.id).await.unwrap()[0].nonce, max);
    assert_eq!(s.job("job_1").await.unwrap().unwrap().state, "done");
}

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    serve: ServeArgs,
}

#[test]
fn flags_win_over_the_config_file_which_wins_over_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("service.toml");
    std::fs::write(
        &file,
        "rpc-url = \"http://file:8545\"\nbundler-url = \"http://file:4337\"\nlease-secs = 9\n",
    )
    .unwrap();
    let cli = Cli::parse_from(["x", "--config", file.to_str().unwrap(), "--rpc-url", "http://flag:8545"]);
    let config = cli.serve.resolve().unwrap();
    assert_eq!(config.rpc_url, "http://flag:8545");
    assert_eq!(config.bundler_url, "http://file:4337");
    assert_eq!(config.lease.as_secs(), 9);
    assert_eq!(config.listen.to_string(), "127.0.0.1:8645", "loopback by default");
    assert!(config.database_url.starts_with("sqlite://"));
    std::fs::write(&file, "rpc-urll = \"x\"\n").unwrap();
    let e =
        Cli::parse_from(["x", "--config", file.to_str().unwrap()]).serve.resolve().unwrap_err().to_string();
    assert!(e.contains("rpc-urll"), "{e}");
    let e = Cli::parse_from(["x"]).serve.resolve().unwrap_err().to_string();
    assert!(e.contains("--rpc-url"), "{e}");
}

#[test]
fn erc7715_settings_need_a_module_and_take_exact_origins_only() {
    let base = ["x", "--rpc-url", "http://n:8545", "--bundler-url", "http://b:4337"];
    let resolve = |extra: &[&str]| {
        let args: Vec<&str> = base.iter().chain(extra).copied().collect();
        Cli::parse_from(args).serve.resolve()
    };
    assert!(resolve(&[]).unwrap().erc7715.is_none(), "not served without a module");
    let module = "0x00000000000000000000000000000000000000aa";
    let on = resolve(&[
        "--erc7715-module",
        module,
        "--dapp-origins",
        "http://localhost:3000, https://dapp.example",
    ])
    .unwrap()
    .erc7715
    .unwrap();
    assert_eq!(on.dapp_origins, ["http://localhost:3000", "https://dapp.example"]);
    assert_eq!((on.wait.as_secs(), on.web_dir.as_path()), (300, std::path::Path::new("web")));
    for bad in ["*", "https://dapp.example/", "https://dapp.example/app", "dapp.example", ""] {
        let e = resolve(&["--erc7715-module", module, "--dapp-origins", bad]).unwrap_err().to_string();
        assert!(e.contains("is not an origin"), "{bad:?}: {e}");
    }
    let e = resolve(&["--erc7715-module", "0x12"]).unwrap_err().to_string();
    assert!(e.contains("--erc7715-module"), "{e}");
}

/// A checkpoint that runs while the writer appends never catches up with it, so SQLite never starts the WAL over
/// and it grows without bound (the benchmark's WAL reached 647 MB in ten seconds). The checkpoints run between
/// write transactions instead: under writes that never pause, with readers that never pause, the WAL restarts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wal_starts_over_under_constant_writes_and_reads() {
    let (s, _dir) = store().await;
    let reading = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (s, reading) = (s.clone(), reading.clone());
            tokio::spawn(async move {
                while reading.load(std::sync::atomic::Ordering::Relaxed) {
                    s.audit_log(0, 5).await.unwrap();
                }
            })
        })
        .collect();
    // Several writers, so that one always waits and the writes never pause; each writes new pages (16 KB), so a
    // checkpoint has much to copy and takes longer than any pause between two writes.
    let detail = "x".repeat(16_384);
    const WRITES_EACH: i64 = 250;
    let writers: Vec<_> = (0..4)
        .map(|_| {
            let (s, detail) = (s.clone(), detail.clone());
            // A count, not a duration: a loaded machine writes more slowly, never fewer times.
            tokio::spawn(async move {
                for _ in 0..WRITES_EACH {
                    s.audit("tok_1", "job.create", "job_1", &detail, now()).await.unwrap();
                }
            })
        })
        .collect();
    let writes = WRITES_EACH * writers.len() as i64;
    for w in writers {
        w.await.unwrap();
    }
    reading.store(false, std::sync::atomic::Ordering::Relaxed);
    for r in readers {
        r.await.unwrap();
    }
    // (busy, frames in the WAL, frames copied): every write added at least one frame.
    let (_, frames, _): (i64, i64, i64) =
        sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)").fetch_one(s.pool()).await.unwrap();
    eprintln!("{frames} frames in the WAL after {writes} writes");
    // A WAL that never started over would hold at least four frames a write (16 KB of 4 KB pages).
    assert!(frames < writes / 2, "{frames} frames in the WAL after {writes} writes: it never started over");
}
