//! SR's error body (`ErrorResponse`): `{"errors":[{"code","message"}],"message"}`.
//!
//! Every 4xx/5xx the simulator answers (as SR or on its admin API) uses this shape, so the
//! connector's error parsing is exercised the same way it will be against the real API.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::Value;

use crate::validate::FieldError;

/// One entry of `ErrorResponse.errors`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ErrorItem {
    pub code: String,
    pub message: String,
}

/// An error answer with SR's `ErrorResponse` body.
#[derive(Debug, Clone)]
pub struct SrError {
    pub status: StatusCode,
    pub errors: Vec<ErrorItem>,
    pub message: String,
    /// Extra diagnostic data (admin endpoints only, e.g. what the connector answered).
    pub detail: Option<Value>,
}

impl SrError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self {
            status,
            errors: vec![ErrorItem {
                code: code.to_owned(),
                message: message.clone(),
            }],
            message,
            detail: None,
        }
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "FORBIDDEN", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NOT_FOUND", message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "CONFLICT", message)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "INVALID_REQUEST", message)
    }

    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            message,
        )
    }

    pub fn bad_gateway(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_GATEWAY, "UPSTREAM_ERROR", message)
    }

    /// 400 listing every field violation; each message names its field.
    pub fn validation(message: impl Into<String>, errors: Vec<FieldError>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            errors: errors
                .into_iter()
                .map(|e| ErrorItem {
                    code: e.code.to_owned(),
                    message: e.message,
                })
                .collect(),
            message: message.into(),
            detail: None,
        }
    }

    pub fn with_detail(mut self, detail: Value) -> Self {
        self.detail = Some(detail);
        self
    }

    /// The JSON body this error is answered with.
    pub fn body(&self) -> Value {
        let mut body = serde_json::json!({ "errors": self.errors, "message": self.message });
        if let Some(detail) = &self.detail {
            body["detail"] = detail.clone();
        }
        body
    }
}

impl IntoResponse for SrError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body())).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
