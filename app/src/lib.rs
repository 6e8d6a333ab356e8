//! Promptly's user interface: Leptos pages rendered on the server and hydrated in the browser.
//!
//! - [`routes`]: one module per page.
//! - [`components`]: the app shell (navigation, live indicator), the role guard, and what
//!   the pages share: the editors' frame, list tables, notices and form plumbing.
//! - [`api`]: thin server functions; on the server they call the [`api::ssr::Backend`] that
//!   the `server` crate provides through context.

#![recursion_limit = "512"]

pub mod api;
pub mod components;
pub mod routes;

use components::guard::{RoleGuard, SectionPage};
use components::shell::Shell;
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    lazy_route, path, Lazy, LazyRoute, SsrMode,
};
use promptly::account::Section;

/// What a page may load and run: its own scripts, styles, WebAssembly and stream, plus the
/// inline scripts Leptos writes for hydration, each carrying this answer's `nonce`. No
/// inline styles, no plugins, no framing, forms only to this site.
pub fn content_security_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let (Some(nonce), Some(resp)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) {
        if let Ok(csp) = axum::http::HeaderValue::from_str(&content_security_policy(&nonce)) {
            resp.insert_header(axum::http::header::CONTENT_SECURITY_POLICY, csp);
        }
    }
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" type="image/svg+xml" href="/favicon.svg"/>
                <HashedStylesheet id="leptos" options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

// Every page but the queue and the login loads its WebAssembly when first opened (`cargo
// leptos --split` cuts it into chunks at these routes): the first load of the queue, where
// agents live, downloads only the code the queue runs.
macro_rules! lazy_pages {
    ($($(#[$doc:meta])* $name:ident => $view:expr;)*) => {$(
        $(#[$doc])*
        struct $name;

        #[lazy_route]
        impl LazyRoute for $name {
            fn data() -> Self {
                $name
            }

            fn view(_this: Self) -> AnyView {
                $view.into_any()
            }
        }
    )*};
}

lazy_pages! {
    /// `/account`
    AccountRoute => view! { <Shell><routes::account::AccountPage/></Shell> };
    /// `/notifications`
    NotificationsRoute => view! { <Shell><routes::notifications::NotificationsPage/></Shell> };
    /// `/conversations/:id`
    ConversationRoute => view! { <Shell><routes::conversation::ConversationRoute/></Shell> };
    /// `/policies`
    PoliciesRoute => view! { <Shell><SectionPage section=Section::Policies><routes::policies::PoliciesPage/></SectionPage></Shell> };
    /// `/live`
    LiveRoute => view! { <Shell><SectionPage section=Section::Live><routes::live::LivePage/></SectionPage></Shell> };
    /// `/policies/:id/what-if`
    WhatIfRoute => view! { <Shell><RoleGuard section=Section::Policies><routes::policies::what_if::WhatIfPage/></RoleGuard></Shell> };
    /// `/calendars`
    CalendarsRoute => view! { <Shell><SectionPage section=Section::Calendars><routes::calendars::CalendarsPage/></SectionPage></Shell> };
    /// `/rules`
    RulesRoute => view! { <Shell><SectionPage section=Section::Rules><routes::rules::RulesPage/></SectionPage></Shell> };
    /// `/channels`
    ChannelsRoute => view! { <Shell><SectionPage section=Section::Channels><routes::channels::ChannelsPage/></SectionPage></Shell> };
    /// `/compliance`
    ComplianceRoute => view! { <Shell><SectionPage section=Section::Compliance><routes::compliance::CompliancePage/></SectionPage></Shell> };
    /// `/compliance/new`
    ContractNewRoute => view! { <Shell><RoleGuard section=Section::Compliance><routes::compliance::ContractEditorPage/></RoleGuard></Shell> };
    /// `/compliance/:id`
    ContractRoute => view! { <Shell><RoleGuard section=Section::Compliance><routes::compliance::ContractPage/></RoleGuard></Shell> };
    /// `/compliance/:id/edit`
    ContractEditRoute => view! { <Shell><RoleGuard section=Section::Compliance><routes::compliance::ContractEditorPage/></RoleGuard></Shell> };
    /// `/admin/users`
    AdminUsersRoute => view! { <Shell><SectionPage section=Section::Users><routes::users::UsersPage/></SectionPage></Shell> };
    /// `/admin/audit`
    AdminAuditRoute => view! { <Shell><SectionPage section=Section::Audit><routes::audit::AuditPage/></SectionPage></Shell> };
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Every route waits for its data on the server, so pages read the same with JavaScript
    // off as hydrated.
    view! {
        <Title formatter=|text: String| if text.is_empty() { "Promptly".to_string() } else { format!("{text} · Promptly") }/>
        <Router>
            <Routes fallback=routes::errors::NotFound>
                <Route path=path!("/login") view=routes::login::LoginPage ssr=SsrMode::Async/>
                <Route path=path!("/logout") view=routes::logout::LogoutPage ssr=SsrMode::Async/>
                <Route path=path!("/") view=|| view! { <Shell><routes::queue::QueuePage/></Shell> } ssr=SsrMode::Async/>
                <Route path=path!("/account") view={Lazy::<AccountRoute>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/notifications") view={Lazy::<NotificationsRoute>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/conversations/:id") view={Lazy::<ConversationRoute>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/policies") view={Lazy::<PoliciesRoute>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/live") view={Lazy::<LiveRoute>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/policies/:id/what-if") view={Lazy::<WhatIfRoute>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/calendars") view={Lazy::<CalendarsRoute>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/rules") view={Lazy::<RulesRoute>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/channels") view={Lazy::<ChannelsRoute>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/compliance") view={Lazy::<ComplianceRoute>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/compliance/new") view={Lazy::<ContractNewRoute>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/compliance/:id") view={Lazy::<ContractRoute>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/compliance/:id/edit") view={Lazy::<ContractEditRoute>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/admin/users") view={Lazy::<AdminUsersRoute>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/admin/audit") view={Lazy::<AdminAuditRoute>::new()} ssr=SsrMode::Async/>
            </Routes>
        </Router>
    }
}

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    components::time::remember_browser_zone();
    leptos::mount::hydrate_lazy(App);
}
