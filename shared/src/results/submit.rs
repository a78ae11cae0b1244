//! Submitting a result: `PUT /assessment/orders/{id}/result` once the vendor API has parsed it.
//!
//! The submission is checked against the order (mapped onto SR's `PackageResult`, its files
//! read, the final-status rule applied), then stored as the order's next result version — the
//! submission, its files and the version bump in one transaction, conditional on the version
//! read — and queued for the result publisher. A write that lost a race with another writer of
//! the order is read and tried again ([`retry_on_conflict`]). A dry run ([`preview`]) checks
//! and maps the same way and stores nothing.
//!
//! Per submission: GetItem (order), PutItem per inline file (staged), TransactWriteItems,
//! SendMessage; a byte-identical repeat: GetItem, SendMessage, GetItem (its submission).

use chrono::Utc;
use tokio::sync::OnceCell;

use super::{
    decide, file_attachments, to_package_result, AttachmentError, Decision, FinalStatusConflict,
    ResultError, ResultSubmission, SubmittedFile, MAX_INLINE_FILE_BYTES,
};
use crate::auth::credentials::random_token;
use crate::ids::{IntegrationId, OrderId};
use crate::orders::{Order, Submission};
use crate::queue::{QueueError, QueueMessage, ResultsQueue};
use crate::sr::{PackageResult, ResultStatus};
use crate::store::{retry_on_conflict, FileRecord, MaybeConflict, ResultWrite, Store, StoreError};

/// A submission as the vendor API parsed it.
#[derive(Debug, Clone, Copy)]
pub struct ResultRequest<'a> {
    /// The integration the vendor API key and `X-Integration-Id` name.
    pub integration: &'a IntegrationId,
    pub order_id: &'a OrderId,
    pub submission: &'a ResultSubmission,
    /// The body as stored on the order's history: inline file bytes replaced by a note
    /// (`results::without_inline_data`), the files being stored as their own items.
    pub vendor_body: &'a serde_json::Value,
    /// Hex SHA-256 of the raw request body: the same bytes again are a retry, not a new version.
    pub request_sha256: &'a str,
}

/// What [`submit`] did.
#[derive(Debug, Clone)]
pub enum Submitted {
    /// Stored as the order's next result version (`order.result_version`) and queued.
    Stored {
        order: Order,
        /// The version this one revises (the same final status again), else `None`.
        revision_of: Option<u64>,
        /// How the submission was mapped (fields SR has no place for, …).
        warnings: Vec<String>,
    },
    /// Byte for byte the request that became the order's latest version: a retry after a 503
    /// (the version stored, its queue message maybe not) or after a lost answer. Nothing new
    /// was stored; that version was queued again (within SQS's five-minute deduplication
    /// window the copy is dropped; later SR gets the same result again, which changes nothing).
    Repeated {
        /// The order with that version's submission in `submissions`.
        order: Order,
        revision_of: Option<u64>,
        warnings: Vec<String>,
    },
}

/// What SR would get for a submission, from [`preview`] (a dry run).
#[derive(Debug, Clone)]
pub struct Preview {
    pub order: Order,
    /// The `PackageResult` SR would be PATCHed with.
    pub result: PackageResult,
    /// The files that would be uploaded first.
    pub files: Vec<SubmittedFile>,
    pub decision: Decision,
    pub warnings: Vec<String>,
}

/// Why a submission was refused or not stored.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// No order `order_id` in this integration (another integration's order is not found).
    #[error("there is no order `{0}`")]
    UnknownOrder(OrderId),
    /// The order's personal data was erased (409): a result would store it again.
    #[error("the personal data of order `{0}` was erased; it takes no more results")]
    Erased(OrderId),
    /// A field SR cannot be given (400 naming `field`).
    #[error(transparent)]
    Invalid(#[from] ResultError),
    /// A file is malformed (400) or its inline data over the limit (413).
    #[error(transparent)]
    Attachment(#[from] AttachmentError),
    /// The final-status rule (409, naming the current status).
    #[error(transparent)]
    FinalStatus(#[from] FinalStatusConflict),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

impl MaybeConflict for SubmitError {
    fn is_conflict(&self) -> bool {
        matches!(self, Self::Store(e) if e.is_conflict())
    }
}

/// A submission checked against its order. Real submissions and dry runs both come through
/// here, so both refuse the same way, before anything is stored or queued.
fn check(submission: &ResultSubmission, order: Order) -> Result<Preview, SubmitError> {
    if order.erased_at.is_some() {
        let id = OrderId::parse(&order.order_id).map_err(|_| {
            SubmitError::Store(StoreError::Corrupt {
                key: order.order_id.clone(),
                reason: "stored order id is malformed".into(),
            })
        })?;
        return Err(SubmitError::Erased(id));
    }
    let mapped = to_package_result(submission, &order)?;
    let files = file_attachments(submission, MAX_INLINE_FILE_BYTES)?;
    let status = mapped.result.status.unwrap_or(ResultStatus::InProgress);
    let decision = decide(order.result_status(), order.result_version, status)?;
    Ok(Preview {
        order,
        result: mapped.result,
        files,
        decision,
        warnings: mapped.warnings,
    })
}

async fn order_of(store: &Store, request: &ResultRequest<'_>) -> Result<Order, SubmitError> {
    store
        .get_integration_order(request.integration, request.order_id, false)
        .await?
        .ok_or_else(|| SubmitError::UnknownOrder(request.order_id.clone()))
}

/// The dry run of `PUT …/result?dry_run=true`: what [`submit`] would send SR, storing and
/// queueing nothing.
pub async fn preview(store: &Store, request: ResultRequest<'_>) -> Result<Preview, SubmitError> {
    check(request.submission, order_of(store, &request).await?)
}

/// Stores the submission as the order's next result version and queues it for the result
/// publisher; see the module's documentation.
pub async fn submit(
    store: &Store,
    queue: &ResultsQueue,
    request: ResultRequest<'_>,
) -> Result<Submitted, SubmitError> {
    // Names this submission's files, so a publisher still busy with an older one cannot mark
    // these uploaded.
    let revision = &random_token(16);
    // The staged files, kept across attempts: a write that loses the race is retried with them.
    let staged = &OnceCell::<Vec<FileRecord>>::new();
    let outcome = retry_on_conflict(move || async move {
        let Preview {
            order,
            result,
            files,
            decision,
            warnings,
        } = check(request.submission, order_of(store, &request).await?)?;
        if order.result_version > 0
            && order.result_request_sha256.as_deref() == Some(request.request_sha256)
        {
            return repeated(store, queue, order, warnings).await;
        }
        let status = result.status.unwrap_or(ResultStatus::InProgress);
        let now = Utc::now();
        // Inline bytes first, as items nothing points at yet: the files become the order's in
        // the result's own transaction, so a result that is not stored (a failure, a 409 after
        // a lost race) leaves the order's files as they were.
        let staged = staged
            .get_or_try_init(|| async {
                let mut records = Vec::with_capacity(files.len());
                for file in files {
                    let (file, data) =
                        crate::attachments::file_record(request.order_id, file, revision, now);
                    if let Some(data) = data {
                        store.stage_file_data(&file, &data, now).await?;
                    }
                    records.push(file);
                }
                Ok::<_, StoreError>(records)
            })
            .await?;
        let record = Submission {
            version: Some(order.result_version + 1),
            submitted_at: now,
            status,
            vendor_body: request.vendor_body.clone(),
            note: None,
            revision_of: decision.revision_of(),
        };
        let order = store
            .write_result(ResultWrite {
                order: &order,
                result: &result,
                submission: &record,
                request_sha256: Some(request.request_sha256),
                files: staged,
                now,
            })
            .await?;
        queue_latest_result(queue, &order).await?;
        tracing::info!(order_id = %request.order_id, company_id = %order.company_id, version = order.result_version, status = status.as_str(), "result queued for SmartRecruiters");
        Ok(Submitted::Stored {
            order,
            revision_of: decision.revision_of(),
            warnings,
        })
    })
    .await;
    // Erased between staging and the result's write: the staged bytes are the candidate's
    // personal data with nothing pointing at them.
    if let (Err(SubmitError::Erased(_)), Some(records)) = (&outcome, staged.get()) {
        for record in records {
            if let Err(e) = store.discard_staged_file_data(record).await {
                tracing::warn!(order_id = %request.order_id, error = %e, "staged file bytes of an erased order not deleted; they expire within a day");
            }
        }
    }
    outcome
}

/// Queues "deliver the order's latest result version" for the publisher.
pub async fn queue_latest_result(queue: &ResultsQueue, order: &Order) -> Result<(), QueueError> {
    queue
        .send(&QueueMessage::Result {
            order_id: order.order_id.clone(),
            company_id: order.company_id.clone(),
            version: order.result_version,
        })
        .await
}

/// The same request as the one that became the order's latest version: queued again, answered
/// as it was (see [`Submitted::Repeated`]).
async fn repeated(
    store: &Store,
    queue: &ResultsQueue,
    mut order: Order,
    warnings: Vec<String>,
) -> Result<Submitted, SubmitError> {
    queue_latest_result(queue, &order).await?;
    // Its submission, for the answer's `revision_of` and the vendor's own status word.
    order.submissions.extend(
        store
            .get_submission(&order.order_id, order.result_version)
            .await?,
    );
    let revision_of = order.submissions.last().and_then(|s| s.revision_of);
    tracing::info!(order_id = %order.order_id, company_id = %order.company_id, version = order.result_version, "the latest submission again: its version queued again, nothing new stored");
    Ok(Submitted::Repeated {
        order,
        revision_of,
        warnings,
    })
}
