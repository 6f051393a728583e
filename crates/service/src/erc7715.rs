//! ERC-7715 permission requests as JSON-RPC 2.0 on `POST /rpc` (docs/erc7715.md, "The service").
//!
//! A dApp calls `wallet_requestExecutionPermissions` (or the legacy `wallet_grantPermissions`) exactly as it
//! would call a wallet: each request is read and translated by `warrant_core::erc7715` (refused by name if it
//! can't be enforced exactly), stored as a **pending grant**, and the call is held open until the owner decides
//! on the consent page ([`consent`]) or the bounded wait ends. Only the owner's signature approves: the service
//! checks it on chain (`isValidSignature` of the account) and checks that the signed scope is exactly the
//! request's translation. `wallet_getSupportedExecutionPermissions` answers from core's table,
//! `wallet_getGrantedExecutionPermissions` lists the caller origin's live permissions with what each has left
//! (read from the chain by `warrant-client`), and `wallet_revokeExecutionPermission` records the dApp's wish for
//! the owner, who revokes on chain; a permission is shown revoked only once the chain says so.

pub mod consent;

use std::{sync::Arc, time::Duration};

use alloy::primitives::{Address, U256};
use axum::{
    Json, Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, HeaderValue, Method, header},
    routing::post,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::{OnceCell, watch};
use tower_http::cors::{AllowOrigin, CorsLayer};
use warrant_core::{
    erc7715::{
        self, Asset, Erc7715Error, GasTerms, GrantTerms, LEGACY_REQUEST_METHOD, PermissionRequest,
        REQUEST_METHOD,
    },
    token::SignedGrant,
};

use crate::{
    config::Erc7715Config,
    ids::{new_id, now},
    storage::{PermissionRow, Storage, StorageError},
};

/// At most this many pending requests at once: `/rpc` takes requests from any dApp, so what they can make the
/// service store is bounded.
pub const MAX_PENDING: i64 = 64;

/// A request nobody decided within this many seconds expires (the dApp stopped waiting long ago), so stale
/// requests neither fill [`MAX_PENDING`] nor wait on the consent page forever.
pub const PENDING_TTL: i64 = 3600;

/// What the ERC-7715 endpoints share.
pub struct Erc7715State {
    /// Storage (the `permission_requests` table).
    pub storage: Arc<dyn Storage>,
    /// Settings.
    pub config: Erc7715Config,
    /// The service's chain.
    pub chain_id: u64,
    rpc_url: String,
    rpc_timeout: Duration,
    client: OnceCell<warrant_client::Client>,
    /// The service's stop signal: a held request answers `Pending` at once on shutdown.
    stop: watch::Receiver<bool>,
}

impl Erc7715State {
    /// The state for a service on `chain_id` reading the chain at `rpc_url`.
    pub fn new(
        storage: Arc<dyn Storage>,
        config: Erc7715Config,
        chain_id: u64,
        rpc_url: String,
        rpc_timeout: Duration,
        stop: watch::Receiver<bool>,
    ) -> Self {
        Self { storage, config, chain_id, rpc_url, rpc_timeout, client: OnceCell::new(), stop }
    }

    /// The chain reader, connected on first use (so a service whose node is down still starts).
    pub(crate) async fn client(&self) -> Result<&warrant_client::Client, RpcError> {
        self.client
            .get_or_try_init(|| async {
                let url = self.rpc_url.parse().map_err(|e| format!("--rpc-url: {e}"))?;
                let options =
                    warrant_client::ClientOptions { request_timeout: self.rpc_timeout, ..Default::default() };
                warrant_client::Client::connect(url, None, options).await.map_err(|e| e.to_string())
            })
            .await
            .map_err(|e| RpcError::unavailable(format!("the node: {e}")))
    }
}

/// A JSON-RPC error. `data.problem` names the problem (`RefusedType`, `WrongChain`, `Pending`, …), and for a
/// refusal of the request `data.field` names the field.
#[derive(Clone, Debug, PartialEq)]
pub struct RpcError {
    /// The JSON-RPC / EIP-1193 code.
    pub code: i64,
    /// What is wrong, in words.
    pub message: String,
    /// `{problem, …}`.
    pub data: Value,
}

impl RpcError {
    fn new(code: i64, problem: &str, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), data: json!({ "problem": problem }) }
    }

    fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        if let Value::Object(o) = &mut self.data {
            o.insert(key.into(), value.into());
        }
        self
    }

    pub(crate) fn invalid(problem: &str, message: impl Into<String>) -> Self {
        Self::new(-32602, problem, message)
    }

    pub(crate) fn unavailable(message: impl Into<String>) -> Self {
        Self::new(-32603, "Unavailable", message)
    }

    /// A request the translation refused: the field and the reason, under the error's own name.
    pub(crate) fn refused(e: &Erc7715Error, prefix: &str) -> Self {
        let (problem, field) = match e {
            Erc7715Error::Invalid { field, .. } => ("InvalidField", Some(field)),
            Erc7715Error::RefusedType { field, .. } => ("RefusedType", Some(field)),
            Erc7715Error::UnknownType { field, .. } => ("UnknownType", Some(field)),
            Erc7715Error::RefusedRule { field, .. } => ("RefusedRule", Some(field)),
            Erc7715Error::NotAPermission(_) => ("NotAPermission", None),
        };
        let mut out = Self::invalid(problem, format!("{prefix}{e}"));
        if let Some(f) = field {
            let f = if f.starts_with("params[") { f.clone() } else { under(prefix, f) };
            out = out.with("field", f);
        }
        out
    }

    fn to_json(&self) -> Value {
        json!({ "code": self.code, "message": self.message, "data": self.data })
    }
}

impl From<StorageError> for RpcError {
    fn from(e: StorageError) -> Self {
        tracing::error!(error = %e, "storage failed");
        Self::unavailable("storage is unavailable")
    }
}

/// The routes: `POST /rpc` (CORS for the configured dApp origins only) and the consent page.
pub fn router(state: Arc<Erc7715State>) -> Router {
    let origins: Vec<HeaderValue> =
        state.config.dapp_origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::POST])
        .allow_headers([header::CONTENT_TYPE]);
    Router::new().route("/rpc", post(rpc).layer(cors)).merge(consent::router()).with_state(state)
}

/// One JSON-RPC 2.0 call (batches are refused: each request may wait for the owner).
async fn rpc(State(state): State<Arc<Erc7715State>>, headers: HeaderMap, body: Bytes) -> Json<Value> {
    let reply = |id: Value, out: Result<Value, RpcError>| {
        Json(match out {
            Ok(result) => json!({ "jsonrpc": "2.0", "id": id, "result": result }),
            Err(e) => json!({ "jsonrpc": "2.0", "id": id, "error": e.to_json() }),
        })
    };
    let call: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return reply(Value::Null, Err(RpcError::new(-32700, "ParseError", format!("not JSON: {e}"))));
        }
    };
    let id = call.get("id").cloned().unwrap_or(Value::Null);
    let Some(obj) = call.as_object() else {
        return reply(
            Value::Null,
            Err(RpcError::new(
                -32600,
                "InvalidRequest",
                "expected one JSON-RPC 2.0 request object (no batches)",
            )),
        );
    };
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return reply(id, Err(RpcError::new(-32600, "InvalidRequest", "jsonrpc must be \"2.0\"")));
    }
    let Some(method) = obj.get("method").and_then(Value::as_str) else {
        return reply(id, Err(RpcError::new(-32600, "InvalidRequest", "method must be a string")));
    };
    let params = obj.get("params").cloned().unwrap_or(Value::Array(vec![]));
    let origin = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()).unwrap_or_default().to_string();
    let out = match method {
        REQUEST_METHOD | LEGACY_REQUEST_METHOD => request_permissions(&state, &origin, method, &params).await,
        "wallet_getSupportedExecutionPermissions" => Ok(erc7715::supported_permissions(&[state.chain_id])),
        "wallet_getGrantedExecutionPermissions" => granted_permissions(&state, &origin).await,
        "wallet_revokeExecutionPermission" => revoke_permission(&state, &origin, &params).await,
        other => Err(RpcError::new(
            -32601,
            "MethodNotFound",
            format!(
                "{other} is not served here (ERC-7715: {REQUEST_METHOD}, {LEGACY_REQUEST_METHOD}, \
                 wallet_getSupportedExecutionPermissions, wallet_getGrantedExecutionPermissions, \
                 wallet_revokeExecutionPermission)"
            ),
        )),
    };
    reply(id, out)
}

/// Gas terms for a translation made before the owner chose them: the account pays, from a budget that passes
/// the translator's checks. Only to refuse an untranslatable request at once; the owner's terms decide later.
fn provisional_gas(request: &PermissionRequest) -> GasTerms {
    match request.permission.asset {
        Asset::Native => GasTerms::AccountPays { max_value_total: U256::MAX },
        Asset::Erc20(_) => GasTerms::AccountPays { max_value_total: U256::from(1) },
    }
}

/// Refuses at once what no owner could approve: a request for another chain, or one the translation refuses.
pub(crate) fn check_request(
    state: &Erc7715State,
    request: &PermissionRequest,
    prefix: &str,
    at: u64,
) -> Result<(), RpcError> {
    if request.chain_id != state.chain_id {
        return Err(RpcError::invalid(
            "WrongChain",
            format!(
                "{prefix}chainId {:#x}: this service serves chain {:#x}",
                request.chain_id, state.chain_id
            ),
        )
        .with("field", under(prefix, "chainId"))
        .with("chainId", format!("{:#x}", state.chain_id)));
    }
    let terms = GrantTerms {
        now: at,
        // A placeholder account when the owner picks it: the translation's checks do not depend on it.
        account: request.from.or(Some(Address::repeat_byte(0x11))),
        gas: provisional_gas(request),
        max_gas_limit: 0,
        max_fee_per_gas: 0,
    };
    erc7715::translate(request, &terms).map(|_| ()).map_err(|e| RpcError::refused(&e, prefix))
}

/// `field` under a message prefix such as `params[0]: ` (`params[0].field`).
fn under(prefix: &str, field: &str) -> String {
    match prefix.trim_end_matches(": ") {
        "" => field.to_string(),
        p => format!("{p}.{field}"),
    }
}

fn fingerprint(origin: &str, method: &str, item: &Value) -> String {
    let mut h = Sha256::new();
    for part in [origin, method, &item.to_string()] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

async fn request_permissions(
    state: &Erc7715State,
    origin: &str,
    method: &str,
    params: &Value,
) -> Result<Value, RpcError> {
    let requests = PermissionRequest::list_from_json(params).map_err(|e| RpcError::refused(&e, ""))?;
    let items: Vec<Value> = match params {
        Value::Array(items) => items.clone(),
        one => vec![one.clone()],
    };
    let t = now();
    for (i, request) in requests.iter().enumerate() {
        check_request(state, request, &format!("params[{i}]: "), u64::try_from(t).unwrap_or_default())?;
    }
    state.storage.expire_permissions(t - PENDING_TTL, t).await?;
    let mut ids = Vec::with_capacity(items.len());
    for item in &items {
        let fp = fingerprint(origin, method, item);
        // The same request sent again (a dApp retrying after "still pending") waits on the same pending grant,
        // or gets the grant the owner made of it meanwhile while the chain still has it live.
        if let Some(row) = state.storage.pending_permission(&fp).await? {
            ids.push(row.id);
            continue;
        }
        if let Some(row) = live_grant_of(state, &fp).await? {
            ids.push(row.id);
            continue;
        }
        if state.storage.pending_permission_count().await? >= MAX_PENDING {
            return Err(RpcError::new(
                -32005,
                "TooManyPending",
                format!("{MAX_PENDING} permission requests already wait for their owners; try again later"),
            ));
        }
        let row = PermissionRow {
            id: new_id("perm"),
            origin: origin.into(),
            method: method.into(),
            request: item.to_string(),
            fingerprint: fp,
            state: "pending".into(),
            reason: None,
            grant_token: None,
            account: None,
            session_id: None,
            response: None,
            created_at: t,
            decided_at: None,
            revoke_requested_at: None,
        };
        state.storage.insert_permission(&row).await?;
        state
            .storage
            .audit(
                "dapp",
                "permission.request",
                &row.id,
                &json!({ "origin": origin, "method": method }).to_string(),
                t,
            )
            .await?;
        ids.push(row.id);
    }
    let deadline = tokio::time::Instant::now() + state.config.wait;
    let mut stop = state.stop.clone();
    let mut stopping = *stop.borrow();
    loop {
        let mut responses = Vec::with_capacity(ids.len());
        for id in &ids {
            let row = state
                .storage
                .permission(id)
                .await?
                .ok_or_else(|| RpcError::unavailable(format!("permission request {id} vanished")))?;
            match row.state.as_str() {
                "granted" => {
                    let text = row.response.unwrap_or_default();
                    responses.push(serde_json::from_str::<Value>(&text).map_err(|_| {
                        RpcError::unavailable(format!("the stored response of {id} does not decode"))
                    })?);
                }
                "expired" => {
                    return Err(RpcError::new(
                        4001,
                        "Expired",
                        format!("permission request {id} expired: nobody decided it within {PENDING_TTL} s"),
                    )
                    .with("id", id.clone()));
                }
                "rejected" => {
                    // EIP-1193's 4001: the user rejected the request.
                    return Err(RpcError::new(
                        4001,
                        "Rejected",
                        format!(
                            "the owner rejected permission request {id}: {}",
                            row.reason.as_deref().unwrap_or("no reason given")
                        ),
                    )
                    .with("id", id.clone()));
                }
                _ => break,
            }
        }
        if responses.len() == ids.len() {
            return Ok(Value::Array(responses));
        }
        if tokio::time::Instant::now() >= deadline || stopping {
            return Err(RpcError::new(
                -32002,
                "Pending",
                format!(
                    "permission request {} still waits for the owner's approval on the consent page (/consent); \
                     send the same request again to keep waiting",
                    ids.join(", ")
                ),
            )
            .with("ids", ids.clone())
            .with("consentPath", "/consent"));
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            changed = stop.changed() => stopping = changed.is_err() || *stop.borrow(),
        }
    }
}

/// The newest granted row of this fingerprint whose session the chain still has usable.
async fn live_grant_of(state: &Erc7715State, fingerprint: &str) -> Result<Option<PermissionRow>, RpcError> {
    for row in state.storage.granted_permissions(fingerprint).await? {
        let Ok(signed) = SignedGrant::from_token(row.grant_token.as_deref().unwrap_or_default()) else {
            continue;
        };
        let report = state
            .client()
            .await?
            .status(&signed)
            .await
            .map_err(|e| RpcError::unavailable(format!("reading {} from the chain: {e}", row.id)))?;
        let valid_until: u64 = signed.grant.session.scope.validUntil.to();
        if report.state.is_usable() && (valid_until == 0 || report.now <= valid_until) {
            return Ok(Some(row));
        }
    }
    Ok(None)
}

/// The granted rows of `origin` with their signed grants.
async fn granted_of(
    state: &Erc7715State,
    origin: &str,
) -> Result<Vec<(PermissionRow, SignedGrant)>, RpcError> {
    let mut out = Vec::new();
    for row in state.storage.permissions_in("granted").await? {
        if row.origin != origin {
            continue;
        }
        let token = row.grant_token.clone().unwrap_or_default();
        let signed = SignedGrant::from_token(&token)
            .map_err(|e| RpcError::unavailable(format!("the stored grant of {}: {e}", row.id)))?;
        out.push((row, signed));
    }
    Ok(out)
}

async fn granted_permissions(state: &Erc7715State, origin: &str) -> Result<Value, RpcError> {
    let client = state.client().await?;
    let mut out = Vec::new();
    for (row, signed) in granted_of(state, origin).await? {
        let report = client
            .status(&signed)
            .await
            .map_err(|e| RpcError::unavailable(format!("reading {} from the chain: {e}", row.id)))?;
        let valid_until: u64 = signed.grant.session.scope.validUntil.to();
        // Live only: the chain says revoked (the session, or every session with a new epoch) or expired.
        if !report.state.is_usable() || (valid_until != 0 && report.now > valid_until) {
            continue;
        }
        let mut response: Value =
            serde_json::from_str(row.response.as_deref().unwrap_or_default()).map_err(|_| {
                RpcError::unavailable(format!("the stored response of {} does not decode", row.id))
            })?;
        if let Value::Object(o) = &mut response {
            let mut left = serde_json::to_value(&report).unwrap_or(Value::Null);
            if let Value::Object(l) = &mut left {
                l.insert("revokeRequested".into(), row.revoke_requested_at.is_some().into());
            }
            // What it has left, under a key of Warrant's own (a 7715 client passes unknown keys through).
            o.insert("warrant".into(), left);
        }
        out.push(response);
    }
    Ok(Value::Array(out))
}

async fn revoke_permission(state: &Erc7715State, origin: &str, params: &Value) -> Result<Value, RpcError> {
    let p = match params {
        Value::Array(items) if items.len() == 1 => &items[0],
        Value::Object(_) => params,
        _ => return Err(RpcError::invalid("InvalidField", "params: expected [{permissionContext}]")),
    };
    let context = p.get("permissionContext").and_then(Value::as_str).ok_or_else(|| {
        RpcError::invalid("InvalidField", "params[0].permissionContext: missing or not a string")
    })?;
    let wanted = erc7715::grant_from_context(context).map_err(|e| RpcError::refused(&e, "params[0]: "))?;
    let found = granted_of(state, origin)
        .await?
        .into_iter()
        .find(|(_, s)| s.session_id() == wanted.session_id() && s.grant.account == wanted.grant.account);
    let Some((row, _)) = found else {
        return Err(RpcError::invalid(
            "UnknownPermission",
            "params[0].permissionContext: no permission granted to this origin has this context",
        ));
    };
    state.storage.request_permission_revocation(&row.id, now()).await?;
    state
        .storage
        .audit("dapp", "permission.revoke_request", &row.id, &json!({ "origin": origin }).to_string(), now())
        .await?;
    // Recorded for the owner, who revokes on chain (the consent page prepares the transaction); until the chain
    // says so, wallet_getGrantedExecutionPermissions still lists it (with revokeRequested: true).
    Ok(json!({}))
}
