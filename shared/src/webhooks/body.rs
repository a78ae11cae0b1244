//! The connector-format webhook body, which is also the notifications queue's message: what the
//! vendor's endpoint receives for the connector's own events (Kombo's kinds go out as Kombo's
//! `{id, type, data}`, `crate::kombo::webhooks::payload`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::store::EventRecord;

/// `{id, type, integration_id, company_id, at, data}`, in that order (openapi.yaml's
/// `connectorEvent` webhook; the signature covers these bytes). Unlike the listed event it never
/// carries the webhook's own outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventBody {
    /// The event's id; receivers dedupe on it (`X-Connector-Event-Id` is an unsigned copy).
    pub id: String,
    /// The event kind (`order.created`, …, or one of Kombo's two).
    #[serde(rename = "type")]
    pub kind: String,
    pub integration_id: String,
    pub company_id: String,
    /// When the event was emitted (RFC 3339, UTC).
    pub at: DateTime<Utc>,
    #[serde(default)]
    pub data: serde_json::Value,
}

impl From<&EventRecord> for EventBody {
    fn from(event: &EventRecord) -> Self {
        Self {
            id: event.id.clone(),
            kind: event.kind.clone(),
            integration_id: event.integration_id.clone(),
            company_id: event.company_id.clone(),
            at: event.at,
            data: event.data.clone(),
        }
    }
}

impl EventBody {
    /// The JSON bytes POSTed (and signed) for a connector event, and queued for every event.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("event bodies serialize")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{WebhookDelivery, WebhookState};
    use serde_json::json;

    #[test]
    fn the_body_is_the_event_without_its_webhook_outcome_in_a_fixed_order() {
        let at = "2026-01-02T03:04:05.678Z".parse().unwrap();
        let record = EventRecord {
            id: "order.created:o1".into(),
            kind: "order.created".into(),
            integration_id: "acme-org".into(),
            company_id: "acme".into(),
            at,
            data: json!({"order_id": "o1", "candidate_id": "c1"}),
            webhook: Some(WebhookDelivery {
                state: WebhookState::Delivered,
                at,
                status_code: Some(200),
                attempts: 1,
                detail: None,
            }),
        };
        let body = EventBody::from(&record);
        assert_eq!(
            body.to_json(),
            r#"{"id":"order.created:o1","type":"order.created","integration_id":"acme-org","company_id":"acme","at":"2026-01-02T03:04:05.678Z","data":{"candidate_id":"c1","order_id":"o1"}}"#
        );
        let read: EventBody = serde_json::from_str(&body.to_json()).unwrap();
        assert_eq!(read, body);
    }
}
