//! `connector`: see `connector --help`. Exit 0 on success, 1 with one `error: …` line on stderr
//! when the command fails, 2 for command-line mistakes (clap's convention).

use std::process::ExitCode;

use clap::Parser;
use connector_cli::cli::Cli;

fn main() -> ExitCode {
    match connector_cli::run(Cli::parse()) {
        Ok(output) => {
            println!("{output}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("error: {}", connector_cli::one_line(&message));
            ExitCode::FAILURE
        }
    }
}
