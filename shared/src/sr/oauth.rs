//! OAuth 2.0 client-credentials grant (RFC 6749 §4.4) in both directions: SR asking our
//! `oauthTokenUrl`, and us asking SR's token endpoint.

use serde::{Deserialize, Serialize};

/// The form SR posts to our `oauthTokenUrl` (`TokenInput`). Fields are optional here so a missing
/// one becomes RFC 6749's `invalid_request`, not a parse failure.
#[derive(Debug, Default, Deserialize)]
pub struct TokenRequest {
    pub grant_type: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

/// `AccessToken`. `token_type` is not in SR's schema but RFC 6749 §5.1 requires it.
#[derive(Clone, Serialize, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    #[serde(default = "bearer")]
    pub token_type: String,
    pub expires_in: u64,
}

fn bearer() -> String {
    "Bearer".into()
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &"[redacted]")
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// RFC 6749 §5.2 error codes we answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OAuthErrorCode {
    InvalidRequest,
    InvalidClient,
    UnsupportedGrantType,
    UnauthorizedClient,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OAuthErrorBody {
    pub error: OAuthErrorCode,
    pub error_description: String,
}
