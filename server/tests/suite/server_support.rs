//! A Promptly server on a free port with a fresh database, for HTTP tests: SQLite, or with
//! `PROMPTLY_TEST_DATABASE=postgres` a throwaway PostgreSQL cluster of its own (the test
//! command runs the HTTP suites both ways). On the real clock, or on a [`TestClock`] that
//! the test moves ([`TestServer::start_at`]); effects that follow are awaited with
//! [`eventually`], never with a fixed sleep.
#![allow(dead_code)]

use crate::support as pg;

use chrono::{DateTime, Utc};
use promptly_server::clock::{Clock, TestClock};
use promptly_server::config::EgressArgs;
use promptly_server::services::tokens::CreatedToken;
use promptly_server::state::AppState;
use promptly_server::store::DynStore;
use promptly_server::{auth, http};
use reqwest::header::{AUTHORIZATION, COOKIE, LOCATION, ORIGIN, SET_COOKIE};
use reqwest::{redirect, Client, StatusCode};
use serde_json::{json, Value};
use std::net::SocketAddr;

pub struct TestServer {
    pub base: String,
    pub client: Client,
    pub store: DynStore,
    pub state: AppState,
    /// The server's clock when it runs on a test clock ([`TestServer::start_at`]).
    pub test_clock: Option<TestClock>,
    /// The database's URL (what a second server on the same database opens).
    pub db_url: String,
    _dir: tempfile::TempDir,
    _pg: Option<pg::PgCluster>,
}

/// The database the HTTP suites run on: `PROMPTLY_TEST_DATABASE` (`sqlite`, the default,
/// or `postgres`), named as `/healthz` names it.
pub fn database() -> &'static str {
    match std::env::var("PROMPTLY_TEST_DATABASE").as_deref() {
        Ok("postgres") => "postgres",
        Ok("sqlite") | Err(_) => "sqlite",
        Ok(other) => panic!("PROMPTLY_TEST_DATABASE={other:?}: use sqlite or postgres"),
    }
}

/// Polls `check` (every 20 ms) until it gives a value, for at most `within` of real time
/// (only a bound on failing, never a measurement), and panics naming `what` if it never
/// does.
pub async fn eventually<T, F, Fut>(within: std::time::Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// How a test server starts: its clock, and where its webhooks may go (like production, only
/// public addresses unless a test allows more: every test that delivers to a receiver on
/// 127.0.0.1 says so with [`Setup::allow_egress`]).
#[derive(Default)]
pub struct Setup {
    clock: Option<TestClock>,
    egress: EgressArgs,
    public_url: Option<String>,
    metrics_from: Option<String>,
}

impl Setup {
    /// On a test clock standing at `at`.
    pub fn at(at: DateTime<Utc>) -> Setup {
        Setup {
            clock: Some(TestClock::starting_at(at)),
            ..Setup::default()
        }
    }

    /// `PROMPTLY_PUBLIC_URL`.
    pub fn public_url(mut self, url: &str) -> Setup {
        self.public_url = Some(url.to_string());
        self
    }

    /// `PROMPTLY_METRICS_FROM`.
    pub fn metrics_from(mut self, ranges: &str) -> Setup {
        self.metrics_from = Some(ranges.to_string());
        self
    }

    /// `PROMPTLY_EGRESS_ALLOW`.
    pub fn allow_egress(mut self, allow: &str) -> Setup {
        self.egress.allow = Some(allow.parse().expect("an allow-list"));
        self
    }

    /// `PROMPTLY_EGRESS_CA_FILE`.
    pub fn egress_ca_file(mut self, pem: &std::path::Path) -> Setup {
        self.egress.ca_file = Some(pem.to_path_buf());
        self
    }
}

/// The allow-list of tests whose webhook receivers listen on 127.0.0.1.
pub const LOCAL_RECEIVERS: &str = "127.0.0.1/32";

impl TestServer {
    /// A server on the real clock.
    pub async fn start() -> TestServer {
        Self::start_with(Setup::default()).await
    }

    /// A server on a test clock standing at `at`: it moves only with
    /// [`TestServer::advance`] (or [`TestServer::test_clock`]).
    pub async fn start_at(at: DateTime<Utc>) -> TestServer {
        Self::start_with(Setup::at(at)).await
    }

    /// The server's current instant (its clock's).
    pub fn now(&self) -> DateTime<Utc> {
        self.state.clock.now()
    }

    /// Moves the server's test clock forward; whatever is due by then (SLA instants,
    /// retries) comes due.
    pub fn advance(&self, d: chrono::Duration) {
        self.test_clock
            .as_ref()
            .expect("advance needs a server started with TestServer::start_at")
            .advance(d);
    }

    pub async fn start_with(setup: Setup) -> TestServer {
        let test_clock = setup.clock;
        let egress = setup.egress.egress().expect("the egress settings");
        let clock = test_clock.clone().map_or_else(Clock::real, Clock::from);
        let dir = tempfile::tempdir().unwrap();
        let (url, cluster) = match database() {
            "postgres" => {
                let cluster = tokio::task::spawn_blocking(pg::PgCluster::start)
                    .await
                    .unwrap();
                (cluster.fresh_database().await, Some(cluster))
            }
            _ => (
                format!("sqlite://{}", dir.path().join("promptly.db").display()),
                None,
            ),
        };
        let store = promptly_server::store::open(
            &promptly_server::store::DatabaseUrl::parse(&url).unwrap(),
        )
        .await
        .unwrap();
        auth::ensure_first_admin(
            store.as_ref(),
            Some("admin@t.io"),
            Some("admin-pass-1"),
            clock.now(),
        )
        .await
        .unwrap();
        let mut state = AppState::new(store.clone(), false)
            .with_clock(clock)
            .with_egress(egress);
        if let Some(ranges) = &setup.metrics_from {
            state.metrics_from = std::sync::Arc::new(ranges.parse().expect("address ranges"));
        }
        let opts = leptos::prelude::LeptosOptions::builder()
            .output_name("promptly")
            .site_root(dir.path().to_string_lossy().to_string())
            .site_pkg_dir("pkg")
            .build();
        let app = http::router(state.clone(), opts, setup.public_url);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        promptly_server::automation::start(&state, format!("http://{addr}"));
        tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
            .unwrap();
        });
        TestServer {
            base: format!("http://{addr}"),
            client: Client::builder()
                .redirect(redirect::Policy::none())
                .timeout(crate::support::REQUEST_TIMEOUT)
                .build()
                .unwrap(),
            store,
            state,
            test_clock,
            db_url: url,
            _dir: dir,
            _pg: cluster,
        }
    }

    /// The state of a second server on the same database and clock (its own store, its own
    /// connections), without its background work: what a test drives by hand.
    pub async fn second_server(&self) -> AppState {
        let store = promptly_server::store::open(
            &promptly_server::store::DatabaseUrl::parse(&self.db_url).unwrap(),
        )
        .await
        .unwrap();
        AppState::new(store, false).with_clock(self.state.clock.clone())
    }

    pub fn url(&self, p: &str) -> String {
        format!("{}{p}", self.base)
    }

    /// Logs in through the form and returns the `Cookie` header value.
    pub async fn login(&self, email: &str, password: &str) -> String {
        let r = self
            .client
            .post(self.url("/login"))
            .header(ORIGIN, &self.base)
            .form(&[("email", email), ("password", password)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let set = r
            .headers()
            .get(SET_COOKIE)
            .expect("a session cookie")
            .to_str()
            .unwrap();
        set.split(';').next().unwrap().to_string()
    }

    /// An admin integration token.
    pub async fn token(&self) -> String {
        self.new_token("test", Some("admin")).await.token
    }

    /// An integration token named `name` with `role`'s scopes (without one: the default
    /// scopes, posting events only).
    pub async fn new_token(&self, name: &str, role: Option<&str>) -> CreatedToken {
        let grant = promptly_server::services::tokens::Grant {
            role,
            ..Default::default()
        };
        promptly_server::services::tokens::create_token(
            self.store.as_ref(),
            name,
            grant,
            self.state.clock.now(),
        )
        .await
        .unwrap()
    }

    /// A server with the admin signed in: the server and the admin's cookie.
    pub async fn start_as_admin() -> (TestServer, String) {
        let s = Self::start().await;
        let admin = s.login("admin@t.io", "admin-pass-1").await;
        (s, admin)
    }

    /// A server with the admin signed in and an agent (`agent@t.io`, created with the users
    /// page's form) signed in: the server, the admin's cookie and the agent's.
    pub async fn start_with_agent() -> (TestServer, String, String) {
        let (s, admin) = Self::start_as_admin().await;
        let agent = s
            .user_session(&admin, "agent@t.io", "agent", "agent-pass-1")
            .await;
        (s, admin, agent)
    }

    /// An integration token made through the API by the admin of `token`: the answer (with
    /// the new token).
    pub async fn api_token(&self, token: &str, name: &str, role: &str) -> Value {
        self.create("/api/v1/tokens", token, json!({"name": name, "role": role}))
            .await
    }

    /// Creates a user with the users page's form, as the admin signed in with `admin`.
    pub async fn create_user(&self, admin: &str, email: &str, role: &str, password: &str) {
        let r = self
            .form_post(
                admin,
                "/admin/users",
                &[
                    ("email", email),
                    ("name", ""),
                    ("role", role),
                    ("password", password),
                ],
            )
            .await;
        assert_eq!(location(&r), "/admin/users?notice=created");
    }

    /// A user created with the users page's form (by the admin signed in with `admin`),
    /// signed in: their `Cookie` header value.
    pub async fn user_session(
        &self,
        admin: &str,
        email: &str,
        role: &str,
        password: &str,
    ) -> String {
        self.create_user(admin, email, role, password).await;
        self.login(email, password).await
    }

    /// POSTs `body` as `token` and expects 201 Created: the created resource.
    pub async fn create(&self, path: &str, token: &str, body: Value) -> Value {
        let (status, created) = self.post(path, token, body).await;
        assert_eq!(status, StatusCode::CREATED, "POST {path}: {created}");
        created
    }

    /// Creates a policy through the API: its id.
    pub async fn create_policy(&self, token: &str, body: Value) -> i64 {
        self.create("/api/v1/policies", token, body).await["id"]
            .as_i64()
            .unwrap()
    }

    /// Creates a policy through the API and makes it the default one: its id.
    pub async fn create_default_policy(&self, token: &str, body: Value) -> i64 {
        let id = self.create_policy(token, body).await;
        self.set_default_policy(token, id).await;
        id
    }

    /// Makes the policy `id` the default one.
    pub async fn set_default_policy(&self, token: &str, id: i64) {
        let (status, body) = self
            .put(
                "/api/v1/settings/default-policy",
                token,
                json!({"policy": id}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .client
            .request(method, self.url(path))
            .header(AUTHORIZATION, format!("Bearer {token}"));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.send(reqwest::Method::GET, path, token, None).await
    }

    /// GETs `path` as `token` and expects 200: the answer.
    pub async fn get_ok(&self, path: &str, token: &str) -> Value {
        let (status, body) = self.get(path, token).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::POST, path, token, Some(body))
            .await
    }

    /// POSTs `body` as `token` and expects it refused with 422: the answer.
    pub async fn post_refused(&self, path: &str, token: &str, body: Value) -> Value {
        let (status, answer) = self.post(path, token, body).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "POST {path}: {answer}"
        );
        answer
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::PUT, path, token, Some(body))
            .await
    }

    /// Posts an HTML form as the signed-in user of `cookie`, from this site.
    pub async fn form_post(
        &self,
        cookie: &str,
        path: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        self.form_post_from(&self.base, cookie, path, form).await
    }

    /// Posts an HTML form as the signed-in user of `cookie`, from `origin` (another site's
    /// to see it refused).
    pub async fn form_post_from(
        &self,
        origin: &str,
        cookie: &str,
        path: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .header(ORIGIN, origin)
            .header(COOKIE, cookie)
            .form(form)
            .send()
            .await
            .unwrap()
    }

    pub async fn cookie_get(&self, path: &str, cookie: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .header(COOKIE, cookie)
            .send()
            .await
            .unwrap()
    }

    /// A page as the signed-in user of `cookie`, expected to answer 200: its HTML.
    pub async fn page(&self, cookie: &str, path: &str) -> String {
        let r = self.cookie_get(path, cookie).await;
        assert_eq!(r.status(), StatusCode::OK, "GET {path}");
        r.text().await.unwrap()
    }

    /// Posts a form that is expected to redirect (303): where to.
    pub async fn form_redirect(&self, cookie: &str, path: &str, form: &[(&str, &str)]) -> String {
        let r = self.form_post(cookie, path, form).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "POST {path}");
        r.headers()
            .get(LOCATION)
            .expect("a redirect")
            .to_str()
            .unwrap()
            .to_string()
    }

    /// Posts a form that is expected to fail: the page itself (422, no redirect), rendered
    /// from what was sent.
    pub async fn form_refused(&self, cookie: &str, path: &str, form: &[(&str, &str)]) -> String {
        let r = self.form_post(cookie, path, form).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "POST {path}");
        assert!(r.headers().get(LOCATION).is_none());
        r.text().await.unwrap()
    }
}

/// Form fields with owned values, borrowed as a form to post.
pub fn as_form<'a>(fields: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    fields.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// The redirect target of a response (empty without one).
pub fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get(LOCATION)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

/// The fields an API error body names, in its order.
pub fn error_fields(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors in {body}"))
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_string())
        .collect()
}

/// The `key` of each item of a JSON list, as a JSON list.
pub fn column(list: &Value, key: &str) -> Value {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|item| item[key].clone())
        .collect()
}

/// The query value of `key` in a redirect target.
pub fn query(location: &str, key: &str) -> Option<String> {
    let q = location.split_once('?')?.1;
    serde_urlencoded::from_str::<Vec<(String, String)>>(q)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

/// A receiver on 127.0.0.1 that answers 200 and counts the requests it gets (any path, any
/// method): its port, and the count.
pub async fn counting_receiver() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let hits = std::sync::Arc::new(AtomicUsize::new(0));
    let count = hits.clone();
    let app = axum::Router::new().fallback(move || {
        let count = count.clone();
        async move {
            count.fetch_add(1, Ordering::SeqCst);
            axum::http::StatusCode::OK
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (port, hits)
}
