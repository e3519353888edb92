//! What the fold keeps of an interaction or dialer event while the interaction is in
//! memory: the fields derivation reads (`interaction`), and nothing else.
//!
//! An open interaction keeps every event until it is final, so their size is the fold's
//! memory per open interaction (issue 7: ≤ 1 KiB). The decoded [`Event`] is one flat
//! struct for every type (about 500 bytes) with one heap string per id; a [`Record`] is
//! about a fifth of that, and its ids (queue, agent, campaign, disposition) are shared
//! [`Id`]s from the tenant's [`Interner`], so a thousand events of one queue hold one
//! copy of its name, and cloning an id into a visit or an activity copies a pointer.
//!
//! The tenant and interaction ids are not in the record: they are the keys the fold files
//! it under. [`Record::to_event`] puts them back for the saved state, which stores each
//! record as a contract event (with only these fields) so that the format stays the one
//! [`super::state`] has always read.

use std::sync::{Arc, LazyLock};

use ccpulse_schemas::v1::{
    Channel, DialResult, Direction, Event, EventType, KnownEventType, PreviewAction, TransferType,
};

use datafusion::common::HashSet;

use super::order;

/// A shared id string (queue, agent, campaign, disposition).
pub(crate) type Id = Arc<str>;

/// The id of an event without one (where the contract does not require it).
pub(crate) fn empty_id() -> &'static Id {
    static EMPTY: LazyLock<Id> = LazyLock::new(|| Id::from(""));
    &EMPTY
}

/// One copy of each id string of a tenant.
#[derive(Debug, Default)]
pub(crate) struct Interner {
    ids: HashSet<Id>,
    /// The number of ids after the last [`Interner::prune`].
    pruned_len: usize,
}

impl Interner {
    /// The shared copy of `value`.
    pub(crate) fn id(&mut self, value: &str) -> Id {
        if let Some(id) = self.ids.get(value) {
            return Arc::clone(id);
        }
        let id: Id = Arc::from(value);
        self.ids.insert(Arc::clone(&id));
        id
    }

    /// Forgets the ids nothing else holds any more, once their number has doubled since
    /// the last time (free-text dispositions would otherwise pile up).
    pub(crate) fn prune(&mut self) {
        if self.ids.len() > 2 * self.pruned_len.max(1024) {
            self.ids.retain(|id| Arc::strong_count(id) > 1);
            self.pruned_len = self.ids.len();
        }
    }
}

/// The fields of one interaction or dialer event that derivation reads.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Record {
    pub(crate) occurred_at: i64,
    pub(crate) kind: KnownEventType,
    /// The last tie-break of the canonical order (shared with the dedupe map).
    pub(crate) event_id: Id,
    pub(crate) queue_id: Option<Id>,
    pub(crate) agent_id: Option<Id>,
    pub(crate) campaign_id: Option<Id>,
    pub(crate) to_agent_id: Option<Id>,
    pub(crate) disposition: Option<Id>,
    pub(crate) channel: Option<Channel>,
    pub(crate) direction: Option<Direction>,
    pub(crate) transfer_type: Option<TransferType>,
    pub(crate) result: Option<DialResult>,
    pub(crate) action: Option<PreviewAction>,
    pub(crate) csat: Option<u8>,
}

impl Record {
    /// The record of `event`, of known type `kind`, with `event_id` as its id and its
    /// other ids from `ids`.
    pub(crate) fn new(
        event: &Event<'_>,
        event_id: Id,
        kind: KnownEventType,
        ids: &mut Interner,
    ) -> Self {
        let mut id =
            |value: &Option<std::borrow::Cow<'_, str>>| value.as_deref().map(|v| ids.id(v));
        Self {
            occurred_at: event.occurred_at,
            kind,
            event_id,
            queue_id: id(&event.queue_id),
            agent_id: id(&event.agent_id),
            campaign_id: id(&event.campaign_id),
            to_agent_id: id(&event.to_agent_id),
            disposition: id(&event.disposition),
            channel: event.channel,
            direction: event.direction,
            transfer_type: event.transfer_type,
            result: event.result,
            action: event.action,
            csat: event.csat,
        }
    }

    /// A contract event with this record's fields, of `tenant_id` and `interaction_id`.
    /// [`Record::new`] of it gives this record back.
    pub(crate) fn to_event(&self, tenant_id: &str, interaction_id: &str) -> Event<'static> {
        let text = |id: &Option<Id>| id.as_deref().map(|v| v.to_owned().into());
        Event {
            schema_version: 1,
            event_id: self.event_id.to_string().into(),
            tenant_id: tenant_id.to_owned().into(),
            event_type: EventType::Known(self.kind),
            occurred_at: self.occurred_at,
            interaction_id: Some(interaction_id.to_owned().into()),
            queue_id: text(&self.queue_id),
            agent_id: text(&self.agent_id),
            campaign_id: text(&self.campaign_id),
            to_agent_id: text(&self.to_agent_id),
            disposition: text(&self.disposition),
            channel: self.channel,
            direction: self.direction,
            transfer_type: self.transfer_type,
            result: self.result,
            action: self.action,
            csat: self.csat,
            ..Event::default()
        }
    }

    /// The sort key in the canonical order (`order`).
    pub(crate) fn key(&self) -> (i64, u8, &str) {
        (
            self.occurred_at,
            order::rank_known(self.kind),
            &self.event_id,
        )
    }

    /// The channel, with the contract default (`voice`) applied.
    pub(crate) fn channel_or_default(&self) -> Channel {
        self.channel.unwrap_or(Channel::Voice)
    }

    /// The direction, with the contract default (`inbound`) applied.
    pub(crate) fn direction_or_default(&self) -> Direction {
        self.direction.unwrap_or(Direction::Inbound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ccpulse_schemas::v1::decode;

    /// Saving writes a record as an event and restoring reads it back: nothing the
    /// derivation reads may be lost on the way, and the event must pass validation.
    #[test]
    fn a_record_survives_its_event_form() {
        let lines = [
            r#"{"schema_version":1,"event_id":"e1","tenant_id":"acme","type":"interaction.transferred","occurred_at":"2026-11-20T09:00:00.123Z","interaction_id":"i1","channel":"chat","direction":"outbound","queue_id":"sales","agent_id":"a-1","to_agent_id":"a-2","transfer_type":"consult","customer_id":"c-9","attributes":{"vip":"yes"}}"#,
            r#"{"schema_version":1,"event_id":"e2","tenant_id":"acme","type":"interaction.wrapup_completed","occurred_at":"2026-11-20T09:05:00.000Z","interaction_id":"i1","agent_id":"a-1","disposition":"sold"}"#,
            r#"{"schema_version":1,"event_id":"e3","tenant_id":"acme","type":"interaction.survey_completed","occurred_at":"2026-11-20T09:06:00.000Z","interaction_id":"i1","csat":4,"nps":9}"#,
            r#"{"schema_version":1,"event_id":"e4","tenant_id":"acme","type":"dialer.result","occurred_at":"2026-11-20T09:07:00.000Z","interaction_id":"i1","campaign_id":"spring","result":"human"}"#,
            r#"{"schema_version":1,"event_id":"e5","tenant_id":"acme","type":"dialer.preview_action","occurred_at":"2026-11-20T09:08:00.000Z","interaction_id":"i1","campaign_id":"spring","agent_id":"a-1","action":"skip"}"#,
        ];
        let mut ids = Interner::default();
        for line in lines {
            let event = decode(line.as_bytes()).expect("a valid event");
            let kind = event.event_type.known().expect("a known type");
            let record = Record::new(&event, Id::from(&*event.event_id), kind, &mut ids);
            let json = record.to_event("acme", "i1").to_json();
            let again = decode(json.as_bytes()).expect("the saved form is a valid event");
            let event_id = Id::from(&*again.event_id);
            assert_eq!(
                Record::new(&again, event_id, kind, &mut ids),
                record,
                "{line}"
            );
        }
    }

    /// Ids are shared: two events of one queue hold one copy of its name; an id nothing
    /// holds is forgotten by a prune.
    #[test]
    fn ids_are_shared_and_pruned() {
        let mut ids = Interner::default();
        let a = ids.id("sales");
        let b = ids.id("sales");
        assert!(Arc::ptr_eq(&a, &b));
        for n in 0..3000 {
            ids.id(&format!("disposition-{n}"));
        }
        ids.prune();
        assert_eq!(ids.ids.len(), 1, "only `sales` is still held");
        assert!(Arc::ptr_eq(&ids.id("sales"), &a));
    }
}
