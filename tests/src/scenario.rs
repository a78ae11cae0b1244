//! The spine, start to end, over real HTTP: the vendor publishes a catalog, SR (the simulator)
//! lists packages and orders one, the vendor reports IN_PROGRESS then COMPLETED with a score, and
//! the publisher delivers it to SR. `make dev` runs it as a demo, the e2e test asserts on it.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::{eventually, Stack, TestCompany};

pub struct SpineReport {
    pub company: TestCompany,
    pub order_id: String,
    pub listed_packages: Value,
    pub order_status: u16,
    /// The order request SR sent (candidate, job, requester).
    pub order_request: Value,
    pub vendor_orders: Value,
    /// The result as SR (the simulator) holds it after delivery.
    pub sr_order: Value,
}

pub fn demo_catalog() -> Value {
    json!({"packages": [
        {"id": "java-senior", "type": "SKILLS_TEST", "name": "Senior Java developer",
         "description": "Coding exercise and a system-design quiz, 90 minutes",
         "assessments": [
            {"id": "java-coding", "name": "Coding exercise", "description": "Three Java tasks"},
            {"id": "system-design", "name": "System design quiz", "description": "20 questions"}
         ]},
        {"id": "culture-fit", "type": "BEHAVIORAL_ASSESSMENT", "name": "Culture fit",
         "description": "Work-style questionnaire, 15 minutes"}
    ]})
}

/// A new connected company with [`demo_catalog`] published and an access token for it.
pub async fn company_with_catalog(stack: &Stack, label: &str) -> (TestCompany, String) {
    let company = stack.new_company(label).await;
    stack.put_catalog(&company, demo_catalog()).await;
    let token = stack.access_token(&company).await;
    (company, token)
}

/// Waits (bounded) until SR holds a result for `order_id` with `status`.
pub async fn sr_result_with_status(stack: &Stack, order_id: &str, status: &str) -> Value {
    eventually(
        &format!("SR to receive {status} for {order_id}"),
        Duration::from_secs(120),
        || async {
            stack
                .sim
                .order(order_id)
                .await
                .filter(|o| o["result"]["status"] == status)
        },
    )
    .await
}

pub async fn run_spine(stack: &Stack, say: impl Fn(&str)) -> SpineReport {
    let company = stack.new_company("demo").await;
    say(&format!(
        "connected SR company {} to vendor integration {}",
        company.company_id, company.integration_id
    ));

    let put = stack
        .vendor_request(Method::PUT, "/assessment/packages", &company.integration_id)
        .json(&demo_catalog())
        .send()
        .await
        .expect("vendor API reachable");
    assert_eq!(
        put.status(),
        200,
        "catalog upload: {}",
        put.text().await.unwrap_or_default()
    );
    say("vendor published its catalog (PUT /assessment/packages)");

    let listed = stack.sim.list_packages(&company.company_id).await;
    assert_eq!(listed.status, 200, "SR package list: {:?}", listed.body);
    say(&format!(
        "SR listed {} packages (GET /packages)",
        listed.body.as_array().map(Vec::len).unwrap_or(0)
    ));

    let (order_id, order, order_request) = stack
        .sim
        .place_order(&company.company_id, "java-senior")
        .await;
    assert_eq!(order.status, 202, "SR order: {:?}", order.body);
    say(&format!(
        "SR ordered java-senior, order {order_id} (POST /packages/orders → 202)"
    ));

    let orders: Value = stack
        .vendor_request(
            Method::GET,
            "/assessment/orders?status=OPEN",
            &company.integration_id,
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    say(&format!(
        "vendor sees {} open order(s) (GET /assessment/orders)",
        orders["data"]["results"]
            .as_array()
            .map(Vec::len)
            .unwrap_or(0)
    ));

    let submit = |body: Value| {
        stack
            .vendor_request(
                Method::PUT,
                &format!("/assessment/orders/{order_id}/result"),
                &company.integration_id,
            )
            .json(&body)
            .send()
    };
    let started =
        submit(json!({"status": "OPEN", "result_url": "https://vendor.example.com/results/42"}))
            .await
            .unwrap();
    assert_eq!(
        started.status(),
        200,
        "{}",
        started.text().await.unwrap_or_default()
    );
    sr_result_with_status(stack, &order_id, "IN_PROGRESS").await;
    say("vendor reported IN_PROGRESS; SR shows IN_PROGRESS");

    let completed = submit(json!({
        "status": "COMPLETED",
        "completed_at": "2026-11-22T10:00:00Z",
        "score": 87.5, "max_score": 100,
        "score_label": "Strong hire",
        "result_url": "https://vendor.example.com/results/42",
        "attributes": [
            {"type": "TEXT", "label": "Role fit", "value": "Excellent"},
            {"type": "SUB_RESULT", "id": "java-coding", "label": "Coding exercise",
             "score": {"value": 92, "max": 100}, "status": "COMPLETED"},
            {"type": "SUB_RESULT", "id": "system-design", "label": "System design quiz",
             "score": {"value": 15, "max": 20}, "status": "COMPLETED"}
        ]
    }))
    .await
    .unwrap();
    assert_eq!(
        completed.status(),
        200,
        "{}",
        completed.text().await.unwrap_or_default()
    );
    let sr_order = sr_result_with_status(stack, &order_id, "COMPLETED").await;
    say(&format!(
        "vendor reported COMPLETED 87.5/100; SR received status {} with score {}",
        sr_order["result"]["status"], sr_order["result"]["score"]
    ));

    SpineReport {
        company,
        order_id,
        listed_packages: listed.body,
        order_status: order.status,
        order_request,
        vendor_orders: orders,
        sr_order,
    }
}
