//! The admin page for people: list users, create them, change roles, (de)activate.
//!
//! Forms post to the server (`POST /admin/users...`), which redirects back here with a
//! notice or with field errors in the query, so the page works with or without JavaScript.

use crate::api::list_users;
use crate::api::{get_tokens, TokenInfo};
use crate::components::notice::notices;
use crate::components::table::{grid, list_table};
use crate::components::time::{local_minutes_of, use_zone, ViewerZone};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use promptly::account::{Role, Scope, Scopes, UserView};
use promptly::limits;

fn notice(code: &str) -> Option<&'static str> {
    Some(match code {
        "created" => "User created.",
        "role" => "Role changed.",
        "teams" => "Teams saved.",
        "deactivated" => "User deactivated; their sessions have ended.",
        "activated" => "User activated.",
        "password_reset" => {
            "Password reset: their sessions ended, and they must choose a new password when they next log in."
        }
        _ => return None,
    })
}

fn error(code: &str) -> Option<&'static str> {
    Some(match code {
        "last_admin" => "There must remain at least one active admin.",
        "self" => "You cannot deactivate yourself.",
        "not_found" => "That user does not exist.",
        "own_password" => "Change your own password on your account page, with your current one.",
        "teams" => "At most 20 teams, each at most 100 characters.",
        _ => return None,
    })
}

/// The page inside its guard (see [`crate::components::guard::SectionPage`]).
#[component]
pub fn UsersPage() -> impl IntoView {
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
    // A refused reset: which user's row, and why.
    let reset_error = get("reset")
        .and_then(|id| id.parse::<i64>().ok())
        .zip(get("err_reset"));
    view! {
        <section class="users">
            <h1>"Users"</h1>
            {notices(flash, failure)}
            <Suspense fallback=|| view! { <p class="muted">"Loading users…"</p> }>
                {move || {
                    let reset_error = reset_error.clone();
                    Suspend::new(async move {
                    match users.await {
                        Ok(list) => view! { <UserTable users=list reset_error=reset_error/> }.into_any(),
                        Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                    }
                })}}
            </Suspense>
            <form method="post" action="/admin/users" class="card create-user" novalidate>
                <h2>"Add a user"</h2>
                <label>"E-mail"
                    <input type="email" name="email" value=email maxlength=limits::EMAIL_LEN aria-invalid=err_email.as_ref().map(|_| "true")/>
                </label>
                {err_email.map(|m| view! { <p class="field-error" data-field="email">{m}</p> })}
                <label>"Name"
                    <input type="text" name="name" value=name maxlength=limits::NAME_LEN/>
                </label>
                {err_name.map(|m| view! { <p class="field-error" data-field="name">{m}</p> })}
                <label>"Role"
                    <RoleSelect selected=role.parse().unwrap_or(Role::Agent)/>
                </label>
                {err_role.map(|m| view! { <p class="field-error" data-field="role">{m}</p> })}
                <label>"Password"
                    <input type="password" name="password" autocomplete="new-password" maxlength=limits::PASSWORD_LEN aria-invalid=err_password.as_ref().map(|_| "true")/>
                </label>
                {err_password.map(|m| view! { <p class="field-error" data-field="password">{m}</p> })}
                <button type="submit" class="primary">"Create user"</button>
            </form>
            <TokensSection/>
        </section>
    }
}

#[component]
fn RoleSelect(
    selected: Role,
    /// For a `<label for>` outside the select's own label (a table row's).
    #[prop(optional)]
    id: Option<String>,
) -> impl IntoView {
    let options = Role::ALL
        .into_iter()
        .map(|r| view! { <option value=r.as_str() selected=r == selected>{r.label()}</option> })
        .collect_view();
    view! { <select name="role" id=id>{options}</select> }
}

#[component]
fn UserTable(users: Vec<UserView>, reset_error: Option<(i64, String)>) -> impl IntoView {
    let rows = users
        .into_iter()
        .map(|u| {
            let id = u.id;
            let refused = reset_error
                .as_ref()
                .filter(|(who, _)| *who == id)
                .map(|(_, m)| m.clone());
            let status = match (u.active, u.must_change_password) {
                (false, _) => "Deactivated",
                (true, true) => "Active; must change password",
                (true, false) => "Active",
            };
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
                            <label class="visually-hidden" for=format!("role-{id}")>{format!("Role of {}", u.email)}</label>
                            <RoleSelect selected=u.role id=format!("role-{id}")/>
                            <button type="submit">"Change role"</button>
                        </form>
                    </td>
                    <td>
                        <form method="post" action=format!("/admin/users/{id}/teams") class="inline">
                            <label class="visually-hidden" for=format!("teams-{id}")>{format!("Teams of {} (comma-separated)", u.email)}</label>
                            <input type="text" id=format!("teams-{id}") name="teams" value=u.teams.join(", ")
                                placeholder="All teams" size="14"/>
                            <button type="submit">"Save"</button>
                        </form>
                    </td>
                    <td class="user-status">{status}</td>
                    <td>
                        <form method="post" action=format!("/admin/users/{id}/active") class="inline">
                            <input type="hidden" name="active" value=toggle_to/>
                            <button type="submit">{toggle_label}</button>
                        </form>
                    </td>
                    <td>
                        <form method="post" action=format!("/admin/users/{id}/password") class="inline reset-password">
                            <label class="visually-hidden" for=format!("reset-{id}")>{format!("Temporary password for {}", u.email)}</label>
                            <input type="password" id=format!("reset-{id}") name="password" autocomplete="new-password"
                                placeholder="Temporary password" maxlength=limits::PASSWORD_LEN aria-invalid=refused.as_ref().map(|_| "true")/>
                            <button type="submit">"Reset password"</button>
                        </form>
                        {refused.map(|m| view! { <p class="field-error" data-field="reset-password">{m}</p> })}
                    </td>
                </tr>
            }
        })
        .collect_view();
    let head = view! { <th>"E-mail"</th><th>"Name"</th><th>"Role"</th><th>"Teams"</th><th>"Status"</th><th><span class="visually-hidden">"Activation"</span></th><th>"Password"</th> };
    grid("grid", head, rows)
}

/// Integration tokens: list, revoke, create; a new token is shown once, right after creation.
#[component]
fn TokensSection() -> impl IntoView {
    let tokens = Resource::new(|| (), |_| get_tokens());
    let zone = use_zone();
    let q = use_query_map();
    let get = move |k: &str| q.with(|q| q.get(k));
    let flash = get("token").and_then(|c| match c.as_str() {
        "created" => Some("Token created."),
        "revoked" => Some("Token revoked; requests with it are refused from now on."),
        _ => None,
    });
    let failure = get("token_error")
        .filter(|c| c == "not_found")
        .map(|_| "That token does not exist.");
    let err_name = get("token_err_name");
    let err_scopes = get("token_err_scopes");
    let err_source = get("token_err_source");
    let name = get("token_name").unwrap_or_default();
    let source = get("token_source").unwrap_or_default();
    // Ticked: what the refused form asked for, else the default (post events, no more).
    let ticked = match get("token_scopes") {
        Some(asked) => Scopes::of(asked.split(' ').filter_map(|s| s.parse().ok())),
        None => Scopes::DEFAULT,
    };
    view! {
        <section class="tokens" id="tokens" aria-labelledby="tokens-heading">
            <h2 id="tokens-heading">"Integration tokens"</h2>
            <p class="muted">
                "Channels and helpdesks call the "
                <a href="/api/docs/" rel="external">"API"</a>
                " with a token: "
                <code>"Authorization: Bearer TOKEN"</code>
                ". A token may do what its scopes allow until it is revoked; give each integration the least it needs."
            </p>
            {flash.map(|m| view! { <p class="flash" data-notice="token">{m}</p> })}
            {failure.map(|m| view! { <p class="error" role="alert">{m}</p> })}
            <Suspense fallback=|| view! { <p class="muted">"Loading tokens…"</p> }>
                {move || Suspend::new(async move {
                    let zone = zone.read().await;
                    match tokens.await {
                        Ok(data) => view! {
                            {data.new_token.map(|t| view! { <NewToken token=t/> })}
                            <TokenTable tokens=data.tokens zone/>
                        }
                        .into_any(),
                        Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
            <form method="post" action="/admin/tokens" class="card create-token" novalidate>
                <h3>"Create a token"</h3>
                <label>"Token name"
                    <input type="text" name="name" value=name maxlength=limits::NAME_LEN required aria-invalid=err_name.as_ref().map(|_| "true")/>
                </label>
                {err_name.map(|m| view! { <p class="field-error" data-field="token-name">{m}</p> })}
                <label>"Integration (source)"
                    <input type="text" name="source" value=source maxlength=limits::NAME_LEN placeholder="the token's name" aria-describedby="token-source-help" aria-invalid=err_source.as_ref().map(|_| "true")/>
                </label>
                <p class="muted" id="token-source-help">"Event and conversation ids are unique per integration: tokens with the same source share them, so a replacement token continues its predecessor's conversations. Blank: the token's name."</p>
                {err_source.map(|m| view! { <p class="field-error" data-field="token-source">{m}</p> })}
                <fieldset class="scopes" aria-invalid=err_scopes.as_ref().map(|_| "true")>
                    <legend>"Scopes"</legend>
                    {Scope::ALL
                        .into_iter()
                        .map(|s| view! {
                            <label class="check">
                                <input type="checkbox" name="scopes" value=s.as_str() checked=ticked.contains(s)/>
                                <code>{s.as_str()}</code>
                                " — "{s.describe()}
                            </label>
                        })
                        .collect_view()}
                </fieldset>
                {err_scopes.map(|m| view! { <p class="field-error" data-field="token-scopes">{m}</p> })}
                <button type="submit" class="primary">"Create token"</button>
            </form>
        </section>
    }
}

#[component]
fn NewToken(token: String) -> impl IntoView {
    view! {
        <div class="new-token" id="new-token">
            <p><strong>"Copy this token now: it will not be shown again."</strong></p>
            <code class="token-value">{token}</code>
        </div>
    }
}

#[component]
fn TokenTable(tokens: Vec<TokenInfo>, zone: ViewerZone) -> impl IntoView {
    let short_time = move |t: &str| local_minutes_of(t, &zone);
    let head = view! { <th>"Name"</th><th>"Source"</th><th>"Scopes"</th><th>"Created"</th><th>"Revoked"</th><th></th> };
    list_table(
        tokens,
        "No integration tokens yet.",
        "grid token-table",
        head,
        |t| {
            let id = t.id;
            let revoked = t.revoked_at.is_some();
            let created = short_time(&t.created_at);
            let status = match &t.revoked_at {
                Some(at) => format!("Revoked {}", short_time(at)),
                None => "Active".to_string(),
            };
            view! {
                <tr data-token=t.name.clone() class:inactive=revoked>
                    <td>{t.name.clone()}</td>
                    <td class="token-source">{t.source.clone()}</td>
                    <td class="token-scopes">{t.scopes.to_string()}</td>
                    <td><time datetime=t.created_at.clone()>{created}</time></td>
                    <td class="token-status">{status}</td>
                    <td>
                        {(!revoked).then(|| view! {
                            <form method="post" action=format!("/admin/tokens/{id}/revoke") class="inline">
                                <button type="submit">"Revoke"</button>
                            </form>
                        })}
                    </td>
                </tr>
            }
        },
    )
}
