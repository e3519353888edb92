//! Real lines of `january.txt` (line numbers as in that file) with the exact events they
//! must give, bad lines that must be skipped with their reason, and the file-level errors.
//! January 1999 in Israel is UTC+2, so every expected UTC time is two hours before the
//! record's clock.

use std::convert::Infallible;

use ccpulse_schemas::v1::{Channel, Direction, Event, EventType, KnownEventType as T};

use super::*;

const HEADER: &str = "vru+line\tcall_id\tcustomer_id\tpriority\ttype\tdate\tvru_entry\tvru_exit\tvru_time\tq_start\tq_exit\tq_time\toutcome\tser_start\tser_exit\tser_time\tserver";

// Line 4: served after a 17 s wait, ser_start = q_exit.
const SERVED: &str = "AA0101\t33118\t27997683\t2\tPS\t990101\t6:55:20\t6:55:26\t6\t6:55:26\t6:55:43\t17\tAGENT\t6:55:43\t6:56:37\t54\tMICHAL";
// Line 31599: served, ser_start one second before q_exit (the usual case).
const SERVED_EARLY_START: &str = "AA0216\t5463\t0\t0\tIN\t990131\t23:22:59\t23:23:09\t10\t23:23:09\t23:24:16\t67\tAGENT\t23:24:15\t23:26:04\t109\tBENSION";
// Line 2: hung up after 153 s in the queue, on New Year's Day just after midnight.
const HANG_IN_QUEUE: &str = "AA0101\t33116\t9664491\t2\tPS\t990101\t0:00:31\t0:00:36\t5\t0:00:36\t0:03:09\t153\tHANG\t0:00:00\t0:00:00\t0\tNO_SERVER";
// Line 3: hung up in the VRU, never queued.
const HANG_IN_VRU: &str = "AA0101\t33117\t0\t0\tPS\t990101\t0:34:12\t0:34:23\t11\t0:00:00\t0:00:00\t0\tHANG\t0:00:00\t0:00:00\t0\tNO_SERVER";
// Line 5: served without queueing (q_start 0:00:00).
const SERVED_WITHOUT_QUEUE: &str = "AA0101\t33119\t0\t0\tPS\t990101\t7:41:16\t7:41:26\t10\t0:00:00\t0:00:00\t0\tAGENT\t7:41:25\t7:44:53\t208\tBASCH";
// Line 65: PHANTOM.
const PHANTOM: &str = "AA0101\t33180\t69100527\t2\tPS\t990103\t10:19:09\t10:19:15\t6\t10:19:15\t10:19:31\t16\tPHANTOM\t10:19:30\t10:20:13\t43\tNO_SERVER";
// Line 1972: vru_time -50, served.
const NEGATIVE_VRU_SERVED: &str = "AA0102\t28993\t28678126\t1\tPS\t990110\t15:10:07\t15:09:17\t-50\t15:09:17\t15:10:19\t62\tAGENT\t15:10:18\t15:11:34\t76\tAVIDAN";
// Line 637: vru_time -37, hung up in the queue.
const NEGATIVE_VRU_HANG: &str = "AA0101\t33757\t33044546\t1\tPS\t990113\t15:46:01\t15:45:24\t-37\t15:45:24\t15:46:41\t77\tHANG\t0:00:00\t0:00:00\t0\tNO_SERVER";
// Line 1536: served without queueing, ser_time 0.
const ZERO_SERVICE: &str = "AA0102\t28551\t0\t0\tNW\t990103\t18:45:24\t18:45:36\t12\t0:00:00\t0:00:00\t0\tAGENT\t18:45:36\t18:45:36\t0\tMIKI";
// Line 1591: AGENT with no service times at all.
const NO_SERVICE_TIMES: &str = "AA0102\t28607\t11766342\t1\tPS\t990104\t13:01:45\t13:01:51\t6\t13:01:51\t13:04:08\t137\tAGENT\t0:00:00\t0:00:00\t0\tIDIT";
// Line 20: AGENT served by NO_SERVER, without queueing.
const NO_SERVER: &str = "AA0101\t33134\t0\t0\tPS\t990101\t11:07:30\t11:07:38\t8\t0:00:00\t0:00:00\t0\tAGENT\t11:07:43\t11:07:46\t3\tNO_SERVER";
// Line 28023: the queue wait crosses midnight (the only call whose wait does in January).
const MIDNIGHT_IN_QUEUE: &str = "AA0213\t12511\t35796002\t1\tPS\t990109\t23:59:23\t23:59:23\t0\t23:59:28\t0:00:03\t35\tAGENT\t0:00:03\t0:00:55\t52\tANAT";
// Line 3080: the service crosses midnight.
const MIDNIGHT_IN_SERVICE: &str = "AA0103\t24076\t59184945\t1\tPS\t990102\t23:56:07\t23:56:12\t5\t23:56:12\t23:58:01\t109\tAGENT\t23:58:00\t0:01:08\t188\tYITZ";
// Line 29008: the undocumented type AA.
const TYPE_AA: &str = "AA0214\t12065\t0\t0\tAA\t990101\t6:41:36\t6:41:47\t11\t0:00:00\t0:00:00\t0\tHANG\t0:00:00\t0:00:00\t0\tNO_SERVER";
// Line 9535: service (0 s) ends a second before the queue exit.
const SERVICE_ENDS_BEFORE_ANSWER: &str = "AA0107\t2032\t0\t0\tTT\t990103\t10:04:18\t10:04:18\t0\t10:04:18\t10:04:53\t35\tAGENT\t10:04:52\t10:04:52\t0\tTALI";
// Line 3651: HANG with service times and a server.
const HANG_WITH_SERVICE: &str = "AA0103\t24653\t0\t0\tNW\t990113\t6:27:54\t6:28:03\t9\t6:28:03\t6:46:10\t1087\tHANG\t7:26:44\t7:30:08\t204\tDARMON";
// Line 257: customer_id damaged by a spreadsheet.
const SCIENTIFIC_CUSTOMER: &str = "AA0101\t33374\t6.02E+11\t0\tPS\t990105\t14:39:16\t14:39:20\t4\t14:39:20\t14:39:39\t19\tAGENT\t14:39:39\t14:42:11\t152\tKAZAV";

fn input(lines: &[&str]) -> String {
    let mut text = format!("{HEADER}\r\n");
    for line in lines {
        text.push_str(line);
        text.push_str("\r\n");
    }
    text
}

fn import_bytes(bytes: &[u8]) -> (Vec<Event<'static>>, FileSummary) {
    let mut importer = Importer::new(ImportOptions::default()).unwrap();
    let mut events = Vec::new();
    importer
        .import_reader("test.txt", bytes, &mut |event| {
            events.push(event);
            Ok::<(), Infallible>(())
        })
        .unwrap();
    let summary = importer.into_summary();
    assert_eq!(summary.files.len(), 1);
    let file = summary.files.into_iter().next().unwrap();
    assert_eq!(
        file.records_read,
        file.records_converted + file.records_skipped(),
        "every record is converted or skipped"
    );
    assert_eq!(file.skipped_count(SkipReason::EventRejected), 0);
    (events, file)
}

fn import(lines: &[&str]) -> (Vec<Event<'static>>, FileSummary) {
    import_bytes(input(lines).as_bytes())
}

fn ms(utc: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(utc)
        .unwrap()
        .timestamp_millis()
}

/// The fields every event of a call shares.
struct Call {
    id: &'static str,
    queue: &'static str,
    customer: Option<&'static str>,
    priority: i64,
}

impl Call {
    fn event(&self, n: usize, kind: T, utc: &str) -> Event<'static> {
        Event {
            schema_version: 1,
            event_id: format!("ab99-{}-{n}", self.id).into(),
            tenant_id: "anonymous-bank".into(),
            event_type: EventType::Known(kind),
            occurred_at: ms(utc),
            interaction_id: Some(self.id.into()),
            channel: Some(Channel::Voice),
            direction: Some(Direction::Inbound),
            queue_id: Some(self.queue.into()),
            customer_id: self.customer.map(Into::into),
            ..Event::default()
        }
    }

    fn created(&self, utc: &str) -> Event<'static> {
        let (vru_line, call_id) = self.id.split_once('-').unwrap();
        Event {
            attributes: vec![
                ("vru_line".into(), vru_line.to_owned().into()),
                ("call_id".into(), call_id.to_owned().into()),
            ],
            ..self.event(1, T::InteractionCreated, utc)
        }
    }

    fn queued(&self, utc: &str) -> Event<'static> {
        Event {
            priority: Some(self.priority),
            ..self.event(2, T::InteractionQueued, utc)
        }
    }

    fn ended(&self, n: usize, utc: &str, outcome: &'static str) -> Event<'static> {
        Event {
            outcome: Some(outcome.into()),
            ..self.event(n, T::InteractionEnded, utc)
        }
    }

    /// created, queued, answered, conversation_ended, wrapup_completed, ended.
    fn served(&self, times: [&str; 4], agent: &'static str) -> Vec<Event<'static>> {
        let [created, queued, answered, ended] = times;
        let with_agent = |n, kind, utc| Event {
            agent_id: Some(agent.into()),
            ..self.event(n, kind, utc)
        };
        vec![
            self.created(created),
            self.queued(queued),
            with_agent(3, T::InteractionAnswered, answered),
            with_agent(4, T::InteractionConversationEnded, ended),
            with_agent(5, T::InteractionWrapupCompleted, ended),
            self.ended(6, ended, "answered"),
        ]
    }

    /// created, queued, abandoned, ended.
    fn abandoned(&self, times: [&str; 3]) -> Vec<Event<'static>> {
        let [created, queued, abandoned] = times;
        vec![
            self.created(created),
            self.queued(queued),
            self.event(3, T::InteractionAbandoned, abandoned),
            self.ended(4, abandoned, "abandoned"),
        ]
    }

    /// created, ended (hung up in the VRU).
    fn vru_hang(&self, times: [&str; 2]) -> Vec<Event<'static>> {
        let [created, ended] = times;
        vec![
            self.created(created),
            self.ended(2, ended, "abandoned_in_vru"),
        ]
    }
}

fn repairs(file: &FileSummary) -> Vec<Repair> {
    file.repaired.keys().copied().collect()
}

fn observations(file: &FileSummary) -> Vec<Observation> {
    file.observed.keys().copied().collect()
}

#[test]
fn served_call() {
    let (events, file) = import(&[SERVED]);
    let call = Call {
        id: "AA0101-33118",
        queue: "PS",
        customer: Some("27997683"),
        priority: 2,
    };
    let expected = call.served(
        [
            "1999-01-01T04:55:20Z",
            "1999-01-01T04:55:26Z",
            "1999-01-01T04:55:43Z",
            "1999-01-01T04:56:37Z",
        ],
        "MICHAL",
    );
    assert_eq!(events, expected);
    assert_eq!(file.records_converted, 1);
    assert_eq!(file.records_repaired, 0);
    assert!(file.observed.is_empty());
    assert_eq!(file.event_count(T::InteractionAnswered), 1);
    assert_eq!(file.events_emitted(), 6);
}

#[test]
fn served_call_with_service_starting_before_queue_exit() {
    let (events, file) = import(&[SERVED_EARLY_START]);
    let call = Call {
        id: "AA0216-5463",
        queue: "IN",
        customer: None,
        priority: 0,
    };
    // Answered at q_exit 23:24:16 (wait = q_time 67 s), not at ser_start 23:24:15.
    let expected = call.served(
        [
            "1999-01-31T21:22:59Z",
            "1999-01-31T21:23:09Z",
            "1999-01-31T21:24:16Z",
            "1999-01-31T21:26:04Z",
        ],
        "BENSION",
    );
    assert_eq!(events, expected);
    assert_eq!(repairs(&file), [Repair::ServiceStartBeforeQueueExit]);
    assert_eq!(observations(&file), [Observation::UnknownCustomer]);
}

#[test]
fn hang_in_queue_is_abandoned() {
    let (events, file) = import(&[HANG_IN_QUEUE]);
    let call = Call {
        id: "AA0101-33116",
        queue: "PS",
        customer: Some("9664491"),
        priority: 2,
    };
    // 0:00:31 on 1 January 1999 in Israel is still 1998 in UTC.
    let expected = call.abandoned([
        "1998-12-31T22:00:31Z",
        "1998-12-31T22:00:36Z",
        "1998-12-31T22:03:09Z",
    ]);
    assert_eq!(events, expected);
    assert_eq!(file.records_repaired, 0);
}

#[test]
fn hang_in_vru_has_no_queue_events() {
    let (events, file) = import(&[HANG_IN_VRU]);
    let call = Call {
        id: "AA0101-33117",
        queue: "PS",
        customer: None,
        priority: 0,
    };
    let expected = call.vru_hang(["1998-12-31T22:34:12Z", "1998-12-31T22:34:23Z"]);
    assert_eq!(events, expected);
    assert_eq!(file.records_repaired, 0);
    assert_eq!(observations(&file), [Observation::UnknownCustomer]);
}

#[test]
fn served_without_queue_is_queued_and_answered_at_service_start() {
    let (events, file) = import(&[SERVED_WITHOUT_QUEUE]);
    let call = Call {
        id: "AA0101-33119",
        queue: "PS",
        customer: None,
        priority: 0,
    };
    let expected = call.served(
        [
            "1999-01-01T05:41:16Z",
            "1999-01-01T05:41:25Z",
            "1999-01-01T05:41:25Z",
            "1999-01-01T05:44:53Z",
        ],
        "BASCH",
    );
    assert_eq!(events, expected);
    assert_eq!(repairs(&file), [Repair::ServedWithoutQueueWait]);
}

#[test]
fn phantom_is_skipped() {
    let (events, file) = import(&[PHANTOM]);
    assert!(events.is_empty());
    assert_eq!(file.records_read, 1);
    assert_eq!(file.records_converted, 0);
    let tally = &file.skipped[&SkipReason::Phantom];
    assert_eq!(tally.count, 1);
    assert_eq!(tally.examples[0].line, 2);
    assert_eq!(tally.examples[0].detail, "(AA0101-33180)");
}

#[test]
fn negative_vru_time_moves_created_back() {
    let (events, file) = import(&[NEGATIVE_VRU_SERVED, NEGATIVE_VRU_HANG]);
    let served = Call {
        id: "AA0102-28993",
        queue: "PS",
        customer: Some("28678126"),
        priority: 1,
    };
    let hang = Call {
        id: "AA0101-33757",
        queue: "PS",
        customer: Some("33044546"),
        priority: 1,
    };
    // vru_entry 15:10:07 is after vru_exit = q_start 15:09:17: created at 15:09:17.
    let mut expected = served.served(
        [
            "1999-01-10T13:09:17Z",
            "1999-01-10T13:09:17Z",
            "1999-01-10T13:10:19Z",
            "1999-01-10T13:11:34Z",
        ],
        "AVIDAN",
    );
    expected.extend(hang.abandoned([
        "1999-01-13T13:45:24Z",
        "1999-01-13T13:45:24Z",
        "1999-01-13T13:46:41Z",
    ]));
    assert_eq!(events, expected);
    assert_eq!(file.repaired_count(Repair::CreatedMovedBack), 2);
    assert_eq!(file.repaired_count(Repair::ServiceStartBeforeQueueExit), 1);
    assert_eq!(file.observed_count(Observation::NegativeVruTime), 2);
    assert_eq!(file.repaired_count(Repair::VruTimeMismatch), 0);
}

#[test]
fn zero_service_time_and_missing_service_times() {
    let (events, file) = import(&[ZERO_SERVICE, NO_SERVICE_TIMES]);
    let zero = Call {
        id: "AA0102-28551",
        queue: "NW",
        customer: None,
        priority: 0,
    };
    let missing = Call {
        id: "AA0102-28607",
        queue: "PS",
        customer: Some("11766342"),
        priority: 1,
    };
    let mut expected = zero.served(
        [
            "1999-01-03T16:45:24Z",
            "1999-01-03T16:45:36Z",
            "1999-01-03T16:45:36Z",
            "1999-01-03T16:45:36Z",
        ],
        "MIKI",
    );
    // No ser_start/ser_exit: the talk is empty, at the answer (q_exit).
    expected.extend(missing.served(
        [
            "1999-01-04T11:01:45Z",
            "1999-01-04T11:01:51Z",
            "1999-01-04T11:04:08Z",
            "1999-01-04T11:04:08Z",
        ],
        "IDIT",
    ));
    assert_eq!(events, expected);
    assert_eq!(file.observed_count(Observation::ZeroServiceTime), 2);
    assert_eq!(file.repaired_count(Repair::ServedWithoutQueueWait), 1);
    assert_eq!(file.repaired_count(Repair::ServedWithoutServiceTimes), 1);
}

#[test]
fn no_server_is_agent_unknown() {
    let (events, file) = import(&[NO_SERVER]);
    let call = Call {
        id: "AA0101-33134",
        queue: "PS",
        customer: None,
        priority: 0,
    };
    let expected = call.served(
        [
            "1999-01-01T09:07:30Z",
            "1999-01-01T09:07:43Z",
            "1999-01-01T09:07:43Z",
            "1999-01-01T09:07:46Z",
        ],
        UNKNOWN_AGENT,
    );
    assert_eq!(events, expected);
    assert_eq!(
        repairs(&file),
        [Repair::ServedWithoutQueueWait, Repair::UnknownServer]
    );
}

#[test]
fn midnight_crossings_go_to_the_next_day() {
    let (events, file) = import(&[MIDNIGHT_IN_QUEUE, MIDNIGHT_IN_SERVICE]);
    let queue = Call {
        id: "AA0213-12511",
        queue: "PS",
        customer: Some("35796002"),
        priority: 1,
    };
    let service = Call {
        id: "AA0103-24076",
        queue: "PS",
        customer: Some("59184945"),
        priority: 1,
    };
    // q_exit 0:00:03 is on 10 January local time (22:00:03 UTC on the 9th).
    let mut expected = queue.served(
        [
            "1999-01-09T21:59:23Z",
            "1999-01-09T21:59:28Z",
            "1999-01-09T22:00:03Z",
            "1999-01-09T22:00:55Z",
        ],
        "ANAT",
    );
    expected.extend(service.served(
        [
            "1999-01-02T21:56:07Z",
            "1999-01-02T21:56:12Z",
            "1999-01-02T21:58:01Z",
            "1999-01-02T22:01:08Z",
        ],
        "YITZ",
    ));
    assert_eq!(events, expected);
    assert_eq!(file.observed_count(Observation::MidnightCrossing), 2);
    // The recorded durations agree with the clocks once the day is added.
    assert_eq!(file.repaired_count(Repair::QueueTimeMismatch), 0);
    assert_eq!(file.repaired_count(Repair::ServiceTimeMismatch), 0);
}

#[test]
fn undocumented_type_is_kept() {
    let (events, file) = import(&[TYPE_AA]);
    let call = Call {
        id: "AA0214-12065",
        queue: "AA",
        customer: None,
        priority: 0,
    };
    assert_eq!(
        events,
        call.vru_hang(["1999-01-01T04:41:36Z", "1999-01-01T04:41:47Z"])
    );
    assert_eq!(file.observed_count(Observation::UndocumentedType), 1);
    let example = &file.observed[&Observation::UndocumentedType].examples[0];
    assert_eq!(example.detail, "(AA0214-12065: type AA)");
}

#[test]
fn service_ending_before_the_answer_has_no_talk() {
    let (events, file) = import(&[SERVICE_ENDS_BEFORE_ANSWER]);
    let call = Call {
        id: "AA0107-2032",
        queue: "TT",
        customer: None,
        priority: 0,
    };
    let expected = call.served(
        [
            "1999-01-03T08:04:18Z",
            "1999-01-03T08:04:18Z",
            "1999-01-03T08:04:53Z",
            "1999-01-03T08:04:53Z",
        ],
        "TALI",
    );
    assert_eq!(events, expected);
    assert_eq!(
        repairs(&file),
        [
            Repair::ServiceStartBeforeQueueExit,
            Repair::ServiceEndBeforeAnswer
        ]
    );
}

#[test]
fn hang_with_service_data_is_still_abandoned() {
    let (events, file) = import(&[HANG_WITH_SERVICE]);
    let call = Call {
        id: "AA0103-24653",
        queue: "NW",
        customer: None,
        priority: 0,
    };
    let expected = call.abandoned([
        "1999-01-13T04:27:54Z",
        "1999-01-13T04:28:03Z",
        "1999-01-13T04:46:10Z",
    ]);
    assert_eq!(events, expected);
    assert_eq!(repairs(&file), [Repair::HangWithServiceData]);
}

#[test]
fn scientific_customer_id_is_omitted() {
    let (events, file) = import(&[SCIENTIFIC_CUSTOMER]);
    let call = Call {
        id: "AA0101-33374",
        queue: "PS",
        customer: None,
        priority: 0,
    };
    let expected = call.served(
        [
            "1999-01-05T12:39:16Z",
            "1999-01-05T12:39:20Z",
            "1999-01-05T12:39:39Z",
            "1999-01-05T12:42:11Z",
        ],
        "KAZAV",
    );
    assert_eq!(events, expected);
    assert_eq!(repairs(&file), [Repair::CustomerIdScientific]);
    let example = &file.repaired[&Repair::CustomerIdScientific].examples[0];
    assert_eq!(example.detail, "(AA0101-33374: customer_id 6.02E+11)");
}

#[test]
fn bad_lines_are_skipped_with_reason_and_line() {
    let too_few = "AA0101\t33118\t27997683\t2\tPS\t990101";
    let garbage_time = SERVED.replace("6:55:20", "6:5x:20");
    let bad_date = SERVED.replace("990101", "990132");
    let bad_outcome = SERVED.replace("AGENT", "ROBOT");
    let mut bytes =
        input(&[too_few, &garbage_time, "", &bad_date, &bad_outcome, SERVED]).into_bytes();
    bytes.extend_from_slice(b"AA0101\t\xff\xfe\r\n");
    let (events, file) = import_bytes(&bytes);

    assert_eq!(file.records_read, 7);
    assert_eq!(file.records_converted, 1);
    assert_eq!(events.len(), 6);
    let skipped: Vec<(SkipReason, u64, &str)> = file
        .skipped
        .iter()
        .map(|(reason, tally)| {
            assert_eq!(tally.count, 1);
            let example = &tally.examples[0];
            (*reason, example.line, example.detail.as_str())
        })
        .collect();
    assert_eq!(
        skipped,
        [
            (SkipReason::BlankLine, 4, ""),
            (SkipReason::NotUtf8, 8, ""),
            (
                SkipReason::FieldCount,
                2,
                "(expected 17 tab-separated fields, found 6)"
            ),
            (
                SkipReason::InvalidField(Field::Date),
                5,
                "(`date` = \"990132\": no such calendar date)"
            ),
            (
                SkipReason::InvalidField(Field::VruEntry),
                3,
                "(`vru_entry` = \"6:5x:20\": expected a time H:MM:SS)"
            ),
            (
                SkipReason::InvalidField(Field::Outcome),
                6,
                "(`outcome` = \"ROBOT\": expected AGENT, HANG or PHANTOM)"
            ),
        ]
    );
}

#[test]
fn repeated_records_are_skipped_and_reused_ids_are_suffixed() {
    // The same call twice, then another call reusing its vru+line and call_id.
    let other_day = SERVED.replace("990101", "990201");
    let (events, file) = import(&[SERVED, SERVED, &other_day]);
    assert_eq!(file.records_converted, 2);
    assert_eq!(file.skipped_count(SkipReason::DuplicateRecord), 1);
    assert_eq!(
        file.skipped[&SkipReason::DuplicateRecord].examples[0].detail,
        "(AA0101-33118: already read at test.txt:2)"
    );
    assert_eq!(file.repaired_count(Repair::DuplicateInteractionId), 1);
    assert_eq!(events.len(), 12);
    assert_eq!(events[6].interaction_id.as_deref(), Some("AA0101-33118~2"));
    assert_eq!(events[6].event_id, "ab99-AA0101-33118~2-1");
    assert_eq!(file.observed_count(Observation::CallIdShared), 2);
}

#[test]
fn interaction_ids_are_unique_across_files_of_one_importer() {
    let text = input(&[SERVED]);
    let mut importer = Importer::new(ImportOptions::default()).unwrap();
    let mut ids = Vec::new();
    for name in ["a.txt", "b.txt"] {
        importer
            .import_reader(name, text.as_bytes(), &mut |event| {
                ids.push(event.event_id.into_owned());
                Ok::<(), Infallible>(())
            })
            .unwrap();
    }
    assert_eq!(ids.len(), 6, "the second file's copy is a duplicate record");
    let summary = importer.summary();
    assert_eq!(
        summary.files[1].skipped_count(SkipReason::DuplicateRecord),
        1
    );
    let total = summary.total();
    assert_eq!(total.records_read, 2);
    assert_eq!(total.records_converted, 1);
    let report = summary.to_string();
    assert!(
        report.contains("Anonymous Bank import of 2 files"),
        "{report}"
    );
    assert!(
        report.contains("b.txt:2 (AA0101-33118: already read at a.txt:2)"),
        "{report}"
    );
}

#[test]
fn the_tenant_is_the_option() {
    let mut importer = Importer::new(ImportOptions {
        tenant_id: "bank-1999".into(),
    })
    .unwrap();
    let mut tenants = Vec::new();
    importer
        .import_reader("t.txt", input(&[SERVED]).as_bytes(), &mut |event| {
            tenants.push(event.tenant_id.into_owned());
            Ok::<(), Infallible>(())
        })
        .unwrap();
    assert_eq!(tenants, ["bank-1999"; 6]);
}

#[test]
fn wrong_or_missing_header_is_an_error() {
    let mut importer = Importer::new(ImportOptions::default()).unwrap();
    let mut sink = |_event: Event<'static>| Ok::<(), Infallible>(());
    let err = importer
        .import_reader("calls.csv", "a,b,c\n1,2,3\n".as_bytes(), &mut sink)
        .unwrap_err();
    assert!(matches!(err, Error::Header { .. }));
    let message = err.to_string();
    assert!(
        message.starts_with("calls.csv:1: not an Anonymous Bank call-record file"),
        "{message}"
    );
    assert!(message.ends_with("found \"a,b,c\""), "{message}");

    let err = importer
        .import_reader("empty.txt", "".as_bytes(), &mut sink)
        .unwrap_err();
    assert!(err.to_string().ends_with("found \"end of file\""), "{err}");

    // LF line ends and a byte-order mark are accepted.
    let text = format!("\u{feff}{HEADER}\n{SERVED}\n");
    importer
        .import_reader("lf.txt", text.as_bytes(), &mut sink)
        .unwrap();
    assert_eq!(importer.summary().files[2].records_converted, 1);
}

#[test]
fn unreadable_file_is_an_error() {
    let mut importer = Importer::new(ImportOptions::default()).unwrap();
    let err = importer
        .import_file(
            std::path::Path::new("/nonexistent/january.txt"),
            &mut |_event| Ok::<(), Infallible>(()),
        )
        .unwrap_err();
    assert!(matches!(err, Error::Open { .. }));
    assert_eq!(err.to_string(), "cannot open /nonexistent/january.txt");
}

#[test]
fn sink_errors_stop_the_import_with_file_and_line() {
    let mut importer = Importer::new(ImportOptions::default()).unwrap();
    let mut sent = 0;
    let err = importer
        .import_reader(
            "out.txt",
            input(&[HANG_IN_VRU, SERVED]).as_bytes(),
            &mut |_| {
                sent += 1;
                if sent > 3 {
                    Err(std::io::Error::other("disk full"))
                } else {
                    Ok(())
                }
            },
        )
        .unwrap_err();
    assert_eq!(err.to_string(), "out.txt:3: the event sink failed");
    let source = std::error::Error::source(&err).unwrap();
    assert_eq!(source.to_string(), "disk full");
}

#[test]
fn report_accounts_for_every_record() {
    let (_, file) = import(&[SERVED, PHANTOM, HANG_IN_VRU, "garbage"]);
    let summary = ImportSummary { files: vec![file] };
    let report = summary.to_string();
    for expected in [
        "Anonymous Bank import of test.txt",
        "records read              4",
        "converted               2",
        "skipped                 2",
        "outcome PHANTOM",
        "e.g. line 3 (AA0101-33180)",
        "not 17 tab-separated fields",
        "interaction.created                       2",
        "calls on 1 days from 1999-01-01 to 1999-01-01",
    ] {
        assert!(
            report.contains(expected),
            "missing {expected:?} in\n{report}"
        );
    }
}

#[test]
fn mapping_document_carries_the_acknowledgement() {
    let mapping = include_str!("MAPPING.md");
    assert!(
        mapping.contains(ACKNOWLEDGEMENT),
        "MAPPING.md must quote ACKNOWLEDGEMENT"
    );
}
