//! Kombo's inline flow: when SR places an inline order for a package without
//! `inline_url_template`, create-inline-order POSTs an `inline-assessment:order-received` webhook
//! (Kombo's body and signature, plus the connector's signature headers) to the vendor's webhook
//! URL and waits for `{"assessment_url": "https://…"}`, which it stores on the order and answers
//! SR. Nothing is stored unless the vendor answered a usable URL, so a failure leaves SR free to
//! retry, and a retry of an order already stored never asks again.
//!
//! The call is bounded (`INLINE_URL_TIMEOUT_MS`, default 5 s, at most 8 s, so the answer still
//! reaches SR within the function's 10 s), follows no redirects and reads at most 64 KiB.

use std::sync::OnceLock;
use std::time::Duration;

use chrono::Utc;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use tokio::sync::OnceCell;
use url::Url;

use super::orders::AssessmentOrder;
use super::webhooks::{body, event_id, INLINE_ORDER_RECEIVED};
use crate::orders::Order;
use crate::secrets::{SecretError, Secrets};
use crate::webhooks::{signature_headers, webhook_url, WebhookConfigError};

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
pub const MAX_TIMEOUT: Duration = Duration::from_secs(8);
/// An answer is a small JSON object; anything bigger is not one.
const MAX_ANSWER_BYTES: usize = 64 * 1024;
/// Longest assessment URL accepted (SR stores and shows it to the candidate).
const MAX_URL_CHARS: usize = 2048;

/// Why the vendor's assessment URL could not be had. Each is answered to SR as a clear error
/// (see `api::partner`), and nothing is stored.
#[derive(Debug, thiserror::Error)]
pub enum InlineUrlError {
    #[error(
        "package `{0}` has no inline_url_template and this deployment has no WebhookUrl to ask the \
         vendor for the assessment URL"
    )]
    NotConfigured(String),
    #[error("the webhook signing secret is unavailable: {0}")]
    Secret(#[from] SecretError),
    #[error("the vendor did not answer the assessment URL within {0} ms")]
    Timeout(u128),
    #[error("the vendor could not be reached: {0}")]
    Unreachable(String),
    #[error("the vendor answered HTTP {0} instead of the assessment URL")]
    Status(u16),
    #[error("the vendor's answer is not usable: {0}")]
    Answer(String),
}

/// Where and how to ask.
#[derive(Debug, Clone)]
pub struct InlineUrlSettings {
    /// The vendor's webhook URL (`WEBHOOK_URL`); `None`: packages need a template.
    pub endpoint: Option<Url>,
    pub signing_secret_id: Option<String>,
    pub timeout: Duration,
}

impl InlineUrlSettings {
    /// `WEBHOOK_URL` (as the webhook dispatcher reads it), `WEBHOOK_SIGNING_SECRET_ID` and
    /// `INLINE_URL_TIMEOUT_MS` (default 5000, capped at 8000).
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, WebhookConfigError> {
        let timeout = lookup("INLINE_URL_TIMEOUT_MS")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_millis)
            .unwrap_or(DEFAULT_TIMEOUT)
            .clamp(Duration::from_millis(100), MAX_TIMEOUT);
        Ok(Self {
            endpoint: webhook_url(&lookup)?,
            signing_secret_id: lookup("WEBHOOK_SIGNING_SECRET_ID")
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty()),
            timeout,
        })
    }
}

/// Asks the vendor for inline orders' assessment URLs.
pub struct InlineUrlClient {
    settings: InlineUrlSettings,
    secrets: Secrets,
    /// Built at the first inline order, not at cold start.
    http: OnceLock<reqwest::Client>,
    /// Read once per container, like the webhook dispatcher does.
    secret: OnceCell<String>,
}

impl InlineUrlClient {
    pub fn new(settings: InlineUrlSettings, secrets: Secrets) -> Self {
        Self {
            settings,
            secrets,
            http: OnceLock::new(),
            secret: OnceCell::new(),
        }
    }

    fn http(&self) -> &reqwest::Client {
        self.http.get_or_init(|| {
            crate::aws::install_crypto_provider();
            reqwest::Client::builder()
                .timeout(self.settings.timeout)
                .connect_timeout(self.settings.timeout.min(Duration::from_secs(2)))
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(concat!(
                    "sr-assessment-connector-inline/",
                    env!("CARGO_PKG_VERSION")
                ))
                .build()
                .expect("a reqwest client with static settings always builds")
        })
    }

    /// The assessment URL the vendor answers for `order` (an inline order not stored yet).
    pub async fn assessment_url(&self, order: &Order) -> Result<String, InlineUrlError> {
        let not_configured = || InlineUrlError::NotConfigured(order.package.id.clone());
        let endpoint = self.settings.endpoint.as_ref().ok_or_else(not_configured)?;
        let secret_id = self
            .settings
            .signing_secret_id
            .as_deref()
            .ok_or_else(not_configured)?;
        let secret = self
            .secret
            .get_or_try_init(|| self.secrets.get_string(secret_id))
            .await?;
        let id = event_id(order);
        let data = serde_json::to_value(AssessmentOrder::of(order)).expect("views serialize");
        let payload = body(&id, INLINE_ORDER_RECEIVED, &data);
        let mut request = self
            .http()
            .post(endpoint.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json");
        let now = Utc::now().timestamp();
        for (name, value) in signature_headers(
            &[secret.as_bytes()],
            &id,
            INLINE_ORDER_RECEIVED,
            &payload,
            now,
        ) {
            request = request.header(name, value);
        }
        let timeout = self.settings.timeout.as_millis();
        let transport = |e: reqwest::Error| {
            if e.is_timeout() {
                InlineUrlError::Timeout(timeout)
            } else {
                // Without the URL: it may carry a token of the vendor's in its query.
                InlineUrlError::Unreachable(e.without_url().to_string())
            }
        };
        let mut response = request.body(payload).send().await.map_err(transport)?;
        let status = response.status();
        if !status.is_success() {
            return Err(InlineUrlError::Status(status.as_u16()));
        }
        let mut answer = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            answer.extend_from_slice(&chunk);
            if answer.len() > MAX_ANSWER_BYTES {
                return Err(InlineUrlError::Answer(format!(
                    "more than {MAX_ANSWER_BYTES} bytes"
                )));
            }
        }
        assessment_url_of(&answer)
    }
}

/// Reads `{"assessment_url": "https://…"}`.
fn assessment_url_of(answer: &[u8]) -> Result<String, InlineUrlError> {
    let bad = |reason: &str| InlineUrlError::Answer(reason.to_string());
    let answer: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(answer)
        .map_err(|_| bad("expected a JSON object {\"assessment_url\": \"https://…\"}"))?;
    let Some(serde_json::Value::String(url)) = answer.get("assessment_url") else {
        return Err(bad("`assessment_url` is missing or not a string"));
    };
    let url = url.clone();
    if url.chars().count() > MAX_URL_CHARS {
        return Err(bad("`assessment_url` is longer than 2048 characters"));
    }
    match Url::parse(&url) {
        Ok(parsed) if parsed.scheme() == "https" && parsed.host().is_some() => Ok(url),
        _ => Err(bad("`assessment_url` must be an absolute https URL")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_must_carry_an_https_url() {
        assert_eq!(
            assessment_url_of(br#"{"assessment_url": "https://app.acme.com/a/1?x=y"}"#).unwrap(),
            "https://app.acme.com/a/1?x=y"
        );
        for bad in [
            &br#"{"assessment_url": "http://app.acme.com/a/1"}"#[..],
            br#"{"assessment_url": "javascript:alert(1)"}"#,
            br#"{"assessment_url": 5}"#,
            br#"{"url": "https://app.acme.com"}"#,
            br#"["https://app.acme.com"]"#,
            b"https://app.acme.com",
        ] {
            assert!(
                matches!(assessment_url_of(bad), Err(InlineUrlError::Answer(_))),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let long = format!(
            r#"{{"assessment_url": "https://a.example/{}"}}"#,
            "x".repeat(2100)
        );
        assert!(assessment_url_of(long.as_bytes()).is_err());
    }

    #[test]
    fn the_timeout_is_bounded() {
        let env = |timeout: &'static str| {
            move |k: &str| match k {
                "INLINE_URL_TIMEOUT_MS" => Some(timeout.to_string()),
                "WEBHOOK_URL" => Some("https://vendor.example.com/hooks".to_string()),
                _ => None,
            }
        };
        let settings = InlineUrlSettings::from_lookup(env("60000")).unwrap();
        assert_eq!(settings.timeout, MAX_TIMEOUT);
        assert_eq!(
            InlineUrlSettings::from_lookup(env("junk")).unwrap().timeout,
            DEFAULT_TIMEOUT
        );
        assert_eq!(
            settings.endpoint.unwrap().as_str(),
            "https://vendor.example.com/hooks"
        );
    }
}
