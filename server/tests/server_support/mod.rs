//! A Promptly server on a free port with a fresh database, for HTTP tests: SQLite, or with
//! `PROMPTLY_TEST_DATABASE=postgres` a throwaway PostgreSQL cluster of its own (the test
//! command runs the HTTP suites both ways).
#![allow(dead_code)]

#[path = "../support/mod.rs"]
mod pg;

use promptly_server::state::AppState;
use promptly_server::store::DynStore;
use promptly_server::{auth, http};
use reqwest::header::{AUTHORIZATION, COOKIE, ORIGIN, SET_COOKIE};
use reqwest::{redirect, Client, StatusCode};
use serde_json::Value;
use std::net::SocketAddr;

pub struct TestServer {
    pub base: String,
    pub client: Client,
    pub store: DynStore,
    pub state: AppState,
    _dir: tempfile::TempDir,
    _pg: Option<pg::PgCluster>,
}

impl TestServer {
    pub async fn start() -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let (url, cluster) = match std::env::var("PROMPTLY_TEST_DATABASE").as_deref() {
            Ok("postgres") => {
                let cluster = tokio::task::spawn_blocking(pg::PgCluster::start)
                    .await
                    .unwrap();
                (cluster.fresh_database().await, Some(cluster))
            }
            Ok("sqlite") | Err(_) => (
                format!("sqlite://{}", dir.path().join("promptly.db").display()),
                None,
            ),
            Ok(other) => panic!("PROMPTLY_TEST_DATABASE={other:?}: use sqlite or postgres"),
        };
        let store = promptly_server::store::open(
            &promptly_server::store::DatabaseUrl::parse(&url).unwrap(),
        )
        .await
        .unwrap();
        auth::ensure_first_admin(store.as_ref(), Some("admin@t.io"), Some("admin-pass-1"))
            .await
            .unwrap();
        let state = AppState::new(store.clone(), false);
        let opts = leptos::prelude::LeptosOptions::builder()
            .output_name("promptly")
            .site_root(dir.path().to_string_lossy().to_string())
            .site_pkg_dir("pkg")
            .build();
        let app = http::router(state.clone(), opts, None);
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
                .build()
                .unwrap(),
            store,
            state,
            _dir: dir,
            _pg: cluster,
        }
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
        promptly_server::http::tokens::create_token(self.store.as_ref(), "test", None)
            .await
            .unwrap()
            .token
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

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::POST, path, token, Some(body))
            .await
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
        self.client
            .post(self.url(path))
            .header(ORIGIN, &self.base)
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
