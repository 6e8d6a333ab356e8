//! `promptly bench automation`: how soon SLA events fire after their instant with a large
//! schedule, and the memory the schedule takes.

use crate::automation;
use crate::catalog::SlaCatalog;
use crate::state::AppState;
use crate::store::{self, DatabaseUrl, PolicyInput};
use chrono::{Duration, Utc};
use promptly::conversation::IncomingEvent;
use serde_json::json;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// `clocks` conversations with a running first-response clock (scheduled in the worker's
/// heap and the database), of which `due` breach over the next `window_s` seconds; reports
/// the delay from each breach instant to its recorded firing, and the server's memory.
pub async fn run(clocks: usize, due: usize, window_s: i64) -> Result<String, String> {
    if clocks == 0 || due == 0 || due > clocks || window_s <= 0 {
        return Err("need 0 < --due <= --clocks and --window > 0".into());
    }
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let url = format!("sqlite://{}", dir.path().join("automation.db").display());
    let store = store::open(&DatabaseUrl::parse(&url)?).await?;
    let e = |e: store::StoreError| e.to_string();
    let policy = |name: &str, frt: &str| PolicyInput {
        name: name.into(),
        description: String::new(),
        calendar_id: None,
        policy: serde_json::from_value(json!({"first_response": frt, "warning": "0%"}))
            .expect("a valid policy"),
    };
    let long = store
        .create_policy(&policy("Long", "1d"), Utc::now())
        .await
        .map_err(e)?;
    let short = store
        .create_policy(&policy("Short", "30s"), Utc::now())
        .await
        .map_err(e)?;
    let state = AppState::new(store.clone(), false);
    let rss_before = rss_kib();
    let now = Utc::now();
    // The clocks that stay scheduled (a day out), then the ones that breach in the window:
    // a 30 s target started so that breaches spread evenly over it.
    let mut batch: Vec<IncomingEvent> = Vec::with_capacity(2000);
    let flush = |batch: &mut Vec<IncomingEvent>, key: (i64, i64)| {
        let events = std::mem::take(batch);
        let store = store.clone();
        let state = state.clone();
        async move {
            store
                .set_default_policy(Some(key.0))
                .await
                .map_err(|e| e.to_string())?;
            let catalog = SlaCatalog::load(store.as_ref(), Utc::now())
                .await
                .map_err(|e| e.to_string())?;
            let report = store
                .ingest_batch(
                    promptly::conversation::DEFAULT_SOURCE,
                    &events,
                    &catalog,
                    Utc::now(),
                )
                .await
                .map_err(|e| e.to_string())?;
            state.worker.note(
                report.touched.iter().map(|t| (t.row.id, t.row.next_sla_at)),
                false,
            );
            Ok::<(), String>(())
        }
    };
    let message = |i: usize, at: chrono::DateTime<Utc>| -> IncomingEvent {
        serde_json::from_value(json!({"id": format!("m{i}"), "type": "message.created",
            "conversation": format!("c{i}"), "author": "customer", "text": "Hello?",
            "at": at.to_rfc3339()}))
        .expect("a valid event")
    };
    for i in 0..clocks - due {
        batch.push(message(i, now));
        if batch.len() == 2000 {
            flush(&mut batch, (long.id, long.version)).await?;
        }
    }
    flush(&mut batch, (long.id, long.version)).await?;
    // The window starts after the long seeding above (which takes longer than the lead on
    // a slow machine: breaches already due when the worker starts would measure the seeding).
    let now = Utc::now();
    let lead = Duration::seconds(5);
    for k in 0..due {
        let breach_in = lead + Duration::milliseconds(window_s * 1000 * k as i64 / due as i64);
        // Breached one second after the deadline: started 31 s before the breach.
        let at = now + breach_in - Duration::seconds(31);
        batch.push(message(clocks - due + k, at));
        if batch.len() == 2000 {
            flush(&mut batch, (short.id, short.version)).await?;
        }
    }
    flush(&mut batch, (short.id, short.version)).await?;
    let scheduled = state
        .worker
        .schedule
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .len();
    let rss_scheduled = rss_kib();
    tokio::spawn(automation::run_worker(
        state.clone(),
        "http://127.0.0.1".into(),
    ));
    let end = now + lead + Duration::seconds(window_s) + Duration::seconds(10);
    loop {
        let fired = state
            .firing_stats
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .latencies_ms
            .len();
        if fired >= due || Utc::now() > end {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let mut lat = state
        .firing_stats
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .latencies_ms
        .clone();
    if lat.len() < due {
        return Err(format!(
            "only {} of {due} breaches fired in time",
            lat.len()
        ));
    }
    lat.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| lat[((lat.len() as f64 - 1.0) * p).round() as usize];
    Ok(format!(
        "scheduled_clocks={scheduled} fired={} detection_ms_p50={:.1} detection_ms_p99={:.1} detection_ms_max={:.1} rss_schedule_mib={:.1} database=sqlite",
        lat.len(),
        pct(0.5),
        pct(0.99),
        pct(1.0),
        rss_scheduled.saturating_sub(rss_before) as f64 / 1024.0,
    ))
}
