//! Results: turning the vendor's submission (Kombo's shape plus SR-only fields) into SR's
//! `PackageResult`, and the rule that a final status never changes at SR. Storing and queueing
//! a submission is the operation [`submit`] (the one part of `results` that uses the store).

pub mod submit;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Deserializer};

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

/// Largest inline (`data`) file, decoded. A file is stored as its own DynamoDB item next to the
/// order (items hold at most 400 KB, key and metadata included), never on the order item or in
/// the queue message; 300 KiB leaves room for the rest of the item. Larger files go by `data_url`.
pub const MAX_INLINE_FILE_BYTES: usize = 300 * 1024;
/// The largest a submission may be as stored (its JSON, inline file data apart): it is kept as
/// the submission's history item and, as SR's `PackageResult`, on the order item, next to SR's
/// order (at most 128 KiB) and the enrichment, within DynamoDB's 400 KB per item.
pub const MAX_STORED_RESULT_BYTES: usize = 64 * 1024;
/// File attachments per submission (package level and sub-results together).
pub const MAX_FILES_PER_SUBMISSION: usize = 20;
/// SR's only documented file-name limit (`Attachment.fileName`, maxLength 100, in the merged spec).
pub const MAX_FILE_NAME_CHARS: usize = 100;

/// The validated content of one attachment entry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum AttachmentSource<'a> {
    Link(&'a str),
    Inline(&'a str),
    DataUrl(&'a str),
}

/// A file attachment of a submission, validated and (for inline ones) decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmittedFile {
    /// Where it was in the body (`attachments[2]`, `attributes[0].attachments[1]`).
    pub field: String,
    pub name: String,
    pub content_type: String,
    pub content: FileContent,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileContent {
    Inline(Vec<u8>),
    DataUrl(String),
}

/// Why the files of a submission were refused: a 400, or a 413 for inline data over the limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttachmentError {
    #[error(transparent)]
    Invalid(#[from] ResultError),
    #[error(
        "attachment `{field}` has {size} bytes of inline `data`; inline files are limited to \
         {limit} bytes. Send larger files as `data_url` (an https URL the connector downloads \
         when it delivers the result) instead of `data`"
    )]
    TooLarge {
        field: String,
        size: usize,
        limit: usize,
    },
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

/// Which kind an attachment entry is: exactly one of `url`, `data`, `data_url` must be set.
fn attachment_source<'a>(
    field: &str,
    a: &'a AttachmentSubmission,
) -> Result<AttachmentSource<'a>, ResultError> {
    let source = match (a.url.as_deref(), a.data.as_deref(), a.data_url.as_deref()) {
        (Some(url), None, None) => AttachmentSource::Link(url),
        (None, Some(data), None) => AttachmentSource::Inline(data),
        (None, None, Some(data_url)) => AttachmentSource::DataUrl(data_url),
        _ => {
            return Err(error(
                field,
                "set exactly one of `url` (a link), `data` (a base64 file) or `data_url` (a file to download)",
            ))
        }
    };
    if !matches!(source, AttachmentSource::Link(_)) && a.kind.is_some() {
        return Err(error(
            format!("{field}.type"),
            "applies only to `url` attachments; files are described by `content_type`",
        ));
    }
    Ok(source)
}

fn url_attachment(field: &str, a: &AttachmentSubmission) -> Result<UrlAttachment, ResultError> {
    let raw = a.url.as_deref().unwrap_or_default();
    let url = url::Url::parse(raw)
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
        url: raw.to_string(),
        name: Some(a.name.clone()),
    })
}

/// The link attachments of `list` (files are skipped: they are uploaded, not linked), with a
/// later link of the same name or URL replacing an earlier one in its place.
fn url_attachments(
    field: &str,
    list: &[AttachmentSubmission],
) -> Result<Vec<UrlAttachment>, ResultError> {
    let mut links = Vec::new();
    for (i, a) in list.iter().enumerate() {
        let at = format!("{field}[{i}]");
        if let AttachmentSource::Link(_) = attachment_source(&at, a)? {
            links.push(url_attachment(&at, a)?);
        }
    }
    Ok(dedupe_links(links))
}

/// Re-submitting a link with the same name or the same URL replaces it rather than adding it.
fn dedupe_links(links: Vec<UrlAttachment>) -> Vec<UrlAttachment> {
    let mut kept: Vec<UrlAttachment> = Vec::with_capacity(links.len());
    for link in links {
        let same = kept
            .iter()
            .position(|k| k.url == link.url || (k.name.is_some() && k.name == link.name));
        match same {
            Some(i) => kept[i] = link,
            None => kept.push(link),
        }
    }
    kept
}

/// RFC 9110 `type/subtype` made of token characters, optionally followed by `;` parameters.
/// Hand-written (a dozen lines) rather than a new dependency; reqwest refuses what fails this.
fn is_media_type(value: &str) -> bool {
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    value.len() <= 255
        && value.bytes().all(|b| b == b' ' || b.is_ascii_graphic())
        && essence
            .split_once('/')
            .is_some_and(|(t, sub)| token(t) && token(sub))
}

/// A file name SR can show and a multipart `filename` can carry unchanged.
fn check_file_name(field: &str, name: &str) -> Result<(), ResultError> {
    let reason = if name.trim().is_empty() {
        Some("must not be empty".to_string())
    } else if name.chars().count() > MAX_FILE_NAME_CHARS {
        Some(format!("must be at most {MAX_FILE_NAME_CHARS} characters"))
    } else if name
        .chars()
        .any(|c| c.is_control() || matches!(c, '/' | '\\' | '"'))
    {
        Some("must not contain control characters, `/`, `\\` or `\"`".to_string())
    } else if name == "." || name == ".." {
        Some("must be a file name".to_string())
    } else {
        None
    };
    reason.map_or(Ok(()), |r| Err(error(format!("{field}.name"), r)))
}

/// Decodes standard base64, padded or not, ignoring line breaks and other ASCII whitespace
/// (MIME-wrapped base64 is common). The size is checked before decoding, so an oversized body
/// never gets allocated twice.
fn decode_inline(field: &str, data: &str, limit: usize) -> Result<Vec<u8>, AttachmentError> {
    use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
    use base64::engine::DecodePaddingMode;
    use base64::Engine as _;
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let compact: String = data.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let estimated = compact.trim_end_matches('=').len() * 3 / 4;
    if estimated > limit {
        return Err(AttachmentError::TooLarge {
            field: field.to_string(),
            size: estimated,
            limit,
        });
    }
    let bytes = LENIENT.decode(compact.as_bytes()).map_err(|e| {
        error(
            format!("{field}.data"),
            format!("is not valid base64 ({e}); send the file's bytes base64-encoded"),
        )
    })?;
    if bytes.is_empty() {
        return Err(error(format!("{field}.data"), "is an empty file").into());
    }
    Ok(bytes)
}

/// The file attachments of a submission (package level, then each sub-result), validated, inline
/// ones decoded. Within a submission a later file of the same name replaces an earlier one, as a
/// later submission does: file names are unique per order.
pub fn file_attachments(
    submission: &ResultSubmission,
    max_inline_bytes: usize,
) -> Result<Vec<SubmittedFile>, AttachmentError> {
    let mut files: Vec<SubmittedFile> = Vec::new();
    for (field, list) in attachment_lists(submission) {
        for (i, a) in list.iter().enumerate() {
            let at = format!("{field}[{i}]");
            let content = match attachment_source(&at, a)? {
                AttachmentSource::Link(_) => continue,
                AttachmentSource::Inline(data) => {
                    FileContent::Inline(decode_inline(&at, data, max_inline_bytes)?)
                }
                AttachmentSource::DataUrl(raw) => {
                    let url = url::Url::parse(raw).map_err(|_| {
                        error(format!("{at}.data_url"), "must be an absolute https URL")
                    })?;
                    if !matches!(url.scheme(), "https" | "http") {
                        return Err(error(format!("{at}.data_url"), "must be an https URL").into());
                    }
                    if !url.username().is_empty() || url.password().is_some() {
                        return Err(error(
                            format!("{at}.data_url"),
                            "must not carry credentials (user:password@); use a signed URL",
                        )
                        .into());
                    }
                    if raw.len() > 2048 {
                        return Err(error(
                            format!("{at}.data_url"),
                            "must be at most 2048 characters",
                        )
                        .into());
                    }
                    FileContent::DataUrl(raw.to_string())
                }
            };
            check_file_name(&at, &a.name)?;
            let content_type = match (a.content_type.as_deref(), &content) {
                (None, FileContent::DataUrl(_)) => content_type_of_name(&a.name),
                (given, _) => {
                    let given = given.unwrap_or_default();
                    if !is_media_type(given) {
                        return Err(error(
                            format!("{at}.content_type"),
                            "is required for files and must be a media type such as `application/pdf`",
                        )
                        .into());
                    }
                    given.to_string()
                }
            };
            let file = SubmittedFile {
                field: at,
                name: a.name.clone(),
                content_type,
                content,
            };
            match files.iter().position(|f| f.name == file.name) {
                Some(i) => files[i] = file,
                None => files.push(file),
            }
        }
    }
    if files.len() > MAX_FILES_PER_SUBMISSION {
        return Err(error(
            "attachments",
            format!("at most {MAX_FILES_PER_SUBMISSION} file attachments per submission"),
        )
        .into());
    }
    Ok(files)
}

/// The attachment lists of a submission with where each is in the body: the package's, then
/// each sub-result's.
fn attachment_lists(submission: &ResultSubmission) -> Vec<(String, &[AttachmentSubmission])> {
    let mut lists: Vec<(String, &[AttachmentSubmission])> =
        vec![("attachments".into(), &submission.attachments)];
    for (i, attribute) in submission.attributes.iter().enumerate() {
        if let Attribute::SubResult { attachments, .. } = attribute {
            lists.push((format!("attributes[{i}].attachments"), attachments));
        }
    }
    lists
}

/// The media type of a `data_url` file sent without `content_type` (Kombo's SDK allows it; Kombo
/// reads the download's `Content-Type`): from the file name's extension, else
/// `application/octet-stream`. Known before anything is downloaded, so a dry run shows it.
fn content_type_of_name(name: &str) -> String {
    mime_guess::from_path(name)
        .first_raw()
        .unwrap_or("application/octet-stream")
        .to_string()
}

/// One warning per `data_url` file whose `content_type` was taken from its name.
fn content_type_warnings(submission: &ResultSubmission) -> Vec<String> {
    attachment_lists(submission)
        .into_iter()
        .flat_map(|(field, list)| {
            list.iter()
                .enumerate()
                .filter(|(_, a)| a.data_url.is_some() && a.content_type.is_none())
                .map(move |(i, a)| {
                    format!(
                        "`{field}[{i}].content_type` is missing; `{}` was taken from the file name \
                         `{}` (send content_type to set it)",
                        content_type_of_name(&a.name),
                        a.name
                    )
                })
        })
        .collect()
}

/// The vendor's body as it is kept on the order: inline file `data` replaced by a note of its
/// length, so the order item stays small (the bytes are stored once, as the file's own item).
pub fn without_inline_data(mut body: serde_json::Value) -> serde_json::Value {
    fn strip(list: Option<&mut serde_json::Value>) {
        let Some(serde_json::Value::Array(items)) = list else {
            return;
        };
        for item in items {
            let Some(object) = item.as_object_mut() else {
                continue;
            };
            if let Some(serde_json::Value::String(data)) = object.remove("data") {
                let note = format!(
                    "{} base64 characters, stored separately as a file attachment",
                    data.len()
                );
                object.insert("data_omitted".into(), note.into());
            }
        }
    }
    strip(body.get_mut("attachments"));
    if let Some(serde_json::Value::Array(attributes)) = body.get_mut("attributes") {
        for attribute in attributes {
            strip(attribute.get_mut("attachments"));
        }
    }
    body
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

/// Whether a submission's body (as stored: inline `data` became `data_omitted`) names a file,
/// at package level or in a `SUB_RESULT`.
pub fn submission_has_files(body: &serde_json::Value) -> bool {
    fn has_file(list: Option<&serde_json::Value>) -> bool {
        list.and_then(serde_json::Value::as_array)
            .is_some_and(|items| {
                items.iter().any(|item| {
                    ["data", "data_omitted", "data_url"]
                        .iter()
                        .any(|key| item.get(key).is_some())
                })
            })
    }
    has_file(body.get("attachments"))
        || body
            .get("attributes")
            .and_then(serde_json::Value::as_array)
            .is_some_and(|attributes| attributes.iter().any(|a| has_file(a.get("attachments"))))
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
            delivered_status: None,
            result_submitted_at: None,
            has_file_attachments: false,
            result_request_sha256: None,
            result_rejected_by_vendor: false,
            submissions: vec![],
            deliveries: vec![],
            enrichment: None,
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
        let r = to_package_result(&s, &order()).unwrap().result;
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
    fn sub_results_of_other_ids_become_summary_lines_with_a_warning_each() {
        let s = submission(serde_json::json!({
            "status": "COMPLETED",
            "summary": "Overall strong",
            "attributes": [
                {"type": "SUB_RESULT", "id": "a2", "label": "Coding", "score": {"value": 8, "max": 10}, "status": "COMPLETED"},
                {"type": "SUB_RESULT", "id": "vendor-personality", "label": "Personality test",
                 "score": {"value": 97.5, "max": 100}, "status": "COMPLETED", "score_label": "Calm",
                 "attachments": [{"name": "Profile", "url": "https://v.example.com/p"}]},
                {"type": "TEXT", "label": "Role fit", "value": "Excellent"},
                {"type": "SUB_RESULT", "id": "vendor-logic", "label": "Logic", "score": {"value": 3, "max": 5}, "status": "CANCELLED"}
            ]
        }));
        let mapped = to_package_result(&s, &order()).unwrap();
        let r = &mapped.result;
        assert_eq!(r.assessment_results.len(), 1);
        assert_eq!(r.assessment_results[0].assessment_id, "a2");
        assert_eq!(
            r.summary.as_deref(),
            Some(
                "Overall strong\nPersonality test: 97.5/100, COMPLETED, Calm\n\
                 Role fit: Excellent\nLogic: 3/5, REJECTED"
            )
        );
        assert_eq!(r.attachments[0].url, "https://v.example.com/p");
        assert_eq!(mapped.warnings.len(), 3, "{:?}", mapped.warnings);
        assert!(mapped.warnings[0].contains("became assessmentResults[0]"));
        assert!(mapped.warnings[1].contains("`attributes[1]` (SUB_RESULT `vendor-personality`)"));
        assert!(mapped.warnings[1].contains("line of `summary`"));
        assert!(mapped.warnings[2].contains("`attributes[3]`"));
        // A non-matching sub-result is still validated like any other.
        let bad = submission(serde_json::json!({"status": "COMPLETED", "attributes": [
            {"type": "SUB_RESULT", "id": "zzz", "label": "x", "score": {"value": 11, "max": 10}, "status": "COMPLETED"}
        ]}));
        assert_eq!(
            to_package_result(&bad, &order()).unwrap_err().field,
            "attributes[0].score"
        );
    }

    #[test]
    fn remote_fields_carry_sr_only_fields_and_other_atss_are_ignored() {
        let s = submission(serde_json::json!({
            "status": "OPEN", "result_url": "https://v.example.com/r",
            "remote_fields": {
                "smartrecruiters": {"scoreLabel": "Promising", "status": "PENDING",
                                    "assessmentPackageDate": "2026-05-01"},
                "workday": {"Assess_Candidate_Data": {}}
            }
        }));
        let mapped = to_package_result(&s, &order()).unwrap();
        assert_eq!(mapped.result.score_label.as_deref(), Some("Promising"));
        assert_eq!(mapped.result.status, Some(ResultStatus::Pending));
        assert_eq!(
            mapped.result.assessment_package_date.unwrap().to_rfc3339(),
            "2026-05-01T00:00:00+00:00"
        );
        assert!(mapped.warnings[0].contains("`remote_fields.workday`"));
        let field_of = |json: serde_json::Value| {
            to_package_result(&submission(json), &order())
                .unwrap_err()
                .field
        };
        assert_eq!(
            field_of(
                serde_json::json!({"status": "COMPLETED", "score_label": "A",
                "remote_fields": {"smartrecruiters": {"scoreLabel": "B"}}})
            ),
            "remote_fields.smartrecruiters.scoreLabel"
        );
        assert_eq!(
            field_of(serde_json::json!({"status": "COMPLETED",
                "remote_fields": {"smartrecruiters": {"status": "PENDING"}}})),
            "remote_fields.smartrecruiters.status"
        );
        let typo: Result<ResultSubmission, _> = serde_json::from_value(serde_json::json!({
            "status": "COMPLETED", "remote_fields": {"smartrecruiters": {"scorelabel": "x"}}}));
        assert!(typo.unwrap_err().to_string().contains("scorelabel"));
    }

    #[test]
    fn completed_at_may_be_a_date_or_a_date_time_without_offset() {
        for (given, read) in [
            ("2024-05-01", "2024-05-01T00:00:00+00:00"),
            ("2024-05-01T09:30:00", "2024-05-01T09:30:00+00:00"),
            ("2024-05-01T09:30:00.250", "2024-05-01T09:30:00.250+00:00"),
            ("2024-05-01T09:30:00+02:00", "2024-05-01T07:30:00+00:00"),
            ("2024-05-01T09:30:00.000Z", "2024-05-01T09:30:00+00:00"),
        ] {
            let s = submission(
                serde_json::json!({"status": "COMPLETED", "completed_at": given,
                "attributes": [{"type": "SUB_RESULT", "id": "a1", "completed_at": given}]}),
            );
            assert_eq!(s.completed_at.unwrap().to_rfc3339(), read, "{given}");
            let r = to_package_result(&s, &order()).unwrap().result;
            assert_eq!(r.assessment_results[0].submission_date, s.completed_at);
        }
        let bad: Result<ResultSubmission, _> = serde_json::from_value(
            serde_json::json!({"status": "COMPLETED", "completed_at": "May 1st"}),
        );
        assert!(bad.unwrap_err().to_string().contains("May 1st"));
    }

    /// SR reads RFC 3339 date-times: a year outside 0000–9999 (`-0001-01-01`) was accepted,
    /// sent, and refused by SR for good; a leap second is read as the last instant before it.
    #[test]
    fn dates_sr_cannot_read_are_refused_or_normalised() {
        for unreadable in [
            "-0001-01-01",
            "-2024-05-01T09:30:00",
            "+10000-01-01T00:00:00Z",
            "10000-01-01",
        ] {
            assert_eq!(parse_lenient_time(unreadable), None, "{unreadable}");
        }
        for (given, read) in [
            ("0000-01-01", "0000-01-01T00:00:00+00:00"),
            ("9999-12-31T23:59:59Z", "9999-12-31T23:59:59+00:00"),
            (
                "2016-12-31T23:59:60Z",
                "2016-12-31T23:59:59.999999999+00:00",
            ),
            ("2016-12-31T23:59:60", "2016-12-31T23:59:59.999999999+00:00"),
        ] {
            let t = parse_lenient_time(given).unwrap_or_else(|| panic!("{given}"));
            assert_eq!(t.to_rfc3339(), read, "{given}");
        }
    }

    /// Kombo's SDK lets a `data_url` file go without `content_type` (Kombo takes it from the
    /// download); the connector takes it from the file name and says so.
    #[test]
    fn a_data_url_file_without_content_type_gets_one_from_its_name() {
        let s = submission(serde_json::json!({"status": "COMPLETED", "attachments": [
            {"name": "Interview.mp4", "data_url": "https://files.example.com/i.mp4?sig=a"},
            {"name": "notes", "data_url": "https://files.example.com/n"},
            {"name": "Report.PDF", "content_type": "application/pdf", "data_url": "https://files.example.com/r"}
        ]}));
        let files = file_attachments(&s, MAX_INLINE_FILE_BYTES).unwrap();
        let types: Vec<_> = files.iter().map(|f| f.content_type.as_str()).collect();
        assert_eq!(
            types,
            ["video/mp4", "application/octet-stream", "application/pdf"]
        );
        let warnings = to_package_result(&s, &order()).unwrap().warnings;
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("`attachments[0].content_type`"));
        assert!(warnings[0].contains("video/mp4"));
        assert!(warnings[1].contains("application/octet-stream"));
        // Inline data still needs it (Kombo requires it there too).
        let inline = submission(serde_json::json!({"status": "COMPLETED", "attachments": [
            {"name": "r.pdf", "data": b64(b"%PDF")}]}));
        match file_attachments(&inline, MAX_INLINE_FILE_BYTES).unwrap_err() {
            AttachmentError::Invalid(e) => assert_eq!(e.field, "attachments[0].content_type"),
            other => panic!("{other:?}"),
        }
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
    fn a_final_status_never_changes_and_the_same_one_is_a_revision() {
        use ResultStatus::*;
        assert_eq!(decide(None, 0, InProgress), Ok(Decision::Forward));
        assert_eq!(
            decide(Some(InProgress), 1, Completed),
            Ok(Decision::Forward)
        );
        assert_eq!(decide(Some(Pending), 1, InProgress), Ok(Decision::Forward));
        assert_eq!(
            decide(Some(Completed), 2, Completed),
            Ok(Decision::Revision { of: 2 })
        );
        for (now, next) in [
            (Completed, InProgress),
            (Completed, Rejected),
            (Rejected, Completed),
            (Expired, Pending),
            (Expired, Completed),
        ] {
            let conflict = decide(Some(now), 3, next).unwrap_err();
            assert_eq!((conflict.current, conflict.submitted), (now, next));
            let message = conflict.to_string();
            assert!(message.contains(now.as_str()), "{message}");
            assert!(message.contains(next.as_str()), "{message}");
        }
    }

    #[test]
    fn kombo_statuses_map_to_sr() {
        assert_eq!(SubmittedStatus::Open.to_sr(), ResultStatus::InProgress);
        assert_eq!(SubmittedStatus::Cancelled.to_sr(), ResultStatus::Rejected);
    }

    fn b64(bytes: &[u8]) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    #[test]
    fn an_attachment_is_exactly_one_of_link_inline_file_or_download() {
        let both = submission(serde_json::json!({"status": "COMPLETED", "attachments": [
            {"name": "r.pdf", "url": "https://x/r.pdf", "data": b64(b"%PDF")}
        ]}));
        let err = to_package_result(&both, &order()).unwrap_err();
        assert_eq!(err.field, "attachments[0]");
        assert!(err.reason.contains("exactly one of"), "{}", err.reason);
        let none = submission(
            serde_json::json!({"status": "COMPLETED", "attachments": [{"name": "r.pdf"}]}),
        );
        assert_eq!(
            to_package_result(&none, &order()).unwrap_err().field,
            "attachments[0]"
        );
        let typed_file = submission(serde_json::json!({"status": "COMPLETED", "attachments": [
            {"name": "r.pdf", "type": "PDF_URL", "content_type": "application/pdf", "data": b64(b"%PDF")}
        ]}));
        assert_eq!(
            to_package_result(&typed_file, &order()).unwrap_err().field,
            "attachments[0].type"
        );
    }

    #[test]
    fn files_are_uploaded_not_linked_and_links_stay_in_the_patch() {
        let s = submission(serde_json::json!({"status": "COMPLETED",
            "attachments": [
                {"name": "Video", "url": "https://v.example.com/1", "content_type": "video/mp4"},
                {"name": "report.pdf", "content_type": "application/pdf", "data": b64(b"%PDF-1.7 report")},
                {"name": "big.mp4", "content_type": "video/mp4", "data_url": "https://files.example.com/big.mp4?sig=abc"}
            ],
            "attributes": [{"type": "SUB_RESULT", "id": "a1", "attachments": [
                {"name": "a1.csv", "content_type": "text/csv; charset=utf-8", "data": "YSxi\nLGM"}
            ]}]
        }));
        let result = to_package_result(&s, &order()).unwrap().result;
        assert_eq!(result.attachments.len(), 1);
        assert_eq!(result.attachments[0].kind, UrlAttachmentType::VideoUrl);
        assert!(result.assessment_results[0].attachments.is_empty());
        let files = file_attachments(&s, MAX_INLINE_FILE_BYTES).unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|f| (f.field.as_str(), f.name.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("attachments[1]", "report.pdf"),
                ("attachments[2]", "big.mp4"),
                ("attributes[0].attachments[0]", "a1.csv")
            ]
        );
        assert_eq!(
            files[0].content,
            FileContent::Inline(b"%PDF-1.7 report".to_vec())
        );
        assert_eq!(
            files[1].content,
            FileContent::DataUrl("https://files.example.com/big.mp4?sig=abc".into())
        );
        // Line-wrapped, unpadded base64 decodes.
        assert_eq!(files[2].content, FileContent::Inline(b"a,b,c".to_vec()));
    }

    #[test]
    fn inline_data_over_the_limit_is_too_large_and_points_at_data_url() {
        let s = submission(serde_json::json!({"status": "COMPLETED", "attachments": [
            {"name": "r.pdf", "content_type": "application/pdf", "data": b64(&[7u8; 1001])}
        ]}));
        let err = file_attachments(&s, 1000).unwrap_err();
        let AttachmentError::TooLarge { field, size, limit } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(
            (field.as_str(), *size, *limit),
            ("attachments[0]", 1001, 1000)
        );
        assert!(err.to_string().contains("`data_url`"), "{err}");
        assert_eq!(file_attachments(&s, 1001).unwrap().len(), 1);
    }

    #[test]
    fn malformed_files_are_refused_naming_the_field() {
        let field_of = |attachment: serde_json::Value| {
            let s =
                submission(serde_json::json!({"status": "COMPLETED", "attachments": [attachment]}));
            match file_attachments(&s, MAX_INLINE_FILE_BYTES).unwrap_err() {
                AttachmentError::Invalid(e) => e.field,
                other => panic!("{other:?}"),
            }
        };
        let pdf = b64(b"%PDF");
        assert_eq!(
            field_of(
                serde_json::json!({"name": "r.pdf", "content_type": "application/pdf", "data": "not base64!"})
            ),
            "attachments[0].data"
        );
        assert_eq!(
            field_of(serde_json::json!({"name": "r.pdf", "data": pdf})),
            "attachments[0].content_type"
        );
        assert_eq!(
            field_of(serde_json::json!({"name": "r.pdf", "content_type": "pdf", "data": pdf})),
            "attachments[0].content_type"
        );
        assert_eq!(
            field_of(
                serde_json::json!({"name": "../etc/passwd", "content_type": "text/plain", "data": pdf})
            ),
            "attachments[0].name"
        );
        assert_eq!(
            field_of(
                serde_json::json!({"name": "x".repeat(101), "content_type": "text/plain", "data": pdf})
            ),
            "attachments[0].name"
        );
        assert_eq!(
            field_of(
                serde_json::json!({"name": "r.pdf", "content_type": "application/pdf", "data_url": "ftp://x/r.pdf"})
            ),
            "attachments[0].data_url"
        );
        assert_eq!(
            field_of(
                serde_json::json!({"name": "r.pdf", "content_type": "application/pdf", "data_url": "https://u:p@x/r.pdf"})
            ),
            "attachments[0].data_url"
        );
        assert_eq!(
            field_of(
                serde_json::json!({"name": "r.pdf", "content_type": "application/pdf", "data": ""})
            ),
            "attachments[0].data"
        );
    }

    #[test]
    fn a_resubmitted_name_or_url_replaces_instead_of_duplicating() {
        let s = submission(serde_json::json!({"status": "COMPLETED",
            "result_url": "https://vendor.example.com/r/1",
            "attachments": [
                {"name": "Report", "url": "https://vendor.example.com/old"},
                {"name": "Same link", "url": "https://vendor.example.com/r/1"},
                {"name": "Report", "url": "https://vendor.example.com/new"},
                {"name": "f.txt", "content_type": "text/plain", "data": b64(b"one")},
                {"name": "f.txt", "content_type": "text/plain", "data": b64(b"two")}
            ]
        }));
        let result = to_package_result(&s, &order()).unwrap().result;
        let links: Vec<_> = result
            .attachments
            .iter()
            .map(|a| (a.name.as_deref().unwrap(), a.url.as_str()))
            .collect();
        assert_eq!(
            links,
            [
                ("Same link", "https://vendor.example.com/r/1"),
                ("Report", "https://vendor.example.com/new")
            ]
        );
        let files = file_attachments(&s, MAX_INLINE_FILE_BYTES).unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].content, FileContent::Inline(b"two".to_vec()));
        assert_eq!(files[0].field, "attachments[4]");
    }

    #[test]
    fn inline_orders_refuse_files_with_a_clear_message() {
        let mut inline = order();
        inline.inline = Some(crate::orders::InlineDetails {
            assessment_url: "https://vendor.example.com/take/o1".into(),
            completed_assessment_callback_url: "https://sr.example.com/done".into(),
            application_language: "en".into(),
            url_source: Default::default(),
        });
        for attachment in [
            serde_json::json!({"name": "r.pdf", "content_type": "application/pdf", "data": b64(b"%PDF")}),
            serde_json::json!({"name": "r.pdf", "content_type": "application/pdf", "data_url": "https://x/r.pdf"}),
            serde_json::json!({"name": "r", "url": "https://x/r"}),
        ] {
            let s =
                submission(serde_json::json!({"status": "COMPLETED", "attachments": [attachment]}));
            let err = to_package_result(&s, &inline).unwrap_err();
            assert_eq!(err.field, "attachments");
            assert!(err.reason.contains("inline"), "{}", err.reason);
        }
    }

    #[test]
    fn the_stored_body_keeps_no_file_bytes() {
        let body = serde_json::json!({"status": "COMPLETED",
            "attachments": [{"name": "r.pdf", "content_type": "application/pdf", "data": "QUJD"}],
            "attributes": [{"type": "SUB_RESULT", "id": "a1", "attachments": [{"name": "s", "content_type": "text/plain", "data": "QQ=="}]}]
        });
        let kept = without_inline_data(body);
        assert!(kept["attachments"][0].get("data").is_none());
        assert!(kept["attachments"][0]["data_omitted"]
            .as_str()
            .unwrap()
            .starts_with("4 base64 characters"));
        assert!(kept["attributes"][0]["attachments"][0]
            .get("data")
            .is_none());
        assert_eq!(kept["attachments"][0]["name"], "r.pdf");
    }

    #[test]
    fn media_types_are_type_slash_subtype() {
        for ok in [
            "application/pdf",
            "text/csv; charset=utf-8",
            "application/vnd.ms-excel",
            "video/mp4",
        ] {
            assert!(is_media_type(ok), "{ok}");
        }
        for bad in [
            "",
            "pdf",
            "application/",
            "/pdf",
            "text/plain\r\nX-Evil: 1",
            "a b/c",
        ] {
            assert!(!is_media_type(bad), "{bad}");
        }
    }
}
