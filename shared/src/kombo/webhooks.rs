//! Kombo-format webhooks: `assessment:order-received` and `inline-assessment:order-received`,
//! body `{id, type, data}` with `data` the order in Kombo's shape ([`AssessmentOrder`]), signed
//! in `X-Kombo-Signature`.
//!
//! Which webhooks go out is the stack's `WebhookFormat` (`WEBHOOK_FORMAT`): the connector's own
//! events (`notifications`), Kombo's, or both. Kombo events are recorded and listed like
//! the connector's (`GET /assessment/events`) and dispatched by the same webhook dispatcher and
//! queue; the dispatcher sends their body as Kombo does and adds `X-Kombo-Signature` to the
//! connector's own signature headers.
//!
//! The signature: `X-Kombo-Signature: base64url(HMAC-SHA256(secret, raw body))`, unpadded, as
//! Kombo's webhook documentation ("Validate the data") specifies it. It signs no timestamp, so
//! it cannot tell a replay; the connector's `X-Connector-Timestamp`/`X-Connector-Signature`,
//! sent alongside, can.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::orders::AssessmentOrder;
use crate::orders::{InlineUrlSource, Order};
use crate::store::EventRecord;

pub const ORDER_RECEIVED: &str = "assessment:order-received";
pub const INLINE_ORDER_RECEIVED: &str = "inline-assessment:order-received";
pub const SIGNATURE_HEADER: &str = "X-Kombo-Signature";

type HmacSha256 = Hmac<Sha256>;

/// Which webhooks the stack sends (`WEBHOOK_FORMAT`: `connector`, `kombo` or `both`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum WebhookFormat {
    /// The connector's events (`order.created`, `delivery.failed`, …), the default.
    #[default]
    Connector,
    /// Kombo's two order events only; the connector's stay listable but are not POSTed.
    Kombo,
    Both,
}

impl WebhookFormat {
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "" | "connector" => Some(Self::Connector),
            "kombo" => Some(Self::Kombo),
            "both" => Some(Self::Both),
            _ => None,
        }
    }

    /// `WEBHOOK_FORMAT` of the environment; an unknown value is logged and means `connector`
    /// (the template only allows the three values).
    pub fn from_env() -> Self {
        let raw = std::env::var("WEBHOOK_FORMAT").unwrap_or_default();
        Self::parse(&raw).unwrap_or_else(|| {
            tracing::error!(
                value = %raw,
                "WEBHOOK_FORMAT must be connector, kombo or both; using connector"
            );
            Self::Connector
        })
    }

    pub fn sends_connector_events(self) -> bool {
        matches!(self, Self::Connector | Self::Both)
    }

    pub fn sends_kombo_events(self) -> bool {
        matches!(self, Self::Kombo | Self::Both)
    }

    /// Whether an event of `kind` is POSTed in this format.
    pub fn sends(self, kind: &str) -> bool {
        if is_kombo_event(kind) {
            self.sends_kombo_events()
        } else {
            self.sends_connector_events()
        }
    }
}

pub fn is_kombo_event(kind: &str) -> bool {
    kind == ORDER_RECEIVED || kind == INLINE_ORDER_RECEIVED
}

/// `base64url(HMAC-SHA256(secret, body))`, without padding.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(body);
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// Checks `X-Kombo-Signature` over the raw body, in constant time (`hmac`'s `verify_slice`).
/// Padded base64url is accepted too.
pub fn verify(secret: &[u8], header: &str, body: &[u8]) -> bool {
    let Ok(signature) = URL_SAFE_NO_PAD.decode(header.trim().trim_end_matches('=')) else {
        return false;
    };
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(body);
    mac.verify_slice(&signature).is_ok()
}

/// Kombo's event type for `order`.
pub fn event_type(order: &Order) -> &'static str {
    if order.inline.is_some() {
        INLINE_ORDER_RECEIVED
    } else {
        ORDER_RECEIVED
    }
}

/// The id of `order`'s Kombo event: derived from the order, so a repeat is recorded once and
/// receivers can dedupe on it.
pub fn event_id(order: &Order) -> String {
    format!("{}:{}", event_type(order), order.order_id)
}

/// The body Kombo sends: `{id, type, data}`.
pub fn body(id: &str, kind: &str, data: &serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({"id": id, "type": kind, "data": data}))
        .expect("JSON values serialize")
}

/// The recorded event for `order` (data: the order in Kombo's shape), or `None` for an inline
/// order whose URL the vendor answered synchronously: that call already was its
/// `inline-assessment:order-received` (see [`super::inline`]), and Kombo sends it once.
pub fn order_received_event(order: &Order, now: DateTime<Utc>) -> Option<EventRecord> {
    if order
        .inline
        .as_ref()
        .is_some_and(|i| i.url_source == InlineUrlSource::Vendor)
    {
        return None;
    }
    Some(EventRecord {
        id: event_id(order),
        kind: event_type(order).to_string(),
        integration_id: order.integration_id.clone(),
        company_id: order.company_id.clone(),
        at: now,
        data: serde_json::to_value(AssessmentOrder::of(order)).expect("views serialize"),
        webhook: None,
    })
}

/// The webhook body of event `id` of `kind`: Kombo's `{id, type, data}` for Kombo events,
/// `None` for the connector's own (sent as the webhooks module's `EventBody`).
pub fn payload(id: &str, kind: &str, data: &serde_json::Value) -> Option<Vec<u8>> {
    is_kombo_event(kind).then(|| body(id, kind, data))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A fixed vector (README "Webhooks" prints it; its Python snippet's test
    /// checks it with an independent HMAC implementation).
    #[test]
    fn the_signature_is_base64url_hmac_sha256_of_the_body() {
        let body = br#"{"id":"evt_1"}"#;
        let signature = sign(b"whsec_test", body);
        assert_eq!(signature, "Aw-jskE9GZPFUTZL1Tu5s-21wMNNVdumraYEEkVjKBE");
        assert!(verify(b"whsec_test", &signature, body));
        assert!(verify(b"whsec_test", &format!("{signature}="), body));
        assert!(!verify(b"whsec_test", &signature, br#"{"id":"evt_2"}"#));
        assert!(!verify(b"other", &signature, body));
        assert!(!verify(b"whsec_test", "not base64!", body));
    }

    #[test]
    fn formats_choose_which_events_are_posted() {
        assert_eq!(WebhookFormat::parse("Kombo"), Some(WebhookFormat::Kombo));
        assert_eq!(WebhookFormat::parse(""), Some(WebhookFormat::Connector));
        assert_eq!(WebhookFormat::parse("xml"), None);
        assert!(WebhookFormat::Connector.sends("order.created"));
        assert!(!WebhookFormat::Connector.sends(ORDER_RECEIVED));
        assert!(!WebhookFormat::Kombo.sends("company.connected"));
        assert!(WebhookFormat::Kombo.sends(INLINE_ORDER_RECEIVED));
        assert!(WebhookFormat::Both.sends(ORDER_RECEIVED) && WebhookFormat::Both.sends("x"));
    }

    fn order(inline: Option<serde_json::Value>) -> Order {
        let email = json!({"id": "c1", "firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com"});
        let mut extra = json!({"candidate": email});
        if let Some(inline) = inline {
            extra["inline"] = inline;
        }
        crate::orders::test_support::order(extra)
    }

    #[test]
    fn an_order_becomes_kombos_event_with_a_stable_id() {
        let now = Utc::now();
        let event = order_received_event(&order(None), now).unwrap();
        assert_eq!(event.id, "assessment:order-received:o1");
        assert_eq!(event.kind, ORDER_RECEIVED);
        assert_eq!(event.data["candidate"]["email"], "ada@example.com");
        let sent: serde_json::Value =
            serde_json::from_slice(&payload(&event.id, &event.kind, &event.data).unwrap()).unwrap();
        assert_eq!(
            sent.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["data", "id", "type"]
        );
        assert_eq!(sent["type"], ORDER_RECEIVED);
        assert_eq!(sent["data"]["integration_id"], "acme-org");

        let inline = json!({"assessment_url": "https://v/o1", "completed_assessment_callback_url": "https://sr/back",
                            "application_language": "en"});
        let templated = order_received_event(&order(Some(inline.clone())), now).unwrap();
        assert_eq!(templated.kind, INLINE_ORDER_RECEIVED);
        let mut asked = inline;
        asked["url_source"] = json!("VENDOR");
        assert!(order_received_event(&order(Some(asked)), now).is_none());
    }

    #[test]
    fn connector_events_keep_their_own_body() {
        let event = order_received_event(&order(None), Utc::now()).unwrap();
        assert!(payload(&event.id, "order.created", &event.data).is_none());
    }
}
