//! The staffing what-if over HTTP: Erlang C as pyworkforce computes it, Erlang A with a
//! patience, field errors, and who may ask.

use crate::server_support;

use reqwest::StatusCode;
use serde_json::Value;
use server_support::{error_fields, TestServer};

/// A question refused with 422: the fields named, and the whole answer.
async fn refused(s: &TestServer, t: &str, query: &str) -> (Vec<String>, Value) {
    let (status, body) = s.get(&format!("/api/v1/staffing?{query}"), t).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    (error_fields(&body), body)
}

#[tokio::test]
async fn staffing_answers_managers_with_erlang_c_and_a() {
    let s = TestServer::start().await;
    let t = s.token().await;
    // 100 contacts in 30 minutes at 3 minutes each (10 Erlangs), 80 % within 20 s, at most
    // 85 % occupancy, 30 % shrinkage: pyworkforce says 14 agents, 20 scheduled.
    let q = "transactions=100&aht_min=3&interval_min=30&asa_min=0.3333333333333333\
             &service_level=0.8&max_occupancy=0.85&shrinkage=0.3";
    let (status, body) = s.get(&format!("/api/v1/staffing?{q}"), &t).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["erlang_c"]["raw_positions"], 14);
    assert_eq!(body["erlang_c"]["positions"], 20);
    let sl = body["erlang_c"]["service_level"].as_f64().unwrap();
    assert!((sl - 0.8883500191794669).abs() < 1e-12, "{sl}");
    assert!(body["erlang_c_achieved"]["asa_min"].as_f64().unwrap() > 0.0);
    assert!(body.get("erlang_a").is_none());
    assert_eq!(body["agents_available"], 0);

    // With a two-minute patience some customers abandon: Erlang A needs no more agents.
    let (status, body) = s
        .get(&format!("/api/v1/staffing?{q}&patience_min=2"), &t)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let a = body["erlang_a"]["raw_positions"].as_u64().unwrap();
    assert!((1..=14).contains(&a), "{body}");
    assert!(
        body["erlang_a"]["abandonment_probability"]
            .as_f64()
            .unwrap()
            > 0.0
    );

    let (fields, body) = refused(&s, &t, "transactions=-5&aht_min=3&service_level=2").await;
    assert_eq!(fields, ["asa_min"], "a missing field first: {body}");
    let (fields, body) = refused(
        &s,
        &t,
        "transactions=-5&aht_min=3&asa_min=0.3&service_level=2",
    )
    .await;
    assert!(
        fields.contains(&"transactions".into()) && fields.contains(&"service_level".into()),
        "{body}"
    );

    let agent = s.new_token("agent", Some("agent")).await.token;
    let (status, _) = s.get(&format!("/api/v1/staffing?{q}"), &agent).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "agents cannot open compliance"
    );
    let manager = s.new_token("mgr", Some("manager")).await.token;
    let (status, _) = s.get(&format!("/api/v1/staffing?{q}"), &manager).await;
    assert_eq!(status, StatusCode::OK);
}
