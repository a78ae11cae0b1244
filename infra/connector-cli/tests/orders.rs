//! `connector orders show|replay` against the running local stack: orders SR (the simulator)
//! placed, results the vendor submitted, delivered by the stack's SQS poller and publisher.

mod common;

use std::time::Duration;

use common::{connector, json, single_error_line, text};
use connector::orders::DeliveryState;
use connector_tests::scenario::demo_catalog;
use connector_tests::{eventually, unique, Stack, TestCompany};
use lambda_http::http::Method;
use serde_json::{json as value, Value};

/// A company with the demo catalog and an order the SR simulator placed for it.
async fn sr_order(stack: &Stack, label: &str) -> (TestCompany, String) {
    let company = stack.new_company(label).await;
    stack.put_catalog(&company, demo_catalog()).await;
    let (order_id, call, _) = stack
        .sim
        .place_order(&company.company_id, "culture-fit")
        .await;
    assert_eq!(call.status, 202, "{:?}", call.body);
    (company, order_id)
}

/// The vendor reports COMPLETED; waits until SR holds it and the order says DELIVERED.
async fn complete_and_deliver(stack: &Stack, company: &TestCompany, order_id: &str) {
    let response = stack
        .vendor_call(
            Method::PUT,
            &format!("/assessment/orders/{order_id}/result"),
            &company.integration_id,
            Some(
                value!({"status": "COMPLETED", "score": 87.5, "max_score": 100,
                         "score_label": "Strong hire"}),
            ),
        )
        .await;
    assert_eq!(response.status(), 200, "{:?}", response.body());
    eventually(
        "the result to be delivered",
        Duration::from_secs(120),
        || async {
            let order = stack
                .store
                .get_order_with_history(order_id)
                .await
                .unwrap()?;
            (order.delivery_state == DeliveryState::Delivered).then_some(())
        },
    )
    .await;
}

async fn sr_patches(stack: &Stack, order_id: &str) -> Vec<Value> {
    stack
        .sim
        .order(order_id)
        .await
        .and_then(|o| o["patches"].as_array().cloned())
        .unwrap_or_default()
}

#[tokio::test]
async fn show_prints_result_submissions_and_deliveries() {
    let stack = Stack::connect().await;
    let (company, order_id) = sr_order(&stack, "cli-order-show").await;

    let before = json(&["orders", "show", &order_id, "--json"]);
    assert_eq!(before["order"]["order_id"], order_id.as_str());
    assert_eq!(before["order"]["result"], Value::Null);
    let summary = text(&["orders", "show", &order_id]);
    assert!(summary.contains("result:    none yet"), "{summary}");

    complete_and_deliver(&stack, &company, &order_id).await;
    let shown = json(&["orders", "show", &order_id, "--json"]);
    let order = &shown["order"];
    assert_eq!(order["company_id"], company.company_id.as_str());
    assert_eq!(order["package"]["id"], "culture-fit");
    assert_eq!(order["result"]["status"], "COMPLETED");
    assert_eq!(order["result_version"], 1);
    assert_eq!(order["delivery_state"], "DELIVERED");
    assert_eq!(order["submissions"].as_array().unwrap().len(), 1);
    let deliveries = order["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.last().unwrap()["sr_status_code"], 200);

    let summary = text(&["orders", "show", &order_id]);
    assert!(
        summary.contains(
            "result:    version 1: COMPLETED, score 88 (min 0, max 100), \"Strong hire\""
        ),
        "{summary}"
    );
    assert!(summary.contains("delivery:  DELIVERED"), "{summary}");
    assert!(summary.contains("1 submission\n"), "{summary}");
    assert!(summary.contains(" 200 "), "{summary}");

    let missing = unique("cli-no-such-order");
    let line = single_error_line(&connector(&["orders", "show", &missing]));
    assert_eq!(line, format!("error: order {missing} does not exist"));
}

#[tokio::test]
async fn replay_sends_the_latest_result_to_sr_again() {
    let stack = Stack::connect().await;
    let (company, order_id) = sr_order(&stack, "cli-replay").await;
    complete_and_deliver(&stack, &company, &order_id).await;
    let first = eventually(
        "SR to record the first PATCH",
        Duration::from_secs(60),
        || async {
            let patches = sr_patches(&stack, &order_id).await;
            (!patches.is_empty()).then_some(patches.len())
        },
    )
    .await;
    assert_eq!(first, 1);

    let replayed = json(&["orders", "replay", &order_id, "--json"]);
    assert_eq!(
        replayed,
        value!({"queued": true, "order_id": order_id, "company_id": company.company_id, "version": 1})
    );
    let patches = eventually(
        "SR to receive the replayed result",
        Duration::from_secs(120),
        || async {
            let patches = sr_patches(&stack, &order_id).await;
            (patches.len() >= 2).then_some(patches)
        },
    )
    .await;
    assert_eq!(patches.len(), 2);
    assert_eq!(patches[1]["body"]["status"], "COMPLETED");
    let order = eventually(
        "the replay's delivery to be recorded",
        Duration::from_secs(60),
        || async {
            let order = stack
                .store
                .get_order_with_history(&order_id)
                .await
                .unwrap()?;
            (order.deliveries.len() >= 2 && order.delivery_state == DeliveryState::Delivered)
                .then_some(order)
        },
    )
    .await;
    assert_eq!(order.sent_version, 1);
    assert_eq!(order.deliveries[1].sr_status_code, Some(200));

    // The text form says what happened.
    let out = text(&["orders", "replay", &order_id]);
    assert!(
        out.starts_with(&format!("Queued result version 1 of order {order_id}")),
        "{out}"
    );
}

#[tokio::test]
async fn replay_refuses_an_order_without_a_result() {
    let stack = Stack::connect().await;
    let (_company, order_id) = sr_order(&stack, "cli-replay-none").await;
    let line = single_error_line(&connector(&["orders", "replay", &order_id]));
    assert_eq!(
        line,
        format!("error: order {order_id} has no result yet; there is nothing to re-send")
    );
    let missing = unique("cli-no-such-order");
    let line = single_error_line(&connector(&["orders", "replay", &missing]));
    assert_eq!(line, format!("error: order {missing} does not exist"));
}

/// The stack's environment file with `TABLE_NAME` and `RESULTS_QUEUE_URL` pointing elsewhere.
fn env_file_with(table: &str, queue_url: &str) -> std::path::PathBuf {
    let original = std::fs::read_to_string(connector_tests::stack_env_path()).unwrap();
    let mut lines: Vec<String> = original
        .lines()
        .filter(|l| !l.starts_with("TABLE_NAME=") && !l.starts_with("RESULTS_QUEUE_URL="))
        .map(str::to_owned)
        .collect();
    lines.push(format!("TABLE_NAME={table}"));
    lines.push(format!("RESULTS_QUEUE_URL={queue_url}"));
    let path = std::env::temp_dir().join(format!("{}.env", unique("cli-announce")));
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

#[tokio::test]
async fn announce_queues_the_enrichment_of_an_order_the_stream_never_forwarded() {
    // An order in a table of its own, which has no stream: nothing announced it.
    let stack = Stack::isolated().await;
    let company = stack.new_company("cli-announce").await;
    stack.put_catalog(&company, demo_catalog()).await;
    let token = stack.access_token(&company).await;
    let (order_id, body) = connector_tests::order_body(&stack, &company, "culture-fit");
    let placed = connector_tests::create_order_through(&stack.partner_api(), &token, &body).await;
    assert_eq!(placed.status(), 202, "{:?}", placed.body());
    let queue = stack
        .aws
        .sqs
        .create_queue()
        .queue_name(format!("{}.fifo", unique("cli-announce")))
        .attributes(aws_sdk_sqs::types::QueueAttributeName::FifoQueue, "true")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let env = env_file_with(&stack.config.table_name, &queue);
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_connector"))
            .arg("--env-file")
            .arg(&env)
            .args(args)
            .output()
            .expect("the connector binary runs")
    };

    let output = run(&["orders", "announce", &order_id, "--json"]);
    assert!(output.status.success(), "{output:?}");
    let answer: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        answer,
        value!({"queued": true, "order_id": order_id, "company_id": company.company_id,
                "already_enriched": false})
    );
    let queued = connector_tests::publishing::drain(&stack, &queue).await;
    let expected = serde_json::to_string(&connector::queue::QueueMessage::OrderReceived {
        order_id: order_id.clone(),
        company_id: company.company_id.clone(),
    })
    .unwrap();
    assert_eq!(queued, [expected]);

    let missing = unique("cli-no-such-order");
    let line = single_error_line(&run(&["orders", "announce", &missing]));
    assert_eq!(line, format!("error: order {missing} does not exist"));
    let _ = std::fs::remove_file(&env);
}
