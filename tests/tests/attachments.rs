//! File attachments of results, end to end in-process: the vendor API stores them, the publisher
//! uploads them to SR (the simulator) as multipart before the PATCH, against moto. Results are
//! queued on an unpolled queue and handed to the test's own publisher, so a full stack's poller
//! never races these tests.

use base64::Engine as _;
use connector::api::vendor::VendorApi;
use connector::attachments::{DownloadPolicy, FileDelivery};
use connector::orders::DeliveryState;
use connector::publisher::{Outcome, ResultPublisher};
use connector::sr::SrClient;
use connector_tests::publishing::{result_message, unpolled_results_queue};
use connector_tests::scenario::demo_catalog;
use connector_tests::{json_body, Stack, TestCompany};
use lambda_http::http::Method;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The local stack's download policy: private addresses and http allowed, as
/// `ALLOW_PRIVATE_ATTACHMENT_URLS=true` and `ALLOW_INSECURE_SR_URLS=true` give it.
fn local_policy(stack: &Stack) -> DownloadPolicy {
    let policy = DownloadPolicy::from_lookup(|k| stack.env.get(k).cloned(), &stack.config.sr);
    assert!(policy.allow_private_addresses && policy.allow_http);
    policy
}

fn publisher(stack: &Stack, policy: DownloadPolicy) -> ResultPublisher {
    let mut publisher = ResultPublisher::new(
        stack.store.clone(),
        stack.secrets.clone(),
        SrClient::new(stack.config.sr.clone()),
    );
    publisher.files = FileDelivery::new(policy);
    publisher
}

/// Tells the simulator (as SR) that `order_id` is an order of `company`, so it takes results
/// and attachments for it.
async fn register_at_sr(stack: &Stack, company: &TestCompany, order_id: &str, inline: bool) {
    let response = stack
        .http
        .post(format!("{}/__sim/orders", stack.sim.base()))
        .json(&json!({"orderId": order_id, "companyId": company.company_id, "inline": inline}))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{response:?}");
}

/// A connected company with an order placed through the in-process create-order handler and
/// known to SR (the simulator), without needing the Lambda emulator.
async fn sr_order(stack: &Stack, label: &str) -> (TestCompany, String) {
    let company = stack.new_company(label).await;
    stack.put_catalog(&company, demo_catalog()).await;
    let token = stack.access_token(&company).await;
    let (order_id, body) = connector_tests::order_body(stack, &company, "culture-fit");
    let response = stack.create_order(&token, &body).await;
    assert_eq!(response.status(), 202, "{:?}", response.body());
    register_at_sr(stack, &company, &order_id, false).await;
    (company, order_id)
}

/// `PUT /assessment/orders/{id}/result` through the in-process vendor API, queueing on a queue
/// of its own (these tests hand the message to their own publisher); returns the HTTP status and
/// the JSON answer.
async fn submit(stack: &Stack, company: &TestCompany, order_id: &str, body: Value) -> (u16, Value) {
    let api = VendorApi::new(
        stack.store.clone(),
        unpolled_results_queue(stack).await,
        stack.vendor_key_verifier(),
    );
    let auth = format!("Bearer {}", stack.vendor_api_key);
    let response = api
        .handle(connector_tests::request(
            Method::PUT,
            &format!("/assessment/orders/{order_id}/result"),
            &[
                ("authorization", &auth),
                ("x-integration-id", &company.integration_id),
                ("content-type", "application/json"),
            ],
            body.to_string(),
        ))
        .await
        .unwrap();
    (response.status().as_u16(), json_body(&response))
}

/// Submits and expects a queued result version.
async fn submit_ok(stack: &Stack, company: &TestCompany, order_id: &str, body: Value) -> u64 {
    let (status, answer) = submit(stack, company, order_id, body).await;
    assert_eq!(status, 200, "{answer}");
    answer["data"]["result_version"].as_u64().unwrap()
}

/// The order as the vendor reads it (`GET /assessment/orders/{id}`).
async fn vendor_order(stack: &Stack, company: &TestCompany, order_id: &str) -> Value {
    let response = stack
        .vendor_call(
            Method::GET,
            &format!("/assessment/orders/{order_id}"),
            &company.integration_id,
            None,
        )
        .await;
    assert_eq!(response.status(), 200);
    json_body(&response)["data"].clone()
}

async fn sr_attachments(stack: &Stack, order_id: &str) -> Vec<Value> {
    stack.sim.order(order_id).await.unwrap()["attachments"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Puts `bytes` on the simulator (as an upload to another order of `company`) and returns the
/// URL it serves them at: a `data_url` on 127.0.0.1.
async fn hosted_file(stack: &Stack, company: &TestCompany, bytes: &[u8]) -> String {
    let host_order = connector_tests::uuid();
    register_at_sr(stack, company, &host_order, false).await;
    let credentials = stack
        .secrets
        .company_credentials(&company.company_id)
        .await
        .unwrap();
    let answer = stack
        .sr
        .upload_attachment(
            &credentials.outbound,
            &host_order,
            "source.bin",
            "application/octet-stream",
            bytes.to_vec().into(),
            connector::sr::client::UPLOAD_TIMEOUT,
        )
        .await
        .expect("the simulator takes the upload");
    assert_eq!(answer.status, 201);
    answer.body.expect("SR answers the file's URL").url
}

#[tokio::test]
async fn an_inline_file_arrives_at_sr_as_multipart_with_its_name_type_and_bytes() {
    let stack = Stack::connect().await;
    let (company, order_id) = sr_order(&stack, "file-inline").await;
    let pdf = b"%PDF-1.7\n% a small report\n%%EOF\n".to_vec();
    let version = submit_ok(
        &stack,
        &company,
        &order_id,
        json!({"status": "COMPLETED", "score": 80, "max_score": 100, "attachments": [
            {"name": "Assessment report.pdf", "content_type": "application/pdf", "data": b64(&pdf)},
            {"name": "Recording", "url": "https://vendor.example.com/v/1", "content_type": "video/mp4"}
        ]}),
    )
    .await;
    // The order item keeps no file bytes; the file is its own item.
    let stored = stack.stored_order(&order_id).await;
    let kept = &stored.submissions[0].vendor_body["attachments"][0];
    assert!(kept.get("data").is_none(), "{kept}");

    let outcome = publisher(&stack, local_policy(&stack))
        .process(&result_message(&company, &order_id, version))
        .await;
    assert_eq!(outcome, Outcome::Done);

    let files = sr_attachments(&stack, &order_id).await;
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(files[0]["field"], "attachment");
    assert_eq!(files[0]["fileName"], "Assessment report.pdf");
    assert_eq!(files[0]["contentType"], "application/pdf");
    assert_eq!(files[0]["size"], pdf.len());
    assert_eq!(files[0]["sha256"], sha256(&pdf));
    let served = stack
        .http
        .get(files[0]["url"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(served.as_ref(), pdf.as_slice());

    // The link went into the PATCH; the file did not.
    let sr = stack.sim.order(&order_id).await.unwrap();
    assert_eq!(
        sr["result"]["attachments"],
        json!([{"type": "VIDEO_URL", "url": "https://vendor.example.com/v/1", "name": "Recording"}])
    );
    let view = vendor_order(&stack, &company, &order_id).await;
    let file = &view["file_attachments"][0];
    assert_eq!(file["state"], "UPLOADED", "{file}");
    assert_eq!(file["source"], "INLINE");
    assert_eq!(file["sha256"], sha256(&pdf));
    assert_eq!(file["uploaded"]["sha256"], sha256(&pdf));
    assert_eq!(file["uploaded"]["sr_url"], files[0]["url"]);
    assert_eq!(view["delivery"]["state"], "DELIVERED");
}

#[tokio::test]
async fn a_data_url_file_is_downloaded_at_delivery_and_uploaded() {
    let stack = Stack::connect().await;
    let (company, order_id) = sr_order(&stack, "file-url").await;
    let video: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let data_url = hosted_file(&stack, &company, &video).await;
    let version = submit_ok(
        &stack,
        &company,
        &order_id,
        json!({"status": "COMPLETED", "attachments": [
            {"name": "interview.mp4", "content_type": "video/mp4", "data_url": data_url}
        ]}),
    )
    .await;
    let view = vendor_order(&stack, &company, &order_id).await;
    assert_eq!(view["file_attachments"][0]["state"], "PENDING");
    assert_eq!(view["file_attachments"][0]["data_url"], data_url);

    let outcome = publisher(&stack, local_policy(&stack))
        .process(&result_message(&company, &order_id, version))
        .await;
    assert_eq!(outcome, Outcome::Done);
    let files = sr_attachments(&stack, &order_id).await;
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(files[0]["fileName"], "interview.mp4");
    assert_eq!(files[0]["contentType"], "video/mp4");
    assert_eq!(files[0]["sha256"], sha256(&video));
    assert_eq!(
        stack.sim.order(&order_id).await.unwrap()["result"]["status"],
        "COMPLETED"
    );
}

#[tokio::test]
async fn resubmitting_a_name_replaces_it_and_an_unchanged_file_is_not_sent_twice() {
    let stack = Stack::connect().await;
    let (company, order_id) = sr_order(&stack, "file-resubmit").await;
    let publisher = publisher(&stack, local_policy(&stack));
    let first = b"first draft".to_vec();
    let attachments = |bytes: &[u8]| {
        json!([
            {"name": "Report", "url": "https://vendor.example.com/r/old"},
            {"name": "notes.txt", "content_type": "text/plain", "data": b64(bytes)},
            {"name": "Report", "url": "https://vendor.example.com/r/new"}
        ])
    };
    let v1 = submit_ok(
        &stack,
        &company,
        &order_id,
        json!({"status": "IN_PROGRESS", "attachments": attachments(&first)}),
    )
    .await;
    assert_eq!(
        publisher
            .process(&result_message(&company, &order_id, v1))
            .await,
        Outcome::Done
    );
    // The same file again with the final status: SR already holds it.
    let v2 = submit_ok(
        &stack,
        &company,
        &order_id,
        json!({"status": "COMPLETED", "attachments": attachments(&first)}),
    )
    .await;
    assert_eq!(
        publisher
            .process(&result_message(&company, &order_id, v2))
            .await,
        Outcome::Done
    );
    let files = sr_attachments(&stack, &order_id).await;
    assert_eq!(files.len(), 1, "{files:?}");
    let sr = stack.sim.order(&order_id).await.unwrap();
    assert_eq!(sr["result"]["status"], "COMPLETED");
    // Two links named "Report": the later one replaced the earlier one.
    assert_eq!(
        sr["result"]["attachments"],
        json!([{"type": "OTHER_URL", "url": "https://vendor.example.com/r/new", "name": "Report"}])
    );

    // Changed content under the same name: one file on the order, sent once more (SR cannot
    // replace or delete an uploaded file, so it now shows both versions).
    let second = b"final version".to_vec();
    let v3 = submit_ok(
        &stack,
        &company,
        &order_id,
        json!({"status": "COMPLETED", "attachments": attachments(&second)}),
    )
    .await;
    assert_eq!(
        publisher
            .process(&result_message(&company, &order_id, v3))
            .await,
        Outcome::Done
    );
    let files = sr_attachments(&stack, &order_id).await;
    let digests: Vec<&str> = files
        .iter()
        .map(|f| f["sha256"].as_str().unwrap())
        .collect();
    assert_eq!(digests, [sha256(&first), sha256(&second)]);
    let view = vendor_order(&stack, &company, &order_id).await;
    let on_order = view["file_attachments"].as_array().unwrap();
    assert_eq!(on_order.len(), 1, "{on_order:?}");
    assert_eq!(on_order[0]["uploaded"]["sha256"], sha256(&second));
}

#[tokio::test]
async fn inline_data_over_the_limit_is_413_and_points_at_data_url() {
    let stack = Stack::connect().await;
    let (company, order_id) = sr_order(&stack, "file-large").await;
    let too_big = vec![0u8; connector::results::MAX_INLINE_FILE_BYTES + 1];
    let (status, answer) = submit(
        &stack,
        &company,
        &order_id,
        json!({"status": "COMPLETED", "attachments": [
            {"name": "scan.pdf", "content_type": "application/pdf", "data": b64(&too_big)}
        ]}),
    )
    .await;
    assert_eq!(status, 413, "{answer}");
    assert_eq!(answer["status"], "error");
    assert_eq!(answer["error"]["connector_code"], "ATTACHMENT_TOO_LARGE");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(message.contains("`attachments[0]`"), "{message}");
    assert!(message.contains("data_url"), "{message}");
    // Nothing was stored or queued.
    let order = stack.stored_order(&order_id).await;
    assert_eq!(order.result_version, 0);
    assert!(stack
        .store
        .order_files(&order_id, false)
        .await
        .unwrap()
        .is_empty());

    // At the limit it is accepted.
    let fits = vec![1u8; connector::results::MAX_INLINE_FILE_BYTES];
    submit_ok(
        &stack,
        &company,
        &order_id,
        json!({"status": "COMPLETED", "attachments": [
            {"name": "scan.pdf", "content_type": "application/pdf", "data": b64(&fits)}
        ]}),
    )
    .await;
}

#[tokio::test]
async fn a_private_data_url_is_refused_when_private_addresses_are_not_allowed() {
    let stack = Stack::connect().await;
    let (company, order_id) = sr_order(&stack, "file-ssrf").await;
    let data_url = hosted_file(&stack, &company, b"internal").await;
    assert!(data_url.starts_with("http://127.0.0.1:"), "{data_url}");
    let version = submit_ok(
        &stack,
        &company,
        &order_id,
        json!({"status": "COMPLETED", "attachments": [
            {"name": "internal.txt", "content_type": "text/plain", "data_url": data_url}
        ]}),
    )
    .await;
    // The deployment default: no ALLOW_PRIVATE_ATTACHMENT_URLS (http stays allowed, as on this
    // local stack, so the address is what is refused).
    let guarded = DownloadPolicy {
        allow_private_addresses: false,
        ..local_policy(&stack)
    };
    let outcome = publisher(&stack, guarded)
        .process(&result_message(&company, &order_id, version))
        .await;
    // The result still goes to SR; the file is refused for good, not retried.
    assert_eq!(outcome, Outcome::Done);
    assert!(sr_attachments(&stack, &order_id).await.is_empty());
    assert_eq!(
        stack.sim.order(&order_id).await.unwrap()["result"]["status"],
        "COMPLETED"
    );
    let view = vendor_order(&stack, &company, &order_id).await;
    let file = &view["file_attachments"][0];
    assert_eq!(file["state"], "FAILED", "{file}");
    let detail = file["detail"].as_str().unwrap();
    assert!(detail.contains("loopback"), "{detail}");
    assert!(detail.contains("127.0.0.1"), "{detail}");
}

#[tokio::test]
async fn a_data_url_that_answers_404_fails_the_file_but_not_the_result() {
    let stack = Stack::connect().await;
    let (company, order_id) = sr_order(&stack, "file-gone").await;
    let data_url = format!(
        "{}/attachments/{}",
        stack.sim.base(),
        connector_tests::uuid()
    );
    let version = submit_ok(
        &stack,
        &company,
        &order_id,
        json!({"status": "COMPLETED", "attachments": [
            {"name": "gone.pdf", "content_type": "application/pdf", "data_url": data_url}
        ]}),
    )
    .await;
    let outcome = publisher(&stack, local_policy(&stack))
        .process(&result_message(&company, &order_id, version))
        .await;
    assert_eq!(outcome, Outcome::Done);
    let view = vendor_order(&stack, &company, &order_id).await;
    let file = &view["file_attachments"][0];
    assert_eq!(file["state"], "FAILED");
    assert!(
        file["detail"].as_str().unwrap().contains("answered 404"),
        "{file}"
    );
    assert_eq!(view["delivery"]["state"], "DELIVERED");
}

#[tokio::test]
async fn a_transient_sr_500_on_the_upload_is_retried_and_then_delivered() {
    let stack = Stack::connect().await;
    let (company, order_id) = sr_order(&stack, "file-retry").await;
    let bytes = b"retry me".to_vec();
    let version = submit_ok(
        &stack,
        &company,
        &order_id,
        json!({"status": "COMPLETED", "attachments": [
            {"name": "r.txt", "content_type": "text/plain", "data": b64(&bytes)}
        ]}),
    )
    .await;
    stack
        .sim
        .inject_fault(json!({
            "path_contains": format!("/orders/{order_id}/results/attachment"),
            "status": 500,
            "count": 1
        }))
        .await;
    let publisher = publisher(&stack, local_policy(&stack));
    let message = result_message(&company, &order_id, version);
    assert!(publisher.process(&message).await.is_retry());
    let order = stack.stored_order(&order_id).await;
    assert_eq!(order.delivery_state, DeliveryState::Retrying);
    assert_eq!(order.deliveries[0].sr_status_code, Some(500));
    assert!(
        order.deliveries[0]
            .detail
            .as_deref()
            .unwrap()
            .contains("`r.txt`"),
        "{:?}",
        order.deliveries
    );
    // Nothing reached SR yet: the PATCH waits for the files.
    let sr = stack.sim.order(&order_id).await.unwrap();
    assert!(sr["result"].is_null(), "{sr}");
    assert!(sr_attachments(&stack, &order_id).await.is_empty());

    // SQS redelivers the message.
    assert_eq!(publisher.process(&message).await, Outcome::Done);
    let files = sr_attachments(&stack, &order_id).await;
    assert_eq!(files.len(), 1);
    assert_eq!(files[0]["sha256"], sha256(&bytes));
    assert_eq!(
        stack.sim.order(&order_id).await.unwrap()["result"]["status"],
        "COMPLETED"
    );
}

#[tokio::test]
async fn a_429_on_an_upload_holds_back_the_company_and_makes_its_spacing_careful() {
    let stack = Stack::connect().await;
    let (company, order_id) = sr_order(&stack, "file-429").await;
    let version = submit_ok(
        &stack,
        &company,
        &order_id,
        json!({"status": "COMPLETED", "attachments": [
            {"name": "t.txt", "content_type": "text/plain", "data": b64(b"throttled")}
        ]}),
    )
    .await;
    stack
        .sim
        .inject_fault(json!({
            "path_contains": format!("/orders/{order_id}/results/attachment"),
            "status": 429,
            "retry_after_secs": 5,
            "count": 1
        }))
        .await;
    let before = connector::pacing::now_ms();
    let publisher = publisher(&stack, local_policy(&stack));
    let outcome = publisher
        .process(&result_message(&company, &order_id, version))
        .await;
    assert_eq!(
        outcome,
        Outcome::Retry {
            after: Some(std::time::Duration::from_secs(5))
        }
    );
    // As after a 429 on the PATCH: every instance waits for SR's reset, then spaces the
    // company's calls at the careful margin.
    let (next_ms, careful_until_ms) = stack.pacing_schedule(&company.company_id).await;
    assert!(next_ms >= before + 5_000, "held until {next_ms}");
    let quarter = connector::pacing::CAREFUL_FOR.as_millis() as u64;
    assert!(
        careful_until_ms >= before + quarter,
        "careful until {careful_until_ms}"
    );
}

#[tokio::test]
async fn inline_orders_refuse_file_attachments_with_a_clear_message() {
    let stack = Stack::connect().await;
    let company = stack.new_company("file-inline-order").await;
    stack
        .put_catalog(
            &company,
            json!({"packages": [{"id": "chat", "type": "INLINE_ASSESSMENT", "name": "Chat interview",
                "inline_url_template": "https://vendor.example.com/chat/{orderId}"}]}),
        )
        .await;
    let order_id = connector_tests::uuid();
    let callback = stack
        .config
        .sr
        .api_url(&format!("orders/{order_id}/results"));
    let token = stack.access_token(&company).await;
    let response = stack
        .partner_api()
        .create_inline_order(connector_tests::request(
            Method::POST,
            "/packages/inline/orders",
            &[
                ("authorization", &format!("Bearer {token}")),
                ("content-type", "application/json"),
            ],
            json!({
                "resultCallbackURL": callback.as_str(),
                "candidate": {"email": "ada@example.com", "firstName": "Ada", "lastName": "Lovelace",
                              "applicationLanguage": "en"},
                "job": {"id": connector_tests::uuid()},
                "assessmentPackageId": "chat",
                "companyId": company.company_id,
                "completedAssessmentCallbackUrl": "https://www.smartrecruiters.com/inline/done/abc"
            })
            .to_string(),
        ))
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{:?}", response.body());
    let (status, answer) = submit(
        &stack,
        &company,
        &order_id,
        json!({"status": "COMPLETED", "attachments": [
            {"name": "r.pdf", "content_type": "application/pdf", "data": b64(b"%PDF")}
        ]}),
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(message.contains("`attachments`"), "{message}");
    assert!(message.contains("inline"), "{message}");
    assert!(stack
        .store
        .order_files(&order_id, false)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn an_attachment_with_both_url_and_data_is_a_400_naming_it() {
    let stack = Stack::connect().await;
    let (company, order_id) = sr_order(&stack, "file-both").await;
    let (status, answer) = submit(
        &stack,
        &company,
        &order_id,
        json!({"status": "COMPLETED", "attachments": [
            {"name": "r.pdf", "content_type": "application/pdf", "url": "https://x/r.pdf", "data": b64(b"%PDF")}
        ]}),
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["connector_code"], "INVALID_FIELD");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`attachments[0]`"),
        "{answer}"
    );
}

#[tokio::test]
async fn a_download_that_fails_for_now_is_retried_with_the_message() {
    let stack = Stack::connect().await;
    let (company, order_id) = sr_order(&stack, "file-flaky").await;
    let bytes = b"served on the second try".to_vec();
    let data_url = hosted_file(&stack, &company, &bytes).await;
    let version = submit_ok(
        &stack,
        &company,
        &order_id,
        json!({"status": "COMPLETED", "attachments": [
            {"name": "flaky.txt", "content_type": "text/plain", "data_url": data_url}
        ]}),
    )
    .await;
    let path = url::Url::parse(&data_url).unwrap().path().to_string();
    stack
        .sim
        .inject_fault(json!({"path_contains": path, "status": 503, "count": 1}))
        .await;
    let publisher = publisher(&stack, local_policy(&stack));
    let message = result_message(&company, &order_id, version);
    assert!(publisher.process(&message).await.is_retry());
    let order = stack.stored_order(&order_id).await;
    assert_eq!(order.delivery_state, DeliveryState::Retrying);
    let detail = order.deliveries[0].detail.as_deref().unwrap();
    assert!(
        detail.contains("`flaky.txt` was not downloaded"),
        "{detail}"
    );
    assert!(stack.sim.order(&order_id).await.unwrap()["result"].is_null());

    assert_eq!(publisher.process(&message).await, Outcome::Done);
    let files = sr_attachments(&stack, &order_id).await;
    assert_eq!(files.len(), 1);
    assert_eq!(files[0]["sha256"], sha256(&bytes));
}

#[tokio::test]
async fn a_download_that_outlasts_the_time_budget_is_stopped_and_the_batch_still_recorded() {
    let stack = Stack::connect().await;
    let (company, order_id) = sr_order(&stack, "file-budget").await;
    let data_url = hosted_file(&stack, &company, b"a file from a slow host").await;
    let version = submit_ok(
        &stack,
        &company,
        &order_id,
        json!({"status": "COMPLETED", "attachments": [
            {"name": "slow.txt", "content_type": "text/plain", "data_url": data_url}
        ]}),
    )
    .await;
    let (other, other_order) = sr_order(&stack, "file-budget-other").await;
    let other_version =
        submit_ok(&stack, &other, &other_order, json!({"status": "COMPLETED"})).await;
    // The file's host takes a minute to answer: far past what the invocation has left.
    let path = url::Url::parse(&data_url).unwrap().path().to_string();
    stack
        .sim
        .inject_fault(json!({"path_contains": path, "status": 0, "delay_ms": 60_000, "count": 1}))
        .await;
    let budget = connector::budget::Budget::until(
        std::time::Instant::now() + std::time::Duration::from_secs(12),
    );
    let outcomes = publisher(&stack, local_policy(&stack))
        .process_batch_within(
            &[
                result_message(&other, &other_order, other_version),
                result_message(&company, &order_id, version),
            ],
            budget,
        )
        .await;
    // The invocation ended within its budget with every outcome recorded: the other result
    // delivered, the slow file's result retried later, its file still pending.
    assert_eq!(outcomes[0], Outcome::Done);
    assert!(outcomes[1].is_retry(), "{outcomes:?}");
    let order = stack.stored_order(&order_id).await;
    let detail = order.deliveries[0].detail.as_deref().unwrap();
    assert!(detail.contains("time budget"), "{detail}");
    assert_eq!(
        vendor_order(&stack, &company, &order_id).await["file_attachments"][0]["state"],
        "PENDING"
    );
    assert_eq!(
        stack.sim.order(&other_order).await.unwrap()["result"]["status"],
        "COMPLETED"
    );
}
