//! Set-ups for the Kombo drop-in tests: a catalog with every package type, inline orders whose
//! URL the vendor answers, and Kombo-format webhooks sent by the real webhook dispatcher to a
//! receiver of the test's. The Rust tests use them in-process; `kombo-fixture` runs them for
//! the Kombo SDK tests in `tests/kombo/`.

use std::time::Duration;

use chrono::Utc;
use connector::api::partner::PartnerApi;
use connector::api::vendor::VendorApi;
use connector::backoff::Backoff;
use connector::kombo::inline::{InlineUrlClient, InlineUrlSettings};
use connector::kombo::webhooks::WebhookFormat;
use connector::notifications::Notifications;
use connector::orders::Order;
use connector::queue::QueueMessage;
use connector::webhooks::{Outcome, WebhookDispatcher, WebhookSettings};
use lambda_http::http::Method;
use serde_json::{json, Value};

use crate::publishing::{publisher, sqs_message, sqs_message_received, LAST_RECEIVE};
use crate::{eventually, json_body, order_body, request, unique, uuid, Stack, TestCompany};

/// One package of each SR type, in Kombo's names where Kombo has one; `assessed` holds two
/// assessments, `quiz` is inline with a URL template, `ask` is inline without (the vendor
/// answers each order's URL).
pub fn full_catalog() -> Value {
    json!({"packages": [
        {"id": "assessed", "type": "SKILLS_TEST", "name": "Java test", "description": "Two parts",
         "assessments": [
            {"id": "java-coding", "name": "Coding exercise", "description": "Three tasks"},
            {"id": "system-design", "name": "System design", "description": "20 questions"}]},
        {"id": "behavioral", "type": "BEHAVIORAL", "name": "Culture fit", "description": "15 minutes"},
        {"id": "video", "type": "VIDEO_INTERVIEW", "name": "Video interview", "description": "One-way"},
        {"id": "background", "type": "BACKGROUND_CHECK", "name": "Background check", "description": "Criminal record"},
        {"id": "reference", "type": "REFERENCE_CHECK", "name": "References", "description": "Two referees"},
        {"id": "quiz", "type": "INLINE_ASSESSMENT", "name": "Quick quiz", "description": "Five minutes",
         "inline_url_template": "https://assess.example.com/quiz/{orderId}?lang={language}"},
        {"id": "ask", "type": "INLINE_ASSESSMENT", "name": "Asked quiz", "description": "URL from the vendor"}
    ]})
}

/// The vendor API in-process, allowing inline packages without a template (as a stack with a
/// `WebhookUrl` does).
pub fn vendor_api_asking_vendor(stack: &Stack) -> VendorApi {
    stack.vendor_api().with_vendor_inline_urls(true)
}

/// Publishes [`full_catalog`] for `company`.
pub async fn publish_full_catalog(stack: &Stack, company: &TestCompany) {
    let response = vendor_api_asking_vendor(stack)
        .handle(request(
            Method::PUT,
            "/assessment/packages",
            &[
                ("authorization", &format!("Bearer {}", stack.vendor_api_key)),
                ("x-integration-id", &company.integration_id),
            ],
            full_catalog().to_string(),
        ))
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{:?}", response.body());
}

/// create-inline-order in-process, asking `url` for assessment URLs within `timeout`.
pub fn partner_api_asking(stack: &Stack, url: Option<&str>, timeout: Duration) -> PartnerApi {
    let settings = InlineUrlSettings {
        endpoint: url.map(|u| u.parse().expect("a receiver URL")),
        signing_secret_id: Some(signing_secret_id(stack)),
        timeout,
    };
    stack
        .partner_api()
        .with_inline_urls(InlineUrlClient::new(settings, stack.secrets.clone()))
}

pub fn signing_secret_id(stack: &Stack) -> String {
    stack.env["WEBHOOK_SIGNING_SECRET_ID"].clone()
}

pub async fn signing_secret(stack: &Stack) -> String {
    stack
        .secrets
        .get_string(&signing_secret_id(stack))
        .await
        .expect("the stack has a webhook signing secret")
}

/// An inline order request as SR sends it, with a fresh order id.
pub fn inline_order_body(
    stack: &Stack,
    company: &TestCompany,
    package_id: &str,
) -> (String, Value) {
    let order_id = uuid();
    let callback = stack
        .config
        .sr
        .api_url(&format!("orders/{order_id}/results"));
    let body = json!({
        "resultCallbackURL": callback.as_str(),
        "candidate": {"email": "grace@example.com", "firstName": "Grace", "lastName": "Hopper",
                      "applicationLanguage": "en"},
        "job": {"id": uuid()},
        "assessmentPackageId": package_id,
        "companyId": company.company_id,
        "completedAssessmentCallbackUrl": "https://www.smartrecruiters.com/assessment/done",
    });
    (order_id, body)
}

/// SR's inline order through `api`: its status and JSON body.
pub async fn place_inline_order(
    stack: &Stack,
    api: &PartnerApi,
    company: &TestCompany,
    body: &Value,
) -> (u16, Value) {
    let token = stack.access_token(company).await;
    inline_order_through(api, &token, body).await
}

/// SR's inline order with `token` through `api`: its status and JSON body.
pub async fn inline_order_through(api: &PartnerApi, token: &str, body: &Value) -> (u16, Value) {
    let response = api
        .create_inline_order(request(
            Method::POST,
            "/packages/inline/orders",
            &[
                ("authorization", &format!("Bearer {token}")),
                ("content-type", "application/json"),
            ],
            body.to_string(),
        ))
        .await
        .unwrap();
    (response.status().as_u16(), json_body(&response))
}

/// The stored order once the stack's enrichment worker has enriched it.
pub async fn enriched_order(stack: &Stack, order_id: &str) -> Order {
    eventually(
        &format!("order {order_id} to be enriched"),
        Duration::from_secs(120),
        || async {
            stack
                .store
                .get_order(order_id)
                .await
                .unwrap()
                .filter(|o| o.enrichment.is_some())
        },
    )
    .await
}

/// Kombo-format events on a notifications queue of their own, which [`dispatch_kombo_events`]
/// hands to the real webhook dispatcher: what the enrichment worker of a `WebhookFormat=kombo`
/// stack records and queues.
pub struct KomboEvents {
    pub queue_url: String,
    pub notifications: Notifications,
}

impl KomboEvents {
    pub async fn new(stack: &Stack) -> Self {
        let queue_url = stack
            .aws
            .sqs
            .create_queue()
            .queue_name(unique("kombo-webhooks"))
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        let notifications = Notifications::new(
            stack.store.clone(),
            stack.aws.sqs.clone(),
            Some(queue_url.clone()),
        )
        .with_format(WebhookFormat::Kombo);
        Self {
            queue_url,
            notifications,
        }
    }

    /// The events of enriched `orders`, as the worker emits them once the enrichment is stored.
    pub async fn of_enriched(&self, orders: &[Order]) {
        for order in orders {
            let enrichment = order.enrichment.as_ref().expect("an enriched order");
            self.notifications
                .order_enriched(order, enrichment, Utc::now())
                .await
                .expect("events recorded and queued");
        }
    }

    /// An order of `package` that SR places (create-order in-process) and whose enrichment is
    /// given up: SR fails its job read on the message's last receive. The publisher sends
    /// Kombo's event with what SR's order carries, recorded and queued here. The order lives in
    /// a table of its own holding a copy of `company` ([`Stack::isolated_with`]), so the
    /// running stack's own enrichment (started by the table's stream) never meets the injected
    /// fault. Answers the order id.
    pub async fn of_order_never_enriched(
        &self,
        stack: &Stack,
        company: &TestCompany,
        package: &str,
    ) -> String {
        let stack = &stack.isolated_with(company).await;
        let api = stack.partner_api();
        let (order_id, body) = order_body(stack, company, package);
        let token = stack.access_token(company).await;
        let placed = crate::create_order_through(&api, &token, &body).await;
        assert_eq!(placed.status(), 202, "{:?}", placed.body());
        let job_id = body["job"]["id"].as_str().unwrap();
        stack
            .sim
            .inject_fault(
                json!({"path_contains": format!("/jobs/{job_id}"), "status": 503, "count": 1}),
            )
            .await;
        let message = serde_json::to_string(&QueueMessage::OrderReceived {
            order_id: order_id.clone(),
            company_id: company.company_id.clone(),
        })
        .unwrap();
        let outcome = publisher(stack, self.notifications.clone())
            .process(&sqs_message_received(&message, LAST_RECEIVE))
            .await;
        assert!(outcome.is_retry(), "{outcome:?}: the job read was to fail");
        order_id
    }
}

/// Has the real webhook dispatcher POST the `count` events queued on `events` to `url`.
pub async fn dispatch_kombo_events(
    stack: &Stack,
    url: &str,
    events: &KomboEvents,
    count: usize,
) -> Vec<Outcome> {
    let dispatcher = WebhookDispatcher::new(
        stack.store.clone(),
        stack.secrets.clone(),
        stack.aws.sqs.clone(),
        WebhookSettings {
            url: Some(url.parse().unwrap()),
            signing_secret_id: signing_secret_id(stack),
            queue_url: events.queue_url.clone(),
            max_receive_count: 10,
            backoff: Backoff::default(),
        },
    );
    let mut outcomes = Vec::new();
    while outcomes.len() < count {
        let received = stack
            .aws
            .sqs
            .receive_message()
            .queue_url(&events.queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        for message in received.messages.unwrap_or_default() {
            outcomes.push(
                dispatcher
                    .process(&sqs_message(message.body.as_deref().unwrap_or_default()))
                    .await,
            );
        }
    }
    outcomes
}

/// The whole webhook story against a receiver at `url`: a new company with [`full_catalog`],
/// an order of `assessed` and an inline order of `quiz` placed by SR (the simulator), enriched
/// by the stack and announced in Kombo's format by the real dispatcher, an order of `assessed`
/// whose enrichment is given up (announced with what SR's order carries), and an inline order
/// of `ask`, whose URL `url` is asked for synchronously. Answers what happened, as JSON.
pub async fn webhook_story(stack: &Stack, url: &str) -> Value {
    let company = stack.new_company("kombo-hooks").await;
    publish_full_catalog(stack, &company).await;
    let (order_id, placed, _) = stack.sim.place_order(&company.company_id, "assessed").await;
    assert_eq!(placed.status, 202, "{:?}", placed.body);
    let (inline_id, placed) = stack
        .sim
        .place_inline_order(&company.company_id, "quiz")
        .await;
    assert_eq!(placed.status, 200, "{:?}", placed.body);
    let asking = partner_api_asking(stack, Some(url), Duration::from_secs(5));
    let (asked_id, body) = inline_order_body(stack, &company, "ask");
    let (status, answer) = place_inline_order(stack, &asking, &company, &body).await;
    let orders = vec![
        enriched_order(stack, &order_id).await,
        enriched_order(stack, &inline_id).await,
    ];
    let events = KomboEvents::new(stack).await;
    events.of_enriched(&orders).await;
    let never_enriched_id = events
        .of_order_never_enriched(stack, &company, "assessed")
        .await;
    let outcomes = dispatch_kombo_events(stack, url, &events, orders.len() + 1).await;
    json!({
        "company_id": company.company_id,
        "integration_id": company.integration_id,
        "order_id": order_id,
        "inline_order_id": inline_id,
        "asked_order_id": asked_id,
        "never_enriched_order_id": never_enriched_id,
        "asked_order_answer": {"status": status, "body": answer},
        "dispatched": outcomes.iter().map(|o| format!("{o:?}")).collect::<Vec<_>>(),
        "signing_secret": signing_secret(stack).await,
    })
}

/// How a [`VendorEndpoint`] answers.
#[derive(Debug, Clone)]
pub enum Answer {
    /// 200; `inline-assessment:order-received` gets `{"assessment_url": "https://assess.example.com/take/{orderId}"}`.
    AssessmentUrl,
    /// This status with this body.
    Reply(u16, String),
    /// Waits this long before answering like `AssessmentUrl`.
    Slow(Duration),
}

/// One request the endpoint received: its headers and raw body.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON webhook body")
    }
}

/// An HTTP server on 127.0.0.1 standing in for the vendor's webhook endpoint.
pub struct VendorEndpoint {
    pub url: String,
    received: std::sync::Arc<std::sync::Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for VendorEndpoint {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What [`Answer::AssessmentUrl`] answers for an order.
pub fn assessment_url_for(order_id: &str) -> String {
    format!("https://assess.example.com/take/{order_id}")
}

impl VendorEndpoint {
    pub async fn start(answer: Answer) -> Self {
        use axum::extract::State;
        type Shared = (Answer, std::sync::Arc<std::sync::Mutex<Vec<Received>>>);
        async fn hook(
            State((answer, received)): State<Shared>,
            headers: axum::http::HeaderMap,
            body: axum::body::Bytes,
        ) -> (axum::http::StatusCode, String) {
            let request = Received {
                headers,
                body: body.to_vec(),
            };
            let event: Value = serde_json::from_slice(&request.body).unwrap_or_default();
            received.lock().unwrap().push(request);
            let url_answer = || {
                let body = if event["type"] == "inline-assessment:order-received" {
                    json!({"assessment_url": assessment_url_for(event["data"]["id"].as_str().unwrap_or_default())})
                } else {
                    json!({})
                };
                (axum::http::StatusCode::OK, body.to_string())
            };
            match answer {
                Answer::AssessmentUrl => url_answer(),
                Answer::Reply(status, body) => {
                    (axum::http::StatusCode::from_u16(status).unwrap(), body)
                }
                Answer::Slow(delay) => {
                    tokio::time::sleep(delay).await;
                    url_answer()
                }
            }
        }
        let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let app = axum::Router::new()
            .route("/hooks", axum::routing::post(hook))
            .with_state((answer, received.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            url,
            received,
            task,
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}
