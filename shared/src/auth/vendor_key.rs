//! Vendor API keys. Two kinds:
//!
//! - the **admin key**, the stack's `VendorApiKeySecret` (Secrets Manager): reaches every
//!   integration (named by `X-Integration-Id`), mints connect keys and manages the other keys;
//! - **per-integration keys** (`vk_{keyId}_{secret}`): reach the one integration they were created
//!   for; any other `X-Integration-Id` is a 403.
//!
//! Every key is checked against a digest record in DynamoDB on every request — one consistent
//! `GetItem`, no cache in the container — so a revoked or rotated-away key is refused at once
//! by every warm Lambda, and a new key works at once. The admin key's record is kept in step with
//! the secret: `connector vendor-key rotate` writes both, and a key that does not match the record
//! is checked against the secret (re-read then, before refusing) and, when it matches, becomes
//! the record — so a value set directly in Secrets Manager works at once too (within
//! [`ADMIN_REREAD_INTERVAL`] of the last such read in that container: a flood of wrong keys costs
//! one Secrets Manager read per interval, not one each). Digests are compared in constant time.

use std::time::{Duration, Instant};

use chrono::Utc;
use subtle::ConstantTimeEq;
use tokio::sync::Mutex;

use super::credentials::hash_secret;
use crate::secrets::{SecretError, Secrets};
use crate::store::{Store, StoreError, ADMIN_KEY_ID};

/// What a valid key may reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyScope {
    /// The admin key: every integration, and key management.
    Admin,
    /// A per-integration key: this integration only.
    Integration(String),
}

#[derive(Debug, thiserror::Error)]
pub enum VendorKeyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Secret(#[from] SecretError),
}

/// Prefix of per-integration keys.
pub const KEY_PREFIX: &str = "vk_";

/// How long a refused key is compared with the admin secret as last read instead of reading it
/// again: Secrets Manager bills each read, and anyone can send wrong keys.
pub const ADMIN_REREAD_INTERVAL: Duration = Duration::from_secs(5);

/// The key id of a per-integration key (`vk_{16 hex}_{secret}`), `None` for any other string.
pub fn key_id_of(presented: &str) -> Option<&str> {
    let (id, secret) = presented.strip_prefix(KEY_PREFIX)?.split_once('_')?;
    let hex = id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit());
    (hex && !secret.is_empty()).then_some(id)
}

pub struct VendorKeyVerifier {
    store: Store,
    secrets: Secrets,
    admin_secret_id: String,
    /// The admin secret's digest as last read (`None`: empty), and when; one read at a time.
    admin_read: Mutex<Option<(Instant, Option<String>)>>,
}

impl VendorKeyVerifier {
    pub fn new(store: Store, secrets: Secrets, admin_secret_id: String) -> Self {
        Self {
            store,
            secrets,
            admin_secret_id,
            admin_read: Mutex::new(None),
        }
    }

    /// What `presented` may reach, `None` for a key that is not (or no longer) valid.
    pub async fn verify(&self, presented: &str) -> Result<Option<KeyScope>, VendorKeyError> {
        if presented.is_empty() {
            return Ok(None);
        }
        let digest = hash_secret(presented);
        if let Some(key_id) = key_id_of(presented) {
            let scope = self
                .store
                .get_vendor_key(key_id)
                .await?
                .filter(|r| r.revoked_at.is_none() && digests_match(&digest, &r.secret_sha256))
                .and_then(|r| r.integration_id)
                .map(KeyScope::Integration);
            return Ok(scope);
        }
        self.verify_admin(&digest).await
    }

    /// `digest`: of the presented key.
    async fn verify_admin(&self, digest: &str) -> Result<Option<KeyScope>, VendorKeyError> {
        for _ in 0..2 {
            let recorded = self
                .store
                .get_vendor_key(ADMIN_KEY_ID)
                .await?
                .map(|r| r.secret_sha256);
            if recorded
                .as_deref()
                .is_some_and(|r| digests_match(digest, r))
            {
                return Ok(Some(KeyScope::Admin));
            }
            // Not the recorded key: it may be the secret's value set since (or the first use of
            // the generated one). Re-read before refusing, unless it was read just now.
            let Some(current) = self.admin_secret_digest().await? else {
                return Ok(None);
            };
            if !digests_match(digest, &current) {
                return Ok(None);
            }
            if recorded.as_deref() == Some(current.as_str())
                || self
                    .store
                    .replace_admin_key(&current, recorded.as_deref(), Utc::now())
                    .await?
            {
                tracing::info!("vendor API admin key taken from its secret");
                return Ok(Some(KeyScope::Admin));
            }
            // Another container (or a rotation) changed the record meanwhile: look again.
        }
        Ok(None)
    }
}

impl VendorKeyVerifier {
    /// The admin secret's digest (`None` when it is empty), read from Secrets Manager unless the
    /// last read is younger than [`ADMIN_REREAD_INTERVAL`].
    async fn admin_secret_digest(&self) -> Result<Option<String>, VendorKeyError> {
        let mut last = self.admin_read.lock().await;
        if let Some((at, digest)) = last.as_ref() {
            if at.elapsed() < ADMIN_REREAD_INTERVAL {
                return Ok(digest.clone());
            }
        }
        let secret = self.secrets.get_string(&self.admin_secret_id).await?;
        let digest = (!secret.is_empty()).then(|| hash_secret(&secret));
        *last = Some((Instant::now(), digest.clone()));
        Ok(digest)
    }
}

/// Constant-time comparison of two hex digests.
fn digests_match(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_keys_of_the_per_integration_shape_have_an_id() {
        assert_eq!(
            key_id_of("vk_0123456789abcdef_Zx9s8Q"),
            Some("0123456789abcdef")
        );
        for other in [
            "",
            "vk_",
            "vk_0123456789abcdef_",
            "vk_0123456789abcdeg_x",
            "vk_0123456789abcde_x",
            "O3xm6LflHN8Gy7zPXcVwEQ5c8ok72aXHjIeQJbAcSi8pZW2J",
        ] {
            assert_eq!(key_id_of(other), None, "{other}");
        }
    }

    #[test]
    fn digests_match_exactly() {
        let a = hash_secret("k");
        assert!(digests_match(&a, &hash_secret("k")));
        assert!(!digests_match(&a, &hash_secret("K")));
        assert!(!digests_match(&a, ""));
    }
}
