//! What a rule is made of: events, condition fields and ops, actions, message templates and
//! [`RuleDefinition`] itself, with the text normalisation conditions compare by.

use super::actions::ActionEnv;
use super::eval::{RuleContext, Subject};
use super::validate::parse_rule;
use crate::clock::Metric;
use crate::compliance::Band;
use crate::conversation::{Channel, Priority, Visibility};
use crate::duration::SlaDuration;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use std::borrow::Cow;
use std::fmt;

// ---------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------

/// The event a rule listens to. `sla.warning`: a clock turned to running out;
/// `sla.breached`: it passed its deadline; `sla.overdue`: it has been breached for the
/// rule's `after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
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
    /// A row of the live service level (everyone, a team, a channel, a contract) moved to
    /// another band; fired once per change and interval, with no conversation.
    #[serde(rename = "service_level.band_changed")]
    BandChanged,
}

impl RuleEvent {
    pub const ALL: [RuleEvent; 7] = [
        RuleEvent::ConversationCreated,
        RuleEvent::MessageCreated,
        RuleEvent::ConversationUpdated,
        RuleEvent::SlaWarning,
        RuleEvent::SlaBreached,
        RuleEvent::SlaOverdue,
        RuleEvent::BandChanged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RuleEvent::ConversationCreated => "conversation.created",
            RuleEvent::MessageCreated => "message.created",
            RuleEvent::ConversationUpdated => "conversation.updated",
            RuleEvent::SlaWarning => "sla.warning",
            RuleEvent::SlaBreached => "sla.breached",
            RuleEvent::SlaOverdue => "sla.overdue",
            RuleEvent::BandChanged => "service_level.band_changed",
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

    /// Whether the event is about the live service level rather than a conversation: only
    /// `team`, `channel`, `contract`, `service_level.*` and `business_hours` conditions and
    /// `notify` and `webhook` actions fit it.
    pub fn is_band(self) -> bool {
        self == RuleEvent::BandChanged
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
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
    /// A live service-level row went from band `from` to band `to`.
    #[serde(rename = "service_level.band_changed")]
    BandChanged { from: Band, to: Band },
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
            FiredEvent::BandChanged { .. } => RuleEvent::BandChanged,
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
            RuleEvent::BandChanged => FiredEvent::BandChanged {
                from: Band::OnTarget,
                to: Band::Warning,
            },
        }
    }
}

// ---------------------------------------------------------------------------------------
// Conditions
// ---------------------------------------------------------------------------------------

/// What a condition looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = ConditionField)]
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
    /// The band a live service-level row moved to.
    #[serde(rename = "service_level.band")]
    Band,
    /// The band it moved from.
    #[serde(rename = "service_level.from")]
    BandFrom,
    /// The contract of a contract's service-level row (its name).
    #[serde(rename = "contract")]
    Contract,
}

/// How a condition compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = ConditionOp)]
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
const CHANNELS: &[&str] = Channel::NAMES;
const VISIBILITIES: &[&str] = Visibility::NAMES;
pub(super) const PRIORITIES: &[&str] = Priority::NAMES;
const STATUSES: &[&str] = &["open", "pending", "snoozed", "resolved"];
const AUTHORS: &[&str] = &["customer", "agent", "bot", "system"];
const METRICS: &[&str] = &["first_response", "next_response", "resolution"];
const BANDS: &[&str] = &["on_target", "warning", "act", "all_hands"];

impl Field {
    pub const ALL: [Field; 16] = [
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
        Field::Band,
        Field::BandFrom,
        Field::Contract,
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
            Field::Band => "service_level.band",
            Field::BandFrom => "service_level.from",
            Field::Contract => "contract",
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
            | Field::SlaMetric
            | Field::Band
            | Field::BandFrom => ENUM_OPS,
            Field::Team | Field::Owner | Field::Contract => OPTIONAL_OPS,
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
            Field::Band | Field::BandFrom => Some(BANDS),
            _ => None,
        }
    }

    /// Whether the field means something on `event`: `message.*` needs an event that
    /// comes with a message, `sla.metric` an SLA event; a band change has a team, a
    /// channel, a contract, its bands and the time, and no conversation.
    pub fn applies_to(self, event: RuleEvent) -> bool {
        match self {
            Field::MessageText | Field::MessageAuthor => event.has_message(),
            Field::SlaMetric => event.is_sla(),
            Field::Band | Field::BandFrom | Field::Contract => event.is_band(),
            Field::Team | Field::Channel | Field::BusinessHours => true,
            _ => !event.is_band(),
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

    pub(super) fn negates(self) -> bool {
        matches!(self, Op::IsNot | Op::NotIn)
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A condition's value as written (trimmed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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
    pub(super) test: Test,
}

/// A condition compiled for evaluation; text is lowercased (and, for words, whitespace
/// collapsed) at parse time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Test {
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

/// Lowercase, with runs of whitespace as one space and none at the ends; applied alike to
/// message texts and to the words rules look for.
pub(super) fn normalize_words(s: &str) -> String {
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
pub(super) fn lower(s: &str) -> Option<Cow<'_, str>> {
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

pub(super) fn lowercase(s: &str) -> String {
    s.trim().chars().flat_map(char::to_lowercase).collect()
}

// ---------------------------------------------------------------------------------------
// Actions and templates
// ---------------------------------------------------------------------------------------

/// What a firing rule does; JSON tagged by `type`, e.g. `{"type": "apply_policy", "policy": 12}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
#[schema(as = RuleAction)]
pub enum Action {
    ApplyPolicy {
        policy: i64,
    },
    SetPriority {
        priority: Priority,
    },
    AddLabel {
        #[schema(schema_with = crate::schema::label)]
        label: String,
    },
    RemoveLabel {
        #[schema(schema_with = crate::schema::label)]
        label: String,
    },
    AssignTeam {
        #[schema(schema_with = crate::schema::team)]
        team: String,
    },
    /// Assigns the agent with this e-mail (lowercase).
    AssignOwner {
        #[schema(schema_with = crate::schema::email)]
        owner: String,
    },
    /// The conversation returns to the queue.
    RemoveOwner,
    /// A system message to the customer.
    SendMessage {
        template: Template,
    },
    /// A signed JSON POST; the server signs, sends and retries. The server refuses (422 on
    /// this `url`) a host that is not a public address unless its egress allow-list names it.
    Webhook {
        #[schema(schema_with = crate::schema::url)]
        url: String,
        /// Signs the timestamp and the body (HMAC-SHA256 over `"<timestamp>.<body>"`). Reads
        /// show `********`; sending `********` back on PUT keeps the stored secret of the
        /// webhook with the same URL.
        #[schema(schema_with = crate::schema::secret)]
        secret: String,
    },
    /// An in-app notification (and a browser one for those who opted in) to people: the
    /// agents with these e-mails, the members of a team, or the conversation's owner;
    /// exactly one of `users`, `team` and `owner`.
    Notify {
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        #[schema(schema_with = crate::schema::emails)]
        users: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(schema_with = crate::schema::optional_team)]
        team: Option<String>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        owner: bool,
        text: Template,
    },
}

/// Who a `notify` action tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recipients<'a> {
    /// The agents with these e-mails (lowercase).
    Users(&'a [String]),
    /// Every member of the team.
    Team(&'a str),
    /// The conversation's owner, after the rule's actions.
    Owner,
}

impl Action {
    /// The recipients of a `notify` action.
    pub fn recipients(&self) -> Option<Recipients<'_>> {
        match self {
            Action::Notify {
                users, team, owner, ..
            } => Some(if *owner {
                Recipients::Owner
            } else if let Some(team) = team {
                Recipients::Team(team)
            } else {
                Recipients::Users(users)
            }),
            _ => None,
        }
    }

    /// Whether the action works on a band change (which has no conversation).
    pub fn fits_band_events(&self) -> bool {
        matches!(
            self,
            Action::Notify { owner: false, .. } | Action::Webhook { .. }
        )
    }

    pub const TYPES: [&'static str; 10] = [
        "apply_policy",
        "set_priority",
        "add_label",
        "remove_label",
        "assign_team",
        "assign_owner",
        "remove_owner",
        "send_message",
        "webhook",
        "notify",
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
    /// The live service-level row of a band change: "Everyone", a team, a channel, a contract.
    ServiceLevelRow,
    /// Its service level and band now: "76.0 % (Act)".
    ServiceLevelBand,
}

impl Placeholder {
    pub const ALL: [Placeholder; 8] = [
        Placeholder::ContactName,
        Placeholder::ContactEmail,
        Placeholder::ConversationId,
        Placeholder::ConversationLink,
        Placeholder::SlaMetric,
        Placeholder::SlaDueIn,
        Placeholder::ServiceLevelRow,
        Placeholder::ServiceLevelBand,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Placeholder::ContactName => "contact.name",
            Placeholder::ContactEmail => "contact.email",
            Placeholder::ConversationId => "conversation.id",
            Placeholder::ConversationLink => "conversation.link",
            Placeholder::SlaMetric => "sla.metric",
            Placeholder::SlaDueIn => "sla.due_in",
            Placeholder::ServiceLevelRow => "service_level.row",
            Placeholder::ServiceLevelBand => "service_level.band",
        }
    }

    /// Whether the placeholder has a value on `event`: the service level's on a band
    /// change, the conversation's on every other event.
    pub fn applies_to(self, event: RuleEvent) -> bool {
        matches!(
            self,
            Placeholder::ServiceLevelRow | Placeholder::ServiceLevelBand
        ) == event.is_band()
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
        self.render_with(|p| env.value_of(p))
    }

    /// The text with every placeholder filled in by `value`.
    pub fn render_with<'v>(&self, value: impl Fn(Placeholder) -> Cow<'v, str>) -> String {
        let mut out = String::with_capacity(self.source.len() + 32);
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Value(p) => out.push_str(&value(*p)),
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

impl utoipa::PartialSchema for Template {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        crate::schema::template()
    }
}

/// Text with placeholders: `{{contact.name}}`, `{{contact.email}}`, `{{conversation.id}}`,
/// `{{conversation.link}}`, `{{sla.metric}}`, `{{sla.due_in}}`; on band changes
/// `{{service_level.row}}` and `{{service_level.band}}`.
impl utoipa::ToSchema for Template {}

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

// ---------------------------------------------------------------------------------------
// Rules
// ---------------------------------------------------------------------------------------

/// How a rule combines its conditions.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Match {
    #[default]
    All,
    Any,
}

/// A rule as an admin writes it (its id and order are the store's). Built by [`parse_rule`];
/// deserializing runs the same validation, without checking that policies and calendars
/// exist (a stored rule keeps loading after its policy is deleted).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RuleDefinition {
    pub name: String,
    pub enabled: bool,
    pub event: RuleEvent,
    /// The overdue level of an `sla.overdue` rule; `None` for every other event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<SlaDuration>,
    #[serde(rename = "match")]
    pub matching: Match,
    #[schema(schema_with = conditions_schema)]
    pub conditions: Vec<Condition>,
    pub actions: Vec<Action>,
    /// A firing rule with `stop` ends the walk: later rules do not run.
    pub stop: bool,
}

/// A rule's conditions: each as `RuleCondition` (which the server's API document builds
/// from [`Field`], [`Op`] and their value kinds).
fn conditions_schema() -> utoipa::openapi::Array {
    crate::schema::list_of("RuleCondition")
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
        self.conditions_hold(event, ctx)
    }

    pub(super) fn conditions_hold(&self, event: &FiredEvent, ctx: &dyn Subject) -> bool {
        if self.conditions.is_empty() {
            return true;
        }
        match self.matching {
            Match::All => self.conditions.iter().all(|c| c.holds(event, ctx)),
            Match::Any => self.conditions.iter().any(|c| c.holds(event, ctx)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation::{Channel, Visibility};
    use crate::rules::test_support::*;
    use crate::timeline::{Author, ConversationStatus};
    use serde_json::json;

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
                let event = RuleEvent::ALL
                    .into_iter()
                    .find(|e| field.applies_to(*e))
                    .unwrap()
                    .as_str();
                let r = parse(json!({"name": "x", "event": event,
                    "conditions": [cond(field.as_str(), op.as_str(), value)], "stop": true}));
                assert!(r.is_ok(), "{field} {op}: {r:?}");
            }
        }
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
}
