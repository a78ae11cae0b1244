//! The dispatcher's settings from its environment: where webhooks go (`WEBHOOK_URL`, https
//! only outside local stacks), the signing secret, the notifications queue and its retries.

use url::Url;

use crate::backoff::Backoff;
use crate::config::ConfigError;

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
/// stacks only). Also where create-inline-order asks the vendor for assessment URLs.
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
