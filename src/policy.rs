//! SLA policies: which targets a conversation has, how time counts, and when a badge warns.

use crate::duration::{DurationError, SlaDuration, Target, TextOrNumber};
use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// A set of targets and the rules for counting time against them; the JSON shape of a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// From the start (creation or bot hand-over) to the first response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_response: Option<Target>,
    /// From the oldest unanswered customer message to the next response, once per cycle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_response: Option<Target>,
    /// From the start to resolved, not counting paused time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<Target>,
    /// Count only open time of the business calendar (without a calendar, all time counts).
    #[serde(default)]
    pub business_hours_only: bool,
    #[serde(default)]
    pub warning: WarningThreshold,
    /// Statuses in which the resolution clock stands still.
    #[serde(default)]
    pub pause_on: PauseOn,
}

impl Policy {
    /// The target of `metric`, if the policy has one.
    pub fn target(&self, metric: crate::clock::Metric) -> Option<Target> {
        use crate::clock::Metric;
        match metric {
            Metric::FirstResponse => self.first_response,
            Metric::NextResponse => self.next_response,
            Metric::Resolution => self.resolution,
        }
    }
}

/// When a running clock turns from "within target" to "running out".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WarningThreshold {
    /// When at most this percentage (0–100) of the target is left: "25%".
    Percent(u8),
    /// When at most this much counted time is left: "5m".
    Fixed(SlaDuration),
}

impl Default for WarningThreshold {
    fn default() -> Self {
        WarningThreshold::Percent(25)
    }
}

impl WarningThreshold {
    /// The counted seconds left at which the warning starts, for a target of `target_s`.
    /// A percentage rounds down, so "25%" of 30 s warns with 7 s left.
    pub fn seconds_before(self, target_s: i64) -> i64 {
        match self {
            WarningThreshold::Percent(p) => target_s * i64::from(p) / 100,
            WarningThreshold::Fixed(d) => d.as_secs(),
        }
    }
}

impl FromStr for WarningThreshold {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match crate::schema::trim(text).strip_suffix('%') {
            Some(number) => crate::schema::trim(number)
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= 100)
                .map(WarningThreshold::Percent)
                .ok_or_else(|| {
                    format!("{text:?} is not a valid percentage (a whole number from 0% to 100%)")
                }),
            None => text
                .parse::<SlaDuration>()
                .map(WarningThreshold::Fixed)
                .map_err(|e| e.to_string()),
        }
    }
}

impl fmt::Display for WarningThreshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WarningThreshold::Percent(p) => write!(f, "{p}%"),
            WarningThreshold::Fixed(d) => d.fmt(f),
        }
    }
}

impl WarningThreshold {
    /// A percentage as [`str::parse`] takes it.
    pub const PERCENT_PATTERN: &'static str = r"^\s*([0-9]|[1-9][0-9]|100)\s*%\s*$";
}

impl utoipa::PartialSchema for WarningThreshold {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
        OneOfBuilder::new()
            .description(Some(
                "When a badge turns to warning: a percentage of the target left (`25%`, 0–100) or a duration left (`5m`, or whole seconds). Default `25%`.",
            ))
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some(Self::PERCENT_PATTERN)),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some(SlaDuration::PATTERN)),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(0))
                    .maximum(Some(SlaDuration::LONGEST_SECS)),
            )
            .into()
    }
}

impl utoipa::ToSchema for WarningThreshold {}

serde_as_text!(WarningThreshold);

impl<'de> Deserialize<'de> for WarningThreshold {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // A whole number is seconds, read as its text; a negative one is no duration.
        deserializer.deserialize_any(TextOrNumber {
            expecting: "a percentage such as \"25%\" or a duration such as \"5m\"",
            from_i64: |v| Err(DurationError(v.to_string()).to_string()),
            from_u64: |v| v.to_string().parse(),
        })
    }
}

/// The statuses that pause the resolution clock; written as a list, default
/// `["pending", "snoozed"]`. Only those two can pause: open is the running state and
/// resolved already stops the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PauseOn {
    pub pending: bool,
    pub snoozed: bool,
}

impl Default for PauseOn {
    fn default() -> Self {
        PauseOn {
            pending: true,
            snoozed: true,
        }
    }
}

impl PauseOn {
    pub const NONE: PauseOn = PauseOn {
        pending: false,
        snoozed: false,
    };
}

impl utoipa::PartialSchema for PauseOn {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
        ArrayBuilder::new()
            .description(Some(
                "Statuses in which the resolution clock stands still; default both.",
            ))
            .items(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(["pending", "snoozed"])),
            )
            .into()
    }
}

impl utoipa::ToSchema for PauseOn {}

impl Serialize for PauseOn {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let names = [(self.pending, "pending"), (self.snoozed, "snoozed")];
        serializer.collect_seq(names.iter().filter(|(on, _)| *on).map(|(_, name)| name))
    }
}

impl<'de> Deserialize<'de> for PauseOn {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        /// One list entry; a struct of its own so that an error names its index.
        struct Entry(&'static str);
        impl<'de> Deserialize<'de> for Entry {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                match String::deserialize(d)?.as_str() {
                    "pending" => Ok(Entry("pending")),
                    "snoozed" => Ok(Entry("snoozed")),
                    other => Err(de::Error::custom(format!(
                        "{other:?} cannot pause resolution (expected \"pending\" or \"snoozed\")"
                    ))),
                }
            }
        }
        struct ListVisitor;
        impl<'de> Visitor<'de> for ListVisitor {
            type Value = PauseOn;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of statuses such as [\"pending\", \"snoozed\"]")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<PauseOn, A::Error> {
                let mut pause = PauseOn::NONE;
                while let Some(Entry(name)) = seq.next_element()? {
                    match name {
                        "pending" => pause.pending = true,
                        _ => pause.snoozed = true,
                    }
                }
                Ok(pause)
            }
        }
        deserializer.deserialize_seq(ListVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_warn_at_a_quarter_and_pause_on_pending_and_snoozed() {
        let p: Policy = serde_json::from_str(r#"{"first_response": "30m"}"#).unwrap();
        assert_eq!(
            p.first_response,
            SlaDuration::from_minutes(30).map(Target::Counted)
        );
        assert_eq!(p.next_response, None);
        assert!(!p.business_hours_only);
        assert_eq!(p.warning, WarningThreshold::Percent(25));
        assert_eq!(p.pause_on, PauseOn::default());
        assert!(p.pause_on.pending && p.pause_on.snoozed);
    }

    #[test]
    fn round_trips_through_json() {
        let text = r#"{"first_response":"30m","resolution":"1d","business_hours_only":true,"warning":"5m","pause_on":["snoozed"]}"#;
        let p: Policy = serde_json::from_str(text).unwrap();
        assert_eq!(
            p.warning,
            WarningThreshold::Fixed(SlaDuration::from_minutes(5).unwrap())
        );
        assert_eq!(
            p.pause_on,
            PauseOn {
                pending: false,
                snoozed: true
            }
        );
        assert_eq!(serde_json::to_string(&p).unwrap(), text);
    }

    #[test]
    fn warning_thresholds_in_seconds() {
        assert_eq!(WarningThreshold::Percent(25).seconds_before(1800), 450);
        assert_eq!(WarningThreshold::Percent(25).seconds_before(30), 7);
        assert_eq!(WarningThreshold::Percent(0).seconds_before(1800), 0);
        let fixed = WarningThreshold::Fixed(SlaDuration::from_minutes(5).unwrap());
        assert_eq!(fixed.seconds_before(1800), 300);
    }

    #[test]
    fn rejects_bad_thresholds_statuses_and_fields() {
        for bad in [
            r#"{"warning": "125%"}"#,
            r#"{"warning": "-5m"}"#,
            r#"{"warning": "x%"}"#,
            r#"{"pause_on": ["open"]}"#,
            r#"{"pause_on": ["resolved"]}"#,
            r#"{"pause_on": "pending"}"#,
            r#"{"first_response": "-5m"}"#,
            r#"{"first_respons": "5m"}"#,
            r#"{"business_hours_only": "yes"}"#,
        ] {
            assert!(serde_json::from_str::<Policy>(bad).is_err(), "{bad} parsed");
        }
    }
}
