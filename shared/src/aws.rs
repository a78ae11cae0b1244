//! AWS SDK clients, built once per cold start (or at their first request: [`LazyClient`]), from
//! the configuration Lambda puts in the environment ([`lambda_sdk_config`]).
//!
//! The SDK gets a hyper 1 + rustls 0.23 + ring HTTP client, the same TLS stack `reqwest` uses,
//! so the binary carries one TLS implementation (smaller, faster to start).
//!
//! The SDK trusts only the Amazon Trust Services roots, compiled in (`certs/aws-roots.pem`): every
//! AWS endpoint chains to them, and it spares each cold start a scan and parse of the system CA
//! store (about 5 ms measured by `make bench`, most of the init time). `AWS_TLS_NATIVE_ROOTS=true`
//! restores the system store (e.g. behind a TLS-inspecting proxy).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use aws_config::identity::IdentityCache;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader, Region, SdkConfig};
use aws_sdk_dynamodb::config::{Credentials, SharedCredentialsProvider};
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider, TlsContext, TrustStore};
use aws_smithy_runtime_api::client::http::SharedHttpClient;

/// Makes ring the process-wide rustls provider; `reqwest` is built without one on purpose.
pub fn install_crypto_provider() {
    // Err only means another caller installed it first, which is what we want anyway.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Amazon Root CA 1–4 and Starfield Services Root G2, as PEM.
const AWS_ROOTS_PEM: &[u8] = include_bytes!("../certs/aws-roots.pem");

/// The SDK's HTTP client: hyper 1 + rustls + ring, trusting the AWS roots.
pub fn http_client() -> SharedHttpClient {
    install_crypto_provider();
    let native = std::env::var("AWS_TLS_NATIVE_ROOTS").is_ok_and(|v| v == "true");
    let trust = if native {
        TrustStore::default()
    } else {
        TrustStore::empty().with_pem_certificate(AWS_ROOTS_PEM)
    };
    let context = TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .expect("a TLS context with a PEM trust store always builds");
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .tls_context(context)
        .build_https()
}

/// Config loader with our HTTP client; callers may override region, endpoint or credentials.
pub fn config_loader() -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest()).http_client(http_client())
}

/// Loads region, credentials and `AWS_ENDPOINT_URL` (moto in local stacks) from the environment.
/// Inside Lambda the function's name goes into every request's User-Agent (`app/<name>`), so
/// CloudTrail tells which function made a call, and so does the local stack's call log
/// (`infra/aws_calls.py` checks those calls against template.yaml's IAM).
///
/// Where Lambda put the region and the execution role's credentials in the environment, the
/// configuration is built from them directly ([`lambda_sdk_config`]); elsewhere (a developer's
/// profile, SSO, a container role) the SDK's provider chain resolves them.
pub async fn load_sdk_config() -> SdkConfig {
    let function = std::env::var("AWS_LAMBDA_FUNCTION_NAME").ok();
    let app = function.as_deref().and_then(app_name);
    if let Some(config) = lambda_sdk_config(|name| std::env::var(name).ok(), app.clone()) {
        return config;
    }
    let loader = config_loader();
    match app {
        Some(app) => loader.app_name(app),
        None => loader,
    }
    .load()
    .await
}

/// Variables that change what the provider chain resolves beyond region, credentials and the
/// global endpoint: with any of them set, [`lambda_sdk_config`] leaves the work to the chain.
pub const CHAIN_ONLY_VARIABLES: &[&str] = &[
    "AWS_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    "AWS_USE_FIPS_ENDPOINT",
    "AWS_USE_DUALSTACK_ENDPOINT",
    "AWS_RETRY_MODE",
    "AWS_MAX_ATTEMPTS",
    "AWS_SDK_UA_APP_ID",
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_ENDPOINT_URL_SQS",
    "AWS_ENDPOINT_URL_SECRETS_MANAGER",
];

/// The SDK configuration from what Lambda puts in every function's environment: `AWS_REGION`
/// and the execution role's `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`
/// (plus `AWS_ENDPOINT_URL` when set, as local stacks do). It resolves the same values the
/// provider chain would (the chain's first providers read these very variables) without
/// building the chain: no profile files read, no IMDS, ECS, SSO or STS providers built. That
/// is most of the SDK's share of a cold start (`init-probe` in `make bench`).
///
/// `None` when the region or the credentials are missing, or when a variable only the chain
/// honours is set ([`CHAIN_ONLY_VARIABLES`]): the caller then loads through the chain.
pub fn lambda_sdk_config(
    env: impl Fn(&str) -> Option<String>,
    app: Option<aws_config::AppName>,
) -> Option<SdkConfig> {
    let set = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    if CHAIN_ONLY_VARIABLES.iter().any(|name| set(name).is_some()) {
        return None;
    }
    let region = set("AWS_REGION").or_else(|| set("AWS_DEFAULT_REGION"))?;
    let credentials = Credentials::new(
        set("AWS_ACCESS_KEY_ID")?,
        set("AWS_SECRET_ACCESS_KEY")?,
        set("AWS_SESSION_TOKEN"),
        None,
        "LambdaEnvironment",
    );
    let mut config = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .identity_cache(IdentityCache::lazy().build())
        .http_client(http_client())
        // The chain's defaults, stated: standard retries, a 3.1 s connect timeout.
        .retry_config(RetryConfig::standard())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_millis(3100))
                .build(),
        );
    config.set_endpoint_url(set("AWS_ENDPOINT_URL"));
    config.set_app_name(app);
    Some(config.build())
}

/// The SDK's app name for a function: its name, cut to the 50 characters the SDK recommends.
fn app_name(function: &str) -> Option<aws_config::AppName> {
    aws_config::AppName::new(function.chars().take(50).collect::<String>()).ok()
}

/// An SDK client built on its first request: a function that never calls the service (most
/// partner functions never touch Secrets Manager or SQS) does not pay for the client during its
/// cold start, the way `SrClient` builds its HTTP client on first use. Dereferences to the client.
pub struct LazyClient<C> {
    inner: Arc<LazyInner<C>>,
}

struct LazyInner<C> {
    sdk: Option<SdkConfig>,
    build: fn(&SdkConfig) -> C,
    client: OnceLock<C>,
}

impl<C> LazyClient<C> {
    /// `build` is the client's constructor, e.g. `aws_sdk_sqs::Client::new`.
    pub fn new(sdk: &SdkConfig, build: fn(&SdkConfig) -> C) -> Self {
        Self {
            inner: Arc::new(LazyInner {
                sdk: Some(sdk.clone()),
                build,
                client: OnceLock::new(),
            }),
        }
    }
}

/// A client built already (tests, tools).
impl<C> From<C> for LazyClient<C> {
    fn from(client: C) -> Self {
        Self {
            inner: Arc::new(LazyInner {
                sdk: None,
                build: |_| unreachable!("a built client is never built again"),
                client: OnceLock::from(client),
            }),
        }
    }
}

impl<C> std::ops::Deref for LazyClient<C> {
    type Target = C;

    fn deref(&self) -> &C {
        self.inner.client.get_or_init(|| {
            let sdk = self.inner.sdk.as_ref();
            (self.inner.build)(sdk.expect("a lazy client keeps its SDK configuration"))
        })
    }
}

impl<C> Clone for LazyClient<C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<C: std::fmt::Debug> std::fmt::Debug for LazyClient<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.inner.client.get() {
            Some(client) => client.fmt(f),
            None => f.write_str("LazyClient(not built yet)"),
        }
    }
}

/// The three AWS services the connector uses.
#[derive(Clone, Debug)]
pub struct AwsClients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub sqs: aws_sdk_sqs::Client,
}

impl AwsClients {
    pub fn new(sdk: &SdkConfig) -> Self {
        Self {
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            secrets: aws_sdk_secretsmanager::Client::new(sdk),
            sqs: aws_sdk_sqs::Client::new(sdk),
        }
    }

    pub async fn from_env() -> Self {
        Self::new(&load_sdk_config().await)
    }
}

/// [`AwsClients`] for a function's cold start: DynamoDB, which every function calls, built now;
/// Secrets Manager and SQS at their first request ([`LazyClient`]), since most invocations of
/// most functions never call them (`init-probe`: about 0.1 ms each).
#[derive(Clone, Debug)]
pub struct LazyAwsClients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub secrets: LazyClient<aws_sdk_secretsmanager::Client>,
    pub sqs: LazyClient<aws_sdk_sqs::Client>,
}

impl LazyAwsClients {
    pub fn new(sdk: &SdkConfig) -> Self {
        Self {
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            secrets: LazyClient::new(sdk, aws_sdk_secretsmanager::Client::new),
            sqs: LazyClient::new(sdk, aws_sdk_sqs::Client::new),
        }
    }

    pub async fn from_env() -> Self {
        Self::new(&load_sdk_config().await)
    }
}

#[cfg(test)]
mod tests {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;

    #[test]
    fn the_compiled_in_aws_roots_are_five_valid_trust_anchors() {
        let certs: Vec<CertificateDer<'_>> = CertificateDer::pem_slice_iter(super::AWS_ROOTS_PEM)
            .collect::<Result<_, _>>()
            .expect("valid PEM");
        assert_eq!(certs.len(), 5);
        let mut roots = rustls::RootCertStore::empty();
        let (valid, invalid) = roots.add_parsable_certificates(certs);
        assert_eq!((valid, invalid), (5, 0));
    }

    /// What Lambda puts in a function's environment (the part the SDK reads).
    fn lambda_environment(name: &str) -> Option<String> {
        match name {
            "AWS_REGION" => Some("eu-west-1".into()),
            "AWS_ACCESS_KEY_ID" => Some("ASIAEXAMPLE".into()),
            "AWS_SECRET_ACCESS_KEY" => Some("secret".into()),
            "AWS_SESSION_TOKEN" => Some("session".into()),
            "AWS_LAMBDA_FUNCTION_NAME" => Some("list-packages".into()),
            _ => None,
        }
    }

    #[tokio::test]
    async fn a_lambda_environment_gives_the_region_and_the_role_credentials_without_the_chain() {
        use aws_sdk_dynamodb::config::ProvideCredentials;
        let app = super::app_name("list-packages");
        let config = super::lambda_sdk_config(lambda_environment, app).expect("Lambda's variables");
        assert_eq!(config.region().map(|r| r.as_ref()), Some("eu-west-1"));
        assert_eq!(config.endpoint_url(), None);
        assert_eq!(
            config.app_name().map(|a| a.to_string()),
            Some("list-packages".into())
        );
        let credentials = config
            .credentials_provider()
            .expect("credentials")
            .provide_credentials()
            .await
            .expect("static credentials");
        assert_eq!(credentials.access_key_id(), "ASIAEXAMPLE");
        assert_eq!(credentials.secret_access_key(), "secret");
        assert_eq!(credentials.session_token(), Some("session"));
        // The chain's defaults, so a client behaves the same either way.
        assert_eq!(config.retry_config().map(|r| r.max_attempts()), Some(3));
        assert_eq!(
            config.timeout_config().and_then(|t| t.connect_timeout()),
            Some(std::time::Duration::from_millis(3100))
        );
    }

    #[test]
    fn a_local_stack_endpoint_is_kept() {
        let env = |name: &str| match name {
            "AWS_ENDPOINT_URL" => Some("http://127.0.0.1:5000".into()),
            "AWS_SESSION_TOKEN" => None,
            other => lambda_environment(other),
        };
        let config = super::lambda_sdk_config(env, None).expect("region and keys are set");
        assert_eq!(config.endpoint_url(), Some("http://127.0.0.1:5000"));
    }

    #[test]
    fn without_region_or_keys_or_with_a_profile_the_chain_decides() {
        let without = |missing: &'static str| {
            move |name: &str| {
                (name != missing)
                    .then(|| lambda_environment(name))
                    .flatten()
            }
        };
        assert!(super::lambda_sdk_config(without("AWS_REGION"), None).is_none());
        assert!(super::lambda_sdk_config(without("AWS_ACCESS_KEY_ID"), None).is_none());
        assert!(super::lambda_sdk_config(without("AWS_SECRET_ACCESS_KEY"), None).is_none());
        for chain_only in super::CHAIN_ONLY_VARIABLES {
            let env = |name: &str| match name {
                n if n == *chain_only => Some("x".into()),
                other => lambda_environment(other),
            };
            assert!(
                super::lambda_sdk_config(env, None).is_none(),
                "{chain_only} is the chain's"
            );
        }
        // An empty variable is an absent one (a template's `""` default).
        let empty_key = |name: &str| match name {
            "AWS_ACCESS_KEY_ID" => Some(String::new()),
            other => lambda_environment(other),
        };
        assert!(super::lambda_sdk_config(empty_key, None).is_none());
    }

    #[test]
    fn a_deployed_function_name_is_a_valid_app_name() {
        let app = super::app_name("sr-connector-prod-VendorApiFunction-AbCdEf123456XyZ-0123456789");
        assert_eq!(
            app.map(|a| a.to_string()),
            Some("sr-connector-prod-VendorApiFunction-AbCdEf123456Xy".to_string())
        );
        assert_eq!(super::app_name("consent").unwrap().to_string(), "consent");
    }
}
