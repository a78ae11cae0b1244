//! End to end over real HTTP: SR simulator → cargo lambda watch (real Lambda binaries) →
//! DynamoDB/SQS/Secrets Manager on moto → SQS poller → result-publisher → SR simulator.

use connector_tests::{scenario, Stack};
use serde_json::json;

#[tokio::test]
async fn an_order_from_sr_comes_back_as_a_completed_result_with_its_score() {
    let stack = Stack::connect().await;
    let report = scenario::run_spine(&stack, |line| eprintln!("spine: {line}")).await;
    assert_eq!(report.listed_packages.as_array().unwrap().len(), 2);
    assert_eq!(report.order_status, 202);
    let result = &report.sr_order["result"];
    assert_eq!(result["status"], "COMPLETED");
    assert_eq!(result["score"], json!({"raw": 88, "min": 0, "max": 100}));
    assert_eq!(result["scoreLabel"], "Strong hire");
    assert_eq!(result["summary"], "Role fit: Excellent");
    assert_eq!(result["submissionDate"], "2026-11-22T10:00:00Z");
    assert_eq!(
        result["attachments"][0]["url"],
        "https://vendor.example.com/results/42"
    );
    let per_assessment = result["assessmentResults"].as_array().unwrap();
    assert_eq!(per_assessment.len(), 2);
    assert_eq!(
        per_assessment[1]["score"],
        json!({"raw": 15, "min": 0, "max": 20})
    );
    // SR saw IN_PROGRESS first, then COMPLETED, and nothing after.
    let statuses: Vec<&str> = report.sr_order["patches"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["status_code"] == 200)
        .map(|p| p["body"]["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses.first(), Some(&"IN_PROGRESS"));
    assert_eq!(statuses.last(), Some(&"COMPLETED"));
    // The vendor reads the delivery history through the vendor API.
    let detail: serde_json::Value = stack
        .vendor_request(
            reqwest::Method::GET,
            &format!("/assessment/orders/{}", report.order_id),
            &report.company.integration_id,
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(detail["data"]["status"], "COMPLETED");
    assert_eq!(detail["data"]["delivery"]["state"], "DELIVERED");
    assert!(
        detail["data"]["delivery"]["attempts"]
            .as_array()
            .unwrap()
            .len()
            >= 2
    );
}

#[tokio::test]
async fn sr_retrying_the_same_order_post_over_http_yields_one_order() {
    let stack = Stack::connect().await;
    let company = stack.new_company("http-retry").await;
    stack.put_catalog(&company, scenario::demo_catalog()).await;
    let (order_id, first, request) = stack
        .sim
        .place_order(&company.company_id, "culture-fit")
        .await;
    assert_eq!(first.status, 202);
    let retry = stack
        .sim
        .raw(&company.company_id, json!({"method": "POST", "url_key": "packageOrderUrl", "body": request, "content_type": "application/json"}))
        .await;
    assert_eq!(retry.status, 202, "{:?}", retry.body);
    let page = stack
        .store
        .list_orders(&company.integration_id, &Default::default(), None, 10)
        .await
        .unwrap();
    assert_eq!(page.orders.len(), 1);
    assert_eq!(page.orders[0].order_id, order_id);
}

#[tokio::test]
async fn bad_input_over_http_gets_json_4xx_never_5xx() {
    let stack = Stack::connect().await;
    let company = stack.new_company("http-bad").await;
    stack.put_catalog(&company, scenario::demo_catalog()).await;
    let cases = [
        (
            json!({"method": "POST", "url_key": "packageOrderUrl", "body": "{broken", "content_type": "application/json"}),
            400,
        ),
        (
            json!({"method": "POST", "url_key": "packageOrderUrl", "body": {"companyId": company.company_id}, "content_type": "application/json"}),
            400,
        ),
        (
            json!({"method": "GET", "url_key": "assessmentPackageListUrl", "headers": {"requester": "nope"}}),
            400,
        ),
        (
            json!({"method": "GET", "url_key": "assessmentPackageListUrl", "no_auth": true}),
            401,
        ),
        (
            json!({"method": "POST", "url_key": "oauthTokenUrl", "no_auth": true, "body": "grant_type=password", "content_type": "application/x-www-form-urlencoded"}),
            400,
        ),
    ];
    for (call, status) in cases {
        let answer = stack.sim.raw(&company.company_id, call.clone()).await;
        assert_eq!(answer.status, status, "{call}: {:?}", answer.body);
        assert!(
            answer.body.is_object(),
            "{call}: JSON body expected, got {:?}",
            answer.body
        );
    }
}
