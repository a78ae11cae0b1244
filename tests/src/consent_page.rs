//! The consent page over HTTP, as a browser uses it: `GET` sets the CSRF cookie, `POST` sends it
//! back with the form. Each client speaks from its own address (`X-Forwarded-For`, which local
//! stacks read because `cargo lambda watch` reports every caller as 127.0.0.1), so tests that
//! count failed keys per address do not share counters.

use rand::Rng;

use crate::Stack;

/// One browser: an address and the consent function's URL.
pub struct ConsentClient {
    http: reqwest::Client,
    url: String,
    pub address: String,
}

/// A page as the browser got it.
#[derive(Debug, Clone)]
pub struct Page {
    pub status: u16,
    pub html: String,
    /// The `consent_csrf` cookie the page set, if it set one.
    pub csrf: Option<String>,
    pub location: Option<String>,
}

impl Page {
    pub fn is_done(&self) -> bool {
        self.status == 200 && self.html.contains("id=\"done\"") && self.html.contains("Connected")
    }

    /// The value of the hidden form field `name`.
    pub fn field(&self, name: &str) -> Option<String> {
        let marker = format!("name=\"{name}\" value=\"");
        let rest = self.html.split(&marker).nth(1)?;
        Some(rest.split('"').next()?.to_string())
    }
}

/// A random private address, unique enough per test.
pub fn random_address() -> String {
    let mut rng = rand::rng();
    format!(
        "10.{}.{}.{}",
        rng.random_range(0..=255),
        rng.random_range(0..=255),
        rng.random_range(1..=254)
    )
}

impl ConsentClient {
    pub fn new(stack: &Stack) -> Self {
        Self::from_address(stack, &random_address())
    }

    pub fn from_address(stack: &Stack, address: &str) -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(std::time::Duration::from_secs(600))
                .build()
                .unwrap(),
            url: stack.function_url("consent", "/integration"),
            address: address.to_string(),
        }
    }

    async fn page(response: reqwest::Response) -> Page {
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let csrf = header("set-cookie").and_then(|c| {
            c.split(';')
                .next()?
                .strip_prefix("consent_csrf=")
                .map(str::to_string)
        });
        let location = header("location");
        let html = response.text().await.unwrap_or_default();
        Page {
            status,
            html,
            csrf,
            location,
        }
    }

    /// `GET /integration?companyId=…`, as SR's popup opens it.
    pub async fn open(&self, company_id: &str) -> Page {
        let response = self
            .http
            .get(&self.url)
            .query(&[("companyId", company_id)])
            .header("x-forwarded-for", &self.address)
            .send()
            .await
            .expect("consent function reachable");
        Self::page(response).await
    }

    /// `POST /integration` with the cookie and the same token in the form.
    pub async fn submit(&self, csrf: &str, fields: &[(&str, &str)]) -> Page {
        let mut form: Vec<(&str, &str)> = vec![("csrf", csrf)];
        form.extend_from_slice(fields);
        let response = self
            .http
            .post(&self.url)
            .header("cookie", format!("consent_csrf={csrf}"))
            .header("x-forwarded-for", &self.address)
            .form(&form)
            .send()
            .await
            .expect("consent function reachable");
        Self::page(response).await
    }

    /// Opens the page for `company_id` and submits `key` (the `key` step).
    pub async fn connect(&self, company_id: &str, key: &str) -> Page {
        let opened = self.open(company_id).await;
        assert_eq!(opened.status, 200, "{}", opened.html);
        let csrf = opened.csrf.expect("the page sets the CSRF cookie");
        self.submit(
            &csrf,
            &[
                ("company_id", company_id),
                ("step", "key"),
                ("connect_key", key),
            ],
        )
        .await
    }
}

impl Stack {
    /// A connect key minted over HTTP with the admin key: `organisations` as `(id, name)`,
    /// bound to `company_id` when given. Answers the vendor API's status and body.
    pub async fn mint_connect_key(
        &self,
        organisations: &[(&str, &str)],
        company_id: Option<&str>,
    ) -> (u16, serde_json::Value) {
        let organisations: Vec<serde_json::Value> = organisations
            .iter()
            .map(|(id, name)| serde_json::json!({"id": id, "name": name}))
            .collect();
        let mut body = serde_json::json!({ "organisations": organisations });
        if let Some(company_id) = company_id {
            body["company_id"] = company_id.into();
        }
        let response = self
            .http
            .post(self.function_url("vendor-api", "/assessment/connect-keys"))
            .bearer_auth(&self.vendor_api_key)
            .json(&body)
            .send()
            .await
            .expect("vendor API reachable");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or_default())
    }

    /// A connect key for one organisation, minted over HTTP (optionally bound to a company).
    pub async fn http_connect_key(&self, organisation: &str, company_id: Option<&str>) -> String {
        let (status, body) = self
            .mint_connect_key(&[(organisation, "Acme")], company_id)
            .await;
        assert_eq!(status, 201, "{body}");
        body["data"]["connect_key"].as_str().unwrap().to_string()
    }
}
