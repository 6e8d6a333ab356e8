//! Breakdowns: a metric per department, team, agent or channel ([`breakdown`]), and the
//! group counts the store's aggregate query returns ([`group_counts`]).

use super::facts::ConversationFacts;
use super::tally::{compute, tally, MetricResult, MetricTarget};
use crate::conversation::Channel;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a breakdown groups conversations by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    /// [`ConversationFacts::department`] (the department of the conversation's team).
    Department,
    Team,
    /// The owner (an agent's e-mail).
    Agent,
    Channel,
}

impl Dimension {
    pub const ALL: [Dimension; 4] = [
        Dimension::Department,
        Dimension::Team,
        Dimension::Agent,
        Dimension::Channel,
    ];

    /// The group of a conversation; `None` = no department, team or owner.
    pub fn key(self, facts: &ConversationFacts) -> Option<String> {
        match self {
            Dimension::Department => facts.department.clone(),
            Dimension::Team => facts.team.clone(),
            Dimension::Agent => facts.owner.clone(),
            Dimension::Channel => Some(facts.channel.as_str().to_string()),
        }
    }
}

/// One group of a breakdown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupResult {
    /// The department, team, agent e-mail or channel; `null` for "none" (no owner, …).
    pub key: Option<String>,
    /// Conversations in the group.
    pub conversations: usize,
    /// The same computation as for the whole contract, without money.
    pub result: MetricResult,
}

/// `metric` per group of `dimension`, sorted by key with the "none" group last. Only groups
/// with conversations appear (a group may still have no data for the metric).
pub fn breakdown<'a>(
    metric: &MetricTarget,
    dimension: Dimension,
    facts: impl IntoIterator<Item = &'a ConversationFacts>,
) -> Vec<GroupResult> {
    let mut groups: BTreeMap<Option<String>, Vec<&ConversationFacts>> = BTreeMap::new();
    for f in facts {
        groups.entry(dimension.key(f)).or_default().push(f);
    }
    let mut out: Vec<GroupResult> = groups
        .into_iter()
        .map(|(key, members)| GroupResult {
            key,
            conversations: members.len(),
            result: compute(metric, members.iter().copied(), None),
        })
        .collect();
    // BTreeMap puts `None` first; the page lists it last.
    out.sort_by(|a, b| none_last(&a.key, &b.key));
    out
}

/// The counts of one group of a period's conversations within a contract's scope, those
/// sharing team, owner and channel: what the store's aggregate query returns, and all that
/// the totals and every breakdown need
/// ([`Contract::evaluate_groups`](super::Contract::evaluate_groups)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupCounts {
    pub team: Option<String>,
    pub owner: Option<String>,
    pub channel: Channel,
    pub conversations: i64,
    /// (numerator, denominator) of each contract metric, in contract order ([`tally`]).
    pub tallies: Vec<(i64, i64)>,
}

/// The reference for the store's aggregate query: groups `facts` (already narrowed to the
/// period and scope) by team, owner and channel and tallies each of `metrics`.
pub fn group_counts<'a>(
    metrics: &[MetricTarget],
    facts: impl IntoIterator<Item = &'a ConversationFacts>,
) -> Vec<GroupCounts> {
    type Key = (Option<String>, Option<String>, &'static str);
    let mut groups: BTreeMap<Key, Vec<&ConversationFacts>> = BTreeMap::new();
    for f in facts {
        groups
            .entry((f.team.clone(), f.owner.clone(), f.channel.as_str()))
            .or_default()
            .push(f);
    }
    groups
        .into_values()
        .map(|members| GroupCounts {
            team: members[0].team.clone(),
            owner: members[0].owner.clone(),
            channel: members[0].channel,
            conversations: members.len() as i64,
            tallies: metrics
                .iter()
                .map(|m| tally(m.kind, members.iter().copied()))
                .collect(),
        })
        .collect()
}

/// One metric's breakdowns (see [`breakdown`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricBreakdowns {
    pub department: Vec<GroupResult>,
    pub team: Vec<GroupResult>,
    pub agent: Vec<GroupResult>,
    pub channel: Vec<GroupResult>,
}

impl MetricBreakdowns {
    pub fn get(&self, dimension: Dimension) -> &[GroupResult] {
        match dimension {
            Dimension::Department => &self.department,
            Dimension::Team => &self.team,
            Dimension::Agent => &self.agent,
            Dimension::Channel => &self.channel,
        }
    }

    pub(super) fn get_mut(&mut self, dimension: Dimension) -> &mut Vec<GroupResult> {
        match dimension {
            Dimension::Department => &mut self.department,
            Dimension::Team => &mut self.team,
            Dimension::Agent => &mut self.agent,
            Dimension::Channel => &mut self.channel,
        }
    }
}

pub(super) fn none_last(a: &Option<String>, b: &Option<String>) -> std::cmp::Ordering {
    match (a, b) {
        (None, None) => std::cmp::Ordering::Equal,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (Some(_), None) => std::cmp::Ordering::Less,
        (Some(x), Some(y)) => x.cmp(y),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compliance::test_support::*;
    use crate::compliance::*;

    #[test]
    fn breakdowns_group_by_department_team_agent_and_channel() {
        let mk = |dept: Option<&str>, team: Option<&str>, owner: Option<&str>, ch, wait| {
            ConversationFacts {
                department: dept.map(Into::into),
                team: team.map(Into::into),
                owner: owner.map(Into::into),
                channel: ch,
                first_response_s: wait,
                abandoned_after_s: if wait.is_none() { Some(100) } else { None },
                ..facts()
            }
        };
        let data = [
            mk(
                Some("Sales"),
                Some("b2b"),
                Some("ann@x.com"),
                Channel::Email,
                Some(10),
            ),
            mk(
                Some("Sales"),
                Some("b2c"),
                Some("bob@x.com"),
                Channel::Sms,
                Some(40),
            ),
            mk(
                Some("Support"),
                Some("t1"),
                Some("ann@x.com"),
                Channel::Email,
                Some(20),
            ),
            mk(None, None, None, Channel::Webchat, None),
        ];
        let metric = target(sl(ServiceLevelFormula::AbandonedCountMissed), 80.0);
        let keys = |d| -> Vec<(Option<String>, i64, i64)> {
            breakdown(&metric, d, &data)
                .into_iter()
                .map(|g| (g.key, g.result.numerator, g.result.denominator))
                .collect()
        };
        let s = |x: &str| Some(x.to_string());
        assert_eq!(
            keys(Dimension::Department),
            [(s("Sales"), 1, 2), (s("Support"), 1, 1), (None, 0, 1)]
        );
        assert_eq!(
            keys(Dimension::Team),
            [
                (s("b2b"), 1, 1),
                (s("b2c"), 0, 1),
                (s("t1"), 1, 1),
                (None, 0, 1)
            ]
        );
        assert_eq!(
            keys(Dimension::Agent),
            [(s("ann@x.com"), 2, 2), (s("bob@x.com"), 0, 1), (None, 0, 1)]
        );
        assert_eq!(
            keys(Dimension::Channel),
            [(s("email"), 2, 2), (s("sms"), 0, 1), (s("webchat"), 0, 1)]
        );
        let groups = breakdown(&metric, Dimension::Agent, &data);
        assert_eq!(groups[0].conversations, 2);
        assert_eq!(groups[0].result.band, Band::OnTarget);
        assert_eq!(groups[1].result.band, Band::AllHands);
        assert!(groups.iter().all(|g| g.result.money.is_none()));
        // CSAT on groups without surveys: present, with no data.
        let csat = breakdown(&target(MetricKind::Csat, 80.0), Dimension::Team, &data);
        assert_eq!(csat.len(), 4);
        assert!(csat.iter().all(|g| g.result.band == Band::NoData));
    }

    // --- contracts -----------------------------------------------------------------------
}

/// One conversation behind a compliance number (a drill-down's row): what it adds to the
/// metric's numerator and denominator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = ComplianceConversation)]
pub struct DrillRow {
    pub conversation_id: i64,
    pub external_id: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub channel: String,
    pub team: Option<String>,
    pub owner: Option<String>,
    pub first_response_s: Option<i64>,
    pub abandoned_s: Option<i64>,
    pub numerator: i64,
    pub denominator: i64,
}
