//! Canonical JSON output of an [`Event`] and conversion to an owned event.
//!
//! The canonical form is compact JSON with the fields in a fixed order: the envelope
//! (`schema_version`, `event_id`, `tenant_id`, `type`, `occurred_at`, then `attributes`
//! when non-empty), then every typed field that is `Some`, in the order of the field
//! table (the order of [`Event`]'s fields), then `extra` verbatim in its stored order.
//! Timestamps are written `YYYY-MM-DDTHH:MM:SS.mmmZ`. For every event that passes
//! [`crate::v1::validate`], `decode(e.to_json()) == e`.

use std::borrow::Cow;
use std::fmt::Write as _;

use super::event::{Event, EventType, Str};
use super::field::{Field, FieldValue};
use super::timestamp;

impl Event<'_> {
    /// The event as canonical JSON (see [`Event::write_json`]).
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(self.json_len_hint());
        self.write_json(&mut out);
        out
    }

    /// Appends the event as canonical, compact JSON to `out`: envelope first, then the
    /// typed fields that are `Some` in declaration order, then `extra` verbatim;
    /// `occurred_at` as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    ///
    /// Does not validate: call [`crate::v1::validate`] first when the event comes from
    /// code rather than from [`crate::v1::decode`]. An `extra` value that is not JSON
    /// text, or an `extra` name that is also a known field, makes the output invalid or
    /// ambiguous; `validate` rejects both. Nor is the length checked: a producer should
    /// compare it with [`crate::v1::MAX_EVENT_BYTES`].
    pub fn write_json(&self, out: &mut String) {
        out.push('{');
        let mut first = true;
        for &field in Field::ALL {
            let Some(value) = self.field_value(field) else {
                continue;
            };
            if !first {
                out.push(',');
            }
            first = false;
            out.push('"');
            out.push_str(field.name());
            out.push_str("\":");
            write_value(out, value);
        }
        for (name, raw) in &self.extra {
            out.push(',');
            write_str(out, name);
            out.push(':');
            out.push_str(raw);
        }
        out.push('}');
    }

    /// A rough upper estimate of the output length, to allocate once.
    fn json_len_hint(&self) -> usize {
        let strings: usize = self
            .attributes
            .iter()
            .map(|(k, v)| k.len() + v.len() + 6)
            .sum();
        let extra: usize = self.extra.iter().map(|(k, v)| k.len() + v.len() + 4).sum();
        256 + self.event_id.len() + strings + extra
    }

    /// The same event owning all its strings, detached from the input buffer.
    pub fn into_owned(self) -> Event<'static> {
        Event {
            schema_version: self.schema_version,
            event_id: owned(self.event_id),
            tenant_id: owned(self.tenant_id),
            event_type: match self.event_type {
                EventType::Known(known) => EventType::Known(known),
                EventType::Unknown(name) => EventType::Unknown(owned(name)),
            },
            occurred_at: self.occurred_at,
            attributes: owned_pairs(self.attributes),
            interaction_id: self.interaction_id.map(owned),
            channel: self.channel,
            direction: self.direction,
            queue_id: self.queue_id.map(owned),
            agent_id: self.agent_id.map(owned),
            campaign_id: self.campaign_id.map(owned),
            customer_id: self.customer_id.map(owned),
            priority: self.priority,
            skills: self.skills.map(owned_list),
            reason: self.reason.map(owned),
            to_queue_id: self.to_queue_id.map(owned),
            to_agent_id: self.to_agent_id.map(owned),
            transfer_type: self.transfer_type,
            disconnect_party: self.disconnect_party,
            disposition: self.disposition.map(owned),
            csat: self.csat,
            nps: self.nps,
            outcome: self.outcome.map(owned),
            dial_mode: self.dial_mode,
            result: self.result,
            amd_ms: self.amd_ms,
            action: self.action,
            queues: self.queues.map(owned_list),
            capacity: self
                .capacity
                .map(|pairs| pairs.into_iter().map(|(k, v)| (owned(k), v)).collect()),
            team_id: self.team_id.map(owned),
            state: self.state,
            extra: owned_pairs(self.extra),
        }
    }
}

fn owned(value: Str<'_>) -> Str<'static> {
    Cow::Owned(value.into_owned())
}

fn owned_list(values: Vec<Str<'_>>) -> Vec<Str<'static>> {
    values.into_iter().map(owned).collect()
}

fn owned_pairs(pairs: Vec<(Str<'_>, Str<'_>)>) -> Vec<(Str<'static>, Str<'static>)> {
    pairs
        .into_iter()
        .map(|(k, v)| (owned(k), owned(v)))
        .collect()
}

fn write_value(out: &mut String, value: FieldValue<'_>) {
    match value {
        FieldValue::Int(n) => {
            let _ = write!(out, "{n}");
        }
        FieldValue::Text(text) => write_str(out, text),
        FieldValue::Timestamp(ms) => {
            out.push('"');
            timestamp::write(out, ms);
            out.push('"');
        }
        FieldValue::TextList(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_str(out, item);
            }
            out.push(']');
        }
        FieldValue::TextMap(pairs) => {
            out.push('{');
            for (i, (key, value)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_str(out, key);
                out.push(':');
                write_str(out, value);
            }
            out.push('}');
        }
        FieldValue::Capacity(pairs) => {
            out.push('{');
            for (i, (key, value)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_str(out, key);
                let _ = write!(out, ":{value}");
            }
            out.push('}');
        }
    }
}

/// Appends `text` as a JSON string literal. Escapes only what JSON requires (`"`, `\`
/// and control characters below U+0020); everything else is written as UTF-8.
pub(crate) fn write_str(out: &mut String, text: &str) {
    out.reserve(text.len() + 2);
    out.push('"');
    let mut start = 0;
    for (i, byte) in text.bytes().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0x00..=0x1f => "",
            _ => continue,
        };
        // `i` is at an ASCII byte, hence on a char boundary.
        out.push_str(&text[start..i]);
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0xf)]));
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(&text[start..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v1::event::{Channel, Direction, KnownEventType};

    #[test]
    fn escapes_like_serde_json() {
        for text in [
            "plain",
            "quote\" back\\ slash",
            "\n\r\t\u{8}\u{c}\u{1}\u{1f}\u{7f}",
            "é€😀",
            "",
        ] {
            let mut out = String::new();
            write_str(&mut out, text);
            assert_eq!(out, serde_json::to_string(text).unwrap());
        }
    }

    #[test]
    fn canonical_order_and_form() {
        let event = Event {
            schema_version: 1,
            event_id: "01JD3Y8K2Q".into(),
            tenant_id: "acme".into(),
            event_type: EventType::Known(KnownEventType::InteractionQueued),
            occurred_at: 1_795_166_102_123,
            attributes: vec![("region".into(), "eu".into())],
            interaction_id: Some("c-1001".into()),
            channel: Some(Channel::Voice),
            direction: Some(Direction::Inbound),
            queue_id: Some("billing".into()),
            priority: Some(2),
            skills: Some(vec!["fr".into(), "vip".into()]),
            extra: vec![("x_source".into(), "{\"a\": [1, 2]}".into())],
            ..Event::default()
        };
        assert_eq!(
            event.to_json(),
            concat!(
                r#"{"schema_version":1,"event_id":"01JD3Y8K2Q","tenant_id":"acme","#,
                r#""type":"interaction.queued","occurred_at":"2026-11-20T09:15:02.123Z","#,
                r#""attributes":{"region":"eu"},"interaction_id":"c-1001","channel":"voice","#,
                r#""direction":"inbound","queue_id":"billing","priority":2,"skills":["fr","vip"],"#,
                r#""x_source":{"a": [1, 2]}}"#
            )
        );
        let mut appended = String::from("prefix ");
        event.write_json(&mut appended);
        assert_eq!(appended, format!("prefix {}", event.to_json()));
    }

    #[test]
    fn into_owned_keeps_everything() {
        let text = String::from("borrowed");
        let event = Event {
            event_id: Cow::Borrowed(&text),
            event_type: EventType::Unknown(Cow::Borrowed(&text)),
            skills: Some(vec![Cow::Borrowed(&text)]),
            capacity: Some(vec![(Cow::Borrowed(&text), 3)]),
            extra: vec![(Cow::Borrowed(&text), Cow::Borrowed("1"))],
            ..Event::default()
        };
        let owned: Event<'static> = event.into_owned();
        drop(text);
        assert_eq!(owned.event_id, "borrowed");
        assert_eq!(owned.event_type.as_str(), "borrowed");
        assert_eq!(owned.capacity, Some(vec![(Cow::Borrowed("borrowed"), 3)]));
        assert!(matches!(owned.event_id, Cow::Owned(_)));
    }
}
