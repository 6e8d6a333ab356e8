//! The login page. The form posts to the server (`POST /login`), which redirects back here
//! with the message and field errors in the query, so it works with or without JavaScript.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use promptly::limits;

/// The words for each error code the server puts in the query.
fn message(code: &str) -> Option<&'static str> {
    Some(match code {
        "invalid" => "Wrong e-mail or password.",
        "throttled" => "Too many failed attempts. Please wait a minute before trying again.",
        "forbidden" => "This request came from another site and was refused.",
        "logged_out" => "You are logged out.",
        _ => return None,
    })
}

fn field_message(code: &str) -> &'static str {
    match code {
        "required" => "Required.",
        "too_long" => "Too long.",
        "format" => "Must look like name@example.com.",
        _ => "Invalid.",
    }
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let q = use_query_map();
    let get = move |k: &str| q.with(|q| q.get(k));
    let email = get("email").unwrap_or_default();
    let next = get("next").unwrap_or_else(|| "/".to_string());
    let notice = get("notice").and_then(|c| message(&c));
    let error = get("error").and_then(|c| message(&c));
    let wait = get("wait");
    let err_email = get("err_email").map(|c| field_message(&c));
    let err_password = get("err_password").map(|c| field_message(&c));
    view! {
        <Title text="Log in"/>
        <main class="login">
            <form method="post" action="/login" class="card" novalidate>
                <h1>"Promptly"</h1>
                <p class="muted">"Log in to your support workspace."</p>
                {notice.map(|m| view! { <p class="flash" role="status">{m}</p> })}
                {error.map(|m| view! {
                    <p class="error" role="alert" data-error="login">
                        {m}
                        {wait.clone().map(|w| format!(" Try again in {w} s."))}
                    </p>
                })}
                <input type="hidden" name="next" value=next/>
                <label>
                    "E-mail"
                    <input type="email" name="email" value=email autocomplete="username" maxlength=limits::EMAIL_LEN
                        aria-invalid=err_email.map(|_| "true")/>
                </label>
                {err_email.map(|m| view! { <p class="field-error" data-field="email">{m}</p> })}
                <label>
                    "Password"
                    <input type="password" name="password" autocomplete="current-password" maxlength=limits::PASSWORD_LEN
                        aria-invalid=err_password.map(|_| "true")/>
                </label>
                {err_password.map(|m| view! { <p class="field-error" data-field="password">{m}</p> })}
                <button type="submit" class="primary">"Log in"</button>
            </form>
        </main>
    }
}
