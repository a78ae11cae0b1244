//! `make dev`'s demo: runs the spine once against the local stack and prints what happened and
//! what a user needs to keep playing.

use connector_tests::{scenario, Stack};

#[tokio::main]
async fn main() {
    let stack = Stack::connect().await;
    println!("\n== SmartRecruiters connector: one order from SR to a result posted back ==");
    let report = scenario::run_spine(&stack, |line| println!("  ✓ {line}")).await;
    println!(
        "\nWhat the SR simulator received for order {}:",
        report.order_id
    );
    println!(
        "{}",
        serde_json::to_string_pretty(&report.sr_order["result"]).unwrap_or_default()
    );
    let integration = &report.company.integration_id;
    let key = stack.connect_key(&[("my-org", "My organisation")]).await;
    println!("\nConnect another SR company through the consent page (what SR's popup shows):");
    println!(
        "  open           {}?companyId=my-company",
        stack.function_url("consent", "/integration")
    );
    println!("  connect key    {key}   (one-time, for vendor organisation my-org)");
    println!("\nKeep playing:");
    println!(
        "  vendor API     {}",
        stack.function_url("vendor-api", "/assessment/orders")
    );
    println!("  vendor key     {}", stack.vendor_api_key);
    println!("  integration    X-Integration-Id: {integration}");
    println!(
        "  SR simulator   {}/__sim/orders/{}",
        stack.sim.base(),
        report.order_id
    );
    println!(
        "  try            curl -s -H 'Authorization: Bearer {}' -H 'X-Integration-Id: {integration}' {}",
        stack.vendor_api_key,
        stack.function_url("vendor-api", "/assessment/orders")
    );
    println!(
        "  SR as client   curl -s -X POST {}/__sim/companies/{}/packages",
        stack.sim.base(),
        report.company.company_id
    );
}
