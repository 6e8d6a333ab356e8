//! The Channels page with its forms (no JavaScript): an admin adds an account (field errors
//! shown on the page, nothing stored), edits it keeping the masked secrets, sends a test
//! message through its own webhook (a test conversation that compliance leaves out), and
//! deletes it after a confirm step.

use crate::server_support::{location, query, TestServer};
use reqwest::StatusCode;
use serde_json::{json, Value};

const CREATE: &[(&str, &str)] = &[
    ("kind", "whatsapp"),
    ("name", "Support line"),
    ("settings.phone_number_id", "106540352242922"),
    ("settings.verify_token", "verify-me"),
    ("settings.app_secret", "app-secret-1"),
    ("settings.access_token", "EAAG-token-1"),
    ("settings.template", ""),
    ("settings.api_base", ""),
];

async fn accounts(s: &TestServer, cookie: &str) -> Vec<Value> {
    let r = s.cookie_get("/api/v1/channel-accounts", cookie).await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json::<Value>().await.unwrap().as_array().unwrap().clone()
}

#[tokio::test]
async fn an_admin_adds_edits_tests_and_deletes_an_account_on_the_page() {
    let (s, admin) = TestServer::start_as_admin().await;
    let html = s.page(&admin, "/channels").await;
    assert!(html.contains("No channel accounts yet"), "{html}");
    assert!(html.contains("href=\"/channels?kind=messenger\""));
    assert!(
        html.contains("name=\"settings.phone_number_id\""),
        "WhatsApp by default"
    );
    let html = s.page(&admin, "/channels?kind=x").await;
    assert!(html.contains("name=\"settings.consumer_secret\""));
    assert!(!html.contains("name=\"settings.phone_number_id\""));

    // Bad fields: the page again (422) with each error and what was typed; nothing stored.
    let mut bad = CREATE.to_vec();
    bad[1] = ("name", " ");
    bad[2] = ("settings.phone_number_id", "12a");
    bad[5] = ("settings.access_token", "");
    let html = s.form_refused(&admin, "/channels", &bad).await;
    for field in ["name", "settings.phone_number_id", "settings.access_token"] {
        assert!(
            html.contains(&format!("data-field=\"{field}\"")),
            "{field}: {html}"
        );
    }
    assert!(html.contains("value=\"12a\""), "typed values stay");
    assert!(accounts(&s, &admin).await.is_empty(), "nothing stored");

    // Added: back to the page, which lists it with its webhook URL.
    let to = s.form_redirect(&admin, "/channels", CREATE).await;
    assert_eq!(query(&to, "notice").as_deref(), Some("created"));
    let listed = accounts(&s, &admin).await;
    let id = listed[0]["id"].as_i64().unwrap();
    let html = s.page(&admin, &to).await;
    assert!(
        html.contains(&format!("value=\"/hooks/whatsapp/{id}\"")),
        "{html}"
    );
    assert!(html.contains("No webhook received yet"));

    // Edited with the secrets as shown (masked): they stay; the name changes.
    let html = s.page(&admin, &format!("/channels?edit={id}")).await;
    assert!(html.contains("value=\"********\""), "secrets shown masked");
    assert!(!html.contains("app-secret-1"), "never in clear");
    let mut edit = CREATE.to_vec();
    edit[1] = ("name", "Support line (NL)");
    for f in &mut edit[3..6] {
        f.1 = "********";
    }
    let to = s
        .form_redirect(&admin, &format!("/channels?edit={id}"), &edit)
        .await;
    assert_eq!(query(&to, "notice").as_deref(), Some("updated"));
    let r = s
        .client
        .get(s.url(&format!(
            "/hooks/whatsapp/{id}?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=42"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "the verify token was kept");
    assert_eq!(accounts(&s, &admin).await[0]["name"], "Support line (NL)");

    // A test message: signed with the stored secret, through the account's own webhook.
    let to = s
        .form_redirect(&admin, &format!("/channels/{id}/test"), &[])
        .await;
    assert_eq!(query(&to, "notice").as_deref(), Some("tested"), "{to}");
    let conversation: i64 = query(&to, "conversation").unwrap().parse().unwrap();
    let r = s
        .cookie_get(&format!("/api/v1/conversations/{conversation}"), &admin)
        .await;
    let c: Value = r.json().await.unwrap();
    assert_eq!(c["external_id"], "wa:106540352242922:0", "{c}");
    assert_eq!(c["labels"], json!(["channel-test"]), "{c}");
    assert_eq!(c["contact"]["name"], "Promptly test");
    assert_eq!(accounts(&s, &admin).await[0]["health"]["webhooks"], 1);
    let html = s.page(&admin, &to).await;
    assert!(html.contains(&format!("href=\"/conversations/{conversation}\"")));

    // Left out of compliance: a contract that covers every WhatsApp conversation sees none.
    let t = s.token().await;
    let (status, contract) = s
        .post(
            "/api/v1/contracts",
            &t,
            json!({
                "name": "Everything on WhatsApp", "counterparty_kind": "client",
                "counterparty": "Us", "service_description": "Chat", "review_date": "2027-01-31",
                "scope": {"channels": ["whatsapp"]},
                "metrics": [{"kind": "asa", "target": 30, "period": "month"}],
                "remedies": {"fee_per_period": 0, "credit_per_point": 0, "credit_cap": 0,
                             "bonus_per_point": 0, "bonus_cap": 0, "currency": "EUR"}
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{contract}");
    let cid = contract["id"].as_i64().unwrap();
    let period = s.now().format("%Y-%m").to_string();
    let figures = s
        .get_ok(
            &format!("/api/v1/contracts/{cid}/compliance?period={period}"),
            &t,
        )
        .await;
    assert_eq!(figures["conversations"], 0, "{figures}");
    // The label alone, set through the events API, takes no real conversation out.
    let at = s.now().to_rfc3339();
    let (status, r) = s
        .post(
            "/api/v1/events",
            &t,
            json!({"events": [{"id": "real-1", "conversation": "real", "at": at,
                "type": "conversation.created", "channel": "whatsapp", "labels": ["channel-test"]}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    let figures = s
        .get_ok(
            &format!("/api/v1/contracts/{cid}/compliance?period={period}"),
            &t,
        )
        .await;
    assert_eq!(figures["conversations"], 1, "{figures}");
    // A reply to the test's customer stays in Promptly: there is no one to send it to.
    let (status, reply) = s
        .post(
            &format!("/api/v1/conversations/{conversation}/messages"),
            &t,
            json!({"text": "Hello test"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    assert_eq!(reply["sent"], false);

    // Deleted after a confirm step; its webhooks are refused from then on.
    let html = s.page(&admin, &format!("/channels?delete={id}")).await;
    assert!(html.contains(&format!("action=\"/channels/{id}/delete\"")));
    assert!(html.contains("Confirm delete"));
    let to = s
        .form_redirect(&admin, &format!("/channels/{id}/delete"), &[])
        .await;
    assert_eq!(query(&to, "notice").as_deref(), Some("deleted"));
    assert!(accounts(&s, &admin).await.is_empty());
    let r = s
        .form_post(&admin, &format!("/channels/{id}/test"), &[])
        .await;
    assert_eq!(location(&r), "/channels?error=not_found");
}

#[tokio::test]
async fn a_test_message_comes_through_every_kind_of_account() {
    let (s, admin) = TestServer::start_as_admin().await;
    let t = s.token().await;
    let kinds = [
        (
            "messenger",
            json!({"page_id": "42", "verify_token": "v", "app_secret": "fb-secret",
                   "page_access_token": "p"}),
            "fb:42:0",
        ),
        (
            "instagram",
            json!({"account_id": "17", "verify_token": "v", "app_secret": "ig-secret",
                   "access_token": "a"}),
            "ig:17:0",
        ),
        (
            "x",
            json!({"user_id": "4337", "consumer_secret": "x-secret", "access_token": "a"}),
            "x:4337:dm:0",
        ),
    ];
    for (kind, settings, external) in kinds {
        let (status, a) = s
            .post(
                "/api/v1/channel-accounts",
                &t,
                json!({"kind": kind, "name": kind, "settings": settings}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{a}");
        let to = s
            .form_redirect(&admin, &format!("/channels/{}/test", a["id"]), &[])
            .await;
        assert_eq!(
            query(&to, "notice").as_deref(),
            Some("tested"),
            "{kind}: {to}"
        );
        let id = query(&to, "conversation").unwrap();
        let c = s.get_ok(&format!("/api/v1/conversations/{id}"), &t).await;
        assert_eq!(c["external_id"], external);
        assert_eq!(c["labels"], json!(["channel-test"]));
        assert_eq!(c["last_author"], "customer");
    }
}
