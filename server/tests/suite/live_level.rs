//! The live service level over real HTTP (`GET /api/v1/live`): a morning in Amsterdam on a
//! test clock, checked against a hand computation.

use crate::server_support::TestServer;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Wednesday 2026-11-18, 10:40 in Amsterdam.
fn now() -> DateTime<Utc> {
    promptly::instant::utc("2026-11-18T09:40:00Z")
}

/// An instant of the morning, local Amsterdam time "HH:MM:SS".
fn local(hms: &str) -> String {
    let t = promptly::instant::utc(&format!("2026-11-18T{hms}Z")) - Duration::hours(1);
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn created(c: &str, at: &str, team: &str, email: &str) -> Value {
    json!({"id": format!("{c}-0"), "conversation": c, "type": "conversation.created",
           "at": local(at), "channel": if team == "tech" {"email"} else {"whatsapp"},
           "team": team, "contact": {"email": email}})
}

fn reply(c: &str, at: &str) -> Value {
    json!({"id": format!("{c}-r"), "conversation": c, "type": "message.created",
           "at": local(at), "author": "agent", "text": "Hi", "agent_email": "ada@t.io"})
}

/// The morning, Y = 60 s (the contract's), waiting past Y counting as missed:
///
/// | conv | arrived (local) | team    | first response        | interval (30 min) |
/// |------|-----------------|---------|-----------------------|-------------------|
/// | c1   | 09:05           | billing | 30 s: within          | 09:00             |
/// | c2   | 09:10           | billing | 120 s: late           | 09:00             |
/// | c5   | 09:20           | tech    | 10 s: within          | 09:00             |
/// | c3   | 10:20           | billing | waiting 20 min: late  | 10:00             |
/// | c4   | 10:39:30        | billing | waiting 30 s: neither | 10:30             |
///
/// Everyone 2 of 4 = 50 %; 09:00 2 of 3; 10:00 0 of 1; 10:30 nothing to measure; billing
/// 1 of 3; tech 1 of 1. Waiting now: c3 and c4, the longest for 20 minutes.
async fn morning() -> (TestServer, String) {
    let s = TestServer::start_at(now()).await;
    let t = s.token().await;
    let calendar = s
        .create(
            "/api/v1/calendars",
            &t,
            json!({"name": "Office", "timezone": "Europe/Amsterdam",
                   "hours": {"wed": ["09:00-17:00"]}}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    s.create_default_policy(
        &t,
        json!({"name": "Standard", "calendar_id": calendar, "first_response": "1m"}),
    )
    .await;
    s.create(
        "/api/v1/contracts",
        &t,
        json!({"name": "Tech desk", "counterparty_kind": "department", "counterparty": "Tech",
               "review_date": "2027-06-30", "scope": {"teams": ["tech"]},
               "metrics": [{"kind": "service_level", "within_s": 60, "formula": "answered_only",
                            "target": 80, "period": "month"}],
               "remedies": {"fee_per_period": 0, "credit_per_point": 0, "credit_cap": 0,
                            "bonus_per_point": 0, "bonus_cap": 0, "currency": "EUR"}}),
    )
    .await;
    let events = json!({"events": [
        created("c1", "09:05:00", "billing", "a@x.io"), reply("c1", "09:05:30"),
        created("c2", "09:10:00", "billing", "b@x.io"), reply("c2", "09:12:00"),
        created("c5", "09:20:00", "tech", "e@x.io"), reply("c5", "09:20:10"),
        created("c3", "10:20:00", "billing", "c@x.io"),
        created("c4", "10:39:30", "billing", "d@x.io"),
    ]});
    let (status, body) = s.post("/api/v1/events", &t, events).await;
    assert!(status.is_success(), "{body}");
    (s, t)
}

fn row<'a>(board: &'a Value, kind: &str, key: Option<&str>) -> &'a Value {
    board["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == kind && r["key"].as_str() == key)
        .unwrap_or_else(|| panic!("no {kind} {key:?} in {board}"))
}

#[tokio::test]
async fn the_live_service_level_matches_the_hand_computation() {
    let (s, t) = morning().await;
    let board = s.get_ok("/api/v1/live", &t).await;
    assert_eq!(board["zone"], "Europe/Amsterdam");
    assert_eq!(board["interval"], 30);
    assert_eq!(board["spec_from"], "Tech desk");
    let all = row(&board, "all", None);
    assert_eq!(all["within_s"], 60);
    assert_eq!(all["live"]["total"]["service_level"], 50.0);
    assert_eq!(all["live"]["total"]["offered"], 5);
    assert_eq!(all["live"]["total"]["waiting"], 2);
    assert_eq!(all["live"]["total"]["band"], "all_hands");
    // 22 half-hours from local midnight to 10:30, the current one included.
    let intervals = all["live"]["intervals"].as_array().unwrap();
    assert_eq!(intervals.len(), 22);
    assert_eq!(intervals[18]["start"], "2026-11-18T08:00:00Z");
    assert!((intervals[18]["service_level"].as_f64().unwrap() - 200.0 / 3.0).abs() < 1e-6);
    assert_eq!(intervals[20]["service_level"], 0.0);
    assert_eq!(intervals[21]["service_level"], Value::Null);
    assert_eq!(intervals[21]["band"], "no_data");
    assert_eq!(all["waiting_now"], 2);
    assert_eq!(all["longest_wait_s"], 20 * 60);

    let billing = row(&board, "team", Some("billing"));
    assert!(
        (billing["live"]["total"]["service_level"].as_f64().unwrap() - 100.0 / 3.0).abs() < 1e-6
    );
    assert_eq!(billing["waiting_now"], 2);
    let tech = row(&board, "team", Some("tech"));
    assert_eq!(tech["live"]["total"]["service_level"], 100.0);
    assert_eq!(tech["live"]["total"]["band"], "on_target");
    assert_eq!(tech["waiting_now"], 0);
    assert_eq!(
        row(&board, "channel", Some("email"))["live"]["total"]["service_level"],
        100.0
    );
    // The contract: its scope (team tech) only.
    let contract = row(
        &board,
        "contract",
        board["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["kind"] == "contract")
            .unwrap()["key"]
            .as_str(),
    );
    assert_eq!(contract["label"], "Tech desk");
    assert_eq!(contract["live"]["total"]["offered"], 1);

    // Later, c4 has waited past Y too: the level falls without an event.
    s.advance(Duration::seconds(45));
    let later = s.get_ok("/api/v1/live?interval=15", &t).await;
    assert_eq!(later["interval"], 15);
    let all = row(&later, "all", None);
    assert_eq!(all["live"]["total"]["service_level"], 40.0);
    assert_eq!(all["live"]["intervals"].as_array().unwrap().len(), 43);
}

#[tokio::test]
async fn the_live_board_is_for_managers() {
    let (s, t) = morning().await;
    let (status, body) = s.get("/api/v1/live?interval=45", &t).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let agent = s.api_token(&t, "desk", "agent").await;
    let (status, _) = s
        .get("/api/v1/live", agent["token"].as_str().unwrap())
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let manager = s.api_token(&t, "wall", "manager").await;
    let (status, _) = s
        .get("/api/v1/live", manager["token"].as_str().unwrap())
        .await;
    assert_eq!(status, StatusCode::OK);
}
