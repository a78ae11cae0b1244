//! AWS SDK clients, built once per cold start.
//!
//! The SDK gets a hyper 1 + rustls 0.23 + ring HTTP client, the same TLS stack `reqwest` uses,
//! so the binary carries one TLS implementation (smaller, faster to start).
//!
//! The SDK trusts only the Amazon Trust Services roots, compiled in (`certs/aws-roots.pem`): every
//! AWS endpoint chains to them, and it spares each cold start a scan and parse of the system CA
//! store (about 5 ms measured by `make bench`, most of the init time). `AWS_TLS_NATIVE_ROOTS=true`
//! restores the system store (e.g. behind a TLS-inspecting proxy).

use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};
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
pub async fn load_sdk_config() -> SdkConfig {
    let loader = config_loader();
    match std::env::var("AWS_LAMBDA_FUNCTION_NAME")
        .ok()
        .and_then(|name| app_name(&name))
    {
        Some(app) => loader.app_name(app),
        None => loader,
    }
    .load()
    .await
}

/// The SDK's app name for a function: its name, cut to the 50 characters the SDK recommends.
fn app_name(function: &str) -> Option<aws_config::AppName> {
    aws_config::AppName::new(function.chars().take(50).collect::<String>()).ok()
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
