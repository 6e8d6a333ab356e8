//! `/api/v1/channels/{channel}/outbound` (where system messages to a channel's customers are
//! delivered) and `/api/v1/deliveries` (the outbox: webhooks and channel messages, with
//! their attempts and failures). Admins only.

use super::error::ApiError;
use super::object_body;
use crate::state::AppState;
use crate::store::OutboxItem;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
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

async fn channels(State(state): State<AppState>) -> Result<Json<Vec<ChannelInfo>>, ApiError> {
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
    if n == 0 || n > 256 {
        errors.push(FieldError::new(
            "secret",
            "A secret is required (at most 256 characters); deliveries are signed with it.",
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

#[derive(Debug, Deserialize)]
struct Outbound {
    #[serde(default)]
    url: String,
    #[serde(default)]
    secret: String,
}

async fn set_outbound(
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<Json<ChannelInfo>, ApiError> {
    let c = channel(&name)?;
    let body: Outbound = serde_json::from_value(object_body(body)?)
        .map_err(|e| ApiError::field("", format!("not an outbound webhook: {e}")))?;
    check_outbound(&body.url, &body.secret).map_err(|errors| ApiError::Unprocessable { errors })?;
    state
        .store
        .set_channel_outbound(
            c.as_str(),
            Some((body.url.trim(), &body.secret)),
            state.clock.now(),
        )
        .await?;
    Ok(Json(ChannelInfo {
        channel: c,
        label: c.label(),
        outbound_url: Some(body.url.trim().to_string()),
    }))
}

async fn remove_outbound(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    let c = channel(&name)?;
    state
        .store
        .set_channel_outbound(c.as_str(), None, state.clock.now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
struct DeliveryQuery {
    status: Option<String>,
    limit: Option<i64>,
}

async fn deliveries(
    State(state): State<AppState>,
    Query(q): Query<DeliveryQuery>,
) -> Result<Json<Vec<OutboxItem>>, ApiError> {
    if let Some(s) = q.status.as_deref() {
        if !matches!(s, "pending" | "delivered" | "failed") {
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
