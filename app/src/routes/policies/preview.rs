//! The policy form's preview of when a message would be due. It runs on the server only:
//! the SSR render computes it, and the hydrated form asks [`crate::api::preview_policy`] again
//! as the form changes. The browser's WebAssembly so carries neither the SLA engine's
//! business-hours walk nor the time-zone database (chrono-tz's ~900 KB of transition tables,
//! which a lazily loaded chunk cannot hold: data stays in the main module).

use super::parse_target;
use crate::api::CalendarItem;
use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use promptly::{BusinessCalendar, CalendarDefinition, Event, Policy, Target};

/// The preview of the policy form as it stands: each target's number and unit (first
/// response, next response, resolution), the business-hours toggle, and the chosen calendar
/// among `calendars`. The page's render and `preview_policy` both ask this.
pub fn of_form(
    [frt, nrt, rt]: [(&str, &str); 3],
    business_hours: bool,
    calendar_id: Option<i64>,
    calendars: &[CalendarItem],
    now: DateTime<Utc>,
) -> Vec<String> {
    let calendar = calendar_id
        .and_then(|id| calendars.iter().find(|c| c.id == id))
        .map(|c| (c.name.as_str(), &c.definition));
    preview(
        [
            ("first-response", parse_target(frt.0, frt.1)),
            ("next-response", parse_target(nrt.0, nrt.1)),
            ("resolution", parse_target(rt.0, rt.1)),
        ],
        business_hours,
        calendar,
        now,
    )
}

/// The next date after `today` that falls on `weekday`.
fn next_weekday(today: chrono::NaiveDate, weekday: Weekday) -> chrono::NaiveDate {
    let mut d = today + Duration::days(1);
    while d.weekday() != weekday {
        d += Duration::days(1);
    }
    d
}

/// The preview: for the first target present, when a message at a few sample instants
/// (next Friday 16:45 and next Monday 10:00 in the calendar's zone) would be due, as the SLA
/// engine computes it (business days too). Pure.
pub fn preview(
    targets: [(&'static str, Option<Result<Target, String>>); 3],
    business_hours: bool,
    calendar: Option<(&str, &CalendarDefinition)>,
    now: DateTime<Utc>,
) -> Vec<String> {
    let Some((metric, target)) = targets.into_iter().find_map(|(m, t)| t.map(|t| (m, t))) else {
        return vec!["Set a target to see when a message would be due.".into()];
    };
    let target = match target {
        Ok(t) => t,
        Err(e) => return vec![format!("The {metric} target: {e}")],
    };
    let tz: Tz = calendar.map_or(Tz::UTC, |(_, d)| d.timezone);
    let (counting, calendar) = match (business_hours, calendar) {
        (true, Some((name, def))) => match BusinessCalendar::new(def.clone()) {
            Ok(c) => (format!("business hours of “{name}”"), Some(c)),
            Err(e) => return vec![format!("The calendar “{name}” is not valid: {e}")],
        },
        (true, None) => ("every hour (no calendar chosen)".to_string(), None),
        // Counting every hour, the calendar still gives business days their time zone.
        (false, def) => (
            "every hour".to_string(),
            def.and_then(|(_, d)| BusinessCalendar::new(d.clone()).ok()),
        ),
    };
    let policy = Policy {
        first_response: Some(target),
        business_hours_only: business_hours,
        ..Policy::default()
    };
    let mut lines = vec![format!(
        "{} target {target}, counting {counting}, times in {}:",
        capitalise(metric),
        tz.name()
    )];
    let today = now.with_timezone(&tz).date_naive();
    for (weekday, h, m) in [(Weekday::Fri, 16, 45), (Weekday::Mon, 10, 0)] {
        let date = next_weekday(today, weekday);
        let Some(time) = NaiveTime::from_hms_opt(h, m, 0) else {
            continue;
        };
        let local = tz.from_local_datetime(&date.and_time(time));
        let Some(from) = local.earliest().or(local.latest()) else {
            continue;
        };
        let from = from.with_timezone(&Utc);
        let state = promptly::evaluate(&policy, calendar.as_ref(), &[Event::created(from)], from);
        let due = state.metrics.first().and_then(|m| m.due_at);
        let from_local = from.with_timezone(&tz);
        let line = match due {
            Some(due) => {
                let due_local = due.with_timezone(&tz);
                let far = due_local.date_naive() - from_local.date_naive() >= Duration::days(7)
                    || due_local.date_naive() < from_local.date_naive();
                let format = if far { "%A %Y-%m-%d %H:%M" } else { "%A %H:%M" };
                format!(
                    "A message on {} would be due {}",
                    from_local.format("%A %H:%M"),
                    due_local.format(format)
                )
            }
            None => format!(
                "A message on {} would never be due: the calendar does not open long enough again",
                from_local.format("%A %H:%M")
            ),
        };
        lines.push(line);
    }
    lines
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn office() -> CalendarDefinition {
        serde_json::from_str(
            r#"{"timezone":"Europe/Amsterdam","hours":{"mon":["09:00-17:00"],"tue":["09:00-17:00"],"wed":["09:00-17:00"],"thu":["09:00-17:00"],"fri":["09:00-17:00"]}}"#,
        )
        .unwrap()
    }

    #[test]
    fn preview_counts_business_hours_over_the_weekend() {
        let now: DateTime<Utc> = "2026-03-02T12:00:00Z".parse().unwrap(); // a Monday
        let def = office();
        let lines = preview(
            [
                ("first-response", parse_target("30", "m")),
                ("next-response", None),
                ("resolution", None),
            ],
            true,
            Some(("Office", &def)),
            now,
        );
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert_eq!(
            lines[1],
            "A message on Friday 16:45 would be due Monday 09:15"
        );
        assert_eq!(
            lines[2],
            "A message on Monday 10:00 would be due Monday 10:30"
        );
    }

    #[test]
    fn preview_around_the_clock_and_without_targets() {
        let now: DateTime<Utc> = "2026-03-02T12:00:00Z".parse().unwrap();
        let lines = preview(
            [
                ("first-response", None),
                ("next-response", None),
                ("resolution", parse_target("2", "h")),
            ],
            false,
            None,
            now,
        );
        assert!(lines[0].starts_with("Resolution target 2h"), "{lines:?}");
        assert_eq!(
            lines[1],
            "A message on Friday 16:45 would be due Friday 18:45"
        );
        let none = preview([("a", None), ("b", None), ("c", None)], false, None, now);
        assert_eq!(none.len(), 1);
        let bad = preview(
            [
                ("first-response", parse_target("soon", "m")),
                ("b", None),
                ("c", None),
            ],
            false,
            None,
            now,
        );
        assert!(bad[0].contains("not a valid target"), "{bad:?}");
    }

    #[test]
    fn preview_counts_business_days_with_the_engine() {
        let now: DateTime<Utc> = "2026-03-02T12:00:00Z".parse().unwrap(); // a Monday
        let def = office();
        let targets = [
            ("first-response", parse_target("2", "bd")),
            ("next-response", None),
            ("resolution", None),
        ];
        let lines = preview(targets.clone(), true, Some(("Office", &def)), now);
        assert!(
            lines[0].starts_with("First-response target 2bd"),
            "{lines:?}"
        );
        assert_eq!(
            lines[1],
            "A message on Friday 16:45 would be due Tuesday 16:45"
        );
        assert_eq!(
            lines[2],
            "A message on Monday 10:00 would be due Wednesday 10:00"
        );
        // Counting every hour: two days later, over the weekend.
        let lines = preview(targets, false, None, now);
        assert_eq!(
            lines[1],
            "A message on Friday 16:45 would be due Sunday 16:45"
        );
    }
}
