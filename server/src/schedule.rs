//! The automation worker's handles, held by the state: the schedule of SLA instants this
//! server waits for, the bell that wakes the worker, and the firing latencies it measured.
//! The worker (`automation`) and the services (`services::conversations`) both use them
//! through the state, never each other.

use chrono::{DateTime, Utc};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// The instants this server waits for: a heap with lazy deletion (the map holds each
/// conversation's current instant; stale heap entries are skipped).
#[derive(Default)]
pub struct Schedule {
    heap: BinaryHeap<Reverse<(DateTime<Utc>, i64)>>,
    current: HashMap<i64, DateTime<Utc>>,
}

impl Schedule {
    /// Sets (or with `None` clears) a conversation's next instant.
    pub fn set(&mut self, id: i64, at: Option<DateTime<Utc>>) {
        match at {
            Some(t) => {
                if self.current.insert(id, t) != Some(t) {
                    self.heap.push(Reverse((t, id)));
                }
            }
            None => {
                self.current.remove(&id);
            }
        }
    }

    /// The earliest instant still current.
    pub fn earliest(&mut self) -> Option<DateTime<Utc>> {
        while let Some(Reverse((t, id))) = self.heap.peek().copied() {
            if self.current.get(&id) == Some(&t) {
                return Some(t);
            }
            self.heap.pop();
        }
        None
    }

    /// Forgets the instants up to `now` (a pass is about to handle them).
    pub fn take_due(&mut self, now: DateTime<Utc>) -> usize {
        let mut n = 0;
        while let Some(Reverse((t, id))) = self.heap.peek().copied() {
            if t > now {
                break;
            }
            self.heap.pop();
            if self.current.get(&id) == Some(&t) {
                self.current.remove(&id);
                n += 1;
            }
        }
        n
    }

    pub fn len(&self) -> usize {
        self.current.len()
    }

    pub fn is_empty(&self) -> bool {
        self.current.is_empty()
    }
}

/// The worker's shared handles: the schedule and a bell that wakes it.
#[derive(Clone, Default)]
pub struct Worker {
    pub schedule: Arc<Mutex<Schedule>>,
    pub wake: Arc<Notify>,
}

impl Worker {
    /// Records conversations' next instants and wakes the worker when one is earlier than
    /// what it sleeps for (or `now_pending`: events wait for their rules).
    pub fn note(
        &self,
        changes: impl IntoIterator<Item = (i64, Option<DateTime<Utc>>)>,
        now_pending: bool,
    ) {
        let mut earlier = now_pending;
        {
            let mut s = self.schedule.lock().unwrap_or_else(|p| p.into_inner());
            let before = s.earliest();
            for (id, at) in changes {
                s.set(id, at);
                if let Some(t) = at {
                    if before.is_none_or(|b| t < b) {
                        earlier = true;
                    }
                }
            }
        }
        if earlier {
            self.wake.notify_one();
        }
    }
}

/// Detection latency figures (from a breach instant to its recorded firing), for
/// `promptly bench automation`.
#[derive(Default)]
pub struct FiringStats {
    pub latencies_ms: Vec<f64>,
}

impl FiringStats {
    pub fn record(&mut self, fired: DateTime<Utc>, due: DateTime<Utc>) {
        if self.latencies_ms.len() < 1_000_000 {
            self.latencies_ms
                .push((fired - due).num_microseconds().unwrap_or(0) as f64 / 1000.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use promptly::instant::utc;

    #[test]
    fn the_schedule_keeps_one_current_instant_per_conversation() {
        let mut s = Schedule::default();
        s.set(1, Some(utc("2026-11-24T10:00:05Z")));
        s.set(2, Some(utc("2026-11-24T10:00:03Z")));
        s.set(2, Some(utc("2026-11-24T10:00:09Z")));
        assert_eq!(
            s.earliest(),
            Some(utc("2026-11-24T10:00:05Z")),
            "2's old instant is stale"
        );
        s.set(1, None);
        assert_eq!(s.earliest(), Some(utc("2026-11-24T10:00:09Z")));
        assert_eq!(s.len(), 1);
        assert_eq!(s.take_due(utc("2026-11-24T10:00:08Z")), 0);
        assert_eq!(s.take_due(utc("2026-11-24T10:00:09Z")), 1);
        assert!(s.is_empty());
        assert_eq!(s.earliest(), None);
    }
}
