//! The calendars and policies pages over real HTTP: their forms create, edit and delete
//! through the same validation as the JSON API, field errors come back next to the inputs,
//! nothing is stored on bad input, and conflicts are explained.

use crate::server_support;

use reqwest::header::ORIGIN;
use reqwest::StatusCode;
use serde_json::json;
use server_support::{as_form, query, TestServer};

/// The message shown by a field (`data-field="tue"`).
fn field_error(html: &str, field: &str) -> Option<String> {
    let at = html.find(&format!(r#"data-field="{field}""#))?;
    let text = &html[at..];
    let start = text.find('>')? + 1;
    let end = text[start..].find('<')? + start;
    Some(text[start..end].to_string())
}

const OFFICE: &[(&str, &str)] = &[
    ("name", "Office"),
    ("description", "Amsterdam desk"),
    ("timezone", "Europe/Amsterdam"),
    ("mon", "09:00-17:00"),
    ("tue", "09:00-12:00, 13:00-17:00"),
    ("wed", "09:00-17:00"),
    ("thu", "09:00-17:00"),
    ("fri", "09:00-17:00"),
    ("sat", ""),
    ("sun", "closed"),
    ("holidays", "2035-12-25\n2035-12-26"),
    ("overrides", "2035-12-24: 09:00-13:00\n2035-12-31: closed"),
];

/// `OFFICE` with the fields of `changes` changed.
fn office_with<'a>(changes: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    OFFICE
        .iter()
        .map(|&(k, v)| {
            changes
                .iter()
                .find(|(c, _)| *c == k)
                .map_or((k, v), |&(_, changed)| (k, changed))
        })
        .collect()
}

#[tokio::test]
async fn calendars_are_created_listed_edited_and_refused_with_field_errors() {
    let (s, admin) = TestServer::start_as_admin().await;

    // A bad Tuesday window: the error sits next to Tuesday's input, and nothing is stored.
    let bad = office_with(&[("tue", "09:00-12:00, 25:00-26:00")]);
    let html = s.form_refused(&admin, "/calendars", &bad).await;
    let err = field_error(&html, "tue").expect("the error is shown by Tuesday");
    assert!(err.contains("25:00-26:00"), "{err}");
    assert!(s.store.list_calendars().await.unwrap().is_empty());
    assert!(
        html.contains(r#"value="09:00-12:00, 25:00-26:00""#),
        "what was typed is kept"
    );
    assert!(html.contains(r#"<option value="Europe/Amsterdam" selected"#));

    // A bad zone and a bad holiday line are reported on their fields too.
    let bad = office_with(&[("timezone", "Mars/Olympus")]);
    let html = s.form_refused(&admin, "/calendars", &bad).await;
    assert!(field_error(&html, "timezone").is_some());
    let bad = office_with(&[("holidays", "2035-12-25\nChristmas")]);
    let html = s.form_refused(&admin, "/calendars", &bad).await;
    let err = field_error(&html, "holidays").expect("an error for the holidays");
    assert!(err.starts_with("Line 2"), "{err}");
    assert!(s.store.list_calendars().await.unwrap().is_empty());

    // A good calendar is stored as the API would store it, and listed.
    let to = s.form_redirect(&admin, "/calendars", OFFICE).await;
    assert_eq!(query(&to, "notice").as_deref(), Some("created"), "{to}");
    let all = s.store.list_calendars().await.unwrap();
    assert_eq!(all.len(), 1);
    let cal = &all[0];
    assert_eq!(cal.definition.timezone.name(), "Europe/Amsterdam");
    assert_eq!(cal.definition.hours.tue.len(), 2);
    assert!(cal.definition.hours.sat.is_empty() && cal.definition.hours.sun.is_empty());
    assert_eq!(cal.definition.holidays.len(), 2);
    assert_eq!(cal.definition.overrides.len(), 2);
    let html = s.page(&admin, "/calendars").await;
    assert!(html.contains(r#"data-name="Office""#));
    assert!(html.contains("Tue 09:00-12:00, 13:00-17:00"));

    // The edit form shows the saved calendar; saving changes it.
    let html = s.page(&admin, &format!("/calendars?edit={}", cal.id)).await;
    assert!(html.contains(&format!(r#"action="/calendars?edit={}""#, cal.id)));
    assert!(html.contains("2035-12-31: closed"));
    let edited = office_with(&[("name", "Office hours"), ("fri", "09:00-15:00")]);
    let to = s
        .form_redirect(&admin, &format!("/calendars?edit={}", cal.id), &edited)
        .await;
    assert_eq!(query(&to, "notice").as_deref(), Some("updated"), "{to}");
    let saved = s.store.calendar(cal.id).await.unwrap().unwrap();
    assert_eq!(saved.name, "Office hours");
    assert_eq!(saved.definition.hours.fri[0].to_string(), "09:00-15:00");

    // Without a session nothing is stored.
    let r = s
        .client
        .post(s.url("/calendars"))
        .header(ORIGIN, &s.base)
        .form(OFFICE)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(s.store.list_calendars().await.unwrap().len(), 1);
}

fn gold(calendar: &str) -> Vec<(&'static str, String)> {
    vec![
        ("name", "Gold".into()),
        ("description", "Paying customers".into()),
        ("calendar_id", calendar.to_string()),
        ("business_hours", "on".into()),
        ("frt_value", "30".into()),
        ("frt_unit", "m".into()),
        ("nrt_value", "".into()),
        ("nrt_unit", "m".into()),
        ("rt_value", "2".into()),
        ("rt_unit", "d".into()),
        ("warning_value", "25".into()),
        ("warning_unit", "%".into()),
        ("pause_pending", "on".into()),
        ("pause_snoozed", "on".into()),
    ]
}

/// The policy form's live preview: the hydrated page asks the server (`preview_policy`),
/// since the browser's WebAssembly carries no time-zone tables. Admins get the lines the page
/// would render for what is typed, in the calendar's zone; anyone else is refused.
#[tokio::test]
async fn the_policy_preview_is_the_servers_for_admins_only() {
    use leptos::server_fn::ServerFn;
    let (s, admin, agent) = TestServer::start_with_agent().await;
    s.form_redirect(&admin, "/calendars", OFFICE).await;
    let cal = s.store.list_calendars().await.unwrap()[0].id.to_string();
    let path = <app::api::PreviewPolicy as ServerFn>::PATH;
    let form = [
        ("frt_value", "30"),
        ("frt_unit", "m"),
        ("nrt_value", ""),
        ("nrt_unit", "m"),
        ("rt_value", ""),
        ("rt_unit", "h"),
        ("business_hours", "true"),
        ("calendar_id", cal.as_str()),
        // A Monday: the samples are the Friday and the Monday after it.
        ("now", "2026-03-02T12:00:00Z"),
    ];
    let r = s.form_post(&admin, path, &form).await;
    assert_eq!(r.status(), StatusCode::OK);
    let lines: Vec<String> = r.json().await.unwrap();
    assert_eq!(
        lines,
        [
            "First-response target 30m, counting business hours of “Office”, times in Europe/Amsterdam:",
            "A message on Friday 16:45 would be due Monday 09:15",
            "A message on Monday 10:00 would be due Monday 10:30",
        ]
    );
    let r = s.form_post(&agent, path, &form).await;
    assert!(
        r.status().is_client_error() || r.status().is_server_error(),
        "{}",
        r.status()
    );
    assert!(!r.text().await.unwrap().contains("would be due"));
}

/// The form's "business days" unit: stored as "2bd", listed so, shown again as 2 business
/// days, and previewed by the engine; the 24-hour unit says what it is.
#[tokio::test]
async fn business_day_policies_from_the_form() {
    let (s, admin) = TestServer::start_as_admin().await;
    s.form_redirect(&admin, "/calendars", OFFICE).await;
    let cal = s.store.list_calendars().await.unwrap()[0].id.to_string();
    let mut form = gold(&cal);
    form[4] = ("frt_value", "2".into());
    form[5] = ("frt_unit", "bd".into());
    let to = s.form_redirect(&admin, "/policies", &as_form(&form)).await;
    assert_eq!(query(&to, "notice").as_deref(), Some("created"), "{to}");
    let p = s.store.list_policies().await.unwrap().remove(0);
    assert_eq!(
        p.policy.first_response,
        Some(promptly::Target::BusinessDays(2))
    );
    let html = s.page(&admin, &to).await;
    assert!(
        html.contains("First response 2bd · Resolution 2d"),
        "{html}"
    );
    assert!(html.contains("A message on Friday 16:45 would be due Tuesday 16:45"));
    assert!(
        html.contains(r#"<option value="d">days (24 counted hours)"#),
        "{html}"
    );
    let html = s.page(&admin, &format!("/policies?edit={}", p.id)).await;
    assert!(
        html.contains(r#"<option value="bd" selected>business days"#),
        "the edit form shows the target in business days: {html}"
    );
    // Business days are no warning threshold: refused on the warning's input.
    let mut bad = gold(&cal);
    bad[10] = ("warning_value", "1".into());
    bad[11] = ("warning_unit", "bd".into());
    let html = s.form_refused(&admin, "/policies", &as_form(&bad)).await;
    assert!(field_error(&html, "warning").is_some());
}

#[tokio::test]
async fn policies_are_created_versioned_made_default_and_conflicts_are_explained() {
    let (s, admin) = TestServer::start_as_admin().await;
    let to = s.form_redirect(&admin, "/calendars", OFFICE).await;
    assert_eq!(query(&to, "notice").as_deref(), Some("created"));
    let cal = s.store.list_calendars().await.unwrap()[0].id.to_string();

    // "soon" is not a target: the error is by the first-response input, nothing stored.
    let mut bad = gold(&cal);
    bad[4] = ("frt_value", "soon".into());
    let html = s.form_refused(&admin, "/policies", &as_form(&bad)).await;
    let err = field_error(&html, "frt").expect("an error for the first response");
    assert!(err.contains("not a valid target"), "{err}");
    assert!(s.store.list_policies().await.unwrap().is_empty());
    assert!(html.contains(r#"value="Gold""#), "what was typed is kept");

    // A calendar that does not exist is refused on its field.
    let bad = gold("999");
    let html = s.form_refused(&admin, "/policies", &as_form(&bad)).await;
    assert!(field_error(&html, "calendar_id").is_some());
    assert!(s.store.list_policies().await.unwrap().is_empty());

    // A good policy: stored as the API would, listed, with the preview of its deadline.
    let to = s
        .form_redirect(&admin, "/policies", &as_form(&gold(&cal)))
        .await;
    assert_eq!(query(&to, "notice").as_deref(), Some("created"), "{to}");
    let p = s.store.list_policies().await.unwrap().remove(0);
    assert_eq!(
        p.policy.first_response,
        Some(promptly::Target::Counted(
            promptly::SlaDuration::from_secs(1800).unwrap()
        ))
    );
    assert_eq!(
        p.policy.resolution,
        Some(promptly::Target::Counted(
            promptly::SlaDuration::from_hours(48).unwrap()
        ))
    );
    assert!(p.policy.business_hours_only);
    assert_eq!(p.calendar_id.map(|c| c.to_string()), Some(cal.clone()));
    let html = s.page(&admin, &to).await;
    assert!(html.contains(r#"data-name="Gold""#));
    assert!(html.contains("First response 30m · Resolution 2d"));
    assert!(html.contains("A message on Friday 16:45 would be due Monday 09:15"));
    assert!(html.contains("A message on Monday 10:00 would be due Monday 10:30"));
    assert!(html.contains(r#"<tr data-version="1">"#));

    // The same validation as the API: the API agrees about the stored policy.
    let token = s.token().await;
    let (status, api) = s.get(&format!("/api/v1/policies/{}", p.id), &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(api["policy"]["first_response"], "30m");

    // Made default, a conversation starts on version 1.
    let to = s
        .form_redirect(&admin, &format!("/policies/{}/default", p.id), &[])
        .await;
    assert_eq!(query(&to, "notice").as_deref(), Some("default"));
    assert_eq!(s.store.default_policy().await.unwrap(), Some(p.id));
    let (status, body) = s
        .post(
            "/api/v1/events",
            &token,
            json!({"id": "e1", "type": "conversation.created", "conversation": "c1", "channel": "email"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Editing a policy in use adds version 2; applied to the open conversation.
    let mut edited = gold(&cal);
    edited[4] = ("frt_value", "1".into());
    edited[5] = ("frt_unit", "h".into());
    edited.push(("apply_to_open", "on".into()));
    let to = s
        .form_redirect(
            &admin,
            &format!("/policies?edit={}", p.id),
            &as_form(&edited),
        )
        .await;
    assert_eq!(query(&to, "notice").as_deref(), Some("updated"), "{to}");
    assert_eq!(query(&to, "version").as_deref(), Some("2"), "{to}");
    assert_eq!(query(&to, "reevaluated").as_deref(), Some("1"), "{to}");
    let html = s.page(&admin, &to).await;
    assert!(html.contains("Policy saved as version 2."));
    assert!(html.contains("1 open conversation(s) re-evaluated"));
    assert!(html.contains(r#"<tr data-version="2">"#));
    assert!(html.contains(r#"<tr data-version="1">"#));
    assert!(html.contains(r#"<tr data-version="2"><td>v2"#), "{html}");
    assert!(html.contains("A message on Friday 16:45 would be due Monday 09:45"));
    let row = s
        .store
        .conversation_by_external_id("test", "c1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.policy_version, Some(2));

    // A bad edit changes nothing.
    let mut bad = gold(&cal);
    bad[10] = ("warning_value", "250".into());
    let html = s
        .form_refused(&admin, &format!("/policies?edit={}", p.id), &as_form(&bad))
        .await;
    assert!(field_error(&html, "warning").is_some());
    assert!(
        html.contains(&format!(r#"action="/policies?edit={}""#, p.id)),
        "still editing it"
    );
    assert_eq!(s.store.policy(p.id).await.unwrap().unwrap().version, 2);

    // Conflicts: the calendar is in use, the policy is the default.
    let to = s
        .form_redirect(&admin, &format!("/calendars/{cal}/delete"), &[])
        .await;
    assert_eq!(query(&to, "error").as_deref(), Some("in_use"), "{to}");
    let html = s.page(&admin, &to).await;
    assert!(html.contains("is used by the policy Gold and cannot be deleted"));
    assert_eq!(s.store.list_calendars().await.unwrap().len(), 1);
    let to = s
        .form_redirect(&admin, &format!("/policies/{}/delete", p.id), &[])
        .await;
    assert_eq!(query(&to, "error").as_deref(), Some("is_default"), "{to}");
    let html = s.page(&admin, &to).await;
    assert!(html.contains("The default policy cannot be deleted"));
    assert!(s.store.policy(p.id).await.unwrap().is_some());
}

#[tokio::test]
async fn only_admins_see_and_use_the_pages() {
    let (s, _admin, agent) = TestServer::start_with_agent().await;
    for path in ["/policies", "/calendars"] {
        let r = s.cookie_get(path, &agent).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
        let r = s.form_post(&agent, path, &[("name", "x")]).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "POST {path}");
    }
    assert!(s.store.list_calendars().await.unwrap().is_empty());
    assert!(s.store.list_policies().await.unwrap().is_empty());
}
