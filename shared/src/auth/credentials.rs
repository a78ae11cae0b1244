//! Customer-level client credentials (the pair SR uses to call our token endpoint).
//!
//! Only a SHA-256 digest of the secret is stored in DynamoDB. A plain digest (no salt, no KDF) is
//! enough because the secret is 256 random bits, not a human password: nothing to brute-force.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::sr::partner::ClientCredentials;

/// Random bytes, URL-safe base64, from the OS CSPRNG.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// A fresh pair: a 144-bit client id and a 256-bit secret.
pub fn generate_client_credentials() -> ClientCredentials {
    ClientCredentials {
        client_id: format!("src_{}", random_token(18)),
        client_secret: random_token(32),
    }
}

/// Hex SHA-256 of a secret, as stored.
pub fn hash_secret(secret: &str) -> String {
    hex_digest(secret.as_bytes())
}

pub(crate) fn hex_digest(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Constant-time check of a presented secret against a stored digest.
pub fn secret_matches(presented: &str, stored_digest: &str) -> bool {
    let presented = hash_secret(presented);
    presented.as_bytes().ct_eq(stored_digest.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_credentials_are_distinct_and_long() {
        let a = generate_client_credentials();
        let b = generate_client_credentials();
        assert_ne!(a.client_id, b.client_id);
        assert_ne!(a.client_secret, b.client_secret);
        assert!(a.client_secret.len() >= 43);
    }

    #[test]
    fn secret_matches_only_the_right_secret() {
        let digest = hash_secret("right");
        assert!(secret_matches("right", &digest));
        assert!(!secret_matches("wrong", &digest));
        assert!(!secret_matches("", &digest));
    }
}
