//! The Channels page (admins): the WhatsApp numbers, Facebook pages, Instagram accounts and
//! X accounts connected straight to Promptly, each with its webhook URL to paste into the
//! platform's developer console and what its webhooks have done; add and edit forms (the
//! kind's settings, from `promptly::channels`), delete after a confirm step
//! (`?delete=<id>`), and "Send a test message".
//!
//! Forms post to the server (`POST /channels`, `/channels?edit={id}`,
//! `/channels/{id}/delete`, `/channels/{id}/test`), which answers 303 back here with a
//! notice, or 422 with this page showing what was typed and the field errors, so the page
//! works with or without JavaScript.

use crate::api::{get_channels, ChannelsData};
use crate::components::editor::{editor_form, saved_notice, EditorForm, EditorPage};
use crate::components::form::FieldErrors;
use crate::components::notice::notices;
use crate::components::table::{confirm_delete, list_table};
use crate::components::time::{local_minutes, ViewerZone};
use leptos::prelude::*;
use leptos_router::params::ParamsMap;
use promptly::channels::{AccountView, ChannelKind, SettingKind, MASK, SETTING_LEN};
use promptly::limits;

fn notice(code: &str) -> Option<&'static str> {
    Some(match code {
        "created" => "Channel account added. Paste its webhook URL into the platform's developer console.",
        "updated" => "Channel account saved.",
        "deleted" => "Channel account deleted: its webhooks are refused from now on; its conversations stay.",
        "tested" => "Test message received through the account's webhook: its conversation is in the queue, marked as a test.",
        _ => return None,
    })
}

fn error(code: &str) -> &'static str {
    match code {
        "not_found" => "That channel account does not exist.",
        "test_signature" => {
            "The test message was refused: its signature did not match the account's secret."
        }
        "test_refused" => {
            "The test message was refused by the account's webhook; see the account's last error."
        }
        _ => "Something went wrong.",
    }
}

/// What the form shows: the kind and name, and each of the kind's settings by name.
#[derive(Debug, Clone)]
struct Fields {
    kind: ChannelKind,
    name: String,
    settings: Vec<(&'static str, String)>,
}

impl Fields {
    fn new_account(kind: ChannelKind) -> Self {
        Fields {
            kind,
            name: String::new(),
            settings: kind
                .settings()
                .iter()
                .map(|s| (s.name, String::new()))
                .collect(),
        }
    }

    fn from_view(a: &AccountView) -> Self {
        Fields {
            kind: a.kind,
            name: a.name.clone(),
            settings: a
                .kind
                .settings()
                .iter()
                .map(|s| (s.name, a.settings.get(s.name).cloned().unwrap_or_default()))
                .collect(),
        }
    }

    fn from_query(q: &ParamsMap, kind: ChannelKind) -> Self {
        Fields {
            kind,
            name: q.get("name").unwrap_or_default(),
            settings: kind
                .settings()
                .iter()
                .map(|s| {
                    let typed = q.get(&format!("settings.{}", s.name)).unwrap_or_default();
                    (s.name, typed)
                })
                .collect(),
        }
    }
}

/// The kind the query asks for (`kind=messenger`), else WhatsApp.
fn asked_kind(q: &ParamsMap) -> ChannelKind {
    q.get("kind")
        .and_then(|k| ChannelKind::parse(&k))
        .unwrap_or(ChannelKind::Whatsapp)
}

/// The page inside its guard (see [`crate::components::guard::SectionPage`]).
#[component]
pub fn ChannelsPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| get_channels());
    view! {
        <EditorPage class="channels" loading="Loading channel accounts…" data body=|data, query, zone| view! { <ChannelsBody data query zone/> }.into_any()>
            <h1>"Channels"</h1>
            <p class="muted">
                "Connect a WhatsApp number, a Facebook page, an Instagram account or an X account straight to Promptly: "
                "add it here, then paste its webhook URL (and, for Meta, the verify token you chose) into the platform's developer console. "
                "Customers' messages open conversations in the queue; agents' replies and the rules' messages go back through the account."
            </p>
        </EditorPage>
    }
}

#[component]
fn ChannelsBody(data: ChannelsData, query: ParamsMap, zone: ViewerZone) -> impl IntoView {
    let flash = saved_notice(&query, notice);
    let failure = query.get("error").map(|c| error(&c));
    let tested = query
        .get("conversation")
        .filter(|_| query.get("notice").as_deref() == Some("tested"))
        .and_then(|id| id.parse::<i64>().ok());
    let kind = asked_kind(&query);
    let (editing, fields, errors) = editor_form(
        &query,
        &data.accounts,
        |a| a.id,
        |q| Fields::from_query(q, kind),
        Fields::from_view,
        || Fields::new_account(kind),
    );
    // Editing keeps the account's kind whatever the query says.
    let fields = match &editing {
        Some(a) if a.kind != fields.kind => Fields::from_view(a),
        _ => fields,
    };
    let edit = editing.as_ref().map(|a| (a.id, a.name.clone()));
    let confirm = query.get("delete").and_then(|v| v.parse::<i64>().ok());
    view! {
        {notices(flash, Some(failure).flatten())}
        {tested.map(|id| view! {
            <p class="flash"><a href=format!("/conversations/{id}") data-test-conversation=id>"Open the test conversation"</a></p>
        })}
        <AccountTable accounts=data.accounts.clone() confirm zone/>
        <AccountForm fields errors edit/>
    }
    .into_any()
}

#[component]
fn AccountTable(
    accounts: Vec<AccountView>,
    confirm: Option<i64>,
    zone: ViewerZone,
) -> impl IntoView {
    let when = move |t| local_minutes(t, &zone);
    let head = view! { <th>"Account"</th><th>"Webhook URL"</th><th>"Health"</th><th></th> };
    list_table(
        accounts,
        "No channel accounts yet: conversations arrive only through the events API.",
        "grid channels-table",
        head,
        |a| {
            let id = a.id;
            let h = &a.health;
            let last = match h.last_webhook_at {
                Some(t) => format!("Last webhook {}", when(t)),
                None => "No webhook received yet".to_string(),
            };
            let counts = format!("{} received · {} failed", h.webhooks, h.failures);
            let last_error = h.last_error.clone().map(|e| {
                let at = h.last_error_at.map(&when).unwrap_or_default();
                view! { <div class="error small channel-error">{format!("{at}: {e}")}</div> }
            });
            let url_label = format!("Webhook URL of {}", a.name);
            let question = format!(
                "Delete “{}”? Its webhooks are refused from then on; its conversations stay.",
                a.name
            );
            let delete_cell = confirm_delete("/channels", id, question, confirm == Some(id));
            view! {
                <tr data-account=a.name.clone() data-kind=a.kind.as_str()>
                    <td><strong>{a.name.clone()}</strong><div class="muted small">{a.kind.label()}</div></td>
                    <td>
                        <input type="text" class="webhook-url" readonly value=a.webhook_url.clone()
                            aria-label=url_label size="40"/>
                    </td>
                    <td class="channel-health">
                        <div>{last}</div>
                        <div class="muted small">{counts}</div>
                        {last_error}
                    </td>
                    <td class="row-actions">
                        <a href=format!("/channels?edit={id}")>"Edit"</a>
                        <form method="post" action=format!("/channels/{id}/test") class="inline">
                            <button type="submit">"Send a test message"</button>
                        </form>
                        {delete_cell}
                    </td>
                </tr>
            }
        },
    )
}

#[component]
fn AccountForm(fields: Fields, errors: FieldErrors, edit: Option<(i64, String)>) -> impl IntoView {
    let kind = fields.kind;
    let choose = edit.is_none().then(|| {
        let links = ChannelKind::ALL
            .into_iter()
            .map(|k| {
                let current = (k == kind).then_some("page");
                view! { <a href=format!("/channels?kind={}", k.as_str()) aria-current=current class:current=k == kind>{k.label()}</a> }
            })
            .collect_view();
        view! { <nav class="kind-choice" aria-label="Kind of account">{links}</nav> }
    });
    let error_of = {
        let errors = errors.clone();
        move |field: &str| errors.get(field)
    };
    let settings = kind
        .settings()
        .iter()
        .map(|s| {
            let field = format!("settings.{}", s.name);
            let value = fields
                .settings
                .iter()
                .find(|(n, _)| *n == s.name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            let problem = error_of(&field);
            let max = if s.kind == SettingKind::Url {
                limits::URL_LEN
            } else {
                SETTING_LEN
            };
            let placeholder = match (s.default, s.secret, edit.is_some()) {
                (Some(d), _, _) => d.to_string(),
                (None, true, true) => MASK.to_string(),
                _ => String::new(),
            };
            let help = match (s.required, s.default, s.secret) {
                (_, Some(_), _) if s.kind == SettingKind::Url => Some("Blank: the platform's own API. Another root (a relay, a test server) must be https, or a host the egress allow-list names."),
                (_, Some(_), _) => Some("Blank: the default shown."),
                (false, None, _) => Some("Optional."),
                (true, None, true) if edit.is_some() => Some("Shown as ********: leave it to keep the stored secret."),
                _ => None,
            };
            view! {
                <label>{s.label}
                    <input type=if s.secret { "password" } else { "text" } name=field.clone() value=value
                        maxlength=max placeholder=placeholder autocomplete="off"
                        aria-invalid=problem.as_ref().map(|_| "true")/>
                </label>
                {help.map(|h| view! { <p class="muted small">{h}</p> })}
                {problem.map(|m| view! { <p class="field-error" data-field=field>{m}</p> })}
            }
        })
        .collect_view();
    let name_error = error_of("name");
    let kind_error = error_of("kind");
    view! {
        <EditorForm path="/channels" class="channel-form" noun="channel account" edit version=None form_error=errors.get("form")>
            {choose}
            <input type="hidden" name="kind" value=kind.as_str()/>
            {kind_error.map(|m| view! { <p class="field-error" data-field="kind">{m}</p> })}
            <p class="muted">{format!("A {} account.", kind.label())}</p>
            <label>"Name"
                <input type="text" name="name" value=fields.name.clone() maxlength=limits::NAME_LEN
                    aria-invalid=name_error.as_ref().map(|_| "true")/>
            </label>
            {name_error.map(|m| view! { <p class="field-error" data-field="name">{m}</p> })}
            {settings}
        </EditorForm>
    }
    .into_any()
}
