//! File attachments of results: one item per file name next to its order
//! (`ORDER#{orderId}` / `FILE#{sha256(name)}`), the bytes of inline files in a binary attribute.
//!
//! The vendor API writes them before it queues the result; the publisher uploads the pending ones
//! and records what it uploaded (name + SHA-256), so a re-submitted unchanged file is not sent to
//! SR twice. State changes are conditional on the `revision` that wrote the item: a publisher that
//! finishes after the vendor re-submitted the file cannot mark the newer submission uploaded.

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, Update};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{from_item, key_of, keys, to_value, Store, StoreError};

/// Attribute holding an inline file's bytes (DynamoDB binary, not part of [`FileRecord`]).
const DATA: &str = "data";

/// Every attribute but the bytes, for views. All as `#name` placeholders: several (`name`,
/// `source`, `state`, `data`…) are DynamoDB reserved words.
const PROJECTION: &[&str] = &[
    "#pk",
    "#sk",
    "#order_id",
    "#name",
    "#content_type",
    "#source",
    "#revision",
    "#submitted_at",
    "#state",
    "#detail",
    "#uploaded",
];

/// Where a file's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FileSource {
    /// Sent as base64 `data`; the bytes are stored on the item.
    Inline { sha256: String, size: u64 },
    /// Downloaded by the publisher at delivery time.
    DataUrl { url: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FileState {
    /// Submitted, not yet handled by the publisher.
    Pending,
    /// SR holds this content (uploaded now or earlier).
    Uploaded,
    /// Permanently refused (download 4xx, too large, address refused, SR 4xx); see `detail`.
    Failed,
}

/// What SR received for this file name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadedFile {
    pub sha256: String,
    pub size: u64,
    pub at: DateTime<Utc>,
    /// The URL SR answered (`AttachmentResult.url`).
    pub sr_url: Option<String>,
}

/// One file attachment of an order's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    pub order_id: String,
    pub name: String,
    pub content_type: String,
    pub source: FileSource,
    /// Random id of the submission that last wrote the file.
    pub revision: String,
    pub submitted_at: DateTime<Utc>,
    pub state: FileState,
    #[serde(default)]
    pub detail: Option<String>,
    /// Kept across re-submissions: the digest that lets an unchanged file be skipped.
    #[serde(default)]
    pub uploaded: Option<UploadedFile>,
}

/// A file and, for inline files, its bytes.
#[derive(Debug, Clone)]
pub struct StoredFile {
    pub record: FileRecord,
    pub data: Option<Vec<u8>>,
}

fn conditional_failed<E: ProvideErrorMetadata>(
    error: &aws_sdk_dynamodb::error::SdkError<E>,
) -> bool {
    error.code() == Some("ConditionalCheckFailedException")
}

/// How long the bytes of a submission's inline files are kept: until the file is settled
/// (uploaded or failed for good), at most this long after the result was stored — longer than
/// the results queue and its dead-letter queue keep a message (14 days from its first enqueue),
/// so every message that can still deliver the result finds them.
pub const FILE_DATA_RETENTION: chrono::Duration = chrono::Duration::days(30);

/// How long the bytes of a submission that is not stored (yet) are kept: its request retries
/// its write within seconds; the rest is garbage DynamoDB's TTL collects.
const STAGED_DATA_TTL: chrono::Duration = chrono::Duration::days(1);

impl Store {
    /// Writes the bytes of an inline file of a submission not stored yet (its own item, see
    /// [`keys::file_data`]); nothing points at them until `Self::file_commit`'s items are
    /// written with the result.
    pub async fn stage_file_data(
        &self,
        record: &FileRecord,
        data: &[u8],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (pk, sk) = keys::file_data(&record.order_id, &record.name, &record.revision);
        self.db
            .put_item()
            .table_name(&self.table)
            .item(keys::PK, AttributeValue::S(pk))
            .item(keys::SK, AttributeValue::S(sk))
            .item(DATA, AttributeValue::B(Blob::new(data)))
            .item(
                keys::EXPIRES_AT,
                AttributeValue::N((now + STAGED_DATA_TTL).timestamp().to_string()),
            )
            .send()
            .await
            .map_err(|e| StoreError::of_write(e, "a file attachment"))?;
        Ok(())
    }

    /// Deletes the staged bytes of a submission that will never be stored (its order was
    /// erased meanwhile), rather than keeping personal data until their TTL.
    pub async fn discard_staged_file_data(&self, record: &FileRecord) -> Result<(), StoreError> {
        if !matches!(record.source, FileSource::Inline { .. }) {
            return Ok(());
        }
        self.db
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_of(keys::file_data(
                &record.order_id,
                &record.name,
                &record.revision,
            ))))
            .send()
            .await
            .map_err(StoreError::service)?;
        Ok(())
    }

    /// The writes that make `record` the order's file of that name, for the transaction that
    /// stores the submission's result: the file item (a new pending submission, keeping what
    /// was uploaded under that name before) and, for inline files, keeping the staged bytes
    /// for [`FILE_DATA_RETENTION`] (or the personal data's retention, if shorter).
    pub(crate) fn file_commit(&self, record: &FileRecord, now: DateTime<Utc>) -> Vec<Update> {
        let mut items = vec![Update::builder()
            .table_name(&self.table)
            .set_key(Some(key_of(keys::file(&record.order_id, &record.name))))
            .update_expression(
                "SET #order = :order, #name = :name, #type = :type, #source = :source, \
                 #revision = :revision, #at = :at, #state = :state, #expires = :expires \
                 REMOVE #detail, #data",
            )
            .expression_attribute_names("#expires", keys::EXPIRES_AT)
            .expression_attribute_values(":expires", self.retention.expiry_value(now))
            .expression_attribute_names("#order", "order_id")
            .expression_attribute_names("#name", "name")
            .expression_attribute_names("#type", "content_type")
            .expression_attribute_names("#source", "source")
            .expression_attribute_names("#revision", "revision")
            .expression_attribute_names("#at", "submitted_at")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#detail", "detail")
            .expression_attribute_names("#data", DATA)
            .expression_attribute_values(":order", AttributeValue::S(record.order_id.clone()))
            .expression_attribute_values(":name", AttributeValue::S(record.name.clone()))
            .expression_attribute_values(":type", AttributeValue::S(record.content_type.clone()))
            .expression_attribute_values(":source", to_value(&record.source))
            .expression_attribute_values(":revision", AttributeValue::S(record.revision.clone()))
            .expression_attribute_values(":at", to_value(&record.submitted_at))
            .expression_attribute_values(":state", to_value(&record.state))
            .build()
            .expect("table, key and expression are set")];
        if matches!(record.source, FileSource::Inline { .. }) {
            // Never past the personal data's own retention, when that is shorter.
            let keep = FILE_DATA_RETENTION.min(self.retention.personal_data);
            items.push(self.file_data_expiry(record, now + keep, false));
        }
        items
    }

    /// Sets when DynamoDB's TTL removes the bytes of `record`'s submission; `only_if_present`:
    /// not when they are gone already (the update would create an item of just a key).
    fn file_data_expiry(
        &self,
        record: &FileRecord,
        at: DateTime<Utc>,
        only_if_present: bool,
    ) -> Update {
        Update::builder()
            .table_name(&self.table)
            .set_key(Some(key_of(keys::file_data(
                &record.order_id,
                &record.name,
                &record.revision,
            ))))
            .update_expression("SET #expires = :expires")
            .set_condition_expression(only_if_present.then(|| "attribute_exists(pk)".into()))
            .expression_attribute_names("#expires", keys::EXPIRES_AT)
            .expression_attribute_values(":expires", AttributeValue::N(at.timestamp().to_string()))
            .build()
            .expect("table, key and expression are set")
    }

    /// A settled file's bytes are not needed any more: DynamoDB's TTL removes them. Only a
    /// log line when that cannot be written (they expire after [`FILE_DATA_RETENTION`] anyway).
    async fn release_file_data(&self, record: &FileRecord) {
        if !matches!(record.source, FileSource::Inline { .. }) {
            return;
        }
        let expiry = self.file_data_expiry(record, Utc::now(), true);
        if let Err(e) = self.update_alone(&expiry).await {
            if !conditional_failed(&e) {
                tracing::warn!(order_id = %record.order_id, revision = %record.revision, error = %StoreError::service(e), "could not release a settled file's bytes");
            }
        }
    }

    /// The order's files, with the bytes of inline ones when `with_data` (the publisher), without
    /// them for views. Strongly consistent: the vendor API writes them just before queueing.
    pub async fn order_files(
        &self,
        order_id: &str,
        with_data: bool,
    ) -> Result<Vec<StoredFile>, StoreError> {
        let (pk, _) = keys::order(order_id);
        let mut files = Vec::new();
        let mut start = None;
        loop {
            let mut query = self
                .db
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":pk", AttributeValue::S(pk.clone()))
                .expression_attribute_values(":prefix", AttributeValue::S(keys::FILE_PREFIX.into()))
                .consistent_read(true)
                .set_exclusive_start_key(start.take());
            if !with_data {
                query = query
                    .projection_expression(PROJECTION.join(", "))
                    .set_expression_attribute_names(Some(
                        PROJECTION
                            .iter()
                            .filter_map(|p| p.strip_prefix('#'))
                            .map(|name| (format!("#{name}"), name.to_string()))
                            .collect(),
                    ));
            }
            let output = query.send().await.map_err(StoreError::service)?;
            for mut item in output.items.unwrap_or_default() {
                let data = match item.remove(DATA) {
                    Some(AttributeValue::B(blob)) => Some(blob.into_inner()),
                    _ => None,
                };
                files.push(StoredFile {
                    record: from_item(item)?,
                    data,
                });
            }
            match output.last_evaluated_key.filter(|k| !k.is_empty()) {
                Some(key) => start = Some(key),
                None => break,
            }
        }
        if with_data {
            self.load_file_data(&mut files).await?;
        }
        files.sort_by(|a, b| a.record.name.cmp(&b.record.name));
        Ok(files)
    }

    /// The bytes of the pending inline files, from their submissions' data items (in one
    /// `BatchGetItem` per hundred). Items written before the bytes had items of their own carry
    /// them already.
    async fn load_file_data(&self, files: &mut [StoredFile]) -> Result<(), StoreError> {
        let wanted: Vec<usize> = (0..files.len())
            .filter(|&i| {
                let f = &files[i];
                f.data.is_none()
                    && f.record.state == FileState::Pending
                    && matches!(f.record.source, FileSource::Inline { .. })
            })
            .collect();
        for chunk in wanted.chunks(100) {
            let keys = chunk
                .iter()
                .map(|&i| {
                    let r = &files[i].record;
                    key_of(keys::file_data(&r.order_id, &r.name, &r.revision))
                })
                .collect();
            for mut item in self.batch_get(keys).await? {
                let sk = item.get(keys::SK).and_then(|v| v.as_s().ok()).cloned();
                let Some(AttributeValue::B(blob)) = item.remove(DATA) else {
                    continue;
                };
                let owner = chunk.iter().find(|&&i| {
                    let r = &files[i].record;
                    Some(keys::file_data(&r.order_id, &r.name, &r.revision).1) == sk
                });
                if let Some(&i) = owner {
                    files[i].data = Some(blob.into_inner());
                }
            }
        }
        Ok(())
    }

    /// Records that SR received `uploaded` under the file's name; the state becomes UPLOADED only
    /// while `revision` is still the file's current submission.
    pub async fn mark_file_uploaded(
        &self,
        file: &FileRecord,
        uploaded: &UploadedFile,
    ) -> Result<(), StoreError> {
        let key = key_of(keys::file(&file.order_id, &file.name));
        let result = self
            .db
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key.clone()))
            .update_expression("SET #uploaded = :uploaded, #state = :state REMOVE #detail")
            .condition_expression("#revision = :revision")
            .expression_attribute_names("#uploaded", "uploaded")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#detail", "detail")
            .expression_attribute_names("#revision", "revision")
            .expression_attribute_values(":uploaded", to_value(uploaded))
            .expression_attribute_values(":state", to_value(&FileState::Uploaded))
            .expression_attribute_values(":revision", AttributeValue::S(file.revision.clone()))
            .send()
            .await;
        let marked = match result {
            Ok(_) => Ok(()),
            // Re-submitted meanwhile: SR still has these bytes, which the next delivery must know.
            Err(e) if conditional_failed(&e) => self
                .db
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key))
                .update_expression("SET #uploaded = :uploaded")
                .condition_expression("attribute_exists(pk)")
                .expression_attribute_names("#uploaded", "uploaded")
                .expression_attribute_values(":uploaded", to_value(uploaded))
                .send()
                .await
                .map(|_| ())
                .or_else(|e| {
                    if conditional_failed(&e) {
                        Ok(())
                    } else {
                        Err(StoreError::service(e))
                    }
                }),
            Err(e) => Err(StoreError::service(e)),
        };
        if marked.is_ok() {
            self.release_file_data(file).await;
        }
        marked
    }

    /// Marks the file's current submission permanently failed, with a reason the vendor reads.
    /// A no-op when the file was re-submitted meanwhile (the new submission gets its own try).
    pub async fn mark_file_failed(
        &self,
        file: &FileRecord,
        detail: &str,
    ) -> Result<(), StoreError> {
        let result = self
            .db
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_of(keys::file(&file.order_id, &file.name))))
            .update_expression("SET #state = :state, #detail = :detail")
            .condition_expression("#revision = :revision")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#detail", "detail")
            .expression_attribute_names("#revision", "revision")
            .expression_attribute_values(":state", to_value(&FileState::Failed))
            .expression_attribute_values(":detail", AttributeValue::S(detail.to_string()))
            .expression_attribute_values(":revision", AttributeValue::S(file.revision.clone()))
            .send()
            .await;
        match result {
            Ok(_) => {}
            // Re-submitted meanwhile: the new submission gets its own try.
            Err(e) if conditional_failed(&e) => {}
            Err(e) => return Err(StoreError::service(e)),
        }
        self.release_file_data(file).await;
        Ok(())
    }
}
