//! The SmartRecruiters assessment-partner connector, as a library.
//!
//! Layout (a hexagon): [`sr`] holds SmartRecruiters' contract types and HTTP client, the domain
//! modules ([`packages`], [`orders`], [`results`]) hold the rules and know nothing of AWS or HTTP
//! events, [`store`], [`secrets`] and [`queue`] are the AWS adapters, and [`api`] plus
//! [`publisher`] are the entry points each Lambda's `main.rs` hands to the runtime.

pub mod api;
pub mod attachments;
pub mod auth;
pub mod aws;
pub mod backoff;
pub mod budget;
pub mod config;
pub mod enrichment;
pub mod http;
pub mod kombo;
pub mod metrics;
pub mod notifications;
pub mod onboarding;
pub mod ops;
pub mod orders;
pub mod pacing;
pub mod packages;
pub mod partner_config;
pub mod passthrough;
pub mod publisher;
pub mod queue;
pub mod results;
pub mod secrets;
pub mod sqs_batch;
pub mod sr;
pub mod store;
pub mod telemetry;
pub mod webhooks;

pub use config::Config;
