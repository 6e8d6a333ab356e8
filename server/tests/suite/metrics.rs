//! `/metrics` and `/readyz` over real HTTP: who may read the metrics, and the series after a
//! breach fires and its webhook is delivered to a receiver started by the test.

use crate::server_support::{counting_receiver, eventually, Setup, TestServer, LOCAL_RECEIVERS};

use chrono::{DateTime, Duration, Utc};
use reqwest::header::{AUTHORIZATION, COOKIE};
use reqwest::StatusCode;
use serde_json::json;
use std::sync::atomic::Ordering;

const WITHIN: std::time::Duration = std::time::Duration::from_secs(10);

fn t0() -> DateTime<Utc> {
    "2026-11-24T10:00:00Z".parse().unwrap()
}

/// GET `/metrics` with a header (or none): status and text.
async fn scrape(s: &TestServer, header: Option<(&str, String)>) -> (StatusCode, String) {
    let mut r = s.client.get(s.url("/metrics"));
    if let Some((name, value)) = header {
        r = r.header(name, value);
    }
    let r = r.send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

/// The value of the series `name{labels}` (exactly as written), if present.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn metrics_count_a_breach_its_webhook_the_ingest_and_the_streams() {
    let s = TestServer::start_with(Setup::at(t0()).allow_egress(LOCAL_RECEIVERS)).await;
    let t = s.token().await;
    let bearer = |t: &str| Some((AUTHORIZATION.as_str(), format!("Bearer {t}")));
    let (port, hits) = counting_receiver().await;
    let host = format!("127.0.0.1:{port}");
    s.create_default_policy(&t, json!({"name": "Chat", "first_response": "1m"}))
        .await;
    s.create(
        "/api/v1/rules",
        &t,
        json!({"name": "Breach hook", "event": "sla.breached",
               "actions": [{"type": "webhook", "url": format!("http://{host}/hook"), "secret": "s"}]}),
    )
    .await;

    // Who may read: admins and `metrics:read` tokens; not agents, not an ingest token, not
    // an anonymous caller from an address that is not configured.
    assert_eq!(scrape(&s, None).await.0, StatusCode::UNAUTHORIZED);
    let ingest = s.new_token("channel", None).await.token;
    assert_eq!(scrape(&s, bearer(&ingest)).await.0, StatusCode::FORBIDDEN);
    let (_, agent) = s
        .post(
            "/api/v1/users",
            &t,
            json!({"email": "agent@t.io", "name": "Agent", "role": "agent", "password": "agent-pass-1"}),
        )
        .await;
    assert_eq!(agent["role"], "agent", "{agent}");
    let agent = s.login("agent@t.io", "agent-pass-1").await;
    assert_eq!(
        scrape(&s, Some((COOKIE.as_str(), agent))).await.0,
        StatusCode::FORBIDDEN
    );
    let scopes = ["metrics:read".to_string()];
    let scraper = promptly_server::services::tokens::create_token(
        s.store.as_ref(),
        "prometheus",
        promptly_server::services::tokens::Grant {
            scopes: Some(&scopes),
            ..Default::default()
        },
        s.now(),
    )
    .await
    .unwrap()
    .token;
    let (status, text) = scrape(&s, bearer(&scraper)).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(value(&text, "promptly_open_streams"), Some(0.0));
    let admin = s.login("admin@t.io", "admin-pass-1").await;
    assert_eq!(
        scrape(&s, Some((COOKIE.as_str(), admin))).await.0,
        StatusCode::OK
    );

    // One conversation (two events, one of them sent twice) and an open live stream.
    let events = json!({"events": [
        {"id": "m1", "type": "conversation.created", "conversation": "c1", "channel": "sms"},
        {"id": "m2", "type": "message.created", "conversation": "c1", "author": "customer", "text": "Hello?"},
    ]});
    let (status, body) = s.post("/api/v1/events", &t, events.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, again) = s.post("/api/v1/events", &t, events).await;
    assert_eq!(again["duplicates"], 2);
    let stream = s
        .client
        .get(s.url("/api/v1/stream"))
        .header(AUTHORIZATION, format!("Bearer {t}"))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);

    // The first response breaches a second after its minute; the rule's webhook goes out.
    s.advance(Duration::seconds(61));
    eventually(WITHIN, "the breach's webhook", || async {
        (hits.load(Ordering::SeqCst) == 1).then_some(())
    })
    .await;
    let receiver = format!("receiver=\"{host}\"");
    let text = eventually(WITHIN, "the delivery recorded", || async {
        let (_, text) = scrape(&s, bearer(&scraper)).await;
        let attempts = format!("promptly_outbox_attempts_total{{{receiver}}}");
        (value(&text, &attempts) == Some(1.0)).then_some(text)
    })
    .await;
    assert_eq!(
        value(
            &text,
            &format!("promptly_outbox_failures_total{{{receiver}}}")
        ),
        Some(0.0)
    );
    assert_eq!(
        value(&text, &format!("promptly_outbox_backlog{{{receiver}}}")),
        None,
        "nothing left to deliver"
    );
    assert_eq!(
        value(
            &text,
            "promptly_sla_firing_delay_seconds_count{event=\"sla.breached\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &text,
            "promptly_sla_firing_delay_seconds_bucket{event=\"sla.breached\",le=\"+Inf\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        value(&text, "promptly_ingest_events_total{outcome=\"accepted\"}"),
        Some(2.0)
    );
    assert_eq!(
        value(&text, "promptly_ingest_events_total{outcome=\"duplicate\"}"),
        Some(2.0)
    );
    // Two posts one after the other: two batches, each in a commit of its own.
    assert_eq!(value(&text, "promptly_ingest_batches_total"), Some(2.0));
    assert_eq!(value(&text, "promptly_ingest_commits_total"), Some(2.0));
    assert_eq!(
        value(
            &text,
            "promptly_http_request_duration_seconds_count{method=\"POST\",route=\"/api/v1/events\",status=\"2xx\"}"
        ),
        Some(2.0)
    );
    assert!(
        value(
            &text,
            "promptly_http_request_duration_seconds_count{method=\"GET\",route=\"/metrics\",status=\"4xx\"}"
        ) >= Some(3.0),
        "refusals are timed too"
    );
    assert_eq!(value(&text, "promptly_open_streams"), Some(1.0));
    assert_eq!(value(&text, "promptly_database_up"), Some(1.0));
    assert!(value(&text, "promptly_db_pool_connections{state=\"max\"}") >= Some(1.0));
    assert!(text.contains("# TYPE promptly_compliance_cache_lookups_total counter"));

    // The stream closed, it is no longer counted.
    drop(stream);
    eventually(WITHIN, "the stream uncounted", || async {
        let (_, text) = scrape(&s, bearer(&scraper)).await;
        (value(&text, "promptly_open_streams") == Some(0.0)).then_some(())
    })
    .await;

    // Ready: the database answers.
    let r = s.client.get(s.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["status"],
        "ready"
    );
}

#[tokio::test]
async fn a_configured_address_reads_the_metrics_without_a_credential() {
    let s = TestServer::start_with(Setup::default().metrics_from("127.0.0.1/32")).await;
    let (status, text) = scrape(&s, None).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(text.contains("# TYPE promptly_ingest_events_total counter"));
    // Only the metrics: the rest still asks who is calling.
    let r = s.client.get(s.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    let elsewhere = TestServer::start_with(Setup::default().metrics_from("10.0.0.0/8")).await;
    assert_eq!(scrape(&elsewhere, None).await.0, StatusCode::UNAUTHORIZED);
}
