//! Orders: accepting SR's order request, and the order as the connector keeps it.

pub mod enrichment;
pub mod receive;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use url::Url;

use crate::auth::credentials::hex_digest;
use crate::config::SrEndpoints;
use crate::ids::OrderId;
use crate::packages::{inline_url, Catalog, CatalogEntry};
use crate::sr::{
    AssessmentType, Candidate, InlineOrderRequest, Job, OrderRequest, OrderRequester,
    PackageResult, ResultStatus,
};

/// Where an order's result stands on its way to SR.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeliveryState {
    /// No result submitted yet.
    #[default]
    None,
    Queued,
    Sending,
    Delivered,
    Retrying,
    Failed,
}

/// Kombo's order status (`OPEN`, `COMPLETED`, `CANCELLED`, `REJECTED`), derived from what SR
/// shows and, for SR's `REJECTED`, from the word the vendor used (see [`Order::vendor_status`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VendorOrderStatus {
    Open,
    Completed,
    Cancelled,
    Rejected,
}

impl VendorOrderStatus {
    pub const ALL: [VendorOrderStatus; 4] =
        [Self::Open, Self::Completed, Self::Cancelled, Self::Rejected];

    /// Kombo's name (`OPEN`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "OPEN",
            Self::Completed => "COMPLETED",
            Self::Cancelled => "CANCELLED",
            Self::Rejected => "REJECTED",
        }
    }

    /// Kombo's status for SR's `status`, in the vendor's own word for SR's `REJECTED`:
    /// `REJECTED` when `rejected_by_vendor` (it said SR's `REJECTED`, see [`says_rejected`]),
    /// else Kombo's `CANCELLED`.
    pub fn of_result(status: Option<ResultStatus>, rejected_by_vendor: bool) -> Self {
        match status {
            Some(ResultStatus::Rejected) if rejected_by_vendor => Self::Rejected,
            status => Self::from_result(status),
        }
    }

    /// SR has no "cancelled": Kombo's `CANCELLED` reaches SR as `REJECTED`, and SR's `EXPIRED`
    /// is an order that ended without a result, so both read back as `CANCELLED`.
    pub fn from_result(status: Option<ResultStatus>) -> Self {
        match status {
            None | Some(ResultStatus::InProgress) | Some(ResultStatus::Pending) => Self::Open,
            Some(ResultStatus::Completed) => Self::Completed,
            Some(ResultStatus::Rejected) | Some(ResultStatus::Expired) => Self::Cancelled,
        }
    }
}

/// A snapshot of the ordered package: the order keeps working if the vendor later deletes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderedPackage {
    pub id: String,
    pub name: String,
    pub kind: AssessmentType,
    pub assessment_ids: Vec<String>,
}

/// What an inline order adds: where the candidate takes the assessment and where the vendor
/// sends the candidate back afterwards.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InlineDetails {
    /// Empty until the vendor answered it, for a package without `inline_url_template`.
    pub assessment_url: String,
    pub completed_assessment_callback_url: String,
    pub application_language: String,
    #[serde(default)]
    pub url_source: InlineUrlSource,
}

/// Where an inline order's assessment URL comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InlineUrlSource {
    /// The package's `inline_url_template`, filled in.
    #[default]
    Template,
    /// The vendor's answer to a synchronous `inline-assessment:order-received` call
    /// (`kombo::inline`), for packages without a template.
    Vendor,
}

/// One result the vendor submitted; each became a result version and was queued for SR.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Submission {
    /// The result version this submission became. `None` only in histories written before the
    /// final-status rule, when a late non-final status was recorded without being sent.
    pub version: Option<u64>,
    pub submitted_at: DateTime<Utc>,
    pub status: ResultStatus,
    /// Exactly what the vendor sent (fractional scores included).
    pub vendor_body: serde_json::Value,
    pub note: Option<String>,
    /// The version this submission revises: the same final status sent again (a re-score, a
    /// new report). `None` for a first result or a status change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_of: Option<u64>,
}

/// One attempt to deliver a result version to SR.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryAttempt {
    pub version: u64,
    pub at: DateTime<Utc>,
    /// SR's HTTP status; `None` when SR could not be reached.
    pub sr_status_code: Option<u16>,
    pub outcome: DeliveryState,
    pub detail: Option<String>,
    /// The result status this attempt carried (absent in attempts recorded before it was kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_status: Option<ResultStatus>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    pub order_id: String,
    pub company_id: String,
    pub integration_id: String,
    pub package: OrderedPackage,
    pub result_callback_url: String,
    pub candidate: Candidate,
    pub job: Job,
    pub requester: Option<OrderRequester>,
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// Set for orders placed through `inlineAssessmentPackageOrderUrl`.
    #[serde(default)]
    pub inline: Option<InlineDetails>,
    /// SHA-256 of the order request: tells SR's retry (same body) from a conflicting reuse of the id.
    pub request_fingerprint: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The latest result to show in SR, and its version (0 = none yet).
    #[serde(default)]
    pub result: Option<PackageResult>,
    #[serde(default)]
    pub result_version: u64,
    /// Highest version a publisher has claimed for sending; older messages are skipped.
    #[serde(default)]
    pub sent_version: u64,
    #[serde(default)]
    pub delivery_state: DeliveryState,
    /// The result status SR last accepted (set with each `DELIVERED` attempt): the publisher
    /// never sends a different status once this is final.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_status: Option<ResultStatus>,
    /// When the vendor submitted the latest result (the delivery latency metric starts here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_submitted_at: Option<DateTime<Utc>>,
    /// A submission carried a file attachment: the order has `FILE#` items.
    #[serde(default)]
    pub has_file_attachments: bool,
    /// SHA-256 of the request body that became the latest result version: the same `PUT`
    /// again (a retry after a 503 or a lost answer) stores no second version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_request_sha256: Option<String>,
    /// The latest result's `REJECTED` is the vendor's own word (SR's `REJECTED`), not Kombo's
    /// `CANCELLED`: what `vendor_status` answers.
    #[serde(default)]
    pub result_rejected_by_vendor: bool,
    /// The history, oldest first. Each entry is an item of its own (`HISTORY#…`), read with
    /// `Store::get_order_with_history`; a plain read of the order leaves these empty, except on
    /// orders written before the history had items of its own, which kept it inline.
    #[serde(default)]
    pub submissions: Vec<Submission>,
    #[serde(default)]
    pub deliveries: Vec<DeliveryAttempt>,
    /// What SR's Customer API says about the candidate, job and hiring team; set once, after the
    /// order is stored, by the enrichment worker (absent until then, or if it never succeeds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrichment: Option<enrichment::OrderEnrichment>,
    /// When the order's personal data was erased (`privacy`): the tombstone that keeps its
    /// result from reaching SR and its enrichment from being stored again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub erased_at: Option<DateTime<Utc>>,
    /// The order item's own TTL stamp as read (`expires_at`, epoch seconds): the store decides
    /// from it whether a result must re-stamp the item (`store::order_state`). Never written
    /// from here; `None` on an order not read from the table.
    #[serde(default, rename = "expires_at", skip_serializing)]
    pub item_expires_at: Option<i64>,
    /// Whether the state (result, version, delivery) was read from the order's state item.
    /// `false` with a result: an order stored before state items, whose state is still on its
    /// order item (`store::order_state`).
    #[serde(skip)]
    pub state_item: bool,
    /// The state item's size as read, in bytes (0 without one): a delivery SR accepted is
    /// recorded on the state item itself while it stays within its first KB
    /// (`store::DeliveryRecord::of`).
    #[serde(skip)]
    pub state_item_bytes: usize,
}

/// Whether a submission's body says SR's `REJECTED` (top level or in
/// `remote_fields.smartrecruiters`), rather than Kombo's `CANCELLED`.
pub fn says_rejected(body: &serde_json::Value) -> bool {
    let remote = body.pointer("/remote_fields/smartrecruiters/status");
    remote
        .or_else(|| body.get("status"))
        .and_then(|s| s.as_str())
        == Some("REJECTED")
}

impl Order {
    /// Kombo's status of the order. SR's `REJECTED` reads back as the vendor's own word: `REJECTED`
    /// when the vendor sent SR's `REJECTED` (top level or in `remote_fields.smartrecruiters`),
    /// otherwise `CANCELLED` (Kombo's word, which SR has no counterpart for).
    pub fn vendor_status(&self) -> VendorOrderStatus {
        VendorOrderStatus::of_result(self.result_status(), self.vendor_said_rejected())
    }

    /// Whether the submission behind the current result said `REJECTED` in SR's words: kept on
    /// the order item with the result (lists read no history); orders stored before that carry
    /// the submission in their history.
    fn vendor_said_rejected(&self) -> bool {
        self.result_rejected_by_vendor
            || self
                .submissions
                .iter()
                .rev()
                .find(|s| s.version == Some(self.result_version))
                .is_some_and(|s| says_rejected(&s.vendor_body))
    }

    pub fn result_status(&self) -> Option<ResultStatus> {
        self.result.as_ref().and_then(|r| r.status)
    }

    /// The status SR holds for this order as far as the connector knows: what the last
    /// `DELIVERED` attempt carried. Orders recorded before that was kept derive it from their
    /// histories (the delivered version's submission).
    pub fn status_at_sr(&self) -> Option<ResultStatus> {
        if self.delivered_status.is_some() {
            return self.delivered_status;
        }
        let delivered = self
            .deliveries
            .iter()
            .rev()
            .find(|d| d.outcome == DeliveryState::Delivered)?;
        delivered.result_status.or_else(|| {
            self.submissions
                .iter()
                .rev()
                .find(|s| s.version == Some(delivered.version))
                .map(|s| s.status)
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    #[error("invalid field `{field}`: {reason}")]
    InvalidField { field: &'static str, reason: String },
    #[error("companyId `{0}` does not match the company of the access token")]
    CompanyMismatch(String),
    #[error("there is no assessment package `{0}`")]
    UnknownPackage(String),
    #[error(
        "package `{0}` is an INLINE_ASSESSMENT; order it through inlineAssessmentPackageOrderUrl"
    )]
    InlineOnly(String),
    #[error("package `{0}` is not an INLINE_ASSESSMENT; order it through packageOrderUrl")]
    NotInline(String),
}

/// The SR order id: the path segment after `orders` in `resultCallbackURL`
/// (`…/orders/{orderId}/results`). The URL must point at SR's API host, since the publisher
/// later sends SR credentials along with the result.
pub fn order_id_from_callback(raw: &str, sr: &SrEndpoints) -> Result<OrderId, OrderError> {
    let invalid = |reason: &str| OrderError::InvalidField {
        field: "resultCallbackURL",
        reason: reason.to_string(),
    };
    let url = Url::parse(raw).map_err(|_| invalid("must be an absolute URL"))?;
    if !sr.is_sr_api_url(&url) {
        return Err(invalid(&format!(
            "must point at SmartRecruiters ({}://{})",
            sr.api_base_url.scheme(),
            sr.api_base_url.host_str().unwrap_or_default()
        )));
    }
    let segments: Vec<&str> = url.path_segments().map(|s| s.collect()).unwrap_or_default();
    let after_orders = segments
        .iter()
        .position(|s| *s == "orders")
        .and_then(|i| segments.get(i + 1))
        .filter(|id| !id.is_empty())
        .ok_or_else(|| invalid("has no order id (expected …/orders/{orderId}/results)"))?;
    let id = percent_encoding::percent_decode_str(after_orders).decode_utf8_lossy();
    OrderId::parse(&id).map_err(|_| invalid("has a malformed order id"))
}

/// Who placed the order, as established by the access token.
#[derive(Debug, Clone)]
pub struct Caller {
    pub company_id: String,
    pub integration_id: String,
}

/// Checks SR's order against the caller and the catalog and builds the order to store.
pub fn accept_order(
    request: OrderRequest,
    caller: &Caller,
    catalog: Option<&Catalog>,
    sr: &SrEndpoints,
    now: DateTime<Utc>,
) -> Result<Order, OrderError> {
    require_non_empty("candidate.id", &request.candidate.id)?;
    let placement = Placement {
        company_id: &request.company_id,
        package_id: &request.assessment_package_id,
        job_id: &request.job.id,
        result_callback_url: &request.result_callback_url,
        fingerprint: fingerprint(&request),
    };
    let (order_id, entry) = placement.check(caller, catalog, sr)?;
    if entry.package.kind == AssessmentType::InlineAssessment {
        return Err(OrderError::InlineOnly(entry.package.id.clone()));
    }
    let package = ordered_package(entry);
    let fingerprint = placement.fingerprint;
    Ok(Order {
        order_id: order_id.into(),
        company_id: request.company_id,
        integration_id: caller.integration_id.clone(),
        package,
        result_callback_url: request.result_callback_url,
        candidate: request.candidate,
        job: request.job,
        requester: request.requester,
        fields: request.fields,
        inline: None,
        ..blank_order(fingerprint, now)
    })
}

/// Checks SR's inline order; the order carries the candidate's assessment URL.
pub fn accept_inline_order(
    request: InlineOrderRequest,
    caller: &Caller,
    catalog: Option<&Catalog>,
    sr: &SrEndpoints,
    now: DateTime<Utc>,
) -> Result<Order, OrderError> {
    require_non_empty("candidate.email", &request.candidate.email)?;
    let placement = Placement {
        company_id: &request.company_id,
        package_id: &request.assessment_package_id,
        job_id: &request.job.id,
        result_callback_url: &request.result_callback_url,
        fingerprint: fingerprint(&request),
    };
    let (order_id, entry) = placement.check(caller, catalog, sr)?;
    if entry.package.kind != AssessmentType::InlineAssessment {
        return Err(OrderError::NotInline(entry.package.id.clone()));
    }
    let completed = Url::parse(&request.completed_assessment_callback_url)
        .ok()
        .filter(|u| matches!(u.scheme(), "https" | "http"))
        .ok_or(OrderError::InvalidField {
            field: "completedAssessmentCallbackUrl",
            reason: "must be an absolute http(s) URL".into(),
        })?;
    let c = request.candidate;
    // Without a template the vendor is asked (`kombo::inline`) before the order is stored.
    let (assessment_url, url_source) = match &entry.inline_url_template {
        Some(template) => (
            inline_url(
                template,
                &order_id,
                &request.company_id,
                &entry.package.id,
                &c.application_language,
            ),
            InlineUrlSource::Template,
        ),
        None => (String::new(), InlineUrlSource::Vendor),
    };
    let package = ordered_package(entry);
    let fingerprint = placement.fingerprint;
    let mut other = serde_json::Map::new();
    other.insert(
        "applicationLanguage".into(),
        c.application_language.clone().into(),
    );
    Ok(Order {
        order_id: order_id.into(),
        company_id: request.company_id,
        integration_id: caller.integration_id.clone(),
        package,
        result_callback_url: request.result_callback_url,
        candidate: Candidate {
            id: String::new(),
            first_name: c.first_name,
            last_name: c.last_name,
            email: Some(c.email),
            phone_number: None,
            other,
        },
        job: Job {
            id: request.job.id,
            title: None,
            ref_number: None,
            other: serde_json::Map::new(),
        },
        requester: None,
        fields: request.fields,
        inline: Some(InlineDetails {
            assessment_url,
            completed_assessment_callback_url: completed.to_string(),
            application_language: c.application_language,
            url_source,
        }),
        ..blank_order(fingerprint, now)
    })
}

/// The checks every order shares, in the order SR's errors are most useful.
struct Placement<'a> {
    company_id: &'a str,
    package_id: &'a str,
    job_id: &'a str,
    result_callback_url: &'a str,
    fingerprint: String,
}

impl Placement<'_> {
    fn check<'c>(
        &self,
        caller: &Caller,
        catalog: Option<&'c Catalog>,
        sr: &SrEndpoints,
    ) -> Result<(OrderId, &'c CatalogEntry), OrderError> {
        require_non_empty("companyId", self.company_id)?;
        require_non_empty("assessmentPackageId", self.package_id)?;
        require_non_empty("job.id", self.job_id)?;
        if self.company_id != caller.company_id {
            return Err(OrderError::CompanyMismatch(self.company_id.to_string()));
        }
        let order_id = order_id_from_callback(self.result_callback_url, sr)?;
        let entry = catalog
            .and_then(|c| c.active_entry(self.package_id))
            .ok_or_else(|| OrderError::UnknownPackage(self.package_id.to_string()))?;
        Ok((order_id, entry))
    }
}

fn fingerprint<T: Serialize>(request: &T) -> String {
    hex_digest(&serde_json::to_vec(request).expect("order requests serialize"))
}

fn ordered_package(entry: &CatalogEntry) -> OrderedPackage {
    let package = &entry.package;
    OrderedPackage {
        id: package.id.clone(),
        name: package.name.clone(),
        kind: package.kind,
        assessment_ids: package.assessments.iter().map(|a| a.id.clone()).collect(),
    }
}

/// The parts of a new order that do not come from SR's request.
fn blank_order(fingerprint: String, now: DateTime<Utc>) -> Order {
    Order {
        order_id: String::new(),
        company_id: String::new(),
        integration_id: String::new(),
        package: OrderedPackage {
            id: String::new(),
            name: String::new(),
            kind: AssessmentType::SkillTest,
            assessment_ids: Vec::new(),
        },
        result_callback_url: String::new(),
        candidate: Candidate {
            id: String::new(),
            first_name: String::new(),
            last_name: String::new(),
            email: None,
            phone_number: None,
            other: serde_json::Map::new(),
        },
        job: Job {
            id: String::new(),
            title: None,
            ref_number: None,
            other: serde_json::Map::new(),
        },
        requester: None,
        fields: BTreeMap::new(),
        inline: None,
        request_fingerprint: fingerprint,
        created_at: now,
        updated_at: now,
        result: None,
        result_version: 0,
        sent_version: 0,
        delivery_state: DeliveryState::None,
        delivered_status: None,
        result_submitted_at: None,
        has_file_attachments: false,
        result_request_sha256: None,
        result_rejected_by_vendor: false,
        submissions: Vec::new(),
        deliveries: Vec::new(),
        enrichment: None,
        erased_at: None,
        item_expires_at: None,
        state_item: false,
        state_item_bytes: 0,
    }
}

fn require_non_empty(field: &'static str, value: &str) -> Result<(), OrderError> {
    if value.trim().is_empty() {
        return Err(OrderError::InvalidField {
            field,
            reason: "must not be empty".into(),
        });
    }
    Ok(())
}

/// Orders for unit tests of the modules that read them.
#[cfg(test)]
pub(crate) mod test_support {
    use super::Order;

    /// Order `o1` of company `acme` (integration `acme-org`) for package `java`, candidate `c1`
    /// (Ada Lovelace), job `j1`, as stored; the keys of `extra` replace the defaults.
    pub fn order(extra: serde_json::Value) -> Order {
        let mut value = serde_json::json!({
            "order_id": "o1", "company_id": "acme", "integration_id": "acme-org",
            "package": {"id": "java", "name": "Java", "kind": "SKILL_TEST", "assessment_ids": ["java"]},
            "result_callback_url": "https://api.smartrecruiters.com/orders/o1/results",
            "candidate": {"id": "c1", "firstName": "Ada", "lastName": "Lovelace"},
            "job": {"id": "j1"},
            "request_fingerprint": "f", "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z", "delivery_state": "NONE"
        });
        for (key, v) in extra.as_object().expect("an object of keys to replace") {
            value[key] = v.clone();
        }
        serde_json::from_value(value).expect("a stored order")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packages::{validate_packages, VendorPackage};

    fn sr() -> SrEndpoints {
        SrEndpoints {
            api_base_url: Url::parse("https://api.smartrecruiters.com/assessment-api/v202010")
                .unwrap(),
            token_url: Url::parse("https://api.smartrecruiters.com/identity/oauth/token").unwrap(),
            customer_api_base_url: Url::parse("https://api.smartrecruiters.com").unwrap(),
            allow_insecure: false,
        }
    }

    const CALLBACK: &str =
        "https://api.smartrecruiters.com/assessment-api/v202010/orders/0b3f9a2e-1111-4c1a-9a55-3f2b7e0c9d11/results";

    #[test]
    fn order_id_is_the_segment_after_orders_not_the_last_one() {
        assert_eq!(
            order_id_from_callback(CALLBACK, &sr()).unwrap(),
            "0b3f9a2e-1111-4c1a-9a55-3f2b7e0c9d11"
        );
    }

    #[test]
    fn callback_without_order_id_is_refused() {
        for url in [
            "https://api.smartrecruiters.com/assessment-api/v202010/results",
            "https://api.smartrecruiters.com/assessment-api/v202010/orders/",
            "https://api.smartrecruiters.com/assessment-api/v202010/orders",
        ] {
            let err = order_id_from_callback(url, &sr()).unwrap_err();
            assert!(
                err.to_string().contains("resultCallbackURL"),
                "{url}: {err}"
            );
        }
    }

    #[test]
    fn callback_elsewhere_is_refused() {
        for url in [
            "https://evil.example.com/orders/1/results",
            "http://api.smartrecruiters.com/assessment-api/v202010/orders/1/results",
            "not a url",
        ] {
            assert!(order_id_from_callback(url, &sr()).is_err(), "{url}");
        }
    }

    fn request(company: &str, package: &str) -> OrderRequest {
        serde_json::from_value(serde_json::json!({
            "resultCallbackURL": CALLBACK,
            "candidate": {"id": "c1", "firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com", "tags": ["x"]},
            "job": {"id": "j1", "title": "Engineer"},
            "requester": {"userId": "u1", "email": "rec@example.com"},
            "assessmentPackageId": package,
            "jobId": "j1",
            "companyId": company,
            "fields": {"lens": "blue"}
        }))
        .unwrap()
    }

    fn catalog() -> Catalog {
        let now = Utc::now();
        let mut catalog = Catalog::empty("org", now);
        let packages = validate_packages(vec![VendorPackage {
            id: "p1".into(),
            kind: AssessmentType::SkillTest,
            name: "Java".into(),
            description: None,
            assessments: None,
            inline_url_template: None,
            availability: Default::default(),
        }])
        .unwrap();
        catalog.replace(packages, now);
        catalog
    }

    fn caller() -> Caller {
        Caller {
            company_id: "acme".into(),
            integration_id: "org".into(),
        }
    }

    #[test]
    fn accepted_order_keeps_candidate_job_requester_and_fields() {
        let order = accept_order(
            request("acme", "p1"),
            &caller(),
            Some(&catalog()),
            &sr(),
            Utc::now(),
        )
        .unwrap();
        assert_eq!(order.order_id, "0b3f9a2e-1111-4c1a-9a55-3f2b7e0c9d11");
        assert_eq!(order.candidate.email.as_deref(), Some("ada@example.com"));
        assert_eq!(order.candidate.other["tags"], serde_json::json!(["x"]));
        assert_eq!(order.requester.unwrap().email, "rec@example.com");
        assert_eq!(order.fields["lens"], "blue");
        assert_eq!(order.package.assessment_ids, vec!["p1"]);
    }

    #[test]
    fn same_request_same_fingerprint() {
        let a = accept_order(
            request("acme", "p1"),
            &caller(),
            Some(&catalog()),
            &sr(),
            Utc::now(),
        )
        .unwrap();
        let b = accept_order(
            request("acme", "p1"),
            &caller(),
            Some(&catalog()),
            &sr(),
            Utc::now(),
        )
        .unwrap();
        assert_eq!(a.request_fingerprint, b.request_fingerprint);
    }

    #[test]
    fn another_companys_order_is_refused() {
        let err = accept_order(
            request("other", "p1"),
            &caller(),
            Some(&catalog()),
            &sr(),
            Utc::now(),
        )
        .unwrap_err();
        assert_eq!(err, OrderError::CompanyMismatch("other".into()));
    }

    #[test]
    fn unknown_package_is_refused() {
        let err = accept_order(
            request("acme", "nope"),
            &caller(),
            Some(&catalog()),
            &sr(),
            Utc::now(),
        )
        .unwrap_err();
        assert_eq!(err, OrderError::UnknownPackage("nope".into()));
    }

    #[test]
    fn sr_rejected_reads_back_as_the_vendors_word_from_the_order_item_alone() {
        let rejected = serde_json::json!({"result": {"status": "REJECTED"}, "result_version": 1});
        // Kombo's CANCELLED, stored as SR's REJECTED.
        let cancelled = test_support::order(rejected.clone());
        assert_eq!(cancelled.vendor_status(), VendorOrderStatus::Cancelled);
        // The vendor said REJECTED: the order item says so, without its history.
        let mut said = rejected;
        said["result_rejected_by_vendor"] = serde_json::json!(true);
        let order = test_support::order(said);
        assert!(order.submissions.is_empty());
        assert_eq!(order.vendor_status(), VendorOrderStatus::Rejected);
        assert!(says_rejected(
            &serde_json::json!({"status": "CANCELLED", "remote_fields": {"smartrecruiters": {"status": "REJECTED"}}})
        ));
        assert!(!says_rejected(&serde_json::json!({"status": "CANCELLED"})));
    }
}
