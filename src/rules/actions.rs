//! Applying actions: the conversation state actions change, the SLA facts and environment
//! templates and webhooks are filled from, and [`apply_actions`] with its side effects.

use super::eval::Fired;
use super::model::*;
use crate::clock::{Metric, SlaState};
use crate::conversation::{ConversationSummary, ConversationView, Priority};
use crate::duration::badge_text;
use crate::instant;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::borrow::Cow;

/// The part of a conversation that actions change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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

    pub(super) fn value_of(&self, placeholder: Placeholder) -> Cow<'_, str> {
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
            Placeholder::ServiceLevelRow | Placeholder::ServiceLevelBand => Cow::Borrowed(""),
        }
    }
}

/// Something for the server to do after the rules ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SideEffect {
    /// Post a system message with this text to the customer.
    SendMessage { rule: i64, text: String },
    /// POST `body` (JSON) to `url`, signed with HMAC-SHA256 of `secret` over a timestamp
    /// and the body.
    Webhook {
        rule: i64,
        url: String,
        secret: String,
        body: String,
    },
    /// Tell these agents (by e-mail) and the members of `team`, in the app.
    Notify {
        rule: i64,
        users: Vec<String>,
        team: Option<String>,
        text: String,
    },
}

impl SideEffect {
    /// A `notify` action's effect: its recipients (`owner`: the conversation's owner now, if
    /// any; `None` when it has nobody to tell) and its text.
    pub fn notify(
        rule: i64,
        action: &Action,
        owner: Option<&str>,
        text: String,
    ) -> Option<SideEffect> {
        let (users, team) = match action.recipients()? {
            Recipients::Users(users) => (users.to_vec(), None),
            Recipients::Team(team) => (Vec::new(), Some(team.to_string())),
            Recipients::Owner => (vec![owner?.to_lowercase()], None),
        };
        Some(SideEffect::Notify {
            rule,
            users,
            team,
            text,
        })
    }
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
            Action::SendMessage { .. } | Action::Webhook { .. } | Action::Notify { .. } => {}
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
            Action::Notify { text, .. } => {
                SideEffect::notify(f.id, action, next.owner.as_deref(), text.render(env))
            }
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

fn metric_words(metric: Metric) -> &'static str {
    match metric {
        Metric::FirstResponse => "first response",
        Metric::NextResponse => "next response",
        Metric::Resolution => "resolution",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::*;
    use crate::rules::{evaluate, RuleContext};
    use serde_json::json;

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
}
