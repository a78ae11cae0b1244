//! A submission's attachments: links go into SR's PATCH body, files (inline or downloaded at
//! delivery) are validated here and uploaded by the publisher; the stored body keeps no file
//! bytes.

use super::submission::{error, AttachmentSubmission, Attribute, ResultError, ResultSubmission};
use crate::sr::results::UrlAttachmentType;
use crate::sr::UrlAttachment;

/// Largest inline (`data`) file, decoded. A file is stored as its own DynamoDB item next to the
/// order (items hold at most 400 KB, key and metadata included), never on the order item or in
/// the queue message; 300 KiB leaves room for the rest of the item. Larger files go by `data_url`.
pub const MAX_INLINE_FILE_BYTES: usize = 300 * 1024;
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

pub(super) fn url_attachment(
    field: &str,
    a: &AttachmentSubmission,
) -> Result<UrlAttachment, ResultError> {
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
pub(super) fn url_attachments(
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
pub(super) fn dedupe_links(links: Vec<UrlAttachment>) -> Vec<UrlAttachment> {
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
pub(super) fn is_media_type(value: &str) -> bool {
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
pub(super) fn content_type_warnings(submission: &ResultSubmission) -> Vec<String> {
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
