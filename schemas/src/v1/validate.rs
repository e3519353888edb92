//! The contract's rules for an [`Event`], shared by the decoder and producers.
//!
//! Rules (events.md, plus the interpretations written here):
//! - `schema_version` is 1; `event_id` 1–128 chars; `tenant_id` 1–64 chars of
//!   `[A-Za-z0-9_.-]`; `type` 1–128 chars; `occurred_at` in years 1970–9999.
//! - Ids (`interaction_id`, `queue_id`, `agent_id`, `campaign_id`, `customer_id`,
//!   `to_queue_id`, `to_agent_id`, `team_id` and each of `queues`) are 1–128 chars.
//!   Free text (`disposition`, `outcome`, `reason` where not an enum, each of `skills`,
//!   `attributes` values) is any string. Lengths count Unicode scalar values.
//! - Known types require their family's ids (`interaction.*`: `interaction_id`;
//!   `dialer.*`: `interaction_id`, `campaign_id`; `agent.*`: `agent_id`) and the fields
//!   marked "(req)" in events.md. An unknown type requires only the envelope.
//! - **A known field is checked wherever it appears**: a field has one meaning in the
//!   whole contract, so `priority: "high"` on an agent event, or on an event of an
//!   unknown type, is rejected even though that type does not use it.
//! - `reason` is an enum for `interaction.offer_missed` (`timeout` `rejected`) and
//!   `interaction.flowed_out` (`timeout` `overflow` `callback` `voicemail` `closed`),
//!   free text elsewhere.
//! - `csat` 1–5, `nps` 0–10, `amd_ms` ≥ 0; `capacity` keys are channel names and values
//!   ≥ 0 (at most `u32::MAX`).
//! - No key twice in `attributes`, `capacity` or among `extra` names.
//! - `extra` names are not known fields, and (for events built in code) each value is
//!   JSON text.
//! - JSON `null` is a wrong type for every field: absent fields are omitted.

use serde::de::IgnoredAny;

use super::event::{Channel, Event, EventType, KnownEventType, Str};
use super::field::{Field, FieldKind, FieldValue, kind_for, one_of, required_fields};
use super::rejection::{RejectKind, Rejection, quote_truncated};
use super::timestamp;

/// Checks an event against every rule of contract v1 (see the module docs of
/// [`crate::v1`] for the list). [`crate::v1::decode`] runs it on every message;
/// producers run it before sending an event built in code.
///
/// # Errors
///
/// The first broken rule, in field order, as a [`Rejection`].
pub fn validate(event: &Event<'_>) -> Result<(), Rejection> {
    check(event, ExtraJson::Check)
}

/// Whether `extra` values still need checking as JSON text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExtraJson {
    /// Built in code: parse each value.
    Check,
    /// Came from the decoder, which only stores well-formed JSON values.
    Trusted,
}

pub(crate) fn check(event: &Event<'_>, extra_json: ExtraJson) -> Result<(), Rejection> {
    if event.schema_version != 1 {
        return Err(Rejection::field(
            RejectKind::UnsupportedVersion,
            Field::SchemaVersion.name(),
            "1",
            event.schema_version.to_string(),
        ));
    }
    if let EventType::Unknown(name) = &event.event_type
        && KnownEventType::parse(name).is_some()
    {
        return Err(Rejection::field(
            RejectKind::InvalidValue,
            Field::Type.name(),
            "a known type as EventType::Known (see EventType::from_name)",
            quote_truncated(name),
        ));
    }
    let required = event.event_type.known().map_or(&[][..], required_fields);
    for &field in Field::ALL {
        match event.field_value(field) {
            Some(value) => check_value(field, kind_for(field, &event.event_type), value)?,
            None if required.contains(&field) => {
                return Err(Rejection::missing(field.name(), event.event_type.as_str()));
            }
            None => {}
        }
    }
    check_extra(&event.extra, extra_json)
}

fn invalid(path: impl Into<String>, kind: FieldKind, got: String) -> Rejection {
    Rejection::field(RejectKind::InvalidValue, path, kind.expected(), got)
}

fn check_value(field: Field, kind: FieldKind, value: FieldValue<'_>) -> Result<(), Rejection> {
    let name = field.name();
    match (kind, value) {
        (FieldKind::Text(rule), FieldValue::Text(text)) if !rule.accepts(text) => {
            Err(invalid(name, kind, quote_truncated(text)))
        }
        (FieldKind::Enum(names), FieldValue::Text(text)) if !names.contains(&text) => {
            Err(invalid(name, kind, quote_truncated(text)))
        }
        (FieldKind::Int(rule), FieldValue::Int(n)) if !rule.accepts(n) => {
            Err(invalid(name, kind, n.to_string()))
        }
        (FieldKind::Timestamp, FieldValue::Timestamp(ms))
            if !(timestamp::MIN_MS..=timestamp::MAX_MS).contains(&ms) =>
        {
            Err(Rejection::field(
                RejectKind::BadTimestamp,
                name,
                timestamp::EXPECTED,
                quote_truncated(&timestamp::format(ms)),
            ))
        }
        (FieldKind::TextList(rule), FieldValue::TextList(items)) => {
            match items.iter().position(|item| !rule.accepts(item)) {
                Some(i) => Err(Rejection::field(
                    RejectKind::InvalidValue,
                    format!("{name}[{i}]"),
                    rule.expected(),
                    quote_truncated(&items[i]),
                )),
                None => Ok(()),
            }
        }
        (FieldKind::TextMap, FieldValue::TextMap(pairs)) => {
            match find_duplicate(pairs.iter().map(|(k, _)| k.as_ref())) {
                Some(key) => Err(Rejection::duplicate(format!("{name}.{key}"))),
                None => Ok(()),
            }
        }
        (FieldKind::Capacity, FieldValue::Capacity(pairs)) => {
            if let Some((key, _)) = pairs.iter().find(|(k, _)| Channel::parse(k).is_none()) {
                return Err(Rejection::field(
                    RejectKind::InvalidValue,
                    format!("{name}.{key}"),
                    format!("a channel name, {}", one_of(Channel::NAMES)),
                    quote_truncated(key),
                ));
            }
            match find_duplicate(pairs.iter().map(|(k, _)| k.as_ref())) {
                Some(key) => Err(Rejection::duplicate(format!("{name}.{key}"))),
                None => Ok(()),
            }
        }
        // Valid, or (for pairs the table never produces) nothing to check: the field
        // table and `Event::field_value` agree by construction, which a test asserts.
        _ => Ok(()),
    }
}

fn check_extra(extra: &[(Str<'_>, Str<'_>)], extra_json: ExtraJson) -> Result<(), Rejection> {
    if let Some(key) = find_duplicate(extra.iter().map(|(k, _)| k.as_ref())) {
        return Err(Rejection::duplicate(key));
    }
    for (name, raw) in extra {
        if Field::parse(name).is_some() {
            return Err(Rejection::field(
                RejectKind::InvalidValue,
                name.as_ref(),
                "the typed field, not an `extra` entry",
                "an `extra` entry",
            ));
        }
        if extra_json == ExtraJson::Check && serde_json::from_str::<IgnoredAny>(raw).is_err() {
            return Err(Rejection::field(
                RejectKind::InvalidValue,
                name.as_ref(),
                "JSON text",
                quote_truncated(raw),
            ));
        }
    }
    Ok(())
}

/// A key that occurs twice, if any. Linear for the usual handful of keys, sorting for
/// many (a hostile message can carry thousands).
fn find_duplicate<'k>(keys: impl ExactSizeIterator<Item = &'k str> + Clone) -> Option<&'k str> {
    if keys.len() <= 16 {
        let mut rest = keys.clone();
        for key in keys {
            rest.next();
            if rest.clone().any(|other| other == key) {
                return Some(key);
            }
        }
        None
    } else {
        let mut sorted: Vec<&str> = keys.collect();
        sorted.sort_unstable();
        sorted.windows(2).find(|w| w[0] == w[1]).map(|w| w[0])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_found_small_and_large() {
        assert_eq!(find_duplicate(["a", "b", "a"].into_iter()), Some("a"));
        assert_eq!(find_duplicate(["a", "b", "c"].into_iter()), None);
        let many: Vec<String> = (0..100).map(|i| format!("k{i}")).collect();
        assert_eq!(find_duplicate(many.iter().map(String::as_str)), None);
        let mut with_dup = many.clone();
        with_dup.push("k42".to_owned());
        assert_eq!(
            find_duplicate(with_dup.iter().map(String::as_str)),
            Some("k42")
        );
    }
}
