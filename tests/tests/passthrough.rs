//! The vendor API's SR passthrough (`POST /assessment/passthrough/sr`), in-process against moto
//! and the SR simulator's Customer API (`/candidates/{id}`, `/jobs/{id}`, `/jobs/{id}/hiring-team`).

use connector::api::vendor::VendorApi;
use connector::passthrough::{Passthrough, PassthroughSettings};
use connector::sr::SrClient;
use connector_tests::{json_body, request, Stack, TestCompany};
use lambda_http::http::Method;
use serde_json::{json, Value};

fn api(stack: &Stack, settings: PassthroughSettings, sr: SrClient) -> VendorApi {
    stack
        .vendor_api()
        .with_passthrough(Passthrough::new(stack.secrets.clone(), sr, settings))
}

fn read_only(stack: &Stack) -> VendorApi {
    api(
        stack,
        PassthroughSettings::default(),
        SrClient::new(stack.config.sr.clone()),
    )
}

/// One passthrough call as `integration`; the HTTP status, the JSON answer and its raw text.
async fn call(
    stack: &Stack,
    api: &VendorApi,
    integration: &str,
    body: Value,
) -> (u16, Value, String) {
    let auth = format!("Bearer {}", stack.vendor_api_key);
    let response = api
        .handle(request(
            Method::POST,
            "/assessment/passthrough/sr",
            &[
                ("authorization", &auth),
                ("x-integration-id", integration),
                ("content-type", "application/json"),
            ],
            body.to_string(),
        ))
        .await
        .unwrap();
    let text = match response.body() {
        lambda_http::Body::Text(t) => t.clone(),
        _ => String::new(),
    };
    (response.status().as_u16(), json_body(&response), text)
}

fn get(company: &TestCompany, path: &str) -> Value {
    json!({"company_id": company.company_id, "method": "GET", "path": path})
}

/// The simulator's fixtures derive names from the first 8 alphanumerics of the id.
fn short_id(id: &str) -> String {
    id.chars()
        .filter(char::is_ascii_alphanumeric)
        .take(8)
        .collect()
}

#[tokio::test]
async fn a_vendor_reads_a_candidate_a_job_and_its_hiring_team() {
    let stack = Stack::connect().await;
    let company = stack.new_company("pass-read").await;
    let api = read_only(&stack);
    let integration = &company.integration_id;

    // Unique ids: the simulator's request log outlives a test run.
    let candidate = connector_tests::unique("cand");
    let job_id = connector_tests::unique("job");
    let (status, answer, _) = call(
        &stack,
        &api,
        integration,
        get(&company, &format!("/candidates/{candidate}")),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let data = &answer["data"];
    assert_eq!(data["status"], 200);
    assert_eq!(data["data"]["id"], candidate.as_str());
    assert_eq!(
        data["data"]["lastName"],
        format!("Candidate-{}", short_id(&candidate))
    );
    assert!(data["headers"]["content-type"]
        .as_str()
        .unwrap()
        .starts_with("application/json"));
    assert!(data["url"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/candidates/{candidate}")));

    let (_, job, _) = call(
        &stack,
        &api,
        integration,
        get(&company, &format!("/jobs/{job_id}")),
    )
    .await;
    assert_eq!(
        job["data"]["data"]["refNumber"],
        format!("REF-{}", short_id(&job_id).to_uppercase())
    );
    let mut with_params = get(&company, &format!("/jobs/{job_id}/hiring-team"));
    with_params["params"] = json!({"limit": 10, "role": ["HIRING_MANAGER", "RECRUITER"]});
    with_params["headers"] = json!({"Accept-Language": "en"});
    let (_, team, _) = call(&stack, &api, integration, with_params).await;
    assert_eq!(team["data"]["status"], 200);
    let roles: Vec<&str> = team["data"]["data"]["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["HIRING_MANAGER", "RECRUITER"]);
    assert!(team["data"]["url"].as_str().unwrap().ends_with(&format!(
        "/jobs/{job_id}/hiring-team?limit=10&role=HIRING_MANAGER&role=RECRUITER"
    )));

    // SR saw the company's own credentials (its customer-level client id).
    let credentials = stack
        .secrets
        .company_credentials(&company.company_id)
        .await
        .unwrap();
    let seen: Vec<Value> = stack
        .http
        .get(format!(
            "{}/__sim/requests?path_contains=/jobs/{job_id}",
            stack.sim.base()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen
        .iter()
        .all(|r| r["clientId"] == credentials.outbound.client_id.as_str()));
}

#[tokio::test]
async fn sr_answers_of_any_status_are_relayed_and_no_secret_comes_back() {
    let stack = Stack::connect().await;
    let company = stack.new_company("pass-status").await;
    let api = read_only(&stack);
    let missing = connector_tests::unique("missing-job");
    stack
        .sim
        .inject_fault(
            json!({"path_contains": format!("/jobs/{missing}"), "status": 404, "count": 1}),
        )
        .await;
    let (status, answer, text) = call(
        &stack,
        &api,
        &company.integration_id,
        get(&company, &format!("/jobs/{missing}")),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"]["status"], 404);
    let credentials = stack
        .secrets
        .company_credentials(&company.company_id)
        .await
        .unwrap();
    let token = stack.sr.token(&credentials.outbound).await.unwrap();
    for secret in [
        credentials.outbound.client_secret.as_str(),
        stack
            .inbound_credentials(&company.company_id)
            .await
            .client_secret
            .as_str(),
        token.as_str(),
    ] {
        assert!(!text.contains(secret), "a secret leaked: {text}");
    }
    assert!(
        !text.to_ascii_lowercase().contains("authorization"),
        "{text}"
    );
}

#[tokio::test]
async fn writes_and_paths_outside_the_allow_list_are_refused() {
    let stack = Stack::connect().await;
    let company = stack.new_company("pass-refuse").await;
    let api = read_only(&stack);
    let integration = &company.integration_id;
    let refused = |status: u16, code: &str, answer: &Value, mentions: &str| {
        assert_eq!(answer["status"], "error", "{answer}");
        assert_eq!(answer["error"]["connector_code"], code, "{answer}");
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap()
                .contains(mentions),
            "{answer}"
        );
        status
    };

    let mut post = get(&company, "/jobs/1");
    post["method"] = json!("POST");
    post["data"] = json!({"title": "x"});
    let (status, answer, _) = call(&stack, &api, integration, post.clone()).await;
    assert_eq!(
        refused(
            status,
            "PASSTHROUGH_NOT_ALLOWED",
            &answer,
            "SR_PASSTHROUGH_ALLOW_WRITES"
        ),
        403
    );

    for path in ["/messages/shares", "/candidates"] {
        let (status, answer, _) = call(&stack, &api, integration, get(&company, path)).await;
        assert_eq!(
            refused(status, "PASSTHROUGH_NOT_ALLOWED", &answer, "/candidates/"),
            403
        );
    }
    for path in [
        "/jobs/../users/u1",
        "/jobs/%2e%2e/users",
        "https://evil.example.com/jobs/1",
        "/jobs/1?limit=1000",
    ] {
        let (status, answer, _) = call(&stack, &api, integration, get(&company, path)).await;
        assert_eq!(
            refused(status, "INVALID_FIELD", &answer, "`path`"),
            400,
            "{path}"
        );
    }
    let mut with_auth = get(&company, "/jobs/1");
    with_auth["headers"] = json!({"Authorization": "Bearer stolen"});
    let (status, answer, _) = call(&stack, &api, integration, with_auth).await;
    assert_eq!(
        refused(status, "INVALID_FIELD", &answer, "headers.Authorization"),
        400
    );

    // None of these reached SR.
    let seen: Vec<Value> = stack
        .http
        .get(format!(
            "{}/__sim/requests?path_contains=/messages",
            stack.sim.base()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(seen.is_empty(), "{seen:?}");

    // With writes enabled the same POST goes to SR, whose answer (no such route) is relayed.
    let writes = api_with_writes(&stack);
    let (status, answer, _) = call(&stack, &writes, integration, post).await;
    assert_eq!(status, 200, "{answer}");
    assert!(
        answer["data"]["status"].as_u64().unwrap() >= 400,
        "{answer}"
    );
}

fn api_with_writes(stack: &Stack) -> VendorApi {
    api(
        stack,
        PassthroughSettings { allow_writes: true },
        SrClient::new(stack.config.sr.clone()),
    )
}

#[tokio::test]
async fn another_integrations_company_is_unknown_and_a_disabled_one_is_refused() {
    let stack = Stack::connect().await;
    let company = stack.new_company("pass-owner").await;
    let other = stack.new_company("pass-other").await;
    let api = read_only(&stack);

    let (status, answer, _) = call(
        &stack,
        &api,
        &company.integration_id,
        get(&other, "/jobs/1"),
    )
    .await;
    assert_eq!(status, 404, "{answer}");
    assert_eq!(answer["error"]["connector_code"], "COMPANY_NOT_FOUND");
    assert_eq!(answer["error"]["code"], "PLATFORM.INTEGRATION_NOT_FOUND");
    assert!(answer["error"]["message"]
        .as_str()
        .unwrap()
        .contains("company_id"));
    let mut nobody = get(&company, "/jobs/1");
    nobody["company_id"] = json!("no-such-company");
    let (status, _, _) = call(&stack, &api, &company.integration_id, nobody).await;
    assert_eq!(status, 404);

    // Disabled (as SR's DELETE leaves it; its secret may still be there a moment).
    stack
        .store
        .disable_company(&company.company_id, chrono::Utc::now())
        .await
        .unwrap()
        .expect("the company exists");
    let (status, answer, _) = call(
        &stack,
        &api,
        &company.integration_id,
        get(&company, "/jobs/1"),
    )
    .await;
    assert_eq!(status, 403, "{answer}");
    assert_eq!(answer["error"]["code"], "INTEGRATION.INACTIVE", "{answer}");
    assert!(answer["error"]["message"]
        .as_str()
        .unwrap()
        .contains("disabled"));
}

#[tokio::test]
async fn sr_unreachable_is_a_502_with_a_json_body() {
    let stack = Stack::connect().await;
    let company = stack.new_company("pass-down").await;
    // An SR whose token endpoint and API refuse connections (nothing listens on port 9).
    let mut endpoints = stack.config.sr.clone();
    endpoints.token_url = url::Url::parse("http://127.0.0.1:9/identity/oauth/token").unwrap();
    endpoints.customer_api_base_url = url::Url::parse("http://127.0.0.1:9").unwrap();
    let api = api(
        &stack,
        PassthroughSettings::default(),
        SrClient::new(endpoints),
    );
    let (status, answer, _) = call(
        &stack,
        &api,
        &company.integration_id,
        get(&company, "/jobs/1"),
    )
    .await;
    assert_eq!(status, 502, "{answer}");
    assert_eq!(answer["status"], "error");
    assert_eq!(answer["error"]["connector_code"], "SR_UNREACHABLE");
    assert_eq!(answer["error"]["code"], "REMOTE.SERVICE_UNAVAILABLE");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(message.contains("could not be reached"), "{message}");
    // The transport error itself is logged, never returned.
    assert!(
        !message.contains("transport") && !message.contains("127.0.0.1"),
        "{message}"
    );
}

/// One passthrough call over HTTP through the stack's `vendor-api` function.
async fn call_over_http(stack: &Stack, company: &TestCompany, body: Value) -> (u16, Value, String) {
    let response = stack
        .vendor_request(
            reqwest::Method::POST,
            "/assessment/passthrough/sr",
            &company.integration_id,
        )
        .json(&body)
        .send()
        .await
        .expect("vendor API reachable");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    )
}

#[tokio::test]
async fn only_the_listed_path_templates_are_reachable_over_http() {
    let stack = Stack::connect().await;
    let company = stack.new_company("pass-templates").await;
    let job = connector_tests::unique("job");
    for listed in [
        format!("/jobs/{job}"),
        format!("/jobs/{job}/hiring-team"),
        format!("/candidates/{}", connector_tests::unique("cand")),
    ] {
        let (status, answer, _) = call_over_http(&stack, &company, get(&company, &listed)).await;
        assert_eq!(status, 200, "{listed}: {answer}");
        assert_eq!(answer["data"]["status"], 200, "{listed}: {answer}");
    }
    // A job's candidate list is a bulk read of the company's candidates: not listed.
    for bulk in [
        format!("/jobs/{job}/candidates"),
        format!(
            "/candidates/{}/attachments",
            connector_tests::unique("cand")
        ),
        "/configuration/company".to_string(),
        format!("/users/{}/roles", connector_tests::unique("user")),
    ] {
        let (status, answer, _) = call_over_http(&stack, &company, get(&company, &bulk)).await;
        assert_eq!(status, 403, "{bulk}: {answer}");
        assert_eq!(answer["error"]["connector_code"], "PASSTHROUGH_NOT_ALLOWED");
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap()
                .contains("/jobs/{jobId}/hiring-team"),
            "the refusal lists the templates: {answer}"
        );
    }
    let seen = stack.sim.requests(&format!("/jobs/{job}/candidates")).await;
    assert!(seen.is_empty(), "{seen:?}");
}

#[tokio::test]
async fn an_aws_error_is_logged_not_returned_to_the_vendor() {
    let stack = Stack::connect().await;
    let company = stack.new_company("pass-aws-error").await;
    let secret_id = stack.secrets.company_secret_id(&company.company_id);
    // The company's secret is unreadable (as a Secrets Manager failure would leave it).
    stack
        .aws
        .secrets
        .put_secret_value()
        .secret_id(&secret_id)
        .secret_string("not json")
        .send()
        .await
        .unwrap();
    let (status, answer, text) = call_over_http(&stack, &company, get(&company, "/jobs/1")).await;
    assert_eq!(status, 503, "{answer}");
    assert_eq!(answer["error"]["connector_code"], "TEMPORARILY_UNAVAILABLE");
    for internal in [secret_id.as_str(), "Secrets Manager", "malformed", "JSON"] {
        assert!(
            !text.contains(internal),
            "`{internal}` reached the vendor: {text}"
        );
    }
}

#[tokio::test]
async fn without_the_vendor_key_nothing_is_called() {
    let stack = Stack::connect().await;
    let company = stack.new_company("pass-auth").await;
    // A job id of this test alone, so the simulator's request log speaks only of this call.
    let path = format!("/jobs/{}", connector_tests::unique("keyless"));
    let response = read_only(&stack)
        .handle(request(
            Method::POST,
            "/assessment/passthrough/sr",
            &[("x-integration-id", &company.integration_id)],
            get(&company, &path).to_string(),
        ))
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let seen = stack.sim.requests(&path).await;
    assert!(
        seen.is_empty(),
        "SR was called without the vendor key: {seen:?}"
    );
    // The control: the same call with the key reaches SR and shows in the same log.
    let (status, answer, _) = call(
        &stack,
        &read_only(&stack),
        &company.integration_id,
        get(&company, &path),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(stack.sim.requests(&path).await.len(), 1);
}
