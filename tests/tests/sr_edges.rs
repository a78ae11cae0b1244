//! What SR answers at the edges cannot crash the functions or leak a credential: absurd
//! `Retry-After` and `expires_in` values, and redirects (never followed). Through the whole local
//! pipeline: the vendor API over HTTP, the results queue, the result-publisher under cargo lambda
//! watch, and the SR simulator's fault injection.

use std::time::Duration;

use connector::sr::client::MAX_RETRY_AFTER;
use connector_tests::pipeline::{
    company_with_orders, completed, order_over_http, submit_over_http,
};
use connector_tests::{eventually, unique, Stack, TestCompany};
use serde_json::{json, Value};

/// The attempts recorded for the order once one matches `done`.
async fn attempts_until(
    stack: &Stack,
    company: &TestCompany,
    order_id: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Vec<Value> {
    eventually(what, Duration::from_secs(120), || async {
        let order = order_over_http(stack, company, order_id).await;
        let attempts = order["delivery"]["attempts"].as_array()?.clone();
        attempts.iter().any(&done).then_some(attempts)
    })
    .await
}

/// The simulator never received a request for `path`.
async fn never_requested(stack: &Stack, path: &str) {
    let seen = stack.sim.requests(path).await;
    assert!(seen.is_empty(), "a redirect was followed: {seen:?}");
}

#[tokio::test]
async fn a_retry_after_of_u64_max_is_capped_not_a_crash() {
    let stack = Stack::connect().await;
    let (company, orders) = company_with_orders(&stack, "retry-after", 1).await;
    let order_id = &orders[0];
    stack
        .sim
        .inject_fault(
            json!({"path_contains": format!("/orders/{order_id}/results"),
                             "status": 429, "retry_after_secs": u64::MAX, "count": 1}),
        )
        .await;
    let (status, body) = submit_over_http(&stack, &company, order_id, completed(64.0)).await;
    assert_eq!(status, 200, "{body}");
    // The publisher finished the batch (the attempt is recorded) instead of panicking with
    // "overflow when adding duration to instant".
    let attempts = attempts_until(&stack, &company, order_id, "the 429 to be recorded", |a| {
        a["sr_status_code"] == 429
    })
    .await;
    assert_eq!(attempts[0]["outcome"], "RETRYING");
    // Every instance holds the company back, but no longer than the cap.
    let (next_ms, _) = stack.pacing_schedule(&company.company_id).await;
    let latest = connector::pacing::ms_after(MAX_RETRY_AFTER + Duration::from_secs(5));
    assert!(next_ms <= latest, "held until {next_ms}, past the cap");
    assert!(next_ms > connector::pacing::ms_after(Duration::from_secs(60)));
}

#[tokio::test]
async fn a_token_lifetime_of_u64_max_is_capped_and_the_token_still_used() {
    let stack = Stack::connect().await;
    let company = stack.new_company("lifetime").await;
    let client = stack.outbound_client_id(&company).await;
    stack.sim.set_token_lifetime(&client, json!(u64::MAX)).await;
    stack
        .put_catalog(&company, connector_tests::scenario::demo_catalog())
        .await;
    let (order_id, call, _) = stack
        .sim
        .place_order(&company.company_id, "culture-fit")
        .await;
    assert_eq!(call.status, 202, "{:?}", call.body);
    let (status, body) = submit_over_http(&stack, &company, &order_id, completed(71.0)).await;
    assert_eq!(status, 200, "{body}");
    let order = eventually(
        "the order to be enriched and its result delivered",
        Duration::from_secs(120),
        || async {
            let order = order_over_http(&stack, &company, &order_id).await;
            (order["delivery"]["state"] == "DELIVERED" && !order["enrichment"].is_null())
                .then_some(order)
        },
    )
    .await;
    assert!(order["enrichment"]["job"].is_object(), "{order}");
}

#[tokio::test]
async fn a_redirect_from_the_token_endpoint_is_not_followed() {
    let stack = Stack::connect().await;
    let company = stack.new_company("token-redirect").await;
    let client = stack.outbound_client_id(&company).await;
    let elsewhere = format!("/redirected/{}", unique("token"));
    // The connector's first token request for this company is answered with a redirect that
    // would re-send the client secret elsewhere (307 keeps the method and the body).
    stack
        .sim
        .inject_fault(
            json!({"path_contains": "/identity/oauth/token", "include_token": true,
                             "client_id": client, "status": 307, "count": 1,
                             "headers": {"location": format!("{}{elsewhere}", stack.sim.base())}}),
        )
        .await;
    stack
        .put_catalog(&company, connector_tests::scenario::demo_catalog())
        .await;
    let (order_id, call, _) = stack
        .sim
        .place_order(&company.company_id, "culture-fit")
        .await;
    assert_eq!(call.status, 202, "{:?}", call.body);
    submit_over_http(&stack, &company, &order_id, completed(55.0)).await;
    eventually(
        "the result to be delivered once the token endpoint answers",
        Duration::from_secs(120),
        || async {
            let order = order_over_http(&stack, &company, &order_id).await;
            (order["delivery"]["state"] == "DELIVERED" && !order["enrichment"].is_null())
                .then_some(())
        },
    )
    .await;
    let redirected: Vec<Value> = stack
        .sim
        .requests("/identity/oauth/token")
        .await
        .into_iter()
        .filter(|r| r["clientId"] == client.as_str() && r["status"] == 307)
        .collect();
    assert_eq!(redirected.len(), 1, "the fault was answered once");
    never_requested(&stack, &elsewhere).await;
}

#[tokio::test]
async fn a_redirect_from_the_results_endpoint_is_retried_not_followed() {
    let stack = Stack::connect().await;
    let (company, orders) = company_with_orders(&stack, "patch-redirect", 1).await;
    let order_id = &orders[0];
    let elsewhere = format!("/redirected/{}", unique("patch"));
    stack
        .sim
        .inject_fault(
            json!({"path_contains": format!("/orders/{order_id}/results"),
                             "status": 308, "count": 1,
                             "headers": {"location": format!("{}{elsewhere}", stack.sim.base())}}),
        )
        .await;
    submit_over_http(&stack, &company, order_id, completed(66.0)).await;
    let attempts = attempts_until(&stack, &company, order_id, "the delivery", |a| {
        a["outcome"] == "DELIVERED"
    })
    .await;
    assert_eq!(attempts[0]["sr_status_code"], 308, "{attempts:?}");
    assert_eq!(attempts[0]["outcome"], "RETRYING");
    let detail = attempts[0]["detail"].as_str().unwrap();
    assert!(detail.contains("no redirects"), "{detail}");
    never_requested(&stack, &elsewhere).await;
}

#[tokio::test]
async fn the_passthrough_relays_a_redirect_without_following_it() {
    let stack = Stack::connect().await;
    let company = stack.new_company("passthrough-redirect").await;
    let job = unique("job");
    let elsewhere = format!("/redirected/{}", unique("passthrough"));
    stack
        .sim
        .inject_fault(
            json!({"path_contains": format!("/jobs/{job}"), "status": 302, "count": 1,
                             "headers": {"location": format!("{}{elsewhere}", stack.sim.base())}}),
        )
        .await;
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
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["data"]["status"], 302, "{answer}");
    assert!(
        answer["data"]["headers"]["location"]
            .as_str()
            .unwrap()
            .ends_with(&elsewhere),
        "{answer}"
    );
    never_requested(&stack, &elsewhere).await;
}
