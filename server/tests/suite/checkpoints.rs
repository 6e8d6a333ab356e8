//! Ingest folds a conversation's new events onto its checkpoint instead of replaying its
//! whole history when none of them is late. A property test keeps the engine's answers
//! identical: generated histories, sent in generated batches (some events late, some at the
//! same instant, several conversations at once) through the store with the real SLA
//! catalog (a business-hours policy with every clock), leave each touched conversation
//! exactly as deriving all its stored events at that instant gives.

use crate::support;
use chrono::{DateTime, Duration, Utc};
use promptly::conversation::{parse_incoming, IncomingEvent};
use promptly_server::catalog::SlaCatalog;
use promptly_server::store::{CalendarInput, Deriver, DynStore, PolicyInput};
use proptest::prelude::*;
use serde_json::json;

const SOURCE: &str = "bridge";

fn t0() -> DateTime<Utc> {
    // A Monday morning in Amsterdam: the calendar opens and closes during the histories.
    "2026-11-23T07:30:00Z".parse().unwrap()
}

/// One generated event: (conversation, kind, minutes after t0, a small number for fields).
type Gen = (u8, u8, i64, u8);

fn event(n: usize, (conversation, kind, minute, x): Gen) -> IncomingEvent {
    let pick = |options: &[&'static str]| options[usize::from(x) % options.len()];
    let agent = pick(&["ada@x.io", "bob@x.io"]);
    let mut v = match kind % 9 {
        0 => json!({"type": "conversation.created", "channel": pick(&["email", "whatsapp"]),
                    "priority": pick(&["low", "normal", "high", "urgent"]), "bot": x % 5 == 0}),
        1 | 2 => json!({"type": "message.created", "author": "customer", "text": format!("q{x}")}),
        3 => json!({"type": "message.created", "author": "agent", "text": format!("a{x}"),
                    "agent_email": agent}),
        4 => json!({"type": "message.created", "author": "agent", "private": true, "text": "note"}),
        5 => json!({"type": "conversation.updated",
                    "status": pick(&["open", "pending", "snoozed", "resolved"])}),
        6 => {
            json!({"type": "conversation.updated", "owner": agent, "team": pick(&["Tech", "Billing"])})
        }
        7 => json!({"type": "conversation.handover"}),
        _ => json!({"type": "survey.submitted", "survey": "csat", "score": 1 + x % 5}),
    };
    v["id"] = json!(format!("e{n}"));
    v["conversation"] = json!(format!("c{}", conversation % 3));
    v["at"] = json!((t0() + Duration::minutes(minute)).to_rfc3339());
    parse_incoming(&v, "e", t0()).unwrap()
}

/// A store with the default policy on office hours, and its catalog at `now`.
async fn store() -> (DynStore, tempfile::TempDir) {
    let (store, dir) = support::sqlite_store().await;
    let calendar = store
        .create_calendar(
            &CalendarInput {
                name: "Office".into(),
                description: String::new(),
                definition: serde_json::from_value(json!({
                    "timezone": "Europe/Amsterdam",
                    "hours": {"mon": ["09:00-12:00", "13:00-17:00"], "tue": ["09:00-17:00"]},
                }))
                .unwrap(),
            },
            t0(),
        )
        .await
        .unwrap();
    let policy = PolicyInput {
        name: "Office".into(),
        description: String::new(),
        calendar_id: Some(calendar.id),
        policy: serde_json::from_value(json!({
            "first_response": "30m", "next_response": "20m", "resolution": "4h",
            "business_hours_only": true, "warning": "75%",
        }))
        .unwrap(),
    };
    let p = store.create_policy(&policy, t0()).await.unwrap();
    store.set_default_policy(Some(p.id)).await.unwrap();
    (store, dir)
}

async fn check(history: Vec<Gen>, sizes: Vec<usize>) -> Result<(), TestCaseError> {
    let (store, _dir) = store().await;
    let events: Vec<IncomingEvent> = history
        .iter()
        .enumerate()
        .map(|(n, g)| event(n, *g))
        .collect();
    let mut rest = events.as_slice();
    let mut sizes = sizes.into_iter().cycle();
    while !rest.is_empty() {
        let (batch, after) = rest.split_at(sizes.next().unwrap_or(1).clamp(1, rest.len()));
        rest = after;
        // The server's instant: a minute after the batch's latest event.
        let now = batch.iter().map(|e| e.at).max().unwrap() + Duration::minutes(1);
        let catalog = SlaCatalog::load(store.as_ref(), now).await.unwrap();
        let report = store
            .ingest_batch(SOURCE, batch, &catalog, now)
            .await
            .unwrap();
        for t in &report.touched {
            let all = store.conversation_events(t.row.id).await.unwrap();
            let whole = catalog
                .derive(t.row.policy_id.zip(t.row.policy_version), &all)
                .unwrap();
            let stored = store.conversation(t.row.id).await.unwrap().unwrap();
            prop_assert_eq!(&stored.summary, &whole.summary);
            prop_assert_eq!(stored.due_at, whole.due_at);
            prop_assert_eq!(stored.next_sla_at, whole.sla_instants.iter().copied().min());
            // What the live stream publishes is what the whole history shows.
            let shown = catalog.view(t.row.clone(), &t.events, now);
            let replayed = catalog.view(stored, &all, now);
            prop_assert_eq!(shown, replayed);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn a_checkpoint_gives_what_the_whole_history_gives(
        // Mostly in order (an event every two minutes), some late by up to ten minutes.
        steps in proptest::collection::vec((0u8..3, 0u8..9, -5i64..3, 0u8..40), 1..40),
        sizes in proptest::collection::vec(1usize..6, 1..6),
    ) {
        let history: Vec<Gen> = steps
            .iter()
            .enumerate()
            .map(|(i, (c, k, jitter, x))| (*c, *k, 2 * i as i64 + 2 * jitter, *x))
            .collect();
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(check(history, sizes))?;
    }
}
