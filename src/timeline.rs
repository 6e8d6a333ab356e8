//! A conversation's timeline: the typed events that SLA clocks are computed from.

use crate::instant;
use crate::policy::Policy;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Who wrote a message. Only a public message by an agent (a human) is a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Author {
    Customer,
    Agent,
    Bot,
    /// Automation, e.g. a templated message sent by a rule.
    System,
}

impl Author {
    pub const ALL: [Author; 4] = [Author::Customer, Author::Agent, Author::Bot, Author::System];
}

/// A conversation's status; pending means waiting on the customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ConversationStatus {
    Open,
    Pending,
    Snoozed,
    Resolved,
}

impl ConversationStatus {
    pub const ALL: [ConversationStatus; 4] = [
        ConversationStatus::Open,
        ConversationStatus::Pending,
        ConversationStatus::Snoozed,
        ConversationStatus::Resolved,
    ];
}

/// What happened in a conversation.
#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    /// The conversation began; with `bot`, a bot handles it and no clock starts until the
    /// hand-over.
    Created {
        bot: bool,
    },
    /// A message; `private` marks an agent's internal note, which never responds.
    Message {
        author: Author,
        private: bool,
    },
    Status {
        status: ConversationStatus,
    },
    /// A bot handed the conversation to humans: the clocks start.
    Handover,
    /// Another policy applies from now on.
    ApplyPolicy {
        policy: Policy,
    },
}

/// One event of a timeline; JSON `{"at": "...", "kind": "message", "author": "agent"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "EventRecord", into = "EventRecord")]
pub struct Event {
    pub at: DateTime<Utc>,
    pub kind: EventKind,
}

impl Event {
    pub fn new(at: DateTime<Utc>, kind: EventKind) -> Self {
        Event { at, kind }
    }

    pub fn created(at: DateTime<Utc>) -> Self {
        Event::new(at, EventKind::Created { bot: false })
    }

    pub fn created_by_bot(at: DateTime<Utc>) -> Self {
        Event::new(at, EventKind::Created { bot: true })
    }

    /// A public message (use [`Event::private_note`] for an agent's internal note).
    pub fn message(at: DateTime<Utc>, author: Author) -> Self {
        Event::new(
            at,
            EventKind::Message {
                author,
                private: false,
            },
        )
    }

    pub fn private_note(at: DateTime<Utc>) -> Self {
        Event::new(
            at,
            EventKind::Message {
                author: Author::Agent,
                private: true,
            },
        )
    }

    pub fn status(at: DateTime<Utc>, status: ConversationStatus) -> Self {
        Event::new(at, EventKind::Status { status })
    }

    pub fn handover(at: DateTime<Utc>) -> Self {
        Event::new(at, EventKind::Handover)
    }

    pub fn apply_policy(at: DateTime<Utc>, policy: Policy) -> Self {
        Event::new(at, EventKind::ApplyPolicy { policy })
    }

    /// The order of a timeline: by instant, a `created` event first among the events of
    /// its instant (a conversation exists before anything happens in it, so a message
    /// listed before its creation at the same instant cannot turn a bot conversation into
    /// one whose clocks start at once); otherwise stable.
    pub fn order_key(&self) -> (DateTime<Utc>, bool) {
        (self.at, !matches!(self.kind, EventKind::Created { .. }))
    }

    /// Whether this event answers the customer: a public message by a human agent.
    pub fn is_response(&self) -> bool {
        matches!(
            self.kind,
            EventKind::Message {
                author: Author::Agent,
                private: false
            }
        )
    }
}

/// The kinds as written in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum KindName {
    Created,
    Message,
    Status,
    Handover,
    ApplyPolicy,
}

/// The flat JSON record of an event: every field a kind may have, checked against the kind
/// when converted, so an error can name the exact field.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventRecord {
    #[serde(with = "instant::rfc3339")]
    at: DateTime<Utc>,
    kind: KindName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bot: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    author: Option<Author>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    private: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<ConversationStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    policy: Option<Policy>,
}

impl TryFrom<EventRecord> for Event {
    type Error = String;

    fn try_from(r: EventRecord) -> Result<Self, String> {
        let allowed: &[&str] = match r.kind {
            KindName::Created => &["bot"],
            KindName::Message => &["author", "private"],
            KindName::Status => &["status"],
            KindName::Handover => &[],
            KindName::ApplyPolicy => &["policy"],
        };
        let present = [
            ("bot", r.bot.is_some()),
            ("author", r.author.is_some()),
            ("private", r.private.is_some()),
            ("status", r.status.is_some()),
            ("policy", r.policy.is_some()),
        ];
        let kind_name = serde_json::to_value(r.kind).unwrap_or_default();
        if let Some((field, _)) = present.iter().find(|(f, p)| *p && !allowed.contains(f)) {
            return Err(format!("a {kind_name} event has no field \"{field}\""));
        }
        let missing = |field: &str| format!("a {kind_name} event needs \"{field}\"");
        let kind = match r.kind {
            KindName::Created => EventKind::Created {
                bot: r.bot.unwrap_or(false),
            },
            KindName::Message => EventKind::Message {
                author: r.author.ok_or_else(|| missing("author"))?,
                private: r.private.unwrap_or(false),
            },
            KindName::Status => EventKind::Status {
                status: r.status.ok_or_else(|| missing("status"))?,
            },
            KindName::Handover => EventKind::Handover,
            KindName::ApplyPolicy => EventKind::ApplyPolicy {
                policy: r.policy.ok_or_else(|| missing("policy"))?,
            },
        };
        Ok(Event { at: r.at, kind })
    }
}

impl From<Event> for EventRecord {
    fn from(e: Event) -> Self {
        let mut r = EventRecord {
            at: e.at,
            kind: KindName::Handover,
            bot: None,
            author: None,
            private: None,
            status: None,
            policy: None,
        };
        match e.kind {
            EventKind::Created { bot } => {
                r.kind = KindName::Created;
                r.bot = bot.then_some(true);
            }
            EventKind::Message { author, private } => {
                r.kind = KindName::Message;
                r.author = Some(author);
                r.private = private.then_some(true);
            }
            EventKind::Status { status } => {
                r.kind = KindName::Status;
                r.status = Some(status);
            }
            EventKind::Handover => {}
            EventKind::ApplyPolicy { policy } => {
                r.kind = KindName::ApplyPolicy;
                r.policy = Some(policy);
            }
        }
        r
    }
}

/// A conversation's events in time order (equal instants keep the order they came in).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(from = "Vec<Event>", into = "Vec<Event>")]
pub struct Timeline {
    events: Vec<Event>,
}

impl From<Vec<Event>> for Timeline {
    fn from(events: Vec<Event>) -> Self {
        Timeline::new(events)
    }
}

impl From<Timeline> for Vec<Event> {
    fn from(t: Timeline) -> Self {
        t.events
    }
}

impl Timeline {
    /// Sorts stably by `at` (a `created` event first within its instant, see
    /// [`Event::order_key`]), so events may arrive in any order.
    pub fn new(mut events: Vec<Event>) -> Self {
        events.sort_by_key(Event::order_key);
        Timeline { events }
    }

    /// Adds an event after every event at or before its instant (a `created` event before
    /// the other events of its instant).
    pub fn push(&mut self, event: Event) {
        let key = event.order_key();
        let i = self.events.partition_point(|e| e.order_key() <= key);
        self.events.insert(i, event);
    }

    /// Every target's state at `at`; see [`crate::clock::evaluate`].
    pub fn evaluate(
        &self,
        policy: &Policy,
        calendar: Option<&crate::calendar::BusinessCalendar>,
        at: DateTime<Utc>,
    ) -> crate::clock::SlaState {
        crate::clock::evaluate(policy, calendar, &self.events, at)
    }

    pub fn events(&self) -> &[Event] {
        &self.events
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(text: &str) -> DateTime<Utc> {
        instant::parse_rfc3339(text).unwrap()
    }

    #[test]
    fn events_read_and_write_the_flat_json_shape() {
        let text = r#"[{"at":"2026-11-20T15:45:00Z","kind":"created","bot":true},{"at":"2026-11-20T15:46:00Z","kind":"message","author":"agent","private":true},{"at":"2026-11-20T15:47:00Z","kind":"status","status":"pending"},{"at":"2026-11-20T15:48:00Z","kind":"handover"},{"at":"2026-11-20T15:49:00Z","kind":"message","author":"customer"}]"#;
        let events: Vec<Event> = serde_json::from_str(text).unwrap();
        assert_eq!(
            events[0],
            Event::created_by_bot(t("2026-11-20T16:45:00+01:00"))
        );
        assert_eq!(events[1], Event::private_note(t("2026-11-20T15:46:00Z")));
        assert_eq!(
            events[2],
            Event::status(t("2026-11-20T15:47:00Z"), ConversationStatus::Pending)
        );
        assert_eq!(events[3], Event::handover(t("2026-11-20T15:48:00Z")));
        assert!(!events[1].is_response());
        assert_eq!(serde_json::to_string(&events).unwrap(), text);
    }

    #[test]
    fn rejects_unknown_kinds_authors_statuses_and_misplaced_fields() {
        for bad in [
            r#"{"at":"2026-11-20T15:45:00Z","kind":"deleted"}"#,
            r#"{"at":"2026-11-20T15:45:00Z","kind":"message","author":"robot"}"#,
            r#"{"at":"2026-11-20T15:45:00Z","kind":"message"}"#,
            r#"{"at":"2026-11-20T15:45:00Z","kind":"status","status":"closed"}"#,
            r#"{"at":"2026-11-20T15:45:00Z","kind":"created","author":"agent"}"#,
            r#"{"at":"2026-11-20 15:45","kind":"created"}"#,
            r#"{"kind":"created"}"#,
        ] {
            assert!(serde_json::from_str::<Event>(bad).is_err(), "{bad} parsed");
        }
    }

    #[test]
    fn a_timeline_sorts_stably_by_instant() {
        let a = Event::message(t("2026-11-20T10:00:00Z"), Author::Customer);
        let b = Event::message(t("2026-11-20T10:00:00Z"), Author::Agent);
        let c = Event::created(t("2026-11-20T09:00:00Z"));
        let mut timeline = Timeline::new(vec![a.clone(), b.clone(), c.clone()]);
        assert_eq!(timeline.events(), &[c.clone(), a.clone(), b.clone()]);
        let d = Event::private_note(t("2026-11-20T10:00:00Z"));
        timeline.push(d.clone());
        assert_eq!(
            timeline.events(),
            &[c.clone(), a.clone(), b.clone(), d.clone()]
        );
        // A creation goes before the other events of its instant, however it arrives.
        let created = Event::created_by_bot(t("2026-11-20T10:00:00Z"));
        let mut late = Timeline::new(vec![a.clone(), created.clone(), b.clone()]);
        assert_eq!(late.events(), &[created.clone(), a.clone(), b.clone()]);
        late.push(Event::created(t("2026-11-20T10:00:00Z")));
        assert_eq!(late.events()[1], Event::created(t("2026-11-20T10:00:00Z")));
        assert_eq!(late.events()[2], a);
    }
}
