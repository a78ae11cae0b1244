//! The result publisher, in-process, against moto and the SR simulator: delivery, stale and
//! duplicate messages, SR faults and refusals.

use aws_lambda_events_shim::message;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Utc;
use connector::orders::{DeliveryState, Submission};
use connector::publisher::{Outcome, ResultPublisher};
use connector::queue::QueueMessage;
use connector::sr::{PackageResult, ResultStatus, Score, SrClient};
use connector::store::ResultWrite;
use connector_tests::{scenario::demo_catalog, Stack, TestCompany};
use serde_json::json;

mod aws_lambda_events_shim {
    /// An SQS record as Lambda delivers it.
    pub fn message(body: &str) -> aws_lambda_events::event::sqs::SqsMessage {
        serde_json::from_value(serde_json::json!({
            "messageId": connector_tests::uuid(),
            "receiptHandle": "rh",
            "body": body,
            "attributes": {"ApproximateReceiveCount": "1"},
            "messageAttributes": {},
            "eventSource": "aws:sqs",
            "awsRegion": "us-east-1"
        }))
        .unwrap()
    }
}

fn publisher(stack: &Stack) -> ResultPublisher {
    ResultPublisher::new(
        stack.store.clone(),
        stack.secrets.clone(),
        SrClient::new(stack.config.sr.clone()),
    )
}

/// An order SR (the simulator) placed, so SR accepts results for it.
async fn sr_order(stack: &Stack, label: &str) -> (TestCompany, String) {
    let company = stack.new_company(label).await;
    stack.put_catalog(&company, demo_catalog()).await;
    let (order_id, call, _) = stack
        .sim
        .place_order(&company.company_id, "culture-fit")
        .await;
    assert_eq!(call.status, 202, "{:?}", call.body);
    (company, order_id)
}

/// Stores result version `expected + 1` directly (no queue), as the vendor API would.
async fn store_result(
    stack: &Stack,
    company: &TestCompany,
    order_id: &str,
    expected: u64,
    status: ResultStatus,
    raw: i64,
) -> u64 {
    let result = PackageResult {
        status: Some(status),
        score: Some(Score {
            raw,
            min: 0,
            max: 100,
        }),
        ..Default::default()
    };
    let submission = Submission {
        version: Some(expected + 1),
        submitted_at: Utc::now(),
        status,
        vendor_body: json!({}),
        note: None,
        revision_of: None,
    };
    let mut order = stack.stored_order(order_id).await;
    assert_eq!(order.integration_id, company.integration_id);
    order.result_version = expected;
    let order = stack
        .store
        .write_result(ResultWrite {
            order: &order,
            result: &result,
            submission: &submission,
            request_sha256: None,
            files: &[],
            now: Utc::now(),
        })
        .await
        .unwrap();
    order.result_version
}

fn result_message(company: &TestCompany, order_id: &str, version: u64) -> String {
    serde_json::to_string(&QueueMessage::Result {
        order_id: order_id.into(),
        company_id: company.company_id.clone(),
        version,
    })
    .unwrap()
}

#[tokio::test]
async fn a_result_is_patched_to_sr_and_the_delivery_recorded() {
    let stack = Stack::connect().await;
    let (company, order_id) = sr_order(&stack, "publish").await;
    let v = store_result(&stack, &company, &order_id, 0, ResultStatus::Completed, 71).await;
    let outcome = publisher(&stack)
        .process(&message(&result_message(&company, &order_id, v)))
        .await;
    assert_eq!(outcome, Outcome::Done);
    let sr = stack.sim.order(&order_id).await.unwrap();
    assert_eq!(sr["result"]["status"], "COMPLETED");
    assert_eq!(
        sr["result"]["score"],
        json!({"raw": 71, "min": 0, "max": 100})
    );
    let order = stack.stored_order(&order_id).await;
    assert_eq!(order.delivery_state, DeliveryState::Delivered);
    assert_eq!(order.deliveries[0].sr_status_code, Some(200));
}

/// SR's acceptances are recorded on the order's state item, by the update that sets the
/// delivery state (no item of their own), a refusal (SR's answer) as an item of its own; the
/// history lists them all in time order.
#[tokio::test]
async fn accepted_deliveries_live_on_the_state_item_and_are_listed_in_time_order() {
    let stack = Stack::connect().await;
    let (company, order_id) = sr_order(&stack, "on-state").await;
    let publisher = publisher(&stack);
    let deliver = |version: u64| message(&result_message(&company, &order_id, version));
    let v1 = store_result(&stack, &company, &order_id, 0, ResultStatus::InProgress, 10).await;
    assert_eq!(publisher.process(&deliver(v1)).await, Outcome::Done);
    let v2 = store_result(
        &stack,
        &company,
        &order_id,
        v1,
        ResultStatus::InProgress,
        20,
    )
    .await;
    stack
        .sim
        .inject_fault(
            json!({"path_contains": format!("/orders/{order_id}/results"),
            "method": "PATCH", "status": 400, "count": 1,
            "body": {"message": "score out of range", "errors": [{"code": "INVALID_RESULT"}]}}),
        )
        .await;
    assert_eq!(publisher.process(&deliver(v2)).await, Outcome::Done);
    let v3 = store_result(&stack, &company, &order_id, v2, ResultStatus::Completed, 90).await;
    assert_eq!(publisher.process(&deliver(v3)).await, Outcome::Done);

    let order = stack.stored_order(&order_id).await;
    let listed: Vec<(u64, DeliveryState, Option<u16>)> = order
        .deliveries
        .iter()
        .map(|d| (d.version, d.outcome, d.sr_status_code))
        .collect();
    assert_eq!(
        listed,
        [
            (1, DeliveryState::Delivered, Some(200)),
            (2, DeliveryState::Failed, Some(400)),
            (3, DeliveryState::Delivered, Some(200)),
        ]
    );
    assert!(order.deliveries.windows(2).all(|w| w[0].at <= w[1].at));
    assert_eq!(order.delivery_state, DeliveryState::Delivered);
    assert_eq!(order.delivered_status, Some(ResultStatus::Completed));

    // Only the refusal has an item of its own.
    let items = stack.order_items(&order_id, "HISTORY#ATTEMPT#").await;
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["outcome"], AttributeValue::S("FAILED".into()));
}

#[tokio::test]
async fn late_in_progress_never_overwrites_completed() {
    let stack = Stack::connect().await;
    let (company, order_id) = sr_order(&stack, "reorder").await;
    let v1 = store_result(&stack, &company, &order_id, 0, ResultStatus::InProgress, 10).await;
    let v2 = store_result(&stack, &company, &order_id, v1, ResultStatus::Completed, 90).await;
    let publisher = publisher(&stack);
    // Version 2 arrives first, then the stale version 1 and a duplicate of version 2.
    assert_eq!(
        publisher
            .process(&message(&result_message(&company, &order_id, v2)))
            .await,
        Outcome::Done
    );
    assert_eq!(
        publisher
            .process(&message(&result_message(&company, &order_id, v1)))
            .await,
        Outcome::Done
    );
    assert_eq!(
        publisher
            .process(&message(&result_message(&company, &order_id, v2)))
            .await,
        Outcome::Done
    );
    let sr = stack.sim.order(&order_id).await.unwrap();
    assert_eq!(sr["result"]["status"], "COMPLETED");
    assert!(
        sr["patches"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["body"]["status"] == "COMPLETED"),
        "{sr}"
    );
}

#[tokio::test]
async fn sr_outage_is_retried_and_then_delivered() {
    let stack = Stack::connect().await;
    let (company, order_id) = sr_order(&stack, "outage").await;
    let v = store_result(&stack, &company, &order_id, 0, ResultStatus::Completed, 55).await;
    stack.sim.inject_fault(json!({"path_contains": format!("/orders/{order_id}/results"), "status": 503, "count": 1})).await;
    let publisher = publisher(&stack);
    let body = result_message(&company, &order_id, v);
    assert_eq!(publisher.process(&message(&body)).await, Outcome::RETRY);
    let order = stack.stored_order(&order_id).await;
    assert_eq!(order.delivery_state, DeliveryState::Retrying);
    assert_eq!(order.deliveries[0].sr_status_code, Some(503));
    // SQS redelivers the same message.
    assert_eq!(publisher.process(&message(&body)).await, Outcome::Done);
    assert_eq!(
        stack.sim.order(&order_id).await.unwrap()["result"]["status"],
        "COMPLETED"
    );
}

#[tokio::test]
async fn sr_refusal_is_recorded_as_failed_and_not_retried_forever() {
    let stack = Stack::connect().await;
    let company = stack.new_company("refused").await;
    stack.put_catalog(&company, demo_catalog()).await;
    // An order SR does not know: SR answers 404.
    let token = stack.access_token(&company).await;
    let (order_id, body) = connector_tests::order_body(&stack, &company, "culture-fit");
    assert_eq!(stack.create_order(&token, &body).await.status(), 202);
    let v = store_result(&stack, &company, &order_id, 0, ResultStatus::Completed, 1).await;
    let outcome = publisher(&stack)
        .process(&message(&result_message(&company, &order_id, v)))
        .await;
    assert_eq!(outcome, Outcome::Done);
    let order = stack.stored_order(&order_id).await;
    assert_eq!(order.delivery_state, DeliveryState::Failed);
    assert_eq!(order.deliveries[0].sr_status_code, Some(404));
}

#[tokio::test]
async fn an_unreadable_message_is_retried_towards_the_dead_letter_queue() {
    let stack = Stack::connect().await;
    // The control in the same batch: a readable result is delivered, so the retry below is the
    // unreadable message's own, not a batch-wide one (a storage outage retries everything).
    let (company, order_id) = sr_order(&stack, "unreadable").await;
    let v = store_result(&stack, &company, &order_id, 0, ResultStatus::Completed, 7).await;
    let batch = [
        message("{not json"),
        message(&result_message(&company, &order_id, v)),
    ];
    let outcomes = publisher(&stack).process_batch(&batch).await;
    assert_eq!(outcomes, vec![Outcome::RETRY, Outcome::Done]);
    let sr = stack.sim.order(&order_id).await.unwrap();
    assert_eq!(sr["result"]["score"]["raw"], 7, "{sr}");
    assert_eq!(
        stack.stored_order(&order_id).await.delivery_state,
        DeliveryState::Delivered
    );
}

/// `n` orders SR placed for a new company, each with a stored COMPLETED result whose raw score is
/// its index, and the queue message of each.
async fn completed_results(
    stack: &Stack,
    label: &str,
    n: i64,
) -> (
    TestCompany,
    Vec<String>,
    Vec<aws_lambda_events::event::sqs::SqsMessage>,
) {
    let company = stack.new_company(label).await;
    stack.put_catalog(&company, demo_catalog()).await;
    let (mut order_ids, mut messages) = (Vec::new(), Vec::new());
    for raw in 0..n {
        let (order_id, call, _) = stack
            .sim
            .place_order(&company.company_id, "culture-fit")
            .await;
        assert_eq!(call.status, 202, "{:?}", call.body);
        let v = store_result(stack, &company, &order_id, 0, ResultStatus::Completed, raw).await;
        messages.push(message(&result_message(&company, &order_id, v)));
        order_ids.push(order_id);
    }
    (company, order_ids, messages)
}

#[tokio::test]
async fn a_batch_delivers_every_order_and_records_every_attempt() {
    let stack = Stack::connect().await;
    let (_, order_ids, messages) = completed_results(&stack, "batch", 6).await;
    let outcomes = publisher(&stack).process_batch(&messages).await;
    assert_eq!(outcomes, vec![Outcome::Done; 6]);
    for (raw, order_id) in order_ids.iter().enumerate() {
        let sr = stack.sim.order(order_id).await.unwrap();
        assert_eq!(sr["result"]["score"]["raw"], raw, "{sr}");
        let order = stack.stored_order(order_id).await;
        assert_eq!(order.delivery_state, DeliveryState::Delivered);
        assert_eq!(order.sent_version, 1);
        assert_eq!(order.deliveries.len(), 1);
    }
}

#[tokio::test]
async fn after_a_retry_the_rest_of_that_order_waits_while_other_orders_go_on() {
    let stack = Stack::connect().await;
    let (company, blocked) = sr_order(&stack, "fifo-block").await;
    let (other_order, call, _) = stack
        .sim
        .place_order(&company.company_id, "culture-fit")
        .await;
    assert_eq!(call.status, 202);
    let v = store_result(&stack, &company, &blocked, 0, ResultStatus::Completed, 40).await;
    let w = store_result(
        &stack,
        &company,
        &other_order,
        0,
        ResultStatus::Completed,
        41,
    )
    .await;
    stack
        .sim
        .inject_fault(json!({"path_contains": format!("/orders/{blocked}/results"), "status": 503, "count": 1}))
        .await;
    let first = message(&result_message(&company, &blocked, v));
    let duplicate = message(&result_message(&company, &blocked, v));
    let other = message(&result_message(&company, &other_order, w));
    let outcomes = publisher(&stack)
        .process_batch(&[first, other, duplicate])
        .await;
    assert!(outcomes[0].is_retry(), "{outcomes:?}");
    assert_eq!(outcomes[1], Outcome::Done);
    // Same FIFO group as the failed message: not sent, retried behind it.
    assert!(outcomes[2].is_retry(), "{outcomes:?}");
    let patches = stack
        .sim
        .requests(&format!("/orders/{blocked}/results"))
        .await;
    assert_eq!(
        patches.len(),
        1,
        "only the failed attempt reached SR: {patches:?}"
    );
}

#[tokio::test]
async fn a_429_is_retried_after_srs_retry_after_and_holds_back_the_shared_schedule() {
    let stack = Stack::connect().await;
    let (company, order_id) = sr_order(&stack, "throttled").await;
    let v = store_result(&stack, &company, &order_id, 0, ResultStatus::Completed, 12).await;
    stack
        .sim
        .inject_fault(json!({"path_contains": format!("/orders/{order_id}/results"), "status": 429, "count": 1, "retry_after_secs": 7}))
        .await;
    let publisher = publisher(&stack);
    let before = connector::pacing::now_ms();
    let outcome = publisher
        .process(&message(&result_message(&company, &order_id, v)))
        .await;
    assert_eq!(
        outcome,
        Outcome::Retry {
            after: Some(std::time::Duration::from_secs(7))
        }
    );
    let order = stack.stored_order(&order_id).await;
    assert_eq!(order.delivery_state, DeliveryState::Retrying);
    assert_eq!(order.deliveries[0].sr_status_code, Some(429));
    // Every other publisher instance now gets its next slot for this company after SR's reset.
    let pacer = connector::pacing::Pacer::new(stack.store.clone(), 10);
    let slots = pacer.reserve(&company.company_id, 1).await.unwrap();
    assert!(
        slots.start_ms >= before + 7_000,
        "next slot {} is before the Retry-After window ending {}",
        slots.start_ms,
        before + 7_000
    );
    // That instance learnt of the 429 from the schedule's item: its next slots, and every
    // instance's, are spaced at the careful margin for the next quarter of an hour.
    assert_eq!(slots.interval, pacer.interval());
    let next = pacer.reserve(&company.company_id, 2).await.unwrap();
    assert_eq!(next.interval, pacer.careful_interval());
    assert!(next.interval > pacer.interval());
    let (_, careful_until) = stack.pacing_schedule(&company.company_id).await;
    let quarter = connector::pacing::CAREFUL_FOR.as_millis() as u64;
    assert!(
        (before + quarter..=connector::pacing::now_ms() + quarter).contains(&careful_until),
        "careful until {careful_until}"
    );
}

#[tokio::test]
async fn paced_deliveries_stay_under_srs_rate_limit() {
    let stack = Stack::connect().await;
    let (_, order_ids, messages) = completed_results(&stack, "paced", 25).await;
    // Two "instances" deliver concurrently, as Lambda runs them; the limit applies to each
    // credential, so the simulator counts this company's calls only.
    let (a, b) = (publisher(&stack), publisher(&stack));
    let _limit = connector_tests::pipeline::RateLimit::set(&stack, 10, 8).await;
    let (mut left, mut right) = (messages[..13].to_vec(), messages[13..].to_vec());
    // A message SR throttled comes back after its `Retry-After`, as SQS would redeliver it.
    for _ in 0..5 {
        if left.is_empty() && right.is_empty() {
            break;
        }
        let (x, y) = tokio::join!(a.process_batch(&left), b.process_batch(&right));
        let wait = x
            .iter()
            .chain(&y)
            .filter_map(|o| match o {
                Outcome::Retry { after } => Some(after.unwrap_or_default()),
                Outcome::Done => None,
            })
            .max();
        left = retried(left, &x);
        right = retried(right, &y);
        if let Some(wait) = wait {
            tokio::time::sleep(wait).await;
        }
    }
    assert!(left.is_empty() && right.is_empty(), "not all delivered");
    let throttled = stack
        .sim
        .requests("/results")
        .await
        .iter()
        .filter(|r| {
            let path = r["path"].as_str().unwrap_or_default();
            r["status"] == 429 && order_ids.iter().any(|id| path.contains(id.as_str()))
        })
        .count();
    // Slots are spaced 0.75% under the limit (3% after a 429); SR's (the simulator's) fixed
    // one-second windows can still catch an 11th call when network delays differ, so at most a
    // rare 429 is expected.
    assert!(
        throttled <= 2,
        "SR answered 429 {throttled} times to 25 paced calls"
    );
}

/// The messages whose outcome was a retry.
fn retried(
    messages: Vec<aws_lambda_events::event::sqs::SqsMessage>,
    outcomes: &[Outcome],
) -> Vec<aws_lambda_events::event::sqs::SqsMessage> {
    messages
        .into_iter()
        .zip(outcomes)
        .filter(|(_, o)| o.is_retry())
        .map(|(m, _)| m)
        .collect()
}
