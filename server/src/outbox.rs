//! Deliveries: the outbox's webhooks and channel messages POSTed to their receivers, signed
//! with a timestamp, retried with backoff, a few at a time per receiver.
//!
//! - A claim takes at most [`CLAIM_SIZE`] due deliveries, passing over receivers (host and
//!   port) that already have [`PER_RECEIVER`] in flight on this server, and stops at
//!   [`IN_FLIGHT`] in all. Each claimed delivery is sent at once, beside the others: a slow
//!   receiver holds up only its own deliveries.
//! - A claim holds its deliveries for [`LEASE_SECONDS`] on the server's clock, longer than a
//!   call can take (nothing claimed waits for a turn), so each delivery is sent at most once
//!   per attempt, on one server; an attempt's outcome is recorded only while its claim still
//!   holds the delivery (a server that stalled past its lease cannot overwrite the newer
//!   attempt's outcome).
//! - Calls go through [`crate::egress`]: addresses that are not public refused unless allowed,
//!   no redirects, a bounded time and answer size.
//! - Receivers verify [`SIGNATURE_HEADER`]: HMAC-SHA256 over `"{timestamp}.{body}"`, with the
//!   timestamp of [`TIMESTAMP_HEADER`] (README: "Verifying deliveries").

use crate::clock::Clock;
use crate::egress::CALL_TIMEOUT;
use crate::state::AppState;
use crate::store::{OutboxItem, OutboxOutcome, Store, StoreResult};
use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The header that carries `sha256=<hex>`: HMAC-SHA256 with the secret over
/// `"{timestamp}.{body}"` ([`signature`]).
pub const SIGNATURE_HEADER: &str = "X-Promptly-Signature";
/// The header that carries the signed timestamp (Unix seconds of the attempt), so that a
/// captured delivery cannot be replayed later.
pub const TIMESTAMP_HEADER: &str = "X-Promptly-Timestamp";
/// The header that carries the delivery id (the same on every attempt: receivers use it to
/// ignore a repeat).
pub const DELIVERY_HEADER: &str = "X-Promptly-Delivery";
/// Attempts before a delivery is given up (and shown as failed).
pub const MAX_ATTEMPTS: i64 = 6;
/// The most deliveries one claim takes.
pub const CLAIM_SIZE: usize = 10;
/// The most deliveries in flight to one receiver (host and port) from one server.
pub const PER_RECEIVER: usize = 2;
/// The most deliveries in flight from one server.
pub const IN_FLIGHT: usize = 16;
/// How long a claim holds its deliveries: a call ends within [`CALL_TIMEOUT`], and a claimed
/// delivery is sent at once, so this leaves ample time to record the outcome.
pub const LEASE_SECONDS: i64 = 60;
const _: () = assert!(LEASE_SECONDS as u64 >= 2 * CALL_TIMEOUT.as_secs());
/// How many due deliveries a claim looks at to pick its own (receivers with their fill in
/// flight are left out before, so the oldest due delivery of any other receiver is among
/// them).
const CANDIDATES: i64 = 10 * CLAIM_SIZE as i64;
/// How long the loop waits (in real time) after the database failed it.
const RETRY_AFTER_ERROR: std::time::Duration = std::time::Duration::from_secs(1);

/// `sha256=<hex>` of HMAC-SHA256 with `secret` over `"{timestamp}.{body}"`.
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    use crate::signing::{hex, hmac_sha256};
    let prefix = format!("{timestamp}.");
    let mac = hmac_sha256(secret.as_bytes(), &[prefix.as_bytes(), body.as_bytes()]);
    format!("sha256={}", hex(&mac))
}

/// The wait before attempt `n + 1` after `n` failed ones: 10 s, 30 s, 90 s, ... up to an hour.
pub fn backoff(attempts: i64) -> Duration {
    let secs = 10i64.saturating_mul(3i64.saturating_pow(attempts.clamp(0, 10) as u32));
    Duration::seconds(secs.min(3600))
}

/// The receiver a URL names, as deliveries are limited by: `host:port` (the scheme's port
/// when none is written); '' for what does not parse.
pub fn receiver_of(url: &str) -> String {
    let Ok(url) = url::Url::parse(url.trim()) else {
        return String::new();
    };
    match (url.host_str(), url.port_or_known_default()) {
        (Some(host), Some(port)) => format!("{}:{port}", host.to_ascii_lowercase()),
        (Some(host), None) => host.to_ascii_lowercase(),
        _ => String::new(),
    }
}

/// The deliveries in flight on this server, per receiver.
#[derive(Debug, Default)]
struct Load {
    per_receiver: HashMap<String, usize>,
    total: usize,
}

impl Load {
    /// Receivers with their fill in flight.
    fn full(&self) -> Vec<String> {
        self.per_receiver
            .iter()
            .filter(|(_, n)| **n >= PER_RECEIVER)
            .map(|(r, _)| r.clone())
            .collect()
    }

    /// Of the due deliveries (oldest first), the ones a claim takes: at most [`CLAIM_SIZE`],
    /// none beyond [`IN_FLIGHT`] in all or [`PER_RECEIVER`] for a receiver. Counted in as
    /// they are picked.
    fn pick(&mut self, due: Vec<(i64, String)>) -> Vec<(i64, String)> {
        let mut picked = Vec::new();
        for (id, receiver) in due {
            if picked.len() == CLAIM_SIZE || self.total >= IN_FLIGHT {
                break;
            }
            let n = self.per_receiver.entry(receiver.clone()).or_default();
            if *n < PER_RECEIVER {
                *n += 1;
                self.total += 1;
                picked.push((id, receiver));
            }
        }
        picked
    }

    fn release(&mut self, receiver: &str) {
        if let Some(n) = self.per_receiver.get_mut(receiver) {
            *n -= 1;
            if *n == 0 {
                self.per_receiver.remove(receiver);
            }
        }
        self.total = self.total.saturating_sub(1);
    }
}

/// What this server has in flight, and a bell rung when a delivery ends.
#[derive(Clone, Default)]
struct InFlight {
    load: Arc<Mutex<Load>>,
    ended: Arc<tokio::sync::Notify>,
}

/// A delivery's place in [`InFlight`], given back when dropped (also when its task fails).
struct Slot {
    in_flight: InFlight,
    receiver: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.in_flight
            .load
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .release(&self.receiver);
        self.in_flight.ended.notify_one();
    }
}

/// A delivery claimed under `lease`, holding its slot.
struct Claimed {
    item: OutboxItem,
    lease: Arc<str>,
    _slot: Slot,
}

/// Claims what is due and fits beside what is in flight.
async fn claim(
    store: &dyn Store,
    clock: &Clock,
    in_flight: &InFlight,
) -> StoreResult<Vec<Claimed>> {
    let full = {
        let load = in_flight.load.lock().unwrap_or_else(|p| p.into_inner());
        if load.total >= IN_FLIGHT {
            return Ok(Vec::new());
        }
        load.full()
    };
    let now = clock.now();
    let due = store.due_outbox(now, &full, CANDIDATES).await?;
    if due.is_empty() {
        return Ok(Vec::new());
    }
    let picked = in_flight
        .load
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .pick(due);
    let mut slots: HashMap<i64, Slot> = picked
        .into_iter()
        .map(|(id, receiver)| {
            let slot = Slot {
                in_flight: in_flight.clone(),
                receiver,
            };
            (id, slot)
        })
        .collect();
    let ids: Vec<i64> = slots.keys().copied().collect();
    let lease: Arc<str> = format!("{:032x}", rand::random::<u128>()).into();
    let items = store
        .claim_outbox(&ids, now, now + Duration::seconds(LEASE_SECONDS), &lease)
        .await?;
    // Deliveries another server claimed meanwhile give their slots back (dropped with the map).
    Ok(items
        .into_iter()
        .filter_map(|item| {
            let slot = slots.remove(&item.id)?;
            Some(Claimed {
                item,
                lease: lease.clone(),
                _slot: slot,
            })
        })
        .collect())
}

/// One attempt: POST the delivery (a webhook signed, a send with its account's token), then
/// record its outcome under the claim. A send refused for good says so on its
/// conversation's timeline.
async fn attempt(state: &AppState, claimed: &Claimed) -> StoreResult<()> {
    let (store, clock, egress) = (state.store.as_ref(), &state.clock, &state.egress);
    let item = &claimed.item;
    let outcome = match item.account_id {
        Some(account) => {
            let account = store.channel_account(account).await?;
            crate::channel_sends::attempt(egress, item, account.as_ref(), clock.now()).await
        }
        None => {
            let timestamp = clock.now().timestamp();
            let headers = [
                (
                    SIGNATURE_HEADER,
                    signature(&item.secret, timestamp, &item.body),
                ),
                (TIMESTAMP_HEADER, timestamp.to_string()),
                (DELIVERY_HEADER, item.id.to_string()),
            ];
            match egress.post(&item.url, &headers, item.body.clone()).await {
                Ok(()) => OutboxOutcome::Delivered,
                Err(e) => failed(item, e.0, clock.now()),
            }
        }
    };
    let now = clock.now();
    if !store
        .finish_outbox(item.id, &claimed.lease, &outcome, now)
        .await?
    {
        tracing::warn!(
            delivery = item.id,
            "a delivery's lease ran out before its outcome was recorded; the newer claim's attempt counts"
        );
        return Ok(());
    }
    state
        .metrics
        .attempt(&item.receiver, matches!(outcome, OutboxOutcome::Delivered));
    if let (
        Some(_),
        OutboxOutcome::Failed {
            error,
            retry_at: None,
        },
    ) = (item.account_id, &outcome)
    {
        crate::services::conversations::note_failed_send(state, item, error).await?;
    }
    Ok(())
}

/// A failed attempt of `item`: tried again after the backoff, or given up after
/// `MAX_ATTEMPTS`.
pub(crate) fn failed(item: &OutboxItem, error: String, now: DateTime<Utc>) -> OutboxOutcome {
    let attempts = item.attempts + 1;
    OutboxOutcome::Failed {
        error,
        retry_at: (attempts < MAX_ATTEMPTS).then(|| now + backoff(item.attempts)),
    }
}

/// One claim of what is due now, delivered, its outcomes recorded: how many deliveries it
/// tried. The server's own loop is [`run_outbox`]; this is one step of it for tests and tools.
pub async fn deliver_outbox(state: &AppState) -> StoreResult<usize> {
    let store = state.store.as_ref();
    let claimed = claim(store, &state.clock, &InFlight::default()).await?;
    let n = claimed.len();
    let attempts = claimed.iter().map(|c| attempt(state, c));
    for result in futures::future::join_all(attempts).await {
        result?;
    }
    Ok(n)
}

/// The delivery loop: claims whenever a delivery ends, a pass queued some (the bell), or a
/// second of the state's clock passed (so retries come due when a test clock is moved past
/// them), and sends each claimed delivery on its own task.
pub async fn run_outbox(state: AppState) {
    let in_flight = InFlight::default();
    loop {
        // A second from when this look started (not from when it ended), so that a retry
        // due within that second is claimed on the next look even when a test clock is
        // moved exactly onto it.
        let looked_at = state.clock.now();
        match claim(state.store.as_ref(), &state.clock, &in_flight).await {
            Ok(claimed) if !claimed.is_empty() => {
                for c in claimed {
                    let state = state.clone();
                    tokio::spawn(async move {
                        if let Err(e) = attempt(&state, &c).await {
                            // The lease runs out and the delivery is tried again.
                            tracing::error!(delivery = c.item.id, error = %e, "recording a delivery failed");
                        }
                    });
                }
                continue;
            }
            Ok(_) => {}
            Err(e) => {
                tracing::error!(error = %e, "claiming deliveries failed; retrying in a second");
                tokio::time::sleep(RETRY_AFTER_ERROR).await;
                continue;
            }
        }
        tokio::select! {
            _ = state.clock.sleep_until(looked_at + Duration::seconds(1)) => {}
            _ = state.outbox_bell.notified() => {}
            _ = in_flight.ended.notified() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_hmac_sha256_of_the_timestamp_and_the_body() {
        // Python: hmac.new(b"Jefe", b"1764000000.what do ya want for nothing?", sha256)
        assert_eq!(
            signature("Jefe", 1764000000, "what do ya want for nothing?"),
            "sha256=5a69bfde1efa679057c0e479ffb71239b5e86b5acad1945a56c0fc0a3c714843"
        );
        assert_ne!(
            signature("Jefe", 1764000000, "{}"),
            signature("Jefe", 1764000001, "{}"),
            "the timestamp is signed"
        );
    }

    #[test]
    fn retries_back_off_and_give_up() {
        assert_eq!(backoff(0), Duration::seconds(10));
        assert_eq!(backoff(1), Duration::seconds(30));
        assert_eq!(backoff(2), Duration::seconds(90));
        assert_eq!(backoff(9), Duration::seconds(3600));
    }

    #[test]
    fn receivers_are_host_and_port() {
        assert_eq!(receiver_of("https://Hooks.Example/a"), "hooks.example:443");
        assert_eq!(receiver_of("http://hooks.example/a"), "hooks.example:80");
        assert_eq!(receiver_of(" http://127.0.0.1:8080/x "), "127.0.0.1:8080");
        assert_eq!(receiver_of("http://[::1]:9/x"), "[::1]:9");
        assert_eq!(receiver_of("not a url"), "");
    }

    #[test]
    fn a_claim_leaves_out_what_does_not_fit() {
        let mut load = Load::default();
        let due = |pairs: &[(i64, &str)]| -> Vec<(i64, String)> {
            pairs.iter().map(|(i, r)| (*i, r.to_string())).collect()
        };
        // Three due for a slow receiver, then others: the slow one gets two.
        let picked = load.pick(due(&[
            (1, "slow"),
            (2, "slow"),
            (3, "slow"),
            (4, "a"),
            (5, "b"),
        ]));
        assert_eq!(picked.iter().map(|p| p.0).collect::<Vec<_>>(), [1, 2, 4, 5]);
        assert_eq!(load.full(), ["slow"]);
        // At most CLAIM_SIZE per claim, at most IN_FLIGHT in all.
        let many: Vec<(i64, String)> = (10..40).map(|i| (i, format!("r{i}"))).collect();
        assert_eq!(load.pick(many.clone()).len(), CLAIM_SIZE);
        assert_eq!(load.total, 4 + CLAIM_SIZE);
        assert_eq!(load.pick(many).len(), IN_FLIGHT - 4 - CLAIM_SIZE);
        load.release("slow");
        assert!(!load.full().contains(&"slow".to_string()));
        assert_eq!(load.total, IN_FLIGHT - 1);
    }
}
