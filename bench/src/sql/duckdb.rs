//! The DuckDB side: the same tables over the same Parquet files, and each report's SQL
//! in DuckDB's dialect, run by `duckdb.py` with the venv's Python.
//!
//! **Equivalent work.** ccpulse's tables are views (`query/src/catalog.rs`): every table
//! keeps only the tenant's rows, and an interval table sums its stored deltas (final and
//! provisional rows of one key) into one row per key. DuckDB gets the same views
//! ([`view_sql`]): `read_parquet` over exactly the files ccpulse's snapshot names, the
//! tenant filter, and for interval tables the same `GROUP BY` key with `sum`/`min`/`max`
//! per column. The histogram and map columns are left out of DuckDB's views (no report
//! reads them, and both optimisers drop unused aggregates).
//!
//! **Dialect** ([`rewrite`]): `TIMESTAMP '…Z'` literals become `TIMESTAMPTZ` (the files'
//! timestamps are UTC instants), ccpulse's `time_bucket(ts, size, zone)` becomes DuckDB's
//! fastest equivalent (see [`time_bucket`]), and `service_level(formula, …)` the formula's
//! arithmetic (metrics.md, `SlFormula::terms`) with the same NULL on an empty
//! denominator. `wait_within` (only with `sl_threshold_s`, which the benchmark does not
//! set) has no rewrite and is refused.

use std::path::Path;

use anyhow::{Context as _, Result, bail};
use ccpulse_schemas::source::{TableDef, TableKind};
use datafusion::arrow::datatypes::{DataType, Field};

/// The script that runs the queries (see its docstring).
pub(crate) const SCRIPT: &str = include_str!("duckdb.py");

/// `'text'` as an SQL string literal.
pub(crate) fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// `"name"` as an SQL identifier.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// DuckDB's type for an Arrow column, for an empty view; `None` for the nested types no
/// report reads.
fn duckdb_type(data_type: &DataType) -> Option<&'static str> {
    Some(match data_type {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "VARCHAR",
        DataType::Int64 => "BIGINT",
        DataType::Int32 => "INTEGER",
        DataType::Int16 => "SMALLINT",
        DataType::Int8 => "TINYINT",
        DataType::UInt64 => "UBIGINT",
        DataType::UInt32 => "UINTEGER",
        DataType::Float64 => "DOUBLE",
        DataType::Float32 => "FLOAT",
        DataType::Boolean => "BOOLEAN",
        DataType::Timestamp(_, Some(_)) => "TIMESTAMPTZ",
        DataType::Timestamp(_, None) => "TIMESTAMP",
        DataType::Date32 => "DATE",
        _ => return None,
    })
}

/// Whether a column is nested (list or map): left out of DuckDB's views.
fn nested(field: &Field) -> bool {
    matches!(
        field.data_type(),
        DataType::List(_) | DataType::LargeList(_) | DataType::Map(_, _) | DataType::Struct(_)
    )
}

/// `CREATE VIEW <schema>.<table>` over `files` for `tenant`, doing what ccpulse's view of
/// the table does (see the module docs).
pub(crate) fn view_sql(
    schema: &str,
    def: &TableDef,
    files: &[&Path],
    tenant: &str,
) -> Result<String> {
    let source = if files.is_empty() {
        // No file for this tenant: an empty relation of the table's (flat) columns.
        let columns: Vec<String> = def
            .schema
            .fields()
            .iter()
            .filter_map(|field| {
                duckdb_type(field.data_type())
                    .map(|ty| format!("CAST(NULL AS {ty}) AS {}", ident(field.name())))
            })
            .collect();
        format!("(SELECT {} WHERE false)", columns.join(", "))
    } else {
        let mut paths = Vec::with_capacity(files.len());
        for file in files {
            let path = file
                .to_str()
                .with_context(|| format!("the path `{}` is not UTF-8", file.display()))?;
            paths.push(literal(path));
        }
        format!(
            "read_parquet([{}], hive_partitioning = false)",
            paths.join(", ")
        )
    };
    let tenant_filter = format!("tenant_id = {}", literal(tenant));
    let name = format!("{}.{}", ident(schema), ident(&def.name));
    let body = match def.kind {
        TableKind::Interval { key } => {
            let mut columns = Vec::new();
            for field in def.schema.fields() {
                let column = ident(field.name());
                if key.contains(&field.name().as_str()) {
                    columns.push(column);
                } else if nested(field) {
                    continue;
                } else {
                    let merge = match field.data_type() {
                        DataType::Int64 if field.name().ends_with("_min_ms") => "min",
                        DataType::Int64
                            if field.name().ends_with("_max_ms")
                                || field.name() == "sl_threshold_ms" =>
                        {
                            "max"
                        }
                        DataType::Int64 => "sum",
                        other => bail!(
                            "interval table {}: no rule to merge column {} of type {other}",
                            def.name,
                            field.name()
                        ),
                    };
                    columns.push(format!("{merge}({column}) AS {column}"));
                }
            }
            let group: Vec<String> = key.iter().map(|k| ident(k)).collect();
            format!(
                "SELECT {} FROM {source} WHERE {tenant_filter} GROUP BY {}",
                columns.join(", "),
                group.join(", ")
            )
        }
        TableKind::Detail | TableKind::Live => {
            format!("SELECT * FROM {source} WHERE {tenant_filter}")
        }
    };
    Ok(format!("CREATE VIEW {name} AS {body}"))
}

/// A report's SQL (as ccpulse runs it) in DuckDB's dialect (see the module docs).
pub(crate) fn rewrite(sql: &str) -> Result<String> {
    let sql = sql.replace("TIMESTAMP '", "TIMESTAMPTZ '");
    if find_call(&sql, "wait_within", 0).is_some() {
        bail!("wait_within (sl_threshold_s) has no DuckDB form in the benchmark");
    }
    let sql = rewrite_calls(&sql, "time_bucket", |args| {
        let [ts, size, zone] = args else {
            bail!("time_bucket takes 3 arguments here, got {}", args.len());
        };
        time_bucket(ts, &unquote(size)?, zone)
    })?;
    rewrite_calls(&sql, "service_level", |args| {
        let [formula, aw, a, ab, abw, sa, fo] = args else {
            bail!("service_level takes 7 arguments, got {}", args.len());
        };
        let (a, ab) = (format!("({a})"), format!("({ab})"));
        let (aw, abw, sa, fo) = (
            format!("({aw})"),
            format!("({abw})"),
            format!("({sa})"),
            format!("({fo})"),
        );
        let (numerator, denominator) = match unquote(formula)?.as_str() {
            "answered" => (aw, a),
            "abandons_count" => (aw, format!("{a} + {ab}")),
            "ignore_short_abandons" => (aw, format!("greatest({a} + {ab} - {sa}, 0)")),
            "abandons_after_t" => (aw, format!("{a} + greatest({ab} - {abw}, 0)")),
            "abandons_within_t_good" => (format!("{aw} + {abw}"), format!("{a} + {ab}")),
            "all_offered" => (aw, format!("{a} + {ab} + {fo}")),
            other => bail!("unknown service-level formula {other:?}"),
        };
        Ok(format!(
            "(CAST({numerator} AS DOUBLE) / CAST(nullif({denominator}, 0) AS DOUBLE))"
        ))
    })
}

/// DuckDB's form of ccpulse's `time_bucket(ts, size, zone)`. In UTC: `date_trunc`
/// (calendar sizes) or `time_bucket` (minutes) over the plain `TIMESTAMP`, DuckDB's
/// fastest equivalent; its zone-aware `time_bucket(INTERVAL, TIMESTAMPTZ, zone)` goes
/// through ICU calendars and cost about 20 µs a row for day buckets (DuckDB 1.4.2),
/// which would time ICU rather than the engine. Other zones keep the zone-aware form.
fn time_bucket(ts: &str, size: &str, zone: &str) -> Result<String> {
    let (interval, unit) = match size {
        "15 minutes" => ("15 minutes", None),
        "30 minutes" => ("30 minutes", None),
        "60 minutes" => ("60 minutes", None),
        "day" => ("1 day", Some("day")),
        "week" => ("1 week", Some("week")),
        "month" => ("1 month", Some("month")),
        other => bail!("no DuckDB interval for time_bucket size {other:?}"),
    };
    let utc = matches!(unquote(zone)?.as_str(), "UTC" | "Etc/UTC");
    Ok(match (utc, unit) {
        (true, Some(unit)) => format!("date_trunc('{unit}', CAST({ts} AS TIMESTAMP))"),
        (true, None) => format!("time_bucket(INTERVAL '{interval}', CAST({ts} AS TIMESTAMP))"),
        (false, _) => format!("time_bucket(INTERVAL '{interval}', {ts}, {zone})"),
    })
}

/// The text of an SQL string literal argument.
fn unquote(arg: &str) -> Result<String> {
    let arg = arg.trim();
    match arg.strip_prefix('\'').and_then(|a| a.strip_suffix('\'')) {
        Some(inner) => Ok(inner.replace("''", "'")),
        None => bail!("expected a string literal, got `{arg}`"),
    }
}

/// Where the next call of `name` starts at or after `from` (`name` not preceded by an
/// identifier character, followed by `(`); outside string literals.
fn find_call(sql: &str, name: &str, from: usize) -> Option<usize> {
    let bytes = sql.as_bytes();
    let mut in_string = false;
    let mut i = from;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'\'' {
            in_string = !in_string;
        } else if !in_string
            && sql[i..].starts_with(name)
            && sql[i + name.len()..].starts_with('(')
            && (i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_'))
        {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// Replaces every call `name(args…)` by `replace(args)`; the arguments are split at
/// top-level commas (outside parentheses and string literals) and trimmed.
fn rewrite_calls(
    sql: &str,
    name: &str,
    replace: impl Fn(&[String]) -> Result<String>,
) -> Result<String> {
    let mut out = String::with_capacity(sql.len());
    let mut rest = 0;
    while let Some(start) = find_call(sql, name, rest) {
        out.push_str(&sql[rest..start]);
        let open = start + name.len();
        let (args, end) = split_args(sql, open)
            .with_context(|| format!("unbalanced call of {name} at byte {start}"))?;
        out.push_str(&replace(&args).with_context(|| format!("rewriting {name}(…)"))?);
        rest = end;
    }
    out.push_str(&sql[rest..]);
    Ok(out)
}

/// The arguments of the call whose `(` is at `open`, and the index after its `)`.
fn split_args(sql: &str, open: usize) -> Option<(Vec<String>, usize)> {
    let bytes = sql.as_bytes();
    let (mut depth, mut in_string) = (0usize, false);
    let mut args = Vec::new();
    let mut arg_start = open + 1;
    for (i, &c) in bytes.iter().enumerate().skip(open) {
        match c {
            b'\'' => in_string = !in_string,
            _ if in_string => {}
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    args.push(sql[arg_start..i].trim().to_owned());
                    return Some((args, i + 1));
                }
            }
            b',' if depth == 1 => {
                args.push(sql[arg_start..i].trim().to_owned());
                arg_start = i + 1;
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::datatypes::{Schema, TimeUnit};

    use super::*;

    #[test]
    fn literals_and_time_bucket_are_rewritten() {
        let sql = "SELECT time_bucket(interval_start, '15 minutes', 'UTC') AS p FROM t \
                   WHERE interval_start >= TIMESTAMP '2026-11-16T00:00:00.000Z' \
                   AND name = 'time_bucket(x)'";
        let out = rewrite(sql).unwrap();
        assert_eq!(
            out,
            "SELECT time_bucket(INTERVAL '15 minutes', CAST(interval_start AS TIMESTAMP)) AS p \
             FROM t WHERE interval_start >= TIMESTAMPTZ '2026-11-16T00:00:00.000Z' \
             AND name = 'time_bucket(x)'"
        );
        let out = rewrite("time_bucket(q, 'day', 'UTC')").unwrap();
        assert_eq!(out, "date_trunc('day', CAST(q AS TIMESTAMP))");
        let out = rewrite("time_bucket(q, 'day', 'Europe/Paris')").unwrap();
        assert_eq!(out, "time_bucket(INTERVAL '1 day', q, 'Europe/Paris')");
    }

    #[test]
    fn service_level_becomes_its_formula() {
        let sql = "service_level('abandons_count', sum(aw), sum(a), sum(ab), sum(abw), \
                   sum(sa), sum(fo)) AS service_level";
        assert_eq!(
            rewrite(sql).unwrap(),
            "(CAST((sum(aw)) AS DOUBLE) / CAST(nullif((sum(a)) + (sum(ab)), 0) AS DOUBLE)) \
             AS service_level"
        );
        let sql = "service_level('abandons_after_t', aw, a, ab, abw, sa, fo)";
        assert!(
            rewrite(sql)
                .unwrap()
                .contains("nullif((a) + greatest((ab) - (abw), 0), 0)")
        );
    }

    #[test]
    fn unknown_forms_are_errors_not_panics() {
        assert!(rewrite("service_level('nope', 1, 2, 3, 4, 5, 6)").is_err());
        assert!(rewrite("service_level('answered', 1)").is_err());
        assert!(rewrite("time_bucket(x, 'fortnight', 'UTC')").is_err());
        assert!(rewrite("time_bucket(x, 'day'").is_err());
        assert!(rewrite("wait_within(h, 20)").is_err());
    }

    fn interval_def() -> TableDef {
        let ts = DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()));
        TableDef {
            name: "queue_intervals".into(),
            schema: Arc::new(Schema::new(vec![
                Field::new("tenant_id", DataType::Utf8, false),
                Field::new("queue_id", DataType::Utf8, false),
                Field::new("interval_start", ts, false),
                Field::new("offered", DataType::Int64, false),
                Field::new("wait_min_ms", DataType::Int64, true),
                Field::new("answered_wait_max_ms", DataType::Int64, true),
                Field::new(
                    "answered_wait_histogram",
                    DataType::List(Arc::new(Field::new("item", DataType::Int64, false))),
                    false,
                ),
            ])),
            time_column: Some("interval_start".into()),
            kind: TableKind::Interval {
                key: &["tenant_id", "queue_id", "interval_start"],
            },
        }
    }

    #[test]
    fn interval_views_sum_by_key_for_the_tenant() {
        let def = interval_def();
        let files = [Path::new("/d/a.parquet"), Path::new("/d/it's.parquet")];
        let sql = view_sql("t0", &def, &files, "acme").unwrap();
        assert_eq!(
            sql,
            "CREATE VIEW \"t0\".\"queue_intervals\" AS SELECT \"tenant_id\", \"queue_id\", \
             \"interval_start\", sum(\"offered\") AS \"offered\", min(\"wait_min_ms\") AS \
             \"wait_min_ms\", max(\"answered_wait_max_ms\") AS \"answered_wait_max_ms\" FROM \
             read_parquet(['/d/a.parquet', '/d/it''s.parquet'], hive_partitioning = false) \
             WHERE tenant_id = 'acme' GROUP BY \"tenant_id\", \"queue_id\", \"interval_start\""
        );
    }

    #[test]
    fn a_table_without_files_is_an_empty_typed_view() {
        let def = TableDef {
            kind: TableKind::Detail,
            ..interval_def()
        };
        let sql = view_sql("t1", &def, &[], "acme").unwrap();
        assert!(
            sql.starts_with(
                "CREATE VIEW \"t1\".\"queue_intervals\" AS SELECT * FROM (SELECT \
                 CAST(NULL AS VARCHAR) AS \"tenant_id\""
            ),
            "{sql}"
        );
        assert!(
            sql.contains("CAST(NULL AS TIMESTAMPTZ) AS \"interval_start\""),
            "{sql}"
        );
        assert!(!sql.contains("histogram"), "{sql}");
        assert!(
            sql.ends_with("WHERE false) WHERE tenant_id = 'acme'"),
            "{sql}"
        );
    }
}
