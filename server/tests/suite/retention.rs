//! Retention on a test clock: the server's purge loop removes delivered webhooks and rule
//! runs past their days, and replaces the events of conversations resolved long enough ago
//! by their archive; the conversation reads, evaluates and reopens as before, and what is
//! still open or recent keeps its events.

use crate::server_support::{eventually, Setup, TestServer, LOCAL_RECEIVERS};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use promptly_server::config::RetentionArgs;
use serde_json::{json, Value};

const WITHIN: std::time::Duration = std::time::Duration::from_secs(20);

fn t0() -> DateTime<Utc> {
    "2026-11-24T10:00:00Z".parse().unwrap()
}

fn at(s: &TestServer) -> String {
    s.now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A webhook receiver that accepts everything.
async fn receiver() -> String {
    let app = axum::Router::new().route("/hook", axum::routing::post(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/hook")
}

/// What must survive an archive: the summary and each clock's result.
fn lasting(c: &Value) -> Value {
    let metrics: Vec<Value> = c["sla"]["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            json!([
                m["metric"],
                m["state"],
                m["breaches"],
                m["due_at"],
                m["finished_at"],
                m["cycles"]
            ])
        })
        .collect();
    json!({
        "status": c["status"], "priority": c["priority"], "labels": c["labels"],
        "owner": c["owner"], "team": c["team"], "contact": c["contact"],
        "last_message": c["last_message"], "last_author": c["last_author"],
        "created_at": c["created_at"], "surveys": c["surveys"], "metrics": metrics,
    })
}

#[tokio::test]
async fn old_deliveries_rule_runs_and_resolved_conversations_events_are_purged() {
    let s = TestServer::start_with(Setup::at(t0()).allow_egress(LOCAL_RECEIVERS)).await;
    let t = s.token().await;
    s.create_default_policy(
        &t,
        json!({"name": "Hour", "first_response": "1h", "resolution": "1d"}),
    )
    .await;
    let hook = receiver().await;
    s.create(
        "/api/v1/rules",
        &t,
        json!({"name": "Breach", "event": "sla.breached",
               "conditions": [{"field": "sla.metric", "op": "is", "value": "first_response"}],
               "actions": [{"type": "add_label", "label": "late"},
                           {"type": "webhook", "url": hook, "secret": "s"}]}),
    )
    .await;
    let (server, token) = (&s, &t);
    let post = |events: Value| async move {
        let (status, body) = server
            .post("/api/v1/events", token, json!({ "events": events }))
            .await;
        assert!(status.is_success(), "{body}");
    };
    let now = at(&s);
    post(json!([
        {"id": "o1", "type": "conversation.created", "conversation": "old", "at": now, "channel": "email",
         "contact": {"name": "Ann", "email": "ann@x.io"}, "labels": ["vip"]},
        {"id": "o2", "type": "message.created", "conversation": "old", "at": now, "author": "customer", "text": "Help, please"},
        {"id": "p1", "type": "conversation.created", "conversation": "open", "at": now, "channel": "sms"},
        {"id": "p2", "type": "message.created", "conversation": "open", "at": now, "author": "customer", "text": "Anyone?"},
    ]))
    .await;
    // Both breach their first response: a label, a rule run and a delivered webhook each.
    s.advance(Duration::seconds(3601));
    let delivered = || async {
        let d = s.store.list_outbox(Some("delivered"), 100).await.unwrap();
        (d.len() == 2).then_some(())
    };
    eventually(WITHIN, "two delivered webhooks", delivered).await;
    s.advance(Duration::minutes(10));
    let now = at(&s);
    post(json!([
        {"id": "o3", "type": "message.created", "conversation": "old", "at": now, "author": "agent",
         "text": "Sorry for the wait", "agent_email": "ada@x.io"},
        {"id": "o4", "type": "conversation.updated", "conversation": "old", "at": now, "status": "resolved"},
        {"id": "o5", "type": "survey.submitted", "conversation": "old", "at": now, "survey": "csat", "score": 4},
    ]))
    .await;
    let before = s.get_ok("/api/v1/conversations/old", &t).await;
    assert_eq!(before["timeline"].as_array().unwrap().len(), 6, "{before}");
    assert_eq!(before["labels"], json!(["vip", "late"]));

    // 80 days on, another conversation is resolved: it stays within its 30 days.
    s.advance(Duration::days(80));
    let now = at(&s);
    post(json!([
        {"id": "r1", "type": "conversation.created", "conversation": "recent", "at": now, "channel": "sms"},
        {"id": "r2", "type": "conversation.updated", "conversation": "recent", "at": now, "status": "resolved"},
    ]))
    .await;

    // The purge loop, as the server runs it (on its clock), with 90 days for deliveries and
    // rule runs and 30 for resolved conversations' events.
    promptly_server::retention::start(
        &s.state,
        RetentionArgs {
            deliveries_days: 90,
            rule_runs_days: 90,
            events_days: 30,
        },
    );
    let archived = || async {
        let c = s.get_ok("/api/v1/conversations/old", &t).await;
        (c["timeline"].as_array().unwrap().len() == 1).then_some(c)
    };
    let after = eventually(WITHIN, "the old conversation's events archived", archived).await;
    let only = &after["timeline"][0];
    assert_eq!(only["type"], "conversation.archived");
    assert_eq!(only["events"], 6);
    assert_eq!(lasting(&after), lasting(&before), "it reads as before");
    assert_eq!(after["last_message"], "Sorry for the wait");
    // Deliveries and rule runs are 80 days old: kept.
    assert_eq!(s.store.list_outbox(None, 100).await.unwrap().len(), 2);
    let since = t0() - Duration::days(1);
    assert_eq!(
        s.store
            .rule_fire_counts(since)
            .await
            .unwrap()
            .values()
            .sum::<i64>(),
        2
    );
    // What is open or resolved recently keeps its events.
    let open = s.get_ok("/api/v1/conversations/open", &t).await;
    assert_eq!(open["timeline"].as_array().unwrap().len(), 3, "{open}");
    let recent = s.get_ok("/api/v1/conversations/recent", &t).await;
    assert_eq!(recent["timeline"].as_array().unwrap().len(), 2);

    // Past 90 days the deliveries and the rule runs go too (the loop wakes on the clock).
    s.advance(Duration::days(11));
    eventually(
        WITHIN,
        "the old deliveries and rule runs purged",
        || async {
            let outbox = s.store.list_outbox(None, 100).await.unwrap();
            let runs = s.store.rule_fire_counts(since).await.unwrap();
            (outbox.is_empty() && runs.is_empty()).then_some(())
        },
    )
    .await;
    let open = s.get_ok("/api/v1/conversations/open", &t).await;
    assert_eq!(open["timeline"].as_array().unwrap().len(), 3, "open: kept");

    // Reopened, it continues from the archive: the first response stays missed, the
    // resolution clock resumes with the time it had used.
    let now = at(&s);
    post(json!([
        {"id": "o6", "type": "message.created", "conversation": "old", "at": now, "author": "customer", "text": "It broke again"},
    ]))
    .await;
    let reopened = s.get_ok("/api/v1/conversations/old", &t).await;
    assert_eq!(reopened["status"], "open");
    assert_eq!(reopened["timeline"].as_array().unwrap().len(), 2);
    assert_eq!(reopened["contact"], before["contact"]);
    assert_eq!(reopened["labels"], before["labels"]);
    let metric = |c: &Value, name: &str| {
        c["sla"]["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["metric"] == name)
            .cloned()
            .unwrap()
    };
    let result = |m: Value| json!([m["state"], m["breaches"], m["due_at"], m["finished_at"]]);
    assert_eq!(
        result(metric(&reopened, "first_response")),
        result(metric(&after, "first_response"))
    );
    let rt = metric(&reopened, "resolution");
    assert_eq!(rt["state"], "ok", "{rt}");
    // 1 h 10 min 1 s used before the resolution: the rest of the day is left.
    assert_eq!(rt["remaining_s"], 86_400 - 4_201, "{rt}");
    crate::support::assert_consistent(&s.store).await;
}
