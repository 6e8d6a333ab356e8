//! Configuration and reporting sections, each guarded by role.

use crate::components::guard::RoleGuard;
use leptos::prelude::*;
use leptos_meta::Title;
use promptly::account::Section;

#[component]
fn SectionPage(section: Section, intro: &'static str) -> impl IntoView {
    view! {
        <RoleGuard section>
            <Title text=section.label()/>
            <section>
                <h1>{section.label()}</h1>
                <p class="empty">{intro}</p>
            </section>
        </RoleGuard>
    }
}

#[component]
pub fn CompliancePage() -> impl IntoView {
    view! { <SectionPage section=Section::Compliance intro="No contracts yet. Contracts compare what was promised with what was delivered."/> }
}
