//! A summary of a query's result that two engines can be compared on without shipping
//! the rows: the row count and, per column, the non-NULL count and (for numbers and
//! booleans) the sum. `duckdb.py` computes the same summary on DuckDB's side.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result};
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::arrow::record_batch::RecordBatch;
use serde::{Deserialize, Serialize};

/// Relative difference two sums may have (different summation orders of doubles).
const TOLERANCE: f64 = 1e-6;

/// One result's summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Fingerprint {
    pub(crate) rows: u64,
    pub(crate) columns: BTreeMap<String, ColumnPrint>,
}

/// One column's summary; `sum` is `None` for non-numeric columns and for columns without
/// a value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct ColumnPrint {
    pub(crate) count: u64,
    pub(crate) sum: Option<f64>,
}

fn numeric(data_type: &DataType) -> bool {
    data_type.is_numeric() || *data_type == DataType::Boolean
}

impl Fingerprint {
    /// The summary of `batches`, every batch with the columns of the first.
    pub(crate) fn of(batches: &[RecordBatch]) -> Result<Self> {
        let mut print = Fingerprint {
            rows: 0,
            columns: BTreeMap::new(),
        };
        for batch in batches {
            print.rows += batch.num_rows() as u64;
            for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
                let entry = print
                    .columns
                    .entry(field.name().clone())
                    .or_insert(ColumnPrint {
                        count: 0,
                        sum: None,
                    });
                let values = (column.len() - column.null_count()) as u64;
                entry.count += values;
                if numeric(field.data_type()) && values > 0 {
                    let doubles = cast(column, &DataType::Float64)
                        .with_context(|| format!("summing column {}", field.name()))?;
                    let sum: f64 = doubles.as_primitive::<Float64Type>().iter().flatten().sum();
                    entry.sum = Some(entry.sum.unwrap_or(0.0) + sum);
                }
            }
        }
        Ok(print)
    }

    /// The differences between `self` (ccpulse) and `other` (DuckDB); empty when they
    /// agree. Sums are compared where both engines give one, within [`TOLERANCE`].
    pub(crate) fn differences(&self, other: &Fingerprint) -> Vec<String> {
        let mut out = Vec::new();
        if self.rows != other.rows {
            out.push(format!("{} rows vs {}", self.rows, other.rows));
        }
        for (name, mine) in &self.columns {
            let Some(theirs) = other.columns.get(name) else {
                out.push(format!("column {name} missing on DuckDB's side"));
                continue;
            };
            if mine.count != theirs.count {
                out.push(format!(
                    "column {name}: {} values vs {}",
                    mine.count, theirs.count
                ));
            }
            if let (Some(a), Some(b)) = (mine.sum, theirs.sum) {
                let scale = a.abs().max(b.abs()).max(1.0);
                if (a - b).abs() > TOLERANCE * scale {
                    out.push(format!("column {name}: sum {a} vs {b}"));
                }
            }
        }
        for name in other.columns.keys() {
            if !self.columns.contains_key(name) {
                out.push(format!("column {name} missing on ccpulse's side"));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{BooleanArray, Float64Array, Int64Array, StringArray};
    use datafusion::arrow::datatypes::{Field, Schema};

    use super::*;

    fn batch(ids: Vec<Option<&str>>, n: Vec<Option<i64>>, x: Vec<f64>) -> RecordBatch {
        let flags: Vec<bool> = x.iter().map(|v| *v > 1.0).collect();
        RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("id", DataType::Utf8, true),
                Field::new("n", DataType::Int64, true),
                Field::new("x", DataType::Float64, false),
                Field::new("flag", DataType::Boolean, false),
            ])),
            vec![
                Arc::new(StringArray::from(ids)),
                Arc::new(Int64Array::from(n)),
                Arc::new(Float64Array::from(x)),
                Arc::new(BooleanArray::from(flags)),
            ],
        )
        .unwrap()
    }

    #[test]
    fn counts_and_sums_over_batches() {
        let print = Fingerprint::of(&[
            batch(vec![Some("a"), None], vec![Some(2), None], vec![0.5, 1.5]),
            batch(vec![Some("b")], vec![None], vec![2.0]),
        ])
        .unwrap();
        assert_eq!(print.rows, 3);
        let column = |name: &str| print.columns[name];
        assert_eq!(
            column("id"),
            ColumnPrint {
                count: 2,
                sum: None
            }
        );
        assert_eq!(
            column("n"),
            ColumnPrint {
                count: 1,
                sum: Some(2.0)
            }
        );
        assert_eq!(column("x").sum, Some(4.0));
        assert_eq!(column("flag").sum, Some(2.0));
    }

    #[test]
    fn differences_name_rows_counts_sums_and_columns() {
        let a = Fingerprint::of(&[batch(vec![Some("a")], vec![Some(1)], vec![1.0])]).unwrap();
        assert!(a.differences(&a).is_empty());
        let mut b = a.clone();
        b.columns.get_mut("x").unwrap().sum = Some(1.0 + 1e-12);
        assert!(a.differences(&b).is_empty(), "within the tolerance");
        b.rows = 2;
        b.columns.get_mut("n").unwrap().count = 0;
        b.columns.get_mut("x").unwrap().sum = Some(1.5);
        b.columns.remove("id");
        b.columns.insert(
            "extra".into(),
            ColumnPrint {
                count: 0,
                sum: None,
            },
        );
        let found = a.differences(&b);
        assert_eq!(found.len(), 5, "{found:?}");
        assert!(found[0].contains("1 rows vs 2"), "{found:?}");
    }
}
