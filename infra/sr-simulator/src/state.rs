//! In-memory simulator state, shared by all handlers behind one mutex.
//!
//! A std mutex is enough: no handler holds it across an `.await`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::config::SimConfig;

/// Lifetime of every access token the simulator issues (SR answers `expires_in: 1800`).
pub const TOKEN_TTL_SECS: u64 = 1800;
/// Request-log entries kept (oldest dropped first) so a long test run cannot grow memory unbounded.
pub const REQUEST_LOG_CAPACITY: usize = 10_000;

/// Everything handlers share: the state plus immutable configuration and the outbound client.
#[derive(Clone)]
pub struct AppState {
    pub inner: Arc<Mutex<SimState>>,
    pub config: Arc<SimConfig>,
    /// Public base URL of this simulator, without trailing slash.
    pub base_url: Arc<str>,
    /// Client used when acting as SR towards the connector.
    pub http: reqwest::Client,
}

impl AppState {
    pub fn new(config: SimConfig, base_url: String, http: reqwest::Client) -> Self {
        Self {
            inner: Arc::new(Mutex::new(SimState::default())),
            config: Arc::new(config),
            base_url: base_url.trim_end_matches('/').into(),
            http,
        }
    }

    /// Locks the state; a panic in another handler must not wedge the whole simulator.
    pub fn lock(&self) -> MutexGuard<'_, SimState> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Who an access token was issued to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenOwner {
    /// Partner-level (master) credentials: scope `partner_configuration_manage`.
    Master,
    /// Customer-level credentials bound to one company.
    Company(String),
}

#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub client_id: String,
    pub owner: TokenOwner,
    pub expires_at: Instant,
}

/// The credentials exchanged in `POST /integration/company/{companyId}`.
#[derive(Debug, Clone)]
pub struct Integration {
    /// Credentials SR uses to call the connector's `oauthTokenUrl`.
    pub partner_client_id: String,
    pub partner_client_secret: String,
    /// Customer-level credentials SR generated for the connector.
    pub customer_client_id: String,
    pub customer_client_secret: String,
    pub integrated_at: String,
}

#[derive(Debug, Clone)]
pub struct Company {
    /// Whether the company consented to the integration (default true; admin can revoke).
    pub consent: bool,
    pub integration: Option<Integration>,
    /// Connector access token SR holds for this company, with its expiry.
    pub connector_token: Option<(String, Instant)>,
}

impl Default for Company {
    fn default() -> Self {
        Self {
            consent: true,
            integration: None,
            connector_token: None,
        }
    }
}

/// One `PATCH .../results` attempt on a known order (successful or not).
#[derive(Debug, Clone, Serialize)]
pub struct PatchRecord {
    pub at: String,
    pub body: Value,
    pub status_code: u16,
}

/// One uploaded attachment (metadata; the bytes live in [`SimState::attachment_files`]).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AttachmentRecord {
    pub id: String,
    pub url: String,
    pub at: String,
    pub field: String,
    pub file_name: Option<String>,
    pub content_type: Option<String>,
    pub size: usize,
    pub sha256: String,
}

#[derive(Debug, Clone)]
pub struct StoredFile {
    pub content_type: Option<String>,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct Order {
    pub company_id: String,
    pub inline: bool,
    pub created_at: String,
    /// Merged `PackageResult`; `None` until the first successful PATCH.
    pub result: Option<Value>,
    pub patches: Vec<PatchRecord>,
    pub attachments: Vec<AttachmentRecord>,
    /// The order request body SR sent to the connector (when the simulator placed it).
    pub request: Option<Value>,
    /// Hits on `completedAssessmentCallbackUrl` (inline orders).
    pub inline_completions: Vec<Value>,
}

impl Order {
    pub fn new(company_id: String, inline: bool) -> Self {
        Self {
            company_id,
            inline,
            created_at: crate::ids::now_rfc3339(),
            result: None,
            patches: Vec::new(),
            attachments: Vec::new(),
            request: None,
            inline_completions: Vec::new(),
        }
    }

    /// Admin view served by `GET /__sim/orders/{orderId}`.
    pub fn view(&self, order_id: &str) -> Value {
        json!({
            "orderId": order_id,
            "companyId": self.company_id,
            "inline": self.inline,
            "createdAt": self.created_at,
            "result": self.result,
            "patches": self.patches,
            "attachments": self.attachments,
            "request": self.request,
            "inlineCompletions": self.inline_completions,
        })
    }
}

/// A fault to inject into matching SR requests (`POST /__sim/faults`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fault {
    /// Substring of the request path; empty matches every SR path.
    #[serde(default)]
    pub path_contains: String,
    /// Optional HTTP method filter (case-insensitive).
    #[serde(default)]
    pub method: Option<String>,
    /// Status to answer; 0 = only delay, then handle normally.
    #[serde(default = "default_fault_status")]
    pub status: u16,
    /// How many matching requests are affected.
    #[serde(default = "default_fault_count")]
    pub count: u32,
    #[serde(default)]
    pub retry_after_secs: Option<u64>,
    #[serde(default)]
    pub delay_ms: u64,
    /// Also apply to `POST /identity/oauth/token`.
    #[serde(default)]
    pub include_token: bool,
    /// Optional body to answer instead of the SR error body.
    #[serde(default)]
    pub body: Option<Value>,
    /// Extra response headers (e.g. `location` for a redirect, a raw `retry-after`); they
    /// replace what the fault would otherwise set.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Only requests of this client: the bearer token's client on SR's API, the client
    /// authenticating (form or HTTP Basic) on the token endpoint. Lets parallel tests inject
    /// faults on shared paths without hitting each other.
    #[serde(default)]
    pub client_id: Option<String>,
}

fn default_fault_status() -> u16 {
    500
}

fn default_fault_count() -> u32 {
    1
}

/// SR-like per-credential rate limits (`POST /__sim/rate-limit`); `None` disables a dimension.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RateLimitSettings {
    #[serde(default)]
    pub per_second: Option<u32>,
    #[serde(default)]
    pub concurrent: Option<u32>,
}

/// One request the simulator received (never includes header values or bodies).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoggedRequest {
    pub at: String,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub status: u16,
    /// Client id of the bearer token used, if it was one the simulator issued.
    pub client_id: Option<String>,
    pub duration_ms: u64,
    /// True when a fault or the rate limiter answered instead of the handler.
    pub injected: bool,
}

/// Admin overrides for the Customer API fixtures, keyed by id.
#[derive(Debug, Clone, Default)]
pub struct FixtureOverrides {
    pub candidates: HashMap<String, Value>,
    pub jobs: HashMap<String, Value>,
    pub hiring_teams: HashMap<String, Value>,
}

#[derive(Debug, Default)]
pub struct SimState {
    pub partner_configuration: Option<Value>,
    pub companies: BTreeMap<String, Company>,
    pub tokens: HashMap<String, IssuedToken>,
    /// Token requests per client id (any outcome).
    pub token_requests: BTreeMap<String, u64>,
    pub orders: BTreeMap<String, Order>,
    pub attachment_files: HashMap<String, StoredFile>,
    pub faults: Vec<Fault>,
    pub rate_limit: RateLimitSettings,
    /// Per client id: (epoch second of the current window, requests admitted in it).
    pub rate_windows: HashMap<String, (u64, u32)>,
    /// Per client id: requests currently being handled.
    pub in_flight: HashMap<String, u32>,
    pub responses_429: u64,
    pub requests_per_path: BTreeMap<String, u64>,
    pub request_log: VecDeque<LoggedRequest>,
    pub fixtures: FixtureOverrides,
    /// Per client id: the `expires_in` its token answers carry instead of [`TOKEN_TTL_SECS`]
    /// (any JSON value, to try clients on huge or odd lifetimes; the token itself still lives
    /// [`TOKEN_TTL_SECS`]).
    pub token_lifetimes: HashMap<String, Value>,
}

impl SimState {
    /// Company id bound to a customer-level client id, if the credentials match.
    pub fn company_for_customer_credentials(
        &self,
        client_id: &str,
        client_secret: &str,
    ) -> Option<String> {
        self.companies.iter().find_map(|(id, company)| {
            company
                .integration
                .as_ref()
                .filter(|i| {
                    i.customer_client_id == client_id && i.customer_client_secret == client_secret
                })
                .map(|_| id.clone())
        })
    }

    pub fn record_request(&mut self, entry: LoggedRequest) {
        *self
            .requests_per_path
            .entry(entry.path.clone())
            .or_default() += 1;
        if entry.status == 429 {
            self.responses_429 += 1;
        }
        if self.request_log.len() >= REQUEST_LOG_CAPACITY {
            self.request_log.pop_front();
        }
        self.request_log.push_back(entry);
    }

    /// Summary served by `GET /__sim/state` (no secrets).
    pub fn summary(&self) -> Value {
        let companies: Vec<Value> = self
            .companies
            .iter()
            .map(|(id, company)| {
                let integration = company.integration.as_ref();
                json!({
                    "companyId": id,
                    "consent": company.consent,
                    "integrated": integration.is_some(),
                    "integratedAt": integration.map(|i| i.integrated_at.clone()),
                    "partnerClientId": integration.map(|i| i.partner_client_id.clone()),
                    "customerClientId": integration.map(|i| i.customer_client_id.clone()),
                    "tokenRequests": integration
                        .and_then(|i| self.token_requests.get(&i.customer_client_id))
                        .copied()
                        .unwrap_or(0),
                    "hasConnectorToken": company.connector_token.is_some(),
                })
            })
            .collect();
        json!({
            "partnerConfiguration": self.partner_configuration,
            "companies": companies,
            "tokenRequests": self.token_requests,
            "orders": self.orders.len(),
            "responses429": self.responses_429,
            "requestsPerPath": self.requests_per_path,
            "faults": self.faults,
            "rateLimit": self.rate_limit,
        })
    }
}
