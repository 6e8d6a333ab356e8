//! "Notifications": the signed-in person's latest notifications (SLA warnings and breaches,
//! band changes, rules' `notify`), each opening its page and marked read when opened; "Mark
//! all read"; which notifications they get, quiet hours and a sound; and, in the browser,
//! the switch for browser notifications. The forms post to the server
//! (`/notifications/...`) and work without JavaScript; new notifications appear at the top
//! as they come.

use crate::api::get_notifications;
use crate::components::live::LiveFeed;
use crate::components::notice::notices;
use crate::components::time::{local_minutes, use_zone};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use promptly::local_time::ViewerZone;
use promptly::notify::{NotificationKind, NotificationSettings, NotificationView};
use std::sync::Arc;

fn kind_word(kind: NotificationKind) -> &'static str {
    match kind {
        NotificationKind::Warning => "Warning",
        NotificationKind::Breach => "Breach",
        NotificationKind::BandChanged => "Service level",
        NotificationKind::Rule => "Rule",
    }
}

fn item(n: &NotificationView, zone: &ViewerZone) -> impl IntoView {
    let action = format!("/notifications/{}/open", n.id);
    view! {
        <li class="notification" class:unread=!n.read data-kind=n.kind.as_str()>
            <span class="kind">{kind_word(n.kind)}</span>
            <form method="post" action=action class="inline">
                <button type="submit" class="link title">{n.title.clone()}</button>
            </form>
            {(!n.body.is_empty()).then(|| view! { <p class="body">{n.body.clone()}</p> })}
            <time class="muted small">{local_minutes(n.created_at, zone)}</time>
            {(!n.read).then(|| view! { <span class="visually-hidden">" (unread)"</span> })}
        </li>
    }
}

fn settings_form(s: &NotificationSettings) -> impl IntoView {
    let kinds = NotificationKind::ALL
        .into_iter()
        .map(|k| {
            let name = format!("want_{}", k.as_str());
            view! {
                <label class="check">
                    <input type="checkbox" name=name checked=s.wants(k)/>
                    {k.label()}
                </label>
            }
        })
        .collect_view();
    let time =
        |t: Option<chrono::NaiveTime>| t.map(|t| t.format("%H:%M").to_string()).unwrap_or_default();
    view! {
        <form method="post" action="/notifications/settings" class="card notification-settings">
            <h2>"Settings"</h2>
            <fieldset>
                <legend>"Tell me about"</legend>
                {kinds}
            </fieldset>
            <label class="check">
                <input type="checkbox" name="team_unassigned" checked=s.team_unassigned/>
                "Warnings and breaches of my teams' unassigned conversations, besides my own"
            </label>
            <label class="check">
                <input type="checkbox" name="sound" checked=s.sound/>
                "A sound with a browser notification of a warning or breach"
            </label>
            <fieldset class="quiet">
                <legend>"Quiet hours (no browser notifications or sound; the list still fills)"</legend>
                <label>"From " <input type="time" name="quiet_from" value=time(s.quiet_from)/></label>
                <label>"to " <input type="time" name="quiet_to" value=time(s.quiet_to)/></label>
            </fieldset>
            <button type="submit" class="primary">"Save settings"</button>
        </form>
    }
}

/// Browser notifications: whether they are on, and the button that asks for them. Shown
/// only once the page runs in the browser.
#[component]
fn BrowserSwitch() -> impl IntoView {
    let ready = RwSignal::new(false);
    let allowed = RwSignal::new(false);
    Effect::new(move |_| {
        ready.set(true);
        #[cfg(feature = "hydrate")]
        allowed.set(crate::components::bell::browser::allowed());
    });
    let ask = move |_| {
        #[cfg(feature = "hydrate")]
        crate::components::bell::browser::ask(move |ok| allowed.set(ok));
    };
    view! {
        <section class="card browser-notifications" aria-labelledby="browser-notes">
            <h2 id="browser-notes">"Browser notifications"</h2>
            <p class="muted" data-testid="browser-state">
                {move || if !ready.get() {
                    "Browser notifications need JavaScript."
                } else if allowed.get() {
                    "On: this browser shows a notification as each one comes."
                } else {
                    "Off in this browser."
                }}
            </p>
            <button type="button" hidden=move || !ready.get() || allowed.get() on:click=ask>
                "Turn on browser notifications"
            </button>
        </section>
    }
}

#[component]
pub fn NotificationsPage() -> impl IntoView {
    let notes = Resource::new(|| (), |_| get_notifications(true));
    let zone = use_zone();
    let q = use_query_map();
    let flash = q
        .with_untracked(|q| q.get("notice"))
        .and_then(|n| match n.as_str() {
            "read" => Some("All notifications are read."),
            "saved" => Some("Settings saved."),
            _ => None,
        });
    let failure = q.with_untracked(|q| q.get("error"));
    // Those that come while the page is open, newest first.
    let arrived = RwSignal::new(Vec::<Arc<NotificationView>>::new());
    if let Some(feed) = use_context::<LiveFeed>() {
        Effect::new(move |_| {
            if let Some(n) = feed.notified.get() {
                arrived.update(|a| a.insert(0, n));
            }
        });
    }
    view! {
        <Title text="Notifications"/>
        <section class="notifications-page">
            <h1>"Notifications"</h1>
            {notices(flash, failure)}
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let zone = zone.read().await;
                    let data = notes.await.ok().flatten();
                    data.map(|d| {
                        let unread = d.list.unread;
                        let empty = d.list.items.is_empty();
                        let items = d.list.items.iter().map(|n| item(n, &zone)).collect_view();
                        let fresh_zone = zone.clone();
                        let fresh = move || {
                            arrived
                                .get()
                                .iter()
                                .map(|n| item(n, &fresh_zone))
                                .collect_view()
                        };
                        view! {
                            <div class="card">
                                <p class="muted">{format!("{unread} unread")}</p>
                                <form method="post" action="/notifications/read" class="inline">
                                    <button type="submit" disabled=unread == 0>"Mark all read"</button>
                                </form>
                                <ul class="notification-list" aria-live="polite">
                                    {fresh}
                                    {items}
                                </ul>
                                {empty.then(|| view! { <p class="muted" data-testid="no-notifications">"Nothing yet."</p> })}
                            </div>
                            {settings_form(&d.settings)}
                        }
                    })
                })}
            </Suspense>
            <BrowserSwitch/>
        </section>
    }
}
