//! The rules page over real HTTP: the builder's form creates and edits rules through the
//! API's validation (field errors come back next to their rows, what was typed stays,
//! masked webhook secrets keep the stored ones), rules are enabled, disabled, moved and
//! deleted (with a confirm step), the dry run shows what a rule would do and changes
//! nothing, and only admins get any of it.

use crate::server_support;

use reqwest::StatusCode;
use serde_json::json;
use server_support::{as_form, query, TestServer};

/// The issue's conditions as the builder's rows: the contact's e-mail ends with
/// `@bigcorp.com` and the priority is urgent.
const BIGCORP_URGENT: [(&str, &str); 6] = [
    ("c0_field", "contact.email"),
    ("c0_op", "ends_with"),
    ("c0_value", "@bigcorp.com"),
    ("c1_field", "priority"),
    ("c1_op", "is"),
    ("c1_value", "urgent"),
];

/// Creates a rule with the builder's form, which says so.
async fn create_rule(s: &TestServer, admin: &str, form: &[(&str, &str)]) {
    let to = s.form_redirect(admin, "/rules", form).await;
    assert_eq!(query(&to, "notice").as_deref(), Some("created"), "{to}");
}

async fn premium(s: &TestServer) -> i64 {
    let t = s.token().await;
    s.create_policy(&t, json!({"name": "Premium", "first_response": "20s"}))
        .await
}

async fn names(s: &TestServer) -> Vec<String> {
    s.store
        .list_rules()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.definition.name)
        .collect()
}

#[tokio::test]
async fn the_builder_creates_edits_and_refuses_with_errors_by_row() {
    let (s, admin) = TestServer::start_as_admin().await;
    let policy = premium(&s).await.to_string();

    // An empty name, an op that does not fit its field, and no policy: each error is on its
    // place, nothing is stored, and what was typed comes back (empty rows dropped).
    let bad: &[(&str, &str)] = &[
        ("name", ""),
        ("enabled", "on"),
        ("event", "conversation.created"),
        ("match", "all"),
        ("c0_field", ""),
        ("c0_op", ""),
        ("c0_value", ""),
        ("c1_field", "contact.email"),
        ("c1_op", "open"),
        ("c1_value", "@bigcorp.com"),
        ("a0_type", "apply_policy"),
        ("a0_policy", ""),
        ("a1_type", "webhook"),
        ("a1_url", "https://hooks.example/h"),
        ("a1_secret", "typed-secret"),
    ];
    // The answer is the page itself (422, no redirect), rendered from what was sent.
    let html = s.form_refused(&admin, "/rules", bad).await;
    assert!(
        !html.contains("typed-secret"),
        "a typed secret is not sent back"
    );
    assert!(s.store.list_rules().await.unwrap().is_empty());
    assert!(html.contains(r#"data-field="name""#), "the name's error");
    assert!(html.contains(r#"data-field="conditions[0].op""#));
    assert!(html.contains(r#"data-field="actions[0].policy""#));
    assert!(
        html.contains(r#"value="@bigcorp.com""#),
        "what was typed is kept"
    );

    // The issue's rule.
    let good = [
        &[
            ("name", "BigCorp urgent"),
            ("enabled", "on"),
            ("event", "conversation.created"),
            ("after", "30m"),
            ("match", "all"),
        ][..],
        &BIGCORP_URGENT,
        &[
            ("c2_field", ""),
            ("a0_type", "apply_policy"),
            ("a0_policy", &policy),
            ("a1_type", "webhook"),
            ("a1_url", "https://hooks.example/h"),
            ("a1_secret", "s3cret"),
            ("a2_type", ""),
        ],
    ]
    .concat();
    create_rule(&s, &admin, &good).await;
    let rules = s.store.list_rules().await.unwrap();
    assert_eq!(rules.len(), 1);
    let rule = &rules[0];
    let body = serde_json::to_value(&rule.definition).unwrap();
    assert_eq!(
        body,
        json!({"name": "BigCorp urgent", "enabled": true, "event": "conversation.created",
               "match": "all", "stop": false,
               "conditions": [{"field": "contact.email", "op": "ends_with", "value": "@bigcorp.com"},
                              {"field": "priority", "op": "is", "value": "urgent"}],
               "actions": [{"type": "apply_policy", "policy": policy.parse::<i64>().unwrap()},
                           {"type": "webhook", "url": "https://hooks.example/h", "secret": "s3cret"}]}),
        "`after` is ignored for other events than sla.overdue"
    );
    let html = s.page(&admin, "/rules").await;
    assert!(html.contains(r#"data-name="BigCorp urgent""#));
    assert!(html.contains(
        "When contact.email ends with “@bigcorp.com” and priority is “urgent” → apply policy Premium"
    ));
    assert!(!html.contains("s3cret"), "secrets never reach the page");

    // The edit view shows the rule's rows, the secret masked; saving it with the mask keeps
    // the stored secret.
    let id = rule.id;
    let html = s.page(&admin, &format!("/rules?edit={id}")).await;
    assert!(html.contains(&format!(r#"action="/rules?edit={id}""#)));
    assert!(html.contains(r#"value="********""#));
    assert!(!html.contains("s3cret"));
    let mut edited = good.clone();
    edited[0] = ("name", "BigCorp urgent v2");
    edited[16] = ("a1_secret", "********");
    let to = s
        .form_redirect(&admin, &format!("/rules?edit={id}"), &edited)
        .await;
    assert_eq!(query(&to, "notice").as_deref(), Some("updated"), "{to}");
    let stored = s.store.rule(id).await.unwrap().unwrap();
    assert_eq!(stored.definition.name, "BigCorp urgent v2");
    assert_eq!(
        serde_json::to_value(&stored.definition.actions[1]).unwrap()["secret"],
        "s3cret"
    );

    // An sla.overdue rule keeps its level; enabling and disabling flips only that.
    let overdue: &[(&str, &str)] = &[
        ("name", "Late"),
        ("event", "sla.overdue"),
        ("after", "30m"),
        ("a0_type", "remove_owner"),
    ];
    create_rule(&s, &admin, overdue).await;
    let late = s.store.list_rules().await.unwrap().remove(1);
    assert!(!late.definition.enabled, "an unticked box is disabled");
    assert_eq!(late.definition.after.unwrap().to_string(), "30m");
    let to = s
        .form_redirect(&admin, &format!("/rules/{}/toggle", late.id), &[])
        .await;
    assert_eq!(query(&to, "notice").as_deref(), Some("enabled"), "{to}");
    assert!(
        s.store
            .rule(late.id)
            .await
            .unwrap()
            .unwrap()
            .definition
            .enabled
    );
    let html = s.page(&admin, "/rules").await;
    assert!(html.contains("sla.overdue after 30m"));
}

#[tokio::test]
async fn rules_move_up_and_down_and_delete_after_a_confirm() {
    let (s, admin) = TestServer::start_as_admin().await;
    for name in ["A", "B", "C"] {
        create_rule(
            &s,
            &admin,
            &[
                ("name", name),
                ("enabled", "on"),
                ("event", "message.created"),
                ("a0_type", "add_label"),
                ("a0_text", "x"),
            ],
        )
        .await;
    }
    let ids: Vec<i64> = s
        .store
        .list_rules()
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    for (id, dir, expected) in [
        (ids[2], "up", ["A", "C", "B"]),
        (ids[0], "down", ["C", "A", "B"]),
        // At the top, up changes nothing.
        (ids[2], "up", ["C", "A", "B"]),
    ] {
        let to = s
            .form_redirect(&admin, &format!("/rules/{id}/move"), &[("dir", dir)])
            .await;
        assert_eq!(query(&to, "notice").as_deref(), Some("moved"), "{to}");
        assert_eq!(names(&s).await, expected, "{id} {dir}");
    }
    let html = s.page(&admin, "/rules").await;
    let (c, a) = (
        html.find(r#"data-name="C""#).unwrap(),
        html.find(r#"data-name="A""#).unwrap(),
    );
    assert!(c < a, "the page lists them in order");

    // Delete asks first (a page without JavaScript), then deletes.
    assert!(!html.contains("Confirm delete"));
    let html = s.page(&admin, &format!("/rules?delete={}", ids[1])).await;
    assert!(html.contains("Delete “B”?"));
    assert!(html.contains(&format!(r#"action="/rules/{}/delete""#, ids[1])));
    let delete = format!("/rules/{}/delete", ids[1]);
    let to = s.form_redirect(&admin, &delete, &[]).await;
    assert_eq!(query(&to, "notice").as_deref(), Some("deleted"), "{to}");
    assert_eq!(names(&s).await, ["C", "A"]);
    let to = s.form_redirect(&admin, &delete, &[]).await;
    assert_eq!(query(&to, "error").as_deref(), Some("not_found"), "{to}");
}

#[tokio::test]
async fn the_dry_run_shows_each_condition_and_changes_nothing() {
    let (s, admin) = TestServer::start_as_admin().await;
    let policy = premium(&s).await.to_string();
    // Disabled, so that the automation worker leaves the conversations alone.
    let rule = [
        &[
            ("name", "BigCorp urgent"),
            ("event", "conversation.created"),
        ][..],
        &BIGCORP_URGENT,
        &[
            ("a0_type", "apply_policy"),
            ("a0_policy", &policy),
            ("a1_type", "send_message"),
            ("a1_template", "Hello {{contact.name}}"),
        ],
    ]
    .concat();
    create_rule(&s, &admin, &rule).await;
    let id = s.store.list_rules().await.unwrap()[0].id;
    let t = s.token().await;
    let (status, body) = s
        .post(
            "/api/v1/events",
            &t,
            json!({"events": [
                {"id": "b1", "type": "conversation.created", "conversation": "big-1", "channel": "email",
                 "contact": {"name": "Ann", "email": "ann@bigcorp.com"}, "priority": "urgent"},
                {"id": "s1", "type": "conversation.created", "conversation": "small-1", "channel": "sms",
                 "contact": {"email": "bob@other.example"}, "priority": "urgent"}]}),
        )
        .await;
    assert!(status.is_success(), "{body}");
    let before = s
        .store
        .conversation_by_external_id("test", "big-1")
        .await
        .unwrap();

    let html = s
        .page(&admin, &format!("/rules?edit={id}&test=big-1"))
        .await;
    assert!(html.contains("Test against conversation"));
    assert!(html.contains("It would fire."), "{html}");
    assert!(html.contains("The rule is disabled"));
    assert!(html.contains("“ann@bigcorp.com”"), "what the condition saw");
    assert!(html.contains("apply policy Premium"));
    assert!(html.contains("Message to the customer: “Hello Ann”"));

    let html = s
        .page(&admin, &format!("/rules?edit={id}&test=small-1"))
        .await;
    assert!(html.contains("It would not fire: the conditions do not match."));
    assert!(html.contains("“bob@other.example”"));

    let html = s.page(&admin, &format!("/rules?edit={id}&test=nope")).await;
    assert!(html.contains("No conversation “nope”"));

    let after = s
        .store
        .conversation_by_external_id("test", "big-1")
        .await
        .unwrap();
    assert_eq!(
        format!("{before:?}"),
        format!("{after:?}"),
        "the dry run changes nothing"
    );
}

#[tokio::test]
async fn only_admins_see_and_use_the_rules_page() {
    let (s, admin, agent) = TestServer::start_with_agent().await;
    create_rule(
        &s,
        &admin,
        &[
            ("name", "Mine"),
            ("event", "message.created"),
            ("a0_type", "remove_owner"),
        ],
    )
    .await;
    let id = s.store.list_rules().await.unwrap()[0].id;
    let r = s.cookie_get("/rules", &agent).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    for path in [
        "/rules".to_string(),
        format!("/rules?edit={id}"),
        format!("/rules/{id}/toggle"),
        format!("/rules/{id}/move"),
        format!("/rules/{id}/delete"),
    ] {
        let r = s
            .form_post(&agent, &path, &[("name", "x"), ("dir", "up")])
            .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "POST {path}");
    }
    // A cross-site post with the admin's cookie is refused too.
    let r = s
        .form_post_from(
            "https://evil.example",
            &admin,
            &format!("/rules/{id}/delete"),
            &[],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let rules = s.store.list_rules().await.unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].definition.name, "Mine");
    assert!(!rules[0].definition.enabled);
}

#[tokio::test]
async fn a_failed_edit_keeps_a_long_template_whole() {
    let (s, admin) = TestServer::start_as_admin().await;
    let form = |template: &str| -> Vec<(&'static str, String)> {
        vec![
            ("name", "Greeting".into()),
            ("enabled", "on".into()),
            ("event", "conversation.created".into()),
            ("match", "all".into()),
            ("a0_type", "send_message".into()),
            ("a0_template", template.to_string()),
        ]
    };
    create_rule(&s, &admin, &as_form(&form("Hello {{contact.name}}"))).await;
    let id = s.store.list_rules().await.unwrap()[0].id;

    // A 3,900-character template (the limit is 4,000) with an unknown placeholder: the
    // edit view comes back at its own URL, the template whole, the error beside it.
    let long = format!("{}{{{{nope}}}}", "Thanks for writing to us. ".repeat(150));
    assert!(long.len() > 3_800 && long.len() < 4_000);
    let html = s
        .form_refused(&admin, &format!("/rules?edit={id}"), &as_form(&form(&long)))
        .await;
    assert!(html.contains(&long), "the template comes back whole");
    assert!(
        html.contains(r#"data-field="actions[0].template""#),
        "{html}"
    );
    assert_eq!(
        s.store.rule(id).await.unwrap().unwrap().definition.name,
        "Greeting"
    );
}
