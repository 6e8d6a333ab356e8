//! The kill test: the real `promptly` binary under a bounded ingest load is killed with
//! SIGKILL at varied points and restarted on the same database and port, again and again;
//! then every acknowledged event is in the database, every SLA warning and breach that came
//! due fired exactly once with its rule actions (labels, rule runs, outbox rows) exactly
//! once, the database is consistent, and a stream client that resumed with `Last-Event-ID`
//! after every drop never skipped a change: within a server its numbers run on without a
//! gap, after a restart `hello` tells it that it missed changes (it reloads), and in the end
//! it shows every conversation as the database has it.
//!
//! SQLite by default; with `PROMPTLY_TEST_DATABASE=postgres` the same on a throwaway
//! PostgreSQL. `KILLS` and `CONVERSATIONS` are the short fixed-size form run by the test
//! command; `PROMPTLY_KILL_TEST_KILLS` / `PROMPTLY_KILL_TEST_CONVERSATIONS` make it longer
//! (`scripts/kill-test.sh`).
//!
//! The servers run on the real clock (the SLA instants come due in real time, a few seconds
//! after each conversation starts); the test's waits are the scenario's periods (how long a
//! server runs before it is killed, the load's pace), and everything that must happen is
//! awaited by polling with a deadline.

use crate::server_support::{database, eventually};
use crate::support::{self, Promptly};
use chrono::{SecondsFormat, Utc};
use futures::StreamExt;
use promptly_server::store::db::{Db, Row};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// SIGKILLs in the short form.
const KILLS: usize = 20;
/// Conversations the load creates, one batch each.
const CONVERSATIONS: usize = 240;
/// The first response target (seconds); the warning comes at half of it.
const TARGET_S: i64 = 4;
/// How long each server runs before it is killed, in milliseconds: varied, so that kills
/// land during start-up, ingest, automation passes and deliveries.
const UPTIMES_MS: [u64; 8] = [150, 900, 400, 1300, 60, 700, 1100, 250];

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What a conversation of the load is: by its number.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// Unanswered, with "urgent" in its message: the urgent rule, then a warning and a
    /// breach.
    Urgent,
    /// Answered at once: nothing fires.
    Answered,
    /// Unanswered: a warning and a breach.
    Waiting,
}

fn kind(i: usize) -> Kind {
    match i % 3 {
        0 => Kind::Urgent,
        1 => Kind::Answered,
        _ => Kind::Waiting,
    }
}

/// The batch that starts conversation `i`, stamped `at`.
fn batch(i: usize, at: &str) -> Value {
    let c = format!("k{i}");
    let text = match kind(i) {
        Kind::Urgent => "urgent: the payment failed",
        _ => "hello",
    };
    let mut events = vec![
        json!({"id": format!("{c}-a"), "type": "conversation.created", "conversation": c,
               "at": at, "channel": "whatsapp", "contact": {"name": format!("Customer {i}")}}),
        json!({"id": format!("{c}-b"), "type": "message.created", "conversation": c, "at": at,
               "author": "customer", "text": text}),
    ];
    if kind(i) == Kind::Answered {
        events.push(
            json!({"id": format!("{c}-c"), "type": "message.created", "conversation": c,
            "at": at, "author": "agent", "text": "On it", "agent_email": "ada@kill.test"}),
        );
    }
    json!({ "events": events })
}

/// The ingest client: posts each conversation's batch (stamped when first tried) until it
/// is acknowledged, retrying while the server is down; records the acknowledged event ids.
fn load(
    port: u16,
    token: String,
    conversations: usize,
    acked: Arc<Mutex<HashSet<String>>>,
    done: Arc<AtomicUsize>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let client = support::client();
        let url = format!("http://127.0.0.1:{port}/api/v1/events");
        for i in 0..conversations {
            let at = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
            let body = batch(i, &at);
            loop {
                let r = client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&body)
                    .timeout(Duration::from_secs(10))
                    .send()
                    .await;
                if r.is_ok_and(|r| r.status().is_success()) {
                    let mut a = acked.lock().unwrap();
                    for e in body["events"].as_array().unwrap() {
                        a.insert(e["id"].as_str().unwrap().to_string());
                    }
                    break;
                }
                // The server is down (or going down): try again shortly.
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            done.store(i + 1, Ordering::SeqCst);
            // The load's pace (a bounded stream of conversations, not a flood).
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
    })
}

/// What the stream client saw.
#[derive(Default)]
struct Seen {
    /// The number of the last change it has (the `Last-Event-ID` it resumes with).
    last: Option<u64>,
    /// Each conversation as the stream (or a reload) last showed it, by sender id.
    views: HashMap<String, Value>,
    /// Streams resumed exactly (hello's `seq` was the `Last-Event-ID`).
    resumed: usize,
    /// Streams whose hello said changes were missed (a new server): reloaded.
    reloads: usize,
    /// Changes received.
    changes: usize,
    /// What went wrong: numbers that went back or skipped.
    faults: Vec<String>,
}

/// One SSE message: (event, id, data).
fn parse_frame(frame: &str) -> (String, Option<u64>, String) {
    let (mut event, mut id, mut data) = (String::new(), None, String::new());
    for line in frame.lines() {
        if let Some(v) = line.strip_prefix("event:") {
            event = v.trim().to_string();
        } else if let Some(v) = line.strip_prefix("id:") {
            id = v.trim().parse().ok();
        } else if let Some(v) = line.strip_prefix("data:") {
            data.push_str(v.trim_start());
        }
    }
    (event, id, data)
}

/// Reads every conversation through the API (a browser's reload after a gap).
async fn reload(client: &reqwest::Client, port: u16, token: &str) -> Option<Vec<Value>> {
    let r = client
        .get(format!(
            "http://127.0.0.1:{port}/api/v1/conversations?limit=5000"
        ))
        .bearer_auth(token)
        .send()
        .await
        .ok()?;
    if !r.status().is_success() {
        return None;
    }
    r.json::<Vec<Value>>().await.ok()
}

/// The stream client: reads `/api/v1/stream`, resumes with `Last-Event-ID` whenever the
/// stream ends (a killed server) and also on its own every 40 changes; checks the numbers.
fn watch(
    port: u16,
    token: String,
    seen: Arc<Mutex<Seen>>,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        while !stop.load(Ordering::SeqCst) {
            let last = seen.lock().unwrap().last;
            let mut req = client
                .get(format!("http://127.0.0.1:{port}/api/v1/stream"))
                .bearer_auth(&token);
            if let Some(l) = last {
                req = req.header("last-event-id", l.to_string());
            }
            let Ok(resp) = req.send().await else {
                tokio::time::sleep(Duration::from_millis(25)).await;
                continue;
            };
            if !resp.status().is_success() {
                tokio::time::sleep(Duration::from_millis(25)).await;
                continue;
            }
            let mut body = resp.bytes_stream();
            let mut buf = String::new();
            let mut this_stream = 0;
            'stream: loop {
                let chunk = tokio::select! {
                    c = body.next() => c,
                    // A quiet stream still ends when the test is over.
                    () = tokio::time::sleep(Duration::from_millis(200)) => {
                        if stop.load(Ordering::SeqCst) { break 'stream; }
                        continue 'stream;
                    }
                };
                let Some(Ok(chunk)) = chunk else {
                    break 'stream; // the server went away
                };
                buf.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buf.find("\n\n") {
                    let frame: String = buf.drain(..end + 2).collect();
                    let (event, id, data) = parse_frame(&frame);
                    match event.as_str() {
                        "hello" => {
                            let seq = serde_json::from_str::<Value>(&data).unwrap()["seq"]
                                .as_u64()
                                .unwrap();
                            let prev = seen.lock().unwrap().last;
                            match prev {
                                Some(l) if l == seq => seen.lock().unwrap().resumed += 1,
                                _ => {
                                    if let Some(l) = prev {
                                        if seq < l {
                                            seen.lock().unwrap().faults.push(format!(
                                                "hello {seq} after change {l}: numbers went back"
                                            ));
                                        }
                                    }
                                    // Missed changes (or the first start): reload, then apply
                                    // what the stream sends after `seq`.
                                    let Some(all) = reload(&client, port, &token).await else {
                                        break 'stream;
                                    };
                                    let mut s = seen.lock().unwrap();
                                    s.reloads += usize::from(prev.is_some());
                                    for c in all {
                                        let key = c["external_id"].as_str().unwrap().to_string();
                                        s.views.insert(key, c);
                                    }
                                    s.last = Some(seq);
                                }
                            }
                        }
                        "conversation" => {
                            let Some(id) = id else { continue };
                            let c: Value = serde_json::from_str(&data).unwrap();
                            let c = c["conversation"].clone();
                            let mut s = seen.lock().unwrap();
                            if let Some(l) = s.last {
                                if id != l + 1 {
                                    s.faults.push(format!("change {id} after change {l}"));
                                }
                            }
                            s.last = Some(id);
                            s.changes += 1;
                            s.views
                                .insert(c["external_id"].as_str().unwrap().to_string(), c);
                            this_stream += 1;
                        }
                        _ => {}
                    }
                }
                if this_stream >= 40 {
                    break 'stream; // resume on its own, from the same server
                }
            }
        }
    })
}

/// The database beside the servers, for counting.
async fn open_db(url: &str) -> Db {
    match promptly_server::store::DatabaseUrl::parse(url).unwrap() {
        promptly_server::store::DatabaseUrl::Sqlite(u) => {
            Db::sqlite(sqlx::SqlitePool::connect(&u).await.unwrap())
        }
        promptly_server::store::DatabaseUrl::Postgres(u) => {
            Db::Postgres(sqlx::PgPool::connect(&u).await.unwrap())
        }
    }
}

async fn rows(db: &Db, sql: &str) -> Vec<Row> {
    db.query(sql).fetch_all(db).await.unwrap()
}

async fn count(db: &Db, sql: &str) -> i64 {
    db.query(sql).fetch_scalar(db).await.unwrap()
}

/// The fields of a conversation the stream client must show as the database has them.
fn shown(c: &Value) -> Value {
    json!([
        c["status"],
        c["priority"],
        c["labels"],
        c["owner"],
        c["last_message"],
        c["policy_id"],
        c["policy_version"]
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_at_any_point_loses_no_acknowledged_event_and_fires_everything_once() {
    let kills = setting("PROMPTLY_KILL_TEST_KILLS", KILLS);
    let conversations = setting("PROMPTLY_KILL_TEST_CONVERSATIONS", CONVERSATIONS);
    let dir = tempfile::tempdir().unwrap();
    let (_cluster, db_url) = match database() {
        "postgres" => {
            let cluster = tokio::task::spawn_blocking(support::PgCluster::start)
                .await
                .unwrap();
            let url = cluster.fresh_database().await;
            (Some(cluster), url)
        }
        _ => (
            None,
            format!("sqlite://{}", dir.path().join("promptly.db").display()),
        ),
    };
    let token = support::cli_token(&db_url, "kill", Some("admin"));
    // The same port across restarts: outside the range the clients' own ports come from.
    let port = support::restart_port();
    let client = support::client();

    // Deliveries arrive here (at least once; the outbox rows are what must be unique).
    let deliveries = Arc::new(AtomicUsize::new(0));
    let counter = deliveries.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let mut server = Promptly::start(&db_url, port);
    support::wait_up(&client, port).await;
    let api = |path: &str| format!("http://127.0.0.1:{port}/api/v1{path}");
    let send = |method: reqwest::Method, path: &str, body: Value| {
        client
            .request(method, api(path))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    let r = send(
        reqwest::Method::POST,
        "/policies",
        json!({"name": "Seconds", "first_response": format!("{TARGET_S}s"), "warning": "50%"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    let policy: Value = r.json().await.unwrap();
    let r = send(
        reqwest::Method::PUT,
        "/settings/default-policy",
        json!({"policy": policy["id"]}),
    )
    .await
    .unwrap();
    assert!(r.status().is_success());
    for rule in [
        json!({"name": "Urgent", "event": "message.created",
               "conditions": [{"field": "message.text", "op": "contains", "value": "urgent"}],
               "actions": [{"type": "set_priority", "priority": "urgent"}]}),
        json!({"name": "Warn", "event": "sla.warning",
               "actions": [{"type": "add_label", "label": "warned"}]}),
        json!({"name": "Breach", "event": "sla.breached",
               "actions": [{"type": "add_label", "label": "breached"},
                           {"type": "webhook", "url": hook, "secret": "kill-secret"}]}),
    ] {
        let r = send(reqwest::Method::POST, "/rules", rule).await.unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    }

    let acked: Arc<Mutex<HashSet<String>>> = Arc::default();
    let loaded = Arc::new(AtomicUsize::new(0));
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let loader = load(
        port,
        token.clone(),
        conversations,
        acked.clone(),
        loaded.clone(),
    );
    let watcher = watch(port, token.clone(), seen.clone(), stop.clone());

    // Kill, restart on the same database and port, again and again: each server runs for a
    // varied while first (the scenario's timing, not synchronisation).
    for k in 0..kills {
        tokio::time::sleep(Duration::from_millis(UPTIMES_MS[k % UPTIMES_MS.len()])).await;
        server.kill9();
        server = Promptly::start(&db_url, port);
        support::wait_up(&client, port).await;
    }
    loader.await.unwrap();
    assert_eq!(loaded.load(Ordering::SeqCst), conversations);

    // Every due warning and breach fires once the last conversations' instants have come
    // (a few seconds of real time after the load ended).
    let db = open_db(&db_url).await;
    let waiting = (0..conversations)
        .filter(|i| kind(*i) != Kind::Answered)
        .count() as i64;
    // (Deliveries are at least once and not awaited here: one in flight when its server
    // was killed is retried when its 60-second lease has run out. The outbox rows, one per
    // breach, are what must be exactly once.)
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let breaches = count(
            &db,
            "SELECT COUNT(*) FROM sla_firings WHERE event = 'sla.breached'",
        )
        .await;
        let outbox = count(&db, "SELECT COUNT(*) FROM outbox").await;
        let queued = count(&db, "SELECT COUNT(*) FROM automation_queue").await;
        let scheduled = count(
            &db,
            "SELECT COUNT(*) FROM conversations WHERE next_sla_at IS NOT NULL",
        )
        .await;
        if breaches >= waiting && outbox >= waiting && queued == 0 && scheduled == 0 {
            break;
        }
        if tokio::time::Instant::now() > deadline {
            let lacking = rows(
                &db,
                "SELECT c.id, c.external_id, COALESCE(CAST(c.sla_done_until AS TEXT), '-'), \
                 CAST(c.updated_at AS TEXT), CAST(c.created_at AS TEXT) FROM conversations c \
                 WHERE NOT EXISTS (SELECT 1 FROM sla_firings f WHERE f.conversation_id = c.id \
                 AND f.event = 'sla.breached')",
            )
            .await;
            let mut detail = Vec::new();
            for r in lacking {
                let id: i64 = r.get(0).unwrap();
                let ext: String = r.get(1).unwrap();
                if !ext.starts_with('k') || kind(ext[1..].parse().unwrap()) == Kind::Answered {
                    continue;
                }
                let firings = rows(&db, &format!("SELECT event, CAST(due_at AS TEXT), CAST(fired_at AS TEXT), late FROM sla_firings WHERE conversation_id = {id}")).await;
                let events = rows(&db, &format!("SELECT external_id, CAST(at AS TEXT), CAST(received_at AS TEXT) FROM events WHERE conversation_id = {id} ORDER BY id")).await;
                detail.push(format!(
                    "{ext}: done_until {} updated {} created {}; firings {:?}; events {:?}",
                    r.get::<String, _>(2).unwrap(),
                    r.get::<String, _>(3).unwrap(),
                    r.get::<String, _>(4).unwrap(),
                    firings
                        .iter()
                        .map(|f| format!(
                            "{} due {} at {} late {}",
                            f.get::<String, _>(0).unwrap(),
                            f.get::<String, _>(1).unwrap(),
                            f.get::<String, _>(2).unwrap(),
                            f.get::<bool, _>(3).unwrap()
                        ))
                        .collect::<Vec<_>>(),
                    events
                        .iter()
                        .map(|e| format!(
                            "{} at {} received {}",
                            e.get::<String, _>(0).unwrap(),
                            e.get::<String, _>(1).unwrap(),
                            e.get::<String, _>(2).unwrap()
                        ))
                        .collect::<Vec<_>>(),
                ));
            }
            panic!(
                "after a minute: {breaches} of {waiting} breaches fired, {outbox} outbox rows, \
                 {queued} events wait for their rules, {scheduled} conversations still \
                 scheduled:\n{}",
                detail.join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Every acknowledged event is stored.
    let stored: HashSet<String> = rows(&db, "SELECT external_id FROM events")
        .await
        .iter()
        .map(|r| r.get::<String, _>(0).unwrap())
        .collect();
    let acked = acked.lock().unwrap().clone();
    let lost: Vec<&String> = acked.iter().filter(|id| !stored.contains(*id)).collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");

    // Per conversation: what fired, the rules that ran, the outbox rows and the events the
    // rules added, each exactly as often as its kind says.
    let mut per: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    let tallies = [
        "SELECT c.external_id, 'firing ' || f.event, COUNT(*) FROM sla_firings f \
         JOIN conversations c ON c.id = f.conversation_id GROUP BY c.external_id, f.event",
        "SELECT c.external_id, 'rule ' || r.trigger, COUNT(*) FROM rule_runs r \
         JOIN conversations c ON c.id = r.conversation_id GROUP BY c.external_id, r.trigger",
        "SELECT c.external_id, 'outbox', COUNT(*) FROM outbox o \
         JOIN conversations c ON c.id = o.conversation_id GROUP BY c.external_id",
        "SELECT c.external_id, 'auto event', COUNT(*) FROM events e \
         JOIN conversations c ON c.id = e.conversation_id WHERE e.external_id LIKE 'auto:%' \
         GROUP BY c.external_id",
    ];
    for sql in tallies {
        for r in rows(&db, sql).await {
            per.entry(r.get(0).unwrap())
                .or_default()
                .insert(r.get(1).unwrap(), r.get(2).unwrap());
        }
    }
    let mut wrong = Vec::new();
    for i in 0..conversations {
        let c = format!("k{i}");
        let fired: BTreeMap<String, i64> = match kind(i) {
            Kind::Answered => BTreeMap::new(),
            k => {
                let mut m: BTreeMap<String, i64> = [
                    ("firing sla.warning", 1),
                    ("firing sla.breached", 1),
                    ("rule sla.warning", 1),
                    ("rule sla.breached", 1),
                    ("outbox", 1),
                    ("auto event", 2),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
                if k == Kind::Urgent {
                    m.insert("rule message.created".into(), 1);
                    m.insert("auto event".into(), 3);
                }
                m
            }
        };
        let got = per.remove(&c).unwrap_or_default();
        if got != fired {
            wrong.push(format!("{c} ({:?}): {got:?}, expected {fired:?}", kind(i)));
        }
    }
    assert!(wrong.is_empty(), "not exactly once:\n{}", wrong.join("\n"));
    assert!(per.is_empty(), "firings for unknown conversations: {per:?}");
    assert!(
        deliveries.load(Ordering::SeqCst) > 0,
        "webhooks are delivered"
    );

    // The stream client, once the stream is quiet, shows every conversation as the API does.
    let stream_matches = || async {
        let all = reload(&client, port, &token).await?;
        let s = seen.lock().unwrap();
        let differ: Vec<String> = all
            .iter()
            .filter(|c| {
                s.views.get(c["external_id"].as_str().unwrap()).map(shown) != Some(shown(c))
            })
            .map(|c| c["external_id"].as_str().unwrap().to_string())
            .collect();
        (all.len() == conversations && differ.is_empty()).then_some(())
    };
    eventually(
        Duration::from_secs(30),
        "the stream client caught up",
        stream_matches,
    )
    .await;
    stop.store(true, Ordering::SeqCst);
    watcher.await.unwrap();
    {
        let s = seen.lock().unwrap();
        assert!(s.faults.is_empty(), "stream faults: {:?}", s.faults);
        assert!(
            s.changes > 0 && s.resumed > 0,
            "changes {} resumed {}",
            s.changes,
            s.resumed
        );
        assert!(
            s.reloads <= kills,
            "reloads {} for {kills} restarts",
            s.reloads
        );
        eprintln!(
            "kill test: {kills} kills, {conversations} conversations, {} events acknowledged, \
             stream: {} changes, {} exact resumes, {} reloads after restarts",
            acked.len(),
            s.changes,
            s.resumed,
            s.reloads
        );
    }

    // The database is consistent: SQLite's own check, and every conversation's columns are
    // what its events fold into.
    server.terminate().await;
    if let Db::Sqlite(..) = db {
        assert_eq!(support::sqlite_integrity(&db_url).await, "ok");
    }
    let store =
        promptly_server::store::open(&promptly_server::store::DatabaseUrl::parse(&db_url).unwrap())
            .await
            .unwrap();
    support::assert_consistent(&store).await;
}
