//! Why a message was rejected: [`Rejection`] and its bounded [`RejectKind`].
//!
//! The `Display` text goes to the dead-letter topic next to the message, so it is short,
//! names the field, says what was expected and what was found, and never echoes the
//! whole message: offending values are truncated to [`MAX_GOT_CHARS`] characters.

use std::fmt;

/// Longest excerpt of an offending value quoted in [`Rejection::got`], in chars.
pub(crate) const MAX_GOT_CHARS: usize = 40;

/// Why a message is not a valid v1 event. Bounded: usable as a metrics label via
/// [`RejectKind::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RejectKind {
    /// The bytes are not valid UTF-8.
    NotUtf8,
    /// Larger than [`crate::v1::MAX_EVENT_BYTES`].
    TooLarge,
    /// Not one JSON value (syntax error, truncated, trailing characters, nesting too deep).
    NotJson,
    /// Valid JSON, but not an object at the top level.
    NotAnObject,
    /// The same key twice in one object (top level, `attributes` or `capacity`).
    DuplicateField,
    /// A field the envelope or the event's type requires is absent.
    MissingField,
    /// A known field holds the wrong JSON type (e.g. a number where a string belongs).
    WrongType,
    /// A known field has the right JSON type but a value outside its rules (length,
    /// charset, enum, range).
    InvalidValue,
    /// `occurred_at` is not an RFC 3339 timestamp with offset in years 1970–9999.
    BadTimestamp,
    /// `schema_version` is an integer other than 1.
    UnsupportedVersion,
}

impl RejectKind {
    /// Every kind, for pre-registering metric labels.
    pub const ALL: &'static [RejectKind] = &[
        RejectKind::NotUtf8,
        RejectKind::TooLarge,
        RejectKind::NotJson,
        RejectKind::NotAnObject,
        RejectKind::DuplicateField,
        RejectKind::MissingField,
        RejectKind::WrongType,
        RejectKind::InvalidValue,
        RejectKind::BadTimestamp,
        RejectKind::UnsupportedVersion,
    ];

    /// `snake_case` name, stable: a metrics label value and part of the dead-letter record.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectKind::NotUtf8 => "not_utf8",
            RejectKind::TooLarge => "too_large",
            RejectKind::NotJson => "not_json",
            RejectKind::NotAnObject => "not_an_object",
            RejectKind::DuplicateField => "duplicate_field",
            RejectKind::MissingField => "missing_field",
            RejectKind::WrongType => "wrong_type",
            RejectKind::InvalidValue => "invalid_value",
            RejectKind::BadTimestamp => "bad_timestamp",
            RejectKind::UnsupportedVersion => "unsupported_version",
        }
    }
}

impl fmt::Display for RejectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A message that is not a valid v1 event, with a short reason for the dead-letter topic.
///
/// Display examples:
/// - ``field `queue_id`: expected a string of 1–128 chars, got number``
/// - ``missing field `queue_id` required by interaction.queued``
/// - `not JSON: expected value at line 1 column 1`
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", Reason(self))]
pub struct Rejection {
    /// The bounded reason, for metrics.
    pub kind: RejectKind,
    /// Dotted path of the offending field (`queue_id`, `attributes.region`,
    /// `capacity.voice`, `skills[2]`); `None` for message-level problems.
    pub field: Option<String>,
    /// What the contract wants, e.g. `a string of 1–128 chars`. For
    /// [`RejectKind::MissingField`], which type requires it (`required by
    /// interaction.queued`).
    pub expected: String,
    /// What was found: a JSON type name (`number`, `null`), or the offending value
    /// truncated to 40 chars, never the whole message.
    pub got: String,
}

impl Rejection {
    pub(crate) fn new(
        kind: RejectKind,
        field: Option<String>,
        expected: impl Into<String>,
        got: impl Into<String>,
    ) -> Self {
        Rejection {
            kind,
            field,
            expected: expected.into(),
            got: got.into(),
        }
    }

    /// A rejection about one field.
    pub(crate) fn field(
        kind: RejectKind,
        field: impl Into<String>,
        expected: impl Into<String>,
        got: impl Into<String>,
    ) -> Self {
        Rejection::new(kind, Some(field.into()), expected, got)
    }

    /// `field` is absent but `required_by` (a type name, or "every event") needs it.
    pub(crate) fn missing(field: &str, required_by: &str) -> Self {
        Rejection::field(
            RejectKind::MissingField,
            field,
            format!("required by {required_by}"),
            "nothing",
        )
    }

    /// `field` appears twice in its object.
    pub(crate) fn duplicate(field: impl Into<String>) -> Self {
        Rejection::field(
            RejectKind::DuplicateField,
            field,
            "each key at most once",
            "it twice",
        )
    }
}

/// Renders a [`Rejection`] as its one-line reason.
struct Reason<'r>(&'r Rejection);

impl fmt::Display for Reason<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self.0;
        match (r.kind, r.field.as_deref()) {
            (RejectKind::MissingField, Some(field)) => {
                write!(f, "missing field `{field}` {}", r.expected)
            }
            (RejectKind::DuplicateField, Some(field)) => write!(f, "duplicate field `{field}`"),
            (_, Some(field)) => {
                write!(f, "field `{field}`: expected {}, got {}", r.expected, r.got)
            }
            (RejectKind::NotUtf8, None) => write!(f, "not UTF-8: {}", r.got),
            (RejectKind::NotJson, None) => write!(f, "not JSON: {}", r.got),
            (RejectKind::NotAnObject, None) => write!(f, "not a JSON object: got {}", r.got),
            (RejectKind::TooLarge, None) => {
                write!(
                    f,
                    "message too large: expected {}, got {}",
                    r.expected, r.got
                )
            }
            (kind, None) => write!(f, "{kind}: expected {}, got {}", r.expected, r.got),
        }
    }
}

/// Quotes a string value for [`Rejection::got`], truncated to [`MAX_GOT_CHARS`] chars.
pub(crate) fn quote_truncated(value: &str) -> String {
    let mut out = String::with_capacity(value.len().min(MAX_GOT_CHARS * 2) + 2);
    out.push('"');
    for (i, c) in value.chars().enumerate() {
        if i == MAX_GOT_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_forms() {
        let wrong = Rejection::field(
            RejectKind::WrongType,
            "queue_id",
            "a string of 1–128 chars",
            "number",
        );
        assert_eq!(
            wrong.to_string(),
            "field `queue_id`: expected a string of 1–128 chars, got number"
        );
        assert_eq!(
            Rejection::missing("queue_id", "interaction.queued").to_string(),
            "missing field `queue_id` required by interaction.queued"
        );
        let not_json = Rejection::new(
            RejectKind::NotJson,
            None,
            "a JSON object",
            "expected value at line 1 column 1",
        );
        assert_eq!(
            not_json.to_string(),
            "not JSON: expected value at line 1 column 1"
        );
        assert_eq!(
            Rejection::duplicate("tenant_id").to_string(),
            "duplicate field `tenant_id`"
        );
    }

    #[test]
    fn kinds_have_unique_snake_case_names() {
        let mut names: Vec<_> = RejectKind::ALL.iter().map(|k| k.as_str()).collect();
        assert!(names.iter().all(|n| {
            n.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        }));
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), RejectKind::ALL.len());
    }

    #[test]
    fn got_is_truncated() {
        let long = "x".repeat(500);
        let got = quote_truncated(&long);
        assert_eq!(got.chars().count(), MAX_GOT_CHARS + 3);
        assert_eq!(quote_truncated("a\nb"), "\"a\\nb\"");
    }
}
