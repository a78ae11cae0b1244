//! An order's state item (`keys::order_state`) and the orders stored before it existed, whose
//! result, version and delivery state were attributes of the order item: they read as before,
//! a delivery of their stored result is recorded on the order item, and their next result
//! moves the state to its own item. Through the vendor API over HTTP (vendor-api under cargo
//! lambda watch), the stack's poller and result-publisher, the SR simulator; the publisher also
//! in-process for one redelivery.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use connector::store::keys;
use connector_tests::pipeline::{company_with_orders, order_over_http, submit_over_http};
use connector_tests::publishing::{publisher, result_message};
use connector_tests::{eventually, Stack};
use serde_json::{json, Value};

type Item = HashMap<String, AttributeValue>;

async fn item(stack: &Stack, key: (String, String)) -> Option<Item> {
    stack
        .aws
        .dynamodb
        .get_item()
        .table_name(&stack.config.table_name)
        .key("pk", AttributeValue::S(key.0))
        .key("sk", AttributeValue::S(key.1))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
}

/// Turns the order into what the write path before state items stored: its state item's
/// attributes on the order item, and no state item.
async fn move_state_onto_the_order_item(stack: &Stack, order_id: &str) {
    let state = item(stack, keys::order_state(order_id))
        .await
        .expect("a result made the state item");
    let mut names = HashMap::new();
    let mut values = HashMap::new();
    let mut set = Vec::new();
    for (i, (name, value)) in state
        .into_iter()
        // Acceptances are recorded on state items only, never on an order item.
        .filter(|(name, _)| !["pk", "sk", "expires_at", "acceptances"].contains(&name.as_str()))
        .enumerate()
    {
        names.insert(format!("#a{i}"), name);
        values.insert(format!(":v{i}"), value);
        set.push(format!("#a{i} = :v{i}"));
    }
    let db = &stack.aws.dynamodb;
    db.update_item()
        .table_name(&stack.config.table_name)
        .key("pk", AttributeValue::S(format!("ORDER#{order_id}")))
        .key("sk", AttributeValue::S("ORDER".into()))
        .update_expression(format!("SET {}", set.join(", ")))
        .set_expression_attribute_names(Some(names))
        .set_expression_attribute_values(Some(values))
        .send()
        .await
        .unwrap();
    let (pk, sk) = keys::order_state(order_id);
    db.delete_item()
        .table_name(&stack.config.table_name)
        .key("pk", AttributeValue::S(pk))
        .key("sk", AttributeValue::S(sk))
        .send()
        .await
        .unwrap();
}

async fn delivered(
    stack: &Stack,
    company: &connector_tests::TestCompany,
    id: &str,
    v: u64,
) -> Value {
    eventually(
        &format!("version {v} of {id} delivered"),
        Duration::from_secs(120),
        || async {
            let order = order_over_http(stack, company, id).await;
            (order["delivery"]["state"] == "DELIVERED" && order["delivery"]["sent_version"] == v)
                .then_some(order)
        },
    )
    .await
}

/// A new company's order with result version 1 (`IN_PROGRESS`) delivered, then turned into
/// an order stored before state items ([`move_state_onto_the_order_item`]); with the item
/// `update` (an `UpdateItem` expression and its values) applied to its order item after.
async fn older_order_delivered_once(
    stack: &Stack,
    label: &str,
    update: (&str, &[(&str, AttributeValue)]),
) -> (connector_tests::TestCompany, String) {
    let (company, orders) = company_with_orders(stack, label, 1).await;
    let order_id = orders[0].clone();
    let (status, body) =
        submit_over_http(stack, &company, &order_id, json!({"status": "IN_PROGRESS"})).await;
    assert_eq!(status, 200, "{body}");
    delivered(stack, &company, &order_id, 1).await;
    let order_item = item(stack, keys::order(&order_id)).await.unwrap();
    assert_eq!(
        number(&order_item, "result_version"),
        None,
        "a result writes the state item, not the order item"
    );
    move_state_onto_the_order_item(stack, &order_id).await;
    let (expression, values) = update;
    stack
        .aws
        .dynamodb
        .update_item()
        .table_name(&stack.config.table_name)
        .key("pk", AttributeValue::S(format!("ORDER#{order_id}")))
        .key("sk", AttributeValue::S("ORDER".into()))
        .update_expression(expression)
        .set_expression_attribute_values(Some(
            values
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        ))
        .send()
        .await
        .unwrap();
    (company, order_id)
}

fn number(item: &Item, name: &str) -> Option<u64> {
    item.get(name)?.as_n().ok()?.parse().ok()
}

#[tokio::test]
async fn an_order_with_its_state_on_the_order_item_reads_delivers_and_moves_it_with_its_next_result(
) {
    let stack = Stack::connect().await;
    // Its stored result to be delivered again (a replay, SQS handing the message over again).
    let (company, order_id) = older_order_delivered_once(
        &stack,
        "legacy-state",
        (
            "SET delivery_state = :queued",
            &[(":queued", AttributeValue::S("QUEUED".into()))],
        ),
    )
    .await;
    let order_id = &order_id;
    let order = order_over_http(&stack, &company, order_id).await;
    assert_eq!(order["delivery"]["result_version"], 1, "{order}");
    assert_eq!(order["delivery"]["sent_version"], 1, "{order}");
    assert_eq!(order["delivery"]["state"], "QUEUED", "{order}");

    // Delivered: the state is recorded where it is, on the order item.
    let outcome = publisher(&stack, stack.notifications())
        .process(&result_message(&company, order_id, 1))
        .await;
    assert_eq!(outcome, connector::sqs_batch::Outcome::Done);
    let order_item = item(&stack, keys::order(order_id)).await.unwrap();
    assert_eq!(order_item["delivery_state"].as_s().unwrap(), "DELIVERED");
    assert!(item(&stack, keys::order_state(order_id)).await.is_none());

    // The next result moves the state over, carrying what the order item held.
    let (status, body) = submit_over_http(
        &stack,
        &company,
        order_id,
        json!({"status": "COMPLETED", "score": 80, "max_score": 100}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let order = delivered(&stack, &company, order_id, 2).await;
    assert_eq!(order["status"], "COMPLETED", "{order}");
    assert_eq!(order["submissions"].as_array().unwrap().len(), 2, "{order}");
    let state = item(&stack, keys::order_state(order_id)).await.unwrap();
    assert_eq!(number(&state, "result_version"), Some(2));
    assert_eq!(number(&state, "sent_version"), Some(2));
    assert_eq!(
        state["integration_id"].as_s().unwrap(),
        &company.integration_id
    );
    let order_item = item(&stack, keys::order(order_id)).await.unwrap();
    for moved in ["result", "result_version", "sent_version", "delivery_state"] {
        assert!(
            !order_item.contains_key(moved),
            "{moved} left the order item: {order_item:?}"
        );
    }
    let sr = stack.sim.order(order_id).await.unwrap();
    assert_eq!(sr["result"]["status"], "COMPLETED", "{sr}");
}

/// A result written from a read of an order whose state is on its order item, after a delivery
/// was recorded there since that read, is refused (`Conflict`): the state item it would create
/// would hide the delivery. Read again, it goes through and carries the delivery over.
#[tokio::test]
async fn a_result_from_a_stale_read_of_an_older_order_does_not_hide_a_delivery_recorded_since() {
    use connector::orders::Submission;
    use connector::sr::{PackageResult, ResultStatus};
    use connector::store::{ResultWrite, StoreError};
    let stack = Stack::connect().await;
    // Version 1 waiting for its delivery, as the order item held it.
    let (company, order_id) = older_order_delivered_once(
        &stack,
        "legacy-race",
        (
            "SET delivery_state = :queued, sent_version = :zero REMOVE delivered_status",
            &[
                (":queued", AttributeValue::S("QUEUED".into())),
                (":zero", AttributeValue::N("0".into())),
            ],
        ),
    )
    .await;
    let order_id = &order_id;
    let stale = stack.store.get_order(order_id).await.unwrap().unwrap();
    assert!(!stale.state_item);
    assert_eq!(stale.sent_version, 0);

    // The delivery lands on the order item.
    let outcome = publisher(&stack, stack.notifications())
        .process(&result_message(&company, order_id, 1))
        .await;
    assert_eq!(outcome, connector::sqs_batch::Outcome::Done);

    let result = PackageResult {
        status: Some(ResultStatus::Completed),
        ..Default::default()
    };
    let submission = Submission {
        version: Some(2),
        submitted_at: chrono::Utc::now(),
        status: ResultStatus::Completed,
        vendor_body: json!({"status": "COMPLETED"}),
        note: None,
        revision_of: None,
    };
    let write = |order| ResultWrite {
        order,
        result: &result,
        submission: &submission,
        request_sha256: None,
        files: &[],
        now: chrono::Utc::now(),
    };
    let refused = stack.store.write_result(write(&stale)).await;
    assert!(matches!(refused, Err(StoreError::Conflict)), "{refused:?}");
    assert!(item(&stack, keys::order_state(order_id)).await.is_none());

    let fresh = stack.store.get_order(order_id).await.unwrap().unwrap();
    assert_eq!(fresh.sent_version, 1);
    let written = stack.store.write_result(write(&fresh)).await.unwrap();
    assert!(written.state_item);
    let state = item(&stack, keys::order_state(order_id)).await.unwrap();
    assert_eq!(number(&state, "result_version"), Some(2));
    assert_eq!(
        number(&state, "sent_version"),
        Some(1),
        "the delivery carried over"
    );
    assert_eq!(state["delivered_status"].as_s().unwrap(), "IN_PROGRESS");
}
