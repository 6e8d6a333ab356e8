//! What a page says about itself: the notice after a redirect, an error, an item that is
//! not there.

use leptos::prelude::*;
use leptos_meta::Title;

/// The notice of what a form did (`role="status"`) and the error it met (`role="alert"`),
/// each when there is one.
pub fn notices(
    flash: Option<impl IntoView + 'static>,
    failure: Option<impl IntoView + 'static>,
) -> impl IntoView {
    (
        flash.map(|m| view! { <p class="flash" role="status">{m}</p> }),
        failure.map(|m| view! { <p class="error" role="alert">{m}</p> }),
    )
}

/// Answers with `status` when rendered on the server (the browser has no response to set).
pub fn set_status(status: u16) {
    #[cfg(feature = "ssr")]
    if let (Some(resp), Ok(status)) = (
        use_context::<leptos_axum::ResponseOptions>(),
        axum::http::StatusCode::from_u16(status),
    ) {
        resp.set_status(status);
    }
    #[cfg(not(feature = "ssr"))]
    let _ = status;
}

/// The page of an item that does not exist (a contract, a conversation): 404, and a link
/// back to the list it would be in.
#[component]
pub fn Missing(
    heading: &'static str,
    back: &'static str,
    back_text: &'static str,
) -> impl IntoView {
    set_status(404);
    view! {
        <Title text="Not found"/>
        <section class="notice"><h1>{heading}</h1><p><a href=back>{back_text}</a></p></section>
    }
}
