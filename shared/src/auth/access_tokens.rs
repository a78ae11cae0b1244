//! Opaque bearer tokens issued to SR, one company each.
//!
//! Format: `{b64(companyId)}.{b64(integrationId)}.{256 random bits}`. The readable prefix lets a
//! partner endpoint fetch the token record and the company's catalog in ONE DynamoDB BatchGetItem;
//! the record (keyed by the token's SHA-256, never the token itself) is what makes it valid, so
//! deleting it revokes the token at once.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use secrecy::SecretString;

use super::credentials::{hex_digest, random_token};

/// Who a token speaks for, as read from its prefix (untrusted until the record confirms it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenClaims {
    pub company_id: String,
    pub integration_id: String,
    /// SHA-256 of the whole token: the key of its record.
    pub digest: String,
}

/// A freshly issued token. `Debug` never prints the value.
#[derive(Debug)]
pub struct AccessToken {
    pub value: SecretString,
    pub claims: TokenClaims,
}

impl AccessToken {
    pub fn issue(company_id: &str, integration_id: &str) -> Self {
        let value = format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(company_id),
            URL_SAFE_NO_PAD.encode(integration_id),
            random_token(32)
        );
        let claims = TokenClaims {
            company_id: company_id.to_string(),
            integration_id: integration_id.to_string(),
            digest: hex_digest(value.as_bytes()),
        };
        Self {
            value: value.into(),
            claims,
        }
    }

    /// Reads the claims of a presented token; `None` when it is not one of ours.
    pub fn parse(value: &str) -> Option<TokenClaims> {
        let mut parts = value.split('.');
        let company = parts.next()?;
        let integration = parts.next()?;
        let random = parts.next()?;
        if parts.next().is_some() || random.len() < 43 {
            return None;
        }
        let decode = |s: &str| {
            URL_SAFE_NO_PAD
                .decode(s)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .filter(|s| !s.is_empty())
        };
        Some(TokenClaims {
            company_id: decode(company)?,
            integration_id: decode(integration)?,
            digest: hex_digest(value.as_bytes()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn issued_tokens_parse_back_to_their_claims() {
        let token = AccessToken::issue("company-1", "org-1");
        assert_eq!(
            AccessToken::parse(token.value.expose_secret()),
            Some(token.claims.clone())
        );
        assert_ne!(token.claims.digest, token.value.expose_secret());
    }

    #[test]
    fn garbage_is_not_a_token() {
        assert_eq!(AccessToken::parse("abc"), None);
        assert_eq!(AccessToken::parse("a.b.c"), None);
        assert_eq!(AccessToken::parse(""), None);
        let token = AccessToken::issue("c", "o");
        assert_eq!(
            AccessToken::parse(&format!("{}.x", token.value.expose_secret())),
            None
        );
    }

    #[test]
    fn debug_does_not_print_the_token() {
        let token = AccessToken::issue("c", "o");
        assert!(!format!("{token:?}").contains(token.value.expose_secret()));
    }
}
