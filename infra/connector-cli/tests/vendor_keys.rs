//! `connector vendor-key create|list|revoke` (per-integration keys) against the running local
//! stack, each key then presented over HTTP to the stack's vendor-api function.

mod common;

use common::{connector, json, single_error_line, text};
use connector_tests::{unique, Stack};

async fn packages_status(stack: &Stack, key: &str, integration: &str) -> u16 {
    stack
        .http
        .get(stack.function_url("vendor-api", "/assessment/packages"))
        .bearer_auth(key)
        .header("X-Integration-Id", integration)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn per_integration_keys_are_created_listed_and_revoked() {
    let stack = Stack::connect().await;
    let org = unique("cli-keys-org");
    let created = json(&[
        "vendor-key",
        "create",
        "--integration",
        &org,
        "--label",
        "eu workers",
        "--json",
    ]);
    let key = created["api_key"].as_str().unwrap().to_string();
    let key_id = created["key_id"].as_str().unwrap().to_string();
    assert_eq!(created["integration_id"], org.as_str());
    assert_eq!(created["label"], "eu workers");
    assert_eq!(packages_status(&stack, &key, &org).await, 200);
    assert_eq!(
        packages_status(&stack, &key, &unique("cli-keys-other")).await,
        403
    );

    let listed = json(&["vendor-key", "list", "--integration", &org, "--json"]);
    let keys = listed["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{listed}");
    assert_eq!(keys[0]["key_id"], key_id.as_str());
    assert!(!listed.to_string().contains(&key), "never the key itself");
    let table = text(&["vendor-key", "list", "--integration", &org]);
    assert!(
        table.contains(&key_id) && table.contains("eu workers"),
        "{table}"
    );

    let revoked = text(&["vendor-key", "revoke", &key_id, "--integration", &org]);
    assert!(revoked.contains("revoked"), "{revoked}");
    assert_eq!(packages_status(&stack, &key, &org).await, 401);
    let listed = json(&["vendor-key", "list", "--integration", &org, "--json"]);
    assert!(listed["keys"][0]["revoked_at"].is_string(), "{listed}");

    let line = single_error_line(&connector(&[
        "vendor-key",
        "revoke",
        "0123456789abcdef",
        "--integration",
        &org,
    ]));
    assert!(line.contains("0123456789abcdef"), "{line}");
}
