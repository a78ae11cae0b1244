//! Consent with the vendor's own sign-in: the admin signs in with the vendor's OpenID Connect
//! identity provider instead of pasting a connect key ([`crate::oidc`] speaks to the provider).
//!
//! [`SignIn::start`] stores the request's `state` (by digest), PKCE verifier and `nonce` for
//! [`STATE_SECONDS`], bound to the consent context (SR company, redirect mode) and to the browser
//! by a cookie whose digest the state keeps. [`SignIn::finish`] takes the state out once (a
//! replayed callback finds nothing), checks the browser, exchanges the code, checks MFA when the
//! vendor requires it, reads the organisations the user may connect, and opens a signed-in
//! session for [`SIGNED_IN_SECONDS`], again cookie-bound. [`SignIn::session`] and
//! [`SignIn::take_session`] serve the "Give consent" step, which connects through
//! [`super::Onboarding::connect_signed_in`]. Nothing here knows of HTML or HTTP.

use chrono::{DateTime, Utc};
use serde_json::Value;
use subtle::ConstantTimeEq;

use crate::auth::credentials::{hash_secret, random_token};
use crate::ids::{CompanyId, IntegrationId};
use crate::oidc::{HttpError, IdentityProvider, OidcError, VerifiedUser};
use crate::secrets::{SecretError, Secrets};
use crate::store::{Organisation, SignInState, SignedInSession, Store, StoreError};

/// How long the admin has to sign in at the identity provider, in seconds.
pub const STATE_SECONDS: i64 = 600;
/// How long a signed-in admin has to give consent, in seconds.
pub const SIGNED_IN_SECONDS: i64 = 900;

/// `amr` values (RFC 8176 §2) that say outright the sign-in used more than one factor.
pub const MULTI_FACTOR_CLAIMS: &[&str] = &["mfa", "mca"];

/// `amr` methods (RFC 8176 §2) that can be a second factor next to another method: a one-time
/// code, an SMS or call, a hardware, software or smart-card key, a biometric, a PIN or a
/// knowledge question. Alone each is still one factor. `totp` is not in RFC 8176 but some
/// providers send it.
pub const SECOND_FACTOR_METHODS: &[&str] = &[
    "otp", "totp", "sms", "tel", "hwk", "swk", "sc", "fpt", "face", "iris", "retina", "vbm", "pin",
    "kba",
];

/// How admins connect on the consent page (`CONSENT_SIGN_IN`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInMode {
    /// One-time connect keys only (the default: deployments before sign-in existed).
    Keys,
    /// Sign-in with the vendor's OpenID Connect provider only.
    Oidc,
    /// Either.
    Both,
}

impl SignInMode {
    pub fn keys(self) -> bool {
        matches!(self, Self::Keys | Self::Both)
    }

    pub fn oidc(self) -> bool {
        matches!(self, Self::Oidc | Self::Both)
    }
}

/// The consent page's sign-in configuration, read from the environment (README "Configuration"):
/// `CONSENT_SIGN_IN` (`keys`, `oidc`, `both`), `OIDC_ISSUER_URL`, `OIDC_CLIENT_ID`,
/// `OIDC_CLIENT_SECRET_ID`, `OIDC_SCOPES`, `OIDC_REQUIRE_MFA`, `OIDC_ACR_VALUES`,
/// `OIDC_ORGANISATIONS_CLAIM`, `OIDC_REDIRECT_URL`.
#[derive(Debug, Clone)]
pub struct SignInConfig {
    pub mode: SignInMode,
    /// `None` when the mode is `keys`.
    pub oidc: Option<(crate::oidc::OidcSettings, SignInPolicy)>,
    /// The callback URL registered at the provider; `None`: derived from the request's host.
    pub redirect_url: Option<String>,
}

impl SignInConfig {
    /// Reads the settings through `get`. `allow_insecure` (local stacks) admits an `http://`
    /// issuer; a deployment's must be https.
    pub fn from_lookup(
        get: impl Fn(&str) -> Option<String>,
        allow_insecure: bool,
    ) -> Result<Self, String> {
        let get = |name: &str| {
            get(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let mode = match get("CONSENT_SIGN_IN").as_deref() {
            None | Some("keys") => SignInMode::Keys,
            Some("oidc") => SignInMode::Oidc,
            Some("both") => SignInMode::Both,
            Some(other) => {
                return Err(format!(
                    "CONSENT_SIGN_IN is `{other}`; expected keys, oidc or both"
                ))
            }
        };
        if !mode.oidc() {
            return Ok(Self {
                mode,
                oidc: None,
                redirect_url: None,
            });
        }
        let required = |name: &str| {
            get(name)
                .ok_or_else(|| format!("{name} is required when CONSENT_SIGN_IN is oidc or both"))
        };
        let issuer = required("OIDC_ISSUER_URL")?;
        let parsed = url::Url::parse(&issuer).map_err(|e| format!("OIDC_ISSUER_URL: {e}"))?;
        if parsed.scheme() != "https" && !(allow_insecure && parsed.scheme() == "http") {
            return Err("OIDC_ISSUER_URL must be an https:// URL".into());
        }
        let list = |name: &str, separators: &[char]| -> Vec<String> {
            get(name)
                .unwrap_or_default()
                .split(separators)
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
                .collect()
        };
        let mut scopes = list("OIDC_SCOPES", &[' ', ',']);
        if scopes.is_empty() {
            scopes = vec!["email".into()];
        }
        scopes.retain(|s| s != "openid");
        let acr_values = list("OIDC_ACR_VALUES", &[' ', ',']);
        let require_mfa = match get("OIDC_REQUIRE_MFA").as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(format!(
                    "OIDC_REQUIRE_MFA is `{other}`; expected true or false"
                ))
            }
        };
        let settings = crate::oidc::OidcSettings {
            issuer: openidconnect::IssuerUrl::new(issuer)
                .map_err(|e| format!("OIDC_ISSUER_URL: {e}"))?,
            client_id: required("OIDC_CLIENT_ID")?,
            scopes,
            acr_values: acr_values.clone(),
        };
        let organisations_url = match get("OIDC_ORGANISATIONS_URL") {
            None => None,
            Some(raw) => {
                let url =
                    url::Url::parse(&raw).map_err(|e| format!("OIDC_ORGANISATIONS_URL: {e}"))?;
                if url.scheme() != "https" && !(allow_insecure && url.scheme() == "http") {
                    return Err("OIDC_ORGANISATIONS_URL must be an https:// URL".into());
                }
                Some(url)
            }
        };
        let signing_secret_id = get("WEBHOOK_SIGNING_SECRET_ID");
        if organisations_url.is_some() && signing_secret_id.is_none() {
            return Err(
                "OIDC_ORGANISATIONS_URL needs WEBHOOK_SIGNING_SECRET_ID (its requests are signed)"
                    .into(),
            );
        }
        let policy = SignInPolicy {
            require_mfa,
            mfa_acr_values: acr_values,
            organisations_claim: get("OIDC_ORGANISATIONS_CLAIM")
                .unwrap_or_else(|| "organisations".into()),
            client_secret_id: required("OIDC_CLIENT_SECRET_ID")?,
            organisations_url,
            signing_secret_id,
        };
        Ok(Self {
            mode,
            oidc: Some((settings, policy)),
            redirect_url: get("OIDC_REDIRECT_URL"),
        })
    }
}

/// The vendor's sign-in rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInPolicy {
    /// The ID token must show a multi-factor sign-in.
    pub require_mfa: bool,
    /// `acr` values that count as multi-factor (besides the `amr` methods above).
    pub mfa_acr_values: Vec<String>,
    /// The ID token claim listing the user's organisations: `[{"id", "name"}]`, `["id", …]` or
    /// one id.
    pub organisations_claim: String,
    /// The Secrets Manager secret holding the client secret.
    pub client_secret_id: String,
    /// The vendor's endpoint that lists a user's organisations, when the IdP cannot carry them
    /// in a claim (`OIDC_ORGANISATIONS_URL`); asked instead of the claim.
    pub organisations_url: Option<url::Url>,
    /// The webhooks' HMAC key (`WEBHOOK_SIGNING_SECRET_ID`), which signs those requests.
    pub signing_secret_id: Option<String>,
}

/// How long the vendor's organisations endpoint may take, in seconds.
pub const ORGANISATIONS_TIMEOUT_SECONDS: u64 = 3;
/// The `type` of the organisations request's body (and its signature headers).
pub const ORGANISATIONS_REQUEST: &str = "user.organisations";

/// Whether `user` signed in with more than one factor: `amr` says `mfa` or `mca`; or it names
/// two or more distinct methods, one of them a [`SECOND_FACTOR_METHODS`] (RFC 8176 lists
/// methods, so `["otp"]` alone is one factor); or `acr` is one the vendor listed.
pub fn multi_factor(user: &VerifiedUser, mfa_acr_values: &[String]) -> bool {
    let methods: std::collections::BTreeSet<String> =
        user.amr.iter().map(|m| m.to_ascii_lowercase()).collect();
    let said = methods
        .iter()
        .any(|m| MULTI_FACTOR_CLAIMS.contains(&m.as_str()));
    let combined = methods.len() >= 2
        && methods
            .iter()
            .any(|m| SECOND_FACTOR_METHODS.contains(&m.as_str()));
    said || combined
        || user
            .acr
            .as_ref()
            .is_some_and(|acr| mfa_acr_values.iter().any(|v| v == acr))
}

/// `user`'s e-mail address when the provider verified it; `None` otherwise.
fn verified_email(user: &VerifiedUser) -> Option<String> {
    user.email.clone().filter(|_| user.email_verified)
}

/// The most organisations kept from a claim or the endpoint, and the longest name (in
/// characters): the list is stored in the signed-in session, one DynamoDB item (400 KB at most),
/// and shown on the page.
pub const MAX_ORGANISATIONS: usize = 100;
pub const MAX_ORGANISATION_NAME_CHARS: usize = 200;

/// The organisations a claim lists: `[{"id", "name"}]` (name defaults to the id), `["id", …]` or
/// one `"id"`. Entries whose id is no valid integration id are left out; duplicates once; the
/// first [`MAX_ORGANISATIONS`] kept, names cut to [`MAX_ORGANISATION_NAME_CHARS`].
pub fn organisations_from_claim(value: Option<&Value>) -> Vec<Organisation> {
    let entries = match value {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(one @ (Value::String(_) | Value::Object(_))) => vec![one],
        _ => Vec::new(),
    };
    let mut organisations: Vec<Organisation> = Vec::new();
    for entry in entries {
        let (id, name) = match entry {
            Value::String(id) => (id.as_str(), None),
            Value::Object(o) => match o.get("id").and_then(Value::as_str) {
                Some(id) => (id, o.get("name").and_then(Value::as_str)),
                None => continue,
            },
            _ => continue,
        };
        let Ok(id) = IntegrationId::parse(id) else {
            continue;
        };
        if organisations.iter().any(|o| o.id == id.as_str()) {
            continue;
        }
        if organisations.len() == MAX_ORGANISATIONS {
            tracing::warn!(
                "more than {MAX_ORGANISATIONS} organisations for one user; the rest left out"
            );
            break;
        }
        organisations.push(Organisation {
            id: id.to_string(),
            name: name
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .unwrap_or(id.as_str())
                .chars()
                .take(MAX_ORGANISATION_NAME_CHARS)
                .collect(),
        });
    }
    organisations
}

/// Why a sign-in did not end signed in.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// The `state` was never issued, was used already, or expired.
    #[error("unknown, used or expired sign-in state")]
    UnknownState,
    /// The `state` was issued to another browser (its binding cookie is missing or differs).
    #[error("the sign-in was started in another browser")]
    OtherBrowser,
    /// The provider answered the authorization request with an error (e.g. `access_denied`).
    #[error("the identity provider answered {0}")]
    Provider(String),
    #[error(transparent)]
    Oidc(#[from] OidcError),
    /// The vendor requires MFA and the ID token shows none.
    #[error("the sign-in was not multi-factor")]
    MfaRequired,
    /// The user may connect no organisation.
    #[error("the user belongs to no organisation")]
    NoOrganisation,
    /// The vendor's organisations endpoint failed (unreachable, slow, not 2xx, not a list).
    #[error("the organisations endpoint failed: {0}")]
    OrganisationsEndpoint(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Secrets(#[from] SecretError),
}

/// Where to send the browser, and the cookie that binds the sign-in to it.
#[derive(Debug)]
pub struct Started {
    pub authorization_url: url::Url,
    /// The browser-binding cookie's value (only its digest is stored).
    pub browser_binding: String,
}

/// A finished sign-in: the session cookie's value (only its digest is stored) and the session.
#[derive(Debug)]
pub struct SignedIn {
    pub session_cookie: String,
    pub session: SignedInSession,
}

/// The sign-in operations of the consent page.
pub struct SignIn<'a> {
    pub store: &'a Store,
    pub secrets: &'a Secrets,
    pub provider: &'a IdentityProvider,
    pub policy: &'a SignInPolicy,
}

impl SignIn<'_> {
    /// Starts a sign-in for `company_id` (and SR's `redirect`), coming back to `redirect_uri`.
    /// Per start: discovery (cached) and one PutItem.
    pub async fn start(
        &self,
        company_id: &CompanyId,
        redirect: Option<String>,
        redirect_uri: &str,
        now: DateTime<Utc>,
    ) -> Result<Started, SignInError> {
        let authorization = self.provider.authorization(redirect_uri).await?;
        let browser_binding = random_token(24);
        let state = SignInState {
            company_id: company_id.to_string(),
            redirect,
            pkce_verifier: authorization.pkce_verifier,
            nonce: authorization.nonce,
            browser_digest: hash_secret(&browser_binding),
            created_at: now,
            expires_at: now.timestamp() + STATE_SECONDS,
        };
        self.store
            .put_sign_in_state(&hash_secret(&authorization.state), &state)
            .await?;
        Ok(Started {
            authorization_url: authorization.url,
            browser_binding,
        })
    }

    /// Finishes the sign-in the provider sent back with `code` and `state`. The state is
    /// consumed first, whatever follows: a callback URL works once.
    pub async fn finish(
        &self,
        state: &str,
        code: &str,
        browser_binding: Option<&str>,
        redirect_uri: &str,
        now: DateTime<Utc>,
    ) -> Result<SignedIn, SignInError> {
        let stored = self
            .store
            .take_sign_in_state(&hash_secret(state))
            .await?
            .filter(|s| !state.is_empty() && s.expires_at > now.timestamp())
            .ok_or(SignInError::UnknownState)?;
        let same_browser = browser_binding.is_some_and(|b| {
            bool::from(
                hash_secret(b)
                    .as_bytes()
                    .ct_eq(stored.browser_digest.as_bytes()),
            )
        });
        if !same_browser {
            tracing::warn!(company_id = %stored.company_id, "sign-in callback from another browser");
            return Err(SignInError::OtherBrowser);
        }
        let client_secret = self
            .secrets
            .get_string(&self.policy.client_secret_id)
            .await?;
        let user = self
            .provider
            .verify(
                code,
                &stored.pkce_verifier,
                &stored.nonce,
                redirect_uri,
                &client_secret,
            )
            .await?;
        if self.policy.require_mfa && !multi_factor(&user, &self.policy.mfa_acr_values) {
            tracing::info!(company_id = %stored.company_id, amr = ?user.amr, acr = ?user.acr, "sign-in without MFA refused");
            return Err(SignInError::MfaRequired);
        }
        let organisations = match &self.policy.organisations_url {
            Some(url) => {
                self.organisations_from_endpoint(url, &user, &stored.company_id)
                    .await?
            }
            None => organisations_from_claim(user.claims.get(&self.policy.organisations_claim)),
        };
        if organisations.is_empty() {
            return Err(SignInError::NoOrganisation);
        }
        let session_cookie = random_token(24);
        // An unverified address may be anyone's: it is never recorded as who connected.
        let email = verified_email(&user);
        let session = SignedInSession {
            company_id: stored.company_id,
            redirect: stored.redirect,
            subject: user.subject,
            email,
            organisations,
            expires_at: now.timestamp() + SIGNED_IN_SECONDS,
        };
        self.store
            .put_signed_in_session(&hash_secret(&session_cookie), &session)
            .await?;
        Ok(SignedIn {
            session_cookie,
            session,
        })
    }

    /// Asks the vendor's endpoint which organisations `user` may connect to SR company
    /// `company_id`: a POST of `{"id", "type": "user.organisations", "issuer", "subject",
    /// "email", "email_verified", "company_id"}` (`email` only when verified) signed like a webhook
    /// (`X-Connector-Timestamp`, `X-Connector-Signature`), answered within
    /// [`ORGANISATIONS_TIMEOUT_SECONDS`] with `{"organisations": [...]}` in any form the claim
    /// takes.
    async fn organisations_from_endpoint(
        &self,
        url: &url::Url,
        user: &VerifiedUser,
        company_id: &str,
    ) -> Result<Vec<Organisation>, SignInError> {
        let secret_id = self.policy.signing_secret_id.as_deref().ok_or_else(|| {
            SignInError::OrganisationsEndpoint("no signing secret configured".into())
        })?;
        let secret = self.secrets.get_string(secret_id).await?;
        let id = random_token(12);
        let body = serde_json::to_vec(&serde_json::json!({
            "id": id,
            "type": ORGANISATIONS_REQUEST,
            "issuer": self.provider.settings().issuer.as_str(),
            "subject": user.subject,
            "email": verified_email(user),
            "email_verified": user.email_verified,
            "company_id": company_id,
        }))
        .expect("a JSON object serializes");
        let mut request = self
            .provider
            .http()
            .post(url.clone())
            .timeout(std::time::Duration::from_secs(
                ORGANISATIONS_TIMEOUT_SECONDS,
            ))
            .header("content-type", "application/json")
            .header("accept", "application/json");
        let headers = crate::webhooks::signature_headers(
            &[secret.as_bytes()],
            &id,
            ORGANISATIONS_REQUEST,
            &body,
            Utc::now().timestamp(),
        );
        for (name, value) in headers {
            request = request.header(name, value);
        }
        // Without the URL in errors: it may carry a token of the vendor's in its query.
        let failed =
            |e: reqwest::Error| SignInError::OrganisationsEndpoint(e.without_url().to_string());
        let response = request.body(body).send().await.map_err(failed)?;
        if !response.status().is_success() {
            return Err(SignInError::OrganisationsEndpoint(format!(
                "answered HTTP {}",
                response.status().as_u16()
            )));
        }
        let answer = crate::oidc::read_capped(response)
            .await
            .map_err(|e| match e {
                HttpError::Request(e) => failed(e),
                too_large => SignInError::OrganisationsEndpoint(too_large.to_string()),
            })?;
        let answer: Value = serde_json::from_slice(&answer).map_err(|e| {
            SignInError::OrganisationsEndpoint(format!("the answer is not JSON: {e}"))
        })?;
        let list = answer.get("organisations").unwrap_or(&answer);
        Ok(organisations_from_claim(Some(list)))
    }

    /// The signed-in session the cookie names, if it is for `company_id` and has not expired.
    pub async fn session(
        &self,
        session_cookie: &str,
        company_id: &CompanyId,
        now: DateTime<Utc>,
    ) -> Result<Option<SignedInSession>, StoreError> {
        if session_cookie.is_empty() {
            return Ok(None);
        }
        Ok(self
            .store
            .get_signed_in_session(&hash_secret(session_cookie))
            .await?
            .filter(|s| s.company_id == *company_id && s.expires_at > now.timestamp()))
    }

    /// Takes the session out before connecting: one sign-in gives consent once, even when the
    /// form is sent twice at the same time. `None` when another request took it first.
    pub async fn take_session(
        &self,
        session_cookie: &str,
    ) -> Result<Option<SignedInSession>, StoreError> {
        self.store
            .take_signed_in_session(&hash_secret(session_cookie))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user(amr: &[&str], acr: Option<&str>) -> VerifiedUser {
        VerifiedUser {
            subject: "u1".into(),
            email: None,
            email_verified: false,
            amr: amr.iter().map(|s| s.to_string()).collect(),
            acr: acr.map(str::to_string),
            claims: Default::default(),
        }
    }

    fn config(pairs: &[(&str, &str)], local: bool) -> Result<SignInConfig, String> {
        let map: std::collections::HashMap<_, _> = pairs.iter().cloned().collect();
        SignInConfig::from_lookup(|k| map.get(k).map(|v| v.to_string()), local)
    }

    #[test]
    fn keys_stay_the_default_and_oidc_needs_its_issuer_client_and_secret() {
        assert_eq!(config(&[], false).unwrap().mode, SignInMode::Keys);
        assert!(config(&[("CONSENT_SIGN_IN", "sso")], false).is_err());
        let oidc = [
            ("CONSENT_SIGN_IN", "both"),
            ("OIDC_ISSUER_URL", "https://idp.example"),
            ("OIDC_CLIENT_ID", "c1"),
            ("OIDC_CLIENT_SECRET_ID", "s1"),
            ("OIDC_SCOPES", "openid email organisations"),
            ("OIDC_REQUIRE_MFA", "true"),
            ("OIDC_ACR_VALUES", "urn:mfa"),
        ];
        let both = config(&oidc, false).unwrap();
        let (settings, policy) = both.oidc.unwrap();
        assert_eq!(settings.scopes, ["email", "organisations"]);
        assert!(policy.require_mfa);
        assert_eq!(policy.mfa_acr_values, ["urn:mfa"]);
        assert_eq!(policy.organisations_claim, "organisations");
        assert!(config(&oidc[..3], false)
            .unwrap_err()
            .contains("OIDC_CLIENT_SECRET_ID"));
        let mut http = oidc;
        http[1] = ("OIDC_ISSUER_URL", "http://127.0.0.1:5332");
        assert!(config(&http, false).unwrap_err().contains("https"));
        assert!(config(&http, true).is_ok());
        let mut endpoint = oidc.to_vec();
        endpoint.push(("OIDC_ORGANISATIONS_URL", "https://vendor.example/orgs"));
        assert!(config(&endpoint, false)
            .unwrap_err()
            .contains("WEBHOOK_SIGNING_SECRET_ID"));
        endpoint.push(("WEBHOOK_SIGNING_SECRET_ID", "arn:secret"));
        let (_, policy) = config(&endpoint, false).unwrap().oidc.unwrap();
        assert_eq!(
            policy.organisations_url.unwrap().host_str(),
            Some("vendor.example")
        );
    }

    #[test]
    fn a_password_alone_is_not_multi_factor_but_a_code_or_a_listed_acr_is() {
        let listed = vec!["urn:acme:mfa".to_string()];
        assert!(!multi_factor(&user(&["pwd"], None), &listed));
        assert!(!multi_factor(&user(&[], Some("urn:acme:pwd")), &listed));
        assert!(multi_factor(&user(&["pwd", "otp"], None), &listed));
        assert!(multi_factor(&user(&["MFA"], None), &[]));
        assert!(multi_factor(&user(&["pwd"], Some("urn:acme:mfa")), &listed));
        assert!(!multi_factor(&user(&["pwd"], Some("urn:acme:mfa")), &[]));
        assert!(multi_factor(&user(&["mca"], None), &[]));
    }

    #[test]
    fn only_a_verified_email_is_used() {
        let mut someone = user(&["pwd"], None);
        someone.email = Some("admin@acme.test".into());
        assert_eq!(verified_email(&someone), None);
        someone.email_verified = true;
        assert_eq!(verified_email(&someone).as_deref(), Some("admin@acme.test"));
    }

    #[test]
    fn organisations_are_capped_in_number_and_name_length() {
        let many: Vec<Value> = (0..150)
            .map(|i| json!({"id": format!("org-{i}"), "name": "n".repeat(500)}))
            .collect();
        let kept = organisations_from_claim(Some(&Value::Array(many)));
        assert_eq!(kept.len(), MAX_ORGANISATIONS);
        assert_eq!(kept[99].id, "org-99");
        assert!(kept
            .iter()
            .all(|o| o.name.chars().count() == MAX_ORGANISATION_NAME_CHARS));
    }

    /// RFC 8176 names methods, not factors: a one-time code or an SMS alone is one factor.
    #[test]
    fn one_method_alone_is_one_factor_whatever_it_is() {
        for single in [&["otp"][..], &["sms"], &["pwd"], &["hwk"], &["otp", "OTP"]] {
            assert!(!multi_factor(&user(single, None), &[]), "{single:?}");
        }
        assert!(!multi_factor(&user(&["pwd", "user"], None), &[]));
        assert!(multi_factor(&user(&["hwk", "pin"], None), &[]));
        assert!(multi_factor(&user(&["pwd", "sms"], None), &[]));
    }

    #[test]
    fn organisations_come_as_objects_ids_or_one_id() {
        let objects = json!([{"id": "acme-se", "name": "Acme Sweden"}, {"id": "acme-no"}]);
        assert_eq!(
            organisations_from_claim(Some(&objects)),
            vec![
                Organisation {
                    id: "acme-se".into(),
                    name: "Acme Sweden".into()
                },
                Organisation {
                    id: "acme-no".into(),
                    name: "acme-no".into()
                },
            ]
        );
        let ids = json!(["a", "b", "a", "", 7, {"name": "no id"}]);
        let ids: Vec<_> = organisations_from_claim(Some(&ids))
            .into_iter()
            .map(|o| o.id)
            .collect();
        assert_eq!(ids, ["a", "b"]);
        assert_eq!(organisations_from_claim(Some(&json!("solo"))).len(), 1);
        assert!(organisations_from_claim(None).is_empty());
        assert!(organisations_from_claim(Some(&json!({"id": " "}))).is_empty());
    }
}
