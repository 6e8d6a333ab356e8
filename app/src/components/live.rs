//! The live feed: one EventSource on `/api/v1/stream` per page, shared through context. It
//! drives the live/offline indicator and tells pages when conversations change.

use leptos::prelude::*;

/// Shared by the shell and the pages.
#[derive(Clone, Copy)]
pub struct LiveFeed {
    /// Whether the stream is open.
    pub live: RwSignal<bool>,
    /// Bumped on every conversation change (and on reconnect, when changes may be missed).
    pub changes: RwSignal<u64>,
}

impl LiveFeed {
    /// Creates the feed and, in the browser, opens the stream.
    pub fn start() -> LiveFeed {
        let feed = LiveFeed {
            live: RwSignal::new(false),
            changes: RwSignal::new(0),
        };
        provide_context(feed);

        #[cfg(feature = "hydrate")]
        Effect::new(move |_| {
            use send_wrapper::SendWrapper;
            use wasm_bindgen::{closure::Closure, JsCast};
            let Ok(source) = web_sys::EventSource::new("/api/v1/stream") else {
                return;
            };
            let LiveFeed { live, changes } = feed;
            let on_open = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
                // After a drop the browser reconnects with Last-Event-ID; still refresh, in
                // case the server restarted and forgot its recent events.
                if !live.get_untracked() {
                    changes.update(|n| *n += 1);
                }
                live.set(true);
            });
            let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| live.set(false));
            let on_beat = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| live.set(true));
            let on_change =
                Closure::<dyn FnMut(web_sys::Event)>::new(move |_| changes.update(|n| *n += 1));
            source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
            source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
            let _ = source
                .add_event_listener_with_callback("heartbeat", on_beat.as_ref().unchecked_ref());
            let _ = source.add_event_listener_with_callback(
                "conversation",
                on_change.as_ref().unchecked_ref(),
            );
            let held = SendWrapper::new((source, on_open, on_error, on_beat, on_change));
            on_cleanup(move || held.0.close());
        });
        feed
    }
}

#[component]
pub fn LiveIndicator() -> impl IntoView {
    let live = use_context::<LiveFeed>()
        .map(|f| f.live)
        .unwrap_or_else(|| RwSignal::new(false));
    view! {
        <span
            class="live"
            class:on=move || live.get()
            data-live=move || if live.get() { "live" } else { "offline" }
            role="status"
            title=move || {
                if live.get() {
                    "Live: changes appear as they happen"
                } else {
                    "Offline: live updates need JavaScript and a connection"
                }
            }
        >
            <span class="dot" aria-hidden="true"></span>
            {move || if live.get() { "Live" } else { "Offline" }}
        </span>
    }
}
