//! The audit log as an admin reads it: every change to settings and accounts, who made it
//! (a session's e-mail, a token's name), before and after with secrets masked, newest
//! first, filtered and paged; the page shows the same.

use crate::server_support::TestServer;
use reqwest::StatusCode;
use serde_json::{json, Value};

fn calendar(name: &str) -> Value {
    json!({"name": name, "timezone": "Europe/Amsterdam",
      "hours": {"mon": ["09:00-17:00"], "tue": ["09:00-17:00"]}})
}

async fn audit(s: &TestServer, t: &str, query: &str) -> Vec<Value> {
    let (status, body) = s.get(&format!("/api/v1/audit{query}"), t).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_array().unwrap().clone()
}

#[tokio::test]
async fn changes_are_recorded_with_who_when_before_and_after() {
    let (s, admin) = TestServer::start_as_admin().await;
    let t = s.token().await;

    // Made with the token: a calendar created, renamed and deleted, and a rule with a secret.
    let cal = s.create("/api/v1/calendars", &t, calendar("Office")).await;
    let id = cal["id"].as_i64().unwrap();
    let (status, _) = s
        .put(
            &format!("/api/v1/calendars/{id}"),
            &t,
            calendar("Office hours"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = s
        .send(
            reqwest::Method::DELETE,
            &format!("/api/v1/calendars/{id}"),
            &t,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    s.create(
        "/api/v1/rules",
        &t,
        json!({"name": "Notify", "event": "message.created", "conditions": [],
               "actions": [{"type": "webhook", "url": "https://93.184.216.34/hook", "secret": "hook-secret"}]}),
    )
    .await;
    // Made in the browser: an agent created and made a manager.
    s.create_user(&admin, "ann@t.io", "agent", "ann-pass-123")
        .await;
    let ann = s.store.user_by_email("ann@t.io").await.unwrap().unwrap().id;
    s.form_redirect(
        &admin,
        &format!("/admin/users/{ann}/role"),
        &[("role", "manager")],
    )
    .await;

    let all = audit(&s, &t, "").await;
    let actions: Vec<(String, String)> = all
        .iter()
        .map(|e| {
            (
                e["entity"].as_str().unwrap().to_string(),
                e["action"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = [
        ("user", "role"),
        ("user", "create"),
        ("rule", "create"),
        ("calendar", "delete"),
        ("calendar", "update"),
        ("calendar", "create"),
        ("token", "create"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(actions, expected, "newest first");

    let role = &all[0];
    assert_eq!(role["actor"], "admin@t.io");
    assert_eq!(role["entity_id"], ann.to_string());
    assert_eq!(role["before"]["role"], "agent");
    assert_eq!(role["after"]["role"], "manager");
    assert!(role["after"].get("password_hash").is_none());
    let rule = &all[2];
    assert_eq!(rule["actor"], "token:test");
    assert_eq!(rule["before"], Value::Null);
    assert_eq!(rule["after"]["actions"][0]["secret"], "********");
    assert!(!serde_json::to_string(&all).unwrap().contains("hook-secret"));
    let update = &all[4];
    assert_eq!(update["before"]["name"], "Office");
    assert_eq!(update["after"]["name"], "Office hours");
    assert_eq!(
        all[3]["after"],
        Value::Null,
        "a deletion keeps the record before"
    );
    assert!(
        all[6]["after"].get("token").is_none(),
        "never the token itself"
    );

    // Filters and pages.
    let calendars = audit(&s, &t, "?entity=calendar").await;
    assert_eq!(calendars.len(), 3);
    let by_admin = audit(&s, &t, "?actor=ADMIN@t.io").await;
    assert_eq!(by_admin.len(), 2);
    let first = audit(&s, &t, "?limit=2").await;
    let next = audit(&s, &t, &format!("?limit=2&before={}", first[1]["id"])).await;
    assert_eq!(next[0]["id"], all[2]["id"]);
    let future = (s.now() + chrono::Duration::hours(1)).to_rfc3339();
    let since = format!("?since={}", future.replace('+', "%2B"));
    assert!(audit(&s, &t, &since).await.is_empty());
    for bad in ["?entity=planet", "?since=yesterday", "?limit=0"] {
        let (status, body) = s.get(&format!("/api/v1/audit{bad}"), &t).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
    }

    // The page shows the same, filtered by its form.
    let html = s.page(&admin, "/admin/audit?entity=user").await;
    assert!(html.contains("data-action=\"role\""));
    assert!(html.contains("ann") || html.contains(&ann.to_string()));
    assert!(!html.contains("data-entity=\"calendar\""));
    assert!(html.contains("href=\"/admin/audit\"") || html.contains("Audit log"));
}
