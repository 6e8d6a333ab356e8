//! The agents' live queue: open conversations, most urgent first, each with a countdown badge.
//! Filters and pages are links (they work without JavaScript); changes arrive over the live
//! stream.
//!
//! The server renders one page of the queue ([`promptly::limits::QUEUE_PAGE`]'s default: a
//! screenful). In the browser the table is windowed: its scroll region keeps only the rows in
//! view (and a few either side) in the DOM, spacer rows stand in for the others at the
//! measured row height, and the next rows are fetched as the view nears the last loaded one,
//! so that every row of a 10,000-conversation queue is reachable by scrolling while a badge
//! tick touches only the rows on screen.

use crate::api::{get_queue, QueueData, QueueParams};
use crate::components::badge::{Badge, Tick};
use crate::components::live::LiveFeed;
use chrono::{DateTime, Utc};
use leptos::html::{Div, Td};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use promptly::conversation::{Channel, ConversationView, Priority, Visibility};
use promptly::{ClockState, ConversationStatus};
use std::sync::Arc;

/// Rows of a page: what the server renders, and the window before the browser measures.
const SCREEN: usize = promptly::limits::QUEUE_PAGE.default as usize;
/// Rows asked for per fetch while scrolling.
const FETCH: i64 = 200;
/// Rows kept in the DOM above and below those in view.
const OVERSCAN: usize = 10;
/// A row's height (px) until the first rendered row is measured.
const ROW_HEIGHT: f64 = 41.0;

fn params_href(p: &QueueParams) -> String {
    let mut q: Vec<(&str, String)> = Vec::new();
    if let Some(v) = p.policy {
        q.push(("policy", v.to_string()));
    }
    if let Some(v) = &p.channel {
        q.push(("channel", v.clone()));
    }
    if let Some(v) = &p.team {
        q.push(("team", v.clone()));
    }
    if let Some(v) = &p.owner {
        q.push(("owner", v.clone()));
    }
    if let Some(v) = p.page.filter(|p| *p > 1) {
        q.push(("page", v.to_string()));
    }
    if q.is_empty() {
        return "/".into();
    }
    let parts: Vec<String> = q
        .into_iter()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                v.replace('%', "%25")
                    .replace('&', "%26")
                    .replace(' ', "%20")
            )
        })
        .collect();
    format!("/?{}", parts.join("&"))
}

#[component]
pub fn QueuePage() -> impl IntoView {
    let q = use_query_map();
    let params = Memo::new(move |_| {
        q.with(|q| QueueParams {
            policy: q.get("policy").and_then(|v| v.parse().ok()),
            channel: q.get("channel").filter(|c| Channel::parse(c).is_some()),
            team: q.get("team").filter(|t| !t.is_empty()),
            owner: q.get("owner").filter(|o| o == "me" || o == "none"),
            page: q
                .get("page")
                .and_then(|v| v.parse().ok())
                .filter(|p: &i64| *p > 1),
        })
    });
    // Live changes patch the rows; the whole queue is reloaded only when changes may have
    // been missed (the stream reopened or skipped a sequence number).
    let resync = use_context::<LiveFeed>().map(|f| f.resync);
    let data = Resource::new(
        move || (params.get(), resync.map(|c| c.get()).unwrap_or(0)),
        |(p, _)| {
            let offset = p.offset();
            get_queue(p.policy, p.channel, p.team, p.owner, offset, None)
        },
    );
    provide_context(Tick::start());
    view! {
        <Title text="Queue"/>
        <section class="queue">
            <h1>"Queue"</h1>
            <Transition fallback=|| view! { <p class="muted">"Loading the queue…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(d) => view! { <QueueView data=d params=params.get_untracked()/> }.into_any(),
                        Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn FilterLink(label: String, target: QueueParams, current: QueueParams) -> impl IntoView {
    let active = target == current;
    view! {
        <a class="chip" class:active=active aria-current=active.then_some("page") href=params_href(&target)>{label}</a>
    }
}

/// A loaded row: its revision (0 as loaded, then the stream's sequence number of the change
/// that last replaced it, so that only changed rows render again), the instant its SLA was
/// evaluated at, and the conversation.
type Row = (u64, DateTime<Utc>, Arc<ConversationView>);

#[component]
fn QueueView(data: QueueData, params: QueueParams) -> impl IntoView {
    let evaluated_at: DateTime<Utc> = data.now.parse().unwrap_or_default();
    // The filters without the page: a filter link starts again at the first page.
    let base = QueueParams {
        page: None,
        ..params.clone()
    };
    let all = QueueParams::default();
    let mut policy_links = vec![
        view! { <FilterLink label="All".into() target=QueueParams { policy: None, ..base.clone() } current=base.clone()/> },
    ];
    for (id, name) in &data.policies {
        policy_links.push(view! { <FilterLink label=name.clone() target=QueueParams { policy: Some(*id), ..base.clone() } current=base.clone()/> });
    }
    let channel_links = Channel::ALL
        .iter()
        .map(|c| view! { <FilterLink label=c.label().into() target=QueueParams { channel: Some(c.as_str().into()), ..base.clone() } current=base.clone()/> })
        .collect_view();
    let team_links = data
        .teams
        .iter()
        .map(|t| view! { <FilterLink label=t.clone() target=QueueParams { team: Some(t.clone()), ..base.clone() } current=base.clone()/> })
        .collect_view();
    let offset = data.offset;
    let total = RwSignal::new(data.total);
    let rows = RwSignal::new(
        data.conversations
            .into_iter()
            .map(|c| (0u64, evaluated_at, Arc::new(c)))
            .collect::<Vec<Row>>(),
    );
    let feed = use_context::<LiveFeed>();
    let (me, filter) = (data.me.clone(), base.clone());
    // Applies a change to the loaded rows and, where it is sure, to the total.
    let patch = StoredValue::new(move |seq: u64, changed: Arc<ConversationView>| {
        let now = browser_now(evaluated_at);
        let known = total.get_untracked();
        let delta = rows
            .try_update(|rows| apply_change(rows, (seq, now, changed), &filter, &me, offset, known))
            .unwrap_or(0);
        if delta != 0 {
            total.update(|t| *t += delta);
        }
    });
    if let Some(feed) = feed {
        // Changes received while this data was being read are re-applied to it.
        feed.loaded(data.seq);
        for (seq, changed) in feed.since(data.seq) {
            patch.with_value(|p| p(seq, changed));
        }
        // The first run only subscribes: a change from before is already applied.
        Effect::new(move |first: Option<()>| {
            let last = feed.last.get();
            if let (Some(()), Some((seq, changed))) = (first, last) {
                if seq > data.seq {
                    patch.with_value(|p| p(seq, changed));
                }
            }
        });
    }

    // The window: the first row in view and how many fit, from the scroll region.
    let first = RwSignal::new(0usize);
    let fit = RwSignal::new(SCREEN - OVERSCAN);
    let row_height = StoredValue::new(ROW_HEIGHT);
    let window = Memo::new(move |_| {
        let len = rows.with(|r| r.len());
        let start = first.get().saturating_sub(OVERSCAN).min(len);
        let end = (first.get() + fit.get() + OVERSCAN).min(len);
        (start, end, len)
    });
    let scroller = NodeRef::<Div>::new();
    let loading = StoredValue::new(false);
    let fetch = StoredValue::new(base.clone());
    // Reads the scroll region; fetches more rows when the window nears the last loaded one.
    let measure = move || {
        let Some((top, height, head, row)) = scroll_metrics(&scroller) else {
            return;
        };
        if row > 0.0 {
            row_height.set_value(row);
        }
        let h = row_height.get_value();
        let at = ((top - head).max(0.0) / h) as usize;
        let fits = (height / h).ceil() as usize + 1;
        if first.get_untracked() != at {
            first.set(at);
        }
        if fit.get_untracked() != fits {
            fit.set(fits);
        }
        let loaded = rows.with_untracked(|r| r.len());
        let more = offset + (loaded as i64) < total.get_untracked();
        if more && at + fits + 2 * OVERSCAN >= loaded && !loading.get_value() {
            loading.set_value(true);
            let p = fetch.get_value();
            leptos::task::spawn_local(async move {
                let from = offset + loaded as i64;
                let got = get_queue(p.policy, p.channel, p.team, p.owner, from, Some(FETCH)).await;
                if let Ok(d) = got {
                    let at: DateTime<Utc> = d.now.parse().unwrap_or_default();
                    rows.update(|rows| {
                        // Rows that moved while scrolling are not shown twice.
                        let have: std::collections::HashSet<i64> =
                            rows.iter().map(|(_, _, c)| c.id).collect();
                        rows.extend(
                            d.conversations
                                .into_iter()
                                .filter(|c| !have.contains(&c.id))
                                .map(|c| (0, at, Arc::new(c))),
                        );
                    });
                    total.set(d.total);
                    if let Some(feed) = feed {
                        for (seq, changed) in feed.since(d.seq) {
                            patch.with_value(|p| p(seq, changed));
                        }
                    }
                }
                loading.set_value(false);
            });
        }
    };
    // Once in the browser: measure the region (it may show more than the server's page).
    Effect::new(move |_| measure());

    let empty = move || total.get() == 0 && rows.with(|r| r.is_empty());
    // The spacers' heights are set through the CSSOM in the browser (the page's CSP refuses
    // style attributes); on the server they are empty, as the first page needs.
    let (above, below) = (NodeRef::<Td>::new(), NodeRef::<Td>::new());
    Effect::new(move |_| {
        let (start, end, len) = window.get();
        let h = row_height.get_value();
        set_height(&above, start as f64 * h);
        set_height(&below, (len - end) as f64 * h);
    });
    let pages = (data.total + SCREEN as i64 - 1) / SCREEN as i64;
    let page = params.page.unwrap_or(1);
    let page_base = base.clone();
    let page_link = move |n: i64| {
        params_href(&QueueParams {
            page: Some(n),
            ..page_base.clone()
        })
    };
    let nothing_waiting =
        use_query_map().with_untracked(|q| q.get("notice").is_some_and(|n| n == "nothing-waiting"));
    let take_next = data.can_take.then(|| {
        view! {
            <form method="post" action="/conversations/take-next" class="take-next">
                <button type="submit" class="primary">"Take next"</button>
                <span class="muted small">"The unassigned conversation with the nearest deadline becomes yours."</span>
                {nothing_waiting.then(|| view! { <p class="flash" role="status">"Nothing is waiting: every open conversation has an owner."</p> })}
            </form>
        }
    });
    view! {
        {take_next}
        <nav class="filters" aria-label="Filters">
            <div class="filter-group" data-filter="policy"><span class="filter-label">"Policy"</span>{policy_links}</div>
            <div class="filter-group" data-filter="channel"><span class="filter-label">"Channel"</span>{channel_links}</div>
            <div class="filter-group" data-filter="owner">
                <span class="filter-label">"Owner"</span>
                <FilterLink label="Mine".into() target=QueueParams { owner: Some("me".into()), ..base.clone() } current=base.clone()/>
                <FilterLink label="Unassigned".into() target=QueueParams { owner: Some("none".into()), ..base.clone() } current=base.clone()/>
                {(!data.teams.is_empty()).then(|| view! { <span class="filter-label">"Team"</span> })}
                {team_links}
                {(params != all).then(|| view! { <a class="chip clear" href="/">"Clear filters"</a> })}
            </div>
        </nav>
        <p class="empty" data-testid="queue-empty" hidden=move || !empty()>
            "No open conversations. Conversations from your messaging channels appear here, most urgent first."
        </p>
        <div class="queue-scroll" node_ref=scroller tabindex="0" role="region" aria-label="Open conversations"
            hidden=empty on:scroll=move |_| measure()>
            <table class="grid queue-table" aria-rowcount=move || total.get() + 1>
                <thead><tr aria-rowindex="1">
                    <th>"SLA"</th><th>"Channel"</th><th>"Contact"</th><th>"Last message"</th>
                    <th>"Owner"</th><th>"Priority"</th><th>"Status"</th>
                </tr></thead>
                <tbody>
                    <tr class="spacer" aria-hidden="true"><td colspan="7" node_ref=above></td></tr>
                    <For
                        each=move || {
                            let (start, end, _) = window.get();
                            rows.with(|r| {
                                r[start..end]
                                    .iter()
                                    .enumerate()
                                    .map(|(i, row)| (start + i, row.clone()))
                                    .collect::<Vec<_>>()
                            })
                        }
                        key=|(i, (rev, _, c))| (c.id, *rev, *i)
                        children=move |(i, (_, evaluated_at, c))| {
                            let index = offset + i as i64 + 2;
                            view! { <QueueRow conversation=c evaluated_at index/> }
                        }
                    />
                    <tr class="spacer" aria-hidden="true"><td colspan="7" node_ref=below></td></tr>
                </tbody>
            </table>
        </div>
        <nav class="pager" aria-label="Queue pages" hidden=empty>
            <span data-testid="queue-range">{move || {
                let len = rows.with(|r| r.len()) as i64;
                let shown = if len == 0 { "0".to_string() } else { format!("{}–{}", offset + 1, offset + len) };
                format!("{shown} of {} open", total.get())
            }}</span>
            {(page > 1).then(|| view! { <a class="chip" rel="prev" href=page_link(page - 1)>"← Previous page"</a> })}
            {(page < pages).then(|| view! { <a class="chip" rel="next" href=page_link(page + 1)>"Next page →"</a> })}
        </nav>
    }
}

/// The scroll region's scroll top, height, header height and a rendered row's height (px).
#[cfg(feature = "hydrate")]
fn scroll_metrics(scroller: &NodeRef<Div>) -> Option<(f64, f64, f64, f64)> {
    use wasm_bindgen::JsCast;
    let el = scroller.get_untracked()?;
    let height_of = |selector: &str| {
        el.query_selector(selector)
            .ok()
            .flatten()
            .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
            .map(|e| e.offset_height() as f64)
            .unwrap_or(0.0)
    };
    Some((
        el.scroll_top() as f64,
        el.client_height() as f64,
        height_of("thead"),
        height_of("tbody tr[data-conversation]"),
    ))
}

#[cfg(not(feature = "hydrate"))]
fn scroll_metrics(_: &NodeRef<Div>) -> Option<(f64, f64, f64, f64)> {
    None
}

/// Sets a spacer cell's height (px) through the CSSOM.
#[cfg(feature = "hydrate")]
fn set_height(cell: &NodeRef<Td>, px: f64) {
    if let Some(td) = cell.get_untracked() {
        let _ = web_sys::HtmlElement::style(&td)
            .set_property("height", &format!("{}px", px.round() as i64));
    }
}

#[cfg(not(feature = "hydrate"))]
fn set_height(_: &NodeRef<Td>, _: f64) {}

/// The browser's clock (the server's instant `fallback` when rendering on the server).
fn browser_now(fallback: DateTime<Utc>) -> DateTime<Utc> {
    #[cfg(feature = "hydrate")]
    if let Some(now) = DateTime::<Utc>::from_timestamp_millis(js_sys::Date::now() as i64) {
        return now;
    }
    fallback
}

/// Whether a changed conversation belongs in the queue under `filter` (the server's queue
/// rules: not resolved; the policy, channel, team and owner filters).
fn in_queue(c: &ConversationView, filter: &QueueParams, me: &str) -> bool {
    let s = &c.summary;
    s.status != ConversationStatus::Resolved
        && filter.policy.is_none_or(|p| c.policy_id == Some(p))
        && filter
            .channel
            .as_deref()
            .is_none_or(|ch| s.channel.as_str() == ch)
        && filter
            .team
            .as_deref()
            .is_none_or(|t| s.team.as_deref() == Some(t))
        && match filter.owner.as_deref() {
            Some("me") => s
                .owner
                .as_deref()
                .is_some_and(|o| o.eq_ignore_ascii_case(me)),
            Some("none") => s.owner.is_none(),
            _ => true,
        }
}

/// Replaces, adds or removes the changed conversation's row and keeps the queue's order:
/// the nearest deadline first, rows without one last; among equals the latest change first.
/// The loaded rows start at `offset` of a queue of `total`: a row that falls before the first
/// loaded one (on a later page) or after the last (while more are to load) is left to the
/// page or the fetch that covers its place. Returns the change to `total` when it is sure:
/// a loaded row that leaves the queue, a row that joins a queue loaded whole.
fn apply_change(
    rows: &mut Vec<Row>,
    (seq, now, changed): Row,
    filter: &QueueParams,
    me: &str,
    offset: i64,
    total: i64,
) -> i64 {
    let whole = offset == 0 && rows.len() as i64 >= total;
    let before = rows.len();
    rows.retain(|(_, _, c)| c.id != changed.id);
    let was_loaded = rows.len() < before;
    if !in_queue(&changed, filter, me) {
        return if was_loaded { -1 } else { 0 };
    }
    let due = |c: &ConversationView| c.badge().and_then(|m| m.due_at);
    let key = due(&changed);
    let at = rows
        .iter()
        .position(|(_, _, c)| match (due(c), key) {
            (_, None) => due(c).is_none(),
            (None, Some(_)) => true,
            (Some(d), Some(k)) => d >= k,
        })
        .unwrap_or(rows.len());
    let outside = (at == 0 && offset > 0) || (at == rows.len() && !whole);
    if outside {
        // Still in the queue, where these rows do not reach.
        return 0;
    }
    rows.insert(at, (seq, now, changed));
    if !was_loaded && whole {
        1
    } else {
        0
    }
}

#[component]
fn QueueRow(
    conversation: Arc<ConversationView>,
    evaluated_at: DateTime<Utc>,
    /// The row's place in the table for assistive technology (the header row is 1).
    index: i64,
) -> impl IntoView {
    let c = conversation;
    // The running clock with the nearest deadline; else the last clock that finished.
    let badge = c.badge().cloned().or_else(|| {
        c.sla
            .metrics
            .iter()
            .filter(|m| matches!(m.state, ClockState::Met | ClockState::Missed))
            .max_by_key(|m| m.finished_at)
            .cloned()
    });
    let s = &c.summary;
    let visibility = match s.visibility {
        Visibility::Public => "public",
        Visibility::Direct => "direct",
    };
    let priority = s.priority;
    let last = s.last_message.clone().unwrap_or_default();
    let short: String = last.chars().take(120).collect();
    view! {
        <tr data-conversation=c.id data-external-id=c.external_id.clone() aria-rowindex=index>
            <td>{match badge {
                Some(m) => view! { <Badge metric=m evaluated_at/> }.into_any(),
                None => view! { <span class="badge idle" title="No running SLA clock">"—"</span> }.into_any(),
            }}</td>
            <td><span class="channel">{s.channel.label()}</span>" "<span class="visibility">{visibility}</span></td>
            <td><a href=format!("/conversations/{}", c.id)>{s.contact.display()}</a></td>
            <td class="last" title=last>{short}</td>
            <td>{s.owner.clone().unwrap_or_else(|| "Unassigned".into())}</td>
            <td><span class=format!("priority {}", priority.as_str())>{priority_label(priority)}</span></td>
            <td>{format!("{:?}", s.status).to_lowercase()}</td>
        </tr>
    }
}

fn priority_label(p: Priority) -> &'static str {
    match p {
        Priority::Low => "Low",
        Priority::Normal => "Normal",
        Priority::High => "High",
        Priority::Urgent => "Urgent",
    }
}
