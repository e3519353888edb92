//! The field table: every top-level field of contract v1 with its value rules, the
//! fields each event type requires, and type-specific enums.
//!
//! This is the single source of truth shared by [`crate::v1::validate`], the decoder
//! (which field a key is), the canonical writer (field order), the Arrow schema (one
//! column per field) and the generated JSON Schema.

use super::event::{Channel, Event, EventType, FlowOutReason, KnownEventType, OfferMissedReason};
use super::timestamp;

/// Rules for a string value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TextRule {
    /// Minimum length in chars (Unicode scalar values, as JSON Schema counts).
    pub(crate) min: usize,
    /// Maximum length in chars; `usize::MAX` for none (the 64 KiB message limit applies).
    pub(crate) max: usize,
    /// Restrict to `[A-Za-z0-9_.-]` (tenant ids).
    pub(crate) tenant_charset: bool,
}

/// Identifiers: 1–128 chars, anything printable or not.
const ID: TextRule = TextRule {
    min: 1,
    max: 128,
    tenant_charset: false,
};
/// Free text (`disposition`, `outcome`, `reason` where it is not an enum): any string.
const TEXT: TextRule = TextRule {
    min: 0,
    max: usize::MAX,
    tenant_charset: false,
};
const TENANT: TextRule = TextRule {
    min: 1,
    max: 64,
    tenant_charset: true,
};

/// The JSON Schema `pattern` equivalent of `tenant_charset` plus [`TENANT`]'s bounds.
pub(crate) const TENANT_PATTERN: &str = "^[A-Za-z0-9_.-]{1,64}$";

impl TextRule {
    /// Whether `value` satisfies the rule.
    pub(crate) fn accepts(self, value: &str) -> bool {
        // Byte length bounds char count from above, so most ids skip the char count.
        let chars_ok = if value.len() <= self.max {
            value.len() >= self.min && (self.min <= 1 || value.chars().count() >= self.min)
        } else {
            let count = value.chars().count();
            count >= self.min && count <= self.max
        };
        chars_ok
            && (!self.tenant_charset
                || value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')))
    }

    /// Human description, for rejection messages.
    pub(crate) fn expected(self) -> String {
        let mut text = match (self.min, self.max) {
            (0, usize::MAX) => "a string".to_owned(),
            (min, usize::MAX) => format!("a string of at least {min} chars"),
            (min, max) => format!("a string of {min}–{max} chars"),
        };
        if self.tenant_charset {
            text.push_str(" of [A-Za-z0-9_.-]");
        }
        text
    }
}

/// Rules for an integer value (inclusive bounds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IntRule {
    pub(crate) min: i64,
    pub(crate) max: i64,
}

impl IntRule {
    pub(crate) fn accepts(self, value: i64) -> bool {
        (self.min..=self.max).contains(&value)
    }

    pub(crate) fn expected(self) -> String {
        match (self.min, self.max) {
            (i64::MIN, i64::MAX) => "an integer".to_owned(),
            (min, i64::MAX) => format!("an integer ≥ {min}"),
            (min, max) => format!("an integer {min}–{max}"),
        }
    }
}

const ANY_INT: IntRule = IntRule {
    min: i64::MIN,
    max: i64::MAX,
};
const CSAT: IntRule = IntRule { min: 1, max: 5 };
const NPS: IntRule = IntRule { min: 0, max: 10 };
const NON_NEGATIVE: IntRule = IntRule {
    min: 0,
    max: i64::MAX,
};
/// Capacity values are stored as `u32`.
pub(crate) const CAPACITY: IntRule = IntRule {
    min: 0,
    max: u32::MAX as i64,
};

/// The shape and rules of a field's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldKind {
    /// An integer that must be `1` (anything else is an unsupported version).
    SchemaVersion,
    /// A string.
    Text(TextRule),
    /// `occurred_at`: see [`crate::v1::timestamp`].
    Timestamp,
    /// A closed string enum.
    Enum(&'static [&'static str]),
    /// An integer.
    Int(IntRule),
    /// An array of strings, each following the rule.
    TextList(TextRule),
    /// `attributes`: an object of string → string.
    TextMap,
    /// `capacity`: an object of channel name → integer ≥ 0.
    Capacity,
}

impl FieldKind {
    /// What a valid value looks like, for rejection messages.
    pub(crate) fn expected(self) -> String {
        match self {
            FieldKind::SchemaVersion => "the integer 1".to_owned(),
            FieldKind::Text(rule) => rule.expected(),
            FieldKind::Timestamp => timestamp::EXPECTED.to_owned(),
            FieldKind::Enum(names) => one_of(names),
            FieldKind::Int(rule) => rule.expected(),
            FieldKind::TextList(rule) if rule == TEXT => "an array of strings".to_owned(),
            FieldKind::TextList(rule) => format!("an array of {}s", rule.expected()),
            FieldKind::TextMap => "an object of string values".to_owned(),
            FieldKind::Capacity => "an object of channel → integer ≥ 0".to_owned(),
        }
    }
}

/// `one of a, b, c`.
pub(crate) fn one_of(names: &[&str]) -> String {
    format!("one of {}", names.join(", "))
}

/// A field of the table: its wire name, value rules and a one-line description.
#[derive(Debug)]
pub(crate) struct FieldSpec {
    pub(crate) name: &'static str,
    pub(crate) kind: FieldKind,
    pub(crate) doc: &'static str,
}

macro_rules! fields {
    ($($variant:ident => $name:literal, $kind:expr, $doc:literal;)+) => {
        /// A known top-level field, in canonical (serialization and column) order.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub(crate) enum Field {
            $($variant),+
        }

        impl Field {
            /// Every known field, in canonical order.
            pub(crate) const ALL: &'static [Field] = &[$(Field::$variant),+];

            /// The field a top-level key names, if the contract knows it.
            pub(crate) fn parse(name: &str) -> Option<Field> {
                match name {
                    $($name => Some(Field::$variant),)+
                    _ => None,
                }
            }

            /// Its row of the table.
            pub(crate) fn spec(self) -> &'static FieldSpec {
                &SPECS[self as usize]
            }
        }

        static SPECS: &[FieldSpec] = &[
            $(FieldSpec { name: $name, kind: $kind, doc: $doc }),+
        ];
    };
}

fields! {
    SchemaVersion => "schema_version", FieldKind::SchemaVersion,
        "Contract version; always 1 here.";
    EventId => "event_id", FieldKind::Text(ID),
        "Unique per event; the dedupe key.";
    TenantId => "tenant_id", FieldKind::Text(TENANT),
        "The contact-center account; also the Kafka message key.";
    Type => "type", FieldKind::Text(ID),
        "Event type. Unknown types are accepted with only the envelope checked.";
    OccurredAt => "occurred_at", FieldKind::Timestamp,
        "Event time at the source: RFC 3339 with offset, years 1970-9999.";
    Attributes => "attributes", FieldKind::TextMap,
        "Free-form string attributes, preserved and queryable.";
    InteractionId => "interaction_id", FieldKind::Text(ID),
        "The interaction; required by interaction.* and dialer.* events.";
    Channel => "channel", FieldKind::Enum(Channel::NAMES),
        "Interaction channel; voice when absent.";
    Direction => "direction", FieldKind::Enum(super::event::Direction::NAMES),
        "Interaction direction; inbound when absent.";
    QueueId => "queue_id", FieldKind::Text(ID),
        "The queue.";
    AgentId => "agent_id", FieldKind::Text(ID),
        "The agent; required by agent.* events.";
    CampaignId => "campaign_id", FieldKind::Text(ID),
        "The outbound campaign; required by dialer.* events.";
    CustomerId => "customer_id", FieldKind::Text(ID),
        "The customer.";
    Priority => "priority", FieldKind::Int(ANY_INT),
        "interaction.queued: routing priority.";
    Skills => "skills", FieldKind::TextList(TEXT),
        "interaction.queued: required skills.";
    Reason => "reason", FieldKind::Text(TEXT),
        "offer_missed and flowed_out: an enum; agent.state_changed: free text (break, lunch, ...).";
    ToQueueId => "to_queue_id", FieldKind::Text(ID),
        "interaction.transferred: target queue.";
    ToAgentId => "to_agent_id", FieldKind::Text(ID),
        "interaction.transferred: target agent.";
    TransferType => "transfer_type", FieldKind::Enum(super::event::TransferType::NAMES),
        "interaction.transferred: blind or consult.";
    DisconnectParty => "disconnect_party", FieldKind::Enum(super::event::DisconnectParty::NAMES),
        "interaction.conversation_ended: who hung up.";
    Disposition => "disposition", FieldKind::Text(TEXT),
        "interaction.wrapup_completed: the agent's disposition code.";
    Csat => "csat", FieldKind::Int(CSAT),
        "interaction.survey_completed: satisfaction score 1-5.";
    Nps => "nps", FieldKind::Int(NPS),
        "interaction.survey_completed: net promoter score 0-10.";
    Outcome => "outcome", FieldKind::Text(TEXT),
        "interaction.ended: free-text outcome.";
    DialMode => "dial_mode", FieldKind::Enum(super::event::DialMode::NAMES),
        "dialer.attempted: pacing mode.";
    Result => "result", FieldKind::Enum(super::event::DialResult::NAMES),
        "dialer.result: call-progress outcome.";
    AmdMs => "amd_ms", FieldKind::Int(NON_NEGATIVE),
        "dialer.result: answering-machine detection time in milliseconds.";
    Action => "action", FieldKind::Enum(super::event::PreviewAction::NAMES),
        "dialer.preview_action: the agent's choice.";
    Queues => "queues", FieldKind::TextList(ID),
        "agent.logged_in: queues the agent serves.";
    Capacity => "capacity", FieldKind::Capacity,
        "agent.logged_in: concurrent capacity per channel.";
    TeamId => "team_id", FieldKind::Text(ID),
        "agent.logged_in: the agent's team.";
    State => "state", FieldKind::Enum(super::event::Presence::NAMES),
        "agent.state_changed: chosen presence.";
}

impl Field {
    /// The wire name.
    pub(crate) fn name(self) -> &'static str {
        self.spec().name
    }

    /// Bit of this field in a presence set.
    pub(crate) fn bit(self) -> u64 {
        1 << (self as u32)
    }
}

/// The envelope fields every event must carry, in check order.
pub(crate) const ENVELOPE_REQUIRED: &[Field] = &[
    Field::SchemaVersion,
    Field::EventId,
    Field::TenantId,
    Field::Type,
    Field::OccurredAt,
];

/// Fields a known type requires beyond the envelope: its family's ids, then the "(req)"
/// fields of its row in events.md.
pub(crate) fn required_fields(event_type: KnownEventType) -> &'static [Field] {
    use super::event::EventFamily;
    use KnownEventType as T;
    match event_type {
        T::InteractionQueued | T::InteractionAbandoned | T::InteractionFlowedOut => {
            &[Field::InteractionId, Field::QueueId]
        }
        T::InteractionOffered | T::InteractionAnswered => {
            &[Field::InteractionId, Field::QueueId, Field::AgentId]
        }
        T::InteractionOfferMissed | T::InteractionWrapupCompleted => {
            &[Field::InteractionId, Field::AgentId]
        }
        other => match other.family() {
            EventFamily::Interaction => &[Field::InteractionId],
            EventFamily::Dialer => &[Field::InteractionId, Field::CampaignId],
            EventFamily::Agent => &[Field::AgentId],
        },
    }
}

/// The closed set of `reason` values for types where `reason` is an enum.
pub(crate) fn reason_values(event_type: KnownEventType) -> Option<&'static [&'static str]> {
    match event_type {
        KnownEventType::InteractionOfferMissed => Some(OfferMissedReason::NAMES),
        KnownEventType::InteractionFlowedOut => Some(FlowOutReason::NAMES),
        _ => None,
    }
}

/// The rule a field's value follows in an event of `event_type`: the table's kind,
/// except `reason`, which is an enum for some types.
pub(crate) fn kind_for(field: Field, event_type: &EventType<'_>) -> FieldKind {
    if field == Field::Reason
        && let Some(values) = event_type.known().and_then(reason_values)
    {
        return FieldKind::Enum(values);
    }
    field.spec().kind
}

/// A field's value read from an [`Event`], uniformly.
#[derive(Debug, Clone, Copy)]
pub(crate) enum FieldValue<'e> {
    Int(i64),
    Text(&'e str),
    Timestamp(i64),
    TextList(&'e [super::event::Str<'e>]),
    TextMap(&'e [(super::event::Str<'e>, super::event::Str<'e>)]),
    Capacity(&'e [(super::event::Str<'e>, u32)]),
}

impl Event<'_> {
    /// The value of `field`, `None` when absent. Envelope fields are always present,
    /// except `attributes`, which is absent when empty.
    pub(crate) fn field_value(&self, field: Field) -> Option<FieldValue<'_>> {
        use FieldValue as V;
        Some(match field {
            Field::SchemaVersion => V::Int(i64::from(self.schema_version)),
            Field::EventId => V::Text(&self.event_id),
            Field::TenantId => V::Text(&self.tenant_id),
            Field::Type => V::Text(self.event_type.as_str()),
            Field::OccurredAt => V::Timestamp(self.occurred_at),
            Field::Attributes if self.attributes.is_empty() => return None,
            Field::Attributes => V::TextMap(&self.attributes),
            Field::InteractionId => V::Text(self.interaction_id.as_deref()?),
            Field::Channel => V::Text(self.channel?.as_str()),
            Field::Direction => V::Text(self.direction?.as_str()),
            Field::QueueId => V::Text(self.queue_id.as_deref()?),
            Field::AgentId => V::Text(self.agent_id.as_deref()?),
            Field::CampaignId => V::Text(self.campaign_id.as_deref()?),
            Field::CustomerId => V::Text(self.customer_id.as_deref()?),
            Field::Priority => V::Int(self.priority?),
            Field::Skills => V::TextList(self.skills.as_deref()?),
            Field::Reason => V::Text(self.reason.as_deref()?),
            Field::ToQueueId => V::Text(self.to_queue_id.as_deref()?),
            Field::ToAgentId => V::Text(self.to_agent_id.as_deref()?),
            Field::TransferType => V::Text(self.transfer_type?.as_str()),
            Field::DisconnectParty => V::Text(self.disconnect_party?.as_str()),
            Field::Disposition => V::Text(self.disposition.as_deref()?),
            Field::Csat => V::Int(i64::from(self.csat?)),
            Field::Nps => V::Int(i64::from(self.nps?)),
            Field::Outcome => V::Text(self.outcome.as_deref()?),
            Field::DialMode => V::Text(self.dial_mode?.as_str()),
            Field::Result => V::Text(self.result?.as_str()),
            Field::AmdMs => V::Int(self.amd_ms?),
            Field::Action => V::Text(self.action?.as_str()),
            Field::Queues => V::TextList(self.queues.as_deref()?),
            Field::Capacity => V::Capacity(self.capacity.as_deref()?),
            Field::TeamId => V::Text(self.team_id.as_deref()?),
            Field::State => V::Text(self.state?.as_str()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_indexed_by_variant_and_names_parse_back() {
        assert_eq!(SPECS.len(), Field::ALL.len());
        assert!(Field::ALL.len() <= 64, "presence sets are u64 bitmaps");
        for (i, field) in Field::ALL.iter().enumerate() {
            assert_eq!(*field as usize, i);
            assert_eq!(Field::parse(field.name()), Some(*field));
        }
        assert_eq!(Field::parse("extra"), None);
    }

    #[test]
    fn every_type_requires_its_family_ids() {
        use super::super::event::EventFamily;
        for t in KnownEventType::ALL {
            let required = required_fields(*t);
            let family: &[Field] = match t.family() {
                EventFamily::Interaction => &[Field::InteractionId],
                EventFamily::Dialer => &[Field::InteractionId, Field::CampaignId],
                EventFamily::Agent => &[Field::AgentId],
            };
            for id in family {
                assert!(required.contains(id), "{t} must require {id:?}");
            }
        }
    }

    #[test]
    fn text_rules() {
        assert!(ID.accepts("a"));
        assert!(!ID.accepts(""));
        assert!(ID.accepts(&"é".repeat(128)));
        assert!(!ID.accepts(&"é".repeat(129)));
        assert!(TENANT.accepts("acme_01.eu-west"));
        assert!(!TENANT.accepts("acme corp"));
        assert!(!TENANT.accepts("açme"));
        assert!(!TENANT.accepts(&"a".repeat(65)));
        assert!(TEXT.accepts(""));
        assert_eq!(ID.expected(), "a string of 1–128 chars");
        assert_eq!(
            TENANT.expected(),
            "a string of 1–64 chars of [A-Za-z0-9_.-]"
        );
        assert_eq!(CSAT.expected(), "an integer 1–5");
        assert_eq!(NON_NEGATIVE.expected(), "an integer ≥ 0");
    }
}
