//! The whole of `january.txt` through the Anonymous Bank importer: every record accounted
//! for, every event valid on the wire, every call consistent, and the per-day answered and
//! abandoned counts and waits equal to an independent recount from the raw columns.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::OnceLock;

use ccpulse_sample_data::anonymous_bank::{
    FileSummary, ImportOptions, Importer, Observation, Repair, SkipReason,
};
use ccpulse_schemas::v1::{self, Event, KnownEventType as T};
use chrono::{NaiveDate, TimeZone, Utc};
use chrono_tz::Asia::Jerusalem;

/// The data, relative to this crate (`/work/shared/...` beside `/work/main`).
const JANUARY: &str = "../../shared/datasets/anonymous-bank-1999/january.txt";

struct Import {
    events: Vec<Event<'static>>,
    file: FileSummary,
    raw: String,
}

fn january() -> &'static Import {
    static IMPORT: OnceLock<Import> = OnceLock::new();
    IMPORT.get_or_init(|| {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(JANUARY);
        let raw = std::fs::read_to_string(&path).unwrap_or_else(|err| {
            panic!(
                "cannot read the Anonymous Bank data at {}: {err}. The test needs the shared \
                 datasets checkout beside the repository (shared/datasets/anonymous-bank-1999).",
                path.display()
            )
        });
        let mut importer = Importer::new(ImportOptions::default()).unwrap();
        let mut events = Vec::with_capacity(160_000);
        importer
            .import_file(&path, &mut |event| {
                events.push(event);
                Ok::<(), Infallible>(())
            })
            .unwrap();
        let mut summary = importer.into_summary();
        assert_eq!(summary.files.len(), 1);
        let file = summary.files.remove(0);
        Import { events, file, raw }
    })
}

#[test]
fn every_record_is_accounted_for() {
    let file = &january().file;
    let report = format!(
        "{}",
        ccpulse_sample_data::anonymous_bank::ImportSummary {
            files: vec![file.clone()],
        }
    );
    assert_eq!(file.records_read, 31_599, "{report}");
    assert_eq!(
        file.records_read,
        file.records_converted + file.records_skipped(),
        "{report}"
    );
    // The only records skipped are the PHANTOM ones.
    assert_eq!(file.records_skipped(), 240, "{report}");
    assert_eq!(file.skipped_count(SkipReason::Phantom), 240, "{report}");
    assert_eq!(file.records_converted, 31_359, "{report}");

    // The quirks the data set's README lists, as found among the converted records.
    let repaired = |repair| file.repaired_count(repair);
    let observed = |observation| file.observed_count(observation);
    assert_eq!(
        observed(Observation::NegativeVruTime),
        32,
        "33 minus 1 PHANTOM"
    );
    assert_eq!(observed(Observation::ZeroServiceTime), 277);
    assert_eq!(repaired(Repair::UnknownServer), 490);
    assert_eq!(observed(Observation::UndocumentedType), 2);
    assert_eq!(observed(Observation::MidnightCrossing), 24);
    assert_eq!(observed(Observation::UnknownCustomer), 18_135);
    assert_eq!(repaired(Repair::ServedWithoutQueueWait), 13_475);
    assert_eq!(repaired(Repair::ServedWithoutServiceTimes), 42);
    assert_eq!(repaired(Repair::HangWithServiceData), 83);
    assert_eq!(repaired(Repair::CustomerIdScientific), 24);
    assert_eq!(repaired(Repair::ServiceStartBeforeQueueExit), 10_515);
    assert_eq!(repaired(Repair::ServiceEndBeforeAnswer), 70);
    assert_eq!(repaired(Repair::CreatedMovedBack), 32);
    assert_eq!(file.records_repaired, 24_122);
    // The recorded durations agree with the clock times everywhere.
    assert_eq!(repaired(Repair::VruTimeMismatch), 0);
    assert_eq!(repaired(Repair::QueueTimeMismatch), 0);
    assert_eq!(repaired(Repair::ServiceTimeMismatch), 0);
    // call_id alone is not unique; vru+line and call_id is.
    assert_eq!(observed(Observation::CallIdShared), 24_556);
    assert_eq!(repaired(Repair::DuplicateInteractionId), 0);
    assert_eq!(
        file.missing_days(),
        [
            NaiveDate::from_ymd_opt(1999, 1, 11).unwrap(),
            NaiveDate::from_ymd_opt(1999, 1, 12).unwrap()
        ]
    );

    assert_eq!(file.event_count(T::InteractionCreated), 31_359);
    assert_eq!(file.event_count(T::InteractionEnded), 31_359);
    assert_eq!(file.event_count(T::InteractionAnswered), 27_060);
    assert_eq!(file.event_count(T::InteractionAbandoned), 3_101);
    assert_eq!(
        file.event_count(T::InteractionQueued),
        27_060 + 3_101,
        "every answered or abandoned call was queued"
    );
    assert_eq!(file.events_emitted(), january().events.len() as u64);
}

#[test]
fn every_event_survives_the_wire_and_validates() {
    let mut ids = HashSet::new();
    for event in &january().events {
        let json = event.to_json();
        let decoded = v1::decode(json.as_bytes())
            .unwrap_or_else(|rejection| panic!("{json} does not decode: {rejection}"));
        if let Err(rejection) = v1::validate(&decoded) {
            panic!("{json} is not valid: {rejection}");
        }
        assert_eq!(&decoded, event, "{json} changes on the wire");
        assert!(
            ids.insert(event.event_id.clone()),
            "duplicate {}",
            event.event_id
        );
    }
}

#[test]
fn every_call_is_consistent() {
    let mut calls: HashMap<&str, Vec<&Event<'static>>> = HashMap::new();
    for event in &january().events {
        let id = event.interaction_id.as_deref().expect("interaction_id");
        calls.entry(id).or_default().push(event);
    }
    assert_eq!(calls.len(), 31_359, "one interaction per converted record");
    for (id, events) in &calls {
        let types: Vec<T> = events
            .iter()
            .map(|event| event.event_type.known().unwrap())
            .collect();
        let served = [
            T::InteractionCreated,
            T::InteractionQueued,
            T::InteractionAnswered,
            T::InteractionConversationEnded,
            T::InteractionWrapupCompleted,
            T::InteractionEnded,
        ];
        let abandoned = [
            T::InteractionCreated,
            T::InteractionQueued,
            T::InteractionAbandoned,
            T::InteractionEnded,
        ];
        let vru_hang = [T::InteractionCreated, T::InteractionEnded];
        assert!(
            types == served || types == abandoned || types == vru_hang,
            "{id}: unexpected sequence {types:?}"
        );
        assert!(
            events
                .windows(2)
                .all(|w| w[0].occurred_at <= w[1].occurred_at),
            "{id}: events out of time order"
        );
        for event in events {
            if matches!(
                event.event_type.known(),
                Some(T::InteractionAnswered | T::InteractionWrapupCompleted)
            ) {
                assert!(event.agent_id.is_some(), "{id}: no agent_id");
            }
        }
    }
}

/// Per local day: (count, sum of waits in ms).
type DayWaits = BTreeMap<NaiveDate, (u64, i64)>;

fn local_day(ms: i64) -> NaiveDate {
    Utc.timestamp_millis_opt(ms)
        .unwrap()
        .with_timezone(&Jerusalem)
        .date_naive()
}

/// The answered and abandoned waits as the metrics would compute them from the events:
/// `answered - queued` and `abandoned - queued`, on the local day of the answer or abandon.
fn waits_from_events() -> (DayWaits, DayWaits) {
    let mut queued_at = HashMap::new();
    let (mut answered, mut abandoned) = (DayWaits::new(), DayWaits::new());
    for event in &january().events {
        let id = event.interaction_id.as_deref().unwrap();
        let target = match event.event_type.known() {
            Some(T::InteractionQueued) => {
                queued_at.insert(id, event.occurred_at);
                continue;
            }
            Some(T::InteractionAnswered) => &mut answered,
            Some(T::InteractionAbandoned) => &mut abandoned,
            _ => continue,
        };
        let wait = event.occurred_at - queued_at[id];
        let day = target.entry(local_day(event.occurred_at)).or_default();
        day.0 += 1;
        day.1 += wait;
    }
    (answered, abandoned)
}

/// The same from the raw columns, without the importer: every `AGENT` row is answered
/// with wait `q_time`, every `HANG` row with `q_start != 0:00:00` abandoned with wait
/// `q_time`, on the row's `date`, or the next day when the clock time of the answer (or
/// abandon) is 12 hours or more before `vru_entry` (it crossed midnight).
fn waits_from_raw_columns() -> (DayWaits, DayWaits) {
    let secs = |clock: &str| -> i64 {
        let parts: Vec<i64> = clock.split(':').map(|p| p.parse().unwrap()).collect();
        parts[0] * 3600 + parts[1] * 60 + parts[2]
    };
    let (mut answered, mut abandoned) = (DayWaits::new(), DayWaits::new());
    for line in january().raw.lines().skip(1) {
        let cols: Vec<&str> = line.trim_end_matches('\r').split('\t').collect();
        let (q_start, q_exit, q_time) = (cols[9], cols[10], cols[11]);
        let (outcome, ser_start) = (cols[12], cols[13]);
        let queued = q_start != "0:00:00";
        let (target, clock) = match outcome {
            "AGENT" if queued => (&mut answered, q_exit),
            "AGENT" if ser_start != "0:00:00" => (&mut answered, ser_start),
            "AGENT" => (&mut answered, cols[7]),
            "HANG" if queued => (&mut abandoned, q_exit),
            _ => continue,
        };
        let date = NaiveDate::parse_from_str(cols[5], "%y%m%d").unwrap();
        let crossed = secs(cols[6]) - secs(clock) >= 12 * 3600;
        let day = if crossed {
            date.succ_opt().unwrap()
        } else {
            date
        };
        let entry = target.entry(day).or_default();
        entry.0 += 1;
        entry.1 += q_time.parse::<i64>().unwrap() * 1000;
    }
    (answered, abandoned)
}

#[test]
fn daily_answered_and_abandoned_match_the_raw_columns() {
    let (answered, abandoned) = waits_from_events();
    let (raw_answered, raw_abandoned) = waits_from_raw_columns();
    assert_eq!(answered.len(), 29, "the 29 days of the file");
    for (day, (count, sum_ms)) in &raw_answered {
        let (events_count, events_sum) = answered.get(day).copied().unwrap_or_default();
        assert_eq!(events_count, *count, "answered on {day}");
        // Equal sums over equal counts: the mean answered wait equals the mean q_time.
        assert_eq!(events_sum, *sum_ms, "answered wait on {day}");
    }
    assert_eq!(answered, raw_answered);
    assert_eq!(abandoned, raw_abandoned);
    let total: u64 = answered.values().map(|(count, _)| count).sum();
    assert_eq!(total, 27_060);
}
