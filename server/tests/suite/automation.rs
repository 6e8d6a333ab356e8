//! Automation end to end over real HTTP: rules run for incoming events, SLA breaches fire
//! on the second and exactly once, actions change the conversation, system messages go to
//! the channel's webhook signed, webhooks retry and failures show.
//!
//! The servers run on a test clock: a test moves it past an SLA instant or a retry, then
//! polls for the effect with a deadline ([`eventually`]); no test waits real seconds.

use crate::server_support;

use axum::body::Bytes;
use axum::http::HeaderMap;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};
use server_support::{column, error_fields, eventually, Setup, TestServer, LOCAL_RECEIVERS};
use std::sync::{Arc, Mutex};

/// How long (real time) an effect may take to show before a test fails.
const WITHIN: std::time::Duration = std::time::Duration::from_secs(10);

/// Where the test clocks start: a Tuesday morning.
fn t0() -> DateTime<Utc> {
    "2026-11-24T10:00:00Z".parse().unwrap()
}

/// The server's current instant, as events carry it.
fn now(s: &TestServer) -> String {
    s.now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// One delivery as a receiver got it.
#[derive(Debug, Clone)]
struct Received {
    signature: String,
    timestamp: i64,
    delivery: String,
    body: String,
}

/// Whether a delivery carries the signature of `secret` over its timestamp and body.
fn signed_with(r: &Received, secret: &str) -> bool {
    r.signature == promptly_server::outbox::signature(secret, r.timestamp, &r.body)
}

/// A webhook receiver on a free port of 127.0.0.1 (servers that deliver to it start with
/// [`LOCAL_RECEIVERS`] allowed): records what it gets; answers `status` (500 makes
/// deliveries fail).
async fn receiver(status: u16) -> (String, Arc<Mutex<Vec<Received>>>) {
    let got: Arc<Mutex<Vec<Received>>> = Arc::default();
    let store = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let store = store.clone();
            async move {
                let h = |k: &str| {
                    headers
                        .get(k)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string()
                };
                store.lock().unwrap().push(Received {
                    signature: h("x-promptly-signature"),
                    timestamp: h("x-promptly-timestamp").parse().unwrap_or(-1),
                    delivery: h("x-promptly-delivery"),
                    body: String::from_utf8_lossy(&body).to_string(),
                });
                axum::http::StatusCode::from_u16(status).unwrap()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook"), got)
}

/// A server on a test clock at [`t0`] that may deliver to receivers on 127.0.0.1.
async fn start() -> TestServer {
    TestServer::start_with(Setup::at(t0()).allow_egress(LOCAL_RECEIVERS)).await
}

/// Sets the outbound webhook of `channel`: the answer.
async fn outbound(
    s: &TestServer,
    t: &str,
    channel: &str,
    url: &str,
    secret: &str,
) -> (StatusCode, Value) {
    s.put(
        &format!("/api/v1/channels/{channel}/outbound"),
        t,
        json!({"url": url, "secret": secret}),
    )
    .await
}

#[tokio::test]
async fn a_matching_conversation_gets_the_policy_and_its_breach_removes_the_owner_and_messages_the_customer(
) {
    let s = start().await;
    let t = s.token().await;
    let standard = s
        .create_default_policy(&t, json!({"name": "Standard", "first_response": "1h"}))
        .await;
    let premium = s
        .create_policy(&t, json!({"name": "Premium", "first_response": "3s"}))
        .await;
    let (hook, received) = receiver(200).await;
    let (status, _) = outbound(&s, &t, "whatsapp", &hook, "channel-secret").await;
    assert_eq!(status, StatusCode::OK);
    s.create(
        "/api/v1/rules",
        &t,
        json!({"name": "BigCorp urgent", "event": "conversation.created", "match": "all",
        "conditions": [{"field": "contact.email", "op": "ends_with", "value": "@bigcorp.com"},
                       {"field": "priority", "op": "is", "value": "urgent"}],
        "actions": [{"type": "apply_policy", "policy": premium}]}),
    )
    .await;
    s.create("/api/v1/rules", &t, json!({"name": "Breach", "event": "sla.breached",
        "conditions": [{"field": "sla.metric", "op": "is", "value": "first_response"}],
        "actions": [{"type": "remove_owner"},
                    {"type": "send_message", "template": "Sorry {{contact.name}}, we are late; an agent will answer soon."}]}))
    .await;

    let now = now(&s);
    let (status, _) = s
        .post("/api/v1/events", &t, json!({"events": [
            {"id": "b1", "type": "conversation.created", "conversation": "big-1", "at": now, "channel": "whatsapp",
             "priority": "urgent", "contact": {"name": "Bea", "email": "bea@bigcorp.com"}},
            {"id": "b2", "type": "message.created", "conversation": "big-1", "at": now, "author": "customer", "text": "Help!"},
            {"id": "b3", "type": "conversation.updated", "conversation": "big-1", "at": now, "owner": "agent@t.io"},
            {"id": "o1", "type": "conversation.created", "conversation": "other-1", "at": now, "channel": "whatsapp",
             "priority": "urgent", "contact": {"name": "Oz", "email": "oz@notbigcorp.com"}},
            {"id": "o2", "type": "message.created", "conversation": "other-1", "at": now, "author": "customer", "text": "Hi"},
        ]}))
        .await;
    assert_eq!(status, StatusCode::OK);

    // The rule applies Premium at once, without the clock moving; the other conversation
    // keeps Standard.
    let c = eventually(WITHIN, "the Premium policy", || async {
        let (_, c) = s.get("/api/v1/conversations/big-1", &t).await;
        (c["policy_id"] == premium).then_some(c)
    })
    .await;
    assert_eq!(c["sla"]["metrics"][0]["target_s"], 3);
    let (_, other) = s.get("/api/v1/conversations/other-1", &t).await;
    assert_eq!(other["policy_id"], standard);

    // On the deadline (3 s target) a pass fires nothing: the engine counts the breach from
    // the second after it.
    s.advance(Duration::seconds(3));
    promptly_server::automation::run_pass(&s.state, &s.base)
        .await
        .unwrap();
    assert_eq!(
        s.store.count_sla_firings().await.unwrap(),
        0,
        "not breached yet"
    );
    let (_, c) = s.get("/api/v1/conversations/big-1", &t).await;
    assert_eq!(c["owner"], "agent@t.io");

    // A second later the sleeping worker wakes for the breach: it removes the owner and
    // adds a system message.
    s.advance(Duration::seconds(1));
    let c = eventually(WITHIN, "the breach actions", || async {
        let (_, c) = s.get("/api/v1/conversations/big-1", &t).await;
        c["owner"].is_null().then_some(c)
    })
    .await;
    let system: Vec<&Value> = c["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["author"] == "system")
        .collect();
    assert_eq!(system.len(), 1, "{c}");
    assert_eq!(
        system[0]["text"],
        "Sorry Bea, we are late; an agent will answer soon."
    );
    assert_eq!(c["sla"]["metrics"][0]["state"], "breached");
    assert_eq!(
        c["last_author"], "system",
        "the queue shows the system message last"
    );

    // Delivered once to the channel's webhook, signed with its secret.
    let got = eventually(WITHIN, "the channel delivery", || async {
        let g = received.lock().unwrap().clone();
        (!g.is_empty()).then_some(g)
    })
    .await;
    assert!(signed_with(&got[0], "channel-secret"), "{got:?}");
    assert_eq!(
        got[0].timestamp,
        s.now().timestamp(),
        "signed at the server's (test) clock, which stood still"
    );
    assert!(!got[0].delivery.is_empty());
    let body: Value = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!(body["conversation"], "big-1");
    assert_eq!(
        body["text"],
        "Sorry Bea, we are late; an agent will answer soon."
    );

    // Recorded as delivered (so no lease is pending) ...
    eventually(WITHIN, "the delivery recorded", || async {
        let (_, d) = s.get("/api/v1/deliveries", &t).await;
        (d[0]["status"] == "delivered").then_some(d)
    })
    .await;
    // ... exactly once: ten minutes later, a pass fires nothing more and nothing is due for
    // delivery.
    s.advance(Duration::minutes(10));
    promptly_server::automation::run_pass(&s.state, &s.base)
        .await
        .unwrap();
    let tried = promptly_server::outbox::deliver_outbox(&s.state)
        .await
        .unwrap();
    assert_eq!(tried, 0, "nothing left to deliver");
    assert_eq!(received.lock().unwrap().len(), 1);
    let firings = s.store.count_sla_firings().await.unwrap();
    assert_eq!(
        firings, 1,
        "big-1's breach once (Premium has no warning threshold); other-1 is far from its hour"
    );
    let (_, rules) = s.get("/api/v1/rules", &t).await;
    assert_eq!(
        column(&rules, "fired_today"),
        json!([1, 1]),
        "each rule fired once"
    );
    let (_, deliveries) = s.get("/api/v1/deliveries", &t).await;
    assert_eq!(deliveries[0]["status"], "delivered");
    assert_eq!(deliveries[0]["kind"], "message");
}

#[tokio::test]
async fn failing_webhooks_are_retried_and_their_failures_show() {
    let s = start().await;
    let t = s.token().await;
    let (hook, received) = receiver(500).await;
    s.create(
        "/api/v1/rules",
        &t,
        json!({"name": "Notify", "event": "message.created",
        "conditions": [{"field": "message.text", "op": "contains_any", "value": ["refund"]}],
        "actions": [{"type": "webhook", "url": hook, "secret": "hook-secret"}]}),
    )
    .await;
    s.post("/api/v1/events", &t, json!({"events": [
        {"id": "w1", "type": "message.created", "conversation": "w", "author": "customer", "text": "I want a Refund!"},
        {"id": "w2", "type": "message.created", "conversation": "w", "author": "customer", "text": "refunded already?"},
    ]}))
    .await;
    let deliveries = eventually(WITHIN, "a failed attempt", || async {
        let (_, d) = s.get("/api/v1/deliveries", &t).await;
        (d[0]["attempts"].as_i64() == Some(1)).then_some(d)
    })
    .await;
    assert_eq!(
        deliveries.as_array().unwrap().len(),
        1,
        "only the whole word matched: {deliveries}"
    );
    let d = &deliveries[0];
    assert_eq!(d["status"], "pending", "to be retried");
    assert!(d["last_error"].as_str().unwrap().contains("500"), "{d}");
    assert!(d.get("secret").is_none(), "secrets are not shown");
    let body: Value = serde_json::from_str(d["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["conversation"]["id"], d["conversation_id"]);
    let got = received.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert!(signed_with(&got[0], "hook-secret"), "{got:?}");

    // Retried with backoff on the server's clock: not before 10 s ...
    s.advance(Duration::seconds(9));
    let tried = promptly_server::outbox::deliver_outbox(&s.state)
        .await
        .unwrap();
    assert_eq!(tried, 0, "the retry is not due after 9 s");
    assert_eq!(received.lock().unwrap().len(), 1);
    // ... then after 10 s, 30 s, 90 s, 270 s and 810 s, and given up after the sixth.
    s.advance(Duration::seconds(1));
    for (attempts, wait) in [(2, 30), (3, 90), (4, 270), (5, 810), (6, 0)] {
        let d = eventually(WITHIN, &format!("attempt {attempts}"), || async {
            let (_, d) = s.get("/api/v1/deliveries", &t).await;
            (d[0]["attempts"].as_i64() == Some(attempts)).then_some(d)
        })
        .await;
        let expected = if attempts < 6 { "pending" } else { "failed" };
        assert_eq!(d[0]["status"], expected, "{d}");
        s.advance(Duration::seconds(wait));
    }
    let got = received.lock().unwrap().clone();
    assert_eq!(got.len(), 6, "six attempts");
    assert!(
        got.iter().all(|g| g.delivery == got[0].delivery),
        "every attempt carries the same delivery id"
    );
    assert!(
        got.iter().all(|g| signed_with(g, "hook-secret")),
        "each attempt signed with its own timestamp"
    );
    assert!(
        got.windows(2).all(|w| w[0].timestamp < w[1].timestamp),
        "each attempt carries the instant it was made"
    );
    let (status, _) = s.get("/api/v1/deliveries?status=bogus", &t).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = outbound(&s, &t, "pigeon", &hook, "x").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, e) = outbound(&s, &t, "sms", "ftp://x", "").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&e), ["url", "secret"]);
}

#[tokio::test]
async fn a_new_overdue_rule_replans_running_clocks() {
    let s = TestServer::start_at(t0()).await;
    let t = s.token().await;
    s.create_default_policy(&t, json!({"name": "Fast", "first_response": "1s"}))
        .await;
    s.post(
        "/api/v1/events",
        &t,
        json!({"id": "r1", "type": "message.created",
        "conversation": "late", "author": "customer", "text": "Hi", "at": now(&s)}),
    )
    .await;
    // Breached the second after its one-second deadline; no rule listens yet.
    s.advance(Duration::seconds(2));
    eventually(WITHIN, "the breach", || async {
        let (_, c) = s.get("/api/v1/conversations/late", &t).await;
        (c["sla"]["metrics"][0]["state"] == "breached").then_some(c)
    })
    .await;
    s.create(
        "/api/v1/rules",
        &t,
        json!({"name": "Escalate", "event": "sla.overdue", "after": "6s",
        "actions": [{"type": "add_label", "label": "overdue-6s"}]}),
    )
    .await;
    // Its level (six seconds after the deadline) is planned for the running clock.
    s.advance(Duration::seconds(5));
    let c = eventually(WITHIN, "the escalation", || async {
        let (_, c) = s.get("/api/v1/conversations/late", &t).await;
        (c["labels"] == json!(["overdue-6s"])).then_some(c)
    })
    .await;
    assert_eq!(c["sla"]["metrics"][0]["state"], "breached");
}
