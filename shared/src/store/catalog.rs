//! The package catalog of one integration, stored as one item with optimistic locking.

use aws_sdk_dynamodb::types::AttributeValue;

use super::{keys, to_item, Store, StoreError};
use crate::packages::Catalog;

impl Store {
    pub async fn get_catalog(&self, integration_id: &str) -> Result<Option<Catalog>, StoreError> {
        self.get(keys::catalog(integration_id), true).await
    }

    /// Writes `catalog` (whose `version` was already bumped) if nobody wrote since version
    /// `version - 1`; `Err(Conflict)` otherwise.
    pub async fn put_catalog(&self, catalog: &Catalog) -> Result<(), StoreError> {
        let item = to_item(catalog, keys::catalog(&catalog.integration_id));
        let previous = catalog.version.saturating_sub(1);
        let result = self
            .db
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk) OR version = :previous")
            .expression_attribute_values(":previous", AttributeValue::N(previous.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Err(StoreError::Conflict)
            }
            Err(e) => Err(StoreError::of_write(e, "the catalog (field `packages`)")),
        }
    }
}
