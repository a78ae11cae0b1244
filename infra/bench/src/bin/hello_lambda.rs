//! The empty `lambda_runtime` function: the baseline of init time and RSS. Built with the same
//! release profile as the functions; it answers every event with `{}`.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(|_: LambdaEvent<Value>| async {
        Ok::<Value, Error>(Value::Object(Default::default()))
    }))
    .await
}
