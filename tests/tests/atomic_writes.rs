//! One logical change, one write: when DynamoDB fails a request half-way through an operation,
//! the caller is told to retry and finds nothing half-written. The failures are injected into
//! the stack's own DynamoDB client (`connector_tests::faults`), against the real moto.

use base64::Engine as _;
use chrono::Utc;
use connector::api::vendor::VendorApi;
use connector::orders::Submission;
use connector::queue::{QueueMessage, ResultsQueue};
use connector::sr::{PackageResult, ResultStatus};
use connector::store::{ResultWrite, StoreError};
use connector_tests::publishing::unpolled_results_queue;
use connector_tests::scenario::demo_catalog;
use connector_tests::{json_body, request, Stack};
use lambda_http::http::Method;
use serde_json::{json, Value};

#[tokio::test]
async fn a_result_whose_history_cannot_be_written_is_not_stored_and_its_retry_makes_one_version() {
    let stack = Stack::connect().await;
    let company = stack.new_company("atomic-result").await;
    stack.put_catalog(&company, demo_catalog()).await;
    let (order_id, placed, _) = stack
        .sim
        .place_order(&company.company_id, "culture-fit")
        .await;
    assert_eq!(placed.status, 202, "{:?}", placed.body);
    let path = format!("/assessment/orders/{order_id}/result");
    let body = json!({"status": "COMPLETED", "score": 87.5, "max_score": 100});

    // DynamoDB fails the request that writes the submission's history item.
    let failing = VendorApi::new(
        stack.store_failing_requests_carrying("HISTORY#SUBMISSION#"),
        ResultsQueue::new(stack.aws.sqs.clone(), &stack.config.results_queue_url),
        stack.vendor_key_verifier(),
    );
    let answer = failing
        .handle(request(
            Method::PUT,
            &path,
            &[
                ("authorization", &format!("Bearer {}", stack.vendor_api_key)),
                ("x-integration-id", &company.integration_id),
            ],
            body.to_string(),
        ))
        .await
        .unwrap();
    assert_eq!(answer.status(), 503, "{:?}", answer.body());

    // Told to retry, the vendor finds the order as it was: no version without its submission.
    let order = stack
        .store
        .get_order_with_history(&order_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        order.result_version, 0,
        "a version was stored without its history"
    );
    assert!(order.result.is_none() && order.submissions.is_empty());

    // The retry stores exactly one version, with its submission.
    let retried = stack
        .vendor_call(Method::PUT, &path, &company.integration_id, Some(body))
        .await;
    assert_eq!(retried.status(), 200, "{:?}", retried.body());
    assert_eq!(json_body(&retried)["data"]["result_version"], 1);
    let order = stack
        .store
        .get_order_with_history(&order_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(order.result_version, 1);
    let versions: Vec<Option<u64>> = order.submissions.iter().map(|s| s.version).collect();
    assert_eq!(versions, [Some(1)]);
}

#[tokio::test]
async fn a_result_that_is_not_stored_leaves_none_of_its_files_and_keeps_the_earlier_ones() {
    let stack = Stack::connect().await;
    let company = stack.new_company("atomic-files").await;
    stack.put_catalog(&company, demo_catalog()).await;
    let (order_id, placed, _) = stack
        .sim
        .place_order(&company.company_id, "culture-fit")
        .await;
    assert_eq!(placed.status, 202, "{:?}", placed.body);
    let path = format!("/assessment/orders/{order_id}/result");
    let with_file = |status: &str, text: &str| {
        json!({"status": status, "attachments": [{"name": "notes.txt", "content_type": "text/plain",
               "data": base64::engine::general_purpose::STANDARD.encode(text)}]})
    };
    let first = stack
        .vendor_call(
            Method::PUT,
            &path,
            &company.integration_id,
            Some(with_file("OPEN", "first")),
        )
        .await;
    assert_eq!(first.status(), 200, "{:?}", first.body());

    // The next submission replaces the file, but DynamoDB fails the result's write.
    let failing = VendorApi::new(
        stack.store_failing_requests_carrying("HISTORY#SUBMISSION#"),
        ResultsQueue::new(stack.aws.sqs.clone(), &stack.config.results_queue_url),
        stack.vendor_key_verifier(),
    );
    let answer = failing
        .handle(request(
            Method::PUT,
            &path,
            &[
                ("authorization", &format!("Bearer {}", stack.vendor_api_key)),
                ("x-integration-id", &company.integration_id),
            ],
            with_file("COMPLETED", "second, never stored").to_string(),
        ))
        .await
        .unwrap();
    assert_eq!(answer.status(), 503, "{:?}", answer.body());

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
    let company = stack.new_company("atomic-queue").await;
    stack.put_catalog(&company, demo_catalog()).await;
    let (order_id, placed, _) = stack
        .sim
        .place_order(&company.company_id, "culture-fit")
        .await;
    assert_eq!(placed.status, 202, "{:?}", placed.body);
    let path = format!("/assessment/orders/{order_id}/result");
    let body = json!({"status": "COMPLETED", "score": 87.5, "max_score": 100});
    let queue = unpolled_results_queue(&stack).await;
    let put = |api: VendorApi, body: Value| {
        let path = path.clone();
        let integration = company.integration_id.clone();
        let key = stack.vendor_api_key.clone();
        async move {
            let answer = api
                .handle(request(
                    Method::PUT,
                    &path,
                    &[
                        ("authorization", &format!("Bearer {key}")),
                        ("x-integration-id", &integration),
                    ],
                    body.to_string(),
                ))
                .await
                .unwrap();
            (answer.status().as_u16(), json_body(&answer))
        }
    };

    // The version is stored, then SQS fails the message: the vendor is told to retry.
    let unqueued = VendorApi::new(
        stack.store.clone(),
        ResultsQueue::new(stack.sqs_failing_requests_carrying(&order_id), queue.url()),
        stack.vendor_key_verifier(),
    );
    let (status, answer) = put(unqueued, body.clone()).await;
    assert_eq!(status, 503, "{answer}");
    assert_eq!(stack.stored_order(&order_id).await.result_version, 1);
    assert!(queued_versions(&stack, queue.url()).await.is_empty());

    // The retry (the same PUT) queues that version instead of storing a second one.
    let api = || {
        VendorApi::new(
            stack.store.clone(),
            queue.clone(),
            stack.vendor_key_verifier(),
        )
    };
    let (status, answer) = put(api(), body.clone()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"]["result_version"], 1, "{answer}");
    assert_eq!(answer["data"]["revision_of"], Value::Null, "{answer}");
    assert_eq!(queued_versions(&stack, queue.url()).await, [1]);
    let order = stack
        .store
        .get_order_with_history(&order_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(order.result_version, 1);
    assert_eq!(order.submissions.len(), 1);

    // A different submission is a new version, as always.
    let rescored = json!({"status": "COMPLETED", "score": 90, "max_score": 100});
    let (status, answer) = put(api(), rescored).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"]["result_version"], 2, "{answer}");
    assert_eq!(answer["data"]["revision_of"], 1, "{answer}");
}

/// The result versions queued on `queue_url` (a queue of the test's own), taken off it.
async fn queued_versions(stack: &Stack, queue_url: &str) -> Vec<u64> {
    let received = stack
        .aws
        .sqs
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(10)
        .wait_time_seconds(1)
        .send()
        .await
        .unwrap();
    received
        .messages
        .unwrap_or_default()
        .iter()
        .map(
            |m| match serde_json::from_str(m.body.as_deref().unwrap()).unwrap() {
                QueueMessage::Result { version, .. } => version,
                other => panic!("{other:?}"),
            },
        )
        .collect()
}

#[tokio::test]
async fn a_submission_that_lost_the_race_for_its_version_is_a_conflict_and_writes_nothing() {
    let stack = Stack::connect().await;
    let company = stack.new_company("atomic-race").await;
    stack.put_catalog(&company, demo_catalog()).await;
    let (order_id, placed, _) = stack
        .sim
        .place_order(&company.company_id, "culture-fit")
        .await;
    assert_eq!(placed.status, 202, "{:?}", placed.body);
    // Two submissions read the order at version 0; the first to write takes version 1.
    let read = stack.stored_order(&order_id).await;
    let write = |status: ResultStatus| {
        let result = PackageResult {
            status: Some(status),
            ..Default::default()
        };
        let submission = Submission {
            version: Some(1),
            submitted_at: Utc::now(),
            status,
            vendor_body: json!({"status": status.as_str()}),
            note: None,
            revision_of: None,
        };
        (result, submission)
    };
    let (result, submission) = write(ResultStatus::InProgress);
    let first = stack
        .store
        .write_result(ResultWrite {
            order: &read,
            result: &result,
            submission: &submission,
            request_sha256: None,
            files: &[],
            now: Utc::now(),
        })
        .await
        .unwrap();
    assert_eq!(first.result_version, 1);
    let (result, submission) = write(ResultStatus::Completed);
    let second = stack
        .store
        .write_result(ResultWrite {
            order: &read,
            result: &result,
            submission: &submission,
            request_sha256: None,
            files: &[],
            now: Utc::now(),
        })
        .await;
    assert!(matches!(second, Err(StoreError::Conflict)), "{second:?}");

    // The loser wrote nothing: version 1 is the first submission's, with its one history item.
    let order = stack
        .store
        .get_order_with_history(&order_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(order.result_version, 1);
    assert_eq!(order.result_status(), Some(ResultStatus::InProgress));
    let statuses: Vec<ResultStatus> = order.submissions.iter().map(|s| s.status).collect();
    assert_eq!(statuses, [ResultStatus::InProgress]);
}
