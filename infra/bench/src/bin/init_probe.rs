//! Where a function's init time goes: performs the init steps of the partner functions
//! (`PartnerApi::from_env`, plus the `SrClient` of result-publisher and consent) one by one,
//! timing each, and prints them as one JSON line. `main_entered_unix_us` lets the harness split off the time before `main`
//! (exec, dynamic loading, relocations) from its own spawn timestamp.
//!
//! The SDK configuration is built the way the functions build it (`aws::lambda_sdk_config`, from
//! Lambda's environment); `INIT_PROBE_PROVIDER_CHAIN=1` loads it through the SDK's provider
//! chain instead, as the functions did before, to show what that costs.
//!
//! With the chain, `INIT_PROBE_NO_NATIVE_ROOTS=1` gives the SDK's HTTP client an empty trust store (it could not
//! talk TLS then; it only shows what loading the system CA store costs during init).
//!
//! `INIT_PROBE_TRACE=1 strace -f -tt -e trace=openat,write target/release/init-probe` shows which
//! files each step reads.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use aws_smithy_http_client::tls::rustls_provider::CryptoMode;
use aws_smithy_http_client::tls::{Provider, TlsContext, TrustStore};
use connector::sr::SrClient;
use connector::Config;

fn main() {
    let entered = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros();
    let mut phases: Vec<(&str, f64)> = Vec::new();
    let mut clock = Instant::now();
    // INIT_PROBE_TRACE=1 writes each step's name to stderr when it ends, so `strace` output can
    // be attributed to the steps.
    let trace = std::env::var_os("INIT_PROBE_TRACE").is_some();
    let mut lap = |name: &'static str, phases: &mut Vec<(&str, f64)>| {
        phases.push((name, clock.elapsed().as_secs_f64() * 1e3));
        if trace {
            eprintln!("init-probe: end of {name}");
        }
        clock = Instant::now();
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    lap("tokio runtime", &mut phases);
    runtime.block_on(async {
        connector::telemetry::init();
        lap("telemetry::init (tracing-subscriber)", &mut phases);
        let config = Config::from_env().expect("function configuration in the environment");
        lap("Config::from_env", &mut phases);
        let sdk = match std::env::var_os("INIT_PROBE_PROVIDER_CHAIN") {
            Some(_) => {
                let http = if std::env::var_os("INIT_PROBE_NO_NATIVE_ROOTS").is_some() {
                    // The experiment: the same client with an empty trust store, to see what
                    // loading the system CA store costs inside the SDK's init.
                    connector::aws::install_crypto_provider();
                    let tls = TlsContext::builder()
                        .with_trust_store(TrustStore::empty().with_native_roots(false))
                        .build()
                        .expect("TLS context");
                    aws_smithy_http_client::Builder::new()
                        .tls_provider(Provider::Rustls(CryptoMode::Ring))
                        .tls_context(tls)
                        .build_https()
                } else {
                    connector::aws::http_client()
                };
                lap("aws::http_client (rustls provider + builder)", &mut phases);
                let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
                    .http_client(http)
                    .load()
                    .await;
                lap("SDK config: aws_config load (provider chain)", &mut phases);
                sdk
            }
            None => {
                let env = |name: &str| std::env::var(name).ok();
                let sdk = connector::aws::lambda_sdk_config(env, None)
                    .expect("AWS_REGION and the credentials in the environment");
                lap(
                    "SDK config: from the Lambda environment (with aws::http_client)",
                    &mut phases,
                );
                sdk
            }
        };
        let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
        lap("SDK client: DynamoDB", &mut phases);
        let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
        lap("SDK client: Secrets Manager", &mut phases);
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        lap("SDK client: SQS", &mut phases);
        let sr = SrClient::new(config.sr.clone());
        lap("SrClient::new (reqwest + rustls roots)", &mut phases);
        drop((dynamodb, secrets, sqs, sr));
    });
    // `[[name, ms], …]` in the order the steps ran.
    let phases: Vec<serde_json::Value> = phases
        .into_iter()
        .map(|(k, v)| serde_json::json!([k, v]))
        .collect();
    println!(
        "{}",
        serde_json::json!({"main_entered_unix_us": entered as u64, "phases_ms": phases})
    );
}
