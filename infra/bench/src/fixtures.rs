//! Realistic state and events: a company connected through the SR simulator, a published catalog,
//! a valid access token, and the API Gateway (HTTP API, payload 2.0) and SQS events Lambda would
//! deliver.

use chrono::Utc;
use connector::auth::{AccessToken, TokenClaims};
use connector::orders::Submission;
use connector::queue::QueueMessage;
use connector::sr::partner::ClientCredentials;
use connector::sr::{PackageResult, ResultStatus, Score};
use connector::store::ResultWrite;
use connector_tests::{Stack, TestCompany};
use serde_json::{json, Value};

use crate::Result;

/// The vendor's catalog: the demo packages, an inline one and a few more, so a list answer has a
/// realistic size.
pub fn catalog() -> Value {
    let mut packages = vec![
        json!({"id": "java-senior", "type": "SKILLS_TEST", "name": "Senior Java developer",
               "description": "Coding exercise and a system-design quiz, 90 minutes",
               "assessments": [
                  {"id": "java-coding", "name": "Coding exercise", "description": "Three Java tasks"},
                  {"id": "system-design", "name": "System design quiz", "description": "20 questions"}]}),
        json!({"id": "culture-fit", "type": "BEHAVIORAL_ASSESSMENT", "name": "Culture fit",
               "description": "Work-style questionnaire, 15 minutes"}),
        json!({"id": "chat-inline", "type": "INLINE_ASSESSMENT", "name": "Chat interview",
               "inline_url_template": "https://vendor.example.com/take/{orderId}?lang={language}&company={companyId}"}),
    ];
    for (id, name) in [
        ("python-mid", "Python developer"),
        ("sql-basics", "SQL basics"),
        ("english-b2", "English B2"),
    ] {
        packages.push(json!({"id": id, "type": "SKILLS_TEST", "name": name,
                             "description": format!("{name}: 40 questions, 45 minutes")}));
    }
    json!({ "packages": packages })
}

/// A connected company with its catalog, credentials and one valid access token.
pub struct Tenant {
    pub company: TestCompany,
    pub inbound: ClientCredentials,
    pub token: String,
    pub claims: TokenClaims,
}

impl Tenant {
    pub async fn create(stack: &Stack, label: &str) -> Result<Self> {
        let company = stack.new_company(label).await;
        stack.put_catalog(&company, catalog()).await;
        let inbound = stack.inbound_credentials(&company.company_id).await;
        let token = stack.access_token(&company).await;
        let claims =
            AccessToken::parse(&token).ok_or("the token endpoint issued a malformed token")?;
        Ok(Self {
            company,
            inbound,
            token,
            claims,
        })
    }

    /// What `baseline-handler` needs to make the same calls.
    pub fn baseline_env(&self, mode: &str) -> Vec<(&'static str, String)> {
        vec![
            ("BASELINE_MODE", mode.to_string()),
            ("BASELINE_COMPANY_ID", self.company.company_id.clone()),
            (
                "BASELINE_INTEGRATION_ID",
                self.company.integration_id.clone(),
            ),
            ("BASELINE_TOKEN_DIGEST", self.claims.digest.clone()),
            ("BASELINE_CLIENT_ID", self.inbound.client_id.clone()),
        ]
    }
}

/// The partner endpoints under measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Token,
    List,
    Get,
    Order,
    Inline,
}

impl Endpoint {
    pub const ALL: [Endpoint; 5] = [
        Self::Token,
        Self::List,
        Self::Get,
        Self::Order,
        Self::Inline,
    ];

    /// The function (release binary) serving it.
    pub fn function(self) -> &'static str {
        match self {
            Self::Token => "oauth-token",
            Self::List => "list-packages",
            Self::Get => "get-package",
            Self::Order => "create-order",
            Self::Inline => "create-inline-order",
        }
    }

    pub fn baseline_mode(self) -> &'static str {
        match self {
            Self::Token => "token",
            Self::List => "list",
            Self::Get => "get",
            Self::Order => "order",
            Self::Inline => "inline",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Token => "token",
            Self::List => "list packages",
            Self::Get => "get package",
            Self::Order => "order",
            Self::Inline => "inline order",
        }
    }

    /// The status a successful call answers.
    pub fn ok_status(self) -> u16 {
        match self {
            Self::Order => 202,
            _ => 200,
        }
    }

    /// Most AWS calls a warm invocation may make (the targets of infra/bench/README.md; none for the token).
    pub fn target_calls(self) -> Option<f64> {
        match self {
            Self::List | Self::Get => Some(1.0),
            // Issue 16's target; two (the transaction and the enrichment message) is today's.
            Self::Order | Self::Inline => Some(1.0),
            Self::Token => None,
        }
    }

    /// How many of `requested` calls to make. The token endpoint's TransactWriteItems costs moto
    /// 0.2–0.5 s and ~9 MB of memory it never gives back (it deep-copies the table), so it gets
    /// at most `token_cap` calls: enough for a p50, and the stack survives repeated runs.
    pub fn calls(self, requested: usize, token_cap: usize) -> usize {
        match self {
            Self::Token => requested.min(token_cap),
            _ => requested,
        }
    }

    /// A fresh event for this endpoint (orders get new ids each time).
    pub fn event(self, stack: &Stack, tenant: &Tenant) -> Value {
        let bearer = format!("Bearer {}", tenant.token);
        match self {
            Self::Token => {
                let form = format!(
                    "grant_type=client_credentials&client_id={}&client_secret={}",
                    tenant.inbound.client_id, tenant.inbound.client_secret
                );
                http_event(
                    "POST",
                    "/oauth/token",
                    &[("content-type", "application/x-www-form-urlencoded")],
                    Some(form),
                    None,
                )
            }
            Self::List => http_event(
                "GET",
                "/packages",
                &[
                    ("authorization", &bearer),
                    ("requester", r#"{"email":"recruiter@example.com"}"#),
                ],
                None,
                None,
            ),
            Self::Get => http_event(
                "GET",
                "/packages/java-senior",
                &[("authorization", &bearer)],
                None,
                Some(json!({"assessmentPackageId": "java-senior"})),
            ),
            Self::Order => {
                let (_, body) = connector_tests::order_body(stack, &tenant.company, "java-senior");
                http_event(
                    "POST",
                    "/packages/orders",
                    &[
                        ("authorization", &bearer),
                        ("content-type", "application/json"),
                    ],
                    Some(body.to_string()),
                    None,
                )
            }
            Self::Inline => http_event(
                "POST",
                "/packages/inline/orders",
                &[
                    ("authorization", &bearer),
                    ("content-type", "application/json"),
                ],
                Some(inline_body(stack, &tenant.company).to_string()),
                None,
            ),
        }
    }
}

/// An inline order as SR sends it, with a fresh order id.
fn inline_body(stack: &Stack, company: &TestCompany) -> Value {
    let order_id = connector_tests::uuid();
    let callback = stack
        .config
        .sr
        .api_url(&format!("orders/{order_id}/results"));
    json!({
        "resultCallbackURL": callback.as_str(),
        "candidate": {"email": "ada@example.com", "firstName": "Ada", "lastName": "Lovelace",
                      "applicationLanguage": "sv"},
        "job": {"id": connector_tests::uuid()},
        "assessmentPackageId": "chat-inline",
        "jobId": "legacy",
        "companyId": company.company_id,
        "completedAssessmentCallbackUrl": "https://www.smartrecruiters.com/inline/done/abc"
    })
}

/// An API Gateway HTTP API event (payload format 2.0), as the template's `HttpApi` delivers it.
pub fn http_event(
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<String>,
    path_parameters: Option<Value>,
) -> Value {
    let route = if method == "GET" && path.starts_with("/packages/") {
        "GET /packages/{assessmentPackageId}".to_string()
    } else {
        format!("{method} {path}")
    };
    let mut header_map = serde_json::Map::new();
    header_map.insert(
        "host".into(),
        json!("bench.execute-api.us-east-1.amazonaws.com"),
    );
    header_map.insert("user-agent".into(), json!("SmartRecruiters"));
    header_map.insert("accept".into(), json!("application/json"));
    for (k, v) in headers {
        header_map.insert(k.to_string(), json!(v));
    }
    let now = Utc::now();
    let mut event = json!({
        "version": "2.0",
        "routeKey": route,
        "rawPath": path,
        "rawQueryString": "",
        "headers": header_map,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "bench",
            "domainName": "bench.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "bench",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "192.0.2.1", "userAgent": "SmartRecruiters"},
            "requestId": connector_tests::uuid(),
            "routeKey": route,
            "stage": "$default",
            "time": now.format("%d/%b/%Y:%H:%M:%S +0000").to_string(),
            "timeEpoch": now.timestamp_millis()
        },
        "isBase64Encoded": false
    });
    if let Some(body) = body {
        event["body"] = json!(body);
    }
    if let Some(parameters) = path_parameters {
        event["pathParameters"] = parameters;
    }
    event
}

/// One SQS message as the event source mapping hands it to the function.
pub struct SqsRecord {
    pub message_id: String,
    pub receipt_handle: String,
    pub body: String,
    pub receive_count: u32,
}

/// An SQS event of `records`.
pub fn sqs_event(records: &[SqsRecord], queue_arn: &str) -> Value {
    let now = Utc::now().timestamp_millis().to_string();
    let records: Vec<Value> = records
        .iter()
        .map(|r| {
            json!({
                "messageId": r.message_id,
                "receiptHandle": r.receipt_handle,
                "body": r.body,
                "attributes": {"ApproximateReceiveCount": r.receive_count.to_string(),
                               "SentTimestamp": now,
                               "SenderId": "123456789012",
                               "ApproximateFirstReceiveTimestamp": now},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "us-east-1"
            })
        })
        .collect();
    json!({ "Records": records })
}

/// `n` orders SR (the simulator) placed for `tenant`, each with result version 1 stored as the
/// vendor API stores it; returns the queue message body of each result.
pub async fn stored_results(
    stack: &Stack,
    tenant: &Tenant,
    n: usize,
) -> Result<Vec<(String, String)>> {
    stored_results_with(stack, tenant, n, None).await
}

/// [`stored_results`], each result carrying a file the publisher downloads from `data_url`
/// when it is given.
pub async fn stored_results_with(
    stack: &Stack,
    tenant: &Tenant,
    n: usize,
    data_url: Option<&str>,
) -> Result<Vec<(String, String)>> {
    let mut tasks = tokio::task::JoinSet::new();
    let mut results = Vec::with_capacity(n);
    let mut next = 0;
    // A few at a time: each order goes through the running stack's create-order function.
    while results.len() < n {
        while next < n && tasks.len() < 4 {
            let sim = stack.sim.clone();
            let company = tenant.company.company_id.clone();
            tasks.spawn(async move { sim.place_order(&company, "culture-fit").await });
            next += 1;
        }
        let Some(done) = tasks.join_next().await else {
            break;
        };
        let (order_id, call, _) = done?;
        if call.status != 202 {
            return Err(format!("SR's order was answered {}: {}", call.status, call.body).into());
        }
        store_result(stack, tenant, &order_id, data_url).await?;
        let message = serde_json::to_string(&QueueMessage::Result {
            order_id: order_id.clone(),
            company_id: tenant.company.company_id.clone(),
            version: 1,
        })?;
        results.push((order_id, message));
    }
    Ok(results)
}

/// Stores result version 1 of `order_id` directly, as `PUT /assessment/orders/{id}/result` does
/// (with a `data_url` file's item when one is given).
async fn store_result(
    stack: &Stack,
    tenant: &Tenant,
    order_id: &str,
    data_url: Option<&str>,
) -> Result<()> {
    let result = PackageResult {
        status: Some(ResultStatus::Completed),
        score: Some(Score {
            raw: 87,
            min: 0,
            max: 100,
        }),
        score_label: Some("Strong hire".into()),
        summary: Some("Benchmark result".into()),
        ..Default::default()
    };
    let mut vendor_body = json!({"status": "COMPLETED", "score": 87.0, "max_score": 100});
    let mut files = Vec::new();
    if let Some(url) = data_url {
        vendor_body["attachments"] = json!([{"name": "interview.mp4",
            "content_type": "video/mp4", "data_url": url}]);
        let file = connector::results::SubmittedFile {
            field: "attachments[0]".into(),
            name: "interview.mp4".into(),
            content_type: "video/mp4".into(),
            content: connector::results::FileContent::DataUrl(url.into()),
        };
        let (record, _) = connector::attachments::file_record(order_id, file, "bench", Utc::now());
        files.push(record);
    }
    let submission = Submission {
        version: Some(1),
        submitted_at: Utc::now(),
        status: ResultStatus::Completed,
        vendor_body,
        note: None,
        revision_of: None,
    };
    let order = stack
        .store
        .get_order(order_id)
        .await?
        .filter(|o| o.integration_id == tenant.company.integration_id)
        .ok_or("the order was placed for the tenant")?;
    stack
        .store
        .write_result(ResultWrite {
            order: &order,
            result: &result,
            submission: &submission,
            request_sha256: None,
            files: &files,
            now: Utc::now(),
        })
        .await?;
    Ok(())
}

/// Hands `instance` (a result-publisher) one SQS event of `results` (order id, message body);
/// an error unless every record was delivered. `tag` names the receipt handles.
pub async fn deliver_event(
    instance: &mut crate::launch::Instance,
    results: &[(String, String)],
    tag: &str,
) -> Result<()> {
    let records: Vec<SqsRecord> = results
        .iter()
        .enumerate()
        .map(|(i, (_, body))| SqsRecord {
            message_id: connector_tests::uuid(),
            receipt_handle: format!("bench-{tag}-{i}"),
            body: body.clone(),
            receive_count: 1,
        })
        .collect();
    let answer = instance
        .invoke(&sqs_event(
            &records,
            "arn:aws:sqs:us-east-1:123456789012:bench",
        ))
        .await?;
    let failures = answer.json()["batchItemFailures"]
        .as_array()
        .map_or(0, Vec::len);
    if answer.error || failures > 0 {
        return Err(format!(
            "result-publisher did not deliver event {tag}: {}",
            String::from_utf8_lossy(&answer.body)
        )
        .into());
    }
    Ok(())
}
