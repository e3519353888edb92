//! What the ingest crate's integration tests share: the hand-checked fixtures of
//! `sample-data/fixtures/` (read from disk: `ingest` may not depend on `sample-data`).

use std::path::{Path, PathBuf};

use ccpulse_ingest::fold::FoldConfig;
use ccpulse_schemas::settings::TenantSettings;
use ccpulse_schemas::v1::{Event, decode};
use serde_json::{Value, json};

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../sample-data/fixtures")
}

/// One fixture: its events in file order, its `expected.json`, and the fold settings
/// that file states (tenant `acme`).
pub(crate) struct Fixture {
    pub(crate) name: String,
    pub(crate) events: Vec<Event<'static>>,
    #[allow(
        dead_code,
        reason = "each test binary compiles this module; not all read it"
    )]
    pub(crate) expected: Value,
    pub(crate) config: FoldConfig,
}

/// Loads the fixture `name`.
pub(crate) fn load(name: &str) -> Fixture {
    let dir = fixtures_dir().join(name);
    let text = std::fs::read_to_string(dir.join("events.ndjson")).unwrap();
    let events = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| decode(line.as_bytes()).unwrap().into_owned())
        .collect();
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    let settings = &expected["settings"];
    let tenant: TenantSettings = serde_json::from_value(json!({
        "timezone": settings["timezone"],
        "business_hours": settings["business_hours"],
        "queues": settings["queues"],
    }))
    .unwrap();
    let config = FoldConfig {
        allowed_lateness_ms: settings["allowed_lateness_ms"].as_i64().unwrap(),
        tenants: [("acme".to_owned(), tenant)].into(),
        ..FoldConfig::default()
    };
    Fixture {
        name: name.to_owned(),
        events,
        expected,
        config,
    }
}

/// The names of every fixture with an `expected.json`, sorted (at least five).
pub(crate) fn names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|entry| entry.path().join("expected.json").exists())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 5, "fixtures missing: {names:?}");
    names
}
