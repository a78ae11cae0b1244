//! AWS SDK clients, built once per cold start.
//!
//! The SDK gets a hyper 1 + rustls 0.23 + ring HTTP client, the same TLS stack `reqwest` uses,
//! so the binary carries one TLS implementation (smaller, faster to start). Measured (the issue-6
//! benchmark): loading the config still parses the system CA store at init (~5 ms), and
//! `SrClient::new` parses it again; sharing one trust store is the open fix.

use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use aws_smithy_runtime_api::client::http::SharedHttpClient;

/// Makes ring the process-wide rustls provider; `reqwest` is built without one on purpose.
pub fn install_crypto_provider() {
    // Err only means another caller installed it first, which is what we want anyway.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The SDK's HTTP client: hyper 1 + rustls + ring.
pub fn http_client() -> SharedHttpClient {
    install_crypto_provider();
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// Config loader with our HTTP client; callers may override region, endpoint or credentials.
pub fn config_loader() -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest()).http_client(http_client())
}

/// Loads region, credentials and `AWS_ENDPOINT_URL` (moto in local stacks) from the environment.
pub async fn load_sdk_config() -> SdkConfig {
    config_loader().load().await
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
