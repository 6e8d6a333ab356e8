//! Shows a page only to the roles its section allows; others get a clear 403.

use super::shell::Me;
use leptos::prelude::*;
use leptos_meta::Title;
use promptly::account::Section;

#[component]
pub fn RoleGuard(section: Section, children: ChildrenFn) -> impl IntoView {
    let Me(me) = expect_context::<Me>();
    let children = StoredValue::new(children);
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match me.await.ok().flatten() {
                    None => view! {
                        <section class="notice">
                            <h1>"Please log in"</h1>
                            <p><a href=format!("/login?next={}", section.path())>"Log in"</a>" to continue."</p>
                        </section>
                    }.into_any(),
                    Some(user) if section.allows(user.role) => children.with_value(|c| c()).into_any(),
                    Some(user) => {
                        super::notice::set_status(403);
                        view! { <crate::routes::errors::Forbidden section role=user.role/> }.into_any()
                    }
                }
            })}
        </Suspense>
    }
}

/// A section's own page (`/calendars`, `/admin/users`, …): guarded by [`RoleGuard`] and
/// titled with the section's label. The page's resources are created inside the guard.
#[component]
pub fn SectionPage(section: Section, children: ChildrenFn) -> impl IntoView {
    let children = StoredValue::new(children);
    view! {
        <RoleGuard section>
            <Title text=section.label()/>
            {children.with_value(|c| c())}
        </RoleGuard>
    }
}
