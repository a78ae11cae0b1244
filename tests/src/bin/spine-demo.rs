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
    if let Some(idp) = stack.env.get("IDP_URL") {
        use connector_tests::sign_in::{
            MFA_USER, NO_MFA_USER, ONE_TIME_CODE, PASSWORD, TWO_ORGANISATIONS_USER,
        };
        println!("  or sign in     \"Sign in with …\" on that page: the local IdP at {idp}");
        println!("                 {MFA_USER} (MFA) or {TWO_ORGANISATIONS_USER} (MFA, two organisations),");
        println!("                 password {PASSWORD}, one-time code {ONE_TIME_CODE};");
        println!("                 {NO_MFA_USER} has no MFA and is refused (the local stack requires MFA)");
    }
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
