//! A WhatsApp account's webhooks, sent as Meta sends them (the documented example payloads
//! in `tests/fixtures/channels/whatsapp/`, signed with the account's app secret): the
//! subscription handshake, good and bad signatures (nothing stored), duplicates, an echo
//! from the business's own app that stops the clock, batches and deliveries out of order.

use crate::server_support::TestServer;
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{json, Value};

const NUMBER: &str = "106540352242922";
const ANA: &str = "wa:106540352242922:5511987654321";
const SECRET: &str = "app-secret-1";

fn example(name: &str) -> String {
    let path = format!(
        "{}/../tests/fixtures/channels/whatsapp/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap()
}

fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

struct Hook {
    s: TestServer,
    token: String,
    id: i64,
}

impl Hook {
    /// A server whose clock stands ten minutes after the examples' first message, with a
    /// 30-minute first-response policy and a WhatsApp account.
    async fn start() -> Hook {
        let at = promptly::instant::utc("2025-06-08T21:09:43Z");
        let s = TestServer::start_at(at).await;
        let token = s.token().await;
        s.create_default_policy(&token, json!({"name": "Chat", "first_response": "30m"}))
            .await;
        let (status, a) = s
            .post(
                "/api/v1/channel-accounts",
                &token,
                json!({"kind": "whatsapp", "name": "Support", "settings": {
                    "phone_number_id": NUMBER, "verify_token": "verify-me",
                    "app_secret": SECRET, "access_token": "EAAG-1"}}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{a}");
        Hook {
            id: a["id"].as_i64().unwrap(),
            s,
            token,
        }
    }

    fn url(&self) -> String {
        self.s.url(&format!("/hooks/whatsapp/{}", self.id))
    }

    /// POSTs `body` as Meta does, signed with `secret` (`None`: unsigned).
    async fn post(&self, body: &str, secret: Option<&str>) -> StatusCode {
        let mut req = self
            .s
            .client
            .post(self.url())
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(secret) = secret {
            req = req.header("X-Hub-Signature-256", signature(secret, body.as_bytes()));
        }
        req.send().await.unwrap().status()
    }

    /// The conversation with Ana, as the queue shows it, if any.
    async fn ana(&self) -> Option<Value> {
        let (_, queue) = self.s.get("/api/v1/conversations", &self.token).await;
        queue
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["external_id"] == ANA)
            .cloned()
    }

    async fn timeline(&self) -> Vec<Value> {
        let id = self.ana().await.unwrap()["id"].as_i64().unwrap();
        let (_, c) = self
            .s
            .get(&format!("/api/v1/conversations/{id}"), &self.token)
            .await;
        c["timeline"].as_array().unwrap().clone()
    }

    async fn health(&self) -> Value {
        let (_, a) = self
            .s
            .get(
                &format!("/api/v1/channel-accounts/{}", self.id),
                &self.token,
            )
            .await;
        a["health"].clone()
    }
}

#[tokio::test]
async fn the_handshake_answers_the_challenge_only_with_the_verify_token() {
    let h = Hook::start().await;
    let get = |q: &str| {
        let url = format!("{}?{q}", h.url());
        let client = h.s.client.clone();
        async move { client.get(url).send().await.unwrap() }
    };
    let ok = get("hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158201444").await;
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(ok.text().await.unwrap(), "1158201444");
    for q in [
        "hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1",
        "hub.mode=unsubscribe&hub.verify_token=verify-me&hub.challenge=1",
        "hub.mode=subscribe&hub.challenge=1",
    ] {
        assert_eq!(get(q).await.status(), StatusCode::FORBIDDEN, "{q}");
    }
    for path in [
        format!("/hooks/whatsapp/{}", h.id + 1),
        format!("/hooks/messenger/{}", h.id),
        "/hooks/telegram/1".to_string(),
    ] {
        let r = h.s.client.get(h.s.url(&path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
    }
}

#[tokio::test]
async fn signed_messages_open_conversations_and_nothing_else_gets_in() {
    let h = Hook::start().await;
    let text = example("customer_message_text");

    // Unsigned, signed with another secret, or a body changed after signing: 401, nothing.
    assert_eq!(h.post(&text, None).await, StatusCode::UNAUTHORIZED);
    assert_eq!(h.post(&text, Some("guess")).await, StatusCode::UNAUTHORIZED);
    let signed = signature(SECRET, text.as_bytes());
    let tampered = text.replace("#4471", "#4472");
    let r =
        h.s.client
            .post(h.url())
            .header("X-Hub-Signature-256", signed)
            .body(tampered)
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(h.ana().await.is_none(), "nothing stored");
    let health = h.health().await;
    assert_eq!(
        (health["failures"].as_i64(), health["webhooks"].as_i64()),
        (Some(3), Some(0))
    );
    assert!(health["last_error"].as_str().unwrap().contains("signature"));

    // Signed: the conversation, with the customer's name and number, on the policy.
    assert_eq!(h.post(&text, Some(SECRET)).await, StatusCode::OK);
    let ana = h.ana().await.expect("the conversation is in the queue");
    assert_eq!(ana["channel"], "whatsapp");
    assert_eq!(ana["source"], "channel:whatsapp");
    assert_eq!(ana["visibility"], "direct");
    assert_eq!(ana["contact"]["name"], "Ana Souza");
    assert_eq!(ana["contact"]["handle"], "+5511987654321");
    assert_eq!(ana["last_message"], "Hi, order #4471 still hasn't arrived");
    assert_eq!(ana["sla"]["metrics"][0]["state"], "ok", "{ana}");
    // Meta delivers again: acknowledged, nothing added.
    assert_eq!(h.post(&text, Some(SECRET)).await, StatusCode::OK);
    assert_eq!(h.timeline().await.len(), 2, "opened, and one message");
    assert_eq!(h.health().await["webhooks"], 2);

    // Not JSON, or another platform's JSON (signed): 400, nothing.
    let junk = "not json";
    assert_eq!(h.post(junk, Some(SECRET)).await, StatusCode::BAD_REQUEST);
    let page = json!({"object": "page", "entry": []}).to_string();
    assert_eq!(h.post(&page, Some(SECRET)).await, StatusCode::BAD_REQUEST);
    assert_eq!(h.timeline().await.len(), 2);
}

#[tokio::test]
async fn echoes_stop_the_clock_and_batches_and_late_deliveries_land_in_place() {
    let h = Hook::start().await;
    // The image (21:00:50) arrives before the text it followed (20:59:43), both in one
    // batched payload with a reaction and a receipt, which are not messages.
    let mut batch: Value = serde_json::from_str(&example("customer_message_image")).unwrap();
    for other in [
        "customer_message_text",
        "customer_message_reaction",
        "status_read",
    ] {
        let more: Value = serde_json::from_str(&example(other)).unwrap();
        let entries = more["entry"].as_array().unwrap().clone();
        batch["entry"].as_array_mut().unwrap().extend(entries);
    }
    let body = batch.to_string();
    assert_eq!(h.post(&body, Some(SECRET)).await, StatusCode::OK);
    let timeline = h.timeline().await;
    let texts: Vec<&str> = timeline.iter().filter_map(|e| e["text"].as_str()).collect();
    assert_eq!(
        texts,
        [
            "Hi, order #4471 still hasn't arrived",
            "This is the box I received"
        ],
        "in the customer's order"
    );
    let ana = h.ana().await.unwrap();
    assert_eq!(ana["last_message"], "This is the box I received");
    assert_eq!(ana["sla"]["metrics"][0]["state"], "ok");

    // The business answered from WhatsApp's own app: an agent reply that meets the clock.
    let echo = example("echo_smb_message_echoes");
    assert_eq!(h.post(&echo, Some(SECRET)).await, StatusCode::OK);
    let ana = h.ana().await.unwrap();
    assert_eq!(ana["last_author"], "agent");
    assert_eq!(ana["sla"]["metrics"][0]["state"], "met", "{ana}");
}

/// A stand-in for the WhatsApp Cloud API (a local HTTP server): it answers each send with
/// the next scripted answer (then 200 with a message id) and keeps what it received.
struct FakeGraph {
    port: u16,
    received: std::sync::Arc<std::sync::Mutex<Vec<(HeaderMapText, Value)>>>,
}

type HeaderMapText = std::collections::HashMap<String, String>;

impl FakeGraph {
    async fn start(script: Vec<(u16, Value, Option<u64>)>) -> FakeGraph {
        use axum::response::IntoResponse;
        let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let script = std::sync::Arc::new(std::sync::Mutex::new(
            script
                .into_iter()
                .collect::<std::collections::VecDeque<_>>(),
        ));
        let kept = received.clone();
        let app = axum::Router::new().route(
            "/v21.0/{number}/messages",
            axum::routing::post(
                move |axum::extract::Path(number): axum::extract::Path<String>,
                      headers: axum::http::HeaderMap,
                      axum::Json(body): axum::Json<Value>| {
                    let kept = kept.clone();
                    let script = script.clone();
                    async move {
                        let mut h: HeaderMapText = headers
                            .iter()
                            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
                            .collect();
                        h.insert("x-number".into(), number);
                        let n = {
                            let mut r = kept.lock().unwrap();
                            r.push((h, body));
                            r.len()
                        };
                        let next = script.lock().unwrap().pop_front();
                        let (status, answer, retry_after) = next.unwrap_or((
                            200,
                            json!({"messaging_product": "whatsapp",
                                   "messages": [{"id": format!("wamid.sent-{n}")}]}),
                            None,
                        ));
                        let mut r = (
                            axum::http::StatusCode::from_u16(status).unwrap(),
                            axum::Json(answer),
                        )
                            .into_response();
                        if let Some(s) = retry_after {
                            r.headers_mut()
                                .insert("retry-after", s.to_string().parse().unwrap());
                        }
                        r
                    }
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeGraph { port, received }
    }

    fn received(&self) -> Vec<(HeaderMapText, Value)> {
        self.received.lock().unwrap().clone()
    }
}

/// A server that may call 127.0.0.1, whose WhatsApp account sends to `graph`.
async fn with_graph(graph: &FakeGraph) -> Hook {
    with_graph_template(graph, None).await
}

/// [`with_graph`], the account with `template` for messages outside the 24-hour window.
async fn with_graph_template(graph: &FakeGraph, template: Option<&str>) -> Hook {
    let at = promptly::instant::utc("2025-06-08T21:09:43Z");
    let setup = crate::server_support::Setup::at(at).allow_egress("127.0.0.1/32");
    let s = TestServer::start_with(setup).await;
    let token = s.token().await;
    s.create_default_policy(&token, json!({"name": "Chat", "first_response": "30m"}))
        .await;
    let (status, a) = s
        .post(
            "/api/v1/channel-accounts",
            &token,
            json!({"kind": "whatsapp", "name": "Support", "settings": {
                "phone_number_id": NUMBER, "verify_token": "verify-me",
                "app_secret": SECRET, "access_token": "EAAG-1", "template": template,
                "api_base": format!("http://127.0.0.1:{}/v21.0", graph.port)}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{a}");
    let h = Hook {
        id: a["id"].as_i64().unwrap(),
        s,
        token,
    };
    let text = example("customer_message_text");
    assert_eq!(h.post(&text, Some(SECRET)).await, StatusCode::OK);
    h
}

const WITHIN: std::time::Duration = std::time::Duration::from_secs(10);

async fn deliveries(h: &Hook) -> Vec<Value> {
    let (_, d) = h.s.get("/api/v1/deliveries", &h.token).await;
    d.as_array().unwrap().clone()
}

#[tokio::test]
async fn replies_go_out_through_the_account_and_retry_until_taken() {
    // The platform is busy once (503, come back in 20 s), then takes the message.
    let graph = FakeGraph::start(vec![(
        503,
        json!({"error": {"message": "Service temporarily unavailable", "code": 2}}),
        Some(20),
    )])
    .await;
    let h = with_graph(&graph).await;
    let ana = h.ana().await.unwrap();
    let id = ana["id"].as_i64().unwrap();

    let (status, reply) =
        h.s.post(
            &format!("/api/v1/conversations/{id}/messages"),
            &h.token,
            json!({"text": "Re-shipped today, sorry!", "agent_email": "ada@example.com"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    assert_eq!(reply["sent"], true);
    // Recorded at once: the agent's answer met the first response.
    let ana = h.ana().await.unwrap();
    assert_eq!(ana["sla"]["metrics"][0]["state"], "met", "{ana}");
    assert_eq!(ana["owner"], "ada@example.com");

    let first = crate::server_support::eventually(WITHIN, "the first attempt", || async {
        let d = deliveries(&h).await;
        d.first().filter(|d| d["attempts"] == 1).cloned()
    })
    .await;
    assert_eq!(first["kind"], "message");
    assert!(first["account_id"].is_i64(), "{first}");
    assert_eq!(first["status"], "pending");
    assert!(
        first["last_error"]
            .as_str()
            .unwrap()
            .contains("WhatsApp answered 503: Service temporarily unavailable"),
        "{first}"
    );
    // Not before the 20 s the platform asked for (the backoff alone is 10 s).
    h.s.advance(chrono::Duration::seconds(12));
    assert_eq!(graph.received().len(), 1);
    h.s.advance(chrono::Duration::seconds(10));
    let sent = crate::server_support::eventually(WITHIN, "the second attempt", || async {
        let d = deliveries(&h).await;
        d.first().filter(|d| d["status"] == "delivered").cloned()
    })
    .await;
    assert_eq!(sent["attempts"], 2);
    assert_eq!(sent["sent_id"], "wamid.sent-2");
    let received = graph.received();
    assert_eq!(received.len(), 2);
    let (headers, body) = &received[1];
    assert_eq!(headers["authorization"], "Bearer EAAG-1");
    assert_eq!(headers["x-number"], NUMBER);
    assert_eq!(
        body,
        &json!({"messaging_product": "whatsapp", "recipient_type": "individual",
                "to": "5511987654321", "type": "text",
                "text": {"body": "Re-shipped today, sorry!"}})
    );

    // A private note stays in Promptly.
    let (_, note) =
        h.s.post(
            &format!("/api/v1/conversations/{id}/messages"),
            &h.token,
            json!({"text": "Customer is VIP", "private": true}),
        )
        .await;
    assert_eq!(note["sent"], false);
    assert_eq!(deliveries(&h).await.len(), 1);
}

/// WhatsApp's status webhook for message `id`: `status`, with an error when it failed.
fn status_of(id: &str, status: &str, at: i64, error: Option<Value>) -> String {
    let mut item = json!({"id": id, "status": status, "timestamp": at.to_string(),
                          "recipient_id": "5511987654321"});
    if let Some(e) = error {
        item["errors"] = json!([e]);
    }
    json!({"object": "whatsapp_business_account", "entry": [{"id": "0", "changes": [{
        "field": "messages", "value": {"messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": NUMBER},
            "statuses": [item]}}]}]})
    .to_string()
}

fn outside_window() -> Value {
    json!({"code": 131047, "title": "Re-engagement message", "message": "Re-engagement message",
           "error_data": {"details": "More than 24 hours have passed."}})
}

/// The conversation page's send states, as `data-send` says them, in order.
async fn send_states(h: &Hook, cookie: &str) -> Vec<String> {
    let id = h.ana().await.unwrap()["id"].as_i64().unwrap();
    let html = h.s.page(cookie, &format!("/conversations/{id}")).await;
    html.split("data-send=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn receipts_show_on_the_message_and_a_template_goes_outside_the_window() {
    // The first reply is taken; the second is refused for the window in the send's answer.
    let graph = FakeGraph::start(vec![
        (200, json!({"messages": [{"id": "wamid.first"}]}), None),
        (
            400,
            json!({"error": {"message": "Re-engagement message", "code": 131047}}),
            None,
        ),
    ])
    .await;
    let h = with_graph_template(&graph, Some("we_are_here")).await;
    let cookie = h.s.login("admin@t.io", "admin-pass-1").await;
    let id = h.ana().await.unwrap()["id"].as_i64().unwrap();
    let say = |text: &'static str| {
        let h = &h;
        async move {
            let (status, r) =
                h.s.post(
                    &format!("/api/v1/conversations/{id}/messages"),
                    &h.token,
                    json!({"text": text}),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{r}");
        }
    };
    say("Your parcel left today").await;
    crate::server_support::eventually(WITHIN, "the first send", || async {
        let d = deliveries(&h).await;
        d.first().filter(|d| d["sent_id"] == "wamid.first").cloned()
    })
    .await;
    let now = h.s.now().timestamp();
    // Delivered, then read; a late "delivered" does not undo the read.
    for (status, at) in [
        ("delivered", now),
        ("read", now + 5),
        ("delivered", now + 1),
    ] {
        let body = status_of("wamid.first", status, at, None);
        assert_eq!(h.post(&body, Some(SECRET)).await, StatusCode::OK);
    }
    let d = deliveries(&h).await;
    assert_eq!(d[0]["receipt"], "read", "{d:?}");
    assert_eq!(send_states(&h, &cookie).await, ["read"]);

    // Refused for the 24-hour window: the account's template goes at once instead.
    say("Anything else?").await;
    let sent = crate::server_support::eventually(WITHIN, "the template", || async {
        let d = deliveries(&h).await;
        d.first().filter(|d| d["status"] == "delivered").cloned()
    })
    .await;
    assert!(
        sent["receipt_note"]
            .as_str()
            .unwrap()
            .contains("we_are_here"),
        "{sent}"
    );
    let received = graph.received();
    assert_eq!(received.len(), 3);
    assert_eq!(
        received[2].1,
        json!({"messaging_product": "whatsapp", "recipient_type": "individual",
               "to": "5511987654321", "type": "template",
               "template": {"name": "we_are_here", "language": {"code": "en_US"}}})
    );
    assert_eq!(send_states(&h, &cookie).await, ["read", "sent"]);

    // WhatsApp fails the first one later, by webhook, for the window: the template goes too,
    // and the timeline says so.
    let failed = status_of("wamid.first", "failed", now + 60, Some(outside_window()));
    assert_eq!(h.post(&failed, Some(SECRET)).await, StatusCode::OK);
    crate::server_support::eventually(WITHIN, "the template for the failed one", || async {
        (graph.received().len() == 4).then_some(())
    })
    .await;
    assert_eq!(graph.received()[3].1["type"], "template");
    let note = h
        .timeline()
        .await
        .into_iter()
        .find(|e| e["author"] == "system")
        .unwrap();
    assert_eq!(
        note["text"],
        "Not delivered: Re-engagement message (131047): More than 24 hours have passed. \
         The account's template goes instead."
    );
}

#[tokio::test]
async fn a_refused_send_fails_for_good_and_says_why_on_the_timeline() {
    let graph = FakeGraph::start(vec![(
        400,
        json!({"error": {"message": "Re-engagement message", "type": "OAuthException",
                         "code": 131047, "error_data": {"details":
                         "Message failed to send because more than 24 hours have passed."}}}),
        None,
    )])
    .await;
    let h = with_graph(&graph).await;
    let id = h.ana().await.unwrap()["id"].as_i64().unwrap();
    let (status, reply) =
        h.s.post(
            &format!("/api/v1/conversations/{id}/messages"),
            &h.token,
            json!({"text": "Are you still there?"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    let failed = crate::server_support::eventually(WITHIN, "the refused send", || async {
        let d = deliveries(&h).await;
        d.first().filter(|d| d["status"] == "failed").cloned()
    })
    .await;
    assert_eq!(failed["attempts"], 1, "a 4xx is not tried again");
    let note = crate::server_support::eventually(WITHIN, "the note", || async {
        h.timeline()
            .await
            .into_iter()
            .find(|e| e["author"] == "system")
    })
    .await;
    assert_eq!(note["private"], true);
    assert_eq!(
        note["text"],
        "Not delivered to the customer: WhatsApp answered 400: Re-engagement message (131047): \
         Message failed to send because more than 24 hours have passed."
    );
    h.s.advance(chrono::Duration::hours(1));
    assert_eq!(graph.received().len(), 1);
}

#[tokio::test]
async fn rules_send_through_the_account_and_own_echoes_count_once() {
    let graph = FakeGraph::start(Vec::new()).await;
    let at = promptly::instant::utc("2025-06-08T21:09:43Z");
    let setup = crate::server_support::Setup::at(at).allow_egress("127.0.0.1/32");
    let s = TestServer::start_with(setup).await;
    let token = s.token().await;
    let (status, rule) = s
        .post(
            "/api/v1/rules",
            &token,
            json!({"name": "Greet", "event": "conversation.created",
                   "actions": [{"type": "send_message", "template": "Thanks, we are on it."}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{rule}");
    let (_, a) = s
        .post(
            "/api/v1/channel-accounts",
            &token,
            json!({"kind": "whatsapp", "name": "Support", "settings": {
                "phone_number_id": NUMBER, "verify_token": "v", "app_secret": SECRET,
                "access_token": "EAAG-1",
                "api_base": format!("http://127.0.0.1:{}/v21.0", graph.port)}}),
        )
        .await;
    let h = Hook {
        id: a["id"].as_i64().unwrap(),
        s,
        token,
    };
    assert_eq!(
        h.post(&example("customer_message_text"), Some(SECRET))
            .await,
        StatusCode::OK
    );
    let sent = crate::server_support::eventually(WITHIN, "the rule's message", || async {
        let d = deliveries(&h).await;
        d.first().filter(|d| d["status"] == "delivered").cloned()
    })
    .await;
    assert_eq!(sent["rule_id"], rule["id"]);
    assert_eq!(sent["sent_id"], "wamid.sent-1");
    assert_eq!(
        graph.received()[0].1["text"]["body"],
        "Thanks, we are on it."
    );

    // WhatsApp echoes Promptly's own send back (same id): not a second agent message.
    let echo = example("echo_smb_message_echoes").replace(
        "wamid.HBgNNTUxMTk4NzY1NDMyMRUCABEYEkE3QjhDOUQwRTFGMjAzMTQxNQA=",
        "wamid.sent-1",
    );
    assert_eq!(h.post(&echo, Some(SECRET)).await, StatusCode::OK);
    let timeline = h.timeline().await;
    assert!(
        !timeline.iter().any(|e| e["id"] == "wamid.sent-1"),
        "{timeline:?}"
    );
    let ana = h.ana().await.unwrap();
    assert_eq!(
        ana["last_author"], "system",
        "the rule's message is the last one"
    );
}

#[tokio::test]
async fn messenger_and_instagram_webhooks_open_their_conversations() {
    let at = promptly::instant::utc("2025-06-08T21:09:43Z");
    let s = TestServer::start_at(at).await;
    let token = s.token().await;
    let fixture = |name: &str| {
        let path = format!(
            "{}/../tests/fixtures/channels/{name}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path).unwrap()
    };
    for (kind, id_setting, account, file, conversation) in [
        (
            "messenger",
            ("page_id", "page_access_token"),
            "104523987654321",
            "messenger/customer_message_text",
            "fb:104523987654321:6712345678901234",
        ),
        (
            "instagram",
            ("account_id", "access_token"),
            "17841405822304914",
            "instagram/customer_message_text",
            "ig:17841405822304914:1234567890123456",
        ),
    ] {
        let (status, a) = s
            .post(
                "/api/v1/channel-accounts",
                &token,
                json!({"kind": kind, "name": kind, "settings": {
                    id_setting.0: account, "verify_token": "v", "app_secret": SECRET,
                    id_setting.1: "tok"}}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{a}");
        let body = fixture(file);
        let r = s
            .client
            .post(s.url(&format!("/hooks/{kind}/{}", a["id"])))
            .header("X-Hub-Signature-256", signature(SECRET, body.as_bytes()))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{kind}");
        let (_, queue) = s.get("/api/v1/conversations", &token).await;
        let c = queue
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["external_id"] == conversation)
            .unwrap_or_else(|| panic!("{kind}: {queue}"))
            .clone();
        assert_eq!(c["channel"], kind);
        assert_eq!(c["source"], format!("channel:{kind}"));
        assert_eq!(c["last_author"], "customer");
    }
}
