//! The `ccpulse` binary as a user runs it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use ccpulse_schemas::v1;
use ccpulse_tests::{brokers, consume_all, unique_name};

fn ccpulse(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ccpulse"))
        .args(args)
        .output()
        .expect("run ccpulse")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn january() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/datasets/anonymous-bank-1999/january.txt");
    assert!(
        path.exists(),
        "{} is missing: the shared datasets must sit beside the repository",
        path.display()
    );
    path
}

/// Decodes every line; returns how many there were.
fn assert_all_valid(ndjson: &str) -> usize {
    let mut count = 0;
    for (number, line) in ndjson.lines().enumerate() {
        if let Err(rejection) = v1::decode(line.as_bytes()) {
            panic!("line {}: {rejection}: {line}", number + 1);
        }
        count += 1;
    }
    count
}

#[test]
fn simulate_is_deterministic_valid_and_summarised() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.ndjson");
    let b = dir.path().join("b.ndjson");
    for out in [&a, &b] {
        let output = ccpulse(&[
            "simulate",
            "--seed",
            "7",
            "--duration",
            "6h",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(output.status.success(), "{}", text(&output.stderr));
        let summary = text(&output.stderr);
        assert!(summary.contains("interaction.queued"), "{summary}");
        assert!(summary.contains("wrote "), "{summary}");
    }
    let first = std::fs::read_to_string(&a).unwrap();
    assert_eq!(first, std::fs::read_to_string(&b).unwrap());
    assert!(assert_all_valid(&first) > 1_000);

    let other = dir.path().join("c.ndjson");
    let output = ccpulse(&[
        "simulate",
        "--seed",
        "8",
        "--duration",
        "6h",
        "--out",
        other.to_str().unwrap(),
    ]);
    assert!(output.status.success());
    assert_ne!(first, std::fs::read_to_string(&other).unwrap());
}

#[test]
fn simulate_rejects_bad_flags_with_a_message() {
    let output = ccpulse(&["simulate", "--duration", "soon", "--out", "-"]);
    assert!(!output.status.success());
    assert!(
        text(&output.stderr).contains("duration"),
        "{}",
        text(&output.stderr)
    );

    let output = ccpulse(&["simulate", "--speed", "fast", "--out", "-"]);
    assert!(!output.status.success());
    assert!(
        text(&output.stderr).contains("speed"),
        "{}",
        text(&output.stderr)
    );

    let output = ccpulse(&["simulate"]);
    assert!(!output.status.success(), "an output is required");
}

#[test]
fn import_converts_the_whole_january_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("jan.ndjson");
    let output = ccpulse(&[
        "import",
        "anonymous-bank",
        january().to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let stderr = text(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("31599") || stderr.contains("31,599"),
        "{stderr}"
    );
    assert!(
        stderr.contains("Technion"),
        "acknowledgement missing: {stderr}"
    );
    let text = std::fs::read_to_string(&out).unwrap();
    let events = assert_all_valid(&text);
    assert!(events > 100_000, "only {events} events");
    // In time order (the file itself is grouped by phone line): replayed as is, nothing
    // is older than the aggregator's allowed lateness.
    let times: Vec<i64> = text
        .lines()
        .map(|line| v1::decode(line.as_bytes()).unwrap().occurred_at)
        .collect();
    assert!(times.windows(2).all(|pair| pair[0] <= pair[1]));
}

#[test]
fn import_reports_a_missing_file() {
    let output = ccpulse(&[
        "import",
        "anonymous-bank",
        "/nonexistent/x.txt",
        "--out",
        "-",
    ]);
    assert!(!output.status.success());
    assert!(text(&output.stderr).contains("/nonexistent/x.txt"));
}

#[test]
fn replay_sends_valid_lines_and_reports_bad_ones_by_line_number() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("events.ndjson");
    let simulated = ccpulse(&["simulate", "--seed", "3", "--duration", "1h", "--out", "-"]);
    assert!(simulated.status.success());
    let valid = text(&simulated.stdout);
    let valid_count = valid.lines().count();
    let mut lines: Vec<&str> = valid.lines().collect();
    lines.insert(1, "{\"schema_version\":1}");
    std::fs::write(&input, lines.join("\n")).unwrap();

    let topic = unique_name("cli-replay");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime
        .block_on(ccpulse_tests::create_topic(&topic, 2))
        .expect("create topic");
    let output = ccpulse(&[
        "replay",
        input.to_str().unwrap(),
        "--brokers",
        &brokers(),
        "--topic",
        &topic,
    ]);
    let stdout = text(&output.stdout);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!("sent {valid_count} events")),
        "{stdout}"
    );
    assert!(stderr.contains("events.ndjson:2:"), "{stderr}");
    assert!(stderr.contains("event_id"), "{stderr}");

    let consumed = consume_all(&topic, 2, valid_count, Duration::from_secs(60)).unwrap();
    let mut received: Vec<String> = consumed.iter().map(|m| text(&m.payload)).collect();
    let mut expected: Vec<String> = valid.lines().map(str::to_owned).collect();
    received.sort_unstable();
    expected.sort_unstable();
    assert_eq!(received, expected, "each valid line arrives exactly once");
}

#[test]
fn demo_runs_traffic_through_the_embedded_broker() {
    let output = ccpulse(&[
        "demo",
        "--listen",
        "127.0.0.1:0",
        "--duration",
        "8s",
        "--speed",
        "3600x",
        "--every",
        "2",
    ]);
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", text(&output.stderr));
    let last = stdout.lines().last().expect("a summary line");
    let events: u64 = last
        .split(" events")
        .next()
        .and_then(|head| head.rsplit(' ').next())
        .and_then(|count| count.parse().ok())
        .unwrap_or_else(|| panic!("no event count in {last:?}"));
    assert!(events > 0, "{stdout}");
    assert!(last.contains(" 0 invalid"), "{last}");
    // The aggregator's live view: per tenant what is waiting and today's figures.
    assert!(
        last.contains(": waiting ") && last.contains("today answered"),
        "{last}"
    );
}

/// `ccpulse config …` with only the given configuration variables: none of the caller's
/// `CCPULSE_CONFIG` or `CCPULSE__…` leak in.
fn ccpulse_config(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ccpulse"));
    ccpulse_tests::without_ccpulse_env(command.args(args));
    command.envs(env.iter().copied());
    command.output().expect("run ccpulse")
}

fn example_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/ccpulse.example.toml")
}

#[test]
fn config_check_prints_the_effective_example_configuration() {
    let example = example_config();
    let output = ccpulse_config(
        &["config", "check", "--config", example.to_str().unwrap()],
        &[
            ("CCPULSE__KAFKA__BROKERS", "kafka-1:9092"),
            ("CCPULSE__KAFKA__PROPERTIES__sasl.password", "hunter2"),
        ],
    );
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}{}",
        text(&output.stderr)
    );
    for expected in [
        "timezone = \"Europe/Paris\"",
        "sl_formula = \"ignore_short_abandons\"",
        "allowed_lateness = \"10m\"",
        "brokers = \"kafka-1:9092\"",
        "\"sasl.password\" = \"***\"",
        "CCPULSE__KAFKA__BROKERS",
    ] {
        assert!(stdout.contains(expected), "`{expected}` missing:\n{stdout}");
    }
    assert!(!stdout.contains("hunter2"), "secret printed:\n{stdout}");
}

#[test]
fn config_check_rejects_an_invalid_file_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.toml");
    std::fs::write(
        &broken,
        "[tenants.acme.queues.sales]\nsl_target_pct = 120\n",
    )
    .unwrap();
    // The file comes from CCPULSE_CONFIG here, as a service unit would set it.
    let output = ccpulse_config(
        &["config", "check"],
        &[("CCPULSE_CONFIG", broken.to_str().unwrap())],
    );
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("tenants.acme.queues.sales.sl_target_pct"),
        "{stderr}"
    );
    assert!(stderr.contains("broken.toml"), "{stderr}");
    assert!(text(&output.stdout).is_empty());

    let output = ccpulse_config(
        &["config", "check", "--config", broken.to_str().unwrap()],
        &[("CCPULSE__KAFKA__BROKERZ", "x")],
    );
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("CCPULSE__KAFKA__BROKERZ"), "{stderr}");
}

#[test]
fn config_check_checks_the_alert_rules_of_the_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("alerts/rules.toml");
    std::fs::create_dir_all(rules.parent().unwrap()).unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/alert-rules.example.toml");
    std::fs::copy(&example, &rules).unwrap();
    let data_dir = [("CCPULSE__STORAGE__DATA_DIR", dir.path().to_str().unwrap())];
    let output = ccpulse_config(&["config", "check"], &data_dir);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("alert rules: 8 rules, 2 destinations"),
        "{stderr}"
    );

    let broken = std::fs::read_to_string(&example)
        .unwrap()
        .replace("warning = 0.8", "warning = 80.0")
        .replace("notify = [\"floor-slack\"]", "notify = [\"pager\"]");
    std::fs::write(&rules, broken).unwrap();
    let output = ccpulse_config(&["config", "check"], &data_dir);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    for expected in [
        "rules.toml",
        "rule `sales-sl`: `warning` = 80",
        "rule `voice-oldest-wait`: `notify` names `pager`",
    ] {
        assert!(stderr.contains(expected), "`{expected}` missing: {stderr}");
    }
}

/// Fixture a (tenant `acme`), folded and fully committed into a data directory: what
/// `ccpulse sql` reads.
fn committed_fixture() -> ccpulse_tests::query::Folded {
    use ccpulse_tests::aggregate::fixture;
    use ccpulse_tests::query::Folded;
    let (events, config) = fixture("a-answered-hold-acw-abandons").unwrap();
    let mut folded = Folded::new(&events, config, 0).unwrap();
    folded.checkpoint(events.len() as i64).unwrap();
    folded
}

#[test]
fn sql_answers_from_the_data_directory_in_every_format() {
    let folded = committed_fixture();
    let data_dir = folded.data_dir().to_str().unwrap();
    let query = "SELECT queue_id, offered, answered, abandoned FROM queue_intervals";
    let output = ccpulse(&["sql", "--data-dir", data_dir, "--format", "csv", query]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        text(&output.stdout),
        "queue_id,offered,answered,abandoned\nsupport,7,2,3\n"
    );
    assert!(
        text(&output.stderr).contains("1 row of tenant acme"),
        "{}",
        text(&output.stderr)
    );
    let output = ccpulse(&[
        "sql",
        "--data-dir",
        data_dir,
        "--tenant",
        "acme",
        "--format",
        "json",
        query,
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        text(&output.stdout).trim(),
        r#"[{"queue_id":"support","offered":7,"answered":2,"abandoned":3}]"#
    );
    let output = ccpulse(&["sql", "--data-dir", data_dir, query]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let table = text(&output.stdout);
    assert!(
        table.contains("| support  | 7       | 2        | 3         |"),
        "{table}"
    );
}

#[test]
fn sql_refusals_and_mistakes_exit_2_with_the_reason() {
    let folded = committed_fixture();
    let data_dir = folded.data_dir().to_str().unwrap();
    for (query, expected) in [
        ("DROP TABLE events", "DROP TABLE is not allowed"),
        ("COPY events TO '/tmp/x.csv'", "COPY is not allowed"),
        ("SELECT nope FROM events", "could not plan the query"),
        ("SELECT * FROM events", "more than 5 rows"),
    ] {
        let output = ccpulse(&["sql", "--data-dir", data_dir, "--max-rows", "5", query]);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{query}: {}",
            text(&output.stderr)
        );
        assert!(
            text(&output.stderr).contains(expected),
            "{query}: {}",
            text(&output.stderr)
        );
        assert!(output.stdout.is_empty(), "{query}");
    }
    let output = ccpulse(&[
        "sql",
        "--data-dir",
        data_dir,
        "--tenant",
        "../acme",
        "SELECT 1",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("invalid tenant id"),
        "{}",
        text(&output.stderr)
    );
    let missing = folded.data_dir().join("nowhere");
    let output = ccpulse(&["sql", "--data-dir", missing.to_str().unwrap(), "SELECT 1"]);
    assert!(!output.status.success());
    assert!(
        text(&output.stderr).contains("no data directory"),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn report_list_show_and_run_into_files() {
    let output = ccpulse(&["report", "list"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let list = text(&output.stdout);
    for name in [
        "queue_performance",
        "abandoned_contacts",
        "dialer_campaign_results",
        "tenant_usage",
    ] {
        assert!(list.contains(name), "{name} missing from {list}");
    }
    let output = ccpulse(&["report", "show", "abandoned_contacts"]);
    assert!(output.status.success());
    let shown = text(&output.stdout);
    assert!(
        shown.contains("customer_id") && shown.contains("queues"),
        "{shown}"
    );

    let folded = committed_fixture();
    let data_dir = folded.data_dir().to_str().unwrap();
    let out = folded.data_dir().join("abandoned.csv");
    let output = ccpulse(&[
        "report",
        "run",
        "abandoned_contacts",
        "--data-dir",
        data_dir,
        "--param",
        "from=2026-11-16",
        "--param",
        "to=2026-11-17",
        "--param",
        "timezone=America/New_York",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let csv = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "interaction_id,queue_id,channel,customer_id,queued_at,abandoned_at,wait_s,in_business_hours"
    );
    // Fixture a: c-2, c-3 and c-6 abandoned; times in the report's zone. (Without a
    // configuration file the tenant's zone is UTC; `timezone` picks another.)
    assert_eq!(lines.len(), 4, "{csv}");
    assert!(lines[1].starts_with("c-2,support,voice,"), "{csv}");
    assert!(lines[1].contains("-05:00"), "{csv}");
    assert!(
        text(&output.stderr).contains("3 rows of tenant acme"),
        "{}",
        text(&output.stderr)
    );

    // A page, and XLSX chosen by the extension.
    let page = folded.data_dir().join("page.csv");
    let output = ccpulse(&[
        "report",
        "run",
        "interaction_detail",
        "--data-dir",
        data_dir,
        "--param",
        "from=2026-11-16",
        "--page",
        "2",
        "--page-size",
        "3",
        "--out",
        page.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let page = std::fs::read_to_string(&page).unwrap();
    let ids: Vec<&str> = page
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(ids, ["c-4", "c-5", "c-6"], "{page}");
    let xlsx = folded.data_dir().join("q.xlsx");
    let output = ccpulse(&[
        "report",
        "run",
        "queue_performance",
        "--data-dir",
        data_dir,
        "--param",
        "from=2026-11-16",
        "--out",
        xlsx.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        std::fs::read(&xlsx).unwrap().starts_with(b"PK"),
        "a zip file"
    );

    // Mistakes: exit 2, a reason, and no file left behind.
    let bad = folded.data_dir().join("bad.csv");
    for (args, expected) in [
        (vec!["no_such_report"], "no report named"),
        (
            vec!["queue_performance", "--param", "interval=fortnight"],
            "report parameter interval",
        ),
        (
            vec!["queue_performance", "--param", "agents=a1"],
            "takes no such parameter",
        ),
        (
            vec!["queue_performance", "--param", "novalue"],
            "expected NAME=VALUE",
        ),
    ] {
        let mut all = vec!["report", "run"];
        all.extend(args);
        all.extend(["--data-dir", data_dir, "--out", bad.to_str().unwrap()]);
        let output = ccpulse(&all);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{all:?}: {}",
            text(&output.stderr)
        );
        assert!(
            text(&output.stderr).contains(expected),
            "{all:?}: {}",
            text(&output.stderr)
        );
        assert!(!bad.exists(), "{all:?} left a file");
    }
}
