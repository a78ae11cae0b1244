//! `PackageResult`, the body of `PATCH /orders/{orderId}/results`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ResultStatus {
    InProgress,
    Pending,
    Completed,
    Rejected,
    Expired,
}

impl ResultStatus {
    /// After a final status SR must never see a non-final one again.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::Rejected | Self::Expired)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "IN_PROGRESS",
            Self::Pending => "PENDING",
            Self::Completed => "COMPLETED",
            Self::Rejected => "REJECTED",
            Self::Expired => "EXPIRED",
        }
    }
}

/// SR shows `raw` within `[min, max]`; all three are integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Score {
    pub raw: i64,
    pub min: i64,
    pub max: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UrlAttachmentType {
    PdfUrl,
    VideoUrl,
    OtherUrl,
}

/// The assessment API's attachment: a link SR shows on the candidate profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UrlAttachment {
    #[serde(rename = "type")]
    pub kind: UrlAttachmentType,
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssessmentResult {
    pub assessment_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ResultStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<Score>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score_label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assessment_date: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submission_date: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<UrlAttachment>,
}

/// What SR shows for a package order. Every field is optional: SR applies the body as an
/// RFC 7396 merge patch, so we always send the whole current result (absent means "unchanged").
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PackageResult {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ResultStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<Score>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score_label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assessment_package_date: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submission_date: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<UrlAttachment>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assessment_results: Vec<AssessmentResult>,
}

/// SR's answer to `POST /orders/{orderId}/results/attachment` (201): where the file now lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentResult {
    pub url: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_statuses() {
        assert!(ResultStatus::Completed.is_final());
        assert!(ResultStatus::Rejected.is_final());
        assert!(ResultStatus::Expired.is_final());
        assert!(!ResultStatus::InProgress.is_final());
        assert!(!ResultStatus::Pending.is_final());
    }

    #[test]
    fn package_result_uses_sr_names_and_omits_absent_fields() {
        let result = PackageResult {
            status: Some(ResultStatus::Completed),
            score: Some(Score {
                raw: 28,
                min: 20,
                max: 80,
            }),
            score_label: Some("Good".into()),
            ..Default::default()
        };
        let json = serde_json::to_value(&result).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"status":"COMPLETED","score":{"raw":28,"min":20,"max":80},"scoreLabel":"Good"})
        );
    }
}
