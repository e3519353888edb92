//! One module per subcommand; each turns parsed flags into library calls.

mod config;
mod demo;
mod import;
mod ingest;
mod replay;
mod report;
mod serve;
mod simulate;
mod sql;
mod token;

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use ccpulse_dashboard_api::settings::SavedSettings;

use crate::cli::{Command, ConfigCommand, ImportCommand, ReportCommand, TokenCommand};
use crate::config::{Config, FlagOverrides, load_from_process};

/// Exit status for a configuration that cannot be loaded or is invalid.
const INVALID_CONFIG: u8 = 2;

/// Loads the configuration as every service command does (file, `CCPULSE__…` variables,
/// then the command's own flags), then the tenant settings saved through the API in the
/// data directory, which replace the file's for their tenants. An invalid one is
/// printed with every problem and becomes exit status 2.
fn load_config(path: Option<&Path>, flags: FlagOverrides) -> Result<Config, ExitCode> {
    let loaded = load_from_process(path).and_then(|mut config| {
        config.apply_flags(flags)?;
        Ok(config)
    });
    let mut config = loaded.map_err(|error| {
        eprintln!("error: {:#}", anyhow::Error::new(error));
        ExitCode::from(INVALID_CONFIG)
    })?;
    let saved_path = SavedSettings::path_in(&config.data_dir);
    let saved = SavedSettings::load(&saved_path).map_err(|error| {
        eprintln!("error: {error}");
        ExitCode::from(INVALID_CONFIG)
    })?;
    config.fold = std::sync::Arc::new(saved.apply(&config.fold));
    Ok(config)
}

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
        Command::Serve(args) => serve::run(args).await,
        Command::Token(TokenCommand::Create(args)) => token::create(args).await,
        Command::Token(TokenCommand::List(args)) => token::list(args).await,
        Command::Token(TokenCommand::Revoke(args)) => token::revoke(args).await,
    }
}
