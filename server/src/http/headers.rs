//! The security headers on every answer: no MIME sniffing, no framing (clickjacking), no
//! full URLs in `Referer` to other sites, HSTS when the site is served over HTTPS, and
//! `Cache-Control: no-store` on what a signed-in caller is shown (a page with a new token,
//! a conversation), unless the handler chose its own caching. Static assets (`/pkg/`) stay
//! cacheable.

use crate::auth::{is_secure, SESSION_COOKIE};
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::header::{self, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

/// The headers every answer carries.
const ALWAYS: [(&str, &str); 4] = [
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("content-security-policy", "frame-ancestors 'none'"),
    ("referrer-policy", "same-origin"),
];

/// HSTS for a site served over HTTPS: a year, subdomains included.
const HSTS: &str = "max-age=31536000; includeSubDomains";

pub async fn middleware(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let secure = is_secure(&state, req.headers());
    let personal = !req.uri().path().starts_with("/pkg/")
        && (req.headers().contains_key(header::AUTHORIZATION)
            || req
                .headers()
                .get_all(header::COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .any(|c| c.split(';').any(|kv| kv.trim().starts_with(SESSION_COOKIE))));
    let mut resp = next.run(req).await;
    let headers = resp.headers_mut();
    for (name, value) in ALWAYS {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    }
    if secure {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    if personal {
        headers
            .entry(header::CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("no-store"));
    }
    resp
}
