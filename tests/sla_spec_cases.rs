//! Hand-computed cases of the SLA spec through `promptly sla check`: other zones and
//! calendars, DST edges, windows ending at 24:00, overnight windows into holidays and
//! overrides, policy changes, pauses, reopening, next-response cycles, bots, warning
//! boundaries and malformed input. Each expectation is worked out in the comment above it.

use promptly::check::run_check;
use serde_json::{json, Value};

/// Runs a document and returns the output as JSON.
fn check(doc: Value) -> Value {
    let out = run_check(&doc.to_string()).unwrap_or_else(|e| panic!("{e}\n{doc}"));
    serde_json::to_value(out).unwrap()
}

fn doc(calendar: Value, policy: Value, events: Value, at: &str) -> Value {
    let mut d = json!({"policy": policy, "events": events, "at": at});
    if !calendar.is_null() {
        d["calendar"] = calendar;
    }
    d
}

fn metric<'a>(out: &'a Value, name: &str) -> &'a Value {
    out["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["metric"] == name)
        .unwrap_or_else(|| panic!("no {name} in {out}"))
}

/// One expected metric line: metric, state, due_at, remaining_s, breaches, text.
type Line = (
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<i64>,
    u64,
    &'static str,
);

/// Asserts one expected metric line of an output.
#[track_caller]
fn expect(out: &Value, line: Line) {
    let (name, state, due, remaining, breaches, text) = line;
    let m = metric(out, name);
    let expected = json!({"metric": name, "state": state, "due_at": due,
                          "remaining_s": remaining, "breaches": breaches, "text": text});
    assert_eq!(m, &expected, "\nwhole output: {out}");
}

/// A conversation under a calendar (`Value::Null` for none) and a policy, checked at one or
/// more instants.
struct Scenario {
    calendar: Value,
    policy: Value,
    events: Vec<Value>,
}

impl Scenario {
    /// Checks the scenario's events followed by `extra` at `at` and asserts every expected
    /// line; with `only`, also that no other metric is reported.
    #[track_caller]
    fn check(&self, extra: Vec<Value>, at: &str, only: bool, lines: &[Line]) {
        let events = self.events.iter().cloned().chain(extra).collect();
        let out = check(doc(
            self.calendar.clone(),
            self.policy.clone(),
            Value::Array(events),
            at,
        ));
        if only {
            assert_eq!(
                out["metrics"].as_array().unwrap().len(),
                lines.len(),
                "{out}"
            );
        }
        for &line in lines {
            expect(&out, line);
        }
    }
}

/// Whether a check is marked `only` (no metric besides the listed lines).
macro_rules! only {
    () => {
        false
    };
    (only) => {
        true
    };
}

/// One test a scenario: its calendar, policy and events, then each check: the instant, any
/// events added for that check alone (`with [...]`), and the expected metric lines.
macro_rules! scenarios {
    ($(
        $name:ident {
            calendar: $calendar:expr,
            policy: $policy:expr,
            events: [$($event:expr),* $(,)?],
            $(
                at $at:literal $(with [$($extra:expr),* $(,)?])?
                    => $($only:ident)? [$($line:expr),+ $(,)?],
            )+
        }
    )*) => {$(
        #[test]
        fn $name() {
            let scenario = Scenario {
                calendar: $calendar,
                policy: $policy,
                events: vec![$($event),*],
            };
            $(scenario.check(vec![$($($extra),*)?], $at, only!($($only)?), &[$($line),+]);)+
        }
    )*};
}

fn ev(at: &str, kind: &str) -> Value {
    json!({"at": at, "kind": kind})
}

fn msg(at: &str, author: &str) -> Value {
    json!({"at": at, "kind": "message", "author": author})
}

fn status(at: &str, s: &str) -> Value {
    json!({"at": at, "kind": "status", "status": s})
}

fn weekdays(zone: &str, window: &str) -> Value {
    json!({"timezone": zone, "hours": {"mon": [window], "tue": [window], "wed": [window],
                                      "thu": [window], "fri": [window]}})
}

fn every_day(zone: &str, window: &str) -> Value {
    json!({"timezone": zone, "hours": {"mon": [window], "tue": [window], "wed": [window],
        "thu": [window], "fri": [window], "sat": [window], "sun": [window]}})
}

const FRT_30M_BH: &str = r#"{"first_response": "30m", "business_hours_only": true}"#;

fn p(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

scenarios! {
    // ------------------------------------------------------------ other zones, DST edges

    new_york_friday_afternoon_over_the_spring_forward_weekend {
        // Fri 2026-03-06 16:45 EST + 30m open: 15m Friday, then Mon 2026-03-09 09:00 EDT
        // (13:00Z) + 15m = 13:15Z. At Monday 09:10 EDT, 5m counted left <= 7m30s: warning.
        calendar: weekdays("America/New_York", "09:00-17:00"),
        policy: p(FRT_30M_BH),
        events: [
            ev("2026-03-06T16:45:00-05:00", "created"),
            msg("2026-03-06T16:45:00-05:00", "customer"),
        ],
        at "2026-03-09T09:10:00-04:00" => [
            ("first_response", "warning", Some("2026-03-09T13:15:00Z"), Some(300), 0, "5m"),
        ],
    }

    kolkata_half_hour_offset {
        // Mon 2026-11-23 17:50 IST (12:20Z) + 1h open on 09:30-18:00: 10m Monday, 50m from
        // Tuesday 09:30 IST, due 10:20 IST = 04:50Z. At Tuesday 10:00 IST (04:30Z): 20m
        // counted left > 15m (25%): ok, 1200 s.
        calendar: weekdays("Asia/Kolkata", "09:30-18:00"),
        policy: p(r#"{"first_response": "1h", "business_hours_only": true}"#),
        events: [ev("2026-11-23T17:50:00+05:30", "created")],
        at "2026-11-24T10:00:00+05:30" => [
            ("first_response", "ok", Some("2026-11-24T04:50:00Z"), Some(1200), 0, "20m"),
        ],
    }

    lord_howe_thirty_minute_spring_forward {
        // Lord Howe jumps 02:00 -> 02:30 on Sun 2026-10-04 (+10:30 -> +11). The Sunday window
        // 01:00-04:00 is 01:00+10:30 (14:30Z) to 04:00+11 (17:00Z): 2h30m real time.
        // 3h from Sunday 00:00: 2h30m this Sunday, 30m from Sun 2026-10-11 01:00+11 (Oct 10
        // 14:00Z): due 14:30Z. At Sunday 05:00+11 (Oct 3 18:00Z): 30m counted left <= 45m:
        // warning; wall-clock 6d 20h 30m = 592200 s.
        calendar: json!({"timezone": "Australia/Lord_Howe", "hours": {"sun": ["01:00-04:00"]}}),
        policy: p(r#"{"first_response": "3h", "business_hours_only": true}"#),
        events: [ev("2026-10-04T00:00:00+10:30", "created")],
        at "2026-10-04T05:00:00+11:00" => [
            ("first_response", "warning", Some("2026-10-10T14:30:00Z"), Some(592_200), 0, "6d 20h"),
        ],
    }

    lord_howe_thirty_minute_fall_back_makes_a_longer_day {
        // Sun 2026-04-05 Lord Howe goes back 02:00 (+11) -> 01:30 (+10:30): the day is 24h30m.
        // "00:00-24:00" from Sat Apr 4 13:00Z (Sun 00:00+11) to Apr 5 13:30Z (Mon 00:00+10:30).
        // A 24h30m target from Sunday 00:00 is used up exactly at Sunday 24:00: due 13:30Z.
        calendar: json!({"timezone": "Australia/Lord_Howe", "hours": {"sun": ["00:00-24:00"]}}),
        policy: p(r#"{"resolution": "24h30m", "business_hours_only": true}"#),
        events: [ev("2026-04-05T00:00:00+11:00", "created")],
        // At 12:00Z, 1h30m counted left <= 6h07m30s (25%): warning, 5400 s.
        at "2026-04-05T12:00:00Z" => [
            ("resolution", "warning", Some("2026-04-05T13:30:00Z"), Some(5400), 0, "1h 30m"),
        ],
    }

    apia_skipped_its_thirtieth_of_december_2011 {
        // Samoa went from Thu 2011-12-29 (-10) straight to Sat 2011-12-31 (+14). Thursday
        // 16:00-10 (Dec 30 02:00Z) + 2h on 09:00-17:00 every day: 1h Thursday, Friday never
        // happened, Saturday 09:00+14 (Dec 30 19:00Z) + 1h = 20:00Z. At 19:30Z 30m left <= 30m.
        calendar: every_day("Pacific/Apia", "09:00-17:00"),
        policy: p(r#"{"first_response": "2h", "business_hours_only": true}"#),
        events: [ev("2011-12-29T16:00:00-10:00", "created")],
        at "2011-12-30T19:30:00Z" => [
            ("first_response", "warning", Some("2011-12-30T20:00:00Z"), Some(1800), 0, "30m"),
        ],
    }

    london_overnight_window_on_the_short_night {
        // Sat 2026-03-28 "22:00-06:00" in London: 22:00 GMT (22:00Z) to Sunday 06:00 BST
        // (05:00Z) is 7h. 8h from Saturday 22:00: 7h that night, then 1h from Sat 2026-04-04
        // 22:00 BST (21:00Z): due 22:00Z. At Sunday 12:00 BST (11:00Z): 1h left <= 2h (25%):
        // warning, 6d 11h = 558000 s.
        calendar: json!({"timezone": "Europe/London", "hours": {"sat": ["22:00-06:00"]}}),
        policy: p(r#"{"resolution": "8h", "business_hours_only": true}"#),
        events: [ev("2026-03-28T22:00:00Z", "created")],
        at "2026-03-29T12:00:00+01:00" => [
            ("resolution", "warning", Some("2026-04-04T22:00:00Z"), Some(558_000), 0, "6d 11h"),
        ],
    }

    a_whole_fall_back_day_is_twenty_five_hours {
        // Amsterdam Sun 2026-10-25 "00:00-24:00" = 22:00Z Oct 24 to 23:00Z Oct 25 (25h).
        // 25h from its start is used up exactly at 24:00 local = 23:00Z; met at that instant.
        calendar: json!({"timezone": "Europe/Amsterdam", "hours": {"sun": ["00:00-24:00"]}}),
        policy: p(r#"{"first_response": "25h", "business_hours_only": true}"#),
        events: [ev("2026-10-25T00:00:00+02:00", "created")],
        at "2026-10-26T08:00:00Z" with [msg("2026-10-25T23:00:00Z", "agent")] => [
            ("first_response", "met", Some("2026-10-25T23:00:00Z"), None, 0, "met"),
        ],
        // One second later is missed.
        at "2026-10-26T08:00:00Z" with [msg("2026-10-25T23:00:01Z", "agent")] => [
            ("first_response", "missed", Some("2026-10-25T23:00:00Z"), None, 1, "missed"),
        ],
    }

    // ------------------------------------------------------------ windows, holidays, overrides

    a_target_used_up_at_24_00_is_due_at_midnight_not_at_the_next_opening {
        // UTC Monday 18:00-24:00, Tuesday 09:00-10:00. Created Mon 23:00, 1h: due Tue 00:00.
        calendar: json!({"timezone": "UTC",
                         "hours": {"mon": ["18:00-24:00"], "tue": ["09:00-10:00"]}}),
        policy: p(r#"{"first_response": "1h", "business_hours_only": true}"#),
        events: [ev("2026-11-23T23:00:00Z", "created")],
        // At Tue 05:00 nothing answered: breached by 5h ("-5h 00m"), one breach.
        at "2026-11-24T05:00:00Z" => [
            ("first_response", "breached", Some("2026-11-24T00:00:00Z"), Some(-18_000), 1, "-5h 00m"),
        ],
        // At midnight itself: not breached, 0 left <= threshold: warning "0s".
        at "2026-11-24T00:00:00Z" => [
            ("first_response", "warning", Some("2026-11-24T00:00:00Z"), Some(0), 0, "0s"),
        ],
    }

    an_overnight_window_runs_into_a_holiday {
        // UTC Monday 22:00-06:00, Tuesday 09:00-17:00, Tuesday 2026-11-24 a holiday. Created
        // Monday 23:00, 8h: 7h to Tuesday 06:00 (the tail belongs to Monday), Tuesday closed,
        // 1h from next Monday 22:00: due 2026-11-30T23:00Z. At Tuesday 12:00: 1h left <= 2h.
        calendar: json!({"timezone": "UTC", "hours": {"mon": ["22:00-06:00"], "tue": ["09:00-17:00"]},
                         "holidays": ["2026-11-24"]}),
        policy: p(r#"{"first_response": "8h", "business_hours_only": true}"#),
        events: [ev("2026-11-23T23:00:00Z", "created")],
        at "2026-11-24T12:00:00Z" => [
            ("first_response", "warning", Some("2026-11-30T23:00:00Z"), Some(558_000), 0, "6d 11h"),
        ],
    }

    an_overnight_window_runs_into_an_override_and_counts_once {
        // UTC Monday 22:00-06:00; override Tuesday 2026-11-24 05:00-07:00 overlaps the tail:
        // open Mon 22:00 to Tue 07:00 without double counting. 8h30m from Mon 22:00: Tue 06:30.
        calendar: json!({"timezone": "UTC", "hours": {"mon": ["22:00-06:00"]},
                         "overrides": {"2026-11-24": ["05:00-07:00"]}}),
        policy: p(r#"{"first_response": "8h30m", "business_hours_only": true}"#),
        events: [ev("2026-11-23T22:00:00Z", "created")],
        // 30m left <= 2h07m30s: warning.
        at "2026-11-24T06:00:00Z" => [
            ("first_response", "warning", Some("2026-11-24T06:30:00Z"), Some(1800), 0, "30m"),
        ],
    }

    an_empty_override_on_the_start_date_removes_its_overnight_window {
        // Monday 2026-11-23 overridden closed: its 22:00-06:00 window is gone entirely. Created
        // Monday 21:00 + 1h: next Monday 22:00 + 1h = 2026-11-30T23:00Z.
        calendar: json!({"timezone": "UTC", "hours": {"mon": ["22:00-06:00"]},
                         "overrides": {"2026-11-23": []}}),
        policy: p(r#"{"first_response": "1h", "business_hours_only": true}"#),
        events: [ev("2026-11-23T21:00:00Z", "created")],
        // 6d 20h wall-clock; 1h counted left > 15m: ok.
        at "2026-11-24T03:00:00Z" => [
            ("first_response", "ok", Some("2026-11-30T23:00:00Z"),
             Some(6 * 86_400 + 20 * 3600), 0, "6d 20h"),
        ],
    }

    one_day_is_twenty_four_hours_of_counted_time {
        // UTC Mon-Fri 09-17; "1d" from Monday 09:00 = Mon 8h + Tue 8h + Wed 8h: Wed 17:00
        // (used up exactly at closing, so not Thursday 09:00).
        calendar: weekdays("UTC", "09:00-17:00"),
        policy: p(r#"{"resolution": "1d", "business_hours_only": true}"#),
        events: [ev("2026-11-23T09:00:00Z", "created")],
        // At Wed 12:00 5h counted left <= 6h: warning, 18000 s.
        at "2026-11-25T12:00:00Z" => [
            ("resolution", "warning", Some("2026-11-25T17:00:00Z"), Some(18_000), 0, "5h 00m"),
        ],
    }

    business_hours_policy_without_a_calendar_counts_all_time {
        // No calendar: Friday 16:45 + 30m = 17:15 local = 16:15Z even with business_hours_only.
        calendar: Value::Null,
        policy: p(FRT_30M_BH),
        events: [ev("2026-11-20T16:45:00+01:00", "created")],
        at "2026-11-20T16:20:00Z" => [
            ("first_response", "breached", Some("2026-11-20T16:15:00Z"), Some(-300), 1, "-5m"),
        ],
    }

    // ------------------------------------------------------------ warning thresholds

    a_fixed_warning_counts_open_time_not_wall_clock_time {
        // Office 09-17 Amsterdam, Friday 16:45 + 30m, warning 5m: the warning starts when 25m
        // of open time are used: Monday 09:10 CET. 09:09:59 ok, 09:10:00 warning.
        calendar: weekdays("Europe/Amsterdam", "09:00-17:00"),
        policy: p(r#"{"first_response": "30m", "business_hours_only": true, "warning": "5m"}"#),
        events: [ev("2026-11-20T16:45:00+01:00", "created")],
        at "2026-11-23T09:09:59+01:00" => [
            ("first_response", "ok", Some("2026-11-23T08:15:00Z"), Some(301), 0, "5m"),
        ],
        at "2026-11-23T09:10:00+01:00" => [
            ("first_response", "warning", Some("2026-11-23T08:15:00Z"), Some(300), 0, "5m"),
        ],
    }

    // ------------------------------------------------------------ pause, resume, reopen

    pause_resume_reopen_keeps_the_resolution_time_used {
        // RT 2h, no calendar. 10:00 created; 10:30 pending (30m used); 11:00 customer reopens;
        // 11:15 snoozed (45m used); 12:00 open; 12:30 resolved (75m used): the deadline then was
        // 12:00 + 75m = 13:15, met.
        calendar: Value::Null,
        policy: p(r#"{"resolution": "2h"}"#),
        events: [
            ev("2026-11-23T10:00:00Z", "created"),
            status("2026-11-23T10:30:00Z", "pending"),
            msg("2026-11-23T11:00:00Z", "customer"),
            status("2026-11-23T11:15:00Z", "snoozed"),
            status("2026-11-23T12:00:00Z", "open"),
            status("2026-11-23T12:30:00Z", "resolved"),
        ],
        at "2026-11-23T13:00:00Z" => [
            ("resolution", "met", Some("2026-11-23T13:15:00Z"), None, 0, "met"),
        ],
        // While snoozed at 11:30: paused with 2h - 45m = 75m counted left.
        at "2026-11-23T11:30:00Z" => [
            ("resolution", "paused", None, Some(4500), 0, "1h 15m"),
        ],
        // A customer message at 14:00 reopens it with 75m used: due 14:45; at 14:40 5m left.
        at "2026-11-23T14:40:00Z" with [msg("2026-11-23T14:00:00Z", "customer")] => [
            ("resolution", "warning", Some("2026-11-23T14:45:00Z"), Some(300), 0, "5m"),
        ],
        // Resolved again at 15:00, 15m late: missed, one breach.
        at "2026-11-23T16:00:00Z" with [
            msg("2026-11-23T14:00:00Z", "customer"),
            status("2026-11-23T15:00:00Z", "resolved"),
        ] => [
            ("resolution", "missed", Some("2026-11-23T14:45:00Z"), None, 1, "missed"),
        ],
    }

    first_and_next_response_do_not_pause {
        // FRT 30m: pending at 10:05 does not stop it; at 10:40 breached by 10m.
        calendar: Value::Null,
        policy: p(r#"{"first_response": "30m", "resolution": "1h"}"#),
        events: [
            ev("2026-11-23T10:00:00Z", "created"),
            status("2026-11-23T10:05:00Z", "pending"),
        ],
        at "2026-11-23T10:40:00Z" => [
            ("first_response", "breached", Some("2026-11-23T10:30:00Z"), Some(-600), 1, "-10m"),
            // Resolution used 5m before the pause: 55m left.
            ("resolution", "paused", None, Some(3300), 0, "55m"),
        ],
    }

    pause_on_only_pending_lets_snoozed_count {
        // pause_on ["pending"]: 10:00 created, 10:10 snoozed (still counts), 10:20 pending
        // (20m used). At 11:00 paused with 40m left.
        calendar: Value::Null,
        policy: p(r#"{"resolution": "1h", "pause_on": ["pending"]}"#),
        events: [
            ev("2026-11-23T10:00:00Z", "created"),
            status("2026-11-23T10:10:00Z", "snoozed"),
            status("2026-11-23T10:20:00Z", "pending"),
        ],
        at "2026-11-23T11:00:00Z" => [
            ("resolution", "paused", None, Some(2400), 0, "40m"),
        ],
    }

    paused_time_in_business_hours_counts_open_time_only {
        // UTC Mon-Fri 09-17, RT 4h business hours. Created Mon 16:00, pending Mon 16:30 (30m
        // used), customer Tue 08:00 (closed: counting resumes 09:00). Due Tue 09:00 + 3h30m =
        // 12:30. At Tue 12:00: 30m left <= 1h: warning.
        calendar: weekdays("UTC", "09:00-17:00"),
        policy: p(r#"{"resolution": "4h", "business_hours_only": true}"#),
        events: [
            ev("2026-11-23T16:00:00Z", "created"),
            status("2026-11-23T16:30:00Z", "pending"),
            msg("2026-11-24T08:00:00Z", "customer"),
        ],
        at "2026-11-24T12:00:00Z" => [
            ("resolution", "warning", Some("2026-11-24T12:30:00Z"), Some(1800), 0, "30m"),
        ],
    }

    reopening_by_status_resumes_resolution_without_a_next_response_cycle {
        // 10:00 created, 10:05 agent, 10:30 resolved (30m used), 11:00 status open (no customer
        // message): RT 1h resumes, due 11:30; NRT has no cycle.
        calendar: Value::Null,
        policy: p(r#"{"next_response": "10m", "resolution": "1h"}"#),
        events: [
            ev("2026-11-23T10:00:00Z", "created"),
            msg("2026-11-23T10:05:00Z", "agent"),
            status("2026-11-23T10:30:00Z", "resolved"),
            status("2026-11-23T11:00:00Z", "open"),
        ],
        at "2026-11-23T11:10:00Z" => [
            ("next_response", "not_started", None, None, 0, ""),
            ("resolution", "ok", Some("2026-11-23T11:30:00Z"), Some(1200), 0, "20m"),
        ],
    }

    // ------------------------------------------------------------ responses and NRT cycles

    bot_system_and_private_messages_never_respond {
        // FRT 30m from 10:00; a bot message, a system message and a private note do not
        // answer; at 10:31 breached by 1m.
        calendar: Value::Null,
        policy: p(r#"{"first_response": "30m"}"#),
        events: [
            ev("2026-11-23T10:00:00Z", "created"),
            msg("2026-11-23T10:01:00Z", "bot"),
            msg("2026-11-23T10:02:00Z", "system"),
            json!({"at": "2026-11-23T10:03:00Z", "kind": "message", "author": "agent", "private": true}),
        ],
        at "2026-11-23T10:31:00Z" => [
            ("first_response", "breached", Some("2026-11-23T10:30:00Z"), Some(-60), 1, "-1m"),
        ],
    }

    next_response_cycles_each_counted_once {
        // NRT 10m. First response 10:05. Cycle 1: customer 10:10, bot/note/system in between,
        // agent 10:25 > 10:20: missed. Cycle 2: customer 10:30, agent 10:40 = deadline: met.
        calendar: Value::Null,
        policy: p(r#"{"next_response": "10m"}"#),
        events: [
            ev("2026-11-23T10:00:00Z", "created"),
            msg("2026-11-23T10:05:00Z", "agent"),
            msg("2026-11-23T10:10:00Z", "customer"),
            msg("2026-11-23T10:12:00Z", "bot"),
            json!({"at": "2026-11-23T10:13:00Z", "kind": "message", "author": "agent", "private": true}),
            msg("2026-11-23T10:14:00Z", "system"),
            msg("2026-11-23T10:25:00Z", "agent"),
            msg("2026-11-23T10:30:00Z", "customer"),
            msg("2026-11-23T10:40:00Z", "agent"),
        ],
        at "2026-11-23T10:45:00Z" => [
            ("next_response", "met", Some("2026-11-23T10:40:00Z"), None, 1, "met"),
        ],
        // Cycle 3: customer 10:50, breached at 11:05 (-5m): 2 breaches. Resolving it at 11:06
        // makes it missed, still 2 (counted once per cycle).
        at "2026-11-23T11:05:00Z" with [
            msg("2026-11-23T10:50:00Z", "customer"),
            msg("2026-11-23T10:55:00Z", "customer"),
        ] => [
            ("next_response", "breached", Some("2026-11-23T11:00:00Z"), Some(-300), 2, "-5m"),
        ],
        at "2026-11-23T11:10:00Z" with [
            msg("2026-11-23T10:50:00Z", "customer"),
            msg("2026-11-23T10:55:00Z", "customer"),
            status("2026-11-23T11:06:00Z", "resolved"),
        ] => [
            ("next_response", "missed", Some("2026-11-23T11:00:00Z"), None, 2, "missed"),
        ],
        // Cycle 4: a customer message at 12:00 reopens; at 12:05, ok with 5m left, 2 breaches.
        at "2026-11-23T12:05:00Z" with [
            msg("2026-11-23T10:50:00Z", "customer"),
            msg("2026-11-23T10:55:00Z", "customer"),
            status("2026-11-23T11:06:00Z", "resolved"),
            msg("2026-11-23T12:00:00Z", "customer"),
        ] => [
            ("next_response", "ok", Some("2026-11-23T12:10:00Z"), Some(300), 2, "5m"),
        ],
    }

    a_next_response_wait_that_starts_while_closed_counts_from_the_opening {
        // UTC Mon-Fri 09-17, NRT 1h business hours. First response Mon 10:00; customer Mon
        // 18:00 (closed): counting from Tue 09:00, due 10:00. At 09:30 30m left > 15m: ok.
        calendar: weekdays("UTC", "09:00-17:00"),
        policy: p(r#"{"next_response": "1h", "business_hours_only": true}"#),
        events: [
            ev("2026-11-23T09:00:00Z", "created"),
            msg("2026-11-23T10:00:00Z", "agent"),
            msg("2026-11-23T18:00:00Z", "customer"),
        ],
        at "2026-11-24T09:30:00Z" => [
            ("next_response", "ok", Some("2026-11-24T10:00:00Z"), Some(1800), 0, "30m"),
        ],
    }

    customer_messages_before_the_first_response_are_answered_by_it {
        // Customer at 10:01 and 10:02, first response at 10:10: no next-response cycle.
        calendar: Value::Null,
        policy: p(r#"{"first_response": "30m", "next_response": "5m"}"#),
        events: [
            ev("2026-11-23T10:00:00Z", "created"),
            msg("2026-11-23T10:01:00Z", "customer"),
            msg("2026-11-23T10:02:00Z", "customer"),
            msg("2026-11-23T10:10:00Z", "agent"),
        ],
        at "2026-11-23T11:00:00Z" => [
            ("first_response", "met", Some("2026-11-23T10:30:00Z"), None, 0, "met"),
            ("next_response", "not_started", None, None, 0, ""),
        ],
    }

    resolving_fulfils_first_response {
        // Resolved at 10:20 with no reply: FRT met against 10:30; at 10:40 after resolving
        // at 10:35 it would be missed.
        calendar: Value::Null,
        policy: p(r#"{"first_response": "30m"}"#),
        events: [ev("2026-11-23T10:00:00Z", "created")],
        at "2026-11-23T11:00:00Z" with [status("2026-11-23T10:20:00Z", "resolved")] => [
            ("first_response", "met", Some("2026-11-23T10:30:00Z"), None, 0, "met"),
        ],
        at "2026-11-23T11:00:00Z" with [status("2026-11-23T10:35:00Z", "resolved")] => [
            ("first_response", "missed", Some("2026-11-23T10:30:00Z"), None, 1, "missed"),
        ],
    }

    // ------------------------------------------------------------ bots and hand-over

    a_bot_conversation_starts_its_clocks_at_the_handover {
        // Created by a bot at 09:00 (customer + bot messages), handed over at 09:30: FRT 30m
        // due 10:00, RT 1h due 10:30. At 09:50: FRT 10m left > 7m30s: ok.
        calendar: Value::Null,
        policy: p(r#"{"first_response": "30m", "next_response": "5m", "resolution": "1h"}"#),
        events: [
            json!({"at": "2026-11-23T09:00:00Z", "kind": "created", "bot": true}),
            msg("2026-11-23T09:00:00Z", "customer"),
            msg("2026-11-23T09:01:00Z", "bot"),
            msg("2026-11-23T09:10:00Z", "agent"),
            ev("2026-11-23T09:30:00Z", "handover"),
        ],
        at "2026-11-23T09:50:00Z" => [
            ("first_response", "ok", Some("2026-11-23T10:00:00Z"), Some(600), 0, "10m"),
            ("next_response", "not_started", None, None, 0, ""),
            ("resolution", "ok", Some("2026-11-23T10:30:00Z"), Some(2400), 0, "40m"),
        ],
    }

    a_handover_on_friday_evening_in_business_hours {
        // Amsterdam 09-17: hand-over Fri 2026-11-20 16:50 + 30m: 10m Friday, Monday 09:20 CET
        // = 08:20Z. At Saturday noon ok.
        calendar: weekdays("Europe/Amsterdam", "09:00-17:00"),
        policy: p(FRT_30M_BH),
        events: [
            json!({"at": "2026-11-20T16:00:00+01:00", "kind": "created", "bot": true}),
            ev("2026-11-20T16:50:00+01:00", "handover"),
        ],
        at "2026-11-21T12:00:00+01:00" => [
            ("first_response", "ok", Some("2026-11-23T08:20:00Z"),
             Some(2 * 86_400 - 3 * 3600 + 20 * 60), 0, "1d 21h"),
        ],
    }

    // ------------------------------------------------------------ policy changes

    an_added_next_response_target_judges_the_earlier_cycles {
        // Policy FRT only. First response 10:05; cycle 1: customer 10:10, agent 10:30 (20m).
        // Cycle 2 from 10:40. At 10:45 NRT 15m is added: cycle 1 missed (1 breach), cycle 2
        // runs from 10:40, due 10:55. At 10:50: 5m left > 3m45s: ok.
        calendar: Value::Null,
        policy: p(r#"{"first_response": "30m"}"#),
        events: [
            ev("2026-11-23T10:00:00Z", "created"),
            msg("2026-11-23T10:05:00Z", "agent"),
            msg("2026-11-23T10:10:00Z", "customer"),
            msg("2026-11-23T10:30:00Z", "agent"),
            msg("2026-11-23T10:40:00Z", "customer"),
            json!({"at": "2026-11-23T10:45:00Z", "kind": "apply_policy",
                   "policy": {"first_response": "30m", "next_response": "15m"}}),
        ],
        at "2026-11-23T10:50:00Z" => [
            ("first_response", "met", Some("2026-11-23T10:30:00Z"), None, 0, "met"),
            ("next_response", "ok", Some("2026-11-23T10:55:00Z"), Some(300), 1, "5m"),
        ],
    }

    an_added_resolution_target_judges_a_resolved_conversation_from_its_start {
        // Resolved at 10:50 without a resolution target; at 11:00 RT 30m is added: 50m used,
        // deadline 10:30: missed.
        calendar: Value::Null,
        policy: p(r#"{"first_response": "1h"}"#),
        events: [
            ev("2026-11-23T10:00:00Z", "created"),
            status("2026-11-23T10:50:00Z", "resolved"),
            json!({"at": "2026-11-23T11:00:00Z", "kind": "apply_policy",
                   "policy": {"resolution": "30m"}}),
        ],
        at "2026-11-23T11:30:00Z" => only [
            ("resolution", "missed", Some("2026-11-23T10:30:00Z"), None, 1, "missed"),
        ],
    }

    a_new_policy_raises_the_target_of_a_breached_clock {
        // FRT 30m from 10:00; at 10:40 (breached) the policy sets 1h: running, due 11:00. At
        // 10:45: 15m left <= 15m: warning, no breach now.
        calendar: Value::Null,
        policy: p(r#"{"first_response": "30m"}"#),
        events: [
            ev("2026-11-23T10:00:00Z", "created"),
            json!({"at": "2026-11-23T10:40:00Z", "kind": "apply_policy",
                   "policy": {"first_response": "1h"}}),
        ],
        at "2026-11-23T10:45:00Z" => [
            ("first_response", "warning", Some("2026-11-23T11:00:00Z"), Some(900), 0, "15m"),
        ],
    }

    switching_business_hours_off_keeps_the_open_time_used {
        // UTC Mon-Fri 09-17, FRT 2h business hours from Mon 16:00: 1h used by 17:00. At Mon
        // 20:00 the policy counts all time: 1h left from 20:00, due 21:00; at 20:30 30m left
        // <= 30m (25% of 2h): warning.
        calendar: weekdays("UTC", "09:00-17:00"),
        policy: p(r#"{"first_response": "2h", "business_hours_only": true}"#),
        events: [
            ev("2026-11-23T16:00:00Z", "created"),
            json!({"at": "2026-11-23T20:00:00Z", "kind": "apply_policy",
                   "policy": {"first_response": "2h"}}),
        ],
        at "2026-11-23T20:30:00Z" => [
            ("first_response", "warning", Some("2026-11-23T21:00:00Z"), Some(1800), 0, "30m"),
        ],
    }

    // ------------------------------------------------------------ order and time of events

    the_documented_example_in_any_event_order {
        calendar: json!({"timezone": "Europe/Amsterdam",
                         "hours": {"mon": ["09:00-17:00"], "tue": ["09:00-12:00", "13:00-17:00"],
                                   "wed": ["09:00-17:00"], "thu": ["09:00-17:00"], "fri": ["09:00-17:00"]}}),
        policy: p(r#"{"first_response": "30m", "business_hours_only": true, "warning": "25%"}"#),
        events: [
            // A reply after `at` has not happened yet.
            msg("2026-11-23T09:21:00+01:00", "agent"),
            msg("2026-11-20T16:45:00+01:00", "customer"),
            ev("2026-11-20T16:45:00+01:00", "created"),
        ],
        at "2026-11-23T09:20:00+01:00" => [
            ("first_response", "breached", Some("2026-11-23T08:15:00Z"), Some(-300), 1, "-5m"),
        ],
    }

    a_bot_creation_listed_after_a_message_of_its_instant_still_waits_for_the_handover {
        // Same instant, message listed first: the conversation is still created by the bot
        // (creation comes first within an instant), so the clocks start at the 09:10 hand-over:
        // FRT 30m due 09:40; at 09:20, 20m left > 7m30s: ok.
        calendar: Value::Null,
        policy: p(r#"{"first_response": "30m"}"#),
        events: [
            msg("2026-11-23T09:00:00Z", "customer"),
            json!({"at": "2026-11-23T09:00:00Z", "kind": "created", "bot": true}),
        ],
        at "2026-11-23T09:20:00Z" with [ev("2026-11-23T09:10:00Z", "handover")] => [
            ("first_response", "ok", Some("2026-11-23T09:40:00Z"), Some(1200), 0, "20m"),
        ],
        // Before the hand-over nothing runs.
        at "2026-11-23T09:05:00Z" => [
            ("first_response", "not_started", None, None, 0, ""),
        ],
    }

    an_event_after_at_within_the_same_second_has_not_happened {
        // Deadline 10:30:00; `at` 10:30:00.400, the reply at 10:30:00.600 is after `at`: the
        // clock still runs, at its deadline (whole seconds): warning with 0 s left.
        calendar: Value::Null,
        policy: p(r#"{"first_response": "30m"}"#),
        events: [
            ev("2026-11-23T10:00:00Z", "created"),
            msg("2026-11-23T10:30:00.600Z", "agent"),
        ],
        at "2026-11-23T10:30:00.400Z" => [
            ("first_response", "warning", Some("2026-11-23T10:30:00Z"), Some(0), 0, "0s"),
        ],
    }

    lord_howe_overnight_window_on_the_half_hour_fall_back_night {
        // Sun 2026-04-05 Lord Howe goes back 02:00 (+11) -> 01:30 (+10:30). Saturday's
        // "22:00-06:00": 22:00+11 (11:00Z) to Sunday 06:00+10:30 (19:30Z) = 8h30m.
        // 8h30m is used up exactly at Sunday 06:00: due then; at 19:00Z 30m left.
        calendar: json!({"timezone": "Australia/Lord_Howe", "hours": {"sat": ["22:00-06:00"]}}),
        policy: p(r#"{"resolution": "8h30m", "business_hours_only": true}"#),
        events: [ev("2026-04-04T22:00:00+11:00", "created")],
        at "2026-04-04T19:00:00Z" => [
            ("resolution", "warning", Some("2026-04-04T19:30:00Z"), Some(1800), 0, "30m"),
        ],
    }

    lord_howe_overnight_window_one_minute_longer_runs_into_next_saturday {
        // The same night with 8h31m: one more minute runs into next Saturday 22:00+10:30
        // (11:30Z): due 11:31Z.
        calendar: json!({"timezone": "Australia/Lord_Howe", "hours": {"sat": ["22:00-06:00"]}}),
        policy: p(r#"{"resolution": "8h31m", "business_hours_only": true}"#),
        events: [ev("2026-04-04T22:00:00+11:00", "created")],
        at "2026-04-04T19:00:00Z" => [
            ("resolution", "warning", Some("2026-04-11T11:31:00Z"),
             Some(6 * 86_400 + 16 * 3600 + 31 * 60), 0, "6d 16h"),
        ],
    }

    santiago_midnight_spring_forward_ends_saturday_at_one {
        // Chile skips Sun 2026-09-06 00:00-01:00 (-04 -> -03). Saturday "20:00-24:00" runs
        // from 20:00-04 (Sep 6 00:00Z) to the end of the gap, 01:00-03 (04:00Z): 4h. Sunday
        // "00:00-04:00" starts there too and ends 04:00-03 (07:00Z): 3h. 7h from Saturday
        // 20:00 is due 07:00Z; at 05:00Z 2h left > 1h45m (25%): ok.
        calendar: json!({"timezone": "America/Santiago",
                         "hours": {"sat": ["20:00-24:00"], "sun": ["00:00-04:00"]}}),
        policy: p(r#"{"resolution": "7h", "business_hours_only": true}"#),
        events: [ev("2026-09-05T20:00:00-04:00", "created")],
        at "2026-09-06T05:00:00Z" => [
            ("resolution", "ok", Some("2026-09-06T07:00:00Z"), Some(7200), 0, "2h 00m"),
        ],
    }
}

// ---------------------------------------------------------------- warning thresholds

#[test]
fn warning_threshold_boundaries() {
    // Created 10:00 UTC, no calendar, 30m target: deadline 10:30.
    let events = json!([ev("2026-11-23T10:00:00Z", "created")]);
    for (warning, at, state, remaining) in [
        // Fixed 5m: warns from 10:25:00 (300 s left), not at 10:24:59 (301 s).
        ("5m", "10:24:59", "ok", 301),
        ("5m", "10:25:00", "warning", 300),
        // 0%: only the deadline instant itself (0 left <= 0) warns; a second later breached.
        ("0%", "10:29:59", "ok", 1),
        ("0%", "10:30:00", "warning", 0),
        ("0%", "10:30:01", "breached", -1),
        // 100% and a threshold above the target warn from the start.
        ("100%", "10:00:00", "warning", 1800),
        ("1h", "10:00:00", "warning", 1800),
        // 10% of 30m = 3m: warns at 10:27:00.
        ("10%", "10:26:59", "ok", 181),
        ("10%", "10:27:00", "warning", 180),
        // Whole seconds: 300 means a fixed 5m.
        ("300", "10:25:00", "warning", 300),
    ] {
        let warning: Value = if warning == "300" {
            json!(300)
        } else {
            json!(warning)
        };
        let out = check(doc(
            Value::Null,
            json!({"first_response": "30m", "warning": warning}),
            events.clone(),
            &format!("2026-11-23T{at}Z"),
        ));
        let m = metric(&out, "first_response");
        assert_eq!(
            (
                m["state"].as_str().unwrap(),
                m["remaining_s"].as_i64().unwrap()
            ),
            (state, remaining),
            "warning {warning} at {at}"
        );
    }
}

// ---------------------------------------------------------------- a target added after its cycle

#[test]
fn a_target_added_after_the_cycle_ended_reports_the_deadline_judged_against() {
    // No FRT/NRT at first. First response 10:40; cycle 11:00 customer -> 11:10 agent. At
    // 11:30 FRT 1h and NRT 30m are added: FRT judged from 10:00, due 11:00, answered 10:40:
    // met; the cycle due 11:30, answered 11:10: met. Both report the deadline judged against.
    let out = check(doc(
        Value::Null,
        p(r#"{"resolution": "4h"}"#),
        json!([
            ev("2026-11-23T10:00:00Z", "created"),
            msg("2026-11-23T10:40:00Z", "agent"),
            msg("2026-11-23T11:00:00Z", "customer"),
            msg("2026-11-23T11:10:00Z", "agent"),
            {"at": "2026-11-23T11:30:00Z", "kind": "apply_policy",
             "policy": {"first_response": "1h", "next_response": "30m"}}
        ]),
        "2026-11-23T12:00:00Z",
    ));
    // Both met, each against the deadline it was judged by.
    for (name, due) in [
        ("first_response", "2026-11-23T11:00:00Z"),
        ("next_response", "2026-11-23T11:30:00Z"),
    ] {
        expect(&out, (name, "met", Some(due), None, 0, "met"));
    }
    // The same with targets met by a longer margin under the original policy: identical.
    let same = check(doc(
        Value::Null,
        p(r#"{"first_response": "1h", "next_response": "30m"}"#),
        json!([
            ev("2026-11-23T10:00:00Z", "created"),
            msg("2026-11-23T10:40:00Z", "agent"),
            msg("2026-11-23T11:00:00Z", "customer"),
            msg("2026-11-23T11:10:00Z", "agent")
        ]),
        "2026-11-23T12:00:00Z",
    ));
    assert_eq!(same["metrics"], out["metrics"]);
}

// ---------------------------------------------------------------- malformed input

#[test]
fn malformed_input_is_one_line_naming_the_field() {
    let base = json!({
        "calendar": {"timezone": "Europe/Amsterdam", "hours": {"mon": ["09:00-17:00"]},
                     "holidays": ["2026-12-25"], "overrides": {"2026-12-24": ["09:00-13:00"]}},
        "policy": {"first_response": "30m", "business_hours_only": true},
        "events": [{"at": "2026-11-23T09:00:00Z", "kind": "created"}],
        "at": "2026-11-23T10:00:00Z"
    });
    let with = |pointer: &str, value: Value| {
        let mut d = base.clone();
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        let parent = d.pointer_mut(parent).unwrap();
        match parent {
            Value::Array(items) => items[key.parse::<usize>().unwrap()] = value,
            _ => parent[key] = value,
        }
        d.to_string()
    };
    for (input, field) in [
        ("{\"policy\": ".to_string(), "input"),
        (
            with("/calendar/timezone", json!("Mars/Base")),
            "calendar.timezone",
        ),
        (
            with("/calendar/hours/mon/0", json!("09:00-25:00")),
            "calendar.hours.mon[0]",
        ),
        (
            with("/calendar/hours/mon", json!(["09:00-12:00", "11:00-13:00"])),
            "calendar.hours.mon[1]",
        ),
        (
            with(
                "/calendar/overrides/2026-12-24",
                json!(["09:00-13:00", "12:30-14:00"]),
            ),
            "calendar.overrides.2026-12-24[1]",
        ),
        (
            with("/calendar/holidays/0", json!("25-12-2026")),
            "calendar.holidays[0]",
        ),
        (
            with("/policy/first_response", json!("1.5h")),
            "policy.first_response",
        ),
        (
            with("/policy/first_response", json!(-60)),
            "policy.first_response",
        ),
        (
            with("/policy/first_response", json!("1h1h")),
            "policy.first_response",
        ),
        (with("/policy/warning", json!("-5m")), "policy.warning"),
        (
            with("/policy/pause_on", json!(["open"])),
            "policy.pause_on[0]",
        ),
        (with("/events/0/kind", json!("closed")), "events[0].kind"),
        (with("/events/0/at", json!("2026-11-23")), "events[0].at"),
        (with("/at", json!("now")), "at"),
    ] {
        let err = run_check(&input).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("{field}: ")),
            "expected an error naming {field}, got: {err}"
        );
        assert!(!err.contains('\n'), "{err}");
    }
}

#[test]
fn an_overnight_tail_may_not_overlap_the_next_weekday() {
    // Sunday 22:00-06:00 runs into Monday; Monday 05:00-09:00 overlaps it.
    let err = run_check(
        &json!({"calendar": {"timezone": "UTC", "hours": {"sun": ["22:00-06:00"],
                                                        "mon": ["05:00-09:00"]}},
                "policy": {}, "at": "2026-11-23T10:00:00Z"})
        .to_string(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.starts_with("calendar.hours.mon[0]: "), "{err}");
}
