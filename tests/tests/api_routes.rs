//! The REST API, called in-process (tower's `oneshot`) over events folded by the real
//! aggregator: every route, its 4xx answers with their messages, and every
//! cross-tenant and cross-queue attempt refused.
//!
//! Two tenants share queue and customer ids on purpose (`support`, `cust-1`), so a
//! leak across tenants would show up as a wrong count, not go unnoticed.

use std::sync::{Arc, Mutex};

use axum::http::{Method, StatusCode};
use ccpulse_dashboard_api::StreamConfig;
use ccpulse_dashboard_api::auth::Role;
use ccpulse_dashboard_api::settings::{SavedSettings, SettingsStore};
use ccpulse_ingest::fold::FoldConfig;
use ccpulse_schemas::v1::{Event, decode};
use ccpulse_tests::aggregate::decode_ndjson;
use ccpulse_tests::api::TestApi;
use ccpulse_tests::query::Folded;
use serde_json::{Value, json};

const EVENTS: &str = r#"
{"schema_version":1,"event_id":"e01","tenant_id":"acme","type":"agent.logged_in","occurred_at":"2026-11-16T14:00:00.000Z","agent_id":"ag-1","queues":["support"],"capacity":{"voice":1},"team_id":"care"}
{"schema_version":1,"event_id":"e02","tenant_id":"acme","type":"agent.state_changed","occurred_at":"2026-11-16T14:00:00.000Z","agent_id":"ag-1","state":"available"}
{"schema_version":1,"event_id":"e03","tenant_id":"acme","type":"agent.logged_in","occurred_at":"2026-11-16T14:00:00.000Z","agent_id":"ag-2","queues":["sales"],"capacity":{"voice":1,"chat":2},"team_id":"north"}
{"schema_version":1,"event_id":"e04","tenant_id":"acme","type":"agent.state_changed","occurred_at":"2026-11-16T14:00:00.000Z","agent_id":"ag-2","state":"available"}
{"schema_version":1,"event_id":"e05","tenant_id":"acme","type":"interaction.created","occurred_at":"2026-11-16T14:01:00.000Z","interaction_id":"c-1","channel":"voice","direction":"inbound","customer_id":"cust-1"}
{"schema_version":1,"event_id":"e06","tenant_id":"acme","type":"interaction.queued","occurred_at":"2026-11-16T14:01:10.000Z","interaction_id":"c-1","channel":"voice","direction":"inbound","queue_id":"support"}
{"schema_version":1,"event_id":"e07","tenant_id":"acme","type":"interaction.offered","occurred_at":"2026-11-16T14:01:22.000Z","interaction_id":"c-1","channel":"voice","direction":"inbound","queue_id":"support","agent_id":"ag-1"}
{"schema_version":1,"event_id":"e08","tenant_id":"acme","type":"interaction.answered","occurred_at":"2026-11-16T14:01:25.000Z","interaction_id":"c-1","channel":"voice","direction":"inbound","queue_id":"support","agent_id":"ag-1"}
{"schema_version":1,"event_id":"e09","tenant_id":"acme","type":"interaction.created","occurred_at":"2026-11-16T14:02:00.000Z","interaction_id":"c-2","channel":"voice","direction":"inbound","customer_id":"cust-1"}
{"schema_version":1,"event_id":"e10","tenant_id":"acme","type":"interaction.queued","occurred_at":"2026-11-16T14:02:00.000Z","interaction_id":"c-2","channel":"voice","direction":"inbound","queue_id":"sales"}
{"schema_version":1,"event_id":"e11","tenant_id":"acme","type":"interaction.created","occurred_at":"2026-11-16T14:02:30.000Z","interaction_id":"c-3","channel":"voice","direction":"inbound","customer_id":"cust-2"}
{"schema_version":1,"event_id":"e12","tenant_id":"acme","type":"interaction.queued","occurred_at":"2026-11-16T14:02:30.000Z","interaction_id":"c-3","channel":"voice","direction":"inbound","queue_id":"sales"}
{"schema_version":1,"event_id":"e13","tenant_id":"acme","type":"interaction.abandoned","occurred_at":"2026-11-16T14:02:40.000Z","interaction_id":"c-3","channel":"voice","direction":"inbound","queue_id":"sales"}
{"schema_version":1,"event_id":"g01","tenant_id":"globex","type":"agent.logged_in","occurred_at":"2026-11-16T14:00:00.000Z","agent_id":"gx-1","queues":["support"],"capacity":{"voice":1}}
{"schema_version":1,"event_id":"g02","tenant_id":"globex","type":"interaction.created","occurred_at":"2026-11-16T14:01:00.000Z","interaction_id":"c-9","channel":"voice","direction":"inbound","customer_id":"cust-1"}
{"schema_version":1,"event_id":"g03","tenant_id":"globex","type":"interaction.queued","occurred_at":"2026-11-16T14:01:00.000Z","interaction_id":"c-9","channel":"voice","direction":"inbound","queue_id":"support"}
"#;

fn events() -> Vec<Event<'static>> {
    decode_ndjson(EVENTS).expect("valid events")
}

/// The folded events, the API over them, and the fold settings the API last applied.
struct Fixture {
    folded: Folded,
    api: TestApi,
    applied: Arc<Mutex<Option<Arc<FoldConfig>>>>,
}

fn fixture() -> Fixture {
    let config = FoldConfig::default();
    let folded = Folded::new(&events(), config.clone(), 1).expect("folding the events");
    let applied = Arc::new(Mutex::new(None));
    let api = TestApi::new(
        folded.data_dir(),
        folded.aggregator().live(),
        config,
        Box::new({
            let applied = Arc::clone(&applied);
            move |config| *applied.lock().unwrap() = Some(config)
        }),
        None,
        StreamConfig::default(),
    )
    .expect("the API");
    Fixture {
        folded,
        api,
        applied,
    }
}

fn ids(list: &Value, key: &str, id: &str) -> Vec<String> {
    list[key]
        .as_array()
        .unwrap_or_else(|| panic!("no `{key}` array in {list}"))
        .iter()
        .map(|row| row[id].as_str().unwrap().to_owned())
        .collect()
}

fn queue<'a>(list: &'a Value, id: &str) -> &'a Value {
    list["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["queue_id"] == id)
        .unwrap_or_else(|| panic!("no queue {id} in {list}"))
}

#[tokio::test]
async fn live_queues_and_agents_show_the_folded_state() {
    let f = fixture();
    let admin = f.api.token("acme", Role::Admin, None);

    let answer = f.api.get("/api/v1/queues", &admin).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let queues = answer.json();
    assert_eq!(queues["tenant_id"], "acme");
    assert_eq!(queues["as_of"], "2026-11-16T14:02:40.000Z");
    assert_eq!(ids(&queues, "queues", "queue_id"), ["sales", "support"]);
    let sales = queue(&queues, "sales");
    assert_eq!(sales["waiting_now"], 1);
    assert_eq!(sales["oldest_wait_ms"], 40_000, "14:02:40 − 14:02:00");
    assert_eq!(sales["today"]["abandoned"], 1);
    assert_eq!(sales["today"]["abandon_rate"], 1.0);
    assert_eq!(sales["agents"]["available"], 1);
    assert_eq!(sales["channels"], json!(["voice"]));
    assert_eq!(sales["settings"]["sl_threshold_s"], 20);
    assert_eq!(sales["settings"]["sl_target_pct"], 80.0);
    let support = queue(&queues, "support");
    assert_eq!(support["waiting_now"], 0);
    assert_eq!(support["in_progress"], 1);
    assert_eq!(support["agents"]["interacting"], 1);
    assert_eq!(support["today"]["answered"], 1);
    assert_eq!(
        support["today"]["asa_ms"], 15_000.0,
        "queued 14:01:10, answered 14:01:25"
    );
    assert_eq!(support["today"]["service_level"], 1.0);

    let one = f.api.get("/api/v1/queues/sales", &admin).await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.json(), *sales);
    let none = f.api.get("/api/v1/queues/billing", &admin).await;
    assert_eq!(none.status, StatusCode::NOT_FOUND);
    assert!(none.message().contains("billing"), "{}", none.text());

    let agents = f.api.get("/api/v1/agents", &admin).await.json();
    assert_eq!(ids(&agents, "agents", "agent_id"), ["ag-1", "ag-2"]);
    let ag1 = &agents["agents"][0];
    assert_eq!(ag1["state"], "interacting");
    assert_eq!(ag1["since"], "2026-11-16T14:01:25.000Z");
    assert_eq!(ag1["time_in_state_ms"], 75_000);
    assert_eq!(ag1["team_id"], "care");
    let ag2 = &agents["agents"][1];
    assert_eq!(ag2["state"], "available");
    assert_eq!(ag2["channels"], json!(["chat", "voice"]));

    for (query, expected) in [
        ("?team=north", vec!["ag-2"]),
        ("?channel=chat", vec!["ag-2"]),
        ("?queue=support", vec!["ag-1"]),
        ("?queue=support&team=north", vec![]),
    ] {
        let list = f.api.get(&format!("/api/v1/agents{query}"), &admin).await;
        assert_eq!(list.status, StatusCode::OK, "{query}");
        assert_eq!(ids(&list.json(), "agents", "agent_id"), expected, "{query}");
    }
    let bad = f.api.get("/api/v1/agents?colour=red", &admin).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.message().contains("colour"), "{}", bad.text());
    let one = f.api.get("/api/v1/agents/ag-2", &admin).await;
    assert_eq!(one.json()["agent_id"], "ag-2");
    let gone = f.api.get("/api/v1/agents/ag-404", &admin).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);

    let me = f.api.get("/api/v1/me", &admin).await.json();
    assert_eq!(me["tenant_id"], "acme");
    assert_eq!(me["role"], "admin");
    assert_eq!(me["queues"], Value::Null);
}

#[tokio::test]
async fn a_token_never_sees_another_tenant() {
    let f = fixture();
    let globex = f.api.token("globex", Role::Admin, None);
    let queues = f.api.get("/api/v1/queues", &globex).await.json();
    assert_eq!(queues["tenant_id"], "globex");
    assert_eq!(ids(&queues, "queues", "queue_id"), ["support"]);
    let support = queue(&queues, "support");
    assert_eq!(support["waiting_now"], 1, "globex's own waiting contact");
    assert_eq!(support["in_progress"], 0, "not acme's answered one");
    let agents = f.api.get("/api/v1/agents", &globex).await.json();
    assert_eq!(ids(&agents, "agents", "agent_id"), ["gx-1"]);
    assert_eq!(
        f.api.get("/api/v1/agents/ag-1", &globex).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        f.api.get("/api/v1/interactions/c-1", &globex).await.status,
        StatusCode::NOT_FOUND,
        "acme's interaction"
    );
    let history = f
        .api
        .get("/api/v1/customers/cust-1/interactions", &globex)
        .await
        .json();
    assert_eq!(history["count"], 1, "only globex's contact of cust-1");
    assert_eq!(history["visits"][0]["interaction_id"], "c-9");
    let sql = f
        .api
        .call(
            Method::POST,
            "/api/v1/sql",
            Some(&globex),
            Some(r#"{"sql":"SELECT DISTINCT tenant_id FROM events"}"#),
        )
        .await
        .json();
    assert_eq!(sql["rows"], json!([{"tenant_id": "globex"}]));
    // An unknown tenant's token sees nothing at all.
    let stranger = f.api.token("initech", Role::Admin, None);
    let queues = f.api.get("/api/v1/queues", &stranger).await.json();
    assert_eq!(queues["queues"], json!([]));
    assert_eq!(queues["as_of"], Value::Null);
}

#[tokio::test]
async fn a_queue_limited_supervisor_sees_only_its_queues() {
    let f = fixture();
    let sales = f.api.token("acme", Role::Supervisor, Some(&["sales"]));
    let queues = f.api.get("/api/v1/queues", &sales).await.json();
    assert_eq!(ids(&queues, "queues", "queue_id"), ["sales"]);
    let refused = f.api.get("/api/v1/queues/support", &sales).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(
        refused.message().contains("`support`"),
        "{}",
        refused.text()
    );
    let agents = f.api.get("/api/v1/agents", &sales).await.json();
    assert_eq!(ids(&agents, "agents", "agent_id"), ["ag-2"]);
    assert_eq!(
        f.api.get("/api/v1/agents/ag-1", &sales).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        f.api
            .get("/api/v1/agents?queue=support", &sales)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    // Interactions: visits in its queues only.
    assert_eq!(
        f.api.get("/api/v1/interactions/c-1", &sales).await.status,
        StatusCode::FORBIDDEN,
        "c-1 only visited support"
    );
    let c2 = f.api.get("/api/v1/interactions/c-2", &sales).await;
    assert_eq!(c2.status, StatusCode::OK, "{}", c2.text());
    let history = f
        .api
        .get("/api/v1/customers/cust-1/interactions", &sales)
        .await
        .json();
    assert_eq!(history["count"], 1);
    assert_eq!(history["visits"][0]["interaction_id"], "c-2");
    // Settings: its queues only, read-only.
    assert_eq!(
        f.api
            .get("/api/v1/settings/queues/sales", &sales)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        f.api
            .get("/api/v1/settings/queues/support", &sales)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let put = f
        .api
        .call(
            Method::PUT,
            "/api/v1/settings/queues/sales",
            Some(&sales),
            Some(r#"{"sl_target_pct":90}"#),
        )
        .await;
    assert_eq!(put.status, StatusCode::FORBIDDEN);
    // No SQL: a queue scope cannot be enforced on arbitrary SQL.
    let sql = f
        .api
        .call(
            Method::POST,
            "/api/v1/sql",
            Some(&sales),
            Some(r#"{"sql":"SELECT 1"}"#),
        )
        .await;
    assert_eq!(sql.status, StatusCode::FORBIDDEN);
    assert!(sql.message().contains("role supervisor"), "{}", sql.text());
}

#[tokio::test]
async fn roles_are_enforced_on_every_route() {
    let f = fixture();
    let viewer = f.api.token("acme", Role::Viewer, None);
    let analyst = f.api.token("acme", Role::Analyst, None);
    let supervisor = f.api.token("acme", Role::Supervisor, None);
    let admin = f.api.token("acme", Role::Admin, None);
    let sql = r#"{"sql":"SELECT 1 AS one"}"#;
    let routes: [(Method, &str, Option<&str>); 11] = [
        (Method::GET, "/api/v1/queues", None),
        (Method::GET, "/api/v1/agents", None),
        (Method::GET, "/api/v1/interactions/c-1", None),
        (Method::GET, "/api/v1/customers/cust-1/interactions", None),
        (Method::POST, "/api/v1/sql", Some(sql)),
        (Method::GET, "/api/v1/tables", None),
        (Method::GET, "/api/v1/reports", None),
        (Method::GET, "/api/v1/settings", None),
        (Method::GET, "/api/v1/settings/queues/sales", None),
        (
            Method::PUT,
            "/api/v1/settings/queues/sales",
            Some(r#"{"sl_target_pct":85}"#),
        ),
        (
            Method::PUT,
            "/api/v1/settings",
            Some(r#"{"timezone":"Europe/Paris"}"#),
        ),
    ];
    // Allowed, in the order of `routes`, for viewer, supervisor, analyst, admin.
    let allowed: [[bool; 11]; 4] = [
        [
            true, true, false, false, false, false, false, false, false, false, false,
        ],
        [
            true, true, true, true, false, false, false, true, true, false, false,
        ],
        [
            true, true, true, true, true, true, true, true, true, false, false,
        ],
        [
            true, true, true, true, true, true, true, true, true, true, true,
        ],
    ];
    for (token, allowed) in [&viewer, &supervisor, &analyst, &admin]
        .into_iter()
        .zip(allowed)
    {
        for ((method, uri, body), allowed) in routes.iter().zip(allowed) {
            let answer = f.api.call(method.clone(), uri, Some(token), *body).await;
            if allowed {
                assert!(
                    answer.status.is_success(),
                    "{method} {uri}: {} {}",
                    answer.status,
                    answer.text()
                );
            } else {
                assert_eq!(answer.status, StatusCode::FORBIDDEN, "{method} {uri}");
                assert_eq!(answer.json()["error"]["code"], "forbidden");
                assert!(answer.message().contains("may not"), "{}", answer.text());
            }
        }
    }
    // Without a valid token, every /api/v1 route is a 401 with a message.
    let revoked = f.api.token("acme", Role::Admin, None);
    let id = f.api.get("/api/v1/me", &revoked).await.json()["token_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(f.api.state.tokens.revoke(&id).unwrap());
    for (method, uri, body) in &routes {
        let none = f.api.call(method.clone(), uri, None, *body).await;
        assert_eq!(none.status, StatusCode::UNAUTHORIZED, "{method} {uri}");
        assert!(none.message().contains("no token"), "{}", none.text());
        let wrong = f
            .api
            .call(method.clone(), uri, Some("ccp_00000000_00"), *body)
            .await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{method} {uri}");
        let gone = f.api.call(method.clone(), uri, Some(&revoked), *body).await;
        assert_eq!(
            gone.status,
            StatusCode::UNAUTHORIZED,
            "revoked: {method} {uri}"
        );
    }
    let request = axum::http::Request::builder()
        .uri("/api/v1/me")
        .header("authorization", "Basic dXNlcjpwYXNz")
        .body(axum::body::Body::empty())
        .unwrap();
    let response =
        tower::ServiceExt::oneshot(ccpulse_dashboard_api::router(f.api.state.clone()), request)
            .await
            .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn interactions_by_id_and_by_customer() {
    let f = fixture();
    let analyst = f.api.token("acme", Role::Analyst, None);
    let detail = f.api.get("/api/v1/interactions/c-1", &analyst).await;
    assert_eq!(detail.status, StatusCode::OK, "{}", detail.text());
    let detail = detail.json();
    assert_eq!(detail["visits"].as_array().unwrap().len(), 1);
    assert_eq!(detail["visits"][0]["queue_id"], "support");
    assert_eq!(detail["visits"][0]["outcome"], "in_progress");
    assert_eq!(detail["visits"][0]["wait_ms"], 15_000);
    let types: Vec<&str> = detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "interaction.created",
            "interaction.queued",
            "interaction.offered",
            "interaction.answered"
        ]
    );
    let missing = f.api.get("/api/v1/interactions/nope", &analyst).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.message().contains("nope"));
    // Quotes in an id are data, not SQL.
    let quoted = f
        .api
        .get("/api/v1/interactions/x'%20OR%20'1'='1", &analyst)
        .await;
    assert_eq!(quoted.status, StatusCode::NOT_FOUND, "{}", quoted.text());

    let history = f
        .api
        .get("/api/v1/customers/cust-1/interactions", &analyst)
        .await
        .json();
    assert_eq!(history["count"], 2);
    let ids: Vec<&str> = history["visits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["interaction_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["c-2", "c-1"], "newest first");
    let limited = f
        .api
        .get("/api/v1/customers/cust-1/interactions?limit=1", &analyst)
        .await
        .json();
    assert_eq!(limited["count"], 1);
    for bad in ["?limit=0", "?limit=5000", "?limit=x", "?sort=asc"] {
        let answer = f
            .api
            .get(
                &format!("/api/v1/customers/cust-1/interactions{bad}"),
                &analyst,
            )
            .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(!answer.message().is_empty(), "{bad}");
    }
}

#[tokio::test]
async fn sql_answers_json_and_refuses_bad_queries_with_a_message() {
    let f = fixture();
    let analyst = f.api.token("acme", Role::Analyst, None);
    let post = |body: &'static str| {
        f.api
            .call(Method::POST, "/api/v1/sql", Some(&analyst), Some(body))
    };
    let answer = post(
        r#"{"sql":"SELECT queue_id, count(*) AS visits FROM interactions GROUP BY queue_id ORDER BY queue_id"}"#,
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let json = answer.json();
    assert_eq!(
        json["rows"],
        json!([{"queue_id": "sales", "visits": 2}, {"queue_id": "support", "visits": 1}])
    );
    assert_eq!(json["row_count"], 2);
    assert_eq!(json["columns"][0]["name"], "queue_id");
    assert_eq!(json["columns"][1]["type"], "Int64");
    assert!(json["elapsed_ms"].as_f64().unwrap() >= 0.0);

    for (body, code) in [
        (r#"{"sql":"SELEC nonsense"}"#, "invalid_sql"),
        (r#"{"sql":"DROP TABLE events"}"#, "statement_refused"),
        (r#"{"sql":"SELECT * FROM no_such_table"}"#, "plan_failed"),
        (r#"{"sql":"  "}"#, "bad_request"),
        (r#"{"query":"SELECT 1"}"#, "bad_request"),
        (r#"{"sql": 1"#, "bad_request"),
    ] {
        let answer = post(body).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            answer.text()
        );
        assert_eq!(
            answer.json()["error"]["code"],
            code,
            "{body}: {}",
            answer.text()
        );
        assert!(!answer.message().is_empty());
    }

    let tables = f.api.get("/api/v1/tables", &analyst).await.json();
    let names: Vec<&str> = tables
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    for table in [
        "events",
        "interactions",
        "queue_intervals",
        "queue_live",
        "agent_live",
    ] {
        assert!(names.contains(&table), "{table} in {names:?}");
    }
}

#[tokio::test]
async fn reports_are_listed_described_and_downloaded() {
    let f = fixture();
    let analyst = f.api.token("acme", Role::Analyst, None);
    let list = f.api.get("/api/v1/reports", &analyst).await.json();
    let names: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(names.len() >= 5, "{names:?}");
    let name = "queue_performance";
    assert!(names.iter().any(|n| n == name), "{names:?}");
    let detail = f
        .api
        .get(&format!("/api/v1/reports/{name}"), &analyst)
        .await
        .json();
    assert_eq!(detail["name"], name);
    assert!(
        detail["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "from")
    );
    assert!(!detail["columns"].as_array().unwrap().is_empty());
    let unknown = f.api.get("/api/v1/reports/nope", &analyst).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(
        unknown.message().contains(name),
        "lists the catalog: {}",
        unknown.text()
    );

    let csv = f
        .api
        .get(
            &format!("/api/v1/reports/{name}/run?from=2026-11-16&to=2026-11-17&format=csv"),
            &analyst,
        )
        .await;
    assert_eq!(csv.status, StatusCode::OK, "{}", csv.text());
    assert!(
        csv.content_type.starts_with("text/csv"),
        "{}",
        csv.content_type
    );
    let text = csv.text();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    assert!(header.contains("queue_id"), "{header}");
    let rows: Vec<&str> = lines.collect();
    assert!(rows.iter().any(|r| r.contains("sales")), "{text}");
    assert!(rows.iter().any(|r| r.contains("support")), "{text}");

    let xlsx = f
        .api
        .get(
            &format!("/api/v1/reports/{name}/run?from=2026-11-16&format=xlsx"),
            &analyst,
        )
        .await;
    assert_eq!(xlsx.status, StatusCode::OK);
    assert!(xlsx.body.starts_with(b"PK"), "an XLSX file is a zip");

    let page = f
        .api
        .get(
            &format!("/api/v1/reports/{name}/run?from=2026-11-16&format=json&page=1&page_size=1"),
            &analyst,
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    assert_eq!(page.json().as_array().unwrap().len(), 1);

    for bad in [
        "format=pdf",
        "page=0",
        "page=1&everything=true",
        "everything=maybe",
        "from=yesterday-ish",
        "interval=7%20minutes",
    ] {
        let answer = f
            .api
            .get(&format!("/api/v1/reports/{name}/run?{bad}"), &analyst)
            .await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{bad}: {}",
            answer.text()
        );
        assert!(!answer.message().is_empty(), "{bad}");
    }
}

#[tokio::test]
async fn settings_are_validated_saved_and_applied() {
    let f = fixture();
    let admin = f.api.token("acme", Role::Admin, None);
    let before = f.api.get("/api/v1/settings", &admin).await.json();
    assert_eq!(before["source"], "default");
    assert_eq!(before["settings"]["timezone"], "UTC");

    let put = f
        .api
        .call(
            Method::PUT,
            "/api/v1/settings/queues/sales",
            Some(&admin),
            Some(r#"{"sl_target_pct":90,"sl_threshold_s":30}"#),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text());
    assert_eq!(put.json()["effective"]["sl_target_pct"], 90.0);
    // The live view shows it at once; the aggregator was handed the new settings.
    let sales = f.api.get("/api/v1/queues/sales", &admin).await.json();
    assert_eq!(sales["settings"]["sl_target_pct"], 90.0);
    assert_eq!(sales["settings"]["sl_threshold_s"], 30);
    let applied = f.applied.lock().unwrap().clone().expect("settings applied");
    assert_eq!(applied.tenant("acme").queue("sales").sl_target_pct, 90.0);
    assert_eq!(applied.tenant("globex").queue("sales").sl_target_pct, 80.0);
    // Saved: a new store over the same directory reads it back.
    let reopened = SettingsStore::open(
        SavedSettings::path_in(f.folded.data_dir()),
        FoldConfig::default(),
        Box::new(|_| {}),
    )
    .unwrap();
    let (settings, _) = reopened.tenant("acme");
    assert_eq!(settings.queue("sales").sl_target_pct, 90.0);
    let after = f.api.get("/api/v1/settings", &admin).await.json();
    assert_eq!(after["source"], "api");

    for (uri, body, needle) in [
        (
            "/api/v1/settings/queues/sales",
            r#"{"sl_target_pct":150}"#,
            "sl_target_pct",
        ),
        (
            "/api/v1/settings/queues/sales",
            r#"{"sl_threshold_s":0}"#,
            "sl_threshold_s",
        ),
        (
            "/api/v1/settings/queues/sales",
            r#"{"colour":"red"}"#,
            "colour",
        ),
        (
            "/api/v1/settings/queues/sales",
            r#"{"sl_formula":"magic"}"#,
            "magic",
        ),
        (
            "/api/v1/settings",
            r#"{"timezone":"Mars/Olympus"}"#,
            "Mars/Olympus",
        ),
        ("/api/v1/settings", "not json", ""),
    ] {
        let answer = f.api.call(Method::PUT, uri, Some(&admin), Some(body)).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            answer.text()
        );
        assert!(
            answer.message().contains(needle),
            "{body}: {}",
            answer.text()
        );
    }
    // Refused changes changed nothing.
    let sales = f
        .api
        .get("/api/v1/settings/queues/sales", &admin)
        .await
        .json();
    assert_eq!(sales["effective"]["sl_target_pct"], 90.0);

    let tenant = f
        .api
        .call(
            Method::PUT,
            "/api/v1/settings",
            Some(&admin),
            Some(r#"{"timezone":"Europe/Paris","queue_defaults":{"sl_target_pct":70}}"#),
        )
        .await;
    assert_eq!(tenant.status, StatusCode::OK, "{}", tenant.text());
    let support = f.api.get("/api/v1/queues/support", &admin).await.json();
    assert_eq!(support["settings"]["sl_target_pct"], 70.0);
}

/// A formula changed through the API reaches the aggregator: the figures it publishes
/// after its next event follow the new formula.
#[tokio::test]
async fn a_settings_change_reaches_the_aggregator() {
    let mut f = fixture();
    let admin = f.api.token("acme", Role::Admin, None);
    let sales = f.api.get("/api/v1/queues/sales", &admin).await.json();
    assert_eq!(
        sales["today"]["service_level"], 0.0,
        "abandons_count: 0 of 1"
    );
    let put = f
        .api
        .call(
            Method::PUT,
            "/api/v1/settings/queues/sales",
            Some(&admin),
            Some(r#"{"sl_formula":"answered"}"#),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text());
    let applied = f.applied.lock().unwrap().clone().expect("settings applied");
    f.folded.aggregator().set_fold_config(applied);
    let next = decode(
        br#"{"schema_version":1,"event_id":"e14","tenant_id":"acme","type":"interaction.created","occurred_at":"2026-11-16T14:02:41.000Z","interaction_id":"c-4","channel":"voice","direction":"inbound"}"#,
    )
    .unwrap();
    f.folded.apply(&[next], 100);
    let sales = f.api.get("/api/v1/queues/sales", &admin).await.json();
    assert_eq!(sales["settings"]["sl_formula"], "answered");
    assert_eq!(
        sales["today"]["service_level"],
        Value::Null,
        "answered: no answer, an empty denominator"
    );
}

#[tokio::test]
async fn operations_routes_and_the_page_need_no_token() {
    let f = fixture();
    let health = f.api.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(health.status, StatusCode::OK);
    let ready = f.api.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(ready.json()["ready"], true);
    let admin = f.api.token("acme", Role::Admin, None);
    f.api.get("/api/v1/queues", &admin).await;
    let metrics = f.api.call(Method::GET, "/metrics", None, None).await;
    assert_eq!(metrics.status, StatusCode::OK);
    assert!(
        metrics
            .content_type
            .starts_with("text/plain; version=0.0.4")
    );
    let text = metrics.text();
    assert!(text.contains("ccpulse_websocket_clients 0"), "{text}");
    let two_xx: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("ccpulse_http_requests_total{status=\"2xx\"} "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(two_xx >= 3, "{text}");

    let page = f.api.call(Method::GET, "/", None, None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.content_type.starts_with("text/html"));
    assert!(page.text().contains("/assets/wallboard.js"));
    for asset in ["/assets/wallboard.js", "/assets/wallboard.css"] {
        let answer = f.api.call(Method::GET, asset, None, None).await;
        assert_eq!(answer.status, StatusCode::OK, "{asset}");
        assert!(!answer.body.is_empty(), "{asset}");
    }
    let missing = f.api.call(Method::GET, "/assets/nope.js", None, None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let unknown = f
        .api
        .call(Method::GET, "/api/v1/nothing", Some(&admin), None)
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.json()["error"]["code"], "not_found");
}

/// Every route of the router is described in the OpenAPI document, and nothing else.
#[tokio::test]
async fn the_openapi_document_lists_every_route() {
    let f = fixture();
    let answer = f
        .api
        .call(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    let document = answer.json();
    assert_eq!(document["openapi"], "3.1.0");
    let mut described: Vec<String> = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            described.push(format!("{} {path}", method.to_uppercase()));
        }
    }
    described.sort();
    let mut routes = vec![
        "GET /api/v1/me",
        "GET /api/v1/queues",
        "GET /api/v1/queues/{queue_id}",
        "GET /api/v1/agents",
        "GET /api/v1/agents/{agent_id}",
        "GET /api/v1/interactions/{interaction_id}",
        "GET /api/v1/customers/{customer_id}/interactions",
        "POST /api/v1/sql",
        "GET /api/v1/tables",
        "GET /api/v1/reports",
        "GET /api/v1/reports/{name}",
        "GET /api/v1/reports/{name}/run",
        "GET /api/v1/settings",
        "PUT /api/v1/settings",
        "GET /api/v1/settings/queues/{queue_id}",
        "PUT /api/v1/settings/queues/{queue_id}",
        "GET /api/v1/alerts",
        "POST /api/v1/alerts/{alert_id}/acknowledge",
        "POST /api/v1/alerts/{alert_id}/snooze",
        "GET /api/v1/alert-rules",
        "GET /api/v1/alert-rules/{rule_id}",
        "PUT /api/v1/alert-rules/{rule_id}",
        "DELETE /api/v1/alert-rules/{rule_id}",
        "GET /api/v1/stream",
        "GET /api/v1/openapi.json",
        "GET /healthz",
        "GET /readyz",
        "GET /metrics",
    ];
    routes.sort_unstable();
    assert_eq!(described, routes);
    // Each described route answers (not the router's 404), with or without a token.
    let admin = f.api.token("acme", Role::Admin, None);
    for route in &routes {
        let (method, path) = route.split_once(' ').unwrap();
        if path == "/api/v1/stream" {
            continue; // a WebSocket upgrade (tests/tests/api_stream.rs)
        }
        let uri = path
            .replace("{queue_id}", "sales")
            .replace("{agent_id}", "ag-2")
            .replace("{interaction_id}", "c-2")
            .replace("{customer_id}", "cust-1")
            .replace("{name}", "queue_performance")
            .replace("{alert_id}", "al_0000000000000000")
            .replace("{rule_id}", "sales-sl");
        let body = (method != "GET").then_some(r#"{"sql":"SELECT 1"}"#);
        let answer = f
            .api
            .call(method.parse().unwrap(), &uri, Some(&admin), body)
            .await;
        assert_ne!(
            answer.json()["error"]["message"]
                .as_str()
                .unwrap_or_default(),
            "no such route (the routes are listed at /api/v1/openapi.json)",
            "{route}"
        );
    }
}
