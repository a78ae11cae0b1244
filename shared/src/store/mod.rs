//! DynamoDB adapter: one table, items told apart by their keys (see [`keys`] and
//! shared/README.md's "Storage" section). Records are (de)serialized with `serde_dynamo`.

mod admin;
mod catalog;
mod companies;
mod connections;
pub mod enrichment;
mod events;
mod files;
pub mod keys;
mod order_state;
mod orders;
mod privacy;
pub mod retention;
mod retry;
mod size;
mod vendor_keys;

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, CancellationReason};
use serde::de::DeserializeOwned;
use serde::Serialize;

pub use catalog::CatalogCache;
pub use companies::{ClientRecord, CompanyRecord, CompanyStatus, ConnectedBy, TokenRecord};
pub use connections::{
    ConnectKeyRecord, ConsentSession, FailureCounter, Organisation, SignInState, SignedInSession,
    KEY_CLAIM_SECONDS,
};
pub use events::{
    EventCursor, EventPage, EventRecord, RecordedEvent, WebhookDelivery, WebhookState,
};
pub use files::{FileRecord, FileSource, FileState, StoredFile, UploadedFile};
pub use order_state::order_item_slack;
pub use orders::{
    AttemptRecorded, DeliveryRecord, OrderChecks, OrderCursor, OrderFilter, OrderPage,
    PutOrderOutcome, ResultWrite,
};
pub use privacy::{erased_event_data, ErasedCounts};
pub use retry::{retry_on_conflict, MaybeConflict, WRITE_ATTEMPTS};
pub use size::{item_size, value_size, write_units, WRITE_UNIT_BYTES};
pub use vendor_keys::{VendorKeyRecord, ADMIN_KEY_ID};

pub type Item = HashMap<String, AttributeValue>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("DynamoDB request failed: {0}")]
    Service(String),
    #[error("stored item {key} is malformed: {reason}")]
    Corrupt { key: String, reason: String },
    #[error("the item was changed concurrently; retry")]
    Conflict,
    /// DynamoDB refused the item as larger than 400 KB: `what` did not fit. Retrying the same
    /// write cannot help.
    #[error("{what} is too large to store (DynamoDB items hold at most 400 KB)")]
    TooLarge { what: &'static str },
    /// DynamoDB is still building `index` (added to a deployed table by an upgrade, it cannot be
    /// read until filled): retry later.
    #[error("the table's index {index} is still being built; retry in a minute")]
    IndexBuilding { index: &'static str },
}

impl StoreError {
    pub(crate) fn service<E: std::error::Error>(error: E) -> Self {
        Self::Service(aws_smithy_types::error::display::DisplayErrorContext(&error).to_string())
    }

    /// A failed write of `what`: [`Self::TooLarge`] when DynamoDB refused the item's size
    /// ("Item size has exceeded the maximum allowed size", also "… to update …").
    pub(crate) fn of_write<E>(
        error: aws_sdk_dynamodb::error::SdkError<E>,
        what: &'static str,
    ) -> Self
    where
        E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
    {
        use aws_sdk_dynamodb::error::ProvideErrorMetadata as _;
        let too_large = error.code() == Some("ValidationException")
            && error
                .message()
                .is_some_and(|m| m.contains("Item size") && m.contains("exceeded"));
        if too_large {
            Self::TooLarge { what }
        } else {
            Self::service(error)
        }
    }
}

impl StoreError {
    /// A failed `TransactWriteItems` of `what`: [`Self::TooLarge`] when DynamoDB refused an
    /// item's size (directly, or as an item's cancellation reason).
    pub(crate) fn of_transaction(
        error: aws_sdk_dynamodb::error::SdkError<TransactWriteItemsError>,
        what: &'static str,
    ) -> Self {
        let too_large = cancellation_reasons(&error).iter().any(|reason| {
            reason.code() == Some("ValidationError")
                && reason
                    .message()
                    .is_some_and(|m| m.contains("Item size") && m.contains("exceeded"))
        });
        if too_large {
            Self::TooLarge { what }
        } else {
            Self::of_write(error, what)
        }
    }
}

/// Why DynamoDB cancelled a transaction, one reason per item in the request's order (`None`
/// for an item that was fine); empty for any other error.
pub(crate) fn cancellation_reasons(
    error: &aws_sdk_dynamodb::error::SdkError<TransactWriteItemsError>,
) -> &[CancellationReason] {
    match error.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
            cancelled.cancellation_reasons()
        }
        _ => &[],
    }
}

/// Whether a transaction was cancelled because it lost a race: an item's condition did not hold
/// (someone wrote first) or another transaction held an item. Re-reading and trying again is
/// the answer to both; nothing of the transaction was written.
pub(crate) fn lost_race(
    error: &aws_sdk_dynamodb::error::SdkError<TransactWriteItemsError>,
) -> bool {
    cancellation_reasons(error).iter().any(|reason| {
        matches!(
            reason.code(),
            Some("ConditionalCheckFailed" | "TransactionConflict")
        )
    })
}

#[derive(Clone, Debug)]
pub struct Store {
    db: aws_sdk_dynamodb::Client,
    table: String,
    /// The expiry stamped on items holding personal data (`retention`).
    retention: retention::Retention,
}

impl Store {
    /// A store of `table`, stamping personal data with the environment's retention
    /// (`PERSONAL_DATA_RETENTION_DAYS`, see [`retention::Retention::from_env`]).
    pub fn new(db: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            db,
            table: table.into(),
            retention: retention::Retention::from_env(),
        }
    }

    /// Stamps personal data with `retention` instead of the environment's.
    pub fn with_retention(mut self, retention: retention::Retention) -> Self {
        self.retention = retention;
        self
    }

    pub fn retention(&self) -> retention::Retention {
        self.retention
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Strongly consistent reads of up to 100 keys in one `BatchGetItem`. Missing items are
    /// absent.
    pub(crate) async fn batch_get(&self, keys: Vec<Item>) -> Result<Vec<Item>, StoreError> {
        self.batch_get_with(keys, true).await
    }

    /// [`Self::batch_get`], strongly consistent or not (half the read units; for what was
    /// found through an index, itself eventually consistent). Keys DynamoDB leaves unprocessed
    /// under throttling are asked for again, at most twice, after 25–50 then 50–100 ms.
    pub(crate) async fn batch_get_with(
        &self,
        keys: Vec<Item>,
        consistent: bool,
    ) -> Result<Vec<Item>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let request = aws_sdk_dynamodb::types::KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .consistent_read(consistent)
            .build()
            .expect("keys are set");
        let mut pending = Some(HashMap::from([(self.table.clone(), request)]));
        let mut items = Vec::new();
        for attempt in 0..3u32 {
            let Some(request_items) = pending.take().filter(|m| !m.is_empty()) else {
                break;
            };
            if attempt > 0 {
                use rand::Rng as _;
                let base = 25u64 << (attempt - 1);
                let wait = base + rand::rng().random_range(0..=base);
                tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
            }
            let output = self
                .db
                .batch_get_item()
                .set_request_items(Some(request_items))
                .send()
                .await
                .map_err(StoreError::service)?;
            if let Some(mut responses) = output.responses {
                items.extend(responses.remove(&self.table).unwrap_or_default());
            }
            pending = output.unprocessed_keys;
        }
        if pending.is_some_and(|m| !m.is_empty()) {
            return Err(StoreError::Service(
                "BatchGetItem left keys unprocessed".into(),
            ));
        }
        Ok(items)
    }

    /// Sends an update built for a transaction (`types::Update`) on its own, as an `UpdateItem`.
    pub(crate) async fn update_alone(
        &self,
        update: &aws_sdk_dynamodb::types::Update,
    ) -> Result<
        aws_sdk_dynamodb::operation::update_item::UpdateItemOutput,
        aws_sdk_dynamodb::error::SdkError<
            aws_sdk_dynamodb::operation::update_item::UpdateItemError,
        >,
    > {
        self.db
            .update_item()
            .table_name(update.table_name())
            .set_key(Some(update.key().clone()))
            .update_expression(update.update_expression())
            .set_condition_expression(update.condition_expression().map(str::to_owned))
            .set_expression_attribute_names(update.expression_attribute_names().cloned())
            .set_expression_attribute_values(update.expression_attribute_values().cloned())
            .set_return_values_on_condition_check_failure(
                update.return_values_on_condition_check_failure().cloned(),
            )
            .send()
            .await
    }

    /// The DynamoDB client, for modules that own their own item (e.g. `pacing`).
    pub(crate) fn db(&self) -> &aws_sdk_dynamodb::Client {
        &self.db
    }
}

/// Serializes a record and adds its key attributes.
pub(crate) fn to_item<T: Serialize>(record: &T, key: (String, String)) -> Item {
    let mut item: Item = serde_dynamo::to_item(record).expect("records serialize to items");
    item.insert(keys::PK.into(), AttributeValue::S(key.0));
    item.insert(keys::SK.into(), AttributeValue::S(key.1));
    item
}

pub(crate) fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    let key = match (item.get(keys::PK), item.get(keys::SK)) {
        (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) => format!("{pk}/{sk}"),
        _ => "?".to_string(),
    };
    serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt {
        key,
        reason: crate::telemetry::without_quoted_strings(&e.to_string()),
    })
}

/// Whether a DynamoDB error is a condition that did not hold (a lost race, not a failure).
pub(crate) fn condition_failed<E: aws_sdk_dynamodb::error::ProvideErrorMetadata>(
    error: &E,
) -> bool {
    error.code() == Some("ConditionalCheckFailedException")
}

/// `Ok(true)` for a conditional write that happened, `Ok(false)` for one whose condition did not
/// hold.
pub(crate) fn written<T, E>(result: Result<T, E>) -> Result<bool, StoreError>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error,
{
    match result {
        Ok(_) => Ok(true),
        Err(e) if condition_failed(&e) => Ok(false),
        Err(e) => Err(StoreError::service(e)),
    }
}

pub(crate) fn key_of(key: (String, String)) -> Item {
    HashMap::from([
        (keys::PK.to_string(), AttributeValue::S(key.0)),
        (keys::SK.to_string(), AttributeValue::S(key.1)),
    ])
}

pub(crate) fn to_value<T: Serialize>(value: &T) -> AttributeValue {
    serde_dynamo::to_attribute_value(value).expect("values serialize to attributes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_malformed_item_is_described_without_the_strings_it_holds() {
        let item: Item = HashMap::from([
            ("pk".to_string(), AttributeValue::S("ORDER#o1".into())),
            ("sk".to_string(), AttributeValue::S("ORDER".into())),
            ("n".to_string(), AttributeValue::S("Ada Lovelace".into())),
        ]);
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Numbered {
            n: u64,
        }
        let error = from_item::<Numbered>(item).unwrap_err().to_string();
        assert!(!error.contains("Ada"), "{error}");
        assert!(error.contains("ORDER#o1/ORDER"), "{error}");
        assert_eq!(
            crate::telemetry::without_quoted_strings(
                "missing field `order_id`; invalid type: string \"Ada\", expected u64"
            ),
            "missing field `order_id`; invalid type: string \"…\", expected u64"
        );
        assert_eq!(
            crate::telemetry::without_quoted_strings(
                r#"string "Robert \"Bob\" Smith", expected u64"#
            ),
            r#"string "…", expected u64"#
        );
        assert_eq!(
            crate::telemetry::without_quoted_strings(r#"string "Ada"#),
            r#"string "…"#
        );
    }
    use aws_sdk_dynamodb::error::SdkError;
    use aws_sdk_dynamodb::types::error::TransactionCanceledException;
    use aws_smithy_runtime_api::http::{Response, StatusCode};
    use aws_smithy_types::body::SdkBody;

    /// DynamoDB cancelling a transaction for these per-item reasons (`None`: that item was fine).
    fn cancelled(reasons: &[(&str, Option<&str>)]) -> SdkError<TransactWriteItemsError> {
        let reasons = reasons
            .iter()
            .map(|(code, message)| {
                CancellationReason::builder()
                    .code(*code)
                    .set_message(message.map(str::to_owned))
                    .build()
            })
            .collect();
        let error = TransactWriteItemsError::TransactionCanceledException(
            TransactionCanceledException::builder()
                .set_cancellation_reasons(Some(reasons))
                .build(),
        );
        let response = Response::new(StatusCode::try_from(400).unwrap(), SdkBody::empty());
        SdkError::service_error(error, response)
    }

    #[test]
    fn a_transaction_that_lost_a_race_is_told_from_one_that_failed() {
        assert!(lost_race(&cancelled(&[
            ("ConditionalCheckFailed", None),
            ("None", None)
        ])));
        assert!(lost_race(&cancelled(&[
            ("None", None),
            ("TransactionConflict", None)
        ])));
        let too_large = cancelled(&[
            ("None", None),
            (
                "ValidationError",
                Some("Item size has exceeded the maximum allowed size"),
            ),
        ]);
        assert!(!lost_race(&too_large));
        assert!(matches!(
            StoreError::of_transaction(too_large, "result"),
            StoreError::TooLarge { what: "result" }
        ));
        let throttled = cancelled(&[("ThrottlingError", None), ("None", None)]);
        assert!(!lost_race(&throttled));
        assert!(matches!(
            StoreError::of_transaction(throttled, "result"),
            StoreError::Service(_)
        ));
    }
}
