//! The command-line interface: every subcommand and flag, with its help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::pace::Speed;

/// Default events topic (events.md).
pub(crate) const DEFAULT_TOPIC: &str = "ccpulse.events";

/// ccpulse: real-time contact-center analytics on Kafka, Arrow and SQL.
#[derive(Debug, Parser)]
#[command(name = "ccpulse", version, about, propagate_version = true)]
pub(crate) struct Cli {
    /// More log output on stderr (-v info, -vv debug). `RUST_LOG` overrides it.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub(crate) verbose: u8,

    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run ccpulse on an embedded broker with live simulated traffic; no installs needed.
    Demo(DemoArgs),
    /// Generate deterministic contact-center traffic (same seed, same bytes).
    Simulate(SimulateArgs),
    /// Convert real call records into contract events.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Produce NDJSON event files to Kafka, keyed by tenant.
    Replay(ReplayArgs),
    /// Work with the configuration file.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Consume the events topic into the data directory (the aggregator alone).
    Ingest(IngestArgs),
    /// Run one read-only SQL query over a tenant's tables in the data directory.
    Sql(SqlArgs),
    /// The report catalog: list, describe and run reports into files.
    #[command(subcommand)]
    Report(ReportCommand),
    /// Run the whole pipeline: consume the events topic, serve the API and the
    /// wallboard page.
    Serve(ServeArgs),
    /// API tokens: create, list and revoke (stored hashed in the data directory).
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// Kafka brokers (`host:port,…`); overrides `kafka.brokers`.
    #[arg(long)]
    pub(crate) brokers: Option<String>,
    /// Where tables, checkpoints, tokens and saved settings live; overrides
    /// `storage.data_dir`.
    #[arg(long, value_name = "DIR")]
    pub(crate) data_dir: Option<PathBuf>,
    /// `IP:port` for the API and the wallboard; overrides `server.listen` (port 0: any
    /// free port, printed at start).
    #[arg(long, value_name = "ADDR")]
    pub(crate) listen: Option<std::net::SocketAddr>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Create a token and print it (once: only its hash is kept).
    Create(TokenCreateArgs),
    /// List the tokens (ids, names, tenants, roles; never the tokens themselves).
    List(TokenDirArgs),
    /// Revoke a token by id (or by the whole token).
    Revoke(TokenRevokeArgs),
}

#[derive(Debug, Args)]
pub(crate) struct TokenDirArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// The data directory holding the tokens; overrides `storage.data_dir`.
    #[arg(long, value_name = "DIR")]
    pub(crate) data_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct TokenCreateArgs {
    /// The tenant whose data the token opens (and no other).
    #[arg(long)]
    pub(crate) tenant: String,
    /// `admin`, `supervisor`, `analyst` or `viewer` (README, "Tokens and roles").
    #[arg(long)]
    pub(crate) role: String,
    /// A supervisor's queues, comma-separated (default: every queue).
    #[arg(long, value_delimiter = ',', value_name = "QUEUE,…")]
    pub(crate) queues: Option<Vec<String>>,
    /// A label for lists and logs (`wallboard-floor-2`).
    #[arg(long, default_value = "")]
    pub(crate) name: String,
    #[command(flatten)]
    pub(crate) dir: TokenDirArgs,
}

#[derive(Debug, Args)]
pub(crate) struct TokenRevokeArgs {
    /// The token's id (`ccpulse token list`) or the token itself.
    pub(crate) id: String,
    #[command(flatten)]
    pub(crate) dir: TokenDirArgs,
}

/// Where events go: an NDJSON file, or a Kafka topic.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub(crate) struct Output {
    /// Write NDJSON to this file (`-` for standard output).
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
    /// Produce to Kafka at these brokers (`host:port,…`).
    #[arg(long, value_name = "BROKERS", env = "CCPULSE_BROKERS")]
    pub(crate) brokers: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct TopicArg {
    /// Kafka topic for events (with `--brokers`).
    #[arg(long, default_value = DEFAULT_TOPIC)]
    pub(crate) topic: String,
}

#[derive(Debug, Args)]
pub(crate) struct SimulateArgs {
    /// Random seed: the same seed and settings give the same events, byte for byte.
    #[arg(long, default_value_t = 7)]
    pub(crate) seed: u64,
    /// Simulated start, RFC 3339 (default: the simulator's fixed start date).
    #[arg(long, value_name = "TIMESTAMP")]
    pub(crate) start: Option<String>,
    /// Simulated length: `30m`, `8h`, `1d`, `7d` …
    #[arg(long, default_value = "1d")]
    pub(crate) duration: String,
    /// Number of tenants.
    #[arg(long)]
    pub(crate) tenants: Option<u32>,
    /// Arrival-rate multiplier (1.0 = the built-in profile).
    #[arg(long)]
    pub(crate) scale: Option<f64>,
    /// Pace: `max` (as fast as possible), `realtime`, or an acceleration like `60x`.
    #[arg(long, default_value = "max")]
    pub(crate) speed: Speed,
    #[command(flatten)]
    pub(crate) output: Output,
    #[command(flatten)]
    pub(crate) topic: TopicArg,
    /// No progress bar (it is also hidden when stderr is not a terminal).
    #[arg(long)]
    pub(crate) quiet: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ImportCommand {
    /// The Anonymous Bank (1999) call records of the Technion SEE laboratory.
    AnonymousBank(ImportAnonymousBankArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ImportAnonymousBankArgs {
    /// Tab-separated record files (e.g. `january.txt`).
    #[arg(required = true, value_name = "FILE")]
    pub(crate) files: Vec<PathBuf>,
    /// Tenant id given to every event.
    #[arg(long, default_value = "anonymous-bank")]
    pub(crate) tenant: String,
    #[command(flatten)]
    pub(crate) output: Output,
    #[command(flatten)]
    pub(crate) topic: TopicArg,
}

#[derive(Debug, Args)]
pub(crate) struct ReplayArgs {
    /// NDJSON files of contract events (`-` for standard input).
    #[arg(required = true, value_name = "FILE")]
    pub(crate) files: Vec<PathBuf>,
    /// Kafka brokers (`host:port,…`).
    #[arg(long, value_name = "BROKERS", env = "CCPULSE_BROKERS")]
    pub(crate) brokers: String,
    #[command(flatten)]
    pub(crate) topic: TopicArg,
    /// Compression codec: `lz4`, `zstd`, `gzip`, `snappy` or `none`.
    #[arg(long, default_value = "lz4")]
    pub(crate) compression: String,
    /// No progress bar (it is also hidden when stderr is not a terminal).
    #[arg(long)]
    pub(crate) quiet: bool,
}

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Stop after this long (`90s`, `10m`); default: run until Ctrl-C.
    #[arg(long)]
    pub(crate) duration: Option<String>,
    /// Simulated-time acceleration of the live traffic.
    #[arg(long, default_value = "60x")]
    pub(crate) speed: Speed,
    /// Random seed of the simulated traffic.
    #[arg(long, default_value_t = 7)]
    pub(crate) seed: u64,
    /// Seconds between two printed summaries.
    #[arg(long, default_value_t = 2)]
    pub(crate) every: u64,
    /// Keep the tables here (default: a temporary directory, removed at the end).
    #[arg(long, value_name = "DIR")]
    pub(crate) data_dir: Option<PathBuf>,
    /// `IP:port` for the API and the wallboard (port 0: any free port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub(crate) listen: std::net::SocketAddr,
}

/// The configuration file, for the commands that read one.
#[derive(Debug, Args)]
pub(crate) struct ConfigArg {
    /// TOML configuration file (every key: `config/ccpulse.example.toml`). Without it,
    /// the built-in defaults; `CCPULSE__SECTION__KEY` variables override either.
    #[arg(long, value_name = "FILE", env = "CCPULSE_CONFIG")]
    pub(crate) config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ConfigCommand {
    /// Load and validate the configuration, then print it as in effect (secrets
    /// redacted). Exit status 0 when valid, 2 when not.
    Check(ConfigCheckArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ConfigCheckArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
}

#[derive(Debug, Args)]
pub(crate) struct IngestArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// Kafka brokers (`host:port,…`); overrides `kafka.brokers`.
    #[arg(long)]
    pub(crate) brokers: Option<String>,
    /// Where tables and checkpoints go; overrides `storage.data_dir`.
    #[arg(long, value_name = "DIR")]
    pub(crate) data_dir: Option<PathBuf>,
    /// Read every assigned partition to the end it had at start, checkpoint and exit
    /// (backfills, tests, benchmarks). Without it: follow the topic until Ctrl-C.
    #[arg(long)]
    pub(crate) until_caught_up: bool,
    /// Also write the final summary to this file as JSON.
    #[arg(long, value_name = "FILE")]
    pub(crate) summary_json: Option<PathBuf>,
    /// No progress bar (it is also hidden when stderr is not a terminal).
    #[arg(long)]
    pub(crate) quiet: bool,
}

#[derive(Debug, Args)]
pub(crate) struct SqlArgs {
    /// The query (`-` reads it from standard input). Only queries run: DDL, DML, COPY
    /// and SET are refused. Tables: events, interactions, agent_states, queue_intervals,
    /// agent_intervals, campaign_intervals, queue_live, agent_live.
    #[arg(value_name = "QUERY")]
    pub(crate) query: String,
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// The tables' directory; overrides `storage.data_dir`.
    #[arg(long, value_name = "DIR")]
    pub(crate) data_dir: Option<PathBuf>,
    /// Whose rows the query sees (needed when the directory holds several tenants).
    #[arg(long)]
    pub(crate) tenant: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = SqlFormat::Table)]
    pub(crate) format: SqlFormat,
    /// Most rows the query may return (default 100 000); a larger result is an error.
    #[arg(long, value_name = "N")]
    pub(crate) max_rows: Option<usize>,
}

/// How `ccpulse sql` prints its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum SqlFormat {
    /// An aligned text table.
    Table,
    /// CSV with a header row.
    Csv,
    /// A JSON array of objects.
    Json,
    /// One JSON object per line.
    Ndjson,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ReportCommand {
    /// Every report of the catalog, with its title.
    List,
    /// One report's description, parameters and columns.
    Show(ReportShowArgs),
    /// Run a report over the data directory and write it to a file.
    Run(ReportRunArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ReportShowArgs {
    /// The report's name (`ccpulse report list`).
    pub(crate) name: String,
}

#[derive(Debug, Args)]
pub(crate) struct ReportRunArgs {
    /// The report's name (`ccpulse report list`).
    pub(crate) name: String,
    /// A parameter as NAME=VALUE, repeatable: `--param from=2026-11-01 --param
    /// to=2026-12-01 --param queues=sales,support` (`ccpulse report show NAME` lists them).
    #[arg(long, value_name = "NAME=VALUE")]
    pub(crate) param: Vec<String>,
    /// Where to write it (`-`: standard output, text formats only).
    #[arg(long, value_name = "FILE")]
    pub(crate) out: PathBuf,
    /// `csv`, `xlsx`, `json`, `ndjson` or `parquet` (default: from the file's extension).
    #[arg(long)]
    pub(crate) format: Option<String>,
    /// Only this page of rows (1-based), of `--page-size` rows.
    #[arg(long, value_name = "N")]
    pub(crate) page: Option<usize>,
    /// Rows per page with `--page`.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub(crate) page_size: usize,
    /// Ignore the queues / agents / campaigns filters (keep the range).
    #[arg(long)]
    pub(crate) everything: bool,
    /// Whose rows the report covers (needed when the directory holds several tenants).
    #[arg(long)]
    pub(crate) tenant: Option<String>,
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// The tables' directory; overrides `storage.data_dir`.
    #[arg(long, value_name = "DIR")]
    pub(crate) data_dir: Option<PathBuf>,
    /// No progress bar (it is also hidden when stderr is not a terminal).
    #[arg(long)]
    pub(crate) quiet: bool,
}
