//! A local stand-in for the Lambda runtime API (`/2018-06-01/runtime/...`), one per process under
//! test: hands out the events the harness queues, records the answers and when everything
//! happened.
//!
//! * init time = spawn → the first `GET /invocation/next` arriving;
//! * warm latency = the event handed out on `/next` → its `POST /invocation/{id}/response`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, oneshot, Notify};

use crate::http1::{self, Request, Response, Server};
use crate::Result;

const PREFIX: &str = "/2018-06-01/runtime";

/// What the function answered to one event.
#[derive(Debug)]
pub struct Answer {
    pub body: Vec<u8>,
    /// Answered on `/error` instead of `/response`.
    pub error: bool,
    pub handed_out: Instant,
    pub answered: Instant,
}

impl Answer {
    /// From the event leaving the stub to the answer having arrived.
    pub fn latency(&self) -> Duration {
        self.answered.saturating_duration_since(self.handed_out)
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// `statusCode` of an API Gateway answer (0 when there is none).
    pub fn status_code(&self) -> u16 {
        self.json()["statusCode"].as_u64().unwrap_or(0) as u16
    }
}

struct Pending {
    request_id: String,
    payload: Vec<u8>,
    reply: oneshot::Sender<Answer>,
}

struct Inner {
    function_arn: String,
    first_next: Mutex<Option<Instant>>,
    next_seen: Notify,
    queue: tokio::sync::Mutex<mpsc::UnboundedReceiver<Pending>>,
    in_flight: Mutex<HashMap<String, (Instant, oneshot::Sender<Answer>)>>,
    init_error: Mutex<Option<String>>,
}

pub struct RuntimeStub {
    server: Server,
    sender: mpsc::UnboundedSender<Pending>,
    inner: Arc<Inner>,
    counter: std::sync::atomic::AtomicU64,
}

impl RuntimeStub {
    pub async fn start(function_name: &str) -> Result<Self> {
        let (sender, receiver) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            function_arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{function_name}"),
            first_next: Mutex::new(None),
            next_seen: Notify::new(),
            queue: tokio::sync::Mutex::new(receiver),
            in_flight: Mutex::new(HashMap::new()),
            init_error: Mutex::new(None),
        });
        let state = inner.clone();
        let server = http1::serve(http1::handler(move |request| {
            let state = state.clone();
            async move { route(&state, request).await }
        }))
        .await?;
        Ok(Self {
            server,
            sender,
            inner,
            counter: Default::default(),
        })
    }

    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.server.addr.to_string()
    }

    /// When the first `GET /next` arrived, if it did.
    pub fn first_next(&self) -> Option<Instant> {
        *self.inner.first_next.lock().unwrap()
    }

    /// Waits up to `limit` for the first `GET /next`.
    pub async fn wait_first_next(&self, limit: Duration) -> Option<Instant> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.inner.next_seen.notified();
            if let Some(at) = self.first_next() {
                return Some(at);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.first_next();
            }
        }
    }

    pub fn init_error(&self) -> Option<String> {
        self.inner.init_error.lock().unwrap().clone()
    }

    /// Queues `payload` for the next `GET /next` and waits up to `limit` for the answer.
    pub async fn invoke(&self, payload: Vec<u8>, limit: Duration) -> Result<Answer> {
        let n = self
            .counter
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (reply, answer) = oneshot::channel();
        let request_id = format!("bench-{}-{n:08}", std::process::id());
        self.sender
            .send(Pending {
                request_id,
                payload,
                reply,
            })
            .map_err(|_| "the runtime stub is gone")?;
        match tokio::time::timeout(limit, answer).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(_)) => Err("the invocation was dropped".into()),
            Err(_) => Err(format!("no answer within {limit:?}").into()),
        }
    }
}

async fn route(state: &Inner, request: Request) -> Response {
    let path = request.path().to_string();
    let Some(rest) = path.strip_prefix(PREFIX) else {
        return Response::new(404, "not a runtime API path");
    };
    match (request.method.as_str(), rest) {
        ("GET", "/invocation/next") => next(state, &request).await,
        ("POST", "/init/error") => {
            let text = String::from_utf8_lossy(&request.body).into_owned();
            *state.init_error.lock().unwrap() = Some(text);
            state.next_seen.notify_waiters();
            accepted()
        }
        ("POST", rest) if rest.starts_with("/invocation/") => {
            let mut parts = rest["/invocation/".len()..].splitn(2, '/');
            let id = parts.next().unwrap_or_default();
            let error = match parts.next() {
                Some("response") => false,
                Some("error") => true,
                _ => return Response::new(404, "unknown invocation path"),
            };
            let pending = state.in_flight.lock().unwrap().remove(id);
            let Some((handed_out, reply)) = pending else {
                return Response::new(400, "unknown request id");
            };
            let _ = reply.send(Answer {
                body: request.body,
                error,
                handed_out,
                answered: request.received_at,
            });
            accepted()
        }
        _ => Response::new(404, "unknown runtime API path"),
    }
}

/// `GET /next`: a long poll, answered when the harness queues an event.
async fn next(state: &Inner, request: &Request) -> Response {
    {
        let mut first = state.first_next.lock().unwrap();
        if first.is_none() {
            *first = Some(request.received_at);
        }
    }
    state.next_seen.notify_waiters();
    let pending = state.queue.lock().await.recv().await;
    let Some(pending) = pending else {
        return Response::new(500, "the harness is gone");
    };
    let deadline_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
        + 30_000;
    let response = Response::new(200, pending.payload)
        .header("content-type", "application/json")
        .header("lambda-runtime-aws-request-id", &pending.request_id)
        .header("lambda-runtime-deadline-ms", deadline_ms.to_string())
        .header("lambda-runtime-invoked-function-arn", &state.function_arn)
        .header(
            "lambda-runtime-trace-id",
            "Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=0",
        );
    // The clock starts here: the answer is written right after this returns.
    state
        .in_flight
        .lock()
        .unwrap()
        .insert(pending.request_id, (Instant::now(), pending.reply));
    response
}

fn accepted() -> Response {
    Response::new(202, r#"{"status":"OK"}"#).header("content-type", "application/json")
}
