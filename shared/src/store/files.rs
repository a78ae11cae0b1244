//! File attachments of results: one item per file name next to its order
//! (`ORDER#{orderId}` / `FILE#{sha256(name)}`), the bytes of inline files in a binary attribute.
//!
//! The vendor API writes them before it queues the result; the publisher uploads the pending ones
//! and records what it uploaded (name + SHA-256), so a re-submitted unchanged file is not sent to
//! SR twice. State changes are conditional on the `revision` that wrote the item: a publisher that
//! finishes after the vendor re-submitted the file cannot mark the newer submission uploaded.

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
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

impl Store {
    /// Writes (or replaces) the file `record.name` of the order as a new pending submission,
    /// keeping what was uploaded under that name before.
    pub async fn put_file(
        &self,
        record: &FileRecord,
        data: Option<&[u8]>,
    ) -> Result<(), StoreError> {
        let mut update = self
            .db
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_of(keys::file(&record.order_id, &record.name))))
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
            .expression_attribute_values(":state", to_value(&record.state));
        let set = "#order = :order, #name = :name, #type = :type, #source = :source, \
                   #revision = :revision, #at = :at, #state = :state";
        update = match data {
            Some(bytes) => update
                .update_expression(format!("SET {set}, #data = :data REMOVE #detail"))
                .expression_attribute_values(":data", AttributeValue::B(Blob::new(bytes))),
            None => update.update_expression(format!("SET {set} REMOVE #detail, #data")),
        };
        update.send().await.map_err(StoreError::service)?;
        Ok(())
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
        files.sort_by(|a, b| a.record.name.cmp(&b.record.name));
        Ok(files)
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
        match result {
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
        }
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
            Ok(_) => Ok(()),
            Err(e) if conditional_failed(&e) => Ok(()),
            Err(e) => Err(StoreError::service(e)),
        }
    }
}
