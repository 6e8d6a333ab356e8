//! The agents' live queue: open conversations, most urgent first, each with a countdown badge.
//! Filters are links (they work without JavaScript); changes arrive over the live stream.

use crate::api::{get_queue, QueueData, QueueParams};
use crate::components::badge::{Badge, Tick};
use crate::components::live::LiveFeed;
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use promptly::conversation::{Channel, ConversationView, Priority, Visibility};
use promptly::{ClockState, ConversationStatus};
use std::sync::Arc;

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
        })
    });
    // Live changes patch the rows; the whole queue is reloaded only when changes may have
    // been missed (the stream reopened or skipped a sequence number).
    let resync = use_context::<LiveFeed>().map(|f| f.resync);
    let data = Resource::new(
        move || (params.get(), resync.map(|c| c.get()).unwrap_or(0)),
        |(p, _)| get_queue(p.policy, p.channel, p.team, p.owner),
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

#[component]
fn QueueView(data: QueueData, params: QueueParams) -> impl IntoView {
    let evaluated_at: DateTime<Utc> = data.now.parse().unwrap_or_default();
    let all = QueueParams::default();
    let mut policy_links = vec![
        view! { <FilterLink label="All".into() target=QueueParams { policy: None, ..params.clone() } current=params.clone()/> },
    ];
    for (id, name) in &data.policies {
        policy_links.push(view! { <FilterLink label=name.clone() target=QueueParams { policy: Some(*id), ..params.clone() } current=params.clone()/> });
    }
    let channel_links = Channel::ALL
        .iter()
        .map(|c| view! { <FilterLink label=c.label().into() target=QueueParams { channel: Some(c.as_str().into()), ..params.clone() } current=params.clone()/> })
        .collect_view();
    let team_links = data
        .teams
        .iter()
        .map(|t| view! { <FilterLink label=t.clone() target=QueueParams { team: Some(t.clone()), ..params.clone() } current=params.clone()/> })
        .collect_view();
    // Each row carries a revision: 0 as loaded, then the stream's sequence number of the
    // change that last replaced it, so that only changed rows render again.
    let rows = RwSignal::new(
        data.conversations
            .into_iter()
            .map(|c| (0u64, Arc::new(c)))
            .collect::<Vec<_>>(),
    );
    if let Some(feed) = use_context::<LiveFeed>() {
        let (me, filter) = (data.me.clone(), params.clone());
        // Changes received while this data was being read are re-applied to it.
        feed.loaded(data.seq);
        rows.update(|rows| {
            for (seq, changed) in feed.since(data.seq) {
                apply_change(rows, seq, changed, &filter, &me);
            }
        });
        // The first run only subscribes: a change from before is already applied.
        Effect::new(move |first: Option<()>| {
            let last = feed.last.get();
            if let (Some(()), Some((seq, changed))) = (first, last) {
                if seq > data.seq {
                    rows.update(|rows| apply_change(rows, seq, changed, &filter, &me));
                }
            }
        });
    }
    let empty = move || rows.with(|r| r.is_empty());
    view! {
        <nav class="filters" aria-label="Filters">
            <div class="filter-group" data-filter="policy"><span class="filter-label">"Policy"</span>{policy_links}</div>
            <div class="filter-group" data-filter="channel"><span class="filter-label">"Channel"</span>{channel_links}</div>
            <div class="filter-group" data-filter="owner">
                <span class="filter-label">"Owner"</span>
                <FilterLink label="Mine".into() target=QueueParams { owner: Some("me".into()), ..params.clone() } current=params.clone()/>
                <FilterLink label="Unassigned".into() target=QueueParams { owner: Some("none".into()), ..params.clone() } current=params.clone()/>
                {(!data.teams.is_empty()).then(|| view! { <span class="filter-label">"Team"</span> })}
                {team_links}
                {(params != all).then(|| view! { <a class="chip clear" href="/">"Clear filters"</a> })}
            </div>
        </nav>
        <p class="empty" data-testid="queue-empty" hidden=move || !empty()>
            "No open conversations. Conversations from your messaging channels appear here, most urgent first."
        </p>
        <table class="grid queue-table" hidden=empty>
            <thead><tr>
                <th>"SLA"</th><th>"Channel"</th><th>"Contact"</th><th>"Last message"</th>
                <th>"Owner"</th><th>"Priority"</th><th>"Status"</th>
            </tr></thead>
            <tbody>
                <For
                    each=move || rows.get()
                    key=|(rev, c)| (c.id, *rev)
                    children=move |(rev, c)| {
                        // A row from the live stream was evaluated just now, not at load.
                        let evaluated_at = if rev == 0 { evaluated_at } else { browser_now(evaluated_at) };
                        view! { <QueueRow conversation=c evaluated_at/> }
                    }
                />
            </tbody>
        </table>
    }
}

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
fn apply_change(
    rows: &mut Vec<(u64, Arc<ConversationView>)>,
    seq: u64,
    changed: Arc<ConversationView>,
    filter: &QueueParams,
    me: &str,
) {
    rows.retain(|(_, c)| c.id != changed.id);
    if !in_queue(&changed, filter, me) {
        return;
    }
    let due = |c: &ConversationView| c.badge().and_then(|m| m.due_at);
    let key = due(&changed);
    let at = rows
        .iter()
        .position(|(_, c)| match (due(c), key) {
            (_, None) => due(c).is_none(),
            (None, Some(_)) => true,
            (Some(d), Some(k)) => d >= k,
        })
        .unwrap_or(rows.len());
    rows.insert(at, (seq, changed));
}

#[component]
fn QueueRow(conversation: Arc<ConversationView>, evaluated_at: DateTime<Utc>) -> impl IntoView {
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
        <tr data-conversation=c.id data-external-id=c.external_id.clone()>
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
