use chrono::TimeZone;

use super::*;

fn report(name: &str) -> ReportDef {
    catalog()
        .into_iter()
        .find(|r| r.name == name)
        .expect("known report")
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect()
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 16, 15, 0, 0)
        .single()
        .expect("valid")
}

const NEW_YORK: Tz = chrono_tz::America::New_York;

#[test]
fn defaults_are_today_in_the_tenants_zone_and_the_reports_interval() {
    let params =
        ReportParams::parse(&report("queue_performance"), &[], NEW_YORK, now()).expect("defaults");
    assert_eq!(params.from.to_rfc3339(), "2026-11-16T05:00:00+00:00");
    assert_eq!(params.to.to_rfc3339(), "2026-11-17T05:00:00+00:00");
    assert_eq!(params.interval, "15 minutes");
    assert_eq!(params.sl_formula, SlFormula::AbandonsCount);
    let params =
        ReportParams::parse(&report("agent_performance"), &[], NEW_YORK, now()).expect("defaults");
    assert_eq!(params.interval, "day");
}

#[test]
fn dates_are_local_midnights_and_instants_are_taken_as_given() {
    let params = ReportParams::parse(
        &report("queue_performance"),
        &pairs(&[
            ("from", "2026-03-08"),
            ("to", "2026-03-09T12:00:00+01:00"),
            ("interval", "60 MINUTES"),
            ("queues", " sales, support ,"),
            ("sl_threshold_s", "30"),
        ]),
        NEW_YORK,
        now(),
    )
    .expect("valid");
    assert_eq!(params.from.to_rfc3339(), "2026-03-08T05:00:00+00:00");
    assert_eq!(params.to.to_rfc3339(), "2026-03-09T11:00:00+00:00");
    assert_eq!(params.interval, "60 minutes");
    assert_eq!(params.queues, ["sales", "support"]);
    assert_eq!(params.sl_threshold_s, Some(30));
    assert_eq!(
        params.within("answered"),
        "wait_within(answered_wait_histogram, 30)"
    );
    assert_eq!(
        params.only(Filter::Queues, "queue_id"),
        " AND queue_id IN ('sales', 'support')"
    );
}

#[test]
fn values_are_quoted_never_spliced() {
    let params = ReportParams::parse(
        &report("interaction_detail"),
        &pairs(&[("queues", "a'); DROP TABLE events; --")]),
        NEW_YORK,
        now(),
    )
    .expect("any id text is a value");
    let sql = (report("interaction_detail").sql)(&params);
    assert!(sql.contains("IN ('a''); DROP TABLE events; --')"), "{sql}");
}

#[test]
fn bad_parameters_are_named() {
    let cases = [
        (
            "agent_state_detail",
            "interval",
            "day",
            "takes no such parameter",
        ),
        (
            "queue_performance",
            "agents",
            "a1",
            "takes no such parameter",
        ),
        ("queue_performance", "from", "yesterday", "expected a date"),
        (
            "queue_performance",
            "interval",
            "7 minutes",
            "expected one of",
        ),
        (
            "queue_performance",
            "timezone",
            "Mars/Base",
            "unknown time zone",
        ),
        ("queue_performance", "sl_formula", "best", "abandons_count"),
        (
            "queue_performance",
            "sl_threshold_s",
            "25",
            "5, 10, 15, 20, 30",
        ),
        (
            "queue_performance",
            "to",
            "2026-11-16T05:00:00Z",
            "is not after from",
        ),
    ];
    for (name, param, value, expected) in cases {
        let err = ReportParams::parse(&report(name), &pairs(&[(param, value)]), NEW_YORK, now())
            .expect_err(param);
        let Error::InvalidParam { name: got, message } = &err else {
            panic!("{param}: {err:?}");
        };
        assert_eq!(got, param);
        assert!(message.contains(expected), "{param}: {message}");
    }
    let twice = pairs(&[("queues", "a"), ("queues", "b")]);
    let err = ReportParams::parse(&report("queue_performance"), &twice, NEW_YORK, now())
        .expect_err("twice");
    assert!(err.to_string().contains("more than once"), "{err}");
}

#[test]
fn the_catalog_covers_the_issue_and_describes_every_report() {
    let names: Vec<&str> = catalog().iter().map(|r| r.name).collect();
    assert_eq!(
        names,
        [
            "queue_performance",
            "service_level_by_day",
            "agent_performance",
            "agent_state_detail",
            "abandoned_contacts",
            "disposition_summary",
            "interaction_detail",
            "csat_summary",
            "dialer_campaign_results",
            "tenant_usage",
        ]
    );
    for report in catalog() {
        assert!(!report.description.is_empty() && !report.title.is_empty());
        assert!(report.columns.iter().all(|c| !c.description.is_empty()));
        assert_eq!(
            report.by_interval.is_some(),
            report.columns.first().map(|c| c.name) == Some("period_start"),
            "{}",
            report.name
        );
    }
}

#[test]
fn export_modes_select_the_page_the_filters_or_everything() {
    let report = report("interaction_detail");
    let params = ReportParams::parse(
        &report,
        &pairs(&[("queues", "sales"), ("agents", "a1")]),
        NEW_YORK,
        now(),
    )
    .expect("valid");
    let filtered = report.sql(&params, ExportMode::Filtered);
    assert!(filtered.contains("queue_id IN ('sales')") && filtered.contains("agent_id IN ('a1')"));
    let everything = report.sql(&params, ExportMode::Everything);
    assert!(!everything.contains(" IN ("), "{everything}");
    assert!(
        everything.contains(&params.range("queued_at")),
        "the range stays"
    );
    let page = report.sql(
        &params,
        ExportMode::Page {
            offset: 50,
            limit: 25,
        },
    );
    assert_eq!(page, format!("{filtered} LIMIT 25 OFFSET 50"));
}

#[test]
fn every_report_ends_with_its_order_so_pages_are_stable() {
    let now = now();
    for report in catalog() {
        let params = ReportParams::parse(&report, &[], NEW_YORK, now).expect("defaults");
        let sql = report.sql(&params, ExportMode::Filtered);
        let last_clause = sql.rsplit("ORDER BY").next().unwrap_or_default();
        assert!(
            sql.contains("ORDER BY")
                && !last_clause.contains(')')
                && !last_clause.contains("LIMIT"),
            "{}: the query must end with ORDER BY: {sql}",
            report.name
        );
    }
}
