//! The `ccpulse` binary: parses the command line, sets up logging and a runtime, and
//! hands each subcommand to the library crates. No business logic lives here.

mod cli;
mod command;
mod config;
mod duration;
mod pace;
mod progress;
mod sink;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    init_logging(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("ccpulse-io")
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: starting the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(command::run(cli.command)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr (stdout is for the command's own output); `RUST_LOG` wins over
/// `-v`.
fn init_logging(verbose: u8) {
    // rust-rdkafka 0.39 closes a consumer's queue again when it is dropped, after
    // ccpulse closed it (to bound the wait), and logs the second close's harmless
    // "broker handle destroyed" at ERROR: silenced by default.
    let default = match verbose {
        0 => "warn,rdkafka::consumer::base_consumer=off",
        1 => "info,rdkafka::consumer::base_consumer=off",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
