//! The vendor's OpenID Connect identity provider, as a relying party sees it (OpenID Connect
//! Core 1.0 §3.1, the authorization code flow, with PKCE S256 of RFC 7636): discovery, the
//! authorization request, and the code exchange with full ID-token validation (signature
//! against the issuer's JWKS, `iss`, `aud`, `exp`, `nonce`) — all by the `openidconnect` crate;
//! nothing here parses a JWT. The consent page's sign-in (`onboarding::sign_in`) drives it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreErrorResponseType, CoreGenderClaim, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm, CoreProviderMetadata,
    CoreResponseType, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AuthenticationContextClass, AuthenticationFlow, AuthorizationCode,
    ClaimsVerificationError, Client, ClientId, ClientSecret, CsrfToken, EmptyExtraTokenFields,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, IdTokenFields, IssuerUrl, Nonce,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope,
    SignatureVerificationError, StandardErrorResponse, StandardTokenResponse, TokenResponse,
};
use serde::{Deserialize, Serialize};
use url::Url;

/// How long discovery (and so the JWKS) is reused before it is fetched again: keys an issuer
/// rotates in are seen within this time.
const METADATA_TTL: Duration = Duration::from_secs(600);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// The most read of any answer from the provider (discovery, JWKS, token) or the vendor's
/// organisations endpoint: far above any real one, and bounded so a misbehaving endpoint can
/// neither exhaust the function's memory nor fill a session item past DynamoDB's 400 KB.
pub const MAX_ANSWER_BYTES: usize = 256 * 1024;

/// The ID-token signatures accepted: asymmetric ones only, whatever the provider advertises. An
/// HMAC (`HS256`…) would be keyed with the client secret, which the provider and its
/// administrators know too, so it proves nothing of who signed in; `none` proves nothing at all.
const ACCEPTED_ALGORITHMS: [CoreJwsSigningAlgorithm; 8] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
];

/// Every claim of the ID token beyond the standard ones (the organisations claim is named by
/// the vendor's configuration, so it cannot be a field).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OtherClaims {
    #[serde(flatten)]
    pub all: HashMap<String, serde_json::Value>,
}
impl AdditionalClaims for OtherClaims {}

type IdFields = IdTokenFields<
    OtherClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type CodeResponse = StandardTokenResponse<IdFields, CoreTokenType>;
type RelyingParty = Client<
    OtherClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    CodeResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Where the identity provider is and who the connector is to it.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    /// The issuer (`iss`), also the base of its discovery document.
    pub issuer: IssuerUrl,
    pub client_id: String,
    /// Scopes besides `openid`.
    pub scopes: Vec<String>,
    /// `acr_values` to ask for (OpenID Connect Core §3.1.2.1), in order of preference.
    pub acr_values: Vec<String>,
}

/// What the authorization request sent, to keep server-side until the callback.
#[derive(Debug)]
pub struct Authorization {
    /// Where to send the browser.
    pub url: Url,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// The signed-in user, from an ID token that passed every check.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedUser {
    /// `sub`.
    pub subject: String,
    pub email: Option<String>,
    /// `email_verified`: the provider checked the user owns `email` (`false` when absent).
    pub email_verified: bool,
    /// `amr` (RFC 8176 method names), empty when absent.
    pub amr: Vec<String>,
    pub acr: Option<String>,
    /// The other claims, for the organisations claim.
    pub claims: HashMap<String, serde_json::Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// The provider could not be reached, or answered discovery with something unusable.
    #[error("the identity provider is unavailable: {0}")]
    Unavailable(String),
    /// The provider refused the code (used already, issued to another client, expired, or the
    /// PKCE verifier does not match).
    #[error("the identity provider refused the authorization code: {0}")]
    CodeRefused(String),
    /// The ID token is missing or failed a check (signature, `iss`, `aud`, `exp`, `nonce`).
    #[error("the ID token is not valid for this sign-in: {0}")]
    InvalidIdToken(String),
    #[error("the OpenID Connect settings are invalid: {0}")]
    Settings(String),
}

/// The relying party of one identity provider; discovery (with the JWKS) is reused for ten
/// minutes, or until an ID token names a key it does not hold.
pub struct IdentityProvider {
    settings: OidcSettings,
    http: Http,
    metadata: tokio::sync::Mutex<Option<(Instant, Arc<CoreProviderMetadata>)>>,
}

impl IdentityProvider {
    /// Builds nothing yet: the HTTP client (and the CA store it loads, a few milliseconds) comes
    /// with the first sign-in, not in the consent function's cold start.
    pub fn new(settings: OidcSettings) -> Self {
        Self {
            settings,
            http: Http(std::sync::OnceLock::new()),
            metadata: tokio::sync::Mutex::new(None),
        }
    }

    pub fn settings(&self) -> &OidcSettings {
        &self.settings
    }

    /// The HTTP client (no redirects followed), for the vendor's other sign-in endpoints.
    pub fn http(&self) -> &reqwest::Client {
        self.http.client()
    }

    /// The authorization request: a fresh `state`, `nonce` and PKCE S256 pair, the configured
    /// scopes and `acr_values`, back to `redirect_uri`.
    pub async fn authorization(&self, redirect_uri: &str) -> Result<Authorization, OidcError> {
        let client = self.client(None, redirect_uri).await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in &self.settings.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        for acr in &self.settings.acr_values {
            request = request.add_auth_context_value(AuthenticationContextClass::new(acr.clone()));
        }
        let (url, state, nonce) = request.url();
        Ok(Authorization {
            url,
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// Exchanges `code` (with the PKCE verifier and the client secret) and validates the ID
    /// token it returns against the issuer's JWKS, the issuer, this client id as audience, its
    /// expiry and `nonce`.
    pub async fn verify(
        &self,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
        redirect_uri: &str,
        client_secret: &str,
    ) -> Result<VerifiedUser, OidcError> {
        let client = self.client(Some(client_secret), redirect_uri).await?;
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| OidcError::Unavailable(format!("no token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_string()))
            .request_async(&self.http)
            .await
            .map_err(|e| match e {
                RequestTokenError::ServerResponse(answer) => {
                    OidcError::CodeRefused(answer.error().to_string())
                }
                RequestTokenError::Request(e) => OidcError::Unavailable(e.to_string()),
                other => OidcError::Unavailable(other.to_string()),
            })?;
        let id_token = response.id_token().ok_or_else(|| {
            OidcError::InvalidIdToken("the token response has no id_token".into())
        })?;
        let nonce = Nonce::new(nonce.to_string());
        let check = |client: &RelyingParty| {
            let verifier = client
                .id_token_verifier()
                .set_allowed_algs(ACCEPTED_ALGORITHMS);
            id_token.claims(&verifier, &nonce)
        };
        let claims = match check(&client) {
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => {
                // No key with the token's `kid`: the issuer may have rotated one in since
                // discovery was cached. Fetch it again, once; still unknown is refused.
                *self.metadata.lock().await = None;
                check(&self.client(Some(client_secret), redirect_uri).await?)
            }
            checked => checked,
        }
        .map_err(|e| OidcError::InvalidIdToken(e.to_string()))?;
        Ok(VerifiedUser {
            subject: claims.subject().to_string(),
            email: claims.email().map(|e| e.to_string()),
            email_verified: claims.email_verified().unwrap_or(false),
            amr: claims
                .auth_method_refs()
                .map(|refs| refs.iter().map(|r| r.to_string()).collect())
                .unwrap_or_default(),
            acr: claims.auth_context_ref().map(|a| a.to_string()),
            claims: claims.additional_claims().all.clone(),
        })
    }

    async fn client(
        &self,
        client_secret: Option<&str>,
        redirect_uri: &str,
    ) -> Result<RelyingParty, OidcError> {
        let metadata = self.metadata().await?;
        let redirect = RedirectUrl::new(redirect_uri.to_string())
            .map_err(|e| OidcError::Settings(format!("redirect URI: {e}")))?;
        Ok(RelyingParty::from_provider_metadata(
            (*metadata).clone(),
            ClientId::new(self.settings.client_id.clone()),
            client_secret.map(|s| ClientSecret::new(s.to_string())),
        )
        .set_redirect_uri(redirect))
    }

    /// The discovery document with the JWKS, fetched at most every [`METADATA_TTL`].
    async fn metadata(&self) -> Result<Arc<CoreProviderMetadata>, OidcError> {
        let mut cached = self.metadata.lock().await;
        if let Some((at, metadata)) = cached.as_ref() {
            if at.elapsed() < METADATA_TTL {
                return Ok(metadata.clone());
            }
        }
        let metadata =
            CoreProviderMetadata::discover_async(self.settings.issuer.clone(), &self.http)
                .await
                .map_err(|e| OidcError::Unavailable(format!("discovery: {e}")))?;
        let metadata = Arc::new(metadata);
        *cached = Some((Instant::now(), metadata.clone()));
        Ok(metadata)
    }
}

/// `openidconnect`'s HTTP client, served by the connector's reqwest (one TLS stack). A boxed
/// `Send` future: the consent function's handler future must be `Send` for the Lambda runtime.
struct Http(std::sync::OnceLock<reqwest::Client>);

impl Http {
    /// The client, built at its first use.
    fn client(&self) -> &reqwest::Client {
        self.0.get_or_init(|| {
            crate::aws::install_crypto_provider();
            reqwest::Client::builder()
                .timeout(REQUEST_TIMEOUT)
                // Following a redirect from the IdP's endpoints would let it send us anywhere.
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(concat!(
                    "sr-assessment-connector/",
                    env!("CARGO_PKG_VERSION")
                ))
                .build()
                .expect("a reqwest client with static settings always builds")
        })
    }
}

/// Why an answer could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error(transparent)]
    Request(#[from] reqwest::Error),
    #[error("the answer is larger than {MAX_ANSWER_BYTES} bytes")]
    TooLarge,
}

/// The body of `response`, at most [`MAX_ANSWER_BYTES`] (refused early on a larger
/// `Content-Length`, and while reading otherwise).
pub async fn read_capped(mut response: reqwest::Response) -> Result<Vec<u8>, HttpError> {
    if response
        .content_length()
        .is_some_and(|n| n > MAX_ANSWER_BYTES as u64)
    {
        return Err(HttpError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(HttpError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

impl<'c> openidconnect::AsyncHttpClient<'c> for Http {
    type Error = HttpError;
    type Future = std::pin::Pin<
        Box<
            dyn std::future::Future<Output = Result<openidconnect::HttpResponse, HttpError>>
                + Send
                + 'c,
        >,
    >;

    fn call(&'c self, request: openidconnect::HttpRequest) -> Self::Future {
        Box::pin(send(self.client(), request))
    }
}

async fn send(
    http: &reqwest::Client,
    request: openidconnect::HttpRequest,
) -> Result<openidconnect::HttpResponse, HttpError> {
    let response = http.execute(reqwest::Request::try_from(request)?).await?;
    let mut answer = openidconnect::http::Response::builder().status(response.status().as_u16());
    for (name, value) in response.headers() {
        answer = answer.header(name.as_str(), value.as_bytes());
    }
    let body = read_capped(response).await?;
    Ok(answer
        .body(body)
        .expect("a response built from a valid response's parts"))
}

#[cfg(test)]
mod tests;
