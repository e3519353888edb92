//! The canonical order of events: by event time, then by lifecycle rank, then by id.
//!
//! Folding the same set of events in this order always gives the same result, whatever
//! order they arrived in. The rank breaks ties between events of the same millisecond
//! the way they happen in a contact: a contact is queued before it is offered, offered
//! before it is answered, answered before the conversation ends, and the conversation
//! ends before the wrap-up. Agents log in first and out last.

use ccpulse_schemas::v1::{Event, EventType, KnownEventType as K};

use super::record::Record;

/// The tie-break rank of an event type within one millisecond.
pub(crate) fn rank(event_type: &EventType<'_>) -> u8 {
    event_type.known().map_or(30, rank_known)
}

/// The tie-break rank of a known event type within one millisecond.
pub(crate) fn rank_known(known: K) -> u8 {
    match known {
        K::AgentLoggedIn => 0,
        K::AgentStateChanged => 1,
        K::InteractionCreated => 2,
        K::DialerAttempted => 3,
        K::DialerResult => 4,
        K::DialerPreviewAction => 5,
        K::InteractionQueued => 6,
        K::InteractionOfferMissed => 7,
        K::InteractionOffered => 8,
        K::InteractionAnswered => 9,
        K::DialerDropped => 10,
        K::InteractionAbandoned => 11,
        K::InteractionFlowedOut => 12,
        K::InteractionFirstResponse => 13,
        K::InteractionHoldStarted => 14,
        K::InteractionHoldEnded => 15,
        K::InteractionTransferred => 16,
        K::InteractionConversationEnded => 17,
        K::InteractionWrapupCompleted => 18,
        K::InteractionSurveyCompleted => 19,
        K::InteractionEnded => 20,
        K::AgentHeartbeat => 21,
        K::AgentLoggedOut => 22,
    }
}

/// The sort key of an event in the canonical order.
pub(crate) fn key<'e>(event: &'e Event<'_>) -> (i64, u8, &'e str) {
    (event.occurred_at, rank(&event.event_type), &event.event_id)
}

/// Something with a place in the canonical order.
pub(crate) trait Canonical {
    /// Its sort key.
    fn canonical_key(&self) -> (i64, u8, &str);
}

impl Canonical for Event<'_> {
    fn canonical_key(&self) -> (i64, u8, &str) {
        key(self)
    }
}

impl Canonical for Record {
    fn canonical_key(&self) -> (i64, u8, &str) {
        self.key()
    }
}

/// Inserts `event` into `events` (kept in canonical order) and returns its position.
/// Events mostly arrive in order: the end is tried first. The vector grows by half
/// (at least 2) instead of doubling: most interactions keep a handful of events, and
/// their memory is what an open interaction costs.
pub(crate) fn insert_sorted<T: Canonical>(events: &mut Vec<T>, event: T) -> usize {
    if events.len() == events.capacity() {
        events.reserve_exact((events.len() / 2).max(2));
    }
    let at = match events.last() {
        Some(last) if last.canonical_key() > event.canonical_key() => {
            events.partition_point(|e| e.canonical_key() <= event.canonical_key())
        }
        _ => events.len(),
    };
    events.insert(at, event);
    at
}
