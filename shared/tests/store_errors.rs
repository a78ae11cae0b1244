//! How the store reads DynamoDB's answers, in process and without the stack: the real SDK client
//! is handed canned HTTP answers in DynamoDB's wire format (status, `__type`, cancellation
//! reasons, unprocessed keys), and each test checks what the store made of them and what it sent.
//!
//! The answers are replayed by [`Canned`], a small `HttpConnector`, rather than by
//! `aws-smithy-mocks`: that crate needs `aws-smithy-http-client/test-util`, which turns on
//! serde_json's `preserve_order` in every `--workspace` build (cargo unifies features), so the
//! unit tests and clippy would see another `serde_json::Value` than the functions ship with. A
//! replay also runs the SDK's own deserializer on DynamoDB's error bodies, which a mock of the
//! operation's output skips.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::{Response, StatusCode};
use aws_smithy_types::body::SdkBody;
use chrono::{TimeZone, Utc};
use connector::orders::{DeliveryAttempt, DeliveryState, Order, Submission};
use connector::packages::Catalog;
use connector::sr::{PackageResult, ResultStatus};
use connector::store::{AttemptRecorded, DeliveryRecord, ResultWrite, Store, StoreError};
use serde_json::{json, Value};

const TABLE: &str = "connector";

/// DynamoDB's answers, replayed in order; every request is recorded as (operation, JSON body).
#[derive(Debug, Clone, Default)]
struct Canned {
    answers: Arc<Mutex<VecDeque<(u16, Value)>>>,
    requests: Arc<Mutex<Vec<(String, Value)>>>,
}

impl Canned {
    fn answering(answers: impl IntoIterator<Item = (u16, Value)>) -> Self {
        let canned = Self::default();
        canned.answers.lock().unwrap().extend(answers);
        canned
    }

    /// A store whose DynamoDB client talks to these answers only. The SDK's own retries stay on
    /// (3 attempts, as deployed), with a 1 ms backoff so the tests do not wait.
    fn store(&self) -> Store {
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "canned"))
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(3)
                    .with_initial_backoff(Duration::from_millis(1))
                    .with_max_backoff(Duration::from_millis(1)),
            )
            .http_client(self.clone())
            .build();
        Store::new(aws_sdk_dynamodb::Client::from_conf(config), TABLE)
    }

    /// The operations sent, in order (`PutItem`, `BatchGetItem`, …).
    fn operations(&self) -> Vec<String> {
        let requests = self.requests.lock().unwrap();
        requests.iter().map(|(op, _)| op.clone()).collect()
    }

    fn request(&self, index: usize) -> Value {
        self.requests.lock().unwrap()[index].1.clone()
    }
}

impl HttpConnector for Canned {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let operation = request
            .headers()
            .get("x-amz-target")
            .and_then(|t| t.split('.').nth(1))
            .unwrap_or_default()
            .to_owned();
        let body = request
            .body()
            .bytes()
            .and_then(|b| serde_json::from_slice(b).ok())
            .unwrap_or(Value::Null);
        self.requests
            .lock()
            .unwrap()
            .push((operation.clone(), body));
        let (status, answer) = self
            .answers
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| panic!("no canned answer left for {operation}"));
        let mut response = Response::new(
            StatusCode::try_from(status).expect("a valid status"),
            SdkBody::from(answer.to_string()),
        );
        response
            .headers_mut()
            .insert("content-type", "application/x-amz-json-1.0");
        HttpConnectorFuture::ready(Ok(response))
    }
}

impl HttpClient for Canned {
    fn http_connector(
        &self,
        _: &HttpConnectorSettings,
        _: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

/// A DynamoDB error answer: `__type` names the exception.
fn error(exception: &str, message: &str) -> (u16, Value) {
    (
        400,
        json!({
            "__type": format!("com.amazonaws.dynamodb.v20120810#{exception}"),
            "message": message,
        }),
    )
}

fn ok(body: Value) -> (u16, Value) {
    (200, body)
}

fn condition_failed() -> (u16, Value) {
    error(
        "ConditionalCheckFailedException",
        "The conditional request failed",
    )
}

fn throttled() -> (u16, Value) {
    error(
        "ProvisionedThroughputExceededException",
        "The level of configured provisioned throughput for the table was exceeded.",
    )
}

/// `TransactWriteItems` cancelled with one reason per item (`"None"`: that item was fine).
fn cancelled(reasons: &[(&str, &str)]) -> (u16, Value) {
    let codes: Vec<&str> = reasons.iter().map(|(code, _)| *code).collect();
    let reasons: Vec<Value> = reasons
        .iter()
        .map(|(code, message)| match *message {
            "" => json!({"Code": code}),
            message => json!({"Code": code, "Message": message}),
        })
        .collect();
    (
        400,
        json!({
            "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
            "message": format!(
                "Transaction cancelled, please refer cancellation reasons for specific reasons [{}]",
                codes.join(", ")
            ),
            "CancellationReasons": reasons,
        }),
    )
}

fn key(pk: &str, sk: &str) -> Value {
    json!({"pk": {"S": pk}, "sk": {"S": sk}})
}

fn order() -> Order {
    serde_json::from_value(json!({
        "order_id": "o-1",
        "company_id": "c-1",
        "integration_id": "i-1",
        "package": {"id": "p-1", "name": "Java", "kind": "SKILL_TEST", "assessment_ids": []},
        "result_callback_url": "https://api.smartrecruiters.com/assessment-api/v202010/orders/o-1/results",
        "candidate": {"id": "cand-1", "firstName": "Ada", "lastName": "Lovelace"},
        "job": {"id": "job-1"},
        "requester": null,
        "request_fingerprint": "f",
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
        "delivery_state": "QUEUED",
    }))
    .expect("a valid order")
}

/// Stores a COMPLETED result onto [`order`] against the canned answers.
async fn write_result(canned: &Canned) -> Result<Order, StoreError> {
    let now = Utc.with_ymd_and_hms(2026, 1, 2, 0, 0, 0).unwrap();
    let result = PackageResult {
        status: Some(ResultStatus::Completed),
        ..Default::default()
    };
    let submission = Submission {
        version: Some(1),
        submitted_at: now,
        status: ResultStatus::Completed,
        vendor_body: json!({"status": "COMPLETED"}),
        note: None,
        revision_of: None,
    };
    canned
        .store()
        .write_result(ResultWrite {
            order: &order(),
            result: &result,
            submission: &submission,
            request_sha256: None,
            files: &[],
            now,
        })
        .await
}

#[tokio::test]
async fn a_catalog_written_by_someone_else_first_is_a_conflict() {
    let canned = Canned::answering([cancelled(&[
        ("ConditionalCheckFailed", "The conditional request failed"),
        ("None", ""),
    ])]);
    let catalog = Catalog {
        integration_id: "i-1".into(),
        packages: BTreeMap::new(),
        version: 4,
        updated_at: Utc::now(),
    };
    let outcome = canned.store().put_catalog(&catalog).await;
    assert!(matches!(outcome, Err(StoreError::Conflict)), "{outcome:?}");
    // The optimistic lock: written only over the version it was read at, with the version item
    // orders check, in one transaction.
    let request = canned.request(0);
    assert_eq!(canned.operations(), ["TransactWriteItems"]);
    let items = request["TransactItems"].as_array().unwrap();
    assert_eq!(
        items[0]["Put"]["ExpressionAttributeValues"][":previous"],
        json!({"N": "3"})
    );
    assert_eq!(
        items[1]["Put"]["Item"]["sk"],
        json!({"S": "CATALOGVERSION"})
    );
    assert_eq!(items[1]["Put"]["Item"]["version"], json!({"N": "4"}));
}

#[tokio::test]
async fn a_catalog_transaction_cancelled_for_another_reason_is_no_conflict() {
    let canned = Canned::answering([cancelled(&[
        (
            "ValidationError",
            "Item size has exceeded the maximum allowed size",
        ),
        ("None", ""),
    ])]);
    let catalog = Catalog {
        integration_id: "i-1".into(),
        packages: BTreeMap::new(),
        version: 1,
        updated_at: Utc::now(),
    };
    let outcome = canned.store().put_catalog(&catalog).await;
    assert!(
        matches!(outcome, Err(ref e) if !matches!(e, StoreError::Conflict)),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_connect_key_whose_condition_fails_is_refused_not_an_error() {
    let canned = Canned::answering([condition_failed()]);
    let claimed = canned
        .store()
        .claim_connect_key("digest", "c-1", "claim-1", Utc::now())
        .await;
    assert!(matches!(claimed, Ok(false)), "{claimed:?}");
    // Any other refusal is an error, not a `false` that would read as "already claimed".
    let canned = Canned::answering([error("ResourceNotFoundException", "no such table")]);
    let claimed = canned
        .store()
        .claim_connect_key("digest", "c-1", "claim-1", Utc::now())
        .await;
    assert!(
        matches!(&claimed, Err(StoreError::Service(m)) if m.contains("ResourceNotFoundException")),
        "{claimed:?}"
    );
}

#[tokio::test]
async fn a_result_transaction_that_lost_a_race_is_a_conflict() {
    for reasons in [
        [
            ("ConditionalCheckFailed", "The conditional request failed"),
            ("None", ""),
        ],
        [
            ("None", ""),
            ("TransactionConflict", "Transaction is ongoing for the item"),
        ],
    ] {
        let canned = Canned::answering([cancelled(&reasons)]);
        let written = write_result(&canned).await;
        assert!(
            matches!(written, Err(StoreError::Conflict)),
            "{reasons:?}: {written:?}"
        );
        assert_eq!(canned.operations(), ["TransactWriteItems"]);
    }
}

#[tokio::test]
async fn a_result_transaction_cancelled_for_another_reason_is_no_conflict() {
    // Too large: retrying the same write cannot help, and the vendor is told which part.
    let canned = Canned::answering([cancelled(&[
        ("None", ""),
        (
            "ValidationError",
            "Item size has exceeded the maximum allowed size",
        ),
    ])]);
    let written = write_result(&canned).await;
    assert!(
        matches!(written, Err(StoreError::TooLarge { what: "result" })),
        "{written:?}"
    );
    // Throttled inside the transaction: a service error (retried later), not a lost race that
    // would re-read and spin.
    let canned = Canned::answering([cancelled(&[
        ("ThrottlingError", "Throughput exceeds the current capacity"),
        ("None", ""),
    ])]);
    let written = write_result(&canned).await;
    assert!(
        matches!(written, Err(StoreError::Service(_))),
        "{written:?}"
    );
}

#[tokio::test]
async fn keys_batch_get_item_leaves_unprocessed_are_asked_for_again() {
    let canned = Canned::answering([
        ok(json!({
            "Responses": {TABLE: []},
            "UnprocessedKeys": {TABLE: {"Keys": [key("ORDER#o-2", "ORDER")], "ConsistentRead": true}},
        })),
        ok(json!({"Responses": {TABLE: []}, "UnprocessedKeys": {}})),
    ]);
    let orders = canned.store().get_orders(&["o-1", "o-2"]).await.unwrap();
    assert!(orders.is_empty());
    assert_eq!(canned.operations(), ["BatchGetItem", "BatchGetItem"]);
    // Each order is two items: the order and its state.
    assert_eq!(
        canned.request(0)["RequestItems"][TABLE]["Keys"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    // Only what was left, and still strongly consistent.
    assert_eq!(
        canned.request(1)["RequestItems"][TABLE],
        json!({"Keys": [key("ORDER#o-2", "ORDER")], "ConsistentRead": true})
    );
}

#[tokio::test]
async fn keys_left_unprocessed_three_times_are_a_service_error() {
    let unprocessed = ok(json!({
        "Responses": {TABLE: []},
        "UnprocessedKeys": {TABLE: {"Keys": [key("ORDER#o-1", "ORDER")], "ConsistentRead": true}},
    }));
    let canned = Canned::answering(vec![unprocessed; 3]);
    let orders = canned.store().get_orders(&["o-1"]).await;
    assert!(
        matches!(&orders, Err(StoreError::Service(m)) if m.contains("unprocessed")),
        "{orders:?}"
    );
    assert_eq!(canned.operations().len(), 3);
}

#[tokio::test]
async fn deletions_batch_write_item_leaves_unprocessed_are_sent_again() {
    let company = json!({
        "company_id": {"S": "c-1"},
        "integration_id": {"S": "i-1"},
        "status": {"S": "ACTIVE"},
        "client_id": {"S": "src_1"},
        "created_at": {"S": "2026-01-01T00:00:00Z"},
        "updated_at": {"S": "2026-01-01T00:00:00Z"},
    });
    let client_deletion = json!({"DeleteRequest": {"Key": key("CLIENT#src_1", "CLIENT")}});
    let canned = Canned::answering([
        ok(json!({"Attributes": company})),
        ok(json!({"Items": [], "Count": 0, "ScannedCount": 0})),
        ok(json!({"UnprocessedItems": {TABLE: [client_deletion]}})),
        ok(json!({"UnprocessedItems": {}})),
    ]);
    let before = canned
        .store()
        .disable_company("c-1", Utc::now())
        .await
        .unwrap()
        .expect("the company existed");
    assert_eq!(before.client_id, "src_1");
    assert_eq!(
        canned.operations(),
        ["UpdateItem", "Query", "BatchWriteItem", "BatchWriteItem"]
    );
    assert_eq!(
        canned.request(3)["RequestItems"],
        canned.request(2)["RequestItems"],
        "the deletion DynamoDB left is sent again as it was"
    );
}

#[tokio::test]
async fn throttling_is_retried_and_then_a_service_error() {
    // An order is read as two items at once (the order and its state): whichever read is
    // throttled is tried again.
    let canned = Canned::answering([throttled(), ok(json!({})), ok(json!({}))]);
    let order = canned.store().get_order("o-1").await.unwrap();
    assert!(order.is_none());
    assert_eq!(canned.operations(), ["GetItem", "GetItem", "GetItem"]);
    // Throttled on every attempt: a service error, which callers answer with "retry later"
    // (503, or the SQS message back on the queue), never "not found". (The first read to give
    // up ends the other: three to six requests.)
    let canned = Canned::answering(vec![throttled(); 6]);
    let order = canned.store().get_order("o-1").await;
    assert!(
        matches!(&order, Err(StoreError::Service(m)) if m.contains("ProvisionedThroughputExceeded")),
        "{order:?}"
    );
    assert!((3..=6).contains(&canned.operations().len()));
}

/// A delivery attempt on [`order`] at version 1, `FAILED` or `RETRYING` with `detail`.
fn attempt(outcome: DeliveryState, detail: &str, detail_is_ours: bool) -> DeliveryRecord {
    let attempt = DeliveryAttempt {
        version: 1,
        at: Utc.with_ymd_and_hms(2026, 1, 2, 0, 0, 0).unwrap(),
        sr_status_code: Some(400),
        outcome,
        detail: Some(detail.into()),
        result_status: Some(ResultStatus::Completed),
    };
    DeliveryRecord {
        detail_is_ours,
        ..DeliveryRecord::of(&order(), attempt)
    }
}

#[tokio::test]
async fn an_attempt_quoting_sr_on_an_order_erased_meanwhile_is_kept_without_srs_words() {
    let erased = json!({"erased_at": {"S": "2026-01-02T00:00:00Z"}, "result_version": {"N": "1"}});
    let canned = Canned::answering([
        (
            400,
            json!({
                "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
                "message": "Transaction cancelled, please refer cancellation reasons for specific reasons [ConditionalCheckFailed, None]",
                "CancellationReasons": [
                    {"Code": "ConditionalCheckFailed", "Item": erased},
                    {"Code": "None"},
                ],
            }),
        ),
        ok(json!({})),
    ]);
    let refused = attempt(DeliveryState::Failed, "Ada Lovelace has withdrawn", false);
    let recorded = canned
        .store()
        .record_deliveries(&[refused], Utc::now())
        .await;
    assert!(
        matches!(recorded[..], [Ok(AttemptRecorded::OrderErased)]),
        "{recorded:?}"
    );
    // The attempt and the state at once, the state conditional on the order not being erased.
    assert_eq!(canned.operations(), ["TransactWriteItems", "PutItem"]);
    let condition = canned.request(0)["TransactItems"][0]["Update"]["ConditionExpression"].clone();
    assert!(
        condition
            .as_str()
            .unwrap()
            .contains("attribute_not_exists(erased_at)"),
        "{condition}"
    );
    let kept = canned.request(1)["Item"].clone();
    assert_eq!(kept["detail"], json!({"NULL": true}), "{kept}");
    assert_eq!(kept["outcome"], json!({"S": "FAILED"}));
}

#[tokio::test]
async fn an_attempt_in_the_connectors_own_words_is_two_plain_writes() {
    let canned = Canned::answering([ok(json!({})), ok(json!({}))]);
    let retry = attempt(
        DeliveryState::Retrying,
        "SmartRecruiters is unavailable (SR API answered 503)",
        true,
    );
    let recorded = canned.store().record_deliveries(&[retry], Utc::now()).await;
    assert!(
        matches!(recorded[..], [Ok(AttemptRecorded::Stored)]),
        "{recorded:?}"
    );
    assert_eq!(canned.operations(), ["PutItem", "UpdateItem"]);
}

/// SR's acceptance of version 1 of [`order`], read with a state item of 500 bytes.
fn acceptance() -> DeliveryRecord {
    let mut order = order();
    order.result_version = 1;
    order.state_item = true;
    order.state_item_bytes = 500;
    let attempt = DeliveryAttempt {
        version: 1,
        at: Utc.with_ymd_and_hms(2026, 1, 2, 0, 0, 0).unwrap(),
        sr_status_code: Some(200),
        outcome: DeliveryState::Delivered,
        detail: None,
        result_status: Some(ResultStatus::Completed),
    };
    DeliveryRecord::of(&order, attempt)
}

#[tokio::test]
async fn an_acceptance_is_recorded_by_the_state_update_alone() {
    let canned = Canned::answering([ok(json!({}))]);
    let accepted = acceptance();
    assert!(accepted.on_state_item);
    let recorded = canned
        .store()
        .record_deliveries(&[accepted], Utc::now())
        .await;
    assert!(
        matches!(recorded[..], [Ok(AttemptRecorded::Stored)]),
        "{recorded:?}"
    );
    assert_eq!(canned.operations(), ["UpdateItem"]);
    let update = canned.request(0);
    assert_eq!(update["Key"], key("ORDER#o-1", "STATE"));
    let expression = update["UpdateExpression"].as_str().unwrap();
    assert!(
        expression.contains("acceptances = list_append("),
        "{expression}"
    );
}

#[tokio::test]
async fn an_acceptance_refused_by_a_newer_result_is_kept_as_an_item_of_its_own() {
    let newer = json!({"result_version": {"N": "2"}});
    let refused = (
        400,
        json!({
            "__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
            "message": "The conditional request failed",
            "Item": newer,
        }),
    );
    let canned = Canned::answering([refused, ok(json!({}))]);
    let recorded = canned
        .store()
        .record_deliveries(&[acceptance()], Utc::now())
        .await;
    assert!(
        matches!(recorded[..], [Ok(AttemptRecorded::Stored)]),
        "{recorded:?}"
    );
    assert_eq!(canned.operations(), ["UpdateItem", "PutItem"]);
    let kept = canned.request(1)["Item"].clone();
    assert_eq!(kept["outcome"], json!({"S": "DELIVERED"}), "{kept}");
    assert_eq!(kept["version"], json!({"N": "1"}));
}

#[tokio::test]
async fn an_orders_second_acceptance_in_one_batch_is_an_item_of_its_own() {
    // Both sized from the same read: only the first may take the state item's room.
    let canned = Canned::answering([ok(json!({})), ok(json!({})), ok(json!({}))]);
    let recorded = canned
        .store()
        .record_deliveries(&[acceptance(), acceptance()], Utc::now())
        .await;
    assert!(
        matches!(
            recorded[..],
            [Ok(AttemptRecorded::Stored), Ok(AttemptRecorded::Stored)]
        ),
        "{recorded:?}"
    );
    assert_eq!(canned.operations(), ["UpdateItem", "PutItem", "UpdateItem"]);
    let second = canned.request(2)["UpdateExpression"].clone();
    assert!(
        !second.as_str().unwrap().contains("acceptances"),
        "{second}"
    );
}

#[tokio::test]
async fn an_acceptance_both_on_the_state_item_and_of_its_own_is_listed_once() {
    // Its update retried after a lost answer, then refused by a newer result: both copies.
    let at = "2026-01-02T00:00:00Z";
    let accepted = json!({"M": {"version": {"N": "1"}, "at": {"S": at}, "code": {"N": "200"},
                                "status": {"S": "COMPLETED"}}});
    let order_item = json!({
        "pk": {"S": "ORDER#o-1"}, "sk": {"S": "ORDER"}, "company_id": {"S": "c-1"},
        "integration_id": {"S": "i-1"},
        "package": {"M": {"id": {"S": "p-1"}, "name": {"S": "Java"}, "kind": {"S": "SKILL_TEST"},
                          "assessment_ids": {"L": []}}},
        "result_callback_url": {"S": "https://api.smartrecruiters.com/orders/o-1/results"},
        "candidate": {"M": {"id": {"S": "cand-1"}, "firstName": {"S": "Ada"},
                            "lastName": {"S": "Lovelace"}}},
        "job": {"M": {"id": {"S": "job-1"}}},
        "request_fingerprint": {"S": "f"}, "created_at": {"S": "2026-01-01T00:00:00Z"}
    });
    let items = json!([
        {"pk": {"S": "ORDER#o-1"}, "sk": {"S": format!("HISTORY#ATTEMPT#{at}#abc")},
         "version": {"N": "1"}, "at": {"S": at}, "sr_status_code": {"N": "200"},
         "outcome": {"S": "DELIVERED"}, "detail": {"NULL": true}, "result_status": {"S": "COMPLETED"}},
        order_item,
        {"pk": {"S": "ORDER#o-1"}, "sk": {"S": "STATE"}, "result_version": {"N": "2"},
         "acceptances": {"L": [accepted]}},
    ]);
    let canned = Canned::answering([ok(json!({"Items": items, "Count": 3}))]);
    let order = canned
        .store()
        .get_order_with_history("o-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(order.deliveries.len(), 1, "{:?}", order.deliveries);
    assert_eq!(order.deliveries[0].outcome, DeliveryState::Delivered);
}

/// The pacing item as DynamoDB answers it (`ReturnValues: ALL_NEW`).
fn schedule(next_ms: u64, careful_until_ms: Option<u64>) -> (u16, Value) {
    let mut item = json!({
        "pk": {"S": "PACE#c-1"}, "sk": {"S": "PACE"}, "next_ms": {"N": next_ms.to_string()},
    });
    if let Some(until) = careful_until_ms {
        item["careful_until_ms"] = json!({"N": until.to_string()});
    }
    ok(json!({ "Attributes": item }))
}

#[tokio::test]
async fn a_429_held_past_by_the_schedule_still_makes_its_spacing_careful() {
    use connector::pacing::{now_ms, Pacer, CAREFUL_FOR};
    // The schedule already runs past SR's reset: the hold's condition fails, and a second
    // update sets the careful spacing alone.
    let canned = Canned::answering([condition_failed(), schedule(9_000_000_000_000, None)]);
    let before = now_ms();
    let pacer = Pacer::new(canned.store(), 10);
    pacer.hold_until("c-1", before + 1_000).await.unwrap();
    assert_eq!(canned.operations(), ["UpdateItem", "UpdateItem"]);
    let (hold, careful) = (canned.request(0), canned.request(1));
    assert_eq!(
        hold["UpdateExpression"],
        "SET next_ms = :next, careful_until_ms = :careful"
    );
    assert_eq!(
        careful["UpdateExpression"],
        "SET careful_until_ms = :careful"
    );
    assert!(careful.get("ConditionExpression").is_none(), "{careful}");
    let until: u64 = careful["ExpressionAttributeValues"][":careful"]["N"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let quarter = CAREFUL_FOR.as_millis() as u64;
    assert!((before + quarter..=now_ms() + quarter).contains(&until));
}

#[tokio::test]
async fn an_instance_learns_of_another_instances_429_from_the_schedule_it_reserves() {
    use connector::pacing::{now_ms, Pacer};
    let now = now_ms();
    let careful_until = now + 600_000;
    // Another instance was refused: the item says so. This instance's first reservation
    // (idle, a conditional start; a minute of slots) answers the item; its next one (busy, an
    // `ADD`) is careful.
    let canned = Canned::answering([
        schedule(now + 60_300, Some(careful_until)),
        schedule(now + 60_300 + 206, Some(careful_until)),
    ]);
    let pacer = Pacer::new(canned.store(), 10);
    let first = pacer.reserve("c-1", 600).await.unwrap();
    assert_eq!(first.interval, pacer.interval());
    let second = pacer.reserve("c-1", 2).await.unwrap();
    assert_eq!(second.interval, pacer.careful_interval());
    assert_eq!(second.start_ms, now + 60_300);
    let add = canned.request(1);
    assert_eq!(add["UpdateExpression"], "ADD next_ms :span");
    // Two careful slots: 2 × 103.09 ms.
    assert_eq!(add["ExpressionAttributeValues"][":span"]["N"], "206");
}
