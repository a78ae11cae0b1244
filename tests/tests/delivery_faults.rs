//! Results delivery under SR faults, through the whole local pipeline: the vendor API stores a
//! result and queues it on the FIFO results queue, the stack's SQS poller (the event source
//! mapping) invokes the result-publisher Lambda under cargo lambda watch, and the publisher talks
//! to the SR simulator, which injects faults.
//!
//! The stack runs with a short retry backoff (`LOCAL_BACKOFF_*` in infra/stack.sh), so an outage
//! of a few dozen failed calls is over in seconds. The 500-result burst under SR's rate limit is
//! in `delivery_burst.rs`, a test binary of its own, so its backlog does not slow these down.

use std::time::Duration;

use connector::ops::dlq;
use connector_tests::pipeline::{company_with_orders, completed, sr_result, submit};
use connector_tests::{eventually, Stack};
use serde_json::json;

/// SR saw the order's results in the order the vendor sent them: once COMPLETED, only COMPLETED.
fn assert_never_regressed(sr_order: &serde_json::Value) {
    let statuses: Vec<&str> = sr_order["patches"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["body"]["status"].as_str())
        .collect();
    let first_final = statuses.iter().position(|s| *s == "COMPLETED").unwrap();
    assert!(
        statuses[first_final..].iter().all(|s| *s == "COMPLETED"),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn after_an_sr_outage_every_result_arrives_in_order_per_order() {
    let stack = Stack::connect().await;
    let (company, order_ids) = company_with_orders(&stack, "outage", 4).await;
    // SR is down for these orders: 500s, 503s and one call that outlasts the client timeout.
    for order_id in &order_ids {
        let path = format!("/orders/{order_id}/results");
        stack
            .sim
            .inject_fault(json!({"path_contains": path, "status": 500, "count": 3}))
            .await;
        stack
            .sim
            .inject_fault(json!({"path_contains": path, "status": 503, "count": 2}))
            .await;
    }
    stack
        .sim
        .inject_fault(json!({"path_contains": format!("/orders/{}/results", order_ids[0]), "delay_ms": 11_000, "count": 1}))
        .await;
    for order_id in &order_ids {
        submit(&stack, &company, order_id, json!({"status": "OPEN"})).await;
        submit(&stack, &company, order_id, completed(61.0)).await;
    }
    for order_id in &order_ids {
        let result = eventually(
            "the final result to arrive after the outage",
            Duration::from_secs(180),
            || async {
                sr_result(&stack, order_id)
                    .await
                    .filter(|(status, _)| status == "COMPLETED")
            },
        )
        .await;
        assert_eq!(result, ("COMPLETED".into(), 61));
        assert_never_regressed(&stack.sim.order(order_id).await.unwrap());
    }
}

#[tokio::test]
async fn a_poisoned_result_ends_in_the_dead_letter_queue_and_redrive_delivers_it() {
    let stack = Stack::connect().await;
    let (company, order_ids) = company_with_orders(&stack, "poison", 1).await;
    let order_id = &order_ids[0];
    // More failures than the queue's maxReceiveCount (20) allows receives.
    stack
        .sim
        .inject_fault(json!({"path_contains": format!("/orders/{order_id}/results"), "status": 500, "count": 20}))
        .await;
    submit(&stack, &company, order_id, completed(77.0)).await;
    let dlq_url = stack
        .env
        .get("RESULTS_DLQ_URL")
        .expect("RESULTS_DLQ_URL in stack.env")
        .clone();
    let order = eventually(
        "the result to be given up on and recorded as FAILED",
        Duration::from_secs(180),
        || async {
            let order = stack
                .store
                .get_order_with_history(order_id)
                .await
                .unwrap()?;
            (order.delivery_state == connector::orders::DeliveryState::Failed).then_some(order)
        },
    )
    .await;
    let last = order.deliveries.last().unwrap();
    assert_eq!(last.sr_status_code, Some(500));
    assert!(
        last.detail
            .as_deref()
            .unwrap_or_default()
            .contains("dead-letter queue"),
        "{last:?}"
    );
    assert!(
        order.deliveries.len() >= 20,
        "one attempt per receive: {:?}",
        order.deliveries
    );
    eventually(
        "the message to be in the dead-letter queue",
        Duration::from_secs(60),
        || async {
            let listed = dlq::list(&stack.aws.sqs, &dlq_url, 1000).await.ok()?;
            listed
                .iter()
                .any(|m| m.body.contains(order_id.as_str()))
                .then_some(())
        },
    )
    .await;
    assert_eq!(
        sr_result(&stack, order_id).await,
        None,
        "SR never accepted it"
    );

    // SR is healthy again (the faults are used up): redrive, and the result arrives.
    let moved = dlq::redrive(
        &stack.aws.sqs,
        &dlq_url,
        &stack.config.results_queue_url,
        None,
    )
    .await
    .expect("redrive");
    assert!(moved >= 1);
    let result = eventually(
        "the redriven result to reach SR",
        Duration::from_secs(60),
        || async { sr_result(&stack, order_id).await },
    )
    .await;
    assert_eq!(result, ("COMPLETED".into(), 77));
}

#[tokio::test]
async fn duplicate_and_late_deliveries_never_regress_a_final_status() {
    let stack = Stack::connect().await;
    let (company, order_ids) = company_with_orders(&stack, "regress", 1).await;
    let order_id = &order_ids[0];
    submit(&stack, &company, order_id, json!({"status": "OPEN"})).await;
    submit(&stack, &company, order_id, completed(90.0)).await;
    eventually("COMPLETED to reach SR", Duration::from_secs(60), || async {
        sr_result(&stack, order_id)
            .await
            .filter(|(s, _)| s == "COMPLETED")
    })
    .await;
    // SQS delivers the old version-1 message again (at-least-once), and a replay of the latest.
    let queue = connector::queue::ResultsQueue::new(
        stack.aws.sqs.clone(),
        stack.config.results_queue_url.clone(),
    );
    let stale = connector::queue::QueueMessage::Result {
        order_id: order_id.clone(),
        company_id: company.company_id.clone(),
        version: 1,
    };
    queue
        .send_deduplicated(&stale, &connector_tests::uuid())
        .await
        .unwrap();
    connector::ops::replay::replay_result(&stack.store, &queue, order_id)
        .await
        .unwrap();
    eventually(
        "the replay to be delivered",
        Duration::from_secs(60),
        || async {
            let order = stack
                .store
                .get_order_with_history(order_id)
                .await
                .unwrap()?;
            (order
                .deliveries
                .iter()
                .filter(|d| d.outcome == connector::orders::DeliveryState::Delivered)
                .count()
                >= 2)
                .then_some(())
        },
    )
    .await;
    let sr = stack.sim.order(order_id).await.unwrap();
    assert_eq!(sr["result"]["status"], "COMPLETED");
    assert_never_regressed(&sr);
}
