//! The HTTP service over real HTTP on the test database (SQLite, or each server on its own
//! PostgreSQL with `PROMPTLY_TEST_DATABASE=postgres`): sessions, roles, cross-site checks,
//! throttling, field errors, the stream and health.

use crate::server_support;

use reqwest::header::{COOKIE, ORIGIN, SET_COOKIE};
use reqwest::StatusCode;
use serde_json::{json, Value};
use server_support::{error_fields, location, TestServer};

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

/// The suite's server with the admin signed in: the server and the admin's cookie.
async fn start_as_admin() -> (Server, String) {
    let (s, admin) = TestServer::start_as_admin().await;
    (Server(s), admin)
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

    /// Signs in through the login form (without a session), going back to `next` if given.
    async fn sign_in(&self, email: &str, password: &str, next: Option<&str>) -> reqwest::Response {
        let mut form = vec![("email", email), ("password", password)];
        form.extend(next.map(|n| ("next", n)));
        self.post_form("/login", None, &form).await
    }

    /// A JSON answer as the signed-in user of `cookie`.
    async fn json(&self, path: &str, cookie: &str) -> Value {
        self.get(path, Some(cookie)).await.json().await.unwrap()
    }

    /// How many users the API lists to the admin of `admin`.
    async fn user_count(&self, admin: &str) -> usize {
        self.json("/api/v1/users", admin)
            .await
            .as_array()
            .unwrap()
            .len()
    }

    /// Sets `field` (`role` or `active`) of user `id` with the users page's form: where to.
    async fn set_user(&self, admin: &str, id: i64, field: &str, value: &str) -> String {
        let r = self
            .post_form(
                &format!("/admin/users/{id}/{field}"),
                Some(admin),
                &[(field, value)],
            )
            .await;
        location(&r)
    }
}

/// The cookie a response sets.
fn set_cookie(r: &reqwest::Response) -> &str {
    r.headers().get(SET_COOKIE).unwrap().to_str().unwrap()
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
        .sign_in("ADMIN@t.io", "admin-pass-1", Some("/admin/users?x=1"))
        .await;
    assert_eq!(location(&r), "/admin/users?x=1");
    let cookie = set_cookie(&r);
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Lax")
            && !cookie.contains("Secure")
    );
    // Never redirect off-site after login, however the other site is written (a browser
    // drops the tab and reads `//evil.example`).
    for off_site in ["//evil.example/", "/\t/evil.example", "/\\evil.example"] {
        let r = s
            .sign_in("admin@t.io", "admin-pass-1", Some(off_site))
            .await;
        assert_eq!(location(&r), "/", "{off_site:?}");
    }
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
    assert!(set_cookie(&r).contains("; Secure"));
}

#[tokio::test]
async fn wrong_passwords_and_bad_fields_are_explained() {
    let s = start().await;
    let r = s.sign_in("admin@t.io", "nope", None).await;
    assert!(r.headers().get(SET_COOKIE).is_none());
    assert_eq!(
        location(&r),
        "/login?email=admin%40t.io&next=%2F&error=invalid"
    );
    let r = s.sign_in("", "", None).await;
    assert_eq!(
        location(&r),
        "/login?email=&next=%2F&err_email=required&err_password=required"
    );
    let long = "x".repeat(300);
    let r = s.sign_in(&long, &long, None).await;
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
        let r = s.sign_in("admin@t.io", "wrong", None).await;
        assert!(location(&r).ends_with("error=invalid"));
    }
    // Even the right password must wait now.
    let r = s.sign_in("admin@t.io", "admin-pass-1", None).await;
    let loc = location(&r);
    assert!(loc.contains("error=throttled&wait="), "{loc}");
    assert!(r.headers().get(SET_COOKIE).is_none());
}

#[tokio::test]
async fn cross_site_posts_change_nothing() {
    let (s, admin) = start_as_admin().await;
    let evil = [
        ("email", "evil@x.io"),
        ("role", "admin"),
        ("password", "evil-pass-1"),
    ];
    let r = s
        .form_post_from("https://evil.example", &admin, "/admin/users", &evil)
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = s
        .client
        .post(s.url("/admin/users"))
        .header(COOKIE, &admin)
        .form(&evil)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "no Origin nor Referer");
    assert_eq!(s.user_count(&admin).await, 1);
}

#[tokio::test]
async fn roles_guard_pages_and_the_api() {
    let (s, admin) = start_as_admin().await;
    let agent = s
        .user_session(&admin, "agent@t.io", "agent", "user-pass-1")
        .await;

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
    let users = s.json("/api/v1/users", &admin).await;
    let id = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "agent@t.io")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    // Then deactivate them: that ends their session at once.
    for (field, value, notice, path, status) in [
        ("role", "admin", "role", "/admin/users", StatusCode::OK),
        ("active", "false", "deactivated", "/", StatusCode::SEE_OTHER),
    ] {
        assert_eq!(
            s.set_user(&admin, id, field, value).await,
            format!("/admin/users?notice={notice}")
        );
        assert_eq!(s.get(path, Some(&agent)).await.status(), status, "{field}");
    }
    let r = s.sign_in("agent@t.io", "user-pass-1", None).await;
    assert!(location(&r).ends_with("error=invalid"));
}

#[tokio::test]
async fn the_last_admin_stays() {
    let (s, admin) = start_as_admin().await;
    let id = s.json("/api/v1/me", &admin).await["id"].as_i64().unwrap();
    assert_eq!(
        s.set_user(&admin, id, "role", "agent").await,
        "/admin/users?error=last_admin"
    );
    assert_eq!(
        s.set_user(&admin, id, "active", "false").await,
        "/admin/users?error=self"
    );
    assert_eq!(s.json("/api/v1/me", &admin).await["role"], "admin");
}

#[tokio::test]
async fn bad_user_fields_store_nothing() {
    let (s, admin) = start_as_admin().await;
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
    assert_eq!(error_fields(&body), ["email", "role", "password"]);
    s.create_user(&admin, "dup@t.io", "agent", "user-pass-1")
        .await;
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
    assert_eq!(s.user_count(&admin).await, 2);
}

#[tokio::test]
async fn logout_ends_the_session() {
    let (s, admin) = start_as_admin().await;
    assert_eq!(s.get("/", Some(&admin)).await.status(), StatusCode::OK);
    let r = s.post_form("/logout", Some(&admin), &[]).await;
    assert_eq!(location(&r), "/login?notice=logged_out");
    assert!(set_cookie(&r).contains("Max-Age=0"));
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
    // A refusal a client takes compressed comes whole (the stream's permit wraps its body,
    // which the compression layer reads to its end).
    for encoding in ["br", "gzip"] {
        let r = s
            .client
            .get(s.url("/api/v1/stream"))
            .header("accept-encoding", encoding)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(r.headers()["content-encoding"], encoding);
        assert!(!r.bytes().await.unwrap().is_empty(), "{encoding}");
    }
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

/// Every answer forbids sniffing and framing and keeps full URLs from other sites; what a
/// signed-in caller is shown is not stored by caches; HTTPS answers carry HSTS.
#[tokio::test]
async fn answers_carry_the_security_headers() {
    let (s, admin) = start_as_admin().await;
    let header = |r: &reqwest::Response, name: &str| {
        r.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    };
    for (path, cookie) in [
        ("/login", None),
        ("/healthz", None),
        ("/", Some(admin.as_str())),
        ("/api/v1/me", Some(admin.as_str())),
        ("/api/v1/nothing-here", Some(admin.as_str())),
    ] {
        let r = s.get(path, cookie).await;
        assert_eq!(
            header(&r, "x-content-type-options").as_deref(),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(
            header(&r, "x-frame-options").as_deref(),
            Some("DENY"),
            "{path}"
        );
        let csp = header(&r, "content-security-policy").unwrap_or_default();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(
            header(&r, "referrer-policy").as_deref(),
            Some("same-origin"),
            "{path}"
        );
        assert_eq!(
            header(&r, "strict-transport-security"),
            None,
            "{path}: plain HTTP"
        );
        let no_store = header(&r, "cache-control").as_deref() == Some("no-store");
        assert_eq!(
            no_store,
            cookie.is_some(),
            "{path}: no-store when signed in"
        );
        let page = path == "/" || path == "/login";
        if page {
            // Pages run only their own scripts and the inline ones Leptos writes, each with
            // this answer's nonce.
            let nonce = csp
                .split("'nonce-")
                .nth(1)
                .and_then(|rest| rest.split('\'').next())
                .unwrap_or_else(|| panic!("{path}: no nonce in {csp}"))
                .to_string();
            assert!(nonce.len() >= 16, "{nonce}");
            assert!(csp.contains("script-src 'self' 'nonce-"), "{csp}");
            assert!(!csp.contains("unsafe-inline"), "{csp}");
            let html = r.text().await.unwrap();
            let scripts: Vec<&str> = html.split("<script").skip(1).collect();
            assert!(!scripts.is_empty(), "{path} has scripts");
            for script in scripts {
                let tag = script.split('>').next().unwrap();
                assert!(
                    tag.contains(&format!("nonce=\"{nonce}\"")),
                    "{path}: a script without the nonce: <script{tag}>"
                );
            }
            let again = s.get(path, cookie).await;
            assert!(
                !header(&again, "content-security-policy")
                    .unwrap()
                    .contains(&nonce),
                "a new nonce for each answer"
            );
        }
    }
    let r = s
        .client
        .get(s.url("/login"))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(&r, "strict-transport-security").as_deref(),
        Some("max-age=31536000; includeSubDomains")
    );
}

/// A stream lasts as long as the credential that opened it: checked again at every
/// heartbeat, it ends after logout and after its token is revoked, while a stream whose
/// session lives goes on.
#[tokio::test]
async fn streams_end_with_their_session_or_token() {
    let (s, admin) = start_as_admin().await;
    let session = s.login("admin@t.io", "admin-pass-1").await;
    let token = s.new_token("bridge", Some("agent")).await;
    let mut by_session = s.get("/api/v1/stream", Some(&session)).await;
    let mut by_token = s
        .client
        .get(s.url("/api/v1/stream"))
        .bearer_auth(&token.token)
        .send()
        .await
        .unwrap();
    let mut lives = s.get("/api/v1/stream", Some(&admin)).await;
    for r in [&by_session, &by_token, &lives] {
        assert_eq!(r.status(), StatusCode::OK);
    }

    s.post_form("/logout", Some(&session), &[]).await;
    let r = s
        .client
        .delete(s.url(&format!("/api/v1/tokens/{}", token.info.id)))
        .header(COOKIE, &admin)
        .header(ORIGIN, &s.base)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);

    for (name, r) in [("session", &mut by_session), ("token", &mut by_token)] {
        // Within one heartbeat (15 s); the deadline only bounds a failure.
        let ended = tokio::time::timeout(std::time::Duration::from_secs(40), async {
            while r.chunk().await.unwrap().is_some() {}
        })
        .await;
        assert!(ended.is_ok(), "the {name}'s stream went on");
    }
    // The admin's own session is still valid: its stream beats on.
    let beat = tokio::time::timeout(std::time::Duration::from_secs(40), async {
        let mut text = String::new();
        while !text.contains("event: heartbeat") {
            let chunk = lives.chunk().await.unwrap().expect("the stream goes on");
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await;
    assert!(beat.is_ok(), "a live session's stream beats on");
}

/// 50 wrong passwords at once from one address: each attempt is counted before its password
/// is checked, so at most `MAX_FAILURES` are checked; the rest wait. The account is not
/// locked for its owner: from another address the right password works once the account's
/// short delay has passed, while the guessing address stays refused for its window.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_guesses_are_counted_before_they_are_checked() {
    use promptly_server::auth::{ACCOUNT_SPACING_S, MAX_FAILURES};
    let s = Server(TestServer::start_at(chrono::Utc::now()).await);
    let guesses = (0..50).map(|i| {
        let s = &s;
        async move {
            let r = s.sign_in("admin@t.io", &format!("wrong-{i}"), None).await;
            location(&r)
        }
    });
    let answers = futures::future::join_all(guesses).await;
    let checked = answers
        .iter()
        .filter(|l| l.ends_with("error=invalid"))
        .count();
    let waited = answers
        .iter()
        .filter(|l| l.contains("error=throttled"))
        .count();
    assert_eq!(checked + waited, 50, "{answers:?}");
    assert!(
        checked as i64 <= MAX_FAILURES,
        "{checked} passwords were checked"
    );
    assert!(checked > 0);

    // The owner, from another address (127.0.0.2 is loopback too).
    let elsewhere = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .timeout(crate::support::REQUEST_TIMEOUT)
        .build()
        .unwrap();
    let owner = || {
        elsewhere
            .post(s.url("/login"))
            .header(ORIGIN, &s.base)
            .form(&[("email", "admin@t.io"), ("password", "admin-pass-1")])
            .send()
    };
    let r = owner().await.unwrap();
    assert!(location(&r).contains("error=throttled"), "{}", location(&r));
    s.advance(chrono::Duration::seconds(ACCOUNT_SPACING_S));
    let r = owner().await.unwrap();
    assert_eq!(location(&r), "/");
    assert!(set_cookie(&r).starts_with("promptly_session="));
    // The guessing address still waits, even with the right password.
    let r = s.sign_in("admin@t.io", "admin-pass-1", None).await;
    assert!(location(&r).contains("error=throttled"), "{}", location(&r));
}

/// A request naming a host this site does not answer to (a page of another name resolving
/// here: DNS rebinding) is refused before anything trusts that name; addresses and
/// `localhost` are this site's.
#[tokio::test]
async fn requests_for_other_host_names_are_refused() {
    let (s, admin) = start_as_admin().await;
    let port = s.base.rsplit(':').next().unwrap().to_string();
    for (host, expected) in [
        ("rebound.attacker.test".to_string(), StatusCode::BAD_REQUEST),
        (
            format!("rebound.attacker.test:{port}"),
            StatusCode::BAD_REQUEST,
        ),
        (format!("localhost:{port}"), StatusCode::OK),
        (format!("127.0.0.1:{port}"), StatusCode::OK),
    ] {
        let r = s
            .client
            .get(s.url("/api/v1/me"))
            .header(reqwest::header::HOST, &host)
            .header(COOKIE, &admin)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), expected, "{host}");
        if expected == StatusCode::BAD_REQUEST {
            let words = r.text().await.unwrap();
            assert!(words.contains("PROMPTLY_ALLOWED_HOSTS"), "{words}");
        }
    }
}

/// Requests beyond the limit wait for a turn (and are served when one frees) or, after the
/// wait, get 503 with Retry-After; live streams have their own cap.
#[tokio::test]
async fn requests_beyond_the_limit_wait_then_are_told_to_retry() {
    let (s, admin) = start_as_admin().await;
    let all = promptly_server::state::MAX_REQUESTS as u32;
    let held = s
        .state
        .in_flight
        .clone()
        .acquire_many_owned(all)
        .await
        .unwrap();
    let refused = s.get("/api/v1/me", Some(&admin)).await;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        refused.headers().get(reqwest::header::RETRY_AFTER).unwrap(),
        "1"
    );
    // A request that finds every turn taken is served once one frees.
    let waiting = {
        let (client, url, cookie) = (s.client.clone(), s.url("/api/v1/me"), admin.clone());
        tokio::spawn(async move {
            client
                .get(url)
                .header(COOKIE, cookie)
                .send()
                .await
                .unwrap()
                .status()
        })
    };
    drop(held);
    assert_eq!(waiting.await.unwrap(), StatusCode::OK);

    let streams = promptly_server::state::MAX_STREAMS as u32;
    let held = s
        .state
        .streams
        .clone()
        .acquire_many_owned(streams)
        .await
        .unwrap();
    let r = s.get("/api/v1/stream", Some(&admin)).await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    drop(held);
    let r = s.get("/api/v1/stream", Some(&admin)).await;
    assert_eq!(r.status(), StatusCode::OK);
    // An open stream holds no request turn: all of them can still be taken.
    let turns = s.state.in_flight.clone().try_acquire_many_owned(all);
    assert!(turns.is_ok(), "a stream does not hold a request's turn");
}

/// The HTTP benchmarks still run against the server as it is (a tiny workload: the figures
/// are `BENCHMARKS.md`'s, not this test's). `bench ingest` once broke unnoticed when the
/// event window refused its workload's times.
#[tokio::test]
async fn the_http_benchmarks_run_on_a_small_workload() {
    let ingest = promptly_server::bench::http::ingest(200, 50, 2, None, 1, 2)
        .await
        .expect("bench ingest runs");
    assert!(
        ingest.contains("ratio=") && ingest.contains("repeats=2"),
        "{ingest}"
    );
    let live = promptly_server::bench::http::live(5, 2)
        .await
        .expect("bench live runs");
    assert!(live.contains("bare_p99_ms="), "{live}");
}

/// `promptly bench compliance` on a small year: its rollups, built from seeded facts rows,
/// give the month and each of the trend's twelve periods the same figures as the plain
/// aggregate (the bench refuses to report otherwise).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_compliance_benchmark_reads_the_aggregates_figures_from_rollups() {
    let report = promptly_server::bench::compliance::run(3_000, 1, 12)
        .await
        .expect("bench compliance runs and agrees with the aggregate");
    assert!(report.contains("over 3000 conversations"), "{report}");
    assert!(report.contains("trend (36000 conversations)"), "{report}");
}
