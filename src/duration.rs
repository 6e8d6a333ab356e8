//! SLA durations ("45s", "10m", "1h30m", "1d" or whole seconds), policy targets (a duration
//! or business days, "2bd") and the human text on badges.

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer};
use std::fmt;
use std::str::FromStr;

const MINUTE: i64 = 60;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
/// Longer targets are surely typos, and the cap keeps every deadline far inside chrono's range.
const LONGEST: i64 = 100 * 366 * DAY;

/// A length of counted time: an SLA target or a fixed warning threshold, in whole seconds.
///
/// "1d" is 24 hours of counted time, not a calendar day: on a business-hours policy a one-day
/// target is three eight-hour working days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SlaDuration(i64);

/// Why a text is not an [`SlaDuration`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a valid duration (expected e.g. \"45s\", \"10m\", \"1h30m\", \"1d\" or whole seconds)")]
pub struct DurationError(pub String);

impl SlaDuration {
    pub const ZERO: SlaDuration = SlaDuration(0);

    /// `None` when negative or longer than a century.
    pub fn from_secs(secs: i64) -> Option<Self> {
        (0..=LONGEST).contains(&secs).then_some(SlaDuration(secs))
    }

    pub fn from_minutes(minutes: i64) -> Option<Self> {
        minutes.checked_mul(MINUTE).and_then(Self::from_secs)
    }

    pub fn from_hours(hours: i64) -> Option<Self> {
        hours.checked_mul(HOUR).and_then(Self::from_secs)
    }

    pub fn as_secs(self) -> i64 {
        self.0
    }
}

/// [`SlaDuration::PATTERN`] as a literal, so that [`Target::PATTERN`] is built from it.
macro_rules! duration_pattern {
    () => {
        concat!(
        r"^\s*(\d{1,9}|\d{1,4}d(\s*\d{1,5}h)?(\s*\d{1,6}m)?(\s*\d{1,8}s)?|\d{1,5}h(\s*\d{1,6}m)?(\s*\d{1,8}s)?|\d{1,6}m(\s*\d{1,8}s)?|\d{1,8}s)\s*$",
        "|",
        r"^(0s|36600d|([1-9]\d{0,3}|[12]\d{4}|3[0-5]\d{3}|36[0-5]\d{2})d(([1-9]|1\d|2[0-3])h)?(([1-9]|[1-5]\d)m)?(([1-9]|[1-5]\d)s)?|([1-9]|1\d|2[0-3])h(([1-9]|[1-5]\d)m)?(([1-9]|[1-5]\d)s)?|([1-9]|[1-5]\d)m(([1-9]|[1-5]\d)s)?|([1-9]|[1-5]\d)s)$",
        )
    };
}

/// The business-day alternative of [`Target::PATTERN`]: 0 to [`crate::limits::BUSINESS_DAYS`]
/// (365) without leading zeros, "bd", spaces allowed around and before the unit.
macro_rules! business_days_pattern {
    () => {
        r"^\s*(0|[1-9]\d?|[12]\d\d|3[0-5]\d|36[0-5])\s*bd\s*$"
    };
}

impl SlaDuration {
    /// The longest duration in whole seconds.
    pub const LONGEST_SECS: i64 = LONGEST;
    /// Texts [`str::parse`] takes, every match at most [`SlaDuration::LONGEST_SECS`]: what
    /// people write (digit counts short enough to stay in range, spaces allowed), or the
    /// canonical form the server writes back (each unit in its range, up to `36600d`).
    pub const PATTERN: &'static str = duration_pattern!();

    /// The schema of a duration of at least `min` seconds: the text form or whole seconds.
    pub fn schema(min: i64) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        text_or_seconds(
            Self::PATTERN,
            "Counted time: `45s`, `10m`, `1h30m`, `1d` (24 counted hours) or whole seconds; units in that order, each at most once. Written back in the canonical text form.",
            min,
        )
    }
}

/// The schema of a text of `pattern` or a whole number of seconds, at least `min` (above
/// zero: the text has a digit other than zero).
fn text_or_seconds(
    pattern: &str,
    description: &str,
    min: i64,
) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{AllOfBuilder, ObjectBuilder, OneOfBuilder, Type};
    let text = ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(pattern))
        .examples([serde_json::Value::from("1h30m")]);
    let text: utoipa::openapi::RefOr<_> = if min > 0 {
        // Some digit other than zero: longer than zero.
        AllOfBuilder::new()
            .item(text)
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some("[1-9]")),
            )
            .into()
    } else {
        text.into()
    };
    OneOfBuilder::new()
        .description(Some(description))
        .item(text)
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(min))
                .maximum(Some(SlaDuration::LONGEST_SECS)),
        )
        .into()
}

impl utoipa::PartialSchema for SlaDuration {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        SlaDuration::schema(0)
    }
}

impl utoipa::ToSchema for SlaDuration {
    fn name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }
}

impl FromStr for SlaDuration {
    type Err = DurationError;

    /// Parts in the order d, h, m, s, each at most once, optionally separated by spaces, so
    /// that the badge text "1h 05m" reads back; a bare number is seconds.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || DurationError(text.to_string());
        let s = crate::schema::trim(text);
        if s.is_empty() {
            return Err(bad());
        }
        if s.bytes().all(|b| b.is_ascii_digit()) {
            return s
                .parse::<i64>()
                .ok()
                .and_then(Self::from_secs)
                .ok_or_else(bad);
        }
        let mut total: i64 = 0;
        let mut rest = s;
        // Units must come in strictly descending order, which also forbids repeats.
        let mut last_rank = usize::MAX;
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 || digits > 12 {
                return Err(bad());
            }
            let number: i64 = rest[..digits].parse().map_err(|_| bad())?;
            let unit = rest[digits..].chars().next().ok_or_else(bad)?;
            let (rank, size) = match unit {
                'd' => (3, DAY),
                'h' => (2, HOUR),
                'm' => (1, MINUTE),
                's' => (0, 1),
                _ => return Err(bad()),
            };
            if rank >= last_rank {
                return Err(bad());
            }
            last_rank = rank;
            total = number
                .checked_mul(size)
                .and_then(|part| total.checked_add(part))
                .ok_or_else(bad)?;
            rest = rest[digits + 1..].trim_start_matches(crate::schema::is_space);
        }
        Self::from_secs(total).ok_or_else(bad)
    }
}

impl fmt::Display for SlaDuration {
    /// The canonical form: "1d", "1h30m", "45s", "0s".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("0s");
        }
        let mut rest = self.0;
        for (size, unit) in [(DAY, 'd'), (HOUR, 'h'), (MINUTE, 'm'), (1, 's')] {
            if rest >= size {
                write!(f, "{}{}", rest / size, unit)?;
                rest %= size;
            }
        }
        Ok(())
    }
}

serde_as_text!(SlaDuration);

impl<'de> Deserialize<'de> for SlaDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        fn seconds(v: i64) -> Result<SlaDuration, String> {
            SlaDuration::from_secs(v).ok_or_else(|| DurationError(v.to_string()).to_string())
        }
        deserializer.deserialize_any(TextOrNumber {
            expecting: "a duration such as \"1h30m\" or a whole number of seconds",
            from_i64: seconds,
            from_u64: |v| {
                i64::try_from(v)
                    .ok()
                    .and_then(SlaDuration::from_secs)
                    .ok_or_else(|| DurationError(v.to_string()).to_string())
            },
        })
    }
}

/// An SLA target of a policy: counted time, or business days of the calendar.
///
/// `"2bd"` is two business days later at the same local time, then the next open moment
/// (as Zendesk's `biz` counts them; see [`crate::calendar::BusinessCalendar::add_business_days`]).
/// The engine turns it, per clock cycle, into the counted time between the cycle's start and
/// that deadline, so pauses and warnings work on it as on a duration. Business days stand
/// alone: "1bd2h" is no target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    /// Counted time: "30m", "1d" (24 counted hours).
    Counted(SlaDuration),
    /// Business days, 0 to [`crate::limits::BUSINESS_DAYS`]: "2bd".
    BusinessDays(u16),
}

impl From<SlaDuration> for Target {
    fn from(d: SlaDuration) -> Self {
        Target::Counted(d)
    }
}

/// Why a text is not a [`Target`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("{0:?} is not a valid target (expected e.g. \"45s\", \"10m\", \"1h30m\", \"1d\", \"2bd\" or whole seconds)")]
    Malformed(String),
    #[error("{0:?} is more than {max} business days", max = crate::limits::BUSINESS_DAYS)]
    TooManyBusinessDays(String),
}

impl Target {
    /// Texts [`str::parse`] takes: a duration's ([`SlaDuration::PATTERN`]) or business days
    /// ("2bd", "2 bd"), 0 to 365.
    pub const PATTERN: &'static str = concat!(duration_pattern!(), "|", business_days_pattern!());

    /// `None` above [`crate::limits::BUSINESS_DAYS`].
    pub fn business_days(days: u16) -> Option<Self> {
        (days <= crate::limits::BUSINESS_DAYS).then_some(Target::BusinessDays(days))
    }

    /// The counted time of a duration target; `None` for business days, whose counted time
    /// depends on when a cycle starts.
    pub fn as_duration(self) -> Option<SlaDuration> {
        match self {
            Target::Counted(d) => Some(d),
            Target::BusinessDays(_) => None,
        }
    }

    /// The schema of a target above zero when `min` is positive.
    pub fn schema(min: i64) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        text_or_seconds(
            Self::PATTERN,
            "A target: counted time (`45s`, `10m`, `1h30m`, `1d` = 24 counted hours, or whole seconds; units in that order, each at most once) or business days (`2bd`, 0 to 365, on its own): that many business days of the calendar later at the same local time, then the next open moment. Written back in the canonical text form.",
            min,
        )
    }
}

impl utoipa::PartialSchema for Target {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        Target::schema(0)
    }
}

impl utoipa::ToSchema for Target {}

impl FromStr for Target {
    type Err = TargetError;

    /// Business days ("2bd", "2 bd") or whatever [`SlaDuration`] takes.
    fn from_str(text: &str) -> Result<Self, TargetError> {
        let s = crate::schema::trim(text);
        if let Some(number) = s.strip_suffix("bd") {
            let number = number.trim_end_matches(crate::schema::is_space);
            if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
                return Err(TargetError::Malformed(text.to_string()));
            }
            let days = number.trim_start_matches('0');
            return match days.parse::<u16>() {
                _ if days.is_empty() => Ok(Target::BusinessDays(0)),
                Ok(days) if days <= crate::limits::BUSINESS_DAYS => Ok(Target::BusinessDays(days)),
                _ => Err(TargetError::TooManyBusinessDays(text.to_string())),
            };
        }
        s.parse::<SlaDuration>()
            .map(Target::Counted)
            .map_err(|_| TargetError::Malformed(text.to_string()))
    }
}

impl fmt::Display for Target {
    /// The canonical form: a duration's, or "2bd".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Counted(d) => d.fmt(f),
            Target::BusinessDays(days) => write!(f, "{days}bd"),
        }
    }
}

serde_as_text!(Target);

impl<'de> Deserialize<'de> for Target {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // A whole number is seconds, as for a duration.
        deserializer.deserialize_any(TextOrNumber {
            expecting: "a target such as \"1h30m\" or \"2bd\", or a whole number of seconds",
            from_i64: |v| {
                SlaDuration::from_secs(v)
                    .map(Target::Counted)
                    .ok_or_else(|| TargetError::Malformed(v.to_string()).to_string())
            },
            from_u64: |v| {
                i64::try_from(v)
                    .ok()
                    .and_then(SlaDuration::from_secs)
                    .map(Target::Counted)
                    .ok_or_else(|| TargetError::Malformed(v.to_string()).to_string())
            },
        })
    }
}

/// A visitor for a value written as text (parsed with [`FromStr`]) or as a number: whole
/// numbers go to `from_i64` (serde_json's negative ones) or `from_u64`; a fraction is never
/// a duration.
pub(crate) struct TextOrNumber<T> {
    pub expecting: &'static str,
    pub from_i64: fn(i64) -> Result<T, String>,
    pub from_u64: fn(u64) -> Result<T, String>,
}

impl<T> Visitor<'_> for TextOrNumber<T>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.expecting)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        v.parse().map_err(E::custom)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        (self.from_i64)(v).map_err(E::custom)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        (self.from_u64)(v).map_err(E::custom)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        Err(E::custom(DurationError(v.to_string())))
    }
}

/// The text on a countdown badge for `seconds` of wall-clock time left (negative: overdue).
///
/// Rules: under a minute "45s"; under an hour whole minutes "12m"; under a day hours and
/// zero-padded minutes "1h 05m"; beyond, days and hours "2d 3h". Each part is truncated, not
/// rounded, so the text changes exactly when a whole unit has passed and never promises more
/// time than is left. Overdue time gets a leading minus: "-5m".
pub fn badge_text(seconds: i64) -> String {
    let sign = if seconds < 0 { "-" } else { "" };
    let s = seconds.unsigned_abs() as i64;
    if s < MINUTE {
        format!("{sign}{s}s")
    } else if s < HOUR {
        format!("{sign}{}m", s / MINUTE)
    } else if s < DAY {
        format!("{sign}{}h {:02}m", s / HOUR, s % HOUR / MINUTE)
    } else {
        format!("{sign}{}d {}h", s / DAY, s % DAY / HOUR)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The published pattern, with JSON Schema's (ECMA-262) ASCII `\\d`.
    fn pattern() -> regex::Regex {
        regex::RegexBuilder::new(SlaDuration::PATTERN)
            .unicode(false)
            .build()
            .unwrap()
    }

    proptest! {
        /// Whatever the server writes back, the published pattern admits.
        #[test]
        fn the_pattern_admits_every_canonical_text(secs in 0..=LONGEST) {
            let text = SlaDuration::from_secs(secs).unwrap().to_string();
            prop_assert!(pattern().is_match(&text), "{text}");
        }

        /// Whatever the pattern admits, the parser takes.
        #[test]
        fn the_parser_takes_whatever_the_pattern_admits(
            text in " {0,2}([0-9]{1,9}|[0-9]{1,5}d ?[0-9]{1,5}h ?[0-9]{1,6}m ?[0-9]{1,8}s|[0-9]{1,5}h[0-9]{1,6}m|[0-9]{1,6}m[0-9]{1,8}s|[0-9]{1,8}s|[0-9]{1,5}d) {0,2}"
        ) {
            if pattern().is_match(&text) {
                prop_assert!(text.parse::<SlaDuration>().is_ok(), "{text:?}");
            }
        }
    }

    /// The published target pattern, as [`pattern`].
    fn target_pattern() -> regex::Regex {
        regex::RegexBuilder::new(Target::PATTERN)
            .unicode(false)
            .build()
            .unwrap()
    }

    proptest! {
        /// Whatever the parser takes as a target, the target pattern admits in canonical
        /// form, and what the pattern admits the parser takes.
        #[test]
        fn the_target_pattern_and_parser_agree(
            text in " {0,2}([0-9]{1,4} {0,2}bd|[0-9]{1,5}h[0-9]{1,6}m|[0-9]{1,3}bd?[0-9]?h?|[0-9]{1,9}) {0,2}"
        ) {
            if target_pattern().is_match(&text) {
                prop_assert!(text.parse::<Target>().is_ok(), "{text:?}");
            }
            if let Ok(t) = text.parse::<Target>() {
                prop_assert!(target_pattern().is_match(&t.to_string()), "{t}");
            }
        }
    }

    #[test]
    fn targets_are_durations_or_business_days() {
        for (text, expected) in [
            ("2bd", Target::BusinessDays(2)),
            ("2 bd", Target::BusinessDays(2)),
            (" 365bd ", Target::BusinessDays(365)),
            ("0bd", Target::BusinessDays(0)),
            ("007bd", Target::BusinessDays(7)),
            (
                "1h30m",
                Target::Counted(SlaDuration::from_minutes(90).unwrap()),
            ),
            ("1d", Target::Counted(SlaDuration::from_hours(24).unwrap())),
            (
                "1800",
                Target::Counted(SlaDuration::from_secs(1800).unwrap()),
            ),
        ] {
            assert_eq!(text.parse::<Target>(), Ok(expected), "{text:?}");
        }
        // Every business-day count the limit allows, and no more, reads back and matches.
        for days in 0..=crate::limits::BUSINESS_DAYS {
            let t = Target::business_days(days).unwrap();
            assert_eq!(t.to_string(), format!("{days}bd"));
            assert_eq!(t.to_string().parse::<Target>(), Ok(t));
            assert!(target_pattern().is_match(&t.to_string()), "{t}");
            assert!(target_pattern().is_match(&format!(" {days} bd")), "{t}");
        }
        assert_eq!(Target::business_days(366), None);
        assert!(!target_pattern().is_match("366bd"));
        assert!(
            !pattern().is_match("2bd"),
            "a duration is not business days"
        );
    }

    #[test]
    fn rejects_mixed_and_out_of_range_business_days_with_clear_messages() {
        for text in [
            "1bd2h", "2h1bd", "bd", "-2bd", "2 b d", "2bdx", "1.5bd", "2BD", "1d bd",
        ] {
            assert_eq!(
                text.parse::<Target>(),
                Err(TargetError::Malformed(text.to_string())),
                "{text:?}"
            );
        }
        assert_eq!(
            "400bd".parse::<Target>().unwrap_err().to_string(),
            r#""400bd" is more than 365 business days"#
        );
        assert_eq!(
            "99999999999bd".parse::<Target>().unwrap_err().to_string(),
            r#""99999999999bd" is more than 365 business days"#
        );
        assert_eq!(
            "2x".parse::<Target>().unwrap_err().to_string(),
            r#""2x" is not a valid target (expected e.g. "45s", "10m", "1h30m", "1d", "2bd" or whole seconds)"#
        );
        // Durations elsewhere (a warning, a rule's delay) take no business days.
        assert!("2bd".parse::<SlaDuration>().is_err());
    }

    #[test]
    fn targets_in_json() {
        for (json, expected) in [
            ("\"2bd\"", Target::BusinessDays(2)),
            (
                "1800",
                Target::Counted(SlaDuration::from_secs(1800).unwrap()),
            ),
            (
                "\"30m\"",
                Target::Counted(SlaDuration::from_minutes(30).unwrap()),
            ),
        ] {
            let t: Target = serde_json::from_str(json).unwrap();
            assert_eq!(t, expected);
            let written = serde_json::to_string(&t).unwrap();
            assert_eq!(serde_json::from_str::<Target>(&written).unwrap(), t);
        }
        assert_eq!(
            serde_json::to_string(&Target::BusinessDays(2)).unwrap(),
            "\"2bd\""
        );
        for bad in ["-5", "1.5", "\"366bd\"", "\"1bd1h\"", "true", "null"] {
            assert!(serde_json::from_str::<Target>(bad).is_err(), "{bad}");
        }
    }

    fn secs(text: &str) -> i64 {
        text.parse::<SlaDuration>().unwrap().as_secs()
    }

    #[test]
    fn parses_every_documented_form() {
        for (text, expected) in [
            ("45s", 45),
            ("10m", 600),
            ("2h", 7200),
            ("1h30m", 5400),
            ("1d", 86_400),
            ("1d2h3m4s", 93_784),
            ("1h 05m", 3900),
            ("1800", 1800),
            ("0s", 0),
            ("90m", 5400),
        ] {
            assert_eq!(secs(text), expected, "{text}");
        }
    }

    #[test]
    fn rejects_negative_malformed_and_out_of_order_durations() {
        for text in [
            "",
            "-5m",
            "m",
            "5x",
            "1.5h",
            "30m1h",
            "1h1h",
            "5 m",
            "h5",
            "1e3",
            "99999999999999d",
        ] {
            assert!(text.parse::<SlaDuration>().is_err(), "{text:?} parsed");
        }
    }

    #[test]
    fn json_accepts_strings_and_whole_seconds_only() {
        let d: SlaDuration = serde_json::from_str("1800").unwrap();
        assert_eq!(d.as_secs(), 1800);
        let d: SlaDuration = serde_json::from_str("\"1h30m\"").unwrap();
        assert_eq!(d.as_secs(), 5400);
        for bad in ["-5", "1.5", "\"-5m\"", "true", "null"] {
            assert!(serde_json::from_str::<SlaDuration>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn displays_canonically_and_round_trips() {
        for (secs, text) in [
            (0, "0s"),
            (45, "45s"),
            (5400, "1h30m"),
            (86_400, "1d"),
            (86_401, "1d1s"),
        ] {
            let d = SlaDuration::from_secs(secs).unwrap();
            assert_eq!(d.to_string(), text);
            assert_eq!(text.parse::<SlaDuration>().unwrap(), d);
            assert_eq!(serde_json::to_string(&d).unwrap(), format!("\"{text}\""));
        }
    }

    #[test]
    fn badge_text_follows_the_documented_rules() {
        for (secs, text) in [
            (0, "0s"),
            (45, "45s"),
            (59, "59s"),
            (60, "1m"),
            (779, "12m"),
            (3599, "59m"),
            (3600, "1h 00m"),
            (3900, "1h 05m"),
            (86_399, "23h 59m"),
            (86_400, "1d 0h"),
            (2 * 86_400 + 3 * 3600 + 59 * 60, "2d 3h"),
            (-300, "-5m"),
            (-359, "-5m"),
            (-30, "-30s"),
            (-3900, "-1h 05m"),
        ] {
            assert_eq!(badge_text(secs), text, "{secs}");
        }
    }
}
