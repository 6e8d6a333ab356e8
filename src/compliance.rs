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

use crate::account::FieldError;
use crate::clock::{ClockState, Metric, MetricStatus};
use crate::conversation::{Channel, ConversationSummary};
use crate::instant;
use crate::timeline::{ConversationStatus, Event, EventKind};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// Days before a contract's review date from which the page highlights it.
pub const REVIEW_NOTICE_DAYS: i64 = 30;
/// Longest contract name and counterparty name, in characters.
pub const MAX_NAME_LEN: usize = 200;
/// Longest textual component (service description, responsibilities, terms), in characters.
pub const MAX_TEXT_LEN: usize = 20_000;
/// Most metrics one contract may have.
pub const MAX_METRICS: usize = 50;
/// Longest scope entry (team, label, e-mail domain), in characters.
pub const MAX_SCOPE_ENTRY_LEN: usize = 100;
/// Longest threshold a metric may set (`within_s`, `short_abandon_s`, an ASA target): 7 days.
pub const MAX_WAIT_S: i64 = 7 * 24 * 3600;

// ---------------------------------------------------------------------------------------
// Periods
// ---------------------------------------------------------------------------------------

/// How often a metric is judged; also the length of a [`PeriodKey`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Week,
    Month,
    Quarter,
}

impl Period {
    pub const ALL: [Period; 3] = [Period::Week, Period::Month, Period::Quarter];

    pub fn as_str(self) -> &'static str {
        match self {
            Period::Week => "week",
            Period::Month => "month",
            Period::Quarter => "quarter",
        }
    }
}

/// One concrete period: an ISO week, a month or a quarter, written "2026-W47", "2026-11" or
/// "2026-Q4" (also on the wire). Years run from 1 to 9999; for weeks it is the ISO year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeriodKey {
    period: Period,
    year: i32,
    /// ISO week 1–53, month 1–12 or quarter 1–4.
    index: u32,
}

const MIN_YEAR: i32 = 1;
const MAX_YEAR: i32 = 9999;

impl PeriodKey {
    /// ISO week `week` of ISO year `year`, if that year has it (52 or 53 weeks).
    pub fn week(year: i32, week: u32) -> Option<Self> {
        ((MIN_YEAR..=MAX_YEAR).contains(&year)
            && NaiveDate::from_isoywd_opt(year, week, Weekday::Mon).is_some())
        .then_some(PeriodKey {
            period: Period::Week,
            year,
            index: week,
        })
    }

    pub fn month(year: i32, month: u32) -> Option<Self> {
        ((MIN_YEAR..=MAX_YEAR).contains(&year) && (1..=12).contains(&month)).then_some(PeriodKey {
            period: Period::Month,
            year,
            index: month,
        })
    }

    pub fn quarter(year: i32, quarter: u32) -> Option<Self> {
        ((MIN_YEAR..=MAX_YEAR).contains(&year) && (1..=4).contains(&quarter)).then_some(PeriodKey {
            period: Period::Quarter,
            year,
            index: quarter,
        })
    }

    /// The period of kind `period` that contains the instant `t` (in UTC).
    pub fn containing(period: Period, t: DateTime<Utc>) -> Self {
        let date = t.date_naive();
        let (year, index) = match period {
            Period::Week => {
                let w = date.iso_week();
                (w.year(), w.week())
            }
            Period::Month => (date.year(), date.month()),
            Period::Quarter => (date.year(), (date.month() - 1) / 3 + 1),
        };
        PeriodKey {
            period,
            year,
            index,
        }
    }

    /// Parses "2026-11" (month), "2026-W47" (ISO week) or "2026-Q4" (quarter); a lowercase
    /// `w`/`q` and surrounding whitespace are accepted.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "{text:?} is not a period: use 2026-11 (month), 2026-W47 (ISO week) or \
                 2026-Q4 (quarter)"
            )
        };
        let t = text.trim();
        let (year, rest) = t.split_once('-').ok_or_else(bad)?;
        if year.len() != 4 || !year.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let year: i32 = year.parse().map_err(|_| bad())?;
        let digits = |s: &str| -> Option<u32> {
            (s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse().ok())
                .flatten()
        };
        let key = if let Some(w) = rest.strip_prefix(['W', 'w']) {
            let week = digits(w).ok_or_else(bad)?;
            PeriodKey::week(year, week).ok_or_else(|| {
                format!("{text:?} is not a period: ISO year {year} has no week {week}")
            })?
        } else if let Some(q) = rest.strip_prefix(['Q', 'q']) {
            let q = (q.len() == 1).then(|| q.parse().ok()).flatten();
            q.and_then(|q| PeriodKey::quarter(year, q))
                .ok_or_else(bad)?
        } else {
            digits(rest)
                .and_then(|m| PeriodKey::month(year, m))
                .ok_or_else(bad)?
        };
        Ok(key)
    }

    pub fn period(self) -> Period {
        self.period
    }

    /// The calendar year, or for weeks the ISO year.
    pub fn year(self) -> i32 {
        self.year
    }

    /// ISO week 1–53, month 1–12 or quarter 1–4.
    pub fn index(self) -> u32 {
        self.index
    }

    /// The first day of the period.
    pub fn first_day(self) -> NaiveDate {
        let date = match self.period {
            Period::Week => NaiveDate::from_isoywd_opt(self.year, self.index, Weekday::Mon),
            Period::Month => NaiveDate::from_ymd_opt(self.year, self.index, 1),
            Period::Quarter => NaiveDate::from_ymd_opt(self.year, 3 * (self.index - 1) + 1, 1),
        };
        date.expect("a PeriodKey is always a valid date")
    }

    /// The day after the period's last day.
    pub fn end_day(self) -> NaiveDate {
        let first = self.first_day();
        let months = match self.period {
            Period::Week => return first + Duration::days(7),
            Period::Month => 1,
            Period::Quarter => 3,
        };
        first
            .checked_add_months(chrono::Months::new(months))
            .expect("year 10000 is inside chrono's range")
    }

    /// Midnight UTC at the start of the period (included).
    pub fn start(self) -> DateTime<Utc> {
        midnight(self.first_day())
    }

    /// Midnight UTC after the period (excluded).
    pub fn end(self) -> DateTime<Utc> {
        midnight(self.end_day())
    }

    /// `[start, end)` in UTC.
    pub fn range(self) -> (DateTime<Utc>, DateTime<Utc>) {
        (self.start(), self.end())
    }

    /// Whether `t` falls in `[start, end)`.
    pub fn contains(self, t: DateTime<Utc>) -> bool {
        self.start() <= t && t < self.end()
    }

    /// The period `steps` periods later (earlier when negative); `None` outside years 1–9999.
    pub fn shift(self, steps: i64) -> Option<Self> {
        match self.period {
            Period::Week => {
                let date = self
                    .first_day()
                    .checked_add_signed(Duration::try_days(steps.checked_mul(7)?)?)?;
                let w = date.iso_week();
                PeriodKey::week(w.year(), w.week())
            }
            Period::Month | Period::Quarter => {
                let per_year: i64 = if self.period == Period::Month { 12 } else { 4 };
                let n = (i64::from(self.year) * per_year + i64::from(self.index) - 1)
                    .checked_add(steps)?;
                let year = i32::try_from(n.div_euclid(per_year)).ok()?;
                let index = (n.rem_euclid(per_year) + 1) as u32;
                if self.period == Period::Month {
                    PeriodKey::month(year, index)
                } else {
                    PeriodKey::quarter(year, index)
                }
            }
        }
    }

    /// The trend series: the `n` periods ending with this one, oldest first
    /// (`previous(12)` on 2026-11 is 2025-12 … 2026-11). Periods before year 1 are left out.
    pub fn previous(self, n: usize) -> Vec<Self> {
        (0..n as i64)
            .rev()
            .filter_map(|back| self.shift(-back))
            .collect()
    }
}

fn midnight(date: NaiveDate) -> DateTime<Utc> {
    date.and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc()
}

impl fmt::Display for PeriodKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.period {
            Period::Week => write!(f, "{:04}-W{:02}", self.year, self.index),
            Period::Month => write!(f, "{:04}-{:02}", self.year, self.index),
            Period::Quarter => write!(f, "{:04}-Q{}", self.year, self.index),
        }
    }
}

impl FromStr for PeriodKey {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PeriodKey::parse(s)
    }
}

impl Serialize for PeriodKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PeriodKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        PeriodKey::parse(&text).map_err(serde::de::Error::custom)
    }
}

// ---------------------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------------------

/// How a service level treats contacts abandoned before any response. "Within Y" is at
/// most `within_s` seconds (inclusive); an abandoned contact's wait is
/// [`ConversationFacts::abandoned_after_s`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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

    /// Whether a contract may set `target` for this metric; the error message if not.
    /// Every target is above 0: bands and points are relative to it.
    fn check_target(self, target: f64) -> Result<(), &'static str> {
        if !target.is_finite() {
            return Err("must be a finite number");
        }
        let (ok, message) = match self.unit() {
            Unit::Percent | Unit::Nps => (
                target > 0.0 && target <= 100.0,
                "must be greater than 0 and at most 100",
            ),
            Unit::Seconds => (
                target > 0.0 && target <= MAX_WAIT_S as f64,
                "must be greater than 0 and at most 604800 seconds",
            ),
            Unit::Score => (
                (1.0..=7.0).contains(&target),
                "must be at least 1 and at most 7",
            ),
        };
        if ok {
            Ok(())
        } else {
            Err(message)
        }
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
// Conversation facts
// ---------------------------------------------------------------------------------------

/// A survey's kind; its scale is [`SurveyKind::scale`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SurveyKind {
    Csat,
    Nps,
    Ces,
}

impl SurveyKind {
    pub const ALL: [SurveyKind; 3] = [SurveyKind::Csat, SurveyKind::Nps, SurveyKind::Ces];

    /// "CSAT", "NPS", "CES".
    pub fn name(self) -> &'static str {
        match self {
            SurveyKind::Csat => "CSAT",
            SurveyKind::Nps => "NPS",
            SurveyKind::Ces => "CES",
        }
    }

    /// Lowest and highest valid score: CSAT 1–5, NPS 0–10, CES 1–7. Scores outside are
    /// ignored by every metric.
    pub fn scale(self) -> (i64, i64) {
        match self {
            SurveyKind::Csat => (1, 5),
            SurveyKind::Nps => (0, 10),
            SurveyKind::Ces => (1, 7),
        }
    }
}

/// One survey answer (a `survey.submitted` event).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SurveyResponse {
    pub kind: SurveyKind,
    pub score: i64,
}

/// What compliance needs of one conversation; the server fills it from the stored
/// conversation (its summary, policy and SLA state, see [`ConversationFacts::set_clocks`])
/// and its timeline ([`first_wait`]). Everything is a plain field so that it can be cached
/// per conversation and recomputed only when the conversation changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationFacts {
    /// When the conversation was created: decides its period.
    #[serde(with = "instant::rfc3339")]
    pub created_at: DateTime<Utc>,
    pub channel: Channel,
    /// The department of the conversation's team (the server's team → department mapping);
    /// the "department" breakdown groups by it.
    #[serde(default)]
    pub department: Option<String>,
    #[serde(default)]
    pub team: Option<String>,
    /// The owning agent's e-mail; the "agent" breakdown groups by it.
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub labels: Vec<String>,
    /// The SLA policy in force (for scope matching).
    #[serde(default)]
    pub policy_id: Option<i64>,
    #[serde(default)]
    pub contact_email: Option<String>,
    /// Wall-clock seconds from the start of the wait for a human (creation, or the bot
    /// hand-over: where the first-response clock starts) to the first response (a public
    /// message by a human agent); `None` when not answered. Some = "answered".
    #[serde(default)]
    pub first_response_s: Option<i64>,
    /// Wall-clock seconds from that same start until the conversation was resolved, or the
    /// customer left, without any response; `None` otherwise. Counted only when
    /// `first_response_s` is `None` (answered wins). A conversation still waiting is neither
    /// answered nor abandoned and counts in no service-level, ASA or abandonment figure.
    #[serde(default)]
    pub abandoned_after_s: Option<i64>,
    /// The first-response clock's outcome: met, missed (also when breached and still
    /// running: it can no longer be met), or `None` (no target, or still undecided).
    #[serde(default)]
    pub frt_met: Option<bool>,
    /// Next-response cycles met and missed (a breached running cycle counts as missed).
    #[serde(default)]
    pub nrt_met: u32,
    #[serde(default)]
    pub nrt_missed: u32,
    /// The resolution clock's outcome, as `frt_met`.
    #[serde(default)]
    pub rt_met: Option<bool>,
    /// Survey answers; a conversation may have several, each counts.
    #[serde(default)]
    pub surveys: Vec<SurveyResponse>,
}

impl ConversationFacts {
    /// Facts with nothing measured yet.
    pub fn new(created_at: DateTime<Utc>, channel: Channel) -> Self {
        ConversationFacts {
            created_at,
            channel,
            department: None,
            team: None,
            owner: None,
            labels: Vec::new(),
            policy_id: None,
            contact_email: None,
            first_response_s: None,
            abandoned_after_s: None,
            frt_met: None,
            nrt_met: 0,
            nrt_missed: 0,
            rt_met: None,
            surveys: Vec::new(),
        }
    }

    /// Facts from a conversation's summary, with the department the server maps its team
    /// to; the SLA and survey fields are left empty.
    pub fn from_summary(
        summary: &ConversationSummary,
        policy_id: Option<i64>,
        department: Option<String>,
    ) -> Self {
        ConversationFacts {
            department,
            team: summary.team.clone(),
            owner: summary.owner.clone(),
            labels: summary.labels.clone(),
            policy_id,
            contact_email: summary.contact.email.clone(),
            ..ConversationFacts::new(summary.created_at, summary.channel)
        }
    }

    /// Fills `frt_met`, `nrt_met`/`nrt_missed` and `rt_met` from an SLA state's statuses
    /// ([`crate::SlaState::metrics`]); a target the policy lacks stays empty.
    pub fn set_clocks(&mut self, statuses: &[MetricStatus]) {
        for s in statuses {
            let (met, missed) = cycle_counts(s);
            let outcome = (met + missed > 0).then_some(met > 0 && missed == 0);
            match s.metric {
                Metric::FirstResponse => self.frt_met = outcome,
                Metric::NextResponse => (self.nrt_met, self.nrt_missed) = (met, missed),
                Metric::Resolution => self.rt_met = outcome,
            }
        }
    }

    pub fn answered(&self) -> bool {
        self.first_response_s.is_some()
    }

    /// Ended without any response (whatever the wait).
    pub fn abandoned(&self) -> bool {
        self.first_response_s.is_none() && self.abandoned_after_s.is_some()
    }

    /// What [`Scope::matches`] looks at.
    pub fn subject(&self) -> ScopeSubject<'_> {
        ScopeSubject {
            team: self.team.as_deref(),
            channel: self.channel,
            labels: &self.labels,
            policy_id: self.policy_id,
            contact_email: self.contact_email.as_deref(),
        }
    }
}

/// Cycles of a target that are decided: (met, missed). Missed counts the status's
/// `breaches` (missed cycles, and a running or paused one past its deadline, which can no
/// longer be met); a cycle running within its deadline is undecided.
pub fn cycle_counts(status: &MetricStatus) -> (u32, u32) {
    let missed = status.breaches;
    let undecided = u32::from(
        matches!(status.state, ClockState::Ok | ClockState::Warning)
            || (status.state == ClockState::Paused && status.breaches == 0),
    );
    (status.cycles.saturating_sub(missed + undecided), missed)
}

/// A target's decided cycles and, while its current cycle runs within its deadline, that
/// deadline: the cycle counts as missed from then on without any new event. This is what
/// the server stores per conversation, so that a compliance query run at any later instant
/// counts clocks that ran out since the conversation last changed ([`ClockRecord::at`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockRecord {
    pub met: u32,
    pub missed: u32,
    /// The running, still undecided cycle's deadline.
    #[serde(default, with = "instant::option_rfc3339")]
    pub due: Option<DateTime<Utc>>,
}

impl ClockRecord {
    pub fn of(status: &MetricStatus) -> Self {
        let (met, missed) = cycle_counts(status);
        let running = matches!(status.state, ClockState::Ok | ClockState::Warning);
        ClockRecord {
            met,
            missed,
            due: status.due_at.filter(|_| running),
        }
    }

    /// (met, missed) seen at `now`: the running cycle is missed once `now` reaches its
    /// deadline.
    pub fn at(self, now: DateTime<Utc>) -> (u32, u32) {
        let late = self.due.is_some_and(|d| d <= now);
        (self.met, self.missed + u32::from(late))
    }

    /// A single-cycle target's outcome at `now` (first response, resolution): `None` while
    /// undecided or without a target.
    pub fn outcome_at(self, now: DateTime<Utc>) -> Option<bool> {
        let (met, missed) = self.at(now);
        (met + missed > 0).then_some(met > 0 && missed == 0)
    }
}

/// What the server stores of a conversation for compliance, independent of the instant it
/// is judged at; [`FactsRecord::at`] gives the [`ConversationFacts`] at an instant. Built by
/// [`FactsRecord::derive`] whenever the conversation's derived columns are written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FactsRecord {
    #[serde(with = "instant::rfc3339")]
    pub created_at: DateTime<Utc>,
    pub channel: Channel,
    pub team: Option<String>,
    pub owner: Option<String>,
    pub labels: Vec<String>,
    pub policy_id: Option<i64>,
    pub contact_email: Option<String>,
    pub first_response_s: Option<i64>,
    pub abandoned_after_s: Option<i64>,
    pub frt: ClockRecord,
    pub nrt: ClockRecord,
    pub rt: ClockRecord,
    pub surveys: Vec<SurveyResponse>,
}

impl FactsRecord {
    /// From a conversation's summary, its SLA timeline and its clocks' statuses (evaluated at
    /// any instant after its last event), under policy `policy_id`.
    pub fn derive(
        summary: &ConversationSummary,
        timeline: &[Event],
        statuses: &[MetricStatus],
        policy_id: Option<i64>,
    ) -> Self {
        let wait = first_wait_until_left(timeline, summary.left_at);
        let mut r = FactsRecord {
            created_at: summary.created_at,
            channel: summary.channel,
            // An empty team or owner is none (the store groups them so).
            team: summary.team.clone().filter(|t| !t.is_empty()),
            owner: summary.owner.clone().filter(|o| !o.is_empty()),
            labels: summary.labels.clone(),
            policy_id,
            contact_email: summary.contact.email.clone(),
            first_response_s: wait.first_response_s,
            abandoned_after_s: wait.abandoned_after_s,
            frt: ClockRecord::default(),
            nrt: ClockRecord::default(),
            rt: ClockRecord::default(),
            surveys: summary.surveys.clone(),
        };
        for s in statuses {
            let record = ClockRecord::of(s);
            match s.metric {
                Metric::FirstResponse => r.frt = record,
                Metric::NextResponse => r.nrt = record,
                Metric::Resolution => r.rt = record,
            }
        }
        r
    }

    /// The facts at `now`, with the department of the conversation's team.
    pub fn at(&self, now: DateTime<Utc>, department: Option<String>) -> ConversationFacts {
        let (nrt_met, nrt_missed) = self.nrt.at(now);
        ConversationFacts {
            created_at: self.created_at,
            channel: self.channel,
            department,
            team: self.team.clone(),
            owner: self.owner.clone(),
            labels: self.labels.clone(),
            policy_id: self.policy_id,
            contact_email: self.contact_email.clone(),
            first_response_s: self.first_response_s,
            abandoned_after_s: self.abandoned_after_s,
            frt_met: self.frt.outcome_at(now),
            nrt_met,
            nrt_missed,
            rt_met: self.rt.outcome_at(now),
            surveys: self.surveys.clone(),
        }
    }

    /// Survey counts as the store keeps them: per kind, (responses in scale, sum of the
    /// metric's numerator terms: CSAT 4–5 answers, NPS promoters − detractors, CES scores).
    pub fn survey_counts(&self, kind: SurveyKind) -> (i64, i64) {
        let facts = ConversationFacts {
            surveys: self.surveys.clone(),
            ..ConversationFacts::new(self.created_at, self.channel)
        };
        let metric = match kind {
            SurveyKind::Csat => MetricKind::Csat,
            SurveyKind::Nps => MetricKind::Nps,
            SurveyKind::Ces => MetricKind::Ces,
        };
        let (num, den) = tally(metric, [&facts]);
        (den, num)
    }
}

/// The customer's first wait, from a conversation's timeline: see
/// [`ConversationFacts::first_response_s`] and [`ConversationFacts::abandoned_after_s`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirstWait {
    pub first_response_s: Option<i64>,
    pub abandoned_after_s: Option<i64>,
}

/// Reads the first wait from a timeline (any order; sorted as the SLA engine sorts). The
/// wait starts at creation, at the bot hand-over for a bot conversation, or at the first
/// event when there is no `created` event; it ends at the first response (answered), else
/// at the first resolution after the start (abandoned). A bot conversation never handed
/// over is neither. A customer leaving (e.g. closing a web chat) is not in the timeline: the
/// server sets `abandoned_after_s` itself for that.
pub fn first_wait(events: &[Event]) -> FirstWait {
    first_wait_until_left(events, None)
}

/// [`first_wait`], where the customer may also have left at `left_at` (a
/// `conversation.left` event): without a response before it, the wait ends there if that
/// is before any resolution.
pub fn first_wait_until_left(events: &[Event], left_at: Option<DateTime<Utc>>) -> FirstWait {
    let mut sorted: Vec<&Event> = events.iter().collect();
    sorted.sort_by_key(|e| e.order_key());
    let mut start: Option<DateTime<Utc>> = None;
    let mut created = false;
    let mut resolved: Option<DateTime<Utc>> = None;
    for e in sorted {
        match e.kind {
            EventKind::Created { bot } if !created && start.is_none() => {
                created = true;
                if !bot {
                    start = Some(e.at);
                }
            }
            EventKind::Handover if start.is_none() => start = Some(e.at),
            _ if !created && start.is_none() => {
                created = true;
                start = Some(e.at);
            }
            _ => {}
        }
        let Some(s) = start else { continue };
        // Nobody answered before the customer left: a later response does not count.
        if left_at.is_some_and(|l| l >= s && e.at > l) {
            break;
        }
        if e.is_response() {
            return FirstWait {
                first_response_s: Some(seconds_between(s, e.at)),
                abandoned_after_s: None,
            };
        }
        if resolved.is_none()
            && matches!(
                e.kind,
                EventKind::Status {
                    status: ConversationStatus::Resolved
                }
            )
        {
            resolved = Some(e.at);
        }
    }
    let left = start.zip(left_at).filter(|(s, l)| l >= s).map(|(_, l)| l);
    let ended = match (resolved, left) {
        (Some(r), Some(l)) => Some(r.min(l)),
        (r, l) => r.or(l),
    };
    FirstWait {
        first_response_s: None,
        abandoned_after_s: start.zip(ended).map(|(s, r)| seconds_between(s, r)),
    }
}

fn seconds_between(from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
    instant::whole_second(to) - instant::whole_second(from)
}

// ---------------------------------------------------------------------------------------
// Scope
// ---------------------------------------------------------------------------------------

/// Which conversations a contract covers. Each non-empty list must match (all lists); within
/// a list any entry may match; an empty scope covers everything. Text compares ignoring case
/// and surrounding whitespace. E-mail domains follow the automation rules: `"bigcorp.com"`
/// matches the domain and its subdomains, `".bigcorp.com"` only subdomains, `"@bigcorp.com"`
/// only addresses ending with it exactly.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    #[serde(default)]
    pub teams: Vec<String>,
    #[serde(default)]
    pub channels: Vec<Channel>,
    /// The conversation has at least one of these labels.
    #[serde(default)]
    pub labels: Vec<String>,
    /// SLA policy ids.
    #[serde(default)]
    pub policies: Vec<i64>,
    #[serde(default)]
    pub email_domains: Vec<String>,
}

/// The parts of a conversation a [`Scope`] looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScopeSubject<'a> {
    pub team: Option<&'a str>,
    pub channel: Channel,
    pub labels: &'a [String],
    pub policy_id: Option<i64>,
    pub contact_email: Option<&'a str>,
}

impl<'a> ScopeSubject<'a> {
    pub fn of_summary(summary: &'a ConversationSummary, policy_id: Option<i64>) -> Self {
        ScopeSubject {
            team: summary.team.as_deref(),
            channel: summary.channel,
            labels: &summary.labels,
            policy_id,
            contact_email: summary.contact.email.as_deref(),
        }
    }
}

fn norm(s: &str) -> String {
    s.trim().to_lowercase()
}

fn same_text(a: &str, b: &str) -> bool {
    norm(a) == norm(b)
}

/// Whether the e-mail's domain is `domain` or a subdomain (a leading dot: only subdomains; a
/// leading `@`: exactly that domain).
fn in_domain(email: &str, domain: &str) -> bool {
    let email = norm(email);
    let domain = norm(domain);
    if domain.is_empty() {
        return false;
    }
    if domain.starts_with('@') {
        return email.ends_with(&domain);
    }
    let Some((_, host)) = email.rsplit_once('@') else {
        return false;
    };
    if domain.starts_with('.') {
        return host.ends_with(&domain);
    }
    host == domain
        || (host.len() > domain.len()
            && host.ends_with(&domain)
            && host.as_bytes()[host.len() - domain.len() - 1] == b'.')
}

impl Scope {
    /// Whether the contract covers the conversation.
    pub fn matches(&self, c: &ScopeSubject<'_>) -> bool {
        (self.teams.is_empty()
            || c.team
                .is_some_and(|t| self.teams.iter().any(|s| same_text(s, t))))
            && (self.channels.is_empty() || self.channels.contains(&c.channel))
            && (self.labels.is_empty()
                || c.labels
                    .iter()
                    .any(|l| self.labels.iter().any(|s| same_text(s, l))))
            && (self.policies.is_empty() || c.policy_id.is_some_and(|p| self.policies.contains(&p)))
            && (self.email_domains.is_empty()
                || c.contact_email
                    .is_some_and(|e| self.email_domains.iter().any(|d| in_domain(e, d))))
    }
}

// ---------------------------------------------------------------------------------------
// Bands
// ---------------------------------------------------------------------------------------

/// Where an actual value stands against its target; see [`band`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Remedies {
    /// What the client pays per period.
    #[serde(default)]
    pub fee_per_period: f64,
    /// Credited to the client (a fee reduction) per point below target.
    #[serde(default)]
    pub credit_per_point: f64,
    #[serde(default)]
    pub credit_cap: Option<f64>,
    /// Earned per point above target.
    #[serde(default)]
    pub bonus_per_point: f64,
    #[serde(default)]
    pub bonus_cap: Option<f64>,
    pub currency: String,
}

/// What one metric costs or earns in one period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

fn round_to(x: f64, decimals: i32) -> f64 {
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

// ---------------------------------------------------------------------------------------
// Computing a metric
// ---------------------------------------------------------------------------------------

/// One metric over a set of conversations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
                use ServiceLevelFormula::*;
                if let Some(wait) = answered {
                    num += i64::from(wait <= within_s);
                    den += 1;
                } else if let Some(wait) = abandoned {
                    let within = wait <= within_s;
                    match formula {
                        AbandonedWithinCountMet => {
                            num += i64::from(within);
                            den += 1;
                        }
                        AnsweredOnly => {}
                        AbandonedCountMissed => den += 1,
                        AbandonedAfterCountMissed => den += i64::from(!within),
                    }
                }
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
    let actual = (denominator > 0).then(|| match metric.kind.unit() {
        Unit::Percent | Unit::Nps => numerator as f64 * 100.0 / denominator as f64,
        Unit::Seconds | Unit::Score => numerator as f64 / denominator as f64,
    });
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

// ---------------------------------------------------------------------------------------
// Breakdowns
// ---------------------------------------------------------------------------------------

/// What a breakdown groups conversations by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
/// the totals and every breakdown need ([`Contract::evaluate_groups`]).
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

    fn get_mut(&mut self, dimension: Dimension) -> &mut Vec<GroupResult> {
        match dimension {
            Dimension::Department => &mut self.department,
            Dimension::Team => &mut self.team,
            Dimension::Agent => &mut self.agent,
            Dimension::Channel => &mut self.channel,
        }
    }
}

fn none_last(a: &Option<String>, b: &Option<String>) -> std::cmp::Ordering {
    match (a, b) {
        (None, None) => std::cmp::Ordering::Equal,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (Some(_), None) => std::cmp::Ordering::Less,
        (Some(x), Some(y)) => x.cmp(y),
    }
}

// ---------------------------------------------------------------------------------------
// Contracts
// ---------------------------------------------------------------------------------------

/// Who the contract is with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CounterpartyKind {
    Client,
    Department,
}

/// An SLA contract: its textual components, the conversations it covers, its metrics and
/// its money terms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contract {
    pub name: String,
    pub counterparty_kind: CounterpartyKind,
    /// The client's or the department's name.
    pub counterparty: String,
    #[serde(default)]
    pub service_description: String,
    /// What the support team undertakes.
    #[serde(default)]
    pub our_responsibilities: String,
    /// What the client undertakes.
    #[serde(default)]
    pub client_responsibilities: String,
    /// The remedies in words (the numbers are in `remedies`).
    #[serde(default)]
    pub remedy_terms: String,
    /// The incentives in words.
    #[serde(default)]
    pub incentive_terms: String,
    #[serde(default)]
    pub termination_terms: String,
    /// Highlighted from [`REVIEW_NOTICE_DAYS`] days before ([`Contract::review_notice`]).
    pub review_date: NaiveDate,
    #[serde(default)]
    pub scope: Scope,
    pub metrics: Vec<MetricTarget>,
    pub remedies: Remedies,
}

/// How near a contract's review date is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
    if value.trim().is_empty() {
        errors.push(FieldError::new(field, "is required"));
    } else {
        text_len(errors, field, value, max);
    }
}

fn valid_domain(d: &str) -> bool {
    let bare = d.trim().trim_start_matches(['@', '.']);
    !bare.is_empty()
        && bare.len() <= MAX_SCOPE_ENTRY_LEN
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
        required_text(e, "name", &self.name, MAX_NAME_LEN);
        required_text(e, "counterparty", &self.counterparty, MAX_NAME_LEN);
        for (field, value) in [
            ("service_description", &self.service_description),
            ("our_responsibilities", &self.our_responsibilities),
            ("client_responsibilities", &self.client_responsibilities),
            ("remedy_terms", &self.remedy_terms),
            ("incentive_terms", &self.incentive_terms),
            ("termination_terms", &self.termination_terms),
        ] {
            text_len(e, field, value, MAX_TEXT_LEN);
        }

        for (list, field) in [(&self.scope.teams, "teams"), (&self.scope.labels, "labels")] {
            for (i, v) in list.iter().enumerate() {
                required_text(e, &format!("scope.{field}[{i}]"), v, MAX_SCOPE_ENTRY_LEN);
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
        } else if self.metrics.len() > MAX_METRICS {
            e.push(FieldError::new(
                "metrics",
                format!("at most {MAX_METRICS} metrics"),
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
                if !v.is_finite() || v < 0.0 {
                    e.push(FieldError::new(
                        format!("remedies.{field}"),
                        "must be a number of at least 0",
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
    use crate::instant::parse_rfc3339;
    use crate::timeline::Author;

    fn t(text: &str) -> DateTime<Utc> {
        parse_rfc3339(text).unwrap()
    }

    fn key(text: &str) -> PeriodKey {
        PeriodKey::parse(text).unwrap()
    }

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    fn facts() -> ConversationFacts {
        ConversationFacts::new(t("2026-11-10T10:00:00Z"), Channel::Email)
    }

    fn answered(wait: i64) -> ConversationFacts {
        ConversationFacts {
            first_response_s: Some(wait),
            ..facts()
        }
    }

    fn abandoned(wait: i64) -> ConversationFacts {
        ConversationFacts {
            abandoned_after_s: Some(wait),
            ..facts()
        }
    }

    fn surveyed(kind: SurveyKind, scores: &[i64]) -> ConversationFacts {
        ConversationFacts {
            surveys: scores
                .iter()
                .map(|&score| SurveyResponse { kind, score })
                .collect(),
            ..facts()
        }
    }

    fn target(kind: MetricKind, target: f64) -> MetricTarget {
        MetricTarget {
            kind,
            target,
            period: Period::Month,
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    /// 10 answered (7 within 20 s, one of them at exactly 20 s; 3 after), 5 abandoned (2
    /// within 20 s, one at exactly 20 s; 3 after), one still waiting, and one answered
    /// conversation that also has an abandonment wait (answered wins).
    fn queue() -> Vec<ConversationFacts> {
        let mut v: Vec<ConversationFacts> = [5, 10, 15, 20, 3, 8, 12, 21, 40]
            .into_iter()
            .map(answered)
            .collect();
        v.push(ConversationFacts {
            abandoned_after_s: Some(7),
            ..answered(90)
        });
        v.extend([4, 20, 25, 60, 300].into_iter().map(abandoned));
        v.push(facts()); // still waiting
        v
    }

    fn sl(formula: ServiceLevelFormula) -> MetricKind {
        MetricKind::ServiceLevel {
            within_s: 20,
            formula,
        }
    }

    // --- periods -----------------------------------------------------------------------

    #[test]
    fn parses_months_weeks_and_quarters_into_utc_ranges() {
        let cases = [
            ("2026-11", "2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z"),
            ("2026-12", "2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z"),
            ("2028-02", "2028-02-01T00:00:00Z", "2028-03-01T00:00:00Z"),
            // ISO week 1 holds the first Thursday: 2026-01-01 is a Thursday.
            ("2026-W01", "2025-12-29T00:00:00Z", "2026-01-05T00:00:00Z"),
            ("2026-W47", "2026-11-16T00:00:00Z", "2026-11-23T00:00:00Z"),
            // 2026 has 53 ISO weeks; the last runs into 2027.
            ("2026-W53", "2026-12-28T00:00:00Z", "2027-01-04T00:00:00Z"),
            ("2027-W01", "2027-01-04T00:00:00Z", "2027-01-11T00:00:00Z"),
            ("2026-Q1", "2026-01-01T00:00:00Z", "2026-04-01T00:00:00Z"),
            ("2026-Q2", "2026-04-01T00:00:00Z", "2026-07-01T00:00:00Z"),
            ("2026-Q3", "2026-07-01T00:00:00Z", "2026-10-01T00:00:00Z"),
            ("2026-Q4", "2026-10-01T00:00:00Z", "2027-01-01T00:00:00Z"),
        ];
        for (text, start, end) in cases {
            let k = key(text);
            assert_eq!(k.range(), (t(start), t(end)), "{text}");
            assert_eq!(k.to_string(), text);
            assert!(k.contains(t(start)) && !k.contains(t(end)), "{text}");
            assert!(k.contains(t(end) - Duration::seconds(1)), "{text}");
        }
        assert_eq!(key(" 2026-w05 ").to_string(), "2026-W05");
        assert_eq!(key("2026-q4").to_string(), "2026-Q4");
        assert_eq!(key("2026-Q4").period(), Period::Quarter);
        assert_eq!(
            (key("2026-W47").year(), key("2026-W47").index()),
            (2026, 47)
        );
    }

    #[test]
    fn refuses_malformed_periods() {
        for bad in [
            "",
            "2026",
            "2026-13",
            "2026-00",
            "2026-1",
            "2026-011",
            "26-11",
            "2026/11",
            "2026-Q0",
            "2026-Q5",
            "2026-Q12",
            "2026-W00",
            "2026-W1",
            "2026-W54",
            "0000-01",
            "+2026-01",
            "2026-11-01",
        ] {
            let err = PeriodKey::parse(bad).unwrap_err();
            assert!(err.contains("is not a period"), "{bad}: {err}");
        }
        // 2027 starts on a Friday and is not a leap year: 52 ISO weeks.
        let err = PeriodKey::parse("2027-W53").unwrap_err();
        assert!(err.contains("ISO year 2027 has no week 53"), "{err}");
    }

    #[test]
    fn period_keys_travel_as_strings() {
        let k: PeriodKey = serde_json::from_str("\"2026-W01\"").unwrap();
        assert_eq!(serde_json::to_string(&k).unwrap(), "\"2026-W01\"");
        assert!(serde_json::from_str::<PeriodKey>("\"2026-W99\"").is_err());
        assert_eq!("2026-Q4".parse::<PeriodKey>().unwrap(), key("2026-Q4"));
    }

    #[test]
    fn finds_the_period_containing_an_instant() {
        let new_year = t("2026-01-01T00:00:00Z");
        assert_eq!(
            PeriodKey::containing(Period::Week, new_year),
            key("2026-W01")
        );
        assert_eq!(
            PeriodKey::containing(Period::Month, new_year),
            key("2026-01")
        );
        assert_eq!(
            PeriodKey::containing(Period::Quarter, new_year),
            key("2026-Q1")
        );
        let eve = t("2025-12-31T23:59:59Z");
        assert_eq!(PeriodKey::containing(Period::Week, eve), key("2026-W01"));
        assert_eq!(PeriodKey::containing(Period::Month, eve), key("2025-12"));
        assert_eq!(PeriodKey::containing(Period::Quarter, eve), key("2025-Q4"));
        assert_eq!(
            PeriodKey::containing(Period::Quarter, t("2026-09-30T23:59:59Z")),
            key("2026-Q3")
        );
        assert_eq!(
            PeriodKey::containing(Period::Quarter, t("2026-10-01T00:00:00Z")),
            key("2026-Q4")
        );
        // UTC, not local time: 00:30 in Amsterdam on 1 December is still November.
        assert_eq!(
            PeriodKey::containing(Period::Month, t("2026-12-01T00:30:00+01:00")),
            key("2026-11")
        );
    }

    #[test]
    fn steps_back_for_trend_series() {
        let months: Vec<String> = key("2026-11")
            .previous(12)
            .iter()
            .map(|k| k.to_string())
            .collect();
        assert_eq!(months.len(), 12);
        assert_eq!(months.first().unwrap(), "2025-12");
        assert_eq!(months.last().unwrap(), "2026-11");
        let quarters: Vec<String> = key("2026-Q2")
            .previous(3)
            .iter()
            .map(|k| k.to_string())
            .collect();
        assert_eq!(quarters, ["2025-Q4", "2026-Q1", "2026-Q2"]);
        let weeks: Vec<String> = key("2026-W02")
            .previous(3)
            .iter()
            .map(|k| k.to_string())
            .collect();
        assert_eq!(weeks, ["2025-W52", "2026-W01", "2026-W02"]);
        assert_eq!(key("2026-W53").shift(1), Some(key("2027-W01")));
        assert_eq!(key("2020-W53").shift(-53), Some(key("2019-W52")));
        assert_eq!(key("2026-12").shift(1), Some(key("2027-01")));
        assert_eq!(key("2026-01").shift(-13), Some(key("2024-12")));
        assert_eq!(key("2026-11").previous(0), Vec::<PeriodKey>::new());
        // Nothing before year 1.
        assert_eq!(
            key("0001-02").previous(5),
            vec![key("0001-01"), key("0001-02")]
        );
        assert_eq!(key("9999-Q4").shift(1), None);
    }

    // --- service level -----------------------------------------------------------------

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

    fn status(metric: Metric, state: ClockState, breaches: u32, cycles: u32) -> MetricStatus {
        MetricStatus {
            metric,
            state,
            due_at: None,
            remaining_s: None,
            breaches,
            text: String::new(),
            target_s: 60,
            started_at: None,
            warn_at: None,
            finished_at: None,
            cycles,
        }
    }

    #[test]
    fn clock_outcomes_come_from_sla_statuses() {
        use ClockState::*;
        use Metric::*;
        assert_eq!(cycle_counts(&status(FirstResponse, Met, 0, 1)), (1, 0));
        assert_eq!(cycle_counts(&status(FirstResponse, Missed, 1, 1)), (0, 1));
        assert_eq!(cycle_counts(&status(FirstResponse, Breached, 1, 1)), (0, 1));
        assert_eq!(cycle_counts(&status(FirstResponse, Ok, 0, 1)), (0, 0));
        assert_eq!(
            cycle_counts(&status(FirstResponse, NotStarted, 0, 0)),
            (0, 0)
        );
        assert_eq!(cycle_counts(&status(Resolution, Paused, 0, 1)), (0, 0));
        assert_eq!(cycle_counts(&status(Resolution, Paused, 1, 1)), (0, 1));
        // Next response: 5 cycles, 1 missed earlier, the running one within its deadline.
        assert_eq!(cycle_counts(&status(NextResponse, Warning, 1, 5)), (3, 1));
        // ... or breached now: missed twice.
        assert_eq!(cycle_counts(&status(NextResponse, Breached, 2, 5)), (3, 2));

        let mut f = facts();
        f.set_clocks(&[
            status(FirstResponse, Met, 0, 1),
            status(NextResponse, Ok, 1, 4),
            status(Resolution, Breached, 1, 1),
        ]);
        assert_eq!(
            (f.frt_met, f.nrt_met, f.nrt_missed, f.rt_met),
            (Some(true), 2, 1, Some(false))
        );
        f.set_clocks(&[status(Resolution, Ok, 0, 1)]);
        assert_eq!(f.rt_met, None);
    }

    #[test]
    fn first_wait_from_a_timeline() {
        let at = |s: &str| t(&format!("2026-11-18T{s}Z"));
        let msg = |s: &str, a: Author| Event::message(at(s), a);
        // Answered 45 s after creation; a bot message and a private note do not respond.
        let w = first_wait(&[
            msg("10:00:45", Author::Agent),
            Event::created(at("10:00:00")),
            msg("10:00:00", Author::Customer),
            msg("10:00:10", Author::Bot),
            Event::private_note(at("10:00:20")),
        ]);
        assert_eq!(w.first_response_s, Some(45));
        assert_eq!(w.abandoned_after_s, None);
        // A bot conversation waits from the hand-over.
        let w = first_wait(&[
            Event::created_by_bot(at("10:00:00")),
            msg("10:00:00", Author::Customer),
            Event::handover(at("10:02:00")),
            msg("10:03:00", Author::Agent),
        ]);
        assert_eq!(w.first_response_s, Some(60));
        // Resolved without a response: abandoned after 5 minutes (the first resolution).
        let w = first_wait(&[
            Event::created(at("10:00:00")),
            Event::status(at("10:05:00"), ConversationStatus::Resolved),
            msg("10:06:00", Author::Customer),
            Event::status(at("10:09:00"), ConversationStatus::Resolved),
        ]);
        assert_eq!(
            w,
            FirstWait {
                first_response_s: None,
                abandoned_after_s: Some(300),
            }
        );
        // A later response wins over an earlier resolution.
        let w = first_wait(&[
            Event::created(at("10:00:00")),
            Event::status(at("10:05:00"), ConversationStatus::Resolved),
            msg("10:20:00", Author::Agent),
        ]);
        assert_eq!(w.first_response_s, Some(1200));
        assert_eq!(w.abandoned_after_s, None);
        // A bot that solved it alone: neither answered nor abandoned.
        let w = first_wait(&[
            Event::created_by_bot(at("10:00:00")),
            msg("10:01:00", Author::Bot),
            Event::status(at("10:02:00"), ConversationStatus::Resolved),
        ]);
        assert_eq!(w, FirstWait::default());
        // Without a `created` event the first event starts the wait.
        let w = first_wait(&[
            msg("10:00:00", Author::Customer),
            msg("10:00:30", Author::Agent),
        ]);
        assert_eq!(w.first_response_s, Some(30));
        assert_eq!(first_wait(&[]), FirstWait::default());
    }

    // --- bands ---------------------------------------------------------------------------

    #[test]
    fn bands_at_their_exact_boundaries_higher_is_better() {
        let cases = [
            (85.0, Band::OnTarget),
            (80.0, Band::OnTarget),
            (79.99, Band::Warning),
            (76.0, Band::Warning), // exactly 5% below
            (75.99, Band::Act),
            (72.0, Band::Act), // exactly 10% below
            (71.99, Band::AllHands),
            (0.0, Band::AllHands),
        ];
        for (actual, expected) in cases {
            assert_eq!(band(actual, 80.0, true), expected, "{actual}");
        }
        // 95% target: 90.25 is exactly 5% below, 85.5 exactly 10% (inexact in binary).
        assert_eq!(band(90.25, 95.0, true), Band::Warning);
        assert_eq!(band(85.5, 95.0, true), Band::Act);
        assert_eq!(band(85.49, 95.0, true), Band::AllHands);
    }

    #[test]
    fn bands_at_their_exact_boundaries_lower_is_better() {
        let cases = [
            (20.0, Band::OnTarget),
            (30.0, Band::OnTarget),
            (30.01, Band::Warning),
            (31.5, Band::Warning), // exactly 5% above a 30 s ASA target
            (31.51, Band::Act),
            (33.0, Band::Act), // exactly 10%
            (33.01, Band::AllHands),
        ];
        for (actual, expected) in cases {
            assert_eq!(band(actual, 30.0, false), expected, "{actual}");
        }
        // Abandonment 5% target: 5.25 is 5% worse, 5.5 is 10% worse.
        assert_eq!(band(5.25, 5.0, false), Band::Warning);
        assert_eq!(band(5.5, 5.0, false), Band::Act);
        assert_eq!(band(5.6, 5.0, false), Band::AllHands);
        // A zero target (refused by validation) is met or all hands.
        assert_eq!(band(0.0, 0.0, false), Band::OnTarget);
        assert_eq!(band(0.1, 0.0, false), Band::AllHands);
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
        let m = money(&result(frt, 95.0, Some(90.0)), &remedies(None, None)).unwrap();
        assert_eq!((m.points_below, m.points_above), (5.0, 0.0));
        assert_eq!((m.credit, m.bonus, m.net), (500.0, 0.0, -500.0));
        let m = money(&result(frt, 95.0, Some(90.0)), &remedies(Some(300.0), None)).unwrap();
        assert_eq!((m.credit, m.net), (300.0, -300.0));
        assert_eq!(m.currency, "EUR");
        // 3 points above: 150 uncapped, 100 capped.
        let m = money(&result(frt, 95.0, Some(98.0)), &remedies(None, None)).unwrap();
        assert_eq!((m.points_below, m.points_above), (0.0, 3.0));
        assert_eq!((m.credit, m.bonus, m.net), (0.0, 150.0, 150.0));
        let m = money(&result(frt, 95.0, Some(98.0)), &remedies(None, Some(100.0))).unwrap();
        assert_eq!(m.bonus, 100.0);
        // Exactly on target: nothing either way.
        let m = money(&result(frt, 95.0, Some(95.0)), &remedies(None, None)).unwrap();
        assert_eq!((m.credit, m.bonus, m.net), (0.0, 0.0, 0.0));
        // 0.3 points (94.7 is not exact in binary) is 30.00.
        let m = money(&result(frt, 95.0, Some(94.7)), &remedies(None, None)).unwrap();
        assert_eq!((m.points_below, m.credit), (0.3, 30.0));
        // No data, no money.
        assert_eq!(money(&result(frt, 95.0, None), &remedies(None, None)), None);
    }

    #[test]
    fn points_for_seconds_and_scores_are_percent_of_target() {
        // ASA 33 s against 30 s: 10% worse = 10 points below.
        let m = money(
            &result(MetricKind::Asa, 30.0, Some(33.0)),
            &remedies(None, None),
        )
        .unwrap();
        assert_eq!((m.points_below, m.credit), (10.0, 1000.0));
        // ASA 27 s: 10 points above.
        let m = money(
            &result(MetricKind::Asa, 30.0, Some(27.0)),
            &remedies(None, None),
        )
        .unwrap();
        assert_eq!((m.points_above, m.bonus), (10.0, 500.0));
        // CES 2.7 against 3.0: 10% better.
        let m = money(
            &result(MetricKind::Ces, 3.0, Some(2.7)),
            &remedies(None, None),
        )
        .unwrap();
        assert_eq!(m.points_above, 10.0);
        // Abandonment is percentage points, lower is better: 7% against 5% = 2 points below.
        let kind = MetricKind::AbandonmentRate { short_abandon_s: 5 };
        let m = money(&result(kind, 5.0, Some(7.0)), &remedies(None, None)).unwrap();
        assert_eq!((m.points_below, m.credit), (2.0, 200.0));
        // NPS points: 25 against 30.
        let m = money(
            &result(MetricKind::Nps, 30.0, Some(25.0)),
            &remedies(None, None),
        )
        .unwrap();
        assert_eq!(m.points_below, 5.0);
    }

    // --- scope ---------------------------------------------------------------------------

    #[test]
    fn scope_matches_every_non_empty_list() {
        let mut f = facts();
        f.team = Some("Billing".into());
        f.labels = vec!["Refund".into(), "vip".into()];
        f.policy_id = Some(7);
        f.contact_email = Some("Ann@EU.BigCorp.com".into());
        assert!(Scope::default().matches(&f.subject()));
        let scope = |json: &str| -> Scope { serde_json::from_str(json).unwrap() };
        let yes = [
            r#"{"teams": [" billing "]}"#,
            r#"{"channels": ["sms", "email"]}"#,
            r#"{"labels": ["VIP", "other"]}"#,
            r#"{"policies": [3, 7]}"#,
            r#"{"email_domains": ["bigcorp.com"]}"#,
            r#"{"email_domains": [".bigcorp.com"]}"#,
            r#"{"email_domains": ["@eu.bigcorp.com"]}"#,
            r#"{"teams": ["billing"], "channels": ["email"], "labels": ["refund"],
                "policies": [7], "email_domains": ["BigCorp.com"]}"#,
        ];
        for json in yes {
            assert!(scope(json).matches(&f.subject()), "{json}");
        }
        let no = [
            r#"{"teams": ["sales"]}"#,
            r#"{"channels": ["whatsapp"]}"#,
            r#"{"labels": ["urgent"]}"#,
            r#"{"policies": [8]}"#,
            r#"{"email_domains": ["corp.com"]}"#,
            r#"{"email_domains": ["@bigcorp.com"]}"#,
            r#"{"teams": ["billing"], "channels": ["sms"]}"#,
        ];
        for json in no {
            assert!(!scope(json).matches(&f.subject()), "{json}");
        }
        // Missing values match no list.
        let bare = facts();
        for json in [
            r#"{"teams": ["billing"]}"#,
            r#"{"labels": ["vip"]}"#,
            r#"{"policies": [7]}"#,
            r#"{"email_domains": ["bigcorp.com"]}"#,
        ] {
            assert!(!scope(json).matches(&bare.subject()), "{json}");
        }
        // Only subdomains with a leading dot; not a look-alike domain.
        f.contact_email = Some("bob@bigcorp.com".into());
        assert!(!scope(r#"{"email_domains": [".bigcorp.com"]}"#).matches(&f.subject()));
        f.contact_email = Some("bob@notbigcorp.com".into());
        assert!(!scope(r#"{"email_domains": ["bigcorp.com"]}"#).matches(&f.subject()));
    }

    // --- breakdowns ----------------------------------------------------------------------

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

    fn contract_json() -> serde_json::Value {
        serde_json::json!({
            "name": "BigCorp premium support",
            "counterparty_kind": "client",
            "counterparty": "BigCorp",
            "service_description": "E-mail and chat support, 24/7.",
            "review_date": "2027-03-31",
            "scope": {"email_domains": ["bigcorp.com"], "channels": ["email", "webchat"]},
            "metrics": [
                {"kind": "frt_attainment", "target": 95, "period": "month"},
                {"kind": "service_level", "within_s": 20, "formula": "abandoned_count_missed",
                 "target": 80, "period": "month"},
                {"kind": "asa", "target": 30, "period": "month"},
                {"kind": "abandonment_rate", "short_abandon_s": 5, "target": 5,
                 "period": "month"},
                {"kind": "csat", "target": 85, "period": "quarter"},
                {"kind": "nps", "target": 30, "period": "quarter"},
                {"kind": "ces", "target": 3, "period": "quarter"}
            ],
            "remedies": {"fee_per_period": 10000, "credit_per_point": 100, "credit_cap": 1500,
                         "bonus_per_point": 50, "bonus_cap": 500, "currency": "EUR"}
        })
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
        c.counterparty = "x".repeat(MAX_NAME_LEN + 1);
        c.termination_terms = "x".repeat(MAX_TEXT_LEN + 1);
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
    fn facts_from_a_summary_and_as_json() {
        let summary = ConversationSummary {
            channel: Channel::Whatsapp,
            visibility: crate::conversation::Visibility::Direct,
            contact: crate::conversation::Contact {
                email: Some("ann@bigcorp.com".into()),
                ..Default::default()
            },
            priority: crate::conversation::Priority::High,
            labels: vec!["vip".into()],
            team: Some("t1".into()),
            owner: Some("bob@us.com".into()),
            status: ConversationStatus::Open,
            bot: false,
            created_at: t("2026-11-10T10:00:00Z"),
            last_message: None,
            last_author: None,
            last_message_at: None,
            surveys: Vec::new(),
            left_at: None,
        };
        let f = ConversationFacts::from_summary(&summary, Some(3), Some("Support".into()));
        assert_eq!(f.subject(), ScopeSubject::of_summary(&summary, Some(3)));
        assert_eq!(f.department.as_deref(), Some("Support"));
        let json = serde_json::to_value(&f).unwrap();
        assert_eq!(json["created_at"], "2026-11-10T10:00:00Z");
        assert_eq!(json["channel"], "whatsapp");
        let minimal: ConversationFacts = serde_json::from_value(serde_json::json!({
            "created_at": "2026-11-10T10:00:00Z", "channel": "sms",
            "surveys": [{"kind": "nps", "score": 9}]
        }))
        .unwrap();
        assert_eq!(minimal.surveys[0].kind, SurveyKind::Nps);
        assert!(!minimal.answered() && !minimal.abandoned());
    }

    // --- stored records, group counts -------------------------------------------------

    #[test]
    fn a_customer_leaving_unanswered_is_an_abandonment_at_the_earlier_end() {
        let at = |s: &str| t(&format!("2026-11-10T{s}Z"));
        let created = [
            Event::created(at("10:00:00")),
            Event::message(at("10:00:00"), Author::Customer),
        ];
        let w = first_wait_until_left(&created, Some(at("10:01:30")));
        assert_eq!(w.abandoned_after_s, Some(90));
        assert_eq!(w.first_response_s, None);
        let mut resolved = created.to_vec();
        resolved.push(Event::new(
            at("10:01:00"),
            EventKind::Status {
                status: ConversationStatus::Resolved,
            },
        ));
        assert_eq!(
            first_wait_until_left(&resolved, Some(at("10:01:30"))).abandoned_after_s,
            Some(60)
        );
        // Answered only after leaving: abandoned when the customer left.
        let mut late = created.to_vec();
        late.push(Event::message(at("10:05:00"), Author::Agent));
        let w = first_wait_until_left(&late, Some(at("10:01:30")));
        assert_eq!((w.first_response_s, w.abandoned_after_s), (None, Some(90)));
        // Answered before leaving: answered wins.
        let mut answered = created.to_vec();
        answered.push(Event::message(at("10:00:20"), Author::Agent));
        let w = first_wait_until_left(&answered, Some(at("10:05:00")));
        assert_eq!((w.first_response_s, w.abandoned_after_s), (Some(20), None));
    }

    #[test]
    fn a_stored_running_clock_counts_as_missed_once_its_deadline_passes() {
        let due = t("2026-11-10T11:00:00Z");
        let running = ClockRecord {
            met: 2,
            missed: 1,
            due: Some(due),
        };
        assert_eq!(running.at(t("2026-11-10T10:59:59Z")), (2, 1));
        assert_eq!(running.at(due), (2, 2));
        let first = ClockRecord {
            met: 0,
            missed: 0,
            due: Some(due),
        };
        assert_eq!(first.outcome_at(t("2026-11-10T10:00:00Z")), None);
        assert_eq!(first.outcome_at(t("2026-11-10T12:00:00Z")), Some(false));
        let met = ClockRecord {
            met: 1,
            ..ClockRecord::default()
        };
        assert_eq!(met.outcome_at(due), Some(true));
        assert_eq!(ClockRecord::default().outcome_at(due), None);
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
