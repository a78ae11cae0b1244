//! Re-sending an order's latest result to SR (`connector orders replay`).
//!
//! The replay is an ordinary results-queue message for the order's current `result_version`, with
//! a deduplication id of its own (SQS would otherwise drop it as a repeat of the original send).
//! The publisher delivers any message whose version is the order's latest, so SR really gets the
//! result a second time; it cannot resurrect an older result, because the message always names
//! the newest version and the publisher always sends the order's latest result.

use serde::Serialize;

use crate::orders::Order;
use crate::queue::{QueueError, QueueMessage, ResultsQueue};
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("order {0} does not exist")]
    UnknownOrder(String),
    #[error("order {0} has no result yet; there is nothing to re-send")]
    NoResult(String),
    #[error(
        "order {0}'s personal data was erased; its result is not sent to SmartRecruiters again"
    )]
    Erased(String),
    #[error("order {0}'s personal data was erased; it is not announced again")]
    ErasedNotAnnounced(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot queue the result: {0}")]
    Queue(#[from] QueueError),
}

/// What was queued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Replayed {
    pub order_id: String,
    pub company_id: String,
    pub version: u64,
}

/// What [`announce_order`] queued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Announced {
    pub order_id: String,
    pub company_id: String,
    /// The order was enriched already: the announcement changes nothing.
    pub already_enriched: bool,
}

/// Queues `order_id`'s announcement again (`QueueMessage::OrderReceived`: its enrichment, then
/// the vendor's `order.created`), which the table's stream does for every new order
/// (`crate::order_stream`): for the orders the stream's on-failure queue names. Harmless for an
/// order already announced: the enrichment is stored once and no event is sent twice. Refused
/// for an unknown or erased order.
pub async fn announce_order(
    store: &Store,
    queue: &ResultsQueue,
    order_id: &str,
) -> Result<Announced, ReplayError> {
    let order = store
        .get_order(order_id)
        .await?
        .ok_or_else(|| ReplayError::UnknownOrder(order_id.to_string()))?;
    if order.erased_at.is_some() {
        return Err(ReplayError::ErasedNotAnnounced(order.order_id));
    }
    let message = QueueMessage::OrderReceived {
        order_id: order.order_id.clone(),
        company_id: order.company_id.clone(),
    };
    // Its own deduplication id: the stream's send (if any) must not swallow this one.
    let deduplication_id = format!(
        "{}-announce-{}",
        message.deduplication_id(),
        chrono::Utc::now().timestamp_millis()
    );
    queue.send_deduplicated(&message, &deduplication_id).await?;
    tracing::info!(order_id, "order announced again by an operator");
    Ok(Announced {
        order_id: order.order_id,
        company_id: order.company_id,
        already_enriched: order.enrichment.is_some(),
    })
}

/// The queue message that re-sends `order`'s latest result.
pub fn replay_message(order: &Order) -> Result<QueueMessage, ReplayError> {
    // The publisher would skip it too; refusing says why instead of queueing a no-op.
    if order.erased_at.is_some() {
        return Err(ReplayError::Erased(order.order_id.clone()));
    }
    if order.result.is_none() || order.result_version == 0 {
        return Err(ReplayError::NoResult(order.order_id.clone()));
    }
    Ok(QueueMessage::Result {
        order_id: order.order_id.clone(),
        company_id: order.company_id.clone(),
        version: order.result_version,
    })
}

/// Queues the order's latest result version for the publisher again.
pub async fn replay_result(
    store: &Store,
    queue: &ResultsQueue,
    order_id: &str,
) -> Result<Replayed, ReplayError> {
    let order = store
        .get_order(order_id)
        .await?
        .ok_or_else(|| ReplayError::UnknownOrder(order_id.to_string()))?;
    let message = replay_message(&order)?;
    let deduplication_id = format!(
        "{}-replay-{}",
        message.deduplication_id(),
        chrono::Utc::now().timestamp_millis()
    );
    queue.send_deduplicated(&message, &deduplication_id).await?;
    tracing::info!(
        order_id,
        version = order.result_version,
        "result re-queued by an operator"
    );
    Ok(Replayed {
        order_id: order.order_id,
        company_id: order.company_id,
        version: order.result_version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sr::{PackageResult, ResultStatus};

    fn order() -> Order {
        serde_json::from_value(serde_json::json!({
            "order_id": "o-1", "company_id": "acme", "integration_id": "acme-org",
            "package": {"id": "java", "name": "Java", "kind": "SKILL_TEST", "assessment_ids": ["java"]},
            "result_callback_url": "https://api.smartrecruiters.com/assessment-api/v202010/orders/o-1/results",
            "candidate": {"id": "c", "firstName": "Ada", "lastName": "Lovelace"},
            "job": {"id": "j"},
            "requester": null,
            "request_fingerprint": "f",
            "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
            "delivery_state": "NONE"
        }))
        .unwrap()
    }

    #[test]
    fn an_order_without_result_is_refused() {
        let err = replay_message(&order()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "order o-1 has no result yet; there is nothing to re-send"
        );
    }

    #[test]
    fn an_erased_order_is_refused() {
        let mut order = order();
        order.result = Some(PackageResult {
            status: Some(ResultStatus::Completed),
            ..Default::default()
        });
        order.result_version = 1;
        order.erased_at = Some(chrono::Utc::now());
        let err = replay_message(&order).unwrap_err();
        assert!(matches!(err, ReplayError::Erased(_)), "{err}");
        assert!(err.to_string().contains("erased"), "{err}");
    }

    #[test]
    fn the_message_names_the_latest_version() {
        let mut order = order();
        order.result = Some(PackageResult {
            status: Some(ResultStatus::Completed),
            ..Default::default()
        });
        order.result_version = 3;
        order.sent_version = 3;
        assert_eq!(
            replay_message(&order).unwrap(),
            QueueMessage::Result {
                order_id: "o-1".into(),
                company_id: "acme".into(),
                version: 3
            }
        );
    }
}
