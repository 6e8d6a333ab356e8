//! Countdown badges: a running clock's status carried forward to a later instant, so the
//! browser can tick every badge each second with the engine's own rules and no new events.

use crate::clock::{ClockState, MetricStatus};
use crate::duration::badge_text;
use chrono::{DateTime, Utc};

/// The status of `m` at `at`, assuming nothing happened in the conversation since `m` was
/// evaluated. Running clocks turn to warning at `warn_at` and breached after `due_at`; other
/// states do not change with time alone.
pub fn project(m: &MetricStatus, at: DateTime<Utc>) -> MetricStatus {
    let running = matches!(
        m.state,
        ClockState::Ok | ClockState::Warning | ClockState::Breached
    );
    let Some(due) = m.due_at.filter(|_| running) else {
        return m.clone();
    };
    let state = if at > due {
        ClockState::Breached
    } else if m.warn_at.is_some_and(|w| at >= w) {
        ClockState::Warning
    } else {
        ClockState::Ok
    };
    let remaining = (due - at).num_seconds();
    let mut out = m.clone();
    if state == ClockState::Breached && m.state != ClockState::Breached {
        out.breaches += 1;
    }
    out.state = state;
    out.remaining_s = Some(remaining);
    out.text = badge_text(remaining);
    out
}

/// The colour class of a badge: gray within target, orange running out, red breached.
pub fn tone(state: ClockState) -> &'static str {
    match state {
        ClockState::Ok => "ok",
        ClockState::Warning => "warning",
        ClockState::Breached | ClockState::Missed => "breached",
        ClockState::Met => "met",
        ClockState::Paused => "paused",
        ClockState::NotStarted => "idle",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timeline::{Author, Event};
    use crate::{evaluate, Metric, Policy};

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn projection_agrees_with_a_fresh_evaluation_every_second() {
        let policy: Policy =
            serde_json::from_str(r#"{"first_response": "20s", "warning": "50%"}"#).unwrap();
        let events = vec![
            Event::created(t("2026-11-24T10:00:00Z")),
            Event::message(t("2026-11-24T10:00:00Z"), Author::Customer),
        ];
        let start = evaluate(&policy, None, &events, t("2026-11-24T10:00:00Z"));
        let first = start.metric(Metric::FirstResponse).unwrap().clone();
        for s in 0..40 {
            let at = t("2026-11-24T10:00:00Z") + chrono::Duration::seconds(s);
            let fresh = evaluate(&policy, None, &events, at);
            let fresh = fresh.metric(Metric::FirstResponse).unwrap();
            let projected = project(&first, at);
            assert_eq!(projected.state, fresh.state, "at +{s}s");
            assert_eq!(projected.remaining_s, fresh.remaining_s, "at +{s}s");
            assert_eq!(projected.text, fresh.text, "at +{s}s");
            assert_eq!(projected.breaches, fresh.breaches, "at +{s}s");
        }
        assert_eq!(
            project(&first, t("2026-11-24T10:00:10Z")).state,
            ClockState::Warning
        );
        assert_eq!(project(&first, t("2026-11-24T10:00:21Z")).text, "-1s");
    }

    #[test]
    fn finished_clocks_do_not_move() {
        let policy: Policy = serde_json::from_str(r#"{"first_response": "20s"}"#).unwrap();
        let events = vec![
            Event::created(t("2026-11-24T10:00:00Z")),
            Event::message(t("2026-11-24T10:00:05Z"), Author::Agent),
        ];
        let s = evaluate(&policy, None, &events, t("2026-11-24T10:00:06Z"));
        let m = s.metric(Metric::FirstResponse).unwrap();
        assert_eq!(m.state, ClockState::Met);
        assert_eq!(&project(m, t("2026-11-25T10:00:00Z")), m);
        assert_eq!(tone(ClockState::Warning), "warning");
    }
}
