//! The vendor API's views: what each route answers, in Kombo's `{status, data, warnings}`
//! envelope. Field names and shapes are the contract `openapi.yaml` and Kombo's SDKs check;
//! the handlers (`super`) build them from the operations' typed outcomes.

use chrono::Utc;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::Serialize;

use crate::http::json_response;
use crate::kombo::orders::AssessmentOrder;
use crate::kombo::packages::kombo_type;
use crate::orders::{DeliveryAttempt, DeliveryState, Order, Submission, VendorOrderStatus};
use crate::packages::{Availability, Catalog, ReplaceSummary};
use crate::results::submit::Preview;
use crate::results::FileContent;
use crate::sr::{Assessment, AssessmentType, PackageResult, ResultStatus};
use crate::store::{
    EventRecord, FileSource, FileState, Organisation, StoredFile, UploadedFile, WebhookDelivery,
    WebhookState,
};

#[derive(Serialize)]
pub(super) struct Envelope<T: Serialize> {
    pub(super) status: &'static str,
    pub(super) data: T,
    pub(super) warnings: Vec<Warning>,
}

#[derive(Serialize)]
pub(super) struct Warning {
    pub(super) message: String,
}

pub(super) fn success<T: Serialize>(
    status: StatusCode,
    data: T,
    warnings: Vec<String>,
) -> Response<Body> {
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

/// A catalog package as the vendor sees it: Kombo's `{id, name, description, type, updated_at}`
/// (`type` in Kombo's names, `null` for SR's inline type), then what Kombo's clients ignore:
/// SR's type, the assessments and the vendor-only settings.
#[derive(Serialize)]
pub(super) struct PackageView<'a> {
    pub(super) id: &'a str,
    pub(super) name: &'a str,
    pub(super) description: &'a str,
    #[serde(rename = "type")]
    pub(super) kind: Option<&'static str>,
    /// When the package last changed (`PUT` with the same content keeps it).
    pub(super) updated_at: chrono::DateTime<Utc>,
    pub(super) sr_type: AssessmentType,
    pub(super) assessments: &'a [Assessment],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) inline_url_template: Option<&'a str>,
    pub(super) availability: &'a Availability,
}

pub(super) fn package_views(catalog: Option<&Catalog>) -> Vec<PackageView<'_>> {
    catalog
        .map(|c| {
            c.packages
                .values()
                .filter(|e| !e.deleted)
                .map(|e| PackageView {
                    id: &e.package.id,
                    name: &e.package.name,
                    description: &e.package.description,
                    kind: kombo_type(e.package.kind),
                    updated_at: e.updated_at,
                    sr_type: e.package.kind,
                    assessments: &e.package.assessments,
                    inline_url_template: e.inline_url_template.as_deref(),
                    availability: &e.availability,
                })
                .collect()
        })
        .unwrap_or_default()
}

#[derive(Serialize)]
pub(super) struct PackagesView<'a> {
    pub(super) packages: Vec<PackageView<'a>>,
}

#[derive(Serialize)]
pub(super) struct PutPackagesView<'a> {
    pub(super) packages: Vec<PackageView<'a>>,
    pub(super) changes: ReplaceSummary,
}

#[derive(Serialize)]
pub(super) struct ConnectKeyView<'a> {
    pub(super) connect_key: String,
    pub(super) expires_at: chrono::DateTime<Utc>,
    pub(super) organisations: &'a [Organisation],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) company_id: Option<&'a str>,
}

/// What a dry run answers: the `PackageResult` SR would be PATCHed with, the files that would be
/// uploaded first, and whether the submission would be sent at all.
#[derive(Serialize)]
pub(super) struct DryRunView<'a> {
    pub(super) dry_run: bool,
    pub(super) order_id: &'a str,
    /// Kombo's status the order would have.
    pub(super) status: VendorOrderStatus,
    /// The result version this submission would revise (the same final status again), else null.
    pub(super) revision_of: Option<u64>,
    pub(super) package_result: &'a PackageResult,
    pub(super) files: Vec<DryRunFile<'a>>,
}

#[derive(Serialize)]
pub(super) struct DryRunFile<'a> {
    /// Where it is in the body (`attachments[1]`, `attributes[0].attachments[0]`).
    pub(super) field: &'a str,
    pub(super) name: &'a str,
    pub(super) content_type: &'a str,
    /// `INLINE` (decoded `size` in bytes) or `DATA_URL` (downloaded at delivery; size unknown).
    pub(super) source: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) size: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) data_url: Option<&'a str>,
}

impl<'a> DryRunView<'a> {
    pub(super) fn of(preview: &'a Preview, vendor_body: &serde_json::Value) -> Self {
        Self {
            dry_run: true,
            order_id: &preview.order.order_id,
            status: VendorOrderStatus::of_result(
                preview.result.status,
                crate::orders::says_rejected(vendor_body),
            ),
            revision_of: preview.decision.revision_of(),
            package_result: &preview.result,
            files: preview
                .files
                .iter()
                .map(|f| {
                    let (source, size, data_url) = match &f.content {
                        FileContent::Inline(bytes) => ("INLINE", Some(bytes.len()), None),
                        FileContent::DataUrl(url) => ("DATA_URL", None, Some(url.as_str())),
                    };
                    DryRunFile {
                        field: &f.field,
                        name: &f.name,
                        content_type: &f.content_type,
                        source,
                        size,
                        data_url,
                    }
                })
                .collect(),
        }
    }
}

/// What `PUT …/result` answers: where the order's result now stands.
#[derive(Serialize)]
pub(super) struct ResultView<'a> {
    pub(super) order_id: &'a str,
    pub(super) status: VendorOrderStatus,
    pub(super) sr_status: Option<ResultStatus>,
    pub(super) result_version: u64,
    pub(super) delivery_state: DeliveryState,
    /// The result version this submission revises (the same final status again), else null.
    pub(super) revision_of: Option<u64>,
}

impl<'a> ResultView<'a> {
    pub(super) fn of(order: &'a Order, revision_of: Option<u64>) -> Self {
        Self {
            order_id: &order.order_id,
            status: order.vendor_status(),
            sr_status: order.result_status(),
            result_version: order.result_version,
            delivery_state: order.delivery_state,
            revision_of,
        }
    }
}

/// A file attachment as the vendor sees it: what was submitted and where its upload stands.
#[derive(Serialize)]
pub(super) struct FileView<'a> {
    pub(super) name: &'a str,
    pub(super) content_type: &'a str,
    /// `INLINE` or `DATA_URL`.
    pub(super) source: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sha256: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) data_url: Option<&'a str>,
    pub(super) submitted_at: chrono::DateTime<Utc>,
    /// `PENDING`, `UPLOADED` or `FAILED`.
    pub(super) state: FileState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) detail: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) uploaded: Option<&'a UploadedFile>,
}

impl<'a> FileView<'a> {
    pub(super) fn of(file: &'a StoredFile) -> Self {
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
pub(super) struct DeliveryView<'a> {
    pub(super) state: DeliveryState,
    pub(super) result_version: u64,
    pub(super) sent_version: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) attempts: Option<&'a [DeliveryAttempt]>,
}

/// An order in the vendor's vocabulary: Kombo's order (every key Kombo's clients require), then
/// what Kombo has no field for and its clients ignore.
#[derive(Serialize)]
pub(super) struct OrderView<'a> {
    #[serde(flatten)]
    pub(super) kombo: AssessmentOrder,
    pub(super) sr_status: Option<ResultStatus>,
    pub(super) company_id: &'a str,
    pub(super) requester: Option<&'a crate::sr::OrderRequester>,
    pub(super) fields: &'a std::collections::BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) inline: Option<&'a crate::orders::InlineDetails>,
    pub(super) created_at: chrono::DateTime<Utc>,
    pub(super) updated_at: chrono::DateTime<Utc>,
    pub(super) delivery: DeliveryView<'a>,
    /// SR's candidate, job and hiring team as the enrichment worker found them; `null` until
    /// then (or for good, when SR never answered).
    pub(super) enrichment: Option<&'a crate::orders::enrichment::OrderEnrichment>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) result: Option<&'a PackageResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) submissions: Option<&'a [Submission]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) sr_candidate: Option<&'a crate::sr::Candidate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) sr_job: Option<&'a crate::sr::Job>,
    /// Files of the result (uploaded to SR separately from the result itself).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) file_attachments: Option<Vec<FileView<'a>>>,
}

impl<'a> OrderView<'a> {
    pub(super) fn summary(order: &'a Order) -> Self {
        Self {
            kombo: AssessmentOrder::of(order),
            sr_status: order.result_status(),
            company_id: &order.company_id,
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
    pub(super) fn detailed(order: &'a Order) -> Self {
        let mut view = Self::summary(order);
        view.delivery.attempts = Some(&order.deliveries);
        view.result = order.result.as_ref();
        view.submissions = Some(&order.submissions);
        view.sr_candidate = Some(&order.candidate);
        view.sr_job = Some(&order.job);
        view
    }
}

/// An event as `GET /assessment/events` lists it (openapi.yaml's `Event`): the webhook body's
/// fields and, once settled, what became of its webhook. Built from the stored item, so the
/// table's attributes are not the API.
#[derive(Serialize)]
pub(super) struct EventView {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    integration_id: String,
    company_id: String,
    at: chrono::DateTime<Utc>,
    data: serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    webhook: Option<WebhookView>,
}

impl From<EventRecord> for EventView {
    fn from(event: EventRecord) -> Self {
        Self {
            id: event.id,
            kind: event.kind,
            integration_id: event.integration_id,
            company_id: event.company_id,
            at: event.at,
            data: event.data,
            webhook: event.webhook.map(WebhookView::from),
        }
    }
}

/// openapi.yaml's `WebhookDelivery`: `state` (`DELIVERED`/`FAILED`), `at`, the endpoint's
/// `status_code` (`null` when unreachable), `attempts` (1 = first try), `detail` when failed.
#[derive(Serialize)]
struct WebhookView {
    state: &'static str,
    at: chrono::DateTime<Utc>,
    status_code: Option<u16>,
    attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
}

impl From<WebhookDelivery> for WebhookView {
    fn from(delivery: WebhookDelivery) -> Self {
        Self {
            state: match delivery.state {
                WebhookState::Delivered => "DELIVERED",
                WebhookState::Failed => "FAILED",
            },
            at: delivery.at,
            status_code: delivery.status_code,
            attempts: delivery.attempts,
            detail: delivery.detail,
        }
    }
}
