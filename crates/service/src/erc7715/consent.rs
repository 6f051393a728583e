//! The consent page (`GET /consent`): the owner sees each pending permission request in plain words (`explain`,
//! computed in the page by the browser package from the very grant it then asks the wallet to sign), signs the
//! grant with their EIP-1193 wallet (`eth_signTypedData_v4`, ERC-7739 explicit mode), and the page sends the
//! signed grant back. `approve` completes the request only if the signature is the account's (its
//! `isValidSignature` on chain) and the signed scope is exactly the request's translation.
//!
//! These routes send no CORS headers and take only `application/json` bodies, and a request whose `Origin` is
//! not the service's own is refused: another site's page can neither read the pending requests nor approve or
//! reject one (a cross-site form can't send JSON, and a script's JSON request is blocked by the browser).

use std::sync::Arc;

use alloy::{
    primitives::{Address, B256, U256},
    sol,
    sol_types::SolCall,
};
use axum::{
    Json, Router,
    extract::{Path, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde::Deserialize;
use serde_json::{Value, json};
use warrant_core::{
    erc7715::{self, Budget, GasTerms, GrantTerms, PermissionRequest, PermissionResponse},
    grant::IWarrantValidator,
    grant_json::GrantJson,
    policy::Call,
    session_op::execute_batch,
    token::SignedGrant,
};

use super::{Erc7715State, RpcError};
use crate::{ids::now, storage::PermissionRow};

sol! {
    function isValidSignature(bytes32 hash, bytes signature) external view returns (bytes4);
}

/// ERC-1271's magic value.
const MAGIC: [u8; 4] = [0x16, 0x26, 0xba, 0x7e];

const PAGE: &str = include_str!("../../consent/index.html");
const SCRIPT: &str = include_str!("../../consent/consent.js");

/// The page's routes.
pub(super) fn router() -> Router<Arc<Erc7715State>> {
    Router::new()
        .route("/consent", get(page))
        .route("/consent/consent.js", get(script))
        .route("/consent/warrant.js", get(|s| web_file(s, "warrant.js")))
        .route("/consent/pkg/warrant_wasm.js", get(|s| web_file(s, "pkg/warrant_wasm.js")))
        .route("/consent/pkg/warrant_wasm_bg.wasm", get(|s| web_file(s, "pkg/warrant_wasm_bg.wasm")))
        .route("/consent/requests", get(list))
        .route("/consent/requests/{id}/draft", post(draft))
        .route("/consent/requests/{id}/approve", post(approve))
        .route("/consent/requests/{id}/reject", post(reject))
}

/// An error of the consent API: `{"error": problem, "message"}`.
#[derive(Debug)]
pub struct ConsentError {
    status: StatusCode,
    problem: String,
    message: String,
}

impl ConsentError {
    fn new(status: StatusCode, problem: &str, message: impl Into<String>) -> Self {
        Self { status, problem: problem.into(), message: message.into() }
    }
    fn bad(problem: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, problem, message)
    }
}

impl From<RpcError> for ConsentError {
    fn from(e: RpcError) -> Self {
        let problem = e.data.get("problem").and_then(Value::as_str).unwrap_or("Unavailable").to_string();
        let status = if e.code == -32603 { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::BAD_REQUEST };
        Self { status, problem, message: e.message }
    }
}

impl From<crate::storage::StorageError> for ConsentError {
    fn from(e: crate::storage::StorageError) -> Self {
        RpcError::from(e).into()
    }
}

impl IntoResponse for ConsentError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.problem, "message": self.message }))).into_response()
    }
}

type Result<T> = std::result::Result<T, ConsentError>;

/// The page's security headers: no framing (a dApp can't overlay it to steer a click), scripts from the service
/// only (`wasm-unsafe-eval` for the browser package).
fn secured(content_type: &'static str, body: impl IntoResponse) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; frame-ancestors 'none'; base-uri 'none'",
            ),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

async fn page() -> Response {
    secured("text/html; charset=utf-8", PAGE)
}

async fn script() -> Response {
    secured("text/javascript; charset=utf-8", SCRIPT)
}

async fn web_file(State(state): State<Arc<Erc7715State>>, name: &'static str) -> Response {
    let path = state.config.web_dir.join(name);
    match tokio::fs::read(&path).await {
        Ok(bytes) => {
            let ty =
                if name.ends_with(".wasm") { "application/wasm" } else { "text/javascript; charset=utf-8" };
            secured(ty, bytes)
        }
        Err(e) => ConsentError::new(
            StatusCode::NOT_FOUND,
            "BrowserPackageMissing",
            format!("{}: {e} (run scripts/build-web and point --web-dir at web/)", path.display()),
        )
        .into_response(),
    }
}

/// Refuses a request from another site's page: a browser sends `Origin` with every POST, and it must be this
/// service's own (the `Host` it was reached at).
fn same_origin(headers: &HeaderMap) -> Result<()> {
    let Some(origin) = headers.get(header::ORIGIN) else { return Ok(()) };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
    let origin = origin.to_str().unwrap_or_default();
    if origin == format!("http://{host}") || origin == format!("https://{host}") {
        Ok(())
    } else {
        Err(ConsentError::new(
            StatusCode::FORBIDDEN,
            "CrossOrigin",
            format!("the consent API takes requests from its own page only, not from {origin}"),
        ))
    }
}

fn json_body<T: for<'de> Deserialize<'de>>(headers: &HeaderMap, body: &[u8]) -> Result<T> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|c| c.to_str().ok())
        .is_some_and(|c| c.starts_with("application/json"));
    if !json {
        return Err(ConsentError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "NotJson",
            "the body must be JSON (Content-Type: application/json)",
        ));
    }
    serde_json::from_slice(body)
        .map_err(|e| ConsentError::bad("InvalidBody", format!("invalid JSON body: {e}")))
}

fn request_of(row: &PermissionRow) -> Result<PermissionRequest> {
    let v: Value = serde_json::from_str(&row.request).map_err(|_| {
        ConsentError::bad("Corrupt", format!("the stored request of {} does not decode", row.id))
    })?;
    PermissionRequest::from_json(&v).map_err(|e| RpcError::refused(&e, "").into())
}

async fn pending(state: &Erc7715State, id: &str) -> Result<PermissionRow> {
    let row = state.storage.permission(id).await?.ok_or_else(|| {
        ConsentError::new(StatusCode::NOT_FOUND, "UnknownRequest", format!("no request {id:?}"))
    })?;
    if row.state != "pending" {
        return Err(ConsentError::new(
            StatusCode::CONFLICT,
            "NotPending",
            format!("request {id} is {} already", row.state),
        ));
    }
    Ok(row)
}

/// `GET /consent/requests`: what waits for the owner. Pending requests (in the current shape), and granted
/// permissions whose dApp asked for a revocation, with the owner's revoking transaction.
async fn list(State(state): State<Arc<Erc7715State>>) -> Result<Json<Value>> {
    let t = now();
    state.storage.expire_permissions(t - super::PENDING_TTL, t).await?;
    let mut pending = Vec::new();
    for row in state.storage.permissions_in("pending").await? {
        let request = request_of(&row)?;
        pending.push(json!({
            "id": row.id,
            "origin": row.origin,
            "method": row.method,
            "request": request.to_json(),
            "createdAt": row.created_at,
        }));
    }
    let mut revocations = Vec::new();
    for row in state.storage.permissions_in("granted").await? {
        if row.revoke_requested_at.is_none() {
            continue;
        }
        let Ok(signed) = SignedGrant::from_token(row.grant_token.as_deref().unwrap_or_default()) else {
            continue;
        };
        let usable = match state.client().await {
            Ok(c) => c.status(&signed).await.map(|r| r.state.is_usable()).unwrap_or(true),
            Err(_) => true,
        };
        if !usable {
            continue;
        }
        let account = signed.grant.account;
        let revoke = IWarrantValidator::revokeSessionCall { id: signed.session_id() }.abi_encode();
        let data = execute_batch(&[Call { target: signed.module, value: U256::ZERO, data: revoke }]);
        revocations.push(json!({
            "id": row.id,
            "origin": row.origin,
            "account": account.to_checksum(None),
            "sessionId": signed.session_id(),
            "module": signed.module.to_checksum(None),
            // An EIP-7702 account is its owner's EOA: the owner's own transaction to itself runs the call.
            "transaction": { "from": account.to_checksum(None), "to": account.to_checksum(None), "data": data },
            "cli": format!("warrant revoke --account {account} --session-id {}", signed.session_id()),
        }));
    }
    Ok(Json(
        json!({ "chainId": format!("{:#x}", state.chain_id), "pending": pending, "revocations": revocations }),
    ))
}

/// What the owner adds on the page: the account (when the request has no `from`) and who pays gas.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct DraftBody {
    account: Option<Address>,
    /// A paymaster sponsors every operation.
    paymaster: Option<Address>,
    /// The account pays gas from this native budget (wei, decimal): ERC-20 permissions.
    max_value_total: Option<String>,
    /// `maxGasLimit` per operation (0: none).
    #[serde(default)]
    max_gas_limit: Option<u64>,
}

/// `POST /consent/requests/{id}/draft`: the grant to sign (the request translated with the owner's terms, the
/// account's current epoch, a fresh salt), in the browser package's JSON form.
async fn draft(
    State(state): State<Arc<Erc7715State>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<Value>> {
    same_origin(&headers)?;
    let body: DraftBody = json_body(&headers, &body)?;
    let row = pending(&state, &id).await?;
    let request = request_of(&row)?;
    let gas = match (body.paymaster, body.max_value_total) {
        (Some(paymaster), None) => GasTerms::Sponsored { paymaster },
        (None, Some(v)) => GasTerms::AccountPays {
            max_value_total: if v == "max" {
                U256::MAX
            } else {
                v.parse().map_err(|_| {
                    ConsentError::bad(
                        "InvalidField",
                        format!("maxValueTotal: {v:?} is not a decimal amount of wei"),
                    )
                })?
            },
        },
        _ => {
            return Err(ConsentError::bad(
                "InvalidField",
                "give exactly one of paymaster and maxValueTotal (who pays the session's gas)",
            ));
        }
    };
    let client = state.client().await?;
    let now = chain_now(client).await?;
    let terms = GrantTerms {
        now,
        account: body.account.or(request.from),
        gas,
        max_gas_limit: body.max_gas_limit.unwrap_or(0).into(),
        max_fee_per_gas: 0,
    };
    let translation = erc7715::translate(&request, &terms).map_err(|e| RpcError::refused(&e, ""))?;
    let epoch = client
        .epoch(state.config.module, translation.account)
        .await
        .map_err(|e| RpcError::unavailable(format!("reading the account's epoch: {e}")))?;
    let epoch =
        u64::try_from(epoch).map_err(|_| RpcError::unavailable("the account's epoch exceeds 64 bits"))?;
    let grant = translation.grant(epoch, B256::random());
    Ok(Json(json!({
        "grant": GrantJson::from(&grant),
        "module": state.config.module.to_checksum(None),
        "chainId": state.chain_id,
        "request": translation.request.to_json(),
    })))
}

async fn chain_now(client: &warrant_client::Client) -> Result<u64> {
    let wall = u64::try_from(now()).unwrap_or_default();
    let node =
        client.node().now().await.map_err(|e| RpcError::unavailable(format!("the node's time: {e}")))?;
    Ok(node.max(wall))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApproveBody {
    /// The owner-signed grant token (`warrant1…`).
    token: String,
}

/// Why a signed grant does not approve a request.
fn mismatch(message: impl Into<String>) -> ConsentError {
    ConsentError::bad("GrantMismatch", message)
}

/// Checks that `signed` grants exactly `request` on this service's chain and module, and returns the response.
/// `created_at` bounds the start a periodic request without `startTime` may be given.
pub(crate) fn matches_request(
    state: &Erc7715State,
    request: &PermissionRequest,
    signed: &SignedGrant,
    created_at: u64,
    chain_now: u64,
) -> Result<PermissionResponse> {
    if signed.chain_id != state.chain_id || signed.module != state.config.module {
        return Err(mismatch(format!(
            "the grant is for chain {} and module {}, the request for chain {} and module {}",
            signed.chain_id, signed.module, state.chain_id, state.config.module
        )));
    }
    let scope = &signed.grant.session.scope;
    // A periodic request without startTime starts when the owner drafted it: between the request and now.
    let now = match request.permission.budget {
        Budget::Periodic { start_time: None, .. } => {
            let start: u64 = scope.periodStart.to();
            if start + 60 < created_at || start > chain_now + 60 {
                return Err(mismatch(format!(
                    "periodStart {start} is neither after the request ({created_at}) nor before now ({chain_now})"
                )));
            }
            start
        }
        _ => chain_now,
    };
    let gas = if scope.paymaster != Address::ZERO {
        GasTerms::Sponsored { paymaster: scope.paymaster }
    } else {
        GasTerms::AccountPays { max_value_total: scope.maxValueTotal }
    };
    let terms = GrantTerms {
        now,
        account: Some(signed.grant.account),
        gas,
        max_gas_limit: scope.maxGasLimit,
        max_fee_per_gas: scope.maxFeePerGas,
    };
    let translation =
        erc7715::translate(request, &terms).map_err(|e| mismatch(format!("the request: {e}")))?;
    if translation.session_key != signed.grant.session.signer {
        return Err(mismatch(format!(
            "the grant's session key is {}, the request's `to` {}",
            signed.grant.session.signer, translation.session_key
        )));
    }
    if translation.scope != *scope {
        return Err(mismatch(
            "the signed scope is not the request's: it grants something else than was asked",
        ));
    }
    PermissionResponse::from_grant(signed, vec![]).map_err(|e| mismatch(e.to_string()))
}

/// `POST /consent/requests/{id}/approve {token}`: completes the request with the owner's signed grant.
async fn approve(
    State(state): State<Arc<Erc7715State>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<Value>> {
    same_origin(&headers)?;
    let body: ApproveBody = json_body(&headers, &body)?;
    let row = pending(&state, &id).await?;
    let request = request_of(&row)?;
    let signed = SignedGrant::from_token(body.token.trim())
        .map_err(|e| ConsentError::bad("InvalidToken", format!("token: {e}")))?;
    let client = state.client().await?;
    let chain_now = chain_now(client).await?;
    let response = matches_request(
        &state,
        &request,
        &signed,
        u64::try_from(row.created_at).unwrap_or_default(),
        chain_now,
    )?;
    // The owner's signature, as the validator will check it: the account's ERC-1271 answer for the grant digest.
    let account = signed.grant.account;
    let call = isValidSignatureCall { hash: signed.digest(), signature: signed.owner_signature.clone() };
    let magic = client.node().view(account, call).await.map_err(|e| {
        ConsentError::bad(
            "OwnerSignatureInvalid",
            format!("the account {account} did not accept the signature: {e}"),
        )
    })?;
    if magic.0 != MAGIC {
        return Err(ConsentError::bad(
            "OwnerSignatureInvalid",
            format!("the account {account} refused the signature: it is not its owner's"),
        ));
    }
    let epoch = client
        .epoch(signed.module, account)
        .await
        .map_err(|e| RpcError::unavailable(format!("reading the account's epoch: {e}")))?;
    if epoch != U256::from(signed.grant.epoch) {
        return Err(ConsentError::bad(
            "GrantEpochStale",
            format!("the grant names epoch {}, the account is at {epoch}", signed.grant.epoch),
        ));
    }
    let token = signed.to_token().map_err(|e| ConsentError::bad("InvalidToken", e.to_string()))?;
    let response = response.to_json();
    let decided = PermissionRow {
        state: "granted".into(),
        grant_token: Some(token),
        account: Some(account.to_checksum(None)),
        session_id: Some(signed.session_id().to_string()),
        response: Some(response.to_string()),
        ..row
    };
    if !state.storage.decide_permission(&decided, now()).await? {
        return Err(ConsentError::new(
            StatusCode::CONFLICT,
            "NotPending",
            format!("request {id} was decided meanwhile"),
        ));
    }
    state
        .storage
        .audit(
            "owner",
            "permission.grant",
            &id,
            &json!({ "account": decided.account, "session_id": decided.session_id }).to_string(),
            now(),
        )
        .await?;
    Ok(Json(json!({ "id": id, "state": "granted", "response": response })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RejectBody {
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /consent/requests/{id}/reject {reason?}`: the dApp's call ends with EIP-1193's 4001.
async fn reject(
    State(state): State<Arc<Erc7715State>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<Value>> {
    same_origin(&headers)?;
    let body: RejectBody = json_body(&headers, &body)?;
    let row = pending(&state, &id).await?;
    let reason: String =
        body.reason.unwrap_or_else(|| "rejected on the consent page".into()).chars().take(200).collect();
    let decided = PermissionRow { state: "rejected".into(), reason: Some(reason), ..row };
    if !state.storage.decide_permission(&decided, now()).await? {
        return Err(ConsentError::new(
            StatusCode::CONFLICT,
            "NotPending",
            format!("request {id} was decided meanwhile"),
        ));
    }
    state.storage.audit("owner", "permission.reject", &id, "{}", now()).await?;
    Ok(Json(json!({ "id": id, "state": "rejected" })))
}
