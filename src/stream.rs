//! Events that the server pushes to browsers over `/api/v1/stream` (server-sent events).

use crate::conversation::ConversationView;
use crate::limits::PREVIEW_LEN;
use crate::notify::NotificationView;
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
    /// A notification for the user whose stream this is (each stream carries only its
    /// user's; unnumbered, and not sent again to a resuming stream).
    Notification {
        user_id: i64,
        #[schema(value_type = NotificationView)]
        notification: Box<NotificationView>,
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
            StreamEvent::Notification { .. } => Self::NOTIFICATION,
        }
    }

    /// The SSE event name of a notification.
    pub const NOTIFICATION: &'static str = "notification";
}

/// Change numbers of one server run: its epoch (taken from the database at start) in the
/// high 32 bits, its count in the low ones.
pub const EPOCH_SHIFT: u32 = 32;

/// What a page does with a stream's `hello` (`seq`) when its data reflects the changes up
/// to `seen` (`None`: nothing loaded yet): the number its data reflects from then on, and
/// whether it must reload (it has missed changes).
///
/// - `seq` above `seen` in the same run: the stream starts after changes the page has not
///   seen; it reloads.
/// - `seq` of another server run (a restarted server, or another server of the cluster
///   behind a load balancer): the numbers do not compare, the page reloads and counts from
///   `seq` (keeping a higher number of the other run would ignore every change of this one).
/// - else (the same run, at or below what the page reflects): nothing was missed.
pub fn on_hello(seen: Option<u64>, seq: u64) -> (Option<u64>, bool) {
    match seen {
        None => (Some(seq), false),
        Some(x) if x >> EPOCH_SHIFT != seq >> EPOCH_SHIFT => (Some(seq), true),
        Some(x) => (Some(x.max(seq)), x < seq),
    }
}

/// The number a page's data reflects after it loaded data reflecting the changes up to
/// `seq` (the server's latest when it answered). Numbers of another server run than the
/// stream's do not compare: the stream's stays (the data was loaded after its `hello`, so
/// the changes the stream brings from then on are all still to apply).
pub fn on_loaded(seen: Option<u64>, seq: u64) -> Option<u64> {
    match seen {
        Some(x) if x >> EPOCH_SHIFT != seq >> EPOCH_SHIFT => Some(x),
        Some(x) => Some(x.max(seq)),
        None => Some(seq),
    }
}

#[cfg(test)]
mod tests {
    use super::{on_hello, on_loaded};

    #[test]
    fn loaded_data_moves_the_number_only_in_the_streams_run() {
        let run = |epoch: u64, n: u64| (epoch << super::EPOCH_SHIFT) + n;
        assert_eq!(on_loaded(None, run(3, 9)), Some(run(3, 9)));
        assert_eq!(on_loaded(Some(run(3, 9)), run(3, 12)), Some(run(3, 12)));
        assert_eq!(on_loaded(Some(run(3, 12)), run(3, 9)), Some(run(3, 12)));
        // Loaded from another server than the stream's: its number says nothing here.
        assert_eq!(on_loaded(Some(run(3, 12)), run(5, 1)), Some(run(3, 12)));
        assert_eq!(on_loaded(Some(run(5, 1)), run(3, 12)), Some(run(5, 1)));
    }

    #[test]
    fn a_hello_tells_a_page_whether_it_missed_changes() {
        let run = |epoch: u64, n: u64| (epoch << super::EPOCH_SHIFT) + n;
        assert_eq!(on_hello(None, run(3, 9)), (Some(run(3, 9)), false));
        assert_eq!(
            on_hello(Some(run(3, 9)), run(3, 9)),
            (Some(run(3, 9)), false)
        );
        assert_eq!(
            on_hello(Some(run(3, 9)), run(3, 12)),
            (Some(run(3, 12)), true)
        );
        // Data loaded after the last change received: the stream resumes below it.
        assert_eq!(
            on_hello(Some(run(3, 12)), run(3, 9)),
            (Some(run(3, 12)), false)
        );
        // Another run, numbered above or below: reload and count from its number.
        assert_eq!(
            on_hello(Some(run(3, 12)), run(4, 2)),
            (Some(run(4, 2)), true)
        );
        assert_eq!(
            on_hello(Some(run(4, 2)), run(3, 12)),
            (Some(run(3, 12)), true)
        );
    }

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
