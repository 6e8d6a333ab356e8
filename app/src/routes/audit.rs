//! The audit log (admins): every change to settings and accounts, newest first, with who
//! made it and the record before and after. Filters are a GET form (the query string), and
//! "Older" pages back, so the page works the same with JavaScript off.

use crate::api::{get_audit, AuditData, AuditParams};
use crate::components::query::query_string;
use crate::components::table::list_table;
use crate::components::time::{local, use_zone, ViewerZone};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use promptly::audit::{AuditEntry, Entity};

#[component]
pub fn AuditPage() -> impl IntoView {
    let q = use_query_map();
    let params = Memo::new(move |_| {
        q.with(|q| AuditParams {
            entity: q.get("entity").filter(|v| !v.is_empty()),
            actor: q.get("actor").filter(|v| !v.is_empty()),
            since: q.get("since").filter(|v| !v.is_empty()),
            before: q.get("before").and_then(|v| v.parse().ok()),
        })
    });
    let data = Resource::new(
        move || params.get(),
        |p| get_audit(p.entity, p.actor, p.since, p.before),
    );
    let zone = use_zone();
    view! {
        <Title text="Audit log"/>
        <section class="audit">
            <h1>"Audit log"</h1>
            <p class="muted">"Who changed which setting or account, and when. Entries cannot be edited or removed."</p>
            <Filters params=params.get_untracked()/>
            <Suspense fallback=|| view! { <p class="muted">"Loading the audit log…"</p> }>
                {move || Suspend::new(async move {
                    let zone = zone.read().await;
                    match data.await {
                        Ok(d) => view! { <Entries data=d params=params.get_untracked() zone/> }.into_any(),
                        Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn Filters(params: AuditParams) -> impl IntoView {
    let chosen = params.entity.clone().unwrap_or_default();
    let options = Entity::ALL
        .into_iter()
        .map(|e| view! { <option value=e.as_str() selected=chosen == e.as_str()>{e.label()}</option> })
        .collect_view();
    view! {
        <form method="get" action="/admin/audit" class="card filters audit-filters">
            <label>"Record"
                <select name="entity">
                    <option value="" selected=chosen.is_empty()>"All"</option>
                    {options}
                </select>
            </label>
            <label>"Changed by"
                <input type="text" name="actor" value=params.actor.unwrap_or_default() placeholder="e-mail, token:NAME, cli"/>
            </label>
            <label>"Since (UTC, RFC 3339)"
                <input type="text" name="since" value=params.since.unwrap_or_default() placeholder="2026-12-01T00:00:00Z"/>
            </label>
            <button type="submit">"Filter"</button>
        </form>
    }
}

#[component]
fn Entries(data: AuditData, params: AuditParams, zone: ViewerZone) -> impl IntoView {
    let errors = data
        .errors
        .iter()
        .map(|e| view! { <p class="field-error" data-field=e.field.clone()>{format!("{}: {}", e.field, e.message)}</p> })
        .collect_view();
    // The next page: the same filters, older than the last entry shown.
    let older = data.more.then(|| {
        let last = data.entries.last().map(|e| e.id).unwrap_or_default();
        let mut q: Vec<(&str, String)> = vec![("before", last.to_string())];
        for (k, v) in [("entity", &params.entity), ("actor", &params.actor), ("since", &params.since)] {
            if let Some(v) = v {
                q.push((k, v.clone()));
            }
        }
        view! { <a class="older" href=format!("/admin/audit?{}", query_string(&q))>"Older entries"</a> }
    });
    let head = view! { <th>"When"</th><th>"Who"</th><th>"Record"</th><th>"Action"</th><th>"Before"</th><th>"After"</th> };
    view! {
        {errors}
        {list_table(data.entries, "No changes recorded for these filters.", "grid audit-table", head, |e| entry_row(e, &zone))}
        {older}
    }
}

fn entry_row(e: AuditEntry, zone: &ViewerZone) -> impl IntoView {
    let record = match &e.entity_id {
        Some(id) => format!("{} {id}", e.entity.as_str()),
        None => e.entity.as_str().to_string(),
    };
    let json = |v: &Option<serde_json::Value>| {
        v.as_ref()
            .map(|v| serde_json::to_string_pretty(v).unwrap_or_default())
    };
    let before = json(&e.before);
    let after = json(&e.after);
    let at = promptly::instant::format_utc(e.at);
    view! {
        <tr data-audit=e.id data-entity=e.entity.as_str() data-action=e.action.clone()>
            <td><time datetime=at>{local(e.at, zone)}</time></td>
            <td class="actor">{e.actor.clone()}</td>
            <td>{record}</td>
            <td class="action">{e.action.clone()}</td>
            <td>{before.map(|b| view! { <details><summary>"Before"</summary><pre>{b}</pre></details> })}</td>
            <td>{after.map(|a| view! { <details><summary>"After"</summary><pre>{a}</pre></details> })}</td>
        </tr>
    }
}
