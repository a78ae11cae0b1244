//! Access tokens the simulator issues and the checks SR endpoints apply to them.
//!
//! Master tokens may only manage the partner configuration and integrations; company tokens
//! may only touch their own company's data. Wrong kind → 403, missing/unknown/expired → 401.

use std::time::{Duration, Instant};

use axum::http::{header, HeaderMap};

use crate::error::SrError;
use crate::ids;
use crate::state::{AppState, IssuedToken, SimState, TokenOwner, TOKEN_TTL_SECS};

/// The bearer token from `Authorization: Bearer ...`, if well-formed.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Issues a new token for `client_id` and remembers it.
pub fn issue_token(state: &mut SimState, client_id: &str, owner: TokenOwner) -> String {
    let token = ids::random_string(32);
    let expires_at = Instant::now() + Duration::from_secs(TOKEN_TTL_SECS);
    state.tokens.insert(
        token.clone(),
        IssuedToken {
            client_id: client_id.to_owned(),
            owner,
            expires_at,
        },
    );
    token
}

/// Resolves the request's bearer token to a live issued token.
pub fn authenticate(app: &AppState, headers: &HeaderMap) -> Result<IssuedToken, SrError> {
    let token = bearer_token(headers)
        .ok_or_else(|| SrError::unauthorized("Missing bearer access token"))?;
    let state = app.lock();
    let issued = state
        .tokens
        .get(token)
        .ok_or_else(|| SrError::unauthorized("Invalid access token"))?;
    if issued.expires_at <= Instant::now() {
        return Err(SrError::unauthorized("Access token expired"));
    }
    Ok(issued.clone())
}

/// Requires a master token (scope `partner_configuration_manage`); returns its client id.
pub fn require_master(app: &AppState, headers: &HeaderMap) -> Result<String, SrError> {
    let issued = authenticate(app, headers)?;
    match issued.owner {
        TokenOwner::Master => Ok(issued.client_id),
        TokenOwner::Company(_) => Err(SrError::forbidden(
            "Request missed required scopes: partner_configuration_manage (use master credentials)",
        )),
    }
}

/// Requires a customer-level token; returns the company it is bound to.
pub fn require_company(app: &AppState, headers: &HeaderMap) -> Result<String, SrError> {
    let issued = authenticate(app, headers)?;
    match issued.owner {
        TokenOwner::Company(company_id) => Ok(company_id),
        TokenOwner::Master => Err(SrError::forbidden(
            "Request missed required scopes (master credentials cannot access company resources)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn parses_bearer_header() {
        let mut headers = HeaderMap::new();
        assert_eq!(bearer_token(&headers), None);
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer abc"),
        );
        assert_eq!(bearer_token(&headers), Some("abc"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer_token(&headers), None);
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert_eq!(bearer_token(&headers), None);
    }
}
