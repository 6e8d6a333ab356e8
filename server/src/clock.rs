//! The server's clock: every read of "now" for business logic (ingest defaults, SLA
//! evaluation, sessions and throttling, created/updated stamps, the automation worker and
//! the outbox) and every wait for a business instant (the worker's next SLA instant, the
//! outbox's retries) goes through [`Clock`], kept in [`crate::state::AppState::clock`].
//!
//! The real clock ([`Clock::real`], the default) is `Utc::now` and tokio's timers. A
//! [`TestClock`] starts at a given instant and moves only when a test says so
//! ([`TestClock::advance`], [`TestClock::set`]); whoever sleeps until an instant on it wakes
//! as soon as the clock reaches that instant, so breach, warning and retry tests run
//! without waiting real seconds.
//!
//! What is not business time stays on tokio's monotonic timers: the stream's heartbeat
//! interval and keep-alive, HTTP timeouts, reconnect back-off, the housekeeping interval
//! and in-memory cache ages ([`crate::state::COMPLIANCE_TTL`], finished jobs).

use chrono::{DateTime, Utc};
use std::sync::Arc;
use tokio::sync::watch;

/// The time source of a server: real (the default) or a [`TestClock`].
#[derive(Clone, Default)]
pub struct Clock(Source);

#[derive(Clone, Default)]
enum Source {
    #[default]
    Real,
    Test(TestClock),
}

impl Clock {
    /// The wall clock (`Utc::now`) with tokio's timers.
    pub fn real() -> Clock {
        Clock(Source::Real)
    }

    /// The current instant.
    pub fn now(&self) -> DateTime<Utc> {
        match &self.0 {
            Source::Real => Utc::now(),
            Source::Test(t) => t.now(),
        }
    }

    /// Returns once the clock has reached `at` (at once if it already has).
    pub async fn sleep_until(&self, at: DateTime<Utc>) {
        match &self.0 {
            Source::Real => loop {
                // Timers are monotonic, the wall clock may be slewed: look again on waking.
                let wait = at - Utc::now();
                if wait <= chrono::Duration::zero() {
                    return;
                }
                tokio::time::sleep(wait.to_std().unwrap_or_default()).await;
            },
            Source::Test(t) => t.sleep_until(at).await,
        }
    }

    /// Returns once `d` has passed on this clock.
    pub async fn sleep(&self, d: chrono::Duration) {
        self.sleep_until(self.now() + d).await;
    }
}

impl From<TestClock> for Clock {
    fn from(t: TestClock) -> Clock {
        Clock(Source::Test(t))
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Source::Real => f.write_str("Clock::Real"),
            Source::Test(t) => write!(f, "Clock::Test({})", t.now()),
        }
    }
}

/// A clock for tests: it stands still until moved. Clones share the same time.
#[derive(Clone)]
pub struct TestClock {
    now: Arc<watch::Sender<DateTime<Utc>>>,
}

impl TestClock {
    /// A clock standing at `at`.
    pub fn starting_at(at: DateTime<Utc>) -> TestClock {
        TestClock {
            now: Arc::new(watch::Sender::new(at)),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        *self.now.borrow()
    }

    /// Moves the clock forward by `d` and wakes whoever sleeps until an instant now reached.
    pub fn advance(&self, d: chrono::Duration) {
        self.now.send_modify(|t| *t += d);
    }

    /// Sets the clock to `at` (backwards too; sleepers wake only once it reaches theirs).
    pub fn set(&self, at: DateTime<Utc>) {
        self.now.send_replace(at);
    }

    async fn sleep_until(&self, at: DateTime<Utc>) {
        let mut rx = self.now.subscribe();
        loop {
            if *rx.borrow_and_update() >= at {
                return;
            }
            if rx.changed().await.is_err() {
                // Cannot happen while `self` holds the sender; never wake.
                std::future::pending::<()>().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use promptly::instant::utc;

    #[tokio::test]
    async fn sleepers_wake_when_the_test_clock_reaches_their_instant() {
        let test = TestClock::starting_at(utc("2026-11-24T10:00:00Z"));
        let clock = Clock::from(test.clone());
        assert_eq!(clock.now(), utc("2026-11-24T10:00:00Z"));
        let sleeper = {
            let clock = clock.clone();
            tokio::spawn(async move { clock.sleep_until(utc("2026-11-24T10:00:05Z")).await })
        };
        tokio::task::yield_now().await;
        test.advance(Duration::seconds(4));
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished(), "one second short");
        test.advance(Duration::seconds(1));
        tokio::time::timeout(std::time::Duration::from_secs(5), sleeper)
            .await
            .expect("woken when the clock reached its instant")
            .unwrap();
        // An instant already passed returns at once; so does sleeping for nothing.
        clock.sleep_until(utc("2026-11-24T09:00:00Z")).await;
        clock.sleep(Duration::zero()).await;
        test.set(utc("2026-11-25T00:00:00Z"));
        assert_eq!(clock.now(), utc("2026-11-25T00:00:00Z"));
    }

    #[tokio::test]
    async fn the_real_clock_is_the_wall_clock() {
        let clock = Clock::default();
        let before = Utc::now();
        let now = clock.now();
        assert!(now >= before && now <= Utc::now());
        clock.sleep_until(before).await;
        clock.sleep(Duration::milliseconds(1)).await;
        assert!(Utc::now() > now);
    }
}
