//! `connector`: operator commands for the SmartRecruiters assessment-partner connector.
//!
//! The binary only parses the command line and prints; the work lives in one module per concern
//! so it can be unit-tested without a terminal or a stack. The operations commands (`companies`,
//! `orders`, `dlq`, `vendor-key`) only render: what they do to AWS is in `connector::ops` and
//! `connector::store`.

pub mod candidates;
pub mod cli;
pub mod companies;
pub mod configure;
pub mod dlq;
pub mod env_file;
pub mod environment;
pub mod orders;
pub mod render;
pub mod stack_outputs;
pub mod vendor_key;

use cli::{Cli, Command};

/// Runs a parsed command line and returns what to print on stdout.
///
/// The env file is loaded first, on this single thread, before the async runtime (and the AWS
/// SDK, which reads the environment) exists.
pub fn run(cli: Cli) -> Result<String, String> {
    if let Some(path) = &cli.env_file {
        env_file::load(path).map_err(|e| e.to_string())?;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    match cli.command {
        Command::Configure(args) => runtime
            .block_on(configure::run(&args.into()))
            .map_err(|e| e.to_string()),
        Command::Companies(command) => runtime.block_on(companies::run(command)),
        Command::Orders(command) => runtime.block_on(orders::run(command)),
        Command::Candidates(command) => runtime.block_on(candidates::run(command)),
        Command::Dlq(command) => runtime.block_on(dlq::run(command)),
        Command::VendorKey(command) => runtime.block_on(vendor_key::run(command)),
    }
}

/// Error text on one line, whatever a dependency put in it.
pub fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn errors_fit_on_one_line() {
        assert_eq!(super::one_line("a\n  b\tc "), "a b c");
    }
}
