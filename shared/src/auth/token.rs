//! Issuing access tokens: the OAuth 2.0 client-credentials grant (RFC 6749 §4.4) of the token
//! endpoint SR calls. The client authenticates (§2.3.1, [`super::client_auth`]); its secret is
//! checked against the stored SHA-256 digest in constant time, unknown clients included; the
//! token's digest is stored with its expiry, and refused when the client's integration is
//! disabled. The HTTP edge (`api::partner`) parses the form and renders [`TokenError`] as §5.2's
//! error response.

use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};

use super::client_auth::{client_authentication, ClientAuthError};
use super::{hash_secret, secret_matches, AccessToken};
use crate::store::{ClientRecord, Store, StoreError, TokenRecord};

/// A token request as the client sent it: the form's fields (`application/x-www-form-urlencoded`)
/// and the raw `Authorization` header.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokenGrant<'a> {
    pub grant_type: Option<&'a str>,
    pub client_id: Option<&'a str>,
    pub client_secret: Option<&'a str>,
    pub authorization: Option<&'a [u8]>,
}

/// A token issued to a client.
#[derive(Debug)]
pub struct IssuedToken {
    /// The bearer token (`Debug` prints `[REDACTED]`); only its digest is stored.
    pub value: SecretString,
    /// Its lifetime (the response's `expires_in`, in seconds).
    pub expires_in: Duration,
}

/// Why no token was issued; each maps onto one RFC 6749 §5.2 error code.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// `invalid_request`, 400.
    #[error("grant_type is required")]
    MissingGrantType,
    /// `unsupported_grant_type`, 400.
    #[error("only grant_type=client_credentials is supported")]
    UnsupportedGrantType,
    /// `invalid_request`, 400; an unsupported `Authorization` scheme is `invalid_client`, 401.
    #[error(transparent)]
    ClientAuthentication(#[from] ClientAuthError),
    /// `invalid_client`, 401: no client of that id, or the wrong secret (not told apart).
    #[error("unknown client or wrong secret")]
    UnknownClient,
    /// `invalid_client`, 401: the client's integration was disabled.
    #[error("the integration of this client is disabled")]
    Disabled,
    /// The store could not be read or written: 503, the client retries.
    #[error("temporarily unavailable; retry")]
    Unavailable(#[source] StoreError),
}

/// Authenticates the client of `grant` and issues it a token valid for `ttl` from `now`.
pub async fn issue(
    store: &Store,
    grant: TokenGrant<'_>,
    ttl: Duration,
    now: DateTime<Utc>,
) -> Result<IssuedToken, TokenError> {
    match grant.grant_type {
        None => return Err(TokenError::MissingGrantType),
        Some("client_credentials") => {}
        Some(_) => return Err(TokenError::UnsupportedGrantType),
    }
    let authentication =
        client_authentication(grant.authorization, grant.client_id, grant.client_secret)?;
    let mut authenticated = None;
    for presented in &authentication.candidates {
        let client = store
            .get_client(&presented.client_id)
            .await
            .map_err(TokenError::Unavailable)?;
        if secret_matches(
            presented.client_secret.expose_secret(),
            &stored_digest(client.as_ref()),
        ) {
            authenticated = client;
            break;
        }
    }
    let client = authenticated.ok_or(TokenError::UnknownClient)?;
    let token = AccessToken::issue(&client.company_id, &client.integration_id);
    let record = TokenRecord {
        company_id: client.company_id.clone(),
        integration_id: client.integration_id.clone(),
        issued_at: now,
        expires_at: now.timestamp() + ttl.as_secs() as i64,
        revoked_at: None,
    };
    let active = store
        .put_token(&token.claims.digest, &record, &client.client_id)
        .await
        .map_err(TokenError::Unavailable)?;
    if !active {
        return Err(TokenError::Disabled);
    }
    tracing::info!(company_id = %client.company_id, "access token issued");
    Ok(IssuedToken {
        value: token.value,
        expires_in: ttl,
    })
}

/// The client's secret digest, or a dummy one for unknown clients, so the comparison's timing
/// does not reveal which client ids exist.
fn stored_digest(client: Option<&ClientRecord>) -> String {
    client
        .map(|c| c.secret_sha256.clone())
        .unwrap_or_else(|| hash_secret("no such client"))
}
