//! The whole connection lifecycle over real HTTP: configure → consent page (GET, connect key,
//! give consent) → SR's token request with the credentials it received → filtered packages →
//! order and inline order → SR disables → the old token is refused.

use connector_tests::{unique, Stack};
use reqwest::Method;
use serde_json::json;

/// The admin's browser, reduced to what the consent page needs: one cookie, no redirects.
async fn give_consent(stack: &Stack, company: &str, key: &str) -> String {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = format!(
        "{}?companyId={company}",
        stack.function_url("consent", "/integration")
    );
    let page = browser.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let cookie = page.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let html = page.text().await.unwrap();
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let done = browser
        .post(&url)
        .header("cookie", cookie)
        .form(&[
            ("company_id", company),
            ("csrf", &csrf),
            ("step", "key"),
            ("connect_key", key),
        ])
        .send()
        .await
        .unwrap();
    let status = done.status();
    let text = done.text().await.unwrap();
    assert_eq!(status, 200, "{text}");
    text
}

#[tokio::test]
async fn configure_consent_order_disable_over_http() {
    let stack = Stack::connect().await;
    stack.configure_partner().await;
    let company = unique("lifecycle");
    let org = unique("lifecycle-org");
    let key: serde_json::Value = stack
        .vendor_request(Method::POST, "/assessment/connect-keys", "")
        .json(&json!({"organisations": [{"id": org, "name": "Acme Sweden"}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = key["data"]["connect_key"].as_str().unwrap();
    let done = give_consent(&stack, &company, key).await;
    assert!(done.contains("id=\"done\""), "{done}");

    let token = stack.sim.token(&company).await;
    assert_eq!(
        token.status, 200,
        "SR's token request with the credentials it received: {:?}",
        token.body
    );
    let old_token = token.body["access_token"].as_str().unwrap().to_string();

    let catalog = json!({"packages": [
        {"id": "everywhere", "type": "SKILLS_TEST", "name": "Everywhere"},
        {"id": "se-blue", "type": "SKILLS_TEST", "name": "Sweden, blue lens",
         "availability": {"country_codes": ["SE"], "fields": {"lens": ["blue"]}}},
        {"id": "chat", "type": "INLINE_ASSESSMENT", "name": "Chat",
         "inline_url_template": "https://vendor.example.com/chat/{orderId}?lang={language}"}
    ]});
    let put = stack
        .vendor_request(Method::PUT, "/assessment/packages", &org)
        .json(&catalog)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);

    let ids = |call: connector_tests::sim::SrCall| {
        let mut ids: Vec<String> = call
            .body
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    };
    let in_norway = stack
        .sim
        .list_packages_for(
            &company,
            json!({"country-code": "NO", "lens": "blue"}),
            None,
        )
        .await;
    assert_eq!(ids(in_norway), vec!["chat", "everywhere"]);
    let in_sweden = stack
        .sim
        .list_packages_for(
            &company,
            json!({"country-code": "SE", "lens": "blue"}),
            Some(json!({"email": "jo@acme.com"})),
        )
        .await;
    assert_eq!(ids(in_sweden), vec!["chat", "everywhere", "se-blue"]);

    let (_, order) = {
        let (id, call, _) = stack.sim.place_order(&company, "se-blue").await;
        (id, call)
    };
    assert_eq!(order.status, 202, "{:?}", order.body);
    let (inline_id, inline) = stack.sim.place_inline_order(&company, "chat").await;
    assert_eq!(inline.status, 200, "{:?}", inline.body);
    assert!(inline.body["url"].as_str().unwrap().starts_with(&format!(
        "https://vendor.example.com/chat/{inline_id}?lang="
    )));

    let disabled = stack.sim.disable(&company).await;
    assert_eq!(disabled.status, 204, "{:?}", disabled.body);
    let refused = stack
        .sim
        .raw(&company, json!({"method": "GET", "url_key": "assessmentPackageListUrl", "headers": {"Authorization": format!("Bearer {old_token}")}}))
        .await;
    assert_eq!(
        refused.status, 401,
        "the old token is refused: {:?}",
        refused.body
    );
    let orders: serde_json::Value = stack
        .vendor_request(Method::GET, "/assessment/orders", &org)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        orders["data"]["results"].as_array().unwrap().len(),
        2,
        "orders stay readable for the vendor"
    );
}
