//! The HTTP service: form endpoints, the `/api/v1` API by resource, health, the live stream,
//! and the Leptos pages.

pub mod error;
pub mod forms;
pub mod health;
pub mod stream;
pub mod users;

use crate::auth::{session_middleware, PublicOrigin};
use crate::state::AppState;
use crate::store::DynStore;
use app::api::ssr::{Backend, DynBackend};
use async_trait::async_trait;
use axum::extract::DefaultBodyLimit;
use axum::Router;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::sync::Arc;

/// What the UI's server functions may ask of the server.
struct UiBackend(DynStore);

#[async_trait]
impl Backend for UiBackend {
    async fn list_users(&self) -> Result<Vec<promptly::account::UserView>, String> {
        self.0
            .list_users()
            .await
            .map(|us| us.iter().map(|u| u.view()).collect())
            .map_err(|e| {
                tracing::error!(error = %e, "listing users failed");
                "Users could not be loaded.".to_string()
            })
    }
}

/// The `/api/v1` routes.
pub fn api_router() -> Router<AppState> {
    Router::new().merge(users::router()).merge(stream::router())
}

/// The whole application.
pub fn router(
    state: AppState,
    leptos_options: LeptosOptions,
    public_url: Option<String>,
) -> Router {
    let routes = generate_route_list(app::App);
    let backend: DynBackend = Arc::new(UiBackend(state.store.clone()));
    let context = move || provide_context(backend.clone());
    let shell_options = leptos_options.clone();
    let public_origin = PublicOrigin(public_url.and_then(|u| {
        url::Url::parse(&u)
            .ok()
            .map(|u| u.origin().ascii_serialization())
    }));

    let pages: Router<LeptosOptions> = Router::new()
        .leptos_routes_with_context(&leptos_options, routes, context, move || {
            app::shell(shell_options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler(app::shell));
    let pages = pages.with_state(leptos_options);

    Router::new()
        .merge(health::router())
        .merge(forms::router())
        .nest("/api/v1", api_router())
        .with_state(state.clone())
        .merge(pages)
        .layer(axum::middleware::from_fn_with_state(
            state,
            session_middleware,
        ))
        .layer(axum::Extension(public_origin))
        .layer(DefaultBodyLimit::max(1024 * 1024))
}
