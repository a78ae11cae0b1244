//! The consent page (SR's `consentUrl`): where a customer's admin connects their SmartRecruiters
//! company to the vendor.
//!
//! SR opens `GET {consentUrl}?companyId=…[&redirect=…]` in a 600 px popup (or redirects to it).
//! The admin pastes the one-time connect key the vendor gave them, picks one organisation when
//! the key names several, and gives consent; the connector then exchanges credentials with SR
//! (see [`crate::onboarding`]). Forms carry a double-submit CSRF token, every page has a strict
//! Content-Security-Policy, and no credential is ever sent to the browser.
//!
//! The `companyId` comes from the browser, so nothing here trusts it: the page shown without a
//! valid key never depends on the company's state, a company that is connected already is never
//! changed, a key can be bound to one company when minted, and wrong keys are counted per
//! company and per client address — without ever refusing a valid key for others' failures.

use chrono::Utc;
use lambda_http::http::{header, HeaderValue, Method, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::auth::credentials::random_token;
use crate::auth::hash_secret;
use crate::aws::AwsClients;
use crate::config::Config;
use crate::http::{body_bytes, body_limits, query_param, require_body_within};
use crate::notifications::Notifications;
use crate::onboarding::{is_valid_company_id, KeyConnection, Onboarding, OnboardingError};
use crate::passthrough::{PassthroughSettings, TEMPLATES};
use crate::secrets::Secrets;
use crate::sr::{SrClient, SrClientError};
use crate::store::{ConsentSession, FailureCounter, Organisation, Store};

use super::partner::HandlerResult;

const CSRF_COOKIE: &str = "consent_csrf";
/// Wrong connect keys per company and window after which wrong keys get a 429 (a valid key still
/// connects: others' guesses never lock the real admin out).
const MAX_COMPANY_FAILURES: u64 = 10;
/// Wrong connect keys per client address and window after which that address's wrong keys get
/// a 429, whichever companies they named. A valid key still connects: an address may be shared
/// (an office NAT, a mobile carrier), and an admin is never refused for a neighbour's guesses.
const MAX_ADDRESS_FAILURES: u64 = 20;
const FAILURE_WINDOW_SECONDS: i64 = 900;
/// Longer addresses are cut: a DynamoDB key holds at most 2 KB.
const MAX_ADDRESS_CHARS: usize = 64;
const SESSION_SECONDS: i64 = 900;
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

/// A page to show, with its status.
enum Page {
    KeyForm {
        error: Option<String>,
    },
    ChooseOrganisation {
        session: String,
        organisations: Vec<Organisation>,
    },
    Done,
    AlreadyConnected,
    Problem {
        title: &'static str,
        message: String,
    },
}

/// What every form on the page carries along.
struct Context {
    company_id: String,
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
        }
    }

    /// Tells the page what the vendor's SR passthrough may do (read only, or also write).
    pub fn with_passthrough(mut self, settings: PassthroughSettings) -> Self {
        self.passthrough_writes = settings.allow_writes;
        self
    }

    pub async fn from_env() -> Result<Self, lambda_http::Error> {
        let config = Config::from_env()?;
        let aws = AwsClients::from_env().await;
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
        .with_passthrough(PassthroughSettings::from_env()))
    }

    /// The one handler behind `GET` and `POST {consentUrl}`.
    pub async fn handle(&self, request: Request) -> HandlerResult {
        if let Err(e) = require_body_within(&request, body_limits::CONSENT) {
            return Ok(self.render(e.status, problem("Too large", &e.message), None));
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
        if !is_valid_company_id(&company_id) {
            return bad_request(INVALID_COMPANY_ID);
        }
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
        if !is_valid_company_id(&form.company_id) {
            return bad_request(INVALID_COMPANY_ID);
        }
        if form
            .redirect
            .as_deref()
            .is_some_and(|r| !self.redirect_allowed(r))
        {
            return bad_request("The form was incomplete. Please reload the page and try again.");
        }
        let context = Context {
            company_id: form.company_id.clone(),
            redirect: form.redirect.clone(),
            csrf: form.csrf.clone(),
        };
        let address = client_address(request, self.allow_insecure);
        let (status, page) = match form.step.as_str() {
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
        let digest = hash_secret(key);
        let now = Utc::now();
        let record = match self.store.get_connect_key(&digest).await {
            Ok(r) => r.filter(|r| !key.is_empty() && r.usable(now)),
            Err(e) => {
                tracing::error!(error = %e, "connect key lookup failed");
                return unavailable_page();
            }
        };
        let vendor = &self.branding.vendor_name;
        let Some(record) = record else {
            let message = format!(
                "This connect key is not valid, has expired or was already used. Ask {vendor} for a new one."
            );
            return self.wrong_key(context, address, message).await;
        };
        if !record.allows_company(&context.company_id) {
            let message = format!(
                "This connect key was issued for another SmartRecruiters company. Ask {vendor} for a key for this one."
            );
            return self.wrong_key(context, address, message).await;
        }
        if let [only] = record.organisations.as_slice() {
            return self.connect(context, &digest, only).await;
        }
        let session = random_token(24);
        let stored = ConsentSession {
            company_id: context.company_id.clone(),
            key_digest: digest,
            organisations: record.organisations.clone(),
            expires_at: now.timestamp() + SESSION_SECONDS,
        };
        if let Err(e) = self
            .store
            .put_consent_session(&hash_secret(&session), &stored)
            .await
        {
            tracing::error!(error = %e, "could not store the consent session");
            return unavailable_page();
        }
        (
            StatusCode::OK,
            Page::ChooseOrganisation {
                session,
                organisations: record.organisations,
            },
        )
    }

    /// Counts a wrong key for the company and the client address. It is a 400 with `message`,
    /// or a 429 once the address or the company has seen too many wrong keys in the window.
    async fn wrong_key(
        &self,
        context: &Context,
        address: Option<&str>,
        message: String,
    ) -> (StatusCode, Page) {
        let now = Utc::now();
        let mut counters = vec![FailureCounter::Company(&context.company_id)];
        counters.extend(address.map(FailureCounter::Address));
        let (mut company_failures, mut address_failures) = (0, 0);
        for counter in counters {
            match self
                .store
                .record_consent_failure(counter, FAILURE_WINDOW_SECONDS, now)
                .await
            {
                Ok(n) if matches!(counter, FailureCounter::Company(_)) => company_failures = n,
                Ok(n) => address_failures = n,
                Err(e) => tracing::error!(error = %e, "could not count a failed connect key"),
            }
        }
        tracing::info!(company_id = %context.company_id, "wrong, expired, used or misdirected connect key");
        let too_many = if address_failures > MAX_ADDRESS_FAILURES {
            Some(("from one address", address_failures, "from your network"))
        } else if company_failures > MAX_COMPANY_FAILURES {
            Some(("for one company", company_failures, "for this company"))
        } else {
            None
        };
        if let Some((counted, failures, whose)) = too_many {
            tracing::warn!(company_id = %context.company_id, failures, counted, "many wrong connect keys");
            return (
                StatusCode::TOO_MANY_REQUESTS,
                problem(
                    "Too many attempts",
                    format!("Too many wrong connect keys were tried {whose}. Please check the key and try again in 15 minutes."),
                ),
            );
        }
        (
            StatusCode::BAD_REQUEST,
            Page::KeyForm {
                error: Some(message),
            },
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
        let stored = match self.store.get_consent_session(&hash_secret(session)).await {
            Ok(s) => s.filter(|s| {
                s.company_id == context.company_id && s.expires_at > Utc::now().timestamp()
            }),
            Err(e) => {
                tracing::error!(error = %e, "consent session lookup failed");
                return unavailable_page();
            }
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
        let onboarding = Onboarding {
            store: &self.store,
            secrets: &self.secrets,
            sr: &self.sr,
            partner_credential_secret_id: &self.partner_credential_secret_id,
            notifications: &self.notifications,
        };
        match onboarding
            .connect_with_key(key_digest, &context.company_id, &organisation.id, Utc::now())
            .await
        {
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
                tracing::warn!(company_id = %context.company_id, error = %e, "consent failed");
                self.onboarding_problem(&e)
            }
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

    fn render(&self, status: StatusCode, page: Page, context: Option<Context>) -> Response<Body> {
        if let (
            Page::Done,
            Some(Context {
                redirect: Some(to), ..
            }),
        ) = (&page, &context)
        {
            let mut response = Response::new(Body::Empty);
            *response.status_mut() = StatusCode::SEE_OTHER;
            if let Ok(location) = HeaderValue::from_str(to) {
                response.headers_mut().insert(header::LOCATION, location);
            }
            self.secure_headers(&mut response, "");
            return response;
        }
        let nonce = random_token(16);
        let markup = self.layout(&nonce, self.body(&page, context.as_ref()));
        let mut response = Response::new(Body::Text(markup.into_string()));
        *response.status_mut() = status;
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        self.secure_headers(&mut response, &nonce);
        if let Some(context) = &context {
            let secure = if self.allow_insecure { "" } else { "; Secure" };
            let cookie = format!(
                "{CSRF_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age=3600{secure}",
                context.csrf
            );
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
        }
        response
    }

    /// CSP: no scripts at all, styles only with this response's nonce, forms only to ourselves
    /// (and, for the post-consent redirect, to SR), never framed.
    fn secure_headers(&self, response: &mut Response<Body>, nonce: &str) {
        let mut form_action = vec!["'self'".to_string()];
        for host in &self.redirect_hosts {
            form_action.push(format!("https://{host}"));
            form_action.push(format!("https://*.{host}"));
        }
        if self.allow_insecure {
            form_action.push("http://127.0.0.1:*".into());
            form_action.push("http://localhost:*".into());
        }
        let csp = format!(
            "default-src 'none'; style-src 'nonce-{nonce}'; img-src https: data:; form-action {}; frame-ancestors 'none'; base-uri 'none'",
            form_action.join(" ")
        );
        let headers = response.headers_mut();
        if let Ok(value) = HeaderValue::from_str(&csp) {
            headers.insert(header::CONTENT_SECURITY_POLICY, value);
        }
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
    }

    fn layout(&self, nonce: &str, body: Markup) -> Markup {
        let vendor = &self.branding.vendor_name;
        html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { "Connect " (vendor) " to SmartRecruiters" }
                    style nonce=(nonce) { (PreEscaped(STYLE)) }
                }
                body {
                    main {
                        header {
                            @if let Some(logo) = &self.branding.logo_url {
                                img.logo src=(logo) alt=(vendor);
                            } @else {
                                p.brand { (vendor) }
                            }
                        }
                        section.card { (body) }
                    }
                }
            }
        }
    }

    fn body(&self, page: &Page, context: Option<&Context>) -> Markup {
        let vendor = &self.branding.vendor_name;
        match (page, context) {
            (Page::KeyForm { error }, Some(c)) => html! {
                h1 { "Connect " (vendor) " to SmartRecruiters" }
                p { "SmartRecruiters company " code { (c.company_id) } }
                @if let Some(e) = error {
                    p #error .error role="alert" { (e) }
                } @else {
                    p { "Once connected:" }
                    ul {
                        li { "SmartRecruiters may list the assessment packages " (vendor) " offers, order assessments for candidates (name, e-mail, job) and receive statuses, scores and reports;" }
                        li #vendor-reads {
                            (vendor) " may " (if self.passthrough_writes { "read and change" } else { "read" })
                            " in SmartRecruiters, with your company's credentials: " (passthrough_reads()) "."
                        }
                    }
                }
                form #consent-form method="post" {
                    (hidden_fields(c))
                    input type="hidden" name="step" value="key";
                    label for="connect-key" { "Connect key from " (vendor) }
                    input #connect-key type="text" name="connect_key" autocomplete="off" spellcheck="false" required;
                    button #give-consent type="submit" { "Give consent" }
                }
            },
            (
                Page::ChooseOrganisation {
                    session,
                    organisations,
                },
                Some(c),
            ) => html! {
                h1 { "Choose your organisation" }
                p { "Your connect key belongs to several " (vendor) " organisations. Which one should SmartRecruiters company " code { (c.company_id) } " use?" }
                form #choose-form method="post" {
                    (hidden_fields(c))
                    input type="hidden" name="step" value="choose";
                    input type="hidden" name="session" value=(session);
                    fieldset {
                        legend { "Organisation" }
                        @for (i, o) in organisations.iter().enumerate() {
                            div.option {
                                input type="radio" name="organisation" id={"org-" (i)} value=(o.id) required checked[i == 0];
                                label for={"org-" (i)} { (o.name) }
                            }
                        }
                    }
                    button #give-consent type="submit" { "Give consent" }
                }
            },
            (Page::Done, _) => html! {
                h1 #done { "Connected" }
                p { "SmartRecruiters and " (vendor) " are now connected. You can close this window." }
            },
            (Page::AlreadyConnected, Some(c)) => html! {
                h1 #done { "Already connected" }
                p { "SmartRecruiters company " code { (c.company_id) } " is already connected to " (vendor) ". You can close this window." }
            },
            (Page::Problem { title, message }, _) => html! {
                h1 { (title) }
                p #error .error role="alert" { (message) }
            },
            (_, None) => html! {
                h1 { "Something went wrong" }
                p #error .error role="alert" { "Please reload the page." }
            },
        }
    }
}

/// What the vendor's SR passthrough reaches ([`TEMPLATES`]), in words: "a candidate, a job, …
/// (each by its id), and the list of departments".
fn passthrough_reads() -> String {
    let (by_id, whole): (Vec<_>, Vec<_>) = TEMPLATES.iter().partition(|t| t.template.contains('{'));
    let words = |list: Vec<&crate::passthrough::PathTemplate>| {
        list.iter().map(|t| t.reads).collect::<Vec<_>>().join(", ")
    };
    match (by_id.is_empty(), whole.is_empty()) {
        (false, false) => format!("{} (each by its id), and {}", words(by_id), words(whole)),
        (false, true) => format!("{} (each by its id)", words(by_id)),
        _ => words(whole),
    }
}

fn hidden_fields(c: &Context) -> Markup {
    html! {
        input type="hidden" name="company_id" value=(c.company_id);
        input type="hidden" name="csrf" value=(c.csrf);
        @if let Some(r) = &c.redirect { input type="hidden" name="redirect" value=(r); }
    }
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

/// Double-submit check: the form's token must equal the cookie set with the page.
fn csrf_matches(request: &Request, presented: &str) -> bool {
    let cookie = request
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == CSRF_COOKIE)
        .map(|(_, value)| value.to_string());
    match cookie {
        Some(c) if !presented.is_empty() => c.as_bytes().ct_eq(presented.as_bytes()).into(),
        _ => false,
    }
}

fn problem(title: &'static str, message: impl Into<String>) -> Page {
    Page::Problem {
        title,
        message: message.into(),
    }
}

fn bad_request(message: &str) -> (StatusCode, Page, Option<Context>) {
    (
        StatusCode::BAD_REQUEST,
        problem("Something went wrong", message),
        None,
    )
}

fn unavailable_page() -> (StatusCode, Page) {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        problem(
            "Please try again",
            "SmartRecruiters or our service could not be reached. Nothing was changed; please try again in a moment.",
        ),
    )
}

/// Fits a 600 px popup: fluid widths, nothing fixed wider than the viewport.
const STYLE: &str = "*{box-sizing:border-box}\
body{margin:0;font:15px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif;color:#1f2933;background:#f5f7fa}\
main{max-width:560px;margin:0 auto;padding:10px 12px}\
header{margin-bottom:6px}.logo{max-width:100%;max-height:32px}.brand{font-weight:700;font-size:17px;margin:0}\
.card{background:#fff;border-radius:8px;padding:12px 16px;box-shadow:0 1px 3px rgba(0,0,0,.15)}\
h1{font-size:19px;margin:0 0 6px}p{margin:4px 0}ul{padding-left:20px;margin:2px 0 6px}\
code{overflow-wrap:anywhere;background:#eef2f7;padding:0 4px;border-radius:3px}\
label{display:block;font-weight:600;margin:8px 0 4px}\
input[type=text]{width:100%;padding:8px;font-size:16px;border:1px solid #9aa5b1;border-radius:4px}\
fieldset{border:1px solid #d3dae3;border-radius:4px;margin:6px 0;padding:6px 12px}\
.option{display:flex;align-items:center;gap:8px}.option label{display:inline;margin:3px 0;font-weight:400}\
button{width:100%;margin-top:10px;padding:10px;font-size:16px;font-weight:600;background:#0b6ff4;color:#fff;border:0;border-radius:4px;cursor:pointer}\
.error{color:#b42318;font-weight:600}";
