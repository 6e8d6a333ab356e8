//! Passwords as people meet them: changing your own (the other sessions end), an admin's
//! reset (a temporary password that must be replaced at the next sign-in, before anything
//! else), and the first admin's printed password, which works once.

use crate::server_support::TestServer;
use reqwest::header::{COOKIE, LOCATION, ORIGIN};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// `PUT /api/v1/me/password` as the session of `cookie`.
async fn change_by_api(s: &TestServer, cookie: &str, body: Value) -> (StatusCode, Value) {
    let r = s
        .client
        .put(s.url("/api/v1/me/password"))
        .header(COOKIE, cookie)
        .header(ORIGIN, &s.base)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get(LOCATION)
        .map(|l| l.to_str().unwrap().to_string())
        .unwrap_or_default()
}

async fn me(s: &TestServer, cookie: &str) -> (StatusCode, Value) {
    let r = s.cookie_get("/api/v1/me", cookie).await;
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Whether logging in with this password is refused.
async fn login_refused(s: &TestServer, email: &str, password: &str) -> bool {
    let r = s
        .client
        .post(s.url("/login"))
        .header(ORIGIN, &s.base)
        .form(&[("email", email), ("password", password)])
        .send()
        .await
        .unwrap();
    location(&r).contains("error=invalid")
}

#[tokio::test]
async fn people_change_their_own_password_and_their_other_sessions_end() {
    let (s, here) = TestServer::start_as_admin().await;
    let elsewhere = s.login("admin@t.io", "admin-pass-1").await;

    for (body, field) in [
        (
            json!({"current_password": "admin-pass-1", "new_password": "short"}),
            "new_password",
        ),
        (
            json!({"current_password": "admin-pass-1", "new_password": "admin-pass-1"}),
            "new_password",
        ),
        (
            json!({"current_password": "not-my-password", "new_password": "admin-pass-2"}),
            "current_password",
        ),
    ] {
        let (status, answer) = change_by_api(&s, &here, body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        assert_eq!(answer["errors"][0]["field"], field, "{answer}");
    }
    assert!(
        !login_refused(&s, "admin@t.io", "admin-pass-1").await,
        "nothing changed"
    );

    let (status, answer) = change_by_api(
        &s,
        &here,
        json!({"current_password": "admin-pass-1", "new_password": "admin-pass-2"}),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{answer}");
    assert_eq!(
        me(&s, &here).await.0,
        StatusCode::OK,
        "this session goes on"
    );
    assert_eq!(
        me(&s, &elsewhere).await.0,
        StatusCode::UNAUTHORIZED,
        "the other session ended"
    );
    assert!(login_refused(&s, "admin@t.io", "admin-pass-1").await);
    assert!(!login_refused(&s, "admin@t.io", "admin-pass-2").await);

    // The account page's form says the same things, field by field.
    let r = s
        .form_post(
            &here,
            "/account/password",
            &[
                ("current_password", "admin-pass-2"),
                ("new_password", "admin-pass-3"),
                ("confirm_password", "admin-pass-4"),
            ],
        )
        .await;
    assert!(
        location(&r).contains("err_confirm_password="),
        "{}",
        location(&r)
    );
    let html = s.page(&here, &location(&r)).await;
    assert!(html.contains("The two new passwords differ."));
    let r = s
        .form_post(
            &here,
            "/account/password",
            &[
                ("current_password", "admin-pass-2"),
                ("new_password", "admin-pass-3"),
                ("confirm_password", "admin-pass-3"),
            ],
        )
        .await;
    assert_eq!(location(&r), "/account?notice=password_changed");
    let html = s.page(&here, "/account?notice=password_changed").await;
    assert!(html.contains("Password changed."));
    assert!(!login_refused(&s, "admin@t.io", "admin-pass-3").await);

    // A token has no password to change.
    let token = s.token().await;
    let (status, _) = s
        .put(
            "/api/v1/me/password",
            &token,
            json!({"current_password": "admin-pass-3", "new_password": "token-pass-1"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_reset_password_must_be_replaced_before_anything_else() {
    let (s, admin, agent) = TestServer::start_with_agent().await;
    let users = s.store.list_users().await.unwrap();
    let id = |email: &str| users.iter().find(|u| u.email == email).unwrap().id;
    let (agent_id, admin_id) = (id("agent@t.io"), id("admin@t.io"));

    // The admin cannot reset their own this way; a short password is refused in its row.
    let r = s
        .form_post(
            &admin,
            &format!("/admin/users/{admin_id}/password"),
            &[("password", "whatever-1")],
        )
        .await;
    assert_eq!(location(&r), "/admin/users?error=own_password");
    let r = s
        .form_post(
            &admin,
            &format!("/admin/users/{agent_id}/password"),
            &[("password", "short")],
        )
        .await;
    let html = s.page(&admin, &location(&r)).await;
    assert!(html.contains("data-field=\"reset-password\""));
    assert!(!login_refused(&s, "agent@t.io", "agent-pass-1").await);

    let r = s
        .form_post(
            &admin,
            &format!("/admin/users/{agent_id}/password"),
            &[("password", "temporary-1")],
        )
        .await;
    assert_eq!(location(&r), "/admin/users?notice=password_reset");
    assert_eq!(
        me(&s, &agent).await.0,
        StatusCode::UNAUTHORIZED,
        "the agent's sessions ended"
    );
    let html = s.page(&admin, "/admin/users").await;
    assert!(html.contains("Active; must change password"));
    assert!(login_refused(&s, "agent@t.io", "agent-pass-1").await);

    // Signed in with the temporary password, every page leads to the account page first,
    // and the API and forms are refused with the reason.
    let agent = s.login("agent@t.io", "temporary-1").await;
    let r = s.cookie_get("/?owner=me", &agent).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/account?next=%2F%3Fowner%3Dme");
    let r = s.cookie_get("/api/v1/conversations", &agent).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let body: Value = r.json().await.unwrap();
    assert!(body["error"]
        .as_str()
        .unwrap()
        .contains("You must change your password first"));
    let r = s
        .form_post(&agent, "/conversations/1/reply", &[("text", "hi")])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let (status, who) = me(&s, &agent).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(who["must_change_password"], true);
    let html = s.page(&agent, "/account?next=%2F%3Fowner%3Dme").await;
    assert!(html.contains("Choose your own before you go on."));

    // Changed, they go on to where they were going, and the API is theirs again.
    let r = s
        .form_post(
            &agent,
            "/account/password",
            &[
                ("current_password", "temporary-1"),
                ("new_password", "my-own-pass-1"),
                ("confirm_password", "my-own-pass-1"),
                ("next", "/?owner=me"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/?owner=me");
    assert_eq!(
        s.cookie_get("/?owner=me", &agent).await.status(),
        StatusCode::OK
    );
    assert_eq!(me(&s, &agent).await.1["must_change_password"], false);

    // The API's reset does the same, and refuses the admin's own.
    let r = s
        .client
        .put(s.url(&format!("/api/v1/users/{admin_id}/password")))
        .header(COOKIE, &admin)
        .header(ORIGIN, &s.base)
        .json(&json!({"password": "whatever-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let token = s.token().await;
    let (status, _) = s
        .put(
            &format!("/api/v1/users/{agent_id}/password"),
            &token,
            json!({"password": "temporary-2"}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(me(&s, &agent).await.0, StatusCode::UNAUTHORIZED);
    let agent = s.login("agent@t.io", "temporary-2").await;
    assert_eq!(me(&s, &agent).await.1["must_change_password"], true);
}

/// The first admin's made-up password is printed once and must be replaced at the first
/// sign-in; a password given in the settings is the admin's own.
#[tokio::test]
async fn the_first_admins_printed_password_works_once() {
    for (password, must_change) in [(None, true), (Some("chosen-pass-1"), false)] {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("first.db").display());
        let store = promptly_server::store::open(
            &promptly_server::store::DatabaseUrl::parse(&url).unwrap(),
        )
        .await
        .unwrap();
        let printed = promptly_server::auth::ensure_first_admin(
            store.as_ref(),
            Some("first@t.io"),
            password,
            chrono::Utc::now(),
        )
        .await
        .unwrap();
        assert_eq!(printed.is_some(), must_change);
        let admin = store.user_by_email("first@t.io").await.unwrap().unwrap();
        assert_eq!(admin.must_change_password, must_change);
    }
}
