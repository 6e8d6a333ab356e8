//! One conversation: its thread, a reply box, claim / assign / status / priority, and the SLA
//! timeline (when each clock started, warns or warned, is or was due, and how it ended).

use crate::api::{get_conversation, ConversationPage};
use crate::components::badge::{metric_name, Badge, Tick};
use crate::components::live::LiveFeed;
use crate::components::notice::Missing;
use crate::components::time::{local, use_zone, ViewerZone};
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use promptly::channels::SendState;
use promptly::conversation::{EventBody, IncomingEvent, Priority};
use promptly::limits;
use promptly::timeline::{Author, ConversationStatus};
use promptly::{ClockState, MetricStatus};

fn notice(code: &str) -> Option<&'static str> {
    Some(match code {
        "replied" => "Reply recorded.",
        "sent" => "Reply recorded; it is on its way to the customer.",
        "noted" => "Private note added.",
        "updated" => "Conversation updated.",
        "taken" => "Taken: this conversation is yours (the nearest deadline of the unassigned).",
        _ => return None,
    })
}

#[component]
pub fn ConversationRoute() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.with(|p| p.get("id").and_then(|v| v.parse::<i64>().ok())));
    // Reload when this conversation changes (or changes may have been missed).
    let feed = use_context::<LiveFeed>();
    let changed = Memo::new(move |prev: Option<&(u64, u64)>| {
        let Some(feed) = feed else { return (0, 0) };
        let before = prev.map_or(0, |p| p.1);
        let mine = feed.last.with(|l| match (l, id.get()) {
            (Some((seq, c)), Some(id)) if c.id == id => *seq,
            _ => before,
        });
        (feed.resync.get(), mine)
    });
    let data = Resource::new(
        move || (id.get(), changed.get()),
        |(id, _)| async move {
            match id {
                Some(id) => get_conversation(id).await,
                None => Ok(None),
            }
        },
    );
    provide_context(Tick::start());
    let q = use_query_map();
    let flash = q
        .with_untracked(|q| q.get("notice"))
        .and_then(|c| notice(&c));
    let err_text = q.with_untracked(|q| q.get("err_text"));
    let err_owner = q.with_untracked(|q| q.get("err_owner"));
    let zone = use_zone();
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || {
                let (err_text, err_owner) = (err_text.clone(), err_owner.clone());
                Suspend::new(async move {
                    let zone = zone.read().await;
                    match data.await {
                        Ok(Some(page)) => view! { <ConversationView page zone flash err_text err_owner/> }.into_any(),
                        Ok(None) => view! { <Missing heading="Conversation not found" back="/" back_text="Back to the queue"/> }.into_any(),
                        Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                    }
                })
            }}
        </Transition>
    }
}

#[component]
fn ConversationView(
    page: ConversationPage,
    zone: ViewerZone,
    flash: Option<&'static str>,
    err_text: Option<String>,
    err_owner: Option<String>,
) -> impl IntoView {
    let evaluated_at: DateTime<Utc> = page.now.parse().unwrap_or_default();
    let c = page.conversation;
    let s = c.summary.clone();
    let id = c.id;
    let contact = s.contact.display();
    let sends = page.sends.clone();
    let thread = page
        .timeline
        .iter()
        .map(|e| {
            // The latest send of the message, when it went through a channel account.
            let send = sends.iter().rev().find(|s| s.message_id == e.id).cloned();
            thread_item(e, send, &zone)
        })
        .collect_view();
    let clocks = c
        .sla
        .metrics
        .iter()
        .map(|m| view! { <SlaClock metric=m.clone() evaluated_at zone=zone.clone()/> })
        .collect_view();
    let can_act = page.can_act;
    let status_buttons = [
        (ConversationStatus::Open, "open", "Open"),
        (ConversationStatus::Pending, "pending", "Pending"),
        (ConversationStatus::Snoozed, "snoozed", "Snooze"),
        (ConversationStatus::Resolved, "resolved", "Resolve"),
    ]
    .into_iter()
    .filter(|(st, _, _)| *st != s.status)
    .map(|(_, value, label)| {
        view! {
            <form method="post" action=format!("/conversations/{id}/update") class="inline">
                <input type="hidden" name="action" value="status"/>
                <input type="hidden" name="value" value=value/>
                <button type="submit">{label}</button>
            </form>
        }
    })
    .collect_view();
    let priority_options = Priority::ALL
        .iter()
        .map(|p| view! { <option value=p.as_str() selected=*p == s.priority>{p.as_str()}</option> })
        .collect_view();
    view! {
        <Title text=contact.clone()/>
        <section class="conversation" data-conversation=id>
            <p><a href="/">"← Queue"</a></p>
            <h1>{contact}</h1>
            <p class="muted">
                {format!("{} · {} · {} id {} · status {} · priority {}", s.channel.label(), format!("{:?}", s.visibility).to_lowercase(), c.source, c.external_id, format!("{:?}", s.status).to_lowercase(), s.priority.as_str())}
                {s.team.clone().map(|t| format!(" · team {t}"))}
            </p>
            {flash.map(|m| view! { <p class="flash" role="status">{m}</p> })}
            <div class="conversation-grid">
                <div>
                    <h2>"Thread"</h2>
                    <ol class="thread">{thread}</ol>
                    {can_act.then(|| view! {
                        <form method="post" action=format!("/conversations/{id}/reply") class="card reply">
                            <label>"Reply"
                                <textarea name="text" rows="3" maxlength=limits::MESSAGE_TEXT_LEN aria-invalid=err_text.as_ref().map(|_| "true")></textarea>
                            </label>
                            {err_text.clone().map(|m| view! { <p class="field-error" data-field="text">{m}</p> })}
                            <label class="check"><input type="checkbox" name="private"/>" Private note (the customer does not see it)"</label>
                            <button type="submit" class="primary">"Send"</button>
                        </form>
                    }.into_any())}
                </div>
                <aside>
                    <h2>"SLA"</h2>
                    <ul class="clocks">{clocks}</ul>
                    {if c.sla.metrics.is_empty() { Some(view! { <p class="muted">"No SLA policy applies."</p> }) } else { None }}
                    <h2>"Owner"</h2>
                    <p data-testid="owner">{s.owner.clone().unwrap_or_else(|| "Unassigned".into())}</p>
                    {can_act.then(|| view! {
                        <div class="actions">
                            <form method="post" action=format!("/conversations/{id}/update") class="inline">
                                <input type="hidden" name="action" value="claim"/>
                                <button type="submit">"Claim"</button>
                            </form>
                            <form method="post" action=format!("/conversations/{id}/update") class="inline">
                                <input type="hidden" name="action" value="unassign"/>
                                <button type="submit">"Unassign"</button>
                            </form>
                            <form method="post" action=format!("/conversations/{id}/update") class="inline">
                                <input type="hidden" name="action" value="assign"/>
                                <input type="email" name="value" placeholder="agent@example.com" aria-label="Assign to"/>
                                <button type="submit">"Assign"</button>
                            </form>
                            {err_owner.clone().map(|m| view! { <p class="field-error" data-field="owner">{m}</p> })}
                            <h2>"Status"</h2>
                            <div class="row">{status_buttons}</div>
                            <h2>"Priority"</h2>
                            <form method="post" action=format!("/conversations/{id}/update") class="inline">
                                <input type="hidden" name="action" value="priority"/>
                                <select name="value" aria-label="Priority">{priority_options}</select>
                                <button type="submit">"Set priority"</button>
                            </form>
                        </div>
                    }.into_any())}
                </aside>
            </div>
        </section>
    }
}

/// How a sent message is doing, in words: "Sent", "Delivered", "Read", "Not delivered: …".
fn send_line(s: SendState) -> impl IntoView {
    let words = match s.status.as_str() {
        "sending" => "Sending…",
        "sent" => "Sent",
        "delivered" => "Delivered",
        "read" => "Read",
        _ => "Not delivered",
    };
    let text = match &s.note {
        Some(note) => format!("{words}: {note}"),
        None => words.to_string(),
    };
    let class = format!("send-state {}", s.status);
    view! { <div class=class data-send=s.status.clone()>{text}</div> }
}

fn thread_item(e: &IncomingEvent, send: Option<SendState>, zone: &ViewerZone) -> impl IntoView {
    let at = local(e.at, zone);
    match &e.body {
        EventBody::Message { author, private, text, agent_email } => {
            let who = match author {
                Author::Customer => "Customer".to_string(),
                Author::Agent => agent_email.clone().unwrap_or_else(|| "Agent".into()),
                Author::Bot => "Bot".into(),
                Author::System => "Automation".into(),
            };
            let class = format!(
                "message {}{}",
                format!("{author:?}").to_lowercase(),
                if *private { " private" } else { "" }
            );
            view! {
                <li class=class>
                    <div class="meta">{who}{private.then_some(" · private note")}" · "{at}</div>
                    <div class="text">{text.clone()}</div>
                    {send.map(send_line)}
                </li>
            }
            .into_any()
        }
        EventBody::Created { channel, .. } => {
            view! { <li class="system-line">{format!("Conversation started on {} · {at}", channel.label())}</li> }.into_any()
        }
        EventBody::Handover => view! { <li class="system-line">{format!("Bot handed over to the team · {at}")}</li> }.into_any(),
        EventBody::Left => view! { <li class="system-line">{format!("Customer left · {at}")}</li> }.into_any(),
        EventBody::Archived { events, .. } => {
            let text = format!(
                "{events} earlier events were removed after the retention period (the summary and SLA results are kept) · from {at}"
            );
            view! { <li class="system-line archived">{text}</li> }.into_any()
        }
        EventBody::Survey { survey, score } => {
            let (_, high) = survey.scale();
            view! { <li class="system-line">{format!("{} survey answered: {score} of {high} · {at}", survey.name())}</li> }.into_any()
        }
        EventBody::Updated { status, priority, owner, team, labels } => {
            let mut parts = Vec::new();
            if let Some(st) = status {
                parts.push(format!("status {}", format!("{st:?}").to_lowercase()));
            }
            if let Some(p) = priority {
                parts.push(format!("priority {}", p.as_str()));
            }
            match owner {
                Some(Some(o)) => parts.push(format!("assigned to {o}")),
                Some(None) => parts.push("unassigned".into()),
                None => {}
            }
            if let Some(t) = team {
                parts.push(format!("team {}", t.clone().unwrap_or_else(|| "none".into())));
            }
            if let Some(l) = labels {
                parts.push(format!("labels {}", l.join(", ")));
            }
            view! { <li class="system-line">{format!("{} · {at}", parts.join(", "))}</li> }.into_any()
        }
    }
}

#[component]
fn SlaClock(metric: MetricStatus, evaluated_at: DateTime<Utc>, zone: ViewerZone) -> impl IntoView {
    let when = |t| local(t, &zone);
    let name = metric_name(metric.metric);
    let mut lines = Vec::new();
    if let Some(t) = metric.started_at {
        lines.push(format!("started {}", when(t)));
    }
    let running = matches!(
        metric.state,
        ClockState::Ok | ClockState::Warning | ClockState::Breached
    );
    if running {
        if let Some(t) = metric.warn_at {
            lines.push(format!("runs out from {}", when(t)));
        }
        if let Some(t) = metric.due_at {
            lines.push(format!("due {}", when(t)));
        }
    }
    if metric.state == ClockState::Paused {
        lines.push("paused".into());
    }
    if let Some(t) = metric.finished_at {
        let how = if metric.state == ClockState::Missed {
            "missed"
        } else {
            "met"
        };
        lines.push(format!("{how} {}", when(t)));
    }
    if metric.breaches > 0 {
        lines.push(format!(
            "{} breached cycle(s) of {}",
            metric.breaches,
            metric.cycles.max(1)
        ));
    }
    let detail = lines
        .into_iter()
        .map(|l| view! { <li>{l}</li> })
        .collect_view();
    view! {
        <li class="clock" data-metric=format!("{:?}", metric.metric).to_lowercase()>
            <span class="clock-name">{name}</span>" "
            <Badge metric=metric.clone() evaluated_at/>
            <ul class="clock-detail">{detail}</ul>
        </li>
    }
}
