//! Form plumbing shared by the pages: what a form shows again after a failed save.
//!
//! Without JavaScript a failed save answers 422 with the page rendered from what was sent
//! (as Rails and Django do): the server puts a [`FormEcho`] on the page's request and the
//! page reads it with [`form_state`], so nothing is lost however long it is. The same pairs
//! can also arrive in the query (`?name=…&err_name=…`), as the older redirects sent them.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// What a failed form post sent: its fields, and `err_<field>` with each error's message
/// (`err_metrics[2].within_s`), in the order they came.
#[derive(Clone, Debug, Default)]
pub struct FormEcho(pub Vec<(String, String)>);

/// The page's form state: the echo of a failed post when the server shows the page again,
/// else the query. Read the same on the server and while hydrating (the echo travels in the
/// page as a shared value).
pub fn form_state() -> Vec<(String, String)> {
    let echo = SharedValue::new(|| {
        #[cfg(feature = "ssr")]
        {
            use_context::<axum::http::request::Parts>()
                .and_then(|parts| parts.extensions.get::<FormEcho>().cloned())
                .map(|echo| echo.0)
                .unwrap_or_default()
        }
        #[cfg(not(feature = "ssr"))]
        {
            Vec::<(String, String)>::new()
        }
    })
    .into_inner();
    if !echo.is_empty() {
        return echo;
    }
    use_query_map().with_untracked(|q| {
        q.clone()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect()
    })
}
