//! Who is asking: passwords, server-side sessions, cross-site-request checks, throttling.
//!
//! Sessions live in the store (only a SHA-256 of the cookie's token is kept), and every
//! request looks its session up again, so logout, deactivation and role changes take
//! effect at once, on every server sharing the database.

use crate::http::access::Caller;
use crate::state::AppState;
use crate::store::{NewUser, Store, StoreError};
use app::api::ssr::SessionUser;
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use promptly::account::UserView;
use rand::RngCore;
use sha2::{Digest, Sha256};

pub const SESSION_COOKIE: &str = "promptly_session";
pub const SESSION_DAYS: i64 = 14;
/// Failed logins allowed per address, per account from one address, and per account before
/// its attempts are spaced, within [`THROTTLE_WINDOW_S`].
pub const MAX_FAILURES: i64 = 10;
pub const THROTTLE_WINDOW_S: i64 = 60;
/// Past [`MAX_FAILURES`] on an account (from any address), one attempt every this many
/// seconds: a delay for the real user elsewhere, not a lock-out an attacker could hold.
pub const ACCOUNT_SPACING_S: i64 = 5;
/// Password hashes computed at once (argon2id: ~19 MiB and tens of milliseconds each); more
/// wait their turn.
pub const CONCURRENT_HASHES: usize = 2;

/// The keys a login attempt is counted under: its address and the account from that address
/// (refused for the rest of the window past the limit), and the account from anywhere
/// (past the limit, spaced).
pub fn login_keys(email: &str, address: std::net::IpAddr) -> [(String, crate::store::Throttle); 3] {
    use crate::store::Throttle;
    let strict = Throttle {
        max: MAX_FAILURES,
        window_s: THROTTLE_WINDOW_S,
        spacing_s: None,
    };
    [
        (format!("ip:{address}"), strict),
        (format!("email:{email}|ip:{address}"), strict),
        (
            format!("email:{email}"),
            Throttle {
                spacing_s: Some(ACCOUNT_SPACING_S),
                ..strict
            },
        ),
    ]
}

/// Hashes a password with argon2id on a blocking thread (it takes tens of milliseconds).
pub async fn hash_password(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("cannot hash password: {e}"))
    })
    .await?
}

/// Checks a password against a stored hash; a missing hash still costs the same time, so a
/// wrong e-mail cannot be told from a wrong password by timing.
pub async fn verify_password(password: String, hash: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let Some(hash) = hash else {
            let _ = Argon2::default()
                .hash_password(password.as_bytes(), &SaltString::generate(&mut OsRng));
            return false;
        };
        PasswordHash::new(&hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

/// Why a password check refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Too many recent failures under one of [`login_keys`]: try again in this many seconds.
    Throttled(i64),
    /// No such active account, or the wrong password (not told apart).
    Invalid,
}

/// Checks `password` for the active account `email`, from `client`: the attempt is claimed
/// under [`login_keys`] before the hash is computed (so parallel guesses are counted), the
/// hash waits its turn ([`CONCURRENT_HASHES`]), and a right password takes the attempt back
/// and starts the account's count over. Signing in and changing one's own password both
/// call this.
pub async fn check_password(
    state: &AppState,
    email: &str,
    password: &str,
    client: std::net::IpAddr,
) -> Result<Result<crate::store::User, Refused>, StoreError> {
    let store = state.store.as_ref();
    let keys = login_keys(email, client);
    let attempt = match store.claim_login_attempt(&keys, state.clock.now()).await? {
        Ok(ids) => ids,
        Err(wait) => return Ok(Err(Refused::Throttled(wait))),
    };
    let user = store.user_by_email(email).await?.filter(|u| u.active);
    let ok = {
        let _turn = state.hashing.acquire().await;
        verify_password(
            password.to_string(),
            user.as_ref().map(|u| u.password_hash.clone()),
        )
        .await
    };
    match (ok, user) {
        (true, Some(user)) => {
            store.forget_login_attempts(&attempt).await?;
            store.clear_login_failures(&keys[2].0).await?;
            Ok(Ok(user))
        }
        // The claimed attempts stay: they are the failures.
        _ => Ok(Err(Refused::Invalid)),
    }
}

/// Hashes a new password, waiting its turn among [`CONCURRENT_HASHES`].
pub async fn hash_new_password(state: &AppState, password: &str) -> Result<String, StoreError> {
    let _turn = state.hashing.acquire().await;
    hash_password(password.to_string())
        .await
        .map_err(|e| StoreError::Database(sqlx::Error::Protocol(e.to_string())))
}

/// A new random session token (the cookie value) and the hash the store keeps.
pub fn new_session_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let hash = token_hash(&token);
    (token, hash)
}

pub fn token_hash(token: &str) -> String {
    crate::signing::hex(&Sha256::digest(token.as_bytes()))
}

/// A new integration token: a recognisable prefix and 32 random bytes.
pub fn new_api_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let token = format!(
        "pt_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    let hash = token_hash(&token);
    (token, hash)
}

/// A random password for the first admin when none was configured.
pub fn random_password() -> String {
    let mut bytes = [0u8; 15];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// Whether the browser reached us over https (directly configured or via a proxy).
pub fn is_secure(state: &AppState, headers: &HeaderMap) -> bool {
    state.secure_cookies
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

pub fn session_cookie(token: &str, secure: bool) -> HeaderValue {
    let mut c = format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}",
        SESSION_DAYS * 86400
    );
    if secure {
        c.push_str("; Secure");
    }
    HeaderValue::from_str(&c).expect("cookie is ASCII")
}

pub fn clear_cookie(secure: bool) -> HeaderValue {
    let mut c = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0");
    if secure {
        c.push_str("; Secure");
    }
    HeaderValue::from_str(&c).expect("cookie is ASCII")
}

/// Starts a session for a user and returns the cookie to set.
pub async fn start_session(
    store: &dyn Store,
    user_id: i64,
    secure: bool,
    now: DateTime<Utc>,
) -> Result<HeaderValue, StoreError> {
    let (token, hash) = new_session_token();
    store
        .create_session(&hash, user_id, now, now + Duration::days(SESSION_DAYS))
        .await?;
    Ok(session_cookie(&token, secure))
}

/// The signed-in user of a request, if the session middleware found one.
#[derive(Debug, Clone)]
pub struct CurrentUser(pub UserView);

/// The id namespace of the request's caller: its integration token's `source`; `None` for
/// a person's session (people look across integrations).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source(pub Option<String>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Source {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Source>()
            .cloned()
            .unwrap_or(Source(None)))
    }
}

/// Paths anyone may open without a session.
fn is_public(path: &str) -> bool {
    path == "/login"
        || path == "/logout"
        || path == "/healthz"
        || path == "/readyz"
        || path == crate::http::metrics::PATH
        || path == "/favicon.ico"
        || path == "/favicon.svg"
        || path.starts_with("/pkg/")
}

/// A local path to return to after login, refusing anything that leaves the site. The text
/// is read as a browser reads a link (the WHATWG URL rules: tabs and newlines dropped,
/// backslashes as slashes), so `/\t/evil.example` is the other site it is; what is kept is
/// the path and query as the parser writes them, control characters escaped.
pub fn safe_next(next: Option<&str>) -> String {
    const HERE: &str = "http://promptly.invalid/";
    let local = next
        .filter(|n| n.starts_with('/'))
        .and_then(|n| url::Url::parse(HERE).ok()?.join(n).ok())
        .filter(|u| u.origin() == url::Url::parse(HERE).expect("a URL").origin());
    match local {
        Some(u) => match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_string(),
        },
        None => "/".to_string(),
    }
}

/// The origin a same-site request must carry: the configured public URL, else the Host.
fn same_origin(state_public: Option<&str>, headers: &HeaderMap, origin: &str) -> bool {
    let origin = origin.trim_end_matches('/');
    if let Some(public) = state_public {
        return origin.eq_ignore_ascii_case(public.trim_end_matches('/'));
    }
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    origin
        .split_once("://")
        .is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(host))
}

/// Requests that change state with a cookie must come from our own pages: the `Origin`
/// (or, failing that, the `Referer`) must be this site. Token-authenticated API calls
/// carry no ambient credentials and are not checked.
pub fn cross_site(state_public: Option<&str>, method: &Method, headers: &HeaderMap) -> bool {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return false;
    }
    if headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("Bearer "))
    {
        return false;
    }
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        return origin == "null" || !same_origin(state_public, headers, origin);
    }
    if let Some(referer) = headers.get(header::REFERER).and_then(|v| v.to_str().ok()) {
        let origin = url::Url::parse(referer)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default();
        return !same_origin(state_public, headers, &origin);
    }
    true
}

/// The public origin used for the cross-site check, from `PROMPTLY_PUBLIC_URL`.
#[derive(Clone, Default)]
pub struct PublicOrigin(pub Option<String>);

/// Who the request's credential names now: an integration token's pseudo-user (`Bearer`)
/// with its scopes and its source, or the user of a live session cookie with their role.
/// `Err(None)` for a token that is unknown or revoked; `Ok(None)` without a credential or
/// with a session that ended.
pub async fn caller_of(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<(UserView, Caller, Option<Source>)>, Option<crate::store::StoreError>> {
    if let Some(token) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        return match state
            .store
            .api_token_by_hash(&token_hash(token.trim()))
            .await
        {
            Ok(Some(t)) => Ok(Some((
                UserView {
                    // Negative ids mark tokens; they never collide with users.
                    id: -t.id,
                    email: format!("token:{}", t.name),
                    name: t.name,
                    role: t.scopes.role(),
                    active: true,
                    must_change_password: false,
                    teams: Vec::new(),
                    timezone: None,
                },
                Caller::Token(t.scopes),
                Some(Source(Some(t.source))),
            ))),
            Ok(None) => Err(None),
            Err(e) => Err(Some(e)),
        };
    }
    match cookie_value(headers, SESSION_COOKIE) {
        Some(token) if !token.is_empty() => state
            .store
            .session_user(&token_hash(&token), state.clock.now())
            .await
            .map(|u| {
                u.map(|u| {
                    let view = u.view();
                    let caller = Caller::Session(view.role);
                    (view, caller, None)
                })
            })
            .map_err(Some),
        _ => Ok(None),
    }
}

/// The store's hash of the request's session cookie, if it has one.
pub fn session_hash(headers: &HeaderMap) -> Option<String> {
    cookie_value(headers, SESSION_COOKIE)
        .filter(|t| !t.is_empty())
        .map(|t| token_hash(&t))
}

/// What a user who must change their password may still open: the account page and its
/// form, who they are, signing out, and the site's files.
fn open_before_change(req: &Request) -> bool {
    use leptos::server_fn::ServerFn;
    let path = req.uri().path();
    let reading = req.method() == Method::GET || req.method() == Method::HEAD;
    is_public(path)
        || (reading && path == "/account")
        || (reading && path == "/api/v1/me")
        || (reading && path == <app::api::GetMe as ServerFn>::PATH)
        || path == "/account/password"
        || path == "/api/v1/me/password"
}

/// The answer to anything else until the password is changed: pages go to the account page
/// (and come back after), the API and forms are refused with the reason.
fn change_password_first(req: &Request) -> Response {
    const WHY: &str = "You must change your password first.";
    let path = req.uri().path();
    if path.starts_with("/api/") {
        return (
            StatusCode::FORBIDDEN,
            axum::Json(serde_json::json!({
                "error": format!("{WHY} Change it with PUT /api/v1/me/password or on /account.")
            })),
        )
            .into_response();
    }
    if req.method() == Method::GET || req.method() == Method::HEAD {
        let target = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let q = serde_urlencoded::to_string([("next", target)]).unwrap_or_default();
        return Redirect::to(&format!("/account?{q}")).into_response();
    }
    (StatusCode::FORBIDDEN, WHY).into_response()
}

/// Whether the request comes from an address `PROMPTLY_METRICS_FROM` names (the client's,
/// through a trusted proxy).
fn scraper(state: &AppState, req: &Request) -> bool {
    let Some(peer) = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
    else {
        return false;
    };
    let ip = client_ip(peer.0.ip(), req.headers(), &state.trusted_proxies);
    !state.metrics_from.is_empty() && state.metrics_from.allows_ip(ip)
}

/// Resolves the session, refuses cross-site state changes and sends visitors without a
/// session to the login page (API paths get a 401 from their handlers instead).
pub async fn session_middleware(
    State(state): State<AppState>,
    axum::Extension(public): axum::Extension<PublicOrigin>,
    mut req: Request,
    next: Next,
) -> Response {
    // Platforms' webhooks carry no session and no Origin: they prove themselves (hooks.rs).
    if req.uri().path().starts_with("/hooks/") {
        return next.run(req).await;
    }
    if cross_site(public.0.as_deref(), req.method(), req.headers()) {
        return (
            StatusCode::FORBIDDEN,
            "Cross-site request refused: this form must be sent from Promptly's own pages.",
        )
            .into_response();
    }
    let path = req.uri().path().to_string();
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("Bearer "));
    let user = match caller_of(&state, req.headers()).await {
        // A scraper without a credential, at an address allowed to read the metrics.
        Ok(None) if path == crate::http::metrics::PATH && scraper(&state, &req) => {
            req.extensions_mut()
                .insert(Caller::Token(promptly::account::Scopes::of([
                    promptly::account::Scope::MetricsRead,
                ])));
            return next.run(req).await;
        }
        Ok(user) => user,
        Err(None) => {
            return (
                StatusCode::UNAUTHORIZED,
                axum::Json(serde_json::json!({"error": "unknown or revoked token"})),
            )
                .into_response()
        }
        Err(Some(e)) => {
            tracing::error!(error = %e, "session or token lookup failed");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "The database is unavailable.",
            )
                .into_response();
        }
    };
    match user {
        // Integration tokens: `Authorization: Bearer TOKEN`, for the API only.
        Some((view, caller, source)) if bearer => {
            let actor = crate::services::audit::Actor::of(&view);
            req.extensions_mut().insert(caller);
            if let Some(source) = source {
                req.extensions_mut().insert(source);
            }
            req.extensions_mut().insert(CurrentUser(view));
            return crate::services::audit::as_actor(actor, next.run(req)).await;
        }
        Some((view, ..)) if view.must_change_password && !open_before_change(&req) => {
            return change_password_first(&req);
        }
        Some((view, caller, _)) => {
            let actor = crate::services::audit::Actor::of(&view);
            req.extensions_mut().insert(caller);
            req.extensions_mut().insert(CurrentUser(view.clone()));
            req.extensions_mut().insert(SessionUser(view));
            return crate::services::audit::as_actor(actor, next.run(req)).await;
        }
        None if is_public(&path) || path.starts_with("/api/v1/") => {}
        None if req.method() == Method::GET || req.method() == Method::HEAD => {
            let target = req
                .uri()
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_else(|| "/".into());
            let q = serde_urlencoded::to_string([("next", target.as_str())]).unwrap_or_default();
            return Redirect::to(&format!("/login?{q}")).into_response();
        }
        None => {
            return (StatusCode::UNAUTHORIZED, "Please log in.").into_response();
        }
    }
    next.run(req).await
}

/// Creates the first admin on an empty database (created at `now`). Returns the one-time
/// password when it had to make one up.
pub async fn ensure_first_admin(
    store: &dyn Store,
    email: Option<&str>,
    password: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Option<(String, String)>, String> {
    if store.count_users().await.map_err(|e| e.to_string())? > 0 {
        return Ok(None);
    }
    let (email, password, generated) = match (email, password) {
        (Some(e), Some(p)) => (e.to_string(), p.to_string(), false),
        (Some(e), None) => (e.to_string(), random_password(), true),
        (None, Some(p)) => ("admin@localhost".to_string(), p.to_string(), false),
        (None, None) => ("admin@localhost".to_string(), random_password(), true),
    };
    let (email, name, role) = promptly::account::validate_new_user(
        &email, "Admin", "admin", &password,
    )
    .map_err(|errs| {
        errs.iter()
            .map(|e| format!("PROMPTLY_ADMIN_{}: {}", e.field.to_uppercase(), e.message))
            .collect::<Vec<_>>()
            .join("; ")
    })?;
    let hash = hash_password(password.clone())
        .await
        .map_err(|e| e.to_string())?;
    match store
        .create_user(
            NewUser {
                email: email.clone(),
                name,
                role,
                password_hash: hash,
                // A printed password is seen by whoever reads the log: it works once.
                must_change_password: generated,
            },
            now,
        )
        .await
    {
        Ok(_) => Ok(if generated {
            Some((email, password))
        } else {
            None
        }),
        // Another server sharing the database created it first.
        Err(StoreError::Conflict { .. }) => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

/// The client's address: the TCP peer, unless the peer is a trusted reverse proxy; then the
/// last address in `X-Forwarded-For` that is not itself a trusted proxy (proxies append the
/// address they received from, so the entries to its left are the client's own claims and
/// cannot be believed).
pub fn client_ip(
    peer: std::net::IpAddr,
    headers: &HeaderMap,
    trusted: &[std::net::IpAddr],
) -> std::net::IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let hops: Vec<std::net::IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|h| h.trim().parse().ok())
        .collect();
    hops.into_iter()
        .rev()
        .find(|ip| !trusted.contains(ip))
        .unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::client_ip;

    #[test]
    fn the_client_address_is_believed_only_from_trusted_proxies() {
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        let mut headers = axum::http::HeaderMap::new();
        headers.insert("x-forwarded-for", "6.6.6.6, 203.0.113.7".parse().unwrap());
        let proxy = ip("10.0.0.2");
        // No trusted proxy: the peer, whatever the header says.
        assert_eq!(client_ip(proxy, &headers, &[]), proxy);
        // From a trusted proxy: the last hop it saw, not the client's own claim.
        assert_eq!(client_ip(proxy, &headers, &[proxy]), ip("203.0.113.7"));
        // Two trusted proxies in a row are both skipped.
        headers.insert("x-forwarded-for", "203.0.113.7, 10.0.0.1".parse().unwrap());
        assert_eq!(
            client_ip(proxy, &headers, &[proxy, ip("10.0.0.1")]),
            ip("203.0.113.7")
        );
        // A direct client that sends the header is not believed.
        assert_eq!(
            client_ip(ip("198.51.100.9"), &headers, &[proxy]),
            ip("198.51.100.9")
        );
        // A trusted proxy without the header: itself.
        assert_eq!(
            client_ip(proxy, &axum::http::HeaderMap::new(), &[proxy]),
            proxy
        );
    }

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn cross_site_posts_are_refused() {
        let post = Method::POST;
        let same = headers(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "http://127.0.0.1:3000"),
        ]);
        assert!(!cross_site(None, &post, &same));
        let other = headers(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "https://evil.example"),
        ]);
        assert!(cross_site(None, &post, &other));
        let none = headers(&[("host", "127.0.0.1:3000")]);
        assert!(cross_site(None, &post, &none));
        let referer = headers(&[
            ("host", "127.0.0.1:3000"),
            ("referer", "http://127.0.0.1:3000/login"),
        ]);
        assert!(!cross_site(None, &post, &referer));
        assert!(!cross_site(None, &Method::GET, &other));
        let bearer = headers(&[("authorization", "Bearer abc")]);
        assert!(!cross_site(None, &post, &bearer));
        let public = headers(&[
            ("host", "internal:3000"),
            ("origin", "https://help.example.com"),
        ]);
        assert!(!cross_site(
            Some("https://help.example.com"),
            &post,
            &public
        ));
    }

    #[test]
    fn next_stays_on_site() {
        assert_eq!(safe_next(Some("/admin/users")), "/admin/users");
        assert_eq!(safe_next(Some("//evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(safe_next(None), "/");
        // What a browser would read as another site, however it is written.
        for off_site in [
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r\n/evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "/\\/evil.example",
            " //evil.example",
            "//evil.example/path",
            "///evil.example",
            "javascript:alert(1)",
            "",
        ] {
            assert_eq!(safe_next(Some(off_site)), "/", "{off_site:?}");
        }
        assert_eq!(
            safe_next(Some("/conversations?status=open&owner=me")),
            "/conversations?status=open&owner=me"
        );
        assert_eq!(safe_next(Some("/compliance/3#metric")), "/compliance/3");
    }

    #[test]
    fn cookies_are_parsed() {
        let h = headers(&[("cookie", "a=1; promptly_session=tok; b=2")]);
        assert_eq!(cookie_value(&h, SESSION_COOKIE).as_deref(), Some("tok"));
        let c = session_cookie("tok", true);
        let s = c.to_str().unwrap();
        assert!(s.contains("HttpOnly") && s.contains("SameSite=Lax") && s.contains("Secure"));
        assert!(!session_cookie("tok", false)
            .to_str()
            .unwrap()
            .contains("Secure"));
    }

    #[tokio::test]
    async fn passwords_verify() {
        let h = hash_password("correct horse".into()).await.unwrap();
        assert!(verify_password("correct horse".into(), Some(h.clone())).await);
        assert!(!verify_password("wrong".into(), Some(h)).await);
        assert!(!verify_password("x".into(), None).await);
    }
}
