//! Channel accounts: add, change and remove a WhatsApp number, a Facebook page, an
//! Instagram account or an X account. The JSON API and the Channels page call these; the
//! audit log records each change with the secrets masked.

use crate::http::error::ApiError;
use crate::services::audit;
use crate::state::AppState;
use crate::store::{AccountDefinition, ChannelAccountRecord, ChannelKind};
use promptly::account::FieldError;
use promptly::audit::Entity;
use promptly::channels::{masked, source, validate_settings, webhook_path, Settings};
use serde::Serialize;
use serde_json::Value;

pub use promptly::channels::AccountView;

/// `rec` as shown, its webhook URL under `public` (the public origin) when known.
pub fn view(rec: &ChannelAccountRecord, public: Option<&str>) -> AccountView {
    let path = webhook_path(rec.kind, rec.id);
    AccountView {
        id: rec.id,
        kind: rec.kind,
        name: rec.definition.name.clone(),
        settings: masked(rec.kind, &rec.definition.settings),
        webhook_url: match public {
            Some(origin) => format!("{}{path}", origin.trim_end_matches('/')),
            None => path,
        },
        health: rec.health.clone(),
        created_at: promptly::instant::format_utc(rec.created_at),
        updated_at: promptly::instant::format_utc(rec.updated_at),
    }
}

/// What the audit log keeps of an account: kind, name and masked settings.
#[derive(Serialize)]
struct Audited<'a> {
    kind: ChannelKind,
    name: &'a str,
    settings: Settings,
}

fn audited(rec: &ChannelAccountRecord) -> Audited<'_> {
    Audited {
        kind: rec.kind,
        name: &rec.definition.name,
        settings: masked(rec.kind, &rec.definition.settings),
    }
}

/// Reads `{"kind", "name", "settings"}`; when changing an account (`stored`), `kind` must be
/// its kind. Every problem is a field error.
async fn parse(
    state: &AppState,
    body: &Value,
    stored: Option<&ChannelAccountRecord>,
) -> Result<(ChannelKind, AccountDefinition), ApiError> {
    let mut errors = Vec::new();
    let sent_kind = match body.get("kind") {
        None | Some(Value::Null) => None,
        Some(Value::String(k)) => match k.parse::<ChannelKind>() {
            Ok(k) => Some(k),
            Err(m) => {
                errors.push(FieldError::new("kind", m));
                None
            }
        },
        Some(_) => {
            errors.push(FieldError::new("kind", "must be a string"));
            None
        }
    };
    let kind = match (stored, sent_kind) {
        // What the account is conflicts with the change: 409, as for a record in use.
        (Some(rec), Some(k)) if k != rec.kind => {
            return Err(ApiError::Conflict(format!(
                "an account's kind cannot change (it is {})",
                rec.kind.as_str()
            )));
        }
        (Some(rec), Some(_)) => Some(rec.kind),
        (_, None) if errors.is_empty() => {
            errors.push(FieldError::new("kind", "is required"));
            None
        }
        (_, k) => k,
    };
    let name = match body.get("name") {
        Some(Value::String(n)) => promptly::account::validate_name(n).unwrap_or_else(|m| {
            errors.push(FieldError::new("name", m));
            String::new()
        }),
        _ => {
            errors.push(FieldError::new("name", "is required"));
            String::new()
        }
    };
    let mut settings = Settings::new();
    if let Some(kind) = kind {
        let sent = body.get("settings").cloned().unwrap_or(Value::Null);
        let sent = if sent.is_null() {
            Value::Object(Default::default())
        } else {
            sent
        };
        match validate_settings(kind, &sent, stored.map(|r| &r.definition.settings)) {
            Ok(s) => settings = s,
            Err(e) => errors.extend(e),
        }
        // The platform's API must be a public address (or one the egress allow-list names).
        if let Some(url) = settings.get("api_base") {
            if let Some(refused) = state
                .egress
                .guard()
                .field_error("settings.api_base".into(), url)
                .await
            {
                errors.push(refused);
            }
        }
    }
    match kind {
        Some(kind) if errors.is_empty() => Ok((kind, AccountDefinition { name, settings })),
        _ => Err(ApiError::Unprocessable { errors }),
    }
}

/// Adds an account.
pub async fn create(state: &AppState, body: &Value) -> Result<ChannelAccountRecord, ApiError> {
    let (kind, definition) = parse(state, body, None).await?;
    let rec = state
        .store
        .create_channel_account(kind, &definition, state.clock.now())
        .await?;
    audit::record_id(
        state,
        Entity::ChannelAccount,
        rec.id,
        "create",
        audit::NONE,
        Some(&audited(&rec)),
    )
    .await;
    Ok(rec)
}

/// Changes an account's name and settings.
pub async fn update(
    state: &AppState,
    id: i64,
    body: &Value,
) -> Result<ChannelAccountRecord, ApiError> {
    let before = state
        .store
        .channel_account(id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let (_, definition) = parse(state, body, Some(&before)).await?;
    let rec = state
        .store
        .update_channel_account(id, &definition, state.clock.now())
        .await?;
    audit::record_id(
        state,
        Entity::ChannelAccount,
        id,
        "update",
        Some(&audited(&before)),
        Some(&audited(&rec)),
    )
    .await;
    Ok(rec)
}

/// Removes an account (its conversations stay).
pub async fn delete(state: &AppState, id: i64) -> Result<(), ApiError> {
    let before = state.store.channel_account(id).await?;
    state
        .store
        .delete_channel_account(id, state.clock.now())
        .await?;
    audit::record_id(
        state,
        Entity::ChannelAccount,
        id,
        "delete",
        before.as_ref().map(audited).as_ref(),
        audit::NONE,
    )
    .await;
    Ok(())
}

/// What became of a test message (the Channels page's "Send a test message").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tested {
    /// The webhook took it: the test conversation's id.
    Arrived(Option<i64>),
    /// The webhook answered this status instead (the account's health says why).
    Refused(u16),
}

/// Signs a sample webhook of the account's kind with its secret, as the platform would, and
/// posts it to the account's own webhook (`/hooks/<kind>/<id>`, through the same handler as
/// the platform's), so an admin sees the whole path work without the platform: a
/// conversation from [`promptly::channels::TEST_SENDER`], labelled a test, which
/// compliance leaves out.
pub async fn send_test(state: &AppState, id: i64) -> Result<Tested, ApiError> {
    use axum::body::Body;
    use tower::ServiceExt;
    let rec = state
        .store
        .channel_account(id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let now = state.clock.now();
    let payload = promptly::channels::test_webhook(rec.kind, &rec.definition.settings, now);
    let body = serde_json::to_vec(&payload).unwrap_or_default();
    let (header, signature) = crate::http::hooks::signature(&rec, &body);
    let request = axum::http::Request::post(webhook_path(rec.kind, rec.id))
        .header(axum::http::header::CONTENT_TYPE, "application/json")
        .header(header, signature)
        .body(Body::from(body))
        .map_err(|e| ApiError::Internal(anyhow::anyhow!(e)))?;
    let answer = match crate::http::hooks::router()
        .with_state(state.clone())
        .oneshot(request)
        .await
    {
        Ok(answer) => answer,
        Err(never) => match never {},
    };
    if answer.status() != axum::http::StatusCode::OK {
        return Ok(Tested::Refused(answer.status().as_u16()));
    }
    let conversation = promptly::channels::test_conversation(rec.kind, &rec.definition.settings);
    let row = state
        .store
        .conversation_by_external_id(&promptly::channels::source(rec.kind), &conversation)
        .await?;
    Ok(Tested::Arrived(row.map(|r| r.id)))
}

/// What account `a`'s platform says became of messages Promptly sent through it: recorded
/// on the sends (the timeline shows them on their messages). A message WhatsApp failed for
/// its 24-hour window goes again as the account's template when it has one; any other
/// failure is noted on the conversation's timeline.
pub async fn record_receipts(
    state: &AppState,
    a: &ChannelAccountRecord,
    receipts: &[promptly::channels::Receipt],
    watermarks: &[promptly::channels::Watermark],
) -> Result<(), crate::store::StoreError> {
    if !watermarks.is_empty() {
        state
            .store
            .record_watermarks(a.id, &source(a.kind), watermarks)
            .await?;
    }
    if receipts.is_empty() {
        return Ok(());
    }
    let failed = state.store.record_receipts(a.id, receipts).await?;
    for item in failed {
        let receipt = receipts.iter().find(|r| {
            r.status == promptly::channels::ReceiptStatus::Failed
                && item.sent_id.as_deref() == Some(r.id.as_str())
        });
        let error = receipt
            .and_then(|r| r.error.clone())
            .unwrap_or_else(|| "the platform reported a failure".into());
        let outside = receipt.and_then(|r| r.code) == Some(promptly::channels::OUTSIDE_WINDOW);
        match crate::channel_sends::template_send(a, &item).filter(|_| outside) {
            Some(send) => {
                let error = error.trim_end_matches('.');
                let text = format!("Not delivered: {error}. The account's template goes instead.");
                let id = format!("send-template:{}", item.id);
                crate::services::conversations::note_on_send(state, &item, &id, text, Some(send))
                    .await?
            }
            None => {
                let error = if outside {
                    let error = error.trim_end_matches('.');
                    format!("{error}. Outside the 24-hour window WhatsApp takes only templates: set one on the account.")
                } else {
                    error
                };
                crate::services::conversations::note_failed_send(state, &item, &error).await?
            }
        }
    }
    Ok(())
}
