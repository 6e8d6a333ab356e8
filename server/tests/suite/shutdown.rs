//! SIGTERM: the real binary stops accepting, ends its open streams, lets in-flight requests
//! finish and exits within its deadline; what it acknowledged before is in the database.

use crate::support;
use reqwest::StatusCode;
use serde_json::json;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_streams_and_exits_keeping_what_was_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("promptly.db").display());
    let bin = env!("CARGO_BIN_EXE_promptly");
    let token = support::cli_token(&db, "bridge", Some("agent"));
    let port = support::free_port();
    let mut server = support::KillOnDrop(
        Command::new(bin)
            .arg("serve")
            .env("PROMPTLY_DATABASE_URL", &db)
            .env("PROMPTLY_ADDR", format!("127.0.0.1:{port}"))
            .env("PROMPTLY_LOG", "warn")
            .env("PROMPTLY_ADMIN_EMAIL", "admin@stop.test")
            .env("PROMPTLY_ADMIN_PASSWORD", "stop-password-1")
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    let client = support::client();
    support::wait_up(&client, port).await;

    let mut stream = client
        .get(format!("{base}/api/v1/stream"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    let first = stream.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("event: hello"));
    let r = client
        .post(format!("{base}/api/v1/events"))
        .bearer_auth(&token)
        .json(&json!({"id": "e1", "type": "conversation.created", "conversation": "kept", "channel": "email"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    let term = Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    // The open stream ends, and the process exits well within its 10 s deadline (the
    // deadline below only bounds a failure).
    let ended = tokio::time::timeout(Duration::from_secs(15), async {
        while stream.chunk().await.unwrap().is_some() {}
    })
    .await;
    assert!(ended.is_ok(), "the stream stayed open after SIGTERM");
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            panic!("the server did not exit after SIGTERM");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status:?}");

    let store =
        promptly_server::store::open(&promptly_server::store::DatabaseUrl::parse(&db).unwrap())
            .await
            .unwrap();
    assert!(
        store
            .conversation_by_external_id("bridge", "kept")
            .await
            .unwrap()
            .is_some(),
        "the accepted event is in the database"
    );
}
