//! X Account Activity API webhooks (`for_user_id` and its event lists) as Promptly's events.
//!
//! - `direct_message_events[]` (`message_create`): direct conversations
//!   `x:<user_id>:dm:<other user id>`. From anyone but the account: a customer message;
//!   from the account (sent from X's own apps, or Promptly's own send, which the webhook
//!   drops by its id): an agent message.
//! - `tweet_create_events[]`: public conversations `x:<user_id>:tweet:<root tweet id>`. A
//!   tweet that replies to a tweet Promptly knows (`threads`: tweet id → its conversation,
//!   looked up by the caller, or earlier in the same webhook) joins that conversation;
//!   else it starts one rooted at itself. The account's own tweets are agent messages, and
//!   only where they answer a known conversation.
//! - Read events, likes, follows and the rest are not messages.
//!
//! Event ids are X's ids; times are its millisecond timestamps. Contacts are the `users{}`
//! entry's (or the tweet's `user`) name and `@screen_name`.

use super::{Address, ChannelKind, Mapped, PlatformMessage, Thread};
use crate::limits::{CONTACT_TEXT_LEN, MESSAGE_TEXT_LEN};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::collections::HashMap;

fn millis(v: &Value) -> Option<DateTime<Utc>> {
    let ms = match v {
        Value::String(s) => s.parse().ok()?,
        Value::Number(n) => n.as_i64()?,
        _ => return None,
    };
    DateTime::from_timestamp_millis(ms)
}

fn contact(user: &Value) -> Option<Value> {
    let cut = |s: &str| s.chars().take(CONTACT_TEXT_LEN).collect::<String>();
    let mut c = serde_json::Map::new();
    if let Some(name) = user["name"].as_str() {
        c.insert("name".into(), json!(cut(name)));
    }
    if let Some(handle) = user["screen_name"].as_str() {
        c.insert("handle".into(), json!(cut(&format!("@{handle}"))));
    }
    (!c.is_empty()).then_some(Value::Object(c))
}

fn text(t: &str) -> String {
    let t = if t.trim().is_empty() { "[media]" } else { t };
    t.chars().take(MESSAGE_TEXT_LEN).collect()
}

/// The tweets a webhook's tweets reply to: the caller looks up which conversations hold
/// them (see [`events`]).
pub fn replied_to(payload: &Value) -> Vec<String> {
    payload["tweet_create_events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["in_reply_to_status_id_str"].as_str())
        .map(str::to_string)
        .collect()
}

/// The events of one webhook for the account `user_id`; `Err` when the body is not an X
/// Account Activity webhook. `threads` maps tweet ids Promptly knows to their conversation
/// ids.
pub fn events(
    payload: &Value,
    user_id: &str,
    threads: &HashMap<String, String>,
) -> Result<Mapped, String> {
    let Some(for_user) = payload["for_user_id"].as_str() else {
        return Err("not an X Account Activity webhook (for_user_id)".into());
    };
    let mut out = Mapped::default();
    if for_user != user_id {
        out.skipped
            .push(format!("a webhook for another account ({for_user:?})"));
        return Ok(out);
    }
    let users = &payload["users"];
    let channel = ChannelKind::X.channel().as_str();
    for dm in payload["direct_message_events"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if dm["type"] != "message_create" {
            continue;
        }
        let create = &dm["message_create"];
        let (Some(id), Some(sender), Some(recipient), Some(at)) = (
            dm["id"].as_str(),
            create["sender_id"].as_str(),
            create["target"]["recipient_id"].as_str(),
            millis(&dm["created_timestamp"]),
        ) else {
            out.skipped
                .push("a direct message without its id, sender, recipient or time".into());
            continue;
        };
        let customer = sender != user_id;
        let other = if customer { sender } else { recipient };
        let conversation = Address::direct(ChannelKind::X, user_id, other).id();
        out.push_message(PlatformMessage {
            conversation: &conversation,
            channel,
            contact: contact(&users[other]),
            id,
            at,
            customer,
            public: false,
            text: text(create["message_data"]["text"].as_str().unwrap_or("")),
        });
    }
    for read in payload["direct_message_mark_read_events"]
        .as_array()
        .into_iter()
        .flatten()
    {
        // The customer read the conversation up to the account's message.
        let by_customer = read["sender_id"].as_str().is_some_and(|s| s != user_id);
        if let (true, Some(id), Some(at)) = (
            by_customer,
            read["last_read_event_id"].as_str(),
            millis(&read["created_timestamp"]),
        ) {
            out.receipts.push(super::Receipt {
                id: id.to_string(),
                status: super::ReceiptStatus::Read,
                at,
                error: None,
                code: None,
            });
        }
    }
    let mut threads = threads.clone();
    for tweet in payload["tweet_create_events"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let (Some(id), Some(author), Some(at)) = (
            tweet["id_str"].as_str(),
            tweet["user"]["id_str"].as_str(),
            millis(&tweet["timestamp_ms"]),
        ) else {
            out.skipped
                .push("a tweet without its id, author or time".into());
            continue;
        };
        let customer = author != user_id;
        let known = tweet["in_reply_to_status_id_str"]
            .as_str()
            .and_then(|parent| threads.get(parent))
            .cloned();
        let conversation = match known {
            Some(c) => c,
            None if customer => Address {
                kind: ChannelKind::X,
                account: user_id.to_string(),
                thread: Thread::Tweet(id.to_string()),
            }
            .id(),
            None => {
                out.skipped.push(format!(
                    "tweet {id}: the account's own, answering no conversation"
                ));
                continue;
            }
        };
        threads.insert(id.to_string(), conversation.clone());
        let full = tweet["extended_tweet"]["full_text"]
            .as_str()
            .or_else(|| tweet["text"].as_str())
            .unwrap_or("");
        out.push_message(PlatformMessage {
            conversation: &conversation,
            channel,
            contact: customer.then(|| contact(&tweet["user"])).flatten(),
            id,
            at,
            customer,
            public: true,
            text: text(full),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation::{fold, Channel, EventBody, Visibility};
    use crate::timeline::Author;

    const ACME: &str = "4337869213";

    fn example(path: &str) -> Value {
        let path = format!(
            "{}/tests/fixtures/channels/x_twitter/{path}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    }

    fn author(e: &crate::conversation::IncomingEvent) -> Option<Author> {
        match &e.body {
            EventBody::Message { author, .. } => Some(*author),
            _ => None,
        }
    }

    #[test]
    fn direct_messages_and_the_accounts_own_open_one_conversation() {
        let none = HashMap::new();
        let m = events(&example("dm_incoming"), ACME, &none).unwrap();
        assert_eq!(m.events.len(), 2);
        assert_eq!(m.events[1].conversation, "x:4337869213:dm:3001969357");
        assert_eq!(m.events[1].id, "1866430111183642625");
        assert_eq!(m.events[1].at.timestamp_millis(), 1_733_937_000_123);
        assert_eq!(author(&m.events[1]), Some(Author::Customer));
        let (summary, _) = fold(&m.events).unwrap();
        assert_eq!(summary.channel, Channel::Twitter);
        assert_eq!(summary.visibility, Visibility::Direct);
        assert_eq!(summary.contact.name.as_deref(), Some("Jo Kim"));
        assert_eq!(summary.contact.handle.as_deref(), Some("@jokim"));

        let echo = events(&example("dm_outgoing_echo"), ACME, &none).unwrap();
        assert_eq!(echo.events[1].conversation, m.events[1].conversation);
        assert_eq!(author(&echo.events[1]), Some(Author::Agent));

        let read = events(&example("dm_read"), ACME, &none).unwrap();
        assert!(read.events.is_empty(), "a read is no message");
        assert_eq!(read.receipts[0].id, "1866431559204503556");
        assert_eq!(
            read.receipts[0].status,
            crate::channels::ReceiptStatus::Read
        );
        let other = events(&example("dm_incoming"), "1", &none).unwrap();
        assert!(other.events.is_empty() && !other.skipped.is_empty());
        assert!(events(&json!({"object": "page"}), ACME, &none).is_err());
    }

    #[test]
    fn mentions_are_public_and_replies_join_the_tweet_they_answer() {
        let payload = example("mention_tweet_create");
        let m = events(&payload, ACME, &HashMap::new()).unwrap();
        let root = "x:4337869213:tweet:1866430999876543210";
        assert_eq!(m.events[1].conversation, root);
        let (summary, _) = fold(&m.events).unwrap();
        assert_eq!(summary.visibility, Visibility::Public);
        assert_eq!(summary.contact.handle.as_deref(), Some("@jokim"));

        // The account answers, then Jo answers the answer, in one webhook: one thread.
        let mut answer = payload["tweet_create_events"][0].clone();
        answer["id_str"] = json!("1866431000000000001");
        answer["user"] = json!({"id_str": ACME, "name": "Acme Help", "screen_name": "acme_help"});
        answer["in_reply_to_status_id_str"] = json!("1866430999876543210");
        answer["timestamp_ms"] = json!("1733937100000");
        let mut again = payload["tweet_create_events"][0].clone();
        again["id_str"] = json!("1866431000000000002");
        again["in_reply_to_status_id_str"] = json!("1866431000000000001");
        again["timestamp_ms"] = json!("1733937200000");
        let batch = json!({"for_user_id": ACME, "tweet_create_events": [answer, again]});
        let known = HashMap::from([("1866430999876543210".to_string(), root.to_string())]);
        let m = events(&batch, ACME, &known).unwrap();
        let messages: Vec<_> = m.events.iter().filter(|e| author(e).is_some()).collect();
        assert_eq!(messages.len(), 2);
        assert!(messages.iter().all(|e| e.conversation == root));
        assert_eq!(author(messages[0]), Some(Author::Agent));
        assert_eq!(author(messages[1]), Some(Author::Customer));
        assert_eq!(replied_to(&batch).len(), 2);

        // The account's own tweet that answers nothing Promptly knows is left out.
        let m = events(&batch, ACME, &HashMap::new()).unwrap();
        assert_eq!(m.skipped.len(), 1, "{:?}", m.skipped);
    }
}
