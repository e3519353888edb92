//! `ccpulse token` and `ccpulse serve`, as a user runs them: tokens created on the
//! command line open the API of a running `serve`, which consumes a real broker.

use std::fs::File;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use ccpulse_schemas::v1::Event;
use ccpulse_tests::aggregate::{TestTopics, decode_ndjson, produce};
use ccpulse_tests::api::http_get;
use ccpulse_tests::brokers;
use serde_json::Value;

const DEADLINE: Duration = Duration::from_secs(60);

fn ccpulse(data_dir: &Path, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ccpulse"));
    command.args(args).arg("--data-dir").arg(data_dir);
    ccpulse_tests::without_ccpulse_env(&mut command)
        .output()
        .expect("running ccpulse")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn tokens_are_created_listed_and_revoked_and_only_their_hash_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let created = ccpulse(
        dir.path(),
        &[
            "token",
            "create",
            "--tenant",
            "acme",
            "--role",
            "supervisor",
            "--queues",
            "sales,support",
            "--name",
            "floor-2",
        ],
    );
    assert!(created.status.success(), "{}", text(&created.stderr));
    let token = text(&created.stdout).trim().to_owned();
    assert!(
        token.starts_with("ccp_"),
        "stdout is the token alone: {token:?}"
    );
    assert!(text(&created.stderr).contains("limited to queues sales, support"));
    let id = token.split('_').nth(1).unwrap().to_owned();

    let listed = ccpulse(dir.path(), &["token", "list"]);
    assert!(listed.status.success());
    let list = text(&listed.stdout);
    assert!(
        list.contains(&id) && list.contains("floor-2") && list.contains("supervisor"),
        "{list}"
    );
    assert!(list.contains("sales,support"), "{list}");
    assert!(!list.contains(&token), "the list never shows a token");
    let file = std::fs::read_to_string(dir.path().join("api/tokens.json")).unwrap();
    assert!(!file.contains(&token), "the token file holds its hash only");

    for (args, needle) in [
        (
            vec!["token", "create", "--tenant", "acme", "--role", "root"],
            "unknown role",
        ),
        (
            vec![
                "token", "create", "--tenant", "acme", "--role", "analyst", "--queues", "sales",
            ],
            "only supervisor",
        ),
        (vec!["token", "revoke", "ffffffff"], "no token"),
    ] {
        let output = ccpulse(dir.path(), &args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(
            text(&output.stderr).contains(needle),
            "{args:?}: {}",
            text(&output.stderr)
        );
    }

    let revoked = ccpulse(dir.path(), &["token", "revoke", &id]);
    assert!(revoked.status.success(), "{}", text(&revoked.stderr));
    let listed = ccpulse(dir.path(), &["token", "list"]);
    assert!(!text(&listed.stdout).contains(&id));
}

/// A running `ccpulse serve` and where its API listens.
struct Serve {
    child: Child,
    address: SocketAddr,
    stderr: std::path::PathBuf,
}

impl Serve {
    fn start(data_dir: &Path, topics: &TestTopics, group: &str) -> Self {
        let stderr = data_dir.join("serve.err");
        let mut command = Command::new(env!("CARGO_BIN_EXE_ccpulse"));
        command
            .args([
                "-v",
                "serve",
                "--brokers",
                &brokers(),
                "--listen",
                "127.0.0.1:0",
            ])
            .arg("--data-dir")
            .arg(data_dir);
        ccpulse_tests::without_ccpulse_env(&mut command);
        command.envs([
            ("CCPULSE__CONSUMER__TOPIC", topics.events.as_str()),
            (
                "CCPULSE__CONSUMER__DEAD_LETTER_TOPIC",
                topics.dead_letters.as_str(),
            ),
            ("CCPULSE__CONSUMER__GROUP_ID", group),
            ("CCPULSE__CONSUMER__POLL_TIMEOUT", "20ms"),
            ("CCPULSE__KAFKA__PROPERTIES__fetch.wait.max.ms", "10"),
        ]);
        let mut child = command
            .stdout(Stdio::null())
            .stderr(File::create(&stderr).unwrap())
            .spawn()
            .expect("starting ccpulse serve");
        // The address is printed once the port is bound.
        let until = Instant::now() + DEADLINE;
        let address = loop {
            let log = std::fs::read_to_string(&stderr).unwrap_or_default();
            if let Some(address) = log
                .lines()
                .find_map(|line| line.split("API and wallboard at http://").nth(1))
                .and_then(|rest| rest.split('/').next())
                .and_then(|address| address.parse().ok())
            {
                break address;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("ccpulse serve exited ({status}) before listening:\n{log}");
            }
            assert!(
                Instant::now() < until,
                "ccpulse serve did not listen:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        Self {
            child,
            address,
            stderr,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let (status, body) = http_get(self.address, path, token).expect("calling the API");
        (
            status,
            serde_json::from_str(&body).unwrap_or(Value::String(body)),
        )
    }

    /// Polls `GET path` until `condition` holds on its answer.
    fn wait_for(
        &mut self,
        path: &str,
        token: Option<&str>,
        what: &str,
        condition: impl Fn(u16, &Value) -> bool,
    ) -> Value {
        let until = Instant::now() + DEADLINE;
        loop {
            let (status, body) = self.get(path, token);
            if condition(status, &body) {
                return body;
            }
            if let Ok(Some(exit)) = self.child.try_wait() {
                panic!(
                    "ccpulse serve exited ({exit}) waiting for {what}:\n{}",
                    self.log()
                );
            }
            assert!(
                Instant::now() < until,
                "timed out waiting for {what}; last answer {status} {body}\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM, then the exit status.
    fn stop(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let until = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > until {
                let _ = self.child.kill();
                panic!("ccpulse serve did not stop on SIGTERM:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn events(lines: &str) -> Vec<Event<'static>> {
    decode_ndjson(lines).expect("valid events")
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_consumes_the_broker_and_serves_the_api_to_token_holders() {
    let dir = tempfile::tempdir().unwrap();
    let topics = TestTopics::create("serve", 2).await.unwrap();
    let created = ccpulse(
        dir.path(),
        &["token", "create", "--tenant", "acme", "--role", "admin"],
    );
    assert!(created.status.success(), "{}", text(&created.stderr));
    let admin = text(&created.stdout).trim().to_owned();
    let mut serve = Serve::start(dir.path(), &topics, &ccpulse_tests::unique_name("serve"));

    assert_eq!(serve.get("/healthz", None).0, 200);
    serve.wait_for("/readyz", None, "readiness", |status, body| {
        status == 200 && body["ready"] == true
    });
    assert_eq!(serve.get("/api/v1/queues", None).0, 401);
    assert_eq!(serve.get("/api/v1/queues", Some("ccp_00000000_0")).0, 401);

    produce(&topics.events, &events(r#"
{"schema_version":1,"event_id":"s1","tenant_id":"acme","type":"agent.logged_in","occurred_at":"2026-11-16T14:00:00.000Z","agent_id":"ag-1","queues":["support"],"capacity":{"voice":1},"team_id":"care"}
{"schema_version":1,"event_id":"s2","tenant_id":"acme","type":"agent.state_changed","occurred_at":"2026-11-16T14:00:00.000Z","agent_id":"ag-1","state":"available"}
{"schema_version":1,"event_id":"s3","tenant_id":"acme","type":"interaction.queued","occurred_at":"2026-11-16T14:01:00.000Z","interaction_id":"c-1","channel":"voice","direction":"inbound","queue_id":"support"}
{"schema_version":1,"event_id":"s4","tenant_id":"acme","type":"interaction.queued","occurred_at":"2026-11-16T14:01:30.000Z","interaction_id":"c-2","channel":"voice","direction":"inbound","queue_id":"support"}
"#)).await.unwrap();
    let queues = serve.wait_for(
        "/api/v1/queues",
        Some(&admin),
        "two waiting contacts",
        |status, body| status == 200 && body["queues"][0]["waiting_now"] == 2,
    );
    assert_eq!(queues["queues"][0]["queue_id"], "support");
    assert_eq!(queues["queues"][0]["oldest_wait_ms"], 30_000);
    assert_eq!(queues["queues"][0]["agents"]["available"], 1);

    // A token created while serve runs works at once (the file is re-read).
    let created = ccpulse(
        dir.path(),
        &["token", "create", "--tenant", "acme", "--role", "viewer"],
    );
    let viewer = text(&created.stdout).trim().to_owned();
    let (status, agents) = serve.get("/api/v1/agents", Some(&viewer));
    assert_eq!(status, 200, "{agents}");
    assert_eq!(agents["agents"][0]["agent_id"], "ag-1");
    assert_eq!(serve.get("/api/v1/tables", Some(&viewer)).0, 403);

    let (status, metrics) = http_get(serve.address, "/metrics", None).unwrap();
    assert_eq!(status, 200);
    assert!(metrics.contains("ccpulse_events_total 4"), "{metrics}");
    assert!(
        metrics.contains("ccpulse_consumer_partitions_assigned 2"),
        "{metrics}"
    );

    let status = serve.stop();
    assert!(status.success(), "serve exits cleanly on SIGTERM: {status}");
}

/// The text of `[data-queue=queue] [data-field=field]` on the page (`null` when absent).
fn tile_field(queue: &str, field: &str) -> String {
    format!(
        "(document.querySelector('[data-queue=\"{queue}\"] [data-field=\"{field}\"]')?.textContent ?? null)"
    )
}

fn agent_field(agent: &str, field: &str) -> String {
    format!(
        "(document.querySelector('[data-agent=\"{agent}\"] [data-field=\"{field}\"]')?.textContent ?? null)"
    )
}

/// A fraction as the page shows it ("87.5 %", "—" for none).
fn percent(value: &Value) -> String {
    value
        .as_f64()
        .map_or_else(|| "—".to_owned(), |f| format!("{:.1} %", f * 100.0))
}

/// Headless Chromium drives the real page served by `ccpulse serve` with a viewer
/// token: the tiles and the agent grid show what the API reports, and follow new
/// events produced to the broker. A screenshot is saved in the test output.
#[tokio::test(flavor = "multi_thread")]
async fn the_wallboard_shows_what_the_api_reports_and_follows_new_events() {
    use ccpulse_tests::browser::{Browser, test_output_path};
    let dir = tempfile::tempdir().unwrap();
    let topics = TestTopics::create("wallboard", 1).await.unwrap();
    let created = ccpulse(
        dir.path(),
        &[
            "token", "create", "--tenant", "acme", "--role", "viewer", "--name", "wall",
        ],
    );
    assert!(created.status.success(), "{}", text(&created.stderr));
    let viewer = text(&created.stdout).trim().to_owned();
    // An alert rule that fires on sales' abandoned call.
    std::fs::create_dir_all(dir.path().join("alerts")).unwrap();
    std::fs::write(
        dir.path().join("alerts/rules.toml"),
        r#"
[[rule]]
id = "sales-abandons"
tenant = "acme"
name = "Sales abandons"
scope = { queues = ["sales"] }
metric = "abandoned"
window = "today"
comparison = "above"
warning = 0.0
"#,
    )
    .unwrap();
    let mut serve = Serve::start(
        dir.path(),
        &topics,
        &ccpulse_tests::unique_name("wallboard"),
    );
    serve.wait_for("/readyz", None, "readiness", |status, body| {
        status == 200 && body["ready"] == true
    });

    produce(&topics.events, &events(r#"
{"schema_version":1,"event_id":"w01","tenant_id":"acme","type":"agent.logged_in","occurred_at":"2026-11-16T14:00:00.000Z","agent_id":"ag-1","queues":["support"],"capacity":{"voice":1},"team_id":"care"}
{"schema_version":1,"event_id":"w02","tenant_id":"acme","type":"agent.state_changed","occurred_at":"2026-11-16T14:00:00.000Z","agent_id":"ag-1","state":"available"}
{"schema_version":1,"event_id":"w03","tenant_id":"acme","type":"agent.logged_in","occurred_at":"2026-11-16T14:00:00.000Z","agent_id":"ag-2","queues":["sales"],"capacity":{"voice":1},"team_id":"north"}
{"schema_version":1,"event_id":"w04","tenant_id":"acme","type":"agent.state_changed","occurred_at":"2026-11-16T14:00:00.000Z","agent_id":"ag-2","state":"away","reason":"lunch"}
{"schema_version":1,"event_id":"w05","tenant_id":"acme","type":"interaction.queued","occurred_at":"2026-11-16T14:01:00.000Z","interaction_id":"c-1","channel":"voice","direction":"inbound","queue_id":"support"}
{"schema_version":1,"event_id":"w06","tenant_id":"acme","type":"interaction.queued","occurred_at":"2026-11-16T14:01:30.000Z","interaction_id":"c-2","channel":"voice","direction":"inbound","queue_id":"support"}
{"schema_version":1,"event_id":"w07","tenant_id":"acme","type":"interaction.queued","occurred_at":"2026-11-16T14:02:00.000Z","interaction_id":"c-3","channel":"voice","direction":"inbound","queue_id":"sales"}
{"schema_version":1,"event_id":"w08","tenant_id":"acme","type":"interaction.abandoned","occurred_at":"2026-11-16T14:02:10.000Z","interaction_id":"c-3","channel":"voice","direction":"inbound","queue_id":"sales"}
"#)).await.unwrap();
    let api = serve.wait_for(
        "/api/v1/queues",
        Some(&viewer),
        "both queues",
        |status, body| {
            status == 200
                && body["queues"].as_array().is_some_and(|q| q.len() == 2)
                && body["queues"][1]["waiting_now"] == 2
        },
    );

    let browser = Browser::launch()
        .await
        .expect("headless Chromium (scripts/install-browser.sh)");
    let page = browser
        .new_page(&format!("http://{}/#token={viewer}", serve.address))
        .await
        .unwrap();
    page.wait_for("document.body.dataset.connection === 'live'", DEADLINE)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "the page never went live: {e}; console: {:?}",
                page.console()
            )
        });
    // The token left the address bar.
    let href = page.evaluate("location.href").await.unwrap();
    assert!(!href.as_str().unwrap().contains("ccp_"), "{href}");

    // Every tile shows the API's figures.
    for queue in api["queues"].as_array().unwrap() {
        let id = queue["queue_id"].as_str().unwrap();
        let waiting = queue["waiting_now"].to_string();
        page.wait_for(
            &format!("{} === '{waiting}'", tile_field(id, "waiting_now")),
            DEADLINE,
        )
        .await
        .unwrap_or_else(|e| panic!("{id} waiting: {e}"));
        let shown = |field: &str| {
            let page = &page;
            let expression = tile_field(id, field);
            async move { page.evaluate(&expression).await.unwrap() }
        };
        assert_eq!(
            shown("sl_today").await,
            percent(&queue["today"]["service_level"]),
            "{id}"
        );
        assert_eq!(
            shown("abandon_rate").await,
            percent(&queue["today"]["abandon_rate"]),
            "{id}"
        );
        for state in ["available", "away", "interacting"] {
            assert_eq!(
                shown(&format!("agents_{state}")).await,
                queue["agents"][state].to_string(),
                "{id} {state}"
            );
        }
    }
    // sales: one abandon, no answer → SL 0 % against 80 %: missed, in words and data.
    let status = page
        .evaluate("document.querySelector('[data-queue=\"sales\"]').dataset.slStatus")
        .await
        .unwrap();
    assert_eq!(status, "missed");
    assert_eq!(
        page.evaluate(&tile_field("sales", "sl_today_status"))
            .await
            .unwrap(),
        "missed"
    );
    // support: nobody answered yet → no data.
    assert_eq!(
        page.evaluate(&tile_field("support", "sl_today_status"))
            .await
            .unwrap(),
        "no data"
    );
    // The alert on sales is listed above the tiles and marks the sales tile.
    let (_, alerts) = serve.get("/api/v1/alerts", Some(&viewer));
    let message = alerts["alerts"][0]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        message.contains("abandoned (today) 1 is above 0 on queue sales"),
        "{alerts}"
    );
    page.wait_for(
        "document.querySelector('#alert-list li.alert[data-state=\"firing\"]') !== null",
        DEADLINE,
    )
    .await
    .unwrap_or_else(|e| panic!("no alert on the page: {e}"));
    let shown = page
        .evaluate(
            "document.querySelector('#alert-list li.alert [data-field=\"message\"]').textContent",
        )
        .await
        .unwrap();
    assert_eq!(shown, message.as_str());
    let marked = page
        .evaluate(
            "document.querySelector('[data-queue=\"sales\"]').classList.contains('alert-warning')",
        )
        .await
        .unwrap();
    assert_eq!(marked, true, "the sales tile is marked");
    let buttons = page
        .evaluate(
            "[...document.querySelectorAll('#alert-list button[data-action=\"acknowledge\"]')].filter(b => !b.hidden).length",
        )
        .await
        .unwrap();
    assert_eq!(buttons, 0, "a viewer gets no Acknowledge button");

    // The agent grid: states as the API has them.
    assert_eq!(
        page.evaluate(&agent_field("ag-2", "state")).await.unwrap(),
        "Away (lunch)"
    );
    assert_eq!(
        page.evaluate(&agent_field("ag-1", "team")).await.unwrap(),
        "care"
    );

    // An answer produced to the broker reaches the page: one fewer waiting, ag-1 busy.
    produce(&topics.events, &events(r#"
{"schema_version":1,"event_id":"w09","tenant_id":"acme","type":"interaction.offered","occurred_at":"2026-11-16T14:02:20.000Z","interaction_id":"c-1","channel":"voice","direction":"inbound","queue_id":"support","agent_id":"ag-1"}
{"schema_version":1,"event_id":"w10","tenant_id":"acme","type":"interaction.answered","occurred_at":"2026-11-16T14:02:25.000Z","interaction_id":"c-1","channel":"voice","direction":"inbound","queue_id":"support","agent_id":"ag-1"}
"#)).await.unwrap();
    page.wait_for(
        &format!("{} === '1'", tile_field("support", "waiting_now")),
        DEADLINE,
    )
    .await
    .unwrap_or_else(|e| panic!("support waiting after the answer: {e}"));
    page.wait_for(
        &format!("{} === 'Interacting'", agent_field("ag-1", "state")),
        DEADLINE,
    )
    .await
    .unwrap_or_else(|e| panic!("ag-1 state after the answer: {e}"));
    // ag-2's row was not resent (only the clock moved for it), yet its time in state
    // follows the data's clock: away since 14:00:00, data as of 14:02:25.
    let shown = page
        .evaluate(&agent_field("ag-2", "time_in_state"))
        .await
        .unwrap();
    let (minutes, seconds) = shown.as_str().unwrap().split_once(':').unwrap();
    let seconds = minutes.parse::<u64>().unwrap() * 60 + seconds.parse::<u64>().unwrap();
    assert!(
        (145..175).contains(&seconds),
        "ag-2 away for {shown} (145 s as of the data)"
    );
    let (_, after) = serve.get("/api/v1/queues/support", Some(&viewer));
    assert_eq!(after["waiting_now"], 1);
    assert_eq!(
        after["today"]["service_level"], 0.0,
        "answered after 85 s > 20 s"
    );
    page.wait_for(
        &format!("{} === '0.0 %'", tile_field("support", "sl_today")),
        DEADLINE,
    )
    .await
    .unwrap();

    let screenshot = test_output_path("wallboard-serve.png");
    page.screenshot(&screenshot).await.unwrap();
    assert!(
        std::fs::metadata(&screenshot).unwrap().len() > 10_000,
        "a real picture"
    );
    eprintln!("screenshot: {}", screenshot.display());
    let errors: Vec<String> = page
        .console()
        .into_iter()
        .filter(|line| line.to_ascii_lowercase().contains("error"))
        .collect();
    assert!(errors.is_empty(), "the page logged errors: {errors:?}");
    drop(browser);
    assert!(serve.stop().success());
}

/// `ccpulse demo` runs the whole product: its printed wallboard URL carries a token
/// that opens the API, which shows the simulated traffic, and the page is served.
#[test]
fn demo_serves_the_api_and_the_wallboard_at_the_printed_url() {
    let dir = tempfile::tempdir().unwrap();
    let stdout = dir.path().join("demo.out");
    let mut command = Command::new(env!("CARGO_BIN_EXE_ccpulse"));
    command.args([
        "demo",
        "--listen",
        "127.0.0.1:0",
        "--speed",
        "3600x",
        "--duration",
        "120s",
    ]);
    let mut child = ccpulse_tests::without_ccpulse_env(&mut command)
        .stdout(File::create(&stdout).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting ccpulse demo");
    let until = Instant::now() + DEADLINE;
    let (address, token) = loop {
        let out = std::fs::read_to_string(&stdout).unwrap_or_default();
        let url = out
            .lines()
            .find_map(|line| line.strip_prefix("wallboard: http://"))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|url| url.split_once("/#token="))
            .and_then(|(address, token)| {
                Some((address.parse::<SocketAddr>().ok()?, token.to_owned()))
            });
        if let Some(found) = url {
            break found;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "demo exited early:\n{out}"
        );
        assert!(Instant::now() < until, "no wallboard URL printed:\n{out}");
        std::thread::sleep(Duration::from_millis(20));
    };
    let (status, page) = http_get(address, "/", None).unwrap();
    assert_eq!(status, 200);
    assert!(page.contains("/assets/wallboard.js"));
    let (status, me) = http_get(address, "/api/v1/me", Some(&token)).unwrap();
    assert_eq!(status, 200, "{me}");
    assert!(me.contains("\"role\":\"admin\""), "{me}");
    // The demo's alert rules are in force.
    let (status, rules) = http_get(address, "/api/v1/alert-rules", Some(&token)).unwrap();
    assert_eq!(status, 200, "{rules}");
    let rules: Value = serde_json::from_str(&rules).unwrap();
    let ids: Vec<&str> = rules["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["service-level", "oldest-wait"], "{rules}");
    // Simulated traffic reaches the API's queues.
    loop {
        let (status, body) = http_get(address, "/api/v1/queues", Some(&token)).unwrap();
        assert_eq!(status, 200, "{body}");
        let queues: Value = serde_json::from_str(&body).unwrap();
        if queues["queues"].as_array().is_some_and(|q| !q.is_empty()) {
            break;
        }
        assert!(child.try_wait().unwrap().is_none(), "demo exited early");
        assert!(Instant::now() < until, "no queue in the demo's API: {body}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = Command::new("kill")
        .arg("-INT")
        .arg(child.id().to_string())
        .status();
    let until = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < until, "demo did not stop on Ctrl-C");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "demo exits cleanly on Ctrl-C: {status}");
}
