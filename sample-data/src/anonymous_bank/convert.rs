//! One parsed record to the contract events of its call, following `MAPPING.md`.
//!
//! Three steps: place the record's clock times on a timeline (midnight crossings), choose
//! the event times per outcome (with the documented repairs), and convert the local times
//! to UTC with one offset per call. The events of a call come out in time order, and the
//! repairs and observations are reported through [`Notes`].

use std::borrow::Cow;

use ccpulse_schemas::v1::{Channel, Direction, Event, EventType, KnownEventType, TimestampMs};
use chrono::{NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeDelta, TimeZone};
use chrono_tz::{Asia::Jerusalem, Tz};

use super::record::{Clock, Customer, DAY_SECS, Outcome, Record};
use super::summary::{Observation, Repair, SkipReason};

/// Prefix of every event id: the data set (Anonymous Bank, 1999).
pub(crate) const EVENT_ID_PREFIX: &str = "ab99";

/// `agent_id` for an `AGENT` record whose `server` is `NO_SERVER`.
pub const UNKNOWN_AGENT: &str = "unknown";

/// The time zone of the call center's clocks.
pub(crate) const TIME_ZONE: Tz = Jerusalem;

/// Service types the documentation lists; any other (`AA`) is kept but noted.
const DOCUMENTED_TYPES: [&str; 6] = ["PS", "PE", "IN", "NE", "NW", "TT"];

/// Half a day: a clock time is placed within 12 hours of the previous stage's time.
const HALF_DAY: i64 = DAY_SECS as i64 / 2;

/// `interaction.ended` outcome of a served call.
pub(crate) const OUTCOME_ANSWERED: &str = "answered";
/// `interaction.ended` outcome of a call that hung up while queued.
pub(crate) const OUTCOME_ABANDONED: &str = "abandoned";
/// `interaction.ended` outcome of a call that hung up in the VRU, before any queue.
pub(crate) const OUTCOME_ABANDONED_IN_VRU: &str = "abandoned_in_vru";

/// The repairs and observations of one record, in the order found. Reused across records.
#[derive(Debug, Default)]
pub(crate) struct Notes {
    pub(crate) repairs: Vec<Repair>,
    pub(crate) observations: Vec<Observation>,
}

impl Notes {
    pub(crate) fn clear(&mut self) {
        self.repairs.clear();
        self.observations.clear();
    }
}

/// Appends the events of `record` to `out` (which the caller clears).
///
/// # Errors
/// [`SkipReason::Phantom`] for a `PHANTOM` record, which has no events.
pub(crate) fn convert(
    record: &Record<'_>,
    interaction_id: &str,
    tenant_id: &str,
    notes: &mut Notes,
    out: &mut Vec<Event<'static>>,
) -> Result<(), SkipReason> {
    if record.outcome == Outcome::Phantom {
        return Err(SkipReason::Phantom);
    }
    observe(record, notes);
    let times = Timeline::place(record, notes);
    let plan = plan(record, &times, notes);

    let offset = utc_offset(record.date, plan.first(), plan.last(), notes);
    let customer_id = match record.customer {
        Customer::Id(id) => Some(id),
        Customer::Unknown => None,
        Customer::Scientific(_) => {
            notes.repairs.push(Repair::CustomerIdScientific);
            None
        }
    };
    let mut emit = Emitter {
        tenant_id,
        interaction_id,
        queue_id: record.call_type,
        customer_id,
        midnight_ms: midnight_ms(record.date),
        offset_ms: offset,
        sequence: 0,
        out,
    };

    let created = emit.push(KnownEventType::InteractionCreated, plan.created);
    created.attributes = vec![
        (
            Cow::Borrowed("vru_line"),
            Cow::Owned(record.vru_line.to_owned()),
        ),
        (
            Cow::Borrowed("call_id"),
            Cow::Owned(record.call_id.to_string()),
        ),
    ];
    match plan.path {
        Path::Served {
            queued,
            answered,
            conversation_ended,
            agent_id,
        } => {
            let event = emit.push(KnownEventType::InteractionQueued, queued);
            event.priority = Some(i64::from(record.priority));
            let agent_id: Cow<'static, str> = Cow::Owned(agent_id.to_owned());
            emit.push(KnownEventType::InteractionAnswered, answered)
                .agent_id = Some(agent_id.clone());
            emit.push(
                KnownEventType::InteractionConversationEnded,
                conversation_ended,
            )
            .agent_id = Some(agent_id.clone());
            // No after-call work in the data: wrap-up completes when the talk ends.
            emit.push(
                KnownEventType::InteractionWrapupCompleted,
                conversation_ended,
            )
            .agent_id = Some(agent_id);
            emit.push(KnownEventType::InteractionEnded, conversation_ended)
                .outcome = Some(Cow::Borrowed(OUTCOME_ANSWERED));
        }
        Path::AbandonedInQueue { queued, abandoned } => {
            let event = emit.push(KnownEventType::InteractionQueued, queued);
            event.priority = Some(i64::from(record.priority));
            emit.push(KnownEventType::InteractionAbandoned, abandoned);
            emit.push(KnownEventType::InteractionEnded, abandoned)
                .outcome = Some(Cow::Borrowed(OUTCOME_ABANDONED));
        }
        Path::AbandonedInVru { ended } => {
            emit.push(KnownEventType::InteractionEnded, ended).outcome =
                Some(Cow::Borrowed(OUTCOME_ABANDONED_IN_VRU));
        }
    }
    Ok(())
}

/// Quirks that need no change.
fn observe(record: &Record<'_>, notes: &mut Notes) {
    if record.customer == Customer::Unknown {
        notes.observations.push(Observation::UnknownCustomer);
    }
    if !DOCUMENTED_TYPES.contains(&record.call_type) {
        notes.observations.push(Observation::UndocumentedType);
    }
    if record.vru_time < 0 {
        notes.observations.push(Observation::NegativeVruTime);
    }
    if record.outcome == Outcome::Agent && record.ser_time == 0 {
        notes.observations.push(Observation::ZeroServiceTime);
    }
}

/// The record's clock times placed on a timeline: seconds from local midnight of the
/// record's `date`, so a time after a midnight crossing is `>= 86_400`.
#[derive(Debug, Clone, Copy)]
struct Timeline {
    vru_entry: i64,
    vru_exit: i64,
    /// `(q_start, q_exit)` if the call queued (`q_start != 0:00:00`).
    queue: Option<(i64, i64)>,
    /// `(ser_start, ser_exit)` of an `AGENT` record with `ser_start != 0:00:00`.
    service: Option<(i64, i64)>,
}

impl Timeline {
    fn place(record: &Record<'_>, notes: &mut Notes) -> Timeline {
        let vru_entry = i64::from(record.vru_entry.0);
        let vru_exit = place(vru_entry, record.vru_exit);
        let queue = if record.q_start.is_zero() {
            if !record.q_exit.is_zero() || record.q_time != 0 {
                notes.repairs.push(Repair::QueueTimesWithoutStart);
            }
            None
        } else {
            let start = place(vru_exit, record.q_start);
            Some((start, place(start, record.q_exit)))
        };
        let service = if record.outcome == Outcome::Agent && !record.ser_start.is_zero() {
            let previous = queue.map_or(vru_exit, |(_, exit)| exit);
            let start = place(previous, record.ser_start);
            Some((start, place(start, record.ser_exit)))
        } else {
            None
        };
        let timeline = Timeline {
            vru_entry,
            vru_exit,
            queue,
            service,
        };

        if timeline
            .all()
            .any(|t| !(0..i64::from(DAY_SECS)).contains(&t))
        {
            notes.observations.push(Observation::MidnightCrossing);
        }
        if record.vru_time != vru_exit - vru_entry {
            notes.repairs.push(Repair::VruTimeMismatch);
        }
        if let Some((start, exit)) = queue
            && record.q_time != exit - start
        {
            notes.repairs.push(Repair::QueueTimeMismatch);
        }
        if let Some((start, exit)) = service
            && record.ser_time != exit - start
        {
            notes.repairs.push(Repair::ServiceTimeMismatch);
        }
        timeline
    }

    fn all(&self) -> impl Iterator<Item = i64> {
        let queue = self.queue.into_iter().flat_map(|(a, b)| [a, b]);
        let service = self.service.into_iter().flat_map(|(a, b)| [a, b]);
        [self.vru_entry, self.vru_exit]
            .into_iter()
            .chain(queue)
            .chain(service)
    }
}

/// Places a clock time within 12 hours of `previous` (a timeline time): later by less than
/// 12 hours, or earlier by less than 12 hours (a clock disagreement, such as a negative
/// `vru_time`, which is not a midnight crossing). A time 12 hours or more before
/// `previous` on its clock is on the next day.
fn place(previous: i64, clock: Clock) -> i64 {
    let day_start = previous.div_euclid(i64::from(DAY_SECS)) * i64::from(DAY_SECS);
    let t = day_start + i64::from(clock.0);
    if previous - t >= HALF_DAY {
        t + i64::from(DAY_SECS)
    } else if t - previous > HALF_DAY {
        t - i64::from(DAY_SECS)
    } else {
        t
    }
}

/// The event times of one call, in timeline seconds.
#[derive(Debug, Clone, Copy)]
struct Plan<'a> {
    created: i64,
    path: Path<'a>,
}

#[derive(Debug, Clone, Copy)]
enum Path<'a> {
    /// created, queued, answered, conversation_ended = wrapup_completed = ended.
    Served {
        queued: i64,
        answered: i64,
        conversation_ended: i64,
        agent_id: &'a str,
    },
    /// created, queued, abandoned = ended.
    AbandonedInQueue { queued: i64, abandoned: i64 },
    /// created, ended.
    AbandonedInVru { ended: i64 },
}

impl Plan<'_> {
    fn first(&self) -> i64 {
        self.created
    }

    fn last(&self) -> i64 {
        match self.path {
            Path::Served {
                conversation_ended, ..
            } => conversation_ended,
            Path::AbandonedInQueue { abandoned, .. } => abandoned,
            Path::AbandonedInVru { ended } => ended,
        }
    }
}

fn plan<'a>(record: &Record<'a>, times: &Timeline, notes: &mut Notes) -> Plan<'a> {
    let (first_after_created, path) = match record.outcome {
        Outcome::Agent => {
            let (queued, answered) = match (times.queue, times.service) {
                (Some((start, exit)), _) => (start, exit),
                (None, Some((start, _))) => {
                    notes.repairs.push(Repair::ServedWithoutQueueWait);
                    (start, start)
                }
                (None, None) => {
                    notes.repairs.push(Repair::ServedWithoutQueueWait);
                    (times.vru_exit, times.vru_exit)
                }
            };
            let conversation_ended = match times.service {
                Some((start, exit)) => {
                    if times.queue.is_some() && start < answered {
                        notes.repairs.push(Repair::ServiceStartBeforeQueueExit);
                    }
                    if exit < answered {
                        notes.repairs.push(Repair::ServiceEndBeforeAnswer);
                    }
                    exit.max(answered)
                }
                None => {
                    notes.repairs.push(Repair::ServedWithoutServiceTimes);
                    answered
                }
            };
            let agent_id = record.server.unwrap_or_else(|| {
                notes.repairs.push(Repair::UnknownServer);
                UNKNOWN_AGENT
            });
            let path = Path::Served {
                queued,
                answered,
                conversation_ended,
                agent_id,
            };
            (queued, path)
        }
        // Phantom records never get here; treated like a hang so this stays total.
        Outcome::Hang | Outcome::Phantom => {
            if !record.ser_start.is_zero()
                || !record.ser_exit.is_zero()
                || record.ser_time != 0
                || record.server.is_some()
            {
                notes.repairs.push(Repair::HangWithServiceData);
            }
            match times.queue {
                Some((queued, abandoned)) => (queued, Path::AbandonedInQueue { queued, abandoned }),
                None => (
                    times.vru_exit,
                    Path::AbandonedInVru {
                        ended: times.vru_exit,
                    },
                ),
            }
        }
    };
    let created = if times.vru_entry > first_after_created {
        notes.repairs.push(Repair::CreatedMovedBack);
        first_after_created
    } else {
        times.vru_entry
    };
    Plan { created, path }
}

/// Local midnight of `date`, in milliseconds as if local time were UTC.
fn midnight_ms(date: NaiveDate) -> TimestampMs {
    date.and_time(NaiveTime::MIN).and_utc().timestamp_millis()
}

fn local(date: NaiveDate, t: i64) -> NaiveDateTime {
    date.and_time(NaiveTime::MIN) + TimeDelta::seconds(t)
}

/// The UTC offset (local − UTC, in ms) used for every event of a call: the one in effect
/// at its first event.
fn utc_offset(date: NaiveDate, first: i64, last: i64, notes: &mut Notes) -> TimestampMs {
    let start = local(date, first);
    let offset = match TIME_ZONE.offset_from_local_datetime(&start) {
        chrono::LocalResult::Single(offset) => offset.fix(),
        chrono::LocalResult::Ambiguous(earlier, _) => {
            notes.repairs.push(Repair::AmbiguousLocalTime);
            earlier.fix()
        }
        chrono::LocalResult::None => {
            notes.repairs.push(Repair::NonexistentLocalTime);
            let before = start - TimeDelta::hours(1);
            TIME_ZONE
                .offset_from_local_datetime(&before)
                .earliest()
                .unwrap_or_else(|| TIME_ZONE.offset_from_utc_datetime(&start))
                .fix()
        }
    };
    let end_utc = local(date, last) - TimeDelta::seconds(i64::from(offset.local_minus_utc()));
    if TIME_ZONE.offset_from_utc_datetime(&end_utc).fix() != offset {
        notes.repairs.push(Repair::SpansOffsetChange);
    }
    i64::from(offset.local_minus_utc()) * 1000
}

/// Builds the events of one call with their shared fields and sequential ids.
struct Emitter<'a, 'o> {
    tenant_id: &'a str,
    interaction_id: &'a str,
    queue_id: &'a str,
    customer_id: Option<&'a str>,
    midnight_ms: TimestampMs,
    offset_ms: TimestampMs,
    sequence: u32,
    out: &'o mut Vec<Event<'static>>,
}

impl Emitter<'_, '_> {
    fn push(&mut self, kind: KnownEventType, t: i64) -> &mut Event<'static> {
        self.sequence += 1;
        let event = Event {
            schema_version: 1,
            event_id: Cow::Owned(format!(
                "{EVENT_ID_PREFIX}-{}-{}",
                self.interaction_id, self.sequence
            )),
            tenant_id: Cow::Owned(self.tenant_id.to_owned()),
            event_type: EventType::Known(kind),
            occurred_at: self.midnight_ms + t * 1000 - self.offset_ms,
            interaction_id: Some(Cow::Owned(self.interaction_id.to_owned())),
            channel: Some(Channel::Voice),
            direction: Some(Direction::Inbound),
            queue_id: Some(queue_id(self.queue_id)),
            customer_id: self.customer_id.map(|id| Cow::Owned(id.to_owned())),
            ..Event::default()
        };
        self.out.push(event);
        let last = self.out.len() - 1;
        &mut self.out[last]
    }
}

/// The queue id: borrowed for the documented types (no allocation per event).
fn queue_id(call_type: &str) -> Cow<'static, str> {
    match DOCUMENTED_TYPES.iter().find(|known| **known == call_type) {
        Some(known) => Cow::Borrowed(known),
        None => Cow::Owned(call_type.to_owned()),
    }
}

/// A short description of where `repair` shows in `record`, for the summary's examples.
pub(crate) fn repair_detail(repair: Repair, record: &Record<'_>, interaction_id: &str) -> String {
    let r = record;
    let what = match repair {
        Repair::ServedWithoutQueueWait => {
            format!("vru_exit {}, ser_start {}", r.vru_exit, r.ser_start)
        }
        Repair::ServiceStartBeforeQueueExit => {
            format!("q_exit {}, ser_start {}", r.q_exit, r.ser_start)
        }
        Repair::ServiceEndBeforeAnswer => format!("q_exit {}, ser_exit {}", r.q_exit, r.ser_exit),
        Repair::HangWithServiceData => format!(
            "service {}-{}, server {}",
            r.ser_start,
            r.ser_exit,
            r.server.unwrap_or("NO_SERVER")
        ),
        Repair::CreatedMovedBack => format!("vru_entry {}, vru_exit {}", r.vru_entry, r.vru_exit),
        Repair::CustomerIdScientific => match r.customer {
            Customer::Scientific(text) => format!("customer_id {text}"),
            _ => String::new(),
        },
        Repair::QueueTimesWithoutStart => format!("q_exit {}, q_time {}", r.q_exit, r.q_time),
        Repair::VruTimeMismatch => {
            format!(
                "vru {}-{}, vru_time {}",
                r.vru_entry, r.vru_exit, r.vru_time
            )
        }
        Repair::QueueTimeMismatch => {
            format!("queue {}-{}, q_time {}", r.q_start, r.q_exit, r.q_time)
        }
        Repair::ServiceTimeMismatch => {
            format!(
                "service {}-{}, ser_time {}",
                r.ser_start, r.ser_exit, r.ser_time
            )
        }
        Repair::AmbiguousLocalTime | Repair::NonexistentLocalTime | Repair::SpansOffsetChange => {
            format!("{} {}", r.date, r.vru_entry)
        }
        Repair::ServedWithoutServiceTimes
        | Repair::UnknownServer
        | Repair::DuplicateInteractionId => String::new(),
    };
    with_id(interaction_id, what)
}

/// A short description of where `observation` shows in `record`, for the summary.
pub(crate) fn observation_detail(
    observation: Observation,
    record: &Record<'_>,
    interaction_id: &str,
) -> String {
    let r = record;
    let what = match observation {
        Observation::UndocumentedType => format!("type {}", r.call_type),
        Observation::MidnightCrossing => format!(
            "{} vru {}-{}, queue {}-{}, service {}-{}",
            r.date, r.vru_entry, r.vru_exit, r.q_start, r.q_exit, r.ser_start, r.ser_exit
        ),
        Observation::NegativeVruTime => format!("vru_time {}", r.vru_time),
        Observation::CallIdShared => format!("call_id {}", r.call_id),
        Observation::UnknownCustomer | Observation::ZeroServiceTime => String::new(),
    };
    with_id(interaction_id, what)
}

fn with_id(interaction_id: &str, what: String) -> String {
    if what.is_empty() {
        format!("({interaction_id})")
    } else {
        format!("({interaction_id}: {what})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = DAY_SECS as i64;

    #[test]
    fn place_keeps_small_backward_steps_on_the_same_day() {
        // Negative vru_time: 15:46:01 then 15:45:24.
        let entry = 15 * 3600 + 46 * 60 + 1;
        assert_eq!(place(entry, Clock(15 * 3600 + 45 * 60 + 24)), entry - 37);
    }

    #[test]
    fn place_moves_a_large_backward_step_to_the_next_day() {
        let late = 23 * 3600 + 59 * 60 + 28;
        assert_eq!(place(late, Clock(3)), DAY + 3);
        // Exactly 12 hours back is the next day, 12 hours ahead the same day.
        assert_eq!(place(HALF_DAY, Clock(0)), DAY);
        assert_eq!(place(0, Clock(HALF_DAY as u32)), HALF_DAY);
        // Placed relative to a time already on the next day.
        assert_eq!(place(DAY + 3, Clock(55)), DAY + 55);
    }

    #[test]
    fn place_moves_a_large_forward_step_to_the_previous_day() {
        // A clock a few seconds behind, across midnight: 0:00:10 then 23:59:50.
        assert_eq!(place(10, Clock(DAY_SECS - 10)), -10);
    }

    #[test]
    fn january_is_two_hours_ahead_of_utc() {
        let date = NaiveDate::from_ymd_opt(1999, 1, 1).unwrap();
        let mut notes = Notes::default();
        assert_eq!(utc_offset(date, 31, 189, &mut notes), 2 * 3600 * 1000);
        assert!(notes.repairs.is_empty());
    }

    #[test]
    fn daylight_saving_changes_are_repaired_not_fatal() {
        // Israel, 1999: summer time from Friday 2 April 02:00 (+02 to +03) to Friday
        // 3 September 02:00 (+03 to +02), per the time-zone database.
        let spring = NaiveDate::from_ymd_opt(1999, 4, 2).unwrap();
        let autumn = NaiveDate::from_ymd_opt(1999, 9, 3).unwrap();
        let at = |h: i64, m: i64| h * 3600 + m * 60;

        let mut notes = Notes::default();
        utc_offset(spring, at(1, 30), at(1, 40), &mut notes);
        assert!(notes.repairs.is_empty(), "{:?}", notes.repairs);

        let mut notes = Notes::default();
        assert_eq!(
            utc_offset(spring, at(2, 30), at(2, 40), &mut notes),
            2 * 3600 * 1000
        );
        assert!(notes.repairs.contains(&Repair::NonexistentLocalTime));

        let mut notes = Notes::default();
        utc_offset(spring, at(1, 50), at(3, 10), &mut notes);
        assert_eq!(notes.repairs, [Repair::SpansOffsetChange]);

        let mut notes = Notes::default();
        assert_eq!(
            utc_offset(autumn, at(1, 30), at(1, 40), &mut notes),
            3 * 3600 * 1000
        );
        assert_eq!(notes.repairs, [Repair::AmbiguousLocalTime]);
    }
}
