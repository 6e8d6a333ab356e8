//! Messenger (`object: page`) and Instagram (`object: instagram`) webhooks as Promptly's
//! events: both deliver `entry[].messaging[]` (and `standby[]` while another app owns the
//! thread), `entry.id` being the page or the Instagram account.
//!
//! - A `message` from the customer (`sender` is not the account) is a customer
//!   `message.created` (attachments as `[image]`, ...); with `is_echo` it is what the
//!   business sent, from Meta's own apps: an agent message that stops the clock.
//! - Reactions, deliveries and reads are not events.
//! - The conversation is `fb:<page_id>:<psid>` or `ig:<account_id>:<igsid>` (the other party
//!   is the recipient of an echo, else the sender), opened by a direct
//!   `conversation.created`; event ids are Meta's `mid`s; times are its timestamps (Unix
//!   milliseconds).

use super::{DirectMessage, Mapped};
use crate::limits::MESSAGE_TEXT_LEN;
use chrono::{DateTime, Utc};
use serde_json::Value;

/// Which of the two: its webhook's `object`, conversation prefix and channel word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Messenger,
    Instagram,
}

impl Platform {
    fn object(self) -> &'static str {
        match self {
            Platform::Messenger => "page",
            Platform::Instagram => "instagram",
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            Platform::Messenger => "fb",
            Platform::Instagram => "ig",
        }
    }

    fn channel(self) -> &'static str {
        match self {
            Platform::Messenger => "messenger",
            Platform::Instagram => "instagram",
        }
    }
}

/// The conversation of the customer `other` with the page or account `account`.
pub fn conversation_id(platform: Platform, account: &str, other: &str) -> String {
    format!("{}:{account}:{other}", platform.prefix())
}

fn text_of(message: &Value) -> Option<String> {
    if let Some(t) = message["text"].as_str().filter(|t| !t.trim().is_empty()) {
        return Some(t.chars().take(MESSAGE_TEXT_LEN).collect());
    }
    let kind = message["attachments"][0]["type"].as_str()?;
    Some(format!("[{kind}]"))
}

/// The events of one webhook for the page or account `account`; `Err` when the body is not
/// this platform's webhook. Entries for another page or account, and items that cannot be
/// read, are left out and said in `skipped`.
pub fn events(platform: Platform, payload: &Value, account: &str) -> Result<Mapped, String> {
    if payload["object"] != platform.object() {
        return Err(format!("not a {} webhook (object)", platform.channel()));
    }
    let Some(entries) = payload["entry"].as_array() else {
        return Err(format!("not a {} webhook (entry)", platform.channel()));
    };
    let mut out = Mapped::default();
    for entry in entries {
        let id = entry["id"].as_str().unwrap_or("");
        if id != account {
            out.skipped
                .push(format!("an entry for another account ({id:?})"));
            continue;
        }
        let items = ["messaging", "standby"]
            .into_iter()
            .filter_map(|k| entry[k].as_array())
            .flatten();
        for item in items {
            let message = &item["message"];
            if !message.is_object() {
                continue; // a delivery, a read, a reaction, a postback
            }
            let echo = message["is_echo"].as_bool().unwrap_or(false);
            let other = if echo {
                &item["recipient"]["id"]
            } else {
                &item["sender"]["id"]
            };
            let at = item["timestamp"]
                .as_i64()
                .and_then(DateTime::<Utc>::from_timestamp_millis);
            let (Some(other), Some(mid), Some(at)) = (other.as_str(), message["mid"].as_str(), at)
            else {
                out.skipped
                    .push("a message without its sender, mid or timestamp".into());
                continue;
            };
            let Some(text) = text_of(message) else {
                continue;
            };
            let conversation = conversation_id(platform, account, other);
            out.push_direct(DirectMessage {
                conversation: &conversation,
                channel: platform.channel(),
                contact: None,
                id: mid,
                at,
                customer: !echo,
                text,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation::{fold, Channel, EventBody};
    use crate::timeline::Author;

    fn example(path: &str) -> Value {
        let path = format!(
            "{}/tests/fixtures/channels/{path}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    }

    #[test]
    fn messenger_messages_and_echoes() {
        const PAGE: &str = "104523987654321";
        let m = events(
            Platform::Messenger,
            &example("messenger/customer_message_text"),
            PAGE,
        )
        .unwrap();
        assert_eq!(m.events.len(), 2);
        assert_eq!(
            m.events[1].conversation,
            "fb:104523987654321:6712345678901234"
        );
        assert_eq!(m.events[1].at.timestamp_millis(), 1_749_416_383_201);
        let (summary, _) = fold(&m.events).unwrap();
        assert_eq!(summary.channel, Channel::Messenger);
        assert_eq!(summary.last_author, Some(Author::Customer));
        let echo = events(
            Platform::Messenger,
            &example("messenger/echo_message"),
            PAGE,
        )
        .unwrap();
        assert_eq!(
            echo.events[1].conversation, m.events[1].conversation,
            "the customer's"
        );
        assert!(matches!(
            echo.events[1].body,
            EventBody::Message {
                author: Author::Agent,
                ..
            }
        ));
        for receipt in ["messenger/delivery", "messenger/read"] {
            let r = events(Platform::Messenger, &example(receipt), PAGE).unwrap();
            assert!(r.events.is_empty(), "{receipt}");
        }
        assert!(events(
            Platform::Messenger,
            &example("messenger/customer_message_text"),
            "1"
        )
        .unwrap()
        .events
        .is_empty());
        assert!(events(
            Platform::Instagram,
            &example("messenger/customer_message_text"),
            PAGE
        )
        .is_err());
    }

    #[test]
    fn instagram_messages_echoes_and_seen() {
        const IG: &str = "17841405822304914";
        let m = events(
            Platform::Instagram,
            &example("instagram/customer_message_text"),
            IG,
        )
        .unwrap();
        assert_eq!(
            m.events[1].conversation,
            "ig:17841405822304914:1234567890123456"
        );
        assert_eq!(fold(&m.events).unwrap().0.channel, Channel::Instagram);
        let echo = events(Platform::Instagram, &example("instagram/echo_message"), IG).unwrap();
        assert!(matches!(
            echo.events[1].body,
            EventBody::Message {
                author: Author::Agent,
                ..
            }
        ));
        assert_eq!(echo.events[1].conversation, m.events[1].conversation);
        assert!(events(Platform::Instagram, &example("instagram/seen"), IG)
            .unwrap()
            .events
            .is_empty());
    }
}
