//! SQL over a running ingest, against the real broker: rows appear in query results
//! seconds after they are produced (from the aggregator's in-memory tail, long before a
//! checkpoint), and hostile queries — a cartesian bomb, an endless series, DDL, COPY,
//! another tenant's rows — are refused or stopped while ingest keeps up.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ccpulse_ingest::RunStats;
use ccpulse_ingest::aggregate::Aggregator;
use ccpulse_ingest::source::LiveSource;
use ccpulse_ingest::store::DataDir;
use ccpulse_query::{Error, QueryConfig, QueryEngine, QueryLimits, TenantScope};
use ccpulse_schemas::v1::Event;
use ccpulse_tests::aggregate::{Following, TestTopics, produce, simulated};
use ccpulse_tests::unique_name;
use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::Int64Type;

/// Upper bound for any one wait.
const DEADLINE: Duration = Duration::from_secs(60);

async fn count(engine: &QueryEngine, scope: &TenantScope, sql: &str) -> i64 {
    let output = engine
        .sql(scope, sql)
        .await
        .unwrap_or_else(|err| panic!("{sql}: {err}"));
    output.batches[0]
        .column(0)
        .as_primitive::<Int64Type>()
        .value(0)
}

/// Waits until `sql` (a count) returns `expected` for `scope`; returns how long it took.
async fn wait_for_count(
    engine: &QueryEngine,
    scope: &TenantScope,
    sql: &str,
    expected: i64,
) -> Duration {
    let started = Instant::now();
    let mut interval = tokio::time::interval(Duration::from_millis(50));
    loop {
        interval.tick().await;
        let got = count(engine, scope, sql).await;
        if got == expected {
            return started.elapsed();
        }
        assert!(
            got <= expected,
            "{sql}: {got} rows, more than the {expected} produced"
        );
        assert!(
            started.elapsed() < DEADLINE,
            "{sql}: still {got} of {expected} rows after {DEADLINE:?}"
        );
    }
}

fn of_tenant<'a>(events: &'a [Event<'static>], tenant: &str) -> Vec<&'a Event<'static>> {
    events.iter().filter(|e| e.tenant_id == tenant).collect()
}

#[tokio::test]
async fn sql_sees_the_tail_within_seconds_and_hostile_queries_do_not_stop_ingest() {
    let (events, config) = simulated(21, 10, 2 * 3_600_000, 2);
    let tenants: Vec<String> = config.tenants.keys().cloned().collect();
    eprintln!(
        "events per tenant: {:?}",
        tenants
            .iter()
            .map(|t| of_tenant(&events, t).len())
            .collect::<Vec<_>>()
    );
    let topics = TestTopics::create("query-live", 2).await.unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    let aggregator = Arc::new(Aggregator::new(
        DataDir::open(data_dir.path()).unwrap(),
        Arc::new(config),
    ));
    let source = LiveSource::new(data_dir.path().to_path_buf(), aggregator.live());
    let limits = QueryLimits {
        time_limit: Duration::from_secs(2),
        ..QueryLimits::default()
    };
    let engine = Arc::new(
        QueryEngine::new(
            Arc::new(source),
            QueryConfig {
                limits,
                ..QueryConfig::default()
            },
        )
        .unwrap(),
    );
    // Checkpoints only every 10 minutes: what SQL sees comes from the in-memory tail.
    let mut settings = topics.consumer_settings(&unique_name("query-live"));
    settings.checkpoint_interval = Duration::from_secs(600);
    settings.checkpoint_every_messages = 10_000_000;
    let run = Following::start(settings, aggregator, RunStats::new());

    let (first, second) = events.split_at(events.len() / 2);
    produce(&topics.events, first).await.unwrap();
    for tenant in &tenants {
        let scope = TenantScope::new(tenant.clone(), chrono_tz::UTC);
        let expected = of_tenant(first, tenant).len() as i64;
        assert!(expected > 100, "{tenant}: only {expected} events");
        let took = wait_for_count(&engine, &scope, "SELECT count(*) FROM events", expected).await;
        eprintln!("{tenant}: {expected} events visible in SQL {took:?} after the produce returned");
        // Derived tables are there too, and only the tenant's.
        let interactions = count(&engine, &scope, "SELECT count(*) FROM interactions").await;
        assert!(interactions > 0, "{tenant}: no interactions");
        let others = count(
            &engine,
            &scope,
            &format!("SELECT count(*) FROM events WHERE tenant_id <> '{tenant}'"),
        )
        .await;
        assert_eq!(others, 0, "{tenant} sees another tenant's rows");
    }
    assert!(
        !data_dir.path().join("events").exists(),
        "nothing was checkpointed: the rows came from the tail"
    );

    // Hostile queries run while the second half is produced and ingested.
    let busiest = tenants
        .iter()
        .max_by_key(|t| of_tenant(&events, t).len())
        .expect("tenants");
    let scope = TenantScope::new(busiest.clone(), chrono_tz::UTC);
    let hostile = [
        "SELECT count(*) FROM events a, events b, events c, events d",
        "SELECT count(*) FROM generate_series(1, 1000000000000)",
        "SELECT count(*) FROM events a JOIN events b ON a.event_id <> b.event_id \
         JOIN events c ON b.event_id <> c.event_id",
    ];
    let mut attacks = Vec::new();
    for sql in hostile {
        let engine = Arc::clone(&engine);
        let scope = scope.clone();
        attacks.push(tokio::spawn(
            async move { (sql, engine.sql(&scope, sql).await) },
        ));
    }
    let started = Instant::now();
    produce(&topics.events, second).await.unwrap();
    for tenant in &tenants {
        let scope = TenantScope::new(tenant.clone(), chrono_tz::UTC);
        let expected = of_tenant(&events, tenant).len() as i64;
        wait_for_count(&engine, &scope, "SELECT count(*) FROM events", expected).await;
    }
    eprintln!(
        "second half ingested and visible {:?} after producing began",
        started.elapsed()
    );
    for attack in attacks {
        let (sql, result) = attack.await.unwrap();
        assert!(
            matches!(result, Err(Error::TimeLimit { .. })),
            "{sql}: expected the time limit, got {result:?}"
        );
    }
    for (sql, code) in [
        ("DROP TABLE events", "statement_refused"),
        (
            "COPY events TO '/tmp/ccpulse-stolen.csv'",
            "statement_refused",
        ),
        (
            "CREATE EXTERNAL TABLE x STORED AS PARQUET LOCATION '/tmp'",
            "statement_refused",
        ),
        (
            "SET datafusion.execution.target_partitions = 1",
            "statement_refused",
        ),
    ] {
        let err = engine.sql(&scope, sql).await.expect_err(sql);
        assert_eq!(err.code(), code, "{sql}: {err}");
    }
    run.stop().await;
}
