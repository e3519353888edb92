use std::error::Error as _;
use std::time::Duration;

use ccpulse_schemas::metrics::SlFormula;
use ccpulse_schemas::settings::TenantSettings;
use ccpulse_schemas::v1::Channel;

use super::*;

/// The example file, checked in beside the workspace.
fn example_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/ccpulse.example.toml")
}

fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect()
}

/// Loads `text` as a config file named `ccpulse.toml` with the environment `env`.
fn load_text(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("ccpulse.toml");
    std::fs::write(&path, text).expect("write config");
    load(Some(&path), vars(env))
}

/// The error and its causes, as `main` prints them.
fn report(error: &ConfigError) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).expect("fits")
}

#[test]
fn defaults_without_file_or_environment() {
    let config = load(None, Vec::new()).expect("defaults are valid");
    assert_eq!(config.kafka.brokers, "127.0.0.1:9092");
    assert!(config.kafka.properties.is_empty());
    assert_eq!(config.consumer, ConsumerSettings::default());
    assert_eq!(config.data_dir, PathBuf::from("./ccpulse-data"));
    let fold = FoldConfig::default();
    assert_eq!(
        config.fold.allowed_lateness_ms,
        ms(Duration::from_secs(600))
    );
    assert_eq!(config.fold.allowed_lateness_ms, fold.allowed_lateness_ms);
    assert_eq!(config.fold.survey_window_ms, fold.survey_window_ms);
    assert_eq!(config.fold.stale_after_ms, fold.stale_after_ms);
    assert!(config.fold.tenants.is_empty());
    assert_eq!(config.fold.default_tenant, TenantSettings::default());
    assert_eq!(config.server.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(
        config.server.live_publish_every,
        ccpulse_ingest::aggregate::AggregatorSettings::default().publish_every
    );
    assert_eq!(
        config.server.stream_min_interval,
        ccpulse_dashboard_api::StreamConfig::default().min_interval
    );
    assert_eq!(config.source_file, None);
    assert!(config.env_vars.is_empty());
}

#[test]
fn the_example_file_loads_and_states_the_true_defaults() {
    let path = example_path();
    let config = load(Some(&path), Vec::new()).unwrap_or_else(|e| panic!("{}", report(&e)));
    assert_eq!(config.source_file.as_deref(), Some(path.as_path()));
    let defaults = load(None, Vec::new()).expect("defaults").to_file();
    let example = config.to_file();
    assert_eq!(example.kafka, defaults.kafka);
    assert_eq!(example.consumer, defaults.consumer);
    assert_eq!(example.storage, defaults.storage);
    assert_eq!(example.aggregation, defaults.aggregation);
    assert_eq!(example.server, defaults.server);
    // The example spells out the queue defaults that the built-in ones leave implicit.
    let (listed, built_in) = (&config.fold.default_tenant, TenantSettings::default());
    assert_eq!(listed.timezone, built_in.timezone);
    assert_eq!(listed.business_hours, built_in.business_hours);
    assert!(listed.queues.is_empty());
    for channel in [Channel::Voice, Channel::Chat, Channel::Email] {
        assert_eq!(
            listed.queue("q").sl_threshold_ms(channel),
            built_in.queue("q").sl_threshold_ms(channel)
        );
    }
    assert_eq!(listed.queue("q"), built_in.queue("q"));

    let acme = config.fold.tenant("acme");
    assert_eq!(acme.timezone.name(), "Europe/Paris");
    let sales = acme.queue("sales");
    assert_eq!(sales.sl_threshold_ms(Channel::Voice), 15_000);
    assert_eq!(sales.sl_target_pct, 90.0);
    assert_eq!(sales.sl_formula, SlFormula::IgnoreShortAbandons);
    assert_eq!(sales.short_abandon_ms(), 10_000);
    // Monday 2026-11-16 07:30 UTC = 08:30 in Paris: open.
    assert!(acme.in_business_hours(Some("sales"), 1_794_814_200_000));
    assert_eq!(
        acme.queue("support-email").sl_threshold_ms(Channel::Email),
        14_400_000
    );
}

#[test]
fn the_example_file_lists_every_key() {
    let text = std::fs::read_to_string(example_path()).expect("example");
    let example: Table = text.parse().expect("example is TOML");
    let defaults = Table::try_from(ConfigFile::default()).expect("defaults as TOML");
    for (section, value) in &defaults {
        let Some(keys) = value.as_table() else {
            continue;
        };
        let listed = example
            .get(section)
            .and_then(Value::as_table)
            .unwrap_or_else(|| panic!("[{section}] missing from the example"));
        // Per-queue settings are shown on the worked tenant, `[tenants.acme.queues.…]`.
        for key in keys.keys().filter(|key| *key != "queues") {
            assert!(
                listed.contains_key(key),
                "`{section}.{key}` missing from the example"
            );
        }
    }
}

#[test]
fn a_full_file_sets_every_section() {
    let config = load_text(
        r#"
        [kafka]
        brokers = "k1:9092,k2:9092"
        properties = { "client.id" = "cc", "retries" = 5, "enable.idempotence" = true }

        [consumer]
        topic = "events"
        dead_letter_topic = "events.dlq"
        group_id = "g"
        assignment_strategy = "range"
        checkpoint_every_messages = 1000
        checkpoint_interval = "2s"
        checkpoint_pause_factor = 4
        session_timeout = "30s"
        heartbeat_interval = "5s"
        max_poll_interval = "10m"
        max_batch_messages = 64
        worker_queue_batches = 4
        stats_interval = "0s"
        poll_timeout = "250ms"
        dead_letter_max_message_bytes = 2000000
        dead_letter_truncate_bytes = 1000

        [storage]
        data_dir = "/var/lib/ccpulse"

        [aggregation]
        allowed_lateness = "5m"
        survey_window = "2h"
        stale_after = "1d"

        [server]
        listen = "[::]:9000"

        [tenant_defaults]
        timezone = "America/New_York"
        queue_defaults = { sl_threshold_s = 30 }

        [tenants.globex]
        timezone = "Asia/Tokyo"
        business_hours = { mon = ["09:00-17:00"] }
        queues.vip = { sl_formula = "all_offered", sl_target_pct = 95 }
        "#,
        &[],
    )
    .unwrap_or_else(|e| panic!("{}", report(&e)));
    assert_eq!(config.kafka.brokers, "k1:9092,k2:9092");
    assert_eq!(
        config.kafka.properties,
        vec![
            ("client.id".to_owned(), "cc".to_owned()),
            ("enable.idempotence".to_owned(), "true".to_owned()),
            ("retries".to_owned(), "5".to_owned()),
        ]
    );
    let consumer = &config.consumer;
    assert_eq!(consumer.topic, "events");
    assert_eq!(consumer.dead_letter_topic, "events.dlq");
    assert_eq!(consumer.group_id, "g");
    assert_eq!(consumer.assignment_strategy, "range");
    assert_eq!(consumer.checkpoint_every_messages, 1000);
    assert_eq!(consumer.checkpoint_interval, Duration::from_secs(2));
    assert_eq!(consumer.checkpoint_pause_factor, 4);
    assert_eq!(consumer.session_timeout, Duration::from_secs(30));
    assert_eq!(consumer.heartbeat_interval, Duration::from_secs(5));
    assert_eq!(consumer.max_poll_interval, Duration::from_secs(600));
    assert_eq!(consumer.max_batch_messages, 64);
    assert_eq!(consumer.worker_queue_batches, 4);
    assert_eq!(consumer.stats_interval, Duration::ZERO);
    assert_eq!(consumer.poll_timeout, Duration::from_millis(250));
    assert_eq!(consumer.dead_letter_max_message_bytes, 2_000_000);
    assert_eq!(consumer.dead_letter_truncate_bytes, 1000);
    assert_eq!(config.data_dir, PathBuf::from("/var/lib/ccpulse"));
    assert_eq!(config.fold.allowed_lateness_ms, 300_000);
    assert_eq!(config.fold.survey_window_ms, 7_200_000);
    assert_eq!(config.fold.stale_after_ms, 86_400_000);
    assert_eq!(config.server.listen.to_string(), "[::]:9000");
    let other = config.fold.tenant("initech");
    assert_eq!(other.timezone.name(), "America/New_York");
    assert_eq!(other.queue("q").sl_threshold_ms(Channel::Voice), 30_000);
    let globex = config.fold.tenant("globex");
    assert_eq!(globex.timezone.name(), "Asia/Tokyo");
    let vip = globex.queue("vip");
    assert_eq!(vip.sl_formula, SlFormula::AllOffered);
    assert_eq!(vip.sl_target_pct, 95.0);
    // A listed tenant inherits what it leaves out from `tenant_defaults`.
    assert_eq!(vip.sl_threshold_ms(Channel::Voice), 30_000);
    assert_eq!(
        globex.queue("other").sl_threshold_ms(Channel::Voice),
        30_000
    );
}

#[test]
fn a_listed_tenant_inherits_tenant_defaults_and_replaces_business_hours_whole() {
    let config = load_text(
        r#"
        [tenant_defaults]
        timezone = "Europe/Paris"
        business_hours = { days = ["mon", "tue"], open = "08:00", close = "18:00" }
        queue_defaults = { sl_threshold_s = 45, short_abandon_s = 7 }
        queues.sales = { sl_target_pct = 90 }

        [tenants.acme]
        business_hours = { sat = ["09:00-12:00"] }
        queue_defaults = { sl_threshold_s = 15 }
        queues.sales = { sl_formula = "answered" }
        "#,
        &[],
    )
    .unwrap_or_else(|e| panic!("{}", report(&e)));
    let acme = config.fold.tenant("acme");
    assert_eq!(acme.timezone.name(), "Europe/Paris");
    let sales = acme.queue("sales");
    assert_eq!(sales.sl_target_pct, 90.0);
    assert_eq!(sales.sl_formula, SlFormula::Answered);
    assert_eq!(sales.sl_threshold_ms(Channel::Voice), 15_000);
    assert_eq!(sales.short_abandon_ms(), 7_000);
    // Saturday 2026-11-21 10:00 Paris is open for acme (its own plan, not merged with
    // the default's weekdays), Monday 2026-11-23 10:00 is not.
    assert!(acme.in_business_hours(Some("sales"), 1_795_251_600_000));
    assert!(!acme.in_business_hours(Some("sales"), 1_795_424_400_000));
}

#[test]
fn each_invalid_value_is_reported_under_its_key() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "[tenants.acme.queues.sales]\nsl_target_pct = 120",
            "tenants.acme.queues.sales.sl_target_pct",
            "120 is not a percentage (0 to 100)",
        ),
        (
            "[tenants.acme.queues.sales]\nsl_target_pct = \"high\"",
            "tenants.acme.queues.sales.sl_target_pct",
            "expected f64",
        ),
        (
            "[tenants.acme.queues.sales]\nsl_threshold_s = 0",
            "tenants.acme.queues.sales.sl_threshold_s",
            "at least 1 second",
        ),
        (
            "[tenants.acme.queues.sales]\nsl_threshold_s = -20",
            "tenants.acme.queues.sales.sl_threshold_s",
            "expected u32",
        ),
        (
            "[tenants.acme.queues.sales]\nsl_formula = \"magic\"",
            "tenants.acme.queues.sales.sl_formula",
            "unknown variant `magic`",
        ),
        (
            "[tenants.acme.queues.sales]\nshort_abandon_s = \"5s\"",
            "tenants.acme.queues.sales.short_abandon_s",
            "expected u32",
        ),
        (
            "[tenants.acme]\ntimezone = \"Mars/Olympus\"",
            "tenants.acme.timezone",
            "not an IANA time zone",
        ),
        (
            "[tenants.acme]\nbusiness_hours = { days = [\"mon\"], open = \"20:00\", close = \"08:00\" }",
            "tenants.acme.business_hours",
            "is not before closing",
        ),
        (
            "[tenant_defaults.queue_defaults]\nsl_target_pct = -1",
            "tenant_defaults.queue_defaults.sl_target_pct",
            "not a percentage",
        ),
        (
            "[tenants.\"acme corp\"]\ntimezone = \"UTC\"",
            "tenants.acme corp",
            "is not a tenant id",
        ),
        (
            "[consumer]\ncheckpoint_interval = \"soon\"",
            "consumer.checkpoint_interval",
            "`soon` has an unknown unit",
        ),
        (
            "[consumer]\ncheckpoint_interval = 5",
            "consumer.checkpoint_interval",
            "expected a duration string",
        ),
        (
            "[consumer]\ncheckpoint_interval = \"0s\"",
            "consumer.checkpoint_interval",
            "must be > 0",
        ),
        (
            "[consumer]\nmax_batch_messages = 0",
            "consumer.max_batch_messages",
            "must be > 0",
        ),
        (
            "[consumer]\nmax_batch_messages = -1",
            "consumer.max_batch_messages",
            "expected usize",
        ),
        (
            "[consumer]\nheartbeat_interval = \"20s\"",
            "consumer.heartbeat_interval",
            "at most a third of session_timeout",
        ),
        (
            "[consumer]\ndead_letter_topic = \"ccpulse.events\"",
            "consumer.dead_letter_topic",
            "dead letters would be read back",
        ),
        (
            "[aggregation]\nallowed_lateness = \"10 minutes\"",
            "aggregation.allowed_lateness",
            "unknown unit",
        ),
        (
            "[aggregation]\nstale_after = \"0s\"",
            "aggregation.stale_after",
            "must be at least 1ms",
        ),
        (
            "[aggregation]\nsurvey_window = \"9999999999999999d\"",
            "aggregation.survey_window",
            "too long",
        ),
        (
            "[server]\nlisten = \"localhost\"",
            "server.listen",
            "not a socket address",
        ),
        (
            "[server]\nlive_publish_every = \"1ms\"",
            "server.live_publish_every",
            "must be between 10 ms and 60 s",
        ),
        (
            "[server]\nstream_min_interval = \"2m\"",
            "server.stream_min_interval",
            "must be between 10 ms and 60 s",
        ),
        (
            "[query]\ntime_limit = \"0s\"",
            "query.time_limit",
            "must be longer than 0 s",
        ),
        (
            "[query]\nmax_rows = 0",
            "query.max_rows",
            "must be at least 1",
        ),
        (
            "[query]\nmemory_limit = 5",
            "query.memory_limit",
            "unknown field",
        ),
        ("[kafka]\nbrokers = \"\"", "kafka.brokers", "is empty"),
        (
            "[kafka]\nbrokers = \"a:1,,b:2\"",
            "kafka.brokers",
            "empty entry",
        ),
        (
            "[kafka.properties]\n\"group.id\" = \"mine\"",
            "kafka.properties.group.id",
            "set `consumer.group_id` instead",
        ),
        (
            "[kafka.properties]\n\"fetch.wait.max.ms\" = [10]",
            "kafka.properties.fetch.wait.max.ms",
            "expected a librdkafka property value",
        ),
        ("[storage]\ndata_dir = \"\"", "storage.data_dir", "is empty"),
        (
            "[storage]\ndata_dir = 5",
            "storage.data_dir",
            "invalid type",
        ),
    ];
    for (text, key, expected) in cases {
        let error = load_text(text, &[]).expect_err(text);
        let message = report(&error);
        assert!(
            message.contains(&format!("{key}: ")) || message.contains(&format!("`{key}`")),
            "{text}: key `{key}` missing from: {message}"
        );
        assert!(
            message.contains(expected),
            "{text}: `{expected}` missing from: {message}"
        );
        assert!(
            message.contains("ccpulse.toml"),
            "{text}: file name missing from: {message}"
        );
    }
}

#[test]
fn every_invalid_value_is_reported_at_once() {
    let error = load_text(
        "[server]\nlisten = \"nowhere\"\n\
         [consumer]\nmax_batch_messages = 0\nworker_queue_batches = 0\n\
         [tenants.acme.queues.a]\nsl_target_pct = 101\n\
         [tenants.\"bad id\"]\n",
        &[],
    )
    .expect_err("invalid");
    let ConfigError::Invalid { problems, origin } = &error else {
        panic!("expected Invalid, got {error:?}");
    };
    assert!(matches!(origin, Origin::File(_)), "{origin:?}");
    let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "consumer.max_batch_messages",
            "consumer.worker_queue_batches",
            "tenants.acme.queues.a.sl_target_pct",
            "tenants.bad id",
            "server.listen",
        ]
    );
}

#[test]
fn a_syntax_error_shows_line_and_column() {
    let error = load_text("[kafka]\nbrokers = \"a:1\"\n\n[consumer\n", &[]).expect_err("syntax");
    assert!(matches!(error, ConfigError::ParseFile { .. }), "{error:?}");
    let message = report(&error);
    assert!(message.contains("ccpulse.toml"), "{message}");
    assert!(message.contains("line 4"), "{message}");
    assert!(message.contains("column"), "{message}");
}

#[test]
fn a_missing_file_is_an_error_naming_it() {
    let error =
        load(Some(Path::new("/nonexistent/ccpulse.toml")), Vec::new()).expect_err("missing file");
    assert!(matches!(error, ConfigError::ReadFile { .. }), "{error:?}");
    assert!(error.to_string().contains("/nonexistent/ccpulse.toml"));
}

#[test]
fn unknown_keys_in_the_file_are_errors() {
    for (text, key, field) in [
        ("[kafka]\nbrokerz = \"x\"", "kafka.brokerz", "brokerz"),
        ("[kafak]\nbrokers = \"x\"", "kafak", "kafak"),
        (
            "[tenants.acme.queues.sales]\nthreshold = 20",
            "tenants.acme.queues.sales.threshold",
            "threshold",
        ),
        (
            "[aggregation]\nlateness = \"5m\"",
            "aggregation.lateness",
            "lateness",
        ),
    ] {
        let error = load_text(text, &[]).expect_err(text);
        let ConfigError::Deserialize {
            origin,
            key: got,
            message,
        } = &error
        else {
            panic!("{text}: expected Deserialize, got {error:?}");
        };
        assert!(matches!(origin, Origin::File(_)), "{text}: {origin:?}");
        assert_eq!(got, key, "{text}");
        assert!(
            message.contains(&format!("unknown field `{field}`")),
            "{text}: {message}"
        );
        assert!(error.to_string().contains("ccpulse.toml"), "{error}");
    }
}

#[test]
fn unknown_keys_in_the_environment_name_the_variable() {
    for (var, key) in [
        ("CCPULSE__KAFKA__BROKERZ", "kafka.brokerz"),
        ("CCPULSE__NOPE__X", "nope"),
        (
            "CCPULSE__TENANTS__ACME__QUEUES__SALES__THRESHOLD",
            "tenants.acme.queues.sales.threshold",
        ),
    ] {
        let error = load(None, vars(&[(var, "1")])).expect_err(var);
        let ConfigError::Deserialize {
            origin, key: got, ..
        } = &error
        else {
            panic!("{var}: expected Deserialize, got {error:?}");
        };
        assert_eq!(origin, &Origin::Env(var.to_owned()), "{var}");
        assert_eq!(got, key, "{var}");
        let message = error.to_string();
        assert!(message.contains(var), "{message}");
        assert!(message.contains("unknown field"), "{message}");
    }
}

#[test]
fn environment_overrides_reach_nested_tenant_and_queue_keys() {
    let path = example_path();
    let config = load(
        Some(&path),
        vars(&[
            ("CCPULSE__TENANTS__ACME__TIMEZONE", "America/New_York"),
            ("CCPULSE__TENANTS__ACME__QUEUES__SALES__SL_TARGET_PCT", "95"),
            (
                "CCPULSE__TENANTS__ACME__QUEUES__SALES__SL_FORMULA",
                "all_offered",
            ),
            ("CCPULSE__TENANTS__ACME__QUEUES__VIP__SL_THRESHOLD_S", "5"),
            ("CCPULSE__TENANTS__GLOBEX__TIMEZONE", "Asia/Tokyo"),
            (
                "CCPULSE__TENANTS__GLOBEX__BUSINESS_HOURS__DAYS",
                "[\"sat\", \"sun\"]",
            ),
            ("CCPULSE__TENANTS__GLOBEX__BUSINESS_HOURS__OPEN", "08:00"),
            ("CCPULSE__TENANTS__GLOBEX__BUSINESS_HOURS__CLOSE", "12:00"),
            (
                "CCPULSE__TENANT_DEFAULTS__QUEUE_DEFAULTS__SHORT_ABANDON_S",
                "3",
            ),
            ("CCPULSE__KAFKA__BROKERS", "env-host:9092"),
            ("CCPULSE__KAFKA__PROPERTIES__client.id", "from-env"),
            ("CCPULSE__AGGREGATION__ALLOWED_LATENESS", "5m"),
            ("CCPULSE__CONSUMER__MAX_BATCH_MESSAGES", "1024"),
            // A number where a string or duration is expected is taken as text.
            ("CCPULSE__CONSUMER__GROUP_ID", "42"),
            ("CCPULSE__CONSUMER__CHECKPOINT_INTERVAL", "30"),
            ("ccpulse__server__listen", "0.0.0.0:9090"),
            ("CCPULSE__SERVER__STREAM_MIN_INTERVAL", "50ms"),
            // Not overrides.
            ("CCPULSE_CONFIG", "elsewhere.toml"),
            ("CCPULSE_BROKERS", "ignored:1"),
            ("PATH", "/usr/bin"),
        ]),
    )
    .unwrap_or_else(|e| panic!("{}", report(&e)));
    let acme = config.fold.tenant("acme");
    assert_eq!(acme.timezone.name(), "America/New_York");
    let sales = acme.queue("sales");
    assert_eq!(sales.sl_target_pct, 95.0);
    assert_eq!(sales.sl_formula, SlFormula::AllOffered);
    // What the variables leave alone stays as the file says.
    assert_eq!(sales.sl_threshold_ms(Channel::Voice), 15_000);
    assert!(acme.business_hours.is_some());
    assert_eq!(acme.queue("vip").sl_threshold_ms(Channel::Chat), 5_000);
    let globex = config.fold.tenant("globex");
    assert_eq!(globex.timezone.name(), "Asia/Tokyo");
    // Saturday 2026-11-21 00:30 UTC = 09:30 in Tokyo: open; Monday: closed.
    let saturday = 1_795_221_000_000;
    assert!(globex.in_business_hours(None, saturday));
    assert!(!globex.in_business_hours(None, saturday + 2 * 86_400_000));
    assert_eq!(
        config.fold.default_tenant.queue("q").short_abandon_ms(),
        3_000
    );
    assert_eq!(config.kafka.brokers, "env-host:9092");
    assert_eq!(
        config.kafka.properties,
        vec![("client.id".to_owned(), "from-env".to_owned())]
    );
    assert_eq!(config.fold.allowed_lateness_ms, 300_000);
    assert_eq!(config.consumer.max_batch_messages, 1024);
    assert_eq!(config.consumer.group_id, "42");
    assert_eq!(config.consumer.checkpoint_interval, Duration::from_secs(30));
    assert_eq!(config.server.listen.to_string(), "0.0.0.0:9090");
    assert_eq!(config.server.stream_min_interval, Duration::from_millis(50));
    assert_eq!(config.env_vars.len(), 17);
}

#[test]
fn environment_keys_match_the_file_ignoring_case() {
    let config = load_text(
        "[tenants.Acme]\ntimezone = \"UTC\"",
        &[("CCPULSE__TENANTS__ACME__TIMEZONE", "Europe/Paris")],
    )
    .unwrap_or_else(|e| panic!("{}", report(&e)));
    assert_eq!(config.fold.tenant("Acme").timezone.name(), "Europe/Paris");
    assert!(!config.fold.tenants.contains_key("acme"));

    let error = load_text(
        "[tenants.acme]\n[tenants.ACME]\n",
        &[("CCPULSE__TENANTS__Acme__TIMEZONE", "UTC")],
    )
    .expect_err("ambiguous");
    assert!(
        matches!(&error, ConfigError::EnvOverride { var, .. } if var == "CCPULSE__TENANTS__Acme__TIMEZONE"),
        "{error:?}"
    );
}

#[test]
fn invalid_environment_values_name_the_variable() {
    let var = "CCPULSE__TENANTS__ACME__QUEUES__SALES__SL_TARGET_PCT";
    let error = load(None, vars(&[(var, "high")])).expect_err("not a number");
    let message = error.to_string();
    assert!(message.contains(var), "{message}");
    assert!(
        message.contains("tenants.acme.queues.sales.sl_target_pct"),
        "{message}"
    );
    assert!(message.contains("expected f64"), "{message}");

    let error = load(None, vars(&[(var, "120")])).expect_err("out of range");
    let ConfigError::Invalid { problems, .. } = &error else {
        panic!("expected Invalid, got {error:?}");
    };
    assert_eq!(problems[0].env_var.as_deref(), Some(var));
    assert!(
        error.to_string().contains(&format!("(set by {var})")),
        "{error}"
    );

    let error = load(
        None,
        vars(&[("CCPULSE__CONSUMER__CHECKPOINT_INTERVAL", "soon")]),
    )
    .expect_err("not a duration");
    assert!(
        error
            .to_string()
            .contains("CCPULSE__CONSUMER__CHECKPOINT_INTERVAL"),
        "{error}"
    );
}

#[test]
fn malformed_override_names_are_errors() {
    for var in ["CCPULSE__KAFKA____BROKERS", "CCPULSE__", "CCPULSE__KAFKA__"] {
        let error = load(None, vars(&[(var, "x")])).expect_err(var);
        assert!(
            matches!(&error, ConfigError::EnvOverride { var: got, .. } if got == var),
            "{var}: {error:?}"
        );
    }
    // Below a value the file sets: the path cannot be placed.
    let var = "CCPULSE__KAFKA__BROKERS__HOST";
    let error = load_text("[kafka]\nbrokers = \"a:1\"", &[(var, "x")]).expect_err("nested");
    assert!(
        matches!(&error, ConfigError::EnvOverride { var: got, .. } if got == var),
        "{error:?}"
    );
    assert!(error.to_string().contains("not a table"), "{error}");
    // Below a value the file does not set: a table where a string belongs.
    let error = load(None, vars(&[(var, "x")])).expect_err("nested");
    assert!(
        matches!(&error, ConfigError::Deserialize { origin: Origin::Env(got), key, .. }
            if got == var && key == "kafka.brokers"),
        "{error:?}"
    );
}

#[test]
fn layers_apply_in_order_defaults_file_environment_flags() {
    let text = "[kafka]\nbrokers = \"file:9092\"\n\
                [storage]\ndata_dir = \"/from/file\"\n\
                [aggregation]\nallowed_lateness = \"2m\"\nsurvey_window = \"3h\"\n";
    // File over defaults.
    let config = load_text(text, &[]).expect("file");
    assert_eq!(config.kafka.brokers, "file:9092");
    assert_eq!(config.fold.allowed_lateness_ms, 120_000);
    assert_eq!(
        config.fold.stale_after_ms,
        FoldConfig::default().stale_after_ms
    );
    // Environment over file.
    let mut config = load_text(
        text,
        &[
            ("CCPULSE__KAFKA__BROKERS", "env:9092"),
            ("CCPULSE__AGGREGATION__SURVEY_WINDOW", "30m"),
        ],
    )
    .expect("env");
    assert_eq!(config.kafka.brokers, "env:9092");
    assert_eq!(config.fold.allowed_lateness_ms, 120_000);
    assert_eq!(config.fold.survey_window_ms, 1_800_000);
    assert_eq!(config.data_dir, PathBuf::from("/from/file"));
    // Flags over environment; flags not given change nothing.
    config
        .apply_flags(FlagOverrides {
            brokers: None,
            data_dir: Some(PathBuf::from("/from/flag")),
        })
        .expect("flags");
    assert_eq!(config.kafka.brokers, "env:9092");
    assert_eq!(config.data_dir, PathBuf::from("/from/flag"));
    config
        .apply_flags(FlagOverrides {
            brokers: Some("flag:9092".to_owned()),
            data_dir: None,
        })
        .expect("flags");
    assert_eq!(config.kafka.brokers, "flag:9092");

    let error = config
        .apply_flags(FlagOverrides {
            brokers: Some(" ".to_owned()),
            data_dir: None,
        })
        .expect_err("empty --brokers");
    assert!(error.to_string().contains("--brokers"), "{error}");
    assert_eq!(config.kafka.brokers, "flag:9092");
}

#[test]
fn secrets_are_redacted_in_the_rendering_and_debug_output() {
    let config = load_text(
        r#"
        [kafka.properties]
        "sasl.username" = "ccpulse"
        "sasl.password" = "hunter2"
        "ssl.key.password" = "s3cr3t-key-pass"
        "sasl.oauthbearer.client.secret" = "oauth-secret-value"
        "SSL.Keystore.Password" = "keystore-pass"
        "#,
        &[(
            "CCPULSE__KAFKA__PROPERTIES__ssl.key.pem",
            "-----BEGIN PRIVATE",
        )],
    )
    .unwrap_or_else(|e| panic!("{}", report(&e)));
    let rendered = config.to_redacted_toml().expect("render");
    let debug = format!("{config:?}");
    for secret in [
        "hunter2",
        "s3cr3t-key-pass",
        "oauth-secret-value",
        "keystore-pass",
        "BEGIN PRIVATE",
    ] {
        assert!(!rendered.contains(secret), "{secret} in:\n{rendered}");
        assert!(!debug.contains(secret), "{secret} in:\n{debug}");
    }
    assert!(
        rendered.contains(r#""sasl.password" = "***""#),
        "{rendered}"
    );
    assert!(
        rendered.contains(r#""ssl.key.password" = "***""#),
        "{rendered}"
    );
    assert!(
        rendered.contains(r#""sasl.username" = "ccpulse""#),
        "{rendered}"
    );
    // The library still gets the real values.
    assert!(
        config
            .kafka
            .properties
            .contains(&("sasl.password".to_owned(), "hunter2".to_owned()))
    );
}

#[test]
fn the_rendering_loads_back_to_the_same_configuration() {
    let config = load(Some(&example_path()), Vec::new()).expect("example");
    let rendered = config.to_redacted_toml().expect("render");
    for section in [
        "[kafka]",
        "[consumer]",
        "[storage]",
        "[aggregation]",
        "[tenant_defaults]",
        "[tenants.acme]",
        "[server]",
    ] {
        assert!(rendered.contains(section), "{section} in:\n{rendered}");
    }
    let again = load_text(&rendered, &[]).unwrap_or_else(|e| panic!("{}\n{rendered}", report(&e)));
    assert_eq!(again.to_file(), config.to_file());
}
