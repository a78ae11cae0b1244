//! The table's stream of new orders → the results queue: every order item DynamoDB inserts (SR's
//! order, stored by `orders::receive` in one transaction) becomes one
//! `QueueMessage::OrderReceived`, so the enrichment and the vendor's `order.created` start off
//! SR's request path: create-order's only AWS call is the order's transaction.
//!
//! The event source mapping (template.yaml, `OrderStreamMapping`) hands over only `INSERT`s of
//! `ORDER` items (`FilterCriteria`); the records are checked again here, so a wider filter is
//! harmless. A shard's records come in order; the first one that cannot be queued (SQS failed)
//! is reported by its `SequenceNumber` (`ReportBatchItemFailures`) and the later ones are left
//! for the retry, which starts there; records the mapping gives up on are described on its
//! on-failure queue. An order item whose image lacks its ids is logged and skipped: no retry
//! could read it. Forwarding the same order twice is harmless: the queue deduplicates
//! `OrderReceived` by order id (five minutes) and the enrichment runs once per order.

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use lambda_runtime::LambdaEvent;
use serde::Deserialize;

use crate::config::Config;
use crate::queue::{QueueMessage, ResultsQueue};
use crate::store::keys;

/// Forwards new orders from the table's stream to the results queue.
pub struct OrderStream {
    queue: ResultsQueue,
}

/// What the forwarded message needs of a new order item (its `NewImage`): its company; the
/// order id is its key's (`ORDER#{id}`; items of older releases also held it as `order_id`).
#[derive(Deserialize)]
struct NewOrder {
    company_id: String,
}

impl OrderStream {
    pub fn new(queue: ResultsQueue) -> Self {
        Self { queue }
    }

    /// The queue from the Lambda's environment; only the SQS client is built (cold start).
    pub async fn from_env() -> Result<Self, lambda_runtime::Error> {
        let config = Config::from_env()?;
        let sdk = crate::aws::load_sdk_config().await;
        Ok(Self::new(ResultsQueue::new(
            aws_sdk_sqs::Client::new(&sdk),
            config.results_queue_url,
        )))
    }

    /// The Lambda handler: one DynamoDB stream batch.
    pub async fn handle(
        &self,
        event: LambdaEvent<Event>,
    ) -> Result<DynamoDbEventResponse, lambda_runtime::Error> {
        Ok(self.forward(&event.payload.records).await)
    }

    /// Queues `OrderReceived` for every new order in `records`, in their order; answers the
    /// first record that could not be queued (none when all were).
    pub async fn forward(&self, records: &[EventRecord]) -> DynamoDbEventResponse {
        let mut response = DynamoDbEventResponse::default();
        for record in records {
            let Some(message) = order_received(record) else {
                continue;
            };
            let message = match message {
                Ok(message) => message,
                Err(reason) => {
                    // Retrying cannot read it; blocking the shard would hold every later order.
                    tracing::error!(event_id = %record.event_id, %reason, "an inserted order item is unreadable; not announced");
                    continue;
                }
            };
            if let Err(e) = self.queue.send(&message).await {
                tracing::warn!(event_id = %record.event_id, error = %e, "could not queue the new order's enrichment; the stream retries");
                response.batch_item_failures.push(failure(record));
                break;
            }
        }
        response
    }
}

/// The message for `record` if it inserts an order item (`None` for anything else), or why its
/// new image cannot be read.
fn order_received(record: &EventRecord) -> Option<Result<QueueMessage, String>> {
    let sort_key = record.change.keys.get(keys::SK);
    let is_order =
        matches!(sort_key, Some(serde_dynamo::AttributeValue::S(sk)) if sk == ORDER_SORT_KEY);
    if record.event_name != "INSERT" || !is_order {
        return None;
    }
    let order_id = match record.change.keys.get(keys::PK) {
        Some(serde_dynamo::AttributeValue::S(pk)) => keys::order_id_in(pk),
        _ => None,
    };
    let Some(order_id) = order_id else {
        return Some(Err("Keys: no ORDER# partition key".into()));
    };
    let order: Result<NewOrder, _> = serde_dynamo::from_item(record.change.new_image.clone());
    Some(
        order
            .map(|o| QueueMessage::OrderReceived {
                order_id: order_id.to_owned(),
                company_id: o.company_id,
            })
            .map_err(|e| {
                format!(
                    "NewImage: {}",
                    crate::telemetry::without_quoted_strings(&e.to_string())
                )
            }),
    )
}

/// The sort key of every order item (`keys::order`).
const ORDER_SORT_KEY: &str = "ORDER";

fn failure(record: &EventRecord) -> DynamoDbBatchItemFailure {
    let mut failure = DynamoDbBatchItemFailure::default();
    failure.item_identifier = record.change.sequence_number.clone();
    failure
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stream event as Lambda delivers it: an order inserted, then an order updated (a result).
    fn captured() -> Event {
        serde_json::from_str(include_str!(
            "../../tests/events/dynamodb-stream-order-insert.json"
        ))
        .expect("the captured event parses")
    }

    #[test]
    fn an_inserted_order_becomes_order_received_and_anything_else_nothing() {
        let event = captured();
        let messages: Vec<_> = event.records.iter().map(order_received).collect();
        assert_eq!(messages.len(), 2);
        assert_eq!(
            messages[0].clone().unwrap().unwrap(),
            QueueMessage::OrderReceived {
                order_id: "0b3f9a2e-1111-4c1a-9a55-3f2b7e0c9d11".into(),
                company_id: "acme".into(),
            }
        );
        assert!(messages[1].is_none(), "a MODIFY is not a new order");
    }

    #[test]
    fn the_order_sort_key_is_the_stores() {
        assert_eq!(keys::order("x").1, ORDER_SORT_KEY);
    }

    #[test]
    fn an_unreadable_new_order_is_recognised_and_a_failure_names_its_sequence_number() {
        let mut event = captured();
        let record = &mut event.records[0];
        assert_eq!(
            failure(record).item_identifier.as_deref(),
            Some("111100000000000000000001")
        );
        record.change.new_image.remove("company_id");
        assert!(order_received(record).unwrap().is_err());
    }

    #[tokio::test]
    async fn an_unreadable_new_order_is_skipped_without_holding_the_shard() {
        let mut event = captured();
        event.records[0].change.new_image.remove("company_id");
        // Nothing is queued (the only INSERT is unreadable) and nothing is reported, so the
        // queue is never called: any URL will do.
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        let stream = OrderStream::new(ResultsQueue::new(
            aws_sdk_sqs::Client::new(&sdk),
            "http://127.0.0.1:9/queue.fifo",
        ));
        assert!(stream
            .forward(&event.records)
            .await
            .batch_item_failures
            .is_empty());
    }
}
