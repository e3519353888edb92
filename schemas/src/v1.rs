//! Contract version 1 (`shared/docs/events.md`): the typed event, its decoder,
//! validator and canonical JSON form, the Arrow schema of the raw `events` table, and
//! the JSON Schema generated from the same field table.
//!
//! # Layout
//! - `event`: the [`Event`] struct and the contract's closed enums.
//! - `field`: the field table (value rules, per-type required fields) every other module
//!   reads.
//! - `decode`: [`decode`], the single-pass, borrowing hot-path decoder.
//! - `validate`: [`validate`], the contract's rules and their interpretations.
//! - `encode`: [`Event::to_json`], [`Event::write_json`], [`Event::into_owned`].
//! - `rejection`: [`Rejection`] and [`RejectKind`], the dead-letter reason.
//! - `timestamp`: RFC 3339 parsing and the canonical `YYYY-MM-DDTHH:MM:SS.mmmZ` form.
//! - [`arrow`]: [`arrow::events_schema`] and [`arrow::EventsBatchBuilder`].
//! - `json_schema`: [`json_schema`], the generator of `schemas/json/event.v1.schema.json`.
//!
//! # Interpretations of events.md
//! Where the contract leaves room, version 1 decides (also listed in
//! `schemas/CHANGELOG.md`):
//! - `occurred_at`: fractional seconds are optional (missing means `.000`); finer than
//!   milliseconds is truncated (floor); the offset (`Z` or `±HH:MM`) is required;
//!   lowercase `t`/`z` are accepted; years 1970–9999 (as written and in UTC); a leap
//!   second at 23:59:60 UTC reads as 23:59:59.999.
//! - A known field is type-checked wherever it appears, also on types that do not use it
//!   and on unknown types. An unknown type otherwise needs only the envelope.
//! - Integers follow JSON Schema: `2.0` and `2e0` are the integer 2; `2.5` is the wrong
//!   type. Values must fit in `i64`.
//! - JSON `null` is the wrong type for every field (omit absent fields).
//! - Ids are 1–128 chars, `type` 1–128 chars, free text any string; lengths count
//!   Unicode scalar values. `queues` items are queue ids (1–128); `skills` items any
//!   string. `capacity` keys must be channel names.
//! - A key twice in the top-level object, `attributes` or `capacity` is rejected.

pub mod arrow;
mod decode;
mod encode;
mod event;
mod field;
mod json_schema;
mod rejection;
mod timestamp;
mod validate;

#[cfg(test)]
mod fixtures;

pub use decode::{MAX_EVENT_BYTES, decode, decode_with_limit};
pub use event::*;
pub use json_schema::json_schema;
pub use rejection::{RejectKind, Rejection};
pub use validate::validate;
