//! The fault test of the automation worker: two `promptly serve` processes (this build's
//! binary) on one PostgreSQL, 10,000 SLA clocks breaching within a minute, one server
//! killed with SIGKILL halfway and restarted, then both killed and restarted while breaches
//! come due. Every SLA event fires exactly once (counted in the database), every rule action
//! is recorded once, what came due while both were down fires late, and every webhook is
//! delivered (a repeat carries the same delivery id).

use crate::support;

use serde_json::{json, Value};
use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::{free_port, wait_up, PgCluster};

const CONVERSATIONS: usize = 10_000;

struct Server {
    child: Child,
}

fn spawn(db: &str, port: u16) -> Server {
    let child = Command::new(env!("CARGO_BIN_EXE_promptly"))
        .arg("serve")
        .env("PROMPTLY_DATABASE_URL", db)
        .env("PROMPTLY_ADDR", format!("127.0.0.1:{port}"))
        .env("PROMPTLY_LOG", "warn")
        .env("PROMPTLY_ADMIN_EMAIL", "admin@fault.test")
        .env("PROMPTLY_ADMIN_PASSWORD", "fault-password-1")
        // The webhook receiver listens on 127.0.0.1.
        .env(
            "PROMPTLY_EGRESS_ALLOW",
            crate::server_support::LOCAL_RECEIVERS,
        )
        .stdout(Stdio::null())
        .spawn()
        .expect("start promptly serve");
    Server { child }
}

impl Server {
    fn kill9(&mut self) {
        // Child::kill sends SIGKILL on Unix.
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn scalar(db: &sqlx::PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(db).await.unwrap()
}

/// A fresh database in a cluster of its own, and an admin token named `name` made with
/// `promptly token create`: (the cluster, kept running while held; the database URL; the
/// token).
async fn database_with_token(name: &str) -> (PgCluster, String, String) {
    let cluster = tokio::task::spawn_blocking(PgCluster::start).await.unwrap();
    let db_url = cluster.fresh_database().await;
    let token = support::cli_token(&db_url, name, Some("admin"));
    (cluster, db_url, token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_fire_every_breach_exactly_once_across_kills() {
    let (_cluster, db_url, token) = database_with_token("fault").await;

    // A webhook receiver that counts deliveries by their id.
    let seen: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let record = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap| {
            let record = record.clone();
            async move {
                let id = headers
                    .get("x-promptly-delivery")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                *record.lock().unwrap().entry(id).or_default() += 1;
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let (pa, pb) = (free_port(), free_port());
    let mut a = spawn(&db_url, pa);
    let mut b = spawn(&db_url, pb);
    let client = crate::support::client();
    wait_up(&client, pa).await;
    wait_up(&client, pb).await;
    let api = |port: u16, path: &str| format!("http://127.0.0.1:{port}/api/v1{path}");
    let post = |port: u16, path: &str, body: Value| {
        client
            .post(api(port, path))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    let p: Value = post(
        pa,
        "/policies",
        json!({"name": "Minute", "first_response": "60s", "warning": "50%"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    client
        .put(api(pa, "/settings/default-policy"))
        .bearer_auth(&token)
        .json(&json!({"policy": p["id"]}))
        .send()
        .await
        .unwrap();
    let r = post(
        pb,
        "/rules",
        json!({"name": "Breach", "event": "sla.breached",
               "actions": [{"type": "add_label", "label": "breached"},
                           {"type": "webhook", "url": hook, "secret": "s3cret"}]}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());

    // 10,000 conversations whose first response is due over the next 10..60 seconds,
    // ingested half through each server.
    let start = chrono::Utc::now();
    for batch in 0..CONVERSATIONS / 1000 {
        let events: Vec<Value> = (batch * 1000..(batch + 1) * 1000)
            .map(|i| {
                let at = start - chrono::Duration::milliseconds((i * 5) as i64);
                json!({"id": format!("f{i}"), "type": "message.created", "conversation": format!("fc{i}"),
                       "author": "customer", "text": "Hello?", "at": at.to_rfc3339()})
            })
            .collect();
        let port = if batch % 2 == 0 { pa } else { pb };
        let r = post(port, "/events", json!({ "events": events }))
            .await
            .unwrap();
        assert!(r.status().is_success());
    }
    // How long ingest took is a benchmark's question (`promptly bench ingest`), not this
    // test's: a slow machine only makes some first breaches fire later, still once each.

    // The timeline of the scenario: these real processes run on the real clock and the
    // breaches come due in real time, so the waits below are the scenario's periods (load
    // running, a server down, both down while breaches come due), not synchronisation; what
    // must happen is awaited by polling with a deadline (`wait_up`, the final count).
    // Halfway through the breaches: kill A, keep it down for two seconds, restart it.
    tokio::time::sleep(Duration::from_secs(30)).await;
    a.kill9();
    tokio::time::sleep(Duration::from_secs(2)).await;
    a = spawn(&db_url, pa);
    wait_up(&client, pa).await;
    // Later both go down for five seconds while breaches come due; they fire late after
    // the restart.
    tokio::time::sleep(Duration::from_secs(8)).await;
    a.kill9();
    b.kill9();
    let down_at = chrono::Utc::now();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let _a = spawn(&db_url, pa);
    let _b = spawn(&db_url, pb);
    wait_up(&client, pa).await;
    wait_up(&client, pb).await;

    let db = sqlx::PgPool::connect(&db_url).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let breaches = scalar(
            &db,
            "SELECT COUNT(*) FROM sla_firings WHERE event = 'sla.breached'",
        )
        .await;
        let delivered = scalar(
            &db,
            "SELECT COUNT(*) FROM outbox WHERE status = 'delivered'",
        )
        .await;
        if breaches == CONVERSATIONS as i64 && delivered == CONVERSATIONS as i64 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "after the kills: {breaches} breaches fired, {delivered} webhooks delivered"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Exactly once, counted: firings are unique by key; rule runs and outbox rows too.
    assert_eq!(
        scalar(
            &db,
            "SELECT COUNT(*) FROM sla_firings WHERE event = 'sla.warning'"
        )
        .await,
        CONVERSATIONS as i64
    );
    assert_eq!(
        scalar(&db, "SELECT COUNT(*) FROM rule_runs").await,
        CONVERSATIONS as i64,
        "the breach rule ran once per conversation"
    );
    assert_eq!(
        scalar(&db, "SELECT COUNT(DISTINCT conversation_id) FROM rule_runs").await,
        CONVERSATIONS as i64
    );
    assert_eq!(
        scalar(&db, "SELECT COUNT(*) FROM outbox").await,
        CONVERSATIONS as i64,
        "one webhook per breach"
    );
    assert_eq!(
        scalar(
            &db,
            "SELECT COUNT(*) FROM events WHERE external_id LIKE 'auto:sla:%:update'"
        )
        .await,
        CONVERSATIONS as i64,
        "one label change per breach"
    );
    let late: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM sla_firings WHERE late AND due_at >= $1 AND due_at < $1 + interval '4 seconds'",
    )
    .bind(down_at)
    .fetch_one(&db)
    .await
    .unwrap();
    let all_late = scalar(&db, "SELECT COUNT(*) FROM sla_firings WHERE late").await;
    let range: (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) = sqlx::query_as(
        "SELECT MIN(due_at), MAX(due_at) FROM sla_firings WHERE event = 'sla.breached'",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert!(
        late > 0,
        "what came due while both were down fired late: down at {down_at}, late in all {all_late}, breaches due {range:?}"
    );
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), CONVERSATIONS, "every delivery id arrived");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_on_one_server_sees_changes_ingested_on_another() {
    use futures::StreamExt;
    let (_cluster, db_url, token) = database_with_token("fanout").await;
    let (pa, pb) = (free_port(), free_port());
    let _a = spawn(&db_url, pa);
    let _b = spawn(&db_url, pb);
    let client = crate::support::client();
    wait_up(&client, pa).await;
    wait_up(&client, pb).await;
    // A stream on B.
    let resp = client
        .get(format!("http://127.0.0.1:{pb}/api/v1/stream"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let mut body = resp.bytes_stream();
    let mut text = String::new();
    let hello = tokio::time::timeout(Duration::from_secs(20), async {
        while !text.contains("event: hello") {
            text.push_str(&String::from_utf8_lossy(
                &body.next().await.unwrap().unwrap(),
            ));
        }
    })
    .await;
    assert!(hello.is_ok(), "B's stream never said hello: {text}");
    // An event ingested through A. The deadline only bounds a failure; how fast the change
    // travels is `promptly bench live`'s question.
    let r = client
        .post(format!("http://127.0.0.1:{pa}/api/v1/events"))
        .bearer_auth(&token)
        .json(&json!({"id": "x1", "type": "conversation.created", "conversation": "via-a", "channel": "sms"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let arrived = tokio::time::timeout(Duration::from_secs(3), async {
        loop {
            let chunk = body.next().await.unwrap().unwrap();
            text.push_str(&String::from_utf8_lossy(&chunk));
            if text.contains("\"external_id\":\"via-a\"") {
                return;
            }
        }
    })
    .await;
    assert!(arrived.is_ok(), "B's stream never got A's change: {text}");
}
