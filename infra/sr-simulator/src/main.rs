//! `sr-simulator` binary: parses flags/env, binds, prints the ready line, serves forever.

use std::io::Write as _;
use std::process::ExitCode;

use sr_simulator::config::{CliError, SimConfig, USAGE};

#[tokio::main]
async fn main() -> ExitCode {
    let config = match SimConfig::from_process() {
        Ok(config) => config,
        Err(CliError::Help) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(CliError::Invalid(message)) => {
            eprintln!("sr-simulator: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    // Logs go to stderr so stdout carries only the ready line.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("sr_simulator=info")),
        )
        .init();

    let listener = match tokio::net::TcpListener::bind(&config.listen).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("sr-simulator: cannot listen on {}: {e}", config.listen);
            return ExitCode::FAILURE;
        }
    };
    let addr = match listener.local_addr() {
        Ok(addr) => addr,
        Err(e) => {
            eprintln!("sr-simulator: {e}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(%addr, master_client_id = %config.master_client_id, "starting");
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "sr-simulator listening on http://{addr}");
    let _ = stdout.flush();

    match sr_simulator::serve(listener, config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sr-simulator: server error: {e}");
            ExitCode::FAILURE
        }
    }
}
