//! The users page's integration tokens: an admin creates one with the form and sees it once,
//! the token works on the API until it is revoked; agents are refused.

use crate::server_support;

use reqwest::header::SET_COOKIE;
use reqwest::{Method, Response, StatusCode};
use serde_json::Value;
use server_support::{location, TestServer};

fn set_cookies(r: &Response) -> Vec<String> {
    r.headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect()
}

async fn page(s: &TestServer, cookie: &str, path: &str) -> (StatusCode, Vec<String>, String) {
    let r = s.cookie_get(path, cookie).await;
    let status = r.status();
    let cookies = set_cookies(&r);
    (status, cookies, r.text().await.unwrap())
}

/// The admin's view of the tokens, through the API with the session.
async fn tokens(s: &TestServer, cookie: &str) -> Vec<Value> {
    let r = s.cookie_get("/api/v1/tokens", cookie).await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json::<Value>().await.unwrap().as_array().unwrap().clone()
}

/// Posts the users page's token form with these scope boxes ticked.
async fn post_token(s: &TestServer, cookie: &str, name: &str, scopes: &[&str]) -> Response {
    let mut fields = vec![("name", name)];
    fields.extend(scopes.iter().map(|sc| ("scopes", *sc)));
    s.form_post(cookie, "/admin/tokens", &fields).await
}

/// Posts the revoke button of token `id`.
async fn revoke(s: &TestServer, cookie: &str, id: i64) -> Response {
    s.form_post(cookie, &format!("/admin/tokens/{id}/revoke"), &[])
        .await
}

#[tokio::test]
async fn an_admin_creates_a_token_sees_it_once_and_revokes_it() {
    let (s, admin) = TestServer::start_as_admin().await;

    let (status, _, html) = page(&s, &admin, "/admin/users").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Integration tokens"));
    assert!(html.contains("No integration tokens yet."));
    assert!(html.contains("action=\"/admin/tokens\""));
    assert!(
        html.contains("href=\"/api/docs/\""),
        "admins see the API link"
    );

    // The form ticks the least by default: posting events.
    let (_, _, html) = page(&s, &admin, "/admin/users").await;
    assert!(
        html.contains(r#"value="events:write" checked"#),
        "events:write is ticked"
    );
    assert!(
        !html.contains(r#"value="admin" checked"#),
        "admin is not ticked"
    );
    let r = post_token(
        &s,
        &admin,
        "whatsapp-bridge",
        &["events:write", "conversations:read"],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/admin/users?token=created");
    assert!(!location(&r).contains("pt_"), "the token is not in the URL");
    let cookie = set_cookies(&r)
        .into_iter()
        .find(|c| c.starts_with("promptly_new_token="))
        .expect("the new token travels in a cookie");
    for attr in [
        "HttpOnly",
        "Path=/admin/users",
        "Max-Age=60",
        "SameSite=Strict",
    ] {
        assert!(cookie.contains(attr), "{cookie} has {attr}");
    }
    let pair = cookie.split(';').next().unwrap().to_string();
    let token = pair.trim_start_matches("promptly_new_token=").to_string();
    assert!(token.starts_with("pt_") && token.len() > 40);

    // The page shows it once, and clears the cookie.
    let (status, cleared, html) = page(
        &s,
        &format!("{admin}; {pair}"),
        "/admin/users?token=created",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Token created."));
    assert!(html.contains(&token), "the new token is shown");
    assert!(html.contains("it will not be shown again"));
    assert!(
        cleared
            .iter()
            .any(|c| c.starts_with("promptly_new_token=;") && c.contains("Max-Age=0")),
        "the cookie is cleared: {cleared:?}"
    );
    assert!(html.contains("data-token=\"whatsapp-bridge\""));

    // A reload (without the cleared cookie) does not show it again.
    let (_, _, html) = page(&s, &admin, "/admin/users?token=created").await;
    assert!(!html.contains(&token));
    assert!(!html.contains("it will not be shown again"));
    assert!(html.contains("data-token=\"whatsapp-bridge\""));
    assert!(html.contains(">events:write conversations:read<"));
    assert!(html.contains(">Revoke<"));

    // Only the hash is kept, and the token works with its scopes.
    let (status, me) = s.get("/api/v1/me", &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["role"], "agent");
    assert_eq!(me["name"], "whatsapp-bridge");
    assert_eq!(
        s.get("/api/v1/conversations", &token).await.0,
        StatusCode::OK
    );
    assert_eq!(
        s.get("/api/v1/policies", &token).await.0,
        StatusCode::FORBIDDEN
    );

    let list = tokens(&s, &admin).await;
    assert_eq!(list.len(), 1);
    assert_eq!(
        list[0]["scopes"],
        serde_json::json!(["events:write", "conversations:read"])
    );
    assert!(list[0].get("token").is_none());
    let id = list[0]["id"].as_i64().unwrap();

    let r = revoke(&s, &admin, id).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/admin/users?token=revoked");
    let (status, _) = s.get("/api/v1/me", &token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let html = s.page(&admin, "/admin/users?token=revoked").await;
    assert!(html.contains("Token revoked"));
    assert!(html.contains("Revoked 20"), "the revocation time is shown");
    assert!(!html.contains(">Revoke<"), "a revoked token has no button");
    assert!(!tokens(&s, &admin).await[0]["revoked_at"].is_null());

    let r = revoke(&s, &admin, 999).await;
    assert_eq!(location(&r), "/admin/users?token_error=not_found");
}

#[tokio::test]
async fn bad_fields_are_explained_and_store_nothing() {
    let (s, admin) = TestServer::start_as_admin().await;
    let r = post_token(&s, &admin, "  ", &["events:write"]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = location(&r);
    assert!(to.starts_with("/admin/users?"), "{to}");
    assert!(to.contains("token_err_name="), "{to}");
    assert!(set_cookies(&r).is_empty(), "no token cookie");
    let html = s.page(&admin, &to).await;
    assert!(html.contains("data-field=\"token-name\""));
    assert!(html.contains("Name is required (at most 100 characters)."));

    // No box ticked, or a scope that does not exist: refused, the boxes kept as asked.
    let r = post_token(&s, &admin, "x", &[]).await;
    let to = location(&r);
    assert!(to.contains("token_err_scopes="), "{to}");
    let html = s.page(&admin, &to).await;
    assert!(html.contains("a token needs at least one scope"));
    assert!(!html.contains(r#"value="events:write" checked"#));
    let r = post_token(&s, &admin, "x", &["reports:read", "root"]).await;
    let to = location(&r);
    assert!(to.contains("token_err_scopes="), "{to}");
    let html = s.page(&admin, &to).await;
    assert!(html.contains(r#"value="reports:read" checked"#));
    assert!(tokens(&s, &admin).await.is_empty());
}

#[tokio::test]
async fn agents_and_other_sites_are_refused() {
    let (s, admin, agent) = TestServer::start_with_agent().await;
    let victim = s.new_token("keep", None).await;

    let r = post_token(&s, &agent, "mine", &["admin"]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(set_cookies(&r).is_empty());
    let r = revoke(&s, &agent, victim.info.id).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // Even an admin's session cannot be used from another site.
    let r = s
        .form_post_from(
            "https://evil.example",
            &admin,
            "/admin/tokens",
            &[("name", "evil"), ("scopes", "admin")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    let list = tokens(&s, &admin).await;
    assert_eq!(list.len(), 1, "nothing was created: {list:?}");
    assert!(list[0]["revoked_at"].is_null(), "nothing was revoked");
    let (status, _) = s.get("/api/v1/me", &victim.token).await;
    assert_eq!(status, StatusCode::OK);

    // Agents see neither the page nor the API link.
    let (status, _, _) = page(&s, &agent, "/admin/users").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let html = s.cookie_get("/", &agent).await.text().await.unwrap();
    assert!(!html.contains("href=\"/api/docs/\""));
}

#[tokio::test]
async fn a_token_cannot_revoke_itself_but_another_token_can() {
    let s = TestServer::start().await;
    let ops = s.new_token("ops", Some("admin")).await;
    let bridge = s.new_token("bridge", None).await;

    let (status, body) = s
        .send(
            Method::DELETE,
            &format!("/api/v1/tokens/{}", ops.info.id),
            &ops.token,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["error"]
        .as_str()
        .unwrap()
        .contains("cannot revoke itself"));
    assert_eq!(s.get("/api/v1/me", &ops.token).await.0, StatusCode::OK);

    let path = format!("/api/v1/tokens/{}", bridge.info.id);
    let (status, _) = s.send(Method::DELETE, &path, &ops.token, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        s.get("/api/v1/me", &bridge.token).await.0,
        StatusCode::UNAUTHORIZED
    );
}
