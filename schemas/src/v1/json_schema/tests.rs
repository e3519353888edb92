use std::path::PathBuf;
use std::sync::LazyLock;

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::v1::fixtures::{self, apply, bad_inputs, mutation, padded_to, with};
use crate::v1::{RejectKind, Rejection, decode, timestamp};

/// Where the checked-in file lives, relative to the crate root.
const SCHEMA_FILE: &str = "json/event.v1.schema.json";

fn schema_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(SCHEMA_FILE)
}

/// The checked-in file must be exactly what the field table generates. With
/// `CCPULSE_UPDATE_SCHEMAS=1` the test rewrites it instead.
#[test]
fn checked_in_schema_is_generated() {
    let generated = json_schema();
    let path = schema_path();
    if std::env::var_os("CCPULSE_UPDATE_SCHEMAS").is_some_and(|v| v == "1") {
        let text = serde_json::to_string_pretty(&generated).unwrap() + "\n";
        std::fs::write(&path, text).unwrap();
        return;
    }
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|err| panic!("read {}: {err}", path.display()));
    let on_disk: Value = serde_json::from_str(&text).unwrap();
    assert!(
        on_disk == generated,
        "{} is stale: run `CCPULSE_UPDATE_SCHEMAS=1 cargo test -p ccpulse-schemas` and review the diff",
        path.display()
    );
}

/// The checked-in file, compiled with `format` assertion on.
static VALIDATOR: LazyLock<jsonschema::Validator> = LazyLock::new(|| {
    let text = std::fs::read_to_string(schema_path()).unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(&schema)
        .unwrap()
});

/// Whether the JSON Schema accepts the message (after a plain JSON parse).
fn schema_accepts(input: &[u8]) -> bool {
    serde_json::from_slice::<Value>(input).is_ok_and(|value| VALIDATOR.is_valid(&value))
}

/// The differences between the JSON Schema and the decoder that JSON Schema cannot
/// avoid, each recognised from the decoder's rejection. Only these may disagree; the
/// schema accepts and the decoder rejects in each case.
fn known_difference(input: &[u8], rejection: &Rejection) -> Option<&'static str> {
    match rejection.kind {
        // A schema sees a parsed value: no byte size...
        RejectKind::TooLarge => Some("64 KiB limit"),
        // ...and no duplicate keys: a JSON parser keeps the last one, so the schema
        // never sees the first (which the decoder may also reject for its value).
        _ if has_duplicate_keys(input) => Some("duplicate keys"),
        // The pattern checks the written year; the decoder also the UTC instant.
        RejectKind::BadTimestamp if offset_moves_out_of_range(input) => {
            Some("offset moves the instant out of 1970-9999")
        }
        _ => None,
    }
}

/// Whether some object in `input` has a key twice.
fn has_duplicate_keys(input: &[u8]) -> bool {
    use serde::de::{Deserializer as _, MapAccess, SeqAccess, Visitor};

    /// Walks a value; `Err` on the first duplicate key.
    struct Walk;

    impl<'de> Visitor<'de> for Walk {
        type Value = ();

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("JSON")
        }
        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_str<E>(self, _: &str) -> Result<(), E> {
            Ok(())
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while seq.next_element::<Node>()?.is_some() {}
            Ok(())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            let mut keys = std::collections::HashSet::new();
            while let Some(key) = map.next_key::<String>()? {
                if !keys.insert(key) {
                    return Err(serde::de::Error::custom("duplicate"));
                }
                map.next_value::<Node>()?;
            }
            Ok(())
        }
    }

    struct Node;

    impl<'de> serde::Deserialize<'de> for Node {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Node, D::Error> {
            d.deserialize_any(Walk).map(|()| Node)
        }
    }

    let mut de = serde_json::Deserializer::from_slice(input);
    serde_json::from_slice::<Value>(input).is_ok() && (&mut de).deserialize_any(Walk).is_err()
}

/// Whether `occurred_at` is a valid date-time with a written year in 1970–9999 whose
/// UTC instant falls outside the range.
fn offset_moves_out_of_range(input: &[u8]) -> bool {
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(input) else {
        return false;
    };
    let Some(Value::String(text)) = map.get("occurred_at") else {
        return false;
    };
    let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) else {
        return false;
    };
    let written_year = chrono::Datelike::year(&at.naive_local());
    let ms = at.timestamp_millis();
    (1970..=9999).contains(&written_year) && !(timestamp::MIN_MS..=timestamp::MAX_MS).contains(&ms)
}

/// Asserts the decoder and the JSON Schema agree on `input`, up to the known
/// differences. Returns the known difference, if that is what it was.
fn assert_agree(name: &str, input: &[u8]) -> Option<&'static str> {
    let by_schema = schema_accepts(input);
    match decode(input) {
        Ok(_) => {
            assert!(by_schema, "{name}: decoder accepts, schema rejects");
            None
        }
        Err(rejection) if by_schema => {
            let difference = known_difference(input, &rejection);
            assert!(
                difference.is_some(),
                "{name}: schema accepts, decoder rejects: {rejection}"
            );
            difference
        }
        Err(_) => None,
    }
}

fn depth(n: usize) -> Vec<u8> {
    let nested = format!("{}{}", "[".repeat(n), "]".repeat(n));
    let text = String::from_utf8(with("agent.heartbeat", "x_deep", json!(null))).unwrap();
    text.replace("null", &nested).into_bytes()
}

/// Inputs where the two could plausibly disagree, beyond the fixtures and the table of
/// bad inputs, and whether the decoder accepts them.
fn edge_cases() -> Vec<(&'static str, Vec<u8>, bool)> {
    let q = "interaction.queued";
    let ts = |text: &str| with(q, "occurred_at", json!(text));
    vec![
        ("integral float", with(q, "priority", json!(2.0)), true),
        (
            "schema_version 1.0",
            with(q, "schema_version", json!(1.0)),
            true,
        ),
        ("i64 max", with(q, "priority", json!(i64::MAX)), true),
        ("i64 min", with(q, "priority", json!(i64::MIN)), true),
        (
            "2^63 as float",
            with(q, "priority", json!(9_223_372_036_854_775_808.0)),
            false,
        ),
        (
            "capacity u32 max",
            with("agent.logged_in", "capacity", json!({"voice": u32::MAX})),
            true,
        ),
        (
            "capacity u32 max + 1",
            with(
                "agent.logged_in",
                "capacity",
                json!({"voice": u64::from(u32::MAX) + 1}),
            ),
            false,
        ),
        ("lowercase t and z", ts("2026-11-20t09:15:02.123z"), true),
        ("leap second", ts("2016-12-31T23:59:60Z"), true),
        (
            "leap second with offset",
            ts("2017-01-01T00:59:60.250+01:00"),
            true,
        ),
        (
            "leap second not at midnight",
            ts("2016-12-31T22:59:60Z"),
            false,
        ),
        ("space separator", ts("2026-11-20 09:15:02Z"), false),
        (
            "offset without colon",
            ts("2026-11-20T09:15:02+0100"),
            false,
        ),
        ("no offset", ts("2026-11-20T09:15:02"), false),
        ("empty fraction", ts("2026-11-20T09:15:02.Z"), false),
        ("Feb 29 non-leap", ts("2025-02-29T09:15:02Z"), false),
        ("Feb 29 leap", ts("2024-02-29T09:15:02Z"), true),
        ("year 0999", ts("0999-01-01T00:00:00Z"), false),
        (
            "offset out of range start",
            ts("1970-01-01T00:30:00+01:00"),
            false,
        ),
        (
            "offset out of range end",
            ts("9999-12-31T23:30:00-01:00"),
            false,
        ),
        ("offset in range", ts("1969-12-31T23:30:00-01:00"), false),
        ("nesting 127 deep", depth(126), true),
        ("nesting 128 deep", depth(127), false),
        (
            "lone surrogate in unknown field",
            with(q, "x", json!(null)).replace_null(r#""\ud800""#),
            false,
        ),
        (
            "surrogate pair in unknown field",
            with(q, "x", json!(null)).replace_null(r#""\ud83d\ude00""#),
            true,
        ),
        (
            "lone surrogate in known field",
            with(q, "disposition", json!(null)).replace_null(r#""\udc00""#),
            false,
        ),
        ("empty key", with(q, "", json!(1)), true),
        (
            "escaped known key",
            with(q, "x", json!(null)).replace_bytes_str("\"queue_id\"", "\"queue\\u005fid\""),
            true,
        ),
        (
            "unknown type with offer_missed reason",
            with("agent.heartbeat", "type", json!("agent.yawned"))
                .replace_bytes_str("\"agent_id\"", "\"reason\":\"bored\",\"agent_id\""),
            true,
        ),
        (
            "known type name in other case",
            with(q, "type", json!("Interaction.Queued")),
            true,
        ),
        (
            "type 129 chars",
            with(q, "type", json!("t".repeat(129))),
            false,
        ),
        ("skills empty string", with(q, "skills", json!([""])), true),
        (
            "tenant non-ascii",
            with(q, "tenant_id", json!("açme")),
            false,
        ),
        (
            "event_id 128 multibyte",
            with(q, "event_id", json!("é".repeat(128))),
            true,
        ),
        (
            "event_id 129 multibyte",
            with(q, "event_id", json!("é".repeat(129))),
            false,
        ),
        ("65 KiB valid", padded_to(65 * 1024), false),
    ]
}

trait Edit {
    fn replace_null(self, with: &str) -> Vec<u8>;
    fn replace_bytes_str(self, from: &str, to: &str) -> Vec<u8>;
}

impl Edit for Vec<u8> {
    fn replace_null(self, with: &str) -> Vec<u8> {
        self.replace_bytes_str("null", with)
    }

    fn replace_bytes_str(self, from: &str, to: &str) -> Vec<u8> {
        let text = String::from_utf8(self).unwrap();
        assert!(text.contains(from), "{text} has no {from}");
        text.replacen(from, to, 1).into_bytes()
    }
}

#[test]
fn schema_and_decoder_agree_on_fixtures() {
    for json in fixtures::all_valid() {
        assert!(schema_accepts(json.as_bytes()), "schema rejects {json}");
        decode(json.as_bytes()).unwrap();
    }
}

#[test]
fn schema_and_decoder_agree_on_bad_inputs() {
    let mut differences = Vec::new();
    for (name, input, _, _) in bad_inputs() {
        if let Some(difference) = assert_agree(name, &input) {
            differences.push((name, difference));
        }
    }
    // Exactly the documented differences show up in the table.
    differences.sort_unstable();
    assert_eq!(
        differences,
        [
            ("65 KiB", "64 KiB limit"),
            ("duplicate attribute", "duplicate keys"),
            ("duplicate capacity", "duplicate keys"),
            ("duplicate envelope key", "duplicate keys"),
            ("duplicate typed key", "duplicate keys"),
            ("duplicate unknown key", "duplicate keys"),
            (
                "occurred_at before epoch by offset",
                "offset moves the instant out of 1970-9999"
            ),
        ]
    );
}

#[test]
fn schema_and_decoder_agree_on_edge_cases() {
    for (name, input, decoder_accepts) in edge_cases() {
        assert_eq!(
            decode(&input).is_ok(),
            decoder_accepts,
            "{name}: {:?}",
            decode(&input).err()
        );
        assert_agree(name, &input);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn schema_and_decoder_agree_on_mutated_events(
        which in 0..fixtures::all_valid().count(),
        mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        let mut input = fixtures::all_valid().nth(which).unwrap().as_bytes().to_vec();
        for mutation in &mutations {
            apply(&mut input, mutation);
        }
        assert_agree("mutated", &input);
    }

    #[test]
    fn schema_accepts_generated_events(event in fixtures::arb_event()) {
        let json = event.to_json();
        prop_assert!(schema_accepts(json.as_bytes()), "{}", json);
    }
}
