//! The HTTP edge shared by every API Lambda: one error type, mapped to status codes in one place,
//! and rendered in the dialect of whoever called (SR's error body or the vendor API envelope).

use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::sr::SrErrorBody;

/// A client-facing failure: status, a stable machine code and a message that says what was wrong
/// and where (field, header, parameter). Never carries internals or secrets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// The offending request element (`attributes[1].score`, `X-Integration-Id`), when one is
    /// to blame; the vendor API answers it next to the message.
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
        }
    }

    /// Names the request element the error is about.
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "FORBIDDEN", message)
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// A dependency (DynamoDB, SQS, Secrets Manager) failed: the caller should retry.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "TEMPORARILY_UNAVAILABLE",
            message,
        )
    }
}

/// One body-size bound per endpoint, in bytes, checked by [`require_body_within`] before any
/// other work. Each is sized for what the endpoint legitimately carries and for where it is
/// stored (DynamoDB items hold at most 400 KB); Lambda's own 6 MB request limit is in front of
/// every one of them in a deployment.
pub mod body_limits {
    const KIB: usize = 1024;
    /// `POST /oauth/token`: a form with a grant type, a client id and a secret.
    pub const TOKEN: usize = 16 * KIB;
    /// Requests that carry no body: `GET /packages`, `GET /packages/{id}`,
    /// `DELETE /integrations/companies/{id}`, the vendor API's reads.
    pub const NO_BODY: usize = 16 * KIB;
    /// `POST /packages/orders`, `POST /packages/inline/orders`: SR's order. It is stored as
    /// the order item, which also holds the latest result and the enrichment.
    pub const ORDER: usize = 128 * KIB;
    /// The consent page's forms (CSRF token, connect key, organisation choice).
    pub const CONSENT: usize = 16 * KIB;
    /// `PUT /assessment/packages`: the catalog, stored as one item.
    pub const CATALOG: usize = 256 * KIB;
    /// `PUT /assessment/orders/{id}/result`: inline files (at most 300 KiB each, decoded, as
    /// base64) make it large; everything but the files must fit [`crate::results::MAX_STORED_RESULT_BYTES`].
    pub const RESULT: usize = 6 * KIB * KIB;
    /// `POST /assessment/passthrough/sr`: a Customer API call and its body.
    pub const PASSTHROUGH: usize = 256 * KIB;
    /// `POST /assessment/connect-keys`.
    pub const CONNECT_KEY: usize = 16 * KIB;
}

/// 413 naming the limit when the body is larger than `limit` bytes. The body is already in
/// memory (Lambda hands over whole events); this keeps the endpoint from parsing, storing or
/// forwarding it, and from answering a 5xx when storage later refuses its size.
pub fn require_body_within(request: &Request, limit: usize) -> Result<(), ApiError> {
    let size = request.body().len();
    if size <= limit {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "PAYLOAD_TOO_LARGE",
        format!(
            "the request body is {size} bytes; this endpoint accepts at most {limit} bytes ({} KiB)",
            limit / 1024
        ),
    ))
}

/// 413 naming the largest member when `value`, stored as JSON, would take more than `limit`
/// bytes: the member a caller would have to shorten (``field `summary` ``).
pub fn require_stored_size_within(
    value: &serde_json::Value,
    limit: usize,
    what: &str,
) -> Result<(), ApiError> {
    let size = json_size(value);
    if size <= limit {
        return Ok(());
    }
    let (field, field_size) = largest_member(value, String::new());
    let field = if field.is_empty() {
        what.to_string()
    } else {
        field
    };
    let message = format!(
        "field `{field}` is {field_size} bytes: {what} may take at most {limit} bytes as stored (file data apart), and this one takes {size}"
    );
    Err(ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "VALUE_TOO_LARGE", message).with_field(field))
}

fn json_size(value: &serde_json::Value) -> usize {
    serde_json::to_vec(value).map_or(0, |v| v.len())
}

/// The member holding most of `value`'s size: descends while one child holds more than half.
fn largest_member(value: &serde_json::Value, path: String) -> (String, usize) {
    use serde_json::Value;
    let size = json_size(value);
    let children: Vec<(String, &Value)> = match value {
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| {
                let at = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                (at, v)
            })
            .collect(),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("{path}[{i}]"), v))
            .collect(),
        _ => return (path, size),
    };
    match children
        .into_iter()
        .map(|(at, v)| (json_size(v), at, v))
        .max_by_key(|(child_size, _, _)| *child_size)
    {
        Some((child_size, at, child)) if child_size * 2 > size => largest_member(child, at),
        _ => (path, size),
    }
}

/// SR's `ErrorResponse` — what our SR-facing endpoints answer on failure.
pub fn sr_error_response(error: &ApiError) -> Response<Body> {
    json_response(
        error.status,
        &SrErrorBody::single(error.code, &error.message),
    )
}

pub fn json_response<T: Serialize + ?Sized>(status: StatusCode, body: &T) -> Response<Body> {
    let text = serde_json::to_string(body).expect("response types always serialize");
    let mut response = Response::new(Body::Text(text));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

pub fn empty_response(status: StatusCode) -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = status;
    response
}

/// The request body as bytes, whatever API Gateway's encoding was.
pub fn body_bytes(request: &Request) -> &[u8] {
    request.body().as_ref()
}

/// Parses a JSON body into `T`; the error names the offending field path (`candidate.id`).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.is_empty() {
        return Err(ApiError::bad_request(
            "INVALID_BODY",
            "request body is empty; expected a JSON object",
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() || path == "." {
            ApiError::bad_request("INVALID_BODY", format!("invalid JSON body: {inner}"))
        } else {
            ApiError::bad_request("INVALID_BODY", format!("invalid field `{path}`: {inner}"))
                .with_field(path)
        }
    })
}

/// Free-form JSON from a request that is stored as it is (unknown order fields SR sends, the
/// vendor's original result body) must be something DynamoDB can hold; otherwise the write fails
/// and the caller would get a 503 for a request that can never succeed. DynamoDB refuses empty
/// map keys (attribute names are 1 to 65,535 bytes) and numbers whose magnitude is outside
/// 1e-130 to 9.99…e125. Answers a 400 naming the offending element, e.g. ``invalid field `job.x` ``.
pub fn require_storable(value: &serde_json::Value, path: &str) -> Result<(), ApiError> {
    use serde_json::Value;
    let invalid = |at: &str, reason: &str| {
        Err(
            ApiError::bad_request("INVALID_FIELD", format!("invalid field `{at}`: {reason}"))
                .with_field(at),
        )
    };
    match value {
        Value::Number(n) => match n.as_f64() {
            Some(x) if x == 0.0 || (1e-130..1e126).contains(&x.abs()) => Ok(()),
            _ => invalid(path, "numbers must be 0 or of magnitude 1e-130 to 9.99e125"),
        },
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, item)| require_storable(item, &format!("{path}[{i}]"))),
        Value::Object(map) => map.iter().try_for_each(|(key, item)| {
            if key.is_empty() {
                return invalid(path, "object keys must not be empty");
            }
            let at = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            require_storable(item, &at)
        }),
        Value::Null | Value::Bool(_) | Value::String(_) => Ok(()),
    }
}

/// Requires `Content-Type` to be `expected` (parameters like `charset` allowed).
pub fn require_content_type(request: &Request, expected: &str) -> Result<(), ApiError> {
    let actual = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = actual.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case(expected) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            format!("Content-Type must be {expected} (got `{actual}`)"),
        ))
    }
}

/// A header's value as text. Header bytes are read as UTF-8: SR sends names with accents raw
/// (`"firstName":"Zoë"` in `requester`), which `HeaderValue::to_str` (visible ASCII only)
/// would refuse. `None` when absent or not UTF-8.
pub fn header_text<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    std::str::from_utf8(request.headers().get(name)?.as_bytes()).ok()
}

/// A JSON body's `Content-Type`: `application/json` (or a `+json` type), or none at all — some
/// clients and proxies send JSON without the header, and the body is parsed as JSON either
/// way. Another declared type is a 415.
pub fn require_json_or_untyped(request: &Request) -> Result<(), ApiError> {
    let Some(declared) = request.headers().get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let essence = std::str::from_utf8(declared.as_bytes())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence.is_empty() || essence == "application/json" || essence.ends_with("+json") {
        return Ok(());
    }
    require_content_type(request, "application/json")
}

/// The bearer credential of the `Authorization` header, if it has one.
pub fn bearer_token(request: &Request) -> Option<&str> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Path segments after `anchor` (e.g. `packages`), ignoring any stage or proxy prefix in front.
pub fn segments_after<'a>(path: &'a str, anchor: &str) -> Option<Vec<&'a str>> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let at = segments.iter().position(|s| *s == anchor)?;
    Some(segments[at + 1..].to_vec())
}

/// A query parameter: from API Gateway's parsed parameters, else from the URI itself (function
/// URLs, local emulators and in-process tests do not always fill the former).
pub fn query_param(request: &Request, name: &str) -> Option<String> {
    use lambda_http::RequestExt;
    if let Some(v) = request
        .query_string_parameters_ref()
        .and_then(|q| q.first(name))
    {
        return Some(v.to_string());
    }
    let query = request.uri().query()?;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Percent-decodes one path segment (`+` stays a plus; invalid UTF-8 becomes U+FFFD).
pub fn decode_segment(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Outer {
        inner: Inner,
    }
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        id: String,
    }

    #[test]
    fn parse_errors_name_the_field() {
        let err = parse_json::<Outer>(br#"{"inner":{}}"#).unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert!(err.message.contains("inner"), "{}", err.message);
        assert!(
            err.message.contains("missing field `id`"),
            "{}",
            err.message
        );
        let err = parse_json::<Outer>(br#"{"inner":{"id":5}}"#).unwrap_err();
        assert!(err.message.contains("`inner.id`"), "{}", err.message);
    }

    #[test]
    fn malformed_json_is_a_bad_request() {
        let err = parse_json::<Outer>(b"{not json").unwrap_err();
        assert!(
            err.message.starts_with("invalid JSON body"),
            "{}",
            err.message
        );
        let err = parse_json::<Outer>(b"").unwrap_err();
        assert!(err.message.contains("empty"));
    }

    #[test]
    fn unstorable_json_is_a_bad_request_naming_the_element() {
        let ok = serde_json::json!({"a": [1, 2.5, 0.0, -1e125, 1e-130, null, "x", {"b": true}]});
        assert!(require_storable(&ok, "").is_ok());
        let err =
            require_storable(&serde_json::json!({"a": {"b": [1, 1e200]}}), "job").unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert!(err.message.contains("`job.a.b[1]`"), "{}", err.message);
        let err = require_storable(&serde_json::json!({"a": 1e-200}), "").unwrap_err();
        assert!(err.message.contains("`a`"), "{}", err.message);
        let err = require_storable(&serde_json::json!({"a": {"": 1}}), "fields").unwrap_err();
        assert!(err.message.contains("`fields.a`"), "{}", err.message);
        assert!(
            err.message.contains("keys must not be empty"),
            "{}",
            err.message
        );
    }

    #[test]
    fn bodies_over_the_endpoint_bound_are_413_naming_it() {
        let request = |body: Vec<u8>| {
            lambda_http::http::Request::builder()
                .body(Body::Binary(body))
                .unwrap()
        };
        assert!(require_body_within(&request(vec![b'x'; 10]), 10).is_ok());
        let err = require_body_within(&request(vec![b'x'; 11]), 10).unwrap_err();
        assert_eq!(err.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(err.message.contains("at most 10 bytes"), "{}", err.message);
    }

    #[test]
    fn a_value_too_large_to_store_names_its_largest_member() {
        let value = serde_json::json!({"status": "COMPLETED", "attributes": [
            {"type": "TEXT", "label": "a", "value": "short"},
            {"type": "TEXT", "label": "b", "value": "x".repeat(500)}
        ]});
        assert!(require_stored_size_within(&value, 1000, "a result").is_ok());
        let err = require_stored_size_within(&value, 100, "a result").unwrap_err();
        assert_eq!(err.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(
            err.message
                .starts_with("field `attributes[1].value` is 502 bytes"),
            "{}",
            err.message
        );
    }

    #[test]
    fn segments_after_ignores_prefixes() {
        assert_eq!(
            segments_after("/prod/packages/abc", "packages").unwrap(),
            vec!["abc"]
        );
        assert_eq!(
            segments_after("/packages/", "packages").unwrap(),
            Vec::<&str>::new()
        );
        assert!(segments_after("/other", "packages").is_none());
    }

    #[test]
    fn decodes_percent_encoded_segments() {
        assert_eq!(decode_segment("a%20b"), "a b");
        assert_eq!(decode_segment("a+b"), "a+b");
        assert_eq!(decode_segment("a&b=c%26"), "a&b=c&");
    }

    #[test]
    fn sr_errors_use_srs_shape() {
        let response = sr_error_response(&ApiError::not_found("PACKAGE_NOT_FOUND", "no such"));
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let Body::Text(text) = response.body() else {
            panic!("json body expected")
        };
        let json: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(json["errors"][0]["code"], "PACKAGE_NOT_FOUND");
        assert_eq!(json["message"], "no such");
    }
}
