//! The vendor API: the vendor platform's entry point, shaped like Kombo's assessment API
//! (`Authorization: Bearer <key>`, `X-Integration-Id`, `{status, data, warnings}` envelope).

use chrono::Utc;
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};

use crate::auth::VendorKeyVerifier;
use crate::aws::AwsClients;
use crate::config::Config;
use crate::http::{
    bearer_token, body_bytes, decode_segment, json_response, parse_json, query_param,
    segments_after, vendor_error_response, ApiError,
};
use crate::orders::{DeliveryAttempt, DeliveryState, Order, Submission, VendorOrderStatus};
use crate::packages::{validate_packages, Catalog, ReplaceSummary, VendorPackage};
use crate::queue::{QueueMessage, ResultsQueue};
use crate::results::{decide, to_package_result, Decision, ResultSubmission};
use crate::secrets::Secrets;
use crate::sr::{AssessmentPackage, PackageResult, ResultStatus};
use crate::store::{ResultWrite, Store, StoreError};

use super::partner::HandlerResult;

const DEFAULT_PAGE_SIZE: usize = 100;
const MAX_PAGE_SIZE: usize = 250;
/// Optimistic-lock retries when two writers race on the same order or catalog.
const WRITE_ATTEMPTS: usize = 3;

pub struct VendorApi {
    store: Store,
    queue: ResultsQueue,
    keys: VendorKeyVerifier,
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

#[derive(Serialize)]
struct PackagesView<'a> {
    packages: Vec<&'a AssessmentPackage>,
}

#[derive(Serialize)]
struct PutPackagesView<'a> {
    packages: Vec<&'a AssessmentPackage>,
    changes: ReplaceSummary,
}

impl VendorApi {
    pub fn new(store: Store, queue: ResultsQueue, keys: VendorKeyVerifier) -> Self {
        Self { store, queue, keys }
    }

    pub async fn from_env() -> Result<Self, lambda_http::Error> {
        let config = Config::from_env()?;
        let aws = AwsClients::from_env().await;
        let secrets = Secrets::new(aws.secrets, config.secret_prefix);
        Ok(Self::new(
            Store::new(aws.dynamodb, config.table_name),
            ResultsQueue::new(aws.sqs, config.results_queue_url),
            VendorKeyVerifier::new(secrets, config.vendor_api_key_secret_id),
        ))
    }

    /// The one handler behind `ANY /assessment/{proxy+}`.
    pub async fn handle(&self, request: Request) -> HandlerResult {
        Ok(self
            .route(&request)
            .await
            .unwrap_or_else(|e| vendor_error_response(&e)))
    }

    async fn route(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        self.authenticate(request).await?;
        let integration = integration_id(request)?;
        let segments = segments_after(request.uri().path(), "assessment").unwrap_or_default();
        let method = request.method();
        match segments.as_slice() {
            ["packages"] if method == Method::PUT => self.put_packages(request, &integration).await,
            ["packages"] if method == Method::GET => self.get_packages(&integration).await,
            ["orders"] if method == Method::GET => self.list_orders(request, &integration).await,
            ["orders", id] if method == Method::GET => {
                let order = self.order_of(&integration, &decode_segment(id)).await?;
                Ok(success(StatusCode::OK, OrderView::detailed(&order), vec![]))
            }
            ["orders", id, "result"] if method == Method::PUT => {
                self.submit_result(request, &integration, &decode_segment(id))
                    .await
            }
            ["packages"] | ["orders"] | ["orders", _] | ["orders", _, "result"] => {
                Err(ApiError::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "METHOD_NOT_ALLOWED",
                    format!("{method} is not supported on {}", request.uri().path()),
                ))
            }
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
                        packages: catalog.visible(),
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
        let packages = catalog.as_ref().map(Catalog::visible).unwrap_or_default();
        Ok(success(StatusCode::OK, PackagesView { packages }, vec![]))
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
        let page_size = match query_param(request, "page_size") {
            None => DEFAULT_PAGE_SIZE,
            Some(raw) => raw
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "INVALID_PARAMETER",
                        "query parameter `page_size` must be a whole number from 1 to 250",
                    )
                })?,
        };
        let page = self
            .store
            .list_orders(
                integration,
                status,
                query_param(request, "cursor").as_deref(),
                page_size,
            )
            .await
            .map_err(|e| match e {
                StoreError::Corrupt { key, .. } if key == "cursor" => ApiError::bad_request(
                    "INVALID_PARAMETER",
                    "query parameter `cursor` is not a cursor of this integration's order list",
                ),
                other => other.into(),
            })?;
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

    /// The order, if it belongs to `integration` (another integration's order is "not found").
    async fn order_of(&self, integration: &str, order_id: &str) -> Result<Order, ApiError> {
        self.store
            .get_order(order_id)
            .await?
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
        let vendor_body: serde_json::Value = serde_json::from_slice(bytes).unwrap_or_default();
        for attempt in 1..=WRITE_ATTEMPTS {
            let order = self.order_of(integration, order_id).await?;
            let result = to_package_result(&submission, &order)
                .map_err(|e| ApiError::bad_request("INVALID_FIELD", e.to_string()))?;
            let status = result.status.unwrap_or(ResultStatus::InProgress);
            let now = Utc::now();
            let mut record = Submission {
                version: None,
                submitted_at: now,
                status,
                vendor_body: vendor_body.clone(),
                note: None,
            };
            if let Decision::RecordOnly { reason } = decide(order.result_status(), status) {
                record.note = Some(reason.clone());
                let order = self
                    .store
                    .record_submission(order_id, integration, &record, now)
                    .await?;
                tracing::info!(order_id, company_id = %order.company_id, "late result recorded, not sent");
                return Ok(success(
                    StatusCode::ACCEPTED,
                    ResultView::of(&order, false),
                    vec![reason],
                ));
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

fn integration_id(request: &Request) -> Result<String, ApiError> {
    request
        .headers()
        .get("x-integration-id")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .ok_or_else(|| {
            ApiError::bad_request(
                "MISSING_INTEGRATION_ID",
                "header `X-Integration-Id` is required: it names the customer connection",
            )
        })
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
    created_at: chrono::DateTime<Utc>,
    updated_at: chrono::DateTime<Utc>,
    delivery: DeliveryView<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<&'a PackageResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    submissions: Option<&'a [Submission]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sr_candidate: Option<&'a crate::sr::Candidate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sr_job: Option<&'a crate::sr::Job>,
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
