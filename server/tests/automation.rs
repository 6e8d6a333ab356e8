//! Automation end to end over real HTTP: rules run for incoming events, SLA breaches fire
//! on the second and exactly once, actions change the conversation, system messages go to
//! the channel's webhook signed, webhooks retry and failures show.

mod server_support;

use axum::body::Bytes;
use axum::http::HeaderMap;
use chrono::{Duration, SecondsFormat, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};
use server_support::TestServer;
use std::sync::{Arc, Mutex};

fn ago(secs: i64) -> String {
    (Utc::now() - Duration::seconds(secs)).to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A webhook receiver on a free port: records (signature, delivery id, body); answers
/// `status` (500 makes deliveries fail).
async fn receiver(status: u16) -> (String, Arc<Mutex<Vec<(String, String, String)>>>) {
    let got: Arc<Mutex<Vec<(String, String, String)>>> = Arc::default();
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
                store.lock().unwrap().push((
                    h("x-promptly-signature"),
                    h("x-promptly-delivery"),
                    String::from_utf8_lossy(&body).to_string(),
                ));
                axum::http::StatusCode::from_u16(status).unwrap()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook"), got)
}

async fn until<F, Fut>(what: &str, secs: u64, mut check: F) -> Value
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<Value>>,
{
    let end = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            std::time::Instant::now() < end,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_matching_conversation_gets_the_policy_and_its_breach_removes_the_owner_and_messages_the_customer(
) {
    let s = TestServer::start().await;
    let t = s.token().await;
    let (_, standard) = s
        .post(
            "/api/v1/policies",
            &t,
            json!({"name": "Standard", "first_response": "1h"}),
        )
        .await;
    s.put(
        "/api/v1/settings/default-policy",
        &t,
        json!({"policy": standard["id"]}),
    )
    .await;
    let (_, premium) = s
        .post(
            "/api/v1/policies",
            &t,
            json!({"name": "Premium", "first_response": "3s"}),
        )
        .await;
    let (hook, received) = receiver(200).await;
    let (status, _) = s
        .put(
            "/api/v1/channels/whatsapp/outbound",
            &t,
            json!({"url": hook, "secret": "channel-secret"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, r1) = s
        .post(
            "/api/v1/rules",
            &t,
            json!({"name": "BigCorp urgent", "event": "conversation.created", "match": "all",
            "conditions": [{"field": "contact.email", "op": "ends_with", "value": "@bigcorp.com"},
                           {"field": "priority", "op": "is", "value": "urgent"}],
            "actions": [{"type": "apply_policy", "policy": premium["id"]}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{r1}");
    let (status, r2) = s
        .post("/api/v1/rules", &t, json!({"name": "Breach", "event": "sla.breached",
            "conditions": [{"field": "sla.metric", "op": "is", "value": "first_response"}],
            "actions": [{"type": "remove_owner"},
                        {"type": "send_message", "template": "Sorry {{contact.name}}, we are late; an agent will answer soon."}]}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{r2}");

    let now = ago(0);
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

    // The rule applies Premium within a second; the other conversation keeps Standard.
    let c = until("the Premium policy", 2, || async {
        let (_, c) = s.get("/api/v1/conversations/big-1", &t).await;
        (c["policy_id"] == premium["id"]).then_some(c)
    })
    .await;
    assert_eq!(c["sla"]["metrics"][0]["target_s"], 3);
    let (_, other) = s.get("/api/v1/conversations/other-1", &t).await;
    assert_eq!(other["policy_id"], standard["id"]);

    // The breach (3 s target) removes the owner and adds a system message, on time.
    let c = until("the breach actions", 8, || async {
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
    let got = until("the channel delivery", 5, || async {
        let g = received.lock().unwrap().clone();
        (!g.is_empty()).then(|| json!(g))
    })
    .await;
    let (signature, delivery, body) = (
        got[0][0].as_str().unwrap(),
        got[0][1].as_str().unwrap(),
        got[0][2].as_str().unwrap(),
    );
    assert_eq!(
        signature,
        promptly_server::automation::signature("channel-secret", body)
    );
    assert!(!delivery.is_empty());
    let body: Value = serde_json::from_str(body).unwrap();
    assert_eq!(body["conversation"], "big-1");
    assert_eq!(
        body["text"],
        "Sorry Bea, we are late; an agent will answer soon."
    );

    // Exactly once: later passes fire nothing more.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(received.lock().unwrap().len(), 1);
    let firings = s.store.count_sla_firings().await.unwrap();
    assert_eq!(
        firings, 1,
        "big-1's breach once (Premium has no warning threshold); other-1 is far from its hour"
    );
    let (_, rules) = s.get("/api/v1/rules", &t).await;
    let counts: Vec<i64> = rules
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["fired_today"].as_i64().unwrap())
        .collect();
    assert_eq!(counts, vec![1, 1], "each rule fired once");
    let (_, deliveries) = s.get("/api/v1/deliveries", &t).await;
    assert_eq!(deliveries[0]["status"], "delivered");
    assert_eq!(deliveries[0]["kind"], "message");
}

#[tokio::test]
async fn failing_webhooks_are_retried_and_their_failures_show() {
    let s = TestServer::start().await;
    let t = s.token().await;
    let (hook, received) = receiver(500).await;
    let (status, rule) = s
        .post(
            "/api/v1/rules",
            &t,
            json!({"name": "Notify", "event": "message.created",
            "conditions": [{"field": "message.text", "op": "contains_any", "value": ["refund"]}],
            "actions": [{"type": "webhook", "url": hook, "secret": "hook-secret"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{rule}");
    s.post("/api/v1/events", &t, json!({"events": [
        {"id": "w1", "type": "message.created", "conversation": "w", "author": "customer", "text": "I want a Refund!"},
        {"id": "w2", "type": "message.created", "conversation": "w", "author": "customer", "text": "refunded already?"},
    ]}))
    .await;
    let deliveries = until("a failed attempt", 5, || async {
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
    assert_eq!(
        got[0].0,
        promptly_server::automation::signature("hook-secret", &got[0].2)
    );
    let (status, _) = s.get("/api/v1/deliveries?status=bogus", &t).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = s
        .put(
            "/api/v1/channels/pigeon/outbound",
            &t,
            json!({"url": hook, "secret": "x"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, e) = s
        .put(
            "/api/v1/channels/sms/outbound",
            &t,
            json!({"url": "ftp://x", "secret": ""}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> = e["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["url", "secret"]);
}

#[tokio::test]
async fn a_new_overdue_rule_replans_running_clocks() {
    let s = TestServer::start().await;
    let t = s.token().await;
    let (_, p) = s
        .post(
            "/api/v1/policies",
            &t,
            json!({"name": "Fast", "first_response": "1s"}),
        )
        .await;
    s.put(
        "/api/v1/settings/default-policy",
        &t,
        json!({"policy": p["id"]}),
    )
    .await;
    s.post(
        "/api/v1/events",
        &t,
        json!({"id": "r1", "type": "message.created",
        "conversation": "late", "author": "customer", "text": "Hi", "at": ago(0)}),
    )
    .await;
    // Breached after a second; no rule listens yet.
    until("the breach", 5, || async {
        let (_, c) = s.get("/api/v1/conversations/late", &t).await;
        (c["sla"]["metrics"][0]["state"] == "breached").then_some(c)
    })
    .await;
    let (status, _) = s
        .post(
            "/api/v1/rules",
            &t,
            json!({"name": "Escalate", "event": "sla.overdue", "after": "6s",
            "actions": [{"type": "add_label", "label": "overdue-6s"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    // Its level (six seconds after the deadline) is planned for the running clock.
    let c = until("the escalation", 12, || async {
        let (_, c) = s.get("/api/v1/conversations/late", &t).await;
        (c["labels"] == json!(["overdue-6s"])).then_some(c)
    })
    .await;
    assert_eq!(c["sla"]["metrics"][0]["state"], "breached");
}
