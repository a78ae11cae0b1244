//! Events the vendor can poll (`GET /assessment/events`) and receives as webhooks: orders,
//! enrichment, delivery failures, companies connected or disabled (see `notifications`).
//!
//! [`EventRecord`] is the DynamoDB item, and only that: the vendor API lists events as
//! `api::vendor::views::EventView` and the webhook dispatcher POSTs `webhooks::EventBody`, each
//! converted from the record, so the table's attributes can change without changing either
//! contract (and the other way round).

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{from_item, key_of, keys, to_item, to_value, Store, StoreError};

/// An event as stored: the listed item (`EVENT#{at}#{id}` under the integration), also inside
/// its id marker. Attributes `id`, `type`, `integration_id`, `company_id`, `at` (RFC 3339),
/// `data` (the kind's JSON) and, once settled, `webhook`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    /// Unique per integration; deterministic for events a retried worker may repeat.
    pub id: String,
    /// `notifications::EventKind::as_str`, or one of Kombo's two kinds.
    #[serde(rename = "type")]
    pub kind: String,
    pub integration_id: String,
    pub company_id: String,
    /// When the event was first emitted (a repeat keeps the first time).
    pub at: DateTime<Utc>,
    #[serde(default)]
    pub data: serde_json::Value,
    /// What became of the event's webhook, once it is settled (delivered, or failed for good).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<WebhookDelivery>,
}

/// Where an event's webhook ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WebhookState {
    Delivered,
    /// Refused with a 4xx (other than 408/429), or retries exhausted (the message went to the
    /// notifications dead-letter queue).
    Failed,
}

/// The settled outcome of an event's webhook, recorded on the event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookDelivery {
    pub state: WebhookState,
    pub at: DateTime<Utc>,
    /// The endpoint's HTTP status; `None` when it could not be reached.
    pub status_code: Option<u16>,
    /// Which receive of the queue message this was (1 = first try).
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// An event as [`Store::record_event_once`] found or made it.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedEvent {
    /// The stored event: on a repeat, the first emission's (same id, same time).
    pub event: EventRecord,
    /// Whether it is listed already, which [`Store::list_event`] does last, after queueing its
    /// webhook: a listed event was queued (or is not sent at all).
    pub listed: bool,
}

/// The id marker of an event (see [`keys::event_id`]).
#[derive(Serialize, Deserialize)]
struct EventMarker {
    event: EventRecord,
    /// Written by the emissions before listing came last (one more write per event): whether
    /// the webhook was queued. Those listed the event first, so `Some(false)` is an event
    /// listed but perhaps never queued: a repeat queues it unless its webhook settled.
    #[serde(default, skip_serializing)]
    enqueued: Option<bool>,
    /// Put by an erasure for an id its order could still emit but had not
    /// ([`Store::put_erased_marker`]): an emission that comes later records, queues and lists
    /// nothing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    erased_before_recorded: bool,
}

/// A position in an integration's event list: the `cursor` of a page (the sort key of its
/// last event), decoded and checked ([`EventCursor::decode`]) before it reaches a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventCursor(String);

impl EventCursor {
    /// `None` for a cursor no event list made.
    pub fn decode(cursor: &str) -> Option<Self> {
        URL_SAFE_NO_PAD
            .decode(cursor)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            // `EVENT#{time}#{id}` is about 200 bytes at most; a longer forged one would exceed
            // DynamoDB's sort-key size and fail the query as a 503.
            .filter(|sk| sk.starts_with("EVENT#") && sk.len() <= 512)
            .map(Self)
    }
}

#[derive(Debug)]
pub struct EventPage {
    pub events: Vec<EventRecord>,
    pub next: Option<String>,
}

impl Store {
    pub async fn put_event(&self, event: &EventRecord) -> Result<(), StoreError> {
        let mut item = to_item(
            event,
            keys::event(&event.integration_id, event.at, &event.id),
        );
        self.retention.stamp(&mut item, event.at);
        self.db
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(StoreError::service)?;
        Ok(())
    }

    /// Records `event` once per event id: a conditional put of its id marker, which holds the
    /// event (what the webhook dispatcher reads). Emitting the same id again (a retried
    /// worker) answers the first emission, with whether it is listed yet; the caller queues
    /// its webhook unless it is, then lists it ([`Self::list_event`]). So the event is listed
    /// once, and its webhook queued once unless a worker stopped between the two.
    pub async fn record_event_once(
        &self,
        event: &EventRecord,
    ) -> Result<RecordedEvent, StoreError> {
        let put = self.put_marker(event, false).await;
        let e = match put {
            Ok(_) => {
                return Ok(RecordedEvent {
                    event: event.clone(),
                    listed: false,
                })
            }
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => e,
            Err(e) => return Err(StoreError::service(e)),
        };
        let old = match e.as_service_error() {
            Some(PutItemError::ConditionalCheckFailedException(c)) => c.item.clone(),
            _ => None,
        };
        let old = match old {
            Some(item) => item,
            // Not every DynamoDB implementation returns the old item: read it.
            None => self
                .get_item(keys::event_id(&event.integration_id, &event.id), true)
                .await?
                .ok_or(StoreError::Conflict)?,
        };
        let marker: EventMarker = from_item(old)?;
        let first = marker.event;
        if marker.erased_before_recorded {
            // Its order was erased before this emission: nothing of it is sent or listed.
            return Ok(RecordedEvent {
                event: first,
                listed: true,
            });
        }
        let listed = match marker.enqueued {
            Some(true) => true,
            Some(false) => self
                .get_event(&first.integration_id, first.at, &first.id)
                .await?
                .is_some_and(|listed| listed.webhook.is_some()),
            None => self
                .get_event(&first.integration_id, first.at, &first.id)
                .await?
                .is_some(),
        };
        Ok(RecordedEvent {
            event: first,
            listed,
        })
    }

    /// Lists a recorded event (`GET /assessment/events`): a put conditional on its absence, so
    /// a repeat never overwrites the webhook outcome recorded on it.
    pub async fn list_event(&self, event: &EventRecord) -> Result<(), StoreError> {
        self.list_event_written(event).await.map(|_| ())
    }

    /// [`Self::list_event`], answering whether it wrote (false: it was listed already).
    pub(super) async fn list_event_written(&self, event: &EventRecord) -> Result<bool, StoreError> {
        let listed = self
            .db
            .put_item()
            .table_name(&self.table)
            .set_item(Some(self.stamped(
                to_item(
                    event,
                    keys::event(&event.integration_id, event.at, &event.id),
                ),
                event.at,
            )))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        super::written(listed)
    }

    /// The event `event_id` of `integration_id` as its id marker holds it: recorded before its
    /// webhook was queued, so the dispatcher finds it even before it is listed.
    pub async fn get_recorded_event(
        &self,
        integration_id: &str,
        event_id: &str,
    ) -> Result<Option<EventRecord>, StoreError> {
        Ok(self
            .get::<EventMarker>(keys::event_id(integration_id, event_id), true)
            .await?
            .map(|marker| marker.event))
    }

    /// Puts an erased id marker for `event` (its `data` already erased) unless the id is
    /// recorded: an erasure's stand-in for an event its order had not emitted yet (a delivery
    /// refused just before the erasure whose `delivery.failed` comes after it), so the
    /// emission that comes later finds it and records nothing. Whether it was put (false: the
    /// id was recorded meanwhile).
    pub(super) async fn put_erased_marker(&self, event: &EventRecord) -> Result<bool, StoreError> {
        match self.put_marker(event, true).await {
            Ok(_) => Ok(true),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => Ok(false),
            Err(e) => Err(StoreError::service(e)),
        }
    }

    /// Puts `event`'s id marker unless the id is recorded (the recorded one is answered on a
    /// refusal, `ALL_OLD`).
    async fn put_marker(
        &self,
        event: &EventRecord,
        erased_before_recorded: bool,
    ) -> Result<
        aws_sdk_dynamodb::operation::put_item::PutItemOutput,
        aws_sdk_dynamodb::error::SdkError<PutItemError>,
    > {
        let marker = EventMarker {
            event: event.clone(),
            enqueued: None,
            erased_before_recorded,
        };
        self.db
            .put_item()
            .table_name(&self.table)
            .set_item(Some(self.stamped(
                to_item(&marker, keys::event_id(&event.integration_id, &event.id)),
                event.at,
            )))
            .condition_expression("attribute_not_exists(pk)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await
    }

    /// The event its id marker holds, and whether the marker is an erasure's stand-in
    /// ([`Self::put_erased_marker`]).
    pub(super) async fn get_marker(
        &self,
        integration_id: &str,
        event_id: &str,
    ) -> Result<Option<(EventRecord, bool)>, StoreError> {
        Ok(self
            .get::<EventMarker>(keys::event_id(integration_id, event_id), true)
            .await?
            .map(|marker| (marker.event, marker.erased_before_recorded)))
    }

    /// `item` with the expiry of personal data written `at` (events may repeat an order's).
    fn stamped(&self, mut item: super::Item, at: DateTime<Utc>) -> super::Item {
        self.retention.stamp(&mut item, at);
        item
    }

    /// The listed event `event_id` of `integration_id`, emitted `at`.
    pub async fn get_event(
        &self,
        integration_id: &str,
        at: DateTime<Utc>,
        event_id: &str,
    ) -> Result<Option<EventRecord>, StoreError> {
        self.get(keys::event(integration_id, at, event_id), true)
            .await
    }

    /// Records the settled webhook outcome on the listed `event`. An event is listed after its
    /// message is queued, so a fast endpoint may settle first: the event (as its id marker
    /// holds it, which the dispatcher read) is then listed here, with its outcome, and the
    /// emitter's own listing ([`Self::list_event`], conditional) finds it done.
    pub async fn record_webhook(
        &self,
        event: &EventRecord,
        delivery: &WebhookDelivery,
    ) -> Result<(), StoreError> {
        let key = keys::event(&event.integration_id, event.at, &event.id);
        for _ in 0..2 {
            let updated = self
                .db
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key_of(key.clone())))
                .update_expression("SET webhook = :delivery")
                .condition_expression("attribute_exists(pk)")
                .expression_attribute_values(":delivery", to_value(delivery))
                .send()
                .await;
            if super::written(updated)? {
                return Ok(());
            }
            let listed = EventRecord {
                webhook: Some(delivery.clone()),
                ..event.clone()
            };
            let put = self
                .db
                .put_item()
                .table_name(&self.table)
                .set_item(Some(self.stamped(to_item(&listed, key.clone()), event.at)))
                .condition_expression("attribute_not_exists(pk)")
                .send()
                .await;
            // Not written: the emitter listed it meanwhile; the update then holds.
            if super::written(put)? {
                return Ok(());
            }
        }
        Err(StoreError::Conflict)
    }

    /// Oldest first; the cursor is the sort key of the last event returned.
    pub async fn list_events(
        &self,
        integration_id: &str,
        cursor: Option<&EventCursor>,
        page_size: usize,
    ) -> Result<EventPage, StoreError> {
        let (pk, _) = keys::event(integration_id, Utc::now(), "");
        let after = cursor.map(|c| &c.0);
        let mut query = self
            .db
            .query()
            .table_name(&self.table)
            .expression_attribute_values(":pk", AttributeValue::S(pk))
            .limit(page_size as i32);
        query = match after {
            Some(sk) => query
                .key_condition_expression("pk = :pk AND sk > :after")
                .expression_attribute_values(":after", AttributeValue::S(sk.clone())),
            None => query
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":prefix", AttributeValue::S("EVENT#".into())),
        };
        let output = query.send().await.map_err(StoreError::service)?;
        let items = output.items.unwrap_or_default();
        let last_sk = items
            .last()
            .and_then(|i| i.get(keys::SK))
            .and_then(|v| v.as_s().ok())
            .cloned();
        let events = items
            .into_iter()
            .map(from_item)
            .collect::<Result<Vec<EventRecord>, _>>()?;
        let next = match (output.last_evaluated_key, last_sk) {
            (Some(_), Some(sk)) => Some(URL_SAFE_NO_PAD.encode(sk)),
            _ => None,
        };
        Ok(EventPage { events, next })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_cursor_is_an_event_sort_key_and_nothing_else() {
        let sort_key = "EVENT#2026-01-01T00:00:00Z#e1";
        let cursor = URL_SAFE_NO_PAD.encode(sort_key);
        assert_eq!(
            EventCursor::decode(&cursor),
            Some(EventCursor(sort_key.into()))
        );
        assert_eq!(EventCursor::decode("not base64!"), None);
        assert_eq!(
            EventCursor::decode(&URL_SAFE_NO_PAD.encode("ORDER#o1")),
            None
        );
        let long = format!("EVENT#{}", "x".repeat(600));
        assert_eq!(EventCursor::decode(&URL_SAFE_NO_PAD.encode(long)), None);
    }
}
