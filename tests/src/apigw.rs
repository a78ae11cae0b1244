//! Real API Gateway HTTP API events (payload format 2.0), invoked on a function through cargo
//! lambda watch's Lambda invoke endpoint, as API Gateway invokes the deployed function: a form
//! body arrives base64-encoded (`isBase64Encoded: true`), cookies in their own `cookies` list,
//! and `rawPath` carries the stage (`/prod/...`) when the API has a named stage.
//!
//! The event starts from `tests/events/http-api-v2.json`, the shape of AWS's documented example.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};

use crate::Stack;

/// One HTTP API request, as the event API Gateway hands to Lambda.
#[derive(Debug, Clone)]
pub struct HttpApiEvent {
    event: Value,
}

impl HttpApiEvent {
    /// `route_key` is API Gateway's (`GET /packages/{assessmentPackageId}`); `path` the path
    /// requested (`/packages/java`), prefixed with `/{stage}` unless the stage is `$default`.
    /// The method is the route's; see [`Self::method`] for `ANY` routes.
    pub fn new(route_key: &str, stage: &str, path: &str) -> Self {
        let mut event: Value =
            serde_json::from_str(include_str!("../events/http-api-v2.json")).expect("fixture");
        let (method, _) = route_key.split_once(' ').expect("METHOD /route");
        let raw_path = if stage == "$default" {
            path.to_owned()
        } else {
            format!("/{stage}{path}")
        };
        event["routeKey"] = json!(route_key);
        event["rawPath"] = json!(raw_path);
        let context = &mut event["requestContext"];
        context["routeKey"] = json!(route_key);
        context["stage"] = json!(stage);
        context["http"]["method"] = json!(method);
        context["http"]["path"] = json!(raw_path);
        Self { event }
    }

    /// The request's method, for a route that takes `ANY`.
    pub fn method(mut self, method: &str) -> Self {
        self.event["requestContext"]["http"]["method"] = json!(method);
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.event["headers"][name.to_ascii_lowercase()] = json!(value);
        self
    }

    /// `rawQueryString` and the parsed `queryStringParameters` (repeated names joined by `,`,
    /// as API Gateway does).
    pub fn query(mut self, raw: &str) -> Self {
        self.event["rawQueryString"] = json!(raw);
        let mut parsed = serde_json::Map::new();
        for (name, value) in url::form_urlencoded::parse(raw.as_bytes()) {
            let joined = match parsed.get(name.as_ref()).and_then(Value::as_str) {
                Some(before) => format!("{before},{value}"),
                None => value.into_owned(),
            };
            parsed.insert(name.into_owned(), json!(joined));
        }
        self.event["queryStringParameters"] = Value::Object(parsed);
        self
    }

    pub fn path_parameter(mut self, name: &str, value: &str) -> Self {
        if !self.event["pathParameters"].is_object() {
            self.event["pathParameters"] = json!({});
        }
        self.event["pathParameters"][name] = json!(value);
        self
    }

    /// A cookie: HTTP APIs pass them in `cookies`, not in the headers.
    pub fn cookie(mut self, cookie: &str) -> Self {
        let cookies = self.event["cookies"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mut cookies = cookies;
        cookies.push(json!(cookie));
        self.event["cookies"] = Value::Array(cookies);
        self
    }

    /// The event as Lambda's runtime API hands it to the function.
    pub fn into_json(self) -> Value {
        self.event
    }

    /// The body: as text, or base64-encoded as API Gateway sends form and binary bodies.
    pub fn body(mut self, body: &[u8], base64: bool) -> Self {
        self.event["headers"]["content-length"] = json!(body.len().to_string());
        if base64 {
            self.event["body"] = json!(STANDARD.encode(body));
            self.event["isBase64Encoded"] = json!(true);
        } else {
            self.event["body"] = json!(String::from_utf8(body.to_vec()).expect("text body"));
            self.event["isBase64Encoded"] = json!(false);
        }
        self
    }
}

/// The function's answer, as API Gateway receives it (payload 2.0 response).
#[derive(Debug, Clone)]
pub struct HttpApiAnswer {
    pub status: u16,
    pub headers: Value,
    /// `Set-Cookie` values: payload 2.0 responses carry them in `cookies`.
    pub cookies: Vec<String>,
    pub body: Vec<u8>,
}

impl HttpApiAnswer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl Stack {
    /// Invokes `function` with `event` through cargo lambda watch's invoke API.
    pub async fn invoke_http_api(&self, function: &str, event: &HttpApiEvent) -> HttpApiAnswer {
        let answer = self.invoke(function, &event.event).await;
        let body = answer["body"].as_str().unwrap_or_default();
        let body = if answer["isBase64Encoded"] == true {
            STANDARD.decode(body).expect("base64 body")
        } else {
            body.as_bytes().to_vec()
        };
        HttpApiAnswer {
            status: answer["statusCode"].as_u64().unwrap_or(0) as u16,
            headers: answer["headers"].clone(),
            cookies: answer["cookies"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c.as_str().map(str::to_owned))
                .collect(),
            body,
        }
    }
}
