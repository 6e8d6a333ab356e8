//! The top bar's bell: the unread count of the signed-in person's notifications, counting up
//! as the live feed brings new ones, and in the browser (after the person allowed it) a
//! browser notification and an optional sound for each, outside their quiet hours.

use super::live::LiveFeed;
use crate::api::NotificationsData;
use leptos::prelude::*;

#[component]
pub fn Bell(data: Option<NotificationsData>) -> impl IntoView {
    let base = data.as_ref().map_or(0, |d| d.list.unread);
    let settings = data.map(|d| d.settings).unwrap_or_default();
    let arrived = RwSignal::new(0i64);
    if let Some(feed) = use_context::<LiveFeed>() {
        Effect::new(move |_| {
            if let Some(n) = feed.notified.get() {
                arrived.update(|x| *x += 1);
                #[cfg(feature = "hydrate")]
                browser::show(&n, &settings);
                #[cfg(not(feature = "hydrate"))]
                let _ = (&n, &settings);
            }
        });
    }
    let count = move || base + arrived.get();
    view! {
        <a
            class="bell"
            href="/notifications"
            aria-label=move || format!("Notifications: {} unread", count())
            data-unread=move || count().to_string()
        >
            <span aria-hidden="true">"🔔"</span>
            <span class="count" class:zero=move || count() == 0 aria-hidden="true">{count}</span>
        </a>
    }
}

/// What the browser does with a notification.
#[cfg(feature = "hydrate")]
pub mod browser {
    use promptly::notify::{NotificationKind, NotificationSettings, NotificationView};
    use wasm_bindgen::{closure::Closure, JsCast};
    use web_sys::{Notification, NotificationOptions, NotificationPermission};

    /// The browser's local time of day now.
    fn local_now() -> chrono::NaiveTime {
        let d = js_sys::Date::new_0();
        chrono::NaiveTime::from_hms_opt(d.get_hours(), d.get_minutes(), d.get_seconds())
            .unwrap_or_default()
    }

    /// Whether the person allowed browser notifications.
    pub fn allowed() -> bool {
        Notification::permission() == NotificationPermission::Granted
    }

    /// A browser notification (when allowed and not in quiet hours), opening its page when
    /// clicked; with a sound for a warning or breach when the person wants one.
    pub fn show(n: &NotificationView, settings: &NotificationSettings) {
        if !allowed() || settings.is_quiet(local_now()) {
            return;
        }
        let options = NotificationOptions::new();
        options.set_body(&n.body);
        options.set_tag(&format!("promptly-{}", n.id));
        if let Ok(note) = Notification::new_with_options(&n.title, &options) {
            let link = n.link.clone();
            let open = Closure::once_into_js(move || {
                if let Some(w) = web_sys::window() {
                    let _ = w.focus();
                    let _ = w.location().set_href(&link);
                }
            });
            note.set_onclick(Some(open.unchecked_ref()));
        }
        if settings.sound && matches!(n.kind, NotificationKind::Warning | NotificationKind::Breach)
        {
            beep();
        }
    }

    /// A short tone (Web Audio).
    fn beep() {
        let Ok(ctx) = web_sys::AudioContext::new() else {
            return;
        };
        let (Ok(osc), Ok(gain)) = (ctx.create_oscillator(), ctx.create_gain()) else {
            return;
        };
        osc.frequency().set_value(880.0);
        gain.gain().set_value(0.1);
        let now = ctx.current_time();
        let _ = osc.connect_with_audio_node(&gain);
        let _ = gain.connect_with_audio_node(&ctx.destination());
        let _ = osc.start_with_when(now);
        let _ = osc.stop_with_when(now + 0.25);
    }

    /// Asks the browser for permission; `done` gets whether it was granted.
    pub fn ask(done: impl Fn(bool) + 'static) {
        let Ok(promise) = Notification::request_permission() else {
            done(false);
            return;
        };
        wasm_bindgen_futures::spawn_local(async move {
            let answer = wasm_bindgen_futures::JsFuture::from(promise).await;
            done(answer.ok().and_then(|v| v.as_string()).as_deref() == Some("granted"));
        });
    }
}
