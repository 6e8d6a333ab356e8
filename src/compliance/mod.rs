//! Contract compliance: what a support team promised a client (or an internal department),
//! and whether a period's conversations kept the promise.
//!
//! Plain arithmetic, no I/O and no clock reads: the server reads conversations, turns each
//! into [`ConversationFacts`] and calls [`Contract::evaluate`], [`compute`] or [`breakdown`];
//! the browser can run the same code (`wasm32`).
//!
//! # Conventions
//!
//! - **Periods are UTC.** A [`PeriodKey`] ("2026-11", "2026-W47", "2026-Q4") is the half-open
//!   range `[start, end)` between UTC midnights; weeks are ISO 8601 weeks (Monday to Monday,
//!   week 1 holds the year's first Thursday, so 2026-W01 starts on 2025-12-29). A
//!   conversation belongs to the period in which it was *created*.
//! - **Percentages** are 0–100 (not fractions), computed as `numerator × 100 / denominator`.
//!   Every [`MetricResult`] carries its integer numerator and denominator; an empty
//!   denominator gives `actual: null` and [`Band::NoData`].
//! - **Direction**: ASA, abandonment rate and CES are lower-is-better; everything else is
//!   higher-is-better ([`MetricKind::higher_is_better`]). CES is the *effort* question on a
//!   1–7 scale ("How much effort did you personally have to put forth?", 1 = very little,
//!   7 = a great deal). Surveys that ask the CES 2.0 *agreement* question ("The company made
//!   it easy…", 7 = strongly agree) must be stored as `8 − score`.
//! - **Bands** use the *relative* shortfall `(target − actual) / target` (mirrored for
//!   lower-is-better metrics), the usual workforce-management reading of "5% below target":
//!   at or better than target = on target; up to and including 5% below = warning; more
//!   than 5% up to and including 10% = act; more than 10% = all hands ([`band`]). A 1e-9
//!   tolerance absorbs floating-point noise, so 76% against 80% is exactly 5% below.
//! - **Points** for remedies and incentives ([`money`]): percentage points for percentage
//!   metrics (attainment, service level, abandonment, CSAT), NPS points for NPS, and 1% of
//!   the target for metrics measured in seconds (ASA) or on a score (CES): an ASA of 33 s
//!   against 30 s is 10 points below.
//! - **Money** is per metric and per period: credit `min(cap, points below × credit per
//!   point)`, bonus `min(cap, points above × bonus per point)`, rounded to 2 decimals; the
//!   contract total ([`Compliance`]) is the fee minus the credits plus the bonuses.
//!
//! The code is split by concern: `period` (periods), `facts` (conversation facts and their
//! stored form), `scope` (which conversations a contract covers), `tally` (metrics, their
//! numerators and denominators), `bands` (bands, points and money), `breakdown` (breakdowns
//! and group counts), `contract` (the contract, its validation and its compliance) and
//! `live` (today's service level per 15/30/60-minute interval in a calendar's zone, for a
//! wallboard: the one place where days are local rather than UTC).
//! Every item is re-exported here, so `promptly::compliance::X` is the path to use.

mod bands;
mod breakdown;
mod contract;
mod facts;
mod live;
mod period;
mod scope;
mod tally;
#[cfg(test)]
mod test_support;

pub use bands::{band, money, points, shortfall_pct, Band, Money, Remedies};
pub use breakdown::{
    breakdown, group_counts, Dimension, DrillRow, GroupCounts, GroupResult, MetricBreakdowns,
};
pub use contract::{
    Compliance, Contract, CounterpartyKind, ReviewNotice, DOMAIN_PATTERN, MAX_WAIT_S,
    REVIEW_NOTICE_DAYS,
};
pub use facts::{
    cycle_counts, first_wait, first_wait_until_left, ClockRecord, ConversationFacts, FactsRecord,
    FirstWait, SurveyKind, SurveyResponse,
};
pub use live::{
    by_dimension, by_group, day_intervals, service_level_today, Board, BoardRow, IntervalLength,
    IntervalLengthError, IntervalLevel, LiveDay, LiveGroup, LiveSpec, DEFAULT_TARGET,
    DEFAULT_WITHIN_S,
};
pub use period::{Period, PeriodKey, PERIOD_QUERY_PATTERN};
pub use scope::{Scope, ScopeSubject};
pub use tally::{
    compute, result_of, tally, MetricKind, MetricResult, MetricTarget, ServiceLevelCounts,
    ServiceLevelFormula, TargetRange, Unit,
};
