//! Contracts: the contract model and its validation (with field paths), the review notice,
//! and a contract's compliance in one period, from facts or from group counts.

use super::bands::{round_to, Band, Money, Remedies};
use super::breakdown::{none_last, Dimension, GroupCounts, GroupResult, MetricBreakdowns};
use super::facts::ConversationFacts;
use super::period::PeriodKey;
use super::scope::Scope;
use super::tally::{compute, result_of, MetricKind, MetricResult, MetricTarget};
use crate::account::FieldError;
use crate::instant;
use crate::limits::{CONTRACT_METRICS, CONTRACT_NAME_LEN, CONTRACT_TEXT_LEN, SCOPE_ENTRY_LEN};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Days before a contract's review date from which the page highlights it.
pub const REVIEW_NOTICE_DAYS: i64 = 30;
/// Longest threshold a metric may set (`within_s`, `short_abandon_s`, an ASA target): 7 days.
pub const MAX_WAIT_S: i64 = 7 * 24 * 3600;

/// Who the contract is with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CounterpartyKind {
    Client,
    Department,
}

/// An SLA contract: its textual components, the conversations it covers, its metrics and
/// its money terms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Contract {
    #[schema(schema_with = crate::schema::contract_name)]
    pub name: String,
    pub counterparty_kind: CounterpartyKind,
    /// The client's or the department's name.
    #[schema(schema_with = crate::schema::contract_name)]
    pub counterparty: String,
    #[serde(default)]
    #[schema(schema_with = crate::schema::contract_text)]
    pub service_description: String,
    /// What the support team undertakes.
    #[serde(default)]
    #[schema(schema_with = crate::schema::contract_text)]
    pub our_responsibilities: String,
    /// What the client undertakes.
    #[serde(default)]
    #[schema(schema_with = crate::schema::contract_text)]
    pub client_responsibilities: String,
    /// The remedies in words (the numbers are in `remedies`).
    #[serde(default)]
    #[schema(schema_with = crate::schema::contract_text)]
    pub remedy_terms: String,
    /// The incentives in words.
    #[serde(default)]
    #[schema(schema_with = crate::schema::contract_text)]
    pub incentive_terms: String,
    #[serde(default)]
    #[schema(schema_with = crate::schema::contract_text)]
    pub termination_terms: String,
    /// Highlighted from 30 days before.
    pub review_date: NaiveDate,
    #[serde(default)]
    pub scope: Scope,
    #[schema(schema_with = crate::schema::contract_metrics)]
    pub metrics: Vec<MetricTarget>,
    pub remedies: Remedies,
}

/// How near a contract's review date is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReviewNotice {
    /// Days from `today` to the review date (negative when past).
    pub days_left: i64,
    /// Within [`REVIEW_NOTICE_DAYS`] days, or past.
    pub highlighted: bool,
}

/// A contract's compliance in one period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Compliance {
    pub period: PeriodKey,
    #[serde(with = "instant::rfc3339")]
    pub start: DateTime<Utc>,
    #[serde(with = "instant::rfc3339")]
    pub end: DateTime<Utc>,
    /// Conversations created in the period and within the contract's scope.
    pub conversations: usize,
    /// One per contract metric, in contract order.
    pub metrics: Vec<MetricResult>,
    pub fee: f64,
    /// Sum of the metrics' credits (owed to the client).
    pub credit: f64,
    /// Sum of the metrics' bonuses (earned).
    pub bonus: f64,
    /// `fee − credit + bonus`: what the client pays for the period.
    pub due: f64,
    pub currency: String,
}

fn text_len(errors: &mut Vec<FieldError>, field: &str, value: &str, max: usize) {
    if value.chars().count() > max {
        errors.push(FieldError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
}

fn required_text(errors: &mut Vec<FieldError>, field: &str, value: &str, max: usize) {
    if crate::schema::trim(value).is_empty() {
        errors.push(FieldError::new(field, "is required"));
    } else {
        text_len(errors, field, value, max);
    }
}

/// What the API document says a scope's e-mail domain is: a subset of what
/// `valid_domain` takes (ASCII letters only).
pub const DOMAIN_PATTERN: &str = r"^\s*[@.]*[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+\s*$";

fn valid_domain(d: &str) -> bool {
    let bare = d.trim().trim_start_matches(['@', '.']);
    // The length counts what was sent, as the API's `maxLength` does.
    !bare.is_empty()
        && d.chars().count() <= SCOPE_ENTRY_LEN
        && bare.contains('.')
        && !bare.starts_with('.')
        && !bare.ends_with('.')
        && !bare.contains("..")
        && bare
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '.')
}

impl Contract {
    /// Parses a contract from JSON and validates it; a shape error carries its path
    /// (`metrics[1].formula`), and so does every validation error.
    pub fn from_json(value: serde_json::Value) -> Result<Contract, Vec<FieldError>> {
        // A metric's `kind` is its name: serde would also take a variant's index (`0`).
        if let Some(metrics) = value.get("metrics").and_then(|m| m.as_array()) {
            let errors: Vec<FieldError> = metrics
                .iter()
                .enumerate()
                .filter(|(_, m)| m.get("kind").is_some_and(|k| !k.is_string()))
                .map(|(i, _)| {
                    FieldError::new(format!("metrics[{i}].kind"), "must be a metric's name")
                })
                .collect();
            if !errors.is_empty() {
                return Err(errors);
            }
        }
        let contract: Contract = serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            vec![FieldError::new(
                if path == "." { String::new() } else { path },
                e.into_inner().to_string(),
            )]
        })?;
        contract.validate()?;
        Ok(contract)
    }

    /// Every problem, with its path: `name`, `metrics[2].target`,
    /// `metrics[0].within_s`, `scope.email_domains[1]`, `remedies.credit_cap`, ….
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        let e = &mut errors;
        required_text(e, "name", &self.name, CONTRACT_NAME_LEN);
        required_text(e, "counterparty", &self.counterparty, CONTRACT_NAME_LEN);
        for (field, value) in [
            ("service_description", &self.service_description),
            ("our_responsibilities", &self.our_responsibilities),
            ("client_responsibilities", &self.client_responsibilities),
            ("remedy_terms", &self.remedy_terms),
            ("incentive_terms", &self.incentive_terms),
            ("termination_terms", &self.termination_terms),
        ] {
            text_len(e, field, value, CONTRACT_TEXT_LEN);
        }

        for (list, field) in [(&self.scope.teams, "teams"), (&self.scope.labels, "labels")] {
            for (i, v) in list.iter().enumerate() {
                required_text(e, &format!("scope.{field}[{i}]"), v, SCOPE_ENTRY_LEN);
            }
        }
        for (i, p) in self.scope.policies.iter().enumerate() {
            if *p <= 0 {
                e.push(FieldError::new(
                    format!("scope.policies[{i}]"),
                    "must be a policy id (greater than 0)",
                ));
            }
        }
        for (i, d) in self.scope.email_domains.iter().enumerate() {
            if !valid_domain(d) {
                e.push(FieldError::new(
                    format!("scope.email_domains[{i}]"),
                    "must be a domain such as bigcorp.com (.bigcorp.com: only subdomains; \
                     @bigcorp.com: only that domain)",
                ));
            }
        }

        if self.metrics.is_empty() {
            e.push(FieldError::new(
                "metrics",
                "at least one metric is required",
            ));
        } else if self.metrics.len() > CONTRACT_METRICS {
            e.push(FieldError::new(
                "metrics",
                format!("at most {CONTRACT_METRICS} metrics"),
            ));
        }
        for (i, m) in self.metrics.iter().enumerate() {
            let path = format!("metrics[{i}]");
            if let Err(message) = m.kind.check_target(m.target) {
                e.push(FieldError::new(format!("{path}.target"), message));
            }
            match m.kind {
                MetricKind::ServiceLevel { within_s, .. }
                    if !(1..=MAX_WAIT_S).contains(&within_s) =>
                {
                    e.push(FieldError::new(
                        format!("{path}.within_s"),
                        format!("must be at least 1 and at most {MAX_WAIT_S} seconds"),
                    ));
                }
                MetricKind::AbandonmentRate { short_abandon_s }
                    if !(0..=MAX_WAIT_S).contains(&short_abandon_s) =>
                {
                    e.push(FieldError::new(
                        format!("{path}.short_abandon_s"),
                        format!("must be at least 0 and at most {MAX_WAIT_S} seconds"),
                    ));
                }
                _ => {}
            }
            if let Some(j) = self.metrics[..i]
                .iter()
                .position(|o| o.kind == m.kind && o.period == m.period)
            {
                e.push(FieldError::new(
                    path,
                    format!("repeats metrics[{j}] (same metric and period)"),
                ));
            }
        }

        let r = &self.remedies;
        for (field, value) in [
            ("fee_per_period", Some(r.fee_per_period)),
            ("credit_per_point", Some(r.credit_per_point)),
            ("credit_cap", r.credit_cap),
            ("bonus_per_point", Some(r.bonus_per_point)),
            ("bonus_cap", r.bonus_cap),
        ] {
            if let Some(v) = value {
                if !(0.0..=crate::limits::MONEY_MAX).contains(&v) {
                    e.push(FieldError::new(
                        format!("remedies.{field}"),
                        format!("must be a number from 0 to {}", crate::limits::MONEY_MAX),
                    ));
                }
            }
        }
        if !(r.currency.len() == 3 && r.currency.bytes().all(|b| b.is_ascii_uppercase())) {
            e.push(FieldError::new(
                "remedies.currency",
                "must be an ISO 4217 code such as EUR",
            ));
        }

        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// How near the review date is, seen on `today` (the caller's date: nothing here reads
    /// a clock).
    pub fn review_notice(&self, today: NaiveDate) -> ReviewNotice {
        let days_left = (self.review_date - today).num_days();
        ReviewNotice {
            days_left,
            highlighted: days_left <= REVIEW_NOTICE_DAYS,
        }
    }

    /// Whether the contract covers a conversation (its scope only, not the period).
    pub fn covers(&self, facts: &ConversationFacts) -> bool {
        self.scope.matches(&facts.subject())
    }

    /// The conversations of `facts` created in `period` and within the scope.
    pub fn select<'a>(
        &'a self,
        period: PeriodKey,
        facts: impl IntoIterator<Item = &'a ConversationFacts>,
    ) -> Vec<&'a ConversationFacts> {
        let (start, end) = period.range();
        facts
            .into_iter()
            .filter(|f| start <= f.created_at && f.created_at < end && self.covers(f))
            .collect()
    }

    /// [`Contract::evaluate`] and every metric's breakdowns, from the period's group counts
    /// ([`GroupCounts`], narrowed to the period and scope by the store); `department_of`
    /// maps a team to its department.
    pub fn evaluate_groups(
        &self,
        period: PeriodKey,
        groups: &[GroupCounts],
        department_of: impl Fn(&str) -> Option<String>,
    ) -> (Compliance, Vec<MetricBreakdowns>) {
        let n = self.metrics.len();
        let mut totals = vec![(0i64, 0i64); n];
        let mut conversations = 0i64;
        // Per dimension: key → (conversations, tallies).
        type Acc = BTreeMap<Option<String>, (i64, Vec<(i64, i64)>)>;
        let mut acc: Vec<Acc> = vec![Acc::new(); Dimension::ALL.len()];
        for g in groups {
            conversations += g.conversations;
            let keys = [
                g.team.as_deref().and_then(&department_of),
                g.team.clone(),
                g.owner.clone(),
                Some(g.channel.as_str().to_string()),
            ];
            for (d, key) in keys.into_iter().enumerate() {
                let entry = acc[d].entry(key).or_insert_with(|| (0, vec![(0, 0); n]));
                entry.0 += g.conversations;
                for (slot, t) in entry.1.iter_mut().zip(&g.tallies) {
                    slot.0 += t.0;
                    slot.1 += t.1;
                }
            }
            for (slot, t) in totals.iter_mut().zip(&g.tallies) {
                slot.0 += t.0;
                slot.1 += t.1;
            }
        }
        let metrics: Vec<MetricResult> = self
            .metrics
            .iter()
            .zip(&totals)
            .map(|(m, (num, den))| result_of(m, *num, *den, Some(&self.remedies)))
            .collect();
        let mut breakdowns = vec![MetricBreakdowns::default(); n];
        for (d, dimension) in Dimension::ALL.into_iter().enumerate() {
            for (key, (count, tallies)) in &acc[d] {
                for (i, m) in self.metrics.iter().enumerate() {
                    let (num, den) = tallies[i];
                    breakdowns[i].get_mut(dimension).push(GroupResult {
                        key: key.clone(),
                        conversations: *count as usize,
                        result: result_of(m, num, den, None),
                    });
                }
            }
            for b in &mut breakdowns {
                b.get_mut(dimension)
                    .sort_by(|x, y| none_last(&x.key, &y.key));
            }
        }
        (
            self.summarise(period, conversations as usize, metrics),
            breakdowns,
        )
    }

    fn summarise(
        &self,
        period: PeriodKey,
        conversations: usize,
        metrics: Vec<MetricResult>,
    ) -> Compliance {
        let sum = |f: fn(&Money) -> f64| {
            round_to(
                metrics.iter().filter_map(|m| m.money.as_ref()).map(f).sum(),
                2,
            )
        };
        let credit = sum(|m| m.credit);
        let bonus = sum(|m| m.bonus);
        let fee = self.remedies.fee_per_period;
        Compliance {
            period,
            start: period.start(),
            end: period.end(),
            conversations,
            fee,
            credit,
            bonus,
            due: round_to(fee - credit + bonus, 2),
            currency: self.remedies.currency.clone(),
            metrics,
        }
    }

    /// Every metric over the conversations created in `period` and within the scope, with
    /// money. Each metric is computed over the requested period whatever its own `period`
    /// (which the page uses to pick the default period to show); the fee is one
    /// `fee_per_period`.
    pub fn evaluate<'a>(
        &'a self,
        period: PeriodKey,
        facts: impl IntoIterator<Item = &'a ConversationFacts>,
    ) -> Compliance {
        let selected = self.select(period, facts);
        let metrics: Vec<MetricResult> = self
            .metrics
            .iter()
            .map(|m| compute(m, selected.iter().copied(), Some(&self.remedies)))
            .collect();
        self.summarise(period, selected.len(), metrics)
    }

    /// The worst band among `metrics` (no data counts as on target only when every metric
    /// has none): what the contracts list shows.
    pub fn worst_band(metrics: &[MetricResult]) -> Band {
        metrics
            .iter()
            .map(|m| m.band)
            .filter(|b| *b != Band::NoData)
            .max()
            .unwrap_or(Band::NoData)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compliance::test_support::*;
    use crate::compliance::*;
    use crate::conversation::Channel;
    use chrono::Duration;

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    fn pseudo_random_facts(n: usize, seed: u64) -> Vec<ConversationFacts> {
        let mut x = seed;
        let mut next = move |m: u64| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) % m
        };
        (0..n)
            .map(|_| {
                let mut f = ConversationFacts::new(
                    t("2026-11-01T00:00:00Z") + Duration::seconds(next(40 * 86_400) as i64),
                    Channel::ALL[next(Channel::ALL.len() as u64) as usize],
                );
                f.team =
                    [None, Some("t1"), Some("t2"), Some("t3")][next(4) as usize].map(Into::into);
                f.owner =
                    [None, Some("a@x.com"), Some("b@x.com")][next(3) as usize].map(Into::into);
                match next(3) {
                    0 => f.first_response_s = Some(next(120) as i64),
                    1 => f.abandoned_after_s = Some(next(120) as i64),
                    _ => {}
                }
                f.frt_met = [None, Some(true), Some(false)][next(3) as usize];
                f.rt_met = [None, Some(true), Some(false)][next(3) as usize];
                f.nrt_met = next(3) as u32;
                f.nrt_missed = next(2) as u32;
                for _ in 0..next(3) {
                    let kind = SurveyKind::ALL[next(3) as usize];
                    f.surveys.push(SurveyResponse {
                        kind,
                        score: next(12) as i64,
                    });
                }
                f
            })
            .collect()
    }

    fn every_metric() -> Vec<MetricTarget> {
        use ServiceLevelFormula::*;
        let mut v: Vec<MetricTarget> = [
            (MetricKind::FrtAttainment, 90.0),
            (MetricKind::NrtAttainment, 80.0),
            (MetricKind::RtAttainment, 70.0),
            (MetricKind::Asa, 40.0),
            (
                MetricKind::AbandonmentRate {
                    short_abandon_s: 10,
                },
                5.0,
            ),
            (MetricKind::Csat, 85.0),
            (MetricKind::Nps, 30.0),
            (MetricKind::Ces, 3.0),
        ]
        .into_iter()
        .map(|(k, x)| target(k, x))
        .collect();
        for formula in [
            AbandonedWithinCountMet,
            AnsweredOnly,
            AbandonedCountMissed,
            AbandonedAfterCountMissed,
        ] {
            v.push(target(
                MetricKind::ServiceLevel {
                    within_s: 30,
                    formula,
                },
                80.0,
            ));
        }
        v
    }

    #[test]
    fn contracts_parse_flat_metrics_and_round_trip() {
        let c = Contract::from_json(contract_json()).unwrap();
        assert_eq!(c.metrics.len(), 7);
        assert_eq!(
            c.metrics[1].kind,
            MetricKind::ServiceLevel {
                within_s: 20,
                formula: ServiceLevelFormula::AbandonedCountMissed
            }
        );
        assert_eq!(c.metrics[4].period, Period::Quarter);
        assert_eq!(c.remedies.credit_cap, Some(1500.0));
        assert_eq!(c.termination_terms, "");
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(
            json["metrics"][1],
            serde_json::json!({"kind": "service_level", "within_s": 20,
                "formula": "abandoned_count_missed", "target": 80.0, "period": "month"})
        );
        assert_eq!(json["review_date"], "2027-03-31");
        let back: Contract = serde_json::from_value(json).unwrap();
        assert_eq!(back, c);
        for f in ServiceLevelFormula::ALL {
            assert_eq!(serde_json::to_value(f).unwrap(), f.as_str());
        }
    }

    #[test]
    fn contract_validation_names_each_field() {
        let mut c = Contract::from_json(contract_json()).unwrap();
        c.name = "  ".into();
        c.counterparty = "x".repeat(CONTRACT_NAME_LEN + 1);
        c.termination_terms = "x".repeat(CONTRACT_TEXT_LEN + 1);
        c.scope.teams = vec!["".into()];
        c.scope.email_domains = vec!["bigcorp.com".into(), "not a domain".into()];
        c.scope.policies = vec![0];
        c.metrics[1].kind = MetricKind::ServiceLevel {
            within_s: 0,
            formula: ServiceLevelFormula::AnsweredOnly,
        };
        c.metrics[2].target = f64::NAN;
        c.metrics[3].kind = MetricKind::AbandonmentRate {
            short_abandon_s: -1,
        };
        c.metrics[4].target = 120.0;
        c.metrics[6].target = 0.5;
        c.metrics.push(MetricTarget {
            kind: MetricKind::FrtAttainment,
            target: 90.0,
            period: Period::Month,
        });
        c.metrics.push(MetricTarget {
            kind: MetricKind::FrtAttainment,
            target: 90.0,
            period: Period::Week,
        });
        c.remedies.credit_cap = Some(-1.0);
        c.remedies.bonus_per_point = f64::INFINITY;
        c.remedies.currency = "eur".into();
        let errors = c.validate().unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "name",
                "counterparty",
                "termination_terms",
                "scope.teams[0]",
                "scope.policies[0]",
                "scope.email_domains[1]",
                "metrics[1].within_s",
                "metrics[2].target",
                "metrics[3].short_abandon_s",
                "metrics[4].target",
                "metrics[6].target",
                "metrics[7]",
                "remedies.credit_cap",
                "remedies.bonus_per_point",
                "remedies.currency",
            ]
        );
        let msg = |f: &str| {
            errors
                .iter()
                .find(|e| e.field == f)
                .unwrap()
                .message
                .clone()
        };
        assert_eq!(msg("name"), "is required");
        assert_eq!(
            msg("metrics[4].target"),
            "must be greater than 0 and at most 100"
        );
        assert_eq!(msg("metrics[6].target"), "must be at least 1 and at most 7");
        assert_eq!(
            msg("metrics[7]"),
            "repeats metrics[0] (same metric and period)"
        );

        c.metrics.clear();
        let errors = c.validate().unwrap_err();
        assert!(errors
            .iter()
            .any(|e| e.field == "metrics" && e.message == "at least one metric is required"));
    }

    #[test]
    fn contract_shape_errors_carry_a_path() {
        let mut json = contract_json();
        json["review_date"] = "31/03/2027".into();
        let errors = Contract::from_json(json).unwrap_err();
        assert_eq!(errors[0].field, "review_date");
        let mut json = contract_json();
        json["remedies"]["currency"] = 3.into();
        let errors = Contract::from_json(json).unwrap_err();
        assert_eq!(errors[0].field, "remedies.currency");
        let mut json = contract_json();
        json["metrics"][1]["formula"] = "sometimes".into();
        let errors = Contract::from_json(json).unwrap_err();
        assert!(errors[0].field.starts_with("metrics[1]"), "{errors:?}");
        let mut json = contract_json();
        json["metrics"][0]["target"] = 150.into();
        let errors = Contract::from_json(json).unwrap_err();
        assert_eq!(errors[0].field, "metrics[0].target");
    }

    #[test]
    fn review_is_highlighted_from_thirty_days_before() {
        let c = Contract::from_json(contract_json()).unwrap();
        let n = c.review_notice(day("2027-02-28"));
        assert_eq!((n.days_left, n.highlighted), (31, false));
        let n = c.review_notice(day("2027-03-01"));
        assert_eq!((n.days_left, n.highlighted), (30, true));
        let n = c.review_notice(day("2027-04-02"));
        assert_eq!((n.days_left, n.highlighted), (-2, true));
    }

    #[test]
    fn a_contract_period_in_full() {
        let c = Contract::from_json(contract_json()).unwrap();
        let client = |f: ConversationFacts| ConversationFacts {
            contact_email: Some("ann@bigcorp.com".into()),
            ..f
        };
        let mut data: Vec<ConversationFacts> = queue().into_iter().map(client).collect();
        data[0].frt_met = Some(true);
        data[1].frt_met = Some(true);
        data[2].frt_met = Some(false);
        data[3].surveys = vec![
            SurveyResponse {
                kind: SurveyKind::Csat,
                score: 5,
            },
            SurveyResponse {
                kind: SurveyKind::Nps,
                score: 10,
            },
        ];
        // Out of scope (another domain, another channel) or out of the period.
        data.push(ConversationFacts {
            contact_email: Some("x@other.com".into()),
            ..answered(1)
        });
        data.push(ConversationFacts {
            channel: Channel::Sms,
            ..client(answered(1))
        });
        data.push(ConversationFacts {
            created_at: t("2026-12-01T00:00:00Z"),
            ..client(answered(1))
        });
        data.push(ConversationFacts {
            created_at: t("2026-11-01T00:00:00Z"),
            ..client(abandoned(200))
        });

        let r = c.evaluate(key("2026-11"), &data);
        assert_eq!(r.conversations, 17);
        assert_eq!(r.start, t("2026-11-01T00:00:00Z"));
        assert_eq!(r.end, t("2026-12-01T00:00:00Z"));
        let m = &r.metrics;
        // FRT 2/3 = 66.7% against 95: 28.3 points below, credit capped at 1500.
        assert_eq!(m[0].band, Band::AllHands);
        assert_eq!(m[0].money.as_ref().unwrap().credit, 1500.0);
        // Service level 7 / (10 + 6) = 43.75%: 36.25 points below → capped.
        assert_eq!((m[1].numerator, m[1].denominator), (7, 16));
        assert_eq!(m[1].actual, Some(43.75));
        // ASA 22.4 s against 30 s: 25.33 points better → bonus capped at 500.
        assert_eq!(m[2].actual, Some(22.4));
        assert_eq!(m[2].band, Band::OnTarget);
        assert_eq!(m[2].money.as_ref().unwrap().bonus, 500.0);
        // Abandonment 5 / 15 (the 4 s abandon is short).
        assert_eq!((m[3].numerator, m[3].denominator), (5, 15));
        // CSAT 100% against 85: 15 points → 750, capped at 500. NPS 100 → capped 500.
        assert_eq!(m[4].money.as_ref().unwrap().bonus, 500.0);
        assert_eq!(m[5].money.as_ref().unwrap().bonus, 500.0);
        // CES: no responses.
        assert_eq!((m[6].band, m[6].money.clone()), (Band::NoData, None));
        // Credits: FRT 1500 + SL 1500 + abandonment (33.3 − 5 = 28.3 points) 1500.
        assert_eq!(r.credit, 4500.0);
        assert_eq!(r.bonus, 1500.0);
        assert_eq!(r.fee, 10_000.0);
        assert_eq!(r.due, 7000.0);
        assert_eq!(r.currency, "EUR");
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["period"], "2026-11");
        assert_eq!(json["metrics"][1]["kind"], "service_level");
        assert_eq!(json["metrics"][1]["band"], "all_hands");
        assert_eq!(json["metrics"][6]["actual"], serde_json::Value::Null);
        let back: Compliance = serde_json::from_value(json).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn group_counts_give_the_same_compliance_and_breakdowns_as_the_facts() {
        let all = pseudo_random_facts(3_000, 7);
        let contract = Contract {
            metrics: every_metric(),
            scope: Scope {
                teams: vec!["T1 ".into(), "t2".into()],
                ..Scope::default()
            },
            ..Contract::from_json(contract_json()).unwrap()
        };
        let department_of = |team: &str| (team != "t3").then(|| format!("dept-{}", &team[..2]));
        let period = key("2026-11");
        let facts: Vec<ConversationFacts> = contract
            .select(period, &all)
            .into_iter()
            .map(|f| ConversationFacts {
                department: f.team.as_deref().and_then(department_of),
                ..f.clone()
            })
            .collect();
        assert!(facts.len() > 1_000 && facts.len() < all.len());
        let groups = group_counts(&contract.metrics, &facts);
        let (compliance, breakdowns) = contract.evaluate_groups(period, &groups, department_of);
        assert_eq!(compliance, contract.evaluate(period, &facts));
        for (i, m) in contract.metrics.iter().enumerate() {
            for d in Dimension::ALL {
                assert_eq!(
                    breakdowns[i].get(d),
                    breakdown(m, d, &facts),
                    "{m:?} by {d:?}"
                );
            }
        }
    }

    #[test]
    fn the_worst_band_ignores_metrics_without_data() {
        let r = |band| MetricResult {
            band,
            ..compute(&target(MetricKind::Asa, 30.0), [], None)
        };
        assert_eq!(
            Contract::worst_band(&[r(Band::NoData), r(Band::Warning), r(Band::OnTarget)]),
            Band::Warning
        );
        assert_eq!(Contract::worst_band(&[r(Band::NoData)]), Band::NoData);
        assert_eq!(
            Contract::worst_band(&[r(Band::Act), r(Band::AllHands)]),
            Band::AllHands
        );
    }
}
