//! `/policies/:id/what-if`: replay a period's conversations of a policy under a draft and
//! the current version, side by side, with target advice.
//!
//! Everything is in the page's query string, so the page works the same without JavaScript:
//! the form (GET) carries the draft as the policy form's fields plus the period, the scope
//! and the attainment level; `run=1` replays. A replay that runs past a few seconds goes on
//! as a job: the page shows its progress and reloads itself with `job=<id>` until it is done
//! (a Cancel button stops it). "Use" on an advised target replays with it in the draft; "Save
//! as a new version" posts the draft to the policy form's own URL: applying stays explicit.

use crate::api::{get_what_if, CalendarItem, JobView, PolicyItem, WhatIfData};
use crate::components::form::options;
use leptos::prelude::*;
use leptos_meta::{Meta, Title};
use leptos_router::hooks::{use_params_map, use_query_map};
use leptos_router::params::ParamsMap;
use promptly::clock::Metric;
use promptly::conversation::{Channel, Priority};
use promptly::whatif::{Advice, GroupReport, TargetReport, WhatIf};
use promptly::{SlaDuration, Target, WarningThreshold};

/// Each target: its form fields (value and unit, as the policy form names them) and label.
const METRICS: [(Metric, &str, &str, &str); 3] = [
    (
        Metric::FirstResponse,
        "frt_value",
        "frt_unit",
        "First response",
    ),
    (
        Metric::NextResponse,
        "nrt_value",
        "nrt_unit",
        "Next response",
    ),
    (Metric::Resolution, "rt_value", "rt_unit", "Resolution"),
];

/// Counted seconds as a duration's text ("1h30m"), or "—".
fn secs(s: Option<i64>) -> String {
    s.and_then(SlaDuration::from_secs)
        .map(|d| d.to_string())
        .unwrap_or_else(|| "—".into())
}

fn target_text(t: Option<Target>) -> String {
    t.map(|t| t.to_string()).unwrap_or_else(|| "—".into())
}

fn percent(p: Option<f64>) -> String {
    p.map(|p| format!("{p:.1} %")).unwrap_or_else(|| "—".into())
}

/// The form's values: the query's when it has the draft, else the policy's.
fn form_values(policy: &PolicyItem, q: &ParamsMap, today: &str) -> Vec<(&'static str, String)> {
    if q.get("name").is_some() {
        let keys = [
            "name",
            "description",
            "calendar_id",
            "frt_value",
            "frt_unit",
            "nrt_value",
            "nrt_unit",
            "rt_value",
            "rt_unit",
            "warning_value",
            "warning_unit",
            "business_hours",
            "pause_pending",
            "pause_snoozed",
            "from",
            "to",
            "channel",
            "team",
            "priority",
            "level",
        ];
        return keys
            .into_iter()
            .map(|k| (k, q.get(k).unwrap_or_default()))
            .collect();
    }
    let p = &policy.policy;
    let target = |d: Option<Target>| d.map(|d| d.to_string()).unwrap_or_default();
    let (warning_value, warning_unit) = match p.warning {
        WarningThreshold::Percent(n) => (n.to_string(), "%".to_string()),
        WarningThreshold::Fixed(d) => (d.to_string(), "s".to_string()),
    };
    let from = chrono::NaiveDate::parse_from_str(today, "%Y-%m-%d")
        .map(|d| (d - chrono::Duration::days(89)).to_string())
        .unwrap_or_default();
    let on = |b: bool| if b { "on".to_string() } else { String::new() };
    vec![
        ("name", policy.name.clone()),
        ("description", policy.description.clone()),
        (
            "calendar_id",
            policy
                .calendar_id
                .map(|c| c.to_string())
                .unwrap_or_default(),
        ),
        ("frt_value", target(p.first_response)),
        ("frt_unit", "m".into()),
        ("nrt_value", target(p.next_response)),
        ("nrt_unit", "m".into()),
        ("rt_value", target(p.resolution)),
        ("rt_unit", "h".into()),
        ("warning_value", warning_value),
        ("warning_unit", warning_unit),
        ("business_hours", on(p.business_hours_only)),
        ("pause_pending", on(p.pause_on.pending)),
        ("pause_snoozed", on(p.pause_on.snoozed)),
        ("from", from),
        ("to", today.to_string()),
        ("channel", String::new()),
        ("team", String::new()),
        ("priority", String::new()),
        ("level", "90".into()),
    ]
}

fn value<'a>(values: &'a [(&'static str, String)], key: &str) -> &'a str {
    values
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

/// This page's URL with `values`, `extra` pairs added.
fn page_url(
    id: i64,
    values: &[(&'static str, String)],
    extra: &[(&'static str, String)],
) -> String {
    let map: ParamsMap = values
        .iter()
        .chain(extra)
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (*k, v.clone()))
        .collect();
    format!("/policies/{id}/what-if{}", map.to_query_string())
}

/// The page inside its guard.
#[component]
pub fn WhatIfPage() -> impl IntoView {
    let params = use_params_map();
    let q = use_query_map();
    let key = move || {
        let id = params.with(|p| p.get("id").and_then(|v| v.parse::<i64>().ok()));
        let query = q.with(|q| q.to_query_string());
        (id, query.trim_start_matches('?').to_string())
    };
    let data = Resource::new(key, |(id, query)| async move {
        match id {
            Some(id) => get_what_if(id, query).await,
            None => Ok(None),
        }
    });
    view! {
        <section class="what-if admin-page">
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(Some(d)) => view! { <WhatIfBody data=d query=q.get_untracked()/> }.into_any(),
                        Ok(None) => view! {
                            <h1>"What if"</h1>
                            <p class="error" role="alert">"That policy does not exist."</p>
                        }.into_any(),
                        Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn WhatIfBody(data: WhatIfData, query: ParamsMap) -> impl IntoView {
    let id = data.policy.id;
    let values = form_values(&data.policy, &query, &data.today);
    let errors = data.errors.clone();
    let error = move |key: &str| {
        errors.iter().find(|(k, _)| k == &format!("err_{key}")).map(
            |(_, m)| view! { <p class="field-error" data-field=key.to_string()>{m.clone()}</p> },
        )
    };
    let progress = data
        .job
        .clone()
        .filter(|_| data.answer.is_none())
        .map(|job| view! { <Progress id job values=values.clone()/> });
    let answer = data.answer.clone().map(|a| {
        view! { <Answer id answer=a values=values.clone()/> }
    });
    view! {
        <Title text=format!("What if · {}", data.policy.name)/>
        <p class="breadcrumb"><a href="/policies">"Policies"</a>" / "<a href=format!("/policies?edit={id}")>{data.policy.name.clone()}</a></p>
        <h1>{format!("What if: {}", data.policy.name)}</h1>
        <p class="muted">"Replays the conversations of this policy in a period under a draft and under the current version (v"{data.policy.version}"), side by side. Nothing stored changes."</p>
        <DraftForm id values=values.clone() calendars=data.calendars.clone() error=error.clone()/>
        {(!data.errors.is_empty()).then(|| view! { <p class="error" role="alert">"The draft has errors; see the fields above."</p> })}
        {progress}
        {answer}
    }
}

#[component]
fn DraftForm<E, V>(
    id: i64,
    values: Vec<(&'static str, String)>,
    calendars: Vec<CalendarItem>,
    error: E,
) -> impl IntoView
where
    E: Fn(&str) -> Option<V> + Clone + Send + 'static,
    V: IntoView + 'static,
{
    let v = |k: &str| value(&values, k).to_string();
    let hidden = [
        "name",
        "description",
        "warning_value",
        "warning_unit",
        "pause_pending",
        "pause_snoozed",
    ]
    .into_iter()
    .filter(|k| !v(k).is_empty())
    .map(|k| view! { <input type="hidden" name=k value=v(k)/> })
    .collect_view();
    let target = |key: &'static str, label: &'static str| {
        let (value_name, unit_name) = (format!("{key}_value"), format!("{key}_unit"));
        let unit = v(&unit_name);
        view! {
            <label class="field">
                <span>{label}</span>
                <span class="inline-fields">
                    <input type="text" name=value_name.clone() value=v(&value_name) size="8" placeholder="none" aria-label=format!("{label} target")/>
                    <select name=unit_name aria-label=format!("{label} unit")>
                        <option value="s" selected=unit == "s">"seconds"</option>
                        <option value="m" selected=unit == "m" || unit.is_empty()>"minutes"</option>
                        <option value="h" selected=unit == "h">"hours"</option>
                        <option value="d" selected=unit == "d">"days (24 counted hours)"</option>
                        <option value="bd" selected=unit == "bd">"business days"</option>
                    </select>
                </span>
                {error.clone()(key)}
            </label>
        }
    };
    let calendar = v("calendar_id");
    let calendar_options = calendars
        .into_iter()
        .map(|c| {
            let selected = c.id.to_string() == calendar;
            view! { <option value=c.id.to_string() selected=selected>{c.name}</option> }
        })
        .collect_view();
    let channel = v("channel");
    let channel_options = Channel::ALL
        .iter()
        .map(|c| view! { <option value=c.as_str() selected=c.as_str() == channel>{c.label()}</option> })
        .collect_view();
    let priority = v("priority");
    view! {
        <form method="get" action=format!("/policies/{id}/what-if") class="what-if-form card" data-testid="what-if-form">
            {hidden}
            <fieldset>
                <legend>"Draft"</legend>
                {target("frt", "First response")}
                {target("nrt", "Next response")}
                {target("rt", "Resolution")}
                <label class="check"><input type="checkbox" name="business_hours" checked=!v("business_hours").is_empty()/>" Count business hours only"</label>
                <label class="field"><span>"Calendar"</span>
                    <select name="calendar_id"><option value="">"No calendar"</option>{calendar_options}</select>
                    {error.clone()("calendar_id")}
                </label>
            </fieldset>
            <fieldset>
                <legend>"Period and scope"</legend>
                <label class="field"><span>"From"</span><input type="date" name="from" value=v("from")/>{error.clone()("from")}</label>
                <label class="field"><span>"To (included)"</span><input type="date" name="to" value=v("to")/>{error.clone()("to")}</label>
                <label class="field"><span>"Channel"</span>
                    <select name="channel"><option value="">"All channels"</option>{channel_options}</select>
                </label>
                <label class="field"><span>"Team"</span><input type="text" name="team" value=v("team") placeholder="All teams" maxlength=promptly::limits::TEAM_LEN/></label>
                <label class="field"><span>"Priority"</span>
                    <select name="priority"><option value="">"All priorities"</option>{options(Priority::NAMES.iter().copied(), &priority)}</select>
                    {error.clone()("scope")}
                </label>
                <label class="field"><span>"Advise targets for attainment (%)"</span>
                    <input type="number" name="level" min="1" max="100" step="any" value=v("level")/>
                    {error.clone()("attainment")}
                </label>
            </fieldset>
            <button type="submit" name="run" value="1" class="primary">"Run what-if"</button>
        </form>
    }
}

/// A replay still running: its progress, reloading the page with the job until it is done.
#[component]
fn Progress(id: i64, job: JobView, values: Vec<(&'static str, String)>) -> impl IntoView {
    let url = page_url(id, &values, &[("job", job.id.to_string())]);
    let text = if job.cancelled {
        format!("Stopped after {} of {} conversations.", job.done, job.total)
    } else if let Some(e) = &job.error {
        format!(
            "Stopped after {} of {} conversations. {e}",
            job.done, job.total
        )
    } else {
        format!("Replaying {} of {} conversations…", job.done, job.total)
    };
    let running = !job.finished && !job.cancelled;
    view! {
        {running.then(|| view! { <Meta http_equiv="refresh" content=format!("1; url={url}")/> })}
        <div class="job card" role="status" data-testid="what-if-progress">
            <progress max=job.total value=job.done></progress>
            " "<span>{text}</span>
            {running.then(|| view! {
                <form method="post" action=format!("/policies/{id}/what-if/cancel") class="inline">
                    <input type="hidden" name="job" value=job.id.to_string()/>
                    <button type="submit">"Cancel"</button>
                </form>
            })}
        </div>
    }
}

fn report_row(
    label: &'static str,
    current: &TargetReport,
    draft: &TargetReport,
) -> impl IntoView + use<> {
    let pair = |a: String, b: String| {
        let changed = a != b;
        view! { <td>{a}</td><td class:changed=changed>{b}</td> }
    };
    view! {
        <tr>
            <th scope="row">{label}</th>
            {pair(target_text(current.target), target_text(draft.target))}
            {pair(percent(current.attainment), percent(draft.attainment))}
            {pair(current.met.to_string(), draft.met.to_string())}
            {pair(current.breached.to_string(), draft.breached.to_string())}
            {pair(current.warnings.to_string(), draft.warnings.to_string())}
            {pair(secs(current.median_s), secs(draft.median_s))}
            {pair(secs(current.p90_s), secs(draft.p90_s))}
        </tr>
    }
}

#[component]
fn Answer(id: i64, answer: WhatIf, values: Vec<(&'static str, String)>) -> impl IntoView {
    let WhatIf {
        current,
        draft,
        changed,
        changed_count,
        advice,
    } = answer;
    let rows = METRICS
        .iter()
        .map(|(m, _, _, label)| report_row(label, current.target(*m), draft.target(*m)))
        .collect_view();
    let breakdown = |title: &'static str, cur: &[GroupReport], dr: &[GroupReport]| {
        let rows = dr
            .iter()
            .map(|g| {
                let before = cur.iter().find(|c| c.key == g.key);
                let cells = METRICS
                    .iter()
                    .map(|(m, _, _, _)| {
                        let a = before.map(|b| percent(b.report.target(*m).attainment));
                        let b = percent(g.report.target(*m).attainment);
                        view! { <td>{a.unwrap_or_else(|| "—".into())}" → "{b}</td> }
                    })
                    .collect_view();
                let key = if g.key.is_empty() { "(none)".to_string() } else { g.key.clone() };
                view! { <tr><th scope="row">{key}</th><td>{g.report.conversations}</td>{cells}</tr> }
            })
            .collect_view();
        view! {
            <table class="grid what-if-breakdown" data-testid=format!("by-{}", title.to_lowercase())>
                <caption>{format!("By {}", title.to_lowercase())}</caption>
                <thead><tr><th scope="col">{title}</th><th scope="col">"Conversations"</th><th scope="col">"First response"</th><th scope="col">"Next response"</th><th scope="col">"Resolution"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
        }
    };
    let changed_links = changed
        .iter()
        .take(50)
        .map(|c| view! { <li><a href=format!("/conversations/{c}")>{format!("#{c}")}</a></li> })
        .collect_view();
    let save_fields = values
        .iter()
        .filter(|(k, v)| {
            !v.is_empty()
                && !matches!(
                    *k,
                    "from" | "to" | "channel" | "team" | "priority" | "level"
                )
        })
        .map(|(k, v)| view! { <input type="hidden" name=*k value=v.clone()/> })
        .collect_view();
    view! {
        <div class="what-if-answer" data-testid="what-if-answer">
            <h2>{format!("{} conversations replayed", draft.conversations)}</h2>
            <table class="grid what-if-summary" data-testid="what-if-summary">
                <caption>"Current version and draft, per target (attainment: met of met and breached)"</caption>
                <thead>
                    <tr><th scope="col">"Target"</th>
                        <th scope="col">"Target now"</th><th scope="col">"Draft"</th>
                        <th scope="col">"Attainment now"</th><th scope="col">"Draft"</th>
                        <th scope="col">"Met now"</th><th scope="col">"Draft"</th>
                        <th scope="col">"Breached now"</th><th scope="col">"Draft"</th>
                        <th scope="col">"Warnings now"</th><th scope="col">"Draft"</th>
                        <th scope="col">"Median now"</th><th scope="col">"Draft"</th>
                        <th scope="col">"p90 now"</th><th scope="col">"Draft"</th></tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
            <AdviceTable id advice values=values.clone()/>
            <h3>{format!("{changed_count} conversation(s) change outcome")}</h3>
            <ul class="changed" data-testid="what-if-changed">{changed_links}</ul>
            <div class="what-if-breakdowns">
                {breakdown("Channel", &current.by_channel, &draft.by_channel)}
                {breakdown("Team", &current.by_team, &draft.by_team)}
                {breakdown("Priority", &current.by_priority, &draft.by_priority)}
                {breakdown("Visibility", &current.by_visibility, &draft.by_visibility)}
            </div>
            <form method="post" action=format!("/policies?edit={id}") class="card">
                {save_fields}
                <p>"Applying the draft is a separate step: it saves a new version of the policy (conversations keep theirs)."</p>
                <button type="submit">"Save the draft as a new version"</button>
            </form>
        </div>
    }
}

#[component]
fn AdviceTable(id: i64, advice: Vec<Advice>, values: Vec<(&'static str, String)>) -> impl IntoView {
    let level = advice.first().map(|a| a.attainment).unwrap_or(90.0);
    let rows = advice
        .iter()
        .filter(|a| a.group == "all" || a.cycles > 0)
        .map(|a| {
            let (_, value_key, unit_key, label) = METRICS
                .iter()
                .find(|(m, _, _, _)| *m == a.metric)
                .copied()
                .unwrap_or(METRICS[0]);
            let scope = match a.group.as_str() {
                "all" => "All conversations".to_string(),
                "channel" => Channel::parse(&a.key).map_or(a.key.clone(), |c| c.label().to_string()),
                _ => format!("Priority {}", a.key),
            };
            let advised = secs(a.target_s);
            let use_it = (a.group == "all")
                .then_some(a.target_s)
                .flatten()
                .and_then(SlaDuration::from_secs)
                .map(|d| {
                    let mut with: Vec<(&'static str, String)> = values
                        .iter()
                        .filter(|(k, _)| *k != value_key && *k != unit_key)
                        .cloned()
                        .collect();
                    with.push((value_key, d.to_string()));
                    with.push((unit_key, "s".into()));
                    let url = page_url(id, &with, &[("run", "1".into())]);
                    view! { <a href=url class="button" data-testid=format!("use-{}", value_key.trim_end_matches("_value"))>"Use in draft"</a> }
                });
            view! {
                <tr data-metric=a.metric.as_str() data-group=a.group.clone() data-key=a.key.clone()>
                    <th scope="row">{label}</th><td>{scope}</td><td class="advised">{advised}</td><td>{a.cycles}</td><td>{use_it}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="grid what-if-advice" data-testid="what-if-advice">
            <caption>{format!("Advice: the smallest target that would have met {level} % of finished cycles (in the draft's counted time)")}</caption>
            <thead><tr><th scope="col">"Target"</th><th scope="col">"Scope"</th><th scope="col">"Advised"</th><th scope="col">"Finished cycles"</th><th scope="col"><span class="visually-hidden">"Action"</span></th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
}
