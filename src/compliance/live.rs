//! Today's service level, live: "X % answered within Y" so far today, per 15-, 30- or
//! 60-minute interval of a calendar's local day ([`service_level_today`]), per group
//! ([`by_group`]): the domain part of a wallboard.
//!
//! - **The day** is the local day in the spec's zone that holds `now`: from local midnight
//!   (the first existing instant of the date when midnight falls in a DST gap; the earlier
//!   one when it is repeated) to the next one ([`day_intervals`]).
//! - **Intervals** run between consecutive instants whose local wall-clock time is a
//!   multiple of the interval length after midnight; a local time that does not exist is no
//!   boundary and a repeated one is two. Europe/Amsterdam's spring-forward day has 23 hours
//!   and 46 half-hours (the one starting at 01:30 ends at 03:00, half an hour later); its
//!   fall-back day has 25 hours and 50 half-hours (02:00 and 02:30 appear twice).
//! - **A contact** counts in the interval in which it arrived (`created_at`), only when that
//!   is today, at or before `now`; intervals starting after `now` are not listed, the current
//!   one is (partial).
//! - **The level** is the contract's [`ServiceLevelFormula`], with its one definition
//!   ([`ServiceLevelFormula::fraction`]) and percentage
//!   ([`Unit::actual`](super::Unit::actual)), coloured by [`band`] as the compliance pages
//!   do. A contact still waiting is counted (`waiting`); once it has waited longer than Y
//!   it can no longer be answered within Y, so it counts as answered late (missed) in every
//!   formula, and the level falls while customers wait, not only when they are answered.

use super::bands::{band, Band};
use super::breakdown::{none_last, Dimension};
use super::facts::ConversationFacts;
use super::tally::{MetricKind, MetricTarget, ServiceLevelCounts, ServiceLevelFormula};
use crate::calendar::resolve_local;
use crate::instant::{self, from_whole_second};
use chrono::{DateTime, Duration, LocalResult, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// The length of a wallboard interval. JSON: `15`, `30` or `60` (a number; the strings
/// `"15"`, `"30"`, `"60"` are read too, as a query string has them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IntervalLength {
    Min15,
    Min30,
    Min60,
}

/// An interval length other than 15, 30 or 60 minutes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an interval is 15, 30 or 60 minutes, not {0}")]
pub struct IntervalLengthError(pub String);

impl IntervalLength {
    pub const ALL: [IntervalLength; 3] = [
        IntervalLength::Min15,
        IntervalLength::Min30,
        IntervalLength::Min60,
    ];

    pub fn minutes(self) -> u32 {
        match self {
            IntervalLength::Min15 => 15,
            IntervalLength::Min30 => 30,
            IntervalLength::Min60 => 60,
        }
    }

    /// The length of 15, 30 or 60 minutes; an error naming the value otherwise.
    pub fn from_minutes(minutes: i64) -> Result<Self, IntervalLengthError> {
        match minutes {
            15 => Ok(IntervalLength::Min15),
            30 => Ok(IntervalLength::Min30),
            60 => Ok(IntervalLength::Min60),
            other => Err(IntervalLengthError(other.to_string())),
        }
    }
}

impl fmt::Display for IntervalLength {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.minutes())
    }
}

impl FromStr for IntervalLength {
    type Err = IntervalLengthError;

    /// "15", "30" or "60" (spaces around allowed).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().parse::<i64>() {
            Ok(minutes) => IntervalLength::from_minutes(minutes),
            Err(_) => Err(IntervalLengthError(format!("{text:?}"))),
        }
    }
}

impl TryFrom<i64> for IntervalLength {
    type Error = IntervalLengthError;

    fn try_from(minutes: i64) -> Result<Self, Self::Error> {
        IntervalLength::from_minutes(minutes)
    }
}

impl Serialize for IntervalLength {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(self.minutes())
    }
}

impl<'de> Deserialize<'de> for IntervalLength {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Minutes;

        impl de::Visitor<'_> for Minutes {
            type Value = IntervalLength;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("15, 30 or 60 (minutes)")
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<IntervalLength, E> {
                IntervalLength::from_minutes(v).map_err(E::custom)
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<IntervalLength, E> {
                match i64::try_from(v) {
                    Ok(v) => self.visit_i64(v),
                    Err(_) => Err(E::custom(IntervalLengthError(v.to_string()))),
                }
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<IntervalLength, E> {
                if v.fract() == 0.0 && v.abs() < 1e15 {
                    self.visit_i64(v as i64)
                } else {
                    Err(E::custom(IntervalLengthError(v.to_string())))
                }
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<IntervalLength, E> {
                v.parse().map_err(E::custom)
            }
        }

        d.deserialize_any(Minutes)
    }
}

impl utoipa::PartialSchema for IntervalLength {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .description(Some("Interval length in minutes."))
            .enum_values(Some(IntervalLength::ALL.map(|l| l.minutes())))
            .into()
    }
}

impl utoipa::ToSchema for IntervalLength {}

/// What a live service level measures: the contract's "within Y" (`within_s`, inclusive),
/// formula and target (percent), in a calendar's zone, per interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LiveSpec {
    pub zone: Tz,
    pub interval: IntervalLength,
    pub within_s: i64,
    pub formula: ServiceLevelFormula,
    pub target: f64,
}

impl LiveSpec {
    /// The spec of a contract's service-level metric; `None` for any other metric.
    pub fn of_metric(zone: Tz, interval: IntervalLength, metric: &MetricTarget) -> Option<Self> {
        match metric.kind {
            MetricKind::ServiceLevel { within_s, formula } => Some(LiveSpec {
                zone,
                interval,
                within_s,
                formula,
                target: metric.target,
            }),
            _ => None,
        }
    }

    fn kind(&self) -> MetricKind {
        MetricKind::ServiceLevel {
            within_s: self.within_s,
            formula: self.formula,
        }
    }
}

/// The service level of one interval (or of the day so far).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IntervalLevel {
    #[serde(with = "instant::rfc3339")]
    pub start: DateTime<Utc>,
    /// The start's local time in the zone, "HH:MM" (what a wall screen shows).
    pub label: String,
    /// The interval's end (the current one's too, though it is not over); for the day's
    /// total, `now`.
    #[serde(with = "instant::rfc3339")]
    pub end: DateTime<Utc>,
    /// Contacts that arrived: answered + abandoned + waiting.
    pub offered: i64,
    pub answered: i64,
    /// Answered within Y (at most `within_s` seconds).
    pub answered_within: i64,
    /// Left, or resolved, without any response.
    pub abandoned: i64,
    pub abandoned_within: i64,
    /// Neither answered nor abandoned yet (counted as answered late once past Y).
    pub waiting: i64,
    /// The formula's numerator and denominator.
    pub numerator: i64,
    pub denominator: i64,
    /// Percent, 0–100; `null` when nothing countable (an empty denominator).
    pub service_level: Option<f64>,
    /// Against the target; `no_data` when `service_level` is `null`.
    pub band: Band,
}

/// Today's service level in a zone: per interval up to the current one, and in total.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LiveDay {
    /// The local date.
    pub day: NaiveDate,
    /// From local midnight up to and including the interval holding `now`.
    pub intervals: Vec<IntervalLevel>,
    /// The day so far: from the day's start to `now`.
    pub total: IntervalLevel,
}

/// One group's day ([`by_group`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LiveGroup {
    /// The team, channel, … ; `null` for "none" (no team, …).
    pub key: Option<String>,
    pub live: LiveDay,
}

/// One row of the live wallboard: a team's, a channel's, a contract's or everyone's service
/// level today, with what waits now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BoardRow {
    /// `all`, `team`, `channel` or `contract`.
    pub kind: String,
    /// The team, channel word or contract id; `null` for everyone and for "no team".
    pub key: Option<String>,
    pub label: String,
    /// "X % answered within Y": Y in seconds, the target X and the formula for abandons.
    pub within_s: i64,
    pub target: f64,
    pub formula: ServiceLevelFormula,
    pub live: LiveDay,
    /// Open conversations waiting for a first response now, and since when the longest has.
    pub waiting_now: i64,
    pub longest_wait_s: Option<i64>,
    /// Breaches of today's conversations so far.
    pub breaches: i64,
    /// Agents owning an open conversation (teams and everyone).
    pub agents: Option<i64>,
}

/// The live wallboard (`GET /api/v1/live`): today in `zone`, in intervals of `interval`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Board {
    #[serde(with = "instant::rfc3339")]
    pub at: DateTime<Utc>,
    pub zone: String,
    pub interval: IntervalLength,
    /// Where the team and channel rows' Y, target and formula come from: a contract's name,
    /// or `null` for the defaults ([`DEFAULT_WITHIN_S`], [`DEFAULT_TARGET`]).
    pub spec_from: Option<String>,
    /// Everyone first, then teams, channels and contracts.
    pub rows: Vec<BoardRow>,
}

/// Y of the team and channel rows when no contract has a service-level metric: 5 minutes.
pub const DEFAULT_WITHIN_S: i64 = 300;
/// Their target then: 80 %.
pub const DEFAULT_TARGET: f64 = 80.0;

/// The intervals of the local `day` in `zone`, consecutive UTC ranges `[start, end)` from
/// the day's first instant (local midnight, or the end of a DST gap holding it) to the next
/// day's; see the module docs for the boundaries. Empty for a date the zone skipped (or the
/// last date chrono knows).
pub fn day_intervals(
    zone: Tz,
    day: NaiveDate,
    interval: IntervalLength,
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let Some(next) = day.succ_opt() else {
        return Vec::new();
    };
    let midnight = day.and_hms_opt(0, 0, 0).expect("midnight is a time");
    let start = from_whole_second(resolve_local(zone, midnight));
    let end = from_whole_second(resolve_local(
        zone,
        next.and_hms_opt(0, 0, 0).expect("midnight is a time"),
    ));
    if start >= end {
        return Vec::new();
    }
    let step = i64::from(interval.minutes());
    let mut bounds = vec![start];
    for k in 0..(24 * 60 / step) {
        let local = midnight + Duration::minutes(k * step);
        match zone.from_local_datetime(&local) {
            LocalResult::Single(t) => bounds.push(t.with_timezone(&Utc)),
            LocalResult::Ambiguous(a, b) => {
                bounds.push(a.with_timezone(&Utc));
                bounds.push(b.with_timezone(&Utc));
            }
            LocalResult::None => {}
        }
    }
    bounds.retain(|t| (start..end).contains(t));
    bounds.sort_unstable();
    bounds.dedup();
    let ends = bounds.iter().skip(1).copied().chain([end]);
    bounds.iter().copied().zip(ends).collect()
}

/// Today's service level at `now`: the local day in `spec.zone` holding `now`, each of its
/// intervals that has started (the current one partial), and the day's total. Only
/// `facts` created today at or before `now` count.
pub fn service_level_today(
    spec: &LiveSpec,
    facts: &[ConversationFacts],
    now: DateTime<Utc>,
) -> LiveDay {
    let (day, intervals) = started_intervals(spec, now);
    live_day(spec, day, &intervals, facts.iter(), now)
}

/// [`service_level_today`] per group of `key` (a team, a channel, …), sorted by key with the
/// "none" group last. Only groups with a contact today appear.
pub fn by_group(
    spec: &LiveSpec,
    facts: &[ConversationFacts],
    now: DateTime<Utc>,
    key: impl Fn(&ConversationFacts) -> Option<String>,
) -> Vec<LiveGroup> {
    let (day, intervals) = started_intervals(spec, now);
    let Some(&(day_start, _)) = intervals.first() else {
        return Vec::new();
    };
    let mut groups: BTreeMap<Option<String>, Vec<&ConversationFacts>> = BTreeMap::new();
    for f in facts.iter().filter(|f| today(f, day_start, now)) {
        groups.entry(key(f)).or_default().push(f);
    }
    let mut out: Vec<LiveGroup> = groups
        .into_iter()
        .map(|(key, members)| LiveGroup {
            key,
            live: live_day(spec, day, &intervals, members.into_iter(), now),
        })
        .collect();
    out.sort_by(|a, b| none_last(&a.key, &b.key));
    out
}

/// [`by_group`] by a breakdown dimension (team, channel, department, agent).
pub fn by_dimension(
    spec: &LiveSpec,
    facts: &[ConversationFacts],
    now: DateTime<Utc>,
    dimension: Dimension,
) -> Vec<LiveGroup> {
    by_group(spec, facts, now, |f| dimension.key(f))
}

/// An interval `[start, end)`.
type Span = (DateTime<Utc>, DateTime<Utc>);

/// The local day holding `now` and its intervals that have started by `now`.
fn started_intervals(spec: &LiveSpec, now: DateTime<Utc>) -> (NaiveDate, Vec<Span>) {
    let day = now.with_timezone(&spec.zone).date_naive();
    let mut intervals = day_intervals(spec.zone, day, spec.interval);
    intervals.retain(|(start, _)| *start <= now);
    (day, intervals)
}

fn today(f: &ConversationFacts, day_start: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    (day_start..=now).contains(&f.created_at)
}

/// Counts of one interval.
#[derive(Default, Clone, Copy)]
struct Counts {
    offered: i64,
    waiting: i64,
    level: ServiceLevelCounts,
}

impl Counts {
    fn add(&mut self, other: &Counts) {
        self.offered += other.offered;
        self.waiting += other.waiting;
        self.level.add(&other.level);
    }

    fn level(&self, spec: &LiveSpec, start: DateTime<Utc>, end: DateTime<Utc>) -> IntervalLevel {
        let kind = spec.kind();
        let (numerator, denominator) = spec.formula.fraction(&self.level);
        let service_level = kind.unit().actual(numerator, denominator);
        IntervalLevel {
            start,
            label: start.with_timezone(&spec.zone).format("%H:%M").to_string(),
            end,
            offered: self.offered,
            answered: self.level.answered,
            answered_within: self.level.answered_within,
            abandoned: self.level.abandoned,
            abandoned_within: self.level.abandoned_within,
            waiting: self.waiting,
            numerator,
            denominator,
            service_level,
            band: service_level.map_or(Band::NoData, |sl| {
                band(sl, spec.target, kind.higher_is_better())
            }),
        }
    }
}

fn live_day<'a>(
    spec: &LiveSpec,
    day: NaiveDate,
    intervals: &[Span],
    facts: impl Iterator<Item = &'a ConversationFacts>,
    now: DateTime<Utc>,
) -> LiveDay {
    let mut counts = vec![Counts::default(); intervals.len()];
    if let Some(&(day_start, _)) = intervals.first() {
        for f in facts.filter(|f| today(f, day_start, now)) {
            // The last interval starting at or before the arrival.
            let i = intervals.partition_point(|(start, _)| *start <= f.created_at) - 1;
            let mut level = ServiceLevelCounts::of(f, spec.within_s);
            let c = &mut counts[i];
            c.offered += 1;
            if level == ServiceLevelCounts::default() {
                c.waiting += 1;
                if (now - f.created_at).num_seconds() > spec.within_s {
                    // It can no longer be answered within Y: missed already, in every formula.
                    level.answered = 1;
                }
            }
            c.level.add(&level);
        }
    }
    let mut total = Counts::default();
    for c in &counts {
        total.add(c);
    }
    let day_start = intervals.first().map_or(now, |&(start, _)| start);
    LiveDay {
        day,
        intervals: intervals
            .iter()
            .zip(&counts)
            .map(|(&(start, end), c)| c.level(spec, start, end))
            .collect(),
        total: total.level(spec, day_start, now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compliance::tally;
    use crate::compliance::test_support::*;
    use crate::conversation::Channel;
    use chrono_tz::{America, Europe};

    /// A contact created at `at` (RFC 3339, any offset).
    fn at(text: &str) -> ConversationFacts {
        ConversationFacts::new(t(text), Channel::Email)
    }

    fn answered_at(text: &str, wait: i64) -> ConversationFacts {
        ConversationFacts {
            first_response_s: Some(wait),
            ..at(text)
        }
    }

    fn abandoned_at(text: &str, wait: i64) -> ConversationFacts {
        ConversationFacts {
            abandoned_after_s: Some(wait),
            ..at(text)
        }
    }

    fn spec(formula: ServiceLevelFormula) -> LiveSpec {
        LiveSpec {
            zone: Europe::Amsterdam,
            interval: IntervalLength::Min30,
            within_s: 20,
            formula,
            target: 80.0,
        }
    }

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    /// Wednesday 2026-11-18 in Amsterdam (CET, UTC+1), Y = 20 s, now = 10:40 local.
    /// Half-hours 00:00 to 10:30 (22, the last partial) are listed.
    ///
    /// | local     | interval (index) | outcome                                |
    /// |-----------|------------------|----------------------------------------|
    /// | 00:30     | 00:30 (1)        | answered 5 s: within (23:30Z the 17th) |
    /// | 09:05     | 09:00 (18)       | answered 10 s: within                  |
    /// | 09:10     | 09:00 (18)       | answered 20 s: within (exactly Y)      |
    /// | 09:20     | 09:00 (18)       | answered 45 s: after                   |
    /// | 09:25     | 09:00 (18)       | abandoned 5 s: within                  |
    /// | 09:31     | 09:30 (19)       | answered 21 s: after                   |
    /// | 09:40     | 09:30 (19)       | abandoned 20 s: within (exactly Y)     |
    /// | 09:50     | 09:30 (19)       | abandoned 120 s: after                 |
    /// | 10:31     | 10:30 (21)       | answered 3 s: within                   |
    /// | 10:32     | 10:30 (21)       | answered 8 s (also a 30 s abandonment: |
    /// |           |                  | answered wins): within                 |
    /// | 10:39:50  | 10:30 (21)       | still waiting, 10 s so far: not missed |
    /// | 10:40     | 10:30 (21)       | abandoned 60 s: after (at `now`)       |
    ///
    /// Not counted: 23:59 local the 17th (yesterday), 10:45 local (after now), the 19th.
    fn day() -> (Vec<ConversationFacts>, DateTime<Utc>) {
        let facts = vec![
            answered_at("2026-11-17T23:59:00+01:00", 5), // yesterday
            answered_at("2026-11-17T23:30:00Z", 5),      // 00:30 local today
            answered_at("2026-11-18T09:05:00+01:00", 10),
            answered_at("2026-11-18T09:10:00+01:00", 20),
            answered_at("2026-11-18T09:20:00+01:00", 45),
            abandoned_at("2026-11-18T09:25:00+01:00", 5),
            answered_at("2026-11-18T09:31:00+01:00", 21),
            abandoned_at("2026-11-18T09:40:00+01:00", 20),
            abandoned_at("2026-11-18T09:50:00+01:00", 120),
            answered_at("2026-11-18T10:31:00+01:00", 3),
            ConversationFacts {
                abandoned_after_s: Some(30),
                ..answered_at("2026-11-18T10:32:00+01:00", 8)
            },
            at("2026-11-18T10:39:50+01:00"), // waiting 10 s: not yet past Y
            abandoned_at("2026-11-18T10:40:00+01:00", 60),
            answered_at("2026-11-18T10:45:00+01:00", 1), // after now
            answered_at("2026-11-19T09:00:00+01:00", 1), // tomorrow
        ];
        (facts, t("2026-11-18T10:40:00+01:00"))
    }

    fn counts(l: &IntervalLevel) -> [i64; 6] {
        [
            l.offered,
            l.answered,
            l.answered_within,
            l.abandoned,
            l.abandoned_within,
            l.waiting,
        ]
    }

    #[test]
    fn a_day_of_half_hours_counts_each_contact_where_it_arrived() {
        let (facts, now) = day();
        let live = service_level_today(&spec(ServiceLevelFormula::AnsweredOnly), &facts, now);
        assert_eq!(live.day, date("2026-11-18"));
        assert_eq!(live.intervals.len(), 22);
        let first = &live.intervals[0];
        assert_eq!(
            (first.start, first.end),
            (t("2026-11-17T23:00:00Z"), t("2026-11-17T23:30:00Z"))
        );
        let current = &live.intervals[21];
        assert_eq!(
            (current.start, current.end),
            (t("2026-11-18T09:30:00Z"), t("2026-11-18T10:00:00Z"))
        );
        // [offered, answered, answered within, abandoned, abandoned within, waiting]
        assert_eq!(counts(&live.intervals[1]), [1, 1, 1, 0, 0, 0]);
        assert_eq!(counts(&live.intervals[18]), [4, 3, 2, 1, 1, 0]);
        assert_eq!(counts(&live.intervals[19]), [3, 1, 0, 2, 1, 0]);
        assert_eq!(counts(&live.intervals[21]), [4, 2, 2, 1, 0, 1]);
        for (i, l) in live.intervals.iter().enumerate() {
            if ![1, 18, 19, 21].contains(&i) {
                assert_eq!(counts(l), [0; 6], "interval {i}");
                assert_eq!((l.service_level, l.band), (None, Band::NoData));
            }
        }
        // The day: 12 offered, 7 answered (5 within), 4 abandoned (2 within), 1 waiting.
        assert_eq!(counts(&live.total), [12, 7, 5, 4, 2, 1]);
        assert_eq!(
            (live.total.start, live.total.end),
            (t("2026-11-17T23:00:00Z"), now)
        );
    }

    #[test]
    fn each_formula_gives_the_hand_computed_level() {
        use ServiceLevelFormula::*;
        let (facts, now) = day();
        // Per interval (1, 18, 19, 21) and the day, as (numerator, denominator):
        // interval  1: 1 answered (1 within)
        // interval 18: 3 answered (2 within), 1 abandoned (1 within)
        // interval 19: 1 answered (0 within), 2 abandoned (1 within)
        // interval 21: 2 answered (2 within), 1 abandoned (0 within), 1 waiting (left out)
        // day:         7 answered (5 within), 4 abandoned (2 within)
        let expect: [(ServiceLevelFormula, [(i64, i64); 5]); 4] = [
            // (answered within + abandoned within) / (answered + abandoned)
            // 1/1, (2+1)/(3+1), (0+1)/(1+2), (2+0)/(2+1); day (5+2)/(7+4)
            (
                AbandonedWithinCountMet,
                [(1, 1), (3, 4), (1, 3), (2, 3), (7, 11)],
            ),
            // answered within / answered: 1/1, 2/3, 0/1, 2/2; day 5/7
            (AnsweredOnly, [(1, 1), (2, 3), (0, 1), (2, 2), (5, 7)]),
            // answered within / (answered + abandoned): 1/1, 2/4, 0/3, 2/3; day 5/11
            (
                AbandonedCountMissed,
                [(1, 1), (2, 4), (0, 3), (2, 3), (5, 11)],
            ),
            // answered within / (answered + abandoned after): 1/(1+0), 2/(3+0), 0/(1+1),
            // 2/(2+1); day 5/(7+2)
            (
                AbandonedAfterCountMissed,
                [(1, 1), (2, 3), (0, 2), (2, 3), (5, 9)],
            ),
        ];
        for (formula, fractions) in expect {
            let live = service_level_today(&spec(formula), &facts, now);
            let levels = [1, 18, 19, 21]
                .map(|i| &live.intervals[i])
                .into_iter()
                .chain([&live.total]);
            for (l, (num, den)) in levels.zip(fractions) {
                assert_eq!((l.numerator, l.denominator), (num, den), "{formula:?}");
                let pct = l.service_level.unwrap();
                assert!(close(pct, num as f64 * 100.0 / den as f64), "{formula:?}");
            }
        }
        // The day in percent: 63.64 %, 71.43 %, 45.45 %, 55.56 %; against 80 % the relative
        // shortfalls are 20.5 %, 10.7 %, 43.2 % and 30.6 %: all hands each time.
        let day_levels =
            ServiceLevelFormula::ALL.map(|f| service_level_today(&spec(f), &facts, now).total);
        let pcts = [700.0 / 11.0, 500.0 / 7.0, 500.0 / 11.0, 500.0 / 9.0];
        for (l, pct) in day_levels.iter().zip(pcts) {
            assert!(close(l.service_level.unwrap(), pct));
            assert_eq!(l.band, Band::AllHands);
        }
        // Interval 21 under "answered only": 2/2 = 100 %, on target.
        let live = service_level_today(&spec(AnsweredOnly), &facts, now);
        assert_eq!(live.intervals[21].service_level, Some(100.0));
        assert_eq!(live.intervals[21].band, Band::OnTarget);
        // Interval 19 under "answered only": 0/1 = 0 %, all hands (not "no data").
        assert_eq!(live.intervals[19].service_level, Some(0.0));
        assert_eq!(live.intervals[19].band, Band::AllHands);
    }

    #[test]
    fn the_day_agrees_with_the_contract_tally() {
        // The same contacts through `tally` (the compliance pages' path) give the same
        // fraction: one definition of the formulas.
        let (facts, now) = day();
        let counted: Vec<&ConversationFacts> = facts
            .iter()
            .filter(|f| f.created_at >= t("2026-11-17T23:00:00Z") && f.created_at <= now)
            .collect();
        assert_eq!(counted.len(), 12);
        for formula in ServiceLevelFormula::ALL {
            let s = spec(formula);
            let live = service_level_today(&s, &facts, now);
            let (num, den) = tally(s.kind(), counted.iter().copied());
            assert_eq!((live.total.numerator, live.total.denominator), (num, den));
        }
    }

    #[test]
    fn bands_3_8_and_15_percent_under_target() {
        // Target 80 %, "answered only", 125 answered contacts in one half-hour:
        // 100 within = 80 % (on target); 97 = 77.6 % (3 % under: warning);
        // 92 = 73.6 % (8 % under: act); 85 = 68 % (15 % under: all hands).
        let now = t("2026-11-18T09:50:00Z");
        for (within, pct, expected) in [
            (100, 80.0, Band::OnTarget),
            (97, 77.6, Band::Warning),
            (92, 73.6, Band::Act),
            (85, 68.0, Band::AllHands),
        ] {
            let facts: Vec<ConversationFacts> = (0..125)
                .map(|i| answered_at("2026-11-18T09:45:00Z", if i < within { 20 } else { 21 }))
                .collect();
            let live = service_level_today(&spec(ServiceLevelFormula::AnsweredOnly), &facts, now);
            let l = live.intervals.last().unwrap();
            assert_eq!(l.start, t("2026-11-18T09:30:00Z"));
            assert!(close(l.service_level.unwrap(), pct), "{l:?}");
            assert_eq!(l.band, expected, "{pct}");
            assert_eq!(live.total.band, expected);
        }
    }

    #[test]
    fn waiting_contacts_count_as_missed_once_past_y() {
        let now = t("2026-11-18T10:00:00Z");
        // Waiting 20 s (exactly Y) and 10 s: still answerable within Y, in no level.
        let facts = [at("2026-11-18T09:59:40Z"), at("2026-11-18T09:59:50Z")];
        for formula in ServiceLevelFormula::ALL {
            let live = service_level_today(&spec(formula), &facts, now);
            assert_eq!(counts(&live.total), [2, 0, 0, 0, 0, 2]);
            assert_eq!((live.total.numerator, live.total.denominator), (0, 0));
            assert_eq!(
                (live.total.service_level, live.total.band),
                (None, Band::NoData)
            );
        }
        // One answered within and one waiting 21 s: half, in every formula, and the
        // waiting one is still counted as waiting.
        let facts = [
            answered_at("2026-11-18T09:10:00Z", 3),
            at("2026-11-18T09:59:39Z"),
        ];
        for formula in ServiceLevelFormula::ALL {
            let live = service_level_today(&spec(formula), &facts, now);
            assert_eq!(live.total.service_level, Some(50.0), "{formula:?}");
            assert_eq!(live.total.waiting, 1);
            assert_eq!(live.total.band, Band::AllHands);
        }
    }

    #[test]
    fn yesterday_and_after_now_are_left_out_and_later_intervals_not_listed() {
        // now = 00:10 local: one interval (00:00–00:30), partial.
        let now = t("2026-11-18T00:10:00+01:00");
        let facts = [
            answered_at("2026-11-17T23:59:59+01:00", 5), // yesterday, one second earlier
            answered_at("2026-11-18T00:00:00+01:00", 5), // midnight: today
            answered_at("2026-11-18T00:10:00+01:00", 50), // at now: counted
            answered_at("2026-11-18T00:10:01+01:00", 5), // a second after now
        ];
        let live = service_level_today(&spec(ServiceLevelFormula::AnsweredOnly), &facts, now);
        assert_eq!(live.intervals.len(), 1);
        assert_eq!(live.intervals[0].end, t("2026-11-18T00:30:00+01:00"));
        assert_eq!(counts(&live.total), [2, 2, 1, 0, 0, 0]);
        assert_eq!(live.total.service_level, Some(50.0));
        // An interval starting exactly at now is the current one.
        let now = t("2026-11-18T00:30:00+01:00");
        assert_eq!(
            service_level_today(&spec(ServiceLevelFormula::AnsweredOnly), &[], now)
                .intervals
                .len(),
            2
        );
        // Last interval of the day: 23:30–24:00, 48 listed.
        let now = t("2026-11-18T23:59:59+01:00");
        let live = service_level_today(&spec(ServiceLevelFormula::AnsweredOnly), &[], now);
        assert_eq!(live.intervals.len(), 48);
        assert_eq!(live.intervals[47].end, t("2026-11-19T00:00:00+01:00"));
    }

    #[test]
    fn spring_forward_in_amsterdam_has_46_half_hours() {
        // 2026-03-29: 02:00 CET (01:00Z) jumps to 03:00 CEST; the day runs from 23:00Z the
        // 28th to 22:00Z the 29th, 23 hours.
        let day = date("2026-03-29");
        let halves = day_intervals(Europe::Amsterdam, day, IntervalLength::Min30);
        assert_eq!(halves.len(), 46);
        assert_eq!(halves[0].0, t("2026-03-28T23:00:00Z"));
        assert_eq!(halves[45].1, t("2026-03-29T22:00:00Z"));
        // The interval starting at 01:30 local (CET) ends at 03:00 local (CEST): 00:30Z–01:00Z.
        assert_eq!(halves[3].0, t("2026-03-29T01:30:00+01:00"));
        assert_eq!(halves[3].1, t("2026-03-29T03:00:00+02:00"));
        assert_eq!(
            halves[3],
            (t("2026-03-29T00:30:00Z"), t("2026-03-29T01:00:00Z"))
        );
        assert_eq!(halves[4].0, t("2026-03-29T03:00:00+02:00"));
        assert_consecutive(&halves);
        assert_eq!(
            day_intervals(Europe::Amsterdam, day, IntervalLength::Min15).len(),
            92
        );
        assert_eq!(
            day_intervals(Europe::Amsterdam, day, IntervalLength::Min60).len(),
            23
        );

        // A contact at 01:45Z is 03:45 CEST: the 03:30 interval (01:30Z–02:00Z, index 5);
        // one at 00:45Z is 01:45 CET: the 01:30 interval (index 3).
        let now = t("2026-03-29T02:10:00Z");
        let facts = [
            answered_at("2026-03-29T01:45:00Z", 10),
            abandoned_at("2026-03-29T00:45:00Z", 30),
        ];
        let live = service_level_today(
            &spec(ServiceLevelFormula::AbandonedCountMissed),
            &facts,
            now,
        );
        assert_eq!(live.day, day);
        assert_eq!(live.intervals.len(), 7); // up to 02:00Z–02:30Z (04:00 CEST)
        assert_eq!(
            (live.intervals[5].start, live.intervals[5].end),
            (t("2026-03-29T01:30:00Z"), t("2026-03-29T02:00:00Z"))
        );
        assert_eq!(counts(&live.intervals[5]), [1, 1, 1, 0, 0, 0]);
        assert_eq!(counts(&live.intervals[3]), [1, 0, 0, 1, 0, 0]);
        assert_eq!(live.intervals[5].service_level, Some(100.0));
        assert_eq!(live.intervals[3].service_level, Some(0.0));
        assert_eq!(live.total.service_level, Some(50.0));
    }

    #[test]
    fn fall_back_in_amsterdam_has_50_half_hours_and_the_repeated_hour_twice() {
        // 2026-10-25: 03:00 CEST (01:00Z) goes back to 02:00 CET; 25 hours, 22:00Z the 24th
        // to 23:00Z the 25th.
        let day = date("2026-10-25");
        let halves = day_intervals(Europe::Amsterdam, day, IntervalLength::Min30);
        assert_eq!(halves.len(), 50);
        assert_eq!(halves[0].0, t("2026-10-24T22:00:00Z"));
        assert_eq!(halves[49].1, t("2026-10-25T23:00:00Z"));
        // Local 02:00 and 02:30 appear twice: 00:00Z, 00:30Z (CEST), 01:00Z, 01:30Z (CET).
        let local = |i: usize| halves[i].0.with_timezone(&Europe::Amsterdam).to_rfc3339();
        assert_eq!(local(4), "2026-10-25T02:00:00+02:00");
        assert_eq!(local(5), "2026-10-25T02:30:00+02:00");
        assert_eq!(local(6), "2026-10-25T02:00:00+01:00");
        assert_eq!(local(7), "2026-10-25T02:30:00+01:00");
        assert_eq!(local(8), "2026-10-25T03:00:00+01:00");
        assert_consecutive(&halves);
        assert_eq!(
            day_intervals(Europe::Amsterdam, day, IntervalLength::Min15).len(),
            100
        );
        assert_eq!(
            day_intervals(Europe::Amsterdam, day, IntervalLength::Min60).len(),
            25
        );
        // A contact in the second 02:00 hour (01:10Z) is in the second 02:00 interval.
        let now = t("2026-10-25T12:00:00Z");
        let facts = [answered_at("2026-10-25T01:10:00Z", 5)];
        let live = service_level_today(&spec(ServiceLevelFormula::AnsweredOnly), &facts, now);
        assert_eq!(counts(&live.intervals[6]), [1, 1, 1, 0, 0, 0]);
        assert_eq!(live.intervals[4].offered, 0);
    }

    #[test]
    fn a_midnight_in_a_dst_gap_starts_the_day_at_the_first_existing_instant() {
        // Havana springs forward at 00:00 (to 01:00) on 2026-03-08, Santiago on 2026-09-06:
        // the day starts at 01:00 local, 23 hours, 46 half-hours.
        for (zone, day, start) in [
            (America::Havana, "2026-03-08", "2026-03-08T01:00:00-04:00"),
            (America::Santiago, "2026-09-06", "2026-09-06T01:00:00-03:00"),
        ] {
            let midnight = date(day).and_hms_opt(0, 0, 0).unwrap();
            assert_eq!(zone.from_local_datetime(&midnight), LocalResult::None);
            let halves = day_intervals(zone, date(day), IntervalLength::Min30);
            assert_eq!(halves[0].0, t(start), "{zone}");
            assert_eq!(halves.len(), 46, "{zone}");
            assert_consecutive(&halves);
            // A contact at 01:10 local is in the first interval, one the evening before
            // (23:50 local, the previous day) is not counted.
            let now = t(start) + Duration::minutes(20);
            let facts = [
                answered_at(&start.replace("01:00:00", "01:10:00"), 5),
                answered_at(&(t(start) - Duration::minutes(10)).to_rfc3339(), 5),
            ];
            let s = LiveSpec {
                zone,
                ..spec(ServiceLevelFormula::AnsweredOnly)
            };
            let live = service_level_today(&s, &facts, now);
            assert_eq!(live.day, date(day));
            assert_eq!(live.intervals.len(), 1);
            assert_eq!(live.total.offered, 1);
        }
    }

    #[test]
    fn every_day_of_a_year_tiles_from_midnight_to_midnight() {
        for zone in [
            Europe::Amsterdam,
            America::Santiago,
            America::Havana,
            chrono_tz::Australia::Lord_Howe,
            chrono_tz::Asia::Kolkata,
            chrono_tz::UTC,
        ] {
            let mut day = date("2026-01-01");
            while day < date("2027-01-01") {
                for interval in IntervalLength::ALL {
                    let v = day_intervals(zone, day, interval);
                    let start =
                        from_whole_second(resolve_local(zone, day.and_hms_opt(0, 0, 0).unwrap()));
                    let next = day.succ_opt().unwrap().and_hms_opt(0, 0, 0).unwrap();
                    let end = from_whole_second(resolve_local(zone, next));
                    assert_eq!(v[0].0, start, "{zone} {day}");
                    assert_eq!(v.last().unwrap().1, end, "{zone} {day}");
                    assert_consecutive(&v);
                    // Every start is at a whole interval of local time, or the day's start.
                    let step = i64::from(interval.minutes());
                    for (s, _) in &v[1..] {
                        let local = s.with_timezone(&zone).naive_local();
                        let minutes = (local - day.and_hms_opt(0, 0, 0).unwrap()).num_minutes();
                        assert_eq!(minutes % step, 0, "{zone} {day} {s}");
                    }
                    let hours = (end - start).num_minutes() as f64 / 60.0;
                    if hours == 24.0 {
                        assert_eq!(v.len() as i64, 24 * 60 / step, "{zone} {day}");
                    }
                }
                day = day.succ_opt().unwrap();
            }
        }
    }

    fn assert_consecutive(v: &[(DateTime<Utc>, DateTime<Utc>)]) {
        assert!(!v.is_empty());
        for w in v.windows(2) {
            assert_eq!(w[0].1, w[1].0);
        }
        assert!(v.iter().all(|(s, e)| s < e));
    }

    #[test]
    fn groups_by_team_and_channel() {
        let (mut facts, now) = day();
        for (i, f) in facts.iter_mut().enumerate() {
            f.team = (i % 3 != 0).then(|| if i % 3 == 1 { "a" } else { "b" }.to_string());
            f.channel = if i < 8 {
                Channel::Email
            } else {
                Channel::Webchat
            };
        }
        let s = spec(ServiceLevelFormula::AbandonedWithinCountMet);
        let all = service_level_today(&s, &facts, now);
        let teams = by_group(&s, &facts, now, |f| f.team.clone());
        let keys: Vec<Option<&str>> = teams.iter().map(|g| g.key.as_deref()).collect();
        assert_eq!(keys, [Some("a"), Some("b"), None]);
        // The groups add up to the whole, interval by interval.
        for i in 0..all.intervals.len() {
            let sum: i64 = teams.iter().map(|g| g.live.intervals[i].offered).sum();
            assert_eq!(sum, all.intervals[i].offered);
        }
        let sum =
            |f: fn(&IntervalLevel) -> i64| teams.iter().map(|g| f(&g.live.total)).sum::<i64>();
        assert_eq!(sum(|l| l.numerator), all.total.numerator);
        assert_eq!(sum(|l| l.denominator), all.total.denominator);
        assert_eq!(sum(|l| l.waiting), all.total.waiting);
        // Each group is its own day: team "a" alone gives the same as filtering first.
        let only_a: Vec<ConversationFacts> = facts
            .iter()
            .filter(|f| f.team.as_deref() == Some("a"))
            .cloned()
            .collect();
        assert_eq!(teams[0].live, service_level_today(&s, &only_a, now));

        let channels = by_dimension(&s, &facts, now, Dimension::Channel);
        let keys: Vec<Option<&str>> = channels.iter().map(|g| g.key.as_deref()).collect();
        assert_eq!(keys, [Some("email"), Some("webchat")]);
        // Email: indexes 1–7 today (index 0 is yesterday): 00:30, 09:05, 09:10, 09:20,
        // 09:25, 09:31, 09:40 → answered 5 (3 within), abandoned 2 (2 within).
        assert_eq!(counts(&channels[0].live.total), [7, 5, 3, 2, 2, 0]);
        // A group with contacts only yesterday or after now does not appear.
        let late = by_group(&s, &facts[13..], now, |f| f.team.clone());
        assert!(late.is_empty());
    }

    #[test]
    fn interval_lengths_from_minutes_json_and_query_strings() {
        assert_eq!("30".parse::<IntervalLength>(), Ok(IntervalLength::Min30));
        assert_eq!(IntervalLength::try_from(15), Ok(IntervalLength::Min15));
        assert_eq!(
            IntervalLength::from_minutes(45).unwrap_err().to_string(),
            "an interval is 15, 30 or 60 minutes, not 45"
        );
        assert_eq!(
            "half".parse::<IntervalLength>().unwrap_err().to_string(),
            "an interval is 15, 30 or 60 minutes, not \"half\""
        );
        for (json, length) in [
            ("15", IntervalLength::Min15),
            ("\"30\"", IntervalLength::Min30),
            ("60", IntervalLength::Min60),
            ("60.0", IntervalLength::Min60),
        ] {
            assert_eq!(
                serde_json::from_str::<IntervalLength>(json).unwrap(),
                length
            );
        }
        for bad in ["20", "\"90\"", "-15", "30.5"] {
            let e = serde_json::from_str::<IntervalLength>(bad).unwrap_err();
            assert!(
                e.to_string()
                    .starts_with("an interval is 15, 30 or 60 minutes"),
                "{e}"
            );
        }
        assert_eq!(serde_json::to_string(&IntervalLength::Min30).unwrap(), "30");
    }

    #[test]
    fn a_live_day_as_json() {
        let (facts, now) = day();
        let live = service_level_today(&spec(ServiceLevelFormula::AnsweredOnly), &facts, now);
        let json = serde_json::to_value(&live).unwrap();
        assert_eq!(json["day"], "2026-11-18");
        assert_eq!(json["intervals"][0]["start"], "2026-11-17T23:00:00Z");
        assert_eq!(
            json["intervals"][0]["service_level"],
            serde_json::Value::Null
        );
        assert_eq!(json["intervals"][0]["band"], "no_data");
        assert_eq!(json["intervals"][21]["band"], "on_target");
        assert_eq!(json["total"]["end"], "2026-11-18T09:40:00Z");
        let back: LiveDay = serde_json::from_value(json).unwrap();
        assert_eq!(back, live);
    }

    #[test]
    fn a_spec_from_a_contract_metric() {
        let metric = target(sl(ServiceLevelFormula::AbandonedCountMissed), 85.0);
        let s = LiveSpec::of_metric(Europe::Amsterdam, IntervalLength::Min15, &metric).unwrap();
        assert_eq!(
            (s.within_s, s.formula, s.target),
            (20, ServiceLevelFormula::AbandonedCountMissed, 85.0)
        );
        assert!(LiveSpec::of_metric(
            Europe::Amsterdam,
            IntervalLength::Min15,
            &target(MetricKind::Csat, 85.0)
        )
        .is_none());
    }
}
