//! Driving the whole local pipeline (vendor API → FIFO results queue → the stack's poller →
//! result-publisher under cargo lambda watch → SR simulator) from tests and tools.

use std::time::Duration;

use lambda_http::http::Method;
use serde_json::{json, Value};

use crate::scenario::demo_catalog;
use crate::{json_body, Stack, TestCompany};

/// A connected company with the demo catalog, and `n` orders SR placed with it.
pub async fn company_with_orders(
    stack: &Stack,
    label: &str,
    n: usize,
) -> (TestCompany, Vec<String>) {
    let company = stack.new_company(label).await;
    stack.put_catalog(&company, demo_catalog()).await;
    let mut order_ids = Vec::with_capacity(n);
    let mut pending = tokio::task::JoinSet::new();
    let mut next = 0;
    let mut failures = 0;
    // A few at a time: each order goes through the running stack's create-order function.
    while order_ids.len() < n {
        while next < n && pending.len() < 4 {
            let sim = stack.sim.clone();
            let company_id = company.company_id.clone();
            pending.spawn(async move { sim.place_order(&company_id, "culture-fit").await });
            next += 1;
        }
        match pending.join_next().await.unwrap() {
            Ok((order_id, call, _)) => {
                assert_eq!(call.status, 202, "{:?}", call.body);
                order_ids.push(order_id);
            }
            // The simulator could not reach the function (cargo lambda watch still starting
            // it): place that order again, a few times at most.
            Err(e) if failures < 5 => {
                eprintln!("placing an order failed, again in 2 s: {e}");
                failures += 1;
                next -= 1;
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            Err(e) => panic!("could not place orders: {e}"),
        }
    }
    (company, order_ids)
}

/// The vendor submits a result for an order (the same in-process handler the Lambda runs).
pub async fn submit(stack: &Stack, company: &TestCompany, order_id: &str, body: Value) -> Value {
    let response = stack
        .vendor_call(
            Method::PUT,
            &format!("/assessment/orders/{order_id}/result"),
            &company.integration_id,
            Some(body),
        )
        .await;
    let answer = json_body(&response);
    assert!(response.status().is_success(), "{answer}");
    answer
}

/// The vendor submits a result over HTTP, through the vendor-api function under cargo lambda
/// watch: SR's status code and body, whatever they are.
pub async fn submit_over_http(
    stack: &Stack,
    company: &TestCompany,
    order_id: &str,
    body: Value,
) -> (u16, Value) {
    let response = stack
        .vendor_request(
            reqwest::Method::PUT,
            &format!("/assessment/orders/{order_id}/result"),
            &company.integration_id,
        )
        .json(&body)
        .send()
        .await
        .expect("vendor API reachable");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// `GET /assessment/orders/{id}` over HTTP: the order with its result and histories (`data`).
pub async fn order_over_http(stack: &Stack, company: &TestCompany, order_id: &str) -> Value {
    // An order's history can pass the size that cargo lambda watch sometimes loses.
    let response = crate::get_through_emulator(stack.vendor_request(
        reqwest::Method::GET,
        &format!("/assessment/orders/{order_id}"),
        &company.integration_id,
    ))
    .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("a JSON order");
    body["data"].clone()
}

pub fn completed(score: f64) -> Value {
    json!({"status": "COMPLETED", "score": score, "max_score": 100})
}

/// What SR shows for the order: its status and raw score.
pub async fn sr_result(stack: &Stack, order_id: &str) -> Option<(String, i64)> {
    let order = stack.sim.order(order_id).await?;
    let status = order["result"]["status"].as_str()?.to_owned();
    Some((
        status,
        order["result"]["score"]["raw"].as_i64().unwrap_or(-1),
    ))
}

/// SR's per-credential limit for one test, lifted afterwards.
pub struct RateLimit<'a>(&'a Stack);

impl<'a> RateLimit<'a> {
    pub async fn set(stack: &'a Stack, per_second: u32, concurrent: u32) -> Self {
        stack
            .sim
            .set_rate_limit(Some(per_second), Some(concurrent))
            .await;
        Self(stack)
    }
}

impl Drop for RateLimit<'_> {
    fn drop(&mut self) {
        // Drop cannot await: lift the limit on a thread and runtime of its own, with a client
        // of its own (a client's pooled connections belong to the runtime that opened them).
        let base = self.0.sim.base().to_owned();
        std::thread::spawn(move || {
            tokio::runtime::Runtime::new()
                .unwrap()
                .block_on(crate::Simulator::new(&base).set_rate_limit(None, None))
        })
        .join()
        .unwrap();
    }
}
