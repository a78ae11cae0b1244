//! Orders: accepting SR's order request, and the order as the connector keeps it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::auth::credentials::hex_digest;
use crate::config::SrEndpoints;
use crate::packages::Catalog;
use crate::sr::{
    AssessmentType, Candidate, Job, OrderRequest, OrderRequester, PackageResult, ResultStatus,
};

/// Where an order's result stands on its way to SR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeliveryState {
    /// No result submitted yet.
    None,
    Queued,
    Sending,
    Delivered,
    Retrying,
    Failed,
}

/// Kombo's order status, derived from what SR shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VendorOrderStatus {
    Open,
    Completed,
    Cancelled,
}

impl VendorOrderStatus {
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

/// One result the vendor submitted, forwarded to SR or only recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Submission {
    /// The result version this submission became; `None` when it was recorded but not sent
    /// (a late non-final status after a final one).
    pub version: Option<u64>,
    pub submitted_at: DateTime<Utc>,
    pub status: ResultStatus,
    /// Exactly what the vendor sent (fractional scores included).
    pub vendor_body: serde_json::Value,
    pub note: Option<String>,
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
    pub delivery_state: DeliveryState,
    #[serde(default)]
    pub submissions: Vec<Submission>,
    #[serde(default)]
    pub deliveries: Vec<DeliveryAttempt>,
}

impl Order {
    pub fn vendor_status(&self) -> VendorOrderStatus {
        VendorOrderStatus::from_result(self.result.as_ref().and_then(|r| r.status))
    }

    pub fn result_status(&self) -> Option<ResultStatus> {
        self.result.as_ref().and_then(|r| r.status)
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
}

/// The SR order id: the path segment after `orders` in `resultCallbackURL`
/// (`…/orders/{orderId}/results`). The URL must point at SR's API host, since the publisher
/// later sends SR credentials along with the result.
pub fn order_id_from_callback(raw: &str, sr: &SrEndpoints) -> Result<String, OrderError> {
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
    let id = crate::http::decode_segment(after_orders);
    if id.len() > 128 || id.chars().any(|c| c.is_control() || c == '/') {
        return Err(invalid("has a malformed order id"));
    }
    Ok(id)
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
    require_non_empty("companyId", &request.company_id)?;
    require_non_empty("assessmentPackageId", &request.assessment_package_id)?;
    require_non_empty("candidate.id", &request.candidate.id)?;
    require_non_empty("job.id", &request.job.id)?;
    if request.company_id != caller.company_id {
        return Err(OrderError::CompanyMismatch(request.company_id));
    }
    let order_id = order_id_from_callback(&request.result_callback_url, sr)?;
    let package = catalog
        .and_then(|c| c.active(&request.assessment_package_id))
        .ok_or_else(|| OrderError::UnknownPackage(request.assessment_package_id.clone()))?;
    let fingerprint = hex_digest(&serde_json::to_vec(&request).expect("order request serializes"));
    Ok(Order {
        order_id,
        company_id: request.company_id,
        integration_id: caller.integration_id.clone(),
        package: OrderedPackage {
            id: package.id.clone(),
            name: package.name.clone(),
            kind: package.kind,
            assessment_ids: package.assessments.iter().map(|a| a.id.clone()).collect(),
        },
        result_callback_url: request.result_callback_url,
        candidate: request.candidate,
        job: request.job,
        requester: request.requester,
        fields: request.fields,
        request_fingerprint: fingerprint,
        created_at: now,
        updated_at: now,
        result: None,
        result_version: 0,
        sent_version: 0,
        delivery_state: DeliveryState::None,
        submissions: Vec::new(),
        deliveries: Vec::new(),
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packages::{validate_packages, VendorPackage};

    fn sr() -> SrEndpoints {
        SrEndpoints {
            api_base_url: Url::parse("https://api.smartrecruiters.com/assessment-api/v202010")
                .unwrap(),
            token_url: Url::parse("https://api.smartrecruiters.com/identity/oauth/token").unwrap(),
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
}
