//! A function starts and answers with only the environment a real Lambda gives it: the built
//! binary runs with a scrubbed environment (no HOME, no AWS profile or config file, so the SDK's
//! provider chain has nothing to find but Lambda's own variables), its function configuration
//! from `.local/env`, and a Lambda runtime API of the test's own. The SDK configuration then comes
//! from `AWS_REGION` and the role credentials Lambda sets (`aws::lambda_sdk_config`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use connector_tests::apigw::HttpApiEvent;
use connector_tests::Stack;
use serde_json::{json, Value};
use tokio::sync::mpsc;

/// What the runtime API saw: answers and errors by request id.
#[derive(Default)]
struct Seen {
    responses: HashMap<String, Value>,
    errors: Vec<String>,
}

#[derive(Clone)]
struct RuntimeApi {
    events: Arc<tokio::sync::Mutex<mpsc::Receiver<(String, Value)>>>,
    seen: Arc<Mutex<Seen>>,
}

async fn next(State(api): State<RuntimeApi>) -> (HeaderMap, String) {
    // Blocks until the test hands out an event, as Lambda's does until one arrives.
    let (id, event) = api.events.lock().await.recv().await.expect("test alive");
    let mut headers = HeaderMap::new();
    let deadline = chrono::Utc::now().timestamp_millis() + 60_000;
    for (name, value) in [
        ("lambda-runtime-aws-request-id", id),
        ("lambda-runtime-deadline-ms", deadline.to_string()),
        (
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:us-east-1:123456789012:function:list-packages".into(),
        ),
        (
            "lambda-runtime-trace-id",
            "Root=1-00000000-000000000000000000000000".into(),
        ),
    ] {
        headers.insert(name, HeaderValue::from_str(&value).expect("header value"));
    }
    (headers, event.to_string())
}

async fn response(
    State(api): State<RuntimeApi>,
    Path(id): Path<String>,
    body: String,
) -> StatusCode {
    let answer = serde_json::from_str(&body).unwrap_or(Value::String(body));
    api.seen.lock().unwrap().responses.insert(id, answer);
    StatusCode::ACCEPTED
}

async fn error(State(api): State<RuntimeApi>, body: String) -> StatusCode {
    api.seen.lock().unwrap().errors.push(body);
    StatusCode::ACCEPTED
}

/// A built function binary of this workspace (`cargo build` puts them beside `deps/`).
fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is not built: run `cargo build -p {name}` (make test builds every crate first)",
        path.display()
    );
    path
}

/// `.local/env`: the function configuration `infra/stack.sh` gives the functions, beside
/// `.local/stack.env`.
fn function_configuration() -> HashMap<String, String> {
    let path = connector_tests::stack_env_path().with_file_name("env");
    dotenvy::from_path_iter(&path)
        .and_then(|pairs| pairs.collect())
        .unwrap_or_else(|e| panic!("cannot read {} ({e}): start the stack", path.display()))
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn list_packages_starts_and_answers_with_only_lambdas_environment() {
    let stack = Stack::connect().await;
    let company = stack.new_company("lambda-env").await;
    stack
        .put_catalog(
            &company,
            json!({"packages": [{"id": "java", "type": "SKILLS_TEST", "name": "Java"}]}),
        )
        .await;
    let token = stack.access_token(&company).await;

    let (events, receiver) = mpsc::channel(1);
    let api = RuntimeApi {
        events: Arc::new(tokio::sync::Mutex::new(receiver)),
        seen: Arc::default(),
    };
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(response),
        )
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(error))
        .with_state(api.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    // Lambda's own variables (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime)
    // and the function's configuration; `.local/env` carries the region, the role's stand-in
    // credentials and moto's endpoint, as Lambda carries the first two.
    let configuration = function_configuration();
    let lambda = [
        ("AWS_LAMBDA_RUNTIME_API", address.to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME", "list-packages".into()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".into()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".into()),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME",
            "/aws/lambda/list-packages".into(),
        ),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/30/[$LATEST]0".into()),
        ("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023".into()),
        ("AWS_SESSION_TOKEN", "lambda-session-token".into()),
        ("LAMBDA_TASK_ROOT", "/var/task".into()),
        ("LAMBDA_RUNTIME_DIR", "/var/runtime".into()),
        ("_HANDLER", "bootstrap".into()),
        ("TZ", ":UTC".into()),
        ("LANG", "en_US.UTF-8".into()),
        ("PATH", "/usr/local/bin:/usr/bin/:/bin:/opt/bin".into()),
    ];
    for name in ["AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
        assert!(configuration.contains_key(name), "{name} in .local/env");
    }
    let child = Command::new(binary("list-packages"))
        .env_clear()
        .envs(&configuration)
        .envs(lambda)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("list-packages starts");
    let _child = Killed(child);

    let event = HttpApiEvent::new("GET /packages", "$default", "/packages")
        .header("authorization", &format!("Bearer {token}"))
        .header("requester", r#"{"email":"recruiter@example.com"}"#)
        .into_json();
    events
        .send(("request-1".into(), event))
        .await
        .expect("runtime API running");
    let answer =
        connector_tests::eventually("list-packages answers", Duration::from_secs(60), || {
            let seen = api.seen.clone();
            async move {
                let seen = seen.lock().unwrap();
                assert!(seen.errors.is_empty(), "errors: {:?}", seen.errors);
                seen.responses.get("request-1").cloned()
            }
        })
        .await;
    assert_eq!(answer["statusCode"], 200, "{answer}");
    let body: Value =
        serde_json::from_str(answer["body"].as_str().unwrap_or_default()).expect("a JSON body");
    let ids: Vec<&str> = body
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["id"].as_str())
        .collect();
    assert_eq!(ids, ["java"], "{body}");
}
