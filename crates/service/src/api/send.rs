//! `POST /v1/sessions/{name}/send` prepared in the request: the pre-flight, the signature and the record
//! (job, run, operation, audit entry) happen before the answer, so the answer carries the run already
//! `prepared` (its operation recorded, for the worker to send) or, under `--dry-run`, `signed`; or refused
//! with its rule. The record goes through group commit ([`GroupCommit`]): one fsynced transaction for every send
//! that arrived meanwhile.
//!
//! Exactly-once is unchanged: the run is new and its first operation is recorded before anything can send it;
//! from then on the worker owns it. A run whose operation would overtake an open run of the key (a nonce must
//! not be taken past an operation still in flight) is not recorded here ([`SendRecord::Busy`]); the worker
//! takes it, as it does when the node or the bundler fails.
//!
//! A send reads its API token and its key from rows this instance read before ([`Sends`] keeps them), not from the
//! database each time; the record's transaction checks both again ([`SendRecord::Stale`]: the token revoked, the
//! key no longer active or holding another grant or lane), and a send found stale is prepared once more on rows
//! read afresh. So a revocation, by this instance or another, stops every send recorded after it.

use std::sync::Arc;

use axum::http::StatusCode;
use tokio::sync::Notify;

use axum::http::HeaderMap;

use super::{ApiError, ApiResult, AppState, Caller, authenticate, bearer, caller_of, job_detail, key_named};
use crate::{
    calls::{CallSpec, parse_calls},
    executor::{ExecError, Session},
    ids::{new_id, now},
    storage::{GroupCommit, JobRow, KeyRow, KeySeen, NewSend, RunRow, SendRecord, TokenRow},
    worker::{KeyLocks, attempt_row, key_state_for, refused_state, session_of},
};

/// What sends prepared in the request share with the worker.
#[derive(Debug)]
pub struct Sends {
    /// The writer task.
    pub commit: GroupCommit,
    /// The worker's per-key locks.
    pub locks: Arc<KeyLocks>,
    /// The worker's bell: a recorded operation (or a job) is waiting.
    pub wake: Arc<Notify>,
    /// `--dry-run`: runs end `signed`.
    pub dry_run: bool,
    /// Sessions opened before, by key id (a key row that changed since, forgotten or re-sealed, is opened
    /// again).
    sessions: std::sync::Mutex<std::collections::HashMap<String, Opened>>,
    /// API tokens read before, by id (live ones only).
    tokens: std::sync::Mutex<std::collections::HashMap<String, TokenRow>>,
    /// Key rows read before, by session name.
    keys: std::sync::Mutex<std::collections::HashMap<String, KeyRow>>,
}

/// Most rows of each kind kept: past it the cache starts over (rows are read again as sends need them).
const MOST_KEPT: usize = 100_000;

/// Keeps `value` under `key`, emptying a full `map` first.
fn keep<V>(map: &std::sync::Mutex<std::collections::HashMap<String, V>>, key: &str, value: V) {
    let mut map = map.lock().expect("not poisoned");
    if map.len() >= MOST_KEPT {
        map.clear();
    }
    map.insert(key.to_string(), value);
}

/// What became of a send in the request.
pub(super) enum InRequest {
    /// Recorded (or seen before): the answer's status, the job and its runs.
    Done(StatusCode, Box<JobRow>, Vec<RunRow>),
    /// Nothing recorded: the worker takes it.
    Worker,
    /// Nothing recorded: the token or the key changed since they were read.
    Stale,
}

/// The caller and the session `name`'s key: from the rows read before unless `fresh` (or never read), and kept
/// for the next send.
pub(super) async fn caller_and_key(
    state: &AppState,
    headers: &HeaderMap,
    name: &str,
    fresh: bool,
) -> ApiResult<(Caller, KeyRow)> {
    let sends = &state.sends;
    let (id, secret) = bearer(headers)?;
    let kept_token = if fresh { None } else { sends.tokens.lock().expect("not poisoned").get(id).cloned() };
    let caller = match kept_token {
        Some(row) => caller_of(Some(&row), secret)?,
        None => {
            sends.tokens.lock().expect("not poisoned").remove(id);
            let caller = authenticate(state, headers).await?;
            if let Some(row) = state.storage.token(id).await?.filter(|r| r.revoked_at.is_none()) {
                keep(&sends.tokens, id, row);
            }
            caller
        }
    };
    let kept_key = if fresh { None } else { sends.keys.lock().expect("not poisoned").get(name).cloned() };
    let key = match kept_key {
        Some(key) => {
            caller.require(name)?;
            key
        }
        None => {
            sends.keys.lock().expect("not poisoned").remove(name);
            let key = key_named(state, &caller, name).await?;
            keep(&sends.keys, name, key.clone());
            key
        }
    };
    Ok((caller, key))
}

/// A session opened from a key row: the grant token and sealed secret it came from, and the session.
type Opened = (Option<String>, Vec<u8>, Session);

impl Sends {
    /// What sends prepared in the request need of the worker.
    pub fn new(commit: GroupCommit, locks: Arc<KeyLocks>, wake: Arc<Notify>, dry_run: bool) -> Self {
        Self {
            commit,
            locks,
            wake,
            dry_run,
            sessions: Default::default(),
            tokens: Default::default(),
            keys: Default::default(),
        }
    }

    /// Drops what this instance keeps of a key (its row and its opened session, with the secret), when it is
    /// forgotten. Other instances keep theirs until they read the row again, and record nothing with it
    /// ([`SendRecord::Stale`]).
    pub(super) fn drop_key(&self, key_id: &str, name: &str) {
        self.sessions.lock().expect("not poisoned").remove(key_id);
        self.keys.lock().expect("not poisoned").remove(name);
    }

    /// The session of `key` (`None`: no grant, or the secret does not open), opened once per key row.
    fn session(&self, master: &crate::keys::MasterKey, key: &KeyRow) -> Option<Session> {
        let mut sessions = self.sessions.lock().expect("not poisoned");
        if let Some((token, sealed, session)) = sessions.get(&key.id)
            && *token == key.grant_token
            && *sealed == key.sealed
        {
            return Some(session.clone());
        }
        // A row that no longer opens (forgotten: its secret erased) leaves no opened session behind.
        sessions.remove(&key.id);
        let session = session_of(master, key)?;
        sessions.insert(key.id.clone(), (key.grant_token.clone(), key.sealed.clone(), session.clone()));
        Some(session)
    }
}

/// A send prepared and recorded here, or why not.
pub(super) async fn in_request(
    state: &AppState,
    caller: &Caller,
    key: &KeyRow,
    job: &JobRow,
    specs: &[CallSpec],
) -> ApiResult<InRequest> {
    let sends = &state.sends;
    if key.state != "active" {
        return Ok(InRequest::Worker);
    }
    let Some(session) = sends.session(&state.master, key) else { return Ok(InRequest::Worker) };
    let calls = parse_calls(specs).map_err(ApiError::bad)?;
    let t = now();
    let mut run = RunRow {
        id: new_id("run"),
        job_id: job.id.clone(),
        key_id: key.id.clone(),
        slot: job.next_run_at.unwrap_or(t),
        state: "pending".into(),
        tries: 0,
        not_before: t,
        nonce: None,
        period: None,
        user_op_hash: None,
        transaction_hash: None,
        rule: None,
        error: None,
        created_at: t,
        updated_at: t,
    };
    // The key's turn, until the record is committed or the operation forgotten.
    let turn = sends.locks.lock(&key.id).await;
    let attempt = match state.executor.prepare(&session, &calls).await {
        Ok(p) => {
            let attempt = attempt_row(&run.id, 1, &p, t)?;
            run.state = if sends.dry_run { "signed" } else { "prepared" }.into();
            run.nonce = Some(attempt.nonce.clone());
            run.period = Some(attempt.period);
            run.user_op_hash = Some(attempt.user_op_hash.clone());
            Some(attempt)
        }
        Err(ExecError::Denied { rule, message, .. }) => {
            // A send skips what its period refuses (`on_refused: skip`), as the worker does.
            run.state = refused_state(&rule).into();
            run.tries = 1;
            run.rule = Some(rule);
            run.error = Some(message);
            None
        }
        // The node or the bundler failed: the worker retries with backoff.
        Err(_) => return Ok(InRequest::Worker),
    };
    let done = JobRow { state: "done".into(), next_run_at: None, ..job.clone() };
    let send = NewSend {
        job: done.clone(),
        run: run.clone(),
        attempt: attempt.clone(),
        actor: caller.token_id.clone(),
        detail: job_detail(key, job).to_string(),
        key_seen: KeySeen { grant_token: key.grant_token.clone(), nonce_lane: key.nonce_lane },
    };
    let record = sends.commit.record(send).await;
    if attempt.is_some() && !matches!(record, Ok(SendRecord::Recorded)) {
        state.executor.forget(&session);
    }
    drop(turn);
    match record? {
        SendRecord::Recorded => {}
        SendRecord::Seen(existing) => {
            let runs = state.storage.runs_of_job(&existing.id).await?;
            return Ok(InRequest::Done(StatusCode::OK, existing, runs));
        }
        SendRecord::Busy | SendRecord::Duplicate => return Ok(InRequest::Worker),
        SendRecord::Stale => return Ok(InRequest::Stale),
    }
    match run.state.as_str() {
        "prepared" => sends.wake.notify_one(),
        "signed" => state.metrics.runs.with_label_values(&["signed"]).inc(),
        ended => {
            let rule = run.rule.as_deref().unwrap_or_default();
            state.metrics.runs.with_label_values(&[ended]).inc();
            state.metrics.refusals.with_label_values(&[rule]).inc();
            if let Some(key_state) = key_state_for(rule) {
                state.storage.set_key_state(&key.id, key_state, Some(rule)).await?;
            }
        }
    }
    Ok(InRequest::Done(StatusCode::ACCEPTED, Box::new(done), vec![run]))
}
