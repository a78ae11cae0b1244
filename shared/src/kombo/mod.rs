//! Kombo's assessment API vocabulary, so a vendor already on Kombo switches by changing the base
//! URL and the key: Kombo's package types, its order shape (the orders list and the
//! `assessment:order-received` webhooks), its error codes, its webhook signature, and the
//! synchronous `inline-assessment:order-received` call that asks the vendor for an inline
//! order's assessment URL.
//!
//! The shapes follow Kombo's official SDKs (`kombo` 1.4.0 on PyPI, `@kombo-api/sdk` 1.1.3 on
//! npm), which `tests/kombo/` runs unchanged against the local stack.

pub mod errors;
pub mod inline;
pub mod orders;
pub mod packages;
pub mod webhooks;
