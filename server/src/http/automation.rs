//! `/api/v1/channels/{channel}/outbound` (where system messages to a channel's customers are
//! delivered) and `/api/v1/deliveries` (the outbox: webhooks and channel messages, with
//! their attempts and failures). Admins only.

use super::error::responses;
use super::error::ApiError;
use super::Query;
use super::{Api, Object};
use crate::state::AppState;
use crate::store::OutboxItem;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use promptly::account::FieldError;
use promptly::conversation::Channel;
use serde::{Deserialize, Serialize};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/channels", get(channels))
        .route(
            "/channels/{channel}/outbound",
            put(set_outbound).delete(remove_outbound),
        )
        .route("/deliveries", get(deliveries))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ChannelInfo {
    channel: Channel,
    label: &'static str,
    /// The outbound webhook's URL (its secret is never shown), or `null`.
    outbound_url: Option<String>,
}

/// Channels and their outbound webhooks
///
/// Each channel with the URL its system messages are delivered to (`null`: none set; messages are then only recorded in the thread). Secrets are never shown.
#[utoipa::path(get, path = "/channels", tag = "Automation", operation_id = "listChannels",
    responses((status = 200, description = "Every channel.", body = Vec<ChannelInfo>)))]
async fn channels(State(state): State<AppState>) -> Api<Vec<ChannelInfo>> {
    let set = state.store.channel_outbounds().await?;
    Ok(Json(
        Channel::ALL
            .iter()
            .map(|c| ChannelInfo {
                channel: *c,
                label: c.label(),
                outbound_url: set
                    .iter()
                    .find(|o| o.channel == c.as_str())
                    .map(|o| o.url.clone()),
            })
            .collect(),
    ))
}

fn channel(name: &str) -> Result<Channel, ApiError> {
    Channel::parse(name).ok_or(ApiError::NotFound)
}

/// Checks an outbound webhook: an http(s) URL with a host, and a secret to sign with.
pub fn check_outbound(url: &str, secret: &str) -> Result<(), Vec<FieldError>> {
    let mut errors = Vec::new();
    match url::Url::parse(url.trim()) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {}
        _ => errors.push(FieldError::new("url", "Give an http(s) URL.")),
    }
    let n = secret.chars().count();
    if n == 0 || n > promptly::limits::SECRET_LEN {
        errors.push(FieldError::new(
            "secret",
            format!(
                "A secret is required (at most {} characters); deliveries are signed with it.",
                promptly::limits::SECRET_LEN
            ),
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Where a channel's system messages go: a URL and the secret deliveries are signed with.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = ChannelOutbound)]
struct Outbound {
    #[serde(default)]
    #[schema(schema_with = promptly::schema::url, required = true)]
    url: String,
    #[serde(default)]
    #[schema(schema_with = outbound_secret, required = true)]
    secret: String,
}

/// What [`check_outbound`] takes as a secret.
fn outbound_secret() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .min_length(Some(1))
        .max_length(Some(promptly::limits::SECRET_LEN))
        .into()
}

/// Set a channel's outbound webhook
///
/// System messages that rules send to this channel's customers are POSTed here as JSON (`type: message.send`, with `conversation` and `source`: the id and the integration that sent the conversation, `promptly_id`, `channel`, `contact`, `text`, `at`), signed like rule webhooks (`X-Promptly-Timestamp: <Unix seconds>`, `X-Promptly-Signature: sha256=<hex HMAC-SHA256 with the secret over "<timestamp>.<body>">`, `X-Promptly-Delivery: <id>`), retried with backoff (10 s, 30 s, 90 s, ...; 6 attempts) and listed under `/deliveries`. Redirects are not followed. A URL whose host is not a public address (loopback, private, link-local, ...; also a name that resolves only to such addresses) is refused with 422 on `url` unless the server's `PROMPTLY_EGRESS_ALLOW` names it.
#[utoipa::path(put, path = "/channels/{channel}/outbound", tag = "Automation", operation_id = "setChannelOutbound",
    params(("channel" = String, Path, description = "")), request_body = Outbound, responses((status = 200, description = "Set.", body = ChannelInfo), (status = 404, response = responses::NotFound)))]
async fn set_outbound(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Object(body): Object,
) -> Api<ChannelInfo> {
    let c = channel(&name)?;
    let body: Outbound = serde_json::from_value(body)
        .map_err(|e| ApiError::field("", format!("not an outbound webhook: {e}")))?;
    let mut errors = check_outbound(&body.url, &body.secret)
        .err()
        .unwrap_or_default();
    if !errors.iter().any(|e| e.field == "url") {
        if let Some(refused) = state
            .egress
            .guard()
            .field_error("url".into(), &body.url)
            .await
        {
            errors.insert(0, refused);
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Unprocessable { errors });
    }
    state
        .store
        .set_channel_outbound(
            c.as_str(),
            Some((body.url.trim(), &body.secret)),
            state.clock.now(),
        )
        .await?;
    let info = ChannelInfo {
        channel: c,
        label: c.label(),
        outbound_url: Some(body.url.trim().to_string()),
    };
    log_channel(&state, c.as_str(), "update", Some(&info)).await;
    Ok(Json(info))
}

/// Records a change to a channel's outbound webhook in the audit log (its URL; never the
/// secret).
async fn log_channel(state: &AppState, channel: &str, action: &str, after: Option<&ChannelInfo>) {
    let change = crate::services::audit::Change {
        entity: promptly::audit::Entity::Channel,
        id: Some(channel.to_string()),
        action,
        before: crate::services::audit::NONE,
        after,
    };
    crate::services::audit::record(state, change).await;
}

/// Remove a channel's outbound webhook
#[utoipa::path(delete, path = "/channels/{channel}/outbound", tag = "Automation", operation_id = "removeChannelOutbound",
    params(("channel" = String, Path, description = "")), responses((status = 204, description = "Removed."), (status = 404, response = responses::NotFound)))]
async fn remove_outbound(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    let c = channel(&name)?;
    state
        .store
        .set_channel_outbound(c.as_str(), None, state.clock.now())
        .await?;
    log_channel(&state, c.as_str(), "delete", None).await;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct DeliveryQuery {
    /// Only deliveries in this state.
    #[param(schema_with = delivery_statuses)]
    status: Option<String>,
    /// How many at most, newest first.
    #[param(schema_with = promptly::schema::deliveries_page)]
    limit: Option<i64>,
}

/// The states a delivery is in.
const DELIVERY_STATUSES: [&str; 3] = ["pending", "delivered", "failed"];

fn delivery_statuses() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    promptly::schema::words("", DELIVERY_STATUSES)
}

/// Webhook and channel-message deliveries
///
/// Newest first, with attempts and the last error, so failures are visible.
#[utoipa::path(get, path = "/deliveries", tag = "Automation", operation_id = "listDeliveries",
    params(DeliveryQuery), responses((status = 200, description = "The deliveries.", body = Vec<crate::store::OutboxItem>)))]
async fn deliveries(
    State(state): State<AppState>,
    Query(q): Query<DeliveryQuery>,
) -> Api<Vec<OutboxItem>> {
    if let Some(s) = q.status.as_deref() {
        if !DELIVERY_STATUSES.contains(&s) {
            return Err(ApiError::field(
                "status",
                "Use pending, delivered or failed.",
            ));
        }
    }
    let limit = promptly::limits::DELIVERIES_PAGE
        .limit(q.limit)
        .map_err(|m| ApiError::field("limit", m))?;
    Ok(Json(
        state.store.list_outbox(q.status.as_deref(), limit).await?,
    ))
}
