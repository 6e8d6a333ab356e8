//! `/hooks/<kind>/<id>`: where a platform sends a channel account's webhooks. No session, no
//! token, no Origin check: the platform proves itself, Meta with the account's verify token
//! (the subscription handshake) and `X-Hub-Signature-256`, X with the CRC challenge and
//! `x-twitter-webhooks-signature`, both HMAC-SHA256 with the account's secret over the raw
//! body, compared in constant time. A webhook is answered 200 only once its events are
//! committed (the events API's transaction), so a crash loses nothing the platform was told
//! is received: it sends the rest again, and repeats are recognised by the platform's ids.

use crate::services;
use crate::signing;
use crate::state::AppState;
use crate::store::{ChannelAccountRecord, StoreError};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use promptly::channels::meta_messaging::{self, Platform};
use promptly::channels::{source, whatsapp, x, ChannelKind};
use serde_json::json;
use std::collections::HashMap;

pub fn router() -> Router<AppState> {
    Router::new().route("/hooks/{kind}/{id}", get(verify).post(receive))
}

fn answer(status: StatusCode, error: &str) -> Response {
    (status, Json(json!({ "error": error }))).into_response()
}

/// The account the path names, of that kind and not deleted; else 404.
async fn account(state: &AppState, kind: &str, id: &str) -> Result<ChannelAccountRecord, Response> {
    let not_found = || answer(StatusCode::NOT_FOUND, "no such channel account");
    let (Some(kind), Ok(id)) = (ChannelKind::parse(kind), id.parse::<i64>()) else {
        return Err(not_found());
    };
    match state.store.channel_account(id).await {
        Ok(Some(a)) if a.kind == kind => Ok(a),
        Ok(_) => Err(not_found()),
        Err(e) => Err(unavailable(e)),
    }
}

fn unavailable(e: StoreError) -> Response {
    tracing::error!(error = %e, "a channel webhook could not be stored");
    answer(
        StatusCode::SERVICE_UNAVAILABLE,
        "the database is unavailable; send it again",
    )
}

fn setting<'a>(a: &'a ChannelAccountRecord, name: &str) -> &'a str {
    a.definition.settings.get(name).map_or("", String::as_str)
}

/// How a platform writes its signature's bytes.
type Decode = fn(&str) -> Option<Vec<u8>>;

/// Where an account of `kind` finds its signature, the setting that keys it, and how its
/// bytes are written: Meta's `X-Hub-Signature-256: sha256=<hex>` with the app secret, X's
/// `x-twitter-webhooks-signature: sha256=<base64>` with the consumer secret.
fn scheme(kind: ChannelKind) -> (&'static str, &'static str, Decode) {
    match kind {
        ChannelKind::X => ("x-twitter-webhooks-signature", "consumer_secret", |t| {
            base64::engine::general_purpose::STANDARD.decode(t).ok()
        }),
        _ => ("x-hub-signature-256", "app_secret", signing::hex_decode),
    }
}

/// The signature header the platform would send with `body` for account `a`: its name and
/// value (the Channels page's test message signs with it).
pub(crate) fn signature(a: &ChannelAccountRecord, body: &[u8]) -> (&'static str, String) {
    let (header, key, _) = scheme(a.kind);
    let bytes = signing::hmac_sha256(setting(a, key).as_bytes(), &[body]);
    let written = match a.kind {
        ChannelKind::X => base64::engine::general_purpose::STANDARD.encode(bytes),
        _ => signing::hex(&bytes),
    };
    (header, format!("sha256={written}"))
}

/// Whether `body` carries the account's signature (see [`scheme`]).
fn signed(a: &ChannelAccountRecord, headers: &HeaderMap, body: &[u8]) -> bool {
    let (header, key, decode) = scheme(a.kind);
    let Some(sent) = headers
        .get(header)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().strip_prefix("sha256="))
        .and_then(decode)
    else {
        return false;
    };
    signing::verify(setting(a, key).as_bytes(), &[body], &sent)
}

/// The platform's check that this is its webhook: Meta's subscription handshake (the
/// challenge back as plain text when the verify token matches, else 403), X's CRC (the
/// challenge signed with the consumer secret).
async fn verify(
    State(state): State<AppState>,
    Path((kind, id)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let a = match account(&state, &kind, &id).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    if a.kind == ChannelKind::X {
        let Some(token) = q.get("crc_token") else {
            return answer(StatusCode::BAD_REQUEST, "crc_token is missing");
        };
        let mac = signing::hmac_sha256(
            setting(&a, "consumer_secret").as_bytes(),
            &[token.as_bytes()],
        );
        let signed = base64::engine::general_purpose::STANDARD.encode(mac);
        return Json(json!({ "response_token": format!("sha256={signed}") })).into_response();
    }
    let subscribes = q.get("hub.mode").is_some_and(|m| m == "subscribe");
    let token = q.get("hub.verify_token").map_or("", String::as_str);
    match q.get("hub.challenge") {
        Some(challenge)
            if subscribes
                && signing::same(token.as_bytes(), setting(&a, "verify_token").as_bytes()) =>
        {
            (StatusCode::OK, challenge.clone()).into_response()
        }
        _ => answer(StatusCode::FORBIDDEN, "wrong verify token"),
    }
}

/// A webhook: checked, read and stored; 200 once its events are committed.
async fn receive(
    State(state): State<AppState>,
    Path((kind, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let a = match account(&state, &kind, &id).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let now = state.clock.now();
    let failed = |error: &'static str, status: StatusCode| {
        let state = state.clone();
        async move {
            if let Err(e) = state
                .store
                .record_channel_webhook(a.id, Err(error), now)
                .await
            {
                tracing::warn!(error = %e, "recording a channel's failure failed");
            }
            answer(status, error)
        }
    };
    if !signed(&a, &headers, &body) {
        return failed(
            "the signature is missing or wrong",
            StatusCode::UNAUTHORIZED,
        )
        .await;
    }
    let Ok(payload) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return failed("the body is not JSON", StatusCode::BAD_REQUEST).await;
    };
    let mapped = match a.kind {
        ChannelKind::Whatsapp => whatsapp::events(&payload, setting(&a, "phone_number_id")),
        ChannelKind::Messenger => {
            meta_messaging::events(Platform::Messenger, &payload, setting(&a, "page_id"))
        }
        ChannelKind::Instagram => {
            meta_messaging::events(Platform::Instagram, &payload, setting(&a, "account_id"))
        }
        ChannelKind::X => {
            // A reply to a tweet Promptly knows joins that tweet's conversation.
            let parents = x::replied_to(&payload);
            let me = setting(&a, "user_id");
            let threads = match state.store.threads_of(&source(a.kind), &parents).await {
                // Threads of this account only: X accounts share the source.
                Ok(found) => found
                    .into_iter()
                    .filter(|(_, c)| {
                        promptly::channels::Address::parse(a.kind, c)
                            .is_some_and(|at| at.account == me)
                    })
                    .collect(),
                Err(e) => return unavailable(e),
            };
            x::events(&payload, me, &threads)
        }
    };
    let mapped = match mapped {
        Ok(m) => m,
        Err(_) => {
            return failed(
                "the body is not this platform's webhook",
                StatusCode::BAD_REQUEST,
            )
            .await
        }
    };
    // Echoes of what Promptly itself sent are not new agent messages.
    let mut mapped = mapped;
    let mapped_receipts = std::mem::take(&mut mapped.receipts);
    let agent_ids: Vec<String> = mapped
        .events
        .iter()
        .filter(|e| {
            matches!(
                e.body,
                promptly::conversation::EventBody::Message {
                    author: promptly::timeline::Author::Agent,
                    ..
                }
            )
        })
        .map(|e| e.id.clone())
        .collect();
    match state.store.sent_message_ids(&agent_ids).await {
        Ok(ours) => mapped.events.retain(|e| !ours.contains(&e.id)),
        Err(e) => return unavailable(e),
    }
    // As for the events API: nothing from outside the window around now (a platform's
    // retries come well within it).
    let window = state.event_window;
    let (events, late): (Vec<_>, Vec<_>) = mapped
        .events
        .into_iter()
        .partition(|e| window.check(e.at, now).is_ok());
    let mut problems = mapped.skipped;
    if !late.is_empty() {
        problems.push(format!(
            "{} events outside the accepted window around now were left out",
            late.len()
        ));
    }
    if !events.is_empty() {
        match services::conversations::ingest(&state, &source(a.kind), &events).await {
            Ok(_) => {}
            // A conversation past its caps: telling the platform to send it again would not
            // help; the failure shows on the account.
            Err(StoreError::Refused(errors)) => problems.extend(
                errors
                    .into_iter()
                    .map(|e| format!("{}: {}", e.field, e.message)),
            ),
            Err(e) => return unavailable(e),
        }
    }
    let watermarks = std::mem::take(&mut mapped.watermarks);
    if let Err(e) =
        services::channels::record_receipts(&state, &a, &mapped_receipts, &watermarks).await
    {
        return unavailable(e);
    }
    // Received when something was stored or nothing was wrong (receipts only); a failure
    // too when something was left out.
    let mut outcomes: Vec<Result<(), &str>> = Vec::new();
    if !events.is_empty() || problems.is_empty() {
        outcomes.push(Ok(()));
    }
    if let Some(problem) = problems.first() {
        outcomes.push(Err(problem));
    }
    for outcome in outcomes {
        if let Err(e) = state.store.record_channel_webhook(a.id, outcome, now).await {
            tracing::warn!(error = %e, "recording a channel's webhook failed");
        }
    }
    StatusCode::OK.into_response()
}
