//! The three ids everything is keyed by, each checked once where it enters (an HTTP path, a
//! header, a form, the CLI) so the code behind that edge never checks a length again.
//!
//! - [`OrderId`]: SR's assessment order id (the `{orderId}` of the `resultCallbackURL` SR sends
//!   with the order, and of the vendor API's `/assessment/orders/{id}` paths).
//! - [`CompanyId`]: SR's company id (the `companyId` of the consent link and of
//!   `POST /integration/company/{companyId}`).
//! - [`IntegrationId`]: one customer connection on the vendor API (its `X-Integration-Id`).
//!
//! Each is a `String` underneath: it dereferences to `&str`, and serializes as the plain string
//! (stored items, queue messages and wire shapes are unchanged); deserializing checks it.
//! This module imports nothing else from the crate, so every layer may use it.

use std::fmt;
use std::ops::Deref;

/// Why a text is not an id; each edge words its own answer from it (a 400 naming the field, a
/// 404 for a path, the consent page's message).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Empty (or, for an integration id, only whitespace).
    #[error("is empty")]
    Empty,
    /// Longer than `max` bytes.
    #[error("is longer than {max} characters")]
    TooLong { max: usize },
    /// Holds a character the id may not have.
    #[error("has a character an id may not have")]
    Character,
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Checks `text` as given (an edge that trims does so first) and keeps it.
            pub fn parse(text: &str) -> Result<Self, IdError> {
                Self::check(text)?;
                Ok(Self(text.to_string()))
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                Self::check(&s)?;
                Ok(Self(s))
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }
    };
}

id_type! {
    /// SR's order id: 1 to [`OrderId::MAX_LEN`] bytes, no control character and no `/` (it is
    /// a path segment of SR's `…/orders/{orderId}/results`, and a DynamoDB key).
    OrderId
}

id_type! {
    /// SR's company id: 1 to [`CompanyId::MAX_LEN`] bytes of ASCII letters, digits and
    /// `_+=.@-`, not `.` or `..`.
    ///
    /// It travels as a path segment of SR's `POST /integration/company/{companyId}` and names
    /// the company's Secrets Manager secret (`…/companies/{companyId}`), which takes those
    /// characters only; `.` and `..` would be read as path steps. Anything else could name one
    /// company here and another at SR (or fail only after SR integrated it), so it is refused
    /// before SR is asked.
    CompanyId
}

id_type! {
    /// A vendor API integration id (`X-Integration-Id`, a connect key's organisation id): not
    /// blank, at most [`IntegrationId::MAX_LEN`] bytes (a DynamoDB key part). Any characters
    /// otherwise, as the vendor names its customers.
    IntegrationId
}

impl OrderId {
    /// SR's order ids are at most 128 characters; a longer one would exceed DynamoDB's key size.
    pub const MAX_LEN: usize = 128;

    fn check(text: &str) -> Result<(), IdError> {
        if text.is_empty() {
            Err(IdError::Empty)
        } else if text.len() > Self::MAX_LEN {
            Err(IdError::TooLong { max: Self::MAX_LEN })
        } else if text.chars().any(|c| c.is_control() || c == '/') {
            Err(IdError::Character)
        } else {
            Ok(())
        }
    }
}

impl CompanyId {
    /// Longest SR company id accepted.
    pub const MAX_LEN: usize = 256;

    fn check(text: &str) -> Result<(), IdError> {
        if text.is_empty() {
            Err(IdError::Empty)
        } else if text.len() > Self::MAX_LEN {
            Err(IdError::TooLong { max: Self::MAX_LEN })
        } else if text == "."
            || text == ".."
            || !text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_+=.@-".contains(&b))
        {
            Err(IdError::Character)
        } else {
            Ok(())
        }
    }
}

impl IntegrationId {
    /// Integration ids are at most 128 characters (connect keys enforce it); a longer one would
    /// exceed DynamoDB's key size.
    pub const MAX_LEN: usize = 128;

    fn check(text: &str) -> Result<(), IdError> {
        if text.trim().is_empty() {
            Err(IdError::Empty)
        } else if text.len() > Self::MAX_LEN {
            Err(IdError::TooLong { max: Self::MAX_LEN })
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_ids_are_1_to_128_bytes_without_control_characters_or_slashes() {
        for ok in ["a", "o-1", &"x".repeat(128), "ä b?c", "%2F"] {
            assert_eq!(OrderId::parse(ok).unwrap().as_str(), ok);
        }
        assert_eq!(OrderId::parse(""), Err(IdError::Empty));
        assert_eq!(
            OrderId::parse(&"x".repeat(129)),
            Err(IdError::TooLong { max: 128 })
        );
        // 65 two-byte characters are 130 bytes: the limit is DynamoDB's, in bytes.
        assert!(OrderId::parse(&"ä".repeat(65)).is_err());
        for bad in ["a/b", "/", "a\nb", "\u{0}", "a\u{7f}"] {
            assert_eq!(OrderId::parse(bad), Err(IdError::Character), "{bad:?}");
        }
    }

    #[test]
    fn company_ids_take_secrets_manager_characters_only() {
        for ok in [
            "acme",
            "Company_1",
            "a+b=c.d@e-f",
            "...",
            ".a",
            "..a",
            "Acme",
            "5f3a9c0e1b2d",
            "x_y.z-1",
            &"c".repeat(256),
        ] {
            assert!(CompanyId::parse(ok).is_ok(), "{ok}");
        }
        assert_eq!(CompanyId::parse(""), Err(IdError::Empty));
        assert_eq!(
            CompanyId::parse(&"c".repeat(257)),
            Err(IdError::TooLong { max: 256 })
        );
        for bad in [
            ".", "..", "a/b", "a b", " acme", "acme\n", "a\t", "a%2Fb", "a?b", "a#b", "é", "a:b",
        ] {
            assert_eq!(CompanyId::parse(bad), Err(IdError::Character), "{bad:?}");
        }
    }

    #[test]
    fn integration_ids_are_not_blank_and_at_most_128_bytes() {
        for ok in ["org", " org ", "a/b c", &"i".repeat(128)] {
            assert_eq!(IntegrationId::parse(ok).unwrap().as_str(), ok);
        }
        for blank in ["", " ", "\t\n"] {
            assert_eq!(IntegrationId::parse(blank), Err(IdError::Empty));
        }
        assert_eq!(
            IntegrationId::parse(&"i".repeat(129)),
            Err(IdError::TooLong { max: 128 })
        );
    }

    #[test]
    fn ids_serialize_as_plain_strings_and_are_checked_when_read() {
        let id = OrderId::parse("o-1").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"o-1\"");
        assert_eq!(serde_json::from_str::<OrderId>("\"o-1\"").unwrap(), id);
        assert!(serde_json::from_str::<OrderId>("\"a/b\"").is_err());
        assert!(serde_json::from_str::<CompanyId>("\"..\"").is_err());
        assert!(serde_json::from_str::<IntegrationId>("\" \"").is_err());
        let company = CompanyId::parse("acme").unwrap();
        assert_eq!(company, "acme");
        assert_eq!(String::from("acme"), company);
        assert_eq!(company.to_string(), "acme");
    }
}
