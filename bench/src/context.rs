//! What every benchmark gets ([`Context`]), and the helpers several of them share:
//! preloading simulator events into a topic ([`Context::preload`]), running the
//! `ccpulse` binary ([`Ccpulse`]) and reading a process's memory and CPU time from
//! `/proc` ([`ProcessUsage`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use ccpulse_ingest::{EventProducer, KafkaSettings};
use ccpulse_sample_data::simulate::{SimConfig, Simulator};

/// The run's settings.
#[derive(Debug)]
pub(crate) struct Context {
    brokers: Option<String>,
    /// The `ccpulse` binary under test.
    pub(crate) ccpulse: PathBuf,
    /// Where `results.md` and `results.json` go.
    pub(crate) out: PathBuf,
    /// Scratch space (data directories, generated files), emptied per benchmark.
    pub(crate) work: PathBuf,
    /// criterion's output directory (`target/criterion`).
    pub(crate) criterion: PathBuf,
    /// Small sizes (see `--quick`).
    pub(crate) quick: bool,
}

impl Context {
    pub(crate) fn new(
        brokers: Option<String>,
        ccpulse: Option<PathBuf>,
        out: PathBuf,
        criterion: PathBuf,
        quick: bool,
    ) -> Result<Self> {
        let ccpulse = match ccpulse {
            Some(path) => path,
            None => std::env::current_exe()
                .context("finding this binary")?
                .with_file_name("ccpulse"),
        };
        std::fs::create_dir_all(&out)
            .with_context(|| format!("creating the output directory `{}`", out.display()))?;
        let work = out.join("work");
        std::fs::create_dir_all(&work).with_context(|| format!("creating `{}`", work.display()))?;
        Ok(Self {
            brokers,
            ccpulse,
            out,
            work,
            criterion,
            quick,
        })
    }

    /// The broker address; an error saying how to get one when none was given.
    pub(crate) fn brokers(&self) -> Result<&str> {
        self.brokers.as_deref().context(
            "no broker: run the suite through scripts/bench.sh, or give --brokers \
             (or CCPULSE_TEST_BROKERS) after `scripts/kafka.sh start`",
        )
    }

    /// Client settings for the broker, as a product install would have them.
    pub(crate) fn kafka(&self) -> Result<KafkaSettings> {
        Ok(KafkaSettings::new(self.brokers()?))
    }

    /// A fresh, empty scratch directory `name` under [`Context::work`].
    pub(crate) fn scratch(&self, name: &str) -> Result<PathBuf> {
        let dir = self.work.join(name);
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .with_context(|| format!("emptying `{}`", dir.display()))?;
        }
        std::fs::create_dir_all(&dir).with_context(|| format!("creating `{}`", dir.display()))?;
        Ok(dir)
    }

    /// `full` normally, `quick` with `--quick`.
    pub(crate) fn size<T>(&self, full: T, quick: T) -> T {
        if self.quick { quick } else { full }
    }

    /// Creates `topic` and produces at least `count` simulator events to it (the first
    /// `count` of the run `sim`), keyed by tenant, batched as `ccpulse simulate` does.
    /// Fails when the simulation ends before `count` events.
    ///
    /// Returns the simulator too, so that later traffic continues the same run.
    pub(crate) async fn preload(
        &self,
        topic: &str,
        partitions: i32,
        sim: SimConfig,
        count: u64,
    ) -> Result<(Produced, Simulator)> {
        let kafka = self.kafka()?;
        self.create_topic(topic, partitions).await?;
        let mut simulator = Simulator::new(sim)?;
        let produced = produce(&kafka, topic, &mut simulator, count).await?;
        Ok((produced, simulator))
    }

    /// Creates `topic` (the broker needs topics created explicitly).
    pub(crate) async fn create_topic(&self, topic: &str, partitions: i32) -> Result<()> {
        self.kafka()?
            .create_topic(topic, partitions)
            .await
            .with_context(|| format!("creating topic `{topic}`"))
    }

    /// Starts `ccpulse` with `args` and the environment variables `env` (such as
    /// `CCPULSE__CONSUMER__TOPIC`); its output goes to `<work>/<log>.log`.
    pub(crate) fn spawn_ccpulse(
        &self,
        args: &[&str],
        env: &[(String, String)],
        log: &str,
    ) -> Result<Ccpulse> {
        Ccpulse::spawn(
            &self.ccpulse,
            args,
            env,
            &self.work.join(format!("{log}.log")),
        )
    }
}

/// What [`Context::preload`] or [`produce`] did.
#[derive(Debug, Clone, Default)]
pub(crate) struct Produced {
    /// Events the broker acknowledged.
    pub(crate) events: u64,
    pub(crate) bytes: u64,
    pub(crate) elapsed: Duration,
    /// Events sent, by tenant.
    pub(crate) by_tenant: BTreeMap<String, u64>,
}

impl Produced {
    /// Adds `other`'s counts to these.
    pub(crate) fn add(&mut self, other: &Produced) {
        self.events += other.events;
        self.bytes += other.bytes;
        self.elapsed += other.elapsed;
        for (tenant, n) in &other.by_tenant {
            *self.by_tenant.entry(tenant.clone()).or_default() += n;
        }
    }
}

/// Produces the next `count` events of `events` to `topic` (keyed by tenant, JSON as on
/// the wire) and waits until the broker acknowledged all of them.
pub(crate) async fn produce(
    kafka: &KafkaSettings,
    topic: &str,
    events: &mut impl Iterator<Item = ccpulse_schemas::v1::Event<'static>>,
    count: u64,
) -> Result<Produced> {
    let started = Instant::now();
    let mut producer = EventProducer::new(kafka, topic)?;
    let mut line = String::with_capacity(1024);
    let mut sent = 0u64;
    let mut by_tenant: BTreeMap<String, u64> = BTreeMap::new();
    let mut last_report = Instant::now();
    for event in events.take(count as usize) {
        *by_tenant.entry(event.tenant_id.to_string()).or_default() += 1;
        line.clear();
        event.write_json(&mut line);
        producer
            .send(&event.tenant_id, line.as_bytes())
            .await
            .context("producing an event")?;
        sent += 1;
        if last_report.elapsed() >= Duration::from_secs(10) {
            eprintln!(
                "  produced {sent} of {count} events ({:.0}/s)",
                sent as f64 / started.elapsed().as_secs_f64()
            );
            last_report = Instant::now();
        }
    }
    if sent < count {
        bail!("the simulation ended after {sent} events, before the {count} asked for");
    }
    let stats = producer
        .finish()
        .await
        .with_context(|| format!("delivering events to `{topic}`"))?;
    Ok(Produced {
        events: stats.delivered,
        bytes: stats.bytes,
        elapsed: started.elapsed(),
        by_tenant,
    })
}

/// A running `ccpulse` process, killed (SIGKILL) when dropped.
#[derive(Debug)]
pub(crate) struct Ccpulse {
    child: tokio::process::Child,
    pub(crate) log: PathBuf,
}

impl Ccpulse {
    fn spawn(binary: &Path, args: &[&str], env: &[(String, String)], log: &Path) -> Result<Self> {
        let file = std::fs::File::create(log)
            .with_context(|| format!("creating the log `{}`", log.display()))?;
        let child = tokio::process::Command::new(binary)
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| {
                format!(
                    "starting `{}` (build it first: cargo build --release --bin ccpulse)",
                    binary.display()
                )
            })?;
        Ok(Self {
            child,
            log: log.to_owned(),
        })
    }

    /// The process id.
    pub(crate) fn pid(&self) -> Result<u32> {
        self.child.id().context("the ccpulse process has exited")
    }

    /// Waits for the process to exit.
    pub(crate) async fn wait(&mut self) -> std::io::Result<std::process::ExitStatus> {
        self.child.wait().await
    }

    /// Waits for the process to exit; an error with its log's tail unless it exits 0.
    pub(crate) async fn wait_success(&mut self) -> Result<()> {
        let status = self.child.wait().await?;
        if !status.success() {
            bail!("ccpulse failed ({status}); {}", self.log_tail());
        }
        Ok(())
    }

    /// SIGKILL, and wait for the process to be gone.
    pub(crate) async fn kill(&mut self) -> Result<()> {
        self.child.start_kill()?;
        self.child.wait().await?;
        Ok(())
    }

    /// SIGTERM (ccpulse checkpoints every partition and exits), and wait for a clean
    /// exit.
    pub(crate) async fn terminate(&mut self) -> Result<()> {
        let pid = self.pid()?;
        let status = tokio::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await
            .context("running kill -TERM")?;
        if !status.success() {
            bail!("kill -TERM {pid} failed ({status})");
        }
        self.wait_success().await
    }

    /// Whether it has exited (an error with its log's tail if so).
    pub(crate) fn check_running(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("ccpulse exited early ({status}); {}", self.log_tail());
        }
        Ok(())
    }

    /// The last lines of its log, for error messages.
    pub(crate) fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(15)..].join("\n");
        format!("the end of its log `{}`:\n{tail}", self.log.display())
    }
}

/// A free loopback port (bound, then released: another process could take it in
/// between, which a benchmark can live with).
pub(crate) fn free_port() -> Result<u16> {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").context("finding a free loopback port")?;
    Ok(listener.local_addr()?.port())
}

/// `GET url`: the status and the body.
pub(crate) async fn http_get(client: &reqwest::Client, url: &str) -> Result<(u16, String)> {
    let response = client
        .get(url)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .with_context(|| format!("GET {url}"))?;
    let status = response.status().as_u16();
    let body = response
        .text()
        .await
        .with_context(|| format!("reading the body of GET {url}"))?;
    Ok((status, body))
}

/// A process's resident memory and CPU time, from `/proc/<pid>`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ProcessUsage {
    /// Resident set size.
    pub(crate) rss_bytes: u64,
    /// User plus system CPU time.
    pub(crate) cpu_seconds: f64,
}

impl ProcessUsage {
    /// Reads `/proc/<pid>/statm` and `/proc/<pid>/stat`.
    pub(crate) fn of(pid: u32) -> Result<Self> {
        let statm = std::fs::read_to_string(format!("/proc/{pid}/statm"))
            .with_context(|| format!("reading /proc/{pid}/statm"))?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .with_context(|| format!("reading /proc/{pid}/stat"))?;
        Self::parse(&statm, &stat, page_size(), clock_ticks())
    }

    /// This process.
    pub(crate) fn current() -> Result<Self> {
        Self::of(std::process::id())
    }

    fn parse(statm: &str, stat: &str, page_size: u64, ticks: f64) -> Result<Self> {
        let resident: u64 = statm
            .split_whitespace()
            .nth(1)
            .and_then(|pages| pages.parse().ok())
            .context("no resident size in statm")?;
        // The command name (field 2) is in parentheses and may hold spaces: count the
        // fields after its closing parenthesis. utime and stime are fields 14 and 15.
        let after = stat.rsplit_once(')').context("no command name in stat")?.1;
        let fields: Vec<&str> = after.split_whitespace().collect();
        let field = |n: usize| -> Result<f64> {
            fields
                .get(n - 3)
                .and_then(|v| v.parse::<f64>().ok())
                .with_context(|| format!("no field {n} in stat"))
        };
        Ok(Self {
            rss_bytes: resident * page_size,
            cpu_seconds: (field(14)? + field(15)?) / ticks,
        })
    }
}

/// The page size; 4 KiB on every Linux machine this runs on (no libc call: the crate
/// forbids unsafe code). `/proc/self/smaps` would tell, but costs more than it is worth.
fn page_size() -> u64 {
    4096
}

/// Clock ticks per second of `/proc/<pid>/stat` times (`USER_HZ`, 100 on Linux).
fn clock_ticks() -> f64 {
    100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_usage_reads_statm_and_stat() {
        let statm = "1000 250 100 10 0 300 0\n";
        let stat = "42 (tokio rt (x)) S 1 42 42 0 -1 4194304 100 0 0 0 150 50 0 0 20 0 3 0 \
                    100 4096000 250 18446744073709551615";
        let usage = ProcessUsage::parse(statm, stat, 4096, 100.0).unwrap();
        assert_eq!(usage.rss_bytes, 250 * 4096);
        assert!((usage.cpu_seconds - 2.0).abs() < 1e-9, "{usage:?}");
    }

    #[test]
    fn this_process_has_memory_and_cpu_time() {
        let usage = ProcessUsage::current().unwrap();
        assert!(usage.rss_bytes > 1024 * 1024, "{usage:?}");
        assert!(usage.cpu_seconds >= 0.0, "{usage:?}");
    }
}
