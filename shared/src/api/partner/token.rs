//! The token endpoint: parses the form, issues through [`crate::auth::token::issue`] and renders
//! the token or RFC 6749 §5.2's error (`Cache-Control: no-store` on both, §5.1).

use chrono::Utc;
use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};

use super::{HandlerResult, PartnerApi};
use crate::auth::client_auth::ClientAuthError;
use crate::auth::token::{self, IssuedToken, TokenError, TokenGrant};
use crate::http::{
    body_bytes, body_limits, json_response, require_body_within, require_content_type,
};
use crate::sr::oauth::{OAuthErrorBody, OAuthErrorCode, TokenRequest, TokenResponse};

impl PartnerApi {
    /// `POST {oauthTokenUrl}`: RFC 6749 §4.4 client-credentials grant.
    pub async fn oauth_token(&self, request: Request) -> HandlerResult {
        Ok(match self.issue_token(&request).await {
            Ok(token) => {
                let body = TokenResponse {
                    access_token: secrecy::ExposeSecret::expose_secret(&token.value).to_owned(),
                    token_type: "Bearer".into(),
                    expires_in: token.expires_in.as_secs(),
                };
                let mut response = json_response(StatusCode::OK, &body);
                no_store(&mut response);
                response
            }
            Err((status, code, description)) => oauth_error(status, code, description),
        })
    }

    async fn issue_token(&self, request: &Request) -> Result<IssuedToken, OAuthError> {
        use OAuthErrorCode::*;
        require_body_within(request, body_limits::TOKEN)
            .map_err(|e| (e.status, InvalidRequest, e.message))?;
        let bad = |code, text: &str| (StatusCode::BAD_REQUEST, code, text.to_string());
        require_content_type(request, "application/x-www-form-urlencoded").map_err(|_| {
            bad(
                InvalidRequest,
                "Content-Type must be application/x-www-form-urlencoded",
            )
        })?;
        let form: TokenRequest = serde_urlencoded::from_bytes(body_bytes(request))
            .map_err(|_| bad(InvalidRequest, "the body is not a valid form"))?;
        let grant = TokenGrant {
            grant_type: form.grant_type.as_deref(),
            client_id: form.client_id.as_deref(),
            client_secret: form.client_secret.as_deref(),
            authorization: request
                .headers()
                .get(header::AUTHORIZATION)
                .map(HeaderValue::as_bytes),
        };
        token::issue(&self.store, grant, self.token_ttl, Utc::now())
            .await
            .map_err(|e| oauth_error_of(&e))
    }
}

/// An RFC 6749 §5.2 error: the status, `error` and `error_description`.
type OAuthError = (StatusCode, OAuthErrorCode, String);

/// RFC 6749 §5.2: 400 `invalid_request` / `unsupported_grant_type`, 401 `invalid_client`
/// (with `WWW-Authenticate`, `oauth_error`); a store outage is 503 without its detail.
fn oauth_error_of(error: &TokenError) -> OAuthError {
    use OAuthErrorCode::*;
    let (status, code) = match error {
        TokenError::MissingGrantType => (StatusCode::BAD_REQUEST, InvalidRequest),
        TokenError::UnsupportedGrantType => (StatusCode::BAD_REQUEST, UnsupportedGrantType),
        TokenError::ClientAuthentication(ClientAuthError::UnsupportedScheme)
        | TokenError::UnknownClient
        | TokenError::Disabled => (StatusCode::UNAUTHORIZED, InvalidClient),
        TokenError::ClientAuthentication(_) => (StatusCode::BAD_REQUEST, InvalidRequest),
        TokenError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, InvalidRequest),
    };
    (status, code, error.to_string())
}

fn no_store(response: &mut Response<Body>) {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

fn oauth_error(status: StatusCode, code: OAuthErrorCode, description: String) -> Response<Body> {
    let mut response = json_response(
        status,
        &OAuthErrorBody {
            error: code,
            error_description: description,
        },
    );
    no_store(&mut response);
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"oauth\""),
        );
    }
    response
}
