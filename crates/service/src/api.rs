//! The HTTP JSON API (axum), its OpenAPI document generated from the code (utoipa, served at `/openapi.json`),
//! and its authentication: `Authorization: Bearer wst_…` API tokens, each limited to named sessions, stored as
//! SHA-256 hashes and compared in constant time. Bad input is a 4xx whose body names the problem; a refusal names
//! the rule. Every change is appended to the audit log.

use std::{sync::Arc, time::Instant};

use axum::{
    Json, Router,
    extract::{FromRequest, MatchedPath, Path, Query, Request, State, rejection::JsonRejection},
    http::{HeaderMap, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use utoipa::{OpenApi, ToSchema};
use warrant_core::token::SignedGrant;

// Sends prepared in the request (`POST /v1/sessions/{name}/send`).
mod send;
// API token management (`/v1/tokens`, admin tokens only).
pub mod tokens;

use send::InRequest;
pub use send::Sends;

use crate::{
    calls::{CallSpec, parse_calls},
    executor::{Executor, Session, SessionStatus},
    ids::{new_id, now},
    keys::MasterKey,
    metrics::Metrics,
    schedule::{CatchUp, OnRefused, Schedule},
    storage::{JobRow, KeyRow, RunRow, Storage, StorageError, TokenRow},
};

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// Storage.
    pub storage: Arc<dyn Storage>,
    /// The chain.
    pub executor: Arc<dyn Executor>,
    /// The master key.
    pub master: Arc<MasterKey>,
    /// Metrics.
    pub metrics: Metrics,
    /// This instance's id.
    pub instance: String,
    /// What sends prepared in the request share with the worker.
    pub sends: Arc<Sends>,
}

/// An error answer: `{"error": code, "message": …, "rule": …}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiError {
    #[serde(skip)]
    status: StatusCode,
    /// A stable code: `bad_request`, `unauthorized`, `forbidden`, `not_found`, `conflict`, `refused`,
    /// `unavailable`, `internal`.
    pub error: &'static str,
    /// What is wrong, in words.
    pub message: String,
    /// The rule that refused it (refusals only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

impl ApiError {
    fn new(status: StatusCode, error: &'static str, message: impl Into<String>) -> Self {
        Self { status, error, message: message.into(), rule: None }
    }
    fn bad(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
    fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }
    fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
    fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(&self)).into_response()
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Conflict(what) => Self::conflict(format!("{what} already exists")),
            other => {
                tracing::error!(error = %other, "storage failed");
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "storage is unavailable")
            }
        }
    }
}

/// `Json<T>` whose rejection is an [`ApiError`] naming the problem (serde's message names the field).
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Self(v)),
            Err(rejection) => Err(match rejection {
                JsonRejection::MissingJsonContentType(_) => ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "bad_request",
                    "the body must be JSON (Content-Type: application/json)",
                ),
                other => ApiError::bad(format!("invalid JSON body: {}", other.body_text())),
            }),
        }
    }
}

type ApiResult<T> = Result<T, ApiError>;

// ------------------------------------------------------------------------------------------------- auth

/// The prefix of API tokens.
pub const TOKEN_PREFIX: &str = "wst_";

/// A new API token for `sessions` (names, or `*` for all): the token to hand out once, and the row to store.
pub fn new_token(sessions: &[String], label: &str) -> Result<(String, TokenRow), String> {
    if sessions.is_empty() {
        return Err("a token needs at least one session name (or `*`)".into());
    }
    for s in sessions {
        if s != "*" {
            check_name(s)?;
        }
    }
    let id = new_id("tok");
    let mut secret = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut secret);
    let secret = hex::encode(secret);
    let row = TokenRow {
        id: id.clone(),
        secret_hash: hex::encode(Sha256::digest(secret.as_bytes())),
        sessions: sessions.join(","),
        label: label.into(),
        created_at: now(),
        revoked_at: None,
        admin: false,
    };
    Ok((format!("{TOKEN_PREFIX}{id}.{secret}"), row))
}

/// Who is calling: a token and the sessions it may act on.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The token's id (the audit log's actor).
    pub token_id: String,
    sessions: Vec<String>,
    /// May manage API tokens ([`tokens`]).
    admin: bool,
}

impl Caller {
    fn all(&self) -> bool {
        self.sessions.iter().any(|s| s == "*")
    }

    fn may(&self, name: &str) -> bool {
        self.all() || self.sessions.iter().any(|s| s == name)
    }

    fn require(&self, name: &str) -> ApiResult<()> {
        if self.may(name) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!("this API token is not allowed to act on session {name:?}")))
        }
    }
}

async fn authenticate(state: &AppState, headers: &HeaderMap) -> ApiResult<Caller> {
    let (id, secret) = bearer(headers)?;
    let row = state.storage.token(id).await?;
    caller_of(row.as_ref(), secret)
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
}

/// The token id and secret of the `Authorization: Bearer <API token>` header.
fn bearer(headers: &HeaderMap) -> ApiResult<(&str, &str)> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| unauthorized("missing Authorization: Bearer <API token>"))?
        .to_str()
        .map_err(|_| unauthorized("the Authorization header is not text"))?;
    let token = value
        .strip_prefix("Bearer ")
        .ok_or_else(|| unauthorized("the Authorization header is not Bearer"))?;
    token
        .strip_prefix(TOKEN_PREFIX)
        .and_then(|t| t.split_once('.'))
        .ok_or_else(|| unauthorized("not a Warrant service API token"))
}

/// The caller `secret` proves for the token `row` (`None`: no such token).
fn caller_of(row: Option<&TokenRow>, secret: &str) -> ApiResult<Caller> {
    // Hash and compare even for an unknown id, so the answer takes as long either way.
    let presented = Sha256::digest(secret.as_bytes());
    let stored = row.and_then(|r| hex::decode(&r.secret_hash).ok()).unwrap_or_else(|| vec![0u8; 32]);
    let matches: bool = presented[..].ct_eq(stored.as_slice()).into();
    match row {
        Some(row) if matches && row.revoked_at.is_none() => Ok(Caller {
            token_id: row.id.clone(),
            sessions: row.sessions.split(',').map(str::to_string).collect(),
            admin: row.admin,
        }),
        _ => Err(unauthorized("unknown or revoked API token")),
    }
}

/// Session names: 1–64 of `a-z 0-9 . _ -`, starting with a letter or digit.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        && name.as_bytes()[0].is_ascii_alphanumeric();
    if ok {
        Ok(())
    } else {
        Err(format!(
            "session name {name:?}: use 1 to 64 of a-z, 0-9, '.', '_', '-', starting with a letter or digit"
        ))
    }
}

// ------------------------------------------------------------------------------------------------- types

/// `POST /v1/keys`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    /// The session's name.
    pub name: String,
}

/// A key as the API shows it (never its secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyInfo {
    /// The session's name.
    pub name: String,
    /// The session key's address: the `--session-key` of the owner's grant.
    pub address: String,
    /// `new` (no grant yet), `active`, `revoked`, `expired`, `exhausted` or `forgotten`.
    pub state: String,
    /// Why it is not active.
    pub reason: Option<String>,
    /// The grant's account.
    pub account: Option<String>,
    /// The grant's session id.
    pub session_id: Option<String>,
}

impl From<&KeyRow> for KeyInfo {
    fn from(k: &KeyRow) -> Self {
        Self {
            name: k.name.clone(),
            address: k.address.clone(),
            state: k.state.clone(),
            reason: k.state_reason.clone(),
            account: k.account.clone(),
            session_id: k.session_id.clone(),
        }
    }
}

/// `POST /v1/keys/{name}/grant`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttachGrant {
    /// The grant token (`warrant1…`) the owner signed for this key's address.
    pub token: String,
}

/// A session with what the chain counts for it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionInfo {
    /// The key.
    #[serde(flatten)]
    pub key: KeyInfo,
    /// The chain's view (`null` without a grant, or when the node is unreachable: see `chain_error`).
    pub chain: Option<SessionStatus>,
    /// Why `chain` is missing, when the node failed.
    pub chain_error: Option<String>,
}

/// `POST /v1/sessions/{name}/send`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendNow {
    /// The calls, in one operation.
    pub calls: Vec<CallSpec>,
    /// The caller's key for this request: the same key returns the same job, never a second send.
    pub idempotency_key: String,
}

/// `POST /v1/jobs`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateJob {
    /// The session that sends it.
    pub session: String,
    /// The calls of each run.
    pub calls: Vec<CallSpec>,
    /// When it runs.
    pub schedule: Schedule,
    /// A run the period's cap refuses: `wait` for the refill (default) or `skip`.
    #[serde(default)]
    pub on_refused: Option<OnRefused>,
    /// Slots missed during downtime: `all`, `latest` (default) or `none`.
    #[serde(default)]
    pub catch_up: Option<CatchUp>,
    /// Optional: the same key returns the same job.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

/// A job.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobInfo {
    /// Its id.
    pub id: String,
    /// The session that sends it.
    pub session: String,
    /// The calls.
    pub calls: Vec<CallSpec>,
    /// The schedule.
    pub schedule: Schedule,
    /// `wait` or `skip`.
    pub on_refused: String,
    /// `all`, `latest` or `none`.
    pub catch_up: String,
    /// `active`, `paused`, `cancelled` or `done` (no run left to create).
    pub state: String,
    /// The next slot (unix seconds).
    pub next_run_at: Option<i64>,
    /// The idempotency key it was created with.
    pub idempotency_key: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
}

/// A run of a job.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunInfo {
    /// Its id.
    pub id: String,
    /// The slot (unix seconds).
    pub slot: i64,
    /// `pending`, `prepared`, `submitted`, `included`, `reverted`, `refused`, `skipped`, `failed`, `cancelled`;
    /// `signed` under `--dry-run` (recorded, never sent).
    pub state: String,
    /// True while its recorded operation's fate is not known yet (`prepared`, `submitted`).
    pub in_doubt: bool,
    /// Tries so far.
    pub tries: i64,
    /// The latest operation's nonce, decimal.
    pub nonce: Option<String>,
    /// The period it names.
    pub period: Option<i64>,
    /// Its userOpHash.
    pub user_op_hash: Option<String>,
    /// The transaction that included it.
    pub transaction_hash: Option<String>,
    /// The rule that refused it.
    pub rule: Option<String>,
    /// The last error.
    pub error: Option<String>,
    /// Not tried before (unix seconds).
    pub not_before: i64,
}

impl From<&RunRow> for RunInfo {
    fn from(r: &RunRow) -> Self {
        Self {
            id: r.id.clone(),
            slot: r.slot,
            state: r.state.clone(),
            in_doubt: matches!(r.state.as_str(), "prepared" | "submitted"),
            tries: r.tries,
            nonce: r.nonce.clone(),
            period: r.period,
            user_op_hash: r.user_op_hash.clone(),
            transaction_hash: r.transaction_hash.clone(),
            rule: r.rule.clone(),
            error: r.error.clone(),
            not_before: r.not_before,
        }
    }
}

/// A job with its runs.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobWithRuns {
    /// The job.
    pub job: JobInfo,
    /// Its runs, by slot.
    pub runs: Vec<RunInfo>,
}

/// `GET /health`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: &'static str,
    /// `sqlite` or `postgres`.
    pub storage: &'static str,
    /// The chain id.
    pub chain_id: u64,
    /// This instance.
    pub instance: String,
}

/// An audit log entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntry {
    /// Position.
    pub seq: i64,
    /// Unix seconds.
    pub at: i64,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// On what.
    pub subject: String,
    /// Details (JSON text).
    pub detail: String,
}

/// `GET /v1/audit` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct AuditQuery {
    /// Entries after this position.
    #[serde(default)]
    pub after: Option<i64>,
    /// At most this many (default 100, at most 1000).
    #[serde(default)]
    pub limit: Option<i64>,
}

// ------------------------------------------------------------------------------------------------- handlers

async fn audit(
    state: &AppState,
    caller: &Caller,
    action: &str,
    subject: &str,
    detail: serde_json::Value,
) -> ApiResult<()> {
    state.storage.audit(&caller.token_id, action, subject, &detail.to_string(), now()).await?;
    Ok(())
}

async fn key_named(state: &AppState, caller: &Caller, name: &str) -> ApiResult<KeyRow> {
    caller.require(name)?;
    state
        .storage
        .key_by_name(name)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no session named {name:?}")))
}

fn job_info(job: &JobRow, key_name: &str) -> JobInfo {
    JobInfo {
        id: job.id.clone(),
        session: key_name.into(),
        calls: serde_json::from_str(&job.calls).unwrap_or_default(),
        schedule: serde_json::from_str(&job.schedule).unwrap_or(Schedule::Once { at: None }),
        on_refused: job.on_refused.clone(),
        catch_up: job.catch_up.clone(),
        state: job.state.clone(),
        next_run_at: job.next_run_at,
        idempotency_key: job.idempotency_key.clone(),
        created_at: job.created_at,
    }
}

/// The service's health.
#[utoipa::path(get, path = "/health", responses((status = 200, body = Health)))]
async fn health(State(state): State<AppState>) -> ApiResult<Json<Health>> {
    state.storage.meta("master_key_check").await?;
    Ok(Json(Health {
        status: "ok",
        storage: state.storage.backend(),
        chain_id: state.executor.chain_id(),
        instance: state.instance.clone(),
    }))
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", responses((status = 200, body = String, content_type = "text/plain")))]
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render())
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", responses((status = 200, description = "The OpenAPI document")))]
async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// Creates a session key; returns its address (the key itself never leaves the service).
#[utoipa::path(post, path = "/v1/keys", request_body = CreateKey, security(("token" = [])),
    responses((status = 201, body = KeyInfo), (status = 400, body = ApiError), (status = 403, body = ApiError),
        (status = 409, body = ApiError)))]
async fn create_key(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CreateKey>,
) -> ApiResult<(StatusCode, Json<KeyInfo>)> {
    let caller = authenticate(&state, &headers).await?;
    check_name(&body.name).map_err(ApiError::bad)?;
    caller.require(&body.name)?;
    let id = new_id("key");
    let (address, sealed) = state.master.new_session_key(&id).map_err(|e| ApiError::bad(e.to_string()))?;
    // One nonce sequence per key: a random odd 16-bit lane (16 bits fit every account kind's nonce key), moved at
    // attach time if another key of the grant's account holds it.
    let lane = i64::from(rand::random::<u16>() | 1);
    let row = KeyRow {
        id: id.clone(),
        name: body.name.clone(),
        address: address.to_checksum(None),
        sealed,
        nonce_lane: lane,
        grant_token: None,
        account: None,
        session_id: None,
        state: "new".into(),
        state_reason: None,
        created_at: now(),
    };
    state.storage.insert_key(&row).await?;
    audit(&state, &caller, "key.create", &body.name, serde_json::json!({ "address": row.address })).await?;
    Ok((StatusCode::CREATED, Json(KeyInfo::from(&row))))
}

/// Attaches the owner's grant (a `warrant1…` token) to a key; the grant's session key must be the key's address.
#[utoipa::path(post, path = "/v1/keys/{name}/grant", request_body = AttachGrant, security(("token" = [])),
    params(("name" = String, Path, description = "The session's name")),
    responses((status = 200, body = KeyInfo), (status = 400, body = ApiError), (status = 404, body = ApiError),
        (status = 409, body = ApiError)))]
async fn attach_grant(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<AttachGrant>,
) -> ApiResult<Json<KeyInfo>> {
    let caller = authenticate(&state, &headers).await?;
    let key = key_named(&state, &caller, &name).await?;
    let signed =
        SignedGrant::from_token(body.token.trim()).map_err(|e| ApiError::bad(format!("token: {e}")))?;
    if signed.grant.session.signer.to_checksum(None) != key.address {
        return Err(ApiError::bad(format!(
            "token: the grant's session key is {}, not this key's address {}",
            signed.grant.session.signer, key.address
        )));
    }
    if signed.chain_id != state.executor.chain_id() {
        return Err(ApiError::bad(format!(
            "token: the grant is for chain {}, the service runs on chain {}",
            signed.chain_id,
            state.executor.chain_id()
        )));
    }
    if key.state != "new" {
        return Err(ApiError::conflict(format!(
            "session {name:?} already has a grant (state {})",
            key.state
        )));
    }
    let account = signed.grant.account.to_checksum(None);
    let session_id = signed.session_id().to_string();
    let mut attached = false;
    for _ in 0..8 {
        // The key's lane, or another odd 16-bit one if a key of this account holds it.
        let used: std::collections::HashSet<i64> = state
            .storage
            .keys()
            .await?
            .iter()
            .filter(|k| k.account.as_deref() == Some(account.as_str()) && k.id != key.id)
            .map(|k| k.nonce_lane)
            .collect();
        let mut lane = key.nonce_lane;
        while used.contains(&lane) {
            lane = i64::from(rand::random::<u16>() | 1);
        }
        if state.storage.attach_grant(&key.id, body.token.trim(), &account, &session_id, lane).await? {
            attached = true;
            break;
        }
        let now_state = state.storage.key(&key.id).await?.map(|k| k.state);
        if now_state.as_deref() != Some("new") {
            break;
        }
    }
    if !attached {
        return Err(ApiError::conflict(format!("session {name:?} already has a grant")));
    }
    audit(
        &state,
        &caller,
        "key.grant",
        &name,
        serde_json::json!({ "account": account, "session_id": session_id }),
    )
    .await?;
    let key = state.storage.key(&key.id).await?.ok_or_else(|| ApiError::not_found("the key vanished"))?;
    Ok(Json(KeyInfo::from(&key)))
}

/// Forgets a key: its secret is erased, its jobs cancelled. The session stays valid on chain until the owner
/// revokes it.
#[utoipa::path(delete, path = "/v1/keys/{name}", security(("token" = [])),
    params(("name" = String, Path, description = "The session's name")),
    responses((status = 200, body = KeyInfo), (status = 404, body = ApiError)))]
async fn forget_key(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> ApiResult<Json<KeyInfo>> {
    let caller = authenticate(&state, &headers).await?;
    let key = key_named(&state, &caller, &name).await?;
    state.storage.forget_key(&key.id, now()).await?;
    state.sends.drop_key(&key.id, &name);
    audit(&state, &caller, "key.forget", &name, serde_json::json!({ "address": key.address })).await?;
    let key = state.storage.key(&key.id).await?.ok_or_else(|| ApiError::not_found("the key vanished"))?;
    Ok(Json(KeyInfo::from(&key)))
}

/// Sessions this token may act on, with what each limit has left (read from the chain).
#[utoipa::path(get, path = "/v1/sessions", security(("token" = [])),
    responses((status = 200, body = Vec<SessionInfo>), (status = 401, body = ApiError)))]
async fn list_sessions(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<Json<Vec<SessionInfo>>> {
    let caller = authenticate(&state, &headers).await?;
    let mut out = Vec::new();
    for key in state.storage.keys().await?.iter().filter(|k| caller.may(&k.name)) {
        let mut info = SessionInfo { key: KeyInfo::from(key), chain: None, chain_error: None };
        if let (Some(token), true) = (&key.grant_token, key.state != "forgotten")
            && let (Ok(grant), Ok(signer)) =
                (SignedGrant::from_token(token), state.master.signer(&key.id, &key.sealed))
        {
            let session =
                Session { signer, grant, nonce_lane: u32::try_from(key.nonce_lane).unwrap_or_default() };
            match state.executor.status(&session).await {
                Ok(status) => {
                    // A session the chain says is over is marked so, and never used again.
                    if matches!(status.state.as_str(), "revoked" | "expired" | "exhausted")
                        && key.state == "active"
                    {
                        state.storage.set_key_state(&key.id, &status.state, status.reason.as_deref()).await?;
                        info.key.state = status.state.clone();
                        info.key.reason = status.reason.clone();
                    }
                    info.chain = Some(status);
                }
                Err(e) => info.chain_error = Some(e.to_string()),
            }
        }
        out.push(info);
    }
    Ok(Json(out))
}

/// What a new job is made of.
struct NewJob<'a> {
    calls: &'a [CallSpec],
    schedule: Schedule,
    on_refused: OnRefused,
    catch_up: CatchUp,
    idempotency_key: Option<String>,
}

/// Checks a new job and builds its row.
fn job_row(key: &KeyRow, new: NewJob<'_>) -> ApiResult<JobRow> {
    let NewJob { calls, schedule, on_refused, catch_up, idempotency_key } = new;
    parse_calls(calls).map_err(ApiError::bad)?;
    schedule.validate().map_err(ApiError::bad)?;
    if let Some(k) = &idempotency_key
        && (k.is_empty() || k.len() > 200)
    {
        return Err(ApiError::bad("idempotency_key: 1 to 200 characters"));
    }
    if !matches!(key.state.as_str(), "active" | "new") {
        let mut e = ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "refused",
            format!("session {:?} is {} and is never used", key.name, key.state),
        );
        e.rule = key.state_reason.clone();
        return Err(e);
    }
    let t = now();
    let first = schedule.first_slot(t).map_err(ApiError::bad)?;
    Ok(JobRow {
        id: new_id("job"),
        key_id: key.id.clone(),
        calls: serde_json::to_string(calls).map_err(|e| ApiError::bad(e.to_string()))?,
        schedule: serde_json::to_string(&schedule).map_err(|e| ApiError::bad(e.to_string()))?,
        on_refused: on_refused.as_str().into(),
        catch_up: catch_up.as_str().into(),
        state: if first.is_some() { "active".into() } else { "done".into() },
        next_run_at: first,
        idempotency_key,
        created_at: t,
    })
}

/// The audit details of a new job.
fn job_detail(key: &KeyRow, job: &JobRow) -> serde_json::Value {
    let schedule: serde_json::Value = serde_json::from_str(&job.schedule).unwrap_or_default();
    serde_json::json!({ "session": key.name, "schedule": schedule })
}

/// Stores a job for the worker; with an idempotency key seen before, answers that job (`false`: not created).
async fn insert_job(
    state: &AppState,
    caller: &Caller,
    key: &KeyRow,
    job: JobRow,
) -> ApiResult<(bool, JobRow)> {
    let stored = state.storage.insert_job(&job).await?;
    let created = stored.id == job.id;
    if created {
        audit(state, caller, "job.create", &job.id, job_detail(key, &job)).await?;
    }
    Ok((created, stored))
}

/// Sends calls now, once: a one-off job. The same idempotency key returns the same job and never sends again.
#[utoipa::path(post, path = "/v1/sessions/{name}/send", request_body = SendNow, security(("token" = [])),
    params(("name" = String, Path, description = "The session's name")),
    responses((status = 202, body = JobWithRuns), (status = 200, body = JobWithRuns, description = "Seen before"),
        (status = 400, body = ApiError), (status = 403, body = ApiError), (status = 422, body = ApiError)))]
async fn send_now(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<SendNow>,
) -> ApiResult<(StatusCode, Json<JobWithRuns>)> {
    // First on the token and key rows this instance read before (the record's transaction checks them again).
    // Anything but a send recorded on them, an error included, is done again on rows read afresh, so that a
    // revoked token hears 401 and not what its rows would have said.
    let (status, job, runs) = match send_once(&state, &headers, &name, &body, false).await {
        Ok(Some(done)) => done,
        Ok(None) | Err(_) => send_once(&state, &headers, &name, &body, true).await?.ok_or_else(|| {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "a send on fresh rows")
        })?,
    };
    Ok((
        status,
        Json(JobWithRuns { job: job_info(&job, &name), runs: runs.iter().map(RunInfo::from).collect() }),
    ))
}

/// One try of [`send_now`] on the token and key rows read before, or on `fresh` ones. `None` (on kept rows only):
/// nothing was recorded, try again afresh.
async fn send_once(
    state: &AppState,
    headers: &HeaderMap,
    name: &str,
    body: &SendNow,
    fresh: bool,
) -> ApiResult<Option<(StatusCode, JobRow, Vec<RunRow>)>> {
    let new = || NewJob {
        calls: &body.calls,
        schedule: Schedule::Once { at: None },
        on_refused: OnRefused::Skip,
        catch_up: CatchUp::All,
        idempotency_key: Some(body.idempotency_key.clone()),
    };
    let (caller, key) = send::caller_and_key(state, headers, name, fresh).await?;
    let job = job_row(&key, new())?;
    // Prepared, signed and recorded here when it can be; else (the node unreachable, the key busy) the worker
    // takes it, woken at once, on rows just read (`insert_job` checks neither again).
    match send::in_request(state, &caller, &key, &job, &body.calls).await? {
        InRequest::Done(status, job, runs) => Ok(Some((status, *job, runs))),
        InRequest::Stale | InRequest::Worker if !fresh => Ok(None),
        InRequest::Stale | InRequest::Worker => {
            let (created, job) = insert_job(state, &caller, &key, job).await?;
            state.sends.wake.notify_one();
            let runs = state.storage.runs_of_job(&job.id).await?;
            Ok(Some((if created { StatusCode::ACCEPTED } else { StatusCode::OK }, job, runs)))
        }
    }
}

/// Schedules a job.
#[utoipa::path(post, path = "/v1/jobs", request_body = CreateJob, security(("token" = [])),
    responses((status = 201, body = JobInfo), (status = 200, body = JobInfo, description = "Seen before"),
        (status = 400, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
async fn create_job(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CreateJob>,
) -> ApiResult<(StatusCode, Json<JobInfo>)> {
    let caller = authenticate(&state, &headers).await?;
    let key = key_named(&state, &caller, &body.session).await?;
    let new = NewJob {
        calls: &body.calls,
        schedule: body.schedule,
        on_refused: body.on_refused.unwrap_or(OnRefused::Wait),
        catch_up: body.catch_up.unwrap_or(CatchUp::Latest),
        idempotency_key: body.idempotency_key,
    };
    let (created, job) = insert_job(&state, &caller, &key, job_row(&key, new)?).await?;
    state.sends.wake.notify_one();
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, Json(job_info(&job, &body.session))))
}

async fn visible_job(state: &AppState, caller: &Caller, id: &str) -> ApiResult<(JobRow, KeyRow)> {
    let job = state.storage.job(id).await?.ok_or_else(|| ApiError::not_found(format!("no job {id:?}")))?;
    let key =
        state.storage.key(&job.key_id).await?.ok_or_else(|| ApiError::not_found(format!("no job {id:?}")))?;
    if !caller.may(&key.name) {
        // Not told apart from a missing job: a token learns nothing of other sessions' jobs.
        return Err(ApiError::not_found(format!("no job {id:?}")));
    }
    Ok((job, key))
}

/// Jobs of the sessions this token may act on, newest first.
#[utoipa::path(get, path = "/v1/jobs", security(("token" = [])), responses((status = 200, body = Vec<JobInfo>)))]
async fn list_jobs(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Json<Vec<JobInfo>>> {
    let caller = authenticate(&state, &headers).await?;
    let keys = state.storage.keys().await?;
    let names: std::collections::HashMap<_, _> =
        keys.iter().map(|k| (k.id.clone(), k.name.clone())).collect();
    let jobs = state.storage.jobs().await?;
    Ok(Json(
        jobs.iter()
            .filter_map(|j| names.get(&j.key_id).filter(|n| caller.may(n)).map(|n| job_info(j, n)))
            .collect(),
    ))
}

/// A job and its runs (its history).
#[utoipa::path(get, path = "/v1/jobs/{id}", security(("token" = [])),
    params(("id" = String, Path, description = "The job's id")),
    responses((status = 200, body = JobWithRuns), (status = 404, body = ApiError)))]
async fn get_job(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<JobWithRuns>> {
    let caller = authenticate(&state, &headers).await?;
    let (job, key) = visible_job(&state, &caller, &id).await?;
    let runs = state.storage.runs_of_job(&job.id).await?;
    Ok(Json(JobWithRuns { job: job_info(&job, &key.name), runs: runs.iter().map(RunInfo::from).collect() }))
}

/// A job's runs, by slot.
#[utoipa::path(get, path = "/v1/jobs/{id}/runs", security(("token" = [])),
    params(("id" = String, Path, description = "The job's id")),
    responses((status = 200, body = Vec<RunInfo>), (status = 404, body = ApiError)))]
async fn job_runs(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<RunInfo>>> {
    let caller = authenticate(&state, &headers).await?;
    let (job, _) = visible_job(&state, &caller, &id).await?;
    Ok(Json(state.storage.runs_of_job(&job.id).await?.iter().map(RunInfo::from).collect()))
}

async fn transition(
    state: AppState,
    headers: HeaderMap,
    id: String,
    from: &[&str],
    to: &str,
    action: &str,
) -> ApiResult<Json<JobInfo>> {
    let caller = authenticate(&state, &headers).await?;
    let (job, key) = visible_job(&state, &caller, &id).await?;
    if !state.storage.set_job_state(&job.id, from, to, now()).await? {
        return Err(ApiError::conflict(format!("job {id:?} is {}; it can't be {action}", job.state)));
    }
    audit(&state, &caller, &format!("job.{to}"), &job.id, serde_json::json!({ "from": job.state })).await?;
    let job =
        state.storage.job(&job.id).await?.ok_or_else(|| ApiError::not_found(format!("no job {id:?}")))?;
    Ok(Json(job_info(&job, &key.name)))
}

/// Pauses a job: no new run starts until it is resumed.
#[utoipa::path(post, path = "/v1/jobs/{id}/pause", security(("token" = [])),
    params(("id" = String, Path, description = "The job's id")),
    responses((status = 200, body = JobInfo), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
async fn pause_job(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<JobInfo>> {
    transition(state, headers, id, &["active"], "paused", "paused").await
}

/// Resumes a paused job (missed slots follow its catch-up policy).
#[utoipa::path(post, path = "/v1/jobs/{id}/resume", security(("token" = [])),
    params(("id" = String, Path, description = "The job's id")),
    responses((status = 200, body = JobInfo), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
async fn resume_job(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<JobInfo>> {
    transition(state, headers, id, &["paused"], "active", "resumed").await
}

/// Cancels a job: runs not yet signed are cancelled; one whose operation is recorded is still settled.
#[utoipa::path(post, path = "/v1/jobs/{id}/cancel", security(("token" = [])),
    params(("id" = String, Path, description = "The job's id")),
    responses((status = 200, body = JobInfo), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
async fn cancel_job(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<JobInfo>> {
    transition(state, headers, id, &["active", "paused"], "cancelled", "cancelled").await
}

/// The audit log (tokens for every session, `*`, only).
#[utoipa::path(get, path = "/v1/audit", security(("token" = [])), params(AuditQuery),
    responses((status = 200, body = Vec<AuditEntry>), (status = 403, body = ApiError)))]
async fn audit_log(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Json<Vec<AuditEntry>>> {
    let caller = authenticate(&state, &headers).await?;
    if !caller.all() {
        return Err(ApiError::forbidden("the audit log needs a token for every session (`*`)"));
    }
    let rows = state.storage.audit_log(q.after.unwrap_or(0), q.limit.unwrap_or(100).clamp(1, 1000)).await?;
    Ok(Json(
        rows.into_iter()
            .map(|r| AuditEntry {
                seq: r.seq,
                at: r.at,
                actor: r.actor,
                action: r.action,
                subject: r.subject,
                detail: r.detail,
            })
            .collect(),
    ))
}

async fn fallback() -> ApiError {
    ApiError::not_found("no such endpoint (see /openapi.json)")
}

async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let started = Instant::now();
    let response = next.run(request).await;
    state.metrics.http_requests.with_label_values(&[route.as_str(), response.status().as_str()]).inc();
    state.metrics.http_latency.with_label_values(&[route.as_str()]).observe(started.elapsed().as_secs_f64());
    response
}

/// The OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(title = "Warrant service", description = "Session keys for programs that run unattended: keys, grants, jobs."),
    paths(health, metrics, openapi, create_key, attach_grant, forget_key, list_sessions, send_now, create_job, list_jobs,
        get_job, job_runs, pause_job, resume_job, cancel_job, audit_log,
        // API token management.
        tokens::create_token, tokens::list_tokens, tokens::revoke_token),
    modifiers(&Security)
)]
pub struct ApiDoc;

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(
                HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("wst_…").build(),
            ),
        );
    }
}

/// The API's routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .route("/v1/keys", post(create_key))
        .route("/v1/keys/{name}", axum::routing::delete(forget_key))
        .route("/v1/keys/{name}/grant", post(attach_grant))
        .route("/v1/sessions", get(list_sessions))
        .route("/v1/sessions/{name}/send", post(send_now))
        .route("/v1/jobs", post(create_job).get(list_jobs))
        .route("/v1/jobs/{id}", get(get_job))
        .route("/v1/jobs/{id}/runs", get(job_runs))
        .route("/v1/jobs/{id}/pause", post(pause_job))
        .route("/v1/jobs/{id}/resume", post(resume_job))
        .route("/v1/jobs/{id}/cancel", post(cancel_job))
        .route("/v1/audit", get(audit_log))
        // API token management (admin tokens only).
        .merge(tokens::routes())
        .fallback(fallback)
        .layer(middleware::from_fn_with_state(state.clone(), track))
        .with_state(state)
}
