//! Who may do what: every route of the server (the JSON API and the HTML forms) with the
//! roles it admits, in one table. [`enforce`] reads it for each request, before the
//! handler runs; handlers never check roles themselves. A token acts with its role. The
//! role-matrix test (`server/tests/suite/roles.rs`) walks this table for every kind of caller,
//! and a route missing from it is refused (and fails that test).
//!
//! The pages (Leptos routes) are guarded by `promptly::account::Section`, the table of
//! which role sees which page; the server functions behind them check the same sections.

use crate::http::error::ApiError;
use axum::extract::{MatchedPath, Request};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use promptly::account::{Role, Scope, Scopes};

/// Who a route admits: browser sessions by their user's role, integration tokens by their
/// scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allow {
    /// Anyone, signed in or not.
    Anyone,
    /// Any signed-in user; a token with this scope (`None`: any token).
    SignedIn(Option<Scope>),
    /// Sessions of these roles; tokens with this scope.
    Roles(&'static [Role], Scope),
    /// Any signed-in person, never a token: what only a person can do (their own password).
    Sessions,
    /// Sessions of these roles, never a token: what acts for the person signed in ("take
    /// next" assigns the caller).
    SessionRoles(&'static [Role]),
    /// Integration tokens with this scope, never a browser session: what a channel sends is
    /// not typed by a person; agents reply on the conversation page, which sets the author.
    Tokens(Scope),
}

/// Who is asking, as the check sees it: a session's role, or a token's scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    Session(Role),
    Token(Scopes),
}

/// Any signed-in user, any token.
pub const SIGNED_IN: Allow = Allow::SignedIn(None);
/// Any signed-in user; tokens that may read conversations.
pub const CONVERSATIONS: Allow = Allow::SignedIn(Some(Scope::ConversationsRead));
/// Any signed-in user; tokens that may read calendars and policies.
pub const CATALOG: Allow = Allow::SignedIn(Some(Scope::CatalogRead));
/// Admins only.
pub const ADMINS: Allow = Allow::Roles(&[Role::Admin], Scope::Admin);
/// Managers and admins: reading contracts and compliance, staffing.
pub const MANAGERS: Allow = Allow::Roles(&[Role::Manager, Role::Admin], Scope::ReportsRead);
/// Managers and admins: changing contracts.
pub const CONTRACT_EDITORS: Allow =
    Allow::Roles(&[Role::Manager, Role::Admin], Scope::ContractsWrite);
/// Admins; tokens that may read metrics (a scraper's). A scraper at an address named by
/// `PROMPTLY_METRICS_FROM` acts as such a token (`auth::session_middleware`).
pub const METRICS: Allow = Allow::Roles(&[Role::Admin], Scope::MetricsRead);
/// Agents and admins: those who act on conversations (managers read them).
pub const AGENTS: Allow = Allow::Roles(&[Role::Agent, Role::Admin], Scope::ConversationsWrite);
/// Agents and admins with their session: what is done for the person signed in.
pub const AGENT_SESSIONS: Allow = Allow::SessionRoles(&[Role::Agent, Role::Admin]);

impl Allow {
    /// Who may call, in words (for the API document).
    pub fn in_words(self) -> String {
        let sessions = match self {
            Allow::Anyone => return "Public: no token or session needed.".into(),
            Allow::SignedIn(_) => "Any signed-in user",
            Allow::Sessions => {
                return "Signed-in users with their browser session only; a token gets 403.".into()
            }
            Allow::Roles(&[Role::Admin], _) => "Admins",
            Allow::Roles(&[Role::Manager, Role::Admin], _) => "Managers and admins",
            Allow::Roles(&[Role::Agent, Role::Admin], _) => "Agents and admins",
            Allow::Roles(..) => "Some roles",
            Allow::SessionRoles(&[Role::Agent, Role::Admin]) => {
                return "Agents and admins with their browser session only; a token gets 403."
                    .into()
            }
            Allow::SessionRoles(_) => {
                return "Some roles, with their browser session only; a token gets 403.".into()
            }
            Allow::Tokens(s) => {
                return format!(
                    "Integration tokens with the `{s}` scope only; a browser session gets 403."
                )
            }
        };
        match self.scope() {
            Some(s) => format!("{sessions}; tokens need the `{s}` scope."),
            None => format!("{sessions}; any token."),
        }
    }

    /// The scope a token needs (`None`: any token, or a public route).
    pub fn scope(self) -> Option<Scope> {
        match self {
            Allow::Anyone | Allow::Sessions | Allow::SessionRoles(_) => None,
            Allow::SignedIn(s) => s,
            Allow::Roles(_, s) | Allow::Tokens(s) => Some(s),
        }
    }

    /// Whether a signed-in caller may be refused here (so the route answers 403 to some).
    pub fn refuses_someone(self) -> bool {
        !matches!(self, Allow::Anyone | Allow::SignedIn(None))
    }

    /// Whether this caller (`None`: not signed in) is admitted.
    pub fn admits(self, caller: Option<Caller>) -> bool {
        match (self, caller) {
            (Allow::Anyone, _) => true,
            (_, None) => false,
            (Allow::SignedIn(_) | Allow::Sessions, Some(Caller::Session(_))) => true,
            (Allow::Sessions | Allow::SessionRoles(_), Some(Caller::Token(_))) => false,
            (Allow::SessionRoles(roles), Some(Caller::Session(role))) => roles.contains(&role),
            (Allow::Roles(roles, _), Some(Caller::Session(role))) => roles.contains(&role),
            (Allow::Tokens(_), Some(Caller::Session(_))) => false,
            (_, Some(Caller::Token(scopes))) => self.scope().is_none_or(|s| scopes.allow(s)),
        }
    }
}

/// One route: its method, its path as the router writes it, who it admits, and what a
/// signed-in caller who is not admitted reads (HTML forms; the API answers its JSON 403).
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub allow: Allow,
    pub refused: &'static str,
}

/// An API route: a refused caller gets the API's JSON error, so no words of its own.
const fn api(method: &'static str, path: &'static str, allow: Allow) -> Route {
    form(method, path, allow, "")
}

const fn form(
    method: &'static str,
    path: &'static str,
    allow: Allow,
    refused: &'static str,
) -> Route {
    Route {
        method,
        path,
        allow,
        refused,
    }
}

const USERS_REFUSED: &str = "Only admins can manage users.";
const TOKENS_REFUSED: &str = "Only admins can manage integration tokens.";
const CHANNELS_REFUSED: &str = "Only admins can manage channel accounts.";
const CATALOG_REFUSED: &str = "Only admins can manage calendars and policies.";
const RULES_REFUSED: &str = "Only admins can manage automation rules.";
const CONTRACTS_REFUSED: &str = "Only managers and admins can edit contracts.";

/// Every route of the server.
pub const ROUTES: &[Route] = &[
    // Health and sign-in.
    api("GET", "/healthz", Allow::Anyone),
    api("GET", "/readyz", Allow::Anyone),
    form(
        "GET",
        super::metrics::PATH,
        METRICS,
        "Only admins (and scrapers with the metrics:read scope) can read the metrics.",
    ),
    form("POST", "/login", Allow::Anyone, ""),
    form("POST", "/logout", Allow::Anyone, ""),
    // The API's description.
    api("GET", "/api/v1/openapi.json", Allow::Anyone),
    form("GET", "/api", SIGNED_IN, ""),
    form("GET", "/api/docs", SIGNED_IN, ""),
    form("GET", "/api/docs/", SIGNED_IN, ""),
    form("GET", "/api/docs/{*rest}", SIGNED_IN, ""),
    // Accounts.
    api("GET", "/api/v1/me", SIGNED_IN),
    api("PATCH", "/api/v1/me", Allow::Sessions),
    api("PUT", "/api/v1/me/password", Allow::Sessions),
    form(
        "POST",
        "/account/password",
        Allow::Sessions,
        "Tokens have no password.",
    ),
    form(
        "POST",
        "/account/timezone",
        Allow::Sessions,
        "Tokens have no settings.",
    ),
    api("GET", "/api/v1/users", ADMINS),
    api("POST", "/api/v1/users", ADMINS),
    api("GET", "/api/v1/users/{id}", ADMINS),
    api("PATCH", "/api/v1/users/{id}", ADMINS),
    api("PUT", "/api/v1/users/{id}/password", ADMINS),
    form("POST", "/admin/users", ADMINS, USERS_REFUSED),
    form("POST", "/admin/users/{id}/role", ADMINS, USERS_REFUSED),
    form("POST", "/admin/users/{id}/teams", ADMINS, USERS_REFUSED),
    form("POST", "/admin/users/{id}/active", ADMINS, USERS_REFUSED),
    form("POST", "/admin/users/{id}/password", ADMINS, USERS_REFUSED),
    api("GET", "/api/v1/audit", ADMINS),
    api("GET", "/api/v1/tokens", ADMINS),
    api("POST", "/api/v1/tokens", ADMINS),
    api("DELETE", "/api/v1/tokens/{id}", ADMINS),
    form("POST", "/admin/tokens", ADMINS, TOKENS_REFUSED),
    form("POST", "/admin/tokens/{id}/revoke", ADMINS, TOKENS_REFUSED),
    // Calendars and policies.
    api("GET", "/api/v1/calendars", CATALOG),
    api("POST", "/api/v1/calendars", ADMINS),
    api("GET", "/api/v1/calendars/{id}", CATALOG),
    api("PUT", "/api/v1/calendars/{id}", ADMINS),
    api("DELETE", "/api/v1/calendars/{id}", ADMINS),
    form("POST", "/calendars", ADMINS, CATALOG_REFUSED),
    form("POST", "/calendars/{id}/delete", ADMINS, CATALOG_REFUSED),
    api("GET", "/api/v1/policies", CATALOG),
    api("POST", "/api/v1/policies", ADMINS),
    api("GET", "/api/v1/policies/{id}", CATALOG),
    api("PUT", "/api/v1/policies/{id}", ADMINS),
    api("DELETE", "/api/v1/policies/{id}", ADMINS),
    api("GET", "/api/v1/policies/{id}/versions", CATALOG),
    api("POST", "/api/v1/policies/{id}/what-if", ADMINS),
    api("GET", "/api/v1/jobs/{id}", ADMINS),
    api("DELETE", "/api/v1/jobs/{id}", ADMINS),
    api("GET", "/api/v1/settings/default-policy", CATALOG),
    api("PUT", "/api/v1/settings/default-policy", ADMINS),
    form("POST", "/policies", ADMINS, CATALOG_REFUSED),
    form("POST", "/policies/{id}/default", ADMINS, CATALOG_REFUSED),
    form("POST", "/policies/{id}/delete", ADMINS, CATALOG_REFUSED),
    form(
        "POST",
        "/policies/{id}/what-if/cancel",
        ADMINS,
        CATALOG_REFUSED,
    ),
    // Channel accounts' webhooks: the platform proves itself (signature, verify token).
    form("GET", "/hooks/{kind}/{id}", Allow::Anyone, ""),
    form("POST", "/hooks/{kind}/{id}", Allow::Anyone, ""),
    // Channel accounts: their settings are the platforms' credentials.
    api("GET", "/api/v1/channel-accounts", ADMINS),
    api("POST", "/api/v1/channel-accounts", ADMINS),
    api("GET", "/api/v1/channel-accounts/{id}", ADMINS),
    api("PUT", "/api/v1/channel-accounts/{id}", ADMINS),
    api("DELETE", "/api/v1/channel-accounts/{id}", ADMINS),
    form("POST", "/channels", ADMINS, CHANNELS_REFUSED),
    form("POST", "/channels/{id}/delete", ADMINS, CHANNELS_REFUSED),
    form("POST", "/channels/{id}/test", ADMINS, CHANNELS_REFUSED),
    // Automation rules, channels' outbound webhooks, deliveries.
    // Rules are admins' alone: their webhook URLs are often credentials.
    api("GET", "/api/v1/rules", ADMINS),
    api("POST", "/api/v1/rules", ADMINS),
    api("POST", "/api/v1/rules/order", ADMINS),
    api("GET", "/api/v1/rules/{id}", ADMINS),
    api("PUT", "/api/v1/rules/{id}", ADMINS),
    api("DELETE", "/api/v1/rules/{id}", ADMINS),
    api("POST", "/api/v1/rules/{id}/test", ADMINS),
    form("POST", "/rules", ADMINS, RULES_REFUSED),
    form("POST", "/rules/{id}/toggle", ADMINS, RULES_REFUSED),
    form("POST", "/rules/{id}/move", ADMINS, RULES_REFUSED),
    form("POST", "/rules/{id}/delete", ADMINS, RULES_REFUSED),
    api("GET", "/api/v1/channels", ADMINS),
    api("PUT", "/api/v1/channels/{channel}/outbound", ADMINS),
    api("DELETE", "/api/v1/channels/{channel}/outbound", ADMINS),
    api("GET", "/api/v1/deliveries", ADMINS),
    // Conversations.
    api("POST", "/api/v1/events", Allow::Tokens(Scope::EventsWrite)),
    api("GET", "/api/v1/conversations", CONVERSATIONS),
    api("GET", "/api/v1/conversations/{id}", CONVERSATIONS),
    api(
        "POST",
        "/api/v1/conversations/{id}/messages",
        Allow::SignedIn(Some(Scope::ConversationsWrite)),
    ),
    api("POST", "/api/v1/conversations/take-next", AGENT_SESSIONS),
    api("GET", "/api/v1/stream", CONVERSATIONS),
    form(
        "POST",
        "/conversations/take-next",
        AGENT_SESSIONS,
        "Managers cannot change conversations.",
    ),
    form(
        "POST",
        "/conversations/{id}/reply",
        AGENTS,
        "Managers cannot change conversations.",
    ),
    form(
        "POST",
        "/conversations/{id}/update",
        AGENTS,
        "Managers cannot change conversations.",
    ),
    // Contracts, compliance and staffing.
    api("GET", "/api/v1/contracts", MANAGERS),
    api("POST", "/api/v1/contracts", CONTRACT_EDITORS),
    api("GET", "/api/v1/contracts/{id}", MANAGERS),
    api("PUT", "/api/v1/contracts/{id}", CONTRACT_EDITORS),
    api("DELETE", "/api/v1/contracts/{id}", CONTRACT_EDITORS),
    api("GET", "/api/v1/contracts/{id}/compliance", MANAGERS),
    api("GET", "/api/v1/contracts/{id}/compliance.csv", MANAGERS),
    api("GET", "/api/v1/contracts/{id}/conversations", MANAGERS),
    api("GET", "/api/v1/departments", MANAGERS),
    api("PUT", "/api/v1/departments", ADMINS),
    api("GET", "/api/v1/staffing", MANAGERS),
    api("GET", "/api/v1/live", MANAGERS),
    // A person's notifications.
    api("GET", "/api/v1/notifications", Allow::Sessions),
    api("POST", "/api/v1/notifications/read", Allow::Sessions),
    api("GET", "/api/v1/me/notification-settings", Allow::Sessions),
    api("PUT", "/api/v1/me/notification-settings", Allow::Sessions),
    form(
        "POST",
        "/notifications/read",
        Allow::Sessions,
        "Notifications are a person's own.",
    ),
    form(
        "POST",
        "/notifications/{id}/open",
        Allow::Sessions,
        "Notifications are a person's own.",
    ),
    form(
        "POST",
        "/notifications/settings",
        Allow::Sessions,
        "Notifications are a person's own.",
    ),
    form(
        "POST",
        "/compliance/new",
        CONTRACT_EDITORS,
        CONTRACTS_REFUSED,
    ),
    form(
        "POST",
        "/compliance/{id}/edit",
        CONTRACT_EDITORS,
        CONTRACTS_REFUSED,
    ),
    form(
        "POST",
        "/compliance/{id}/delete",
        CONTRACT_EDITORS,
        CONTRACTS_REFUSED,
    ),
    form(
        "POST",
        "/compliance/departments",
        ADMINS,
        "Only admins can map teams to departments.",
    ),
];

/// The table's entry for a request (`path` as the router matched it).
pub fn route(method: &str, path: &str) -> Option<&'static Route> {
    // HEAD is answered by the GET route.
    let method = if method == "HEAD" { "GET" } else { method };
    ROUTES.iter().find(|r| r.method == method && r.path == path)
}

/// The middleware that admits or refuses each routed request by the table: 401 when not
/// signed in, 403 for a role the route does not admit (the API's JSON error, or the form's
/// words); a route missing from the table is refused.
pub async fn enforce(matched: Option<MatchedPath>, req: Request, next: Next) -> Response {
    let Some(matched) = matched else {
        return next.run(req).await;
    };
    let caller = req.extensions().get::<Caller>().copied();
    let is_api = matched.as_str().starts_with("/api/v1/");
    let Some(route) = route(req.method().as_str(), matched.as_str()) else {
        // A method the path does not have (the router's answer too, and a refusal in any
        // case), or a route missing from the table: refused either way.
        if ROUTES.iter().any(|r| r.path == matched.as_str()) {
            return StatusCode::METHOD_NOT_ALLOWED.into_response();
        }
        tracing::error!(method = %req.method(), path = matched.as_str(), "a route missing from the access table was refused");
        return refuse(is_api, caller.is_some(), "This action is not available.");
    };
    if route.allow.admits(caller) {
        next.run(req).await
    } else {
        refuse(is_api, caller.is_some(), route.refused)
    }
}

fn refuse(is_api: bool, signed_in: bool, words: &'static str) -> Response {
    match (is_api, signed_in) {
        (true, false) => ApiError::Unauthorized.into_response(),
        (true, true) => ApiError::Forbidden.into_response(),
        (false, false) => (StatusCode::UNAUTHORIZED, "Please log in.").into_response(),
        (false, true) => (StatusCode::FORBIDDEN, words).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_route_is_listed_once() {
        for (i, a) in ROUTES.iter().enumerate() {
            for b in &ROUTES[i + 1..] {
                assert!(
                    !(a.method == b.method && a.path == b.path),
                    "{} {} is listed twice",
                    a.method,
                    a.path
                );
            }
        }
    }

    #[test]
    fn forms_that_refuse_signed_in_callers_say_why() {
        for r in ROUTES {
            if r.allow.refuses_someone() && !r.path.starts_with("/api/v1/") {
                assert!(!r.refused.is_empty(), "{} {} needs words", r.method, r.path);
            }
        }
    }

    /// A route the table does not list is refused, whoever asks: the check fails closed.
    #[tokio::test]
    async fn a_route_missing_from_the_table_is_refused() {
        use axum::body::Body;
        use tower::ServiceExt;
        let app = axum::Router::new()
            .route("/api/v1/unlisted", axum::routing::get(|| async { "ran" }))
            .route_layer(axum::middleware::from_fn(enforce));
        for role in [None, Some(Role::Admin)] {
            let mut req = Request::builder()
                .uri("/api/v1/unlisted")
                .body(Body::empty())
                .unwrap();
            if let Some(role) = role {
                req.extensions_mut().insert(Caller::Session(role));
            }
            let status = app.clone().oneshot(req).await.unwrap().status();
            let expected = if role.is_some() {
                StatusCode::FORBIDDEN
            } else {
                StatusCode::UNAUTHORIZED
            };
            assert_eq!(status, expected);
        }
    }

    #[test]
    fn roles_and_scopes_admit_as_listed() {
        let session = |role| Some(Caller::Session(role));
        let token = |scopes: &[Scope]| Some(Caller::Token(Scopes::of(scopes.iter().copied())));
        assert!(ADMINS.admits(session(Role::Admin)));
        assert!(ADMINS.admits(token(&[Scope::Admin])));
        assert!(!ADMINS.admits(token(&[Scope::EventsWrite, Scope::ContractsWrite])));
        assert!(!ADMINS.admits(session(Role::Manager)));
        assert!(!MANAGERS.admits(session(Role::Agent)));
        assert!(MANAGERS.admits(token(&[Scope::ReportsRead])));
        assert!(!CONTRACT_EDITORS.admits(token(&[Scope::ReportsRead])));
        assert!(AGENTS.admits(session(Role::Agent)));
        assert!(!AGENTS.admits(session(Role::Manager)));
        assert!(!SIGNED_IN.admits(None));
        assert!(SIGNED_IN.admits(token(&[])));
        assert!(Allow::Anyone.admits(None));
        assert!(CONVERSATIONS.admits(session(Role::Manager)));
        assert!(!CONVERSATIONS.admits(token(&[Scope::EventsWrite])));
        let events = Allow::Tokens(Scope::EventsWrite);
        assert!(events.admits(Some(Caller::Token(Scopes::DEFAULT))));
        assert!(!events.admits(token(&[Scope::CatalogRead])));
        assert!(!events.admits(session(Role::Admin)));
        assert!(!events.admits(None));
        assert!(Allow::Sessions.admits(session(Role::Agent)));
        assert!(!Allow::Sessions.admits(token(&[Scope::Admin])));
        assert!(AGENT_SESSIONS.admits(session(Role::Agent)));
        assert!(!AGENT_SESSIONS.admits(session(Role::Manager)));
        assert!(!AGENT_SESSIONS.admits(token(&[Scope::Admin])));
    }
}
