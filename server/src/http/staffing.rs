//! `GET /api/v1/staffing`: how many agents a forecast needs (Erlang C, and Erlang A with a
//! customer patience), the service level and speed of answer they reach, and how many
//! agents there are (managers and admins).

use super::error::ApiError;
use super::Api;
use super::Query;
use crate::state::AppState;
use crate::store::StoreResult;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use promptly::account::{FieldError, Role};
use promptly::staffing::{
    achieved, required_positions_erlang_a, try_required_positions, Achieved, Positions,
    StaffingCase,
};
use serde::{Deserialize, Serialize};

pub fn router() -> Router<AppState> {
    Router::new().route("/staffing", get(staffing))
}

/// A forecast, in the query (the case's fields, and a patience for Erlang A).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct StaffingQuery {
    /// Contacts per interval.
    #[param(required = true, exclusive_minimum = 0)]
    transactions: Option<f64>,
    /// Average handling time, minutes.
    #[param(required = true, exclusive_minimum = 0)]
    aht_min: Option<f64>,
    /// Interval length, minutes.
    #[serde(default = "thirty")]
    #[param(default = 30, exclusive_minimum = 0)]
    interval_min: f64,
    /// The answer time of the service level (answered within this many minutes).
    #[param(required = true, exclusive_minimum = 0)]
    asa_min: Option<f64>,
    /// Target fraction answered within `asa_min`.
    #[param(required = true, minimum = 0, maximum = 1)]
    service_level: Option<f64>,
    /// Highest acceptable agent occupancy.
    #[serde(default = "one")]
    #[param(default = 1, exclusive_minimum = 0, maximum = 1)]
    max_occupancy: f64,
    /// Fraction of paid time not on the phones.
    #[serde(default)]
    #[param(default = 0, minimum = 0, exclusive_maximum = 1)]
    shrinkage: f64,
    /// Mean customer patience in minutes (Erlang A); absent: Erlang C only.
    #[param(exclusive_minimum = 0)]
    patience_min: Option<f64>,
}

fn thirty() -> f64 {
    30.0
}

fn one() -> f64 {
    1.0
}

/// The agents a forecast needs, and what they reach.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Staffing {
    case: StaffingCase,
    /// Erlang C: agents needed (raw and with shrinkage), and what they reach.
    erlang_c: Positions,
    /// The same agents' average speed of answer, minutes.
    erlang_c_achieved: Achieved,
    /// Erlang A (with abandonment), when a patience was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    erlang_a: Option<Positions>,
    /// Active agent accounts (who can take conversations).
    agents_available: usize,
}

/// Agents needed for a forecast (Erlang C and Erlang A)
///
/// Managers and admins. Erlang C as pyworkforce's `ErlangC.required_positions` computes it (the same answers on every case of its grid): search up from round(A + 1) until the service level is met, cap occupancy, add shrinkage. With `patience_min`, Erlang A (M/M/n+M: customers abandon after an exponential patience); its service level counts abandoned contacts as missed.
#[utoipa::path(get, path = "/staffing", tag = "Compliance", operation_id = "staffing",
    params(StaffingQuery), responses((status = 200, description = "The agents needed and what they reach.", body = Staffing)))]
async fn staffing(State(state): State<AppState>, Query(q): Query<StaffingQuery>) -> Api<Staffing> {
    let case = case_of(|need| StaffingCase {
        transactions: need("transactions", q.transactions),
        aht_min: need("aht_min", q.aht_min),
        interval_min: q.interval_min,
        asa_min: need("asa_min", q.asa_min),
        service_level: need("service_level", q.service_level),
        max_occupancy: q.max_occupancy,
        shrinkage: q.shrinkage,
    })
    .map_err(|errors| ApiError::Unprocessable { errors })?;
    let (erlang_c, erlang_a) =
        positions(&case, q.patience_min).map_err(|errors| ApiError::Unprocessable { errors })?;
    let agents_available = active_agents(state.store.as_ref()).await?;
    Ok(Json(Staffing {
        case,
        erlang_c_achieved: achieved(&case, erlang_c.raw_positions),
        erlang_c,
        erlang_a,
        agents_available,
    }))
}

/// The case `build` writes, each value it `need`s given (a missing one is a field error
/// "Required." on its name).
pub(crate) fn case_of(
    build: impl FnOnce(&mut dyn FnMut(&str, Option<f64>) -> f64) -> StaffingCase,
) -> Result<StaffingCase, Vec<FieldError>> {
    let mut errors = Vec::new();
    let case = build(&mut |name, v| {
        v.unwrap_or_else(|| {
            errors.push(FieldError::new(name, "Required."));
            f64::NAN
        })
    });
    if errors.is_empty() {
        Ok(case)
    } else {
        Err(errors)
    }
}

/// The agents `case` needs by Erlang C, and by Erlang A with a mean `patience_min`; field
/// errors name the case's fields.
pub(crate) fn positions(
    case: &StaffingCase,
    patience_min: Option<f64>,
) -> Result<(Positions, Option<Positions>), Vec<FieldError>> {
    let to_errors = |e: promptly::staffing::StaffingError| -> Vec<FieldError> {
        e.errors
            .into_iter()
            .map(|f| FieldError::new(f.field, f.message))
            .collect()
    };
    let erlang_c = try_required_positions(case).map_err(to_errors)?;
    let erlang_a = match patience_min {
        Some(p) => Some(required_positions_erlang_a(case, p).map_err(to_errors)?),
        None => None,
    };
    Ok((erlang_c, erlang_a))
}

/// Active agent accounts: who can take conversations now.
pub(crate) async fn active_agents(store: &dyn crate::store::Store) -> StoreResult<usize> {
    Ok(store
        .list_users()
        .await?
        .iter()
        .filter(|u| u.active && u.role == Role::Agent)
        .count())
}
