//! `create-inline-order` Lambda: SR's `inlineAssessmentPackageOrderUrl` (`POST /packages/inline/orders`).
//! All logic lives in `connector::api::partner`; this only wires it to the runtime.

use connector::api::partner::PartnerApi;
use lambda_http::{run, service_fn, Error, Request};

#[tokio::main]
async fn main() -> Result<(), Error> {
    connector::telemetry::init();
    let api = PartnerApi::from_env().await?;
    run(service_fn(|request: Request| {
        api.create_inline_order(request)
    }))
    .await
}
