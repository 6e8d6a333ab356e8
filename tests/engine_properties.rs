//! Properties of the SLA engine on random conversations, through the public API.

use chrono::{DateTime, Duration, Utc};
use promptly::{
    cycles, evaluate, BusinessCalendar, ClockState, Cycle, Event, EventKind, Judgement, Metric,
    MetricStatus, Policy, SlaDuration, SlaState, Target,
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

/// A status's outcome as a what-if judges it; `None` when not started.
fn judgement(s: &MetricStatus) -> Option<Judgement> {
    match s.state {
        ClockState::NotStarted => None,
        ClockState::Met => Some(Judgement::Met),
        ClockState::Missed => Some(Judgement::Missed),
        ClockState::Breached => Some(Judgement::Breached),
        ClockState::Paused if s.breaches == 1 => Some(Judgement::Breached),
        ClockState::Ok | ClockState::Warning | ClockState::Paused => Some(Judgement::Open),
    }
}

/// `policy` with `metric`'s target replaced.
fn with_target(mut policy: Policy, metric: Metric, target: Target) -> Policy {
    match metric {
        Metric::FirstResponse => policy.first_response = Some(target),
        Metric::NextResponse => policy.next_response = Some(target),
        Metric::Resolution => policy.resolution = Some(target),
    }
    policy
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
            let mine: Vec<_> = measured.iter().filter(|c| c.metric == status.metric).collect();
            let target = |c: &Cycle| c.target(&policy, Some(&OFFICE)).unwrap();
            let judged: Vec<Judgement> = mine.iter().map(|c| c.judge(target(c))).collect();
            let breaches = judged
                .iter()
                .filter(|j| matches!(j, Judgement::Missed | Judgement::Breached))
                .count() as u32;
            prop_assert_eq!(breaches, status.breaches, "{:?} {:?}", status, mine);
            prop_assert_eq!(mine.len() as u32, status.cycles, "{:?} {:?}", status, mine);
            let last = judged.last().copied();
            prop_assert_eq!(last, judgement(status), "{:?} {:?}", status, mine);
            let Some(c) = mine.last() else { continue };
            // At the boundary: a duration equal to the last cycle's need meets it (or keeps
            // it within target), one second less misses it (or breaches it).
            for secs in [c.need_s, c.need_s - 1].into_iter().filter(|t| *t >= 0) {
                let exact = with_target(policy, status.metric, Target::Counted(SlaDuration::from_secs(secs).unwrap()));
                let there = at_office(&exact, &events, at);
                let s = there.metric(status.metric).unwrap();
                let t = c.target(&exact, Some(&OFFICE)).unwrap();
                prop_assert_eq!(Some(c.judge(t)), judgement(s), "target {} {:?} {:?}", secs, s, c);
            }
            // Business days, judged from each cycle's start.
            for days in [0u16, 1, 2] {
                let bd = with_target(policy, status.metric, Target::BusinessDays(days));
                let there = at_office(&bd, &events, at);
                let s = there.metric(status.metric).unwrap();
                let t = c.target(&bd, Some(&OFFICE)).unwrap();
                prop_assert_eq!(Some(c.judge(t)), judgement(s), "{}bd {:?} {:?}", days, s, c);
            }
            if status.state == ClockState::Warning {
                prop_assert!(c.warned(target(c), policy.warning));
            }
        }
    }

    /// A business-day first response is due at the calendar's business-day deadline from
    /// its start (an open moment), whatever the start; the target is the open time up to it.
    #[test]
    fn a_business_day_first_response_is_due_at_the_calendars_deadline(
        start in 0i64..21 * 86_400,
        days in 0u16..12,
        wait in 0i64..3 * 86_400,
    ) {
        let policy = Policy {
            first_response: Some(Target::BusinessDays(days)),
            business_hours_only: true,
            ..Policy::default()
        };
        let start = monday() + Duration::seconds(start);
        let at = start + Duration::seconds(wait);
        let state = at_office(&policy, &[Event::created(start)], at);
        let frt = state.metric(Metric::FirstResponse).unwrap();
        let due = OFFICE.add_business_days(start, days).unwrap();
        prop_assert_eq!(frt.due_at, Some(due));
        prop_assert!(OFFICE.is_open_at(due), "{} is open", due);
        prop_assert_eq!(frt.target_s, OFFICE.open_time_between(start, due));
        prop_assert_eq!(frt.state == ClockState::Breached, at > due);
    }
}
