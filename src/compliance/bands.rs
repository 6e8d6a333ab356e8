//! Bands and money: how far a metric is from its target ([`band`], [`shortfall_pct`]), its
//! points above or below, and the credits and bonuses they are worth ([`money`]).

use super::tally::{MetricResult, Unit};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Where an actual value stands against its target, from the relative shortfall: on target;
/// up to 5% below: warning (alert workforce management); 5–10% below: act (interrupt
/// offline work, retrain); over 10% below: all hands on deck; no data in the period.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Band {
    OnTarget,
    /// Up to and including 5% below target.
    Warning,
    /// More than 5%, up to and including 10% below target.
    Act,
    /// More than 10% below target.
    AllHands,
    /// Nothing to measure in the period.
    NoData,
}

impl Band {
    pub fn as_str(self) -> &'static str {
        match self {
            Band::OnTarget => "on_target",
            Band::Warning => "warning",
            Band::Act => "act",
            Band::AllHands => "all_hands",
            Band::NoData => "no_data",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Band::OnTarget => "On target",
            Band::Warning => "Warning",
            Band::Act => "Act",
            Band::AllHands => "All hands",
            Band::NoData => "No data",
        }
    }

    /// What to do, in words, for the compliance page.
    pub fn action(self) -> &'static str {
        match self {
            Band::OnTarget => "No action needed",
            Band::Warning => "Alert workforce management",
            Band::Act => "Interrupt offline work and retrain",
            Band::AllHands => "All hands on deck",
            Band::NoData => "Nothing to measure in this period",
        }
    }
}

/// Tolerance (in percent of the target) for the band boundaries.
const BAND_EPSILON: f64 = 1e-9;

/// The relative shortfall in percent of the target: positive = worse than target
/// (`(target − actual) / target × 100`, mirrored when lower is better), negative = better.
/// `None` for a target of 0 or a non-finite input.
pub fn shortfall_pct(actual: f64, target: f64, higher_is_better: bool) -> Option<f64> {
    if target == 0.0 || !actual.is_finite() || !target.is_finite() {
        return None;
    }
    let worse_by = if higher_is_better {
        target - actual
    } else {
        actual - target
    };
    Some(worse_by / target.abs() * 100.0)
}

/// The band of `actual` against `target` by the relative shortfall ([`shortfall_pct`]):
/// ≤ 0% on target; ≤ 5% warning; ≤ 10% act; more all hands (boundaries with a 1e-9
/// tolerance). A target of 0 (refused by validation) is on target only when met exactly or
/// bettered, else all hands.
pub fn band(actual: f64, target: f64, higher_is_better: bool) -> Band {
    let Some(pct) = shortfall_pct(actual, target, higher_is_better) else {
        let better_or_equal = if higher_is_better {
            actual >= target
        } else {
            actual <= target
        };
        return if better_or_equal {
            Band::OnTarget
        } else {
            Band::AllHands
        };
    };
    if pct <= BAND_EPSILON {
        Band::OnTarget
    } else if pct <= 5.0 + BAND_EPSILON {
        Band::Warning
    } else if pct <= 10.0 + BAND_EPSILON {
        Band::Act
    } else {
        Band::AllHands
    }
}

// ---------------------------------------------------------------------------------------
// Remedies and money
// ---------------------------------------------------------------------------------------

/// A contract's money terms. Amounts are in `currency` (ISO 4217, e.g. "EUR"); a cap of
/// `None` is no cap. Caps apply per metric and per period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Remedies {
    /// What the client pays per period.
    #[serde(default)]
    #[schema(schema_with = crate::schema::money)]
    pub fee_per_period: f64,
    /// Credited to the client (a fee reduction) per point below target.
    #[serde(default)]
    #[schema(schema_with = crate::schema::money)]
    pub credit_per_point: f64,
    #[serde(default)]
    #[schema(schema_with = crate::schema::money_cap)]
    pub credit_cap: Option<f64>,
    /// Earned per point above target.
    #[serde(default)]
    #[schema(schema_with = crate::schema::money)]
    pub bonus_per_point: f64,
    #[serde(default)]
    #[schema(schema_with = crate::schema::money_cap)]
    pub bonus_cap: Option<f64>,
    #[schema(schema_with = crate::schema::currency)]
    pub currency: String,
}

/// What one metric costs or earns in one period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Money {
    /// Points worse than target (0 when on or better than target); see the module docs.
    pub points_below: f64,
    /// Points better than target.
    pub points_above: f64,
    /// Owed to the client: `min(credit_cap, points_below × credit_per_point)`, ≥ 0.
    pub credit: f64,
    /// Earned: `min(bonus_cap, points_above × bonus_per_point)`, ≥ 0.
    pub bonus: f64,
    /// `bonus − credit`: positive = earned, negative = owed to the client.
    pub net: f64,
    pub currency: String,
}

pub(super) fn round_to(x: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    let r = (x * f).round() / f;
    if r == 0.0 {
        0.0 // no "-0"
    } else {
        r
    }
}

fn capped(amount: f64, cap: Option<f64>) -> f64 {
    cap.map_or(amount, |c| amount.min(c))
}

/// Points below and above target for a result with data: percentage or NPS points, or for
/// seconds and scores 1% of the target per point. `None` without data.
pub fn points(result: &MetricResult) -> Option<(f64, f64)> {
    let actual = result.actual?;
    let better_by = if result.kind.higher_is_better() {
        actual - result.target
    } else {
        result.target - actual
    };
    let pts = match result.kind.unit() {
        Unit::Percent | Unit::Nps => better_by,
        Unit::Seconds | Unit::Score => {
            if result.target == 0.0 {
                return None;
            }
            better_by / result.target.abs() * 100.0
        }
    };
    let pts = round_to(pts, 6);
    Some(((-pts).max(0.0), pts.max(0.0)))
}

/// What a result costs or earns under `remedies`; `None` without data. Amounts are
/// rounded to 2 decimals.
pub fn money(result: &MetricResult, remedies: &Remedies) -> Option<Money> {
    let (below, above) = points(result)?;
    let credit = round_to(
        capped(below * remedies.credit_per_point, remedies.credit_cap),
        2,
    );
    let bonus = round_to(
        capped(above * remedies.bonus_per_point, remedies.bonus_cap),
        2,
    );
    Some(Money {
        points_below: below,
        points_above: above,
        credit,
        bonus,
        net: round_to(bonus - credit, 2),
        currency: remedies.currency.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compliance::*;

    #[test]
    fn bands_at_their_exact_boundaries() {
        // (actual, target, higher is better, band)
        let cases = [
            // Higher is better, 80% target.
            (85.0, 80.0, true, Band::OnTarget),
            (80.0, 80.0, true, Band::OnTarget),
            (79.99, 80.0, true, Band::Warning),
            // exactly 5% below:
            (76.0, 80.0, true, Band::Warning),
            (75.99, 80.0, true, Band::Act),
            // exactly 10% below:
            (72.0, 80.0, true, Band::Act),
            (71.99, 80.0, true, Band::AllHands),
            (0.0, 80.0, true, Band::AllHands),
            // 95% target: 90.25 is exactly 5% below, 85.5 exactly 10% (inexact in binary).
            (90.25, 95.0, true, Band::Warning),
            (85.5, 95.0, true, Band::Act),
            (85.49, 95.0, true, Band::AllHands),
            // Lower is better, a 30 s ASA target.
            (20.0, 30.0, false, Band::OnTarget),
            (30.0, 30.0, false, Band::OnTarget),
            (30.01, 30.0, false, Band::Warning),
            // exactly 5% above:
            (31.5, 30.0, false, Band::Warning),
            (31.51, 30.0, false, Band::Act),
            // exactly 10% above:
            (33.0, 30.0, false, Band::Act),
            (33.01, 30.0, false, Band::AllHands),
            // Abandonment 5% target: 5.25 is 5% worse, 5.5 is 10% worse.
            (5.25, 5.0, false, Band::Warning),
            (5.5, 5.0, false, Band::Act),
            (5.6, 5.0, false, Band::AllHands),
            // A zero target (refused by validation) is met or all hands.
            (0.0, 0.0, false, Band::OnTarget),
            (0.1, 0.0, false, Band::AllHands),
        ];
        for (actual, target, higher_is_better, expected) in cases {
            assert_eq!(
                band(actual, target, higher_is_better),
                expected,
                "{actual} against {target} (higher is better: {higher_is_better})"
            );
        }
    }

    #[test]
    fn bands_say_what_to_do() {
        assert_eq!(Band::Warning.action(), "Alert workforce management");
        assert_eq!(Band::Act.action(), "Interrupt offline work and retrain");
        assert_eq!(Band::AllHands.action(), "All hands on deck");
        assert_eq!(Band::OnTarget.action(), "No action needed");
        assert_eq!(
            serde_json::to_string(&Band::AllHands).unwrap(),
            "\"all_hands\""
        );
        assert_eq!(serde_json::to_string(&Band::NoData).unwrap(), "\"no_data\"");
        assert!(Band::OnTarget < Band::Warning && Band::Act < Band::AllHands);
    }

    // --- money ---------------------------------------------------------------------------

    fn remedies(credit_cap: Option<f64>, bonus_cap: Option<f64>) -> Remedies {
        Remedies {
            fee_per_period: 10_000.0,
            credit_per_point: 100.0,
            credit_cap,
            bonus_per_point: 50.0,
            bonus_cap,
            currency: "EUR".into(),
        }
    }

    fn result(kind: MetricKind, target: f64, actual: Option<f64>) -> MetricResult {
        MetricResult {
            kind,
            period: Period::Month,
            target,
            actual,
            numerator: 0,
            denominator: 0,
            shortfall_pct: None,
            band: Band::NoData,
            money: None,
        }
    }

    #[test]
    fn credits_and_bonuses_per_point_with_caps() {
        let frt = MetricKind::FrtAttainment;
        // 5 points below 95: 500 uncapped, 300 capped.
        let m = uncapped(frt, 95.0, 90.0);
        assert_eq!((m.points_below, m.points_above), (5.0, 0.0));
        assert_eq!((m.credit, m.bonus, m.net), (500.0, 0.0, -500.0));
        let m = money(&result(frt, 95.0, Some(90.0)), &remedies(Some(300.0), None)).unwrap();
        assert_eq!((m.credit, m.net), (300.0, -300.0));
        assert_eq!(m.currency, "EUR");
        // 3 points above: 150 uncapped, 100 capped.
        let m = uncapped(frt, 95.0, 98.0);
        assert_eq!((m.points_below, m.points_above), (0.0, 3.0));
        assert_eq!((m.credit, m.bonus, m.net), (0.0, 150.0, 150.0));
        let m = money(&result(frt, 95.0, Some(98.0)), &remedies(None, Some(100.0))).unwrap();
        assert_eq!(m.bonus, 100.0);
        // Exactly on target: nothing either way.
        let m = uncapped(frt, 95.0, 95.0);
        assert_eq!((m.credit, m.bonus, m.net), (0.0, 0.0, 0.0));
        // 0.3 points (94.7 is not exact in binary) is 30.00.
        let m = uncapped(frt, 95.0, 94.7);
        assert_eq!((m.points_below, m.credit), (0.3, 30.0));
        // No data, no money.
        assert_eq!(money(&result(frt, 95.0, None), &remedies(None, None)), None);
    }

    /// The money of `actual` against `target` under the uncapped [`remedies`].
    fn uncapped(kind: MetricKind, target: f64, actual: f64) -> Money {
        money(&result(kind, target, Some(actual)), &remedies(None, None)).unwrap()
    }

    #[test]
    fn points_for_seconds_and_scores_are_percent_of_target() {
        // ASA 33 s against 30 s: 10% worse = 10 points below.
        let m = uncapped(MetricKind::Asa, 30.0, 33.0);
        assert_eq!((m.points_below, m.credit), (10.0, 1000.0));
        // ASA 27 s: 10 points above.
        let m = uncapped(MetricKind::Asa, 30.0, 27.0);
        assert_eq!((m.points_above, m.bonus), (10.0, 500.0));
        // CES 2.7 against 3.0: 10% better.
        let m = uncapped(MetricKind::Ces, 3.0, 2.7);
        assert_eq!(m.points_above, 10.0);
        // Abandonment is percentage points, lower is better: 7% against 5% = 2 points below.
        let kind = MetricKind::AbandonmentRate { short_abandon_s: 5 };
        let m = uncapped(kind, 5.0, 7.0);
        assert_eq!((m.points_below, m.credit), (2.0, 200.0));
        // NPS points: 25 against 30.
        let m = uncapped(MetricKind::Nps, 30.0, 25.0);
        assert_eq!(m.points_below, 5.0);
    }

    // --- scope ---------------------------------------------------------------------------
}
