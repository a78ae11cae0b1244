//! Driving the result publisher in-process, as the SQS event source would.

use aws_lambda_events::event::sqs::SqsMessage;
use connector::notifications::Notifications;
use connector::publisher::ResultPublisher;
use connector::queue::QueueMessage;

use crate::TestCompany;

/// The results queue's `maxReceiveCount` (template.yaml), which `ResultPublisher` reads as
/// `MAX_RECEIVE_COUNT` (default 20): a retry on this receive moves the message to the DLQ.
pub const LAST_RECEIVE: u32 = 20;

/// An SQS record as Lambda delivers it, on its first receive.
pub fn sqs_message(body: &str) -> SqsMessage {
    sqs_message_received(body, 1)
}

/// An SQS record as Lambda delivers it on its `receive_count`th receive.
pub fn sqs_message_received(body: &str, receive_count: u32) -> SqsMessage {
    serde_json::from_value(serde_json::json!({
        "messageId": crate::uuid(),
        "receiptHandle": "rh",
        "body": body,
        "attributes": {"ApproximateReceiveCount": receive_count.to_string()},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "awsRegion": "us-east-1"
    }))
    .expect("a well-formed SQS record")
}

/// The result publisher in-process against the stack, recording and queueing its events
/// through `notifications` (e.g. in another webhook format than the stack's).
pub fn publisher(stack: &crate::Stack, notifications: Notifications) -> ResultPublisher {
    ResultPublisher::new(
        stack.store.clone(),
        stack.secrets.clone(),
        connector::sr::SrClient::new(stack.config.sr.clone()),
    )
    .with_notifications(notifications)
}

/// Takes every message off `queue_url` (a queue of the test's own): their bodies.
pub async fn drain(stack: &crate::Stack, queue_url: &str) -> Vec<String> {
    let mut bodies = Vec::new();
    loop {
        let received = stack
            .aws
            .sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(0)
            .send()
            .await
            .unwrap();
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            return bodies;
        }
        for message in messages {
            stack
                .aws
                .sqs
                .delete_message()
                .queue_url(queue_url)
                .receipt_handle(message.receipt_handle.unwrap())
                .send()
                .await
                .unwrap();
            bodies.push(message.body.unwrap());
        }
    }
}

/// "Deliver result `version` of `order_id`", as the vendor API queues it.
pub fn result_message(company: &TestCompany, order_id: &str, version: u64) -> SqsMessage {
    let body = serde_json::to_string(&QueueMessage::Result {
        order_id: order_id.into(),
        company_id: company.company_id.clone(),
        version,
    })
    .expect("queue messages serialize");
    sqs_message(&body)
}

/// A FIFO queue like the results queue that no poller reads. Tests that drive the publisher
/// themselves send results there, so the running stack's publisher (fed by the SQS poller) cannot
/// take their messages or consume their injected faults first.
pub async fn unpolled_results_queue(stack: &crate::Stack) -> connector::queue::ResultsQueue {
    let url = stack
        .aws
        .sqs
        .create_queue()
        .queue_name(format!("{}.fifo", crate::unique("unpolled-results")))
        .attributes(aws_sdk_sqs::types::QueueAttributeName::FifoQueue, "true")
        .send()
        .await
        .expect("moto creates the queue")
        .queue_url
        .expect("a created queue has a URL");
    connector::queue::ResultsQueue::new(stack.aws.sqs.clone(), url)
}

/// The SQS event Lambda's event source mapping builds from messages it received from `queue_arn`.
pub fn sqs_event(received: &[aws_sdk_sqs::types::Message], queue_arn: &str) -> serde_json::Value {
    let records: Vec<serde_json::Value> = received
        .iter()
        .map(|m| {
            let attributes: serde_json::Map<String, serde_json::Value> = m
                .attributes()
                .map(|a| {
                    a.iter()
                        .map(|(k, v)| (k.as_str().to_owned(), serde_json::json!(v)))
                        .collect()
                })
                .unwrap_or_default();
            serde_json::json!({
                "messageId": m.message_id(),
                "receiptHandle": m.receipt_handle(),
                "body": m.body(),
                "attributes": attributes,
                "messageAttributes": {},
                "md5OfBody": m.md5_of_body(),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "us-east-1"
            })
        })
        .collect();
    serde_json::json!({ "Records": records })
}

/// Stores result version `expected + 1` with `status` directly in the table, around the vendor
/// API (as an older connector version or an operator's tool could), without queueing it.
pub async fn store_result_directly(
    stack: &crate::Stack,
    company: &TestCompany,
    order_id: &str,
    expected: u64,
    status: connector::sr::ResultStatus,
) -> connector::orders::Order {
    try_store_result_directly(stack, company, order_id, expected, status)
        .await
        .expect("the result is stored")
}

/// [`store_result_directly`], answering the store's error (e.g. `Conflict` when `expected` is
/// not the order's version any more).
pub async fn try_store_result_directly(
    stack: &crate::Stack,
    company: &TestCompany,
    order_id: &str,
    expected: u64,
    status: connector::sr::ResultStatus,
) -> Result<connector::orders::Order, connector::store::StoreError> {
    let result = connector::sr::PackageResult {
        status: Some(status),
        ..Default::default()
    };
    let mut order = stack.stored_order(order_id).await;
    assert_eq!(order.integration_id, company.integration_id);
    order.result_version = expected;
    stack
        .store
        .write_result(connector::store::ResultWrite {
            order: &order,
            result: &result,
            submission: &connector::orders::Submission {
                version: Some(expected + 1),
                submitted_at: chrono::Utc::now(),
                status,
                vendor_body: serde_json::json!({"status": status.as_str()}),
                note: None,
                revision_of: None,
            },
            request_sha256: None,
            files: &[],
            now: chrono::Utc::now(),
        })
        .await
}
