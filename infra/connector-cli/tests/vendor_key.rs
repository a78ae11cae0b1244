//! `connector vendor-key rotate` (the admin key) against the running local stack.
//!
//! Rotating the key breaks every other test that presents the key from stack.env, so this test
//! binary must run on its own, after the others (`cargo test -p connector-cli --test vendor_key`),
//! and it puts the original key back before asserting anything.

mod common;

use common::{json, text};
use connector::ops::vendor_key::{put_key, KEY_LENGTH};
use connector_tests::{request, unique, Stack};
use lambda_http::http::Method;

/// The status the in-process vendor API (a fresh key cache each time) answers for `key`.
async fn status_with(stack: &Stack, key: &str) -> u16 {
    let org = unique("cli-key-org");
    stack
        .vendor_api()
        .handle(request(
            Method::GET,
            "/assessment/packages",
            &[
                ("authorization", &format!("Bearer {key}")),
                ("x-integration-id", &org),
            ],
            "",
        ))
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// What the stack's (warm) vendor-api function answers for `key`, four calls at once.
async fn over_http(stack: &Stack, key: &str) -> Vec<u16> {
    let org = unique("cli-key-http");
    let calls = (0..4).map(|_| async {
        stack
            .http
            .get(stack.function_url("vendor-api", "/assessment/packages"))
            .bearer_auth(key)
            .header("X-Integration-Id", &org)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    });
    let mut statuses = Vec::new();
    for call in calls {
        statuses.push(call.await);
    }
    statuses
}

fn is_key(key: &str) -> bool {
    key.len() == KEY_LENGTH && key.chars().all(|c| c.is_ascii_alphanumeric())
}

#[tokio::test]
async fn rotate_issues_a_key_the_vendor_api_accepts() {
    let stack = Stack::connect().await;
    let original = stack.vendor_api_key.clone();
    let secret_id = stack.config.vendor_api_key_secret_id.clone();

    // Collect what happened, restore the original key, then assert: a failed assertion must
    // never leave the stack with a key the other tests do not know.
    // Warm both local instances of the stack's vendor-api function with the original key.
    let warm = over_http(&stack, &original).await;
    let printed = text(&["vendor-key", "rotate"]);
    let text_key = printed.lines().nth(1).unwrap_or_default().to_string();
    let text_key_works = status_with(&stack, &text_key).await;
    // Those warm instances take the new key and refuse the old one at once.
    let warm_new = over_http(&stack, &text_key).await;
    let warm_old = over_http(&stack, &original).await;
    let rotated = json(&["vendor-key", "rotate", "--json"]);
    let json_key = rotated["vendor_api_key"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let json_key_works = status_with(&stack, &json_key).await;
    let replaced_key = status_with(&stack, &text_key).await;
    let original_during = status_with(&stack, &original).await;

    put_key(&stack.aws.secrets, &stack.store, &secret_id, &original)
        .await
        .expect("the original vendor API key is restored");
    assert_eq!(
        status_with(&stack, &original).await,
        200,
        "original key restored"
    );

    assert_eq!(warm, vec![200; 4]);
    assert_eq!(
        warm_new,
        vec![200; 4],
        "warm functions accept the new key at once"
    );
    assert_eq!(
        warm_old,
        vec![401; 4],
        "warm functions refuse the old key at once"
    );
    assert!(printed.starts_with("New vendor API key"), "{printed}");
    assert!(printed.contains("at once"), "{printed}");
    assert!(is_key(&text_key), "{printed}");
    assert_eq!(text_key_works, 200);
    assert_eq!(rotated.as_object().map(|o| o.len()), Some(1), "{rotated}");
    assert!(is_key(&json_key), "{rotated}");
    assert_ne!(json_key, text_key);
    assert_eq!(json_key_works, 200);
    assert_eq!(replaced_key, 401, "a rotated-away key is refused");
    assert_eq!(
        original_during, 401,
        "the old key is refused after rotation"
    );
}
