//! The API's documentation: the OpenAPI 3.1 document at `/api/v1/openapi.json` (public) and
//! a readable page rendered from it at `/api` (plain HTML, no JavaScript).
//!
//! The document is written by hand in `openapi.json` beside this file; `server/tests/suite/openapi.rs`
//! checks that it lists exactly the routes the router serves.

use crate::state::AppState;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Map, Value};
use std::fmt::Write;
use std::sync::OnceLock;

/// The OpenAPI document as written; [`document`] adds the parts the code defines.
pub const OPENAPI_JSON: &str = include_str!("openapi.json");

/// The OpenAPI document, as served: the written one with the schemas that come from the
/// code's own tables (time zones, rule conditions per field and operator, which fields each
/// rule event knows), so the contract cannot drift from what the server accepts.
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc: Value =
            serde_json::from_str(OPENAPI_JSON).expect("openapi.json is valid JSON");
        let schemas = &mut doc["components"]["schemas"];
        schemas["Timezone"] = timezone_schema();
        let description = schemas["RuleCondition"]["description"].clone();
        schemas["RuleCondition"] = rule_condition_schema(description);
        schemas["NewUser"]["properties"]["email"]["pattern"] = json!(EMAIL_PATTERN);
        if let Some(actions) = schemas["RuleAction"]["oneOf"].as_array_mut() {
            for action in actions {
                if let Some(owner) = action["properties"].get_mut("owner") {
                    owner["pattern"] = json!(EMAIL_PATTERN);
                }
            }
        }
        let rule_all_of = schemas["Rule"]["allOf"]
            .as_array_mut()
            .expect("Rule has allOf");
        rule_all_of.extend(fields_per_event());
        doc
    })
}

fn timezone_schema() -> Value {
    let names: Vec<&str> = chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()).collect();
    json!({
        "type": "string",
        "description": "An IANA time zone name, exactly as the tz database spells it.",
        "enum": names,
        "example": "Europe/Amsterdam",
    })
}

/// One variant per field and kind of value its operators take: the operators, and the
/// value (none, a text, a list of texts, a calendar id) with the field's own words where it
/// has a fixed set (`channel`, `priority`, …) and e-mails for `owner`'s `is`/`in`.
fn rule_condition_schema(description: Value) -> Value {
    use promptly::limits::{EMAIL_LEN, RULE_VALUES, RULE_VALUE_LEN};
    use promptly::rules::{Field, Op, ValueKind};
    let free_text =
        json!({"type": "string", "minLength": 1, "maxLength": RULE_VALUE_LEN, "pattern": "\\S"});
    let owner = json!({"anyOf": [
        {"enum": ["none", "anyone"]},
        {"type": "string", "maxLength": EMAIL_LEN, "pattern": EMAIL_PATTERN},
    ]});
    let mut variants = Vec::new();
    for field in Field::ALL {
        // Operators grouped by the value they take (and, for `owner`, e-mail or free text).
        let mut groups: Vec<((u8, bool), Vec<&str>)> = Vec::new();
        for op in field.ops() {
            let kind = match op.value_kind() {
                ValueKind::None => 0,
                ValueKind::Text => 1,
                ValueKind::List => 2,
                ValueKind::Calendar => 3,
            };
            let email =
                field == Field::Owner && matches!(op, Op::Is | Op::IsNot | Op::In | Op::NotIn);
            match groups.iter_mut().find(|(k, _)| *k == (kind, email)) {
                Some((_, ops)) => ops.push(op.as_str()),
                None => groups.push(((kind, email), vec![op.as_str()])),
            }
        }
        for ((kind, email), ops) in groups {
            let text = match field.choices() {
                Some(words) => json!({"enum": words}),
                None if email => owner.clone(),
                None => free_text.clone(),
            };
            let (value, required) = match kind {
                0 => (json!({"type": "null"}), json!(["field", "op"])),
                1 => (text, json!(["field", "op", "value"])),
                2 => (
                    json!({"type": "array", "minItems": 1, "maxItems": RULE_VALUES, "items": text}),
                    json!(["field", "op", "value"]),
                ),
                _ => (
                    json!({"type": "integer", "format": "int64", "description": "A calendar's id."}),
                    json!(["field", "op", "value"]),
                ),
            };
            variants.push(json!({
                "type": "object",
                "additionalProperties": false,
                "required": required,
                "properties": {
                    "field": {"const": field.as_str()},
                    "op": {"enum": ops},
                    "value": value,
                },
            }));
        }
    }
    json!({"description": description, "oneOf": variants})
}

/// For each rule event, the condition fields it does not know (`message.*` without a
/// message, `sla.metric` off SLA events).
fn fields_per_event() -> Vec<Value> {
    use promptly::rules::{Field, RuleEvent};
    RuleEvent::ALL
        .into_iter()
        .filter_map(|event| {
            let unknown: Vec<&str> = Field::ALL
                .into_iter()
                .filter(|f| !f.applies_to(event))
                .map(Field::as_str)
                .collect();
            (!unknown.is_empty()).then(|| {
                json!({
                    "if": {"required": ["event"], "properties": {"event": {"const": event.as_str()}}},
                    "then": {"properties": {"conditions": {"items": {
                        "properties": {"field": {"not": {"enum": unknown}}}
                    }}}},
                })
            })
        })
        .collect()
}

/// What `promptly::account::validate_email` accepts: one `@` between non-empty parts, no
/// spaces or control characters (surrounding spaces are trimmed).
pub const EMAIL_PATTERN: &str =
    "^\\s*[^@\\s\\x00-\\x1f\\x7f-\\x9f]+@[^@\\s\\x00-\\x1f\\x7f-\\x9f]+\\s*$";

/// Where the API lives; the document's paths are relative to it.
const BASE: &str = "/api/v1";

/// `/openapi.json`, to be nested under `/api/v1`.
pub fn router() -> Router<AppState> {
    Router::new().route("/openapi.json", get(openapi))
}

/// `/api`: the readable page (for the outer router).
pub fn page_router() -> Router<AppState> {
    Router::new().route("/api", get(page))
}

async fn openapi() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        document().to_string(),
    )
}

async fn page() -> Html<&'static str> {
    static PAGE: OnceLock<String> = OnceLock::new();
    Html(PAGE.get_or_init(|| render(document())).as_str())
}

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes and turns `code` spans into `<code>`.
fn inline(s: &str) -> String {
    let escaped = esc(s);
    let mut out = String::with_capacity(escaped.len());
    for (i, part) in escaped.split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<code>{part}</code>");
        } else {
            out.push_str(part);
        }
    }
    out
}

/// The small Markdown the document uses: paragraphs, `- ` lists, `code`.
fn markdown(s: &str) -> String {
    let mut out = String::new();
    for block in s.split("\n\n") {
        let lines: Vec<&str> = block.lines().collect();
        if !lines.is_empty() && lines.iter().all(|l| l.starts_with("- ")) {
            out.push_str("<ul>");
            for l in lines {
                let _ = write!(out, "<li>{}</li>", inline(&l[2..]));
            }
            out.push_str("</ul>");
        } else if !block.trim().is_empty() {
            let _ = write!(out, "<p>{}</p>", inline(block.trim()));
        }
    }
    out
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// Follows a local `$ref` (`#/components/...`).
fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => r
            .strip_prefix('#')
            .and_then(|p| doc.pointer(p))
            .unwrap_or(v),
        None => v,
    }
}

fn schema_anchor(name: &str) -> String {
    format!("schema-{name}")
}

/// A schema's type in a few words, with links to named schemas.
fn type_of(s: &Value) -> String {
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        let name = r.rsplit('/').next().unwrap_or(r);
        return format!(
            "<a href=\"#{}\">{}</a>",
            esc(&schema_anchor(name)),
            esc(name)
        );
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(items) = s.get(key).and_then(Value::as_array) {
            let sep = if key == "allOf" { " and " } else { " or " };
            return items.iter().map(type_of).collect::<Vec<_>>().join(sep);
        }
    }
    if let Some(c) = s.get("const") {
        return format!("<code>{}</code>", esc(&c.to_string()));
    }
    let base = match s.get("type") {
        Some(Value::String(t)) => t.clone(),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" or "),
        _ => "any".to_string(),
    };
    let mut out = if base == "array" {
        match s.get("items") {
            Some(items) => format!("array of {}", type_of(items)),
            None => "array".to_string(),
        }
    } else if base == "object" {
        match s.get("additionalProperties") {
            Some(ap @ Value::Object(_)) => format!("map of {}", type_of(ap)),
            _ => "object".to_string(),
        }
    } else {
        esc(&base)
    };
    if let Some(e) = s.get("enum").and_then(Value::as_array) {
        let values: Vec<String> = e
            .iter()
            .map(|v| format!("<code>{}</code>", esc(v.as_str().unwrap_or(&v.to_string()))))
            .collect();
        let _ = write!(out, ": {}", values.join(", "));
    }
    if let Some(f) = s.get("format").and_then(Value::as_str) {
        let _ = write!(out, " ({})", esc(f));
    }
    out
}

fn pretty(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => serde_json::to_string_pretty(other).unwrap_or_default(),
    }
}

fn render_parameters(doc: &Value, params: &[&Value], out: &mut String) {
    if params.is_empty() {
        return;
    }
    out.push_str("<h4>Parameters</h4><table class=\"grid api-params\"><thead><tr><th>Name</th><th>In</th><th>Type</th><th>Required</th><th>Description</th></tr></thead><tbody>");
    for p in params {
        let p = resolve(doc, p);
        let _ = write!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(text(p, "name")),
            esc(text(p, "in")),
            p.get("schema").map(type_of).unwrap_or_default(),
            if p.get("required").and_then(Value::as_bool) == Some(true) {
                "yes"
            } else {
                "no"
            },
            inline(text(p, "description")),
        );
    }
    out.push_str("</tbody></table>");
}

/// Media types and schemas, with examples unless `examples` is off (shared error answers).
fn render_content(content: &Map<String, Value>, examples: bool, out: &mut String) {
    for (media, m) in content {
        let schema = m.get("schema").map(type_of).unwrap_or_default();
        let _ = write!(
            out,
            "<p class=\"api-media\"><code>{}</code> {}</p>",
            esc(media),
            schema
        );
        if let Some(example) = m.get("example").filter(|_| examples) {
            let _ = write!(
                out,
                "<pre class=\"api-example\"><code>{}</code></pre>",
                esc(&pretty(example))
            );
        }
    }
}

fn render_operation(doc: &Value, path: &str, method: &str, item: &Value, op: &Value) -> String {
    let mut out = String::new();
    let id = text(op, "operationId");
    let full = format!("{BASE}{path}");
    let _ = write!(
        out,
        "<section class=\"api-op card\" id=\"{}\" data-method=\"{}\" data-path=\"{}\">",
        esc(id),
        method,
        esc(&full)
    );
    let _ = write!(
        out,
        "<h3><span class=\"api-method {method}\">{}</span> <code>{}</code></h3>",
        method.to_uppercase(),
        esc(&full)
    );
    let _ = write!(
        out,
        "<p class=\"api-summary\"><strong>{}</strong></p>",
        inline(text(op, "summary"))
    );
    if op
        .get("security")
        .and_then(Value::as_array)
        .is_some_and(|s| s.is_empty())
    {
        out.push_str("<p class=\"muted\">Public: no token or session needed.</p>");
    }
    out.push_str(&markdown(text(op, "description")));

    let params: Vec<&Value> = item
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .chain(
            op.get("parameters")
                .and_then(Value::as_array)
                .into_iter()
                .flatten(),
        )
        .collect();
    render_parameters(doc, &params, &mut out);

    if let Some(body) = op.get("requestBody") {
        let body = resolve(doc, body);
        out.push_str("<h4>Request body</h4>");
        if let Some(d) = body.get("description").and_then(Value::as_str) {
            out.push_str(&markdown(d));
        }
        if let Some(content) = body.get("content").and_then(Value::as_object) {
            render_content(content, true, &mut out);
        }
    }

    if let Some(responses) = op.get("responses").and_then(Value::as_object) {
        out.push_str("<h4>Responses</h4><dl class=\"api-responses\">");
        for (status, r) in responses {
            // Shared answers (the errors) show their examples once, under Common responses.
            let shared = r.get("$ref").is_some();
            let r = resolve(doc, r);
            let _ = write!(
                out,
                "<dt><span class=\"api-status s{}\">{}</span></dt><dd>{}",
                esc(&status[..1]),
                esc(status),
                inline(text(r, "description"))
            );
            if let Some(content) = r.get("content").and_then(Value::as_object) {
                render_content(content, !shared, &mut out);
            }
            out.push_str("</dd>");
        }
        out.push_str("</dl>");
    }
    out.push_str("</section>");
    out
}

fn render_schema(name: &str, s: &Value) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<section class=\"api-schema\" id=\"{}\"><h3>{}</h3>",
        esc(&schema_anchor(name)),
        esc(name)
    );
    out.push_str(&markdown(text(s, "description")));
    let parts: Vec<&Value> = match s.get("allOf").and_then(Value::as_array) {
        Some(all) => all.iter().collect(),
        None => vec![s],
    };
    let mut rows = String::new();
    for part in &parts {
        if let Some(r) = part.get("$ref") {
            let _ = write!(
                rows,
                "<tr><td colspan=\"4\">Everything in {}, and:</td></tr>",
                type_of(&serde_json::json!({ "$ref": r }))
            );
        }
        let required: Vec<&str> = part
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if let Some(props) = part.get("properties").and_then(Value::as_object) {
            for (prop, ps) in props {
                let _ = write!(
                    rows,
                    "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(prop),
                    type_of(ps),
                    if required.contains(&prop.as_str()) {
                        "yes"
                    } else {
                        "no"
                    },
                    inline(text(ps, "description")),
                );
            }
        }
    }
    if rows.is_empty() {
        let _ = write!(out, "<p>Type: {}</p>", type_of(s));
    } else {
        let _ = write!(
            out,
            "<table class=\"grid\"><thead><tr><th>Field</th><th>Type</th><th>Required</th><th>Description</th></tr></thead><tbody>{rows}</tbody></table>"
        );
    }
    out.push_str("</section>");
    out
}

/// The whole page, from the document.
pub fn render(doc: &Value) -> String {
    let info = &doc["info"];
    let title = text(info, "title");
    let mut body = String::new();
    let _ = write!(body, "<h1>{}</h1>", esc(title));
    let _ = write!(
        body,
        "<p class=\"api-meta\">OpenAPI {} · version {} · <a href=\"{BASE}/openapi.json\">openapi.json</a> · base URL <code>{BASE}</code></p>",
        esc(text(doc, "openapi")),
        esc(text(info, "version")),
    );
    let _ = write!(
        body,
        "<p><strong>{}</strong></p>",
        inline(text(info, "summary"))
    );
    body.push_str(&markdown(text(info, "description")));

    body.push_str("<h2 id=\"authentication\">Authentication</h2><dl class=\"api-auth\">");
    if let Some(schemes) = doc
        .pointer("/components/securitySchemes")
        .and_then(Value::as_object)
    {
        for (name, s) in schemes {
            let how = match (text(s, "type"), text(s, "in")) {
                ("http", _) => "Authorization: Bearer TOKEN".to_string(),
                ("apiKey", "cookie") => format!("Cookie: {}=…", text(s, "name")),
                (t, _) => t.to_string(),
            };
            let _ = write!(
                body,
                "<dt>{} <code>{}</code></dt><dd>{}</dd>",
                esc(name),
                esc(&how),
                inline(text(s, "description"))
            );
        }
    }
    body.push_str("</dl>");

    // Operations grouped by their first tag, in the document's tag order.
    let paths = doc["paths"].as_object().cloned().unwrap_or_default();
    let mut toc = String::from("<nav class=\"api-toc\" aria-label=\"Endpoints\"><ul>");
    let mut sections = String::new();
    let tags: Vec<(String, String)> = doc["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            (
                text(t, "name").to_string(),
                text(t, "description").to_string(),
            )
        })
        .collect();
    for (tag, description) in &tags {
        let mut ops = String::new();
        let mut links = String::new();
        for (path, item) in &paths {
            for method in METHODS {
                let Some(op) = item.get(method) else { continue };
                let first_tag = op
                    .get("tags")
                    .and_then(Value::as_array)
                    .and_then(|t| t.first())
                    .and_then(Value::as_str)
                    .unwrap_or("");
                if first_tag != tag {
                    continue;
                }
                ops.push_str(&render_operation(doc, path, method, item, op));
                let _ = write!(
                    links,
                    "<li><a href=\"#{}\"><span class=\"api-method {method}\">{}</span> {}</a></li>",
                    esc(text(op, "operationId")),
                    method.to_uppercase(),
                    esc(path)
                );
            }
        }
        if ops.is_empty() {
            continue;
        }
        let anchor = format!("tag-{}", tag.to_lowercase());
        let _ = write!(
            toc,
            "<li><a href=\"#{}\">{}</a><ul>{links}</ul></li>",
            esc(&anchor),
            esc(tag)
        );
        let _ = write!(
            sections,
            "<h2 id=\"{}\">{}</h2>{}{ops}",
            esc(&anchor),
            esc(tag),
            markdown(description)
        );
    }
    toc.push_str("<li><a href=\"#responses\">Common responses</a></li><li><a href=\"#schemas\">Schemas</a></li></ul></nav>");
    body.push_str(&toc);
    body.push_str(&sections);

    body.push_str("<h2 id=\"responses\">Common responses</h2><dl class=\"api-responses\">");
    if let Some(responses) = doc
        .pointer("/components/responses")
        .and_then(Value::as_object)
    {
        for (name, r) in responses {
            let _ = write!(
                body,
                "<dt id=\"response-{}\"><strong>{}</strong></dt><dd>{}",
                esc(name),
                esc(name),
                inline(text(r, "description"))
            );
            if let Some(content) = r.get("content").and_then(Value::as_object) {
                render_content(content, true, &mut body);
            }
            body.push_str("</dd>");
        }
    }
    body.push_str("</dl>");

    body.push_str("<h2 id=\"schemas\">Schemas</h2>");
    if let Some(schemas) = doc
        .pointer("/components/schemas")
        .and_then(Value::as_object)
    {
        for (name, s) in schemas {
            body.push_str(&render_schema(name, s));
        }
    }

    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\
         <title>API · Promptly</title>\
         <link rel=\"icon\" type=\"image/svg+xml\" href=\"/favicon.svg\"/>\
         <link rel=\"stylesheet\" href=\"/pkg/promptly.css\"/></head>\
         <body><header class=\"topbar\"><a class=\"brand\" href=\"/\">Promptly</a>\
         <nav aria-label=\"Main\"><ul class=\"nav\"><li><a href=\"/\">Back to the app</a></li></ul></nav></header>\
         <main class=\"page api-docs\">{body}</main></body></html>"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_parses_and_renders() {
        let doc = document().clone();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1."));
        let html = render(&doc);
        assert!(html.contains("/api/v1/openapi.json"));
        assert!(html.contains("id=\"schema-Error\""));
        assert!(!html.contains("<script"));
    }

    #[test]
    fn markup_is_escaped() {
        assert_eq!(inline("a <b> `c&d`"), "a &lt;b&gt; <code>c&amp;d</code>");
        assert_eq!(
            markdown("x\n\n- a\n- b"),
            "<p>x</p><ul><li>a</li><li>b</li></ul>"
        );
    }
}
