//! Real SR and API Gateway requests. Each HTTP function gets real API Gateway HTTP API events
//! (payload 2.0, through cargo lambda watch's invoke endpoint): base64 form and JSON bodies, a
//! stage-prefixed `rawPath`, cookies in their own list, an order without `Content-Type` — and
//! answers as it does to the plain form of the same request. SR's `requester` header with raw
//! UTF-8 goes through the SR simulator, as SR sends it.

use connector_tests::apigw::{HttpApiAnswer, HttpApiEvent};
use connector_tests::{order_body, unique, Stack, TestCompany};
use serde_json::{json, Value};

const FORM: &str = "application/x-www-form-urlencoded";
const REQUESTER: &str =
    r#"{"email":"zoe.nunez+qa@example.com","firstName":"Zoë","lastName":"Núñez"}"#;

/// A company whose catalog has a package only `example.com` recruiters see, an inline package
/// and an unrestricted one; and an access token of it.
async fn company(stack: &Stack, label: &str) -> (TestCompany, String) {
    let company = stack.new_company(label).await;
    stack
        .put_catalog(
            &company,
            json!({"packages": [
                {"id": "java-senior", "type": "SKILLS_TEST", "name": "Senior Java developer",
                 "availability": {"requester_domains": ["example.com"]}},
                {"id": "chat-inline", "type": "INLINE_ASSESSMENT", "name": "Chat interview",
                 "inline_url_template": "https://vendor.example.com/take/{orderId}"},
                {"id": "culture-fit", "type": "BEHAVIORAL_ASSESSMENT", "name": "Culture fit"}
            ]}),
        )
        .await;
    let token = stack.access_token(&company).await;
    (company, token)
}

fn ids(packages: &Value) -> Vec<&str> {
    let mut ids: Vec<&str> = packages
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["id"].as_str())
        .collect();
    ids.sort_unstable();
    ids
}

/// The same request, plain (`$default` stage, text body) and as API Gateway sends it (`prod`
/// stage, base64 body): both answers.
async fn plain_and_gateway(
    stack: &Stack,
    function: &str,
    route_key: &str,
    path: &str,
    build: impl Fn(HttpApiEvent, bool) -> HttpApiEvent,
) -> (HttpApiAnswer, HttpApiAnswer) {
    let plain = build(HttpApiEvent::new(route_key, "$default", path), false);
    let gateway = build(HttpApiEvent::new(route_key, "prod", path), true);
    (
        stack.invoke_http_api(function, &plain).await,
        stack.invoke_http_api(function, &gateway).await,
    )
}

#[tokio::test]
async fn the_token_form_base64_encoded_behind_a_stage_gets_a_token() {
    let stack = Stack::connect().await;
    let (company, _) = company(&stack, "apigw-token").await;
    let inbound = stack.inbound_credentials(&company.company_id).await;
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "client_credentials")
        .append_pair("client_id", &inbound.client_id)
        .append_pair("client_secret", &inbound.client_secret)
        .finish();
    let (plain, gateway) = plain_and_gateway(
        &stack,
        "oauth-token",
        "POST /oauth/token",
        "/oauth/token",
        |event, base64| {
            event
                .header("content-type", FORM)
                .body(form.as_bytes(), base64)
        },
    )
    .await;
    for answer in [&plain, &gateway] {
        assert_eq!(answer.status, 200, "{}", answer.text());
        assert_eq!(answer.json()["token_type"], "Bearer");
        assert!(answer.json()["access_token"].is_string());
    }
}

#[tokio::test]
async fn packages_behind_a_stage_with_a_utf8_requester_answer_as_plain_requests_do() {
    let stack = Stack::connect().await;
    let (_, token) = company(&stack, "apigw-packages").await;
    let bearer = format!("Bearer {token}");
    let (plain, gateway) = plain_and_gateway(
        &stack,
        "list-packages",
        "GET /packages",
        "/packages",
        |event, _| {
            event
                .header("authorization", &bearer)
                .header("requester", REQUESTER)
                .query("country-code=SE")
        },
    )
    .await;
    assert_eq!(
        (plain.status, gateway.status),
        (200, 200),
        "{}",
        gateway.text()
    );
    assert_eq!(plain.json(), gateway.json());
    assert_eq!(
        ids(&gateway.json()),
        ["chat-inline", "culture-fit", "java-senior"],
        "the requester's domain sees its package"
    );

    let (plain, gateway) = plain_and_gateway(
        &stack,
        "get-package",
        "GET /packages/{assessmentPackageId}",
        "/packages/java-senior",
        |event, _| {
            event
                .header("authorization", &bearer)
                .path_parameter("assessmentPackageId", "java-senior")
        },
    )
    .await;
    assert_eq!(
        (plain.status, gateway.status),
        (200, 200),
        "{}",
        gateway.text()
    );
    assert_eq!(plain.json(), gateway.json());
    assert_eq!(gateway.json()["id"], "java-senior");
}

#[tokio::test]
async fn sr_sends_a_requester_with_accents_and_gets_the_packages() {
    let stack = Stack::connect().await;
    let (company, _) = company(&stack, "requester").await;
    let requester: Value = serde_json::from_str(REQUESTER).unwrap();
    let listed = stack
        .sim
        .list_packages_for(&company.company_id, json!({}), Some(requester))
        .await;
    assert_eq!(listed.status, 200, "{:?}", listed.body);
    assert_eq!(
        ids(&listed.body),
        ["chat-inline", "culture-fit", "java-senior"]
    );
    // Only malformed JSON or a missing email is refused.
    for bad in [json!("not json {"), json!({"firstName": "Zoë"})] {
        let listed = stack
            .sim
            .list_packages_for(&company.company_id, json!({}), Some(bad.clone()))
            .await;
        assert_eq!(listed.status, 400, "{bad}: {:?}", listed.body);
        assert_eq!(listed.body["errors"][0]["code"], "INVALID_REQUESTER");
    }
}

#[tokio::test]
async fn orders_without_content_type_or_base64_encoded_are_accepted() {
    let stack = Stack::connect().await;
    let (company, token) = company(&stack, "apigw-orders").await;
    let bearer = format!("Bearer {token}");
    for (content_type, base64) in [
        (Some("application/json"), false),
        (None, false),
        (None, true),
    ] {
        let (order_id, body) = order_body(&stack, &company, "culture-fit");
        let mut event = HttpApiEvent::new("POST /packages/orders", "prod", "/packages/orders")
            .header("authorization", &bearer)
            .body(body.to_string().as_bytes(), base64);
        if let Some(content_type) = content_type {
            event = event.header("content-type", content_type);
        }
        let answer = stack.invoke_http_api("create-order", &event).await;
        assert_eq!(answer.status, 202, "{content_type:?}: {}", answer.text());
        assert_eq!(answer.json(), json!({}));
        assert!(stack.store.get_order(&order_id).await.unwrap().is_some());
    }

    let callback = |order_id: &str| {
        stack
            .config
            .sr
            .api_url(&format!("orders/{order_id}/results"))
            .to_string()
    };
    let order_id = connector_tests::uuid();
    let inline = json!({
        "resultCallbackURL": callback(&order_id),
        "candidate": {"email": "zoe@example.com", "firstName": "Zoë", "lastName": "Núñez", "applicationLanguage": "es"},
        "job": {"id": connector_tests::uuid()},
        "assessmentPackageId": "chat-inline",
        "companyId": company.company_id,
        "completedAssessmentCallbackUrl": "https://www.smartrecruiters.com/inline/done/abc"
    });
    let event = HttpApiEvent::new(
        "POST /packages/inline/orders",
        "prod",
        "/packages/inline/orders",
    )
    .header("authorization", &bearer)
    .body(inline.to_string().as_bytes(), true);
    let answer = stack.invoke_http_api("create-inline-order", &event).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(
        answer.json()["url"],
        format!("https://vendor.example.com/take/{order_id}")
    );
}

/// Opens the consent page and posts the key, both as `stage` API Gateway events; the final page.
async fn connect_through_events(
    stack: &Stack,
    stage: &str,
    base64: bool,
    company_id: &str,
    key: &str,
) -> HttpApiAnswer {
    let page = stack
        .invoke_http_api(
            "consent",
            &HttpApiEvent::new("GET /integration", stage, "/integration")
                .query(&format!("companyId={company_id}")),
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.text());
    let csrf = connector_tests::consent::csrf_in(
        page.cookies
            .iter()
            .map(String::as_str)
            .chain(page.headers["set-cookie"].as_str()),
    )
    .expect("the page sets its CSRF cookie");
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("csrf", &csrf)
        .append_pair("company_id", company_id)
        .append_pair("step", "key")
        .append_pair("connect_key", key)
        .finish();
    let post = HttpApiEvent::new("POST /integration", stage, "/integration")
        .header("content-type", FORM)
        .cookie(&format!("consent_csrf={csrf}"))
        .body(form.as_bytes(), base64);
    stack.invoke_http_api("consent", &post).await
}

#[tokio::test]
async fn the_consent_form_base64_encoded_with_its_cookie_list_connects() {
    let stack = Stack::connect().await;
    stack.configure_partner().await;
    for (stage, base64) in [("$default", false), ("prod", true)] {
        let org = unique("apigw-org");
        let key = stack.connect_key(&[(&org, "Acme")]).await;
        let company_id = unique("apigw-consent");
        let done = connect_through_events(&stack, stage, base64, &company_id, &key).await;
        assert_eq!(done.status, 200, "{stage}: {}", done.text());
        assert!(
            done.text().contains("id=\"done\""),
            "{stage}: {}",
            done.text()
        );
        let company = stack.store.get_company(&company_id).await.unwrap();
        assert_eq!(company.unwrap().integration_id, org);
    }
}

#[tokio::test]
async fn disable_and_the_vendor_api_behind_a_stage_answer_as_plain_requests_do() {
    let stack = Stack::connect().await;
    let (company, token) = company(&stack, "apigw-vendor").await;
    let key = format!("Bearer {}", stack.vendor_api_key);
    let (plain, gateway) = plain_and_gateway(
        &stack,
        "vendor-api",
        "ANY /assessment/{proxy+}",
        "/assessment/packages",
        |event, _| {
            event
                .method("GET")
                .header("authorization", &key)
                .header("x-integration-id", &company.integration_id)
                .path_parameter("proxy", "packages")
        },
    )
    .await;
    assert_eq!(
        (plain.status, gateway.status),
        (200, 200),
        "{}",
        gateway.text()
    );
    assert_eq!(plain.json(), gateway.json());

    let (order_id, body) = order_body(&stack, &company, "culture-fit");
    assert_eq!(stack.create_order(&token, &body).await.status(), 202);
    let result = json!({"status": "COMPLETED", "score": 9, "max_score": 10});
    let submit = HttpApiEvent::new(
        "ANY /assessment/{proxy+}",
        "prod",
        &format!("/assessment/orders/{order_id}/result"),
    )
    .method("PUT")
    .header("authorization", &key)
    .header("x-integration-id", &company.integration_id)
    .header("content-type", "application/json")
    .path_parameter("proxy", &format!("orders/{order_id}/result"))
    .body(result.to_string().as_bytes(), true);
    let answer = stack.invoke_http_api("vendor-api", &submit).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.json()["data"]["result_version"], 1);

    let disable = HttpApiEvent::new(
        "DELETE /integrations/companies/{companyId}",
        "prod",
        &format!("/integrations/companies/{}", company.company_id),
    )
    .header("authorization", &format!("Bearer {token}"))
    .path_parameter("companyId", &company.company_id);
    let answer = stack.invoke_http_api("disable-integration", &disable).await;
    assert_eq!(answer.status, 204, "{}", answer.text());
}
