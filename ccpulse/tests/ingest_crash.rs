//! Crash safety of `ccpulse ingest`, the real binary against the real broker: killed with
//! SIGKILL at several pseudo-random points and restarted each time, then run to the end
//! with `--until-caught-up`, it must leave exactly the tables of an uninterrupted run
//! (the reference fold of the events, which `tests/tests/aggregate.rs` checks against an
//! uninterrupted run): nothing lost, nothing counted twice. The raw `events` table must
//! hold every message exactly once.
//!
//! The kill points, drawn from a seeded PRNG (the seed is printed; set
//! `CCPULSE_CRASH_SEED` to try others):
//! - after this process committed a random number (1–4) of checkpoints, plus a random
//!   delay of a few milliseconds;
//! - at a random delay (0–400 ms) after its first checkpoint: between checkpoints, with
//!   work that is read but not checkpointed;
//! - while it writes a checkpoint: as soon as a segment or state file with its temporary
//!   `.tmp` name appears (the kill leaves files that no manifest names, which the next
//!   start must discard).
//!
//! The killed runs each use a consumer group of their own, so that a restart is assigned
//! the partitions at once. The final run joins the group of the last killed one, as a
//! restarted service would: a killed member never leaves its group, so the final run is
//! assigned the partitions only once the broker has expired the dead member's session
//! (short here). Checkpoints, not the group's committed offsets, say where to resume, so
//! the group does not change what is read.
//!
//! The events are produced one per record batch: tansu 0.6.0 cannot serve a fetch that
//! starts inside a batch (see [`produce_one_per_batch`]), and every resume here starts at
//! an arbitrary offset.

#![cfg(unix)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use ccpulse_ingest::fold::FoldConfig;
use ccpulse_ingest::fold::reference::fold_all;
use ccpulse_ingest::store::visible_files;
use ccpulse_ingest::tables;
use ccpulse_tests::aggregate::{
    TestTopics, assert_events_exactly_once, assert_same_tables, produce_one_per_batch, read_tables,
    simulated, without_anomalies,
};
use ccpulse_tests::{Rng, brokers, unique_name};
use serde_json::Value;

/// Seed of the kill points, unless `CCPULSE_CRASH_SEED` gives another.
const KILL_SEED: u64 = 0x00C0_FFEE_2026;

/// Seed of the simulated traffic.
const TRAFFIC_SEED: u64 = 7;

/// Restarts before the final `--until-caught-up` run.
const KILLS: usize = 5;

const PARTITIONS: i32 = 3;

/// Checkpoint a partition every this many messages (the default is 100 000).
const CHECKPOINT_EVERY: u64 = 3_000;

/// Upper bound for any one wait.
const DEADLINE: Duration = Duration::from_secs(120);

/// A random delay of at most `max` milliseconds.
fn millis(rng: &mut Rng, max: u64) -> Duration {
    Duration::from_millis(rng.below(max + 1))
}

/// When to kill a running `ccpulse ingest`.
#[derive(Debug, Clone, Copy)]
enum KillPoint {
    /// Once this process has committed `checkpoints` checkpoints (over all partitions),
    /// then after `delay`.
    AfterCheckpoints { checkpoints: u64, delay: Duration },
    /// `delay` after this process's first checkpoint.
    BetweenCheckpoints { delay: Duration },
    /// As soon as this process is writing a checkpoint (a new `.tmp` segment or state
    /// file exists).
    DuringCheckpoint,
}

impl KillPoint {
    fn random(kind: u64, rng: &mut Rng) -> Self {
        match kind % 3 {
            0 => Self::AfterCheckpoints {
                checkpoints: 1 + rng.below(4),
                delay: millis(rng, 20),
            },
            1 => Self::BetweenCheckpoints {
                delay: millis(rng, 400),
            },
            _ => Self::DuringCheckpoint,
        }
    }

    /// `count` kill points: each kind once, in random order, then random kinds.
    fn plan(count: usize, rng: &mut Rng) -> Vec<Self> {
        let mut kinds = vec![0, 1, 2];
        for i in (1..kinds.len()).rev() {
            kinds.swap(i, rng.below(i as u64 + 1) as usize);
        }
        while kinds.len() < count {
            kinds.push(rng.below(3));
        }
        kinds
            .into_iter()
            .map(|kind| Self::random(kind, rng))
            .collect()
    }
}

/// One partition's current checkpoint, from its manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PartitionCheckpoint {
    sequence: u64,
    next_offset: i64,
    /// The state file the manifest names.
    state_file: String,
}

/// The current checkpoint of every partition that has one (read from the manifests,
/// whose atomic replacement is the commit point; readers take no lock).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Progress {
    partitions: BTreeMap<i32, PartitionCheckpoint>,
}

impl Progress {
    fn read(data_dir: &Path, topic: &str) -> Self {
        let mut progress = Self::default();
        let dir = data_dir.join("_checkpoints").join(topic);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return progress;
        };
        for entry in entries {
            let entry = entry.expect("listing the checkpoint directory");
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(partition) = name.strip_prefix('p').and_then(|n| n.parse().ok()) else {
                continue;
            };
            let path = entry.path().join("manifest.json");
            let text = match std::fs::read(&path) {
                Ok(text) => text,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
                Err(error) => panic!("reading {}: {error}", path.display()),
            };
            let manifest: Value = serde_json::from_slice(&text)
                .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
            let field = |name: &str| {
                manifest[name]
                    .as_i64()
                    .unwrap_or_else(|| panic!("{}: no `{name}`", path.display()))
            };
            progress.partitions.insert(
                partition,
                PartitionCheckpoint {
                    sequence: field("sequence") as u64,
                    next_offset: field("next_offset"),
                    state_file: manifest["state"]["file"]
                        .as_str()
                        .unwrap_or_else(|| panic!("{}: no `state.file`", path.display()))
                        .to_owned(),
                },
            );
        }
        progress
    }

    /// Checkpoints committed so far, over all partitions (sequences start at 1).
    fn checkpoints(&self) -> u64 {
        self.partitions.values().map(|p| p.sequence).sum()
    }

    /// Messages covered by the checkpoints (offsets start at 0 in a fresh topic).
    fn checkpointed(&self) -> u64 {
        self.partitions.values().map(|p| p.next_offset as u64).sum()
    }
}

/// Every file under `dir`, recursively. Files and directories may vanish while it
/// lists (a running checkpoint renames and deletes): those are skipped.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            match entry.file_type() {
                Ok(kind) if kind.is_dir() => pending.push(entry.path()),
                Ok(_) => files.push(entry.path()),
                Err(_) => {}
            }
        }
    }
    files
}

/// Segment and state files still being written (their `.tmp` name), not the manifest's.
fn checkpoint_files_being_written(data_dir: &Path) -> BTreeSet<PathBuf> {
    files_under(data_dir)
        .into_iter()
        .filter(|path| {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            name.ends_with(".tmp") && !name.starts_with("manifest.json")
        })
        .collect()
}

/// Files under `data_dir` that no manifest names: leftovers of an interrupted
/// checkpoint (written before its manifest, or superseded and not yet deleted).
/// Only meaningful while no process writes.
fn unnamed_files(data_dir: &Path, topic: &str) -> Vec<PathBuf> {
    let mut named = BTreeSet::new();
    for table in tables::DERIVED.into_iter().chain([&tables::EVENTS]) {
        for file in visible_files(data_dir, table.name).expect("listing the visible files") {
            named.insert(file.path);
        }
    }
    for (partition, checkpoint) in Progress::read(data_dir, topic).partitions {
        let dir = data_dir
            .join("_checkpoints")
            .join(topic)
            .join(format!("p{partition}"));
        named.insert(dir.join("manifest.json"));
        named.insert(dir.join(checkpoint.state_file));
    }
    files_under(data_dir)
        .into_iter()
        // Every partition's lock file stays, with or without a checkpoint.
        .filter(|path| !named.contains(path) && path.file_name().is_none_or(|name| name != "LOCK"))
        .collect()
}

/// How to run `ccpulse ingest` for this test.
struct Ingest {
    topics: TestTopics,
    config_file: PathBuf,
    data_dir: PathBuf,
    logs: PathBuf,
    runs: usize,
}

/// A running `ccpulse ingest`, killed if the test panics (a `Follow` run would
/// otherwise outlive it).
struct Running {
    child: Child,
    stderr: PathBuf,
}

impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Running {
    /// The end of its log, for failure messages.
    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Fails the test if the process has exited.
    fn assert_running(&mut self, what: &str) {
        if let Some(status) = self.child.try_wait().expect("checking on ccpulse ingest") {
            panic!(
                "ccpulse ingest exited ({status}) while waiting for {what}; its log ends:\n{}",
                self.log_tail()
            );
        }
    }

    /// SIGKILL; fails the test if the process had exited by itself before.
    fn kill(mut self) {
        self.child.kill().expect("SIGKILL ccpulse ingest");
        let status = self.child.wait().expect("reaping ccpulse ingest");
        assert_eq!(
            status.signal(),
            Some(9),
            "ccpulse ingest ended by itself ({status}) before its SIGKILL; its log ends:\n{}",
            self.log_tail()
        );
    }

    /// Waits (bounded by [`DEADLINE`]) for the process to exit by itself.
    fn wait(mut self) -> ExitStatus {
        let until = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().expect("checking on ccpulse ingest") {
                return status;
            }
            assert!(
                Instant::now() < until,
                "ccpulse ingest --until-caught-up still runs after {DEADLINE:?}; its log ends:\n{}",
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Ingest {
    /// Starts `ccpulse ingest` in consumer group `group` with `extra` arguments. Only
    /// this test's configuration reaches it: the tenants' time zones in the file, the
    /// rest in `CCPULSE__…` variables (none of the caller's leak in).
    fn start(&mut self, group: &str, extra: &[&str]) -> Running {
        self.runs += 1;
        let stdout = self.logs.join(format!("run-{}.out", self.runs));
        let stderr = self.logs.join(format!("run-{}.err", self.runs));
        let mut command = Command::new(env!("CARGO_BIN_EXE_ccpulse"));
        command
            .args(["-v", "ingest", "--quiet", "--brokers", &brokers()])
            .arg("--config")
            .arg(&self.config_file)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(extra);
        ccpulse_tests::without_ccpulse_env(&mut command);
        let every = CHECKPOINT_EVERY.to_string();
        command.envs([
            ("CCPULSE__CONSUMER__TOPIC", self.topics.events.as_str()),
            (
                "CCPULSE__CONSUMER__DEAD_LETTER_TOPIC",
                self.topics.dead_letters.as_str(),
            ),
            ("CCPULSE__CONSUMER__GROUP_ID", group),
            ("CCPULSE__CONSUMER__CHECKPOINT_EVERY_MESSAGES", &every),
            // The dead predecessor's session must expire before a restart is assigned
            // anything (the broker needs about twice this).
            ("CCPULSE__CONSUMER__SESSION_TIMEOUT", "1500ms"),
            ("CCPULSE__CONSUMER__HEARTBEAT_INTERVAL", "250ms"),
            ("CCPULSE__CONSUMER__STATS_INTERVAL", "200ms"),
            ("CCPULSE__CONSUMER__POLL_TIMEOUT", "20ms"),
            // Otherwise every empty fetch waits 500 ms.
            ("CCPULSE__KAFKA__PROPERTIES__fetch.wait.max.ms", "10"),
        ]);
        command
            .stdout(File::create(&stdout).expect("stdout file"))
            .stderr(File::create(&stderr).expect("stderr file"));
        Running {
            child: command.spawn().expect("start ccpulse ingest"),
            stderr,
        }
    }

    fn progress(&self) -> Progress {
        Progress::read(&self.data_dir, &self.topics.events)
    }

    /// Polls `condition` until it holds, failing if `running` exits or [`DEADLINE`]
    /// passes.
    fn wait_for(&self, running: &mut Running, what: &str, mut condition: impl FnMut() -> bool) {
        let until = Instant::now() + DEADLINE;
        while !condition() {
            running.assert_running(what);
            assert!(
                Instant::now() < until,
                "timed out waiting for {what}; checkpoints {:?}; the log ends:\n{}",
                self.progress(),
                running.log_tail()
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// The configuration file: the simulated tenants' time zones, as in `fold`.
fn write_config(dir: &Path, fold: &FoldConfig) -> PathBuf {
    let mut text = String::from("# Written by ingest_crash.rs\n");
    for (tenant, settings) in &fold.tenants {
        text.push_str(&format!(
            "\n[tenants.\"{tenant}\"]\ntimezone = \"{}\"\n",
            settings.timezone
        ));
    }
    let path = dir.join("ccpulse.toml");
    std::fs::write(&path, text).expect("writing the configuration");
    path
}

/// What one kill did.
#[derive(Debug)]
struct Kill {
    point: KillPoint,
    /// Messages checkpointed when this process started (where it resumed).
    resumed_at: u64,
    /// The kill point was reached by this process's own work, not skipped because
    /// everything was checkpointed already.
    reached: bool,
    /// Messages checkpointed when it was killed.
    checkpointed: u64,
    /// Files left behind that no manifest names.
    unnamed: usize,
}

#[test]
fn sigkill_at_random_points_then_restart_gives_the_uninterrupted_tables() {
    let seed = std::env::var("CCPULSE_CRASH_SEED")
        .ok()
        .map_or(KILL_SEED, |seed| {
            seed.parse().expect("CCPULSE_CRASH_SEED: a number")
        });
    eprintln!("ingest_crash: kill seed {seed} (CCPULSE_CRASH_SEED)");
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let (events, fold) = simulated(TRAFFIC_SEED, 5, 12 * 3_600_000, 5);
    let total = events.len() as u64;
    assert!(total >= 55_000, "only {total} events");
    let topics = runtime
        .block_on(TestTopics::create("ingest-crash", PARTITIONS))
        .expect("topics");
    runtime
        .block_on(produce_one_per_batch(&topics.events, &events))
        .expect("producing the events");
    let reference = fold_all(&events, &fold);

    let work = tempfile::tempdir().expect("temporary directory");
    let mut ingest = Ingest {
        config_file: write_config(work.path(), &fold),
        data_dir: work.path().join("data"),
        logs: work.path().to_path_buf(),
        topics,
        runs: 0,
    };

    let mut rng = Rng(seed);
    let mut kills = Vec::new();
    let mut group = String::new();
    for point in KillPoint::plan(KILLS, &mut rng) {
        let before = ingest.progress();
        let writing_before = checkpoint_files_being_written(&ingest.data_dir);
        group = unique_name("ingest-crash");
        let mut running = ingest.start(&group, &[]);
        let all_checkpointed = |progress: &Progress| progress.checkpointed() == total;
        let mut reached = false;
        match point {
            KillPoint::AfterCheckpoints { checkpoints, delay } => {
                ingest.wait_for(&mut running, "checkpoints", || {
                    let now = ingest.progress();
                    reached = now.checkpoints() >= before.checkpoints() + checkpoints;
                    reached || all_checkpointed(&now)
                });
                std::thread::sleep(delay);
            }
            KillPoint::BetweenCheckpoints { delay } => {
                ingest.wait_for(&mut running, "a first checkpoint", || {
                    let now = ingest.progress();
                    reached = now.checkpoints() > before.checkpoints();
                    reached || all_checkpointed(&now)
                });
                std::thread::sleep(delay);
            }
            KillPoint::DuringCheckpoint => {
                ingest.wait_for(&mut running, "a checkpoint being written", || {
                    reached = checkpoint_files_being_written(&ingest.data_dir)
                        .difference(&writing_before)
                        .next()
                        .is_some();
                    reached || all_checkpointed(&ingest.progress())
                });
            }
        }
        running.kill();
        let after = ingest.progress();
        let kill = Kill {
            point,
            resumed_at: before.checkpointed(),
            reached,
            checkpointed: after.checkpointed(),
            unnamed: unnamed_files(&ingest.data_dir, &ingest.topics.events).len(),
        };
        eprintln!("ingest_crash: {kill:?}");
        kills.push(kill);
    }

    // Killed while it had work left, having done some: the crash points are real.
    let mid_run = kills
        .iter()
        .filter(|kill| kill.reached && kill.checkpointed < total)
        .count();
    assert!(
        mid_run >= 3,
        "only {mid_run} kills landed mid-run: {kills:#?}"
    );
    assert!(
        kills
            .iter()
            .any(|kill| kill.resumed_at > 0 && kill.resumed_at < total),
        "no restart resumed from a checkpoint part-way: {kills:#?}"
    );
    assert!(
        kills
            .iter()
            .any(|kill| matches!(kill.point, KillPoint::DuringCheckpoint) && kill.unnamed > 0),
        "no kill interrupted a checkpoint: {kills:#?}"
    );

    // The last restart reads the rest and stops.
    let before = ingest.progress();
    let summary_path = work.path().join("summary.json");
    let running = ingest.start(
        &group,
        &[
            "--until-caught-up",
            "--summary-json",
            summary_path.to_str().expect("UTF-8 path"),
        ],
    );
    let stderr = running.stderr.clone();
    let status = running.wait();
    assert!(
        status.success(),
        "the final run failed ({status}):\n{}",
        std::fs::read_to_string(&stderr).unwrap_or_default()
    );
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(&summary_path).expect("summary file"))
            .expect("summary JSON");
    assert_eq!(summary["outcome"], "caught_up", "{summary:#}");
    assert_eq!(summary["dead_letters"].as_u64(), Some(0), "{summary:#}");

    // Nothing lost, nothing twice: every message once in `events`, and the derived
    // tables (and the anomaly counts, from the restored fold states) as if never killed.
    assert_events_exactly_once(&ingest.data_dir, &events);
    let written = read_tables(&ingest.data_dir).expect("reading the tables");
    assert_same_tables(
        &written,
        &without_anomalies(reference.clone()),
        "after SIGKILLs vs reference",
    );
    let anomalies: BTreeMap<String, u64> =
        serde_json::from_value(summary["anomalies"].clone()).expect("anomalies");
    assert_eq!(anomalies, reference.anomalies, "anomaly counts");

    // It resumed every partition at its checkpoint: it read exactly what the killed
    // runs had not checkpointed, and checkpointed everything.
    assert_eq!(
        summary["events"].as_u64(),
        Some(total - before.checkpointed()),
        "{summary:#}"
    );
    assert_eq!(ingest.progress().checkpointed(), total);
    // Recovery discarded what the interrupted checkpoints had left behind.
    let leftovers = unnamed_files(&ingest.data_dir, &ingest.topics.events);
    assert!(
        leftovers.is_empty(),
        "files no manifest names are left behind: {leftovers:?}"
    );
}
