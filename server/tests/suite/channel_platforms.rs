//! X and Messenger accounts end to end, with the documented example payloads
//! (`tests/fixtures/channels/`) and a fake platform API started by the test: X's CRC, signed
//! DMs and mentions in (bad signatures refused, repeats ignored), replies out through the
//! documented requests (a DM, a reply tweet, a Messenger message), the echo of Promptly's own
//! send not counted twice, an X app's echo counted, a customer's reply to Promptly's
//! tweet joining its conversation, Messenger's delivery and read receipts.

use crate::server_support::{eventually, Setup, TestServer};
use axum::response::IntoResponse;
use base64::Engine;
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

const ACME: &str = "4337869213";
const JO: &str = "3001969357";
const SECRET: &str = "consumer-secret-1";
const WITHIN: std::time::Duration = std::time::Duration::from_secs(10);

fn example(path: &str) -> Value {
    let path = format!(
        "{}/../tests/fixtures/channels/{path}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn hmac(secret: &str, body: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    m.update(body);
    m.finalize().into_bytes().to_vec()
}

/// What the fake platform received: method and path, the Authorization header, the body.
type Received = Arc<Mutex<Vec<(String, String, Value)>>>;

/// A stand-in for a platform's API on loopback: takes every POST and answers as the
/// platform documents for that path (X's DM and tweet, Meta's Send API).
async fn fake_platform() -> (u16, Received) {
    let received: Received = Arc::default();
    let kept = received.clone();
    let app = axum::Router::new().fallback(
        move |uri: axum::http::Uri, headers: axum::http::HeaderMap, body: axum::body::Bytes| {
            let kept = kept.clone();
            async move {
                let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let auth = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                let path = uri.path().to_string();
                let n = {
                    let mut r = kept.lock().unwrap();
                    r.push((path.clone(), auth, body.clone()));
                    r.len()
                };
                let answer = if path == "/2/tweets" {
                    json!({"data": {"id": format!("18664310000000000{n:02}"), "text": body["text"]}})
                } else if path.starts_with("/2/dm_conversations/") {
                    json!({"data": {"dm_conversation_id": "1-2", "dm_event_id": format!("dm-sent-{n}")}})
                } else {
                    json!({"recipient_id": body["recipient"]["id"], "message_id": format!("m_sent-{n}")})
                };
                axum::Json(answer).into_response()
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (port, received)
}

struct Account {
    s: TestServer,
    token: String,
    id: i64,
    kind: &'static str,
}

impl Account {
    /// A server at `at` that may call loopback, with a 30-minute first-response policy and
    /// an account of `kind` whose API is the fake platform on `port`.
    async fn start(at: &str, kind: &'static str, settings: Value, port: u16) -> Account {
        let setup = Setup::at(promptly::instant::utc(at)).allow_egress("127.0.0.1/32");
        let s = TestServer::start_with(setup).await;
        let token = s.token().await;
        s.create_default_policy(&token, json!({"name": "Chat", "first_response": "30m"}))
            .await;
        let mut settings = settings;
        settings["api_base"] = json!(format!("http://127.0.0.1:{port}"));
        let (status, a) = s
            .post(
                "/api/v1/channel-accounts",
                &token,
                json!({"kind": kind, "name": "Acme", "settings": settings}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{a}");
        Account {
            id: a["id"].as_i64().unwrap(),
            s,
            token,
            kind,
        }
    }

    fn hook(&self, query: &str) -> String {
        self.s
            .url(&format!("/hooks/{}/{}{query}", self.kind, self.id))
    }

    /// POSTs `payload` signed as the platform does (X: base64; Meta: hex), or with `forged`.
    async fn post(&self, payload: &Value, secret: &str) -> StatusCode {
        let body = payload.to_string();
        let mac = hmac(secret, body.as_bytes());
        let (header, value) = if self.kind == "x" {
            (
                "x-twitter-webhooks-signature",
                base64::engine::general_purpose::STANDARD.encode(mac),
            )
        } else {
            (
                "x-hub-signature-256",
                mac.iter().map(|b| format!("{b:02x}")).collect(),
            )
        };
        self.s
            .client
            .post(self.hook(""))
            .header("content-type", "application/json")
            .header(header, format!("sha256={value}"))
            .body(body)
            .send()
            .await
            .unwrap()
            .status()
    }

    /// The conversation with this external id, with its timeline.
    async fn conversation(&self, external_id: &str) -> Option<Value> {
        let (_, queue) = self.s.get("/api/v1/conversations", &self.token).await;
        let id = queue
            .as_array()?
            .iter()
            .find(|c| c["external_id"] == external_id)?["id"]
            .as_i64()?;
        Some(
            self.s
                .get_ok(&format!("/api/v1/conversations/{id}"), &self.token)
                .await,
        )
    }

    async fn reply(&self, conversation: &Value, text: &str) {
        let (status, r) = self
            .s
            .post(
                &format!("/api/v1/conversations/{}/messages", conversation["id"]),
                &self.token,
                json!({"text": text, "agent_email": "ada@acme.test"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{r}");
        assert_eq!(r["sent"], true, "{r}");
    }
}

fn messages(c: &Value) -> Vec<(String, String)> {
    c["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "message.created")
        .map(|e| {
            (
                e["author"].as_str().unwrap().to_string(),
                e["text"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn sent(received: &Received, n: usize) -> Vec<(String, String, Value)> {
    eventually(WITHIN, "the platform receives the send", || async {
        let r = received.lock().unwrap().clone();
        (r.len() >= n).then_some(r)
    })
    .await
}

#[tokio::test]
async fn x_direct_messages_come_in_signed_and_replies_go_out_as_dms() {
    let (port, received) = fake_platform().await;
    let a = Account::start(
        "2024-12-11T17:15:00Z",
        "x",
        json!({"user_id": ACME, "consumer_secret": SECRET, "access_token": "x-user-token"}),
        port,
    )
    .await;
    // The CRC: the challenge signed with the consumer secret, base64.
    let crc: Value =
        a.s.client
            .get(a.hook("?crc_token=abc"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    let expected = base64::engine::general_purpose::STANDARD.encode(hmac(SECRET, b"abc"));
    assert_eq!(crc["response_token"], format!("sha256={expected}"));

    let dm = example("x_twitter/dm_incoming");
    assert_eq!(a.post(&dm, "wrong").await, StatusCode::UNAUTHORIZED);
    let thread = format!("x:{ACME}:dm:{JO}");
    assert!(a.conversation(&thread).await.is_none(), "nothing stored");
    assert_eq!(a.post(&dm, SECRET).await, StatusCode::OK);
    assert_eq!(a.post(&dm, SECRET).await, StatusCode::OK, "a repeat");
    let c = a.conversation(&thread).await.unwrap();
    assert_eq!(c["channel"], "twitter");
    assert_eq!(c["visibility"], "direct");
    assert_eq!(c["contact"]["name"], "Jo Kim");
    assert_eq!(c["contact"]["handle"], "@jokim");
    assert_eq!(messages(&c).len(), 1, "the repeat is ignored");
    assert_eq!(c["sla"]["metrics"][0]["state"], "ok", "{c}");

    // The reply goes out as X documents a DM, with the account's user token.
    a.reply(&c, "Hi Jo, can you DM the order number?").await;
    let r = sent(&received, 1).await;
    assert_eq!(r[0].0, format!("/2/dm_conversations/with/{JO}/messages"));
    assert_eq!(r[0].1, "Bearer x-user-token");
    assert_eq!(
        r[0].2,
        json!({"text": "Hi Jo, can you DM the order number?"})
    );
    // X echoes it with the id it gave: not a second agent message.
    eventually(WITHIN, "the send's id is kept", || async {
        let (_, d) = a.s.get("/api/v1/deliveries", &a.token).await;
        (d[0]["sent_id"] == "dm-sent-1").then_some(())
    })
    .await;
    let mut own = example("x_twitter/dm_outgoing_echo");
    own["direct_message_events"][0]["id"] = json!("dm-sent-1");
    assert_eq!(a.post(&own, SECRET).await, StatusCode::OK);
    let c = a.conversation(&thread).await.unwrap();
    assert_eq!(messages(&c).len(), 2, "{:?}", messages(&c));
    assert_eq!(c["sla"]["metrics"][0]["state"], "met");
    // What the business wrote in X's own app counts as an agent message.
    assert_eq!(
        a.post(&example("x_twitter/dm_outgoing_echo"), SECRET).await,
        StatusCode::OK
    );
    let c = a.conversation(&thread).await.unwrap();
    assert_eq!(
        messages(&c).last().unwrap(),
        &(
            "agent".to_string(),
            "Hi Jo, can you DM the order number?".to_string()
        )
    );
    assert_eq!(messages(&c).len(), 3);
    // A read receipt is no message.
    assert_eq!(
        a.post(&example("x_twitter/dm_read"), SECRET).await,
        StatusCode::OK
    );
    assert_eq!(messages(&a.conversation(&thread).await.unwrap()).len(), 3);
}

#[tokio::test]
async fn x_mentions_are_public_threads_answered_by_reply_tweets() {
    let (port, received) = fake_platform().await;
    let a = Account::start(
        "2024-12-11T17:15:00Z",
        "x",
        json!({"user_id": ACME, "consumer_secret": SECRET, "access_token": "x-user-token"}),
        port,
    )
    .await;
    let mention = example("x_twitter/mention_tweet_create");
    assert_eq!(a.post(&mention, SECRET).await, StatusCode::OK);
    let thread = format!("x:{ACME}:tweet:1866430999876543210");
    let c = a.conversation(&thread).await.unwrap();
    assert_eq!(c["visibility"], "public");
    assert_eq!(c["contact"]["handle"], "@jokim");

    a.reply(&c, "@jokim sorry Jo - we've sent you a DM.").await;
    let r = sent(&received, 1).await;
    assert_eq!(r[0].0, "/2/tweets");
    assert_eq!(
        r[0].2,
        json!({"text": "@jokim sorry Jo - we've sent you a DM.",
               "reply": {"in_reply_to_tweet_id": "1866430999876543210"}})
    );
    eventually(WITHIN, "the tweet's id is kept", || async {
        let (_, d) = a.s.get("/api/v1/deliveries", &a.token).await;
        (d[0]["sent_id"] == "1866431000000000001").then_some(())
    })
    .await;
    // A minute later Jo answers Promptly's tweet: the same conversation.
    a.s.advance(chrono::Duration::minutes(1));
    let mut again = mention.clone();
    let t = &mut again["tweet_create_events"][0];
    t["id_str"] = json!("1866432000000000000");
    t["in_reply_to_status_id_str"] = json!("1866431000000000001");
    t["text"] = json!("@acme_help thanks, got it");
    t["timestamp_ms"] = json!("1733937360000");
    assert_eq!(a.post(&again, SECRET).await, StatusCode::OK);
    let c = a.conversation(&thread).await.unwrap();
    assert_eq!(
        messages(&c).last().unwrap(),
        &(
            "customer".to_string(),
            "@acme_help thanks, got it".to_string()
        )
    );
    assert_eq!(messages(&c).len(), 3);
}

#[tokio::test]
async fn messenger_replies_go_out_through_the_send_api() {
    const PAGE: &str = "104523987654321";
    let (port, received) = fake_platform().await;
    let a = Account::start(
        "2025-06-08T21:09:43Z",
        "messenger",
        json!({"page_id": PAGE, "verify_token": "v", "app_secret": "app-secret",
               "page_access_token": "page-token"}),
        port,
    )
    .await;
    let message = example("messenger/customer_message_text");
    assert_eq!(a.post(&message, "app-secret").await, StatusCode::OK);
    let c = a
        .conversation(&format!("fb:{PAGE}:6712345678901234"))
        .await
        .unwrap();
    a.reply(&c, "Yes, 10:00-16:00 on Sundays.").await;
    let r = sent(&received, 1).await;
    assert_eq!(r[0].0, format!("/{PAGE}/messages"));
    assert_eq!(r[0].1, "Bearer page-token");
    assert_eq!(
        r[0].2,
        json!({"recipient": {"id": "6712345678901234"}, "messaging_type": "RESPONSE",
               "message": {"text": "Yes, 10:00-16:00 on Sundays."}})
    );
    eventually(WITHIN, "the message id is kept", || async {
        let (_, d) = a.s.get("/api/v1/deliveries", &a.token).await;
        (d[0]["sent_id"] == "m_sent-1").then_some(())
    })
    .await;
    // Delivered (by its id), then read (Messenger's read names only a watermark).
    let receipt = |d: Value| async move { d[0]["receipt"].clone() };
    let now = a.s.now().timestamp_millis();
    let mut delivery = example("messenger/delivery");
    delivery["entry"][0]["messaging"][0]["delivery"] =
        json!({"mids": ["m_sent-1"], "watermark": now});
    assert_eq!(a.post(&delivery, "app-secret").await, StatusCode::OK);
    assert_eq!(
        receipt(a.s.get("/api/v1/deliveries", &a.token).await.1).await,
        "delivered"
    );
    let mut read = example("messenger/read");
    read["entry"][0]["messaging"][0]["read"]["watermark"] = json!(now - 60_000);
    assert_eq!(a.post(&read, "app-secret").await, StatusCode::OK);
    assert_eq!(
        receipt(a.s.get("/api/v1/deliveries", &a.token).await.1).await,
        "delivered",
        "a watermark before the send covers it not"
    );
    read["entry"][0]["messaging"][0]["read"]["watermark"] = json!(now + 5_000);
    assert_eq!(a.post(&read, "app-secret").await, StatusCode::OK);
    assert_eq!(
        receipt(a.s.get("/api/v1/deliveries", &a.token).await.1).await,
        "read"
    );
}
