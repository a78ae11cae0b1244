//! Consent by signing in with the vendor's identity provider, over real HTTP: the consent
//! function (cargo lambda watch) against the local OpenID provider (`infra/oidc-provider`, npm
//! `oidc-provider`), its own login and one-time-code forms driven with a cookie jar, then SR
//! (the simulator) with the credentials it received. The local stack requires MFA
//! (`LOCAL_OIDC_REQUIRE_MFA=true`).

use connector_tests::sign_in::{
    consent_url, field, give_consent, log_in, sign_in, sign_in_at_idp, Answer, Browser, MFA_USER,
    NO_MFA_USER, NO_ORGANISATION_USER, TWO_ORGANISATIONS_USER,
};
use connector_tests::{unique, Stack};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use url::Url;

/// The integration's events, every page.
async fn events(stack: &Stack, integration: &str) -> Vec<Value> {
    let mut all = Vec::new();
    let mut path = "/assessment/events?page_size=100".to_string();
    loop {
        let page: Value = stack
            .vendor_request(Method::GET, &path, integration)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        all.extend(page["data"]["results"].as_array().unwrap().iter().cloned());
        match page["data"]["next"].as_str() {
            Some(next) => path = format!("/assessment/events?page_size=100&cursor={next}"),
            None => return all,
        }
    }
}

fn assert_refused(answer: &Answer, status: StatusCode, words: &str) {
    assert_eq!(answer.status, status, "{}", answer.body);
    assert!(answer.body.contains(words), "{words:?} in {}", answer.body);
    assert!(
        answer.body.contains("id=\"error\""),
        "the page says why: {}",
        answer.body
    );
}

#[tokio::test]
async fn an_admin_signs_in_with_mfa_gives_consent_and_sr_token_works() {
    let stack = Stack::connect().await;
    stack.configure_partner().await;
    let company = unique("signin");
    let mut browser = Browser::new();

    let page = sign_in(&mut browser, &stack, &company, MFA_USER).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("id=\"signed-in\""), "{}", page.body);
    assert!(page.body.contains(MFA_USER), "{}", page.body);
    assert!(
        page.body.contains("Acme Sweden"),
        "one organisation, named: {}",
        page.body
    );
    assert!(
        browser.cookie("consent_sign_in").is_none(),
        "the binding cookie is cleared once used"
    );
    let done = give_consent(&mut browser, &page, None).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(done.body.contains("id=\"done\""), "{}", done.body);

    let token = stack.sim.token(&company).await;
    assert_eq!(token.status, 200, "SR's token request: {:?}", token.body);

    let record = stack.store.get_company(&company).await.unwrap().unwrap();
    assert_eq!(record.integration_id, "acme-se");
    let by = record.connected_by.expect("who connected is recorded");
    assert_eq!(by.subject, "user-mfa");
    assert_eq!(by.email.as_deref(), Some(MFA_USER));

    let event = events(&stack, "acme-se")
        .await
        .into_iter()
        .find(|e| e["type"] == "company.connected" && e["company_id"] == company.as_str())
        .expect("company.connected is listed");
    assert_eq!(event["data"]["connected_by"]["subject"], "user-mfa");
    assert_eq!(event["data"]["connected_by"]["email"], MFA_USER);
    assert!(event["data"]["connected_by"]["at"].is_string());

    // The session is used up: the same form again does not connect anything twice.
    let again = give_consent(&mut browser, &page, None).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "{}", again.body);
}

#[tokio::test]
async fn a_user_in_two_organisations_chooses_one() {
    let stack = Stack::connect().await;
    stack.configure_partner().await;
    let company = unique("signin-two");
    let mut browser = Browser::new();
    let page = sign_in(&mut browser, &stack, &company, TWO_ORGANISATIONS_USER).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("type=\"radio\""), "{}", page.body);
    assert!(page.body.contains("Acme Norway"), "{}", page.body);

    // An organisation the user is not in is refused, and the choice is offered again.
    let wrong = give_consent(&mut browser, &page, Some("someone-elses-org")).await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST, "{}", wrong.body);
    assert!(wrong.body.contains("Acme Norway"), "{}", wrong.body);
    assert!(stack.store.get_company(&company).await.unwrap().is_none());

    let done = give_consent(&mut browser, &page, Some("acme-no")).await;
    assert!(done.body.contains("id=\"done\""), "{}", done.body);
    let record = stack.store.get_company(&company).await.unwrap().unwrap();
    assert_eq!(record.integration_id, "acme-no");
}

#[tokio::test]
async fn a_user_without_mfa_is_refused_when_mfa_is_required() {
    let stack = Stack::connect().await;
    let company = unique("signin-nomfa");
    let mut browser = Browser::new();
    let answer = sign_in(&mut browser, &stack, &company, NO_MFA_USER).await;
    assert_refused(&answer, StatusCode::FORBIDDEN, "multi-factor");
    assert!(browser.cookie("consent_signed_in").is_none());
    assert!(stack.store.get_company(&company).await.unwrap().is_none());
}

#[tokio::test]
async fn a_user_in_no_organisation_is_told_so() {
    let stack = Stack::connect().await;
    let company = unique("signin-noorg");
    let mut browser = Browser::new();
    let answer = sign_in(&mut browser, &stack, &company, NO_ORGANISATION_USER).await;
    assert_refused(&answer, StatusCode::FORBIDDEN, "no organisation");
}

/// The callback URL with one query parameter replaced.
fn with_param(url: &Url, name: &str, value: &str) -> Url {
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == name {
                value.into()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    let mut out = url.clone();
    out.query_pairs_mut().clear().extend_pairs(pairs);
    out
}

#[tokio::test]
async fn a_tampered_state_is_refused() {
    let stack = Stack::connect().await;
    let company = unique("signin-state");
    let mut browser = Browser::new();
    let callback = sign_in_at_idp(&mut browser, &stack, &company, MFA_USER).await;
    let state = callback
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let tampered = format!("{}x", &state[..state.len() - 1]);
    let answer = browser
        .get(&with_param(&callback, "state", &tampered))
        .await;
    assert_refused(&answer, StatusCode::BAD_REQUEST, "expired");
    assert!(browser.cookie("consent_signed_in").is_none());
}

#[tokio::test]
async fn a_state_from_another_browser_is_refused() {
    let stack = Stack::connect().await;
    let company = unique("signin-browser");
    let mut victim = Browser::new();
    let callback = sign_in_at_idp(&mut victim, &stack, &company, MFA_USER).await;
    // The callback URL, opened by someone else's browser (no binding cookie): refused, and the
    // state is used up, so the victim cannot be signed in with it either.
    let mut attacker = Browser::new();
    let answer = attacker.get(&callback).await;
    assert_refused(&answer, StatusCode::BAD_REQUEST, "another browser");
    let answer = victim.get(&callback).await;
    assert_refused(&answer, StatusCode::BAD_REQUEST, "expired");
}

#[tokio::test]
async fn a_replayed_callback_is_refused() {
    let stack = Stack::connect().await;
    stack.configure_partner().await;
    let company = unique("signin-replay");
    let mut browser = Browser::new();
    let callback = sign_in_at_idp(&mut browser, &stack, &company, MFA_USER).await;
    let binding = browser.cookie("consent_sign_in").unwrap().to_string();
    let first = browser.get(&callback).await;
    assert_eq!(first.status, StatusCode::SEE_OTHER, "{}", first.body);

    // The same URL with the same binding cookie: a replay of the whole request. The code is
    // never exchanged a second time: the state is gone.
    let replayed = reqwest::Client::new()
        .get(callback.clone())
        .header("cookie", format!("consent_sign_in={binding}"))
        .send()
        .await
        .unwrap();
    assert_eq!(replayed.status(), StatusCode::BAD_REQUEST);
    assert!(replayed
        .headers()
        .get("set-cookie")
        .is_some_and(|c| c.to_str().unwrap().contains("Max-Age=0")));
    let body = replayed.text().await.unwrap();
    assert!(body.contains("expired"), "{body}");
}

#[tokio::test]
async fn a_code_issued_to_another_client_is_refused() {
    let stack = Stack::connect().await;
    let company = unique("signin-audience");
    let mut browser = Browser::new();
    // The connector's own sign-in starts (state and binding cookie) …
    let mut start = consent_url(&stack, &company);
    start.query_pairs_mut().append_pair("signIn", "1");
    let to_idp = browser.get(&start).await;
    let ours = to_idp.location.clone().unwrap();
    let state = ours
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    // … but the code comes from the vendor's other application: the same IdP, another client
    // id, the same redirect URI. Its code (and its ID token's audience) is not the connector's.
    let mut other = ours.clone();
    let pairs: Vec<(String, String)> = ours
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "client_id" {
                "other-app".into()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    other.query_pairs_mut().clear().extend_pairs(pairs);
    let mut elsewhere = Browser::new();
    let to_other = elsewhere.get(&other).await;
    let callback = log_in(&mut elsewhere, to_other, MFA_USER).await;
    let code = callback
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let forged = with_param(&with_param(&callback, "state", &state), "code", &code);
    let answer = browser.get(&forged).await;
    assert_refused(&answer, StatusCode::BAD_REQUEST, "could not be confirmed");
    assert!(browser.cookie("consent_signed_in").is_none());
}

#[tokio::test]
async fn the_page_offers_sign_in_next_to_the_key_and_an_error_from_the_idp_is_shown() {
    let stack = Stack::connect().await;
    let company = unique("signin-page");
    let mut browser = Browser::new();
    let page = browser.get(&consent_url(&stack, &company)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("id=\"sign-in\""), "{}", page.body);
    assert!(
        page.body.contains("id=\"connect-key\""),
        "both ways: {}",
        page.body
    );
    assert!(field(&page.body, "csrf").is_some());

    // The IdP answers with an error (the user cancelled): a clear page, nothing stored.
    let mut start = consent_url(&stack, &company);
    start.query_pairs_mut().append_pair("signIn", "1");
    let to_idp = browser.get(&start).await;
    let state = to_idp
        .location
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let mut cancelled =
        Url::parse(&stack.function_url("consent", "/integration/callback")).unwrap();
    cancelled
        .query_pairs_mut()
        .append_pair("error", "access_denied")
        .append_pair("state", &state);
    let answer = browser.get(&cancelled).await;
    assert_refused(&answer, StatusCode::BAD_REQUEST, "access_denied");
}

/// Where the IdP cannot carry organisations, the vendor's endpoint lists them: asked with a
/// request signed like the webhooks. In-process consent page (the shared local stack has one
/// environment), the real IdP for the sign-in.
#[tokio::test]
async fn organisations_can_come_from_the_vendors_signed_endpoint() {
    use axum::body::Bytes;
    use axum::http::HeaderMap;
    use connector::onboarding::sign_in::SignInConfig;
    use connector_tests::consent::{api, html};
    use connector_tests::request;
    use std::sync::{Arc, Mutex};

    let stack = Stack::connect().await;
    stack.configure_partner().await;
    let signing_secret = stack
        .secrets
        .get_string(&stack.env["WEBHOOK_SIGNING_SECRET_ID"])
        .await
        .unwrap();
    let received: Arc<Mutex<Vec<(HeaderMap, Bytes)>>> = Arc::default();
    let seen = received.clone();
    let endpoint = axum::Router::new().route(
        "/orgs",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| async move {
            seen.lock().unwrap().push((headers, body));
            axum::Json(serde_json::json!({"organisations": [
                {"id": "endpoint-one", "name": "Endpoint One"},
                {"id": "endpoint-two", "name": "Endpoint Two"}
            ]}))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, endpoint).await });

    let mut env = stack.env.clone();
    env.insert("CONSENT_SIGN_IN".into(), "oidc".into());
    env.insert(
        "OIDC_ORGANISATIONS_URL".into(),
        format!("http://127.0.0.1:{port}/orgs"),
    );
    let config = SignInConfig::from_lookup(|k| env.get(k).cloned(), true).unwrap();
    let consent = api(&stack).with_sign_in(config);
    let company = unique("signin-endpoint");

    let cookie_of = |response: &lambda_http::Response<lambda_http::Body>, name: &str| {
        response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|c| c.to_str().ok())
            .find_map(|c| {
                c.split(';')
                    .next()?
                    .strip_prefix(&format!("{name}="))
                    .map(str::to_string)
            })
            .unwrap_or_else(|| panic!("{name} cookie set"))
    };
    let start = consent
        .handle(request(
            lambda_http::http::Method::GET,
            &format!("/integration?companyId={company}&signIn=1"),
            &[],
            "",
        ))
        .await
        .unwrap();
    assert_eq!(start.status(), 303);
    let binding = cookie_of(&start, "consent_sign_in");
    let to_idp = Url::parse(start.headers()["location"].to_str().unwrap()).unwrap();
    let mut browser = Browser::new();
    let answer = browser.get(&to_idp).await;
    let callback = log_in(&mut browser, answer, MFA_USER).await;

    let back = consent
        .handle(request(
            lambda_http::http::Method::GET,
            &format!("/integration/callback?{}", callback.query().unwrap()),
            &[("cookie", &format!("consent_sign_in={binding}"))],
            "",
        ))
        .await
        .unwrap();
    assert_eq!(back.status(), 303, "{}", html(&back));
    let session = cookie_of(&back, "consent_signed_in");
    let page = consent
        .handle(request(
            lambda_http::http::Method::GET,
            &format!("/integration?companyId={company}"),
            &[("cookie", &format!("consent_signed_in={session}"))],
            "",
        ))
        .await
        .unwrap();
    let page = html(&page);
    assert!(page.contains("Endpoint Two"), "{page}");
    assert!(
        !page.contains("Acme Sweden"),
        "the endpoint, not the claim: {page}"
    );

    let (headers, body) = received
        .lock()
        .unwrap()
        .pop()
        .expect("the endpoint was asked");
    connector::webhooks::verify(
        signing_secret.as_bytes(),
        headers["x-connector-timestamp"].to_str().unwrap(),
        headers["x-connector-signature"].to_str().unwrap(),
        &body,
        chrono::Utc::now(),
        std::time::Duration::from_secs(300),
    )
    .expect("signed with the webhook signing secret");
    let asked: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(asked["type"], "user.organisations");
    assert_eq!(asked["subject"], "user-mfa");
    assert_eq!(asked["email"], MFA_USER);
    assert_eq!(asked["email_verified"], true);
    assert_eq!(asked["company_id"], company.as_str());
}

/// A sign-in is for the SR company it started with: "Give consent" with another company id
/// (form and address) finds no session for it and connects nothing.
#[tokio::test]
async fn a_sign_in_for_one_company_cannot_connect_another() {
    let stack = Stack::connect().await;
    stack.configure_partner().await;
    let company = unique("signin-a");
    let other = unique("signin-b");
    let mut browser = Browser::new();
    let page = sign_in(&mut browser, &stack, &company, MFA_USER).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let csrf = field(&page.body, "csrf").unwrap();
    let organisation = field(&page.body, "organisation").unwrap();
    let form = |company_id: &str| {
        [
            ("company_id", company_id.to_string()),
            ("csrf", csrf.clone()),
            ("step", "signed_in".to_string()),
            ("organisation", organisation.clone()),
        ]
    };
    for target in [page.url.clone(), consent_url(&stack, &other)] {
        let fields = form(&other);
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let answer = browser.post(&target, &fields).await;
        assert!(
            answer.status == StatusCode::BAD_REQUEST || answer.status == StatusCode::FORBIDDEN,
            "{} {}",
            answer.status,
            answer.body
        );
        assert!(stack.store.get_company(&other).await.unwrap().is_none());
    }
    assert!(stack.store.get_company(&company).await.unwrap().is_none());
    // The session stays usable for the company it is for.
    let done = give_consent(&mut browser, &page, None).await;
    assert!(done.body.contains("id=\"done\""), "{}", done.body);
}

/// In REDIRECT mode the way back to SR is the one SR sent when the sign-in started, kept in the
/// session; a `redirect` field added to the form is ignored.
#[tokio::test]
async fn the_way_back_to_sr_comes_from_the_session_not_the_form() {
    let stack = Stack::connect().await;
    stack.configure_partner().await;
    let company = unique("signin-redirect");
    let from_sr = "https://www.smartrecruiters.com/from-sr";
    let mut browser = Browser::new();
    let mut start = consent_url(&stack, &company);
    start
        .query_pairs_mut()
        .append_pair("redirect", from_sr)
        .append_pair("signIn", "1");
    let to_idp = browser.get(&start).await;
    assert_eq!(to_idp.status, StatusCode::SEE_OTHER, "{}", to_idp.body);
    let callback = log_in(&mut browser, to_idp, MFA_USER).await;
    let answer = browser.get(&callback).await;
    let page = browser.follow(answer, |_| false).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let csrf = field(&page.body, "csrf").unwrap();
    let organisation = field(&page.body, "organisation").unwrap();
    let done = browser
        .post(
            &page.url,
            &[
                ("company_id", company.as_str()),
                ("csrf", csrf.as_str()),
                ("step", "signed_in"),
                ("organisation", organisation.as_str()),
                (
                    "redirect",
                    "https://elsewhere.smartrecruiters.com/from-form",
                ),
            ],
        )
        .await;
    let back = done
        .location
        .expect("REDIRECT mode answers with a redirect");
    assert!(back.as_str().starts_with(from_sr), "{back}");
    assert!(stack.store.get_company(&company).await.unwrap().is_some());
}
