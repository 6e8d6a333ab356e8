//! Metrics and their tally: metric kinds, service-level formulas and targets, the integer
//! numerator and denominator of each metric ([`tally`]) and the result computed from them.

use super::bands::{band, money, shortfall_pct, Band, Money, Remedies};
use super::contract::MAX_WAIT_S;
use super::facts::{ConversationFacts, SurveyKind};
use super::period::Period;
use serde::{Deserialize, Serialize};

/// How a service level treats contacts abandoned before any response. "Within Y" is at
/// most `within_s` seconds (inclusive); an abandoned contact's wait is
/// [`ConversationFacts::abandoned_after_s`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ServiceLevelFormula {
    /// (answered within Y + abandoned within Y) / (answered + abandoned): an early abandon
    /// counts as met.
    AbandonedWithinCountMet,
    /// answered within Y / answered: abandoned contacts are left out.
    AnsweredOnly,
    /// answered within Y / (answered + abandoned): every abandon counts as missed.
    AbandonedCountMissed,
    /// answered within Y / (answered + abandoned after Y): abandons within Y are left out,
    /// later ones count as missed.
    AbandonedAfterCountMissed,
}

impl ServiceLevelFormula {
    pub const ALL: [ServiceLevelFormula; 4] = [
        ServiceLevelFormula::AbandonedWithinCountMet,
        ServiceLevelFormula::AnsweredOnly,
        ServiceLevelFormula::AbandonedCountMissed,
        ServiceLevelFormula::AbandonedAfterCountMissed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ServiceLevelFormula::AbandonedWithinCountMet => "abandoned_within_count_met",
            ServiceLevelFormula::AnsweredOnly => "answered_only",
            ServiceLevelFormula::AbandonedCountMissed => "abandoned_count_missed",
            ServiceLevelFormula::AbandonedAfterCountMissed => "abandoned_after_count_missed",
        }
    }

    /// The formula in words, for the contract page.
    pub fn formula(self) -> &'static str {
        match self {
            ServiceLevelFormula::AbandonedWithinCountMet => {
                "(answered within Y + abandoned within Y) / (answered + abandoned)"
            }
            ServiceLevelFormula::AnsweredOnly => "answered within Y / answered",
            ServiceLevelFormula::AbandonedCountMissed => {
                "answered within Y / (answered + abandoned)"
            }
            ServiceLevelFormula::AbandonedAfterCountMissed => {
                "answered within Y / (answered + abandoned after Y)"
            }
        }
    }
}

/// The counts a service level is computed from ([`ServiceLevelFormula::fraction`]): answered
/// contacts (`first_response_s` set), abandoned ones (no response, `abandoned_after_s` set),
/// and how many of each within Y (at most `within_s`). A contact still waiting is neither.
/// Counts add up over disjoint sets of contacts ([`ServiceLevelCounts::add`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ServiceLevelCounts {
    pub answered: i64,
    pub answered_within: i64,
    pub abandoned: i64,
    pub abandoned_within: i64,
}

impl ServiceLevelCounts {
    /// One contact's counts (answered wins over an abandonment wait).
    pub fn of(facts: &ConversationFacts, within_s: i64) -> Self {
        let mut c = ServiceLevelCounts::default();
        if let Some(wait) = facts.first_response_s {
            c.answered = 1;
            c.answered_within = i64::from(wait <= within_s);
        } else if let Some(wait) = facts.abandoned_after_s {
            c.abandoned = 1;
            c.abandoned_within = i64::from(wait <= within_s);
        }
        c
    }

    pub fn add(&mut self, other: &ServiceLevelCounts) {
        self.answered += other.answered;
        self.answered_within += other.answered_within;
        self.abandoned += other.abandoned;
        self.abandoned_within += other.abandoned_within;
    }
}

impl ServiceLevelFormula {
    /// The formula's (numerator, denominator) from counts: the one definition of the four
    /// formulas, used by [`tally`] and the live service level. Linear in the counts, so the
    /// fraction of a sum is the sum of the fractions.
    pub fn fraction(self, c: &ServiceLevelCounts) -> (i64, i64) {
        match self {
            ServiceLevelFormula::AbandonedWithinCountMet => (
                c.answered_within + c.abandoned_within,
                c.answered + c.abandoned,
            ),
            ServiceLevelFormula::AnsweredOnly => (c.answered_within, c.answered),
            ServiceLevelFormula::AbandonedCountMissed => {
                (c.answered_within, c.answered + c.abandoned)
            }
            ServiceLevelFormula::AbandonedAfterCountMissed => (
                c.answered_within,
                c.answered + (c.abandoned - c.abandoned_within),
            ),
        }
    }
}

/// What a metric's value is measured in; decides what a "point" is ([`money`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// 0–100; a point is a percentage point.
    Percent,
    /// Net promoter score, −100 to 100; a point is an NPS point.
    Nps,
    /// Seconds (ASA); a point is 1% of the target.
    Seconds,
    /// A mean survey score (CES 1–7); a point is 1% of the target.
    Score,
}

/// A contract metric, with its parameters. JSON: `{"kind": "service_level", "within_s": 20,
/// "formula": "abandoned_count_missed"}`, `{"kind": "csat"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MetricKind {
    /// % of first-response clocks met (met / (met + missed)).
    FrtAttainment,
    /// % of next-response cycles met.
    NrtAttainment,
    /// % of resolution clocks met.
    RtAttainment,
    /// "X% answered within Y seconds" (first response), by the chosen formula.
    ServiceLevel {
        within_s: i64,
        formula: ServiceLevelFormula,
    },
    /// Average speed of answer: mean first-response seconds of answered conversations.
    Asa,
    /// % abandoned: abandoned after more than `short_abandon_s` / (answered + those).
    AbandonmentRate { short_abandon_s: i64 },
    /// % of CSAT responses scoring 4 or 5 (1–5 scale).
    Csat,
    /// % promoters (9–10) − % detractors (0–6), 0–10 scale.
    Nps,
    /// Mean customer effort score, 1–7, lower is better.
    Ces,
}

impl Unit {
    /// A value from its numerator and denominator: × 100 for percentages and NPS, a plain
    /// mean for seconds and scores; `None` for an empty denominator.
    pub fn actual(self, numerator: i64, denominator: i64) -> Option<f64> {
        (denominator > 0).then(|| match self {
            Unit::Percent | Unit::Nps => numerator as f64 * 100.0 / denominator as f64,
            Unit::Seconds | Unit::Score => numerator as f64 / denominator as f64,
        })
    }
}

impl MetricKind {
    /// The `kind` tag, e.g. `"service_level"`.
    pub fn name(self) -> &'static str {
        match self {
            MetricKind::FrtAttainment => "frt_attainment",
            MetricKind::NrtAttainment => "nrt_attainment",
            MetricKind::RtAttainment => "rt_attainment",
            MetricKind::ServiceLevel { .. } => "service_level",
            MetricKind::Asa => "asa",
            MetricKind::AbandonmentRate { .. } => "abandonment_rate",
            MetricKind::Csat => "csat",
            MetricKind::Nps => "nps",
            MetricKind::Ces => "ces",
        }
    }

    /// The metric in words, e.g. "Service level within 20 s".
    pub fn label(self) -> String {
        match self {
            MetricKind::FrtAttainment => "First response attainment".into(),
            MetricKind::NrtAttainment => "Next response attainment".into(),
            MetricKind::RtAttainment => "Resolution attainment".into(),
            MetricKind::ServiceLevel { within_s, .. } => {
                format!("Service level within {within_s} s")
            }
            MetricKind::Asa => "Average speed of answer".into(),
            MetricKind::AbandonmentRate { .. } => "Abandonment rate".into(),
            MetricKind::Csat => "CSAT".into(),
            MetricKind::Nps => "NPS".into(),
            MetricKind::Ces => "CES".into(),
        }
    }

    /// False for ASA, abandonment rate and CES (see the module's conventions).
    pub fn higher_is_better(self) -> bool {
        !matches!(
            self,
            MetricKind::Asa | MetricKind::AbandonmentRate { .. } | MetricKind::Ces
        )
    }

    pub fn unit(self) -> Unit {
        match self {
            MetricKind::Asa => Unit::Seconds,
            MetricKind::Ces => Unit::Score,
            MetricKind::Nps => Unit::Nps,
            _ => Unit::Percent,
        }
    }

    /// The targets a contract may set for this metric: the lowest (`exclusive`: above it,
    /// not at it) and the highest, and the words when a target is outside. Every target
    /// is above 0: bands and points are relative to it.
    pub fn target_range(self) -> TargetRange {
        match self.unit() {
            Unit::Percent | Unit::Nps => TargetRange {
                min: 0.0,
                exclusive: true,
                max: 100.0,
                message: "must be greater than 0 and at most 100",
            },
            // Points are 1 % of the target each: a target under a second would make them
            // (and the money) boundless.
            Unit::Seconds => TargetRange {
                min: 1.0,
                exclusive: false,
                max: MAX_WAIT_S as f64,
                message: "must be at least 1 and at most 604800 seconds",
            },
            Unit::Score => TargetRange {
                min: 1.0,
                exclusive: false,
                max: 7.0,
                message: "must be at least 1 and at most 7",
            },
        }
    }

    /// Whether a contract may set `target` for this metric; the error message if not.
    pub(super) fn check_target(self, target: f64) -> Result<(), &'static str> {
        if !target.is_finite() {
            return Err("must be a finite number");
        }
        let r = self.target_range();
        let above_min = if r.exclusive {
            target > r.min
        } else {
            target >= r.min
        };
        if above_min && target <= r.max {
            Ok(())
        } else {
            Err(r.message)
        }
    }

    /// One of each shape, for the API document (every variant, its parameters unset).
    pub const SHAPES: [MetricKind; 9] = [
        MetricKind::FrtAttainment,
        MetricKind::NrtAttainment,
        MetricKind::RtAttainment,
        MetricKind::ServiceLevel {
            within_s: 0,
            formula: ServiceLevelFormula::AnsweredOnly,
        },
        MetricKind::Asa,
        MetricKind::AbandonmentRate { short_abandon_s: 0 },
        MetricKind::Csat,
        MetricKind::Nps,
        MetricKind::Ces,
    ];
}

/// The targets a metric may have; see [`MetricKind::target_range`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TargetRange {
    pub min: f64,
    pub exclusive: bool,
    pub max: f64,
    pub message: &'static str,
}

impl utoipa::PartialSchema for MetricTarget {
    /// One object per metric kind: its `kind`, its target range, its period and its own
    /// parameters.
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
        use utoipa::openapi::Ref;
        let seconds = |min: i64| {
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(min))
                .maximum(Some(MAX_WAIT_S))
        };
        let mut one_of = OneOfBuilder::new().description(Some(
            "A metric with its target (in its unit: percent 0–100, NPS −100–100, seconds for ASA, 1–7 for CES) and period. Lower is better for asa, abandonment_rate and ces.",
        ));
        for kind in MetricKind::SHAPES {
            let range = kind.target_range();
            let target = ObjectBuilder::new().schema_type(Type::Number);
            let target = if range.exclusive {
                target.exclusive_minimum(Some(range.min))
            } else {
                target.minimum(Some(range.min))
            }
            .maximum(Some(range.max));
            let mut object = ObjectBuilder::new()
                .schema_type(Type::Object)
                .property(
                    "kind",
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .enum_values(Some([kind.name()])),
                )
                .required("kind")
                .property("target", target)
                .required("target")
                .property("period", Ref::from_schema_name("Period"))
                .required("period");
            match kind {
                MetricKind::ServiceLevel { .. } => {
                    object = object
                        .property("within_s", seconds(1))
                        .required("within_s")
                        .property("formula", Ref::from_schema_name("ServiceLevelFormula"))
                        .required("formula");
                }
                MetricKind::AbandonmentRate { .. } => {
                    object = object
                        .property("short_abandon_s", seconds(0))
                        .required("short_abandon_s");
                }
                MetricKind::FrtAttainment
                | MetricKind::NrtAttainment
                | MetricKind::RtAttainment
                | MetricKind::Asa
                | MetricKind::Csat
                | MetricKind::Nps
                | MetricKind::Ces => {}
            }
            one_of = one_of.item(object);
        }
        one_of.into()
    }
}

impl utoipa::ToSchema for MetricTarget {
    fn name() -> std::borrow::Cow<'static, str> {
        "ContractMetric".into()
    }
}

/// A metric with its target and the period over which it is judged. JSON (flat):
/// `{"kind": "frt_attainment", "target": 95, "period": "month"}`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MetricTarget {
    #[serde(flatten)]
    pub kind: MetricKind,
    /// In the metric's unit: percent 0–100, NPS, seconds (ASA) or a 1–7 score (CES).
    pub target: f64,
    pub period: Period,
}

// ---------------------------------------------------------------------------------------
// Computing a metric
// ---------------------------------------------------------------------------------------

/// One metric over a set of conversations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MetricResult {
    #[serde(flatten)]
    pub kind: MetricKind,
    pub period: Period,
    pub target: f64,
    /// `numerator / denominator` (× 100 for percentages and NPS); `null` without data.
    pub actual: Option<f64>,
    /// See [`tally`] for what is counted for each metric.
    pub numerator: i64,
    pub denominator: i64,
    /// Relative % worse than target (negative = better); `null` without data.
    pub shortfall_pct: Option<f64>,
    pub band: Band,
    /// `null` without data, without remedies, or in breakdowns.
    pub money: Option<Money>,
}

/// The integer numerator and denominator of a metric over conversations:
///
/// - attainment: clocks (FRT, RT) or cycles (NRT) met / (met + missed);
/// - service level: by [`ServiceLevelFormula`]; answered = `first_response_s` is set,
///   abandoned = no response and `abandoned_after_s` set, "within" = at most `within_s`;
/// - ASA: sum of `first_response_s` of answered / answered;
/// - abandonment rate: abandoned after waiting *more than* `short_abandon_s` / (answered +
///   those); short abandons (waits up to `short_abandon_s`) count in neither;
/// - CSAT: CSAT responses scoring 4–5 / CSAT responses (1–5);
/// - NPS: promoters (9–10) − detractors (0–6) / NPS responses (0–10);
/// - CES: sum of CES scores / CES responses (1–7).
///
/// Survey scores outside their scale are ignored.
pub fn tally<'a>(
    kind: MetricKind,
    facts: impl IntoIterator<Item = &'a ConversationFacts>,
) -> (i64, i64) {
    let (mut num, mut den) = (0i64, 0i64);
    for f in facts {
        let answered = f.first_response_s;
        let abandoned = if answered.is_none() {
            f.abandoned_after_s
        } else {
            None
        };
        match kind {
            MetricKind::FrtAttainment | MetricKind::RtAttainment => {
                let outcome = if kind == MetricKind::FrtAttainment {
                    f.frt_met
                } else {
                    f.rt_met
                };
                if let Some(met) = outcome {
                    num += i64::from(met);
                    den += 1;
                }
            }
            MetricKind::NrtAttainment => {
                num += i64::from(f.nrt_met);
                den += i64::from(f.nrt_met) + i64::from(f.nrt_missed);
            }
            MetricKind::ServiceLevel { within_s, formula } => {
                let (n, d) = formula.fraction(&ServiceLevelCounts::of(f, within_s));
                num += n;
                den += d;
            }
            MetricKind::Asa => {
                if let Some(wait) = answered {
                    num += wait;
                    den += 1;
                }
            }
            MetricKind::AbandonmentRate { short_abandon_s } => {
                if answered.is_some() {
                    den += 1;
                } else if abandoned.is_some_and(|w| w > short_abandon_s) {
                    num += 1;
                    den += 1;
                }
            }
            MetricKind::Csat | MetricKind::Nps | MetricKind::Ces => {
                let survey = match kind {
                    MetricKind::Csat => SurveyKind::Csat,
                    MetricKind::Nps => SurveyKind::Nps,
                    _ => SurveyKind::Ces,
                };
                let (lo, hi) = survey.scale();
                for s in &f.surveys {
                    if s.kind != survey || !(lo..=hi).contains(&s.score) {
                        continue;
                    }
                    den += 1;
                    num += match survey {
                        SurveyKind::Csat => i64::from(s.score >= 4),
                        SurveyKind::Nps => {
                            if s.score >= 9 {
                                1
                            } else if s.score <= 6 {
                                -1
                            } else {
                                0
                            }
                        }
                        SurveyKind::Ces => s.score,
                    };
                }
            }
        }
    }
    (num, den)
}

/// Computes `metric` over `facts` (already narrowed to the period and the contract's
/// scope): actual, band, shortfall and, with `remedies`, the money.
pub fn compute<'a>(
    metric: &MetricTarget,
    facts: impl IntoIterator<Item = &'a ConversationFacts>,
    remedies: Option<&Remedies>,
) -> MetricResult {
    let (numerator, denominator) = tally(metric.kind, facts);
    result_of(metric, numerator, denominator, remedies)
}

/// A metric's result from its numerator and denominator ([`tally`]'s, or sums of them:
/// both are additive over disjoint sets of conversations).
pub fn result_of(
    metric: &MetricTarget,
    numerator: i64,
    denominator: i64,
    remedies: Option<&Remedies>,
) -> MetricResult {
    let actual = metric.kind.unit().actual(numerator, denominator);
    let hib = metric.kind.higher_is_better();
    let mut result = MetricResult {
        kind: metric.kind,
        period: metric.period,
        target: metric.target,
        actual,
        numerator,
        denominator,
        shortfall_pct: actual.and_then(|a| shortfall_pct(a, metric.target, hib)),
        band: actual.map_or(Band::NoData, |a| band(a, metric.target, hib)),
        money: None,
    };
    result.money = remedies.and_then(|r| money(&result, r));
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compliance::test_support::*;

    #[test]
    fn service_level_by_each_formula_on_one_dataset() {
        let q = queue();
        use ServiceLevelFormula::*;
        let expect = [
            // (7 answered within + 2 abandoned within) / (10 answered + 5 abandoned)
            (AbandonedWithinCountMet, 9, 15, 60.0),
            // 7 / 10
            (AnsweredOnly, 7, 10, 70.0),
            // 7 / (10 + 5)
            (AbandonedCountMissed, 7, 15, 700.0 / 15.0),
            // 7 / (10 + 3 abandoned after 20 s)
            (AbandonedAfterCountMissed, 7, 13, 700.0 / 13.0),
        ];
        for (formula, num, den, actual) in expect {
            let r = compute(&target(sl(formula), 80.0), &q, None);
            assert_eq!((r.numerator, r.denominator), (num, den), "{formula:?}");
            assert!(close(r.actual.unwrap(), actual), "{formula:?}: {r:?}");
        }
        assert!(close(
            compute(&target(sl(AbandonedCountMissed), 80.0), &q, None)
                .actual
                .unwrap(),
            46.666666666666664
        ));
        // Bands: 70 vs 80 is 12.5% below; 60 is 25% below.
        let r = compute(&target(sl(AnsweredOnly), 80.0), &q, None);
        assert_eq!(r.band, Band::AllHands);
        assert!(close(r.shortfall_pct.unwrap(), 12.5));
        let r = compute(&target(sl(AnsweredOnly), 73.0), &q, None);
        assert_eq!(r.band, Band::Warning); // 3/73 = 4.1% below
    }

    #[test]
    fn service_level_without_contacts_has_no_data() {
        let waiting = [facts(), facts()];
        for formula in ServiceLevelFormula::ALL {
            let r = compute(&target(sl(formula), 80.0), &waiting, None);
            assert_eq!((r.actual, r.band), (None, Band::NoData));
            assert_eq!((r.numerator, r.denominator), (0, 0));
        }
        // Only abandons: "answered only" still has no data, the others do.
        let only = [abandoned(5), abandoned(50)];
        let r = compute(
            &target(sl(ServiceLevelFormula::AnsweredOnly), 80.0),
            &only,
            None,
        );
        assert_eq!(r.band, Band::NoData);
        let r = compute(
            &target(sl(ServiceLevelFormula::AbandonedWithinCountMet), 80.0),
            &only,
            None,
        );
        assert_eq!((r.numerator, r.denominator, r.actual), (1, 2, Some(50.0)));
        let r = compute(
            &target(sl(ServiceLevelFormula::AbandonedAfterCountMissed), 80.0),
            &only,
            None,
        );
        assert_eq!((r.numerator, r.denominator, r.actual), (0, 1, Some(0.0)));
    }

    // --- ASA and abandonment -------------------------------------------------------------

    #[test]
    fn average_speed_of_answer_is_the_mean_wait_of_answered_conversations() {
        let r = compute(&target(MetricKind::Asa, 20.0), &queue(), None);
        // 5+10+15+20+3+8+12+21+40+90 = 224 s over 10 answered; abandons do not count.
        assert_eq!((r.numerator, r.denominator), (224, 10));
        assert!(close(r.actual.unwrap(), 22.4));
        // Lower is better: 22.4 s against 20 s is 12% worse.
        assert!(close(r.shortfall_pct.unwrap(), 12.0));
        assert_eq!(r.band, Band::AllHands);
        let r = compute(&target(MetricKind::Asa, 22.4), &queue(), None);
        assert_eq!(r.band, Band::OnTarget);
        let r = compute(&target(MetricKind::Asa, 30.0), &[abandoned(3)], None);
        assert_eq!(r.band, Band::NoData);
    }

    #[test]
    fn abandonment_leaves_short_abandons_out_of_both_sides() {
        let rate = |short: i64| {
            compute(
                &target(
                    MetricKind::AbandonmentRate {
                        short_abandon_s: short,
                    },
                    5.0,
                ),
                &queue(),
                None,
            )
        };
        // Abandon waits 4, 20, 25, 60, 300. With 5 s short abandons, 4 s is left out:
        // 4 / (10 answered + 4).
        let r = rate(5);
        assert_eq!((r.numerator, r.denominator), (4, 14));
        assert!(close(r.actual.unwrap(), 400.0 / 14.0));
        assert_eq!(r.band, Band::AllHands);
        assert!(!r.kind.higher_is_better());
        // A wait of exactly the threshold is a short abandon: "longer than" counts.
        assert_eq!((rate(4).numerator, rate(4).denominator), (4, 14));
        assert_eq!((rate(3).numerator, rate(3).denominator), (5, 15));
        assert_eq!((rate(0).numerator, rate(0).denominator), (5, 15));
        assert_eq!((rate(300).numerator, rate(300).denominator), (0, 10));
        assert_eq!(rate(300).band, Band::OnTarget);
    }

    // --- surveys -------------------------------------------------------------------------

    #[test]
    fn csat_counts_fours_and_fives_among_valid_scores() {
        let data = [
            surveyed(SurveyKind::Csat, &[5, 4, 3]),
            surveyed(SurveyKind::Csat, &[1, 5, 6, 0]),
            surveyed(SurveyKind::Nps, &[2]),
        ];
        let r = compute(&target(MetricKind::Csat, 80.0), &data, None);
        // Valid CSAT: 5, 4, 3, 1, 5 (6 and 0 are off the scale): 3 satisfied of 5.
        assert_eq!((r.numerator, r.denominator), (3, 5));
        assert_eq!(r.actual, Some(60.0));
        assert_eq!(r.band, Band::AllHands);
    }

    #[test]
    fn nps_is_promoters_minus_detractors() {
        let data = [
            surveyed(SurveyKind::Nps, &[10, 9, 9, 10, 10]),
            surveyed(SurveyKind::Nps, &[8, 7, 6, 2, 11, -1]),
            surveyed(SurveyKind::Csat, &[1]),
        ];
        let r = compute(&target(MetricKind::Nps, 30.0), &data, None);
        // 5 promoters, 2 passives, 2 detractors of 9 valid: (5 − 2) / 9 = 33.3.
        assert_eq!((r.numerator, r.denominator), (3, 9));
        assert!(close(r.actual.unwrap(), 100.0 / 3.0));
        assert_eq!(r.band, Band::OnTarget);
        let r = compute(
            &target(MetricKind::Nps, 30.0),
            &[surveyed(SurveyKind::Nps, &[0, 6, 7, 8])],
            None,
        );
        assert_eq!((r.numerator, r.denominator, r.actual), (-2, 4, Some(-50.0)));
        assert_eq!(r.band, Band::AllHands);
    }

    #[test]
    fn ces_is_the_mean_effort_lower_is_better() {
        let data = [
            surveyed(SurveyKind::Ces, &[2, 3, 0]),
            surveyed(SurveyKind::Ces, &[1, 7, 8]),
        ];
        let r = compute(&target(MetricKind::Ces, 3.0), &data, None);
        // Valid: 2, 3, 1, 7 → 13 / 4.
        assert_eq!((r.numerator, r.denominator), (13, 4));
        assert_eq!(r.actual, Some(3.25));
        // 0.25 worse than 3.0 is 8.3% worse: act.
        assert_eq!(r.band, Band::Act);
        let r = compute(&target(MetricKind::Ces, 3.5), &data, None);
        assert_eq!(r.band, Band::OnTarget);
        let r = compute(&target(MetricKind::Csat, 3.5), &data, None);
        assert_eq!(r.band, Band::NoData);
    }

    // --- attainment ----------------------------------------------------------------------

    #[test]
    fn attainment_is_met_over_decided_clocks() {
        let with = |frt: Option<bool>, nrt: (u32, u32), rt: Option<bool>| ConversationFacts {
            frt_met: frt,
            nrt_met: nrt.0,
            nrt_missed: nrt.1,
            rt_met: rt,
            ..facts()
        };
        let data = [
            with(Some(true), (3, 1), None),
            with(Some(true), (0, 2), None),
            with(Some(false), (1, 0), None),
            with(None, (0, 0), None),
        ];
        let r = compute(&target(MetricKind::FrtAttainment, 95.0), &data, None);
        assert_eq!((r.numerator, r.denominator), (2, 3));
        assert!(close(r.actual.unwrap(), 200.0 / 3.0));
        let r = compute(&target(MetricKind::NrtAttainment, 50.0), &data, None);
        assert_eq!((r.numerator, r.denominator), (4, 7));
        assert!(close(r.actual.unwrap(), 400.0 / 7.0));
        assert_eq!(r.band, Band::OnTarget);
        let r = compute(&target(MetricKind::RtAttainment, 90.0), &data, None);
        assert_eq!((r.actual, r.band, r.denominator), (None, Band::NoData, 0));
        // 19 of 25 is 76%, exactly 5% below 80.
        let data: Vec<_> = (0..25).map(|i| with(Some(i < 19), (0, 0), None)).collect();
        let r = compute(&target(MetricKind::FrtAttainment, 80.0), &data, None);
        assert_eq!(r.actual, Some(76.0));
        assert_eq!(r.band, Band::Warning);
    }
}
