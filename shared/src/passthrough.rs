//! The vendor API's SR passthrough (`POST /assessment/passthrough/sr`), shaped like Kombo's
//! `POST /v1/passthrough/{tool}/{api}`: the vendor names a method, a path and optional headers,
//! query parameters and body; the connector calls SR's Customer API with the company's own
//! credentials and relays `{status, headers, data}`.
//!
//! What it may reach is deliberately narrow, because the credentials are the customer's:
//! - only paths matching one of [`TEMPLATES`] exactly, on the Customer API base, checked segment
//!   by segment (no `..`, no encoded `/`, `.` or `%`, no absolute URLs, no query in the path —
//!   parameters go in `params` and are encoded by us, so nothing can be smuggled into the query);
//! - only GET unless the deployment sets `SR_PASSTHROUGH_ALLOW_WRITES=true`;
//! - only a few request headers are forwarded (never `Authorization` or `Cookie`), and only a
//!   few response headers come back (never `Set-Cookie`).

use std::collections::BTreeMap;

use base64::Engine as _;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::ids::{CompanyId, IntegrationId};
use crate::secrets::{CredentialCache, SecretError, Secrets};
use crate::sr::client::RawAnswer;
use crate::sr::{SrClient, SrClientError};
use crate::store::{CompanyStatus, Store, StoreError};

/// One SR Customer API path the passthrough may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathTemplate {
    /// The path; a `{name}` segment stands for exactly one non-empty path segment.
    pub template: &'static str,
    /// What it lets the vendor read, in the consent page's words.
    pub reads: &'static str,
}

/// Every path the passthrough reaches, exactly: what an assessment vendor has a reason to read
/// about an order — its candidate and job, the job's hiring team and those users — and the
/// company's departments. Nothing that lists or searches the company's candidates, jobs or
/// users (`/candidates?q=`, `/jobs/{id}/candidates`) is here. The consent page shows the
/// customer's admin this list.
pub const TEMPLATES: &[PathTemplate] = &[
    PathTemplate {
        template: "/candidates/{candidateId}",
        reads: "a candidate",
    },
    PathTemplate {
        template: "/jobs/{jobId}",
        reads: "a job",
    },
    PathTemplate {
        template: "/jobs/{jobId}/hiring-team",
        reads: "the hiring team of a job",
    },
    PathTemplate {
        template: "/users/{userId}",
        reads: "a user",
    },
    PathTemplate {
        template: "/configuration/departments",
        reads: "the list of departments",
    },
];

impl PathTemplate {
    /// Whether `path` (already checked by [`check_path`]'s other rules) is this template.
    pub fn matches(&self, path: &str) -> bool {
        let mut given = path.split('/');
        let mut wanted = self.template.split('/');
        loop {
            match (given.next(), wanted.next()) {
                (None, None) => return true,
                (Some(g), Some(w)) if w.starts_with('{') && w.ends_with('}') => {
                    if g.is_empty() {
                        return false;
                    }
                }
                (Some(g), Some(w)) if g == w => {}
                _ => return false,
            }
        }
    }
}
/// Request headers passed on to SR; the token is ours to set, cookies have no place here.
pub const FORWARDED_HEADERS: &[&str] = &[
    "accept",
    "accept-language",
    "content-type",
    "if-none-match",
    "if-modified-since",
];
/// Response headers passed back: content description, caching and SR's rate-limit headers.
pub const RETURNED_HEADERS: &[&str] = &[
    "content-type",
    "content-language",
    "etag",
    "last-modified",
    "cache-control",
    "location",
    "link",
    "retry-after",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
];
/// Largest SR answer relayed. Lambda answers at most 6 MB and a binary body grows by a third
/// as base64, so 4 MiB always fits with the envelope.
pub const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;
const MAX_PATH_CHARS: usize = 1024;
const MAX_PARAMS: usize = 50;

/// The vendor's request body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PassthroughRequest {
    /// The SR company whose credentials are used; it must be connected to the calling
    /// integration (`X-Integration-Id`).
    pub company_id: String,
    pub method: String,
    /// Relative to SR's Customer API base, e.g. `/jobs/{jobId}/hiring-team`.
    pub path: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Query parameters: strings, numbers, booleans, or arrays of them (repeated parameters).
    #[serde(default)]
    pub params: BTreeMap<String, serde_json::Value>,
    /// The body of a POST/PUT/PATCH: a JSON value, or a string sent as it is.
    #[serde(default)]
    pub data: Option<serde_json::Value>,
}

/// A checked request, ready to send.
#[derive(Debug, Clone)]
pub struct PreparedCall {
    pub method: Method,
    pub url: Url,
    pub headers: HeaderMap,
    pub body: Option<Vec<u8>>,
}

/// Why a passthrough request is refused before anything is sent. [`Self::is_forbidden`] tells a
/// policy refusal (403) from a malformed request (400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PassthroughError {
    #[error("invalid field `method`: `{0}` is not one of GET, POST, PUT, PATCH, DELETE")]
    UnknownMethod(String),
    #[error("method {0} is not allowed: the SmartRecruiters passthrough is read-only (GET) unless the deployment sets SR_PASSTHROUGH_ALLOW_WRITES=true")]
    WritesDisabled(String),
    #[error("path `{path}` is not allowed: the passthrough reaches only {allowed}")]
    PathNotAllowed { path: String, allowed: String },
    #[error("invalid field `{field}`: {reason}")]
    Invalid { field: String, reason: String },
}

impl PassthroughError {
    pub fn is_forbidden(&self) -> bool {
        matches!(self, Self::WritesDisabled(_) | Self::PathNotAllowed { .. })
    }
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> PassthroughError {
    PassthroughError::Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}

/// Deployment settings: `SR_PASSTHROUGH_ALLOW_WRITES=true` enables POST, PUT, PATCH and DELETE.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PassthroughSettings {
    pub allow_writes: bool,
}

impl PassthroughSettings {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        Self {
            allow_writes: lookup("SR_PASSTHROUGH_ALLOW_WRITES").as_deref() == Some("true"),
        }
    }

    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }
}

/// What the vendor API needs to run passthrough calls.
pub struct Passthrough {
    /// The companies' credentials, kept while warm and read again when SR refuses them.
    pub credentials: CredentialCache,
    pub sr: SrClient,
    pub settings: PassthroughSettings,
}

impl Passthrough {
    pub fn new(secrets: Secrets, sr: SrClient, settings: PassthroughSettings) -> Self {
        Self {
            credentials: CredentialCache::new(secrets),
            sr,
            settings,
        }
    }

    /// Sends `call` with the company's credentials. A 401 from SR, even with a fresh token, or
    /// its token endpoint refusing them, makes the credentials be read again and the call be
    /// sent once more with them when they changed (a reconnected company). `Err` when the
    /// company's secret cannot be read (`NotFound`: disconnected).
    pub async fn send(
        &self,
        company_id: &str,
        call: &PreparedCall,
    ) -> Result<Result<RawAnswer, SrClientError>, SecretError> {
        let send = |credentials: crate::sr::SrCredentials| async move {
            self.sr
                .send_raw(
                    &credentials,
                    call.method.clone(),
                    call.url.clone(),
                    call.headers.clone(),
                    call.body.clone(),
                    MAX_ANSWER_BYTES,
                )
                .await
        };
        let refused = |answer: &Result<RawAnswer, SrClientError>| match answer {
            Ok(raw) => raw.status == 401,
            Err(e) => e.refuses_credentials(),
        };
        self.credentials
            .call_as_company(&self.sr, company_id, send, refused)
            .await
    }
}

/// Why [`Passthrough::call`] answered no SR answer.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The request is malformed (400) or outside what the passthrough may reach (403, see
    /// [`PassthroughError::is_forbidden`]); nothing was sent.
    #[error(transparent)]
    Refused(#[from] PassthroughError),
    /// `company_id` names no company connected to the calling integration.
    #[error("no company `{0}` is connected to this integration (field `company_id`)")]
    UnknownCompany(String),
    /// The company disabled the integration: its SR credentials are gone.
    #[error(
        "company `{0}` has disabled the integration; its SmartRecruiters credentials are gone"
    )]
    CompanyDisabled(String),
    /// SR could not be asked (transport, its token endpoint refusing the credentials). The
    /// detail is logged, never answered.
    #[error("SmartRecruiters could not be asked: {0}")]
    Unreachable(SrClientError),
    /// SR answered more than [`MAX_ANSWER_BYTES`].
    #[error(
        "SmartRecruiters answered more than {} bytes, more than the passthrough relays; narrow the request with `params`",
        MAX_ANSWER_BYTES
    )]
    AnswerTooLarge,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Secret(SecretError),
}

impl Passthrough {
    /// `POST /assessment/passthrough/sr`: one SR Customer API call with the credentials of a
    /// company connected to `integration`. SR's own answer, whatever its status, is `Ok`.
    ///
    /// Per call: GetItem (company), GetSecretValue (its credentials, cached while warm), SR's
    /// token endpoint (cached by `SrClient`) and the call itself.
    pub async fn call(
        &self,
        store: &Store,
        integration: &IntegrationId,
        request: &PassthroughRequest,
    ) -> Result<PassthroughAnswer, CallError> {
        let call = prepare(
            request,
            &self.sr.endpoints().customer_api_base_url,
            self.settings,
        )?;
        let raw = request.company_id.trim();
        let unknown = || CallError::UnknownCompany(raw.to_string());
        // Every connected company's id is a `CompanyId`: anything else names no company here.
        let company_id = CompanyId::parse(raw).map_err(|_| unknown())?;
        let company = store
            .get_company(&company_id)
            .await?
            .filter(|c| c.integration_id == *integration)
            .ok_or_else(unknown)?;
        if company.status != CompanyStatus::Active {
            return Err(CallError::CompanyDisabled(company_id.to_string()));
        }
        let path = call.url.path().to_string();
        let answer = match self.send(&company_id, &call).await {
            Ok(answer) => answer,
            Err(SecretError::NotFound(_)) => {
                return Err(CallError::CompanyDisabled(company_id.to_string()))
            }
            Err(e) => return Err(CallError::Secret(e)),
        }
        .map_err(|e| {
            tracing::warn!(integration_id = %integration, company_id = %company_id, method = %call.method, path = %path, error = %e.for_log(), "passthrough call failed");
            CallError::Unreachable(e)
        })?;
        tracing::info!(integration_id = %integration, company_id = %company_id, method = %call.method, path = %path, sr_status = answer.status, "passthrough call");
        if answer.truncated {
            return Err(CallError::AnswerTooLarge);
        }
        Ok(answer_of(&call.url, answer))
    }
}

/// Checks the path: absolute, plain segments of URL-safe characters, nothing that could climb
/// out of its template or reach another host, then that it is one of [`TEMPLATES`].
/// Hand-written: the rules are specific to this allow-list and fit in a screen.
pub fn check_path(path: &str) -> Result<(), PassthroughError> {
    let bad = |reason: &str| Err(invalid("path", reason));
    if path.chars().count() > MAX_PATH_CHARS {
        return bad("must be at most 1024 characters");
    }
    if path.contains("://") || !path.starts_with('/') || path.starts_with("//") {
        return bad(
            "must be a path starting with `/` (relative to SmartRecruiters' API), not a URL",
        );
    }
    if path.contains('?') || path.contains('#') {
        return bad("must not contain `?` or `#`; send query parameters in `params`");
    }
    let allowed_char = |c: char| c.is_ascii_alphanumeric() || "-._~/%:@+,=".contains(c);
    if let Some(c) = path.chars().find(|c| !allowed_char(*c)) {
        return bad(&format!(
            "contains `{}`; use letters, digits and - . _ ~ : @ + , = (percent-encode the rest)",
            c.escape_default()
        ));
    }
    let bytes = path.as_bytes();
    for (i, _) in path.match_indices('%') {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        let Some(value) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) else {
            return bad("has a `%` that is not followed by two hex digits");
        };
        // `%25` too: encoded twice, a proxy that decodes again would see the rest.
        if value < 0x20 || value == 0x7f || b"./\\?#%".contains(&value) {
            return bad(
                "must not percent-encode `.`, `/`, `\\`, `?`, `#`, `%` or control characters",
            );
        }
    }
    let segments: Vec<&str> = path[1..].split('/').collect();
    let last = segments.len() - 1;
    for (i, segment) in segments.iter().enumerate() {
        if *segment == "." || *segment == ".." {
            return bad("must not contain `.` or `..` segments");
        }
        if segment.is_empty() && i != last {
            return bad("must not contain empty segments (`//`)");
        }
    }
    if TEMPLATES.iter().any(|t| t.matches(path)) {
        Ok(())
    } else {
        Err(PassthroughError::PathNotAllowed {
            path: path.to_string(),
            allowed: TEMPLATES
                .iter()
                .map(|t| format!("`{}`", t.template))
                .collect::<Vec<_>>()
                .join(", "),
        })
    }
}

fn param_values(name: &str, value: &serde_json::Value) -> Result<Vec<String>, PassthroughError> {
    use serde_json::Value;
    let scalar = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    let values = match value {
        Value::Array(items) => items.iter().map(scalar).collect::<Option<Vec<_>>>(),
        other => scalar(other).map(|v| vec![v]),
    };
    values.ok_or_else(|| {
        invalid(
            format!("params.{name}"),
            "must be a string, number, boolean or an array of them",
        )
    })
}

/// Validates the vendor's request and builds the SR call against `base` (the Customer API).
pub fn prepare(
    request: &PassthroughRequest,
    base: &Url,
    settings: PassthroughSettings,
) -> Result<PreparedCall, PassthroughError> {
    let method = match request.method.to_ascii_uppercase().as_str() {
        "GET" => Method::GET,
        "POST" => Method::POST,
        "PUT" => Method::PUT,
        "PATCH" => Method::PATCH,
        "DELETE" => Method::DELETE,
        _ => return Err(PassthroughError::UnknownMethod(request.method.clone())),
    };
    if method != Method::GET && !settings.allow_writes {
        return Err(PassthroughError::WritesDisabled(method.to_string()));
    }
    check_path(&request.path)?;

    let mut url = base.clone();
    let joined = format!("{}{}", url.path().trim_end_matches('/'), request.path);
    url.set_path(&joined);
    if request.params.len() > MAX_PARAMS {
        return Err(invalid(
            "params",
            format!("at most {MAX_PARAMS} parameters"),
        ));
    }
    if !request.params.is_empty() {
        let mut query = url.query_pairs_mut();
        for (name, value) in &request.params {
            if name.is_empty() || name.len() > 128 {
                return Err(invalid("params", "parameter names are 1 to 128 characters"));
            }
            for v in param_values(name, value)? {
                query.append_pair(name, &v);
            }
        }
    }

    let mut headers = HeaderMap::new();
    for (name, value) in &request.headers {
        let lower = name.to_ascii_lowercase();
        if !FORWARDED_HEADERS.contains(&lower.as_str()) {
            return Err(invalid(
                format!("headers.{name}"),
                format!(
                    "this header is not forwarded (forwarded: {})",
                    FORWARDED_HEADERS.join(", ")
                ),
            ));
        }
        let value = HeaderValue::from_str(value)
            .map_err(|_| invalid(format!("headers.{name}"), "is not a valid header value"))?;
        headers.insert(
            HeaderName::from_bytes(lower.as_bytes()).expect("allow-listed names are valid"),
            value,
        );
    }
    headers
        .entry(reqwest::header::ACCEPT)
        .or_insert(HeaderValue::from_static("application/json"));

    let body = match (&request.data, &method) {
        (None, _) => None,
        (Some(_), &Method::GET) | (Some(_), &Method::DELETE) => {
            return Err(invalid("data", "is sent only with POST, PUT or PATCH"))
        }
        (Some(serde_json::Value::String(text)), _) => {
            headers
                .entry(reqwest::header::CONTENT_TYPE)
                .or_insert(HeaderValue::from_static("text/plain; charset=utf-8"));
            Some(text.clone().into_bytes())
        }
        (Some(json), _) => {
            headers
                .entry(reqwest::header::CONTENT_TYPE)
                .or_insert(HeaderValue::from_static("application/json"));
            Some(serde_json::to_vec(json).expect("JSON values serialize"))
        }
    };
    Ok(PreparedCall {
        method,
        url,
        headers,
        body,
    })
}

/// What the vendor gets back: SR's status, the safe subset of its headers, and its body — JSON
/// when it is JSON, text when it is UTF-8, otherwise base64 (`data_encoding: "base64"`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PassthroughAnswer {
    pub url: String,
    pub status: u16,
    pub headers: BTreeMap<String, String>,
    pub data: serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_encoding: Option<&'static str>,
}

pub fn answer_of(url: &Url, raw: RawAnswer) -> PassthroughAnswer {
    let headers: BTreeMap<String, String> = raw
        .headers
        .iter()
        .filter(|(name, _)| RETURNED_HEADERS.contains(&name.as_str()))
        .map(|(name, value)| {
            let text = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.to_string(), text)
        })
        .collect();
    let is_json = headers
        .get("content-type")
        .is_some_and(|t| t.to_ascii_lowercase().contains("json"));
    let (data, data_encoding) = if raw.body.is_empty() {
        (serde_json::Value::Null, None)
    } else if let Some(json) = is_json
        .then(|| serde_json::from_slice(&raw.body).ok())
        .flatten()
    {
        (json, None)
    } else {
        match String::from_utf8(raw.body) {
            Ok(text) => (serde_json::Value::String(text), None),
            Err(e) => (
                serde_json::Value::String(
                    base64::engine::general_purpose::STANDARD.encode(e.into_bytes()),
                ),
                Some("base64"),
            ),
        }
    };
    PassthroughAnswer {
        url: url.to_string(),
        status: raw.status,
        headers,
        data,
        data_encoding,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://api.smartrecruiters.com").unwrap()
    }

    fn request(method: &str, path: &str) -> PassthroughRequest {
        PassthroughRequest {
            company_id: "c".into(),
            method: method.into(),
            path: path.into(),
            headers: BTreeMap::new(),
            params: BTreeMap::new(),
            data: None,
        }
    }

    fn path_error(path: &str) -> PassthroughError {
        check_path(path).unwrap_err()
    }

    #[test]
    fn allow_listed_reads_pass() {
        for path in [
            "/candidates/3fa85f64-5717-4562-b3fc-2c963f66afa6",
            "/jobs/j-1/hiring-team",
            "/users/u1",
            "/configuration/departments",
            "/jobs/a%20b",
        ] {
            assert_eq!(check_path(path), Ok(()), "{path}");
        }
    }

    #[test]
    fn paths_outside_the_allow_list_are_forbidden() {
        for path in [
            "/candidates",
            "/candidates/",
            "/messages/x",
            "/assessment-api/v202010/orders/1/results",
            "/jobsx/1",
            "/jobs/j1/",
            "/jobs/j1/candidates",
            "/jobs/j1/hiring-team/x",
            "/candidates/c1/attachments",
            "/users/u1/roles",
            "/configuration/company",
            "/configuration/departments/d1",
        ] {
            let err = path_error(path);
            assert!(err.is_forbidden(), "{path}: {err}");
            assert!(
                err.to_string().contains("`/jobs/{jobId}/hiring-team`"),
                "{err}"
            );
        }
    }

    #[test]
    fn traversal_absolute_urls_and_query_injection_are_refused() {
        for path in [
            "/jobs/../users/1",
            "/jobs/./1",
            "/jobs/%2e%2e/admin",
            "/jobs/%2E%2e/admin",
            "/jobs/1%2f..%2fadmin",
            "/jobs/1%5cadmin",
            "/jobs//1",
            "https://evil.example.com/jobs/1",
            "//evil.example.com/jobs/1",
            "jobs/1",
            "/jobs/1?status=x",
            "/jobs/1%3fstatus=x",
            "/jobs/1#x",
            "/jobs/1%0d%0aHost:x",
            "/jobs/1 2",
            "/jobs/\\1",
            "/jobs/1%zz",
            // Encoded twice: a proxy that decodes again would see `/` and `..`.
            "/jobs/1%252F..%252Fcandidates",
            "/jobs/%252e%252e",
            "/jobs/1%",
            "/jobs/é",
        ] {
            let err = path_error(path);
            assert!(
                matches!(err, PassthroughError::Invalid { ref field, .. } if field == "path"),
                "{path}: {err:?}"
            );
        }
    }

    #[test]
    fn only_get_unless_writes_are_enabled() {
        let read_only = PassthroughSettings::default();
        assert!(prepare(&request("get", "/jobs/1"), &base(), read_only).is_ok());
        let err = prepare(&request("POST", "/jobs/1"), &base(), read_only).unwrap_err();
        assert_eq!(err, PassthroughError::WritesDisabled("POST".into()));
        assert!(err.is_forbidden());
        let writes = PassthroughSettings { allow_writes: true };
        assert!(prepare(&request("PATCH", "/jobs/1"), &base(), writes).is_ok());
        assert_eq!(
            prepare(&request("TRACE", "/jobs/1"), &base(), writes).unwrap_err(),
            PassthroughError::UnknownMethod("TRACE".into())
        );
        assert!(
            PassthroughSettings::from_lookup(
                |k| (k == "SR_PASSTHROUGH_ALLOW_WRITES").then(|| "true".to_string())
            )
            .allow_writes
        );
        assert!(!PassthroughSettings::from_lookup(|_| None).allow_writes);
    }

    #[test]
    fn params_are_encoded_into_the_query_and_cannot_inject() {
        let mut r = request("GET", "/jobs/1/hiring-team");
        r.params.insert("q".into(), serde_json::json!("a&b=c #d"));
        r.params.insert("limit".into(), serde_json::json!(10));
        r.params
            .insert("status".into(), serde_json::json!(["OPEN", "SOURCING"]));
        let call = prepare(&r, &base(), PassthroughSettings::default()).unwrap();
        assert_eq!(
            call.url.as_str(),
            "https://api.smartrecruiters.com/jobs/1/hiring-team?limit=10&q=a%26b%3Dc+%23d&status=OPEN&status=SOURCING"
        );
        assert_eq!(call.url.host_str(), Some("api.smartrecruiters.com"));
        let mut nested = request("GET", "/jobs/1");
        nested
            .params
            .insert("x".into(), serde_json::json!({"a": 1}));
        assert!(matches!(
            prepare(&nested, &base(), PassthroughSettings::default()),
            Err(PassthroughError::Invalid { field, .. }) if field == "params.x"
        ));
    }

    #[test]
    fn the_base_path_is_kept() {
        let base = Url::parse("http://127.0.0.1:5310/sr").unwrap();
        let call = prepare(
            &request("GET", "/jobs/1"),
            &base,
            PassthroughSettings::default(),
        )
        .unwrap();
        assert_eq!(call.url.as_str(), "http://127.0.0.1:5310/sr/jobs/1");
    }

    #[test]
    fn only_allow_listed_headers_are_forwarded() {
        let mut r = request("GET", "/jobs/1");
        r.headers.insert("Accept-Language".into(), "de".into());
        let call = prepare(&r, &base(), PassthroughSettings::default()).unwrap();
        assert_eq!(call.headers["accept-language"], "de");
        assert_eq!(call.headers["accept"], "application/json");
        for name in ["Authorization", "Cookie", "Host", "X-Forwarded-For"] {
            let mut r = request("GET", "/jobs/1");
            r.headers.insert(name.into(), "x".into());
            let err = prepare(&r, &base(), PassthroughSettings::default()).unwrap_err();
            assert!(
                matches!(&err, PassthroughError::Invalid { field, .. } if *field == format!("headers.{name}")),
                "{err:?}"
            );
        }
        let mut r = request("GET", "/jobs/1");
        r.headers.insert("Accept".into(), "a\r\nb".into());
        assert!(prepare(&r, &base(), PassthroughSettings::default()).is_err());
    }

    #[test]
    fn a_body_goes_only_with_writes() {
        let mut r = request("GET", "/jobs/1");
        r.data = Some(serde_json::json!({"a": 1}));
        assert!(matches!(
            prepare(&r, &base(), PassthroughSettings { allow_writes: true }),
            Err(PassthroughError::Invalid { field, .. }) if field == "data"
        ));
        r.method = "PUT".into();
        let call = prepare(&r, &base(), PassthroughSettings { allow_writes: true }).unwrap();
        assert_eq!(call.body.as_deref(), Some(&br#"{"a":1}"#[..]));
        assert_eq!(call.headers["content-type"], "application/json");
    }

    #[test]
    fn answers_relay_json_text_or_base64_and_only_safe_headers() {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        headers.insert("set-cookie", HeaderValue::from_static("session=secret"));
        headers.insert("x-ratelimit-remaining", HeaderValue::from_static("9"));
        let url = base().join("/jobs/1").unwrap();
        let answer = answer_of(
            &url,
            RawAnswer {
                status: 404,
                headers: headers.clone(),
                body: br#"{"message":"no"}"#.to_vec(),
                truncated: false,
            },
        );
        assert_eq!(answer.status, 404);
        assert_eq!(answer.data, serde_json::json!({"message": "no"}));
        assert!(!answer.headers.contains_key("set-cookie"));
        assert_eq!(answer.headers["x-ratelimit-remaining"], "9");
        let binary = answer_of(
            &url,
            RawAnswer {
                status: 200,
                headers: HeaderMap::new(),
                body: vec![0xff, 0x00],
                truncated: false,
            },
        );
        assert_eq!(binary.data, serde_json::json!("/wA="));
        assert_eq!(binary.data_encoding, Some("base64"));
    }
}
