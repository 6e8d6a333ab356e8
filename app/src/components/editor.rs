//! The admin editors (calendars, policies, rules): a list of items with edit and delete,
//! and one form that creates a new item or edits the one the query names (`?edit=<id>`).

use super::form::{field_error, form_echo, FieldErrors};
use super::time::{use_zone, ViewerZone};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use leptos_router::params::ParamsMap;
use promptly::limits;
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
    /// The page's body from its data, form state and the viewer's time zone.
    body: F,
    children: Children,
) -> impl IntoView
where
    T: Clone + Send + Sync + Serialize + DeserializeOwned + 'static,
    F: Fn(T, ParamsMap, ViewerZone) -> AnyView + Clone + Send + Sync + 'static,
{
    let q = use_query_map();
    let zone = use_zone();
    let echo = form_echo();
    view! {
        <section class=format!("{class} admin-page")>
            {children()}
            <Transition fallback=move || view! { <p class="muted">{loading}</p> }>
                {move || {
                    let query = echo.apply(q.get_untracked());
                    let body = body.clone();
                    Suspend::new(async move {
                        let zone = zone.read().await;
                        match data.await {
                            Ok(d) => body(d, query, zone),
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

/// An editor's form: it posts to `path`, or to `path?edit=<id>` for the item being edited;
/// its heading, the way back to a new item, the form-wide error, the fields (the children)
/// and the submit button.
#[component]
pub fn EditorForm(
    /// The editor's page (`/calendars`).
    path: &'static str,
    /// The form's class, besides `card admin-form`.
    class: &'static str,
    /// What an item is called (`calendar`).
    noun: &'static str,
    /// The item being edited: its id and name.
    edit: Option<(i64, String)>,
    /// The edited item's version, for the heading (policies have versions).
    version: Option<i64>,
    /// The error of the whole form, not of one field.
    form_error: Option<String>,
    children: Children,
) -> impl IntoView {
    let (action, heading, button) = match &edit {
        Some((id, name)) => (
            format!("{path}?edit={id}"),
            match version {
                Some(v) => format!("Edit “{name}” (version {v})"),
                None => format!("Edit “{name}”"),
            },
            format!("Save {noun}"),
        ),
        None => (
            path.to_string(),
            format!("Add a {noun}"),
            format!("Create {noun}"),
        ),
    };
    view! {
        <form method="post" action=action class=format!("card admin-form {class}") novalidate>
            <h2>{heading}</h2>
            {edit.map(|_| view! { <p><a href=path>{format!("Add a new {noun} instead")}</a></p> })}
            {form_error.map(|m| view! { <p class="error" role="alert">{m}</p> })}
            {children()}
            <button type="submit" class="primary">{button}</button>
        </form>
    }
}

/// The name and description fields of a calendar or a policy.
pub fn name_and_description(
    name: String,
    description: String,
    errors: &FieldErrors,
) -> impl IntoView {
    view! {
        <label>"Name"
            <input type="text" name="name" value=name maxlength=limits::NAME_LEN aria-invalid=errors.get("name").map(|_| "true")/>
        </label>
        {field_error(errors, "name")}
        <label>"Description"
            <textarea name="description" rows="2" maxlength=limits::DESCRIPTION_LEN>{description}</textarea>
        </label>
        {field_error(errors, "description")}
    }
}
