//! Server functions the pages call. On the server they read the signed-in user that the
//! session middleware put on the request, and the [`ssr::Backend`] from context.

use leptos::prelude::*;
use promptly::account::UserView;
use promptly::conversation::ConversationView;
use serde::{Deserialize, Serialize};

/// The queue's filters, as the page's query string carries them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueParams {
    pub policy: Option<i64>,
    pub channel: Option<String>,
    pub team: Option<String>,
    /// `me` or `none`.
    pub owner: Option<String>,
}

/// What the conversation page shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationPage {
    pub now: String,
    pub conversation: ConversationView,
    pub timeline: Vec<promptly::conversation::IncomingEvent>,
    /// Whether the signed-in user may reply and change it (agents and admins).
    pub can_act: bool,
}

/// What the queue page shows: the conversations at `now`, and the filters on offer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueData {
    /// The server's instant the SLA was evaluated at (RFC 3339); the badges tick from it.
    pub now: String,
    pub conversations: Vec<ConversationView>,
    /// (id, name) of each SLA policy, for the filter buttons.
    pub policies: Vec<(i64, String)>,
    pub teams: Vec<String>,
}

#[cfg(feature = "ssr")]
pub mod ssr {
    //! What the server crate provides to the UI during rendering.
    use async_trait::async_trait;
    use promptly::account::UserView;
    use std::sync::Arc;

    /// The signed-in user, put on the request's extensions by the session middleware.
    #[derive(Debug, Clone)]
    pub struct SessionUser(pub UserView);

    /// The server's data, as the UI needs it.
    #[async_trait]
    pub trait Backend: Send + Sync + 'static {
        async fn list_users(&self) -> Result<Vec<UserView>, String>;
        async fn conversation(
            &self,
            me: &UserView,
            id: i64,
        ) -> Result<Option<super::ConversationPage>, String>;
        async fn queue(
            &self,
            me: &UserView,
            params: &super::QueueParams,
        ) -> Result<super::QueueData, String>;
    }

    pub type DynBackend = Arc<dyn Backend>;

    pub fn session_user() -> Option<UserView> {
        leptos::prelude::use_context::<axum::http::request::Parts>()
            .and_then(|p| p.extensions.get::<SessionUser>().map(|u| u.0.clone()))
    }
}

/// The signed-in user, or none.
#[server]
pub async fn get_me() -> Result<Option<UserView>, ServerFnError> {
    Ok(ssr::session_user())
}

/// All users (admins only).
#[server]
pub async fn list_users() -> Result<Vec<UserView>, ServerFnError> {
    let me = ssr::session_user().ok_or_else(|| ServerFnError::new("Please log in."))?;
    if me.role != promptly::account::Role::Admin {
        return Err(ServerFnError::new("Only admins can list users."));
    }
    let backend = use_context::<ssr::DynBackend>()
        .ok_or_else(|| ServerFnError::new("server is not ready"))?;
    backend.list_users().await.map_err(ServerFnError::new)
}

/// The open queue, most urgent first. (Flat arguments: they travel as a URL-encoded form,
/// where a struct of nothing but absent options would not arrive.)
#[server]
pub async fn get_queue(
    policy: Option<i64>,
    channel: Option<String>,
    team: Option<String>,
    owner: Option<String>,
) -> Result<QueueData, ServerFnError> {
    let params = QueueParams {
        policy,
        channel,
        team,
        owner,
    };
    let me = ssr::session_user().ok_or_else(|| ServerFnError::new("Please log in."))?;
    let backend = use_context::<ssr::DynBackend>()
        .ok_or_else(|| ServerFnError::new("server is not ready"))?;
    backend
        .queue(&me, &params)
        .await
        .map_err(ServerFnError::new)
}

/// One conversation with its thread and SLA, or none.
#[server]
pub async fn get_conversation(id: i64) -> Result<Option<ConversationPage>, ServerFnError> {
    let me = ssr::session_user().ok_or_else(|| ServerFnError::new("Please log in."))?;
    let backend = use_context::<ssr::DynBackend>()
        .ok_or_else(|| ServerFnError::new("server is not ready"))?;
    backend
        .conversation(&me, id)
        .await
        .map_err(ServerFnError::new)
}
