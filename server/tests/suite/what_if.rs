//! Policy what-if over real HTTP: a week of conversations on a business-hours policy,
//! replayed under the same policy (the stored outcomes), under drafts, with advice, as a job,
//! and refused like `POST /api/v1/policies` refuses.

use crate::server_support::{error_fields, eventually, TestServer};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Monday 2026-11-23, 18:00 UTC: the end of the replayed week.
fn now() -> DateTime<Utc> {
    promptly::instant::utc("2026-11-23T18:00:00Z")
}

fn at(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn office() -> Value {
    json!({"name": "Office", "timezone": "Europe/Amsterdam",
           "hours": {"mon": ["09:00-17:00"], "tue": ["09:00-17:00"], "wed": ["09:00-17:00"],
                     "thu": ["09:00-17:00"], "fri": ["09:00-17:00"]}})
}

/// The policy's body with `calendar_id` and a first-response target.
fn policy_body(calendar: i64, frt: &str) -> Value {
    json!({"name": "Standard", "calendar_id": calendar, "business_hours_only": true,
           "first_response": frt, "next_response": "1h", "resolution": "8h",
           "pause_on": ["pending"]})
}

/// 60 conversations over the week before [`now`], every few hours, on three channels, with
/// replies after a spread of delays, follow-ups, pending spells and resolutions (a fixed
/// pseudo-random sequence, so the test is the same on every run).
fn week_of_events() -> Vec<Value> {
    let mut seed: u64 = 0x5eed;
    let mut next = |n: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    let channels = ["whatsapp", "email", "instagram"];
    let mut events = Vec::new();
    let start = now() - Duration::days(7);
    for c in 0..60 {
        let conv = format!("c{c}");
        let mut t = start + Duration::minutes(c * 163);
        let mut n = 0;
        let mut ev = |kind: &str, at_: DateTime<Utc>, extra: Value| {
            n += 1;
            let mut e = json!({"id": format!("{conv}-{n}"), "conversation": conv,
                               "type": kind, "at": at(at_)});
            for (k, v) in extra.as_object().unwrap() {
                e[k] = v.clone();
            }
            e
        };
        events.push(ev(
            "conversation.created",
            t,
            json!({"channel": channels[(c % 3) as usize], "team": if c % 2 == 0 {"billing"} else {"tech"},
                   "priority": if c % 5 == 0 {"urgent"} else {"normal"}}),
        ));
        events.push(ev(
            "message.created",
            t,
            json!({"author": "customer", "text": "Hello"}),
        ));
        // Some are never answered.
        if next(6) == 0 {
            continue;
        }
        t += Duration::minutes(5 + next(180) as i64);
        events.push(ev(
            "message.created",
            t,
            json!({"author": "agent", "text": "Hi", "agent_email": "ada@example.com"}),
        ));
        for _ in 0..next(3) {
            t += Duration::minutes(10 + next(240) as i64);
            events.push(ev(
                "message.created",
                t,
                json!({"author": "customer", "text": "And?"}),
            ));
            if next(3) == 0 {
                t += Duration::minutes(30);
                events.push(ev("conversation.updated", t, json!({"status": "pending"})));
            }
            t += Duration::minutes(5 + next(120) as i64);
            events.push(ev(
                "message.created",
                t,
                json!({"author": "agent", "text": "Done", "agent_email": "ada@example.com"}),
            ));
        }
        if next(2) == 0 {
            t += Duration::minutes(next(600) as i64);
            events.push(ev("conversation.updated", t, json!({"status": "resolved"})));
        }
    }
    events.retain(|e| e["at"].as_str().unwrap() <= at(now()).as_str());
    events
}

/// A server at [`now`] with the office calendar, the policy (FRT 30m) as default, and the
/// week of conversations ingested; (server, admin token, policy id, calendar id).
async fn seeded() -> (TestServer, String, i64, i64) {
    let s = TestServer::start_at(now()).await;
    let t = s.token().await;
    let calendar = s.create("/api/v1/calendars", &t, office()).await["id"]
        .as_i64()
        .unwrap();
    let policy = s
        .create_default_policy(&t, policy_body(calendar, "30m"))
        .await;
    for batch in week_of_events().chunks(100) {
        let (status, body) = s.post("/api/v1/events", &t, json!({"events": batch})).await;
        assert!(status.is_success(), "{status} {body}");
    }
    (s, t, policy, calendar)
}

fn what_if_path(policy: i64) -> String {
    format!("/api/v1/policies/{policy}/what-if")
}

fn week() -> (String, String) {
    (at(now() - Duration::days(8)), at(now()))
}

/// Met and breached cycles of `metric` over the conversations' stored SLA states: every
/// cycle is breached (missed, or running past its deadline), running within target, or met.
async fn stored_outcomes(s: &TestServer, t: &str, metric: &str) -> (u64, u64) {
    let list = s.get_ok("/api/v1/conversations?limit=500", t).await;
    let items = list.as_array().unwrap();
    assert_eq!(items.len(), 60);
    let (mut met, mut breached) = (0, 0);
    for m in items
        .iter()
        .flat_map(|c| c["sla"]["metrics"].as_array().unwrap())
        .filter(|m| m["metric"] == metric)
    {
        let (cycles, breaches) = (
            m["cycles"].as_u64().unwrap(),
            m["breaches"].as_u64().unwrap(),
        );
        let within = match m["state"].as_str().unwrap() {
            "ok" | "warning" => 1,
            "paused" => 1 - breaches,
            _ => 0,
        };
        breached += breaches;
        met += cycles - breaches - within;
    }
    (met, breached)
}

#[tokio::test]
async fn replaying_the_current_policy_gives_the_stored_outcomes() {
    let (s, t, policy, calendar) = seeded().await;
    let (from, to) = week();
    let (status, answer) = s
        .post(
            &what_if_path(policy),
            &t,
            json!({"draft": policy_body(calendar, "30m"), "from": from, "to": to}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["current"], answer["draft"]);
    assert_eq!(answer["changed"], json!([]));
    assert_eq!(answer["current"]["conversations"], 60);
    for metric in ["first_response", "next_response", "resolution"] {
        let (met, breached) = stored_outcomes(&s, &t, metric).await;
        let r = &answer["current"][metric];
        assert_eq!(
            (r["met"].as_u64().unwrap(), r["breached"].as_u64().unwrap()),
            (met, breached),
            "{metric}: {r}"
        );
        assert!(met + breached > 0, "{metric} has outcomes to compare");
    }
    // The breakdowns add up to the total.
    let by_channel: u64 = answer["current"]["by_channel"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["first_response"]["met"].as_u64().unwrap())
        .sum();
    assert_eq!(
        by_channel,
        answer["current"]["first_response"]["met"].as_u64().unwrap()
    );
    let channels: Vec<&str> = answer["current"]["by_channel"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["key"].as_str().unwrap())
        .collect();
    assert_eq!(channels, ["email", "instagram", "whatsapp"]);
}

#[tokio::test]
async fn a_longer_draft_target_meets_more_and_lists_what_changes() {
    let (s, t, policy, calendar) = seeded().await;
    let (from, to) = week();
    let body = |frt: &str| {
        json!({"draft": policy_body(calendar, frt), "from": from, "to": to,
                                  "attainment": [90]})
    };
    let (_, answer) = s.post(&what_if_path(policy), &t, body("2h")).await;
    let current = &answer["current"]["first_response"];
    let draft = &answer["draft"]["first_response"];
    assert!(draft["met"].as_u64() > current["met"].as_u64(), "{answer}");
    assert!(draft["attainment"].as_f64() > current["attainment"].as_f64());
    let changed = answer["changed"].as_array().unwrap();
    assert!(!changed.is_empty());
    assert_eq!(
        answer["changed_count"].as_u64().unwrap(),
        changed.len() as u64
    );
    // A changed conversation missed its first response under 30 minutes.
    let id = changed[0].as_i64().unwrap();
    let view = s.get_ok(&format!("/api/v1/conversations/{id}"), &t).await;
    let frt = view["sla"]["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["metric"] == "first_response")
        .unwrap()
        .clone();
    assert!(frt["breaches"].as_u64().unwrap() > 0, "{frt}");

    // The advice for 90 %, applied to the draft, attains at least 90 %; one second less
    // does not.
    let advice = answer["advice"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["metric"] == "first_response" && a["group"] == "all")
        .unwrap()
        .clone();
    assert_eq!(advice["attainment"], 90.0);
    let target = advice["target_s"].as_i64().unwrap();
    let (_, advised) = s
        .post(&what_if_path(policy), &t, body(&target.to_string()))
        .await;
    // Advice is read from finished cycles: met ones over finished ones.
    let finished_attainment = |r: &Value| {
        let r = &r["draft"]["first_response"];
        r["met"].as_f64().unwrap() / r["finished"].as_f64().unwrap()
    };
    assert!(finished_attainment(&advised) >= 0.9, "{advised}");
    let (_, below) = s
        .post(&what_if_path(policy), &t, body(&(target - 1).to_string()))
        .await;
    assert!(finished_attainment(&below) < 0.9, "{below}");
    // Per channel and priority too.
    assert!(answer["advice"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["group"] == "channel" && a["key"] == "email"));

    // Nothing stored changed: the conversation still has its first-response breach.
    let again = s.get_ok(&format!("/api/v1/conversations/{id}"), &t).await;
    assert_eq!(again["sla"], view["sla"]);
}

#[tokio::test]
async fn a_scope_narrows_the_replay() {
    let (s, t, policy, calendar) = seeded().await;
    let (from, to) = week();
    let (_, answer) = s
        .post(
            &what_if_path(policy),
            &t,
            json!({"draft": policy_body(calendar, "30m"), "from": from, "to": to,
                   "scope": {"channels": ["email"], "teams": ["billing"]}}),
        )
        .await;
    // Channel email is c % 3 == 1, team billing is c even: c % 6 == 4, 10 of 60.
    assert_eq!(answer["current"]["conversations"], 10, "{answer}");
    // A period before the conversations replays nothing.
    let (_, empty) = s
        .post(
            &what_if_path(policy),
            &t,
            json!({"draft": policy_body(calendar, "30m"), "from": "2026-01-01", "to": "2026-01-31"}),
        )
        .await;
    assert_eq!(empty["current"]["conversations"], 0);
    assert_eq!(
        empty["current"]["first_response"]["attainment"],
        Value::Null
    );
}

#[tokio::test]
async fn a_draft_is_refused_as_a_new_policy_would_be() {
    let (s, t, policy, _) = seeded().await;
    let draft = json!({"name": "", "first_response": "soon", "calendar_id": 999});
    let (status, refused) = s.post("/api/v1/policies", &t, draft.clone()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, what_if) = s
        .post(&what_if_path(policy), &t, json!({"draft": draft}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&what_if), error_fields(&refused));
    // The period and the scope are checked too; an unknown policy is 404.
    let (status, bad) = s
        .post(
            &what_if_path(policy),
            &t,
            json!({"draft": {"name": "x"}, "from": "2026-11-20", "to": "2026-11-10",
                   "scope": {"channels": ["fax"]}, "attainment": [0]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        error_fields(&bad),
        ["from", "scope.channels[0]", "attainment"]
    );
    let (status, _) = s
        .post(
            &what_if_path(policy + 100),
            &t,
            json!({"draft": {"name": "x"}}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Agents may not run one.
    let agent = s.api_token(&t, "helpdesk", "agent").await;
    let (status, _) = s
        .post(
            &what_if_path(policy),
            agent["token"].as_str().unwrap(),
            json!({"draft": {"name": "x"}}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_long_replay_answers_with_a_job_that_holds_the_answer() {
    let (s, t, policy, calendar) = seeded().await;
    let (from, to) = week();
    let body = json!({"draft": policy_body(calendar, "1h"), "from": from, "to": to});
    let (_, direct) = s.post(&what_if_path(policy), &t, body.clone()).await;
    // A server that answers at once with the job.
    s.state.jobs.lock().unwrap().answer_within = std::time::Duration::ZERO;
    let (status, started) = s.post(&what_if_path(policy), &t, body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{started}");
    let job = started["job"]["id"].as_u64().unwrap();
    assert_eq!(started["job"]["total"], 60);
    let path = format!("/api/v1/jobs/{job}");
    let done = eventually(
        std::time::Duration::from_secs(10),
        "the job finishes",
        || async {
            let job = s.get_ok(&path, &t).await;
            (job["finished"] == true).then_some(job)
        },
    )
    .await;
    assert_eq!(done["done"], 60);
    assert_eq!(done["result"], direct);
    // Stopping a finished job leaves it as it is; an unknown one is 404.
    let r = s.send(Method::DELETE, &path, &t, None).await;
    assert_eq!(r.0, StatusCode::OK);
    let after = s.get_ok(&path, &t).await;
    assert_eq!(after["cancelled"], false);
    assert_eq!(after["result"], direct);
    let r = s.send(Method::DELETE, "/api/v1/jobs/99999", &t, None).await;
    assert_eq!(r.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_what_if_page_replays_the_typed_draft_without_javascript() {
    let (s, t, policy, calendar) = seeded().await;
    let admin = s.login("admin@t.io", "admin-pass-1").await;
    // The form, filled from the current version.
    let page = s.page(&admin, &format!("/policies/{policy}/what-if")).await;
    assert!(page.contains("What if: Standard"), "{page}");
    assert!(page.contains(r#"name="frt_value" value="30m""#), "{page}");
    // The same figures as the API for the same draft and period.
    let (_, api) = s
        .post(
            &what_if_path(policy),
            &t,
            json!({"draft": policy_body(calendar, "2h"), "from": "2026-11-15", "to": "2026-11-23",
                   "attainment": [90]}),
        )
        .await;
    let query = format!(
        "name=Standard&calendar_id={calendar}&business_hours=on&frt_value=2&frt_unit=h\
         &nrt_value=1h&rt_value=8&rt_unit=h&pause_pending=on&from=2026-11-15&to=2026-11-23&level=90&run=1"
    );
    let page = s
        .page(&admin, &format!("/policies/{policy}/what-if?{query}"))
        .await;
    assert!(page.contains("60 conversations replayed"), "{page}");
    let changed = api["changed_count"].as_u64().unwrap();
    assert!(changed > 0);
    assert!(
        page.contains(&format!("{changed} conversation(s) change outcome")),
        "{page}"
    );
    // The advice links replay with the advised target in the draft.
    let advised = api["advice"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["metric"] == "first_response" && a["group"] == "all")
        .unwrap()["target_s"]
        .as_i64()
        .unwrap();
    let text = promptly::SlaDuration::from_secs(advised)
        .unwrap()
        .to_string();
    assert!(
        page.contains(&format!(r#"class="advised">{text}<"#)),
        "{page}"
    );
    assert!(page.contains(&format!("frt%5Fvalue={text}")), "{page}");
    // A draft with an error shows it at its field.
    let page = s
        .page(
            &admin,
            &format!("/policies/{policy}/what-if?name=Standard&frt_value=soon&frt_unit=m&run=1"),
        )
        .await;
    assert!(page.contains(r#"data-field="frt""#), "{page}");
}
