//! `ccpulse-bench`: the benchmark suite behind `BENCHMARKS.md`. Each benchmark measures
//! ccpulse next to its limit (a bare Kafka consumer) or its peer (DuckDB) in the same run,
//! on the same machine, and checks the result against the target of the issue that asked
//! for it. `scripts/bench.sh` builds it in release mode, starts the broker and runs
//! `ccpulse-bench suite`; each benchmark can also run on its own.
//!
//! # Layout
//! - `context`: what every benchmark gets: the broker, the `ccpulse` binary, a scratch
//!   directory, the sizes (full or `--quick`), and helpers shared by several benchmarks
//!   (preloading simulator events into a topic, running `ccpulse`, reading a process's
//!   memory and CPU time).
//! - `report`: a benchmark's result: a Markdown section with its method, a table, the
//!   targets met or missed, and the raw numbers as JSON.
//! - `machine`: a description of the machine the numbers come from.
//! - `stats`: percentiles and geometric means.
//! - one module per benchmark: `ingest` (with `recovery`, which reuses its data
//!   directory), `memory`, `sql`, `freshness` and `fanout`. The in-process fold alone is a
//!   criterion benchmark (`benches/fold.rs`).

mod context;
mod machine;
mod report;
mod stats;

mod fold;
mod ingest;
mod memory;
mod sql;

mod fanout;
mod freshness;
mod stream;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};

use context::Context;
use report::Section;

/// Every allocation of the suite goes through this counter, so that the memory
/// benchmark reads the live heap bytes exactly (RSS also keeps what the allocator holds
/// after frees). The `ccpulse` processes under test do not have it.
#[global_allocator]
static ALLOCATOR: cap::Cap<std::alloc::System> = cap::Cap::new(std::alloc::System, usize::MAX);

/// ccpulse-bench: measure ccpulse against its limits and its peers (BENCHMARKS.md).
#[derive(Debug, Parser)]
#[command(name = "ccpulse-bench", version, about)]
struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    command: Which,
}

#[derive(Debug, Args)]
struct Common {
    /// Kafka-protocol brokers (`host:port`), as `scripts/kafka.sh` writes them.
    #[arg(long, env = "CCPULSE_TEST_BROKERS", global = true)]
    brokers: Option<String>,
    /// The `ccpulse` binary to measure (default: the one next to this binary).
    #[arg(long, value_name = "FILE", global = true)]
    ccpulse: Option<PathBuf>,
    /// Where results (`results.md`, `results.json`) and scratch data go.
    #[arg(
        long,
        value_name = "DIR",
        default_value = "target/bench",
        global = true
    )]
    out: PathBuf,
    /// Where `cargo bench --bench fold` left criterion's estimates.
    #[arg(
        long,
        value_name = "DIR",
        default_value = "target/criterion",
        global = true
    )]
    criterion: PathBuf,
    /// Small sizes: checks that every benchmark runs, in a minute or two; the numbers
    /// mean little.
    #[arg(long, global = true)]
    quick: bool,
}

/// One benchmark of the suite (some write several sections).
#[derive(Debug, Clone, Copy)]
enum Benchmark {
    Fold,
    Memory,
    Ingest,
    Sql,
    Freshness,
    Fanout,
}

#[derive(Debug, Subcommand)]
enum Which {
    /// Every benchmark, in an order that lets later ones reuse earlier data.
    Suite,
    /// Ingest throughput from the broker next to a bare consumer's, then recovery after
    /// SIGKILL on the same history.
    Ingest,
    /// The fold alone per core, from criterion's estimates (`cargo bench --bench fold`
    /// must have run).
    Fold,
    /// Resident memory per open interaction and per logged-in agent.
    Memory,
    /// The report catalog over ≥ 10 million interactions, ccpulse vs DuckDB.
    Sql,
    /// Time from produce to a WebSocket client, under steady traffic and many clients.
    Freshness,
    /// WebSocket clients one instance holds at one update per second, and their cost.
    Fanout,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("ccpulse-bench: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ccpulse-bench: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    let ctx = Context::new(
        cli.common.brokers,
        cli.common.ccpulse,
        cli.common.out,
        cli.common.criterion,
        cli.common.quick,
    )?;
    let benchmarks: &[Benchmark] = match cli.command {
        Which::Suite => &[
            Benchmark::Fold,
            Benchmark::Memory,
            Benchmark::Ingest,
            Benchmark::Sql,
            Benchmark::Freshness,
            Benchmark::Fanout,
        ],
        Which::Fold => &[Benchmark::Fold],
        Which::Ingest => &[Benchmark::Ingest],
        Which::Memory => &[Benchmark::Memory],
        Which::Sql => &[Benchmark::Sql],
        Which::Freshness => &[Benchmark::Freshness],
        Which::Fanout => &[Benchmark::Fanout],
    };
    let mut sections: Vec<Section> = Vec::new();
    for benchmark in benchmarks {
        eprintln!("ccpulse-bench: {benchmark:?}…");
        let new = match benchmark {
            Benchmark::Fold => vec![fold::run(&ctx)?],
            Benchmark::Memory => vec![memory::run(&ctx).await?],
            Benchmark::Ingest => ingest::run(&ctx).await?,
            Benchmark::Sql => vec![sql::run(&ctx).await?],
            Benchmark::Freshness => vec![freshness::run(&ctx).await?],
            Benchmark::Fanout => vec![fanout::run(&ctx).await?],
        };
        for section in &new {
            eprintln!("\n{}", section.markdown());
        }
        sections.extend(new);
        // Written after every benchmark, so a later failure keeps the earlier results.
        report::write(&ctx, &sections)?;
    }
    eprintln!(
        "ccpulse-bench: results in {}",
        ctx.out.join("results.md").display()
    );
    Ok(())
}
