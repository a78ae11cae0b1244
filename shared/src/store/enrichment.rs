//! Storing an order's enrichment (see `enrichment`) on the order item, once.

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::ReturnValue;

use super::{key_of, keys, to_value, Store, StoreError};
use crate::orders::enrichment::OrderEnrichment;
use crate::orders::Order;

/// What storing an enrichment found.
#[derive(Debug)]
pub enum EnrichmentWrite {
    /// Stored; the order as it is now (with its state: Kombo's announcement carries its status).
    Stored(Box<Order>),
    /// Another worker stored one first (SQS delivers at least once); theirs is kept.
    AlreadyEnriched(Box<Order>),
    /// No order to enrich: absent, or its personal data was erased (`erased_at`).
    Missing,
}

impl Store {
    /// Sets the order's enrichment unless it has one: a conditional update, so two workers racing
    /// on a duplicated message cannot overwrite each other and the first answer stays.
    pub async fn put_enrichment(
        &self,
        order_id: &str,
        enrichment: &OrderEnrichment,
    ) -> Result<EnrichmentWrite, StoreError> {
        let result = self
            .db
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_of(keys::order(order_id))))
            .update_expression("SET enrichment = :enrichment")
            .condition_expression(
                "attribute_exists(pk) AND attribute_not_exists(enrichment) \
                 AND attribute_not_exists(erased_at)",
            )
            .expression_attribute_values(":enrichment", to_value(enrichment))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(output) => {
                // The update answers the order item; a result may already be on its state item.
                let mut order =
                    super::order_state::order_from_item(output.attributes.unwrap_or_default())?;
                if let Some(state) = self.get_item(keys::order_state(order_id), true).await? {
                    super::order_state::apply(&mut order, state)?;
                }
                if order.erased_at.is_some() {
                    // Erased between the update and the read: nothing is announced.
                    return Ok(EnrichmentWrite::Missing);
                }
                Ok(EnrichmentWrite::Stored(Box::new(order)))
            }
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => {
                match self.get_order(order_id).await? {
                    Some(order) if order.erased_at.is_some() => Ok(EnrichmentWrite::Missing),
                    Some(order) => Ok(EnrichmentWrite::AlreadyEnriched(Box::new(order))),
                    None => Ok(EnrichmentWrite::Missing),
                }
            }
            Err(e) => Err(StoreError::service(e)),
        }
    }
}
