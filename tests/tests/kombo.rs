//! The vendor API as a drop-in for Kombo's assessment API, against the local stack: Kombo's
//! package types, order shape and filters, error codes, the `/v1` base URL, dry runs, inline
//! orders whose URL the vendor answers, and Kombo-format webhooks from the real dispatcher.
//! (Kombo's own SDKs run against the same stack in `tests/kombo/`.)

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use connector::orders::InlineUrlSource;
use connector_tests::kombo::{
    assessment_url_for, enriched_order, full_catalog, inline_order_body, partner_api_asking,
    place_inline_order, publish_full_catalog, signing_secret, webhook_story, Answer,
    VendorEndpoint,
};
use connector_tests::publishing::unpolled_results_queue;
use connector_tests::scenario::demo_catalog;
use connector_tests::{json_body, order_body, request, Stack, TestCompany};
use lambda_http::http::Method;
use serde_json::{json, Value};

async fn get(stack: &Stack, company: &TestCompany, path: &str) -> (u16, Value) {
    let response = stack
        .vendor_call(Method::GET, path, &company.integration_id, None)
        .await;
    (response.status().as_u16(), json_body(&response))
}

async fn put_result(
    stack: &Stack,
    company: &TestCompany,
    order_id: &str,
    query: &str,
    body: Value,
) -> (u16, Value) {
    let response = stack
        .vendor_call(
            Method::PUT,
            &format!("/assessment/orders/{order_id}/result{query}"),
            &company.integration_id,
            Some(body),
        )
        .await;
    (response.status().as_u16(), json_body(&response))
}

/// A 400 in Kombo's envelope naming `field`.
fn assert_input_invalid(status: u16, answer: &Value, field: &str) {
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["status"], "error", "{answer}");
    assert_eq!(
        answer["error"]["code"], "PLATFORM.INPUT_INVALID",
        "{answer}"
    );
    assert_eq!(answer["error"]["field"], field, "{answer}");
    assert!(answer["error"]["log_url"].is_null(), "{answer}");
    assert!(
        answer["error"]["message"].as_str().unwrap().contains(field),
        "{answer}"
    );
}

#[tokio::test]
async fn packages_are_listed_with_kombos_types_and_when_they_changed() {
    let stack = Stack::connect().await;
    let company = stack.new_company("kombo-packages").await;
    publish_full_catalog(&stack, &company).await;
    let (status, answer) = get(&stack, &company, "/assessment/packages").await;
    assert_eq!(status, 200, "{answer}");
    let packages = answer["data"]["packages"].as_array().unwrap().clone();
    let types: Vec<(&str, &Value, &str)> = packages
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap(),
                &p["type"],
                p["sr_type"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        types,
        [
            ("ask", &json!(null), "INLINE_ASSESSMENT"),
            ("assessed", &json!("SKILLS_TEST"), "SKILL_TEST"),
            ("background", &json!("BACKGROUND_CHECK"), "BACKGROUND_CHECK"),
            ("behavioral", &json!("BEHAVIORAL"), "BEHAVIORAL_ASSESSMENT"),
            ("quiz", &json!(null), "INLINE_ASSESSMENT"),
            ("reference", &json!("REFERENCE_CHECK"), "REFERENCE_CHECK"),
            ("video", &json!("VIDEO_INTERVIEW"), "VIDEO_INTERVIEW"),
        ]
    );
    let updated_at = |packages: &[Value], id: &str| -> DateTime<Utc> {
        let p = packages.iter().find(|p| p["id"] == id).unwrap();
        p["updated_at"].as_str().unwrap().parse().unwrap()
    };
    let (video_before, assessed_before) = (
        updated_at(&packages, "video"),
        updated_at(&packages, "assessed"),
    );

    // The same catalog again changes nothing; a changed package gets a new updated_at.
    let mut catalog = full_catalog();
    catalog["packages"][2]["description"] = json!("One-way, 10 minutes");
    connector_tests::kombo::vendor_api_asking_vendor(&stack)
        .handle(request(
            Method::PUT,
            "/assessment/packages",
            &[
                ("authorization", &format!("Bearer {}", stack.vendor_api_key)),
                ("x-integration-id", &company.integration_id),
            ],
            catalog.to_string(),
        ))
        .await
        .unwrap();
    let (_, answer) = get(&stack, &company, "/assessment/packages").await;
    let packages = answer["data"]["packages"].as_array().unwrap().clone();
    assert!(updated_at(&packages, "video") > video_before);
    assert_eq!(updated_at(&packages, "assessed"), assessed_before);
}

#[tokio::test]
async fn an_inline_package_without_template_needs_a_deployment_that_can_ask_the_vendor() {
    let stack = Stack::connect().await;
    let company = stack.new_company("kombo-untemplated").await;
    let response = stack
        .vendor_call(
            Method::PUT,
            "/assessment/packages",
            &company.integration_id,
            Some(full_catalog()),
        )
        .await;
    assert_input_invalid(
        response.status().as_u16(),
        &json_body(&response),
        "packages[6].inline_url_template",
    );
}

/// A new company with the demo catalog and `count` orders SR placed, in creation order.
async fn company_with_orders(
    stack: &Stack,
    name: &str,
    count: usize,
) -> (TestCompany, Vec<String>) {
    let company = stack.new_company(name).await;
    stack.put_catalog(&company, demo_catalog()).await;
    let token = stack.access_token(&company).await;
    let mut ids = Vec::new();
    for _ in 0..count {
        let (id, body) = order_body(stack, &company, "culture-fit");
        assert_eq!(stack.create_order(&token, &body).await.status(), 202);
        ids.push(id);
    }
    (company, ids)
}

/// A new company with the demo catalog and one order of `package` placed by SR (the simulator).
async fn company_with_sim_order(stack: &Stack, name: &str, package: &str) -> (TestCompany, String) {
    let company = stack.new_company(name).await;
    stack.put_catalog(&company, demo_catalog()).await;
    let (order_id, placed, _) = stack.sim.place_order(&company.company_id, package).await;
    assert_eq!(placed.status, 202, "{:?}", placed.body);
    (company, order_id)
}

#[tokio::test]
async fn orders_are_listed_in_kombos_shape_with_every_filter() {
    let stack = Stack::connect().await;
    let (company, ids) = company_with_orders(&stack, "kombo-list", 5).await;
    for (id, status) in [
        (&ids[1], "COMPLETED"),
        (&ids[2], "CANCELLED"),
        (&ids[3], "REJECTED"),
    ] {
        let (code, answer) = put_result(&stack, &company, id, "", json!({"status": status})).await;
        assert_eq!(code, 200, "{answer}");
    }

    let (status, answer) = get(&stack, &company, "/assessment/orders?page_size=2").await;
    assert_eq!(status, 200, "{answer}");
    let first = &answer["data"]["results"][0];
    let keys = |v: &Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    for key in [
        "id",
        "package_id",
        "status",
        "candidate",
        "application",
        "job",
    ] {
        assert!(first.get(key).is_some(), "{key} missing: {first}");
    }
    assert_eq!(
        keys(&first["candidate"]),
        ["email", "first_name", "last_name", "phone", "remote_id"]
    );
    assert_eq!(keys(&first["application"]), ["remote_id"]);
    assert_eq!(
        keys(&first["job"]),
        [
            "description",
            "hiring_team",
            "job_code",
            "location",
            "name",
            "remote_id"
        ]
    );
    assert_eq!(first["job"]["name"], "Engineer");

    // Pages of two, in creation order, until `next` is null.
    let mut seen = Vec::new();
    let mut next = answer["data"]["next"].as_str().map(str::to_string);
    seen.extend(ids_of(&answer));
    while let Some(cursor) = next {
        let (_, page) = get(
            &stack,
            &company,
            &format!("/assessment/orders?page_size=2&cursor={cursor}"),
        )
        .await;
        seen.extend(ids_of(&page));
        next = page["data"]["next"].as_str().map(str::to_string);
    }
    assert_eq!(seen, ids);

    let listed = |query: String| {
        let stack = &stack;
        let company = &company;
        async move {
            let (status, answer) =
                get(stack, company, &format!("/assessment/orders?{query}")).await;
            assert_eq!(status, 200, "{query}: {answer}");
            ids_of(&answer)
        }
    };
    assert_eq!(
        listed("statuses=COMPLETED,CANCELLED".into()).await,
        [ids[1].clone(), ids[2].clone()]
    );
    assert_eq!(listed("statuses=REJECTED".into()).await, [ids[3].clone()]);
    assert_eq!(
        listed("statuses=OPEN".into()).await,
        [ids[0].clone(), ids[4].clone()]
    );
    assert_eq!(
        listed(format!("ids={},{},no-such-order", ids[4], ids[0])).await,
        [ids[0].clone(), ids[4].clone()]
    );
    assert_eq!(
        listed(format!("ids={},{},{}&page_size=2", ids[0], ids[2], ids[3])).await,
        [ids[0].clone(), ids[2].clone()],
        "ids pages like the list"
    );
    assert_eq!(
        listed(format!("ids={}&statuses=OPEN", ids[1])).await,
        Vec::<String>::new()
    );
    let third = stack.store.get_order(&ids[2]).await.unwrap().unwrap();
    let after = third
        .created_at
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string();
    assert_eq!(
        listed(format!("created_after={after}")).await,
        ids[2..].to_vec(),
        "on or after"
    );
    // An offset whose `+` was not percent-encoded arrives as a space and still reads.
    let offset = third
        .created_at
        .with_timezone(&chrono::FixedOffset::east_opt(3600).unwrap())
        .format("%Y-%m-%dT%H:%M:%S%.6f+01:00")
        .to_string();
    assert_eq!(
        listed(format!("created_after={offset}")).await,
        ids[2..].to_vec()
    );
    // Another integration's ids are not listed.
    let other = stack.new_company("kombo-list-other").await;
    let (_, answer) = get(
        &stack,
        &other,
        &format!("/assessment/orders?ids={}", ids[0]),
    )
    .await;
    assert_eq!(ids_of(&answer), Vec::<String>::new());

    for (query, field) in [
        ("statuses=OPEN,DONE", "statuses"),
        ("status=DONE", "status"),
        ("created_after=yesterday", "created_after"),
        ("page_size=0", "page_size"),
        ("page_size=251", "page_size"),
        ("cursor=bogus", "cursor"),
    ] {
        let (status, answer) = get(&stack, &company, &format!("/assessment/orders?{query}")).await;
        assert_input_invalid(status, &answer, field);
    }
    // Cursors are the vendor's input too: one forged with this integration's partition but
    // other keys, or keys DynamoDB cannot take, is a 400, never a 503.
    let forged = |key: Value| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.to_string())
    };
    let partition = format!("INTEGRATION#{}#ORDERS", company.integration_id);
    for key in [
        json!({"gsi1pk": partition, "a": "1", "b": "2", "c": "3"}),
        json!({"gsi1pk": partition, "pk": "ORDER#x", "sk": "ORDER", "gsi1sk": ""}),
        json!({"gsi1pk": partition, "pk": "ORDER#x", "sk": "ORDER", "gsi1sk": "z".repeat(3000)}),
        json!({"gsi1pk": partition, "pk": format!("ORDER#{}", "x".repeat(3000)), "sk": "ORDER",
               "gsi1sk": "2026-01-01T00:00:00+00:00#x"}),
        json!({"gsi1pk": partition, "pk": "CATALOG#x", "sk": "ORDER", "gsi1sk": "2026#x"}),
        json!({"gsi2pk": partition, "pk": "ORDER#x", "sk": "ORDER", "gsi2sk": "2026#y"}),
        json!({"gsi2pk": partition, "pk": "ORDER#x", "sk": "ORDER", "gsi1sk": "2026#x"}),
        json!({"gsi2pk": "INTEGRATION#other#ORDERS", "pk": "ORDER#x", "sk": "ORDER", "gsi2sk": "2026#x"}),
    ] {
        let cursor = forged(key);
        for path in ["/assessment/orders", "/assessment/orders?ids=a"] {
            let sep = if path.contains('?') { '&' } else { '?' };
            let (status, answer) =
                get(&stack, &company, &format!("{path}{sep}cursor={cursor}")).await;
            assert_input_invalid(status, &answer, "cursor");
        }
    }
    let (status, answer) = get(
        &stack,
        &company,
        &format!(
            "/assessment/events?cursor={}",
            forged(json!("x".repeat(3000)))
        ),
    )
    .await;
    assert_input_invalid(status, &answer, "cursor");
    // An id longer than any order id (128 characters) would exceed DynamoDB's key size.
    let (status, answer) = get(
        &stack,
        &company,
        &format!("/assessment/orders?ids={},{}", ids[0], "x".repeat(129)),
    )
    .await;
    assert_input_invalid(status, &answer, "ids");
    let many: Vec<String> = (0..251).map(|i| format!("o{i}")).collect();
    let (status, answer) = get(
        &stack,
        &company,
        &format!("/assessment/orders?ids={}", many.join(",")),
    )
    .await;
    assert_input_invalid(status, &answer, "ids");
}

/// A `statuses` filter reads a bounded number of orders per call: a rare status in a long list
/// comes back over short (even empty) pages that each carry `next`, never one unbounded read.
#[tokio::test]
async fn a_rare_status_is_found_over_bounded_pages() {
    let stack = Stack::connect().await;
    let (company, ids) = company_with_orders(&stack, "kombo-scan", 7).await;
    for id in &ids[5..] {
        let (code, answer) =
            put_result(&stack, &company, id, "", json!({"status": "COMPLETED"})).await;
        assert_eq!(code, 200, "{answer}");
    }
    let (found, pages) = completed_over_bounded_pages(&stack, &company, 3).await;
    assert_eq!(found, ids[5..].to_vec());
    assert_eq!(pages[0], 0, "the first three orders are OPEN: {pages:?}");
    assert!(pages.len() >= 3, "{pages:?}");
}

/// Orders written before the list's keys-only index (`gsi2`) existed are in `gsi1`, with their
/// whole item: the list reads them first (they are the older ones), then goes on in `gsi2`, one
/// cursor across both; the erasure's search of an integration finds both kinds.
#[tokio::test]
async fn orders_written_before_the_keys_only_index_are_listed_first_then_the_others() {
    let stack = Stack::connect().await;
    let (company, ids) = company_with_orders(&stack, "kombo-legacy-index", 5).await;
    let db = &stack.aws.dynamodb;
    for id in &ids[..2] {
        // What the write path before `gsi2` stored: the list keys as `gsi1`'s.
        db.update_item()
            .table_name(&stack.config.table_name)
            .key("pk", AttributeValue::S(format!("ORDER#{id}")))
            .key("sk", AttributeValue::S("ORDER".into()))
            .update_expression("SET gsi1pk = gsi2pk, gsi1sk = gsi2sk REMOVE gsi2pk, gsi2sk")
            .condition_expression("attribute_exists(gsi2pk)")
            .send()
            .await
            .unwrap();
    }
    let (mut listed, mut cursors) = (Vec::new(), Vec::new());
    let mut next: Option<String> = None;
    loop {
        let path = match &next {
            Some(cursor) => format!("/assessment/orders?page_size=2&cursor={cursor}"),
            None => "/assessment/orders?page_size=2".to_string(),
        };
        let (status, answer) = get(&stack, &company, &path).await;
        assert_eq!(status, 200, "{answer}");
        listed.extend(ids_of(&answer));
        next = answer["data"]["next"].as_str().map(str::to_string);
        match &next {
            Some(cursor) => cursors.push(cursor.clone()),
            None => break,
        }
    }
    assert_eq!(listed, ids);
    // The first page ends in `gsi1`, the second in `gsi2`.
    use base64::Engine as _;
    let decoded = |cursor: &str| -> Value {
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(cursor)
                .unwrap(),
        )
        .unwrap()
    };
    assert!(decoded(&cursors[0]).get("gsi1sk").is_some(), "{cursors:?}");
    assert!(decoded(&cursors[1]).get("gsi2sk").is_some(), "{cursors:?}");

    // A cursor older than a later `created_after` (DynamoDB refuses a start key outside the
    // query's range) starts the list at the filter instead: from the third order, in `gsi2`.
    let third = stack.store.get_order(&ids[2]).await.unwrap().unwrap();
    let after = third
        .created_at
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string();
    let (status, answer) = get(
        &stack,
        &company,
        &format!(
            "/assessment/orders?page_size=2&created_after={after}&cursor={}",
            cursors[0]
        ),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(ids_of(&answer), ids[2..4].to_vec());

    // A status filter and `created_after` see both kinds too.
    for id in [&ids[0], &ids[4]] {
        let (code, answer) =
            put_result(&stack, &company, id, "", json!({"status": "COMPLETED"})).await;
        assert_eq!(code, 200, "{answer}");
    }
    let (status, answer) = get(&stack, &company, "/assessment/orders?statuses=COMPLETED").await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(ids_of(&answer), vec![ids[0].clone(), ids[4].clone()]);

    // With a budget of two orders a call, the hand-over from `gsi1` is a page boundary too.
    let (found, pages) = completed_over_bounded_pages(&stack, &company, 2).await;
    assert_eq!(found, vec![ids[0].clone(), ids[4].clone()]);
    assert!(
        pages.len() >= 3,
        "five orders read two at a time: {pages:?}"
    );

    let mut everything: Vec<String> = stack
        .store
        .all_orders_of_integration(&company.integration_id)
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.order_id)
        .collect();
    everything.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(everything, expected);
}

/// The company's `COMPLETED` orders, listed by the store reading at most `budget` orders a call:
/// their ids, and how many each call answered.
async fn completed_over_bounded_pages(
    stack: &Stack,
    company: &TestCompany,
    budget: usize,
) -> (Vec<String>, Vec<usize>) {
    let filter = connector::store::OrderFilter {
        statuses: vec![connector::orders::VendorOrderStatus::Completed],
        ..Default::default()
    };
    let (mut found, mut pages, mut cursor) = (Vec::new(), Vec::new(), None::<String>);
    loop {
        let page = stack
            .store
            .list_orders_scanning(
                &company.integration_id,
                &filter,
                cursor
                    .as_deref()
                    .and_then(|c| connector::store::OrderCursor::decode(c, &company.integration_id))
                    .as_ref(),
                100,
                budget,
            )
            .await
            .unwrap();
        pages.push(page.orders.len());
        found.extend(page.orders.into_iter().map(|o| o.order_id));
        match page.next {
            Some(next) => cursor = Some(next),
            None => return (found, pages),
        }
    }
}

fn ids_of(answer: &Value) -> Vec<String> {
    answer["data"]["results"]
        .as_array()
        .unwrap_or_else(|| panic!("{answer}"))
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn kombos_v1_base_url_reaches_the_same_api() {
    let stack = Stack::connect().await;
    let company = stack.new_company("kombo-v1").await;
    stack.put_catalog(&company, demo_catalog()).await;
    for path in ["/assessment/packages", "/v1/assessment/packages"] {
        let answer: Value = stack
            .vendor_request(reqwest::Method::GET, path, &company.integration_id)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            answer["data"]["packages"][0]["id"], "culture-fit",
            "{path}: {answer}"
        );
    }
    let answer: Value = stack
        .vendor_request(
            reqwest::Method::GET,
            "/v1/assessment/nowhere",
            &company.integration_id,
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["error"]["connector_code"], "ROUTE_NOT_FOUND");
}

#[tokio::test]
async fn a_dry_run_shows_what_sr_would_get_and_stores_and_queues_nothing() {
    let stack = Stack::connect().await;
    let company = stack.new_company("kombo-dry").await;
    stack.put_catalog(&company, demo_catalog()).await;
    let token = stack.access_token(&company).await;
    let (order_id, body) = order_body(&stack, &company, "java-senior");
    assert_eq!(stack.create_order(&token, &body).await.status(), 202);
    let queue = unpolled_results_queue(&stack).await;
    let api = connector::api::vendor::VendorApi::new(
        stack.store.clone(),
        queue.clone(),
        stack.vendor_key_verifier(),
    );
    let call = |query: &'static str, body: Value| {
        let api = &api;
        let auth = format!("Bearer {}", stack.vendor_api_key);
        let integration = company.integration_id.clone();
        let path = format!("/assessment/orders/{order_id}/result{query}");
        async move {
            let response = api
                .handle(request(
                    Method::PUT,
                    &path,
                    &[("authorization", &auth), ("x-integration-id", &integration)],
                    body.to_string(),
                ))
                .await
                .unwrap();
            (response.status().as_u16(), json_body(&response))
        }
    };
    let submission = json!({
        "status": "COMPLETED", "score": 87.5, "max_score": 100, "completed_at": "2026-05-01",
        "result_url": "https://vendor.example.com/r/1",
        "remote_fields": {"smartrecruiters": {"scoreLabel": "Strong hire"}},
        "attributes": [
            {"type": "SUB_RESULT", "id": "java-coding", "label": "Coding", "score": {"value": 9, "max": 10}, "status": "COMPLETED"},
            {"type": "SUB_RESULT", "id": "vendor-logic", "label": "Logic", "score": {"value": 4, "max": 5}, "status": "COMPLETED"}
        ],
        "attachments": [
            {"name": "Report.pdf", "content_type": "application/pdf", "data": "JVBERi0xLjcK"},
            {"name": "Interview.mp4", "content_type": "video/mp4", "data_url": "https://files.vendor.example.com/i.mp4"}
        ]
    });
    let (status, answer) = call("?dry_run=true", submission.clone()).await;
    assert_eq!(status, 200, "{answer}");
    let data = &answer["data"];
    assert_eq!(data["dry_run"], true);
    assert_eq!(data["revision_of"], Value::Null);
    assert_eq!(data["status"], "COMPLETED");
    let result = &data["package_result"];
    assert_eq!(result["status"], "COMPLETED");
    assert_eq!(result["score"], json!({"raw": 88, "min": 0, "max": 100}));
    assert_eq!(result["scoreLabel"], "Strong hire");
    assert_eq!(result["submissionDate"], "2026-05-01T00:00:00Z");
    assert_eq!(
        result["assessmentResults"][0]["assessmentId"],
        "java-coding"
    );
    assert_eq!(result["summary"], "Logic: 4/5, COMPLETED");
    assert_eq!(
        result["attachments"][0]["url"],
        "https://vendor.example.com/r/1"
    );
    assert_eq!(
        data["files"],
        json!([
            {"field": "attachments[0]", "name": "Report.pdf", "content_type": "application/pdf",
             "source": "INLINE", "size": 9},
            {"field": "attachments[1]", "name": "Interview.mp4", "content_type": "video/mp4",
             "source": "DATA_URL", "data_url": "https://files.vendor.example.com/i.mp4"}
        ])
    );
    let warnings: Vec<&str> = answer["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["message"].as_str().unwrap())
        .collect();
    assert!(warnings[1].contains("`vendor-logic`"), "{warnings:?}");

    // Validated exactly like a real submission.
    let invalid = json!({"status": "COMPLETED", "score": 120, "max_score": 100});
    let (dry_status, dry) = call("?dry_run=true", invalid.clone()).await;
    let (real_status, real) = call("", invalid).await;
    assert_eq!((dry_status, &dry["error"]), (real_status, &real["error"]));
    assert_input_invalid(dry_status, &dry, "score");
    let (status, answer) = call("?dry_run=maybe", submission).await;
    assert_input_invalid(status, &answer, "dry_run");
    for (said, listed) in [
        ("REJECTED", "REJECTED"),
        ("CANCELLED", "CANCELLED"),
        ("EXPIRED", "CANCELLED"),
    ] {
        let (_, answer) = call("?dry_run=true", json!({"status": said})).await;
        assert_eq!(answer["data"]["status"], listed, "{said}: {answer}");
    }

    // Nothing stored, nothing queued.
    let order = stack.store.get_order(&order_id).await.unwrap().unwrap();
    assert_eq!(order.result_version, 0);
    assert!(order.result.is_none() && order.submissions.is_empty());
    assert!(stack
        .store
        .order_files(&order_id, false)
        .await
        .unwrap()
        .is_empty());
    let queued = stack
        .aws
        .sqs
        .receive_message()
        .queue_url(queue.url())
        .wait_time_seconds(1)
        .send()
        .await
        .unwrap();
    assert!(queued.messages.unwrap_or_default().is_empty());
}

/// A dry run obeys the final-status rule as a real submission does: another status after a
/// final one is the same 409, the same final status a revision of the stored version.
#[tokio::test]
async fn a_dry_run_obeys_the_final_status_rule() {
    let stack = Stack::connect().await;
    let (company, order_id) = company_with_sim_order(&stack, "kombo-dry-late", "culture-fit").await;
    let (status, answer) = put_result(
        &stack,
        &company,
        &order_id,
        "",
        json!({"status": "COMPLETED"}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let late = json!({"status": "OPEN", "attachments": [
        {"name": "Report.pdf", "content_type": "application/pdf", "data": "JVBERi0xLjcK"}]});
    let (status, answer) = put_result(&stack, &company, &order_id, "?dry_run=true", late).await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(
        answer["error"]["connector_code"], "FINAL_STATUS",
        "{answer}"
    );
    assert_eq!(
        answer["error"]["code"], "PLATFORM.INPUT_INVALID",
        "{answer}"
    );
    let rescore = json!({"status": "COMPLETED", "score": 3, "max_score": 4});
    let (status, answer) = put_result(&stack, &company, &order_id, "?dry_run=true", rescore).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"]["revision_of"], 1, "{answer}");
    let order = stack.stored_order(&order_id).await;
    assert_eq!(order.result_version, 1, "a dry run stores nothing");
}

#[tokio::test]
async fn a_submission_maps_foreign_sub_results_and_remote_fields_through_to_sr() {
    let stack = Stack::connect().await;
    let (company, order_id) = company_with_sim_order(&stack, "kombo-submit", "java-senior").await;
    let (status, answer) = put_result(&stack, &company, &order_id, "", json!({
        "status": "COMPLETED", "score": 70.5, "max_score": 80, "completed_at": "2026-05-01T09:30:00",
        "result_url": "https://vendor.example.com/r/2",
        "remote_fields": {"smartrecruiters": {"scoreLabel": "Hire"}, "recruitee": {"subtitle": "x"}},
        "attributes": [
            {"type": "TEXT", "label": "Role fit", "value": "Good"},
            {"type": "SUB_RESULT", "id": "system-design", "label": "Design", "score": {"value": 15, "max": 20}, "status": "COMPLETED"},
            {"type": "SUB_RESULT", "id": "vendor-personality", "label": "Personality", "score": {"value": 97, "max": 100}, "status": "COMPLETED"}
        ]
    })).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["warnings"].as_array().unwrap().len(), 3, "{answer}");
    let sr = connector_tests::scenario::sr_result_with_status(&stack, &order_id, "COMPLETED").await;
    let result = &sr["result"];
    assert_eq!(result["score"], json!({"raw": 71, "min": 0, "max": 80}));
    assert_eq!(result["scoreLabel"], "Hire");
    assert_eq!(result["submissionDate"], "2026-05-01T09:30:00Z");
    assert_eq!(
        result["summary"],
        "Role fit: Good\nPersonality: 97/100, COMPLETED"
    );
    assert_eq!(result["assessmentResults"].as_array().unwrap().len(), 1);
    assert_eq!(
        result["assessmentResults"][0]["assessmentId"],
        "system-design"
    );
    assert_eq!(
        result["assessmentResults"][0]["score"],
        json!({"raw": 15, "min": 0, "max": 20})
    );
}

#[tokio::test]
async fn inline_orders_ask_the_vendor_for_the_url_once() {
    let stack = Stack::connect().await;
    let company = stack.new_company("kombo-inline").await;
    publish_full_catalog(&stack, &company).await;
    let vendor = VendorEndpoint::start(Answer::AssessmentUrl).await;
    let api = partner_api_asking(&stack, Some(&vendor.url), Duration::from_secs(5));
    let (order_id, body) = inline_order_body(&stack, &company, "ask");
    let (status, answer) = place_inline_order(&stack, &api, &company, &body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["url"], assessment_url_for(&order_id));
    let order = stack.store.get_order(&order_id).await.unwrap().unwrap();
    let inline = order.inline.unwrap();
    assert_eq!(inline.url_source, InlineUrlSource::Vendor);
    assert_eq!(inline.assessment_url, assessment_url_for(&order_id));

    let received = vendor.received();
    assert_eq!(received.len(), 1);
    let call = &received[0];
    let secret = signing_secret(&stack).await;
    assert!(connector::kombo::webhooks::verify(
        secret.as_bytes(),
        call.header("x-kombo-signature"),
        &call.body
    ));
    connector::webhooks::verify(
        secret.as_bytes(),
        call.header("x-connector-timestamp"),
        call.header("x-connector-signature"),
        &call.body,
        Utc::now(),
        Duration::from_secs(300),
    )
    .expect("the connector's signature too");
    let event = call.json();
    assert_eq!(event["type"], "inline-assessment:order-received");
    assert_eq!(event["data"]["id"], order_id.as_str());
    assert_eq!(event["data"]["package_id"], "ask");
    assert_eq!(event["data"]["candidate"]["email"], "grace@example.com");
    assert_eq!(event["data"]["candidate"]["remote_id"], Value::Null);

    // SR retrying the order gets the stored URL; the vendor is not asked again.
    let (status, again) = place_inline_order(&stack, &api, &company, &body).await;
    assert_eq!((status, &again), (200, &answer));
    assert_eq!(vendor.received().len(), 1);
    // A package with a template does not ask.
    let (_, templated) = inline_order_body(&stack, &company, "quiz");
    let (status, answer) = place_inline_order(&stack, &api, &company, &templated).await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer["url"]
        .as_str()
        .unwrap()
        .starts_with("https://assess.example.com/quiz/"));
    assert_eq!(vendor.received().len(), 1);
}

#[tokio::test]
async fn a_vendor_that_does_not_answer_a_url_leaves_sr_a_clear_error_and_nothing_stored() {
    let stack = Stack::connect().await;
    let company = stack.new_company("kombo-inline-fail").await;
    publish_full_catalog(&stack, &company).await;
    let cases = [
        (
            Answer::Slow(Duration::from_secs(3)),
            504,
            "INLINE_URL_TIMEOUT",
            "within 400 ms",
        ),
        (
            Answer::Reply(500, "{}".into()),
            502,
            "INLINE_URL_UNAVAILABLE",
            "HTTP 500",
        ),
        (
            Answer::Reply(200, "{}".into()),
            502,
            "INLINE_URL_UNAVAILABLE",
            "`assessment_url`",
        ),
        (
            Answer::Reply(
                200,
                r#"{"assessment_url": "http://plain.example.com/a"}"#.into(),
            ),
            502,
            "INLINE_URL_UNAVAILABLE",
            "https",
        ),
        (
            Answer::Reply(301, String::new()),
            502,
            "INLINE_URL_UNAVAILABLE",
            "HTTP 301",
        ),
        (
            // A valid URL in an answer over 64 KiB: not read past the bound.
            Answer::Reply(
                200,
                json!({"assessment_url": "https://assess.example.com/a", "pad": "x".repeat(70_000)})
                    .to_string(),
            ),
            502,
            "INLINE_URL_UNAVAILABLE",
            "more than 65536 bytes",
        ),
    ];
    for (behaviour, status, code, mentions) in cases {
        let vendor = VendorEndpoint::start(behaviour.clone()).await;
        let api = partner_api_asking(&stack, Some(&vendor.url), Duration::from_millis(400));
        let (order_id, body) = inline_order_body(&stack, &company, "ask");
        let (answered, answer) = place_inline_order(&stack, &api, &company, &body).await;
        assert_eq!(answered, status, "{behaviour:?}: {answer}");
        assert_eq!(answer["errors"][0]["code"], code, "{answer}");
        assert!(
            answer["message"].as_str().unwrap().contains(mentions),
            "{behaviour:?}: {answer}"
        );
        assert!(stack.store.get_order(&order_id).await.unwrap().is_none());
    }
    let api = partner_api_asking(&stack, None, Duration::from_secs(1));
    let (order_id, body) = inline_order_body(&stack, &company, "ask");
    let (answered, answer) = place_inline_order(&stack, &api, &company, &body).await;
    assert_eq!(answered, 502, "{answer}");
    assert!(answer["message"].as_str().unwrap().contains("WebhookUrl"));
    assert!(stack.store.get_order(&order_id).await.unwrap().is_none());
}

#[tokio::test]
async fn kombo_webhooks_come_signed_from_the_dispatcher_in_kombos_shape() {
    let stack = Stack::connect().await;
    let vendor = VendorEndpoint::start(Answer::AssessmentUrl).await;
    let story = webhook_story(&stack, &vendor.url).await;
    assert_eq!(
        story["dispatched"],
        json!(["Done", "Done", "Done"]),
        "{story}"
    );
    let secret = story["signing_secret"].as_str().unwrap();
    let received = vendor.received();
    assert_eq!(
        received.len(),
        4,
        "the inline call and three dispatched events"
    );
    let mut by_order = std::collections::HashMap::new();
    for call in &received {
        assert!(connector::kombo::webhooks::verify(
            secret.as_bytes(),
            call.header("x-kombo-signature"),
            &call.body
        ));
        let event = call.json();
        let mut keys: Vec<&String> = event.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, ["data", "id", "type"]);
        by_order.insert(event["data"]["id"].as_str().unwrap().to_string(), event);
    }
    let order = &by_order[story["order_id"].as_str().unwrap()];
    assert_eq!(order["type"], "assessment:order-received");
    assert_eq!(order["data"]["package_id"], "assessed");
    assert_eq!(order["data"]["status"], "OPEN");
    assert_eq!(order["data"]["integration_id"], story["integration_id"]);
    // Sent after enrichment: the job's location and hiring team are in.
    assert_eq!(order["data"]["job"]["location"]["country"], "SE");
    assert_eq!(
        order["data"]["job"]["hiring_team"][0]["hiring_team_roles"],
        json!(["HIRING_MANAGER"])
    );
    // Enrichment given up: the vendor hears of the order with what SR's order carries.
    let never_enriched = &by_order[story["never_enriched_order_id"].as_str().unwrap()];
    assert_eq!(never_enriched["type"], "assessment:order-received");
    assert_eq!(never_enriched["data"]["candidate"]["first_name"], "Ada");
    assert_eq!(never_enriched["data"]["job"]["name"], "Engineer");
    assert_eq!(never_enriched["data"]["job"]["location"], Value::Null);
    let inline = &by_order[story["inline_order_id"].as_str().unwrap()];
    assert_eq!(inline["type"], "inline-assessment:order-received");
    let asked = &by_order[story["asked_order_id"].as_str().unwrap()];
    assert_eq!(asked["type"], "inline-assessment:order-received");
    assert_eq!(
        story["asked_order_answer"]["body"]["url"],
        assessment_url_for(story["asked_order_id"].as_str().unwrap())
    );

    // The Kombo events are listed with their outcome; nothing else was POSTed.
    let company = TestCompany {
        company_id: story["company_id"].as_str().unwrap().into(),
        integration_id: story["integration_id"].as_str().unwrap().into(),
    };
    let (_, events) = get(&stack, &company, "/assessment/events?page_size=100").await;
    let kombo: Vec<&Value> = events["data"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"].as_str().unwrap().contains(':'))
        .collect();
    assert_eq!(kombo.len(), 3, "{events}");
    assert!(kombo.iter().all(|e| e["webhook"]["state"] == "DELIVERED"));
    assert!(kombo.iter().any(|e| e["id"]
        == format!(
            "assessment:order-received:{}",
            story["order_id"].as_str().unwrap()
        )));
    // The stack's own format (connector) records no Kombo event for an enriched order.
    let (plain_id, _, _) = stack.sim.place_order(&company.company_id, "assessed").await;
    let enriched = enriched_order(&stack, &plain_id).await;
    // `order.enriched` is recorded right after the enrichment is stored.
    let kinds = connector_tests::eventually(
        "order.enriched to be listed",
        Duration::from_secs(60),
        || async {
            let (_, events) = get(&stack, &company, "/assessment/events?page_size=100").await;
            let kinds: Vec<String> = events["data"]["results"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| {
                    e["data"]["order_id"] == enriched.order_id.as_str()
                        || e["data"]["id"] == enriched.order_id.as_str()
                })
                .map(|e| e["type"].as_str().unwrap().to_string())
                .collect();
            kinds.iter().any(|k| k == "order.enriched").then_some(kinds)
        },
    )
    .await;
    assert!(!kinds.iter().any(|k| k.contains(':')), "{kinds:?}");
}
