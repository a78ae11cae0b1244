//! `connector candidates erase|export` and `connector orders erase` against the running local
//! stack: an order SR (the simulator) placed for a candidate, enriched by the stack.

mod common;

use common::{connector, json, single_error_line, text};
use connector_tests::scenario::demo_catalog;
use connector_tests::{unique, Stack};
use serde_json::{json as value, Value};

#[tokio::test]
async fn an_operator_exports_then_erases_a_candidate_and_erasing_again_changes_nothing() {
    let stack = Stack::connect().await;
    let company = stack.new_company("cli-gdpr").await;
    stack.put_catalog(&company, demo_catalog()).await;
    let tag = unique("cli");
    let email = format!("{tag}@mail.example.org");
    let (order_id, placed) = stack
        .sim
        .place_order_for(
            &company.company_id,
            "culture-fit",
            value!({"firstName": format!("First{tag}"), "email": email}),
        )
        .await;
    assert_eq!(placed.status, 202, "{:?}", placed.body);
    connector_tests::kombo::enriched_order(&stack, &order_id).await;
    let integration = company.integration_id.as_str();

    let exported: Value = serde_json::from_str(&text(&[
        "candidates",
        "export",
        "--integration",
        integration,
        "--email",
        &email.to_uppercase(),
    ]))
    .unwrap();
    assert_eq!(exported["orders"][0]["order_id"], order_id.as_str());
    assert!(exported.to_string().contains(&format!("First{tag}")));

    let erased = json(&[
        "candidates",
        "erase",
        "--integration",
        integration,
        "--email",
        &email,
        "--json",
    ]);
    assert_eq!(erased["erased"]["order_ids"], value!([order_id]));
    assert_eq!(erased["erased"]["orders"], 1);
    assert!(
        erased["erased"]["events"].as_u64().unwrap() >= 2,
        "{erased}"
    );
    let stored = stack.stored_order(&order_id).await;
    assert!(stored.erased_at.is_some());
    assert!(stored.enrichment.is_none());

    // Again, by order: the order is found, nothing is left to erase.
    let again = text(&["orders", "erase", &order_id]);
    assert!(again.contains("0 order items"), "{again}");
    assert!(again.contains("nothing was left to erase"), "{again}");
    let none = json(&[
        "candidates",
        "erase",
        "--integration",
        integration,
        "--email",
        &email,
        "--json",
    ]);
    assert_eq!(none["erased"]["order_ids"], value!([]));
}

#[test]
fn a_candidate_is_named_by_exactly_one_of_id_and_email() {
    let output = connector(&["candidates", "erase", "--integration", "org-1"]);
    assert_eq!(output.status.code(), Some(2), "clap refuses it");
    let output = connector(&[
        "candidates",
        "erase",
        "--integration",
        "org-1",
        "--email",
        "not-an-address",
    ]);
    let line = single_error_line(&output);
    assert!(line.contains("--email"), "{line}");
    let output = connector(&["orders", "erase", "no-such-order"]);
    let line = single_error_line(&output);
    assert!(line.contains("does not exist"), "{line}");
}
