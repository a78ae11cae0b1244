//! `POST /packages/orders`: the order SR places for a candidate.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The assessment subset of SR's `Candidate` (the public merged spec mixes several APIs' `Candidate`). Anything else SR sends is
/// kept in `other` so the vendor sees it, and never rejected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Candidate {
    /// Empty for inline orders, which carry no candidate id.
    #[serde(default)]
    pub id: String,
    pub first_name: String,
    pub last_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// The assessment subset of SR's `Job`; other fields are kept in `other`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ref_number: Option<String>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderRequester {
    pub user_id: String,
    pub email: String,
}

/// `AssessmentPackageOrderRequest`. `jobId` is deprecated in the spec: we accept its absence
/// and fall back to `job.id`, so SR dropping it cannot break ordering.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderRequest {
    #[serde(rename = "resultCallbackURL")]
    pub result_callback_url: String,
    pub candidate: Candidate,
    pub job: Job,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requester: Option<OrderRequester>,
    pub assessment_package_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    pub company_id: String,
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
}

/// `InlineCandidate`: inline orders carry no candidate id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InlineCandidate {
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub application_language: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InlineJob {
    pub id: String,
}

/// `InlineAssessmentPackageOrderRequest` (`POST /packages/inline/orders`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InlineOrderRequest {
    #[serde(rename = "resultCallbackURL")]
    pub result_callback_url: String,
    pub candidate: InlineCandidate,
    pub job: InlineJob,
    pub assessment_package_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    pub company_id: String,
    pub completed_assessment_callback_url: String,
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
}

/// `InlineAssessmentPackageResponse`. The spec lists `assessmentPackageURL` as required but only
/// defines `url` (a defect of the public merged spec); `url` is what SR reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InlineOrderResponse {
    pub url: String,
}
