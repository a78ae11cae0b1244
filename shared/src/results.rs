//! Results: turning the vendor's submission (Kombo's shape plus SR-only fields) into SR's
//! `PackageResult`, and the rule that SR never sees a status go backwards.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::orders::Order;
use crate::sr::results::UrlAttachmentType;
use crate::sr::{AssessmentResult, PackageResult, ResultStatus, Score, UrlAttachment};

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
    #[serde(default)]
    pub completed_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub score: Option<f64>,
    #[serde(default)]
    pub max_score: Option<f64>,
    #[serde(default)]
    pub attributes: Vec<Attribute>,
    #[serde(default)]
    pub attachments: Vec<AttachmentSubmission>,
    // SR-only additions.
    #[serde(default)]
    pub min_score: Option<f64>,
    #[serde(default)]
    pub score_label: Option<String>,
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub assessment_package_date: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Attribute {
    Text {
        label: String,
        value: String,
    },
    /// One assessment of the package: becomes an entry of SR's `assessmentResults`.
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
        #[serde(default)]
        assessment_date: Option<DateTime<Utc>>,
        #[serde(default)]
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

/// A link attachment: `{type?, url, name}`; `type` is inferred from `content_type` when absent.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttachmentSubmission {
    pub name: String,
    pub url: String,
    #[serde(rename = "type", default)]
    pub kind: Option<UrlAttachmentType>,
    #[serde(default)]
    pub content_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid field `{field}`: {reason}")]
pub struct ResultError {
    pub field: String,
    pub reason: String,
}

fn error(field: impl Into<String>, reason: impl Into<String>) -> ResultError {
    ResultError {
        field: field.into(),
        reason: reason.into(),
    }
}

/// Whether a submission goes to SR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Forward,
    /// Recorded on the order, not sent: SR already shows a final status.
    RecordOnly {
        reason: String,
    },
}

/// Status only moves forward: once SR shows COMPLETED, REJECTED or EXPIRED, a late IN_PROGRESS or
/// PENDING is kept for the record but never sent. A final status may still correct a final one.
pub fn decide(current: Option<ResultStatus>, next: ResultStatus) -> Decision {
    match current {
        Some(now) if now.is_final() && !next.is_final() => Decision::RecordOnly {
            reason: format!(
                "order is already {}; a later {} is recorded but not sent to SmartRecruiters",
                now.as_str(),
                next.as_str()
            ),
        },
        _ => Decision::Forward,
    }
}

/// SR wants integers: round half away from zero (`f64::round`), and keep `raw` within `[min, max]`.
pub fn to_score(field: &str, raw: f64, min: f64, max: f64) -> Result<Score, ResultError> {
    for (name, v) in [("score", raw), ("min", min), ("max", max)] {
        if !v.is_finite() || v.abs() > 1e15 {
            return Err(error(field, format!("{name} must be a finite number")));
        }
    }
    let score = Score {
        raw: raw.round() as i64,
        min: min.round() as i64,
        max: max.round() as i64,
    };
    if score.min > score.max {
        return Err(error(
            field,
            format!("min ({min}) is greater than max ({max})"),
        ));
    }
    if raw < min || raw > max {
        return Err(error(
            field,
            format!("score {raw} is outside [{min}, {max}]"),
        ));
    }
    Ok(score)
}

fn url_attachment(field: &str, a: &AttachmentSubmission) -> Result<UrlAttachment, ResultError> {
    let url = url::Url::parse(&a.url)
        .map_err(|_| error(format!("{field}.url"), "must be an absolute URL"))?;
    if url.scheme() != "https" && url.scheme() != "http" {
        return Err(error(format!("{field}.url"), "must be an http(s) URL"));
    }
    if a.name.trim().is_empty() {
        return Err(error(format!("{field}.name"), "must not be empty"));
    }
    let kind = a.kind.unwrap_or_else(|| match a.content_type.as_deref() {
        Some(ct) if ct.eq_ignore_ascii_case("application/pdf") => UrlAttachmentType::PdfUrl,
        Some(ct) if ct.to_ascii_lowercase().starts_with("video/") => UrlAttachmentType::VideoUrl,
        _ => UrlAttachmentType::OtherUrl,
    });
    Ok(UrlAttachment {
        kind,
        url: a.url.clone(),
        name: Some(a.name.clone()),
    })
}

fn url_attachments(
    field: &str,
    list: &[AttachmentSubmission],
) -> Result<Vec<UrlAttachment>, ResultError> {
    list.iter()
        .enumerate()
        .map(|(i, a)| url_attachment(&format!("{field}[{i}]"), a))
        .collect()
}

/// Builds SR's `PackageResult` for `order` from the vendor's submission.
pub fn to_package_result(
    submission: &ResultSubmission,
    order: &Order,
) -> Result<PackageResult, ResultError> {
    let score = match (submission.score, submission.max_score) {
        (None, None) => None,
        (Some(raw), Some(max)) => Some(to_score(
            "score",
            raw,
            submission.min_score.unwrap_or(0.0),
            max,
        )?),
        (Some(_), None) => return Err(error("max_score", "is required when score is given")),
        (None, Some(_)) => return Err(error("score", "is required when max_score is given")),
    };
    let mut attachments = url_attachments("attachments", &submission.attachments)?;
    if let Some(result_url) = &submission.result_url {
        let report = AttachmentSubmission {
            name: "Full results".into(),
            url: result_url.clone(),
            kind: Some(UrlAttachmentType::OtherUrl),
            content_type: None,
        };
        attachments.insert(
            0,
            url_attachment("result_url", &report).map_err(|e| error("result_url", e.reason))?,
        );
    }
    let sub_attachments = submission
        .attributes
        .iter()
        .any(|a| matches!(a, Attribute::SubResult { attachments, .. } if !attachments.is_empty()));
    if order.inline.is_some() && (!attachments.is_empty() || sub_attachments) {
        return Err(error(
            "attachments",
            "inline assessment orders take no attachments or result_url (SmartRecruiters does not support them)",
        ));
    }
    let mut texts = Vec::new();
    let mut assessment_results = Vec::new();
    for (i, attribute) in submission.attributes.iter().enumerate() {
        match attribute {
            Attribute::Text { label, value } => texts.push(format!("{label}: {value}")),
            Attribute::SubResult {
                id,
                label,
                score,
                status,
                score_label,
                summary,
                assessment_date,
                completed_at,
                attachments,
            } => {
                let field = format!("attributes[{i}]");
                if !order.package.assessment_ids.contains(id) {
                    return Err(error(
                        format!("{field}.id"),
                        format!(
                            "`{id}` is not an assessment of package `{}` (expected one of: {})",
                            order.package.id,
                            order.package.assessment_ids.join(", ")
                        ),
                    ));
                }
                let score = score
                    .as_ref()
                    .map(|s| {
                        to_score(
                            &format!("{field}.score"),
                            s.value,
                            s.min.unwrap_or(0.0),
                            s.max,
                        )
                    })
                    .transpose()?;
                assessment_results.push(AssessmentResult {
                    assessment_id: id.clone(),
                    name: label.clone(),
                    status: status.map(SubmittedStatus::to_sr),
                    score,
                    score_label: score_label.clone(),
                    summary: summary.clone(),
                    assessment_date: *assessment_date,
                    submission_date: *completed_at,
                    attachments: url_attachments(&format!("{field}.attachments"), attachments)?,
                });
            }
        }
    }
    let summary = match (&submission.summary, texts.is_empty()) {
        (Some(s), true) => Some(s.clone()),
        (Some(s), false) => Some(format!("{s}\n{}", texts.join("\n"))),
        (None, false) => Some(texts.join("\n")),
        (None, true) => None,
    };
    Ok(PackageResult {
        status: Some(submission.status.to_sr()),
        score,
        score_label: submission.score_label.clone(),
        summary,
        name: submission
            .name
            .clone()
            .or_else(|| Some(order.package.name.clone())),
        assessment_package_date: submission.assessment_package_date,
        submission_date: submission.completed_at,
        attachments,
        assessment_results,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orders::{DeliveryState, OrderedPackage};
    use crate::sr::{AssessmentType, Candidate, Job};

    fn order() -> Order {
        let now = Utc::now();
        Order {
            order_id: "o1".into(),
            company_id: "c".into(),
            integration_id: "i".into(),
            package: OrderedPackage {
                id: "pkg".into(),
                name: "Java".into(),
                kind: AssessmentType::SkillTest,
                assessment_ids: vec!["a1".into(), "a2".into()],
            },
            result_callback_url: "https://x/orders/o1/results".into(),
            candidate: Candidate {
                id: "c".into(),
                first_name: "A".into(),
                last_name: "B".into(),
                email: None,
                phone_number: None,
                other: Default::default(),
            },
            job: Job {
                id: "j".into(),
                title: None,
                ref_number: None,
                other: Default::default(),
            },
            requester: None,
            fields: Default::default(),
            inline: None,
            request_fingerprint: "f".into(),
            created_at: now,
            updated_at: now,
            result: None,
            result_version: 0,
            sent_version: 0,
            delivery_state: DeliveryState::None,
            submissions: vec![],
            deliveries: vec![],
        }
    }

    fn submission(json: serde_json::Value) -> ResultSubmission {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn kombo_result_maps_onto_package_result() {
        let s = submission(serde_json::json!({
            "status": "COMPLETED",
            "result_url": "https://vendor.example.com/r/1",
            "completed_at": "2026-04-04T00:00:00Z",
            "score": 90, "max_score": 100,
            "attributes": [
                {"type": "TEXT", "label": "Role fit", "value": "Excellent"},
                {"type": "SUB_RESULT", "id": "a1", "label": "Personality", "score": {"value": 97.5, "max": 100}, "status": "COMPLETED"}
            ],
            "score_label": "Strong hire"
        }));
        let r = to_package_result(&s, &order()).unwrap();
        assert_eq!(r.status, Some(ResultStatus::Completed));
        assert_eq!(
            r.score,
            Some(Score {
                raw: 90,
                min: 0,
                max: 100
            })
        );
        assert_eq!(r.summary.as_deref(), Some("Role fit: Excellent"));
        assert_eq!(r.attachments[0].url, "https://vendor.example.com/r/1");
        assert_eq!(r.assessment_results[0].score.unwrap().raw, 98);
        assert_eq!(r.name.as_deref(), Some("Java"));
        assert_eq!(
            r.submission_date.unwrap().to_rfc3339(),
            "2026-04-04T00:00:00+00:00"
        );
    }

    #[test]
    fn fractional_scores_round_half_away_from_zero() {
        assert_eq!(to_score("s", 2.5, 0.0, 10.0).unwrap().raw, 3);
        assert_eq!(to_score("s", 2.4, 0.0, 10.0).unwrap().raw, 2);
        assert_eq!(to_score("s", -2.5, -5.0, 10.0).unwrap().raw, -3);
    }

    #[test]
    fn score_outside_range_is_refused() {
        let err = to_score("score", 101.0, 0.0, 100.0).unwrap_err();
        assert_eq!(err.field, "score");
        assert!(err.reason.contains("outside"));
        assert!(to_score("score", 5.0, 10.0, 1.0).is_err());
    }

    #[test]
    fn sub_result_must_belong_to_the_package() {
        let s = submission(serde_json::json!({
            "status": "COMPLETED",
            "attributes": [{"type": "SUB_RESULT", "id": "zzz", "label": "x"}]
        }));
        let err = to_package_result(&s, &order()).unwrap_err();
        assert_eq!(err.field, "attributes[0].id");
    }

    #[test]
    fn score_needs_max_score() {
        let s = submission(serde_json::json!({"status": "COMPLETED", "score": 3}));
        assert_eq!(
            to_package_result(&s, &order()).unwrap_err().field,
            "max_score"
        );
    }

    #[test]
    fn late_non_final_after_final_is_only_recorded() {
        use ResultStatus::*;
        assert_eq!(decide(None, InProgress), Decision::Forward);
        assert_eq!(decide(Some(InProgress), Completed), Decision::Forward);
        assert_eq!(decide(Some(Completed), Completed), Decision::Forward);
        assert!(matches!(
            decide(Some(Completed), InProgress),
            Decision::RecordOnly { .. }
        ));
        assert!(matches!(
            decide(Some(Expired), Pending),
            Decision::RecordOnly { .. }
        ));
    }

    #[test]
    fn kombo_statuses_map_to_sr() {
        assert_eq!(SubmittedStatus::Open.to_sr(), ResultStatus::InProgress);
        assert_eq!(SubmittedStatus::Cancelled.to_sr(), ResultStatus::Rejected);
    }
}
