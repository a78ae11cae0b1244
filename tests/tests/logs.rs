//! What the functions log during a full spine run: structured JSON with request, company and
//! order ids, business metrics in Embedded Metric Format — and none of the secrets the run used,
//! also at the most verbose `LogLevel` (`trace`, which the local stack runs with: at that level
//! the Lambda runtime used to log every raw event, form bodies base64-encoded).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use connector_tests::consent_page::ConsentClient;
use connector_tests::{lambda_log, scenario, unique, Stack};

#[tokio::test]
async fn a_full_spine_run_logs_ids_and_metrics_but_no_secret() {
    let stack = Stack::connect().await;
    let report = scenario::run_spine(&stack, |_| {}).await;
    let company = &report.company.company_id;
    // Give the publisher's last log lines a moment to reach the file.
    connector_tests::eventually(
        "the delivery to be logged",
        std::time::Duration::from_secs(30),
        || async {
            let log = lambda_log();
            log.contains(&format!("\"order_id\":\"{}\"", report.order_id))
                .then_some(log)
                .filter(|l| l.contains("result delivered to SmartRecruiters"))
        },
    )
    .await;

    // No secret the run used appears anywhere in the functions' output.
    let credentials = stack.secrets.company_credentials(company).await.unwrap();
    let (_, inbound_secret) = stack.sim.partner_credentials(company).await;
    let sr_side_token = stack.sim.token(company).await.body["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let candidate_email = report.order_request["candidate"]["email"]
        .as_str()
        .unwrap()
        .to_string();
    let requester_email = report.order_request["requester"]["email"]
        .as_str()
        .unwrap()
        .to_string();
    let secrets = [
        ("inbound client secret", inbound_secret),
        (
            "outbound client secret",
            credentials.outbound.client_secret.clone(),
        ),
        ("vendor API key", stack.vendor_api_key.clone()),
        (
            "partner master secret",
            stack.env["PARTNER_CLIENT_SECRET"].clone(),
        ),
        ("an access token issued to SR", sr_side_token),
        ("the candidate's e-mail", candidate_email),
        ("the requester's e-mail", requester_email),
    ];
    // A company connected through the page over HTTP: its connect key travels in a form body
    // (base64-encoded in the Lambda event), and so does SR's token request with its secret.
    let consented = unique("logs-consent");
    let key = stack.http_connect_key(&unique("logs-org"), None).await;
    let browser = ConsentClient::new(&stack);
    let opened = browser.open(&consented).await;
    let csrf = opened.csrf.unwrap();
    let form = [
        ("csrf", csrf.as_str()),
        ("company_id", consented.as_str()),
        ("step", "key"),
        ("connect_key", key.as_str()),
    ];
    let done = browser.submit(&csrf, &form[1..]).await;
    assert!(done.is_done(), "{}", done.html);
    let form_body = serde_urlencoded::to_string(form).unwrap();
    assert_eq!(stack.sim.token(&consented).await.status, 200);
    let (client_id, client_secret) = stack.sim.partner_credentials(&consented).await;
    let token_body = serde_urlencoded::to_string([
        ("grant_type", "client_credentials"),
        ("client_id", client_id.as_str()),
        ("client_secret", client_secret.as_str()),
    ])
    .unwrap();
    // A per-integration vendor key, created and used over HTTP (its answer carries the key).
    let created = stack
        .vendor_request(
            reqwest::Method::POST,
            "/assessment/vendor-keys",
            &report.company.integration_id,
        )
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let created: serde_json::Value = created.json().await.unwrap();
    let vendor_key = created["data"]["api_key"].as_str().unwrap().to_string();
    let used = stack
        .http
        .get(stack.function_url("vendor-api", "/assessment/orders"))
        .bearer_auth(&vendor_key)
        .header("X-Integration-Id", &report.company.integration_id)
        .send()
        .await
        .unwrap();
    assert_eq!(used.status(), 200);
    // A company connected by signing in at the local IdP: the code, both sign-in cookies and the
    // client secret the consent function reads.
    let signed_in_company = unique("logs-sign-in");
    let mut sso = connector_tests::sign_in::Browser::new();
    let callback = connector_tests::sign_in::sign_in_at_idp(
        &mut sso,
        &stack,
        &signed_in_company,
        connector_tests::sign_in::MFA_USER,
    )
    .await;
    let binding = sso.cookie("consent_sign_in").unwrap().to_string();
    let back = sso.get(&callback).await;
    let page = sso.follow(back, |_| false).await;
    let session = sso.cookie("consent_signed_in").unwrap().to_string();
    let signed_in = connector_tests::sign_in::give_consent(&mut sso, &page, None).await;
    assert!(signed_in.body.contains("id=\"done\""), "{}", signed_in.body);
    let code = callback
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let oidc_client_secret = stack
        .secrets
        .get_string(&stack.env["OIDC_CLIENT_SECRET_ID"])
        .await
        .unwrap();
    let mut secrets = secrets.to_vec();
    secrets.extend([
        ("the IdP's authorization code", code),
        ("the sign-in binding cookie", binding),
        ("the signed-in session cookie", session),
        ("the OIDC client secret", oidc_client_secret),
        ("a per-integration vendor key", vendor_key),
        ("a connect key", key.clone()),
        ("a consent form body, base64", STANDARD.encode(&form_body)),
        ("a token request body, base64", STANDARD.encode(&token_body)),
        ("a consented company's inbound secret", client_secret),
    ]);
    // The key's own log line has been written once the page answered; give the file a moment.
    let log = connector_tests::eventually(
        "the consent to be logged",
        std::time::Duration::from_secs(30),
        || async {
            let log = lambda_log();
            log.contains(&consented).then_some(log)
        },
    )
    .await;
    for (what, secret) in secrets {
        assert!(secret.len() >= 8, "{what} is too short to search for");
        assert!(
            !log.contains(&secret),
            "{what} appears in the functions' log"
        );
    }

    // Structured: the order's lines are JSON with the Lambda request id and the company.
    let log = lambda_log();
    let order_lines: Vec<serde_json::Value> = log
        .lines()
        .filter(|l| l.contains(&report.order_id))
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(
        order_lines.len() >= 3,
        "order accepted, result queued, result delivered"
    );
    for line in &order_lines {
        assert_eq!(line["company_id"], company.as_str(), "{line}");
        assert!(
            line["span"]["requestId"]
                .as_str()
                .is_some_and(|id| !id.is_empty()),
            "{line}"
        );
    }
    // Business metrics in Embedded Metric Format.
    let metric_names: Vec<String> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["_aws"]["CloudWatchMetrics"].is_array())
        .flat_map(|v| {
            v["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["Name"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    for name in ["OrdersReceived", "ResultsDelivered", "DeliveryLatency"] {
        assert!(
            metric_names.iter().any(|n| n == name),
            "no {name} metric in {metric_names:?}"
        );
    }
}

/// The personal-data paths (README "Personal data") over HTTP through the functions: SR's order
/// for a candidate, its enrichment, an export (whose answer holds everything) and an erasure by
/// e-mail log ids and counts, never the candidate's values.
#[tokio::test]
async fn export_and_erasure_log_no_personal_data() {
    let stack = Stack::connect().await;
    let company = stack.new_company("log-gdpr").await;
    stack.put_catalog(&company, scenario::demo_catalog()).await;
    let tag = unique("log");
    let (first, last) = (format!("First{tag}"), format!("Last{tag}"));
    let email = format!("{tag}@mail.example.org");
    let (order_id, placed) = stack
        .sim
        .place_order_for(
            &company.company_id,
            "culture-fit",
            serde_json::json!({"firstName": first, "lastName": last, "email": email}),
        )
        .await;
    assert_eq!(placed.status, 202, "{:?}", placed.body);
    connector_tests::kombo::enriched_order(&stack, &order_id).await;
    let by_email = serde_json::json!({ "email": email });
    let export = stack
        .vendor_request(
            reqwest::Method::POST,
            "/assessment/candidates/export",
            &company.integration_id,
        )
        .json(&by_email)
        .send()
        .await
        .unwrap();
    assert_eq!(export.status(), 200);
    assert!(export.text().await.unwrap().contains(&first));
    let erase = stack
        .vendor_request(
            reqwest::Method::POST,
            "/assessment/candidates/erase",
            &company.integration_id,
        )
        .json(&by_email)
        .send()
        .await
        .unwrap();
    assert_eq!(erase.status(), 200);
    let log = connector_tests::eventually(
        "the erasure to be logged",
        std::time::Duration::from_secs(30),
        || async {
            let log = lambda_log();
            log.lines()
                .any(|l| l.contains("personal data erased") && l.contains(&company.integration_id))
                .then_some(log)
        },
    )
    .await;
    assert!(log.contains(&order_id), "the order's lines name it");
    for value in [&first, &last, &email] {
        assert!(
            !log.contains(value.as_str()),
            "{value} appears in the functions' log"
        );
    }
}
