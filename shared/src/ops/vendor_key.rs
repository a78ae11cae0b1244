//! Rotating the vendor API key (`connector vendor-key rotate`).
//!
//! The key lives in one Secrets Manager secret (`VENDOR_API_KEY_SECRET_ID`). A warm vendor-api
//! Lambda re-reads it on a key it does not know at most every 30 s (`auth::VendorKeyVerifier`),
//! so the new key is accepted within about 30 s; an instance that cached the previous key keeps
//! accepting that one until its cache expires (at most 5 minutes).

use rand::distr::{Alphanumeric, SampleString};

use crate::secrets::SecretError;

/// Length of a generated key: 48 characters of `[A-Za-z0-9]`, about 285 bits.
pub const KEY_LENGTH: usize = 48;

/// A fresh random key from the thread's CSPRNG (seeded by the OS).
pub fn generate_key() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), KEY_LENGTH)
}

/// Stores `key` as the secret's current value (`PutSecretValue`; the previous value stays as
/// `AWSPREVIOUS`). Refuses an empty key or one with whitespace, which no vendor could present.
pub async fn put_key(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
    key: &str,
) -> Result<(), SecretError> {
    if key.is_empty() || key.chars().any(char::is_whitespace) {
        return Err(SecretError::Malformed {
            id: secret_id.to_string(),
            reason: "a vendor API key must be non-empty and without whitespace".into(),
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
        })
}

/// Generates a new key, stores it, and returns it (the only time it is shown).
pub async fn rotate(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
) -> Result<String, SecretError> {
    let key = generate_key();
    put_key(client, secret_id, &key).await?;
    tracing::info!(secret_id, "vendor API key rotated");
    Ok(key)
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
    }
}
