//! `consent` Lambda: SR's `consentUrl` (`GET`/`POST /integration`), the page where a customer connects.
//! All logic lives in `connector::api::consent`; this only wires it to the runtime.

use connector::api::consent::ConsentApi;
use lambda_http::{run, service_fn, Error, Request};

#[tokio::main]
async fn main() -> Result<(), Error> {
    connector::telemetry::init();
    let api = ConsentApi::from_env().await?;
    run(service_fn(|request: Request| api.handle(request))).await
}
