//! Channel accounts over HTTP: settings checked by kind with their paths, secrets masked
//! and kept when sent back masked, the webhook URL, the kind fixed, removal, the audit log.

use crate::server_support::{error_fields, TestServer};
use reqwest::StatusCode;
use serde_json::json;

fn whatsapp() -> serde_json::Value {
    json!({"kind": "whatsapp", "name": "Support line", "settings": {
        "phone_number_id": "106540352242922", "verify_token": "verify-me",
        "app_secret": "app-secret-1", "access_token": "EAAG-token-1"}})
}

#[tokio::test]
async fn accounts_are_checked_masked_edited_and_removed() {
    let s = TestServer::start().await;
    let t = s.token().await;
    let (status, a) = s.post("/api/v1/channel-accounts", &t, whatsapp()).await;
    assert_eq!(status, StatusCode::CREATED, "{a}");
    let id = a["id"].as_i64().unwrap();
    assert_eq!(a["kind"], "whatsapp");
    assert_eq!(a["settings"]["app_secret"], "********");
    assert_eq!(a["settings"]["access_token"], "********");
    assert_eq!(a["settings"]["phone_number_id"], "106540352242922");
    assert_eq!(
        a["settings"]["api_base"], "https://graph.facebook.com/v21.0",
        "the real API by default"
    );
    assert_eq!(a["webhook_url"], format!("/hooks/whatsapp/{id}"));
    assert_eq!(a["health"]["webhooks"], 0);
    let (_, listed) = s.get("/api/v1/channel-accounts", &t).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["settings"]["verify_token"], "********");

    // Bad settings, each named; an unknown kind; nothing stored.
    let body = s
        .post_refused(
            "/api/v1/channel-accounts",
            &t,
            json!({"kind": "messenger", "name": " ", "settings": {
                "page_id": "page-1", "verify_token": "v", "app_secret": "a",
                "api_base": "file:///etc/passwd", "phone_number_id": "1"}}),
        )
        .await;
    assert_eq!(
        error_fields(&body),
        [
            "name",
            "settings.phone_number_id",
            "settings.page_id",
            "settings.page_access_token",
            "settings.api_base"
        ]
    );
    let body = s
        .post_refused(
            "/api/v1/channel-accounts",
            &t,
            json!({"kind": "telegram", "name": "T", "settings": {}}),
        )
        .await;
    assert_eq!(error_fields(&body), ["kind"]);
    // The platform's API must be a public address unless the egress allow-list names it.
    let mut private = whatsapp();
    private["settings"]["api_base"] = json!("http://10.0.0.1/graph");
    let body = s
        .post_refused("/api/v1/channel-accounts", &t, private)
        .await;
    assert_eq!(error_fields(&body), ["settings.api_base"]);
    let (_, listed) = s.get("/api/v1/channel-accounts", &t).await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "nothing else stored");

    // Sent back as shown, with a new token: the masked secrets stay, the new one replaces.
    let mut edited =
        json!({"kind": "whatsapp", "name": "Support (NL)", "settings": a["settings"].clone()});
    edited["settings"]["access_token"] = json!("EAAG-token-2");
    let (status, b) = s
        .put(&format!("/api/v1/channel-accounts/{id}"), &t, edited)
        .await;
    assert_eq!(status, StatusCode::OK, "{b}");
    assert_eq!(b["name"], "Support (NL)");
    let stored = s.store.channel_account(id).await.unwrap().unwrap();
    assert_eq!(stored.definition.settings["app_secret"], "app-secret-1");
    assert_eq!(stored.definition.settings["access_token"], "EAAG-token-2");
    assert_eq!(stored.definition.settings["verify_token"], "verify-me");
    // Its kind is fixed.
    let mut other = whatsapp();
    other["kind"] = json!("x");
    let (status, body) = s
        .put(&format!("/api/v1/channel-accounts/{id}"), &t, other)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["error"]
        .as_str()
        .unwrap()
        .contains("kind cannot change"));

    // The audit log has each change, never a secret.
    let (_, log) = s.get("/api/v1/audit?entity=channel_account", &t).await;
    let actions: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["update", "create"]);
    let text = log.to_string();
    for secret in ["app-secret-1", "EAAG-token-1", "EAAG-token-2", "verify-me"] {
        assert!(!text.contains(secret), "{secret} in the audit log");
    }

    let (status, _) = s
        .send(
            reqwest::Method::DELETE,
            &format!("/api/v1/channel-accounts/{id}"),
            &t,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = s.get(&format!("/api/v1/channel-accounts/{id}"), &t).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, listed) = s.get("/api/v1/channel-accounts", &t).await;
    assert_eq!(listed, json!([]));
}

/// With the public URL known, the webhook URL is absolute.
#[tokio::test]
async fn the_webhook_url_is_absolute_under_the_public_url() {
    let setup = crate::server_support::Setup::default().public_url("https://promptly.example.com");
    let s = TestServer::start_with(setup).await;
    let t = s.token().await;
    let (status, a) = s.post("/api/v1/channel-accounts", &t, whatsapp()).await;
    assert_eq!(status, StatusCode::CREATED, "{a}");
    assert_eq!(
        a["webhook_url"],
        format!("https://promptly.example.com/hooks/whatsapp/{}", a["id"])
    );
}
