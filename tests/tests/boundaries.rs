//! Smaller boundaries, over HTTP against the local stack: what the company secret keeps, and
//! where an inline assessment may send a candidate. shared/README.md "Security".

use connector_tests::consent_page::ConsentClient;
use connector_tests::{unique, Stack};
use serde_json::{json, Value};

async fn raw_company_secret(stack: &Stack, company: &str) -> Value {
    let raw = stack
        .secrets
        .get_string(&stack.secrets.company_secret_id(company))
        .await
        .unwrap();
    serde_json::from_str(&raw).unwrap()
}

async fn passthrough_status(stack: &Stack, company: &str, integration: &str) -> (u16, Value) {
    let response = stack
        .vendor_request(reqwest::Method::POST, "/assessment/passthrough/sr", integration)
        .json(&json!({"company_id": company, "method": "GET", "path": format!("/jobs/{}", unique("job"))}))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn the_company_secret_keeps_only_the_digest_of_the_inbound_secret() {
    let stack = Stack::connect().await;
    stack.configure_partner().await;
    let company = unique("digest-only");
    let org = unique("digest-org");
    let key = stack.http_connect_key(&org, None).await;
    let done = ConsentClient::new(&stack).connect(&company, &key).await;
    assert!(done.is_done(), "{}", done.html);

    let stored = raw_company_secret(&stack, &company).await;
    let (client_id, client_secret) = stack.sim.partner_credentials(&company).await;
    assert_eq!(stored["inbound"]["clientId"], client_id.as_str());
    assert!(stored["inbound"].get("clientSecret").is_none(), "{stored}");
    assert!(!stored.to_string().contains(&client_secret));
    assert_eq!(
        stored["inbound"]["secretSha256"],
        connector::auth::hash_secret(&client_secret).as_str()
    );
    // SR still gets its tokens, and the outbound pair still reaches SR.
    assert_eq!(stack.sim.token(&company).await.status, 200);
    let (status, answer) = passthrough_status(&stack, &company, &org).await;
    assert_eq!(status, 200, "{answer}");
}

#[tokio::test]
async fn a_company_secret_in_the_old_shape_keeps_working() {
    let stack = Stack::connect().await;
    let company = stack.new_company("old-shape").await;
    let mut stored = raw_company_secret(&stack, &company.company_id).await;
    let (client_id, client_secret) = stack.sim.partner_credentials(&company.company_id).await;
    // What connectors before this change wrote: the inbound secret in clear.
    stored["inbound"] = json!({"clientId": client_id, "clientSecret": client_secret});
    stack
        .aws
        .secrets
        .put_secret_value()
        .secret_id(stack.secrets.company_secret_id(&company.company_id))
        .secret_string(stored.to_string())
        .send()
        .await
        .unwrap();
    let read = stack
        .secrets
        .company_credentials(&company.company_id)
        .await
        .unwrap();
    assert_eq!(read.inbound.client_id, client_id);
    assert_eq!(
        read.inbound.secret_sha256,
        connector::auth::hash_secret(&client_secret)
    );
    let (status, answer) =
        passthrough_status(&stack, &company.company_id, &company.integration_id).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(stack.sim.token(&company.company_id).await.status, 200);
}

async fn put_inline_package(stack: &Stack, integration: &str, template: &str) -> (u16, Value) {
    let response = stack
        .vendor_request(reqwest::Method::PUT, "/assessment/packages", integration)
        .json(
            &json!({"packages": [{"id": "chat", "type": "INLINE_ASSESSMENT", "name": "Chat",
                                    "inline_url_template": template}]}),
        )
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn an_inline_url_template_must_be_https() {
    let stack = Stack::connect().await;
    let org = unique("inline-https-org");
    for template in [
        "http://vendor.example.com/take/{orderId}",
        "ftp://vendor.example.com/{orderId}",
        "javascript:alert(1)//{orderId}",
    ] {
        let (status, body) = put_inline_package(&stack, &org, template).await;
        assert_eq!(status, 400, "{template}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("packages[0].inline_url_template"),
            "{body}"
        );
    }
    let (status, body) =
        put_inline_package(&stack, &org, "https://vendor.example.com/take/{orderId}").await;
    assert_eq!(status, 200, "{body}");
    // Local stacks (ALLOW_INSECURE_SR_URLS) may point at a page on loopback.
    let (status, body) =
        put_inline_package(&stack, &org, "http://127.0.0.1:8080/take/{orderId}").await;
    assert_eq!(status, 200, "{body}");
}
