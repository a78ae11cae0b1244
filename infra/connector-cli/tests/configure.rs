//! `connector configure` as an operator runs it, against the running local stack
//! (`infra/stack.sh up`; described by `.local/stack.env`, or `STACK_ENV`).
//!
//! The SR simulator is shared with other tests running in parallel, so assertions only rely on
//! what this binary controls: its own exit code and output, values every configure call writes
//! identically, and faults tagged with a unique marker.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

/// Tests in this file that PUT the partner configuration run one at a time, so the refused case's
/// injected fault is not consumed by this file's own successful runs.
static SR_PUT: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn stack_env_path() -> PathBuf {
    std::env::var_os("STACK_ENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.local/stack.env"))
}

struct Stack {
    env_file: PathBuf,
    lambda_prefix: String,
    sim_url: String,
    http: reqwest::Client,
}

impl Stack {
    fn connect() -> Stack {
        let env_file = stack_env_path();
        let text = std::fs::read_to_string(&env_file).unwrap_or_else(|e| {
            panic!(
                "cannot read {} ({e}): start the local stack first with `make stack-up`",
                env_file.display()
            )
        });
        let pairs = connector_cli::env_file::parse(&text, "stack.env").unwrap();
        let get = |key: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| panic!("{key} missing in stack.env"))
        };
        connector::aws::install_crypto_provider();
        Stack {
            lambda_prefix: get("LAMBDA_INVOKE_URL_PREFIX"),
            sim_url: get("SR_SIM_URL").trim_end_matches('/').to_string(),
            env_file,
            http: reqwest::Client::new(),
        }
    }

    /// Runs `connector configure --env-file <stack.env> --local-prefix <prefix> <args…>`.
    fn configure(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_connector"))
            .arg("configure")
            .arg("--env-file")
            .arg(&self.env_file)
            .args(["--local-prefix", &self.lambda_prefix])
            .args(args)
            .output()
            .expect("the connector binary runs")
    }

    fn token_url(&self) -> String {
        format!("{}/oauth-token/oauth/token", self.lambda_prefix)
    }

    async fn sim_get(&self, path: &str) -> Value {
        self.http
            .get(format!("{}/__sim{path}", self.sim_url))
            .send()
            .await
            .expect("SR simulator reachable")
            .json()
            .await
            .expect("SR simulator answers JSON")
    }

    async fn add_fault(&self, fault: Value) {
        let response = self
            .http
            .post(format!("{}/__sim/faults", self.sim_url))
            .json(&fault)
            .send()
            .await
            .expect("SR simulator reachable");
        assert!(
            response.status().is_success(),
            "fault refused: {}",
            response.status()
        );
    }

    /// Whether a fault carrying `marker` is still pending.
    async fn fault_pending(&self, marker: &str) -> bool {
        self.sim_get("/faults").await["faults"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|f| f.to_string().contains(marker))
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn marker() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("cli-test-{}-{nanos}", std::process::id())
}

/// Exit 1 and exactly one `error: …` line on stderr; returns that line.
fn single_error_line(output: &Output) -> String {
    assert_eq!(output.status.code(), Some(1), "stdout: {}", stdout(output));
    let err = stderr(output);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "stderr must be one line: {err:?}");
    assert!(lines[0].starts_with("error: "), "{err:?}");
    lines[0].to_string()
}

#[test]
fn dry_run_prints_the_payload_with_local_urls() {
    let stack = Stack::connect();

    let output = stack.configure(&["--dry-run"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let payload: Value = serde_json::from_str(&stdout(&output)).expect("pretty JSON payload");
    let token = payload["oauthTokenUrl"].as_str().unwrap();
    assert!(token.ends_with("/oauth-token/oauth/token"), "{token}");
    assert_eq!(token, stack.token_url());
    assert!(payload.get("inlineAssessmentPackageOrderUrl").is_none());
    assert_eq!(payload["consentDisplayMode"], "POPUP");

    let output = stack.configure(&[
        "--dry-run",
        "--json",
        "--inline",
        "--display-mode",
        "REDIRECT",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert_eq!(
        text.trim().lines().count(),
        1,
        "--json prints one line: {text}"
    );
    let printed: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(printed["dry_run"], true);
    let inline = printed["configuration"]["inlineAssessmentPackageOrderUrl"]
        .as_str()
        .expect("--inline registers the inline order URL");
    assert!(inline.ends_with("/packages/inline/orders"), "{inline}");
    assert_eq!(printed["configuration"]["consentDisplayMode"], "REDIRECT");
}

#[tokio::test]
async fn configure_registers_with_the_simulator_and_can_repeat() {
    let stack = Stack::connect();
    let _one_at_a_time = SR_PUT.lock().await;

    let output = stack.configure(&[]);
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    let text = stdout(&output);
    let (headline, answer) = text.split_once('\n').expect("headline and SR's answer");
    assert_eq!(
        headline,
        "SmartRecruiters accepted the partner configuration (200)"
    );
    let answer: Value = serde_json::from_str(answer).expect("SR's answer as pretty JSON");
    assert_eq!(answer["oauthTokenUrl"], stack.token_url());

    let state = stack.sim_get("/state").await;
    assert_eq!(
        state["partnerConfiguration"]["oauthTokenUrl"],
        stack.token_url()
    );

    // PUT replaces the configuration: a second run is just as fine.
    let output = stack.configure(&["--json"]);
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    let printed: Value = serde_json::from_str(&stdout(&output)).expect("one JSON object");
    assert_eq!(printed["status"], 200);
    assert_eq!(printed["configuration"]["oauthTokenUrl"], stack.token_url());
    assert!(!stdout(&output).contains("local-partner-secret"));
}

#[tokio::test]
async fn sr_refusing_the_configuration_is_one_error_line() {
    let stack = Stack::connect();
    let _one_at_a_time = SR_PUT.lock().await;
    let marker = marker();
    let fault = json!({
        "path_contains": "/partner/configuration",
        "method": "PUT",
        "status": 400,
        "count": 1,
        "body": {"errors": [{"code": "INVALID", "message": "bad consentUrl"}],
                 "message": format!("Invalid configuration {marker}")}
    });

    // Another test's configure call may consume the fault first (or ours may sit behind another
    // test's fault): then try again, at most three times.
    let mut refused = None;
    for _ in 0..3 {
        stack.add_fault(fault.clone()).await;
        let output = stack.configure(&[]);
        if output.status.code() == Some(1) && stderr(&output).contains(&marker) {
            refused = Some(output);
            break;
        }
    }
    // Never leave a fault behind: consume any still pending with plain configure runs.
    for _ in 0..5 {
        if !stack.fault_pending(&marker).await {
            break;
        }
        stack.configure(&[]);
    }
    assert!(
        !stack.fault_pending(&marker).await,
        "fault {marker} left behind"
    );

    let output = refused.expect("the injected 400 reached the CLI within three attempts");
    let line = single_error_line(&output);
    assert!(
        line.starts_with("error: SmartRecruiters refused the partner configuration (400): "),
        "{line}"
    );
    assert!(line.contains("bad consentUrl"), "{line}");
    assert!(line.contains("Invalid configuration"), "{line}");
    assert!(stdout(&output).is_empty());
}

#[test]
fn six_custom_fields_are_refused_before_calling_sr() {
    let stack = Stack::connect();
    let fields: Vec<Value> = (0..6)
        .map(|i| json!({"id": format!("field{i}"), "name": "Lens", "description": "Which lens"}))
        .collect();
    let path = std::env::temp_dir().join(format!("{}-settings.json", marker()));
    std::fs::write(
        &path,
        json!({"consent_display_mode": "POPUP", "fields": fields}).to_string(),
    )
    .unwrap();

    let output = stack.configure(&["--settings", path.to_str().unwrap()]);
    std::fs::remove_file(&path).unwrap();
    let line = single_error_line(&output);
    assert_eq!(
        line,
        "error: invalid settings: at most 5 custom fields are allowed (got 6)"
    );
}

#[test]
fn two_url_sources_are_a_usage_error() {
    let stack = Stack::connect();
    let output = stack.configure(&["--api-base-url", "https://abc.example.com", "--dry-run"]);
    // clap's convention for command-line mistakes: exit 2 with usage help.
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("cannot be used with"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_missing_secret_is_reported_without_calling_sr() {
    let stack = Stack::connect();
    let outputs = std::env::temp_dir().join(format!("{}-outputs.json", marker()));
    std::fs::write(
        &outputs,
        json!([
            {"OutputKey": "ApiBaseUrl", "OutputValue": "https://abc.execute-api.eu-west-1.amazonaws.com"},
            {"OutputKey": "PartnerCredentialSecretId", "OutputValue": "no-such-stack/partner-credential"}
        ])
        .to_string(),
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_connector"))
        .arg("configure")
        .arg("--env-file")
        .arg(&stack.env_file)
        .arg("--stack-outputs")
        .arg(&outputs)
        .output()
        .unwrap();
    std::fs::remove_file(&outputs).unwrap();
    let line = single_error_line(&output);
    assert_eq!(
        line,
        "error: cannot read secret no-such-stack/partner-credential: it does not exist"
    );
}

#[tokio::test]
async fn the_default_configuration_never_advertises_what_it_does_not_register() {
    let stack = Stack::connect();
    let _one_at_a_time = SR_PUT.lock().await;
    let output = stack.configure(&["--json"]);
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    let printed: Value = serde_json::from_str(&stdout(&output)).expect("one JSON object");
    let sent = &printed["configuration"];
    let types: Vec<&str> = sent["supportedAssessmentTypes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        sent.get("inlineAssessmentPackageOrderUrl").is_none(),
        "{sent}"
    );
    assert!(!types.contains(&"INLINE_ASSESSMENT"), "{types:?}");
    assert!(types.contains(&"SKILL_TEST"), "{types:?}");

    let output = stack.configure(&["--dry-run", "--json", "--inline"]);
    let printed: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let types = printed["configuration"]["supportedAssessmentTypes"].to_string();
    assert!(types.contains("INLINE_ASSESSMENT"), "{types}");
}

#[test]
fn inconsistent_settings_are_refused_before_any_secret_or_sr_call() {
    let stack = Stack::connect();
    let cases = [
        (
            json!({"supported_assessment_types": ["SKILL_TEST", "INLINE_ASSESSMENT"]}),
            vec![],
            "no inlineAssessmentPackageOrderUrl",
        ),
        (
            json!({"supported_assessment_types": ["SKILL_TEST"]}),
            vec!["--inline"],
            "does not list INLINE_ASSESSMENT",
        ),
    ];
    for (settings, flags, expected) in cases {
        let path = std::env::temp_dir().join(format!("{}-settings.json", marker()));
        std::fs::write(&path, settings.to_string()).unwrap();
        // The stack outputs name a secret that does not exist: reaching it would be another
        // error, so the refusal proves nothing was read or sent.
        let outputs = std::env::temp_dir().join(format!("{}-outputs.json", marker()));
        std::fs::write(
            &outputs,
            json!([
                {"OutputKey": "ApiBaseUrl", "OutputValue": "https://abc.execute-api.eu-west-1.amazonaws.com"},
                {"OutputKey": "PartnerCredentialSecretId", "OutputValue": "no-such-stack/partner-credential"}
            ])
            .to_string(),
        )
        .unwrap();
        let output = Command::new(env!("CARGO_BIN_EXE_connector"))
            .arg("configure")
            .arg("--env-file")
            .arg(&stack.env_file)
            .arg("--stack-outputs")
            .arg(&outputs)
            .args(["--settings", path.to_str().unwrap()])
            .args(&flags)
            .output()
            .unwrap();
        std::fs::remove_file(&path).unwrap();
        std::fs::remove_file(&outputs).unwrap();
        let line = single_error_line(&output);
        assert!(
            line.starts_with("error: invalid settings: the configuration would mislead SR: "),
            "{line}"
        );
        assert!(line.contains(expected), "{line}");
    }
}
