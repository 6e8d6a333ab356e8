//! The admin page for business-hours calendars: list, create, edit, delete.
//!
//! Forms post to the server (`POST /calendars`, `/calendars/{id}`, `/calendars/{id}/delete`),
//! which validates them as the JSON API does and redirects back here with a notice, or with
//! what was typed and field errors in the query, so the page works with or without JavaScript.

use crate::api::{get_calendars, CalendarItem, CalendarsData};
use crate::components::editor::{
    editor_form, name_and_description, saved_notice, EditorForm, EditorPage,
};
use crate::components::form::{field_error, options, FieldErrors};
use crate::components::notice::notices;
use crate::components::table::{edit_delete, list_table};
use leptos::prelude::*;
use leptos_router::params::ParamsMap;
use promptly::{CalendarDefinition, TimeWindow, WeeklyHours};

/// Weekday form fields, Monday first, with their labels.
pub(crate) const DAYS: [(&str, &str); 7] = [
    ("mon", "Monday"),
    ("tue", "Tuesday"),
    ("wed", "Wednesday"),
    ("thu", "Thursday"),
    ("fri", "Friday"),
    ("sat", "Saturday"),
    ("sun", "Sunday"),
];

fn notice(code: &str) -> Option<&'static str> {
    Some(match code {
        "created" => "Calendar created.",
        "updated" => "Calendar saved.",
        "deleted" => "Calendar deleted.",
        _ => return None,
    })
}

fn windows_text(windows: &[TimeWindow]) -> String {
    windows
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The weekly hours in one line: "Mon–Fri 09:00-17:00" style, day by day.
pub(crate) fn hours_summary(hours: &WeeklyHours) -> String {
    let parts: Vec<String> = (0..7)
        .filter(|&i| !hours.day(i).is_empty())
        .map(|i| format!("{} {}", &DAYS[i].1[..3], windows_text(hours.day(i))))
        .collect();
    if parts.is_empty() {
        "Closed every day".into()
    } else {
        parts.join(" · ")
    }
}

/// What the form shows: the typed values after an error, a calendar being edited, or the
/// defaults of a new calendar.
#[derive(Debug, Clone, Default)]
struct Fields {
    name: String,
    description: String,
    timezone: String,
    days: [String; 7],
    holidays: String,
    overrides: String,
}

impl Fields {
    fn new_calendar() -> Self {
        let nine_to_five = "09:00-17:00".to_string();
        Fields {
            timezone: "UTC".into(),
            days: [
                nine_to_five.clone(),
                nine_to_five.clone(),
                nine_to_five.clone(),
                nine_to_five.clone(),
                nine_to_five,
                String::new(),
                String::new(),
            ],
            ..Fields::default()
        }
    }

    fn from_item(c: &CalendarItem) -> Self {
        let d: &CalendarDefinition = &c.definition;
        Fields {
            name: c.name.clone(),
            description: c.description.clone(),
            timezone: d.timezone.name().to_string(),
            days: std::array::from_fn(|i| windows_text(d.hours.day(i))),
            holidays: d
                .holidays
                .iter()
                .map(|h| h.format("%Y-%m-%d").to_string())
                .collect::<Vec<_>>()
                .join("\n"),
            overrides: d
                .overrides
                .iter()
                .map(|(date, w)| {
                    let w = if w.is_empty() {
                        "closed".to_string()
                    } else {
                        windows_text(w)
                    };
                    format!("{}: {w}", date.format("%Y-%m-%d"))
                })
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }

    fn from_query(q: &ParamsMap) -> Self {
        let get = |k: &str| q.get(k).unwrap_or_default();
        Fields {
            name: get("name"),
            description: get("description"),
            timezone: get("timezone"),
            days: std::array::from_fn(|i| get(DAYS[i].0)),
            holidays: get("holidays"),
            overrides: get("overrides"),
        }
    }
}

/// The page inside its guard (see [`crate::components::guard::SectionPage`]).
#[component]
pub fn CalendarsPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| get_calendars());
    view! {
        <EditorPage class="calendars" loading="Loading calendars…" data body=|data, query, _zone| view! { <CalendarsBody data query/> }.into_any()>
            <h1>"Calendars"</h1>
        </EditorPage>
    }
}

#[component]
fn CalendarsBody(data: CalendarsData, query: ParamsMap) -> impl IntoView {
    let flash = saved_notice(&query, notice);
    let failure = query.get("error").map(|code| match code.as_str() {
        "in_use" => {
            let id = query.get("id").and_then(|i| i.parse::<i64>().ok());
            let found = data.calendars.iter().find(|c| Some(c.id) == id);
            match found {
                Some(c) if !c.used_by.is_empty() => format!(
                    "“{}” is used by the policy {} and cannot be deleted. Choose another calendar for it first.",
                    c.name,
                    c.used_by.join(", ")
                ),
                _ => "This calendar is used by a policy and cannot be deleted. Choose another calendar for that policy first.".to_string(),
            }
        }
        "not_found" => "That calendar does not exist.".to_string(),
        _ => "Something went wrong.".to_string(),
    });
    let (editing, fields, errors) = editor_form(
        &query,
        &data.calendars,
        |c| c.id,
        Fields::from_query,
        Fields::from_item,
        Fields::new_calendar,
    );
    let list = data.calendars.clone();
    view! {
        {notices(flash, failure)}
        <CalendarTable calendars=list/>
        <CalendarForm fields errors edit=editing.map(|c| (c.id, c.name))/>
    }
    .into_any()
}

#[component]
fn CalendarTable(calendars: Vec<CalendarItem>) -> impl IntoView {
    let head =
        view! { <th>"Name"</th><th>"Time zone"</th><th>"Hours"</th><th>"Used by"</th><th></th> };
    list_table(
        calendars,
        "No business-hours calendars yet. Without one, every hour counts.",
        "grid calendars-table",
        head,
        |c| {
            let id = c.id;
            let d = &c.definition;
            let extra = format!(
                "{} holiday(s) · {} override(s)",
                d.holidays.len(),
                d.overrides.len()
            );
            let used = if c.used_by.is_empty() {
                "—".to_string()
            } else {
                c.used_by.join(", ")
            };
            view! {
                <tr data-name=c.name.clone()>
                    <td><strong>{c.name.clone()}</strong><div class="muted small">{c.description.clone()}</div></td>
                    <td>{d.timezone.name()}</td>
                    <td>{hours_summary(&d.hours)}<div class="muted small">{extra}</div></td>
                    <td>{used}</td>
                    {edit_delete("/calendars", id)}
                </tr>
            }
        },
    )
}

#[component]
fn TimeZoneSelect(selected: String, invalid: bool) -> impl IntoView {
    let zones = options(promptly::local_time::zone_names(), &selected);
    view! {
        <select name="timezone" aria-invalid=invalid.then_some("true")>{zones}</select>
    }
    .into_any()
}

#[component]
fn CalendarForm(fields: Fields, errors: FieldErrors, edit: Option<(i64, String)>) -> impl IntoView {
    let invalid = {
        let errors = errors.clone();
        move |f: &str| errors.get(f).map(|_| "true")
    };
    let days = DAYS
        .iter()
        .enumerate()
        .map(|(i, (key, label))| {
            let key: &'static str = key;
            view! {
                <div class="day">
                    <label>{*label}
                        <input type="text" name=key value=fields.days[i].clone() placeholder="closed" aria-invalid=invalid(key)/>
                    </label>
                    {field_error(&errors, key)}
                </div>
            }
        })
        .collect_view();
    view! {
        <EditorForm path="/calendars" class="calendar-form" noun="calendar" edit version=None form_error=errors.get("form")>
            {name_and_description(fields.name.clone(), fields.description.clone(), &errors)}
            <label>"Time zone"
                <TimeZoneSelect selected=fields.timezone.clone() invalid=errors.get("timezone").is_some()/>
            </label>
            {field_error(&errors, "timezone")}
            <fieldset class="week">
                <legend>"Open hours per weekday"</legend>
                <p class="muted small">"Windows in local time, separated by commas, e.g. “09:00-12:00, 13:00-17:00”; an end before the start runs overnight; empty means closed."</p>
                {days}
            </fieldset>
            <label>"Holidays"
                <textarea name="holidays" rows="3" placeholder="2026-12-25" aria-invalid=invalid("holidays")>{fields.holidays.clone()}</textarea>
            </label>
            <p class="muted small">"One date (YYYY-MM-DD) per line; closed all day."</p>
            {field_error(&errors, "holidays")}
            <label>"Date overrides"
                <textarea name="overrides" rows="3" placeholder="2026-12-24: 09:00-13:00" aria-invalid=invalid("overrides")>{fields.overrides.clone()}</textarea>
            </label>
            <p class="muted small">"One date per line with its windows, e.g. “2026-12-24: 09:00-13:00” or “2026-12-31: closed”; replaces that day's hours."</p>
            {field_error(&errors, "overrides")}
        </EditorForm>
    }
    .into_any()
}
