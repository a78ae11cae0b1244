//! `webhook-dispatcher` Lambda: SQS-triggered, POSTs vendor notifications as signed webhooks.
//! All logic lives in `connector::webhooks`; this only wires it to the runtime.

use aws_lambda_events::event::sqs::SqsEvent;
use connector::webhooks::WebhookDispatcher;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    connector::telemetry::init();
    let dispatcher = WebhookDispatcher::from_env().await?;
    run(service_fn(|event: LambdaEvent<SqsEvent>| {
        dispatcher.handle(event)
    }))
    .await
}
