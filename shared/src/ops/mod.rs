//! Operator actions behind the `connector` CLI (`infra/connector-cli`): look at and disable
//! companies, re-send results, drain the dead-letter queue, rotate the vendor API key.
//!
//! They live here, next to the adapters they use, so the CLI stays a thin layer of argument
//! parsing and printing. What changes a company is the domain's, not theirs: disabling one is
//! [`crate::onboarding::disable_company`], exactly what SR's disable call does.

pub mod companies;
pub mod dlq;
pub mod replay;
pub mod vendor_key;
