//! `/api/v1/contracts`: SLA contracts (managers and admins) and their compliance per period
//! (JSON and CSV), the conversations behind a number, and `/api/v1/departments`, the team →
//! department mapping the breakdowns use (admins write it).

use super::error::responses;
use super::error::ApiError;
use super::{Api, Id, Object, WithStatus};

use super::Query;
use crate::reports::{self, Departments};
use crate::services;
use crate::state::AppState;
use crate::store::ContractRecord;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use promptly::compliance::{
    Band, Compliance, Contract, Dimension, GroupResult, MetricBreakdowns, MetricResult, PeriodKey,
};
use serde::Deserialize;
use serde_json::json;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/contracts", get(list).post(create))
        .route("/contracts/{id}", get(show).put(update).delete(remove))
        .route("/contracts/{id}/compliance", get(compliance))
        .route("/contracts/{id}/compliance.csv", get(compliance_csv))
        .route("/contracts/{id}/conversations", get(conversations))
        .route("/departments", get(departments).put(set_departments))
}

/// A contract as the API shows it: the contract, its id and times, its review notice, and
/// in lists the current period.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[schema(as = ContractRecord)]
pub(crate) struct ContractView {
    #[serde(flatten)]
    contract: Contract,
    id: i64,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
    review: promptly::compliance::ReviewNotice,
    #[serde(skip_serializing_if = "Option::is_none")]
    current: Option<CurrentPeriod>,
}

/// In lists: the current period's worst band and money.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct CurrentPeriod {
    period: PeriodKey,
    conversations: usize,
    band: promptly::compliance::Band,
    band_label: &'static str,
    action: &'static str,
    due: f64,
    credit: f64,
    bonus: f64,
    currency: String,
}

/// The contracts, by name.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct ContractList {
    contracts: Vec<ContractView>,
}

/// A contract as the API shows it, its review notice as of `now`.
fn record_json(rec: &ContractRecord, now: DateTime<Utc>) -> ContractView {
    ContractView {
        contract: rec.contract.clone(),
        id: rec.id,
        created_at: promptly::instant::format_utc(rec.created_at),
        updated_at: promptly::instant::format_utc(rec.updated_at),
        review: rec.contract.review_notice(now.date_naive()),
        current: None,
    }
}

/// Contracts with their current band
///
/// Managers and admins.
#[utoipa::path(get, path = "/contracts", tag = "Compliance", operation_id = "listContracts",
    responses((status = 200, description = "The contracts, by name.", body = ContractList)))]
async fn list(State(state): State<AppState>) -> Api<ContractList> {
    let contracts = state.store.list_contracts().await?;
    let mut out = Vec::new();
    let now = state.clock.now();
    for (rec, period, c) in reports::current(&state, contracts, now).await? {
        let band = Contract::worst_band(&c.metrics);
        out.push(ContractView {
            current: Some(CurrentPeriod {
                period,
                conversations: c.conversations,
                band,
                band_label: band.label(),
                action: band.action(),
                due: c.due,
                credit: c.credit,
                bonus: c.bonus,
                currency: c.currency,
            }),
            ..record_json(&rec, now)
        });
    }
    Ok(Json(ContractList { contracts: out }))
}

/// Create a contract
///
/// Managers and admins. Every invalid field is reported with its path (`metrics[1].within_s`, `scope.policies[0]`).
#[utoipa::path(post, path = "/contracts", tag = "Compliance", operation_id = "createContract",
    request_body = promptly::compliance::Contract, responses((status = 201, description = "The contract.", body = ContractView), (status = 404, response = responses::MissingReference)))]
async fn create(State(state): State<AppState>, Object(body): Object) -> WithStatus<ContractView> {
    let rec = services::contracts::create(&state, body).await?;
    Ok((
        StatusCode::CREATED,
        Json(record_json(&rec, state.clock.now())),
    ))
}

async fn load(state: &AppState, id: i64) -> Result<ContractRecord, ApiError> {
    state.store.contract(id).await?.ok_or(ApiError::NotFound)
}

/// One contract
#[utoipa::path(get, path = "/contracts/{id}", tag = "Compliance", operation_id = "getContract",
    params(super::Id), responses((status = 200, description = "The contract.", body = ContractView)))]
async fn show(State(state): State<AppState>, Id(id): Id) -> Api<ContractView> {
    Ok(Json(record_json(
        &load(&state, id).await?,
        state.clock.now(),
    )))
}

/// Change a contract
#[utoipa::path(put, path = "/contracts/{id}", tag = "Compliance", operation_id = "updateContract",
    params(super::Id), request_body = promptly::compliance::Contract, responses((status = 200, description = "The contract as changed.", body = ContractView), (status = 404, response = responses::MissingReference)))]
async fn update(
    State(state): State<AppState>,
    Id(id): Id,
    Object(body): Object,
) -> Api<ContractView> {
    let rec = services::contracts::update(&state, id, body).await?;
    Ok(Json(record_json(&rec, state.clock.now())))
}

/// Delete a contract
#[utoipa::path(delete, path = "/contracts/{id}", tag = "Compliance", operation_id = "deleteContract",
    params(super::Id), responses((status = 204, description = "Deleted.")))]
async fn remove(State(state): State<AppState>, Id(id): Id) -> Result<StatusCode, ApiError> {
    services::contracts::delete(&state, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PeriodQuery {
    /// `2026-11` (month), `2026-W47` (ISO week) or `2026-Q4` (quarter); empty or absent: the
    /// current period.
    #[param(schema_with = promptly::schema::period_query)]
    period: Option<String>,
}

/// The requested period, or the contract's current one.
fn period_of(
    text: Option<&str>,
    contract: &Contract,
    now: DateTime<Utc>,
) -> Result<PeriodKey, ApiError> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(reports::default_period(contract, now)),
        Some(t) => PeriodKey::parse(t).map_err(|m| ApiError::field("period", m)),
    }
}

/// A contract's period (UTC; conversations belong to the period they were created in),
/// each metric with its band in words and its breakdowns.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[schema(as = Compliance)]
pub(crate) struct ComplianceView {
    contract: ContractName,
    period: PeriodKey,
    #[schema(format = DateTime)]
    start: String,
    #[schema(format = DateTime)]
    end: String,
    conversations: usize,
    /// The worst band of the metrics.
    band: Band,
    metrics: Vec<MetricView>,
    fee: f64,
    credit: f64,
    bonus: f64,
    /// `fee − credit + bonus`.
    due: f64,
    currency: String,
}

/// Which contract.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct ContractName {
    id: i64,
    name: String,
    counterparty: String,
}

/// One metric's result, its band in words and its breakdowns.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct MetricView {
    #[serde(flatten)]
    result: MetricResult,
    label: String,
    band_label: &'static str,
    action: &'static str,
    breakdowns: BreakdownsView,
}

/// A metric per department, team, agent and channel.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct BreakdownsView {
    department: Vec<GroupView>,
    team: Vec<GroupView>,
    agent: Vec<GroupView>,
    channel: Vec<GroupView>,
}

/// One group of a breakdown.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct GroupView {
    /// The department, team, agent e-mail or channel; `null` for none.
    key: Option<String>,
    conversations: usize,
    actual: Option<f64>,
    numerator: i64,
    denominator: i64,
    shortfall_pct: Option<f64>,
    band: Band,
}

impl GroupView {
    fn of(g: &GroupResult) -> Self {
        GroupView {
            key: g.key.clone(),
            conversations: g.conversations,
            actual: g.result.actual,
            numerator: g.result.numerator,
            denominator: g.result.denominator,
            shortfall_pct: g.result.shortfall_pct,
            band: g.result.band,
        }
    }
}

/// The compliance document: `Compliance` with each metric's band in words and its
/// breakdowns.
pub(crate) fn compliance_json(
    rec: &ContractRecord,
    c: &Compliance,
    b: &[MetricBreakdowns],
) -> ComplianceView {
    let groups = |m: &MetricBreakdowns, d: Dimension| m.get(d).iter().map(GroupView::of).collect();
    ComplianceView {
        contract: ContractName {
            id: rec.id,
            name: rec.contract.name.clone(),
            counterparty: rec.contract.counterparty.clone(),
        },
        period: c.period,
        start: promptly::instant::format_utc(c.start),
        end: promptly::instant::format_utc(c.end),
        conversations: c.conversations,
        band: Contract::worst_band(&c.metrics),
        metrics: c
            .metrics
            .iter()
            .zip(b)
            .map(|(r, m)| MetricView {
                result: r.clone(),
                label: r.kind.label(),
                band_label: r.band.label(),
                action: r.band.action(),
                breakdowns: BreakdownsView {
                    department: groups(m, Dimension::Department),
                    team: groups(m, Dimension::Team),
                    agent: groups(m, Dimension::Agent),
                    channel: groups(m, Dimension::Channel),
                },
            })
            .collect(),
        fee: c.fee,
        credit: c.credit,
        bonus: c.bonus,
        due: c.due,
        currency: c.currency.clone(),
    }
}

async fn evaluate(
    state: &AppState,
    id: i64,
    period: Option<&str>,
) -> Result<(ContractRecord, Compliance, Vec<MetricBreakdowns>), ApiError> {
    let rec = load(state, id).await?;
    let now = state.clock.now();
    let period = period_of(period, &rec.contract, now)?;
    let departments = Departments::load(state.store.as_ref()).await?;
    let (c, b) = reports::evaluate(state, &departments, &rec.contract, period, now).await?;
    Ok((rec, c, b))
}

/// A contract's compliance in a period
///
/// Per metric: target, actual, numerator, denominator, band (in words with its action), money; breakdowns by department, team, agent and channel. Running clocks past their deadline count as missed.
#[utoipa::path(get, path = "/contracts/{id}/compliance", tag = "Compliance", operation_id = "getCompliance",
    params(PeriodQuery, super::Id), responses((status = 200, description = "The compliance.", body = ComplianceView)))]
async fn compliance(
    State(state): State<AppState>,
    Id(id): Id,
    Query(q): Query<PeriodQuery>,
) -> Api<ComplianceView> {
    let (rec, c, b) = evaluate(&state, id, q.period.as_deref()).await?;
    Ok(Json(compliance_json(&rec, &c, &b)))
}

/// A CSV field: quoted when needed, and a leading `=`, `+`, `-`, `@` or tab of a name (teams
/// and agents come from channels) is kept from being read as a spreadsheet formula.
fn csv_field(text: &str) -> String {
    let guarded;
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        guarded = format!("'{text}");
        guarded.as_str()
    } else {
        text
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

fn number(x: Option<f64>) -> String {
    x.map(|v| format!("{}", (v * 10_000.0).round() / 10_000.0))
        .unwrap_or_default()
}

/// The compliance as CSV: one row per metric for the whole contract (`dimension` = `all`),
/// then one per breakdown group.
pub fn compliance_csv_text(c: &Compliance, b: &[MetricBreakdowns]) -> String {
    let mut out = String::from(
        "period,metric,kind,dimension,group,conversations,target,actual,numerator,denominator,\
         band,shortfall_pct,credit,bonus,currency\r\n",
    );
    let mut row = |metric: &MetricResult,
                   dimension: &str,
                   group: &str,
                   conversations: usize,
                   r: &MetricResult| {
        let (credit, bonus) = r
            .money
            .as_ref()
            .map_or((String::new(), String::new()), |m| {
                (format!("{:.2}", m.credit), format!("{:.2}", m.bonus))
            });
        let fields = [
            c.period.to_string(),
            csv_field(&metric.kind.label()),
            metric.kind.name().to_string(),
            dimension.to_string(),
            csv_field(group),
            conversations.to_string(),
            number(Some(metric.target)),
            number(r.actual),
            r.numerator.to_string(),
            r.denominator.to_string(),
            r.band.as_str().to_string(),
            number(r.shortfall_pct),
            credit,
            bonus,
            if r.money.is_some() {
                c.currency.clone()
            } else {
                String::new()
            },
        ];
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    };
    for m in &c.metrics {
        row(m, "all", "", c.conversations, m);
    }
    for (i, m) in c.metrics.iter().enumerate() {
        for d in Dimension::ALL {
            let name = serde_json::to_value(d).unwrap_or_default();
            for g in b[i].get(d) {
                row(
                    m,
                    name.as_str().unwrap_or_default(),
                    g.key.as_deref().unwrap_or("(none)"),
                    g.conversations,
                    &g.result,
                );
            }
        }
    }
    out
}

/// The same as CSV
///
/// Columns: period, metric, kind, dimension (all, department, team, agent, channel), group, conversations, target, actual, numerator, denominator, band, shortfall_pct, credit, bonus, currency.
#[utoipa::path(get, path = "/contracts/{id}/compliance.csv", tag = "Compliance", operation_id = "getComplianceCsv",
    params(PeriodQuery, super::Id), responses((status = 200, description = "CSV, one row per metric and per breakdown group.", body = String, content_type = "text/csv")))]
async fn compliance_csv(
    State(state): State<AppState>,
    Id(id): Id,
    Query(q): Query<PeriodQuery>,
) -> Result<Response, ApiError> {
    let (_, c, b) = evaluate(&state, id, q.period.as_deref()).await?;
    let name = format!("attachment; filename=\"contract-{id}-{}.csv\"", c.period);
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, name),
        ],
        compliance_csv_text(&c, &b),
    )
        .into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DrillQuery {
    /// `2026-11` (month), `2026-W47` (ISO week) or `2026-Q4` (quarter); empty or absent: the
    /// current period.
    #[param(schema_with = promptly::schema::period_query)]
    period: Option<String>,
    /// Index of the contract's metric (default 0).
    #[serde(default)]
    #[param(schema_with = promptly::schema::metric_index)]
    metric: usize,
    /// Only the conversations of one breakdown group (with `key`).
    #[param(value_type = Option<Dimension>)]
    dimension: Option<String>,
    /// The group; absent with a dimension: the group without one (no team, no owner, no
    /// department).
    key: Option<String>,
    /// How many at most, worst first.
    #[param(schema_with = promptly::schema::contract_conversations_page)]
    limit: Option<i64>,
}

/// The conversations behind one compliance figure.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[schema(as = ComplianceConversations)]
pub(crate) struct DrillView {
    period: PeriodKey,
    /// The metric's label.
    metric: String,
    conversations: Vec<crate::store::DrillRow>,
}

pub fn dimension_of(text: &str) -> Result<Dimension, ApiError> {
    serde_json::from_value(json!(text)).map_err(|_| {
        ApiError::field(
            "dimension",
            format!("{text:?} is not one of: department, team, agent, channel"),
        )
    })
}

/// The conversations behind a number
///
/// The conversations a metric counts in a period (its denominator), optionally of one breakdown group, worst first, each with what it adds to the numerator and denominator.
#[utoipa::path(get, path = "/contracts/{id}/conversations", tag = "Compliance", operation_id = "getComplianceConversations",
    params(DrillQuery, super::Id), responses((status = 200, description = "The conversations.", body = DrillView), (status = 404, response = responses::MissingReference)))]
async fn conversations(
    State(state): State<AppState>,
    Id(id): Id,
    Query(q): Query<DrillQuery>,
) -> Api<DrillView> {
    let rec = load(&state, id).await?;
    let now = state.clock.now();
    let period = period_of(q.period.as_deref(), &rec.contract, now)?;
    if q.metric >= rec.contract.metrics.len() {
        // The contract has no such metric: a missing record (404), named by the field.
        return Err(ApiError::Unprocessable {
            errors: vec![promptly::account::FieldError::missing(
                "metric",
                format!(
                    "must be a metric index from 0 to {}",
                    rec.contract.metrics.len() - 1
                ),
            )],
        });
    }
    let dimension = q.dimension.as_deref().map(dimension_of).transpose()?;
    let limit = promptly::limits::CONTRACT_CONVERSATIONS_PAGE
        .limit(q.limit)
        .map_err(|m| ApiError::field("limit", m))?;
    let departments = Departments::load(state.store.as_ref()).await?;
    let rows = reports::drill(
        state.store.as_ref(),
        &departments,
        &rec,
        q.metric,
        period,
        dimension.map(|d| (d, q.key.as_deref())),
        now,
        limit,
    )
    .await?;
    Ok(Json(DrillView {
        period,
        metric: rec.contract.metrics[q.metric].kind.label(),
        conversations: rows,
    }))
}

/// Which department each team belongs to, by team (teams compare trimmed and ignoring
/// case; each once).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct TeamDepartments {
    teams: Vec<crate::store::TeamDepartment>,
}

/// Which department each team belongs to
///
/// Managers and admins; the department breakdown groups teams by it.
#[utoipa::path(get, path = "/departments", tag = "Compliance", operation_id = "getDepartments",
    responses((status = 200, description = "The mapping, by team.", body = TeamDepartments)))]
async fn departments(State(state): State<AppState>) -> Api<TeamDepartments> {
    Ok(Json(TeamDepartments {
        teams: state.store.team_departments().await?,
    }))
}

/// Replace the mapping
///
/// Teams compare trimmed and ignoring case; each once.
#[utoipa::path(put, path = "/departments", tag = "Compliance", operation_id = "setDepartments",
    request_body = TeamDepartments, responses((status = 200, description = "The mapping as stored.", body = TeamDepartments), (status = 409, response = responses::Taken)))]
async fn set_departments(
    State(state): State<AppState>,
    Object(body): Object,
) -> Api<TeamDepartments> {
    let teams = services::contracts::set_departments(&state, body).await?;
    Ok(Json(TeamDepartments { teams }))
}
