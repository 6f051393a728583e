//! The Warrant service against real processes: anvil, Alto in safe mode, PostgreSQL. Jobs end to end (a send with
//! an idempotency key, a recurring job under a per-period cap that waits for the refill, a job that skips),
//! API authentication and bad input, the kill -9 test (0 duplicates, 0 lost), and two instances sharing jobs on
//! one PostgreSQL with one killed. See `docs/service.md`.
//!
//! Run with `cargo test -p warrant-service --test e2e -- --test-threads=1 --nocapture` (a step of scripts/test).

mod erc7715;
mod pg;
mod world;

use std::{
    collections::{BTreeMap, HashMap},
    path::Path,
    time::{Duration, Instant},
};

use alloy::primitives::Address;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use warrant_service::{Config, MasterKeySource, api, storage::Storage};
use world::{Api, Proc, World, create_token, free_port, run_states, service_command, wait_healthy};

fn now() -> i64 {
    warrant_service::ids::now()
}

fn config(w: &World, dir: &Path, database_url: Option<String>) -> Config {
    Config {
        data_dir: dir.to_path_buf(),
        database_url: database_url
            .unwrap_or_else(|| format!("sqlite://{}", dir.join("warrant.db").display())),
        master_key: MasterKeySource::File { path: dir.join("master.key"), create: true },
        listen: "127.0.0.1:0".parse().unwrap(),
        rpc_url: w.rpc(),
        bundler_url: w.bundler(),
        rpc_timeout: Duration::from_secs(15),
        lease: Duration::from_secs(5),
        tick: Duration::from_millis(100),
        receipt_timeout: Duration::from_secs(15),
        backoff: Duration::from_millis(300),
        max_backoff: Duration::from_secs(3),
        max_keys: 16,
        log_json: false,
        erc7715: None,
        dry_run: false,
    }
}

async fn admin_token(storage: &dyn Storage, sessions: &[&str]) -> String {
    let sessions: Vec<String> = sessions.iter().map(|s| s.to_string()).collect();
    let (token, row) = api::new_token(&sessions, "test").unwrap();
    storage.insert_token(&row).await.unwrap();
    token
}

fn all_final(job: &Value) -> bool {
    let states = run_states(job);
    !states.is_empty() && states.iter().all(|s| !matches!(s.as_str(), "pending" | "prepared" | "submitted"))
}

/// A send with an idempotency key (sent twice, executed once), a recurring job under a per-period cap that waits
/// for the refill, a one-off that skips when the cap is spent, an out-of-scope call refused with its rule, the
/// sessions' limits, pause / resume / cancel, a session used up, forgetting a key, metrics and the audit log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_through_alto() {
    warrant_service::init_logging(false);
    let w = World::start().await;
    let ticker = w.tick_blocks();
    let dir = tempfile::tempdir().unwrap();
    let running = warrant_service::start(config(&w, dir.path(), None), None).await.unwrap();
    let api =
        Api::new(format!("http://{}", running.addr), admin_token(running.storage.as_ref(), &["*"]).await);

    let (status, health) = api.get("/health").await;
    assert_eq!(
        (status, health["status"].as_str(), health["storage"].as_str()),
        (200, Some("ok"), Some("sqlite"))
    );

    // 1. Send now, twice with one idempotency key: one job, one run, one transfer.
    let payee = Address::random();
    api.session(&w, "payroll", w.token_scope(vec![], 0, 0)).await;
    let body = json!({ "calls": w.transfer(payee, 7), "idempotency_key": "invoice-1" });
    let (status, first) = api.post("/v1/sessions/payroll/send", &body).await;
    assert_eq!(status, 202, "{first}");
    let (status, again) = api.post("/v1/sessions/payroll/send", &body).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(first["job"]["id"], again["job"]["id"], "the same idempotency key names the same job");
    let id = first["job"]["id"].as_str().unwrap().to_string();
    let job = api.wait_job(&id, Duration::from_secs(90), all_final).await;
    assert_eq!(run_states(&job), ["included"], "{job:#}");
    let run = &job["runs"][0];
    assert!(run["user_op_hash"].as_str().is_some_and(|h| h.len() == 66) && run["nonce"].is_string(), "{run}");
    assert_eq!(w.transfers_to(payee).await, [7]);

    // 2. A per-period cap of 2 tokens, 1 token a run, a run every 3 s for three slots: two go, the third waits for
    //    the next period's refill and goes then. The period is 60 s and began 6 s ago: Alto takes an operation
    //    from 5 s after its period starts until 30 s before it ends (its own clock).
    let period_start = u64::try_from(now() - 6).unwrap();
    let allowance = Address::random();
    api.session(&w, "allowance", w.token_scope(vec![w.token_limit(2)], 60, period_start)).await;
    let t = now();
    let recurring = json!({
        "session": "allowance",
        "calls": w.transfer(allowance, 1),
        "schedule": { "kind": "interval", "every_secs": 3, "start": t, "until": t + 6 },
        "on_refused": "wait",
        "catch_up": "all",
    });
    let (status, job) = api.post("/v1/jobs", &recurring).await;
    assert_eq!(status, 201, "{job}");
    let recurring_id = job["id"].as_str().unwrap().to_string();
    let waiting = api
        .wait_job(&recurring_id, Duration::from_secs(60), |j| {
            let s = run_states(j);
            s.len() == 3
                && s.iter().filter(|s| *s == "included").count() == 2
                && j["runs"][2]["rule"].is_string()
        })
        .await;
    let third = &waiting["runs"][2];
    assert_eq!(
        (third["state"].as_str(), third["rule"].as_str()),
        (Some("pending"), Some("PeriodSpendLimitExceeded")),
        "{third}"
    );
    assert!(
        third["not_before"].as_i64().unwrap() > i64::try_from(period_start).unwrap() + 59,
        "waits for the refill: {third}"
    );

    // 3. Meanwhile a one-off that skips: recorded as skipped with the rule, nothing sent.
    let skip = json!({
        "session": "allowance",
        "calls": w.transfer(allowance, 1),
        "schedule": { "kind": "once" },
        "on_refused": "skip",
    });
    let (status, job) = api.post("/v1/jobs", &skip).await;
    assert_eq!(status, 201, "{job}");
    let skipped = api.wait_job(job["id"].as_str().unwrap(), Duration::from_secs(30), all_final).await;
    assert_eq!(run_states(&skipped), ["skipped"], "{skipped:#}");
    assert_eq!(skipped["runs"][0]["rule"], "PeriodSpendLimitExceeded");
    assert!(skipped["runs"][0]["user_op_hash"].is_null(), "nothing was signed");

    // The sessions' limits as the chain counts them.
    let (status, sessions) = api.get("/v1/sessions").await;
    assert_eq!(status, 200);
    let limited = sessions.as_array().unwrap().iter().find(|s| s["name"] == "allowance").unwrap();
    assert_eq!(limited["chain"]["limits"][0]["remaining_in_period"], "0", "{limited:#}");
    assert_eq!(limited["chain"]["state"], "enabled");

    // 4. An out-of-scope call (a transfer through another contract): refused with the rule, not sent.
    let out_of_scope = json!({ "calls": [{ "to": Address::random().to_string(), "data": "0x" }], "idempotency_key": "stray" });
    let (_, job) = api.post("/v1/sessions/payroll/send", &out_of_scope).await;
    let refused = api.wait_job(job["job"]["id"].as_str().unwrap(), Duration::from_secs(30), all_final).await;
    assert_eq!(run_states(&refused), ["refused"]);
    assert_eq!(refused["runs"][0]["rule"], "CallNotPermitted", "{refused:#}");

    // 5. Pause, resume, cancel.
    let later = json!({
        "session": "payroll",
        "calls": w.transfer(payee, 1),
        "schedule": { "kind": "cron", "expr": "0 9 * * MON", "tz": "Europe/Berlin" },
    });
    let (status, job) = api.post("/v1/jobs", &later).await;
    assert_eq!(status, 201, "{job}");
    let jid = job["id"].as_str().unwrap();
    assert!(job["next_run_at"].as_i64().unwrap() > now());
    assert_eq!(api.post(&format!("/v1/jobs/{jid}/pause"), &json!({})).await.1["state"], "paused");
    assert_eq!(api.post(&format!("/v1/jobs/{jid}/resume"), &json!({})).await.1["state"], "active");
    assert_eq!(api.post(&format!("/v1/jobs/{jid}/cancel"), &json!({})).await.1["state"], "cancelled");
    let (status, e) = api.post(&format!("/v1/jobs/{jid}/pause"), &json!({})).await;
    assert_eq!((status, e["error"].as_str()), (409, Some("conflict")), "{e}");
    let (status, jobs) = api.get("/v1/jobs").await;
    assert_eq!(status, 200);
    assert!(jobs.as_array().unwrap().len() >= 5);

    // 6. The refill: the waiting run goes in the next period.
    let done = api.wait_job(&recurring_id, Duration::from_secs(120), all_final).await;
    assert_eq!(run_states(&done), ["included", "included", "included"], "{done:#}");
    assert_eq!(w.transfers_to(allowance).await, [1, 1, 1]);
    let (_, runs) = api.get(&format!("/v1/jobs/{recurring_id}/runs")).await;
    assert_eq!(runs[2]["period"], 1, "the third run went in period 1: {runs:#}");

    // 7. A session of one use, used once: the chain's report (the client's, as `warrant status` prints it) says
    //    exhausted under the rule that refuses the next operation, and the key is marked so.
    let mut one_use = w.token_scope(vec![], 0, 0);
    one_use.maxUses = 1;
    api.session(&w, "one-use", one_use).await;
    let body = json!({ "calls": w.transfer(Address::random(), 1), "idempotency_key": "only" });
    let (status, sent) = api.post("/v1/sessions/one-use/send", &body).await;
    assert_eq!(status, 202, "{sent}");
    let used = api.wait_job(sent["job"]["id"].as_str().unwrap(), Duration::from_secs(90), all_final).await;
    assert_eq!(run_states(&used), ["included"], "{used:#}");
    let (_, sessions) = api.get("/v1/sessions").await;
    let used = sessions.as_array().unwrap().iter().find(|s| s["name"] == "one-use").unwrap();
    assert_eq!(
        (used["chain"]["state"].as_str(), used["chain"]["reason"].as_str(), used["chain"]["uses"].as_u64()),
        (Some("exhausted"), Some("UsesExhausted"), Some(1)),
        "{used:#}"
    );
    assert_eq!(used["state"], "exhausted", "{used:#}");

    // 8. Forgetting a key: its secret is erased, it is shown as forgotten and never used.
    let (status, key) = api.delete("/v1/keys/payroll").await;
    assert_eq!((status, key["state"].as_str()), (200, Some("forgotten")), "{key}");
    let (status, e) = api
        .post(
            "/v1/sessions/payroll/send",
            &json!({ "calls": w.transfer(payee, 1), "idempotency_key": "after" }),
        )
        .await;
    assert_eq!((status, e["error"].as_str()), (422, Some("refused")), "{e}");
    let secret_gone = running.storage.key_by_name("payroll").await.unwrap().unwrap().sealed.is_empty();
    assert!(secret_gone);

    // 9. Metrics and the audit log.
    let metrics =
        reqwest::get(format!("http://{}/metrics", running.addr)).await.unwrap().text().await.unwrap();
    for needle in [
        "warrant_refusals_total{rule=\"PeriodSpendLimitExceeded\"}",
        "warrant_refusals_total{rule=\"CallNotPermitted\"}",
        "warrant_runs_total{outcome=\"included\"} 5",
        "warrant_ops_sent_total",
        "warrant_run_latency_seconds_bucket",
        "warrant_http_latency_seconds_bucket",
    ] {
        assert!(metrics.contains(needle), "metrics lack {needle}:\n{metrics}");
    }
    let (status, log) = api.get("/v1/audit").await;
    assert_eq!(status, 200);
    let actions: Vec<&str> = log.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    for action in [
        "service.start",
        "key.create",
        "key.grant",
        "job.create",
        "job.paused",
        "job.cancelled",
        "key.forget",
    ] {
        assert!(actions.contains(&action), "audit log lacks {action}: {actions:?}");
    }
    let text = log.to_string();
    assert!(!text.contains("sealed") && !text.contains("wst_"), "no secret in the audit log");
    running.stop().await.unwrap();
    ticker.abort();
}

/// Tokens: missing, malformed, wrong secret, revoked sessions; a token limited to one session sees and touches only
/// that one. Bad input: each 4xx names the problem.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_refuses_bad_tokens_and_bad_input() {
    let w = World::start().await;
    let dir = tempfile::tempdir().unwrap();
    let running = warrant_service::start(config(&w, dir.path(), None), None).await.unwrap();
    let base = format!("http://{}", running.addr);
    let admin = Api::new(&base, admin_token(running.storage.as_ref(), &["*"]).await);
    let alice = admin.with_token(&admin_token(running.storage.as_ref(), &["alice"]).await);
    admin.session(&w, "alice", w.token_scope(vec![], 0, 0)).await;
    admin.session(&w, "bob", w.token_scope(vec![], 0, 0)).await;

    // Authentication.
    let anonymous = reqwest::Client::new().get(format!("{base}/v1/sessions")).send().await.unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    let body: Value = anonymous.json().await.unwrap();
    assert!(body["message"].as_str().unwrap().contains("Authorization"), "{body}");
    let forged = {
        let (prefix, _) = alice.token.split_once('.').unwrap();
        format!("{prefix}.{}", "0".repeat(64))
    };
    for token in ["nonsense", "wst_tok_00.00", forged.as_str()] {
        let (status, e) = admin.with_token(token).get("/v1/sessions").await;
        assert_eq!((status, e["error"].as_str()), (401, Some("unauthorized")), "{token}: {e}");
    }

    // Scope of a token: alice's token sees alice only.
    let (status, sessions) = alice.get("/v1/sessions").await;
    assert_eq!(status, 200);
    let names: Vec<&str> = sessions.as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["alice"]);
    let (status, e) = alice.post("/v1/keys", &json!({ "name": "mallory" })).await;
    assert_eq!((status, e["error"].as_str()), (403, Some("forbidden")), "{e}");
    let (status, e) = alice
        .post("/v1/sessions/bob/send", &json!({ "calls": w.transfer(w.account, 1), "idempotency_key": "x" }))
        .await;
    assert_eq!(status, 403, "{e}");
    assert!(e["message"].as_str().unwrap().contains("bob"));
    let bob_job = json!({ "session": "bob", "calls": w.transfer(w.account, 1), "schedule": { "kind": "once", "at": now() + 3600 } });
    let (status, job) = admin.post("/v1/jobs", &bob_job).await;
    assert_eq!(status, 201);
    let bob_job_id = job["id"].as_str().unwrap();
    let (status, _) = alice.get(&format!("/v1/jobs/{bob_job_id}")).await;
    assert_eq!(status, 404, "another session's job is not shown");
    let (status, _) = alice.post(&format!("/v1/jobs/{bob_job_id}/cancel"), &json!({})).await;
    assert_eq!(status, 404);
    let (status, jobs) = alice.get("/v1/jobs").await;
    assert_eq!((status, jobs.as_array().unwrap().len()), (200, 0));
    let (status, _) = alice.get("/v1/audit").await;
    assert_eq!(status, 403, "the audit log needs a token for every session");

    // Bad input, each naming the problem.
    let send =
        |calls: Value| json!({ "calls": calls, "idempotency_key": format!("k{}", rand::random::<u32>()) });
    let cases: Vec<(&str, Value, u16, &str)> = vec![
        ("/v1/keys", json!({ "name": "Bad Name!" }), 400, "session name"),
        ("/v1/keys", json!({ "name": "alice" }), 409, "alice"),
        ("/v1/keys", json!({ "nom": "x" }), 400, "unknown field `nom`"),
        ("/v1/keys/alice/grant", json!({ "token": "warrant1garbage" }), 400, "token:"),
        ("/v1/keys/nobody/grant", json!({ "token": "x" }), 404, "nobody"),
        ("/v1/sessions/alice/send", send(json!([])), 400, "at least one call"),
        ("/v1/sessions/alice/send", send(json!([{ "to": "0x12" }])), 400, "calls[0].to"),
        (
            "/v1/sessions/alice/send",
            send(json!([{ "to": w.token.to_string(), "value": "-1" }])),
            400,
            "calls[0].value",
        ),
        (
            "/v1/sessions/alice/send",
            send(json!([{ "to": w.token.to_string(), "data": "0xzz" }])),
            400,
            "calls[0].data",
        ),
        ("/v1/sessions/alice/send", json!({ "calls": w.transfer(w.account, 1) }), 400, "idempotency_key"),
        (
            "/v1/jobs",
            json!({ "session": "alice", "calls": w.transfer(w.account, 1), "schedule": { "kind": "cron", "expr": "61 * * * *" } }),
            400,
            "schedule.expr",
        ),
        (
            "/v1/jobs",
            json!({ "session": "alice", "calls": w.transfer(w.account, 1), "schedule": { "kind": "cron", "expr": "0 9 * * MON", "tz": "Mars/Olympus" } }),
            400,
            "schedule.tz",
        ),
        (
            "/v1/jobs",
            json!({ "session": "alice", "calls": w.transfer(w.account, 1), "schedule": { "kind": "interval", "every_secs": 0 } }),
            400,
            "every_secs",
        ),
        (
            "/v1/jobs",
            json!({ "session": "alice", "calls": w.transfer(w.account, 1), "schedule": { "kind": "weekly" } }),
            400,
            "weekly",
        ),
        (
            "/v1/jobs",
            json!({ "session": "alice", "calls": w.transfer(w.account, 1), "schedule": { "kind": "once" }, "on_refused": "retry" }),
            400,
            "on_refused",
        ),
    ];
    for (path, body, status, needle) in cases {
        let (got, e) = admin.post(path, &body).await;
        assert_eq!(got, status, "{path} {body}: {e}");
        let message = e["message"].as_str().unwrap_or_default();
        assert!(message.contains(needle), "{path} {body}: {message:?} should name {needle:?}");
    }
    // A grant for another key's address.
    let (_, carol) = admin.post("/v1/keys", &json!({ "name": "carol" })).await;
    assert_eq!(carol["state"], "new");
    let foreign = w.grant_token(Address::random(), w.token_scope(vec![], 0, 0)).await;
    let (status, e) = admin.post("/v1/keys/carol/grant", &json!({ "token": foreign })).await;
    assert_eq!(status, 400);
    assert!(e["message"].as_str().unwrap().contains("session key"), "{e}");
    let (status, e) = admin.post_raw("/v1/keys", "name=x", "application/x-www-form-urlencoded").await;
    assert_eq!(status, 415, "{e}");
    let (status, e) = admin.post_raw("/v1/keys", "{\"name\":", "application/json").await;
    assert_eq!(status, 400, "{e}");
    let (status, e) = admin.get("/v1/nothing").await;
    assert_eq!((status, e["error"].as_str()), (404, Some("not_found")));

    // The OpenAPI document is served and covers every route.
    let (status, doc) = admin.get("/openapi.json").await;
    assert_eq!(status, 200);
    for path in [
        "/v1/keys",
        "/v1/keys/{name}/grant",
        "/v1/sessions",
        "/v1/sessions/{name}/send",
        "/v1/jobs/{id}/runs",
        "/health",
    ] {
        assert!(doc["paths"][path].is_object(), "OpenAPI lacks {path}");
    }
    running.stop().await.unwrap();
}

/// API tokens over the API: only an admin token may create, list or revoke them (not a session-scoped one, not
/// even one for every session); a new token's secret is answered once and never listed; a revoked token gets 401;
/// bad input names the field; every change is audited without secrets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_tokens_are_managed_by_admin_tokens_only() {
    let w = World::start().await;
    let dir = tempfile::tempdir().unwrap();
    let running = warrant_service::start(config(&w, dir.path(), None), None).await.unwrap();
    let base = format!("http://{}", running.addr);
    let (admin_secret, mut row) = api::new_token(&["*".to_string()], "root").unwrap();
    row.admin = true;
    running.storage.insert_token(&row).await.unwrap();
    let admin = Api::new(&base, admin_secret);
    let everything = admin.with_token(&admin_token(running.storage.as_ref(), &["*"]).await);

    // The admin mints a token for one session: the secret once, in the answer.
    let (status, alice) =
        admin.post("/v1/tokens", &json!({ "sessions": ["alice"], "label": "alice's agent" })).await;
    assert_eq!(status, 201, "{alice}");
    let alice_token = alice["token"].as_str().unwrap().to_string();
    let alice_id = alice["id"].as_str().unwrap().to_string();
    assert!(alice_token.starts_with(&format!("wst_{alice_id}.")), "{alice}");
    assert_eq!((alice["admin"].as_bool(), alice["sessions"].clone()), (Some(false), json!(["alice"])));
    let alice_api = admin.with_token(&alice_token);
    let (status, key) = alice_api.post("/v1/keys", &json!({ "name": "alice" })).await;
    assert_eq!(status, 201, "the new token works: {key}");

    // Neither a session-scoped token nor one for every session may manage tokens.
    for (who, api) in [("alice", &alice_api), ("*", &everything)] {
        let (status, e) = api.post("/v1/tokens", &json!({ "sessions": ["*"], "admin": true })).await;
        assert_eq!((status, e["error"].as_str()), (403, Some("forbidden")), "{who}: {e}");
        assert!(e["message"].as_str().unwrap().contains("admin token"), "{e}");
        let (status, _) = api.get("/v1/tokens").await;
        assert_eq!(status, 403, "{who} lists tokens");
        let (status, _) = api.post(&format!("/v1/tokens/{}/revoke", row.id), &json!({})).await;
        assert_eq!(status, 403, "{who} revokes the admin");
    }

    // Listings carry no secret, nor a hash of one.
    let (status, list) = admin.get("/v1/tokens").await;
    assert_eq!(status, 200);
    let text = list.to_string();
    let (_, alice_secret) = alice_token.split_once('.').unwrap();
    assert!(
        !text.contains(alice_secret) && !text.contains("secret") && !text.contains(&row.secret_hash),
        "{list}"
    );
    let ids: Vec<&str> = list.as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&alice_id.as_str()) && ids.contains(&row.id.as_str()), "{list}");

    // Bad input names the problem.
    for (body, needle) in [
        (json!({ "sessions": [] }), "sessions"),
        (json!({ "sessions": ["Bad Name!"] }), "session name"),
        (json!({ "sessions": ["a"], "scope": "all" }), "unknown field `scope`"),
        (json!({ "sessions": ["a"], "admin": "yes" }), "admin"),
    ] {
        let (status, e) = admin.post("/v1/tokens", &body).await;
        assert_eq!(status, 400, "{body}: {e}");
        assert!(e["message"].as_str().unwrap().contains(needle), "{body}: {e} should name {needle:?}");
    }

    // A minted admin token may mint; revocation takes effect at once, and only once.
    let (status, second) = admin.post("/v1/tokens", &json!({ "sessions": ["*"], "admin": true })).await;
    assert_eq!(status, 201, "{second}");
    let second_admin = admin.with_token(second["token"].as_str().unwrap());
    // A send keeps the token's row for the next one (api/send.rs); a revocation must still stop the next.
    let send = |idem: &str| json!({ "calls": w.transfer(w.account, 1), "idempotency_key": idem });
    let (status, e) = alice_api.post("/v1/sessions/alice/send", &send("before")).await;
    assert_ne!(status, 401, "{e}");
    let (status, revoked) = second_admin.post(&format!("/v1/tokens/{alice_id}/revoke"), &json!({})).await;
    assert_eq!(status, 200, "{revoked}");
    assert!(revoked["revoked_at"].is_i64(), "{revoked}");
    let (status, e) = alice_api.get("/v1/sessions").await;
    assert_eq!((status, e["error"].as_str()), (401, Some("unauthorized")), "a revoked token: {e}");
    let (status, e) = alice_api.post("/v1/sessions/alice/send", &send("after")).await;
    assert_eq!((status, e["error"].as_str()), (401, Some("unauthorized")), "a revoked token's send: {e}");
    let (status, _) = second_admin.post(&format!("/v1/tokens/{alice_id}/revoke"), &json!({})).await;
    assert_eq!(status, 409, "revoked already");
    let (status, _) = second_admin.post("/v1/tokens/tok_nobody/revoke", &json!({})).await;
    assert_eq!(status, 404);

    // Audited, by who did it, without secrets.
    let (status, log) = admin.get("/v1/audit").await;
    assert_eq!(status, 200);
    let entries = log.as_array().unwrap();
    let find = |action: &str, subject: &str| {
        entries.iter().find(|e| e["action"] == action && e["subject"] == subject).cloned()
    };
    let created = find("token.create", &alice_id).expect("token.create audited");
    assert_eq!(created["actor"], row.id.as_str(), "{created}");
    let second_id = second["id"].as_str().unwrap();
    let revoke = find("token.revoke", &alice_id).expect("token.revoke audited");
    assert_eq!(revoke["actor"], second_id, "{revoke}");
    assert!(!log.to_string().contains(alice_secret), "no secret in the audit log");
    running.stop().await.unwrap();
}

/// What the chain shows against what the service recorded: per amount, how many transfers.
async fn compare(w: &World, recipient: Address, amounts: &[u64]) -> (usize, usize, usize) {
    let mut seen: HashMap<u64, usize> = HashMap::new();
    let transfers = w.transfers_to(recipient).await;
    for a in &transfers {
        *seen.entry(*a).or_default() += 1;
    }
    let duplicates = seen.values().map(|c| c.saturating_sub(1)).sum();
    let lost = amounts.iter().filter(|a| !seen.contains_key(a)).count();
    (transfers.len(), duplicates, lost)
}

/// Posts every send not yet acknowledged (a client retrying after errors, with its idempotency keys).
async fn post_sends(
    api: &Api,
    w: &World,
    recipient: Address,
    amounts: &[u64],
    keys: usize,
    acked: &mut BTreeMap<usize, String>,
) {
    for (i, amount) in amounts.iter().enumerate() {
        if acked.contains_key(&i) {
            continue;
        }
        let body = json!({ "calls": w.transfer(recipient, *amount), "idempotency_key": format!("load-{i}") });
        match api.try_post(&format!("/v1/sessions/k{}/send", i % keys), &body).await {
            Ok((status, job)) if status == 200 || status == 202 => {
                acked.insert(i, job["job"]["id"].as_str().unwrap().to_string());
            }
            _ => return,
        }
    }
}

/// Waits until every job's runs are final; returns the jobs.
async fn wait_all(api: &Api, ids: &BTreeMap<usize, String>, timeout: Duration) -> Vec<Value> {
    let start = Instant::now();
    loop {
        let mut jobs = Vec::new();
        for id in ids.values() {
            if let Ok((200, job)) = api.try_get(&format!("/v1/jobs/{id}")).await {
                jobs.push(job);
            }
        }
        if jobs.len() == ids.len() && jobs.iter().all(all_final) {
            return jobs;
        }
        let open: Vec<String> =
            jobs.iter().filter(|j| !all_final(j)).map(|j| format!("{:?}", run_states(j))).collect();
        assert!(start.elapsed() < timeout, "not all runs settled in {timeout:?}: {open:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// kill -9 at random points under load, many times: after the last restart every job has exactly one run, it is
/// included, and the chain shows exactly one transfer per job: 0 duplicates, 0 lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_loses_and_duplicates_nothing() {
    let rounds: usize = std::env::var("WARRANT_KILL_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(10);
    let seed: u64 =
        std::env::var("WARRANT_KILL_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or_else(rand::random);
    println!("kill -9 test: {rounds} rounds, seed {seed} (WARRANT_KILL_SEED={seed} replays it)");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let w = World::start().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_string();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let token = create_token(&["--data-dir", &data], "*");
    // Outside the temporary directory, so it outlives a failed run.
    let log = std::env::temp_dir().join(format!("warrant-service-kill9-{}.log", std::process::id()));
    println!("service log: {}", log.display());
    let (rpc, bundler, listen) = (w.rpc(), w.bundler(), format!("127.0.0.1:{port}"));
    let args = [
        "serve",
        "--data-dir",
        &data,
        "--listen",
        &listen,
        "--rpc-url",
        &rpc,
        "--bundler-url",
        &bundler,
        "--lease-secs",
        "3",
        "--tick-ms",
        "100",
        "--backoff-ms",
        "200",
        "--max-backoff-ms",
        "3000",
        "--receipt-timeout-secs",
        "10",
        // A run whose submission's answer was not seen (the instance was killed) waits this long before it is
        // looked at again (WorkerConfig::submit_window): Alto under load takes seconds to answer.
        "--rpc-timeout",
        "15",
    ];
    let spawn = || Proc::spawn(service_command(&args), &log);
    let api = Api::new(&base, &token);

    let mut proc = spawn();
    wait_healthy(&base, &mut proc, Duration::from_secs(30)).await;
    let keys = 3;
    // One key per account: Alto (ERC-7562) holds one operation per unstaked sender in its mempool.
    for k in 0..keys {
        let owner = w.other_account().await;
        api.session_of(&w, &owner, &format!("k{k}"), w.token_scope(vec![], 0, 0)).await;
    }
    let recipient = Address::random();
    let amounts: Vec<u64> = (0..30).map(|i| 1000 + i).collect();
    let mut acked = BTreeMap::new();
    for round in 0..rounds {
        if round > 0 {
            proc = spawn();
            wait_healthy(&base, &mut proc, Duration::from_secs(30)).await;
        }
        post_sends(&api, &w, recipient, &amounts, keys, &mut acked).await;
        let wait = Duration::from_millis(rng.random_range(300..3000));
        tokio::time::sleep(wait).await;
        proc.kill9();
        let (on_chain, _, _) = compare(&w, recipient, &amounts).await;
        println!(
            "round {round}: killed after {wait:?}; {} sends acknowledged, {on_chain} transfers on chain",
            acked.len()
        );
    }
    proc = spawn();
    wait_healthy(&base, &mut proc, Duration::from_secs(30)).await;
    post_sends(&api, &w, recipient, &amounts, keys, &mut acked).await;
    assert_eq!(acked.len(), amounts.len(), "every send acknowledged");
    let jobs = wait_all(&api, &acked, Duration::from_secs(240)).await;
    let (on_chain, duplicates, lost) = compare(&w, recipient, &amounts).await;
    let runs: usize = jobs.iter().map(|j| j["runs"].as_array().unwrap().len()).sum();
    let included = jobs.iter().filter(|j| run_states(j) == ["included"]).count();
    println!(
        "kill -9 test: {rounds} kills, {} jobs, {runs} runs, {included} included, {on_chain} transfers on chain: \
         {duplicates} duplicates, {lost} lost",
        amounts.len()
    );
    assert_eq!((duplicates, lost), (0, 0), "0 duplicates and 0 lost");
    assert_eq!((runs, included, on_chain), (amounts.len(), amounts.len(), amounts.len()));
    // Every included run's recorded hash is the one that landed.
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(!text.contains(&token[token.find('.').unwrap() + 1..]), "the API token's secret is never logged");
    assert_eq!(proc.terminate(), Some(0), "graceful shutdown on SIGTERM");
}

/// Two instances on one PostgreSQL share the jobs; one is killed with -9 mid-way and the other takes over its
/// keys when their leases expire. Every job runs exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_jobs_on_postgres() {
    let pg = pg::PgServer::start();
    let w = World::start().await;
    let dir = tempfile::tempdir().unwrap();
    let master = dir.path().join("master.key");
    warrant_service::keys::MasterKey::create_file(&master).unwrap();
    let master = master.to_str().unwrap().to_string();
    let db = ["--database-url", pg.url.as_str(), "--master-key-file", master.as_str()];
    let token = create_token(&db, "*");
    let (rpc, bundler) = (w.rpc(), w.bundler());
    let mut procs = Vec::new();
    let mut apis = Vec::new();
    for name in ["a", "b"] {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let mut args = vec!["serve", "--listen", &listen, "--rpc-url", &rpc, "--bundler-url", &bundler];
        args.extend_from_slice(&db);
        args.extend_from_slice(&[
            "--lease-secs",
            "3",
            "--tick-ms",
            "100",
            "--backoff-ms",
            "200",
            "--max-backoff-ms",
            "3000",
            "--rpc-timeout",
            "15",
        ]);
        args.extend_from_slice(&["--max-keys", "2"]);
        let mut proc = Proc::spawn(service_command(&args), &dir.path().join(format!("{name}.log")));
        let base = format!("http://{listen}");
        wait_healthy(&base, &mut proc, Duration::from_secs(30)).await;
        procs.push(proc);
        apis.push(Api::new(base, &token));
    }
    let keys = 4;
    for k in 0..keys {
        let owner = w.other_account().await;
        apis[0].session_of(&w, &owner, &format!("k{k}"), w.token_scope(vec![], 0, 0)).await;
    }
    let recipient = Address::random();
    let amounts: Vec<u64> = (0..24).map(|i| 5000 + i).collect();
    let mut acked = BTreeMap::new();
    // Half the sends through each instance.
    for (i, amount) in amounts.iter().enumerate() {
        let body = json!({ "calls": w.transfer(recipient, *amount), "idempotency_key": format!("pg-{i}") });
        let (status, job) = apis[i % 2].post(&format!("/v1/sessions/k{}/send", i % keys), &body).await;
        assert_eq!(status, 202, "{job}");
        acked.insert(i, job["job"]["id"].as_str().unwrap().to_string());
    }
    // Let both work, then kill A.
    let start = Instant::now();
    while w.transfers_to(recipient).await.len() < 6 {
        assert!(start.elapsed() < Duration::from_secs(120), "no progress");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let sent_by = |metrics: &str| {
        metrics
            .lines()
            .find(|l| l.starts_with("warrant_ops_sent_total"))
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let a_sent =
        sent_by(&reqwest::get(format!("{}/metrics", apis[0].base)).await.unwrap().text().await.unwrap());
    procs[0].kill9();
    println!("instance A killed after sending {a_sent} operations");
    let jobs = wait_all(&apis[1], &acked, Duration::from_secs(240)).await;
    let b_sent =
        sent_by(&reqwest::get(format!("{}/metrics", apis[1].base)).await.unwrap().text().await.unwrap());
    let (on_chain, duplicates, lost) = compare(&w, recipient, &amounts).await;
    let runs: usize = jobs.iter().map(|j| j["runs"].as_array().unwrap().len()).sum();
    println!(
        "two instances on PostgreSQL: A sent {a_sent} then was killed, B sent {b_sent}; {} jobs, {runs} runs, \
         {on_chain} transfers on chain: {duplicates} duplicates, {lost} lost",
        amounts.len()
    );
    assert!(a_sent > 0 && b_sent > 0, "both instances worked");
    assert_eq!((duplicates, lost), (0, 0));
    assert_eq!((runs, on_chain), (amounts.len(), amounts.len()));
    assert!(jobs.iter().all(|j| run_states(j) == ["included"]));
    assert_eq!(procs[1].terminate(), Some(0));
}

/// On PostgreSQL sends are recorded by several writer tasks at once. A key's sends always meet in one writer, so a
/// repeated idempotency key finds its first job (never two jobs, never a batch failed on the unique constraint),
/// and every send hears its own outcome.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_on_postgres_are_recorded_by_several_writers() {
    use warrant_service::storage::{
        AttemptRow, GroupCommit, JobRow, KeyRow, KeySeen, NewSend, PgStorage, RunRow, SendRecord, TokenRow,
    };
    let pg = pg::PgServer::start();
    let store = PgStorage::connect(&pg.url).await.unwrap();
    let t = now();
    let keys = 16;
    for k in 0..keys {
        let key = KeyRow {
            id: format!("key_{k}"),
            name: format!("k{k}"),
            address: format!("0x{:040x}", k + 1),
            sealed: vec![1; 40],
            nonce_lane: 1,
            grant_token: Some("grant".into()),
            account: None,
            session_id: None,
            state: "active".into(),
            state_reason: None,
            created_at: t,
        };
        store.insert_key(&key).await.unwrap();
    }
    let token = TokenRow {
        id: "tok".into(),
        secret_hash: "00".into(),
        sessions: "*".into(),
        label: "test".into(),
        created_at: t,
        revoked_at: None,
        admin: false,
    };
    store.insert_token(&token).await.unwrap();
    // Each idempotency key twice, from two tasks at once; each send of its own job and operation.
    let send = |k: usize, i: usize, copy: usize| {
        let tag = format!("{k}-{i}-{copy}");
        let job = JobRow {
            id: format!("job_{tag}"),
            key_id: format!("key_{k}"),
            calls: "[]".into(),
            schedule: r#"{"kind":"once"}"#.into(),
            on_refused: "wait".into(),
            catch_up: "all".into(),
            state: "done".into(),
            next_run_at: None,
            idempotency_key: Some(format!("idem-{i}")),
            created_at: t,
        };
        let hash = format!("0x{tag}");
        let run = RunRow {
            id: format!("run_{tag}"),
            job_id: job.id.clone(),
            key_id: job.key_id.clone(),
            slot: t,
            state: "signed".into(),
            tries: 0,
            not_before: t,
            nonce: Some(i.to_string()),
            period: Some(0),
            user_op_hash: Some(hash.clone()),
            transaction_hash: None,
            rule: None,
            error: None,
            created_at: t,
            updated_at: t,
        };
        let attempt = AttemptRow {
            run_id: run.id.clone(),
            n: 1,
            nonce: i.to_string(),
            period: 0,
            user_op_hash: hash,
            user_op: "{}".into(),
            created_at: t,
        };
        NewSend {
            job,
            run,
            attempt: Some(attempt),
            actor: "tok".into(),
            detail: "{}".into(),
            key_seen: KeySeen { grant_token: Some("grant".into()), nonce_lane: 1 },
        }
    };
    let commit = GroupCommit::start(std::sync::Arc::new(store.clone()));
    let per_key = 24;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..per_key {
        for copy in 0..2 {
            for k in 0..keys {
                let (commit, s) = (commit.clone(), send(k, i, copy));
                tasks.spawn(async move { ((k, i), commit.record(s).await.unwrap()) });
            }
        }
    }
    let mut outcomes: BTreeMap<(usize, usize), Vec<SendRecord>> = BTreeMap::new();
    while let Some(r) = tasks.join_next().await {
        let (idem, record) = r.unwrap();
        outcomes.entry(idem).or_default().push(record);
    }
    assert_eq!(outcomes.len(), keys * per_key);
    for (idem, records) in &outcomes {
        let recorded = records.iter().filter(|r| **r == SendRecord::Recorded).count();
        let seen = records.iter().filter(|r| matches!(r, SendRecord::Seen(_))).count();
        assert_eq!((recorded, seen), (1, 1), "{idem:?}: {records:?}");
    }
    let runs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM runs").fetch_one(store.pool()).await.unwrap();
    let jobs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs").fetch_one(store.pool()).await.unwrap();
    assert_eq!((runs, jobs), ((keys * per_key) as i64, (keys * per_key) as i64));
}

/// The SQLite and PostgreSQL migrations give the same tables, columns, nullability and unique constraints.
#[tokio::test]
async fn schemas_match_on_sqlite_and_postgres() {
    let pg = pg::PgServer::start();
    let pg_store = warrant_service::storage::PgStorage::connect(&pg.url).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sqlite = warrant_service::storage::SqliteStorage::connect(&format!(
        "sqlite://{}",
        dir.path().join("s.db").display()
    ))
    .await
    .unwrap();
    let pg_columns: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text, is_nullable::text FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name <> '_sqlx_migrations' ORDER BY table_name, column_name",
    )
    .fetch_all(pg_store.pool())
    .await
    .unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\' AND name <> 'sqlite_sequence'",
    )
    .fetch_all(sqlite.pool())
    .await
    .unwrap();
    let mut sqlite_columns = Vec::new();
    for t in &tables {
        let cols: Vec<(String, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT name, \"notnull\", pk FROM pragma_table_info('{t}')"
        )))
        .fetch_all(sqlite.pool())
        .await
        .unwrap();
        for (name, notnull, pk) in cols {
            // SQLite lets a non-INTEGER primary key column hold NULL unless declared NOT NULL; Postgres' are NOT NULL.
            let nullable = if notnull == 1 || pk > 0 { "NO" } else { "YES" };
            sqlite_columns.push((t.clone(), name, nullable.to_string()));
        }
    }
    sqlite_columns.sort();
    assert_eq!(sqlite_columns, pg_columns, "the two schemas differ");
    assert!(pg_columns.len() > 40, "{pg_columns:?}");
    // Unique constraints: the same column sets.
    let pg_unique: Vec<(String, String)> = sqlx::query_as(
        "SELECT tc.table_name::text, string_agg(kcu.column_name::text, ',' ORDER BY kcu.ordinal_position) \
         FROM information_schema.table_constraints tc JOIN information_schema.key_column_usage kcu \
         ON tc.constraint_name = kcu.constraint_name AND tc.table_schema = kcu.table_schema \
         WHERE tc.table_schema = 'public' AND tc.constraint_type IN ('UNIQUE', 'PRIMARY KEY') AND tc.table_name <> '_sqlx_migrations' \
         GROUP BY tc.table_name, tc.constraint_name ORDER BY 1, 2",
    )
    .fetch_all(pg_store.pool())
    .await
    .unwrap();
    let mut sqlite_unique = Vec::new();
    for t in &tables {
        let indexes: Vec<(String, i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT name, \"unique\", origin FROM pragma_index_list('{t}')"
        )))
        .fetch_all(sqlite.pool())
        .await
        .unwrap();
        for (index, unique, origin) in indexes {
            if unique == 1 && origin != "c" {
                let cols: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                    "SELECT name FROM pragma_index_info('{index}') ORDER BY seqno"
                )))
                .fetch_all(sqlite.pool())
                .await
                .unwrap();
                sqlite_unique.push((t.clone(), cols.join(",")));
            }
        }
        // An INTEGER PRIMARY KEY is the rowid, with no index.
        let rowid_pk: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT name FROM pragma_table_info('{t}') WHERE pk = 1 AND type = 'INTEGER'"
        )))
        .fetch_all(sqlite.pool())
        .await
        .unwrap();
        if let [pk] = rowid_pk.as_slice() {
            sqlite_unique.push((t.clone(), pk.clone()));
        }
    }
    sqlite_unique.sort();
    assert_eq!(sqlite_unique, pg_unique, "unique constraints differ");
}

/// `--dry-run`: runs are pre-flighted, signed and recorded (nonce, period, userOpHash) and end `signed`, never
/// sent: nothing moves on chain and the nonce is not consumed (two runs, one nonce). A send is signed and
/// recorded in the request, so its answer carries the run `signed`. A pre-flight refusal is still recorded with
/// its rule. The database is bound to its mode: started without `--dry-run` it is refused, and a live database
/// is refused `--dry-run`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_signs_and_records_but_never_sends_and_never_mixes() {
    warrant_service::init_logging(false);
    let w = World::start().await;
    let dir = tempfile::tempdir().unwrap();
    let dry = Config { dry_run: true, ..config(&w, dir.path(), None) };
    let running = warrant_service::start(dry.clone(), None).await.unwrap();
    let api =
        Api::new(format!("http://{}", running.addr), admin_token(running.storage.as_ref(), &["*"]).await);
    let payee = Address::random();
    api.session(&w, "staging", w.token_scope(vec![], 0, 0)).await;
    let mut runs = Vec::new();
    for (amount, key) in [(3u64, "a"), (4, "b")] {
        let body = json!({ "calls": w.transfer(payee, amount), "idempotency_key": key });
        let (status, sent) = api.post("/v1/sessions/staging/send", &body).await;
        assert_eq!(status, 202, "{sent}");
        assert_eq!(run_states(&sent), ["signed"], "signed in the request: {sent:#}");
        let id = sent["job"]["id"].as_str().unwrap().to_string();
        let job = api.wait_job(&id, Duration::from_secs(60), all_final).await;
        assert_eq!(job["runs"], sent["runs"], "the answer is what was recorded");
        runs.push(job["runs"][0].clone());
    }
    for run in &runs {
        assert_eq!(run["in_doubt"], false, "{run}");
        assert!(run["user_op_hash"].as_str().is_some_and(|h| h.len() == 66), "{run}");
        assert!(run["transaction_hash"].is_null(), "{run}");
    }
    assert_eq!(runs[0]["nonce"], runs[1]["nonce"], "a dry run does not consume its nonce");
    assert_ne!(runs[0]["user_op_hash"], runs[1]["user_op_hash"]);
    // The same idempotency key answers the same job and signs nothing more.
    let body = json!({ "calls": w.transfer(payee, 5), "idempotency_key": "a" });
    let (status, again) = api.post("/v1/sessions/staging/send", &body).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["runs"][0], runs[0], "{again:#}");
    // An out-of-scope call is refused by the pre-flight with its rule, as for real, in the answer.
    let stray = json!([{ "to": Address::random().to_string(), "data": "0x" }]);
    let (status, sent) =
        api.post("/v1/sessions/staging/send", &json!({ "calls": stray, "idempotency_key": "c" })).await;
    assert_eq!(status, 202, "{sent}");
    assert_eq!(run_states(&sent), ["refused"], "{sent:#}");
    assert_eq!(sent["runs"][0]["rule"], "CallNotPermitted", "{sent:#}");
    // The first send's calls again: the same nonce signs the very same operation, which can't be recorded twice;
    // the run fails by name instead of staying pending.
    let body = json!({ "calls": w.transfer(payee, 3), "idempotency_key": "d" });
    let (status, sent) = api.post("/v1/sessions/staging/send", &body).await;
    assert_eq!(status, 202, "{sent}");
    let id = sent["job"]["id"].as_str().unwrap().to_string();
    let job = api.wait_job(&id, Duration::from_secs(60), all_final).await;
    assert_eq!(run_states(&job), ["failed"], "{job:#}");
    assert!(job["runs"][0]["error"].as_str().is_some_and(|e| e.starts_with("DryRunDuplicate")), "{job:#}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(w.transfers_to(payee).await.is_empty(), "a dry run sends nothing");
    running.stop().await.unwrap();

    // The dry run's database refuses real sends; a live database refuses a dry run.
    let live = Config { dry_run: false, ..dry.clone() };
    let err = warrant_service::start(live, None).await.err().expect("a dry-run database refuses real sends");
    assert!(err.to_string().contains("dry run"), "{err}");
    let again = warrant_service::start(dry, None).await.unwrap();
    again.stop().await.unwrap();
    let live_dir = tempfile::tempdir().unwrap();
    let first = warrant_service::start(config(&w, live_dir.path(), None), None).await.unwrap();
    first.stop().await.unwrap();
    let dry_on_live = Config { dry_run: true, ..config(&w, live_dir.path(), None) };
    let err =
        warrant_service::start(dry_on_live, None).await.err().expect("a live database refuses --dry-run");
    assert!(err.to_string().contains("--dry-run needs a database of its own"), "{err}");
}
