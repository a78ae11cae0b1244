//! Who may call what: the client credentials SR exchanges for access tokens, the bearer tokens
//! themselves, and the vendor API key. Every secret comparison is constant-time.

pub mod access_tokens;
pub mod client_auth;
pub mod credentials;
pub mod token;
pub mod vendor_key;

pub use access_tokens::{AccessToken, TokenClaims};
pub use credentials::{generate_client_credentials, hash_secret, secret_matches};
pub use vendor_key::{KeyScope, VendorKeyVerifier};
