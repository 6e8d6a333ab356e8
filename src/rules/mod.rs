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
//!
//! - `service_level.band_changed` has no conversation: it fires when a row of the live
//!   service level moves to another band (once per change and interval), and its rules see
//!   `team`, `channel`, `contract`, `service_level.band` (the new band),
//!   `service_level.from` and `business_hours`, and may only `notify` (users or a team) and
//!   call a `webhook`.
//! - `notify` tells people in the app: the agents in `users`, the members of `team`, or the
//!   conversation's `owner` (after the rule's actions; nobody when it has none).
//!
//! The code is split by concern: `model` (what a rule is made of), `validate` (parsing and
//! validation), `eval` (conditions and the walk over the rules), `explain` (the dry run),
//! `actions` (applying actions and their side effects) and `band` (band changes). Every item is re-exported here, so
//! `promptly::rules::X` is the path to use.

mod actions;
mod band;
mod eval;
mod explain;
mod model;
#[cfg(test)]
mod test_support;
pub(crate) mod validate;

pub use actions::{apply_actions, ActionEnv, Applied, ConversationState, SideEffect, SlaFacts};
pub use band::{band_changes, band_effects, evaluate_band, BandChange, BandContext};
pub use eval::{evaluate, Fired, Outcome, RuleContext, TriggerMessage};
pub use explain::{explain, ConditionCheck, Explanation};
pub use model::{
    Action, Condition, ConditionValue, Field, FiredEvent, Match, Op, Placeholder, Recipients,
    RuleDefinition, RuleEvent, Template, ValueKind,
};
pub use validate::{parse_rule, URL_PATTERN};
