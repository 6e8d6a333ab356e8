//! The compliance pages over real HTTP: the contract editor's form creates and edits a
//! contract through the API's validation (errors come back on the editor's rows, nothing is
//! stored on bad input), the departments form, the rendered contract page, and agents
//! refused.

use crate::server_support;

use reqwest::StatusCode;
use server_support::{query, TestServer};

const CONTRACT: &[(&str, &str)] = &[
    ("name", "Acme support"),
    ("counterparty_kind", "client"),
    ("counterparty", "Acme"),
    ("review_date", "2027-03-31"),
    ("service_description", "Chat and e-mail"),
    ("scope_email_domains", "acme.example"),
    ("m0_kind", "asa"),
    ("m0_target", "30"),
    ("m0_period", "month"),
    ("m1_kind", ""),
    ("m2_kind", "service_level"),
    ("m2_target", "80"),
    ("m2_period", "month"),
    ("m2_within_s", "20"),
    ("m2_formula", "abandoned_count_missed"),
    ("currency", "EUR"),
    ("fee_per_period", "1000"),
];

/// Posts the departments form: where to.
async fn map_departments(s: &TestServer, cookie: &str, mapping: &str) -> String {
    s.form_redirect(cookie, "/compliance/departments", &[("mapping", mapping)])
        .await
}

#[tokio::test]
async fn the_editor_and_departments_forms_work_without_javascript() {
    let (s, admin) = TestServer::start_as_admin().await;

    // A new contract starts with the usual metrics, one empty row, and the rest behind
    // "Add metric".
    let blank = s.page(&admin, "/compliance/new").await;
    for kind in ["service_level", "asa", "abandonment_rate", "csat"] {
        assert!(
            blank.contains(&format!(r#"<option value="{kind}" selected"#)),
            "{kind} is offered filled in"
        );
    }
    assert_eq!(blank.matches("<tr data-row=").count(), 12);
    assert!(blank.contains("<summary>Add metric</summary>"));
    let before_more = &blank[..blank.find("<summary>Add metric").unwrap()];
    assert_eq!(before_more.matches("<tr data-row=").count(), 5);

    // An error on the form's third row (the second metric sent) is named after that row.
    let mut bad: Vec<(&str, &str)> = CONTRACT.to_vec();
    bad.retain(|(k, _)| *k != "m2_within_s");
    bad.push(("m2_within_s", "0"));
    // The answer is the editor itself (422), rendered from what was sent: a long text is
    // kept whole (it used to travel in the URL and was dropped past 1,500 characters).
    let long = format!("{}end-of-terms", "Service hours and scope. ".repeat(400));
    bad.push(("termination_terms", &long));
    let page = s.form_refused(&admin, "/compliance/new", &bad).await;
    assert!(s.store.list_contracts().await.unwrap().is_empty());
    assert!(
        page.contains("metrics[2].within_s"),
        "the editor shows the error"
    );
    assert!(
        page.contains("value=\"Acme support\""),
        "and keeps what was typed"
    );
    assert!(long.len() > 10_000);
    assert!(page.contains(&long), "the long text comes back whole");

    let to = s.form_redirect(&admin, "/compliance/new", CONTRACT).await;
    let stored = s.store.list_contracts().await.unwrap();
    assert_eq!(stored.len(), 1);
    let id = stored[0].id;
    assert_eq!(to, format!("/compliance/{id}?notice=saved"));
    assert_eq!(stored[0].contract.metrics.len(), 2);
    assert_eq!(stored[0].contract.scope.email_domains, ["acme.example"]);

    // The contract page renders its metrics, bands and the trend charts on the server.
    let html = s
        .page(&admin, &format!("/compliance/{id}?period=2026-10"))
        .await;
    assert!(html.contains("Average speed of answer"));
    assert!(html.contains("data-band=\"no_data\""));
    assert!(
        html.contains("<svg") && html.contains("sparkline"),
        "sparklines are drawn by the server: {html}"
    );
    // Nothing measured in any period: the trends say so instead of drawing empty frames.
    assert!(html.contains("No period has figures yet"), "{html}");
    // The editor opens with the stored values.
    let html = s.page(&admin, &format!("/compliance/{id}/edit")).await;
    assert!(html.contains("value=\"Acme\""));

    // Departments: one `team = department` per line; a bad line is named.
    let to = map_departments(&s, &admin, "Billing = Finance\nTech =").await;
    assert!(
        query(&to, "err_mapping").unwrap().starts_with("line 2"),
        "{to}"
    );
    assert!(s.store.team_departments().await.unwrap().is_empty());
    let to = map_departments(&s, &admin, "Billing = Finance\n\nTech = Product").await;
    assert_eq!(to, "/compliance?notice=departments");
    let m = s.store.team_departments().await.unwrap();
    assert_eq!(
        m.iter()
            .map(|d| (d.team.as_str(), d.department.as_str()))
            .collect::<Vec<_>>(),
        [("Billing", "Finance"), ("Tech", "Product")]
    );

    // Agents get neither the pages nor the forms; managers may not map departments.
    let agent = s
        .user_session(&admin, "agent@t.io", "agent", "agent-pass-1")
        .await;
    for path in [
        "/compliance",
        &format!("/compliance/{id}"),
        "/compliance/new",
    ] {
        let r = s.cookie_get(path, &agent).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
    }
    let r = s.form_post(&agent, "/compliance/new", CONTRACT).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let manager = s
        .user_session(&admin, "mgr@t.io", "manager", "manager-pass-1")
        .await;
    let r = s
        .form_post(&manager, "/compliance/departments", &[("mapping", "")])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(s.store.team_departments().await.unwrap().len(), 2);
}
