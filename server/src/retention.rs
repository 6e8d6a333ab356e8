//! Retention: what piles up with time and is no longer needed goes, in small batches, on the
//! server's clock (`PROMPTLY_RETAIN_*`, [`RetentionArgs`]).
//!
//! - Delivered outbox items (webhooks, channel messages) older than `deliveries_days`;
//!   failed ones stay for the deliveries list.
//! - Rule runs older than `rule_runs_days` (the rules page counts today's).
//! - With `events_days`, the raw events of conversations resolved and unchanged for that
//!   long: replaced by one archive event each (`promptly::conversation::archive`), which
//!   keeps what they folded into, the summary and the SLA timeline. The queue, the
//!   conversation page, compliance (its facts are kept) and the SLA engine read such a
//!   conversation as before; a reopened one continues from the archive, its resolution clock
//!   resuming with the time already used. What goes: the message texts (but the last) and
//!   the history of changes, and the event ids, so a channel re-sending an event that old
//!   would have it taken as new.
//!
//! Each batch is its own short transaction, so ingest and the automation worker wait at
//! most one batch for SQLite's write lock.

use crate::config::RetentionArgs;
use crate::state::AppState;
use crate::store::{Store, StoreResult};
use chrono::{DateTime, Duration, Utc};

/// Rows one delete takes.
pub const BATCH: i64 = 500;
/// Conversations one archive transaction takes (each with all its events).
pub const ARCHIVE_BATCH: i64 = 50;
/// How often the server purges (on its clock).
pub const EVERY: Duration = Duration::hours(1);
/// A pause between batches (real time: it lets other writers in).
const BETWEEN_BATCHES: std::time::Duration = std::time::Duration::from_millis(20);

/// What one purge removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    pub deliveries: u64,
    pub rule_runs: u64,
    /// Conversations whose events were archived.
    pub conversations: u64,
}

/// The instant before which a kind of record goes, or `None` when it is kept for ever.
fn cutoff(now: DateTime<Utc>, days: u32) -> Option<DateTime<Utc>> {
    (days > 0).then(|| now - Duration::days(i64::from(days)))
}

/// Runs `batch` until a batch takes less than `size`; returns the total.
async fn in_batches<F, Fut>(size: i64, mut batch: F) -> StoreResult<u64>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = StoreResult<u64>>,
{
    let mut total = 0;
    loop {
        let n = batch().await?;
        total += n;
        if (n as i64) < size {
            return Ok(total);
        }
        tokio::time::sleep(BETWEEN_BATCHES).await;
    }
}

/// Purges everything past its retention as of `now`.
pub async fn purge(
    store: &dyn Store,
    r: &RetentionArgs,
    now: DateTime<Utc>,
) -> StoreResult<Purged> {
    let mut out = Purged::default();
    if let Some(before) = cutoff(now, r.deliveries_days) {
        out.deliveries = in_batches(BATCH, || store.purge_delivered(before, BATCH)).await?;
    }
    if let Some(before) = cutoff(now, r.rule_runs_days) {
        out.rule_runs = in_batches(BATCH, || store.purge_rule_runs(before, BATCH)).await?;
    }
    if let Some(before) = cutoff(now, r.events_days) {
        out.conversations = in_batches(ARCHIVE_BATCH, || {
            store.archive_resolved(before, ARCHIVE_BATCH, now)
        })
        .await?;
    }
    Ok(out)
}

/// The purge loop: at start, then every [`EVERY`] on the server's clock (a test clock moved
/// past the next purge wakes it).
pub async fn run(state: AppState, r: RetentionArgs) {
    if r == RetentionArgs::KEEP_ALL {
        return;
    }
    loop {
        let now = state.clock.now();
        match purge(state.store.as_ref(), &r, now).await {
            Ok(p) if p != Purged::default() => tracing::info!(
                deliveries = p.deliveries,
                rule_runs = p.rule_runs,
                conversations_archived = p.conversations,
                "retention purge"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "the retention purge failed; trying again later"),
        }
        state.clock.sleep_until(now + EVERY).await;
    }
}

/// Starts the purge loop in the background.
pub fn start(state: &AppState, r: RetentionArgs) {
    tokio::spawn(run(state.clone(), r));
}
