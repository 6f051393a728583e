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

use std::sync::Arc;

use axum::http::StatusCode;
use tokio::sync::Notify;

use super::{ApiError, ApiResult, AppState, Caller, job_detail};
use crate::{
    calls::{CallSpec, parse_calls},
    executor::{ExecError, Session},
    ids::{new_id, now},
    storage::{GroupCommit, JobRow, KeyRow, NewSend, RunRow, SendRecord},
    worker::{KeyLocks, attempt_row, key_state_for, refills, session_of},
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
}

/// A session opened from a key row: the grant token and sealed secret it came from, and the session.
type Opened = (Option<String>, Vec<u8>, Session);

impl Sends {
    /// What sends prepared in the request need of the worker.
    pub fn new(commit: GroupCommit, locks: Arc<KeyLocks>, wake: Arc<Notify>, dry_run: bool) -> Self {
        Self { commit, locks, wake, dry_run, sessions: Default::default() }
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
        let session = session_of(master, key)?;
        sessions.insert(key.id.clone(), (key.grant_token.clone(), key.sealed.clone(), session.clone()));
        Some(session)
    }
}

/// A send prepared and recorded here: the answer's status, the job and its runs. `None`: leave it to the worker.
pub(super) async fn in_request(
    state: &AppState,
    caller: &Caller,
    key: &KeyRow,
    job: &JobRow,
    specs: &[CallSpec],
) -> ApiResult<Option<(StatusCode, JobRow, Vec<RunRow>)>> {
    let sends = &state.sends;
    if key.state != "active" {
        return Ok(None);
    }
    let Some(session) = sends.session(&state.master, key) else { return Ok(None) };
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
            run.state = if refills(&rule) { "skipped" } else { "refused" }.into();
            run.tries = 1;
            run.rule = Some(rule);
            run.error = Some(message);
            None
        }
        // The node or the bundler failed: the worker retries with backoff.
        Err(_) => return Ok(None),
    };
    let done = JobRow { state: "done".into(), next_run_at: None, ..job.clone() };
    let send = NewSend {
        job: done.clone(),
        run: run.clone(),
        attempt: attempt.clone(),
        actor: caller.token_id.clone(),
        detail: job_detail(key, job).to_string(),
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
            return Ok(Some((StatusCode::OK, *existing, runs)));
        }
        SendRecord::Busy | SendRecord::Duplicate => return Ok(None),
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
    Ok(Some((StatusCode::ACCEPTED, done, vec![run])))
}
