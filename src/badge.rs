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

/// The first instant after `at` at which [`project`] may show `m` differently (another
/// state or text), or `None` when time alone never changes it. Never later than the real
/// change, so a page can re-project each badge only when this instant has passed instead
/// of every badge on every tick; an earlier answer only costs one more projection.
pub fn next_display_change(m: &MetricStatus, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let running = matches!(
        m.state,
        ClockState::Ok | ClockState::Warning | ClockState::Breached
    );
    let due = m.due_at.filter(|_| running)?;
    let nano = chrono::Duration::nanoseconds(1);
    let mut next: Option<DateTime<Utc>> = None;
    let mut consider = |t: DateTime<Utc>| {
        if t > at && next.is_none_or(|n| t < n) {
            next = Some(t);
        }
    };
    // State: warning from `warn_at`, breached once past `due`.
    if let Some(w) = m.warn_at {
        consider(w);
    }
    consider(due + nano);
    // Text: the remaining whole seconds `r` (truncated toward zero) next reach a value
    // whose text differs; the text's unit is 1 s under a minute, 1 m under a day, 1 h beyond.
    let r = (due - at).num_seconds();
    let unit = |r: i64| match r.unsigned_abs() {
        a if a < 60 => 1,
        a if a < 86_400 => 60,
        _ => 3_600,
    };
    let secs = chrono::Duration::seconds;
    if r >= 0 {
        // The next value below the current unit's block: remaining ≤ r' from
        // due − (r' + 1) s (exclusive).
        let target = r - r % unit(r) - 1;
        if target >= 0 {
            consider(due - secs(target + 1) + nano);
        } else {
            // "0s": breached just after the deadline, "-1s" a second after it.
            consider(due + nano);
            consider(due + secs(1));
        }
    } else {
        // Overdue time grows: |remaining| ≥ k from due + k s.
        let a = -r;
        let u = unit(r);
        consider(due + secs((a / u + 1) * u));
    }
    next
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
    use crate::instant::utc;
    use crate::timeline::{Author, Event};
    use crate::{evaluate, Metric, Policy};

    #[test]
    fn projection_agrees_with_a_fresh_evaluation_every_second() {
        let policy: Policy =
            serde_json::from_str(r#"{"first_response": "20s", "warning": "50%"}"#).unwrap();
        let events = vec![
            Event::created(utc("2026-11-24T10:00:00Z")),
            Event::message(utc("2026-11-24T10:00:00Z"), Author::Customer),
        ];
        let start = evaluate(&policy, None, &events, utc("2026-11-24T10:00:00Z"));
        let first = start.metric(Metric::FirstResponse).unwrap().clone();
        for s in 0..40 {
            let at = utc("2026-11-24T10:00:00Z") + chrono::Duration::seconds(s);
            let fresh = evaluate(&policy, None, &events, at);
            let fresh = fresh.metric(Metric::FirstResponse).unwrap();
            let projected = project(&first, at);
            assert_eq!(projected.state, fresh.state, "at +{s}s");
            assert_eq!(projected.remaining_s, fresh.remaining_s, "at +{s}s");
            assert_eq!(projected.text, fresh.text, "at +{s}s");
            assert_eq!(projected.breaches, fresh.breaches, "at +{s}s");
        }
        assert_eq!(
            project(&first, utc("2026-11-24T10:00:10Z")).state,
            ClockState::Warning
        );
        assert_eq!(project(&first, utc("2026-11-24T10:00:21Z")).text, "-1s");
    }

    #[test]
    fn the_next_display_change_is_never_missed_and_rarely_early() {
        for (policy, phase) in [
            (
                r#"{"first_response": "1d2h", "warning": "90%", "resolution": "3d"}"#,
                600,
            ),
            (
                r#"{"first_response": "20s", "warning": "50%", "resolution": "59m"}"#,
                0,
            ),
            (
                r#"{"first_response": "61s", "warning": "30s", "resolution": "1h1s"}"#,
                999,
            ),
        ] {
            check_next_display_change(serde_json::from_str(policy).unwrap(), phase);
        }
    }

    fn check_next_display_change(policy: Policy, phase_ms: i64) {
        let start = utc("2026-11-24T10:00:00.250Z");
        let events = vec![
            Event::created(start),
            Event::message(start, Author::Customer),
        ];
        let evaluated = evaluate(&policy, None, &events, start);
        for metric in [Metric::FirstResponse, Metric::Resolution] {
            let m = evaluated.metric(metric).unwrap().clone();
            // Walk a tick every second (at a sub-second phase) through the whole target
            // and a day beyond; re-project only when the announced instant has passed.
            let mut at = start + chrono::Duration::milliseconds(phase_ms);
            let mut shown = project(&m, at);
            let mut next = next_display_change(&m, at);
            let mut projections = 0;
            let end = m.due_at.unwrap() + chrono::Duration::days(1);
            while at < end {
                at += chrono::Duration::seconds(1);
                let truth = project(&m, at);
                if next.is_some_and(|n| at >= n) {
                    projections += 1;
                    shown = truth.clone();
                    next = next_display_change(&m, at);
                }
                assert_eq!(
                    (shown.state, &shown.text),
                    (truth.state, &truth.text),
                    "{metric:?} at {at}"
                );
            }
            // Far fewer projections than ticks: per minute or per hour, per second only
            // in the last and first minute around the deadline.
            let ticks = (end - start).num_seconds();
            assert!(projections * 10 < ticks, "{projections} of {ticks}");
        }
    }

    #[test]
    fn finished_clocks_do_not_move() {
        let policy: Policy = serde_json::from_str(r#"{"first_response": "20s"}"#).unwrap();
        let events = vec![
            Event::created(utc("2026-11-24T10:00:00Z")),
            Event::message(utc("2026-11-24T10:00:05Z"), Author::Agent),
        ];
        let s = evaluate(&policy, None, &events, utc("2026-11-24T10:00:06Z"));
        let m = s.metric(Metric::FirstResponse).unwrap();
        assert_eq!(m.state, ClockState::Met);
        assert_eq!(&project(m, utc("2026-11-25T10:00:00Z")), m);
        assert_eq!(next_display_change(m, utc("2026-11-25T10:00:00Z")), None);
        assert_eq!(tone(ClockState::Warning), "warning");
    }
}
