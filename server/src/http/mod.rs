//! The HTTP service: form endpoints, the `/api/v1` API by resource, health, the live stream,
//! and the Leptos pages.

pub mod access;
pub mod admin_forms;
pub mod audit;
pub mod automation;
pub mod calendars;
pub mod channel_accounts;
pub mod channel_forms;
pub mod contract_pages;
pub mod contracts;
pub mod conversation_forms;
pub mod conversations;
pub mod docs;
pub mod error;
pub mod events;
pub mod form_echo;
pub mod forms;
pub mod guard;
pub mod headers;
pub mod health;
pub mod hooks;
pub mod live;
pub mod metrics;
pub mod notifications;
pub mod policies;
pub mod rule_forms;
pub mod rules;
pub mod staffing;
pub mod stream;
pub mod token_forms;
pub mod tokens;
pub mod users;

use crate::auth::{session_middleware, PublicOrigin};
use crate::state::AppState;
use app::api::ssr::{Backend, DynBackend};
use async_trait::async_trait;
use axum::extract::DefaultBodyLimit;
use axum::Router;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::sync::Arc;

/// What the UI's server functions may ask of the server; the public origin starts the
/// conversation links of the rules' dry run.
struct UiBackend(AppState, String);

#[async_trait]
impl Backend for UiBackend {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.0.clock.now()
    }

    async fn notifications(
        &self,
        user_id: i64,
        items: bool,
    ) -> Result<app::api::NotificationsData, String> {
        let state = &self.0;
        let list = if items {
            crate::services::notifications::list(state, user_id, None).await
        } else {
            crate::services::notifications::unread(state, user_id).await
        }
        .map_err(|e| e.to_string())?;
        let settings = crate::services::notifications::settings(state, user_id)
            .await
            .map_err(|e| e.to_string())?;
        Ok(app::api::NotificationsData { list, settings })
    }

    async fn list_tokens(&self) -> Result<Vec<app::api::TokenInfo>, String> {
        let secs =
            |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        self.0
            .store
            .list_api_tokens()
            .await
            .map(|ts| {
                ts.into_iter()
                    .map(|t| app::api::TokenInfo {
                        id: t.id,
                        name: t.name,
                        source: t.source,
                        scopes: t.scopes,
                        created_at: secs(t.created_at),
                        revoked_at: t.revoked_at.map(secs),
                    })
                    .collect()
            })
            .map_err(|e| {
                tracing::error!(error = %e, "listing tokens failed");
                "The integration tokens could not be loaded.".to_string()
            })
    }

    async fn audit(&self, p: &app::api::AuditParams) -> Result<app::api::AuditData, String> {
        let filter = audit::AuditFilter {
            entity: p.entity.clone(),
            actor: p.actor.clone(),
            since: p.since.clone(),
            before: p.before,
            limit: None,
        };
        let mut q = match filter.query() {
            Ok(q) => q,
            Err(errors) => {
                return Ok(app::api::AuditData {
                    entries: Vec::new(),
                    more: false,
                    errors,
                })
            }
        };
        // One more than a page tells whether older entries follow.
        q.limit += 1;
        let mut entries = self.0.store.list_audit(&q).await.map_err(|e| {
            tracing::error!(error = %e, "reading the audit log failed");
            "The audit log could not be loaded.".to_string()
        })?;
        let more = entries.len() as i64 == q.limit;
        entries.truncate((q.limit - 1) as usize);
        Ok(app::api::AuditData {
            entries,
            more,
            errors: Vec::new(),
        })
    }

    async fn list_users(&self) -> Result<Vec<promptly::account::UserView>, String> {
        self.0
            .store
            .list_users()
            .await
            .map(|us| us.iter().map(|u| u.view()).collect())
            .map_err(|e| {
                tracing::error!(error = %e, "listing users failed");
                "Users could not be loaded.".to_string()
            })
    }

    async fn conversation(
        &self,
        me: &promptly::account::UserView,
        id: i64,
    ) -> Result<Option<app::api::ConversationPage>, String> {
        let now = self.0.clock.now();
        let store = self.0.store.as_ref();
        let load = async {
            let Some(row) = store.conversation(id).await? else {
                return Ok(None);
            };
            let sends = store.conversation_sends(id).await?;
            let mut catalog = crate::catalog::SlaCatalog::cached(&self.0, now).await?;
            let detail =
                crate::services::conversations::conversation_detail(store, &mut catalog, row, now)
                    .await?;
            Ok::<_, crate::store::StoreError>(Some((detail, sends)))
        };
        let found = load.await.map_err(|e| {
            tracing::error!(error = %e, "loading a conversation failed");
            "The conversation could not be loaded.".to_string()
        })?;
        Ok(found.map(
            |((conversation, timeline), sends)| app::api::ConversationPage {
                now: now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                conversation,
                timeline,
                sends: sends.iter().map(crate::channel_sends::send_state).collect(),
                can_act: me.role != promptly::account::Role::Manager,
            },
        ))
    }

    async fn queue(
        &self,
        me: &promptly::account::UserView,
        params: &app::api::QueueParams,
        offset: i64,
        count: Option<i64>,
    ) -> Result<app::api::QueueData, String> {
        let now = self.0.clock.now();
        let limit = promptly::limits::QUEUE_PAGE.limit(count)?;
        let q = conversations::QueueQuery {
            status: Some("open,pending,snoozed".into()),
            policy: params.policy,
            channel: params.channel.clone(),
            team: params.team.clone(),
            owner: params.owner.clone(),
            breached: None,
            limit: Some(limit),
            offset: Some(offset),
        };
        // Read before the queue, so that every change numbered above it is newer than the
        // rows (the page re-applies those it received meanwhile).
        let seq = self.0.last_seq();
        let load = async {
            let (total, teams) = self
                .0
                .store
                .count_conversations(&q.filter(me, now)?)
                .await?;
            let conversations = conversations::queue(&self.0, me, &q, now).await?;
            let policies = self.0.store.list_policies().await?;
            Ok::<_, error::ApiError>((conversations, total, teams, policies))
        };
        let (conversations, total, mut teams, policies) = load.await.map_err(|e| match e {
            error::ApiError::Unprocessable { errors } => errors
                .iter()
                .map(|f| format!("{}: {}", f.field, f.message))
                .collect::<Vec<_>>()
                .join("; "),
            e => {
                tracing::error!(error = %e, "loading the queue failed");
                "The queue could not be loaded.".to_string()
            }
        })?;
        // A team named in the link stays on offer when nothing is open in it.
        if let Some(t) = params.team.clone().filter(|t| !teams.contains(t)) {
            teams.push(t);
            teams.sort();
        }
        Ok(app::api::QueueData {
            now: now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            conversations,
            offset,
            total,
            policies: policies.into_iter().map(|p| (p.id, p.name)).collect(),
            teams,
            me: me.email.clone(),
            can_take: me.role != promptly::account::Role::Manager,
            seq,
        })
    }

    async fn calendars_page(&self) -> Result<app::api::CalendarsData, String> {
        let load = async {
            let calendars = self.0.store.list_calendars().await?;
            let policies = self.0.store.list_policies().await?;
            Ok::<_, crate::store::StoreError>(calendar_items(calendars, &policies))
        };
        let calendars = load.await.map_err(|e| {
            tracing::error!(error = %e, "loading the calendars failed");
            "The calendars could not be loaded.".to_string()
        })?;
        Ok(app::api::CalendarsData { calendars })
    }

    async fn channels_page(&self) -> Result<app::api::ChannelsData, String> {
        let accounts = self.0.store.list_channel_accounts().await.map_err(|e| {
            tracing::error!(error = %e, "loading the channel accounts failed");
            "The channel accounts could not be loaded.".to_string()
        })?;
        let public = Some(self.1.as_str()).filter(|o| !o.is_empty());
        Ok(app::api::ChannelsData {
            accounts: accounts
                .iter()
                .map(|a| crate::services::channels::view(a, public))
                .collect(),
        })
    }

    async fn policies_page(
        &self,
        edit: Option<i64>,
        job: Option<u64>,
    ) -> Result<app::api::PoliciesData, String> {
        let now = self.0.clock.now();
        let load = async {
            let policies = self.0.store.list_policies().await?;
            let calendars = self.0.store.list_calendars().await?;
            let default_policy = self.0.store.default_policy().await?;
            let versions = match edit {
                Some(id) => self.0.store.policy_versions(id).await?,
                None => Vec::new(),
            };
            Ok::<_, crate::store::StoreError>((policies, calendars, default_policy, versions))
        };
        let (policies, calendars, default_policy, versions) = load.await.map_err(|e| {
            tracing::error!(error = %e, "loading the policies failed");
            "The policies could not be loaded.".to_string()
        })?;
        let job = job.and_then(|id| self.0.jobs().get(id));
        Ok(app::api::PoliciesData {
            now: now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            job,
            calendars: calendar_items(calendars, &policies),
            policies: policies.into_iter().map(policy_item).collect(),
            default_policy,
            versions: versions.into_iter().map(policy_item).collect(),
        })
    }

    async fn what_if_page(
        &self,
        id: i64,
        query: &str,
    ) -> Result<Option<app::api::WhatIfData>, String> {
        admin_forms::what_if_page(&self.0, id, query, |policy, calendars, policies| {
            (policy_item(policy), calendar_items(calendars, policies))
        })
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "the what-if page failed");
            "The what-if could not be run.".to_string()
        })
    }

    async fn rules_page(
        &self,
        test: Option<(i64, String, Option<String>)>,
    ) -> Result<app::api::RulesData, String> {
        let load = async {
            let rules = self.0.store.list_rules().await?;
            let rules = rules::views(&self.0, rules).await?;
            let policies = self.0.store.list_policies().await?;
            let calendars = self.0.store.list_calendars().await?;
            Ok::<_, error::ApiError>((rules, policies, calendars))
        };
        let (rules, policies, calendars) = load.await.map_err(|e| {
            tracing::error!(error = %e, "loading the rules failed");
            "The rules could not be loaded.".to_string()
        })?;
        let dry_run = match test {
            Some(t) => Some(self.dry_run(t).await),
            None => None,
        };
        Ok(app::api::RulesData {
            rules: rules
                .into_iter()
                .map(|v| app::api::RuleItem {
                    id: v.rule.id,
                    position: v.rule.position,
                    definition: v.rule.definition,
                    fired_today: v.fired_today,
                })
                .collect(),
            policies: policies.into_iter().map(|p| (p.id, p.name)).collect(),
            calendars: calendars.into_iter().map(|c| (c.id, c.name)).collect(),
            dry_run,
        })
    }
}

impl UiBackend {
    async fn dry_run(
        &self,
        (rule, conversation, metric): (i64, String, Option<String>),
    ) -> Result<app::api::DryRun, String> {
        let metric = match metric.as_deref().map(str::trim) {
            None | Some("") => promptly::Metric::FirstResponse,
            Some(m) => serde_json::from_value(serde_json::Value::String(m.to_string()))
                .map_err(|_| "The metric must be first_response, next_response or resolution.")?,
        };
        let failed = |e: error::ApiError| match e {
            error::ApiError::NotFound => {
                format!(
                    "No conversation “{conversation}” (neither Promptly's id nor a sender's id)."
                )
            }
            error::ApiError::Conflict(m) => format!("{m}."),
            e => {
                tracing::error!(error = %e, "a rule's dry run failed");
                "The dry run could not be done.".to_string()
            }
        };
        let Some(rec) = self
            .0
            .store
            .rule(rule)
            .await
            .map_err(|e| failed(e.into()))?
        else {
            return Err("That rule does not exist.".into());
        };
        let r = rules::dry_run(&self.0, &rec, (None, &conversation), metric, &self.1)
            .await
            .map_err(failed)?;
        Ok(app::api::DryRun {
            conversation: r.conversation,
            explanation: r.explanation,
            state: r.would_apply.state,
            effects: r.would_apply.effects,
        })
    }
}

fn calendar_items(
    calendars: Vec<crate::store::CalendarRecord>,
    policies: &[crate::store::PolicyRecord],
) -> Vec<app::api::CalendarItem> {
    calendars
        .into_iter()
        .map(|c| app::api::CalendarItem {
            used_by: policies
                .iter()
                .filter(|p| p.calendar_id == Some(c.id))
                .map(|p| p.name.clone())
                .collect(),
            id: c.id,
            name: c.name,
            description: c.description,
            definition: c.definition,
            updated_at: c
                .updated_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        })
        .collect()
}

fn policy_item(p: crate::store::PolicyRecord) -> app::api::PolicyItem {
    app::api::PolicyItem {
        id: p.id,
        version: p.version,
        name: p.name,
        description: p.description,
        calendar_id: p.calendar_id,
        policy: p.policy,
        created_at: p
            .created_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    }
}

/// The `/api/v1` routes.
pub fn api_router() -> Router<AppState> {
    [
        users::router(),
        audit::router(),
        stream::router(),
        tokens::router(),
        calendars::router(),
        policies::router(),
        rules::router(),
        automation::router(),
        channel_accounts::router(),
        staffing::router(),
        live::router(),
        notifications::router(),
        contracts::router(),
        events::router(),
        conversations::router(),
        docs::router(),
    ]
    .into_iter()
    .fold(Router::new(), Router::merge)
}

/// The signed-in user or token (the access table has admitted it), or 401.
pub(crate) fn require_user(
    user: Option<axum::Extension<crate::auth::CurrentUser>>,
) -> Result<promptly::account::UserView, error::ApiError> {
    user.map(|axum::Extension(crate::auth::CurrentUser(u))| u)
        .ok_or(error::ApiError::Unauthorized)
}

/// Reads a JSON body as a `Value`, so that shape errors become 422 field errors with a
/// path rather than axum's plain-text rejection.
/// A body that must be one JSON object (serde would also read a struct from an array).
pub(crate) fn object_body(
    body: Result<axum::Json<serde_json::Value>, axum::extract::rejection::JsonRejection>,
) -> Result<serde_json::Value, error::ApiError> {
    let value = json_body(body)?;
    if value.is_object() {
        Ok(value)
    } else {
        Err(error::ApiError::field("body", "must be a JSON object"))
    }
}

/// A JSON object body read into `T`; what does not fit is a 422 on `body`.
pub(crate) fn typed_body<T: serde::de::DeserializeOwned>(
    body: Result<axum::Json<serde_json::Value>, axum::extract::rejection::JsonRejection>,
) -> Result<T, error::ApiError> {
    serde_json::from_value(object_body(body)?)
        .map_err(|e| error::ApiError::field("body", e.to_string()))
}

/// A query string read into `T`. What does not fit is a 422 naming the parameter (axum's own
/// rejection is a plain-text 400 without the field).
pub(crate) struct Query<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> axum::extract::FromRequestParts<S>
    for Query<T>
{
    type Rejection = error::ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(q)) => Ok(Query(q)),
            Err(rejection) => Err(query_error(&rejection.body_text())),
        }
    }
}

/// axum's "Failed to deserialize query string: limit: invalid digit" as a field error on
/// `limit`; a message without a parameter's name is an error on `query`.
fn query_error(text: &str) -> error::ApiError {
    let detail = text
        .strip_prefix("Failed to deserialize query string: ")
        .unwrap_or(text);
    match detail.split_once(": ") {
        Some((field, message))
            if !field.is_empty()
                && field
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') =>
        {
            error::ApiError::field(field, message)
        }
        _ => error::ApiError::field("query", detail),
    }
}

/// A JSON API handler's answer.
pub(crate) type Api<T> = Result<axum::Json<T>, error::ApiError>;

/// A JSON API handler's answer with its status (201 for a new record, 202 for a job).
pub(crate) type WithStatus<T> = Result<(axum::http::StatusCode, axum::Json<T>), error::ApiError>;

/// A new record: 201 with it.
pub(crate) fn created<T>(record: T) -> WithStatus<T> {
    Ok((axum::http::StatusCode::CREATED, axum::Json(record)))
}

/// A record that was looked up, or 404.
pub(crate) fn found<T>(record: Option<T>) -> Api<T> {
    record.map(axum::Json).ok_or(error::ApiError::NotFound)
}

/// The JSON API's body extractors: a body that is not JSON, too large or of the wrong shape
/// is refused with the API's error (413, or 422 naming the field), never axum's plain text.
macro_rules! body_extractor {
    ($(#[$doc:meta])* $name:ident $(<$t:ident>)?, $read:expr) => {
        $(#[$doc])*
        pub(crate) struct $name$(<$t>)?(pub body_extractor!(@inner $($t)?));
        impl<S: Send + Sync $(, $t: serde::de::DeserializeOwned)?> axum::extract::FromRequest<S>
            for $name$(<$t>)?
        {
            type Rejection = error::ApiError;
            async fn from_request(
                req: axum::extract::Request,
                state: &S,
            ) -> Result<Self, Self::Rejection> {
                let body = axum::Json::<serde_json::Value>::from_request(req, state).await;
                $read(body).map($name)
            }
        }
    };
    (@inner $t:ident) => { $t };
    (@inner) => { serde_json::Value };
}

body_extractor!(
    /// Any JSON body ([`json_body`]).
    JsonBody,
    json_body
);
body_extractor!(
    /// A JSON object ([`object_body`]).
    Object,
    object_body
);
body_extractor!(
    /// A JSON object read into `T` ([`typed_body`]).
    Typed<T>,
    typed_body::<T>
);

/// The form handlers' answer: 303 to `path`, the query carrying a notice or errors.
pub(crate) fn see_other(path: &str, query: &[(&str, &str)]) -> axum::response::Response {
    use axum::response::IntoResponse;
    let q = serde_urlencoded::to_string(query).unwrap_or_default();
    let target = if q.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{q}")
    };
    axum::response::Redirect::to(&target).into_response()
}

/// A form handler's answer when the database failed: 503, nothing changed.
pub(crate) fn unavailable(e: impl std::fmt::Display) -> axum::response::Response {
    use axum::response::IntoResponse;
    tracing::error!(error = %e, "database error during a form");
    (
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        "The database is unavailable; nothing was changed. Please try again.",
    )
        .into_response()
}

/// A form's fields as `Form<Vec<(String, String)>>` reads them (for the form handlers' tests).
#[cfg(test)]
pub(crate) fn form_pairs(fields: &[(&str, &str)]) -> Vec<(String, String)> {
    fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A record's numeric id from the path. Anything else names no record: 404, as for an id
/// that does not exist (`/policies/abc` is not found, not a malformed request).
pub struct Id(pub i64);

/// The `{id}` path parameter, as the OpenAPI document states it.
impl utoipa::IntoParams for Id {
    fn into_params(
        _: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        vec![ParameterBuilder::new()
            .name("id")
            .parameter_in(ParameterIn::Path)
            .required(utoipa::openapi::Required::True)
            .description(Some("The numeric id."))
            .schema(Some(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64))),
            ))
            .build()]
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Id {
    type Rejection = error::ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<i64>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(id)| Id(id))
            .map_err(|_| error::ApiError::NotFound)
    }
}

/// JSON has one number type: `4.0` is the whole number 4 (JSON Schema's `integer` says
/// so too), so integral floats become integers before typed fields read them.
fn whole_numbers(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Number(n) if !n.is_i64() && !n.is_u64() => {
            if let Some(f) = n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() <= 9.0e15) {
                *v = serde_json::Value::from(f as i64);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(whole_numbers),
        serde_json::Value::Object(fields) => fields.values_mut().for_each(whole_numbers),
        _ => {}
    }
}

pub(crate) fn json_body(
    body: Result<axum::Json<serde_json::Value>, axum::extract::rejection::JsonRejection>,
) -> Result<serde_json::Value, error::ApiError> {
    match body {
        Ok(axum::Json(mut v)) => {
            whole_numbers(&mut v);
            Ok(v)
        }
        Err(axum::extract::rejection::JsonRejection::BytesRejection(_)) => {
            Err(error::ApiError::TooLarge)
        }
        Err(e) => Err(error::ApiError::field("body", e.body_text())),
    }
}

/// The HTML forms' routes, all of them (who may post each: `access::ROUTES`). Each posts
/// to a service and answers with a redirect, or the page again with what was typed (422).
fn form_routes() -> Router<AppState> {
    use axum::routing::post;
    Router::new()
        .route("/login", post(forms::login))
        .route("/logout", post(forms::logout))
        .route("/admin/users", post(forms::create))
        .route("/admin/users/{id}/role", post(forms::role))
        .route("/admin/users/{id}/teams", post(forms::teams))
        .route("/admin/users/{id}/active", post(forms::active))
        .route("/admin/users/{id}/password", post(forms::reset))
        .route("/account/password", post(forms::change_password))
        .route("/account/timezone", post(forms::change_timezone))
        .route("/admin/tokens", post(token_forms::create))
        .route("/admin/tokens/{id}/revoke", post(token_forms::revoke))
        .route(
            "/conversations/take-next",
            post(conversation_forms::take_next),
        )
        .route("/conversations/{id}/reply", post(conversation_forms::reply))
        .route(
            "/conversations/{id}/update",
            post(conversation_forms::update),
        )
        .route("/channels", post(channel_forms::save))
        .route("/channels/{id}/delete", post(channel_forms::delete))
        .route("/channels/{id}/test", post(channel_forms::test))
        .route("/calendars", post(admin_forms::save_calendar_form))
        .route("/calendars/{id}/delete", post(admin_forms::delete_calendar))
        .route("/policies", post(admin_forms::save_policy_form))
        .route("/policies/{id}/default", post(admin_forms::make_default))
        .route(
            "/policies/{id}/what-if/cancel",
            post(admin_forms::cancel_what_if),
        )
        .route("/policies/{id}/delete", post(admin_forms::delete_policy))
        .route("/rules", post(rule_forms::save_rule))
        .route("/rules/{id}/toggle", post(rule_forms::toggle_rule))
        .route("/rules/{id}/move", post(rule_forms::move_rule))
        .route("/rules/{id}/delete", post(rule_forms::delete_rule))
        .route("/compliance/new", post(contract_pages::create))
        .route("/compliance/{id}/edit", post(contract_pages::edit))
        .route("/compliance/{id}/delete", post(contract_pages::delete))
        .route("/compliance/departments", post(contract_pages::departments))
        .route("/notifications/read", post(notifications::read_all_form))
        .route("/notifications/{id}/open", post(notifications::open_form))
        .route(
            "/notifications/settings",
            post(notifications::settings_form),
        )
}

/// Where the JSON API lives.
pub const API_BASE: &str = "/api/v1";

/// The pages' route list, generated once per process. Generating it renders the app with
/// leptos' process-wide "resources do not load" switch on, and a page another server in the
/// same process (the test suite's, for one) renders meanwhile would wait forever on its
/// resources (leptos-rs/leptos#4773), so no later server generates it again.
fn page_routes() -> Vec<leptos_axum::AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> =
        std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(app::App)).clone()
}

/// The whole application.
pub fn router(
    state: AppState,
    leptos_options: LeptosOptions,
    public_url: Option<String>,
) -> Router {
    let routes = page_routes();
    let public_origin = PublicOrigin(public_url.and_then(|u| {
        url::Url::parse(&u)
            .ok()
            .map(|u| u.origin().ascii_serialization())
    }));
    let backend: DynBackend = Arc::new(UiBackend(
        state.clone(),
        public_origin.0.clone().unwrap_or_default(),
    ));
    let compliance: app::api::ssr::DynComplianceBackend =
        Arc::new(contract_pages::Pages(state.clone()));
    let context = move || {
        provide_context(backend.clone());
        provide_context(compliance.clone());
    };
    let shell_options = leptos_options.clone();

    let pages: Router<LeptosOptions> = Router::new()
        .leptos_routes_with_context(&leptos_options, routes, context, move || {
            app::shell(shell_options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler(app::shell));
    let pages = pages.with_state(leptos_options);

    Router::new()
        .merge(health::router())
        .merge(metrics::router())
        .merge(hooks::router())
        .merge(form_routes())
        .merge(docs::page_router())
        .nest(API_BASE, api_router())
        .route_layer(axum::middleware::from_fn(access::enforce))
        .route_layer(axum::middleware::from_fn(metrics::note_route))
        .with_state(state.clone())
        .merge(
            pages
                .clone()
                .route_layer(axum::middleware::from_fn(metrics::note_route)),
        )
        .layer(axum::middleware::from_fn_with_state(
            pages,
            form_echo::middleware,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            session_middleware,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::concurrency,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::hosts,
        ))
        // Every answer carries the security headers, refusals included.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            headers::middleware,
        ))
        // Every request is timed by its route, refusals included.
        .layer(axum::middleware::from_fn_with_state(state, metrics::timed))
        // Pages and JSON compressed as the client accepts (brotli, gzip); not the live
        // stream, and not the assets, which are stored precompressed.
        .layer(
            tower_http::compression::CompressionLayer::new()
                .br(true)
                .gzip(true),
        )
        .layer(axum::Extension(public_origin))
        .layer(DefaultBodyLimit::max(1024 * 1024))
}
