//! A user's time zone: set with `PATCH /api/v1/me` or the account page's form, and every
//! time the pages show is in it (with its abbreviation), while the API stays in UTC.

use crate::server_support::{location, TestServer};
use chrono::{DateTime, Utc};
use reqwest::header::{COOKIE, ORIGIN};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Monday 2026-12-07, 12:30 UTC: winter in Amsterdam (CET, UTC+1).
fn winter() -> DateTime<Utc> {
    "2026-12-07T12:30:00Z".parse().unwrap()
}

/// `PATCH /api/v1/me` as the session of `cookie`.
async fn patch_me(s: &TestServer, cookie: &str, body: Value) -> (StatusCode, Value) {
    let r = s
        .client
        .patch(s.url("/api/v1/me"))
        .header(COOKIE, cookie)
        .header(ORIGIN, &s.base)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn my_zone(s: &TestServer, cookie: &str) -> Value {
    let r = s.cookie_get("/api/v1/me", cookie).await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json::<Value>().await.unwrap()["timezone"].clone()
}

/// A conversation whose customer wrote at 12:00 UTC: its id.
async fn conversation_at_noon(s: &TestServer) -> i64 {
    let t = s.token().await;
    let (status, reply) = s
        .post(
            "/api/v1/events",
            &t,
            json!({"id": "m1", "type": "message.created", "conversation": "noon",
                   "at": "2026-12-07T12:00:00Z", "author": "customer", "text": "Hello"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let list = s.get_ok("/api/v1/conversations", &t).await;
    list[0]["id"].as_i64().unwrap()
}

#[tokio::test]
async fn people_set_and_clear_their_time_zone_and_the_pages_follow() {
    let s = TestServer::start_at(winter()).await;
    let admin = s.login("admin@t.io", "admin-pass-1").await;
    let id = conversation_at_noon(&s).await;
    let page = format!("/conversations/{id}");
    assert_eq!(my_zone(&s, &admin).await, Value::Null, "none chosen");
    let html = s.page(&admin, &page).await;
    assert!(html.contains("2026-12-07 12:00:00 UTC"), "UTC when unset");

    let (status, me) = patch_me(&s, &admin, json!({"timezone": "Europe/Amsterdam"})).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["timezone"], "Europe/Amsterdam");
    assert_eq!(my_zone(&s, &admin).await, "Europe/Amsterdam");
    let html = s.page(&admin, &page).await;
    assert!(
        html.contains("2026-12-07 13:00:00 CET"),
        "local time on the page"
    );
    assert!(!html.contains("12:00:00 UTC"));

    // The API stays in UTC.
    let t = s.token().await;
    let detail = s.get_ok(&format!("/api/v1/conversations/{id}"), &t).await;
    assert!(
        detail.to_string().contains("2026-12-07T12:00:00Z"),
        "{detail}"
    );

    // Unknown zones and fields are refused, and nothing changes.
    for body in [
        json!({"timezone": "Mars/Olympus"}),
        json!({"timezone": ""}),
        json!({"timezone": 3}),
        json!({"time_zone": "Asia/Tokyo"}),
    ] {
        let (status, answer) = patch_me(&s, &admin, body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
        assert!(answer["errors"].is_array(), "{answer}");
        assert_eq!(my_zone(&s, &admin).await, "Europe/Amsterdam", "{body}");
    }
    let (_, answer) = patch_me(&s, &admin, json!({"timezone": "Mars/Olympus"})).await;
    assert_eq!(answer["errors"][0]["field"], "timezone", "{answer}");

    // Absent: unchanged; null: cleared.
    let (status, me) = patch_me(&s, &admin, json!({})).await;
    assert_eq!(
        (status, &me["timezone"]),
        (StatusCode::OK, &json!("Europe/Amsterdam"))
    );
    let (status, me) = patch_me(&s, &admin, json!({"timezone": null})).await;
    assert_eq!((status, &me["timezone"]), (StatusCode::OK, &Value::Null));
    assert!(s
        .page(&admin, &page)
        .await
        .contains("2026-12-07 12:00:00 UTC"));

    // Unset, the pages use the browser's zone as the hydrated app reported it.
    let with_browser = format!("{admin}; promptly_tz=America/New_York");
    let html = s.page(&with_browser, &page).await;
    assert!(
        html.contains("2026-12-07 07:00:00 EST"),
        "the browser's zone"
    );
    let with_nonsense = format!("{admin}; promptly_tz=Mars/Olympus");
    assert!(s
        .page(&with_nonsense, &page)
        .await
        .contains("2026-12-07 12:00:00 UTC"));

    // Tokens have no settings.
    let r = s
        .client
        .patch(s.url("/api/v1/me"))
        .bearer_auth(&t)
        .json(&json!({"timezone": "Asia/Tokyo"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // The change is in the audit log.
    let audit = s.get_ok("/api/v1/audit?entity=user", &t).await;
    assert!(audit.to_string().contains("\"timezone\""), "{audit}");
}

#[tokio::test]
async fn the_account_page_form_sets_the_zone_without_javascript() {
    let s = TestServer::start_at(winter()).await;
    let admin = s.login("admin@t.io", "admin-pass-1").await;
    let id = conversation_at_noon(&s).await;

    let html = s.page(&admin, "/account").await;
    assert!(html.contains(r#"action="/account/timezone""#));
    assert!(html.contains("Browser&#x27;s time zone") || html.contains("Browser's time zone"));
    assert!(html.contains(r#"<option value="Asia/Tokyo""#));

    let to = s
        .form_redirect(&admin, "/account/timezone", &[("timezone", "Asia/Tokyo")])
        .await;
    assert_eq!(to, "/account?notice=timezone");
    assert_eq!(my_zone(&s, &admin).await, "Asia/Tokyo");
    let html = s.page(&admin, "/account").await;
    assert!(
        html.contains(r#"<option value="Asia/Tokyo" selected"#),
        "the current one chosen"
    );
    assert!(html.contains("Times are shown in Asia/Tokyo."));
    let html = s.page(&admin, &format!("/conversations/{id}")).await;
    assert!(html.contains("2026-12-07 21:00:00 JST"));

    // A zone that does not exist: back with the field's error, nothing changed.
    let to = s
        .form_redirect(
            &admin,
            "/account/timezone",
            &[("timezone", "Atlantis/Capital")],
        )
        .await;
    assert!(to.starts_with("/account?err_timezone="), "{to}");
    assert_eq!(my_zone(&s, &admin).await, "Asia/Tokyo");
    let html = s.page(&admin, &to).await;
    assert!(html.contains(r#"data-field="timezone""#));

    // From another site: refused.
    let r = s
        .form_post_from(
            "https://evil.example",
            &admin,
            "/account/timezone",
            &[("timezone", "Europe/Amsterdam")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "{}", location(&r));
    assert_eq!(my_zone(&s, &admin).await, "Asia/Tokyo");

    // "Browser's time zone" clears it.
    let to = s
        .form_redirect(&admin, "/account/timezone", &[("timezone", "")])
        .await;
    assert_eq!(to, "/account?notice=timezone");
    assert_eq!(my_zone(&s, &admin).await, Value::Null);
}
