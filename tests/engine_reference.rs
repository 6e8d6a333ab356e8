//! The engine against a deliberately naive reference model of the spec: minute by minute,
//! on calendars whose open minutes are written out by hand (in UTC, and across
//! daylight-saving changes in New York and Lord Howe), random conversations (events on whole
//! minutes, some at the same instant, policy changes) and random policies.

use chrono::{DateTime, Datelike, Duration, Timelike, Utc, Weekday};
use promptly::{
    evaluate, Author, BusinessCalendar, ClockState, ConversationStatus, Event, EventKind, Metric,
    Policy, SlaDuration, Target,
};
use proptest::prelude::*;
use support::event_kinds;

mod support;

/// A calendar, the same calendar written out by hand as "is the minute starting at `t`
/// open", and where its conversations begin.
struct Setup {
    calendar: &'static str,
    open: fn(DateTime<Utc>) -> bool,
    t0: &'static str,
}

/// Mon-Fri 09-17 (Tuesday with a lunch break), an overnight window on Saturday, in UTC with
/// a holiday, or in a zone whose daylight-saving change falls inside the overnight window.
const SETUPS: [Setup; 4] = [
    Setup {
        calendar: r#"{"timezone": "UTC",
            "hours": {"mon": ["09:00-17:00"], "tue": ["09:00-12:00", "13:00-17:00"], "wed": ["09:00-17:00"],
                      "thu": ["09:00-17:00"], "fri": ["09:00-17:00"], "sat": ["22:00-02:00"]},
            "holidays": ["2026-11-26"]}"#,
        open: open_utc,
        t0: "2026-11-23T07:00:00Z",
    },
    // Falls back on Sunday 2026-11-01 at 02:00: Saturday's night is 9 hours.
    Setup {
        calendar: NEW_YORK,
        open: open_new_york,
        t0: "2026-10-30T11:00:00Z",
    },
    // Springs forward on Sunday 2026-03-08 at 02:00: Saturday's night is 7 hours.
    Setup {
        calendar: NEW_YORK,
        open: open_new_york,
        t0: "2026-03-06T12:00:00Z",
    },
    // Springs forward half an hour on Sunday 2026-10-04 at 02:00.
    Setup {
        calendar: r#"{"timezone": "Australia/Lord_Howe",
            "hours": {"mon": ["09:00-17:00"], "tue": ["09:00-17:00"], "wed": ["09:00-17:00"],
                      "thu": ["09:00-17:00"], "fri": ["09:00-17:00"], "sat": ["22:00-06:00"]}}"#,
        open: open_lord_howe,
        t0: "2026-10-01T22:00:00Z",
    },
];

const NEW_YORK: &str = r#"{"timezone": "America/New_York",
    "hours": {"mon": ["09:00-17:00"], "tue": ["09:00-17:00"], "wed": ["09:00-17:00"],
              "thu": ["09:00-17:00"], "fri": ["09:00-17:00"], "sat": ["22:00-06:00"]}}"#;

thread_local! {
    static SETUP: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

fn setup() -> &'static Setup {
    &SETUPS[SETUP.with(|s| s.get())]
}

fn calendar() -> BusinessCalendar {
    serde_json::from_str(setup().calendar).unwrap()
}

fn open(t: DateTime<Utc>) -> bool {
    (setup().open)(t)
}

fn open_utc(t: DateTime<Utc>) -> bool {
    let m = t.hour() * 60 + t.minute();
    let date = t.date_naive();
    if date == chrono::NaiveDate::from_ymd_opt(2026, 11, 26).unwrap() {
        return false;
    }
    match t.weekday() {
        Weekday::Mon | Weekday::Wed | Weekday::Thu | Weekday::Fri => (540..1020).contains(&m),
        Weekday::Tue => (540..720).contains(&m) || (780..1020).contains(&m),
        Weekday::Sat => m >= 1320,
        Weekday::Sun => m < 120,
    }
}

/// Open while the local clock reads inside a window: weekdays 09-17, Saturday 22:00 to
/// Sunday 06:00 (a repeated hour counts twice, a skipped one not at all).
fn open_local<Z: chrono::TimeZone>(t: DateTime<Utc>, zone: Z) -> bool {
    let local = t.with_timezone(&zone);
    let m = local.hour() * 60 + local.minute();
    match local.weekday() {
        Weekday::Sat => m >= 1320,
        Weekday::Sun => m < 360,
        _ => (540..1020).contains(&m),
    }
}

fn open_new_york(t: DateTime<Utc>) -> bool {
    open_local(t, chrono_tz::America::New_York)
}

fn open_lord_howe(t: DateTime<Utc>) -> bool {
    open_local(t, chrono_tz::Australia::Lord_Howe)
}

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(setup().t0)
        .unwrap()
        .with_timezone(&Utc)
}

/// Minutes since `t0`.
type Min = i64;

/// Whether business hours count, from each minute on (the first entry from the start).
type Rules = Vec<(Min, bool)>;

fn instant(m: Min) -> DateTime<Utc> {
    t0() + Duration::minutes(m)
}

/// A clock as the set of minutes during which it ran.
#[derive(Clone, Default, Debug)]
struct RefClock {
    start: Min,
    runs: Vec<(Min, Min)>,
    since: Option<Min>,
}

impl RefClock {
    fn start(at: Min) -> Self {
        RefClock {
            start: at,
            runs: vec![],
            since: Some(at),
        }
    }
    fn stop(&mut self, at: Min) {
        if let Some(s) = self.since.take() {
            self.runs.push((s, at));
        }
    }
    fn resume(&mut self, at: Min) {
        if self.since.is_none() {
            self.since = Some(at);
        }
    }
    fn counts(minute: Min, bh: &Rules) -> bool {
        let rule = bh
            .iter()
            .rev()
            .find(|(from, _)| *from <= minute)
            .map_or(bh[0].1, |r| r.1);
        !rule || open(instant(minute))
    }
    /// Counted minutes before `now`, with the running stretch up to `now`.
    fn counted(&self, now: Min, bh: &Rules) -> i64 {
        let mut runs = self.runs.clone();
        if let Some(s) = self.since {
            runs.push((s, now));
        }
        runs.iter()
            .map(|&(a, b)| (a..b.min(now)).filter(|&m| Self::counts(m, bh)).count() as i64)
            .sum()
    }
    /// The first minute at which `target` minutes are counted, the running stretch going
    /// on for ever; `None` when not reached in the past and not running.
    fn deadline(&self, target: i64, bh: &Rules) -> Option<Min> {
        if target == 0 {
            return Some(self.start);
        }
        let mut used = 0;
        for &(a, b) in &self.runs {
            for m in a..b {
                if Self::counts(m, bh) {
                    used += 1;
                    if used == target {
                        return Some(m + 1);
                    }
                }
            }
        }
        let mut m = self.since?;
        loop {
            if Self::counts(m, bh) {
                used += 1;
                if used == target {
                    return Some(m + 1);
                }
            }
            m += 1;
        }
    }
}

/// A finished cycle: its clock, its end, and the target it is judged against (`None`
/// while no policy had one; the first later policy with one sets it).
type Done = (RefClock, Min, Option<i64>);

struct Reference {
    policy: Policy,
    rules: Rules,
    started: bool,
    created: bool,
    awaiting: bool,
    status: Option<ConversationStatus>,
    frt: Option<RefClock>,
    frt_done: Option<Done>,
    nrt: Option<RefClock>,
    nrt_done: Vec<Done>,
    rt: Option<RefClock>,
    rt_resolved: Option<Done>,
}

/// The reference counts durations only; business days are the calendar's own tests'.
fn minutes(d: Option<Target>) -> Option<i64> {
    d.map(|d| d.as_duration().expect("a duration target").as_secs() / 60)
}

impl Reference {
    fn new(policy: Policy) -> Self {
        Reference {
            policy,
            rules: vec![(Min::MIN, policy.business_hours_only)],
            started: false,
            created: false,
            awaiting: false,
            status: None,
            frt: None,
            frt_done: None,
            nrt: None,
            nrt_done: vec![],
            rt: None,
            rt_resolved: None,
        }
    }

    fn sync_rt(&mut self, at: Min) {
        let runs = match self.status {
            Some(ConversationStatus::Open) => true,
            Some(ConversationStatus::Pending) => !self.policy.pause_on.pending,
            Some(ConversationStatus::Snoozed) => !self.policy.pause_on.snoozed,
            _ => false,
        };
        if let Some(rt) = self.rt.as_mut() {
            if runs {
                rt.resume(at);
            } else {
                rt.stop(at);
            }
        }
    }

    fn end_frt(&mut self, at: Min) {
        if self.frt_done.is_none() {
            let mut c = self.frt.clone().unwrap();
            c.stop(at);
            self.frt_done = Some((c, at, minutes(self.policy.first_response)));
        }
    }

    fn end_nrt(&mut self, at: Min) {
        if let Some(mut c) = self.nrt.take() {
            c.stop(at);
            self.nrt_done
                .push((c, at, minutes(self.policy.next_response)));
        }
    }

    fn set_status(&mut self, s: ConversationStatus, at: Min) {
        if self.status == Some(s) {
            return;
        }
        if s == ConversationStatus::Resolved {
            self.end_frt(at);
            self.end_nrt(at);
            let mut rt = self.rt.clone().unwrap();
            rt.stop(at);
            self.rt_resolved = Some((rt, at, minutes(self.policy.resolution)));
        } else {
            self.rt_resolved = None;
        }
        self.status = Some(s);
        self.sync_rt(at);
    }

    fn handle(&mut self, at: Min, kind: &EventKind) {
        match kind {
            EventKind::ApplyPolicy { policy } => {
                self.policy = *policy;
                self.rules.push((at, policy.business_hours_only));
                let fill = |done: &mut Option<i64>, target: Option<Target>| {
                    if done.is_none() {
                        *done = minutes(target);
                    }
                };
                if let Some(d) = self.frt_done.as_mut() {
                    fill(&mut d.2, policy.first_response);
                }
                for d in &mut self.nrt_done {
                    fill(&mut d.2, policy.next_response);
                }
                if let Some(d) = self.rt_resolved.as_mut() {
                    fill(&mut d.2, policy.resolution);
                }
                self.sync_rt(at);
            }
            EventKind::Created { bot } if !self.created => {
                self.created = true;
                if *bot {
                    self.awaiting = true;
                } else {
                    self.begin(at);
                }
            }
            EventKind::Handover if self.awaiting => {
                self.awaiting = false;
                self.begin(at);
            }
            _ if !self.started => {}
            EventKind::Message {
                author: Author::Customer,
                private: false,
            } => {
                self.set_status(ConversationStatus::Open, at);
                if self.frt_done.is_some() && self.nrt.is_none() {
                    self.nrt = Some(RefClock::start(at));
                }
            }
            EventKind::Message {
                author: Author::Agent,
                private: false,
            } => {
                if self.frt_done.is_none() {
                    self.end_frt(at);
                } else {
                    self.end_nrt(at);
                }
            }
            EventKind::Status { status } => self.set_status(*status, at),
            _ => {}
        }
    }

    fn begin(&mut self, at: Min) {
        self.started = true;
        self.status = Some(ConversationStatus::Open);
        self.frt = Some(RefClock::start(at));
        self.rt = Some(RefClock::start(at));
    }
}

/// (state, due minute, remaining seconds, breaches) of one metric.
type Line = (ClockState, Option<Min>, Option<i64>, u32);

fn running(c: &RefClock, target: i64, r: &Reference, now: Min) -> Line {
    let due = c.deadline(target, &r.rules).unwrap();
    let left = (target - c.counted(now, &r.rules)) * 60;
    let threshold = r.policy.warning.seconds_before(target * 60);
    let state = if now > due {
        ClockState::Breached
    } else if left <= threshold {
        ClockState::Warning
    } else {
        ClockState::Ok
    };
    let breaches = u32::from(state == ClockState::Breached);
    (state, Some(due), Some((due - now) * 60), breaches)
}

fn finished(done: &Done, rules: &Rules) -> Line {
    let (c, end, target) = done;
    let target = target.expect("judged");
    let missed = c.deadline(target, rules).is_some_and(|d| *end > d);
    if missed {
        (ClockState::Missed, None, None, 1)
    } else {
        (ClockState::Met, None, None, 0)
    }
}

fn reference(policy: &Policy, events: &[(Min, EventKind)], now: Min) -> Vec<(Metric, Line)> {
    let mut r = Reference::new(*policy);
    for (at, kind) in events {
        if *at > now {
            break;
        }
        r.handle(*at, kind);
    }
    let policy = r.policy;
    let mut out = vec![];
    let not_started: Line = (ClockState::NotStarted, None, None, 0);
    if let Some(target) = minutes(policy.first_response) {
        let line = match (&r.frt, &r.frt_done) {
            (None, _) => not_started,
            (Some(c), None) => running(c, target, &r, now),
            (Some(_), Some(done)) => finished(done, &r.rules),
        };
        out.push((Metric::FirstResponse, line));
    }
    if let Some(target) = minutes(policy.next_response) {
        let missed: u32 = r.nrt_done.iter().map(|d| finished(d, &r.rules).3).sum();
        let line = match (&r.nrt, r.nrt_done.last()) {
            (Some(c), _) => {
                let l = running(c, target, &r, now);
                (l.0, l.1, l.2, l.3 + missed)
            }
            (None, Some(done)) => {
                let l = finished(done, &r.rules);
                (l.0, l.1, l.2, missed)
            }
            (None, None) => not_started,
        };
        out.push((Metric::NextResponse, line));
    }
    if let Some(target) = minutes(policy.resolution) {
        let line = match (&r.rt, &r.rt_resolved) {
            (None, _) => not_started,
            (Some(_), Some(done)) => finished(done, &r.rules),
            (Some(c), None) if c.since.is_some() => running(c, target, &r, now),
            (Some(c), None) => {
                let left = (target - c.counted(now, &r.rules)) * 60;
                let breached = c.deadline(target, &r.rules).is_some_and(|d| now > d);
                (ClockState::Paused, None, Some(left), u32::from(breached))
            }
        };
        out.push((Metric::Resolution, line));
    }
    out
}

fn kinds() -> impl Strategy<Value = EventKind> {
    event_kinds!(
        customer: 5,
        status: 3,
        1 => policies().prop_map(|policy| EventKind::ApplyPolicy { policy }),
    )
}

fn conversations() -> impl Strategy<Value = Vec<(Min, EventKind)>> {
    (
        any::<bool>(),
        prop::collection::vec(
            (prop_oneof![1 => Just(0i64), 4 => 1i64..600], kinds()),
            0..25,
        ),
    )
        .prop_map(|(bot, steps)| {
            let mut at = 0;
            let mut events = vec![(0, EventKind::Created { bot })];
            for (gap, kind) in steps {
                at += gap;
                events.push((at, kind));
            }
            events
        })
}

fn policies() -> impl Strategy<Value = Policy> {
    support::policies(
        vec![0, 1, 15, 30, 60, 120, 480],
        0..120,
        SlaDuration::from_minutes,
    )
}

/// The engine's and the reference's lines at `now`, and the whole minutes around every
/// deadline and warning start the engine reports, where an off-by-one would show.
fn compare(
    policy: &Policy,
    events: &[(Min, EventKind)],
    now: Min,
) -> Result<Vec<Min>, TestCaseError> {
    let calendar = calendar();
    let engine_events: Vec<Event> = events
        .iter()
        .map(|(m, k)| Event::new(instant(*m), k.clone()))
        .collect();
    let state = evaluate(policy, Some(&calendar), &engine_events, instant(now));
    let expected = reference(policy, events, now);
    prop_assert_eq!(state.metrics.len(), expected.len());
    let mut around = vec![];
    for (m, (metric, (st, due, remaining, breaches))) in state.metrics.iter().zip(expected) {
        let context = format!("at minute {now}: {m:?}");
        prop_assert_eq!(m.metric, metric);
        prop_assert_eq!(m.state, st, "{}", context);
        prop_assert_eq!(m.breaches, breaches, "{}", context);
        if st.is_running() {
            prop_assert_eq!(m.due_at, due.map(instant), "{}", context);
            prop_assert_eq!(m.remaining_s, remaining, "{}", context);
        }
        if st == ClockState::Paused {
            prop_assert_eq!(m.remaining_s, remaining, "{}", context);
        }
        for t in [m.due_at, m.warn_at].into_iter().flatten() {
            let minute = (t - t0()).num_seconds().div_euclid(60);
            around.extend([minute - 1, minute, minute + 1]);
        }
    }
    Ok(around.into_iter().filter(|m| *m > now).collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn the_engine_agrees_with_the_minute_by_minute_reference(
        setup in 0..SETUPS.len(),
        policy in policies(),
        events in conversations(),
        wait in 0i64..3 * 1440,
    ) {
        SETUP.with(|s| s.set(setup));
        let now = events.last().unwrap().0 + wait;
        for later in compare(&policy, &events, now)? {
            compare(&policy, &events, later)?;
        }
    }

    /// The same at the instant of every event, when the order within an instant matters.
    #[test]
    fn the_engine_agrees_with_the_reference_at_every_event(
        setup in 0..SETUPS.len(),
        policy in policies(),
        events in conversations(),
    ) {
        SETUP.with(|s| s.set(setup));
        for (at, _) in &events {
            compare(&policy, &events, *at)?;
        }
    }
}
