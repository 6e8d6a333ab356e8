//! Business-hours calendars in an IANA time zone, and counting open time with them.
//!
//! A calendar is a [`CalendarDefinition`] (what an admin writes, and its JSON shape) compiled
//! into a [`BusinessCalendar`]. The rules, decided here once for the server and the browser:
//!
//! - Windows are local wall-clock times, so on a daylight-saving change day "09:00-17:00" is
//!   still 8 real hours when the change happens at night, and "00:00-24:00" is 23 or 25 hours.
//! - A local time that does not exist (inside a spring-forward gap) means the instant the gap
//!   ends; an ambiguous one (fall-back) means the earlier of its two instants.
//! - An overnight window ("22:00-06:00" on Monday runs to Tuesday 06:00) belongs to the date it
//!   starts on: Monday's holiday or override removes it, Tuesday's does not cut its tail.
//! - A date override replaces that date's windows, an empty list closes the date, and an
//!   override wins over a holiday on the same date (it is the more specific statement).
//! - Open time is the union of the windows: where windows of neighbouring dates overlap
//!   (an override next to an overnight window) the time counts once.
//!
//! Deadlines are answered from a table of the open intervals in UTC with prefix sums of open
//! time (two short searches), built lazily for a few years around the first question and exact
//! everywhere: outside the table the calendar walks day by day.

use crate::duration::SlaDuration;
use crate::instant::{from_whole_second, whole_second, Secs, LATEST};
use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone,
    Timelike, Utc,
};
use chrono_tz::Tz;
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};

const DAY: u32 = 86_400;
/// How much the lazily built table covers around the first instant it is asked about: a
/// year back for conversations still open, two ahead for long targets.
const TABLE_DAYS_BEFORE: i64 = 366;
const TABLE_DAYS_AFTER: i64 = 2 * 366;

/// One open window of a day in local wall-clock time, written "09:00-17:00".
///
/// An end at or before the start makes an overnight window that ends on the next day;
/// "00:00-24:00" is the whole day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeWindow {
    /// Seconds after local midnight, 0 to 23:59.
    start: u32,
    /// Seconds after local midnight, 00:01 to 24:00.
    end: u32,
}

impl TimeWindow {
    /// A window from `start` to `end` minutes after midnight; `end` may be 1440 ("24:00"),
    /// and an `end` at or before `start` makes an overnight window.
    pub fn from_minutes(start: u32, end: u32) -> Option<Self> {
        let window = TimeWindow {
            start: start.checked_mul(60)?,
            end: end.checked_mul(60)?,
        };
        (window.start < DAY && window.end <= DAY && window.start != window.end).then_some(window)
    }

    pub fn is_overnight(&self) -> bool {
        self.end <= self.start
    }

    /// Start and end in seconds after the local midnight of the window's date; the end may
    /// pass 24:00 for an overnight window.
    fn span(&self) -> (u32, u32) {
        if self.is_overnight() {
            (self.start, self.end + DAY)
        } else {
            (self.start, self.end)
        }
    }
}

impl FromStr for TimeWindow {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        fn minutes(hhmm: &str) -> Option<u32> {
            let (h, m) = crate::schema::trim(hhmm).split_once(':')?;
            if h.is_empty() || h.len() > 2 || m.len() != 2 {
                return None;
            }
            if !h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
                return None;
            }
            let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
            (m < 60 && (h < 24 || h == 24 && m == 0)).then_some(h * 60 + m)
        }
        let bad = || format!("{text:?} is not a valid time window");
        let (start, end) = text.split_once('-').ok_or_else(bad)?;
        let (start, end) = (
            minutes(start).ok_or_else(bad)?,
            minutes(end).ok_or_else(bad)?,
        );
        TimeWindow::from_minutes(start, end).ok_or_else(bad)
    }
}

impl TimeWindow {
    /// What [`str::parse`] takes: `H:MM` or `HH:MM`, a dash, the end (up to `24:00`),
    /// spaces around each.
    pub const PATTERN: &'static str =
        r"^\s*([01]?[0-9]|2[0-3]):[0-5][0-9]\s*-\s*(([01]?[0-9]|2[0-3]):[0-5][0-9]|24:00)\s*$";
}

impl utoipa::PartialSchema for TimeWindow {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        crate::schema::text(
            "Local wall-clock window `HH:MM-HH:MM`; an end at or before the start runs overnight into the next day; `00:00-24:00` is the whole day. Start and end differ.",
            TimeWindow::PATTERN,
            "09:00-17:00",
        )
    }
}

impl utoipa::ToSchema for TimeWindow {}

/// The schema of a calendar's `timezone`: an IANA name from the tz database the server
/// parses with.
pub struct Timezone;

impl utoipa::PartialSchema for Timezone {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        crate::schema::words(
            "An IANA time zone name, e.g. `Europe/Amsterdam`.",
            chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()),
        )
    }
}

impl utoipa::ToSchema for Timezone {}

impl fmt::Display for TimeWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (s, e) = (self.start / 60, self.end / 60);
        write!(f, "{:02}:{:02}-{:02}:{:02}", s / 60, s % 60, e / 60, e % 60)
    }
}

serde_as_text!(TimeWindow, from_str);

/// The open windows of each weekday; a weekday left out is closed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WeeklyHours {
    #[serde(default)]
    pub mon: Vec<TimeWindow>,
    #[serde(default)]
    pub tue: Vec<TimeWindow>,
    #[serde(default)]
    pub wed: Vec<TimeWindow>,
    #[serde(default)]
    pub thu: Vec<TimeWindow>,
    #[serde(default)]
    pub fri: Vec<TimeWindow>,
    #[serde(default)]
    pub sat: Vec<TimeWindow>,
    #[serde(default)]
    pub sun: Vec<TimeWindow>,
}

impl WeeklyHours {
    /// Monday first, as chrono's `num_days_from_monday` counts.
    pub const DAY_NAMES: [&'static str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

    /// The same windows on Monday to Friday, closed at the weekend.
    pub fn weekdays(windows: &[TimeWindow]) -> Self {
        let w = windows.to_vec();
        WeeklyHours {
            mon: w.clone(),
            tue: w.clone(),
            wed: w.clone(),
            thu: w.clone(),
            fri: w,
            sat: vec![],
            sun: vec![],
        }
    }

    /// Windows by day index, Monday = 0.
    pub fn day(&self, index: usize) -> &[TimeWindow] {
        [
            &self.mon, &self.tue, &self.wed, &self.thu, &self.fri, &self.sat, &self.sun,
        ][index % 7]
    }
}

/// A business-hours calendar as an admin defines it: the `sla check` calendar shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CalendarDefinition {
    /// IANA name, e.g. "Europe/Amsterdam".
    #[serde(with = "tz_name")]
    #[schema(value_type = Timezone)]
    pub timezone: Tz,
    #[serde(default)]
    pub hours: WeeklyHours,
    /// Dates closed all day, in the calendar's zone.
    #[serde(default, with = "date_list")]
    #[schema(value_type = Vec<chrono::NaiveDate>)]
    pub holidays: Vec<NaiveDate>,
    /// Dates (`YYYY-MM-DD`) whose windows replace the weekday's; an empty list closes the
    /// date.
    #[serde(default, with = "date_map")]
    #[schema(value_type = BTreeMap<chrono::NaiveDate, Vec<TimeWindow>>)]
    pub overrides: BTreeMap<NaiveDate, Vec<TimeWindow>>,
}

/// Why a definition does not make a calendar; `field` is relative to the calendar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct CalendarError {
    pub field: String,
    pub message: String,
}

/// Start and end, in seconds after the local midnight of their date, sorted and disjoint.
type DaySpans = Vec<(u32, u32)>;

/// A validated calendar that counts open time and computes deadlines.
///
/// Serializes as its [`CalendarDefinition`]; clones share the lazily built deadline table.
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "CalendarDefinition", into = "CalendarDefinition")]
pub struct BusinessCalendar {
    definition: CalendarDefinition,
    tz: Tz,
    weekly: [DaySpans; 7],
    holidays: BTreeSet<NaiveDate>,
    overrides: BTreeMap<NaiveDate, DaySpans>,
    /// Whether any weekday has a window; if not, the calendar never opens after its last
    /// override, and a walk must stop there instead of running forever.
    weekly_open: bool,
    last_override_open: Option<NaiveDate>,
    table: Arc<OnceLock<OpenTable>>,
}

impl fmt::Debug for BusinessCalendar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BusinessCalendar")
            .field("definition", &self.definition)
            .finish_non_exhaustive()
    }
}

impl PartialEq for BusinessCalendar {
    fn eq(&self, other: &Self) -> bool {
        self.definition == other.definition
    }
}

impl TryFrom<CalendarDefinition> for BusinessCalendar {
    type Error = CalendarError;
    fn try_from(definition: CalendarDefinition) -> Result<Self, CalendarError> {
        BusinessCalendar::new(definition)
    }
}

impl From<BusinessCalendar> for CalendarDefinition {
    fn from(calendar: BusinessCalendar) -> Self {
        calendar.definition
    }
}

/// Sorted spans of one list of windows, or the overlap that forbids it.
fn day_spans(windows: &[TimeWindow], field: &str) -> Result<DaySpans, CalendarError> {
    let mut order: Vec<usize> = (0..windows.len()).collect();
    order.sort_by_key(|&i| windows[i].span());
    for pair in order.windows(2) {
        let (earlier, later) = (pair[0], pair[1]);
        if windows[later].span().0 < windows[earlier].span().1 {
            let (a, b) = (earlier.min(later), earlier.max(later));
            return Err(CalendarError {
                field: format!("{field}[{b}]"),
                message: format!(
                    "\"{}\" overlaps \"{}\" ({field}[{a}])",
                    windows[b], windows[a]
                ),
            });
        }
    }
    Ok(order.iter().map(|&i| windows[i].span()).collect())
}

impl BusinessCalendar {
    /// Validates a definition: no two windows of a day overlap, nor does an overnight
    /// window's tail overlap the next weekday's windows.
    pub fn new(definition: CalendarDefinition) -> Result<Self, CalendarError> {
        let mut weekly: [DaySpans; 7] = Default::default();
        for (day, spans) in weekly.iter_mut().enumerate() {
            let field = format!("hours.{}", WeeklyHours::DAY_NAMES[day]);
            *spans = day_spans(definition.hours.day(day), &field)?;
        }
        for day in 0..7 {
            let next = (day + 1) % 7;
            let tail_end = weekly[day]
                .last()
                .map_or(0, |&(_, end)| end.saturating_sub(DAY));
            if let Some(&(first_start, _)) = weekly[next].first() {
                if first_start < tail_end {
                    let windows = definition.hours.day(next);
                    let i = windows
                        .iter()
                        .position(|w| w.start == first_start)
                        .unwrap_or(0);
                    let tail = definition.hours.day(day).iter().find(|w| w.is_overnight());
                    return Err(CalendarError {
                        field: format!("hours.{}[{i}]", WeeklyHours::DAY_NAMES[next]),
                        message: format!(
                            "\"{}\" overlaps the end of the overnight window \"{}\" on {}",
                            windows[i],
                            tail.map(ToString::to_string).unwrap_or_default(),
                            WeeklyHours::DAY_NAMES[day]
                        ),
                    });
                }
            }
        }
        let mut overrides = BTreeMap::new();
        for (date, windows) in &definition.overrides {
            let field = format!("overrides.{date}");
            overrides.insert(*date, day_spans(windows, &field)?);
        }
        Ok(BusinessCalendar {
            tz: definition.timezone,
            weekly_open: weekly.iter().any(|d| !d.is_empty()),
            last_override_open: overrides
                .iter()
                .rev()
                .find(|(_, spans)| !spans.is_empty())
                .map(|(date, _)| *date),
            weekly,
            holidays: definition.holidays.iter().copied().collect(),
            overrides,
            definition,
            table: Arc::default(),
        })
    }

    pub fn definition(&self) -> &CalendarDefinition {
        &self.definition
    }

    pub fn time_zone(&self) -> Tz {
        self.tz
    }

    /// The deadline for `open` time counted from `from`: the first instant at which the open
    /// time since `from` equals it (a target used up exactly at 17:00 is due at 17:00).
    /// `None` when the calendar never opens long enough again.
    pub fn add_open_time(&self, from: DateTime<Utc>, open: SlaDuration) -> Option<DateTime<Utc>> {
        match self.deadline(whole_second(from), open.as_secs()) {
            Deadline::InTable(table, i, offset) => {
                // Within the UTC day the interval starts on, build the instant from that
                // ready-made date: chrono's general conversion from a day count to a civil
                // date costs more than the whole search.
                let (date, second) = table.start_days[i];
                let time = u32::try_from(offset)
                    .ok()
                    .and_then(|offset| second.checked_add(offset))
                    .and_then(|second| NaiveTime::from_num_seconds_from_midnight_opt(second, 0));
                Some(match time {
                    Some(time) => date.and_time(time).and_utc(),
                    None => from_whole_second(table.starts[i] + offset),
                })
            }
            Deadline::At(t) => Some(from_whole_second(t)),
            Deadline::Never => None,
        }
    }

    /// The deadline of `days` business days from `from`, as Zendesk's `biz` counts them: the
    /// `days`-th business date after `from`'s local date (for zero days, the first business
    /// date from that date on) at `from`'s local time of day, then the first open moment at
    /// or after it. Friday 12:00 + 2 business days on a Mon–Fri calendar is Tuesday 12:00;
    /// Tuesday 18:00 + 2 is Thursday 18:00, so Friday's opening.
    ///
    /// A business date is a local date with an open window (after its holiday or override),
    /// so a holiday is skipped and an override opening a Saturday makes it one. A local time
    /// that does not exist or is ambiguous on the date reached resolves as windows do (the end
    /// of the gap; the earlier instant). `None` when the calendar has no such date or never
    /// opens again before the year 10000.
    pub fn add_business_days(&self, from: DateTime<Utc>, days: u16) -> Option<DateTime<Utc>> {
        self.add_business_days_secs(whole_second(from), days)
            .map(from_whole_second)
    }

    /// [`BusinessCalendar::add_business_days`] on Unix seconds.
    pub(crate) fn add_business_days_secs(&self, from: Secs, days: u16) -> Option<Secs> {
        let local = from_whole_second(from)
            .with_timezone(&self.tz)
            .naive_local();
        // Zero days: the first business date from the start's own date on.
        let (mut date, mut left) = match days {
            0 => (local.date().pred_opt()?, 1),
            n => (local.date(), n),
        };
        while left > 0 {
            date = date.succ_opt()?;
            let may_open =
                self.weekly_open || self.last_override_open.is_some_and(|last| date <= last);
            if !may_open || date.year() > 9999 {
                return None;
            }
            if !self.spans_on(date).is_empty() {
                left -= 1;
            }
        }
        let advanced = resolve_local(self.tz, date.and_time(local.time()));
        // The first open second at or after the advanced time.
        self.add_open_secs(advanced, 1).map(|t| t - 1)
    }

    /// Open seconds in `[from, to)`; zero when `to` is not after `from`.
    pub fn open_time_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
        self.open_secs_between(whole_second(from), whole_second(to))
    }

    /// Whether `at` lies inside an open window (a window's end is already closed).
    pub fn is_open_at(&self, at: DateTime<Utc>) -> bool {
        let t = whole_second(at);
        self.open_secs_between(t, t + 1) == 1
    }

    /// Builds the deadline table for the local dates `from..to` now, instead of lazily
    /// around the first question; does nothing when a table already exists.
    pub fn precompute(&self, from: NaiveDate, to: NaiveDate) {
        self.table.get_or_init(|| OpenTable::build(self, from, to));
    }

    /// The same as [`BusinessCalendar::add_open_time`] on Unix seconds; the engine's hot path.
    pub(crate) fn add_open_secs(&self, from: Secs, secs: i64) -> Option<Secs> {
        match self.deadline(from, secs) {
            Deadline::InTable(table, i, offset) => Some(table.starts[i] + offset),
            Deadline::At(t) => Some(t),
            Deadline::Never => None,
        }
    }

    /// `Never` past [`LATEST`]: a deadline after the year 9999 could not be written, and
    /// stopping there bounds the walk on a calendar that opens a minute a week (a century
    /// of its open time would otherwise walk to the end of chrono's dates).
    #[inline]
    fn deadline(&self, from: Secs, secs: i64) -> Deadline<'_> {
        if secs <= 0 {
            return Deadline::At(from);
        }
        let table = self.table_around(from);
        let mut left = secs;
        let mut at = from;
        if at < table.lo {
            match self.walk_add(at, left, table.lo) {
                Walk::Reached(t) => return Deadline::At(t),
                Walk::Never => return Deadline::Never,
                Walk::Remaining(rest) => (left, at) = (rest, table.lo),
            }
        }
        if at < table.hi {
            match table.add(at, left) {
                Ok((i, offset)) if table.starts[i] + offset <= LATEST => {
                    return Deadline::InTable(table, i, offset)
                }
                Ok(_) => return Deadline::Never,
                Err(rest) => (left, at) = (rest, table.hi),
            }
        }
        match self.walk_add(at, left, LATEST) {
            Walk::Reached(t) => Deadline::At(t),
            Walk::Remaining(_) | Walk::Never => Deadline::Never,
        }
    }

    pub(crate) fn open_secs_between(&self, from: Secs, to: Secs) -> i64 {
        if to <= from {
            return 0;
        }
        let table = self.table_around(from);
        let inside = (from.max(table.lo), to.min(table.hi));
        let mut total = 0;
        if inside.0 < inside.1 {
            total += table.cum_at(inside.1) - table.cum_at(inside.0);
        }
        if from < table.lo {
            total += self.walk_open_between(from, to.min(table.lo));
        }
        if to > table.hi {
            total += self.walk_open_between(from.max(table.hi), to);
        }
        total
    }

    fn table_around(&self, t: Secs) -> &OpenTable {
        self.table.get_or_init(|| {
            let date = self.local_date(t);
            OpenTable::build(
                self,
                date - Duration::days(TABLE_DAYS_BEFORE),
                date + Duration::days(TABLE_DAYS_AFTER),
            )
        })
    }

    fn local_date(&self, t: Secs) -> NaiveDate {
        from_whole_second(t).with_timezone(&self.tz).date_naive()
    }

    fn spans_on(&self, date: NaiveDate) -> &[(u32, u32)] {
        if let Some(spans) = self.overrides.get(&date) {
            return spans;
        }
        if self.holidays.contains(&date) {
            return &[];
        }
        &self.weekly[date.weekday().num_days_from_monday() as usize]
    }

    /// The instant of `secs` after local midnight of `date` (`secs` may pass 24:00).
    fn instant(&self, date: NaiveDate, secs: u32) -> Secs {
        let local = date.and_time(NaiveTime::MIN) + Duration::seconds(i64::from(secs));
        resolve_local(self.tz, local)
    }

    /// Open intervals in UTC, merged and in order, from the windows of the local date before
    /// `from`'s (an overnight window of that date may still be open at `from`).
    fn intervals_from(&self, from: Secs) -> OpenIntervals<'_> {
        OpenIntervals {
            calendar: self,
            date: Some(self.local_date(from).pred_opt().unwrap_or(NaiveDate::MIN)),
            day: Vec::with_capacity(4),
            next_in_day: 0,
            pending: None,
        }
    }

    /// Day-by-day deadline search over `[from, limit)`.
    fn walk_add(&self, from: Secs, secs: i64, limit: Secs) -> Walk {
        let mut left = secs;
        for (start, end) in self.intervals_from(from) {
            if start >= limit {
                return Walk::Remaining(left);
            }
            let (start, end) = (start.max(from), end.min(limit));
            if end <= start {
                continue;
            }
            if end - start >= left {
                return Walk::Reached(start + left);
            }
            left -= end - start;
            if end >= limit {
                return Walk::Remaining(left);
            }
        }
        Walk::Never
    }

    fn walk_open_between(&self, from: Secs, to: Secs) -> i64 {
        let mut total = 0;
        for (start, end) in self.intervals_from(from) {
            if start >= to {
                break;
            }
            total += (end.min(to) - start.max(from)).max(0);
        }
        total
    }

    /// Deadline by walking only, for tests that hold the table to it.
    #[cfg(test)]
    fn walk_deadline(&self, from: Secs, secs: i64) -> Option<Secs> {
        if secs <= 0 {
            return Some(from);
        }
        match self.walk_add(from, secs, LATEST) {
            Walk::Reached(t) => Some(t),
            _ => None,
        }
    }
}

/// `days` calendar days after `from` at the same local time in `tz` (zero: `from` itself):
/// business days when every day is one and time counts around the clock. `None` after the
/// year 9999.
pub(crate) fn add_days_in_zone(tz: Tz, from: Secs, days: u16) -> Option<Secs> {
    if days == 0 {
        return Some(from);
    }
    let local = from_whole_second(from).with_timezone(&tz).naive_local();
    let date = local
        .date()
        .checked_add_days(chrono::Days::new(u64::from(days)))?;
    Some(resolve_local(tz, date.and_time(local.time()))).filter(|t| *t <= LATEST)
}

/// Maps a local wall-clock time to an instant: the earlier instant when ambiguous, the end of
/// the gap when it does not exist.
pub(crate) fn resolve_local(tz: Tz, local: NaiveDateTime) -> Secs {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.timestamp(),
        LocalResult::Ambiguous(a, b) => a.timestamp().min(b.timestamp()),
        LocalResult::None => {
            // Inside a gap: binary-search the first existing local time after it (gaps last
            // at most a few hours and never follow each other within a day), then take its
            // instant, which is the instant the gap ends.
            let exists = |secs: i64| {
                let probe = local + Duration::seconds(secs);
                !matches!(tz.from_local_datetime(&probe), LocalResult::None)
            };
            let (mut missing, mut present) = (0_i64, 26 * 3600_i64);
            while present - missing > 1 {
                let mid = (missing + present) / 2;
                if exists(mid) {
                    present = mid;
                } else {
                    missing = mid;
                }
            }
            let end = local + Duration::seconds(present);
            match tz.from_local_datetime(&end) {
                LocalResult::Single(t) => t.timestamp(),
                LocalResult::Ambiguous(a, b) => a.timestamp().min(b.timestamp()),
                LocalResult::None => end.and_utc().timestamp(),
            }
        }
    }
}

/// Where a deadline fell: `offset` seconds into interval `i` of the table, elsewhere, or never.
enum Deadline<'a> {
    InTable(&'a OpenTable, usize, i64),
    At(Secs),
    Never,
}

enum Walk {
    Reached(Secs),
    Remaining(i64),
    Never,
}

/// Merged open intervals in order, generated one local date at a time.
struct OpenIntervals<'a> {
    calendar: &'a BusinessCalendar,
    /// The next date to generate; `None` once no date can open again.
    date: Option<NaiveDate>,
    day: Vec<(Secs, Secs)>,
    next_in_day: usize,
    /// The interval being merged with the ones that touch or overlap it.
    pending: Option<(Secs, Secs)>,
}

impl Iterator for OpenIntervals<'_> {
    type Item = (Secs, Secs);

    fn next(&mut self) -> Option<(Secs, Secs)> {
        loop {
            if self.next_in_day == self.day.len() {
                let cal = self.calendar;
                let date = match self.date {
                    Some(date)
                        if cal.weekly_open || cal.last_override_open.is_some_and(|d| date <= d) =>
                    {
                        date
                    }
                    _ => return self.pending.take(),
                };
                self.day.clear();
                self.next_in_day = 0;
                for &(start, end) in cal.spans_on(date) {
                    let (start, end) = (cal.instant(date, start), cal.instant(date, end));
                    // A window wholly inside a spring-forward gap has no real time.
                    if end > start {
                        self.day.push((start, end));
                    }
                }
                self.date = date.succ_opt();
                continue;
            }
            let (start, end) = self.day[self.next_in_day];
            self.next_in_day += 1;
            // Local-to-UTC mapping is monotone, so starts arrive in order and merging only
            // needs the interval before. Touching intervals stay apart: merging them would
            // never end on a calendar open around the clock.
            match self.pending {
                Some((p_start, p_end)) if start < p_end => {
                    self.pending = Some((p_start, p_end.max(end)));
                }
                previous => {
                    self.pending = Some((start, end));
                    if previous.is_some() {
                        return previous;
                    }
                }
            }
        }
    }
}

/// The open intervals in `[lo, hi)` with the open time before each, so that a deadline or
/// an amount of open time is a lookup instead of a walk.
struct OpenTable {
    lo: Secs,
    hi: Secs,
    starts: Vec<Secs>,
    /// Each start's UTC date and second of that day, ready to hand out.
    start_days: Vec<(NaiveDate, u32)>,
    ends: Vec<Secs>,
    /// `cum[i]`: open seconds in `[lo, starts[i])`; `cum[n]`: all open seconds in the table.
    cum: Vec<i64>,
    /// For each whole day after `lo`, the first interval that ends after the day starts, so a
    /// lookup scans at most a day's intervals.
    day_first: Vec<u32>,
}

impl OpenTable {
    fn build(calendar: &BusinessCalendar, from: NaiveDate, to: NaiveDate) -> OpenTable {
        let lo = calendar.instant(from, 0);
        let hi = calendar.instant(to, 0).max(lo);
        let (mut starts, mut ends, mut cum) = (Vec::new(), Vec::new(), vec![0]);
        for (start, end) in calendar.intervals_from(lo) {
            if start >= hi {
                break;
            }
            let (start, end) = (start.max(lo), end.min(hi));
            if end > start {
                starts.push(start);
                ends.push(end);
                cum.push(cum[cum.len() - 1] + end - start);
            }
        }
        let days = ((hi - lo) / i64::from(DAY) + 1) as usize;
        let mut day_first = Vec::with_capacity(days);
        let mut i = 0;
        for day in 0..days as i64 {
            let day_start = lo + day * i64::from(DAY);
            while i < ends.len() && ends[i] <= day_start {
                i += 1;
            }
            day_first.push(i as u32);
        }
        OpenTable {
            lo,
            hi,
            start_days: starts
                .iter()
                .map(|&t| {
                    let t = from_whole_second(t);
                    (t.date_naive(), t.time().num_seconds_from_midnight())
                })
                .collect(),
            starts,
            ends,
            cum,
            day_first,
        }
    }

    /// The first interval ending after `t`, for `lo <= t < hi` (may be `n`: none left).
    #[inline]
    fn locate(&self, t: Secs) -> usize {
        let mut i = self.day_first[((t - self.lo) / i64::from(DAY)) as usize] as usize;
        while i < self.ends.len() && self.ends[i] <= t {
            i += 1;
        }
        i
    }

    /// Open seconds in `[lo, t)`, for `lo <= t <= hi`.
    fn cum_at(&self, t: Secs) -> i64 {
        if t >= self.hi {
            return self.cum[self.starts.len()];
        }
        let i = self.locate(t);
        match self.starts.get(i) {
            Some(&start) => self.cum[i] + (t - start).max(0),
            None => self.cum[i],
        }
    }

    /// The deadline of `secs > 0` open seconds from `from` (`lo <= from < hi`) as an
    /// interval and the offset into it, or the seconds still to count after `hi`.
    #[inline]
    fn add(&self, from: Secs, secs: i64) -> Result<(usize, i64), i64> {
        let n = self.starts.len();
        let i = self.locate(from);
        let Some(&start) = self.starts.get(i) else {
            return Err(secs);
        };
        let target = self.cum[i] + (from - start).max(0) + secs;
        let total = self.cum[n];
        if target > total {
            return Err(target - total);
        }
        // The deadline lies in the first interval j >= i whose end reaches the target.
        // Gallop: most targets end within a few intervals of the start.
        let mut j = i;
        if self.cum[j + 1] < target {
            let mut below = j;
            let mut step = 1;
            loop {
                let probe = (below + step).min(n - 1);
                if self.cum[probe + 1] >= target {
                    j = below
                        + 1
                        + self.cum[below + 2..=probe + 1].partition_point(|&c| c < target);
                    break;
                }
                below = probe;
                step *= 2;
            }
        }
        Ok((j, target - self.cum[j]))
    }
}

mod tz_name {
    use super::*;

    pub fn serialize<S: Serializer>(tz: &Tz, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(tz.name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Tz, D::Error> {
        let name = String::deserialize(d)?;
        name.parse::<Tz>().map_err(|_| {
            de::Error::custom(format!(
                "{name:?} is not an IANA time zone (e.g. \"Europe/Amsterdam\")"
            ))
        })
    }
}

/// A calendar date written "2026-12-25", with a clear error.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct DateText(NaiveDate);

impl<'de> Deserialize<'de> for DateText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let strict = text.len() == 10 && text.as_bytes()[4] == b'-' && text.as_bytes()[7] == b'-';
        match NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
            Ok(date) if strict => Ok(DateText(date)),
            _ => Err(de::Error::custom(format!(
                "{text:?} is not a date (YYYY-MM-DD)"
            ))),
        }
    }
}

mod date_list {
    use super::*;

    pub fn serialize<S: Serializer>(dates: &[NaiveDate], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(dates.iter().map(|d| d.format("%Y-%m-%d").to_string()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<NaiveDate>, D::Error> {
        Ok(Vec::<DateText>::deserialize(d)?
            .into_iter()
            .map(|d| d.0)
            .collect())
    }
}

mod date_map {
    use super::*;

    pub fn serialize<S: Serializer>(
        map: &BTreeMap<NaiveDate, Vec<TimeWindow>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_map(
            map.iter()
                .map(|(d, w)| (d.format("%Y-%m-%d").to_string(), w)),
        )
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<NaiveDate, Vec<TimeWindow>>, D::Error> {
        let map = BTreeMap::<DateText, Vec<TimeWindow>>::deserialize(d)?;
        Ok(map.into_iter().map(|(d, w)| (d.0, w)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instant::parse_rfc3339;
    use proptest::prelude::*;

    fn calendar(json: &str) -> BusinessCalendar {
        serde_json::from_str(json).unwrap()
    }

    fn at(text: &str) -> DateTime<Utc> {
        parse_rfc3339(text).unwrap()
    }

    fn dur(text: &str) -> SlaDuration {
        text.parse().unwrap()
    }

    /// Mon–Fri 09–17 in Amsterdam, Tuesday with a lunch break, one holiday, one override.
    fn office() -> BusinessCalendar {
        calendar(
            r#"{"timezone": "Europe/Amsterdam",
                "hours": {"mon": ["09:00-17:00"], "tue": ["09:00-12:00", "13:00-17:00"],
                          "wed": ["09:00-17:00"], "thu": ["09:00-17:00"], "fri": ["09:00-17:00"]},
                "holidays": ["2026-12-25"], "overrides": {"2026-12-24": ["09:00-13:00"]}}"#,
        )
    }

    /// One window every day of the week.
    fn daily(zone: &str, window: &str) -> BusinessCalendar {
        let days = WeeklyHours::DAY_NAMES
            .iter()
            .map(|d| format!("\"{d}\": [\"{window}\"]"))
            .collect::<Vec<_>>()
            .join(",");
        calendar(&format!(r#"{{"timezone": "{zone}", "hours": {{{days}}}}}"#))
    }

    fn deadline(cal: &BusinessCalendar, from: &str, open: &str) -> String {
        crate::instant::format_utc(cal.add_open_time(at(from), dur(open)).unwrap())
    }

    fn business_days(cal: &BusinessCalendar, from: &str, days: u16) -> Option<String> {
        cal.add_business_days(at(from), days)
            .map(crate::instant::format_utc)
    }

    /// The schedule of zendesk/biz's specs (`spec/support/time.rb`): Monday, Wednesday and
    /// Friday 09–17, Tuesday and Thursday 10–16, Saturday 11:00–14:30, in UTC.
    fn biz_schedule() -> BusinessCalendar {
        calendar(
            r#"{"timezone": "Etc/UTC",
                "hours": {"mon": ["09:00-17:00"], "tue": ["10:00-16:00"], "wed": ["09:00-17:00"],
                          "thu": ["10:00-16:00"], "fri": ["09:00-17:00"], "sat": ["11:00-14:30"]}}"#,
        )
    }

    /// zendesk/biz `spec/calculation/for_duration_spec.rb`, `.days`, `#after`: two business
    /// days forward (2006-01-02 is a Monday; Saturday has hours, so it is a business day).
    #[test]
    fn business_days_as_biz_counts_them_forward() {
        let cal = biz_schedule();
        for (from, days, due) in [
            // "when the advanced time is within a period": Friday noon + 2 = Monday noon.
            ("2006-01-06T12:00:00Z", 2, "2006-01-09T12:00:00Z"),
            // "when the advanced time is before the first day period": Thursday 08:00 is
            // before Thursday's opening at 10:00.
            ("2006-01-03T08:00:00Z", 2, "2006-01-05T10:00:00Z"),
            // "when the advanced time is after the last day period": Thursday 18:00 is after
            // closing, so Friday's opening.
            ("2006-01-03T18:00:00Z", 2, "2006-01-06T09:00:00Z"),
            // "when the time has second precision": retained.
            ("2006-01-06T12:30:52Z", 2, "2006-01-09T12:30:52Z"),
            // "when the scalar is zero": the first active moment forward in time.
            ("2006-01-02T13:00:00Z", 0, "2006-01-02T13:00:00Z"),
        ] {
            assert_eq!(
                business_days(&cal, from, days).as_deref(),
                Some(due),
                "{from} + {days}bd"
            );
        }
    }

    /// zendesk/biz `spec/dates_spec.rb`: only Mondays 01:00–02:00 with a holiday on
    /// 2006-01-09, so the business dates after Sunday 2006-01-01 are the 2nd and the 16th.
    #[test]
    fn business_days_skip_holidays_as_biz_does() {
        let cal = calendar(
            r#"{"timezone": "Etc/UTC", "hours": {"mon": ["01:00-02:00"]},
                "holidays": ["2006-01-09"]}"#,
        );
        let from = "2006-01-01T01:30:00Z";
        assert_eq!(
            business_days(&cal, from, 1).as_deref(),
            Some("2006-01-02T01:30:00Z")
        );
        assert_eq!(
            business_days(&cal, from, 2).as_deref(),
            Some("2006-01-16T01:30:00Z")
        );
    }

    #[test]
    fn business_days_on_an_office_calendar() {
        let cal = office();
        for (from, days, due) in [
            // Friday 12:00 + 2 = Tuesday 12:00 (Tuesday's lunch break is 12:00-13:00, so
            // the next open moment is 13:00).
            ("2026-11-20T12:00:00+01:00", 2, "2026-11-24T12:00:00Z"),
            ("2026-11-20T11:00:00+01:00", 2, "2026-11-24T10:00:00Z"),
            // From Saturday: Monday is the first business day, Tuesday the second.
            ("2026-11-21T10:00:00+01:00", 2, "2026-11-24T09:00:00Z"),
            // Saturday evening: Tuesday 20:00 is closed, so Wednesday's opening.
            ("2026-11-21T20:00:00+01:00", 2, "2026-11-25T08:00:00Z"),
            // Zero days on Saturday: Monday at the same time.
            ("2026-11-21T10:00:00+01:00", 0, "2026-11-23T09:00:00Z"),
            // Before opening: the day counts, the deadline is the next opening after it.
            ("2026-11-23T08:00:00+01:00", 1, "2026-11-24T08:00:00Z"),
            // Christmas Eve (an override, open 09-13) counts, Christmas (a holiday) does not.
            ("2026-12-23T10:00:00+01:00", 1, "2026-12-24T09:00:00Z"),
            ("2026-12-23T14:00:00+01:00", 1, "2026-12-28T08:00:00Z"),
            ("2026-12-23T10:00:00+01:00", 2, "2026-12-28T09:00:00Z"),
        ] {
            assert_eq!(
                business_days(&cal, from, days).as_deref(),
                Some(due),
                "{from} + {days}bd"
            );
        }
    }

    #[test]
    fn business_days_keep_the_local_time_across_daylight_saving_changes() {
        let cal = office();
        // Friday 11:00 CET + 2 = Tuesday 11:00 CEST: 10:00Z, then 09:00Z.
        assert_eq!(
            business_days(&cal, "2026-03-27T11:00:00+01:00", 2).as_deref(),
            Some("2026-03-31T09:00:00Z")
        );
        // And back in October: 11:00 CEST to 11:00 CET.
        assert_eq!(
            business_days(&cal, "2026-10-23T11:00:00+02:00", 2).as_deref(),
            Some("2026-10-27T10:00:00Z")
        );
        // All time counting: the same local time N days later in the zone.
        let tz: Tz = "Europe/Amsterdam".parse().unwrap();
        let from = whole_second(at("2026-03-28T12:00:00+01:00"));
        assert_eq!(
            add_days_in_zone(tz, from, 1).map(from_whole_second),
            Some(at("2026-03-29T12:00:00+02:00"))
        );
        assert_eq!(add_days_in_zone(tz, from, 0), Some(from));
        assert_eq!(
            add_days_in_zone(chrono_tz::UTC, from, 2),
            Some(from + 2 * 86_400)
        );
    }

    #[test]
    fn business_days_that_never_come() {
        // Open only on one override date: one business day after it, none.
        let cal = calendar(r#"{"timezone": "UTC", "overrides": {"2026-11-24": ["09:00-17:00"]}}"#);
        assert_eq!(
            business_days(&cal, "2026-11-20T12:00:00Z", 1).as_deref(),
            Some("2026-11-24T12:00:00Z")
        );
        assert_eq!(business_days(&cal, "2026-11-20T12:00:00Z", 2), None);
        assert_eq!(business_days(&cal, "2026-11-24T18:00:00Z", 0), None);
        // Near the end of time.
        let cal = office();
        assert_eq!(business_days(&cal, "9999-12-30T12:00:00Z", 2), None);
        assert_eq!(
            add_days_in_zone(chrono_tz::UTC, whole_second(at("9999-12-30T12:00:00Z")), 2),
            None
        );
    }

    #[test]
    fn deadlines_on_an_office_calendar() {
        let cal = office();
        for (from, open, due) in [
            // The product's example: Friday 16:45 + 30m is due Monday 09:15.
            ("2026-11-20T16:45:00+01:00", "30m", "2026-11-23T08:15:00Z"),
            // Used up exactly at closing: due at 17:00, not Monday 09:00.
            ("2026-11-20T16:30:00+01:00", "30m", "2026-11-20T16:00:00Z"),
            ("2026-11-20T09:00:00+01:00", "8h", "2026-11-20T16:00:00Z"),
            ("2026-11-20T09:00:01+01:00", "8h", "2026-11-23T08:00:01Z"),
            // Closed at the start: counting begins at the next opening.
            ("2026-11-21T10:00:00+01:00", "1h", "2026-11-23T09:00:00Z"),
            ("2026-11-23T07:00:00+01:00", "15m", "2026-11-23T08:15:00Z"),
            // Tuesday's lunch break does not count.
            ("2026-11-24T11:30:00+01:00", "1h", "2026-11-24T12:30:00Z"),
            ("2026-11-24T12:15:00+01:00", "30m", "2026-11-24T12:30:00Z"),
            // "1d" is 24 hours of open time: Monday 8h, Tuesday 7h, Wednesday 8h, Thursday 1h.
            ("2026-11-23T09:00:00+01:00", "1d", "2026-11-26T09:00:00Z"),
            // Override (Thursday 24 Dec open 09–13), holiday Friday 25 Dec.
            ("2026-12-24T12:30:00+01:00", "1h", "2026-12-28T08:30:00Z"),
            ("2026-12-24T14:00:00+01:00", "10m", "2026-12-28T08:10:00Z"),
            // A zero target is due at once, even while closed.
            ("2026-11-21T10:00:00+01:00", "0s", "2026-11-21T09:00:00Z"),
        ] {
            assert_eq!(deadline(&cal, from, open), due, "{from} + {open}");
        }
    }

    #[test]
    fn an_empty_override_closes_the_date_and_an_override_beats_a_holiday() {
        let cal = calendar(
            r#"{"timezone": "Europe/Amsterdam",
                "hours": {"mon": ["09:00-17:00"], "tue": ["09:00-17:00"], "wed": ["09:00-17:00"]},
                "holidays": ["2026-11-24"],
                "overrides": {"2026-11-24": ["10:00-11:00"], "2026-11-25": []}}"#,
        );
        // Monday 16:30 + 2h: 30m Monday, 1h in Tuesday's override, Wednesday closed,
        // so the last 30m fall on the next Monday.
        assert_eq!(
            deadline(&cal, "2026-11-23T16:30:00+01:00", "2h"),
            "2026-11-30T08:30:00Z"
        );
        assert!(!cal.is_open_at(at("2026-11-25T10:00:00+01:00")));
        assert!(cal.is_open_at(at("2026-11-24T10:00:00+01:00")));
        assert!(!cal.is_open_at(at("2026-11-24T11:00:00+01:00")));
    }

    #[test]
    fn overnight_windows_belong_to_the_date_they_start_on() {
        let cal = calendar(
            r#"{"timezone": "Europe/Amsterdam",
                "hours": {"mon": ["22:00-06:00"], "wed": ["22:00-06:00"]},
                "holidays": ["2026-11-24", "2026-11-25"]}"#,
        );
        for (from, open, due) in [
            // Monday 23:00 + 6h: Tuesday is a holiday, yet Monday's window runs to 06:00.
            ("2026-11-23T23:00:00+01:00", "6h", "2026-11-24T04:00:00Z"),
            // Tuesday 05:00 + 2h: an hour of Monday's tail; Wednesday is a holiday, so its
            // window is gone and the second hour ends on the next Monday at 23:00.
            ("2026-11-24T05:00:00+01:00", "2h", "2026-11-30T22:00:00Z"),
        ] {
            assert_eq!(deadline(&cal, from, open), due, "{from} + {open}");
        }
        // Monday's early morning is Sunday's (closed) window, not Monday's.
        assert!(!cal.is_open_at(at("2026-11-23T03:00:00+01:00")));
        assert!(cal.is_open_at(at("2026-11-24T03:00:00+01:00")));
    }

    #[test]
    fn touching_windows_count_as_one_opening() {
        let cal = calendar(
            r#"{"timezone": "UTC", "hours": {"mon": ["00:00-24:00"], "tue": ["00:00-12:00", "12:00-24:00"], "wed": ["18:00-00:00"]}}"#,
        );
        for (from, open, due) in [
            // Monday 2026-11-23 00:00 UTC + 48h runs through Monday and Tuesday.
            ("2026-11-23T00:00:00Z", "48h", "2026-11-25T00:00:00Z"),
            ("2026-11-23T00:00:00Z", "54h", "2026-11-26T00:00:00Z"),
        ] {
            assert_eq!(deadline(&cal, from, open), due, "{from} + {open}");
        }
        assert_eq!(
            cal.open_time_between(at("2026-11-23T00:00:00Z"), at("2026-11-30T00:00:00Z")),
            54 * 3600
        );
    }

    /// Open seconds on one local date of a calendar open `window` every day.
    fn open_on(zone: &str, window: &str, from: &str, to: &str) -> i64 {
        daily(zone, window).open_time_between(at(from), at(to))
    }

    #[test]
    fn windows_are_wall_clock_times_on_daylight_saving_days() {
        let h = 3600;
        // Amsterdam: 29 Mar 2026 has 23 hours, 25 Oct 2026 has 25.
        for (zone, window, from, to, expected) in [
            (
                "Europe/Amsterdam",
                "09:00-17:00",
                "2026-03-29T00:00:00+01:00",
                "2026-03-30T00:00:00+02:00",
                8 * h,
            ),
            (
                "Europe/Amsterdam",
                "00:00-24:00",
                "2026-03-29T00:00:00+01:00",
                "2026-03-30T00:00:00+02:00",
                23 * h,
            ),
            (
                "Europe/Amsterdam",
                "00:00-24:00",
                "2026-10-25T00:00:00+02:00",
                "2026-10-26T00:00:00+01:00",
                25 * h,
            ),
            (
                "Europe/Amsterdam",
                "09:00-17:00",
                "2026-10-25T00:00:00+02:00",
                "2026-10-26T00:00:00+01:00",
                8 * h,
            ),
            // The night of Saturday to Sunday around the change: 7 and 9 real hours.
            (
                "Europe/Amsterdam",
                "22:00-06:00",
                "2026-03-28T12:00:00+01:00",
                "2026-03-29T12:00:00+02:00",
                7 * h,
            ),
            (
                "Europe/Amsterdam",
                "22:00-06:00",
                "2026-10-24T12:00:00+02:00",
                "2026-10-25T12:00:00+01:00",
                9 * h,
            ),
            // A window starting in the spring gap starts when the gap ends (03:00 CEST); an
            // ambiguous start in autumn takes the earlier 02:30 (CEST).
            (
                "Europe/Amsterdam",
                "02:30-04:00",
                "2026-03-29T00:00:00+01:00",
                "2026-03-30T00:00:00+02:00",
                h,
            ),
            (
                "Europe/Amsterdam",
                "02:30-04:00",
                "2026-10-25T00:00:00+02:00",
                "2026-10-26T00:00:00+01:00",
                5 * h / 2,
            ),
            // A window wholly inside the gap has no real time.
            (
                "Europe/Amsterdam",
                "02:10-02:50",
                "2026-03-29T00:00:00+01:00",
                "2026-03-30T00:00:00+02:00",
                0,
            ),
            // New York: 8 Mar 2026 has 23 hours, 1 Nov 2026 has 25.
            (
                "America/New_York",
                "09:00-17:00",
                "2026-03-08T00:00:00-05:00",
                "2026-03-09T00:00:00-04:00",
                8 * h,
            ),
            (
                "America/New_York",
                "00:00-24:00",
                "2026-03-08T00:00:00-05:00",
                "2026-03-09T00:00:00-04:00",
                23 * h,
            ),
            (
                "America/New_York",
                "00:00-24:00",
                "2026-11-01T00:00:00-04:00",
                "2026-11-02T00:00:00-05:00",
                25 * h,
            ),
            (
                "America/New_York",
                "22:00-06:00",
                "2026-03-07T12:00:00-05:00",
                "2026-03-08T12:00:00-04:00",
                7 * h,
            ),
            (
                "America/New_York",
                "22:00-06:00",
                "2026-10-31T12:00:00-04:00",
                "2026-11-01T12:00:00-05:00",
                9 * h,
            ),
        ] {
            assert_eq!(
                open_on(zone, window, from, to),
                expected,
                "{zone} {window} {from}"
            );
        }
    }

    #[test]
    fn deadlines_across_daylight_saving_changes() {
        let amsterdam = daily("Europe/Amsterdam", "09:00-17:00");
        // Saturday 16:00 CET + 2h: one hour Saturday, then Sunday 09:00 CEST + 1h.
        assert_eq!(
            deadline(&amsterdam, "2026-03-28T16:00:00+01:00", "2h"),
            "2026-03-29T08:00:00Z"
        );
        let night = daily("America/New_York", "22:00-06:00");
        // Saturday 22:00 EST + 7h on the short night ends Sunday 06:00 EDT = 10:00Z.
        assert_eq!(
            deadline(&night, "2026-03-07T22:00:00-05:00", "7h"),
            "2026-03-08T10:00:00Z"
        );
        let whole = daily("America/New_York", "00:00-24:00");
        assert_eq!(
            deadline(&whole, "2026-11-01T00:00:00-04:00", "25h"),
            "2026-11-02T05:00:00Z"
        );
    }

    #[test]
    fn a_calendar_that_never_opens_has_no_deadline() {
        let closed = calendar(r#"{"timezone": "Europe/Amsterdam"}"#);
        assert_eq!(
            closed.add_open_time(at("2026-11-20T10:00:00Z"), dur("1m")),
            None
        );
        let once = calendar(
            r#"{"timezone": "Europe/Amsterdam", "overrides": {"2026-11-24": ["10:00-11:00"]}}"#,
        );
        assert_eq!(
            deadline(&once, "2026-11-20T10:00:00Z", "1h"),
            "2026-11-24T10:00:00Z"
        );
        assert_eq!(
            once.add_open_time(at("2026-11-20T10:00:00Z"), dur("61m")),
            None
        );
    }

    /// Found with the `calendar` and `sla_check` fuzz targets: a century of open time on a
    /// calendar open one minute a week walked 260,000 years to the end of chrono's dates
    /// (over a minute per deadline). Deadlines stop at the last instant RFC 3339 writes.
    #[test]
    fn a_deadline_after_the_year_9999_is_never() {
        let sparse = calendar(r#"{"timezone": "UTC", "hours": {"mon": ["00:00-00:01"]}}"#);
        assert_eq!(
            sparse.add_open_time(at("9990-01-01T00:00:00Z"), dur("36600d")),
            None
        );
        let always = daily("UTC", "00:00-24:00");
        let last = at("9999-12-31T23:00:00Z");
        assert_eq!(
            deadline(&always, "9999-12-31T23:00:00Z", "59m59s"),
            "9999-12-31T23:59:59Z"
        );
        assert_eq!(always.add_open_time(last, dur("1h")), None);
        // Walked, not looked up: the table is built around another instant.
        let walked = daily("Pacific/Kiritimati", "23:00-22:00");
        walked.precompute(
            NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            NaiveDate::from_ymd_opt(2027, 1, 1).unwrap(),
        );
        assert_eq!(walked.add_open_time(last, dur("1d")), None);
        assert_eq!(
            walked.open_time_between(at("9999-12-31T00:00:00Z"), last),
            // Closed from 22:00 to 23:00 at UTC+14, 08:00 to 09:00 UTC.
            22 * 3600
        );
    }

    #[test]
    fn rejects_invalid_and_overlapping_windows() {
        for bad in [
            "25:00-26:00",
            "09:00-09:00",
            "24:00-01:00",
            "9-17",
            "09:00",
            "09:60-10:00",
            "00:00-00:00",
            "24:00-24:00",
        ] {
            assert!(bad.parse::<TimeWindow>().is_err(), "{bad}");
        }
        for (good, shown) in [
            ("9:00-17:00", "09:00-17:00"),
            ("00:00-24:00", "00:00-24:00"),
            ("22:00-00:00", "22:00-00:00"),
        ] {
            assert_eq!(good.parse::<TimeWindow>().unwrap().to_string(), shown);
        }
        let err = BusinessCalendar::new(CalendarDefinition {
            timezone: Tz::UTC,
            hours: WeeklyHours {
                mon: vec!["22:00-06:00".parse().unwrap()],
                tue: vec!["05:00-09:00".parse().unwrap()],
                ..Default::default()
            },
            holidays: vec![],
            overrides: BTreeMap::new(),
        })
        .unwrap_err();
        assert_eq!(err.field, "hours.tue[0]");
        assert!(err.message.contains("overlaps the end of"), "{err}");
        let err = serde_json::from_str::<BusinessCalendar>(
            r#"{"timezone": "UTC", "overrides": {"2026-12-24": ["09:00-13:00", "12:00-14:00"]}}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("overrides.2026-12-24[1]"), "{err}");
        assert!(
            serde_json::from_str::<BusinessCalendar>(r#"{"timezone": "Mars/Olympus"}"#).is_err()
        );
        assert!(serde_json::from_str::<BusinessCalendar>(
            r#"{"timezone": "UTC", "hours": {"monday": []}}"#
        )
        .is_err());
    }

    #[test]
    fn serializes_as_its_definition() {
        let cal = office();
        let json = serde_json::to_string(&cal).unwrap();
        assert!(
            json.contains(r#""tue":["09:00-12:00","13:00-17:00"]"#),
            "{json}"
        );
        assert!(
            json.contains(r#""overrides":{"2026-12-24":["09:00-13:00"]}"#),
            "{json}"
        );
        let back: BusinessCalendar = serde_json::from_str(&json).unwrap();
        assert_eq!(back, cal);
    }

    #[test]
    fn the_table_stitches_to_walks_before_and_after_its_range() {
        let cal = office();
        cal.precompute(
            NaiveDate::from_ymd_opt(2026, 11, 24).unwrap(),
            NaiveDate::from_ymd_opt(2026, 11, 26).unwrap(),
        );
        let table = cal.table.get().unwrap();
        assert_eq!(table.starts.len(), 3, "Tue (two windows) and Wed");
        // Starts before the table, deadline after it: Monday 1h, Tuesday 7h, Wednesday 8h,
        // Thursday 1h.
        assert_eq!(
            deadline(&cal, "2026-11-23T16:00:00+01:00", "17h"),
            "2026-11-26T09:00:00Z"
        );
        assert_eq!(
            cal.open_time_between(
                at("2026-11-23T16:00:00+01:00"),
                at("2026-11-27T10:00:00+01:00")
            ),
            (1 + 7 + 8 + 8 + 1) * 3600
        );
    }

    /// A random valid calendar: zones with odd daylight-saving rules, up to three windows a
    /// day (some overnight), holidays and overrides near the dates the cases use.
    fn calendars() -> impl Strategy<Value = BusinessCalendar> {
        let zones = prop::sample::select(vec![
            "Europe/Amsterdam",
            "America/New_York",
            "Australia/Lord_Howe",
            "Asia/Kolkata",
            "America/Santiago",
            "UTC",
        ]);
        let day = prop::collection::vec(0u32..=1440, 0..6).prop_map(|mut cuts| {
            cuts.sort_unstable();
            cuts.dedup();
            cuts.chunks_exact(2)
                .filter_map(|c| TimeWindow::from_minutes(c[0], c[1]))
                .collect::<Vec<_>>()
        });
        let overnight = prop::option::of((1080u32..1440, 0u32..360));
        let dates = prop::collection::vec(0i64..120, 0..4);
        (
            zones,
            prop::array::uniform7(day),
            prop::array::uniform7(overnight),
            dates.clone(),
            dates,
        )
            .prop_filter_map(
                "overlapping windows",
                |(zone, days, nights, holidays, overrides)| {
                    let base = NaiveDate::from_ymd_opt(2026, 2, 1).unwrap();
                    let mut days = days;
                    for (windows, night) in days.iter_mut().zip(nights) {
                        if let Some((start, end)) = night {
                            if windows.iter().all(|w| w.span().1 <= start * 60) {
                                windows.extend(TimeWindow::from_minutes(start, end));
                            }
                        }
                    }
                    let [mon, tue, wed, thu, fri, sat, sun] = days;
                    let definition = CalendarDefinition {
                        timezone: zone.parse().unwrap(),
                        hours: WeeklyHours {
                            mon,
                            tue,
                            wed,
                            thu,
                            fri,
                            sat,
                            sun,
                        },
                        holidays: holidays.iter().map(|d| base + Duration::days(*d)).collect(),
                        overrides: overrides
                            .iter()
                            .map(|d| {
                                (
                                    base + Duration::days(*d),
                                    vec![TimeWindow::from_minutes(600, 660).unwrap()],
                                )
                            })
                            .collect(),
                    };
                    BusinessCalendar::new(definition).ok()
                },
            )
    }

    fn secs_of(date_offset_s: i64) -> Secs {
        at("2026-02-01T00:00:00Z").timestamp() + date_offset_s
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn a_deadline_is_exactly_the_target_of_open_time_and_no_later(
            cal in calendars(),
            start in 0i64..150 * 86_400,
            target in 1i64..80 * 3600,
        ) {
            let start = secs_of(start);
            if let Some(due) = cal.add_open_secs(start, target) {
                prop_assert!(due > start);
                prop_assert_eq!(cal.walk_open_between(start, due), target);
                // The second before the deadline is open: the deadline is inside an open
                // window or at its end, never in a closed stretch after it.
                prop_assert_eq!(cal.walk_open_between(due - 1, due), 1);
            } else {
                prop_assert!(!cal.weekly_open);
            }
        }

        #[test]
        fn deadlines_grow_with_the_target(
            cal in calendars(),
            start in 0i64..150 * 86_400,
            a in 0i64..60 * 3600,
            b in 0i64..60 * 3600,
        ) {
            let start = secs_of(start);
            let (small, large) = (a.min(b), a.max(b));
            match (cal.add_open_secs(start, small), cal.add_open_secs(start, large)) {
                (Some(x), Some(y)) => prop_assert!(x <= y),
                (None, Some(_)) => prop_assert!(false, "a smaller target never comes"),
                _ => {}
            }
        }

        #[test]
        fn the_table_agrees_with_the_walk(
            cal in calendars(),
            table_from in 0i64..100,
            table_days in 1i64..40,
            start in 0i64..150 * 86_400,
            target in 0i64..120 * 3600,
            span in 0i64..30 * 86_400,
        ) {
            let base = NaiveDate::from_ymd_opt(2026, 2, 1).unwrap() + Duration::days(table_from);
            cal.precompute(base, base + Duration::days(table_days));
            let start = secs_of(start);
            prop_assert_eq!(cal.add_open_secs(start, target), cal.walk_deadline(start, target));
            let via_time = cal
                .add_open_time(from_whole_second(start), SlaDuration::from_secs(target).unwrap())
                .map(whole_second);
            prop_assert_eq!(via_time, cal.walk_deadline(start, target));
            prop_assert_eq!(
                cal.open_secs_between(start, start + span),
                cal.walk_open_between(start, start + span)
            );
        }
    }
}
