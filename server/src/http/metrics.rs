//! `/metrics` (Prometheus' text format: [`crate::metrics`]), and the layers that time each
//! request by its route.

use crate::metrics::Gauges;
use crate::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::sync::{Arc, OnceLock};

/// Where the metrics are read.
pub const PATH: &str = "/metrics";

pub fn router() -> Router<AppState> {
    Router::new().route(PATH, get(metrics))
}

/// The metrics, with the gauges read from the database now (admins, `metrics:read` tokens,
/// `PROMPTLY_METRICS_FROM` addresses: the access table).
async fn metrics(State(state): State<AppState>) -> Response {
    let store = state.store.as_ref();
    let (database_up, outbox_backlog) = match store.outbox_backlog().await {
        Ok(backlog) => (true, backlog),
        Err(e) => {
            tracing::warn!(error = %e, "metrics: the outbox backlog could not be read");
            (false, Vec::new())
        }
    };
    let gauges = Gauges {
        outbox_backlog,
        pool: store.pool_use(),
        database_up,
        ingest_commits: store.ingest_commits(),
    };
    let mut resp = state.metrics.render(&gauges).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    resp
}

/// Where the route a request matched is noted for [`timed`], which runs before routing.
#[derive(Clone, Default)]
struct RouteSlot(Arc<OnceLock<String>>);

/// Times each request from its arrival to its answer's headers, labelled with the route it
/// matched ([`note_route`]), or `other` (assets, unknown paths, refusals before routing).
pub async fn timed(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let slot = RouteSlot::default();
    let method = req.method().to_string();
    req.extensions_mut().insert(slot.clone());
    let resp = next.run(req).await;
    let route = slot.0.get().map(String::as_str).unwrap_or("other");
    state.metrics.request(
        &method,
        route,
        resp.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    resp
}

/// Notes the matched route for [`timed`] (a route layer: it runs once routing matched).
pub async fn note_route(matched: Option<MatchedPath>, req: Request, next: Next) -> Response {
    if let (Some(m), Some(slot)) = (matched, req.extensions().get::<RouteSlot>()) {
        let _ = slot.0.set(m.as_str().to_string());
    }
    next.run(req).await
}
