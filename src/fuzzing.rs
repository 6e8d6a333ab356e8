//! The fuzz targets' checks, one function per target of `fuzz/` (`cargo fuzz`): each takes
//! any bytes, feeds them through the same validation the server or the command line runs
//! first, and panics only when an invariant fails. `tests/fuzz_corpora.rs` replays the
//! committed corpora through the same functions on stable, so `cargo test` keeps every
//! input the fuzzer found (and every crash it found) passing. Not part of the API.

use crate::calendar::{BusinessCalendar, CalendarDefinition, TimeWindow};
use crate::check::{run_check, CheckOutput};
use crate::clock::{evaluate, Metric};
use crate::compliance::{FactsRecord, PeriodKey, PERIOD_QUERY_PATTERN};
use crate::conversation::{fold, parse_incoming, ConversationSummary, EventWindow, IncomingEvent};
use crate::duration::{SlaDuration, Target};
use crate::instant::utc;
use crate::limits::{EVENT_BATCH, URL_LEN};
use crate::policy::{Policy, WarningThreshold};
use crate::rules::{
    apply_actions, evaluate as run_rules, explain, parse_rule, ActionEnv, ConversationState,
    FiredEvent, RuleContext, RuleDefinition, SideEffect, SlaFacts, Template, URL_PATTERN,
};
use crate::timeline::Author;
use chrono::{DateTime, Utc};
use serde_json::Value;

/// The server's time in every check: a Monday morning in November 2026.
pub fn now() -> DateTime<Utc> {
    utc("2026-11-23T09:20:00Z")
}

/// Office hours in Amsterdam with a lunch break, a holiday and an override: the calendar of
/// the engine's examples, for the checks that run the SLA engine on business hours.
const OFFICE: &str = r#"{"timezone": "Europe/Amsterdam",
    "hours": {"mon": ["09:00-17:00"], "tue": ["09:00-12:00", "13:00-17:00"], "wed": ["09:00-17:00"],
              "thu": ["09:00-17:00"], "fri": ["09:00-17:00"]},
    "holidays": ["2026-12-25"], "overrides": {"2026-12-24": ["09:00-13:00"]}}"#;

fn office() -> BusinessCalendar {
    serde_json::from_str(OFFICE).expect("the office calendar is valid")
}

fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

// ---------------------------------------------------------------------------------------
// event_json: the ingest API (`POST /api/v1/events`)
// ---------------------------------------------------------------------------------------

/// One event or `{"events": [...]}`, read as the ingest handler reads it; when the whole
/// batch is valid and inside the event window, the conversation's derived columns as the
/// ingest transaction computes them (the fold, the SLA engine, SLA instants, compliance
/// facts).
pub fn event_json(data: &[u8]) {
    let Some(body) = text(data).and_then(|t| serde_json::from_str::<Value>(t).ok()) else {
        return;
    };
    let (items, batched): (Vec<&Value>, bool) = match body.get("events") {
        Some(Value::Array(items)) => (items.iter().collect(), true),
        Some(_) => return,
        None => (vec![&body], false),
    };
    if items.is_empty() || items.len() > EVENT_BATCH {
        return;
    }
    let now = now();
    let window = EventWindow::default();
    let mut events = Vec::with_capacity(items.len());
    let mut refused = false;
    for (i, item) in items.iter().enumerate() {
        let path = if batched {
            format!("events[{i}]")
        } else {
            String::new()
        };
        match parse_incoming(item, &path, now) {
            Ok(event) => {
                check_event(&event);
                refused |= window.check(event.at, now).is_err();
                events.push(event);
            }
            Err(errors) => {
                assert!(!errors.is_empty(), "refused without a reason");
                for e in &errors {
                    assert!(e.field.starts_with(&path), "{} outside {path}", e.field);
                    assert!(!e.message.is_empty(), "{} without a message", e.field);
                }
                refused = true;
            }
        }
    }
    // The server refuses the whole batch on any error.
    if !refused {
        derive(&events, now);
    }
}

/// A parsed event is what the server stores: its JSON reads back as itself, through serde
/// (how the store reads it) and through the API's parser (it obeys the API's limits).
fn check_event(event: &IncomingEvent) {
    for id in [&event.id, &event.conversation] {
        assert!(!id.is_empty() && id.trim() == id, "id {id:?}");
    }
    let stored = serde_json::to_value(event).expect("an event serializes");
    let read: IncomingEvent =
        serde_json::from_value(stored.clone()).expect("a stored event reads back");
    assert_eq!(&read, event, "serde round trip");
    let again = parse_incoming(&stored, "", event.at)
        .unwrap_or_else(|e| panic!("a stored event is valid input: {e:?}\n{stored}"));
    assert_eq!(&again, event, "parse_incoming round trip");
}

/// What `Store::ingest_batch` derives for a conversation of `events` (all of them, as one
/// conversation: the fold does not look at the conversation id).
fn derive(events: &[IncomingEvent], now: DateTime<Utc>) {
    let Some((summary, timeline)) = fold(events) else {
        assert!(events.is_empty(), "fold of {} events is None", events.len());
        return;
    };
    let first = events.iter().map(|e| e.at).min().expect("not empty");
    assert_eq!(summary.created_at, first, "created_at is the first event");
    assert!(timeline.len() <= events.len());
    assert!(timeline.windows(2).all(|w| w[0].at <= w[1].at), "sorted");
    let calendar = office();
    let targets = Policy {
        first_response: SlaDuration::from_minutes(30).map(Target::Counted),
        next_response: SlaDuration::from_minutes(10).map(Target::Counted),
        resolution: SlaDuration::from_hours(24).map(Target::Counted),
        ..Policy::default()
    };
    let business = Policy {
        business_hours_only: true,
        warning: WarningThreshold::Fixed(SlaDuration::from_minutes(5).expect("in range")),
        ..targets
    };
    for (policy, calendar) in [
        (Policy::default(), None),
        (targets, None),
        (business, Some(&calendar)),
    ] {
        let sla = evaluate(&policy, calendar, &timeline, now);
        assert!(sla.next_change.is_none_or(|t| t > sla.at));
        for m in &sla.metrics {
            if let (Some(due), Some(start)) = (m.due_at, m.started_at) {
                assert!(due >= start, "{m:?} due before it started");
            }
            crate::badge::next_display_change(m, now);
        }
        let instants = crate::automation::sla_instants(&sla, &[1800, 86_400]);
        crate::automation::next_instant(&instants, Some(now));
        FactsRecord::derive(&summary, &timeline, &sla.metrics, Some(1));
    }
    for event in events {
        crate::automation::trigger_of(event);
    }
}

// ---------------------------------------------------------------------------------------
// rule_json: automation rules and their message templates
// ---------------------------------------------------------------------------------------

/// A rule body as the rules API validates it (policies 7 and 12 and calendar 3 exist);
/// a valid rule is stored and reloaded, explained and run on a sample conversation. The
/// text is also read as a message template.
pub fn rule_json(data: &[u8]) {
    let Some(source) = text(data) else {
        return;
    };
    template(source);
    let Ok(body) = serde_json::from_str::<Value>(source) else {
        return;
    };
    match parse_rule(&body, |id| id == 7 || id == 12, |id| id == 3) {
        Ok(rule) => run_rule(&rule),
        Err(errors) => assert!(!errors.is_empty(), "refused without a reason"),
    }
}

fn sample_conversation() -> ConversationSummary {
    use crate::conversation::{Channel, Contact, Priority, Visibility};
    ConversationSummary {
        channel: Channel::Email,
        visibility: Visibility::Direct,
        contact: Contact {
            name: Some("Ann Lee".into()),
            email: Some("ann@eu.bigcorp.com".into()),
            handle: None,
        },
        priority: Priority::High,
        labels: vec!["VIP".into(), "billing".into()],
        team: Some("Support".into()),
        owner: None,
        status: crate::timeline::ConversationStatus::Open,
        bot: false,
        created_at: now(),
        last_message: Some("I want a refund!".into()),
        last_author: Some(Author::Customer),
        last_message_at: Some(now()),
        surveys: Vec::new(),
        left_at: None,
    }
}

fn run_rule(rule: &RuleDefinition) {
    // The store keeps the rule's JSON and reads it back with the same validation.
    let stored = serde_json::to_value(rule).expect("a rule serializes");
    let read: RuleDefinition = serde_json::from_value(stored.clone())
        .unwrap_or_else(|e| panic!("a stored rule reads back: {e}\n{stored}"));
    assert_eq!(&read, rule, "stored rule round trip");
    let conversation = sample_conversation();
    let open = |id: i64| (id == 3).then_some(true);
    let ctx = RuleContext::new(&conversation)
        .with_message(Author::Customer, "Hello, I want a REFUND\nplease")
        .with_business_hours(&open);
    let rules = [(1, rule.clone())];
    for metric in Metric::ALL {
        let event = FiredEvent::for_rule(rule, metric);
        let explanation = explain(rule, &event, &ctx);
        let outcome = run_rules(&rules, &event, &ctx);
        assert_eq!(
            explanation.would_fire && rule.enabled,
            !outcome.fired.is_empty(),
            "the dry run and the walk disagree"
        );
        let env = ActionEnv {
            conversation_id: 42,
            conversation: &conversation,
            link_base: "https://promptly.example/",
            event,
            at: now(),
            sla: Some(SlaFacts {
                metric,
                due_in_s: Some(-300),
            }),
        };
        let applied = apply_actions(
            &ConversationState::of(&conversation, None),
            &outcome.fired,
            &env,
        );
        for effect in &applied.effects {
            if let SideEffect::Webhook { body, .. } = effect {
                serde_json::from_str::<Value>(body).expect("a webhook body is JSON");
            }
        }
    }
}

fn template(source: &str) {
    let Ok(template) = Template::parse(source) else {
        return;
    };
    assert_eq!(template.as_str(), source);
    assert_eq!(
        Template::parse(&template.to_string()).as_ref(),
        Ok(&template)
    );
    let conversation = sample_conversation();
    let env = ActionEnv {
        conversation_id: 42,
        conversation: &conversation,
        link_base: "https://promptly.example",
        event: FiredEvent::MessageCreated,
        at: now(),
        sla: None,
    };
    let text = template.render(&env);
    if template.placeholders().next().is_none() {
        assert_eq!(text, source, "a template without placeholders is its text");
    }
}

// ---------------------------------------------------------------------------------------
// calendar: business-hours calendars and deadlines
// ---------------------------------------------------------------------------------------

/// Instants the deadlines count from: an ordinary Monday, the nights of Europe's and the
/// United States' daylight-saving changes, and a year's end.
const STARTS: [&str; 5] = [
    "2026-11-23T09:20:00Z",
    "2026-03-29T00:30:00Z",
    "2026-11-01T05:30:00Z",
    "2026-10-25T00:59:59Z",
    "2026-12-31T23:00:00Z",
];

/// `{"calendar": CALENDAR, "open": DURATION, "from": N}`: the calendar is read as the
/// calendars API reads a body (field paths, then [`BusinessCalendar::new`]); when valid, the
/// deadline of `open` (default 8h) counted from `STARTS[from % 5]` is never before it,
/// and the open time up to the deadline is `open`.
pub fn calendar(data: &[u8]) {
    let Some(input) = text(data).and_then(|t| serde_json::from_str::<Value>(t).ok()) else {
        return;
    };
    let Some(definition) = input.get("calendar").cloned() else {
        return;
    };
    let Ok(definition) = serde_path_to_error::deserialize::<_, CalendarDefinition>(definition)
    else {
        return;
    };
    let Ok(calendar) = BusinessCalendar::new(definition.clone()) else {
        return;
    };
    // Stored as its definition's JSON and read back.
    let stored = serde_json::to_value(&calendar).expect("a calendar serializes");
    let read: BusinessCalendar = serde_json::from_value(stored.clone())
        .unwrap_or_else(|e| panic!("a stored calendar reads back: {e}\n{stored}"));
    assert_eq!(read.definition(), &definition, "stored calendar round trip");
    let open = match input.get("open") {
        None => SlaDuration::from_hours(8).expect("in range"),
        Some(v) => match serde_json::from_value::<SlaDuration>(v.clone()) {
            Ok(d) => d,
            Err(_) => return,
        },
    };
    let from = input.get("from").and_then(Value::as_u64).unwrap_or(0);
    let from = utc(STARTS[(from % STARTS.len() as u64) as usize]);
    // A second calendar, so that the deadline table is built around `from` rather than
    // around the stored round trip's questions.
    let fresh = BusinessCalendar::new(definition).expect("valid once, valid again");
    if let Some(due) = fresh.add_open_time(from, open) {
        assert!(due >= from, "deadline {due} before its start {from}");
        assert_eq!(
            fresh.open_time_between(from, due),
            open.as_secs(),
            "open time from {from} to the deadline {due}"
        );
    }
    fresh.is_open_at(from);
}

// ---------------------------------------------------------------------------------------
// duration: durations, time windows, warning thresholds, periods and URLs as text
// ---------------------------------------------------------------------------------------

/// Whether a published pattern (`PATTERN` constants: JSON Schema, ECMA-262 regular
/// expressions) admits a text. The domain crate has no regex engine; the fuzz target and
/// the corpus test bring one, compiling the pattern with [`ecma_regex`].
pub type Pattern<'a> = &'a dyn Fn(&'static str, &str) -> bool;

/// The patterns [`duration`] asks about.
pub const PATTERNS: [&str; 6] = [
    SlaDuration::PATTERN,
    Target::PATTERN,
    TimeWindow::PATTERN,
    WarningThreshold::PERCENT_PATTERN,
    PERIOD_QUERY_PATTERN,
    URL_PATTERN,
];

/// `pattern` in the `regex` crate's syntax with ECMA-262's meanings of `\d` (ASCII digits)
/// and `\s` (its white space and line terminators), as a JSON Schema validator reads it.
pub fn ecma_regex(pattern: &str) -> String {
    pattern.replace(r"\d", "[0-9]").replace(
        r"\s",
        r"[\t\n\x0B\x0C\r \u{A0}\u{1680}\u{2000}-\u{200A}\u{2028}\u{2029}\u{202F}\u{205F}\u{3000}\u{FEFF}]",
    )
}

/// A duration's text ("1h30m") parses as JSON does, its canonical text reads back as the
/// same duration, and what the published pattern admits parses (the same for a policy
/// target, "2bd"); the same for a time
/// window ("09:00-17:00") and a warning threshold ("25%"), and what the patterns of a
/// period ("2026-W47") and a webhook URL admit, their parsers take.
pub fn duration(data: &[u8], admits: Pattern<'_>) {
    let Some(source) = text(data) else {
        return;
    };
    let parsed = source.parse::<SlaDuration>();
    let json = serde_json::from_value::<SlaDuration>(Value::from(source));
    assert_eq!(
        parsed.as_ref().ok(),
        json.as_ref().ok(),
        "JSON and text differ"
    );
    if let Ok(d) = parsed {
        assert!((0..=SlaDuration::LONGEST_SECS).contains(&d.as_secs()));
        let canonical = d.to_string();
        assert_eq!(canonical.parse::<SlaDuration>(), Ok(d), "{canonical}");
        assert!(admits(SlaDuration::PATTERN, &canonical), "{canonical:?}");
        assert_eq!(SlaDuration::from_secs(d.as_secs()), Some(d));
    }
    if admits(SlaDuration::PATTERN, source) {
        assert!(
            source.parse::<SlaDuration>().is_ok(),
            "pattern admits {source:?}"
        );
    }

    // A policy target: a duration or business days.
    let target = source.parse::<Target>();
    let json = serde_json::from_value::<Target>(Value::from(source));
    assert_eq!(
        target.as_ref().ok(),
        json.as_ref().ok(),
        "JSON and text differ for a target"
    );
    if let Ok(t) = &target {
        let canonical = t.to_string();
        assert_eq!(canonical.parse::<Target>().as_ref(), Ok(t), "{canonical}");
        assert!(admits(Target::PATTERN, &canonical), "{canonical:?}");
    }
    if let Ok(d) = source.parse::<SlaDuration>() {
        assert_eq!(target, Ok(Target::Counted(d)), "a duration is a target");
    }
    if admits(Target::PATTERN, source) {
        assert!(
            source.parse::<Target>().is_ok(),
            "target pattern admits {source:?}"
        );
    }

    let window = source.parse::<TimeWindow>();
    if let Ok(w) = window {
        let canonical = w.to_string();
        assert_eq!(canonical.parse::<TimeWindow>(), Ok(w), "{canonical}");
        assert!(admits(TimeWindow::PATTERN, &canonical), "{canonical:?}");
    }
    if admits(TimeWindow::PATTERN, source) && window.is_err() {
        // The one rule the pattern leaves to its description: start and end differ.
        let minutes = |hhmm: &str| {
            let (h, m) = crate::schema::trim(hhmm)
                .split_once(':')
                .expect("the pattern has a colon");
            h.parse::<u32>().expect("digits") * 60 + m.parse::<u32>().expect("digits")
        };
        let (start, end) = source.split_once('-').expect("the pattern has a dash");
        assert_eq!(minutes(start), minutes(end), "pattern admits {source:?}");
    }

    let threshold = source.parse::<WarningThreshold>();
    if let Ok(w) = threshold {
        assert_eq!(w.to_string().parse::<WarningThreshold>(), Ok(w));
    }
    if admits(WarningThreshold::PERCENT_PATTERN, source) {
        assert!(threshold.is_ok(), "pattern admits {source:?}");
    }

    // An empty period query means the current period.
    if admits(PERIOD_QUERY_PATTERN, source) && !crate::schema::trim(source).is_empty() {
        assert!(
            PeriodKey::parse(source).is_ok(),
            "pattern admits {source:?}"
        );
    }
    if admits(URL_PATTERN, source) && source.chars().count() <= URL_LEN {
        let rule = serde_json::json!({"name": "hook", "event": "message.created",
            "actions": [{"type": "webhook", "url": source, "secret": "s"}]});
        let parsed = parse_rule(&rule, |_| true, |_| true);
        assert!(parsed.is_ok(), "pattern admits {source:?}: {parsed:?}");
    }
}

// ---------------------------------------------------------------------------------------
// sla_check: `promptly sla check`
// ---------------------------------------------------------------------------------------

/// A `promptly sla check` document: an answer or a one-line error (no control characters),
/// never a panic; the answer's JSON reads back, with at most one line per target in the
/// documented order.
pub fn sla_check(data: &[u8]) {
    let Some(input) = text(data) else {
        return;
    };
    match run_check(input) {
        Ok(output) => {
            let printed = serde_json::to_string(&output).expect("the output serializes");
            let read: CheckOutput = serde_json::from_str(&printed).expect("the output reads back");
            assert_eq!(read, output);
            let order: Vec<usize> = output
                .metrics
                .iter()
                .map(|m| Metric::ALL.iter().position(|x| *x == m.metric).unwrap())
                .collect();
            assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
        }
        Err(e) => assert!(!e.to_string().chars().any(char::is_control), "{e}"),
    }
}
