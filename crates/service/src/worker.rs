//! The worker: leases keys, creates runs for due jobs, and takes each run through pre-flight, sign, record,
//! submit, receipt — exactly once.
//!
//! The argument (`docs/service.md` has it in full): a run's signed operation is recorded (nonce, period,
//! userOpHash) before it is sent, so every operation that can ever land is known to the database. Operations of
//! one run with the same nonce can land at most once between them (the EntryPoint's nonce). A new operation with a
//! *different* nonce is signed for a run only once every earlier one is provably dead: the EntryPoint nonce has
//! moved past it (read first) and no receipt exists for any of its hashes (read after). A key's runs go one at a
//! time, under a lease on the key, and every write is fenced by that lease.

use std::{sync::Arc, time::Duration};

use alloy::primitives::{B256, U256};
use tokio::sync::watch;
use tracing::{debug, info, warn};
use warrant_core::token::SignedGrant;

use crate::{
    calls::{CallSpec, parse_calls},
    executor::{ExecError, Executor, OpReceipt, Prepared, Session},
    ids::now,
    keys::MasterKey,
    metrics::Metrics,
    schedule::{CatchUp, Schedule},
    storage::{AttemptRow, KeyRow, Materialize, RunRow, RunUpdate, Storage, StorageError},
};

/// Worker settings.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    /// This instance's id (the lease owner).
    pub instance: String,
    /// How long a lease lasts without renewal; a dead instance's keys are taken over after it.
    pub lease: Duration,
    /// Pause between claims.
    pub tick: Duration,
    /// How long one receipt wait lasts before the run is left `submitted` and looked at again later.
    pub receipt_timeout: Duration,
    /// Keys worked on at once.
    pub max_keys: usize,
    /// First retry delay for node and bundler failures (doubles up to `max_backoff`).
    pub backoff: Duration,
    /// Longest retry delay.
    pub max_backoff: Duration,
    /// Node or bundler failures before a run without a live operation is marked failed.
    pub max_tries: i64,
    /// How long a submission may still be in flight at the bundler when its answer was not seen (the request
    /// timeout): a run is not looked at again before that, so no instance sends an operation while an earlier
    /// submission of it may still be in the bundler's validation.
    pub submit_window: Duration,
    /// Dry run (`--dry-run`): a recorded run ends `signed` and is never sent.
    pub dry_run: bool,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            instance: crate::ids::new_id("instance"),
            lease: Duration::from_secs(30),
            tick: Duration::from_millis(500),
            receipt_timeout: Duration::from_secs(30),
            max_keys: 16,
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            max_tries: 20,
            submit_window: Duration::from_secs(45),
            dry_run: false,
        }
    }
}

/// Rules after which a key is never used again, and the state they put it in.
pub(crate) fn key_state_for(rule: &str) -> Option<&'static str> {
    match rule {
        "SessionRevoked" | "GrantEpochStale" => Some("revoked"),
        "SessionExpired" => Some("expired"),
        "UsesExhausted" | "SpendLimitExceeded" | "SessionValueExceeded" => Some("exhausted"),
        _ => None,
    }
}

/// Rules a later period lifts.
pub(crate) fn refills(rule: &str) -> bool {
    matches!(rule, "PeriodSpendLimitExceeded" | "PeriodUsesExhausted")
}

/// How a run refused under `rule` ends when it does not wait for the refill: `skipped` if a later period would
/// lift the rule, else `refused`.
pub(crate) fn refused_state(rule: &str) -> &'static str {
    if refills(rule) { "skipped" } else { "refused" }
}

/// A bundler refusal that the same operation will always get (its period's window is over or not yet open), so
/// a replacement under the same nonce is called for. Other refusals
/// (nonce already queued, sender throttled) pass by themselves.
fn replaceable(message: &str) -> bool {
    // Only the window: a replacement for any other refusal can leave the bundler holding two operations of one
    // sender and nonce, and Alto then keeps the dead one and refuses the sender's next ones (unstaked sender).
    message.contains("AA22")
}

/// The bundler already holds this very operation.
fn already_known(e: &ExecError) -> bool {
    matches!(e, ExecError::Rejected(m) if m.to_lowercase().contains("already known") || m.to_lowercase().contains("already in mempool"))
}

/// One prepare-and-record at a time per key in this process (the worker's and the API's): an operation signed
/// but then not recorded is forgotten ([`Executor::forget`]) before another operation of the key is signed, so
/// none is built on a sequence that will never be used.
#[derive(Debug, Default)]
pub struct KeyLocks(std::sync::Mutex<std::collections::HashMap<String, Arc<tokio::sync::Mutex<()>>>>);

impl KeyLocks {
    /// Waits for key `key_id`'s turn.
    pub async fn lock(&self, key_id: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = self.0.lock().expect("not poisoned").entry(key_id.to_string()).or_default().clone();
        lock.lock_owned().await
    }
}

/// The record of `prepared` as attempt `n` of run `run_id`, made at `at`.
pub(crate) fn attempt_row(
    run_id: &str,
    n: i64,
    prepared: &Prepared,
    at: i64,
) -> Result<AttemptRow, StorageError> {
    Ok(AttemptRow {
        run_id: run_id.into(),
        n,
        nonce: prepared.nonce.to_string(),
        period: i64::from(prepared.period),
        user_op_hash: prepared.hash.to_string(),
        user_op: serde_json::to_string(&prepared.op).map_err(|e| StorageError::Corrupt(e.to_string()))?,
        created_at: at,
    })
}

/// The session of a key, or `None` if it has no grant or its secret does not open.
pub(crate) fn session_of(master: &MasterKey, key: &KeyRow) -> Option<Session> {
    let token = key.grant_token.as_deref()?;
    let grant = SignedGrant::from_token(token).ok()?;
    let signer = master.signer(&key.id, &key.sealed).ok()?;
    Some(Session { signer, grant, nonce_lane: u32::try_from(key.nonce_lane).ok()? })
}

/// The worker.
pub struct Worker {
    storage: Arc<dyn Storage>,
    executor: Arc<dyn Executor>,
    master: Arc<MasterKey>,
    metrics: Metrics,
    config: WorkerConfig,
    shutdown: watch::Receiver<bool>,
    /// Keys a task of this instance is working on: a key whose lease was claimed again (it expired while its
    /// task was slow) is not given a second task.
    active: std::sync::Mutex<std::collections::HashSet<String>>,
    /// Shared with the API's sends.
    locks: Arc<KeyLocks>,
    /// Rung by the API when a run is waiting: the worker claims at once instead of at the next tick.
    wake: Arc<tokio::sync::Notify>,
}

/// What stepping a run left behind.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    /// The run reached a final state, or a new one may start: go on with the key's next run.
    Continue,
    /// The key's nonce lane is blocked (an operation in flight, a backoff): stop until the next claim.
    Stop,
}

/// Whether a prepared operation was recorded.
#[derive(Debug)]
enum Recorded {
    /// It was: it may be sent.
    Yes,
    /// It was not (the lease or the run moved on, or it is the operation recorded last): stop here.
    No(Step),
    /// Dry run: an earlier dry run recorded this very operation.
    DryRunDuplicate,
}

/// What one submission of an operation came to.
#[derive(Debug)]
enum Submission {
    /// The bundler took it, or already holds it.
    Accepted,
    /// The bundler refused it (its message).
    Refused(String),
    /// The bundler or the node failed.
    Failed(ExecError),
    /// The key's lease is no longer this instance's: nothing was sent.
    LeaseLost,
}

type WResult<T> = Result<T, StorageError>;

impl Worker {
    /// A worker; it stops when `shutdown` turns true.
    pub fn new(
        storage: Arc<dyn Storage>,
        executor: Arc<dyn Executor>,
        master: Arc<MasterKey>,
        metrics: Metrics,
        config: WorkerConfig,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        Self {
            storage,
            executor,
            master,
            metrics,
            config,
            shutdown,
            active: Default::default(),
            locks: Default::default(),
            wake: Default::default(),
        }
    }

    /// The per-key locks, to share with the API's sends.
    pub fn locks(&self) -> Arc<KeyLocks> {
        self.locks.clone()
    }

    /// The bell the API rings when a run is waiting.
    pub fn wake(&self) -> Arc<tokio::sync::Notify> {
        self.wake.clone()
    }

    fn stopping(&self) -> bool {
        *self.shutdown.borrow()
    }

    fn lease_until(&self) -> i64 {
        now() + i64::try_from(self.config.lease.as_secs()).unwrap_or(30)
    }

    fn backoff(&self, tries: i64) -> i64 {
        let base = self.config.backoff.as_secs_f64().max(0.001);
        let delay = (base * 2f64.powi(i32::try_from(tries.clamp(0, 30)).unwrap_or(30)))
            .min(self.config.max_backoff.as_secs_f64());
        now() + (delay.ceil() as i64).max(1)
    }

    /// Before anything else at start: resolves every run whose operation was recorded but not known to be
    /// included (`prepared`, `submitted`), for every key this instance can lease. Returns how many it looked at.
    pub async fn reconcile(&self) -> WResult<usize> {
        let mut seen = 0;
        // One pass over the keys with work whose leases are free (a dead instance's come back here once expired,
        // or to a running instance's worker).
        let claimed = self.storage.claim_keys(&self.config.instance, now(), self.lease_until(), 1000).await?;
        for key_id in &claimed {
            for run in self.storage.open_runs(key_id).await? {
                if run.state == "pending" && run.nonce.is_none() {
                    continue;
                }
                seen += 1;
                if let Some(key) = self.storage.key(key_id).await?
                    && let Some(session) = self.session(&key)
                {
                    let outcome = self.resolve(&run, &session, false).await?;
                    debug!(run = %run.id, ?outcome, "reconciled");
                }
            }
            self.storage.release_lease(key_id, &self.config.instance).await?;
        }
        Ok(seen)
    }

    /// Runs until shutdown: claims keys with work and works on them, `max_keys` at a time.
    pub async fn run(self: Arc<Self>) {
        let mut shutdown = self.shutdown.clone();
        let mut tasks = tokio::task::JoinSet::new();
        loop {
            if self.stopping() {
                break;
            }
            let free = self.config.max_keys.saturating_sub(tasks.len());
            if free > 0 {
                match self
                    .storage
                    .claim_keys(
                        &self.config.instance,
                        now(),
                        self.lease_until(),
                        i64::try_from(free).unwrap_or(1),
                    )
                    .await
                {
                    Ok(keys) => {
                        for key_id in keys {
                            if !self.active.lock().expect("not poisoned").insert(key_id.clone()) {
                                continue;
                            }
                            let worker = self.clone();
                            tasks.spawn(async move {
                                if let Err(e) = worker.work_key(&key_id).await {
                                    warn!(key = %key_id, error = %e, "working on a key failed");
                                }
                                let _ = worker.storage.release_lease(&key_id, &worker.config.instance).await;
                                worker.active.lock().expect("not poisoned").remove(&key_id);
                            });
                        }
                    }
                    Err(e) => warn!(error = %e, "claiming keys failed"),
                }
            }
            // A task that ended since the claim may have left its key with work the claim could not take (the
            // key was still leased to it): claim again at once rather than at the next tick.
            let mut ended = false;
            while tasks.try_join_next().is_some() {
                ended = true;
            }
            if ended {
                continue;
            }
            tokio::select! {
                _ = tokio::time::sleep(self.config.tick) => {}
                _ = self.wake.notified() => {}
                _ = shutdown.changed() => {}
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            }
        }
        // Graceful: let the keys being worked on finish their current step (a receipt wait ends at shutdown and
        // leaves its run `submitted`, in doubt until the next start reconciles it).
        while tasks.join_next().await.is_some() {}
    }

    /// The session of a key, or `None` if it has no grant or its secret does not open.
    fn session(&self, key: &KeyRow) -> Option<Session> {
        session_of(&self.master, key)
    }

    /// Works on one leased key: creates due runs, then steps its open runs in order, one at a time.
    async fn work_key(&self, key_id: &str) -> WResult<()> {
        let owner = &self.config.instance;
        for _ in 0..64 {
            if self.stopping() || !self.storage.renew_lease(key_id, owner, now(), self.lease_until()).await? {
                return Ok(());
            }
            self.materialize(key_id).await?;
            let Some(key) = self.storage.key(key_id).await? else { return Ok(()) };
            let open = self.storage.open_runs(key_id).await?;
            // A run with a recorded operation goes first: while it is in flight no other run may take a nonce.
            let run = open
                .iter()
                .find(|r| r.state != "pending" || r.nonce.is_some())
                .or_else(|| open.iter().find(|r| r.not_before <= now()));
            let Some(run) = run else { return Ok(()) };
            if run.not_before > now() {
                return Ok(());
            }
            let step = match self.session(&key) {
                Some(session) => {
                    let attempts = self.storage.attempts(&run.id).await?;
                    if attempts.is_empty() {
                        self.start(run, &key, &session, None).await?
                    } else {
                        self.resolve(run, &session, true).await?
                    }
                }
                None => self.unusable(run, &key).await?,
            };
            if step == Step::Stop {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Creates the runs of the key's due jobs, under each job's catch-up policy.
    async fn materialize(&self, key_id: &str) -> WResult<()> {
        let t = now();
        for job in self.storage.due_jobs(key_id, t).await? {
            let (Some(next), Ok(schedule)) =
                (job.next_run_at, serde_json::from_str::<Schedule>(&job.schedule))
            else {
                continue;
            };
            let catch_up = CatchUp::parse(&job.catch_up).unwrap_or(CatchUp::All);
            let Ok((slots, skipped, next_run_at)) = schedule.due(next, t, catch_up) else { continue };
            if slots.is_empty() && skipped.is_empty() {
                continue;
            }
            let m = Materialize {
                job_id: job.id.clone(),
                key_id: key_id.into(),
                expected_next: next,
                slots,
                skipped: skipped.clone(),
                next_run_at,
            };
            if self.storage.materialize(&m, &self.config.instance, t).await? {
                for _ in &skipped {
                    self.metrics.runs.with_label_values(&["skipped"]).inc();
                }
            }
        }
        Ok(())
    }

    async fn update(&self, run: &RunRow, u: RunUpdate) -> WResult<bool> {
        let ok = self.storage.update_run(&run.id, &run.state, &u, &self.config.instance, now()).await?;
        if ok
            && matches!(
                u.state.as_str(),
                "included" | "reverted" | "refused" | "skipped" | "failed" | "cancelled" | "signed"
            )
        {
            self.metrics.runs.with_label_values(&[u.state.as_str()]).inc();
        }
        Ok(ok)
    }

    fn keep(run: &RunRow) -> RunUpdate {
        RunUpdate {
            state: run.state.clone(),
            tries: run.tries,
            not_before: run.not_before,
            transaction_hash: None,
            rule: run.rule.clone(),
            error: run.error.clone(),
        }
    }

    /// A run of a key that cannot sign (no grant, forgotten, revoked…): refused if nothing of it can land.
    async fn unusable(&self, run: &RunRow, key: &KeyRow) -> WResult<Step> {
        if !self.storage.attempts(&run.id).await?.is_empty() {
            // A recorded operation might still land; only reconciliation with a session can tell. Look later.
            let u = RunUpdate { not_before: self.backoff(run.tries), ..Self::keep(run) };
            self.update(run, u).await?;
            return Ok(Step::Stop);
        }
        let rule = key.state_reason.clone().unwrap_or_else(|| format!("key {}", key.state));
        let u = RunUpdate {
            state: "refused".into(),
            rule: Some(rule.clone()),
            error: Some(format!("the key is {} and is never used", key.state)),
            ..Self::keep(run)
        };
        self.metrics.refusals.with_label_values(&[rule.as_str()]).inc();
        self.update(run, u).await?;
        Ok(Step::Continue)
    }

    /// Prepares, records and sends a new operation for a run. `same_nonce`: only if it takes this nonce (a
    /// replacement for a recorded operation that may still land).
    async fn start(
        &self,
        run: &RunRow,
        key: &KeyRow,
        session: &Session,
        same_nonce: Option<U256>,
    ) -> WResult<Step> {
        let live = same_nonce.is_some();
        if key.state != "active" {
            return self.unusable(run, key).await;
        }
        let Some(job) = self.storage.job(&run.job_id).await? else { return Ok(Step::Continue) };
        match job.state.as_str() {
            "paused" => {
                let u = RunUpdate { not_before: now() + 5, ..Self::keep(run) };
                self.update(run, u).await?;
                return Ok(Step::Continue);
            }
            "cancelled" if !live => {
                let u = RunUpdate { state: "cancelled".into(), ..Self::keep(run) };
                self.update(run, u).await?;
                return Ok(Step::Continue);
            }
            _ => {}
        }
        let calls = serde_json::from_str::<Vec<CallSpec>>(&job.calls)
            .map_err(|e| e.to_string())
            .and_then(|specs| parse_calls(&specs));
        let calls = match calls {
            Ok(calls) => calls,
            Err(e) => {
                let u = RunUpdate { state: "failed".into(), error: Some(e), ..Self::keep(run) };
                self.update(run, u).await?;
                return Ok(Step::Continue);
            }
        };
        // Signed and recorded under the key's lock; an operation not recorded is forgotten before the lock goes.
        let turn = self.locks.lock(&key.id).await;
        let prepared = match self.executor.prepare(session, &calls).await {
            Ok(p) => p,
            Err(e) => {
                drop(turn);
                return self.prepare_failed(run, key, &job.on_refused, live, e).await;
            }
        };
        let recorded = self.record(run, &prepared, same_nonce).await;
        if !matches!(recorded, Ok(Recorded::Yes)) {
            self.executor.forget(session);
        }
        drop(turn);
        match recorded? {
            Recorded::Yes => {}
            Recorded::No(step) => return Ok(step),
            Recorded::DryRunDuplicate => {
                // Dry run: nothing consumes the nonce, so the same calls on the same key sign exactly the operation
                // an earlier dry run recorded (its userOpHash is unique). The run fails, naming why, instead of
                // waiting forever for a record it can never make.
                let error = format!(
                    "DryRunDuplicate: operation {} is the one an earlier dry run recorded (a dry run consumes no \
                     nonce, so the same calls on the same key sign the same operation)",
                    prepared.hash
                );
                let u = RunUpdate { state: "failed".into(), error: Some(error), ..Self::keep(run) };
                self.update(run, u).await?;
                return Ok(Step::Continue);
            }
        }
        info!(run = %run.id, job = %run.job_id, nonce = %prepared.nonce, hash = %prepared.hash, "operation recorded");
        let recorded = RunRow { state: "prepared".into(), ..run.clone() };
        // Dry run: the one branch of the worker for it. The run ends `signed`, recorded exactly as a real one,
        // and is never sent (its nonce stays free, which is why a dry-run database never sends: `check_mode`).
        if self.config.dry_run {
            let u = RunUpdate { state: "signed".into(), ..Self::keep(&recorded) };
            self.update(&recorded, u).await?;
            return Ok(Step::Continue);
        }
        self.send(&recorded, &prepared, std::time::Instant::now()).await
    }

    /// Records a prepared operation as the run's next attempt, before it is sent.
    async fn record(&self, run: &RunRow, prepared: &Prepared, same_nonce: Option<U256>) -> WResult<Recorded> {
        if same_nonce.is_some_and(|n| n != prepared.nonce) {
            // The nonce moved meanwhile: the recorded operation may have landed. Resolve again first.
            return Ok(Recorded::No(Step::Stop));
        }
        let earlier = self.storage.attempts(&run.id).await?;
        if earlier.iter().any(|a| a.user_op_hash == prepared.hash.to_string()) {
            // The same operation again (nothing changed since it was recorded): nothing new to record or send.
            return Ok(Recorded::No(Step::Stop));
        }
        let n = i64::try_from(earlier.len()).unwrap_or(i64::MAX - 1) + 1;
        let attempt = attempt_row(&run.id, n, prepared, now())?;
        // Recorded before it is sent: from here on the database knows every operation that can land.
        match self.storage.record_attempt(&attempt, &run.state, &self.config.instance, now()).await {
            Ok(true) => Ok(Recorded::Yes),
            Ok(false) => Ok(Recorded::No(Step::Stop)),
            Err(StorageError::Conflict(_)) if self.config.dry_run => Ok(Recorded::DryRunDuplicate),
            Err(e) => Err(e),
        }
    }

    /// A prepare that did not produce an operation.
    async fn prepare_failed(
        &self,
        run: &RunRow,
        key: &KeyRow,
        on_refused: &str,
        live: bool,
        e: ExecError,
    ) -> WResult<Step> {
        let tries = run.tries + 1;
        match e {
            ExecError::Denied { rule, message, refills_at } => {
                self.metrics.refusals.with_label_values(&[rule.as_str()]).inc();
                info!(run = %run.id, %rule, "pre-flight refused the run");
                if let Some(state) = key_state_for(&rule) {
                    self.storage.set_key_state(&key.id, state, Some(&rule)).await?;
                }
                let wait = refills(&rule) && on_refused == "wait";
                // Waiting for a refill is not a failure: it does not count as a try (tries drive the backoff).
                let tries = if wait && !live { run.tries } else { tries };
                let u = if live {
                    // An earlier operation may still land: keep the run open, look again later.
                    RunUpdate {
                        tries,
                        not_before: self.backoff(tries),
                        rule: Some(rule),
                        error: Some(message),
                        ..Self::keep(run)
                    }
                } else if wait {
                    let at = refills_at.map(|t| i64::try_from(t).unwrap_or(i64::MAX).saturating_add(1));
                    RunUpdate {
                        state: "pending".into(),
                        tries,
                        not_before: at.unwrap_or_else(|| now() + 30).max(now() + 1),
                        rule: Some(rule),
                        error: Some(format!("waiting for the refill: {message}")),
                        ..Self::keep(run)
                    }
                } else {
                    RunUpdate {
                        state: refused_state(&rule).into(),
                        tries,
                        rule: Some(rule),
                        error: Some(message),
                        ..Self::keep(run)
                    }
                };
                self.update(run, u).await?;
                Ok(if wait || live { Step::Stop } else { Step::Continue })
            }
            ExecError::Transient(msg) | ExecError::Rejected(msg) => {
                self.metrics.retries.inc();
                warn!(run = %run.id, error = %msg, tries, "prepare failed; retrying later");
                let give_up = tries >= self.config.max_tries && !live;
                let u = RunUpdate {
                    state: if give_up { "failed".into() } else { run.state.clone() },
                    tries,
                    not_before: self.backoff(tries),
                    error: Some(msg),
                    ..Self::keep(run)
                };
                self.update(run, u).await?;
                Ok(Step::Stop)
            }
            ExecError::Fatal(msg) => {
                let u = if live {
                    RunUpdate { tries, not_before: self.backoff(tries), error: Some(msg), ..Self::keep(run) }
                } else {
                    RunUpdate { state: "failed".into(), tries, error: Some(msg), ..Self::keep(run) }
                };
                self.update(run, u).await?;
                Ok(Step::Continue)
            }
        }
    }

    /// Renews this instance's lease on a key; `false` if it is no longer this instance's.
    async fn renew(&self, key_id: &str) -> WResult<bool> {
        self.storage.renew_lease(key_id, &self.config.instance, now(), self.lease_until()).await
    }

    /// Submits a recorded operation once. First the run's `not_before` is moved past the submission window and
    /// persisted: if this instance dies before the answer, no instance looks at the run again until the bundler
    /// is done with this submission. Two submissions of one operation in flight at once can both be taken: Alto
    /// checks for a known hash before adding, with a node read in between (and its second validation runs on an
    /// operation already out of the mempool), and then holds a second copy it can never bundle and never drops,
    /// ahead of the sender's next operation.
    async fn submit(&self, run: &RunRow, prepared: &Prepared) -> WResult<(Submission, i64)> {
        let fence = now() + i64::try_from(self.config.submit_window.as_secs()).unwrap_or(45).max(1);
        if !self.renew(&run.key_id).await? {
            return Ok((Submission::LeaseLost, fence));
        }
        if !self.update(run, RunUpdate { not_before: fence, ..Self::keep(run) }).await? {
            return Ok((Submission::LeaseLost, fence));
        }
        let answer = match self.executor.submit(prepared).await {
            Ok(_) => Submission::Accepted,
            Err(e) if already_known(&e) => Submission::Accepted,
            Err(ExecError::Rejected(msg)) => Submission::Refused(msg),
            Err(e) => Submission::Failed(e),
        };
        Ok((answer, fence))
    }

    /// Sends a recorded operation and waits for its receipt.
    async fn send(&self, run: &RunRow, prepared: &Prepared, started: std::time::Instant) -> WResult<Step> {
        let (answer, fence) = self.submit(run, prepared).await?;
        match answer {
            Submission::Accepted => self.submitted(run, prepared, started, true).await,
            Submission::LeaseLost => Ok(Step::Stop),
            Submission::Refused(msg) => {
                warn!(run = %run.id, error = %msg, "the bundler refused the operation");
                let tries = run.tries + 1;
                let u =
                    RunUpdate { tries, not_before: self.backoff(tries), error: Some(msg), ..Self::keep(run) };
                self.update(run, u).await?;
                Ok(Step::Stop)
            }
            Submission::Failed(e) => {
                // No answer seen: the submission may still be in flight, so not before the window ends.
                self.metrics.retries.inc();
                let tries = run.tries + 1;
                let u = RunUpdate {
                    tries,
                    not_before: self.backoff(tries).max(fence),
                    error: Some(e.to_string()),
                    ..Self::keep(run)
                };
                self.update(run, u).await?;
                Ok(Step::Stop)
            }
        }
    }

    /// After the bundler took the operation: marks the run submitted, then (if `wait`) waits for the receipt.
    async fn submitted(
        &self,
        run: &RunRow,
        prepared: &Prepared,
        started: std::time::Instant,
        wait: bool,
    ) -> WResult<Step> {
        self.metrics.ops_sent.inc();
        // The answer was seen: the submission window (see `submit`) is lifted.
        let u = RunUpdate { state: "submitted".into(), not_before: now(), ..Self::keep(run) };
        if !self.update(run, u).await? {
            return Ok(Step::Stop);
        }
        let run = RunRow { state: "submitted".into(), not_before: now(), ..run.clone() };
        if !wait {
            return Ok(Step::Stop);
        }
        match self.wait_receipt(&run.key_id, prepared.hash).await? {
            Some(receipt) => {
                self.finish(&run, &receipt).await?;
                self.metrics
                    .run_latency
                    .with_label_values(&[if receipt.success { "included" } else { "reverted" }])
                    .observe(started.elapsed().as_secs_f64());
                Ok(Step::Continue)
            }
            None => {
                // Not included yet (or shutting down, or the lease is lost): in doubt until resolved.
                let u = RunUpdate { not_before: now() + 1, ..Self::keep(&run) };
                self.update(&run, u).await?;
                Ok(Step::Stop)
            }
        }
    }

    /// Waits for an operation's receipt, renewing the key's lease meanwhile (a wait is work on the key: without
    /// renewal another instance would take the key over and send the operation again). Ends at the receipt
    /// timeout, at shutdown, or when the lease is lost.
    async fn wait_receipt(&self, key_id: &str, hash: B256) -> WResult<Option<OpReceipt>> {
        let deadline = std::time::Instant::now() + self.config.receipt_timeout;
        let renew_every = self.config.lease / 3;
        let mut renewed = std::time::Instant::now();
        while std::time::Instant::now() < deadline && !self.stopping() {
            if let Ok(Some(r)) = self.executor.receipt(hash).await {
                return Ok(Some(r));
            }
            if renewed.elapsed() >= renew_every {
                if !self.renew(key_id).await? {
                    return Ok(None);
                }
                renewed = std::time::Instant::now();
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Ok(None)
    }

    async fn finish(&self, run: &RunRow, receipt: &OpReceipt) -> WResult<()> {
        let state = if receipt.success { "included" } else { "reverted" };
        let u = RunUpdate {
            state: state.into(),
            transaction_hash: Some(receipt.transaction_hash.to_string()),
            error: (!receipt.success).then(|| "the operation reverted in execution".into()),
            ..Self::keep(run)
        };
        if self.update(run, u).await? {
            info!(run = %run.id, hash = %receipt.hash, state, "run finished");
        }
        Ok(())
    }

    /// Settles a run that has recorded operations: included if any of them has a receipt; otherwise waits while
    /// the bundler holds the latest, sends it again (once) if its nonce is still free and the bundler does not
    /// hold it, or starts a new operation once every recorded one is dead. `wait`: wait for receipts (the worker);
    /// reconciliation at start does not, so the API is not held up.
    async fn resolve(&self, run: &RunRow, session: &Session, wait: bool) -> WResult<Step> {
        let attempts = self.storage.attempts(&run.id).await?;
        let Some(latest) = attempts.last() else { return Ok(Step::Continue) };
        // The nonce first, then the receipts: an operation that lands after the nonce read is found by the
        // receipt read, so "nonce moved and no receipt" proves every recorded operation dead.
        let chain_nonce = match self.executor.nonce(session).await {
            Ok(n) => n,
            Err(e) => return self.retry_later(run, e).await,
        };
        for a in attempts.iter().rev() {
            let Ok(hash) = a.user_op_hash.parse::<B256>() else {
                return Err(StorageError::Corrupt(format!("userOpHash of run {}", run.id)));
            };
            match self.executor.receipt(hash).await {
                Ok(Some(receipt)) => {
                    self.metrics.reconciled.with_label_values(&["included"]).inc();
                    self.finish(run, &receipt).await?;
                    return Ok(Step::Continue);
                }
                Ok(None) => {}
                Err(e) => return self.retry_later(run, e).await,
            }
        }
        let latest_nonce = U256::from_str_radix(&latest.nonce, 10)
            .map_err(|_| StorageError::Corrupt(format!("nonce of run {}", run.id)))?;
        let hash = latest
            .user_op_hash
            .parse::<B256>()
            .map_err(|_| StorageError::Corrupt(format!("userOpHash of run {}", run.id)))?;
        let Some(key) = self.storage.key(&run.key_id).await? else { return Ok(Step::Stop) };
        if chain_nonce > latest_nonce {
            // Every recorded operation is dead (its nonce was taken by another): the run starts over.
            self.metrics.reconciled.with_label_values(&["superseded"]).inc();
            info!(run = %run.id, "its recorded operations can no longer land; preparing a new one");
            let u = RunUpdate {
                state: "pending".into(),
                not_before: now(),
                error: Some("its operation's nonce was used by another operation; sent again".into()),
                ..Self::keep(run)
            };
            if !self.update(run, u).await? {
                return Ok(Step::Stop);
            }
            let pending = RunRow { state: "pending".into(), ..run.clone() };
            return self.start(&pending, &key, session, None).await;
        }
        // The latest operation can still land. While the bundler holds it, wait for it: sending it again would
        // count against the sender's mempool allowance at Alto (see `Executor::held_by_bundler`). If the bundler
        // can't say, look again later rather than send blindly.
        match self.executor.held_by_bundler(hash).await {
            Ok(true) => {
                debug!(run = %run.id, %hash, "the bundler holds the operation; waiting for it");
                let receipt = if wait { self.wait_receipt(&run.key_id, hash).await? } else { None };
                if let Some(receipt) = receipt {
                    self.metrics.reconciled.with_label_values(&["included"]).inc();
                    self.finish(run, &receipt).await?;
                    return Ok(Step::Continue);
                }
                let u = RunUpdate { not_before: now() + 1, ..Self::keep(run) };
                self.update(run, u).await?;
                return Ok(Step::Stop);
            }
            Ok(false) => {}
            Err(e) => return self.retry_later(run, e).await,
        }
        // Otherwise send the recorded bytes again, once (harmless: its nonce lets it execute at most once).
        let op = serde_json::from_str(&latest.user_op)
            .map_err(|_| StorageError::Corrupt(format!("op of run {}", run.id)))?;
        let prepared = Prepared {
            op,
            hash,
            nonce: latest_nonce,
            period: u32::try_from(latest.period).unwrap_or_default(),
        };
        let (answer, fence) = self.submit(run, &prepared).await?;
        match answer {
            Submission::Accepted => {
                self.metrics.reconciled.with_label_values(&["resubmitted"]).inc();
                if run.state == "prepared" {
                    debug!(run = %run.id, "sent a recorded operation that may never have been sent");
                }
                self.submitted(run, &prepared, std::time::Instant::now(), wait).await
            }
            Submission::LeaseLost => Ok(Step::Stop),
            Submission::Refused(msg) if replaceable(&msg) => {
                // Not acceptable as it is (its period's window passed): replace it with a new operation under
                // the same nonce; of the two, at most one can land.
                warn!(run = %run.id, error = %msg, "recorded operation refused; replacing it under the same nonce");
                // The backoff is set first, so a replacement that fails too is not retried at once.
                let tries = run.tries + 1;
                let not_before = self.backoff(tries);
                let u = RunUpdate { tries, not_before, error: Some(msg), ..Self::keep(run) };
                if !self.update(run, u).await? {
                    return Ok(Step::Stop);
                }
                let run = RunRow { tries, not_before, ..run.clone() };
                self.start(&run, &key, session, Some(latest_nonce)).await
            }
            // Anything else (throttling, a node failure): look again later; the operation may still land.
            Submission::Refused(msg) => self.retry_later(run, ExecError::Rejected(msg)).await,
            // No answer seen: not before the submission window ends (see `submit`).
            Submission::Failed(e) => self.retry_after(run, e, fence).await,
        }
    }

    async fn retry_later(&self, run: &RunRow, e: ExecError) -> WResult<Step> {
        self.retry_after(run, e, 0).await
    }

    /// [`Self::retry_later`], and not before `at_least` (unix seconds).
    async fn retry_after(&self, run: &RunRow, e: ExecError, at_least: i64) -> WResult<Step> {
        self.metrics.retries.inc();
        let tries = run.tries + 1;
        warn!(run = %run.id, error = %e, tries, "settling the run failed; looking again later");
        let u = RunUpdate {
            tries,
            not_before: self.backoff(tries).max(at_least),
            error: Some(e.to_string()),
            ..Self::keep(run)
        };
        self.update(run, u).await?;
        Ok(Step::Stop)
    }
}
