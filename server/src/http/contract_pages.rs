//! The compliance pages' data (`app::api::ssr::ComplianceBackend`) and their forms: create,
//! edit and delete a contract (`POST /compliance/new`, `/compliance/{id}/edit`,
//! `/compliance/{id}/delete`). The editor's fields become the contract JSON of
//! `/api/v1/contracts` and handed to the same service (`services::contracts`); a form with
//! errors answers 422 with the editor rendered from what was typed and the errors
//! (`err_metrics[1].target`), however long the texts (`http::form_echo`).

use super::contracts;
use super::error::ApiError;
use super::see_other;
use crate::reports::{self, Departments};
use crate::services;
use crate::state::AppState;
use app::api::ssr::ComplianceBackend;
use app::api::{
    ContractData, ContractListItem, ContractQuery, ContractsData, DrillData, StaffingAnswer,
    StaffingParams,
};
use async_trait::async_trait;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use promptly::account::{FieldError, Role};
use promptly::compliance::{Contract, PeriodKey};
use promptly::staffing::StaffingCase;
use serde_json::{json, Value};

pub struct Pages(pub AppState);

fn failed(what: &str) -> impl Fn(ApiError) -> String + '_ {
    move |e| {
        tracing::error!(error = %e, "{what} failed");
        format!("The {what} could not be loaded.")
    }
}

fn staffing(params: &StaffingParams, on_shift: usize) -> Result<StaffingAnswer, Vec<FieldError>> {
    let case = super::staffing::case_of(|need| StaffingCase {
        transactions: need("transactions", params.transactions),
        aht_min: need("aht_min", params.aht_min),
        interval_min: params.interval_min.unwrap_or(30.0),
        asa_min: need("within_s", params.within_s) / 60.0,
        service_level: need("service_level", params.service_level) / 100.0,
        max_occupancy: params.max_occupancy.unwrap_or(100.0) / 100.0,
        shrinkage: params.shrinkage.unwrap_or(0.0) / 100.0,
    })?;
    // The form asks for the answer time in seconds, as `within_s`.
    let (erlang_c, erlang_a) =
        super::staffing::positions(&case, params.patience_min).map_err(|errors| {
            errors
                .into_iter()
                .map(|mut e| {
                    if e.field == "asa_min" {
                        e.field = "within_s".into();
                    }
                    e
                })
                .collect::<Vec<_>>()
        })?;
    Ok(StaffingAnswer {
        erlang_c,
        erlang_a,
        on_shift,
    })
}

#[async_trait]
impl ComplianceBackend for Pages {
    async fn live_board(
        &self,
        interval: promptly::compliance::IntervalLength,
    ) -> Result<promptly::compliance::Board, String> {
        crate::services::live::board(&self.0, interval)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "the live board failed");
                "The live service level could not be loaded.".to_string()
            })
    }

    async fn contracts_page(
        &self,
        me: &promptly::account::UserView,
        params: Option<StaffingParams>,
    ) -> Result<ContractsData, String> {
        let state = &self.0;
        let load = async {
            let now = state.clock.now();
            let mut contracts = Vec::new();
            let stored = state.store.list_contracts().await?;
            for (rec, period, c) in reports::current(state, stored, now).await? {
                contracts.push(ContractListItem {
                    id: rec.id,
                    name: rec.contract.name.clone(),
                    counterparty: rec.contract.counterparty.clone(),
                    counterparty_kind: rec.contract.counterparty_kind,
                    period,
                    band: Contract::worst_band(&c.metrics),
                    conversations: c.conversations,
                    due: c.due,
                    credit: c.credit,
                    bonus: c.bonus,
                    currency: c.currency.clone(),
                    review_date: rec.contract.review_date.to_string(),
                    review: rec.contract.review_notice(now.date_naive()),
                });
            }
            let on_shift = super::staffing::active_agents(state.store.as_ref()).await?;
            let departments = state
                .store
                .team_departments()
                .await?
                .into_iter()
                .map(|m| (m.team, m.department))
                .collect();
            Ok::<_, ApiError>((contracts, on_shift, departments))
        };
        let (contracts, on_shift, departments) = load.await.map_err(failed("contracts"))?;
        Ok(ContractsData {
            contracts,
            departments,
            can_edit_departments: me.role == Role::Admin,
            staffing: params.map(|p| staffing(&p, on_shift)),
        })
    }

    async fn contract_page(
        &self,
        id: i64,
        q: ContractQuery,
    ) -> Result<Option<ContractData>, String> {
        let state = &self.0;
        let load = async {
            let Some(rec) = state.store.contract(id).await? else {
                return Ok(None);
            };
            let now = state.clock.now();
            let period = q
                .period
                .as_deref()
                .and_then(|p| PeriodKey::parse(p.trim()).ok())
                .unwrap_or_else(|| reports::default_period(&rec.contract, now));
            let departments = Departments::load(state.store.as_ref()).await?;
            let (compliance, breakdowns) =
                reports::evaluate(state, &departments, &rec.contract, period, now).await?;
            let trend = reports::trend(state, &rec.contract, period, 12, now).await?;
            let metric = q
                .metric
                .filter(|m| *m < rec.contract.metrics.len())
                .unwrap_or(0);
            let dimension = q
                .dimension
                .as_deref()
                .and_then(|d| contracts::dimension_of(d).ok());
            let drill = if q.drill {
                let key = q.key.clone().filter(|k| !k.is_empty());
                let rows = reports::drill(
                    state.store.as_ref(),
                    &departments,
                    &rec,
                    metric,
                    period,
                    dimension.map(|d| (d, key.as_deref())),
                    now,
                    200,
                )
                .await?;
                Some(DrillData {
                    dimension,
                    key,
                    rows,
                })
            } else {
                None
            };
            Ok::<_, ApiError>(Some(ContractData {
                id,
                review: rec.contract.review_notice(now.date_naive()),
                contract: rec.contract,
                compliance,
                breakdowns,
                trend,
                metric,
                drill,
            }))
        };
        load.await.map_err(failed("contract"))
    }

    async fn contract_for_edit(&self, id: i64) -> Result<Option<Contract>, String> {
        self.0
            .store
            .contract(id)
            .await
            .map(|r| r.map(|r| r.contract))
            .map_err(|e| failed("contract")(e.into()))
    }
}

// ---------------------------------------------------------------------------------------
// The editor's forms
// ---------------------------------------------------------------------------------------

/// The departments form: one `team = department` per line (admins).
pub(super) async fn departments(
    State(state): State<AppState>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let text = pairs
        .iter()
        .find(|(k, _)| k == "mapping")
        .map_or("", |(_, v)| v.as_str());
    let teams: Vec<Value> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (team, dept) = l.split_once('=').unwrap_or((l, ""));
            json!({"team": team.trim(), "department": dept.trim()})
        })
        .collect();
    match services::contracts::set_departments(&state, json!({ "teams": teams })).await {
        Ok(_) => see_other("/compliance", &[("notice", "departments")]),
        Err(ApiError::Unprocessable { errors }) => {
            let message = errors
                .iter()
                .map(|e| {
                    let line = e
                        .field
                        .strip_prefix("teams[")
                        .and_then(|r| r.split_once(']'))
                        .and_then(|(i, _)| i.parse::<usize>().ok())
                        .map_or(String::new(), |i| format!("line {}: ", i + 1));
                    format!("{line}{}", e.message)
                })
                .collect::<Vec<_>>()
                .join("; ");
            see_other(
                "/compliance",
                &[("mapping", text), ("err_mapping", &message)],
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "saving departments failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "The departments could not be saved.",
            )
                .into_response()
        }
    }
}

/// How many metric rows the editor may send: a contract's most metrics, and room to add.
pub const METRIC_ROWS: usize = promptly::limits::CONTRACT_METRICS + 14;

fn list(text: &str) -> Vec<Value> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| json!(s))
        .collect()
}

fn number(text: &str) -> Value {
    let t = text.trim();
    if t.is_empty() {
        return Value::Null;
    }
    t.parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map_or_else(|| json!(t), Value::Number)
}

fn integer(text: &str) -> Value {
    let t = text.trim();
    t.parse::<i64>().map_or_else(|_| json!(t), |n| json!(n))
}

/// The editor's fields as the API's contract JSON: metric rows `m{i}_kind`, `m{i}_target`,
/// `m{i}_period`, `m{i}_within_s`, `m{i}_formula`, `m{i}_short_abandon_s` (rows without a
/// kind are skipped, so the second value maps each metric of the body to its form row);
/// scope lists are comma separated.
pub fn body_of(pairs: &[(String, String)]) -> (Value, Vec<usize>) {
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == k)
            .map_or("", |(_, v)| v.as_str())
    };
    let mut metrics = Vec::new();
    let mut rows = Vec::new();
    for i in 0..METRIC_ROWS {
        let f = |name: &str| get(&format!("m{i}_{name}"));
        let kind = f("kind").trim();
        if kind.is_empty() {
            continue;
        }
        let mut m = json!({"kind": kind, "target": number(f("target")), "period": f("period")});
        if kind == "service_level" {
            m["within_s"] = integer(f("within_s"));
            m["formula"] = json!(f("formula"));
        }
        if kind == "abandonment_rate" {
            m["short_abandon_s"] = integer(f("short_abandon_s"));
        }
        metrics.push(m);
        rows.push(i);
    }
    let policies: Vec<Value> = list(get("scope_policies"))
        .into_iter()
        .map(|v| integer(v.as_str().unwrap_or_default()))
        .collect();
    let optional = |k: &str| match number(get(k)) {
        Value::Null => Value::Null,
        v => v,
    };
    let zero_default = |k: &str| match number(get(k)) {
        Value::Null => json!(0),
        v => v,
    };
    let body = json!({
        "name": get("name"),
        "counterparty_kind": get("counterparty_kind"),
        "counterparty": get("counterparty"),
        "service_description": get("service_description"),
        "our_responsibilities": get("our_responsibilities"),
        "client_responsibilities": get("client_responsibilities"),
        "remedy_terms": get("remedy_terms"),
        "incentive_terms": get("incentive_terms"),
        "termination_terms": get("termination_terms"),
        "review_date": get("review_date"),
        "scope": {
            "teams": list(get("scope_teams")),
            "channels": list(get("scope_channels")),
            "labels": list(get("scope_labels")),
            "policies": policies,
            "email_domains": list(get("scope_email_domains")),
        },
        "metrics": metrics,
        "remedies": {
            "fee_per_period": zero_default("fee_per_period"),
            "credit_per_point": zero_default("credit_per_point"),
            "credit_cap": optional("credit_cap"),
            "bonus_per_point": zero_default("bonus_per_point"),
            "bonus_cap": optional("bonus_cap"),
            "currency": get("currency").trim().to_uppercase(),
        },
    });
    (body, rows)
}

/// An error of the body's `metrics[k]…` named after the form's row instead.
fn row_error(field: &str, rows: &[usize]) -> String {
    let Some(rest) = field.strip_prefix("metrics[") else {
        return field.to_string();
    };
    let Some((k, tail)) = rest.split_once(']') else {
        return field.to_string();
    };
    match k.parse::<usize>().ok().and_then(|k| rows.get(k)) {
        Some(row) => format!("metrics[{row}]{tail}"),
        None => field.to_string(),
    }
}

/// A contract's save or delete that failed: back to the list when it is gone, 503 when the
/// database failed (`doing`, `done`: the write in words).
fn write_failed(e: ApiError, (doing, done): (&str, &str)) -> Response {
    match e {
        ApiError::NotFound => see_other("/compliance", &[("error", "not_found")]),
        e => {
            tracing::error!(error = %e, "{doing} a contract failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("The contract could not be {done}."),
            )
                .into_response()
        }
    }
}

async fn save(state: &AppState, id: Option<i64>, pairs: Vec<(String, String)>) -> Response {
    let back = id.map_or("/compliance/new".to_string(), |id| {
        format!("/compliance/{id}/edit")
    });
    let (body, rows) = body_of(&pairs);
    let result = match id {
        None => services::contracts::create(state, body).await,
        Some(id) => services::contracts::update(state, id, body).await,
    };
    match result {
        Ok(rec) => see_other(&format!("/compliance/{}", rec.id), &[("notice", "saved")]),
        Err(ApiError::Unprocessable { errors }) => {
            let mut shown: Vec<(String, String)> =
                pairs.into_iter().filter(|(_, v)| !v.is_empty()).collect();
            for e in errors {
                shown.push((format!("err_{}", row_error(&e.field, &rows)), e.message));
            }
            super::form_echo::show_again(back, shown)
        }
        Err(e) => write_failed(e, ("saving", "saved")),
    }
}

pub(super) async fn create(
    State(state): State<AppState>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    save(&state, None, pairs).await
}

pub(super) async fn edit(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    save(&state, Some(id), pairs).await
}

pub(super) async fn delete(State(state): State<AppState>, Path(id): Path<i64>) -> Response {
    match services::contracts::delete(&state, id).await {
        Ok(()) => see_other("/compliance", &[("notice", "deleted")]),
        Err(e) => write_failed(e, ("deleting", "deleted")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::form_pairs as pairs;

    #[test]
    fn the_editor_becomes_the_api_body() {
        let body = body_of(&pairs(&[
            ("name", "BigCorp"),
            ("counterparty_kind", "client"),
            ("counterparty", "BigCorp Inc."),
            ("review_date", "2027-01-31"),
            ("scope_teams", "billing, tech ,"),
            ("scope_policies", "3"),
            ("m0_kind", "service_level"),
            ("m0_target", "80"),
            ("m0_period", "month"),
            ("m0_within_s", "20"),
            ("m0_formula", "answered_only"),
            ("m1_kind", ""),
            ("m2_kind", "abandonment_rate"),
            ("m2_target", "5.5"),
            ("m2_period", "week"),
            ("m2_short_abandon_s", "10"),
            ("currency", "eur"),
            ("credit_per_point", "10"),
        ]));
        let c = Contract::from_json(body.0.clone()).unwrap();
        assert_eq!(c.scope.teams, ["billing", "tech"]);
        assert_eq!(c.scope.policies, [3]);
        assert_eq!(c.metrics.len(), 2);
        assert_eq!(c.metrics[1].target, 5.5);
        assert_eq!(c.remedies.currency, "EUR");
        assert_eq!(c.remedies.credit_cap, None);
        // The body's metrics[1] is the form's row 2 (row 1 is empty).
        assert_eq!(body.1, [0, 2]);
        assert_eq!(row_error("metrics[1].target", &body.1), "metrics[2].target");
        assert_eq!(row_error("metrics", &body.1), "metrics");
        assert_eq!(row_error("name", &body.1), "name");
    }
}
