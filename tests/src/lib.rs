//! Test support shared by every integration and end-to-end test: reach the local stack started by
//! `infra/stack.sh up` (moto, SR simulator, `cargo lambda watch`, SQS and stream pollers), build companies,
//! and drive the spine. Tests use unique ids, so they run in parallel against one stack.

pub mod apigw;
pub mod consent_page;
pub mod faults;
pub mod kombo;
pub mod pipeline;
pub mod publishing;
pub mod scenario;
pub mod serve;
pub mod sign_in;
pub mod sim;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use aws_config::Region;
use aws_sdk_dynamodb::config::Credentials;
use aws_sdk_dynamodb::types::AttributeValue;
use connector::api::partner::PartnerApi;
use connector::api::vendor::VendorApi;
use connector::auth::VendorKeyVerifier;
use connector::aws::AwsClients;
use connector::notifications::Notifications;
use connector::onboarding::Onboarding;
use connector::partner_config::{partner_configuration, PartnerSettings, PartnerUrls};
use connector::queue::ResultsQueue;
use connector::secrets::Secrets;
use connector::sr::partner::{ClientCredentials, Field, PartnerConfiguration};
use connector::sr::SrClient;
use connector::store::Store;
use connector::Config;
use lambda_http::http::Method;
use lambda_http::{Body, Request};
use rand::RngCore;

pub use sim::Simulator;

/// The running local stack, as described by `.local/stack.env`.
pub struct Stack {
    pub env: HashMap<String, String>,
    pub config: Config,
    pub aws: AwsClients,
    pub store: Store,
    pub secrets: Secrets,
    pub sr: SrClient,
    pub sim: Simulator,
    pub http: reqwest::Client,
    /// `http://127.0.0.1:9000/lambda-url`: prefix of every function's URL under cargo lambda watch.
    pub lambda_prefix: String,
    pub vendor_api_key: String,
}

/// Where `infra/stack.sh` writes the stack description (override with `STACK_ENV`).
pub fn stack_env_path() -> PathBuf {
    std::env::var_os("STACK_ENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.local/stack.env"))
}

/// What the stack's functions logged so far (`cargo lambda watch`'s output, `lambda.log` beside
/// the stack description).
pub fn lambda_log() -> String {
    let path = stack_env_path().with_file_name("lambda.log");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The pairs of a dotenv file (`local_stack.py` quotes values as dotenv and cargo lambda read them).
fn read_env_file(path: &PathBuf) -> HashMap<String, String> {
    dotenvy::from_path_iter(path)
        .and_then(|pairs| pairs.collect())
        .unwrap_or_else(|e| {
            panic!(
                "cannot read {} ({e}): start the local stack first with `make stack-up` (make test does it)",
                path.display()
            )
        })
}

impl Stack {
    pub async fn connect() -> Stack {
        connector::aws::install_crypto_provider();
        let env = read_env_file(&stack_env_path());
        let get = |k: &str| {
            env.get(k)
                .cloned()
                .unwrap_or_else(|| panic!("{k} missing in stack.env"))
        };
        let config = Config::from_lookup(|k| env.get(k).cloned())
            .expect("stack.env holds a valid configuration");
        let sdk = connector::aws::config_loader()
            .endpoint_url(get("AWS_ENDPOINT_URL"))
            .region(Region::new(get("AWS_REGION")))
            .credentials_provider(Credentials::new("test", "test", None, None, "local-stack"))
            .load()
            .await;
        let aws = AwsClients::new(&sdk);
        Stack {
            store: Store::new(aws.dynamodb.clone(), &config.table_name),
            secrets: Secrets::new(aws.secrets.clone(), &config.secret_prefix),
            sr: SrClient::new(config.sr.clone()),
            sim: Simulator::new(&get("SR_SIM_URL")),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(600))
                .build()
                .unwrap(),
            lambda_prefix: get("LAMBDA_INVOKE_URL_PREFIX"),
            vendor_api_key: get("VENDOR_API_KEY"),
            aws,
            config,
            env,
        }
    }

    /// The stack with a DynamoDB table of its own: the stack's table's keys and indexes, no
    /// stream. Orders a test stores there never reach the running stack's pipeline (the stream
    /// consumer, then the publisher's enrichment), so an in-process publisher meets the SR faults
    /// the test injects and nothing else does. Secrets, queues and the simulator are shared.
    pub async fn isolated() -> Stack {
        use aws_sdk_dynamodb::types::{BillingMode, GlobalSecondaryIndex};
        let mut stack = Stack::connect().await;
        let table = stack
            .aws
            .dynamodb
            .describe_table()
            .table_name(&stack.config.table_name)
            .send()
            .await
            .expect("the stack's table")
            .table
            .expect("a table description");
        let name = unique(&format!("{}-isolated", stack.config.table_name));
        let indexes: Vec<GlobalSecondaryIndex> = table
            .global_secondary_indexes()
            .iter()
            .map(|index| {
                GlobalSecondaryIndex::builder()
                    .index_name(index.index_name().unwrap_or_default())
                    .set_key_schema(index.key_schema.clone())
                    .set_projection(index.projection.clone())
                    .build()
                    .expect("name and keys are set")
            })
            .collect();
        stack
            .aws
            .dynamodb
            .create_table()
            .table_name(&name)
            .set_key_schema(table.key_schema.clone())
            .set_attribute_definitions(table.attribute_definitions.clone())
            .set_global_secondary_indexes((!indexes.is_empty()).then_some(indexes))
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await
            .expect("an isolated table");
        stack.store = Store::new(stack.aws.dynamodb.clone(), &name);
        stack.config.table_name = name;
        stack
    }

    /// [`Stack::isolated`] holding `company` as this stack's table does: its record, client,
    /// tokens, catalog and whatever else names it (copied, not moved), so the company can order
    /// there without the stack's pipeline seeing the order.
    pub async fn isolated_with(&self, company: &TestCompany) -> Stack {
        use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
        let isolated = Stack::isolated().await;
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .aws
                .dynamodb
                .scan()
                .table_name(&self.config.table_name)
                .filter_expression(
                    "company_id = :c OR integration_id = :i OR begins_with(pk, :cp) \
                     OR begins_with(pk, :ip)",
                )
                .expression_attribute_values(":c", AttributeValue::S(company.company_id.clone()))
                .expression_attribute_values(
                    ":i",
                    AttributeValue::S(company.integration_id.clone()),
                )
                .expression_attribute_values(
                    ":cp",
                    AttributeValue::S(format!("COMPANY#{}", company.company_id)),
                )
                .expression_attribute_values(
                    ":ip",
                    AttributeValue::S(format!("INTEGRATION#{}", company.integration_id)),
                )
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .expect("the stack's table scans");
            items.extend(page.items.unwrap_or_default());
            match page.last_evaluated_key.filter(|k| !k.is_empty()) {
                Some(key) => start = Some(key),
                None => break,
            }
        }
        for chunk in items.chunks(25) {
            let writes = chunk
                .iter()
                .map(|item| {
                    WriteRequest::builder()
                        .put_request(
                            PutRequest::builder()
                                .set_item(Some(item.clone()))
                                .build()
                                .expect("an item"),
                        )
                        .build()
                })
                .collect();
            isolated
                .aws
                .dynamodb
                .batch_write_item()
                .request_items(&isolated.config.table_name, writes)
                .send()
                .await
                .expect("the copy is written");
        }
        isolated
    }

    /// Invokes `function` with a raw event through cargo lambda watch's Lambda invoke API, as
    /// AWS services do (API Gateway, the SQS event source mapping); the function's answer.
    pub async fn invoke(&self, function: &str, event: &serde_json::Value) -> serde_json::Value {
        let base = self.env.get("LAMBDA_URL").expect("LAMBDA_URL in stack.env");
        let response = self
            .http
            .post(format!(
                "{base}/2015-03-31/functions/{function}/invocations"
            ))
            .json(event)
            .send()
            .await
            .expect("cargo lambda watch reachable");
        assert!(
            response.status().is_success(),
            "{function} invocation failed: {}",
            response.status()
        );
        response.json().await.expect("a JSON answer")
    }

    /// The raw item at (`pk`, `sk`), strongly consistent; `None` when absent.
    pub async fn raw_item(&self, pk: &str, sk: &str) -> Option<HashMap<String, AttributeValue>> {
        self.aws
            .dynamodb
            .get_item()
            .table_name(&self.config.table_name)
            .key("pk", AttributeValue::S(pk.into()))
            .key("sk", AttributeValue::S(sk.into()))
            .consistent_read(true)
            .send()
            .await
            .expect("DynamoDB answers")
            .item
    }

    /// The company's shared SR call schedule (`pacing`), as stored: `(next_ms, careful_until_ms)`
    /// in epoch milliseconds, `careful_until_ms` 0 when never set; panics when there is none.
    pub async fn pacing_schedule(&self, company_id: &str) -> (u64, u64) {
        let (pk, sk) = connector::store::keys::pacing(company_id);
        let item = self
            .raw_item(&pk, &sk)
            .await
            .expect("the company's SR schedule");
        let number = |name: &str| -> u64 {
            item.get(name)
                .map(|v| v.as_n().expect("a number").parse().expect("an integer"))
                .unwrap_or_default()
        };
        (number("next_ms"), number("careful_until_ms"))
    }

    /// The order's raw items whose sort key starts with `prefix` (`HISTORY#ATTEMPT#`,
    /// `FILEDATA#`, …), strongly consistent.
    pub async fn order_items(
        &self,
        order_id: &str,
        prefix: &str,
    ) -> Vec<HashMap<String, AttributeValue>> {
        self.aws
            .dynamodb
            .query()
            .table_name(&self.config.table_name)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", AttributeValue::S(format!("ORDER#{order_id}")))
            .expression_attribute_values(":prefix", AttributeValue::S(prefix.into()))
            .consistent_read(true)
            .send()
            .await
            .expect("DynamoDB answers")
            .items
            .unwrap_or_default()
    }

    /// The stored order with its history (submissions, delivery attempts); panics when absent.
    pub async fn stored_order(&self, order_id: &str) -> connector::orders::Order {
        self.store
            .get_order_with_history(order_id)
            .await
            .expect("DynamoDB answers")
            .unwrap_or_else(|| panic!("order {order_id} is stored"))
    }

    /// The customer-level client id the connector presents to SR for `company`.
    pub async fn outbound_client_id(&self, company: &TestCompany) -> String {
        self.secrets
            .company_credentials(&company.company_id)
            .await
            .expect("the company's secret")
            .outbound
            .client_id
    }

    /// URL of `path` on `function` under cargo lambda watch.
    pub fn function_url(&self, function: &str, path: &str) -> String {
        format!("{}/{function}{path}", self.lambda_prefix)
    }

    /// The partner configuration pointing SR at the local functions (inline enabled, one
    /// custom field `lens`).
    pub fn partner_configuration(&self) -> PartnerConfiguration {
        let settings = PartnerSettings {
            inline_enabled: true,
            fields: vec![Field {
                id: "lens".into(),
                name: "Lens".into(),
                description: "Which lens the assessment uses".into(),
            }],
            ..PartnerSettings::default()
        };
        partner_configuration(&PartnerUrls::local(&self.lambda_prefix), &settings)
            .expect("the local settings are valid")
    }

    /// Registers the partner configuration with the SR simulator (idempotent).
    pub async fn configure_partner(&self) {
        let master = self
            .secrets
            .partner_credential(&self.config.partner_credential_secret_id)
            .await
            .expect("partner credential secret exists");
        self.sr
            .put_partner_configuration(&master, &self.partner_configuration())
            .await
            .expect("SR simulator accepts the partner configuration");
    }

    /// A freshly connected company with its own integration, credentials exchanged with the SR
    /// simulator exactly as the consent flow does.
    pub async fn new_company(&self, label: &str) -> TestCompany {
        self.configure_partner().await;
        let company = TestCompany {
            company_id: unique(label),
            integration_id: unique(&format!("{label}-org")),
        };
        Onboarding {
            store: &self.store,
            secrets: &self.secrets,
            sr: &self.sr,
            partner_credential_secret_id: &self.config.partner_credential_secret_id,
            notifications: &self.notifications(),
        }
        .connect(
            &connector::ids::CompanyId::parse(&company.company_id).expect("a company id"),
            &company.integration_id,
        )
        .await
        .expect("company connects");
        company
    }

    /// Records events and queues them on the stack's notifications queue, as the functions do.
    pub fn notifications(&self) -> Notifications {
        Notifications::new(
            self.store.clone(),
            self.aws.sqs.clone(),
            self.config.notifications_queue_url.clone(),
        )
    }

    /// The SR-facing handlers, in-process, against the stack's AWS emulator.
    pub fn partner_api(&self) -> PartnerApi {
        PartnerApi::new(
            self.store.clone(),
            self.secrets.clone(),
            self.notifications(),
            self.config.sr.clone(),
            self.config.access_token_ttl,
        )
    }

    /// The vendor API handler, in-process.
    pub fn vendor_api(&self) -> VendorApi {
        VendorApi::new(
            self.store.clone(),
            ResultsQueue::new(self.aws.sqs.clone(), &self.config.results_queue_url),
            self.vendor_key_verifier(),
        )
        .with_notifications(self.notifications())
    }

    /// The stack's vendor API key check, for in-process handlers.
    pub fn vendor_key_verifier(&self) -> VendorKeyVerifier {
        VendorKeyVerifier::new(
            self.store.clone(),
            self.secrets.clone(),
            self.config.vendor_api_key_secret_id.clone(),
        )
    }

    /// A vendor API request over HTTP through cargo lambda watch.
    pub fn vendor_request(
        &self,
        method: reqwest::Method,
        path: &str,
        integration: &str,
    ) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.function_url("vendor-api", path))
            .bearer_auth(&self.vendor_api_key)
            .header("X-Integration-Id", integration)
    }

    /// The client credentials SR presents to our token endpoint for `company_id`: SR (the
    /// simulator) holds them, the connector keeps only the secret's digest.
    pub async fn inbound_credentials(&self, company_id: &str) -> ClientCredentials {
        let (client_id, client_secret) = self.sim.partner_credentials(company_id).await;
        ClientCredentials {
            client_id,
            client_secret,
        }
    }

    /// The token endpoint's answer to `company`'s own client credentials, in-process.
    pub async fn token_response(&self, company: &TestCompany) -> lambda_http::Response<Body> {
        let inbound = self.inbound_credentials(&company.company_id).await;
        let form = format!(
            "grant_type=client_credentials&client_id={}&client_secret={}",
            inbound.client_id, inbound.client_secret
        );
        self.partner_api()
            .oauth_token(request(
                Method::POST,
                "/oauth/token",
                &[("content-type", "application/x-www-form-urlencoded")],
                form,
            ))
            .await
            .unwrap()
    }

    /// An access token for `company`, from the in-process token handler.
    pub async fn access_token(&self, company: &TestCompany) -> String {
        let response = self.token_response(company).await;
        assert_eq!(
            response.status(),
            200,
            "token request failed: {:?}",
            response.body()
        );
        json_body(&response)["access_token"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

/// A connected SR company and the vendor integration it is linked to.
#[derive(Debug, Clone)]
pub struct TestCompany {
    pub company_id: String,
    pub integration_id: String,
}

/// `label-<16 hex>`: unique across parallel tests and repeated runs against one stack.
pub fn unique(label: &str) -> String {
    let mut bytes = [0u8; 8];
    rand::rng().fill_bytes(&mut bytes);
    format!("{label}-{}", hex::encode(bytes))
}

/// A random UUID v4 string, like SR's order ids.
pub fn uuid() -> String {
    let mut b = [0u8; 16];
    rand::rng().fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Builds an in-process `lambda_http` request.
pub fn request(
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<String>,
) -> Request {
    let body: String = body.into();
    let mut builder = lambda_http::http::Request::builder()
        .method(method)
        .uri(format!("https://api.example.com{path}"));
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let body = if body.is_empty() {
        Body::Empty
    } else {
        Body::Text(body)
    };
    builder.body(body).unwrap()
}

/// The JSON body of an in-process response.
pub fn json_body(response: &lambda_http::Response<Body>) -> serde_json::Value {
    match response.body() {
        Body::Text(t) => serde_json::from_str(t).unwrap_or_else(|_| panic!("not JSON: {t}")),
        Body::Binary(b) => serde_json::from_slice(b).unwrap(),
        Body::Empty => serde_json::Value::Null,
        _ => serde_json::Value::Null,
    }
}

/// Sends a GET through cargo lambda watch, and again (up to three times) when the emulator
/// itself lost the function's answer.
///
/// cargo lambda 1.9 acknowledges the runtime's `POST …/invocation/{id}/response` before it has
/// read the body, so a response of some hundred KB is sometimes cut off on its way in, and the
/// emulator answers its own 500 problem document instead (`text/plain`,
/// `{"type":"https://httpstatuses.com/500",…}`). Measured on the local stack, three GETs at a
/// time: 24 of 300 GETs of an order with twelve 40 KB submissions (about 480 KB) lost, 0 of 300
/// of a small order; one at a time, 2 of 150, both answered on the second attempt. Lambda's own
/// runtime API reads the whole body. Only GETs are retried (the function ran; running it again
/// changes nothing), and only on that document: the connector's own errors are JSON of its own
/// shape.
pub async fn get_through_emulator(request: reqwest::RequestBuilder) -> reqwest::Response {
    let mut attempt = 0;
    loop {
        let again = request.try_clone().expect("a GET has no streamed body");
        let response = again.send().await.expect("cargo lambda watch reachable");
        attempt += 1;
        if response.status() != 500 || attempt == 3 {
            return response;
        }
        let emulator_lost_it = response
            .headers()
            .get("content-type")
            .is_some_and(|v| v.as_bytes().starts_with(b"text/plain"));
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.unwrap_or_default();
        let from_emulator = emulator_lost_it
            && std::str::from_utf8(&body)
                .is_ok_and(|b| b.starts_with(r#"{"type":"https://httpstatuses.com/500""#));
        if !from_emulator {
            // The function's own 500: hand it back unchanged for the caller's assertion.
            let mut rebuilt = lambda_http::http::Response::builder().status(status);
            for (name, value) in &headers {
                rebuilt = rebuilt.header(name, value);
            }
            return reqwest::Response::from(rebuilt.body(body).expect("a response"));
        }
        eprintln!(
            "cargo lambda watch lost the function's answer (attempt {attempt}); asking again"
        );
    }
}

/// Polls `check` until it yields a value; a bounded wait, not a timing assertion.
pub async fn eventually<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("gave up waiting for {what} after {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// An order request as SR sends it, for `company` and `package_id`, with a fresh order id.
/// SR's `POST /packages/orders` with `token` and `body` through `api` (in-process create-order).
pub async fn create_order_through(
    api: &PartnerApi,
    token: &str,
    body: &serde_json::Value,
) -> lambda_http::Response<Body> {
    api.create_order(request(
        Method::POST,
        "/packages/orders",
        &[
            ("authorization", &format!("Bearer {token}")),
            ("content-type", "application/json"),
        ],
        body.to_string(),
    ))
    .await
    .unwrap()
}

pub fn order_body(
    stack: &Stack,
    company: &TestCompany,
    package_id: &str,
) -> (String, serde_json::Value) {
    let order_id = uuid();
    let callback = stack
        .config
        .sr
        .api_url(&format!("orders/{order_id}/results"));
    let body = serde_json::json!({
        "resultCallbackURL": callback.as_str(),
        "candidate": {"id": uuid(), "firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com",
                      "internal": false, "createdOn": "2026-01-01T00:00:00Z"},
        "job": {"id": uuid(), "title": "Engineer", "refNumber": "REF-1"},
        "requester": {"userId": uuid(), "email": "recruiter@example.com"},
        "assessmentPackageId": package_id,
        "jobId": "legacy-job-id",
        "companyId": company.company_id,
        "fields": {"lens": "blue"}
    });
    (order_id, body)
}

impl Stack {
    /// Publishes `catalog` (vendor API shape) for the company's integration, in-process.
    pub async fn put_catalog(&self, company: &TestCompany, catalog: serde_json::Value) {
        let response = self
            .vendor_api()
            .handle(request(
                Method::PUT,
                "/assessment/packages",
                &[
                    ("authorization", &format!("Bearer {}", self.vendor_api_key)),
                    ("x-integration-id", &company.integration_id),
                ],
                catalog.to_string(),
            ))
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{:?}", response.body());
    }

    /// Places an order through the in-process create-order handler.
    pub async fn create_order(
        &self,
        token: &str,
        body: &serde_json::Value,
    ) -> lambda_http::Response<Body> {
        create_order_through(&self.partner_api(), token, body).await
    }

    /// A vendor API call through the in-process handler.
    pub async fn vendor_call(
        &self,
        method: Method,
        path: &str,
        integration: &str,
        body: Option<serde_json::Value>,
    ) -> lambda_http::Response<Body> {
        let auth = format!("Bearer {}", self.vendor_api_key);
        self.vendor_api()
            .handle(request(
                method,
                path,
                &[
                    ("authorization", &auth),
                    ("x-integration-id", integration),
                    ("content-type", "application/json"),
                ],
                body.map(|b| b.to_string()).unwrap_or_default(),
            ))
            .await
            .unwrap()
    }
}

/// The consent page, in-process, with a browser's cookie jar of one cookie.
pub mod consent {
    use connector::api::consent::{Branding, ConsentApi};
    use connector::sr::SrClient;
    use lambda_http::http::Method;
    use lambda_http::{Body, Response};

    use crate::{request, Stack};

    pub fn api(stack: &Stack) -> ConsentApi {
        ConsentApi::new(
            stack.store.clone(),
            stack.secrets.clone(),
            stack.notifications(),
            SrClient::new(stack.config.sr.clone()),
            stack.config.partner_credential_secret_id.clone(),
            Branding {
                vendor_name: "Acme Assessments".into(),
                logo_url: None,
            },
            vec!["127.0.0.1".into(), "smartrecruiters.com".into()],
        )
    }

    pub fn html(response: &Response<Body>) -> String {
        match response.body() {
            Body::Text(t) => t.clone(),
            _ => String::new(),
        }
    }

    /// The CSRF cookie a page set.
    pub fn csrf_cookie(response: &Response<Body>) -> Option<String> {
        csrf_in(
            response
                .headers()
                .get_all("set-cookie")
                .iter()
                .filter_map(|c| c.to_str().ok()),
        )
    }

    /// The CSRF token among `Set-Cookie` values.
    pub fn csrf_in<'a>(set_cookies: impl IntoIterator<Item = &'a str>) -> Option<String> {
        set_cookies.into_iter().find_map(|c| {
            c.split(';')
                .next()?
                .strip_prefix("consent_csrf=")
                .map(str::to_owned)
        })
    }

    /// Opens the page for `company` (with `extra` query) and returns it with its CSRF token.
    pub async fn open(api: &ConsentApi, company: &str, extra: &str) -> (Response<Body>, String) {
        let path = format!("/integration?companyId={company}{extra}");
        let response = api
            .handle(request(Method::GET, &path, &[], ""))
            .await
            .unwrap();
        let csrf = csrf_cookie(&response).unwrap_or_default();
        (response, csrf)
    }

    /// Connects `company_id` with `connect_key` through the consent function over HTTP (cargo
    /// lambda watch), as the admin's browser does: open the page, post the key with the CSRF
    /// cookie and hidden field. The final page's status and HTML.
    pub async fn connect_over_http(
        stack: &Stack,
        company_id: &str,
        connect_key: &str,
    ) -> (u16, String) {
        let page = stack
            .http
            .get(stack.function_url("consent", "/integration"))
            .query(&[("companyId", company_id)])
            .send()
            .await
            .expect("consent function reachable");
        assert_eq!(page.status(), 200);
        let csrf = csrf_in(
            page.headers()
                .get_all("set-cookie")
                .iter()
                .filter_map(|c| c.to_str().ok()),
        )
        .expect("the page sets its CSRF cookie");
        let done = stack
            .http
            .post(stack.function_url("consent", "/integration"))
            .header("cookie", format!("consent_csrf={csrf}"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("company_id", company_id),
                ("step", "key"),
                ("connect_key", connect_key),
            ])
            .send()
            .await
            .expect("consent function reachable");
        let status = done.status().as_u16();
        (status, done.text().await.unwrap_or_default())
    }

    /// Submits a form as the browser would: the cookie and the hidden token travel together.
    pub async fn submit(api: &ConsentApi, csrf: &str, fields: &[(&str, &str)]) -> Response<Body> {
        let mut all: Vec<(&str, &str)> = vec![("csrf", csrf)];
        all.extend_from_slice(fields);
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(all)
            .finish();
        let cookie = format!("consent_csrf={csrf}");
        api.handle(request(
            Method::POST,
            "/integration",
            &[
                ("content-type", "application/x-www-form-urlencoded"),
                ("cookie", &cookie),
            ],
            body,
        ))
        .await
        .unwrap()
    }
}

impl Stack {
    /// A connect key for `organisations` (`(id, name)`), created through the vendor API.
    pub async fn connect_key(&self, organisations: &[(&str, &str)]) -> String {
        let organisations: Vec<serde_json::Value> = organisations
            .iter()
            .map(|(id, name)| serde_json::json!({"id": id, "name": name}))
            .collect();
        let response = self
            .vendor_call(
                Method::POST,
                "/assessment/connect-keys",
                "",
                Some(serde_json::json!({"organisations": organisations})),
            )
            .await;
        assert_eq!(response.status(), 201, "{:?}", response.body());
        json_body(&response)["data"]["connect_key"]
            .as_str()
            .unwrap()
            .to_string()
    }
}
