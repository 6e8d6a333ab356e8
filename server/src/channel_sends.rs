//! Sends through channel accounts: what an agent's reply becomes for the platform (the URL
//! and body it documents), which account a conversation's replies go through, and what the
//! platform's answer means: taken (with its id for the message), try again later (network
//! errors, 5xx, 429 with its `Retry-After`), or refused for good (any other 4xx, with the
//! platform's words).

use crate::egress::{Answer, Egress};
use crate::store::{ChannelAccountRecord, ConversationRow, NewOutbox, OutboxItem, OutboxOutcome};
use chrono::{DateTime, Duration, Utc};
use promptly::channels::{source, ChannelKind};
use serde_json::{json, Value};

/// The delivery kind of a send: a message to a channel, as a rule's system message to a
/// channel's webhook is (the account it goes through tells them apart).
pub const KIND: &str = "message";

/// `(phone_number_id, wa_id)` of a WhatsApp conversation id (`wa:<number>:<wa_id>`).
fn whatsapp_parts(external_id: &str) -> Option<(&str, &str)> {
    let rest = external_id.strip_prefix("wa:")?;
    let (number, customer) = rest.split_once(':')?;
    (!number.is_empty() && !customer.is_empty() && !customer.contains(':'))
        .then_some((number, customer))
}

fn setting<'a>(a: &'a ChannelAccountRecord, name: &str) -> &'a str {
    a.definition.settings.get(name).map_or("", String::as_str)
}

/// The account that `conversation`'s replies go through, among `accounts`: the WhatsApp
/// account of the number the customer wrote to. `None` for conversations no account
/// brought (the events API's), or whose account is gone.
pub fn account_for<'a>(
    accounts: &'a [ChannelAccountRecord],
    conversation: &ConversationRow,
) -> Option<&'a ChannelAccountRecord> {
    if conversation.source != source(ChannelKind::Whatsapp) {
        return None;
    }
    let (number, _) = whatsapp_parts(&conversation.external_id)?;
    accounts
        .iter()
        .find(|a| a.kind == ChannelKind::Whatsapp && setting(a, "phone_number_id") == number)
}

/// The send of `text` to `conversation`'s customer through `account`, as the platform
/// documents it (WhatsApp: `POST {api_base}/{phone_number_id}/messages`).
pub fn send_of(
    account: &ChannelAccountRecord,
    conversation: &ConversationRow,
    text: &str,
) -> Option<NewOutbox> {
    let (number, customer) = whatsapp_parts(&conversation.external_id)?;
    if account.kind != ChannelKind::Whatsapp || setting(account, "phone_number_id") != number {
        return None;
    }
    let url = format!(
        "{}/{number}/messages",
        setting(account, "api_base").trim_end_matches('/')
    );
    let body = json!({
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": customer,
        "type": "text",
        "text": {"body": text},
    });
    Some(NewOutbox {
        kind: KIND,
        rule_id: None,
        account_id: Some(account.id),
        receiver: crate::outbox::receiver_of(&url),
        url,
        secret: String::new(),
        body: body.to_string(),
    })
}

/// The platform's words for a refusal: WhatsApp's `{"error": {"code", "message",
/// "error_data": {"details"}}}`, else the start of the body.
fn platform_error(kind: ChannelKind, answer: &Answer) -> String {
    let parsed: Option<Value> = serde_json::from_slice(&answer.body).ok();
    let e = parsed.as_ref().map(|v| &v["error"]);
    let words = e.and_then(|e| {
        let message = e["message"].as_str()?;
        let code = e["code"]
            .as_i64()
            .map(|c| format!(" ({c})"))
            .unwrap_or_default();
        let details = e["error_data"]["details"]
            .as_str()
            .map(|d| format!(": {d}"))
            .unwrap_or_default();
        Some(format!("{message}{code}{details}"))
    });
    let words = words.unwrap_or_else(|| {
        String::from_utf8_lossy(&answer.body)
            .chars()
            .filter(|c| !c.is_control())
            .take(300)
            .collect()
    });
    format!("{} answered {}: {words}", kind.label(), answer.status)
}

/// One attempt of send `item` through `account` (`None`: the account was removed).
pub async fn attempt(
    egress: &Egress,
    item: &OutboxItem,
    account: Option<&ChannelAccountRecord>,
    now: DateTime<Utc>,
) -> OutboxOutcome {
    let Some(account) = account else {
        return OutboxOutcome::Failed {
            error: "the channel account was removed".into(),
            retry_at: None,
        };
    };
    let token = match account.kind {
        ChannelKind::Messenger => setting(account, "page_access_token"),
        _ => setting(account, "access_token"),
    };
    let headers = [("authorization", format!("Bearer {token}"))];
    let answer = match egress.call(&item.url, &headers, item.body.clone()).await {
        Ok(a) => a,
        Err(e) => return crate::outbox::failed(item, e.0, now),
    };
    match answer.status {
        200..=299 => {
            let parsed: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
            match parsed["messages"][0]["id"].as_str() {
                Some(id) => OutboxOutcome::Sent { id: id.to_string() },
                None => OutboxOutcome::Delivered,
            }
        }
        429 | 500..=599 => {
            let error = platform_error(account.kind, &answer);
            match crate::outbox::failed(item, error, now) {
                OutboxOutcome::Failed {
                    error,
                    retry_at: Some(at),
                } => {
                    // The platform's own wait, when it says one.
                    let asked = answer
                        .retry_after
                        .map(|s| now + Duration::seconds(s.min(86_400) as i64));
                    OutboxOutcome::Failed {
                        error,
                        retry_at: Some(asked.map_or(at, |asked| asked.max(at))),
                    }
                }
                given_up => given_up,
            }
        }
        _ => OutboxOutcome::Failed {
            error: platform_error(account.kind, &answer),
            retry_at: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whatsapp_conversation_ids_name_the_number_and_the_customer() {
        assert_eq!(
            whatsapp_parts("wa:106540352242922:5511987654321"),
            Some(("106540352242922", "5511987654321"))
        );
        for other in ["wa::1", "wa:1:", "fb:1:2", "wa:1:2:3", "c1"] {
            assert_eq!(whatsapp_parts(other), None, "{other}");
        }
    }

    #[test]
    fn refusals_are_told_in_the_platforms_words() {
        let answer = Answer {
            status: 400,
            retry_after: None,
            body: br#"{"error":{"message":"Re-engagement message","code":131047,"error_data":{"details":"More than 24 hours have passed."}}}"#.to_vec(),
        };
        assert_eq!(
            platform_error(ChannelKind::Whatsapp, &answer),
            "WhatsApp answered 400: Re-engagement message (131047): More than 24 hours have passed."
        );
        let plain = Answer {
            status: 502,
            retry_after: None,
            body: b"Bad gateway\n".to_vec(),
        };
        assert_eq!(
            platform_error(ChannelKind::Whatsapp, &plain),
            "WhatsApp answered 502: Bad gateway"
        );
    }
}
