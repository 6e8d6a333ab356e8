//! Regressions found by the kill test: a conversation whose events lie after the instant it
//! was derived at must still be scheduled, or its warnings and breaches never fire.
//!
//! - An automation pass reads its instant before its transaction begins; an ingest that
//!   commits in between hands it a conversation whose events are "in the future" for that
//!   instant. The pass wrote the conversation back with no SLA instant at all.
//! - A channel whose clock is ahead of the server's stamps events after the server's now.

use crate::server_support::{database, eventually, TestServer};
use crate::support;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use promptly_server::automation::Automation;
use promptly_server::catalog::SlaCatalog;
use promptly_server::store::{DynStore, PolicyInput};
use serde_json::json;
use std::collections::HashMap;

/// The integration these tests send as.
const SOURCE: &str = "test";

const WITHIN: std::time::Duration = std::time::Duration::from_secs(10);

fn t0() -> DateTime<Utc> {
    "2026-11-24T10:00:00Z".parse().unwrap()
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A fresh store on the suite's database, with its keep-alives.
async fn store() -> (
    DynStore,
    Option<std::sync::Arc<support::PgCluster>>,
    tempfile::TempDir,
) {
    match database() {
        "postgres" => {
            let cluster = tokio::task::spawn_blocking(support::shared_cluster)
                .await
                .unwrap();
            let store = support::postgres_store(&cluster).await;
            (store, Some(cluster), tempfile::tempdir().unwrap())
        }
        _ => {
            let (store, dir) = support::sqlite_store().await;
            (store, None, dir)
        }
    }
}

#[tokio::test]
async fn a_pass_whose_instant_precedes_a_conversation_keeps_it_scheduled() {
    let (store, _pg, _dir) = store().await;
    let policy: promptly::Policy =
        serde_json::from_value(json!({"first_response": "60s", "warning": "50%"})).unwrap();
    let input = PolicyInput {
        name: "Minute".into(),
        description: String::new(),
        calendar_id: None,
        policy,
    };
    let p = store.create_policy(&input, t0()).await.unwrap();
    store.set_default_policy(Some(p.id)).await.unwrap();
    // A rule listens to messages: the conversation's message waits for the worker.
    let rule = promptly::rules::parse_rule(
        &json!({"name": "Seen", "event": "message.created",
                "actions": [{"type": "add_label", "label": "seen"}]}),
        |_| true,
        |_| true,
    )
    .unwrap();
    store.create_rule(&rule, t0()).await.unwrap();

    // The worker reads its instant; then an ingest commits, a moment later.
    let pass_instant = t0();
    let ingested = t0() + Duration::milliseconds(40);
    let events: Vec<promptly::conversation::IncomingEvent> = [
        json!({"id": "a", "type": "conversation.created", "conversation": "c", "channel": "sms"}),
        json!({"id": "b", "type": "message.created", "conversation": "c", "author": "customer", "text": "Hi"}),
    ]
    .iter()
    .map(|e| promptly::conversation::parse_incoming(e, "e", ingested).unwrap())
    .collect();
    let at_ingest = SlaCatalog::load(store.as_ref(), ingested).await.unwrap();
    store
        .ingest_batch(SOURCE, &events, &at_ingest, ingested)
        .await
        .unwrap();
    let row = store
        .conversation_by_external_id(SOURCE, "c")
        .await
        .unwrap()
        .unwrap();
    let warning = row.next_sla_at.expect("the warning is scheduled");
    assert!(warning > ingested + Duration::seconds(29), "{warning}");

    // The pass, on its earlier instant, runs the rule for the waiting message.
    let channels = HashMap::new();
    let before = SlaCatalog::load(store.as_ref(), pass_instant)
        .await
        .unwrap();
    let automation = Automation {
        catalog: &before,
        link_base: "http://127.0.0.1",
        channels: &channels,
        accounts: &[],
    };
    let pass = store
        .automation_pass(&automation, pass_instant, 500)
        .await
        .unwrap();
    assert_eq!(pass.handled, 1);
    let row = store
        .conversation_by_external_id(SOURCE, "c")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        row.next_sla_at,
        Some(ingested),
        "the worker looks again when the conversation's events have happened"
    );

    // Then: at that instant the clock's instants are known again, and the warning fires.
    for now in [ingested, warning] {
        let catalog = SlaCatalog::load(store.as_ref(), now).await.unwrap();
        let automation = Automation {
            catalog: &catalog,
            link_base: "http://127.0.0.1",
            channels: &channels,
            accounts: &[],
        };
        store.automation_pass(&automation, now, 500).await.unwrap();
    }
    assert_eq!(store.count_sla_firings().await.unwrap(), 1, "the warning");
    let row = store
        .conversation_by_external_id(SOURCE, "c")
        .await
        .unwrap()
        .unwrap();
    assert!(
        row.next_sla_at > Some(warning + Duration::seconds(29)),
        "the breach is next: {:?}",
        row.next_sla_at
    );
}

#[tokio::test]
async fn events_stamped_ahead_of_the_servers_clock_breach_when_due() {
    let s = TestServer::start_at(t0()).await;
    let t = s.token().await;
    s.create_default_policy(&t, json!({"name": "Minute", "first_response": "60s"}))
        .await;
    // The channel's clock is ten seconds ahead of the server's.
    let ahead = stamp(t0() + Duration::seconds(10));
    let (status, body) = s
        .post(
            "/api/v1/events",
            &t,
            json!({"events": [
                {"id": "a", "type": "conversation.created", "conversation": "ahead", "at": ahead, "channel": "sms"},
                {"id": "b", "type": "message.created", "conversation": "ahead", "at": ahead, "author": "customer", "text": "Hi"},
            ]}),
        )
        .await;
    assert!(status.is_success(), "{body}");
    s.advance(Duration::seconds(10));
    eventually(
        WITHIN,
        "the clock to run once its events happened",
        || async {
            let row = s
                .store
                .conversation_by_external_id(SOURCE, "ahead")
                .await
                .unwrap()?;
            (row.next_sla_at > Some(t0() + Duration::seconds(10))).then_some(())
        },
    )
    .await;
    s.advance(Duration::seconds(61));
    eventually(WITHIN, "the breach", || async {
        let (_, c) = s.get("/api/v1/conversations/ahead", &t).await;
        let fired = s.store.count_sla_firings().await.unwrap();
        // The warning (at the default threshold), then the breach.
        (c["sla"]["metrics"][0]["state"] == "breached" && fired == 2).then_some(())
    })
    .await;
}
