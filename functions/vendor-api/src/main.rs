//! `vendor-api` Lambda: the vendor platform's API (`ANY /assessment/{proxy+}` and `ANY /v1/assessment/{proxy+}`).
//! All logic lives in `connector::api::vendor`; this only wires it to the runtime.

use connector::api::vendor::VendorApi;
use lambda_http::{run, service_fn, Error, Request};

#[tokio::main]
async fn main() -> Result<(), Error> {
    connector::telemetry::init();
    let api = VendorApi::from_env().await?;
    run(service_fn(|request: Request| api.handle(request))).await
}
