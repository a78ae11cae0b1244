//! Set-ups for the Kombo SDK tests (`tests/kombo/`), which run Kombo's own Python and TypeScript
//! SDKs against the local stack. Prints one JSON document.
//!
//! - `kombo-fixture company`: a newly connected SR company and what a Kombo SDK needs to reach
//!   the stack (`server_url`, API key, integration id) and the simulator.
//! - `kombo-fixture webhooks URL`: the webhook story of `connector_tests::kombo::webhook_story`
//!   against a receiver at `URL`, which must answer `inline-assessment:order-received` with
//!   `{"assessment_url": "https://…"}`.

use connector_tests::{kombo, Stack};
use serde_json::json;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let stack = Stack::connect().await;
    let output = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["company"] => {
            let company = stack.new_company("kombo-sdk").await;
            json!({
                "company_id": company.company_id,
                "integration_id": company.integration_id,
                "server_url": stack.function_url("vendor-api", ""),
                "api_key": stack.vendor_api_key,
                "simulator_url": stack.sim.base(),
            })
        }
        ["webhooks", url] => kombo::webhook_story(&stack, url).await,
        _ => {
            eprintln!("usage: kombo-fixture company | kombo-fixture webhooks URL");
            std::process::exit(2);
        }
    };
    println!("{output}");
}
