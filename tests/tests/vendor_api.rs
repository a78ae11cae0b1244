//! The vendor API handler, in-process, against moto with the real AWS SDK clients.

use connector_tests::{json_body, order_body, request, scenario::demo_catalog, Stack, TestCompany};
use lambda_http::http::Method;
use serde_json::{json, Value};

async fn company_with_order(stack: &Stack, label: &str) -> (TestCompany, String) {
    let company = stack.new_company(label).await;
    stack.put_catalog(&company, demo_catalog()).await;
    let token = stack.access_token(&company).await;
    let (order_id, body) = order_body(stack, &company, "java-senior");
    assert_eq!(stack.create_order(&token, &body).await.status(), 202);
    (company, order_id)
}

async fn submit(stack: &Stack, company: &TestCompany, order_id: &str, body: Value) -> (u16, Value) {
    let response = stack
        .vendor_call(
            Method::PUT,
            &format!("/assessment/orders/{order_id}/result"),
            &company.integration_id,
            Some(body),
        )
        .await;
    (response.status().as_u16(), json_body(&response))
}

#[tokio::test]
async fn the_vendor_key_is_required_and_checked() {
    let stack = Stack::connect().await;
    let api = stack.vendor_api();
    for auth in [None, Some("Bearer wrong-key"), Some("Basic x")] {
        let mut headers = vec![("x-integration-id", "org")];
        if let Some(a) = auth {
            headers.push(("authorization", a));
        }
        let response = api
            .handle(request(Method::GET, "/assessment/orders", &headers, ""))
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{auth:?}");
        let body = json_body(&response);
        assert_eq!(body["status"], "error");
        assert_eq!(body["error"]["code"], "PLATFORM.AUTHENTICATION_INVALID");
        assert_eq!(body["error"]["connector_code"], "UNAUTHORIZED");
    }
}

#[tokio::test]
async fn integration_header_and_routes_are_checked() {
    let stack = Stack::connect().await;
    let auth = format!("Bearer {}", stack.vendor_api_key);
    let api = stack.vendor_api();
    let missing = api
        .handle(request(
            Method::GET,
            "/assessment/orders",
            &[("authorization", &auth)],
            "",
        ))
        .await
        .unwrap();
    assert_eq!(missing.status(), 400);
    assert!(json_body(&missing)["error"]["message"]
        .as_str()
        .unwrap()
        .contains("X-Integration-Id"));
    let unknown = stack
        .vendor_call(Method::GET, "/assessment/nothing", "org", None)
        .await;
    assert_eq!(unknown.status(), 404);
    let wrong_method = stack
        .vendor_call(Method::DELETE, "/assessment/packages", "org", None)
        .await;
    assert_eq!(wrong_method.status(), 405);
}

/// The ids of a vendor API call are checked once where they enter (`connector::ids`): the
/// `X-Integration-Id` header and the order id of a path answer as they always did, whatever
/// the route behind them.
#[tokio::test]
async fn integration_and_order_ids_are_checked_where_they_enter() {
    let stack = Stack::connect().await;
    let (company, order_id) = company_with_order(&stack, "ids").await;
    let error = |response: &lambda_http::Response<lambda_http::Body>| {
        let body = json_body(response);
        (
            response.status().as_u16(),
            body["error"]["connector_code"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            body["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            body["error"]["field"].clone(),
        )
    };
    let blank = stack
        .vendor_call(Method::GET, "/assessment/orders", "  ", None)
        .await;
    let (status, code, _, field) = error(&blank);
    assert_eq!((status, code.as_str()), (400, "MISSING_INTEGRATION_ID"));
    assert_eq!(field, "X-Integration-Id");
    let long = stack
        .vendor_call(Method::GET, "/assessment/orders", &"i".repeat(129), None)
        .await;
    let (status, code, message, field) = error(&long);
    assert_eq!((status, code.as_str()), (400, "INVALID_INTEGRATION_ID"));
    assert_eq!(
        message,
        "header `X-Integration-Id` is longer than 128 characters"
    );
    assert_eq!(field, "X-Integration-Id");
    // At the limit the header is an integration (one without orders).
    let longest = stack
        .vendor_call(Method::GET, "/assessment/orders", &"i".repeat(128), None)
        .await;
    assert_eq!(longest.status(), 200);

    // The order id of both order paths: the order itself (the positive control), then ids no
    // order has, too long for a key, or holding what SR's ids cannot.
    let integration = &company.integration_id;
    let found = stack
        .vendor_call(
            Method::GET,
            &format!("/assessment/orders/{order_id}"),
            integration,
            None,
        )
        .await;
    assert_eq!(found.status(), 200);
    let long_id = "o".repeat(129);
    let cases = [
        (
            "o".repeat(128),
            format!("there is no order `{}`", "o".repeat(128)),
        ),
        (long_id, "there is no order with such a long id".to_string()),
        (
            "a%01b".to_string(),
            "there is no order `a\u{1}b`".to_string(),
        ),
        ("a%2Fb".to_string(), "there is no order `a/b`".to_string()),
    ];
    for (id, expected) in cases {
        let read = stack
            .vendor_call(
                Method::GET,
                &format!("/assessment/orders/{id}"),
                integration,
                None,
            )
            .await;
        let (status, code, message, _) = error(&read);
        assert_eq!((status, code.as_str()), (404, "ORDER_NOT_FOUND"), "{id}");
        assert_eq!(message, expected, "{id}");
        let (status, body) = submit(
            &stack,
            &company,
            &id,
            json!({"status": "COMPLETED", "score": 87.5, "max_score": 100}),
        )
        .await;
        assert_eq!(status, 404, "{id}: {body}");
        assert_eq!(body["error"]["connector_code"], "ORDER_NOT_FOUND");
        assert_eq!(body["error"]["message"], expected.as_str(), "{id}");
    }
    // A body that is not a result is still refused as such before any order is looked for.
    let (status, body) = submit(&stack, &company, &"o".repeat(129), json!({"status": 7})).await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test]
async fn invalid_catalogs_are_refused_naming_the_field() {
    let stack = Stack::connect().await;
    let cases = [
        (
            json!({"packages": [{"id": "a", "type": "SKILL_TEST", "name": "A"}, {"id": "a", "type": "SKILL_TEST", "name": "A2"}]}),
            "packages[1].id",
        ),
        (
            json!({"packages": [{"id": "a", "type": "CHESS", "name": "A"}]}),
            "packages[0].type",
        ),
        (
            json!({"packages": [{"id": "a", "type": "SKILL_TEST"}]}),
            "name",
        ),
        (json!({"pkgs": []}), "packages"),
    ];
    for (body, field) in cases {
        let response = stack
            .vendor_call(
                Method::PUT,
                "/assessment/packages",
                "org-invalid",
                Some(body.clone()),
            )
            .await;
        assert_eq!(response.status(), 400, "{body}");
        let message = json_body(&response)["error"]["message"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(message.contains(field), "{body}: {message}");
    }
}

#[tokio::test]
async fn omitted_packages_are_deleted_but_their_orders_keep_working() {
    let stack = Stack::connect().await;
    let (company, order_id) = company_with_order(&stack, "replace").await;
    let replaced = stack
        .vendor_call(Method::PUT, "/assessment/packages", &company.integration_id,
            Some(json!({"packages": [{"id": "culture-fit", "type": "BEHAVIORAL_ASSESSMENT", "name": "Culture fit"}]})))
        .await;
    assert_eq!(replaced.status(), 200);
    assert_eq!(
        json_body(&replaced)["data"]["changes"]["deleted"],
        json!(["java-senior"])
    );
    let token = stack.access_token(&company).await;
    let gone = stack
        .partner_api()
        .get_package(request(
            Method::GET,
            "/packages/java-senior",
            &[("authorization", &format!("Bearer {token}"))],
            "",
        ))
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
    let (new_order, body) = order_body(&stack, &company, "java-senior");
    assert_eq!(
        stack.create_order(&token, &body).await.status(),
        404,
        "deleted package is not orderable"
    );
    assert!(stack
        .store
        .get_order_with_history(&new_order)
        .await
        .unwrap()
        .is_none());
    let (status, _) = submit(&stack, &company, &order_id, json!({"status": "OPEN"})).await;
    assert_eq!(status, 200, "the in-flight order still takes results");
}

#[tokio::test]
async fn orders_are_listed_with_status_filter_and_cursor_pagination() {
    let stack = Stack::connect().await;
    let company = stack.new_company("paging").await;
    stack.put_catalog(&company, demo_catalog()).await;
    let token = stack.access_token(&company).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let (id, body) = order_body(&stack, &company, "culture-fit");
        assert_eq!(stack.create_order(&token, &body).await.status(), 202);
        ids.push(id);
    }
    let (status, _) = submit(
        &stack,
        &company,
        &ids[1],
        json!({"status": "COMPLETED", "score": 3, "max_score": 5}),
    )
    .await;
    assert_eq!(status, 200);

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/assessment/orders?page_size=2&cursor={c}"),
            None => "/assessment/orders?page_size=2".to_string(),
        };
        let response = stack
            .vendor_call(Method::GET, &path, &company.integration_id, None)
            .await;
        assert_eq!(response.status(), 200);
        let body = json_body(&response);
        assert_eq!(body["status"], "success");
        for order in body["data"]["results"].as_array().unwrap() {
            seen.push(order["id"].as_str().unwrap().to_string());
            assert_eq!(order["candidate"]["first_name"], "Ada");
            assert_eq!(order["package_id"], "culture-fit");
        }
        match body["data"]["next"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    let mut expected = ids.clone();
    expected.sort();
    seen.sort();
    assert_eq!(seen, expected);

    let completed = json_body(
        &stack
            .vendor_call(
                Method::GET,
                "/assessment/orders?status=COMPLETED",
                &company.integration_id,
                None,
            )
            .await,
    );
    let completed: Vec<&str> = completed["data"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(completed, vec![ids[1].as_str()]);
    let open = json_body(
        &stack
            .vendor_call(
                Method::GET,
                "/assessment/orders?status=OPEN",
                &company.integration_id,
                None,
            )
            .await,
    );
    assert_eq!(open["data"]["results"].as_array().unwrap().len(), 2);

    for bad in [
        "/assessment/orders?status=DONE",
        "/assessment/orders?page_size=0",
        "/assessment/orders?cursor=abc",
    ] {
        let response = stack
            .vendor_call(Method::GET, bad, &company.integration_id, None)
            .await;
        assert_eq!(response.status(), 400, "{bad}");
    }
    // Another integration's cursor or order is not visible.
    let other = stack
        .vendor_call(
            Method::GET,
            &format!("/assessment/orders/{}", ids[0]),
            "someone-else",
            None,
        )
        .await;
    assert_eq!(other.status(), 404);
}

#[tokio::test]
async fn a_result_is_recorded_queued_and_reported() {
    let stack = Stack::connect().await;
    let (company, order_id) = company_with_order(&stack, "submit").await;
    let (status, body) = submit(&stack, &company, &order_id, json!({
        "status": "COMPLETED", "score": 87.5, "max_score": 100, "score_label": "Strong",
        "summary": "Solid work", "completed_at": "2026-11-22T10:00:00Z",
        "attributes": [{"type": "SUB_RESULT", "id": "java-coding", "label": "Coding", "score": {"value": 9, "max": 10}}]
    })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["result_version"], 1);
    assert_eq!(body["data"]["sr_status"], "COMPLETED");
    assert_eq!(body["data"]["revision_of"], Value::Null);
    let order = stack.stored_order(&order_id).await;
    let result = order.result.unwrap();
    assert_eq!(result.score.unwrap().raw, 88);
    // The vendor's original fractional score is kept.
    assert_eq!(order.submissions[0].vendor_body["score"], 87.5);

    let detail = json_body(
        &stack
            .vendor_call(
                Method::GET,
                &format!("/assessment/orders/{order_id}"),
                &company.integration_id,
                None,
            )
            .await,
    );
    assert_eq!(detail["data"]["result"]["scoreLabel"], "Strong");
    assert_eq!(detail["data"]["submissions"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn bad_results_get_400s_that_name_the_field() {
    let stack = Stack::connect().await;
    let (company, order_id) = company_with_order(&stack, "bad-result").await;
    let cases = [
        (json!({"status": "DONE"}), "status"),
        (
            json!({"status": "COMPLETED", "score": 120, "max_score": 100}),
            "score",
        ),
        (json!({"status": "COMPLETED", "score": 12}), "max_score"),
        (
            json!({"status": "COMPLETED", "attributes": [{"type": "SUB_RESULT", "id": "nope",
                   "score": {"value": 11, "max": 10}}]}),
            "attributes[0].score",
        ),
        (json!({"status": "COMPLETED", "colour": "red"}), "colour"),
        (
            json!({"status": "COMPLETED", "attachments": [{"name": "r", "url": "not a url"}]}),
            "attachments[0].url",
        ),
    ];
    for (body, field) in cases {
        let (status, answer) = submit(&stack, &company, &order_id, body.clone()).await;
        assert_eq!(status, 400, "{body}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(field), "{body}: {message}");
        assert_eq!(
            answer["error"]["code"], "PLATFORM.INPUT_INVALID",
            "{answer}"
        );
        assert_eq!(answer["error"]["field"], field, "{answer}");
    }
    let order = stack.stored_order(&order_id).await;
    assert_eq!(order.result_version, 0, "nothing half-written");
    let (status, _) = submit(&stack, &company, "no-such-order", json!({"status": "OPEN"})).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn late_in_progress_after_completed_is_refused() {
    let stack = Stack::connect().await;
    let (company, order_id) = company_with_order(&stack, "late").await;
    assert_eq!(
        submit(&stack, &company, &order_id, json!({"status": "COMPLETED"}))
            .await
            .0,
        200
    );
    let (status, body) = submit(&stack, &company, &order_id, json!({"status": "OPEN"})).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["connector_code"], "FINAL_STATUS");
    let order = stack.stored_order(&order_id).await;
    assert_eq!(order.result_version, 1);
    assert_eq!(order.submissions.len(), 1);
}
