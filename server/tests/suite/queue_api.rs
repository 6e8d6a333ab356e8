//! The live queue's API over real HTTP: tokens, calendars, policies, ingest, conversations
//! with their SLA, and the stream.

use crate::server_support;

use chrono::{Duration, SecondsFormat, Utc};
use reqwest::header::AUTHORIZATION;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use server_support::{error_fields, eventually, TestServer};

/// A calendar's API body: office hours in Amsterdam.
fn amsterdam() -> Value {
    json!({"name": "Office hours", "description": "EU support",
      "timezone": "Europe/Amsterdam",
      "hours": {"mon": ["09:00-17:00"], "tue": ["09:00-17:00"], "wed": ["09:00-17:00"],
                "thu": ["09:00-17:00"], "fri": ["09:00-17:00"]},
      "holidays": ["2026-12-25"]})
}

fn ago(secs: i64) -> String {
    (Utc::now() - Duration::seconds(secs)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[tokio::test]
async fn tokens_authenticate_and_can_be_revoked() {
    let s = TestServer::start().await;
    assert_eq!(
        s.get("/api/v1/me", "pt_wrong").await.0,
        StatusCode::UNAUTHORIZED
    );
    let token = s.token().await;
    let (status, me) = s.get("/api/v1/me", &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["role"], "admin");

    let created = s.api_token(&token, "whatsapp", "agent").await;
    let agent_token = created["token"].as_str().unwrap().to_string();
    assert!(agent_token.starts_with("pt_"));
    assert_eq!(
        s.get("/api/v1/users", &agent_token).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        s.get("/api/v1/conversations", &agent_token).await.0,
        StatusCode::OK
    );

    // A token asked for without scopes or a role may post events, no more: never admin.
    let (status, default) = s
        .post("/api/v1/tokens", &token, json!({"name": "helpdesk"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(default["scopes"], json!(["events:write"]));
    let helpdesk = default["token"].as_str().unwrap();
    let (_, me) = s.get("/api/v1/me", helpdesk).await;
    assert_ne!(me["role"], "admin");
    for path in ["/api/v1/users", "/api/v1/conversations", "/api/v1/policies"] {
        assert_eq!(
            s.get(path, helpdesk).await.0,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    // Scopes by name: this one reads the queue and nothing else.
    let (status, reader) = s
        .post(
            "/api/v1/tokens",
            &token,
            json!({"name": "wallboard", "scopes": ["conversations:read"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let reader = reader["token"].as_str().unwrap();
    assert_eq!(
        s.get("/api/v1/conversations", reader).await.0,
        StatusCode::OK
    );
    let event =
        json!({"id": "x", "type": "conversation.created", "conversation": "x", "channel": "email"});
    assert_eq!(
        s.post("/api/v1/events", reader, event).await.0,
        StatusCode::FORBIDDEN
    );

    let body = s
        .post_refused(
            "/api/v1/tokens",
            &token,
            json!({"name": "", "role": "root"}),
        )
        .await;
    assert_eq!(body["errors"][0]["field"], "name");
    assert_eq!(body["errors"][1]["field"], "role");
    for (asked, field) in [
        (
            json!({"name": "a", "scopes": ["events:write", "sudo"]}),
            "scopes[1]",
        ),
        (json!({"name": "a", "scopes": []}), "scopes"),
        (
            json!({"name": "a", "scopes": ["admin"], "role": "agent"}),
            "scopes",
        ),
    ] {
        let body = s.post_refused("/api/v1/tokens", &token, asked).await;
        assert_eq!(body["errors"][0]["field"], field, "{body}");
    }

    let id = created["id"].as_i64().unwrap();
    let (status, _) = s
        .send(
            Method::DELETE,
            &format!("/api/v1/tokens/{id}"),
            &token,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        s.get("/api/v1/conversations", &agent_token).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (_, list) = s.get("/api/v1/tokens", &token).await;
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|t| t.get("token").is_none()),
        "tokens are never listed"
    );
}

#[tokio::test]
async fn calendars_and_policies_validate_with_field_paths() {
    let s = TestServer::start().await;
    let t = s.token().await;
    let cal = s.create("/api/v1/calendars", &t, amsterdam()).await;
    assert_eq!(cal["name"], "Office hours");
    assert_eq!(cal["definition"]["timezone"], "Europe/Amsterdam");

    let mut bad = amsterdam();
    bad["hours"]["tue"] = json!(["09:00-12:00", "25:00-26:00"]);
    bad["name"] = json!("");
    for (path, body, fields) in [
        ("/api/v1/calendars", bad, &["name", "hours.tue[1]"][..]),
        (
            "/api/v1/calendars",
            json!({"name": "X", "timezone": "Mars/Base"}),
            &["timezone"],
        ),
        (
            "/api/v1/policies",
            json!({"name": "Gold", "calendar_id": 9999, "first_response": "soon"}),
            &["calendar_id", "first_response"],
        ),
    ] {
        let body = s.post_refused(path, &t, body).await;
        assert_eq!(error_fields(&body), fields, "{body}");
    }

    let cal_id = cal["id"].as_i64().unwrap();

    let p = s
        .create("/api/v1/policies", &t, json!({"name": "Gold", "calendar_id": cal_id, "first_response": "30m", "business_hours_only": true}))
        .await;
    assert_eq!(p["version"], 1);
    let pid = p["id"].as_i64().unwrap();
    // A policy that does not exist: 404 naming the field; an empty body clears nothing.
    let (status, body) = s
        .put(
            "/api/v1/settings/default-policy",
            &t,
            json!({"policy": 424242}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["errors"][0]["field"], "policy", "{body}");
    let (status, _) = s
        .put("/api/v1/settings/default-policy", &t, json!({}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = s
        .put(
            "/api/v1/settings/default-policy",
            &t,
            json!({"policy": pid}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // The default policy and a calendar in use cannot go.
    assert_eq!(
        s.send(Method::DELETE, &format!("/api/v1/policies/{pid}"), &t, None)
            .await
            .0,
        StatusCode::CONFLICT
    );
    assert_eq!(
        s.send(
            Method::DELETE,
            &format!("/api/v1/calendars/{cal_id}"),
            &t,
            None
        )
        .await
        .0,
        StatusCode::CONFLICT
    );
}

/// Business days through the API: stored and written back as "2bd", a conversation's
/// first response due two business days later at the same local time, too many refused.
#[tokio::test]
async fn business_day_policies_round_trip_and_set_deadlines() {
    // Friday 2026-11-20 12:00 in Amsterdam.
    let friday_noon = chrono::DateTime::parse_from_rfc3339("2026-11-20T12:00:00+01:00")
        .unwrap()
        .with_timezone(&Utc);
    let s = TestServer::start_at(friday_noon).await;
    let t = s.token().await;
    let cal = s.create("/api/v1/calendars", &t, amsterdam()).await;
    let body = s
        .post_refused(
            "/api/v1/policies",
            &t,
            json!({"name": "Too long", "first_response": "400bd"}),
        )
        .await;
    assert_eq!(error_fields(&body), ["first_response"], "{body}");
    assert!(
        body.to_string().contains("more than 365 business days"),
        "{body}"
    );
    let p = s
        .create(
            "/api/v1/policies",
            &t,
            json!({"name": "Two days", "calendar_id": cal["id"], "first_response": "2 bd",
                   "resolution": "1d", "business_hours_only": true}),
        )
        .await;
    assert_eq!(p["policy"]["first_response"], "2bd", "{p}");
    assert_eq!(p["policy"]["resolution"], "1d", "{p}");
    let pid = p["id"].as_i64().unwrap();
    s.set_default_policy(&t, pid).await;
    s.post(
        "/api/v1/events",
        &t,
        json!({"id": "bd-1", "type": "conversation.created",
        "conversation": "bd-c1", "channel": "email", "at": "2026-11-20T12:00:00+01:00"}),
    )
    .await;
    let (_, c) = s.get("/api/v1/conversations/bd-c1", &t).await;
    let frt = &c["sla"]["metrics"][0];
    assert_eq!(frt["metric"], "first_response", "{c}");
    // Tuesday 12:00 in Amsterdam; 16 open hours counted (Friday 5, Monday 8, Tuesday 3).
    assert_eq!(frt["due_at"], "2026-11-24T11:00:00Z", "{c}");
    assert_eq!(frt["target_s"], 16 * 3600, "{c}");
}

#[tokio::test]
async fn a_deleted_policy_is_gone_with_its_versions() {
    let s = TestServer::start().await;
    let t = s.token().await;
    let pid = s
        .create_policy(&t, json!({"name": "Short-lived", "first_response": "1h"}))
        .await;
    let versions = format!("/api/v1/policies/{pid}/versions");
    assert_eq!(s.get(&versions, &t).await.0, StatusCode::OK);
    let path = format!("/api/v1/policies/{pid}");
    assert_eq!(
        s.send(Method::DELETE, &path, &t, None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(s.get(&path, &t).await.0, StatusCode::NOT_FOUND);
    assert_eq!(s.get(&versions, &t).await.0, StatusCode::NOT_FOUND);
}

/// A server, an admin token, and the default policy "Std" (a first response within the
/// hour): its id.
async fn start_with_std() -> (TestServer, String, i64) {
    let s = TestServer::start().await;
    let t = s.token().await;
    let pid = s
        .create_default_policy(&t, json!({"name": "Std", "first_response": "1h"}))
        .await;
    (s, t, pid)
}

/// Edits the policy `pid` ("Std") to a five-minute first response, with `query` (the
/// answer).
async fn edit_std_to_five_minutes(
    s: &TestServer,
    t: &str,
    pid: i64,
    query: &str,
) -> (StatusCode, Value) {
    s.put(
        &format!("/api/v1/policies/{pid}{query}"),
        t,
        json!({"name": "Std", "first_response": "5m"}),
    )
    .await
}

/// A conversation's policy version and the state of its first SLA metric.
async fn version_and_state(s: &TestServer, t: &str, conversation: &str) -> (Value, Value) {
    let (_, c) = s
        .get(&format!("/api/v1/conversations/{conversation}"), t)
        .await;
    (
        c["policy_version"].clone(),
        c["sla"]["metrics"][0]["state"].clone(),
    )
}

/// The stream as the holder of token `t`, resuming after `last_event_id` if given.
async fn stream(s: &TestServer, t: &str, last_event_id: Option<&str>) -> reqwest::Response {
    let mut req = s
        .client
        .get(s.url("/api/v1/stream"))
        .header(AUTHORIZATION, format!("Bearer {t}"));
    if let Some(l) = last_event_id {
        req = req.header("last-event-id", l);
    }
    req.send().await.unwrap()
}

/// The stream's first chunk (its hello).
async fn first_chunk(r: &mut reqwest::Response) -> String {
    let hello = r.chunk().await.unwrap().unwrap();
    String::from_utf8_lossy(&hello).to_string()
}

/// Reads the stream until its text holds `until` (each chunk within 5 s).
async fn read_until(r: &mut reqwest::Response, until: &str) -> String {
    let mut text = String::new();
    while !text.contains(until) {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(5), r.chunk())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    text
}

#[tokio::test]
async fn ingested_conversations_carry_their_sla_and_sort_by_deadline() {
    let s = TestServer::start().await;
    let t = s.token().await;
    let pid = s
        .create_default_policy(
        &t,
        json!({"name": "Chat", "first_response": "10m", "next_response": "5m", "warning": "50%"}),
    )
    .await;

    // "late" waited 9 minutes (warning), "fresh" 1 minute; events arrive out of order.
    let batch = json!({"events": [
        {"id": "e2", "type": "message.created", "conversation": "late", "at": ago(540), "author": "customer", "text": "Where is my order?"},
        {"id": "e1", "type": "conversation.created", "conversation": "late", "at": ago(540), "channel": "whatsapp", "contact": {"name": "Ann"}, "priority": "high"},
        {"id": "e3", "type": "message.created", "conversation": "fresh", "at": ago(60), "author": "customer", "text": "Hi"},
    ]});
    let (status, reply) = s.post("/api/v1/events", &t, batch.clone()).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["accepted"], 3);
    assert_eq!(reply["results"][0]["status"], "accepted");
    // The same batch again: acknowledged, ignored.
    let (_, again) = s.post("/api/v1/events", &t, batch).await;
    assert_eq!(again["accepted"], 0);
    assert_eq!(again["duplicates"], 3);

    let (status, list) = s.get("/api/v1/conversations", &t).await;
    assert_eq!(status, StatusCode::OK);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["external_id"], "late", "the nearest deadline first");
    assert_eq!(list[0]["policy_id"], pid);
    assert_eq!(list[0]["channel"], "whatsapp");
    assert_eq!(list[0]["contact"]["name"], "Ann");
    assert_eq!(list[0]["last_message"], "Where is my order?");
    let frt = &list[0]["sla"]["metrics"][0];
    assert_eq!(frt["metric"], "first_response");
    assert_eq!(frt["state"], "warning");
    assert!(
        (55..=60).contains(&frt["remaining_s"].as_i64().unwrap()),
        "{frt}"
    );
    assert_eq!(list[1]["external_id"], "fresh");
    assert_eq!(
        list[1]["channel"], "webchat",
        "a message for an unknown conversation creates it"
    );
    assert_eq!(list[1]["sla"]["metrics"][0]["state"], "ok");

    // An agent's reply meets the first response; the detail shows the timeline.
    let (_, r) = s
        .post("/api/v1/events", &t, json!({"id": "e4", "type": "message.created", "conversation": "late", "author": "agent", "text": "On its way", "agent_email": "a@t.io"}))
        .await;
    assert_eq!(r["accepted"], 1);
    let (status, one) = s.get("/api/v1/conversations/late", &t).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["sla"]["metrics"][0]["state"], "met");
    assert_eq!(one["sla"]["metrics"][1]["state"], "not_started");
    assert_eq!(one["owner"], "a@t.io");
    assert_eq!(one["timeline"].as_array().unwrap().len(), 3);
    let id = one["id"].as_i64().unwrap();
    let (_, by_id) = s.get(&format!("/api/v1/conversations/{id}"), &t).await;
    assert_eq!(by_id["external_id"], "late");
    assert_eq!(
        s.get("/api/v1/conversations/nope", &t).await.0,
        StatusCode::NOT_FOUND
    );

    // Filters.
    let (_, wa) = s.get("/api/v1/conversations?channel=whatsapp", &t).await;
    assert_eq!(wa.as_array().unwrap().len(), 1);
    let (_, unassigned) = s.get("/api/v1/conversations?owner=none", &t).await;
    assert_eq!(unassigned.as_array().unwrap()[0]["external_id"], "fresh");
    let (status, body) = s.get("/api/v1/conversations?status=lost", &t).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"][0]["field"], "status");
}

#[tokio::test]
async fn a_batch_with_one_bad_event_stores_nothing() {
    let s = TestServer::start().await;
    let t = s.token().await;
    let body = s.post_refused("/api/v1/events", &t, json!({"events": [
            {"id": "ok1", "type": "conversation.created", "conversation": "c1", "channel": "sms"},
            {"id": "bad", "type": "message.created", "conversation": "c1", "author": "robot"},
        ]})).await;
    assert_eq!(body["errors"][0]["field"], "events[1].author", "{body}");
    let (_, list) = s.get("/api/v1/conversations", &t).await;
    assert!(list.as_array().unwrap().is_empty());
    // Too many events, or too large a body.
    let many: Vec<Value> = (0..1001).map(|i| json!({"id": format!("m{i}"), "type": "conversation.handover", "conversation": "c"})).collect();
    let body = s
        .post_refused("/api/v1/events", &t, json!({"events": many}))
        .await;
    assert_eq!(body["errors"][0]["field"], "events");
    let huge = "x".repeat(1024 * 1024 + 10);
    let r = s
        .client
        .post(s.url("/api/v1/events"))
        .header(AUTHORIZATION, format!("Bearer {t}"))
        .header("content-type", "application/json")
        .body(format!(r#"{{"id":"h","type":"message.created","conversation":"c","author":"customer","text":"{huge}"}}"#))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let (_, list) = s.get("/api/v1/conversations", &t).await;
    assert!(list.as_array().unwrap().is_empty());
}

#[tokio::test]
async fn editing_a_policy_in_use_makes_a_version_and_can_apply_to_open_conversations() {
    let (s, t, pid) = start_with_std().await;
    s.post("/api/v1/events", &t, json!({"id": "a", "type": "conversation.created", "conversation": "c1", "channel": "email", "at": ago(600)})).await;
    let (_, v2) = edit_std_to_five_minutes(&s, &t, pid, "").await;
    assert_eq!(v2["version"], 2);
    assert_eq!(v2["reevaluated"], 0);
    assert_eq!(
        version_and_state(&s, &t, "c1").await,
        (json!(1), json!("ok")),
        "conversations keep their version"
    );
    // Version 2 is not in use yet: this edit changes it in place, then moves the open
    // conversation onto it.
    let (_, v3) = edit_std_to_five_minutes(&s, &t, pid, "?apply_to_open=true").await;
    assert_eq!(v3["version"], 2);
    assert_eq!(v3["reevaluated"], 1);
    assert_eq!(
        version_and_state(&s, &t, "c1").await,
        (v3["version"].clone(), json!("breached"))
    );
    let (_, versions) = s.get(&format!("/api/v1/policies/{pid}/versions"), &t).await;
    assert_eq!(versions.as_array().unwrap().len(), 2);
    assert_eq!(
        versions[0]["policy"]["first_response"], "1h",
        "the old version is kept"
    );
}

#[tokio::test]
async fn the_stream_announces_changes_and_replays_after_last_event_id() {
    let s = TestServer::start().await;
    let t = s.token().await;
    let mut r = stream(&s, &t, None).await;
    assert_eq!(r.status(), StatusCode::OK);
    let hello = first_chunk(&mut r).await;
    assert!(hello.contains("event: hello"));
    assert!(
        hello.contains("\"seq\":0"),
        "nothing published yet: {hello}"
    );
    s.post("/api/v1/events", &t, json!({"id": "x1", "type": "conversation.created", "conversation": "wa-1", "channel": "whatsapp"})).await;
    let text = read_until(&mut r, "\n\n").await;
    assert!(text.contains("event: conversation"), "{text}");
    assert!(text.contains("id: 1"), "{text}");
    assert!(text.contains("\"external_id\":\"wa-1\""), "{text}");
    assert!(text.contains("\"sla\""), "{text}");
    drop(r);

    // Two more changes while disconnected; reconnecting after id 1 replays exactly those.
    s.post("/api/v1/events", &t, json!({"id": "x2", "type": "conversation.created", "conversation": "wa-2", "channel": "whatsapp"})).await;
    s.post("/api/v1/events", &t, json!({"id": "x3", "type": "conversation.created", "conversation": "wa-3", "channel": "whatsapp"})).await;
    let mut r = stream(&s, &t, Some("1")).await;
    let text = read_until(&mut r, "wa-3").await;
    assert!(!text.contains("wa-1"), "{text}");
    assert!(text.find("wa-2").unwrap() < text.find("wa-3").unwrap());
    assert!(
        text.contains("\"seq\":1"),
        "the resumed stream is complete after the Last-Event-ID: {text}"
    );

    // A fresh stream starts after the latest change; so does one that asks to resume
    // from a number the server never gave out (a restarted server): the page reloads.
    for last in [None, Some("99")] {
        let hello = first_chunk(&mut stream(&s, &t, last).await).await;
        assert!(hello.contains("\"seq\":3"), "{last:?}: {hello}");
    }
}

#[tokio::test]
async fn the_queue_page_renders_badges_for_agents() {
    let s = TestServer::start().await;
    let t = s.token().await;
    s.create_default_policy(&t, json!({"name": "Chat", "first_response": "2m"}))
        .await;
    s.post("/api/v1/events", &t, json!({"events": [
        {"id": "q1", "type": "conversation.created", "conversation": "c1", "channel": "instagram", "visibility": "public", "contact": {"handle": "@bob"}, "at": ago(300)},
        {"id": "q2", "type": "message.created", "conversation": "c1", "author": "customer", "text": "Still waiting", "at": ago(300)},
    ]})).await;
    let admin = s.login("admin@t.io", "admin-pass-1").await;
    let html = s.cookie_get("/", &admin).await.text().await.unwrap();
    assert!(html.contains("@bob"), "contact shown");
    assert!(html.contains("Still waiting"));
    assert!(
        html.contains("badge breached"),
        "a 2m target after 5m is breached"
    );
    assert!(html.contains(">-3m<"), "breached three minutes ago");
    assert!(html.contains("First response: breached 3m ago"));
    let html = s
        .cookie_get("/?channel=sms", &admin)
        .await
        .text()
        .await
        .unwrap();
    assert!(!html.contains("@bob"), "the channel filter hides it");
}

/// The external ids of the queue rows in a page's HTML, in order.
fn rows_of(html: &str) -> Vec<String> {
    html.split("data-external-id=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn the_queue_page_comes_in_pages_that_work_without_javascript() {
    let s = TestServer::start().await;
    let t = s.token().await;
    s.create_default_policy(&t, json!({"name": "Chat", "first_response": "1h"}))
        .await;
    // 120 conversations, each a minute older than the one before: the oldest is due first.
    let n = 120;
    let events: Vec<Value> = (0..n)
        .map(|i| json!({"id": format!("p{i}"), "type": "message.created", "conversation": format!("c{i:03}"),
            "author": "customer", "text": "Hello", "at": ago(60 * (i + 1))}))
        .collect();
    let (status, reply) = s
        .post("/api/v1/events", &t, json!({ "events": events }))
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let queue_order: Vec<String> = (0..n).rev().map(|i| format!("c{i:03}")).collect();
    let (_, all) = s
        .get("/api/v1/conversations?status=open,pending,snoozed", &t)
        .await;
    let api_order: Vec<String> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["external_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(api_order, queue_order, "the nearest deadline first");

    // The API pages with limit and offset, in the same order.
    let (_, page) = s.get("/api/v1/conversations?limit=7&offset=30", &t).await;
    let ids: Vec<&str> = page
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["external_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, queue_order[30..37]);
    for bad in ["-1", "1000001", "x"] {
        let (status, body) = s
            .get(&format!("/api/v1/conversations?offset={bad}"), &t)
            .await;
        assert_eq!(status.as_u16() / 100, 4, "offset={bad}: {body}");
    }
    let (_, body) = s.get("/api/v1/conversations?offset=-1", &t).await;
    assert_eq!(error_fields(&body), ["offset"]);

    // The page renders one page of rows, says where it is, and links to the next.
    let admin = s.login("admin@t.io", "admin-pass-1").await;
    let per_page = promptly::limits::QUEUE_PAGE.default as usize;
    let first = s.cookie_get("/", &admin).await.text().await.unwrap();
    assert_eq!(rows_of(&first), queue_order[..per_page]);
    assert!(first.contains("1–50 of 120 open"), "the range is shown");
    assert!(
        first.contains(r#"href="/?page=2""#),
        "a link to the next page"
    );
    assert!(!first.contains(r#"rel="prev""#), "no page before the first");
    let last = s.cookie_get("/?page=3", &admin).await.text().await.unwrap();
    assert_eq!(rows_of(&last), queue_order[2 * per_page..]);
    assert!(last.contains("101–120 of 120 open"));
    assert!(
        last.contains(r#"href="/?page=2""#),
        "a link to the page before"
    );
    assert!(!last.contains(r#"rel="next""#), "no page after the last");
    // Every row is on exactly one page.
    let middle = s.cookie_get("/?page=2", &admin).await.text().await.unwrap();
    let paged: Vec<String> = [first, middle, last]
        .iter()
        .flat_map(|h| rows_of(h))
        .collect();
    assert_eq!(paged, queue_order);
    // A filter keeps to its own pages; a page past the end shows the range it reached.
    let filtered = s
        .cookie_get("/?owner=none&page=2", &admin)
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(rows_of(&filtered), queue_order[per_page..2 * per_page]);
    assert!(
        filtered.contains(r#"href="/?owner=none&amp;page=3""#)
            || filtered.contains(r#"href="/?owner=none&page=3""#)
    );
    let beyond = s.cookie_get("/?page=9", &admin).await.text().await.unwrap();
    assert!(rows_of(&beyond).is_empty());
    assert!(beyond.contains("0 of 120 open"));
}

#[tokio::test]
async fn applying_a_policy_to_a_large_queue_runs_as_a_job_with_progress() {
    let (s, t, pid) = start_with_std().await;
    let events: Vec<Value> = (0..1200)
        .map(|i| {
            json!({"id": format!("big-{i}"), "type": "conversation.created",
                         "conversation": format!("big-c{i}"), "channel": "sms", "at": ago(600)})
        })
        .collect();
    for chunk in events.chunks(1000) {
        let (status, _) = s
            .post("/api/v1/events", &t, json!({ "events": chunk }))
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, v2) = edit_std_to_five_minutes(&s, &t, pid, "?apply_to_open=true").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{v2}");
    assert_eq!(v2["version"], 2);
    assert_eq!(v2["job"]["total"], 1200);
    let job = v2["job"]["id"].as_i64().unwrap();
    let last = eventually(
        std::time::Duration::from_secs(30),
        "the job to finish",
        || async {
            let (status, j) = s.get(&format!("/api/v1/jobs/{job}"), &t).await;
            assert_eq!(status, StatusCode::OK);
            assert!(j["done"].as_u64().unwrap() <= 1200);
            (j["finished"] == true).then_some(j)
        },
    )
    .await;
    assert_eq!(last["done"], 1200);
    assert_eq!(last["error"], Value::Null);
    for c in ["big-c0", "big-c600", "big-c1199"] {
        assert_eq!(
            version_and_state(&s, &t, c).await,
            (json!(2), json!("breached")),
            "{c}"
        );
    }
    assert_eq!(s.get("/api/v1/jobs/999", &t).await.0, StatusCode::NOT_FOUND);
}

/// What a channel sends is not typed by a person: a browser session, even an admin's,
/// cannot post raw events (agents reply on the conversation page); a token of any role can.
#[tokio::test]
async fn only_integration_tokens_post_events() {
    let (s, admin, agent) = TestServer::start_with_agent().await;
    let event = json!({"id": "e1", "type": "conversation.created", "conversation": "c1", "channel": "email"});
    for cookie in [&agent, &admin] {
        let r = s
            .client
            .post(s.url("/api/v1/events"))
            .header(reqwest::header::COOKIE, cookie.as_str())
            .header(reqwest::header::ORIGIN, &s.base)
            .json(&event)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
    }
    let t = s.token().await;
    let (_, queue) = s.get("/api/v1/conversations", &t).await;
    assert_eq!(queue, json!([]), "nothing was stored");
    let agent_token = s.new_token("bridge", None).await.token;
    let (status, body) = s.post("/api/v1/events", &agent_token, event).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["accepted"], 1);
}

/// Event and conversation ids are the integration's own: two integrations that both send
/// the same ids keep two conversations; a replacement token of the same source continues the
/// first one's, and a token holder cannot claim another integration's ids.
#[tokio::test]
async fn ids_are_namespaced_by_the_sending_integration() {
    let (s, person) = TestServer::start_as_admin().await;
    let admin = s.token().await;
    let token = |name: &str, source: Option<&str>| {
        let mut body = json!({"name": name, "scopes": ["events:write", "conversations:read"]});
        if let Some(source) = source {
            body["source"] = json!(source);
        }
        let (s, admin) = (&s, &admin);
        async move {
            let (status, created) = s.post("/api/v1/tokens", admin, body).await;
            assert_eq!(status, StatusCode::CREATED, "{created}");
            (
                created["source"].as_str().unwrap().to_string(),
                created["token"].as_str().unwrap().to_string(),
            )
        }
    };
    let (whatsapp_source, whatsapp) = token("WhatsApp (old)", Some("whatsapp")).await;
    let (email_source, email) = token("Email bridge", None).await;
    assert_eq!(
        (whatsapp_source.as_str(), email_source.as_str()),
        ("whatsapp", "Email bridge")
    );
    let batch = json!({"events": [
        {"id": "1", "type": "conversation.created", "conversation": "one", "channel": "whatsapp"},
        {"id": "2", "type": "message.created", "conversation": "one", "author": "customer", "text": "Hi"},
    ]});
    for t in [&whatsapp, &email] {
        let (status, body) = s.post("/api/v1/events", t, batch.clone()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["accepted"], 2, "{body}");
    }
    // A conversation id a token names is its own integration's; a person's is any
    // integration's, and one that several use is a conflict that names them.
    let (_, a) = s.get("/api/v1/conversations/one", &whatsapp).await;
    let (_, b) = s.get("/api/v1/conversations/one", &email).await;
    assert_ne!(a["id"], b["id"], "{a} {b}");
    let answer = s.cookie_get("/api/v1/conversations/one", &person).await;
    assert_eq!(answer.status(), StatusCode::CONFLICT);
    let body: Value = answer.json().await.unwrap();
    let said = body["error"].as_str().unwrap_or_default();
    assert!(
        said.contains("\"whatsapp\"") && said.contains("\"Email bridge\""),
        "{body}"
    );
    assert_eq!(
        (a["source"].as_str(), b["source"].as_str()),
        (Some("whatsapp"), Some("Email bridge"))
    );
    let (_, queue) = s.get("/api/v1/conversations", &admin).await;
    assert_eq!(queue.as_array().unwrap().len(), 2);

    // The replacement token of the same source: its repeat is a duplicate, its new event
    // joins the same conversation.
    let (_, renewed) = token("WhatsApp (new)", Some("whatsapp")).await;
    let next = json!({"events": [
        {"id": "2", "type": "message.created", "conversation": "one", "author": "customer", "text": "Hi"},
        {"id": "3", "type": "message.created", "conversation": "one", "author": "customer", "text": "Anyone?"},
    ]});
    let (_, body) = s.post("/api/v1/events", &renewed, next).await;
    assert_eq!(
        (body["accepted"].as_u64(), body["duplicates"].as_u64()),
        (Some(1), Some(1)),
        "{body}"
    );
    assert_eq!(body["results"][1]["conversation_id"], a["id"], "{body}");
    let (_, b_after) = s
        .get(&format!("/api/v1/conversations/{}", b["id"]), &admin)
        .await;
    assert_eq!(
        b_after["timeline"].as_array().unwrap().len(),
        2,
        "the other integration's conversation is untouched"
    );

    // A source is a name like any other: too long is refused by name.
    let long = "x".repeat(promptly::limits::NAME_LEN + 1);
    let body = s
        .post_refused(
            "/api/v1/tokens",
            &admin,
            json!({"name": "ok", "source": long}),
        )
        .await;
    assert_eq!(error_fields(&body), ["source"]);
}

/// An event's `at` must lie within the window around the server's time (7 days back, 5
/// minutes ahead): a backdated or future event is refused with its field, and nothing of the
/// batch is stored; the edges are accepted.
#[tokio::test]
async fn events_outside_the_time_window_are_refused() {
    let now = promptly::instant::utc("2026-12-01T12:00:00Z");
    let s = TestServer::start_at(now).await;
    let t = s.token().await;
    let at = |d: Duration| (now + d).to_rfc3339_opts(SecondsFormat::Secs, true);
    let created = |id: &str, when: String| json!({"id": id, "type": "conversation.created", "conversation": id, "channel": "email", "at": when});
    for (when, why) in [
        (
            Duration::days(7) + Duration::seconds(1),
            "backdated past 7 days",
        ),
        (
            -Duration::minutes(5) - Duration::seconds(1),
            "more than 5 minutes ahead",
        ),
        (Duration::days(365 * 2025), "year 1"),
    ] {
        let batch =
            json!({"events": [created("ok", at(Duration::zero())), created("bad", at(-when))]});
        let body = s.post_refused("/api/v1/events", &t, batch).await;
        assert_eq!(body["errors"][0]["field"], "events[1].at", "{why}: {body}");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("7d before and 5m after"),
            "{body}"
        );
    }
    let (_, queue) = s.get("/api/v1/conversations", &t).await;
    assert_eq!(queue, json!([]), "no event of a refused batch was stored");
    let batch = json!({"events": [
        created("oldest", at(-Duration::days(7))),
        created("newest", at(Duration::minutes(5))),
    ]});
    let (status, body) = s.post("/api/v1/events", &t, batch).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["accepted"], 2);
}

/// A conversation takes at most 50 survey answers (and 10,000 events): past that, its events
/// are refused by name and nothing of the batch is stored. The live stream carries a
/// preview of a long last message, the conversation the whole text.
#[tokio::test]
async fn conversations_have_caps_and_the_stream_carries_previews() {
    let s = TestServer::start().await;
    let t = s.token().await;
    let survey = |i: usize| json!({"id": format!("s{i}"), "type": "survey.submitted", "conversation": "c", "survey": "csat", "score": 5});
    let surveys: Vec<Value> = (0..promptly::limits::CONVERSATION_SURVEYS)
        .map(survey)
        .collect();
    let (status, body) = s
        .post("/api/v1/events", &t, json!({ "events": surveys }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let one_more = json!({"events": [
        {"id": "m1", "type": "message.created", "conversation": "c", "author": "customer", "text": "kept?"},
        survey(999),
    ]});
    let body = s.post_refused("/api/v1/events", &t, one_more).await;
    assert_eq!(
        body["errors"][0]["field"], "events[1].conversation",
        "{body}"
    );
    assert!(body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("limit of 50 survey answers"));
    let body = s.post_refused("/api/v1/events", &t, survey(1000)).await;
    assert_eq!(body["errors"][0]["field"], "conversation", "{body}");
    let (_, c) = s.get("/api/v1/conversations/c", &t).await;
    assert_eq!(
        c["timeline"].as_array().unwrap().len(),
        50,
        "nothing of the refused batches"
    );

    let mut live = stream(&s, &t, None).await;
    first_chunk(&mut live).await;
    let long: String = "é".repeat(1000);
    let (status, _) = s
        .post(
            "/api/v1/events",
            &t,
            json!({"id": "long", "type": "message.created", "conversation": "c", "author": "customer", "text": long}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let text = read_until(&mut live, "…").await;
    let frame = text
        .lines()
        .find(|l| l.starts_with("data:") && l.contains("\"conversation\""))
        .unwrap();
    let event: Value = serde_json::from_str(frame.trim_start_matches("data:").trim()).unwrap();
    let preview = event["conversation"]["last_message"].as_str().unwrap();
    assert_eq!(preview.chars().count(), promptly::limits::PREVIEW_LEN + 1);
    assert!(preview.ends_with('…'));
    let (_, c) = s.get("/api/v1/conversations/c", &t).await;
    assert_eq!(
        c["last_message"], long,
        "the conversation has the whole text"
    );
}

/// A server with an agent signed in, a 10-minute first-response default policy and `events`
/// posted: the server, the admin's cookie, the agent's cookie and an admin token.
async fn waiting(events: Value) -> (TestServer, String, String, String) {
    let (s, admin, agent) = TestServer::start_with_agent().await;
    let t = s.token().await;
    s.create_default_policy(&t, json!({"name": "Quick", "first_response": "10m"}))
        .await;
    let (status, body) = s.post("/api/v1/events", &t, events).await;
    assert!(status.is_success(), "{body}");
    (s, admin, agent, t)
}

/// `POST /api/v1/conversations/take-next`: an agent gets the unassigned conversation with the
/// nearest deadline, assigned to them; then the next; 204 when nothing waits. A token (nobody
/// to assign) and a manager (who does not change conversations) get 403.
#[tokio::test]
async fn take_next_assigns_the_caller_the_nearest_deadline() {
    let (s, admin, agent, t) = waiting(json!({"events": [
        {"id": "n-1", "type": "conversation.created", "conversation": "newer", "channel": "sms", "at": ago(60)},
        {"id": "o-1", "type": "conversation.created", "conversation": "older", "channel": "sms", "at": ago(120)},
    ]}))
    .await;
    let take = |cookie: String| {
        let s = &s;
        async move {
            s.form_post(&cookie, "/api/v1/conversations/take-next", &[])
                .await
        }
    };
    for expected in ["older", "newer"] {
        let r = take(agent.clone()).await;
        assert_eq!(r.status(), StatusCode::OK);
        let c: Value = r.json().await.unwrap();
        assert_eq!(c["external_id"], expected);
        assert_eq!(c["owner"], "agent@t.io", "{c}");
    }
    assert_eq!(take(agent.clone()).await.status(), StatusCode::NO_CONTENT);
    let (status, _) = s
        .post("/api/v1/conversations/take-next", &t, json!({}))
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a token has nobody to assign"
    );
    let manager = s
        .user_session(&admin, "mia@t.io", "manager", "manager-pass-1")
        .await;
    assert_eq!(take(manager).await.status(), StatusCode::FORBIDDEN);
}

/// The queue's "Take next" form: the taken conversation's page, or back to the queue saying
/// nothing waits; a manager is refused.
#[tokio::test]
async fn the_take_next_form_opens_the_taken_conversation() {
    let (s, admin, agent, _) = waiting(
        json!({"id": "w-1", "type": "conversation.created", "conversation": "waiting", "channel": "sms", "at": ago(30)}),
    )
    .await;
    let id = s
        .store
        .conversation_by_external_id("test", "waiting")
        .await
        .unwrap()
        .map(|c| c.id);
    let r = s.form_post(&agent, "/conversations/take-next", &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = server_support::location(&r);
    let row = s.store.conversation(id.unwrap_or_default()).await.unwrap();
    assert_eq!(
        to,
        format!(
            "/conversations/{}?notice=taken",
            row.as_ref().map_or(0, |c| c.id)
        )
    );
    assert_eq!(row.unwrap().summary.owner.as_deref(), Some("agent@t.io"));
    let r = s.form_post(&agent, "/conversations/take-next", &[]).await;
    assert_eq!(server_support::location(&r), "/?notice=nothing-waiting");
    assert!(s
        .page(&agent, "/?notice=nothing-waiting")
        .await
        .contains("Nothing is waiting"));
    let manager = s
        .user_session(&admin, "mia@t.io", "manager", "manager-pass-1")
        .await;
    let r = s.form_post(&manager, "/conversations/take-next", &[]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

/// An agent's teams (`PATCH /api/v1/users/{id}` with `teams`) decide what "take next" draws
/// from: a Billing agent gets the Billing conversation though a Support one is due first; a
/// user in no team draws from every team. Bad teams are a 422 on `teams` that changes nothing.
#[tokio::test]
async fn take_next_draws_from_the_callers_teams() {
    let (s, _admin, agent, t) = waiting(json!({"events": [
        {"id": "s-1", "type": "conversation.created", "conversation": "support", "channel": "sms", "team": "Support", "at": ago(120)},
        {"id": "b-1", "type": "conversation.created", "conversation": "billing", "channel": "sms", "team": "Billing", "at": ago(60)},
    ]}))
    .await;
    let id = s
        .store
        .user_by_email("agent@t.io")
        .await
        .unwrap()
        .expect("the agent")
        .id;
    let path = format!("/api/v1/users/{id}");
    let (status, body) = s
        .send(
            Method::PATCH,
            &path,
            &t,
            Some(json!({"teams": ["x".repeat(101)]})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_fields(&body), vec!["teams"]);
    let (status, body) = s
        .send(
            Method::PATCH,
            &path,
            &t,
            Some(json!({"teams": [" Billing ", "Billing"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["teams"], json!(["Billing"]));
    let r = s
        .form_post(&agent, "/api/v1/conversations/take-next", &[])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let c: Value = r.json().await.unwrap();
    assert_eq!(c["external_id"], "billing");
    let r = s
        .form_post(&agent, "/api/v1/conversations/take-next", &[])
        .await;
    assert_eq!(
        r.status(),
        StatusCode::NO_CONTENT,
        "nothing left in Billing"
    );
    let (status, _) = s
        .send(Method::PATCH, &path, &t, Some(json!({"teams": []})))
        .await;
    assert_eq!(status, StatusCode::OK);
    let r = s
        .form_post(&agent, "/api/v1/conversations/take-next", &[])
        .await;
    let c: Value = r.json().await.unwrap();
    assert_eq!(c["external_id"], "support", "in no team: every team's");
}
