//! What the vendor submits to `PUT /assessment/orders/{id}/result`: Kombo's result fields plus
//! SR-only ones, read leniently where Kombo is lenient (dates), and the error that names a
//! field SR cannot be given.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Deserializer};

use crate::sr::results::UrlAttachmentType;
use crate::sr::ResultStatus;

/// Statuses a vendor may send: Kombo's three and SR's five.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SubmittedStatus {
    Open,
    Completed,
    Cancelled,
    InProgress,
    Pending,
    Rejected,
    Expired,
}

impl SubmittedStatus {
    /// Kombo's `OPEN` is SR's `IN_PROGRESS`; `CANCELLED` is SR's `REJECTED` (SR has no cancel).
    pub fn to_sr(self) -> ResultStatus {
        match self {
            Self::Open | Self::InProgress => ResultStatus::InProgress,
            Self::Pending => ResultStatus::Pending,
            Self::Completed => ResultStatus::Completed,
            Self::Cancelled | Self::Rejected => ResultStatus::Rejected,
            Self::Expired => ResultStatus::Expired,
        }
    }
}

/// `PUT /assessment/orders/{id}/result`. Kombo's fields first, then SR-only ones.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultSubmission {
    pub status: SubmittedStatus,
    #[serde(default)]
    pub result_url: Option<String>,
    #[serde(default, deserialize_with = "lenient_time")]
    pub completed_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub score: Option<f64>,
    #[serde(default)]
    pub max_score: Option<f64>,
    #[serde(default)]
    pub attributes: Vec<Attribute>,
    #[serde(default)]
    pub attachments: Vec<AttachmentSubmission>,
    /// Kombo's per-ATS extras; `smartrecruiters` is read, the other ATSs' are ignored.
    #[serde(default)]
    pub remote_fields: Option<RemoteFields>,
    // SR-only additions (also accepted in `remote_fields.smartrecruiters`, in SR's names).
    #[serde(default)]
    pub min_score: Option<f64>,
    #[serde(default)]
    pub score_label: Option<String>,
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "lenient_time")]
    pub assessment_package_date: Option<DateTime<Utc>>,
}

/// Kombo's `remote_fields`: fields passed to one ATS only.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RemoteFields {
    #[serde(default)]
    pub smartrecruiters: Option<SmartRecruitersFields>,
    /// Kombo's fields for other ATSs (`recruitee`, `workday`, …): accepted and ignored, with a
    /// warning, so a body written for Kombo works unchanged.
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

/// `remote_fields.smartrecruiters`: SR-only result fields in SR's own names. Kombo documents
/// `scoreLabel`; the rest mirror the connector's top-level SR-only fields.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SmartRecruitersFields {
    #[serde(default)]
    pub score_label: Option<String>,
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "lenient_time")]
    pub assessment_package_date: Option<DateTime<Utc>>,
    #[serde(default)]
    pub min_score: Option<f64>,
    /// SR's status where Kombo's is coarser: `PENDING`/`IN_PROGRESS` refine `OPEN`,
    /// `EXPIRED`/`REJECTED` refine `CANCELLED`.
    #[serde(default)]
    pub status: Option<ResultStatus>,
}

/// Kombo accepts `completed_at` as an RFC 3339 date-time, a date-time without offset
/// (`2024-05-01T09:30:00`) or a date (`2024-05-01`); the last two are read as UTC.
///
/// What SR cannot read is refused or normalised here, before anything is stored: a year outside
/// RFC 3339's 0000–9999 (SR refuses `-0001-01-01T00:00:00Z` for good) is `None`; a leap second
/// (`23:59:60`) reads as the last instant before it, `23:59:59.999999999`.
pub fn parse_lenient_time(text: &str) -> Option<DateTime<Utc>> {
    use chrono::{Datelike, Timelike};
    let text = text.trim();
    let parsed = DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            [
                "%Y-%m-%dT%H:%M:%S%.f",
                "%Y-%m-%d %H:%M:%S%.f",
                "%Y-%m-%dT%H:%M",
            ]
            .into_iter()
            .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
            .or_else(|| {
                NaiveDate::parse_from_str(text, "%Y-%m-%d")
                    .ok()
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
            })
            .map(|t| t.and_utc())
        })?;
    if !(0..=9999).contains(&parsed.year()) {
        return None;
    }
    if parsed.nanosecond() >= 1_000_000_000 {
        return parsed.with_nanosecond(999_999_999);
    }
    Some(parsed)
}

fn lenient_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    let Some(text) = Option::<String>::deserialize(d)? else {
        return Ok(None);
    };
    parse_lenient_time(&text).map(Some).ok_or_else(|| {
        serde::de::Error::custom(format!(
            "`{text}` is not a date (2024-05-01) or date-time (2024-05-01T09:30:00Z)"
        ))
    })
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Attribute {
    Text {
        label: String,
        value: String,
    },
    /// A sub-test: an entry of SR's `assessmentResults` when `id` is an assessment of the
    /// ordered package, else a line of `summary` (Kombo vendors send their own sub-test ids).
    SubResult {
        id: String,
        #[serde(default)]
        label: Option<String>,
        #[serde(default)]
        score: Option<SubScore>,
        #[serde(default)]
        status: Option<SubmittedStatus>,
        #[serde(default)]
        score_label: Option<String>,
        #[serde(default)]
        summary: Option<String>,
        #[serde(default, deserialize_with = "lenient_time")]
        assessment_date: Option<DateTime<Utc>>,
        #[serde(default, deserialize_with = "lenient_time")]
        completed_at: Option<DateTime<Utc>>,
        #[serde(default)]
        attachments: Vec<AttachmentSubmission>,
    },
}

#[derive(Debug, Clone, Deserialize)]
pub struct SubScore {
    pub value: f64,
    pub max: f64,
    #[serde(default)]
    pub min: Option<f64>,
}

/// An attachment, one of three kinds told apart by which field is set:
/// - a link `{name, url, type?, content_type?}` that goes into SR's PATCH body (`type` is
///   inferred from `content_type` when absent);
/// - a file sent inline `{name, content_type, data}` (base64);
/// - a file the publisher downloads at delivery time `{name, content_type?, data_url}`
///   (without `content_type`, as Kombo's SDK allows, the type comes from the file name).
///
/// Files go to SR's `POST /orders/{orderId}/results/attachment`, not into the PATCH.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttachmentSubmission {
    pub name: String,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub data: Option<String>,
    #[serde(default)]
    pub data_url: Option<String>,
    #[serde(rename = "type", default)]
    pub kind: Option<UrlAttachmentType>,
    #[serde(default)]
    pub content_type: Option<String>,
}

/// The largest a submission may be as stored (its JSON, inline file data apart): it is kept as
/// the submission's history item and, as SR's `PackageResult`, on the order item, next to SR's
/// order (at most 128 KiB) and the enrichment, within DynamoDB's 400 KB per item.
pub const MAX_STORED_RESULT_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid field `{field}`: {reason}")]
pub struct ResultError {
    pub field: String,
    pub reason: String,
}

pub(super) fn error(field: impl Into<String>, reason: impl Into<String>) -> ResultError {
    ResultError {
        field: field.into(),
        reason: reason.into(),
    }
}
