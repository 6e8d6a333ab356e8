//! The staffing what-if over HTTP: Erlang C as pyworkforce computes it, Erlang A with a
//! patience, field errors, and who may ask.

use crate::server_support;

use reqwest::StatusCode;
use server_support::TestServer;

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

    let (status, body) = s
        .get(
            "/api/v1/staffing?transactions=-5&aht_min=3&service_level=2",
            &t,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["asa_min"], "a missing field first: {body}");
    let (status, body) = s
        .get(
            "/api/v1/staffing?transactions=-5&aht_min=3&asa_min=0.3&service_level=2",
            &t,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"transactions") && fields.contains(&"service_level"),
        "{body}"
    );

    let agent = promptly_server::services::tokens::create_token(
        s.store.as_ref(),
        "agent",
        Some("agent"),
        s.state.clock.now(),
    )
    .await
    .unwrap()
    .token;
    let (status, _) = s.get(&format!("/api/v1/staffing?{q}"), &agent).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "agents cannot open compliance"
    );
    let manager = promptly_server::services::tokens::create_token(
        s.store.as_ref(),
        "mgr",
        Some("manager"),
        s.state.clock.now(),
    )
    .await
    .unwrap()
    .token;
    let (status, _) = s.get(&format!("/api/v1/staffing?{q}"), &manager).await;
    assert_eq!(status, StatusCode::OK);
}
