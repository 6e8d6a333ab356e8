//! What every request handler shares.

use crate::store::DynStore;
use promptly::stream::StreamEvent;
use std::sync::Arc;
use tokio::sync::broadcast;

#[derive(Clone)]
pub struct AppState {
    pub store: DynStore,
    /// Every change that browsers should see; each SSE connection subscribes.
    pub events: broadcast::Sender<Arc<StreamEvent>>,
    /// Whether the public address is https (then the session cookie is `Secure`).
    pub secure_cookies: bool,
}

impl AppState {
    pub fn new(store: DynStore, secure_cookies: bool) -> Self {
        let (events, _) = broadcast::channel(4096);
        AppState {
            store,
            events,
            secure_cookies,
        }
    }
}
