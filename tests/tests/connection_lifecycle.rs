//! Connecting and disconnecting an SR company, in-process against moto and the SR simulator:
//! consent page, connect keys, SR's answers, disable, inline orders and package filtering.

use connector::secrets::SecretError;
use connector::store::CompanyStatus;
use connector_tests::consent::{api as consent_api, html, open, submit};
use connector_tests::{json_body, order_body, request, scenario::demo_catalog, unique, Stack};
use lambda_http::http::Method;
use serde_json::json;

#[tokio::test]
async fn a_connect_key_connects_the_company_and_sr_can_then_get_a_token() {
    let stack = Stack::connect().await;
    stack.configure_partner().await;
    let company = unique("consent");
    let org = unique("org");
    let key = stack.connect_key(&[(&org, "Acme Sweden")]).await;
    let api = consent_api(&stack);
    let (page, csrf) = open(&api, &company, "").await;
    assert_eq!(page.status(), 200);
    let text = html(&page);
    assert!(
        text.contains("id=\"consent-form\"") && text.contains("Acme Assessments"),
        "{text}"
    );
    assert!(!text.contains("<script"), "no scripts on the consent page");
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );

    let done = submit(
        &api,
        &csrf,
        &[
            ("company_id", &company),
            ("step", "key"),
            ("connect_key", &key),
        ],
    )
    .await;
    assert_eq!(done.status(), 200, "{}", html(&done));
    assert!(html(&done).contains("id=\"done\""));
    assert!(!html(&done).contains(&key), "the key is not echoed back");

    let record = stack.store.get_company(&company).await.unwrap().unwrap();
    assert_eq!(record.status, CompanyStatus::Active);
    assert_eq!(record.integration_id, org);
    let sr_token = stack.sim.token(&company).await;
    assert_eq!(sr_token.status, 200, "{:?}", sr_token.body);
    // One-time: the same key does not connect another company.
    let other = unique("consent-other");
    let (_, csrf) = open(&api, &other, "").await;
    let again = submit(
        &api,
        &csrf,
        &[
            ("company_id", &other),
            ("step", "key"),
            ("connect_key", &key),
        ],
    )
    .await;
    assert_eq!(again.status(), 400);
    assert!(html(&again).contains("already used"), "{}", html(&again));
    // The vendor learns of the connection.
    let events = json_body(
        &stack
            .vendor_call(Method::GET, "/assessment/events", &org, None)
            .await,
    );
    assert_eq!(events["data"]["results"][0]["type"], "company.connected");
    assert_eq!(events["data"]["results"][0]["company_id"], company);
    // Opening the page again shows the key form (a stranger learns nothing); a valid key for
    // the connected company changes nothing and says so.
    let (page, csrf) = open(&api, &company, "").await;
    assert!(!html(&page).contains("Already connected"));
    let fresh = stack.connect_key(&[(&unique("org"), "Someone else")]).await;
    let again = submit(
        &api,
        &csrf,
        &[
            ("company_id", &company),
            ("step", "key"),
            ("connect_key", &fresh),
        ],
    )
    .await;
    assert_eq!(again.status(), 200);
    assert!(
        html(&again).contains("Already connected"),
        "{}",
        html(&again)
    );
    assert_eq!(
        stack
            .store
            .get_company(&company)
            .await
            .unwrap()
            .unwrap()
            .integration_id,
        org
    );
}

#[tokio::test]
async fn a_key_of_several_organisations_asks_which_one() {
    let stack = Stack::connect().await;
    stack.configure_partner().await;
    let company = unique("choose");
    let (a, b) = (unique("org-a"), unique("org-b"));
    let key = stack
        .connect_key(&[(&a, "Acme Sweden"), (&b, "Acme Norway")])
        .await;
    let api = consent_api(&stack);
    let (_, csrf) = open(&api, &company, "").await;
    let choose = submit(
        &api,
        &csrf,
        &[
            ("company_id", &company),
            ("step", "key"),
            ("connect_key", &key),
        ],
    )
    .await;
    assert_eq!(choose.status(), 200);
    let page = html(&choose);
    assert!(
        page.contains("choose-form")
            && page.contains("Acme Sweden")
            && page.contains("Acme Norway")
    );
    let session = page
        .split("name=\"session\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let not_listed = submit(
        &api,
        &csrf,
        &[
            ("company_id", &company),
            ("step", "choose"),
            ("session", &session),
            ("organisation", "nope"),
        ],
    )
    .await;
    assert_eq!(not_listed.status(), 400);
    let done = submit(
        &api,
        &csrf,
        &[
            ("company_id", &company),
            ("step", "choose"),
            ("session", &session),
            ("organisation", &b),
        ],
    )
    .await;
    assert_eq!(done.status(), 200, "{}", html(&done));
    assert_eq!(
        stack
            .store
            .get_company(&company)
            .await
            .unwrap()
            .unwrap()
            .integration_id,
        b
    );
    // A session of another company is useless.
    let (_, csrf2) = open(&api, "intruder", "").await;
    let stolen = submit(
        &api,
        &csrf2,
        &[
            ("company_id", "intruder"),
            ("step", "choose"),
            ("session", &session),
            ("organisation", &a),
        ],
    )
    .await;
    assert_eq!(stolen.status(), 400);
}

#[tokio::test]
async fn wrong_keys_get_a_clear_message_and_are_rate_limited_per_company() {
    let stack = Stack::connect().await;
    let company = unique("guess");
    let api = consent_api(&stack);
    let (_, csrf) = open(&api, &company, "").await;
    for attempt in 0..10 {
        let wrong = submit(
            &api,
            &csrf,
            &[
                ("company_id", &company),
                ("step", "key"),
                ("connect_key", &format!("ck_wrong{attempt}")),
            ],
        )
        .await;
        assert_eq!(wrong.status(), 400);
        assert!(html(&wrong).contains("not valid"));
    }
    let limited = submit(
        &api,
        &csrf,
        &[
            ("company_id", &company),
            ("step", "key"),
            ("connect_key", "ck_x"),
        ],
    )
    .await;
    assert_eq!(limited.status(), 429);
    assert!(html(&limited).contains("Too many"));
    // Another company is not affected.
    let other = unique("guess-other");
    let (_, csrf) = open(&api, &other, "").await;
    let fine = submit(
        &api,
        &csrf,
        &[
            ("company_id", &other),
            ("step", "key"),
            ("connect_key", "ck_x"),
        ],
    )
    .await;
    assert_eq!(fine.status(), 400);
}

#[tokio::test]
async fn forms_without_the_matching_csrf_cookie_are_refused() {
    let stack = Stack::connect().await;
    let api = consent_api(&stack);
    let (_, csrf) = open(&api, "csrf-co", "").await;
    let form = format!("company_id=csrf-co&step=key&connect_key=ck_x&csrf={csrf}");
    let form_type = ("content-type", "application/x-www-form-urlencoded");
    for cookie in [None, Some("consent_csrf=something-else".to_string())] {
        let mut headers = vec![form_type];
        if let Some(c) = &cookie {
            headers.push(("cookie", c.as_str()));
        }
        let response = api
            .handle(request(
                Method::POST,
                "/integration",
                &headers,
                form.clone(),
            ))
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{cookie:?}");
        assert!(html(&response).contains("expired"));
    }
}

#[tokio::test]
async fn sr_refusals_are_clear_messages_and_a_retry_after_a_failure_works() {
    let stack = Stack::connect().await;
    stack.configure_partner().await;
    let api = consent_api(&stack);
    let cases = [
        (503, 503, "try again"),
        (409, 409, "already connected"),
        (404, 502, "partner set-up"),
    ];
    for (sr_status, page_status, says) in cases {
        let company = unique("sr-refuses");
        let key = stack.connect_key(&[(&unique("org"), "Acme")]).await;
        stack.sim.inject_fault(json!({"path_contains": format!("/integration/company/{company}"), "status": sr_status, "count": 1})).await;
        let (_, csrf) = open(&api, &company, "").await;
        let fields = [
            ("company_id", company.as_str()),
            ("step", "key"),
            ("connect_key", key.as_str()),
        ];
        let refused = submit(&api, &csrf, &fields).await;
        assert_eq!(
            refused.status(),
            page_status,
            "SR {sr_status}: {}",
            html(&refused)
        );
        assert!(
            html(&refused).contains(says),
            "SR {sr_status}: {}",
            html(&refused)
        );
        assert!(!html(&refused).contains("panicked") && !html(&refused).contains("Error {"));
        // Nothing half-done: no company, no credentials; the key still works once SR agrees.
        assert!(stack.store.get_company(&company).await.unwrap().is_none());
        assert!(matches!(
            stack.secrets.company_credentials(&company).await,
            Err(SecretError::NotFound(_))
        ));
        let retried = submit(&api, &csrf, &fields).await;
        assert_eq!(
            retried.status(),
            200,
            "retry after SR {sr_status}: {}",
            html(&retried)
        );
    }
}

#[tokio::test]
async fn redirect_mode_sends_the_admin_back_to_sr_only() {
    let stack = Stack::connect().await;
    stack.configure_partner().await;
    let api = consent_api(&stack);
    let company = unique("redirect");
    let key = stack.connect_key(&[(&unique("org"), "Acme")]).await;
    let back = format!("{}/back/{company}", stack.sim.base());
    let (page, csrf) = open(
        &api,
        &company,
        &format!(
            "&redirect={}",
            url::form_urlencoded::byte_serialize(back.as_bytes()).collect::<String>()
        ),
    )
    .await;
    assert_eq!(page.status(), 200);
    let done = submit(
        &api,
        &csrf,
        &[
            ("company_id", &company),
            ("redirect", &back),
            ("step", "key"),
            ("connect_key", &key),
        ],
    )
    .await;
    assert_eq!(done.status(), 303);
    assert_eq!(done.headers()["location"], back.as_str());
    let (evil, _) = open(
        &api,
        &unique("redirect"),
        "&redirect=https%3A%2F%2Fevil.example.com%2F",
    )
    .await;
    assert_eq!(evil.status(), 400);
}

#[tokio::test]
async fn disabling_revokes_tokens_and_credentials_at_once_and_keeps_orders() {
    let stack = Stack::connect().await;
    let company = stack.new_company("disable").await;
    stack.put_catalog(&company, demo_catalog()).await;
    let token = stack.access_token(&company).await;
    let (order_id, body) = order_body(&stack, &company, "culture-fit");
    assert_eq!(stack.create_order(&token, &body).await.status(), 202);
    let api = stack.partner_api();
    let auth = format!("Bearer {token}");
    let path = format!("/integrations/companies/{}", company.company_id);
    let old = stack.inbound_credentials(&company.company_id).await;
    let old_form = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}",
        old.client_id, old.client_secret
    );

    let disabled = api
        .disable_integration(request(
            Method::DELETE,
            &path,
            &[("authorization", &auth)],
            "",
        ))
        .await
        .unwrap();
    assert_eq!(disabled.status(), 204);
    let listed = api
        .list_packages(request(
            Method::GET,
            "/packages",
            &[("authorization", &auth)],
            "",
        ))
        .await
        .unwrap();
    assert_eq!(listed.status(), 401, "the old token stops working at once");
    let token_again = api
        .oauth_token(request(
            Method::POST,
            "/oauth/token",
            &[("content-type", "application/x-www-form-urlencoded")],
            old_form,
        ))
        .await
        .unwrap();
    assert_eq!(token_again.status(), 401, "SR's credentials no longer work");
    assert!(matches!(
        stack.secrets.company_credentials(&company.company_id).await,
        Err(SecretError::NotFound(_))
    ));
    assert_eq!(
        stack
            .store
            .get_company(&company.company_id)
            .await
            .unwrap()
            .unwrap()
            .status,
        CompanyStatus::Disabled
    );
    // The vendor still reads the order and is told.
    let order = stack
        .vendor_call(
            Method::GET,
            &format!("/assessment/orders/{order_id}"),
            &company.integration_id,
            None,
        )
        .await;
    assert_eq!(order.status(), 200);
    let events = json_body(
        &stack
            .vendor_call(
                Method::GET,
                "/assessment/events",
                &company.integration_id,
                None,
            )
            .await,
    );
    let kinds: Vec<&str> = events["data"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        // The stack's publisher enriches the order meanwhile (order.created, order.enriched).
        .filter(|kind| kind.starts_with("company."))
        .collect();
    assert_eq!(kinds, vec!["company.connected", "company.disabled"]);
    // Repeating is harmless.
    let again = api
        .disable_integration(request(
            Method::DELETE,
            &path,
            &[("authorization", &auth)],
            "",
        ))
        .await
        .unwrap();
    assert_eq!(again.status(), 204);
    let events = json_body(
        &stack
            .vendor_call(
                Method::GET,
                "/assessment/events",
                &company.integration_id,
                None,
            )
            .await,
    );
    let disabled = events["data"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "company.disabled")
        .count();
    assert_eq!(disabled, 1, "no second company.disabled event");
}

#[tokio::test]
async fn a_company_cannot_disable_another() {
    let stack = Stack::connect().await;
    let a = stack.new_company("disable-a").await;
    let b = stack.new_company("disable-b").await;
    let auth_a = format!("Bearer {}", stack.access_token(&a).await);
    let path = format!("/integrations/companies/{}", b.company_id);
    let with_a_token = || request(Method::DELETE, &path, &[("authorization", &auth_a)], "");
    let without_token = || request(Method::DELETE, &path, &[], "");
    let api = stack.partner_api();
    let refused = api.disable_integration(with_a_token()).await.unwrap();
    assert_eq!(refused.status(), 403);
    let anonymous = api.disable_integration(without_token()).await.unwrap();
    assert_eq!(anonymous.status(), 401);
    // A deployment that relaxes the check accepts SR's call without a token once SR confirms
    // it (tests/tests/disable_attacks.rs); another company's token is still refused.
    let relaxed = api.with_disable_requires_token(false);
    let done = relaxed.disable_integration(without_token()).await.unwrap();
    assert_eq!(done.status(), 204);
    let other_token = relaxed.disable_integration(with_a_token()).await.unwrap();
    assert_eq!(other_token.status(), 403);
    assert_eq!(
        stack
            .store
            .get_company(&b.company_id)
            .await
            .unwrap()
            .unwrap()
            .status,
        CompanyStatus::Active,
        "nothing disabled b: SR still accepts its credentials"
    );
}

fn inline_catalog() -> serde_json::Value {
    json!({"packages": [
        {"id": "chat-inline", "type": "INLINE_ASSESSMENT", "name": "Chat interview",
         "inline_url_template": "https://vendor.example.com/take/{orderId}?lang={language}&company={companyId}"},
        {"id": "culture-fit", "type": "BEHAVIORAL_ASSESSMENT", "name": "Culture fit"}
    ]})
}

fn inline_body(
    stack: &Stack,
    company: &connector_tests::TestCompany,
    package: &str,
) -> (String, serde_json::Value) {
    let order_id = connector_tests::uuid();
    let callback = stack
        .config
        .sr
        .api_url(&format!("orders/{order_id}/results"));
    (
        order_id,
        json!({
            "resultCallbackURL": callback.as_str(),
            "candidate": {"email": "ada@example.com", "firstName": "Ada", "lastName": "Lovelace", "applicationLanguage": "sv"},
            "job": {"id": connector_tests::uuid()},
            "assessmentPackageId": package,
            "jobId": "legacy",
            "companyId": company.company_id,
            "completedAssessmentCallbackUrl": "https://www.smartrecruiters.com/inline/done/abc"
        }),
    )
}

#[tokio::test]
async fn inline_orders_answer_the_candidates_url_once() {
    let stack = Stack::connect().await;
    let company = stack.new_company("inline").await;
    stack.put_catalog(&company, inline_catalog()).await;
    let token = stack.access_token(&company).await;
    let api = stack.partner_api();
    let headers = |t: &str| {
        vec![
            ("authorization".to_string(), format!("Bearer {t}")),
            ("content-type".into(), "application/json".into()),
        ]
    };
    let post = |body: serde_json::Value| {
        let h = headers(&token);
        let api = &api;
        async move {
            let h: Vec<(&str, &str)> = h.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            api.create_inline_order(request(
                Method::POST,
                "/packages/inline/orders",
                &h,
                body.to_string(),
            ))
            .await
            .unwrap()
        }
    };
    let (order_id, body) = inline_body(&stack, &company, "chat-inline");
    let first = post(body.clone()).await;
    assert_eq!(first.status(), 200, "{:?}", first.body());
    let url = json_body(&first)["url"].as_str().unwrap().to_string();
    assert_eq!(
        url,
        format!(
            "https://vendor.example.com/take/{order_id}?lang=sv&company={}",
            company.company_id
        )
    );
    let retried = post(body).await;
    assert_eq!(
        json_body(&retried)["url"],
        url,
        "SR's retry gets the same URL"
    );
    let order = stack.store.get_order(&order_id).await.unwrap().unwrap();
    assert_eq!(
        order.inline.unwrap().completed_assessment_callback_url,
        "https://www.smartrecruiters.com/inline/done/abc"
    );

    let (_, wrong_kind) = inline_body(&stack, &company, "culture-fit");
    let refused = post(wrong_kind).await;
    assert_eq!(refused.status(), 400);
    assert_eq!(
        json_body(&refused)["errors"][0]["code"],
        "WRONG_ORDER_ENDPOINT"
    );
    let (_, normal) = order_body(&stack, &company, "chat-inline");
    let refused = stack.create_order(&token, &normal).await;
    assert_eq!(
        refused.status(),
        400,
        "an inline package is not ordered through packageOrderUrl"
    );
    let (_, mut missing) = inline_body(&stack, &company, "chat-inline");
    missing
        .as_object_mut()
        .unwrap()
        .remove("completedAssessmentCallbackUrl");
    let refused = post(missing).await;
    assert_eq!(refused.status(), 400);
    assert!(json_body(&refused)["message"]
        .as_str()
        .unwrap()
        .contains("completedAssessmentCallbackUrl"));

    let with_attachment = stack.vendor_call(Method::PUT, &format!("/assessment/orders/{order_id}/result"), &company.integration_id,
        Some(json!({"status": "COMPLETED", "attachments": [{"name": "Report", "url": "https://vendor.example.com/r.pdf"}]}))).await;
    assert_eq!(with_attachment.status(), 400);
    assert!(json_body(&with_attachment)["error"]["message"]
        .as_str()
        .unwrap()
        .contains("inline"));
    let plain = stack
        .vendor_call(
            Method::PUT,
            &format!("/assessment/orders/{order_id}/result"),
            &company.integration_id,
            Some(json!({"status": "COMPLETED", "score": 4, "max_score": 5})),
        )
        .await;
    assert_eq!(plain.status(), 200);
}

#[tokio::test]
async fn packages_are_filtered_by_location_custom_fields_and_requester() {
    let stack = Stack::connect().await;
    let company = stack.new_company("filter").await;
    stack.put_catalog(&company, json!({"packages": [
        {"id": "everywhere", "type": "SKILL_TEST", "name": "Everywhere"},
        {"id": "sweden", "type": "SKILL_TEST", "name": "Sweden only", "availability": {"country_codes": ["SE"]}},
        {"id": "blue-lens", "type": "SKILL_TEST", "name": "Blue lens", "availability": {"fields": {"lens": ["blue"]}}},
        {"id": "acme-recruiters", "type": "SKILL_TEST", "name": "Acme only", "availability": {"requester_domains": ["acme.com"]}},
        {"id": "remote", "type": "SKILL_TEST", "name": "Remote jobs", "availability": {"remote": true}}
    ]})).await;
    let token = stack.access_token(&company).await;
    let auth = format!("Bearer {token}");
    let api = stack.partner_api();
    let ids = |query: &'static str, requester: Option<&'static str>| {
        let auth = auth.clone();
        let api = &api;
        async move {
            let mut headers = vec![("authorization", auth.as_str())];
            if let Some(r) = requester {
                headers.push(("requester", r));
            }
            let response = api
                .list_packages(request(
                    Method::GET,
                    &format!("/packages{query}"),
                    &headers,
                    "",
                ))
                .await
                .unwrap();
            let mut ids: Vec<String> = json_body(&response)
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|p| p["id"].as_str().unwrap().to_string())
                        .collect()
                })
                .unwrap_or_default();
            ids.sort();
            ids
        }
    };
    assert_eq!(ids("", None).await, vec!["everywhere"]);
    assert_eq!(
        ids("?country-code=SE&city=Malm%C3%B6", None).await,
        vec!["everywhere", "sweden"]
    );
    assert_eq!(
        ids("?lens=blue", None).await,
        vec!["blue-lens", "everywhere"]
    );
    assert_eq!(
        ids("?lens=red&remote=true", None).await,
        vec!["everywhere", "remote"]
    );
    assert_eq!(
        ids("", Some(r#"{"email":"jo@acme.com"}"#)).await,
        vec!["acme-recruiters", "everywhere"]
    );
    let bad = api
        .list_packages(request(
            Method::GET,
            "/packages?remote=maybe",
            &[("authorization", &auth)],
            "",
        ))
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert!(json_body(&bad)["message"]
        .as_str()
        .unwrap()
        .contains("remote"));
}
