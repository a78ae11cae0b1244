//! Credentials that changed are picked up, not retried into the dead-letter queue: a company is
//! disabled and connected again (SR issues new credentials) while the functions are warm with
//! the old ones. Everything over HTTP: the consent page, the vendor API and the SR simulator
//! acting as SR, with the stack's queue, poller and result-publisher in between.

use std::time::Duration;

use connector::ops::dlq;
use connector_tests::consent::connect_over_http;
use connector_tests::pipeline::{completed, order_over_http, submit_over_http};
use connector_tests::scenario::demo_catalog;
use connector_tests::{eventually, unique, Stack, TestCompany};
use serde_json::{json, Value};

/// SR places an order; the vendor completes it; both the enrichment and the delivery finish.
async fn order_enriched_and_delivered(stack: &Stack, company: &TestCompany, score: f64) -> Value {
    let (order_id, call, _) = stack
        .sim
        .place_order(&company.company_id, "culture-fit")
        .await;
    assert_eq!(call.status, 202, "{:?}", call.body);
    let (status, body) = submit_over_http(stack, company, &order_id, completed(score)).await;
    assert_eq!(status, 200, "{body}");
    eventually(
        "the order to be enriched and its result delivered",
        Duration::from_secs(120),
        || async {
            let order = order_over_http(stack, company, &order_id).await;
            (order["delivery"]["state"] == "DELIVERED" && !order["enrichment"].is_null())
                .then_some(order)
        },
    )
    .await
}

/// The vendor reads the order's job through the SR passthrough; SR's status as relayed.
async fn passthrough_status(stack: &Stack, company: &TestCompany, order: &Value) -> u64 {
    let job = order["job"]["remote_id"].as_str().unwrap();
    let response = stack
        .vendor_request(
            reqwest::Method::POST,
            "/assessment/passthrough/sr",
            &company.integration_id,
        )
        .json(&json!({"company_id": company.company_id, "method": "GET", "path": format!("/jobs/{job}")}))
        .send()
        .await
        .unwrap();
    let answer: Value = response.json().await.unwrap();
    answer["data"]["status"].as_u64().unwrap_or(0)
}

#[tokio::test]
async fn a_company_reconnected_while_warm_gets_its_next_order_enriched_and_delivered() {
    let stack = Stack::connect().await;
    stack.configure_partner().await;
    let company = TestCompany {
        company_id: unique("reconnect"),
        integration_id: unique("reconnect-org"),
    };
    let key = stack
        .connect_key(&[(&company.integration_id, "Acme Sweden")])
        .await;
    let (status, page) = connect_over_http(&stack, &company.company_id, &key).await;
    assert_eq!(status, 200, "{page}");
    stack.put_catalog(&company, demo_catalog()).await;

    // The publisher and the vendor API are warm with the first credentials and SR tokens.
    let first = order_enriched_and_delivered(&stack, &company, 61.0).await;
    assert_eq!(passthrough_status(&stack, &company, &first).await, 200);
    let old_client = stack.outbound_client_id(&company).await;

    // SR disables the integration, then the admin connects again with a new key: SR issues new
    // customer credentials and forgets the old ones (and their tokens).
    let disabled = stack.sim.disable(&company.company_id).await;
    assert_eq!(disabled.status, 204, "{:?}", disabled.body);
    let key = stack
        .connect_key(&[(&company.integration_id, "Acme Sweden")])
        .await;
    let (status, page) = connect_over_http(&stack, &company.company_id, &key).await;
    assert_eq!(status, 200, "{page}");
    assert_ne!(stack.outbound_client_id(&company).await, old_client);

    let second = order_enriched_and_delivered(&stack, &company, 62.0).await;
    let attempts = second["delivery"]["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1, "delivered without a retry: {attempts:?}");
    assert_eq!(attempts[0]["outcome"], "DELIVERED");
    assert!(
        second["enrichment"]["candidate"].is_object(),
        "{}",
        second["enrichment"]
    );
    // The warm publisher did try the old credentials first, and SR refused them.
    let refused: Vec<Value> = stack
        .sim
        .requests("/identity/oauth/token")
        .await
        .into_iter()
        .filter(|r| r["clientId"] == old_client.as_str() && r["status"] == 401)
        .collect();
    assert!(!refused.is_empty(), "the old credentials were never tried");
    // The vendor API's passthrough, also warm with the old credentials, works too.
    assert_eq!(passthrough_status(&stack, &company, &second).await, 200);

    // Nothing of this company went to the dead-letter queue.
    let dlq_url = stack.env.get("RESULTS_DLQ_URL").expect("RESULTS_DLQ_URL");
    let dead = dlq::list(&stack.aws.sqs, dlq_url, 1000).await.unwrap();
    assert!(
        dead.iter().all(|m| !m.body.contains(&company.company_id)),
        "{dead:?}"
    );
}
