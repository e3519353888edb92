//! The typed form of one v1 event.
//!
//! One flat struct covers every event type: the contract's type-specific fields are
//! optional here and [`crate::v1::validate`] enforces which ones each type requires.
//! Strings are [`Cow`]s so the decoder can borrow from the message buffer on the hot
//! path (no allocation unless a string holds JSON escapes) while producers (the
//! simulator, importers, tests) build owned `Event<'static>` values, check them with
//! [`crate::v1::validate`] and write them with [`Event::to_json`].

use std::borrow::Cow;

/// A string field: borrowed from the input when possible, owned otherwise.
pub type Str<'a> = Cow<'a, str>;

/// Milliseconds since the Unix epoch, UTC. Finer input precision is truncated (floor).
pub type TimestampMs = i64;

/// One event of contract version 1 (`../shared/docs/events.md`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Event<'a> {
    /// Always `1` for this module's events.
    pub schema_version: u32,
    /// Unique per event; the dedupe key. 1–128 chars.
    pub event_id: Str<'a>,
    /// The contact-center account. 1–64 chars of `[A-Za-z0-9_.-]`.
    pub tenant_id: Str<'a>,
    /// The `type` field. Unknown types are kept as [`EventType::Unknown`].
    pub event_type: EventType<'a>,
    /// `occurred_at`, as UTC milliseconds.
    pub occurred_at: TimestampMs,
    /// Free-form string attributes, in input order, keys unique. Empty means absent:
    /// the canonical JSON omits an empty `attributes`.
    pub attributes: Vec<(Str<'a>, Str<'a>)>,

    // Interaction and dialer fields.
    /// The interaction; required by `interaction.*` and `dialer.*` events. 1–128 chars.
    pub interaction_id: Option<Str<'a>>,
    /// As sent; [`Event::channel_or_default`] applies the contract default (`voice`).
    pub channel: Option<Channel>,
    /// As sent; [`Event::direction_or_default`] applies the contract default (`inbound`).
    pub direction: Option<Direction>,
    /// The queue. 1–128 chars.
    pub queue_id: Option<Str<'a>>,
    /// The agent; required by `agent.*` events. 1–128 chars.
    pub agent_id: Option<Str<'a>>,
    /// The outbound campaign; required by `dialer.*` events. 1–128 chars.
    pub campaign_id: Option<Str<'a>>,
    /// The customer. 1–128 chars.
    pub customer_id: Option<Str<'a>>,
    /// `interaction.queued`: routing priority.
    pub priority: Option<i64>,
    /// `interaction.queued`: required skills (any strings).
    pub skills: Option<Vec<Str<'a>>>,
    /// `offer_missed` (`timeout` `rejected`), `flowed_out` (`timeout` `overflow` `callback`
    /// `voicemail` `closed`) or `agent.state_changed` (free text such as `break`).
    pub reason: Option<Str<'a>>,
    /// `interaction.transferred`: target queue.
    pub to_queue_id: Option<Str<'a>>,
    /// `interaction.transferred`: target agent.
    pub to_agent_id: Option<Str<'a>>,
    /// `interaction.transferred`: blind or consult.
    pub transfer_type: Option<TransferType>,
    /// `interaction.conversation_ended`: who ended the conversation.
    pub disconnect_party: Option<DisconnectParty>,
    /// `interaction.wrapup_completed`: the agent's disposition code.
    pub disposition: Option<Str<'a>>,
    /// `interaction.survey_completed`: 1–5.
    pub csat: Option<u8>,
    /// `interaction.survey_completed`: 0–10.
    pub nps: Option<u8>,
    /// `interaction.ended`: free-text outcome.
    pub outcome: Option<Str<'a>>,
    /// `dialer.attempted`: pacing mode.
    pub dial_mode: Option<DialMode>,
    /// `dialer.result`: call-progress outcome.
    pub result: Option<DialResult>,
    /// `dialer.result`: answering-machine detection time in milliseconds.
    pub amd_ms: Option<i64>,
    /// `dialer.preview_action`: the agent's choice.
    pub action: Option<PreviewAction>,

    // Agent fields.
    /// `agent.logged_in`: queues the agent serves (queue ids, 1–128 chars each).
    pub queues: Option<Vec<Str<'a>>>,
    /// `agent.logged_in`: concurrent capacity per channel name (keys are [`Channel`]
    /// names, unique), in input order.
    pub capacity: Option<Vec<(Str<'a>, u32)>>,
    /// `agent.logged_in`: the agent's team. 1–128 chars.
    pub team_id: Option<Str<'a>>,
    /// `agent.state_changed`: chosen presence.
    pub state: Option<Presence>,

    /// Top-level fields the contract does not know, as `(name, raw JSON text)` in input
    /// order. Preserved, never rejected; written verbatim by [`Event::to_json`]. Names
    /// are unique and never a known field's; values must be JSON text
    /// ([`crate::v1::validate`] checks all three for events built in code).
    pub extra: Vec<(Str<'a>, Str<'a>)>,
}

impl Event<'_> {
    /// The channel, with the contract default (`voice`) applied.
    pub fn channel_or_default(&self) -> Channel {
        self.channel.unwrap_or(Channel::Voice)
    }

    /// The direction, with the contract default (`inbound`) applied.
    pub fn direction_or_default(&self) -> Direction {
        self.direction.unwrap_or(Direction::Inbound)
    }
}

/// Declares a closed string enum of the contract with `as_str`, `parse` and `ALL`.
macro_rules! contract_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $(#[doc = concat!("`", $text, "`")] $variant),+
        }

        impl $name {
            /// Every value, in contract order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire spelling of every value, in contract order (same order as `ALL`).
            pub const NAMES: &'static [&'static str] = &[$($text),+];

            /// The wire spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// Parses the wire spelling; `None` for anything else (case-sensitive).
            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

contract_enum!(
    /// Interaction channel.
    Channel {
        Voice => "voice",
        Chat => "chat",
        Email => "email",
        Sms => "sms",
        Callback => "callback",
        Video => "video",
        Task => "task",
    }
);

contract_enum!(
    /// Interaction direction.
    Direction { Inbound => "inbound", Outbound => "outbound" }
);

contract_enum!(
    /// `interaction.transferred` kind.
    TransferType { Blind => "blind", Consult => "consult" }
);

contract_enum!(
    /// Who ended the conversation.
    DisconnectParty { Customer => "customer", Agent => "agent", System => "system" }
);

contract_enum!(
    /// Dialer pacing mode.
    DialMode { Predictive => "predictive", Progressive => "progressive", Preview => "preview" }
);

contract_enum!(
    /// Call-progress / answering-machine detection result.
    DialResult {
        Human => "human",
        Machine => "machine",
        Fax => "fax",
        BadNumber => "bad_number",
        NoAnswer => "no_answer",
        Busy => "busy",
        Sit => "sit",
    }
);

contract_enum!(
    /// The agent's choice in preview dialing.
    PreviewAction {
        Accept => "accept",
        Requeue => "requeue",
        Reschedule => "reschedule",
        Snooze => "snooze",
        Skip => "skip",
    }
);

contract_enum!(
    /// Presence an agent chose (or the system set).
    Presence { Available => "available", Away => "away", Offline => "offline" }
);

contract_enum!(
    /// `interaction.offer_missed` reason.
    OfferMissedReason { Timeout => "timeout", Rejected => "rejected" }
);

contract_enum!(
    /// `interaction.flowed_out` reason.
    FlowOutReason {
        Timeout => "timeout",
        Overflow => "overflow",
        Callback => "callback",
        Voicemail => "voicemail",
        Closed => "closed",
    }
);

contract_enum!(
    /// Every event type version 1 knows.
    KnownEventType {
        InteractionCreated => "interaction.created",
        InteractionQueued => "interaction.queued",
        InteractionOffered => "interaction.offered",
        InteractionOfferMissed => "interaction.offer_missed",
        InteractionAnswered => "interaction.answered",
        InteractionHoldStarted => "interaction.hold_started",
        InteractionHoldEnded => "interaction.hold_ended",
        InteractionTransferred => "interaction.transferred",
        InteractionAbandoned => "interaction.abandoned",
        InteractionFlowedOut => "interaction.flowed_out",
        InteractionConversationEnded => "interaction.conversation_ended",
        InteractionWrapupCompleted => "interaction.wrapup_completed",
        InteractionSurveyCompleted => "interaction.survey_completed",
        InteractionFirstResponse => "interaction.first_response",
        InteractionEnded => "interaction.ended",
        DialerAttempted => "dialer.attempted",
        DialerResult => "dialer.result",
        DialerPreviewAction => "dialer.preview_action",
        DialerDropped => "dialer.dropped",
        AgentLoggedIn => "agent.logged_in",
        AgentStateChanged => "agent.state_changed",
        AgentLoggedOut => "agent.logged_out",
        AgentHeartbeat => "agent.heartbeat",
    }
);

impl KnownEventType {
    /// Which id the type requires beyond the envelope, per events.md.
    pub fn family(self) -> EventFamily {
        let name = self.as_str();
        if name.starts_with("interaction.") {
            EventFamily::Interaction
        } else if name.starts_with("dialer.") {
            EventFamily::Dialer
        } else {
            EventFamily::Agent
        }
    }
}

/// The three groups of event types in events.md, each with its own required ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventFamily {
    /// `interaction.*`: requires `interaction_id`.
    Interaction,
    /// `dialer.*`: requires `interaction_id` and `campaign_id`.
    Dialer,
    /// `agent.*`: requires `agent_id`.
    Agent,
}

/// The `type` of an event: a known one, or an unknown one that is kept and counted.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EventType<'a> {
    /// A type of contract version 1.
    Known(KnownEventType),
    /// A type this version does not know (a newer producer): kept in the raw table.
    Unknown(Str<'a>),
}

impl Default for EventType<'_> {
    fn default() -> Self {
        EventType::Known(KnownEventType::InteractionCreated)
    }
}

impl<'a> EventType<'a> {
    /// Classifies a wire type name.
    pub fn from_name(name: Str<'a>) -> Self {
        match KnownEventType::parse(&name) {
            Some(known) => EventType::Known(known),
            None => EventType::Unknown(name),
        }
    }

    /// The wire spelling.
    pub fn as_str(&self) -> &str {
        match self {
            EventType::Known(known) => known.as_str(),
            EventType::Unknown(name) => name,
        }
    }

    /// The known type, if any.
    pub fn known(&self) -> Option<KnownEventType> {
        match self {
            EventType::Known(known) => Some(*known),
            EventType::Unknown(_) => None,
        }
    }
}
