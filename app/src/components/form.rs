//! Form plumbing shared by the pages: what a form shows again after a failed save.
//!
//! Without JavaScript a failed save answers 422 with the page rendered from what was sent
//! (as Rails and Django do): the server puts a [`FormEcho`] on the page's request and the
//! page reads it with [`form_state`], so nothing is lost however long it is. The same pairs
//! can also arrive in the query (`?name=…&err_name=…`), as the older redirects sent them.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use leptos_router::params::ParamsMap;

/// What a failed form post sent: its fields, and `err_<field>` with each error's message
/// (`err_metrics[2].within_s`), in the order they came.
#[derive(Clone, Debug, Default)]
pub struct FormEcho(pub Vec<(String, String)>);

/// What a failed post sent, when the server shows its page again (else nothing), for the
/// URL the page was loaded at. Make it once in the page's component body: the value
/// travels in the page for hydration.
pub struct Echo {
    query: String,
    pairs: Vec<(String, String)>,
}

impl Echo {
    /// The query with the echo added while it is still the query the page was loaded with
    /// (after an in-page navigation, the echo belongs to another form). Pages that read their
    /// form state from the query (`form=1`, typed fields, `err_<field>`) then read it the
    /// same way after a redirect and after a 422.
    pub fn apply(&self, mut query: ParamsMap) -> ParamsMap {
        if self.pairs.is_empty() || query.to_query_string() != self.query {
            return query;
        }
        for (k, v) in &self.pairs {
            query.insert(k.clone(), v.clone());
        }
        query
    }
}

pub fn form_echo() -> Echo {
    let pairs = SharedValue::new(|| {
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
    Echo {
        query: use_query_map().with_untracked(|q| q.to_query_string()),
        pairs,
    }
}

/// The page's form state: the echo of a failed post when the server shows the page again,
/// else the query. Read the same on the server and while hydrating.
pub fn form_state() -> Vec<(String, String)> {
    let echo = form_echo().pairs;
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

/// The field errors of a form's state (the query, with a failed post's echo):
/// `err_<path>` → (path, message). One place for every page's forms.
#[derive(Debug, Clone, Default)]
pub struct FieldErrors(Vec<(String, String)>);

impl FieldErrors {
    pub fn from_query(q: &ParamsMap) -> Self {
        let mut errors: Vec<(String, String)> = q
            .clone()
            .into_iter()
            .filter_map(|(k, v)| {
                let path = k.strip_prefix("err_")?.to_string();
                Some((path, v))
            })
            .collect();
        errors.sort();
        FieldErrors(errors)
    }

    pub fn get(&self, path: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(k, _)| k == path)
            .map(|(_, m)| m.clone())
    }

    /// The errors of row `i` of `list` (`conditions[1]`, `conditions[1].op`).
    pub fn row(&self, list: &str, i: usize) -> Vec<(String, String)> {
        let prefix = format!("{list}[{i}]");
        self.0
            .iter()
            .filter(|(k, _)| {
                k.strip_prefix(&prefix)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
            })
            .cloned()
            .collect()
    }
}

/// A field's error message, by its field (`data-field` names the field).
pub fn field_error(errors: &FieldErrors, path: &'static str) -> impl IntoView {
    errors
        .get(path)
        .map(|m| view! { <p class="field-error" data-field=path>{m}</p> })
}

/// The options of a select whose values are their own labels; the one equal to `selected`
/// is chosen.
pub fn options(values: impl IntoIterator<Item = &'static str>, selected: &str) -> impl IntoView {
    values
        .into_iter()
        .map(|v| view! { <option value=v selected=v == selected>{v}</option> })
        .collect_view()
}
