//! The hot-path decoder: one message's bytes to a validated [`Event`] that borrows from
//! them.
//!
//! One pass over the top-level object with serde: each known key's value is parsed
//! straight into its typed field (strings borrow from the buffer unless they hold JSON
//! escapes), unknown keys are kept as `(name, raw JSON text)` in [`Event::extra`] via
//! [`RawValue`], and no intermediate `serde_json::Value` tree is built.
//!
//! Error precedence, so the reason is the most useful one: size, then UTF-8, then JSON
//! syntax (including trailing characters) for the whole message, then an unsupported
//! `schema_version`, then the first type or value error in input order, then missing
//! envelope fields, then the checks of [`crate::v1::validate`].

use std::borrow::Cow;
use std::fmt;

use serde::de::{
    self, DeserializeSeed, Deserializer as _, IgnoredAny, MapAccess, SeqAccess, Visitor,
};
use serde_json::value::RawValue;

use super::event::{
    Channel, DialMode, DialResult, Direction, DisconnectParty, Event, EventType, Presence,
    PreviewAction, Str, TransferType,
};
use super::field::{CAPACITY, ENVELOPE_REQUIRED, Field, FieldKind};
use super::rejection::{RejectKind, Rejection, quote_truncated};
use super::{timestamp, validate};

/// The largest message the contract accepts, in bytes (64 KiB).
pub const MAX_EVENT_BYTES: usize = 64 * 1024;

/// Decodes and validates one message.
///
/// The returned event borrows its strings from `bytes` where it can; call
/// [`Event::into_owned`] to keep it longer. Unknown top-level fields are accepted and
/// preserved in [`Event::extra`]; an unknown `type` is accepted with only the envelope
/// checked (see [`crate::v1::validate`] for every rule).
///
/// Never panics, whatever the input.
///
/// # Errors
///
/// A [`Rejection`] when the message is larger than [`MAX_EVENT_BYTES`], not UTF-8, not
/// exactly one JSON object (trailing characters are an error), has a key twice, or
/// breaks a rule of the contract.
pub fn decode(bytes: &[u8]) -> Result<Event<'_>, Rejection> {
    decode_with_limit(bytes, MAX_EVENT_BYTES)
}

/// [`decode`] with another size limit. For ccpulse's own re-encodings of events that
/// `decode` accepted (the aggregator's saved state): the canonical form
/// ([`Event::to_json`]) may be a few bytes longer than the message it came from (a
/// timestamp without milliseconds gains `.000`), so an accepted message just under
/// [`MAX_EVENT_BYTES`] must still decode from it. Never use it for input from outside.
///
/// # Errors
/// As [`decode`], with `max_bytes` as the size limit.
pub fn decode_with_limit(bytes: &[u8], max_bytes: usize) -> Result<Event<'_>, Rejection> {
    if bytes.len() > max_bytes {
        return Err(Rejection::new(
            RejectKind::TooLarge,
            None,
            format!("at most {max_bytes} bytes"),
            format!("{} bytes", bytes.len()),
        ));
    }
    let text = std::str::from_utf8(bytes).map_err(|err| {
        Rejection::new(
            RejectKind::NotUtf8,
            None,
            "UTF-8 text",
            format!("invalid byte at offset {}", err.valid_up_to()),
        )
    })?;
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed = de.deserialize_any(TopVisitor).map_err(not_json)?;
    de.end().map_err(not_json)?;

    let Parsed {
        event,
        seen,
        version_error,
        first_error,
    } = parsed;
    if let Some(rejection) = version_error.or(first_error) {
        return Err(rejection);
    }
    for field in ENVELOPE_REQUIRED {
        if seen & field.bit() == 0 {
            return Err(Rejection::missing(field.name(), "every event"));
        }
    }
    // `extra` values are JSON by construction here: skip re-parsing them.
    validate::check(&event, validate::ExtraJson::Trusted)?;
    Ok(event)
}

fn not_json(err: serde_json::Error) -> Rejection {
    Rejection::new(RejectKind::NotJson, None, "a JSON object", err.to_string())
}

/// What the single pass found.
#[derive(Debug, Default)]
struct Parsed<'de> {
    event: Event<'de>,
    /// Known fields seen, as [`Field::bit`]s.
    seen: u64,
    /// `schema_version` was an integer other than 1: reported before anything else, as
    /// the rest of the message may follow another contract.
    version_error: Option<Rejection>,
    /// The first other problem, in input order.
    first_error: Option<Rejection>,
}

impl<'de> Parsed<'de> {
    fn record(&mut self, rejection: Rejection) {
        if self.first_error.is_none() {
            self.first_error = Some(rejection);
        }
    }

    /// Stores a parsed value in its field.
    fn assign(&mut self, field: Field, node: Node<'de>) -> Result<(), Rejection> {
        let ev = &mut self.event;
        match field {
            Field::SchemaVersion => match int(field, node)? {
                1 => ev.schema_version = 1,
                other => {
                    self.version_error = Some(Rejection::field(
                        RejectKind::UnsupportedVersion,
                        field.name(),
                        "1",
                        other.to_string(),
                    ));
                }
            },
            Field::EventId => ev.event_id = text(field, node)?,
            Field::TenantId => ev.tenant_id = text(field, node)?,
            Field::Type => ev.event_type = EventType::from_name(text(field, node)?),
            Field::OccurredAt => {
                let value = text(field, node)?;
                ev.occurred_at = timestamp::parse(&value).ok_or_else(|| {
                    Rejection::field(
                        RejectKind::BadTimestamp,
                        field.name(),
                        timestamp::EXPECTED,
                        quote_truncated(&value),
                    )
                })?;
            }
            Field::Attributes => match node {
                Node::TextMap(pairs) => ev.attributes = pairs,
                other => return Err(other.into_rejection(field)),
            },
            Field::InteractionId => ev.interaction_id = Some(text(field, node)?),
            Field::Channel => ev.channel = Some(choice(field, node, Channel::parse)?),
            Field::Direction => ev.direction = Some(choice(field, node, Direction::parse)?),
            Field::QueueId => ev.queue_id = Some(text(field, node)?),
            Field::AgentId => ev.agent_id = Some(text(field, node)?),
            Field::CampaignId => ev.campaign_id = Some(text(field, node)?),
            Field::CustomerId => ev.customer_id = Some(text(field, node)?),
            Field::Priority => ev.priority = Some(int(field, node)?),
            Field::Skills => ev.skills = Some(list(field, node)?),
            Field::Reason => ev.reason = Some(text(field, node)?),
            Field::ToQueueId => ev.to_queue_id = Some(text(field, node)?),
            Field::ToAgentId => ev.to_agent_id = Some(text(field, node)?),
            Field::TransferType => {
                ev.transfer_type = Some(choice(field, node, TransferType::parse)?);
            }
            Field::DisconnectParty => {
                ev.disconnect_party = Some(choice(field, node, DisconnectParty::parse)?);
            }
            Field::Disposition => ev.disposition = Some(text(field, node)?),
            Field::Csat => ev.csat = Some(narrow(field, int(field, node)?)?),
            Field::Nps => ev.nps = Some(narrow(field, int(field, node)?)?),
            Field::Outcome => ev.outcome = Some(text(field, node)?),
            Field::DialMode => ev.dial_mode = Some(choice(field, node, DialMode::parse)?),
            Field::Result => ev.result = Some(choice(field, node, DialResult::parse)?),
            Field::AmdMs => ev.amd_ms = Some(int(field, node)?),
            Field::Action => ev.action = Some(choice(field, node, PreviewAction::parse)?),
            Field::Queues => ev.queues = Some(list(field, node)?),
            Field::Capacity => match node {
                Node::Capacity(pairs) => ev.capacity = Some(pairs),
                other => return Err(other.into_rejection(field)),
            },
            Field::TeamId => ev.team_id = Some(text(field, node)?),
            Field::State => ev.state = Some(choice(field, node, Presence::parse)?),
        }
        Ok(())
    }
}

fn wrong_type(path: impl Into<String>, expected: String, node: &Node<'_>) -> Rejection {
    Rejection::field(RejectKind::WrongType, path, expected, node.json_type())
}

fn text<'de>(field: Field, node: Node<'de>) -> Result<Str<'de>, Rejection> {
    match node {
        Node::Str(value) => Ok(value),
        other => Err(other.into_rejection(field)),
    }
}

fn list<'de>(field: Field, node: Node<'de>) -> Result<Vec<Str<'de>>, Rejection> {
    match node {
        Node::TextList(items) => Ok(items),
        other => Err(other.into_rejection(field)),
    }
}

fn choice<T>(field: Field, node: Node<'_>, parse: fn(&str) -> Option<T>) -> Result<T, Rejection> {
    let value = text(field, node)?;
    parse(&value).ok_or_else(|| {
        Rejection::field(
            RejectKind::InvalidValue,
            field.name(),
            field.spec().kind.expected(),
            quote_truncated(&value),
        )
    })
}

fn int(field: Field, node: Node<'_>) -> Result<i64, Rejection> {
    node.to_int(field.name(), || field.spec().kind.expected())
}

/// Narrows to the stored integer type; out of its range is an invalid value.
fn narrow<T: TryFrom<i64>>(field: Field, value: i64) -> Result<T, Rejection> {
    T::try_from(value).map_err(|_| {
        Rejection::field(
            RejectKind::InvalidValue,
            field.name(),
            field.spec().kind.expected(),
            value.to_string(),
        )
    })
}

/// One parsed JSON value, shaped by what the field expects.
#[derive(Debug)]
enum Node<'de> {
    Str(Str<'de>),
    Int(i64),
    UInt(u64),
    Float(f64),
    Bool,
    Null,
    /// An array the field did not expect (its content was skipped).
    Array,
    /// An object the field did not expect (its content was skipped).
    Object,
    TextList(Vec<Str<'de>>),
    TextMap(Vec<(Str<'de>, Str<'de>)>),
    Capacity(Vec<(Str<'de>, u32)>),
    /// An element of an expected array or object broke a rule.
    Rejected(Rejection),
}

impl Node<'_> {
    /// The JSON type name, for [`Rejection::got`].
    fn json_type(&self) -> &'static str {
        match self {
            Node::Str(_) => "string",
            Node::Int(_) | Node::UInt(_) | Node::Float(_) => "number",
            Node::Bool => "boolean",
            Node::Null => "null",
            Node::Array | Node::TextList(_) => "array",
            Node::Object | Node::TextMap(_) | Node::Capacity(_) => "object",
            Node::Rejected(_) => "an invalid element",
        }
    }

    /// The rejection for a node that is not what `field` wants.
    fn into_rejection(self, field: Field) -> Rejection {
        match self {
            Node::Rejected(rejection) => rejection,
            other => wrong_type(field.name(), field.spec().kind.expected(), &other),
        }
    }

    /// An integer, JSON Schema style: any number with no fractional part, within `i64`.
    fn to_int(&self, path: &str, expected: impl Fn() -> String) -> Result<i64, Rejection> {
        const LIMIT: f64 = 9_223_372_036_854_775_808.0; // 2^63
        match *self {
            Node::Int(n) => Ok(n),
            Node::UInt(n) => i64::try_from(n).map_err(|_| {
                Rejection::field(RejectKind::InvalidValue, path, expected(), n.to_string())
            }),
            Node::Float(f) if f.fract() != 0.0 || !f.is_finite() => Err(Rejection::field(
                RejectKind::WrongType,
                path,
                expected(),
                format!("number {f}"),
            )),
            Node::Float(f) if (-LIMIT..LIMIT).contains(&f) => Ok(f as i64),
            Node::Float(f) => Err(Rejection::field(
                RejectKind::InvalidValue,
                path,
                expected(),
                format!("{f}"),
            )),
            ref other => Err(wrong_type(path, expected(), other)),
        }
    }
}

/// Parses the top-level value: must be an object.
struct TopVisitor;

impl TopVisitor {
    fn not_an_object<'de>(got: &str) -> Parsed<'de> {
        Parsed {
            first_error: Some(Rejection::new(
                RejectKind::NotAnObject,
                None,
                "a JSON object",
                got,
            )),
            ..Parsed::default()
        }
    }
}

impl<'de> Visitor<'de> for TopVisitor {
    type Value = Parsed<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Parsed<'de>, A::Error> {
        let mut out = Parsed::default();
        while let Some(key) = map.next_key_seed(StrSeed)? {
            match Field::parse(&key) {
                None => {
                    // Duplicates among these are caught by `validate`.
                    let raw: &'de RawValue = map.next_value()?;
                    check_raw(raw.get())
                        .map_err(|err| de::Error::custom(format_args!("{err} in field `{key}`")))?;
                    out.event.extra.push((key, Cow::Borrowed(raw.get())));
                }
                Some(field) if out.seen & field.bit() != 0 => {
                    map.next_value::<IgnoredAny>()?;
                    out.record(Rejection::duplicate(field.name()));
                }
                Some(field) => {
                    out.seen |= field.bit();
                    let node = map.next_value_seed(NodeSeed::for_field(field))?;
                    if let Err(rejection) = out.assign(field, node) {
                        out.record(rejection);
                    }
                }
            }
        }
        Ok(out)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Parsed<'de>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Self::not_an_object("array"))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Parsed<'de>, E> {
        Ok(Self::not_an_object("string"))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Parsed<'de>, E> {
        Ok(Self::not_an_object("boolean"))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Parsed<'de>, E> {
        Ok(Self::not_an_object("number"))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Parsed<'de>, E> {
        Ok(Self::not_an_object("number"))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Parsed<'de>, E> {
        Ok(Self::not_an_object("number"))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Parsed<'de>, E> {
        Ok(Self::not_an_object("null"))
    }
}

/// Deepest nesting of arrays and objects, counting the top-level object as 1: the same
/// limit as `serde_json`'s, so a message this decoder accepts parses anywhere.
const MAX_DEPTH: usize = 127;

/// Checks what [`RawValue`] skips over in an unknown field's value: lone surrogates in
/// `\u` escapes and nesting deeper than [`MAX_DEPTH`]. A second pass over that value
/// only, allocation-free except for strings holding escapes.
fn check_raw(raw: &str) -> Result<(), String> {
    let mut de = serde_json::Deserializer::from_str(raw);
    DepthCheck(2).deserialize(&mut de).map_err(|err| {
        match err.to_string().rsplit_once(" at line ") {
            Some((message, _)) => message.to_owned(),
            None => err.to_string(),
        }
    })
}

/// Visits every value, failing beyond [`MAX_DEPTH`]. Holds the depth of the value.
#[derive(Debug, Clone, Copy)]
struct DepthCheck(usize);

impl<'de> DeserializeSeed<'de> for DepthCheck {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for DepthCheck {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let inner = self.nested()?;
        while seq.next_element_seed(inner)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let inner = self.nested()?;
        while map.next_key_seed(StrSeed)?.is_some() {
            map.next_value_seed(inner)?;
        }
        Ok(())
    }
}

impl DepthCheck {
    /// The seed for the elements of a container at this depth.
    fn nested<E: de::Error>(self) -> Result<DepthCheck, E> {
        if self.0 > MAX_DEPTH {
            Err(E::custom("recursion limit exceeded"))
        } else {
            Ok(DepthCheck(self.0 + 1))
        }
    }
}

/// A string that borrows from the input when it holds no escapes. (`Cow<str>`'s own
/// `Deserialize` always allocates.)
struct StrSeed;

impl<'de> DeserializeSeed<'de> for StrSeed {
    type Value = Str<'de>;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Str<'de>, D::Error> {
        deserializer.deserialize_str(StrSeed)
    }
}

impl<'de> Visitor<'de> for StrSeed {
    type Value = Str<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, value: &'de str) -> Result<Str<'de>, E> {
        Ok(Cow::Borrowed(value))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Str<'de>, E> {
        Ok(Cow::Owned(value.to_owned()))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Str<'de>, E> {
        Ok(Cow::Owned(value))
    }
}

/// What container a field's value should be; anything else is parsed as a scalar (or
/// skipped) and reported as the wrong type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Scalar,
    TextList,
    TextMap,
    Capacity,
}

/// Parses one value into a [`Node`] of the expected [`Shape`].
#[derive(Debug, Clone, Copy)]
struct NodeSeed {
    shape: Shape,
    field: Field,
}

impl NodeSeed {
    fn for_field(field: Field) -> Self {
        let shape = match field.spec().kind {
            FieldKind::TextList(_) => Shape::TextList,
            FieldKind::TextMap => Shape::TextMap,
            FieldKind::Capacity => Shape::Capacity,
            FieldKind::SchemaVersion
            | FieldKind::Text(_)
            | FieldKind::Timestamp
            | FieldKind::Enum(_)
            | FieldKind::Int(_) => Shape::Scalar,
        };
        NodeSeed { shape, field }
    }

    fn scalar(self) -> Self {
        NodeSeed {
            shape: Shape::Scalar,
            field: self.field,
        }
    }
}

impl<'de> DeserializeSeed<'de> for NodeSeed {
    type Value = Node<'de>;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Node<'de>, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for NodeSeed {
    type Value = Node<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Node<'de>, E> {
        Ok(Node::Bool)
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Node<'de>, E> {
        Ok(Node::Int(value))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Node<'de>, E> {
        Ok(Node::UInt(value))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Node<'de>, E> {
        Ok(Node::Float(value))
    }

    fn visit_borrowed_str<E: de::Error>(self, value: &'de str) -> Result<Node<'de>, E> {
        Ok(Node::Str(Cow::Borrowed(value)))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Node<'de>, E> {
        Ok(Node::Str(Cow::Owned(value.to_owned())))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Node<'de>, E> {
        Ok(Node::Str(Cow::Owned(value)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Node<'de>, E> {
        Ok(Node::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Node<'de>, E> {
        Ok(Node::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node<'de>, A::Error> {
        if self.shape != Shape::TextList {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            return Ok(Node::Array);
        }
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(4).min(64));
        while let Some(node) = seq.next_element_seed(self.scalar())? {
            match node {
                Node::Str(item) => items.push(item),
                other => {
                    let path = format!("{}[{}]", self.field.name(), items.len());
                    let rejection = wrong_type(path, "a string".to_owned(), &other);
                    while seq.next_element::<IgnoredAny>()?.is_some() {}
                    return Ok(Node::Rejected(rejection));
                }
            }
        }
        Ok(Node::TextList(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node<'de>, A::Error> {
        fn drain<'de, A: MapAccess<'de>>(map: &mut A) -> Result<(), A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(())
        }
        match self.shape {
            Shape::Scalar | Shape::TextList => {
                drain(&mut map)?;
                Ok(Node::Object)
            }
            Shape::TextMap => {
                let mut pairs = Vec::new();
                while let Some(key) = map.next_key_seed(StrSeed)? {
                    match map.next_value_seed(self.scalar())? {
                        Node::Str(value) => pairs.push((key, value)),
                        other => {
                            let path = format!("{}.{key}", self.field.name());
                            let rejection = wrong_type(path, "a string".to_owned(), &other);
                            drain(&mut map)?;
                            return Ok(Node::Rejected(rejection));
                        }
                    }
                }
                Ok(Node::TextMap(pairs))
            }
            Shape::Capacity => {
                let mut pairs = Vec::new();
                while let Some(key) = map.next_key_seed(StrSeed)? {
                    let node = map.next_value_seed(self.scalar())?;
                    let path = || format!("{}.{key}", self.field.name());
                    let value = node.to_int(&path(), || CAPACITY.expected()).and_then(|n| {
                        u32::try_from(n).map_err(|_| {
                            Rejection::field(
                                RejectKind::InvalidValue,
                                path(),
                                CAPACITY.expected(),
                                n.to_string(),
                            )
                        })
                    });
                    match value {
                        Ok(value) => pairs.push((key, value)),
                        Err(rejection) => {
                            drain(&mut map)?;
                            return Ok(Node::Rejected(rejection));
                        }
                    }
                }
                Ok(Node::Capacity(pairs))
            }
        }
    }
}

#[cfg(test)]
mod tests;
