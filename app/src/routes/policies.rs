//! The admin page for SLA policies: list, create, edit (a new version once in use, optionally
//! applied to the open conversations), make default, delete, the versions of a policy, and a
//! preview of when a message would be due.
//!
//! Forms post to the server (`POST /policies`, `/policies/{id}`, `/policies/{id}/default`,
//! `/policies/{id}/delete`), which validates them as the JSON API does and redirects back here
//! with a notice, or with what was typed and field errors in the query. The preview is computed
//! with the domain crate on the server ([`preview`]): in the page's render from the saved (or
//! typed) values, and through `preview_policy` whenever a target, the business-hours toggle or
//! the calendar changes in the hydrated page.

use crate::api::{get_policies, CalendarItem, JobView, PoliciesData, PolicyItem};
use crate::components::editor::{editor_form, name_and_description, EditorForm, EditorPage};
use crate::components::form::{field_error, FieldErrors};
use crate::components::notice::notices;
use crate::components::table::{edit_delete, grid, list_table};
use crate::components::time::{local_minutes_of, ViewerZone};
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos_meta::Meta;
use leptos_router::hooks::use_query_map;
use leptos_router::params::ParamsMap;
use promptly::{Policy, SlaDuration, Target, WarningThreshold};

#[cfg(feature = "ssr")]
pub mod preview;
pub mod what_if;

/// The units of a duration; a day is 24 hours of counted time, not a calendar day.
const UNITS: [(&str, &str); 4] = [
    ("s", "seconds"),
    ("m", "minutes"),
    ("h", "hours"),
    ("d", "days (24 counted hours)"),
];

/// The unit a target has besides [`UNITS`]: business days of the calendar.
const BUSINESS_DAYS_UNIT: (&str, &str) = ("bd", "business days");

fn notice(code: &str) -> Option<&'static str> {
    Some(match code {
        "created" => "Policy created.",
        "updated" => "Policy saved.",
        "default" => "Default policy changed.",
        "deleted" => "Policy deleted.",
        _ => return None,
    })
}

fn error(code: &str) -> &'static str {
    match code {
        "is_default" => {
            "The default policy cannot be deleted. Make another policy the default first."
        }
        "not_found" => "That policy does not exist.",
        _ => "Something went wrong.",
    }
}

/// A duration as a number and the largest unit that divides it ("90m" → 90 minutes stays
/// "90" "m"; "2h" → "2" "h").
fn split_duration(d: SlaDuration) -> (String, String) {
    let s = d.as_secs();
    for (size, unit) in [(86_400, "d"), (3_600, "h"), (60, "m")] {
        if s > 0 && s % size == 0 {
            return ((s / size).to_string(), unit.into());
        }
    }
    (s.to_string(), "s".into())
}

/// A target as a number and its unit: business days as "bd", a duration as
/// [`split_duration`] splits it.
fn split_target(t: Target) -> (String, String) {
    match t {
        Target::Counted(d) => split_duration(d),
        Target::BusinessDays(days) => (days.to_string(), BUSINESS_DAYS_UNIT.0.into()),
    }
}

/// A number and a unit as a target, as the server reads the form.
pub fn parse_target(value: &str, unit: &str) -> Option<Result<Target, String>> {
    let v = value.trim();
    if v.is_empty() {
        return None;
    }
    let text = if v.bytes().all(|b| b.is_ascii_digit()) {
        format!("{v}{unit}")
    } else {
        v.to_string()
    };
    Some(text.parse::<Target>().map_err(|e| e.to_string()))
}

/// Targets in one line: "First response 30m · Resolution 1d".
pub fn targets_summary(p: &Policy) -> String {
    let parts: Vec<String> = [
        ("First response", p.first_response),
        ("Next response", p.next_response),
        ("Resolution", p.resolution),
    ]
    .into_iter()
    .filter_map(|(name, d)| d.map(|d| format!("{name} {d}")))
    .collect();
    if parts.is_empty() {
        "No targets".into()
    } else {
        parts.join(" · ")
    }
}

/// The preview's lines as the list's HTML.
#[cfg_attr(not(any(feature = "ssr", feature = "hydrate")), allow(dead_code))]
fn preview_html(lines: &[String]) -> String {
    lines
        .iter()
        .map(|l| {
            let text = l
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&quot;");
            format!("<li>{text}</li>")
        })
        .collect()
}

/// What the form shows: the typed values after an error, the policy being edited, or the
/// defaults of a new policy.
#[derive(Debug, Clone)]
struct Fields {
    name: String,
    description: String,
    calendar_id: String,
    frt: (String, String),
    nrt: (String, String),
    rt: (String, String),
    warning: (String, String),
    business_hours: bool,
    pause_pending: bool,
    pause_snoozed: bool,
    apply_to_open: bool,
}

impl Fields {
    fn new_policy() -> Self {
        Fields {
            name: String::new(),
            description: String::new(),
            calendar_id: String::new(),
            frt: (String::new(), "m".into()),
            nrt: (String::new(), "m".into()),
            rt: (String::new(), "h".into()),
            warning: ("25".into(), "%".into()),
            business_hours: false,
            pause_pending: true,
            pause_snoozed: true,
            apply_to_open: false,
        }
    }

    fn from_item(p: &PolicyItem) -> Self {
        let target = |t: Option<Target>, unit: &str| {
            t.map(split_target)
                .unwrap_or_else(|| (String::new(), unit.into()))
        };
        let pol = &p.policy;
        Fields {
            name: p.name.clone(),
            description: p.description.clone(),
            calendar_id: p.calendar_id.map(|c| c.to_string()).unwrap_or_default(),
            frt: target(pol.first_response, "m"),
            nrt: target(pol.next_response, "m"),
            rt: target(pol.resolution, "h"),
            warning: match pol.warning {
                WarningThreshold::Percent(n) => (n.to_string(), "%".into()),
                WarningThreshold::Fixed(d) => split_duration(d),
            },
            business_hours: pol.business_hours_only,
            pause_pending: pol.pause_on.pending,
            pause_snoozed: pol.pause_on.snoozed,
            apply_to_open: false,
        }
    }

    fn from_query(q: &ParamsMap) -> Self {
        let get = |k: &str| q.get(k).unwrap_or_default();
        let pair = |k: &str| (get(&format!("{k}_value")), get(&format!("{k}_unit")));
        Fields {
            name: get("name"),
            description: get("description"),
            calendar_id: get("calendar_id"),
            frt: pair("frt"),
            nrt: pair("nrt"),
            rt: pair("rt"),
            warning: pair("warning"),
            business_hours: q.get("business_hours").is_some(),
            pause_pending: q.get("pause_pending").is_some(),
            pause_snoozed: q.get("pause_snoozed").is_some(),
            apply_to_open: q.get("apply_to_open").is_some(),
        }
    }
}

/// The page inside its guard (see [`crate::components::guard::SectionPage`]).
#[component]
pub fn PoliciesPage() -> impl IntoView {
    let q = use_query_map();
    let edit = Memo::new(move |_| q.with(|q| q.get("edit").and_then(|v| v.parse::<i64>().ok())));
    let job = Memo::new(move |_| q.with(|q| q.get("job").and_then(|v| v.parse::<u64>().ok())));
    let data = Resource::new(move || (edit.get(), job.get()), |(e, j)| get_policies(e, j));
    view! {
        <EditorPage class="policies" loading="Loading policies…" data body=|data, query, zone| view! { <PoliciesBody data query zone/> }.into_any()>
            <h1>"Policies"</h1>
        </EditorPage>
    }
}

/// A background re-evaluation's progress; while it runs the page reloads itself every
/// second (a plain refresh, so it works without JavaScript too).
#[component]
fn JobProgress(job: JobView) -> impl IntoView {
    let text = if let Some(e) = &job.error {
        format!(
            "{}: stopped after {} of {}. {e}",
            job.kind, job.done, job.total
        )
    } else if job.finished {
        format!("{}: all {} done.", job.kind, job.total)
    } else {
        format!("{}: {} of {}…", job.kind, job.done, job.total)
    };
    view! {
        {(!job.finished).then(|| view! { <Meta http_equiv="refresh" content="1"/> })}
        <div class="job" role="status" data-testid="job-progress" data-finished=job.finished.to_string()>
            <progress max=job.total value=job.done></progress>
            " "<span>{text}</span>
        </div>
    }
}

#[component]
fn PoliciesBody(data: PoliciesData, query: ParamsMap, zone: ViewerZone) -> impl IntoView {
    let mut flash: Option<String> = query.get("notice").and_then(|c| notice(&c)).map(|m| {
        match (query.get("notice").as_deref(), query.get("version")) {
            (Some("updated"), Some(v)) => format!("Policy saved as version {v}."),
            _ => m.to_string(),
        }
    });
    if let (Some(f), Some(n)) = (flash.as_mut(), query.get("reevaluated")) {
        f.push_str(&format!(
            " {n} open conversation(s) re-evaluated with the new version."
        ));
    }
    let failure = query.get("error").map(|c| error(&c));
    let progress = data.job.clone().map(|job| view! { <JobProgress job/> });
    let (editing, fields, errors) = editor_form(
        &query,
        &data.policies,
        |p| p.id,
        Fields::from_query,
        Fields::from_item,
        Fields::new_policy,
    );
    let now: DateTime<Utc> = data.now.parse().unwrap_or_default();
    let versions = (editing.is_some() && !data.versions.is_empty()).then(|| {
        view! { <VersionsTable versions=data.versions.clone() zone/> }
    });
    view! {
        {progress}
        {notices(flash, failure)}
        <PolicyTable policies=data.policies.clone() calendars=data.calendars.clone() default_policy=data.default_policy/>
        <div class="policy-editor">
            <PolicyForm fields errors calendars=data.calendars.clone() now edit=editing.map(|p| (p.id, p.name, p.version))/>
            {versions}
        </div>
    }
    .into_any()
}

#[component]
fn PolicyTable(
    policies: Vec<PolicyItem>,
    calendars: Vec<CalendarItem>,
    default_policy: Option<i64>,
) -> impl IntoView {
    let head = view! { <th>"Name"</th><th>"Targets"</th><th>"Counting"</th><th>"Calendar"</th><th>"Version"</th><th>"Default"</th><th></th> };
    list_table(
        policies,
        "No SLA policies yet. Policies set first-response, next-response and resolution targets.",
        "grid policies-table",
        head,
        |p| {
            let id = p.id;
            let calendar = p
                .calendar_id
                .and_then(|c| calendars.iter().find(|x| x.id == c))
                .map(|c| c.name.clone())
                .unwrap_or_else(|| "—".into());
            let is_default = default_policy == Some(id);
            let default_cell = if is_default {
                view! { <span class="tag default">"Default"</span> }.into_any()
            } else {
                view! {
                    <form method="post" action=format!("/policies/{id}/default") class="inline">
                        <button type="submit">"Make default"</button>
                    </form>
                }
                .into_any()
            };
            view! {
                <tr data-name=p.name.clone() class:is-default=is_default>
                    <td><strong>{p.name.clone()}</strong><div class="muted small">{p.description.clone()}</div>
                        <a href=format!("/policies/{id}/what-if") class="small">"What if…"</a></td>
                    <td>{targets_summary(&p.policy)}</td>
                    <td>{if p.policy.business_hours_only { "Business hours" } else { "All hours" }}</td>
                    <td>{calendar}</td>
                    <td>{format!("v{}", p.version)}</td>
                    <td>{default_cell}</td>
                    {edit_delete("/policies", id)}
                </tr>
            }
        },
    )
}

#[component]
fn VersionsTable(versions: Vec<PolicyItem>, zone: ViewerZone) -> impl IntoView {
    let rows = versions
        .into_iter()
        .rev()
        .map(|v| {
            let created = local_minutes_of(&v.created_at, &zone);
            view! {
                <tr data-version=v.version>
                    <td>{format!("v{}", v.version)}</td>
                    <td>{created}</td>
                    <td>{targets_summary(&v.policy)}</td>
                    <td>{if v.policy.business_hours_only { "Business hours" } else { "All hours" }}</td>
                </tr>
            }
        })
        .collect_view();
    let head = view! { <th>"Version"</th><th>"Created"</th><th>"Targets"</th><th>"Counting"</th> };
    view! {
        <section class="versions">
            <h2>"Versions"</h2>
            {grid("grid versions-table", head, rows)}
        </section>
    }
    .into_any()
}

#[component]
fn UnitSelect(
    name: &'static str,
    label: &'static str,
    selected: String,
    with_percent: bool,
    with_business_days: bool,
    on_change: WriteSignal<String>,
) -> impl IntoView {
    let percent = with_percent
        .then(|| view! { <option value="%" selected=selected == "%">"% of the target"</option> });
    let business_days = with_business_days.then_some(BUSINESS_DAYS_UNIT);
    let options = UNITS
        .iter()
        .chain(business_days.iter())
        .map(|(v, label)| view! { <option value=*v selected=selected == *v>{*label}</option> })
        .collect_view();
    view! {
        <select name=name aria-label=label on:change=move |ev| on_change.set(event_target_value(&ev))>
            {percent}
            {options}
        </select>
    }
    .into_any()
}

#[component]
fn TargetInput(
    label: &'static str,
    key: &'static str,
    value: (String, String),
    value_signal: RwSignal<String>,
    unit_signal: RwSignal<String>,
    error: Option<String>,
) -> impl IntoView {
    let invalid = error.as_ref().map(|_| "true");
    view! {
        <div class="target">
            <label>{label}
                <span class="number-unit">
                    <input type="number" min="0" step="1" name=format!("{key}_value") value=value.0 placeholder="none"
                        aria-invalid=invalid on:input=move |ev| value_signal.set(event_target_value(&ev))/>
                    <UnitSelect name=match key { "frt" => "frt_unit", "nrt" => "nrt_unit", _ => "rt_unit" } label="Unit" selected=value.1 with_percent=false with_business_days=true on_change=unit_signal.write_only()/>
                </span>
            </label>
            {error.map(|m| view! { <p class="field-error" data-field=key>{m}</p> })}
        </div>
    }
    .into_any()
}

#[component]
fn PolicyForm(
    fields: Fields,
    errors: FieldErrors,
    calendars: Vec<CalendarItem>,
    now: DateTime<Utc>,
    edit: Option<(i64, String, i64)>,
) -> impl IntoView {
    let version = edit.as_ref().map(|e| e.2);
    let edit = edit.map(|(id, name, _)| (id, name));
    let frt_v = RwSignal::new(fields.frt.0.clone());
    let frt_u = RwSignal::new(fields.frt.1.clone());
    let nrt_v = RwSignal::new(fields.nrt.0.clone());
    let nrt_u = RwSignal::new(fields.nrt.1.clone());
    let rt_v = RwSignal::new(fields.rt.0.clone());
    let rt_u = RwSignal::new(fields.rt.1.clone());
    let business = RwSignal::new(fields.business_hours);
    let calendar = RwSignal::new(fields.calendar_id.clone());
    // The preview is the server's (`preview::of_form`): rendered with the page, and asked for
    // again (`preview_policy`) whenever a target, the toggle or the calendar changes in the
    // hydrated page. The list is set as HTML, so hydration keeps the server's lines as they
    // are; only an answer to the latest change replaces them.
    #[cfg(feature = "ssr")]
    let first = preview_html(&preview::of_form(
        [
            (&fields.frt.0, &fields.frt.1),
            (&fields.nrt.0, &fields.nrt.1),
            (&fields.rt.0, &fields.rt.1),
        ],
        fields.business_hours,
        fields.calendar_id.parse::<i64>().ok(),
        &calendars,
        now,
    ));
    #[cfg(not(feature = "ssr"))]
    let first = String::new();
    let preview_lines = RwSignal::new(first);
    #[cfg(feature = "hydrate")]
    {
        let now = now.to_rfc3339();
        let asked = StoredValue::new(0u64);
        Effect::watch(
            move || {
                (
                    [
                        (frt_v.get(), frt_u.get()),
                        (nrt_v.get(), nrt_u.get()),
                        (rt_v.get(), rt_u.get()),
                    ],
                    business.get(),
                    calendar.get().parse::<i64>().ok(),
                )
            },
            move |([frt, nrt, rt], business, calendar), _, _| {
                let ([frt, nrt, rt], business, calendar) =
                    ([frt.clone(), nrt.clone(), rt.clone()], *business, *calendar);
                let now = now.clone();
                asked.update_value(|n| *n += 1);
                let this = asked.get_value();
                leptos::task::spawn_local(async move {
                    let lines = crate::api::preview_policy(
                        frt.0, frt.1, nrt.0, nrt.1, rt.0, rt.1, business, calendar, now,
                    )
                    .await
                    .unwrap_or_else(|e| vec![format!("No preview: {e}")]);
                    if asked.get_value() == this {
                        preview_lines.set(preview_html(&lines));
                    }
                });
            },
            // Hydrating, the list already holds the server's lines; a form the browser built
            // (a link followed in the app) asks for its first lines at once.
            !Owner::current_shared_context().is_some_and(|sc| sc.during_hydration()),
        );
    }
    let calendar_options = calendars
        .iter()
        .map(|c| {
            let id = c.id.to_string();
            let selected = id == fields.calendar_id;
            view! { <option value=id selected=selected>{format!("{} ({})", c.name, c.definition.timezone.name())}</option> }
        })
        .collect_view();
    let invalid = {
        let errors = errors.clone();
        move |f: &str| errors.get(f).map(|_| "true")
    };
    let editing = edit.is_some();
    view! {
        <EditorForm path="/policies" class="policy-form" noun="policy" edit version form_error=errors.get("form")>
            {name_and_description(fields.name.clone(), fields.description.clone(), &errors)}
            <fieldset class="targets">
                <legend>"Targets (empty: no target)"</legend>
                <TargetInput label="First response" key="frt" value=fields.frt.clone() value_signal=frt_v unit_signal=frt_u error=errors.get("frt")/>
                <TargetInput label="Next response" key="nrt" value=fields.nrt.clone() value_signal=nrt_v unit_signal=nrt_u error=errors.get("nrt")/>
                <TargetInput label="Resolution" key="rt" value=fields.rt.clone() value_signal=rt_v unit_signal=rt_u error=errors.get("rt")/>
            </fieldset>
            <label class="check">
                <input type="checkbox" name="business_hours" checked=fields.business_hours on:change=move |ev| business.set(event_target_checked(&ev))/>
                " Count business hours only"
            </label>
            {field_error(&errors, "business_hours")}
            <label>"Calendar"
                <select name="calendar_id" aria-invalid=invalid("calendar_id") on:change=move |ev| calendar.set(event_target_value(&ev))>
                    <option value="" selected=fields.calendar_id.is_empty()>"No calendar (every hour counts)"</option>
                    {calendar_options}
                </select>
            </label>
            {field_error(&errors, "calendar_id")}
            <WarningInput value=fields.warning.clone() error=errors.get("warning")/>
            <fieldset class="pause">
                <legend>"Pause the resolution clock while"</legend>
                <label class="check"><input type="checkbox" name="pause_pending" checked=fields.pause_pending/>" pending"</label>
                <label class="check"><input type="checkbox" name="pause_snoozed" checked=fields.pause_snoozed/>" snoozed"</label>
            </fieldset>
            {field_error(&errors, "pause_on")}
            <div class="preview" data-testid="preview" aria-live="polite">
                <h3>"Preview"</h3>
                <ul inner_html=move || preview_lines.get()></ul>
            </div>
            {editing.then(|| view! {
                <label class="check">
                    <input type="checkbox" name="apply_to_open" checked=fields.apply_to_open/>
                    " Apply to open conversations (re-evaluate them with the new version)"
                </label>
            })}
        </EditorForm>
    }
    .into_any()
}

#[component]
fn WarningInput(value: (String, String), error: Option<String>) -> impl IntoView {
    let unit = RwSignal::new(value.1.clone());
    view! {
        <div class="target">
            <label>"Warning threshold"
                <span class="number-unit">
                    <input type="number" min="0" step="1" name="warning_value" value=value.0 placeholder="25"
                        aria-invalid=error.as_ref().map(|_| "true")/>
                    <UnitSelect name="warning_unit" label="Warning unit" selected=value.1 with_percent=true with_business_days=false on_change=unit.write_only()/>
                </span>
            </label>
            <p class="muted small">"A badge turns to “running out” when this much (or this share) of the target is left."</p>
            {error.map(|m| view! { <p class="field-error" data-field="warning">{m}</p> })}
        </div>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_split_into_number_and_unit() {
        for (text, number, unit) in [
            ("90m", "90", "m"),
            ("2h", "2", "h"),
            ("1d", "1", "d"),
            ("45s", "45", "s"),
        ] {
            assert_eq!(
                split_duration(text.parse().unwrap()),
                (number.into(), unit.into()),
                "{text}"
            );
        }
    }

    #[test]
    fn targets_split_and_parse_with_business_days() {
        for (text, number, unit) in [("2bd", "2", "bd"), ("90m", "90", "m"), ("1d", "1", "d")] {
            let target: Target = text.parse().unwrap();
            assert_eq!(split_target(target), (number.into(), unit.into()), "{text}");
            assert_eq!(parse_target(number, unit), Some(Ok(target)), "{text}");
        }
        assert_eq!(parse_target("", "bd"), None);
        assert_eq!(parse_target("3 bd", "m"), Some(Ok(Target::BusinessDays(3))));
        assert_eq!(
            parse_target("400", "bd"),
            Some(Err(r#""400bd" is more than 365 business days"#.into()))
        );
    }
}
