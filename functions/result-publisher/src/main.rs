//! `result-publisher` Lambda: SQS-triggered delivery of results to SmartRecruiters, and the
//! enrichment of new orders queued on the same results queue (`connector::enrichment`).
//! All logic lives in `connector::publisher`; this only wires it to the runtime.

use aws_lambda_events::event::sqs::SqsEvent;
use connector::publisher::ResultPublisher;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    connector::telemetry::init();
    let publisher = ResultPublisher::from_env().await?;
    run(service_fn(|event: LambdaEvent<SqsEvent>| {
        publisher.handle(event)
    }))
    .await
}
