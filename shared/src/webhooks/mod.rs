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
//! jitter (the batch runner, `crate::sqs_batch`, changes the message's visibility), 429 after its
//! `Retry-After`.
//! After the queue's `maxReceiveCount` receives, SQS moves the message to the notifications
//! dead-letter queue and the event is recorded as failed.

mod body;
mod dispatch;
mod settings;
mod signing;

pub use body::EventBody;
pub use dispatch::{WebhookDispatcher, DEFAULT_ROTATION_WINDOW};
pub use settings::{webhook_url, WebhookConfigError, WebhookSettings};
pub use signing::{
    sign, signature_headers, verify, VerifyError, EVENT_ID_HEADER, SIGNATURE_HEADER,
    SIGNATURE_VERSION, TIMESTAMP_HEADER,
};

/// The outcome of one notification message (the one outcome of every queue consumer,
/// `crate::sqs_batch`).
pub use crate::sqs_batch::Outcome;
