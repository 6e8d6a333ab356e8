//! The frame around every signed-in page: navigation by role, the live indicator, log out.

use super::bell::Bell;
use super::live::{LiveFeed, LiveIndicator};
use super::time::Zone;
use crate::api::{get_me, get_notifications, get_zone, NotificationsData};
use leptos::prelude::*;
use promptly::account::{Section, UserView};

/// The signed-in user, fetched once per page load and shared with the pages below.
#[derive(Clone, Copy)]
pub struct Me(pub Resource<Result<Option<UserView>, ServerFnError>>);

/// The signed-in person's unread count and settings, fetched once per page load (the bell).
#[derive(Clone, Copy)]
pub struct Notes(pub Resource<Result<Option<NotificationsData>, ServerFnError>>);

#[component]
pub fn Shell(children: ChildrenFn) -> impl IntoView {
    let me = Resource::new(|| (), |_| get_me());
    provide_context(Me(me));
    // Created here, before the page's own resources, in the same order on the server and
    // in the browser.
    provide_context(Zone(Resource::new(|| (), |_| get_zone())));
    let notes = Resource::new(|| (), |_| get_notifications(false));
    provide_context(Notes(notes));
    LiveFeed::start();
    let children = StoredValue::new(children);
    view! {
        <header class="topbar">
            <a class="brand" href="/">"Promptly"</a>
            <Suspense fallback=|| ()>
                // One Suspend for both (a Suspense nested in another hydrates in a race
                // with its resource).
                {move || Suspend::new(async move {
                    let user = me.await.ok().flatten();
                    let notes = notes.await.ok().flatten();
                    user.map(|u| view! { <Nav user=u notes/> })
                })}
            </Suspense>
        </header>
        <main class="page">
            // Rendered once, not inside a Suspend: resources created by the page must be
            // created in the same order on the server and in the browser to hydrate.
            {children.with_value(|c| c())}
        </main>
    }
}

#[component]
fn Nav(user: UserView, notes: Option<NotificationsData>) -> impl IntoView {
    let links = Section::visible_to(user.role)
        .map(|s| {
            view! { <li><a href=s.path()>{s.label()}</a></li> }
        })
        .collect_view();
    // The API page is served by the server, not the router: `rel="external"` makes the
    // hydrated app load it rather than route to it.
    let api_link = (user.role == promptly::account::Role::Admin)
        .then(|| view! { <li><a href="/api/docs/" rel="external">"API"</a></li> });
    view! {
        <nav aria-label="Main">
            <ul class="nav">{links}{api_link}</ul>
        </nav>
        <div class="who">
            <LiveIndicator/>
            <Bell data=notes/>
            <a class="user" href="/account" title=format!("{}: my account", user.email)>
                {if user.name.is_empty() { user.email.clone() } else { user.name.clone() }}
                " "
                <span class="role">{user.role.label()}</span>
            </a>
            <form method="post" action="/logout" class="inline">
                <button type="submit" class="link">"Log out"</button>
            </form>
        </div>
    }
}
