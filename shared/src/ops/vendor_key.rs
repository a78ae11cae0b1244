//! Managing vendor API keys (`connector vendor-key …`, and the vendor API's admin routes):
//! rotating the admin key, and creating, listing and revoking per-integration keys.
//!
//! Every change takes effect at once in every warm vendor-api Lambda: keys are verified against
//! their DynamoDB record on each request (`auth::vendor_key`).

use chrono::{DateTime, Utc};
use rand::distr::{Alphanumeric, SampleString};
use serde::Serialize;

use crate::auth::hash_secret;
use crate::auth::vendor_key::KEY_PREFIX;
use crate::ids::IntegrationId;
use crate::secrets::SecretError;
use crate::store::{Store, StoreError, VendorKeyRecord};

/// Length of a generated admin key: 48 characters of `[A-Za-z0-9]`, about 285 bits.
pub const KEY_LENGTH: usize = 48;
/// Length of a per-integration key's secret part: 43 characters of `[A-Za-z0-9]`, 256 bits.
const INTEGRATION_SECRET_LENGTH: usize = 43;
/// Longest label of a per-integration key.
pub const MAX_LABEL_CHARS: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum VendorKeyOpError {
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
}

/// A fresh random admin key from the thread's CSPRNG (seeded by the OS).
pub fn generate_key() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), KEY_LENGTH)
}

/// Stores `key` as the admin key: the secret's current value (`PutSecretValue`; the previous
/// value stays as `AWSPREVIOUS`), then its digest record, from which moment the previous key is
/// refused everywhere. Refuses an empty key or one with whitespace, which no vendor could present.
pub async fn put_key(
    client: &aws_sdk_secretsmanager::Client,
    store: &Store,
    secret_id: &str,
    key: &str,
) -> Result<(), VendorKeyOpError> {
    if key.is_empty() || key.chars().any(char::is_whitespace) {
        return Err(VendorKeyOpError::Invalid {
            field: "key",
            reason: "a vendor API key must be non-empty and without whitespace".into(),
        });
    }
    if crate::auth::vendor_key::key_id_of(key).is_some() {
        return Err(VendorKeyOpError::Invalid {
            field: "key",
            reason: "the admin key must not look like a per-integration key (vk_…)".into(),
        });
    }
    client
        .put_secret_value()
        .secret_id(secret_id)
        .secret_string(key)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| {
            use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
            match e.code() {
                Some("ResourceNotFoundException") => SecretError::NotFound(secret_id.to_string()),
                _ => SecretError::Service(
                    aws_smithy_types::error::display::DisplayErrorContext(&e).to_string(),
                ),
            }
        })?;
    let digest = hash_secret(key);
    for _ in 0..3 {
        let recorded = store
            .get_vendor_key(crate::store::ADMIN_KEY_ID)
            .await?
            .map(|r| r.secret_sha256);
        if store
            .replace_admin_key(&digest, recorded.as_deref(), Utc::now())
            .await?
        {
            return Ok(());
        }
    }
    Err(StoreError::Conflict.into())
}

/// Generates a new admin key, stores it, and returns it (the only time it is shown).
pub async fn rotate(
    client: &aws_sdk_secretsmanager::Client,
    store: &Store,
    secret_id: &str,
) -> Result<String, VendorKeyOpError> {
    let key = generate_key();
    put_key(client, store, secret_id, &key).await?;
    tracing::info!(secret_id, "vendor API key rotated");
    Ok(key)
}

/// A per-integration key as listed: never the key itself.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IntegrationKeyView {
    pub key_id: String,
    pub integration_id: String,
    pub label: Option<String>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl IntegrationKeyView {
    fn of(record: VendorKeyRecord) -> Self {
        Self {
            key_id: record.key_id,
            integration_id: record.integration_id.unwrap_or_default(),
            label: record.label,
            created_at: record.created_at,
            revoked_at: record.revoked_at,
        }
    }
}

/// A key just created: the only time `api_key` is shown.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CreatedIntegrationKey {
    pub api_key: String,
    #[serde(flatten)]
    pub key: IntegrationKeyView,
}

/// Creates a key that reaches `integration_id` only; stores its digest.
pub async fn create_integration_key(
    store: &Store,
    integration_id: &IntegrationId,
    label: Option<&str>,
    now: DateTime<Utc>,
) -> Result<CreatedIntegrationKey, VendorKeyOpError> {
    let label = label.map(str::trim).filter(|l| !l.is_empty());
    if label.is_some_and(|l| l.chars().count() > MAX_LABEL_CHARS) {
        return Err(VendorKeyOpError::Invalid {
            field: "`label`",
            reason: format!("at most {MAX_LABEL_CHARS} characters"),
        });
    }
    let key_id = hex::encode(rand::random::<[u8; 8]>());
    let secret = Alphanumeric.sample_string(&mut rand::rng(), INTEGRATION_SECRET_LENGTH);
    let api_key = format!("{KEY_PREFIX}{key_id}_{secret}");
    let record = VendorKeyRecord {
        key_id,
        integration_id: Some(integration_id.to_string()),
        secret_sha256: hash_secret(&api_key),
        label: label.map(str::to_string),
        created_at: now,
        revoked_at: None,
    };
    store.put_vendor_key(&record).await?;
    tracing::info!(integration_id = %integration_id, key_id = %record.key_id, "vendor API key created");
    Ok(CreatedIntegrationKey {
        api_key,
        key: IntegrationKeyView::of(record),
    })
}

/// The integration's keys, oldest first, revoked ones included.
pub async fn list_integration_keys(
    store: &Store,
    integration_id: &IntegrationId,
) -> Result<Vec<IntegrationKeyView>, VendorKeyOpError> {
    let mut keys: Vec<IntegrationKeyView> = store
        .list_vendor_keys(integration_id)
        .await?
        .into_iter()
        .map(IntegrationKeyView::of)
        .collect();
    keys.sort_by_key(|k| k.created_at);
    Ok(keys)
}

/// Revokes a key of `integration_id`: refused by every vendor-api Lambda from now on. `None`
/// when the integration has no such key.
pub async fn revoke_integration_key(
    store: &Store,
    integration_id: &IntegrationId,
    key_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<IntegrationKeyView>, VendorKeyOpError> {
    let revoked = store
        .revoke_vendor_key(key_id, integration_id, now)
        .await?
        .map(IntegrationKeyView::of);
    if revoked.is_some() {
        tracing::info!(integration_id = %integration_id, key_id, "vendor API key revoked");
    }
    Ok(revoked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_48_alphanumeric_characters_and_differ() {
        let a = generate_key();
        let b = generate_key();
        assert_eq!(a.len(), KEY_LENGTH);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()), "{a}");
        assert_ne!(a, b);
        assert!(crate::auth::vendor_key::key_id_of(&a).is_none());
    }
}
