//! Starting a function binary (or the Python handler) the way Lambda does: a clean environment
//! with the runtime-API variables, the function's configuration from `.local/env`, and a
//! [`RuntimeStub`] of its own.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::stub::{Answer, RuntimeStub};
use crate::Result;

/// How long a process may take to ask for its first event (Python with boto3 needs ~0.4 s).
pub const INIT_LIMIT: Duration = Duration::from_secs(20);
/// How long one invocation may take (moto serialises DynamoDB requests; under a concurrent test
/// suite a call can queue for many seconds).
pub const INVOKE_LIMIT: Duration = Duration::from_secs(120);

/// A program to run as a Lambda function.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Name in the report (`list-packages`, `hello-lambda`, `python list-packages`, …).
    pub label: String,
    /// `AWS_LAMBDA_FUNCTION_NAME`.
    pub function_name: String,
    pub program: PathBuf,
    pub args: Vec<String>,
    /// Everything but the runtime-API variables (those are per launch).
    pub env: BTreeMap<String, String>,
}

impl Spec {
    pub fn new(label: &str, program: PathBuf, env: BTreeMap<String, String>) -> Self {
        Self {
            label: label.to_string(),
            function_name: label.replace(' ', "-"),
            program,
            args: Vec::new(),
            env,
        }
    }

    /// The same spec with some variables set or replaced.
    pub fn with_env(&self, pairs: &[(&str, &str)]) -> Self {
        let mut spec = self.clone();
        for (k, v) in pairs {
            spec.env.insert(k.to_string(), v.to_string());
        }
        spec
    }
}

/// One running process and its runtime API. Killed when dropped.
pub struct Instance {
    pub label: String,
    child: Child,
    stub: RuntimeStub,
    spawned_at: Instant,
}

impl Instance {
    /// Spawns the process; the clock of [`Instance::init_time`] starts right before `spawn`.
    pub async fn start(spec: &Spec, logs: &Path) -> Result<Self> {
        let stub = RuntimeStub::start(&spec.function_name).await?;
        let log = File::options()
            .create(true)
            .append(true)
            .open(logs.join(format!("{}.log", spec.function_name)))?;
        let mut command = Command::new(&spec.program);
        command
            .args(&spec.args)
            .env_clear()
            .envs(&spec.env)
            .env("AWS_LAMBDA_RUNTIME_API", stub.address())
            .env("AWS_LAMBDA_FUNCTION_NAME", &spec.function_name)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        let spawned_at = Instant::now();
        let child = command
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", spec.program.display()))?;
        Ok(Self {
            label: spec.label.clone(),
            child,
            stub,
            spawned_at,
        })
    }

    /// Spawn → first `GET /next`. Fails when the process exits or reports an init error first.
    pub async fn init_time(&mut self) -> Result<Duration> {
        let deadline = Instant::now() + INIT_LIMIT;
        loop {
            if let Some(at) = self.stub.wait_first_next(Duration::from_millis(50)).await {
                return Ok(at.saturating_duration_since(self.spawned_at));
            }
            if let Some(error) = self.stub.init_error() {
                return Err(format!("{}: init error: {error}", self.label).into());
            }
            if let Some(status) = self.child.try_wait()? {
                return Err(format!("{}: exited during init ({status})", self.label).into());
            }
            if Instant::now() > deadline {
                return Err(format!("{}: no GET /next within {INIT_LIMIT:?}", self.label).into());
            }
        }
    }

    /// Hands `event` to the function and waits for its answer.
    pub async fn invoke(&mut self, event: &serde_json::Value) -> Result<Answer> {
        let payload = serde_json::to_vec(event)?;
        match self.stub.invoke(payload, INVOKE_LIMIT).await {
            Ok(answer) => Ok(answer),
            Err(e) => {
                let exited = self.child.try_wait()?;
                Err(match exited {
                    Some(status) => format!("{}: exited ({status})", self.label),
                    None => format!("{}: {e}", self.label),
                }
                .into())
            }
        }
    }

    /// Peak resident set size so far (`VmHWM`), in KiB.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The environment Lambda gives every function (no HOME, no AWS profile), plus `function_env`.
pub fn lambda_env(function_env: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> = [
        ("PATH", "/usr/local/bin:/usr/bin:/bin"),
        ("LANG", "en_US.UTF-8"),
        ("TZ", ":UTC"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "1"),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand"),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench"),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "bench"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    env.extend(function_env.clone());
    env
}

/// Reads a dotenv file (`.local/stack.env`, quoted by `local_stack.py` as dotenv readers expect).
pub fn read_env_file(path: &Path) -> Result<BTreeMap<String, String>> {
    dotenvy::from_path_iter(path)
        .and_then(|pairs| pairs.collect())
        .map_err(|e| {
            format!(
                "cannot read {} ({e}): start the local stack first (make stack-up)",
                path.display()
            )
            .into()
        })
}
