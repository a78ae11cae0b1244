//! AWS requests that fail on purpose: the stack's own DynamoDB or SQS client (real SDK, moto)
//! with an interceptor that fails chosen requests before they are sent, to show what a failure
//! half-way through an operation leaves behind.

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use connector::store::Store;

use crate::Stack;

/// Whether the request's body contains `needle`.
fn carries(context: &BeforeTransmitInterceptorContextRef<'_>, needle: &str) -> bool {
    let body = context.request().body().bytes().unwrap_or_default();
    body.windows(needle.len()).any(|w| w == needle.as_bytes())
}

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
        if carries(context, &self.needle) {
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

/// Holds the first request whose body contains `needle` until the test calls
/// [`Pause::release`]: an operation stopped at an exact step while the test acts (say, erases
/// the order a delivery is about to record). The request waits on its own thread, so the test
/// runs on a multi-thread runtime.
#[derive(Debug, Clone, Default)]
pub struct Pause {
    state: std::sync::Arc<std::sync::Mutex<PauseState>>,
}

#[derive(Debug, Default)]
struct PauseState {
    held: bool,
    released: bool,
}

impl Pause {
    /// Waits until a request is held.
    pub async fn held(&self) {
        while !self.state.lock().unwrap().held {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// Lets the held request (and every later one) go.
    pub fn release(&self) {
        self.state.lock().unwrap().released = true;
    }
}

#[derive(Debug)]
struct PauseRequestsCarrying {
    needle: String,
    pause: Pause,
}

impl Intercept for PauseRequestsCarrying {
    fn name(&self) -> &'static str {
        "PauseRequestsCarrying"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        if !carries(context, &self.needle) {
            return Ok(());
        }
        {
            let mut state = self.pause.state.lock().unwrap();
            if state.released {
                return Ok(());
            }
            state.held = true;
        }
        // A test that never releases fails here, not by hanging. `block_in_place` hands this
        // worker's other tasks and its timers to the runtime meanwhile.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        tokio::task::block_in_place(|| {
            while !self.pause.state.lock().unwrap().released {
                if std::time::Instant::now() > deadline {
                    return Err("a paused request was never released".into());
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Ok(())
        })
    }
}

impl Stack {
    /// The stack's table through a DynamoDB client whose first request carrying `needle`
    /// waits for `pause` to be released.
    pub fn store_pausing_requests_carrying(&self, needle: &str, pause: &Pause) -> Store {
        let config = self
            .aws
            .dynamodb
            .config()
            .to_builder()
            .interceptor(PauseRequestsCarrying {
                needle: needle.to_string(),
                pause: pause.clone(),
            })
            .build();
        Store::new(
            aws_sdk_dynamodb::Client::from_conf(config),
            &self.config.table_name,
        )
    }
}
