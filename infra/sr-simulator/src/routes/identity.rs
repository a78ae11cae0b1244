//! `POST /identity/oauth/token`: SR's client-credentials token endpoint.
//!
//! Errors follow RFC 6749 §5.2 (`{"error","error_description"}`), not SR's `ErrorResponse`,
//! because that is what an OAuth client library expects from a token endpoint.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::json;

use crate::auth::issue_token;
use crate::state::{AppState, TokenOwner, TOKEN_TTL_SECS};

/// Scope granted to master credentials.
pub const MASTER_SCOPE: &str = "partner_configuration_manage";
/// Scopes granted to customer-level credentials.
pub const COMPANY_SCOPE: &str = "candidates_read jobs_read assessment_result_manage";

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut response = (
        status,
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The client id a token request authenticates as (form field, else HTTP Basic), for the
/// gate's per-client faults and request log.
pub fn requesting_client(headers: &HeaderMap, body: &[u8]) -> Option<String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .ok()
        .and_then(|form| {
            form.into_iter()
                .find(|(k, v)| k == "client_id" && !v.is_empty())
                .map(|(_, v)| v)
        })
        .or_else(|| basic_credentials(headers).map(|(id, _)| id))
}

/// Client credentials from HTTP Basic auth (`client_secret_basic`), if present.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

pub async fn token(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type
        .to_ascii_lowercase()
        .starts_with("application/x-www-form-urlencoded")
    {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Content-Type must be application/x-www-form-urlencoded",
        );
    }
    let Ok(form) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Malformed form body",
        );
    };
    let field = |name: &str| {
        form.iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.clone())
    };
    let Some(grant_type) = field("grant_type") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Missing grant_type",
        );
    };
    if grant_type != "client_credentials" {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            &format!("Unsupported grant_type `{grant_type}`; only client_credentials is supported"),
        );
    }
    let credentials = match (field("client_id"), field("client_secret")) {
        (Some(id), Some(secret)) => Some((id, secret)),
        _ => basic_credentials(&headers),
    };
    let Some((client_id, client_secret)) = credentials else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Missing client_id or client_secret",
        );
    };

    let mut state = app.lock();
    *state.token_requests.entry(client_id.clone()).or_default() += 1;
    let (owner, scope) = if client_id == app.config.master_client_id
        && client_secret == app.config.master_client_secret
    {
        (TokenOwner::Master, MASTER_SCOPE)
    } else if let Some(company) = state.company_for_customer_credentials(&client_id, &client_secret)
    {
        (TokenOwner::Company(company), COMPANY_SCOPE)
    } else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed",
        );
    };
    let access_token = issue_token(&mut state, &client_id, owner);
    let expires_in = state
        .token_lifetimes
        .get(&client_id)
        .cloned()
        .unwrap_or_else(|| json!(TOKEN_TTL_SECS));
    drop(state);
    let mut response = Json(json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": expires_in,
        "scope": scope,
    }))
    .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
