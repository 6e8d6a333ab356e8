//! The users page's integration-token forms: create a token, revoke one. Like the other
//! forms they answer 303 back to `/admin/users`. A new token reaches the page once, in a
//! short-lived HttpOnly cookie scoped to that page (never in the URL); the page clears it
//! when it reads it.

use super::error::ApiError;
use super::{see_other, unavailable};
use crate::auth::{is_secure, CurrentUser};
use crate::services::tokens::{create_token, Grant};
use crate::state::AppState;
use app::api::NEW_TOKEN_COOKIE;
use axum::extract::{Form, Path, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;
use axum::Extension;

const PAGE: &str = "/admin/users";

/// The cookie that shows the new token on the next render of the users page.
fn new_token_cookie(token: &str, secure: bool) -> Option<HeaderValue> {
    let mut c =
        format!("{NEW_TOKEN_COOKIE}={token}; Path={PAGE}; HttpOnly; SameSite=Strict; Max-Age=60");
    if secure {
        c.push_str("; Secure");
    }
    HeaderValue::from_str(&c).ok()
}

/// The form's fields: `name`, `source` (blank: the name), and one `scopes` field per ticked box (the form ticks
/// the default scopes; a form without any asks for none and is refused).
pub(super) async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let name = fields
        .iter()
        .find(|(k, _)| k == "name")
        .map(|(_, v)| v.as_str())
        .unwrap_or_default();
    let source = fields
        .iter()
        .find(|(k, _)| k == "source")
        .map(|(_, v)| v.as_str());
    let scopes: Vec<String> = fields
        .iter()
        .filter(|(k, _)| k == "scopes")
        .map(|(_, v)| v.clone())
        .collect();
    let grant = Grant {
        source,
        role: None,
        scopes: Some(&scopes),
    };
    match create_token(state.store.as_ref(), name, grant, state.clock.now()).await {
        Ok(created) => {
            let mut resp = see_other(PAGE, &[("token", "created")]);
            if let Some(c) = new_token_cookie(&created.token, is_secure(&state, &headers)) {
                resp.headers_mut().insert(header::SET_COOKIE, c);
            }
            resp
        }
        Err(ApiError::Unprocessable { errors }) => {
            let keys: Vec<String> = errors
                .iter()
                // `scopes[2]` is about the scopes as a whole on the form.
                .map(|e| {
                    format!(
                        "token_err_{}",
                        e.field.split('[').next().unwrap_or_default()
                    )
                })
                .collect();
            let keep = |v: &str| -> String { v.chars().take(promptly::limits::NAME_LEN).collect() };
            let name = keep(name);
            let source = keep(source.unwrap_or_default());
            let asked = scopes.join(" ");
            let mut q: Vec<(&str, &str)> = vec![
                ("token_name", name.as_str()),
                ("token_source", source.as_str()),
                ("token_scopes", asked.as_str()),
            ];
            for (k, e) in keys.iter().zip(&errors) {
                q.push((k.as_str(), e.message.as_str()));
            }
            see_other(PAGE, &q)
        }
        Err(e) => unavailable(e),
    }
}

pub(super) async fn revoke(
    State(state): State<AppState>,
    Extension(CurrentUser(me)): Extension<CurrentUser>,
    Path(id): Path<i64>,
) -> Response {
    match crate::services::tokens::revoke(state.store.as_ref(), &me, id, state.clock.now()).await {
        Ok(()) => see_other(PAGE, &[("token", "revoked")]),
        Err(ApiError::NotFound) => see_other(PAGE, &[("token_error", "not_found")]),
        Err(e) => unavailable(e),
    }
}
