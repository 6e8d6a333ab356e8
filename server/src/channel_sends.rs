//! Sends through channel accounts: what an agent's reply becomes for the platform (the URL
//! and body it documents), which account a conversation's replies go through, and what the
//! platform's answer means: taken (with its id for the message), try again later (network
//! errors, 5xx, 429 with its `Retry-After`), or refused for good (any other 4xx, with the
//! platform's words).

use crate::egress::{Answer, Egress};
use crate::store::{ChannelAccountRecord, ConversationRow, NewOutbox, OutboxItem, OutboxOutcome};
use chrono::{DateTime, Duration, Utc};
use promptly::channels::{source, Address, ChannelKind, Thread, OUTSIDE_WINDOW};
use serde_json::{json, Value};

/// The delivery kind of a send: a message to a channel, as a rule's system message to a
/// channel's webhook is (the account it goes through tells them apart).
pub const KIND: &str = "message";

fn setting<'a>(a: &'a ChannelAccountRecord, name: &str) -> &'a str {
    a.definition.settings.get(name).map_or("", String::as_str)
}

/// Where `conversation` lives on a platform, when a channel account brought it.
fn address_of(conversation: &ConversationRow) -> Option<Address> {
    let kind = ChannelKind::ALL
        .into_iter()
        .find(|k| conversation.source == source(*k))?;
    Address::parse(kind, &conversation.external_id)
}

/// The account that `conversation`'s replies go through, among `accounts`: the one of its
/// kind whose number, page or user the customer wrote to. `None` for conversations no
/// account brought (the events API's), or whose account is gone.
pub fn account_for<'a>(
    accounts: &'a [ChannelAccountRecord],
    conversation: &ConversationRow,
) -> Option<&'a ChannelAccountRecord> {
    let at = address_of(conversation)?;
    accounts
        .iter()
        .find(|a| a.kind == at.kind && setting(a, at.kind.account_setting()) == at.account)
}

/// The platform's request for `text` in `thread` of an account of `kind`: the path under
/// its API root and the body, as each platform documents them.
fn request_of(kind: ChannelKind, account: &str, thread: &Thread, text: &str) -> (String, Value) {
    match (kind, thread) {
        (ChannelKind::Whatsapp, Thread::Direct(to)) => (
            format!("/{account}/messages"),
            json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": to,
                   "type": "text", "text": {"body": text}}),
        ),
        (ChannelKind::Messenger, Thread::Direct(to)) => (
            format!("/{account}/messages"),
            json!({"recipient": {"id": to}, "messaging_type": "RESPONSE", "message": {"text": text}}),
        ),
        (ChannelKind::Instagram, Thread::Direct(to)) => (
            format!("/{account}/messages"),
            json!({"recipient": {"id": to}, "message": {"text": text}}),
        ),
        // A public reply under the root comment (Instagram threads one level deep).
        (_, Thread::Comment(comment)) => (format!("/{comment}/replies"), json!({"message": text})),
        (_, Thread::Tweet(tweet)) => (
            "/2/tweets".to_string(),
            json!({"text": text, "reply": {"in_reply_to_tweet_id": tweet}}),
        ),
        (_, Thread::Direct(to)) => (
            format!("/2/dm_conversations/with/{to}/messages"),
            json!({"text": text}),
        ),
    }
}

/// The send of `text` (the timeline's message `message_id`) to `conversation`'s customer
/// through `account`, as the platform documents it (see [`request_of`]); `None` when the
/// account did not bring it, or it is the account's test conversation.
pub fn send_of(
    account: &ChannelAccountRecord,
    conversation: &ConversationRow,
    message_id: &str,
    text: &str,
) -> Option<NewOutbox> {
    let at = address_of(conversation)?;
    if account.kind != at.kind || setting(account, at.kind.account_setting()) != at.account {
        return None;
    }
    // The test message's customer does not exist: replies to it stay in Promptly.
    if promptly::channels::is_test_thread(&conversation.external_id) {
        return None;
    }
    let (path, body) = request_of(at.kind, &at.account, &at.thread, text);
    let url = format!(
        "{}{path}",
        setting(account, "api_base").trim_end_matches('/')
    );
    Some(NewOutbox {
        kind: KIND,
        rule_id: None,
        account_id: Some(account.id),
        receiver: crate::outbox::receiver_of(&url),
        url,
        secret: String::new(),
        body: body.to_string(),
        message_id: Some(message_id.to_string()),
    })
}

/// The account's template (name, language) for messages outside WhatsApp's 24-hour window,
/// when it has one.
fn template_of(account: &ChannelAccountRecord) -> Option<(&str, &str)> {
    let name = setting(account, "template");
    (account.kind == ChannelKind::Whatsapp && !name.is_empty())
        .then(|| (name, setting(account, "template_language")))
}

/// What goes instead of a free-form WhatsApp message the platform refused for the 24-hour
/// window: the same request with the account's template as its body (`None` without one).
fn template_instead(account: &ChannelAccountRecord, body: &str) -> Option<(String, String)> {
    let (name, language) = template_of(account)?;
    let sent: Value = serde_json::from_str(body).ok()?;
    let to = sent["to"].as_str()?;
    let body = json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": to,
                      "type": "template",
                      "template": {"name": name, "language": {"code": language}}});
    Some((
        body.to_string(),
        format!("Outside WhatsApp's 24-hour window: the template “{name}” went instead."),
    ))
}

/// The template send for a message WhatsApp failed later (a `statuses[]` failure with
/// 131047), as a new send of the same message; `None` without a template.
pub fn template_send(account: &ChannelAccountRecord, failed: &OutboxItem) -> Option<NewOutbox> {
    let (body, _) = template_instead(account, &failed.body)?;
    Some(NewOutbox {
        kind: KIND,
        rule_id: failed.rule_id,
        account_id: Some(account.id),
        url: failed.url.clone(),
        receiver: failed.receiver.clone(),
        secret: String::new(),
        body,
        message_id: failed.message_id.clone(),
    })
}

/// How send `item` is doing, as its message on the timeline shows it.
pub fn send_state(item: &OutboxItem) -> promptly::channels::SendState {
    let (status, note) = match item.status.as_str() {
        "failed" => ("failed", item.last_error.clone()),
        "delivered" => (
            item.receipt.as_deref().unwrap_or("sent"),
            item.receipt_note.clone(),
        ),
        // Not taken yet: the last try's error, while it is tried again.
        _ => ("sending", item.last_error.clone()),
    };
    promptly::channels::SendState {
        message_id: item.message_id.clone().unwrap_or_default(),
        status: status.to_string(),
        note,
    }
}

/// The platform's error code in a refusal's body (Meta's `error.code`).
fn error_code(answer: &Answer) -> Option<i64> {
    let parsed: Value = serde_json::from_slice(&answer.body).ok()?;
    parsed["error"]["code"].as_i64()
}

/// The id the platform gave a message it took: WhatsApp's `messages[0].id`, Messenger's and
/// Instagram's `message_id` (a comment reply's `id`), X's `data.dm_event_id` or `data.id`.
fn sent_id(answer: &Value) -> Option<&str> {
    answer["messages"][0]["id"]
        .as_str()
        .or_else(|| answer["message_id"].as_str())
        .or_else(|| answer["data"]["dm_event_id"].as_str())
        .or_else(|| answer["data"]["id"].as_str())
        .or_else(|| answer["id"].as_str())
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
    // X: `{"title", "detail"}`, or `{"errors": [{"message"}]}`.
    let words = words.or_else(|| {
        let v = parsed.as_ref()?;
        v["detail"]
            .as_str()
            .or_else(|| v["errors"][0]["message"].as_str())
            .map(str::to_string)
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
    let mut answer = match egress.call(&item.url, &headers, item.body.clone()).await {
        Ok(a) => a,
        Err(e) => return crate::outbox::failed(item, e.0, now),
    };
    // Outside WhatsApp's 24-hour window only a template may go: the account's, at once.
    let mut note = None;
    if (400..500).contains(&answer.status) && error_code(&answer) == Some(OUTSIDE_WINDOW) {
        if let Some((body, instead)) = template_instead(account, &item.body) {
            answer = match egress.call(&item.url, &headers, body).await {
                Ok(a) => a,
                Err(e) => return crate::outbox::failed(item, e.0, now),
            };
            note = Some(instead);
        }
    }
    match answer.status {
        200..=299 => {
            let parsed: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
            match sent_id(&parsed) {
                Some(id) => OutboxOutcome::Sent {
                    id: id.to_string(),
                    note,
                },
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
    fn each_platform_gets_its_documented_request() {
        let cases = [
            (
                ChannelKind::Whatsapp,
                Thread::Direct("5511".into()),
                "/106/messages",
                json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "5511",
                    "type": "text", "text": {"body": "Hi"}}),
            ),
            (
                ChannelKind::Messenger,
                Thread::Direct("6712".into()),
                "/106/messages",
                json!({"recipient": {"id": "6712"}, "messaging_type": "RESPONSE", "message": {"text": "Hi"}}),
            ),
            (
                ChannelKind::Instagram,
                Thread::Direct("1234".into()),
                "/106/messages",
                json!({"recipient": {"id": "1234"}, "message": {"text": "Hi"}}),
            ),
            (
                ChannelKind::Instagram,
                Thread::Comment("9001".into()),
                "/9001/replies",
                json!({"message": "Hi"}),
            ),
            (
                ChannelKind::X,
                Thread::Direct("3001".into()),
                "/2/dm_conversations/with/3001/messages",
                json!({"text": "Hi"}),
            ),
            (
                ChannelKind::X,
                Thread::Tweet("1866".into()),
                "/2/tweets",
                json!({"text": "Hi", "reply": {"in_reply_to_tweet_id": "1866"}}),
            ),
        ];
        for (kind, thread, path, body) in cases {
            assert_eq!(
                request_of(kind, "106", &thread, "Hi"),
                (path.to_string(), body),
                "{kind:?} {thread:?}"
            );
        }
        assert_eq!(
            sent_id(&json!({"messages": [{"id": "wamid.1"}]})),
            Some("wamid.1")
        );
        assert_eq!(
            sent_id(&json!({"recipient_id": "1", "message_id": "m_1"})),
            Some("m_1")
        );
        assert_eq!(
            sent_id(&json!({"data": {"dm_conversation_id": "1-2", "dm_event_id": "77"}})),
            Some("77")
        );
        assert_eq!(
            sent_id(&json!({"data": {"id": "1867", "text": "Hi"}})),
            Some("1867")
        );
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
