//! Server functions the pages call. On the server they read the signed-in user that the
//! session middleware put on the request, and the [`ssr::Backend`] from context.

// `#[server]` functions take flat arguments (a URL-encoded form), and the code the macro
// generates for `get_contracts` repeats its eight.
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;
use promptly::account::UserView;
use promptly::conversation::ConversationView;
use serde::{Deserialize, Serialize};

/// The queue's filters, as the page's query string carries them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueParams {
    pub policy: Option<i64>,
    pub channel: Option<String>,
    pub team: Option<String>,
    /// `me` or `none`.
    pub owner: Option<String>,
    /// Which page of the queue (from 1), for the links that work without JavaScript.
    pub page: Option<i64>,
}

impl QueueParams {
    /// The page's first row: pages are [`promptly::limits::QUEUE_PAGE`]'s default long.
    pub fn offset(&self) -> i64 {
        let rows = promptly::limits::QUEUE_PAGE.default;
        (self.page.unwrap_or(1).max(1) - 1)
            .saturating_mul(rows)
            .min(promptly::limits::QUEUE_OFFSET_MAX / rows * rows)
    }
}

/// What the conversation page shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationPage {
    pub now: String,
    pub conversation: ConversationView,
    pub timeline: Vec<promptly::conversation::IncomingEvent>,
    /// How its messages sent through a channel account are doing (the latest send of each).
    pub sends: Vec<promptly::channels::SendState>,
    /// Whether the signed-in user may reply and change it (agents and admins).
    pub can_act: bool,
}

/// What the queue page shows: the conversations at `now`, and the filters on offer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueData {
    /// The server's instant the SLA was evaluated at (RFC 3339); the badges tick from it.
    pub now: String,
    /// A page of the queue: the rows from `offset` on.
    pub conversations: Vec<ConversationView>,
    /// The position of the first of `conversations` in the whole queue.
    pub offset: i64,
    /// How many conversations the whole queue holds under these filters.
    pub total: i64,
    /// (id, name) of each SLA policy, for the filter buttons.
    pub policies: Vec<(i64, String)>,
    pub teams: Vec<String>,
    /// The signed-in user's e-mail (the "Mine" filter, applied to live changes too).
    pub me: String,
    /// Whether the signed-in user may take the next conversation (agents and admins).
    pub can_take: bool,
    /// The live stream's latest change number when the queue was read: changes numbered
    /// above it may be missing from `conversations`.
    pub seq: u64,
}

/// A business-hours calendar as the calendars and policies pages show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalendarItem {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub definition: promptly::CalendarDefinition,
    /// RFC 3339.
    pub updated_at: String,
    /// Names of the policies whose current version counts time with it.
    pub used_by: Vec<String>,
}

/// What the calendars page shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalendarsData {
    pub calendars: Vec<CalendarItem>,
}

/// The Channels page: the channel accounts, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelsData {
    pub accounts: Vec<promptly::channels::AccountView>,
}

/// One version of an SLA policy, as the policies page shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyItem {
    pub id: i64,
    pub version: i64,
    pub name: String,
    pub description: String,
    pub calendar_id: Option<i64>,
    pub policy: promptly::Policy,
    /// RFC 3339.
    pub created_at: String,
}

/// What the policies page shows: the policies, the default, the calendars to choose from,
/// and the versions of the policy being edited.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoliciesData {
    /// The server's instant (RFC 3339); the preview's sample messages are the next ones after it.
    pub now: String,
    /// The "apply to open conversations" job the page was asked about (`?job=`), if known.
    pub job: Option<JobView>,
    pub policies: Vec<PolicyItem>,
    pub default_policy: Option<i64>,
    pub calendars: Vec<CalendarItem>,
    /// All versions of the edited policy, oldest first (empty when not editing).
    pub versions: Vec<PolicyItem>,
}

pub use promptly::job::JobView;

/// What the what-if page of a policy shows: the policy and the calendars (for the draft's
/// form), and the replay that the query asked for: its answer, the job still replaying, or
/// the request's field errors (keyed by the form's field, as the policy form's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WhatIfData {
    pub policy: PolicyItem,
    pub calendars: Vec<CalendarItem>,
    /// The server's date (UTC, YYYY-MM-DD): the default period ends with it.
    pub today: String,
    pub answer: Option<promptly::whatif::WhatIf>,
    pub job: Option<JobView>,
    pub errors: Vec<(String, String)>,
}

/// An automation rule as the rules page lists it (webhook secrets masked).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleItem {
    pub id: i64,
    /// Its place in the order the rules run in.
    pub position: i64,
    pub definition: promptly::rules::RuleDefinition,
    /// How many times it fired since 00:00 UTC today.
    pub fired_today: i64,
}

/// A rule's dry run against one conversation, as the rules page shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DryRun {
    /// Promptly's id of the conversation tested.
    pub conversation: i64,
    pub explanation: promptly::rules::Explanation,
    /// The conversation as it would be after the actions.
    pub state: promptly::rules::ConversationState,
    /// The messages and webhooks it would send.
    pub effects: Vec<promptly::rules::SideEffect>,
}

/// What the rules page shows: the rules in order, what the builder offers, and the dry run
/// asked for (`?edit=..&test=..`), if any.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RulesData {
    pub rules: Vec<RuleItem>,
    /// (id, name) of each SLA policy, for `apply_policy`.
    pub policies: Vec<(i64, String)>,
    /// (id, name) of each business-hours calendar, for `business_hours` conditions.
    pub calendars: Vec<(i64, String)>,
    pub dry_run: Option<Result<DryRun, String>>,
}

/// A contract as the contracts list shows it: its current period's worst band and money.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContractListItem {
    pub id: i64,
    pub name: String,
    pub counterparty: String,
    pub counterparty_kind: promptly::compliance::CounterpartyKind,
    pub period: promptly::compliance::PeriodKey,
    pub band: promptly::compliance::Band,
    pub conversations: usize,
    pub due: f64,
    pub credit: f64,
    pub bonus: f64,
    pub currency: String,
    /// YYYY-MM-DD.
    pub review_date: String,
    pub review: promptly::compliance::ReviewNotice,
}

/// The staffing what-if's inputs as the form sends them (minutes, fractions as percent).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StaffingParams {
    pub transactions: Option<f64>,
    pub aht_min: Option<f64>,
    pub interval_min: Option<f64>,
    /// "Answered within" threshold, seconds.
    pub within_s: Option<f64>,
    /// Target service level, percent.
    pub service_level: Option<f64>,
    /// Occupancy cap, percent.
    pub max_occupancy: Option<f64>,
    /// Shrinkage, percent.
    pub shrinkage: Option<f64>,
    /// Mean patience, minutes (Erlang A).
    pub patience_min: Option<f64>,
}

/// The what-if's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StaffingAnswer {
    pub erlang_c: promptly::staffing::Positions,
    pub erlang_a: Option<promptly::staffing::Positions>,
    /// Active agent accounts now.
    pub on_shift: usize,
}

/// What the compliance page shows: the contracts, and the staffing what-if if asked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContractsData {
    pub contracts: Vec<ContractListItem>,
    /// The team → department mapping (team, department), by team.
    pub departments: Vec<(String, String)>,
    /// Whether the signed-in user may change the mapping (admins).
    pub can_edit_departments: bool,
    pub staffing: Option<Result<StaffingAnswer, Vec<promptly::account::FieldError>>>,
}

/// A drill-down: the group (dimension and key, `None` = the "none" group) and its
/// conversations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrillData {
    pub dimension: Option<promptly::compliance::Dimension>,
    pub key: Option<String>,
    pub rows: Vec<promptly::compliance::DrillRow>,
}

/// What a contract's page shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContractData {
    pub id: i64,
    pub contract: promptly::compliance::Contract,
    pub review: promptly::compliance::ReviewNotice,
    pub compliance: promptly::compliance::Compliance,
    pub breakdowns: Vec<promptly::compliance::MetricBreakdowns>,
    /// The last 12 periods up to the one shown, oldest first.
    pub trend: Vec<promptly::compliance::Compliance>,
    /// The metric whose breakdowns are shown.
    pub metric: usize,
    pub drill: Option<DrillData>,
}

/// The audit log page's filters (its query string), all optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AuditParams {
    pub entity: Option<String>,
    pub actor: Option<String>,
    pub since: Option<String>,
    pub before: Option<i64>,
}

/// The audit log page: the entries (newest first), whether older ones follow, and the
/// filters' field errors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditData {
    pub entries: Vec<promptly::audit::AuditEntry>,
    pub more: bool,
    pub errors: Vec<promptly::account::FieldError>,
}

/// The drill-down a contract page asks for (`?metric=&dimension=&key=&drill=1`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContractQuery {
    pub period: Option<String>,
    pub metric: Option<usize>,
    pub dimension: Option<String>,
    pub key: Option<String>,
    pub drill: bool,
}

#[cfg(feature = "ssr")]
pub mod ssr {
    //! What the server crate provides to the UI during rendering.
    use async_trait::async_trait;
    use promptly::account::UserView;
    use std::sync::Arc;

    /// The signed-in user, put on the request's extensions by the session middleware.
    #[derive(Debug, Clone)]
    pub struct SessionUser(pub UserView);

    /// The server's data, as the UI needs it.
    #[async_trait]
    pub trait Backend: Send + Sync + 'static {
        /// The server's clock (the viewer's zone is resolved around it).
        fn now(&self) -> chrono::DateTime<chrono::Utc>;
        /// A person's notifications (the latest, or with `items` false only the unread
        /// count) and settings (`services::notifications`).
        async fn notifications(
            &self,
            user_id: i64,
            items: bool,
        ) -> Result<super::NotificationsData, String>;
        async fn list_users(&self) -> Result<Vec<UserView>, String>;
        /// The audit log page's entries for these filters (the caller checks the role).
        async fn audit(&self, filter: &super::AuditParams) -> Result<super::AuditData, String>;
        /// All integration tokens, revoked ones included (the caller checks the role).
        async fn list_tokens(&self) -> Result<Vec<super::TokenInfo>, String>;
        async fn conversation(
            &self,
            me: &UserView,
            id: i64,
        ) -> Result<Option<super::ConversationPage>, String>;
        /// `count` rows of the queue from `offset` (the filters of `params`; its page aside).
        async fn queue(
            &self,
            me: &UserView,
            params: &super::QueueParams,
            offset: i64,
            count: Option<i64>,
        ) -> Result<super::QueueData, String>;
        /// The calendars page's data (the caller checks the role).
        async fn calendars_page(&self) -> Result<super::CalendarsData, String>;
        /// The channel accounts, secrets masked (the caller checks the role).
        async fn channels_page(&self) -> Result<super::ChannelsData, String>;
        /// The policies page's data, with the versions of `edit` (the caller checks the role).
        async fn policies_page(
            &self,
            edit: Option<i64>,
            job: Option<u64>,
        ) -> Result<super::PoliciesData, String>;
        /// The what-if page of a policy (see [`super::get_what_if`]; the caller checks
        /// the role).
        async fn what_if_page(
            &self,
            id: i64,
            query: &str,
        ) -> Result<Option<super::WhatIfData>, String>;
        /// The rules page's data, with the dry run of rule `test.0` on conversation `test.1`
        /// (an id or the sender's id) for metric `test.2` (the caller checks the role).
        async fn rules_page(
            &self,
            test: Option<(i64, String, Option<String>)>,
        ) -> Result<super::RulesData, String>;
    }

    /// Contract compliance for managers and admins (the caller checks the role).
    #[async_trait]
    pub trait ComplianceBackend: Send + Sync + 'static {
        /// The live wallboard in intervals of `interval`.
        async fn live_board(
            &self,
            interval: promptly::compliance::IntervalLength,
        ) -> Result<promptly::compliance::Board, String>;
        async fn contracts_page(
            &self,
            me: &UserView,
            staffing: Option<super::StaffingParams>,
        ) -> Result<super::ContractsData, String>;
        async fn contract_page(
            &self,
            id: i64,
            q: super::ContractQuery,
        ) -> Result<Option<super::ContractData>, String>;
        /// A contract for its edit form.
        async fn contract_for_edit(
            &self,
            id: i64,
        ) -> Result<Option<promptly::compliance::Contract>, String>;
    }

    pub type DynBackend = Arc<dyn Backend>;
    pub type DynComplianceBackend = Arc<dyn ComplianceBackend>;

    /// The token that `POST /admin/tokens` just created, carried to the users page in a
    /// short-lived cookie; reading it also clears the cookie, so the token shows once.
    pub fn take_new_token() -> Option<String> {
        use axum::http::{header, HeaderValue};
        let parts = leptos::prelude::use_context::<axum::http::request::Parts>()?;
        let value = parts
            .headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| *k == super::NEW_TOKEN_COOKIE)
            .map(|(_, v)| v.to_string())?;
        if let Some(resp) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
            resp.append_header(
                header::SET_COOKIE,
                HeaderValue::from_static(
                    "promptly_new_token=; Path=/admin/users; HttpOnly; SameSite=Strict; Max-Age=0",
                ),
            );
        }
        let plausible = value.starts_with("pt_")
            && value.len() <= 100
            && value[3..]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        plausible.then_some(value)
    }

    /// The value of the request's cookie `name`.
    pub fn cookie(name: &str) -> Option<String> {
        let parts = leptos::prelude::use_context::<axum::http::request::Parts>()?;
        let value = parts
            .headers
            .get_all(axum::http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string());
        value
    }

    pub fn session_user() -> Option<UserView> {
        leptos::prelude::use_context::<axum::http::request::Parts>()
            .and_then(|p| p.extensions.get::<SessionUser>().map(|u| u.0.clone()))
    }
}

/// What the notifications page and the top bar's bell show: the signed-in person's latest
/// notifications, the unread count and their settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotificationsData {
    pub list: promptly::notify::NotificationList,
    pub settings: promptly::notify::NotificationSettings,
}

/// The signed-in person's notifications (none for a page without a session); with `items`
/// false only the unread count and the settings (what every page's bell needs, without
/// the list in every page's hydration data).
#[server]
pub async fn get_notifications(items: bool) -> Result<Option<NotificationsData>, ServerFnError> {
    let Some(me) = ssr::session_user() else {
        return Ok(None);
    };
    if me.id <= 0 {
        return Ok(None);
    }
    backend()?
        .notifications(me.id, items)
        .await
        .map(Some)
        .map_err(ServerFnError::new)
}

/// The signed-in user, or none.
#[server]
pub async fn get_me() -> Result<Option<UserView>, ServerFnError> {
    Ok(ssr::session_user())
}

/// The browser's time zone, as the hydrated app last found it (`Intl`); the pages use it
/// for a user who chose none.
pub const BROWSER_ZONE_COOKIE: &str = "promptly_tz";

/// The zone the signed-in user reads times in: theirs, else the browser's (its cookie),
/// else UTC; resolved around the server's now, so that the browser formats as the server
/// does (`promptly::local_time`).
#[server]
pub async fn get_zone() -> Result<promptly::local_time::ViewerZone, ServerFnError> {
    use promptly::local_time::{parse_zone, ViewerZone};
    let chosen = ssr::session_user().and_then(|u| u.timezone);
    let zone = chosen
        .or_else(|| ssr::cookie(BROWSER_ZONE_COOKIE))
        .and_then(|name| parse_zone(&name).ok());
    Ok(match zone {
        Some(tz) => ViewerZone::around(tz, backend()?.now()),
        None => ViewerZone::utc(),
    })
}

/// The audit log, newest first (admins only). (Flat arguments, like the queue's.)
#[server]
pub async fn get_audit(
    entity: Option<String>,
    actor: Option<String>,
    since: Option<String>,
    before: Option<i64>,
) -> Result<AuditData, ServerFnError> {
    require_admin("read the audit log")?;
    let params = AuditParams {
        entity,
        actor,
        since,
        before,
    };
    backend()?.audit(&params).await.map_err(ServerFnError::new)
}

/// All users (admins only).
#[server]
pub async fn list_users() -> Result<Vec<UserView>, ServerFnError> {
    require_admin("list users")?;
    backend()?.list_users().await.map_err(ServerFnError::new)
}

/// The open queue, most urgent first: `count` rows (a page when absent) from `offset`.
/// (Flat arguments: they travel as a URL-encoded form, where a struct of nothing but absent
/// options would not arrive.)
#[server]
pub async fn get_queue(
    policy: Option<i64>,
    channel: Option<String>,
    team: Option<String>,
    owner: Option<String>,
    offset: i64,
    count: Option<i64>,
) -> Result<QueueData, ServerFnError> {
    let params = QueueParams {
        policy,
        channel,
        team,
        owner,
        page: None,
    };
    let me = signed_in()?;
    backend()?
        .queue(&me, &params, offset, count)
        .await
        .map_err(ServerFnError::new)
}

/// One conversation with its thread and SLA, or none.
#[server]
pub async fn get_conversation(id: i64) -> Result<Option<ConversationPage>, ServerFnError> {
    let me = signed_in()?;
    backend()?
        .conversation(&me, id)
        .await
        .map_err(ServerFnError::new)
}

/// The signed-in user, or "Please log in.".
#[cfg(feature = "ssr")]
fn signed_in() -> Result<UserView, ServerFnError> {
    ssr::session_user().ok_or_else(|| ServerFnError::new("Please log in."))
}

/// The signed-in admin; others are told "Only admins can {what}.".
#[cfg(feature = "ssr")]
fn require_admin(what: &str) -> Result<UserView, ServerFnError> {
    let me = signed_in()?;
    if me.role != promptly::account::Role::Admin {
        return Err(ServerFnError::new(format!("Only admins can {what}.")));
    }
    Ok(me)
}

/// The backend the server crate provides, from context.
#[cfg(feature = "ssr")]
fn from_server<T: Clone + Send + Sync + 'static>() -> Result<T, ServerFnError> {
    use_context::<T>().ok_or_else(|| ServerFnError::new("server is not ready"))
}

#[cfg(feature = "ssr")]
fn backend() -> Result<ssr::DynBackend, ServerFnError> {
    from_server()
}

#[cfg(feature = "ssr")]
fn require_admin_user() -> Result<UserView, ServerFnError> {
    require_admin("manage SLA settings")
}

/// The business-hours calendars (admins only).
#[server]
pub async fn get_calendars() -> Result<CalendarsData, ServerFnError> {
    require_admin_user()?;
    backend()?
        .calendars_page()
        .await
        .map_err(ServerFnError::new)
}

/// The channel accounts (admins only).
#[server]
pub async fn get_channels() -> Result<ChannelsData, ServerFnError> {
    require_admin("manage channel accounts")?;
    backend()?.channels_page().await.map_err(ServerFnError::new)
}

/// The SLA policies, with the versions of the one being edited (admins only).
#[server]
pub async fn get_policies(
    edit: Option<i64>,
    job: Option<u64>,
) -> Result<PoliciesData, ServerFnError> {
    require_admin_user()?;
    backend()?
        .policies_page(edit, job)
        .await
        .map_err(ServerFnError::new)
}

/// The what-if page of policy `id` for the page's query string (the draft as the policy
/// form's fields, `from`, `to`, `channel`, `team`, `priority`, `level`; `run` replays, `job`
/// follows a replay that went on in the background); `None` for an unknown policy (admins
/// only).
#[server]
pub async fn get_what_if(id: i64, query: String) -> Result<Option<WhatIfData>, ServerFnError> {
    require_admin_user()?;
    backend()?
        .what_if_page(id, &query)
        .await
        .map_err(ServerFnError::new)
}

/// The policy form's preview for what is typed: each target's number and unit, the
/// business-hours toggle, the chosen calendar, and the page's instant (RFC 3339) so the
/// sample messages stay those the page first showed (admins only). Computed on the server:
/// see [`crate::routes::policies::preview`].
#[server]
pub async fn preview_policy(
    frt_value: String,
    frt_unit: String,
    nrt_value: String,
    nrt_unit: String,
    rt_value: String,
    rt_unit: String,
    business_hours: bool,
    calendar_id: Option<i64>,
    now: String,
) -> Result<Vec<String>, ServerFnError> {
    require_admin_user()?;
    let now = chrono::DateTime::parse_from_rfc3339(&now)
        .map_err(|e| ServerFnError::new(format!("now: {e}")))?
        .with_timezone(&chrono::Utc);
    let calendars = match calendar_id {
        Some(_) => {
            backend()?
                .calendars_page()
                .await
                .map_err(ServerFnError::new)?
                .calendars
        }
        None => Vec::new(),
    };
    Ok(crate::routes::policies::preview::of_form(
        [
            (&frt_value, &frt_unit),
            (&nrt_value, &nrt_unit),
            (&rt_value, &rt_unit),
        ],
        business_hours,
        calendar_id,
        &calendars,
        now,
    ))
}

/// The automation rules and what the builder offers; with `rule` and `conversation`, the
/// dry run of that rule on that conversation (admins only).
#[server]
pub async fn get_rules(
    rule: Option<i64>,
    conversation: Option<String>,
    metric: Option<String>,
) -> Result<RulesData, ServerFnError> {
    require_admin_user()?;
    let test = match (rule, conversation) {
        (Some(r), Some(c)) if !c.trim().is_empty() => Some((r, c.trim().to_string(), metric)),
        _ => None,
    };
    backend()?
        .rules_page(test)
        .await
        .map_err(ServerFnError::new)
}

/// The cookie that carries a just-created integration token from `POST /admin/tokens` to the
/// users page (HttpOnly, `Path=/admin/users`, a minute long, cleared when read).
pub const NEW_TOKEN_COOKIE: &str = "promptly_new_token";

/// An integration token as the users page lists it (never the secret).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenInfo {
    pub id: i64,
    pub name: String,
    /// The integration whose ids it sends.
    pub source: String,
    pub scopes: promptly::account::Scopes,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339; `None` while the token works.
    pub revoked_at: Option<String>,
}

/// What the users page's token section shows: the tokens, and the one just created (once).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokensData {
    pub tokens: Vec<TokenInfo>,
    pub new_token: Option<String>,
}

/// The integration tokens, and the token just created if this is the page it was created
/// for (admins only).
#[server]
pub async fn get_tokens() -> Result<TokensData, ServerFnError> {
    require_admin("manage tokens")?;
    let tokens = backend()?.list_tokens().await.map_err(ServerFnError::new)?;
    Ok(TokensData {
        tokens,
        new_token: ssr::take_new_token(),
    })
}

#[cfg(feature = "ssr")]
fn require_compliance_user() -> Result<std::sync::Arc<dyn ssr::ComplianceBackend>, ServerFnError> {
    let me = signed_in()?;
    if !promptly::account::Section::Compliance.allows(me.role) {
        return Err(ServerFnError::new(
            "Only managers and admins can read contracts.",
        ));
    }
    from_server::<ssr::DynComplianceBackend>()
}

/// The contracts with their current band, and the staffing what-if when its form was sent
/// (managers and admins). (Flat arguments: they travel as a URL-encoded form.)
#[server]
pub async fn get_contracts(
    transactions: Option<f64>,
    aht_min: Option<f64>,
    interval_min: Option<f64>,
    within_s: Option<f64>,
    service_level: Option<f64>,
    max_occupancy: Option<f64>,
    shrinkage: Option<f64>,
    patience_min: Option<f64>,
) -> Result<ContractsData, ServerFnError> {
    let backend = require_compliance_user()?;
    let me = signed_in()?;
    let params = StaffingParams {
        transactions,
        aht_min,
        interval_min,
        within_s,
        service_level,
        max_occupancy,
        shrinkage,
        patience_min,
    };
    let asked = params != StaffingParams::default();
    backend
        .contracts_page(&me, asked.then_some(params))
        .await
        .map_err(ServerFnError::new)
}

/// The live service level wallboard in intervals of `interval` minutes (15, 30 or 60;
/// default 30), managers and admins.
#[server]
pub async fn get_live(interval: Option<i64>) -> Result<promptly::compliance::Board, ServerFnError> {
    let backend = require_compliance_user()?;
    let interval = match interval {
        None => promptly::compliance::IntervalLength::Min30,
        Some(m) => promptly::compliance::IntervalLength::from_minutes(m)
            .map_err(|e| ServerFnError::new(e.to_string()))?,
    };
    backend
        .live_board(interval)
        .await
        .map_err(ServerFnError::new)
}

/// A contract's page (managers and admins); `None` when there is no such contract.
#[server]
pub async fn get_contract(
    id: i64,
    period: Option<String>,
    metric: Option<usize>,
    dimension: Option<String>,
    key: Option<String>,
    drill: Option<bool>,
) -> Result<Option<ContractData>, ServerFnError> {
    let backend = require_compliance_user()?;
    let q = ContractQuery {
        period,
        metric,
        dimension,
        key,
        drill: drill.unwrap_or(false),
    };
    backend
        .contract_page(id, q)
        .await
        .map_err(ServerFnError::new)
}

/// A contract to edit (managers and admins).
#[server]
pub async fn get_contract_for_edit(
    id: i64,
) -> Result<Option<promptly::compliance::Contract>, ServerFnError> {
    let backend = require_compliance_user()?;
    backend
        .contract_for_edit(id)
        .await
        .map_err(ServerFnError::new)
}
