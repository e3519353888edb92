//! Test inputs shared by the tests of every module: the example of events.md verbatim
//! and one valid event per known type.

use serde_json::{Value, json};

use super::event::KnownEventType;
use super::rejection::RejectKind;

/// The example of events.md, exactly as written there (with its line break).
pub(crate) const DOC_EXAMPLE: &str = r#"{"schema_version":1,"event_id":"01JD3Y8K2Q","tenant_id":"acme","type":"interaction.queued",
 "occurred_at":"2026-11-20T09:15:02.123Z","interaction_id":"c-1001","channel":"voice",
 "direction":"inbound","queue_id":"billing","priority":2}"#;

/// One valid event per known type, each using the type's optional fields too.
pub(crate) const PER_TYPE: &[(KnownEventType, &str)] = {
    use KnownEventType as T;
    &[
        (
            T::InteractionCreated,
            r#"{"schema_version":1,"event_id":"e-01","tenant_id":"acme","type":"interaction.created","occurred_at":"2026-11-20T09:15:00Z","interaction_id":"c-1","channel":"chat","direction":"inbound","customer_id":"cust-9","attributes":{"ivr":"main","lang":"fr"}}"#,
        ),
        (
            T::InteractionQueued,
            r#"{"schema_version":1,"event_id":"e-02","tenant_id":"acme","type":"interaction.queued","occurred_at":"2026-11-20T09:15:01.5Z","interaction_id":"c-1","queue_id":"billing","priority":-3,"skills":["fr","vip"]}"#,
        ),
        (
            T::InteractionOffered,
            r#"{"schema_version":1,"event_id":"e-03","tenant_id":"acme","type":"interaction.offered","occurred_at":"2026-11-20T10:15:02.123+01:00","interaction_id":"c-1","queue_id":"billing","agent_id":"a-7"}"#,
        ),
        (
            T::InteractionOfferMissed,
            r#"{"schema_version":1,"event_id":"e-04","tenant_id":"acme","type":"interaction.offer_missed","occurred_at":"2026-11-20T09:15:12.000Z","interaction_id":"c-1","agent_id":"a-7","queue_id":"billing","reason":"timeout"}"#,
        ),
        (
            T::InteractionAnswered,
            r#"{"schema_version":1,"event_id":"e-05","tenant_id":"acme","type":"interaction.answered","occurred_at":"2026-11-20T09:15:20.250Z","interaction_id":"c-1","queue_id":"billing","agent_id":"a-8","channel":"voice","direction":"outbound","campaign_id":"camp-1"}"#,
        ),
        (
            T::InteractionHoldStarted,
            r#"{"schema_version":1,"event_id":"e-06","tenant_id":"acme","type":"interaction.hold_started","occurred_at":"2026-11-20T09:16:00.000Z","interaction_id":"c-1","agent_id":"a-8"}"#,
        ),
        (
            T::InteractionHoldEnded,
            r#"{"schema_version":1,"event_id":"e-07","tenant_id":"acme","type":"interaction.hold_ended","occurred_at":"2026-11-20T09:16:30.000Z","interaction_id":"c-1","agent_id":"a-8"}"#,
        ),
        (
            T::InteractionTransferred,
            r#"{"schema_version":1,"event_id":"e-08","tenant_id":"acme","type":"interaction.transferred","occurred_at":"2026-11-20T09:17:00.000Z","interaction_id":"c-1","agent_id":"a-8","to_queue_id":"retention","transfer_type":"blind"}"#,
        ),
        (
            T::InteractionAbandoned,
            r#"{"schema_version":1,"event_id":"e-09","tenant_id":"acme","type":"interaction.abandoned","occurred_at":"2026-11-20T09:17:30.000Z","interaction_id":"c-2","queue_id":"retention"}"#,
        ),
        (
            T::InteractionFlowedOut,
            r#"{"schema_version":1,"event_id":"e-10","tenant_id":"acme","type":"interaction.flowed_out","occurred_at":"2026-11-20T09:18:00.000Z","interaction_id":"c-3","queue_id":"retention","reason":"overflow"}"#,
        ),
        (
            T::InteractionConversationEnded,
            r#"{"schema_version":1,"event_id":"e-11","tenant_id":"acme","type":"interaction.conversation_ended","occurred_at":"2026-11-20T09:20:00.000Z","interaction_id":"c-1","agent_id":"a-9","disconnect_party":"customer"}"#,
        ),
        (
            T::InteractionWrapupCompleted,
            r#"{"schema_version":1,"event_id":"e-12","tenant_id":"acme","type":"interaction.wrapup_completed","occurred_at":"2026-11-20T09:21:00.000Z","interaction_id":"c-1","agent_id":"a-9","disposition":"resolved \"first\" call \u00e9"}"#,
        ),
        (
            T::InteractionSurveyCompleted,
            r#"{"schema_version":1,"event_id":"e-13","tenant_id":"acme","type":"interaction.survey_completed","occurred_at":"2026-11-20T09:30:00.000Z","interaction_id":"c-1","csat":5,"nps":0}"#,
        ),
        (
            T::InteractionFirstResponse,
            r#"{"schema_version":1,"event_id":"e-14","tenant_id":"acme","type":"interaction.first_response","occurred_at":"2026-11-20T09:31:00.000Z","interaction_id":"c-4","agent_id":"a-1","channel":"email"}"#,
        ),
        (
            T::InteractionEnded,
            r#"{"schema_version":1,"event_id":"e-15","tenant_id":"acme","type":"interaction.ended","occurred_at":"2026-11-20T09:40:00.000Z","interaction_id":"c-4","outcome":"solved"}"#,
        ),
        (
            T::DialerAttempted,
            r#"{"schema_version":1,"event_id":"e-16","tenant_id":"acme","type":"dialer.attempted","occurred_at":"2026-11-20T09:00:00.000Z","interaction_id":"o-1","campaign_id":"camp-1","dial_mode":"predictive","direction":"outbound"}"#,
        ),
        (
            T::DialerResult,
            r#"{"schema_version":1,"event_id":"e-17","tenant_id":"acme","type":"dialer.result","occurred_at":"2026-11-20T09:00:05.000Z","interaction_id":"o-1","campaign_id":"camp-1","result":"machine","amd_ms":1800}"#,
        ),
        (
            T::DialerPreviewAction,
            r#"{"schema_version":1,"event_id":"e-18","tenant_id":"acme","type":"dialer.preview_action","occurred_at":"2026-11-20T09:01:00.000Z","interaction_id":"o-2","campaign_id":"camp-2","agent_id":"a-3","action":"reschedule"}"#,
        ),
        (
            T::DialerDropped,
            r#"{"schema_version":1,"event_id":"e-19","tenant_id":"acme","type":"dialer.dropped","occurred_at":"2026-11-20T09:02:00.000Z","interaction_id":"o-3","campaign_id":"camp-1"}"#,
        ),
        (
            T::AgentLoggedIn,
            r#"{"schema_version":1,"event_id":"e-20","tenant_id":"acme","type":"agent.logged_in","occurred_at":"2026-11-20T08:00:00.000Z","agent_id":"a-1","queues":["billing","retention"],"capacity":{"voice":1,"chat":3},"team_id":"t-north"}"#,
        ),
        (
            T::AgentStateChanged,
            r#"{"schema_version":1,"event_id":"e-21","tenant_id":"acme","type":"agent.state_changed","occurred_at":"2026-11-20T10:00:00.000Z","agent_id":"a-1","state":"away","reason":"lunch"}"#,
        ),
        (
            T::AgentLoggedOut,
            r#"{"schema_version":1,"event_id":"e-22","tenant_id":"acme","type":"agent.logged_out","occurred_at":"2026-11-20T17:00:00.000Z","agent_id":"a-1"}"#,
        ),
        (
            T::AgentHeartbeat,
            r#"{"schema_version":1,"event_id":"e-23","tenant_id":"acme","type":"agent.heartbeat","occurred_at":"2026-11-20T17:00:00.000Z","agent_id":"a-1"}"#,
        ),
    ]
};

/// An event of a type v1 does not know, with unknown fields of every JSON type.
pub(crate) const UNKNOWN_TYPE: &str = r#"{"schema_version":1,"event_id":"e-99","tenant_id":"acme","type":"interaction.sentiment_scored","occurred_at":"2026-11-20T09:15:00.000Z","score":-0.75,"model":{"name":"s-1","tags":["a",null]},"flag":true}"#;

/// Every valid example above.
pub(crate) fn all_valid() -> impl Iterator<Item = &'static str> {
    std::iter::once(DOC_EXAMPLE)
        .chain(PER_TYPE.iter().map(|(_, json)| *json))
        .chain(std::iter::once(UNKNOWN_TYPE))
}

/// Generated valid events, every field exercised, strings with escapes and non-ASCII.
pub(crate) fn arb_event() -> impl proptest::strategy::Strategy<Value = super::Event<'static>> {
    use proptest::collection::{btree_map, vec};
    use proptest::option::of as opt;
    use proptest::prelude::*;
    use proptest::sample::select;

    use super::event::*;
    use super::field::{reason_values, required_fields};
    use super::timestamp::{MAX_MS, MIN_MS};

    fn text() -> impl Strategy<Value = String> {
        "(?s).{0,12}"
    }
    fn id() -> impl Strategy<Value = String> {
        prop_oneof!["[a-z0-9-]{1,12}", "(?s).{1,12}"]
    }
    fn json() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<f64>().prop_map(serde_json::Value::from),
            text().prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(3, 12, 4, |inner| {
            prop_oneof![
                vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
                btree_map("[a-z]{0,4}", inner, 0..4)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
        .prop_map(|v| v.to_string())
    }
    fn cow(s: String) -> Str<'static> {
        s.into()
    }

    let event_type = prop_oneof![
        3 => select(KnownEventType::ALL).prop_map(EventType::Known),
        1 => "[a-z]{1,10}\\.[a-z_]{1,12}".prop_map(|s| EventType::from_name(s.into())),
    ];
    let envelope = (
        event_type,
        id(),
        "[A-Za-z0-9_.-]{1,64}",
        MIN_MS..=MAX_MS,
        btree_map(text(), text(), 0..4),
    );
    let ids = (
        opt(id()),
        opt(id()),
        opt(id()),
        opt(id()),
        opt(id()),
        opt(id()),
        opt(id()),
    );
    let enums = (
        opt(select(Channel::ALL)),
        opt(select(Direction::ALL)),
        opt(select(TransferType::ALL)),
        opt(select(DisconnectParty::ALL)),
        opt(select(DialMode::ALL)),
        opt(select(DialResult::ALL)),
        opt(select(PreviewAction::ALL)),
        opt(select(Presence::ALL)),
    );
    let misc = (
        opt(any::<i64>()),
        opt(vec(text(), 0..4)),
        opt(text()),
        opt(text()),
        opt(1u8..=5),
        opt(0u8..=10),
        opt(text()),
        opt(0..=i64::MAX),
        opt(vec(id(), 0..4)),
        opt(btree_map(select(Channel::NAMES), any::<u32>(), 0..4)),
        opt(id()),
    );
    let extra = btree_map("x_[a-z]{1,8}", json(), 0..3);
    (envelope, ids, enums, misc, extra).prop_map(|(envelope, ids, enums, misc, extra)| {
        let (event_type, event_id, tenant_id, occurred_at, attributes) = envelope;
        let (interaction_id, queue_id, agent_id, campaign_id, customer_id, to_queue, to_agent) =
            ids;
        let (channel, direction, transfer_type, disconnect_party, dial_mode, result, action, state) =
            enums;
        let (priority, skills, reason, disposition, csat, nps, outcome, amd_ms, queues, capacity, team_id) =
            misc;
        let mut event = Event {
            schema_version: 1,
            event_id: cow(event_id),
            tenant_id: cow(tenant_id),
            event_type,
            occurred_at,
            attributes: attributes.into_iter().map(|(k, v)| (cow(k), cow(v))).collect(),
            interaction_id: interaction_id.map(cow),
            channel,
            direction,
            queue_id: queue_id.map(cow),
            agent_id: agent_id.map(cow),
            campaign_id: campaign_id.map(cow),
            customer_id: customer_id.map(cow),
            priority,
            skills: skills.map(|v| v.into_iter().map(cow).collect()),
            reason: reason.map(cow),
            to_queue_id: to_queue.map(cow),
            to_agent_id: to_agent.map(cow),
            transfer_type,
            disconnect_party,
            disposition: disposition.map(cow),
            csat,
            nps,
            outcome: outcome.map(cow),
            dial_mode,
            result,
            amd_ms,
            action,
            queues: queues.map(|v| v.into_iter().map(cow).collect()),
            capacity: capacity.map(|m| m.into_iter().map(|(k, v)| (Str::Borrowed(k), v)).collect()),
            team_id: team_id.map(cow),
            state,
            extra: extra.into_iter().map(|(k, v)| (cow(k), cow(v))).collect(),
        };
        if let Some(known) = event.event_type.known() {
            for field in required_fields(known) {
                use super::field::Field;
                let slot = match field {
                    Field::InteractionId => &mut event.interaction_id,
                    Field::QueueId => &mut event.queue_id,
                    Field::AgentId => &mut event.agent_id,
                    Field::CampaignId => &mut event.campaign_id,
                    other => unreachable!("no generator for required {other:?}"),
                };
                slot.get_or_insert_with(|| "filled".into());
            }
            if let (Some(values), Some(reason)) = (reason_values(known), &mut event.reason) {
                *reason = values[reason.len() % values.len()].into();
            }
        }
        event
    })
}

/// The fixture of `event_type` as a JSON object, to derive bad inputs from.
pub(crate) fn base(event_type: &str) -> serde_json::Map<String, Value> {
    let (_, json) = PER_TYPE
        .iter()
        .find(|(t, _)| t.as_str() == event_type)
        .expect("a fixture per type");
    match serde_json::from_str(json).unwrap() {
        Value::Object(map) => map,
        _ => unreachable!(),
    }
}

/// `event_type`'s fixture with `key` set to `value`.
pub(crate) fn with(event_type: &str, key: &str, value: Value) -> Vec<u8> {
    let mut map = base(event_type);
    map.insert(key.to_owned(), value);
    Value::Object(map).to_string().into_bytes()
}

/// `event_type`'s fixture without `key`.
pub(crate) fn without(event_type: &str, key: &str) -> Vec<u8> {
    let mut map = base(event_type);
    assert!(
        map.remove(key).is_some(),
        "{event_type} fixture has no {key}"
    );
    Value::Object(map).to_string().into_bytes()
}

/// A valid event padded with an unknown field to exactly `len` bytes.
pub(crate) fn padded_to(len: usize) -> Vec<u8> {
    let head = br#"{"schema_version":1,"event_id":"e","tenant_id":"t","type":"agent.heartbeat","occurred_at":"2026-01-01T00:00:00Z","agent_id":"a","pad":""#;
    let mut out = head.to_vec();
    out.resize(len - 2, b'x');
    out.extend_from_slice(b"\"}");
    out
}

/// Every bad input with the kind and field it must be rejected for.
pub(crate) fn bad_inputs() -> Vec<(&'static str, Vec<u8>, RejectKind, Option<&'static str>)> {
    use RejectKind::*;
    let doc = DOC_EXAMPLE.as_bytes();
    let q = "interaction.queued";
    let cases: Vec<(&str, Vec<u8>, RejectKind, Option<&str>)> = vec![
        // Not JSON at all, or not one object.
        ("empty", b"".to_vec(), NotJson, None),
        ("prose", b"hello".to_vec(), NotJson, None),
        ("truncated", doc[..60].to_vec(), NotJson, None),
        ("truncated after value", doc[..doc.len() - 1].to_vec(), NotJson, None),
        ("trailing garbage", [doc, b"x"].concat(), NotJson, None),
        ("two objects", [doc, b"{}"].concat(), NotJson, None),
        ("single quotes", b"{'a':1}".to_vec(), NotJson, None),
        ("trailing comma", br#"{"schema_version":1,}"#.to_vec(), NotJson, None),
        ("lone surrogate", br#"{"x":"\ud800"}"#.to_vec(), NotJson, None),
        ("number out of range", br#"{"x":1e999}"#.to_vec(), NotJson, None),
        ("not utf8", b"{\"event_id\":\"\xff\"}".to_vec(), NotUtf8, None),
        ("65 KiB", padded_to(65 * 1024), TooLarge, None),
        ("top-level array", b"[1,2]".to_vec(), NotAnObject, None),
        ("top-level string", b"\"event\"".to_vec(), NotAnObject, None),
        ("top-level null", b"null".to_vec(), NotAnObject, None),
        ("top-level number", b" 42 ".to_vec(), NotAnObject, None),
        // Envelope.
        ("schema_version 2", with(q, "schema_version", json!(2)), UnsupportedVersion, Some("schema_version")),
        ("schema_version 0", with(q, "schema_version", json!(0)), UnsupportedVersion, Some("schema_version")),
        ("schema_version -1", with(q, "schema_version", json!(-1)), UnsupportedVersion, Some("schema_version")),
        ("schema_version string", with(q, "schema_version", json!("1")), WrongType, Some("schema_version")),
        ("schema_version 1.5", with(q, "schema_version", json!(1.5)), WrongType, Some("schema_version")),
        ("no schema_version", without(q, "schema_version"), MissingField, Some("schema_version")),
        ("no event_id", without(q, "event_id"), MissingField, Some("event_id")),
        ("event_id empty", with(q, "event_id", json!("")), InvalidValue, Some("event_id")),
        ("event_id 129 chars", with(q, "event_id", json!("e".repeat(129))), InvalidValue, Some("event_id")),
        ("event_id number", with(q, "event_id", json!(17)), WrongType, Some("event_id")),
        ("event_id null", with(q, "event_id", json!(null)), WrongType, Some("event_id")),
        ("no tenant_id", without(q, "tenant_id"), MissingField, Some("tenant_id")),
        ("tenant_id with a space", with(q, "tenant_id", json!("acme corp")), InvalidValue, Some("tenant_id")),
        ("tenant_id 65 chars", with(q, "tenant_id", json!("t".repeat(65))), InvalidValue, Some("tenant_id")),
        ("tenant_id empty", with(q, "tenant_id", json!("")), InvalidValue, Some("tenant_id")),
        ("no type", without(q, "type"), MissingField, Some("type")),
        ("type number", with(q, "type", json!(3)), WrongType, Some("type")),
        ("type empty", with(q, "type", json!("")), InvalidValue, Some("type")),
        ("no occurred_at", without(q, "occurred_at"), MissingField, Some("occurred_at")),
        ("occurred_at without offset", with(q, "occurred_at", json!("2026-11-20T09:15:02.123")), BadTimestamp, Some("occurred_at")),
        ("occurred_at garbage", with(q, "occurred_at", json!("last tuesday")), BadTimestamp, Some("occurred_at")),
        ("occurred_at date only", with(q, "occurred_at", json!("2026-11-20")), BadTimestamp, Some("occurred_at")),
        ("occurred_at 1969", with(q, "occurred_at", json!("1969-12-31T23:59:59Z")), BadTimestamp, Some("occurred_at")),
        ("occurred_at before epoch by offset", with(q, "occurred_at", json!("1970-01-01T00:30:00+01:00")), BadTimestamp, Some("occurred_at")),
        ("occurred_at year 10000", with(q, "occurred_at", json!("10000-01-01T00:00:00Z")), BadTimestamp, Some("occurred_at")),
        ("occurred_at Feb 30", with(q, "occurred_at", json!("2026-02-30T00:00:00Z")), BadTimestamp, Some("occurred_at")),
        ("occurred_at epoch ms", with(q, "occurred_at", json!(1_795_166_102_123_i64)), WrongType, Some("occurred_at")),
        ("attributes value number", with(q, "attributes", json!({"region": 5})), WrongType, Some("attributes.region")),
        ("attributes array", with(q, "attributes", json!(["a"])), WrongType, Some("attributes")),
        ("attributes null", with(q, "attributes", json!(null)), WrongType, Some("attributes")),
        // Duplicates.
        ("duplicate envelope key", [&doc[..doc.len() - 1], br#","tenant_id":"other"}"#].concat(), DuplicateField, Some("tenant_id")),
        ("duplicate typed key", [&doc[..doc.len() - 1], br#","priority":2}"#].concat(), DuplicateField, Some("priority")),
        ("duplicate unknown key", [&doc[..doc.len() - 1], br#","x":1,"x":2}"#].concat(), DuplicateField, Some("x")),
        ("duplicate attribute", [&doc[..doc.len() - 1], br#","attributes":{"a":"1","a":"2"}}"#].concat(), DuplicateField, Some("attributes.a")),
        ("duplicate capacity", with("agent.logged_in", "capacity", json!({})).replace_bytes(b"\"capacity\":{}", br#""capacity":{"voice":1,"voice":2}"#), DuplicateField, Some("capacity.voice")),
        // Family ids.
        ("interaction without interaction_id", without("interaction.created", "interaction_id"), MissingField, Some("interaction_id")),
        ("interaction_id empty", with("interaction.created", "interaction_id", json!("")), InvalidValue, Some("interaction_id")),
        ("interaction_id 129 chars", with("interaction.created", "interaction_id", json!("i".repeat(129))), InvalidValue, Some("interaction_id")),
        ("dialer without interaction_id", without("dialer.attempted", "interaction_id"), MissingField, Some("interaction_id")),
        ("dialer without campaign_id", without("dialer.dropped", "campaign_id"), MissingField, Some("campaign_id")),
        ("agent without agent_id", without("agent.heartbeat", "agent_id"), MissingField, Some("agent_id")),
        ("agent_id number", with("agent.heartbeat", "agent_id", json!(7)), WrongType, Some("agent_id")),
        ("agent_id 129 chars", with("agent.heartbeat", "agent_id", json!("a".repeat(129))), InvalidValue, Some("agent_id")),
        // Per-type required fields.
        ("queued without queue_id", without(q, "queue_id"), MissingField, Some("queue_id")),
        ("offered without queue_id", without("interaction.offered", "queue_id"), MissingField, Some("queue_id")),
        ("offered without agent_id", without("interaction.offered", "agent_id"), MissingField, Some("agent_id")),
        ("offer_missed without agent_id", without("interaction.offer_missed", "agent_id"), MissingField, Some("agent_id")),
        ("answered without queue_id", without("interaction.answered", "queue_id"), MissingField, Some("queue_id")),
        ("answered without agent_id", without("interaction.answered", "agent_id"), MissingField, Some("agent_id")),
        ("abandoned without queue_id", without("interaction.abandoned", "queue_id"), MissingField, Some("queue_id")),
        ("flowed_out without queue_id", without("interaction.flowed_out", "queue_id"), MissingField, Some("queue_id")),
        ("wrapup without agent_id", without("interaction.wrapup_completed", "agent_id"), MissingField, Some("agent_id")),
        // Wrong types of typed fields.
        ("queue_id number", with(q, "queue_id", json!(12)), WrongType, Some("queue_id")),
        ("queue_id null", with(q, "queue_id", json!(null)), WrongType, Some("queue_id")),
        ("queue_id object", with(q, "queue_id", json!({"id": "b"})), WrongType, Some("queue_id")),
        ("priority string", with(q, "priority", json!("high")), WrongType, Some("priority")),
        ("priority fraction", with(q, "priority", json!(1.5)), WrongType, Some("priority")),
        ("priority beyond i64", with(q, "priority", json!(1e19)), InvalidValue, Some("priority")),
        ("priority u64", with(q, "priority", json!(u64::MAX)), InvalidValue, Some("priority")),
        ("skills string", with(q, "skills", json!("fr")), WrongType, Some("skills")),
        ("skills number item", with(q, "skills", json!(["fr", 3])), WrongType, Some("skills[1]")),
        ("queues empty id", with("agent.logged_in", "queues", json!(["a", ""])), InvalidValue, Some("queues[1]")),
        ("capacity negative", with("agent.logged_in", "capacity", json!({"voice": -1})), InvalidValue, Some("capacity.voice")),
        ("capacity string", with("agent.logged_in", "capacity", json!({"chat": "3"})), WrongType, Some("capacity.chat")),
        ("capacity fraction", with("agent.logged_in", "capacity", json!({"chat": 1.5})), WrongType, Some("capacity.chat")),
        ("capacity not a channel", with("agent.logged_in", "capacity", json!({"fax": 1})), InvalidValue, Some("capacity.fax")),
        ("capacity array", with("agent.logged_in", "capacity", json!([1])), WrongType, Some("capacity")),
        ("irrelevant field wrong type", with("agent.heartbeat", "priority", json!("high")), WrongType, Some("priority")),
        ("unknown type, known field wrong type", [&UNKNOWN_TYPE.as_bytes()[..UNKNOWN_TYPE.len() - 1], br#","csat":"great"}"#].concat(), WrongType, Some("csat")),
        ("unknown type without tenant", br#"{"schema_version":1,"event_id":"e","type":"x.y","occurred_at":"2026-01-01T00:00:00Z"}"#.to_vec(), MissingField, Some("tenant_id")),
        // Closed enums.
        ("channel", with(q, "channel", json!("fax")), InvalidValue, Some("channel")),
        ("channel case", with(q, "channel", json!("Voice")), InvalidValue, Some("channel")),
        ("channel number", with(q, "channel", json!(1)), WrongType, Some("channel")),
        ("direction", with(q, "direction", json!("sideways")), InvalidValue, Some("direction")),
        ("transfer_type", with("interaction.transferred", "transfer_type", json!("warm")), InvalidValue, Some("transfer_type")),
        ("disconnect_party", with("interaction.conversation_ended", "disconnect_party", json!("nobody")), InvalidValue, Some("disconnect_party")),
        ("dial_mode", with("dialer.attempted", "dial_mode", json!("manual")), InvalidValue, Some("dial_mode")),
        ("result", with("dialer.result", "result", json!("robot")), InvalidValue, Some("result")),
        ("action", with("dialer.preview_action", "action", json!("ignore")), InvalidValue, Some("action")),
        ("state", with("agent.state_changed", "state", json!("busy")), InvalidValue, Some("state")),
        ("offer_missed reason", with("interaction.offer_missed", "reason", json!("bored")), InvalidValue, Some("reason")),
        ("flowed_out reason of offer_missed", with("interaction.flowed_out", "reason", json!("rejected")), InvalidValue, Some("reason")),
        ("state_changed reason number", with("agent.state_changed", "reason", json!(5)), WrongType, Some("reason")),
        // Ranges.
        ("csat 0", with("interaction.survey_completed", "csat", json!(0)), InvalidValue, Some("csat")),
        ("csat 6", with("interaction.survey_completed", "csat", json!(6)), InvalidValue, Some("csat")),
        ("csat 300", with("interaction.survey_completed", "csat", json!(300)), InvalidValue, Some("csat")),
        ("csat -1", with("interaction.survey_completed", "csat", json!(-1)), InvalidValue, Some("csat")),
        ("csat string", with("interaction.survey_completed", "csat", json!("5")), WrongType, Some("csat")),
        ("nps 11", with("interaction.survey_completed", "nps", json!(11)), InvalidValue, Some("nps")),
        ("nps -1", with("interaction.survey_completed", "nps", json!(-1)), InvalidValue, Some("nps")),
        ("amd_ms negative", with("dialer.result", "amd_ms", json!(-1)), InvalidValue, Some("amd_ms")),
        ("amd_ms bool", with("dialer.result", "amd_ms", json!(true)), WrongType, Some("amd_ms")),
    ];
    cases
}

/// `replace` for byte strings, for hand-made duplicate keys.
trait ReplaceBytes {
    fn replace_bytes(self, from: &[u8], to: &[u8]) -> Vec<u8>;
}

impl ReplaceBytes for Vec<u8> {
    fn replace_bytes(self, from: &[u8], to: &[u8]) -> Vec<u8> {
        let text = String::from_utf8(self).unwrap();
        let (from, to) = (
            std::str::from_utf8(from).unwrap(),
            std::str::from_utf8(to).unwrap(),
        );
        assert!(text.contains(from));
        text.replace(from, to).into_bytes()
    }
}

/// One random edit of a valid message.
#[derive(Debug, Clone)]
pub(crate) enum Mutation {
    Flip(usize, u8),
    Delete(usize, usize),
    Insert(usize, Vec<u8>),
    Duplicate(usize, usize),
}

pub(crate) fn mutation() -> impl proptest::strategy::Strategy<Value = Mutation> {
    use proptest::prelude::*;
    let snippets = prop_oneof![
        proptest::collection::vec(any::<u8>(), 1..4),
        proptest::sample::select(vec![
            b"\"".to_vec(),
            b"\\".to_vec(),
            b",".to_vec(),
            b":".to_vec(),
            b"{".to_vec(),
            b"}".to_vec(),
            b"[".to_vec(),
            b"null".to_vec(),
            b"1e400".to_vec(),
            b"-0".to_vec(),
            b"\\u0000".to_vec(),
            b"\\ud83d".to_vec(),
            "é".as_bytes().to_vec(),
            b"\"queue_id\":1,".to_vec(),
            b"\"capacity\":{\"voice\":-1},".to_vec(),
        ]),
    ];
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Mutation::Flip(at, b)),
        (any::<usize>(), 1usize..8).prop_map(|(at, n)| Mutation::Delete(at, n)),
        (any::<usize>(), snippets).prop_map(|(at, s)| Mutation::Insert(at, s)),
        (any::<usize>(), 1usize..40).prop_map(|(at, n)| Mutation::Duplicate(at, n)),
    ]
}

pub(crate) fn apply(input: &mut Vec<u8>, mutation: &Mutation) {
    let len = input.len();
    match mutation {
        Mutation::Flip(at, b) if len > 0 => input[at % len] = *b,
        Mutation::Delete(at, n) if len > 0 => {
            let at = at % len;
            input.drain(at..(at + n).min(len));
        }
        Mutation::Insert(at, bytes) => {
            let at = at % (len + 1);
            input.splice(at..at, bytes.iter().copied());
        }
        Mutation::Duplicate(at, n) if len > 0 => {
            let at = at % len;
            let copy = input[at..(at + n).min(len)].to_vec();
            input.splice(at..at, copy);
        }
        _ => {}
    }
}
