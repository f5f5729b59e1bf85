//! A small multi-tenant HTTP service on axum, used by the `axum_tenants` example and its
//! integration test (`examples/tests/axum_tenants.rs`).
//!
//! - The tenant comes from the request: a bearer token (`Authorization: Bearer …`, looked
//!   up in the service's [`Tokens`]) or the `X-Tenant-Id` header. The header is for
//!   deployments where a trusted gateway authenticated the caller and sets it; anything
//!   that reaches the service directly should use tokens.
//! - No tenant → `401`; a malformed tenant, an unknown token, or a header and a token
//!   that disagree → `400`/`401`. A handler cannot run without a [`Tenant`]: it is an
//!   extractor, and every handler takes one.
//! - Every handler runs inside one [`TenantPool`] transaction for that tenant; Row-Level
//!   Security in PostgreSQL does the filtering. The handlers contain no `WHERE
//!   tenant_id = …`: forgetting one cannot leak.
//!
//! ```no_run
//! # async fn run(pool: pgsec_client::TenantPool) -> std::io::Result<()> {
//! use pgsec_examples::tenants_http::{router, Tokens};
//! let app = router(pool, Tokens::new());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! axum::serve(listener, app).await
//! # }
//! ```

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use pgsec_client::{TenantId, TenantPool};
use serde::{Deserialize, Serialize};

/// The header a trusted gateway sets to the caller's tenant.
pub const TENANT_HEADER: &str = "x-tenant-id";

/// The schema the service expects, for the schema owner (not the application role) to
/// run. `{app}` is replaced with the application role by [`schema_sql`].
const SCHEMA_TEMPLATE: &str = "
CREATE TABLE notes (
  id bigserial PRIMARY KEY,
  tenant_id text NOT NULL DEFAULT current_setting('app.current_tenant_id'),
  body text NOT NULL CHECK (length(body) <= 10000)
);
ALTER TABLE notes ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON notes
  USING (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), ''))
  WITH CHECK (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), ''));
GRANT SELECT, INSERT, UPDATE, DELETE ON notes TO {app};
GRANT USAGE ON SEQUENCE notes_id_seq TO {app};
";

/// The service's schema with `app_role` granted its privileges: one `notes` table with
/// forced Row-Level Security keyed on `app.current_tenant_id` (unset or empty: no row).
///
/// `app_role` is spliced as an identifier, quoted by [`pgsec_core::sql::quote_ident`].
///
/// # Errors
/// `app_role` is empty, holds a NUL byte or is longer than 63 bytes.
pub fn schema_sql(app_role: &str) -> Result<String, pgsec_core::sql::NameError> {
    let quoted = pgsec_core::sql::quote_ident(app_role)?;
    Ok(SCHEMA_TEMPLATE.replace("{app}", &quoted))
}

/// Bearer tokens and the tenant each one stands for. In a real service this is where a
/// JWT is verified or a session looked up; the example keeps a map.
#[derive(Clone, Default)]
pub struct Tokens(Arc<HashMap<String, TenantId>>);

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Tokens are secrets: show how many, not which.
        f.debug_struct("Tokens")
            .field("count", &self.0.len())
            .finish()
    }
}

impl Tokens {
    /// No tokens: only the `X-Tenant-Id` header selects a tenant.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `token` for `tenant`.
    #[must_use]
    pub fn with(mut self, token: impl Into<String>, tenant: TenantId) -> Self {
        Arc::make_mut(&mut self.0).insert(token.into(), tenant);
        self
    }

    fn get(&self, token: &str) -> Option<&TenantId> {
        self.0.get(token)
    }
}

/// What every handler shares.
#[derive(Clone, Debug)]
pub struct AppState {
    pool: TenantPool,
    tokens: Tokens,
}

/// The router: `GET /notes`, `POST /notes` (`{"body": "…"}`), `GET /notes/{id}`, and
/// `GET /health` (the only route without a tenant).
pub fn router(pool: TenantPool, tokens: Tokens) -> Router {
    Router::new()
        .route("/notes", get(list_notes).post(create_note))
        .route("/notes/{id}", get(get_note))
        .route("/health", get(|| async { "ok" }))
        .with_state(AppState { pool, tokens })
}

/// The caller's tenant, taken from the request. Handlers that take a `Tenant` cannot run
/// without one.
#[derive(Debug, Clone)]
pub struct Tenant(pub TenantId);

impl FromRequestParts<AppState> for Tenant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let from_token = match parts.headers.get(header::AUTHORIZATION) {
            None => None,
            Some(value) => {
                let token = value
                    .to_str()
                    .ok()
                    .and_then(|v| v.strip_prefix("Bearer "))
                    .map(str::trim)
                    .ok_or(ApiError::Unauthorized(
                        "expected Authorization: Bearer <token>",
                    ))?;
                Some(
                    state
                        .tokens
                        .get(token)
                        .cloned()
                        .ok_or(ApiError::Unauthorized("unknown token"))?,
                )
            }
        };
        let from_header = match parts.headers.get(TENANT_HEADER) {
            None => None,
            Some(value) => Some(
                value
                    .to_str()
                    .ok()
                    .and_then(|v| v.parse::<TenantId>().ok())
                    .ok_or(ApiError::BadRequest(
                        "X-Tenant-Id must be 1 to 64 ASCII letters, digits, '_', '.', ':' or '-'",
                    ))?,
            ),
        };
        match (from_token, from_header) {
            (Some(t), Some(h)) if t != h => Err(ApiError::BadRequest(
                "the bearer token and X-Tenant-Id name different tenants",
            )),
            (Some(t), _) | (None, Some(t)) => Ok(Tenant(t)),
            (None, None) => Err(ApiError::Unauthorized(
                "no tenant: send Authorization: Bearer <token> (or X-Tenant-Id from a trusted gateway)",
            )),
        }
    }
}

/// A note as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// Its id.
    pub id: i64,
    /// The tenant it belongs to.
    pub tenant_id: String,
    /// Its text.
    pub body: String,
}

/// The body of `POST /notes`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewNote {
    /// The text of the note.
    pub body: String,
}

async fn list_notes(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
) -> Result<Json<Vec<Note>>, ApiError> {
    let tx = state.pool.begin(&tenant).await?;
    // No tenant filter here: the policy is the filter.
    let rows = tx
        .query("SELECT id, tenant_id, body FROM notes ORDER BY id", &[])
        .await?;
    tx.commit().await?;
    Ok(Json(rows.iter().map(note).collect()))
}

async fn get_note(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<i64>,
) -> Result<Json<Note>, ApiError> {
    let tx = state.pool.begin(&tenant).await?;
    let row = tx
        .query_opt(
            "SELECT id, tenant_id, body FROM notes WHERE id = $1",
            &[&id],
        )
        .await?;
    tx.commit().await?;
    // Another tenant's note is indistinguishable from a missing one.
    row.as_ref().map(note).map(Json).ok_or(ApiError::NotFound)
}

async fn create_note(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Json(new): Json<NewNote>,
) -> Result<(StatusCode, Json<Note>), ApiError> {
    let tx = state.pool.begin(&tenant).await?;
    // tenant_id defaults to the transaction's tenant setting.
    let row = tx
        .query_one(
            "INSERT INTO notes (body) VALUES ($1) RETURNING id, tenant_id, body",
            &[&new.body],
        )
        .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(note(&row))))
}

fn note(row: &tokio_postgres::Row) -> Note {
    Note {
        id: row.get(0),
        tenant_id: row.get(1),
        body: row.get(2),
    }
}

/// What a request can fail with. Database details stay in the server's log, never in
/// a response.
#[derive(Debug)]
#[non_exhaustive]
pub enum ApiError {
    /// 400: a malformed request.
    BadRequest(&'static str),
    /// 401: no tenant, or an unknown token.
    Unauthorized(&'static str),
    /// 404.
    NotFound,
    /// 503: no database connection could be had.
    Unavailable,
    /// 500: the database refused the statement.
    Internal,
}

impl From<pgsec_client::Error> for ApiError {
    fn from(e: pgsec_client::Error) -> Self {
        eprintln!("axum_tenants: pool: {e}");
        ApiError::Unavailable
    }
}

impl From<tokio_postgres::Error> for ApiError {
    fn from(e: tokio_postgres::Error) -> Self {
        eprintln!("axum_tenants: database: {e}");
        ApiError::Internal
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            ApiError::Unauthorized(m) => (StatusCode::UNAUTHORIZED, m),
            ApiError::NotFound => (StatusCode::NOT_FOUND, "not found"),
            ApiError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable"),
            ApiError::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal error"),
        };
        let mut response = (status, Json(serde_json::json!({ "error": message }))).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
