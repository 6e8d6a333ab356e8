//! Automation rules: what an admin writes (an event, conditions, actions), its validation, and
//! its evaluation against a conversation — pure, so the server and the rule editor's preview
//! decide alike.
//!
//! The JSON of a rule ([`RuleDefinition`]):
//!
//! ```json
//! {"name": "BigCorp urgent", "enabled": true, "event": "conversation.created", "match": "all",
//!  "conditions": [{"field": "contact.email", "op": "ends_with", "value": "@bigcorp.com"},
//!                 {"field": "priority", "op": "is", "value": "urgent"}],
//!  "actions": [{"type": "apply_policy", "policy": 12}], "stop": false}
//! ```
//!
//! [`parse_rule`] is the one validating entry point; every problem is reported with its path
//! (`conditions[1].op`, `actions[0].policy`, `after`; the empty path is the rule itself).
//! The semantics, decided here once:
//!
//! - Rules run in order. A disabled rule, or one for another event, is skipped; an
//!   `sla.overdue` rule runs only for the overdue level (`after`) it names. A rule fires when
//!   its conditions match (`all` or `any`; no conditions always match); a firing rule with
//!   `stop` ends the walk. Every condition sees the conversation as it was when the event
//!   fired: the actions of an earlier rule do not change what a later rule's conditions see.
//! - Which ops fit which field is [`Field::ops`]. `is`/`is_not`/`contains`/`starts_with`/
//!   `ends_with` take a string, `in`/`not_in`/`contains_any` a non-empty list of strings,
//!   `is_set`/`is_not_set` no value, and `open`/`closed` (only `business_hours`) a calendar id.
//! - Every text comparison ignores case (Unicode lowercase) and surrounding whitespace.
//! - A missing value (no team, no owner, no e-mail, no message) equals nothing: `is`, `in`,
//!   `contains`, `starts_with`, `ends_with` are false and `is_not`, `not_in` true.
//! - `owner` is an agent's e-mail, or `"none"` (no owner) or `"anyone"` (some owner), also
//!   inside `in`/`not_in` lists; `is_set` is the same as `is "anyone"`, `is_not_set` as
//!   `is "none"`.
//! - `contact.email ends_with`: a value with an `@` is a plain suffix of the address
//!   (`"@bigcorp.com"` matches `x@bigcorp.com`, not `x@eu.bigcorp.com`); a bare domain
//!   (`"bigcorp.com"`) matches the domain and its subdomains (`x@bigcorp.com`,
//!   `x@eu.bigcorp.com`) but not `x@notbigcorp.com`; a leading dot (`".bigcorp.com"`) only the
//!   subdomains. `contains` and `starts_with` are plain substring tests.
//! - `labels`: `contains` one label, `contains_any` of a list, `not_in` none of a list,
//!   `is_set` some label, `is_not_set` no label; labels compare whole, ignoring case.
//! - `message.text`: `contains` a word or phrase and `contains_any` of a list match whole
//!   words (Unicode letters and digits): `"refund"` matches "Refund!" but not "refunded".
//!   Runs of whitespace count as one space, so a phrase matches across line breaks.
//!   `message.*` fields exist only on `conversation.created` and `message.created` rules, and
//!   `sla.metric` only on `sla.*` rules; elsewhere they are refused.
//! - `business_hours` is `open`/`closed` now by the calendar whose id is the value; the
//!   caller answers "open now?" ([`RuleContext::with_business_hours`]) so nothing here reads
//!   a clock. A calendar the caller does not know matches neither.
//! - Actions apply in order, a later one winning ([`apply_actions`]); labels are added
//!   unless present ignoring case and removed ignoring case. Messages and webhooks are side
//!   effects for the server to carry out.
//! - Templates know [`Placeholder::ALL`]; `{{contact.name}}` falls back to the handle and
//!   then to "there".

use crate::account::{validate_email, FieldError};
use crate::clock::{Metric, SlaState};
use crate::conversation::{ConversationSummary, ConversationView, Priority, MAX_LABEL_LEN};
use crate::duration::{badge_text, SlaDuration};
use crate::instant;
use crate::timeline::Author;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::fmt;

pub const MAX_RULE_NAME_LEN: usize = 200;
pub const MAX_CONDITIONS: usize = 50;
pub const MAX_ACTIONS: usize = 20;
/// Most entries in an `in`, `not_in` or `contains_any` list.
pub const MAX_VALUES: usize = 100;
/// Longest text of one condition value (an e-mail address is at most 254).
pub const MAX_VALUE_LEN: usize = 254;
pub const MAX_TEAM_LEN: usize = 100;
pub const MAX_TEMPLATE_LEN: usize = 4000;
pub const MAX_URL_LEN: usize = 2048;
pub const MAX_SECRET_LEN: usize = 256;
/// How much of a message text an explanation shows.
const SEEN_TEXT_CHARS: usize = 200;

// ---------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------

/// The event a rule listens to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RuleEvent {
    #[serde(rename = "conversation.created")]
    ConversationCreated,
    #[serde(rename = "message.created")]
    MessageCreated,
    #[serde(rename = "conversation.updated")]
    ConversationUpdated,
    /// A clock turned to "running out".
    #[serde(rename = "sla.warning")]
    SlaWarning,
    /// A clock passed its deadline.
    #[serde(rename = "sla.breached")]
    SlaBreached,
    /// A clock has been breached for the rule's `after` (an escalation level).
    #[serde(rename = "sla.overdue")]
    SlaOverdue,
}

impl RuleEvent {
    pub const ALL: [RuleEvent; 6] = [
        RuleEvent::ConversationCreated,
        RuleEvent::MessageCreated,
        RuleEvent::ConversationUpdated,
        RuleEvent::SlaWarning,
        RuleEvent::SlaBreached,
        RuleEvent::SlaOverdue,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RuleEvent::ConversationCreated => "conversation.created",
            RuleEvent::MessageCreated => "message.created",
            RuleEvent::ConversationUpdated => "conversation.updated",
            RuleEvent::SlaWarning => "sla.warning",
            RuleEvent::SlaBreached => "sla.breached",
            RuleEvent::SlaOverdue => "sla.overdue",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        RuleEvent::ALL.into_iter().find(|e| e.as_str() == s)
    }

    /// Whether the event is about an SLA clock (and so carries its metric).
    pub fn is_sla(self) -> bool {
        matches!(
            self,
            RuleEvent::SlaWarning | RuleEvent::SlaBreached | RuleEvent::SlaOverdue
        )
    }

    /// Whether the event can come with a message (`message.*` fields apply).
    pub fn has_message(self) -> bool {
        matches!(
            self,
            RuleEvent::ConversationCreated | RuleEvent::MessageCreated
        )
    }
}

impl fmt::Display for RuleEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An event that happened, as rules are run for it; JSON
/// `{"event": "sla.overdue", "metric": "first_response", "after": "30m"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "event")]
pub enum FiredEvent {
    #[serde(rename = "conversation.created")]
    ConversationCreated,
    #[serde(rename = "message.created")]
    MessageCreated,
    #[serde(rename = "conversation.updated")]
    ConversationUpdated,
    #[serde(rename = "sla.warning")]
    SlaWarning { metric: Metric },
    #[serde(rename = "sla.breached")]
    SlaBreached { metric: Metric },
    /// The clock of `metric` has been breached for `after` (wall-clock time).
    #[serde(rename = "sla.overdue")]
    SlaOverdue { metric: Metric, after: SlaDuration },
}

impl FiredEvent {
    pub fn kind(&self) -> RuleEvent {
        match self {
            FiredEvent::ConversationCreated => RuleEvent::ConversationCreated,
            FiredEvent::MessageCreated => RuleEvent::MessageCreated,
            FiredEvent::ConversationUpdated => RuleEvent::ConversationUpdated,
            FiredEvent::SlaWarning { .. } => RuleEvent::SlaWarning,
            FiredEvent::SlaBreached { .. } => RuleEvent::SlaBreached,
            FiredEvent::SlaOverdue { .. } => RuleEvent::SlaOverdue,
        }
    }

    /// The metric of an SLA event.
    pub fn metric(&self) -> Option<Metric> {
        match *self {
            FiredEvent::SlaWarning { metric }
            | FiredEvent::SlaBreached { metric }
            | FiredEvent::SlaOverdue { metric, .. } => Some(metric),
            _ => None,
        }
    }

    /// The overdue level of an `sla.overdue` event.
    pub fn after(&self) -> Option<SlaDuration> {
        match *self {
            FiredEvent::SlaOverdue { after, .. } => Some(after),
            _ => None,
        }
    }

    /// The event `rule` listens to, for its dry run; `metric` is used by SLA events.
    pub fn for_rule(rule: &RuleDefinition, metric: Metric) -> FiredEvent {
        match rule.event {
            RuleEvent::ConversationCreated => FiredEvent::ConversationCreated,
            RuleEvent::MessageCreated => FiredEvent::MessageCreated,
            RuleEvent::ConversationUpdated => FiredEvent::ConversationUpdated,
            RuleEvent::SlaWarning => FiredEvent::SlaWarning { metric },
            RuleEvent::SlaBreached => FiredEvent::SlaBreached { metric },
            RuleEvent::SlaOverdue => FiredEvent::SlaOverdue {
                metric,
                after: rule.after.unwrap_or_default(),
            },
        }
    }
}

// ---------------------------------------------------------------------------------------
// Conditions
// ---------------------------------------------------------------------------------------

/// What a condition looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Field {
    #[serde(rename = "channel")]
    Channel,
    #[serde(rename = "visibility")]
    Visibility,
    #[serde(rename = "priority")]
    Priority,
    #[serde(rename = "status")]
    Status,
    #[serde(rename = "team")]
    Team,
    /// The assigned agent's e-mail.
    #[serde(rename = "owner")]
    Owner,
    #[serde(rename = "labels")]
    Labels,
    #[serde(rename = "contact.email")]
    ContactEmail,
    #[serde(rename = "contact.name")]
    ContactName,
    /// The text of the message that fired the event.
    #[serde(rename = "message.text")]
    MessageText,
    #[serde(rename = "message.author")]
    MessageAuthor,
    /// Open or closed now by a business-hours calendar.
    #[serde(rename = "business_hours")]
    BusinessHours,
    /// The metric of an SLA event.
    #[serde(rename = "sla.metric")]
    SlaMetric,
}

/// How a condition compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Is,
    IsNot,
    In,
    NotIn,
    Contains,
    ContainsAny,
    StartsWith,
    EndsWith,
    IsSet,
    IsNotSet,
    Open,
    Closed,
}

/// The shape of value an op takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// No value (`is_set`, `is_not_set`).
    None,
    /// One string.
    Text,
    /// A non-empty list of strings.
    List,
    /// A calendar id (`open`, `closed`).
    Calendar,
}

const ENUM_OPS: &[Op] = &[Op::Is, Op::IsNot, Op::In, Op::NotIn];
const OPTIONAL_OPS: &[Op] = &[
    Op::Is,
    Op::IsNot,
    Op::In,
    Op::NotIn,
    Op::IsSet,
    Op::IsNotSet,
];
const TEXT_OPS: &[Op] = &[
    Op::Is,
    Op::IsNot,
    Op::In,
    Op::NotIn,
    Op::Contains,
    Op::StartsWith,
    Op::EndsWith,
    Op::IsSet,
    Op::IsNotSet,
];
const LABEL_OPS: &[Op] = &[
    Op::Contains,
    Op::ContainsAny,
    Op::NotIn,
    Op::IsSet,
    Op::IsNotSet,
];
const WORD_OPS: &[Op] = &[Op::Contains, Op::ContainsAny];
const HOURS_OPS: &[Op] = &[Op::Open, Op::Closed];

// In declaration order of their enums: a value's position is the enum's discriminant.
const CHANNELS: &[&str] = &[
    "whatsapp",
    "messenger",
    "instagram",
    "twitter",
    "email",
    "webchat",
    "sms",
];
const VISIBILITIES: &[&str] = &["public", "direct"];
const PRIORITIES: &[&str] = &["low", "normal", "high", "urgent"];
const STATUSES: &[&str] = &["open", "pending", "snoozed", "resolved"];
const AUTHORS: &[&str] = &["customer", "agent", "bot", "system"];
const METRICS: &[&str] = &["first_response", "next_response", "resolution"];

impl Field {
    pub const ALL: [Field; 13] = [
        Field::Channel,
        Field::Visibility,
        Field::Priority,
        Field::Status,
        Field::Team,
        Field::Owner,
        Field::Labels,
        Field::ContactEmail,
        Field::ContactName,
        Field::MessageText,
        Field::MessageAuthor,
        Field::BusinessHours,
        Field::SlaMetric,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Field::Channel => "channel",
            Field::Visibility => "visibility",
            Field::Priority => "priority",
            Field::Status => "status",
            Field::Team => "team",
            Field::Owner => "owner",
            Field::Labels => "labels",
            Field::ContactEmail => "contact.email",
            Field::ContactName => "contact.name",
            Field::MessageText => "message.text",
            Field::MessageAuthor => "message.author",
            Field::BusinessHours => "business_hours",
            Field::SlaMetric => "sla.metric",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Field::ALL.into_iter().find(|f| f.as_str() == s)
    }

    /// The ops that fit the field, for validation and for the editor's op picker.
    pub fn ops(self) -> &'static [Op] {
        match self {
            Field::Channel
            | Field::Visibility
            | Field::Priority
            | Field::Status
            | Field::MessageAuthor
            | Field::SlaMetric => ENUM_OPS,
            Field::Team | Field::Owner => OPTIONAL_OPS,
            Field::ContactEmail | Field::ContactName => TEXT_OPS,
            Field::Labels => LABEL_OPS,
            Field::MessageText => WORD_OPS,
            Field::BusinessHours => HOURS_OPS,
        }
    }

    /// The values of a field with a fixed set (for pickers); `None` for free text. `owner`
    /// also takes `"none"` and `"anyone"` besides e-mails.
    pub fn choices(self) -> Option<&'static [&'static str]> {
        match self {
            Field::Channel => Some(CHANNELS),
            Field::Visibility => Some(VISIBILITIES),
            Field::Priority => Some(PRIORITIES),
            Field::Status => Some(STATUSES),
            Field::MessageAuthor => Some(AUTHORS),
            Field::SlaMetric => Some(METRICS),
            _ => None,
        }
    }

    /// Whether the field means something on `event`: `message.*` needs an event that
    /// comes with a message, `sla.metric` an SLA event.
    pub fn applies_to(self, event: RuleEvent) -> bool {
        match self {
            Field::MessageText | Field::MessageAuthor => event.has_message(),
            Field::SlaMetric => event.is_sla(),
            _ => true,
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Op {
    pub const ALL: [Op; 12] = [
        Op::Is,
        Op::IsNot,
        Op::In,
        Op::NotIn,
        Op::Contains,
        Op::ContainsAny,
        Op::StartsWith,
        Op::EndsWith,
        Op::IsSet,
        Op::IsNotSet,
        Op::Open,
        Op::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Is => "is",
            Op::IsNot => "is_not",
            Op::In => "in",
            Op::NotIn => "not_in",
            Op::Contains => "contains",
            Op::ContainsAny => "contains_any",
            Op::StartsWith => "starts_with",
            Op::EndsWith => "ends_with",
            Op::IsSet => "is_set",
            Op::IsNotSet => "is_not_set",
            Op::Open => "open",
            Op::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Op::ALL.into_iter().find(|o| o.as_str() == s)
    }

    pub fn value_kind(self) -> ValueKind {
        match self {
            Op::Is | Op::IsNot | Op::Contains | Op::StartsWith | Op::EndsWith => ValueKind::Text,
            Op::In | Op::NotIn | Op::ContainsAny => ValueKind::List,
            Op::IsSet | Op::IsNotSet => ValueKind::None,
            Op::Open | Op::Closed => ValueKind::Calendar,
        }
    }

    fn negates(self) -> bool {
        matches!(self, Op::IsNot | Op::NotIn)
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A condition's value as written (trimmed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ConditionValue {
    Calendar(i64),
    Text(String),
    List(Vec<String>),
}

/// One condition: `{"field": "priority", "op": "in", "value": ["high", "urgent"]}`.
///
/// Built only by [`parse_rule`], which also compiles it into a test that needs no
/// allocation to run (values lowercased, enum values as a bit set).
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub field: Field,
    pub op: Op,
    pub value: Option<ConditionValue>,
    test: Test,
}

/// A condition compiled for evaluation; text is lowercased (and, for words, whitespace
/// collapsed) at parse time.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Test {
    /// An enum field's value is in the set of bits (one per variant), or with `negate` not.
    Enum {
        mask: u16,
        negate: bool,
    },
    /// An optional text field equals one of `values`, or is set (`when_set`), or is unset
    /// (`when_unset`); with `negate` the opposite.
    OneOf {
        values: Vec<String>,
        when_set: bool,
        when_unset: bool,
        negate: bool,
    },
    Contains(String),
    StartsWith(String),
    EndsWith(String),
    /// The e-mail's domain is this domain or a subdomain (a leading dot: only subdomains).
    Domain(String),
    /// Some label is among `values`, or with `none_of` no label is.
    Labels {
        values: Vec<String>,
        none_of: bool,
    },
    /// The conversation has some label (`true`) or none (`false`).
    HasLabels(bool),
    /// The message contains one of these words or phrases at word boundaries.
    Words(Vec<String>),
    BusinessHours {
        calendar: i64,
        open: bool,
    },
}

impl Serialize for Condition {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Record<'a> {
            field: Field,
            op: Op,
            #[serde(skip_serializing_if = "Option::is_none")]
            value: &'a Option<ConditionValue>,
        }
        Record {
            field: self.field,
            op: self.op,
            value: &self.value,
        }
        .serialize(serializer)
    }
}

impl Condition {
    /// Whether the condition holds for `event` on the conversation of `ctx`.
    pub fn matches(&self, event: &FiredEvent, ctx: &RuleContext<'_>) -> bool {
        match &self.test {
            Test::Enum { mask, negate } => {
                let hit = ctx
                    .enum_index(self.field, event)
                    .is_some_and(|i| mask & (1 << i) != 0);
                hit != *negate
            }
            Test::OneOf {
                values,
                when_set,
                when_unset,
                negate,
            } => {
                let hit = match ctx.text(self.field) {
                    None => *when_unset,
                    Some(v) => *when_set || values.iter().any(|x| x == v),
                };
                hit != *negate
            }
            Test::Contains(needle) => ctx
                .text(self.field)
                .is_some_and(|v| v.contains(needle.as_str())),
            Test::StartsWith(prefix) => ctx
                .text(self.field)
                .is_some_and(|v| v.starts_with(prefix.as_str())),
            Test::EndsWith(suffix) => ctx
                .text(self.field)
                .is_some_and(|v| v.ends_with(suffix.as_str())),
            Test::Domain(domain) => ctx.text(self.field).is_some_and(|v| in_domain(v, domain)),
            Test::Labels { values, none_of } => {
                let any = ctx
                    .labels
                    .iter()
                    .any(|l| values.iter().any(|v| v == l.as_ref()));
                any != *none_of
            }
            Test::HasLabels(some) => ctx.labels.is_empty() != *some,
            Test::Words(words) => ctx
                .text
                .as_deref()
                .is_some_and(|t| words.iter().any(|w| contains_word(t, w))),
            Test::BusinessHours { calendar, open } => {
                (ctx.business_hours)(*calendar) == Some(*open)
            }
        }
    }
}

/// Whether the e-mail's domain is `domain` or a subdomain of it; a `domain` with a leading
/// dot matches only subdomains.
fn in_domain(email: &str, domain: &str) -> bool {
    let Some((_, host)) = email.rsplit_once('@') else {
        return false;
    };
    if domain.starts_with('.') {
        return host.ends_with(domain);
    }
    host == domain
        || (host.len() > domain.len()
            && host.ends_with(domain)
            && host.as_bytes()[host.len() - domain.len() - 1] == b'.')
}

/// Whether normalised `text` contains normalised `word` with no letter or digit right
/// before or after it (a word edge that is itself punctuation needs no boundary).
fn contains_word(text: &str, word: &str) -> bool {
    let Some(first) = word.chars().next() else {
        return false;
    };
    let needs_start = first.is_alphanumeric();
    let needs_end = word.chars().next_back().is_some_and(char::is_alphanumeric);
    let mut from = 0;
    while let Some(found) = text[from..].find(word) {
        let start = from + found;
        let end = start + word.len();
        let start_ok = !needs_start
            || !text[..start]
                .chars()
                .next_back()
                .is_some_and(char::is_alphanumeric);
        let end_ok = !needs_end
            || !text[end..]
                .chars()
                .next()
                .is_some_and(char::is_alphanumeric);
        if start_ok && end_ok {
            return true;
        }
        // Overlapping occurrences count too: search again from the next character.
        from = start + first.len_utf8();
    }
    false
}

/// Lowercase, with runs of whitespace as one space and none at the ends; applied alike to
/// message texts and to the words rules look for.
fn normalize_words(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for part in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(part.chars().flat_map(char::to_lowercase));
    }
    out
}

/// Trimmed and lowercased; borrowed when already lowercase. `None` when empty.
fn lower(s: &str) -> Option<Cow<'_, str>> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let is_lower = s.chars().all(|c| {
        let mut l = c.to_lowercase();
        l.next() == Some(c) && l.next().is_none()
    });
    Some(if is_lower {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.chars().flat_map(char::to_lowercase).collect())
    })
}

fn lowercase(s: &str) -> String {
    s.trim().chars().flat_map(char::to_lowercase).collect()
}

// ---------------------------------------------------------------------------------------
// Actions and templates
// ---------------------------------------------------------------------------------------

/// What a firing rule does; JSON tagged by `type`, e.g. `{"type": "apply_policy", "policy": 12}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Action {
    ApplyPolicy {
        policy: i64,
    },
    SetPriority {
        priority: Priority,
    },
    AddLabel {
        label: String,
    },
    RemoveLabel {
        label: String,
    },
    AssignTeam {
        team: String,
    },
    /// Assigns the agent with this e-mail (lowercase).
    AssignOwner {
        owner: String,
    },
    /// The conversation returns to the queue.
    RemoveOwner,
    /// A system message to the customer.
    SendMessage {
        template: Template,
    },
    /// A signed JSON POST; the server signs, sends and retries.
    Webhook {
        url: String,
        secret: String,
    },
}

impl Action {
    pub const TYPES: [&'static str; 9] = [
        "apply_policy",
        "set_priority",
        "add_label",
        "remove_label",
        "assign_team",
        "assign_owner",
        "remove_owner",
        "send_message",
        "webhook",
    ];
}

/// A value a message template can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Placeholder {
    /// The contact's name, else their handle, else "there".
    ContactName,
    ContactEmail,
    ConversationId,
    /// The conversation's page: `{base}/conversations/{id}`.
    ConversationLink,
    /// The clock's metric in words: "first response", "next response", "resolution".
    SlaMetric,
    /// Badge text of the time to the deadline: "12m", "-5m" when overdue.
    SlaDueIn,
}

impl Placeholder {
    pub const ALL: [Placeholder; 6] = [
        Placeholder::ContactName,
        Placeholder::ContactEmail,
        Placeholder::ConversationId,
        Placeholder::ConversationLink,
        Placeholder::SlaMetric,
        Placeholder::SlaDueIn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Placeholder::ContactName => "contact.name",
            Placeholder::ContactEmail => "contact.email",
            Placeholder::ConversationId => "conversation.id",
            Placeholder::ConversationLink => "conversation.link",
            Placeholder::SlaMetric => "sla.metric",
            Placeholder::SlaDueIn => "sla.due_in",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Placeholder::ALL.into_iter().find(|p| p.as_str() == s)
    }

    fn known() -> String {
        Placeholder::ALL
            .iter()
            .map(|p| format!("{{{{{}}}}}", p.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Value(Placeholder),
}

/// A message template such as "Hi {{contact.name}}, we answer within {{sla.due_in}}.";
/// parsed once, so rendering only fills in values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    source: String,
    parts: Vec<Part>,
}

impl Template {
    /// Parses a template: `{{name}}` (spaces inside the braces allowed) must name one of
    /// [`Placeholder::ALL`]; a single brace is text.
    pub fn parse(source: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut unknown = Vec::new();
        let mut rest = source;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_string()));
            }
            let inner = &rest[open + 2..];
            let Some(close) = inner.find("}}") else {
                return Err("has a {{ without a closing }}".into());
            };
            let name = inner[..close].trim();
            match Placeholder::parse(name) {
                Some(p) => parts.push(Part::Value(p)),
                None => unknown.push(format!("{{{{{name}}}}}")),
            }
            rest = &inner[close + 2..];
        }
        if !unknown.is_empty() {
            return Err(format!(
                "{} {} not known; use {}",
                unknown.join(", "),
                if unknown.len() == 1 { "is" } else { "are" },
                Placeholder::known()
            ));
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(Template {
            source: source.to_string(),
            parts,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The placeholders the template uses, in order.
    pub fn placeholders(&self) -> impl Iterator<Item = Placeholder> + '_ {
        self.parts.iter().filter_map(|p| match p {
            Part::Value(v) => Some(*v),
            Part::Text(_) => None,
        })
    }

    /// The text with every placeholder filled in from `env`; a value that is not known
    /// (no e-mail, no SLA clock) is empty.
    pub fn render(&self, env: &ActionEnv<'_>) -> String {
        let mut out = String::with_capacity(self.source.len() + 32);
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Value(p) => out.push_str(&env.value_of(*p)),
            }
        }
        out
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl TryFrom<String> for Template {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Template::parse(&s)
    }
}

impl Serialize for Template {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.source)
    }
}

impl<'de> Deserialize<'de> for Template {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Template::parse(&s).map_err(serde::de::Error::custom)
    }
}

fn metric_words(metric: Metric) -> &'static str {
    match metric {
        Metric::FirstResponse => "first response",
        Metric::NextResponse => "next response",
        Metric::Resolution => "resolution",
    }
}

// ---------------------------------------------------------------------------------------
// Rules
// ---------------------------------------------------------------------------------------

/// How a rule combines its conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Match {
    #[default]
    All,
    Any,
}

/// A rule as an admin writes it (its id and order are the store's). Built by [`parse_rule`];
/// deserializing runs the same validation, without checking that policies and calendars
/// exist (a stored rule keeps loading after its policy is deleted).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleDefinition {
    pub name: String,
    pub enabled: bool,
    pub event: RuleEvent,
    /// The overdue level of an `sla.overdue` rule; `None` for every other event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<SlaDuration>,
    #[serde(rename = "match")]
    pub matching: Match,
    pub conditions: Vec<Condition>,
    pub actions: Vec<Action>,
    /// A firing rule with `stop` ends the walk: later rules do not run.
    pub stop: bool,
}

impl<'de> Deserialize<'de> for RuleDefinition {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        parse_rule(&value, |_| true, |_| true).map_err(|errors| {
            let text: Vec<String> = errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect();
            serde::de::Error::custom(format!("invalid rule: {}", text.join("; ")))
        })
    }
}

impl RuleDefinition {
    /// Whether the rule runs for `event` (ignoring `enabled`): the same event, and for
    /// `sla.overdue` the same level.
    pub fn listens_to(&self, event: &FiredEvent) -> bool {
        self.event == event.kind()
            && (self.event != RuleEvent::SlaOverdue || self.after == event.after())
    }

    /// Whether the conditions hold (`all` or `any`; no conditions always hold).
    pub fn conditions_match(&self, event: &FiredEvent, ctx: &RuleContext<'_>) -> bool {
        if self.conditions.is_empty() {
            return true;
        }
        match self.matching {
            Match::All => self.conditions.iter().all(|c| c.matches(event, ctx)),
            Match::Any => self.conditions.iter().any(|c| c.matches(event, ctx)),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------

const RULE_KEYS: &[&str] = &[
    "name",
    "enabled",
    "event",
    "after",
    "match",
    "conditions",
    "actions",
    "stop",
];

/// Validates a rule's JSON. `known_policy` and `known_calendar` say whether an id exists.
/// Every problem is reported, each with the path of the offending part.
pub fn parse_rule(
    json: &Value,
    known_policy: impl Fn(i64) -> bool,
    known_calendar: impl Fn(i64) -> bool,
) -> Result<RuleDefinition, Vec<FieldError>> {
    let Some(obj) = json.as_object() else {
        return Err(vec![FieldError::new("", "a rule must be a JSON object")]);
    };
    let mut errors = Vec::new();
    for key in obj.keys() {
        if !RULE_KEYS.contains(&key.as_str()) {
            errors.push(FieldError::new(key.as_str(), "is not a known field"));
        }
    }
    let name = match obj.get("name") {
        Some(Value::String(s)) if s.trim().is_empty() => {
            errors.push(FieldError::new("name", "is required"));
            String::new()
        }
        Some(Value::String(s)) if s.trim().chars().count() > MAX_RULE_NAME_LEN => {
            errors.push(FieldError::new(
                "name",
                format!("must be at most {MAX_RULE_NAME_LEN} characters"),
            ));
            String::new()
        }
        Some(Value::String(s)) => s.trim().to_string(),
        None | Some(Value::Null) => {
            errors.push(FieldError::new("name", "is required"));
            String::new()
        }
        Some(_) => {
            errors.push(FieldError::new("name", "must be a string"));
            String::new()
        }
    };
    let enabled = boolean(obj, "enabled", "", true, &mut errors);
    let stop = boolean(obj, "stop", "", false, &mut errors);
    let matching = match obj.get("match") {
        None | Some(Value::Null) => Match::All,
        Some(Value::String(s)) if s == "all" => Match::All,
        Some(Value::String(s)) if s == "any" => Match::Any,
        Some(_) => {
            errors.push(FieldError::new("match", "must be \"all\" or \"any\""));
            Match::All
        }
    };
    let events = || {
        RuleEvent::ALL
            .iter()
            .map(|e| e.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let event = match obj.get("event") {
        Some(Value::String(s)) => RuleEvent::parse(s).or_else(|| {
            errors.push(FieldError::new(
                "event",
                format!("{s:?} is not one of: {}", events()),
            ));
            None
        }),
        None | Some(Value::Null) => {
            errors.push(FieldError::new("event", "is required"));
            None
        }
        Some(_) => {
            errors.push(FieldError::new(
                "event",
                format!("must be one of: {}", events()),
            ));
            None
        }
    };
    let after = match obj.get("after").filter(|v| !v.is_null()) {
        None => {
            if event == Some(RuleEvent::SlaOverdue) {
                errors.push(FieldError::new(
                    "after",
                    "is required for sla.overdue rules (how long after the breach, e.g. \"30m\")",
                ));
            }
            None
        }
        Some(_) if event.is_some_and(|e| e != RuleEvent::SlaOverdue) => {
            errors.push(FieldError::new(
                "after",
                "only sla.overdue rules have an after",
            ));
            None
        }
        Some(v) => match serde_json::from_value::<SlaDuration>(v.clone()) {
            Ok(d) if d.as_secs() > 0 => Some(d),
            Ok(_) => {
                errors.push(FieldError::new("after", "must be longer than zero"));
                None
            }
            Err(e) => {
                errors.push(FieldError::new("after", e.to_string()));
                None
            }
        },
    };
    let conditions = match obj.get("conditions") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) if items.len() > MAX_CONDITIONS => {
            errors.push(FieldError::new(
                "conditions",
                format!("at most {MAX_CONDITIONS} conditions"),
            ));
            Vec::new()
        }
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                parse_condition(
                    c,
                    &format!("conditions[{i}]"),
                    event,
                    &known_calendar,
                    &mut errors,
                )
            })
            .collect(),
        Some(_) => {
            errors.push(FieldError::new(
                "conditions",
                "must be a list of conditions",
            ));
            Vec::new()
        }
    };
    let actions = match obj.get("actions") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) if items.len() > MAX_ACTIONS => {
            errors.push(FieldError::new(
                "actions",
                format!("at most {MAX_ACTIONS} actions"),
            ));
            Vec::new()
        }
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .filter_map(|(i, a)| {
                parse_action(a, &format!("actions[{i}]"), &known_policy, &mut errors)
            })
            .collect(),
        Some(_) => {
            errors.push(FieldError::new("actions", "must be a list of actions"));
            Vec::new()
        }
    };
    let no_actions = match obj.get("actions") {
        Some(Value::Array(items)) => items.is_empty(),
        Some(Value::Null) | None => true,
        Some(_) => false,
    };
    if no_actions && !stop {
        errors.push(FieldError::new(
            "actions",
            "a rule needs at least one action (or \"stop\": true)",
        ));
    }
    match event {
        Some(event) if errors.is_empty() => Ok(RuleDefinition {
            name,
            enabled,
            event,
            after,
            matching,
            conditions,
            actions,
            stop,
        }),
        _ => Err(errors),
    }
}

fn boolean(
    obj: &Map<String, Value>,
    key: &str,
    path: &str,
    default: bool,
    errors: &mut Vec<FieldError>,
) -> bool {
    match obj.get(key) {
        None | Some(Value::Null) => default,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            errors.push(FieldError::new(join(path, key), "must be true or false"));
            default
        }
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn parse_condition(
    value: &Value,
    path: &str,
    event: Option<RuleEvent>,
    known_calendar: &impl Fn(i64) -> bool,
    errors: &mut Vec<FieldError>,
) -> Option<Condition> {
    let Some(obj) = value.as_object() else {
        errors.push(FieldError::new(
            path,
            "must be an object with field, op and value",
        ));
        return None;
    };
    for key in obj.keys() {
        if !["field", "op", "value"].contains(&key.as_str()) {
            errors.push(FieldError::new(
                format!("{path}.{key}"),
                "is not a known field",
            ));
        }
    }
    let fpath = format!("{path}.field");
    let field = match obj.get("field") {
        Some(Value::String(s)) => Field::parse(s).or_else(|| {
            errors.push(FieldError::new(
                &fpath,
                format!("{s:?} is not a field; use one of: {}", list(&Field::ALL)),
            ));
            None
        }),
        None | Some(Value::Null) => {
            errors.push(FieldError::new(&fpath, "is required"));
            None
        }
        Some(_) => {
            errors.push(FieldError::new(&fpath, "must be a string"));
            None
        }
    };
    let opath = format!("{path}.op");
    let op = match obj.get("op") {
        Some(Value::String(s)) => Op::parse(s).or_else(|| {
            errors.push(FieldError::new(
                &opath,
                format!("{s:?} is not an operator; use one of: {}", list(&Op::ALL)),
            ));
            None
        }),
        None | Some(Value::Null) => {
            errors.push(FieldError::new(&opath, "is required"));
            None
        }
        Some(_) => {
            errors.push(FieldError::new(&opath, "must be a string"));
            None
        }
    };
    let field = field?;
    if let Some(event) = event.filter(|e| !field.applies_to(*e)) {
        let only = if field == Field::SlaMetric {
            "sla.warning, sla.breached and sla.overdue"
        } else {
            "conversation.created and message.created"
        };
        errors.push(FieldError::new(
            &fpath,
            format!("{field} is not known on {event} rules, only on {only} rules"),
        ));
    }
    let op = op?;
    if !field.ops().contains(&op) {
        errors.push(FieldError::new(
            &opath,
            format!(
                "{op} does not apply to {field}; use one of: {}",
                list(field.ops())
            ),
        ));
        return None;
    }
    let vpath = format!("{path}.value");
    let raw = obj.get("value").filter(|v| !v.is_null());
    let value = match op.value_kind() {
        ValueKind::None => {
            if raw.is_some() {
                errors.push(FieldError::new(&vpath, format!("{op} takes no value")));
                return None;
            }
            None
        }
        ValueKind::Text => match raw {
            None => {
                errors.push(FieldError::new(&vpath, "is required"));
                return None;
            }
            Some(Value::String(s)) => Some(ConditionValue::Text(text_value(s, &vpath, errors)?)),
            Some(_) => {
                errors.push(FieldError::new(&vpath, format!("{op} takes a string")));
                return None;
            }
        },
        ValueKind::List => match raw {
            None => {
                errors.push(FieldError::new(&vpath, "is required"));
                return None;
            }
            Some(Value::Array(items)) if items.is_empty() => {
                errors.push(FieldError::new(&vpath, "needs at least one value"));
                return None;
            }
            Some(Value::Array(items)) if items.len() > MAX_VALUES => {
                errors.push(FieldError::new(
                    &vpath,
                    format!("at most {MAX_VALUES} values"),
                ));
                return None;
            }
            Some(Value::Array(items)) => {
                let before = errors.len();
                let mut out = Vec::with_capacity(items.len());
                for (j, item) in items.iter().enumerate() {
                    let ipath = format!("{vpath}[{j}]");
                    match item {
                        Value::String(s) => {
                            if let Some(s) = text_value(s, &ipath, errors) {
                                out.push(s);
                            }
                        }
                        _ => errors.push(FieldError::new(ipath, "must be a string")),
                    }
                }
                if errors.len() > before {
                    return None;
                }
                Some(ConditionValue::List(out))
            }
            Some(_) => {
                errors.push(FieldError::new(
                    &vpath,
                    format!("{op} takes a list of strings"),
                ));
                return None;
            }
        },
        ValueKind::Calendar => match raw.map(|v| (v, v.as_i64())) {
            None => {
                errors.push(FieldError::new(&vpath, "is required (a calendar id)"));
                return None;
            }
            Some((_, Some(id))) if known_calendar(id) => Some(ConditionValue::Calendar(id)),
            Some((_, Some(id))) => {
                errors.push(FieldError::new(
                    &vpath,
                    format!("calendar {id} does not exist"),
                ));
                return None;
            }
            Some(_) => {
                errors.push(FieldError::new(
                    &vpath,
                    "must be a calendar id (a whole number)",
                ));
                return None;
            }
        },
    };
    let test = compile(field, op, value.as_ref(), &vpath, errors)?;
    Some(Condition {
        field,
        op,
        value,
        test,
    })
}

fn list<T: fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn text_value(s: &str, path: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    let s = s.trim();
    if s.is_empty() {
        errors.push(FieldError::new(path, "must not be empty"));
        None
    } else if s.chars().count() > MAX_VALUE_LEN {
        errors.push(FieldError::new(
            path,
            format!("must be at most {MAX_VALUE_LEN} characters"),
        ));
        None
    } else {
        Some(s.to_string())
    }
}

/// Compiles a checked (field, op, value) into its test, or reports a value that does not
/// fit the field (an unknown priority, an owner that is not an e-mail).
fn compile(
    field: Field,
    op: Op,
    value: Option<&ConditionValue>,
    vpath: &str,
    errors: &mut Vec<FieldError>,
) -> Option<Test> {
    // Each text with its path: a single value is the value, a list item is `value[j]`.
    let texts: Vec<(String, &str)> = match value {
        Some(ConditionValue::Text(s)) => vec![(vpath.to_string(), s.as_str())],
        Some(ConditionValue::List(items)) => items
            .iter()
            .enumerate()
            .map(|(j, s)| (format!("{vpath}[{j}]"), s.as_str()))
            .collect(),
        _ => Vec::new(),
    };
    let first = || lowercase(texts.first().map_or("", |t| t.1));
    let test = match field {
        Field::Channel
        | Field::Visibility
        | Field::Priority
        | Field::Status
        | Field::MessageAuthor
        | Field::SlaMetric => {
            let choices = field.choices().unwrap_or_default();
            let mut mask = 0u16;
            let mut ok = true;
            for (path, s) in &texts {
                let wanted = lowercase(s);
                match choices.iter().position(|c| *c == wanted) {
                    Some(i) => mask |= 1 << i,
                    None => {
                        ok = false;
                        errors.push(FieldError::new(
                            path,
                            format!("{s:?} is not a {field}; use one of: {}", choices.join(", ")),
                        ));
                    }
                }
            }
            if !ok {
                return None;
            }
            Test::Enum {
                mask,
                negate: op.negates(),
            }
        }
        Field::Team | Field::Owner | Field::ContactEmail | Field::ContactName => match op {
            Op::Is | Op::IsNot | Op::In | Op::NotIn => {
                let mut values = Vec::with_capacity(texts.len());
                let (mut when_set, mut when_unset) = (false, false);
                let mut ok = true;
                for (path, s) in &texts {
                    let v = lowercase(s);
                    if field == Field::Owner {
                        match v.as_str() {
                            "none" => when_unset = true,
                            "anyone" => when_set = true,
                            _ => match validate_email(&v) {
                                Ok(email) => values.push(email),
                                Err(_) => {
                                    ok = false;
                                    errors.push(FieldError::new(
                                        path,
                                        format!(
                                            "{s:?} is not an agent's e-mail, \"none\" or \"anyone\""
                                        ),
                                    ));
                                }
                            },
                        }
                    } else {
                        values.push(v);
                    }
                }
                if !ok {
                    return None;
                }
                Test::OneOf {
                    values,
                    when_set,
                    when_unset,
                    negate: op.negates(),
                }
            }
            Op::IsSet | Op::IsNotSet => Test::OneOf {
                values: Vec::new(),
                when_set: op == Op::IsSet,
                when_unset: op == Op::IsNotSet,
                negate: false,
            },
            Op::Contains => Test::Contains(first()),
            Op::StartsWith => Test::StartsWith(first()),
            Op::EndsWith if field == Field::ContactEmail && !first().contains('@') => {
                Test::Domain(first())
            }
            Op::EndsWith => Test::EndsWith(first()),
            _ => return None,
        },
        Field::Labels => match op {
            Op::Contains | Op::ContainsAny | Op::NotIn => Test::Labels {
                values: texts.iter().map(|(_, s)| lowercase(s)).collect(),
                none_of: op == Op::NotIn,
            },
            Op::IsSet => Test::HasLabels(true),
            Op::IsNotSet => Test::HasLabels(false),
            _ => return None,
        },
        Field::MessageText => Test::Words(texts.iter().map(|(_, s)| normalize_words(s)).collect()),
        Field::BusinessHours => match value {
            Some(ConditionValue::Calendar(id)) => Test::BusinessHours {
                calendar: *id,
                open: op == Op::Open,
            },
            _ => return None,
        },
    };
    Some(test)
}

fn parse_action(
    value: &Value,
    path: &str,
    known_policy: &impl Fn(i64) -> bool,
    errors: &mut Vec<FieldError>,
) -> Option<Action> {
    let Some(obj) = value.as_object() else {
        errors.push(FieldError::new(path, "must be an object with a type"));
        return None;
    };
    let tpath = format!("{path}.type");
    let kind = match obj.get("type") {
        Some(Value::String(s)) if Action::TYPES.contains(&s.as_str()) => s.as_str(),
        Some(Value::String(s)) => {
            errors.push(FieldError::new(
                tpath,
                format!(
                    "{s:?} is not an action; use one of: {}",
                    Action::TYPES.join(", ")
                ),
            ));
            return None;
        }
        None | Some(Value::Null) => {
            errors.push(FieldError::new(tpath, "is required"));
            return None;
        }
        Some(_) => {
            errors.push(FieldError::new(tpath, "must be a string"));
            return None;
        }
    };
    let keys: &[&str] = match kind {
        "apply_policy" => &["policy"],
        "set_priority" => &["priority"],
        "add_label" | "remove_label" => &["label"],
        "assign_team" => &["team"],
        "assign_owner" => &["owner"],
        "send_message" => &["template"],
        "webhook" => &["url", "secret"],
        _ => &[],
    };
    for key in obj.keys() {
        if key != "type" && !keys.contains(&key.as_str()) {
            errors.push(FieldError::new(
                format!("{path}.{key}"),
                format!("is not a field of a {kind} action"),
            ));
        }
    }
    let string = |key: &str, max: usize, errors: &mut Vec<FieldError>| -> Option<String> {
        let kpath = format!("{path}.{key}");
        match obj.get(key) {
            Some(Value::String(s)) if s.trim().is_empty() => {
                errors.push(FieldError::new(kpath, "must not be empty"));
                None
            }
            Some(Value::String(s)) if s.chars().count() > max => {
                errors.push(FieldError::new(
                    kpath,
                    format!("must be at most {max} characters"),
                ));
                None
            }
            Some(Value::String(s)) => Some(s.clone()),
            None | Some(Value::Null) => {
                errors.push(FieldError::new(kpath, "is required"));
                None
            }
            Some(_) => {
                errors.push(FieldError::new(kpath, "must be a string"));
                None
            }
        }
    };
    match kind {
        "apply_policy" => {
            let ppath = format!("{path}.policy");
            match obj.get("policy").map(|v| (v, v.as_i64())) {
                Some((_, Some(id))) if known_policy(id) => Some(Action::ApplyPolicy { policy: id }),
                Some((_, Some(id))) => {
                    errors.push(FieldError::new(
                        ppath,
                        format!("policy {id} does not exist"),
                    ));
                    None
                }
                None | Some((Value::Null, _)) => {
                    errors.push(FieldError::new(ppath, "is required"));
                    None
                }
                Some(_) => {
                    errors.push(FieldError::new(
                        ppath,
                        "must be a policy id (a whole number)",
                    ));
                    None
                }
            }
        }
        "set_priority" => {
            let text = string("priority", MAX_VALUE_LEN, errors)?;
            match Priority::parse(&lowercase(&text)) {
                Some(priority) => Some(Action::SetPriority { priority }),
                None => {
                    errors.push(FieldError::new(
                        format!("{path}.priority"),
                        format!(
                            "{text:?} is not a priority; use one of: {}",
                            PRIORITIES.join(", ")
                        ),
                    ));
                    None
                }
            }
        }
        "add_label" | "remove_label" => {
            let label = string("label", MAX_LABEL_LEN, errors)?.trim().to_string();
            Some(if kind == "add_label" {
                Action::AddLabel { label }
            } else {
                Action::RemoveLabel { label }
            })
        }
        "assign_team" => Some(Action::AssignTeam {
            team: string("team", MAX_TEAM_LEN, errors)?.trim().to_string(),
        }),
        "assign_owner" => {
            let text = string("owner", MAX_VALUE_LEN, errors)?;
            match validate_email(&text) {
                Ok(owner) => Some(Action::AssignOwner { owner }),
                Err(_) => {
                    errors.push(FieldError::new(
                        format!("{path}.owner"),
                        "must be an agent's e-mail",
                    ));
                    None
                }
            }
        }
        "remove_owner" => Some(Action::RemoveOwner),
        "send_message" => {
            let text = string("template", MAX_TEMPLATE_LEN, errors)?;
            match Template::parse(&text) {
                Ok(template) => Some(Action::SendMessage { template }),
                Err(message) => {
                    errors.push(FieldError::new(format!("{path}.template"), message));
                    None
                }
            }
        }
        "webhook" => {
            let url = string("url", MAX_URL_LEN, errors).map(|u| u.trim().to_string());
            let url = url.filter(|u| {
                let ok = is_http_url(u);
                if !ok {
                    errors.push(FieldError::new(
                        format!("{path}.url"),
                        "must be an http:// or https:// URL",
                    ));
                }
                ok
            });
            let secret = string("secret", MAX_SECRET_LEN, errors);
            Some(Action::Webhook {
                url: url?,
                secret: secret?,
            })
        }
        _ => None,
    }
}

/// An absolute http(s) URL with a host and no whitespace.
fn is_http_url(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    let Some(rest) = rest else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    !host.is_empty()
        && !host.starts_with(':')
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

// ---------------------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------------------

/// The message that fired the event (for `message.*` conditions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TriggerMessage<'a> {
    pub author: Author,
    pub text: &'a str,
}

fn no_calendars(_: i64) -> Option<bool> {
    None
}

/// What rules see of a conversation when an event fires. Built once per event (it
/// lowercases the texts it compares once), then used for every rule.
pub struct RuleContext<'a> {
    conversation: &'a ConversationSummary,
    message: Option<TriggerMessage<'a>>,
    business_hours: &'a dyn Fn(i64) -> Option<bool>,
    email: Option<Cow<'a, str>>,
    name: Option<Cow<'a, str>>,
    team: Option<Cow<'a, str>>,
    owner: Option<Cow<'a, str>>,
    labels: Vec<Cow<'a, str>>,
    /// The message text, normalised as [`normalize_words`] does.
    text: Option<String>,
}

impl fmt::Debug for RuleContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuleContext")
            .field("conversation", self.conversation)
            .field("message", &self.message)
            .finish_non_exhaustive()
    }
}

impl<'a> RuleContext<'a> {
    /// A context with no message and no calendar known (`business_hours` matches neither).
    pub fn new(conversation: &'a ConversationSummary) -> Self {
        let opt = |s: &'a Option<String>| s.as_deref().and_then(lower);
        RuleContext {
            conversation,
            message: None,
            business_hours: &no_calendars,
            email: opt(&conversation.contact.email),
            name: opt(&conversation.contact.name),
            team: opt(&conversation.team),
            owner: opt(&conversation.owner),
            labels: conversation
                .labels
                .iter()
                .filter_map(|l| lower(l))
                .collect(),
            text: None,
        }
    }

    /// With the message that fired the event.
    pub fn with_message(mut self, author: Author, text: &'a str) -> Self {
        self.message = Some(TriggerMessage { author, text });
        self.text = Some(normalize_words(text));
        self
    }

    /// With the answer to "is calendar `id` open now?" (`None`: no such calendar), e.g.
    /// `&|id| calendars.get(&id).map(|c| c.is_open_at(now))`.
    pub fn with_business_hours(mut self, open_now: &'a dyn Fn(i64) -> Option<bool>) -> Self {
        self.business_hours = open_now;
        self
    }

    pub fn conversation(&self) -> &'a ConversationSummary {
        self.conversation
    }

    pub fn message(&self) -> Option<TriggerMessage<'a>> {
        self.message
    }

    /// The position of an enum field's value among [`Field::choices`].
    fn enum_index(&self, field: Field, event: &FiredEvent) -> Option<usize> {
        let c = self.conversation;
        match field {
            Field::Channel => Some(c.channel as usize),
            Field::Visibility => Some(c.visibility as usize),
            Field::Priority => Some(c.priority as usize),
            Field::Status => Some(c.status as usize),
            Field::MessageAuthor => self.message.map(|m| m.author as usize),
            Field::SlaMetric => event.metric().map(|m| m as usize),
            _ => None,
        }
    }

    /// A text field's value, lowercased.
    fn text(&self, field: Field) -> Option<&str> {
        match field {
            Field::Team => self.team.as_deref(),
            Field::Owner => self.owner.as_deref(),
            Field::ContactEmail => self.email.as_deref(),
            Field::ContactName => self.name.as_deref(),
            _ => None,
        }
    }

    /// The value a condition on `field` saw, as written in the conversation, for the dry run.
    fn seen(&self, field: Field, condition: &Condition, event: &FiredEvent) -> Value {
        let c = self.conversation;
        let text = |s: &Option<String>| {
            s.as_deref()
                .filter(|s| !s.trim().is_empty())
                .map_or(Value::Null, |s| Value::String(s.to_string()))
        };
        let word = |i: Option<usize>| match (i, field.choices()) {
            (Some(i), Some(choices)) => Value::String(choices[i].to_string()),
            _ => Value::Null,
        };
        match field {
            Field::Channel
            | Field::Visibility
            | Field::Priority
            | Field::Status
            | Field::MessageAuthor
            | Field::SlaMetric => word(self.enum_index(field, event)),
            Field::Team => text(&c.team),
            Field::Owner => text(&c.owner),
            Field::ContactEmail => text(&c.contact.email),
            Field::ContactName => text(&c.contact.name),
            Field::Labels => Value::from(c.labels.clone()),
            Field::MessageText => self.message.map_or(Value::Null, |m| {
                let mut shown: String = m.text.chars().take(SEEN_TEXT_CHARS).collect();
                if m.text.chars().nth(SEEN_TEXT_CHARS).is_some() {
                    shown.push('…');
                }
                Value::String(shown)
            }),
            Field::BusinessHours => match &condition.value {
                Some(ConditionValue::Calendar(id)) => match (self.business_hours)(*id) {
                    Some(true) => Value::from("open"),
                    Some(false) => Value::from("closed"),
                    None => Value::Null,
                },
                _ => Value::Null,
            },
        }
    }
}

/// A rule that fired, by its id.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fired<'r> {
    pub id: i64,
    pub rule: &'r RuleDefinition,
}

/// What the rules decided for one event: the rules that fired, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome<'r> {
    pub fired: Vec<Fired<'r>>,
    /// The firing rule whose `stop` ended the walk.
    pub stopped_by: Option<i64>,
}

impl<'r> Outcome<'r> {
    /// Every action to take, with its rule's id, in order.
    pub fn actions(&self) -> impl Iterator<Item = (i64, &'r Action)> + '_ {
        self.fired.iter().flat_map(|f| {
            let (id, rule): (i64, &'r RuleDefinition) = (f.id, f.rule);
            rule.actions.iter().map(move |a| (id, a))
        })
    }

    /// See [`apply_actions`].
    pub fn apply(&self, state: &ConversationState, env: &ActionEnv<'_>) -> Applied {
        apply_actions(state, &self.fired, env)
    }
}

/// Runs `rules` (id, rule; in order) for `event`: skips disabled rules and rules for other
/// events or overdue levels, fires those whose conditions match, and stops after a firing
/// rule with `stop`. Allocates only for the rules that fire.
pub fn evaluate<'r>(
    rules: &'r [(i64, RuleDefinition)],
    event: &FiredEvent,
    ctx: &RuleContext<'_>,
) -> Outcome<'r> {
    let mut outcome = Outcome::default();
    for (id, rule) in rules {
        if !rule.enabled || !rule.listens_to(event) || !rule.conditions_match(event, ctx) {
            continue;
        }
        outcome.fired.push(Fired { id: *id, rule });
        if rule.stop {
            outcome.stopped_by = Some(*id);
            break;
        }
    }
    outcome
}

/// One condition in a dry run: what it asked, what it saw, whether it matched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConditionCheck {
    pub field: Field,
    pub op: Op,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<ConditionValue>,
    /// The conversation's value (`null` when it has none; for `business_hours` "open" or
    /// "closed", `null` for an unknown calendar).
    pub seen: Value,
    pub matched: bool,
}

/// A rule's dry run against one conversation (`POST /api/v1/rules/{id}/test`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Explanation {
    pub event: FiredEvent,
    /// Whether the rule runs at all; the dry run explains a disabled rule as if enabled.
    pub enabled: bool,
    /// Whether the rule listens to `event` (and its overdue level).
    pub listens: bool,
    #[serde(rename = "match")]
    pub matching: Match,
    pub conditions: Vec<ConditionCheck>,
    pub conditions_match: bool,
    /// `listens` and `conditions_match` (whatever `enabled` says).
    pub would_fire: bool,
    /// The actions it would take (empty unless it would fire).
    pub actions: Vec<Action>,
    /// Whether it would stop later rules.
    pub stop: bool,
}

/// Explains `rule` for `event` on the conversation of `ctx`, changing nothing. Every
/// condition is checked and shown, also past the one that decided.
pub fn explain(rule: &RuleDefinition, event: &FiredEvent, ctx: &RuleContext<'_>) -> Explanation {
    let conditions: Vec<ConditionCheck> = rule
        .conditions
        .iter()
        .map(|c| ConditionCheck {
            field: c.field,
            op: c.op,
            value: c.value.clone(),
            seen: ctx.seen(c.field, c, event),
            matched: c.matches(event, ctx),
        })
        .collect();
    let conditions_match = conditions.is_empty()
        || match rule.matching {
            Match::All => conditions.iter().all(|c| c.matched),
            Match::Any => conditions.iter().any(|c| c.matched),
        };
    let listens = rule.listens_to(event);
    let would_fire = listens && conditions_match;
    Explanation {
        event: *event,
        enabled: rule.enabled,
        listens,
        matching: rule.matching,
        conditions,
        conditions_match,
        would_fire,
        actions: if would_fire {
            rule.actions.clone()
        } else {
            Vec::new()
        },
        stop: would_fire && rule.stop,
    }
}

// ---------------------------------------------------------------------------------------
// Applying actions
// ---------------------------------------------------------------------------------------

/// The part of a conversation that actions change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationState {
    pub priority: Priority,
    pub labels: Vec<String>,
    pub team: Option<String>,
    pub owner: Option<String>,
    pub policy: Option<i64>,
}

impl ConversationState {
    pub fn of(summary: &ConversationSummary, policy: Option<i64>) -> Self {
        ConversationState {
            priority: summary.priority,
            labels: summary.labels.clone(),
            team: summary.team.clone(),
            owner: summary.owner.clone(),
            policy,
        }
    }

    pub fn of_view(view: &ConversationView) -> Self {
        ConversationState::of(&view.summary, view.policy_id)
    }
}

/// The clock a message or webhook talks about: its metric and the wall-clock seconds to its
/// deadline (negative when overdue; `None` when not running).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaFacts {
    pub metric: Metric,
    pub due_in_s: Option<i64>,
}

impl SlaFacts {
    /// The clock of the event's metric, or for a non-SLA event the most urgent running one.
    pub fn pick(state: &SlaState, event: &FiredEvent) -> Option<SlaFacts> {
        let status = match event.metric() {
            Some(metric) => match state.metric(metric) {
                Some(s) => s,
                None => {
                    return Some(SlaFacts {
                        metric,
                        due_in_s: None,
                    })
                }
            },
            None => state.most_urgent()?,
        };
        Some(SlaFacts {
            metric: status.metric,
            due_in_s: status.remaining_s.filter(|_| status.state.is_running()),
        })
    }
}

/// What templates and webhook bodies are filled from; all supplied by the caller.
#[derive(Debug, Clone, Copy)]
pub struct ActionEnv<'a> {
    pub conversation_id: i64,
    pub conversation: &'a ConversationSummary,
    /// The public origin the conversation link starts with, e.g. `https://promptly.example`.
    pub link_base: &'a str,
    pub event: FiredEvent,
    /// When the event fired.
    pub at: DateTime<Utc>,
    pub sla: Option<SlaFacts>,
}

impl ActionEnv<'_> {
    pub fn conversation_link(&self) -> String {
        format!(
            "{}/conversations/{}",
            self.link_base.trim_end_matches('/'),
            self.conversation_id
        )
    }

    fn value_of(&self, placeholder: Placeholder) -> Cow<'_, str> {
        let contact = &self.conversation.contact;
        fn present(s: &Option<String>) -> Option<&str> {
            s.as_deref().map(str::trim).filter(|s| !s.is_empty())
        }
        match placeholder {
            Placeholder::ContactName => Cow::Borrowed(
                present(&contact.name)
                    .or_else(|| present(&contact.handle))
                    .unwrap_or("there"),
            ),
            Placeholder::ContactEmail => Cow::Borrowed(present(&contact.email).unwrap_or("")),
            Placeholder::ConversationId => Cow::Owned(self.conversation_id.to_string()),
            Placeholder::ConversationLink => Cow::Owned(self.conversation_link()),
            Placeholder::SlaMetric => {
                Cow::Borrowed(self.sla.map_or("", |s| metric_words(s.metric)))
            }
            Placeholder::SlaDueIn => self
                .sla
                .and_then(|s| s.due_in_s)
                .map_or(Cow::Borrowed(""), |s| Cow::Owned(badge_text(s))),
        }
    }
}

/// Something for the server to do after the rules ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SideEffect {
    /// Post a system message with this text to the customer.
    SendMessage { rule: i64, text: String },
    /// POST `body` (JSON) to `url`, signed with HMAC-SHA256 of `secret` over the body.
    Webhook {
        rule: i64,
        url: String,
        secret: String,
        body: String,
    },
}

/// The conversation after the actions, and what remains to be done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    pub state: ConversationState,
    pub effects: Vec<SideEffect>,
}

/// Applies the actions of the `fired` rules in order to `state` (a later action wins) and
/// lists the messages and webhooks to send, in action order. Webhook bodies show the
/// conversation as it is after all the actions.
pub fn apply_actions(
    state: &ConversationState,
    fired: &[Fired<'_>],
    env: &ActionEnv<'_>,
) -> Applied {
    let mut next = state.clone();
    let actions = || {
        fired
            .iter()
            .flat_map(|f| f.rule.actions.iter().map(move |a| (f, a)))
    };
    for (_, action) in actions() {
        match action {
            Action::ApplyPolicy { policy } => next.policy = Some(*policy),
            Action::SetPriority { priority } => next.priority = *priority,
            Action::AddLabel { label } => {
                let wanted = lowercase(label);
                if !next.labels.iter().any(|l| lowercase(l) == wanted) {
                    next.labels.push(label.clone());
                }
            }
            Action::RemoveLabel { label } => {
                let unwanted = lowercase(label);
                next.labels.retain(|l| lowercase(l) != unwanted);
            }
            Action::AssignTeam { team } => next.team = Some(team.clone()),
            Action::AssignOwner { owner } => next.owner = Some(owner.clone()),
            Action::RemoveOwner => next.owner = None,
            Action::SendMessage { .. } | Action::Webhook { .. } => {}
        }
    }
    let effects = actions()
        .filter_map(|(f, action)| match action {
            Action::SendMessage { template } => Some(SideEffect::SendMessage {
                rule: f.id,
                text: template.render(env),
            }),
            Action::Webhook { url, secret } => Some(SideEffect::Webhook {
                rule: f.id,
                url: url.clone(),
                secret: secret.clone(),
                body: webhook_body(f, &next, env),
            }),
            _ => None,
        })
        .collect();
    Applied {
        state: next,
        effects,
    }
}

/// The JSON a webhook posts: the rule, the event, the conversation after the actions and
/// the SLA clock concerned.
fn webhook_body(fired: &Fired<'_>, state: &ConversationState, env: &ActionEnv<'_>) -> String {
    let c = env.conversation;
    let mut body = match serde_json::to_value(env.event) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    body.insert(
        "rule".into(),
        serde_json::json!({"id": fired.id, "name": fired.rule.name}),
    );
    body.insert("at".into(), Value::from(instant::format_utc(env.at)));
    body.insert(
        "conversation".into(),
        serde_json::json!({
            "id": env.conversation_id,
            "link": env.conversation_link(),
            "channel": c.channel,
            "visibility": c.visibility,
            "status": c.status,
            "contact": c.contact,
            "priority": state.priority,
            "labels": state.labels,
            "team": state.team,
            "owner": state.owner,
            "policy": state.policy,
        }),
    );
    body.insert(
        "sla".into(),
        env.sla.map_or(Value::Null, |s| {
            serde_json::json!({
                "metric": s.metric,
                "due_in_s": s.due_in_s,
                "due_in": s.due_in_s.map(badge_text),
            })
        }),
    );
    Value::Object(body).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation::{Channel, Contact, Visibility};
    use crate::timeline::ConversationStatus;
    use serde_json::json;

    fn t(text: &str) -> DateTime<Utc> {
        instant::parse_rfc3339(text).unwrap()
    }

    fn summary() -> ConversationSummary {
        ConversationSummary {
            channel: Channel::Email,
            visibility: Visibility::Direct,
            contact: Contact {
                name: Some("Ann Lee".into()),
                email: Some("Ann@BigCorp.com".into()),
                handle: Some("@ann".into()),
            },
            priority: Priority::Urgent,
            labels: vec!["VIP".into(), "billing".into()],
            team: Some("Support".into()),
            owner: None,
            status: ConversationStatus::Open,
            bot: false,
            created_at: t("2026-11-24T09:00:00Z"),
            last_message: None,
            last_author: None,
            last_message_at: None,
            surveys: Vec::new(),
            left_at: None,
        }
    }

    fn parse(v: Value) -> Result<RuleDefinition, Vec<FieldError>> {
        parse_rule(&v, |id| id == 12 || id == 7, |id| id == 3)
    }

    fn rule(v: Value) -> RuleDefinition {
        parse(v).unwrap()
    }

    fn paths(v: Value) -> Vec<String> {
        parse(v).unwrap_err().into_iter().map(|e| e.field).collect()
    }

    /// A message.created rule with one condition.
    fn one(condition: Value) -> RuleDefinition {
        rule(
            json!({"name": "r", "event": "message.created", "conditions": [condition],
                    "actions": [{"type": "add_label", "label": "x"}]}),
        )
    }

    /// Whether `condition` holds on `ctx` for a message.created event.
    fn holds(condition: Value, ctx: &RuleContext) -> bool {
        one(condition).conditions_match(&FiredEvent::MessageCreated, ctx)
    }

    fn cond(field: &str, op: &str, value: Value) -> Value {
        if value.is_null() {
            json!({"field": field, "op": op})
        } else {
            json!({"field": field, "op": op, "value": value})
        }
    }

    #[test]
    fn the_issue_example_parses_and_round_trips() {
        let text = json!({"name": "BigCorp urgent", "enabled": true, "event": "conversation.created", "match": "all",
            "conditions": [{"field": "contact.email", "op": "ends_with", "value": "@bigcorp.com"},
                           {"field": "priority", "op": "is", "value": "urgent"}],
            "actions": [{"type": "apply_policy", "policy": 12}], "stop": false});
        let r = rule(text.clone());
        assert_eq!(r.name, "BigCorp urgent");
        assert_eq!(r.event, RuleEvent::ConversationCreated);
        assert_eq!(r.matching, Match::All);
        assert_eq!(r.conditions.len(), 2);
        assert_eq!(r.actions, vec![Action::ApplyPolicy { policy: 12 }]);
        assert_eq!(serde_json::to_value(&r).unwrap(), text);
        let back: RuleDefinition = serde_json::from_value(text).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn defaults_and_every_action_round_trip() {
        let r = rule(
            json!({"name": " Late ", "event": "sla.overdue", "after": "30m", "actions": [
            {"type": "apply_policy", "policy": 7},
            {"type": "set_priority", "priority": "high"},
            {"type": "add_label", "label": " late "},
            {"type": "remove_label", "label": "new"},
            {"type": "assign_team", "team": "Escalations"},
            {"type": "assign_owner", "owner": "Lead@X.io"},
            {"type": "remove_owner"},
            {"type": "send_message", "template": "Hi {{contact.name}}"},
            {"type": "webhook", "url": "https://hooks.example/sla", "secret": "s3cret"}]}),
        );
        assert_eq!(r.name, "Late");
        assert!(r.enabled);
        assert!(!r.stop);
        assert_eq!(r.matching, Match::All);
        assert_eq!(r.after, SlaDuration::from_minutes(30));
        assert_eq!(
            r.actions[2],
            Action::AddLabel {
                label: "late".into()
            }
        );
        assert_eq!(
            r.actions[5],
            Action::AssignOwner {
                owner: "lead@x.io".into()
            }
        );
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["after"], "30m");
        assert_eq!(v["actions"][6], json!({"type": "remove_owner"}));
        assert_eq!(
            v["actions"][8],
            json!({"type": "webhook", "url": "https://hooks.example/sla", "secret": "s3cret"})
        );
        let back: RuleDefinition = serde_json::from_value(v).unwrap();
        assert_eq!(back, r);
        let no_after = serde_json::to_value(one(cond("channel", "is", json!("sms")))).unwrap();
        assert!(no_after.get("after").is_none());
    }

    #[test]
    fn validation_names_every_offending_part() {
        let p = paths(json!({"name": "x", "event": "conversation.created",
            "conditions": [{"field": "mood", "op": "is", "value": "happy"},
                           {"field": "priority", "op": "contains", "value": "urg"}],
            "actions": [{"type": "apply_policy", "policy": 99}]}));
        assert_eq!(
            p,
            vec![
                "conditions[0].field",
                "conditions[1].op",
                "actions[0].policy"
            ]
        );
        let p = paths(
            json!({"name": "x", "event": "sla.overdue", "actions": [{"type": "remove_owner"}]}),
        );
        assert_eq!(p, vec!["after"]);
        let p = paths(json!({"event": "deleted", "colour": 1, "match": "most",
                             "enabled": "yes", "actions": []}));
        assert_eq!(
            p,
            vec!["colour", "name", "enabled", "match", "event", "actions"]
        );
        let p = paths(json!({"name": "x".repeat(201), "event": "message.created",
                             "conditions": {}, "actions": "none"}));
        assert_eq!(p, vec!["name", "conditions", "actions"]);
        assert_eq!(paths(json!([1])), vec![""]);
        let errs = parse(json!({"name": "x", "event": "message.created",
            "conditions": [{"field": "priority", "op": "contains", "value": "u"}],
            "actions": [{"type": "remove_owner"}]}))
        .unwrap_err();
        assert!(
            errs[0].message.contains("is, is_not, in, not_in"),
            "{errs:?}"
        );
    }

    #[test]
    fn after_belongs_to_overdue_rules_only_and_is_positive() {
        let base = |after: Value, event: &str| json!({"name": "x", "event": event, "after": after, "actions": [{"type": "remove_owner"}]});
        assert_eq!(paths(base(json!("30m"), "sla.breached")), vec!["after"]);
        assert_eq!(paths(base(json!("0s"), "sla.overdue")), vec!["after"]);
        assert_eq!(paths(base(json!("soon"), "sla.overdue")), vec!["after"]);
        assert_eq!(paths(base(json!(-5), "sla.overdue")), vec!["after"]);
        assert_eq!(
            rule(base(json!(7200), "sla.overdue")).after,
            SlaDuration::from_hours(2)
        );
        assert_eq!(
            rule(base(json!("2h"), "sla.overdue")).after,
            SlaDuration::from_hours(2)
        );
        // null is the same as absent.
        assert!(rule(base(Value::Null, "sla.breached")).after.is_none());
    }

    #[test]
    fn values_must_fit_their_op_and_field() {
        let bad = |c: Value| {
            paths(
                json!({"name": "x", "event": "message.created", "conditions": [c],
                         "actions": [{"type": "remove_owner"}]}),
            )
        };
        assert_eq!(
            bad(cond("priority", "in", json!("urgent"))),
            vec!["conditions[0].value"]
        );
        assert_eq!(
            bad(cond("priority", "in", json!([]))),
            vec!["conditions[0].value"]
        );
        assert_eq!(
            bad(cond("priority", "in", json!(["high", "urgentest", 3]))),
            vec!["conditions[0].value[2]"],
            "shape errors first; the enum is checked once the shape is right"
        );
        assert_eq!(
            bad(cond("priority", "in", json!(["high", "urgentest"]))),
            vec!["conditions[0].value[1]"]
        );
        assert_eq!(
            bad(cond("team", "is_set", json!("x"))),
            vec!["conditions[0].value"]
        );
        assert_eq!(
            bad(cond("team", "is", Value::Null)),
            vec!["conditions[0].value"]
        );
        assert_eq!(
            bad(cond("team", "is", json!("  "))),
            vec!["conditions[0].value"]
        );
        assert_eq!(
            bad(cond("channel", "is", json!("fax"))),
            vec!["conditions[0].value"]
        );
        assert_eq!(
            bad(cond("visibility", "is", json!("secret"))),
            vec!["conditions[0].value"]
        );
        assert_eq!(
            bad(cond("status", "is", json!("closed"))),
            vec!["conditions[0].value"]
        );
        assert_eq!(
            bad(cond("message.author", "is", json!("robot"))),
            vec!["conditions[0].value"]
        );
        assert_eq!(
            bad(cond("owner", "is", json!("someone"))),
            vec!["conditions[0].value"]
        );
        assert_eq!(
            bad(cond("owner", "in", json!(["none", "bob"]))),
            vec!["conditions[0].value[1]"]
        );
        assert_eq!(
            bad(cond("message.text", "contains", json!(["a"]))),
            vec!["conditions[0].value"]
        );
        assert_eq!(
            bad(cond("labels", "is", json!("vip"))),
            vec!["conditions[0].op"]
        );
        assert_eq!(
            bad(cond("business_hours", "is", json!(3))),
            vec!["conditions[0].op"]
        );
        assert_eq!(
            bad(cond("business_hours", "open", json!(4))),
            vec!["conditions[0].value"]
        );
        assert_eq!(
            bad(cond("business_hours", "open", json!("3"))),
            vec!["conditions[0].value"]
        );
        assert_eq!(
            bad(cond("channel", "equals", json!("sms"))),
            vec!["conditions[0].op"]
        );
        assert_eq!(
            bad(json!({"field": "channel", "op": "is", "value": "sms", "negate": true})),
            vec!["conditions[0].negate"]
        );
        assert_eq!(bad(json!({"op": "is_set"})), vec!["conditions[0].field"]);
        assert_eq!(bad(json!("channel is sms")), vec!["conditions[0]"]);
        // Enum values ignore case and spaces; the value is kept as written.
        let r = one(cond("priority", "is", json!(" Urgent ")));
        assert_eq!(
            r.conditions[0].value,
            Some(ConditionValue::Text("Urgent".into()))
        );
        assert!(
            one(cond("business_hours", "closed", json!(3))).conditions[0]
                .value
                .is_some()
        );
    }

    #[test]
    fn fields_are_refused_on_events_that_do_not_have_them() {
        let on = |event: &str, c: Value| {
            parse(json!({"name": "x", "event": event, "conditions": [c],
                         "actions": [{"type": "remove_owner"}]}))
        };
        let e = on(
            "conversation.created",
            cond("sla.metric", "is", json!("first_response")),
        )
        .unwrap_err();
        assert_eq!(e[0].field, "conditions[0].field");
        assert!(e[0].message.contains("only on sla.warning"), "{e:?}");
        let e = on(
            "conversation.updated",
            cond("message.text", "contains", json!("hi")),
        )
        .unwrap_err();
        assert_eq!(e[0].field, "conditions[0].field");
        assert!(on("sla.breached", cond("message.author", "is", json!("agent"))).is_err());
        assert!(on(
            "sla.breached",
            cond("sla.metric", "is", json!("resolution"))
        )
        .is_ok());
        assert!(on(
            "conversation.created",
            cond("message.text", "contains", json!("hi"))
        )
        .is_ok());
    }

    #[test]
    fn actions_are_validated_with_their_paths() {
        let p = paths(json!({"name": "x", "event": "message.created", "actions": [
            {"type": "apply_policy", "policy": "12"},
            {"type": "set_priority", "priority": "asap"},
            {"type": "add_label", "label": ""},
            {"type": "assign_owner", "owner": "bob"},
            {"type": "send_message", "template": "Hi {{contact.nickname}} {{ticket}}"},
            {"type": "send_message", "template": "Hi {{contact.name"},
            {"type": "send_message", "template": "  "},
            {"type": "webhook", "url": "ftp://x.io/hook", "secret": ""},
            {"type": "webhook", "url": "https:///nohost", "secret": "s"},
            {"type": "webhook", "secret": "s"},
            {"type": "remove_owner", "owner": "a@x.io"},
            {"type": "escalate"},
            {"policy": 12},
            {"type": "apply_policy"}]}));
        assert_eq!(
            p,
            vec![
                "actions[0].policy",
                "actions[1].priority",
                "actions[2].label",
                "actions[3].owner",
                "actions[4].template",
                "actions[5].template",
                "actions[6].template",
                "actions[7].url",
                "actions[7].secret",
                "actions[8].url",
                "actions[9].url",
                "actions[10].owner",
                "actions[11].type",
                "actions[12].type",
                "actions[13].policy",
            ]
        );
        let e = parse(json!({"name": "x", "event": "message.created", "actions": [
            {"type": "send_message", "template": "Hi {{contact.nickname}} {{ticket}}"}]}))
        .unwrap_err();
        assert!(
            e[0].message
                .starts_with("{{contact.nickname}}, {{ticket}} are not known"),
            "{e:?}"
        );
        assert!(e[0].message.contains("{{sla.due_in}}"));
        // No actions is only sensible for a rule that stops later rules.
        assert!(parse(json!({"name": "x", "event": "message.created", "stop": true})).is_ok());
        assert_eq!(
            paths(json!({"name": "x", "event": "message.created", "actions": []})),
            vec!["actions"]
        );
        let hook = rule(json!({"name": "x", "event": "message.created", "actions": [
            {"type": "webhook", "url": "HTTP://hooks.example:8080/a?b=c", "secret": "s"}]}));
        assert_eq!(hook.actions.len(), 1);
    }

    #[test]
    fn every_fields_tables_are_consistent() {
        for field in Field::ALL {
            assert_eq!(Field::parse(field.as_str()), Some(field));
            assert!(!field.ops().is_empty());
        }
        for op in Op::ALL {
            assert_eq!(Op::parse(op.as_str()), Some(op));
            assert_eq!(serde_json::to_value(op).unwrap(), op.as_str());
        }
        for event in RuleEvent::ALL {
            assert_eq!(RuleEvent::parse(event.as_str()), Some(event));
            assert_eq!(serde_json::to_value(event).unwrap(), event.as_str());
        }
        for (i, c) in Channel::ALL.iter().enumerate() {
            assert_eq!(CHANNELS[i], c.as_str());
            assert_eq!(*c as usize, i);
        }
        for (i, v) in Visibility::ALL.iter().enumerate() {
            assert_eq!(VISIBILITIES[i], v.as_str());
            assert_eq!(*v as usize, i);
        }
        for (i, p) in Priority::ALL.iter().enumerate() {
            assert_eq!(PRIORITIES[i], p.as_str());
            assert_eq!(*p as usize, i);
        }
        for (i, m) in Metric::ALL.iter().enumerate() {
            assert_eq!(METRICS[i], m.as_str());
            assert_eq!(*m as usize, i);
        }
        for (i, s) in [
            ConversationStatus::Open,
            ConversationStatus::Pending,
            ConversationStatus::Snoozed,
            ConversationStatus::Resolved,
        ]
        .iter()
        .enumerate()
        {
            assert_eq!(serde_json::to_value(s).unwrap(), STATUSES[i]);
            assert_eq!(*s as usize, i);
        }
        for (i, a) in [Author::Customer, Author::Agent, Author::Bot, Author::System]
            .iter()
            .enumerate()
        {
            assert_eq!(serde_json::to_value(a).unwrap(), AUTHORS[i]);
            assert_eq!(*a as usize, i);
        }
        for p in Placeholder::ALL {
            assert_eq!(Placeholder::parse(p.as_str()), Some(p));
        }
        assert_eq!(Field::Owner.choices(), None);
        // Every op a field offers compiles with a value of the right shape.
        for field in Field::ALL {
            for op in field.ops() {
                let value = match (op.value_kind(), field.choices()) {
                    (ValueKind::None, _) => Value::Null,
                    (ValueKind::Calendar, _) => json!(3),
                    (ValueKind::Text, Some(c)) => json!(c[0]),
                    (ValueKind::List, Some(c)) => json!([c[0]]),
                    (ValueKind::Text, None) => json!("a@x.io"),
                    (ValueKind::List, None) => json!(["a@x.io"]),
                };
                let event = if field == Field::SlaMetric {
                    "sla.warning"
                } else {
                    "message.created"
                };
                let r = parse(json!({"name": "x", "event": event,
                    "conditions": [cond(field.as_str(), op.as_str(), value)], "stop": true}));
                assert!(r.is_ok(), "{field} {op}: {r:?}");
            }
        }
    }

    #[test]
    fn enum_fields_compare_with_is_is_not_in_and_not_in() {
        let s = summary();
        let ctx = RuleContext::new(&s);
        assert!(holds(cond("channel", "is", json!("email")), &ctx));
        assert!(!holds(cond("channel", "is", json!("sms")), &ctx));
        assert!(holds(cond("channel", "is_not", json!("sms")), &ctx));
        assert!(holds(cond("channel", "in", json!(["sms", "email"])), &ctx));
        assert!(!holds(
            cond("channel", "not_in", json!(["sms", "email"])),
            &ctx
        ));
        assert!(holds(cond("visibility", "is", json!("direct")), &ctx));
        assert!(!holds(cond("visibility", "is", json!("public")), &ctx));
        assert!(holds(
            cond("priority", "in", json!(["high", "urgent"])),
            &ctx
        ));
        assert!(!holds(cond("priority", "is_not", json!("urgent")), &ctx));
        assert!(holds(cond("status", "is", json!("open")), &ctx));
        assert!(holds(
            cond("status", "not_in", json!(["pending", "snoozed"])),
            &ctx
        ));
    }

    #[test]
    fn team_and_owner_know_none_anyone_and_someone() {
        let mut s = summary();
        {
            let ctx = RuleContext::new(&s);
            assert!(
                holds(cond("team", "is", json!("support")), &ctx),
                "case is ignored"
            );
            assert!(holds(cond("team", "in", json!(["Sales", "SUPPORT"])), &ctx));
            assert!(holds(cond("team", "is_set", Value::Null), &ctx));
            assert!(!holds(cond("team", "is_not", json!("Support")), &ctx));
            assert!(holds(cond("owner", "is", json!("none")), &ctx));
            assert!(holds(cond("owner", "is_not_set", Value::Null), &ctx));
            assert!(!holds(cond("owner", "is", json!("anyone")), &ctx));
            assert!(!holds(cond("owner", "is", json!("bob@x.io")), &ctx));
            assert!(holds(cond("owner", "is_not", json!("bob@x.io")), &ctx));
            assert!(holds(
                cond("owner", "in", json!(["none", "bob@x.io"])),
                &ctx
            ));
            assert!(!holds(cond("owner", "not_in", json!(["none"])), &ctx));
        }
        s.owner = Some("Bob@X.io".into());
        s.team = Some("  ".into());
        let ctx = RuleContext::new(&s);
        assert!(holds(cond("owner", "is", json!("anyone")), &ctx));
        assert!(holds(cond("owner", "is_set", Value::Null), &ctx));
        assert!(holds(cond("owner", "is_not", json!("none")), &ctx));
        assert!(holds(cond("owner", "is", json!("BOB@x.io")), &ctx));
        assert!(holds(
            cond("owner", "in", json!(["none", "bob@x.io"])),
            &ctx
        ));
        assert!(!holds(cond("owner", "is", json!("ann@x.io")), &ctx));
        assert!(!holds(cond("owner", "is_not", json!("anyone")), &ctx));
        // A blank team is no team.
        assert!(holds(cond("team", "is_not_set", Value::Null), &ctx));
        assert!(holds(cond("team", "is_not", json!("Support")), &ctx));
        assert!(!holds(cond("team", "in", json!(["Support"])), &ctx));
    }

    #[test]
    fn labels_contain_any_none_or_some() {
        let mut s = summary();
        {
            let ctx = RuleContext::new(&s);
            assert!(holds(cond("labels", "contains", json!("vip")), &ctx));
            assert!(
                !holds(cond("labels", "contains", json!("vi")), &ctx),
                "whole labels"
            );
            assert!(holds(
                cond("labels", "contains_any", json!(["spam", "Billing"])),
                &ctx
            ));
            assert!(!holds(
                cond("labels", "contains_any", json!(["spam", "test"])),
                &ctx
            ));
            assert!(holds(
                cond("labels", "not_in", json!(["spam", "test"])),
                &ctx
            ));
            assert!(!holds(
                cond("labels", "not_in", json!(["spam", "vip"])),
                &ctx
            ));
            assert!(holds(cond("labels", "is_set", Value::Null), &ctx));
            assert!(!holds(cond("labels", "is_not_set", Value::Null), &ctx));
        }
        s.labels.clear();
        let ctx = RuleContext::new(&s);
        assert!(!holds(cond("labels", "is_set", Value::Null), &ctx));
        assert!(holds(cond("labels", "is_not_set", Value::Null), &ctx));
        assert!(!holds(cond("labels", "contains", json!("vip")), &ctx));
        assert!(holds(cond("labels", "not_in", json!(["vip"])), &ctx));
    }

    #[test]
    fn contact_email_compares_without_case_and_by_domain() {
        let email = |addr: &str, op: &str, value: &str| {
            let mut s = summary();
            s.contact.email = Some(addr.into());
            holds(
                cond("contact.email", op, json!(value)),
                &RuleContext::new(&s),
            )
        };
        assert!(email("x@bigcorp.com", "ends_with", "@bigcorp.com"));
        assert!(email("X@BigCorp.COM", "ends_with", "@BIGCORP.com"));
        assert!(!email("x@eu.bigcorp.com", "ends_with", "@bigcorp.com"));
        assert!(!email("x@notbigcorp.com", "ends_with", "@bigcorp.com"));
        assert!(email("x@bigcorp.com", "ends_with", "bigcorp.com"));
        assert!(email("x@eu.bigcorp.com", "ends_with", "bigcorp.com"));
        assert!(!email("x@notbigcorp.com", "ends_with", "bigcorp.com"));
        assert!(!email("x@bigcorp.com.evil.io", "ends_with", "bigcorp.com"));
        assert!(email("x@eu.bigcorp.com", "ends_with", ".bigcorp.com"));
        assert!(!email("x@bigcorp.com", "ends_with", ".bigcorp.com"));
        assert!(email("Ann@x.io", "is", "ann@X.IO"));
        assert!(email("ann@x.io", "is_not", "bob@x.io"));
        assert!(email("ann.lee@x.io", "contains", "LEE@"));
        assert!(email("ann.lee@x.io", "starts_with", "ann."));
        assert!(!email("ann.lee@x.io", "starts_with", "lee"));
        let mut s = summary();
        s.contact.email = None;
        let ctx = RuleContext::new(&s);
        assert!(!holds(
            cond("contact.email", "ends_with", json!("bigcorp.com")),
            &ctx
        ));
        assert!(!holds(cond("contact.email", "contains", json!("@")), &ctx));
        assert!(holds(cond("contact.email", "is_not", json!("a@b.c")), &ctx));
        assert!(holds(
            cond("contact.email", "not_in", json!(["a@b.c"])),
            &ctx
        ));
        assert!(holds(
            cond("contact.email", "is_not_set", Value::Null),
            &ctx
        ));
    }

    #[test]
    fn contact_name_compares_without_case() {
        let s = summary();
        let ctx = RuleContext::new(&s);
        assert!(holds(cond("contact.name", "contains", json!("LEE")), &ctx));
        assert!(holds(cond("contact.name", "is", json!("ann lee")), &ctx));
        assert!(holds(
            cond("contact.name", "starts_with", json!("Ann")),
            &ctx
        ));
        assert!(holds(cond("contact.name", "ends_with", json!("lee")), &ctx));
        assert!(holds(cond("contact.name", "is_set", Value::Null), &ctx));
        assert!(!holds(cond("contact.name", "is", json!("Ann")), &ctx));
    }

    #[test]
    fn message_words_match_whole_words_ignoring_case() {
        let s = summary();
        let says = |text: &str, value: Value| {
            let ctx = RuleContext::new(&s).with_message(Author::Customer, text);
            holds(cond("message.text", "contains_any", value), &ctx)
        };
        assert!(says("I want a Refund!", json!(["refund"])));
        assert!(says("REFUND", json!(["refund"])));
        assert!(!says("I was refunded", json!(["refund"])));
        assert!(!says("prerefund", json!(["refund"])));
        assert!(says("this is urgent", json!(["asap", "Urgent"])));
        assert!(!says("nothing here", json!(["asap", "urgent"])));
        // Unicode letters are word characters; other scripts and accents fold case too.
        assert!(!says("cafés", json!(["café"])));
        assert!(says("Le CAFÉ est froid", json!(["café"])));
        assert!(says("Die Zahlung fehlt", json!(["zahlung"])));
        assert!(!says("Die Zahlungen fehlen", json!(["zahlung"])));
        assert!(says("Это СРОЧНО.", json!(["срочно"])));
        assert!(
            !says("2refund", json!(["refund"])),
            "digits are word characters"
        );
        assert!(
            says("refund_please", json!(["refund"])),
            "an underscore separates"
        );
        // Phrases match across any whitespace; punctuation edges need no boundary.
        assert!(says("It is NOT\n  working", json!(["not working"])));
        assert!(!says("It is not workingg", json!(["not working"])));
        assert!(says("need help!!", json!(["help!!"])));
        assert!(says("we use c++ here", json!(["c++"])));
        // A later occurrence counts when the first is inside a word.
        assert!(says("refunded? no: refund", json!(["refund"])));
        assert!(
            says("xab ab ab", json!(["ab ab"])),
            "overlapping occurrences"
        );
        // `contains` takes one word with the same rules.
        let ctx = RuleContext::new(&s).with_message(Author::Customer, "Refund now");
        assert!(holds(
            cond("message.text", "contains", json!("refund")),
            &ctx
        ));
        assert!(!holds(
            cond("message.text", "contains", json!("fund")),
            &ctx
        ));
        // Without a message, message conditions never hold.
        let ctx = RuleContext::new(&s);
        assert!(!holds(
            cond("message.text", "contains", json!("refund")),
            &ctx
        ));
        assert!(!holds(
            cond("message.author", "is", json!("customer")),
            &ctx
        ));
    }

    #[test]
    fn message_author_is_the_trigger_messages_author() {
        let s = summary();
        let ctx = RuleContext::new(&s).with_message(Author::Bot, "hello");
        assert!(holds(cond("message.author", "is", json!("bot")), &ctx));
        assert!(holds(
            cond("message.author", "not_in", json!(["customer", "agent"])),
            &ctx
        ));
        assert!(!holds(
            cond("message.author", "is", json!("customer")),
            &ctx
        ));
    }

    #[test]
    fn business_hours_ask_the_caller() {
        let s = summary();
        let open = |id: i64| (id == 3).then_some(true);
        let closed = |id: i64| (id == 3).then_some(false);
        let ctx = RuleContext::new(&s).with_business_hours(&open);
        assert!(holds(cond("business_hours", "open", json!(3)), &ctx));
        assert!(!holds(cond("business_hours", "closed", json!(3)), &ctx));
        let ctx = RuleContext::new(&s).with_business_hours(&closed);
        assert!(!holds(cond("business_hours", "open", json!(3)), &ctx));
        assert!(holds(cond("business_hours", "closed", json!(3)), &ctx));
        // A calendar the caller does not know (deleted since) is neither open nor closed.
        let ctx = RuleContext::new(&s);
        assert!(!holds(cond("business_hours", "open", json!(3)), &ctx));
        assert!(!holds(cond("business_hours", "closed", json!(3)), &ctx));
    }

    #[test]
    fn sla_metric_is_the_events_metric() {
        let s = summary();
        let ctx = RuleContext::new(&s);
        let r = rule(json!({"name": "x", "event": "sla.breached",
            "conditions": [cond("sla.metric", "is", json!("first_response"))], "stop": true}));
        let frt = FiredEvent::SlaBreached {
            metric: Metric::FirstResponse,
        };
        let rt = FiredEvent::SlaBreached {
            metric: Metric::Resolution,
        };
        assert!(r.conditions_match(&frt, &ctx));
        assert!(!r.conditions_match(&rt, &ctx));
    }

    fn ids(outcome: &Outcome) -> Vec<i64> {
        outcome.fired.iter().map(|f| f.id).collect()
    }

    #[test]
    fn evaluate_walks_rules_in_order_with_all_any_stop_disabled_and_events() {
        let s = summary();
        let ctx = RuleContext::new(&s).with_message(Author::Customer, "refund please");
        let act = json!([{"type": "add_label", "label": "x"}]);
        let rules = vec![
            // 1: all, one condition false.
            (
                1,
                rule(
                    json!({"name": "a", "event": "message.created", "match": "all", "actions": act,
                "conditions": [cond("channel", "is", json!("email")), cond("priority", "is", json!("low"))]}),
                ),
            ),
            // 2: any, one condition true.
            (
                2,
                rule(
                    json!({"name": "b", "event": "message.created", "match": "any", "actions": act,
                "conditions": [cond("channel", "is", json!("sms")), cond("message.text", "contains", json!("refund"))]}),
                ),
            ),
            // 3: disabled, would match.
            (
                3,
                rule(
                    json!({"name": "c", "event": "message.created", "enabled": false, "actions": act}),
                ),
            ),
            // 4: other event.
            (
                4,
                rule(json!({"name": "d", "event": "conversation.created", "actions": act})),
            ),
            // 5: no conditions, stops.
            (
                5,
                rule(
                    json!({"name": "e", "event": "message.created", "match": "any", "stop": true, "actions": act}),
                ),
            ),
            // 6: after the stop.
            (
                6,
                rule(json!({"name": "f", "event": "message.created", "actions": act})),
            ),
        ];
        let outcome = evaluate(&rules, &FiredEvent::MessageCreated, &ctx);
        assert_eq!(ids(&outcome), vec![2, 5]);
        assert_eq!(outcome.stopped_by, Some(5));
        assert_eq!(outcome.actions().count(), 2);
        assert_eq!(outcome.actions().next().unwrap().0, 2);
        // A rule with stop that does not fire stops nothing.
        let rules = vec![
            (
                1,
                rule(
                    json!({"name": "a", "event": "message.created", "stop": true, "actions": act,
                "conditions": [cond("channel", "is", json!("sms"))]}),
                ),
            ),
            (
                2,
                rule(json!({"name": "b", "event": "message.created", "actions": act})),
            ),
        ];
        let outcome = evaluate(&rules, &FiredEvent::MessageCreated, &ctx);
        assert_eq!(ids(&outcome), vec![2]);
        assert_eq!(outcome.stopped_by, None);
        let outcome = evaluate(&rules, &FiredEvent::ConversationUpdated, &ctx);
        assert!(outcome.fired.is_empty());
    }

    #[test]
    fn overdue_rules_fire_at_their_own_level() {
        let s = summary();
        let ctx = RuleContext::new(&s);
        let level = |id: i64, after: &str| {
            (
                id,
                rule(
                    json!({"name": after, "event": "sla.overdue", "after": after,
                            "actions": [{"type": "remove_owner"}]}),
                ),
            )
        };
        let rules = vec![
            level(1, "30m"),
            level(2, "2h"),
            level(3, "1800"),
            (
                4,
                rule(
                    json!({"name": "b", "event": "sla.breached", "actions": [{"type": "remove_owner"}]}),
                ),
            ),
        ];
        let at = |after: &str| FiredEvent::SlaOverdue {
            metric: Metric::FirstResponse,
            after: after.parse().unwrap(),
        };
        assert_eq!(ids(&evaluate(&rules, &at("30m"), &ctx)), vec![1, 3]);
        assert_eq!(ids(&evaluate(&rules, &at("2h"), &ctx)), vec![2]);
        assert!(evaluate(&rules, &at("1h"), &ctx).fired.is_empty());
        let breached = FiredEvent::SlaBreached {
            metric: Metric::FirstResponse,
        };
        assert_eq!(ids(&evaluate(&rules, &breached, &ctx)), vec![4]);
        assert_eq!(
            FiredEvent::for_rule(&rules[1].1, Metric::Resolution),
            FiredEvent::SlaOverdue {
                metric: Metric::Resolution,
                after: SlaDuration::from_hours(2).unwrap()
            }
        );
    }

    #[test]
    fn fired_events_have_a_flat_json_shape() {
        let e = FiredEvent::SlaOverdue {
            metric: Metric::FirstResponse,
            after: SlaDuration::from_minutes(30).unwrap(),
        };
        let v = serde_json::to_value(e).unwrap();
        assert_eq!(
            v,
            json!({"event": "sla.overdue", "metric": "first_response", "after": "30m"})
        );
        assert_eq!(serde_json::from_value::<FiredEvent>(v).unwrap(), e);
        assert_eq!(
            serde_json::to_value(FiredEvent::MessageCreated).unwrap(),
            json!({"event": "message.created"})
        );
    }

    #[test]
    fn explain_shows_each_condition_what_it_saw_and_the_actions() {
        let s = summary();
        let open = |_: i64| Some(false);
        let ctx = RuleContext::new(&s)
            .with_message(Author::Customer, "Refund now")
            .with_business_hours(&open);
        let r = rule(
            json!({"name": "x", "event": "message.created", "match": "all", "enabled": false,
            "stop": true,
            "conditions": [cond("contact.email", "ends_with", json!("bigcorp.com")),
                           cond("labels", "contains", json!("vip")),
                           cond("owner", "is", json!("anyone")),
                           cond("message.text", "contains", json!("refund")),
                           cond("business_hours", "closed", json!(3))],
            "actions": [{"type": "set_priority", "priority": "high"}]}),
        );
        let e = explain(&r, &FiredEvent::MessageCreated, &ctx);
        let matched: Vec<bool> = e.conditions.iter().map(|c| c.matched).collect();
        assert_eq!(matched, vec![true, true, false, true, true]);
        let seen: Vec<&Value> = e.conditions.iter().map(|c| &c.seen).collect();
        assert_eq!(
            seen,
            vec![
                &json!("Ann@BigCorp.com"),
                &json!(["VIP", "billing"]),
                &Value::Null,
                &json!("Refund now"),
                &json!("closed"),
            ]
        );
        assert!(!e.enabled);
        assert!(e.listens);
        assert!(!e.conditions_match);
        assert!(!e.would_fire);
        assert!(e.actions.is_empty());
        assert!(!e.stop);
        let any = RuleDefinition {
            matching: Match::Any,
            ..r.clone()
        };
        let e = explain(&any, &FiredEvent::MessageCreated, &ctx);
        assert!(e.would_fire, "a disabled rule is explained as if enabled");
        assert!(e.stop);
        assert_eq!(
            e.actions,
            vec![Action::SetPriority {
                priority: Priority::High
            }]
        );
        let text = serde_json::to_string(&e).unwrap();
        assert_eq!(serde_json::from_str::<Explanation>(&text).unwrap(), e);
        let e = explain(&any, &FiredEvent::ConversationUpdated, &ctx);
        assert!(!e.listens);
        assert!(!e.would_fire);
        // Long texts are cut in what the dry run shows.
        let long = "a ".repeat(300);
        let ctx = RuleContext::new(&s).with_message(Author::Customer, &long);
        let e = explain(&r, &FiredEvent::MessageCreated, &ctx);
        assert_eq!(e.conditions[3].seen.as_str().unwrap().chars().count(), 201);
    }

    fn env<'a>(s: &'a ConversationSummary, sla: Option<SlaFacts>) -> ActionEnv<'a> {
        ActionEnv {
            conversation_id: 42,
            conversation: s,
            link_base: "https://promptly.example/",
            event: FiredEvent::SlaBreached {
                metric: Metric::FirstResponse,
            },
            at: t("2026-11-24T10:00:00Z"),
            sla,
        }
    }

    #[test]
    fn templates_fill_in_every_placeholder() {
        let mut s = summary();
        let tpl = Template::parse(
            "Hi {{contact.name}} ({{ contact.email }}), #{{conversation.id}}: {{conversation.link}} \
             {{sla.metric}} due in {{sla.due_in}} {single}",
        )
        .unwrap();
        let facts = SlaFacts {
            metric: Metric::FirstResponse,
            due_in_s: Some(-300),
        };
        assert_eq!(
            tpl.render(&env(&s, Some(facts))),
            "Hi Ann Lee (Ann@BigCorp.com), #42: https://promptly.example/conversations/42 \
             first response due in -5m {single}"
        );
        let facts = SlaFacts {
            metric: Metric::NextResponse,
            due_in_s: Some(779),
        };
        let due = Template::parse("{{sla.metric}} in {{sla.due_in}}").unwrap();
        assert_eq!(due.render(&env(&s, Some(facts))), "next response in 12m");
        assert_eq!(due.render(&env(&s, None)), " in ");
        let hi = Template::parse("Hi {{contact.name}}").unwrap();
        s.contact.name = None;
        assert_eq!(hi.render(&env(&s, None)), "Hi @ann");
        s.contact.handle = Some(" ".into());
        assert_eq!(hi.render(&env(&s, None)), "Hi there");
        assert_eq!(
            hi.placeholders().collect::<Vec<_>>(),
            vec![Placeholder::ContactName]
        );
        assert_eq!(hi.as_str(), "Hi {{contact.name}}");
        assert!(Template::parse("{{}}").is_err());
        assert!(Template::parse("}} only closing is text").is_ok());
    }

    #[test]
    fn sla_facts_pick_the_events_clock_or_the_most_urgent() {
        use crate::clock::{ClockState, MetricStatus};
        let status = |metric, state, remaining: i64, due: &str| MetricStatus {
            metric,
            state,
            due_at: Some(t(due)),
            remaining_s: Some(remaining),
            breaches: 0,
            text: String::new(),
            target_s: 600,
            started_at: None,
            warn_at: None,
            finished_at: None,
            cycles: 1,
        };
        let state = SlaState {
            at: t("2026-11-24T10:00:00Z"),
            metrics: vec![
                status(
                    Metric::FirstResponse,
                    ClockState::Met,
                    100,
                    "2026-11-24T10:01:40Z",
                ),
                status(
                    Metric::Resolution,
                    ClockState::Breached,
                    -60,
                    "2026-11-24T09:59:00Z",
                ),
            ],
            next_change: None,
        };
        let frt = FiredEvent::SlaWarning {
            metric: Metric::FirstResponse,
        };
        assert_eq!(
            SlaFacts::pick(&state, &frt),
            Some(SlaFacts {
                metric: Metric::FirstResponse,
                due_in_s: None
            })
        );
        assert_eq!(
            SlaFacts::pick(&state, &FiredEvent::MessageCreated),
            Some(SlaFacts {
                metric: Metric::Resolution,
                due_in_s: Some(-60)
            })
        );
        let nrt = FiredEvent::SlaBreached {
            metric: Metric::NextResponse,
        };
        assert_eq!(SlaFacts::pick(&state, &nrt).unwrap().due_in_s, None);
    }

    #[test]
    fn apply_actions_changes_state_in_order_and_lists_side_effects() {
        let s = summary();
        let first = rule(
            json!({"name": "Escalate", "event": "sla.breached", "actions": [
            {"type": "set_priority", "priority": "high"},
            {"type": "add_label", "label": "late"},
            {"type": "add_label", "label": "vip"},
            {"type": "remove_label", "label": "BILLING"},
            {"type": "assign_owner", "owner": "lead@x.io"},
            {"type": "send_message", "template": "Sorry {{contact.name}}, we are {{sla.due_in}} late."},
            {"type": "webhook", "url": "https://hooks.example/a", "secret": "k"}]}),
        );
        let second = rule(
            json!({"name": "Queue", "event": "sla.breached", "actions": [
            {"type": "set_priority", "priority": "urgent"},
            {"type": "assign_team", "team": "Tier 2"},
            {"type": "remove_owner"},
            {"type": "apply_policy", "policy": 7}]}),
        );
        let fired = [
            Fired {
                id: 1,
                rule: &first,
            },
            Fired {
                id: 2,
                rule: &second,
            },
        ];
        let state = ConversationState::of(&s, Some(12));
        let facts = SlaFacts {
            metric: Metric::FirstResponse,
            due_in_s: Some(-300),
        };
        let applied = apply_actions(&state, &fired, &env(&s, Some(facts)));
        assert_eq!(
            applied.state,
            ConversationState {
                priority: Priority::Urgent,
                labels: vec!["VIP".into(), "late".into()],
                team: Some("Tier 2".into()),
                owner: None,
                policy: Some(7),
            }
        );
        assert_eq!(applied.effects.len(), 2);
        assert_eq!(
            applied.effects[0],
            SideEffect::SendMessage {
                rule: 1,
                text: "Sorry Ann Lee, we are -5m late.".into()
            }
        );
        let SideEffect::Webhook {
            rule,
            url,
            secret,
            body,
        } = &applied.effects[1]
        else {
            panic!("{:?}", applied.effects[1]);
        };
        assert_eq!(
            (*rule, url.as_str(), secret.as_str()),
            (1, "https://hooks.example/a", "k")
        );
        let body: Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["event"], "sla.breached");
        assert_eq!(body["metric"], "first_response");
        assert_eq!(body["rule"], json!({"id": 1, "name": "Escalate"}));
        assert_eq!(body["at"], "2026-11-24T10:00:00Z");
        assert_eq!(body["conversation"]["id"], 42);
        assert_eq!(
            body["conversation"]["link"],
            "https://promptly.example/conversations/42"
        );
        assert_eq!(
            body["conversation"]["priority"], "urgent",
            "the state after all actions"
        );
        assert_eq!(body["conversation"]["owner"], Value::Null);
        assert_eq!(body["conversation"]["policy"], 7);
        assert_eq!(body["conversation"]["contact"]["email"], "Ann@BigCorp.com");
        assert_eq!(
            body["sla"],
            json!({"metric": "first_response", "due_in_s": -300, "due_in": "-5m"})
        );
        // The original state is untouched, and an outcome applies the same way.
        assert_eq!(state.policy, Some(12));
        let rules = vec![(1, first.clone()), (2, second.clone())];
        let ctx = RuleContext::new(&s);
        let outcome = evaluate(&rules, &env(&s, None).event, &ctx);
        assert_eq!(outcome.apply(&state, &env(&s, Some(facts))), applied);
    }

    #[test]
    fn deserializing_a_bad_rule_says_why() {
        let err = serde_json::from_value::<RuleDefinition>(
            json!({"name": "", "event": "message.created", "actions": [{"type": "remove_owner"}]}),
        )
        .unwrap_err();
        assert!(err.to_string().contains("name: is required"), "{err}");
        // Deserializing does not know which policies exist.
        let r: RuleDefinition =
            serde_json::from_value(json!({"name": "x", "event": "message.created",
            "actions": [{"type": "apply_policy", "policy": 999}]}))
            .unwrap();
        assert_eq!(r.actions, vec![Action::ApplyPolicy { policy: 999 }]);
    }
}
