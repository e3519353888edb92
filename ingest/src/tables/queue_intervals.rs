//! `queue_intervals`: the queue measures of one (tenant, queue, channel, direction,
//! interval) ([`QueueInterval`]).
//!
//! The measures are listed once, as tables of field accessors ([`COUNTS_BEFORE`],
//! [`DISTS`], [`COUNTS_AFTER`], [`HISTOGRAMS`]), so the schema, the writer and the reader
//! cannot disagree on a column's name or field.

use std::collections::BTreeMap;
use std::sync::Arc;

use ccpulse_schemas::metrics::WAIT_BUCKETS;
use ccpulse_schemas::v1::{Channel, Direction};
use datafusion::arrow::array::{
    ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMillisecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::error::ArrowError;

use super::QUEUE_INTERVALS;
use super::columns::{
    Column, Reader, counts, histogram_type, histograms, int64s, optional_int64s, strings,
    timestamp_type, timestamps,
};
use super::error::TablesError;
use crate::fold::measures::{Dist, QueueMeasures};
use crate::fold::rows::{QueueInterval, QueueKey};

/// A `u64` measure stored as one `Int64` column of the same name.
struct Count {
    name: &'static str,
    get: fn(&QueueMeasures) -> u64,
    get_mut: fn(&mut QueueMeasures) -> &mut u64,
}

/// A [`Dist`] stored as `<name>_count`, `<name>_sum_ms`, `<name>_min_ms`, `<name>_max_ms`.
struct DistMeasure {
    name: &'static str,
    get: fn(&QueueMeasures) -> &Dist,
    get_mut: fn(&mut QueueMeasures) -> &mut Dist,
}

/// A wait histogram stored as one `List<Int64>` column of the same name.
struct Histogram {
    name: &'static str,
    get: fn(&QueueMeasures) -> &[u64; WAIT_BUCKETS],
    get_mut: fn(&mut QueueMeasures) -> &mut [u64; WAIT_BUCKETS],
}

macro_rules! count {
    ($field:ident) => {
        Count {
            name: stringify!($field),
            get: |m| m.$field,
            get_mut: |m| &mut m.$field,
        }
    };
}

macro_rules! dist {
    ($field:ident) => {
        DistMeasure {
            name: stringify!($field),
            get: |m| &m.$field,
            get_mut: |m| &mut m.$field,
        }
    };
}

macro_rules! histogram {
    ($field:ident) => {
        Histogram {
            name: stringify!($field),
            get: |m| &m.$field,
            get_mut: |m| &mut m.$field,
        }
    };
}

/// The counters right after the key.
const COUNTS_BEFORE: [Count; 5] = [
    count!(offered),
    count!(answered),
    count!(abandoned),
    count!(short_abandoned),
    count!(flowed_out),
];

/// The duration measures, after [`COUNTS_BEFORE`].
const DISTS: [DistMeasure; 6] = [
    dist!(answered_wait),
    dist!(abandoned_wait),
    dist!(talk),
    dist!(hold),
    dist!(acw),
    dist!(handle),
];

/// The counters after [`DISTS`]; `sl_threshold_ms` follows them.
const COUNTS_AFTER: [Count; 8] = [
    count!(transfers),
    count!(transfers_blind),
    count!(transfers_consult),
    count!(csat_responses),
    count!(csat_sum),
    count!(csat_satisfied),
    count!(answered_within_sl),
    count!(abandoned_within_sl),
];

/// The last columns.
const HISTOGRAMS: [Histogram; 2] = [
    histogram!(answered_wait_histogram),
    histogram!(abandoned_wait_histogram),
];

/// The four column names of a [`DistMeasure`]: count, sum, min, max.
fn dist_columns(name: &str) -> [String; 4] {
    [
        format!("{name}_count"),
        format!("{name}_sum_ms"),
        format!("{name}_min_ms"),
        format!("{name}_max_ms"),
    ]
}

/// The schema of `queue_intervals` (see the [module docs](super) for each column).
pub fn queue_intervals_schema() -> SchemaRef {
    let int64 = |name: &str, nullable: bool| Field::new(name, DataType::Int64, nullable);
    let mut fields = vec![
        Field::new("tenant_id", DataType::Utf8, false),
        Field::new("queue_id", DataType::Utf8, false),
        Field::new("channel", DataType::Utf8, false),
        Field::new("direction", DataType::Utf8, false),
        Field::new("interval_start", timestamp_type(), false),
    ];
    fields.extend(COUNTS_BEFORE.iter().map(|c| int64(c.name, false)));
    for dist in &DISTS {
        let [count, sum, min, max] = dist_columns(dist.name);
        fields.extend([
            int64(&count, false),
            int64(&sum, false),
            int64(&min, true),
            int64(&max, true),
        ]);
    }
    fields.extend(COUNTS_AFTER.iter().map(|c| int64(c.name, false)));
    fields.push(int64("sl_threshold_ms", false));
    fields.extend(
        HISTOGRAMS
            .iter()
            .map(|h| Field::new(h.name, histogram_type(), false)),
    );
    Arc::new(Schema::new(fields))
}

/// `intervals` as one batch of [`queue_intervals_schema`].
pub(super) fn to_batch(
    intervals: &BTreeMap<QueueKey, QueueInterval>,
) -> Result<RecordBatch, ArrowError> {
    let table = QUEUE_INTERVALS.name;
    let keys = || intervals.keys();
    let measures = || intervals.values().map(|interval| &interval.measures);
    let mut columns: Vec<ArrayRef> = vec![
        strings(keys().map(|k| k.tenant_id.as_str())),
        strings(keys().map(|k| k.queue_id.as_str())),
        strings(keys().map(|k| k.channel.as_str())),
        strings(keys().map(|k| k.direction.as_str())),
        timestamps(keys().map(|k| k.interval_start)),
    ];
    for c in &COUNTS_BEFORE {
        columns.push(counts(table, c.name, measures().map(c.get))?);
    }
    for d in &DISTS {
        let [count, ..] = dist_columns(d.name);
        let dists = || measures().map(d.get);
        columns.extend([
            counts(table, &count, dists().map(|dist| dist.count))?,
            int64s(dists().map(|dist| dist.sum_ms)),
            optional_int64s(dists().map(|dist| dist.min_ms)),
            optional_int64s(dists().map(|dist| dist.max_ms)),
        ]);
    }
    for c in &COUNTS_AFTER {
        columns.push(counts(table, c.name, measures().map(c.get))?);
    }
    columns.push(int64s(intervals.values().map(|i| i.sl_threshold_ms)));
    for h in &HISTOGRAMS {
        columns.push(histograms(table, h.name, measures().map(h.get))?);
    }
    RecordBatch::try_new(queue_intervals_schema(), columns)
}

/// The four columns of one [`DistMeasure`].
struct DistColumns {
    count: Column<Int64Array>,
    sum_ms: Column<Int64Array>,
    min_ms: Column<Int64Array>,
    max_ms: Column<Int64Array>,
}

impl DistColumns {
    fn read(r: &Reader<'_>, name: &str) -> Result<Self, TablesError> {
        let [count, sum, min, max] = dist_columns(name);
        Ok(Self {
            count: r.int64(&count)?,
            sum_ms: r.int64(&sum)?,
            min_ms: r.int64(&min)?,
            max_ms: r.int64(&max)?,
        })
    }

    fn value(&self, row: usize) -> Result<Dist, TablesError> {
        Ok(Dist {
            count: self.count.count(row)?,
            sum_ms: self.sum_ms.value(row)?,
            min_ms: self.min_ms.optional(row),
            max_ms: self.max_ms.optional(row),
        })
    }
}

/// The key columns.
struct KeyColumns {
    tenant_id: Column<StringArray>,
    queue_id: Column<StringArray>,
    channel: Column<StringArray>,
    direction: Column<StringArray>,
    interval_start: Column<TimestampMillisecondArray>,
}

impl KeyColumns {
    fn read(r: &Reader<'_>) -> Result<Self, TablesError> {
        Ok(Self {
            tenant_id: r.string("tenant_id")?,
            queue_id: r.string("queue_id")?,
            channel: r.string("channel")?,
            direction: r.string("direction")?,
            interval_start: r.timestamp("interval_start")?,
        })
    }

    fn value(&self, row: usize) -> Result<QueueKey, TablesError> {
        Ok(QueueKey {
            tenant_id: self.tenant_id.value(row)?.to_owned(),
            queue_id: self.queue_id.value(row)?.to_owned(),
            channel: self.channel.parse(row, Channel::parse)?,
            direction: self.direction.parse(row, Direction::parse)?,
            interval_start: self.interval_start.value(row)?,
        })
    }
}

/// Adds the rows of `batch` to `intervals`, merging rows of equal keys like
/// [`Tables::merge`](crate::fold::rows::Tables::merge): measures summed, the larger
/// threshold kept.
pub(super) fn read(
    batch: &RecordBatch,
    intervals: &mut BTreeMap<QueueKey, QueueInterval>,
) -> Result<(), TablesError> {
    let r = Reader::new(QUEUE_INTERVALS.name, batch);
    let key = KeyColumns::read(&r)?;
    let counts = COUNTS_BEFORE
        .iter()
        .chain(&COUNTS_AFTER)
        .map(|c| Ok((c, r.int64(c.name)?)))
        .collect::<Result<Vec<_>, TablesError>>()?;
    let dists = DISTS
        .iter()
        .map(|d| Ok((d, DistColumns::read(&r, d.name)?)))
        .collect::<Result<Vec<_>, TablesError>>()?;
    let sl_threshold_ms = r.int64("sl_threshold_ms")?;
    let histograms = HISTOGRAMS
        .iter()
        .map(|h| Ok((h, r.histogram(h.name)?)))
        .collect::<Result<Vec<_>, TablesError>>()?;
    for row in r.rows() {
        let mut measures = QueueMeasures::default();
        for (c, column) in &counts {
            *(c.get_mut)(&mut measures) = column.count(row)?;
        }
        for (d, columns) in &dists {
            *(d.get_mut)(&mut measures) = columns.value(row)?;
        }
        for (h, column) in &histograms {
            *(h.get_mut)(&mut measures) = column.histogram(row)?;
        }
        let entry = intervals.entry(key.value(row)?).or_default();
        entry.measures.merge(&measures);
        entry.sl_threshold_ms = entry.sl_threshold_ms.max(sl_threshold_ms.value(row)?);
    }
    Ok(())
}
