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

use super::{Mapped, PlatformMessage};
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

    fn kind(self) -> super::ChannelKind {
        match self {
            Platform::Messenger => super::ChannelKind::Messenger,
            Platform::Instagram => super::ChannelKind::Instagram,
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
    super::Address::direct(platform.kind(), account, other).id()
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
        if platform == Platform::Instagram {
            comments(entry, account, &mut out);
        }
        let items = ["messaging", "standby"]
            .into_iter()
            .filter_map(|k| entry[k].as_array())
            .flatten();
        for item in items {
            let message = &item["message"];
            if !message.is_object() {
                // A delivery, a read; else a reaction, a postback.
                receipts(platform, account, item, &mut out);
                continue;
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
            out.push_message(PlatformMessage {
                conversation: &conversation,
                channel: platform.channel(),
                contact: None,
                id: mid,
                at,
                customer: !echo,
                public: false,
                text,
            });
        }
    }
    Ok(out)
}

/// Messenger's `delivery.mids[]` and Instagram's `read.mid` as receipts; a watermark without
/// ids (Messenger's `read`, a `delivery` without `mids`) covers everything the business
/// sent in that conversation until then.
fn receipts(platform: Platform, account: &str, item: &Value, out: &mut Mapped) {
    for (key, status) in [
        ("delivery", super::ReceiptStatus::Delivered),
        ("read", super::ReceiptStatus::Read),
    ] {
        let r = &item[key];
        let up_to = r["watermark"]
            .as_i64()
            .and_then(DateTime::<Utc>::from_timestamp_millis);
        if let (Some(up_to), Some(customer), None, None) = (
            up_to,
            item["sender"]["id"].as_str(),
            r.get("mids"),
            r.get("mid"),
        ) {
            out.watermarks.push(super::Watermark {
                conversation: conversation_id(platform, account, customer),
                status,
                up_to,
            });
        }
    }
    let at = item["timestamp"]
        .as_i64()
        .or_else(|| item["delivery"]["watermark"].as_i64())
        .and_then(DateTime::<Utc>::from_timestamp_millis);
    let Some(at) = at else { return };
    let mut push = |id: &str, status| {
        out.receipts.push(super::Receipt {
            id: id.to_string(),
            status,
            at,
            error: None,
            code: None,
        })
    };
    for mid in item["delivery"]["mids"].as_array().into_iter().flatten() {
        if let Some(mid) = mid.as_str() {
            push(mid, super::ReceiptStatus::Delivered);
        }
    }
    if let Some(mid) = item["read"]["mid"].as_str() {
        push(mid, super::ReceiptStatus::Read);
    }
}

/// Instagram comments (`changes[]` with `field: comments`) on the account's media: public
/// conversations, one per root comment (`ig:<account>:comment:<root>`; a reply's root is
/// its `parent_id`). The account's own replies are agent messages. Times are the entry's
/// (Unix seconds).
fn comments(entry: &Value, account: &str, out: &mut Mapped) {
    let at = entry["time"].as_i64().and_then(|t| {
        // Seconds, as Meta documents for `changes`; milliseconds read as such.
        if t > 100_000_000_000 {
            DateTime::<Utc>::from_timestamp_millis(t)
        } else {
            DateTime::<Utc>::from_timestamp(t, 0)
        }
    });
    let changes = entry["changes"].as_array().into_iter().flatten();
    for change in changes.filter(|c| c["field"] == "comments") {
        let v = &change["value"];
        let (Some(id), Some(from), Some(at)) = (v["id"].as_str(), v["from"]["id"].as_str(), at)
        else {
            out.skipped
                .push("a comment without its id, author or time".into());
            continue;
        };
        let root = v["parent_id"].as_str().unwrap_or(id);
        let text: String = v["text"]
            .as_str()
            .unwrap_or("[comment]")
            .chars()
            .take(MESSAGE_TEXT_LEN)
            .collect();
        let customer = from != account;
        let contact = v["from"]["username"]
            .as_str()
            .filter(|_| customer)
            .map(|u| serde_json::json!({"handle": format!("@{u}")}));
        let conversation = super::Address {
            kind: super::ChannelKind::Instagram,
            account: account.to_string(),
            thread: super::Thread::Comment(root.to_string()),
        }
        .id();
        out.push_message(PlatformMessage {
            conversation: &conversation,
            channel: "instagram",
            contact,
            id,
            at,
            customer,
            public: true,
            text,
        });
    }
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
        let read = events(Platform::Messenger, &example("messenger/read"), PAGE).unwrap();
        assert_eq!(
            read.watermarks,
            [crate::channels::Watermark {
                conversation: "fb:104523987654321:6712345678901234".into(),
                status: crate::channels::ReceiptStatus::Read,
                up_to: DateTime::<Utc>::from_timestamp_millis(1_749_416_456_100).unwrap(),
            }]
        );
        let delivered = events(Platform::Messenger, &example("messenger/delivery"), PAGE).unwrap();
        assert_eq!(delivered.receipts.len(), 1);
        assert_eq!(
            delivered.receipts[0].status,
            crate::channels::ReceiptStatus::Delivered
        );
        assert_eq!(
            delivered.receipts[0].at.timestamp_millis(),
            1_749_416_456_100
        );
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
        let seen = events(Platform::Instagram, &example("instagram/seen"), IG).unwrap();
        assert!(seen.events.is_empty());
        assert_eq!(
            seen.receipts[0].status,
            crate::channels::ReceiptStatus::Read
        );
        assert!(seen.receipts[0].id.starts_with("aWdf"));
    }

    #[test]
    fn instagram_comments_are_public_threads_under_their_root() {
        const IG: &str = "17841405822304914";
        // Meta's documented `comments` change, a reply to it, and the account's own reply.
        let comment = |id: &str, parent: Option<&str>, from: &str, user: &str, text: &str| {
            let mut v = serde_json::json!({"from": {"id": from, "username": user},
                "media": {"id": "123123123", "media_product_type": "FEED"}, "id": id, "text": text});
            if let Some(p) = parent {
                v["parent_id"] = serde_json::json!(p);
            }
            serde_json::json!({"field": "comments", "value": v})
        };
        let payload = serde_json::json!({"object": "instagram", "entry": [{"id": IG, "time": 1_520_383_571,
        "changes": [
            comment("17865799348089039", None, "232323232", "test", "Where is my order?"),
            comment("17865799348089040", Some("17865799348089039"), IG, "acme", "Checking now!"),
            comment("17865799348089041", Some("17865799348089039"), "232323232", "test", "Thanks"),
        ]}]});
        let m = events(Platform::Instagram, &payload, IG).unwrap();
        let thread = "ig:17841405822304914:comment:17865799348089039";
        assert!(m.events.iter().all(|e| e.conversation == thread));
        let (summary, _) = fold(&m.events).unwrap();
        assert_eq!(summary.visibility, crate::conversation::Visibility::Public);
        assert_eq!(summary.contact.handle.as_deref(), Some("@test"));
        assert_eq!(summary.created_at.timestamp(), 1_520_383_571);
        let authors: Vec<Author> = m
            .events
            .iter()
            .filter_map(|e| match &e.body {
                EventBody::Message { author, .. } => Some(*author),
                _ => None,
            })
            .collect();
        assert_eq!(authors, [Author::Customer, Author::Agent, Author::Customer]);
    }
}
