//! The live feed: one EventSource on `/api/v1/stream` per page, shared through context. It
//! drives the live/offline indicator and hands each changed conversation (with its SLA) to
//! the pages, which patch their rows instead of reloading.

use leptos::prelude::*;
use promptly::conversation::ConversationView;
use promptly::notify::NotificationView;
use std::sync::Arc;

/// How many recent changes the page keeps, to re-apply those newer than reloaded data.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const KEPT: usize = 1000;

/// Shared by the shell and the pages.
#[derive(Clone, Copy)]
pub struct LiveFeed {
    /// Whether the stream is open.
    pub live: RwSignal<bool>,
    /// The last changed conversation and its stream sequence number. Each stream message
    /// is its own browser task, so effects see every value.
    pub last: RwSignal<Option<(u64, Arc<ConversationView>)>>,
    /// Bumped when changes were missed (the stream says it starts after changes this page
    /// has not seen, or a number was skipped): pages reload their data then.
    pub resync: RwSignal<u64>,
    /// The highest change number the page's data reflects.
    seen: StoredValue<Option<u64>>,
    /// The latest changes received, oldest first.
    recent: StoredValue<std::collections::VecDeque<(u64, Arc<ConversationView>)>>,
    /// The last notification for the signed-in person (the bell and the notifications page
    /// take it from here).
    pub notified: RwSignal<Option<Arc<NotificationView>>>,
}

impl LiveFeed {
    /// Tells the feed that the page loaded data reflecting every change up to `seq`.
    pub fn loaded(&self, seq: u64) {
        self.seen
            .update_value(|s| *s = promptly::stream::on_loaded(*s, seq));
    }

    /// The changes received that are numbered above `seq`, oldest first.
    pub fn since(&self, seq: u64) -> Vec<(u64, Arc<ConversationView>)> {
        self.recent
            .with_value(|r| r.iter().filter(|(s, _)| *s > seq).cloned().collect())
    }

    /// Creates the feed and, in the browser, opens the stream.
    pub fn start() -> LiveFeed {
        let feed = LiveFeed {
            live: RwSignal::new(false),
            last: RwSignal::new(None),
            resync: RwSignal::new(0),
            seen: StoredValue::new(None),
            recent: StoredValue::new(Default::default()),
            notified: RwSignal::new(None),
        };
        provide_context(feed);

        #[cfg(feature = "hydrate")]
        Effect::new(move |_| {
            use promptly::stream::StreamEvent;
            use send_wrapper::SendWrapper;
            use wasm_bindgen::{closure::Closure, JsCast};
            let Ok(source) = web_sys::EventSource::new("/api/v1/stream") else {
                return;
            };
            let LiveFeed {
                live,
                last,
                resync,
                seen,
                recent,
                notified,
            } = feed;
            let on_open = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| live.set(true));
            let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| live.set(false));
            let on_beat = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| live.set(true));
            let parse = |e: &web_sys::MessageEvent| {
                e.data()
                    .as_string()
                    .and_then(|d| serde_json::from_str::<StreamEvent>(&d).ok())
            };
            // The stream starts after `seq` (fresh, or resumed with Last-Event-ID): data
            // that reflects less has missed changes.
            let on_hello = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(
                move |e: web_sys::MessageEvent| {
                    live.set(true);
                    if let Some(StreamEvent::Hello { seq, .. }) = parse(&e) {
                        let (now_seen, missed) = promptly::stream::on_hello(seen.get_value(), seq);
                        seen.set_value(now_seen);
                        if missed {
                            resync.update(|n| *n += 1);
                        }
                    }
                },
            );
            let on_change = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(
                move |e: web_sys::MessageEvent| {
                    let Ok(seq) = e.last_event_id().parse::<u64>() else {
                        return;
                    };
                    let prev = seen.get_value();
                    if prev.is_some_and(|x| seq <= x) {
                        return; // already reflected
                    }
                    seen.set_value(Some(seq));
                    let Some(StreamEvent::Conversation { conversation }) = parse(&e) else {
                        resync.update(|n| *n += 1);
                        return;
                    };
                    let changed = Arc::new(*conversation);
                    recent.update_value(|r| {
                        if r.len() == KEPT {
                            r.pop_front();
                        }
                        r.push_back((seq, changed.clone()));
                    });
                    last.set(Some((seq, changed)));
                    if prev.is_some_and(|x| seq > x + 1) {
                        resync.update(|n| *n += 1); // a change was skipped
                    }
                },
            );
            // Notifications are unnumbered: they do not move `seen`.
            let on_notification = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(
                move |e: web_sys::MessageEvent| {
                    if let Some(StreamEvent::Notification { notification, .. }) = parse(&e) {
                        notified.set(Some(Arc::new(*notification)));
                    }
                },
            );
            let _ = source.add_event_listener_with_callback(
                StreamEvent::NOTIFICATION,
                on_notification.as_ref().unchecked_ref(),
            );
            let _ =
                source.add_event_listener_with_callback("hello", on_hello.as_ref().unchecked_ref());
            source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
            source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
            let _ = source
                .add_event_listener_with_callback("heartbeat", on_beat.as_ref().unchecked_ref());
            let _ = source.add_event_listener_with_callback(
                "conversation",
                on_change.as_ref().unchecked_ref(),
            );
            let held = SendWrapper::new((
                source,
                on_open,
                on_error,
                on_beat,
                on_hello,
                on_change,
                on_notification,
            ));
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
