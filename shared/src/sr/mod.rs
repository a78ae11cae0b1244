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
pub use errors::SrErrorBody;
pub use orders::{
    Candidate, InlineOrderRequest, InlineOrderResponse, Job, OrderRequest, OrderRequester,
};
pub use packages::{Assessment, AssessmentPackage, AssessmentType};
pub use results::{AssessmentResult, PackageResult, ResultStatus, Score, UrlAttachment};
