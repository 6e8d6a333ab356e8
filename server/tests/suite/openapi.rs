//! The OpenAPI document at `/api/v1/openapi.json` and the page at `/api/docs/`: the document is
//! public and well formed, and it cannot drift from the router: every documented operation
//! answers (and with a documented status), every other method on a documented path is 405,
//! unknown paths are 404, and the routes the `/api/v1` router registers in the source are
//! exactly the documented ones.

use crate::server_support;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, LOCATION};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use server_support::TestServer;
use std::collections::BTreeSet;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

async fn document(s: &TestServer) -> Value {
    let r = s
        .client
        .get(s.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "the document needs no session");
    assert!(r.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    serde_json::from_str(&r.text().await.unwrap()).expect("the document is JSON")
}

/// (path, method) of every operation in the document, paths as in the router (`{id}`).
fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for m in METHODS {
            if item.get(m).is_some() {
                out.insert((path.clone(), m.to_string()));
            }
        }
    }
    out
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "$ref" {
                    out.push(v.as_str().expect("a $ref is a string").to_string());
                } else {
                    collect_refs(v, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_refs(i, out)),
        _ => {}
    }
}

#[tokio::test]
async fn the_document_is_public_and_well_formed() {
    let s = TestServer::start().await;
    let doc = document(&s).await;
    let version = doc["openapi"].as_str().unwrap();
    assert!(version.starts_with("3.1."), "openapi {version}");
    assert_eq!(doc["servers"][0]["url"], "/api/v1");

    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearerAuth"]["type"], "http");
    assert_eq!(schemes["bearerAuth"]["scheme"], "bearer");
    assert_eq!(schemes["sessionCookie"]["type"], "apiKey");
    assert_eq!(schemes["sessionCookie"]["in"], "cookie");
    assert_eq!(schemes["sessionCookie"]["name"], "promptly_session");

    // Every $ref resolves inside the document.
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(refs.len() > 50, "the document uses its components");
    for r in &refs {
        let pointer = r
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("{r} is not local"));
        assert!(doc.pointer(pointer).is_some(), "{r} does not resolve");
    }

    // The error shape, and every protected operation says what a missing token gets.
    let error = &doc["components"]["schemas"]["Error"];
    assert_eq!(error["required"][0], "error");
    assert_eq!(
        error["properties"]["errors"]["items"]["$ref"],
        "#/components/schemas/FieldError"
    );
    for (path, method) in documented(&doc) {
        let op = &doc["paths"][&path][&method];
        assert!(op["summary"].is_string(), "{method} {path} has a summary");
        let public = op["security"].as_array().is_some_and(|s| s.is_empty());
        assert_eq!(
            op["responses"].get("401").is_some(),
            !public,
            "{method} {path}: 401 documented exactly when a token is needed"
        );
    }
    assert!(doc["paths"]["/openapi.json"]["get"]["security"]
        .as_array()
        .unwrap()
        .is_empty());

    // The stream's events and Last-Event-ID.
    let stream = &doc["paths"]["/stream"]["get"];
    let desc = stream["description"].as_str().unwrap();
    for name in ["hello", "heartbeat", "conversation", "Last-Event-ID"] {
        assert!(desc.contains(name), "the stream documents {name}");
    }
    assert_eq!(stream["parameters"][0]["name"], "Last-Event-ID");
    assert_eq!(stream["parameters"][0]["in"], "header");
    assert!(stream["responses"]["200"]["content"]["text/event-stream"].is_object());
}

/// Sends a request with the token; returns the status and, unless it is a stream, the body.
async fn probe(s: &TestServer, token: &str, method: &str, path: &str) -> (StatusCode, String) {
    let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
    let mut req = s
        .client
        .request(method.clone(), s.url(path))
        .header(AUTHORIZATION, format!("Bearer {token}"));
    if matches!(method, Method::POST | Method::PUT | Method::PATCH) {
        req = req.json(&serde_json::json!({}));
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    let is_stream = r
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.to_str().unwrap_or("").starts_with("text/event-stream"));
    if is_stream {
        return (status, String::new());
    }
    (status, r.text().await.unwrap())
}

/// A 404 from a handler is JSON `{"error": ...}`; an unrouted path gets the app's HTML page.
fn handler_answered(status: StatusCode, body: &str) -> bool {
    if status == StatusCode::METHOD_NOT_ALLOWED {
        return false;
    }
    if status == StatusCode::NOT_FOUND {
        return serde_json::from_str::<Value>(body).is_ok_and(|v| v["error"].is_string());
    }
    true
}

#[tokio::test]
async fn every_documented_operation_is_routed_and_nothing_else_is() {
    let s = TestServer::start().await;
    let doc = document(&s).await;
    // Token 1 is the one `DELETE /tokens/{id}` revokes; the probes use token 2.
    promptly_server::services::tokens::create_token(
        s.store.as_ref(),
        "victim",
        Default::default(),
        s.state.clock.now(),
    )
    .await
    .unwrap();
    let token = s.token().await;

    let ops = documented(&doc);
    assert!(ops.len() >= 20, "{} operations", ops.len());
    for (path, method) in &ops {
        let url = format!("/api/v1{}", path.replace("{id}", "1"));
        let (status, body) = probe(&s, &token, method, &url).await;
        assert!(
            handler_answered(status, &body),
            "{method} {url} is documented but not routed: {status} {body:.200}"
        );
        assert!(
            doc["paths"][path][method]["responses"]
                .get(status.as_str())
                .is_some(),
            "{method} {url} answered {status}, which is not documented: {body:.300}"
        );
    }

    // Methods the document does not list on its paths are not routed either.
    let paths: BTreeSet<&String> = ops.iter().map(|(p, _)| p).collect();
    for path in paths {
        for method in METHODS {
            if ops.contains(&(path.clone(), method.to_string())) {
                continue;
            }
            let url = format!("/api/v1{}", path.replace("{id}", "1"));
            let (status, body) = probe(&s, &token, method, &url).await;
            assert_eq!(
                status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {url} is routed but not documented: {body:.200}"
            );
        }
    }

    // Paths that are not routes fail the check above, so it can fail.
    for url in [
        "/api/v1/nope",
        "/api/v1/users/1/role",
        "/api/v1/token",
        "/api/v1/conversations/1/events",
        "/api/v1/settings",
    ] {
        let (status, body) = probe(&s, &token, "get", url).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{url}");
        assert!(!handler_answered(status, &body), "{url} looks routed");
    }
}

/// The `/api/v1` routes as the source registers them: the modules' routers in `api_router()`
/// and the `.route("PATH", get(..).post(..))` calls in their `router()`.
fn routes_in_source() -> BTreeSet<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http");
    let body_of = |text: &str, signature: &str| -> String {
        let start = text
            .find(signature)
            .unwrap_or_else(|| panic!("{signature} not found"));
        let rest = &text[start..];
        rest[..rest.find("\n}\n").expect("the function ends")].to_string()
    };
    let mod_rs = std::fs::read_to_string(dir.join("mod.rs")).unwrap();
    let api = body_of(&mod_rs, "pub fn api_router()");
    let modules: Vec<&str> = api
        .split("::router()")
        .filter_map(|m| m.rsplit(|c: char| !c.is_alphanumeric() && c != '_').next())
        .filter(|m| !m.is_empty())
        .collect();
    assert!(modules.len() >= 8, "modules merged: {modules:?}");
    let mut out = BTreeSet::new();
    for module in modules {
        let text = std::fs::read_to_string(dir.join(format!("{module}.rs"))).unwrap();
        let router = body_of(&text, "pub fn router()");
        for call in router.split(".route(").skip(1) {
            let call = call.trim_start();
            let call = call.strip_prefix('"').expect("a literal path");
            let end = call.find('"').unwrap();
            let path = &call[..end];
            // The handlers, up to the `)` that closes `.route(`.
            let mut depth = 1;
            let mut len = call.len();
            for (i, c) in call[end..].char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' => {
                        depth -= 1;
                        if depth == 0 {
                            len = end + i;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let handlers = &call[end + 1..len];
            let mut found = false;
            for method in METHODS {
                let direct = handlers.trim_start().trim_start_matches(',').trim_start();
                if direct.starts_with(&format!("{method}("))
                    || handlers.contains(&format!(".{method}("))
                {
                    out.insert((path.to_string(), method.to_string()));
                    found = true;
                }
            }
            assert!(found, "no method in {module}: .route(\"{path}\"{handlers})");
        }
    }
    out
}

#[tokio::test]
async fn the_document_lists_exactly_the_routes_in_the_source() {
    let s = TestServer::start().await;
    let doc = document(&s).await;
    let source = routes_in_source();
    let documented = documented(&doc);
    let missing: Vec<_> = source.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&source).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "routed but not documented: {missing:?}; documented but not routed: {extra:?}"
    );
}

#[tokio::test]
async fn the_api_page_is_swagger_ui_served_from_the_binary() {
    let s = TestServer::start().await;

    // Like every page, it needs a session (or a token).
    let r = s.client.get(s.url("/api")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(r.headers()[LOCATION]
        .to_str()
        .unwrap()
        .starts_with("/login"));

    let cookie = s.login("admin@t.io", "admin-pass-1").await;
    let get = |path: &'static str| s.client.get(s.url(path)).header(COOKIE, &cookie).send();
    // `/api` (the header's link) leads to the page.
    let r = get("/api").await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[LOCATION], "/api/docs/");

    let r = get("/api/docs/").await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = r.text().await.unwrap();
    assert!(html.contains("swagger-ui"));
    // Every asset it loads is the server's own: nothing from a CDN.
    assert!(!html.contains("http://") && !html.contains("https://"));
    for asset in [
        "swagger-ui.css",
        "swagger-ui-bundle.js",
        "swagger-initializer.js",
    ] {
        assert!(html.contains(asset), "{asset}");
    }

    // The bundle is embedded, and the initializer reads this server's document with the
    // browser's credentials.
    let r = get("/api/docs/swagger-ui-bundle.js").await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.bytes().await.unwrap().len() > 100_000);
    let init = get("/api/docs/swagger-initializer.js")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(init.contains("/api/v1/openapi.json"), "{init}");
    assert!(init.contains("\"withCredentials\": true"), "{init}");
}

/// The limits and word lists the document states are the ones the code enforces.
#[test]
fn the_documented_limits_are_the_codes() {
    let doc = promptly_server::http::docs::document();
    let schemas = &doc["components"]["schemas"];

    // Every time zone the server parses, and nothing else.
    let documented: BTreeSet<&str> = schemas["Timezone"]["enum"]
        .as_array()
        .expect("Timezone is an enum")
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let parsed: BTreeSet<&str> = chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()).collect();
    assert_eq!(documented, parsed);

    // A policy's targets take business days ("2bd") as well as durations; a warning does not.
    for field in ["first_response", "next_response", "resolution"] {
        let property = &schemas["Policy"]["properties"][field];
        assert!(
            property.to_string().contains("#/components/schemas/Target"),
            "{field}: {property}"
        );
    }
    let target = &schemas["Target"];
    assert_eq!(
        target["oneOf"][0]["pattern"].as_str(),
        Some(promptly::Target::PATTERN)
    );
    assert!(target["description"].as_str().unwrap().contains("`2bd`"));
    assert_eq!(
        schemas["Duration"]["oneOf"][0]["pattern"].as_str(),
        Some(promptly::SlaDuration::PATTERN)
    );

    // Page sizes.
    let limit = |path: &str| {
        doc["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "limit")
            .map(|p| {
                (
                    p["schema"]["default"].as_i64(),
                    p["schema"]["maximum"].as_i64(),
                )
            })
            .unwrap()
    };
    for (path, page) in [
        ("/conversations", promptly::limits::CONVERSATIONS_PAGE),
        ("/deliveries", promptly::limits::DELIVERIES_PAGE),
        (
            "/contracts/{id}/conversations",
            promptly::limits::CONTRACT_CONVERSATIONS_PAGE,
        ),
    ] {
        assert_eq!(limit(path), (Some(page.default), Some(page.max)), "{path}");
    }

    // Names and money.
    for schema in ["CalendarInput", "PolicyInput", "NewToken"] {
        assert_eq!(
            schemas[schema]["properties"]["name"]["maxLength"].as_u64(),
            Some(promptly::limits::NAME_LEN as u64),
            "{schema}"
        );
    }
    let remedies = &schemas["Remedies"]["properties"];
    for field in [
        "fee_per_period",
        "credit_per_point",
        "bonus_per_point",
        "credit_cap",
    ] {
        assert_eq!(
            remedies[field]["maximum"].as_f64(),
            Some(promptly::limits::MONEY_MAX),
            "{field}"
        );
    }
}

#[tokio::test]
async fn the_webhook_words_name_the_headers_deliveries_carry() {
    use promptly_server::outbox::{DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER};
    let s = TestServer::start().await;
    let doc = document(&s).await;
    let op = &doc["paths"]["/channels/{channel}/outbound"]["put"];
    let words = format!("{} {}", op["summary"], op["description"]);
    let readme = include_str!("../../../README.md");
    for header in [SIGNATURE_HEADER, TIMESTAMP_HEADER, DELIVERY_HEADER] {
        assert!(words.contains(header), "the API document names {header}");
        assert!(readme.contains(header), "the README names {header}");
    }
    assert!(words.contains("PROMPTLY_EGRESS_ALLOW"), "{words}");
}
