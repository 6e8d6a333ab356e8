//! Rules on the live service level: a row of the wallboard (everyone, a team, a channel, a
//! contract) moving to another band is a [`BandChange`], found by [`band_changes`] from the
//! board and the bands last seen, fired once per change and interval (its [`BandChange::key`])
//! and run through the rules like a conversation's events ([`evaluate_band`]), with
//! `team`, `channel`, `contract`, `service_level.*` and `business_hours` conditions and
//! `notify` and `webhook` actions ([`band_effects`]).

use super::actions::SideEffect;
use super::eval::{walk, Outcome, Subject};
use super::model::*;
use crate::compliance::{Band, Board, BoardRow};
use crate::conversation::Channel;
use crate::instant;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::borrow::Cow;
use std::collections::HashMap;

/// A live service-level row that moved from one band to another.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BandChange {
    /// `all`, `team`, `channel` or `contract`.
    pub row: String,
    /// The team, channel word or contract id; `null` for everyone and for "no team".
    pub key: Option<String>,
    /// What the wallboard calls the row: "Everyone", a team, a channel, a contract's name.
    pub label: String,
    pub from: Band,
    pub to: Band,
    /// Percent answered within `within_s` today so far.
    pub service_level: Option<f64>,
    pub target: f64,
    pub within_s: i64,
    /// The interval the change happened in (its start, and its local "HH:MM").
    #[serde(with = "instant::rfc3339")]
    pub interval_start: DateTime<Utc>,
    pub interval: String,
    #[serde(with = "instant::rfc3339")]
    pub at: DateTime<Utc>,
}

impl BandChange {
    /// The row's identity across boards: `team:Billing`, `all:`, `contract:3`.
    pub fn row_id(row: &BoardRow) -> String {
        format!("{}:{}", row.kind, row.key.as_deref().unwrap_or(""))
    }

    /// The key this change fires under, once across servers: the row, the interval and the
    /// two bands.
    pub fn key(&self) -> String {
        format!(
            "{}:{}:{}:{}:{}",
            self.row,
            self.key.as_deref().unwrap_or(""),
            self.interval_start.timestamp(),
            self.from.as_str(),
            self.to.as_str()
        )
    }

    /// Its identity as [`BandChange::row_id`] gives it.
    pub fn row_key(&self) -> String {
        format!("{}:{}", self.row, self.key.as_deref().unwrap_or(""))
    }

    pub fn event(&self) -> FiredEvent {
        FiredEvent::BandChanged {
            from: self.from,
            to: self.to,
        }
    }

    /// The team of a team's row.
    pub fn team(&self) -> Option<&str> {
        (self.row == "team")
            .then_some(self.key.as_deref())
            .flatten()
    }

    /// The channel of a channel's row.
    pub fn channel(&self) -> Option<Channel> {
        (self.row == "channel")
            .then(|| self.key.as_deref().and_then(Channel::parse))
            .flatten()
    }

    /// The contract's name of a contract's row.
    pub fn contract(&self) -> Option<&str> {
        (self.row == "contract").then_some(self.label.as_str())
    }

    /// "76.0 % (Act)".
    pub fn level_text(&self) -> String {
        match self.service_level {
            Some(level) => format!("{level:.1} % ({})", self.to.label()),
            None => self.to.label().to_string(),
        }
    }

    /// The notification's title: "Billing: On target → Act".
    pub fn title(&self) -> String {
        format!(
            "{}: {} → {}",
            self.label,
            self.from.label(),
            self.to.label()
        )
    }

    /// A template's value on this change.
    pub fn value_of(&self, placeholder: Placeholder) -> Cow<'_, str> {
        match placeholder {
            Placeholder::ServiceLevelRow => Cow::Borrowed(&self.label),
            Placeholder::ServiceLevelBand => Cow::Owned(self.level_text()),
            _ => Cow::Borrowed(""),
        }
    }
}

/// The rows of `board` whose band today so far differs from the band last seen for them
/// (`last`, by [`BandChange::row_id`]). A row with nothing to measure, or seen for the first
/// time, changes nothing.
pub fn band_changes(board: &Board, last: &HashMap<String, Band>) -> Vec<BandChange> {
    board
        .rows
        .iter()
        .filter_map(|row| {
            let to = row.live.total.band;
            let from = *last.get(&BandChange::row_id(row))?;
            if to == Band::NoData || from == Band::NoData || to == from {
                return None;
            }
            let interval = row
                .live
                .intervals
                .iter()
                .rev()
                .find(|i| i.start <= board.at)
                .or(row.live.intervals.last())?;
            Some(BandChange {
                row: row.kind.clone(),
                key: row.key.clone(),
                label: row.label.clone(),
                from,
                to,
                service_level: row.live.total.service_level,
                target: row.target,
                within_s: row.within_s,
                interval_start: interval.start,
                interval: interval.label.clone(),
                at: board.at,
            })
        })
        .collect()
}

/// What a rule's conditions see of a band change.
pub struct BandContext<'a> {
    change: &'a BandChange,
    team: Option<String>,
    contract: Option<String>,
    business_hours: &'a dyn Fn(i64) -> Option<bool>,
}

impl<'a> BandContext<'a> {
    /// `open_now` answers "is calendar `id` open now?" as for conversations.
    pub fn new(change: &'a BandChange, open_now: &'a dyn Fn(i64) -> Option<bool>) -> Self {
        BandContext {
            change,
            team: change.team().and_then(lower).map(Cow::into_owned),
            contract: change.contract().and_then(lower).map(Cow::into_owned),
            business_hours: open_now,
        }
    }
}

impl Subject for BandContext<'_> {
    fn enum_index(&self, field: Field, _: &FiredEvent) -> Option<usize> {
        match field {
            Field::Channel => self.change.channel().map(|c| c as usize),
            Field::Band => Some(self.change.to as usize),
            Field::BandFrom => Some(self.change.from as usize),
            _ => None,
        }
    }

    fn text(&self, field: Field) -> Option<&str> {
        match field {
            Field::Team => self.team.as_deref(),
            Field::Contract => self.contract.as_deref(),
            _ => None,
        }
    }

    fn open_now(&self, calendar: i64) -> Option<bool> {
        (self.business_hours)(calendar)
    }
}

/// The rules that fire for `change`, as [`super::evaluate`] walks them.
pub fn evaluate_band<'r>(
    rules: &'r [(i64, RuleDefinition)],
    change: &BandChange,
    ctx: &BandContext<'_>,
) -> Outcome<'r> {
    walk(rules, &change.event(), ctx)
}

/// The notifications and webhooks of the rules that fired for `change`, in action order.
/// A webhook posts `{"event": "service_level.band_changed", "from", "to", "rule",
/// "service_level": the change}`.
pub fn band_effects(outcome: &Outcome<'_>, change: &BandChange) -> Vec<SideEffect> {
    outcome
        .actions()
        .filter_map(|(rule, action)| match action {
            Action::Notify { text, .. } => {
                SideEffect::notify(rule, action, None, text.render_with(|p| change.value_of(p)))
            }
            Action::Webhook { url, secret } => {
                let name = outcome
                    .fired
                    .iter()
                    .find(|f| f.id == rule)
                    .map_or("", |f| f.rule.name.as_str());
                let body = json!({
                    "event": RuleEvent::BandChanged.as_str(),
                    "from": change.from,
                    "to": change.to,
                    "rule": {"id": rule, "name": name},
                    "at": instant::format_utc(change.at),
                    "service_level": change,
                });
                Some(SideEffect::Webhook {
                    rule,
                    url: url.clone(),
                    secret: secret.clone(),
                    body: body.to_string(),
                })
            }
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compliance::{
        service_level_today, ConversationFacts, IntervalLength, LiveSpec, ServiceLevelFormula,
    };
    use crate::rules::parse_rule;
    use serde_json::{json, Value};

    fn board_at(level: Option<f64>, band: Band, at: DateTime<Utc>) -> Board {
        let spec = LiveSpec {
            zone: chrono_tz::Europe::Amsterdam,
            interval: IntervalLength::Min30,
            within_s: 300,
            formula: ServiceLevelFormula::AbandonedAfterCountMissed,
            target: 80.0,
        };
        let mut live = service_level_today(&spec, &Vec::<ConversationFacts>::new(), at);
        live.total.service_level = level;
        live.total.band = band;
        let row = |kind: &str, key: Option<&str>, label: &str| BoardRow {
            kind: kind.into(),
            key: key.map(Into::into),
            label: label.into(),
            within_s: 300,
            target: 80.0,
            formula: ServiceLevelFormula::AbandonedAfterCountMissed,
            live: live.clone(),
            waiting_now: 0,
            longest_wait_s: None,
            breaches: 0,
            agents: None,
        };
        Board {
            at,
            zone: "Europe/Amsterdam".into(),
            interval: IntervalLength::Min30,
            spec_from: None,
            rows: vec![
                row("all", None, "Everyone"),
                row("team", Some("Billing"), "Billing"),
                row("channel", Some("whatsapp"), "WhatsApp"),
                row("contract", Some("3"), "BigCorp"),
            ],
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn rule(v: Value) -> RuleDefinition {
        parse_rule(&v, |_| true, |_| true).unwrap()
    }

    #[test]
    fn a_row_changes_when_its_band_differs_from_the_last_seen_one() {
        let board = board_at(Some(76.0), Band::Act, at("2026-03-29T09:40:00Z"));
        let mut last = HashMap::new();
        assert!(band_changes(&board, &last).is_empty(), "first sight");
        last.insert("team:Billing".to_string(), Band::OnTarget);
        last.insert("all:".to_string(), Band::Act);
        last.insert("channel:whatsapp".to_string(), Band::NoData);
        let changes = band_changes(&board, &last);
        assert_eq!(changes.len(), 1, "{changes:?}");
        let c = &changes[0];
        assert_eq!((c.from, c.to), (Band::OnTarget, Band::Act));
        assert_eq!(c.team(), Some("Billing"));
        assert_eq!(c.channel(), None);
        // 09:40 UTC is 11:40 in Amsterdam (summer time since that morning): the 11:30 interval.
        assert_eq!(c.interval, "11:30");
        assert_eq!(c.interval_start, at("2026-03-29T09:30:00Z"));
        assert_eq!(
            c.key(),
            format!(
                "team:Billing:{}:on_target:act",
                c.interval_start.timestamp()
            )
        );
        assert_eq!(c.title(), "Billing: On target → Act");
        assert_eq!(c.level_text(), "76.0 % (Act)");
        let no_data = board_at(None, Band::NoData, at("2026-03-29T09:40:00Z"));
        assert!(band_changes(&no_data, &last).is_empty());
    }

    #[test]
    fn band_rules_see_the_row_and_the_bands() {
        let board = board_at(Some(70.0), Band::AllHands, at("2026-12-07T10:05:00Z"));
        let last: HashMap<String, Band> = [
            ("team:Billing", Band::Warning),
            ("channel:whatsapp", Band::OnTarget),
            ("contract:3", Band::Act),
        ]
        .into_iter()
        .map(|(k, b)| (k.to_string(), b))
        .collect();
        let changes = band_changes(&board, &last);
        assert_eq!(changes.len(), 3);
        let rules = vec![
            (
                1,
                rule(
                    json!({"name": "billing to all hands", "event": "service_level.band_changed",
                "conditions": [{"field": "team", "op": "is", "value": "billing"},
                               {"field": "service_level.band", "op": "is", "value": "all_hands"}],
                "actions": [{"type": "notify", "team": "Billing", "text": "{{service_level.row}} is at {{service_level.band}}"}]}),
                ),
            ),
            (
                2,
                rule(
                    json!({"name": "whatsapp worse", "event": "service_level.band_changed",
                "conditions": [{"field": "channel", "op": "is", "value": "whatsapp"},
                               {"field": "service_level.from", "op": "in", "value": ["on_target", "warning"]}],
                "actions": [{"type": "webhook", "url": "https://hooks.example/wfm", "secret": "s"}]}),
                ),
            ),
            (
                3,
                rule(
                    json!({"name": "bigcorp", "event": "service_level.band_changed",
                "conditions": [{"field": "contract", "op": "is", "value": "BIGCORP"}],
                "actions": [{"type": "notify", "users": ["Lead@X.io"], "text": "contract"}]}),
                ),
            ),
            (
                4,
                rule(
                    json!({"name": "never: a conversation event", "event": "sla.breached",
                "actions": [{"type": "notify", "owner": true, "text": "x"}]}),
                ),
            ),
        ];
        let closed = |_: i64| Some(false);
        let fired = |c: &BandChange| -> Vec<i64> {
            let ctx = BandContext::new(c, &closed);
            evaluate_band(&rules, c, &ctx)
                .fired
                .iter()
                .map(|f| f.id)
                .collect()
        };
        let by_row = |row: &str| changes.iter().find(|c| c.row == row).unwrap();
        assert_eq!(fired(by_row("team")), vec![1]);
        assert_eq!(fired(by_row("channel")), vec![2]);
        assert_eq!(fired(by_row("contract")), vec![3]);

        let team = by_row("team");
        let ctx = BandContext::new(team, &closed);
        let effects = band_effects(&evaluate_band(&rules, team, &ctx), team);
        assert_eq!(
            effects,
            vec![SideEffect::Notify {
                rule: 1,
                users: vec![],
                team: Some("Billing".into()),
                text: "Billing is at 70.0 % (All hands)".into()
            }]
        );
        let channel = by_row("channel");
        let ctx = BandContext::new(channel, &closed);
        let effects = band_effects(&evaluate_band(&rules, channel, &ctx), channel);
        let SideEffect::Webhook { body, .. } = &effects[0] else {
            panic!("{effects:?}")
        };
        let body: Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["event"], "service_level.band_changed");
        assert_eq!(body["from"], "on_target");
        assert_eq!(body["to"], "all_hands");
        assert_eq!(body["service_level"]["key"], "whatsapp");
        assert_eq!(body["rule"]["name"], "whatsapp worse");
        let contract = by_row("contract");
        let ctx = BandContext::new(contract, &closed);
        let effects = band_effects(&evaluate_band(&rules, contract, &ctx), contract);
        assert!(
            matches!(&effects[0], SideEffect::Notify { users, .. } if users == &vec!["lead@x.io".to_string()])
        );
    }

    #[test]
    fn band_rules_refuse_what_a_band_change_does_not_have() {
        let paths = |v: Value| -> Vec<String> {
            parse_rule(&v, |_| true, |_| true)
                .unwrap_err()
                .into_iter()
                .map(|e| e.field)
                .collect()
        };
        assert_eq!(
            paths(json!({"name": "x", "event": "service_level.band_changed",
                "conditions": [{"field": "priority", "op": "is", "value": "high"}],
                "actions": [{"type": "assign_team", "team": "A"},
                            {"type": "notify", "owner": true, "text": "t"},
                            {"type": "notify", "team": "A", "text": "{{contact.name}}"}]})),
            vec![
                "conditions[0].field",
                "actions[0].type",
                "actions[1].owner",
                "actions[2].text"
            ]
        );
        assert_eq!(
            paths(json!({"name": "x", "event": "sla.breached",
                "conditions": [{"field": "service_level.band", "op": "is", "value": "act"}],
                "actions": [{"type": "notify", "owner": true, "users": ["a@x.io"], "text": "t"},
                            {"type": "notify", "users": [], "text": "t"},
                            {"type": "send_message", "template": "{{service_level.band}}"}]})),
            vec![
                "conditions[0].field",
                "actions[0]",
                "actions[1].users",
                "actions[2].template"
            ]
        );
        let r = rule(json!({"name": "x", "event": "sla.breached",
            "actions": [{"type": "notify", "owner": true, "text": "Breached: {{conversation.link}}"}]}));
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(
            v["actions"][0],
            json!({"type": "notify", "owner": true, "text": "Breached: {{conversation.link}}"})
        );
        assert_eq!(rule(v), r, "round trip");
    }
}
