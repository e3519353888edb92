//! The alerting routes, called in-process over events folded by the real aggregator:
//! rules created, replaced, refused with their messages and deleted through the API
//! and the TOML file, by role and queue scope; open alerts acknowledged and snoozed;
//! the history as the `alerts` SQL table. Evaluation is called directly here (the
//! loop that calls it on every live publication is tested in `alerting.rs`).

use axum::http::{Method, StatusCode};
use ccpulse_dashboard_api::StreamConfig;
use ccpulse_dashboard_api::alerts::AlertsConfig;
use ccpulse_dashboard_api::auth::Role;
use ccpulse_ingest::fold::FoldConfig;
use ccpulse_schemas::v1::Event;
use ccpulse_tests::aggregate::decode_ndjson;
use ccpulse_tests::api::{Answer, TestApi};
use ccpulse_tests::query::Folded;
use serde_json::{Value, json};

/// acme: `sales` has one caller waiting since 14:02:00 and one abandoned; `support`
/// one answered call; campaign `spring` three attempts, two humans, one dropped.
/// globex: one caller waiting in its own `support`.
const EVENTS: &str = r#"
{"schema_version":1,"event_id":"e01","tenant_id":"acme","type":"agent.logged_in","occurred_at":"2026-11-16T14:00:00.000Z","agent_id":"ag-1","queues":["support"],"capacity":{"voice":1},"team_id":"care"}
{"schema_version":1,"event_id":"e02","tenant_id":"acme","type":"agent.state_changed","occurred_at":"2026-11-16T14:00:00.000Z","agent_id":"ag-1","state":"available"}
{"schema_version":1,"event_id":"e05","tenant_id":"acme","type":"interaction.created","occurred_at":"2026-11-16T14:01:00.000Z","interaction_id":"c-1","channel":"voice","direction":"inbound","customer_id":"cust-1"}
{"schema_version":1,"event_id":"e06","tenant_id":"acme","type":"interaction.queued","occurred_at":"2026-11-16T14:01:10.000Z","interaction_id":"c-1","channel":"voice","direction":"inbound","queue_id":"support"}
{"schema_version":1,"event_id":"e08","tenant_id":"acme","type":"interaction.answered","occurred_at":"2026-11-16T14:01:25.000Z","interaction_id":"c-1","channel":"voice","direction":"inbound","queue_id":"support","agent_id":"ag-1"}
{"schema_version":1,"event_id":"e09","tenant_id":"acme","type":"interaction.created","occurred_at":"2026-11-16T14:02:00.000Z","interaction_id":"c-2","channel":"voice","direction":"inbound","customer_id":"cust-1"}
{"schema_version":1,"event_id":"e10","tenant_id":"acme","type":"interaction.queued","occurred_at":"2026-11-16T14:02:00.000Z","interaction_id":"c-2","channel":"voice","direction":"inbound","queue_id":"sales"}
{"schema_version":1,"event_id":"e11","tenant_id":"acme","type":"interaction.created","occurred_at":"2026-11-16T14:02:30.000Z","interaction_id":"c-3","channel":"voice","direction":"inbound","customer_id":"cust-2"}
{"schema_version":1,"event_id":"e12","tenant_id":"acme","type":"interaction.queued","occurred_at":"2026-11-16T14:02:30.000Z","interaction_id":"c-3","channel":"voice","direction":"inbound","queue_id":"sales"}
{"schema_version":1,"event_id":"e13","tenant_id":"acme","type":"interaction.abandoned","occurred_at":"2026-11-16T14:02:40.000Z","interaction_id":"c-3","channel":"voice","direction":"inbound","queue_id":"sales"}
{"schema_version":1,"event_id":"d01","tenant_id":"acme","type":"dialer.attempted","occurred_at":"2026-11-16T14:01:00.000Z","interaction_id":"d-1","campaign_id":"spring","channel":"voice","direction":"outbound","dial_mode":"predictive"}
{"schema_version":1,"event_id":"d02","tenant_id":"acme","type":"dialer.result","occurred_at":"2026-11-16T14:01:05.000Z","interaction_id":"d-1","campaign_id":"spring","channel":"voice","direction":"outbound","result":"human"}
{"schema_version":1,"event_id":"d03","tenant_id":"acme","type":"dialer.dropped","occurred_at":"2026-11-16T14:01:07.000Z","interaction_id":"d-1","campaign_id":"spring","channel":"voice","direction":"outbound"}
{"schema_version":1,"event_id":"d04","tenant_id":"acme","type":"dialer.attempted","occurred_at":"2026-11-16T14:01:10.000Z","interaction_id":"d-2","campaign_id":"spring","channel":"voice","direction":"outbound","dial_mode":"predictive"}
{"schema_version":1,"event_id":"d05","tenant_id":"acme","type":"dialer.result","occurred_at":"2026-11-16T14:01:15.000Z","interaction_id":"d-2","campaign_id":"spring","channel":"voice","direction":"outbound","result":"human"}
{"schema_version":1,"event_id":"d06","tenant_id":"acme","type":"dialer.attempted","occurred_at":"2026-11-16T14:01:20.000Z","interaction_id":"d-3","campaign_id":"spring","channel":"voice","direction":"outbound","dial_mode":"predictive"}
{"schema_version":1,"event_id":"d07","tenant_id":"acme","type":"dialer.result","occurred_at":"2026-11-16T14:01:25.000Z","interaction_id":"d-3","campaign_id":"spring","channel":"voice","direction":"outbound","result":"machine"}
{"schema_version":1,"event_id":"g01","tenant_id":"globex","type":"interaction.created","occurred_at":"2026-11-16T14:01:00.000Z","interaction_id":"c-9","channel":"voice","direction":"inbound","customer_id":"cust-1"}
{"schema_version":1,"event_id":"g02","tenant_id":"globex","type":"interaction.queued","occurred_at":"2026-11-16T14:01:00.000Z","interaction_id":"c-9","channel":"voice","direction":"inbound","queue_id":"support"}
"#;

fn events() -> Vec<Event<'static>> {
    decode_ndjson(EVENTS).expect("valid events")
}

struct Fixture {
    _folded: Folded,
    api: TestApi,
    config: FoldConfig,
    rules_file: std::path::PathBuf,
}

fn fixture() -> Fixture {
    let config = FoldConfig::default();
    let folded = Folded::new(&events(), config.clone(), 1).expect("folding the events");
    let alerts = AlertsConfig::in_data_dir(folded.data_dir());
    let rules_file = alerts.rules_file.clone();
    let api = TestApi::with_alerts(
        folded.data_dir(),
        folded.aggregator().live(),
        config.clone(),
        Box::new(|_| {}),
        None,
        StreamConfig::default(),
        alerts,
    )
    .expect("the API");
    Fixture {
        _folded: folded,
        api,
        config,
        rules_file,
    }
}

impl Fixture {
    async fn put(&self, token: &str, rule: &Value) -> Answer {
        let id = rule["id"].as_str().unwrap_or("x");
        self.api
            .call(
                Method::PUT,
                &format!("/api/v1/alert-rules/{id}"),
                Some(token),
                Some(&rule.to_string()),
            )
            .await
    }

    async fn post(&self, token: &str, path: &str, body: &str) -> Answer {
        self.api
            .call(Method::POST, path, Some(token), Some(body))
            .await
    }

    fn evaluate(&self) {
        self.api.state.alerts.evaluate(&self.config);
    }

    async fn sql(&self, token: &str, sql: &str) -> Vec<Value> {
        let answer = self
            .post(token, "/api/v1/sql", &json!({ "sql": sql }).to_string())
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
        answer.json()["rows"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

fn waiting_rule() -> Value {
    json!({
        "id": "sales-waiting", "name": "Sales waiting",
        "scope": {"queues": ["sales"]},
        "metric": "waiting_now", "comparison": "above", "warning": 0,
        "renotify_every": "5m",
    })
}

fn rule_ids(list: &Value) -> Vec<String> {
    list["rules"]
        .as_array()
        .unwrap_or_else(|| panic!("no rules in {list}"))
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_are_created_checked_scoped_and_deleted() {
    let f = fixture();
    let admin = f.api.token("acme", Role::Admin, None);
    let viewer = f.api.token("acme", Role::Viewer, None);
    let analyst = f.api.token("acme", Role::Analyst, None);
    let sales_supervisor = f.api.token("acme", Role::Supervisor, Some(&["sales"]));
    let globex = f.api.token("globex", Role::Admin, None);

    // Roles.
    for token in [&viewer, &analyst] {
        let answer = f.put(token, &waiting_rule()).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.text());
        assert!(
            answer.message().contains("change alert rules"),
            "{}",
            answer.message()
        );
    }
    let answer = f.api.get("/api/v1/alert-rules", &viewer).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);

    // Mistakes, each named.
    let mistakes = [
        (
            json!({"metric": "service_level", "warning": 80}),
            "fraction 0..1",
        ),
        (json!({"metric": "sl"}), "unknown metric `sl`"),
        (json!({"window": "today"}), "is a gauge"),
        (json!({"for": "soon"}), "not a duration"),
        (
            json!({"notify": ["pager"]}),
            "no destination of tenant `acme`",
        ),
        (json!({"threshold": 3}), "unknown field `threshold`"),
        (json!({"tenant": "globex"}), "leave `tenant` out"),
        (json!({"id": "other"}), "differs from the path"),
    ];
    for (change, expected) in mistakes {
        let mut rule = waiting_rule();
        for (key, value) in change.as_object().unwrap() {
            rule[key] = value.clone();
        }
        let answer = f
            .api
            .call(
                Method::PUT,
                "/api/v1/alert-rules/sales-waiting",
                Some(&admin),
                Some(&rule.to_string()),
            )
            .await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{change}: {}",
            answer.text()
        );
        assert!(
            answer.message().contains(expected),
            "{change}: {} (expected {expected})",
            answer.message()
        );
    }
    let answer = f
        .api
        .call(
            Method::PUT,
            "/api/v1/alert-rules/bad%20id",
            Some(&admin),
            Some("{}"),
        )
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.text());

    // Created, then replaced.
    let answer = f.put(&admin, &waiting_rule()).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text());
    assert_eq!(answer.json()["id"], "sales-waiting");
    assert!(answer.json().get("tenant").is_none(), "{}", answer.text());
    let mut replaced = waiting_rule();
    replaced["warning"] = json!(2);
    let answer = f.put(&admin, &replaced).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let answer = f
        .api
        .get("/api/v1/alert-rules/sales-waiting", &analyst)
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json()["warning"], 2.0);

    // The file holds it, with its tenant.
    let text = std::fs::read_to_string(&f.rules_file).unwrap();
    assert!(
        text.contains("[[rule]]") && text.contains("tenant = \"acme\""),
        "{text}"
    );

    // A queue-limited supervisor: rules of its queues only.
    let mut support = waiting_rule();
    support["id"] = json!("support-waiting");
    support["scope"] = json!({"queues": ["support"]});
    let answer = f.put(&sales_supervisor, &support).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.text());
    let mut everything = waiting_rule();
    everything["id"] = json!("all-waiting");
    everything["scope"] = json!({});
    assert_eq!(
        f.put(&sales_supervisor, &everything).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(f.put(&admin, &support).await.status, StatusCode::CREATED);
    let mut sales_asa = waiting_rule();
    sales_asa["id"] = json!("sales-asa");
    sales_asa["metric"] = json!("asa_s");
    sales_asa["warning"] = json!(30);
    let answer = f.put(&sales_supervisor, &sales_asa).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text());
    let list = f
        .api
        .get("/api/v1/alert-rules", &sales_supervisor)
        .await
        .json();
    assert_eq!(rule_ids(&list), ["sales-waiting", "sales-asa"]);
    let list = f.api.get("/api/v1/alert-rules", &admin).await.json();
    assert_eq!(
        rule_ids(&list),
        ["sales-waiting", "support-waiting", "sales-asa"]
    );
    let answer = f
        .api
        .call(
            Method::DELETE,
            "/api/v1/alert-rules/support-waiting",
            Some(&sales_supervisor),
            None,
        )
        .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);

    // Another tenant sees none of them.
    let list = f.api.get("/api/v1/alert-rules", &globex).await.json();
    assert_eq!(rule_ids(&list), Vec::<String>::new());
    let answer = f
        .api
        .get("/api/v1/alert-rules/sales-waiting", &globex)
        .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);

    // Deleted.
    let answer = f
        .api
        .call(
            Method::DELETE,
            "/api/v1/alert-rules/sales-asa",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    let answer = f.api.get("/api/v1/alert-rules/sales-asa", &admin).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);

    // A hand edit that breaks the file: reported, the rules in force stay, and the API
    // refuses to write over it.
    std::fs::write(&f.rules_file, format!("{text}\n[[rule]]\nid = 3\n")).unwrap();
    bump_mtime(&f.rules_file);
    let list = f.api.get("/api/v1/alert-rules", &admin).await.json();
    assert!(
        list["file_error"]
            .as_str()
            .unwrap_or_default()
            .contains("rules.toml"),
        "{list}"
    );
    assert_eq!(rule_ids(&list), ["sales-waiting", "support-waiting"]);
    let answer = f.put(&admin, &sales_asa).await;
    assert_eq!(answer.status, StatusCode::CONFLICT, "{}", answer.text());
    assert!(
        answer.message().contains("has errors"),
        "{}",
        answer.message()
    );
    let metrics = f.api.get("/metrics", &admin).await.text();
    assert!(
        metrics.contains("ccpulse_alert_rules_file_errors 1"),
        "{metrics}"
    );

    // Fixed by hand: read again.
    std::fs::write(&f.rules_file, &text).unwrap();
    bump_mtime(&f.rules_file);
    let list = f.api.get("/api/v1/alert-rules", &admin).await.json();
    assert_eq!(list["file_error"], Value::Null, "{list}");
}

/// Moves the file's modification time forward, so a rewrite within the same clock
/// tick is seen as a change.
fn bump_mtime(path: &std::path::Path) {
    let file = std::fs::File::options().append(true).open(path).unwrap();
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
    file.set_modified(later).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_alerts_are_acknowledged_snoozed_and_recorded() {
    let f = fixture();
    let admin = f.api.token("acme", Role::Admin, None);
    let viewer = f.api.token("acme", Role::Viewer, None);
    let support_supervisor = f.api.token("acme", Role::Supervisor, Some(&["support"]));
    let globex = f.api.token("globex", Role::Admin, None);
    assert_eq!(
        f.put(&admin, &waiting_rule()).await.status,
        StatusCode::CREATED
    );
    f.evaluate();

    // One caller waits in sales (`for` is 0: pending and firing at once).
    let list = f.api.get("/api/v1/alerts", &viewer).await.json();
    assert_eq!(
        list["evaluated_as_of"], "2026-11-16T14:02:40.000Z",
        "{list}"
    );
    let alerts = list["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1, "{list}");
    let alert = &alerts[0];
    assert_eq!(alert["state"], "firing");
    assert_eq!(alert["severity"], "warning");
    assert_eq!(alert["queue_id"], "sales");
    assert_eq!(alert["value"], 1.0);
    assert_eq!(alert["fired_at"], "2026-11-16T14:02:40.000Z");
    assert_eq!(
        alert["message"],
        "Sales waiting: waiting now 1 is above 0 on queue sales"
    );
    let id = alert["alert_id"].as_str().unwrap().to_owned();
    let acknowledge = format!("/api/v1/alerts/{id}/acknowledge");
    let snooze = format!("/api/v1/alerts/{id}/snooze");

    // A supervisor of support does not see it; globex neither.
    let list = f
        .api
        .get("/api/v1/alerts", &support_supervisor)
        .await
        .json();
    assert_eq!(list["alerts"], json!([]));
    let answer = f.post(&support_supervisor, &acknowledge, "{}").await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND, "{}", answer.text());
    assert_eq!(
        f.post(&globex, &acknowledge, "{}").await.status,
        StatusCode::NOT_FOUND
    );
    let answer = f.post(&viewer, &acknowledge, "{}").await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert!(
        answer.message().contains("acknowledge"),
        "{}",
        answer.message()
    );

    // Acknowledged (twice: the first one stands, and is recorded once).
    let answer = f.post(&admin, &acknowledge, "{}").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.json()["acknowledged_by"], "test-admin");
    assert_eq!(answer.json()["acknowledged_at"], "2026-11-16T14:02:40.000Z");
    assert_eq!(
        f.post(&admin, &acknowledge, "{}").await.status,
        StatusCode::OK
    );

    // Snoozed for 30 minutes of the data's clock; bad snoozes refused.
    let answer = f.post(&admin, &snooze, r#"{"minutes":30}"#).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.json()["snoozed_until"], "2026-11-16T14:32:40.000Z");
    for (body, status) in [
        (r#"{"minutes":99999}"#, StatusCode::BAD_REQUEST),
        (r#"{"minutes":-1}"#, StatusCode::BAD_REQUEST),
        (r#"{"hours":1}"#, StatusCode::BAD_REQUEST),
        ("not json", StatusCode::BAD_REQUEST),
    ] {
        let answer = f.post(&admin, &snooze, body).await;
        assert_eq!(answer.status, status, "{body}: {}", answer.text());
    }
    let answer = f
        .post(
            &admin,
            "/api/v1/alerts/al_0000000000000000/snooze",
            r#"{"minutes":5}"#,
        )
        .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert!(
        answer.message().contains("no open alert"),
        "{}",
        answer.message()
    );

    // Evaluating again changes nothing.
    f.evaluate();
    let list = f.api.get("/api/v1/alerts", &admin).await.json();
    assert_eq!(list["alerts"][0]["alert_id"], id.as_str());

    // Changing the rule ends the alert (recorded, reason rule_changed); the new rule
    // opens another one.
    let mut changed = waiting_rule();
    changed["name"] = json!("Sales queue");
    assert_eq!(f.put(&admin, &changed).await.status, StatusCode::OK);
    f.evaluate();
    let list = f.api.get("/api/v1/alerts", &admin).await.json();
    let new_id = list["alerts"][0]["alert_id"].as_str().unwrap().to_owned();
    assert_ne!(new_id, id, "{list}");

    // The history, as SQL.
    let rows = f
        .sql(
            &admin,
            "SELECT alert_id, event, state, actor, reason, notified FROM alerts ORDER BY seq",
        )
        .await;
    let events: Vec<(String, String)> = rows
        .iter()
        .map(|r| {
            let which = if r["alert_id"] == id.as_str() {
                "old"
            } else {
                "new"
            };
            (which.to_owned(), r["event"].as_str().unwrap().to_owned())
        })
        .collect();
    let expected: Vec<(String, String)> = [
        ("old", "pending"),
        ("old", "firing"),
        ("old", "acknowledged"),
        ("old", "snoozed"),
        ("old", "resolved"),
        ("new", "pending"),
        ("new", "firing"),
    ]
    .iter()
    .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
    .collect();
    assert_eq!(events, expected, "{rows:#?}");
    assert_eq!(rows[2]["actor"], "test-admin");
    assert_eq!(rows[4]["reason"], "rule_changed");
    assert_eq!(rows[1]["notified"], false, "no destination");
    assert_eq!(
        f.sql(&globex, "SELECT * FROM alerts").await,
        Vec::<Value>::new()
    );

    let metrics = f.api.get("/metrics", &admin).await.text();
    assert!(
        metrics.contains("ccpulse_alerts_active{state=\"firing\",severity=\"warning\"} 1"),
        "{metrics}"
    );

    // The rule deleted: its alert ends.
    let answer = f
        .api
        .call(
            Method::DELETE,
            "/api/v1/alert-rules/sales-waiting",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    f.evaluate();
    let list = f.api.get("/api/v1/alerts", &admin).await.json();
    assert_eq!(list["alerts"], json!([]), "{list}");
}

/// Rules read with SQL: a trailing window, the dialer's abandon rate and columns of
/// an interval table and a live table, each per subject, with the values the tables
/// hold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_read_with_sql_judge_windows_campaigns_and_columns() {
    let f = fixture();
    let admin = f.api.token("acme", Role::Admin, None);
    let rules = [
        json!({"id": "abandons-60m", "metric": "abandon_rate", "window": "trailing_60m",
            "comparison": "above", "warning": 0.5}),
        json!({"id": "dialer", "metric": "dialer_abandon_rate", "scope": {"campaigns": ["spring"]},
            "comparison": "above", "warning": 0.03, "min_volume": 2}),
        json!({"id": "abandoned-today", "metric": "queue_intervals.abandoned", "window": "today",
            "comparison": "above", "warning": 0}),
        json!({"id": "long-state", "metric": "agent_live.time_in_state_ms",
            "comparison": "above", "warning": 60000}),
        json!({"id": "dialer-strict", "metric": "dialer_abandon_rate",
            "comparison": "above", "warning": 0.03, "min_volume": 3}),
        // 13:45-14:00, closed: no traffic then, so no alert.
        json!({"id": "abandons-closed", "metric": "abandon_rate", "window": "previous_interval",
            "comparison": "above", "warning": 0.5}),
    ];
    for rule in &rules {
        let answer = f.put(&admin, rule).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text());
    }
    // The live evaluation leaves them alone.
    f.evaluate();
    let list = f.api.get("/api/v1/alerts", &admin).await.json();
    assert_eq!(list["alerts"], json!([]), "{list}");

    f.api
        .state
        .alerts
        .evaluate_queries(&f.config, &f.api.state.engine)
        .await;
    assert_eq!(
        f.api.state.alerts.queried_as_of("acme"),
        Some(1_794_837_760_000),
        "14:02:40, the tenant's clock"
    );
    let list = f.api.get("/api/v1/alerts", &admin).await.json();
    let mut open: Vec<(String, String, String, Value)> = list["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["rule_id"].as_str().unwrap().to_owned(),
                a["subject"]["kind"].as_str().unwrap().to_owned(),
                a["subject"]["id"].as_str().unwrap().to_owned(),
                a["value"].clone(),
            )
        })
        .collect();
    open.sort_by(|a, b| (&a.0, &a.2).cmp(&(&b.0, &b.2)));
    let agent = f.api.get("/api/v1/agents/ag-1", &admin).await.json();
    let expected: Vec<(String, String, String, Value)> = [
        ("abandoned-today", "queue", "sales", json!(1.0)),
        // sales: 1 abandoned, 0 answered in the last hour.
        ("abandons-60m", "queue", "sales", json!(1.0)),
        // 1 dropped of 2 humans; `dialer-strict` wants 3 connects: no alert.
        // `abandons-closed` reads 13:45-14:00, before any traffic: no alert.
        ("dialer", "campaign", "spring", json!(0.5)),
        // ag-1 interacting since 14:01:25: 75 s at 14:02:40, as its row shows.
        ("long-state", "agent", "ag-1", json!(75000.0)),
    ]
    .iter()
    .map(|(r, k, i, v)| ((*r).to_owned(), (*k).to_owned(), (*i).to_owned(), v.clone()))
    .collect();
    assert_eq!(open, expected, "{list}");
    assert_eq!(agent["time_in_state_ms"], 75000, "{agent}");
    let dialer = list["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["rule_id"] == "dialer")
        .unwrap()
        .clone();
    assert_eq!(dialer["window"], "trailing_30d");
    assert_eq!(dialer["volume"], 2);
    assert!(
        dialer["message"]
            .as_str()
            .unwrap()
            .contains("dialer abandon rate (last 30 days) 50.0 %"),
        "{dialer}"
    );
}
