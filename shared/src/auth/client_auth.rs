//! How a client authenticates at our token endpoint (RFC 6749 §2.3.1): HTTP Basic, which the
//! server MUST support, or `client_id` and `client_secret` in the form body — never both.
//!
//! With HTTP Basic the id and the secret are each form-urlencoded before they are joined with
//! `:` and base64-encoded (RFC 6749 Appendix B), so `+` is a space and `%2B` a plus. Many
//! clients skip that encoding (Python's `requests.auth.HTTPBasicAuth`, curl's `-u`), so when the
//! decoded pair differs from the raw one both are offered to the secret check: a secret with
//! `+ / : =` or spaces works whichever way the client sent it.

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};

/// One way to read the presented credentials: a client id and its secret (`Debug` prints
/// `[REDACTED]` for it).
#[derive(Clone, Debug)]
pub struct PresentedCredentials {
    pub client_id: String,
    pub client_secret: SecretString,
}

/// How the client authenticated, and the readings of its credentials to try, in order.
#[derive(Debug, Clone)]
pub struct ClientAuthentication {
    pub basic: bool,
    pub candidates: Vec<PresentedCredentials>,
}

/// Why the request carries no usable client authentication.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientAuthError {
    /// RFC 6749 §2.3: "The client MUST NOT use more than one authentication method in each
    /// request" → 400 `invalid_request`.
    #[error("client credentials were sent both with HTTP Basic and in the body; use one method (RFC 6749 §2.3)")]
    TwoMethods,
    /// → 400 `invalid_request`.
    #[error("the Authorization header is not HTTP Basic credentials (base64 of client_id:client_secret)")]
    MalformedBasic,
    /// → 400 `invalid_request`.
    #[error("the body's client_id differs from the HTTP Basic client id")]
    ClientIdMismatch,
    /// An `Authorization` scheme other than Basic → 401 `invalid_client`.
    #[error("unsupported client authentication scheme; use HTTP Basic or client_id and client_secret in the body")]
    UnsupportedScheme,
    /// → 400 `invalid_request`.
    #[error(
        "client authentication is required: HTTP Basic, or client_id and client_secret in the body"
    )]
    Missing,
}

/// Standard base64, padded or not (clients differ).
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The client authentication of a token request: its `Authorization` header (raw bytes) and
/// the form's `client_id` / `client_secret`.
pub fn client_authentication(
    authorization: Option<&[u8]>,
    form_client_id: Option<&str>,
    form_client_secret: Option<&str>,
) -> Result<ClientAuthentication, ClientAuthError> {
    let Some(header) = authorization else {
        return match (form_client_id, form_client_secret) {
            (Some(id), Some(secret)) if !id.is_empty() => Ok(ClientAuthentication {
                basic: false,
                candidates: vec![PresentedCredentials {
                    client_id: id.to_owned(),
                    client_secret: secret.into(),
                }],
            }),
            _ => Err(ClientAuthError::Missing),
        };
    };
    let header = std::str::from_utf8(header).map_err(|_| ClientAuthError::MalformedBasic)?;
    let (scheme, encoded) = header
        .trim()
        .split_once(' ')
        .ok_or(ClientAuthError::MalformedBasic)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(ClientAuthError::UnsupportedScheme);
    }
    if form_client_secret.is_some() {
        return Err(ClientAuthError::TwoMethods);
    }
    let decoded = BASE64
        .decode(encoded.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or(ClientAuthError::MalformedBasic)?;
    let (raw_id, raw_secret) = decoded
        .split_once(':')
        .ok_or(ClientAuthError::MalformedBasic)?;
    let encoded_pair = PresentedCredentials {
        client_id: form_decode(raw_id),
        client_secret: form_decode(raw_secret).into(),
    };
    let raw_pair = PresentedCredentials {
        client_id: raw_id.to_owned(),
        client_secret: raw_secret.into(),
    };
    // A client_id in the body too (some clients add it) must name the same client.
    if let Some(id) = form_client_id {
        if id != encoded_pair.client_id && id != raw_pair.client_id {
            return Err(ClientAuthError::ClientIdMismatch);
        }
    }
    if encoded_pair.client_id.is_empty() {
        return Err(ClientAuthError::MalformedBasic);
    }
    let mut candidates = vec![encoded_pair];
    let differs = raw_pair.client_id != candidates[0].client_id
        || raw_pair.client_secret.expose_secret() != candidates[0].client_secret.expose_secret();
    if differs {
        candidates.push(raw_pair);
    }
    Ok(ClientAuthentication {
        basic: true,
        candidates,
    })
}

/// `application/x-www-form-urlencoded` decoding of one value: `+` is a space, then
/// percent-decoding (so `%2B` is a plus).
fn form_decode(value: &str) -> String {
    percent_encoding::percent_decode_str(&value.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(pair: &str) -> Vec<u8> {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
        .into_bytes()
    }

    fn ids(auth: &ClientAuthentication) -> Vec<(&str, &str)> {
        auth.candidates
            .iter()
            .map(|c| (c.client_id.as_str(), c.client_secret.expose_secret()))
            .collect()
    }

    #[test]
    fn the_form_alone_is_one_reading() {
        let auth = client_authentication(None, Some("id"), Some("s+ /:=")).unwrap();
        assert!(!auth.basic);
        assert_eq!(ids(&auth), [("id", "s+ /:=")]);
        assert!(!format!("{auth:?}").contains("s+ /:="), "{auth:?}");
        assert_eq!(
            client_authentication(None, Some("id"), None).unwrap_err(),
            ClientAuthError::Missing
        );
    }

    #[test]
    fn basic_is_form_decoded_as_rfc_6749_appendix_b_says_and_read_raw_too() {
        // id "my client+1", secret "a+b/c:d= e" form-urlencoded, as RFC-following clients send.
        let auth =
            client_authentication(Some(&basic("my+client%2B1:a%2Bb%2Fc%3Ad%3D+e")), None, None)
                .unwrap();
        assert!(auth.basic);
        assert_eq!(ids(&auth)[0], ("my client+1", "a+b/c:d= e"));
        // `&` and `=` separate nothing inside one value.
        let auth = client_authentication(Some(&basic("id:a%26b=c&d")), None, None).unwrap();
        assert_eq!(ids(&auth)[0], ("id", "a&b=c&d"));
        // The same credentials sent without the encoding (requests' HTTPBasicAuth).
        let auth = client_authentication(Some(&basic("id:a+b/c:d= e")), None, None).unwrap();
        assert!(ids(&auth).contains(&("id", "a+b/c:d= e")), "{auth:?}");
        // Nothing to decode: one reading.
        let auth = client_authentication(Some(&basic("id:plain")), None, None).unwrap();
        assert_eq!(ids(&auth), [("id", "plain")]);
    }

    #[test]
    fn two_methods_at_once_are_refused() {
        assert_eq!(
            client_authentication(Some(&basic("id:s")), Some("id"), Some("s")).unwrap_err(),
            ClientAuthError::TwoMethods
        );
        // The body naming the same client id alone is fine; another id is not.
        assert!(client_authentication(Some(&basic("id:s")), Some("id"), None).is_ok());
        assert_eq!(
            client_authentication(Some(&basic("id:s")), Some("other"), None).unwrap_err(),
            ClientAuthError::ClientIdMismatch
        );
    }

    #[test]
    fn malformed_headers_are_named() {
        for header in [
            b"Basic !!!".to_vec(),
            basic("no-colon"),
            basic(":secret"),
            b"Basic".to_vec(),
            vec![b'B', b'a', 0xff],
        ] {
            assert_eq!(
                client_authentication(Some(&header), None, None).unwrap_err(),
                ClientAuthError::MalformedBasic,
                "{header:?}"
            );
        }
        assert_eq!(
            client_authentication(Some(b"Bearer abc"), Some("id"), Some("s")).unwrap_err(),
            ClientAuthError::UnsupportedScheme
        );
    }
}
