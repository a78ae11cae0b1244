//! `connector dlq list|redrive` against the running local stack. A well-formed result message for
//! an order the SR simulator placed is put straight into the dead-letter queue, listed, and moved
//! back; the stack's SQS poller then hands it to the publisher, which delivers it to SR.
//!
//! One test only: redrive moves every message of the shared dead-letter queue.

mod common;

use std::time::Duration;

use chrono::Utc;
use common::{json, text};
use connector::orders::{DeliveryState, Submission};
use connector::queue::QueueMessage;
use connector::sr::{PackageResult, ResultStatus, Score};
use connector::store::ResultWrite;
use connector_tests::scenario::demo_catalog;
use connector_tests::{eventually, Stack};
use serde_json::Value;

/// The listed message whose body mentions `order_id`.
fn find<'a>(list: &'a Value, order_id: &str) -> Option<&'a Value> {
    list["messages"]
        .as_array()
        .expect("messages array")
        .iter()
        .find(|m| m["body"].as_str().unwrap_or_default().contains(order_id))
}

#[tokio::test]
async fn list_shows_a_dead_letter_and_redrive_delivers_it() {
    let stack = Stack::connect().await;
    let dlq_url = stack
        .env
        .get("RESULTS_DLQ_URL")
        .expect("RESULTS_DLQ_URL in stack.env")
        .clone();

    // An order SR placed, with result version 1 stored but never queued (as if every delivery
    // attempt had failed and the message had ended up in the dead-letter queue).
    let company = stack.new_company("cli-dlq").await;
    stack.put_catalog(&company, demo_catalog()).await;
    let (order_id, call, _) = stack
        .sim
        .place_order(&company.company_id, "culture-fit")
        .await;
    assert_eq!(call.status, 202, "{:?}", call.body);
    let result = PackageResult {
        status: Some(ResultStatus::Completed),
        score: Some(Score {
            raw: 64,
            min: 0,
            max: 100,
        }),
        ..Default::default()
    };
    let order = stack
        .store
        .write_result(ResultWrite {
            order: &stack.stored_order(&order_id).await,
            result: &result,
            submission: &Submission {
                version: Some(1),
                submitted_at: Utc::now(),
                status: ResultStatus::Completed,
                vendor_body: serde_json::json!({}),
                note: None,
                revision_of: None,
            },
            request_sha256: None,
            files: &[],
            now: Utc::now(),
        })
        .await
        .unwrap();
    let body = serde_json::to_string(&QueueMessage::Result {
        order_id: order_id.clone(),
        company_id: company.company_id.clone(),
        version: order.result_version,
    })
    .unwrap();
    stack
        .aws
        .sqs
        .send_message()
        .queue_url(&dlq_url)
        .message_body(&body)
        // The queues are FIFO: one group per order.
        .message_group_id(&order_id)
        .message_deduplication_id(connector_tests::uuid())
        .send()
        .await
        .expect("message sent to the dead-letter queue");

    // Listed, with its attributes, and still there afterwards (listing hides nothing).
    let listed = json(&["dlq", "list", "--max", "1000", "--json"]);
    assert_eq!(listed["queue_url"], dlq_url.as_str());
    let message = find(&listed, &order_id).expect("the dead letter is listed");
    assert_eq!(message["body"], body.as_str());
    assert!(message["message_id"]
        .as_str()
        .is_some_and(|id| !id.is_empty()));
    assert!(message["receive_count"].as_u64().unwrap() >= 1);
    assert!(message["sent_at"].is_string(), "{message}");
    assert_eq!(message["message"]["order_id"], order_id.as_str());
    let again = text(&["dlq", "list", "--max", "1000"]);
    assert!(
        again.contains(&body),
        "listing must not hide the message: {again}"
    );
    assert!(
        again.contains(&format!("result version 1 of order {order_id}")),
        "{again}"
    );

    // Redrive: moved to the results queue, gone from the dead-letter queue, delivered to SR.
    let moved = json(&["dlq", "redrive", "--json"]);
    assert!(moved["moved"].as_u64().unwrap() >= 1, "{moved}");
    assert_eq!(moved["from"], dlq_url.as_str());
    assert_eq!(moved["to"], stack.config.results_queue_url.as_str());
    let after = json(&["dlq", "list", "--max", "1000", "--json"]);
    assert!(find(&after, &order_id).is_none(), "{after}");

    let sr = eventually(
        "SR to receive the redriven result",
        Duration::from_secs(120),
        || async {
            stack
                .sim
                .order(&order_id)
                .await
                .filter(|o| o["result"]["status"] == "COMPLETED")
        },
    )
    .await;
    assert_eq!(sr["result"]["score"]["raw"], 64);
    eventually(
        "the delivery to be recorded",
        Duration::from_secs(60),
        || async {
            let order = stack.store.get_order(&order_id).await.unwrap()?;
            (order.delivery_state == DeliveryState::Delivered).then_some(())
        },
    )
    .await;

    // Nothing left to move.
    let nothing = text(&["dlq", "redrive", "--max", "5"]);
    assert!(
        nothing.starts_with("The dead-letter queue is empty") || nothing.starts_with("Moved "),
        "{nothing}"
    );
}
