//! Vendor webhooks, in-process against moto: events are recorded and queued by `Notifications`,
//! the webhook dispatcher POSTs them, signed, to an in-process receiver (axum) that answers what
//! each test scripts, and the outcome shows in `GET /assessment/events`.
//!
//! Each test queues on a notifications queue of its own and receives from it, so it gets real
//! receipt handles (the dispatcher's backoff changes their visibility) without taking messages
//! from the stack's queue.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use chrono::Utc;
use connector::backoff::Backoff;
use connector::notifications::Notifications;
use connector::store::EventRecord;
use connector::webhooks::EventBody;
use connector::webhooks::{verify, WebhookDispatcher, WebhookSettings};
use connector_tests::{json_body, unique, uuid, Stack, TestCompany};
use lambda_http::http::Method;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{json, Value};

/// What the receiver got: one request's headers and raw body.
#[derive(Clone, Debug)]
struct Received {
    headers: HeaderMap,
    body: Bytes,
}

#[derive(Default)]
struct ReceiverState {
    /// Statuses to answer, in order; 200 once they run out.
    script: VecDeque<u16>,
    received: Vec<Received>,
}

/// An HTTP server on 127.0.0.1 standing in for the vendor's webhook endpoint.
struct Receiver {
    url: String,
    state: Arc<Mutex<ReceiverState>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    async fn start(script: &[u16]) -> Self {
        let state = Arc::new(Mutex::new(ReceiverState {
            script: script.iter().copied().collect(),
            received: Vec::new(),
        }));
        async fn hook(
            State(state): State<Arc<Mutex<ReceiverState>>>,
            headers: HeaderMap,
            body: Bytes,
        ) -> StatusCode {
            let mut state = state.lock().unwrap();
            state.received.push(Received { headers, body });
            let status = state.script.pop_front().unwrap_or(200);
            StatusCode::from_u16(status).unwrap()
        }
        let app = axum::Router::new()
            .route("/hooks", post(hook))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { url, state, task }
    }

    fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }
}

/// A notifications queue for this test only.
async fn queue(stack: &Stack) -> String {
    stack
        .aws
        .sqs
        .create_queue()
        .queue_name(unique("webhooks-test"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap()
}

fn signing_secret_id(stack: &Stack) -> String {
    stack.env["WEBHOOK_SIGNING_SECRET_ID"].clone()
}

async fn signing_secret(stack: &Stack) -> String {
    stack
        .secrets
        .get_string(&signing_secret_id(stack))
        .await
        .unwrap()
}

fn dispatcher(
    stack: &Stack,
    url: &str,
    queue_url: &str,
    max_receive_count: u32,
) -> WebhookDispatcher {
    dispatcher_signing_with(
        stack,
        url,
        queue_url,
        max_receive_count,
        &signing_secret_id(stack),
    )
}

fn dispatcher_signing_with(
    stack: &Stack,
    url: &str,
    queue_url: &str,
    max_receive_count: u32,
    signing_secret_id: &str,
) -> WebhookDispatcher {
    WebhookDispatcher::new(
        stack.store.clone(),
        stack.secrets.clone(),
        stack.aws.sqs.clone(),
        WebhookSettings {
            url: Some(url.parse().unwrap()),
            signing_secret_id: signing_secret_id.to_string(),
            queue_url: queue_url.to_string(),
            max_receive_count,
            backoff: Backoff::default(),
        },
    )
}

/// An order event of `company`, as the enrichment worker would emit it.
fn order_event(company: &TestCompany) -> EventRecord {
    let order_id = uuid();
    EventRecord {
        id: format!("order.created:{order_id}"),
        kind: "order.created".into(),
        integration_id: company.integration_id.clone(),
        company_id: company.company_id.clone(),
        at: Utc::now(),
        data: json!({"order_id": order_id, "package_id": "culture-fit"}),
        webhook: None,
    }
}

/// Receives the test queue's next message as the event source mapping hands it to Lambda, with
/// its receive count. The queue's default visibility would hide a retried message for 30 s, so
/// it is made visible again at once (what the backoff's time would do, without the wait).
async fn next_record(stack: &Stack, queue_url: &str) -> SqsMessage {
    let received = stack
        .aws
        .sqs
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(1)
        .wait_time_seconds(2)
        .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
        .send()
        .await
        .unwrap();
    let message = received
        .messages
        .unwrap_or_default()
        .pop()
        .expect("a message in the test queue");
    let count = message
        .attributes
        .as_ref()
        .and_then(|a| {
            a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount)
        })
        .cloned()
        .unwrap_or_else(|| "1".into());
    serde_json::from_value(json!({
        "messageId": message.message_id.unwrap(),
        "receiptHandle": message.receipt_handle.unwrap(),
        "body": message.body.unwrap(),
        "attributes": {"ApproximateReceiveCount": count},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "awsRegion": "us-east-1"
    }))
    .unwrap()
}

async fn make_visible(stack: &Stack, queue_url: &str, record: &SqsMessage) {
    stack
        .aws
        .sqs
        .change_message_visibility()
        .queue_url(queue_url)
        .receipt_handle(record.receipt_handle.clone().unwrap())
        .visibility_timeout(0)
        .send()
        .await
        .unwrap();
}

/// The dispatcher's Lambda handler on one record; answers the ids reported as failures.
async fn dispatch(dispatcher: &WebhookDispatcher, record: &SqsMessage) -> Vec<String> {
    let mut batch = SqsEvent::default();
    batch.records.push(record.clone());
    let event = LambdaEvent::new(batch, Context::default());
    let response = dispatcher.handle(event).await.unwrap();
    response
        .batch_item_failures
        .into_iter()
        .map(|f| f.item_identifier)
        .collect()
}

/// Whether the test queue holds no message (waiting a second for one).
async fn nothing_queued(stack: &Stack, queue_url: &str) -> bool {
    let more = stack
        .aws
        .sqs
        .receive_message()
        .queue_url(queue_url)
        .wait_time_seconds(1)
        .send()
        .await
        .unwrap();
    more.messages.unwrap_or_default().is_empty()
}

/// The integration's listed events, every page.
async fn events(stack: &Stack, company: &TestCompany) -> Vec<Value> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/assessment/events?page_size=1&cursor={c}"),
            None => "/assessment/events?page_size=1".to_string(),
        };
        let response = stack
            .vendor_call(Method::GET, &path, &company.integration_id, None)
            .await;
        assert_eq!(response.status(), 200, "{:?}", response.body());
        let page = json_body(&response)["data"].clone();
        all.extend(page["results"].as_array().unwrap().iter().cloned());
        match page["next"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return all,
        }
    }
}

fn header<'a>(received: &'a Received, name: &str) -> &'a str {
    received.headers.get(name).unwrap().to_str().unwrap()
}

/// README's verification snippet, run by python3 on a received request.
fn python_verifies(secret: &str, received: &Received, body: &[u8]) -> bool {
    python_verify(
        secret,
        header(received, "x-connector-timestamp"),
        header(received, "x-connector-signature"),
        body,
    )
    .unwrap_or_else(|e| panic!("the snippet raised: {e}"))
}

/// README's snippet on raw header values: `Ok(verdict)`, or `Err` with what it raised.
fn python_verify(
    secret: &str,
    timestamp: &str,
    signature: &str,
    body: &[u8],
) -> Result<bool, String> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let block = readme
        .split("<!-- webhook-verify-python:start -->")
        .nth(1)
        .and_then(|rest| rest.split("<!-- webhook-verify-python:end -->").next())
        .expect("README has the verification snippet between its markers");
    let code = block
        .trim()
        .strip_prefix("```python")
        .and_then(|c| c.strip_suffix("```"))
        .expect("the snippet is a python code block");
    let request = json!({
        "secret": secret,
        "headers": {
            "X-Connector-Timestamp": timestamp,
            "X-Connector-Signature": signature,
        },
        "body_hex": hex::encode(body),
    });
    let dir = std::env::temp_dir().join(unique("webhook-snippet"));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("verify.py");
    std::fs::write(
        &script,
        format!(
            "{code}\n\nimport json, sys\nreq = json.load(open(sys.argv[1], encoding='utf-8'))\n\
             try:\n    ok = verify_webhook(req['secret'], req['headers'], bytes.fromhex(req['body_hex']))\n\
             except Exception as e:\n    print(repr(e))\n    sys.exit(3)\n\
             sys.exit(0 if ok is True else 1 if ok is False else 4)\n"
        ),
    )
    .unwrap();
    let input = dir.join("request.json");
    std::fs::write(&input, request.to_string()).unwrap();
    let output = std::process::Command::new("python3")
        .arg(&script)
        .arg(&input)
        .output()
        .expect("python3 runs the README snippet");
    std::fs::remove_dir_all(&dir).ok();
    match output.status.code() {
        Some(0) => Ok(true),
        Some(1) => Ok(false),
        _ => Err(format!(
            "{} {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )),
    }
}

#[test]
fn the_readme_snippet_answers_false_to_malformed_headers_and_never_raises() {
    let body = br#"{"id":"evt_1"}"#;
    let good = connector::webhooks::sign(b"whsec_test", 1_700_000_000, body);
    let fresh = Utc::now().timestamp().to_string();
    let signed_now = connector::webhooks::sign(b"whsec_test", Utc::now().timestamp(), body);
    for (timestamp, signature) in [
        ("\u{b2}", good.as_str()),
        ("\u{663}\u{664}", good.as_str()),
        ("", good.as_str()),
        ("-5", good.as_str()),
        ("1e9", good.as_str()),
        (" 1700000000", good.as_str()),
        ("99999999999999999999999999", good.as_str()),
        // Too large for a float (OverflowError), and for int() itself (ValueError).
        (&"9".repeat(400), good.as_str()),
        (&"9".repeat(5000), good.as_str()),
        (fresh.as_str(), "v1=\u{e9}\u{e9}"),
        (fresh.as_str(), "v1=zz"),
        (fresh.as_str(), "v1="),
        (fresh.as_str(), ""),
        (fresh.as_str(), ",,,v1"),
        (fresh.as_str(), "v1=\u{ff10}\u{ff10}"),
    ] {
        assert_eq!(
            python_verify("whsec_test", timestamp, signature, body),
            Ok(false),
            "timestamp {timestamp:?}, signature {signature:?}"
        );
    }
    // And it still says yes to a good one, also among several signatures (a rotation).
    assert_eq!(
        python_verify("whsec_test", &fresh, &signed_now, body),
        Ok(true)
    );
    let rotating = format!(
        "{},{signed_now}",
        connector::webhooks::sign(b"old", 1, body)
    );
    assert_eq!(
        python_verify("whsec_test", &fresh, &rotating, body),
        Ok(true)
    );
}

#[tokio::test]
async fn a_webhook_verifies_with_the_documented_scheme_and_a_tampered_one_does_not() {
    let stack = Stack::connect().await;
    let company = stack.new_company("hook-sign").await;
    let receiver = Receiver::start(&[]).await;
    let queue_url = queue(&stack).await;
    let notifications = Notifications::new(
        stack.store.clone(),
        stack.aws.sqs.clone(),
        Some(queue_url.clone()),
    );
    let event = notifications.emit(order_event(&company)).await.unwrap();

    let record = next_record(&stack, &queue_url).await;
    let failures = dispatch(&dispatcher(&stack, &receiver.url, &queue_url, 10), &record).await;
    assert!(failures.is_empty(), "{failures:?}");

    let received = receiver.received();
    assert_eq!(received.len(), 1);
    let request = &received[0];
    assert_eq!(header(request, "x-connector-event-id"), event.id);
    assert_eq!(header(request, "content-type"), "application/json");
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body["id"], event.id.as_str());
    assert_eq!(body["type"], "order.created");
    assert_eq!(body["integration_id"], company.integration_id.as_str());

    let secret = signing_secret(&stack).await;
    let timestamp = header(request, "x-connector-timestamp");
    let signature = header(request, "x-connector-signature");
    assert!(signature.starts_with("v1="), "{signature}");
    let window = std::time::Duration::from_secs(300);
    assert_eq!(
        verify(
            secret.as_bytes(),
            timestamp,
            signature,
            &request.body,
            Utc::now(),
            window
        ),
        Ok(())
    );
    // The README's Python snippet, an independent implementation, agrees.
    assert!(python_verifies(&secret, request, &request.body));
    let mut tampered = request.body.to_vec();
    let at = tampered.len() / 2;
    tampered[at] ^= 0x01;
    assert!(verify(
        secret.as_bytes(),
        timestamp,
        signature,
        &tampered,
        Utc::now(),
        window
    )
    .is_err());
    assert!(!python_verifies(&secret, request, &tampered));
    assert!(!python_verifies("not-the-secret", request, &request.body));

    // The settled outcome is on the listed event.
    let listed = events(&stack, &company).await;
    let shown = listed
        .iter()
        .find(|e| e["id"] == event.id.as_str())
        .unwrap();
    assert_eq!(shown["webhook"]["state"], "DELIVERED");
    assert_eq!(shown["webhook"]["status_code"], 200);
}

#[tokio::test]
async fn an_endpoint_that_fails_is_retried_and_then_receives_the_event() {
    let stack = Stack::connect().await;
    let company = stack.new_company("hook-retry").await;
    let receiver = Receiver::start(&[500]).await;
    let queue_url = queue(&stack).await;
    let notifications = Notifications::new(
        stack.store.clone(),
        stack.aws.sqs.clone(),
        Some(queue_url.clone()),
    );
    let event = notifications.emit(order_event(&company)).await.unwrap();
    let dispatcher = dispatcher(&stack, &receiver.url, &queue_url, 10);

    let first = next_record(&stack, &queue_url).await;
    let failures = dispatch(&dispatcher, &first).await;
    assert_eq!(failures, vec![first.message_id.clone().unwrap()]);
    let listed = events(&stack, &company).await;
    let pending = listed
        .iter()
        .find(|e| e["id"] == event.id.as_str())
        .unwrap();
    assert!(
        pending.get("webhook").is_none(),
        "not settled yet: {pending}"
    );

    make_visible(&stack, &queue_url, &first).await;
    let second = next_record(&stack, &queue_url).await;
    assert_eq!(
        second.message_id, first.message_id,
        "SQS redelivers the same message"
    );
    assert_eq!(second.attributes["ApproximateReceiveCount"], "2");
    assert!(dispatch(&dispatcher, &second).await.is_empty());

    let received = receiver.received();
    assert_eq!(received.len(), 2);
    assert!(received
        .iter()
        .all(|r| header(r, "x-connector-event-id") == event.id));
    let secret = signing_secret(&stack).await;
    let last = &received[1];
    assert!(python_verifies(&secret, last, &last.body));
    let listed = events(&stack, &company).await;
    let shown = listed
        .iter()
        .find(|e| e["id"] == event.id.as_str())
        .unwrap();
    assert_eq!(shown["webhook"]["state"], "DELIVERED");
    assert_eq!(shown["webhook"]["attempts"], 2);
}

#[tokio::test]
async fn an_event_the_endpoint_refuses_is_not_retried() {
    let stack = Stack::connect().await;
    let company = stack.new_company("hook-refused").await;
    let receiver = Receiver::start(&[400]).await;
    let queue_url = queue(&stack).await;
    let notifications = Notifications::new(
        stack.store.clone(),
        stack.aws.sqs.clone(),
        Some(queue_url.clone()),
    );
    let event = notifications.emit(order_event(&company)).await.unwrap();

    let record = next_record(&stack, &queue_url).await;
    let failures = dispatch(&dispatcher(&stack, &receiver.url, &queue_url, 10), &record).await;
    assert!(failures.is_empty(), "a 400 is final: {failures:?}");
    assert_eq!(receiver.received().len(), 1);
    let listed = events(&stack, &company).await;
    let shown = listed
        .iter()
        .find(|e| e["id"] == event.id.as_str())
        .unwrap();
    assert_eq!(shown["webhook"]["state"], "FAILED");
    assert_eq!(shown["webhook"]["status_code"], 400);
}

#[tokio::test]
async fn an_event_whose_retries_run_out_is_recorded_as_failed() {
    let stack = Stack::connect().await;
    let company = stack.new_company("hook-exhausted").await;
    let receiver = Receiver::start(&[503, 503]).await;
    let queue_url = queue(&stack).await;
    let notifications = Notifications::new(
        stack.store.clone(),
        stack.aws.sqs.clone(),
        Some(queue_url.clone()),
    );
    let event = notifications.emit(order_event(&company)).await.unwrap();
    // maxReceiveCount 2: the second failure is the last receive before the dead-letter queue.
    let dispatcher = dispatcher(&stack, &receiver.url, &queue_url, 2);

    let first = next_record(&stack, &queue_url).await;
    assert_eq!(dispatch(&dispatcher, &first).await.len(), 1);
    make_visible(&stack, &queue_url, &first).await;
    let second = next_record(&stack, &queue_url).await;
    assert_eq!(dispatch(&dispatcher, &second).await.len(), 1);

    let listed = events(&stack, &company).await;
    let shown = listed
        .iter()
        .find(|e| e["id"] == event.id.as_str())
        .unwrap();
    assert_eq!(shown["webhook"]["state"], "FAILED");
    assert_eq!(shown["webhook"]["status_code"], 503);
    assert_eq!(shown["webhook"]["attempts"], 2);
    assert!(shown["webhook"]["detail"]
        .as_str()
        .unwrap()
        .starts_with("retries exhausted"));
}

#[tokio::test]
async fn events_are_recorded_once_per_id_and_listed_for_polling() {
    let stack = Stack::connect().await;
    let company = stack.new_company("hook-list").await;
    let queue_url = queue(&stack).await;
    let notifications = Notifications::new(
        stack.store.clone(),
        stack.aws.sqs.clone(),
        Some(queue_url.clone()),
    );
    let event = order_event(&company);
    let first = notifications.emit(event.clone()).await.unwrap();
    // A retried worker emits it again, later: the first emission stands and is not queued twice.
    let again = EventRecord {
        at: Utc::now(),
        ..event.clone()
    };
    let second = notifications.emit(again).await.unwrap();
    assert_eq!(second, first);
    let record = next_record(&stack, &queue_url).await;
    let queued: EventBody = serde_json::from_str(record.body.as_deref().unwrap()).unwrap();
    // The message is a reference (no `data`): the dispatcher reads the data at send time.
    assert_eq!(
        queued,
        EventBody {
            data: serde_json::Value::Null,
            ..EventBody::from(&first)
        }
    );
    assert!(nothing_queued(&stack, &queue_url).await, "queued once");

    // Webhooks off (no URL): the message is acknowledged and the event stays listable.
    let off = WebhookDispatcher::new(
        stack.store.clone(),
        stack.secrets.clone(),
        stack.aws.sqs.clone(),
        WebhookSettings {
            url: None,
            signing_secret_id: signing_secret_id(&stack),
            queue_url: queue_url.clone(),
            max_receive_count: 10,
            backoff: Backoff::default(),
        },
    );
    assert!(dispatch(&off, &record).await.is_empty());

    let kinds: Vec<(String, String)> = events(&stack, &company)
        .await
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_string(),
                e["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(kinds[0].0, "company.connected");
    assert_eq!(
        kinds.iter().filter(|(_, id)| *id == event.id).count(),
        1,
        "{kinds:?}"
    );
}

/// An event is listed last, after its webhook is queued. A worker that stopped in between (the
/// listing failed) loses nothing: the dispatcher sends the webhook from the id marker and lists
/// the event with its outcome, at the first emission's time, and the worker's retry finds it
/// listed and queues nothing. A worker that stopped before queueing queues on its retry.
#[tokio::test]
async fn a_worker_stopped_before_listing_loses_no_webhook_and_the_event_is_listed_once() {
    let stack = Stack::connect().await;
    let company = stack.new_company("hook-unlisted").await;
    let receiver = Receiver::start(&[200, 200]).await;
    let queue_url = queue(&stack).await;
    let dispatcher = dispatcher(&stack, &receiver.url, &queue_url, 10);
    let notifications = Notifications::new(
        stack.store.clone(),
        stack.aws.sqs.clone(),
        Some(queue_url.clone()),
    );
    let listed = |event: EventRecord| {
        let stack = &stack;
        let company = &company;
        async move {
            events(stack, company)
                .await
                .into_iter()
                .filter(|e| e["id"] == event.id.as_str())
                .collect::<Vec<Value>>()
        }
    };

    // Stopped after queueing: the listed item's sort key (`EVENT#…`; the marker's is
    // `EVENTID`) cannot be written.
    let event = order_event(&company);
    let stopped = Notifications::new(
        stack.store_failing_requests_carrying(r#"{"S":"EVENT#"#),
        stack.aws.sqs.clone(),
        Some(queue_url.clone()),
    );
    assert!(stopped.emit(event.clone()).await.is_err());
    assert!(listed(event.clone()).await.is_empty(), "not listed yet");
    let first = next_record(&stack, &queue_url).await;
    assert!(dispatch(&dispatcher, &first).await.is_empty());
    let sent = receiver.received();
    assert_eq!(sent.len(), 1);
    let body: Value = serde_json::from_slice(&sent[0].body).unwrap();
    assert_eq!(body["id"], event.id.as_str());
    assert_eq!(body["data"], event.data, "the data, from the id marker");
    let shown = listed(event.clone()).await;
    assert_eq!(shown.len(), 1, "{shown:?}");
    assert_eq!(shown[0]["webhook"]["state"], "DELIVERED", "{shown:?}");
    let retried = notifications
        .emit(EventRecord {
            at: Utc::now(),
            ..event.clone()
        })
        .await
        .unwrap();
    assert_eq!(retried.at, event.at, "the first emission's time");
    assert_eq!(listed(event.clone()).await.len(), 1);

    // Stopped before queueing (SQS failed): the retry queues it, and lists it.
    let other = order_event(&company);
    let unqueued = Notifications::new(
        stack.store.clone(),
        stack.sqs_failing_requests_carrying(&other.id),
        Some(queue_url.clone()),
    );
    assert!(unqueued.emit(other.clone()).await.is_err());
    assert!(listed(other.clone()).await.is_empty());
    notifications.emit(other.clone()).await.unwrap();
    let second = next_record(&stack, &queue_url).await;
    assert!(dispatch(&dispatcher, &second).await.is_empty());
    assert_eq!(receiver.received().len(), 2);
    let shown = listed(other.clone()).await;
    assert_eq!(shown.len(), 1, "{shown:?}");
    assert_eq!(shown[0]["webhook"]["state"], "DELIVERED", "{shown:?}");

    // Nothing more was queued by either retry.
    assert!(nothing_queued(&stack, &queue_url).await);
}

/// A marker written before events were listed last says whether the webhook was queued: one
/// that says it was not (the event listed, its worker stopped before queueing) is queued on the
/// event's repeat, until its webhook has settled.
#[tokio::test]
async fn an_event_recorded_before_listing_came_last_and_never_queued_is_queued_on_its_repeat() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let stack = Stack::connect().await;
    let company = stack.new_company("hook-old-marker").await;
    let receiver = Receiver::start(&[200]).await;
    let queue_url = queue(&stack).await;
    let event = order_event(&company);
    let put = |value: Value, key: (String, String)| {
        let mut item: std::collections::HashMap<String, AttributeValue> =
            serde_dynamo::to_item(value).unwrap();
        item.insert("pk".into(), AttributeValue::S(key.0));
        item.insert("sk".into(), AttributeValue::S(key.1));
        stack
            .aws
            .dynamodb
            .put_item()
            .table_name(&stack.config.table_name)
            .set_item(Some(item))
            .send()
    };
    let keys = connector::store::keys::event_id(&event.integration_id, &event.id);
    put(json!({"event": event, "enqueued": false}), keys)
        .await
        .unwrap();
    let listed = connector::store::keys::event(&event.integration_id, event.at, &event.id);
    put(serde_json::to_value(&event).unwrap(), listed)
        .await
        .unwrap();

    let notifications = Notifications::new(
        stack.store.clone(),
        stack.aws.sqs.clone(),
        Some(queue_url.clone()),
    );
    let again = EventRecord {
        at: Utc::now(),
        ..event.clone()
    };
    assert_eq!(
        notifications.emit(again.clone()).await.unwrap().at,
        event.at
    );
    let record = next_record(&stack, &queue_url).await;
    let dispatcher = dispatcher(&stack, &receiver.url, &queue_url, 10);
    assert!(dispatch(&dispatcher, &record).await.is_empty());
    assert_eq!(receiver.received().len(), 1);
    // Settled: a further repeat queues nothing.
    notifications.emit(again).await.unwrap();
    assert!(nothing_queued(&stack, &queue_url).await);
}

/// The `v1=` signatures of a received request.
fn signatures(received: &Received) -> Vec<String> {
    header(received, "x-connector-signature")
        .split(',')
        .map(|s| s.trim().to_string())
        .collect()
}

fn verifies_with(secret: &str, received: &Received) -> bool {
    verify(
        secret.as_bytes(),
        header(received, "x-connector-timestamp"),
        header(received, "x-connector-signature"),
        &received.body,
        Utc::now(),
        std::time::Duration::from_secs(300),
    )
    .is_ok()
}

#[tokio::test]
async fn a_rotated_secret_signs_with_both_and_a_refusal_meanwhile_is_retried() {
    let stack = Stack::connect().await;
    let company = stack.new_company("hook-rotate").await;
    // A signing secret of this test's own: rotating the stack's would disturb other tests.
    let secret_id = unique("webhook-signing");
    stack
        .aws
        .secrets
        .create_secret()
        .name(&secret_id)
        .secret_string("old-signing-secret")
        .send()
        .await
        .unwrap();
    let receiver = Receiver::start(&[200, 401, 200, 401]).await;
    let queue_url = queue(&stack).await;
    let notifications = Notifications::new(
        stack.store.clone(),
        stack.aws.sqs.clone(),
        Some(queue_url.clone()),
    );
    let dispatcher = dispatcher_signing_with(&stack, &receiver.url, &queue_url, 10, &secret_id);

    notifications.emit(order_event(&company)).await.unwrap();
    let first = next_record(&stack, &queue_url).await;
    assert!(dispatch(&dispatcher, &first).await.is_empty());
    assert_eq!(signatures(&receiver.received()[0]).len(), 1);
    assert!(verifies_with("old-signing-secret", &receiver.received()[0]));

    // The vendor rotates the secret and verifies with the new one only; the warm dispatcher
    // still signs with the one it read. The refusal is retried, not taken as final.
    stack
        .aws
        .secrets
        .put_secret_value()
        .secret_id(&secret_id)
        .secret_string("new-signing-secret")
        .send()
        .await
        .unwrap();
    let event = notifications.emit(order_event(&company)).await.unwrap();
    let refused = next_record(&stack, &queue_url).await;
    assert_eq!(
        dispatch(&dispatcher, &refused).await,
        vec![refused.message_id.clone().unwrap()],
        "a 401 during the rotation window is retried"
    );
    make_visible(&stack, &queue_url, &refused).await;
    let retried = next_record(&stack, &queue_url).await;
    assert!(dispatch(&dispatcher, &retried).await.is_empty());
    let received = receiver.received();
    let last = &received[2];
    assert_eq!(signatures(last).len(), 2, "{:?}", signatures(last));
    assert!(verifies_with("new-signing-secret", last));
    assert!(verifies_with("old-signing-secret", last));
    assert!(python_verifies("new-signing-secret", last, &last.body));
    assert!(python_verifies("old-signing-secret", last, &last.body));
    let shown = events(&stack, &company).await;
    let shown = shown.iter().find(|e| e["id"] == event.id.as_str()).unwrap();
    assert_eq!(shown["webhook"]["state"], "DELIVERED");
    assert_eq!(shown["webhook"]["attempts"], 2);

    // Once the window is over, only the current secret signs and a 401 is final again.
    let settled = dispatcher_signing_with(&stack, &receiver.url, &queue_url, 10, &secret_id)
        .with_rotation_window(std::time::Duration::ZERO);
    notifications.emit(order_event(&company)).await.unwrap();
    let after = next_record(&stack, &queue_url).await;
    assert!(
        dispatch(&settled, &after).await.is_empty(),
        "a 401 outside the window is final"
    );
    let received = receiver.received();
    assert_eq!(signatures(&received[3]).len(), 1);
    assert!(verifies_with("new-signing-secret", &received[3]));
}
