//! The security headers on every answer: no MIME sniffing, no framing (clickjacking), no
//! full URLs in `Referer` to other sites, HSTS when the site is served over HTTPS, and
//! `Cache-Control: no-store` on what a signed-in caller is shown (a page with a new token,
//! a conversation), unless the handler chose its own caching. The site's assets (`/pkg/`)
//! are cached for a year when their name carries their content's hash (a release build's:
//! a new build has new names), else revalidated on each use.

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
    let asset = req.uri().path().strip_prefix("/pkg/").map(|file| {
        if is_hashed(file) {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        }
    });
    let personal = asset.is_none()
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
    if let Some(caching) = asset.filter(|_| resp.status().is_success()) {
        let headers = resp.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(caching));
        // Served precompressed by what the browser accepts.
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    resp
}

/// Whether an asset's file name carries cargo-leptos's content hash: `name.<hash>.ext`, the
/// hash 22 characters of unpadded base64url.
fn is_hashed(file: &str) -> bool {
    let parts: Vec<&str> = file.rsplit('/').next().unwrap_or("").split('.').collect();
    parts.len() >= 3
        && parts[1..parts.len() - 1].iter().any(|p| {
            p.len() == 22
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

#[cfg(test)]
mod tests {
    #[test]
    fn hashed_asset_names_are_told_apart() {
        for hashed in [
            "promptly.Zq3N4v1kQ8mQxYlX0y1b2A.wasm",
            "promptly.Zq3N4v1kQ8mQxYlX0y1b2A.css",
            "promptly.v3y180iQD91iB_0Ldd8zOQ.js",
            "promptly.d.oofwArDTwgElmbB-B_G7_w.ts",
        ] {
            assert!(super::is_hashed(hashed), "{hashed}");
        }
        for plain in [
            "promptly.wasm",
            "promptly_bg.wasm",
            "promptly.css",
            "a.b.c",
            "x.toolongtobeahash0123456789.js",
        ] {
            assert!(!super::is_hashed(plain), "{plain}");
        }
    }
}
