//! Contracts over HTTP: CRUD with field errors, a month's compliance from ingested
//! conversations with known times (figures, bands, money, breakdowns by department and
//! team), the CSV, the conversations behind a number, and who may ask.

use crate::server_support;

use reqwest::StatusCode;
use serde_json::{json, Value};
use server_support::{column, error_fields, TestServer};

fn ev(id: &str, conv: &str, at: &str, body: Value) -> Value {
    let mut v = body;
    v["id"] = json!(id);
    v["conversation"] = json!(conv);
    v["at"] = json!(format!("2026-10-14T{at}Z"));
    v
}

fn created(conv: &str, at: &str, team: Option<&str>) -> Value {
    ev(
        &format!("{conv}-c"),
        conv,
        at,
        json!({"type": "conversation.created", "channel": "webchat", "team": team,
               "contact": {"email": format!("{conv}@bigcorp.com")}}),
    )
}

fn reply(conv: &str, at: &str, agent: &str) -> Value {
    ev(
        &format!("{conv}-r"),
        conv,
        at,
        json!({"type": "message.created", "author": "agent", "text": "Hi", "agent_email": agent}),
    )
}

fn survey(id: &str, conv: &str, kind: &str, score: i64) -> Value {
    ev(
        id,
        conv,
        "12:00:00",
        json!({"type": "survey.submitted", "survey": kind, "score": score}),
    )
}

/// The servers' clock: six days after the conversations below, within the window in which
/// events are posted.
fn in_october() -> chrono::DateTime<chrono::Utc> {
    promptly::instant::utc("2026-10-20T00:00:00Z")
}

/// Five conversations on 14 October 2026: three answered after 10, 30 and 50 s, one left
/// after 5 s (a short abandon), one resolved unanswered after 100 s (abandoned).
fn october() -> Value {
    json!({"events": [
        created("c1", "10:00:00", Some("billing")), reply("c1", "10:00:10", "ann@us.io"),
        created("c2", "10:00:00", Some("Billing ")), reply("c2", "10:00:30", "bob@us.io"),
        created("c3", "10:00:00", Some("tech")), reply("c3", "10:00:50", "ann@us.io"),
        created("c4", "10:00:00", None),
        ev("c4-l", "c4", "10:00:05", json!({"type": "conversation.left"})),
        created("c5", "10:00:00", None),
        ev("c5-s", "c5", "10:01:40", json!({"type": "conversation.updated", "status": "resolved"})),
        survey("s1", "c1", "csat", 5), survey("s2", "c2", "csat", 2),
        survey("s3", "c1", "nps", 10), survey("s4", "c3", "nps", 3),
    ]})
}

fn contract() -> Value {
    json!({
        "name": "BigCorp premium", "counterparty_kind": "client", "counterparty": "BigCorp",
        "service_description": "Chat support", "review_date": "2027-01-31",
        "scope": {"email_domains": ["bigcorp.com"]},
        "metrics": [
            {"kind": "service_level", "within_s": 20, "formula": "answered_only", "target": 80, "period": "month"},
            {"kind": "asa", "target": 30, "period": "month"},
            {"kind": "abandonment_rate", "short_abandon_s": 10, "target": 24, "period": "month"},
            {"kind": "csat", "target": 40, "period": "month"}
        ],
        "remedies": {"fee_per_period": 1000, "credit_per_point": 10, "credit_cap": 100,
                     "bonus_per_point": 5, "bonus_cap": 30, "currency": "EUR"}
    })
}

fn close(v: &Value, x: f64) -> bool {
    v.as_f64().is_some_and(|a| (a - x).abs() < 1e-9)
}

#[tokio::test]
async fn a_month_of_conversations_gives_figures_bands_money_and_breakdowns() {
    let s = TestServer::start_at(in_october()).await;
    let t = s.token().await;
    let (status, body) = s.post("/api/v1/events", &t, october()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = s
        .put(
            "/api/v1/departments",
            &t,
            json!({"teams": [{"team": "billing", "department": "Finance"},
                             {"team": "Tech", "department": "Engineering"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let (status, created) = s.post("/api/v1/contracts", &t, contract()).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_i64().unwrap();
    assert_eq!(created["name"], "BigCorp premium");
    assert_eq!(created["metrics"][0]["formula"], "answered_only");

    let c = s
        .get_ok(
            &format!("/api/v1/contracts/{id}/compliance?period=2026-10"),
            &t,
        )
        .await;
    assert_eq!(c["period"], "2026-10");
    assert_eq!(c["conversations"], 5);
    let m = &c["metrics"];
    // Service level: 1 of 3 answered within 20 s; far below 80 %: all hands, credit capped.
    assert_eq!(
        (m[0]["numerator"].clone(), m[0]["denominator"].clone()),
        (json!(1), json!(3))
    );
    assert!(close(&m[0]["actual"], 100.0 / 3.0), "{}", m[0]);
    assert_eq!(m[0]["band"], "all_hands");
    assert_eq!(m[0]["action"], "All hands on deck");
    assert!(close(&m[0]["money"]["credit"], 100.0));
    // ASA: (10 + 30 + 50) / 3 = 30 s, on target.
    assert_eq!(
        (m[1]["numerator"].clone(), m[1]["denominator"].clone()),
        (json!(90), json!(3))
    );
    assert_eq!(m[1]["band"], "on_target");
    // Abandonment: the 100 s wait counts, the 5 s one is a short abandon: 1 / 4 = 25 %
    // against 24 %: 4.2 % worse, warning; one point below, 10 EUR.
    assert_eq!(
        (m[2]["numerator"].clone(), m[2]["denominator"].clone()),
        (json!(1), json!(4))
    );
    assert_eq!(m[2]["band"], "warning");
    assert_eq!(m[2]["band_label"], "Warning");
    assert_eq!(m[2]["action"], "Alert workforce management");
    assert!(close(&m[2]["money"]["credit"], 10.0));
    // CSAT: one of two satisfied, 50 % against 40 %: 10 points above, bonus capped at 30.
    assert!(close(&m[3]["actual"], 50.0));
    assert!(close(&m[3]["money"]["bonus"], 30.0));
    assert!(
        close(&c["credit"], 110.0) && close(&c["bonus"], 30.0) && close(&c["due"], 920.0),
        "{c}"
    );
    assert_eq!(c["band"], "all_hands");

    // Breakdowns: teams as stored, departments through the mapping.
    let teams = &m[0]["breakdowns"]["team"];
    let by_key = |groups: &Value, key: Value| -> Value {
        groups
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["key"] == key)
            .cloned()
            .unwrap_or_else(|| panic!("no group {key} in {groups}"))
    };
    assert_eq!(by_key(teams, json!("billing"))["denominator"], 1);
    assert_eq!(by_key(teams, json!("tech"))["numerator"], 0);
    let depts = &m[0]["breakdowns"]["department"];
    let finance = by_key(depts, json!("Finance"));
    assert_eq!(
        (finance["numerator"].clone(), finance["denominator"].clone()),
        (json!(1), json!(2))
    );
    assert_eq!(finance["conversations"], 2);
    assert_eq!(by_key(depts, json!(null))["conversations"], 2);
    let agents = &m[1]["breakdowns"]["agent"];
    assert!(close(&by_key(agents, json!("ann@us.io"))["actual"], 30.0));

    // Another month has nothing; November's figures have no data.
    let (_, nov) = s
        .get(
            &format!("/api/v1/contracts/{id}/compliance?period=2026-11"),
            &t,
        )
        .await;
    assert_eq!(nov["conversations"], 0);
    assert_eq!(nov["metrics"][0]["band"], "no_data");
    assert_eq!(nov["metrics"][0]["actual"], Value::Null);

    // The CSV has the same figures.
    let r = crate::support::client()
        .get(s.url(&format!(
            "/api/v1/contracts/{id}/compliance.csv?period=2026-10"
        )))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let csv = r.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("period,metric,kind,dimension,group,conversations,target,actual"));
    assert!(
        lines.contains(&"2026-10,Abandonment rate,abandonment_rate,all,,5,24,25,1,4,warning,4.1667,10.00,0.00,EUR"),
        "{csv}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with(
            "2026-10,Service level within 20 s,service_level,department,Finance,2,80,50,1,2,"
        )),
        "{csv}"
    );

    // The conversations behind Finance's service level, the missed one first.
    let drill = s
        .get_ok(&format!("/api/v1/contracts/{id}/conversations?period=2026-10&metric=0&dimension=department&key=Finance"), &t)
        .await;
    let rows = drill["conversations"].as_array().unwrap();
    assert_eq!(
        column(&drill["conversations"], "external_id"),
        json!(["c2", "c1"])
    );
    assert_eq!(rows[0]["first_response_s"], 30);
    assert_eq!(
        (rows[0]["numerator"].clone(), rows[1]["numerator"].clone()),
        (json!(0), json!(1))
    );
    let (_, none) = s
        .get(
            &format!("/api/v1/contracts/{id}/conversations?period=2026-10&metric=2&dimension=team"),
            &t,
        )
        .await;
    assert_eq!(
        column(&none["conversations"], "external_id"),
        json!(["c5"]),
        "the team-less conversation the abandonment rate counts"
    );

    // The list shows the current band.
    let (_, list) = s.get("/api/v1/contracts", &t).await;
    assert_eq!(list["contracts"][0]["id"], id);
    assert!(list["contracts"][0]["current"]["band"].is_string());
    assert_eq!(
        list["contracts"][0]["review"]["highlighted"],
        json!(
            list["contracts"][0]["review"]["days_left"]
                .as_i64()
                .unwrap()
                <= 30
        )
    );
}

#[tokio::test]
async fn contracts_are_validated_edited_deleted_and_kept_from_agents() {
    let s = TestServer::start_at(in_october()).await;
    let t = s.token().await;
    let mut bad = contract();
    bad["metrics"][0]["within_s"] = json!(0);
    bad["remedies"]["currency"] = json!("euro");
    bad["scope"]["policies"] = json!([999]);
    let body = s.post_refused("/api/v1/contracts", &t, bad.clone()).await;
    let f = error_fields(&body);
    assert!(
        f.contains(&"metrics[0].within_s".into()) && f.contains(&"remedies.currency".into()),
        "{body}"
    );
    bad["metrics"][0]["within_s"] = json!(20);
    bad["remedies"]["currency"] = json!("EUR");
    let (_, body) = s.post("/api/v1/contracts", &t, bad.clone()).await;
    assert_eq!(error_fields(&body), ["scope.policies[0]"]);
    bad["metrics"][1]["formula"] = json!("sometimes");
    bad["metrics"][1]["kind"] = json!("service_level");
    let (_, body) = s.post("/api/v1/contracts", &t, bad).await;
    assert!(error_fields(&body)[0].starts_with("metrics[1]"), "{body}");
    let (_, list) = s.get("/api/v1/contracts", &t).await;
    assert_eq!(list["contracts"], json!([]), "nothing was stored");

    let (_, created) = s.post("/api/v1/contracts", &t, contract()).await;
    let id = created["id"].as_i64().unwrap();
    let mut changed = contract();
    changed["name"] = json!("BigCorp standard");
    let (status, body) = s.put(&format!("/api/v1/contracts/{id}"), &t, changed).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, got) = s.get(&format!("/api/v1/contracts/{id}"), &t).await;
    assert_eq!(got["name"], "BigCorp standard");
    for (path, expected, field) in [
        (
            format!("/api/v1/contracts/{id}/compliance?period=2026-13"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "period",
        ),
        // The contract has no metric 9: not found, and the field says which.
        (
            format!("/api/v1/contracts/{id}/conversations?metric=9"),
            StatusCode::NOT_FOUND,
            "metric",
        ),
        // Not an index at all, or past any integer: a field error, not axum's plain text.
        (
            format!("/api/v1/contracts/{id}/conversations?metric=433612495771956927218027855872"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "metric",
        ),
        (
            format!("/api/v1/contracts/{id}/conversations?metric=first"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "metric",
        ),
    ] {
        let (status, body) = s.get(&path, &t).await;
        assert_eq!(status, expected, "{path}: {body}");
        assert_eq!(error_fields(&body), [field], "{path}");
    }

    // A survey score outside its scale is refused with its path, and nothing is stored.
    let body = s
        .post_refused(
            "/api/v1/events",
            &t,
            json!({"events": [created_ok(), survey("s9", "z1", "nps", 11)]}),
        )
        .await;
    assert_eq!(error_fields(&body), ["events[1].score"]);

    let agent = s.new_token("agent", Some("agent")).await.token;
    for path in [
        "/api/v1/contracts".to_string(),
        format!("/api/v1/contracts/{id}"),
        format!("/api/v1/contracts/{id}/compliance"),
        format!("/api/v1/contracts/{id}/compliance.csv"),
        format!("/api/v1/contracts/{id}/conversations"),
    ] {
        let (status, _) = s.get(&path, &agent).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    let manager = s.new_token("mgr", Some("manager")).await.token;
    let (status, _) = s
        .get(&format!("/api/v1/contracts/{id}/compliance"), &manager)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = s
        .put("/api/v1/departments", &manager, json!({"teams": []}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the mapping is the admins'");
    // An empty department and a team already listed: both named (422). A team twice, and
    // nothing else wrong: the value is taken (409), the field named.
    for (department, expected, fields) in [
        (
            "",
            StatusCode::UNPROCESSABLE_ENTITY,
            &["teams[1].department", "teams[1].team"][..],
        ),
        ("Y", StatusCode::CONFLICT, &["teams[1].team"][..]),
    ] {
        let teams =
            json!([{"team": "a", "department": "X"}, {"team": " A", "department": department}]);
        let (status, body) = s
            .put("/api/v1/departments", &t, json!({ "teams": teams }))
            .await;
        assert_eq!(status, expected, "{teams}");
        assert_eq!(error_fields(&body), fields, "{teams}");
    }

    let (status, _) = s
        .send(
            reqwest::Method::DELETE,
            &format!("/api/v1/contracts/{id}"),
            &manager,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = s.get(&format!("/api/v1/contracts/{id}"), &t).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

fn created_ok() -> Value {
    created("z1", "09:00:00", None)
}
