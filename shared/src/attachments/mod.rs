//! File attachments of results, from the vendor's submission to SR's
//! `POST /orders/{orderId}/results/attachment`.
//!
//! The vendor API validates files (`results::file_attachments`) and stores each as its own item
//! next to the order (`store::files`); the publisher calls [`FileDelivery::deliver`] right before
//! it PATCHes the result, so SR shows the result with its files. Per file:
//! - inline bytes come from the item; a `data_url` is downloaded under the SSRF guard of
//!   [`download`] (https, public addresses only, every hop checked, size-capped, timed out);
//! - a file whose SHA-256 equals what SR already received under that name is not sent again
//!   (SR has no way to replace or delete an uploaded attachment, so a re-submitted unchanged file
//!   would otherwise show twice);
//! - a permanent failure (download 4xx, too large, address refused, SR 4xx) marks the file FAILED
//!   with a reason the vendor reads on the order, and delivery goes on without it;
//! - a transient failure (SR 429/5xx/timeout, download 5xx/timeout/connection) stops and asks for
//!   the whole message to be retried; files already uploaded are recorded, so the retry skips them.

pub mod address;
pub mod download;

use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use sha2::{Digest, Sha256};

use crate::budget::Budget;
use crate::sr::client::UPLOAD_TIMEOUT;

use crate::config::SrEndpoints;
use crate::orders::Order;
use crate::sr::{SrClient, SrClientError, SrCredentials};
use crate::store::{FileRecord, FileSource, FileState, Store, StoreError, UploadedFile};

pub use download::{DownloadError, DownloadPolicy, Downloader, MAX_DOWNLOAD_BYTES};

/// The least time a file may start with: its download and upload then get at least this much.
pub const MIN_FILE_TIME: Duration = Duration::from_secs(3);

/// What one [`FileDelivery::deliver`] did, file by file.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FilesDelivered {
    /// Names sent to SR now.
    pub uploaded: Vec<String>,
    /// Names SR already holds with the same content.
    pub unchanged: Vec<String>,
    /// Names refused for good (the reason is on the file).
    pub failed: Vec<String>,
}

/// Files could not be delivered *yet*: the publisher retries the message.
#[derive(Debug, thiserror::Error)]
pub enum FileDeliveryError {
    #[error("attachment `{name}` was not uploaded: {source}")]
    Sr {
        name: String,
        #[source]
        source: SrClientError,
    },
    #[error("attachment `{name}` was not downloaded: {source}")]
    Download {
        name: String,
        #[source]
        source: DownloadError,
    },
    /// Shown to the vendor in the delivery history, so without DynamoDB's error (logged, with
    /// the error's source, where it is handled).
    #[error("attachment bookkeeping failed (storage unavailable)")]
    Store(#[from] StoreError),
    /// The caller's pacing has no SR call slot soon enough for the next upload.
    #[error("no SmartRecruiters call slot for attachment `{name}` within the wait limit")]
    Paced { name: String, after: Duration },
    /// The invocation's time budget cannot cover another file: a later invocation goes on.
    #[error("no time left in this invocation for attachment `{name}`")]
    OutOfTime { name: String },
}

/// A [`FileDeliveryError`] as logs show it ([`FileDeliveryError::for_log`]).
pub struct LoggedFileError<'a>(&'a FileDeliveryError);

impl std::fmt::Display for LoggedFileError<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            FileDeliveryError::Sr { source, .. } => {
                write!(f, "an attachment was not uploaded: {}", source.for_log())
            }
            FileDeliveryError::Download { source, .. } => {
                write!(f, "an attachment was not downloaded: {source}")
            }
            FileDeliveryError::Store(e) => write!(
                f,
                "attachment bookkeeping failed: {}",
                aws_smithy_types::error::display::DisplayErrorContext(e)
            ),
            FileDeliveryError::Paced { .. } => {
                f.write_str("no SmartRecruiters call slot for an attachment within the wait limit")
            }
            FileDeliveryError::OutOfTime { .. } => {
                f.write_str("no time left in this invocation for an attachment")
            }
        }
    }
}

impl FileDeliveryError {
    /// The error without the file's name (vendors name reports after the candidate) nor SR's
    /// words ([`SrClientError::for_log`]), for logs; the whole error is the attempt's `detail`.
    pub fn for_log(&self) -> LoggedFileError<'_> {
        LoggedFileError(self)
    }

    /// SR's status code, for the delivery record.
    pub fn sr_status(&self) -> Option<u16> {
        match self {
            Self::Sr { source, .. } => source.status(),
            _ => None,
        }
    }

    /// How long to wait before retrying: SR's 429 `Retry-After`, or the pacing's wait.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Sr {
                source: SrClientError::Transient { retry_after, .. },
                ..
            } => *retry_after,
            Self::Paced { after, .. } => Some(*after),
            Self::OutOfTime { .. } => Some(Duration::from_secs(1)),
            _ => None,
        }
    }

    /// Nothing was attempted (no call slot, no time left): not a delivery attempt worth
    /// recording.
    pub fn is_paced(&self) -> bool {
        matches!(self, Self::Paced { .. } | Self::OutOfTime { .. })
    }

    /// SR refused the company's credentials on an upload (see `SrClientError`).
    pub fn refuses_credentials(&self) -> bool {
        matches!(self, Self::Sr { source, .. } if source.refuses_credentials())
    }
}

/// Uploads an order's pending file attachments. Built once per cold start.
pub struct FileDelivery {
    downloader: Downloader,
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl FileDelivery {
    pub fn new(policy: DownloadPolicy) -> Self {
        Self {
            downloader: Downloader::new(policy),
        }
    }

    /// The deployment's policy: `ALLOW_PRIVATE_ATTACHMENT_URLS`, http only with insecure SR URLs.
    pub fn from_env(sr: &SrEndpoints) -> Self {
        Self::new(DownloadPolicy::from_env(sr))
    }

    pub fn policy(&self) -> &DownloadPolicy {
        self.downloader.policy()
    }

    /// Uploads every PENDING file of `order` to SR with the company's `credentials`.
    ///
    /// `pace` is awaited before each file is loaded or downloaded: the publisher's SR call slot
    /// and its concurrency permit, held until the upload is done, so at most that many files
    /// are in memory at once (each held once, shared by the digest and the upload). It yields
    /// a guard, or `Err(wait)` when no call slot is near. A file starts only while `budget`
    /// covers [`MIN_FILE_TIME`]; its download and upload never run past the budget.
    ///
    /// `Ok` means nothing is left that a retry could deliver (some files may have failed for
    /// good, see [`FilesDelivered::failed`]); `Err` means retry the message later.
    pub async fn deliver<Pace, Paced, Guard>(
        &self,
        sr: &SrClient,
        credentials: &SrCredentials,
        store: &Store,
        order: &Order,
        pace: Pace,
        budget: Budget,
    ) -> Result<FilesDelivered, FileDeliveryError>
    where
        Pace: Fn() -> Paced,
        Paced: std::future::Future<Output = Result<Guard, Duration>>,
    {
        let mut report = FilesDelivered::default();
        // SR does not take attachments on inline orders; the vendor API never stores any. Most
        // orders have no files at all, and then the Query is skipped.
        if order.inline.is_some() || !may_have_files(order) {
            return Ok(report);
        }
        let files = store.order_files(&order.order_id, true).await?;
        for file in files {
            let record = &file.record;
            if record.state != FileState::Pending {
                continue;
            }
            let name = record.name.clone();
            // An inline file's digest is known without reading it.
            if let (FileSource::Inline { sha256, .. }, Some(uploaded)) =
                (&record.source, &record.uploaded)
            {
                if &uploaded.sha256 == sha256 {
                    store.mark_file_uploaded(record, uploaded).await?;
                    report.unchanged.push(name);
                    continue;
                }
            }
            if !budget.allows(MIN_FILE_TIME) {
                return Err(FileDeliveryError::OutOfTime { name });
            }
            let guard = pace().await.map_err(|after| FileDeliveryError::Paced {
                name: name.clone(),
                after,
            })?;
            let bytes = match (&record.source, file.data) {
                (FileSource::Inline { .. }, Some(bytes)) => Bytes::from(bytes),
                (FileSource::Inline { .. }, None) => {
                    store
                        .mark_file_failed(record, "the stored file has no content")
                        .await?;
                    report.failed.push(name);
                    continue;
                }
                (FileSource::DataUrl { url }, _) => {
                    let timeout = budget.cap(download::DOWNLOAD_TIMEOUT);
                    match self.downloader.download(url, timeout).await {
                        Ok(bytes) => bytes,
                        Err(source) if source.is_transient() => {
                            return Err(FileDeliveryError::Download { name, source });
                        }
                        Err(refused) => {
                            // Not the file's name: vendors name reports after the candidate.
                            tracing::warn!(order_id = %order.order_id, error = %refused, "attachment download refused");
                            store
                                .mark_file_failed(record, &format!("download failed: {refused}"))
                                .await?;
                            report.failed.push(name);
                            continue;
                        }
                    }
                }
            };
            let digest = sha256_hex(&bytes);
            if let Some(uploaded) = record.uploaded.as_ref().filter(|u| u.sha256 == digest) {
                store.mark_file_uploaded(record, uploaded).await?;
                report.unchanged.push(name);
                continue;
            }
            let size = bytes.len();
            let answer = sr
                .upload_attachment(
                    credentials,
                    &order.order_id,
                    &record.name,
                    &record.content_type,
                    bytes,
                    budget.cap(UPLOAD_TIMEOUT),
                )
                .await;
            drop(guard);
            match answer {
                Ok(answer) => {
                    let uploaded = UploadedFile {
                        sha256: digest,
                        size: size as u64,
                        at: Utc::now(),
                        sr_url: answer.body.map(|a| a.url),
                    };
                    store.mark_file_uploaded(record, &uploaded).await?;
                    // Files by digest in logs, never by name (vendors name reports after the
                    // candidate, and an erasure does not reach logs).
                    tracing::info!(order_id = %order.order_id, sha256 = %uploaded.sha256, size, "attachment uploaded to SmartRecruiters");
                    report.uploaded.push(name);
                }
                // A 401 refuses the credentials, not the file: the caller reads them again.
                Err(SrClientError::Rejected { status, detail, .. }) if status != 401 => {
                    tracing::warn!(order_id = %order.order_id, sha256 = %digest, status, "SmartRecruiters refused the attachment");
                    let reason =
                        format!("SmartRecruiters refused the upload with {status}: {detail}");
                    store.mark_file_failed(record, &reason).await?;
                    report.failed.push(name);
                }
                Err(source) => return Err(FileDeliveryError::Sr { name, source }),
            }
        }
        Ok(report)
    }
}

/// Whether the order may have file items, so the publisher and the order view can skip the
/// Query for the (many) orders without: the order item says so since its first submission with
/// a file; orders written before that flag existed are read from their inline submissions.
pub fn may_have_files(order: &Order) -> bool {
    order.has_file_attachments
        || order
            .submissions
            .iter()
            .filter(|s| s.version.is_some())
            .any(|s| crate::results::submission_has_files(&s.vendor_body))
}

/// What the vendor API stores for a submitted file: the record and, for inline files, the bytes.
pub fn file_record(
    order_id: &str,
    file: crate::results::SubmittedFile,
    revision: &str,
    now: chrono::DateTime<Utc>,
) -> (FileRecord, Option<Vec<u8>>) {
    let (source, data) = match file.content {
        crate::results::FileContent::Inline(bytes) => (
            FileSource::Inline {
                sha256: sha256_hex(&bytes),
                size: bytes.len() as u64,
            },
            Some(bytes),
        ),
        crate::results::FileContent::DataUrl(url) => (FileSource::DataUrl { url }, None),
    };
    let record = FileRecord {
        order_id: order_id.to_string(),
        name: file.name,
        content_type: file.content_type,
        source,
        revision: revision.to_string(),
        submitted_at: now,
        state: FileState::Pending,
        detail: None,
        uploaded: None,
    };
    (record, data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::{FileContent, SubmittedFile};

    #[test]
    fn an_inline_file_is_stored_with_its_digest_and_bytes() {
        let file = SubmittedFile {
            field: "attachments[0]".into(),
            name: "r.pdf".into(),
            content_type: "application/pdf".into(),
            content: FileContent::Inline(b"abc".to_vec()),
        };
        let (record, data) = file_record("o1", file, "rev", Utc::now());
        assert_eq!(
            record.source,
            FileSource::Inline {
                // SHA-256("abc"), FIPS 180-2 test vector.
                sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".into(),
                size: 3
            }
        );
        assert_eq!(data.as_deref(), Some(&b"abc"[..]));
        assert_eq!(record.state, FileState::Pending);
    }

    #[test]
    fn a_data_url_file_is_stored_without_bytes() {
        let file = SubmittedFile {
            field: "attachments[0]".into(),
            name: "v.mp4".into(),
            content_type: "video/mp4".into(),
            content: FileContent::DataUrl("https://files.example.com/v.mp4".into()),
        };
        let (record, data) = file_record("o1", file, "rev", Utc::now());
        assert!(data.is_none());
        assert_eq!(
            record.source,
            FileSource::DataUrl {
                url: "https://files.example.com/v.mp4".into()
            }
        );
    }

    fn order_with(submissions: serde_json::Value) -> Order {
        serde_json::from_value(serde_json::json!({
            "order_id": "o1", "company_id": "c", "integration_id": "i",
            "package": {"id": "p", "name": "P", "kind": "SKILL_TEST", "assessment_ids": ["p"]},
            "result_callback_url": "https://sr.example.com/orders/o1/results",
            "candidate": {"id": "cand", "firstName": "A", "lastName": "B"},
            "job": {"id": "j"},
            "request_fingerprint": "f",
            "created_at": "2026-11-22T10:00:00Z", "updated_at": "2026-11-22T10:00:00Z",
            "delivery_state": "QUEUED",
            "submissions": submissions
        }))
        .expect("a valid order")
    }

    fn sent(body: serde_json::Value) -> serde_json::Value {
        serde_json::json!({"version": 1, "submitted_at": "2026-11-22T10:00:00Z",
                           "status": "COMPLETED", "vendor_body": body, "note": null})
    }

    #[test]
    fn only_orders_that_were_sent_files_are_looked_up() {
        let links = sent(serde_json::json!({"status": "COMPLETED",
            "attachments": [{"name": "r", "url": "https://x/r"}]}));
        assert!(!may_have_files(&order_with(serde_json::json!([
            links.clone()
        ]))));
        let inline = sent(serde_json::json!({"status": "COMPLETED",
            "attachments": [{"name": "r.pdf", "content_type": "application/pdf", "data_omitted": "8 base64 characters"}]}));
        assert!(may_have_files(&order_with(serde_json::json!([
            links.clone(),
            inline
        ]))));
        let in_sub_result = sent(serde_json::json!({"status": "COMPLETED", "attributes": [
            {"type": "SUB_RESULT", "id": "a1", "attachments": [{"name": "v", "content_type": "video/mp4", "data_url": "https://x/v"}]}
        ]}));
        assert!(may_have_files(&order_with(serde_json::json!([
            in_sub_result
        ]))));
        let mut recorded_only = sent(serde_json::json!({"status": "OPEN",
            "attachments": [{"name": "v", "content_type": "video/mp4", "data_url": "https://x/v"}]}));
        recorded_only["version"] = serde_json::Value::Null;
        assert!(!may_have_files(&order_with(serde_json::json!([
            recorded_only
        ]))));
    }

    #[test]
    fn only_sr_errors_carry_a_status_and_retry_after() {
        let busy = FileDeliveryError::Sr {
            name: "f".into(),
            source: SrClientError::Transient {
                status: Some(429),
                retry_after: Some(Duration::from_secs(3)),
                detail: "x".into(),
            },
        };
        assert_eq!(busy.sr_status(), Some(429));
        assert_eq!(busy.retry_after(), Some(Duration::from_secs(3)));
        let download = FileDeliveryError::Download {
            name: "f".into(),
            source: DownloadError::Unavailable {
                host: "h".into(),
                status: Some(503),
                detail: "x".into(),
            },
        };
        assert_eq!(download.sr_status(), None);
        assert!(download.to_string().contains("`f`"));
    }
}
