//! `promptly bench history`: what one more event costs on a long conversation. In order, the
//! ingest folds it onto the conversation's checkpoint; a late event (and, before
//! checkpoints, every event) reads and folds the whole history. Both run in the same
//! process on one SQLite database, on two conversations of the same length and content
//! under a business-hours policy with every clock, through `Store::ingest_batch` with the
//! real SLA catalog.

use crate::catalog::SlaCatalog;
use crate::store::{self, CalendarInput, DatabaseUrl, DynStore, PolicyInput};
use chrono::{DateTime, Duration, Utc};
use promptly::conversation::{parse_incoming, IncomingEvent};
use promptly::limits::CONVERSATION_EVENTS;
use serde_json::json;
use std::time::Instant;

const SOURCE: &str = "bench";

/// Event `n` of conversation `c`: customers and agents taking turns, a message each.
fn message(c: &str, n: usize, at: DateTime<Utc>) -> Result<IncomingEvent, String> {
    let customer = n % 2 == 1;
    let mut v = json!({
        "id": format!("{c}-{n}"), "conversation": c, "at": at.to_rfc3339(),
        "type": "message.created",
        "author": if customer { "customer" } else { "agent" },
        "text": format!("Message {n}: {}", "lorem ipsum dolor sit amet ".repeat(8)),
    });
    if !customer {
        v["agent_email"] = json!("ada@example.com");
    }
    if n == 0 {
        v = json!({"id": format!("{c}-0"), "conversation": c, "at": at.to_rfc3339(),
                   "type": "conversation.created", "channel": "whatsapp", "priority": "high",
                   "contact": {"name": "Ann"}});
    }
    parse_incoming(&v, "event", at).map_err(|e| format!("{e:?}"))
}

async fn seeded_store() -> Result<(DynStore, tempfile::TempDir), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let url = format!("sqlite://{}", dir.path().join("history.db").display());
    let store = store::open(&DatabaseUrl::parse(&url)?).await?;
    let e = |e: store::StoreError| e.to_string();
    let now = Utc::now();
    let calendar = store
        .create_calendar(
            &CalendarInput {
                name: "Office".into(),
                description: String::new(),
                definition: serde_json::from_value(json!({
                    "timezone": "Europe/Amsterdam",
                    "hours": {"mon": ["09:00-17:00"], "tue": ["09:00-17:00"],
                              "wed": ["09:00-17:00"], "thu": ["09:00-17:00"],
                              "fri": ["09:00-17:00"]},
                }))
                .map_err(|e| e.to_string())?,
            },
            now,
        )
        .await
        .map_err(e)?;
    let policy = store
        .create_policy(
            &PolicyInput {
                name: "Office".into(),
                description: String::new(),
                calendar_id: Some(calendar.id),
                policy: serde_json::from_value(json!({
                    "first_response": "1h", "next_response": "30m", "resolution": "3d",
                    "business_hours_only": true, "warning": "75%",
                }))
                .map_err(|e| e.to_string())?,
            },
            now,
        )
        .await
        .map_err(e)?;
    store.set_default_policy(Some(policy.id)).await.map_err(e)?;
    Ok((store, dir))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Two conversations of `events` events each, then `appended` single-event batches to each:
/// in order on one (onto its checkpoint), late on the other (its whole history).
pub async fn run(events: usize, appended: usize) -> Result<String, String> {
    if events < 2 || appended == 0 || events + appended > CONVERSATION_EVENTS {
        return Err(format!(
            "need --events >= 2, --appended >= 1 and both together at most {CONVERSATION_EVENTS} \
             (a conversation's cap)"
        ));
    }
    let (store, _dir) = seeded_store().await?;
    let now = Utc::now();
    let catalog = SlaCatalog::load(store.as_ref(), now)
        .await
        .map_err(|e| e.to_string())?;
    // A minute apart, ending an hour before now.
    let start = now - Duration::minutes((events + appended) as i64 + 60);
    let at = |n: usize| start + Duration::minutes(n as i64);
    let seeding = Instant::now();
    for c in ["in-order", "late"] {
        let all: Vec<IncomingEvent> = (0..events)
            .map(|n| message(c, n, at(n)))
            .collect::<Result<_, _>>()?;
        for chunk in all.chunks(500) {
            store
                .ingest_batch(SOURCE, chunk, &catalog, now)
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    let seeded_s = seeding.elapsed().as_secs_f64();
    let (mut in_order, mut late) = (Vec::new(), Vec::new());
    let mut resumed = 0;
    for i in 0..appended {
        let n = events + i;
        // In order: after every event it has. Late: before its latest event, every time.
        for (c, when, times) in [
            ("in-order", at(n), &mut in_order),
            ("late", at(events - 1) - Duration::seconds(30), &mut late),
        ] {
            let event = message(c, n, when)?;
            let began = Instant::now();
            let report = store
                .ingest_batch(SOURCE, std::slice::from_ref(&event), &catalog, now)
                .await
                .map_err(|e| e.to_string())?;
            times.push(began.elapsed().as_secs_f64() * 1000.0);
            let from_checkpoint = report
                .touched
                .first()
                .is_some_and(|t| t.events.first().is_some_and(|e| e.id == "checkpoint"));
            resumed += usize::from(from_checkpoint);
        }
    }
    if resumed != appended {
        return Err(format!(
            "{resumed} of {appended} in-order events were folded onto a checkpoint (and no late one may be)"
        ));
    }
    let (fast, slow) = (median(in_order), median(late));
    Ok(format!(
        "one more event on a conversation of {events}..{} events (SQLite, business-hours \
         policy, seeded {seeded_s:.1} s), median of {appended}: in order, onto the checkpoint \
         {fast:.2} ms; late, the whole history read and folded {slow:.2} ms; ratio \
         whole/checkpoint {:.1}",
        events + appended,
        slow / fast
    ))
}

#[cfg(test)]
mod tests {
    /// The bench runs, and its in-order events were folded onto checkpoints (it refuses to
    /// report figures otherwise); its sizes are checked.
    #[tokio::test]
    async fn runs_small_and_refuses_sizes_past_the_cap() {
        let line = super::run(40, 3).await.unwrap();
        assert!(line.contains("ratio whole/checkpoint"), "{line}");
        assert!(super::run(9_999, 2).await.is_err());
        assert!(super::run(1, 2).await.is_err());
    }
}
