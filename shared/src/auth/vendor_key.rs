//! The vendor API key, kept in Secrets Manager and cached for a few minutes so a warm vendor-api
//! Lambda makes no Secrets Manager call per request, yet picks up a rotated key quickly.

use std::time::{Duration, Instant};

use subtle::ConstantTimeEq;
use tokio::sync::Mutex;

use crate::secrets::{SecretError, Secrets};

const CACHE_FOR: Duration = Duration::from_secs(300);
/// A wrong key re-reads the secret (to honour a rotation) at most this often, so a caller
/// hammering bad keys cannot turn into a Secrets Manager bill.
const MIN_REREAD: Duration = Duration::from_secs(30);

pub struct VendorKeyVerifier {
    secrets: Secrets,
    secret_id: String,
    cached: Mutex<Option<(String, Instant)>>,
}

impl VendorKeyVerifier {
    pub fn new(secrets: Secrets, secret_id: String) -> Self {
        Self {
            secrets,
            secret_id,
            cached: Mutex::new(None),
        }
    }

    /// Constant-time check of a presented key. On a mismatch with a cached key the secret is read
    /// again (at most every 30 s), so a freshly rotated key works within seconds.
    pub async fn verify(&self, presented: &str) -> Result<bool, SecretError> {
        let mut cached = self.cached.lock().await;
        if let Some((key, at)) = cached.as_ref() {
            let age = at.elapsed();
            if age < CACHE_FOR && keys_match(presented, key) {
                return Ok(true);
            }
            if age < MIN_REREAD {
                return Ok(false);
            }
        }
        let key = self.secrets.get_string(&self.secret_id).await?;
        let ok = keys_match(presented, &key);
        *cached = Some((key, Instant::now()));
        Ok(ok)
    }
}

fn keys_match(presented: &str, key: &str) -> bool {
    !key.is_empty() && presented.as_bytes().ct_eq(key.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::keys_match;

    #[test]
    fn keys_match_exactly() {
        assert!(keys_match("k", "k"));
        assert!(!keys_match("k", "K"));
        assert!(!keys_match("", ""));
        assert!(!keys_match("k1", "k"));
    }
}
