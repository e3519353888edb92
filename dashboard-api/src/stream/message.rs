//! The stream's JSON: what a client sends ([`ClientMessage`], read by [`parse`]) and
//! what the server sends ([`ServerMessage`]). The schema is in the module docs of
//! `stream`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::alerts::AlertView;
use crate::views::{AgentView, QueueView};

/// Longest subscription id accepted, in characters.
pub(super) const MAX_ID_CHARS: usize = 128;

/// What a subscription shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum Topic {
    /// Queues, agents and open alerts.
    Tenant,
    Queues,
    Agents,
    /// Open alerts.
    Alerts,
}

impl Topic {
    pub(super) fn has_queues(self) -> bool {
        matches!(self, Topic::Tenant | Topic::Queues)
    }

    pub(super) fn has_agents(self) -> bool {
        matches!(self, Topic::Tenant | Topic::Agents)
    }

    pub(super) fn has_alerts(self) -> bool {
        matches!(self, Topic::Tenant | Topic::Alerts)
    }
}

/// A client message, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ClientMessage {
    Subscribe {
        id: String,
        topic: Topic,
        /// `None`: every queue the token sees; else at least one queue id.
        queues: Option<Vec<String>>,
    },
    Unsubscribe {
        id: String,
    },
    Ping,
}

/// Why a client message was refused (the connection then closes with 4400).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Invalid {
    /// The message's `id`, when it had a usable one.
    pub(super) id: Option<String>,
    /// `malformed_json`, `unknown_type` or `invalid_message`.
    pub(super) code: &'static str,
    pub(super) message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Subscribe {
    #[serde(rename = "type")]
    _type: String,
    id: String,
    topic: Topic,
    #[serde(default)]
    queues: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Unsubscribe {
    #[serde(rename = "type")]
    _type: String,
    id: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Ping {
    #[serde(rename = "type")]
    _type: String,
}

/// Reads one text frame.
///
/// # Errors
/// Not a JSON object (`malformed_json`); no or an unknown `type` (`unknown_type`);
/// fields missing, of the wrong type or unknown, an empty or over-long `id`, an empty
/// `queues` list (`invalid_message`).
pub(super) fn parse(text: &str) -> Result<ClientMessage, Invalid> {
    let value: Value = serde_json::from_str(text).map_err(|error| Invalid {
        id: None,
        code: "malformed_json",
        message: format!("the message is not JSON: {error}"),
    })?;
    let Some(object) = value.as_object() else {
        return Err(Invalid {
            id: None,
            code: "malformed_json",
            message: "the message must be a JSON object".to_owned(),
        });
    };
    // The id, for the error message, when it is one a client could have meant.
    let id = object
        .get("id")
        .and_then(Value::as_str)
        .filter(|id| valid_id(id))
        .map(str::to_owned);
    let invalid = |message: String| Invalid {
        id: id.clone(),
        code: "invalid_message",
        message,
    };
    let kind = match object.get("type") {
        Some(Value::String(kind)) => kind.clone(),
        _ => {
            return Err(Invalid {
                id: id.clone(),
                code: "unknown_type",
                message: "the message has no string `type`: expected subscribe, unsubscribe \
                          or ping"
                    .to_owned(),
            });
        }
    };
    let message = match kind.as_str() {
        "subscribe" => {
            let Subscribe {
                id, topic, queues, ..
            } = serde_json::from_value(value)
                .map_err(|error| invalid(format!("subscribe: {error}")))?;
            check_id(&id).map_err(invalid)?;
            if queues.as_ref().is_some_and(Vec::is_empty) {
                return Err(invalid(
                    "subscribe: `queues` must name at least one queue (leave it out for \
                     every queue)"
                        .to_owned(),
                ));
            }
            ClientMessage::Subscribe { id, topic, queues }
        }
        "unsubscribe" => {
            let Unsubscribe { id, .. } = serde_json::from_value(value)
                .map_err(|error| invalid(format!("unsubscribe: {error}")))?;
            check_id(&id).map_err(invalid)?;
            ClientMessage::Unsubscribe { id }
        }
        "ping" => {
            let Ping { .. } =
                serde_json::from_value(value).map_err(|error| invalid(format!("ping: {error}")))?;
            ClientMessage::Ping
        }
        other => {
            return Err(Invalid {
                id,
                code: "unknown_type",
                message: format!(
                    "unknown message type `{}`: expected subscribe, unsubscribe or ping",
                    shorten(other, 40)
                ),
            });
        }
    };
    Ok(message)
}

fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.chars().count() <= MAX_ID_CHARS
}

fn check_id(id: &str) -> Result<(), String> {
    if valid_id(id) {
        Ok(())
    } else {
        Err(format!("`id` must have 1 to {MAX_ID_CHARS} characters"))
    }
}

/// `text` cut to at most `max` characters (with `…` when cut).
pub(super) fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// The rows of one kind that changed since the subscription's previous message.
#[derive(Debug, Serialize)]
pub(super) struct Changes<'a, T> {
    /// New rows, and rows whose figures changed, whole.
    pub(super) upsert: Vec<&'a T>,
    /// Ids of rows that are gone.
    pub(super) remove: Vec<&'a str>,
}

impl<T> Changes<'_, T> {
    pub(super) fn is_empty(&self) -> bool {
        self.upsert.is_empty() && self.remove.is_empty()
    }
}

/// A server message.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum ServerMessage<'a> {
    Snapshot {
        id: &'a str,
        seq: u64,
        as_of: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        queues: Option<&'a [QueueView]>,
        #[serde(skip_serializing_if = "Option::is_none")]
        agents: Option<&'a [AgentView]>,
        #[serde(skip_serializing_if = "Option::is_none")]
        alerts: Option<&'a [AlertView]>,
    },
    Delta {
        id: &'a str,
        seq: u64,
        as_of: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        queues: Option<Changes<'a, QueueView>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        agents: Option<Changes<'a, AgentView>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        alerts: Option<Changes<'a, AlertView>>,
    },
    Heartbeat {
        time: String,
    },
    Pong,
    Error {
        id: Option<&'a str>,
        code: &'a str,
        message: &'a str,
    },
}

impl ServerMessage<'_> {
    /// The JSON text.
    pub(super) fn to_text(&self) -> String {
        // Nothing here can fail to serialize: string keys only, and serde_json writes
        // non-finite floats as null.
        serde_json::to_string(self).unwrap_or_else(|error| {
            tracing::error!(error = %error, "a stream message did not serialize");
            String::from(r#"{"type":"error","id":null,"code":"internal","message":"a message could not be written"}"#)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(text: &str) -> Invalid {
        parse(text).expect_err(text)
    }

    #[test]
    fn reads_the_three_client_messages() {
        assert_eq!(
            parse(r#"{"type":"subscribe","id":"wall","topic":"tenant"}"#),
            Ok(ClientMessage::Subscribe {
                id: "wall".to_owned(),
                topic: Topic::Tenant,
                queues: None
            })
        );
        assert_eq!(
            parse(r#"{"type":"subscribe","id":"q","topic":"agents","queues":["sales"]}"#),
            Ok(ClientMessage::Subscribe {
                id: "q".to_owned(),
                topic: Topic::Agents,
                queues: Some(vec!["sales".to_owned()])
            })
        );
        assert_eq!(
            parse(r#"{"type":"unsubscribe","id":"wall"}"#),
            Ok(ClientMessage::Unsubscribe {
                id: "wall".to_owned()
            })
        );
        assert_eq!(parse(r#"{"type":"ping"}"#), Ok(ClientMessage::Ping));
    }

    #[test]
    fn refusals_name_the_problem() {
        assert_eq!(refused("{not json").code, "malformed_json");
        assert_eq!(refused("[1,2]").code, "malformed_json");
        assert_eq!(refused(r#"{"id":"x"}"#).code, "unknown_type");
        let unknown = refused(r#"{"type":"subscribe_all","id":"x"}"#);
        assert_eq!(
            (unknown.code, unknown.id.as_deref()),
            ("unknown_type", Some("x"))
        );
        assert!(unknown.message.contains("`subscribe_all`"), "{unknown:?}");

        let missing_id = refused(r#"{"type":"subscribe","topic":"tenant"}"#);
        assert_eq!(missing_id.code, "invalid_message");
        assert!(
            missing_id.message.contains("missing field `id`"),
            "{missing_id:?}"
        );
        let bad_topic = refused(r#"{"type":"subscribe","id":"a","topic":"calls"}"#);
        assert!(
            bad_topic.message.contains("unknown variant `calls`"),
            "{bad_topic:?}"
        );
        assert_eq!(bad_topic.id.as_deref(), Some("a"));
        let typo = refused(r#"{"type":"subscribe","id":"a","topic":"tenant","queue":["x"]}"#);
        assert!(typo.message.contains("unknown field `queue`"), "{typo:?}");
        let empty = refused(r#"{"type":"subscribe","id":"a","topic":"tenant","queues":[]}"#);
        assert!(empty.message.contains("at least one queue"), "{empty:?}");
        assert_eq!(
            refused(r#"{"type":"subscribe","id":"","topic":"tenant"}"#).code,
            "invalid_message"
        );
        let long = format!(
            r#"{{"type":"unsubscribe","id":"{}"}}"#,
            "x".repeat(MAX_ID_CHARS + 1)
        );
        let long = refused(&long);
        assert_eq!((long.code, long.id), ("invalid_message", None));
    }

    #[test]
    fn shorten_cuts_at_a_character_boundary() {
        assert_eq!(shorten("abc", 3), "abc");
        assert_eq!(shorten("ééééé", 2), "éé…");
    }

    #[test]
    fn messages_carry_their_type() {
        assert_eq!(ServerMessage::Pong.to_text(), r#"{"type":"pong"}"#);
        let error = ServerMessage::Error {
            id: None,
            code: "unknown_subscription",
            message: "no",
        };
        assert_eq!(
            error.to_text(),
            r#"{"type":"error","id":null,"code":"unknown_subscription","message":"no"}"#
        );
        let delta = ServerMessage::Delta {
            id: "w",
            seq: 2,
            as_of: None,
            queues: Some(Changes {
                upsert: Vec::new(),
                remove: vec!["sales"],
            }),
            agents: None,
            alerts: None,
        };
        assert_eq!(
            delta.to_text(),
            r#"{"type":"delta","id":"w","seq":2,"as_of":null,"queues":{"upsert":[],"remove":["sales"]}}"#
        );
    }
}
