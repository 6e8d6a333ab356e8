//! `/api/v1/channel-accounts`: the WhatsApp numbers, Facebook pages, Instagram accounts and
//! X accounts connected straight to Promptly (admins). Each has the webhook URL to paste
//! into the platform's developer console.

use super::error::responses;
use super::{Api, Id, Object, WithStatus};
use crate::auth::PublicOrigin;
use crate::http::error::ApiError;
use crate::services::channels::{self, AccountView};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Extension, Json, Router};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/channel-accounts", get(list).post(create))
        .route(
            "/channel-accounts/{id}",
            get(one).put(update).delete(remove),
        )
}

fn public(origin: &Option<Extension<PublicOrigin>>) -> Option<&str> {
    origin
        .as_ref()
        .and_then(|Extension(PublicOrigin(o))| o.as_deref())
}

/// List channel accounts
#[utoipa::path(get, path = "/channel-accounts", tag = "Channels", operation_id = "listChannelAccounts",
    responses((status = 200, description = "The accounts, oldest first.", body = Vec<AccountView>)))]
async fn list(
    State(state): State<AppState>,
    origin: Option<Extension<PublicOrigin>>,
) -> Api<Vec<AccountView>> {
    let accounts = state.store.list_channel_accounts().await?;
    Ok(Json(
        accounts
            .iter()
            .map(|a| channels::view(a, public(&origin)))
            .collect(),
    ))
}

/// Connect a channel account
///
/// Every missing or malformed setting is a 422 naming `settings.<name>`. The answer's `webhook_url` is what the platform's developer console asks for.
#[utoipa::path(post, path = "/channel-accounts", tag = "Channels", operation_id = "createChannelAccount",
    request_body = super::docs::ChannelAccountBody, responses((status = 201, description = "The account.", body = AccountView)))]
async fn create(
    State(state): State<AppState>,
    origin: Option<Extension<PublicOrigin>>,
    Object(body): Object,
) -> WithStatus<AccountView> {
    let rec = channels::create(&state, &body).await?;
    Ok((
        StatusCode::CREATED,
        Json(channels::view(&rec, public(&origin))),
    ))
}

/// One channel account
#[utoipa::path(get, path = "/channel-accounts/{id}", tag = "Channels", operation_id = "getChannelAccount",
    params(super::Id), responses((status = 200, description = "The account.", body = AccountView)))]
async fn one(
    State(state): State<AppState>,
    origin: Option<Extension<PublicOrigin>>,
    Id(id): Id,
) -> Api<AccountView> {
    let rec = state
        .store
        .channel_account(id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(channels::view(&rec, public(&origin))))
}

/// Change a channel account
///
/// Its name and settings; the kind stays (another is a 409).
#[utoipa::path(put, path = "/channel-accounts/{id}", tag = "Channels", operation_id = "updateChannelAccount",
    params(super::Id), request_body = super::docs::ChannelAccountBody, responses((status = 200, description = "The account.", body = AccountView), (status = 409, response = responses::Conflict)))]
async fn update(
    State(state): State<AppState>,
    origin: Option<Extension<PublicOrigin>>,
    Id(id): Id,
    Object(body): Object,
) -> Api<AccountView> {
    let rec = channels::update(&state, id, &body).await?;
    Ok(Json(channels::view(&rec, public(&origin))))
}

/// Remove a channel account
///
/// Its webhooks are refused from then on; its conversations stay.
#[utoipa::path(delete, path = "/channel-accounts/{id}", tag = "Channels", operation_id = "removeChannelAccount",
    params(super::Id), responses((status = 204, description = "Removed."), (status = 404, response = responses::NotFound)))]
async fn remove(State(state): State<AppState>, Id(id): Id) -> Result<StatusCode, ApiError> {
    channels::delete(&state, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
