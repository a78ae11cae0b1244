//! Where everything is: the running local stack, the release binaries, the function environment.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use connector_tests::Stack;

use crate::fixtures::Tenant;
use crate::launch::{self, Spec};
use crate::python;
use crate::Result;

/// Every function of the connector, as built in `target/release`.
pub const FUNCTIONS: [&str; 11] = [
    "oauth-token",
    "list-packages",
    "get-package",
    "create-order",
    "create-inline-order",
    "consent",
    "disable-integration",
    "vendor-api",
    "result-publisher",
    "webhook-dispatcher",
    "order-stream",
];

pub const HELLO: &str = "hello-lambda";
pub const BASELINE: &str = "baseline-handler";
pub const PROBE: &str = "init-probe";

pub struct Context {
    pub root: PathBuf,
    pub release_dir: PathBuf,
    /// Function stdout/stderr, one file per function name.
    pub logs: PathBuf,
    pub stack: Stack,
    /// `.local/env`: what cargo lambda watch gives the functions.
    pub function_env: BTreeMap<String, String>,
    pub moto_url: String,
    pub sim_url: String,
    /// The Python interpreter with boto3, if there is one.
    pub python: Option<PathBuf>,
}

impl Context {
    pub async fn new(root: &Path, release_dir: &Path) -> Result<Self> {
        let stack_env = root.join(".local/stack.env");
        let described = launch::read_env_file(&stack_env)?;
        let function_env = launch::read_env_file(&root.join(".local/env"))?;
        let get = |k: &str| {
            described
                .get(k)
                .cloned()
                .ok_or_else(|| format!("{k} missing in {}", stack_env.display()))
        };
        let moto_url = get("MOTO_URL")?;
        let sim_url = get("SR_SIM_URL")?;
        for (what, url) in [
            ("moto", format!("{moto_url}/moto-api/")),
            ("SR simulator", format!("{sim_url}/__sim/state")),
        ] {
            reqwest::get(&url).await.map_err(|e| {
                format!(
                    "{what} does not answer at {url} ({e}): start the stack with `make stack-up`"
                )
            })?;
        }
        let stack = Stack::connect().await;
        let logs = crate::cargo_target_dir(root).join("bench-logs");
        std::fs::create_dir_all(&logs)?;
        Ok(Self {
            root: root.to_path_buf(),
            release_dir: release_dir.to_path_buf(),
            logs,
            stack,
            function_env,
            moto_url,
            sim_url,
            python: python::interpreter(),
        })
    }

    pub fn binary(&self, name: &str) -> PathBuf {
        self.release_dir.join(name)
    }

    /// A release function as Lambda would run it, talking to moto and the SR simulator.
    pub fn function_spec(&self, name: &str) -> Spec {
        let mut env = launch::lambda_env(&self.function_env);
        env.insert(
            "LAMBDA_TASK_ROOT".into(),
            self.release_dir.display().to_string(),
        );
        Spec::new(name, self.binary(name), env)
    }

    pub fn hello_spec(&self) -> Spec {
        Spec::new(
            HELLO,
            self.binary(HELLO),
            launch::lambda_env(&BTreeMap::new()),
        )
    }

    /// `baseline-handler` making the calls of `mode` for `tenant`'s items.
    pub fn baseline_spec(&self, tenant: &Tenant, mode: &str) -> Spec {
        let mut spec = self.function_spec(BASELINE);
        spec.label = format!("baseline {mode}");
        for (k, v) in tenant.baseline_env(mode) {
            spec.env.insert(k.into(), v);
        }
        spec
    }

    /// The result publisher with its SR URLs pointing at `sr_base` (a counting proxy).
    pub fn publisher_spec(&self, sr_base: &str) -> Spec {
        self.function_spec("result-publisher").with_env(&[
            (
                "SR_API_BASE_URL",
                &format!("{sr_base}/assessment-api/v202010"),
            ),
            ("SR_TOKEN_URL", &format!("{sr_base}/identity/oauth/token")),
        ])
    }

    /// The Python/boto3 `GET /packages`, if an interpreter with boto3 is available.
    pub fn python_spec(&self) -> Option<Spec> {
        let interpreter = self.python.clone()?;
        let mut spec = Spec::new(
            python::LABEL,
            interpreter,
            launch::lambda_env(&self.function_env),
        );
        spec.function_name = "python-list-packages".into();
        spec.args = vec![self.root.join(python::SCRIPT).display().to_string()];
        Some(spec)
    }
}
