//! A final status never changes at SR, through the whole local pipeline: the vendor API over HTTP
//! (vendor-api under cargo lambda watch), the FIFO results queue, the stack's poller and
//! result-publisher, and the SR simulator.

use std::time::Duration;

use connector::orders::DeliveryState;
use connector::queue::{QueueMessage, ResultsQueue};
use connector::sr::ResultStatus;
use connector_tests::pipeline::{
    company_with_orders, completed, order_over_http, sr_result, submit_over_http,
};
use connector_tests::publishing::store_result_directly;
use connector_tests::{eventually, Stack};
use serde_json::{json, Value};

/// Waits until SR holds `status` with `raw` score for the order.
async fn sr_shows(stack: &Stack, order_id: &str, status: &str, raw: i64) {
    eventually(
        &format!("SR to show {status} {raw} for {order_id}"),
        Duration::from_secs(120),
        || async {
            sr_result(stack, order_id)
                .await
                .filter(|(s, r)| s == status && *r == raw)
        },
    )
    .await;
}

/// Every status SR received for the order, in order. (The publisher skips a version that a
/// newer one overtook in the queue, so an early non-final status may never be sent.)
async fn statuses_at_sr(stack: &Stack, order_id: &str) -> Vec<String> {
    let order = stack.sim.order(order_id).await.unwrap_or(Value::Null);
    order["patches"]
        .as_array()
        .map(|patches| {
            patches
                .iter()
                .filter_map(|p| p["body"]["status"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// SR saw `last` and, from the first final status on, only `last`.
fn assert_final_status_kept(statuses: &[String], last: &str) {
    let first_final = statuses
        .iter()
        .position(|s| !matches!(s.as_str(), "IN_PROGRESS" | "PENDING"))
        .unwrap_or_else(|| panic!("no final status reached SR: {statuses:?}"));
    assert!(
        statuses[first_final..].iter().all(|s| s == last),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn a_different_status_after_a_final_one_is_refused_and_a_revision_is_delivered() {
    let stack = Stack::connect().await;
    let (company, orders) = company_with_orders(&stack, "final", 1).await;
    let order_id = &orders[0];
    let (status, body) = submit_over_http(&stack, &company, order_id, completed(80.0)).await;
    assert_eq!(status, 200, "{body}");
    sr_shows(&stack, order_id, "COMPLETED", 80).await;

    // Kombo's CANCELLED (SR's REJECTED), a late OPEN and SR's own REJECTED and EXPIRED are
    // refused with a 409 naming the current status; nothing is stored or queued.
    for late in ["CANCELLED", "OPEN", "IN_PROGRESS", "REJECTED", "EXPIRED"] {
        let (status, body) =
            submit_over_http(&stack, &company, order_id, json!({"status": late})).await;
        assert_eq!(status, 409, "{late}: {body}");
        assert_eq!(body["status"], "error");
        assert_eq!(body["error"]["connector_code"], "FINAL_STATUS", "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("already COMPLETED"), "{message}");
    }
    let order = order_over_http(&stack, &company, order_id).await;
    assert_eq!(order["delivery"]["result_version"], 1, "{order}");
    assert_eq!(order["submissions"].as_array().unwrap().len(), 1);

    // A re-score with the same final status is a revision: stored, delivered, in the history.
    let (status, body) = submit_over_http(
        &stack,
        &company,
        order_id,
        json!({"status": "COMPLETED", "score": 93, "max_score": 100, "score_label": "Re-scored"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["result_version"], 2);
    sr_shows(&stack, order_id, "COMPLETED", 93).await;
    let order = order_over_http(&stack, &company, order_id).await;
    let submissions = order["submissions"].as_array().unwrap();
    assert_eq!(submissions.len(), 2, "{order}");
    assert!(submissions[0].get("revision_of").is_none(), "{order}");
    assert_eq!(submissions[1]["version"], 2);
    assert_eq!(submissions[1]["revision_of"], 1, "{order}");
    let statuses = statuses_at_sr(&stack, order_id).await;
    assert_eq!(
        statuses,
        ["COMPLETED", "COMPLETED"],
        "both versions were sent"
    );
}

#[tokio::test]
async fn kombo_cancelled_is_final_too() {
    let stack = Stack::connect().await;
    let (company, orders) = company_with_orders(&stack, "cancelled", 1).await;
    let order_id = &orders[0];
    for (body, expected) in [
        (json!({"status": "OPEN"}), 200),
        (json!({"status": "CANCELLED"}), 200),
        // CANCELLED again is a revision of REJECTED; COMPLETED would change it.
        (
            json!({"status": "CANCELLED", "summary": "Withdrawn by the candidate"}),
            200,
        ),
        (completed(50.0), 409),
    ] {
        let (status, answer) = submit_over_http(&stack, &company, order_id, body.clone()).await;
        assert_eq!(status, expected, "{body}: {answer}");
        if status == 409 {
            let message = answer["error"]["message"].as_str().unwrap();
            assert!(message.contains("already REJECTED"), "{message}");
        }
    }
    eventually(
        "the revision to reach SR",
        Duration::from_secs(120),
        || async {
            let order = stack.sim.order(order_id).await?;
            (order["result"]["summary"] == "Withdrawn by the candidate").then_some(())
        },
    )
    .await;
    assert_final_status_kept(&statuses_at_sr(&stack, order_id).await, "REJECTED");
}

/// The publisher keeps the rule for whatever reaches the queue: stale and duplicate messages,
/// and a result stored around the vendor API (by an older connector version or a tool).
#[tokio::test]
async fn the_publisher_never_sends_a_different_status_after_a_final_one() {
    let stack = Stack::connect().await;
    let (company, orders) = company_with_orders(&stack, "defence", 1).await;
    let order_id = &orders[0];
    submit_over_http(&stack, &company, order_id, json!({"status": "OPEN"})).await;
    submit_over_http(&stack, &company, order_id, completed(70.0)).await;
    sr_shows(&stack, order_id, "COMPLETED", 70).await;
    eventually(
        "COMPLETED to be recorded as delivered",
        Duration::from_secs(60),
        || async {
            let order = stack.store.get_order(order_id).await.ok()??;
            (order.delivered_status == Some(ResultStatus::Completed)).then_some(())
        },
    )
    .await;

    // Version 3 stored directly with another final status, then its message, a stale copy of
    // version 1 and a duplicate of version 2, all on the stack's real results queue.
    store_result_directly(&stack, &company, order_id, 2, ResultStatus::Rejected).await;
    let queue = ResultsQueue::new(stack.aws.sqs.clone(), &stack.config.results_queue_url);
    for version in [1, 2, 3] {
        let message = QueueMessage::Result {
            order_id: order_id.clone(),
            company_id: company.company_id.clone(),
            version,
        };
        queue
            .send_deduplicated(&message, &connector_tests::uuid())
            .await
            .unwrap();
    }
    let order = eventually(
        "version 3 to be refused by the publisher",
        Duration::from_secs(120),
        || async {
            let order = order_over_http(&stack, &company, order_id).await;
            (order["delivery"]["state"] == "FAILED").then_some(order)
        },
    )
    .await;
    let attempts = order["delivery"]["attempts"].as_array().unwrap();
    let last = attempts.last().unwrap();
    assert_eq!(last["version"], 3);
    assert_eq!(last["outcome"], "FAILED");
    assert!(last["sr_status_code"].is_null(), "never sent: {last}");
    assert!(
        last["detail"]
            .as_str()
            .unwrap()
            .contains("already COMPLETED"),
        "{last}"
    );
    assert_eq!(sr_result(&stack, order_id).await.unwrap().0, "COMPLETED");
    // The stale and duplicate messages changed nothing at SR.
    assert_final_status_kept(&statuses_at_sr(&stack, order_id).await, "COMPLETED");
    let stored = stack.store.get_order(order_id).await.unwrap().unwrap();
    assert_eq!(stored.delivery_state, DeliveryState::Failed);
}
