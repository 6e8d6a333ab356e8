//! The HTTP service over real HTTP on the test database (SQLite, or each server on its own
//! PostgreSQL with `PROMPTLY_TEST_DATABASE=postgres`): sessions, roles, cross-site checks,
//! throttling, field errors, the stream and health.

use crate::server_support;

use reqwest::header::{COOKIE, LOCATION, ORIGIN, SET_COOKIE};
use reqwest::StatusCode;
use serde_json::{json, Value};
use server_support::TestServer;

/// The suite's server, with requests that carry an optional session cookie.
struct Server(TestServer);

impl std::ops::Deref for Server {
    type Target = TestServer;

    fn deref(&self) -> &TestServer {
        &self.0
    }
}

async fn start() -> Server {
    Server(TestServer::start().await)
}

impl Server {
    async fn post_form(
        &self,
        path: &str,
        cookie: Option<&str>,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut req = self
            .client
            .post(self.url(path))
            .header(ORIGIN, &self.base)
            .form(form);
        if let Some(c) = cookie {
            req = req.header(COOKIE, c);
        }
        req.send().await.unwrap()
    }

    async fn get(&self, path: &str, cookie: Option<&str>) -> reqwest::Response {
        let mut req = self.client.get(self.url(path));
        if let Some(c) = cookie {
            req = req.header(COOKIE, c);
        }
        req.send().await.unwrap()
    }

    async fn create_user(&self, admin: &str, email: &str, role: &str) {
        let r = self
            .post_form(
                "/admin/users",
                Some(admin),
                &[
                    ("email", email),
                    ("name", ""),
                    ("role", role),
                    ("password", "user-pass-1"),
                ],
            )
            .await;
        assert_eq!(location(&r), "/admin/users?notice=created");
    }
}

fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get(LOCATION)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

#[tokio::test]
async fn health_reports_the_database() {
    let s = start().await;
    let r = s.get("/healthz", None).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"status": "ok", "database": server_support::database()})
    );
}

#[tokio::test]
async fn visitors_are_sent_to_login_and_back() {
    let s = start().await;
    let r = s.get("/admin/users?x=1", None).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/login?next=%2Fadmin%2Fusers%3Fx%3D1");
    let r = s
        .post_form(
            "/login",
            None,
            &[
                ("email", "ADMIN@t.io"),
                ("password", "admin-pass-1"),
                ("next", "/admin/users?x=1"),
            ],
        )
        .await;
    assert_eq!(location(&r), "/admin/users?x=1");
    let cookie = r.headers().get(SET_COOKIE).unwrap().to_str().unwrap();
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Lax")
            && !cookie.contains("Secure")
    );
    // Never redirect off-site after login.
    let r = s
        .post_form(
            "/login",
            None,
            &[
                ("email", "admin@t.io"),
                ("password", "admin-pass-1"),
                ("next", "//evil.example/"),
            ],
        )
        .await;
    assert_eq!(location(&r), "/");
    // The API answers 401 rather than redirecting.
    assert_eq!(
        s.get("/api/v1/me", None).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn cookies_are_secure_behind_https() {
    let s = start().await;
    let r = s
        .client
        .post(s.url("/login"))
        .header(ORIGIN, &s.base)
        .header("x-forwarded-proto", "https")
        .form(&[("email", "admin@t.io"), ("password", "admin-pass-1")])
        .send()
        .await
        .unwrap();
    assert!(r
        .headers()
        .get(SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap()
        .contains("; Secure"));
}

#[tokio::test]
async fn wrong_passwords_and_bad_fields_are_explained() {
    let s = start().await;
    let r = s
        .post_form(
            "/login",
            None,
            &[("email", "admin@t.io"), ("password", "nope")],
        )
        .await;
    assert!(r.headers().get(SET_COOKIE).is_none());
    assert_eq!(
        location(&r),
        "/login?email=admin%40t.io&next=%2F&error=invalid"
    );
    let r = s
        .post_form("/login", None, &[("email", ""), ("password", "")])
        .await;
    assert_eq!(
        location(&r),
        "/login?email=&next=%2F&err_email=required&err_password=required"
    );
    let long = "x".repeat(300);
    let r = s
        .post_form("/login", None, &[("email", &long), ("password", &long)])
        .await;
    assert_eq!(
        location(&r),
        "/login?next=%2F&err_email=too_long&err_password=too_long"
    );
    // The login page renders those as words.
    let html = s
        .get("/login?error=invalid&err_email=required", None)
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Wrong e-mail or password.") && html.contains("Required."));
}

#[tokio::test]
async fn ten_failures_in_a_minute_make_an_account_wait() {
    let s = start().await;
    for _ in 0..10 {
        let r = s
            .post_form(
                "/login",
                None,
                &[("email", "admin@t.io"), ("password", "wrong")],
            )
            .await;
        assert!(location(&r).ends_with("error=invalid"));
    }
    // Even the right password must wait now.
    let r = s
        .post_form(
            "/login",
            None,
            &[("email", "admin@t.io"), ("password", "admin-pass-1")],
        )
        .await;
    let loc = location(&r);
    assert!(loc.contains("error=throttled&wait="), "{loc}");
    assert!(r.headers().get(SET_COOKIE).is_none());
}

#[tokio::test]
async fn cross_site_posts_change_nothing() {
    let s = start().await;
    let admin = s.login("admin@t.io", "admin-pass-1").await;
    let r = s
        .client
        .post(s.url("/admin/users"))
        .header(COOKIE, &admin)
        .header(ORIGIN, "https://evil.example")
        .form(&[
            ("email", "evil@x.io"),
            ("role", "admin"),
            ("password", "evil-pass-1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = s
        .client
        .post(s.url("/admin/users"))
        .header(COOKIE, &admin)
        .form(&[
            ("email", "evil@x.io"),
            ("role", "admin"),
            ("password", "evil-pass-1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "no Origin nor Referer");
    let users: Value = s
        .client
        .get(s.url("/api/v1/users"))
        .header(COOKIE, &admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(users.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn roles_guard_pages_and_the_api() {
    let s = start().await;
    let admin = s.login("admin@t.io", "admin-pass-1").await;
    s.create_user(&admin, "agent@t.io", "agent").await;
    let agent = s.login("agent@t.io", "user-pass-1").await;

    let r = s.get("/", Some(&agent)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains(">Queue<"));
    assert!(
        !html.contains("href=\"/admin/users\""),
        "agents see no Users link"
    );

    let r = s.get("/admin/users", Some(&agent)).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("403 · Not allowed"));
    assert_eq!(
        s.get("/api/v1/users", Some(&agent)).await.status(),
        StatusCode::FORBIDDEN
    );
    let r = s
        .post_form(
            "/admin/users",
            Some(&agent),
            &[
                ("email", "x@t.io"),
                ("role", "admin"),
                ("password", "user-pass-1"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    let r = s.get("/admin/users", Some(&admin)).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("agent@t.io"));

    // Promote the agent: the same session sees the admin pages at once.
    let users: Value = s
        .get("/api/v1/users", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    let id = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "agent@t.io")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let r = s
        .post_form(
            &format!("/admin/users/{id}/role"),
            Some(&admin),
            &[("role", "admin")],
        )
        .await;
    assert_eq!(location(&r), "/admin/users?notice=role");
    assert_eq!(
        s.get("/admin/users", Some(&agent)).await.status(),
        StatusCode::OK
    );

    // Deactivating ends their session at once.
    let r = s
        .post_form(
            &format!("/admin/users/{id}/active"),
            Some(&admin),
            &[("active", "false")],
        )
        .await;
    assert_eq!(location(&r), "/admin/users?notice=deactivated");
    assert_eq!(
        s.get("/", Some(&agent)).await.status(),
        StatusCode::SEE_OTHER
    );
    let r = s
        .post_form(
            "/login",
            None,
            &[("email", "agent@t.io"), ("password", "user-pass-1")],
        )
        .await;
    assert!(location(&r).ends_with("error=invalid"));
}

#[tokio::test]
async fn the_last_admin_stays() {
    let s = start().await;
    let admin = s.login("admin@t.io", "admin-pass-1").await;
    let me: Value = s
        .get("/api/v1/me", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    let id = me["id"].as_i64().unwrap();
    let r = s
        .post_form(
            &format!("/admin/users/{id}/role"),
            Some(&admin),
            &[("role", "agent")],
        )
        .await;
    assert_eq!(location(&r), "/admin/users?error=last_admin");
    let r = s
        .post_form(
            &format!("/admin/users/{id}/active"),
            Some(&admin),
            &[("active", "false")],
        )
        .await;
    assert_eq!(location(&r), "/admin/users?error=self");
    let me: Value = s
        .get("/api/v1/me", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["role"], "admin");
}

#[tokio::test]
async fn bad_user_fields_store_nothing() {
    let s = start().await;
    let admin = s.login("admin@t.io", "admin-pass-1").await;
    let long = format!("{}@t.io", "a".repeat(300));
    let r = s
        .post_form(
            "/admin/users",
            Some(&admin),
            &[
                ("email", &long),
                ("name", "N"),
                ("role", "agent"),
                ("password", &"p".repeat(129)),
            ],
        )
        .await;
    let loc = location(&r);
    assert!(
        loc.contains("err_email=E-mail+must+be+at+most+254+characters."),
        "{loc}"
    );
    assert!(
        loc.contains("err_password=Password+must+be+at+most+128+characters."),
        "{loc}"
    );
    let r = s
        .client
        .post(s.url("/api/v1/users"))
        .header(COOKIE, &admin)
        .header(ORIGIN, &s.base)
        .json(&json!({"email": "", "role": "boss", "password": ""}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = r.json().await.unwrap();
    let fields: Vec<_> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(fields, vec!["email", "role", "password"]);
    s.create_user(&admin, "dup@t.io", "agent").await;
    let r = s
        .post_form(
            "/admin/users",
            Some(&admin),
            &[
                ("email", "DUP@t.io"),
                ("role", "agent"),
                ("password", "user-pass-1"),
            ],
        )
        .await;
    assert!(location(&r).contains("err_email=A+user+with+this+e-mail+already+exists."));
    let users: Value = s
        .get("/api/v1/users", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(users.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn logout_ends_the_session() {
    let s = start().await;
    let admin = s.login("admin@t.io", "admin-pass-1").await;
    assert_eq!(s.get("/", Some(&admin)).await.status(), StatusCode::OK);
    let r = s.post_form("/logout", Some(&admin), &[]).await;
    assert_eq!(location(&r), "/login?notice=logged_out");
    assert!(r
        .headers()
        .get(SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    // The old cookie is worthless now.
    assert_eq!(
        s.get("/", Some(&admin)).await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn the_stream_needs_a_session_and_says_hello() {
    let s = start().await;
    assert_eq!(
        s.get("/api/v1/stream", None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let admin = s.login("admin@t.io", "admin-pass-1").await;
    let mut r = s.get("/api/v1/stream", Some(&admin)).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let chunk = tokio::time::timeout(std::time::Duration::from_secs(5), r.chunk())
        .await
        .expect("the hello arrives at once")
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&chunk);
    assert!(text.contains("event: hello"), "{text}");
    assert!(text.contains("\"type\":\"hello\""), "{text}");
}
