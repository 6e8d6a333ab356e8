//! The `promptly sla check` contract: whole documents in, the exact JSON line out.

use promptly::check::run_check;

const OFFICE: &str = r#""calendar": {"timezone": "Europe/Amsterdam",
    "hours": {"mon": ["09:00-17:00"], "tue": ["09:00-12:00", "13:00-17:00"], "wed": ["09:00-17:00"],
              "thu": ["09:00-17:00"], "fri": ["09:00-17:00"], "sat": [], "sun": []},
    "holidays": ["2026-12-25"], "overrides": {"2026-12-24": ["09:00-13:00"]}}"#;

fn check(document: &str) -> String {
    serde_json::to_string(&run_check(document).unwrap()).unwrap()
}

#[test]
fn every_target_in_order_with_the_same_keys() {
    let out = check(&format!(
        r#"{{{OFFICE}, "policy": {{"resolution": "1d", "next_response": "1h", "first_response": "30m",
              "business_hours_only": true}},
            "events": [{{"at": "2026-11-23T09:10:00+01:00", "kind": "message", "author": "agent"}},
                       {{"at": "2026-11-23T09:00:00+01:00", "kind": "created"}},
                       {{"at": "2026-11-23T09:00:00+01:00", "kind": "message", "author": "customer"}},
                       {{"at": "2026-11-23T16:30:00+01:00", "kind": "message", "author": "customer"}},
                       {{"at": "2026-11-23T16:35:00+01:00", "kind": "status", "status": "pending"}}],
            "at": "2026-11-24T09:15:00+01:00"}}"#
    ));
    assert_eq!(
        out,
        concat!(
            r#"{"at":"2026-11-24T08:15:00Z","metrics":["#,
            r#"{"metric":"first_response","state":"met","due_at":"2026-11-23T08:30:00Z","remaining_s":null,"breaches":0,"text":"met"},"#,
            // 16:30 + 1h of open time: 30 minutes on Monday, 30 on Tuesday from 09:00.
            r#"{"metric":"next_response","state":"warning","due_at":"2026-11-24T08:30:00Z","remaining_s":900,"breaches":0,"text":"15m"},"#,
            // Resolution paused at 16:35 after 7h35m of open time: 16h25m left.
            r#"{"metric":"resolution","state":"paused","due_at":null,"remaining_s":59100,"breaches":0,"text":"16h 25m"}"#,
            "]}"
        )
    );
}

#[test]
fn a_bot_conversation_with_no_handover_has_started_nothing() {
    let out = check(
        r#"{"policy": {"first_response": "5m"},
            "events": [{"at": "2026-11-23T09:00:00Z", "kind": "created", "bot": true},
                       {"at": "2026-11-23T09:00:00Z", "kind": "message", "author": "customer"},
                       {"at": "2026-11-23T09:01:00Z", "kind": "message", "author": "bot"}],
            "at": "2026-11-23T10:00:00Z"}"#,
    );
    assert_eq!(
        out,
        r#"{"at":"2026-11-23T10:00:00Z","metrics":[{"metric":"first_response","state":"not_started","due_at":null,"remaining_s":null,"breaches":0,"text":""}]}"#
    );
}

#[test]
fn an_applied_policy_replaces_the_targets_reported() {
    let out = check(
        r#"{"policy": {"first_response": "5m", "next_response": "5m"},
            "events": [{"at": "2026-11-23T09:00:00Z", "kind": "created"},
                       {"at": "2026-11-23T09:02:00Z", "kind": "apply_policy",
                        "policy": {"first_response": "1h", "resolution": "2h", "warning": "10m"}}],
            "at": "2026-11-23T09:55:00Z"}"#,
    );
    assert_eq!(
        out,
        concat!(
            r#"{"at":"2026-11-23T09:55:00Z","metrics":["#,
            r#"{"metric":"first_response","state":"warning","due_at":"2026-11-23T10:00:00Z","remaining_s":300,"breaches":0,"text":"5m"},"#,
            r#"{"metric":"resolution","state":"ok","due_at":"2026-11-23T11:00:00Z","remaining_s":3900,"breaches":0,"text":"1h 05m"}"#,
            "]}"
        )
    );
}

#[test]
fn durations_may_be_whole_seconds() {
    let out = check(
        r#"{"policy": {"first_response": 90},
            "events": [{"at": "2026-11-23T09:00:00Z", "kind": "created"}],
            "at": "2026-11-23T09:00:45Z"}"#,
    );
    assert!(
        out.contains(r#""remaining_s":45,"breaches":0,"text":"45s""#),
        "{out}"
    );
}

#[test]
fn malformed_documents_name_the_field() {
    let base = r#"{"policy": {"first_response": "5m"}, "events": [{"at": "2026-11-23T09:00:00Z", "kind": "created"}], "at": "2026-11-23T10:00:00Z"}"#;
    for (from, to, expected) in [
        (
            r#""5m""#,
            r#""5 minutes""#,
            "policy.first_response: \"5 minutes\" is not a valid target",
        ),
        (
            r#""5m""#,
            "-300",
            "policy.first_response: \"-300\" is not a valid target",
        ),
        (
            r#""created""#,
            r#""opened""#,
            "events[0].kind: unknown variant `opened`",
        ),
        (
            r#""2026-11-23T09:00:00Z""#,
            r#""2026-11-23T25:00:00Z""#,
            "events[0].at: \"2026-11-23T25:00:00Z\" is not an RFC 3339 timestamp",
        ),
        (
            r#""at": "2026-11-23T10"#,
            r#""when": "2026-11-23T10"#,
            "when: unknown field `when`, expected one of `calendar`, `policy`, `events`, `at`",
        ),
        (
            r#"{"policy""#,
            r#"{"calendar": {"timezone": "UTC", "hours": {"mon": ["09:00-17:00", "16:00-18:00"]}}, "policy""#,
            "calendar.hours.mon[1]: \"16:00-18:00\" overlaps \"09:00-17:00\"",
        ),
    ] {
        assert!(base.contains(from), "{from}");
        let err = run_check(&base.replacen(from, to, 1))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(expected),
            "{err}\n  expected to start with: {expected}"
        );
        assert!(!err.contains('\n'), "{err}");
    }
}
