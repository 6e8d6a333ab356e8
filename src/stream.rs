//! Events that the server pushes to browsers over `/api/v1/stream` (server-sent events).

use crate::conversation::ConversationView;
use crate::limits::PREVIEW_LEN;
use serde::{Deserialize, Serialize};

/// One message on the live stream. The SSE `event:` name is [`StreamEvent::name`]; the
/// `data:` line is this value as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamEvent {
    /// Sent once when a stream opens, so the browser knows it is live. `seq`: this stream
    /// delivers every change numbered above it (the resumed `Last-Event-ID`, or the latest
    /// change when starting fresh or when the kept changes no longer reach back that far):
    /// a page whose data reflects less than `seq` has missed changes and reloads.
    Hello {
        #[schema(format = DateTime)]
        server_time: String,
        #[serde(default)]
        seq: u64,
    },
    /// Sent periodically so proxies keep the connection and clients notice a dead one.
    Heartbeat {
        #[schema(format = DateTime)]
        server_time: String,
    },
    /// A conversation was created or changed: its Promptly id, the sender's id and its SLA.
    Conversation {
        #[schema(value_type = ConversationView)]
        conversation: Box<ConversationView>,
    },
}

impl StreamEvent {
    /// The event for a changed conversation. Its last message travels as a preview of at
    /// most [`PREVIEW_LEN`] characters (and `…`): the stream keeps thousands of recent
    /// events for clients that resume, and the queue shows no more.
    pub fn conversation(mut view: ConversationView) -> Self {
        if let Some(text) = view.summary.last_message.as_mut() {
            if let Some((cut, _)) = text.char_indices().nth(PREVIEW_LEN) {
                text.truncate(cut);
                text.push('…');
            }
        }
        StreamEvent::Conversation {
            conversation: Box::new(view),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            StreamEvent::Hello { .. } => "hello",
            StreamEvent::Heartbeat { .. } => "heartbeat",
            StreamEvent::Conversation { .. } => "conversation",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialise_with_their_type() {
        let e = StreamEvent::Heartbeat {
            server_time: "2026-11-24T10:00:00Z".into(),
        };
        assert_eq!(e.name(), "heartbeat");
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"type":"heartbeat","server_time":"2026-11-24T10:00:00Z"}"#
        );
    }
}
