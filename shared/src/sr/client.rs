//! The HTTP client for SmartRecruiters' side of the contract.
//!
//! SR tokens are cached per client id while valid (minus a safety margin), so a warm publisher
//! makes one SR call per result. A 401 from SR drops the cached token and retries once.
//!
//! What SR's answers say about time is capped before it is used: `Retry-After` and
//! `X-RateLimit-Reset` at [`MAX_RETRY_AFTER`], a token's `expires_in` at [`MAX_TOKEN_LIFETIME`].
//! The client follows no redirects: a redirect from the token endpoint would re-send the client
//! secret to wherever it points, and a redirected call would go to an unchecked host.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::{header, multipart, Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::customer::{CandidateDetails, HiringTeamMembers, JobDetails};
use super::errors::SrErrorBody;
use super::partner::{ClientCredentials, PartnerConfiguration};
use super::results::{AttachmentResult, PackageResult};
use crate::config::SrEndpoints;

pub type SrCredentials = ClientCredentials;

/// Tokens are refreshed this long before SR says they expire, so none expires mid-request.
const EXPIRY_MARGIN: Duration = Duration::from_secs(60);
/// The longest SR-given wait honoured (`Retry-After`, `X-RateLimit-Reset`): the publisher's own
/// backoff cap. A longer answer is most likely a fault; the message simply comes back sooner.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(15 * 60);
/// The longest a token is cached, whatever `expires_in` says (SR's tokens live 30 minutes).
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);
/// The lifetime assumed when the token answer has no usable `expires_in` (RFC 6749 §5.1 makes
/// it RECOMMENDED, not required): short, so a token that lives less is soon fetched again.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(5 * 60);
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

/// An [`SrClientError`] as logs show it ([`SrClientError::for_log`]).
pub struct LoggedSrError<'a>(&'a SrClientError);

impl std::fmt::Display for LoggedSrError<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            SrClientError::Rejected { status, body, .. } => {
                write!(f, "SmartRecruiters refused the request with {status}")?;
                let codes: Vec<&str> = body
                    .iter()
                    .flat_map(|b| &b.errors)
                    .map(|e| e.code.as_str())
                    .collect();
                if !codes.is_empty() {
                    write!(f, " ({})", codes.join(", "))?;
                }
                Ok(())
            }
            // Our own words: the status, the host of a redirect, the client id.
            other => other.fmt(f),
        }
    }
}

impl SrClientError {
    /// The error without SR's own words, for logs: a refusal's messages may quote what was sent
    /// (a candidate's name in a result's label), and logs are the one copy of it an erasure
    /// cannot reach. The status and SR's error codes say what went wrong; the whole error goes
    /// where the vendor reads it (a delivery attempt's `detail`), which an erasure clears.
    pub fn for_log(&self) -> LoggedSrError<'_> {
        LoggedSrError(self)
    }

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

    /// SR refused the credentials themselves: its token endpoint turned them down, or a call
    /// answered 401 even with a freshly issued token. Credentials that changed since they were
    /// cached (a reconnected company, a rotated secret) fail this way; see
    /// `crate::secrets::CredentialCache`, which re-reads them before any retry is spent.
    pub fn refuses_credentials(&self) -> bool {
        matches!(
            self,
            Self::CredentialsRefused { .. } | Self::Rejected { status: 401, .. }
        )
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
    /// Built at the first SR call, not at cold start: building it reads the system CA store
    /// (about 5 ms), and most invocations of most functions never call SR.
    http: std::sync::OnceLock<reqwest::Client>,
    endpoints: SrEndpoints,
    tokens: Mutex<HashMap<String, CachedToken>>,
}

impl SrClient {
    pub fn new(endpoints: SrEndpoints) -> Self {
        Self {
            http: std::sync::OnceLock::new(),
            endpoints,
            tokens: Mutex::new(HashMap::new()),
        }
    }

    fn http(&self) -> &reqwest::Client {
        self.http.get_or_init(|| {
            crate::aws::install_crypto_provider();
            reqwest::Client::builder()
                .timeout(REQUEST_TIMEOUT)
                .connect_timeout(CONNECT_TIMEOUT)
                .user_agent(concat!(
                    "sr-assessment-connector/",
                    env!("CARGO_PKG_VERSION")
                ))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("a reqwest client with static settings always builds")
        })
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

    /// `GET /candidates/{id}` of the Customer API, with the company's customer-level credentials.
    pub async fn get_candidate(
        &self,
        credentials: &SrCredentials,
        candidate_id: &str,
    ) -> Result<CandidateDetails, SrClientError> {
        let path = format!("candidates/{}", encode_segment(candidate_id));
        self.get_customer_api(credentials, &path).await
    }

    /// `GET /jobs/{id}` of the Customer API.
    pub async fn get_job(
        &self,
        credentials: &SrCredentials,
        job_id: &str,
    ) -> Result<JobDetails, SrClientError> {
        let path = format!("jobs/{}", encode_segment(job_id));
        self.get_customer_api(credentials, &path).await
    }

    /// `GET /jobs/{id}/hiring-team` of the Customer API.
    pub async fn get_hiring_team(
        &self,
        credentials: &SrCredentials,
        job_id: &str,
    ) -> Result<HiringTeamMembers, SrClientError> {
        let path = format!("jobs/{}/hiring-team", encode_segment(job_id));
        self.get_customer_api(credentials, &path).await
    }

    async fn get_customer_api<T: DeserializeOwned>(
        &self,
        credentials: &SrCredentials,
        path: &str,
    ) -> Result<T, SrClientError> {
        let url = self.endpoints.customer_api_url(path);
        let answer = self
            .send_json(credentials, Method::GET, url, None::<&()>)
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
                .http()
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
        let lifetime = token_lifetime(fetched.expires_in.as_ref());
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

    /// Whether SR's token endpoint still accepts `credentials`, asked afresh (never from the
    /// cache). SR stops accepting a company's credentials once it disabled the integration, so
    /// `Ok(false)` is SR confirming a disable. Transient failures are errors: no answer either way.
    pub async fn credentials_accepted(
        &self,
        credentials: &SrCredentials,
    ) -> Result<bool, SrClientError> {
        match self.fetch_token(credentials).await {
            Ok(_) => Ok(true),
            Err(SrClientError::CredentialsRefused { .. }) => Ok(false),
            Err(e) => Err(e),
        }
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

    async fn fetch_token(&self, credentials: &SrCredentials) -> Result<SrToken, SrClientError> {
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", credentials.client_id.as_str()),
            ("client_secret", credentials.client_secret.as_str()),
        ];
        let response = self
            .http()
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
                // serde's message quotes the value it choked on, perhaps the token itself.
                detail: format!(
                    "unreadable token answer: {}",
                    crate::telemetry::without_quoted_strings(&e.to_string())
                ),
            });
        }
        if is_transient_status(status) || status.is_redirection() {
            return Err(transient_from(&response, "token endpoint"));
        }
        Err(SrClientError::CredentialsRefused {
            client_id: credentials.client_id.clone(),
            status: status.as_u16(),
        })
    }
}

/// SR's token answer as the client reads it: `expires_in` may be missing, a string or absurd.
#[derive(serde::Deserialize)]
struct SrToken {
    access_token: String,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

/// How long to cache a token: SR's `expires_in` (a number, or a string of digits), capped at
/// [`MAX_TOKEN_LIFETIME`]; [`DEFAULT_TOKEN_LIFETIME`] when it is missing or unreadable.
fn token_lifetime(expires_in: Option<&serde_json::Value>) -> Duration {
    let seconds = match expires_in {
        Some(serde_json::Value::Number(n)) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)),
        Some(serde_json::Value::String(s)) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    seconds.map_or(DEFAULT_TOKEN_LIFETIME, |s| {
        Duration::from_secs(s.min(MAX_TOKEN_LIFETIME.as_secs()))
    })
}

/// The multipart part SR reads an uploaded file from. The v202010 spec lost the multipart schema
/// in Konfig's public merge of SR's API reference; SR's assessment API documentation names the
/// control `attachment` ("The API looks for a part containing the “attachment” control name").
pub const ATTACHMENT_PART: &str = "attachment";
/// A file upload carries up to 10 MiB; the 10 s default is sized for small JSON calls.
pub const UPLOAD_TIMEOUT: Duration = Duration::from_secs(25);

/// An SR answer of any status, as received: the vendor API's passthrough relays it.
#[derive(Debug)]
pub struct RawAnswer {
    pub status: u16,
    pub headers: header::HeaderMap,
    pub body: Vec<u8>,
    /// True when the body was longer than the caller's limit (the rest was not read).
    pub truncated: bool,
}

impl SrClient {
    /// `POST /orders/{orderId}/results/attachment`: one file as `multipart/form-data` (part
    /// [`ATTACHMENT_PART`] with the file name and content type). SR answers 201 `{url}`; a 2xx
    /// without a readable `url` still counts as uploaded.
    /// `bytes` is shared with the caller, not copied; the upload takes at most `timeout`.
    pub async fn upload_attachment(
        &self,
        credentials: &SrCredentials,
        order_id: &str,
        file_name: &str,
        content_type: &str,
        bytes: Bytes,
        timeout: Duration,
    ) -> Result<SrAnswer<Option<AttachmentResult>>, SrClientError> {
        let url = self.endpoints.api_url(&format!(
            "orders/{}/results/attachment",
            encode_segment(order_id)
        ));
        let response = self
            .send_authorized(credentials, |token| {
                let form = multipart::Form::new()
                    .part(ATTACHMENT_PART, file_part(&bytes, file_name, content_type));
                self.http()
                    .post(url.clone())
                    .bearer_auth(token)
                    .header(header::ACCEPT, "application/json")
                    .timeout(timeout)
                    .multipart(form)
            })
            .await?;
        let answer = classify(response).await?;
        Ok(SrAnswer {
            status: answer.status,
            body: serde_json::from_value(answer.body).ok(),
        })
    }

    /// Any request to `url` with the company's token, answered as received whatever its status
    /// (only SR's token endpoint and the transport can fail it). The body is read up to
    /// `max_body` bytes. Used by the vendor API's passthrough, which has checked `url`, the
    /// method and the headers.
    pub async fn send_raw(
        &self,
        credentials: &SrCredentials,
        method: Method,
        url: url::Url,
        headers: header::HeaderMap,
        body: Option<Vec<u8>>,
        max_body: usize,
    ) -> Result<RawAnswer, SrClientError> {
        let mut response = self
            .send_authorized(credentials, |token| {
                let mut request = self
                    .http()
                    .request(method.clone(), url.clone())
                    .headers(headers.clone())
                    .bearer_auth(token);
                if let Some(body) = &body {
                    request = request.body(body.clone());
                }
                request
            })
            .await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let mut body = Vec::new();
        let mut truncated = false;
        while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
            if body.len() + chunk.len() > max_body {
                truncated = true;
                break;
            }
            body.extend_from_slice(&chunk);
        }
        Ok(RawAnswer {
            status,
            headers,
            body,
            truncated,
        })
    }

    /// Sends what `build` makes with a cached bearer token; on SR's 401 drops the token and
    /// sends once more with a fresh one (a token SR revoked early, or a clock skew).
    async fn send_authorized(
        &self,
        credentials: &SrCredentials,
        build: impl Fn(&str) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, SrClientError> {
        for attempt in 0..2 {
            let token = self.token(credentials).await?;
            let response = build(&token).send().await.map_err(transport_error)?;
            if response.status() == StatusCode::UNAUTHORIZED && attempt == 0 {
                tracing::info!(client_id = %credentials.client_id, "SR answered 401, refreshing its token once");
                self.forget_token(&credentials.client_id);
                continue;
            }
            return Ok(response);
        }
        unreachable!("the loop returns on its second attempt")
    }
}

/// The file part, streamed from the shared bytes (a clone of `Bytes` is a reference count, not
/// a copy of the file). A content type reqwest cannot parse (the vendor API already checks its
/// shape) falls back to `application/octet-stream` rather than losing the file.
fn file_part(bytes: &Bytes, file_name: &str, content_type: &str) -> multipart::Part {
    let part = || {
        multipart::Part::stream_with_length(reqwest::Body::from(bytes.clone()), bytes.len() as u64)
            .file_name(file_name.to_string())
    };
    part().mime_str(content_type).unwrap_or_else(|_| {
        part()
            .mime_str("application/octet-stream")
            .expect("a static media type parses")
    })
}

/// Percent-encodes one path segment ([`super::PATH_SEGMENT`]).
fn encode_segment(segment: &str) -> String {
    percent_encoding::utf8_percent_encode(segment, super::PATH_SEGMENT).to_string()
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

/// A connection failure or timeout. The transport error itself is logged here and never put in
/// the error's detail, which reaches the vendor (delivery history, passthrough answers).
fn transport_error(error: reqwest::Error) -> SrClientError {
    let detail = if error.is_timeout() {
        "request timed out"
    } else {
        "no answer (connection failed)"
    };
    // reqwest errors never contain request bodies or headers, so no credential can leak here.
    tracing::warn!(error = %aws_smithy_types::error::display::DisplayErrorContext(error.without_url()), "SmartRecruiters transport error");
    SrClientError::Transient {
        status: None,
        retry_after: None,
        detail: detail.into(),
    }
}

fn transient_from(response: &reqwest::Response, what: &str) -> SrClientError {
    let status = response.status();
    let detail = if status.is_redirection() {
        // Never followed; the target's host is named, never the whole URL.
        let target = response
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|l| response.url().join(l).ok())
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_else(|| "?".into());
        format!(
            "{what} answered {status}, a redirect to host `{target}`; SmartRecruiters calls follow no redirects"
        )
    } else {
        format!("{what} answered {status}")
    };
    SrClientError::Transient {
        status: Some(status.as_u16()),
        retry_after: retry_after(response.headers(), chrono::Utc::now()),
        detail,
    }
}

/// How long SR asks us to wait: `Retry-After` (seconds or an HTTP date), else the
/// `X-RateLimit-Reset` epoch second of a 429; never more than [`MAX_RETRY_AFTER`] (the values
/// come from outside: `Retry-After: 18446744073709551615` must not overflow a deadline).
fn retry_after(
    headers: &reqwest::header::HeaderMap,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<Duration> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let until = |at: chrono::DateTime<chrono::Utc>| (at - now).to_std().unwrap_or(Duration::ZERO);
    let asked = || {
        if let Some(value) = text("retry-after") {
            if let Ok(secs) = value.parse::<u64>() {
                return Some(Duration::from_secs(secs));
            }
            if value.bytes().all(|b| b.is_ascii_digit()) && !value.is_empty() {
                return Some(Duration::MAX); // digits beyond u64: as long as it gets
            }
            if let Ok(at) = chrono::DateTime::parse_from_rfc2822(value) {
                return Some(until(at.with_timezone(&chrono::Utc)));
            }
        }
        let reset = text("x-ratelimit-reset")?;
        match reset.parse::<i64>() {
            Ok(epoch) => {
                Some(chrono::DateTime::from_timestamp(epoch, 0).map_or(Duration::MAX, until))
            }
            Err(_) if reset.bytes().all(|b| b.is_ascii_digit()) && !reset.is_empty() => {
                Some(Duration::MAX)
            }
            Err(_) => None,
        }
    };
    asked().map(|wait| wait.min(MAX_RETRY_AFTER))
}

async fn classify(
    response: reqwest::Response,
) -> Result<SrAnswer<serde_json::Value>, SrClientError> {
    let status = response.status();
    if is_transient_status(status) || status.is_redirection() {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_logs_its_status_and_codes_not_srs_words() {
        let words = "Ada Lovelace did well is too long";
        let refused = SrClientError::Rejected {
            status: 400,
            body: Some(SrErrorBody::single("INVALID_SCORE_LABEL", words)),
            detail: words.into(),
        };
        assert!(refused.to_string().contains(words));
        assert_eq!(
            refused.for_log().to_string(),
            "SmartRecruiters refused the request with 400 (INVALID_SCORE_LABEL)"
        );
        let transient = SrClientError::Transient {
            status: Some(503),
            retry_after: None,
            detail: "SR API answered 503".into(),
        };
        assert_eq!(transient.for_log().to_string(), transient.to_string());
    }
    use reqwest::header::{HeaderMap, HeaderValue};

    #[test]
    fn a_path_segment_names_exactly_the_given_id() {
        assert_eq!(encode_segment("a b+c/d%e"), "a%20b%2Bc%2Fd%25e");
        assert_eq!(encode_segment("Acme-1_x.y~"), "Acme-1_x.y~");
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn retry_after_reads_seconds_dates_and_the_rate_limit_reset() {
        let now = chrono::DateTime::from_timestamp(1_000_000, 0).unwrap();
        assert_eq!(
            retry_after(&headers(&[("retry-after", "7")]), now),
            Some(Duration::from_secs(7))
        );
        let date = (now + chrono::Duration::seconds(3)).to_rfc2822();
        assert_eq!(
            retry_after(&headers(&[("retry-after", &date)]), now),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            retry_after(&headers(&[("x-ratelimit-reset", "1000002")]), now),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            retry_after(&headers(&[("x-ratelimit-reset", "999999")]), now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after(&headers(&[]), now), None);
    }

    #[test]
    fn waits_from_outside_are_capped() {
        let now = chrono::DateTime::from_timestamp(1_000_000, 0).unwrap();
        for (name, value) in [
            ("retry-after", "18446744073709551615"),
            ("retry-after", "99999999999999999999999"),
            ("retry-after", "Fri, 31 Dec 9999 23:59:59 GMT"),
            ("x-ratelimit-reset", "9223372036854775807"),
            ("x-ratelimit-reset", "18446744073709551615"),
        ] {
            assert_eq!(
                retry_after(&headers(&[(name, value)]), now),
                Some(MAX_RETRY_AFTER),
                "{name}: {value}"
            );
        }
        assert_eq!(retry_after(&headers(&[("retry-after", "soon")]), now), None);
    }

    #[test]
    fn token_lifetimes_are_read_leniently_and_capped() {
        use serde_json::json;
        let life = |v: serde_json::Value| token_lifetime(Some(&v));
        assert_eq!(life(json!(1800)), Duration::from_secs(1800));
        assert_eq!(life(json!("1800")), Duration::from_secs(1800));
        assert_eq!(life(json!(1800.5)), Duration::from_secs(1800));
        assert_eq!(life(json!(18446744073709551615u64)), MAX_TOKEN_LIFETIME);
        assert_eq!(life(json!(1e300)), MAX_TOKEN_LIFETIME);
        assert_eq!(life(json!(-5)), DEFAULT_TOKEN_LIFETIME);
        assert_eq!(life(json!("soon")), DEFAULT_TOKEN_LIFETIME);
        assert_eq!(token_lifetime(None), DEFAULT_TOKEN_LIFETIME);
        // A lifetime shorter than the margin is used once and not cached.
        let refresh_at = Instant::now() + life(json!(30)).saturating_sub(EXPIRY_MARGIN);
        assert!(refresh_at <= Instant::now());
    }
}
