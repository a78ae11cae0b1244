//! Orders: idempotent creation, the vendor's list, result versions and delivery bookkeeping.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, ConditionCheck, Put, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, Update,
};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Utc};

use super::order_state::{self, order_item_expiry, order_item_needs_stamp};
use super::{from_item, key_of, keys, to_item, to_value, FileRecord, Item, Store, StoreError};
use crate::auth::access_tokens::TokenClaims;
use crate::ids::{IntegrationId, OrderId};
use crate::orders::{DeliveryAttempt, DeliveryState, Order, Submission, VendorOrderStatus};
use crate::packages::Catalog;
use crate::sr::{PackageResult, ResultStatus};

/// What happened to an order creation ([`Store::put_order_checked`]); only `Created` wrote.
#[derive(Debug)]
pub enum PutOrderOutcome {
    Created,
    /// An order with this id exists already (SR retried, or the id was reused): its order item
    /// (SR's request; its state item is not read).
    Exists(Box<Order>),
    /// The token's record is gone, revoked, expired, or issued to another company or
    /// integration.
    TokenRefused,
    /// The catalog is no longer the version the order was accepted against: the current one
    /// (`None` when the integration has none).
    CatalogChanged(Option<Box<Catalog>>),
}

/// Which check of an order's transaction refused it, by the transaction's cancellation reasons
/// (token check, catalog check, order put, in that order): the token first, then the catalog,
/// then the order, with the item DynamoDB returned (`ALL_OLD`). `None` when no condition failed
/// (a lost race, another error).
fn refusal(reasons: &[CancellationReason]) -> Result<Option<Refusal>, StoreError> {
    let failed = |i: usize| {
        reasons
            .get(i)
            .filter(|r| r.code() == Some("ConditionalCheckFailed"))
    };
    if failed(0).is_some() {
        return Ok(Some(Refusal::Token));
    }
    if failed(1).is_some() {
        return Ok(Some(Refusal::Catalog));
    }
    if let Some(order) = failed(2) {
        let existing = order
            .item()
            .cloned()
            .map(order_state::order_from_item)
            .transpose()?;
        return Ok(Some(Refusal::Exists(existing.map(Box::new))));
    }
    Ok(None)
}

/// See [`refusal`].
#[derive(Debug)]
enum Refusal {
    Token,
    /// The catalog's version item says another version: the catalog is read again.
    Catalog,
    /// `None` when the emulator did not return the existing order.
    Exists(Option<Box<Order>>),
}

/// What [`Store::put_order_checked`] checks in the same transaction as the order's write.
#[derive(Debug, Clone, Copy)]
pub struct OrderChecks<'a> {
    /// The bearer token SR presented (its claims are read from the token, untrusted until
    /// its record confirms them).
    pub token: &'a TokenClaims,
    /// The `version` of the catalog the order's package snapshot was taken from.
    pub catalog_version: u64,
    /// Tokens expiring at or before this instant are refused.
    pub now: DateTime<Utc>,
}

/// One delivery attempt to record on its order.
#[derive(Debug, Clone)]
pub struct DeliveryRecord {
    pub order_id: String,
    pub attempt: DeliveryAttempt,
    /// The order's state is on its order item (read so: `!order.state_item`), not on a state
    /// item: an order stored before state items, whose latest result came before them too.
    pub state_on_order_item: bool,
    /// When the delivered result was submitted: the attempt expires with it (`retention`).
    pub result_submitted_at: DateTime<Utc>,
    /// The attempt's `detail` is the connector's own words (a status, a host), nothing an
    /// erasure removes: it is recorded as an attempt without one (two plain writes). Otherwise
    /// (SR's answer, a file's name) in one transaction with the state ([`Store::record_deliveries`]).
    pub detail_is_ours: bool,
    /// SR accepted the result, and the order's state item has room for that within its first
    /// KB: the attempt is recorded on the state item (`acceptances`) by the update that sets
    /// the state, one write instead of two. Any other attempt is an item of its own.
    pub on_state_item: bool,
}

/// What an update of the state item may add besides the acceptance it records and its
/// `delivered_status`: a longer `delivery_state` (up to 5 bytes), `sent_version` (1),
/// `updated_at` (chrono writes 0 to 9 fractional digits: up to 10), and 8 to spare (DynamoDB
/// sizes numbers "approximately").
const STATE_UPDATE_SLACK: usize = 24;

impl DeliveryRecord {
    /// The record of `attempt` at delivering `order`'s latest result.
    pub fn of(order: &Order, attempt: DeliveryAttempt) -> Self {
        let on_state_item = order.state_item
            && order_state::Acceptance::of(&attempt).is_some_and(|accepted| {
                // What the update's `delivered_status` adds: the attribute, or a longer status.
                let size = |s: ResultStatus| super::value_size(&to_value(&s));
                let status = match (order.delivered_status, delivered_status(&attempt)) {
                    (_, None) => 0,
                    (None, Some(new)) => "delivered_status".len() + size(new),
                    (Some(old), Some(new)) => size(new).saturating_sub(size(old)),
                };
                fits_on_state_item(order.state_item_bytes, &accepted, status)
            });
        Self {
            order_id: order.order_id.clone(),
            state_on_order_item: !order.state_item,
            result_submitted_at: order.result_submitted_at.unwrap_or(attempt.at),
            detail_is_ours: attempt.detail.is_none(),
            on_state_item,
            attempt,
        }
    }

    /// The item holding the order's state.
    fn state_key(&self) -> (String, String) {
        if self.state_on_order_item {
            keys::order(&self.order_id)
        } else {
            keys::order_state(&self.order_id)
        }
    }
}

/// Whether `accepted`, appended to the `acceptances` of a state item of `state_bytes` (as read)
/// by an update that also grows its `delivered_status` by `status_bytes`, leaves the item within
/// its first KB: recording it there then costs nothing, where an item of its own costs a write
/// unit (two in a transaction). Never past it: a state item over a KB bills every later result
/// and delivery twice as much, so acceptances only take room below that.
fn fits_on_state_item(
    state_bytes: usize,
    accepted: &order_state::Acceptance,
    status_bytes: usize,
) -> bool {
    // As if the list were new: its name and 3 bytes, then 1 per element.
    let added = order_state::ACCEPTANCES.len() + 3 + 1 + super::value_size(&to_value(accepted));
    let after = state_bytes + added + status_bytes + STATE_UPDATE_SLACK;
    state_bytes > 0 && after <= super::WRITE_UNIT_BYTES
}

/// What [`Store::record_deliveries`] did with one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptRecorded {
    /// Stored as made, and the order's delivery state set (unless a newer result is its
    /// latest: that result's own delivery sets it).
    Stored,
    /// The order was erased while the attempt was in flight: the attempt is stored without
    /// SR's answer (`detail`, which may quote the result), the state is left alone, and nothing
    /// about it may reach the vendor (no `delivery.failed`).
    OrderErased,
}

/// A position in one integration's order list: the `cursor` of a page, decoded and checked
/// ([`OrderCursor::decode`]) before it reaches a query.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderCursor {
    /// The list (`keys::orders_of_integration`) the position is in.
    partition: String,
    key: HashMap<String, AttributeValue>,
}

impl OrderCursor {
    /// The position `cursor` names in `integration_id`'s order list; `None` for a cursor that
    /// list did not make (another integration's, forged, garbage).
    pub fn decode(cursor: &str, integration_id: &str) -> Option<Self> {
        let partition = keys::orders_of_integration(integration_id);
        let key = decode_cursor(cursor, &partition)?;
        Some(Self { partition, key })
    }
}

#[derive(Debug)]
pub struct OrderPage {
    pub orders: Vec<Order>,
    pub next: Option<String>,
}

/// Most orders one `GET /assessment/orders` reads when a `statuses` filter skips some (eight
/// index pages of 250).
pub const MAX_SCANNED_PER_PAGE: usize = 2000;

/// Which of an integration's orders to list (Kombo's `statuses`, `ids`, `created_after`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderFilter {
    /// Empty: every status.
    pub statuses: Vec<VendorOrderStatus>,
    /// Only these orders (read with `BatchGetItem`, not by walking the list).
    pub ids: Option<Vec<String>>,
    /// Only orders created at or after this instant (Kombo's `created_after`).
    pub created_after: Option<DateTime<Utc>>,
}

impl OrderFilter {
    fn matches(&self, order: &Order) -> bool {
        (self.statuses.is_empty() || self.statuses.contains(&order.vendor_status()))
            && self
                .created_after
                .is_none_or(|after| order.created_at >= after)
    }
}

/// The order's sort key in the integration's list: creation time, then id.
fn list_position(order: &Order) -> String {
    format!("{}#{}", order.created_at.to_rfc3339(), order.order_id)
}

/// A new result version to store.
pub struct ResultWrite<'a> {
    /// The order as read before the submission was checked: the write happens only while its
    /// `result_version` is still the stored one (optimistic lock) and on its integration.
    pub order: &'a Order,
    pub result: &'a PackageResult,
    pub submission: &'a Submission,
    /// SHA-256 of the vendor's request body, kept on the order (see
    /// `Order::result_request_sha256`); `None` for writes that come from no request.
    pub request_sha256: Option<&'a str>,
    /// The submission's files (their inline bytes staged with `Store::stage_file_data`): they
    /// become the order's files in the same transaction.
    pub files: &'a [FileRecord],
    pub now: DateTime<Utc>,
}

impl Store {
    /// Places a new order in ONE `TransactWriteItems` (SR's order endpoints make no other AWS
    /// call on a warm path): it checks the presented token's record (issued to the token's
    /// company and integration, unrevoked, unexpired at `checks.now`), checks that the catalog
    /// the order's package was read from is still at `checks.catalog_version` (its small version
    /// item, `keys::catalog_version`), and puts the order only if its id is new. Nothing is
    /// written unless all three hold.
    ///
    /// The failed checks are answered in that order: a refused token before a changed catalog
    /// before an existing order. The existing order comes back with the cancellation
    /// (`ReturnValuesOnConditionCheckFailure=ALL_OLD`); the current catalog is read (the rare
    /// case of a vendor changing it while SR orders).
    /// `Err(Conflict)` when another transaction held one of the items (SR's concurrent retry):
    /// the caller tries again.
    pub async fn put_order_checked(
        &self,
        order: &Order,
        checks: &OrderChecks<'_>,
    ) -> Result<PutOrderOutcome, StoreError> {
        let mut item = order_state::new_order_item(to_item(order, keys::order(&order.order_id)));
        // The list's keys-only index: the order's later updates write no index copy.
        item.insert(
            keys::GSI2_PK.into(),
            AttributeValue::S(keys::orders_of_integration(&order.integration_id)),
        );
        item.insert(
            keys::GSI2_SK.into(),
            AttributeValue::S(list_position(order)),
        );
        let token = checks.token;
        let token_check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key_of(keys::token(&token.company_id, &token.digest))))
            .condition_expression(
                "company_id = :company AND integration_id = :integration \
                 AND expires_at > :now AND attribute_not_exists(revoked_at)",
            )
            .expression_attribute_values(":company", AttributeValue::S(token.company_id.clone()))
            .expression_attribute_values(
                ":integration",
                AttributeValue::S(token.integration_id.clone()),
            )
            .expression_attribute_values(
                ":now",
                AttributeValue::N(checks.now.timestamp().to_string()),
            )
            .build()
            .expect("key and condition are set");
        // The catalog's small version item, not the catalog: a condition check is billed at the
        // checked item's size. A catalog not written since the version item exists has none,
        // and no change since either, so any kept copy of it is current.
        let catalog_check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key_of(keys::catalog_version(&order.integration_id))))
            .condition_expression("attribute_not_exists(pk) OR version = :version")
            .expression_attribute_values(
                ":version",
                AttributeValue::N(checks.catalog_version.to_string()),
            )
            .build()
            .expect("key and condition are set");
        // A little past the retention: the first results need not re-stamp it (`order_state`).
        item.insert(
            keys::EXPIRES_AT.into(),
            AttributeValue::N(order_item_expiry(self.retention, order.created_at).to_string()),
        );
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .expect("item is set");
        let result = self
            .db
            .transact_write_items()
            .transact_items(
                TransactWriteItem::builder()
                    .condition_check(token_check)
                    .build(),
            )
            .transact_items(
                TransactWriteItem::builder()
                    .condition_check(catalog_check)
                    .build(),
            )
            .transact_items(TransactWriteItem::builder().put(put).build())
            .send()
            .await;
        let error = match result {
            Ok(_) => return Ok(PutOrderOutcome::Created),
            Err(e) => e,
        };
        match refusal(super::cancellation_reasons(&error))? {
            Some(Refusal::Token) => return Ok(PutOrderOutcome::TokenRefused),
            Some(Refusal::Catalog) => {
                // BatchGetItem, as the token and catalog are read on the order path (the order
                // functions' IAM allows no GetItem on the catalog).
                let current = self
                    .batch_get(vec![key_of(keys::catalog(&order.integration_id))])
                    .await?
                    .into_iter()
                    .next()
                    .map(from_item::<Catalog>)
                    .transpose()?;
                return Ok(PutOrderOutcome::CatalogChanged(current.map(Box::new)));
            }
            Some(Refusal::Exists(Some(existing))) => return Ok(PutOrderOutcome::Exists(existing)),
            Some(Refusal::Exists(None)) => {
                // DynamoDB returns the item with ALL_OLD; an emulator that does not is read.
                let existing = self
                    .get_order(&order.order_id)
                    .await?
                    .ok_or(StoreError::Conflict)?;
                return Ok(PutOrderOutcome::Exists(Box::new(existing)));
            }
            None => {}
        }
        if super::lost_race(&error) {
            return Err(StoreError::Conflict);
        }
        Err(StoreError::of_transaction(error, "the order"))
    }

    /// The order with its state (`order_state`): two strongly consistent `GetItem`s at once.
    pub async fn get_order(&self, order_id: &str) -> Result<Option<Order>, StoreError> {
        let (order, state) = tokio::try_join!(
            self.get_item(keys::order(order_id), true),
            self.get_item(keys::order_state(order_id), true),
        )?;
        Ok(order_state::assemble(order.into_iter().chain(state).collect())?.remove(order_id))
    }

    /// Orders read from `gsi1` (which copies order items, not their state items), with the
    /// state items results since made for them applied: one eventually consistent
    /// `BatchGetItem` per 100 orders, as the index itself.
    pub(super) async fn with_states(
        &self,
        mut orders: Vec<Order>,
    ) -> Result<Vec<Order>, StoreError> {
        for chunk in orders.chunks_mut(100) {
            let keys = chunk
                .iter()
                .map(|order| key_of(keys::order_state(&order.order_id)))
                .collect();
            let mut states: HashMap<String, Item> = self
                .batch_get_with(keys, false)
                .await?
                .into_iter()
                .filter_map(|state| {
                    let id = keys::order_id_of(&state)?.to_owned();
                    Some((id, state))
                })
                .collect();
            for order in chunk {
                if let Some(state) = states.remove(&order.order_id) {
                    order_state::apply(order, state)?;
                }
            }
        }
        Ok(orders)
    }

    /// Whether an order with this id is stored (its order item alone, keys only).
    pub async fn order_exists(&self, order_id: &str) -> Result<bool, StoreError> {
        let output = self
            .db
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_of(keys::order(order_id))))
            .projection_expression("pk")
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::service)?;
        Ok(output.item.is_some())
    }

    /// The order if it belongs to `integration` (another integration's order reads as absent),
    /// with its submissions and delivery attempts when `with_history`. The ids are checked
    /// where they entered ([`OrderId`] fits a DynamoDB key).
    pub async fn get_integration_order(
        &self,
        integration: &IntegrationId,
        order_id: &OrderId,
        with_history: bool,
    ) -> Result<Option<Order>, StoreError> {
        let order = if with_history {
            self.get_order_with_history(order_id).await?
        } else {
            self.get_order(order_id).await?
        };
        Ok(order.filter(|o| o.integration_id == *integration))
    }

    /// One page of an integration's orders that match `filter`, oldest first.
    ///
    /// A `statuses` filter is applied to what the index returns, so one call reads at most
    /// `MAX_SCANNED_PER_PAGE` orders: a rare status in a long list answers a short (even
    /// empty) page with a `next` cursor, instead of reading the whole list within one request.
    pub async fn list_orders(
        &self,
        integration_id: &str,
        filter: &OrderFilter,
        cursor: Option<&OrderCursor>,
        page_size: usize,
    ) -> Result<OrderPage, StoreError> {
        self.list_orders_scanning(
            integration_id,
            filter,
            cursor,
            page_size,
            MAX_SCANNED_PER_PAGE,
        )
        .await
    }

    /// [`Self::list_orders`] reading at most `budget` orders (tests use a small one).
    #[doc(hidden)]
    pub async fn list_orders_scanning(
        &self,
        integration_id: &str,
        filter: &OrderFilter,
        cursor: Option<&OrderCursor>,
        page_size: usize,
        budget: usize,
    ) -> Result<OrderPage, StoreError> {
        let partition = keys::orders_of_integration(integration_id);
        let (mut index, mut start) = match cursor {
            Some(c) if c.partition == partition => (ListIndex::of(&c.key), Some(c.key.clone())),
            // A cursor decoded for another integration's list: a caller's mistake, never the
            // vendor's (the vendor API decodes it for the integration it lists).
            Some(_) => {
                return Err(StoreError::Corrupt {
                    key: "cursor".into(),
                    reason: "a cursor of another integration's list".into(),
                })
            }
            None => (ListIndex::Legacy, None),
        };
        if let Some(ids) = &filter.ids {
            let after = start.as_ref().and_then(position_of);
            return self
                .listed_by_id(&partition, integration_id, ids, filter, after, page_size)
                .await;
        }
        // Positions are `{created_at}#{id}`, so every position of an order created at or after
        // the instant sorts after the instant alone.
        let after = filter.created_after.map(|t| t.to_rfc3339());
        // A cursor at or before `created_after` (a later filter on an older cursor) names a
        // position outside the query's range, which DynamoDB refuses: the list starts at the
        // filter instead, in the cursor's index.
        if let (Some(after), Some(position)) = (&after, start.as_ref().and_then(position_of)) {
            if position <= *after {
                start = None;
            }
        }
        // Unfiltered, a page is one query of `page_size + 1`; filtered, full index pages.
        let limit = if filter.statuses.is_empty() {
            (page_size as i32).clamp(1, 250) + 1
        } else {
            (budget as i32).clamp(1, 250)
        };
        let mut orders = Vec::new();
        let mut scanned = 0;
        // Where the last order read was, in either index.
        let mut last_position = None;
        loop {
            let (name, pk, sk) = index.names();
            let mut query = self
                .db
                .query()
                .table_name(&self.table)
                .index_name(name)
                .expression_attribute_names("#pk", pk)
                .expression_attribute_values(":p", AttributeValue::S(partition.clone()))
                .set_exclusive_start_key(start.take())
                .limit(limit);
            query = match &after {
                Some(after) => query
                    .key_condition_expression("#pk = :p AND #sk > :after")
                    .expression_attribute_names("#sk", sk)
                    .expression_attribute_values(":after", AttributeValue::S(after.clone())),
                None => query.key_condition_expression("#pk = :p"),
            };
            let output = query.send().await.map_err(|e| index_error(e, name))?;
            let last_key = output.last_evaluated_key.filter(|k| !k.is_empty());
            let mut items = output.items.unwrap_or_default().into_iter().peekable();
            while items.peek().is_some() {
                // `gsi2` holds keys: read only the orders the page can still take (a status
                // filter may skip any, so a full `BatchGetItem` of those).
                let take = match index {
                    ListIndex::Legacy => usize::MAX,
                    ListIndex::Orders if filter.statuses.is_empty() => page_size - orders.len(),
                    ListIndex::Orders => 100,
                };
                let chunk: Vec<Item> = items.by_ref().take(take.max(1)).collect();
                for (position, order) in self.listed(index, chunk).await? {
                    scanned += 1;
                    last_position = Some(position);
                    let Some(order) = order else { continue };
                    if !filter.matches(&order) {
                        continue;
                    }
                    orders.push(order);
                    if orders.len() == page_size {
                        return Ok(OrderPage {
                            orders,
                            next: last_position.as_ref().map(encode_cursor),
                        });
                    }
                }
            }
            match last_key {
                Some(key) if scanned >= budget => {
                    return Ok(OrderPage {
                        orders,
                        next: Some(encode_cursor(&key)),
                    })
                }
                Some(key) => start = Some(key),
                // The orders written before `gsi2` are older than every order in it: the list
                // goes on there from its start (in the next call, if this one has read enough:
                // its cursor is the last legacy position, after which `gsi1` is empty).
                None if index == ListIndex::Legacy => match &last_position {
                    Some(position) if scanned >= budget => {
                        return Ok(OrderPage {
                            orders,
                            next: Some(encode_cursor(position)),
                        })
                    }
                    _ => index = ListIndex::Orders,
                },
                None => return Ok(OrderPage { orders, next: None }),
            }
        }
    }

    /// One index page's orders, in the page's order, each with its list position (a cursor's
    /// key). `gsi1` holds the orders themselves; `gsi2` their keys, read with `BatchGetItem`.
    /// `None` for an order gone since the index was read (its TTL expired).
    async fn listed(
        &self,
        index: ListIndex,
        items: Vec<Item>,
    ) -> Result<Vec<(HashMap<String, AttributeValue>, Option<Order>)>, StoreError> {
        if index == ListIndex::Legacy {
            let keys: Vec<_> = items.iter().map(index_key).collect();
            let orders = items
                .into_iter()
                .map(order_state::order_from_item)
                .collect::<Result<Vec<Order>, _>>()?;
            let orders = self.with_states(orders).await?;
            return Ok(keys.into_iter().zip(orders.into_iter().map(Some)).collect());
        }
        let ids: Vec<String> = items
            .iter()
            .filter_map(keys::order_id_of)
            .map(str::to_owned)
            .collect();
        let wanted: Vec<&str> = ids.iter().map(String::as_str).collect();
        // Eventually consistent, as the index they were found in.
        let mut found = self.get_orders_with(&wanted, false).await?;
        Ok(items
            .into_iter()
            .map(|item| {
                let order = keys::order_id_of(&item).and_then(|id| found.remove(id));
                (index_key(&item), order)
            })
            .collect())
    }

    /// The `ids` filter: the named orders of this integration, in list order, after the
    /// cursor's position. Cursors are positions like the list's, so paging works the same.
    async fn listed_by_id(
        &self,
        partition: &str,
        integration_id: &str,
        ids: &[String],
        filter: &OrderFilter,
        after: Option<String>,
        page_size: usize,
    ) -> Result<OrderPage, StoreError> {
        let wanted: Vec<&str> = ids.iter().map(String::as_str).collect();
        let mut listed: Vec<(String, Order)> = self
            .get_orders(&wanted)
            .await?
            .into_values()
            .filter(|o| o.integration_id == integration_id && filter.matches(o))
            .map(|o| (list_position(&o), o))
            .filter(|(position, _)| after.as_ref().is_none_or(|a| position > a))
            .collect();
        listed.sort_by(|a, b| a.0.cmp(&b.0));
        let next = (listed.len() > page_size).then(|| {
            let (position, last) = &listed[page_size - 1];
            let (pk, sk) = keys::order(&last.order_id);
            let key: HashMap<String, AttributeValue> = [
                (keys::PK, pk),
                (keys::SK, sk),
                (keys::GSI2_PK, partition.to_string()),
                (keys::GSI2_SK, position.clone()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), AttributeValue::S(v)))
            .collect();
            encode_cursor(&key)
        });
        listed.truncate(page_size);
        Ok(OrderPage {
            orders: listed.into_iter().map(|(_, o)| o).collect(),
            next,
        })
    }

    /// Stores a new result version, only if nobody stored another since the order was read,
    /// together with the submission as its own history item: ONE `TransactWriteItems` (the
    /// conditional update of the order's state item, `keys::order_state`; the put of
    /// `HISTORY#SUBMISSION#{version}`), so a failure leaves neither and the vendor's retry
    /// stores one version, never a version without its history. The condition failing is
    /// [`StoreError::Conflict`] (re-read, retry).
    ///
    /// The state item is written whole, from the order as read, so an order whose state was
    /// still on its order item (stored before state items) moves it over with its next result.
    /// The order item itself is written only when its expiry would fall before the state's
    /// (`order_state::order_item_needs_stamp`).
    pub async fn write_result(&self, write: ResultWrite<'_>) -> Result<Order, StoreError> {
        let ResultWrite {
            order,
            result,
            submission,
            request_sha256,
            files: file_records,
            now,
        } = write;
        let version = order.result_version + 1;
        let files = crate::results::submission_has_files(&submission.vendor_body);
        let mut values = HashMap::from([
            (":result".to_string(), to_value(result)),
            (
                ":version".to_string(),
                AttributeValue::N(version.to_string()),
            ),
            (":queued".to_string(), to_value(&DeliveryState::Queued)),
            (":now".to_string(), to_value(&now)),
            (":expires".to_string(), self.retention.expiry_value(now)),
            (
                ":integration".to_string(),
                AttributeValue::S(order.integration_id.clone()),
            ),
            (
                ":expected".to_string(),
                AttributeValue::N(order.result_version.to_string()),
            ),
            (
                ":sent".to_string(),
                AttributeValue::N(order.sent_version.to_string()),
            ),
        ]);
        if let Some(status) = order.delivered_status {
            values.insert(":delivered".into(), to_value(&status));
        }
        let rejected_by_vendor = result.status == Some(crate::sr::ResultStatus::Rejected)
            && crate::orders::says_rejected(&submission.vendor_body);
        // Creates the state item when the order has none yet (its state was the order item's,
        // read into `order`): what a delivery set there is carried over. What is absent reads
        // as its default (`false`, none), so it is removed rather than stored: every delivery
        // rewrites this item, billed per started KB.
        let mut set = vec![
            "#result = :result",
            "result_version = :version",
            "delivery_state = :queued",
            "updated_at = :now",
            "result_submitted_at = :now",
            "expires_at = :expires",
            "integration_id = :integration",
            "sent_version = if_not_exists(sent_version, :sent)",
        ];
        let mut remove = Vec::new();
        if order.delivered_status.is_some() {
            set.push("delivered_status = if_not_exists(delivered_status, :delivered)");
        }
        let optional = [
            (
                "result_request_sha256",
                ":request",
                request_sha256.map(|digest| AttributeValue::S(digest.into())),
            ),
            (
                "result_rejected_by_vendor",
                ":rejected",
                rejected_by_vendor.then_some(AttributeValue::Bool(true)),
            ),
            (
                "has_file_attachments",
                ":files",
                (order.has_file_attachments || files).then_some(AttributeValue::Bool(true)),
            ),
        ];
        let mut assignments = Vec::new();
        for (name, placeholder, value) in optional {
            match value {
                Some(value) => {
                    values.insert(placeholder.to_string(), value);
                    assignments.push(format!("{name} = {placeholder}"));
                }
                None => remove.push(name),
            }
        }
        set.extend(assignments.iter().map(String::as_str));
        let mut expression = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key_of(keys::order_state(&order.order_id))))
            .update_expression(expression)
            // No other result since the read (a state item without a version is either absent
            // or an erasure's tombstone, which the last clause refuses), and not on an erased
            // order (`privacy`): the retry re-reads it and refuses the result.
            .condition_expression(
                "(attribute_not_exists(result_version) OR result_version = :expected) \
                 AND (attribute_not_exists(integration_id) OR integration_id = :integration) \
                 AND attribute_not_exists(erased_at)",
            )
            .expression_attribute_names("#result", "result")
            .set_expression_attribute_values(Some(values))
            .build()
            .expect("table, key and expression are set");
        let submission = Submission {
            version: Some(version),
            ..submission.clone()
        };
        let mut history_item = to_item(&submission, keys::submission(&order.order_id, version));
        self.retention.stamp(&mut history_item, now);
        let history = Put::builder()
            .table_name(&self.table)
            .set_item(Some(history_item))
            .build()
            .expect("table and item are set");
        // At most 3 + 2 × 20 files items, within a transaction's 100.
        let file_items = file_records
            .iter()
            .flat_map(|f| self.file_commit(f, now))
            .map(|u| TransactWriteItem::builder().update(u).build());
        // The order item outlives its state: re-stamped, in the same transaction, only when its
        // expiry would fall first. An order whose state was read from its order item (stored
        // before state items) is checked there too, unchanged since the read: a delivery
        // recorded on it meanwhile would otherwise be lost under the state item this creates.
        let legacy = !order.state_item && order.result_version > 0;
        let needs_stamp = order_item_needs_stamp(self.retention, order.item_expires_at, now);
        let stamp = (legacy || needs_stamp).then(|| {
            let expiry = order_item_expiry(self.retention, now);
            let mut update = Update::builder()
                .table_name(&self.table)
                .set_key(Some(key_of(keys::order(&order.order_id))))
                .expression_attribute_values(":expires", AttributeValue::N(expiry.to_string()));
            update = if legacy {
                // The state leaves the order item: were the state item to expire first, the
                // order must not read as its old state again.
                update
                    .update_expression(format!(
                        "SET expires_at = :expires REMOVE {}",
                        order_state::MOVED_ATTRIBUTES
                    ))
                    .expression_attribute_names("#result", "result")
                    .condition_expression(
                        "result_version = :expected AND sent_version = :sent \
                         AND delivery_state = :delivery AND attribute_not_exists(erased_at)",
                    )
                    .expression_attribute_values(
                        ":expected",
                        AttributeValue::N(order.result_version.to_string()),
                    )
                    .expression_attribute_values(
                        ":sent",
                        AttributeValue::N(order.sent_version.to_string()),
                    )
                    .expression_attribute_values(":delivery", to_value(&order.delivery_state))
            } else {
                update
                    .update_expression("SET expires_at = :expires")
                    .condition_expression("attribute_exists(pk)")
            };
            let update = update.build().expect("table, key and expression are set");
            (update, expiry)
        });
        let written = self
            .db
            .transact_write_items()
            .set_transact_items(Some(
                [
                    TransactWriteItem::builder().update(update).build(),
                    TransactWriteItem::builder().put(history).build(),
                ]
                .into_iter()
                .chain(
                    stamp
                        .as_ref()
                        .map(|(u, _)| TransactWriteItem::builder().update(u.clone()).build()),
                )
                .chain(file_items)
                .collect(),
            ))
            .send()
            .await;
        match written {
            Ok(_) => {}
            // Another submission took this version, or holds the order right now: re-read.
            Err(e) if super::lost_race(&e) => return Err(StoreError::Conflict),
            Err(e) => return Err(StoreError::of_transaction(e, "result")),
        }
        // A transaction answers no attributes: the order as written is the one read, changed as
        // the update above changed it (the condition held, so nobody else stored a result).
        let mut written = order.clone();
        written.result = Some(result.clone());
        written.result_version = version;
        written.delivery_state = DeliveryState::Queued;
        written.updated_at = now;
        written.result_submitted_at = Some(now);
        written.has_file_attachments |= files;
        written.state_item = true;
        if let Some((_, expiry)) = stamp {
            written.item_expires_at = Some(expiry);
        }
        written.result_request_sha256 = request_sha256.map(str::to_owned);
        written.result_rejected_by_vendor = rejected_by_vendor;
        written.submissions.push(submission);
        Ok(written)
    }

    /// The submission that became result `version` of the order, if stored as its own item.
    pub async fn get_submission(
        &self,
        order_id: &str,
        version: u64,
    ) -> Result<Option<Submission>, StoreError> {
        self.get(keys::submission(order_id, version), true).await
    }

    /// The order with its whole history (submissions and delivery attempts, oldest first), in
    /// one Query: the history items sort right before the order item. Histories kept on order
    /// items written before they had items of their own come first.
    pub async fn get_order_with_history(
        &self,
        order_id: &str,
    ) -> Result<Option<Order>, StoreError> {
        let (pk, _) = keys::order(order_id);
        let mut order: Option<Order> = None;
        let mut state = None;
        let mut submissions = Vec::new();
        let mut deliveries = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .db
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND sk >= :from")
                .expression_attribute_values(":pk", AttributeValue::S(pk.clone()))
                .expression_attribute_values(
                    ":from",
                    AttributeValue::S(keys::HISTORY_PREFIX.into()),
                )
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(StoreError::service)?;
            for item in output.items.unwrap_or_default() {
                let sk = item.get(keys::SK).and_then(|v| v.as_s().ok()).cloned();
                match sk.as_deref() {
                    Some(sk) if sk.starts_with(keys::SUBMISSION_PREFIX) => {
                        submissions.push(from_item::<Submission>(item)?)
                    }
                    Some(sk) if sk.starts_with(keys::ATTEMPT_PREFIX) => {
                        deliveries.push(from_item::<DeliveryAttempt>(item)?)
                    }
                    Some("ORDER") => order = Some(order_state::order_from_item(item)?),
                    Some("STATE") => state = Some(item),
                    _ => {}
                }
            }
            match output.last_evaluated_key.filter(|k| !k.is_empty()) {
                Some(key) => start = Some(key),
                None => break,
            }
        }
        let Some(mut order) = order else {
            return Ok(None);
        };
        if let Some(state) = state {
            deliveries.extend(order_state::deliveries_on(&state)?);
            order_state::apply(&mut order, state)?;
        }
        // Items come in time order; those recorded on the state item join them in it. An
        // acceptance whose update was retried after a lost answer, and then refused by a newer
        // result, is also an item of its own: listed once.
        deliveries.sort_by_key(|d| d.at);
        deliveries.dedup();
        order.submissions.extend(submissions);
        order.deliveries.extend(deliveries);
        Ok(Some(order))
    }

    /// The orders with these ids, with their state, strongly consistent: one `BatchGetItem`
    /// per 50 orders (each is two keys);
    /// missing orders are absent from the map.
    pub async fn get_orders(
        &self,
        order_ids: &[&str],
    ) -> Result<HashMap<String, Order>, StoreError> {
        self.get_orders_with(order_ids, true).await
    }

    /// [`Self::get_orders`], strongly consistent or not.
    async fn get_orders_with(
        &self,
        order_ids: &[&str],
        consistent: bool,
    ) -> Result<HashMap<String, Order>, StoreError> {
        let mut unique: Vec<&str> = order_ids.to_vec();
        unique.sort_unstable();
        unique.dedup();
        let mut orders = HashMap::new();
        // Each order's item and its state item: 50 orders per `BatchGetItem` of 100 keys.
        for chunk in unique.chunks(50) {
            let keys = chunk
                .iter()
                .flat_map(|id| [key_of(keys::order(id)), key_of(keys::order_state(id))])
                .collect();
            let items = self.batch_get_with(keys, consistent).await?;
            orders.extend(order_state::assemble(items)?);
        }
        Ok(orders)
    }

    /// Records a batch of delivery attempts, each as its own history item or, for an acceptance
    /// that fits (`DeliveryRecord::on_state_item`), on the order's state item, and sets each
    /// order's delivery state while the attempt's version is still its latest result. ONE
    /// `TransactWriteItems` when every order is distinct and at the attempted version (the
    /// common case); otherwise, or when that fails, each attempt on its own, so one that cannot
    /// be recorded fails alone, and one whose order was erased meanwhile is
    /// [`AttemptRecorded::OrderErased`]. The outcome of each record, in order.
    pub async fn record_deliveries(
        &self,
        records: &[DeliveryRecord],
        now: DateTime<Utc>,
    ) -> Vec<Result<AttemptRecorded, StoreError>> {
        // An order's second record in one batch (a replay beside its delivery) was sized from
        // the same read as its first: only the first may take room on the state item.
        let mut seen = std::collections::HashSet::new();
        let records: Vec<DeliveryRecord> = records
            .iter()
            .map(|r| {
                let first = seen.insert(r.order_id.as_str());
                DeliveryRecord {
                    on_state_item: r.on_state_item && first,
                    ..r.clone()
                }
            })
            .collect();
        let distinct = seen.len() == records.len();
        // One item per record, two unless on the state item; a transaction holds at most 100.
        let item_count: usize = records
            .iter()
            .map(|r| 2 - usize::from(r.on_state_item))
            .sum();
        if records.len() > 1 && item_count <= 100 && distinct {
            let items = records
                .iter()
                .flat_map(|r| {
                    let attempt = (!r.on_state_item).then(|| {
                        TransactWriteItem::builder()
                            .put(self.attempt_put(r))
                            .build()
                    });
                    std::iter::once(
                        TransactWriteItem::builder()
                            .update(self.state_update(r, now))
                            .build(),
                    )
                    .chain(attempt)
                })
                .collect();
            let result = self
                .db
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await;
            match result {
                Ok(_) => {
                    return records
                        .iter()
                        .map(|_| Ok(AttemptRecorded::Stored))
                        .collect()
                }
                // A newer result arrived for one of the orders, one was erased, or one item
                // cannot be written: record each attempt on its own.
                Err(e) => {
                    tracing::info!(error = %StoreError::service(e), "recording the batch's attempts one by one")
                }
            }
        }
        let mut outcomes = Vec::with_capacity(records.len());
        for record in &records {
            outcomes.push(self.record_delivery(record, now).await);
        }
        outcomes
    }

    /// The update that sets the order's delivery state on its state item (the order item for
    /// an order whose state is still there), conditional on the attempt's version still being
    /// the order's latest result and the order not erased (an erasure that ran while the
    /// attempt was in flight wins). A delivery is no change of the order's data: it re-stamps no
    /// expiry (`retention`).
    fn state_update(&self, record: &DeliveryRecord, now: DateTime<Utc>) -> Update {
        let delivered = delivered_status(&record.attempt);
        let mut values = HashMap::from([
            (":state".to_string(), to_value(&record.attempt.outcome)),
            (
                ":version".to_string(),
                AttributeValue::N(record.attempt.version.to_string()),
            ),
            (":now".to_string(), to_value(&now)),
        ]);
        if let Some(status) = delivered {
            values.insert(":delivered".into(), to_value(&status));
        }
        if let Some(accepted) =
            order_state::Acceptance::of(&record.attempt).filter(|_| record.on_state_item)
        {
            values.insert(
                ":attempt".into(),
                AttributeValue::L(vec![to_value(&accepted)]),
            );
            values.insert(":none".into(), AttributeValue::L(vec![]));
        }
        Update::builder()
            .table_name(&self.table)
            .set_key(Some(key_of(record.state_key())))
            .update_expression(format!(
                "SET delivery_state = :state, sent_version = :version, updated_at = :now{}{}",
                if delivered.is_some() {
                    ", delivered_status = :delivered"
                } else {
                    ""
                },
                if record.on_state_item {
                    ", acceptances = list_append(if_not_exists(acceptances, :none), :attempt)"
                } else {
                    ""
                }
            ))
            .condition_expression("result_version = :version AND attribute_not_exists(erased_at)")
            .set_expression_attribute_values(Some(values))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .expect("table, key and expression are set")
    }

    /// The attempt's own history item.
    fn attempt_put(&self, record: &DeliveryRecord) -> Put {
        let key = keys::attempt(
            &record.order_id,
            record.attempt.at,
            &crate::auth::credentials::random_token(6),
        );
        let mut item = to_item(&record.attempt, key);
        // Kept as long as the result it delivered (and its state item), not longer.
        self.retention.stamp(&mut item, record.result_submitted_at);
        Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .build()
            .expect("table and item are set")
    }

    /// One attempt and the order's state, the state only while the attempt's version is still
    /// the order's latest (a slow old attempt cannot mask a newer result) and the order is not
    /// erased.
    ///
    /// An acceptance that fits on the state item is one `UpdateItem` of it; refused (a newer
    /// result, an erasure), it becomes a history item of its own. Another attempt without
    /// `detail`, or with the connector's own words only (a retry after SR's 5xx or 429:
    /// [`DeliveryRecord::detail_is_ours`]), holds nothing an erasure removes: its history item,
    /// then the state, two plain writes. One with SR's
    /// answer (which may quote the result) or a file's name is written with the state in one
    /// `TransactWriteItems`, so an erasure that ran while it was in flight (its tombstone fails
    /// the state's condition) never finds it stored: the attempt is then written without it.
    async fn record_delivery(
        &self,
        record: &DeliveryRecord,
        now: DateTime<Utc>,
    ) -> Result<AttemptRecorded, StoreError> {
        let put = self.attempt_put(record);
        let update = self.state_update(record, now);
        if record.on_state_item {
            return match self.update_alone(&update).await {
                Ok(_) => Ok(AttemptRecorded::Stored),
                Err(error) => match error.as_service_error() {
                    // A newer result is the latest, or the order was erased: SR's acceptance
                    // is history all the same, as an item of its own (nothing in it to erase).
                    Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                        self.put_attempt(put.item().clone()).await?;
                        Ok(state_refused(failed.item()))
                    }
                    _ => Err(StoreError::of_write(error, "order")),
                },
            };
        }
        if record.detail_is_ours {
            self.put_attempt(put.item().clone()).await?;
            let result = self.update_alone(&update).await;
            return match result {
                Ok(_) => Ok(AttemptRecorded::Stored),
                Err(error) => match error.as_service_error() {
                    Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                        match state_refused(failed.item()) {
                            // As an erasure leaves it, so a repeated erasure finds nothing.
                            AttemptRecorded::OrderErased if record.attempt.detail.is_some() => {
                                self.put_erased_attempt(&put).await
                            }
                            refused => Ok(refused),
                        }
                    }
                    _ => Err(StoreError::of_write(error, "order")),
                },
            };
        }
        let result = self
            .db
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(update).build())
            .transact_items(TransactWriteItem::builder().put(put.clone()).build())
            .send()
            .await;
        let Err(error) = result else {
            return Ok(AttemptRecorded::Stored);
        };
        let refused = super::cancellation_reasons(&error)
            .first()
            .filter(|r| r.code() == Some("ConditionalCheckFailed"))
            .map(|r| state_refused(r.item()));
        match refused {
            Some(AttemptRecorded::OrderErased) => self.put_erased_attempt(&put).await,
            // A newer result is the order's latest: the attempt is kept, in a transaction that
            // checks again that no erasure came in between.
            Some(AttemptRecorded::Stored) => {
                let unerased = ConditionCheck::builder()
                    .table_name(&self.table)
                    .set_key(Some(key_of(record.state_key())))
                    .condition_expression("attribute_not_exists(erased_at)")
                    .build()
                    .expect("table, key and condition are set");
                let result = self
                    .db
                    .transact_write_items()
                    .transact_items(
                        TransactWriteItem::builder()
                            .condition_check(unerased)
                            .build(),
                    )
                    .transact_items(TransactWriteItem::builder().put(put.clone()).build())
                    .send()
                    .await;
                match result {
                    Ok(_) => Ok(AttemptRecorded::Stored),
                    Err(e)
                        if super::cancellation_reasons(&e)
                            .first()
                            .is_some_and(|r| r.code() == Some("ConditionalCheckFailed")) =>
                    {
                        self.put_erased_attempt(&put).await
                    }
                    Err(e) => Err(StoreError::of_transaction(e, "delivery attempt")),
                }
            }
            None => Err(StoreError::of_transaction(error, "delivery attempt")),
        }
    }

    /// The attempt as an erasure leaves one (`privacy::erased_delivery`): without SR's answer.
    async fn put_erased_attempt(&self, put: &Put) -> Result<AttemptRecorded, StoreError> {
        let mut item = put.item().clone();
        item.insert("detail".into(), AttributeValue::Null(true));
        self.put_attempt(item).await?;
        Ok(AttemptRecorded::OrderErased)
    }

    /// Writes a delivery attempt's history item.
    async fn put_attempt(&self, item: Item) -> Result<(), StoreError> {
        self.db
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| StoreError::of_write(e, "delivery attempt"))
    }
}

/// What a refused state update means, by the state item as it was (`ALL_OLD`): the order was
/// erased, or a newer result is its latest — that result's own delivery sets the state (so does
/// the result that moved an order read with its state on the order item to a state item), and
/// the attempt is kept all the same.
fn state_refused(state: Option<&HashMap<String, AttributeValue>>) -> AttemptRecorded {
    if state.is_some_and(|s| s.contains_key("erased_at")) {
        AttemptRecorded::OrderErased
    } else {
        AttemptRecorded::Stored
    }
}

/// What SR holds after this attempt: the status a `DELIVERED` attempt carried.
fn delivered_status(attempt: &DeliveryAttempt) -> Option<crate::sr::ResultStatus> {
    (attempt.outcome == DeliveryState::Delivered)
        .then_some(attempt.result_status)
        .flatten()
}

/// A failed query of `index`: [`StoreError::IndexBuilding`] while DynamoDB fills an index an
/// upgrade added ("Cannot read from backfilling global secondary index", or not there yet).
pub(super) fn index_error<E>(
    error: aws_sdk_dynamodb::error::SdkError<E>,
    index: &'static str,
) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let message = error.message().unwrap_or_default().to_ascii_lowercase();
    let building = match error.code() {
        Some("ValidationException") => message.contains("backfilling"),
        Some("ResourceNotFoundException") => message.contains("index"),
        _ => false,
    };
    if building {
        StoreError::IndexBuilding { index }
    } else {
        StoreError::service(error)
    }
}

/// Which index an order is listed in: `gsi1` for orders written before `gsi2` existed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ListIndex {
    Legacy,
    Orders,
}

impl ListIndex {
    /// The index a list position (a cursor's key) is in.
    fn of(key: &HashMap<String, AttributeValue>) -> Self {
        if key.contains_key(keys::GSI1_SK) {
            ListIndex::Legacy
        } else {
            ListIndex::Orders
        }
    }

    /// The index's name and its key attributes.
    fn names(self) -> (&'static str, &'static str, &'static str) {
        match self {
            ListIndex::Legacy => (keys::GSI1, keys::GSI1_PK, keys::GSI1_SK),
            ListIndex::Orders => (keys::GSI2, keys::GSI2_PK, keys::GSI2_SK),
        }
    }
}

/// The `{created_at}#{id}` a list position (a cursor's key) names, in either index.
fn position_of(key: &HashMap<String, AttributeValue>) -> Option<String> {
    key.get(keys::GSI2_SK)
        .or_else(|| key.get(keys::GSI1_SK))
        .and_then(|v| v.as_s().ok())
        .cloned()
}

/// An order's position in its index, for resuming a query right after it: the table's and the
/// index's keys of the item.
fn index_key(item: &Item) -> HashMap<String, AttributeValue> {
    [
        keys::PK,
        keys::SK,
        keys::GSI1_PK,
        keys::GSI1_SK,
        keys::GSI2_PK,
        keys::GSI2_SK,
    ]
    .iter()
    .filter_map(|k| item.get(*k).map(|v| (k.to_string(), v.clone())))
    .collect()
}

fn encode_cursor(key: &HashMap<String, AttributeValue>) -> String {
    let plain: std::collections::BTreeMap<&str, &str> = key
        .iter()
        .filter_map(|(k, v)| v.as_s().ok().map(|s| (k.as_str(), s.as_str())))
        .collect();
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&plain).expect("strings serialize"))
}

/// Longest list position a cursor may carry: `{created_at}#{order id}`, ids being SR's (at most
/// 128 characters, `orders::order_id_from_callback`).
const MAX_POSITION_BYTES: usize = 256;

/// Decodes a cursor, refusing one that belongs to another integration's list or that this list
/// did not make: the vendor sends it back, and a forged key DynamoDB cannot take (other
/// attributes, an empty or oversized value) would otherwise fail the query as a 503.
fn decode_cursor(cursor: &str, partition: &str) -> Option<HashMap<String, AttributeValue>> {
    if cursor.len() > 4 * MAX_POSITION_BYTES + partition.len() * 2 {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let plain: HashMap<String, String> = serde_json::from_slice(&bytes).ok()?;
    let order_id = keys::order_id_in(plain.get(keys::PK)?)?;
    let (_, sort_key) = keys::order(order_id);
    // A position in `gsi2`, or in `gsi1` (cursors handed out before `gsi2` existed, and the
    // list's legacy part).
    let (index_pk, index_sk) = if plain.contains_key(keys::GSI2_PK) {
        (keys::GSI2_PK, keys::GSI2_SK)
    } else {
        (keys::GSI1_PK, keys::GSI1_SK)
    };
    let well_formed = plain.len() == 4
        && OrderId::parse(order_id).is_ok()
        && plain.get(keys::SK) == Some(&sort_key)
        && plain.get(index_pk).map(String::as_str) == Some(partition)
        && plain.get(index_sk).is_some_and(|position| {
            position.len() <= MAX_POSITION_BYTES
                && position.len() > order_id.len() + 1
                && position.ends_with(&format!("#{order_id}"))
        });
    if !well_formed {
        return None;
    }
    Some(
        plain
            .into_iter()
            .map(|(k, v)| (k, AttributeValue::S(v)))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_acceptance_goes_on_the_state_item_only_within_its_first_kb() {
        let accepted = DeliveryAttempt {
            version: 2,
            at: Utc::now(),
            sr_status_code: Some(200),
            outcome: DeliveryState::Delivered,
            detail: None,
            result_status: Some(crate::sr::ResultStatus::Completed),
        };
        let recorded = order_state::Acceptance::of(&accepted).unwrap();
        let added = super::super::value_size(&to_value(&recorded));
        assert!(added < 80, "{added} bytes");
        assert!(fits_on_state_item(500, &recorded, 27));
        assert!(fits_on_state_item(900, &recorded, 2));
        assert!(!fits_on_state_item(950, &recorded, 2));
        // Never into a second KB, though one over a KB bills two anyway: the item would stay
        // over a KB for every later write.
        assert!(!fits_on_state_item(1100, &recorded, 27));
        // No state item read: nothing to append to.
        assert!(!fits_on_state_item(0, &recorded, 27));
        // Only an acceptance is one.
        let refused = DeliveryAttempt {
            outcome: DeliveryState::Failed,
            detail: Some("refused".into()),
            ..accepted.clone()
        };
        assert!(order_state::Acceptance::of(&refused).is_none());

        let mut order = crate::orders::test_support::order(serde_json::json!({}));
        order.state_item = true;
        order.state_item_bytes = 500;
        assert!(DeliveryRecord::of(&order, accepted.clone()).on_state_item);
        // The update's `delivered_status` grows by what it replaces: PENDING (7 bytes) by
        // IN_PROGRESS (11), 4 bytes; up to the KB's last byte, and not one more.
        let in_progress = DeliveryAttempt {
            result_status: Some(crate::sr::ResultStatus::InProgress),
            ..accepted.clone()
        };
        let recorded = order_state::Acceptance::of(&in_progress).unwrap();
        let added =
            order_state::ACCEPTANCES.len() + 4 + super::super::value_size(&to_value(&recorded));
        order.delivered_status = Some(crate::sr::ResultStatus::Pending);
        order.state_item_bytes = 1024 - added - STATE_UPDATE_SLACK - 4;
        assert!(DeliveryRecord::of(&order, in_progress.clone()).on_state_item);
        order.state_item_bytes += 1;
        assert!(!DeliveryRecord::of(&order, in_progress).on_state_item);
        order.state_item_bytes = 500;
        // A refusal (SR's answer), or an order whose state is on its order item: items of their own.
        assert!(!DeliveryRecord::of(&order, refused).on_state_item);
        order.state_item = false;
        assert!(!DeliveryRecord::of(&order, accepted).on_state_item);
    }

    #[test]
    fn cursors_round_trip_and_stay_in_their_integration() {
        let key: HashMap<String, AttributeValue> = [
            ("pk", "ORDER#1"),
            ("sk", "ORDER"),
            ("gsi1pk", "INTEGRATION#a#ORDERS"),
            ("gsi1sk", "2026#1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), AttributeValue::S(v.to_string())))
        .collect();
        let cursor = encode_cursor(&key);
        assert_eq!(
            decode_cursor(&cursor, "INTEGRATION#a#ORDERS"),
            Some(key.clone())
        );
        assert_eq!(decode_cursor(&cursor, "INTEGRATION#b#ORDERS"), None);
        assert_eq!(decode_cursor("garbage", "INTEGRATION#a#ORDERS"), None);
        // A position in the keys-only index, and one mixing both indexes' names.
        let mut in_gsi2 = key.clone();
        for (from, to) in [("gsi1pk", "gsi2pk"), ("gsi1sk", "gsi2sk")] {
            let value = in_gsi2.remove(from).unwrap();
            in_gsi2.insert(to.into(), value);
        }
        let cursor = encode_cursor(&in_gsi2);
        assert_eq!(
            decode_cursor(&cursor, "INTEGRATION#a#ORDERS"),
            Some(in_gsi2.clone())
        );
        assert_eq!(ListIndex::of(&in_gsi2), ListIndex::Orders);
        assert_eq!(ListIndex::of(&key), ListIndex::Legacy);
        let mut mixed = in_gsi2;
        let position = mixed.remove("gsi2sk").unwrap();
        mixed.insert("gsi1sk".into(), position);
        assert_eq!(
            decode_cursor(&encode_cursor(&mixed), "INTEGRATION#a#ORDERS"),
            None
        );
        let forged = |pk: &str, sk: &str, position: &str| {
            let plain = serde_json::json!({"pk": pk, "sk": sk, "gsi1pk": "INTEGRATION#a#ORDERS", "gsi1sk": position});
            decode_cursor(
                &URL_SAFE_NO_PAD.encode(plain.to_string()),
                "INTEGRATION#a#ORDERS",
            )
        };
        assert!(forged("ORDER#1", "ORDER", "2026#1").is_some());
        assert!(forged("ORDER#1", "ORDER", "").is_none());
        assert!(forged("ORDER#1", "ORDER", "#1").is_none());
        assert!(forged("ORDER#1", "ORDER", "2026#2").is_none());
        assert!(forged("ORDER#1", "FILE#x", "2026#1").is_none());
        assert!(forged("CATALOG", "ORDER", "2026#1").is_none());
        assert!(forged(&format!("ORDER#{}", "x".repeat(129)), "ORDER", "2026#x").is_none());
        assert!(forged("ORDER#1", "ORDER", &format!("{}#1", "z".repeat(300))).is_none());
    }

    #[test]
    fn an_index_an_upgrade_is_still_filling_is_told_from_other_query_failures() {
        use aws_sdk_dynamodb::error::{ErrorMetadata, SdkError};
        use aws_sdk_dynamodb::operation::query::QueryError;
        use aws_smithy_runtime_api::http::{Response, StatusCode};
        use aws_smithy_types::body::SdkBody;
        let failed = |code: &str, message: &str| {
            let error =
                QueryError::generic(ErrorMetadata::builder().code(code).message(message).build());
            let response = Response::new(StatusCode::try_from(400).unwrap(), SdkBody::empty());
            index_error(SdkError::service_error(error, response), "gsi2")
        };
        for (code, message) in [
            (
                "ValidationException",
                "Cannot read from backfilling global secondary index: gsi2",
            ),
            (
                "ResourceNotFoundException",
                "Requested resource not found: Index: gsi2 not found",
            ),
        ] {
            assert!(
                matches!(
                    failed(code, message),
                    StoreError::IndexBuilding { index: "gsi2" }
                ),
                "{code}: {message}"
            );
        }
        for (code, message) in [
            (
                "ValidationException",
                "The provided starting key is invalid",
            ),
            ("ProvisionedThroughputExceededException", "slow down"),
        ] {
            assert!(
                matches!(failed(code, message), StoreError::Service(_)),
                "{code}"
            );
        }
    }

    fn reason(code: &str, item: Option<serde_json::Value>) -> CancellationReason {
        let item = item.map(|value| {
            let mut item: Item = serde_dynamo::to_item(value).unwrap();
            item.insert("pk".into(), AttributeValue::S("pk".into()));
            item.insert("sk".into(), AttributeValue::S("sk".into()));
            item
        });
        CancellationReason::builder()
            .code(code)
            .set_item(item)
            .build()
    }

    fn stored_order() -> serde_json::Value {
        serde_json::to_value(crate::orders::test_support::order(serde_json::json!({}))).unwrap()
    }

    #[test]
    fn a_refused_token_is_answered_before_a_changed_catalog_or_an_existing_order() {
        let reasons = [
            reason("ConditionalCheckFailed", None),
            reason("ConditionalCheckFailed", None),
            reason("ConditionalCheckFailed", Some(stored_order())),
        ];
        assert!(matches!(refusal(&reasons), Ok(Some(Refusal::Token))));
    }

    #[test]
    fn a_changed_catalog_is_named_and_an_existing_order_comes_back_with_the_cancellation() {
        let reasons = [
            reason("None", None),
            reason("ConditionalCheckFailed", None),
            reason("ConditionalCheckFailed", Some(stored_order())),
        ];
        assert!(matches!(refusal(&reasons), Ok(Some(Refusal::Catalog))));
        let reasons = [
            reason("None", None),
            reason("None", None),
            reason("ConditionalCheckFailed", Some(stored_order())),
        ];
        match refusal(&reasons) {
            Ok(Some(Refusal::Exists(Some(existing)))) => assert_eq!(existing.order_id, "o1"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_lost_race_is_no_refusal() {
        let reasons = [
            reason("None", None),
            reason("TransactionConflict", None),
            reason("None", None),
        ];
        assert!(matches!(refusal(&reasons), Ok(None)));
    }
}
