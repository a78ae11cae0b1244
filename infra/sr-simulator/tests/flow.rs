//! End-to-end tests against an in-process simulator on an ephemeral port.

use axum::extract::Path;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use sr_simulator::{start, RunningSimulator, SimConfig};

const API: &str = "/assessment-api/v202010";

async fn simulator() -> RunningSimulator {
    start(SimConfig {
        listen: "127.0.0.1:0".to_owned(),
        ..SimConfig::default()
    })
    .await
    .expect("simulator starts")
}

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

async fn token(
    http: &reqwest::Client,
    sim: &RunningSimulator,
    id: &str,
    secret: &str,
) -> reqwest::Response {
    http.post(format!("{}/identity/oauth/token", sim.base_url))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
        ])
        .send()
        .await
        .unwrap()
}

async fn access_token(
    http: &reqwest::Client,
    sim: &RunningSimulator,
    id: &str,
    secret: &str,
) -> String {
    let response = token(http, sim, id, secret).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 1800);
    body["access_token"].as_str().unwrap().to_owned()
}

fn configuration(connector: &str) -> Value {
    json!({
        "assessmentPackageListUrl": format!("{connector}/packages"),
        "singleAssessmentPackageUrl": format!("{connector}/packages/{{assessmentPackageId}}"),
        "packageOrderUrl": format!("{connector}/packages/orders"),
        "consentUrl": format!("{connector}/integration"),
        "consentDisplayMode": "POPUP",
        "oauthTokenUrl": format!("{connector}/oauth/token"),
        "supportedAssessmentTypes": ["SKILL_TEST"],
    })
}

/// Configures the partner and integrates `company`; returns (master token, customer token).
async fn integrate(
    http: &reqwest::Client,
    sim: &RunningSimulator,
    connector: &str,
    company: &str,
) -> (String, String) {
    let master = access_token(http, sim, "local-partner", "local-partner-secret").await;
    let put = http
        .put(format!("{}{API}/partner/configuration", sim.base_url))
        .bearer_auth(&master)
        .json(&configuration(connector))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    assert_eq!(put.json::<Value>().await.unwrap(), configuration(connector));

    let integration = http
        .post(format!(
            "{}{API}/integration/company/{company}",
            sim.base_url
        ))
        .bearer_auth(&master)
        .json(&json!({"clientId": "partner-id", "clientSecret": "partner-secret"}))
        .send()
        .await
        .unwrap();
    assert_eq!(integration.status(), 200);
    let creds: Value = integration.json().await.unwrap();
    let customer = access_token(
        http,
        sim,
        creds["clientId"].as_str().unwrap(),
        creds["clientSecret"].as_str().unwrap(),
    )
    .await;
    (master, customer)
}

#[tokio::test]
async fn configure_integrate_patch_and_read_back() {
    let sim = simulator().await;
    let http = client();
    let base = &sim.base_url;

    // Wrong credentials and wrong grant are rejected the OAuth way.
    let bad = token(&http, &sim, "local-partner", "nope").await;
    assert_eq!(bad.status(), 401);
    assert_eq!(
        bad.json::<Value>().await.unwrap()["error"],
        "invalid_client"
    );

    // No configuration yet → 404 with SR's error body.
    let master = access_token(&http, &sim, "local-partner", "local-partner-secret").await;
    let missing = http
        .get(format!("{base}{API}/partner/configuration"))
        .bearer_auth(&master)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert!(missing.json::<Value>().await.unwrap()["errors"][0]["code"].is_string());

    let (master, customer) = integrate(&http, &sim, "http://127.0.0.1:9", "company-1").await;

    // Integrating twice conflicts; a company token cannot manage configuration.
    let again = http
        .post(format!("{base}{API}/integration/company/company-1"))
        .bearer_auth(&master)
        .json(&json!({"clientId": "a", "clientSecret": "b"}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409);
    let forbidden = http
        .get(format!("{base}{API}/partner/configuration"))
        .bearer_auth(&customer)
        .send()
        .await
        .unwrap();
    assert_eq!(forbidden.status(), 403);

    // A company marked as not consenting cannot be integrated.
    http.post(format!("{base}/__sim/companies/company-x/consent"))
        .json(&json!({"consent": false}))
        .send()
        .await
        .unwrap();
    let refused = http
        .post(format!("{base}{API}/integration/company/company-x"))
        .bearer_auth(&master)
        .json(&json!({"clientId": "a", "clientSecret": "b"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);

    // Inline orders do not take attachments; other companies cannot touch the order.
    http.post(format!("{base}/__sim/orders"))
        .json(&json!({"orderId": "inline-1", "companyId": "company-1", "inline": true}))
        .send()
        .await
        .unwrap();
    let inline_upload = http
        .post(format!("{base}{API}/orders/inline-1/results/attachment"))
        .bearer_auth(&customer)
        .header("content-type", "multipart/form-data; boundary=x")
        .body("--x--\r\n")
        .send()
        .await
        .unwrap();
    assert_eq!(inline_upload.status(), 400);
    assert!(inline_upload
        .text()
        .await
        .unwrap()
        .contains("inline assessment orders is not supported"));
    let other: Value = http
        .post(format!(
            "{base}/__sim/companies/company-other/customer-token"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let not_owner = http
        .patch(format!("{base}{API}/orders/inline-1/results"))
        .bearer_auth(other["access_token"].as_str().unwrap())
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(not_owner.status(), 403);

    let order_id = "3fa85f64-5717-4562-b3fc-2c963f66afa6";
    let registered = http
        .post(format!("{base}/__sim/orders"))
        .json(&json!({"orderId": order_id, "companyId": "company-1", "inline": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201);

    let results_url = format!("{base}{API}/orders/{order_id}/results");
    let first = http
        .patch(&results_url)
        .bearer_auth(&customer)
        .json(&json!({"status": "IN_PROGRESS", "summary": "started"}))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    let second = http
        .patch(&results_url)
        .bearer_auth(&customer)
        .json(&json!({"status": "COMPLETED", "summary": null, "score": {"raw": 28, "min": 20, "max": 80}}))
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), 200);
    let merged = json!({"status": "COMPLETED", "score": {"raw": 28, "min": 20, "max": 80}});
    assert_eq!(second.json::<Value>().await.unwrap(), merged);

    // Invalid patches: float score (400, names the field), wrong content type (415), no token (401).
    let invalid = http
        .patch(&results_url)
        .bearer_auth(&customer)
        .json(&json!({"score": {"raw": 1.5, "min": 0, "max": 2}}))
        .send()
        .await
        .unwrap();
    assert_eq!(invalid.status(), 400);
    assert!(invalid.text().await.unwrap().contains("score.raw"));
    let wrong_type = http
        .patch(&results_url)
        .bearer_auth(&customer)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_type.status(), 415);
    assert_eq!(
        http.patch(&results_url)
            .json(&json!({}))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );

    // Attachment upload (hand-built multipart body).
    let boundary = "simboundary";
    let multipart = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"attachment\"; filename=\"report.pdf\"\r\n\
         Content-Type: application/pdf\r\n\r\n%PDF-1.4 test\r\n--{boundary}--\r\n"
    );
    let upload = http
        .post(format!("{results_url}/attachment"))
        .bearer_auth(&customer)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(multipart)
        .send()
        .await
        .unwrap();
    assert_eq!(upload.status(), 201);
    let attachment_url = upload.json::<Value>().await.unwrap()["url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        http.get(&attachment_url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "%PDF-1.4 test"
    );

    let view: Value = http
        .get(format!("{base}/__sim/orders/{order_id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(view["orderId"], order_id);
    assert_eq!(view["companyId"], "company-1");
    assert_eq!(view["inline"], false);
    assert_eq!(view["result"], merged);
    let codes: Vec<u64> = view["patches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["status_code"].as_u64().unwrap())
        .collect();
    assert_eq!(codes, [200, 200, 400, 415]);
    assert_eq!(
        view["patches"][0]["body"],
        json!({"status": "IN_PROGRESS", "summary": "started"})
    );
    assert_eq!(view["attachments"][0]["fileName"], "report.pdf");
    assert_eq!(view["attachments"][0]["contentType"], "application/pdf");
    assert_eq!(view["attachments"][0]["size"], 13);
    assert_eq!(view["attachments"][0]["field"], "attachment");

    // Customer API fixtures are derived from the id.
    let job: Value = http
        .get(format!("{base}/jobs/job-1"))
        .bearer_auth(&customer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(job["title"], "Test Job job1");

    let state: Value = http
        .get(format!("{base}/__sim/state"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["companies"][0]["integrated"], true);
    assert_eq!(state["companies"][0]["tokenRequests"], 1);
    assert!(!state.to_string().contains("partner-secret"));

    let reset = http
        .post(format!("{base}/__sim/reset"))
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), 204);
    assert_eq!(
        http.get(format!("{base}/__sim/orders/{order_id}"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

#[tokio::test]
async fn injected_429_carries_retry_after_and_rate_limit_headers() {
    let sim = simulator().await;
    let http = client();
    let base = &sim.base_url;
    let (_, customer) = integrate(&http, &sim, "http://127.0.0.1:9", "company-2").await;
    http.post(format!("{base}/__sim/orders"))
        .json(&json!({"orderId": "order-429", "companyId": "company-2"}))
        .send()
        .await
        .unwrap();
    let fault = http
        .post(format!("{base}/__sim/faults"))
        .json(
            &json!({"path_contains": "/results", "status": 429, "count": 1, "retry_after_secs": 2}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(fault.status(), 200);

    let url = format!("{base}{API}/orders/order-429/results");
    let throttled = http
        .patch(&url)
        .bearer_auth(&customer)
        .json(&json!({"status": "PENDING"}))
        .send()
        .await
        .unwrap();
    assert_eq!(throttled.status(), 429);
    assert_eq!(throttled.headers()["retry-after"], "2");
    assert_eq!(throttled.headers()["x-ratelimit-remaining"], "0");
    assert!(throttled.headers().contains_key("x-ratelimit-limit"));
    assert!(throttled.headers().contains_key("x-ratelimit-reset"));

    // The fault is used up: the retry goes through.
    let retried = http
        .patch(&url)
        .bearer_auth(&customer)
        .json(&json!({"status": "PENDING"}))
        .send()
        .await
        .unwrap();
    assert_eq!(retried.status(), 200);

    // Per-credential rate limit: the second request within the same second is throttled.
    http.post(format!("{base}/__sim/rate-limit"))
        .json(&json!({"per_second": 1}))
        .send()
        .await
        .unwrap();
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let r = http
            .get(format!("{base}/jobs/j"))
            .bearer_auth(&customer)
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    http.post(format!("{base}/__sim/rate-limit"))
        .json(&json!({"per_second": null}))
        .send()
        .await
        .unwrap();

    let state: Value = http
        .get(format!("{base}/__sim/state"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(state["responses429"].as_u64().unwrap() >= 2);
    let log: Value = http
        .get(format!("{base}/__sim/requests?path_contains=order-429"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let logged: Vec<u64> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_u64().unwrap())
        .collect();
    assert_eq!(logged, [429, 200]);
}

/// A minimal fake connector: token endpoint plus packages and orders that echo what they got.
async fn mock_connector() -> String {
    let app = Router::new()
        .route(
            "/oauth/token",
            post(|body: String| async move {
                assert!(body.contains("client_id=partner-id"), "{body}");
                Json(json!({"access_token": "connector-token", "token_type": "Bearer", "expires_in": 3600}))
            }),
        )
        .route(
            "/packages",
            get(|headers: HeaderMap| async move {
                Json(json!([{"id": "p1", "auth": headers["authorization"].to_str().unwrap(),
                             "requester": headers.get("requester").map(|v| v.to_str().unwrap().to_owned())}]))
            }),
        )
        .route("/packages/{id}", get(|Path(id): Path<String>| async move { Json(json!({"id": id})) }))
        .route("/packages/orders", post(|Json(order): Json<Value>| async move { (axum::http::StatusCode::ACCEPTED, Json(order)) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

#[tokio::test]
async fn acts_as_sr_towards_the_connector() {
    let sim = simulator().await;
    let http = client();
    let base = &sim.base_url;
    let connector = mock_connector().await;
    integrate(&http, &sim, &connector, "company-3").await;

    let token: Value = http
        .post(format!("{base}/__sim/companies/company-3/token"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(token["status"], 200);
    assert_eq!(token["body"]["access_token"], "connector-token");

    let packages: Value = http
        .post(format!("{base}/__sim/companies/company-3/packages"))
        .json(&json!({"query": {"country-code": "SE"}, "requester": {"email": "r@example.com"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(packages["status"], 200);
    assert_eq!(packages["body"][0]["auth"], "Bearer connector-token");
    assert_eq!(
        packages["body"][0]["requester"],
        r#"{"email":"r@example.com"}"#
    );

    let package: Value = http
        .post(format!("{base}/__sim/companies/company-3/packages/p%201"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(package["body"]["id"], "p 1");

    let placed: Value = http
        .post(format!("{base}/__sim/companies/company-3/orders"))
        .json(&json!({"assessmentPackageId": "p1", "candidate": {"firstName": "Ada"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(placed["status"], 202);
    let order_id = placed["orderId"].as_str().unwrap();
    let request = &placed["request"];
    assert_eq!(placed["body"], *request);
    assert_eq!(
        request["resultCallbackURL"],
        format!("{base}{API}/orders/{order_id}/results")
    );
    assert_eq!(request["companyId"], "company-3");
    assert_eq!(request["jobId"], request["job"]["id"]);
    assert_eq!(request["candidate"]["firstName"], "Ada");
    assert!(request["requester"]["email"].is_string());

    // Raw calls send arbitrary bodies with the company's bearer token.
    let raw: Value = http
        .post(format!("{base}/__sim/companies/company-3/raw"))
        .json(&json!({"method": "POST", "url_key": "packageOrderUrl", "body": "not json", "content_type": "application/json"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(raw["status"], 400);
    assert!(raw["headers"]["content-type"].is_string());

    // The placed order is known and owned by the company; the candidate fixture matches the order.
    let view: Value = http
        .get(format!("{base}/__sim/orders/{order_id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(view["companyId"], "company-3");
    let customer: Value = http
        .post(format!("{base}/__sim/companies/company-3/customer-token"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let candidate_id = request["candidate"]["id"].as_str().unwrap();
    let candidate: Value = http
        .get(format!("{base}/candidates/{candidate_id}"))
        .bearer_auth(customer["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(candidate["firstName"], "Ada");
    assert_eq!(candidate["email"], request["candidate"]["email"]);
}
