//! The vendor API: the vendor platform's entry point, shaped like Kombo's assessment API
//! (`Authorization: Bearer <key>`, `X-Integration-Id`, `{status, data, warnings}` envelope).

use chrono::Utc;
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};

use crate::auth::credentials::random_token;
use crate::auth::hash_secret;
use crate::auth::{KeyScope, VendorKeyVerifier};
use crate::aws::LazyAwsClients;
use crate::config::Config;
use crate::http::{
    bearer_token, body_bytes, header_text, parse_json, query_param, require_body_within,
    require_storable, require_stored_size_within, ApiError,
};
use crate::ids::{CompanyId, IdError, IntegrationId, OrderId};
use crate::kombo::errors::vendor_error_response;
use crate::notifications::Notifications;
use crate::orders::{Order, VendorOrderStatus};
use crate::packages::{validate_packages_with, UrlRules, VendorPackage};
use crate::passthrough::{Passthrough, PassthroughRequest, PassthroughSettings};
use crate::privacy::{self, CandidateSelector};
use crate::queue::ResultsQueue;
use crate::results::submit::{self, ResultRequest, SubmitError, Submitted};
use crate::results::{without_inline_data, ResultSubmission, MAX_STORED_RESULT_BYTES};
use crate::secrets::Secrets;
use crate::sr::{AssessmentType, SrClient};
use crate::store::{ConnectKeyRecord, EventCursor, OrderCursor, OrderFilter, Organisation, Store};

use super::partner::HandlerResult;

mod routes;
mod views;

use routes::{Access, Handler, Lookup};

use views::{
    package_views, success, ConnectKeyView, DryRunView, EventView, FileView, OrderView,
    PackagesView, PutPackagesView, ResultView,
};

const DEFAULT_PAGE_SIZE: usize = 100;
const MAX_PAGE_SIZE: usize = 250;

pub struct VendorApi {
    store: Store,
    queue: ResultsQueue,
    keys: VendorKeyVerifier,
    /// `POST /assessment/passthrough/sr`; without it that route answers 501.
    passthrough: Option<Passthrough>,
    /// Whether create-inline-order can ask the vendor for assessment URLs (the stack has a
    /// `WebhookUrl`); without, an inline package needs its `inline_url_template`.
    vendor_answers_inline_urls: bool,
    /// What the catalog's URLs may be (loopback http on local stacks only).
    url_rules: UrlRules,
    /// Where erasures announce `candidate.erased`.
    notifications: Notifications,
}

#[derive(Deserialize)]
struct PutPackages {
    packages: Vec<VendorPackage>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewConnectKey {
    organisations: Vec<Organisation>,
    #[serde(default)]
    expires_in_hours: Option<u32>,
    /// The SR company the key is for; the consent page then refuses any other company.
    #[serde(default)]
    company_id: Option<String>,
}

/// The body of the candidate erasure and export routes: exactly one of the two.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CandidateBody {
    #[serde(default)]
    candidate_id: Option<String>,
    #[serde(default)]
    email: Option<String>,
}

/// The candidate a request names (400 naming the field otherwise).
fn candidate_selector(request: &Request) -> Result<CandidateSelector, ApiError> {
    let body: CandidateBody = parse_json(body_bytes(request))?;
    let given = |v: Option<String>| v.filter(|v| !v.trim().is_empty());
    match (given(body.candidate_id), given(body.email)) {
        (Some(id), None) if id.len() <= 256 => Ok(CandidateSelector::CandidateId(id)),
        (None, Some(email)) if email.len() <= 320 && email.contains('@') => {
            Ok(CandidateSelector::Email(email))
        }
        (Some(_), None) => Err(ApiError::bad_request(
            "INVALID_FIELD",
            "invalid field `candidate_id`: at most 256 characters",
        )
        .with_field("candidate_id")),
        (None, Some(_)) => Err(ApiError::bad_request(
            "INVALID_FIELD",
            "invalid field `email`: an e-mail address (with `@`, at most 320 characters)",
        )
        .with_field("email")),
        _ => Err(ApiError::bad_request(
            "INVALID_BODY",
            "name the candidate with exactly one of `candidate_id` (SR's candidate id) or `email`",
        )),
    }
}

fn privacy_error(error: privacy::PrivacyError) -> ApiError {
    match error {
        privacy::PrivacyError::Store(e) => e.into(),
    }
}

const DEFAULT_KEY_HOURS: u32 = 168;
const MAX_KEY_HOURS: u32 = 720;

impl VendorApi {
    pub fn new(store: Store, queue: ResultsQueue, keys: VendorKeyVerifier) -> Self {
        Self {
            store: store.clone(),
            queue,
            keys,
            passthrough: None,
            vendor_answers_inline_urls: false,
            url_rules: UrlRules::default(),
            notifications: Notifications::record_only(store),
        }
    }

    /// Queues the webhooks of the events it records (`candidate.erased`).
    pub fn with_notifications(mut self, notifications: Notifications) -> Self {
        self.notifications = notifications;
        self
    }

    /// Lets catalog URLs use plain http to a loopback host (local stacks only).
    pub fn with_url_rules(mut self, url_rules: UrlRules) -> Self {
        self.url_rules = url_rules;
        self
    }

    /// Enables the SR passthrough (company credentials from `secrets`, calls through `sr`).
    pub fn with_passthrough(mut self, passthrough: Passthrough) -> Self {
        self.passthrough = Some(passthrough);
        self
    }

    /// Lets inline packages go without `inline_url_template` (the vendor answers each order's
    /// URL; `kombo::inline`).
    pub fn with_vendor_inline_urls(mut self, enabled: bool) -> Self {
        self.vendor_answers_inline_urls = enabled;
        self
    }

    pub async fn from_env() -> Result<Self, lambda_http::Error> {
        let config = Config::from_env()?;
        let aws = LazyAwsClients::from_env().await;
        let secrets = Secrets::new(aws.secrets, config.secret_prefix);
        let url_rules = UrlRules {
            allow_loopback_http: config.sr.allow_insecure,
        };
        let passthrough = Passthrough::new(
            secrets.clone(),
            SrClient::new(config.sr),
            PassthroughSettings::from_env(),
        );
        let webhook_url = crate::webhooks::webhook_url(|name| std::env::var(name).ok())?;
        let store = Store::new(aws.dynamodb, config.table_name);
        let notifications = Notifications::new(
            store.clone(),
            aws.sqs.clone(),
            config.notifications_queue_url,
        );
        Ok(Self::new(
            store.clone(),
            ResultsQueue::new(aws.sqs, config.results_queue_url),
            VendorKeyVerifier::new(store, secrets, config.vendor_api_key_secret_id),
        )
        .with_notifications(notifications)
        .with_passthrough(passthrough)
        .with_url_rules(url_rules)
        .with_vendor_inline_urls(webhook_url.is_some()))
    }

    /// The one handler behind `ANY /assessment/{proxy+}`.
    pub async fn handle(&self, request: Request) -> HandlerResult {
        Ok(self
            .route(&request)
            .await
            .unwrap_or_else(|e| vendor_error_response(&e)))
    }

    /// Finds the request's row in [`routes::ROUTES`] and runs its handler, after the body
    /// size, the key, the integration and the key's scope are checked, in that order.
    async fn route(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let method = request.method();
        let path = request.uri().path();
        let found = routes::lookup(method, path);
        require_body_within(request, found.body_limit())?;
        let scope = self.authenticate(request).await?;
        let (route, param) = match found {
            Lookup::Found(route, param) => (route, param),
            missed => {
                // An integration's key learns nothing of routes beyond its integration.
                let integration = integration_id(request)?;
                require_own_integration(&scope, &integration)?;
                return Err(match missed {
                    Lookup::WrongMethod(route) if route.other_methods_are_405() => ApiError::new(
                        StatusCode::METHOD_NOT_ALLOWED,
                        "METHOD_NOT_ALLOWED",
                        format!("{method} is not supported on {path}"),
                    ),
                    _ => ApiError::not_found(
                        "ROUTE_NOT_FOUND",
                        format!("no vendor API route {method} {path}"),
                    ),
                });
            }
        };
        // The `X-Integration-Id` integration, once the key may reach it.
        let integration = || -> Result<IntegrationId, ApiError> {
            let integration = integration_id(request)?;
            match route.access {
                Access::Admin | Access::AdminOfIntegration => require_admin(&scope)?,
                Access::Integration => require_own_integration(&scope, &integration)?,
            }
            Ok(integration)
        };
        let id = param.as_deref().unwrap_or_default();
        match route.handler {
            // Its row's access is `Admin`: a connect key may span several organisations, so it
            // names no integration.
            Handler::CreateConnectKey => {
                require_admin(&scope)?;
                self.create_connect_key(request).await
            }
            Handler::VendorKeys => self.vendor_keys(request, param, &integration()?).await,
            Handler::ListEvents => self.list_events(request, &integration()?).await,
            Handler::PutPackages => self.put_packages(request, &integration()?).await,
            Handler::GetPackages => self.get_packages(&integration()?).await,
            Handler::ListOrders => self.list_orders(request, &integration()?).await,
            Handler::GetOrder => self.get_order(&integration()?, id).await,
            Handler::SubmitResult => self.submit_result(request, &integration()?, id).await,
            Handler::Passthrough => self.passthrough(request, &integration()?).await,
            Handler::EraseCandidate => self.erase_candidate(request, &integration()?).await,
            Handler::ExportCandidate => self.export_candidate(request, &integration()?).await,
            Handler::EraseOrder => self.erase_order(&integration()?, id).await,
        }
    }

    /// `POST /assessment/candidates/erase` `{"candidate_id"}` or `{"email"}`: erases every
    /// order of the candidate in this integration ([`privacy::erase_candidate`]); counts per kind.
    async fn erase_candidate(
        &self,
        request: &Request,
        integration: &IntegrationId,
    ) -> Result<Response<Body>, ApiError> {
        let candidate = candidate_selector(request)?;
        let report =
            privacy::erase_candidate(&self.notifications, integration, &candidate, Utc::now())
                .await
                .map_err(privacy_error)?;
        Ok(success(StatusCode::OK, report, vec![]))
    }

    /// `POST /assessment/candidates/export` `{"candidate_id"}` or `{"email"}`: everything held
    /// for the candidate ([`privacy::export_candidate`]).
    async fn export_candidate(
        &self,
        request: &Request,
        integration: &IntegrationId,
    ) -> Result<Response<Body>, ApiError> {
        let candidate = candidate_selector(request)?;
        let export = privacy::export_candidate(&self.notifications, integration, &candidate)
            .await
            .map_err(privacy_error)?;
        Ok(success(StatusCode::OK, export, vec![]))
    }

    /// `POST /assessment/orders/{orderId}/erase`: erases one order ([`privacy::erase_order`]).
    async fn erase_order(
        &self,
        integration: &IntegrationId,
        order_id: &str,
    ) -> Result<Response<Body>, ApiError> {
        let order_id = path_order_id(order_id)?;
        privacy::erase_order(&self.notifications, integration, &order_id, Utc::now())
            .await
            .map_err(privacy_error)?
            .map(|report| success(StatusCode::OK, report, vec![]))
            .ok_or_else(|| SubmitError::UnknownOrder(order_id).into())
    }

    /// `GET /assessment/orders/{orderId}`: the order with its result and file attachments.
    async fn get_order(
        &self,
        integration: &IntegrationId,
        order_id: &str,
    ) -> Result<Response<Body>, ApiError> {
        let order = self.order_of(integration, order_id).await?;
        let files = if crate::attachments::may_have_files(&order) {
            self.store.order_files(&order.order_id, false).await?
        } else {
            Vec::new()
        };
        let mut view = OrderView::detailed(&order);
        view.file_attachments = Some(files.iter().map(FileView::of).collect());
        Ok(success(StatusCode::OK, view, vec![]))
    }

    /// What the request's key may reach (see `auth::vendor_key`).
    async fn authenticate(&self, request: &Request) -> Result<KeyScope, ApiError> {
        let key = bearer_token(request).ok_or_else(|| {
            ApiError::unauthorized("Authorization: Bearer <vendor API key> is required")
        })?;
        self.keys
            .verify(key)
            .await?
            .ok_or_else(|| ApiError::unauthorized("the vendor API key is not valid"))
    }

    /// `POST|GET /assessment/vendor-keys` and `DELETE /assessment/vendor-keys/{keyId}` (admin key
    /// only): keys that reach the `X-Integration-Id` integration and nothing else.
    async fn vendor_keys(
        &self,
        request: &Request,
        key_id: Option<String>,
        integration: &IntegrationId,
    ) -> Result<Response<Body>, ApiError> {
        use crate::ops::vendor_key::{
            create_integration_key, list_integration_keys, revoke_integration_key,
        };
        #[derive(Deserialize, Default)]
        #[serde(deny_unknown_fields)]
        struct NewKey {
            #[serde(default)]
            label: Option<String>,
        }
        #[derive(Serialize)]
        struct Keys<T: Serialize> {
            results: Vec<T>,
        }
        if let Some(key_id) = key_id {
            return revoke_integration_key(&self.store, integration, &key_id, Utc::now())
                .await?
                .map(|revoked| success(StatusCode::OK, revoked, vec![]))
                .ok_or_else(|| {
                    ApiError::not_found(
                        "KEY_NOT_FOUND",
                        format!("integration `{integration}` has no vendor API key `{key_id}`"),
                    )
                });
        }
        if request.method() == Method::GET {
            let results = list_integration_keys(&self.store, integration).await?;
            return Ok(success(StatusCode::OK, Keys { results }, vec![]));
        }
        let bytes = body_bytes(request);
        let body: NewKey = if bytes.iter().all(u8::is_ascii_whitespace) {
            NewKey::default()
        } else {
            parse_json(bytes)?
        };
        let created =
            create_integration_key(&self.store, integration, body.label.as_deref(), Utc::now())
                .await?;
        Ok(success(StatusCode::CREATED, created, vec![]))
    }

    async fn put_packages(
        &self,
        request: &Request,
        integration: &str,
    ) -> Result<Response<Body>, ApiError> {
        let body: PutPackages = parse_json(body_bytes(request))?;
        for (i, package) in body.packages.iter().enumerate() {
            let availability = serde_json::to_value(&package.availability).unwrap_or_default();
            require_storable(&availability, &format!("packages[{i}].availability"))?;
        }
        let packages = validate_packages_with(body.packages, self.url_rules).map_err(|e| {
            ApiError::bad_request("INVALID_FIELD", e.to_string()).with_field(e.field)
        })?;
        if !self.vendor_answers_inline_urls {
            let untemplated = packages.iter().position(|p| {
                p.package.kind == AssessmentType::InlineAssessment
                    && p.inline_url_template.is_none()
            });
            if let Some(i) = untemplated {
                let field = format!("packages[{i}].inline_url_template");
                return Err(ApiError::bad_request(
                    "INVALID_FIELD",
                    format!(
                        "invalid field `{field}`: is required for INLINE_ASSESSMENT packages on \
                         this deployment (it has no WebhookUrl to ask for each order's URL)"
                    ),
                )
                .with_field(field));
            }
        }
        let replaced =
            crate::packages::replace::replace(&self.store, integration, &packages).await?;
        let view = PutPackagesView {
            packages: package_views(Some(&replaced.catalog)),
            changes: replaced.changes,
        };
        Ok(success(StatusCode::OK, view, vec![]))
    }

    async fn get_packages(&self, integration: &str) -> Result<Response<Body>, ApiError> {
        let catalog = self.store.get_catalog(integration).await?;
        let packages = package_views(catalog.as_ref());
        Ok(success(StatusCode::OK, PackagesView { packages }, vec![]))
    }

    /// `POST /assessment/connect-keys`: a one-time key for the customer's admin to paste on the
    /// consent page. Returned once; only its digest is stored.
    async fn create_connect_key(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let body: NewConnectKey = parse_json(body_bytes(request))?;
        if body.organisations.is_empty() || body.organisations.len() > 20 {
            return Err(ApiError::bad_request(
                "INVALID_FIELD",
                "invalid field `organisations`: list 1 to 20 organisations",
            ));
        }
        for (i, o) in body.organisations.iter().enumerate() {
            if IntegrationId::parse(&o.id).is_err() || o.name.trim().is_empty() {
                return Err(ApiError::bad_request(
                    "INVALID_FIELD",
                    format!("invalid field `organisations[{i}]`: id (1-128 characters) and name are required"),
                ));
            }
        }
        let company_id = body.company_id.map(|c| c.trim().to_string());
        if company_id
            .as_deref()
            .is_some_and(|c| CompanyId::parse(c).is_err())
        {
            return Err(ApiError::bad_request(
                "INVALID_FIELD",
                "invalid field `company_id`: an SR company id of 1 to 256 letters, digits and _ + = . @ - (not `.` or `..`)",
            )
            .with_field("company_id"));
        }
        let hours = body.expires_in_hours.unwrap_or(DEFAULT_KEY_HOURS);
        if !(1..=MAX_KEY_HOURS).contains(&hours) {
            return Err(ApiError::bad_request(
                "INVALID_FIELD",
                format!("invalid field `expires_in_hours`: must be 1 to {MAX_KEY_HOURS}"),
            ));
        }
        let now = Utc::now();
        let expires_at = now + chrono::Duration::hours(i64::from(hours));
        let key = format!("ck_{}", random_token(32));
        let record = ConnectKeyRecord {
            organisations: body.organisations,
            company_id,
            created_at: now,
            expires_at: expires_at.timestamp(),
            used_at: None,
            used_by_company: None,
            claimed_by: None,
            claimed_until: None,
        };
        self.store
            .put_connect_key(&hash_secret(&key), &record)
            .await?;
        tracing::info!(
            organisations = record.organisations.len(),
            "connect key created"
        );
        let view = ConnectKeyView {
            connect_key: key,
            expires_at,
            organisations: &record.organisations,
            company_id: record.company_id.as_deref(),
        };
        Ok(success(StatusCode::CREATED, view, vec![]))
    }

    async fn list_events(
        &self,
        request: &Request,
        integration: &str,
    ) -> Result<Response<Body>, ApiError> {
        let page_size = page_size(request)?;
        let cursor = cursor(request, EventCursor::decode)?;
        let page = self
            .store
            .list_events(integration, cursor.as_ref(), page_size)
            .await?;
        #[derive(Serialize)]
        struct Page {
            next: Option<String>,
            results: Vec<EventView>,
        }
        Ok(success(
            StatusCode::OK,
            Page {
                next: page.next,
                results: page.events.into_iter().map(EventView::from).collect(),
            },
            vec![],
        ))
    }

    /// `GET /assessment/orders`: Kombo's filters `statuses` and `ids` (comma-separated),
    /// `created_after` (ISO 8601), `page_size` (1–250, default 100) and `cursor`; `status` (one
    /// status) is kept for callers of the earlier API.
    async fn list_orders(
        &self,
        request: &Request,
        integration: &str,
    ) -> Result<Response<Body>, ApiError> {
        let filter = order_filter(request)?;
        let page_size = page_size(request)?;
        let cursor = cursor(request, |c| OrderCursor::decode(c, integration))?;
        let page = self
            .store
            .list_orders(integration, &filter, cursor.as_ref(), page_size)
            .await?;
        #[derive(Serialize)]
        struct Page<'a> {
            next: Option<String>,
            results: Vec<OrderView<'a>>,
        }
        let results = page.orders.iter().map(OrderView::summary).collect();
        Ok(success(
            StatusCode::OK,
            Page {
                next: page.next,
                results,
            },
            vec![],
        ))
    }

    /// The order with its submissions and delivery attempts, if it belongs to `integration`
    /// (another integration's order is "not found").
    async fn order_of(
        &self,
        integration: &IntegrationId,
        order_id: &str,
    ) -> Result<Order, ApiError> {
        let order_id = path_order_id(order_id)?;
        self.store
            .get_integration_order(integration, &order_id, true)
            .await?
            .ok_or_else(|| SubmitError::UnknownOrder(order_id).into())
    }

    /// `PUT /assessment/orders/{id}/result`: parsed here, then stored as the next result
    /// version and queued ([`submit::submit`]); with `dry_run=true` checked and mapped the same
    /// way ([`submit::preview`]), answering what SR would get, storing and queueing nothing.
    async fn submit_result(
        &self,
        request: &Request,
        integration: &IntegrationId,
        order_id: &str,
    ) -> Result<Response<Body>, ApiError> {
        let dry_run = dry_run(request)?;
        let bytes = body_bytes(request);
        let submission: ResultSubmission = parse_json(bytes)?;
        // Inline file bytes are stored once, as their own items; the order keeps only a note.
        let vendor_body = without_inline_data(serde_json::from_slice(bytes).unwrap_or_default());
        require_storable(&vendor_body, "")?;
        require_stored_size_within(&vendor_body, MAX_STORED_RESULT_BYTES, "a result")?;
        let request_sha256 = crate::auth::credentials::hex_digest(bytes);
        // Where the order used to be looked up: a body or parameter error still comes first.
        let order_id = &path_order_id(order_id)?;
        let result_request = ResultRequest {
            integration,
            order_id,
            submission: &submission,
            vendor_body: &vendor_body,
            request_sha256: &request_sha256,
        };
        if dry_run {
            let preview = submit::preview(&self.store, result_request).await?;
            let view = DryRunView::of(&preview, &vendor_body);
            return Ok(success(StatusCode::OK, view, preview.warnings.clone()));
        }
        let (order, revision_of, warnings) =
            match submit::submit(&self.store, &self.queue, result_request).await? {
                Submitted::Stored {
                    order,
                    revision_of,
                    warnings,
                }
                | Submitted::Repeated {
                    order,
                    revision_of,
                    warnings,
                } => (order, revision_of, warnings),
            };
        Ok(success(
            StatusCode::OK,
            ResultView::of(&order, revision_of),
            warnings,
        ))
    }
}

/// The order id of an `/assessment/orders/{id}` path (decoded): one SR cannot have sent is an
/// order this integration does not have, a 404 as for any unknown order.
fn path_order_id(decoded: &str) -> Result<OrderId, ApiError> {
    OrderId::parse(decoded).map_err(|_| super::unknown_order(decoded))
}

/// `dry_run=true|false` (absent: false).
fn dry_run(request: &Request) -> Result<bool, ApiError> {
    match query_param(request, "dry_run").as_deref() {
        None => Ok(false),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(_) => Err(invalid_parameter("dry_run", "must be true or false")),
    }
}

impl VendorApi {
    /// `POST /assessment/passthrough/sr`: one SR Customer API call with the credentials of a
    /// company connected to this integration (see `crate::passthrough` for what is allowed).
    /// SR's own answer, whatever its status, comes back as 200 `{url, status, headers, data}`;
    /// 502 only when SR could not be asked at all.
    async fn passthrough(
        &self,
        request: &Request,
        integration: &IntegrationId,
    ) -> Result<Response<Body>, ApiError> {
        let Some(passthrough) = &self.passthrough else {
            return Err(ApiError::new(
                StatusCode::NOT_IMPLEMENTED,
                "PASSTHROUGH_DISABLED",
                "the SmartRecruiters passthrough is not configured on this deployment",
            ));
        };
        let body: PassthroughRequest = parse_json(body_bytes(request))?;
        let answer = passthrough.call(&self.store, integration, &body).await?;
        Ok(success(StatusCode::OK, answer, vec![]))
    }
}

fn page_size(request: &Request) -> Result<usize, ApiError> {
    match query_param(request, "page_size") {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
            .ok_or_else(|| invalid_parameter("page_size", "must be a whole number from 1 to 250")),
    }
}

/// Most ids one `ids` filter may name (a page's worth).
const MAX_FILTER_IDS: usize = 250;

fn invalid_parameter(name: &str, reason: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(
        "INVALID_PARAMETER",
        format!("query parameter `{name}` {reason}"),
    )
    .with_field(name)
}

/// A comma-separated list parameter (`statuses=OPEN,COMPLETED`), blanks dropped; `None` when
/// absent.
fn list_param(request: &Request, name: &str) -> Option<Vec<String>> {
    query_param(request, name).map(|raw| {
        raw.split(',')
            .map(|item| item.trim().to_string())
            .filter(|item| !item.is_empty())
            .collect()
    })
}

fn order_filter(request: &Request) -> Result<OrderFilter, ApiError> {
    let mut statuses = Vec::new();
    let names = list_param(request, "statuses")
        .into_iter()
        .flatten()
        .map(|s| ("statuses", s))
        .chain(query_param(request, "status").map(|s| ("status", s)));
    for (param, name) in names {
        let status = VendorOrderStatus::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(&name))
            .ok_or_else(|| {
                invalid_parameter(
                    param,
                    format!("has `{name}`; statuses are OPEN, COMPLETED, CANCELLED and REJECTED"),
                )
            })?;
        if !statuses.contains(&status) {
            statuses.push(status);
        }
    }
    let ids = list_param(request, "ids");
    if ids.as_ref().is_some_and(|ids| ids.len() > MAX_FILTER_IDS) {
        return Err(invalid_parameter(
            "ids",
            format!("names more than {MAX_FILTER_IDS} orders"),
        ));
    }
    // SR order ids are at most 128 characters (`OrderId`); a longer one would exceed DynamoDB's
    // key size and fail the read as a 503. Only the length is refused: an id SR cannot have
    // otherwise just matches no order, as before.
    if let Some(long) = ids.iter().flatten().find(|id| id.len() > OrderId::MAX_LEN) {
        return Err(invalid_parameter(
            "ids",
            format!(
                "has an id of {} characters; order ids are at most 128",
                long.chars().count()
            ),
        ));
    }
    let created_after = match query_param(request, "created_after") {
        None => None,
        // A `+` of an offset arrives as a space when the client did not percent-encode it.
        Some(raw) => Some(
            crate::results::parse_lenient_time(&raw.replace(' ', "+")).ok_or_else(|| {
                invalid_parameter(
                    "created_after",
                    "must be an ISO 8601 date-time such as 2026-05-01T09:30:00Z",
                )
            })?,
        ),
    };
    Ok(OrderFilter {
        statuses,
        ids,
        created_after,
    })
}

/// The `cursor` parameter decoded by `decode` (absent: the list's start); one this list did
/// not make is a 400 naming the parameter.
fn cursor<C>(
    request: &Request,
    decode: impl FnOnce(&str) -> Option<C>,
) -> Result<Option<C>, ApiError> {
    query_param(request, "cursor")
        .map(|raw| {
            decode(&raw).ok_or_else(|| {
                invalid_parameter("cursor", "is not a cursor of this integration's list")
            })
        })
        .transpose()
}

/// A per-integration key reaches its own integration only.
fn require_own_integration(scope: &KeyScope, integration: &str) -> Result<(), ApiError> {
    match scope {
        KeyScope::Integration(own) if own != integration => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "KEY_NOT_FOR_INTEGRATION",
            "this vendor API key belongs to another integration than `X-Integration-Id` names",
        )),
        _ => Ok(()),
    }
}

/// Connect keys and key management need the admin key.
fn require_admin(scope: &KeyScope) -> Result<(), ApiError> {
    match scope {
        KeyScope::Admin => Ok(()),
        KeyScope::Integration(_) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "ADMIN_KEY_REQUIRED",
            "this needs the vendor API's admin key; a per-integration key reaches its integration's orders, packages, events and passthrough only",
        )),
    }
}

/// The `X-Integration-Id` header (trimmed): absent or blank is `MISSING_INTEGRATION_ID`, too
/// long for a DynamoDB key (a 503 otherwise) `INVALID_INTEGRATION_ID`.
fn integration_id(request: &Request) -> Result<IntegrationId, ApiError> {
    let text = header_text(request, "x-integration-id").map(str::trim);
    IntegrationId::parse(text.unwrap_or_default()).map_err(|e| match e {
        IdError::TooLong { max } => ApiError::bad_request(
            "INVALID_INTEGRATION_ID",
            format!("header `X-Integration-Id` is longer than {max} characters"),
        )
        .with_field("X-Integration-Id"),
        IdError::Empty | IdError::Character => ApiError::bad_request(
            "MISSING_INTEGRATION_ID",
            "header `X-Integration-Id` is required: it names the customer connection",
        )
        .with_field("X-Integration-Id"),
    })
}
