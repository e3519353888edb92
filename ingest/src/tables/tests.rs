use std::sync::Arc;

use ccpulse_schemas::metrics::WAIT_BUCKETS;
use ccpulse_schemas::v1::{Channel, DialResult, Direction, PreviewAction};
use datafusion::arrow::array::{
    ArrayRef, AsArray, Int64Array, ListArray, RecordBatch, StringArray, StringViewArray,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef};

use super::*;
use crate::fold::EffectiveState;
use crate::fold::measures::{AgentMeasures, CampaignMeasures, Dist, QueueMeasures};
use crate::fold::rows::{
    AgentKey, AgentStateRow, CampaignKey, InteractionRow, QueueInterval, QueueKey,
};

const T0: i64 = 1_794_837_600_000; // 2026-11-16T14:00:00Z

fn interaction(n: u32, channel: Channel, outcome: &'static str) -> InteractionRow {
    let i = i64::from(n);
    InteractionRow {
        tenant_id: "acme".into(),
        interaction_id: format!("i-{n}"),
        visit: n % 3 + 1,
        queue_id: Some(format!("q-{n}")),
        channel: channel.as_str(),
        direction: if n.is_multiple_of(2) {
            "inbound"
        } else {
            "outbound"
        },
        campaign_id: Some(format!("c-{n}")),
        agent_id: Some(format!("a-{n}")),
        queued_at: Some(T0 + i),
        answered_at: Some(T0 + 1_000 + i),
        abandoned_at: Some(T0 + 2_000 + i),
        flowed_out_at: Some(T0 + 3_000 + i),
        conversation_ended_at: Some(T0 + 4_000 + i),
        wrapup_completed_at: Some(T0 + 5_000 + i),
        outcome,
        wait_ms: Some(10 + i),
        talk_ms: Some(20 + i),
        hold_ms: Some(30 + i),
        hold_count: Some(2),
        acw_ms: Some(40 + i),
        handle_ms: Some(90 + i),
        transferred: !n.is_multiple_of(2),
        disposition: Some(format!("sale-{n}")),
        csat: Some(5),
        in_business_hours: n.is_multiple_of(2),
    }
}

/// An interaction row with every optional field empty.
fn bare_interaction() -> InteractionRow {
    InteractionRow {
        tenant_id: "acme".into(),
        interaction_id: "bare".into(),
        visit: 1,
        queue_id: None,
        channel: "voice",
        direction: "inbound",
        campaign_id: None,
        agent_id: None,
        queued_at: None,
        answered_at: None,
        abandoned_at: None,
        flowed_out_at: None,
        conversation_ended_at: None,
        wrapup_completed_at: None,
        outcome: "in_queue",
        wait_ms: None,
        talk_ms: None,
        hold_ms: None,
        hold_count: None,
        acw_ms: None,
        handle_ms: None,
        transferred: false,
        disposition: None,
        csat: None,
        in_business_hours: false,
    }
}

fn dist(base: i64) -> Dist {
    Dist {
        count: 3,
        sum_ms: base * 10,
        min_ms: Some(base),
        max_ms: Some(base * 5),
    }
}

/// Queue measures where every field has a different, non-zero value.
fn full_queue_measures() -> QueueMeasures {
    let mut answered_wait_histogram = [0; WAIT_BUCKETS];
    let mut abandoned_wait_histogram = [0; WAIT_BUCKETS];
    for (i, (a, b)) in answered_wait_histogram
        .iter_mut()
        .zip(&mut abandoned_wait_histogram)
        .enumerate()
    {
        *a = 100 + i as u64;
        *b = 200 + i as u64;
    }
    QueueMeasures {
        offered: 1,
        answered: 2,
        abandoned: 3,
        short_abandoned: 4,
        flowed_out: 5,
        answered_wait: dist(6),
        abandoned_wait: dist(7),
        talk: dist(8),
        hold: dist(9),
        acw: dist(10),
        handle: dist(11),
        transfers: 12,
        transfers_blind: 13,
        transfers_consult: 14,
        csat_responses: 15,
        csat_sum: 16,
        csat_satisfied: 17,
        answered_wait_histogram,
        abandoned_wait_histogram,
        answered_within_sl: 18,
        abandoned_within_sl: 19,
    }
}

fn full_agent_measures() -> AgentMeasures {
    AgentMeasures {
        login_ms: 1,
        available_ms: 2,
        alerting_ms: 3,
        interacting_ms: 4,
        after_contact_work_ms: 5,
        away_ms: 6,
        away_by_reason: [("lunch".to_owned(), 7), ("training".to_owned(), 8)].into(),
        offline_ms: 9,
        handled: 10,
        talk_sum_ms: 11,
        hold_sum_ms: 12,
        acw_sum_ms: 13,
        offers_missed: 14,
    }
}

fn full_campaign_measures() -> CampaignMeasures {
    CampaignMeasures {
        attempts: 1,
        results: [2, 3, 4, 5, 6, 7, 8],
        dropped: 9,
        preview_actions: [10, 11, 12, 13, 14],
    }
}

fn queue_key(queue_id: &str, channel: Channel, direction: Direction) -> QueueKey {
    QueueKey {
        tenant_id: "acme".into(),
        queue_id: queue_id.into(),
        channel,
        direction,
        interval_start: T0,
    }
}

/// Tables that exercise every column: optional fields both set and empty, every channel,
/// direction, outcome and state, histograms, away reasons and every campaign column.
fn sample_tables() -> Tables {
    let mut interactions: Vec<InteractionRow> = Channel::ALL
        .iter()
        .zip(OUTCOMES.iter().cycle())
        .enumerate()
        .map(|(n, (channel, outcome))| interaction(n as u32, *channel, outcome))
        .collect();
    interactions.push(bare_interaction());
    let agent_states = EffectiveState::NAMES
        .iter()
        .enumerate()
        .map(|(i, state)| {
            let start = T0 + i as i64 * 1_000;
            let closed = i.is_multiple_of(2);
            AgentStateRow {
                tenant_id: "acme".into(),
                agent_id: "a-1".into(),
                state,
                reason: (*state == "away").then(|| "lunch".to_owned()),
                started_at: start,
                ended_at: closed.then_some(start + 1_000),
                duration_ms: closed.then_some(1_000),
            }
        })
        .collect();
    let queue_intervals = [
        (
            queue_key("sales", Channel::Voice, Direction::Inbound),
            QueueInterval {
                measures: full_queue_measures(),
                sl_threshold_ms: 20_000,
            },
        ),
        (
            // Only counters: every distribution empty, so min/max are null.
            queue_key("sales", Channel::Chat, Direction::Outbound),
            QueueInterval {
                measures: QueueMeasures {
                    offered: 1,
                    ..QueueMeasures::default()
                },
                sl_threshold_ms: 60_000,
            },
        ),
    ]
    .into();
    let agent_key = |agent_id: &str| AgentKey {
        tenant_id: "acme".into(),
        agent_id: agent_id.into(),
        interval_start: T0,
    };
    let agent_intervals = [
        (agent_key("a-1"), full_agent_measures()),
        (
            agent_key("a-2"),
            AgentMeasures {
                login_ms: 900_000,
                ..AgentMeasures::default()
            },
        ),
    ]
    .into();
    let campaign_intervals = [(
        CampaignKey {
            tenant_id: "acme".into(),
            campaign_id: "winter".into(),
            interval_start: T0,
        },
        full_campaign_measures(),
    )]
    .into();
    Tables {
        interactions,
        agent_states,
        queue_intervals,
        agent_intervals,
        campaign_intervals,
        anomalies: [("duplicate_event".to_owned(), 3)].into(),
    }
}

fn read_back(batches: &[(&'static TableSpec, RecordBatch)]) -> Result<Tables, TablesError> {
    from_batches(batches.iter().map(|(spec, batch)| (spec.name, batch)))
}

fn batch_of(tables: &Tables, spec: &TableSpec) -> RecordBatch {
    to_batches(tables)
        .unwrap()
        .into_iter()
        .find(|(s, _)| s.name == spec.name)
        .map(|(_, batch)| batch)
        .unwrap()
}

fn schema_of(spec: &TableSpec) -> SchemaRef {
    match spec.name {
        "interactions" => interactions_schema(),
        "agent_states" => agent_states_schema(),
        "queue_intervals" => queue_intervals_schema(),
        "agent_intervals" => agent_intervals_schema(),
        "campaign_intervals" => campaign_intervals_schema(),
        other => panic!("no schema for {other}"),
    }
}

fn column_names(schema: &Schema) -> Vec<&str> {
    schema.fields().iter().map(|f| f.name().as_str()).collect()
}

/// `batch` with column `name` replaced by `array` (declared nullable).
fn with_column(batch: &RecordBatch, name: &str, array: ArrayRef) -> RecordBatch {
    let schema = batch.schema();
    let (index, _) = schema.column_with_name(name).unwrap();
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields[index] = Field::new(name, array.data_type().clone(), true);
    let mut columns = batch.columns().to_vec();
    columns[index] = array;
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
}

fn without_column(batch: &RecordBatch, name: &str) -> RecordBatch {
    let (index, _) = batch.schema().column_with_name(name).unwrap();
    let keep: Vec<usize> = (0..batch.num_columns()).filter(|i| *i != index).collect();
    batch.project(&keep).unwrap()
}

#[test]
fn round_trip_keeps_every_column() {
    let tables = sample_tables();
    let batches = to_batches(&tables).unwrap();
    let names: Vec<&str> = batches.iter().map(|(spec, _)| spec.name).collect();
    assert_eq!(
        names,
        DERIVED.iter().map(|spec| spec.name).collect::<Vec<_>>()
    );
    for (spec, batch) in &batches {
        assert_eq!(batch.schema(), schema_of(spec), "{}", spec.name);
        spec.check_schema(&batch.schema()).unwrap();
    }
    let mut back = read_back(&batches).unwrap();
    let mut expected = tables;
    expected.anomalies.clear();
    back.sort();
    expected.sort();
    assert_eq!(back, expected);
}

#[test]
fn empty_tables_give_no_batches() {
    let only_anomalies = Tables {
        anomalies: [("late".to_owned(), 1)].into(),
        ..Tables::default()
    };
    assert!(to_batches(&only_anomalies).unwrap().is_empty());
    assert_eq!(read_back(&[]).unwrap(), Tables::default());
}

#[test]
fn detail_columns_follow_metrics_md() {
    assert_eq!(
        column_names(&interactions_schema()),
        [
            "tenant_id",
            "interaction_id",
            "visit",
            "queue_id",
            "channel",
            "direction",
            "campaign_id",
            "agent_id",
            "queued_at",
            "answered_at",
            "abandoned_at",
            "flowed_out_at",
            "conversation_ended_at",
            "wrapup_completed_at",
            "outcome",
            "wait_ms",
            "talk_ms",
            "hold_ms",
            "hold_count",
            "acw_ms",
            "handle_ms",
            "transferred",
            "disposition",
            "csat",
            "in_business_hours",
        ]
    );
    assert_eq!(
        column_names(&agent_states_schema()),
        [
            "tenant_id",
            "agent_id",
            "state",
            "reason",
            "started_at",
            "ended_at",
            "duration_ms",
        ]
    );
}

#[test]
fn interval_columns_are_named_as_documented() {
    let queue = queue_intervals_schema();
    let names = column_names(&queue);
    assert_eq!(
        names[..10],
        [
            "tenant_id",
            "queue_id",
            "channel",
            "direction",
            "interval_start",
            "offered",
            "answered",
            "abandoned",
            "short_abandoned",
            "flowed_out",
        ]
    );
    assert_eq!(
        names[10..14],
        [
            "answered_wait_count",
            "answered_wait_sum_ms",
            "answered_wait_min_ms",
            "answered_wait_max_ms",
        ]
    );
    assert_eq!(names.len(), 5 + 5 + 6 * 4 + 8 + 1 + 2);
    assert_eq!(
        names[names.len() - 3..],
        [
            "sl_threshold_ms",
            "answered_wait_histogram",
            "abandoned_wait_histogram",
        ]
    );
    for name in ["handle_min_ms", "handle_max_ms"] {
        assert!(queue.field_with_name(name).unwrap().is_nullable());
    }
    assert!(!queue.field_with_name("handle_count").unwrap().is_nullable());

    let campaign = campaign_intervals_schema();
    let names = column_names(&campaign);
    let results: Vec<String> = DialResult::ALL
        .iter()
        .map(|r| format!("result_{r}"))
        .collect();
    let previews: Vec<String> = PreviewAction::ALL
        .iter()
        .map(|a| format!("preview_{a}"))
        .collect();
    assert_eq!(
        names[..4],
        ["tenant_id", "campaign_id", "interval_start", "attempts"]
    );
    assert_eq!(names[4..11], results);
    assert_eq!(names[11], "dropped");
    assert_eq!(names[12..], previews);

    let agent = agent_intervals_schema();
    assert_eq!(
        agent.field_with_name("away_by_reason").unwrap().data_type(),
        &DataType::Map(
            Arc::new(Field::new(
                "entries",
                DataType::Struct(
                    vec![
                        Field::new("keys", DataType::Utf8, false),
                        Field::new("values", DataType::Int64, false),
                    ]
                    .into()
                ),
                false
            )),
            false
        )
    );
}

#[test]
fn campaign_columns_follow_the_measure_indices() {
    let mut measures = CampaignMeasures::default();
    measures.results[DialResult::ALL
        .iter()
        .position(|r| *r == DialResult::Busy)
        .unwrap()] = 7;
    assert_eq!(measures.result(DialResult::Busy), 7);
    let tables = Tables {
        campaign_intervals: [(
            CampaignKey {
                tenant_id: "acme".into(),
                campaign_id: "winter".into(),
                interval_start: T0,
            },
            measures,
        )]
        .into(),
        ..Tables::default()
    };
    let batch = batch_of(&tables, &CAMPAIGN_INTERVALS);
    let busy = batch.column_by_name("result_busy").unwrap();
    assert_eq!(busy.as_primitive::<Int64Type>().values().to_vec(), [7]);
}

#[test]
fn histograms_have_one_count_per_bucket() {
    let tables = sample_tables();
    let batch = batch_of(&tables, &QUEUE_INTERVALS);
    let histograms = batch
        .column_by_name("answered_wait_histogram")
        .unwrap()
        .as_any()
        .downcast_ref::<ListArray>()
        .unwrap();
    let first = histograms.value(0);
    let first = first
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap()
        .values()
        .to_vec();
    assert_eq!(first, (100..114).collect::<Vec<i64>>());
}

#[test]
fn interval_rows_of_equal_keys_are_merged() {
    let first = sample_tables();
    let mut second = sample_tables();
    second.interactions.truncate(1);
    second.agent_states.clear();
    for interval in second.queue_intervals.values_mut() {
        interval.measures.answered_wait = Dist {
            count: 1,
            sum_ms: 1,
            min_ms: Some(1),
            max_ms: Some(1),
        };
        interval.sl_threshold_ms = 30_000;
    }
    for measures in second.agent_intervals.values_mut() {
        measures.away_by_reason = [("lunch".to_owned(), 100), ("meeting".to_owned(), 5)].into();
    }
    let mut batches = to_batches(&first).unwrap();
    batches.extend(to_batches(&second).unwrap());

    let mut back = read_back(&batches).unwrap();
    let mut expected = first;
    expected.merge(second);
    expected.anomalies.clear();
    back.sort();
    expected.sort();
    assert_eq!(back, expected);

    let full = &back.queue_intervals[&queue_key("sales", Channel::Voice, Direction::Inbound)];
    assert_eq!(full.measures.offered, 2);
    assert_eq!(full.measures.answered_wait_histogram[0], 200);
    assert_eq!(
        full.measures.answered_wait,
        Dist {
            count: 4,
            sum_ms: 61,
            min_ms: Some(1),
            max_ms: Some(30),
        }
    );
    assert_eq!(full.sl_threshold_ms, 30_000);
    let agent = back.agent_intervals.values().next().unwrap();
    assert_eq!(
        agent.away_by_reason,
        [
            ("lunch".to_owned(), 107),
            ("meeting".to_owned(), 5),
            ("training".to_owned(), 8),
        ]
        .into()
    );
    assert_eq!(
        back.interactions.len(),
        sample_tables().interactions.len() + 1
    );
}

#[test]
fn a_missing_column_is_an_error() {
    let tables = sample_tables();
    let batch = without_column(&batch_of(&tables, &INTERACTIONS), "outcome");
    let err = from_batches([("interactions", &batch)]).unwrap_err();
    assert!(
        matches!(&err, TablesError::ColumnMissing { table: "interactions", column } if column == "outcome"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "table `interactions`: batch has no column `outcome`"
    );

    let batch = without_column(&batch_of(&tables, &QUEUE_INTERVALS), "talk_max_ms");
    let err = from_batches([("queue_intervals", &batch)]).unwrap_err();
    assert!(
        matches!(&err, TablesError::ColumnMissing { column, .. } if column == "talk_max_ms"),
        "{err:?}"
    );
}

#[test]
fn an_unknown_channel_or_state_is_an_error() {
    let tables = sample_tables();
    let interactions = batch_of(&tables, &INTERACTIONS);
    let channels: ArrayRef = Arc::new(StringArray::from(vec![
        "carrier_pigeon";
        interactions.num_rows()
    ]));
    let batch = with_column(&interactions, "channel", channels);
    let err = from_batches([("interactions", &batch)]).unwrap_err();
    assert!(
        matches!(&err, TablesError::UnknownValue { column, row: 0, value, .. }
            if column == "channel" && value == "carrier_pigeon"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "table `interactions`: column `channel` row 0: unknown value `carrier_pigeon`"
    );

    let queue = batch_of(&tables, &QUEUE_INTERVALS);
    let channels: ArrayRef = Arc::new(StringArray::from(vec!["Voice"; queue.num_rows()]));
    let err =
        from_batches([("queue_intervals", &with_column(&queue, "channel", channels))]).unwrap_err();
    assert!(matches!(err, TablesError::UnknownValue { .. }), "{err:?}");

    let states = batch_of(&tables, &AGENT_STATES);
    let names: ArrayRef = Arc::new(StringArray::from(vec!["napping"; states.num_rows()]));
    let err = from_batches([("agent_states", &with_column(&states, "state", names))]).unwrap_err();
    assert!(matches!(err, TablesError::UnknownValue { .. }), "{err:?}");
}

#[test]
fn wrong_types_nulls_and_negative_counts_are_errors() {
    let tables = sample_tables();
    let queue = batch_of(&tables, &QUEUE_INTERVALS);
    let rows = queue.num_rows();

    let as_text: ArrayRef = Arc::new(StringArray::from(vec!["1"; rows]));
    let err =
        from_batches([("queue_intervals", &with_column(&queue, "offered", as_text))]).unwrap_err();
    assert!(
        matches!(&err, TablesError::ColumnType { column, found: DataType::Utf8, .. } if column == "offered"),
        "{err:?}"
    );

    let nulls: ArrayRef = Arc::new(Int64Array::from(vec![None; rows]));
    let err =
        from_batches([("queue_intervals", &with_column(&queue, "offered", nulls))]).unwrap_err();
    assert!(
        matches!(&err, TablesError::NullValue { column, row: 0, .. } if column == "offered"),
        "{err:?}"
    );

    let negative: ArrayRef = Arc::new(Int64Array::from(vec![-1; rows]));
    let err =
        from_batches([("queue_intervals", &with_column(&queue, "offered", negative))]).unwrap_err();
    assert!(
        matches!(
            &err,
            TablesError::OutOfRange {
                value: -1,
                target: "u64",
                ..
            }
        ),
        "{err:?}"
    );

    let short = ListArray::from_iter_primitive::<Int64Type, _, _>(
        (0..rows).map(|_| Some(vec![Some(1), Some(2)])),
    );
    let batch = with_column(&queue, "answered_wait_histogram", Arc::new(short));
    let err = from_batches([("queue_intervals", &batch)]).unwrap_err();
    assert!(
        matches!(
            err,
            TablesError::HistogramLength {
                found: 2,
                expected: 14,
                ..
            }
        ),
        "{err:?}"
    );

    let interactions = batch_of(&tables, &INTERACTIONS);
    let csat: ArrayRef = Arc::new(Int64Array::from(vec![300; interactions.num_rows()]));
    let err =
        from_batches([("interactions", &with_column(&interactions, "csat", csat))]).unwrap_err();
    assert!(
        matches!(
            err,
            TablesError::OutOfRange {
                value: 300,
                target: "u8",
                ..
            }
        ),
        "{err:?}"
    );

    let err = from_batches([("events", &interactions)]).unwrap_err();
    assert!(
        matches!(&err, TablesError::UnknownTable { table } if table == "events"),
        "{err:?}"
    );
}

#[test]
fn other_string_types_and_extra_columns_are_read() {
    // What a query engine may hand back: `Utf8View` strings, partition columns.
    let tables = sample_tables();
    let mut batches = Vec::new();
    for (spec, batch) in to_batches(&tables).unwrap() {
        let mut batch = batch;
        for name in ["tenant_id", "agent_id", "channel", "state"] {
            if let Some(column) = batch.column_by_name(name) {
                let view = cast(column, &DataType::Utf8View).unwrap();
                assert!(view.as_any().is::<StringViewArray>());
                batch = with_column(&batch, name, view);
            }
        }
        let tenant: ArrayRef = Arc::new(StringArray::from(vec!["acme"; batch.num_rows()]));
        let mut fields: Vec<Field> = batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        fields.push(Field::new("tenant", DataType::Utf8, false));
        let mut columns = batch.columns().to_vec();
        columns.push(tenant);
        batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap();
        batches.push((spec, batch));
    }
    let mut back = read_back(&batches).unwrap();
    let mut expected = tables;
    expected.anomalies.clear();
    back.sort();
    expected.sort();
    assert_eq!(back, expected);
}
