//! One module per subcommand; each turns parsed flags into library calls.

mod config;
mod demo;
mod import;
mod ingest;
mod replay;
mod report;
mod simulate;
mod sql;

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{Command, ConfigCommand, ImportCommand, ReportCommand};

/// Runs a subcommand to completion.
pub(crate) async fn run(command: Command) -> Result<ExitCode> {
    match command {
        Command::Demo(args) => demo::run(args).await,
        Command::Simulate(args) => simulate::run(args).await,
        Command::Import(ImportCommand::AnonymousBank(args)) => import::anonymous_bank(args).await,
        Command::Replay(args) => replay::run(args).await,
        Command::Config(ConfigCommand::Check(args)) => config::check(args).await,
        Command::Ingest(args) => ingest::run(args).await,
        Command::Sql(args) => sql::run(args).await,
        Command::Report(ReportCommand::List) => report::list().await,
        Command::Report(ReportCommand::Show(args)) => report::show(args).await,
        Command::Report(ReportCommand::Run(args)) => report::run(args).await,
    }
}
