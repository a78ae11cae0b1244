//! The package catalog of one integration, stored as one item with optimistic locking, and its
//! `version` again in a small item of its own (`keys::catalog_version`), written in the same
//! transaction, which orders check (`Store::put_order_checked`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};

use super::{key_of, keys, to_item, Store, StoreError};
use crate::packages::Catalog;

impl Store {
    pub async fn get_catalog(&self, integration_id: &str) -> Result<Option<Catalog>, StoreError> {
        self.get(keys::catalog(integration_id), true).await
    }

    /// Writes `catalog` (whose `version` was already bumped) if nobody wrote since version
    /// `version - 1`, and its version item, in one `TransactWriteItems`; `Err(Conflict)`
    /// otherwise.
    pub async fn put_catalog(&self, catalog: &Catalog) -> Result<(), StoreError> {
        let item = to_item(catalog, keys::catalog(&catalog.integration_id));
        let previous = catalog.version.saturating_sub(1);
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk) OR version = :previous")
            .expression_attribute_values(":previous", AttributeValue::N(previous.to_string()))
            .build()
            .expect("table and item are set");
        let mut version = key_of(keys::catalog_version(&catalog.integration_id));
        version.insert(
            "version".into(),
            AttributeValue::N(catalog.version.to_string()),
        );
        let put_version = Put::builder()
            .table_name(&self.table)
            .set_item(Some(version))
            .build()
            .expect("table and item are set");
        let result = self
            .db
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(put).build())
            .transact_items(TransactWriteItem::builder().put(put_version).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if super::cancellation_reasons(&e)
                    .iter()
                    .any(|r| r.code() == Some("ConditionalCheckFailed"))
                    || super::lost_race(&e) =>
            {
                Err(StoreError::Conflict)
            }
            Err(e) => Err(StoreError::of_transaction(
                e,
                "the catalog (field `packages`)",
            )),
        }
    }
}

/// Most catalogs one warm Lambda keeps: a catalog item is at most 400 KB, so at most 6.4 MB of a
/// 128 MB function, and usually a few KB each. A full cache starts over (the next order of each
/// company reads its catalog again).
const CACHED_CATALOGS: usize = 16;

/// The catalogs a warm Lambda has read, by integration. SR's orders are accepted against the
/// cached copy without reading it again, because the transaction that stores an order checks
/// that the catalog is still at the copy's `version` (`Store::put_order_checked`): a stale copy
/// never places an order, and the cancellation hands back the current catalog.
#[derive(Debug, Default)]
pub struct CatalogCache {
    catalogs: Mutex<HashMap<String, Arc<Catalog>>>,
}

impl CatalogCache {
    /// The cached catalog of `integration_id`, if any (unverified: see the type's doc).
    pub fn get(&self, integration_id: &str) -> Option<Arc<Catalog>> {
        self.lock().get(integration_id).cloned()
    }

    /// Keeps `catalog` as its integration's current one and answers it.
    pub fn keep(&self, catalog: Catalog) -> Arc<Catalog> {
        let catalog = Arc::new(catalog);
        let mut catalogs = self.lock();
        if catalogs.len() >= CACHED_CATALOGS && !catalogs.contains_key(&catalog.integration_id) {
            catalogs.clear();
        }
        catalogs.insert(catalog.integration_id.clone(), catalog.clone());
        catalog
    }

    /// Drops `integration_id`'s catalog (it has none any more).
    pub fn forget(&self, integration_id: &str) {
        self.lock().remove(integration_id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Catalog>>> {
        // A panic while holding the lock cannot leave the map half-updated: use it as it is.
        self.catalogs.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    #[test]
    fn the_cache_keeps_the_latest_catalog_of_each_integration_within_its_bound() {
        let cache = CatalogCache::default();
        let mut catalog = Catalog::empty("org-0", Utc::now());
        cache.keep(catalog.clone());
        catalog.version = 2;
        cache.keep(catalog);
        assert_eq!(cache.get("org-0").map(|c| c.version), Some(2));
        cache.forget("org-0");
        assert!(cache.get("org-0").is_none());
        for i in 0..=CACHED_CATALOGS {
            cache.keep(Catalog::empty(&format!("org-{i}"), Utc::now()));
        }
        let kept = (0..=CACHED_CATALOGS)
            .filter(|i| cache.get(&format!("org-{i}")).is_some())
            .count();
        assert!(kept <= CACHED_CATALOGS, "{kept}");
        assert!(cache.get(&format!("org-{CACHED_CATALOGS}")).is_some());
    }
}
