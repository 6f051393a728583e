//! API token management over the API: create (the secret is answered once), list (never a secret or its hash),
//! revoke. Only admin tokens may do any of it, so a token limited to sessions can't mint itself a wider one.
//! The first admin token comes from the operator (`warrant-service token create --admin`, or `warrant service
//! admin-token`), who has the data directory. Every change is audited.

use axum::{
    Json, Router,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    routing::post,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ApiError, ApiJson, ApiResult, AppState, Caller, audit, authenticate, new_token};
use crate::{ids::now, storage::TokenRow};

/// `POST /v1/tokens`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// Session names the token may act on, or `["*"]` for all.
    pub sessions: Vec<String>,
    /// What to call it (shown in listings and the audit log).
    #[serde(default)]
    pub label: String,
    /// May it manage API tokens itself (default false).
    #[serde(default)]
    pub admin: bool,
}

/// A token as listings show it: never its secret, nor the secret's hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenInfo {
    /// The public part (`wst_<id>.…`); what revoking names.
    pub id: String,
    /// The sessions it may act on (`*`: all).
    pub sessions: Vec<String>,
    /// Its label.
    pub label: String,
    /// May manage API tokens.
    pub admin: bool,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds, once revoked.
    pub revoked_at: Option<i64>,
}

impl From<&TokenRow> for TokenInfo {
    fn from(t: &TokenRow) -> Self {
        Self {
            id: t.id.clone(),
            sessions: t.sessions.split(',').map(str::to_string).collect(),
            label: t.label.clone(),
            admin: t.admin,
            created_at: t.created_at,
            revoked_at: t.revoked_at,
        }
    }
}

/// A new token: the only answer that ever carries its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct NewToken {
    /// The token (`wst_<id>.<secret>`): shown once, only its hash is stored.
    pub token: String,
    /// The token without its secret.
    #[serde(flatten)]
    pub info: TokenInfo,
}

fn require_admin(caller: &Caller) -> ApiResult<()> {
    if caller.admin { Ok(()) } else { Err(ApiError::forbidden("managing API tokens needs an admin token")) }
}

/// Creates an API token (admin tokens only); its secret is in this answer and nowhere else.
#[utoipa::path(post, path = "/v1/tokens", request_body = CreateToken, security(("token" = [])),
    responses((status = 201, body = NewToken), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError)))]
pub(super) async fn create_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CreateToken>,
) -> ApiResult<(StatusCode, Json<NewToken>)> {
    let caller = authenticate(&state, &headers).await?;
    require_admin(&caller)?;
    if body.label.len() > 200 {
        return Err(ApiError::bad("label: at most 200 characters"));
    }
    let (token, mut row) =
        new_token(&body.sessions, &body.label).map_err(|e| ApiError::bad(format!("sessions: {e}")))?;
    row.admin = body.admin;
    state.storage.insert_token(&row).await?;
    let detail = serde_json::json!({ "sessions": row.sessions, "label": row.label, "admin": row.admin });
    audit(&state, &caller, "token.create", &row.id, detail).await?;
    Ok((StatusCode::CREATED, Json(NewToken { token, info: TokenInfo::from(&row) })))
}

/// Every API token, revoked ones too, without secrets (admin tokens only).
#[utoipa::path(get, path = "/v1/tokens", security(("token" = [])),
    responses((status = 200, body = Vec<TokenInfo>), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub(super) async fn list_tokens(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<Json<Vec<TokenInfo>>> {
    let caller = authenticate(&state, &headers).await?;
    require_admin(&caller)?;
    Ok(Json(state.storage.tokens().await?.iter().map(TokenInfo::from).collect()))
}

/// Revokes an API token (admin tokens only): from now on it gets 401. Its row stays, for the audit log.
#[utoipa::path(post, path = "/v1/tokens/{id}/revoke", security(("token" = [])),
    params(("id" = String, Path, description = "The token's id (`tok_…`)")),
    responses((status = 200, body = TokenInfo), (status = 403, body = ApiError), (status = 404, body = ApiError),
        (status = 409, body = ApiError)))]
pub(super) async fn revoke_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<TokenInfo>> {
    let caller = authenticate(&state, &headers).await?;
    require_admin(&caller)?;
    let Some(row) = state.storage.token(&id).await? else {
        return Err(ApiError::not_found(format!("no API token {id:?}")));
    };
    if !state.storage.revoke_token(&id, now()).await? {
        return Err(ApiError::conflict(format!("API token {id:?} is revoked already")));
    }
    audit(&state, &caller, "token.revoke", &id, serde_json::json!({ "label": row.label })).await?;
    let row =
        state.storage.token(&id).await?.ok_or_else(|| ApiError::not_found(format!("no API token {id:?}")))?;
    Ok(Json(TokenInfo::from(&row)))
}

/// The routes, merged into [`super::router`].
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/tokens", post(create_token).get(list_tokens))
        .route("/v1/tokens/{id}/revoke", post(revoke_token))
}
