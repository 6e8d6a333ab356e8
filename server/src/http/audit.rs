//! `/api/v1/audit`: the audit log, newest first (admins only). What the services record
//! (`services::audit`) is read here; nothing writes through this route.

use super::error::ApiError;
use super::Api;
use super::Query;
use crate::state::AppState;
use crate::store::AuditQuery;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use promptly::audit::AuditEntry;
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new().route("/audit", get(list))
}

/// Which entries: every filter is optional.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditFilter {
    /// Only changes to this kind of record.
    #[param(value_type = Option<promptly::audit::Entity>)]
    pub entity: Option<String>,
    /// Only changes by this actor: an e-mail, `token:NAME`, `cli` or `system`.
    pub actor: Option<String>,
    /// Only changes at or after this instant (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    pub since: Option<String>,
    /// Only entries older than this entry id (the next page: the last id of this one).
    pub before: Option<i64>,
    /// How many at most.
    #[param(schema_with = promptly::schema::audit_page)]
    pub limit: Option<i64>,
}

impl AuditFilter {
    /// The store's query, or the field errors of the filters (the API's 422, the page's
    /// messages).
    pub fn query(&self) -> Result<AuditQuery, Vec<promptly::account::FieldError>> {
        use promptly::account::FieldError;
        let mut errors = Vec::new();
        fn blank(s: &Option<String>) -> Option<&str> {
            s.as_deref().map(str::trim).filter(|s| !s.is_empty())
        }
        let entity = blank(&self.entity).and_then(|e| {
            e.parse()
                .map_err(|m| errors.push(FieldError::new("entity", m)))
                .ok()
        });
        // Given, `since` must be an instant (an empty one too).
        let since = self.since.as_deref().map(str::trim).and_then(|s| {
            promptly::instant::parse_rfc3339(s)
                .map_err(|m| errors.push(FieldError::new("since", m)))
                .ok()
        });
        let limit = promptly::limits::AUDIT_PAGE
            .limit(self.limit)
            .map_err(|m| errors.push(FieldError::new("limit", m)))
            .unwrap_or_default();
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(AuditQuery {
            entity,
            actor: blank(&self.actor).map(str::to_string),
            since,
            before_id: self.before,
            limit,
        })
    }
}

/// The audit log
///
/// Every change to users, tokens, calendars, policies, the default policy, rules, contracts, departments and channel webhooks: who made it, when, and the record before and after (secrets masked). Newest first; page back with `before` (the last `id` of a page).
#[utoipa::path(get, path = "/audit", tag = "Audit", operation_id = "listAudit",
    params(AuditFilter), responses((status = 200, description = "The entries, newest first.", body = Vec<AuditEntry>)))]
async fn list(State(state): State<AppState>, Query(f): Query<AuditFilter>) -> Api<Vec<AuditEntry>> {
    let q = f
        .query()
        .map_err(|errors| ApiError::Unprocessable { errors })?;
    Ok(Json(state.store.list_audit(&q).await?))
}
