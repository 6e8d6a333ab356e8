//! A user's notifications: the list with its unread count, marking read (some, all, or one
//! opened), and the settings that decide which notifications they get
//! (`promptly::notify`). The automation writes notifications (`store::Store::automation_pass`,
//! `Store::record_bands`); these functions serve the person they are for.

use crate::state::AppState;
use crate::store::StoreResult;
use promptly::notify::{NotificationList, NotificationSettings};

/// How many notifications the list shows.
pub const LIST_LIMIT: i64 = 50;

pub async fn list(
    state: &AppState,
    user_id: i64,
    limit: Option<i64>,
) -> StoreResult<NotificationList> {
    let limit = limit.unwrap_or(LIST_LIMIT).clamp(1, 200);
    state.store.notifications(user_id, limit).await
}

/// Only how many are unread (the list left empty): what the bell shows.
pub async fn unread(state: &AppState, user_id: i64) -> StoreResult<NotificationList> {
    state.store.notifications(user_id, 0).await
}

/// Marks `ids` (all with `None`) read; how many changed.
pub async fn mark_read(state: &AppState, user_id: i64, ids: Option<&[i64]>) -> StoreResult<i64> {
    let now = state.clock.now();
    state.store.mark_notifications_read(user_id, ids, now).await
}

/// Opens notification `id`: marks it read and says where it leads (`None`: not the user's).
pub async fn open(state: &AppState, user_id: i64, id: i64) -> StoreResult<Option<String>> {
    let found = state.store.notifications_by_id(&[id]).await?;
    let Some(n) = found.into_iter().find(|n| n.user_id == user_id) else {
        return Ok(None);
    };
    mark_read(state, user_id, Some(&[id])).await?;
    Ok(Some(n.notification.link))
}

pub async fn settings(state: &AppState, user_id: i64) -> StoreResult<NotificationSettings> {
    state.store.notification_settings(user_id).await
}

pub async fn save_settings(
    state: &AppState,
    user_id: i64,
    settings: &NotificationSettings,
) -> StoreResult<()> {
    state
        .store
        .set_notification_settings(user_id, settings)
        .await
}
