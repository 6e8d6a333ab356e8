//! WhatsApp Cloud API webhooks (`object: whatsapp_business_account`) as Promptly's events.
//!
//! - `messages` changes: each customer message is a customer `message.created` (media as
//!   their caption or `[image]`, buttons and list replies as their title); reactions are
//!   not messages; delivery and read receipts (`statuses`) are not events.
//! - `smb_message_echoes` changes: what the business sent from WhatsApp's own app is an
//!   agent message (it stops the clock).
//! - The conversation is `wa:<phone_number_id>:<customer's wa_id>`, opened by a
//!   `conversation.created` (direct, the customer's name and number) whose id is the
//!   conversation's, so a redelivery or a second message does not open it again. Event ids
//!   are WhatsApp's message ids; times are its timestamps (Unix seconds).

use super::{Mapped, PlatformMessage};
use crate::limits::{CONTACT_TEXT_LEN, MESSAGE_TEXT_LEN};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::collections::HashMap;

/// The conversation of customer `wa_id` (any format: only its digits count) on number
/// `phone_number_id`.
pub fn conversation_id(phone_number_id: &str, wa_id: &str) -> String {
    let digits: String = wa_id.chars().filter(char::is_ascii_digit).collect();
    super::Address::direct(super::ChannelKind::Whatsapp, phone_number_id, &digits).id()
}

fn text_of(m: &Value) -> Option<String> {
    let kind = m["type"].as_str().unwrap_or("unknown");
    if kind == "reaction" {
        return None;
    }
    let s = |v: &Value| v.as_str().map(str::to_string);
    match kind {
        "text" => s(&m["text"]["body"]),
        "interactive" => s(&m["interactive"]["button_reply"]["title"])
            .or_else(|| s(&m["interactive"]["list_reply"]["title"])),
        "button" => s(&m["button"]["text"]),
        "image" | "video" | "document" | "audio" | "sticker" => {
            s(&m[kind]["caption"]).filter(|c| !c.trim().is_empty())
        }
        _ => None,
    }
    .or_else(|| Some(format!("[{kind}]")))
    .map(|t| t.chars().take(MESSAGE_TEXT_LEN).collect())
}

fn instant(m: &Value) -> Option<DateTime<Utc>> {
    let secs: i64 = match &m["timestamp"] {
        Value::String(t) => t.parse().ok()?,
        Value::Number(n) => n.as_i64()?,
        _ => return None,
    };
    DateTime::from_timestamp(secs, 0)
}

/// A `statuses[]` item as a receipt (`sent` says nothing new: the send's answer did).
fn receipt(status: &Value) -> Option<super::Receipt> {
    let state = super::ReceiptStatus::parse(status["status"].as_str()?)?;
    let error = &status["errors"][0];
    let words = error["message"]
        .as_str()
        .or_else(|| error["title"].as_str());
    let code = error["code"].as_i64();
    let details = error["error_data"]["details"].as_str();
    let error = words.map(|w| {
        let code = code.map(|c| format!(" ({c})")).unwrap_or_default();
        let details = details.map(|d| format!(": {d}")).unwrap_or_default();
        format!("{w}{code}{details}")
    });
    Some(super::Receipt {
        id: status["id"].as_str()?.to_string(),
        status: state,
        at: instant(status)?,
        error,
        code,
    })
}

/// The events of one webhook for the number `phone_number_id`; `Err` when the body is not a
/// WhatsApp webhook at all. Parts for another number, and items that cannot be read, are
/// left out and said in `skipped`.
pub fn events(payload: &Value, phone_number_id: &str) -> Result<Mapped, String> {
    if payload["object"] != "whatsapp_business_account" {
        return Err("not a WhatsApp Business Account webhook (object)".into());
    }
    let Some(entries) = payload["entry"].as_array() else {
        return Err("not a WhatsApp Business Account webhook (entry)".into());
    };
    let mut out = Mapped::default();
    for change in entries
        .iter()
        .filter_map(|e| e["changes"].as_array())
        .flatten()
    {
        let value = &change["value"];
        let number = value["metadata"]["phone_number_id"].as_str().unwrap_or("");
        if number != phone_number_id {
            out.skipped
                .push(format!("a change for another number ({number:?})"));
            continue;
        }
        let names: HashMap<&str, &str> = value["contacts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| Some((c["wa_id"].as_str()?, c["profile"]["name"].as_str()?)))
            .collect();
        for status in value["statuses"].as_array().into_iter().flatten() {
            if let Some(r) = receipt(status) {
                out.receipts.push(r);
            }
        }
        let (items, customer) = match change["field"].as_str() {
            Some("messages") => (&value["messages"], true),
            Some("smb_message_echoes") => (&value["message_echoes"], false),
            _ => continue,
        };
        for m in items.as_array().into_iter().flatten() {
            let wa_id = if customer { &m["from"] } else { &m["to"] };
            let (Some(wa_id), Some(id), Some(at)) = (wa_id.as_str(), m["id"].as_str(), instant(m))
            else {
                out.skipped
                    .push("a message without its sender, id or timestamp".into());
                continue;
            };
            let Some(text) = text_of(m) else {
                continue; // a reaction
            };
            let conversation = conversation_id(phone_number_id, wa_id);
            let mut contact = json!({"handle": format!("+{}", wa_id.trim_start_matches('+'))});
            if let Some(name) = names.get(wa_id) {
                contact["name"] = json!(name.chars().take(CONTACT_TEXT_LEN).collect::<String>());
            }
            out.push_message(PlatformMessage {
                conversation: &conversation,
                channel: "whatsapp",
                contact: Some(contact),
                id,
                at,
                customer,
                public: false,
                text,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::ReceiptStatus;
    use crate::conversation::{fold, EventBody};
    use crate::timeline::Author;

    fn example(name: &str) -> Value {
        let path = format!(
            "{}/tests/fixtures/channels/whatsapp/{name}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    }

    const NUMBER: &str = "106540352242922";
    const ANA: &str = "wa:106540352242922:5511987654321";

    #[test]
    fn a_customer_message_opens_the_conversation_with_the_contact() {
        let m = events(&example("customer_message_text"), NUMBER).unwrap();
        assert!(m.skipped.is_empty(), "{:?}", m.skipped);
        assert_eq!(m.events.len(), 2);
        assert_eq!(m.events[0].id, format!("{ANA}:created"));
        assert_eq!(
            m.events[1].id,
            "wamid.HBgNNTUxMTk4NzY1NDMyMRUCABIYFDNBNEE2NTk5QUVFMDM4MTAxNDRGAA=="
        );
        assert_eq!(m.events[1].at.timestamp(), 1_749_416_383);
        let (summary, _) = fold(&m.events).unwrap();
        assert_eq!(summary.channel, crate::conversation::Channel::Whatsapp);
        assert_eq!(summary.contact.name.as_deref(), Some("Ana Souza"));
        assert_eq!(summary.contact.handle.as_deref(), Some("+5511987654321"));
        assert_eq!(
            summary.last_message.as_deref(),
            Some("Hi, order #4471 still hasn't arrived")
        );
        assert_eq!(summary.last_author, Some(Author::Customer));
    }

    #[test]
    fn media_echoes_reactions_and_receipts() {
        let image = events(&example("customer_message_image"), NUMBER).unwrap();
        assert!(matches!(&image.events[1].body,
            EventBody::Message { text, .. } if text == "This is the box I received"));
        let echo = events(&example("echo_smb_message_echoes"), NUMBER).unwrap();
        assert_eq!(
            echo.events[1].conversation, ANA,
            "keyed by the customer it went to"
        );
        assert!(matches!(
            &echo.events[1].body,
            EventBody::Message {
                author: Author::Agent,
                private: false,
                ..
            }
        ));
        let reaction = events(&example("customer_message_reaction"), NUMBER).unwrap();
        assert!(reaction.events.is_empty(), "a reaction is no reply");
        for (receipt, status) in [
            ("status_delivered", ReceiptStatus::Delivered),
            ("status_read", ReceiptStatus::Read),
            ("status_failed", ReceiptStatus::Failed),
        ] {
            let m = events(&example(receipt), NUMBER).unwrap();
            assert!(m.events.is_empty(), "a receipt is no message");
            assert_eq!(m.receipts.len(), 1);
            assert_eq!(m.receipts[0].status, status);
            assert!(m.receipts[0].id.starts_with("wamid."));
        }
        let failed = &events(&example("status_failed"), NUMBER).unwrap().receipts[0];
        assert_eq!(failed.code, Some(crate::channels::OUTSIDE_WINDOW));
        assert_eq!(failed.at.timestamp(), 1_749_503_000);
        assert!(failed
            .error
            .as_deref()
            .unwrap()
            .starts_with("Re-engagement message (131047): Message failed"));
        let button = events(&example("customer_message_interactive"), NUMBER).unwrap();
        assert!(
            matches!(&button.events[1].body, EventBody::Message { text, .. } if !text.starts_with('['))
        );
    }

    #[test]
    fn other_numbers_and_other_bodies() {
        let m = events(&example("customer_message_text"), "999").unwrap();
        assert!(m.events.is_empty());
        assert_eq!(m.skipped.len(), 1);
        assert!(events(&json!({"object": "page", "entry": []}), NUMBER).is_err());
        assert!(events(&json!([1, 2]), NUMBER).is_err());
        assert_eq!(
            conversation_id(NUMBER, "+55 11 98765-4321"),
            ANA,
            "echoes name the number as sent"
        );
    }
}
