//! The connector's own ID-token checks, against a stand-in identity provider on a local port:
//! discovery, a JWKS and a token endpoint that answers every code with one prepared ID token,
//! signed by `openidconnect` with a test-only RSA key (`shared/tests/fixtures/oidc-test-rsa.pem`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use chrono::{Duration, Utc};
use openidconnect::core::{
    CoreGenderClaim, CoreHmacKey, CoreIdToken, CoreIdTokenClaims, CoreJsonWebKeySet,
    CoreJwsSigningAlgorithm, CoreRsaPrivateSigningKey,
};
use openidconnect::{
    Audience, EmptyAdditionalClaims, EndUserEmail, EndUserName, IssuerUrl, JsonWebKeyId, Nonce,
    PrivateSigningKey, StandardClaims, SubjectIdentifier,
};
use serde_json::{json, Value};

use super::{IdentityProvider, OidcError, OidcSettings};

const TEST_KEY: &str = include_str!("../../tests/fixtures/oidc-test-rsa.pem");
const KID: &str = "test-key";
const CLIENT_ID: &str = "connector";
const CLIENT_SECRET: &str = "the-client-secret";
const NONCE: &str = "the-nonce";

struct Provider {
    issuer: String,
    id_token: String,
    /// The first JWKS served has only a key (`old`) that signs nothing: the signing key is
    /// rotated in after it.
    rotates: bool,
    jwks_served: AtomicUsize,
}

fn signing_key(kid: &str) -> CoreRsaPrivateSigningKey {
    CoreRsaPrivateSigningKey::from_pem(TEST_KEY, Some(JsonWebKeyId::new(kid.into())))
        .expect("the test key is a PKCS#1 RSA key")
}

async fn discovery(State(p): State<Arc<Provider>>) -> Json<Value> {
    let iss = &p.issuer;
    Json(json!({
        "issuer": iss,
        "authorization_endpoint": format!("{iss}/auth"),
        "token_endpoint": format!("{iss}/token"),
        "jwks_uri": format!("{iss}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        // A provider may well advertise HS256: the connector must refuse it all the same.
        "id_token_signing_alg_values_supported": ["RS256", "HS256"],
    }))
}

async fn jwks(State(p): State<Arc<Provider>>) -> Json<CoreJsonWebKeySet> {
    let first = p.jwks_served.fetch_add(1, Ordering::SeqCst) == 0;
    let kid = if p.rotates && first { "old" } else { KID };
    Json(CoreJsonWebKeySet::new(vec![
        signing_key(kid).as_verification_key()
    ]))
}

async fn token(State(p): State<Arc<Provider>>) -> Json<Value> {
    Json(json!({"access_token": "at", "token_type": "Bearer", "id_token": p.id_token}))
}

/// Serves the stand-in provider on a free local port; `id_token` is built for its issuer URL.
async fn provider(id_token: impl FnOnce(&str) -> String) -> IdentityProvider {
    serve(id_token, false).await.0
}

async fn serve(
    id_token: impl FnOnce(&str) -> String,
    rotates: bool,
) -> (IdentityProvider, Arc<Provider>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let state = Arc::new(Provider {
        id_token: id_token(&issuer),
        issuer: issuer.clone(),
        rotates,
        jwks_served: AtomicUsize::new(0),
    });
    let served = state.clone();
    let app = Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks", get(jwks))
        .route("/token", post(token))
        .with_state(state);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let provider = IdentityProvider::new(OidcSettings {
        issuer: IssuerUrl::new(issuer).unwrap(),
        client_id: CLIENT_ID.into(),
        scopes: vec![],
        acr_values: vec![],
    });
    (provider, served)
}

/// Claims that pass every check; each case spoils one.
fn claims(issuer: &str) -> CoreIdTokenClaims {
    claims_with(
        issuer,
        StandardClaims::new(SubjectIdentifier::new("user-1".into())),
    )
}

fn claims_with(issuer: &str, standard: StandardClaims<CoreGenderClaim>) -> CoreIdTokenClaims {
    CoreIdTokenClaims::new(
        IssuerUrl::new(issuer.into()).unwrap(),
        vec![Audience::new(CLIENT_ID.into())],
        Utc::now() + Duration::minutes(5),
        Utc::now(),
        standard,
        EmptyAdditionalClaims {},
    )
    .set_nonce(Some(Nonce::new(NONCE.into())))
}

fn rs256(claims: CoreIdTokenClaims) -> String {
    CoreIdToken::new(
        claims,
        &signing_key(KID),
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        None,
        None,
    )
    .unwrap()
    .to_string()
}

async fn verify(provider: &IdentityProvider) -> Result<super::VerifiedUser, OidcError> {
    provider
        .verify(
            "code",
            "verifier",
            NONCE,
            "https://connector.example/consent/callback",
            CLIENT_SECRET,
        )
        .await
}

async fn assert_refused(id_token: impl FnOnce(&str) -> String) {
    let provider = provider(id_token).await;
    match verify(&provider).await {
        Err(OidcError::InvalidIdToken(_)) => {}
        other => panic!("expected InvalidIdToken, got {other:?}"),
    }
}

#[tokio::test]
async fn a_valid_token_is_accepted() {
    let provider = provider(|iss| rs256(claims(iss))).await;
    let user = verify(&provider).await.expect("a valid ID token");
    assert_eq!(user.subject, "user-1");
    assert!(!user.email_verified, "unverified when the claim is absent");
}

#[tokio::test]
async fn email_verified_is_read() {
    let provider = provider(|iss| {
        let standard = StandardClaims::new(SubjectIdentifier::new("user-1".into()))
            .set_email(Some(EndUserEmail::new("admin@acme.test".into())))
            .set_email_verified(Some(true));
        rs256(claims_with(iss, standard))
    })
    .await;
    let user = verify(&provider).await.expect("a valid ID token");
    assert_eq!(user.email.as_deref(), Some("admin@acme.test"));
    assert!(user.email_verified);
}

#[tokio::test]
async fn another_audience_is_refused() {
    assert_refused(|iss| rs256(claims(iss).set_audiences(vec![Audience::new("other".into())])))
        .await;
}

#[tokio::test]
async fn an_extra_audience_is_refused() {
    assert_refused(|iss| {
        rs256(claims(iss).set_audiences(vec![
            Audience::new(CLIENT_ID.into()),
            Audience::new("other".into()),
        ]))
    })
    .await;
}

#[tokio::test]
async fn a_wrong_nonce_is_refused() {
    assert_refused(|iss| rs256(claims(iss).set_nonce(Some(Nonce::new("another".into()))))).await;
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    assert_refused(|iss| {
        rs256(
            claims(iss)
                .set_expiration(Utc::now() - Duration::minutes(5))
                .set_issue_time(Utc::now() - Duration::minutes(10)),
        )
    })
    .await;
}

#[tokio::test]
async fn another_issuer_is_refused() {
    assert_refused(|_| rs256(claims("https://evil.example"))).await;
}

#[tokio::test]
async fn an_unsigned_token_is_refused() {
    assert_refused(|iss| {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = b64.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let payload = b64.encode(serde_json::to_vec(&claims(iss)).unwrap());
        format!("{header}.{payload}.")
    })
    .await;
}

/// The client secret is shared with the provider (and so with whoever can read its settings):
/// a token it signs proves nothing of the provider's users.
#[tokio::test]
async fn a_token_signed_with_the_client_secret_is_refused() {
    assert_refused(|iss| {
        CoreIdToken::new(
            claims(iss),
            &CoreHmacKey::new(CLIENT_SECRET.as_bytes()),
            CoreJwsSigningAlgorithm::HmacSha256,
            None,
            None,
        )
        .unwrap()
        .to_string()
    })
    .await;
}

#[tokio::test]
async fn an_unknown_key_id_is_refused() {
    assert_refused(|iss| {
        CoreIdToken::new(
            claims(iss),
            &signing_key("unknown"),
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            None,
            None,
        )
        .unwrap()
        .to_string()
    })
    .await;
}

/// An answer past [`super::MAX_ANSWER_BYTES`] is not read: the provider counts as unavailable.
#[tokio::test]
async fn an_oversized_token_answer_is_not_read() {
    let provider = provider(|iss| {
        let standard = StandardClaims::new(SubjectIdentifier::new("user-1".into())).set_name(Some(
            EndUserName::new("x".repeat(super::MAX_ANSWER_BYTES)).into(),
        ));
        rs256(claims_with(iss, standard))
    })
    .await;
    match verify(&provider).await {
        Err(OidcError::Unavailable(e)) => assert!(e.contains("larger than"), "{e}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

/// A key rotated in since discovery was cached is found: an unknown `kid` fetches the JWKS
/// again, once.
#[tokio::test]
async fn a_key_rotated_in_after_discovery_is_fetched_once() {
    let (provider, served) = serve(|iss| rs256(claims(iss)), true).await;
    let user = verify(&provider).await.expect("verified with the new key");
    assert_eq!(user.subject, "user-1");
    assert_eq!(served.jwks_served.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn an_unknown_key_id_fetches_the_jwks_once_more_only() {
    let (provider, served) = serve(
        |iss| {
            CoreIdToken::new(
                claims(iss),
                &signing_key("unknown"),
                CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
                None,
                None,
            )
            .unwrap()
            .to_string()
        },
        false,
    )
    .await;
    assert!(matches!(
        verify(&provider).await,
        Err(OidcError::InvalidIdToken(_))
    ));
    assert_eq!(served.jwks_served.load(Ordering::SeqCst), 2);
}
