//! Receiving an order: SR's `POST {packageOrderUrl}` and `POST {inlineAssessmentPackageOrderUrl}`
//! once the partner endpoint has authenticated SR and accepted the request
//! (`orders::accept_order`, `orders::accept_inline_order`).
//!
//! The order is stored once — SR's retry of it (same company, same content) is recognised and
//! answered as the first time — and its enrichment queued (`QueueMessage::OrderReceived`). The
//! message is sent for SR's retries too, so an order whose first POST died between the write and
//! the send still gets enriched; if the send fails SR gets a 503 and retries (the write is
//! idempotent). Per new order: PutItem, SendMessage.

use super::{InlineUrlSource, Order};
use crate::kombo::inline::{InlineUrlClient, InlineUrlError};
use crate::metrics::{self, Metric};
use crate::queue::{QueueError, QueueMessage, ResultsQueue};
use crate::store::{PutOrderOutcome, Store, StoreError};

/// Why an order was not received.
#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    /// The order id is stored already with other content (or for another company): a 409.
    #[error("order `{0}` already exists with different content")]
    Exists(String),
    /// An inline order's id belongs to a stored order that is not inline: a 409.
    #[error("this order id belongs to a non-inline order")]
    NotInline,
    /// The vendor did not answer an inline order's assessment URL; nothing was stored.
    #[error(transparent)]
    InlineUrl(#[from] InlineUrlError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// Stores `order` (or recognises SR's retry of it) and queues its enrichment; answers the order
/// as stored.
pub async fn receive(
    store: &Store,
    queue: &ResultsQueue,
    order: Order,
) -> Result<Order, ReceiveError> {
    let stored = put_once(store, order).await?;
    queue
        .send(&QueueMessage::OrderReceived {
            order_id: stored.order_id.clone(),
            company_id: stored.company_id.clone(),
        })
        .await?;
    Ok(stored)
}

/// Like [`receive`] for an inline order, answering the candidate's assessment URL. When the
/// package has no URL template the vendor is asked (`inline_urls`) before anything is stored,
/// once: SR retrying an order already stored gets its stored URL.
pub async fn receive_inline(
    store: &Store,
    queue: &ResultsQueue,
    inline_urls: Option<&InlineUrlClient>,
    mut order: Order,
) -> Result<String, ReceiveError> {
    let asks_vendor = order
        .inline
        .as_ref()
        .is_some_and(|i| i.url_source == InlineUrlSource::Vendor);
    if asks_vendor && store.get_order(&order.order_id).await?.is_none() {
        let url = vendor_assessment_url(inline_urls, &order).await?;
        if let Some(inline) = order.inline.as_mut() {
            inline.assessment_url = url;
        }
    }
    let stored = receive(store, queue, order).await?;
    stored
        .inline
        .map(|i| i.assessment_url)
        .ok_or(ReceiveError::NotInline)
}

/// The vendor's answer to `inline-assessment:order-received` for `order` (not stored yet).
async fn vendor_assessment_url(
    inline_urls: Option<&InlineUrlClient>,
    order: &Order,
) -> Result<String, InlineUrlError> {
    let answer = match inline_urls {
        Some(client) => client.assessment_url(order).await,
        None => Err(InlineUrlError::NotConfigured(order.package.id.clone())),
    };
    answer.inspect_err(|e| {
        tracing::warn!(company_id = %order.company_id, order_id = %order.order_id, error = %e, "the vendor did not answer the inline assessment URL");
    })
}

async fn put_once(store: &Store, order: Order) -> Result<Order, ReceiveError> {
    match store.put_order_if_absent(&order).await? {
        PutOrderOutcome::Created => {
            metrics::emit(&[(Metric::OrdersReceived, 1.0)]);
            tracing::info!(company_id = %order.company_id, order_id = %order.order_id, package_id = %order.package.id, inline = order.inline.is_some(), "order accepted");
            Ok(order)
        }
        PutOrderOutcome::Exists(existing)
            if existing.company_id == order.company_id
                && existing.request_fingerprint == order.request_fingerprint =>
        {
            tracing::info!(company_id = %order.company_id, order_id = %order.order_id, "order retried by SR; already stored");
            Ok(*existing)
        }
        PutOrderOutcome::Exists(_) => Err(ReceiveError::Exists(order.order_id)),
    }
}
