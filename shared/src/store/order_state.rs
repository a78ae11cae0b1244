//! An order's state item (`keys::order_state`): its latest result and version, its delivery
//! state and the erasure tombstone, beside the order item that holds SR's request and the
//! enrichment.
//!
//! Why apart: DynamoDB bills a write at the size of the whole item it rewrites, rounded up to
//! 1 KB, twice inside a transaction. The order item is 1–3 KB; the state a few hundred bytes. A
//! result (a transaction) and each delivery write only the state. A delivery SR accepted is
//! recorded there too ([`Acceptance`]), while the item stays within its first KB.
//!
//! Reading an order reads both items and applies the state on the order ([`apply`]). Orders
//! stored before the state item existed keep their state on the order item: with no state item
//! (or one holding only an erasure tombstone), the order item's own fields stand. Their next
//! result creates the state item from the order as read (`Store::write_result`).
//!
//! Retention (`retention`): each result re-stamps the state item's expiry. The order item is
//! stamped a little past its retention at creation ([`order_item_slack`]) and re-stamped by a
//! result only when its stamp would fall before the state's, so results close together rewrite
//! the order item once, not each time, and its stamp is never earlier than its state's. (TTL
//! deletes each item on its own, within days of its stamp; reads drop a state item whose order
//! item is gone.)
//!
//! An order read with its state on its order item and a result (`Order::state_item` false)
//! has its deliveries recorded there (`DeliveryRecord::state_on_order_item`); its next result
//! checks, in its transaction, that the order item is unchanged since the read, then creates
//! the state item from it.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{from_item, keys, retention::Retention, Item, StoreError};
use crate::orders::{DeliveryAttempt, DeliveryState, Order};
use crate::sr::{PackageResult, ResultStatus};

/// The state item as stored. Every field is optional: an erasure may create the item with its
/// tombstone alone, on an order whose state is still on the order item.
#[derive(Debug, Default, Deserialize)]
struct StoredState {
    /// Present once a result was written here: the item then holds the whole state.
    #[serde(default)]
    result_version: Option<u64>,
    #[serde(default)]
    result: Option<PackageResult>,
    #[serde(default)]
    sent_version: u64,
    #[serde(default)]
    delivery_state: Option<DeliveryState>,
    #[serde(default)]
    delivered_status: Option<ResultStatus>,
    #[serde(default)]
    result_submitted_at: Option<DateTime<Utc>>,
    #[serde(default)]
    has_file_attachments: bool,
    #[serde(default)]
    result_request_sha256: Option<String>,
    #[serde(default)]
    result_rejected_by_vendor: bool,
    #[serde(default)]
    updated_at: Option<DateTime<Utc>>,
    #[serde(default)]
    erased_at: Option<DateTime<Utc>>,
}

/// Applies the state item `state` on `order`, read from its order item.
///
/// # Errors
/// [`StoreError::Corrupt`] for a state item that does not deserialize.
pub(super) fn apply(order: &mut Order, state: Item) -> Result<(), StoreError> {
    order.state_item_bytes = super::item_size(&state);
    let state: StoredState = from_item(state)?;
    order.erased_at = order.erased_at.or(state.erased_at);
    let Some(version) = state.result_version else {
        return Ok(());
    };
    order.state_item = true;
    order.result_version = version;
    order.result = state.result;
    order.sent_version = state.sent_version;
    if let Some(delivery) = state.delivery_state {
        order.delivery_state = delivery;
    }
    order.delivered_status = state.delivered_status;
    order.result_submitted_at = state.result_submitted_at;
    order.has_file_attachments |= state.has_file_attachments;
    order.result_request_sha256 = state.result_request_sha256;
    order.result_rejected_by_vendor = state.result_rejected_by_vendor;
    if let Some(updated) = state.updated_at {
        order.updated_at = order.updated_at.max(updated);
    }
    Ok(())
}

/// The state item's attribute holding the deliveries recorded on it ([`Acceptance`]s). Not
/// `deliveries`: that is an older order item's inline list of whole attempts.
pub(super) const ACCEPTANCES: &str = "acceptances";

/// A delivery SR accepted, as recorded on the state item (`acceptances`, oldest first): all a
/// [`DeliveryAttempt`] says of one (a `DELIVERED` attempt has no detail) in about 70 bytes, so
/// that several fit in the KB the state item bills anyway. Every other attempt, and an
/// acceptance that would not fit, is a history item of its own (`Store::record_deliveries`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct Acceptance {
    /// The result version SR accepted.
    version: u64,
    at: DateTime<Utc>,
    /// SR's HTTP status (200 or 204).
    code: u16,
    /// The result status it carried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<ResultStatus>,
}

impl Acceptance {
    /// `attempt` as an acceptance: `None` unless SR accepted it.
    pub(super) fn of(attempt: &DeliveryAttempt) -> Option<Self> {
        let accepted = attempt.outcome == DeliveryState::Delivered && attempt.detail.is_none();
        Some(Self {
            version: attempt.version,
            at: attempt.at,
            code: attempt.sr_status_code.filter(|_| accepted)?,
            status: attempt.result_status,
        })
    }

    fn into_attempt(self) -> DeliveryAttempt {
        DeliveryAttempt {
            version: self.version,
            at: self.at,
            sr_status_code: Some(self.code),
            outcome: DeliveryState::Delivered,
            detail: None,
            result_status: self.status,
        }
    }
}

/// The deliveries recorded on the state item, as the attempts they are. Kept apart from
/// [`apply`], which reads the state for every use of an order: only its history shows them.
///
/// # Errors
/// [`StoreError::Corrupt`] for a state item that does not deserialize.
pub(super) fn deliveries_on(state: &Item) -> Result<Vec<DeliveryAttempt>, StoreError> {
    #[derive(Deserialize)]
    struct Recorded {
        #[serde(default)]
        acceptances: Vec<Acceptance>,
    }
    if !state.contains_key(ACCEPTANCES) {
        return Ok(Vec::new());
    }
    // Its keys too, for the error's sake.
    let item = [ACCEPTANCES, keys::PK, keys::SK]
        .into_iter()
        .filter_map(|name| Some((name.to_string(), state.get(name)?.clone())))
        .collect();
    let recorded: Recorded = from_item(item)?;
    // An `UpdateItem` the SDK retried after a lost answer may have appended one twice.
    let mut seen = std::collections::HashSet::new();
    Ok(recorded
        .acceptances
        .into_iter()
        .filter(|a| seen.insert((a.version, a.at)))
        .map(Acceptance::into_attempt)
        .collect())
}

/// The latest result on a state item, and whether the item keeps its request's digest (what
/// an erasure overwrites there).
///
/// # Errors
/// [`StoreError::Corrupt`] for a state item that does not deserialize.
pub(super) fn result_of(state: Item) -> Result<(Option<PackageResult>, bool), StoreError> {
    let state: StoredState = from_item(state)?;
    Ok((state.result, state.result_request_sha256.is_some()))
}

/// The orders among `items` (items of order partitions, in any order: `ORDER` and `STATE`
/// items; others are ignored), each with its state applied, by order id. A state item whose
/// order item is absent (expired, or not in `items`) is dropped.
///
/// # Errors
/// [`StoreError::Corrupt`] for an item that does not deserialize.
pub(super) fn assemble(items: Vec<Item>) -> Result<HashMap<String, Order>, StoreError> {
    let mut orders = HashMap::new();
    let mut states = Vec::new();
    for item in items {
        match item
            .get(keys::SK)
            .and_then(|v| v.as_s().ok())
            .map(String::as_str)
        {
            Some("ORDER") => {
                let order = order_from_item(item)?;
                orders.insert(order.order_id.clone(), order);
            }
            Some("STATE") => states.push(item),
            _ => {}
        }
    }
    for state in states {
        let id = keys::order_id_of(&state).map(str::to_owned);
        if let Some(order) = id.and_then(|id| orders.get_mut(&id)) {
            apply(order, state)?;
        }
    }
    Ok(orders)
}

/// The attributes of an order's state: written on its state item, never on a new order item.
pub(super) const STATE_ATTRIBUTES: [&str; 11] = [
    "result",
    "result_version",
    "sent_version",
    "delivery_state",
    "delivered_status",
    "result_submitted_at",
    "has_file_attachments",
    "result_request_sha256",
    "result_rejected_by_vendor",
    "submissions",
    "deliveries",
];

/// The state's attributes an older order item holds, which its next result moves to the state
/// item and removes there (its inline `submissions` and `deliveries`, from before the history
/// had items of its own, stay: they are its history). `result` is a reserved word: `#result`.
pub(super) const MOVED_ATTRIBUTES: &str = "#result, result_version, sent_version, \
     delivery_state, delivered_status, result_submitted_at, has_file_attachments, \
     result_request_sha256, result_rejected_by_vendor";

/// A new order's item as stored: without the state's attributes (a new order has none: they
/// read back as their defaults), empty ones (`null`, no `fields`), nor what its key and its
/// other attributes already say (the order id is in `pk`; `updated_at` is `created_at` until
/// the order changes), so the item, billed per started KB on its creation and its enrichment,
/// carries SR's request and nothing else. [`order_from_item`] reads it back.
///
/// Leaving `order_id` and `updated_at` out waited one release: the release before reads items
/// without them, so its functions (still running during a deploy, or after a rollback to it)
/// read these. Releases older than that require both; README.md ("Deploying") says so.
pub(super) fn new_order_item(mut item: Item) -> Item {
    let created_at = item.get("created_at").cloned();
    item.retain(|name, value| {
        let derived = match name.as_str() {
            "order_id" => true,
            "updated_at" => Some(&*value) == created_at.as_ref(),
            "fields" => value.as_m().is_ok_and(|m| m.is_empty()),
            _ => false,
        };
        !derived
            && !STATE_ATTRIBUTES.contains(&name.as_str())
            && !matches!(value, AttributeValue::Null(_))
    });
    item
}

/// An order item (`ORDER`, as [`new_order_item`] wrote it or as older releases did) as an
/// [`Order`], its state not applied.
///
/// # Errors
/// [`StoreError::Corrupt`] for an item that does not deserialize.
pub(super) fn order_from_item(mut item: Item) -> Result<Order, StoreError> {
    if !item.contains_key("order_id") {
        if let Some(id) = keys::order_id_of(&item) {
            let id = AttributeValue::S(id.to_owned());
            item.insert("order_id".into(), id);
        }
    }
    if !item.contains_key("updated_at") {
        if let Some(created_at) = item.get("created_at").cloned() {
            item.insert("updated_at".into(), created_at);
        }
    }
    from_item(item)
}

/// How far past its retention the order item is stamped: a thirtieth of the retention, at most
/// a week (TTL itself deletes within days of the time). A result within that time of the order
/// item's last stamp does not rewrite it, so most lifecycles (results within a week of the
/// order) write the order item twice only: at the order and at its enrichment. A result later
/// than that adds the order item's rewrite to its transaction (twice its size, per KB).
pub fn order_item_slack(retention: Retention) -> chrono::Duration {
    (retention.personal_data / 30).min(chrono::Duration::days(7))
}

/// The order item's expiry (epoch seconds) when stamped at `now`.
pub(super) fn order_item_expiry(retention: Retention, now: DateTime<Utc>) -> i64 {
    retention.personal_data_expiry(now + order_item_slack(retention))
}

/// Whether a result written at `now` must re-stamp the order item (its expiry `current`, epoch
/// seconds; `None` for an item never stamped) so it outlives the state item.
pub(super) fn order_item_needs_stamp(
    retention: Retention,
    current: Option<i64>,
    now: DateTime<Utc>,
) -> bool {
    current.is_none_or(|at| at < retention.personal_data_expiry(now))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orders::test_support::order;
    use serde_json::json;

    fn state(value: serde_json::Value) -> Item {
        let mut item: Item = serde_dynamo::to_item(value).unwrap();
        item.insert("pk".into(), AttributeValue::S("ORDER#o1".into()));
        item.insert("sk".into(), AttributeValue::S("STATE".into()));
        item
    }

    #[test]
    fn the_state_item_stands_for_the_order_items_state_once_it_holds_a_result() {
        // An order stored before the state item: version 2 on the order item.
        let mut legacy = order(json!({
            "result": {"status": "IN_PROGRESS"}, "result_version": 2, "sent_version": 2,
            "delivery_state": "DELIVERED", "delivered_status": "IN_PROGRESS"
        }));
        let tombstone = state(json!({"erased_at": "2026-02-01T00:00:00Z"}));
        apply(&mut legacy, tombstone).unwrap();
        assert_eq!(
            legacy.result_version, 2,
            "a tombstone alone keeps the order's state"
        );
        assert_eq!(legacy.delivery_state, DeliveryState::Delivered);
        assert!(legacy.erased_at.is_some());

        let mut order = order(json!({"result_version": 2, "delivery_state": "DELIVERED"}));
        apply(
            &mut order,
            state(json!({
                "result": {"status": "COMPLETED"}, "result_version": 3, "sent_version": 2,
                "delivery_state": "QUEUED", "has_file_attachments": true,
                "updated_at": "2030-01-01T00:00:00Z"
            })),
        )
        .unwrap();
        assert_eq!(order.result_version, 3);
        assert_eq!(order.delivery_state, DeliveryState::Queued);
        assert_eq!(order.delivered_status, None);
        assert!(order.has_file_attachments);
        assert_eq!(order.updated_at.to_rfc3339(), "2030-01-01T00:00:00+00:00");
    }

    #[test]
    fn a_new_order_item_holds_no_state_nor_what_its_key_says_and_reads_back_as_the_order() {
        let new = order(json!({"inline": null, "requester": null, "fields": {}}));
        assert_eq!(new.updated_at, new.created_at);
        let mut item: Item = serde_dynamo::to_item(&new).unwrap();
        item.insert(
            "pk".into(),
            AttributeValue::S(format!("ORDER#{}", new.order_id)),
        );
        let stored = new_order_item(item);
        let left_out = ["inline", "requester", "order_id", "updated_at", "fields"];
        for name in STATE_ATTRIBUTES.iter().chain(&left_out) {
            assert!(!stored.contains_key(*name), "{name}");
        }
        assert_eq!(order_from_item(stored.clone()).unwrap(), new);

        // What differs from what the key and `created_at` say is kept.
        let changed = order(json!({"updated_at": "2030-01-01T00:00:00Z", "fields": {"a": "b"}}));
        let mut item: Item = serde_dynamo::to_item(&changed).unwrap();
        item.insert(
            "pk".into(),
            AttributeValue::S(format!("ORDER#{}", changed.order_id)),
        );
        let stored = new_order_item(item);
        assert!(stored.contains_key("updated_at") && stored.contains_key("fields"));
        assert_eq!(order_from_item(stored).unwrap(), changed);
    }

    #[test]
    fn acceptances_on_the_state_item_read_back_as_the_attempts_they_were() {
        let attempt = DeliveryAttempt {
            version: 2,
            at: "2026-01-01T00:00:01.5Z".parse().unwrap(),
            sr_status_code: Some(204),
            outcome: DeliveryState::Delivered,
            detail: None,
            result_status: Some(ResultStatus::Completed),
        };
        let accepted = Acceptance::of(&attempt).unwrap();
        let mut item = state(json!({"result_version": 2}));
        item.insert(
            ACCEPTANCES.into(),
            AttributeValue::L(vec![serde_dynamo::to_attribute_value(&accepted).unwrap()]),
        );
        assert_eq!(
            deliveries_on(&item).unwrap(),
            std::slice::from_ref(&attempt)
        );
        // Appended twice (an SDK retry of the update): listed once.
        let twice = AttributeValue::L(vec![
            serde_dynamo::to_attribute_value(&accepted).unwrap(),
            serde_dynamo::to_attribute_value(&accepted).unwrap(),
        ]);
        item.insert(ACCEPTANCES.into(), twice);
        assert_eq!(deliveries_on(&item).unwrap().len(), 1);
        assert!(deliveries_on(&state(json!({}))).unwrap().is_empty());
        // Anything but an acceptance stays an item of its own.
        let unreachable = DeliveryAttempt {
            sr_status_code: None,
            ..attempt.clone()
        };
        let refused = DeliveryAttempt {
            outcome: DeliveryState::Failed,
            ..attempt
        };
        assert!(Acceptance::of(&unreachable).is_none() && Acceptance::of(&refused).is_none());
    }

    #[test]
    fn assembling_pairs_each_state_with_its_order_and_drops_orphans() {
        let mut first: Item = serde_dynamo::to_item(order(json!({}))).unwrap();
        first.insert("pk".into(), AttributeValue::S("ORDER#o1".into()));
        first.insert("sk".into(), AttributeValue::S("ORDER".into()));
        let mut orphan = state(json!({"result_version": 1}));
        orphan.insert("pk".into(), AttributeValue::S("ORDER#gone".into()));
        let orders = assemble(vec![
            state(json!({"result_version": 4, "delivery_state": "QUEUED"})),
            orphan,
            first,
        ])
        .unwrap();
        assert_eq!(orders.len(), 1);
        assert_eq!(orders["o1"].result_version, 4);
    }

    #[test]
    fn the_order_item_is_stamped_a_little_past_the_state_and_again_only_when_it_would_fall_short() {
        let now = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let year = Retention::days(365);
        assert_eq!(order_item_slack(year), chrono::Duration::days(7));
        assert_eq!(
            order_item_slack(Retention::days(30)),
            chrono::Duration::days(1)
        );
        assert_eq!(
            order_item_slack(Retention::days(3)),
            chrono::Duration::hours(2) + chrono::Duration::minutes(24)
        );
        let stamped = order_item_expiry(year, now);
        assert_eq!(stamped, year.personal_data_expiry(now) + 7 * 86_400);
        let later = |hours| now + chrono::Duration::hours(hours);
        assert!(!order_item_needs_stamp(
            year,
            Some(stamped),
            later(7 * 24 - 1)
        ));
        assert!(!order_item_needs_stamp(year, Some(stamped), later(7 * 24)));
        assert!(order_item_needs_stamp(
            year,
            Some(stamped),
            later(7 * 24 + 1)
        ));
        assert!(order_item_needs_stamp(year, None, now));
    }
}
