//! Entry points of the HTTP Lambdas: SR-facing partner endpoints and the vendor API.

pub mod consent;
pub mod partner;
pub mod vendor;

use lambda_http::http::StatusCode;

use crate::http::ApiError;
use crate::kombo::inline::InlineUrlError;
use crate::onboarding::CompanyError;
use crate::orders::receive::ReceiveError;
use crate::passthrough::CallError;
use crate::queue::QueueError;
use crate::results::submit::SubmitError;
use crate::results::AttachmentError;
use crate::secrets::SecretError;
use crate::sr::SrClientError;
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
            StoreError::IndexBuilding { .. } => {
                tracing::warn!(error = %error, "index not readable yet");
                ApiError::unavailable(error.to_string())
            }
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
            CompanyError::Unconfirmed(_) => {
                ApiError::unavailable("SmartRecruiters could not confirm the disable; retry")
            }
        }
    }
}

/// A refused result submission: 404 for an order the integration does not have, 400 naming
/// the field for what cannot be mapped, 413 for inline files over the limit, the final-status
/// rule's 409 (`FINAL_STATUS`, naming the current status), 409 `ORDER_ERASED` for an order
/// whose personal data was erased.
impl From<SubmitError> for ApiError {
    fn from(error: SubmitError) -> Self {
        match error {
            SubmitError::UnknownOrder(id) => unknown_order(&id),
            SubmitError::Erased(id) => ApiError::conflict(
                "ORDER_ERASED",
                format!("the personal data of order `{id}` was erased; it takes no more results"),
            ),
            SubmitError::Invalid(e) => {
                let field = e.field.clone();
                ApiError::bad_request("INVALID_FIELD", e.to_string()).with_field(field)
            }
            SubmitError::Attachment(e) => e.into(),
            SubmitError::FinalStatus(e) => {
                ApiError::conflict("FINAL_STATUS", e.to_string()).with_field("status")
            }
            SubmitError::Store(e) => e.into(),
            SubmitError::Queue(e) => e.into(),
        }
    }
}

/// 404 for an order the integration does not have, or that cannot be SR's (a path's id that
/// [`OrderId`](crate::ids::OrderId) refuses): its id is named unless it is too long to repeat.
pub(crate) fn unknown_order(id: &str) -> ApiError {
    if id.len() > crate::ids::OrderId::MAX_LEN {
        ApiError::not_found("ORDER_NOT_FOUND", "there is no order with such a long id")
    } else {
        ApiError::not_found("ORDER_NOT_FOUND", format!("there is no order `{id}`"))
    }
}

/// 400 naming the field, or 413 for inline file data over the limit (the message says to use
/// `data_url`).
impl From<AttachmentError> for ApiError {
    fn from(error: AttachmentError) -> Self {
        match error {
            AttachmentError::Invalid(e) => {
                let field = e.field.clone();
                ApiError::bad_request("INVALID_FIELD", e.to_string()).with_field(field)
            }
            AttachmentError::TooLarge { ref field, .. } => {
                let field = format!("{field}.data");
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "ATTACHMENT_TOO_LARGE",
                    error.to_string(),
                )
                .with_field(field)
            }
        }
    }
}

/// The passthrough's refusals (400, 403, 404) and SR's absence (502); SR's own answers are no
/// error. What went wrong with SR is logged by the operation, never answered.
impl From<CallError> for ApiError {
    fn from(error: CallError) -> Self {
        match error {
            CallError::Refused(e) if e.is_forbidden() => ApiError::new(
                StatusCode::FORBIDDEN,
                "PASSTHROUGH_NOT_ALLOWED",
                e.to_string(),
            ),
            CallError::Refused(e) => ApiError::bad_request("INVALID_FIELD", e.to_string()),
            CallError::UnknownCompany(_) => {
                ApiError::not_found("COMPANY_NOT_FOUND", error.to_string())
            }
            CallError::CompanyDisabled(_) => {
                ApiError::new(StatusCode::FORBIDDEN, "COMPANY_DISABLED", error.to_string())
            }
            CallError::Unreachable(e) => {
                let message = match e {
                    SrClientError::CredentialsRefused { .. } => {
                        "SmartRecruiters refused the company's credentials at its token endpoint"
                    }
                    _ => "SmartRecruiters could not be reached; try again later",
                };
                ApiError::new(StatusCode::BAD_GATEWAY, "SR_UNREACHABLE", message)
            }
            CallError::AnswerTooLarge => ApiError::new(
                StatusCode::BAD_GATEWAY,
                "SR_ANSWER_TOO_LARGE",
                error.to_string(),
            ),
            CallError::Store(e) => e.into(),
            CallError::Secret(e) => e.into(),
        }
    }
}

/// An order not received: 409 for an id stored with other content, 401 for a token its record
/// refused, 503 when concurrent requests kept it from being stored (SR retries), SR's error for the vendor
/// not answering an inline order's URL (504 on a timeout, else 502), 503 for AWS.
impl From<ReceiveError> for ApiError {
    fn from(error: ReceiveError) -> Self {
        match error {
            ReceiveError::Exists(_) | ReceiveError::NotInline => {
                ApiError::conflict("ORDER_EXISTS", error.to_string())
            }
            ReceiveError::TokenRefused => ApiError::unauthorized(error.to_string()),
            // The partner endpoints accept the order again; met here only after they gave up.
            ReceiveError::CatalogChanged(_) | ReceiveError::Contended => {
                ApiError::unavailable(ReceiveError::Contended.to_string())
            }
            ReceiveError::InlineUrl(e) => e.into(),
            ReceiveError::Store(e) => e.into(),
        }
    }
}

impl From<InlineUrlError> for ApiError {
    fn from(error: InlineUrlError) -> Self {
        match error {
            InlineUrlError::Secret(_) => {
                ApiError::unavailable("credentials storage is temporarily unavailable; retry")
            }
            InlineUrlError::Timeout(_) => ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "INLINE_URL_TIMEOUT",
                error.to_string(),
            ),
            other => ApiError::new(
                StatusCode::BAD_GATEWAY,
                "INLINE_URL_UNAVAILABLE",
                other.to_string(),
            ),
        }
    }
}
