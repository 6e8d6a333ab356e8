//! The live feed: one EventSource on `/api/v1/stream` per page, shared through context. It
//! drives the live/offline indicator and hands each changed conversation (with its SLA) to
//! the pages, which patch their rows instead of reloading.

use leptos::prelude::*;
use promptly::conversation::ConversationView;
use std::sync::Arc;

/// Shared by the shell and the pages.
#[derive(Clone, Copy)]
pub struct LiveFeed {
    /// Whether the stream is open.
    pub live: RwSignal<bool>,
    /// The last changed conversation and its stream sequence number. Each stream message
    /// is its own browser task, so effects see every value.
    pub last: RwSignal<Option<(u64, Arc<ConversationView>)>>,
    /// Bumped when changes may have been missed (the stream reopened, or a sequence
    /// number was skipped): pages reload their data then.
    pub resync: RwSignal<u64>,
}

impl LiveFeed {
    /// Creates the feed and, in the browser, opens the stream.
    pub fn start() -> LiveFeed {
        let feed = LiveFeed {
            live: RwSignal::new(false),
            last: RwSignal::new(None),
            resync: RwSignal::new(0),
        };
        provide_context(feed);

        #[cfg(feature = "hydrate")]
        Effect::new(move |_| {
            use promptly::stream::StreamEvent;
            use send_wrapper::SendWrapper;
            use std::cell::Cell;
            use std::rc::Rc;
            use wasm_bindgen::{closure::Closure, JsCast};
            let Ok(source) = web_sys::EventSource::new("/api/v1/stream") else {
                return;
            };
            let LiveFeed { live, last, resync } = feed;
            let last_seq = Rc::new(Cell::new(None::<u64>));
            let on_open = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
                // After a drop the browser reconnects with Last-Event-ID; still reload, in
                // case the server restarted and forgot its recent events.
                if !live.get_untracked() {
                    resync.update(|n| *n += 1);
                }
                live.set(true);
            });
            let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| live.set(false));
            let on_beat = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| live.set(true));
            let seen = last_seq.clone();
            let on_change = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(
                move |e: web_sys::MessageEvent| {
                    let seq = e.last_event_id().parse::<u64>().ok();
                    let gap =
                        matches!((seen.get(), seq), (Some(prev), Some(now)) if now != prev + 1);
                    if seq.is_some() {
                        seen.set(seq);
                    }
                    let parsed = e
                        .data()
                        .as_string()
                        .and_then(|d| serde_json::from_str::<StreamEvent>(&d).ok());
                    match parsed {
                        Some(StreamEvent::Conversation { conversation }) if !gap => {
                            last.set(Some((seq.unwrap_or(0), Arc::new(*conversation))));
                        }
                        _ => resync.update(|n| *n += 1),
                    }
                },
            );
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
