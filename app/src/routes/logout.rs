//! The logout page: one button that ends the session (a POST, so no link can log you out).

use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn LogoutPage() -> impl IntoView {
    view! {
        <Title text="Log out"/>
        <main class="login">
            <form method="post" action="/logout" class="card">
                <h1>"Log out of Promptly?"</h1>
                <p class="muted">"Your session ends on this device at once."</p>
                <button type="submit" class="primary">"Log out"</button>
                <p><a href="/">"Stay logged in"</a></p>
            </form>
        </main>
    }
}
