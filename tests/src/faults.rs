//! AWS requests that fail on purpose: the stack's own DynamoDB or SQS client (real SDK, moto)
//! with an interceptor that fails chosen requests before they are sent, to show what a failure
//! half-way through an operation leaves behind.

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use connector::store::Store;

use crate::Stack;

/// Fails every request whose body contains `needle` (say a key prefix), as if
/// DynamoDB could not be reached for that one request; every other request goes through.
#[derive(Debug)]
struct FailRequestsCarrying {
    needle: String,
}

impl Intercept for FailRequestsCarrying {
    fn name(&self) -> &'static str {
        "FailRequestsCarrying"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let body = context.request().body().bytes().unwrap_or_default();
        let carries = body
            .windows(self.needle.len())
            .any(|w| w == self.needle.as_bytes());
        if carries {
            return Err(format!("injected failure of a request carrying `{}`", self.needle).into());
        }
        Ok(())
    }
}

impl Stack {
    /// The stack's SQS through a client whose requests carrying `needle` fail.
    pub fn sqs_failing_requests_carrying(&self, needle: &str) -> aws_sdk_sqs::Client {
        let config = self
            .aws
            .sqs
            .config()
            .to_builder()
            .interceptor(FailRequestsCarrying {
                needle: needle.to_string(),
            })
            .build();
        aws_sdk_sqs::Client::from_conf(config)
    }

    /// The stack's table through a DynamoDB client whose requests carrying `needle` fail.
    pub fn store_failing_requests_carrying(&self, needle: &str) -> Store {
        let config = self
            .aws
            .dynamodb
            .config()
            .to_builder()
            .interceptor(FailRequestsCarrying {
                needle: needle.to_string(),
            })
            .build();
        Store::new(
            aws_sdk_dynamodb::Client::from_conf(config),
            &self.config.table_name,
        )
    }
}
