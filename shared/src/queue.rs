//! The results queue: small messages that say "order X has result version N to deliver", or
//! "order X arrived, enrich it". The order stays in DynamoDB, so a message is tiny and a retried
//! message always works on the latest stored state.
//!
//! The queue is FIFO with one message group per order: SQS hands out an order's messages one at
//! a time and in the order they were sent, so a retried or backed-off result can never be
//! overtaken by an older one, while different orders still flow in parallel. Each message carries
//! an explicit deduplication id, so a send retried after an ambiguous failure is stored once.

use serde::{Deserialize, Serialize};

use crate::aws::LazyClient;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum QueueMessage {
    /// Deliver result `version` of `order_id` to SR.
    Result {
        order_id: String,
        company_id: String,
        version: u64,
    },
    /// Order `order_id` was stored: fetch its enrichment from SR and tell the vendor
    /// (`enrichment`). Sent by `order_stream` for every order item the table inserts (SR's
    /// retries insert nothing: the first stored order stands).
    OrderReceived {
        order_id: String,
        company_id: String,
    },
}

impl QueueMessage {
    /// The FIFO message group: an order's results are delivered in sequence. Its enrichment
    /// has a group of its own, so a backing-off enrichment never holds up the order's results.
    pub fn group_id(&self) -> String {
        match self {
            Self::Result { order_id, .. } => order_id.clone(),
            Self::OrderReceived { order_id, .. } => format!("enrich-{}", dedup_safe(order_id)),
        }
    }

    /// The FIFO deduplication id: the same logical message sent twice within SQS's five-minute
    /// window is stored once.
    pub fn deduplication_id(&self) -> String {
        match self {
            Self::Result {
                order_id, version, ..
            } => format!("result-{}-{version}", dedup_safe(order_id)),
            Self::OrderReceived { order_id, .. } => {
                format!("order-received-{}", dedup_safe(order_id))
            }
        }
    }
}

/// SQS allows `[A-Za-z0-9!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~]` and 128 characters in a
/// deduplication id; order ids are SR's UUIDs, but anything else is hashed to stay valid.
fn dedup_safe(id: &str) -> String {
    if id.len() <= 80 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        id.to_owned()
    } else {
        crate::auth::credentials::hex_digest(id.as_bytes())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("SQS request failed: {0}")]
pub struct QueueError(String);

#[derive(Clone, Debug)]
pub struct ResultsQueue {
    sqs: LazyClient<aws_sdk_sqs::Client>,
    url: String,
}

impl ResultsQueue {
    pub fn new(sqs: impl Into<LazyClient<aws_sdk_sqs::Client>>, url: impl Into<String>) -> Self {
        Self {
            sqs: sqs.into(),
            url: url.into(),
        }
    }

    /// The queue's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub async fn send(&self, message: &QueueMessage) -> Result<(), QueueError> {
        self.send_deduplicated(message, &message.deduplication_id())
            .await
    }

    /// Sends with a caller-chosen deduplication id (a replay must not be swallowed as a duplicate
    /// of the original send).
    pub async fn send_deduplicated(
        &self,
        message: &QueueMessage,
        deduplication_id: &str,
    ) -> Result<(), QueueError> {
        self.sqs
            .send_message()
            .queue_url(&self.url)
            .message_body(serde_json::to_string(message).expect("messages serialize"))
            .message_group_id(message.group_id())
            .message_deduplication_id(deduplication_id)
            .send()
            .await
            .map_err(|e| {
                QueueError(aws_smithy_types::error::display::DisplayErrorContext(&e).to_string())
            })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_tagged_json() {
        let m = QueueMessage::Result {
            order_id: "o".into(),
            company_id: "c".into(),
            version: 2,
        };
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(json["kind"], "result");
        assert_eq!(serde_json::from_value::<QueueMessage>(json).unwrap(), m);
    }

    #[test]
    fn an_order_received_message_is_small_and_never_blocks_the_orders_results() {
        let received = QueueMessage::OrderReceived {
            order_id: "3fa85f64-5717-4562-b3fc-2c963f66afa6".into(),
            company_id: "c".into(),
        };
        let json = serde_json::to_value(&received).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"kind": "order_received", "order_id": "3fa85f64-5717-4562-b3fc-2c963f66afa6", "company_id": "c"})
        );
        assert_eq!(
            serde_json::from_value::<QueueMessage>(json).unwrap(),
            received
        );
        let result = QueueMessage::Result {
            order_id: "3fa85f64-5717-4562-b3fc-2c963f66afa6".into(),
            company_id: "c".into(),
            version: 1,
        };
        assert_ne!(received.group_id(), result.group_id());
        assert_ne!(received.deduplication_id(), result.deduplication_id());
        let long = QueueMessage::OrderReceived {
            order_id: "x".repeat(128),
            company_id: "c".into(),
        };
        assert!(long.group_id().len() <= 128 && long.deduplication_id().len() <= 128);
    }

    #[test]
    fn an_order_is_one_fifo_group_and_versions_deduplicate_apart() {
        let v = |version| QueueMessage::Result {
            order_id: "3fa85f64-5717-4562-b3fc-2c963f66afa6".into(),
            company_id: "c".into(),
            version,
        };
        assert_eq!(v(1).group_id(), v(2).group_id());
        assert_ne!(v(1).deduplication_id(), v(2).deduplication_id());
        assert_eq!(v(1).deduplication_id(), v(1).deduplication_id());
        let odd = QueueMessage::Result {
            order_id: "weird id/with spaces".repeat(10),
            company_id: "c".into(),
            version: 1,
        };
        let id = odd.deduplication_id();
        assert!(id.len() <= 128 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    }
}
