//! Candidates' personal data: erasure (GDPR art. 17) and export (art. 15) for one candidate of
//! an integration — found by SR candidate id or by e-mail — or for one order.
//!
//! Erasure overwrites or deletes every stored copy (see `store::privacy`): the order's
//! candidate, requester, custom fields, enrichment and result details, the submissions'
//! vendor bodies, delivery details, result files and the events announcing the order (whose
//! queued webhooks carry only a reference and are read from the table at send time). The
//! order's non-personal skeleton stays and keeps answering. The `erased_at` tombstone keeps a
//! result still in flight from reaching SR and a late enrichment from being stored. Results SR
//! already received are SR's to erase.
//!
//! A `candidate.erased` event (order ids only) tells the vendor's platform to erase its copy.
//! The order item is overwritten last, so an erasure that stopped part way (a timeout,
//! throttling) is finished by repeating it: the candidate's id and e-mail still find the order,
//! the remaining items are erased and `candidate.erased` is emitted. Repeating a finished
//! erasure is harmless: it answers 200 with zero counts (nothing personal left; a candidate
//! erased by id or e-mail is not found again, as neither is kept).

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::ids::{IntegrationId, OrderId};
use crate::notifications::{candidate_erased_event, event_ids_of, Notifications};
use crate::orders::Order;
use crate::store::{ErasedCounts, EventRecord, StoreError};

/// Which candidate: SR's candidate id, or an e-mail address (matched case-insensitively on
/// the order's candidate and on its enrichment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CandidateSelector {
    CandidateId(String),
    Email(String),
}

impl CandidateSelector {
    /// The reason a `candidate.erased` event names: the kind of selector, never its value.
    fn label(&self) -> &'static str {
        match self {
            Self::CandidateId(_) => "candidate_id",
            Self::Email(_) => "email",
        }
    }

    /// Whether `order` is this candidate's.
    pub fn matches(&self, order: &Order) -> bool {
        match self {
            Self::CandidateId(id) => !id.is_empty() && order.candidate.id == *id,
            Self::Email(email) => {
                let wanted = email.trim();
                let same = |e: Option<&str>| {
                    e.is_some_and(|e| !wanted.is_empty() && e.trim().eq_ignore_ascii_case(wanted))
                };
                same(order.candidate.email.as_deref())
                    || same(
                        order
                            .enrichment
                            .as_ref()
                            .and_then(|e| e.candidate.as_ref())
                            .and_then(|c| c.email.as_deref()),
                    )
            }
        }
    }
}

/// What an erasure did: the orders it touched and the items it changed, per kind.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ErasureReport {
    /// The orders found for the candidate (or the one order), erased now or before.
    pub order_ids: Vec<String>,
    #[serde(flatten)]
    pub erased: ErasedCounts,
    /// The `candidate.erased` event's id; `None` when no order was found.
    pub event_id: Option<String>,
}

/// Everything held for one candidate, for an access request.
#[derive(Debug, Clone, Serialize)]
pub struct CandidateExport {
    /// Each order with its candidate, job, requester, fields, enrichment, result, submissions
    /// (the vendor's bodies) and delivery attempts.
    pub orders: Vec<Order>,
    /// The result files' records (names, types, where they came from; not their bytes).
    pub files: Vec<crate::store::FileRecord>,
    /// The events announcing those orders, as stored.
    pub events: Vec<EventRecord>,
}

#[derive(Debug, thiserror::Error)]
pub enum PrivacyError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Erases every order of the integration that belongs to the candidate.
pub async fn erase_candidate(
    notifications: &Notifications,
    integration: &IntegrationId,
    candidate: &CandidateSelector,
    now: DateTime<Utc>,
) -> Result<ErasureReport, PrivacyError> {
    let store = notifications.store();
    let orders: Vec<Order> = store
        .all_orders_of_integration(integration)
        .await?
        .into_iter()
        .filter(|o| candidate.matches(o))
        .collect();
    erase(notifications, integration, orders, candidate.label(), now).await
}

/// Erases one order of the integration; `None` when it has no such order.
pub async fn erase_order(
    notifications: &Notifications,
    integration: &IntegrationId,
    order_id: &OrderId,
    now: DateTime<Utc>,
) -> Result<Option<ErasureReport>, PrivacyError> {
    let store = notifications.store();
    let Some(order) = store
        .get_integration_order(integration, order_id, true)
        .await?
    else {
        return Ok(None);
    };
    Ok(Some(
        erase(notifications, integration, vec![order], "order", now).await?,
    ))
}

async fn erase(
    notifications: &Notifications,
    integration: &IntegrationId,
    orders: Vec<Order>,
    erased_by: &str,
    now: DateTime<Utc>,
) -> Result<ErasureReport, PrivacyError> {
    let store = notifications.store();
    let mut report = ErasureReport {
        erased: store
            .erase_orders_data(integration, &orders, now, &event_ids_of)
            .await?,
        order_ids: orders.iter().map(|o| o.order_id.clone()).collect(),
        event_id: None,
    };
    let changed = report.erased != ErasedCounts::default();
    if let (Some(first), true) = (orders.first(), changed) {
        let event = candidate_erased_event(
            &first.company_id,
            integration,
            erased_by,
            &report.order_ids,
            now,
        );
        // A queue failure is logged: the event stays listable, and the erasure is done.
        report.event_id = Some(notifications.emit_recorded(event).await?.id);
    }
    tracing::info!(
        integration_id = %integration,
        orders = report.order_ids.len(),
        erased_by,
        "personal data erased"
    );
    Ok(report)
}

/// Everything the integration holds for the candidate.
pub async fn export_candidate(
    notifications: &Notifications,
    integration: &IntegrationId,
    candidate: &CandidateSelector,
) -> Result<CandidateExport, PrivacyError> {
    let store = notifications.store();
    let mut export = CandidateExport {
        orders: Vec::new(),
        files: Vec::new(),
        events: Vec::new(),
    };
    for order in store.all_orders_of_integration(integration).await? {
        if !candidate.matches(&order) {
            continue;
        }
        let Some(full) = store.get_order_with_history(&order.order_id).await? else {
            continue;
        };
        export.files.extend(
            store
                .order_files(&order.order_id, false)
                .await?
                .into_iter()
                .map(|f| f.record),
        );
        export
            .events
            .extend(store.events_of_order(integration, &order.order_id).await?);
        export.orders.push(full);
    }
    Ok(export)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orders::test_support::order;
    use serde_json::json;

    #[test]
    fn a_candidate_is_found_by_id_or_by_email_in_any_case_also_on_the_enrichment() {
        let placed = order(json!({"candidate": {"id": "c1", "firstName": "Ada",
            "lastName": "Lovelace", "email": "Ada@Example.com"}}));
        let id = |v: &str| CandidateSelector::CandidateId(v.into());
        let email = |v: &str| CandidateSelector::Email(v.into());
        assert!(id("c1").matches(&placed));
        assert!(!id("c2").matches(&placed));
        assert!(email(" ada@example.COM ").matches(&placed));
        assert!(!email("ada@example.org").matches(&placed));
        // An erased order (or an inline one) has no candidate id or e-mail: nothing matches it.
        let blank = order(json!({"candidate": {"id": "", "firstName": "", "lastName": ""}}));
        assert!(!id("").matches(&blank));
        assert!(!email("").matches(&blank));
        // SR's order without the e-mail, the enrichment with it.
        let enriched = order(json!({"enrichment": {"enriched_at": "2026-01-01T00:00:00Z",
            "candidate": {"id": "c1", "first_name": "Ada", "last_name": null,
                          "email": "ada@example.com", "phone": null, "location": null}}}));
        assert!(email("ADA@example.com").matches(&enriched));
    }
}
