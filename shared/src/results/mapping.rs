//! Mapping a submission onto SR's `PackageResult` (scores, statuses, sub-results, SR-only
//! fields), and the rule that a final status never changes at SR.

use super::files::{content_type_warnings, dedupe_links, url_attachment, url_attachments};
use super::submission::{
    error, AttachmentSubmission, Attribute, ResultError, ResultSubmission, SubScore,
    SubmittedStatus,
};
use crate::orders::Order;
use crate::sr::results::UrlAttachmentType;
use crate::sr::{AssessmentResult, PackageResult, ResultStatus, Score};

/// What a submission does to the order's result (see [`decide`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// A first result or a new status: stored as the next version and delivered.
    Forward,
    /// The same final status again (a re-score, a new report): stored as the next version,
    /// delivered, and kept in the order's history as a revision of `of`.
    Revision { of: u64 },
}

impl Decision {
    /// The version this submission revises, for the order's history.
    pub fn revision_of(self) -> Option<u64> {
        match self {
            Self::Forward => None,
            Self::Revision { of } => Some(of),
        }
    }
}

/// Refused: the order's result already holds a final status and the submission names another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "the order's result is already {} (final): a result with status {} is refused, because \
     SmartRecruiters never sees a final status change. A revision with status {} (a new score \
     or report) is accepted",
    current.as_str(), submitted.as_str(), current.as_str()
)]
pub struct FinalStatusConflict {
    pub current: ResultStatus,
    pub submitted: ResultStatus,
}

/// The final-status rule. Once the order's result is `COMPLETED`, `REJECTED` or `EXPIRED`, a
/// submission with any other status (Kombo's `CANCELLED` after `COMPLETED`, a late
/// `IN_PROGRESS`) is refused; the same final status is a revision of `current_version`. Before a
/// final status every status goes forward.
pub fn decide(
    current: Option<ResultStatus>,
    current_version: u64,
    next: ResultStatus,
) -> Result<Decision, FinalStatusConflict> {
    match current {
        Some(now) if now.is_final() && now != next => Err(FinalStatusConflict {
            current: now,
            submitted: next,
        }),
        Some(now) if now.is_final() => Ok(Decision::Revision {
            of: current_version,
        }),
        _ => Ok(Decision::Forward),
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

/// A submission mapped onto SR's `PackageResult`, with what the vendor should know about how
/// (the answer's `warnings`).
#[derive(Debug, Clone, PartialEq)]
pub struct MappedResult {
    pub result: PackageResult,
    pub warnings: Vec<String>,
}

/// The value of an SR-only field given at the top level (`score_label`) or in
/// `remote_fields.smartrecruiters` (`scoreLabel`): either place, or both when they agree.
fn one_of_two<T: Clone + PartialEq>(
    top: &Option<T>,
    top_field: &str,
    remote: Option<&Option<T>>,
    remote_field: &str,
) -> Result<Option<T>, ResultError> {
    match (top, remote.and_then(Option::as_ref)) {
        (Some(a), Some(b)) if a != b => Err(error(
            format!("remote_fields.smartrecruiters.{remote_field}"),
            format!("contradicts `{top_field}`; set one of them"),
        )),
        (Some(a), _) => Ok(Some(a.clone())),
        (None, b) => Ok(b.cloned()),
    }
}

/// SR's status for the submission: Kombo's (or SR's) `status`, refined by
/// `remote_fields.smartrecruiters.status` where Kombo's word is coarser than SR's.
fn sr_status(
    status: SubmittedStatus,
    remote: Option<ResultStatus>,
) -> Result<ResultStatus, ResultError> {
    let mapped = status.to_sr();
    let Some(refined) = remote else {
        return Ok(mapped);
    };
    use crate::orders::VendorOrderStatus as Kombo;
    if refined == mapped || Kombo::from_result(Some(refined)) == Kombo::from_result(Some(mapped)) {
        Ok(refined)
    } else {
        Err(error(
            "remote_fields.smartrecruiters.status",
            format!(
                "{} does not refine `status` {}: IN_PROGRESS/PENDING refine OPEN, \
                 REJECTED/EXPIRED refine CANCELLED",
                refined.as_str(),
                mapped.as_str()
            ),
        ))
    }
}

/// A sub-result SR has no assessment for, as a readable line of `summary`:
/// `Personality test: 97.5/100, COMPLETED, Strong (calm under pressure)`.
fn sub_result_line(
    id: &str,
    label: Option<&str>,
    score: Option<&SubScore>,
    status: Option<SubmittedStatus>,
    score_label: Option<&str>,
    summary: Option<&str>,
) -> String {
    let mut parts = Vec::new();
    if let Some(s) = score {
        parts.push(match s.min {
            Some(min) if min != 0.0 => format!("{}/{} (min {min})", s.value, s.max),
            _ => format!("{}/{}", s.value, s.max),
        });
    }
    if let Some(status) = status {
        parts.push(status.to_sr().as_str().to_string());
    }
    if let Some(l) = score_label.filter(|l| !l.trim().is_empty()) {
        parts.push(l.to_string());
    }
    let mut line = format!("{}: {}", label.unwrap_or(id), parts.join(", "));
    if let Some(text) = summary.filter(|t| !t.trim().is_empty()) {
        line.push_str(&format!(" ({text})"));
    }
    line
}

/// Builds SR's `PackageResult` for `order` from the vendor's submission.
pub fn to_package_result(
    submission: &ResultSubmission,
    order: &Order,
) -> Result<MappedResult, ResultError> {
    let mut warnings = Vec::new();
    let remote = submission.remote_fields.as_ref();
    let sr_fields = remote.and_then(|r| r.smartrecruiters.as_ref());
    for ats in remote.map(|r| r.other.keys()).into_iter().flatten() {
        warnings.push(format!(
            "`remote_fields.{ats}` applies to another ATS and was ignored; SmartRecruiters reads \
             `remote_fields.smartrecruiters`"
        ));
    }
    warnings.extend(content_type_warnings(submission));
    let status = sr_status(submission.status, sr_fields.and_then(|f| f.status))?;
    // Each SR-only field: at the top level, or in `remote_fields.smartrecruiters` (SR's name).
    macro_rules! sr_only {
        ($field:ident, $sr_name:literal) => {
            one_of_two(
                &submission.$field,
                stringify!($field),
                sr_fields.map(|f| &f.$field),
                $sr_name,
            )?
        };
    }
    let min_score = sr_only!(min_score, "minScore");
    let score_label = sr_only!(score_label, "scoreLabel");
    let summary = sr_only!(summary, "summary");
    let name = sr_only!(name, "name");
    let assessment_package_date = sr_only!(assessment_package_date, "assessmentPackageDate");
    let score = match (submission.score, submission.max_score) {
        (None, None) => None,
        (Some(raw), Some(max)) => Some(to_score("score", raw, min_score.unwrap_or(0.0), max)?),
        (Some(_), None) => return Err(error("max_score", "is required when score is given")),
        (None, Some(_)) => return Err(error("score", "is required when max_score is given")),
    };
    let sub_attachments = submission
        .attributes
        .iter()
        .any(|a| matches!(a, Attribute::SubResult { attachments, .. } if !attachments.is_empty()));
    if order.inline.is_some()
        && (!submission.attachments.is_empty()
            || submission.result_url.is_some()
            || sub_attachments)
    {
        return Err(error(
            "attachments",
            "inline assessment orders take no attachments (links or files) and no result_url: \
             SmartRecruiters does not support attachments on inline orders",
        ));
    }
    let mut attachments = url_attachments("attachments", &submission.attachments)?;
    if let Some(result_url) = &submission.result_url {
        let report = AttachmentSubmission {
            name: "Full results".into(),
            url: Some(result_url.clone()),
            data: None,
            data_url: None,
            kind: Some(UrlAttachmentType::OtherUrl),
            content_type: None,
        };
        attachments.insert(
            0,
            url_attachment("result_url", &report).map_err(|e| error("result_url", e.reason))?,
        );
    }
    let mut lines = Vec::new();
    let mut assessment_results = Vec::new();
    for (i, attribute) in submission.attributes.iter().enumerate() {
        match attribute {
            Attribute::Text { label, value } => lines.push(format!("{label}: {value}")),
            Attribute::SubResult {
                id,
                label,
                score,
                status,
                score_label,
                summary,
                assessment_date,
                completed_at,
                attachments: links,
            } => {
                let field = format!("attributes[{i}]");
                let sr_score = score
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
                let sub_links = url_attachments(&format!("{field}.attachments"), links)?;
                if order.package.assessment_ids.contains(id) {
                    warnings.push(format!(
                        "`{field}` (SUB_RESULT `{id}`) became assessmentResults[{}]",
                        assessment_results.len()
                    ));
                    assessment_results.push(AssessmentResult {
                        assessment_id: id.clone(),
                        name: label.clone(),
                        status: status.map(SubmittedStatus::to_sr),
                        score: sr_score,
                        score_label: score_label.clone(),
                        summary: summary.clone(),
                        assessment_date: *assessment_date,
                        submission_date: *completed_at,
                        attachments: sub_links,
                    });
                } else {
                    let mut note = format!(
                        "`{field}` (SUB_RESULT `{id}`) is not an assessment of package `{}` \
                         (its assessments: {}); it goes to SmartRecruiters as a line of `summary`",
                        order.package.id,
                        order.package.assessment_ids.join(", ")
                    );
                    if !sub_links.is_empty() {
                        note.push_str(", its links as package attachments");
                    }
                    warnings.push(note);
                    lines.push(sub_result_line(
                        id,
                        label.as_deref(),
                        score.as_ref(),
                        *status,
                        score_label.as_deref(),
                        summary.as_deref(),
                    ));
                    attachments.extend(sub_links);
                }
            }
        }
    }
    let summary = match (summary, lines.is_empty()) {
        (Some(s), true) => Some(s),
        (Some(s), false) => Some(format!("{s}\n{}", lines.join("\n"))),
        (None, false) => Some(lines.join("\n")),
        (None, true) => None,
    };
    let result = PackageResult {
        status: Some(status),
        score,
        score_label,
        summary,
        name: name.or_else(|| Some(order.package.name.clone())),
        assessment_package_date,
        submission_date: submission.completed_at,
        attachments: dedupe_links(attachments),
        assessment_results,
    };
    Ok(MappedResult { result, warnings })
}
