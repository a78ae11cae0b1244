//! Erasing one order's personal data in place: every item under `ORDER#{id}` and every event
//! (listed item and id marker) that announces the order. What stays is the order's
//! non-personal skeleton: ids, package, job id, statuses, dates, versions and the delivery
//! history's outcomes, so operations, billing and `GET /assessment/orders/{id}` keep working.
//!
//! Every write after the tombstones (one transaction on the order item and its state item) is
//! an `UpdateItem` or `DeleteItem` of an item found by a strongly consistent read, and the
//! order item is overwritten last, so a sweep that stops half way (a timeout,
//! throttling) is finished by running it again: the order still names its candidate, each step
//! looks at what the item holds and skips items with nothing personal left, which is also why
//! a repeated erasure counts zero.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{from_item, key_of, keys, to_value, EventRecord, Item, Store, StoreError};
use crate::orders::{DeliveryAttempt, Order, Submission};
use crate::sr::{Candidate, PackageResult};

/// What one erasure changed, per kind of item (zero for what held nothing personal any more).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ErasedCounts {
    /// Order items whose candidate, requester, custom fields, enrichment and result details
    /// were overwritten.
    pub orders: u32,
    /// Submissions whose vendor body and note were overwritten.
    pub submissions: u32,
    /// Delivery attempts whose detail (SR's answer) was removed.
    pub delivery_attempts: u32,
    /// Result files (record and bytes) deleted.
    pub files: u32,
    /// Events (listed item and id marker) whose data was replaced by `{order_id, erased}`.
    pub events: u32,
}

impl ErasedCounts {
    pub fn add(&mut self, other: ErasedCounts) {
        self.orders += other.orders;
        self.submissions += other.submissions;
        self.delivery_attempts += other.delivery_attempts;
        self.files += other.files;
        self.events += other.events;
    }
}

/// An event's `data` once erased: the order it announced, nothing else.
pub fn erased_event_data(order_id: &str) -> serde_json::Value {
    serde_json::json!({ "order_id": order_id, "erased": true })
}

/// Whether an event announces `order_id`: the connector's events name it as `data.order_id`,
/// Kombo's `assessment:order-received` as `data.id` (no other event's data has an `id`).
fn announces(event: &EventRecord, order_id: &str) -> bool {
    let named = |field: &str| event.data.get(field).and_then(|v| v.as_str()) == Some(order_id);
    named("order_id") || named("id")
}

/// The candidate as an erased order keeps it: nothing.
fn erased_candidate() -> Candidate {
    Candidate {
        id: String::new(),
        first_name: String::new(),
        last_name: String::new(),
        email: None,
        phone_number: None,
        other: Default::default(),
    }
}

/// The result as an erased order keeps it: the status and dates (what SR was told happened and
/// when), not the score, labels, summary, report links or per-assessment results.
fn erased_result(result: &PackageResult) -> PackageResult {
    PackageResult {
        status: result.status,
        assessment_package_date: result.assessment_package_date,
        submission_date: result.submission_date,
        ..PackageResult::default()
    }
}

/// A delivery attempt as an erased order keeps it: its outcome, not SR's answer.
fn erased_delivery(attempt: &DeliveryAttempt) -> DeliveryAttempt {
    DeliveryAttempt {
        detail: None,
        ..attempt.clone()
    }
}

fn erased_submission(submission: &Submission) -> Submission {
    Submission {
        vendor_body: serde_json::json!({}),
        note: None,
        ..submission.clone()
    }
}

/// Whether the order item still holds anything personal.
fn holds_personal_data(order: &Order) -> bool {
    order.erased_at.is_none()
        || order.candidate != erased_candidate()
        || order.requester.is_some()
        || !order.fields.is_empty()
        || order.enrichment.is_some()
        || order
            .result
            .as_ref()
            .is_some_and(|r| *r != erased_result(r))
        || order
            .inline
            .as_ref()
            .is_some_and(|i| !i.assessment_url.is_empty())
        || order.submissions.iter().any(|s| *s != erased_submission(s))
        || order.deliveries.iter().any(|d| d.detail.is_some())
}

impl Store {
    /// Every order of the integration (the list's indexes, all pages), for finding a
    /// candidate's: those written before `gsi2` as `gsi1` holds them, the others read by key.
    pub async fn all_orders_of_integration(
        &self,
        integration_id: &str,
    ) -> Result<Vec<Order>, StoreError> {
        let partition = keys::orders_of_integration(integration_id);
        let legacy: Vec<Order> = self
            .partition(Some(keys::GSI1), keys::GSI1_PK, partition.clone())
            .await?
            .into_iter()
            .map(super::order_state::order_from_item)
            .collect::<Result<_, _>>()?;
        let mut orders = self.with_states(legacy).await?;
        let ids: Vec<String> = self
            .partition(Some(keys::GSI2), keys::GSI2_PK, partition)
            .await?
            .iter()
            .filter_map(keys::order_id_of)
            .map(str::to_owned)
            .collect();
        let wanted: Vec<&str> = ids.iter().map(String::as_str).collect();
        let mut found = self.get_orders(&wanted).await?;
        orders.extend(ids.iter().filter_map(|id| found.remove(id)));
        Ok(orders)
    }

    /// Every item under `ORDER#{order_id}` (the order, its files and their bytes, its history).
    async fn order_items(&self, order_id: &str) -> Result<Vec<Item>, StoreError> {
        self.partition(None, keys::PK, keys::order(order_id).0)
            .await
    }

    /// Every item of one partition of the table (strongly consistent) or of `index`, all pages.
    async fn partition(
        &self,
        index: Option<&'static str>,
        key: &str,
        value: String,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .db
                .query()
                .table_name(&self.table)
                .set_index_name(index.map(str::to_owned))
                .key_condition_expression("#key = :value")
                .expression_attribute_names("#key", key)
                .expression_attribute_values(":value", AttributeValue::S(value.clone()))
                // Index reads cannot be strongly consistent.
                .consistent_read(index.is_none())
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| match index {
                    Some(index) => super::orders::index_error(e, index),
                    None => StoreError::service(e),
                })?;
            items.extend(output.items.unwrap_or_default());
            match output.last_evaluated_key.filter(|k| !k.is_empty()) {
                Some(key) => start = Some(key),
                None => return Ok(items),
            }
        }
    }

    /// The integration's events that announce `order_id`, oldest first.
    pub async fn events_of_order(
        &self,
        integration_id: &str,
        order_id: &str,
    ) -> Result<Vec<EventRecord>, StoreError> {
        let mut events = Vec::new();
        let mut cursor = None;
        loop {
            let page = self
                .list_events(integration_id, cursor.as_ref(), 250)
                .await?;
            events.extend(page.events.into_iter().filter(|e| announces(e, order_id)));
            match page.next.as_deref().and_then(super::EventCursor::decode) {
                Some(next) => cursor = Some(next),
                None => return Ok(events),
            }
        }
    }

    /// Erases the personal data of `orders` (listed by the caller, possibly stale) and of
    /// everything stored about them, in an order that lets a repeat finish a partial run: the
    /// tombstones first (they stop `write_result` and `put_enrichment`), then each order's
    /// files, submissions and delivery attempts, then one sweep of the events, and the order
    /// items last, so an order stays findable by its candidate until nothing else is left.
    ///
    /// `event_ids` names the events of an order whose ids derive from it
    /// (`notifications::event_ids_of`): their id markers are erased too, so an event recorded
    /// but not listed yet (listing comes after queueing its webhook) is reached.
    pub async fn erase_orders_data(
        &self,
        integration_id: &str,
        orders: &[Order],
        now: DateTime<Utc>,
        event_ids: &(dyn Fn(&Order) -> Vec<String> + Sync),
    ) -> Result<ErasedCounts, StoreError> {
        let mut counts = ErasedCounts::default();
        for order in orders {
            // A transaction: a result or delivery writing the state item at the same instant
            // makes it lose the race, and it tries again.
            super::retry_on_conflict(|| self.stamp_erased(order, now)).await?;
        }
        for order in orders {
            counts.add(self.erase_order_history(&order.order_id).await?);
        }
        counts.events += self.erase_events_of_orders(integration_id, orders).await?;
        for order in orders {
            // Read again after the tombstone: a result stored since the caller's read (or
            // missing from an index read) may have a `delivery.failed` of its own.
            let current = self.get_order(&order.order_id).await?;
            for id in event_ids(current.as_ref().unwrap_or(order)) {
                if self
                    .erase_unlisted_event(integration_id, order, &id)
                    .await?
                {
                    counts.events += 1;
                }
            }
        }
        for order in orders {
            // A first erasure counts the order even when its item held nothing else personal.
            if self.erase_order_item(&order.order_id).await? || order.erased_at.is_none() {
                counts.orders += 1;
            }
        }
        Ok(counts)
    }

    /// Sets the order's `erased_at` tombstone (kept if already set) on the order item and on its
    /// state item, created if the order has none yet, in one `TransactWriteItems`: a result is
    /// stored by a conditional write of the state item alone (`Store::write_result`), which the
    /// tombstone there refuses from the same instant as the order item's. A state item created
    /// here expires with the order item. An order that is gone is left alone.
    pub async fn stamp_erased(&self, order: &Order, now: DateTime<Utc>) -> Result<(), StoreError> {
        let tombstone = |key: (String, String)| {
            Update::builder()
                .table_name(&self.table)
                .set_key(Some(key_of(key)))
                .expression_attribute_values(":now", to_value(&now))
        };
        let on_order = tombstone(keys::order(&order.order_id))
            .update_expression("SET erased_at = if_not_exists(erased_at, :now)")
            .condition_expression("attribute_exists(pk)")
            .build()
            .expect("table, key and expression are set");
        let expires = order
            .item_expires_at
            .map(|at| AttributeValue::N(at.to_string()))
            .unwrap_or_else(|| self.retention.expiry_value(now));
        let on_state = tombstone(keys::order_state(&order.order_id))
            .update_expression(
                "SET erased_at = if_not_exists(erased_at, :now), \
                 expires_at = if_not_exists(expires_at, :expires)",
            )
            .expression_attribute_values(":expires", expires)
            .build()
            .expect("table, key and expression are set");
        let result = self
            .db
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(on_order).build())
            .transact_items(TransactWriteItem::builder().update(on_state).build())
            .send()
            .await;
        let Err(error) = result else {
            return Ok(());
        };
        let order_gone = super::cancellation_reasons(&error)
            .first()
            .is_some_and(|r| r.code() == Some("ConditionalCheckFailed"));
        if order_gone {
            return Ok(());
        }
        if super::lost_race(&error) {
            return Err(StoreError::Conflict);
        }
        Err(StoreError::of_transaction(error, "the erasure's tombstone"))
    }

    /// Deletes the order's result files and overwrites its submissions' bodies and notes and
    /// its delivery attempts' details.
    pub async fn erase_order_history(&self, order_id: &str) -> Result<ErasedCounts, StoreError> {
        let mut counts = ErasedCounts::default();
        for item in self.order_items(order_id).await? {
            let Some(sk) = item.get(keys::SK).and_then(|v| v.as_s().ok()).cloned() else {
                continue;
            };
            let key = key_of(keys_of(&item));
            if sk.starts_with(keys::FILE_PREFIX) || sk.starts_with("FILEDATA#") {
                self.db
                    .delete_item()
                    .table_name(&self.table)
                    .set_key(Some(key))
                    .send()
                    .await
                    .map_err(StoreError::service)?;
                if sk.starts_with(keys::FILE_PREFIX) {
                    counts.files += 1;
                }
            } else if sk.starts_with(keys::SUBMISSION_PREFIX) {
                let submission: Submission = from_item(item)?;
                if submission != erased_submission(&submission) {
                    self.update_existing(
                        key,
                        "SET vendor_body = :empty REMOVE note",
                        HashMap::from([(":empty".into(), AttributeValue::M(HashMap::new()))]),
                        HashMap::new(),
                    )
                    .await?;
                    counts.submissions += 1;
                }
            } else if sk.starts_with(keys::ATTEMPT_PREFIX) && item.contains_key("detail") {
                let held = !matches!(item.get("detail"), Some(AttributeValue::Null(_)));
                if held {
                    self.update_existing(key, "REMOVE detail", HashMap::new(), HashMap::new())
                        .await?;
                    counts.delivery_attempts += 1;
                }
            }
        }
        Ok(counts)
    }

    /// Replaces the data of every event announcing one of `orders` (listed item and id marker)
    /// with `{order_id, erased}`; returns how many it changed. One strongly consistent sweep of
    /// the integration's events for all the orders, from an hour before the earliest order was
    /// stored: `EVENT#{time}#{id}` sort keys are time-ordered and no event announces an order
    /// before it exists (the hour absorbs clock skew between writers).
    pub async fn erase_events_of_orders(
        &self,
        integration_id: &str,
        orders: &[Order],
    ) -> Result<u32, StoreError> {
        let Some(earliest) = orders.iter().map(|o| o.created_at).min() else {
            return Ok(0);
        };
        let ids: std::collections::HashSet<&str> =
            orders.iter().map(|o| o.order_id.as_str()).collect();
        let (pk, from) = keys::event(integration_id, earliest - chrono::Duration::hours(1), "");
        let mut changed = 0;
        let mut start = None;
        loop {
            let output = self
                .db
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
                .expression_attribute_values(":pk", AttributeValue::S(pk.clone()))
                .expression_attribute_values(":from", AttributeValue::S(from.clone()))
                // Past every `EVENT#…` key (`$` sorts right after `#`).
                .expression_attribute_values(":to", AttributeValue::S("EVENT$".into()))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(StoreError::service)?;
            for item in output.items.unwrap_or_default() {
                let event: EventRecord = from_item(item)?;
                let Some(order_id) = ids.iter().find(|id| announces(&event, id)) else {
                    continue;
                };
                let erased_data = erased_event_data(order_id);
                if event.data == erased_data {
                    continue;
                }
                let erased = to_value(&erased_data);
                let names = HashMap::from([("#data".to_string(), "data".to_string())]);
                let values = HashMap::from([(":erased".to_string(), erased)]);
                self.update_existing(
                    key_of(keys::event(&event.integration_id, event.at, &event.id)),
                    "SET #data = :erased",
                    values.clone(),
                    names.clone(),
                )
                .await?;
                let mut marker_names = names;
                marker_names.insert("#event".into(), "event".into());
                self.update_existing(
                    key_of(keys::event_id(&event.integration_id, &event.id)),
                    "SET #event.#data = :erased",
                    values,
                    marker_names,
                )
                .await?;
                changed += 1;
            }
            match output.last_evaluated_key.filter(|k| !k.is_empty()) {
                Some(key) => start = Some(key),
                None => return Ok(changed),
            }
        }
    }

    /// Erases the event `event_id` of `order` by its id marker, if recorded and not erased yet
    /// (an event the sweep of listed events did not meet: recorded, its webhook perhaps
    /// queued, not listed yet). The listed event is written erased if absent, so neither the
    /// emitter's listing nor the dispatcher's (both conditional on its absence) writes the
    /// data again; the dispatcher then sends nothing. Whether it changed anything.
    async fn erase_unlisted_event(
        &self,
        integration_id: &str,
        order: &Order,
        event_id: &str,
    ) -> Result<bool, StoreError> {
        let erased_data = erased_event_data(&order.order_id);
        let event = match self.get_marker(integration_id, event_id).await? {
            Some((_, true)) => return Ok(false),
            Some((event, false)) => event,
            None => {
                // Not emitted (yet): an erased marker in its place, so a later emission (a
                // `delivery.failed` of a delivery refused just before this erasure) records
                // nothing of it. Recorded meanwhile: erased as any recorded one.
                let stand_in = EventRecord {
                    id: event_id.to_owned(),
                    kind: event_id
                        .split(&format!(":{}", order.order_id))
                        .next()
                        .unwrap_or_default()
                        .to_owned(),
                    integration_id: integration_id.to_owned(),
                    company_id: order.company_id.clone(),
                    at: Utc::now(),
                    data: erased_data.clone(),
                    webhook: None,
                };
                if self.put_erased_marker(&stand_in).await? {
                    return Ok(false);
                }
                // Recorded meanwhile: by its emitter, or by another erasure's stand-in.
                match self.get_marker(integration_id, event_id).await? {
                    Some((_, true)) => return Ok(false),
                    Some((event, false)) => event,
                    None => return Err(StoreError::Conflict),
                }
            }
        };
        if event.data == erased_data {
            // Erased by an earlier run, which may have stopped before listing it erased.
            self.list_event_written(&event).await?;
            return Ok(false);
        }
        let names = HashMap::from([
            ("#event".to_string(), "event".to_string()),
            ("#data".to_string(), "data".to_string()),
        ]);
        let values = HashMap::from([(":erased".to_string(), to_value(&erased_data))]);
        self.update_existing(
            key_of(keys::event_id(integration_id, event_id)),
            "SET #event.#data = :erased",
            values.clone(),
            names,
        )
        .await?;
        let listed = EventRecord {
            data: erased_data,
            ..event.clone()
        };
        if !self.list_event_written(&listed).await? {
            // Listed since the sweep: erased in place.
            self.update_existing(
                key_of(keys::event(integration_id, event.at, event_id)),
                "SET #data = :erased",
                values,
                HashMap::from([("#data".to_string(), "data".to_string())]),
            )
            .await?;
        }
        Ok(true)
    }

    /// Overwrites the order item's personal attributes from a strongly consistent read taken
    /// after the tombstone, so a result or enrichment written before the tombstone is erased
    /// too; returns whether the item held any.
    async fn erase_order_item(&self, order_id: &str) -> Result<bool, StoreError> {
        let state_held = self.erase_order_state(order_id).await?;
        // The order item alone: what it holds itself (an older order's state included).
        let order = self.get_item(keys::order(order_id), true).await?;
        let Some(order) = order.map(super::order_state::order_from_item).transpose()? else {
            return Ok(state_held);
        };
        if !holds_personal_data(&order) {
            return Ok(state_held);
        }
        let mut set = vec![
            "candidate = :candidate",
            "erased_at = if_not_exists(erased_at, :now)",
        ];
        let mut values = HashMap::from([
            (":candidate".to_string(), to_value(&erased_candidate())),
            (
                ":now".to_string(),
                to_value(&order.erased_at.unwrap_or_else(Utc::now)),
            ),
        ]);
        if let Some(result) = &order.result {
            set.push("#result = :result");
            values.insert(":result".into(), to_value(&erased_result(result)));
        }
        if order.inline.is_some() {
            // A link to the candidate's own assessment session.
            set.push("#inline.assessment_url = :blank");
            values.insert(":blank".into(), AttributeValue::S(String::new()));
        }
        if !order.submissions.is_empty() {
            // Histories kept on order items written before they had items of their own.
            let submissions: Vec<Submission> =
                order.submissions.iter().map(erased_submission).collect();
            set.push("submissions = :submissions");
            values.insert(":submissions".into(), to_value(&submissions));
        }
        if !order.deliveries.is_empty() {
            // Likewise the delivery attempts, whose detail is SR's answer.
            let deliveries: Vec<DeliveryAttempt> =
                order.deliveries.iter().map(erased_delivery).collect();
            set.push("deliveries = :deliveries");
            values.insert(":deliveries".into(), to_value(&deliveries));
        }
        // Names DynamoDB reserves (`inline`, `result`, …) go through placeholders.
        let mut names = HashMap::from([("#fields".to_string(), "fields".to_string())]);
        if order.result.is_some() {
            names.insert("#result".into(), "result".into());
        }
        if order.inline.is_some() {
            names.insert("#inline".into(), "inline".into());
        }
        let expression = format!(
            "SET {} REMOVE requester, enrichment, #fields, result_request_sha256",
            set.join(", ")
        );
        self.update_existing(key_of(keys::order(order_id)), &expression, values, names)
            .await?;
        Ok(true)
    }

    /// Overwrites the latest result's details on the order's state item (`order_state`), as on
    /// the order item; returns whether it held any.
    async fn erase_order_state(&self, order_id: &str) -> Result<bool, StoreError> {
        let Some(item) = self.get_item(keys::order_state(order_id), true).await? else {
            return Ok(false);
        };
        let (result, request_sha256) = super::order_state::result_of(item)?;
        let held = result.as_ref().is_some_and(|r| *r != erased_result(r));
        if !held && !request_sha256 {
            return Ok(false);
        }
        let (expression, values, names) = match &result {
            Some(result) => (
                "SET #result = :result REMOVE result_request_sha256",
                HashMap::from([(":result".to_string(), to_value(&erased_result(result)))]),
                HashMap::from([("#result".to_string(), "result".to_string())]),
            ),
            None => (
                "REMOVE result_request_sha256",
                HashMap::new(),
                HashMap::new(),
            ),
        };
        self.update_existing(
            key_of(keys::order_state(order_id)),
            expression,
            values,
            names,
        )
        .await
    }

    /// An `UpdateItem` of an item that exists (one deleted meanwhile, e.g. by TTL, is left
    /// alone rather than re-created as a fragment); whether it existed.
    async fn update_existing(
        &self,
        key: Item,
        expression: &str,
        values: HashMap<String, AttributeValue>,
        names: HashMap<String, String>,
    ) -> Result<bool, StoreError> {
        let result = self
            .db
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression(expression)
            .condition_expression("attribute_exists(pk)")
            .set_expression_attribute_values((!values.is_empty()).then_some(values))
            .set_expression_attribute_names((!names.is_empty()).then_some(names))
            .send()
            .await;
        super::written(result)
    }
}

/// The `(pk, sk)` of an item read from the table.
fn keys_of(item: &Item) -> (String, String) {
    let text = |name: &str| {
        item.get(name)
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default()
    };
    (text(keys::PK), text(keys::SK))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orders::test_support::order;
    use serde_json::json;

    /// An order item written before the history had items of its own keeps its delivery
    /// attempts inline: SR's answer there is personal data until erased.
    #[test]
    fn an_inline_delivery_detail_is_personal_data_until_erased() {
        let attempt = |detail: serde_json::Value| {
            json!([{"version": 1, "at": "2026-01-01T00:00:00Z", "sr_status_code": 400,
                    "outcome": "FAILED", "detail": detail}])
        };
        let erased = |deliveries| {
            order(
                json!({"candidate": {"id": "", "firstName": "", "lastName": ""},
                         "erased_at": "2026-01-02T00:00:00Z", "deliveries": deliveries}),
            )
        };
        let held = erased(attempt(json!("candidate ada@example.com is unknown")));
        assert!(holds_personal_data(&held));
        let overwritten: Vec<DeliveryAttempt> =
            held.deliveries.iter().map(erased_delivery).collect();
        assert_eq!(overwritten[0].detail, None);
        assert_eq!(overwritten[0].sr_status_code, Some(400));
        assert!(!holds_personal_data(&erased(
            serde_json::to_value(&overwritten).unwrap()
        )));
        assert!(!holds_personal_data(&erased(attempt(
            serde_json::Value::Null
        ))));
    }
}
