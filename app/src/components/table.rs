//! The pages' lists as tables: `<table class="grid …">`, a header row, a row per item.

use leptos::prelude::*;

/// A grid table: its class (`grid …`), its header cells and its rows.
pub fn grid(class: &'static str, head: impl IntoView, rows: impl IntoView) -> impl IntoView {
    view! {
        <table class=class>
            <thead><tr>{head}</tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
}

/// A list as a [`grid`] with a row per item, or, when there are none, the sentence `empty`.
pub fn list_table<T, V: IntoView>(
    items: Vec<T>,
    empty: &'static str,
    class: &'static str,
    head: impl IntoView,
    row: impl FnMut(T) -> V,
) -> AnyView {
    if items.is_empty() {
        return view! { <p class="empty">{empty}</p> }.into_any();
    }
    let rows = items.into_iter().map(row).collect_view();
    grid(class, head, rows).into_any()
}

/// The cell with an editor's row actions: edit the item, delete it.
pub fn edit_delete(path: &'static str, id: i64) -> impl IntoView {
    view! {
        <td class="row-actions">
            <a href=format!("{path}?edit={id}")>"Edit"</a>
            <form method="post" action=format!("{path}/{id}/delete") class="inline">
                <button type="submit" class="danger">"Delete"</button>
            </form>
        </td>
    }
}

/// Delete with a confirm step that works without JavaScript: a "Delete" link to the page
/// with `?delete=<id>`, where the row shows `question`, the button that posts to
/// `{path}/{id}/delete`, and a way back. `confirming`: the query names this row.
pub fn confirm_delete(path: &'static str, id: i64, question: String, confirming: bool) -> AnyView {
    if confirming {
        view! {
            <form method="post" action=format!("{path}/{id}/delete") class="inline confirm-delete">
                <span>{question}</span>
                <button type="submit" class="danger">"Confirm delete"</button>
                " "<a href=path>"Cancel"</a>
            </form>
        }
        .into_any()
    } else {
        view! { <a href=format!("{path}?delete={id}") class="danger-link">"Delete"</a> }.into_any()
    }
}
