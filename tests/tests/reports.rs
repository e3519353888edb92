//! Every report of the catalog over a day of simulated traffic (three tenants, folded by
//! the real aggregator, part committed and part in the live tail): each report's totals
//! equal the same totals computed straight from the SQL tables, and the interval tables
//! agree with the detail tables where metrics.md attributes both to the same event.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use ccpulse_query::{QueryConfig, QueryEngine, QueryOutput, TenantScope};
use ccpulse_tests::aggregate::simulated;
use ccpulse_tests::query::Folded;
use chrono::{DateTime, TimeZone, Utc};
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type};

/// The sum of a numeric column of a result (NULLs count as nothing).
fn column_total(output: &QueryOutput, column: &str) -> Result<f64> {
    let index = output
        .schema
        .index_of(column)
        .with_context(|| format!("no column {column}"))?;
    let mut total = 0.0;
    for batch in &output.batches {
        let values = cast(batch.column(index), &DataType::Float64)?;
        let values = values.as_primitive::<Float64Type>();
        total += (0..values.len())
            .filter(|&i| !values.is_null(i))
            .map(|i| values.value(i))
            .sum::<f64>();
    }
    Ok(total)
}

/// The one number a scalar query returns.
async fn scalar(engine: &QueryEngine, scope: &TenantScope, sql: &str) -> Result<f64> {
    let output = engine
        .sql(scope, sql)
        .await
        .with_context(|| sql.to_owned())?;
    if output.rows != 1 || output.schema.fields().len() != 1 {
        bail!("{sql}: expected one value, got {} rows", output.rows);
    }
    let name = output.schema.field(0).name().clone();
    column_total(&output, &name)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0)
}

#[tokio::test]
async fn every_reports_totals_equal_the_tables() -> Result<()> {
    let (events, config) = simulated(11, 0, 24 * 3_600_000, 3);
    let tenants: Vec<(String, chrono_tz::Tz)> = config
        .tenants
        .iter()
        .map(|(id, settings)| (id.clone(), settings.timezone))
        .collect();
    let first = events
        .iter()
        .map(|e| e.occurred_at)
        .min()
        .unwrap_or_default();
    let folded = Folded::new(&events, config, 3)?;
    let engine = folded.live_engine(QueryConfig::default())?;
    // A range around every event: from a day before to two days after.
    let from = Utc
        .timestamp_millis_opt(first - 86_400_000)
        .single()
        .context("from")?;
    let to: DateTime<Utc> = from + chrono::TimeDelta::days(4);
    let range = |column: &str| {
        format!(
            "{column} >= TIMESTAMP '{}' AND {column} < TIMESTAMP '{}'",
            from.to_rfc3339(),
            to.to_rfc3339()
        )
    };
    let params: Vec<(String, String)> = vec![
        ("from".into(), from.to_rfc3339()),
        ("to".into(), to.to_rfc3339()),
    ];
    let mut checked = BTreeMap::<&str, usize>::new();
    // Totals over all tenants per (report, column): each must be non-zero, or the check
    // compared nothing with nothing.
    let mut totals = BTreeMap::<(&str, &str), f64>::new();
    for (tenant, timezone) in &tenants {
        let scope = TenantScope::new(tenant.clone(), *timezone);
        let qi = range("interval_start");
        let detail = range("queued_at");
        // (report, interval, report column, the same total straight from the tables)
        let checks: Vec<(&str, Option<&str>, &str, String)> = vec![
            (
                "queue_performance",
                Some("60 minutes"),
                "offered",
                format!("SELECT sum(offered) FROM queue_intervals WHERE {qi}"),
            ),
            (
                "queue_performance",
                Some("15 minutes"),
                "answered",
                format!("SELECT sum(answered) FROM queue_intervals WHERE {qi}"),
            ),
            (
                "queue_performance",
                Some("day"),
                "abandoned",
                format!("SELECT sum(abandoned) FROM queue_intervals WHERE {qi}"),
            ),
            (
                "queue_performance",
                Some("week"),
                "flowed_out",
                format!("SELECT sum(flowed_out) FROM queue_intervals WHERE {qi}"),
            ),
            (
                "queue_performance",
                Some("month"),
                "transfers",
                format!("SELECT sum(transfers) FROM queue_intervals WHERE {qi}"),
            ),
            (
                "service_level_by_day",
                None,
                "answered_within_threshold",
                format!("SELECT sum(answered_within_sl) FROM queue_intervals WHERE {qi}"),
            ),
            (
                "service_level_by_day",
                None,
                "offered",
                format!("SELECT count(*) FROM interactions WHERE {detail}"),
            ),
            (
                "agent_performance",
                Some("30 minutes"),
                "handled",
                format!("SELECT sum(handled) FROM agent_intervals WHERE {qi}"),
            ),
            (
                "agent_performance",
                Some("day"),
                "login_s",
                format!("SELECT sum(login_ms) / 1000.0 FROM agent_intervals WHERE {qi}"),
            ),
            (
                "agent_performance",
                Some("day"),
                "away_s",
                format!("SELECT sum(away_ms) / 1000.0 FROM agent_intervals WHERE {qi}"),
            ),
            (
                "agent_state_detail",
                None,
                "duration_s",
                format!(
                    "SELECT sum(duration_ms) / 1000.0 FROM agent_states WHERE {}",
                    range("started_at")
                ),
            ),
            (
                "abandoned_contacts",
                None,
                "wait_s",
                format!(
                    "SELECT sum(wait_ms) / 1000.0 FROM interactions WHERE outcome = 'abandoned' AND {detail}"
                ),
            ),
            (
                "disposition_summary",
                Some("day"),
                "contacts",
                format!(
                    "SELECT count(*) FROM interactions WHERE outcome = 'answered' AND {detail}"
                ),
            ),
            (
                "interaction_detail",
                None,
                "handle_s",
                format!("SELECT sum(handle_ms) / 1000.0 FROM interactions WHERE {detail}"),
            ),
            (
                "interaction_detail",
                None,
                "visit",
                format!("SELECT sum(visit) FROM interactions WHERE {detail}"),
            ),
            (
                "csat_summary",
                Some("day"),
                "responses",
                format!("SELECT sum(csat_responses) FROM queue_intervals WHERE {qi}"),
            ),
            (
                "csat_summary",
                Some("day"),
                "satisfied",
                format!("SELECT count(*) FROM interactions WHERE csat >= 4 AND {detail}"),
            ),
            (
                "dialer_campaign_results",
                Some("day"),
                "attempts",
                format!("SELECT sum(attempts) FROM campaign_intervals WHERE {qi}"),
            ),
            (
                "dialer_campaign_results",
                Some("60 minutes"),
                "dropped",
                format!("SELECT sum(dropped) FROM campaign_intervals WHERE {qi}"),
            ),
            (
                "tenant_usage",
                Some("day"),
                "queue_visits",
                format!("SELECT sum(offered) FROM queue_intervals WHERE {qi}"),
            ),
            (
                "tenant_usage",
                Some("week"),
                "talk_minutes",
                format!("SELECT sum(talk_ms) / 60000.0 FROM interactions WHERE {detail}"),
            ),
        ];
        for (report, interval, column, sql) in checks {
            let mut params = params.clone();
            if let Some(interval) = interval {
                params.push(("interval".into(), interval.into()));
            }
            let output = engine
                .report(&scope, report, &params, to)
                .await
                .with_context(|| format!("{tenant}: report {report}"))?;
            let def = engine
                .reports()
                .iter()
                .find(|r| r.name == report)
                .context("listed")?;
            let names: Vec<&str> = output
                .schema
                .fields()
                .iter()
                .map(|f| f.name().as_str())
                .collect();
            let declared: Vec<&str> = def.columns.iter().map(|c| c.name).collect();
            assert_eq!(names, declared, "{report}: columns as listed");
            let from_report = column_total(&output, column)?;
            let from_tables = scalar(&engine, &scope, &sql).await?;
            assert!(
                close(from_report, from_tables),
                "{tenant}: {report} ({interval:?}) total of {column} = {from_report}, tables say {from_tables} ({sql})"
            );
            *checked.entry(report).or_default() += 1;
            *totals.entry((report, column)).or_default() += from_tables;
        }
        // The traffic is rich enough for the checks to mean something.
        let offered = scalar(
            &engine,
            &scope,
            &format!("SELECT sum(offered) FROM queue_intervals WHERE {qi}"),
        )
        .await?;
        assert!(offered > 100.0, "{tenant}: only {offered} contacts offered");
    }
    assert_eq!(
        checked.len(),
        engine.reports().len(),
        "every report checked: {checked:?}"
    );
    let empty: Vec<_> = totals.iter().filter(|(_, total)| **total <= 0.0).collect();
    assert!(empty.is_empty(), "checks that compared nothing: {empty:?}");
    Ok(())
}

#[tokio::test]
async fn reports_refuse_bad_parameters_and_unknown_names() -> Result<()> {
    let (events, config) = simulated(3, 0, 3_600_000, 1);
    let tenant = config.tenants.keys().next().context("a tenant")?.clone();
    let folded = Folded::new(&events, config, 0)?;
    let engine = folded.live_engine(QueryConfig::default())?;
    let scope = TenantScope::new(tenant, chrono_tz::UTC);
    let now = Utc::now();
    let err = engine
        .report(&scope, "no_such_report", &[], now)
        .await
        .expect_err("unknown");
    assert_eq!(err.code(), "unknown_report");
    assert!(err.to_string().contains("queue_performance"), "{err}");
    let bad = vec![("interval".to_owned(), "fortnight".to_owned())];
    let err = engine
        .report(&scope, "queue_performance", &bad, now)
        .await
        .expect_err("bad");
    assert_eq!(err.code(), "invalid_parameter");
    assert!(err.is_client_error());
    Ok(())
}

/// Every cell of the first sheet of an XLSX file.
fn read_xlsx(bytes: Vec<u8>) -> Result<(String, Vec<Vec<calamine::Data>>)> {
    use calamine::Reader;
    let mut book: calamine::Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes))?;
    let sheet = book.sheet_names().first().cloned().context("a sheet")?;
    let range = book.worksheet_range(&sheet)?;
    Ok((sheet, range.rows().map(|row| row.to_vec()).collect()))
}

#[tokio::test]
async fn a_downloaded_xlsx_report_has_the_columns_types_and_totals_of_the_tables() -> Result<()> {
    use calamine::Data;
    use ccpulse_query::export::{ExportFormat, ExportOptions, ExportWriter};
    use ccpulse_query::reports::ExportMode;

    let (events, config) = simulated(5, 8, 8 * 3_600_000, 1);
    let (tenant, timezone) = config
        .tenants
        .iter()
        .map(|(id, s)| (id.clone(), s.timezone))
        .next()
        .context("a tenant")?;
    let folded = Folded::new(&events, config, 2)?;
    let engine = folded.live_engine(QueryConfig::default())?;
    let scope = TenantScope::new(tenant.clone(), timezone);
    let first = events
        .iter()
        .map(|e| e.occurred_at)
        .min()
        .unwrap_or_default();
    let from = Utc
        .timestamp_millis_opt(first - 86_400_000)
        .single()
        .context("from")?;
    let to = from + chrono::TimeDelta::days(3);
    let params: Vec<(String, String)> = vec![
        ("from".into(), from.to_rfc3339()),
        ("to".into(), to.to_rfc3339()),
        ("interval".into(), "60 minutes".into()),
    ];

    let mut stream = engine
        .stream_report(
            &scope,
            "queue_performance",
            &params,
            to,
            ExportMode::Filtered,
        )
        .await?;
    let options = ExportOptions {
        timezone: Some(timezone),
        sheet_name: "queue_performance".into(),
        ..ExportOptions::default()
    };
    let mut bytes = Vec::new();
    let mut writer = ExportWriter::new(
        &mut bytes,
        ExportFormat::Xlsx,
        stream.schema().clone(),
        options,
    )?;
    while let Some(batch) = stream.next_batch().await {
        writer.write_batch(&batch?)?;
    }
    let summary = writer.finish()?;
    let (sheet, rows) = read_xlsx(bytes)?;
    assert_eq!(sheet, "queue_performance");

    // The header is the report's column list.
    let report = engine.find_report("queue_performance")?;
    let header: Vec<String> = rows[0].iter().map(|cell| cell.to_string()).collect();
    let declared: Vec<&str> = report.columns.iter().map(|c| c.name).collect();
    assert_eq!(header, declared);
    assert_eq!(rows.len() as u64 - 1, summary.rows);
    assert!(
        summary.rows > 8,
        "an hour per row over a working day: {} rows",
        summary.rows
    );

    // Types: a date-time, text, whole numbers, fractions; totals equal the tables'.
    let column = |name: &str| header.iter().position(|h| h == name).expect("column");
    let mut totals = BTreeMap::<&str, f64>::new();
    for row in &rows[1..] {
        assert!(
            matches!(row[column("period_start")], Data::DateTime(_)),
            "{row:?}"
        );
        assert!(
            matches!(row[column("queue_id")], Data::String(_)),
            "{row:?}"
        );
        for name in ["offered", "answered", "abandoned", "flowed_out"] {
            match &row[column(name)] {
                Data::Float(v) => *totals.entry(name).or_default() += v,
                Data::Int(v) => *totals.entry(name).or_default() += *v as f64,
                other => panic!("{name}: not a number: {other:?}"),
            }
        }
        assert!(
            matches!(row[column("service_level")], Data::Float(_) | Data::Empty),
            "{row:?}"
        );
    }
    let range = format!(
        "interval_start >= TIMESTAMP '{}' AND interval_start < TIMESTAMP '{}'",
        from.to_rfc3339(),
        to.to_rfc3339()
    );
    for name in ["offered", "answered", "abandoned", "flowed_out"] {
        let from_tables = scalar(
            &engine,
            &scope,
            &format!("SELECT sum({name}) FROM queue_intervals WHERE {range}"),
        )
        .await?;
        assert!(
            close(totals[name], from_tables),
            "{name}: the XLSX says {}, the tables {from_tables}",
            totals[name]
        );
    }
    Ok(())
}
