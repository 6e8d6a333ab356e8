//! Properties of the SLA engine on random conversations, through the public API.

use chrono::{DateTime, Duration, Utc};
use promptly::{
    cycles, evaluate, BusinessCalendar, ClockState, Event, EventKind, Judgement, Metric, Policy,
    SlaDuration, SlaState,
};
use proptest::prelude::*;
use std::sync::LazyLock;
use support::event_kinds;

mod support;

/// The office the properties are checked in, parsed once.
static OFFICE: LazyLock<BusinessCalendar> = LazyLock::new(|| {
    serde_json::from_str(
        r#"{"timezone": "Europe/Amsterdam",
            "hours": {"mon": ["09:00-17:00"], "tue": ["09:00-12:00", "13:00-17:00"], "wed": ["09:00-17:00"],
                      "thu": ["09:00-17:00"], "fri": ["09:00-17:00"], "sat": ["22:00-02:00"]},
            "holidays": ["2026-11-26"]}"#,
    )
    .unwrap()
});

/// The state at `at` of `events` under `policy`, counting the office's hours.
fn at_office(policy: &Policy, events: &[Event], at: DateTime<Utc>) -> SlaState {
    evaluate(policy, Some(&OFFICE), events, at)
}

fn monday() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-23T07:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn kinds() -> impl Strategy<Value = EventKind> {
    event_kinds!(customer: 4, status: 1)
}

/// A conversation on strictly increasing instants: a (possibly bot) creation, then up to
/// 30 events a few minutes to a few hours apart.
fn conversations() -> impl Strategy<Value = Vec<Event>> {
    (
        any::<bool>(),
        prop::collection::vec((1i64..4 * 3600, kinds()), 0..30),
    )
        .prop_map(|(bot, steps)| {
            let mut at = monday();
            let mut events = vec![Event::new(at, EventKind::Created { bot })];
            for (gap, kind) in steps {
                at += Duration::seconds(gap);
                events.push(Event::new(at, kind));
            }
            events
        })
}

fn policies() -> impl Strategy<Value = Policy> {
    support::policies(
        vec![0, 60, 900, 1800, 3600, 8 * 3600],
        0..3600,
        SlaDuration::from_secs,
    )
}

/// What every property runs on: a random policy and a random conversation.
fn cases() -> impl Strategy<Value = (Policy, Vec<Event>)> {
    (policies(), conversations())
}

fn states(state: &SlaState) -> Vec<(Metric, ClockState)> {
    state.metrics.iter().map(|m| (m.metric, m.state)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// After the last event, nothing changes before `next_change`, something changes at
    /// it, and without one nothing ever changes.
    #[test]
    fn next_change_is_exactly_when_a_state_changes(
        (policy, events) in cases(),
        wait in 0i64..5 * 86_400,
    ) {
        let at = events.last().unwrap().at + Duration::seconds(wait);
        let now = at_office(&policy, &events, at);
        match now.next_change {
            Some(change) => {
                prop_assert!(change > at);
                let before = at_office(&policy, &events, change - Duration::seconds(1));
                prop_assert_eq!(states(&before), states(&now));
                let then = at_office(&policy, &events, change);
                prop_assert_ne!(states(&then), states(&now));
            }
            None => {
                let much_later = at_office(&policy, &events, at + Duration::days(60));
                prop_assert_eq!(states(&much_later), states(&now));
            }
        }
    }

    /// Without policy changes, a breach once counted stays counted.
    #[test]
    fn breaches_never_go_down(
        (policy, events) in cases(),
        a in 0i64..10 * 86_400,
        b in 0i64..10 * 86_400,
    ) {
        let (early, late) = (monday() + Duration::seconds(a.min(b)), monday() + Duration::seconds(a.max(b)));
        let early = at_office(&policy, &events, early);
        let late = at_office(&policy, &events, late);
        for (e, l) in early.metrics.iter().zip(&late.metrics) {
            prop_assert!(e.breaches <= l.breaches, "{:?} then {:?}", e, l);
        }
    }

    /// A running clock's deadline is its target of counted time after its start (first
    /// response never pauses), and the badge counts wall-clock seconds to it.
    #[test]
    fn a_running_first_response_is_due_after_its_target_of_counted_time(
        (policy, events) in cases(),
        wait in 0i64..3 * 86_400,
    ) {
        let at = monday() + Duration::seconds(wait);
        let state = at_office(&policy, &events, at);
        if let Some(frt) = state.metric(Metric::FirstResponse).filter(|m| m.state.is_running()) {
            let (start, due) = (frt.started_at.unwrap(), frt.due_at.unwrap());
            let counted = if policy.business_hours_only {
                OFFICE.open_time_between(start, due)
            } else {
                (due - start).num_seconds()
            };
            prop_assert_eq!(counted, frt.target_s);
            prop_assert_eq!(frt.remaining_s, Some((due - at).num_seconds()));
            prop_assert_eq!(frt.state == ClockState::Breached, at > due);
        }
    }

    /// Cycles measured without a target and judged afterwards (what a what-if does) give
    /// exactly the engine's outcomes: each target's met / missed / breached state, its
    /// breach count, its cycle count, and whether a running one is warning.
    #[test]
    fn cycles_judged_afterwards_agree_with_the_engine(
        (policy, events) in cases(),
        wait in 0i64..5 * 86_400,
    ) {
        let at = monday() + Duration::seconds(wait);
        let state = at_office(&policy, &events, at);
        let measured = cycles(&policy, Some(&OFFICE), &events, at);
        for status in &state.metrics {
            let target = status.target_s;
            let mine: Vec<_> = measured.iter().filter(|c| c.metric == status.metric).collect();
            let judged: Vec<Judgement> = mine.iter().map(|c| c.judge(target)).collect();
            let breaches = judged
                .iter()
                .filter(|j| matches!(j, Judgement::Missed | Judgement::Breached))
                .count() as u32;
            prop_assert_eq!(breaches, status.breaches, "{:?} {:?}", status, mine);
            prop_assert_eq!(mine.len() as u32, status.cycles, "{:?} {:?}", status, mine);
            let last = judged.last().copied();
            let expected = match status.state {
                ClockState::NotStarted => None,
                ClockState::Met => Some(Judgement::Met),
                ClockState::Missed => Some(Judgement::Missed),
                ClockState::Breached => Some(Judgement::Breached),
                ClockState::Ok | ClockState::Warning => Some(Judgement::Open),
                ClockState::Paused if status.breaches == 1 => Some(Judgement::Breached),
                ClockState::Paused => Some(Judgement::Open),
            };
            prop_assert_eq!(last, expected, "{:?} {:?}", status, mine);
            // At the boundary: the target equal to the last cycle's need meets it (or keeps
            // it within target), one second less misses it (or breaches it).
            if let Some(c) = mine.last() {
                for target in [c.need_s, c.need_s - 1].into_iter().filter(|t| *t >= 0) {
                    let mut exact = policy;
                    let d = SlaDuration::from_secs(target);
                    match status.metric {
                        Metric::FirstResponse => exact.first_response = d,
                        Metric::NextResponse => exact.next_response = d,
                        Metric::Resolution => exact.resolution = d,
                    }
                    let there = at_office(&exact, &events, at);
                    let s = there.metric(status.metric).unwrap();
                    let engine = match s.state {
                        ClockState::Met => Judgement::Met,
                        ClockState::Missed => Judgement::Missed,
                        ClockState::Breached => Judgement::Breached,
                        ClockState::Paused if s.breaches == 1 => Judgement::Breached,
                        _ => Judgement::Open,
                    };
                    prop_assert_eq!(c.judge(target), engine, "target {} {:?} {:?}", target, s, c);
                }
            }
            if status.state == ClockState::Warning {
                let threshold = policy.warning.seconds_before(target);
                prop_assert!(mine.last().unwrap().warned(target, threshold));
            }
        }
    }
}
