//! The HTTP client for SmartRecruiters' side of the contract.
//!
//! SR tokens are cached per client id while valid (minus a safety margin), so a warm publisher
//! makes one SR call per result. A 401 from SR drops the cached token and retries once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::{header, Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::errors::SrErrorBody;
use super::oauth::TokenResponse;
use super::partner::{ClientCredentials, PartnerConfiguration};
use super::results::PackageResult;
use crate::config::SrEndpoints;

pub type SrCredentials = ClientCredentials;

/// Tokens are refreshed this long before SR says they expire, so none expires mid-request.
const EXPIRY_MARGIN: Duration = Duration::from_secs(60);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Debug, thiserror::Error)]
pub enum SrClientError {
    /// Worth retrying later: 429, 5xx, timeouts, connection failures.
    #[error("SmartRecruiters is unavailable ({detail})")]
    Transient {
        status: Option<u16>,
        retry_after: Option<Duration>,
        detail: String,
    },
    /// SR refused the request itself; retrying the same request cannot help.
    #[error("SmartRecruiters refused the request with {status}: {detail}")]
    Rejected {
        status: u16,
        body: Option<SrErrorBody>,
        detail: String,
    },
    /// SR refused our credentials at its token endpoint.
    #[error("SmartRecruiters refused the credentials of client {client_id} ({status})")]
    CredentialsRefused { client_id: String, status: u16 },
}

impl SrClientError {
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Transient { status, .. } => *status,
            Self::Rejected { status, .. } | Self::CredentialsRefused { status, .. } => {
                Some(*status)
            }
        }
    }

    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient { .. })
    }
}

/// A successful SR answer: status code plus the parsed body.
#[derive(Debug)]
pub struct SrAnswer<T> {
    pub status: u16,
    pub body: T,
}

struct CachedToken {
    value: String,
    refresh_at: Instant,
}

pub struct SrClient {
    http: reqwest::Client,
    endpoints: SrEndpoints,
    tokens: Mutex<HashMap<String, CachedToken>>,
}

impl SrClient {
    pub fn new(endpoints: SrEndpoints) -> Self {
        crate::aws::install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!(
                "sr-assessment-connector/",
                env!("CARGO_PKG_VERSION")
            ))
            .build()
            .expect("a reqwest client with static settings always builds");
        Self {
            http,
            endpoints,
            tokens: Mutex::new(HashMap::new()),
        }
    }

    pub fn endpoints(&self) -> &SrEndpoints {
        &self.endpoints
    }

    /// `PATCH /orders/{orderId}/results` with the customer-level credentials of the company.
    pub async fn patch_result(
        &self,
        credentials: &SrCredentials,
        order_id: &str,
        result: &PackageResult,
    ) -> Result<SrAnswer<serde_json::Value>, SrClientError> {
        let url = self
            .endpoints
            .api_url(&format!("orders/{}/results", encode_segment(order_id)));
        self.send_json(credentials, Method::PATCH, url, Some(result))
            .await
    }

    /// `PUT /partner/configuration` with the partner master credentials.
    pub async fn put_partner_configuration(
        &self,
        master: &SrCredentials,
        configuration: &PartnerConfiguration,
    ) -> Result<SrAnswer<serde_json::Value>, SrClientError> {
        let url = self.endpoints.api_url("partner/configuration");
        self.send_json(master, Method::PUT, url, Some(configuration))
            .await
    }

    /// `POST /integration/company/{companyId}`: hands SR the credentials it will use to call us and
    /// receives the customer-level credentials we use to call SR for that company.
    pub async fn integrate_company(
        &self,
        master: &SrCredentials,
        company_id: &str,
        ours: &ClientCredentials,
    ) -> Result<ClientCredentials, SrClientError> {
        let url = self.endpoints.api_url(&format!(
            "integration/company/{}",
            encode_segment(company_id)
        ));
        let answer = self
            .send_json(master, Method::POST, url, Some(ours))
            .await?;
        parse_body(answer.status, answer.body)
    }

    /// Sends a JSON request with a cached bearer token, refreshing the token once on 401.
    async fn send_json<B: Serialize + ?Sized>(
        &self,
        credentials: &SrCredentials,
        method: Method,
        url: url::Url,
        body: Option<&B>,
    ) -> Result<SrAnswer<serde_json::Value>, SrClientError> {
        for attempt in 0..2 {
            let token = self.token(credentials).await?;
            let mut request = self
                .http
                .request(method.clone(), url.clone())
                .bearer_auth(&token)
                .header(header::ACCEPT, "application/json");
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = request.send().await.map_err(transport_error)?;
            let status = response.status();
            if status == StatusCode::UNAUTHORIZED && attempt == 0 {
                tracing::info!(client_id = %credentials.client_id, "SR answered 401, refreshing its token once");
                self.forget_token(&credentials.client_id);
                continue;
            }
            return classify(response).await;
        }
        unreachable!("the loop returns on its second attempt")
    }

    /// A valid SR access token for `credentials`, from the cache when possible.
    pub async fn token(&self, credentials: &SrCredentials) -> Result<String, SrClientError> {
        if let Some(token) = self.cached_token(&credentials.client_id) {
            return Ok(token);
        }
        let fetched = self.fetch_token(credentials).await?;
        let lifetime = Duration::from_secs(fetched.expires_in);
        let refresh_at = Instant::now() + lifetime.saturating_sub(EXPIRY_MARGIN);
        self.tokens.lock().expect("token cache poisoned").insert(
            credentials.client_id.clone(),
            CachedToken {
                value: fetched.access_token.clone(),
                refresh_at,
            },
        );
        Ok(fetched.access_token)
    }

    fn cached_token(&self, client_id: &str) -> Option<String> {
        let tokens = self.tokens.lock().expect("token cache poisoned");
        tokens
            .get(client_id)
            .filter(|t| Instant::now() < t.refresh_at)
            .map(|t| t.value.clone())
    }

    pub fn forget_token(&self, client_id: &str) {
        self.tokens
            .lock()
            .expect("token cache poisoned")
            .remove(client_id);
    }

    async fn fetch_token(
        &self,
        credentials: &SrCredentials,
    ) -> Result<TokenResponse, SrClientError> {
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", credentials.client_id.as_str()),
            ("client_secret", credentials.client_secret.as_str()),
        ];
        let response = self
            .http
            .post(self.endpoints.token_url.clone())
            .form(&form)
            .send()
            .await
            .map_err(transport_error)?;
        let status = response.status();
        if status.is_success() {
            let bytes = response.bytes().await.map_err(transport_error)?;
            return serde_json::from_slice(&bytes).map_err(|e| SrClientError::Transient {
                status: Some(status.as_u16()),
                retry_after: None,
                detail: format!("unreadable token answer: {e}"),
            });
        }
        if is_transient_status(status) {
            return Err(transient_from(&response, "token endpoint"));
        }
        Err(SrClientError::CredentialsRefused {
            client_id: credentials.client_id.clone(),
            status: status.as_u16(),
        })
    }
}

fn encode_segment(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes()).collect()
}

fn parse_body<T: DeserializeOwned>(
    status: u16,
    body: serde_json::Value,
) -> Result<T, SrClientError> {
    serde_json::from_value(body).map_err(|e| SrClientError::Rejected {
        status,
        body: None,
        detail: format!("unexpected answer shape: {e}"),
    })
}

fn is_transient_status(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
        || status.is_server_error()
}

fn transport_error(error: reqwest::Error) -> SrClientError {
    // reqwest errors never contain request bodies or headers, so no credential can leak here.
    SrClientError::Transient {
        status: None,
        retry_after: None,
        detail: if error.is_timeout() {
            "request timed out".into()
        } else {
            format!("transport error: {}", error.without_url())
        },
    }
}

fn transient_from(response: &reqwest::Response, what: &str) -> SrClientError {
    let retry_after = response
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    SrClientError::Transient {
        status: Some(response.status().as_u16()),
        retry_after,
        detail: format!("{what} answered {}", response.status()),
    }
}

async fn classify(
    response: reqwest::Response,
) -> Result<SrAnswer<serde_json::Value>, SrClientError> {
    let status = response.status();
    if is_transient_status(status) {
        return Err(transient_from(&response, "SR API"));
    }
    let bytes = response.bytes().await.map_err(transport_error)?;
    if status.is_success() {
        let body = if bytes.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null)
        };
        return Ok(SrAnswer {
            status: status.as_u16(),
            body,
        });
    }
    let body: Option<SrErrorBody> = serde_json::from_slice(&bytes).ok();
    let detail = body
        .as_ref()
        .map(SrErrorBody::summary)
        .unwrap_or_else(|| String::from_utf8_lossy(&bytes).chars().take(300).collect());
    Err(SrClientError::Rejected {
        status: status.as_u16(),
        body,
        detail,
    })
}
