//! The Anonymous Bank January records end to end: imported with the importer, produced to
//! the broker, folded by the aggregator into Parquet tables and read back. The daily
//! offered, answered and abandoned counts and the answered and abandoned wait sums in
//! `queue_intervals` must equal what the raw file implies, recounted here from its
//! tab-separated columns without the importer (`raw_days`), following the data's
//! documentation and the importer's documented decisions (`MAPPING.md`).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::convert::Infallible;
use std::path::PathBuf;
use std::time::Instant;

use ccpulse_ingest::fold::FoldConfig;
use ccpulse_ingest::fold::rows::Tables;
use ccpulse_sample_data::anonymous_bank::{ImportOptions, Importer};
use ccpulse_schemas::settings::TenantSettings;
use ccpulse_schemas::v1::{Channel, Direction, Event};
use ccpulse_tests::aggregate::{TestTopics, ingest_until_caught_up, produce, read_tables};
use chrono::{NaiveDate, TimeDelta, TimeZone, Utc};
use chrono_tz::Asia::Jerusalem;
use chrono_tz::Tz;

/// The data, relative to this crate (`/work/shared/...` beside `/work/main`; CI clones
/// the repository next to `shared/`).
const JANUARY: &str = "../../shared/datasets/anonymous-bank-1999/january.txt";

/// The call center's clocks (the importer converts them to UTC from this zone).
const TIME_ZONE: Tz = Jerusalem;

/// Length of an interval of `queue_intervals`.
const INTERVAL_MS: i64 = 15 * 60 * 1000;

const DAY_SECS: i64 = 24 * 3600;

/// The queue measures of one local day, summed over queues.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Day {
    offered: u64,
    answered: u64,
    /// Sum of the answered waits, in ms.
    answered_wait_ms: i64,
    abandoned: u64,
    /// Sum of the abandoned waits, in ms.
    abandoned_wait_ms: i64,
}

impl Day {
    fn mean_s(sum_ms: i64, count: u64) -> f64 {
        if count == 0 {
            f64::NAN
        } else {
            sum_ms as f64 / count as f64 / 1000.0
        }
    }

    fn asa_s(&self) -> f64 {
        Self::mean_s(self.answered_wait_ms, self.answered)
    }

    fn mean_abandoned_wait_s(&self) -> f64 {
        Self::mean_s(self.abandoned_wait_ms, self.abandoned)
    }

    fn add(&mut self, other: &Day) {
        self.offered += other.offered;
        self.answered += other.answered;
        self.answered_wait_ms += other.answered_wait_ms;
        self.abandoned += other.abandoned;
        self.abandoned_wait_ms += other.abandoned_wait_ms;
    }
}

type Days = BTreeMap<NaiveDate, Day>;

fn read_january() -> (PathBuf, String) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(JANUARY);
    let raw = std::fs::read_to_string(&path).unwrap_or_else(|err| {
        panic!(
            "cannot read the Anonymous Bank data at {}: {err}. The test needs the shared \
             datasets checkout beside the repository (shared/datasets/anonymous-bank-1999).",
            path.display()
        )
    });
    (path, raw)
}

/// How the raw rows divide up.
#[derive(Debug, Default, PartialEq, Eq)]
struct RawAccount {
    rows: u64,
    /// `PHANTOM`: no events.
    phantom: u64,
    /// Not 17 fields, a column this recount reads that does not parse, or an unknown
    /// outcome: the importer skips such rows.
    malformed: u64,
    /// Same `vru+line`, `call_id`, `date` and `vru_entry` as an earlier row: skipped.
    duplicate: u64,
    /// `HANG` without queueing: an interaction, but no queue measure.
    hung_up_in_vru: u64,
    /// `AGENT`: queued and answered.
    answered: u64,
    /// `HANG` after queueing: queued and abandoned.
    abandoned: u64,
    /// Queued rows whose `q_time` differs from `q_exit − q_start` on the clock.
    q_time_mismatches: u64,
}

/// `H:MM:SS` as seconds since midnight.
fn clock(value: &str) -> Option<i64> {
    let mut parts = value.split(':').map(|part| part.parse::<i64>().ok());
    let (Some(Some(h)), Some(Some(m)), Some(Some(s)), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    ((0..24).contains(&h) && (0..60).contains(&m) && (0..60).contains(&s))
        .then_some(h * 3600 + m * 60 + s)
}

/// The per-day queue measures the raw file implies, recounted from its columns:
///
/// - `PHANTOM` rows are ignored (the documentation: "a virtual call to be ignored").
/// - A row queued when `q_start != 0:00:00` (the documentation: `0:00:00` means it never
///   waited). Every `AGENT` row is offered and answered: if it queued, queued at
///   `q_start` and answered at `q_exit` with wait `q_exit − q_start`; if not (the
///   importer's documented repair), queued and answered at once with wait 0, at
///   `ser_start`, or at `vru_exit` when it has no service times either. A `HANG` row
///   that queued is offered at `q_start` and abandoned at `q_exit` with wait
///   `q_exit − q_start`, whatever its service columns say (the outcome decides, as
///   the importer documents); one that did not queue hung up in the VRU and has no
///   queue measure.
/// - Waits come from the clock times, as the importer documents ("the clock times are
///   the truth"); `q_time` is counted where it disagrees (the test expects nowhere, so
///   the daily mean wait is also the mean `q_time`).
/// - The day of a stage is the row's `date`, or the next day when its clock time is
///   12 hours or more before `vru_entry` (the call crossed midnight): the same rule as
///   the importer's 12-hour placement, but written against `vru_entry` directly.
/// - Offered is counted on the day of the queue entry, answered and abandoned (with
///   their waits) on the day they happened (metrics.md's attribution).
/// - The importer's skip rules, implemented again: rows that are not 17 fields or whose
///   date, clock, `q_time` or outcome columns do not parse, and rows repeating an
///   earlier `vru+line`, `call_id`, `date` and `vru_entry`, are skipped (counted; the
///   importer documents none in january.txt).
fn raw_days(raw: &str) -> (Days, RawAccount) {
    let mut days = Days::new();
    let mut account = RawAccount::default();
    let mut seen = HashSet::new();
    let mut lines = raw.lines();
    let header = lines.next().expect("a header line");
    assert!(
        header
            .trim_end_matches('\r')
            .starts_with("vru+line\tcall_id\t"),
        "not the Anonymous Bank header: {header:?}"
    );
    for line in lines {
        account.rows += 1;
        let cols: Vec<&str> = line
            .trim_end_matches('\r')
            .split('\t')
            .map(str::trim)
            .collect();
        if cols.len() != 17 {
            account.malformed += 1;
            continue;
        }
        let date = NaiveDate::parse_from_str(cols[5], "%y%m%d").ok();
        let clocks: Option<Vec<i64>> = [6, 7, 9, 10, 13].iter().map(|&i| clock(cols[i])).collect();
        let q_time = cols[11].parse::<i64>().ok();
        let (Some(date), Some(clocks), Some(q_time)) = (date, clocks, q_time) else {
            account.malformed += 1;
            continue;
        };
        let [vru_entry, vru_exit, q_start, q_exit, ser_start] = clocks[..] else {
            unreachable!("five clock columns");
        };
        let outcome = cols[12];
        match outcome {
            "PHANTOM" => {
                account.phantom += 1;
                continue;
            }
            "AGENT" | "HANG" => {}
            _ => {
                account.malformed += 1;
                continue;
            }
        }
        if !seen.insert((cols[0], cols[1], date, vru_entry)) {
            account.duplicate += 1;
            continue;
        }

        // Seconds from local midnight of `date`, past 86,400 after a midnight crossing.
        let timeline = |clock: i64| {
            if vru_entry - clock >= DAY_SECS / 2 {
                clock + DAY_SECS
            } else {
                clock
            }
        };
        let day_of = |t: i64| date + TimeDelta::days(t.div_euclid(DAY_SECS));
        let queued = q_start != 0;
        let queue_wait_ms = |account: &mut RawAccount| {
            let wait = timeline(q_exit) - timeline(q_start);
            if wait != q_time {
                account.q_time_mismatches += 1;
            }
            wait * 1000
        };

        let (entered, left) = match (outcome, queued) {
            ("AGENT", true) => {
                account.answered += 1;
                let wait_ms = queue_wait_ms(&mut account);
                let day = days.entry(day_of(timeline(q_exit))).or_default();
                day.answered += 1;
                day.answered_wait_ms += wait_ms;
                (q_start, q_exit)
            }
            ("AGENT", false) => {
                account.answered += 1;
                let at = if ser_start != 0 { ser_start } else { vru_exit };
                days.entry(day_of(timeline(at))).or_default().answered += 1;
                (at, at)
            }
            ("HANG", true) => {
                account.abandoned += 1;
                let wait_ms = queue_wait_ms(&mut account);
                let day = days.entry(day_of(timeline(q_exit))).or_default();
                day.abandoned += 1;
                day.abandoned_wait_ms += wait_ms;
                (q_start, q_exit)
            }
            _ => {
                account.hung_up_in_vru += 1;
                continue;
            }
        };
        assert!(
            timeline(entered) <= timeline(left),
            "{line}: leaves the queue before entering it"
        );
        days.entry(day_of(timeline(entered))).or_default().offered += 1;
    }
    (days, account)
}

/// Local (Asia/Jerusalem) day of a UTC instant in ms.
fn local_day(ms: i64) -> NaiveDate {
    Utc.timestamp_millis_opt(ms)
        .single()
        .expect("a valid timestamp")
        .with_timezone(&TIME_ZONE)
        .date_naive()
}

/// The per-day queue measures of the tables: `queue_intervals` summed over queues,
/// channels and directions per local day of `interval_start`.
fn table_days(tables: &Tables, tenant_id: &str) -> Days {
    let mut days = Days::new();
    for (key, interval) in &tables.queue_intervals {
        assert_eq!(key.tenant_id, tenant_id);
        assert_eq!(
            (key.channel, key.direction),
            (Channel::Voice, Direction::Inbound)
        );
        assert_eq!(key.interval_start % INTERVAL_MS, 0, "{key:?}");
        // A 15-minute UTC interval lies within one local day (whole-hour offset).
        let day = local_day(key.interval_start);
        assert_eq!(
            local_day(key.interval_start + INTERVAL_MS - 1),
            day,
            "{key:?} straddles local midnight"
        );
        let m = &interval.measures;
        // Every answer and abandon follows its `queued`: every wait is known.
        assert_eq!(m.answered_wait.count, m.answered, "{key:?}");
        assert_eq!(m.abandoned_wait.count, m.abandoned, "{key:?}");
        days.entry(day).or_default().add(&Day {
            offered: m.offered,
            answered: m.answered,
            answered_wait_ms: m.answered_wait.sum_ms,
            abandoned: m.abandoned,
            abandoned_wait_ms: m.abandoned_wait.sum_ms,
        });
    }
    days
}

fn print_days(raw: &Days, tables: &Days) {
    eprintln!(
        "{:<10} {:>7} {:>8} {:>9} {:>7} {:>11}  tables",
        "day", "offered", "answered", "abandoned", "asa_s", "aban_wait_s"
    );
    let all: BTreeSet<&NaiveDate> = raw.keys().chain(tables.keys()).collect();
    let row = |day: &Day| {
        format!(
            "{:>7} {:>8} {:>9} {:>7.1} {:>11.1}",
            day.offered,
            day.answered,
            day.abandoned,
            day.asa_s(),
            day.mean_abandoned_wait_s()
        )
    };
    for date in all {
        let (r, t) = (raw.get(date), tables.get(date));
        let verdict = match (r, t) {
            (Some(r), Some(t)) if r == t => "=".to_owned(),
            (_, Some(t)) => format!("differ: {}", row(t)),
            (_, None) => "differ: missing".to_owned(),
        };
        let r = r.map_or_else(|| "(no raw calls)".to_owned(), row);
        eprintln!("{date} {r}  {verdict}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn january_daily_queue_measures_equal_the_raw_records() {
    let started = Instant::now();
    let (path, raw) = read_january();

    let mut importer = Importer::new(ImportOptions::default()).unwrap();
    let mut events: Vec<Event<'static>> = Vec::with_capacity(180_000);
    importer
        .import_file(&path, &mut |event| {
            events.push(event);
            Ok::<(), Infallible>(())
        })
        .unwrap();
    let tenant_id = importer.tenant_id().to_owned();
    let summary = importer.into_summary();
    let file = &summary.files[0];
    // The file is grouped by VRU line, each line running through the whole month; a
    // live feed delivers in event time. In file order almost every call would be older
    // than the default 10-minute allowed lateness, so the events go out in time order
    // (a stable sort: a call's events keep their order at equal times).
    events.sort_by_key(|event| event.occurred_at);

    let topics = TestTopics::create("anonymous-bank", 2).await.unwrap();
    produce(&topics.events, &events).await.unwrap();
    let produced = started.elapsed();

    // What the importer implies for the tenant: its clocks' time zone. Other settings
    // (service level, short abandons, business hours) change no count or wait here.
    let config = FoldConfig {
        tenants: [(
            tenant_id.clone(),
            TenantSettings {
                timezone: TIME_ZONE,
                ..TenantSettings::default()
            },
        )]
        .into(),
        ..FoldConfig::default()
    };
    let data_dir = tempfile::tempdir().unwrap();
    let (run, totals) = ingest_until_caught_up(&topics, data_dir.path(), config)
        .await
        .unwrap();
    let ingested = started.elapsed();
    assert_eq!(run.stats.events, events.len() as u64);
    assert_eq!(run.stats.dead_lettered, 0);
    assert_eq!(totals.duplicates, 0);
    assert_eq!(
        totals.too_late, 0,
        "every event within the allowed lateness"
    );
    assert_eq!(
        totals.events_by_type.values().sum::<u64>(),
        events.len() as u64
    );
    let tables = read_tables(data_dir.path()).unwrap();
    let from_tables = table_days(&tables, &tenant_id);

    let (from_raw, account) = raw_days(&raw);
    eprintln!(
        "{} events; produced after {produced:.1?}, ingested after {ingested:.1?}; {account:?}",
        events.len()
    );
    print_days(&from_raw, &from_tables);

    // Every raw row is accounted for, and the importer agrees on the division.
    assert_eq!(account.rows, 31_599);
    assert_eq!(
        account.rows,
        account.phantom
            + account.malformed
            + account.duplicate
            + account.hung_up_in_vru
            + account.answered
            + account.abandoned,
        "{account:?}"
    );
    assert_eq!(account.phantom, 240, "{account:?}");
    assert_eq!(
        (
            account.malformed,
            account.duplicate,
            account.q_time_mismatches
        ),
        (0, 0, 0),
        "{account:?}"
    );
    assert_eq!(file.records_read, account.rows);
    assert_eq!(
        file.records_skipped(),
        account.phantom + account.malformed + account.duplicate
    );
    assert_eq!(
        file.records_converted,
        account.hung_up_in_vru + account.answered + account.abandoned
    );

    // The days: 1 to 31 January without the 11th and 12th (missing from the public data).
    let expected_days: Vec<NaiveDate> = (1..=31)
        .filter(|d| ![11, 12].contains(d))
        .map(|d| NaiveDate::from_ymd_opt(1999, 1, d).unwrap())
        .collect();
    assert_eq!(from_raw.keys().copied().collect::<Vec<_>>(), expected_days);
    let mut total = Day::default();
    for day in from_raw.values() {
        assert!(
            day.offered > 0 && day.answered > 0 && day.abandoned > 0,
            "{day:?}"
        );
        total.add(day);
    }
    assert_eq!(total.offered, account.answered + account.abandoned);
    assert_eq!(total.answered, account.answered);
    assert_eq!(total.abandoned, account.abandoned);
    assert!(
        total.answered_wait_ms > 0 && total.abandoned_wait_ms > 0,
        "{total:?}"
    );

    // Day by day, then as a whole (offered by queue entry, the rest by answer/abandon).
    for (date, expected) in &from_raw {
        let actual = from_tables.get(date).copied().unwrap_or_default();
        assert_eq!(actual.offered, expected.offered, "offered on {date}");
        assert_eq!(actual.answered, expected.answered, "answered on {date}");
        assert_eq!(
            actual.answered_wait_ms, expected.answered_wait_ms,
            "answered wait on {date}"
        );
        assert_eq!(actual.abandoned, expected.abandoned, "abandoned on {date}");
        assert_eq!(
            actual.abandoned_wait_ms, expected.abandoned_wait_ms,
            "abandoned wait on {date}"
        );
    }
    assert_eq!(from_tables, from_raw);
    eprintln!("done after {:.1?}", started.elapsed());
}
