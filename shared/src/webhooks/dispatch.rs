//! The webhook dispatcher: each notification message POSTed, signed, to the vendor's URL; what
//! the endpoint's answer means (delivered, refused for good, retried) and the outcome recorded on
//! the event. Batches run through the one SQS batch runner (`crate::sqs_batch`).

use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::Utc;
use lambda_runtime::LambdaEvent;
use reqwest::header::{HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use url::Url;

use super::body::EventBody;
use super::settings::WebhookSettings;
use super::signing::{signature_headers, SigningKeys};
use crate::aws::LazyAwsClients;
use crate::config::Config;
use crate::secrets::{SecretError, Secrets};
use crate::sqs_batch::{self, receive_count, Outcome, SqsBatchRunner};
use crate::store::{Store, WebhookDelivery, WebhookState};

const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a rotated secret is signed with next to the new one, by default.
pub const DEFAULT_ROTATION_WINDOW: Duration = Duration::from_secs(24 * 3600);
/// A warm dispatcher re-reads the signing secrets this often (and whenever a request is refused).
const SECRETS_KEPT_FOR: Duration = Duration::from_secs(300);

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
        sqs: impl Into<crate::aws::LazyClient<aws_sdk_sqs::Client>>,
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
        let aws = LazyAwsClients::from_env().await;
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
        let event: EventBody = match serde_json::from_str(body) {
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
        // Messages are references (`notifications`): the body's data is the stored event's,
        // read now from its id marker (written before the message was queued; the listed
        // event may follow a moment later), so an erasure since queueing is honoured. Messages
        // queued before that carry their data, which is ignored for the same reason.
        let stored = match self
            .store
            .get_recorded_event(&event.integration_id, &event.id)
            .await
        {
            Ok(Some(stored))
                if stored.data.get("erased") == Some(&serde_json::Value::Bool(true)) =>
            {
                tracing::info!(event_id = %event.id, company_id = %event.company_id, "the event's personal data was erased; webhook not sent");
                return Outcome::Done;
            }
            Ok(Some(stored)) => stored,
            Ok(None) => {
                tracing::warn!(event_id = %event.id, company_id = %event.company_id, "queued event is not stored (expired?); webhook not sent");
                return Outcome::Done;
            }
            Err(e) => {
                tracing::warn!(event_id = %event.id, company_id = %event.company_id, error = %e, "could not read the queued event; will retry");
                return Outcome::RETRY;
            }
        };
        let event = EventBody::from(&stored);
        let attempt = receive_count(message);
        // Kombo-format events go out as Kombo sends them; the connector's as their own body.
        let body = crate::kombo::webhooks::payload(&event.id, &event.kind, &event.data)
            .unwrap_or_else(|| event.to_json().into_bytes());
        let Posted {
            outcome,
            status_code,
            detail,
        } = self.post(url, &event, &body).await;
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
            if let Err(e) = self.store.record_webhook(&stored, &delivery).await {
                tracing::warn!(event_id = %event.id, company_id = %event.company_id, error = %e, "could not record the webhook outcome");
            }
        }
        outcome
    }

    /// Signs and POSTs `body`; answers the outcome and the endpoint's status code.
    async fn post(&self, url: &Url, event: &EventBody, body: &[u8]) -> Posted {
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
        let keys = SigningKeys::read(
            &self.secrets,
            &self.settings.signing_secret_id,
            self.rotation_window,
        )
        .await?;
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
