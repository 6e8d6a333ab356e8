//! Who may do what: every route of the server (the JSON API and the HTML forms) with the
//! roles it admits, in one table. [`enforce`] reads it for each request, before the
//! handler runs; handlers never check roles themselves. A token acts with its role. The
//! role-matrix test (`server/tests/suite/roles.rs`) walks this table for every kind of caller,
//! and a route missing from it is refused (and fails that test).
//!
//! The pages (Leptos routes) are guarded by `promptly::account::Section`, the table of
//! which role sees which page; the server functions behind them check the same sections.

use crate::auth::CurrentUser;
use crate::http::error::ApiError;
use axum::extract::{MatchedPath, Request};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use promptly::account::Role;

/// Who a route admits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allow {
    /// Anyone, signed in or not.
    Anyone,
    /// Any signed-in user or token.
    SignedIn,
    /// These roles only.
    Roles(&'static [Role]),
    /// Integration tokens (of any role), never a browser session: what a channel sends is
    /// not typed by a person; agents reply on the conversation page, which sets the author.
    Tokens,
}

/// Who is asking, as the check sees it: a role, and whether it came with a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub role: Role,
    pub token: bool,
}

impl Caller {
    /// The caller a signed-in user or token is (tokens have negative ids).
    pub fn of(user: &promptly::account::UserView) -> Self {
        Caller {
            role: user.role,
            token: user.id < 0,
        }
    }
}

/// Admins only.
pub const ADMINS: Allow = Allow::Roles(&[Role::Admin]);
/// Managers and admins: contracts and compliance, staffing.
pub const MANAGERS: Allow = Allow::Roles(&[Role::Manager, Role::Admin]);
/// Agents and admins: those who act on conversations (managers read them).
pub const AGENTS: Allow = Allow::Roles(&[Role::Agent, Role::Admin]);

impl Allow {
    /// Who may call, in words (for the API document).
    pub fn in_words(self) -> &'static str {
        match self {
            Allow::Anyone => "Public: no token or session needed.",
            Allow::SignedIn => "",
            Allow::Roles(&[Role::Admin]) => "Admins only.",
            Allow::Roles(&[Role::Manager, Role::Admin]) => "Managers and admins only.",
            Allow::Roles(&[Role::Agent, Role::Admin]) => "Agents and admins only.",
            Allow::Roles(_) => "Some roles only.",
            Allow::Tokens => "Integration tokens only (any role); a browser session gets 403.",
        }
    }

    /// Whether this caller (`None`: not signed in) is admitted.
    pub fn admits(self, caller: Option<Caller>) -> bool {
        match (self, caller) {
            (Allow::Anyone, _) => true,
            (_, None) => false,
            (Allow::SignedIn, Some(_)) => true,
            (Allow::Roles(roles), Some(c)) => roles.contains(&c.role),
            (Allow::Tokens, Some(c)) => c.token,
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
const CATALOG_REFUSED: &str = "Only admins can manage calendars and policies.";
const RULES_REFUSED: &str = "Only admins can manage automation rules.";
const CONTRACTS_REFUSED: &str = "Only managers and admins can edit contracts.";

/// Every route of the server.
pub const ROUTES: &[Route] = &[
    // Health and sign-in.
    api("GET", "/healthz", Allow::Anyone),
    form("POST", "/login", Allow::Anyone, ""),
    form("POST", "/logout", Allow::Anyone, ""),
    // The API's description.
    api("GET", "/api/v1/openapi.json", Allow::Anyone),
    form("GET", "/api", Allow::SignedIn, ""),
    form("GET", "/api/docs", Allow::SignedIn, ""),
    form("GET", "/api/docs/", Allow::SignedIn, ""),
    form("GET", "/api/docs/{*rest}", Allow::SignedIn, ""),
    // Accounts.
    api("GET", "/api/v1/me", Allow::SignedIn),
    api("GET", "/api/v1/users", ADMINS),
    api("POST", "/api/v1/users", ADMINS),
    api("GET", "/api/v1/users/{id}", ADMINS),
    api("PATCH", "/api/v1/users/{id}", ADMINS),
    form("POST", "/admin/users", ADMINS, USERS_REFUSED),
    form("POST", "/admin/users/{id}/role", ADMINS, USERS_REFUSED),
    form("POST", "/admin/users/{id}/active", ADMINS, USERS_REFUSED),
    api("GET", "/api/v1/tokens", ADMINS),
    api("POST", "/api/v1/tokens", ADMINS),
    api("DELETE", "/api/v1/tokens/{id}", ADMINS),
    form("POST", "/admin/tokens", ADMINS, TOKENS_REFUSED),
    form("POST", "/admin/tokens/{id}/revoke", ADMINS, TOKENS_REFUSED),
    // Calendars and policies.
    api("GET", "/api/v1/calendars", Allow::SignedIn),
    api("POST", "/api/v1/calendars", ADMINS),
    api("GET", "/api/v1/calendars/{id}", Allow::SignedIn),
    api("PUT", "/api/v1/calendars/{id}", ADMINS),
    api("DELETE", "/api/v1/calendars/{id}", ADMINS),
    form("POST", "/calendars", ADMINS, CATALOG_REFUSED),
    form("POST", "/calendars/{id}/delete", ADMINS, CATALOG_REFUSED),
    api("GET", "/api/v1/policies", Allow::SignedIn),
    api("POST", "/api/v1/policies", ADMINS),
    api("GET", "/api/v1/policies/{id}", Allow::SignedIn),
    api("PUT", "/api/v1/policies/{id}", ADMINS),
    api("DELETE", "/api/v1/policies/{id}", ADMINS),
    api("GET", "/api/v1/policies/{id}/versions", Allow::SignedIn),
    api("GET", "/api/v1/jobs/{id}", ADMINS),
    api("GET", "/api/v1/settings/default-policy", Allow::SignedIn),
    api("PUT", "/api/v1/settings/default-policy", ADMINS),
    form("POST", "/policies", ADMINS, CATALOG_REFUSED),
    form("POST", "/policies/{id}/default", ADMINS, CATALOG_REFUSED),
    form("POST", "/policies/{id}/delete", ADMINS, CATALOG_REFUSED),
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
    api("POST", "/api/v1/events", Allow::Tokens),
    api("GET", "/api/v1/conversations", Allow::SignedIn),
    api("GET", "/api/v1/conversations/{id}", Allow::SignedIn),
    api("GET", "/api/v1/stream", Allow::SignedIn),
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
    api("POST", "/api/v1/contracts", MANAGERS),
    api("GET", "/api/v1/contracts/{id}", MANAGERS),
    api("PUT", "/api/v1/contracts/{id}", MANAGERS),
    api("DELETE", "/api/v1/contracts/{id}", MANAGERS),
    api("GET", "/api/v1/contracts/{id}/compliance", MANAGERS),
    api("GET", "/api/v1/contracts/{id}/compliance.csv", MANAGERS),
    api("GET", "/api/v1/contracts/{id}/conversations", MANAGERS),
    api("GET", "/api/v1/departments", MANAGERS),
    api("PUT", "/api/v1/departments", ADMINS),
    api("GET", "/api/v1/staffing", MANAGERS),
    form("POST", "/compliance/new", MANAGERS, CONTRACTS_REFUSED),
    form("POST", "/compliance/{id}/edit", MANAGERS, CONTRACTS_REFUSED),
    form(
        "POST",
        "/compliance/{id}/delete",
        MANAGERS,
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
    let caller = req
        .extensions()
        .get::<CurrentUser>()
        .map(|u| Caller::of(&u.0));
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
            let refuses_someone = !matches!(r.allow, Allow::Anyone | Allow::SignedIn);
            if refuses_someone && !r.path.starts_with("/api/v1/") {
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
                req.extensions_mut()
                    .insert(CurrentUser(promptly::account::UserView {
                        id: 1,
                        email: "a@b.c".into(),
                        name: String::new(),
                        role,
                        active: true,
                    }));
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
    fn roles_admit_as_listed() {
        let session = |role| Some(Caller { role, token: false });
        let token = |role| Some(Caller { role, token: true });
        assert!(ADMINS.admits(session(Role::Admin)));
        assert!(ADMINS.admits(token(Role::Admin)));
        assert!(!ADMINS.admits(session(Role::Manager)));
        assert!(!MANAGERS.admits(session(Role::Agent)));
        assert!(AGENTS.admits(session(Role::Agent)));
        assert!(!AGENTS.admits(session(Role::Manager)));
        assert!(!Allow::SignedIn.admits(None));
        assert!(Allow::Anyone.admits(None));
        assert!(Allow::Tokens.admits(token(Role::Agent)));
        assert!(!Allow::Tokens.admits(session(Role::Admin)));
        assert!(!Allow::Tokens.admits(None));
    }
}
