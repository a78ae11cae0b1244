//! One logical change, one write: when AWS fails a request half-way through an operation, the
//! caller is told to retry and finds nothing half-written, and its retry does the change once.
//! The failures are injected into the stack's own DynamoDB and SQS clients
//! (`connector_tests::faults`), against the real moto.

use base64::Engine as _;
use connector::api::vendor::VendorApi;
use connector::orders::Order;
use connector::queue::{QueueMessage, ResultsQueue};
use connector::sr::ResultStatus;
use connector::store::{Store, StoreError};
use connector_tests::publishing::{
    drain, store_result_directly, try_store_result_directly, unpolled_results_queue,
};
use connector_tests::scenario::demo_catalog;
use connector_tests::{json_body, request, Stack, TestCompany};
use lambda_http::http::Method;
use serde_json::{json, Value};

/// A connected company with the demo catalog and an order SR (the simulator) placed.
async fn placed_order(stack: &Stack, label: &str) -> (TestCompany, String) {
    let company = stack.new_company(label).await;
    stack.put_catalog(&company, demo_catalog()).await;
    let (order_id, placed, _) = stack
        .sim
        .place_order(&company.company_id, "culture-fit")
        .await;
    assert_eq!(placed.status, 202, "{:?}", placed.body);
    (company, order_id)
}

/// The vendor API in-process on `store` and `queue`.
fn vendor_api(stack: &Stack, store: Store, queue: ResultsQueue) -> VendorApi {
    VendorApi::new(store, queue, stack.vendor_key_verifier())
}

/// `PUT /assessment/orders/{id}/result` through `api`: the status and the JSON answer.
async fn put_result(
    stack: &Stack,
    api: &VendorApi,
    company: &TestCompany,
    order_id: &str,
    body: &Value,
) -> (u16, Value) {
    let answer = api
        .handle(request(
            Method::PUT,
            &format!("/assessment/orders/{order_id}/result"),
            &[
                ("authorization", &format!("Bearer {}", stack.vendor_api_key)),
                ("x-integration-id", &company.integration_id),
            ],
            body.to_string(),
        ))
        .await
        .unwrap();
    (answer.status().as_u16(), json_body(&answer))
}

/// The stack's results queue (its poller delivers what lands there).
fn results_queue(stack: &Stack) -> ResultsQueue {
    ResultsQueue::new(stack.aws.sqs.clone(), &stack.config.results_queue_url)
}

#[tokio::test]
async fn a_result_whose_history_cannot_be_written_is_not_stored_and_its_retry_makes_one_version() {
    let stack = Stack::connect().await;
    let (company, order_id) = placed_order(&stack, "atomic-result").await;
    let body = json!({"status": "COMPLETED", "score": 87.5, "max_score": 100});

    // DynamoDB fails the request that writes the submission's history item.
    let failing = vendor_api(
        &stack,
        stack.store_failing_requests_carrying("HISTORY#SUBMISSION#"),
        results_queue(&stack),
    );
    let (status, answer) = put_result(&stack, &failing, &company, &order_id, &body).await;
    assert_eq!(status, 503, "{answer}");

    // Told to retry, the vendor finds the order as it was: no version without its submission.
    let order = with_history(&stack, &order_id).await;
    assert_eq!(
        order.result_version, 0,
        "a version was stored without its history"
    );
    assert!(order.result.is_none() && order.submissions.is_empty());

    // The retry stores exactly one version, with its submission.
    let api = vendor_api(&stack, stack.store.clone(), results_queue(&stack));
    let (status, answer) = put_result(&stack, &api, &company, &order_id, &body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"]["result_version"], 1);
    let order = with_history(&stack, &order_id).await;
    assert_eq!(order.result_version, 1);
    let versions: Vec<Option<u64>> = order.submissions.iter().map(|s| s.version).collect();
    assert_eq!(versions, [Some(1)]);
}

#[tokio::test]
async fn a_result_that_is_not_stored_leaves_none_of_its_files_and_keeps_the_earlier_ones() {
    let stack = Stack::connect().await;
    let (company, order_id) = placed_order(&stack, "atomic-files").await;
    let with_file = |status: &str, text: &str| {
        json!({"status": status, "attachments": [{"name": "notes.txt", "content_type": "text/plain",
               "data": base64::engine::general_purpose::STANDARD.encode(text)}]})
    };
    let api = vendor_api(&stack, stack.store.clone(), results_queue(&stack));
    let first = with_file("OPEN", "first");
    let (status, answer) = put_result(&stack, &api, &company, &order_id, &first).await;
    assert_eq!(status, 200, "{answer}");

    // The next submission replaces the file, but DynamoDB fails the result's write.
    let failing = vendor_api(
        &stack,
        stack.store_failing_requests_carrying("HISTORY#SUBMISSION#"),
        results_queue(&stack),
    );
    let second = with_file("COMPLETED", "second, never stored");
    let (status, answer) = put_result(&stack, &failing, &company, &order_id, &second).await;
    assert_eq!(status, 503, "{answer}");

    // The file is still the first submission's, with its bytes: nothing of the second is there.
    let files = stack.store.order_files(&order_id, true).await.unwrap();
    assert_eq!(files.len(), 1);
    let file = &files[0];
    assert_eq!(
        file.data.as_deref(),
        Some(&b"first"[..]),
        "{:?}",
        file.record
    );
    assert_eq!(stack.stored_order(&order_id).await.result_version, 1);
}

#[tokio::test]
async fn a_result_stored_but_not_queued_is_queued_by_the_vendors_retry_and_not_stored_twice() {
    let stack = Stack::connect().await;
    let (company, order_id) = placed_order(&stack, "atomic-queue").await;
    let body = json!({"status": "COMPLETED", "score": 87.5, "max_score": 100});
    let queue = unpolled_results_queue(&stack).await;

    // The version is stored, then SQS fails the message: the vendor is told to retry.
    let unqueued = vendor_api(
        &stack,
        stack.store.clone(),
        ResultsQueue::new(stack.sqs_failing_requests_carrying(&order_id), queue.url()),
    );
    let (status, answer) = put_result(&stack, &unqueued, &company, &order_id, &body).await;
    assert_eq!(status, 503, "{answer}");
    assert_eq!(stack.stored_order(&order_id).await.result_version, 1);
    assert!(queued_versions(&stack, queue.url()).await.is_empty());

    // The retry (the same PUT) queues that version instead of storing a second one.
    let api = vendor_api(&stack, stack.store.clone(), queue.clone());
    let (status, answer) = put_result(&stack, &api, &company, &order_id, &body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"]["result_version"], 1, "{answer}");
    assert_eq!(answer["data"]["revision_of"], Value::Null, "{answer}");
    assert_eq!(queued_versions(&stack, queue.url()).await, [1]);
    let order = with_history(&stack, &order_id).await;
    assert_eq!(order.result_version, 1);
    assert_eq!(order.submissions.len(), 1);

    // A different submission is a new version, as always.
    let rescored = json!({"status": "COMPLETED", "score": 90, "max_score": 100});
    let (status, answer) = put_result(&stack, &api, &company, &order_id, &rescored).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"]["result_version"], 2, "{answer}");
    assert_eq!(answer["data"]["revision_of"], 1, "{answer}");
}

/// The result versions queued on `queue_url` (a queue of the test's own), taken off it.
async fn queued_versions(stack: &Stack, queue_url: &str) -> Vec<u64> {
    drain(stack, queue_url)
        .await
        .iter()
        .map(|body| match serde_json::from_str(body).unwrap() {
            QueueMessage::Result { version, .. } => version,
            other => panic!("{other:?}"),
        })
        .collect()
}

/// The order with its submissions and delivery attempts.
async fn with_history(stack: &Stack, order_id: &str) -> Order {
    stack
        .store
        .get_order_with_history(order_id)
        .await
        .unwrap()
        .expect("the order exists")
}

#[tokio::test]
async fn a_submission_that_lost_the_race_for_its_version_is_a_conflict_and_writes_nothing() {
    let stack = Stack::connect().await;
    let (company, order_id) = placed_order(&stack, "atomic-race").await;
    // Two submissions read the order at version 0; the first to write takes version 1.
    let first =
        store_result_directly(&stack, &company, &order_id, 0, ResultStatus::InProgress).await;
    assert_eq!(first.result_version, 1);
    let second =
        try_store_result_directly(&stack, &company, &order_id, 0, ResultStatus::Completed).await;
    assert!(matches!(second, Err(StoreError::Conflict)), "{second:?}");

    // The loser wrote nothing: version 1 is the first submission's, with its one history item.
    let order = with_history(&stack, &order_id).await;
    assert_eq!(order.result_version, 1);
    assert_eq!(order.result_status(), Some(ResultStatus::InProgress));
    let statuses: Vec<ResultStatus> = order.submissions.iter().map(|s| s.status).collect();
    assert_eq!(statuses, [ResultStatus::InProgress]);
}
