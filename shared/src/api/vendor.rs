//! The vendor API: the vendor platform's entry point, shaped like Kombo's assessment API
//! (`Authorization: Bearer <key>`, `X-Integration-Id`, `{status, data, warnings}` envelope).

use chrono::Utc;
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};

use crate::auth::credentials::random_token;
use crate::auth::hash_secret;
use crate::auth::VendorKeyVerifier;
use crate::aws::AwsClients;
use crate::config::Config;
use crate::http::{
    bearer_token, body_bytes, body_limits, decode_segment, header_text, json_response, parse_json,
    query_param, require_body_within, require_storable, require_stored_size_within, segments_after,
    vendor_error_response, ApiError,
};
use crate::orders::{DeliveryAttempt, DeliveryState, Order, Submission, VendorOrderStatus};
use crate::packages::{validate_packages, Availability, Catalog, ReplaceSummary, VendorPackage};
use crate::passthrough::{Passthrough, PassthroughRequest, PassthroughSettings};
use crate::queue::{QueueMessage, ResultsQueue};
use crate::results::{
    decide, file_attachments, to_package_result, without_inline_data, AttachmentError,
    ResultSubmission, MAX_INLINE_FILE_BYTES, MAX_STORED_RESULT_BYTES,
};
use crate::secrets::{SecretError, Secrets};
use crate::sr::{AssessmentPackage, PackageResult, ResultStatus, SrClient, SrClientError};
use crate::store::{
    CompanyStatus, ConnectKeyRecord, Event, FileSource, FileState, Organisation, ResultWrite,
    Store, StoreError, StoredFile, UploadedFile,
};

use super::partner::HandlerResult;

const DEFAULT_PAGE_SIZE: usize = 100;
const MAX_PAGE_SIZE: usize = 250;
/// Optimistic-lock retries when two writers race on the same order or catalog.
const WRITE_ATTEMPTS: usize = 3;

pub struct VendorApi {
    store: Store,
    queue: ResultsQueue,
    keys: VendorKeyVerifier,
    /// `POST /assessment/passthrough/sr`; without it that route answers 501.
    passthrough: Option<Passthrough>,
}

#[derive(Serialize)]
struct Envelope<T: Serialize> {
    status: &'static str,
    data: T,
    warnings: Vec<Warning>,
}

#[derive(Serialize)]
struct Warning {
    message: String,
}

fn success<T: Serialize>(status: StatusCode, data: T, warnings: Vec<String>) -> Response<Body> {
    json_response(
        status,
        &Envelope {
            status: "success",
            data,
            warnings: warnings
                .into_iter()
                .map(|message| Warning { message })
                .collect(),
        },
    )
}

#[derive(Deserialize)]
struct PutPackages {
    packages: Vec<VendorPackage>,
}

/// A catalog package as the vendor sees it: SR's package plus the vendor-only settings.
#[derive(Serialize)]
struct PackageView<'a> {
    #[serde(flatten)]
    package: &'a AssessmentPackage,
    #[serde(skip_serializing_if = "Option::is_none")]
    inline_url_template: Option<&'a str>,
    availability: &'a Availability,
}

fn package_views(catalog: Option<&Catalog>) -> Vec<PackageView<'_>> {
    catalog
        .map(|c| {
            c.packages
                .values()
                .filter(|e| !e.deleted)
                .map(|e| PackageView {
                    package: &e.package,
                    inline_url_template: e.inline_url_template.as_deref(),
                    availability: &e.availability,
                })
                .collect()
        })
        .unwrap_or_default()
}

#[derive(Serialize)]
struct PackagesView<'a> {
    packages: Vec<PackageView<'a>>,
}

#[derive(Serialize)]
struct PutPackagesView<'a> {
    packages: Vec<PackageView<'a>>,
    changes: ReplaceSummary,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewConnectKey {
    organisations: Vec<Organisation>,
    #[serde(default)]
    expires_in_hours: Option<u32>,
}

#[derive(Serialize)]
struct ConnectKeyView<'a> {
    connect_key: String,
    expires_at: chrono::DateTime<Utc>,
    organisations: &'a [Organisation],
}

const DEFAULT_KEY_HOURS: u32 = 168;
const MAX_KEY_HOURS: u32 = 720;

impl VendorApi {
    pub fn new(store: Store, queue: ResultsQueue, keys: VendorKeyVerifier) -> Self {
        Self {
            store,
            queue,
            keys,
            passthrough: None,
        }
    }

    /// Enables the SR passthrough (company credentials from `secrets`, calls through `sr`).
    pub fn with_passthrough(mut self, passthrough: Passthrough) -> Self {
        self.passthrough = Some(passthrough);
        self
    }

    pub async fn from_env() -> Result<Self, lambda_http::Error> {
        let config = Config::from_env()?;
        let aws = AwsClients::from_env().await;
        let secrets = Secrets::new(aws.secrets, config.secret_prefix);
        let passthrough = Passthrough::new(
            secrets.clone(),
            SrClient::new(config.sr),
            PassthroughSettings::from_env(),
        );
        Ok(Self::new(
            Store::new(aws.dynamodb, config.table_name),
            ResultsQueue::new(aws.sqs, config.results_queue_url),
            VendorKeyVerifier::new(secrets, config.vendor_api_key_secret_id),
        )
        .with_passthrough(passthrough))
    }

    /// The one handler behind `ANY /assessment/{proxy+}`.
    pub async fn handle(&self, request: Request) -> HandlerResult {
        Ok(self
            .route(&request)
            .await
            .unwrap_or_else(|e| vendor_error_response(&e)))
    }

    async fn route(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        require_body_within(
            request,
            body_limits::vendor_api(request.method(), request.uri().path()),
        )?;
        self.authenticate(request).await?;
        let segments = segments_after(request.uri().path(), "assessment").unwrap_or_default();
        let method = request.method();
        // Connect keys may span several organisations, so they are not scoped to one integration.
        if segments.as_slice() == ["connect-keys"] && method == Method::POST {
            return self.create_connect_key(request).await;
        }
        let integration = integration_id(request)?;
        match segments.as_slice() {
            ["events"] if method == Method::GET => self.list_events(request, &integration).await,
            ["packages"] if method == Method::PUT => self.put_packages(request, &integration).await,
            ["packages"] if method == Method::GET => self.get_packages(&integration).await,
            ["orders"] if method == Method::GET => self.list_orders(request, &integration).await,
            ["orders", id] if method == Method::GET => {
                let order = self
                    .order_of(&integration, &decode_segment(id), History::Included)
                    .await?;
                let files = if crate::attachments::may_have_files(&order) {
                    self.store.order_files(&order.order_id, false).await?
                } else {
                    Vec::new()
                };
                let mut view = OrderView::detailed(&order);
                view.file_attachments = Some(files.iter().map(FileView::of).collect());
                Ok(success(StatusCode::OK, view, vec![]))
            }
            ["orders", id, "result"] if method == Method::PUT => {
                self.submit_result(request, &integration, &decode_segment(id))
                    .await
            }
            ["passthrough", "sr"] if method == Method::POST => {
                self.passthrough(request, &integration).await
            }
            ["packages"]
            | ["orders"]
            | ["orders", _]
            | ["orders", _, "result"]
            | ["passthrough", "sr"] => Err(ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "METHOD_NOT_ALLOWED",
                format!("{method} is not supported on {}", request.uri().path()),
            )),
            _ => Err(ApiError::not_found(
                "ROUTE_NOT_FOUND",
                format!("no vendor API route {method} {}", request.uri().path()),
            )),
        }
    }

    async fn authenticate(&self, request: &Request) -> Result<(), ApiError> {
        let key = bearer_token(request).ok_or_else(|| {
            ApiError::unauthorized("Authorization: Bearer <vendor API key> is required")
        })?;
        if self.keys.verify(key).await? {
            Ok(())
        } else {
            Err(ApiError::unauthorized("the vendor API key is not valid"))
        }
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
        let packages = validate_packages(body.packages)
            .map_err(|e| ApiError::bad_request("INVALID_FIELD", e.to_string()))?;
        for attempt in 1..=WRITE_ATTEMPTS {
            let now = Utc::now();
            let mut catalog = self
                .store
                .get_catalog(integration)
                .await?
                .unwrap_or_else(|| Catalog::empty(integration, now));
            let changes = catalog.replace(packages.clone(), now);
            catalog.version += 1;
            match self.store.put_catalog(&catalog).await {
                Ok(()) => {
                    tracing::info!(integration_id = %integration, created = changes.created.len(), updated = changes.updated.len(), deleted = changes.deleted.len(), "catalog replaced");
                    let view = PutPackagesView {
                        packages: package_views(Some(&catalog)),
                        changes,
                    };
                    return Ok(success(StatusCode::OK, view, vec![]));
                }
                Err(StoreError::Conflict) if attempt < WRITE_ATTEMPTS => continue,
                Err(e) => return Err(e.into()),
            }
        }
        unreachable!("the last attempt returns")
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
            if o.id.trim().is_empty() || o.id.len() > 128 || o.name.trim().is_empty() {
                return Err(ApiError::bad_request(
                    "INVALID_FIELD",
                    format!("invalid field `organisations[{i}]`: id (1-128 characters) and name are required"),
                ));
            }
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
            created_at: now,
            expires_at: expires_at.timestamp(),
            used_at: None,
            used_by_company: None,
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
        };
        Ok(success(StatusCode::CREATED, view, vec![]))
    }

    async fn list_events(
        &self,
        request: &Request,
        integration: &str,
    ) -> Result<Response<Body>, ApiError> {
        let page_size = page_size(request)?;
        let page = self
            .store
            .list_events(
                integration,
                query_param(request, "cursor").as_deref(),
                page_size,
            )
            .await
            .map_err(cursor_error)?;
        #[derive(Serialize)]
        struct Page {
            next: Option<String>,
            results: Vec<Event>,
        }
        Ok(success(
            StatusCode::OK,
            Page {
                next: page.next,
                results: page.events,
            },
            vec![],
        ))
    }

    async fn list_orders(
        &self,
        request: &Request,
        integration: &str,
    ) -> Result<Response<Body>, ApiError> {
        let status = match query_param(request, "status").as_deref() {
            None => None,
            Some(raw) => Some(
                serde_json::from_value::<VendorOrderStatus>(serde_json::Value::String(
                    raw.to_string(),
                ))
                .map_err(|_| {
                    ApiError::bad_request(
                        "INVALID_PARAMETER",
                        "query parameter `status` must be OPEN, COMPLETED or CANCELLED",
                    )
                })?,
            ),
        };
        let page_size = page_size(request)?;
        let page = self
            .store
            .list_orders(
                integration,
                status,
                query_param(request, "cursor").as_deref(),
                page_size,
            )
            .await
            .map_err(cursor_error)?;
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

    /// The order, if it belongs to `integration` (another integration's order is "not found");
    /// with its submissions and delivery attempts when `history` says so.
    async fn order_of(
        &self,
        integration: &str,
        order_id: &str,
        history: History,
    ) -> Result<Order, ApiError> {
        // SR order ids are at most 128 characters (see `orders::order_id_from_callback`).
        if order_id.len() > 128 {
            return Err(ApiError::not_found(
                "ORDER_NOT_FOUND",
                "there is no order with such a long id",
            ));
        }
        let order = match history {
            History::Included => self.store.get_order_with_history(order_id).await?,
            History::Left => self.store.get_order(order_id).await?,
        };
        order
            .filter(|o| o.integration_id == integration)
            .ok_or_else(|| {
                ApiError::not_found("ORDER_NOT_FOUND", format!("there is no order `{order_id}`"))
            })
    }

    async fn submit_result(
        &self,
        request: &Request,
        integration: &str,
        order_id: &str,
    ) -> Result<Response<Body>, ApiError> {
        let bytes = body_bytes(request);
        let submission: ResultSubmission = parse_json(bytes)?;
        // Inline file bytes are stored once, as their own items; the order keeps only a note.
        let vendor_body = without_inline_data(serde_json::from_slice(bytes).unwrap_or_default());
        require_storable(&vendor_body, "")?;
        require_stored_size_within(&vendor_body, MAX_STORED_RESULT_BYTES, "a result")?;
        // Names this submission's files, so a publisher still busy with an older one cannot
        // mark these uploaded.
        let revision = random_token(16);
        let mut files_stored = false;
        for attempt in 1..=WRITE_ATTEMPTS {
            let order = self.order_of(integration, order_id, History::Left).await?;
            let result = to_package_result(&submission, &order)
                .map_err(|e| ApiError::bad_request("INVALID_FIELD", e.to_string()))?;
            let files =
                file_attachments(&submission, MAX_INLINE_FILE_BYTES).map_err(attachment_error)?;
            let status = result.status.unwrap_or(ResultStatus::InProgress);
            let now = Utc::now();
            // The final-status rule: a different status after a final one is a 409, before
            // anything (files included) is stored or queued.
            let decision = decide(order.result_status(), order.result_version, status)
                .map_err(|e| ApiError::conflict("FINAL_STATUS", e.to_string()))?;
            let mut record = Submission {
                version: None,
                submitted_at: now,
                status,
                vendor_body: vendor_body.clone(),
                note: None,
                revision_of: decision.revision_of(),
            };
            if !files_stored {
                // Before the result is queued, so the publisher finds them; a write that loses
                // the race below is retried with the same files (re-writing them is harmless).
                for file in files {
                    let (file, data) =
                        crate::attachments::file_record(order_id, file, &revision, now);
                    self.store.put_file(&file, data.as_deref()).await?;
                }
                files_stored = true;
            }
            record.version = Some(order.result_version + 1);
            let write = ResultWrite {
                order_id,
                integration_id: integration,
                expected_version: order.result_version,
                result: &result,
                submission: &record,
                now,
            };
            match self.store.write_result(write).await {
                Ok(order) => {
                    self.queue
                        .send(&QueueMessage::Result {
                            order_id: order.order_id.clone(),
                            company_id: order.company_id.clone(),
                            version: order.result_version,
                        })
                        .await?;
                    tracing::info!(order_id, company_id = %order.company_id, version = order.result_version, status = status.as_str(), "result queued for SmartRecruiters");
                    return Ok(success(
                        StatusCode::ACCEPTED,
                        ResultView::of(&order, true),
                        vec![],
                    ));
                }
                Err(StoreError::Conflict) if attempt < WRITE_ATTEMPTS => continue,
                Err(e) => return Err(e.into()),
            }
        }
        unreachable!("the last attempt returns")
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
        integration: &str,
    ) -> Result<Response<Body>, ApiError> {
        let Some(passthrough) = &self.passthrough else {
            return Err(ApiError::new(
                StatusCode::NOT_IMPLEMENTED,
                "PASSTHROUGH_DISABLED",
                "the SmartRecruiters passthrough is not configured on this deployment",
            ));
        };
        let body: PassthroughRequest = parse_json(body_bytes(request))?;
        let base = &passthrough.sr.endpoints().customer_api_base_url;
        let call = crate::passthrough::prepare(&body, base, passthrough.settings).map_err(|e| {
            if e.is_forbidden() {
                ApiError::new(
                    StatusCode::FORBIDDEN,
                    "PASSTHROUGH_NOT_ALLOWED",
                    e.to_string(),
                )
            } else {
                ApiError::bad_request("INVALID_FIELD", e.to_string())
            }
        })?;
        let company_id = body.company_id.trim();
        let unknown = || {
            ApiError::not_found(
                "COMPANY_NOT_FOUND",
                format!("no company `{company_id}` is connected to this integration (field `company_id`)"),
            )
        };
        if company_id.is_empty() || company_id.len() > 128 {
            return Err(unknown());
        }
        let company = self
            .store
            .get_company(company_id)
            .await?
            .filter(|c| c.integration_id == integration)
            .ok_or_else(unknown)?;
        let disabled = || {
            ApiError::forbidden(format!(
                "company `{company_id}` has disabled the integration; its SmartRecruiters credentials are gone"
            ))
        };
        if company.status != CompanyStatus::Active {
            return Err(disabled());
        }
        let path = call.url.path().to_string();
        let answer = match passthrough.send(company_id, &call).await {
            Ok(answer) => answer,
            Err(SecretError::NotFound(_)) => return Err(disabled()),
            Err(e) => return Err(ApiError::unavailable(e.to_string())),
        }
        .map_err(|e| {
                tracing::warn!(integration_id = %integration, company_id, method = %call.method, path = %path, error = %e, "passthrough call failed");
                let message = match &e {
                    SrClientError::CredentialsRefused { .. } => {
                        "SmartRecruiters refused the company's credentials at its token endpoint".to_string()
                    }
                    other => format!("SmartRecruiters could not be reached: {other}"),
                };
                ApiError::new(StatusCode::BAD_GATEWAY, "SR_UNREACHABLE", message)
            })?;
        tracing::info!(integration_id = %integration, company_id, method = %call.method, path = %path, sr_status = answer.status, "passthrough call");
        if answer.truncated {
            return Err(ApiError::new(
                StatusCode::BAD_GATEWAY,
                "SR_ANSWER_TOO_LARGE",
                format!(
                    "SmartRecruiters answered more than {} bytes, more than the passthrough relays; narrow the request with `params`",
                    crate::passthrough::MAX_ANSWER_BYTES
                ),
            ));
        }
        let view = crate::passthrough::answer_of(&call.url, answer);
        Ok(success(StatusCode::OK, view, vec![]))
    }
}

/// 400 naming the field, or 413 for inline file data over the limit (the message says to use
/// `data_url`).
fn attachment_error(error: AttachmentError) -> ApiError {
    match error {
        AttachmentError::Invalid(e) => ApiError::bad_request("INVALID_FIELD", e.to_string()),
        too_large @ AttachmentError::TooLarge { .. } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "ATTACHMENT_TOO_LARGE",
            too_large.to_string(),
        ),
    }
}

fn page_size(request: &Request) -> Result<usize, ApiError> {
    match query_param(request, "page_size") {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(
                    "INVALID_PARAMETER",
                    "query parameter `page_size` must be a whole number from 1 to 250",
                )
            }),
    }
}

fn cursor_error(error: StoreError) -> ApiError {
    match error {
        StoreError::Corrupt { key, .. } if key == "cursor" => ApiError::bad_request(
            "INVALID_PARAMETER",
            "query parameter `cursor` is not a cursor of this integration's list",
        ),
        other => other.into(),
    }
}

fn integration_id(request: &Request) -> Result<String, ApiError> {
    header_text(request, "x-integration-id")
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .ok_or_else(|| {
            ApiError::bad_request(
                "MISSING_INTEGRATION_ID",
                "header `X-Integration-Id` is required: it names the customer connection",
            )
        })
        .and_then(|id| {
            // Integration ids are at most 128 characters (connect keys enforce it); a longer one
            // would exceed DynamoDB's key size and fail as a 503 instead of a clear 400.
            if id.len() > 128 {
                Err(ApiError::bad_request(
                    "INVALID_INTEGRATION_ID",
                    "header `X-Integration-Id` is longer than 128 characters",
                ))
            } else {
                Ok(id)
            }
        })
}

/// Whether an order is read with its history (its own items; only the order view needs it).
#[derive(Clone, Copy)]
enum History {
    Included,
    Left,
}

/// What `PUT …/result` answers: where the order's result now stands.
#[derive(Serialize)]
struct ResultView<'a> {
    order_id: &'a str,
    status: VendorOrderStatus,
    sr_status: Option<ResultStatus>,
    result_version: u64,
    delivery_state: DeliveryState,
    forwarded: bool,
}

impl<'a> ResultView<'a> {
    fn of(order: &'a Order, forwarded: bool) -> Self {
        Self {
            order_id: &order.order_id,
            status: order.vendor_status(),
            sr_status: order.result_status(),
            result_version: order.result_version,
            delivery_state: order.delivery_state,
            forwarded,
        }
    }
}

#[derive(Serialize)]
struct CandidateView<'a> {
    remote_id: &'a str,
    email: Option<&'a str>,
    first_name: &'a str,
    last_name: &'a str,
    phone: Option<&'a str>,
}

#[derive(Serialize)]
struct JobView<'a> {
    remote_id: &'a str,
    name: Option<&'a str>,
    job_code: Option<&'a str>,
}

/// A file attachment as the vendor sees it: what was submitted and where its upload stands.
#[derive(Serialize)]
struct FileView<'a> {
    name: &'a str,
    content_type: &'a str,
    /// `INLINE` or `DATA_URL`.
    source: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sha256: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data_url: Option<&'a str>,
    submitted_at: chrono::DateTime<Utc>,
    /// `PENDING`, `UPLOADED` or `FAILED`.
    state: FileState,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    uploaded: Option<&'a UploadedFile>,
}

impl<'a> FileView<'a> {
    fn of(file: &'a StoredFile) -> Self {
        let r = &file.record;
        let (source, size, sha256, data_url) = match &r.source {
            FileSource::Inline { sha256, size } => {
                ("INLINE", Some(*size), Some(sha256.as_str()), None)
            }
            FileSource::DataUrl { url } => ("DATA_URL", None, None, Some(url.as_str())),
        };
        Self {
            name: &r.name,
            content_type: &r.content_type,
            source,
            size,
            sha256,
            data_url,
            submitted_at: r.submitted_at,
            state: r.state,
            detail: r.detail.as_deref(),
            uploaded: r.uploaded.as_ref(),
        }
    }
}

#[derive(Serialize)]
struct DeliveryView<'a> {
    state: DeliveryState,
    result_version: u64,
    sent_version: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    attempts: Option<&'a [DeliveryAttempt]>,
}

/// An order in the vendor's vocabulary (Kombo's field names, plus SR-only fields).
#[derive(Serialize)]
struct OrderView<'a> {
    id: &'a str,
    package_id: &'a str,
    status: VendorOrderStatus,
    sr_status: Option<ResultStatus>,
    company_id: &'a str,
    candidate: CandidateView<'a>,
    job: JobView<'a>,
    requester: Option<&'a crate::sr::OrderRequester>,
    fields: &'a std::collections::BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    inline: Option<&'a crate::orders::InlineDetails>,
    created_at: chrono::DateTime<Utc>,
    updated_at: chrono::DateTime<Utc>,
    delivery: DeliveryView<'a>,
    /// SR's candidate, job and hiring team as the enrichment worker found them; `null` until
    /// then (or for good, when SR never answered).
    enrichment: Option<&'a crate::enrichment::OrderEnrichment>,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<&'a PackageResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    submissions: Option<&'a [Submission]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sr_candidate: Option<&'a crate::sr::Candidate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sr_job: Option<&'a crate::sr::Job>,
    /// Files of the result (uploaded to SR separately from the result itself).
    #[serde(skip_serializing_if = "Option::is_none")]
    file_attachments: Option<Vec<FileView<'a>>>,
}

impl<'a> OrderView<'a> {
    fn summary(order: &'a Order) -> Self {
        Self {
            id: &order.order_id,
            package_id: &order.package.id,
            status: order.vendor_status(),
            sr_status: order.result_status(),
            company_id: &order.company_id,
            candidate: CandidateView {
                remote_id: &order.candidate.id,
                email: order.candidate.email.as_deref(),
                first_name: &order.candidate.first_name,
                last_name: &order.candidate.last_name,
                phone: order.candidate.phone_number.as_deref(),
            },
            job: JobView {
                remote_id: &order.job.id,
                name: order.job.title.as_deref(),
                job_code: order.job.ref_number.as_deref(),
            },
            requester: order.requester.as_ref(),
            fields: &order.fields,
            inline: order.inline.as_ref(),
            created_at: order.created_at,
            updated_at: order.updated_at,
            delivery: DeliveryView {
                state: order.delivery_state,
                result_version: order.result_version,
                sent_version: order.sent_version,
                attempts: None,
            },
            result: None,
            submissions: None,
            sr_candidate: None,
            sr_job: None,
            enrichment: order.enrichment.as_ref(),
            file_attachments: None,
        }
    }

    /// The summary plus result, submission and delivery history, and SR's raw candidate/job.
    fn detailed(order: &'a Order) -> Self {
        let mut view = Self::summary(order);
        view.delivery.attempts = Some(&order.deliveries);
        view.result = order.result.as_ref();
        view.submissions = Some(&order.submissions);
        view.sr_candidate = Some(&order.candidate);
        view.sr_job = Some(&order.job);
        view
    }
}
