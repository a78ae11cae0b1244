//! Replacing an integration's catalog: `PUT /assessment/packages` once the vendor API has
//! validated the packages (`packages::validate_packages_with`).
//!
//! The catalog is one item written conditionally on the version read, so two vendors' `PUT`s
//! racing on one catalog cannot lose either's packages silently: the loser reads the winner's
//! catalog and replaces it again ([`retry_on_conflict`]).
//!
//! Per replacement: GetItem + PutItem (conditional), again per lost race.

use chrono::Utc;

use super::{Catalog, CatalogPackage, ReplaceSummary};
use crate::store::{retry_on_conflict, Store, StoreError};

/// What [`replace`] stored.
#[derive(Debug, Clone)]
pub struct Replaced {
    /// The catalog as stored (omitted packages kept, marked deleted).
    pub catalog: Catalog,
    /// Which package ids were created, updated or deleted.
    pub changes: ReplaceSummary,
}

/// Makes `packages` the catalog of `integration`: new ones created, changed ones updated,
/// omitted ones marked deleted (their orders keep working). Fails with `StoreError::Conflict`
/// after losing the race with other writers `store::WRITE_ATTEMPTS` times.
pub async fn replace(
    store: &Store,
    integration: &str,
    packages: &[CatalogPackage],
) -> Result<Replaced, StoreError> {
    retry_on_conflict(move || async move {
        let now = Utc::now();
        let mut catalog = store
            .get_catalog(integration)
            .await?
            .unwrap_or_else(|| Catalog::empty(integration, now));
        let changes = catalog.replace(packages.to_vec(), now);
        catalog.version += 1;
        store.put_catalog(&catalog).await?;
        tracing::info!(integration_id = %integration, created = changes.created.len(), updated = changes.updated.len(), deleted = changes.deleted.len(), "catalog replaced");
        Ok(Replaced { catalog, changes })
    })
    .await
}
