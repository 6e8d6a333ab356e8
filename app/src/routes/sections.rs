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
pub fn PoliciesPage() -> impl IntoView {
    view! { <SectionPage section=Section::Policies intro="No SLA policies yet. Policies set first-response, next-response and resolution targets."/> }
}

#[component]
pub fn CalendarsPage() -> impl IntoView {
    view! { <SectionPage section=Section::Calendars intro="No business-hours calendars yet. Without one, every hour counts."/> }
}

#[component]
pub fn RulesPage() -> impl IntoView {
    view! { <SectionPage section=Section::Rules intro="No automation rules yet. Without rules, the default policy applies to every conversation."/> }
}

#[component]
pub fn CompliancePage() -> impl IntoView {
    view! { <SectionPage section=Section::Compliance intro="No contracts yet. Contracts compare what was promised with what was delivered."/> }
}
