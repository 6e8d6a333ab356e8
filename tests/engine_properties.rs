//! Properties of the SLA engine on random conversations, through the public API.

use chrono::{DateTime, Duration, Utc};
use promptly::{
    evaluate, BusinessCalendar, ClockState, Event, EventKind, Metric, Policy, SlaDuration,
    SlaState, Target,
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
