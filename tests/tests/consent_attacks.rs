//! Attacks on the consent page, performed over HTTP against the local stack's `consent` function
//! by a customer of the vendor who holds a connect key of its own (shared/README.md "Security").

use connector::store::CompanyStatus;
use connector_tests::consent_page::{ConsentClient, Page};
use connector_tests::{unique, Stack};
use serde_json::json;

/// Connects `company` to `org` through the page, as its real admin does.
async fn connect(stack: &Stack, company: &str, org: &str) {
    let key = stack.http_connect_key(org, None).await;
    let done = ConsentClient::new(stack).connect(company, &key).await;
    assert!(done.is_done(), "{}", done.html);
}

async fn integration_of(stack: &Stack, company: &str) -> Option<(CompanyStatus, String)> {
    stack
        .store
        .get_company(company)
        .await
        .unwrap()
        .map(|c| (c.status, c.integration_id))
}

/// Opens the page for `company` and submits `key` for it with `client`'s cookie and address.
async fn try_key(client: &ConsentClient, company: &str, key: &str) -> Page {
    let opened = client.open(company).await;
    submit_key(client, &opened.csrf.unwrap(), company, key).await
}

/// Submits `key` for `company` with a CSRF token of another page (for a `company` whose own
/// page will not open).
async fn post_key(client: &ConsentClient, company: &str, key: &str) -> Page {
    let csrf = client.open(&unique("any-page")).await.csrf.unwrap();
    submit_key(client, &csrf, company, key).await
}

async fn submit_key(client: &ConsentClient, csrf: &str, company: &str, key: &str) -> Page {
    client
        .submit(
            csrf,
            &[
                ("company_id", company),
                ("step", "key"),
                ("connect_key", key),
            ],
        )
        .await
}

#[tokio::test]
async fn a_key_holder_cannot_take_over_a_company_that_is_already_connected() {
    let stack = Stack::connect().await;
    stack.configure_partner().await;
    let victim = unique("victim");
    let victim_org = unique("victim-org");
    connect(&stack, &victim, &victim_org).await;
    // SR forgets the integration on its side without the connector hearing of it (a lost
    // disable call), so SR would accept a new integration of the victim company.
    stack
        .sim
        .disable_with(&victim, json!({"notify": false}))
        .await;

    let attacker_org = unique("attacker-org");
    let attacker_key = stack.http_connect_key(&attacker_org, None).await;
    let attacker = ConsentClient::new(&stack);
    let taken = attacker.connect(&victim, &attacker_key).await;
    assert_eq!(taken.status, 200, "{}", taken.html);
    assert!(
        taken.html.contains("Already connected") && !taken.is_done(),
        "{}",
        taken.html
    );
    assert_eq!(
        integration_of(&stack, &victim).await,
        Some((CompanyStatus::Active, victim_org.clone())),
        "the victim stays connected to its own organisation"
    );
    // Nothing was asked of SR and the attacker's key is still good for its own company.
    let own = unique("attacker-company");
    let done = attacker.connect(&own, &attacker_key).await;
    assert!(done.is_done(), "{}", done.html);
    assert_eq!(
        integration_of(&stack, &own).await,
        Some((CompanyStatus::Active, attacker_org))
    );
}

#[tokio::test]
async fn one_connect_key_connects_at_most_one_company_even_when_sent_concurrently() {
    let stack = Stack::connect().await;
    stack.configure_partner().await;
    let org = unique("race-org");
    let key = stack.http_connect_key(&org, None).await;
    let companies: Vec<String> = (0..6).map(|i| unique(&format!("race{i}"))).collect();
    // Each "browser" opens its page first, then all submit the same key at once.
    let mut forms = Vec::new();
    for company in &companies {
        let client = ConsentClient::new(&stack);
        let opened = client.open(company).await;
        forms.push((client, opened.csrf.unwrap(), company.clone()));
    }
    let pages: Vec<Page> =
        futures_util::future::join_all(forms.iter().map(|(client, csrf, company)| async {
            client
                .submit(
                    csrf,
                    &[
                        ("company_id", company.as_str()),
                        ("step", "key"),
                        ("connect_key", key.as_str()),
                    ],
                )
                .await
        }))
        .await;
    let done = pages.iter().filter(|p| p.is_done()).count();
    assert_eq!(
        done,
        1,
        "{:#?}",
        pages.iter().map(|p| p.status).collect::<Vec<_>>()
    );
    let mut connected = 0;
    for company in &companies {
        if integration_of(&stack, company).await.is_some() {
            connected += 1;
        } else {
            // The losers never reached SR.
            let asked = stack
                .sim
                .requests(&format!("/integration/company/{company}"))
                .await;
            assert!(asked.is_empty(), "{company}: {asked:?}");
        }
    }
    assert_eq!(connected, 1);
    for page in pages.iter().filter(|p| !p.is_done()) {
        assert_eq!(page.status, 400, "{}", page.html);
        assert!(page.html.contains("already"), "{}", page.html);
    }
}

#[tokio::test]
async fn a_key_is_released_when_sr_refuses_so_a_retry_works() {
    let stack = Stack::connect().await;
    stack.configure_partner().await;
    let company = unique("released");
    let key = stack.http_connect_key(&unique("released-org"), None).await;
    stack
        .sim
        .inject_fault(json!({"path_contains": format!("/integration/company/{company}"), "status": 503, "count": 1}))
        .await;
    let client = ConsentClient::new(&stack);
    let refused = client.connect(&company, &key).await;
    assert_eq!(refused.status, 503, "{}", refused.html);
    let retried = client.connect(&company, &key).await;
    assert!(retried.is_done(), "{}", retried.html);
}

#[tokio::test]
async fn a_key_bound_to_a_company_connects_only_that_company() {
    let stack = Stack::connect().await;
    stack.configure_partner().await;
    let (intended, other) = (unique("bound"), unique("bound-other"));
    let org = unique("bound-org");
    let (status, minted) = stack
        .mint_connect_key(&[(&org, "Acme")], Some(&intended))
        .await;
    assert_eq!(status, 201, "{minted}");
    assert_eq!(minted["data"]["company_id"], intended.as_str());
    let key = minted["data"]["connect_key"].as_str().unwrap();

    let client = ConsentClient::new(&stack);
    let refused = client.connect(&other, key).await;
    assert_eq!(refused.status, 400, "{}", refused.html);
    assert!(
        refused.html.contains("another SmartRecruiters company"),
        "{}",
        refused.html
    );
    assert!(integration_of(&stack, &other).await.is_none());
    let done = client.connect(&intended, key).await;
    assert!(done.is_done(), "{}", done.html);

    // The field is checked like the others.
    let (status, body) = stack
        .mint_connect_key(&[(&org, "Acme")], Some(&"x".repeat(300)))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("company_id"));
}

#[tokio::test]
async fn wrong_keys_from_elsewhere_never_lock_the_real_admin_out() {
    let stack = Stack::connect().await;
    stack.configure_partner().await;
    let company = unique("lockout");
    let attacker = ConsentClient::new(&stack);
    let opened = attacker.open(&company).await;
    let csrf = opened.csrf.unwrap();
    for attempt in 0..12 {
        let wrong = attacker
            .submit(
                &csrf,
                &[
                    ("company_id", company.as_str()),
                    ("step", "key"),
                    ("connect_key", &format!("ck_guess{attempt}")),
                ],
            )
            .await;
        assert!(matches!(wrong.status, 400 | 429), "{}", wrong.html);
    }
    // The company has seen more than ten wrong keys; its admin's valid key still connects.
    let key = stack.http_connect_key(&unique("lockout-org"), None).await;
    let done = ConsentClient::new(&stack).connect(&company, &key).await;
    assert!(done.is_done(), "{} {}", done.status, done.html);
}

#[tokio::test]
async fn wrong_keys_are_limited_per_client_address() {
    let stack = Stack::connect().await;
    let noisy = ConsentClient::new(&stack);
    let mut statuses = Vec::new();
    // A different company each time: a per-company limit alone never trips.
    for attempt in 0..25 {
        let company = unique(&format!("spray{attempt}"));
        statuses.push(try_key(&noisy, &company, "ck_guess").await.status);
    }
    assert!(statuses[..20].iter().all(|s| *s == 400), "{statuses:?}");
    assert!(statuses[20..].iter().all(|s| *s == 429), "{statuses:?}");
    let limited = noisy.open(&unique("spray-last")).await;
    let page = noisy
        .submit(
            &limited.csrf.unwrap(),
            &[
                ("company_id", "x"),
                ("step", "key"),
                ("connect_key", "ck_x"),
            ],
        )
        .await;
    assert!(page.html.contains("Too many"), "{}", page.html);
    // Another address is not affected.
    let other = ConsentClient::new(&stack);
    let company = unique("spray-other");
    let page = try_key(&other, &company, "ck_x").await;
    assert_eq!(page.status, 400, "{}", page.html);
}

/// The page minus what differs on every load (CSRF token, style nonce) and the company id.
fn normalised(page: &Page, company: &str) -> String {
    let mut html = page.html.replace(company, "COMPANY");
    for name in ["csrf"] {
        if let Some(value) = page.field(name) {
            html = html.replace(&value, "TOKEN");
        }
    }
    if let Some(nonce) = html
        .split("nonce=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .map(str::to_string)
    {
        html = html.replace(&nonce, "NONCE");
    }
    html
}

#[tokio::test]
async fn the_page_does_not_tell_a_stranger_whether_a_company_is_connected() {
    let stack = Stack::connect().await;
    stack.configure_partner().await;
    let connected = unique("oracle-connected");
    connect(&stack, &connected, &unique("oracle-org")).await;
    let never_seen = unique("oracle-unknown");
    let stranger = ConsentClient::new(&stack);
    let a = stranger.open(&connected).await;
    let b = stranger.open(&never_seen).await;
    assert_eq!((a.status, b.status), (200, 200));
    assert_eq!(normalised(&a, &connected), normalised(&b, &never_seen));
    assert!(!a.html.contains("Already connected"), "{}", a.html);
}

#[tokio::test]
async fn the_page_says_what_the_vendor_will_read_in_smartrecruiters() {
    let stack = Stack::connect().await;
    let page = ConsentClient::new(&stack).open(&unique("reads")).await;
    assert_eq!(page.status, 200);
    // Every path the passthrough reaches (shared/README.md "SR passthrough"), in words.
    let reads = page
        .html
        .split("id=\"vendor-reads\"")
        .nth(1)
        .expect("the page lists the vendor's reads");
    for template in connector::passthrough::TEMPLATES {
        assert!(
            reads.contains(template.reads),
            "no `{}` in {}",
            template.reads,
            page.html
        );
    }
    assert!(
        reads.contains("Acme Assessments may read in SmartRecruiters"),
        "{reads}"
    );
}

#[tokio::test]
async fn a_look_alike_company_id_cannot_reach_another_companys_integration_at_smartrecruiters() {
    let stack = Stack::connect().await;
    stack.configure_partner().await;
    // SR company ids may hold `+`; a space in its place must not name the same SR company.
    let suffix = unique("plus");
    let victim = format!("v+{suffix}");
    let victim_org = unique("plus-victim-org");
    connect(&stack, &victim, &victim_org).await;
    stack
        .sim
        .disable_with(&victim, json!({"notify": false}))
        .await;
    let asked_before = stack.sim.requests(&suffix).await.len();

    let look_alike = format!("v {suffix}");
    let attacker_key = stack
        .http_connect_key(&unique("plus-attacker-org"), None)
        .await;
    let attacker = ConsentClient::new(&stack);
    let opened = attacker.open(&look_alike).await;
    assert_eq!(opened.status, 400, "{}", opened.html);
    let taken = post_key(&attacker, &look_alike, &attacker_key).await;
    assert_eq!(taken.status, 400, "{}", taken.html);
    assert!(!taken.is_done(), "{}", taken.html);
    assert!(integration_of(&stack, &look_alike).await.is_none());
    assert_eq!(
        stack.sim.requests(&suffix).await.len(),
        asked_before,
        "SR was not asked about the victim again"
    );
    assert_eq!(
        integration_of(&stack, &victim).await,
        Some((CompanyStatus::Active, victim_org))
    );
}

#[tokio::test]
async fn company_ids_smartrecruiters_or_secrets_manager_cannot_hold_are_refused_before_sr_is_asked()
{
    let stack = Stack::connect().await;
    stack.configure_partner().await;
    let suffix = unique("odd");
    let steps_before = path_step_calls(&stack).await;
    let client = ConsentClient::new(&stack);
    for odd in [
        "..".to_string(),
        ".".to_string(),
        format!("a/{suffix}"),
        format!("a b{suffix}"),
        format!(" {suffix}"),
        format!("{suffix}\t"),
        format!("{suffix}\n"),
        format!("é{suffix}"),
        format!("a%2F{suffix}"),
        "x".repeat(257),
    ] {
        let opened = client.open(&odd).await;
        assert_eq!(opened.status, 400, "{odd:?}: {}", opened.html);
        assert!(
            opened.html.contains("companyId"),
            "{odd:?}: {}",
            opened.html
        );
        let key = stack.http_connect_key(&unique("odd-org"), None).await;
        let page = post_key(&client, &odd, &key).await;
        assert_eq!(page.status, 400, "{odd:?}: {}", page.html);
        assert!(integration_of(&stack, &odd).await.is_none(), "{odd:?}");
        // Nor can a key be bound to one (the vendor's value is trimmed first).
        if odd.trim() == odd {
            let (status, body) = stack
                .mint_connect_key(&[(&unique("odd-org"), "Acme")], Some(&odd))
                .await;
            assert_eq!(status, 400, "{odd:?}: {body}");
            assert_eq!(body["error"]["field"], "company_id", "{odd:?}: {body}");
        }
    }
    let asked = stack.sim.requests("/integration/company").await;
    assert!(
        asked.iter().all(|r| !r.to_string().contains(&suffix)),
        "{asked:?}"
    );
    // `..` would have been read as a path step: the partner token sent to another SR path.
    assert_eq!(path_step_calls(&stack).await, steps_before);
}

/// How many calls SR got at `…/integration/` (what `integration/company/..` resolves to).
async fn path_step_calls(stack: &Stack) -> usize {
    let requests = stack.sim.requests("/integration").await;
    requests
        .iter()
        .filter(|r| {
            let path = r["path"].as_str().unwrap_or_default();
            path.ends_with("/integration/") || path.ends_with("/integration/company/")
        })
        .count()
}

#[tokio::test]
async fn a_valid_key_connects_from_an_address_others_filled_with_wrong_keys() {
    let stack = Stack::connect().await;
    stack.configure_partner().await;
    // The attacker and the real admin share one address (an office NAT, a mobile carrier).
    let shared = connector_tests::consent_page::random_address();
    let attacker = ConsentClient::from_address(&stack, &shared);
    for attempt in 0..21 {
        let page = try_key(&attacker, &unique(&format!("nat{attempt}")), "ck_guess").await;
        assert_eq!(
            page.status,
            if attempt < 20 { 400 } else { 429 },
            "{attempt}"
        );
    }
    let company = unique("nat-admin");
    let key = stack.http_connect_key(&unique("nat-org"), None).await;
    let admin = ConsentClient::from_address(&stack, &shared);
    let done = admin.connect(&company, &key).await;
    assert!(done.is_done(), "{} {}", done.status, done.html);
}

#[tokio::test]
async fn a_claim_that_lapsed_mid_connection_leaves_the_key_to_its_company_only() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let stack = Stack::connect().await;
    stack.configure_partner().await;
    let (first, second) = (unique("lapsed-first"), unique("lapsed-second"));
    let key = stack.http_connect_key(&unique("lapsed-org"), None).await;
    // A consent function claimed the key for `first`, then died without releasing or using it
    // (SR may have integrated `first` meanwhile); the claim has lapsed.
    let lapsed = chrono::Utc::now().timestamp() - 1;
    stack
        .aws
        .dynamodb
        .update_item()
        .table_name(&stack.config.table_name)
        .key(
            "pk",
            AttributeValue::S(format!("CONNECTKEY#{}", connector::auth::hash_secret(&key))),
        )
        .key("sk", AttributeValue::S("CONNECTKEY".into()))
        .update_expression("SET claimed_by = :company, claim_id = :claim, claimed_until = :until")
        .expression_attribute_values(":company", AttributeValue::S(first.clone()))
        .expression_attribute_values(":claim", AttributeValue::S("died".into()))
        .expression_attribute_values(":until", AttributeValue::N(lapsed.to_string()))
        .send()
        .await
        .unwrap();

    let client = ConsentClient::new(&stack);
    let other = client.connect(&second, &key).await;
    assert_eq!(other.status, 400, "{}", other.html);
    assert!(other.html.contains("already used"), "{}", other.html);
    assert!(integration_of(&stack, &second).await.is_none());
    let retried = client.connect(&first, &key).await;
    assert!(retried.is_done(), "{} {}", retried.status, retried.html);
}

/// A deployed `POST /integration` as API Gateway (HTTP API, payload 2.0) hands it to the consent
/// function: the caller's address in `requestContext.http.sourceIp`, whatever `X-Forwarded-For`
/// the caller sent.
fn api_gateway_post(source_ip: &str, forwarded_for: &str, company: &str) -> lambda_http::Request {
    let body = serde_urlencoded::to_string([
        ("csrf", "t0k3n"),
        ("company_id", company),
        ("step", "key"),
        ("connect_key", "ck_guess"),
    ])
    .unwrap();
    let event = json!({
        "version": "2.0", "routeKey": "POST /integration", "rawPath": "/integration",
        "rawQueryString": "", "cookies": ["consent_csrf=t0k3n"],
        "headers": {"content-type": "application/x-www-form-urlencoded",
                    "x-forwarded-for": forwarded_for},
        "requestContext": {
            "accountId": "123456789012", "apiId": "api", "domainName": "api.example.com",
            "domainPrefix": "api", "requestId": "r", "routeKey": "POST /integration",
            "stage": "$default", "time": "30/Nov/2026:06:00:00 +0000", "timeEpoch": 1_796_000_000_000_u64,
            "http": {"method": "POST", "path": "/integration", "protocol": "HTTP/1.1",
                     "sourceIp": source_ip, "userAgent": "browser"}
        },
        "body": body, "isBase64Encoded": false
    });
    lambda_http::request::from_str(&event.to_string()).expect("an API Gateway v2 event")
}

#[tokio::test]
async fn a_deployed_page_counts_the_address_api_gateway_saw_not_the_forwarded_header() {
    let stack = Stack::connect().await;
    // The consent function as deployed: https SR endpoints, so no local-stack allowances
    // (wrong keys never reach SR, so these URLs are never called).
    let https = |u: &str| url::Url::parse(u).unwrap();
    let deployed = connector::api::consent::ConsentApi::new(
        stack.store.clone(),
        stack.secrets.clone(),
        stack.notifications(),
        connector::sr::SrClient::new(connector::config::SrEndpoints {
            api_base_url: https("https://api.smartrecruiters.com/assessment-api/v202010"),
            token_url: https("https://api.smartrecruiters.com/identity/oauth/token"),
            customer_api_base_url: https("https://api.smartrecruiters.com"),
            allow_insecure: false,
        }),
        stack.config.partner_credential_secret_id.clone(),
        connector::api::consent::Branding {
            vendor_name: "Acme Assessments".into(),
            logo_url: None,
        },
        vec!["smartrecruiters.com".into()],
    );
    let source = connector_tests::consent_page::random_address();
    let mut statuses = Vec::new();
    for attempt in 0..21 {
        // A new forged address each time: counted anyway, under the real one.
        let forged = connector_tests::consent_page::random_address();
        let company = unique(&format!("gw{attempt}"));
        let page = deployed
            .handle(api_gateway_post(&source, &forged, &company))
            .await
            .unwrap();
        statuses.push(page.status().as_u16());
    }
    assert!(statuses[..20].iter().all(|s| *s == 400), "{statuses:?}");
    assert_eq!(statuses[20], 429, "{statuses:?}");
    // Forging the locked-out address from elsewhere locks nobody else out.
    let elsewhere = connector_tests::consent_page::random_address();
    let page = deployed
        .handle(api_gateway_post(&elsewhere, &source, &unique("gw-other")))
        .await
        .unwrap();
    assert_eq!(page.status(), 400);
}
