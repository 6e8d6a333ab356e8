//! The admin page for people: list users, create them, change roles, (de)activate.
//!
//! Forms post to the server (`POST /admin/users...`), which redirects back here with a
//! notice or with field errors in the query, so the page works with or without JavaScript.

use crate::api::list_users;
use crate::components::guard::RoleGuard;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use promptly::account::{Role, Section, UserView};

fn notice(code: &str) -> Option<&'static str> {
    Some(match code {
        "created" => "User created.",
        "role" => "Role changed.",
        "deactivated" => "User deactivated; their sessions have ended.",
        "activated" => "User activated.",
        _ => return None,
    })
}

fn error(code: &str) -> Option<&'static str> {
    Some(match code {
        "last_admin" => "There must remain at least one active admin.",
        "self" => "You cannot deactivate yourself.",
        "not_found" => "That user does not exist.",
        _ => return None,
    })
}

#[component]
pub fn UsersPage() -> impl IntoView {
    view! {
        <RoleGuard section=Section::Users>
            <Title text="Users"/>
            <UsersInner/>
        </RoleGuard>
    }
}

#[component]
fn UsersInner() -> impl IntoView {
    let users = Resource::new(|| (), |_| list_users());
    let q = use_query_map();
    let get = move |k: &str| q.with(|q| q.get(k));
    let flash = get("notice").and_then(|c| notice(&c));
    let failure = get("error").and_then(|c| error(&c));
    let field = move |k: &str| get(&format!("err_{k}"));
    let (err_email, err_name, err_role, err_password) = (
        field("email"),
        field("name"),
        field("role"),
        field("password"),
    );
    let email = get("email").unwrap_or_default();
    let name = get("name").unwrap_or_default();
    let role = get("role").unwrap_or_else(|| "agent".into());
    view! {
        <section class="users">
            <h1>"Users"</h1>
            {flash.map(|m| view! { <p class="flash" role="status">{m}</p> })}
            {failure.map(|m| view! { <p class="error" role="alert">{m}</p> })}
            <Suspense fallback=|| view! { <p class="muted">"Loading users…"</p> }>
                {move || Suspend::new(async move {
                    match users.await {
                        Ok(list) => view! { <UserTable users=list/> }.into_any(),
                        Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
            <form method="post" action="/admin/users" class="card create-user" novalidate>
                <h2>"Add a user"</h2>
                <label>"E-mail"
                    <input type="email" name="email" value=email maxlength="254" aria-invalid=err_email.as_ref().map(|_| "true")/>
                </label>
                {err_email.map(|m| view! { <p class="field-error" data-field="email">{m}</p> })}
                <label>"Name"
                    <input type="text" name="name" value=name maxlength="100"/>
                </label>
                {err_name.map(|m| view! { <p class="field-error" data-field="name">{m}</p> })}
                <label>"Role"
                    <RoleSelect selected=role.parse().unwrap_or(Role::Agent)/>
                </label>
                {err_role.map(|m| view! { <p class="field-error" data-field="role">{m}</p> })}
                <label>"Password"
                    <input type="password" name="password" autocomplete="new-password" maxlength="128" aria-invalid=err_password.as_ref().map(|_| "true")/>
                </label>
                {err_password.map(|m| view! { <p class="field-error" data-field="password">{m}</p> })}
                <button type="submit" class="primary">"Create user"</button>
            </form>
        </section>
    }
}

#[component]
fn RoleSelect(selected: Role) -> impl IntoView {
    let options = Role::ALL
        .into_iter()
        .map(|r| view! { <option value=r.as_str() selected=r == selected>{r.label()}</option> })
        .collect_view();
    view! { <select name="role">{options}</select> }
}

#[component]
fn UserTable(users: Vec<UserView>) -> impl IntoView {
    let rows = users
        .into_iter()
        .map(|u| {
            let id = u.id;
            let (toggle_label, toggle_to) = if u.active {
                ("Deactivate", "false")
            } else {
                ("Activate", "true")
            };
            view! {
                <tr data-email=u.email.clone() class:inactive=!u.active>
                    <td>{u.email.clone()}</td>
                    <td>{u.name.clone()}</td>
                    <td>
                        <form method="post" action=format!("/admin/users/{id}/role") class="inline">
                            <RoleSelect selected=u.role/>
                            <button type="submit">"Change role"</button>
                        </form>
                    </td>
                    <td>{if u.active { "Active" } else { "Deactivated" }}</td>
                    <td>
                        <form method="post" action=format!("/admin/users/{id}/active") class="inline">
                            <input type="hidden" name="active" value=toggle_to/>
                            <button type="submit">{toggle_label}</button>
                        </form>
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="grid">
            <thead><tr><th>"E-mail"</th><th>"Name"</th><th>"Role"</th><th>"Status"</th><th></th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
}
