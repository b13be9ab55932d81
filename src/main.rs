//! The `wa-gateway` binary: parse the command line, hand over to the library.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    wa_gateway::cli::Cli::parse().run().await
}
