//! Contract compliance for managers: the contracts with their current band and the
//! staffing what-if (`/compliance`), one contract's page (`/compliance/:id`: components,
//! metric table with bands, money and sparklines, trend charts drawn as SVG on the server,
//! breakdowns with drill-down, CSV), and the contract editor (`/compliance/new`,
//! `/compliance/:id/edit`). Everything is plain links and forms: readable without
//! JavaScript.

use crate::api::{
    get_contract, get_contract_for_edit, get_contracts, ContractData, ContractListItem,
    ContractsData, DrillData, StaffingAnswer,
};
use crate::components::notice::Missing;
use crate::components::query::url_escape;
use crate::components::time::{local, use_zone, ViewerZone};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use promptly::account::FieldError;
use promptly::compliance::{
    Band, Compliance, Contract, CounterpartyKind, Dimension, MetricKind, MetricResult,
    MetricTarget, Period, ServiceLevelFormula, Unit,
};

/// A figure in its metric's unit.
pub fn figure(kind: MetricKind, value: Option<f64>) -> String {
    let Some(v) = value else {
        return "—".into();
    };
    match kind.unit() {
        Unit::Percent => format!("{v:.1} %"),
        Unit::Nps => format!("{v:+.0}"),
        Unit::Seconds => format!("{v:.0} s"),
        Unit::Score => format!("{v:.2}"),
    }
}

fn money(x: f64, currency: &str) -> String {
    format!("{x:.2} {currency}")
}

fn band_badge(band: Band) -> impl IntoView {
    view! { <span class=format!("band band-{}", band.as_str()) data-band=band.as_str()>{band.label()}</span> }
}

fn notice(code: &str) -> Option<&'static str> {
    Some(match code {
        "saved" => "Contract saved.",
        "deleted" => "Contract deleted.",
        "departments" => "Departments saved.",
        _ => return None,
    })
}

// ---------------------------------------------------------------------------------------
// The list and the staffing what-if
// ---------------------------------------------------------------------------------------

/// The page inside its guard (see [`crate::components::guard::SectionPage`]).
#[component]
pub fn CompliancePage() -> impl IntoView {
    let q = use_query_map();
    let num = move |k: &str| {
        q.with_untracked(|q| q.get(k))
            .and_then(|v| v.trim().parse::<f64>().ok())
    };
    let text = move |k: &str| q.with_untracked(|q| q.get(k)).unwrap_or_default();
    let data = Resource::new(
        || (),
        move |_| {
            get_contracts(
                num("transactions"),
                num("aht_min"),
                num("interval_min"),
                num("within_s"),
                num("service_level"),
                num("max_occupancy"),
                num("shrinkage"),
                num("patience_min"),
            )
        },
    );
    let flash = q
        .with_untracked(|q| q.get("notice"))
        .and_then(|c| notice(&c));
    let form_value = move |k: &str, default: &str| {
        let v = text(k);
        if v.is_empty() {
            default.to_string()
        } else {
            v
        }
    };
    let fields = [
        ("transactions", "Contacts per interval", "", "0.1"),
        ("interval_min", "Interval, minutes", "30", "1"),
        ("aht_min", "Handling time, minutes", "", "0.1"),
        ("within_s", "Answered within, seconds", "20", "1"),
        ("service_level", "Target service level, %", "80", "0.1"),
        ("max_occupancy", "Occupancy cap, %", "85", "0.1"),
        ("shrinkage", "Shrinkage, %", "30", "0.1"),
        (
            "patience_min",
            "Customer patience, minutes (Erlang A; optional)",
            "",
            "0.1",
        ),
    ];
    let inputs = fields
        .into_iter()
        .map(|(name, label, default, step)| {
            view! {
                <label>{label}
                    <input type="number" name=name step=step min="0" value=form_value(name, default)/>
                </label>
            }
        })
        .collect_view();
    view! {
        <section class="compliance">
            <div class="page-head">
                <h1>"Contracts"</h1>
                <a class="button primary" href="/compliance/new">"New contract"</a>
            </div>
            {flash.map(|m| view! { <p class="flash" role="status">{m}</p> })}
            <Suspense fallback=|| view! { <p class="muted">"Loading contracts…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(d) => view! {
                            <ContractList data=d.clone()/>
                            <StaffingResult data=d.clone()/>
                            <Departments data=d typed=text("mapping") error=text("err_mapping")/>
                        }.into_any(),
                        Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
            <form method="get" action="/compliance#staffing" class="card staffing-form" id="staffing">
                <h2>"Staffing what-if"</h2>
                <p class="muted">"Agents needed for a forecast, by Erlang C (and Erlang A when customers abandon after a mean patience)."</p>
                <div class="grid-fields">{inputs}</div>
                <button type="submit" class="primary">"Work it out"</button>
            </form>
        </section>
    }
}

#[component]
fn ContractList(data: ContractsData) -> impl IntoView {
    if data.contracts.is_empty() {
        return view! { <p class="empty">"No contracts yet. Contracts compare what was promised with what was delivered."</p> }.into_any();
    }
    let rows = data
        .contracts
        .into_iter()
        .map(|c: ContractListItem| {
            let kind = match c.counterparty_kind {
                CounterpartyKind::Client => "Client",
                CounterpartyKind::Department => "Department",
            };
            let review_class = if c.review.highlighted { "review due" } else { "review" };
            let review_text = if c.review.days_left < 0 {
                format!("{} (overdue)", c.review_date)
            } else if c.review.highlighted {
                format!("{} (in {} days)", c.review_date, c.review.days_left)
            } else {
                c.review_date.clone()
            };
            view! {
                <tr data-contract=c.id>
                    <td><a href=format!("/compliance/{}", c.id)>{c.name.clone()}</a></td>
                    <td>{c.counterparty.clone()}<span class="muted">{format!(" · {kind}")}</span></td>
                    <td>{c.period.to_string()}</td>
                    <td>{band_badge(c.band)}</td>
                    <td class="num">{c.conversations}</td>
                    <td class="num">{money(c.due, &c.currency)}</td>
                    <td class=review_class>{review_text}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="grid contracts">
            <thead><tr><th>"Contract"</th><th>"With"</th><th>"Period"</th><th>"Band"</th><th class="num">"Conversations"</th><th class="num">"Due this period"</th><th>"Review"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}

/// The team → department mapping the department breakdowns use; admins edit it.
#[component]
fn Departments(data: ContractsData, typed: String, error: String) -> impl IntoView {
    let lines: Vec<String> = data
        .departments
        .iter()
        .map(|(team, dept)| format!("{team} = {dept}"))
        .collect();
    let current = if typed.is_empty() {
        lines.join("\n")
    } else {
        typed
    };
    if !data.can_edit_departments {
        let items = data
            .departments
            .into_iter()
            .map(|(t, d)| view! { <li>{format!("{t}: {d}")}</li> })
            .collect_view();
        return view! {
            <section class="card departments">
                <h2>"Departments"</h2>
                <ul>{items}</ul>
            </section>
        }
        .into_any();
    }
    view! {
        <form method="post" action="/compliance/departments" class="card departments">
            <h2>"Departments"</h2>
            <label>"One team per line: team = department"
                <textarea name="mapping" rows="4">{current}</textarea>
            </label>
            {(!error.is_empty()).then(|| view! { <p class="field-error" data-field="mapping">{error}</p> })}
            <button type="submit">"Save departments"</button>
        </form>
    }
    .into_any()
}

#[component]
fn StaffingResult(data: ContractsData) -> impl IntoView {
    match data.staffing {
        None => ().into_any(),
        Some(Err(errors)) => {
            let items = errors
                .into_iter()
                .map(|e: FieldError| view! { <li data-field=e.field.clone()>{format!("{}: {}", e.field, e.message)}</li> })
                .collect_view();
            view! { <div class="card error staffing-result" role="alert"><ul>{items}</ul></div> }
                .into_any()
        }
        Some(Ok(StaffingAnswer {
            erlang_c,
            erlang_a,
            on_shift,
        })) => {
            let gap = erlang_c.positions as i64 - on_shift as i64;
            view! {
                <div class="card staffing-result" role="status">
                    <h2>"Staffing needed"</h2>
                    <p><strong data-erlang-c=erlang_c.raw_positions>{format!("{} agents on the phones", erlang_c.raw_positions)}</strong>
                       {format!(", {} scheduled with shrinkage (Erlang C): service level {:.1} %, average speed of answer {:.0} s, occupancy {:.1} %.",
                           erlang_c.positions, erlang_c.service_level * 100.0, erlang_c.asa_min * 60.0, erlang_c.occupancy * 100.0)}</p>
                    {erlang_a.map(|a| view! {
                        <p data-erlang-a=a.raw_positions>{format!("With abandonment (Erlang A): {} agents, {} scheduled; service level {:.1} %, {:.1} % abandon.",
                            a.raw_positions, a.positions, a.service_level * 100.0, a.abandonment_probability * 100.0)}</p>
                    })}
                    <p>{format!("{on_shift} agents are active now")}
                       {if gap > 0 { format!(": {gap} short.") } else { ": enough.".to_string() }}</p>
                </div>
            }
            .into_any()
        }
    }
}

// ---------------------------------------------------------------------------------------
// One contract
// ---------------------------------------------------------------------------------------

/// A new contract's form: the metrics a support contract usually has (service level 80 %
/// within 20 s, average speed of answer 30 s, abandonment 5 %, CSAT 85 %, monthly), to edit
/// or clear, rather than empty rows.
fn new_contract_values() -> Vec<(String, String)> {
    let metrics = [
        (
            "service_level",
            "80",
            &[
                ("within_s", "20"),
                ("formula", "abandoned_after_count_missed"),
            ][..],
        ),
        ("asa", "30", &[][..]),
        ("abandonment_rate", "5", &[("short_abandon_s", "5")][..]),
        ("csat", "85", &[][..]),
    ];
    let mut v = vec![("counterparty_kind".to_string(), "client".to_string())];
    for (i, (kind, target, extra)) in metrics.into_iter().enumerate() {
        v.push((format!("m{i}_kind"), kind.into()));
        v.push((format!("m{i}_target"), target.into()));
        v.push((format!("m{i}_period"), "month".into()));
        for (k, x) in extra {
            v.push((format!("m{i}_{k}"), (*x).into()));
        }
    }
    v
}

/// The page inside its guard (see [`crate::components::guard::RoleGuard`]).
#[component]
pub fn ContractPage() -> impl IntoView {
    let params = use_params_map();
    let q = use_query_map();
    let get = move |k: &str| q.with_untracked(|q| q.get(k));
    // Links within the page (period, breakdown tab, drill-down) change the query: reload.
    let query = move || {
        let id = params.with(|p| p.get("id").and_then(|v| v.parse::<i64>().ok()));
        q.with(|q| {
            (
                id,
                q.get("period"),
                q.get("metric").and_then(|m| m.parse::<usize>().ok()),
                q.get("dimension"),
                q.get("key"),
                q.get("drill").is_some(),
            )
        })
    };
    let data = Resource::new(
        query,
        |(id, period, metric, dimension, key, drill)| async move {
            match id {
                Some(id) => get_contract(id, period, metric, dimension, key, Some(drill)).await,
                None => Ok(None),
            }
        },
    );
    let flash = get("notice").and_then(|c| notice(&c));
    let zone = use_zone();
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let zone = zone.read().await;
                match data.await {
                    Ok(Some(d)) => view! { <ContractView data=d flash zone/> }.into_any(),
                    Ok(None) => view! { <Missing heading="Contract not found" back="/compliance" back_text="Back to the contracts"/> }.into_any(),
                    Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

fn link(id: i64, period: &str, extra: &str) -> String {
    format!("/compliance/{id}?period={period}{extra}")
}

#[component]
fn ContractView(
    data: ContractData,
    flash: Option<&'static str>,
    zone: ViewerZone,
) -> impl IntoView {
    let ContractData {
        id,
        contract,
        review,
        compliance,
        breakdowns,
        trend,
        metric,
        drill,
    } = data;
    let c = compliance;
    let period = c.period.to_string();
    let prev = c.period.shift(-1).map(|p| p.to_string());
    let next = c.period.shift(1).map(|p| p.to_string());
    let overall = Contract::worst_band(&c.metrics);
    let review_text = if review.days_left < 0 {
        format!(
            "Review was due on {} ({} days ago).",
            contract.review_date, -review.days_left
        )
    } else {
        format!(
            "Review on {} (in {} days).",
            contract.review_date, review.days_left
        )
    };
    let rows = c
        .metrics
        .iter()
        .enumerate()
        .map(|(i, m)| metric_row(id, &period, i, m, &trend, &c.currency))
        .collect_view();
    let charts = contract
        .metrics
        .iter()
        .enumerate()
        .map(|(i, m)| trend_chart(i, m, &trend))
        .collect_view();
    let selected = metric.min(c.metrics.len().saturating_sub(1));
    let tabs = c
        .metrics
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let class = if i == selected { "tab current" } else { "tab" };
            view! { <a class=class href=link(id, &period, &format!("&metric={i}#breakdowns"))>{m.kind.label()}</a> }
        })
        .collect_view();
    let breakdown_tables = breakdowns
        .get(selected)
        .map(|b| {
            Dimension::ALL
                .into_iter()
                .map(|d| {
                    let name = match d {
                        Dimension::Department => "department",
                        Dimension::Team => "team",
                        Dimension::Agent => "agent",
                        Dimension::Channel => "channel",
                    };
                    let groups = b.get(d).to_vec();
                    let kind = c.metrics[selected].kind;
                    let rows = groups
                        .into_iter()
                        .map(|g| {
                            let key_param = g.key.as_deref().map_or(String::new(), |k| format!("&key={}", url_escape(k)));
                            let href = link(id, &period, &format!("&metric={selected}&dimension={name}{key_param}&drill=1#drill"));
                            view! {
                                <tr>
                                    <td>{g.key.clone().unwrap_or_else(|| "(none)".into())}</td>
                                    <td class="num">{g.conversations}</td>
                                    <td class="num"><a href=href>{figure(kind, g.result.actual)}</a></td>
                                    <td class="num muted">{counted_text(kind, g.result.numerator, g.result.denominator)}</td>
                                    <td>{band_badge(g.result.band)}</td>
                                </tr>
                            }
                        })
                        .collect_view();
                    view! {
                        <div class="breakdown" data-dimension=name>
                            <h3>{format!("By {name}")}</h3>
                            <table class="grid">
                                <thead><tr><th>{name}</th><th class="num">"Conversations"</th><th class="num">"Actual"</th><th class="num">"Counted"</th><th>"Band"</th></tr></thead>
                                <tbody>{rows}</tbody>
                            </table>
                        </div>
                    }
                })
                .collect_view()
        });
    let drill_view = drill.map(|d| drill_table(id, &period, selected, &c, d, &zone));
    let components = [
        ("Service description", contract.service_description.clone()),
        (
            "Our responsibilities",
            contract.our_responsibilities.clone(),
        ),
        (
            "Client's responsibilities",
            contract.client_responsibilities.clone(),
        ),
        ("Remedies", contract.remedy_terms.clone()),
        ("Incentives", contract.incentive_terms.clone()),
        ("Termination", contract.termination_terms.clone()),
    ]
    .into_iter()
    .filter(|(_, t)| !t.trim().is_empty())
    .map(|(h, t)| view! { <dt>{h}</dt><dd>{t}</dd> })
    .collect::<Vec<_>>();
    let components = if components.is_empty() {
        view! { <p class="muted">"No terms recorded: edit the contract to add its service description, responsibilities, remedies, incentives and termination terms."</p> }.into_any()
    } else {
        view! { <dl class="components">{components}</dl> }.into_any()
    };
    let scope = scope_text(&contract);
    let csv = format!("/api/v1/contracts/{id}/compliance.csv?period={period}");
    let money_line = if c.credit > 0.0 || c.bonus > 0.0 {
        format!(
            "Credits owed {}, bonus earned {}: the client pays {} of the {} fee.",
            money(c.credit, &c.currency),
            money(c.bonus, &c.currency),
            money(c.due, &c.currency),
            money(c.fee, &c.currency)
        )
    } else {
        format!(
            "No credits or bonus: the client pays the {} fee.",
            money(c.fee, &c.currency)
        )
    };
    view! {
        <Title text=contract.name.clone()/>
        <section class="contract" data-band=overall.as_str()>
            <p class="crumbs"><a href="/compliance">"Contracts"</a></p>
            <div class="page-head">
                <h1>{contract.name.clone()}</h1>
                <div class="actions">
                    <a class="button" href=format!("/compliance/{id}/edit")>"Edit"</a>
                    <a class="button" href=csv.clone() download="">"Download CSV"</a>
                </div>
            </div>
            {flash.map(|m| view! { <p class="flash" role="status">{m}</p> })}
            <p class="muted">{format!("With {} · {}", contract.counterparty, scope)}</p>
            <p class=if review.highlighted { "review due" } else { "review" }>{review_text}</p>
            <nav class="periods">
                {prev.map(|p| view! { <a rel="prev" href=link(id, &p, "")>{format!("← {p}")}</a> })}
                <strong class="period">{period.clone()}</strong>
                {next.map(|p| view! { <a rel="next" href=link(id, &p, "")>{format!("{p} →")}</a> })}
                <form method="get" action=format!("/compliance/{id}") class="inline">
                    <input type="text" name="period" value=period.clone() size="9" aria-label="Period (2026-11, 2026-W47, 2026-Q4)"/>
                    <button type="submit">"Show"</button>
                </form>
            </nav>
            <div class="summary card">
                <p>{band_badge(overall)}" "<strong>{overall.action()}</strong></p>
                <p>{format!("{} conversations in {}.", c.conversations, period)}</p>
                <p class="money" data-credit=c.credit data-bonus=c.bonus>{money_line}</p>
            </div>
            <table class="grid metrics">
                <thead><tr><th>"Metric"</th><th class="num">"Target"</th><th class="num">"Actual"</th><th class="num">"Counted"</th><th>"Band"</th><th>"Action"</th><th class="num">"Money"</th><th>"Last 12"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
            <h2>"Trends"</h2>
            <div class="trends">{charts}</div>
            <h2 id="breakdowns">"Breakdowns"</h2>
            <nav class="tabs">{tabs}</nav>
            <div class="breakdowns">{breakdown_tables}</div>
            {drill_view}
            <h2>"Contract"</h2>
            {components}
            <form method="post" action=format!("/compliance/{id}/delete") class="inline danger-zone"
                  onsubmit="return confirm('Delete this contract?')">
                <button type="submit" class="danger">"Delete contract"</button>
            </form>
        </section>
    }
}

fn scope_text(contract: &Contract) -> String {
    let s = &contract.scope;
    let mut parts = Vec::new();
    if !s.teams.is_empty() {
        parts.push(format!("teams {}", s.teams.join(", ")));
    }
    if !s.channels.is_empty() {
        let ch: Vec<&str> = s.channels.iter().map(|c| c.label()).collect();
        parts.push(format!("channels {}", ch.join(", ")));
    }
    if !s.labels.is_empty() {
        parts.push(format!("labels {}", s.labels.join(", ")));
    }
    if !s.policies.is_empty() {
        let p: Vec<String> = s.policies.iter().map(|p| format!("#{p}")).collect();
        parts.push(format!("policies {}", p.join(", ")));
    }
    if !s.email_domains.is_empty() {
        parts.push(format!("contacts at {}", s.email_domains.join(", ")));
    }
    if parts.is_empty() {
        "covers every conversation".into()
    } else {
        format!("covers {}", parts.join("; "))
    }
}

fn metric_row(
    id: i64,
    period: &str,
    i: usize,
    m: &MetricResult,
    trend: &[Compliance],
    currency: &str,
) -> impl IntoView {
    let money_text = m.money.as_ref().map_or(String::new(), |x| {
        if x.credit > 0.0 {
            format!("−{}", money(x.credit, currency))
        } else if x.bonus > 0.0 {
            format!("+{}", money(x.bonus, currency))
        } else {
            "—".into()
        }
    });
    let points: Vec<Option<f64>> = trend
        .iter()
        .map(|c| c.metrics.get(i).and_then(|r| r.actual))
        .collect();
    let drill = link(id, period, &format!("&metric={i}&drill=1#drill"));
    view! {
        <tr data-metric=m.kind.name() data-band=m.band.as_str()>
            <td>{m.kind.label()}</td>
            <td class="num">{figure(m.kind, Some(m.target))}</td>
            <td class="num actual"><a href=drill>{figure(m.kind, m.actual)}</a></td>
            <td class="num muted">{counted_text(m.kind, m.numerator, m.denominator)}</td>
            <td>{band_badge(m.band)}</td>
            <td class="action">{m.band.action()}</td>
            <td class="num">{money_text}</td>
            <td>{sparkline(&points, m.target)}</td>
        </tr>
    }
}

/// The "Counted" column: a rate's numerator over its denominator ("17 / 20"); an average's
/// (ASA, CES) or the NPS's how many it is taken over ("20 contacts", "12 responses"), not a
/// sum of seconds or scores over a count.
fn counted_text(kind: MetricKind, numerator: i64, denominator: i64) -> String {
    match kind.unit() {
        Unit::Percent => format!("{numerator} / {denominator}"),
        Unit::Seconds => format!("{denominator} contacts"),
        Unit::Nps | Unit::Score => format!("{denominator} responses"),
    }
}

/// The y range of a series with its target, padded.
fn y_range(points: &[Option<f64>], target: f64) -> (f64, f64) {
    let mut lo = target;
    let mut hi = target;
    for v in points.iter().flatten() {
        lo = lo.min(*v);
        hi = hi.max(*v);
    }
    if (hi - lo).abs() < 1e-9 {
        hi += 1.0;
        lo -= 1.0;
    }
    let pad = (hi - lo) * 0.1;
    (lo - pad, hi + pad)
}

fn polyline(points: &[Option<f64>], w: f64, h: f64, lo: f64, hi: f64, x0: f64) -> String {
    let n = points.len().max(2) as f64 - 1.0;
    points
        .iter()
        .enumerate()
        .filter_map(|(i, v)| {
            v.map(|v| {
                let x = x0 + (w - x0) * i as f64 / n;
                let y = h - (v - lo) / (hi - lo) * h;
                format!("{x:.1},{y:.1}")
            })
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn sparkline(points: &[Option<f64>], target: f64) -> impl IntoView {
    let (w, h) = (96.0, 24.0);
    let (lo, hi) = y_range(points, target);
    let ty = h - (target - lo) / (hi - lo) * h;
    view! {
        <svg class="sparkline" width="96" height="24" viewBox="0 0 96 24" role="img" aria-label="Last 12 periods">
            <line x1="0" x2="96" y1=format!("{ty:.1}") y2=format!("{ty:.1}") class="target"/>
            <polyline points=polyline(points, w, h, lo, hi, 0.0) class="series"/>
        </svg>
    }
}

fn trend_chart(i: usize, m: &MetricTarget, trend: &[Compliance]) -> AnyView {
    let (w, h, left) = (360.0, 120.0, 40.0);
    let points: Vec<Option<f64>> = trend
        .iter()
        .map(|c| c.metrics.get(i).and_then(|r| r.actual))
        .collect();
    let measured: Vec<(String, f64)> = trend
        .iter()
        .zip(&points)
        .filter_map(|(c, v)| v.map(|v| (c.period.to_string(), v)))
        .collect();
    if measured.len() < 2 {
        // A line needs two periods: say what there is instead of drawing an empty frame.
        let text = match measured.first() {
            Some((period, v)) => format!(
                "Only one period has figures so far ({period}: {}); the trend starts with the second.",
                figure(m.kind, Some(*v))
            ),
            None => "No period has figures yet; the trend starts with the second period.".into(),
        };
        return view! {
            <figure class="trend" data-metric=m.kind.name()>
                <figcaption>{format!("{} (target {})", m.kind.label(), figure(m.kind, Some(m.target)))}</figcaption>
                <p class="muted" data-testid="trend-one-period">{text}</p>
            </figure>
        }
        .into_any();
    }
    let (lo, hi) = y_range(&points, m.target);
    let ty = h - (m.target - lo) / (hi - lo) * h;
    let n = points.len().max(2) as f64 - 1.0;
    let dots = trend
        .iter()
        .enumerate()
        .filter_map(|(j, c)| {
            let r = c.metrics.get(i)?;
            let v = r.actual?;
            let x = left + (w - left) * j as f64 / n;
            let y = h - (v - lo) / (hi - lo) * h;
            let label = format!("{}: {}", c.period, figure(m.kind, Some(v)));
            Some(view! {
                <circle cx=format!("{x:.1}") cy=format!("{y:.1}") r="3.5" class=format!("dot band-{}", r.band.as_str())>
                    <title>{label}</title>
                </circle>
            })
        })
        .collect_view();
    let first = trend
        .first()
        .map(|c| c.period.to_string())
        .unwrap_or_default();
    let last = trend
        .last()
        .map(|c| c.period.to_string())
        .unwrap_or_default();
    let table_rows = trend
        .iter()
        .map(|c| {
            let v = c.metrics.get(i).and_then(|r| r.actual);
            view! { <tr><td>{c.period.to_string()}</td><td>{figure(m.kind, v)}</td></tr> }
        })
        .collect_view();
    view! {
        <figure class="trend" data-metric=m.kind.name()>
            <figcaption>{format!("{} (target {})", m.kind.label(), figure(m.kind, Some(m.target)))}</figcaption>
            <svg width="360" height="140" viewBox="0 0 360 140" role="img"
                 aria-label=format!("{} over the last 12 periods", m.kind.label())>
                <text x="0" y="10" class="axis">{figure(m.kind, Some(hi))}</text>
                <text x="0" y="120" class="axis">{figure(m.kind, Some(lo))}</text>
                <line x1=left x2=w y1=format!("{ty:.1}") y2=format!("{ty:.1}") class="target"/>
                <polyline points=polyline(&points, w, h, lo, hi, left) class="series"/>
                {dots}
                <text x=left y="136" class="axis">{first}</text>
                <text x=w y="136" text-anchor="end" class="axis">{last}</text>
            </svg>
            <details><summary>"Figures"</summary><table class="grid compact"><tbody>{table_rows}</tbody></table></details>
        </figure>
    }
    .into_any()
}

fn duration_text(s: Option<i64>) -> String {
    match s {
        None => "—".into(),
        Some(s) if s < 120 => format!("{s} s"),
        Some(s) if s < 7200 => format!("{} min {} s", s / 60, s % 60),
        Some(s) => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

fn drill_table(
    id: i64,
    period: &str,
    metric: usize,
    c: &Compliance,
    d: DrillData,
    zone: &ViewerZone,
) -> impl IntoView {
    let m = &c.metrics[metric];
    let group = match (&d.dimension, &d.key) {
        (None, _) => "all conversations".to_string(),
        (Some(dim), key) => format!(
            "{} {}",
            serde_json::to_value(dim)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            key.clone().unwrap_or_else(|| "(none)".into())
        ),
    };
    let count = d.rows.len();
    let rows = d
        .rows
        .into_iter()
        .map(|r| {
            let counted = if r.denominator == 1 && matches!(m.kind.unit(), Unit::Percent) {
                if r.numerator == 1 {
                    "met".to_string()
                } else {
                    "missed".to_string()
                }
            } else {
                format!("{} / {}", r.numerator, r.denominator)
            };
            view! {
                <tr>
                    <td><a href=format!("/conversations/{}", r.conversation_id)>{r.external_id.clone()}</a></td>
                    <td>{local(r.created_at, zone)}</td>
                    <td>{r.channel.clone()}</td>
                    <td>{r.team.clone().unwrap_or_default()}</td>
                    <td>{r.owner.clone().unwrap_or_default()}</td>
                    <td class="num">{duration_text(r.first_response_s)}</td>
                    <td class="num">{duration_text(r.abandoned_s)}</td>
                    <td>{counted}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <section id="drill" class="drill card">
            <h2>{format!("{} · {}: the {} conversations counted", m.kind.label(), group, count)}</h2>
            <p><a href=link(id, period, &format!("&metric={metric}#breakdowns"))>"Close"</a></p>
            <table class="grid">
                <thead><tr><th>"Conversation"</th><th>"Created"</th><th>"Channel"</th><th>"Team"</th><th>"Agent"</th><th class="num">"First response"</th><th class="num">"Abandoned after"</th><th>"Counts"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </section>
    }
}

// ---------------------------------------------------------------------------------------
// The editor
// ---------------------------------------------------------------------------------------

/// How many metric rows the editor offers (the server reads as many).
pub const METRIC_ROWS: usize = 12;

fn metric_fields(m: &MetricTarget) -> Vec<(String, String)> {
    let mut v = vec![
        ("kind".to_string(), m.kind.name().to_string()),
        ("target".to_string(), format!("{}", m.target)),
        ("period".to_string(), m.period.as_str().to_string()),
    ];
    match m.kind {
        MetricKind::ServiceLevel { within_s, formula } => {
            v.push(("within_s".into(), within_s.to_string()));
            v.push(("formula".into(), formula.as_str().to_string()));
        }
        MetricKind::AbandonmentRate { short_abandon_s } => {
            v.push(("short_abandon_s".into(), short_abandon_s.to_string()));
        }
        _ => {}
    }
    v
}

/// A list field's value: the items separated by commas.
fn listed<T: ToString>(items: impl IntoIterator<Item = T>) -> String {
    items
        .into_iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// An optional number field's value: empty when there is none.
fn or_empty(x: Option<f64>) -> String {
    x.map(|x| x.to_string()).unwrap_or_default()
}

/// The editor's field values from a stored contract.
fn contract_values(c: &Contract) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = vec![
        ("name".into(), c.name.clone()),
        (
            "counterparty_kind".into(),
            match c.counterparty_kind {
                CounterpartyKind::Client => "client".into(),
                CounterpartyKind::Department => "department".into(),
            },
        ),
        ("counterparty".into(), c.counterparty.clone()),
        ("service_description".into(), c.service_description.clone()),
        (
            "our_responsibilities".into(),
            c.our_responsibilities.clone(),
        ),
        (
            "client_responsibilities".into(),
            c.client_responsibilities.clone(),
        ),
        ("remedy_terms".into(), c.remedy_terms.clone()),
        ("incentive_terms".into(), c.incentive_terms.clone()),
        ("termination_terms".into(), c.termination_terms.clone()),
        ("review_date".into(), c.review_date.to_string()),
        ("scope_teams".into(), c.scope.teams.join(", ")),
        (
            "scope_channels".into(),
            listed(c.scope.channels.iter().map(|c| c.as_str())),
        ),
        ("scope_labels".into(), c.scope.labels.join(", ")),
        ("scope_policies".into(), listed(&c.scope.policies)),
        (
            "scope_email_domains".into(),
            c.scope.email_domains.join(", "),
        ),
        (
            "fee_per_period".into(),
            format!("{}", c.remedies.fee_per_period),
        ),
        (
            "credit_per_point".into(),
            format!("{}", c.remedies.credit_per_point),
        ),
        ("credit_cap".into(), or_empty(c.remedies.credit_cap)),
        (
            "bonus_per_point".into(),
            format!("{}", c.remedies.bonus_per_point),
        ),
        ("bonus_cap".into(), or_empty(c.remedies.bonus_cap)),
        ("currency".into(), c.remedies.currency.clone()),
    ];
    for (i, m) in c.metrics.iter().enumerate() {
        for (k, val) in metric_fields(m) {
            v.push((format!("m{i}_{k}"), val));
        }
    }
    v
}

/// The page inside its guard (see [`crate::components::guard::RoleGuard`]).
#[component]
pub fn ContractEditorPage() -> impl IntoView {
    let params = use_params_map();
    let id = params.with_untracked(|p| p.get("id").and_then(|v| v.parse::<i64>().ok()));
    let typed = crate::components::form::form_state();
    let has_errors = typed.iter().any(|(k, _)| k.starts_with("err_"));
    let stored = Resource::new(
        || (),
        move |_| async move {
            match id {
                Some(id) if !has_errors => get_contract_for_edit(id).await,
                _ => Ok(None),
            }
        },
    );
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || {
                let typed = typed.clone();
                Suspend::new(async move {
                    let values = match stored.await {
                        Ok(Some(c)) => contract_values(&c),
                        _ if id.is_none() && typed.is_empty() => new_contract_values(),
                        _ => typed,
                    };
                    view! { <Editor id values/> }
                })
            }}
        </Suspense>
    }
}

#[component]
fn Editor(id: Option<i64>, values: Vec<(String, String)>) -> impl IntoView {
    let values = StoredValue::new(values);
    let val = move |k: &str| {
        values.with_value(|v| {
            v.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        })
    };
    let err = move |k: &str| val(&format!("err_{k}"));
    let err_view = move |k: &str| {
        let e = err(k);
        (!e.is_empty()).then(|| view! { <p class="field-error" data-field=k.to_string()>{e}</p> })
    };
    // Errors that name no field of the form (e.g. a metric row as a whole).
    let other_errors: Vec<(String, String)> = values.with_value(|v| {
        v.iter()
            .filter(|(k, _)| k.starts_with("err_"))
            .map(|(k, m)| (k.trim_start_matches("err_").to_string(), m.clone()))
            .collect()
    });
    let action = id.map_or("/compliance/new".to_string(), |id| {
        format!("/compliance/{id}/edit")
    });
    let title = if id.is_some() {
        "Edit contract"
    } else {
        "New contract"
    };
    let text_input = move |name: &'static str, label: &'static str| {
        view! {
            <label>{label}<input type="text" name=name value=val(name) aria-invalid=(!err(name).is_empty()).then_some("true")/></label>
            {err_view(name)}
        }
    };
    let area = move |name: &'static str, label: &'static str| {
        view! {
            <label>{label}<textarea name=name rows="3">{val(name)}</textarea></label>
            {err_view(name)}
        }
    };
    let kinds = [
        ("", "—"),
        ("frt_attainment", "First response attainment %"),
        ("nrt_attainment", "Next response attainment %"),
        ("rt_attainment", "Resolution attainment %"),
        ("service_level", "Service level: % answered within Y s"),
        ("asa", "Average speed of answer, s"),
        ("abandonment_rate", "Abandonment rate %"),
        ("csat", "CSAT % (4–5 of 5)"),
        ("nps", "NPS"),
        ("ces", "CES (1–7 effort, lower is better)"),
    ];
    let formulas = [
        ServiceLevelFormula::AbandonedWithinCountMet,
        ServiceLevelFormula::AnsweredOnly,
        ServiceLevelFormula::AbandonedCountMissed,
        ServiceLevelFormula::AbandonedAfterCountMissed,
    ];
    // The rows in use and one empty one; the other empty rows behind "Add metric".
    let shown = (0..METRIC_ROWS)
        .filter(|i| !val(&format!("m{i}_kind")).is_empty())
        .max()
        .map_or(1, |last| last + 2)
        .min(METRIC_ROWS);
    let row_errors_of = other_errors.clone();
    let metric_row = move |i: usize| {
        let f = move |k: &str| val(&format!("m{i}_{k}"));
        let kind = f("kind");
        let period = f("period");
        let formula = f("formula");
        let kind_options = kinds
            .iter()
            .map(|(v, l)| view! { <option value=*v selected=kind == *v>{*l}</option> })
            .collect_view();
        let period_options = [Period::Week, Period::Month, Period::Quarter]
            .into_iter()
            .map(|p| {
                let selected = period == p.as_str() || (period.is_empty() && p == Period::Month);
                view! { <option value=p.as_str() selected=selected>{p.as_str()}</option> }
            })
            .collect_view();
        let formula_options = formulas
                .into_iter()
                .map(|x| view! { <option value=x.as_str() selected=formula == x.as_str()>{x.formula()}</option> })
                .collect_view();
        let prefix = format!("metrics[{i}]");
        let row_errors: Vec<String> = row_errors_of
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .map(|(k, m)| format!("{k}: {m}"))
            .collect();
        view! {
            <tr data-row=i>
                <td><select name=format!("m{i}_kind") aria-label="Metric">{kind_options}</select></td>
                <td><input type="number" step="any" name=format!("m{i}_target") value=f("target") aria-label="Target" size="6"/></td>
                <td><select name=format!("m{i}_period") aria-label="Period">{period_options}</select></td>
                <td><input type="number" name=format!("m{i}_within_s") value=f("within_s") aria-label="Within, seconds (service level)" size="5"/></td>
                <td><select name=format!("m{i}_formula") aria-label="Abandoned contacts (service level)">{formula_options}</select></td>
                <td><input type="number" name=format!("m{i}_short_abandon_s") value=f("short_abandon_s") aria-label="Short abandon, seconds (abandonment rate)" size="5"/></td>
                <td>{row_errors.into_iter().map(|e| view! { <p class="field-error">{e}</p> }).collect_view()}</td>
            </tr>
        }
    };
    let metric_rows = (0..shown).map(&metric_row).collect_view();
    let more_rows = (shown..METRIC_ROWS).map(&metric_row).collect_view();
    let metric_head = || view! { <thead><tr><th>"Metric"</th><th>"Target"</th><th>"Period"</th><th>"Within (s)"</th><th>"Abandoned contacts"</th><th>"Short abandon (s)"</th><th><span class="visually-hidden">"Errors"</span></th></tr></thead> };
    let kind = val("counterparty_kind");
    view! {
        <Title text=title/>
        <section class="contract-editor">
            <p class="crumbs"><a href="/compliance">"Contracts"</a></p>
            <h1>{title}</h1>
            {(!other_errors.is_empty()).then(|| {
                let items = other_errors
                    .iter()
                    .map(|(k, m)| view! { <li data-field=k.clone()>{format!("{k}: {m}")}</li> })
                    .collect_view();
                view! { <div class="error" role="alert"><p>"Please correct:"</p><ul>{items}</ul></div> }
            })}
            <form method="post" action=action class="card" novalidate>
                <fieldset>
                    <legend>"Who and what"</legend>
                    {text_input("name", "Contract name")}
                    <label>"With a"
                        <select name="counterparty_kind">
                            <option value="client" selected=kind != "department">"Client"</option>
                            <option value="department" selected=kind == "department">"Department"</option>
                        </select>
                    </label>
                    {text_input("counterparty", "Client or department")}
                    <label>"Review date"<input type="date" name="review_date" value=val("review_date")/></label>
                    {err_view("review_date")}
                    {area("service_description", "Service description")}
                    {area("our_responsibilities", "Our responsibilities")}
                    {area("client_responsibilities", "The client's responsibilities")}
                    {area("remedy_terms", "Remedies (in words)")}
                    {area("incentive_terms", "Incentives (in words)")}
                    {area("termination_terms", "Termination terms")}
                </fieldset>
                <fieldset>
                    <legend>"Scope: the conversations it covers (comma separated; empty = all)"</legend>
                    {text_input("scope_teams", "Teams")}
                    {text_input("scope_channels", "Channels (whatsapp, email, webchat, …)")}
                    {text_input("scope_labels", "Labels")}
                    {text_input("scope_policies", "SLA policy ids")}
                    {text_input("scope_email_domains", "Contact e-mail domains (bigcorp.com, .bigcorp.com, @bigcorp.com)")}
                    {err_view("scope")}
                </fieldset>
                <fieldset>
                    <legend>"Metrics and targets"</legend>
                    {err_view("metrics")}
                    <div class="metric-rows-wrap">
                        <table class="grid metric-rows">
                            {metric_head()}
                            <tbody>{metric_rows}</tbody>
                        </table>
                    </div>
                    {(shown < METRIC_ROWS).then(|| view! {
                        <details class="more-metrics">
                            <summary>"Add metric"</summary>
                            <div class="metric-rows-wrap">
                                <table class="grid metric-rows">
                                    {metric_head()}
                                    <tbody>{more_rows}</tbody>
                                </table>
                            </div>
                        </details>
                    })}
                </fieldset>
                <fieldset>
                    <legend>"Money per period"</legend>
                    {text_input("fee_per_period", "Fee")}
                    {text_input("credit_per_point", "Credit per point below target")}
                    {text_input("credit_cap", "Credit cap per metric (empty: none)")}
                    {text_input("bonus_per_point", "Bonus per point above target")}
                    {text_input("bonus_cap", "Bonus cap per metric (empty: none)")}
                    {text_input("currency", "Currency (ISO code)")}
                    {err_view("remedies.currency")}
                    {err_view("remedies.credit_cap")}
                </fieldset>
                <button type="submit" class="primary">"Save contract"</button>
            </form>
        </section>
    }
}
