//! Vendor API keys, by digest only: one item per key (`VENDORKEY#{keyId}`), indexed in `gsi1`
//! under its integration for listing. The admin key's digest is the item `VENDORKEY#admin`.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    condition_failed, from_item, key_of, keys, to_item, to_value, written, Store, StoreError,
};

/// The key id of the admin key's record.
pub const ADMIN_KEY_ID: &str = "admin";

/// A vendor API key as stored: never the key, only its SHA-256.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VendorKeyRecord {
    pub key_id: String,
    /// The one integration the key reaches; `None` for the admin key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integration_id: Option<String>,
    pub secret_sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
}

impl Store {
    /// The key's record, read strongly consistent (a revocation counts from the moment it is
    /// written).
    pub async fn get_vendor_key(
        &self,
        key_id: &str,
    ) -> Result<Option<VendorKeyRecord>, StoreError> {
        self.get(keys::vendor_key(key_id), true).await
    }

    /// Stores a new per-integration key (never overwrites one).
    pub async fn put_vendor_key(&self, record: &VendorKeyRecord) -> Result<(), StoreError> {
        let mut item = to_item(record, keys::vendor_key(&record.key_id));
        if let Some(integration) = &record.integration_id {
            item.insert(
                keys::GSI1_PK.into(),
                AttributeValue::S(keys::vendor_keys_of_integration(integration)),
            );
            item.insert(keys::GSI1_SK.into(), to_value(&record.created_at));
        }
        let put = self
            .db
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        // A key id taken already (64 random bits: in theory only).
        written(put)?.then_some(()).ok_or(StoreError::Conflict)
    }

    /// Makes `digest` the admin key's, if the record still holds `expected` (`None`: no record
    /// yet). False when another writer changed it first.
    pub async fn replace_admin_key(
        &self,
        digest: &str,
        expected: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let record = VendorKeyRecord {
            key_id: ADMIN_KEY_ID.into(),
            integration_id: None,
            secret_sha256: digest.into(),
            label: Some("admin".into()),
            created_at: now,
            revoked_at: None,
        };
        let mut put = self
            .db
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(&record, keys::vendor_key(ADMIN_KEY_ID))));
        put = match expected {
            None => put.condition_expression("attribute_not_exists(pk)"),
            Some(old) => put
                .condition_expression("secret_sha256 = :old")
                .expression_attribute_values(":old", AttributeValue::S(old.into())),
        };
        written(put.send().await)
    }

    /// The integration's keys, oldest first (revoked ones too). From the index, so a key created
    /// a moment ago may be missing for that moment.
    pub async fn list_vendor_keys(
        &self,
        integration_id: &str,
    ) -> Result<Vec<VendorKeyRecord>, StoreError> {
        let items: Vec<super::Item> = self
            .db
            .query()
            .table_name(&self.table)
            .index_name(keys::GSI1)
            .key_condition_expression("gsi1pk = :pk")
            .expression_attribute_values(
                ":pk",
                AttributeValue::S(keys::vendor_keys_of_integration(integration_id)),
            )
            .into_paginator()
            .items()
            .send()
            .collect::<Result<_, _>>()
            .await
            .map_err(StoreError::service)?;
        items.into_iter().map(from_item).collect()
    }

    /// Revokes a key of `integration_id` (a repeat keeps the first revocation time). `None` when
    /// the integration has no such key.
    pub async fn revoke_vendor_key(
        &self,
        key_id: &str,
        integration_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<VendorKeyRecord>, StoreError> {
        let result = self
            .db
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_of(keys::vendor_key(key_id))))
            .update_expression("SET revoked_at = if_not_exists(revoked_at, :now)")
            .condition_expression("attribute_exists(pk) AND integration_id = :integration")
            .expression_attribute_values(":now", to_value(&now))
            .expression_attribute_values(":integration", AttributeValue::S(integration_id.into()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(output) => Ok(Some(from_item(output.attributes.unwrap_or_default())?)),
            Err(e) if condition_failed(&e) => Ok(None),
            Err(e) => Err(StoreError::service(e)),
        }
    }
}
