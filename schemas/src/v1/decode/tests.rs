use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::v1::event::KnownEventType;
use crate::v1::fixtures::{
    self, DOC_EXAMPLE, PER_TYPE, UNKNOWN_TYPE, apply, bad_inputs, mutation, padded_to, with,
    without,
};
use crate::v1::validate;

#[test]
fn doc_example_decodes_borrowing() {
    let event = decode(DOC_EXAMPLE.as_bytes()).unwrap();
    assert_eq!(event.schema_version, 1);
    assert_eq!(event.event_id, "01JD3Y8K2Q");
    assert_eq!(event.tenant_id, "acme");
    assert_eq!(
        event.event_type,
        EventType::Known(KnownEventType::InteractionQueued)
    );
    assert_eq!(event.occurred_at, 1_795_166_102_123);
    assert_eq!(event.interaction_id.as_deref(), Some("c-1001"));
    assert_eq!(event.channel, Some(Channel::Voice));
    assert_eq!(event.direction, Some(Direction::Inbound));
    assert_eq!(event.queue_id.as_deref(), Some("billing"));
    assert_eq!(event.priority, Some(2));
    assert!(event.extra.is_empty());
    assert!(matches!(event.event_id, Cow::Borrowed(_)));
    assert!(matches!(event.queue_id, Some(Cow::Borrowed(_))));
}

#[test]
fn every_fixture_is_valid_and_every_type_has_one() {
    for (event_type, json) in PER_TYPE {
        let event = decode(json.as_bytes()).unwrap_or_else(|r| panic!("{event_type}: {r}"));
        assert_eq!(event.event_type, EventType::Known(*event_type));
        validate(&event).unwrap();
    }
    for known in KnownEventType::ALL {
        assert!(
            PER_TYPE.iter().any(|(t, _)| t == known),
            "no fixture for {known}"
        );
    }
}

#[test]
fn escaped_strings_are_owned_and_unescaped() {
    let event = decode(PER_TYPE[11].1.as_bytes()).unwrap();
    assert_eq!(
        event.disposition.as_deref(),
        Some("resolved \"first\" call é")
    );
    assert!(matches!(event.disposition, Some(Cow::Owned(_))));
    // An escaped key is the same key.
    let json = with("agent.heartbeat", "x", json!(1));
    let json = String::from_utf8(json)
        .unwrap()
        .replace("\"agent_id\"", "\"agent\\u005fid\"");
    assert_eq!(
        decode(json.as_bytes()).unwrap().agent_id.as_deref(),
        Some("a-1")
    );
}

#[test]
fn unknown_fields_and_types_are_preserved() {
    let event = decode(UNKNOWN_TYPE.as_bytes()).unwrap();
    assert_eq!(
        event.event_type,
        EventType::Unknown("interaction.sentiment_scored".into())
    );
    let extra: Vec<(&str, &str)> = event.extra.iter().map(|(k, v)| (&**k, &**v)).collect();
    assert_eq!(
        extra,
        [
            ("score", "-0.75"),
            ("model", r#"{"name":"s-1","tags":["a",null]}"#),
            ("flag", "true"),
        ]
    );
    let json = event.to_json();
    assert!(
        json.ends_with(r#""score":-0.75,"model":{"name":"s-1","tags":["a",null]},"flag":true}"#)
    );
    assert_eq!(decode(json.as_bytes()).unwrap(), event);

    // Whitespace inside an unknown value is kept verbatim.
    let spaced = with("agent.heartbeat", "x_note", json!(null));
    let spaced = String::from_utf8(spaced)
        .unwrap()
        .replace("null", "[ 1 ,\n 2 ]");
    let event = decode(spaced.as_bytes()).unwrap();
    assert_eq!(event.extra, [("x_note".into(), "[ 1 ,\n 2 ]".into())]);
}

#[test]
fn size_limit_is_inclusive() {
    let exact = padded_to(MAX_EVENT_BYTES);
    assert_eq!(exact.len(), MAX_EVENT_BYTES);
    decode(&exact).unwrap();
    let over = padded_to(MAX_EVENT_BYTES + 1);
    assert_eq!(decode(&over).unwrap_err().kind, RejectKind::TooLarge);
}

#[test]
fn deep_nesting_is_rejected_not_overflowed() {
    for depth in [200, 30_000] {
        let mut json = String::from(r#"{"x":"#);
        json.push_str(&"[".repeat(depth));
        json.push_str(&"]".repeat(depth));
        json.push('}');
        assert_eq!(
            decode(json.as_bytes()).unwrap_err().kind,
            RejectKind::NotJson
        );
    }
}

#[test]
fn bad_inputs_are_rejected_with_kind_and_field() {
    for (name, input, kind, field) in bad_inputs() {
        let rejection = match decode(&input) {
            Ok(event) => panic!("{name}: accepted {event:?}"),
            Err(rejection) => rejection,
        };
        assert_eq!(
            (rejection.kind, rejection.field.as_deref()),
            (kind, field),
            "{name}: {rejection}"
        );
        let reason = rejection.to_string();
        assert!(reason.len() < 250, "{name}: reason too long: {reason}");
        assert!(
            rejection.got.chars().count() <= 120,
            "{name}: got too long: {}",
            rejection.got
        );
    }
}

#[test]
fn accepted_edge_cases() {
    let q = "interaction.queued";
    for (name, input) in [
        ("integral float", with(q, "priority", json!(2.0))),
        (
            "exponent integer",
            String::from_utf8(with(q, "priority", json!(7)))
                .unwrap()
                .replace(":7", ":7e0")
                .into_bytes(),
        ),
        ("schema_version 1.0", with(q, "schema_version", json!(1.0))),
        (
            "no fraction",
            with(q, "occurred_at", json!("2026-11-20T09:15:02Z")),
        ),
        (
            "nanoseconds",
            with(
                q,
                "occurred_at",
                json!("2026-11-20T09:15:02.123456789+05:30"),
            ),
        ),
        (
            "leading whitespace",
            [b" \n\t", DOC_EXAMPLE.as_bytes(), b"\n "].concat(),
        ),
        ("empty attributes", with(q, "attributes", json!({}))),
        ("empty skills", with(q, "skills", json!([]))),
        (
            "state_changed free reason",
            with("agent.state_changed", "reason", json!("anything at all")),
        ),
        (
            "reason on a type without enum",
            with("interaction.created", "reason", json!("ivr")),
        ),
        (
            "flowed_out each reason",
            with("interaction.flowed_out", "reason", json!("voicemail")),
        ),
        (
            "tenant charset",
            with(q, "tenant_id", json!("Acme_01.eu-west")),
        ),
        (
            "event_id 128 chars",
            with(q, "event_id", json!("é".repeat(128))),
        ),
        (
            "csat 1",
            with("interaction.survey_completed", "csat", json!(1)),
        ),
        (
            "nps 10",
            with("interaction.survey_completed", "nps", json!(10)),
        ),
        ("amd_ms 0", with("dialer.result", "amd_ms", json!(0))),
        (
            "agent fields on interaction event",
            with(q, "state", json!("away")),
        ),
        (
            "transfer to both",
            with("interaction.transferred", "to_agent_id", json!("a-2")),
        ),
        (
            "offered with priority",
            with("interaction.offered", "priority", json!(i64::MIN)),
        ),
    ] {
        if let Err(rejection) = decode(&input) {
            panic!("{name}: {rejection}");
        }
    }
}

#[test]
fn reasons_read_well() {
    let reason = |input: &[u8]| decode(input).unwrap_err().to_string();
    let q = "interaction.queued";
    assert_eq!(
        reason(&with(q, "queue_id", json!(12))),
        "field `queue_id`: expected a string of 1–128 chars, got number"
    );
    assert_eq!(
        reason(&without(q, "queue_id")),
        "missing field `queue_id` required by interaction.queued"
    );
    assert_eq!(
        reason(b"hello"),
        "not JSON: expected value at line 1 column 1"
    );
    assert_eq!(
        reason(&with(q, "channel", json!("fax"))),
        "field `channel`: expected one of voice, chat, email, sms, callback, video, task, got \"fax\""
    );
    assert_eq!(
        reason(&with(q, "occurred_at", json!("2026-11-20T09:15:02"))),
        "field `occurred_at`: expected an RFC 3339 timestamp with offset in years 1970–9999, got \"2026-11-20T09:15:02\""
    );
    assert_eq!(
        reason(&with(q, "schema_version", json!(2))),
        "field `schema_version`: expected 1, got 2"
    );
    assert_eq!(reason(b"[]"), "not a JSON object: got array");
    assert_eq!(
        reason(&padded_to(70_000)),
        "message too large: expected at most 65536 bytes, got 70000 bytes"
    );
    assert_eq!(
        reason(b"{\"a\":\"\xc3\"}"),
        "not UTF-8: invalid byte at offset 6"
    );
    let long = reason(&with(q, "channel", json!("v".repeat(10_000))));
    assert!(long.len() < 200, "{long}");
}

#[test]
fn syntax_errors_take_precedence_over_field_errors() {
    let bad_type_then_truncated = br#"{"schema_version":1,"event_id":5,"tenant_id":"#;
    assert_eq!(
        decode(bad_type_then_truncated).unwrap_err().kind,
        RejectKind::NotJson
    );
    let bad_version_and_type = with("interaction.queued", "schema_version", json!(2));
    let bad_version_and_type = String::from_utf8(bad_version_and_type)
        .unwrap()
        .replace("\"priority\":-3", "\"priority\":\"high\"");
    assert_eq!(
        decode(bad_version_and_type.as_bytes()).unwrap_err().kind,
        RejectKind::UnsupportedVersion
    );
}

#[test]
fn fixtures_round_trip_through_canonical_json() {
    for json in fixtures::all_valid() {
        let event = decode(json.as_bytes()).unwrap();
        let canonical = event.to_json();
        let again = decode(canonical.as_bytes()).unwrap();
        assert_eq!(again, event, "{canonical}");
        assert_eq!(
            again.to_json(),
            canonical,
            "canonical form is a fixed point"
        );
        assert_eq!(event.clone().into_owned(), event);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn never_panics_on_arbitrary_bytes(input in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = decode(&input);
    }

    #[test]
    fn never_panics_on_json_like_text(input in r#"[{}\[\]":,0-9a-z_.eE+\- \\]{0,300}"#) {
        let _ = decode(input.as_bytes());
    }

    #[test]
    fn mutated_events_never_panic_and_accepted_ones_round_trip(
        which in 0..fixtures::all_valid().count(),
        mutations in proptest::collection::vec(mutation(), 1..6),
    ) {
        let mut input = fixtures::all_valid().nth(which).unwrap().as_bytes().to_vec();
        for mutation in &mutations {
            apply(&mut input, mutation);
        }
        if let Ok(event) = decode(&input) {
            validate(&event).unwrap();
            let json = event.to_json();
            prop_assert_eq!(decode(json.as_bytes()), Ok(event.clone()));
        }
    }

    #[test]
    fn generated_events_round_trip(event in fixtures::arb_event()) {
        prop_assert_eq!(validate(&event), Ok(()));
        let json = event.to_json();
        let decoded = decode(json.as_bytes());
        prop_assert_eq!(decoded.as_ref(), Ok(&event), "{}", json);
        prop_assert_eq!(decoded.unwrap().to_json(), json);
    }
}
