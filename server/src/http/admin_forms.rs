//! The calendars and policies pages' forms. Each form is turned into the JSON body of the
//! `/api/v1` API and handed to the same service (`services::calendars`,
//! `services::policies`), then answers 303 back to the page with a notice. The editors post
//! to their page's own URL (`/calendars?edit=ID`); a failed save answers 422 with the page
//! rendered from the typed values and field errors (`http::form_echo`), so the pages work
//! the same with JavaScript off and hydrated.

use super::error::ApiError;
use super::{see_other, unavailable};
use crate::services;
use crate::services::conversations::Reevaluation;
use crate::state::AppState;
use axum::extract::{Form, Path, Query, State};
use axum::response::Response;
use promptly::account::FieldError;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::form_echo::Editing;

/// The page again (422) at the URL the form posted to, with what was typed (`form=1`), the
/// field errors (`err_<field>`) and, for errors that belong to no field, `err_form`.
pub(super) fn back_with_errors(
    page: &str,
    edit: Option<i64>,
    values: Vec<(&str, String)>,
    errors: Vec<(String, String)>,
) -> Response {
    let mut shown = vec![("form".to_string(), "1".to_string())];
    shown.extend(values.into_iter().map(|(k, v)| (k.to_string(), v)));
    shown.extend(errors);
    let path = edit.map_or(page.to_string(), |id| format!("{page}?edit={id}"));
    super::form_echo::show_again(path, shown)
}

/// Appends a message to the errors of a form field, keeping one entry per field.
/// A failed save of `page`'s editor: the page again with the field errors, each under the
/// form field `field_of` names; back to the page when the record is gone; 503 otherwise.
pub(super) fn save_failed(
    page: &str,
    id: Option<i64>,
    values: Vec<(&str, String)>,
    e: ApiError,
    field_of: fn(&FieldError) -> (String, String),
) -> Response {
    match e {
        ApiError::Unprocessable { errors } => {
            let mut mapped = Vec::new();
            for e in &errors {
                let (key, message) = field_of(e);
                push_error(&mut mapped, key, message);
            }
            back_with_errors(page, id, values, mapped)
        }
        ApiError::NotFound => see_other(page, &[("error", "not_found")]),
        e => unavailable(e),
    }
}

pub(super) fn push_error(errors: &mut Vec<(String, String)>, key: String, message: String) {
    match errors.iter_mut().find(|(k, _)| *k == key) {
        Some((_, m)) => {
            m.push(' ');
            m.push_str(&message);
        }
        None => errors.push((key, message)),
    }
}

// ---------------------------------------------------------------------------------------
// Calendars
// ---------------------------------------------------------------------------------------

/// The calendar form: one text input per weekday ("09:00-12:00, 13:00-17:00"), holidays one
/// date per line, overrides one "2026-12-24: 09:00-13:00" (or ": closed") per line.
#[derive(Debug, Default, Deserialize)]
pub(super) struct CalendarForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    timezone: String,
    #[serde(default)]
    mon: String,
    #[serde(default)]
    tue: String,
    #[serde(default)]
    wed: String,
    #[serde(default)]
    thu: String,
    #[serde(default)]
    fri: String,
    #[serde(default)]
    sat: String,
    #[serde(default)]
    sun: String,
    #[serde(default)]
    holidays: String,
    #[serde(default)]
    overrides: String,
}

impl CalendarForm {
    fn days(&self) -> [(&'static str, &str); 7] {
        [
            ("mon", &self.mon),
            ("tue", &self.tue),
            ("wed", &self.wed),
            ("thu", &self.thu),
            ("fri", &self.fri),
            ("sat", &self.sat),
            ("sun", &self.sun),
        ]
    }

    fn values(&self) -> Vec<(&'static str, String)> {
        let mut v = vec![
            ("name", self.name.clone()),
            ("description", self.description.clone()),
            ("timezone", self.timezone.clone()),
        ];
        v.extend(self.days().iter().map(|(d, t)| (*d, t.to_string())));
        v.push(("holidays", self.holidays.clone()));
        v.push(("overrides", self.overrides.clone()));
        v
    }
}

/// "09:00-12:00, 13:00-17:00" → ["09:00-12:00", "13:00-17:00"]; empty or "closed" → [].
fn windows(text: &str) -> Vec<Value> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("closed") {
        return vec![];
    }
    t.split([',', ';'])
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .map(|w| Value::String(w.to_string()))
        .collect()
}

fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().map(str::trim).filter(|l| !l.is_empty())
}

/// The form as the API's calendar body.
fn calendar_body(f: &CalendarForm) -> Value {
    let hours: Map<String, Value> = f
        .days()
        .iter()
        .map(|(d, t)| (d.to_string(), Value::Array(windows(t))))
        .collect();
    let holidays: Vec<Value> = lines(&f.holidays)
        .map(|l| Value::String(l.to_string()))
        .collect();
    let overrides: Map<String, Value> = lines(&f.overrides)
        .map(|l| match l.split_once(':') {
            Some((date, rest)) => (date.trim().to_string(), Value::Array(windows(rest))),
            None => (l.to_string(), Value::Array(vec![])),
        })
        .collect();
    json!({
        "name": f.name,
        "description": f.description,
        "timezone": f.timezone.trim(),
        "hours": hours,
        "holidays": holidays,
        "overrides": overrides,
    })
}

/// `[3]` at the start of a path rest → 3.
fn index_of(rest: &str) -> Option<usize> {
    rest.strip_prefix('[')?.split(']').next()?.parse().ok()
}

/// A validation error's path (`hours.tue[1]`, `holidays[2]`, `overrides.2026-12-24[0]`) as
/// the form field it belongs to, and a message that says where in the field.
fn calendar_field(e: &FieldError) -> (String, String) {
    let path = e.field.as_str();
    if let Some(rest) = path.strip_prefix("hours.") {
        let day: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphabetic())
            .collect();
        if WEEKDAYS.contains(&day.as_str()) {
            let message = match index_of(&rest[day.len()..]) {
                Some(i) => format!("Window {}: {}", i + 1, e.message),
                None => e.message.clone(),
            };
            return (format!("err_{day}"), message);
        }
        return ("err_form".into(), e.message.clone());
    }
    if let Some(rest) = path.strip_prefix("holidays") {
        let message = match index_of(rest) {
            Some(i) => format!("Line {}: {}", i + 1, e.message),
            None => e.message.clone(),
        };
        return ("err_holidays".into(), message);
    }
    if let Some(rest) = path.strip_prefix("overrides") {
        let date = rest.trim_start_matches('.').split('[').next().unwrap_or("");
        let message = if date.is_empty() || date == "?" {
            e.message.clone()
        } else {
            format!("{date}: {}", e.message)
        };
        return ("err_overrides".into(), message);
    }
    match path {
        "name" | "description" | "timezone" => (format!("err_{path}"), e.message.clone()),
        _ => ("err_form".into(), e.message.clone()),
    }
}

const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// `POST /calendars` creates, `POST /calendars?edit=ID` changes: the page's own URLs.
pub(super) async fn save_calendar_form(
    State(state): State<AppState>,
    Query(Editing { edit: id }): Query<Editing>,
    Form(form): Form<CalendarForm>,
) -> Response {
    let body = calendar_body(&form);
    let saved = match id {
        None => services::calendars::create(&state, body).await,
        Some(id) => services::calendars::update(&state, id, body).await,
    };
    match saved {
        Ok(rec) => see_other(
            "/calendars",
            &[
                ("notice", if id.is_some() { "updated" } else { "created" }),
                ("name", rec.name.as_str()),
            ],
        ),
        Err(e) => save_failed("/calendars", id, form.values(), e, calendar_field),
    }
}

pub(super) async fn delete_calendar(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Response {
    match services::calendars::delete(&state, id).await {
        Ok(()) => see_other("/calendars", &[("notice", "deleted")]),
        Err(ApiError::Conflict(_)) => see_other(
            "/calendars",
            &[("error", "in_use"), ("id", &id.to_string())],
        ),
        Err(ApiError::NotFound) => see_other("/calendars", &[("error", "not_found")]),
        Err(e) => unavailable(e),
    }
}

// ---------------------------------------------------------------------------------------
// Policies
// ---------------------------------------------------------------------------------------

/// The policy form: each target a number and a unit (`s`, `m`, `h`, `d`; an empty number
/// is no target), the warning a number and `%` or a unit, checkboxes for the rest.
#[derive(Debug, Default, Deserialize)]
pub(super) struct PolicyForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    calendar_id: String,
    #[serde(default)]
    frt_value: String,
    #[serde(default)]
    frt_unit: String,
    #[serde(default)]
    nrt_value: String,
    #[serde(default)]
    nrt_unit: String,
    #[serde(default)]
    rt_value: String,
    #[serde(default)]
    rt_unit: String,
    #[serde(default)]
    warning_value: String,
    #[serde(default)]
    warning_unit: String,
    /// Checkboxes: present ("on") when ticked.
    business_hours: Option<String>,
    pause_pending: Option<String>,
    pause_snoozed: Option<String>,
    apply_to_open: Option<String>,
}

impl PolicyForm {
    fn values(&self) -> Vec<(&'static str, String)> {
        let mut v = vec![
            ("name", self.name.clone()),
            ("description", self.description.clone()),
            ("calendar_id", self.calendar_id.clone()),
            ("frt_value", self.frt_value.clone()),
            ("frt_unit", self.frt_unit.clone()),
            ("nrt_value", self.nrt_value.clone()),
            ("nrt_unit", self.nrt_unit.clone()),
            ("rt_value", self.rt_value.clone()),
            ("rt_unit", self.rt_unit.clone()),
            ("warning_value", self.warning_value.clone()),
            ("warning_unit", self.warning_unit.clone()),
        ];
        for (key, on) in [
            ("business_hours", &self.business_hours),
            ("pause_pending", &self.pause_pending),
            ("pause_snoozed", &self.pause_snoozed),
            ("apply_to_open", &self.apply_to_open),
        ] {
            if on.is_some() {
                v.push((key, "on".into()));
            }
        }
        v
    }
}

/// A number and a unit as a duration or target text ("30" + "m" → "30m", "2" + "bd" →
/// "2bd"); anything but a whole number goes to the shared validation as typed, which explains
/// what is wrong with it (business days as a warning too).
fn duration_text(value: &str, unit: &str) -> Option<String> {
    let v = value.trim();
    if v.is_empty() {
        return None;
    }
    let unit = match unit {
        "s" | "m" | "h" | "d" | "bd" => unit,
        _ => "m",
    };
    if v.bytes().all(|b| b.is_ascii_digit()) {
        Some(format!("{v}{unit}"))
    } else {
        Some(v.to_string())
    }
}

/// The form as the API's policy body.
fn policy_body(f: &PolicyForm) -> Value {
    let mut body = Map::new();
    body.insert("name".into(), json!(f.name));
    body.insert("description".into(), json!(f.description));
    let calendar = f.calendar_id.trim();
    body.insert(
        "calendar_id".into(),
        if calendar.is_empty() {
            Value::Null
        } else {
            calendar
                .parse::<i64>()
                .map(Value::from)
                .unwrap_or_else(|_| json!(calendar))
        },
    );
    for (key, value, unit) in [
        ("first_response", &f.frt_value, &f.frt_unit),
        ("next_response", &f.nrt_value, &f.nrt_unit),
        ("resolution", &f.rt_value, &f.rt_unit),
    ] {
        if let Some(text) = duration_text(value, unit) {
            body.insert(key.into(), json!(text));
        }
    }
    let warning = f.warning_value.trim();
    if !warning.is_empty() {
        let text = if f.warning_unit == "%" && warning.bytes().all(|b| b.is_ascii_digit()) {
            format!("{warning}%")
        } else {
            duration_text(warning, &f.warning_unit).unwrap_or_default()
        };
        body.insert("warning".into(), json!(text));
    }
    body.insert(
        "business_hours_only".into(),
        json!(f.business_hours.is_some()),
    );
    let mut pause = Vec::new();
    if f.pause_pending.is_some() {
        pause.push("pending");
    }
    if f.pause_snoozed.is_some() {
        pause.push("snoozed");
    }
    body.insert("pause_on".into(), json!(pause));
    Value::Object(body)
}

/// A validation error's path as the policy form's field.
fn policy_field(e: &FieldError) -> (String, String) {
    let first = e.field.split(['.', '[']).next().unwrap_or(e.field.as_str());
    let key = match first {
        "first_response" => "frt",
        "next_response" => "nrt",
        "resolution" => "rt",
        "warning" => "warning",
        "calendar_id" => "calendar_id",
        "pause_on" => "pause_on",
        "business_hours_only" => "business_hours",
        "name" => "name",
        "description" => "description",
        _ => "form",
    };
    (format!("err_{key}"), e.message.clone())
}

/// The what-if page's data for its query string (see `app::api::get_what_if`): the draft
/// is the policy form's fields, read by [`policy_body`] as a save would read them.
pub(super) async fn what_if_page(
    state: &AppState,
    id: i64,
    query: &str,
    items: impl FnOnce(
        crate::store::PolicyRecord,
        Vec<crate::store::CalendarRecord>,
        &[crate::store::PolicyRecord],
    ) -> (app::api::PolicyItem, Vec<app::api::CalendarItem>),
) -> Result<Option<app::api::WhatIfData>, ApiError> {
    let Some(policy) = state.store.policy(id).await? else {
        return Ok(None);
    };
    let policies = state.store.list_policies().await?;
    let calendars = state.store.list_calendars().await?;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(key, v)| key == k && !v.trim().is_empty())
            .map(|(_, v)| v.trim().to_string())
    };
    let today = state.clock.now().date_naive();
    let (mut answer, mut job, mut errors) = (None, None, Vec::new());
    if let Some(job_id) = get("job").and_then(|j| j.parse::<u64>().ok()) {
        let found = state.jobs().get(job_id);
        if let Some(j) = found {
            answer = j
                .result
                .clone()
                .and_then(|r| serde_json::from_value(r).ok());
            job = Some(j);
        }
    } else if get("run").is_some() {
        let form: PolicyForm = serde_urlencoded::from_str(query).unwrap_or_default();
        let list = |k: &str| get(k).map(|v| json!([v])).unwrap_or(json!([]));
        let body = json!({
            "draft": policy_body(&form),
            "from": get("from"),
            "to": get("to"),
            "scope": {"channels": list("channel"), "teams": list("team"),
                      "priorities": list("priority")},
            "attainment": [get("level").and_then(|l| l.parse::<f64>().ok()).unwrap_or(90.0)],
        });
        match services::whatif::what_if(state, id, body).await {
            Ok(services::whatif::WhatIfOutcome::Done(a)) => answer = Some(*a),
            Ok(services::whatif::WhatIfOutcome::Running(j)) => job = Some(j),
            Err(ApiError::Unprocessable { errors: e }) => {
                errors = e.iter().map(what_if_field).collect();
            }
            Err(e) => return Err(e),
        }
    }
    let (policy, calendars) = items(policy, calendars, &policies);
    Ok(Some(app::api::WhatIfData {
        policy,
        calendars,
        today: today.to_string(),
        answer,
        job,
        errors,
    }))
}

#[derive(Deserialize)]
pub(super) struct JobForm {
    job: u64,
}

/// The what-if page's Cancel: stops the replay and shows the page with the job again.
pub(super) async fn cancel_what_if(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Form(JobForm { job }): Form<JobForm>,
) -> Response {
    state.jobs().cancel(job);
    see_other(
        &format!("/policies/{id}/what-if"),
        &[("job", &job.to_string())],
    )
}

/// A what-if error's path as the what-if form's field: the draft's as the policy form's,
/// the rest by their own names.
fn what_if_field(e: &FieldError) -> (String, String) {
    let first = e.field.split(['.', '[']).next().unwrap_or(e.field.as_str());
    match first {
        "from" | "to" | "attainment" => (format!("err_{first}"), e.message.clone()),
        "scope" => ("err_scope".into(), e.message.clone()),
        _ => policy_field(e),
    }
}

/// `POST /policies` creates, `POST /policies?edit=ID` changes: the page's own URLs.
pub(super) async fn save_policy_form(
    State(state): State<AppState>,
    Query(Editing { edit: id }): Query<Editing>,
    Form(form): Form<PolicyForm>,
) -> Response {
    let body = policy_body(&form);
    let saved = match id {
        None => services::policies::create(&state, body)
            .await
            .map(|rec| (rec, Reevaluation::Done(0))),
        Some(id) => {
            services::policies::update(&state, id, body, form.apply_to_open.is_some()).await
        }
    };
    match saved {
        Ok((rec, _)) if id.is_none() => see_other(
            "/policies",
            &[
                ("notice", "created"),
                ("edit", &rec.id.to_string()),
                ("version", &rec.version.to_string()),
            ],
        ),
        Ok((rec, outcome)) => {
            let (id, version) = (rec.id.to_string(), rec.version.to_string());
            let mut q = vec![
                ("notice", "updated"),
                ("edit", id.as_str()),
                ("version", version.as_str()),
            ];
            let n;
            match outcome {
                Reevaluation::Done(count) if form.apply_to_open.is_some() => {
                    n = count.to_string();
                    q.push(("reevaluated", n.as_str()));
                }
                Reevaluation::Done(_) => {}
                Reevaluation::Started(job) => {
                    n = job.id.to_string();
                    q.push(("job", n.as_str()));
                }
            }
            see_other("/policies", &q)
        }
        Err(e) => save_failed("/policies", id, form.values(), e, policy_field),
    }
}

pub(super) async fn make_default(State(state): State<AppState>, Path(id): Path<i64>) -> Response {
    match services::policies::set_default(&state, json!({ "policy": id })).await {
        Ok(_) => see_other("/policies", &[("notice", "default")]),
        Err(ApiError::Unprocessable { .. }) => see_other("/policies", &[("error", "not_found")]),
        Err(e) => unavailable(e),
    }
}

pub(super) async fn delete_policy(State(state): State<AppState>, Path(id): Path<i64>) -> Response {
    match services::policies::delete(&state, id).await {
        Ok(()) => see_other("/policies", &[("notice", "deleted")]),
        Err(ApiError::Conflict(_)) => see_other("/policies", &[("error", "is_default")]),
        Err(ApiError::NotFound) => see_other("/policies", &[("error", "not_found")]),
        Err(e) => unavailable(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_errors_map_to_their_inputs() {
        let e = FieldError::new("hours.tue[1]", "\"25:00-26:00\" is not a valid time window");
        let (key, message) = calendar_field(&e);
        assert_eq!(key, "err_tue");
        assert!(message.starts_with("Window 2: "), "{message}");
        assert_eq!(
            calendar_field(&FieldError::new("holidays[0]", "x")).0,
            "err_holidays"
        );
        assert_eq!(
            calendar_field(&FieldError::new("overrides.2026-12-24[0]", "x")).1,
            "2026-12-24: x"
        );
        assert_eq!(
            calendar_field(&FieldError::new("timezone", "x")).0,
            "err_timezone"
        );
    }

    #[test]
    fn calendar_form_becomes_the_api_body() {
        let form = CalendarForm {
            timezone: "Europe/Amsterdam".into(),
            mon: "09:00-12:00, 13:00-17:00".into(),
            sat: "closed".into(),
            holidays: "2026-12-25\n\n 2026-12-26 ".into(),
            overrides: "2026-12-24: 09:00-13:00\n2026-12-31: closed".into(),
            ..CalendarForm::default()
        };
        let body = calendar_body(&form);
        assert_eq!(body["hours"]["mon"], json!(["09:00-12:00", "13:00-17:00"]));
        assert_eq!(body["hours"]["sat"], json!([]));
        assert_eq!(body["holidays"], json!(["2026-12-25", "2026-12-26"]));
        assert_eq!(body["overrides"]["2026-12-24"], json!(["09:00-13:00"]));
        assert_eq!(body["overrides"]["2026-12-31"], json!([]));
    }

    #[test]
    fn policy_form_becomes_the_api_body() {
        let form = PolicyForm {
            frt_value: "30".into(),
            frt_unit: "m".into(),
            rt_value: "soon".into(),
            rt_unit: "h".into(),
            warning_value: "10".into(),
            warning_unit: "%".into(),
            pause_pending: Some("on".into()),
            ..PolicyForm::default()
        };
        let body = policy_body(&form);
        assert_eq!(body["first_response"], json!("30m"));
        assert_eq!(body["resolution"], json!("soon"));
        assert!(body.get("next_response").is_none());
        assert_eq!(body["warning"], json!("10%"));
        assert_eq!(body["pause_on"], json!(["pending"]));
        assert_eq!(body["calendar_id"], Value::Null);
        assert_eq!(
            policy_field(&FieldError::new("resolution", "bad")).0,
            "err_rt"
        );
    }
}
