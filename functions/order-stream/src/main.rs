//! `order-stream` Lambda: the table's DynamoDB stream (new order items) to the results queue,
//! where the result publisher enriches each order and tells the vendor.
//! All logic lives in `connector::order_stream`; this only wires it to the runtime.

use aws_lambda_events::event::dynamodb::Event;
use connector::order_stream::OrderStream;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    connector::telemetry::init();
    let stream = OrderStream::from_env().await?;
    run(service_fn(|event: LambdaEvent<Event>| stream.handle(event))).await
}
