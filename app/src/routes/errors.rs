//! Pages for "not found" and "not allowed".

use leptos::prelude::*;
use leptos_meta::Title;
use promptly::account::{Role, Section};

#[component]
pub fn NotFound() -> impl IntoView {
    crate::components::notice::set_status(404);
    view! {
        <Title text="Not found"/>
        <main class="page">
            <section class="notice">
                <h1>"Page not found"</h1>
                <p>"There is nothing at this address. "<a href="/">"Go to the queue"</a>"."</p>
            </section>
        </main>
    }
}

#[component]
pub fn Forbidden(section: Section, role: Role) -> impl IntoView {
    view! {
        <Title text="Not allowed"/>
        <section class="notice forbidden" data-status="403">
            <h1>"403 · Not allowed"</h1>
            <p>
                {format!(
                    "{} is not open to your role ({}). Ask an admin if you need it.",
                    section.label(),
                    role.label(),
                )}
            </p>
            <p><a href="/">"Back to the queue"</a></p>
        </section>
    }
}
