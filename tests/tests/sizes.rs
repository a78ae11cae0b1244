//! Sizes: bounded, and refused clearly. Every endpoint bounds its body and answers 413 naming
//! the limit before doing any work (in SR's error body, the vendor envelope, an OAuth error or
//! an HTML page, as the endpoint speaks); a value too large to store is a 4xx naming the field;
//! an order's history never grows its item; a delivery that cannot be recorded fails only its
//! own message. Over HTTP into the functions under cargo lambda watch, and through the
//! result-publisher's own Lambda invoke API with an SQS event of messages from a real queue.

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sqs::types::MessageSystemAttributeName;
use connector::queue::QueueMessage;
use connector::sr::ResultStatus;
use connector_tests::apigw::HttpApiEvent;
use connector_tests::pipeline::{company_with_orders, order_over_http, submit_over_http};
use connector_tests::publishing::{sqs_event, store_result_directly, unpolled_results_queue};
use connector_tests::{eventually, Stack, TestCompany};
use reqwest::Method;
use serde_json::{json, Value};

const MIB: usize = 1024 * 1024;

/// Method, function, path, headers, body size, and what the answer must say.
type Case<'a> = (
    Method,
    &'a str,
    String,
    Vec<(&'a str, &'a str)>,
    usize,
    &'a str,
);

/// A request of `size` bytes of JSON-looking filler to `function` at `path`; status and body.
async fn oversized(
    stack: &Stack,
    method: Method,
    function: &str,
    path: &str,
    headers: &[(&str, &str)],
    size: usize,
) -> (u16, String) {
    let mut body = format!("{{\"filler\":\"{}", "x".repeat(size));
    body.push_str("\"}");
    let mut request = stack
        .http
        .request(method, stack.function_url(function, path))
        .body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("function reachable");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

#[tokio::test]
async fn every_endpoint_refuses_a_body_over_its_bound_with_413_naming_it() {
    let stack = Stack::connect().await;
    let company = stack.new_company("sizes").await;
    let token = format!("Bearer {}", stack.access_token(&company).await);
    let key = format!("Bearer {}", stack.vendor_api_key);
    let json = ("content-type", "application/json");
    let vendor = [
        ("authorization", key.as_str()),
        ("x-integration-id", company.integration_id.as_str()),
        json,
    ];
    let sr = [("authorization", token.as_str()), json];
    let cases: Vec<Case> = vec![
        // The case: 7 MiB to SR's order endpoint was a 503 SR would retry forever.
        (
            Method::POST,
            "create-order",
            "/packages/orders".into(),
            sr.to_vec(),
            7 * MIB,
            "131072 bytes",
        ),
        (
            Method::POST,
            "create-inline-order",
            "/packages/inline/orders".into(),
            sr.to_vec(),
            200_000,
            "131072 bytes",
        ),
        (
            Method::PUT,
            "vendor-api",
            "/assessment/packages".into(),
            vendor.to_vec(),
            300_000,
            "262144 bytes",
        ),
        (
            Method::PUT,
            "vendor-api",
            "/assessment/orders/any/result".into(),
            vendor.to_vec(),
            7 * MIB,
            "6291456 bytes",
        ),
        (
            Method::POST,
            "vendor-api",
            "/assessment/passthrough/sr".into(),
            vendor.to_vec(),
            300_000,
            "262144 bytes",
        ),
        (
            Method::POST,
            "vendor-api",
            "/assessment/connect-keys".into(),
            vendor.to_vec(),
            20_000,
            "16384 bytes",
        ),
    ];
    for (method, function, path, headers, size, limit) in cases {
        let (status, body) =
            oversized(&stack, method.clone(), function, &path, &headers, size).await;
        assert_eq!(status, 413, "{method} {function}{path}: {body}");
        let answer: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        let message = if function == "vendor-api" {
            assert_eq!(answer["status"], "error", "{body}");
            answer["error"]["message"].as_str()
        } else {
            assert_eq!(answer["errors"][0]["code"], "PAYLOAD_TOO_LARGE", "{body}");
            answer["message"].as_str()
        };
        let message = message.unwrap_or_default();
        assert!(message.contains(limit), "{function}{path}: {message}");
    }
    // Bodies on reads and deletes (cargo lambda watch's HTTP front drops them; API Gateway
    // passes them on): as API Gateway events.
    let filler = format!("{{\"filler\":\"{}\"}}", "x".repeat(20_000));
    let reads = [
        (
            "list-packages",
            "GET /packages",
            "GET",
            "/packages".to_string(),
            &token,
        ),
        (
            "get-package",
            "GET /packages/{assessmentPackageId}",
            "GET",
            "/packages/culture-fit".into(),
            &token,
        ),
        (
            "disable-integration",
            "DELETE /integrations/companies/{companyId}",
            "DELETE",
            format!("/integrations/companies/{}", company.company_id),
            &token,
        ),
        (
            "vendor-api",
            "ANY /assessment/{proxy+}",
            "GET",
            "/assessment/orders".into(),
            &key,
        ),
    ];
    for (function, route, method, path, authorization) in reads {
        let event = HttpApiEvent::new(route, "$default", &path)
            .method(method)
            .header("authorization", authorization)
            .header("x-integration-id", &company.integration_id)
            .body(filler.as_bytes(), false);
        let answer = stack.invoke_http_api(function, &event).await;
        assert_eq!(answer.status, 413, "{route}: {}", answer.text());
        assert!(answer.text().contains("16384 bytes"), "{}", answer.text());
    }
    // Nothing was done: the company is still connected.
    assert_eq!(
        stack.sim.list_packages(&company.company_id).await.status,
        204
    );

    // The token endpoint answers as OAuth does; the consent page with a page.
    let (status, body) = oversized(
        &stack,
        Method::POST,
        "oauth-token",
        "/oauth/token",
        &[("content-type", "application/x-www-form-urlencoded")],
        20_000,
    )
    .await;
    assert_eq!(status, 413, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["error"], "invalid_request");
    assert!(answer["error_description"]
        .as_str()
        .unwrap()
        .contains("16384 bytes"));
    let (status, page) = oversized(
        &stack,
        Method::POST,
        "consent",
        "/integration",
        &[("content-type", "application/x-www-form-urlencoded")],
        20_000,
    )
    .await;
    assert_eq!(status, 413);
    assert!(page.contains("16384 bytes"), "{page}");
}

#[tokio::test]
async fn a_result_too_large_to_store_is_413_naming_the_field() {
    let stack = Stack::connect().await;
    let (company, orders) = company_with_orders(&stack, "big-result", 1).await;
    let order_id = &orders[0];
    let (status, body) = submit_over_http(
        &stack,
        &company,
        order_id,
        json!({"status": "COMPLETED", "score": 1, "max_score": 2,
               "attributes": [{"type": "TEXT", "label": "Notes", "value": "n".repeat(100_000)}]}),
    )
    .await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["error"]["connector_code"], "VALUE_TOO_LARGE", "{body}");
    assert_eq!(body["error"]["field"], "attributes[0].value");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("`attributes[0].value`"), "{message}");
    let order = order_over_http(&stack, &company, order_id).await;
    assert_eq!(order["delivery"]["result_version"], 0, "nothing stored");
}

/// The order item as DynamoDB holds it, in bytes of JSON (close to DynamoDB's own count).
async fn order_item_size(stack: &Stack, order_id: &str) -> usize {
    let item = stack
        .aws
        .dynamodb
        .get_item()
        .table_name(&stack.config.table_name)
        .key("pk", AttributeValue::S(format!("ORDER#{order_id}")))
        .key("sk", AttributeValue::S("ORDER".into()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let value: Value = serde_dynamo::from_item(item).unwrap();
    serde_json::to_vec(&value).unwrap().len()
}

#[tokio::test]
async fn an_order_item_stays_small_however_many_results_and_attempts() {
    let stack = Stack::connect().await;
    let (company, orders) = company_with_orders(&stack, "history", 1).await;
    let order_id = &orders[0];
    // Twelve results of ~40 KB each: kept inline, the history alone would pass 400 KB.
    let revisions = 12;
    for i in 0..revisions {
        let (status, body) = submit_over_http(
            &stack,
            &company,
            order_id,
            json!({"status": "COMPLETED", "score": i, "max_score": 100,
                   "summary": format!("{i}: {}", "s".repeat(40_000))}),
        )
        .await;
        assert_eq!(status, 200, "revision {i}: {body}");
    }
    let order = eventually(
        "every revision to be delivered",
        Duration::from_secs(180),
        || async {
            let order = order_over_http(&stack, &company, order_id).await;
            let delivered = order["delivery"]["state"] == "DELIVERED"
                && order["delivery"]["sent_version"] == revisions;
            delivered.then_some(order)
        },
    )
    .await;
    assert_eq!(
        order["submissions"].as_array().unwrap().len(),
        revisions as usize
    );
    assert!(!order["delivery"]["attempts"].as_array().unwrap().is_empty());
    let size = order_item_size(&stack, order_id).await;
    assert!(size < 150_000, "the order item holds {size} bytes");
}

/// Grows the order's state item (what recording a delivery writes, `keys::order_state`) with an
/// attribute the connector does not read, until one more attribute no longer fits under
/// DynamoDB's item limit.
async fn bloat_to_the_limit(stack: &Stack, order_id: &str) {
    let (pk, sk) = connector::store::keys::order_state(order_id);
    let update = |expression: &str, padding: Option<usize>| {
        let mut update = stack
            .aws
            .dynamodb
            .update_item()
            .table_name(&stack.config.table_name)
            .key("pk", AttributeValue::S(pk.clone()))
            .key("sk", AttributeValue::S(sk.clone()))
            .update_expression(expression)
            .condition_expression("attribute_exists(pk)");
        if let Some(padding) = padding {
            update = update
                .expression_attribute_values(":padding", AttributeValue::S("p".repeat(padding)));
        }
        update.send()
    };
    // Removed first: the emulator counts a replaced attribute's old value against the limit.
    let set = |padding: usize| async move {
        update("REMOVE padding", None).await.unwrap();
        update("SET padding = :padding", Some(padding)).await
    };
    let (mut fits, mut too_big) = (0, 450_000);
    while too_big - fits > 1 {
        let middle = (fits + too_big) / 2;
        match set(middle).await {
            Ok(_) => fits = middle,
            Err(_) => too_big = middle,
        }
    }
    set(fits).await.expect("the largest padding that fits");
}

/// Result version 1 stored directly (no queue); its queue message's body.
async fn stored_result(stack: &Stack, company: &TestCompany, order_id: &str) -> String {
    store_result_directly(stack, company, order_id, 0, ResultStatus::Completed).await;
    serde_json::to_string(&QueueMessage::Result {
        order_id: order_id.into(),
        company_id: company.company_id.clone(),
        version: 1,
    })
    .unwrap()
}

#[tokio::test]
async fn a_delivery_that_cannot_be_recorded_fails_only_its_own_message() {
    let stack = Stack::connect().await;
    let (healthy, healthy_orders) = company_with_orders(&stack, "batch-healthy", 1).await;
    let (bloated, bloated_orders) = company_with_orders(&stack, "batch-bloated", 1).await;
    let healthy_body = stored_result(&stack, &healthy, &healthy_orders[0]).await;
    let bloated_body = stored_result(&stack, &bloated, &bloated_orders[0]).await;
    // The stack's publisher enriches the new order first (that writes the order item too).
    eventually(
        "the order's enrichment",
        Duration::from_secs(60),
        || async {
            let order = stack.store.get_order(&bloated_orders[0]).await.ok()??;
            order.enrichment.map(|_| ())
        },
    )
    .await;
    bloat_to_the_limit(&stack, &bloated_orders[0]).await;

    // One SQS event holding both messages, received from a real FIFO queue, handed to the
    // result-publisher as the event source mapping would.
    let queue = unpolled_results_queue(&stack).await;
    for (body, group) in [
        (&healthy_body, &healthy_orders[0]),
        (&bloated_body, &bloated_orders[0]),
    ] {
        stack
            .aws
            .sqs
            .send_message()
            .queue_url(queue.url())
            .message_body(body)
            .message_group_id(group)
            .message_deduplication_id(connector_tests::uuid())
            .send()
            .await
            .unwrap();
    }
    let received = stack
        .aws
        .sqs
        .receive_message()
        .queue_url(queue.url())
        .max_number_of_messages(10)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert_eq!(received.len(), 2);
    let bloated_message = received
        .iter()
        .find(|m| m.body() == Some(bloated_body.as_str()))
        .and_then(|m| m.message_id())
        .unwrap()
        .to_owned();
    let answer = stack
        .invoke(
            "result-publisher",
            &sqs_event(
                &received,
                "arn:aws:sqs:us-east-1:123456789012:unpolled-results.fifo",
            ),
        )
        .await;
    let failures: Vec<&str> = answer["batchItemFailures"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["itemIdentifier"].as_str())
        .collect();
    assert_eq!(failures, [bloated_message.as_str()], "{answer}");
    // The healthy order was delivered and recorded in the same batch.
    let order = order_over_http(&stack, &healthy, &healthy_orders[0]).await;
    assert_eq!(order["delivery"]["state"], "DELIVERED", "{order}");
    assert_eq!(
        stack.sim.order(&healthy_orders[0]).await.unwrap()["result"]["status"],
        "COMPLETED"
    );
}
