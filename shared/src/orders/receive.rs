//! Receiving an order: SR's `POST {packageOrderUrl}` and `POST {inlineAssessmentPackageOrderUrl}`
//! once the partner endpoint has authenticated SR and accepted the request
//! (`orders::accept_order`, `orders::accept_inline_order`).
//!
//! The order is stored once, in one transaction that also checks SR's token and the catalog the
//! order was accepted against (`Store::put_order_checked`) — SR's retry of it (same company,
//! same content) is recognised and answered as the first time. That transaction is the only AWS
//! call on SR's request path: the enrichment and the vendor's `order.created` start from the
//! table's stream of new order items ([`crate::order_stream`]), so an order stored is an order
//! announced, whatever happens to this request afterwards.

use super::{InlineUrlSource, Order};
use crate::kombo::inline::{InlineUrlClient, InlineUrlError};
use crate::metrics::{self, Metric};
use crate::packages::Catalog;
use crate::store::{retry_on_conflict, OrderChecks, PutOrderOutcome, Store, StoreError};

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
    /// The token's record refused it (gone, revoked, expired, another company or
    /// integration); nothing was stored: a 401.
    #[error("the access token is invalid or expired")]
    TokenRefused,
    /// The catalog changed since the order was accepted against it; nothing was stored. The
    /// order is to be accepted again against the current catalog (`None`: there is none).
    #[error("the package catalog changed while the order was placed")]
    CatalogChanged(Option<Box<Catalog>>),
    /// Concurrent requests on the same items (SR's racing retries, a burst of one company's
    /// orders checking its token and catalog) kept the transaction from committing; nothing
    /// was stored and SR may retry: a 503.
    #[error("the order could not be stored because of concurrent requests; retry")]
    Contended,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Stores `order` if `checks` hold (or recognises SR's retry of it); answers the order as
/// stored. Its enrichment starts from the table's stream ([`crate::order_stream`]).
pub async fn receive(
    store: &Store,
    order: Order,
    checks: &OrderChecks<'_>,
) -> Result<Order, ReceiveError> {
    put_once(store, order, checks).await
}

/// Like [`receive`] for an inline order, answering the candidate's assessment URL. When the
/// package has no URL template the vendor is asked (`inline_urls`) before anything is stored,
/// once: SR retrying an order already stored gets its stored URL. The caller has checked SR's
/// token before an order that [`asks_vendor`] comes here: the vendor is never called for a
/// forged one.
pub async fn receive_inline(
    store: &Store,
    inline_urls: Option<&InlineUrlClient>,
    mut order: Order,
    checks: &OrderChecks<'_>,
) -> Result<String, ReceiveError> {
    if asks_vendor(&order) && !store.order_exists(&order.order_id).await? {
        let url = vendor_assessment_url(inline_urls, &order).await?;
        if let Some(inline) = order.inline.as_mut() {
            inline.assessment_url = url;
        }
    }
    let stored = receive(store, order, checks).await?;
    stored
        .inline
        .map(|i| i.assessment_url)
        .ok_or(ReceiveError::NotInline)
}

/// Whether receiving `order` asks the vendor for its assessment URL (an inline order of a
/// package without a URL template).
pub fn asks_vendor(order: &Order) -> bool {
    order
        .inline
        .as_ref()
        .is_some_and(|i| i.url_source == InlineUrlSource::Vendor)
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

async fn put_once(
    store: &Store,
    order: Order,
    checks: &OrderChecks<'_>,
) -> Result<Order, ReceiveError> {
    // Another transaction holding one of the items (SR's concurrent retry) is tried again.
    let outcome = retry_on_conflict(|| store.put_order_checked(&order, checks))
        .await
        .map_err(|e| match e {
            StoreError::Conflict => ReceiveError::Contended,
            e => e.into(),
        })?;
    match outcome {
        PutOrderOutcome::TokenRefused => Err(ReceiveError::TokenRefused),
        PutOrderOutcome::CatalogChanged(catalog) => Err(ReceiveError::CatalogChanged(catalog)),
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
