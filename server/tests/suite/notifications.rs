//! Notifications and the live service level's band changes over real HTTP, on a test clock:
//! who gets an SLA warning or breach (the owner; the team's queue when unassigned), the
//! managers' band changes, rules' `notify`, marking read and the settings; and a band change
//! fired once however many servers look at it.

use crate::server_support::{eventually, TestServer};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use promptly_server::services::live::look_at_bands;
use reqwest::header::{COOKIE, ORIGIN};
use reqwest::StatusCode;
use serde_json::{json, Value};

const WITHIN: std::time::Duration = std::time::Duration::from_secs(20);

/// Monday 2026-12-07, 10:00 UTC.
fn start() -> DateTime<Utc> {
    promptly::instant::utc("2026-12-07T10:00:00Z")
}

fn at(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

async fn notifications(s: &TestServer, cookie: &str) -> Value {
    let r = s.cookie_get("/api/v1/notifications", cookie).await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

/// The titles of a person's notifications of `kind`, oldest first.
async fn titles(s: &TestServer, cookie: &str, kind: &str) -> Vec<String> {
    let list = notifications(s, cookie).await;
    let mut out: Vec<String> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == kind)
        .map(|n| n["title"].as_str().unwrap().to_string())
        .collect();
    out.reverse();
    out
}

async fn session_json(
    s: &TestServer,
    cookie: &str,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> (StatusCode, Value) {
    let r = s
        .client
        .request(method, s.url(path))
        .header(COOKIE, cookie)
        .header(ORIGIN, &s.base)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn created(c: &str, t: DateTime<Utc>, team: &str, owner: Option<&str>, name: &str) -> Value {
    let created = json!({"id": format!("{c}-0"), "conversation": c, "type": "conversation.created",
        "at": at(t), "channel": "whatsapp", "team": team, "contact": {"name": name}});
    match owner {
        Some(owner) => json!([created, {"id": format!("{c}-1"), "conversation": c,
            "type": "conversation.updated", "at": at(t), "owner": owner}]),
        None => json!([created]),
    }
}

/// The events of these conversations, as one batch.
fn batch(conversations: Vec<Value>) -> Value {
    let events: Vec<Value> = conversations
        .into_iter()
        .flat_map(|c| c.as_array().unwrap().clone())
        .collect();
    json!({ "events": events })
}

/// Ada and Bo work in Billing, Cy in Sales, Di in no team; Max manages. Three conversations
/// breach their 5-minute first response: one Bo owns, one unassigned in Billing, one
/// unassigned in Sales.
#[tokio::test]
async fn warnings_and_breaches_reach_the_owner_or_the_teams_queue_only() {
    let s = TestServer::start_at(start()).await;
    let t = s.token().await;
    let admin = s.login("admin@t.io", "admin-pass-1").await;
    let mut people = std::collections::HashMap::new();
    for (email, role, teams) in [
        ("ada@t.io", "agent", "Billing"),
        ("bo@t.io", "agent", "Billing"),
        ("cy@t.io", "agent", "Sales"),
        ("di@t.io", "agent", ""),
        ("max@t.io", "manager", ""),
    ] {
        s.create_user(&admin, email, role, "pass-word-1").await;
        if !teams.is_empty() {
            let users = s.get_ok("/api/v1/users", &t).await;
            let id = users
                .as_array()
                .unwrap()
                .iter()
                .find(|u| u["email"] == email)
                .unwrap()["id"]
                .as_i64()
                .unwrap();
            let (status, body) = s
                .send(
                    reqwest::Method::PATCH,
                    &format!("/api/v1/users/{id}"),
                    &t,
                    Some(json!({"teams": [teams]})),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        people.insert(email, s.login(email, "pass-word-1").await);
    }
    s.create_default_policy(
        &t,
        json!({"name": "Chat", "first_response": "5m", "warning": "60%"}),
    )
    .await;
    // Ada asks to be told of Sales' breaches too, by a rule.
    s.create(
        "/api/v1/rules",
        &t,
        json!({"name": "Sales breaches to Ada", "event": "sla.breached",
               "conditions": [{"field": "team", "op": "is", "value": "sales"}],
               "actions": [{"type": "notify", "users": ["ada@t.io"],
                            "text": "Sales breached: {{conversation.link}}"}]}),
    )
    .await;
    let events = batch(vec![
        created("owned", start(), "Billing", Some("bo@t.io"), "Olga"),
        created("billing", start(), "Billing", None, "Ben"),
        created("sales", start(), "Sales", None, "Sam"),
    ]);
    let (status, body) = s.post("/api/v1/events", &t, events).await;
    assert!(status.is_success(), "{body}");

    s.advance(Duration::minutes(6));
    let ada = &people["ada@t.io"];
    eventually(WITHIN, "Ada's notifications", || async {
        (titles(&s, ada, "breach").await.len() == 1 && titles(&s, ada, "rule").await.len() == 1)
            .then_some(())
    })
    .await;
    eventually(WITHIN, "Bo's notifications", || async {
        (titles(&s, &people["bo@t.io"], "breach").await.len() == 2).then_some(())
    })
    .await;

    let breach = |who: &str| format!("First response breached: {who} on WhatsApp");
    let warning = |who: &str| format!("First response running out: {who} on WhatsApp");
    // Ada: Billing's unassigned one, and Sales' by the rule.
    assert_eq!(titles(&s, ada, "warning").await, vec![warning("Ben")]);
    assert_eq!(titles(&s, ada, "breach").await, vec![breach("Ben")]);
    let rule = notifications(&s, ada).await["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["kind"] == "rule")
        .cloned()
        .unwrap();
    assert!(rule["title"]
        .as_str()
        .unwrap()
        .starts_with("Sales breached: http://"));
    assert!(rule["link"]
        .as_str()
        .unwrap()
        .starts_with("/conversations/"));
    // Bo: his own, and Billing's unassigned one.
    let mut bo = titles(&s, &people["bo@t.io"], "breach").await;
    bo.sort();
    assert_eq!(bo, vec![breach("Ben"), breach("Olga")]);
    // Cy: Sales' unassigned one only.
    assert_eq!(
        titles(&s, &people["cy@t.io"], "breach").await,
        vec![breach("Sam")]
    );
    // Di works in no team: these conversations all have one. Max is a manager.
    for who in ["di@t.io", "max@t.io"] {
        let list = notifications(&s, &people[who]).await;
        assert_eq!(list["items"], json!([]), "{who}: {list}");
        assert_eq!(list["unread"], 0);
    }
    // The admin is in no team either.
    assert_eq!(notifications(&s, &admin).await["items"], json!([]));

    // Read: one, then all; another person's id changes nothing.
    let list = notifications(&s, ada).await;
    assert_eq!(list["unread"], 3);
    let first = list["items"][0]["id"].as_i64().unwrap();
    let bo_id = notifications(&s, &people["bo@t.io"]).await["items"][0]["id"]
        .as_i64()
        .unwrap();
    let (status, body) = session_json(
        &s,
        ada,
        reqwest::Method::POST,
        "/api/v1/notifications/read",
        json!({"ids": [first, bo_id]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"marked": 1, "unread": 2}));
    // Bo's: a warning and a breach of each of two.
    assert_eq!(notifications(&s, &people["bo@t.io"]).await["unread"], 4);
    let (_, body) = session_json(
        &s,
        ada,
        reqwest::Method::POST,
        "/api/v1/notifications/read",
        json!({}),
    )
    .await;
    assert_eq!(body, json!({"marked": 2, "unread": 0}));
    // A token has no notifications.
    let (status, _) = s.get("/api/v1/notifications", &t).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Cy turns off the team's unassigned conversations: a new Sales breach does not reach
    // him; one of his own does.
    let (status, saved) = session_json(
        &s,
        &people["cy@t.io"],
        reqwest::Method::PUT,
        "/api/v1/me/notification-settings",
        json!({"team_unassigned": false, "quiet_from": "22:00", "quiet_to": "07:00"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(saved["quiet_from"], "22:00");
    let (status, refused) = session_json(
        &s,
        &people["cy@t.io"],
        reqwest::Method::PUT,
        "/api/v1/me/notification-settings",
        json!({"quiet_from": "22:00"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    let now = s.now();
    let events = batch(vec![
        created("sales-2", now, "Sales", None, "Sue"),
        created("cys", now, "Sales", Some("cy@t.io"), "Carl"),
    ]);
    let (status, body) = s.post("/api/v1/events", &t, events).await;
    assert!(status.is_success(), "{body}");
    s.advance(Duration::minutes(6));
    eventually(WITHIN, "Cy's own breach", || async {
        titles(&s, &people["cy@t.io"], "breach")
            .await
            .contains(&breach("Carl"))
            .then_some(())
    })
    .await;
    // Sue's and Carl's breaches have fired (the rule told Ada of both).
    eventually(WITHIN, "Sue's and Carl's breaches", || async {
        titles(&s, ada, "rule").await.len().eq(&3).then_some(())
    })
    .await;
    assert!(!titles(&s, &people["cy@t.io"], "breach")
        .await
        .contains(&breach("Sue")));
}

/// Two servers on one database look at the live service level at once when Billing's first
/// contact waits past Y: the band change fires once (one rule run, one notification each
/// for the manager and the rule's team), and looking again fires nothing.
#[tokio::test]
async fn a_band_change_fires_once_across_two_servers() {
    let s = TestServer::start_at(start()).await;
    let t = s.token().await;
    let admin = s.login("admin@t.io", "admin-pass-1").await;
    s.create_user(&admin, "max@t.io", "manager", "pass-word-1")
        .await;
    s.create_user(&admin, "ada@t.io", "agent", "pass-word-1")
        .await;
    let max = s.login("max@t.io", "pass-word-1").await;
    let ada = s.login("ada@t.io", "pass-word-1").await;
    s.create_default_policy(&t, json!({"name": "Chat", "first_response": "30m"}))
        .await;
    let rule = s
        .create(
            "/api/v1/rules",
            &t,
            json!({"name": "Billing all hands", "event": "service_level.band_changed",
                   "conditions": [{"field": "team", "op": "is", "value": "billing"},
                                  {"field": "service_level.band", "op": "is", "value": "all_hands"}],
                   "actions": [{"type": "notify", "users": ["ada@t.io"],
                                "text": "{{service_level.row}} is at {{service_level.band}}"}]}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    // Answered within Y (5 minutes by default): on target.
    let mut events = batch(vec![created("c1", start(), "billing", None, "Ann")]);
    events["events"].as_array_mut().unwrap().push(
        json!({"id": "c1-r", "conversation": "c1", "type": "message.created",
               "at": at(start() + Duration::seconds(30)), "author": "agent", "text": "Hi",
               "agent_email": "ada@t.io"}),
    );
    let (status, body) = s.post("/api/v1/events", &t, events).await;
    assert!(status.is_success(), "{body}");
    let b = s.second_server().await;
    look_at_bands(&s.state).await.unwrap();
    look_at_bands(&b).await.unwrap();
    let bands = s.store.band_states().await.unwrap();
    assert_eq!(
        bands.get("team:billing").map(|b| b.as_str()),
        Some("on_target")
    );

    // A second contact waits 10 minutes: 1 of 2 within Y, 50 % against 80 %: all hands.
    let events = batch(vec![created("c2", s.now(), "billing", None, "Bob")]);
    let (status, body) = s.post("/api/v1/events", &t, events).await;
    assert!(status.is_success(), "{body}");
    s.advance(Duration::minutes(10));
    // Both at once (this server's own watcher looks too): whoever fires a change, it fires
    // once.
    let (one, two) = tokio::join!(look_at_bands(&s.state), look_at_bands(&b));
    one.unwrap();
    two.unwrap();
    let managers = eventually(WITHIN, "the manager's band notifications", || async {
        let mut t = titles(&s, &max, "band_changed").await;
        t.sort();
        (t.len() >= 2).then_some(t)
    })
    .await;
    let (one, two) = tokio::join!(look_at_bands(&s.state), look_at_bands(&b));
    assert_eq!(one.unwrap().len() + two.unwrap().len(), 0, "nothing new");
    let mut again = titles(&s, &max, "band_changed").await;
    again.sort();
    assert_eq!(again, managers);
    assert!(
        managers.contains(&"billing: On target → All hands".to_string()),
        "{managers:?}"
    );
    assert!(managers.contains(&"Everyone: On target → All hands".to_string()));
    assert_eq!(
        managers
            .iter()
            .filter(|t| t.starts_with("billing:"))
            .count(),
        1
    );
    // The rule ran once, for Billing's row only; Ada is told by it, not as a manager.
    assert_eq!(
        titles(&s, &ada, "rule").await,
        vec!["billing is at 50.0 % (All hands)".to_string()]
    );
    assert!(titles(&s, &ada, "band_changed").await.is_empty());
    let rules = s.get_ok("/api/v1/rules", &t).await;
    let fired = rules
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == rule)
        .unwrap()["fired_today"]
        .clone();
    assert_eq!(fired, 1, "{rules}");
}

/// The notifications page without JavaScript: the bell's count on every page, the list,
/// opening one (read, and its conversation opens), the settings form and "Mark all read".
#[tokio::test]
async fn the_notifications_page_works_without_javascript() {
    let s = TestServer::start_at(start()).await;
    let t = s.token().await;
    let admin = s.login("admin@t.io", "admin-pass-1").await;
    let ada = s
        .user_session(&admin, "ada@t.io", "agent", "pass-word-1")
        .await;
    s.create_default_policy(&t, json!({"name": "Chat", "first_response": "5m"}))
        .await;
    let events = batch(vec![
        created("one", start(), "Billing", Some("ada@t.io"), "Olga"),
        created("two", start(), "Billing", Some("ada@t.io"), "Otto"),
    ]);
    let (status, body) = s.post("/api/v1/events", &t, events).await;
    assert!(status.is_success(), "{body}");
    s.advance(Duration::minutes(6));
    eventually(WITHIN, "two breaches", || async {
        (titles(&s, &ada, "breach").await.len() == 2).then_some(())
    })
    .await;

    // Two warnings (the policy's default, at 75 %) and two breaches.
    let queue = s.page(&ada, "/").await;
    assert!(queue.contains(r#"data-unread="4""#), "the bell: {queue}");
    assert!(queue.contains(r#"aria-label="Notifications: 4 unread""#));
    // Other pages carry the count only, not the notifications' texts.
    let account = s.page(&ada, "/account").await;
    assert!(account.contains(r#"data-unread="4""#));
    assert!(!account.contains("First response breached"), "{account}");
    let page = s.page(&ada, "/notifications").await;
    assert!(page.contains("First response breached: Olga on WhatsApp"));
    assert!(page.contains("First response breached: Otto on WhatsApp"));
    assert!(page.contains("4 unread"));

    let list = notifications(&s, &ada).await;
    let olga = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["title"] == "First response breached: Olga on WhatsApp")
        .unwrap()
        .clone();
    let to = s
        .form_redirect(&ada, &format!("/notifications/{}/open", olga["id"]), &[])
        .await;
    assert_eq!(to, olga["link"].as_str().unwrap());
    assert_eq!(notifications(&s, &ada).await["unread"], 3);
    // Someone else's notification opens nothing and stays unread.
    let bo = s
        .user_session(&admin, "bo@t.io", "agent", "pass-word-1")
        .await;
    let otto = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["title"].as_str().unwrap().contains("Otto"))
        .unwrap()["id"]
        .clone();
    let to = s
        .form_redirect(&bo, &format!("/notifications/{otto}/open"), &[])
        .await;
    assert_eq!(to, "/notifications");
    assert_eq!(notifications(&s, &ada).await["unread"], 3);

    // Settings: breaches muted, quiet hours; then both read.
    let to = s
        .form_redirect(
            &ada,
            "/notifications/settings",
            &[
                ("want_warning", "on"),
                ("want_band_changed", "on"),
                ("want_rule", "on"),
                ("quiet_from", "22:00"),
                ("quiet_to", "07:00"),
            ],
        )
        .await;
    assert_eq!(to, "/notifications?notice=saved");
    let r = s.cookie_get("/api/v1/me/notification-settings", &ada).await;
    let saved: Value = r.json().await.unwrap();
    assert_eq!(
        saved,
        json!({"muted": ["breach"], "team_unassigned": false, "sound": false,
               "quiet_from": "22:00", "quiet_to": "07:00"})
    );
    let to = s
        .form_redirect(&ada, "/notifications/settings", &[("quiet_from", "22:00")])
        .await;
    assert!(to.starts_with("/notifications?error="), "{to}");
    let to = s.form_redirect(&ada, "/notifications/read", &[]).await;
    assert_eq!(to, "/notifications?notice=read");
    assert_eq!(notifications(&s, &ada).await["unread"], 0);
    // Muted: a new breach of Ada's own does not reach her.
    let events = batch(vec![created(
        "three",
        s.now(),
        "Billing",
        Some("ada@t.io"),
        "Oda",
    )]);
    let (status, body) = s.post("/api/v1/events", &t, events).await;
    assert!(status.is_success(), "{body}");
    s.advance(Duration::minutes(6));
    eventually(WITHIN, "Oda's breach fired", || async {
        let c = s.get_ok("/api/v1/conversations", &t).await;
        c.as_array()
            .unwrap()
            .iter()
            .any(|c| c["external_id"] == "three" && c["sla"]["metrics"][0]["state"] == "breached")
            .then_some(())
    })
    .await;
    assert_eq!(titles(&s, &ada, "breach").await.len(), 2);
}
