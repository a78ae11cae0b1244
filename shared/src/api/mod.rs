//! Entry points of the HTTP Lambdas: SR-facing partner endpoints and the vendor API.

pub mod consent;
pub mod partner;
pub mod vendor;

use crate::http::ApiError;
use crate::onboarding::CompanyError;
use crate::queue::QueueError;
use crate::secrets::SecretError;
use crate::store::StoreError;

/// Dependency failures become a 503 the caller can retry; the detail goes to the log only.
impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict => ApiError::conflict(
                "CONCURRENT_UPDATE",
                "the resource was changed by another request; retry",
            ),
            // Retrying cannot help: a 4xx naming what did not fit, never a 503.
            StoreError::TooLarge { what } => ApiError::new(
                lambda_http::http::StatusCode::PAYLOAD_TOO_LARGE,
                "VALUE_TOO_LARGE",
                format!("{what} is too large to store (DynamoDB items hold at most 400 KB)"),
            ),
            other => {
                tracing::error!(error = %other, "storage failure");
                ApiError::unavailable("storage is temporarily unavailable; retry")
            }
        }
    }
}

impl From<QueueError> for ApiError {
    fn from(error: QueueError) -> Self {
        tracing::error!(error = %error, "queue failure");
        ApiError::unavailable("the results queue is temporarily unavailable; retry")
    }
}

impl From<crate::auth::vendor_key::VendorKeyError> for ApiError {
    fn from(error: crate::auth::vendor_key::VendorKeyError) -> Self {
        use crate::auth::vendor_key::VendorKeyError;
        match error {
            VendorKeyError::Store(e) => e.into(),
            VendorKeyError::Secret(e) => e.into(),
        }
    }
}

impl From<crate::ops::vendor_key::VendorKeyOpError> for ApiError {
    fn from(error: crate::ops::vendor_key::VendorKeyOpError) -> Self {
        use crate::ops::vendor_key::VendorKeyOpError;
        match error {
            VendorKeyOpError::Store(e) => e.into(),
            VendorKeyOpError::Secret(e) => e.into(),
            invalid @ VendorKeyOpError::Invalid { .. } => {
                ApiError::bad_request("INVALID_FIELD", invalid.to_string())
            }
        }
    }
}

impl From<SecretError> for ApiError {
    fn from(error: SecretError) -> Self {
        tracing::error!(error = %error, "secrets failure");
        ApiError::unavailable("credentials storage is temporarily unavailable; retry")
    }
}

/// An HTTP entry point answers dependency failures as its other handlers do (503, or 409 for a
/// concurrent change), so `?` works on [`crate::onboarding::disable_company`] in a handler.
impl From<CompanyError> for ApiError {
    fn from(error: CompanyError) -> Self {
        match error {
            CompanyError::Store(e) => e.into(),
            CompanyError::Secret(e) => e.into(),
        }
    }
}
