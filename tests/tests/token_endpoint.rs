//! The token endpoint speaks OAuth 2.0 as clients do (RFC 6749 §2.3.1): real client libraries,
//! unchanged, fetch tokens over HTTP from the oauth-token function under cargo lambda watch —
//! Rust's `oauth2` (HTTP Basic, id and secret form-urlencoded first as Appendix B says), Python's
//! Authlib (HTTP Basic and the form body) and requests-oauthlib (HTTP Basic without the
//! encoding) — with ids and secrets holding `+ / : =` and spaces. Each token then lists packages.

use chrono::Utc;
use connector::auth::hash_secret;
use connector::store::{ClientRecord, CompanyRecord, CompanyStatus};
use connector_tests::{unique, Stack};
use oauth2::basic::BasicClient;
use oauth2::{ClientId, ClientSecret, TokenResponse, TokenUrl};
use serde_json::Value;

/// A company whose inbound client (what SR presents to us) has this id and secret.
async fn client_with(stack: &Stack, client_id: &str, secret: &str) -> String {
    let company_id = unique("oauth");
    let now = Utc::now();
    let company = CompanyRecord {
        company_id: company_id.clone(),
        integration_id: unique("oauth-org"),
        status: CompanyStatus::Active,
        client_id: client_id.to_owned(),
        created_at: now,
        updated_at: now,
        connected_by: None,
    };
    let client = ClientRecord {
        client_id: client_id.to_owned(),
        company_id: company_id.clone(),
        integration_id: company.integration_id.clone(),
        secret_sha256: hash_secret(secret),
        created_at: now,
    };
    stack.store.put_company(&company, &client).await.unwrap();
    company_id
}

fn token_url(stack: &Stack) -> String {
    stack.function_url("oauth-token", "/oauth/token")
}

/// `GET /packages` with the token: anything but 401 means the token is accepted.
async fn lists_packages(stack: &Stack, token: &str) -> u16 {
    stack
        .http
        .get(stack.function_url("list-packages", "/packages"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// oauth2's HTTP client trait, served by the tests' reqwest 0.13.
async fn send(request: oauth2::HttpRequest) -> Result<oauth2::HttpResponse, reqwest::Error> {
    let response = reqwest::Client::new()
        .execute(reqwest::Request::try_from(request)?)
        .await?;
    let mut answer = oauth2::http::Response::builder().status(response.status().as_u16());
    for (name, value) in response.headers() {
        answer = answer.header(name.as_str(), value.as_bytes());
    }
    let body = response.bytes().await?.to_vec();
    Ok(answer.body(body).expect("a response from parts"))
}

async fn rust_oauth2_token(stack: &Stack, client_id: &str, secret: &str) -> String {
    let client = BasicClient::new(ClientId::new(client_id.into()))
        .set_client_secret(ClientSecret::new(secret.into()))
        .set_token_uri(TokenUrl::new(token_url(stack)).unwrap());
    let token = client
        .exchange_client_credentials()
        .request_async(&send)
        .await
        .unwrap_or_else(|e| panic!("oauth2 (HTTP Basic) got no token for `{client_id}`: {e:?}"));
    token.access_token().secret().clone()
}

fn python_tokens(stack: &Stack, client_id: &str, secret: &str) -> serde_json::Map<String, Value> {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/clients/oauth_client_credentials.py"
    );
    let output = std::process::Command::new("python3")
        .args([script, &token_url(stack), client_id, secret])
        .output()
        .expect("python3 runs (make setup installs authlib and requests-oauthlib)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let results: Value = serde_json::from_slice(&output.stdout).unwrap();
    results.as_object().unwrap().clone()
}

#[tokio::test]
async fn real_oauth_clients_get_tokens_with_http_basic_and_the_form() {
    let stack = Stack::connect().await;
    let client_id = format!("{} client+1/2=3", unique("acme"));
    let secret = "s3cr+t/with:colon= and spaces==";
    client_with(&stack, &client_id, secret).await;

    let token = rust_oauth2_token(&stack, &client_id, secret).await;
    assert_ne!(lists_packages(&stack, &token).await, 401);

    let results = python_tokens(&stack, &client_id, secret);
    assert_eq!(results.len(), 3);
    for (library, result) in results {
        let token = result["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("{library}: {result}"));
        assert_ne!(lists_packages(&stack, token).await, 401, "{library}");
    }
}

#[tokio::test]
async fn a_client_id_with_a_colon_works_when_encoded_as_rfc_6749_says() {
    let stack = Stack::connect().await;
    let client_id = format!("{}:with:colons", unique("acme"));
    let secret = "a+b/c:d=e f";
    client_with(&stack, &client_id, secret).await;
    let token = rust_oauth2_token(&stack, &client_id, secret).await;
    assert_ne!(lists_packages(&stack, &token).await, 401);
}

#[tokio::test]
async fn a_wrong_secret_by_basic_is_401_invalid_client_with_www_authenticate() {
    let stack = Stack::connect().await;
    let client_id = unique("acme");
    client_with(&stack, &client_id, "right secret").await;
    let response = stack
        .http
        .post(token_url(&stack))
        .basic_auth(&client_id, Some("wrong secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(challenge.starts_with("Basic"), "{challenge}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
}

#[tokio::test]
async fn credentials_sent_both_ways_at_once_are_400_invalid_request() {
    let stack = Stack::connect().await;
    let client_id = unique("acme");
    client_with(&stack, &client_id, "secret").await;
    let response = stack
        .http
        .post(token_url(&stack))
        .basic_auth(&client_id, Some("secret"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id.as_str()),
            ("client_secret", "secret"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("one method"),
        "{body}"
    );
}
