//! Attacks on SR's disable call (`DELETE /integrations/companies/{companyId}`) over HTTP: a
//! forged token must not tell a company's state, and without a token (`DisableRequiresToken=
//! false`) nothing is disabled until SR confirms it. shared/README.md "Security".

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use connector::api::partner::PartnerApi;
use connector::ops::companies::{secret_state, SecretState};
use connector::store::CompanyStatus;
use connector_tests::consent_page::ConsentClient;
use connector_tests::serve::{serve, Served};
use connector_tests::{unique, Stack};
use serde_json::json;

/// A token in our format for `company`, which we never issued.
fn forged_token(company: &str, integration: &str) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(company),
        URL_SAFE_NO_PAD.encode(integration),
        "A".repeat(43)
    )
}

async fn delete(stack: &Stack, base: &str, company: &str, bearer: Option<&str>) -> u16 {
    answer(stack, base, company, bearer).await.0
}

/// The status and body of a disable call, the company id in the body blanked.
async fn answer(stack: &Stack, base: &str, company: &str, bearer: Option<&str>) -> (u16, String) {
    let mut request = stack
        .http
        .delete(format!("{base}/integrations/companies/{company}"));
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (
        status,
        response.text().await.unwrap().replace(company, "COMPANY"),
    )
}

/// `api`'s disable handler over HTTP (a deployment setting the shared stack does not run).
async fn serve_disable(api: PartnerApi) -> Served {
    let api = Arc::new(api);
    serve(move |request| {
        let api = api.clone();
        async move { api.disable_integration(request).await.unwrap() }
    })
    .await
}

/// The company is as connected as before: ACTIVE, its secret in place, SR's token working.
async fn assert_still_connected(stack: &Stack, company: &str) {
    assert_eq!(status_of(stack, company).await, CompanyStatus::Active);
    assert_eq!(secret_of(stack, company).await, SecretState::Present);
    assert_eq!(stack.sim.token(company).await.status, 200);
}

async fn status_of(stack: &Stack, company: &str) -> CompanyStatus {
    stack
        .store
        .get_company(company)
        .await
        .unwrap()
        .unwrap()
        .status
}

async fn secret_of(stack: &Stack, company: &str) -> SecretState {
    secret_state(
        &stack.aws.secrets,
        &stack.secrets.company_secret_id(company),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn a_forged_token_learns_nothing_about_a_companys_state() {
    let stack = Stack::connect().await;
    let disabled = stack.new_company("oracle-disabled").await;
    let active = stack.new_company("oracle-active").await;
    // SR's own token for the company, from before SR disabled it.
    let genuine = stack.sim.token(&disabled.company_id).await.body["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(stack.sim.disable(&disabled.company_id).await.status, 204);

    let base = stack.function_url("disable-integration", "");
    let unknown = unique("oracle-unknown");
    let mut answers = Vec::new();
    for (company, integration) in [
        (&disabled.company_id, &disabled.integration_id),
        (&active.company_id, &active.integration_id),
        (&unknown, &unknown),
    ] {
        let forged = forged_token(company, integration);
        answers.push(answer(&stack, &base, company, Some(&forged)).await);
    }
    assert_eq!(answers[0].0, 401, "{answers:?}");
    assert!(
        answers.iter().all(|a| *a == answers[0]),
        "the same status and body whatever the state: {answers:?}"
    );
    assert_eq!(
        status_of(&stack, &active.company_id).await,
        CompanyStatus::Active
    );
    // SR repeating its call with the token it really held stays harmless.
    assert_eq!(
        delete(&stack, &base, &disabled.company_id, Some(&genuine)).await,
        204
    );
}

#[tokio::test]
async fn a_disabled_companys_secret_is_recoverable_and_it_can_connect_again() {
    let stack = Stack::connect().await;
    let company = stack.new_company("recoverable").await;
    assert_eq!(stack.sim.disable(&company.company_id).await.status, 204);
    assert_eq!(
        secret_of(&stack, &company.company_id).await,
        SecretState::PendingDeletion,
        "deleted with a recovery window, not forced"
    );
    // The admin connects again later through the page (SR integrates it anew).
    let key = stack
        .http_connect_key(&company.integration_id, Some(&company.company_id))
        .await;
    let done = ConsentClient::new(&stack)
        .connect(&company.company_id, &key)
        .await;
    assert!(done.is_done(), "{} {}", done.status, done.html);
    assert_eq!(
        status_of(&stack, &company.company_id).await,
        CompanyStatus::Active
    );
    assert_eq!(
        secret_of(&stack, &company.company_id).await,
        SecretState::Present
    );
    assert_eq!(stack.sim.token(&company.company_id).await.status, 200);
}

#[tokio::test]
async fn without_a_token_nothing_is_disabled_until_smartrecruiters_confirms() {
    let stack = Stack::connect().await;
    // DisableRequiresToken=false: the stack's function runs with the default (true), so this
    // deployment setting is served in-process, over HTTP.
    let served = serve_disable(stack.partner_api().with_disable_requires_token(false)).await;
    let victim = stack.new_company("anon-victim").await;
    let already = stack.new_company("anon-disabled").await;
    assert_eq!(stack.sim.disable(&already.company_id).await.status, 204);
    let answers = [
        delete(&stack, &served.base_url, &victim.company_id, None).await,
        delete(&stack, &served.base_url, &unique("anon-unknown"), None).await,
        delete(&stack, &served.base_url, &already.company_id, None).await,
        delete(
            &stack,
            &served.base_url,
            &victim.company_id,
            Some(&forged_token(&victim.company_id, &victim.integration_id)),
        )
        .await,
    ];
    assert_eq!(
        answers,
        [204, 204, 204, 204],
        "one answer whatever the state"
    );
    // SR still accepts the company's credentials: nothing was disabled.
    assert_still_connected(&stack, &victim.company_id).await;

    // SR really disables it: its credentials stop working, then SR calls without a token.
    stack
        .sim
        .disable_with(&victim.company_id, json!({"notify": false}))
        .await;
    let called = stack
        .sim
        .raw(
            &victim.company_id,
            json!({"method": "DELETE", "no_auth": true,
                   "url": format!("{}/integrations/companies/{}", served.base_url, victim.company_id)}),
        )
        .await;
    assert_eq!(called.status, 204, "{:?}", called.body);
    assert_eq!(
        status_of(&stack, &victim.company_id).await,
        CompanyStatus::Disabled
    );
    assert_eq!(
        secret_of(&stack, &victim.company_id).await,
        SecretState::PendingDeletion
    );
}

#[tokio::test]
async fn without_a_token_nothing_is_disabled_while_smartrecruiters_cannot_be_asked() {
    let stack = Stack::connect().await;
    let victim = stack.new_company("anon-sr-down").await;
    // SR's token endpoint unreachable (nothing listens on port 9 of this host).
    let mut sr = stack.config.sr.clone();
    sr.token_url = url::Url::parse("http://127.0.0.1:9/identity/oauth/token").unwrap();
    let served = serve_disable(
        PartnerApi::new(
            stack.store.clone(),
            stack.secrets.clone(),
            stack.notifications(),
            sr,
            stack.config.access_token_ttl,
        )
        .with_disable_requires_token(false),
    )
    .await;
    for _ in 0..3 {
        let (status, body) = answer(&stack, &served.base_url, &victim.company_id, None).await;
        // SR retries a 503; nothing changed meanwhile.
        assert_eq!(status, 503, "{body}");
        assert!(!body.contains("127.0.0.1"), "{body}");
    }
    assert_still_connected(&stack, &victim.company_id).await;
}
