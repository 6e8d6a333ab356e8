//! The live/offline indicator, fed by the server-sent-events stream `/api/v1/stream`.

use leptos::prelude::*;

#[component]
pub fn LiveIndicator() -> impl IntoView {
    // Rendered "offline" on the server; the browser flips it when the stream opens.
    let live = RwSignal::new(false);

    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        use send_wrapper::SendWrapper;
        use wasm_bindgen::{closure::Closure, JsCast};
        let Ok(source) = web_sys::EventSource::new("/api/v1/stream") else {
            return;
        };
        let on_open = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| live.set(true));
        let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| live.set(false));
        let on_beat = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| live.set(true));
        source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        let _ =
            source.add_event_listener_with_callback("heartbeat", on_beat.as_ref().unchecked_ref());
        let held = SendWrapper::new((source, on_open, on_error, on_beat));
        on_cleanup(move || held.0.close());
    });

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
