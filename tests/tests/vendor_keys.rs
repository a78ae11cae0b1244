//! Per-integration vendor API keys over HTTP against the stack's `vendor-api` function: created,
//! listed and revoked with the admin key, scoped to one integration, revoked at once even in
//! warm functions. shared/README.md "Security".

use connector_tests::{unique, Stack};
use reqwest::Method;
use serde_json::{json, Value};

async fn call(
    stack: &Stack,
    key: &str,
    method: Method,
    path: &str,
    integration: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = stack
        .http
        .request(method, stack.function_url("vendor-api", path))
        .bearer_auth(key)
        .header("X-Integration-Id", integration);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("vendor API reachable");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A key for `integration`, created with the admin key: `(key_id, api_key)`.
async fn create_key(stack: &Stack, integration: &str) -> (String, String) {
    let admin = stack.vendor_api_key.clone();
    let (status, body) = call(
        stack,
        &admin,
        Method::POST,
        "/assessment/vendor-keys",
        integration,
        Some(json!({"label": "regional worker"})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["integration_id"], integration);
    assert_eq!(body["data"]["label"], "regional worker");
    (
        body["data"]["key_id"].as_str().unwrap().to_string(),
        body["data"]["api_key"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn a_key_of_one_integration_is_refused_for_any_other() {
    let stack = Stack::connect().await;
    let (mine, theirs) = (unique("key-org"), unique("key-other-org"));
    let (key_id, key) = create_key(&stack, &mine).await;

    let (status, _) = call(
        &stack,
        &key,
        Method::GET,
        "/assessment/packages",
        &mine,
        None,
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = call(
        &stack,
        &key,
        Method::GET,
        "/assessment/orders",
        &theirs,
        None,
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["connector_code"], "KEY_NOT_FOR_INTEGRATION");
    // Only the admin key manages keys and mints connect keys.
    for (method, path) in [
        (Method::POST, "/assessment/vendor-keys"),
        (Method::GET, "/assessment/vendor-keys"),
        (Method::POST, "/assessment/connect-keys"),
    ] {
        let (status, body) = call(
            &stack,
            &key,
            method.clone(),
            path,
            &mine,
            Some(json!({"organisations": [{"id": mine, "name": "x"}]})),
        )
        .await;
        assert_eq!(status, 403, "{method} {path}: {body}");
        assert_eq!(body["error"]["connector_code"], "ADMIN_KEY_REQUIRED");
    }

    // Listed without its secret; stored as a digest only.
    let admin = stack.vendor_api_key.clone();
    let (status, listed) = call(
        &stack,
        &admin,
        Method::GET,
        "/assessment/vendor-keys",
        &mine,
        None,
    )
    .await;
    assert_eq!(status, 200, "{listed}");
    let keys = listed["data"]["results"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["key_id"], key_id.as_str());
    assert!(keys[0]["revoked_at"].is_null());
    assert!(!listed.to_string().contains(&key));
    let (_, others) = call(
        &stack,
        &admin,
        Method::GET,
        "/assessment/vendor-keys",
        &theirs,
        None,
    )
    .await;
    assert_eq!(others["data"]["results"], json!([]));
    let item = stack
        .aws
        .dynamodb
        .get_item()
        .table_name(&stack.config.table_name)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("VENDORKEY#{key_id}")),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S("VENDORKEY".into()),
        )
        .send()
        .await
        .unwrap()
        .item
        .expect("the key's record");
    assert!(!format!("{item:?}").contains(&key), "{item:?}");
}

/// `GET /assessment/packages` four times at once (both local instances of the function answer).
async fn packages_four_times(stack: &Stack, key: &str, integration: &str) -> Vec<(u16, Value)> {
    futures_util::future::join_all((0..4).map(|_| {
        call(
            stack,
            key,
            Method::GET,
            "/assessment/packages",
            integration,
            None,
        )
    }))
    .await
}

#[tokio::test]
async fn a_revoked_key_stops_working_at_once_even_in_warm_functions() {
    let stack = Stack::connect().await;
    let org = unique("revoke-org");
    let (key_id, key) = create_key(&stack, &org).await;
    // Warm both local instances of the function with the key.
    let warm = packages_four_times(&stack, &key, &org).await;
    assert!(warm.iter().all(|(s, _)| *s == 200), "{warm:?}");

    let admin = stack.vendor_api_key.clone();
    let (status, revoked) = call(
        &stack,
        &admin,
        Method::DELETE,
        &format!("/assessment/vendor-keys/{key_id}"),
        &org,
        None,
    )
    .await;
    assert_eq!(status, 200, "{revoked}");
    assert!(revoked["data"]["revoked_at"].is_string());
    let after = packages_four_times(&stack, &key, &org).await;
    assert!(after.iter().all(|(s, _)| *s == 401), "{after:?}");
    // Revoking through another integration, or an unknown key, is a 404.
    let (status, _) = call(
        &stack,
        &admin,
        Method::DELETE,
        &format!("/assessment/vendor-keys/{key_id}"),
        &unique("someone-else"),
        None,
    )
    .await;
    assert_eq!(status, 404);
    // A new key for the same integration works at once.
    let (_, fresh) = create_key(&stack, &org).await;
    let (status, _) = call(
        &stack,
        &fresh,
        Method::GET,
        "/assessment/packages",
        &org,
        None,
    )
    .await;
    assert_eq!(status, 200);
}

/// Counts the calls a Secrets Manager client makes.
#[derive(Debug, Clone, Default)]
struct CountCalls(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl aws_sdk_secretsmanager::config::Intercept for CountCalls {
    fn name(&self) -> &'static str {
        "CountCalls"
    }

    fn read_before_execution(
        &self,
        _context: &aws_sdk_secretsmanager::config::interceptors::BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut aws_sdk_secretsmanager::config::ConfigBag,
    ) -> Result<(), aws_sdk_secretsmanager::error::BoxError> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }
}

#[tokio::test]
async fn a_flood_of_wrong_keys_reads_the_admin_secret_once_not_once_each() {
    let stack = Stack::connect().await;
    let calls = CountCalls::default();
    let counted = aws_sdk_secretsmanager::Client::from_conf(
        stack
            .aws
            .secrets
            .config()
            .to_builder()
            .interceptor(calls.clone())
            .build(),
    );
    // The vendor-api function's check, warm, with its Secrets Manager calls counted.
    let verifier = connector::auth::VendorKeyVerifier::new(
        stack.store.clone(),
        connector::secrets::Secrets::new(counted, &stack.config.secret_prefix),
        stack.config.vendor_api_key_secret_id.clone(),
    );
    for attempt in 0..20 {
        let wrong = format!("{}-{attempt}", unique("wrong-admin-key"));
        assert_eq!(verifier.verify(&wrong).await.unwrap(), None);
    }
    let reads = calls.0.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        reads <= 1,
        "{reads} Secrets Manager reads for 20 wrong keys"
    );
    assert_eq!(
        verifier.verify(&stack.vendor_api_key).await.unwrap(),
        Some(connector::auth::KeyScope::Admin)
    );
}

#[tokio::test]
async fn a_key_of_one_integration_reaches_nothing_of_another_through_any_route() {
    let stack = Stack::connect().await;
    let mine = stack.new_company("scope-mine").await;
    let theirs = stack.new_company("scope-theirs").await;
    stack
        .put_catalog(&theirs, connector_tests::scenario::demo_catalog())
        .await;
    let token = stack.access_token(&theirs).await;
    let (their_order, body) = connector_tests::order_body(&stack, &theirs, "java-senior");
    assert_eq!(stack.create_order(&token, &body).await.status(), 202);
    let (_, key) = create_key(&stack, &mine.integration_id).await;
    let own = mine.integration_id.as_str();

    // Naming the other integration: 403 on every route, also under Kombo's /v1 and in another case.
    for (method, path) in [
        (Method::GET, "/assessment/orders".to_string()),
        (Method::GET, format!("/assessment/orders/{their_order}")),
        (
            Method::PUT,
            format!("/assessment/orders/{their_order}/result"),
        ),
        (Method::GET, "/assessment/events".to_string()),
        (Method::PUT, "/assessment/packages".to_string()),
        (Method::POST, "/assessment/passthrough/sr".to_string()),
        (Method::GET, "/v1/assessment/orders".to_string()),
        (Method::GET, "/assessment/nothing-here".to_string()),
    ] {
        for header in [
            theirs.integration_id.clone(),
            theirs.integration_id.to_uppercase(),
        ] {
            let (status, answer) = call(
                &stack,
                &key,
                method.clone(),
                &path,
                &header,
                Some(json!({})),
            )
            .await;
            assert_eq!(status, 403, "{method} {path} as {header}: {answer}");
        }
    }
    // Naming its own integration: the other's objects do not exist for it.
    let result = json!({"status": "COMPLETED", "score": 99});
    for (method, path, body) in [
        (
            Method::GET,
            format!("/assessment/orders/{their_order}"),
            None,
        ),
        (
            Method::PUT,
            format!("/assessment/orders/{their_order}/result"),
            Some(result.clone()),
        ),
        (
            Method::PUT,
            format!("/v1/assessment/orders/{their_order}/result"),
            Some(result.clone()),
        ),
        (
            Method::POST,
            "/assessment/passthrough/sr".to_string(),
            Some(json!({"company_id": theirs.company_id, "method": "GET", "path": "/jobs/j1"})),
        ),
    ] {
        let (status, answer) = call(&stack, &key, method.clone(), &path, own, body).await;
        assert_eq!(status, 404, "{method} {path}: {answer}");
    }
    let (status, listed) = call(
        &stack,
        &key,
        Method::GET,
        &format!("/assessment/orders?ids={their_order}"),
        own,
        None,
    )
    .await;
    assert_eq!(status, 200, "{listed}");
    assert!(!listed.to_string().contains(&their_order), "{listed}");
    let (status, events) = call(&stack, &key, Method::GET, "/assessment/events", own, None).await;
    assert_eq!(status, 200, "{events}");
    assert!(!events.to_string().contains(&theirs.company_id), "{events}");
    // Their order is untouched.
    let order = stack.store.get_order(&their_order).await.unwrap().unwrap();
    assert!(order.result.is_none(), "{order:?}");
}
