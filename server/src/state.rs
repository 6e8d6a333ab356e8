//! What every request handler shares, and the live stream's recent events.

use crate::catalog::CatalogCache;
use crate::clock::Clock;
use crate::store::DynStore;
use promptly::job::JobView;
use promptly::stream::StreamEvent;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

/// How many recent events a reconnecting browser can catch up on (`Last-Event-ID`).
pub const RECENT_EVENTS: usize = 10_000;

/// One event on the live stream with its sequence number (the SSE `id:`).
#[derive(Debug, Clone)]
pub struct Sequenced {
    pub seq: u64,
    pub event: Arc<StreamEvent>,
    /// The event as JSON, serialised once for every stream that sends it.
    pub json: Arc<str>,
}

#[derive(Default)]
struct Recent {
    next_seq: u64,
    events: VecDeque<Sequenced>,
}

#[derive(Clone)]
pub struct AppState {
    pub store: DynStore,
    /// Every change that browsers should see; each SSE connection subscribes.
    pub events: broadcast::Sender<Sequenced>,
    /// Notifications for one user each (user id, the event's JSON): not numbered like the
    /// changes (each stream carries only its user's, so numbers would seem skipped) and not
    /// kept for resuming streams (the notifications list is the record).
    pub personal: broadcast::Sender<(i64, Arc<str>)>,
    recent: Arc<Mutex<Recent>>,
    /// Whether the public address is https (then the session cookie is `Secure`).
    pub secure_cookies: bool,
    /// The SLA catalog, reloaded when the store's catalog generation moves.
    pub catalog: CatalogCache,
    /// Background jobs of this server (re-evaluating open conversations), by id.
    pub jobs: Arc<Mutex<Jobs>>,
    /// Reverse proxies whose `X-Forwarded-For` is believed (`PROMPTLY_TRUSTED_PROXIES`).
    pub trusted_proxies: Arc<Vec<std::net::IpAddr>>,
    /// The automation worker's schedule and bell.
    pub worker: crate::schedule::Worker,
    /// Rung when deliveries were queued.
    pub outbox_bell: Arc<tokio::sync::Notify>,
    /// Rung when conversations changed: the live service level may have changed band.
    pub band_bell: Arc<tokio::sync::Notify>,
    /// Where webhooks may go and the one client that sends them (`PROMPTLY_EGRESS_*`).
    pub egress: crate::egress::Egress,
    /// Detection latencies of the SLA events this server fired.
    pub firing_stats: Arc<Mutex<crate::schedule::FiringStats>>,
    /// What `/metrics` shows: this server's counters and histograms.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Addresses that may read `/metrics` without a credential (`PROMPTLY_METRICS_FROM`).
    pub metrics_from: Arc<crate::egress::AllowList>,
    /// This server's name in change announcements (to skip its own).
    pub server_id: Arc<String>,
    /// Compliance group counts, per contract and period.
    pub compliance: Arc<ComplianceCache>,
    /// The time source of everything business: real, or a test clock ([`AppState::with_clock`]).
    pub clock: Clock,
    /// Set once the server is shutting down: open streams end, so that in-flight requests
    /// can finish and the process exit.
    pub shutting_down: Arc<tokio::sync::watch::Sender<bool>>,
    /// Turns to compute a password hash ([`crate::auth::CONCURRENT_HASHES`] at once).
    pub hashing: Arc<tokio::sync::Semaphore>,
    /// How far from now a posted event's `at` may lie (`PROMPTLY_EVENT_WINDOW_*`).
    pub event_window: promptly::conversation::EventWindow,
    /// The host names this site answers to (`PROMPTLY_ALLOWED_HOSTS`, the public URL's).
    pub allowed_hosts: Arc<crate::http::guard::AllowedHosts>,
    /// Turns to serve a request ([`MAX_REQUESTS`] at once unless configured).
    pub in_flight: Arc<tokio::sync::Semaphore>,
    /// Turns to hold a live stream open ([`MAX_STREAMS`] unless configured).
    pub streams: Arc<tokio::sync::Semaphore>,
}

/// Requests served at once by default (`PROMPTLY_MAX_REQUESTS`); more wait their turn.
pub const MAX_REQUESTS: usize = 512;
/// Live streams open at once by default (`PROMPTLY_MAX_STREAMS`).
pub const MAX_STREAMS: usize = 5_000;

/// How long cached compliance counts may be served without any change being seen (a safety
/// net: every write of conversations bumps the epoch, here or announced by another server).
pub const COMPLIANCE_TTL: std::time::Duration = std::time::Duration::from_secs(60);

/// Compliance group counts per (contract terms, period), valid while none of the period's
/// months changed since they were read (every write of conversation facts, on this server or
/// announced by another, bumps the months of the conversations it wrote, after it
/// committed) and for at most [`COMPLIANCE_TTL`].
#[derive(Default)]
pub struct ComplianceCache {
    /// Bumped for changes whose months are not known.
    epoch: std::sync::atomic::AtomicU64,
    months: Mutex<std::collections::HashMap<i64, u64>>,
    entries: Mutex<std::collections::HashMap<String, CacheEntry>>,
}

/// What a cache entry was computed from, and the counts.
struct CacheEntry {
    seen: EpochSnapshot,
    at: std::time::Instant,
    groups: Arc<Vec<promptly::compliance::GroupCounts>>,
}

/// The epochs of some months (and the global one) when a computation started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpochSnapshot {
    global: u64,
    months: Vec<(i64, u64)>,
}

impl ComplianceCache {
    /// Most entries kept (the oldest go first).
    const MAX_ENTRIES: usize = 512;

    /// Conversations changed, which ones unknown: everything cached is stale.
    pub fn bump(&self) {
        self.epoch.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    /// Conversations created in these months (`store::facts::month_of`) changed.
    pub fn bump_months(&self, months: impl IntoIterator<Item = i64>) {
        let mut m = self.months.lock().unwrap_or_else(|p| p.into_inner());
        for month in months {
            *m.entry(month).or_default() += 1;
        }
    }

    /// Read before computing, and given back to [`ComplianceCache::put`].
    pub fn snapshot(&self, months: &[i64]) -> EpochSnapshot {
        let m = self.months.lock().unwrap_or_else(|p| p.into_inner());
        EpochSnapshot {
            global: self.epoch.load(std::sync::atomic::Ordering::SeqCst),
            months: months
                .iter()
                .map(|k| (*k, m.get(k).copied().unwrap_or(0)))
                .collect(),
        }
    }

    pub fn get(
        &self,
        key: &str,
        months: &[i64],
    ) -> Option<Arc<Vec<promptly::compliance::GroupCounts>>> {
        let now = self.snapshot(months);
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let e = entries.get(key)?;
        (e.seen == now && e.at.elapsed() < COMPLIANCE_TTL).then(|| e.groups.clone())
    }

    pub fn put(
        &self,
        key: String,
        seen: EpochSnapshot,
        groups: Arc<Vec<promptly::compliance::GroupCounts>>,
    ) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= Self::MAX_ENTRIES {
            if let Some(oldest) = entries
                .iter()
                .min_by_key(|(_, e)| e.at)
                .map(|(k, _)| k.clone())
            {
                entries.remove(&oldest);
            }
        }
        entries.insert(
            key,
            CacheEntry {
                seen,
                at: std::time::Instant::now(),
                groups,
            },
        );
    }
}

/// This server's background jobs; finished ones are kept for an hour.
pub struct Jobs {
    next_id: u64,
    jobs: std::collections::HashMap<u64, (JobView, std::time::Instant)>,
    /// How long a request waits for a job that answers a question (a what-if) before it
    /// answers 202 with the job instead.
    pub answer_within: std::time::Duration,
}

impl Default for Jobs {
    fn default() -> Self {
        Jobs {
            next_id: 0,
            jobs: Default::default(),
            answer_within: std::time::Duration::from_secs(3),
        }
    }
}

impl Jobs {
    /// Registers a job of `total` steps and returns its id.
    pub fn start(&mut self, kind: &str, total: usize) -> u64 {
        self.jobs
            .retain(|_, (j, at)| !j.finished || at.elapsed().as_secs() < 3600);
        self.next_id += 1;
        let id = self.next_id;
        let job = JobView {
            id,
            kind: kind.to_string(),
            total,
            done: 0,
            finished: false,
            error: None,
            cancelled: false,
            result: None,
        };
        self.jobs.insert(id, (job, std::time::Instant::now()));
        id
    }

    pub fn update(&mut self, id: u64, f: impl FnOnce(&mut JobView)) {
        if let Some((job, at)) = self.jobs.get_mut(&id) {
            f(job);
            *at = std::time::Instant::now();
        }
    }

    pub fn get(&self, id: u64) -> Option<JobView> {
        self.jobs.get(&id).map(|(j, _)| j.clone())
    }

    /// Asks a running job to stop; the job sees it at its next step. `None` when unknown.
    pub fn cancel(&mut self, id: u64) -> Option<JobView> {
        let (job, _) = self.jobs.get_mut(&id)?;
        if !job.finished {
            job.cancelled = true;
        }
        Some(job.clone())
    }

    pub fn is_cancelled(&self, id: u64) -> bool {
        self.jobs.get(&id).is_some_and(|(j, _)| j.cancelled)
    }
}

impl AppState {
    /// This server's background jobs, locked (a poisoned lock is taken over: the table
    /// stays usable after a panic elsewhere).
    pub fn jobs(&self) -> std::sync::MutexGuard<'_, Jobs> {
        self.jobs.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn new(store: DynStore, secure_cookies: bool) -> Self {
        let (events, _) = broadcast::channel(4096);
        let (personal, _) = broadcast::channel(1024);
        AppState {
            store,
            events,
            personal,
            recent: Arc::new(Mutex::new(Recent {
                next_seq: 1,
                events: VecDeque::new(),
            })),
            secure_cookies,
            catalog: CatalogCache::default(),
            jobs: Arc::new(Mutex::new(Jobs::default())),
            trusted_proxies: Arc::new(Vec::new()),
            worker: Default::default(),
            outbox_bell: Default::default(),
            band_bell: Default::default(),
            egress: crate::egress::Egress::strict(),
            firing_stats: Default::default(),
            metrics: Default::default(),
            metrics_from: Default::default(),
            server_id: Arc::new(format!("{}-{}", std::process::id(), rand::random::<u32>())),
            compliance: Default::default(),
            clock: Clock::real(),
            shutting_down: Arc::new(tokio::sync::watch::Sender::new(false)),
            hashing: Arc::new(tokio::sync::Semaphore::new(crate::auth::CONCURRENT_HASHES)),
            event_window: Default::default(),
            allowed_hosts: Default::default(),
            in_flight: Arc::new(tokio::sync::Semaphore::new(MAX_REQUESTS)),
            streams: Arc::new(tokio::sync::Semaphore::new(MAX_STREAMS)),
        }
    }

    /// Resolves once the server is shutting down ([`AppState::shut_down`]).
    pub fn shutdown_signal(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.shutting_down.subscribe();
        async move {
            let _ = rx.wait_for(|down| *down).await;
        }
    }

    /// Tells every open stream to end: the server is shutting down.
    pub fn shut_down(&self) {
        self.shutting_down.send_replace(true);
    }

    /// Numbers this server's stream changes above `epoch × 2^32` (the epoch it took from
    /// the store at start, [`crate::store::Store::next_stream_epoch`]): change numbers then
    /// grow across restarts, so a browser resuming with a number from before a restart is
    /// told that it missed changes (`hello`'s `seq` is above its number) instead of taking
    /// new changes for ones it already has. Before any change is published.
    pub fn with_stream_epoch(self, epoch: i64) -> Self {
        {
            let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
            recent.next_seq = ((epoch.max(0) as u64) << promptly::stream::EPOCH_SHIFT) + 1;
        }
        self
    }

    /// The same state on another clock (tests: a [`crate::clock::TestClock`]).
    pub fn with_clock(mut self, clock: impl Into<Clock>) -> Self {
        self.clock = clock.into();
        self
    }

    /// The same state with these outbound-call settings.
    pub fn with_egress(mut self, egress: crate::egress::Egress) -> Self {
        self.egress = egress;
        self
    }

    /// Sends a notification to its user's streams on this server.
    pub fn publish_notification(
        &self,
        user_id: i64,
        notification: promptly::notify::NotificationView,
    ) {
        let event = StreamEvent::Notification {
            user_id,
            notification: Box::new(notification),
        };
        match serde_json::to_string(&event) {
            Ok(json) => {
                let _ = self.personal.send((user_id, json.into()));
            }
            Err(e) => tracing::error!(error = %e, "a notification could not be serialised"),
        }
    }

    /// Numbers the event, keeps it for reconnecting browsers and sends it to every stream.
    /// The lock is held while sending so that sequence numbers reach streams in order.
    pub fn publish(&self, event: StreamEvent) {
        let json: Arc<str> = serde_json::to_string(&event)
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "a stream event could not be serialised");
                "{}".into()
            })
            .into();
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        let item = Sequenced {
            seq: recent.next_seq,
            event: Arc::new(event),
            json,
        };
        recent.next_seq += 1;
        if recent.events.len() == RECENT_EVENTS {
            recent.events.pop_front();
        }
        recent.events.push_back(item.clone());
        let _ = self.events.send(item);
    }

    /// Tells the other servers on the database about changed conversations.
    pub async fn announce(&self, ids: &[i64]) {
        if let Err(e) = self.store.announce(&self.server_id, ids).await {
            tracing::warn!(error = %e, "announcing changes to the other servers failed");
        }
    }

    /// The number of the latest change published (0 before the first).
    pub fn last_seq(&self) -> u64 {
        let recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        recent.next_seq - 1
    }

    /// Subscribes to new events and returns the kept ones after `last_seen` (all kept ones
    /// newer than it; `None` when the browser starts fresh), and the number after which the
    /// stream is complete: `last_seen` when every change since is kept, else the latest.
    pub fn subscribe_after(
        &self,
        last_seen: Option<u64>,
    ) -> (Vec<Sequenced>, broadcast::Receiver<Sequenced>, u64) {
        let recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        let rx = self.events.subscribe();
        let latest = recent.next_seq - 1;
        let oldest_kept = recent.events.front().map_or(recent.next_seq, |e| e.seq);
        match last_seen {
            Some(last) if last <= latest && last + 1 >= oldest_kept => {
                let missed = recent
                    .events
                    .iter()
                    .filter(|e| e.seq > last)
                    .cloned()
                    .collect();
                (missed, rx, last)
            }
            _ => (Vec::new(), rx, latest),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change() -> StreamEvent {
        StreamEvent::Heartbeat {
            server_time: String::new(),
        }
    }

    #[tokio::test]
    async fn change_numbers_grow_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("p.db").display());
        let store = crate::store::open(&crate::store::DatabaseUrl::parse(&url).unwrap())
            .await
            .unwrap();
        let store = || store.clone();
        let before = AppState::new(store(), false).with_stream_epoch(7);
        for _ in 0..3 {
            before.publish(change());
        }
        let last = before.last_seq();
        assert_eq!(last, (7 << 32) + 3);
        // Resumed on the same server: exactly what came after.
        before.publish(change());
        let (missed, _rx, after) = before.subscribe_after(Some(last));
        assert_eq!((missed.len(), after), (1, last));
        // The restarted server (the next epoch) has published changes of its own, yet a
        // browser resuming with the old number is told it is behind, never resumed.
        let after_restart = AppState::new(store(), false).with_stream_epoch(8);
        after_restart.publish(change());
        let (missed, _rx, after) = after_restart.subscribe_after(Some(last));
        assert!(missed.is_empty());
        assert_eq!(after, (8 << 32) + 1);
        assert!(after > last);
    }

    #[test]
    fn a_change_in_a_month_invalidates_only_the_periods_that_include_it() {
        let cache = ComplianceCache::default();
        let (oct, nov) = (2026 * 12 + 9, 2026 * 12 + 10);
        let put = |key: &str, months: &[i64]| {
            let seen = cache.snapshot(months);
            cache.put(key.into(), seen, Arc::new(Vec::new()));
        };
        put("oct", &[oct]);
        put("q4", &[oct, nov]);
        assert!(cache.get("oct", &[oct]).is_some());
        assert!(cache.get("q4", &[oct, nov]).is_some());
        cache.bump_months([nov]);
        assert!(cache.get("oct", &[oct]).is_some(), "October did not change");
        assert!(
            cache.get("q4", &[oct, nov]).is_none(),
            "the quarter includes November"
        );
        // A snapshot taken before a change that commits during the computation is stale.
        let seen = cache.snapshot(&[oct]);
        cache.bump_months([oct]);
        cache.put("oct".into(), seen, Arc::new(Vec::new()));
        assert!(cache.get("oct", &[oct]).is_none());
        put("oct", &[oct]);
        cache.bump();
        assert!(
            cache.get("oct", &[oct]).is_none(),
            "an unknown change invalidates all"
        );
    }
}
