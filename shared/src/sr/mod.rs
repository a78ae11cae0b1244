//! SmartRecruiters Assessment API v202010: the contract types of both directions and the client
//! the connector uses to call SR. Shapes follow SR's published API reference (Konfig's public
//! OpenAPI merge of it) minus that merge's defects, noted where they matter. Every type ignores unknown fields: SR adding a field must never break us.

pub mod client;
pub mod customer;
pub mod errors;
pub mod oauth;
pub mod orders;
pub mod packages;
pub mod partner;
pub mod results;

pub use client::{SrClient, SrClientError, SrCredentials};

/// What stays as it is in one path segment of a URL the connector builds (SR's API paths, a
/// vendor's inline assessment URL): RFC 3986's unreserved characters. The rest is
/// percent-encoded, a space as `%20` (the form encoding's `+` would name SR's `a+b`).
pub const PATH_SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');
pub use errors::SrErrorBody;
pub use orders::{
    Candidate, InlineOrderRequest, InlineOrderResponse, Job, OrderRequest, OrderRequester,
};
pub use packages::{Assessment, AssessmentPackage, AssessmentType};
pub use results::{AssessmentResult, PackageResult, ResultStatus, Score, UrlAttachment};
