//! `promptly backup` and `promptly restore` with the real binary: a backup taken while a
//! server takes events holds every event acknowledged before it began and restores into a
//! consistent database; a restore refuses a database in use, and files that are not
//! Promptly databases of this version; PostgreSQL is pointed at pg_dump.
//!
//! The backup is a SQLite file: these run on SQLite whatever `PROMPTLY_TEST_DATABASE` says
//! (the PostgreSQL message is checked in both runs).

use crate::server_support::{database, eventually};
use crate::support::{self, cli, Promptly};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const WITHIN: Duration = Duration::from_secs(60);

/// Posts a batch for a new conversation (created, a customer message) after another, until
/// told to stop; records the ids of the events acknowledged (2xx), batch by batch.
fn load(
    port: u16,
    token: String,
    acked: Arc<Mutex<Vec<Vec<String>>>>,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let client = support::client();
        let url = format!("http://127.0.0.1:{port}/api/v1/events");
        let mut i = 0;
        while !stop.load(Ordering::SeqCst) {
            let c = format!("b{i}");
            let events = json!({"events": [
                {"id": format!("{c}-1"), "type": "conversation.created", "conversation": c, "channel": "email"},
                {"id": format!("{c}-2"), "type": "message.created", "conversation": c, "author": "customer", "text": format!("Message {i}")},
            ]});
            let ok = client
                .post(&url)
                .bearer_auth(&token)
                .json(&events)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ok {
                acked
                    .lock()
                    .unwrap()
                    .push(vec![format!("{c}-1"), format!("{c}-2")]);
                i += 1;
            }
        }
    })
}

/// How many batches were acknowledged so far.
fn batches(acked: &Mutex<Vec<Vec<String>>>) -> usize {
    acked.lock().unwrap().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_events_arrive_restores_every_event_acknowledged_before_it() {
    if database() == "postgres" {
        return; // a SQLite file's round trip; PostgreSQL has pg_dump
    }
    let dir = tempfile::tempdir().unwrap();
    let live = format!("sqlite://{}", dir.path().join("live.db").display());
    let token = support::cli_token(&live, "bridge", Some("admin"));
    let port = support::free_port();
    let mut server = Promptly::start(&live, port);
    let client = support::client();
    support::wait_up(&client, port).await;

    let acked: Arc<Mutex<Vec<Vec<String>>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let loader = load(port, token.clone(), acked.clone(), stop.clone());
    eventually(WITHIN, "the first acknowledged batches", || async {
        (batches(&acked) >= 30).then_some(())
    })
    .await;

    // Everything acknowledged before the backup begins must be in it.
    let before: Vec<String> = acked.lock().unwrap().concat();
    let file = dir.path().join("backup.db");
    let (code, out, err) = cli(&live, &["backup", file.to_str().unwrap()]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("backed up"), "{out}");
    let after_backup = batches(&acked);
    // The server went on taking events while and after the backup ran.
    eventually(WITHIN, "batches after the backup", || async {
        (batches(&acked) >= after_backup + 20).then_some(())
    })
    .await;
    stop.store(true, Ordering::SeqCst);
    loader.await.unwrap();
    server.terminate().await;

    // A backup never overwrites a file.
    let (code, _, err) = cli(&live, &["backup", file.to_str().unwrap()]).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("already exists"), "{err}");

    // Restored into a new database, a server starts on it and has every event acknowledged
    // before the backup.
    let restored = format!("sqlite://{}", dir.path().join("restored.db").display());
    let (code, out, err) = cli(&restored, &["restore", file.to_str().unwrap()]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("restored"), "{out}");
    let port = support::free_port();
    let mut server = Promptly::start(&restored, port);
    support::wait_up(&client, port).await;
    let conversations: HashSet<String> = before
        .iter()
        .map(|id| id.rsplit_once('-').unwrap().0.to_string())
        .collect();
    let mut present = HashSet::new();
    for c in &conversations {
        let r = client
            .get(format!("http://127.0.0.1:{port}/api/v1/conversations/{c}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert!(
            r.status().is_success(),
            "{c} is missing from the restored database"
        );
        let detail: Value = r.json().await.unwrap();
        for e in detail["timeline"].as_array().unwrap() {
            present.insert(e["id"].as_str().unwrap().to_string());
        }
    }
    let missing: Vec<&String> = before.iter().filter(|id| !present.contains(*id)).collect();
    assert!(
        missing.is_empty(),
        "acknowledged before the backup, missing: {missing:?}"
    );
    // The restored server takes events as any other.
    let r = client
        .post(format!("http://127.0.0.1:{port}/api/v1/events"))
        .bearer_auth(&token)
        .json(&json!({"events": [{"id": "after-1", "type": "conversation.created", "conversation": "after", "channel": "sms"}]}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    server.terminate().await;

    assert_eq!(support::sqlite_integrity(&restored).await, "ok");
    let store = promptly_server::store::open(
        &promptly_server::store::DatabaseUrl::parse(&restored).unwrap(),
    )
    .await
    .unwrap();
    support::assert_consistent(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_refuses_a_database_in_use_and_files_that_are_not_promptly_databases() {
    if database() == "postgres" {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);
    let url = |name: &str| format!("sqlite://{}", path(name).display());
    let live = url("live.db");
    let token = support::cli_token(&live, "bridge", Some("admin"));
    let port = support::free_port();
    let mut server = Promptly::start(&live, port);
    let client = support::client();
    support::wait_up(&client, port).await;
    let post = |id: &str| {
        client
            .post(format!("http://127.0.0.1:{port}/api/v1/events"))
            .bearer_auth(&token)
            .json(&json!({"events": [{"id": id, "type": "conversation.created", "conversation": id, "channel": "sms"}]}))
            .send()
    };
    assert!(post("kept").await.unwrap().status().is_success());
    let backup = path("backup.db");
    let (code, _, err) = cli(&live, &["backup", backup.to_str().unwrap()]).await;
    assert_eq!(code, 0, "{err}");
    assert!(post("newer").await.unwrap().status().is_success());

    // The server holds the database: the restore is refused and changes nothing.
    let (code, _, err) = cli(&live, &["restore", backup.to_str().unwrap()]).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("in use by a running promptly server"), "{err}");
    let r = client
        .get(format!(
            "http://127.0.0.1:{port}/api/v1/conversations/newer"
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "the live database is untouched");

    // Stopped, it can be restored: the later conversation is gone, the earlier one is back.
    server.terminate().await;
    let (code, out, err) = cli(&live, &["restore", backup.to_str().unwrap()]).await;
    assert_eq!(code, 0, "{out}{err}");
    let store =
        promptly_server::store::open(&promptly_server::store::DatabaseUrl::parse(&live).unwrap())
            .await
            .unwrap();
    assert!(store
        .conversation_by_external_id("bridge", "kept")
        .await
        .unwrap()
        .is_some());
    assert!(store
        .conversation_by_external_id("bridge", "newer")
        .await
        .unwrap()
        .is_none());
    drop(store);

    // Not a database, not Promptly's, a newer Promptly's: refused with the reason.
    std::fs::write(path("text.db"), "hello").unwrap();
    let (code, _, err) = cli(
        &url("target.db"),
        &["restore", path("text.db").to_str().unwrap()],
    )
    .await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cannot be restored"), "{err}");
    {
        use sqlx::Connection;
        let mut other = sqlx::SqliteConnection::connect(&format!("{}?mode=rwc", url("other.db")))
            .await
            .unwrap();
        sqlx::query("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
            .execute(&mut other)
            .await
            .unwrap();
        other.close().await.unwrap();
    }
    let (code, _, err) = cli(
        &url("target.db"),
        &["restore", path("other.db").to_str().unwrap()],
    )
    .await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not a Promptly database"), "{err}");
    std::fs::copy(&backup, path("newer.db")).unwrap();
    {
        use sqlx::Connection;
        let mut newer = sqlx::SqliteConnection::connect(&url("newer.db"))
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (999, 'from the future', 1, x'00', 0)",
        )
        .execute(&mut newer)
        .await
        .unwrap();
        newer.close().await.unwrap();
    }
    let (code, _, err) = cli(
        &url("target.db"),
        &["restore", path("newer.db").to_str().unwrap()],
    )
    .await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("newer Promptly"), "{err}");
    assert!(!path("target.db").exists(), "nothing was put in place");

    // While a restore holds the database, no command opens it.
    let held = promptly_server::backup::lock_exclusive(&path("live.db")).unwrap();
    let (code, _, err) = cli(&live, &["migrate"]).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is being restored"), "{err}");
    drop(held);
    let (code, _, err) = cli(&live, &["migrate"]).await;
    assert_eq!(code, 0, "{err}");
}

#[tokio::test]
async fn on_postgresql_backup_and_restore_point_at_pg_dump() {
    // Refused before connecting: no database needs to be there.
    let pg = "postgres://promptly@127.0.0.1:1/promptly";
    for args in [["backup", "x.db"], ["restore", "x.db"]] {
        let (code, _, err) = cli(pg, &args).await;
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("pg_dump"), "{err}");
    }
}
