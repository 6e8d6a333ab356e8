//! Automation rules over real HTTP: validation with field paths, order, masked webhook
//! secrets, fire counts, roles, and the dry run against an ingested conversation.

use crate::server_support;

use chrono::{Duration, SecondsFormat, Utc};
use promptly::rules::Action;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use server_support::{column, error_fields, TestServer};

fn ago(secs: i64) -> String {
    (Utc::now() - Duration::seconds(secs)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Creates a policy; the first one created becomes the default.
async fn policy(s: &TestServer, t: &str, name: &str, first_response: &str) -> i64 {
    let id = s
        .create_policy(t, json!({"name": name, "first_response": first_response}))
        .await;
    let (_, default) = s.get("/api/v1/settings/default-policy", t).await;
    if default["policy"].is_null() {
        s.set_default_policy(t, id).await;
    }
    id
}

/// The issue's example rule, applying `policy`.
fn bigcorp(policy: i64) -> Value {
    json!({"name": "BigCorp urgent", "enabled": true, "event": "conversation.created", "match": "all",
        "conditions": [{"field": "contact.email", "op": "ends_with", "value": "@bigcorp.com"},
                       {"field": "priority", "op": "is", "value": "urgent"}],
        "actions": [{"type": "apply_policy", "policy": policy}], "stop": false})
}

fn named(name: &str) -> Value {
    json!({"name": name, "event": "message.created", "actions": [{"type": "add_label", "label": name}]})
}

async fn create(s: &TestServer, t: &str, body: Value) -> Value {
    s.create("/api/v1/rules", t, body).await
}

/// The webhook secret of a stored rule's first webhook action.
async fn stored_secret(s: &TestServer, id: i64) -> String {
    let rule = s.store.rule(id).await.unwrap().unwrap();
    rule.definition
        .actions
        .iter()
        .find_map(|a| match a {
            Action::Webhook { secret, .. } => Some(secret.clone()),
            _ => None,
        })
        .unwrap()
}

#[tokio::test]
async fn rules_are_validated_with_paths_ordered_and_counted() {
    let s = TestServer::start().await;
    let t = s.token().await;
    let pid = policy(&s, &t, "Standard", "1h").await;

    let rule = create(&s, &t, bigcorp(pid)).await;
    let id = rule["id"].as_i64().unwrap();
    assert_eq!(rule["name"], "BigCorp urgent");
    assert_eq!(rule["event"], "conversation.created");
    assert_eq!(rule["match"], "all");
    assert_eq!(rule["position"], 0);
    assert_eq!(rule["fired_today"], 0);
    assert_eq!(rule["conditions"][0]["value"], "@bigcorp.com");
    assert_eq!(
        rule["actions"][0],
        json!({"type": "apply_policy", "policy": pid})
    );
    let (status, one) = s.get(&format!("/api/v1/rules/{id}"), &t).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one, rule);

    // Every problem, each with its path.
    let mut bad = bigcorp(9999);
    bad["conditions"][0]["field"] = json!("contact.shoe_size");
    bad["conditions"][1]["op"] = json!("near");
    let body = s.post_refused("/api/v1/rules", &t, bad).await;
    assert_eq!(
        error_fields(&body),
        vec![
            "conditions[0].field",
            "conditions[1].op",
            "actions[0].policy"
        ],
        "{body}"
    );
    let body = s.post_refused("/api/v1/rules", &t, json!([1])).await;
    assert_eq!(error_fields(&body), vec!["body"], "{body}");
    let (status, body) = s
        .put(&format!("/api/v1/rules/{id}"), &t, bigcorp(9999))
        .await;
    // Only a missing policy is wrong: 404, naming the field.
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_fields(&body), vec!["actions[0].policy"]);
    let (status, _) = s.put("/api/v1/rules/9999", &t, bigcorp(pid)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // New rules go last; an edit keeps the place.
    let b = create(&s, &t, named("B")).await["id"].as_i64().unwrap();
    let c = create(&s, &t, named("C")).await["id"].as_i64().unwrap();
    let mut renamed = bigcorp(pid);
    renamed["name"] = json!("BigCorp");
    let (status, edited) = s.put(&format!("/api/v1/rules/{id}"), &t, renamed).await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(edited["position"], 0);
    let (_, list) = s.get("/api/v1/rules", &t).await;
    assert_eq!(column(&list, "name"), json!(["BigCorp", "B", "C"]));

    // Reordering, in both body forms; a list that is not the current rules' ids is stale
    // (409), one that is not a list of ids is a 422 on `ids`.
    let (status, list) = s
        .post("/api/v1/rules/order", &t, json!({"ids": [c, id, b]}))
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(column(&list, "name"), json!(["C", "BigCorp", "B"]));
    assert_eq!(list[2]["position"], 2);
    let (status, list) = s.post("/api/v1/rules/order", &t, json!([b, c, id])).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(column(&list, "name"), json!(["B", "C", "BigCorp"]));
    for stale in [
        json!({"ids": [b, c]}),
        json!({"ids": [b, c, id, id]}),
        json!([b, c, 9999]),
    ] {
        let (status, body) = s.post("/api/v1/rules/order", &t, stale.clone()).await;
        assert_eq!(status, StatusCode::CONFLICT, "{stale}: {body}");
    }
    let body = s
        .post_refused("/api/v1/rules/order", &t, json!({"ids": "all"}))
        .await;
    assert_eq!(error_fields(&body), vec!["ids"], "{body}");
    let (_, list) = s.get("/api/v1/rules", &t).await;
    assert_eq!(
        column(&list, "name"),
        json!(["B", "C", "BigCorp"]),
        "nothing moved"
    );

    // Fired today: runs since midnight UTC.
    let now = Utc::now();
    for (rule, conversation, at) in [(c, 1, now), (c, 2, now), (b, 1, now - Duration::days(2))] {
        s.store
            .record_rule_run(rule, conversation, "message.created", at)
            .await
            .unwrap();
    }
    let (_, list) = s.get("/api/v1/rules", &t).await;
    assert_eq!(column(&list, "fired_today"), json!([0, 2, 0]));

    // Deleting.
    let path = format!("/api/v1/rules/{c}");
    assert_eq!(
        s.send(Method::DELETE, &path, &t, None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(s.get(&path, &t).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        s.send(Method::DELETE, &path, &t, None).await.0,
        StatusCode::NOT_FOUND
    );
    let (_, list) = s.get("/api/v1/rules", &t).await;
    assert_eq!(column(&list, "name"), json!(["B", "BigCorp"]));
}

#[tokio::test]
async fn webhook_secrets_are_masked_and_kept() {
    let s = TestServer::start().await;
    let t = s.token().await;
    let hook = |url: &str, secret: &str| {
        json!({"name": "Hook", "event": "sla.breached",
            "actions": [{"type": "webhook", "url": url, "secret": secret}]})
    };
    let rule = create(&s, &t, hook("https://hooks.example/a", "s3cret")).await;
    let id = rule["id"].as_i64().unwrap();
    assert_eq!(rule["actions"][0]["secret"], "********");
    let path = format!("/api/v1/rules/{id}");
    let (_, one) = s.get(&path, &t).await;
    assert_eq!(one["actions"][0]["secret"], "********");
    let (_, list) = s.get("/api/v1/rules", &t).await;
    assert_eq!(list[0]["actions"][0]["secret"], "********");
    assert!(!list.to_string().contains("s3cret"));
    assert_eq!(stored_secret(&s, id).await, "s3cret");

    // Sending the mask back keeps the secret.
    let mut renamed = one.clone();
    renamed["name"] = json!("Hook 2");
    for key in ["id", "position", "fired_today", "created_at", "updated_at"] {
        renamed.as_object_mut().unwrap().remove(key);
    }
    let (status, body) = s.put(&path, &t, renamed).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["name"], "Hook 2");
    assert_eq!(stored_secret(&s, id).await, "s3cret");
    // A new URL needs its secret (the mask names none: 404 with the field); a new secret
    // replaces the old one.
    let (status, body) = s
        .put(&path, &t, hook("https://elsewhere.example/b", "********"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_fields(&body), vec!["actions[0].secret"]);
    let (status, _) = s
        .put(&path, &t, hook("https://hooks.example/a", "n3w"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stored_secret(&s, id).await, "n3w");
    // A new rule cannot borrow a secret it does not have.
    let (status, body) = s
        .post(
            "/api/v1/rules",
            &t,
            hook("https://hooks.example/a", "********"),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_fields(&body), vec!["actions[0].secret"]);
}

#[tokio::test]
async fn only_admins_read_dry_run_and_change_rules() {
    let s = TestServer::start().await;
    let t = s.token().await;
    let id = create(&s, &t, named("A")).await["id"].as_i64().unwrap();
    let created = s.api_token(&t, "agent", "agent").await;
    let agent = created["token"].as_str().unwrap().to_string();

    // Rules carry webhook URLs, which are often credentials: agents neither read nor run
    // them.
    let path = format!("/api/v1/rules/{id}");
    let test = format!("/api/v1/rules/{id}/test");
    for (method, path, body) in [
        (Method::GET, "/api/v1/rules", None),
        (Method::GET, path.as_str(), None),
        (
            Method::POST,
            test.as_str(),
            Some(json!({"conversation": "x"})),
        ),
        (Method::POST, "/api/v1/rules", Some(named("B"))),
        (Method::PUT, path.as_str(), Some(named("B"))),
        (Method::DELETE, path.as_str(), None),
        (Method::POST, "/api/v1/rules/order", Some(json!([id]))),
    ] {
        let (status, _) = s.send(method.clone(), path, &agent, body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}");
    }
    let (_, list) = s.get("/api/v1/rules", &t).await;
    assert_eq!(column(&list, "name"), json!(["A"]), "nothing changed");

    // Without a token: 401; with an admin's session cookie: readable.
    assert_eq!(
        s.get("/api/v1/rules", "pt_nope").await.0,
        StatusCode::UNAUTHORIZED
    );
    let cookie = s.login("admin@t.io", "admin-pass-1").await;
    let r = s.cookie_get("/api/v1/rules", &cookie).await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_dry_run_explains_a_rule_on_a_stored_conversation() {
    let s = TestServer::start().await;
    let t = s.token().await;
    let standard = policy(&s, &t, "Standard", "10m").await;
    let vip = policy(&s, &t, "VIP", "5m").await;
    let cal = s
        .create(
            "/api/v1/calendars",
            &t,
            json!({"name": "Always", "timezone": "UTC",
            "hours": {"mon": ["00:00-24:00"], "tue": ["00:00-24:00"], "wed": ["00:00-24:00"],
                      "thu": ["00:00-24:00"], "fri": ["00:00-24:00"], "sat": ["00:00-24:00"],
                      "sun": ["00:00-24:00"]}}),
        )
        .await;
    let always = cal["id"].as_i64().unwrap();

    let (status, reply) = s
        .post("/api/v1/events", &t, json!({"events": [
            {"id": "b1", "type": "conversation.created", "conversation": "big-1", "channel": "email",
             "contact": {"name": "Ann", "email": "ann@bigcorp.com"}, "priority": "urgent", "at": ago(120)},
            {"id": "b2", "type": "message.created", "conversation": "big-1", "author": "customer",
             "text": "I need a refund, please", "at": ago(120)},
            {"id": "s1", "type": "conversation.created", "conversation": "small-1", "channel": "sms",
             "contact": {"email": "bob@other.example"}, "priority": "normal", "at": ago(60)},
        ]}))
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");

    let rule = create(&s, &t, bigcorp(vip)).await["id"].as_i64().unwrap();
    let test = format!("/api/v1/rules/{rule}/test");
    let (status, run) = s.post(&test, &t, json!({"conversation": "big-1"})).await;
    assert_eq!(status, StatusCode::OK, "{run}");
    assert_eq!(run["rule"], rule);
    let big = run["conversation"].as_i64().unwrap();
    let e = &run["explanation"];
    assert_eq!(e["event"]["event"], "conversation.created");
    assert_eq!(e["listens"], true);
    assert_eq!(e["conditions"][0]["seen"], "ann@bigcorp.com");
    assert_eq!(e["conditions"][0]["matched"], true);
    assert_eq!(e["conditions"][1]["seen"], "urgent");
    assert_eq!(e["conditions"][1]["matched"], true);
    assert_eq!(e["would_fire"], true);
    assert_eq!(e["actions"][0]["policy"], vip);
    assert_eq!(run["would_apply"]["state"]["policy"], vip);
    assert_eq!(run["would_apply"]["state"]["priority"], "urgent");
    assert_eq!(run["would_apply"]["effects"], json!([]));
    // By Promptly's id too, as a number or as text.
    for conversation in [json!(big), json!(big.to_string())] {
        let (status, again) = s
            .post(&test, &t, json!({"conversation": conversation}))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(again["conversation"], big);
    }

    let (status, run) = s.post(&test, &t, json!({"conversation": "small-1"})).await;
    assert_eq!(status, StatusCode::OK, "{run}");
    let e = &run["explanation"];
    assert_eq!(e["conditions"][0]["seen"], "bob@other.example");
    assert_eq!(e["conditions"][0]["matched"], false);
    assert_eq!(e["conditions"][1]["matched"], false);
    assert_eq!(e["would_fire"], false);
    assert_eq!(e["actions"], json!([]));
    assert_eq!(
        run["would_apply"]["state"]["policy"], standard,
        "nothing would change"
    );

    // A message rule sees the latest message; messages and webhooks are listed, secrets masked.
    let refund = create(
        &s,
        &t,
        json!({"name": "Refunds", "event": "message.created",
        "conditions": [{"field": "message.text", "op": "contains", "value": "refund"},
                       {"field": "business_hours", "op": "open", "value": always}],
        "actions": [{"type": "add_label", "label": "refund"},
                    {"type": "send_message", "template": "Hi {{contact.name}}, we are on it."},
                    {"type": "webhook", "url": "https://hooks.example/r", "secret": "s3cret"}]}),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let (status, run) = s
        .post(
            &format!("/api/v1/rules/{refund}/test"),
            &t,
            json!({"conversation": "big-1"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{run}");
    let e = &run["explanation"];
    assert_eq!(e["conditions"][0]["seen"], "I need a refund, please");
    assert_eq!(e["conditions"][1]["seen"], "open");
    assert_eq!(e["would_fire"], true, "{run}");
    assert_eq!(e["actions"][2]["secret"], "********");
    assert_eq!(run["would_apply"]["state"]["labels"], json!(["refund"]));
    let effects = &run["would_apply"]["effects"];
    assert_eq!(effects[0]["type"], "send_message");
    assert_eq!(effects[0]["text"], "Hi Ann, we are on it.");
    assert_eq!(effects[1]["type"], "webhook");
    assert_eq!(effects[1]["secret"], "********");
    assert!(!run.to_string().contains("s3cret"));

    // An SLA rule is explained for the metric asked (first response by default).
    let late = create(
        &s,
        &t,
        json!({"name": "Late resolution", "event": "sla.breached",
        "conditions": [{"field": "sla.metric", "op": "is", "value": "resolution"}],
        "actions": [{"type": "set_priority", "priority": "high"}]}),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let late = format!("/api/v1/rules/{late}/test");
    let (_, run) = s.post(&late, &t, json!({"conversation": "small-1"})).await;
    assert_eq!(run["explanation"]["event"]["metric"], "first_response");
    assert_eq!(run["explanation"]["would_fire"], false);
    let (_, run) = s
        .post(
            &late,
            &t,
            json!({"conversation": "small-1", "metric": "resolution"}),
        )
        .await;
    assert_eq!(run["explanation"]["would_fire"], true, "{run}");
    assert_eq!(run["would_apply"]["state"]["priority"], "high");

    // Nothing changed, and unknown things are 404 or 422.
    let (_, c) = s.get("/api/v1/conversations/big-1", &t).await;
    assert_eq!(c["policy_id"], standard);
    assert_eq!(c["labels"], json!([]));
    let (status, _) = s.post(&test, &t, json!({"conversation": "nope"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = s
        .post(
            "/api/v1/rules/9999/test",
            &t,
            json!({"conversation": "big-1"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let body = s
        .post_refused(&test, &t, json!({"metric": "speed", "extra": 1}))
        .await;
    assert_eq!(error_fields(&body), vec!["extra", "conversation", "metric"]);
}
