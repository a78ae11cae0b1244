//! Signing a webhook and verifying one: `v1=<hex HMAC-SHA256(secret, "{timestamp}.{body}")>`
//! in `X-Connector-Signature` (one signature per secret during a rotation), `X-Kombo-Signature`
//! for Kombo-format events, and the secrets to sign with (`SigningKeys`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use reqwest::header::HeaderValue;
use secrecy::ExposeSecret;
use sha2::Sha256;

use crate::secrets::{SecretError, Secrets};

pub const EVENT_ID_HEADER: &str = "X-Connector-Event-Id";
pub const TIMESTAMP_HEADER: &str = "X-Connector-Timestamp";
pub const SIGNATURE_HEADER: &str = "X-Connector-Signature";
/// The signature scheme's version prefix, so a future scheme can be sent alongside.
pub const SIGNATURE_VERSION: &str = "v1";

type HmacSha256 = Hmac<Sha256>;

/// The signing secrets in use.
#[derive(Clone)]
pub(super) struct SigningKeys {
    current: String,
    /// The previous version, while the current one is younger than the rotation window.
    previous: Option<String>,
    /// Whether a rotation window is open: the current version is younger than the window and
    /// replaced a previous one.
    pub(super) rotating: bool,
    pub(super) read_at: std::time::Instant,
}

impl SigningKeys {
    /// Reads secret `id`: its current version and, while that is younger than
    /// `rotation_window`, the previous one (`AWSPREVIOUS`) when it differs.
    pub(super) async fn read(
        secrets: &Secrets,
        id: &str,
        rotation_window: Duration,
    ) -> Result<Self, SecretError> {
        let current = secrets
            .get_version(id, "AWSCURRENT")
            .await?
            .ok_or_else(|| SecretError::NotFound(id.to_owned()))?;
        let young = current.created_at.is_some_and(|at| {
            (Utc::now() - at)
                .to_std()
                .is_ok_and(|age| age < rotation_window)
        });
        let previous = if young {
            secrets
                .get_version(id, "AWSPREVIOUS")
                .await?
                .map(|v| v.value.expose_secret().to_owned())
                .filter(|v| v != current.value.expose_secret())
        } else {
            None
        };
        Ok(Self {
            current: current.value.expose_secret().to_owned(),
            rotating: previous.is_some(),
            previous,
            read_at: std::time::Instant::now(),
        })
    }

    /// The secrets to sign with: the current one, then the previous one during a rotation.
    pub(super) fn secrets(&self) -> Vec<&[u8]> {
        std::iter::once(&self.current)
            .chain(self.previous.as_ref())
            .map(String::as_bytes)
            .collect()
    }
}

/// `v1=<hex HMAC-SHA256(secret, "{timestamp}.{body}")>`.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = hex::encode(mac.finalize().into_bytes());
    format!("{SIGNATURE_VERSION}={digest}")
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("header {0} is missing or malformed")]
    Malformed(&'static str),
    #[error("the timestamp is outside the accepted window (replayed or delayed request)")]
    Stale,
    #[error("no signature matches")]
    Mismatch,
}

/// Checks a received webhook as a vendor should (the README shows the same in Python): the
/// timestamp within `tolerance` of `now`, and one `v1=` signature (several may be sent,
/// comma-separated, while a secret is rotated) equal to the HMAC of `"{timestamp}.{body}"`.
/// The comparison is constant-time (`hmac`'s `verify_slice`).
pub fn verify(
    secret: &[u8],
    timestamp_header: &str,
    signature_header: &str,
    body: &[u8],
    now: DateTime<Utc>,
    tolerance: Duration,
) -> Result<(), VerifyError> {
    let timestamp: i64 = timestamp_header
        .trim()
        .parse()
        .map_err(|_| VerifyError::Malformed(TIMESTAMP_HEADER))?;
    if now.timestamp().abs_diff(timestamp) > tolerance.as_secs() {
        return Err(VerifyError::Stale);
    }
    let candidates: Vec<Vec<u8>> = signature_header
        .split(',')
        .filter_map(|part| part.trim().strip_prefix("v1="))
        .filter_map(|digest| hex::decode(digest).ok())
        .collect();
    if candidates.is_empty() {
        return Err(VerifyError::Malformed(SIGNATURE_HEADER));
    }
    for candidate in candidates {
        let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        if mac.verify_slice(&candidate).is_ok() {
            return Ok(());
        }
    }
    Err(VerifyError::Mismatch)
}

/// The headers that sign a webhook `body` of event `event_id` (of type `kind`) at `timestamp`
/// with `secrets` (the current one first; during a rotation also the previous one): the
/// connector's three (`v1=<current>` or `v1=<current>,v1=<previous>`), plus `X-Kombo-Signature`
/// (current secret only) for Kombo-format events.
///
/// # Panics
/// If `secrets` is empty.
pub fn signature_headers(
    secrets: &[&[u8]],
    event_id: &str,
    kind: &str,
    body: &[u8],
    timestamp: i64,
) -> Vec<(&'static str, HeaderValue)> {
    let event_id = HeaderValue::from_str(event_id).unwrap_or_else(|_| {
        let encoded: String = url::form_urlencoded::byte_serialize(event_id.as_bytes()).collect();
        HeaderValue::from_str(&encoded).expect("percent-encoded text is a valid header value")
    });
    let text = |value: String| HeaderValue::from_str(&value).expect("ASCII header value");
    let current = secrets
        .first()
        .expect("at least the current signing secret");
    let signatures: Vec<String> = secrets
        .iter()
        .map(|secret| sign(secret, timestamp, body))
        .collect();
    let mut headers = vec![
        (EVENT_ID_HEADER, event_id),
        (TIMESTAMP_HEADER, text(timestamp.to_string())),
        (SIGNATURE_HEADER, text(signatures.join(","))),
    ];
    if crate::kombo::webhooks::is_kombo_event(kind) {
        headers.push((
            crate::kombo::webhooks::SIGNATURE_HEADER,
            text(crate::kombo::webhooks::sign(current, body)),
        ));
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fixed vector, also printed in README ("Webhooks") and checked there by the
    /// Python snippet's test: an independent HMAC implementation must agree.
    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        let signature = sign(b"whsec_test", 1_700_000_000, br#"{"id":"evt_1"}"#);
        assert_eq!(
            signature,
            "v1=c89214b5b5da833daed6f0b8c5bb6bd58cea9022bd80ccc78230f3942d632925"
        );
    }

    #[test]
    fn a_signature_verifies_and_tampering_fails() {
        let now = Utc::now();
        let ts = now.timestamp();
        let body = br#"{"id":"order.created:o1","type":"order.created"}"#;
        let header = sign(b"secret", ts, body);
        let window = Duration::from_secs(300);
        let check = |secret: &[u8], ts: &str, sig: &str, body: &[u8]| {
            verify(secret, ts, sig, body, now, window)
        };
        assert_eq!(check(b"secret", &ts.to_string(), &header, body), Ok(()));
        let tampered = br#"{"id":"order.created:o2","type":"order.created"}"#;
        assert_eq!(
            check(b"secret", &ts.to_string(), &header, tampered),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            check(b"other", &ts.to_string(), &header, body),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            check(b"secret", &(ts + 1).to_string(), &header, body),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            check(b"secret", &(ts - 301).to_string(), &header, body),
            Err(VerifyError::Stale)
        );
        assert_eq!(
            check(b"secret", "soon", &header, body),
            Err(VerifyError::Malformed(TIMESTAMP_HEADER))
        );
        // Extreme timestamps are stale, not an overflow.
        for extreme in [i64::MIN, i64::MAX] {
            assert_eq!(
                check(b"secret", &extreme.to_string(), &header, body),
                Err(VerifyError::Stale)
            );
        }
        assert_eq!(
            check(b"secret", &ts.to_string(), "v0=abc", body),
            Err(VerifyError::Malformed(SIGNATURE_HEADER))
        );
        // During a secret rotation several signatures may be sent; one match is enough.
        let both = format!("{}, {header}", sign(b"old", ts, body));
        assert_eq!(check(b"secret", &ts.to_string(), &both, body), Ok(()));
    }
}
