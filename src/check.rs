//! `promptly sla check`: one conversation's SLA state from a JSON document, as a pure function.
//!
//! Input: `{"calendar": {...}, "policy": {...}, "events": [...], "at": "..."}` (calendar
//! optional; events in any order). Output: `{"at": "...Z", "metrics": [...]}` with one entry
//! per target of the policy in force, in the order first_response, next_response, resolution.
//! Every entry has the same keys; `remaining_s` is `null` and `text` is "" when not started,
//! and "met" or "missed" for a finished cycle.

use crate::calendar::{BusinessCalendar, CalendarDefinition};
use crate::clock::{ClockState, Metric, SlaState};
use crate::instant;
use crate::policy::Policy;
use crate::timeline::{Event, Timeline};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckInput {
    #[serde(default)]
    calendar: Option<CalendarDefinition>,
    policy: Policy,
    #[serde(default)]
    events: Vec<Event>,
    #[serde(with = "instant::rfc3339")]
    at: DateTime<Utc>,
}

/// What `promptly sla check` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckOutput {
    #[serde(with = "instant::rfc3339")]
    pub at: DateTime<Utc>,
    pub metrics: Vec<CheckMetric>,
}

/// One target's line of the output: the badge-level subset of [`crate::MetricStatus`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckMetric {
    pub metric: Metric,
    pub state: ClockState,
    #[serde(with = "instant::option_rfc3339")]
    pub due_at: Option<DateTime<Utc>>,
    pub remaining_s: Option<i64>,
    pub breaches: u32,
    pub text: String,
}

impl From<&SlaState> for CheckOutput {
    fn from(state: &SlaState) -> Self {
        CheckOutput {
            at: state.at,
            metrics: state
                .metrics
                .iter()
                .map(|m| CheckMetric {
                    metric: m.metric,
                    state: m.state,
                    due_at: m.due_at,
                    remaining_s: m.remaining_s,
                    breaches: m.breaches,
                    text: m.text.clone(),
                })
                .collect(),
        }
    }
}

/// Malformed input; displays as one line naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    #[error("input: not valid JSON: {0}")]
    Json(String),
    #[error("{field}: {message}")]
    Field { field: String, message: String },
}

impl CheckError {
    /// An error on `field`; control characters of the input that the path or the message
    /// repeat (a key or a word with a line break) are escaped, so that it stays one line.
    fn field(field: &str, message: &str) -> Self {
        CheckError::Field {
            field: one_line(field),
            message: one_line(message),
        }
    }
}

/// `text` with control characters escaped as Rust writes them (`\n`, `\u{1b}`).
fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Evaluates a `promptly sla check` document.
pub fn run_check(input: &str) -> Result<CheckOutput, CheckError> {
    // Through a `Value` first so that field errors carry a path and no line numbers.
    let value: serde_json::Value =
        serde_json::from_str(input).map_err(|e| CheckError::Json(one_line(&e.to_string())))?;
    let input: CheckInput = serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { "input" } else { &path };
        CheckError::field(field, &e.into_inner().to_string())
    })?;
    let calendar = input
        .calendar
        .map(BusinessCalendar::new)
        .transpose()
        .map_err(|e| CheckError::field(&format!("calendar.{}", e.field), &e.message))?;
    let state = Timeline::new(input.events).evaluate(&input.policy, calendar.as_ref(), input.at);
    Ok(CheckOutput::from(&state))
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"{"calendar": {"timezone": "Europe/Amsterdam",
       "hours": {"mon": ["09:00-17:00"], "tue": ["09:00-12:00", "13:00-17:00"], "wed": ["09:00-17:00"],
                 "thu": ["09:00-17:00"], "fri": ["09:00-17:00"], "sat": [], "sun": []},
       "holidays": ["2026-12-25"], "overrides": {"2026-12-24": ["09:00-13:00"]}},
     "policy": {"first_response": "30m", "business_hours_only": true, "warning": "25%"},
     "events": [
       {"at": "2026-11-20T16:45:00+01:00", "kind": "created"},
       {"at": "2026-11-20T16:45:00+01:00", "kind": "message", "author": "customer"}],
     "at": "2026-11-23T09:20:00+01:00"}"#;

    #[test]
    fn the_documented_example_prints_the_documented_output() {
        let output = run_check(EXAMPLE).unwrap();
        assert_eq!(
            serde_json::to_string(&output).unwrap(),
            r#"{"at":"2026-11-23T08:20:00Z","metrics":[{"metric":"first_response","state":"breached","due_at":"2026-11-23T08:15:00Z","remaining_s":-300,"breaches":1,"text":"-5m"}]}"#
        );
    }

    /// The documented example with a target of two business days: Friday 16:45 + 2bd is
    /// Tuesday 16:45 CET (15:45Z); on Monday 09:20 31h25m of wall time are left.
    #[test]
    fn business_days_in_a_check() {
        let input = example_with(r#""30m""#, r#""2bd""#);
        let output = run_check(&input).unwrap();
        assert_eq!(
            serde_json::to_string(&output).unwrap(),
            r#"{"at":"2026-11-23T08:20:00Z","metrics":[{"metric":"first_response","state":"ok","due_at":"2026-11-24T15:45:00Z","remaining_s":113100,"breaches":0,"text":"1d 7h"}]}"#
        );
        // The same with spaces, as people write it.
        let spaced = run_check(&example_with(r#""30m""#, r#""2 bd""#)).unwrap();
        assert_eq!(spaced, output);
        // A holiday on Monday moves it a day on.
        let holiday =
            example_with(r#""2026-12-25""#, r#""2026-11-23""#).replacen(r#""30m""#, r#""2bd""#, 1);
        let output = run_check(&holiday).unwrap();
        assert_eq!(
            output.metrics[0].due_at.map(instant::format_utc).as_deref(),
            Some("2026-11-25T15:45:00Z")
        );
    }

    fn error_of(input: &str) -> String {
        run_check(input).unwrap_err().to_string()
    }

    /// The example with one piece of text replaced.
    fn example_with(from: &str, to: &str) -> String {
        assert!(EXAMPLE.contains(from), "{from}");
        EXAMPLE.replacen(from, to, 1)
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (
                example_with(r#""13:00-17:00""#, r#""25:00-26:00""#),
                r#"calendar.hours.tue[1]: "25:00-26:00" is not a valid time window"#,
            ),
            (
                example_with(r#""13:00-17:00""#, r#""11:00-17:00""#),
                r#"calendar.hours.tue[1]: "11:00-17:00" overlaps "09:00-12:00" (hours.tue[0])"#,
            ),
            (
                example_with("Europe/Amsterdam", "Europe/Amsterdm"),
                r#"calendar.timezone: "Europe/Amsterdm" is not an IANA time zone (e.g. "Europe/Amsterdam")"#,
            ),
            (
                example_with(r#""30m""#, r#""-30m""#),
                r#"policy.first_response: "-30m" is not a valid target (expected e.g. "45s", "10m", "1h30m", "1d", "2bd" or whole seconds)"#,
            ),
            (
                example_with(r#""30m""#, r#""1bd2h""#),
                r#"policy.first_response: "1bd2h" is not a valid target (expected e.g. "45s", "10m", "1h30m", "1d", "2bd" or whole seconds)"#,
            ),
            (
                example_with(r#""30m""#, r#""366bd""#),
                r#"policy.first_response: "366bd" is more than 365 business days"#,
            ),
            (
                example_with(r#""kind": "created""#, r#""kind": "deleted""#),
                "events[0].kind: unknown variant `deleted`, expected one of `created`, `message`, `status`, `handover`, `apply_policy`",
            ),
            (
                example_with(r#""author": "customer""#, r#""author": "robot""#),
                "events[1].author: unknown variant `robot`, expected one of `customer`, `agent`, `bot`, `system`",
            ),
            (
                example_with(r#""at": "2026-11-23T09:20:00+01:00""#, r#""at": "monday""#),
                r#"at: "monday" is not an RFC 3339 timestamp (e.g. "2026-11-23T09:20:00+01:00")"#,
            ),
            (
                example_with(r#""2026-12-25""#, r#""2026-12-32""#),
                r#"calendar.holidays[0]: "2026-12-32" is not a date (YYYY-MM-DD)"#,
            ),
            (
                example_with(r#""warning": "25%""#, r#""warning": "125%""#),
                r#"policy.warning: "125%" is not a valid percentage (a whole number from 0% to 100%)"#,
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(error_of(&input), expected);
        }
    }

    #[test]
    fn structural_errors_are_one_line_too() {
        let err = error_of("{");
        assert!(err.starts_with("input: not valid JSON: "), "{err}");
        let err = error_of(r#"{"events": [], "at": "2026-11-23T09:20:00Z"}"#);
        assert_eq!(err, "input: missing field `policy`");
        let err = error_of(&example_with(r#""kind": "created""#, r#""kind": "status""#));
        assert_eq!(err, r#"events[0]: a "status" event needs "status""#);
        let err = error_of(&example_with(
            r#""author": "customer""#,
            r#""status": "closed""#,
        ));
        assert!(
            err.starts_with("events[1].status: unknown variant `closed`"),
            "{err}"
        );
        let err = error_of(&example_with(
            r#""kind": "created"}"#,
            r#""kind": "created", "note": 1}"#,
        ));
        assert!(
            err.starts_with("events[0].note: unknown field `note`"),
            "{err}"
        );
        assert!(!err.contains('\n'));
    }

    /// Found by the `sla_check` fuzz target: an offset put an instant in the year -1 or
    /// a deadline in 10000, and the output's instants no longer read back as RFC 3339.
    #[test]
    fn every_instant_printed_lies_in_the_years_0000_to_9999() {
        let err = error_of(r#"{"policy": {}, "events": [], "at": "0000-01-01T00:00:00+00:01"}"#);
        assert_eq!(
            err,
            r#"at: "0000-01-01T00:00:00+00:01" lies outside the years 0000 to 9999 in UTC"#
        );
        let input = r#"{"policy": {"first_response": "1h", "resolution": "29m"},
            "events": [{"at": "9999-12-31T23:30:00Z", "kind": "created"}],
            "at": "9999-12-31T23:40:00Z"}"#;
        let output = run_check(input).unwrap();
        let json = serde_json::to_value(&output).unwrap();
        // Due after the last instant: never, like a calendar that never opens again.
        assert_eq!(
            json["metrics"][0],
            serde_json::json!({"metric": "first_response", "state": "ok", "due_at": null,
                "remaining_s": null, "breaches": 0, "text": ""})
        );
        assert_eq!(json["metrics"][1]["due_at"], "9999-12-31T23:59:00Z");
        let printed = serde_json::to_string(&output).unwrap();
        assert_eq!(
            serde_json::from_str::<CheckOutput>(&printed).unwrap(),
            output
        );
    }

    /// Found by the `sla_check` fuzz target: serde repeats an unknown key or word as it
    /// is, so a line break in it broke the error over two lines.
    #[test]
    fn errors_stay_one_line_whatever_the_input_names() {
        let err = error_of(
            r#"{"at": "2026-11-23T10:25:00Z", "ev\nts": [], "policy": {"first_response": "30m"}}"#,
        );
        assert!(
            err.starts_with(r"ev\nts: unknown field `ev\nts`, expected one of"),
            "{err}"
        );
        let err = error_of(&example_with(
            r#""kind": "created""#,
            "\"kind\": \"cre\\u001bated\"",
        ));
        assert!(
            err.starts_with(r"events[0].kind: unknown variant `cre\u{1b}ated`"),
            "{err}"
        );
        assert!(!err.chars().any(char::is_control), "{err}");
    }

    #[test]
    fn no_calendar_counts_all_time_and_keeps_every_key() {
        let input = r#"{"policy": {"first_response": "30m", "next_response": "10m", "resolution": "1d"},
            "events": [{"at": "2026-11-20T16:45:00+01:00", "kind": "created"}],
            "at": "2026-11-20T17:00:00+01:00"}"#;
        let output = run_check(input).unwrap();
        let json = serde_json::to_value(&output).unwrap();
        let metrics = json["metrics"].as_array().unwrap();
        assert_eq!(metrics.len(), 3);
        assert_eq!(metrics[0]["due_at"], "2026-11-20T16:15:00Z");
        assert_eq!(metrics[0]["state"], "ok");
        assert_eq!(metrics[0]["remaining_s"], 900);
        assert_eq!(metrics[0]["text"], "15m");
        assert_eq!(metrics[1]["state"], "not_started");
        assert_eq!(metrics[1]["due_at"], serde_json::Value::Null);
        assert_eq!(metrics[1]["remaining_s"], serde_json::Value::Null);
        assert_eq!(metrics[1]["text"], "");
        assert_eq!(metrics[2]["metric"], "resolution");
        for m in metrics {
            let keys: Vec<&String> = m.as_object().unwrap().keys().collect();
            assert_eq!(keys.len(), 6, "{m}");
        }
    }
}
