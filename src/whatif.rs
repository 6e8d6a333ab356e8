//! Policy what-if: a period's conversations replayed under a draft policy and under the
//! current one, side by side, and target advice (the smallest target that would have met a
//! chosen attainment).
//!
//! A conversation is replayed from its SLA timeline with its `apply_policy` events taken
//! out, so one policy is in force throughout: [`crate::clock::cycles`] measures each clock
//! cycle under the policy's counting rules (business hours, pauses) once, and every target is
//! judged from the measurement ([`crate::clock::Cycle::judge`]). The outcomes are exactly
//! the engine's (`tests/engine_properties.rs` checks it), so replaying the policy a
//! conversation already had gives its stored outcomes.

use crate::calendar::BusinessCalendar;
use crate::clock::{cycles, Cycle, Judgement, Metric};
use crate::conversation::{Channel, Priority, Visibility};
use crate::duration::Target;
use crate::policy::Policy;
use crate::timeline::{Event, EventKind};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Attainment levels advised for when a request names none, in percent.
pub const DEFAULT_ADVICE_LEVELS: [f64; 3] = [80.0, 90.0, 95.0];
/// At most this many changed conversations are listed (`changed_count` counts them all).
pub const CHANGED_LISTED: usize = 1000;

/// Which conversations of the period a what-if replays; an empty list matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayScope {
    #[serde(default)]
    pub teams: Vec<String>,
    #[serde(default)]
    pub channels: Vec<Channel>,
    /// A conversation with any of these labels.
    #[serde(default)]
    pub labels: Vec<String>,
    #[serde(default)]
    pub priorities: Vec<Priority>,
}

impl ReplayScope {
    pub fn matches(&self, c: &ReplayConversation) -> bool {
        (self.teams.is_empty() || c.team.as_ref().is_some_and(|t| self.teams.contains(t)))
            && (self.channels.is_empty() || self.channels.contains(&c.channel))
            && (self.labels.is_empty() || c.labels.iter().any(|l| self.labels.contains(l)))
            && (self.priorities.is_empty() || self.priorities.contains(&c.priority))
    }
}

/// One conversation as a what-if needs it: what it is grouped by and its SLA timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayConversation {
    pub id: i64,
    pub channel: Channel,
    pub team: Option<String>,
    pub priority: Priority,
    pub visibility: Visibility,
    pub labels: Vec<String>,
    pub events: Vec<Event>,
}

/// A policy and the calendar its business hours count on.
#[derive(Clone, Copy)]
pub struct Replayed<'a> {
    pub policy: &'a Policy,
    pub calendar: Option<&'a BusinessCalendar>,
}

impl Replayed<'_> {
    /// Whether two policies count time the same way, so one measurement serves both.
    fn counts_like(&self, other: &Replayed) -> bool {
        let (a, b) = (self.policy, other.policy);
        a.business_hours_only == b.business_hours_only
            && a.pause_on == b.pause_on
            && (!a.business_hours_only
                || match (self.calendar, other.calendar) {
                    (None, None) => true,
                    (Some(x), Some(y)) => x.definition() == y.definition(),
                    _ => false,
                })
    }

    fn measure(&self, events: &[Event], at: DateTime<Utc>) -> Vec<Cycle> {
        cycles(self.policy, self.calendar, events, at)
    }
}

/// One target's figures over a set of conversations.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TargetReport {
    /// The target (`null` when the policy has none).
    pub target: Option<Target>,
    /// Met cycles as a percentage of decided ones (met, missed, or breached while running);
    /// `null` without a target or without a decided cycle.
    pub attainment: Option<f64>,
    pub met: u64,
    /// Cycles that missed their deadline or are past it now.
    pub breached: u64,
    /// Cycles still running within target.
    pub open: u64,
    /// Cycles that reached the warning threshold.
    pub warnings: u64,
    /// Finished cycles (what the times below and the advice are read from).
    pub finished: u64,
    /// Median and 90th percentile of counted time used by finished cycles (seconds).
    pub median_s: Option<i64>,
    pub p90_s: Option<i64>,
}

/// The three targets' figures over one set of conversations.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TargetsReport {
    pub conversations: u64,
    pub first_response: TargetReport,
    pub next_response: TargetReport,
    pub resolution: TargetReport,
}

impl TargetsReport {
    pub fn target(&self, metric: Metric) -> &TargetReport {
        match metric {
            Metric::FirstResponse => &self.first_response,
            Metric::NextResponse => &self.next_response,
            Metric::Resolution => &self.resolution,
        }
    }
}

/// A group of a breakdown: its key (a channel, team, priority or visibility word; "" for
/// no team) and its figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GroupReport {
    pub key: String,
    #[serde(flatten)]
    pub report: TargetsReport,
}

impl ReplayReport {
    pub fn target(&self, metric: Metric) -> &TargetReport {
        match metric {
            Metric::FirstResponse => &self.first_response,
            Metric::NextResponse => &self.next_response,
            Metric::Resolution => &self.resolution,
        }
    }
}

/// The figures of a policy over the replayed conversations: in total, then per channel,
/// team, priority and visibility.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReplayReport {
    pub conversations: u64,
    pub first_response: TargetReport,
    pub next_response: TargetReport,
    pub resolution: TargetReport,
    pub by_channel: Vec<GroupReport>,
    pub by_team: Vec<GroupReport>,
    pub by_priority: Vec<GroupReport>,
    pub by_visibility: Vec<GroupReport>,
}

/// The smallest target, in counted seconds, that would have met `attainment` percent of the
/// finished cycles, for one target and one group (`key` "" for all conversations).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Advice {
    pub metric: Metric,
    /// "all", "channel" or "priority".
    pub group: String,
    pub key: String,
    pub attainment: f64,
    /// `null` when the group has no finished cycle.
    pub target_s: Option<i64>,
    /// The finished cycles it is read from.
    pub cycles: u64,
}

/// A what-if's answer: the current and the draft policy over the same conversations, the
/// conversations whose outcome changes, and advice for the draft's counting rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WhatIf {
    pub current: ReplayReport,
    pub draft: ReplayReport,
    /// Conversations with a different outcome under the draft (first ones, by id).
    pub changed: Vec<i64>,
    pub changed_count: u64,
    pub advice: Vec<Advice>,
}

/// Counts of one target over one group while replaying.
#[derive(Default)]
struct Tally {
    met: u64,
    breached: u64,
    open: u64,
    warnings: u64,
    used: Vec<u32>,
    need: Vec<u32>,
}

/// Seconds as stored in a tally (counted time is at most a century: it fits).
fn secs32(s: i64) -> u32 {
    u32::try_from(s.max(0)).unwrap_or(u32::MAX)
}

impl Tally {
    fn add(&mut self, cycle: &Cycle, by: &Replayed) {
        if cycle.finished {
            self.used.push(secs32(cycle.used_s));
            self.need.push(secs32(cycle.need_s));
        }
        let Some(target) = cycle.target(by.policy, by.calendar) else {
            return;
        };
        match cycle.judge(target) {
            Judgement::Met => self.met += 1,
            Judgement::Missed | Judgement::Breached => self.breached += 1,
            Judgement::Open => self.open += 1,
        }
        if cycle.warned(target, by.policy.warning) {
            self.warnings += 1;
        }
    }

    fn report(&mut self, target: Option<Target>) -> TargetReport {
        let decided = self.met + self.breached;
        TargetReport {
            target,
            attainment: (target.is_some() && decided > 0)
                .then(|| round2(100.0 * self.met as f64 / decided as f64)),
            met: self.met,
            breached: self.breached,
            open: self.open,
            warnings: self.warnings,
            finished: self.used.len() as u64,
            median_s: quantile(&mut self.used, 0.5),
            p90_s: quantile(&mut self.used, 0.9),
        }
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The nearest-rank quantile: the smallest value with at least `q` of the values at or
/// below it.
fn quantile(values: &mut [u32], q: f64) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
    let (_, v, _) = values.select_nth_unstable(rank - 1);
    Some(i64::from(*v))
}

/// The smallest target meeting `attainment` percent of cycles whose needs are `need`: a
/// cycle is met by a target at least its need, so this is the need of rank
/// ⌈attainment·n/100⌉ (the exact order statistic).
pub fn advise(need: &mut [u32], attainment: f64) -> Option<i64> {
    quantile(need, attainment / 100.0)
}

#[derive(Default)]
struct Group {
    conversations: u64,
    targets: [Tally; 3],
}

impl Group {
    fn add(&mut self, measured: &[Cycle], by: &Replayed) {
        self.conversations += 1;
        for c in measured {
            self.targets[c.metric as usize].add(c, by);
        }
    }

    fn report(&mut self, policy: &Policy) -> TargetsReport {
        let mut t = |m: Metric| self.targets[m as usize].report(policy.target(m));
        let (first_response, next_response, resolution) = (
            t(Metric::FirstResponse),
            t(Metric::NextResponse),
            t(Metric::Resolution),
        );
        TargetsReport {
            conversations: self.conversations,
            first_response,
            next_response,
            resolution,
        }
    }
}

/// A policy's tallies while replaying: in total and per group of each breakdown.
#[derive(Default)]
struct Tallies {
    all: Group,
    by_channel: BTreeMap<&'static str, Group>,
    by_team: BTreeMap<String, Group>,
    by_priority: BTreeMap<&'static str, Group>,
    by_visibility: BTreeMap<&'static str, Group>,
}

impl Tallies {
    fn add(&mut self, c: &ReplayConversation, measured: &[Cycle], policy: &Replayed) {
        self.all.add(measured, policy);
        self.by_channel
            .entry(c.channel.as_str())
            .or_default()
            .add(measured, policy);
        let team = c.team.as_deref().unwrap_or_default();
        match self.by_team.get_mut(team) {
            Some(g) => g.add(measured, policy),
            None => self
                .by_team
                .entry(team.to_string())
                .or_default()
                .add(measured, policy),
        }
        self.by_priority
            .entry(c.priority.as_str())
            .or_default()
            .add(measured, policy);
        self.by_visibility
            .entry(c.visibility.as_str())
            .or_default()
            .add(measured, policy);
    }

    fn advice(&mut self, levels: &[f64]) -> Vec<Advice> {
        let mut out = Vec::new();
        let mut advise_group = |group: &str, key: &str, g: &mut Group| {
            for metric in Metric::ALL {
                let need = &mut g.targets[metric as usize].need;
                for &attainment in levels {
                    out.push(Advice {
                        metric,
                        group: group.to_string(),
                        key: key.to_string(),
                        attainment,
                        target_s: advise(need, attainment),
                        cycles: need.len() as u64,
                    });
                }
            }
        };
        advise_group("all", "", &mut self.all);
        for (key, g) in &mut self.by_channel {
            advise_group("channel", key, g);
        }
        for (key, g) in &mut self.by_priority {
            advise_group("priority", key, g);
        }
        out
    }

    fn report(mut self, policy: &Policy) -> ReplayReport {
        fn groups<K: ToString>(map: BTreeMap<K, Group>, policy: &Policy) -> Vec<GroupReport> {
            map.into_iter()
                .map(|(k, mut g)| GroupReport {
                    key: k.to_string(),
                    report: g.report(policy),
                })
                .collect()
        }
        let all = self.all.report(policy);
        ReplayReport {
            conversations: all.conversations,
            first_response: all.first_response,
            next_response: all.next_response,
            resolution: all.resolution,
            by_channel: groups(self.by_channel, policy),
            by_team: groups(self.by_team, policy),
            by_priority: groups(self.by_priority, policy),
            by_visibility: groups(self.by_visibility, policy),
        }
    }
}

/// The SLA timeline with its policy changes taken out (one policy throughout).
fn without_policy_changes(events: &[Event]) -> std::borrow::Cow<'_, [Event]> {
    if events
        .iter()
        .any(|e| matches!(e.kind, EventKind::ApplyPolicy { .. }))
    {
        events
            .iter()
            .filter(|e| !matches!(e.kind, EventKind::ApplyPolicy { .. }))
            .cloned()
            .collect::<Vec<_>>()
            .into()
    } else {
        events.into()
    }
}

/// A what-if in progress: conversations are added in chunks (so a caller can report
/// progress and stop), then [`Replay::finish`] gives the answer.
pub struct Replay<'a> {
    current: Replayed<'a>,
    draft: Replayed<'a>,
    shared: bool,
    at: DateTime<Utc>,
    scope: ReplayScope,
    tallies: [Tallies; 2],
    changed: Vec<i64>,
    changed_count: u64,
}

impl<'a> Replay<'a> {
    /// Outcomes are judged at `at` (clocks still running then are open or breached).
    pub fn new(
        current: Replayed<'a>,
        draft: Replayed<'a>,
        scope: ReplayScope,
        at: DateTime<Utc>,
    ) -> Self {
        Replay {
            shared: current.counts_like(&draft),
            current,
            draft,
            at,
            scope,
            tallies: Default::default(),
            changed: Vec::new(),
            changed_count: 0,
        }
    }

    /// Replays one conversation (skipped when outside the scope); whether it counted.
    pub fn add(&mut self, c: &ReplayConversation) -> bool {
        if !self.scope.matches(c) {
            return false;
        }
        let events = without_policy_changes(&c.events);
        let now = self.current.measure(&events, self.at);
        let then = if self.shared {
            None
        } else {
            Some(self.draft.measure(&events, self.at))
        };
        let then_ref = then.as_deref().unwrap_or(&now);
        self.tallies[0].add(c, &now, &self.current);
        self.tallies[1].add(c, then_ref, &self.draft);
        if !outcomes(&now, &self.current).eq(outcomes(then_ref, &self.draft)) {
            self.changed_count += 1;
            if self.changed.len() < CHANGED_LISTED {
                self.changed.push(c.id);
            }
        }
        true
    }

    /// The answer, with advice at `levels` percent for the draft's counting rules.
    pub fn finish(self, levels: &[f64]) -> WhatIf {
        let [current, mut draft] = self.tallies;
        let advice = draft.advice(levels);
        let mut changed = self.changed;
        changed.sort_unstable();
        WhatIf {
            current: current.report(self.current.policy),
            draft: draft.report(self.draft.policy),
            changed,
            changed_count: self.changed_count,
            advice,
        }
    }
}

/// A conversation's outcome under a policy: each judged cycle's result (a cycle without a
/// target has none).
fn outcomes<'a>(
    measured: &'a [Cycle],
    by: &'a Replayed,
) -> impl Iterator<Item = (Metric, Judgement)> + 'a {
    measured.iter().filter_map(|c| {
        let target = c.target(by.policy, by.calendar)?;
        let j = match c.judge(target) {
            Judgement::Missed | Judgement::Breached => Judgement::Missed,
            other => other,
        };
        Some((c.metric, j))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instant::utc;
    use crate::timeline::Author;

    fn at(hhmm: &str) -> DateTime<Utc> {
        utc(&format!("2026-11-18T{hhmm}:00Z"))
    }

    fn policy(json: &str) -> Policy {
        serde_json::from_str(json).unwrap()
    }

    /// A conversation created at 10:00 and answered `after_min` minutes later.
    fn answered(id: i64, after_min: i64, channel: Channel) -> ReplayConversation {
        let start = at("10:00");
        ReplayConversation {
            id,
            channel,
            team: Some("billing".into()),
            priority: Priority::Normal,
            visibility: Visibility::Direct,
            labels: vec![],
            events: vec![
                Event::created(start),
                Event::message(start + chrono::Duration::minutes(after_min), Author::Agent),
            ],
        }
    }

    #[test]
    fn advice_is_the_exact_order_statistic() {
        // Needs 1..=10 seconds: 80 % of 10 cycles is the 8th smallest, 95 % the 10th.
        let mut need: Vec<u32> = vec![7, 3, 10, 1, 9, 2, 8, 4, 6, 5];
        assert_eq!(advise(&mut need, 80.0), Some(8));
        assert_eq!(advise(&mut need, 95.0), Some(10));
        assert_eq!(advise(&mut need, 10.0), Some(1));
        assert_eq!(advise(&mut need, 81.0), Some(9));
        assert_eq!(advise(&mut [], 90.0), None);
    }

    #[test]
    fn a_draft_with_a_longer_target_changes_who_meets_it() {
        let current = policy(r#"{"first_response": "10m"}"#);
        let draft = policy(r#"{"first_response": "30m"}"#);
        let mut replay = Replay::new(
            Replayed {
                policy: &current,
                calendar: None,
            },
            Replayed {
                policy: &draft,
                calendar: None,
            },
            ReplayScope::default(),
            at("18:00"),
        );
        // Answered after 5, 20, 45 minutes, and one on another channel outside the scope.
        for (id, mins) in [(1, 5), (2, 20), (3, 45)] {
            assert!(replay.add(&answered(id, mins, Channel::Whatsapp)));
        }
        let out = replay.finish(&[50.0, 100.0]);
        assert_eq!(out.current.first_response.met, 1);
        assert_eq!(out.current.first_response.breached, 2);
        assert_eq!(out.current.first_response.attainment, Some(33.33));
        assert_eq!(out.draft.first_response.met, 2);
        assert_eq!(out.draft.first_response.attainment, Some(66.67));
        assert_eq!(out.changed, vec![2]);
        assert_eq!(out.draft.first_response.median_s, Some(20 * 60));
        // Without a next-response target: no attainment.
        assert_eq!(out.draft.next_response.attainment, None);
        let advice = |level: f64| {
            out.advice
                .iter()
                .find(|a| {
                    a.metric == Metric::FirstResponse && a.group == "all" && a.attainment == level
                })
                .unwrap()
                .target_s
        };
        // Answered at exactly 20 minutes: a 20-minute target meets it.
        assert_eq!(advice(50.0), Some(20 * 60));
        assert_eq!(advice(100.0), Some(45 * 60));
        assert_eq!(out.draft.by_channel.len(), 1);
        assert_eq!(out.draft.by_channel[0].key, "whatsapp");
    }

    #[test]
    fn the_scope_picks_conversations() {
        let p = policy(r#"{"first_response": "10m"}"#);
        let r = Replayed {
            policy: &p,
            calendar: None,
        };
        let scope = ReplayScope {
            channels: vec![Channel::Email],
            ..Default::default()
        };
        let mut replay = Replay::new(r, r, scope, at("18:00"));
        assert!(!replay.add(&answered(1, 5, Channel::Whatsapp)));
        assert!(replay.add(&answered(2, 5, Channel::Email)));
        let out = replay.finish(&DEFAULT_ADVICE_LEVELS);
        assert_eq!(out.current.conversations, 1);
        assert_eq!(out.changed_count, 0);
    }
}
