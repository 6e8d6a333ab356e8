//! Conversation facts: what compliance needs to know of one conversation
//! ([`ConversationFacts`]), the stored form they are derived from ([`FactsRecord`],
//! [`ClockRecord`]) and the first wait read from a timeline.

use super::scope::ScopeSubject;
use super::tally::{tally, MetricKind};
use crate::clock::{ClockState, Metric, MetricStatus};
use crate::conversation::{Channel, ConversationSummary};
use crate::instant;
use crate::timeline::{ConversationStatus, Event, EventKind};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A survey's kind; its scale is [`SurveyKind::scale`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SurveyKind {
    Csat,
    Nps,
    Ces,
}

impl SurveyKind {
    pub const ALL: [SurveyKind; 3] = [SurveyKind::Csat, SurveyKind::Nps, SurveyKind::Ces];

    /// "CSAT", "NPS", "CES".
    pub fn name(self) -> &'static str {
        match self {
            SurveyKind::Csat => "CSAT",
            SurveyKind::Nps => "NPS",
            SurveyKind::Ces => "CES",
        }
    }

    /// Lowest and highest valid score: CSAT 1–5, NPS 0–10, CES 1–7. Scores outside are
    /// ignored by every metric.
    pub fn scale(self) -> (i64, i64) {
        match self {
            SurveyKind::Csat => (1, 5),
            SurveyKind::Nps => (0, 10),
            SurveyKind::Ces => (1, 7),
        }
    }
}

/// One survey answer (a `survey.submitted` event).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SurveyResponse {
    pub kind: SurveyKind,
    pub score: i64,
}

/// What compliance needs of one conversation; the server fills it from the stored
/// conversation (its summary, policy and SLA state, see [`ConversationFacts::set_clocks`])
/// and its timeline ([`first_wait`]). Everything is a plain field so that it can be cached
/// per conversation and recomputed only when the conversation changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationFacts {
    /// When the conversation was created: decides its period.
    #[serde(with = "instant::rfc3339")]
    pub created_at: DateTime<Utc>,
    pub channel: Channel,
    /// The department of the conversation's team (the server's team → department mapping);
    /// the "department" breakdown groups by it.
    #[serde(default)]
    pub department: Option<String>,
    #[serde(default)]
    pub team: Option<String>,
    /// The owning agent's e-mail; the "agent" breakdown groups by it.
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub labels: Vec<String>,
    /// The SLA policy in force (for scope matching).
    #[serde(default)]
    pub policy_id: Option<i64>,
    #[serde(default)]
    pub contact_email: Option<String>,
    /// Wall-clock seconds from the start of the wait for a human (creation, or the bot
    /// hand-over: where the first-response clock starts) to the first response (a public
    /// message by a human agent); `None` when not answered. Some = "answered".
    #[serde(default)]
    pub first_response_s: Option<i64>,
    /// Wall-clock seconds from that same start until the conversation was resolved, or the
    /// customer left, without any response; `None` otherwise. Counted only when
    /// `first_response_s` is `None` (answered wins). A conversation still waiting is neither
    /// answered nor abandoned and counts in no service-level, ASA or abandonment figure.
    #[serde(default)]
    pub abandoned_after_s: Option<i64>,
    /// The first-response clock's outcome: met, missed (also when breached and still
    /// running: it can no longer be met), or `None` (no target, or still undecided).
    #[serde(default)]
    pub frt_met: Option<bool>,
    /// Next-response cycles met and missed (a breached running cycle counts as missed).
    #[serde(default)]
    pub nrt_met: u32,
    #[serde(default)]
    pub nrt_missed: u32,
    /// The resolution clock's outcome, as `frt_met`.
    #[serde(default)]
    pub rt_met: Option<bool>,
    /// Survey answers; a conversation may have several, each counts.
    #[serde(default)]
    pub surveys: Vec<SurveyResponse>,
}

impl ConversationFacts {
    /// Facts with nothing measured yet.
    pub fn new(created_at: DateTime<Utc>, channel: Channel) -> Self {
        ConversationFacts {
            created_at,
            channel,
            department: None,
            team: None,
            owner: None,
            labels: Vec::new(),
            policy_id: None,
            contact_email: None,
            first_response_s: None,
            abandoned_after_s: None,
            frt_met: None,
            nrt_met: 0,
            nrt_missed: 0,
            rt_met: None,
            surveys: Vec::new(),
        }
    }

    /// Facts from a conversation's summary, with the department the server maps its team
    /// to; the SLA and survey fields are left empty.
    pub fn from_summary(
        summary: &ConversationSummary,
        policy_id: Option<i64>,
        department: Option<String>,
    ) -> Self {
        ConversationFacts {
            department,
            team: summary.team.clone(),
            owner: summary.owner.clone(),
            labels: summary.labels.clone(),
            policy_id,
            contact_email: summary.contact.email.clone(),
            ..ConversationFacts::new(summary.created_at, summary.channel)
        }
    }

    /// Fills `frt_met`, `nrt_met`/`nrt_missed` and `rt_met` from an SLA state's statuses
    /// ([`crate::SlaState::metrics`]); a target the policy lacks stays empty.
    pub fn set_clocks(&mut self, statuses: &[MetricStatus]) {
        for s in statuses {
            let (met, missed) = cycle_counts(s);
            let outcome = (met + missed > 0).then_some(met > 0 && missed == 0);
            match s.metric {
                Metric::FirstResponse => self.frt_met = outcome,
                Metric::NextResponse => (self.nrt_met, self.nrt_missed) = (met, missed),
                Metric::Resolution => self.rt_met = outcome,
            }
        }
    }

    pub fn answered(&self) -> bool {
        self.first_response_s.is_some()
    }

    /// Ended without any response (whatever the wait).
    pub fn abandoned(&self) -> bool {
        self.first_response_s.is_none() && self.abandoned_after_s.is_some()
    }

    /// What [`Scope::matches`](super::Scope::matches) looks at.
    pub fn subject(&self) -> ScopeSubject<'_> {
        ScopeSubject {
            team: self.team.as_deref(),
            channel: self.channel,
            labels: &self.labels,
            policy_id: self.policy_id,
            contact_email: self.contact_email.as_deref(),
        }
    }
}

/// Cycles of a target that are decided: (met, missed). Missed counts the status's
/// `breaches` (missed cycles, and a running or paused one past its deadline, which can no
/// longer be met); a cycle running within its deadline is undecided.
pub fn cycle_counts(status: &MetricStatus) -> (u32, u32) {
    let missed = status.breaches;
    let undecided = u32::from(
        matches!(status.state, ClockState::Ok | ClockState::Warning)
            || (status.state == ClockState::Paused && status.breaches == 0),
    );
    (status.cycles.saturating_sub(missed + undecided), missed)
}

/// A target's decided cycles and, while its current cycle runs within its deadline, that
/// deadline: the cycle counts as missed from then on without any new event. This is what
/// the server stores per conversation, so that a compliance query run at any later instant
/// counts clocks that ran out since the conversation last changed ([`ClockRecord::at`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockRecord {
    pub met: u32,
    pub missed: u32,
    /// The running, still undecided cycle's deadline.
    #[serde(default, with = "instant::option_rfc3339")]
    pub due: Option<DateTime<Utc>>,
}

impl ClockRecord {
    pub fn of(status: &MetricStatus) -> Self {
        let (met, missed) = cycle_counts(status);
        let running = matches!(status.state, ClockState::Ok | ClockState::Warning);
        ClockRecord {
            met,
            missed,
            due: status.due_at.filter(|_| running),
        }
    }

    /// (met, missed) seen at `now`: the running cycle is missed once `now` reaches its
    /// deadline.
    pub fn at(self, now: DateTime<Utc>) -> (u32, u32) {
        let late = self.due.is_some_and(|d| d <= now);
        (self.met, self.missed + u32::from(late))
    }

    /// A single-cycle target's outcome at `now` (first response, resolution): `None` while
    /// undecided or without a target.
    pub fn outcome_at(self, now: DateTime<Utc>) -> Option<bool> {
        let (met, missed) = self.at(now);
        (met + missed > 0).then_some(met > 0 && missed == 0)
    }
}

/// What the server stores of a conversation for compliance, independent of the instant it
/// is judged at; [`FactsRecord::at`] gives the [`ConversationFacts`] at an instant. Built by
/// [`FactsRecord::derive`] whenever the conversation's derived columns are written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FactsRecord {
    #[serde(with = "instant::rfc3339")]
    pub created_at: DateTime<Utc>,
    pub channel: Channel,
    pub team: Option<String>,
    pub owner: Option<String>,
    pub labels: Vec<String>,
    pub policy_id: Option<i64>,
    pub contact_email: Option<String>,
    pub first_response_s: Option<i64>,
    pub abandoned_after_s: Option<i64>,
    pub frt: ClockRecord,
    pub nrt: ClockRecord,
    pub rt: ClockRecord,
    pub surveys: Vec<SurveyResponse>,
}

impl FactsRecord {
    /// From a conversation's summary, its SLA timeline and its clocks' statuses (evaluated at
    /// any instant after its last event), under policy `policy_id`.
    pub fn derive(
        summary: &ConversationSummary,
        timeline: &[Event],
        statuses: &[MetricStatus],
        policy_id: Option<i64>,
    ) -> Self {
        let wait = first_wait_until_left(timeline, summary.left_at);
        let mut r = FactsRecord {
            created_at: summary.created_at,
            channel: summary.channel,
            // An empty team or owner is none (the store groups them so).
            team: summary.team.clone().filter(|t| !t.is_empty()),
            owner: summary.owner.clone().filter(|o| !o.is_empty()),
            labels: summary.labels.clone(),
            policy_id,
            contact_email: summary.contact.email.clone(),
            first_response_s: wait.first_response_s,
            abandoned_after_s: wait.abandoned_after_s,
            frt: ClockRecord::default(),
            nrt: ClockRecord::default(),
            rt: ClockRecord::default(),
            surveys: summary.surveys.clone(),
        };
        for s in statuses {
            let record = ClockRecord::of(s);
            match s.metric {
                Metric::FirstResponse => r.frt = record,
                Metric::NextResponse => r.nrt = record,
                Metric::Resolution => r.rt = record,
            }
        }
        r
    }

    /// The facts at `now`, with the department of the conversation's team.
    pub fn at(&self, now: DateTime<Utc>, department: Option<String>) -> ConversationFacts {
        let (nrt_met, nrt_missed) = self.nrt.at(now);
        ConversationFacts {
            created_at: self.created_at,
            channel: self.channel,
            department,
            team: self.team.clone(),
            owner: self.owner.clone(),
            labels: self.labels.clone(),
            policy_id: self.policy_id,
            contact_email: self.contact_email.clone(),
            first_response_s: self.first_response_s,
            abandoned_after_s: self.abandoned_after_s,
            frt_met: self.frt.outcome_at(now),
            nrt_met,
            nrt_missed,
            rt_met: self.rt.outcome_at(now),
            surveys: self.surveys.clone(),
        }
    }

    /// Survey counts as the store keeps them: per kind, (responses in scale, sum of the
    /// metric's numerator terms: CSAT 4–5 answers, NPS promoters − detractors, CES scores).
    pub fn survey_counts(&self, kind: SurveyKind) -> (i64, i64) {
        let facts = ConversationFacts {
            surveys: self.surveys.clone(),
            ..ConversationFacts::new(self.created_at, self.channel)
        };
        let metric = match kind {
            SurveyKind::Csat => MetricKind::Csat,
            SurveyKind::Nps => MetricKind::Nps,
            SurveyKind::Ces => MetricKind::Ces,
        };
        let (num, den) = tally(metric, [&facts]);
        (den, num)
    }
}

/// The customer's first wait, from a conversation's timeline: see
/// [`ConversationFacts::first_response_s`] and [`ConversationFacts::abandoned_after_s`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirstWait {
    pub first_response_s: Option<i64>,
    pub abandoned_after_s: Option<i64>,
}

/// Reads the first wait from a timeline (any order; sorted as the SLA engine sorts). The
/// wait starts at creation, at the bot hand-over for a bot conversation, or at the first
/// event when there is no `created` event; it ends at the first response (answered), else
/// at the first resolution after the start (abandoned). A bot conversation never handed
/// over is neither. A customer leaving (e.g. closing a web chat) is not in the timeline: the
/// server sets `abandoned_after_s` itself for that.
pub fn first_wait(events: &[Event]) -> FirstWait {
    first_wait_until_left(events, None)
}

/// [`first_wait`], where the customer may also have left at `left_at` (a
/// `conversation.left` event): without a response before it, the wait ends there if that
/// is before any resolution.
pub fn first_wait_until_left(events: &[Event], left_at: Option<DateTime<Utc>>) -> FirstWait {
    let mut sorted: Vec<&Event> = events.iter().collect();
    sorted.sort_by_key(|e| e.order_key());
    let mut start: Option<DateTime<Utc>> = None;
    let mut created = false;
    let mut resolved: Option<DateTime<Utc>> = None;
    for e in sorted {
        match e.kind {
            EventKind::Created { bot } if !created && start.is_none() => {
                created = true;
                if !bot {
                    start = Some(e.at);
                }
            }
            EventKind::Handover if start.is_none() => start = Some(e.at),
            _ if !created && start.is_none() => {
                created = true;
                start = Some(e.at);
            }
            _ => {}
        }
        let Some(s) = start else { continue };
        // Nobody answered before the customer left: a later response does not count.
        if left_at.is_some_and(|l| l >= s && e.at > l) {
            break;
        }
        if e.is_response() {
            return FirstWait {
                first_response_s: Some(seconds_between(s, e.at)),
                abandoned_after_s: None,
            };
        }
        if resolved.is_none()
            && matches!(
                e.kind,
                EventKind::Status {
                    status: ConversationStatus::Resolved
                }
            )
        {
            resolved = Some(e.at);
        }
    }
    let left = start.zip(left_at).filter(|(s, l)| l >= s).map(|(_, l)| l);
    let ended = match (resolved, left) {
        (Some(r), Some(l)) => Some(r.min(l)),
        (r, l) => r.or(l),
    };
    FirstWait {
        first_response_s: None,
        abandoned_after_s: start.zip(ended).map(|(s, r)| seconds_between(s, r)),
    }
}

fn seconds_between(from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
    instant::whole_second(to) - instant::whole_second(from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compliance::test_support::*;
    use crate::timeline::Author;

    fn status(metric: Metric, state: ClockState, breaches: u32, cycles: u32) -> MetricStatus {
        MetricStatus {
            metric,
            state,
            due_at: None,
            remaining_s: None,
            breaches,
            text: String::new(),
            target_s: 60,
            started_at: None,
            warn_at: None,
            finished_at: None,
            cycles,
        }
    }

    #[test]
    fn clock_outcomes_come_from_sla_statuses() {
        use ClockState::*;
        use Metric::*;
        assert_eq!(cycle_counts(&status(FirstResponse, Met, 0, 1)), (1, 0));
        assert_eq!(cycle_counts(&status(FirstResponse, Missed, 1, 1)), (0, 1));
        assert_eq!(cycle_counts(&status(FirstResponse, Breached, 1, 1)), (0, 1));
        assert_eq!(cycle_counts(&status(FirstResponse, Ok, 0, 1)), (0, 0));
        assert_eq!(
            cycle_counts(&status(FirstResponse, NotStarted, 0, 0)),
            (0, 0)
        );
        assert_eq!(cycle_counts(&status(Resolution, Paused, 0, 1)), (0, 0));
        assert_eq!(cycle_counts(&status(Resolution, Paused, 1, 1)), (0, 1));
        // Next response: 5 cycles, 1 missed earlier, the running one within its deadline.
        assert_eq!(cycle_counts(&status(NextResponse, Warning, 1, 5)), (3, 1));
        // ... or breached now: missed twice.
        assert_eq!(cycle_counts(&status(NextResponse, Breached, 2, 5)), (3, 2));

        let mut f = facts();
        f.set_clocks(&[
            status(FirstResponse, Met, 0, 1),
            status(NextResponse, Ok, 1, 4),
            status(Resolution, Breached, 1, 1),
        ]);
        assert_eq!(
            (f.frt_met, f.nrt_met, f.nrt_missed, f.rt_met),
            (Some(true), 2, 1, Some(false))
        );
        f.set_clocks(&[status(Resolution, Ok, 0, 1)]);
        assert_eq!(f.rt_met, None);
    }

    #[test]
    fn first_wait_from_a_timeline() {
        let at = |s: &str| t(&format!("2026-11-18T{s}Z"));
        let msg = |s: &str, a: Author| Event::message(at(s), a);
        // Answered 45 s after creation; a bot message and a private note do not respond.
        let w = first_wait(&[
            msg("10:00:45", Author::Agent),
            Event::created(at("10:00:00")),
            msg("10:00:00", Author::Customer),
            msg("10:00:10", Author::Bot),
            Event::private_note(at("10:00:20")),
        ]);
        assert_eq!(w.first_response_s, Some(45));
        assert_eq!(w.abandoned_after_s, None);
        // A bot conversation waits from the hand-over.
        let w = first_wait(&[
            Event::created_by_bot(at("10:00:00")),
            msg("10:00:00", Author::Customer),
            Event::handover(at("10:02:00")),
            msg("10:03:00", Author::Agent),
        ]);
        assert_eq!(w.first_response_s, Some(60));
        // Resolved without a response: abandoned after 5 minutes (the first resolution).
        let w = first_wait(&[
            Event::created(at("10:00:00")),
            Event::status(at("10:05:00"), ConversationStatus::Resolved),
            msg("10:06:00", Author::Customer),
            Event::status(at("10:09:00"), ConversationStatus::Resolved),
        ]);
        assert_eq!(
            w,
            FirstWait {
                first_response_s: None,
                abandoned_after_s: Some(300),
            }
        );
        // A later response wins over an earlier resolution.
        let w = first_wait(&[
            Event::created(at("10:00:00")),
            Event::status(at("10:05:00"), ConversationStatus::Resolved),
            msg("10:20:00", Author::Agent),
        ]);
        assert_eq!(w.first_response_s, Some(1200));
        assert_eq!(w.abandoned_after_s, None);
        // A bot that solved it alone: neither answered nor abandoned.
        let w = first_wait(&[
            Event::created_by_bot(at("10:00:00")),
            msg("10:01:00", Author::Bot),
            Event::status(at("10:02:00"), ConversationStatus::Resolved),
        ]);
        assert_eq!(w, FirstWait::default());
        // Without a `created` event the first event starts the wait.
        let w = first_wait(&[
            msg("10:00:00", Author::Customer),
            msg("10:00:30", Author::Agent),
        ]);
        assert_eq!(w.first_response_s, Some(30));
        assert_eq!(first_wait(&[]), FirstWait::default());
    }

    // --- bands ---------------------------------------------------------------------------

    #[test]
    fn facts_from_a_summary_and_as_json() {
        let summary = ConversationSummary {
            channel: Channel::Whatsapp,
            visibility: crate::conversation::Visibility::Direct,
            contact: crate::conversation::Contact {
                email: Some("ann@bigcorp.com".into()),
                ..Default::default()
            },
            priority: crate::conversation::Priority::High,
            labels: vec!["vip".into()],
            team: Some("t1".into()),
            owner: Some("bob@us.com".into()),
            status: ConversationStatus::Open,
            bot: false,
            created_at: t("2026-11-10T10:00:00Z"),
            last_message: None,
            last_author: None,
            last_message_at: None,
            surveys: Vec::new(),
            left_at: None,
        };
        let f = ConversationFacts::from_summary(&summary, Some(3), Some("Support".into()));
        assert_eq!(f.subject(), ScopeSubject::of_summary(&summary, Some(3)));
        assert_eq!(f.department.as_deref(), Some("Support"));
        let json = serde_json::to_value(&f).unwrap();
        assert_eq!(json["created_at"], "2026-11-10T10:00:00Z");
        assert_eq!(json["channel"], "whatsapp");
        let minimal: ConversationFacts = serde_json::from_value(serde_json::json!({
            "created_at": "2026-11-10T10:00:00Z", "channel": "sms",
            "surveys": [{"kind": "nps", "score": 9}]
        }))
        .unwrap();
        assert_eq!(minimal.surveys[0].kind, SurveyKind::Nps);
        assert!(!minimal.answered() && !minimal.abandoned());
    }

    // --- stored records, group counts -------------------------------------------------

    #[test]
    fn a_customer_leaving_unanswered_is_an_abandonment_at_the_earlier_end() {
        let at = |s: &str| t(&format!("2026-11-10T{s}Z"));
        let created = [
            Event::created(at("10:00:00")),
            Event::message(at("10:00:00"), Author::Customer),
        ];
        let w = first_wait_until_left(&created, Some(at("10:01:30")));
        assert_eq!(w.abandoned_after_s, Some(90));
        assert_eq!(w.first_response_s, None);
        let mut resolved = created.to_vec();
        resolved.push(Event::new(
            at("10:01:00"),
            EventKind::Status {
                status: ConversationStatus::Resolved,
            },
        ));
        assert_eq!(
            first_wait_until_left(&resolved, Some(at("10:01:30"))).abandoned_after_s,
            Some(60)
        );
        // Answered only after leaving: abandoned when the customer left.
        let mut late = created.to_vec();
        late.push(Event::message(at("10:05:00"), Author::Agent));
        let w = first_wait_until_left(&late, Some(at("10:01:30")));
        assert_eq!((w.first_response_s, w.abandoned_after_s), (None, Some(90)));
        // Answered before leaving: answered wins.
        let mut answered = created.to_vec();
        answered.push(Event::message(at("10:00:20"), Author::Agent));
        let w = first_wait_until_left(&answered, Some(at("10:05:00")));
        assert_eq!((w.first_response_s, w.abandoned_after_s), (Some(20), None));
    }

    #[test]
    fn a_stored_running_clock_counts_as_missed_once_its_deadline_passes() {
        let due = t("2026-11-10T11:00:00Z");
        let running = ClockRecord {
            met: 2,
            missed: 1,
            due: Some(due),
        };
        assert_eq!(running.at(t("2026-11-10T10:59:59Z")), (2, 1));
        assert_eq!(running.at(due), (2, 2));
        let first = ClockRecord {
            met: 0,
            missed: 0,
            due: Some(due),
        };
        assert_eq!(first.outcome_at(t("2026-11-10T10:00:00Z")), None);
        assert_eq!(first.outcome_at(t("2026-11-10T12:00:00Z")), Some(false));
        let met = ClockRecord {
            met: 1,
            ..ClockRecord::default()
        };
        assert_eq!(met.outcome_at(due), Some(true));
        assert_eq!(ClockRecord::default().outcome_at(due), None);
    }
}
