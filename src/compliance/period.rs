//! Periods: weeks, months and quarters as half-open UTC ranges ([`PeriodKey`]), parsed from
//! and written as "2026-W47", "2026-11", "2026-Q4".

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use utoipa::ToSchema;

/// How often a metric is judged; also the length of a [`PeriodKey`].
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
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

/// What [`PeriodKey::parse`] takes in a query, where empty means "the current period":
/// a month, a week (1–52; week 53 of the years that have one is taken too) or a quarter,
/// either case, surrounding spaces ignored.
pub const PERIOD_QUERY_PATTERN: &str = r"^\s*(|([1-9][0-9]{3}|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])-((0[1-9]|1[0-2])|[Ww](0[1-9]|[1-4][0-9]|5[0-2])|[Qq][1-4]))\s*$";

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
        let t = crate::schema::trim(text);
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

serde_as_text!(PeriodKey, from_str);

impl utoipa::PartialSchema for PeriodKey {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        crate::schema::text(
            "One period: an ISO week `2026-W47`, a month `2026-11` or a quarter `2026-Q4`.",
            r"^[0-9]{4}-(W[0-9]{2}|[0-9]{2}|Q[1-4])$",
            "2026-11",
        )
    }
}

impl utoipa::ToSchema for PeriodKey {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compliance::test_support::*;

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
        // The keys of the `n` periods up to `last`, as text.
        let previous = |last: &str, n| -> Vec<String> {
            key(last)
                .previous(n)
                .iter()
                .map(|k| k.to_string())
                .collect()
        };
        let months = previous("2026-11", 12);
        assert_eq!(months.len(), 12);
        assert_eq!(months.first().unwrap(), "2025-12");
        assert_eq!(months.last().unwrap(), "2026-11");
        assert_eq!(previous("2026-Q2", 3), ["2025-Q4", "2026-Q1", "2026-Q2"]);
        assert_eq!(
            previous("2026-W02", 3),
            ["2025-W52", "2026-W01", "2026-W02"]
        );
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
}
