//! A failed form post without JavaScript answers 422 with its page rendered from what was
//! sent (as Rails and Django do), not a redirect that carries the values in the URL: long
//! texts survive, and the browser's back button and reload behave as for any failed post.
//!
//! A form handler returns [`show_again`]; [`middleware`] sees the marker, renders the page
//! at the given path through the Leptos routes with the [`FormEcho`] on the request (the page
//! reads it with `app::components::form::form_state`) and sends it with status 422.

use app::components::form::FormEcho;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower::ServiceExt;

/// Which record a page's form changes: its forms post to the page's own URL
/// (`/calendars?edit=ID`), so a failed save can answer with the page itself; none creates.
#[derive(Debug, serde::Deserialize)]
pub struct Editing {
    pub edit: Option<i64>,
}

/// Where the page lives and what the post sent (fields and `err_<field>` messages).
#[derive(Clone)]
struct ShowAgain {
    path: String,
    pairs: Vec<(String, String)>,
}

/// The answer of a form handler whose save failed: the page at `path`, again, showing
/// `pairs` (the typed fields, and `err_<field>` with each message).
pub fn show_again(path: impl Into<String>, pairs: Vec<(String, String)>) -> Response {
    let mut response = StatusCode::UNPROCESSABLE_ENTITY.into_response();
    response.extensions_mut().insert(ShowAgain {
        path: path.into(),
        pairs,
    });
    response
}

/// Renders the page a failed form asked for (see the module docs); `pages` are the Leptos
/// routes.
pub async fn middleware(State(pages): State<Router>, req: Request, next: Next) -> Response {
    let cookie = req.headers().get(header::COOKIE).cloned();
    // The page is rendered for the same caller: the session and what the outer layers
    // put on the request travel with it.
    let extensions = req.extensions().clone();
    let response = next.run(req).await;
    let Some(again) = response.extensions().get::<ShowAgain>().cloned() else {
        return response;
    };
    let mut page = Request::new(Body::empty());
    *page.method_mut() = Method::GET;
    match again.path.parse() {
        Ok(uri) => *page.uri_mut() = uri,
        Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
    if let Some(cookie) = cookie {
        page.headers_mut().insert(header::COOKIE, cookie);
    }
    *page.extensions_mut() = extensions;
    page.extensions_mut().insert(FormEcho(again.pairs));
    let mut shown = match pages.oneshot(page).await {
        Ok(r) => r.into_response(),
        Err(never) => match never {},
    };
    *shown.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    shown
}
