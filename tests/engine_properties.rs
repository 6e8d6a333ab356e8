//! Properties of the SLA engine on random conversations, through the public API.

use chrono::{DateTime, Duration, Utc};
use promptly::{
    evaluate, Author, BusinessCalendar, ClockState, ConversationStatus, Event, EventKind, Metric,
    Policy, SlaDuration, SlaState, WarningThreshold,
};
use proptest::prelude::*;

fn office() -> BusinessCalendar {
    serde_json::from_str(
        r#"{"timezone": "Europe/Amsterdam",
            "hours": {"mon": ["09:00-17:00"], "tue": ["09:00-12:00", "13:00-17:00"], "wed": ["09:00-17:00"],
                      "thu": ["09:00-17:00"], "fri": ["09:00-17:00"], "sat": ["22:00-02:00"]},
            "holidays": ["2026-11-26"]}"#,
    )
    .unwrap()
}

fn monday() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-23T07:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn kinds() -> impl Strategy<Value = EventKind> {
    use ConversationStatus::*;
    prop_oneof![
        4 => Just(EventKind::Message { author: Author::Customer, private: false }),
        4 => Just(EventKind::Message { author: Author::Agent, private: false }),
        1 => Just(EventKind::Message { author: Author::Agent, private: true }),
        1 => Just(EventKind::Message { author: Author::Bot, private: false }),
        1 => Just(EventKind::Message { author: Author::System, private: false }),
        1 => prop::sample::select(vec![Open, Pending, Snoozed, Resolved])
            .prop_map(|status| EventKind::Status { status }),
        1 => Just(EventKind::Handover),
    ]
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
    let target = prop::option::of(prop::sample::select(vec![
        0i64,
        60,
        900,
        1800,
        3600,
        8 * 3600,
    ]));
    let warning = prop_oneof![
        (0u8..=100).prop_map(WarningThreshold::Percent),
        (0i64..3600).prop_map(|s| WarningThreshold::Fixed(SlaDuration::from_secs(s).unwrap())),
    ];
    (
        target.clone(),
        target.clone(),
        target,
        any::<bool>(),
        warning,
    )
        .prop_map(
            |(first, next, resolution, business_hours_only, warning)| Policy {
                first_response: first.and_then(SlaDuration::from_secs),
                next_response: next.and_then(SlaDuration::from_secs),
                resolution: resolution.and_then(SlaDuration::from_secs),
                business_hours_only,
                warning,
                ..Policy::default()
            },
        )
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
        policy in policies(),
        events in conversations(),
        wait in 0i64..5 * 86_400,
    ) {
        let calendar = office();
        let at = events.last().unwrap().at + Duration::seconds(wait);
        let now = evaluate(&policy, Some(&calendar), &events, at);
        match now.next_change {
            Some(change) => {
                prop_assert!(change > at);
                let before = evaluate(&policy, Some(&calendar), &events, change - Duration::seconds(1));
                prop_assert_eq!(states(&before), states(&now));
                let then = evaluate(&policy, Some(&calendar), &events, change);
                prop_assert_ne!(states(&then), states(&now));
            }
            None => {
                let much_later = evaluate(&policy, Some(&calendar), &events, at + Duration::days(60));
                prop_assert_eq!(states(&much_later), states(&now));
            }
        }
    }

    /// Without policy changes, a breach once counted stays counted.
    #[test]
    fn breaches_never_go_down(
        policy in policies(),
        events in conversations(),
        a in 0i64..10 * 86_400,
        b in 0i64..10 * 86_400,
    ) {
        let calendar = office();
        let (early, late) = (monday() + Duration::seconds(a.min(b)), monday() + Duration::seconds(a.max(b)));
        let early = evaluate(&policy, Some(&calendar), &events, early);
        let late = evaluate(&policy, Some(&calendar), &events, late);
        for (e, l) in early.metrics.iter().zip(&late.metrics) {
            prop_assert!(e.breaches <= l.breaches, "{:?} then {:?}", e, l);
        }
    }

    /// A running clock's deadline is its target of counted time after its start (first
    /// response never pauses), and the badge counts wall-clock seconds to it.
    #[test]
    fn a_running_first_response_is_due_after_its_target_of_counted_time(
        policy in policies(),
        events in conversations(),
        wait in 0i64..3 * 86_400,
    ) {
        let calendar = office();
        let at = monday() + Duration::seconds(wait);
        let state = evaluate(&policy, Some(&calendar), &events, at);
        if let Some(frt) = state.metric(Metric::FirstResponse).filter(|m| m.state.is_running()) {
            let (start, due) = (frt.started_at.unwrap(), frt.due_at.unwrap());
            let counted = if policy.business_hours_only {
                calendar.open_time_between(start, due)
            } else {
                (due - start).num_seconds()
            };
            prop_assert_eq!(counted, frt.target_s);
            prop_assert_eq!(frt.remaining_s, Some((due - at).num_seconds()));
            prop_assert_eq!(frt.state == ClockState::Breached, at > due);
        }
    }
}
