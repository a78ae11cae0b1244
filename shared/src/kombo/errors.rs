//! The vendor API's errors in Kombo's envelope: `{status: "error", error: {code, title, message,
//! log_url}}`, with `code` one of Kombo's error codes, so Kombo's SDKs raise their API error
//! (`KomboAtsError` in Python, `KomboAtsError` in TypeScript) carrying the message instead of a
//! response-validation error. The connector's own precise code and the offending field travel
//! in two extra keys the SDKs ignore: `connector_code` and `field`.
//!
//! [`platform_code`] is the one place where a status (and, where a status is ambiguous, the
//! connector's code) becomes a Kombo code, so errors added anywhere in the vendor API map
//! without further work.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde_json::{json, Value};

use crate::http::{json_response, ApiError};

pub const INPUT_INVALID: &str = "PLATFORM.INPUT_INVALID";
pub const AUTHENTICATION_INVALID: &str = "PLATFORM.AUTHENTICATION_INVALID";
pub const INTEGRATION_NOT_FOUND: &str = "PLATFORM.INTEGRATION_NOT_FOUND";
pub const RATE_LIMIT_EXCEEDED: &str = "PLATFORM.RATE_LIMIT_EXCEEDED";
pub const UNKNOWN_ERROR: &str = "PLATFORM.UNKNOWN_ERROR";
pub const TASK_TIMED_OUT: &str = "PLATFORM.TASK_TIMED_OUT";
pub const INTEGRATION_INACTIVE: &str = "INTEGRATION.INACTIVE";
pub const ACTION_DISABLED: &str = "INTEGRATION.ACTION_DISABLED";
pub const ACTION_NOT_AVAILABLE: &str = "INTEGRATION.ACTION_NOT_AVAILABLE";
pub const REMOTE_SERVICE_UNAVAILABLE: &str = "REMOTE.SERVICE_UNAVAILABLE";

/// Every code [`platform_code`] answers; each is in the `code` enum of Kombo's SDKs
/// (`KomboAtsErrorCode`), which `tests/kombo/` checks.
pub const CODES: [&str; 10] = [
    INPUT_INVALID,
    AUTHENTICATION_INVALID,
    INTEGRATION_NOT_FOUND,
    RATE_LIMIT_EXCEEDED,
    UNKNOWN_ERROR,
    TASK_TIMED_OUT,
    INTEGRATION_INACTIVE,
    ACTION_DISABLED,
    ACTION_NOT_AVAILABLE,
    REMOTE_SERVICE_UNAVAILABLE,
];

/// Kombo's code for a vendor API error: by status, refined by the connector's code where one
/// status covers different causes (a 403 for a disabled company vs. a refused key).
pub fn platform_code(error: &ApiError) -> &'static str {
    match (error.status, error.code) {
        (StatusCode::UNAUTHORIZED, _) => AUTHENTICATION_INVALID,
        (StatusCode::FORBIDDEN, "COMPANY_DISABLED") => INTEGRATION_INACTIVE,
        (StatusCode::FORBIDDEN, "PASSTHROUGH_NOT_ALLOWED") => ACTION_DISABLED,
        (StatusCode::FORBIDDEN, _) => AUTHENTICATION_INVALID,
        (StatusCode::NOT_FOUND, "COMPANY_NOT_FOUND") => INTEGRATION_NOT_FOUND,
        (StatusCode::TOO_MANY_REQUESTS, _) => RATE_LIMIT_EXCEEDED,
        (StatusCode::NOT_IMPLEMENTED, _) => ACTION_NOT_AVAILABLE,
        (StatusCode::BAD_GATEWAY, _) => REMOTE_SERVICE_UNAVAILABLE,
        (StatusCode::GATEWAY_TIMEOUT, _) => TASK_TIMED_OUT,
        // Every other 4xx is about the request itself: an unknown order, a bad field, a body
        // over the limit, a status SR can no longer take.
        (status, _) if status.is_client_error() => INPUT_INVALID,
        _ => UNKNOWN_ERROR,
    }
}

/// The vendor API's answer for `error`: its status, Kombo's envelope as the body.
pub fn vendor_error_response(error: &ApiError) -> Response<Body> {
    json_response(error.status, &envelope(error))
}

/// The error body: Kombo's keys (`log_url` is always `null`: there is no log UI) plus
/// `connector_code` and, when one is to blame, `field`.
pub fn envelope(error: &ApiError) -> Value {
    let mut detail = json!({
        "code": platform_code(error),
        "title": error.status.canonical_reason().unwrap_or("Error"),
        "message": error.message,
        "log_url": null,
        "connector_code": error.code,
    });
    if let Some(field) = &error.field {
        detail["field"] = json!(field);
    }
    json!({"status": "error", "error": detail})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_onto_kombo_codes() {
        let code = |status: u16, connector: &'static str| {
            platform_code(&ApiError::new(
                StatusCode::from_u16(status).unwrap(),
                connector,
                "m",
            ))
        };
        assert_eq!(code(400, "INVALID_FIELD"), INPUT_INVALID);
        assert_eq!(code(404, "ORDER_NOT_FOUND"), INPUT_INVALID);
        assert_eq!(code(409, "FINAL_STATUS"), INPUT_INVALID);
        assert_eq!(code(413, "PAYLOAD_TOO_LARGE"), INPUT_INVALID);
        assert_eq!(code(401, "UNAUTHORIZED"), AUTHENTICATION_INVALID);
        assert_eq!(code(403, "KEY_NOT_ALLOWED"), AUTHENTICATION_INVALID);
        assert_eq!(code(403, "COMPANY_DISABLED"), INTEGRATION_INACTIVE);
        assert_eq!(code(404, "COMPANY_NOT_FOUND"), INTEGRATION_NOT_FOUND);
        assert_eq!(code(429, "SLOW_DOWN"), RATE_LIMIT_EXCEEDED);
        assert_eq!(code(502, "SR_UNREACHABLE"), REMOTE_SERVICE_UNAVAILABLE);
        assert_eq!(code(503, "TEMPORARILY_UNAVAILABLE"), UNKNOWN_ERROR);
        assert_eq!(code(500, "ANYTHING"), UNKNOWN_ERROR);
        for status in 400..600 {
            let Ok(status) = StatusCode::from_u16(status) else {
                continue;
            };
            let answered = platform_code(&ApiError::new(status, "X", "m"));
            assert!(CODES.contains(&answered), "{status} → {answered}");
        }
    }

    #[test]
    fn the_envelope_keeps_the_connector_code_and_the_field() {
        let error = ApiError::bad_request("INVALID_FIELD", "invalid field `score`: too high")
            .with_field("score");
        let body = envelope(&error);
        assert_eq!(body["status"], "error");
        assert_eq!(body["error"]["code"], INPUT_INVALID);
        assert_eq!(body["error"]["title"], "Bad Request");
        assert_eq!(body["error"]["log_url"], Value::Null);
        assert_eq!(body["error"]["connector_code"], "INVALID_FIELD");
        assert_eq!(body["error"]["field"], "score");
        let plain = envelope(&ApiError::unauthorized("no key"));
        assert!(plain["error"].get("field").is_none());
    }
}
