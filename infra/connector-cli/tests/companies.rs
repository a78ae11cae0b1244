//! `connector companies list|show|disable` against the running local stack.

mod common;

use common::{connector, json, single_error_line, text};
use connector_tests::{json_body, request, unique, Stack};
use lambda_http::http::Method;
use serde_json::Value;

fn listed<'a>(list: &'a Value, company_id: &str) -> Option<&'a Value> {
    list["companies"]
        .as_array()
        .expect("companies array")
        .iter()
        .find(|c| c["company_id"] == company_id)
}

#[tokio::test]
async fn list_shows_a_new_company_and_filters_by_status() {
    let stack = Stack::connect().await;
    let company = stack.new_company("cli-list").await;

    let all = json(&["companies", "list", "--json"]);
    let entry = listed(&all, &company.company_id).expect("the new company is listed");
    assert_eq!(entry["integration_id"], company.integration_id.as_str());
    assert_eq!(entry["status"], "ACTIVE");
    assert!(entry["updated_at"].is_string());
    assert_eq!(
        all["count"].as_u64().unwrap() as usize,
        all["companies"].as_array().unwrap().len()
    );

    let active = json(&["companies", "list", "--status", "ACTIVE", "--json"]);
    assert!(listed(&active, &company.company_id).is_some());
    assert!(active["companies"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["status"] == "ACTIVE"));
    let disabled = json(&["companies", "list", "--status", "disabled", "--json"]);
    assert!(listed(&disabled, &company.company_id).is_none());

    let table = text(&["companies", "list"]);
    assert!(table.starts_with("COMPANY"), "{table}");
    let row = table
        .lines()
        .find(|l| l.starts_with(&company.company_id))
        .expect("a row for the company");
    assert!(
        row.contains(&company.integration_id) && row.contains("ACTIVE"),
        "{row}"
    );
}

#[tokio::test]
async fn show_reports_the_record_and_whether_the_secret_exists() {
    let stack = Stack::connect().await;
    let company = stack.new_company("cli-show").await;
    let _token = stack.access_token(&company).await;

    let shown = json(&["companies", "show", &company.company_id, "--json"]);
    assert_eq!(shown["company"]["company_id"], company.company_id.as_str());
    assert_eq!(
        shown["company"]["integration_id"],
        company.integration_id.as_str()
    );
    assert_eq!(shown["company"]["status"], "ACTIVE");
    assert_eq!(shown["secret"]["exists"], true);
    assert_eq!(
        shown["secret"]["id"],
        stack
            .secrets
            .company_secret_id(&company.company_id)
            .as_str()
    );
    assert!(shown["live_tokens"].as_u64().unwrap() >= 1);
    // Metadata only: no credential of the company is ever printed.
    let credentials = stack
        .secrets
        .company_credentials(&company.company_id)
        .await
        .unwrap();
    let inbound = stack.inbound_credentials(&company.company_id).await;
    let out = text(&["companies", "show", &company.company_id]);
    for secret in [&inbound.client_secret, &credentials.outbound.client_secret] {
        assert!(!out.contains(secret.as_str()) && !shown.to_string().contains(secret.as_str()));
    }
    assert!(out.contains("status:       ACTIVE"), "{out}");
    assert!(out.contains("secret:       present ("), "{out}");

    let missing = unique("cli-no-such-company");
    let line = single_error_line(&connector(&["companies", "show", &missing]));
    assert_eq!(line, format!("error: company {missing} does not exist"));
}

#[tokio::test]
async fn disable_revokes_the_company_like_smartrecruiters_does() {
    let stack = Stack::connect().await;
    let company = stack.new_company("cli-disable").await;
    let token = stack.access_token(&company).await;
    let auth = format!("Bearer {token}");
    let list_packages = || async {
        stack
            .partner_api()
            .list_packages(request(
                Method::GET,
                "/packages",
                &[("authorization", &auth)],
                "",
            ))
            .await
            .unwrap()
    };
    assert_ne!(
        list_packages().await.status(),
        401,
        "the token works before"
    );
    let credentials = stack.inbound_credentials(&company.company_id).await;

    let disabled = json(&["companies", "disable", &company.company_id, "--json"]);
    assert_eq!(disabled["status"], "DISABLED");
    assert_eq!(disabled["previous_status"], "ACTIVE");
    assert_eq!(disabled["integration_id"], company.integration_id.as_str());
    assert_eq!(disabled["event"]["type"], "company.disabled");

    let refused = list_packages().await;
    assert_eq!(refused.status(), 401, "{:?}", json_body(&refused));

    let shown = text(&["companies", "show", &company.company_id]);
    assert!(shown.contains("status:       DISABLED"), "{shown}");
    assert!(
        shown.contains("secret:       scheduled for deletion ("),
        "{shown}"
    );
    assert!(shown.contains("live tokens:  0"), "{shown}");
    // SR's client credentials no longer get a token either.
    let form = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}",
        credentials.client_id, credentials.client_secret
    );
    let token_refused = stack
        .partner_api()
        .oauth_token(request(
            Method::POST,
            "/oauth/token",
            &[("content-type", "application/x-www-form-urlencoded")],
            form,
        ))
        .await
        .unwrap();
    assert_eq!(token_refused.status(), 401);

    // The vendor sees exactly one company.disabled event, naming the operator.
    let events = stack
        .store
        .list_events(&company.integration_id, None, 50)
        .await
        .unwrap();
    let disabled_events: Vec<_> = events
        .events
        .iter()
        .filter(|e| e.kind == "company.disabled" && e.company_id == company.company_id)
        .collect();
    assert_eq!(disabled_events.len(), 1, "{:?}", events.events);
    assert_eq!(
        disabled_events[0].id,
        disabled["event"]["id"].as_str().unwrap()
    );
    assert!(disabled_events[0].data["reason"]
        .as_str()
        .unwrap()
        .contains("operator"));

    // Repeating is harmless and records no second event.
    let again = text(&["companies", "disable", &company.company_id]);
    assert!(again.contains("was already DISABLED"), "{again}");
    let events = stack
        .store
        .list_events(&company.integration_id, None, 50)
        .await
        .unwrap();
    assert_eq!(
        events
            .events
            .iter()
            .filter(|e| e.kind == "company.disabled")
            .count(),
        1
    );
    let listed_disabled = json(&["companies", "list", "--status", "DISABLED", "--json"]);
    assert!(listed(&listed_disabled, &company.company_id).is_some());

    let missing = unique("cli-no-such-company");
    let line = single_error_line(&connector(&["companies", "disable", &missing]));
    assert_eq!(line, format!("error: company {missing} does not exist"));
}

#[tokio::test]
async fn migrate_secrets_leaves_no_labelled_version_with_an_inbound_secret_in_clear() {
    let stack = Stack::connect().await;
    let company = stack.new_company("cli-migrate").await;
    let secret_id = stack.secrets.company_secret_id(&company.company_id);
    let raw = stack.secrets.get_string(&secret_id).await.unwrap();
    let mut stored: Value = serde_json::from_str(&raw).unwrap();
    let inbound = stack.inbound_credentials(&company.company_id).await;
    // What connectors before the digest-only shape wrote: the inbound secret in clear.
    stored["inbound"] = serde_json::json!({
        "clientId": inbound.client_id, "clientSecret": inbound.client_secret
    });
    stack
        .aws
        .secrets
        .put_secret_value()
        .secret_id(&secret_id)
        .secret_string(stored.to_string())
        .send()
        .await
        .unwrap();

    // Another company's secret is unreadable: reported, and the others are still migrated.
    let broken = stack.new_company("cli-migrate-broken").await;
    stack
        .aws
        .secrets
        .put_secret_value()
        .secret_id(stack.secrets.company_secret_id(&broken.company_id))
        .secret_string("not json")
        .send()
        .await
        .unwrap();

    let migrated = json(&["companies", "migrate-secrets", "--json"]);
    let reported = migrated["failed"]
        .as_array()
        .expect("failed companies")
        .iter()
        .find(|f| f["company_id"] == broken.company_id.as_str())
        .cloned()
        .expect("the unreadable secret is reported");
    assert!(
        reported["error"].as_str().unwrap().contains("malformed"),
        "{reported}"
    );
    let rewritten = migrated["rewritten"].as_array().expect("rewritten ids");
    assert!(
        rewritten.iter().any(|id| id == company.company_id.as_str()),
        "{migrated}"
    );
    // Neither the current version nor any other labelled one holds the secret in clear.
    let versions = stack
        .aws
        .secrets
        .list_secret_version_ids()
        .secret_id(&secret_id)
        .send()
        .await
        .unwrap();
    let mut labelled = 0;
    for version in versions.versions() {
        if version.version_stages().is_empty() {
            continue;
        }
        labelled += 1;
        let value = stack
            .aws
            .secrets
            .get_secret_value()
            .secret_id(&secret_id)
            .version_id(version.version_id().unwrap())
            .send()
            .await
            .unwrap();
        let text = value.secret_string().unwrap();
        assert!(!text.contains(&inbound.client_secret), "{:?}", version);
    }
    assert!(labelled >= 1);
    let current: Value =
        serde_json::from_str(&stack.secrets.get_string(&secret_id).await.unwrap()).unwrap();
    assert!(
        current["inbound"].get("clientSecret").is_none(),
        "{current}"
    );
    assert_eq!(
        current["inbound"]["secretSha256"],
        connector::auth::hash_secret(&inbound.client_secret).as_str()
    );
    // SR still gets its tokens with the pair it holds.
    assert_eq!(stack.sim.token(&company.company_id).await.status, 200);
    // Running it again finds nothing more to do for this company.
    let again = json(&["companies", "migrate-secrets", "--json"]);
    assert!(
        !again["rewritten"]
            .as_array()
            .unwrap()
            .iter()
            .any(|id| id == company.company_id.as_str()),
        "{again}"
    );
    let printed = text(&["companies", "migrate-secrets"]);
    assert!(printed.contains("in the digest-only shape"), "{printed}");
    assert!(
        printed.contains(&format!("  {}: secret", broken.company_id)),
        "{printed}"
    );
}
