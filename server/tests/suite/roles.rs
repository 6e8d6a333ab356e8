//! The role and scope matrix, generated from the one access table (`http::access::ROUTES`):
//! every route × {anonymous, an agent's, a manager's and an admin's session, a token with
//! each single scope, a token of each role's scopes, a default token}. A caller the table does
//! not admit gets 401 (not signed in; a page-like GET: a redirect to the login page) or
//! 403; one it admits gets past the check (whatever
//! the handler then says about the made-up ids and empty bodies: never 401 or 403).

use crate::server_support;

use promptly::account::{Role, Scope, Scopes};
use promptly_server::http::access::{self, ROUTES};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, ORIGIN};
use reqwest::{Method, StatusCode};
use server_support::TestServer;

/// How a caller proves who it is.
enum Caller {
    Anonymous,
    Session(Role, String),
    Token(Scopes, String),
}

impl Caller {
    /// The caller as the access check sees it.
    fn access(&self) -> Option<access::Caller> {
        match self {
            Caller::Anonymous => None,
            Caller::Session(role, _) => Some(access::Caller::Session(*role)),
            Caller::Token(scopes, _) => Some(access::Caller::Token(*scopes)),
        }
    }

    fn name(&self) -> String {
        match self {
            Caller::Anonymous => "anonymous".into(),
            Caller::Session(r, _) => format!("{} session", r.as_str()),
            Caller::Token(s, _) => format!("token [{s}]"),
        }
    }
}

/// A concrete path for a route: ids that exist nowhere, a real channel name.
fn concrete(path: &str) -> String {
    path.replace("{id}", "999999")
        .replace("{channel}", "whatsapp")
        .replace("{*rest}", "index.html")
}

#[tokio::test]
async fn every_route_admits_exactly_the_roles_the_access_table_names() {
    let s = TestServer::start().await;
    let mut callers = vec![Caller::Anonymous];
    for role in [Role::Agent, Role::Manager, Role::Admin] {
        let email = format!("{}@roles.test", role.as_str());
        let cookie = if role == Role::Admin {
            s.login("admin@t.io", "admin-pass-1").await
        } else {
            let fields = promptly_server::services::accounts::NewUserFields {
                email: email.clone(),
                name: String::new(),
                role: role.as_str().into(),
                password: "password-123".into(),
            };
            promptly_server::services::accounts::create_user(s.store.as_ref(), &fields, s.now())
                .await
                .unwrap();
            s.login(&email, "password-123").await
        };
        callers.push(Caller::Session(role, cookie));
        let token = s
            .new_token(&format!("{role} token"), Some(role.as_str()))
            .await;
        callers.push(Caller::Token(token.info.scopes, token.token));
    }
    // A token of each single scope, and one made without asking for any.
    for scope in Scope::ALL {
        let asked = [scope.to_string()];
        let grant = promptly_server::services::tokens::Grant {
            scopes: Some(&asked),
            ..Default::default()
        };
        let token = promptly_server::services::tokens::create_token(
            s.store.as_ref(),
            &format!("{scope} token"),
            grant,
            s.now(),
        )
        .await
        .unwrap();
        assert_eq!(token.info.scopes, Scopes::of([scope]));
        callers.push(Caller::Token(token.info.scopes, token.token));
    }
    let default = s.new_token("default token", None).await;
    assert_eq!(default.info.scopes, Scopes::DEFAULT);
    callers.push(Caller::Token(default.info.scopes, default.token));
    // Signing out ends the caller's session: that route goes last.
    let mut routes: Vec<_> = ROUTES.iter().collect();
    routes.sort_by_key(|r| r.path == "/logout");
    let mut wrong = Vec::new();
    let mut checked = 0;
    for route in routes {
        for caller in &callers {
            if route.path == "/logout" && matches!(caller, Caller::Session(..)) {
                continue;
            }
            let method = Method::from_bytes(route.method.as_bytes()).unwrap();
            let mut req = s
                .client
                .request(method.clone(), s.url(&concrete(route.path)))
                .header(ORIGIN, &s.base);
            match caller {
                Caller::Anonymous => {}
                Caller::Session(_, cookie) => req = req.header(COOKIE, cookie),
                Caller::Token(_, token) => {
                    req = req.header(AUTHORIZATION, format!("Bearer {token}"))
                }
            }
            if method != Method::GET && method != Method::DELETE {
                req = if route.path.starts_with("/api/v1/") {
                    req.header(CONTENT_TYPE, "application/json").body("{}")
                } else {
                    req.header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                        .body("")
                };
            }
            let resp = req.send().await.unwrap();
            let status = resp.status();
            let to_login = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .is_some_and(|l| l.starts_with("/login?next="));
            let admitted = route.allow.admits(caller.access());
            let ok = match (admitted, caller.access()) {
                (true, _) => status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                // A page-like GET sends the anonymous to the login page instead (not the
                // metrics: a scraper reads a 401).
                (false, None)
                    if method == Method::GET
                        && !route.path.starts_with("/api/v1/")
                        && route.path != promptly_server::http::metrics::PATH =>
                {
                    status == StatusCode::SEE_OTHER && to_login
                }
                (false, None) => status == StatusCode::UNAUTHORIZED,
                (false, Some(_)) => status == StatusCode::FORBIDDEN,
            };
            checked += 1;
            if !ok {
                wrong.push(format!(
                    "{} {} as {}: {} ({})",
                    route.method,
                    route.path,
                    caller.name(),
                    status,
                    if admitted { "admitted" } else { "refused" }
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {checked} answers wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    // The table is not empty and refuses someone somewhere, so the walk tested both ways.
    assert!(checked > 1000, "only {checked} answers checked");
    assert!(ROUTES.iter().any(|r| r.allow.refuses_someone()));
}
