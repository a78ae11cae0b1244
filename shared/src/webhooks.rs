//! Signed webhooks: the webhook dispatcher consumes the notifications queue and POSTs each event
//! as JSON to the vendor's URL (`WEBHOOK_URL`, the template parameter `WebhookUrl`; empty turns
//! webhooks off while events stay listable through `GET /assessment/events`).
//!
//! Every request carries
//! - `X-Connector-Event-Id`: the event id, a copy of the body's `id` for routing; it is not
//!   signed, so receivers dedupe on the (signed) body's `id`,
//! - `X-Connector-Timestamp`: Unix seconds when this attempt was signed,
//! - `X-Connector-Signature: v1=<hex HMAC-SHA256(secret, "{timestamp}.{body}")>`; during a
//!   rotation of the secret, `v1=<new>,v1=<old>`,
//!
//! with the secret from Secrets Manager (`WEBHOOK_SIGNING_SECRET_ID`). Signing the timestamp with
//! the body lets receivers refuse replays of old requests. Kombo-format events
//! (`crate::kombo::webhooks`) go out with Kombo's body and also `X-Kombo-Signature` (signed with
//! the current secret only: Kombo's header carries one signature).
//!
//! Rotation: when the secret's current version is younger than the rotation window
//! (`WEBHOOK_ROTATION_WINDOW_SECONDS`, a day by default), requests are signed with it and with
//! the previous version (`AWSPREVIOUS`), so the vendor can switch its verifier at any moment in
//! that window. The secrets are re-read every few minutes and whenever the endpoint answers
//! 401/403, which is then retried while a rotation window is open (the vendor may have switched
//! before this container noticed the rotation) and final otherwise.
//!
//! Outcomes: 2xx delivered; 4xx other than 408/429 refused for good (recorded on the event, not
//! retried); anything else, a timeout or no connection is retried with exponential backoff and
//! jitter (the message's visibility is changed, `crate::backoff`), 429 after its `Retry-After`.
//! After the queue's `maxReceiveCount` receives, SQS moves the message to the notifications
//! dead-letter queue and the event is recorded as failed.

use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use lambda_runtime::LambdaEvent;
use reqwest::header::{HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use sha2::Sha256;
use url::Url;

use crate::aws::AwsClients;
use crate::backoff::Backoff;
use crate::config::{Config, ConfigError};
use crate::secrets::{SecretError, Secrets};
use crate::sqs_batch::{self, receive_count, SqsBatchRunner};
use crate::store::{Event, Store, WebhookDelivery, WebhookState};

/// The outcome of one notification message (the one outcome of every queue consumer,
/// `crate::sqs_batch`).
pub use crate::sqs_batch::Outcome;

pub const EVENT_ID_HEADER: &str = "X-Connector-Event-Id";
pub const TIMESTAMP_HEADER: &str = "X-Connector-Timestamp";
pub const SIGNATURE_HEADER: &str = "X-Connector-Signature";
/// The signature scheme's version prefix, so a future scheme can be sent alongside.
pub const SIGNATURE_VERSION: &str = "v1";

const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a rotated secret is signed with next to the new one, by default.
pub const DEFAULT_ROTATION_WINDOW: Duration = Duration::from_secs(24 * 3600);
/// A warm dispatcher re-reads the signing secrets this often (and whenever a request is refused).
const SECRETS_KEPT_FOR: Duration = Duration::from_secs(300);

type HmacSha256 = Hmac<Sha256>;

/// The signing secrets in use.
#[derive(Clone)]
struct SigningKeys {
    current: String,
    /// The previous version, while the current one is younger than the rotation window.
    previous: Option<String>,
    /// Whether a rotation window is open: the current version is younger than the window and
    /// replaced a previous one.
    rotating: bool,
    read_at: std::time::Instant,
}

impl SigningKeys {
    /// The secrets to sign with: the current one, then the previous one during a rotation.
    fn secrets(&self) -> Vec<&[u8]> {
        std::iter::once(&self.current)
            .chain(self.previous.as_ref())
            .map(String::as_bytes)
            .collect()
    }
}

/// `v1=<hex HMAC-SHA256(secret, "{timestamp}.{body}")>`.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{SIGNATURE_VERSION}={digest}")
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("header {0} is missing or malformed")]
    Malformed(&'static str),
    #[error("the timestamp is outside the accepted window (replayed or delayed request)")]
    Stale,
    #[error("no signature matches")]
    Mismatch,
}

/// Checks a received webhook as a vendor should (the README shows the same in Python): the
/// timestamp within `tolerance` of `now`, and one `v1=` signature (several may be sent,
/// comma-separated, while a secret is rotated) equal to the HMAC of `"{timestamp}.{body}"`.
/// The comparison is constant-time (`hmac`'s `verify_slice`).
pub fn verify(
    secret: &[u8],
    timestamp_header: &str,
    signature_header: &str,
    body: &[u8],
    now: DateTime<Utc>,
    tolerance: Duration,
) -> Result<(), VerifyError> {
    let timestamp: i64 = timestamp_header
        .trim()
        .parse()
        .map_err(|_| VerifyError::Malformed(TIMESTAMP_HEADER))?;
    if now.timestamp().abs_diff(timestamp) > tolerance.as_secs() {
        return Err(VerifyError::Stale);
    }
    let candidates: Vec<Vec<u8>> = signature_header
        .split(',')
        .filter_map(|part| part.trim().strip_prefix("v1="))
        .filter_map(decode_hex)
        .collect();
    if candidates.is_empty() {
        return Err(VerifyError::Malformed(SIGNATURE_HEADER));
    }
    for candidate in candidates {
        let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        if mac.verify_slice(&candidate).is_ok() {
            return Ok(());
        }
    }
    Err(VerifyError::Mismatch)
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// How the dispatcher is set up.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// `None`: webhooks are off; messages are acknowledged and dropped.
    pub url: Option<Url>,
    pub signing_secret_id: String,
    /// The notifications queue, whose messages' visibility the backoff changes.
    pub queue_url: String,
    /// The queue's `maxReceiveCount`: a retry on that receive sends the message to the DLQ.
    pub max_receive_count: u32,
    pub backoff: Backoff,
}

#[derive(Debug, thiserror::Error)]
pub enum WebhookConfigError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("WEBHOOK_URL is invalid: {0}")]
    Url(String),
}

impl WebhookSettings {
    /// `WEBHOOK_URL` (empty: off; https unless `ALLOW_INSECURE_WEBHOOK_URL=true`, local stacks
    /// only), `WEBHOOK_SIGNING_SECRET_ID`, `NOTIFICATIONS_QUEUE_URL`,
    /// `WEBHOOK_MAX_RECEIVE_COUNT` (default 10) and the backoff variables of `crate::backoff`.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, WebhookConfigError> {
        let non_empty = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        Ok(Self {
            url: webhook_url(&lookup)?,
            signing_secret_id: non_empty("WEBHOOK_SIGNING_SECRET_ID")
                .ok_or(WebhookConfigError::Missing("WEBHOOK_SIGNING_SECRET_ID"))?,
            queue_url: non_empty("NOTIFICATIONS_QUEUE_URL")
                .ok_or(WebhookConfigError::Missing("NOTIFICATIONS_QUEUE_URL"))?,
            max_receive_count: non_empty("WEBHOOK_MAX_RECEIVE_COUNT")
                .and_then(|v| v.parse().ok())
                .unwrap_or(10),
            backoff: Backoff::from_lookup(&lookup),
        })
    }
}

/// `WEBHOOK_URL`: `None` when empty; https unless `ALLOW_INSECURE_WEBHOOK_URL=true` (local
/// stacks only). Also where create-inline-order asks for assessment URLs (`crate::kombo::inline`).
pub fn webhook_url(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Option<Url>, WebhookConfigError> {
    let Some(raw) = lookup("WEBHOOK_URL")
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
    else {
        return Ok(None);
    };
    let allow_insecure = lookup("ALLOW_INSECURE_WEBHOOK_URL").as_deref() == Some("true");
    let url = Url::parse(&raw).map_err(|e| WebhookConfigError::Url(e.to_string()))?;
    if url.scheme() == "https" || (allow_insecure && url.scheme() == "http") {
        Ok(Some(url))
    } else {
        Err(WebhookConfigError::Url(
            "must be https (ALLOW_INSECURE_WEBHOOK_URL=true allows http on local stacks)".into(),
        ))
    }
}

/// The headers that sign a webhook `body` of event `event_id` (of type `kind`) at `timestamp`
/// with `secrets` (the current one first; during a rotation also the previous one): the
/// connector's three (`v1=<current>` or `v1=<current>,v1=<previous>`), plus `X-Kombo-Signature`
/// (current secret only) for Kombo-format events.
///
/// # Panics
/// If `secrets` is empty.
pub fn signature_headers(
    secrets: &[&[u8]],
    event_id: &str,
    kind: &str,
    body: &[u8],
    timestamp: i64,
) -> Vec<(&'static str, HeaderValue)> {
    let event_id = HeaderValue::from_str(event_id).unwrap_or_else(|_| {
        let encoded: String = url::form_urlencoded::byte_serialize(event_id.as_bytes()).collect();
        HeaderValue::from_str(&encoded).expect("percent-encoded text is a valid header value")
    });
    let text = |value: String| HeaderValue::from_str(&value).expect("ASCII header value");
    let current = secrets
        .first()
        .expect("at least the current signing secret");
    let signatures: Vec<String> = secrets
        .iter()
        .map(|secret| sign(secret, timestamp, body))
        .collect();
    let mut headers = vec![
        (EVENT_ID_HEADER, event_id),
        (TIMESTAMP_HEADER, text(timestamp.to_string())),
        (SIGNATURE_HEADER, text(signatures.join(","))),
    ];
    if crate::kombo::webhooks::is_kombo_event(kind) {
        headers.push((
            crate::kombo::webhooks::SIGNATURE_HEADER,
            text(crate::kombo::webhooks::sign(current, body)),
        ));
    }
    headers
}

/// What one POST of a webhook came to: the message's outcome (a retry after the endpoint's
/// `Retry-After`, else the backoff), the endpoint's status and, for a retry, why (recorded on
/// the event when the retries are exhausted).
struct Posted {
    outcome: Outcome,
    status_code: Option<u16>,
    detail: String,
}

/// The webhook-dispatcher Lambda's logic.
pub struct WebhookDispatcher {
    store: Store,
    secrets: Secrets,
    /// The notifications queue's partial batch responses and redelivery times.
    runner: SqsBatchRunner,
    /// Built at the first webhook, not at cold start (it reads the system CA store, ~5 ms).
    http: std::sync::OnceLock<reqwest::Client>,
    settings: WebhookSettings,
    /// Read on first use, re-read after [`SECRETS_KEPT_FOR`] and whenever the endpoint refuses.
    signing_keys: tokio::sync::Mutex<Option<SigningKeys>>,
    /// How long after a rotation the previous secret still signs (see the module docs).
    rotation_window: Duration,
}

impl WebhookDispatcher {
    pub fn new(
        store: Store,
        secrets: Secrets,
        sqs: aws_sdk_sqs::Client,
        settings: WebhookSettings,
    ) -> Self {
        let runner = SqsBatchRunner::new(settings.max_receive_count, settings.backoff)
            .with_redelivery(sqs, vec![settings.queue_url.clone()]);
        Self {
            store,
            secrets,
            runner,
            http: std::sync::OnceLock::new(),
            settings,
            signing_keys: tokio::sync::Mutex::new(None),
            rotation_window: DEFAULT_ROTATION_WINDOW,
        }
    }

    /// How long after a rotation of the signing secret the previous one still signs, and a
    /// 401/403 is retried (`WEBHOOK_ROTATION_WINDOW_SECONDS`; zero turns dual signing off).
    pub fn with_rotation_window(mut self, window: Duration) -> Self {
        self.rotation_window = window;
        self
    }

    fn http(&self) -> &reqwest::Client {
        self.http.get_or_init(|| {
            crate::aws::install_crypto_provider();
            reqwest::Client::builder()
                .timeout(REQUEST_TIMEOUT)
                .connect_timeout(CONNECT_TIMEOUT)
                // A redirect would re-send the signed body elsewhere; it is retried like a failure.
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(concat!(
                    "sr-assessment-connector-webhooks/",
                    env!("CARGO_PKG_VERSION")
                ))
                .build()
                .expect("a reqwest client with static settings always builds")
        })
    }

    pub async fn from_env() -> Result<Self, lambda_runtime::Error> {
        let config = Config::from_env()?;
        let settings = WebhookSettings::from_lookup(|name| std::env::var(name).ok())?;
        let aws = AwsClients::from_env().await;
        if settings.url.is_none() {
            tracing::info!("WEBHOOK_URL is empty: webhooks are off, events stay listable");
        }
        let window = std::env::var("WEBHOOK_ROTATION_WINDOW_SECONDS")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .map_or(DEFAULT_ROTATION_WINDOW, Duration::from_secs);
        Ok(Self::new(
            Store::new(aws.dynamodb, config.table_name),
            Secrets::new(aws.secrets, config.secret_prefix),
            aws.sqs,
            settings,
        )
        .with_rotation_window(window))
    }

    /// The Lambda handler: every record of the batch concurrently, failures reported as batch
    /// item failures with their visibility set to the backoff.
    pub async fn handle(
        &self,
        event: LambdaEvent<SqsEvent>,
    ) -> Result<SqsBatchResponse, lambda_runtime::Error> {
        let records = &event.payload.records;
        // A standard queue: no message groups, every message on its own.
        let groups = vec![None::<&str>; records.len()];
        let outcomes = sqs_batch::in_groups(&groups, |i| self.process(&records[i])).await;
        Ok(self.runner.respond(records, &outcomes).await)
    }

    /// One message: POST it, record a settled outcome on the event.
    pub async fn process(&self, message: &SqsMessage) -> Outcome {
        let body = message.body.as_deref().unwrap_or_default();
        let event: Event = match serde_json::from_str(body) {
            Ok(event) => event,
            Err(e) => {
                // Retried until the queue moves it to the DLQ, where an operator can look at it.
                tracing::error!(message_id = ?message.message_id, error = %e, "unreadable notification message");
                return Outcome::RETRY;
            }
        };
        let Some(url) = &self.settings.url else {
            tracing::debug!(event_id = %event.id, company_id = %event.company_id, "webhooks are off; event only listable");
            return Outcome::Done;
        };
        let attempt = receive_count(message);
        // Kombo-format events go out as Kombo sends them; the connector's as the event itself.
        let kombo_body = crate::kombo::webhooks::payload(&event);
        let body = kombo_body.as_deref().unwrap_or(body.as_bytes());
        let Posted {
            outcome,
            status_code,
            detail,
        } = self.post(url, &event, body).await;
        let settled = match outcome {
            Outcome::Done => Some(WebhookDelivery {
                state: if status_code.is_some_and(|s| (200..300).contains(&s)) {
                    WebhookState::Delivered
                } else {
                    WebhookState::Failed
                },
                at: Utc::now(),
                status_code,
                attempts: attempt,
                detail: None,
            }),
            Outcome::Retry { .. } if self.runner.is_last_receive(message) => {
                tracing::error!(event_id = %event.id, company_id = %event.company_id, attempt, detail = %detail, "webhook retries exhausted; the message goes to the dead-letter queue");
                Some(WebhookDelivery {
                    state: WebhookState::Failed,
                    at: Utc::now(),
                    status_code,
                    attempts: attempt,
                    detail: Some(format!("retries exhausted: {detail}")),
                })
            }
            Outcome::Retry { .. } => None,
        };
        if let Some(delivery) = settled {
            // Bookkeeping only: a failure here must not re-send a delivered webhook.
            if let Err(e) = self.store.record_webhook(&event, &delivery).await {
                tracing::warn!(event_id = %event.id, company_id = %event.company_id, error = %e, "could not record the webhook outcome");
            }
        }
        outcome
    }

    /// Signs and POSTs `body`; answers the outcome and the endpoint's status code.
    async fn post(&self, url: &Url, event: &Event, body: &[u8]) -> Posted {
        let keys = match self.signing_keys(false).await {
            Ok(keys) => keys,
            Err(e) => {
                tracing::warn!(event_id = %event.id, company_id = %event.company_id, error = %e, "could not read the webhook signing secret; will retry");
                // Recorded on the event the vendor lists: the AWS error stays in the log.
                let detail = "the signing secret could not be read".to_string();
                return retry(None, None, detail);
            }
        };
        let timestamp = Utc::now().timestamp();
        let mut request = self
            .http()
            .post(url.clone())
            .header(CONTENT_TYPE, "application/json");
        for (name, value) in
            signature_headers(&keys.secrets(), &event.id, &event.kind, body, timestamp)
        {
            request = request.header(name, value);
        }
        let sent = request.body(body.to_vec()).send().await;
        let response = match sent {
            Ok(response) => response,
            Err(e) => {
                let detail = if e.is_timeout() {
                    "the webhook endpoint timed out"
                } else {
                    "the webhook endpoint could not be reached"
                };
                // The transport error is logged (without the URL: it may carry a token of the
                // vendor's in its query); the detail recorded on the event is a fixed text.
                tracing::warn!(event_id = %event.id, company_id = %event.company_id, detail, error = %aws_smithy_types::error::display::DisplayErrorContext(e.without_url()), "webhook not delivered; will retry");
                return retry(None, None, detail.to_string());
            }
        };
        let status = response.status().as_u16();
        let mut class = classify_status(status);
        if matches!(status, 401 | 403) {
            // The vendor may verify with a secret rotated since it was read: read it again, and
            // while a rotation window is open the next attempt signs with both.
            match self.signing_keys(true).await {
                Ok(fresh) if fresh.rotating => class = StatusClass::Retry,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(event_id = %event.id, error = %e, "could not re-read the webhook signing secret");
                    class = StatusClass::Retry;
                }
            }
        }
        match class {
            StatusClass::Delivered => {
                tracing::info!(event_id = %event.id, company_id = %event.company_id, kind = %event.kind, status, "webhook delivered");
                done(status)
            }
            StatusClass::Refused => {
                tracing::warn!(event_id = %event.id, company_id = %event.company_id, kind = %event.kind, status, "the webhook endpoint refused the event; not retried");
                done(status)
            }
            StatusClass::Retry => {
                let after = (status == 429)
                    .then(|| retry_after_seconds(response.headers().get(RETRY_AFTER)))
                    .flatten();
                tracing::warn!(event_id = %event.id, company_id = %event.company_id, kind = %event.kind, status, "webhook not delivered; will retry");
                retry(
                    after,
                    Some(status),
                    format!("the webhook endpoint answered {status}"),
                )
            }
        }
    }

    /// The signing secrets: from the container's cache unless `refresh` or it is older than
    /// [`SECRETS_KEPT_FOR`]. The previous version is read only while the current one is younger
    /// than the rotation window.
    async fn signing_keys(&self, refresh: bool) -> Result<SigningKeys, SecretError> {
        let mut cached = self.signing_keys.lock().await;
        if let Some(keys) = cached.as_ref() {
            if !refresh && keys.read_at.elapsed() < SECRETS_KEPT_FOR {
                return Ok(keys.clone());
            }
        }
        let id = &self.settings.signing_secret_id;
        let current = self
            .secrets
            .get_version(id, "AWSCURRENT")
            .await?
            .ok_or_else(|| SecretError::NotFound(id.clone()))?;
        let young = current.created_at.is_some_and(|at| {
            (Utc::now() - at)
                .to_std()
                .is_ok_and(|age| age < self.rotation_window)
        });
        let previous = if young {
            self.secrets
                .get_version(id, "AWSPREVIOUS")
                .await?
                .map(|v| v.value)
                .filter(|v| *v != current.value)
        } else {
            None
        };
        let keys = SigningKeys {
            current: current.value,
            rotating: previous.is_some(),
            previous,
            read_at: std::time::Instant::now(),
        };
        *cached = Some(keys.clone());
        Ok(keys)
    }
}

fn retry(after: Option<Duration>, status_code: Option<u16>, detail: String) -> Posted {
    Posted {
        outcome: Outcome::Retry { after },
        status_code,
        detail,
    }
}

/// Delivered, or refused for good: the message is done.
fn done(status: u16) -> Posted {
    Posted {
        outcome: Outcome::Done,
        status_code: Some(status),
        detail: String::new(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StatusClass {
    Delivered,
    /// The endpoint refused this event; sending it again cannot help.
    Refused,
    Retry,
}

/// 2xx delivered; 4xx other than 408 (timeout) and 429 (slow down) refused for good; the rest
/// (3xx, 408, 429, 5xx) retried.
fn classify_status(status: u16) -> StatusClass {
    match status {
        200..=299 => StatusClass::Delivered,
        408 | 429 => StatusClass::Retry,
        400..=499 => StatusClass::Refused,
        _ => StatusClass::Retry,
    }
}

/// `Retry-After` in seconds (an HTTP date is left to the backoff), capped at an hour.
fn retry_after_seconds(value: Option<&HeaderValue>) -> Option<Duration> {
    let secs: u64 = value?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(secs.min(3600)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fixed vector, also printed in README ("Vendor notifications") and checked there by the
    /// Python snippet's test: an independent HMAC implementation must agree.
    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        let signature = sign(b"whsec_test", 1_700_000_000, br#"{"id":"evt_1"}"#);
        assert_eq!(
            signature,
            "v1=c89214b5b5da833daed6f0b8c5bb6bd58cea9022bd80ccc78230f3942d632925"
        );
    }

    #[test]
    fn a_signature_verifies_and_tampering_fails() {
        let now = Utc::now();
        let ts = now.timestamp();
        let body = br#"{"id":"order.created:o1","type":"order.created"}"#;
        let header = sign(b"secret", ts, body);
        let window = Duration::from_secs(300);
        let check = |secret: &[u8], ts: &str, sig: &str, body: &[u8]| {
            verify(secret, ts, sig, body, now, window)
        };
        assert_eq!(check(b"secret", &ts.to_string(), &header, body), Ok(()));
        let tampered = br#"{"id":"order.created:o2","type":"order.created"}"#;
        assert_eq!(
            check(b"secret", &ts.to_string(), &header, tampered),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            check(b"other", &ts.to_string(), &header, body),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            check(b"secret", &(ts + 1).to_string(), &header, body),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            check(b"secret", &(ts - 301).to_string(), &header, body),
            Err(VerifyError::Stale)
        );
        assert_eq!(
            check(b"secret", "soon", &header, body),
            Err(VerifyError::Malformed(TIMESTAMP_HEADER))
        );
        // Extreme timestamps are stale, not an overflow.
        for extreme in [i64::MIN, i64::MAX] {
            assert_eq!(
                check(b"secret", &extreme.to_string(), &header, body),
                Err(VerifyError::Stale)
            );
        }
        assert_eq!(
            check(b"secret", &ts.to_string(), "v0=abc", body),
            Err(VerifyError::Malformed(SIGNATURE_HEADER))
        );
        // During a secret rotation several signatures may be sent; one match is enough.
        let both = format!("{}, {header}", sign(b"old", ts, body));
        assert_eq!(check(b"secret", &ts.to_string(), &both, body), Ok(()));
    }

    #[test]
    fn statuses_split_into_delivered_refused_and_retried() {
        assert_eq!(classify_status(200), StatusClass::Delivered);
        assert_eq!(classify_status(204), StatusClass::Delivered);
        for refused in [400, 401, 403, 404, 410, 422] {
            assert_eq!(classify_status(refused), StatusClass::Refused, "{refused}");
        }
        for retried in [301, 408, 429, 500, 502, 503] {
            assert_eq!(classify_status(retried), StatusClass::Retry, "{retried}");
        }
    }

    #[test]
    fn settings_require_https_unless_local() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let off = WebhookSettings::from_lookup(env(&[
            ("WEBHOOK_SIGNING_SECRET_ID", "arn:secret"),
            ("NOTIFICATIONS_QUEUE_URL", "https://sqs/q"),
            ("WEBHOOK_URL", ""),
        ]))
        .unwrap();
        assert_eq!(off.url, None);
        assert_eq!(off.max_receive_count, 10);
        assert!(WebhookSettings::from_lookup(env(&[
            ("WEBHOOK_SIGNING_SECRET_ID", "arn:secret"),
            ("NOTIFICATIONS_QUEUE_URL", "https://sqs/q"),
            ("WEBHOOK_URL", "http://vendor.example.com/hooks"),
        ]))
        .is_err());
        let local = WebhookSettings::from_lookup(env(&[
            ("WEBHOOK_SIGNING_SECRET_ID", "arn:secret"),
            ("NOTIFICATIONS_QUEUE_URL", "https://sqs/q"),
            ("WEBHOOK_URL", "http://127.0.0.1:8080/hooks"),
            ("ALLOW_INSECURE_WEBHOOK_URL", "true"),
        ]))
        .unwrap();
        assert_eq!(local.url.unwrap().as_str(), "http://127.0.0.1:8080/hooks");
        let missing =
            WebhookSettings::from_lookup(env(&[("WEBHOOK_SIGNING_SECRET_ID", "arn:secret")]))
                .unwrap_err();
        assert!(
            missing.to_string().contains("NOTIFICATIONS_QUEUE_URL"),
            "{missing}"
        );
    }

    #[test]
    fn retry_after_is_read_in_seconds_and_capped() {
        assert_eq!(
            retry_after_seconds(Some(&HeaderValue::from_static("7"))),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            retry_after_seconds(Some(&HeaderValue::from_static("99999"))),
            Some(Duration::from_secs(3600))
        );
        assert_eq!(
            retry_after_seconds(Some(&HeaderValue::from_static(
                "Wed, 21 Oct 2015 07:28:00 GMT"
            ))),
            None
        );
        assert_eq!(retry_after_seconds(None), None);
    }
}
