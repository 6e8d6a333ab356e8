//! "My account": who you are, the time zone the pages show times in, and the form to change
//! your password. A user whose password was made up for them (a reset, the first admin's
//! printed one) is sent here before anything else and taken back to where they were going
//! after the change. The forms post to the server (`POST /account/timezone`,
//! `POST /account/password`), which redirects back with a notice or field errors, so they
//! work with or without JavaScript.

use crate::components::form::options;
use crate::components::notice::notices;
use crate::components::shell::Me;
use crate::components::time::use_zone;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use promptly::limits;

#[component]
pub fn AccountPage() -> impl IntoView {
    let Me(me) = expect_context::<Me>();
    let q = use_query_map();
    let get = move |k: &str| q.with(|q| q.get(k));
    let flash = get("notice").and_then(|c| match c.as_str() {
        "password_changed" => Some("Password changed. Your other sessions have ended."),
        "timezone" => Some("Time zone saved."),
        _ => None,
    });
    let err_zone = get("err_timezone");
    let zone = use_zone();
    let next = get("next").unwrap_or_default();
    let field = move |k: &str| get(&format!("err_{k}"));
    let (err_current, err_new, err_confirm) = (
        field("current_password"),
        field("new_password"),
        field("confirm_password"),
    );
    view! {
        <Title text="My account"/>
        <section class="account">
            <h1>"My account"</h1>
            {notices(flash, None::<&str>)}
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    me.await.ok().flatten().map(|u| view! {
                        {u.must_change_password.then(|| view! {
                            <p class="error" role="alert" data-notice="must-change">
                                "Your password was set for you. Choose your own before you go on."
                            </p>
                        })}
                        <dl class="who-am-i">
                            <dt>"E-mail"</dt><dd>{u.email.clone()}</dd>
                            <dt>"Name"</dt><dd>{if u.name.is_empty() { "—".to_string() } else { u.name.clone() }}</dd>
                            <dt>"Role"</dt><dd>{u.role.label()}</dd>
                        </dl>
                    })
                })}
            </Suspense>
            <Suspense fallback=|| ()>
                {move || {
                    let err_zone = err_zone.clone();
                    Suspend::new(async move {
                        let shown = zone.read().await;
                        // Not before a forced password change: nothing else is open until then.
                        me.await.ok().flatten().filter(|u| !u.must_change_password).map(|u| {
                            let chosen = u.timezone.clone().unwrap_or_default();
                            let now = if chosen.is_empty() && shown.name == "UTC" {
                                "Times are shown in UTC until this browser has told Promptly its time zone (after its first page with JavaScript), or when JavaScript is off.".to_string()
                            } else {
                                format!("Times are shown in {}.", shown.name)
                            };
                            view! {
                                <form method="post" action="/account/timezone" class="card time-zone" novalidate>
                                    <h2>"Time zone"</h2>
                                    <p class="muted" data-testid="zone-in-use">{now}</p>
                                    <label>"Time zone"
                                        <select name="timezone" aria-invalid=err_zone.as_ref().map(|_| "true")>
                                            <option value="" selected=chosen.is_empty()>"Browser's time zone"</option>
                                            {options(promptly::local_time::zone_names(), &chosen)}
                                        </select>
                                    </label>
                                    {err_zone.map(|m| view! { <p class="field-error" data-field="timezone">{m}</p> })}
                                    <button type="submit">"Save time zone"</button>
                                </form>
                            }
                        })
                    })
                }}
            </Suspense>
            <form method="post" action="/account/password" class="card change-password" novalidate>
                <h2>"Change your password"</h2>
                <input type="hidden" name="next" value=next/>
                <label>"Current password"
                    <input type="password" name="current_password" autocomplete="current-password" maxlength=limits::PASSWORD_LEN aria-invalid=err_current.as_ref().map(|_| "true")/>
                </label>
                {err_current.map(|m| view! { <p class="field-error" data-field="current_password">{m}</p> })}
                <label>{format!("New password (at least {} characters)", limits::MIN_PASSWORD_LEN)}
                    <input type="password" name="new_password" autocomplete="new-password" minlength=limits::MIN_PASSWORD_LEN maxlength=limits::PASSWORD_LEN aria-invalid=err_new.as_ref().map(|_| "true")/>
                </label>
                {err_new.map(|m| view! { <p class="field-error" data-field="new_password">{m}</p> })}
                <label>"New password again"
                    <input type="password" name="confirm_password" autocomplete="new-password" maxlength=limits::PASSWORD_LEN aria-invalid=err_confirm.as_ref().map(|_| "true")/>
                </label>
                {err_confirm.map(|m| view! { <p class="field-error" data-field="confirm_password">{m}</p> })}
                <button type="submit" class="primary">"Change password"</button>
            </form>
        </section>
    }
}
