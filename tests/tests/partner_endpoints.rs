//! The SR-facing handlers, in-process, against moto with the real AWS SDK clients.

use connector_tests::scenario::{company_with_catalog, demo_catalog};
use connector_tests::{json_body, order_body, request, Stack};
use lambda_http::http::Method;
use serde_json::json;

fn token_form(body: &str, content_type: &str) -> lambda_http::Request {
    request(
        Method::POST,
        "/oauth/token",
        &[("content-type", content_type)],
        body,
    )
}

#[tokio::test]
async fn token_endpoint_issues_a_no_store_bearer_token() {
    let stack = Stack::connect().await;
    let company = stack.new_company("token").await;
    let response = stack.token_response(&company).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body = json_body(&response);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert!(body["access_token"].as_str().unwrap().len() > 40);
}

#[tokio::test]
async fn token_endpoint_answers_rfc6749_errors() {
    let stack = Stack::connect().await;
    let company = stack.new_company("token-errors").await;
    let inbound = stack.inbound_credentials(&company.company_id).await;
    let api = stack.partner_api();
    let form = "application/x-www-form-urlencoded";
    let cases = [
        (
            format!(
                "grant_type=client_credentials&client_id={}&client_secret=wrong",
                inbound.client_id
            ),
            form,
            401,
            "invalid_client",
        ),
        (
            "grant_type=client_credentials&client_id=src_unknown&client_secret=x".to_string(),
            form,
            401,
            "invalid_client",
        ),
        (
            format!(
                "grant_type=password&client_id={}&client_secret={}",
                inbound.client_id, inbound.client_secret
            ),
            form,
            400,
            "unsupported_grant_type",
        ),
        (
            "grant_type=client_credentials".to_string(),
            form,
            400,
            "invalid_request",
        ),
        (
            "client_id=a&client_secret=b".to_string(),
            form,
            400,
            "invalid_request",
        ),
        (
            format!(
                "grant_type=client_credentials&client_id={}&client_secret={}",
                inbound.client_id, inbound.client_secret
            ),
            "application/json",
            400,
            "invalid_request",
        ),
    ];
    for (body, content_type, status, error) in cases {
        let response = api
            .oauth_token(token_form(&body, content_type))
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{body} ({content_type})");
        assert_eq!(response.headers()["cache-control"], "no-store");
        let json = json_body(&response);
        assert_eq!(json["error"], error, "{body}");
        assert!(json["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()));
        assert!(
            !json.to_string().contains(&inbound.client_secret),
            "secret echoed"
        );
    }
}

#[tokio::test]
async fn packages_need_a_valid_bearer_token() {
    let stack = Stack::connect().await;
    let api = stack.partner_api();
    for auth in [
        None,
        Some("Bearer nonsense"),
        Some("Basic abc"),
        Some("Bearer YQ.Yg.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
    ] {
        let headers: Vec<(&str, &str)> =
            auth.map(|a| vec![("authorization", a)]).unwrap_or_default();
        let response = api
            .list_packages(request(Method::GET, "/packages", &headers, ""))
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{auth:?}");
        let body = json_body(&response);
        assert_eq!(body["errors"][0]["code"], "UNAUTHORIZED");
        assert!(body["message"].as_str().unwrap().contains("token"));
    }
}

#[tokio::test]
async fn packages_are_listed_for_the_tokens_company_and_204_when_none() {
    let stack = Stack::connect().await;
    let company = stack.new_company("no-catalog").await;
    let token = stack.access_token(&company).await;
    let auth = format!("Bearer {token}");
    let api = stack.partner_api();
    let empty = api
        .list_packages(request(
            Method::GET,
            "/packages",
            &[("authorization", &auth)],
            "",
        ))
        .await
        .unwrap();
    assert_eq!(empty.status(), 204);

    stack.put_catalog(&company, demo_catalog()).await;
    let listed = api
        .list_packages(request(
            Method::GET,
            "/packages",
            &[
                ("authorization", &auth),
                ("requester", r#"{"email":"r@example.com"}"#),
            ],
            "",
        ))
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    let body = json_body(&listed);
    assert_eq!(body.as_array().unwrap().len(), 2);
    // Kombo's SKILLS_TEST is SR's SKILL_TEST.
    let java = body
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "java-senior")
        .unwrap();
    assert_eq!(java["type"], "SKILL_TEST");
    assert_eq!(java["assessments"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn malformed_requester_header_is_a_400_naming_it() {
    let stack = Stack::connect().await;
    let (_, token) = company_with_catalog(&stack, "requester").await;
    let auth = format!("Bearer {token}");
    for bad in ["not json", r#"{"mail":"x"}"#, r#"{"email":5}"#] {
        let response = stack
            .partner_api()
            .list_packages(request(
                Method::GET,
                "/packages",
                &[("authorization", &auth), ("requester", bad)],
                "",
            ))
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{bad}");
        assert!(json_body(&response)["message"]
            .as_str()
            .unwrap()
            .contains("requester"));
    }
}

#[tokio::test]
async fn single_package_and_unknown_package() {
    let stack = Stack::connect().await;
    let (_, token) = company_with_catalog(&stack, "single").await;
    let auth = format!("Bearer {token}");
    let api = stack.partner_api();
    let found = api
        .get_package(request(
            Method::GET,
            "/packages/culture-fit",
            &[("authorization", &auth)],
            "",
        ))
        .await
        .unwrap();
    assert_eq!(found.status(), 200);
    assert_eq!(json_body(&found)["type"], "BEHAVIORAL_ASSESSMENT");
    let missing = api
        .get_package(request(
            Method::GET,
            "/packages/nope",
            &[("authorization", &auth)],
            "",
        ))
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(
        json_body(&missing)["errors"][0]["code"],
        "PACKAGE_NOT_FOUND"
    );
}

#[tokio::test]
async fn a_token_only_sees_its_own_companys_packages() {
    let stack = Stack::connect().await;
    let (_, token_a) = company_with_catalog(&stack, "tenant-a").await;
    let company_b = stack.new_company("tenant-b").await;
    stack
        .put_catalog(
            &company_b,
            json!({"packages": [{"id": "b-only", "type": "SKILL_TEST", "name": "B"}]}),
        )
        .await;
    let get_b_only = |token: &str| {
        let auth = format!("Bearer {token}");
        request(
            Method::GET,
            "/packages/b-only",
            &[("authorization", &auth)],
            "",
        )
    };
    let response = stack
        .partner_api()
        .get_package(get_b_only(&token_a))
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    // The control: the owner's token sees the same package, so the 404 above is the tenant
    // boundary, not a package that cannot be read at all.
    let token_b = stack.access_token(&company_b).await;
    let response = stack
        .partner_api()
        .get_package(get_b_only(&token_b))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(json_body(&response)["id"], "b-only");
}

#[tokio::test]
async fn order_is_accepted_with_202_and_stored_with_candidate_job_requester_fields() {
    let stack = Stack::connect().await;
    let (company, token) = company_with_catalog(&stack, "order").await;
    let (order_id, body) = order_body(&stack, &company, "java-senior");
    let response = stack.create_order(&token, &body).await;
    assert_eq!(response.status(), 202);
    assert_eq!(json_body(&response), json!({}));
    let order = stack
        .store
        .get_order(&order_id)
        .await
        .unwrap()
        .expect("order stored");
    assert_eq!(order.company_id, company.company_id);
    assert_eq!(order.integration_id, company.integration_id);
    assert_eq!(order.candidate.email.as_deref(), Some("ada@example.com"));
    assert_eq!(order.job.ref_number.as_deref(), Some("REF-1"));
    assert_eq!(order.requester.unwrap().email, "recruiter@example.com");
    assert_eq!(order.fields["lens"], "blue");
    assert_eq!(
        order.package.assessment_ids,
        vec!["java-coding", "system-design"]
    );
}

#[tokio::test]
async fn sr_retrying_an_order_creates_one_order() {
    let stack = Stack::connect().await;
    let (company, token) = company_with_catalog(&stack, "retry").await;
    let (order_id, body) = order_body(&stack, &company, "java-senior");
    // Sequential retry and two racing retries.
    assert_eq!(stack.create_order(&token, &body).await.status(), 202);
    let (a, b) = tokio::join!(
        stack.create_order(&token, &body),
        stack.create_order(&token, &body)
    );
    assert_eq!((a.status().as_u16(), b.status().as_u16()), (202, 202));
    let page = stack
        .store
        .list_orders(&company.integration_id, &Default::default(), None, 50)
        .await
        .unwrap();
    let ids: Vec<&str> = page.orders.iter().map(|o| o.order_id.as_str()).collect();
    assert_eq!(ids, vec![order_id.as_str()]);
}

#[tokio::test]
async fn reusing_an_order_id_with_other_content_is_a_conflict() {
    let stack = Stack::connect().await;
    let (company, token) = company_with_catalog(&stack, "conflict").await;
    let (_, mut body) = order_body(&stack, &company, "java-senior");
    assert_eq!(stack.create_order(&token, &body).await.status(), 202);
    body["assessmentPackageId"] = json!("culture-fit");
    let response = stack.create_order(&token, &body).await;
    assert_eq!(response.status(), 409);
    assert_eq!(json_body(&response)["errors"][0]["code"], "ORDER_EXISTS");
}

#[tokio::test]
async fn bad_orders_get_clear_4xx_errors_and_store_nothing() {
    let stack = Stack::connect().await;
    let (company, token) = company_with_catalog(&stack, "bad-order").await;
    let sr_base = stack
        .config
        .sr
        .api_base_url
        .as_str()
        .trim_end_matches('/')
        .to_string();
    type Edit = Box<dyn Fn(&mut serde_json::Value)>;
    let cases: Vec<(&str, Edit, u16, &str)> = vec![
        (
            "missing candidate",
            Box::new(|b| {
                b.as_object_mut().unwrap().remove("candidate");
            }),
            400,
            "candidate",
        ),
        (
            "missing candidate id",
            Box::new(|b| {
                b["candidate"].as_object_mut().unwrap().remove("id");
            }),
            400,
            "candidate",
        ),
        (
            "numeric package id",
            Box::new(|b| b["assessmentPackageId"] = json!(5)),
            400,
            "assessmentPackageId",
        ),
        (
            "empty job id",
            Box::new(|b| b["job"]["id"] = json!("")),
            400,
            "job.id",
        ),
        (
            "callback without order id",
            Box::new({
                let u = format!("{sr_base}/results");
                move |b| b["resultCallbackURL"] = json!(u)
            }),
            400,
            "resultCallbackURL",
        ),
        (
            "callback elsewhere",
            Box::new(|b| {
                b["resultCallbackURL"] = json!("https://evil.example.com/orders/1/results")
            }),
            400,
            "resultCallbackURL",
        ),
        (
            "unknown package",
            Box::new(|b| b["assessmentPackageId"] = json!("nope")),
            404,
            "nope",
        ),
        (
            "another company",
            Box::new(|b| b["companyId"] = json!("someone-else")),
            403,
            "companyId",
        ),
    ];
    for (name, edit, status, mention) in cases {
        let (order_id, mut body) = order_body(&stack, &company, "java-senior");
        edit(&mut body);
        let response = stack.create_order(&token, &body).await;
        assert_eq!(response.status(), status, "{name}");
        let message = json_body(&response)["message"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(message.contains(mention), "{name}: {message}");
        assert!(
            stack.store.get_order(&order_id).await.unwrap().is_none(),
            "{name}: order stored"
        );
    }
    let not_json = stack
        .partner_api()
        .create_order(request(
            Method::POST,
            "/packages/orders",
            &[
                ("authorization", &format!("Bearer {token}")),
                ("content-type", "application/json"),
            ],
            "{oops",
        ))
        .await
        .unwrap();
    assert_eq!(not_json.status(), 400);
    let wrong_type = stack
        .partner_api()
        .create_order(request(
            Method::POST,
            "/packages/orders",
            &[
                ("authorization", &format!("Bearer {token}")),
                ("content-type", "text/plain"),
            ],
            "{}",
        ))
        .await
        .unwrap();
    assert_eq!(wrong_type.status(), 415);
}

#[tokio::test]
async fn unknown_fields_from_sr_are_kept_not_refused() {
    let stack = Stack::connect().await;
    let (company, token) = company_with_catalog(&stack, "unknown-fields").await;
    let (order_id, mut body) = order_body(&stack, &company, "culture-fit");
    body["somethingNew"] = json!({"nested": true});
    body["candidate"]["location"] = json!({"city": "Malmö"});
    assert_eq!(stack.create_order(&token, &body).await.status(), 202);
    let order = stack.store.get_order(&order_id).await.unwrap().unwrap();
    assert_eq!(order.candidate.other["location"]["city"], "Malmö");
}
