//! The consent page (SR's `consentUrl`): where a customer's admin connects their SmartRecruiters
//! company to the vendor.
//!
//! SR opens `GET {consentUrl}?companyId=…[&redirect=…]` in a 600 px popup (or redirects to it).
//! The admin pastes the one-time connect key the vendor gave them, picks one organisation when
//! the key names several, and gives consent; the connector then exchanges credentials with SR
//! (see [`crate::onboarding`]). Forms carry a double-submit CSRF token, every page has a strict
//! Content-Security-Policy, and no credential is ever sent to the browser.
//!
//! When the vendor offers sign-in (`ConsentSignIn`), the admin may instead sign in with the
//! vendor's OpenID provider; those handlers are in `sign_in.rs`, their operations in
//! [`crate::onboarding::sign_in`].
//!
//! The `companyId` comes from the browser, so nothing here trusts it: the page shown without a
//! valid key never depends on the company's state, a company that is connected already is never
//! changed, a key can be bound to one company when minted, and wrong keys are counted per
//! company and per client address — without ever refusing a valid key for others' failures.

use chrono::Utc;
use lambda_http::http::{header, HeaderValue, Method, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::auth::credentials::random_token;
use crate::aws::LazyAwsClients;
use crate::config::Config;
use crate::http::{body_bytes, body_limits, query_param, require_body_within};
use crate::ids::CompanyId;
use crate::notifications::Notifications;
use crate::oidc::IdentityProvider;
use crate::onboarding::consent::{self, KeyCheck, WrongKeys};
use crate::onboarding::sign_in::{SignInConfig, SignInMode, SignInPolicy};
use crate::onboarding::{KeyConnection, Onboarding, OnboardingError};
use crate::passthrough::PassthroughSettings;
use crate::secrets::Secrets;
use crate::sr::{SrClient, SrClientError};
use crate::store::{Organisation, Store};

use super::partner::HandlerResult;

mod page;
mod sign_in;

use page::{problem, unavailable_page, Page};

const CSRF_COOKIE: &str = "consent_csrf";
/// Binds a sign-in under way to the browser that started it (`SameSite=Lax`: it must come back
/// with the identity provider's redirect). `__Host-` prefixed when cookies are `Secure`.
const SIGN_IN_COOKIE: &str = "consent_sign_in";
/// The signed-in admin's session until they give consent.
const SIGNED_IN_COOKIE: &str = "consent_signed_in";
/// The identity provider's callback, below the consent page's path.
const CALLBACK_SUFFIX: &str = "/callback";
/// Longer addresses are cut: a DynamoDB key holds at most 2 KB.
const MAX_ADDRESS_CHARS: usize = 64;
const INVALID_COMPANY_ID: &str = "The link's companyId is not a SmartRecruiters company id \
    (1 to 256 letters, digits and _ + = . @ -). Please open this page from SmartRecruiters again.";

/// How the page presents the vendor (`VENDOR_NAME`, `VENDOR_LOGO_URL`).
#[derive(Debug, Clone)]
pub struct Branding {
    pub vendor_name: String,
    pub logo_url: Option<String>,
}

pub struct ConsentApi {
    store: Store,
    secrets: Secrets,
    /// `company.connected` for the vendor.
    notifications: Notifications,
    sr: SrClient,
    partner_credential_secret_id: String,
    branding: Branding,
    /// Hosts (and their subdomains) a REDIRECT-mode consent may send the admin back to.
    redirect_hosts: Vec<String>,
    /// Plain http (and cookies without `Secure`) only on local stacks.
    allow_insecure: bool,
    /// Whether the vendor's SR passthrough may write (`SR_PASSTHROUGH_ALLOW_WRITES`), which the
    /// page must then say.
    passthrough_writes: bool,
    /// Connect keys, sign-in with the vendor's identity provider, or both.
    mode: SignInMode,
    /// The identity provider when the mode includes sign-in.
    sign_in: Option<VendorSignIn>,
}

/// The vendor's identity provider and its rules, for the consent page's sign-in.
pub struct VendorSignIn {
    provider: IdentityProvider,
    policy: SignInPolicy,
    /// The callback URL registered at the provider; `None`: `https://{host}{page}/callback` of
    /// the request (API Gateway's own domain name).
    redirect_url: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ConsentForm {
    company_id: String,
    #[serde(default)]
    redirect: Option<String>,
    csrf: String,
    step: String,
    #[serde(default)]
    connect_key: Option<String>,
    #[serde(default)]
    session: Option<String>,
    #[serde(default)]
    organisation: Option<String>,
}

/// The identity provider's answer (OpenID Connect Core §3.1.2.5 and §3.1.2.6).
#[derive(Debug, Deserialize)]
struct CallbackQuery {
    #[serde(default)]
    state: String,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

/// What every form on the page carries along.
struct Context {
    company_id: CompanyId,
    redirect: Option<String>,
    csrf: String,
}

impl ConsentApi {
    pub fn new(
        store: Store,
        secrets: Secrets,
        notifications: Notifications,
        sr: SrClient,
        partner_credential_secret_id: String,
        branding: Branding,
        redirect_hosts: Vec<String>,
    ) -> Self {
        let allow_insecure = sr.endpoints().allow_insecure;
        Self {
            store,
            secrets,
            notifications,
            sr,
            partner_credential_secret_id,
            branding,
            redirect_hosts,
            allow_insecure,
            passthrough_writes: false,
            mode: SignInMode::Keys,
            sign_in: None,
        }
    }

    /// Sets how admins connect ([`SignInConfig`]): keys, sign-in with the vendor's identity
    /// provider, or both.
    pub fn with_sign_in(mut self, config: SignInConfig) -> Self {
        self.mode = config.mode;
        self.sign_in = config.oidc.map(|(settings, policy)| VendorSignIn {
            provider: IdentityProvider::new(settings),
            policy,
            redirect_url: config.redirect_url,
        });
        self
    }

    /// Tells the page what the vendor's SR passthrough may do (read only, or also write).
    pub fn with_passthrough(mut self, settings: PassthroughSettings) -> Self {
        self.passthrough_writes = settings.allow_writes;
        self
    }

    pub async fn from_env() -> Result<Self, lambda_http::Error> {
        let config = Config::from_env()?;
        let aws = LazyAwsClients::from_env().await;
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let branding = Branding {
            vendor_name: env("VENDOR_NAME").unwrap_or_else(|| "Assessment vendor".into()),
            logo_url: env("VENDOR_LOGO_URL"),
        };
        let redirect_hosts = env("CONSENT_REDIRECT_HOSTS")
            .unwrap_or_else(|| "smartrecruiters.com".into())
            .split(',')
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect();
        let sign_in = SignInConfig::from_lookup(env, config.sr.allow_insecure)?;
        let store = Store::new(aws.dynamodb, config.table_name);
        Ok(Self::new(
            store.clone(),
            Secrets::new(aws.secrets, config.secret_prefix),
            Notifications::new(store, aws.sqs, config.notifications_queue_url),
            SrClient::new(config.sr),
            config.partner_credential_secret_id,
            branding,
            redirect_hosts,
        )
        .with_passthrough(PassthroughSettings::from_env())
        .with_sign_in(sign_in))
    }

    /// The one handler behind `GET` and `POST {consentUrl}`.
    pub async fn handle(&self, request: Request) -> HandlerResult {
        if let Err(e) = require_body_within(&request, body_limits::CONSENT) {
            return Ok(self.render(e.status, problem("Too large", &e.message), None));
        }
        let path = request.uri().path();
        if *request.method() == Method::GET && path.ends_with(CALLBACK_SUFFIX) {
            return Ok(self.callback(&request).await);
        }
        if *request.method() == Method::GET && query_param(&request, "signIn").is_some() {
            return Ok(self.start_sign_in(&request).await);
        }
        let (status, page, context) = match *request.method() {
            Method::GET => self.show(&request).await,
            Method::POST => self.submit(&request).await,
            _ => (
                StatusCode::METHOD_NOT_ALLOWED,
                problem("Not allowed", "This page only answers GET and POST."),
                None,
            ),
        };
        Ok(self.render(status, page, context))
    }

    /// The key form, whatever the company's state: a caller without a key learns nothing of it.
    async fn show(&self, request: &Request) -> (StatusCode, Page, Option<Context>) {
        let Some(company_id) = query_param(request, "companyId") else {
            return bad_request(
                "The link is incomplete: SmartRecruiters did not send a companyId.",
            );
        };
        let Ok(company_id) = CompanyId::parse(&company_id) else {
            return bad_request(INVALID_COMPANY_ID);
        };
        let redirect = query_param(request, "redirect");
        if let Some(r) = &redirect {
            if !self.redirect_allowed(r) {
                return bad_request("The redirect address does not belong to SmartRecruiters.");
            }
        }
        let context = Context {
            company_id,
            redirect,
            csrf: random_token(24),
        };
        // Back from the identity provider: the signed-in admin confirms (a session of another
        // company, or none, shows the start page).
        if let Some(session) = self.signed_in_session(request, &context.company_id).await {
            let page = Page::SignedIn {
                email: session.email.unwrap_or(session.subject),
                organisations: session.organisations,
            };
            return (StatusCode::OK, page, Some(context));
        }
        (StatusCode::OK, Page::KeyForm { error: None }, Some(context))
    }

    async fn submit(&self, request: &Request) -> (StatusCode, Page, Option<Context>) {
        let Ok(form) = serde_urlencoded::from_bytes::<ConsentForm>(body_bytes(request)) else {
            return bad_request("The form was incomplete. Please reload the page and try again.");
        };
        if !csrf_matches(request, &form.csrf) {
            return (
                StatusCode::FORBIDDEN,
                problem(
                    "Session expired",
                    "This form has expired. Please reload the page and try again.",
                ),
                None,
            );
        }
        let Ok(company_id) = CompanyId::parse(&form.company_id) else {
            return bad_request(INVALID_COMPANY_ID);
        };
        if form
            .redirect
            .as_deref()
            .is_some_and(|r| !self.redirect_allowed(r))
        {
            return bad_request("The form was incomplete. Please reload the page and try again.");
        }
        let context = Context {
            company_id,
            redirect: form.redirect.clone(),
            csrf: form.csrf.clone(),
        };
        let address = client_address(request, self.allow_insecure);
        let (status, page) = match form.step.as_str() {
            "key" | "choose" if !self.mode.keys() => (
                StatusCode::BAD_REQUEST,
                problem(
                    "Sign in instead",
                    format!(
                        "{} connects SmartRecruiters by signing in, not with connect keys. Please reload the page and sign in.",
                        self.branding.vendor_name
                    ),
                ),
            ),
            "signed_in" => {
                return self
                    .consent_signed_in(request, context, form.organisation.as_deref())
                    .await
            }
            "key" => {
                self.accept_key(&context, form.connect_key.as_deref(), address.as_deref())
                    .await
            }
            "choose" => {
                self.choose(
                    &context,
                    form.session.as_deref(),
                    form.organisation.as_deref(),
                )
                .await
            }
            _ => (
                StatusCode::BAD_REQUEST,
                problem(
                    "Something went wrong",
                    "Unknown form step. Please reload the page.",
                ),
            ),
        };
        (status, page, Some(context))
    }

    async fn accept_key(
        &self,
        context: &Context,
        key: Option<&str>,
        address: Option<&str>,
    ) -> (StatusCode, Page) {
        let key = key.map(str::trim).unwrap_or_default();
        let vendor = &self.branding.vendor_name;
        match consent::check_key(&self.store, &context.company_id, key, Utc::now()).await {
            Err(_) => unavailable_page(),
            Ok(KeyCheck::Unusable) => {
                let message = format!(
                    "This connect key is not valid, has expired or was already used. Ask {vendor} for a new one."
                );
                self.wrong_key(context, address, message).await
            }
            Ok(KeyCheck::OtherCompany) => {
                let message = format!(
                    "This connect key was issued for another SmartRecruiters company. Ask {vendor} for a key for this one."
                );
                self.wrong_key(context, address, message).await
            }
            Ok(KeyCheck::Connect {
                key_digest,
                organisation,
            }) => self.connect(context, &key_digest, &organisation).await,
            Ok(KeyCheck::Choose {
                session,
                organisations,
            }) => (
                StatusCode::OK,
                Page::ChooseOrganisation {
                    session,
                    organisations,
                },
            ),
        }
    }

    /// Counts a wrong key ([`consent::count_wrong_key`]): a 400 with `message`, or a 429 once the
    /// address or the company has seen too many wrong keys in the window.
    async fn wrong_key(
        &self,
        context: &Context,
        address: Option<&str>,
        message: String,
    ) -> (StatusCode, Page) {
        let whose =
            match consent::count_wrong_key(&self.store, &context.company_id, address, Utc::now())
                .await
            {
                WrongKeys::Counted => {
                    return (
                        StatusCode::BAD_REQUEST,
                        Page::KeyForm {
                            error: Some(message),
                        },
                    )
                }
                WrongKeys::TooManyFromAddress(_) => "from your network",
                WrongKeys::TooManyForCompany(_) => "for this company",
            };
        (
            StatusCode::TOO_MANY_REQUESTS,
            problem(
                "Too many attempts",
                format!("Too many wrong connect keys were tried {whose}. Please check the key and try again in 15 minutes."),
            ),
        )
    }

    async fn choose(
        &self,
        context: &Context,
        session: Option<&str>,
        organisation: Option<&str>,
    ) -> (StatusCode, Page) {
        let expired = (
            StatusCode::BAD_REQUEST,
            Page::KeyForm {
                error: Some("Your session expired. Please enter the connect key again.".into()),
            },
        );
        let Some(session) = session else {
            return expired;
        };
        let stored =
            match consent::resume(&self.store, &context.company_id, session, Utc::now()).await {
                Ok(stored) => stored,
                Err(_) => return unavailable_page(),
            };
        let Some(stored) = stored else {
            return expired;
        };
        let Some(chosen) = stored
            .organisations
            .iter()
            .find(|o| Some(o.id.as_str()) == organisation)
        else {
            return (
                StatusCode::BAD_REQUEST,
                Page::ChooseOrganisation {
                    session: session.to_string(),
                    organisations: stored.organisations.clone(),
                },
            );
        };
        self.connect(context, &stored.key_digest, chosen).await
    }

    /// Gives consent with the key (see [`Onboarding::connect_with_key`]).
    async fn connect(
        &self,
        context: &Context,
        key_digest: &str,
        organisation: &Organisation,
    ) -> (StatusCode, Page) {
        let outcome = self
            .onboarding()
            .connect_with_key(
                key_digest,
                &context.company_id,
                &organisation.id,
                Utc::now(),
            )
            .await;
        self.connected_page(context, outcome)
    }

    fn onboarding(&self) -> Onboarding<'_> {
        Onboarding {
            store: &self.store,
            secrets: &self.secrets,
            sr: &self.sr,
            partner_credential_secret_id: &self.partner_credential_secret_id,
            notifications: &self.notifications,
        }
    }

    /// The page for a connection's outcome, by key or by sign-in.
    fn connected_page(
        &self,
        context: &Context,
        outcome: Result<KeyConnection, OnboardingError>,
    ) -> (StatusCode, Page) {
        match outcome {
            Ok(KeyConnection::Connected(_)) => (StatusCode::OK, Page::Done),
            Ok(KeyConnection::AlreadyConnected) => (StatusCode::OK, Page::AlreadyConnected),
            Err(OnboardingError::KeyUnavailable) => (
                StatusCode::BAD_REQUEST,
                Page::KeyForm {
                    error: Some(format!(
                        "This connect key was already used, or is being used right now. Ask {} for a new one.",
                        self.branding.vendor_name
                    )),
                },
            ),
            Err(e) => {
                match &e {
                    OnboardingError::Sr(sr) => {
                        tracing::warn!(company_id = %context.company_id, error = %sr.for_log(), "consent failed: SmartRecruiters refused the integration")
                    }
                    other => {
                        tracing::warn!(company_id = %context.company_id, error = %other, "consent failed")
                    }
                }
                self.onboarding_problem(&e)
            }
        }
    }

    fn render_pair(&self, (status, page): (StatusCode, Page)) -> Response<Body> {
        self.render(status, page, None)
    }

    fn see_other(&self, location: &str) -> Response<Body> {
        let mut response = Response::new(Body::Empty);
        *response.status_mut() = StatusCode::SEE_OTHER;
        if let Ok(location) = HeaderValue::from_str(location) {
            response.headers_mut().insert(header::LOCATION, location);
        }
        self.secure_headers(&mut response, "");
        response
    }

    /// `__Host-{name}` when cookies are `Secure` (a deployment), plain `name` on local http.
    fn cookie_name(&self, name: &str) -> String {
        cookie_name(name, !self.allow_insecure)
    }

    /// Appends a sign-in cookie ([`sign_in_cookie`]); `max_age` 0 deletes it.
    fn set_cookie(&self, response: &mut Response<Body>, name: &str, value: &str, max_age: i64) {
        let cookie = sign_in_cookie(name, value, max_age, !self.allow_insecure);
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }

    fn onboarding_problem(&self, error: &OnboardingError) -> (StatusCode, Page) {
        let vendor = &self.branding.vendor_name;
        match error {
            OnboardingError::Sr(SrClientError::Rejected { status: 409, .. }) => (
                StatusCode::CONFLICT,
                problem("Already connected", format!(
                    "SmartRecruiters says this company is already connected to {vendor}. To connect it again, first disable the integration in SmartRecruiters."
                )),
            ),
            OnboardingError::Sr(SrClientError::Rejected { status: 404, .. }) => (
                StatusCode::BAD_GATEWAY,
                problem("Set-up incomplete", format!(
                    "{vendor} has not finished its SmartRecruiters partner set-up yet. Nothing was changed; please contact {vendor}."
                )),
            ),
            OnboardingError::Sr(SrClientError::Rejected { status: 403, .. }) => (
                StatusCode::FORBIDDEN,
                problem("Consent missing", "SmartRecruiters reports that your company has not allowed this integration. Nothing was changed."),
            ),
            OnboardingError::Sr(SrClientError::CredentialsRefused { .. }) => (
                StatusCode::BAD_GATEWAY,
                problem("Set-up problem", format!(
                    "SmartRecruiters refused {vendor}'s partner credentials. Nothing was changed; please contact {vendor}."
                )),
            ),
            _ => unavailable_page(),
        }
    }

    fn redirect_allowed(&self, raw: &str) -> bool {
        let Ok(url) = url::Url::parse(raw) else {
            return false;
        };
        let scheme_ok = url.scheme() == "https" || (self.allow_insecure && url.scheme() == "http");
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        scheme_ok
            && self
                .redirect_hosts
                .iter()
                .any(|h| host == *h || host.ends_with(&format!(".{h}")))
    }
}

/// `name`, `__Host-` prefixed when deployed: the browser then accepts the cookie only `Secure`,
/// from this host, for `Path=/`, so no sibling subdomain can plant or shadow it.
fn cookie_name(name: &str, deployed: bool) -> String {
    if deployed {
        format!("__Host-{name}")
    } else {
        name.to_string()
    }
}

/// A `Set-Cookie` value for the whole site, HttpOnly, `SameSite=Lax` and (deployed) `Secure`.
/// Lax, not Strict: both sign-in cookies must come back with the identity provider's redirect,
/// a cross-site navigation; the forms still need the Strict CSRF cookie. Local stacks (plain
/// http) drop `Secure` and the prefix, which needs it.
fn sign_in_cookie(name: &str, value: &str, max_age: i64, deployed: bool) -> String {
    let secure = if deployed { "; Secure" } else { "" };
    format!(
        "{}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}",
        cookie_name(name, deployed)
    )
}

/// The caller's address as API Gateway saw it (`requestContext.http.sourceIp`). Local stacks
/// (`allow_insecure`) read the last `X-Forwarded-For` entry instead, because `cargo lambda watch`
/// reports every caller as 127.0.0.1; a deployment never trusts that header. `None` when the
/// request has no context (in-process calls): no per-address counting then.
fn client_address(request: &Request, local: bool) -> Option<String> {
    let forwarded = || {
        request
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let from_context = || match request.request_context_ref()? {
        RequestContext::ApiGatewayV2(context) => context.http.source_ip.clone(),
        RequestContext::ApiGatewayV1(context) => context.identity.source_ip.clone(),
        _ => None,
    };
    let address = if local { forwarded() } else { None }.or_else(from_context)?;
    Some(address.chars().take(MAX_ADDRESS_CHARS).collect())
}

/// The value of the request's cookie `name`.
fn cookie(request: &Request, name: &str) -> Option<String> {
    request
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.to_string())
}

/// Double-submit check: the form's token must equal the cookie set with the page.
fn csrf_matches(request: &Request, presented: &str) -> bool {
    match cookie(request, CSRF_COOKIE) {
        Some(c) if !presented.is_empty() => c.as_bytes().ct_eq(presented.as_bytes()).into(),
        _ => false,
    }
}

fn bad_request(message: &str) -> (StatusCode, Page, Option<Context>) {
    (
        StatusCode::BAD_REQUEST,
        problem("Something went wrong", message),
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployed_sign_in_cookies_are_host_only_secure_http_only_and_lax() {
        for name in [SIGN_IN_COOKIE, SIGNED_IN_COOKIE] {
            let cookie = sign_in_cookie(name, "v", 600, true);
            let mut parts = cookie.split("; ");
            assert_eq!(parts.next(), Some(format!("__Host-{name}=v").as_str()));
            let attributes: Vec<&str> = parts.collect();
            for wanted in [
                "Secure",
                "HttpOnly",
                "SameSite=Lax",
                "Path=/",
                "Max-Age=600",
            ] {
                assert!(attributes.contains(&wanted), "{wanted} in {cookie}");
            }
            assert!(
                !attributes.iter().any(|a| a.starts_with("Domain")),
                "__Host- cookies carry no Domain: {cookie}"
            );
        }
        let local = sign_in_cookie(SIGN_IN_COOKIE, "v", 0, false);
        assert!(local.starts_with("consent_sign_in=v;"), "{local}");
        assert!(!local.contains("Secure"), "{local}");
    }
}
