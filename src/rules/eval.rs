//! Evaluation: what rules see of a conversation ([`RuleContext`]), whether a condition
//! matches, and [`evaluate`], the walk over the rules for one event.

use super::actions::{apply_actions, ActionEnv, Applied, ConversationState};
use super::model::*;
use crate::conversation::ConversationSummary;
use crate::timeline::Author;
use std::borrow::Cow;
use std::fmt;

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
    pub(super) conversation: &'a ConversationSummary,
    pub(super) message: Option<TriggerMessage<'a>>,
    pub(super) business_hours: &'a dyn Fn(i64) -> Option<bool>,
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
    pub(super) fn enum_index(&self, field: Field, event: &FiredEvent) -> Option<usize> {
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
}

/// What a condition reads: a conversation ([`RuleContext`]) or a live service-level row
/// (`band::BandContext`); texts lowercased.
pub(super) trait Subject {
    /// The position of an enum field's value among [`Field::choices`].
    fn enum_index(&self, field: Field, event: &FiredEvent) -> Option<usize>;
    /// A text field's value, lowercased.
    fn text(&self, field: Field) -> Option<&str>;
    fn labels(&self) -> &[Cow<'_, str>] {
        &[]
    }
    /// The message's text, normalised.
    fn words(&self) -> Option<&str> {
        None
    }
    /// Whether calendar `id` is open now (`None`: not known).
    fn open_now(&self, calendar: i64) -> Option<bool>;
}

impl Subject for RuleContext<'_> {
    fn enum_index(&self, field: Field, event: &FiredEvent) -> Option<usize> {
        RuleContext::enum_index(self, field, event)
    }
    fn text(&self, field: Field) -> Option<&str> {
        RuleContext::text(self, field)
    }
    fn labels(&self) -> &[Cow<'_, str>] {
        &self.labels
    }
    fn words(&self) -> Option<&str> {
        self.text.as_deref()
    }
    fn open_now(&self, calendar: i64) -> Option<bool> {
        (self.business_hours)(calendar)
    }
}

impl Condition {
    /// Whether the condition holds for `event` on the conversation of `ctx`.
    pub fn matches(&self, event: &FiredEvent, ctx: &RuleContext<'_>) -> bool {
        self.holds(event, ctx)
    }

    pub(super) fn holds(&self, event: &FiredEvent, ctx: &dyn Subject) -> bool {
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
                    .labels()
                    .iter()
                    .any(|l| values.iter().any(|v| v == l.as_ref()));
                any != *none_of
            }
            Test::HasLabels(some) => ctx.labels().is_empty() != *some,
            Test::Words(words) => ctx
                .words()
                .is_some_and(|t| words.iter().any(|w| contains_word(t, w))),
            Test::BusinessHours { calendar, open } => ctx.open_now(*calendar) == Some(*open),
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
    walk(rules, event, ctx)
}

/// [`evaluate`] for any subject.
pub(super) fn walk<'r>(
    rules: &'r [(i64, RuleDefinition)],
    event: &FiredEvent,
    ctx: &dyn Subject,
) -> Outcome<'r> {
    let mut outcome = Outcome::default();
    for (id, rule) in rules {
        if !rule.enabled || !rule.listens_to(event) || !rule.conditions_hold(event, ctx) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Metric;
    use crate::duration::SlaDuration;
    use crate::rules::test_support::*;
    use serde_json::json;
    use serde_json::Value;

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
            let labels = |op: &str, value: Value| holds(cond("labels", op, value), &ctx);
            assert!(labels("contains", json!("vip")));
            assert!(!labels("contains", json!("vi")), "whole labels");
            assert!(labels("contains_any", json!(["spam", "Billing"])));
            assert!(!labels("contains_any", json!(["spam", "test"])));
            assert!(labels("not_in", json!(["spam", "test"])));
            assert!(!labels("not_in", json!(["spam", "vip"])));
            assert!(labels("is_set", Value::Null));
            assert!(!labels("is_not_set", Value::Null));
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
        let contains = |word: &str| holds(cond("message.text", "contains", json!(word)), &ctx);
        assert!(contains("refund"));
        assert!(!contains("fund"));
        // Without a message, message conditions never hold.
        let ctx = RuleContext::new(&s);
        let ask = |c: Value| holds(c, &ctx);
        assert!(!ask(cond("message.text", "contains", json!("refund"))));
        assert!(!ask(cond("message.author", "is", json!("customer"))));
    }

    #[test]
    fn message_author_is_the_trigger_messages_author() {
        let s = summary();
        let ctx = RuleContext::new(&s).with_message(Author::Bot, "hello");
        let author = |op: &str, value: Value| holds(cond("message.author", op, value), &ctx);
        assert!(author("is", json!("bot")));
        assert!(author("not_in", json!(["customer", "agent"])));
        assert!(!author("is", json!("customer")));
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
}
