//! The whole connection lifecycle over real HTTP: configure → consent page (GET, sign in with
//! the vendor's identity provider — the local OpenID provider's own login and one-time-code
//! pages —, give consent) → SR's token request with the credentials it received → filtered
//! packages → order and inline order → SR disables → the old token is refused.

use connector_tests::sign_in::{give_consent, sign_in, Browser, MFA_USER};
use connector_tests::{unique, Stack};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn configure_consent_order_disable_over_http() {
    let stack = Stack::connect().await;
    stack.configure_partner().await;
    let company = unique("lifecycle");
    // The organisation the IdP's claim names for this user (the vendor's integration id).
    let org = "acme-se";
    let mut browser = Browser::new();
    let signed_in = sign_in(&mut browser, &stack, &company, MFA_USER).await;
    assert_eq!(signed_in.status, 200, "{}", signed_in.body);
    let done = give_consent(&mut browser, &signed_in, None).await;
    assert!(done.body.contains("id=\"done\""), "{}", done.body);

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
        .vendor_request(Method::PUT, "/assessment/packages", org)
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

    let (order_id, order) = {
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
    // The organisation is shared by every sign-in test of this stack: its orders are looked up
    // one by one.
    for id in [&order_id, &inline_id] {
        let order = stack
            .vendor_request(Method::GET, &format!("/assessment/orders/{id}"), org)
            .send()
            .await
            .unwrap();
        assert_eq!(order.status(), 200, "orders stay readable for the vendor");
    }
}
