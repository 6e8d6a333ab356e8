//! What the server's automation worker needs besides the rules themselves, kept pure: which
//! rule event an incoming event raises, the instants at which a conversation's SLA clocks
//! warn, breach and become overdue (each with the key it fires under exactly once), and the
//! timeline events that a rule run adds (an update with the changed fields, system
//! messages), with ids derived from what fired them so that a repeated run adds nothing.

use crate::clock::{Metric, SlaState};
use crate::conversation::{EventBody, IncomingEvent};
use crate::duration::SlaDuration;
use crate::rules::{ConversationState, FiredEvent};
use crate::timeline::Author;
use chrono::{DateTime, Duration, Utc};

/// The rule event an incoming event raises (`None`: a hand-over, a survey answer or the
/// customer leaving raise none).
pub fn trigger_of(e: &IncomingEvent) -> Option<FiredEvent> {
    match e.body {
        EventBody::Created { .. } => Some(FiredEvent::ConversationCreated),
        EventBody::Message { .. } => Some(FiredEvent::MessageCreated),
        EventBody::Updated { .. } => Some(FiredEvent::ConversationUpdated),
        EventBody::Handover
        | EventBody::Survey { .. }
        | EventBody::Left
        | EventBody::Archived { .. } => None,
    }
}

/// An SLA event of one clock cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SlaEventKind {
    Warning,
    Breached,
    /// Breached for this many seconds (an escalation level of `sla.overdue` rules).
    Overdue(i64),
}

impl SlaEventKind {
    /// The event's name in firing records.
    pub fn name(self) -> &'static str {
        match self {
            SlaEventKind::Warning => "sla.warning",
            SlaEventKind::Breached => "sla.breached",
            SlaEventKind::Overdue(_) => "sla.overdue",
        }
    }

    /// The escalation level in seconds (0 for warning and breach).
    pub fn level(self) -> i64 {
        match self {
            SlaEventKind::Overdue(s) => s,
            _ => 0,
        }
    }
}

/// When one cycle of a clock warns, breaches or reaches an overdue level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SlaInstant {
    pub metric: Metric,
    /// The cycle's number (first response and resolution have one; next response one per
    /// customer turn).
    pub cycle: u32,
    pub kind: SlaEventKind,
    pub at: DateTime<Utc>,
}

impl SlaInstant {
    /// The event rules are run for.
    pub fn event(&self) -> FiredEvent {
        match self.kind {
            SlaEventKind::Warning => FiredEvent::SlaWarning {
                metric: self.metric,
            },
            SlaEventKind::Breached => FiredEvent::SlaBreached {
                metric: self.metric,
            },
            SlaEventKind::Overdue(s) => FiredEvent::SlaOverdue {
                metric: self.metric,
                after: SlaDuration::from_secs(s).unwrap_or(SlaDuration::ZERO),
            },
        }
    }

    /// A stable text key of this firing (conversation excluded), for synthetic event ids.
    pub fn key(&self) -> String {
        format!(
            "{}:{}:{}:{}",
            self.metric.as_str(),
            self.cycle,
            self.kind.name(),
            self.kind.level()
        )
    }
}

/// Every instant of the clocks in `sla` (as evaluated; the current cycle of each target):
/// the warning start, the breach (the second after the deadline, as the engine counts) and
/// each overdue level in `overdue_levels` (seconds after the deadline). A cycle that has
/// finished keeps its breach and overdue instants from before it finished (the engine does
/// not keep the warning start of a finished cycle); a paused or not started clock has none
/// (its instants come once it runs).
pub fn sla_instants(sla: &SlaState, overdue_levels: &[i64]) -> Vec<SlaInstant> {
    let mut out = Vec::new();
    for m in &sla.metrics {
        let (Some(due), Some(_)) = (m.due_at, m.started_at) else {
            continue;
        };
        let end = if m.state.is_running() {
            None
        } else {
            m.finished_at
        };
        let before_end = |t: DateTime<Utc>| end.is_none_or(|e| t <= e);
        let mut push = |kind, at| {
            if before_end(at) {
                out.push(SlaInstant {
                    metric: m.metric,
                    cycle: m.cycles,
                    kind,
                    at,
                });
            }
        };
        // A policy without a warning threshold warns at the deadline itself: no warning
        // period, so no warning event.
        if let Some(w) = m.warn_at {
            if w < due {
                push(SlaEventKind::Warning, w);
            }
        }
        push(SlaEventKind::Breached, due + Duration::seconds(1));
        for &level in overdue_levels {
            if level > 0 {
                push(SlaEventKind::Overdue(level), due + Duration::seconds(level));
            }
        }
    }
    out
}

/// The earliest instant strictly after `after` (all of them when `after` is `None`).
pub fn next_instant(
    instants: &[SlaInstant],
    after: Option<DateTime<Utc>>,
) -> Option<DateTime<Utc>> {
    instants
        .iter()
        .map(|i| i.at)
        .filter(|t| after.is_none_or(|a| *t > a))
        .min()
}

/// The `conversation.updated` event that records what a rule run changed (priority,
/// labels, team, owner; the policy is the conversation's own column), or `None` when
/// nothing changed.
pub fn update_event(
    id: String,
    conversation: &str,
    at: DateTime<Utc>,
    before: &ConversationState,
    after: &ConversationState,
) -> Option<IncomingEvent> {
    let priority = (after.priority != before.priority).then_some(after.priority);
    let labels = (after.labels != before.labels).then(|| after.labels.clone());
    let team = (after.team != before.team).then(|| after.team.clone());
    let owner = (after.owner != before.owner).then(|| after.owner.clone());
    if priority.is_none() && labels.is_none() && team.is_none() && owner.is_none() {
        return None;
    }
    Some(IncomingEvent {
        id,
        conversation: conversation.to_string(),
        at,
        body: EventBody::Updated {
            status: None,
            priority,
            owner,
            team,
            labels,
        },
    })
}

/// A system message in the thread (it never counts as a response).
pub fn system_message(
    id: String,
    conversation: &str,
    at: DateTime<Utc>,
    text: String,
) -> IncomingEvent {
    IncomingEvent {
        id,
        conversation: conversation.to_string(),
        at,
        body: EventBody::Message {
            author: Author::System,
            private: false,
            text,
            agent_email: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instant::utc;
    use crate::timeline::Event;
    use crate::{evaluate, Policy};

    fn sla(policy: &str, events: &[Event], at: &str) -> SlaState {
        let policy: Policy = serde_json::from_str(policy).unwrap();
        evaluate(&policy, None, events, utc(at))
    }

    /// A first response of 20 s that warns at half time.
    const FRT_20S: &str = r#"{"first_response": "20s", "warning": "50%"}"#;

    /// When the conversation of these tests starts.
    const START: &str = "2026-11-24T10:00:00Z";

    /// The conversation created at `START` with a customer message, then `more`.
    fn customer_waiting(more: &[Event]) -> Vec<Event> {
        let start = utc(START);
        let mut events = vec![
            Event::created(start),
            Event::message(start, Author::Customer),
        ];
        events.extend_from_slice(more);
        events
    }

    #[test]
    fn a_running_clock_warns_breaches_and_escalates() {
        let s = sla(FRT_20S, &customer_waiting(&[]), "2026-11-24T10:00:05Z");
        let instants = sla_instants(&s, &[1800, 7200]);
        let got: Vec<(SlaEventKind, DateTime<Utc>)> =
            instants.iter().map(|i| (i.kind, i.at)).collect();
        assert_eq!(
            got,
            vec![
                (SlaEventKind::Warning, utc("2026-11-24T10:00:10Z")),
                (SlaEventKind::Breached, utc("2026-11-24T10:00:21Z")),
                (SlaEventKind::Overdue(1800), utc("2026-11-24T10:30:20Z")),
                (SlaEventKind::Overdue(7200), utc("2026-11-24T12:00:20Z")),
            ]
        );
        assert!(instants
            .iter()
            .all(|i| i.metric == Metric::FirstResponse && i.cycle == 1));
        assert_eq!(
            next_instant(&instants, Some(utc("2026-11-24T10:00:10Z"))),
            Some(utc("2026-11-24T10:00:21Z"))
        );
        assert_eq!(
            next_instant(&instants, None),
            Some(utc("2026-11-24T10:00:10Z"))
        );
        assert_eq!(
            next_instant(&instants, Some(utc("2026-11-24T13:00:00Z"))),
            None
        );
        assert_eq!(instants[1].key(), "first_response:1:sla.breached:0");
        assert_eq!(
            instants[2].event(),
            FiredEvent::SlaOverdue {
                metric: Metric::FirstResponse,
                after: "30m".parse().unwrap()
            }
        );
    }

    #[test]
    fn a_met_clock_keeps_only_what_happened_before_it_was_met() {
        let events =
            customer_waiting(&[Event::message(utc("2026-11-24T10:00:12Z"), Author::Agent)]);
        let s = sla(FRT_20S, &events, "2026-11-24T11:00:00Z");
        assert!(
            sla_instants(&s, &[60]).is_empty(),
            "met in time: nothing breached (the engine keeps no warning start once met)"
        );

        // Missed: warned and breached before the late reply, not overdue by an hour.
        let late = customer_waiting(&[Event::message(utc("2026-11-24T10:05:00Z"), Author::Agent)]);
        let s = sla(FRT_20S, &late, "2026-11-24T11:00:00Z");
        let kinds: Vec<SlaEventKind> = sla_instants(&s, &[60, 3600])
            .iter()
            .map(|i| i.kind)
            .collect();
        assert_eq!(
            kinds,
            vec![SlaEventKind::Breached, SlaEventKind::Overdue(60)],
            "breached and a minute overdue before the late reply, not an hour"
        );
    }

    #[test]
    fn no_warning_threshold_no_warning_event() {
        let s = sla(
            r#"{"first_response": "20s", "warning": "0%"}"#,
            &customer_waiting(&[]),
            "2026-11-24T10:00:05Z",
        );
        let kinds: Vec<SlaEventKind> = sla_instants(&s, &[]).iter().map(|i| i.kind).collect();
        assert_eq!(kinds, vec![SlaEventKind::Breached]);
    }

    #[test]
    fn paused_and_unstarted_clocks_have_no_instants() {
        let start = utc(START);
        let s = sla(
            r#"{"first_response": "20s"}"#,
            &[
                Event::created_by_bot(start),
                Event::message(start, Author::Customer),
            ],
            "2026-11-24T10:00:05Z",
        );
        assert!(
            sla_instants(&s, &[60]).is_empty(),
            "a bot has it: no clock runs"
        );
        let s = sla(
            r#"{"resolution": "1h"}"#,
            &customer_waiting(&[Event::status(
                utc("2026-11-24T10:10:00Z"),
                crate::ConversationStatus::Pending,
            )]),
            "2026-11-24T10:20:00Z",
        );
        assert!(sla_instants(&s, &[60]).is_empty(), "paused while pending");
    }

    #[test]
    fn rule_runs_become_timeline_events() {
        let at = utc("2026-11-24T10:00:00Z");
        let before = ConversationState {
            priority: crate::conversation::Priority::Normal,
            labels: vec![],
            team: None,
            owner: Some("a@x.io".into()),
            policy: None,
        };
        assert_eq!(update_event("x".into(), "c", at, &before, &before), None);
        let mut after = before.clone();
        after.owner = None;
        after.labels = vec!["vip".into()];
        let e = update_event("auto:1".into(), "c", at, &before, &after).unwrap();
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["type"], "conversation.updated");
        assert_eq!(json["labels"], serde_json::json!(["vip"]));
        assert!(json.get("priority").is_none());
        match e.body {
            EventBody::Updated { owner, team, .. } => {
                assert_eq!(owner, Some(None), "the owner is removed");
                assert_eq!(team, None, "the team is unchanged");
            }
            other => panic!("{other:?}"),
        }
        let m = system_message("auto:2".into(), "c", at, "Hi".into());
        assert!(matches!(
            m.body,
            EventBody::Message {
                author: Author::System,
                ..
            }
        ));
        assert_eq!(trigger_of(&m), Some(FiredEvent::MessageCreated));
    }
}
