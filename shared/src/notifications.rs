//! Vendor notifications: every event the vendor should learn of is recorded (listable through
//! `GET /assessment/events`) and put on the notifications queue, from which the webhook
//! dispatcher (`crate::webhooks`) POSTs it, signed, to the vendor's URL.
//!
//! Events that a retried worker could produce twice carry a deterministic id
//! (`order.created:{orderId}`, `order.enriched:{orderId}`, `delivery.failed:{orderId}:{version}`),
//! and [`Store::record_event_once`] records each id once, in its id marker (which the webhook
//! dispatcher reads). The event is listed last, after its webhook is queued, so being listed
//! says it was queued: a worker that stopped between recording and listing queues it on its
//! retry, and one that listed it does not queue it again. Delivery is still at least once (a
//! stop between `SendMessage` and the listing, SQS itself): receivers dedupe on
//! `X-Connector-Event-Id`.
//!
//! Per new event: PutItem (id marker) + SendMessage + PutItem (listed event), two write units
//! for an event under 1 KB. A repeat costs one PutItem and one GetItem when the first emission
//! was listed.
//!
//! The stack's webhook format (`WEBHOOK_FORMAT`, `crate::kombo::webhooks::WebhookFormat`) decides
//! which events are queued: the connector's own, Kombo's `assessment:order-received` /
//! `inline-assessment:order-received` (recorded only in those formats), or both. Events of a
//! format not sent are still recorded and listable.

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::aws::LazyClient;
use crate::kombo::webhooks::{order_received_event, WebhookFormat};
use crate::orders::enrichment::OrderEnrichment;
use crate::orders::Order;
use crate::store::{ConnectedBy, EventRecord, Store, StoreError};
use crate::webhooks::EventBody;

/// The connector's own event kinds: the `type` of an event in `GET /assessment/events` and of
/// its webhook (Kombo's two kinds are `crate::kombo::webhooks`'). Stored and sent as
/// [`EventKind::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// `order.created`: an order was stored (sent once the enrichment worker picks it up).
    OrderCreated,
    /// `inline_order.created`: an inline order was stored, with its assessment URL.
    InlineOrderCreated,
    /// `order.enriched`: SR's candidate, job and hiring team were fetched and stored.
    OrderEnriched,
    /// `delivery.failed`: a result version will not reach SR.
    DeliveryFailed,
    /// `company.connected`: SR's credential exchange completed for a company.
    CompanyConnected,
    /// `company.disabled`: SR or an operator disabled the company's integration.
    CompanyDisabled,
    /// `candidate.erased`: a candidate's (or one order's) personal data was erased; the vendor
    /// erases its own copy. Carries order ids only, so it is no copy itself.
    CandidateErased,
}

impl EventKind {
    pub const ALL: [EventKind; 7] = [
        Self::OrderCreated,
        Self::InlineOrderCreated,
        Self::OrderEnriched,
        Self::DeliveryFailed,
        Self::CompanyConnected,
        Self::CompanyDisabled,
        Self::CandidateErased,
    ];

    /// The kind's name on the wire and in DynamoDB.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::OrderCreated => "order.created",
            Self::InlineOrderCreated => "inline_order.created",
            Self::OrderEnriched => "order.enriched",
            Self::DeliveryFailed => "delivery.failed",
            Self::CompanyConnected => "company.connected",
            Self::CompanyDisabled => "company.disabled",
            Self::CandidateErased => "candidate.erased",
        }
    }

    /// The kind named `name`; `None` for Kombo's kinds and unknown names.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the notifications queue is unavailable: {0}")]
    Queue(String),
}

/// Records events and queues them for the webhook dispatcher.
#[derive(Clone, Debug)]
pub struct Notifications {
    store: Store,
    /// `None`: events are recorded (and listable) but not pushed. Only tools without the queue's
    /// URL (an old local env file) run like this; every deployed function has it.
    queue: Option<(LazyClient<aws_sdk_sqs::Client>, String)>,
    format: WebhookFormat,
}

impl Notifications {
    /// Queues events in the stack's format (`WEBHOOK_FORMAT` of the environment).
    pub fn new(
        store: Store,
        sqs: impl Into<LazyClient<aws_sdk_sqs::Client>>,
        queue_url: Option<String>,
    ) -> Self {
        if queue_url.is_none() {
            tracing::warn!(
                "NOTIFICATIONS_QUEUE_URL is not set: events are recorded, webhooks are not sent"
            );
        }
        Self {
            store,
            queue: queue_url.map(|url| (sqs.into(), url)),
            format: WebhookFormat::from_env(),
        }
    }

    /// The table events are recorded in.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Records events without queueing them.
    pub fn record_only(store: Store) -> Self {
        Self {
            store,
            queue: None,
            format: WebhookFormat::Connector,
        }
    }

    /// Sends webhooks in `format` rather than the environment's.
    pub fn with_format(mut self, format: WebhookFormat) -> Self {
        self.format = format;
        self
    }

    /// Records `event` once per id, queues its webhook unless that was done already, and lists
    /// it. Answers the stored event (on a repeat, the first emission's).
    pub async fn emit(&self, event: EventRecord) -> Result<EventRecord, NotifyError> {
        let recorded = self.store.record_event_once(&event).await?;
        if !recorded.listed {
            self.queue(&recorded.event).await?;
            self.store.list_event(&recorded.event).await?;
        }
        Ok(recorded.event)
    }

    /// Like [`Self::emit`] for events whose recording is what matters and whose caller cannot
    /// usefully retry (a company connected or disabled: repeating the action emits nothing new).
    /// A queue failure is logged and the event is listed all the same: the one case of a listed
    /// event that was not queued, harmless as these events carry random ids and never repeat.
    pub async fn emit_recorded(&self, event: EventRecord) -> Result<EventRecord, StoreError> {
        let recorded = self.store.record_event_once(&event).await?;
        if recorded.listed {
            return Ok(recorded.event);
        }
        if let Err(NotifyError::Queue(detail)) = self.queue(&recorded.event).await {
            tracing::error!(event_id = %event.id, kind = %event.kind, company_id = %event.company_id, detail, "event recorded but its webhook could not be queued");
        }
        self.store.list_event(&recorded.event).await?;
        Ok(recorded.event)
    }

    /// Queues the webhook of a recorded event, when the stack sends its kind.
    async fn queue(&self, event: &EventRecord) -> Result<(), NotifyError> {
        let Some((sqs, url)) = self
            .queue
            .as_ref()
            .filter(|_| self.format.sends(&event.kind))
        else {
            return Ok(());
        };
        // The message is a reference: the connector-format body without its `data`, which the
        // dispatcher reads from the table at send time. A queued message then holds no personal
        // data, and an erasure (`privacy`) reaches webhooks still waiting.
        let body = EventBody {
            data: serde_json::Value::Null,
            ..EventBody::from(event)
        }
        .to_json();
        sqs.send_message()
            .queue_url(url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| {
                NotifyError::Queue(
                    aws_smithy_types::error::display::DisplayErrorContext(&e).to_string(),
                )
            })?;
        tracing::info!(event_id = %event.id, kind = %event.kind, company_id = %event.company_id, integration_id = %event.integration_id, "event queued for the vendor");
        Ok(())
    }

    /// `order.created` or `inline_order.created`, emitted by the enrichment worker once the order
    /// is stored (not by create-order, which stays at few AWS calls).
    pub async fn order_created(
        &self,
        order: &Order,
        now: DateTime<Utc>,
    ) -> Result<EventRecord, NotifyError> {
        self.emit(order_created_event(order, now)).await
    }

    /// `order.enriched`, with what enrichment found; in the Kombo formats also Kombo's
    /// `assessment:order-received` (or `inline-assessment:order-received`), which carries the
    /// order with the job's location and hiring team, so it goes out once enrichment is done.
    pub async fn order_enriched(
        &self,
        order: &Order,
        enrichment: &OrderEnrichment,
        now: DateTime<Utc>,
    ) -> Result<EventRecord, NotifyError> {
        let event = self
            .emit(order_enriched_event(order, enrichment, now))
            .await?;
        if self.format.sends_kombo_events() {
            // The enrichment worker passes the stored order, which carries the enrichment.
            let with_enrichment;
            let order = if order.enrichment.is_some() {
                order
            } else {
                with_enrichment = Order {
                    enrichment: Some(enrichment.clone()),
                    ..order.clone()
                };
                &with_enrichment
            };
            self.order_received(order, now).await?;
        }
        Ok(event)
    }

    /// Kombo's `assessment:order-received` (or `inline-assessment:order-received`) for `order`
    /// as it stands, in the Kombo formats (nothing in `connector`). The enrichment worker sends
    /// it once the enrichment is stored ([`Self::order_enriched`]) or, when it gives the
    /// enrichment up (the message's last receive, the company's credentials gone), with what
    /// SR's order itself carries. Its id derives from the order, so whichever comes first is
    /// the one event the vendor gets.
    pub async fn order_received(
        &self,
        order: &Order,
        now: DateTime<Utc>,
    ) -> Result<Option<EventRecord>, NotifyError> {
        if !self.format.sends_kombo_events() {
            return Ok(None);
        }
        match order_received_event(order, now) {
            Some(event) => Ok(Some(self.emit(event).await?)),
            None => Ok(None),
        }
    }

    /// `delivery.failed`: result `version` of the order will not reach SR (refused for good, or
    /// retries exhausted). The publisher calls this where it records a FAILED delivery.
    pub async fn delivery_failed(
        &self,
        order: &Order,
        version: u64,
        sr_status_code: Option<u16>,
        detail: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<EventRecord, NotifyError> {
        self.emit(delivery_failed_event(
            order,
            version,
            sr_status_code,
            detail,
            now,
        ))
        .await
    }
}

fn order_event(
    order: &Order,
    kind: EventKind,
    id: String,
    at: DateTime<Utc>,
    data: serde_json::Value,
) -> EventRecord {
    EventRecord {
        id,
        kind: kind.as_str().to_string(),
        integration_id: order.integration_id.clone(),
        company_id: order.company_id.clone(),
        at,
        data,
        webhook: None,
    }
}

/// The id of `order`'s `kind` event (`order.created`, `inline_order.created`,
/// `order.enriched`): `{kind}:{order id}`, the same each time a worker repeats it.
fn order_event_id(kind: EventKind, order_id: &str) -> String {
    format!("{kind}:{order_id}")
}

/// The id of `delivery.failed` for result `version` of the order:
/// `delivery.failed:{order id}:{version}`.
fn delivery_failed_id(order_id: &str, version: u64) -> String {
    format!("{}:{order_id}:{version}", EventKind::DeliveryFailed)
}

pub fn order_created_event(order: &Order, now: DateTime<Utc>) -> EventRecord {
    let kind = if order.inline.is_some() {
        EventKind::InlineOrderCreated
    } else {
        EventKind::OrderCreated
    };
    let mut data = json!({
        "order_id": order.order_id,
        "package_id": order.package.id,
        "candidate_id": order.candidate.id,
        "job_id": order.job.id,
    });
    if let Some(inline) = &order.inline {
        data["assessment_url"] = json!(inline.assessment_url);
    }
    order_event(
        order,
        kind,
        order_event_id(kind, &order.order_id),
        now,
        data,
    )
}

pub fn order_enriched_event(
    order: &Order,
    enrichment: &OrderEnrichment,
    now: DateTime<Utc>,
) -> EventRecord {
    let data = json!({ "order_id": order.order_id, "enrichment": enrichment });
    order_event(
        order,
        EventKind::OrderEnriched,
        order_event_id(EventKind::OrderEnriched, &order.order_id),
        now,
        data,
    )
}

pub fn delivery_failed_event(
    order: &Order,
    version: u64,
    sr_status_code: Option<u16>,
    detail: Option<&str>,
    now: DateTime<Utc>,
) -> EventRecord {
    let data = json!({
        "order_id": order.order_id,
        "result_version": version,
        "sr_status_code": sr_status_code,
        "detail": detail,
    });
    order_event(
        order,
        EventKind::DeliveryFailed,
        delivery_failed_id(&order.order_id, version),
        now,
        data,
    )
}

/// The ids of the events that announce `order` under an id derived from it: `order.created` or
/// `inline_order.created`, `order.enriched`, `delivery.failed` of each result version, and
/// Kombo's `…:order-received`. What an erasure looks up by id (`Store::erase_orders_data`), so
/// it reaches an event recorded but not listed yet (it is listed after its webhook is queued).
pub fn event_ids_of(order: &Order) -> Vec<String> {
    let id = &order.order_id;
    // The one `…created` kind the order announces (`order_created_event`).
    let created = if order.inline.is_some() {
        EventKind::InlineOrderCreated
    } else {
        EventKind::OrderCreated
    };
    [created, EventKind::OrderEnriched]
        .into_iter()
        .map(|kind| order_event_id(kind, id))
        .chain((1..=order.result_version).map(|v| delivery_failed_id(id, v)))
        .chain([crate::kombo::webhooks::event_id(order)])
        .collect()
}

/// `candidate.erased` (a random id: each erasure is its own event): which orders' personal
/// data was erased, and why (`candidate`, `email` or `order`, never the value itself).
pub fn candidate_erased_event(
    company_id: &str,
    integration_id: &str,
    erased_by: &str,
    order_ids: &[String],
    now: DateTime<Utc>,
) -> EventRecord {
    EventRecord {
        id: crate::auth::credentials::random_token(12),
        kind: EventKind::CandidateErased.as_str().into(),
        integration_id: integration_id.to_string(),
        company_id: company_id.to_string(),
        at: now,
        data: json!({ "erased_by": erased_by, "order_ids": order_ids }),
        webhook: None,
    }
}

/// `company.connected` (a random id: each connection is a new event); its `data` names who
/// connected (`connected_by`: `subject`, `email`, `at`) when an admin signed in.
pub fn company_connected_event(
    company_id: &str,
    integration_id: &str,
    connected_by: Option<&ConnectedBy>,
    now: DateTime<Utc>,
) -> EventRecord {
    // `connected_by` only when an admin signed in (a connect key names nobody).
    let data = match connected_by {
        Some(by) => json!({"connected_by": by}),
        None => json!({}),
    };
    EventRecord {
        id: crate::auth::credentials::random_token(12),
        kind: EventKind::CompanyConnected.as_str().into(),
        integration_id: integration_id.to_string(),
        company_id: company_id.to_string(),
        at: now,
        data,
        webhook: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(inline: bool) -> Order {
        let extra = if inline {
            json!({"inline": {"assessment_url": "https://vendor/o1",
                "completed_assessment_callback_url": "https://sr/back", "application_language": "en"}})
        } else {
            json!({})
        };
        crate::orders::test_support::order(extra)
    }

    #[test]
    fn events_a_worker_may_repeat_have_ids_derived_from_what_they_announce() {
        let now = Utc::now();
        let later = now + chrono::Duration::seconds(5);
        let created = order_created_event(&order(false), now);
        assert_eq!(created.id, "order.created:o1");
        assert_eq!(created.kind, EventKind::OrderCreated.as_str());
        assert_eq!(created.integration_id, "acme-org");
        assert_eq!(created.data["candidate_id"], "c1");
        assert_eq!(order_created_event(&order(false), later).id, created.id);
        let inline = order_created_event(&order(true), now);
        assert_eq!(inline.id, "inline_order.created:o1");
        assert_eq!(inline.data["assessment_url"], "https://vendor/o1");
        let failed = delivery_failed_event(&order(false), 3, Some(400), Some("refused"), now);
        assert_eq!(failed.id, "delivery.failed:o1:3");
        assert_eq!(failed.data["sr_status_code"], 400);
        assert_ne!(
            delivery_failed_event(&order(false), 4, None, None, now).id,
            failed.id
        );
    }

    #[test]
    fn an_erasure_looks_up_every_id_an_order_event_can_have() {
        let now = Utc::now();
        let mut plain = order(false);
        plain.result_version = 2;
        let inline = order(true);
        let enrichment = OrderEnrichment {
            enriched_at: now,
            candidate: None,
            job: None,
            hiring_team: None,
            notes: vec![],
        };
        let emitted = [
            order_created_event(&plain, now).id,
            order_created_event(&inline, now).id,
            order_enriched_event(&plain, &enrichment, now).id,
            delivery_failed_event(&plain, 1, None, None, now).id,
            delivery_failed_event(&plain, 2, None, None, now).id,
            crate::kombo::webhooks::event_id(&plain),
        ];
        let looked_up = [event_ids_of(&plain), event_ids_of(&inline)].concat();
        for id in emitted {
            assert!(looked_up.contains(&id), "{id} not in {looked_up:?}");
        }
    }

    #[test]
    fn company_connections_are_separate_events() {
        let now = Utc::now();
        let a = company_connected_event("acme", "acme-org", None, now);
        assert_eq!(a.kind, EventKind::CompanyConnected.as_str());
        assert_ne!(
            a.id,
            company_connected_event("acme", "acme-org", None, now).id
        );
    }

    #[test]
    fn every_kind_reads_back_from_its_name_and_kombo_kinds_are_not_ours() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::parse(kind.as_str()), Some(kind));
            assert_eq!(kind.to_string(), kind.as_str());
        }
        assert_eq!(
            EventKind::parse(crate::kombo::webhooks::ORDER_RECEIVED),
            None
        );
        assert_eq!(EventKind::parse("order.unknown"), None);
    }
}
