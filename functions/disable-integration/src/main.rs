//! `disable-integration` Lambda: SR's `integrationDisableUrl` (`DELETE /integrations/companies/{companyId}`).
//! All logic lives in `connector::api::partner`; this only wires it to the runtime.

use connector::api::partner::PartnerApi;
use lambda_http::{run, service_fn, Error, Request};

#[tokio::main]
async fn main() -> Result<(), Error> {
    connector::telemetry::init();
    let api = PartnerApi::from_env().await?;
    run(service_fn(|request: Request| {
        api.disable_integration(request)
    }))
    .await
}
