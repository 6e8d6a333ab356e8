//! The SLA engine: a conversation's events, its policy and a calendar in; each target's state out.
//!
//! The rules, beyond what [`crate::policy`] and [`crate::calendar`] say:
//!
//! - Clocks start at creation, or for a conversation created by a bot at the hand-over
//!   (which also makes it open). Without a `created` event, the first message, status or
//!   hand-over creates the conversation.
//! - Only a public message by a human agent is a response. A private message never responds
//!   nor starts a wait.
//! - First response runs from the start to the first response. Resolving the conversation
//!   ends it too (met or missed by the same deadline rule).
//! - Next response: once first response is over, a customer message with no wait running
//!   starts a cycle (so several messages before a reply are one cycle, from the oldest), and
//!   the next response or resolution ends it.
//! - Resolution runs from the start, stands still in the policy's `pause_on` statuses, stops
//!   at resolved and resumes with the time it had used when the conversation opens again
//!   (a customer message on a resolved, pending or snoozed conversation opens it).
//! - Deadline: the first instant at which the counted time equals the target. A cycle that
//!   ends at or before it is met; a running clock is breached only when `at` is after it, and
//!   warns from the instant its counted time left is at most the warning threshold.
//! - A business-day target ("2bd") is, for each cycle, the counted time from the cycle's start
//!   to the business-day deadline computed from that start
//!   ([`BusinessCalendar::add_business_days`]; counting all time, every day of the calendar's
//!   zone, or UTC, is a business day and open all day: N days later at the same local time).
//!   Pauses and warnings then work on that amount as on a duration. Its deadline is the last
//!   instant with that amount counted, not the first, so that a deadline on an opening
//!   (Tuesday 18:00 + 2bd = Friday 09:00) stays there instead of moving back to the close of
//!   the window before. The counting rule of the policy in force decides the amount.
//! - A policy change (`apply_policy`) keeps every clock's start and used time; running clocks
//!   take the new target and counting rule from then on, finished ones keep their result, and
//!   a target the new policy adds is judged from the conversation's start.
//! - The engine counts whole seconds; events after `at` have not happened yet.

use crate::calendar::{self, BusinessCalendar};
use crate::duration::{badge_text, Target};
use crate::instant::{self, from_whole_second, whole_second, Secs, LATEST};
use crate::policy::Policy;
use crate::timeline::{Author, ConversationStatus, Event, EventKind};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use utoipa::ToSchema;

/// The targets an SLA policy can set, in the order they are reported.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    FirstResponse,
    NextResponse,
    Resolution,
}

impl Metric {
    pub const ALL: [Metric; 3] = [
        Metric::FirstResponse,
        Metric::NextResponse,
        Metric::Resolution,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Metric::FirstResponse => "first_response",
            Metric::NextResponse => "next_response",
            Metric::Resolution => "resolution",
        }
    }
}

/// Where a target's clock stands; decides the badge colour. `not_started`: nothing to count
/// yet; `ok`: running within target; `warning`: running out; `breached`: past its deadline;
/// `paused`: resolution standing still; `met`/`missed`: the last cycle ended at or before /
/// after its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClockState {
    /// Nothing to count yet (no start, or no customer waiting for a next response).
    NotStarted,
    /// Running, within target.
    Ok,
    /// Running out: at most the warning threshold of counted time left.
    Warning,
    /// Running past its deadline.
    Breached,
    /// Resolution standing still (pending or snoozed).
    Paused,
    /// The last cycle ended at or before its deadline.
    Met,
    /// The last cycle ended after its deadline.
    Missed,
}

impl ClockState {
    /// Whether the clock runs, so its deadline matters for sorting and scheduling.
    pub fn is_running(self) -> bool {
        matches!(
            self,
            ClockState::Ok | ClockState::Warning | ClockState::Breached
        )
    }
}

/// One target's state at an instant: what a badge shows and what the scheduler waits for.
///
/// `remaining_s` is wall-clock seconds to `due_at` while running (negative when overdue),
/// counted seconds left while paused, and `null` when not started, met or missed. `text` is
/// the badge text of `remaining_s`, "met" or "missed", or "" when not started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MetricStatus {
    pub metric: Metric,
    pub state: ClockState,
    /// The deadline; `null` when not started or paused (for met/missed: the one judged).
    #[serde(with = "instant::option_rfc3339")]
    pub due_at: Option<DateTime<Utc>>,
    pub remaining_s: Option<i64>,
    /// Cycles of this target that were missed or are breached now.
    pub breaches: u32,
    pub text: String,
    /// The target in counted seconds. For business days, the counted time from the start of
    /// the current or last cycle to its business-day deadline (for a clock not started, of a
    /// cycle starting at the instant evaluated); 0 when that deadline never comes.
    pub target_s: i64,
    /// The start of the current or last cycle.
    #[serde(with = "instant::option_rfc3339")]
    pub started_at: Option<DateTime<Utc>>,
    /// When the running clock turns (or turned) to warning.
    #[serde(with = "instant::option_rfc3339")]
    pub warn_at: Option<DateTime<Utc>>,
    /// When the last cycle ended (met or missed).
    #[serde(with = "instant::option_rfc3339")]
    pub finished_at: Option<DateTime<Utc>>,
    /// Cycles started so far (next response can have many; the others at most one).
    pub cycles: u32,
}

impl MetricStatus {
    /// The running status with the earliest deadline: the one badge to show for a
    /// conversation, and its place in a queue sorted by nearest deadline.
    pub fn most_urgent<'a>(
        statuses: impl IntoIterator<Item = &'a MetricStatus>,
    ) -> Option<&'a MetricStatus> {
        statuses
            .into_iter()
            .filter(|s| s.state.is_running() && s.due_at.is_some())
            .min_by_key(|s| s.due_at)
    }

    /// The instant after `at` at which this status changes by itself, if any: the warning
    /// start, or the second after the deadline (at the deadline itself it is not breached).
    pub fn next_change(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if !self.state.is_running() {
            return None;
        }
        let warn = self.warn_at.filter(|w| *w > at);
        let breach = self
            .due_at
            .map(|d| d + chrono::Duration::seconds(1))
            .filter(|b| *b > at);
        warn.into_iter().chain(breach).min()
    }
}

/// Every target's state of one conversation at one instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SlaState {
    /// The instant evaluated at.
    #[serde(with = "instant::rfc3339")]
    pub at: DateTime<Utc>,
    /// One per target of the policy in force, in the order first response, next response,
    /// resolution.
    pub metrics: Vec<MetricStatus>,
    /// The next instant after `at` at which any state changes by itself.
    #[serde(with = "instant::option_rfc3339")]
    pub next_change: Option<DateTime<Utc>>,
}

impl SlaState {
    pub fn metric(&self, metric: Metric) -> Option<&MetricStatus> {
        self.metrics.iter().find(|m| m.metric == metric)
    }

    /// See [`MetricStatus::most_urgent`].
    pub fn most_urgent(&self) -> Option<&MetricStatus> {
        MetricStatus::most_urgent(&self.metrics)
    }
}

/// The state of every target of a conversation at `at`.
///
/// `policy` is the policy at the start; `apply_policy` events replace it. `calendar` counts
/// open time for a policy with `business_hours_only` (without one, all time counts).
/// Events may come in any order (they are sorted stably by `at`, a `created` event first
/// within its instant); events after `at`, even within its second, have not happened yet.
pub fn evaluate(
    policy: &Policy,
    calendar: Option<&BusinessCalendar>,
    events: &[Event],
    at: DateTime<Utc>,
) -> SlaState {
    let now = whole_second(at);
    let engine = run(policy, calendar, events, at, false);
    let metrics: Vec<MetricStatus> = Metric::ALL
        .into_iter()
        .filter_map(|metric| engine.status(metric, now))
        .collect();
    let at = from_whole_second(now);
    let next_change = metrics.iter().filter_map(|m| m.next_change(at)).min();
    SlaState {
        at,
        metrics,
        next_change,
    }
}

/// The engine after the events up to `at` (in order: sorted stably by `at`, a `created`
/// event first within its instant), tracing next-response cycles when `trace`.
fn run<'a>(
    policy: &Policy,
    calendar: Option<&'a BusinessCalendar>,
    events: &[Event],
    at: DateTime<Utc>,
    trace: bool,
) -> Engine<'a> {
    let events: Cow<[Event]> = if events.is_sorted_by_key(Event::order_key) {
        Cow::Borrowed(events)
    } else {
        let mut sorted = events.to_vec();
        sorted.sort_by_key(Event::order_key);
        Cow::Owned(sorted)
    };
    let mut engine = Engine::new(*policy, Counter { calendar });
    if trace {
        engine.trace = Some(Vec::new());
    }
    for event in events.iter() {
        if event.at > at {
            break;
        }
        engine.handle(event);
    }
    engine
}

/// The next instant after `at` at which any target's state changes (a warning starts or a
/// deadline passes), for the server's scheduler and the browser's badge timers.
pub fn next_change(
    policy: &Policy,
    calendar: Option<&BusinessCalendar>,
    events: &[Event],
    at: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    evaluate(policy, calendar, events, at).next_change
}

/// One cycle of a target's clock measured without a target, so that it can be judged under
/// any (a what-if). `used_s`: counted seconds from the cycle's start to its end, or to the
/// instant evaluated while it runs or stands still. `need_s`: the smallest target the cycle
/// meets when finished, or has not yet breached while running (the engine's deadline rule:
/// a cycle ending at or before the first instant its counted time equals the target is met).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cycle {
    pub metric: Metric,
    /// When the cycle started (a business-day target's amount is counted from here).
    pub started_at: DateTime<Utc>,
    pub finished: bool,
    pub used_s: i64,
    pub need_s: i64,
}

/// A cycle's outcome under one target, as [`evaluate`] would give it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Judgement {
    Met,
    Missed,
    /// Running (or standing still) past its deadline: it can no longer be met.
    Breached,
    /// Running within target.
    Open,
}

impl Cycle {
    fn finished(metric: Metric, f: &Finished) -> Cycle {
        Cycle {
            metric,
            started_at: from_whole_second(f.started_at),
            finished: true,
            used_s: f.used,
            need_s: f.need,
        }
    }

    fn running(metric: Metric, clock: &Clock, now: Secs, counter: Counter) -> Cycle {
        let (used_s, need_s) = clock.measure(now, counter);
        Cycle {
            metric,
            started_at: from_whole_second(clock.started_at),
            finished: false,
            used_s,
            need_s,
        }
    }

    /// This cycle's target under `policy` (counting on `calendar`), if it has one: a
    /// duration as it is, business days as the counted time from this cycle's start to
    /// their deadline.
    pub fn target(
        &self,
        policy: &Policy,
        calendar: Option<&BusinessCalendar>,
    ) -> Option<CycleTarget> {
        let target = policy.target(self.metric)?;
        Some(CycleTarget::new(
            target,
            whole_second(self.started_at),
            policy.business_hours_only,
            Counter { calendar },
        ))
    }

    /// The outcome under `target`. A duration's deadline is the first instant its amount is
    /// counted (met when the cycle needed at most the amount); a business day's is the last
    /// (met when it used at most the amount); a deadline that never comes is never missed.
    pub fn judge(&self, target: CycleTarget) -> Judgement {
        let over = match target.secs {
            None => false,
            Some(secs) if target.business_days => self.used_s > secs,
            Some(secs) => self.need_s > secs,
        };
        match (self.finished, over) {
            (true, false) => Judgement::Met,
            (true, true) => Judgement::Missed,
            (false, true) => Judgement::Breached,
            (false, false) => Judgement::Open,
        }
    }

    /// Whether the cycle reached its warning (at most `threshold_s` of the target left)
    /// before it ended, or by now while it runs.
    pub fn warned(&self, target: CycleTarget, warning: crate::policy::WarningThreshold) -> bool {
        let Some(secs) = target.secs else {
            return false;
        };
        let counted = if self.finished {
            // Counted time in the cycle's last second before its end.
            self.need_s - 1
        } else {
            self.used_s
        };
        counted >= secs - warning.seconds_before(secs)
    }
}

/// Every clock cycle of a conversation up to `at`, measured without judging them: first
/// response and resolution at most once each, next response once per cycle, in that order.
/// The cycles depend on the policy's counting rules (`business_hours_only`, `pause_on`), not
/// on its targets; `apply_policy` events change the rules as they do in [`evaluate`].
pub fn cycles(
    policy: &Policy,
    calendar: Option<&BusinessCalendar>,
    events: &[Event],
    at: DateTime<Utc>,
) -> Vec<Cycle> {
    let now = whole_second(at);
    let mut engine = run(policy, calendar, events, at, true);
    let counter = engine.counter;
    let mut out = Vec::new();
    match &engine.first_response {
        FirstResponse::Waiting => {}
        FirstResponse::Running(clock) => {
            out.push(Cycle::running(Metric::FirstResponse, clock, now, counter))
        }
        FirstResponse::Done(f) => out.push(Cycle::finished(Metric::FirstResponse, f)),
    }
    out.extend(engine.trace.take().unwrap_or_default());
    if let Some(clock) = &engine.next_response {
        out.push(Cycle::running(Metric::NextResponse, clock, now, counter));
    }
    match (&engine.resolution, &engine.resolved) {
        (_, Some(f)) => out.push(Cycle::finished(Metric::Resolution, f)),
        (Some(clock), None) => out.push(Cycle::running(Metric::Resolution, clock, now, counter)),
        (None, None) => {}
    }
    out
}

/// Counts time the way a policy says: open time of the calendar, or all time.
#[derive(Clone, Copy)]
struct Counter<'a> {
    calendar: Option<&'a BusinessCalendar>,
}

impl Counter<'_> {
    fn counted(self, from: Secs, to: Secs, business_hours: bool) -> i64 {
        match self.calendar {
            Some(calendar) if business_hours => calendar.open_secs_between(from, to),
            _ => (to - from).max(0),
        }
    }

    /// The instant at which `secs` more are counted from `from`; `None` if never, or after
    /// [`LATEST`] (the year 9999, as the calendar's deadlines).
    fn add(self, from: Secs, secs: i64, business_hours: bool) -> Option<Secs> {
        match self.calendar {
            Some(calendar) if business_hours => calendar.add_open_secs(from, secs),
            _ => Some(from + secs.max(0)).filter(|t| *t <= LATEST),
        }
    }

    /// The deadline of `days` business days from `from`: the calendar's, or, when all time
    /// counts, that many days later at the same local time in the calendar's zone (UTC
    /// without a calendar).
    fn add_business_days(self, from: Secs, days: u16, business_hours: bool) -> Option<Secs> {
        match self.calendar {
            Some(calendar) if business_hours => calendar.add_business_days_secs(from, days),
            calendar => {
                let zone = calendar.map_or(chrono_tz::UTC, BusinessCalendar::time_zone);
                calendar::add_days_in_zone(zone, from, days)
            }
        }
    }
}

/// A policy's target as one cycle counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CycleTarget {
    /// Counted seconds; `None` when a business-day deadline never comes.
    pub secs: Option<i64>,
    /// A business-day target: due at the last instant with `secs` counted (an open moment).
    pub business_days: bool,
}

impl CycleTarget {
    /// `target` for a cycle that started at `started_at`, counted under `business_hours`.
    fn new(target: Target, started_at: Secs, business_hours: bool, counter: Counter) -> Self {
        match target {
            Target::Counted(d) => CycleTarget {
                secs: Some(d.as_secs()),
                business_days: false,
            },
            Target::BusinessDays(days) => CycleTarget {
                secs: counter
                    .add_business_days(started_at, days, business_hours)
                    .map(|due| counter.counted(started_at, due, business_hours)),
                business_days: true,
            },
        }
    }

    /// The deadline of `clock`; `None` if it has not and will not come while it is stopped.
    fn due(self, clock: &Clock, counter: Counter) -> Option<Secs> {
        let secs = self.secs?;
        if self.business_days {
            // The second before the one that counts past the amount: the open moment
            // the business days end at, even when it is an opening.
            clock.reaches(secs + 1, counter).map(|t| t - 1)
        } else {
            clock.reaches(secs, counter)
        }
    }
}

/// A stretch during which a clock ran under one counting rule.
#[derive(Debug, Clone)]
struct Segment {
    from: Secs,
    to: Secs,
    used_before: i64,
    used_after: i64,
    business_hours: bool,
}

/// Counted time of one cycle: closed segments plus the one running now, if any.
#[derive(Debug, Clone)]
struct Clock {
    started_at: Secs,
    /// Counted seconds in the closed segments.
    used: i64,
    /// Since when, and under which counting rule, the clock runs.
    running: Option<(Secs, bool)>,
    /// Closed segments, kept to find when a past amount of counted time was reached (a
    /// policy change may lower a target below the time already used).
    history: Vec<Segment>,
}

impl Clock {
    fn start(at: Secs, business_hours: bool) -> Clock {
        Clock {
            started_at: at,
            used: 0,
            running: Some((at, business_hours)),
            history: Vec::new(),
        }
    }

    fn stop(&mut self, at: Secs, counter: Counter) {
        if let Some((since, business_hours)) = self.running.take() {
            let counted = counter.counted(since, at, business_hours);
            self.history.push(Segment {
                from: since,
                to: at,
                used_before: self.used,
                used_after: self.used + counted,
                business_hours,
            });
            self.used += counted;
        }
    }

    fn resume(&mut self, at: Secs, business_hours: bool) {
        if self.running.is_none() {
            self.running = Some((at, business_hours));
        }
    }

    fn set_counting(&mut self, at: Secs, business_hours: bool, counter: Counter) {
        if matches!(self.running, Some((_, rule)) if rule != business_hours) {
            self.stop(at, counter);
            self.resume(at, business_hours);
        }
    }

    /// Counted seconds in `[started_at, t)`.
    fn counted_until(&self, t: Secs, counter: Counter) -> i64 {
        let closed: i64 = self
            .history
            .iter()
            .map(|s| {
                if s.to <= t {
                    s.used_after - s.used_before
                } else {
                    counter.counted(s.from, t, s.business_hours)
                }
            })
            .sum();
        let running = match self.running {
            Some((since, business_hours)) => counter.counted(since, t, business_hours),
            None => 0,
        };
        closed + running
    }

    /// What a cycle of this clock ending (or judged) at `at` used and needed: see [`Cycle`].
    fn measure(&self, at: Secs, counter: Counter) -> (i64, i64) {
        let used = self.counted_until(at, counter);
        let need = if at <= self.started_at {
            0
        } else {
            self.counted_until(at - 1, counter) + 1
        };
        (used, need)
    }

    /// The first instant at which the counted time reached (or will reach) `amount`;
    /// `None` if it has not and will not while stopped (or the calendar never opens again).
    fn reaches(&self, amount: i64, counter: Counter) -> Option<Secs> {
        if amount <= 0 {
            return Some(self.started_at);
        }
        if let Some(s) = self.history.iter().find(|s| s.used_after >= amount) {
            return counter.add(s.from, amount - s.used_before, s.business_hours);
        }
        let (since, business_hours) = self.running?;
        counter.add(since, amount - self.used, business_hours)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Met,
    Missed,
}

/// A cycle that ended; judged against the target in force then, or later against a target a
/// new policy adds (the clock is kept until then).
#[derive(Debug, Clone)]
struct Finished {
    started_at: Secs,
    finished_at: Secs,
    /// What the cycle used and needed (see [`Cycle`]).
    used: i64,
    need: i64,
    due: Option<Secs>,
    outcome: Option<Outcome>,
    unjudged: Option<Clock>,
}

impl Finished {
    fn judge(&mut self, due: impl FnOnce(&Clock) -> Option<Secs>) {
        if let Some(clock) = self.unjudged.take() {
            self.set_outcome(due(&clock));
        }
    }

    fn set_outcome(&mut self, due: Option<Secs>) {
        self.due = due;
        // A deadline that never comes cannot be missed.
        self.outcome = Some(if due.is_none_or(|d| self.finished_at <= d) {
            Outcome::Met
        } else {
            Outcome::Missed
        });
    }
}

enum FirstResponse {
    Waiting,
    Running(Clock),
    Done(Finished),
}

struct Engine<'a> {
    policy: Policy,
    counter: Counter<'a>,
    created: bool,
    awaiting_handover: bool,
    started: bool,
    status: ConversationStatus,
    first_response: FirstResponse,
    /// The running next-response cycle.
    next_response: Option<Clock>,
    next_last: Option<Finished>,
    next_cycles: u32,
    next_missed: u32,
    /// Cycles that ended while the policy had no next-response target.
    next_unjudged: Vec<Finished>,
    resolution: Option<Clock>,
    resolved: Option<Finished>,
    /// Every finished next-response cycle, when [`cycles`] asks for them.
    trace: Option<Vec<Cycle>>,
}

impl<'a> Engine<'a> {
    fn new(policy: Policy, counter: Counter<'a>) -> Self {
        Engine {
            policy,
            counter,
            created: false,
            awaiting_handover: false,
            started: false,
            status: ConversationStatus::Open,
            first_response: FirstResponse::Waiting,
            next_response: None,
            next_last: None,
            next_cycles: 0,
            next_missed: 0,
            next_unjudged: Vec::new(),
            resolution: None,
            resolved: None,
            trace: None,
        }
    }

    fn handle(&mut self, event: &Event) {
        let at = whole_second(event.at);
        let creates = matches!(
            event.kind,
            EventKind::Message { .. } | EventKind::Status { .. } | EventKind::Handover
        );
        if !self.created && creates {
            self.created = true;
            self.start(at);
        }
        match event.kind {
            EventKind::Created { bot } if !self.created => {
                self.created = true;
                if bot {
                    self.awaiting_handover = true;
                } else {
                    self.start(at);
                }
            }
            EventKind::Handover if self.awaiting_handover => {
                self.awaiting_handover = false;
                self.start(at);
            }
            EventKind::Message {
                author: Author::Customer,
                private: false,
            } if self.started => {
                self.set_status(ConversationStatus::Open, at);
                let first_over = matches!(self.first_response, FirstResponse::Done(_));
                if first_over && self.next_response.is_none() {
                    self.next_cycles += 1;
                    self.next_response = Some(Clock::start(at, self.policy.business_hours_only));
                }
            }
            EventKind::Message {
                author: Author::Agent,
                private: false,
            } if self.started => self.respond(at),
            EventKind::Status { status } if self.started => self.set_status(status, at),
            EventKind::ApplyPolicy { policy } => self.apply_policy(policy, at),
            _ => {}
        }
    }

    fn start(&mut self, at: Secs) {
        self.started = true;
        self.status = ConversationStatus::Open;
        let business_hours = self.policy.business_hours_only;
        self.first_response = FirstResponse::Running(Clock::start(at, business_hours));
        self.resolution = Some(Clock::start(at, business_hours));
    }

    /// Ends a cycle at `at`, judged now if the policy has a target for it.
    ///
    /// A cycle ended while the policy has no target keeps its clock as it ran at the end (not
    /// stopped, like resolution's): judged later, its deadline is the one it would have had
    /// then, reported as `due_at` whether met or missed.
    fn finish(&self, clock: Clock, at: Secs, metric: Metric) -> Finished {
        let (used, need) = clock.measure(at, self.counter);
        let mut finished = Finished {
            started_at: clock.started_at,
            finished_at: at,
            used,
            need,
            due: None,
            outcome: None,
            unjudged: None,
        };
        match self.policy.target(metric) {
            Some(target) => finished.set_outcome(
                self.cycle(target, clock.started_at)
                    .due(&clock, self.counter),
            ),
            None => finished.unjudged = Some(clock),
        }
        finished
    }

    /// `target` for a cycle that started at `started_at`, under the policy in force.
    fn cycle(&self, target: Target, started_at: Secs) -> CycleTarget {
        CycleTarget::new(
            target,
            started_at,
            self.policy.business_hours_only,
            self.counter,
        )
    }

    /// Ends the running first-response or next-response wait at `at`.
    fn respond(&mut self, at: Secs) {
        match std::mem::replace(&mut self.first_response, FirstResponse::Waiting) {
            FirstResponse::Running(clock) => {
                self.first_response =
                    FirstResponse::Done(self.finish(clock, at, Metric::FirstResponse));
            }
            other => {
                self.first_response = other;
                if let Some(clock) = self.next_response.take() {
                    let finished = self.finish(clock, at, Metric::NextResponse);
                    self.record_next(finished);
                }
            }
        }
    }

    fn record_next(&mut self, finished: Finished) {
        if let Some(trace) = &mut self.trace {
            trace.push(Cycle::finished(Metric::NextResponse, &finished));
        }
        if finished.outcome == Some(Outcome::Missed) {
            self.next_missed += 1;
        }
        if finished.unjudged.is_some() {
            self.next_unjudged.push(finished.clone());
        }
        self.next_last = Some(finished);
    }

    fn set_status(&mut self, status: ConversationStatus, at: Secs) {
        if status == self.status {
            return;
        }
        if status == ConversationStatus::Resolved {
            self.respond_by_resolving(at);
        } else if self.status == ConversationStatus::Resolved {
            self.resolved = None;
        }
        self.status = status;
        self.sync_resolution(at);
    }

    /// Resolving fulfils the waits for a reply and stops the resolution clock.
    fn respond_by_resolving(&mut self, at: Secs) {
        if matches!(self.first_response, FirstResponse::Running(_)) {
            self.respond(at);
        }
        if let Some(clock) = self.next_response.take() {
            let finished = self.finish(clock, at, Metric::NextResponse);
            self.record_next(finished);
        }
        if let Some(clock) = &self.resolution {
            self.resolved = Some(self.finish(clock.clone(), at, Metric::Resolution));
        }
    }

    /// Runs or stops the resolution clock as the status and the policy's pauses say.
    fn sync_resolution(&mut self, at: Secs) {
        let runs = match self.status {
            ConversationStatus::Open => true,
            ConversationStatus::Pending => !self.policy.pause_on.pending,
            ConversationStatus::Snoozed => !self.policy.pause_on.snoozed,
            ConversationStatus::Resolved => false,
        };
        let business_hours = self.policy.business_hours_only;
        if let Some(clock) = &mut self.resolution {
            if runs {
                clock.resume(at, business_hours);
            } else {
                clock.stop(at, self.counter);
            }
        }
    }

    fn apply_policy(&mut self, policy: Policy, at: Secs) {
        self.policy = policy;
        let (business_hours, counter) = (policy.business_hours_only, self.counter);
        if let FirstResponse::Running(clock) = &mut self.first_response {
            clock.set_counting(at, business_hours, counter);
        }
        for clock in self
            .next_response
            .iter_mut()
            .chain(self.resolution.iter_mut())
        {
            clock.set_counting(at, business_hours, counter);
        }
        if self.started {
            self.sync_resolution(at);
        }
        // A target the new policy adds judges a finished cycle from that cycle's start.
        let due = |target: Target| {
            move |clock: &Clock| {
                CycleTarget::new(target, clock.started_at, business_hours, counter)
                    .due(clock, counter)
            }
        };
        if let (Some(target), FirstResponse::Done(finished)) =
            (policy.first_response, &mut self.first_response)
        {
            finished.judge(due(target));
        }
        if let Some(target) = policy.next_response {
            for finished in &mut self.next_unjudged {
                finished.judge(due(target));
                if finished.outcome == Some(Outcome::Missed) {
                    self.next_missed += 1;
                }
            }
            if let Some(last) = &mut self.next_last {
                if last.outcome.is_none() {
                    *last = self.next_unjudged.last().cloned().unwrap_or(last.clone());
                }
            }
            self.next_unjudged.clear();
        }
        if let (Some(target), Some(finished)) = (policy.resolution, &mut self.resolved) {
            finished.judge(due(target));
        }
    }

    /// The status of `metric` at `now`, or `None` when the policy has no such target.
    fn status(&self, metric: Metric, now: Secs) -> Option<MetricStatus> {
        let target = self.policy.target(metric)?;
        let mut status = MetricStatus {
            metric,
            state: ClockState::NotStarted,
            due_at: None,
            remaining_s: None,
            breaches: 0,
            text: String::new(),
            target_s: 0,
            started_at: None,
            warn_at: None,
            finished_at: None,
            cycles: 0,
        };
        match metric {
            Metric::FirstResponse => match &self.first_response {
                FirstResponse::Waiting => {}
                FirstResponse::Running(clock) => self.running(&mut status, clock, now, target),
                FirstResponse::Done(finished) => self.finished(&mut status, finished, target),
            },
            Metric::NextResponse => {
                if let Some(clock) = &self.next_response {
                    self.running(&mut status, clock, now, target);
                } else if let Some(finished) = &self.next_last {
                    self.finished(&mut status, finished, target);
                }
                // Each missed cycle once, plus the running one if it is breached now.
                status.breaches =
                    self.next_missed + u32::from(status.state == ClockState::Breached);
                status.cycles = self.next_cycles;
            }
            Metric::Resolution => match (&self.resolution, &self.resolved) {
                (_, Some(finished)) => self.finished(&mut status, finished, target),
                (Some(clock), None) if clock.running.is_some() => {
                    self.running(&mut status, clock, now, target);
                }
                (Some(clock), None) => self.paused(&mut status, clock, now, target),
                (None, None) => {}
            },
        }
        if status.started_at.is_none() {
            // Not started: for business days, the amount of a cycle starting now.
            status.target_s = self.cycle(target, now).secs.unwrap_or(0);
        }
        Some(status)
    }

    fn running(&self, status: &mut MetricStatus, clock: &Clock, now: Secs, target: Target) {
        let cycle = self.cycle(target, clock.started_at);
        status.target_s = cycle.secs.unwrap_or(0);
        let due = cycle.due(clock, self.counter);
        let warn_at = match cycle.secs {
            Some(secs) => match self.policy.warning.seconds_before(secs) {
                // No warning before the deadline: warned from the deadline on.
                0 => due,
                threshold => clock.reaches(secs - threshold, self.counter),
            },
            None => None,
        };
        status.state = if due.is_some_and(|d| now > d) {
            status.breaches = 1;
            ClockState::Breached
        } else if warn_at.is_some_and(|w| now >= w) {
            ClockState::Warning
        } else {
            ClockState::Ok
        };
        status.due_at = due.map(from_whole_second);
        status.warn_at = warn_at.map(from_whole_second);
        status.remaining_s = due.map(|d| d - now);
        status.text = status.remaining_s.map(badge_text).unwrap_or_default();
        status.started_at = Some(from_whole_second(clock.started_at));
        status.cycles = 1;
    }

    fn paused(&self, status: &mut MetricStatus, clock: &Clock, now: Secs, target: Target) {
        let cycle = self.cycle(target, clock.started_at);
        status.target_s = cycle.secs.unwrap_or(0);
        let left = cycle.secs.map(|secs| secs - clock.used);
        status.state = ClockState::Paused;
        status.remaining_s = left;
        status.text = left.map(badge_text).unwrap_or_default();
        status.started_at = Some(from_whole_second(clock.started_at));
        status.cycles = 1;
        if cycle.due(clock, self.counter).is_some_and(|d| now > d) {
            status.breaches = 1;
        }
    }

    fn finished(&self, status: &mut MetricStatus, finished: &Finished, target: Target) {
        status.target_s = self.cycle(target, finished.started_at).secs.unwrap_or(0);
        let (state, text, breaches) = match finished.outcome {
            Some(Outcome::Missed) => (ClockState::Missed, "missed", 1),
            _ => (ClockState::Met, "met", 0),
        };
        status.state = state;
        status.text = text.to_string();
        status.breaches = breaches;
        status.due_at = finished.due.map(from_whole_second);
        status.started_at = Some(from_whole_second(finished.started_at));
        status.finished_at = Some(from_whole_second(finished.finished_at));
        status.cycles = 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instant::{format_utc, parse_rfc3339};
    use ClockState::*;
    use Metric::*;

    /// "10:30" on Wednesday 2026-11-18 UTC, "10:30:15", or a full RFC 3339 timestamp.
    fn t(text: &str) -> DateTime<Utc> {
        if text.len() <= 8 {
            let text = if text.len() == 5 {
                format!("{text}:00")
            } else {
                text.to_string()
            };
            parse_rfc3339(&format!("2026-11-18T{text}Z")).unwrap()
        } else {
            parse_rfc3339(text).unwrap()
        }
    }

    fn policy(json: &str) -> Policy {
        serde_json::from_str(json).unwrap()
    }

    /// A timeline written one event per `;`: "<time> <what>", where what is created,
    /// created-bot, customer, agent, note (private agent), bot, system, handover,
    /// status <status>, or policy <json>.
    fn timeline(spec: &str) -> Vec<Event> {
        spec.split(';')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|item| {
                let (when, what) = item.split_once(' ').unwrap();
                let at = t(when);
                let (word, rest) = what.split_once(' ').unwrap_or((what, ""));
                match word {
                    "created" => Event::created(at),
                    "created-bot" => Event::created_by_bot(at),
                    "customer" => Event::message(at, Author::Customer),
                    "agent" => Event::message(at, Author::Agent),
                    "note" => Event::private_note(at),
                    "bot" => Event::message(at, Author::Bot),
                    "system" => Event::message(at, Author::System),
                    "handover" => Event::handover(at),
                    "status" => {
                        Event::status(at, serde_json::from_str(&format!("\"{rest}\"")).unwrap())
                    }
                    "policy" => Event::apply_policy(at, policy(rest)),
                    other => panic!("unknown test event {other}"),
                }
            })
            .collect()
    }

    fn run(policy_json: &str, events: &str, at: &str) -> SlaState {
        evaluate(&policy(policy_json), None, &timeline(events), t(at))
    }

    fn metric(state: &SlaState, metric: Metric) -> MetricStatus {
        state
            .metric(metric)
            .cloned()
            .unwrap_or_else(|| panic!("no {metric:?} in {state:?}"))
    }

    fn time(t: Option<DateTime<Utc>>) -> String {
        t.map(format_utc).unwrap_or_default()
    }

    /// One clock of a run.
    fn run_metric(policy_json: &str, events: &str, at: &str, which: Metric) -> MetricStatus {
        metric(&run(policy_json, events, at), which)
    }

    /// The resolution clock of a run under a one-hour resolution target.
    fn resolution_1h(events: &str, at: &str) -> MetricStatus {
        run_metric(r#"{"resolution": "1h"}"#, events, at, Resolution)
    }

    /// The first-response state of a run.
    fn frt_state(policy_json: &str, events: &str, at: &str) -> ClockState {
        run_metric(policy_json, events, at, FirstResponse).state
    }

    /// Asserts a clock's state and its deadline (RFC 3339, "" for none).
    #[track_caller]
    fn assert_state_due(s: &MetricStatus, state: ClockState, due: &str) {
        assert_eq!((s.state, time(s.due_at).as_str()), (state, due));
    }

    const FRT_30M: &str = r#"{"first_response": "30m"}"#;

    #[test]
    fn first_response_runs_warns_and_breaches_at_the_exact_boundaries() {
        let events = "10:00 created; 10:00 customer";
        for (at, state, remaining, text, breaches) in [
            ("10:10", Ok, 1200, "20m", 0),
            ("10:22:29", Ok, 451, "7m", 0),
            // 25% of 30m is 7m30s: the warning starts at 10:22:30.
            ("10:22:30", Warning, 450, "7m", 0),
            // At the deadline itself the clock is not breached.
            ("10:30", Warning, 0, "0s", 0),
            ("10:30:01", Breached, -1, "-1s", 1),
            ("10:35", Breached, -300, "-5m", 1),
        ] {
            let s = run_metric(FRT_30M, events, at, FirstResponse);
            assert_eq!(
                (s.state, s.remaining_s, s.text.as_str(), s.breaches),
                (state, Some(remaining), text, breaches),
                "at {at}"
            );
            assert_eq!(time(s.due_at), "2026-11-18T10:30:00Z");
            assert_eq!(time(s.warn_at), "2026-11-18T10:22:30Z");
            assert_eq!(time(s.started_at), "2026-11-18T10:00:00Z");
        }
    }

    #[test]
    fn a_response_at_the_deadline_is_met_and_a_second_later_missed() {
        let met = run_metric(
            FRT_30M,
            "10:00 created; 10:30 agent",
            "11:00",
            FirstResponse,
        );
        assert_eq!(
            (met.state, met.breaches, met.text.as_str()),
            (Met, 0, "met")
        );
        assert_eq!(met.remaining_s, None);
        assert_eq!(time(met.due_at), "2026-11-18T10:30:00Z");
        assert_eq!(time(met.finished_at), "2026-11-18T10:30:00Z");
        let missed = run_metric(
            FRT_30M,
            "10:00 created; 10:30:01 agent",
            "11:00",
            FirstResponse,
        );
        assert_eq!(
            (missed.state, missed.breaches, missed.text.as_str()),
            (Missed, 1, "missed")
        );
    }

    #[test]
    fn a_fixed_warning_threshold_is_counted_time_before_the_deadline() {
        let p = r#"{"first_response": "30m", "warning": "5m"}"#;
        let s = run_metric(p, "10:00 created", "10:24:59", FirstResponse);
        assert_eq!(
            (s.state, time(s.warn_at).as_str()),
            (Ok, "2026-11-18T10:25:00Z")
        );
        assert_eq!(frt_state(p, "10:00 created", "10:25"), Warning);
        // "0%" warns only at the deadline itself, where nothing is left.
        let none = r#"{"first_response": "30m", "warning": "0%"}"#;
        assert_eq!(frt_state(none, "10:00 created", "10:29:59"), Ok);
        assert_eq!(frt_state(none, "10:00 created", "10:30"), Warning);
    }

    #[test]
    fn only_a_public_message_by_a_human_agent_responds() {
        let events = "10:00 created; 10:01 customer; 10:02 note; 10:03 bot; 10:04 system";
        let s = run_metric(FRT_30M, events, "10:10", FirstResponse);
        assert_eq!(s.state, Ok);
        let s = metric(
            &run(FRT_30M, &format!("{events}; 10:05 agent"), "10:10"),
            FirstResponse,
        );
        assert_eq!(s.state, Met);
    }

    #[test]
    fn a_bot_conversation_starts_its_clocks_at_the_handover() {
        let p = r#"{"first_response": "30m", "next_response": "10m", "resolution": "2h"}"#;
        let events = "10:00 created-bot; 10:00 customer; 10:01 bot; 10:02 customer; 10:02 agent";
        let before = run(p, events, "10:04");
        for m in &before.metrics {
            assert_eq!(m.state, NotStarted, "{m:?}");
            assert_eq!((m.due_at, m.remaining_s, m.text.as_str()), (None, None, ""));
        }
        assert_eq!(before.next_change, None);
        let after = run(p, &format!("{events}; 10:05 handover"), "10:10");
        let frt = metric(&after, FirstResponse);
        assert_eq!(
            (frt.state, time(frt.due_at).as_str()),
            (Ok, "2026-11-18T10:35:00Z")
        );
        assert_eq!(
            time(metric(&after, Resolution).due_at),
            "2026-11-18T12:05:00Z"
        );
        // Customer messages before the hand-over start no next-response cycle.
        let replied = run(
            p,
            &format!("{events}; 10:05 handover; 10:06 agent"),
            "10:30",
        );
        assert_eq!(metric(&replied, FirstResponse).state, Met);
        assert_eq!(metric(&replied, NextResponse).state, NotStarted);
    }

    #[test]
    fn next_response_counts_each_wait_once_from_its_oldest_message() {
        let p = r#"{"next_response": "10m"}"#;
        let mut events = String::from("10:00 created; 10:00 customer; 10:05 agent");
        // Three messages, one late reply: one cycle from 10:10, missed once.
        events += "; 10:10 customer; 10:12 customer; 10:15 customer; 10:25 agent";
        let s = run_metric(p, &events, "10:26", NextResponse);
        assert_eq!((s.state, s.breaches, s.cycles), (Missed, 1, 1));
        assert_eq!(time(s.started_at), "2026-11-18T10:10:00Z");
        assert_eq!(time(s.due_at), "2026-11-18T10:20:00Z");
        // A second cycle answered in time.
        events += "; 10:30 customer; 10:35 agent";
        let s = run_metric(p, &events, "10:36", NextResponse);
        assert_eq!((s.state, s.breaches, s.cycles), (Met, 1, 2));
        // A third, running and breached now: counted with the earlier miss.
        events += "; 10:40 customer";
        let s = run_metric(p, &events, "10:55", NextResponse);
        assert_eq!((s.state, s.breaches, s.cycles), (Breached, 2, 3));
        assert_eq!((s.remaining_s, s.text.as_str()), (Some(-300), "-5m"));
        // Before its deadline the running cycle adds nothing.
        let s = run_metric(p, &events, "10:45", NextResponse);
        assert_eq!((s.state, s.breaches), (Ok, 1));
    }

    #[test]
    fn resolution_pauses_in_pending_and_snoozed_and_resumes_with_the_time_used() {
        let events = "10:00 created; 10:20 status pending";
        let s = resolution_1h(events, "11:00");
        assert_eq!(
            (s.state, s.due_at, s.remaining_s),
            (Paused, None, Some(2400))
        );
        assert_eq!((s.text.as_str(), s.breaches), ("40m", 0));
        // The customer's message opens it again: 20 minutes used, 40 to go.
        let events = format!("{events}; 11:00 customer");
        let s = resolution_1h(&events, "11:10");
        assert_state_due(&s, Ok, "2026-11-18T11:40:00Z");
        let events = format!("{events}; 11:10 status snoozed; 11:20 status open");
        let s = resolution_1h(&events, "11:30");
        assert_eq!(time(s.due_at), "2026-11-18T11:50:00Z");
        // With pause_on ["snoozed"], pending does not pause.
        let only_snoozed = r#"{"resolution": "1h", "pause_on": ["snoozed"]}"#;
        let s = run_metric(
            only_snoozed,
            "10:00 created; 10:20 status pending",
            "10:30",
            Resolution,
        );
        assert_state_due(&s, Ok, "2026-11-18T11:00:00Z");
    }

    #[test]
    fn a_paused_clock_past_its_target_counts_as_a_breach() {
        let p = r#"{"resolution": "30m"}"#;
        let s = run_metric(
            p,
            "10:00 created; 10:40 status pending",
            "11:00",
            Resolution,
        );
        assert_eq!(
            (s.state, s.remaining_s, s.text.as_str()),
            (Paused, Some(-600), "-10m")
        );
        assert_eq!(s.breaches, 1);
        assert_eq!(s.next_change(t("11:00")), None);
    }

    #[test]
    fn resolving_stops_resolution_and_reopening_resumes_it() {
        let events = "10:00 created; 10:30 status resolved";
        let s = resolution_1h(events, "11:00");
        assert_eq!(
            (s.state, time(s.finished_at).as_str()),
            (Met, "2026-11-18T10:30:00Z")
        );
        let events = format!("{events}; 12:00 customer");
        let s = resolution_1h(&events, "12:10");
        assert_state_due(&s, Ok, "2026-11-18T12:30:00Z");
        let events = format!("{events}; 13:00 status resolved");
        let s = resolution_1h(&events, "13:05");
        assert_eq!((s.state, s.breaches), (Missed, 1));
        // Reopened while already late: breached at once, still one breach for the cycle.
        let events = format!("{events}; 14:00 status open");
        let s = resolution_1h(&events, "14:01");
        assert_eq!((s.state, s.breaches), (Breached, 1));
        assert_eq!(time(s.due_at), "2026-11-18T12:30:00Z");
    }

    #[test]
    fn resolving_fulfils_the_waits_for_a_reply() {
        let p = r#"{"first_response": "30m", "next_response": "10m"}"#;
        let s = run(p, "10:00 created; 10:20 status resolved", "11:00");
        assert_eq!(metric(&s, FirstResponse).state, Met);
        let s = run(p, "10:00 created; 10:40 status resolved", "11:00");
        assert_eq!(metric(&s, FirstResponse).state, Missed);
        let events = "10:00 created; 10:05 agent; 10:10 customer; 10:25 status resolved";
        let s = run(p, events, "11:00");
        assert_eq!(
            (
                metric(&s, NextResponse).state,
                metric(&s, NextResponse).breaches
            ),
            (Missed, 1)
        );
        // A customer message on the resolved conversation reopens it with a new cycle.
        let s = run(p, &format!("{events}; 11:00 customer"), "11:05");
        let nrt = metric(&s, NextResponse);
        assert_eq!((nrt.state, nrt.breaches, nrt.cycles), (Ok, 1, 2));
        assert_eq!(time(nrt.due_at), "2026-11-18T11:10:00Z");
    }

    #[test]
    fn a_new_policy_keeps_starts_and_used_time_and_results() {
        // A running clock takes the new target from its original start.
        let events = "10:00 created; 10:20 policy {\"first_response\": \"1h\"}";
        let s = run_metric(FRT_30M, events, "10:40", FirstResponse);
        assert_state_due(&s, Ok, "2026-11-18T11:00:00Z");
        // A lower target than the time already used: breached since the new deadline.
        let events = "10:00 created; 10:40 policy {\"first_response\": \"15m\"}";
        let s = run_metric(FRT_30M, events, "10:41", FirstResponse);
        assert_state_due(&s, Breached, "2026-11-18T10:15:00Z");
        // A finished clock keeps its result.
        let events = "10:00 created; 10:10 agent; 10:20 policy {\"first_response\": \"5m\"}";
        let s = run_metric(FRT_30M, events, "10:30", FirstResponse);
        assert_eq!(s.state, Met);
        // An added target counts from the conversation's start; a dropped one disappears.
        let events = "10:00 created; 10:45 agent; 11:00 policy {\"first_response\": \"30m\", \"resolution\": \"2h\"}";
        let s = run(r#"{"next_response": "10m"}"#, events, "11:10");
        assert_eq!(
            s.metrics.iter().map(|m| m.metric).collect::<Vec<_>>(),
            [FirstResponse, Resolution]
        );
        assert_eq!(metric(&s, FirstResponse).state, Missed);
        assert_eq!(time(metric(&s, Resolution).due_at), "2026-11-18T12:00:00Z");
    }

    #[test]
    fn a_new_policy_keeps_the_paused_time_of_resolution() {
        let events = "10:00 created; 10:20 status pending; 11:00 policy {\"resolution\": \"2h\", \"pause_on\": []}";
        let s = run_metric(r#"{"resolution": "1h"}"#, events, "11:10", Resolution);
        // 20 minutes before the pause, none while paused, running again from 11:00.
        assert_state_due(&s, Ok, "2026-11-18T12:40:00Z");
    }

    #[test]
    fn next_change_is_the_warning_start_then_the_second_after_the_deadline() {
        let p = r#"{"first_response": "30m", "resolution": "20m"}"#;
        let events = timeline("10:00 created");
        let change = |at: &str| next_change(&policy(p), None, &events, t(at)).map(format_utc);
        assert_eq!(change("10:00").as_deref(), Some("2026-11-18T10:15:00Z"));
        assert_eq!(change("10:16").as_deref(), Some("2026-11-18T10:20:01Z"));
        assert_eq!(change("10:21").as_deref(), Some("2026-11-18T10:22:30Z"));
        assert_eq!(change("10:23").as_deref(), Some("2026-11-18T10:30:01Z"));
        assert_eq!(change("10:31"), None);
        // The state does change at that instant.
        let state = |at: &str| frt_state(p, "10:00 created", at);
        assert_eq!((state("10:30"), state("10:30:01")), (Warning, Breached));
    }

    #[test]
    fn the_most_urgent_metric_is_the_running_one_due_first() {
        let p = r#"{"first_response": "30m", "next_response": "5m", "resolution": "20m"}"#;
        let s = run(p, "10:00 created", "10:01");
        assert_eq!(s.most_urgent().map(|m| m.metric), Some(Resolution));
        let s = run(p, "10:00 created; 10:01 status pending", "10:02");
        assert_eq!(s.most_urgent().map(|m| m.metric), Some(FirstResponse));
        let s = run(p, "10:00 created; 10:01 status resolved", "10:02");
        assert_eq!(s.most_urgent(), None);
    }

    #[test]
    fn business_hours_policies_count_only_open_time() {
        let calendar: BusinessCalendar = serde_json::from_str(
            r#"{"timezone": "Europe/Amsterdam", "hours": {"mon": ["09:00-17:00"], "tue": ["09:00-17:00"],
                "wed": ["09:00-17:00"], "thu": ["09:00-17:00"], "fri": ["09:00-17:00"]}}"#,
        )
        .unwrap();
        let p =
            policy(r#"{"first_response": "30m", "resolution": "2h", "business_hours_only": true}"#);
        let events =
            timeline("2026-11-20T16:45:00+01:00 created; 2026-11-20T16:45:00+01:00 customer");
        let at = t("2026-11-23T09:20:00+01:00");
        let s = evaluate(&p, Some(&calendar), &events, at);
        let frt = metric(&s, FirstResponse);
        assert_eq!(
            (frt.state, time(frt.due_at).as_str()),
            (Breached, "2026-11-23T08:15:00Z")
        );
        assert_eq!(
            (frt.remaining_s, frt.text.as_str(), frt.breaches),
            (Some(-300), "-5m", 1)
        );
        // 7m30s before the deadline in open time: Monday 09:07:30.
        assert_eq!(time(frt.warn_at), "2026-11-23T08:07:30Z");
        // Over the weekend the clock is within target, and the badge shows wall-clock time.
        let weekend = evaluate(&p, Some(&calendar), &events, t("2026-11-21T12:00:00+01:00"));
        let frt = metric(&weekend, FirstResponse);
        assert_eq!(
            (frt.state, frt.remaining_s),
            (Ok, Some(((2 * 24 - 3) * 60 + 15) * 60))
        );
        // Paused resolution shows the open time left: 15 minutes were used on Friday.
        let mut paused = events.clone();
        paused.push(Event::status(
            t("2026-11-23T08:30:00Z"),
            ConversationStatus::Pending,
        ));
        let s = evaluate(&p, Some(&calendar), &paused, t("2026-11-24T12:00:00Z"));
        let rt = metric(&s, Resolution);
        assert_eq!(
            (rt.state, rt.remaining_s),
            (Paused, Some(2 * 3600 - 15 * 60 - 30 * 60))
        );
        // Without business_hours_only the calendar is ignored.
        let wall = policy(FRT_30M);
        let s = evaluate(&wall, Some(&calendar), &events, at);
        assert_eq!(
            time(metric(&s, FirstResponse).due_at),
            "2026-11-20T16:15:00Z"
        );
    }

    /// Mon–Fri 09:00–17:00 in Amsterdam, with the given holidays.
    fn amsterdam_office(holidays: &str) -> BusinessCalendar {
        serde_json::from_str(&format!(
            r#"{{"timezone": "Europe/Amsterdam", "holidays": [{holidays}],
                "hours": {{"mon": ["09:00-17:00"], "tue": ["09:00-17:00"], "wed": ["09:00-17:00"],
                          "thu": ["09:00-17:00"], "fri": ["09:00-17:00"]}}}}"#
        ))
        .unwrap()
    }

    const FRT_2BD: &str = r#"{"first_response": "2bd", "business_hours_only": true}"#;

    /// The first-response status of a conversation created at `created` under `policy_json`,
    /// with `more` events after it, on `calendar`.
    fn frt_on(
        calendar: &BusinessCalendar,
        policy_json: &str,
        created: &str,
        more: &str,
        at: &str,
    ) -> MetricStatus {
        let events = timeline(&format!("{created} created; {created} customer; {more}"));
        metric(
            &evaluate(&policy(policy_json), Some(calendar), &events, t(at)),
            FirstResponse,
        )
    }

    #[test]
    fn business_days_from_friday_noon_are_due_tuesday_noon() {
        let cal = amsterdam_office("");
        let friday = "2026-11-20T12:00:00+01:00";
        let s = frt_on(&cal, FRT_2BD, friday, "", "2026-11-23T10:00:00+01:00");
        assert_state_due(&s, Ok, "2026-11-24T11:00:00Z");
        // The counted amount: Friday 5h, Monday 8h, Tuesday 3h.
        assert_eq!(s.target_s, 16 * 3600);
        // The warning at 25% of it: 4 open hours before, Monday 16:00.
        assert_eq!(time(s.warn_at), "2026-11-23T15:00:00Z");
        let state = |at: &str| frt_on(&cal, FRT_2BD, friday, "", at).state;
        assert_eq!(state("2026-11-23T15:59:59+01:00"), Ok);
        assert_eq!(state("2026-11-23T16:00:00+01:00"), Warning);
        assert_eq!(state("2026-11-24T12:00:00+01:00"), Warning);
        assert_eq!(state("2026-11-24T12:00:01+01:00"), Breached);
        // Answered at the deadline: met; a second later: missed.
        let answered = |reply: &str| {
            frt_on(
                &cal,
                FRT_2BD,
                friday,
                &format!("{reply} agent"),
                "2026-11-25T12:00:00+01:00",
            )
            .state
        };
        assert_eq!(answered("2026-11-24T12:00:00+01:00"), Met);
        assert_eq!(answered("2026-11-24T12:00:01+01:00"), Missed);
    }

    #[test]
    fn business_days_skip_a_holiday() {
        let cal = amsterdam_office(r#""2026-11-23""#);
        let s = frt_on(
            &cal,
            FRT_2BD,
            "2026-11-20T12:00:00+01:00",
            "",
            "2026-11-23T10:00:00+01:00",
        );
        assert_state_due(&s, Ok, "2026-11-25T11:00:00Z");
        assert_eq!(s.target_s, 16 * 3600);
    }

    #[test]
    fn business_days_from_a_weekend_start() {
        let cal = amsterdam_office("");
        // Saturday 10:00: Monday is the first business day, Tuesday 10:00 the deadline.
        let s = frt_on(
            &cal,
            FRT_2BD,
            "2026-11-21T10:00:00+01:00",
            "",
            "2026-11-23T10:00:00+01:00",
        );
        assert_state_due(&s, Ok, "2026-11-24T09:00:00Z");
        assert_eq!(s.target_s, 9 * 3600);
        // Saturday 20:00: Tuesday 20:00 is closed, so due at Wednesday's opening, not at
        // Tuesday's close (the same open time): a reply on Tuesday evening is in time.
        let saturday_evening = "2026-11-21T20:00:00+01:00";
        let s = frt_on(
            &cal,
            FRT_2BD,
            saturday_evening,
            "",
            "2026-11-24T18:00:00+01:00",
        );
        assert_state_due(&s, Warning, "2026-11-25T08:00:00Z");
        assert_eq!(s.target_s, 16 * 3600);
        let s = frt_on(
            &cal,
            FRT_2BD,
            saturday_evening,
            "2026-11-24T18:00:00+01:00 agent",
            "2026-11-25T12:00:00+01:00",
        );
        assert_eq!(
            (s.state, time(s.due_at).as_str()),
            (Met, "2026-11-25T08:00:00Z")
        );
        assert_eq!(
            frt_on(
                &cal,
                FRT_2BD,
                saturday_evening,
                "",
                "2026-11-25T09:00:01+01:00"
            )
            .state,
            Breached
        );
    }

    #[test]
    fn business_days_keep_the_local_time_across_a_daylight_saving_change() {
        let cal = amsterdam_office("");
        // Friday 12:00 CET + 2bd: Tuesday 12:00 CEST, an hour earlier in UTC.
        let s = frt_on(
            &cal,
            FRT_2BD,
            "2026-03-27T12:00:00+01:00",
            "",
            "2026-03-30T10:00:00+02:00",
        );
        assert_state_due(&s, Ok, "2026-03-31T10:00:00Z");
        assert_eq!(s.target_s, 16 * 3600);
        // Counting all time: the same local time two days later, 47 hours over the change.
        let all_time = r#"{"first_response": "2bd"}"#;
        let s = frt_on(
            &cal,
            all_time,
            "2026-03-28T12:00:00+01:00",
            "",
            "2026-03-28T13:00:00+01:00",
        );
        assert_state_due(&s, Ok, "2026-03-30T10:00:00Z");
        assert_eq!(s.target_s, 47 * 3600);
    }

    #[test]
    fn without_a_calendar_a_business_day_is_a_day() {
        let s = run_metric(
            r#"{"first_response": "2bd", "business_hours_only": true}"#,
            "10:00 created",
            "10:30",
            FirstResponse,
        );
        assert_state_due(&s, Ok, "2026-11-20T10:00:00Z");
        assert_eq!(s.target_s, 2 * 86_400);
        assert_eq!(time(s.warn_at), "2026-11-19T22:00:00Z");
        // Zero business days: due at the start.
        let s = run_metric(
            r#"{"first_response": "0bd"}"#,
            "10:00 created",
            "10:00",
            FirstResponse,
        );
        assert_state_due(&s, Warning, "2026-11-18T10:00:00Z");
    }

    #[test]
    fn business_day_resolution_pauses_and_each_reply_wait_counts_from_its_own_start() {
        let cal = amsterdam_office("");
        let p =
            policy(r#"{"next_response": "1bd", "resolution": "2bd", "business_hours_only": true}"#);
        // Friday 12:00; pending Monday 10:00 to 11:00: one open hour more, due Tuesday 13:00.
        let events = timeline(
            "2026-11-20T12:00:00+01:00 created; 2026-11-20T12:00:00+01:00 customer; \
             2026-11-20T12:30:00+01:00 agent; 2026-11-23T10:00:00+01:00 status pending",
        );
        let s = evaluate(&p, Some(&cal), &events, t("2026-11-23T10:30:00+01:00"));
        let rt = metric(&s, Resolution);
        // 16h in all; Friday 5h and Monday 1h used.
        assert_eq!(
            (rt.state, rt.remaining_s, rt.text.as_str()),
            (Paused, Some(10 * 3600), "10h 00m")
        );
        // No customer waiting: next response not started, its amount that of a wait from now.
        let nrt = metric(&s, NextResponse);
        assert_eq!((nrt.state, nrt.target_s), (NotStarted, 8 * 3600));
        let mut reopened = events.clone();
        reopened.push(Event::status(
            t("2026-11-23T11:00:00+01:00"),
            ConversationStatus::Open,
        ));
        // A customer message on Monday 15:00 waits one business day: Tuesday 15:00.
        reopened.push(Event::message(
            t("2026-11-23T15:00:00+01:00"),
            Author::Customer,
        ));
        let s = evaluate(&p, Some(&cal), &reopened, t("2026-11-23T16:00:00+01:00"));
        assert_state_due(&metric(&s, Resolution), Ok, "2026-11-24T12:00:00Z");
        let nrt = metric(&s, NextResponse);
        assert_state_due(&nrt, Ok, "2026-11-24T14:00:00Z");
        assert_eq!(nrt.target_s, 8 * 3600);
    }

    #[test]
    fn business_days_round_trip_through_a_policy() {
        let p = policy(r#"{"first_response": "2 bd", "resolution": "1d"}"#);
        assert_eq!(p.first_response, Some(Target::BusinessDays(2)));
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"first_response":"2bd","resolution":"1d","business_hours_only":false,"warning":"25%","pause_on":["pending","snoozed"]}"#
        );
    }

    #[test]
    fn switching_to_business_hours_keeps_the_time_already_used() {
        let calendar: BusinessCalendar =
            serde_json::from_str(r#"{"timezone": "UTC", "hours": {"wed": ["12:00-18:00"]}}"#)
                .unwrap();
        let events = timeline(
            "10:00 created; 10:30 policy {\"first_response\": \"1h\", \"business_hours_only\": true}",
        );
        let s = evaluate(
            &policy(r#"{"first_response": "1h"}"#),
            Some(&calendar),
            &events,
            t("10:40"),
        );
        // 30 minutes of wall time used, the other 30 in open time from 12:00.
        assert_eq!(
            time(metric(&s, FirstResponse).due_at),
            "2026-11-18T12:30:00Z"
        );
    }

    #[test]
    fn events_in_any_order_and_events_after_at() {
        let p = r#"{"first_response": "30m", "next_response": "10m"}"#;
        let sorted = timeline("10:00 created; 10:05 customer; 10:10 agent; 10:20 customer");
        let mut shuffled = sorted.clone();
        shuffled.reverse();
        let at = t("10:25");
        assert_eq!(
            evaluate(&policy(p), None, &shuffled, at),
            evaluate(&policy(p), None, &sorted, at)
        );
        // The reply at 10:10 has not happened at 10:09.
        assert_eq!(frt_state(p, "10:00 created; 10:10 agent", "10:09"), Ok);
        // Nothing has happened before the conversation exists.
        assert_eq!(frt_state(p, "10:00 created", "09:00"), NotStarted);
    }

    #[test]
    fn a_first_message_without_created_starts_the_conversation() {
        let s = run_metric(FRT_30M, "10:00 customer", "10:10", FirstResponse);
        assert_state_due(&s, Ok, "2026-11-18T10:30:00Z");
        // A hand-over in a conversation no bot handles changes nothing.
        let s = run_metric(
            FRT_30M,
            "10:00 created; 10:20 handover",
            "10:25",
            FirstResponse,
        );
        assert_eq!(time(s.due_at), "2026-11-18T10:30:00Z");
    }

    #[test]
    fn the_state_round_trips_through_json() {
        let s = run(
            r#"{"first_response": "30m", "resolution": "1h"}"#,
            "10:00 created; 10:10 agent",
            "10:20",
        );
        let json = serde_json::to_string(&s).unwrap();
        assert!(
            json.contains(r#""due_at":"2026-11-18T10:30:00Z""#),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<SlaState>(&json).unwrap(), s);
    }
}
