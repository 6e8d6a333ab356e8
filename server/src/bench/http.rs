//! `promptly bench ingest` and `promptly bench live`: the ingest API and the live stream
//! measured over real HTTP on loopback, each against its baseline in the same run.

use crate::http;
use crate::state::AppState;
use crate::store::{self, DatabaseUrl, DynStore};
use chrono::{Duration, Utc};
use futures::StreamExt;
use serde_json::{json, Value};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Instant;

/// A server on a free loopback port on a fresh database (SQLite `bench.db` in `dir`, or the
/// PostgreSQL database `pg_url`), and an integration token (an agent role's scopes: it posts events and reads the queue).
async fn start(
    dir: &std::path::Path,
    pg_url: Option<&str>,
) -> Result<(String, String, AppState), String> {
    let url = match pg_url {
        Some(u) => u.to_string(),
        None => format!("sqlite://{}", dir.join("bench.db").display()),
    };
    let store: DynStore = store::open(&DatabaseUrl::parse(&url)?).await?;
    let policy = store
        .create_policy(
            &store::PolicyInput {
                name: "Bench".into(),
                description: String::new(),
                calendar_id: None,
                policy: serde_json::from_value(
                    json!({"first_response": "30m", "next_response": "1h", "resolution": "1d"}),
                )
                .map_err(|e| e.to_string())?,
            },
            Utc::now(),
        )
        .await
        .map_err(|e| e.to_string())?;
    store
        .set_default_policy(Some(policy.id))
        .await
        .map_err(|e| e.to_string())?;
    let grant = crate::services::tokens::Grant {
        role: Some("agent"),
        ..Default::default()
    };
    let token =
        crate::services::tokens::create_token(store.as_ref(), "bench", grant, chrono::Utc::now())
            .await
            .map_err(|e| e.to_string())?
            .token;
    let state = AppState::new(store, false);
    let opts = leptos::prelude::LeptosOptions::builder()
        .output_name("promptly")
        .site_root(dir.to_string_lossy().to_string())
        .site_pkg_dir("pkg")
        .build();
    let app = http::router(state.clone(), opts, None);
    let (listener, addr) = loopback_listener()?;
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    Ok((format!("http://{addr}"), token, state))
}

/// A listener on a free loopback port with a backlog of 4,096 (a burst of stream clients
/// overflows the default 128), and its address.
fn loopback_listener() -> Result<(tokio::net::TcpListener, SocketAddr), String> {
    let socket = tokio::net::TcpSocket::new_v4().map_err(|e| e.to_string())?;
    socket
        .bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .map_err(|e| e.to_string())?;
    let listener = socket.listen(4096).map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    Ok((listener, addr))
}

/// `n` realistic events: conversations of 5 events (created, customer, agent, customer,
/// agent), with random sender ids as channels send them.
fn workload(n: usize) -> Vec<Value> {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    // A second apart (closer for a very long workload), all within the window the server
    // accepts: ending a minute ago, starting at most six days before.
    let step_ms = (6 * 24 * 3600 * 1000 / n.max(1) as i64).clamp(1, 1000);
    let base = Utc::now() - Duration::milliseconds(step_ms * n as i64) - Duration::minutes(1);
    (0..n)
        .map(|i| {
            let conv = format!("bench-c{}", i / 5);
            let id = format!("evt-{:016x}", rng.gen::<u64>());
            let at = (base + Duration::milliseconds(step_ms * i as i64)).to_rfc3339();
            match i % 5 {
                0 => json!({"id": id, "type": "conversation.created", "conversation": conv,
                            "at": at, "channel": "whatsapp", "contact": {"name": "Bench"}}),
                1 | 3 => json!({"id": id, "type": "message.created", "conversation": conv,
                                "at": at, "author": "customer", "text": "Hello, where is my order?"}),
                _ => json!({"id": id, "type": "message.created", "conversation": conv,
                            "at": at, "author": "agent", "text": "On its way", "agent_email": "a@b.io"}),
            }
        })
        .collect()
}

/// Multi-row inserts of the same events (and their conversations) into the same schema,
/// one transaction per batch: the plain-SQL baseline.
async fn raw_inserts(dir: &std::path::Path, events: &[Value], batch: usize) -> Result<f64, String> {
    let url = format!("sqlite://{}", dir.join("raw.db").display());
    store::open(&DatabaseUrl::parse(&url)?).await?; // creates the schema
    let opts = SqliteConnectOptions::from_str(&url)
        .map_err(|e| e.to_string())?
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal);
    let pool = sqlx::SqlitePool::connect_with(opts)
        .await
        .map_err(|e| e.to_string())?;
    let now = Utc::now().to_rfc3339();
    let began = Instant::now();
    for chunk in events.chunks(batch) {
        let mut tx = pool.begin().await.map_err(|e| e.to_string())?;
        let convs: Vec<&str> = chunk
            .iter()
            .filter(|e| e["type"] == "conversation.created")
            .filter_map(|e| e["conversation"].as_str())
            .collect();
        if !convs.is_empty() {
            let mut q = sqlx::QueryBuilder::new(
                "INSERT INTO conversations (external_id, status, channel, summary, created_at, updated_at) ",
            );
            q.push_values(&convs, |mut b, c| {
                b.push_bind(*c)
                    .push_bind("open")
                    .push_bind("whatsapp")
                    .push_bind("{}")
                    .push_bind(&now)
                    .push_bind(&now);
            });
            q.build()
                .execute(&mut *tx)
                .await
                .map_err(|e| e.to_string())?;
        }
        let mut q = sqlx::QueryBuilder::new(
            "INSERT INTO events (external_id, conversation_id, at, payload, received_at) ",
        );
        q.push_values(chunk, |mut b, e| {
            b.push_bind(e["id"].as_str().unwrap_or_default().to_string())
                // The source too: conversations are unique (and indexed) per source.
                .push("(SELECT id FROM conversations WHERE source = 'default' AND external_id = ")
                .push_bind_unseparated(e["conversation"].as_str().unwrap_or_default().to_string())
                .push_unseparated(")")
                .push_bind(e["at"].as_str().unwrap_or_default().to_string())
                .push_bind(e.to_string())
                .push_bind(&now);
        });
        q.build()
            .execute(&mut *tx)
            .await
            .map_err(|e| e.to_string())?;
        tx.commit().await.map_err(|e| e.to_string())?;
    }
    Ok(events.len() as f64 / began.elapsed().as_secs_f64())
}

/// Two fresh databases on a PostgreSQL server (one for the API, one for the baseline),
/// dropped when the bench ends.
struct PgBenchDatabases {
    admin: String,
    names: [String; 2],
}

impl PgBenchDatabases {
    async fn create(admin: &str) -> Result<Self, String> {
        let pid = std::process::id();
        let names = [
            format!("promptly_bench_api_{pid}"),
            format!("promptly_bench_raw_{pid}"),
        ];
        let pool = sqlx::PgPool::connect(admin)
            .await
            .map_err(|e| format!("cannot reach PostgreSQL at {admin}: {e}"))?;
        for n in &names {
            // Left by a run that was stopped half-way (dropped here without a notice).
            let left: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                    .bind(n)
                    .fetch_one(&pool)
                    .await
                    .map_err(|e| e.to_string())?;
            if left {
                sqlx::query(&format!("DROP DATABASE {n} WITH (FORCE)"))
                    .execute(&pool)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            sqlx::query(&format!("CREATE DATABASE {n}"))
                .execute(&pool)
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(PgBenchDatabases {
            admin: admin.to_string(),
            names,
        })
    }

    fn url(&self, i: usize) -> Result<String, String> {
        let mut u = url::Url::parse(&self.admin).map_err(|e| e.to_string())?;
        u.set_path(&format!("/{}", self.names[i]));
        Ok(u.to_string())
    }

    async fn drop_all(&self) {
        if let Ok(pool) = sqlx::PgPool::connect(&self.admin).await {
            for n in &self.names {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {n} WITH (FORCE)"))
                    .execute(&pool)
                    .await;
            }
        }
    }
}

/// The same multi-row inserts on PostgreSQL (one `INSERT ... SELECT FROM UNNEST` per table
/// per batch, the fastest plain form), one transaction per batch.
async fn raw_inserts_pg(url: &str, events: &[Value], batch: usize) -> Result<f64, String> {
    store::open(&DatabaseUrl::parse(url)?).await?; // creates the schema
    let pool = sqlx::PgPool::connect(url)
        .await
        .map_err(|e| e.to_string())?;
    let now = Utc::now();
    let began = Instant::now();
    for chunk in events.chunks(batch) {
        let mut tx = pool.begin().await.map_err(|e| e.to_string())?;
        let convs: Vec<String> = chunk
            .iter()
            .filter(|e| e["type"] == "conversation.created")
            .filter_map(|e| e["conversation"].as_str().map(String::from))
            .collect();
        if !convs.is_empty() {
            sqlx::query(
                "INSERT INTO conversations (external_id, status, channel, summary, created_at, \
                 updated_at) SELECT c, 'open', 'whatsapp', '{}', $2, $2 FROM UNNEST($1::text[]) c",
            )
            .bind(&convs)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(|e| e.to_string())?;
        }
        let text = |k: &str| -> Vec<String> {
            chunk
                .iter()
                .map(|e| e[k].as_str().unwrap_or_default().to_string())
                .collect()
        };
        let ats: Vec<chrono::DateTime<Utc>> = text("at")
            .iter()
            .map(|a| {
                chrono::DateTime::parse_from_rfc3339(a)
                    .map(|t| t.with_timezone(&Utc))
                    .unwrap_or(now)
            })
            .collect();
        let payloads: Vec<String> = chunk.iter().map(|e| e.to_string()).collect();
        sqlx::query(
            "INSERT INTO events (external_id, conversation_id, at, payload, received_at) \
             SELECT u.id, c.id, u.at, u.payload, $5 FROM UNNEST($1::text[], $2::text[], \
             $3::timestamptz[], $4::text[]) AS u(id, conv, at, payload) \
             JOIN conversations c ON c.source = 'default' AND c.external_id = u.conv",
        )
        .bind(text("id"))
        .bind(text("conversation"))
        .bind(&ats)
        .bind(&payloads)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| e.to_string())?;
        tx.commit().await.map_err(|e| e.to_string())?;
    }
    Ok(events.len() as f64 / began.elapsed().as_secs_f64())
}

/// Posts `events` in batches of `batch` from `concurrency` clients at once; events/s.
async fn post_all(
    base: &str,
    token: &str,
    events: &[Value],
    batch: usize,
    concurrency: usize,
) -> Result<f64, String> {
    let client = reqwest::Client::new();
    let chunks: Vec<Value> = events
        .chunks(batch)
        .map(|c| json!({ "events": c }))
        .collect();
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let chunks = std::sync::Arc::new(chunks);
    let began = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (client, next, chunks) = (client.clone(), next.clone(), chunks.clone());
        let (url, token) = (format!("{base}/api/v1/events"), token.to_string());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(body) = chunks.get(i) else {
                    return Ok::<(), String>(());
                };
                let r = client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(body)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                if !r.status().is_success() {
                    return Err(format!(
                        "ingest answered {}: {}",
                        r.status(),
                        r.text().await.unwrap_or_default()
                    ));
                }
            }
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    Ok(events.len() as f64 / began.elapsed().as_secs_f64())
}

/// Events per second through `POST /api/v1/events` in batches of `batch` (from
/// `concurrency` clients), against raw inserts of the same rows, on SQLite or, given an
/// admin URL, on two fresh PostgreSQL databases.
/// `n` contracts over every conversation (all nine metric kinds), their rollups built.
async fn add_contracts(state: &AppState, n: usize) -> Result<(), String> {
    for i in 0..n {
        let body = serde_json::json!({
            "name": format!("Bench {i}"), "counterparty_kind": "client",
            "counterparty": "Bench Corp", "review_date": "2027-06-30",
            "metrics": [
                {"kind": "frt_attainment", "target": 95, "period": "month"},
                {"kind": "nrt_attainment", "target": 90, "period": "month"},
                {"kind": "rt_attainment", "target": 85, "period": "week"},
                {"kind": "service_level", "within_s": 60 + i, "formula": "answered_only", "target": 80, "period": "month"},
                {"kind": "asa", "target": 45, "period": "month"},
                {"kind": "abandonment_rate", "short_abandon_s": 10, "target": 5, "period": "month"},
                {"kind": "csat", "target": 85, "period": "month"},
                {"kind": "nps", "target": 30, "period": "month"},
                {"kind": "ces", "target": 3, "period": "month"}
            ],
            "remedies": {"currency": "EUR"}
        });
        crate::services::contracts::create(state, body)
            .await
            .map_err(|e| format!("a bench contract was refused: {e:?}"))?;
    }
    crate::reports::sync_rollups(state.store.as_ref())
        .await
        .map_err(|e| e.to_string())
}

pub async fn ingest(
    n: usize,
    batch: usize,
    concurrency: usize,
    postgres: Option<String>,
    contracts: usize,
    repeats: usize,
) -> Result<String, String> {
    if n == 0 || batch == 0 || concurrency == 0 || repeats == 0 {
        return Err("--events, --batch, --concurrency and --repeats must be at least 1".into());
    }
    let events = workload(n);
    // The API's rate, and how many batches its commits made durable on average.
    let posted = |state: AppState, base: String, token: String| {
        let events = &events;
        async move {
            add_contracts(&state, contracts).await?;
            let before = state.store.ingest_commits();
            let api = post_all(&base, &token, events, batch, concurrency).await?;
            let after = state.store.ingest_commits();
            let per_commit = (after.1 - before.1) as f64 / (after.0 - before.0).max(1) as f64;
            Ok::<_, String>((api, per_commit))
        }
    };
    // Each repeat is a pair run back to back on fresh databases, the API then the baseline,
    // so that a pair's ratio shares the machine's load of the moment; the figures are the
    // pairs' medians.
    let mut pairs: Vec<(f64, f64, f64)> = Vec::with_capacity(repeats);
    for _ in 0..repeats {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let pair = match &postgres {
            None => {
                let (base, token, state) = start(dir.path(), None).await?;
                let (api, per_commit) = posted(state, base, token).await?;
                (
                    api,
                    raw_inserts(dir.path(), &events, batch).await?,
                    per_commit,
                )
            }
            Some(admin) => {
                let dbs = PgBenchDatabases::create(admin).await?;
                let run = async {
                    let (base, token, state) = start(dir.path(), Some(&dbs.url(0)?)).await?;
                    let (api, per_commit) = posted(state, base, token).await?;
                    let raw = raw_inserts_pg(&dbs.url(1)?, &events, batch).await?;
                    Ok::<_, String>((api, raw, per_commit))
                };
                let result = run.await;
                dbs.drop_all().await;
                result?
            }
        };
        pairs.push(pair);
    }
    let median = |f: &dyn Fn(&(f64, f64, f64)) -> f64| {
        let mut v: Vec<f64> = pairs.iter().map(f).collect();
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    let ratios: Vec<String> = pairs
        .iter()
        .map(|(api, raw, _)| format!("{:.2}", api / raw))
        .collect();
    let database = if postgres.is_some() {
        "postgres"
    } else {
        "sqlite"
    };
    Ok(format!(
        "ingest_events_per_s={:.0} raw_sqlx_rows_per_s={:.0} ratio={:.2} ratios={} batches_per_commit={:.2} n={n} batch={batch} concurrency={concurrency} contracts={contracts} repeats={repeats} database={database}",
        median(&|p| p.0),
        median(&|p| p.1),
        median(&|p| p.0 / p.1),
        ratios.join(","),
        median(&|p| p.2),
    ))
}

/// Latency from a POST returning to the change arriving at each of `clients` streams.
pub async fn live(clients: usize, rounds: usize) -> Result<String, String> {
    if clients == 0 || rounds == 0 {
        return Err("--clients and --rounds must be at least 1".into());
    }
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (base, token, _state) = start(dir.path(), None).await?;
    let (promptly, frame) = live_rounds(&base, &token, clients, rounds).await?;
    // The peer, in the same run: a bare axum SSE broadcast of a frame as long as Promptly's.
    let bare = bare_broadcast(frame).await?;
    let (peer, _) = live_rounds(&bare, "none", clients, rounds).await?;
    Ok(format!(
        "live_clients={clients} rounds={rounds} frame_bytes={frame} p50_ms={:.2} p99_ms={:.2} max_ms={:.2} \
         bare_p50_ms={:.2} bare_p99_ms={:.2} bare_max_ms={:.2} p99_ratio={:.2}",
        promptly[0], promptly[1], promptly[2], peer[0], peer[1], peer[2],
        promptly[1] / peer[1]
    ))
}

/// `clients` SSE clients on `{base}/api/v1/stream`; each of `rounds` posts one
/// `conversation.created` and times, for every client, the POST's answer to the change's
/// arrival. The p50, p99 and max (ms), and the longest frame received (bytes).
async fn live_rounds(
    base: &str,
    token: &str,
    clients: usize,
    rounds: usize,
) -> Result<([f64; 3], usize), String> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(usize, Instant, usize)>();
    let ready = std::sync::Arc::new(tokio::sync::Barrier::new(clients + 1));
    let mut readers = Vec::with_capacity(clients);
    for _ in 0..clients {
        let (base, token, tx, ready) = (
            base.to_string(),
            token.to_string(),
            tx.clone(),
            ready.clone(),
        );
        readers.push(tokio::spawn(async move {
            let _ = read_stream(&base, &token, &tx, &ready).await;
        }));
    }
    ready.wait().await;
    let client = reqwest::Client::new();
    let mut latencies = Vec::with_capacity(clients * rounds);
    let mut frame = 0;
    for round in 0..rounds {
        let body = json!({"id": format!("live-evt-{round}"), "type": "conversation.created",
                          "conversation": format!("live-{round}"), "channel": "sms"});
        let r = client
            .post(format!("{base}/api/v1/events"))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let returned = Instant::now();
        if !r.status().is_success() {
            return Err(format!("ingest answered {}", r.status()));
        }
        let mut got = 0;
        while got < clients {
            let (n, at, len) = tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv())
                .await
                .map_err(|_| {
                    format!("round {round}: only {got} of {clients} streams got the change")
                })?
                .ok_or("streams closed")?;
            if n == round {
                got += 1;
                frame = frame.max(len);
                latencies.push(at.saturating_duration_since(returned).as_secs_f64() * 1000.0);
            }
        }
    }
    for r in readers {
        r.abort();
    }
    latencies.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| latencies[((latencies.len() as f64 - 1.0) * p).round() as usize];
    Ok(([pct(0.5), pct(0.99), pct(1.0)], frame))
}

/// One stream client of `bench live`, as lean as a client can be so that the clients' share
/// of the machine's two cores weighs least on the figures (they run beside the server): a
/// raw HTTP/1.1 request, then each read scanned for the change's marker in place, no
/// parsing of HTTP chunks, SSE frames or JSON. Says `ready` once the stream's hello came;
/// sends (round, arrival, the frame's length) for each change.
async fn read_stream(
    base: &str,
    token: &str,
    tx: &tokio::sync::mpsc::UnboundedSender<(usize, Instant, usize)>,
    ready: &tokio::sync::Barrier,
) -> Result<(), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    const MARKER: &[u8] = b"\"external_id\":\"live-";
    let mut said_ready = false;
    let result = async {
        let addr = base.trim_start_matches("http://");
        let mut socket = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| e.to_string())?;
        socket.set_nodelay(true).map_err(|e| e.to_string())?;
        let request = format!(
            "GET /api/v1/stream HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
             Accept: text/event-stream\r\n\r\n"
        );
        socket
            .write_all(request.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let find = memchr::memmem::Finder::new(MARKER);
        // What a read left unscanned: the tail where a marker may continue in the next one.
        let mut buf = vec![0u8; 64 * 1024];
        let mut kept = 0;
        loop {
            let n = socket
                .read(&mut buf[kept..])
                .await
                .map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("the stream ended".to_string());
            }
            let at = Instant::now();
            let end = kept + n;
            if !said_ready && memchr::memmem::find(&buf[..end], b"event: hello").is_some() {
                said_ready = true;
                ready.wait().await;
            }
            let mut scanned = 0;
            let mut open = None;
            while let Some(pos) = find.find(&buf[scanned..end]) {
                let digits = scanned + pos + MARKER.len();
                match buf[digits..end].iter().position(|b| *b == b'"') {
                    Some(len) => {
                        let round = std::str::from_utf8(&buf[digits..digits + len])
                            .ok()
                            .and_then(|s| s.parse().ok());
                        // The SSE frame around the marker, for the peer's frame length.
                        let start = memchr::memmem::rfind(&buf[..scanned + pos], b"event:");
                        let stop = memchr::memmem::find(&buf[digits..end], b"\n\n");
                        let frame = match (start, stop) {
                            (Some(s), Some(e)) => digits + e + 2 - s,
                            _ => 0,
                        };
                        if let Some(round) = round {
                            let _ = tx.send((round, at, frame));
                        }
                        scanned = digits + len;
                    }
                    None => {
                        open = Some(scanned + pos);
                        break;
                    }
                }
            }
            // Keep an unfinished marker, or the last bytes that could start one.
            let from = open.unwrap_or_else(|| end.saturating_sub(MARKER.len()).max(scanned));
            buf.copy_within(from..end, 0);
            kept = end - from;
            if kept == buf.len() {
                kept = 0;
            }
        }
    }
    .await;
    if !said_ready {
        ready.wait().await;
    }
    result
}

/// A bare axum SSE broadcast on 127.0.0.1 (listen backlog 4,096 like Promptly's): `GET
/// /api/v1/stream` says hello, then forwards each broadcast; `POST /api/v1/events` broadcasts
/// a `conversation` frame of `frame` bytes naming the posted conversation, serialised once.
/// No session, no store, no SLA: the floor under `bench live`.
async fn bare_broadcast(frame: usize) -> Result<String, String> {
    use axum::response::sse::{Event, Sse};
    use axum::routing::{get, post};
    let (tx, _) = tokio::sync::broadcast::channel::<std::sync::Arc<str>>(1024);
    let sender = tx.clone();
    let app = axum::Router::new()
        .route(
            "/api/v1/stream",
            get(move || {
                let rx = tx.subscribe();
                async move {
                    let hello = futures::stream::once(async {
                        Ok::<_, std::convert::Infallible>(Event::default().event("hello").data("{}"))
                    });
                    let changes = tokio_stream::wrappers::BroadcastStream::new(rx).filter_map(
                        |m| async move {
                            m.ok().map(|json| {
                                Ok(Event::default().event("conversation").data(&*json))
                            })
                        },
                    );
                    Sse::new(hello.chain(changes))
                }
            }),
        )
        .route(
            "/api/v1/events",
            post(move |axum::Json(body): axum::Json<Value>| {
                let sender = sender.clone();
                async move {
                    let id = body["conversation"].as_str().unwrap_or_default();
                    let head = format!("{{\"type\":\"conversation\",\"conversation\":{{\"external_id\":\"{id}\",\"pad\":\"");
                    // The frame's other lines ("event: ...", "data: ", blank) take about 30 bytes.
                    let pad = frame.saturating_sub(head.len() + 4 + 30);
                    let json: std::sync::Arc<str> = format!("{head}{}\"}}}}", "x".repeat(pad)).into();
                    let _ = sender.send(json);
                    axum::http::StatusCode::OK
                }
            }),
        );
    let (listener, addr) = loopback_listener()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(format!("http://{addr}"))
}

/// The resident set of process `pid` in KiB (Linux `/proc`).
fn rss_kib(pid: u32) -> Result<u64, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("cannot read the server's memory: {e}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| "no VmRSS in /proc status".to_string())
}

/// Memory of a real `promptly serve` process (this executable, on a fresh SQLite database
/// on a free loopback port): its resident set at start, after `conversations` open
/// conversations were ingested (two events each, in batches of 1,000), and after the queue
/// was read through the API.
pub async fn memory(conversations: usize) -> Result<String, String> {
    if conversations == 0 {
        return Err("--conversations must be at least 1".into());
    }
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let db = format!("sqlite://{}", dir.path().join("memory.db").display());
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        l.local_addr().map_err(|e| e.to_string())?.port()
    };
    let token_out = std::process::Command::new(&exe)
        .args(["token", "create", "--name", "bench", "--role", "admin"])
        .env("PROMPTLY_DATABASE_URL", &db)
        .env("PROMPTLY_LOG", "warn")
        .output()
        .map_err(|e| e.to_string())?;
    let token = String::from_utf8_lossy(&token_out.stdout)
        .trim()
        .to_string();
    if !token_out.status.success() || token.is_empty() {
        return Err(format!(
            "promptly token create failed: {}",
            String::from_utf8_lossy(&token_out.stderr)
        ));
    }
    let mut child = tokio::process::Command::new(&exe)
        .arg("serve")
        .env("PROMPTLY_DATABASE_URL", &db)
        .env("PROMPTLY_ADDR", format!("127.0.0.1:{port}"))
        .env("PROMPTLY_LOG", "warn")
        .env("PROMPTLY_ADMIN_EMAIL", "admin@bench.test")
        .env("PROMPTLY_ADMIN_PASSWORD", "bench-password-1")
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| e.to_string())?;
    let pid = child.id().ok_or("the server exited at once")?;
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut up = false;
    for _ in 0..300 {
        if client
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    if !up {
        return Err("the server did not start".into());
    }
    let result = async {
        let post = |path: &str, body: Value| {
            client
                .request(reqwest::Method::POST, format!("{base}{path}"))
                .bearer_auth(&token)
                .json(&body)
                .send()
        };
        let put = |path: &str, body: Value| {
            client
                .put(format!("{base}{path}"))
                .bearer_auth(&token)
                .json(&body)
                .send()
        };
        let policy: Value = post(
            "/api/v1/policies",
            json!({"name": "Bench", "first_response": "2h", "next_response": "1h", "resolution": "2d"}),
        )
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
        put(
            "/api/v1/settings/default-policy",
            json!({"policy": policy["id"]}),
        )
        .await
        .map_err(|e| e.to_string())?;
        let start = rss_kib(pid)?;
        let now = Utc::now();
        let mut batch = Vec::with_capacity(1000);
        for i in 0..conversations {
            let at = (now - Duration::seconds((i % 7200) as i64)).to_rfc3339();
            let conv = format!("mem-{i}");
            batch.push(json!({"id": format!("m{i}-1"), "type": "conversation.created",
                "conversation": conv, "at": at, "channel": "whatsapp",
                "contact": {"name": format!("Customer {i}")}}));
            batch.push(json!({"id": format!("m{i}-2"), "type": "message.created",
                "conversation": conv, "at": at, "author": "customer",
                "text": "Hello, where is my order?"}));
            if batch.len() >= 1000 || i + 1 == conversations {
                let r = post("/api/v1/events", json!({ "events": batch }))
                    .await
                    .map_err(|e| e.to_string())?;
                if !r.status().is_success() {
                    return Err(format!("ingest answered {}", r.status()));
                }
                batch.clear();
            }
        }
        let ingested = rss_kib(pid)?;
        let r = client
            .get(format!("{base}/api/v1/conversations?limit=5000"))
            .bearer_auth(&token)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !r.status().is_success() {
            return Err(format!("the queue answered {}", r.status()));
        }
        r.bytes().await.map_err(|e| e.to_string())?;
        let queried = rss_kib(pid)?;
        Ok::<_, String>(format!(
            "open_conversations={conversations} rss_start_mib={:.1} rss_after_ingest_mib={:.1} rss_after_queue_mib={:.1} database=sqlite",
            start as f64 / 1024.0,
            ingested as f64 / 1024.0,
            queried as f64 / 1024.0
        ))
    }
    .await;
    let _ = child.kill().await;
    result
}

/// `promptly bench channels`: signed WhatsApp webhooks of 10 messages each (5 customers
/// writing twice) through `/hooks/whatsapp/{id}`, against the same events (as the webhook
/// reader makes them) through `POST /api/v1/events`, one client each, on one SQLite
/// database: messages per second and their ratio.
pub async fn channels(webhooks: usize) -> Result<String, String> {
    if webhooks == 0 {
        return Err("--webhooks must be at least 1".into());
    }
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (base, token, state) = start(dir.path(), None).await?;
    const NUMBER: &str = "106540352242922";
    const SECRET: &str = "bench-app-secret";
    let account = crate::services::channels::create(
        &state,
        &json!({"kind": "whatsapp", "name": "Bench", "settings": {
            "phone_number_id": NUMBER, "verify_token": "v", "app_secret": SECRET,
            "access_token": "t"}}),
    )
    .await
    .map_err(|e| e.to_string())?;
    let start_at = Utc::now() - Duration::hours(2);
    let payload = |w: usize| {
        let messages: Vec<Value> = (0..10)
            .map(|m| {
                let at = start_at + Duration::seconds((w * 10 + m) as i64);
                json!({"from": format!("55119{:08}", w * 5 + m % 5),
                       "id": format!("wamid.bench-{w}-{m}"),
                       "timestamp": at.timestamp().to_string(), "type": "text",
                       "text": {"body": "Hello, where is my order?"}})
            })
            .collect();
        let contacts: Vec<Value> = (0..5)
            .map(|c| {
                json!({"profile": {"name": format!("Customer {c}")},
                           "wa_id": format!("55119{:08}", w * 5 + c)})
            })
            .collect();
        json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{
            "field": "messages", "value": {"messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": NUMBER},
            "contacts": contacts, "messages": messages}}]}]})
    };
    let signed: Vec<(String, String)> = (0..webhooks)
        .map(|w| {
            let body = payload(w).to_string();
            let mac = crate::signing::hmac_sha256(SECRET.as_bytes(), &[body.as_bytes()]);
            (body, format!("sha256={}", crate::signing::hex(&mac)))
        })
        .collect();
    // The same events through the events API (its own namespace: no duplicates).
    let batches: Vec<Value> = (0..webhooks)
        .map(|w| {
            let m = promptly::channels::whatsapp::events(&payload(w), NUMBER)?;
            Ok(json!({"events": m.events}))
        })
        .collect::<Result<_, String>>()?;
    let client = reqwest::Client::new();
    let began = Instant::now();
    for body in &batches {
        let r = client
            .post(format!("{base}/api/v1/events"))
            .bearer_auth(&token)
            .json(body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !r.status().is_success() {
            return Err(format!("the events API answered {}", r.status()));
        }
    }
    let api_s = began.elapsed().as_secs_f64();
    let url = format!("{base}/hooks/whatsapp/{}", account.id);
    let began = Instant::now();
    for (body, signature) in &signed {
        let r = client
            .post(&url)
            .header("X-Hub-Signature-256", signature)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !r.status().is_success() {
            return Err(format!("the webhook answered {}", r.status()));
        }
    }
    let hooks_s = began.elapsed().as_secs_f64();
    let stored = state
        .store
        .channel_account(account.id)
        .await
        .map_err(|e| e.to_string())?
        .map_or(0, |a| a.health.webhooks);
    if stored != webhooks as i64 {
        return Err(format!("{stored} of {webhooks} webhooks were stored"));
    }
    let messages = (webhooks * 10) as f64;
    let (hooks_rate, api_rate) = (messages / hooks_s, messages / api_s);
    Ok(format!(
        "whatsapp_webhook_messages_per_s={hooks_rate:.0} events_api_messages_per_s={api_rate:.0} \
         ratio={:.2} webhooks={webhooks} messages_per_webhook=10 database=sqlite",
        hooks_rate / api_rate
    ))
}

#[cfg(test)]
mod tests {
    /// The channels bench runs end to end (it refuses to report unless every webhook was
    /// stored).
    #[tokio::test]
    async fn the_channels_bench_stores_every_webhook() {
        let line = super::channels(3).await.unwrap();
        assert!(line.contains("webhooks=3"), "{line}");
        assert!(super::channels(0).await.is_err());
    }
}
