//! The admin editors (calendars, policies, rules): a list of items with edit and delete,
//! and one form that creates a new item or edits the one the query names (`?edit=<id>`).

use super::form::{form_echo, FieldErrors};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use leptos_router::params::ParamsMap;
use serde::{de::DeserializeOwned, Serialize};

/// An editor's page: `<section class="{class} admin-page">` with its heading (the
/// children), then the body rendered from the page's data and its form state (the query,
/// with a failed post's echo). Edit links change only the query: the suspended body reads
/// it, so it renders again.
#[component]
pub fn EditorPage<T, F>(
    /// The section's class, besides `admin-page`.
    class: &'static str,
    /// The text shown while the data loads.
    loading: &'static str,
    data: Resource<Result<T, ServerFnError>>,
    /// The page's body from its data and form state.
    body: F,
    children: Children,
) -> impl IntoView
where
    T: Clone + Send + Sync + Serialize + DeserializeOwned + 'static,
    F: Fn(T, ParamsMap) -> AnyView + Clone + Send + Sync + 'static,
{
    let q = use_query_map();
    let echo = form_echo();
    view! {
        <section class=format!("{class} admin-page")>
            {children()}
            <Transition fallback=move || view! { <p class="muted">{loading}</p> }>
                {move || {
                    let query = echo.apply(q.get_untracked());
                    let body = body.clone();
                    Suspend::new(async move {
                        match data.await {
                            Ok(d) => body(d, query),
                            Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                        }
                    })
                }}
            </Transition>
        </section>
    }
}

/// The notice after a save (`notice=<code>`, in the words of `notice`), with the saved
/// item's name unless the form is shown again.
pub fn saved_notice(query: &ParamsMap, notice: fn(&str) -> Option<&'static str>) -> Option<String> {
    query
        .get("notice")
        .and_then(|c| notice(&c))
        .map(|m| match query.get("name") {
            Some(n) if query.get("form").is_none() => format!("{m} ({n})"),
            _ => m.to_string(),
        })
}

/// The editor's form: the item being edited (`edit=<id>`, if it is in `items`), what the
/// form shows (what was typed after a failed save, when the query has `form`; else the
/// item; else a new item's defaults), and the field errors.
pub fn editor_form<I: Clone, F>(
    query: &ParamsMap,
    items: &[I],
    id: impl Fn(&I) -> i64,
    typed: impl FnOnce(&ParamsMap) -> F,
    stored: impl FnOnce(&I) -> F,
    new: impl FnOnce() -> F,
) -> (Option<I>, F, FieldErrors) {
    let edit = query.get("edit").and_then(|v| v.parse::<i64>().ok());
    let editing = edit.and_then(|e| items.iter().find(|i| id(i) == e).cloned());
    let fields = if query.get("form").is_some() {
        typed(query)
    } else if let Some(item) = &editing {
        stored(item)
    } else {
        new()
    };
    (editing, fields, FieldErrors::from_query(query))
}
