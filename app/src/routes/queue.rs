//! The agents' live queue.

use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn QueuePage() -> impl IntoView {
    view! {
        <Title text="Queue"/>
        <section class="queue">
            <h1>"Queue"</h1>
            <p class="empty" data-testid="queue-empty">
                "No open conversations. Conversations from your messaging channels appear here, most urgent first."
            </p>
        </section>
    }
}
