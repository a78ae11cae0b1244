//! Orders: idempotent creation, the vendor's list, result versions and delivery bookkeeping.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{
    AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Utc};

use super::{from_item, key_of, keys, to_item, to_value, Item, Store, StoreError};
use crate::orders::{DeliveryAttempt, DeliveryState, Order, Submission, VendorOrderStatus};
use crate::sr::PackageResult;

/// What happened to an order creation.
#[derive(Debug)]
pub enum PutOrderOutcome {
    Created,
    /// An order with this id exists already (SR retried, or the id was reused).
    Exists(Box<Order>),
}

/// One delivery attempt to record on its order.
#[derive(Debug, Clone)]
pub struct DeliveryRecord {
    pub order_id: String,
    pub attempt: DeliveryAttempt,
}

#[derive(Debug)]
pub struct OrderPage {
    pub orders: Vec<Order>,
    pub next: Option<String>,
}

/// A new result version to store.
pub struct ResultWrite<'a> {
    pub order_id: &'a str,
    pub integration_id: &'a str,
    pub expected_version: u64,
    pub result: &'a PackageResult,
    pub submission: &'a Submission,
    pub now: DateTime<Utc>,
}

fn conditional_failed<E>(error: &aws_sdk_dynamodb::error::SdkError<E>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    error.code() == Some("ConditionalCheckFailedException")
}

use aws_sdk_dynamodb::error::ProvideErrorMetadata;

impl Store {
    /// Creates the order unless its id exists (a conditional write, so SR's retries of the same
    /// POST yield exactly one order even when they race).
    pub async fn put_order_if_absent(&self, order: &Order) -> Result<PutOrderOutcome, StoreError> {
        let mut item = to_item(order, keys::order(&order.order_id));
        item.insert(
            keys::GSI1_PK.into(),
            AttributeValue::S(keys::orders_of_integration(&order.integration_id)),
        );
        item.insert(
            keys::GSI1_SK.into(),
            AttributeValue::S(format!(
                "{}#{}",
                order.created_at.to_rfc3339(),
                order.order_id
            )),
        );
        let result = self
            .db
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(PutOrderOutcome::Created),
            Err(e) if conditional_failed(&e) => {
                let existing = self
                    .get_order(&order.order_id)
                    .await?
                    .ok_or(StoreError::Conflict)?;
                Ok(PutOrderOutcome::Exists(Box::new(existing)))
            }
            Err(e) => Err(StoreError::service(e)),
        }
    }

    pub async fn get_order(&self, order_id: &str) -> Result<Option<Order>, StoreError> {
        self.get(keys::order(order_id), true).await
    }

    /// One page of an integration's orders, oldest first, optionally only those in `status`.
    pub async fn list_orders(
        &self,
        integration_id: &str,
        status: Option<VendorOrderStatus>,
        cursor: Option<&str>,
        page_size: usize,
    ) -> Result<OrderPage, StoreError> {
        let partition = keys::orders_of_integration(integration_id);
        let mut start = match cursor {
            Some(c) => Some(decode_cursor(c, &partition).ok_or(StoreError::Corrupt {
                key: "cursor".into(),
                reason: "not a cursor of this integration".into(),
            })?),
            None => None,
        };
        let mut orders = Vec::new();
        loop {
            let output = self
                .db
                .query()
                .table_name(&self.table)
                .index_name(keys::GSI1)
                .key_condition_expression("gsi1pk = :p")
                .expression_attribute_values(":p", AttributeValue::S(partition.clone()))
                .set_exclusive_start_key(start.take())
                .limit((page_size as i32).clamp(1, 250) + 1)
                .send()
                .await
                .map_err(StoreError::service)?;
            let last_key = output.last_evaluated_key;
            for item in output.items.unwrap_or_default() {
                let position = index_key(&item);
                let order: Order = from_item(item)?;
                if status.is_some_and(|s| order.vendor_status() != s) {
                    continue;
                }
                orders.push(order);
                if orders.len() == page_size {
                    return Ok(OrderPage {
                        orders,
                        next: Some(encode_cursor(&position)),
                    });
                }
            }
            match last_key {
                Some(key) => start = Some(key),
                None => return Ok(OrderPage { orders, next: None }),
            }
        }
    }

    /// Stores a new result version, only if nobody stored another since `expected_version`.
    pub async fn write_result(&self, write: ResultWrite<'_>) -> Result<Order, StoreError> {
        let version = write.expected_version + 1;
        let result = self
            .db
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_of(keys::order(write.order_id))))
            .update_expression(
                "SET #result = :result, result_version = :version, delivery_state = :queued, \
                 updated_at = :now, submissions = list_append(if_not_exists(submissions, :empty), :submission)",
            )
            .condition_expression("integration_id = :integration AND result_version = :expected")
            .expression_attribute_names("#result", "result")
            .expression_attribute_values(":result", to_value(write.result))
            .expression_attribute_values(":version", AttributeValue::N(version.to_string()))
            .expression_attribute_values(":queued", to_value(&DeliveryState::Queued))
            .expression_attribute_values(":now", to_value(&write.now))
            .expression_attribute_values(":empty", AttributeValue::L(vec![]))
            .expression_attribute_values(":submission", AttributeValue::L(vec![to_value(write.submission)]))
            .expression_attribute_values(":integration", AttributeValue::S(write.integration_id.into()))
            .expression_attribute_values(":expected", AttributeValue::N(write.expected_version.to_string()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(output) => from_item(output.attributes.unwrap_or_default()),
            Err(e) if conditional_failed(&e) => Err(StoreError::Conflict),
            Err(e) => Err(StoreError::service(e)),
        }
    }

    /// The orders with these ids, in one strongly consistent `BatchGetItem` (up to 100 ids);
    /// missing orders are absent from the map.
    pub async fn get_orders(
        &self,
        order_ids: &[&str],
    ) -> Result<HashMap<String, Order>, StoreError> {
        let mut unique: Vec<&str> = order_ids.to_vec();
        unique.sort_unstable();
        unique.dedup();
        let mut orders = HashMap::new();
        for chunk in unique.chunks(100) {
            let keys = chunk.iter().map(|id| key_of(keys::order(id))).collect();
            for item in self.batch_get(keys).await? {
                let order: Order = from_item(item)?;
                orders.insert(order.order_id.clone(), order);
            }
        }
        Ok(orders)
    }

    /// Records a batch of delivery attempts: ONE `TransactWriteItems` when every order is
    /// distinct and still at the attempted version (the common case), otherwise one update per
    /// attempt, in the given order. Either way each attempt is appended to its order's history
    /// and sets the delivery state only while its version is the order's latest.
    pub async fn record_deliveries(
        &self,
        records: &[DeliveryRecord],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut seen = std::collections::HashSet::new();
        let distinct = records.iter().all(|r| seen.insert(r.order_id.as_str()));
        if records.len() > 1 && records.len() <= 100 && distinct {
            let items = records
                .iter()
                .map(|r| {
                    let update = self.state_update(r, now);
                    TransactWriteItem::builder().update(update).build()
                })
                .collect();
            let result = self
                .db
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await;
            match result {
                Ok(_) => return Ok(()),
                // A newer result arrived for one of the orders (or a conflicting write raced):
                // fall through to per-attempt updates, which handle that case.
                Err(e) if e.code() == Some("TransactionCanceledException") => {}
                Err(e) => return Err(StoreError::service(e)),
            }
        }
        for record in records {
            self.record_delivery(record, now).await?;
        }
        Ok(())
    }

    /// The update that appends the attempt and sets the state, conditional on the attempt's
    /// version still being the order's latest result.
    fn state_update(&self, record: &DeliveryRecord, now: DateTime<Utc>) -> Update {
        Update::builder()
            .table_name(&self.table)
            .set_key(Some(key_of(keys::order(&record.order_id))))
            .update_expression(format!(
                "SET delivery_state = :state, sent_version = :version, {APPEND_ATTEMPT}{}",
                if delivered_status(&record.attempt).is_some() {
                    ", delivered_status = :delivered"
                } else {
                    ""
                }
            ))
            .condition_expression("result_version = :version")
            .set_expression_attribute_values(Some(attempt_values(&record.attempt, now, true)))
            .build()
            .expect("table, key and expression are set")
    }

    /// Appends one attempt and sets the delivery state — the state only while the attempt's
    /// version is still the order's latest, so a slow old attempt cannot mask a newer result.
    async fn record_delivery(
        &self,
        record: &DeliveryRecord,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let update = self.state_update(record, now);
        let with_state = self
            .db
            .update_item()
            .table_name(update.table_name())
            .set_key(Some(update.key().clone()))
            .update_expression(update.update_expression())
            .set_condition_expression(update.condition_expression().map(str::to_owned))
            .set_expression_attribute_values(update.expression_attribute_values().cloned())
            .send()
            .await;
        match with_state {
            Ok(_) => Ok(()),
            Err(e) if conditional_failed(&e) => self
                .db
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key_of(keys::order(&record.order_id))))
                .update_expression(format!("SET {APPEND_ATTEMPT}"))
                .condition_expression("attribute_exists(pk)")
                .set_expression_attribute_values(Some(attempt_values(&record.attempt, now, false)))
                .send()
                .await
                .map(|_| ())
                .map_err(StoreError::service),
            Err(e) => Err(StoreError::service(e)),
        }
    }
}

const APPEND_ATTEMPT: &str =
    "deliveries = list_append(if_not_exists(deliveries, :empty), :attempt), updated_at = :now";

fn attempt_values(attempt: &DeliveryAttempt, now: DateTime<Utc>, with_state: bool) -> Item {
    let mut values = HashMap::from([
        (":empty".to_string(), AttributeValue::L(vec![])),
        (
            ":attempt".to_string(),
            AttributeValue::L(vec![to_value(attempt)]),
        ),
        (":now".to_string(), to_value(&now)),
    ]);
    if with_state {
        if let Some(status) = delivered_status(attempt) {
            values.insert(":delivered".into(), to_value(&status));
        }
        values.insert(":state".into(), to_value(&attempt.outcome));
        values.insert(
            ":version".into(),
            AttributeValue::N(attempt.version.to_string()),
        );
    }
    values
}

/// What SR holds after this attempt: the status a `DELIVERED` attempt carried.
fn delivered_status(attempt: &DeliveryAttempt) -> Option<crate::sr::ResultStatus> {
    (attempt.outcome == DeliveryState::Delivered)
        .then_some(attempt.result_status)
        .flatten()
}

/// The index position of an item, for resuming a query right after it.
fn index_key(item: &Item) -> HashMap<String, AttributeValue> {
    [keys::PK, keys::SK, keys::GSI1_PK, keys::GSI1_SK]
        .iter()
        .filter_map(|k| item.get(*k).map(|v| (k.to_string(), v.clone())))
        .collect()
}

fn encode_cursor(key: &HashMap<String, AttributeValue>) -> String {
    let plain: std::collections::BTreeMap<&str, &str> = key
        .iter()
        .filter_map(|(k, v)| v.as_s().ok().map(|s| (k.as_str(), s.as_str())))
        .collect();
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&plain).expect("strings serialize"))
}

/// Decodes a cursor, refusing one that belongs to another integration's list.
fn decode_cursor(cursor: &str, partition: &str) -> Option<HashMap<String, AttributeValue>> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let plain: HashMap<String, String> = serde_json::from_slice(&bytes).ok()?;
    if plain.get(keys::GSI1_PK).map(String::as_str) != Some(partition) || plain.len() != 4 {
        return None;
    }
    Some(
        plain
            .into_iter()
            .map(|(k, v)| (k, AttributeValue::S(v)))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_stay_in_their_integration() {
        let key: HashMap<String, AttributeValue> = [
            ("pk", "ORDER#1"),
            ("sk", "ORDER"),
            ("gsi1pk", "INTEGRATION#a#ORDERS"),
            ("gsi1sk", "2026#1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), AttributeValue::S(v.to_string())))
        .collect();
        let cursor = encode_cursor(&key);
        assert_eq!(decode_cursor(&cursor, "INTEGRATION#a#ORDERS"), Some(key));
        assert_eq!(decode_cursor(&cursor, "INTEGRATION#b#ORDERS"), None);
        assert_eq!(decode_cursor("garbage", "INTEGRATION#a#ORDERS"), None);
    }
}
