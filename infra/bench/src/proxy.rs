//! A counting reverse proxy: the function under test gets `AWS_ENDPOINT_URL` (or the SR base URLs)
//! pointing here, every request is forwarded to the real upstream (moto, the SR simulator) and
//! logged by operation — `dynamodb:BatchGetItem`, `secretsmanager:GetSecretValue`,
//! `sr:PATCH /orders/{id}/results`, … — with the upstream's status.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::http1::{self, Request, Response, Server};
use crate::Result;

/// One forwarded request.
#[derive(Debug, Clone)]
pub struct Call {
    pub operation: String,
    pub status: u16,
    /// The path, for SR calls (`/assessment-api/v202010/orders/{id}/results`).
    pub path: String,
    pub at: Instant,
}

#[derive(Debug, Clone, Copy)]
pub enum Upstream {
    /// AWS JSON / query protocols: the operation is `X-Amz-Target` or the `Action` form field.
    Aws,
    /// The SR simulator: the operation is the method and the path with ids replaced.
    Sr,
}

pub struct CountingProxy {
    server: Server,
    calls: Arc<Mutex<Vec<Call>>>,
}

impl CountingProxy {
    pub async fn start(kind: Upstream, upstream: &str) -> Result<Self> {
        let calls: Arc<Mutex<Vec<Call>>> = Arc::default();
        let http = reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(32)
            .build()?;
        let upstream = upstream.trim_end_matches('/').to_string();
        let log = calls.clone();
        let server = http1::serve(http1::handler(move |request| {
            let (http, upstream, log) = (http.clone(), upstream.clone(), log.clone());
            async move {
                let operation = match kind {
                    Upstream::Aws => aws_operation(&request),
                    Upstream::Sr => sr_operation(&request),
                };
                let path = request.path().to_string();
                let response = forward(&http, &upstream, request).await;
                log.lock().unwrap().push(Call {
                    operation,
                    status: response.status,
                    path,
                    at: Instant::now(),
                });
                response
            }
        }))
        .await?;
        Ok(Self { server, calls })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr)
    }

    /// How many calls were logged so far (a mark for [`CountingProxy::since`]).
    pub fn mark(&self) -> usize {
        self.calls.lock().unwrap().len()
    }

    /// The calls logged after `mark`.
    pub fn since(&self, mark: usize) -> Vec<Call> {
        self.calls.lock().unwrap()[mark..].to_vec()
    }
}

/// Calls per operation.
pub fn by_operation(calls: &[Call]) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for call in calls {
        *counts.entry(call.operation.clone()).or_default() += 1;
    }
    counts
}

pub async fn forward(http: &reqwest::Client, upstream: &str, request: Request) -> Response {
    let method =
        reqwest::Method::from_bytes(request.method.as_bytes()).unwrap_or(reqwest::Method::GET);
    let mut builder = http.request(method, format!("{upstream}{}", request.target));
    for (name, value) in &request.headers {
        let hop = [
            "host",
            "content-length",
            "connection",
            "transfer-encoding",
            "keep-alive",
        ];
        if !hop.iter().any(|h| name.eq_ignore_ascii_case(h)) {
            builder = builder.header(name, value);
        }
    }
    let answer = match builder.body(request.body).send().await {
        Ok(answer) => answer,
        Err(e) => return Response::new(502, format!("bench proxy: upstream failed: {e}")),
    };
    let status = answer.status().as_u16();
    let headers: Vec<(String, String)> = answer
        .headers()
        .iter()
        .filter(|(name, _)| {
            !matches!(
                name.as_str(),
                "content-length" | "connection" | "transfer-encoding" | "keep-alive"
            )
        })
        .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_string())))
        .collect();
    let body = answer.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
    Response {
        status,
        headers,
        body,
    }
}

/// `dynamodb:GetItem`, `secretsmanager:GetSecretValue`, `sqs:SendMessage`, …
fn aws_operation(request: &Request) -> String {
    if let Some(target) = request.header("x-amz-target") {
        let (service, operation) = target.split_once('.').unwrap_or(("?", target));
        let service = match service {
            s if s.starts_with("DynamoDB") => "dynamodb",
            s if s.eq_ignore_ascii_case("secretsmanager") => "secretsmanager",
            "AmazonSQS" => "sqs",
            other => other,
        };
        return format!("{service}:{operation}");
    }
    // Query protocol (older SQS clients): `Action=SendMessage&...`.
    let form = String::from_utf8_lossy(&request.body);
    let action = form
        .split('&')
        .chain(request.target.split(['?', '&']))
        .find_map(|pair| pair.strip_prefix("Action="));
    match action {
        Some(action) => format!("{}:{action}", service_of(request)),
        None => format!("?:{} {}", request.method, request.path()),
    }
}

/// The service of a SigV4-signed request: `Credential=KEY/DATE/REGION/SERVICE/aws4_request`.
fn service_of(request: &Request) -> String {
    request
        .header("authorization")
        .and_then(|a| a.split("Credential=").nth(1))
        .and_then(|c| c.split('/').nth(3))
        .unwrap_or("?")
        .to_string()
}

/// `sr:POST /identity/oauth/token`, `sr:PATCH /orders/{id}/results`.
fn sr_operation(request: &Request) -> String {
    let path = request.path();
    let path = path.strip_prefix("/assessment-api/v202010").unwrap_or(path);
    let generic: Vec<&str> = path
        .split('/')
        .enumerate()
        .map(|(i, seg)| {
            let previous = path.split('/').nth(i.wrapping_sub(1)).unwrap_or("");
            if matches!(previous, "orders" | "company" | "attachments") {
                "{id}"
            } else {
                seg
            }
        })
        .collect();
    format!("sr:{} {}", request.method, generic.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, target: &str, headers: &[(&str, &str)], body: &str) -> Request {
        Request {
            method: method.into(),
            target: target.into(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.as_bytes().to_vec(),
            received_at: Instant::now(),
        }
    }

    #[test]
    fn aws_operations_come_from_the_target_header_or_the_action() {
        let ddb = request(
            "POST",
            "/",
            &[("X-Amz-Target", "DynamoDB_20120810.BatchGetItem")],
            "{}",
        );
        assert_eq!(aws_operation(&ddb), "dynamodb:BatchGetItem");
        let sm = request(
            "POST",
            "/",
            &[("x-amz-target", "secretsmanager.GetSecretValue")],
            "{}",
        );
        assert_eq!(aws_operation(&sm), "secretsmanager:GetSecretValue");
        let sqs_json = request(
            "POST",
            "/",
            &[("x-amz-target", "AmazonSQS.SendMessage")],
            "{}",
        );
        assert_eq!(aws_operation(&sqs_json), "sqs:SendMessage");
        let auth = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/sqs/aws4_request, SignedHeaders=host";
        let sqs_query = request(
            "POST",
            "/q",
            &[("authorization", auth)],
            "Action=SendMessage&Version=2012-11-05",
        );
        assert_eq!(aws_operation(&sqs_query), "sqs:SendMessage");
    }

    #[test]
    fn sr_operations_hide_ids() {
        let patch = request(
            "PATCH",
            "/assessment-api/v202010/orders/abc-1/results",
            &[],
            "",
        );
        assert_eq!(sr_operation(&patch), "sr:PATCH /orders/{id}/results");
        let token = request("POST", "/identity/oauth/token", &[], "");
        assert_eq!(sr_operation(&token), "sr:POST /identity/oauth/token");
    }
}
