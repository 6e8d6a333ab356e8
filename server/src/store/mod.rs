//! Persistence: one [`Store`] trait, implemented once ([`sql_store::SqlStore`]) for SQLite
//! and PostgreSQL through a small dialect layer ([`db`]).
//!
//! Both databases take the same migrations (`migrations/`, rendered per dialect by
//! [`migrations`]) and have the same behaviour, checked by one contract test suite run
//! against both (`server/tests/suite/store_contract.rs`).

pub mod db;
pub mod facts;
pub mod group;
pub mod migrations;
pub mod postgres;
mod shared;
pub mod sql_store;
pub mod sqlite;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use promptly::account::{Role, UserView};
use promptly::compliance::{Band, Contract, FactsRecord, GroupCounts, MetricKind, PeriodKey};
use promptly::conversation::{ConversationSummary, IncomingEvent};
use promptly::notify::{Notice, NotificationList, NotificationSettings, NotificationView};
use promptly::rules::{BandChange, RuleDefinition};
use promptly::{CalendarDefinition, Policy};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;

/// What the store can fail with. `Conflict` carries the field that must be unique.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{field} is already taken")]
    Conflict { field: &'static str },
    #[error("not found")]
    NotFound,
    /// The request cannot be carried out as asked (e.g. a reorder that does not list every
    /// rule once); `field` names the offending input.
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: &'static str,
    },
    /// The input is refused field by field (a conversation past its caps); nothing was
    /// written.
    #[error("refused: {0:?}")]
    Refused(Vec<promptly::account::FieldError>),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A user row, with the password hash the login needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub password_hash: String,
    pub active: bool,
    /// Must choose a new password before anything else (a made-up or reset one).
    pub must_change_password: bool,
    pub created_at: DateTime<Utc>,
    /// The teams the user works in.
    pub teams: Vec<String>,
    /// The IANA time zone the pages show times in; `None`: not chosen.
    pub timezone: Option<String>,
}

impl User {
    pub fn view(&self) -> UserView {
        UserView {
            id: self.id,
            email: self.email.clone(),
            name: self.name.clone(),
            role: self.role,
            active: self.active,
            must_change_password: self.must_change_password,
            teams: self.teams.clone(),
            timezone: self.timezone.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: String,
    pub name: String,
    pub role: Role,
    pub password_hash: String,
    pub must_change_password: bool,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Applies the backend's pending migrations.
    async fn migrate(&self) -> StoreResult<()>;
    /// Which backend this is, for logs and `/healthz`.
    fn backend(&self) -> &'static str;
    async fn ping(&self) -> StoreResult<()>;
    /// The connection pool's use now (`/metrics`).
    fn pool_use(&self) -> PoolUse;
    /// Pending deliveries per receiver, by receiver (`/metrics`).
    async fn outbox_backlog(&self) -> StoreResult<Vec<(String, i64)>>;

    async fn count_users(&self) -> StoreResult<i64>;
    /// Creates a user; a taken e-mail is `Conflict { field: "email" }`.
    async fn create_user(&self, user: NewUser, now: DateTime<Utc>) -> StoreResult<User>;
    async fn user_by_id(&self, id: i64) -> StoreResult<Option<User>>;
    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>>;
    /// All users, ordered by e-mail.
    async fn list_users(&self) -> StoreResult<Vec<User>>;
    async fn set_user_role(&self, id: i64, role: Role) -> StoreResult<()>;
    /// Replaces the teams user `id` works in (`NotFound` for no such user).
    async fn set_user_teams(&self, id: i64, teams: &[String]) -> StoreResult<()>;
    /// Sets or clears (`None`) the time zone user `id` reads times in (`NotFound` for no
    /// such user).
    async fn set_user_timezone(&self, id: i64, timezone: Option<&str>) -> StoreResult<()>;
    /// Deactivating also ends the user's sessions, so it takes effect at once.
    async fn set_user_active(&self, id: i64, active: bool) -> StoreResult<()>;
    /// Sets a user's password (and whether they must choose another at their next request)
    /// and ends their sessions but `keep_session` (the token hash of the one that changed
    /// it), in one transaction.
    async fn set_user_password(
        &self,
        id: i64,
        password_hash: &str,
        must_change: bool,
        keep_session: Option<&str>,
    ) -> StoreResult<()>;

    async fn create_session(
        &self,
        token_hash: &str,
        user_id: i64,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// The active user behind an unexpired session.
    async fn session_user(&self, token_hash: &str, now: DateTime<Utc>)
        -> StoreResult<Option<User>>;
    async fn delete_session(&self, token_hash: &str) -> StoreResult<()>;
    /// Removes expired sessions and old login failures; returns how many rows went.
    async fn purge_expired(&self, now: DateTime<Utc>) -> StoreResult<u64>;

    async fn clear_login_failures(&self, key: &str) -> StoreResult<()>;
    /// Claims one login attempt under every key, all or none, in one transaction: each
    /// attempt counts as a failure until [`Store::forget_login_attempts`] takes it back, so
    /// parallel guesses are counted before any password is checked. `Ok(Err(seconds))`: a
    /// key refuses ([`Throttle`]), for that long at least; nothing was claimed.
    async fn claim_login_attempt(
        &self,
        keys: &[(String, Throttle)],
        now: DateTime<Utc>,
    ) -> StoreResult<Result<Vec<i64>, i64>>;
    /// Takes back claimed attempts (the password was right).
    async fn forget_login_attempts(&self, ids: &[i64]) -> StoreResult<()>;

    // The audit log (append-only).
    async fn append_audit(&self, entry: &NewAuditEntry) -> StoreResult<()>;
    /// Entries newest first, filtered as `q` asks.
    async fn list_audit(&self, q: &AuditQuery) -> StoreResult<Vec<promptly::audit::AuditEntry>>;

    // Integration tokens.
    async fn create_api_token(
        &self,
        name: &str,
        source: &str,
        scopes: promptly::account::Scopes,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<ApiToken>;
    async fn list_api_tokens(&self) -> StoreResult<Vec<ApiToken>>;
    /// `NotFound` when there is no such token.
    async fn revoke_api_token(&self, id: i64, now: DateTime<Utc>) -> StoreResult<()>;
    /// The unrevoked token with this hash.
    async fn api_token_by_hash(&self, token_hash: &str) -> StoreResult<Option<ApiToken>>;

    // Calendars.
    async fn create_calendar(
        &self,
        c: &CalendarInput,
        now: DateTime<Utc>,
    ) -> StoreResult<CalendarRecord>;
    async fn update_calendar(
        &self,
        id: i64,
        c: &CalendarInput,
        now: DateTime<Utc>,
    ) -> StoreResult<CalendarRecord>;
    async fn calendar(&self, id: i64) -> StoreResult<Option<CalendarRecord>>;
    /// Ordered by name, then id.
    async fn list_calendars(&self) -> StoreResult<Vec<CalendarRecord>>;
    /// `Conflict { field: "calendar" }` while a policy's current version uses it.
    async fn delete_calendar(&self, id: i64) -> StoreResult<()>;

    // Policies, versioned.
    /// Creates version 1.
    async fn create_policy(&self, p: &PolicyInput, now: DateTime<Utc>)
        -> StoreResult<PolicyRecord>;
    /// When a conversation uses the current version, adds a new version (current + 1);
    /// otherwise replaces the current version in place. Returns the new current version.
    async fn update_policy(
        &self,
        id: i64,
        p: &PolicyInput,
        now: DateTime<Utc>,
    ) -> StoreResult<PolicyRecord>;
    /// The current version of a policy that is not deleted.
    async fn policy(&self, id: i64) -> StoreResult<Option<PolicyRecord>>;
    /// Any version, also of a deleted policy (conversations keep theirs).
    async fn policy_version(&self, id: i64, version: i64) -> StoreResult<Option<PolicyRecord>>;
    /// Current versions of the policies not deleted, ordered by name, then id.
    async fn list_policies(&self) -> StoreResult<Vec<PolicyRecord>>;
    /// All versions of a policy, oldest first.
    async fn policy_versions(&self, id: i64) -> StoreResult<Vec<PolicyRecord>>;
    /// Marks a policy deleted; `Conflict { field: "policy" }` while it is the default.
    async fn delete_policy(&self, id: i64) -> StoreResult<()>;
    /// Moves the open (not resolved) conversations on any version of `policy_id` to
    /// `version`; returns their ids.
    async fn move_open_conversations(&self, policy_id: i64, version: i64) -> StoreResult<Vec<i64>>;

    // Automation rules, in the order they run.
    /// Ordered by position, then id.
    async fn list_rules(&self) -> StoreResult<Vec<RuleRecord>>;
    async fn rule(&self, id: i64) -> StoreResult<Option<RuleRecord>>;
    /// Appends a rule after the last one.
    async fn create_rule(
        &self,
        rule: &RuleDefinition,
        now: DateTime<Utc>,
    ) -> StoreResult<RuleRecord>;
    /// Replaces a rule's definition, keeping its place; `NotFound` when there is no such rule.
    async fn update_rule(
        &self,
        id: i64,
        rule: &RuleDefinition,
        now: DateTime<Utc>,
    ) -> StoreResult<RuleRecord>;
    /// Marks the rule deleted: it leaves every list and lookup and never runs again; its
    /// runs and deliveries keep naming it. `NotFound` when there is no such rule.
    async fn delete_rule(&self, id: i64, now: DateTime<Utc>) -> StoreResult<()>;
    /// Puts the rules in the order of `ids` (positions 0, 1, ...), in one transaction.
    /// `ids` must list every rule exactly once, else `Invalid { field: "ids" }` and nothing
    /// changes.
    async fn reorder_rules(&self, ids: &[i64]) -> StoreResult<()>;
    /// Records that a rule fired for a conversation (the automation worker's write);
    /// `trigger` is the event's name, e.g. `sla.breached`.
    async fn record_rule_run(
        &self,
        rule_id: i64,
        conversation_id: i64,
        trigger: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// How many times each rule fired at or after `since`; rules that did not are absent.
    async fn rule_fire_counts(&self, since: DateTime<Utc>) -> StoreResult<HashMap<i64, i64>>;

    // Contracts and compliance.
    /// Ordered by name (the definition's), then id.
    async fn list_contracts(&self) -> StoreResult<Vec<ContractRecord>>;
    async fn contract(&self, id: i64) -> StoreResult<Option<ContractRecord>>;
    async fn create_contract(
        &self,
        contract: &Contract,
        now: DateTime<Utc>,
    ) -> StoreResult<ContractRecord>;
    /// `NotFound` when there is no such contract.
    async fn update_contract(
        &self,
        id: i64,
        contract: &Contract,
        now: DateTime<Utc>,
    ) -> StoreResult<ContractRecord>;
    async fn delete_contract(&self, id: i64, now: DateTime<Utc>) -> StoreResult<()>;

    // Channel accounts.
    async fn create_channel_account(
        &self,
        kind: ChannelKind,
        definition: &AccountDefinition,
        now: DateTime<Utc>,
    ) -> StoreResult<ChannelAccountRecord>;
    /// The accounts not deleted, in the order they were made.
    async fn list_channel_accounts(&self) -> StoreResult<Vec<ChannelAccountRecord>>;
    /// Account `id` unless it was deleted.
    async fn channel_account(&self, id: i64) -> StoreResult<Option<ChannelAccountRecord>>;
    /// `NotFound` when there is no such account or it was deleted.
    async fn update_channel_account(
        &self,
        id: i64,
        definition: &AccountDefinition,
        now: DateTime<Utc>,
    ) -> StoreResult<ChannelAccountRecord>;
    async fn delete_channel_account(&self, id: i64, now: DateTime<Utc>) -> StoreResult<()>;
    /// The conversations of integration `source` that hold the messages with these platform
    /// ids (their events', or Promptly's own sends' `sent_id`): (message id, conversation's
    /// external id). A reply to one of them joins its conversation.
    async fn threads_of(&self, source: &str, ids: &[String]) -> StoreResult<Vec<(String, String)>>;
    /// Records what account `account_id`'s platform says became of messages it took (by
    /// their `sent_id`): a later state replaces an earlier one (delivered, read; failed
    /// at any time). Returns the sends that have just failed.
    async fn record_receipts(
        &self,
        account_id: i64,
        receipts: &[promptly::channels::Receipt],
    ) -> StoreResult<Vec<OutboxItem>>;
    /// Records watermarks: every send account `account_id` made in the conversation of
    /// integration `source`, queued by the watermark and taken by the platform, reaches its
    /// state (never going back from read to delivered). The platform stamps a message when
    /// it takes it, after Promptly queued it; a send retried past the watermark is the rare
    /// one counted early.
    async fn record_watermarks(
        &self,
        account_id: i64,
        source: &str,
        watermarks: &[promptly::channels::Watermark],
    ) -> StoreResult<()>;
    /// The sends through channel accounts of a conversation's messages, oldest first.
    async fn conversation_sends(&self, conversation_id: i64) -> StoreResult<Vec<OutboxItem>>;
    /// Which of `ids` are the platform's ids of messages Promptly sent (their echoes are not
    /// new messages).
    async fn sent_message_ids(
        &self,
        ids: &[String],
    ) -> StoreResult<std::collections::HashSet<String>>;
    /// Counts a webhook of account `id`: received and stored (`Ok`), or refused or failed
    /// (`Err` with what went wrong, kept as the last error).
    async fn record_channel_webhook(
        &self,
        id: i64,
        outcome: Result<(), &str>,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// The team → department mapping, ordered by team.
    async fn team_departments(&self) -> StoreResult<Vec<TeamDepartment>>;
    /// Replaces the whole mapping in one transaction.
    async fn set_team_departments(&self, mapping: &[TeamDepartment]) -> StoreResult<()>;
    /// A contract's period in groups of team, owner and channel, judged at `now`: the
    /// rollups of its definition (built first when it has none) plus the facts rows with a
    /// clock running (`facts::rollup_read_sql`, `facts::running_groups_sql`).
    async fn compliance_groups(
        &self,
        contract: &Contract,
        period: PeriodKey,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<GroupCounts>>;
    /// (commits, ingest batches they made durable) since the store opened: concurrent
    /// batches share a commit (`group::GroupCommit`).
    fn ingest_commits(&self) -> (u64, u64);
    /// A contract's totals in consecutive periods of one kind (a trend), one group per
    /// period in their order, with no team, owner or breakdown (its channel means nothing):
    /// two statements for all the periods.
    async fn compliance_totals(
        &self,
        contract: &Contract,
        periods: &[PeriodKey],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<GroupCounts>>;
    /// The same counts aggregated from every facts row of the period (`facts::groups_sql`):
    /// what the rollups must always equal.
    async fn compliance_groups_aggregate(
        &self,
        contract: &Contract,
        period: PeriodKey,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<GroupCounts>>;
    /// Builds the rollups of a definition (a contract's scope and metric kinds) unless they
    /// exist; returns its id.
    async fn build_rollups(&self, def: &facts::RollupDef) -> StoreResult<i64>;
    /// Drops the rollups of every definition but these (those of the live contracts).
    async fn retain_rollups(&self, keep: &[facts::RollupDef]) -> StoreResult<()>;
    /// Merges the rollup rows written since the last compaction into one row per group;
    /// returns how many buckets it merged.
    async fn compact_rollups(&self) -> StoreResult<u64>;
    /// The conversations behind a metric's number (`facts::drill_sql`), worst first.
    async fn compliance_conversations(
        &self,
        contract: &Contract,
        metric: MetricKind,
        period: PeriodKey,
        group: Option<&facts::GroupFilter>,
        now: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<DrillRow>>;
    /// What the live service level reads (`GET /api/v1/live`): the facts of the
    /// conversations created at or after `since` (unix seconds), what waits for a first
    /// response now, and the agents with open conversations.
    async fn live_snapshot(&self, since: i64, now: i64) -> StoreResult<LiveSnapshot>;
    /// The conversations on any version of policy `policy_id` created in `[from, to)`
    /// (unix seconds), by id: what a what-if replays.
    async fn policy_conversations(
        &self,
        policy_id: i64,
        from: i64,
        to: i64,
    ) -> StoreResult<Vec<i64>>;
    /// The bands of the live service level's rows as last seen, by row key.
    async fn band_states(&self) -> StoreResult<HashMap<String, Band>>;
    /// Records the bands `seen` now (row key, band) and fires `changes`: in one transaction
    /// each change not fired before (its key, across servers) is recorded with what `fire`
    /// says it does (rule runs, deliveries, notifications). Returns the changes fired here
    /// and the notifications written.
    async fn record_bands(
        &self,
        seen: &[(String, Band)],
        changes: &[BandChange],
        fire: &(dyn for<'c> Fn(&'c BandChange) -> BandFiring + Send + Sync),
        now: DateTime<Utc>,
    ) -> StoreResult<(Vec<BandChange>, Vec<Notified>)>;

    // Notifications.
    /// A user's latest `limit` notifications (newest first) and how many are unread.
    async fn notifications(&self, user_id: i64, limit: i64) -> StoreResult<NotificationList>;
    /// The notifications with these ids, each with its user (what another server wrote).
    async fn notifications_by_id(&self, ids: &[i64]) -> StoreResult<Vec<Notified>>;
    /// Marks a user's notifications read: these ids, or all with `None`. How many changed.
    async fn mark_notifications_read(
        &self,
        user_id: i64,
        ids: Option<&[i64]>,
        now: DateTime<Utc>,
    ) -> StoreResult<i64>;
    async fn notification_settings(&self, user_id: i64) -> StoreResult<NotificationSettings>;
    async fn set_notification_settings(
        &self,
        user_id: i64,
        settings: &NotificationSettings,
    ) -> StoreResult<()>;
    /// Tells the other servers (PostgreSQL) about notifications written here.
    async fn announce_notifications(&self, origin: &str, ids: &[i64]) -> StoreResult<()>;

    /// Up to `limit` conversations that have no `conversation_facts` row yet (stored
    /// before compliance existed), for the start-up backfill.
    async fn conversations_without_facts(&self, limit: i64) -> StoreResult<Vec<i64>>;

    // Settings.
    async fn default_policy(&self) -> StoreResult<Option<i64>>;
    async fn set_default_policy(&self, id: Option<i64>) -> StoreResult<()>;

    // Conversations.
    /// Stores a batch that integration `source` sent, in one transaction: events whose `id`
    /// this source sent before are `Duplicate`; a conversation id the source has not used
    /// yet is a new conversation (with `deriver.initial_policy()`);
    /// each touched conversation's derived columns are recomputed from all its events.
    /// Returns each event's outcome and the touched conversations as committed, each with
    /// all its events (what the live stream publishes, without reading them back).
    async fn ingest_batch(
        &self,
        source: &str,
        events: &[IncomingEvent],
        deriver: &dyn Deriver,
        now: DateTime<Utc>,
    ) -> StoreResult<IngestReport> {
        self.ingest_and_send(source, events, &[], deriver, now)
            .await
    }
    /// [`Store::ingest_batch`], queueing `sends` (conversation id, delivery) in the same
    /// transaction: an agent's reply is stored with its send through the channel, or
    /// neither is.
    async fn ingest_and_send(
        &self,
        source: &str,
        events: &[IncomingEvent],
        sends: &[(i64, NewOutbox)],
        deriver: &dyn Deriver,
        now: DateTime<Utc>,
    ) -> StoreResult<IngestReport>;
    /// "Take next": assigns `owner` the unassigned open conversation with the nearest
    /// deadline (of `teams`; any team when empty). At an equal deadline an urgent one comes
    /// first, then a direct one before a public one, then the oldest. Atomic: callers at once,
    /// on any servers, never get the same conversation. The assignment is a
    /// `conversation.updated` event (id `event_id`) on the conversation's timeline, ingested
    /// in the same transaction. The conversation's id, or `None` when nothing waits.
    async fn take_next(
        &self,
        owner: &str,
        teams: &[String],
        event_id: &str,
        deriver: &dyn Deriver,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<(i64, IngestReport)>>;
    /// [`Store::ingest_batch`], keeping only the outcomes.
    async fn ingest(
        &self,
        source: &str,
        events: &[IncomingEvent],
        deriver: &dyn Deriver,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<IngestOutcome>> {
        Ok(self
            .ingest_batch(source, events, deriver, now)
            .await?
            .outcomes)
    }
    /// The events of several conversations at once (the queue's rows), each ordered as
    /// [`Store::conversation_events`] orders them; conversations without events are absent.
    async fn events_of(
        &self,
        ids: &[i64],
    ) -> StoreResult<std::collections::HashMap<i64, Vec<IncomingEvent>>>;
    /// A number that changes whenever a calendar, a policy, a rule or a setting is written (by any
    /// server on this database): the SLA catalog cache's key.
    async fn catalog_generation(&self) -> StoreResult<i64>;

    // Automation.
    /// Handles up to `limit` conversations that have events waiting for their rules or an
    /// SLA instant due at `now`, each in its own transaction that holds the conversation
    /// (on PostgreSQL, conversations another server holds are skipped, not waited for):
    /// fires what is due, runs the rules, stores what they did.
    async fn automation_pass(
        &self,
        automator: &dyn Automator,
        now: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<AutomationPass>;
    /// Every conversation with an SLA instant to handle: (id, next_sla_at).
    async fn sla_schedule(&self) -> StoreResult<Vec<(i64, DateTime<Utc>)>>;
    /// Whether events wait for their rules.
    async fn automation_pending(&self) -> StoreResult<bool>;
    /// Due deliveries, oldest first, to receivers other than `full` (those with their fill
    /// in flight here): (id, receiver), at most `limit`.
    async fn due_outbox(
        &self,
        now: DateTime<Utc>,
        full: &[String],
        limit: i64,
    ) -> StoreResult<Vec<(i64, String)>>;
    /// Claims those of `ids` that are still due until `lease_until` under the claim
    /// `lease` (another server does not take them meanwhile; a crashed one's lease runs
    /// out): the claimed deliveries.
    async fn claim_outbox(
        &self,
        ids: &[i64],
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        lease: &str,
    ) -> StoreResult<Vec<OutboxItem>>;
    /// Records an attempt's outcome if the claim `lease` still holds the delivery; `false`
    /// when its lease ran out and another claim took it (that attempt's outcome counts).
    async fn finish_outbox(
        &self,
        id: i64,
        lease: &str,
        outcome: &OutboxOutcome,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Deliveries, newest first; `status` filters.
    async fn list_outbox(&self, status: Option<&str>, limit: i64) -> StoreResult<Vec<OutboxItem>>;
    async fn channel_outbounds(&self) -> StoreResult<Vec<ChannelOutbound>>;
    /// Sets (or with `None` removes) a channel's outbound webhook.
    async fn set_channel_outbound(
        &self,
        channel: &str,
        target: Option<(&str, &str)>,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// The conversations not resolved.
    async fn open_conversation_ids(&self) -> StoreResult<Vec<i64>>;
    /// How many SLA events were fired in all (for tests and benchmarks).
    async fn count_sla_firings(&self) -> StoreResult<i64>;

    // Durability: the stream's epoch, backups and retention.
    /// Takes the next stream epoch: each server start takes one, never the same twice on
    /// this database (see `migrations/0011_durability.sql`).
    async fn next_stream_epoch(&self) -> StoreResult<i64>;
    /// Copies the whole database, as of one instant, into the new file `path` while others
    /// go on reading and writing (SQLite's `VACUUM INTO`). PostgreSQL is backed up with
    /// `pg_dump`: `Invalid { field: "database" }`.
    async fn backup_into(&self, path: &str) -> StoreResult<()>;
    /// Retention: deletes up to `limit` outbox items delivered before `before` (the oldest
    /// first); returns how many went. Failed and pending ones stay.
    async fn purge_delivered(&self, before: DateTime<Utc>, limit: i64) -> StoreResult<u64>;
    /// Retention: deletes up to `limit` rule runs recorded before `before` (the oldest
    /// first); returns how many went.
    async fn purge_rule_runs(&self, before: DateTime<Utc>, limit: i64) -> StoreResult<u64>;
    /// Retention: replaces the events of up to `limit` conversations that are resolved and
    /// unchanged since before `before` (and have no events waiting for their rules) by one
    /// archive event each (`promptly::conversation::archive`: their summary and SLA
    /// timeline), and marks them `events_archived_at = now`; returns how many it took (a
    /// conversation whose archive id a channel happened to use keeps its events, marked).
    /// Their rows, compliance facts and SLA firings stay.
    async fn archive_resolved(
        &self,
        before: DateTime<Utc>,
        limit: i64,
        now: DateTime<Utc>,
    ) -> StoreResult<u64>;
    /// Tells the other servers on this database that conversations changed (PostgreSQL:
    /// `NOTIFY`); a single SQLite server has no one to tell.
    async fn announce(&self, _origin: &str, _ids: &[i64]) -> StoreResult<()> {
        Ok(())
    }
    /// A listener for the other servers' announcements (PostgreSQL only).
    async fn change_listener(&self) -> StoreResult<Option<sqlx::postgres::PgListener>> {
        Ok(None)
    }
    /// Recomputes the derived columns of many conversations in one transaction (after a
    /// policy change); returns them as committed, with their events.
    async fn rederive_many(
        &self,
        ids: &[i64],
        deriver: &dyn Deriver,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<TouchedConversation>>;
    /// Recomputes a conversation's derived columns (after a policy change).
    async fn rederive(&self, id: i64, deriver: &dyn Deriver, now: DateTime<Utc>)
        -> StoreResult<()>;
    async fn conversation(&self, id: i64) -> StoreResult<Option<ConversationRow>>;
    /// The conversations with these ids that exist, by id: one read for many.
    async fn conversations(&self, ids: &[i64]) -> StoreResult<Vec<ConversationRow>>;
    /// The conversations that integration `source` (any, with `None`) calls `external_id`:
    /// one at most with a source, oldest first.
    async fn conversations_by_external_id(
        &self,
        source: Option<&str>,
        external_id: &str,
    ) -> StoreResult<Vec<ConversationRow>>;
    /// The conversation that integration `source` calls `external_id`.
    async fn conversation_by_external_id(
        &self,
        source: &str,
        external_id: &str,
    ) -> StoreResult<Option<ConversationRow>> {
        Ok(self
            .conversations_by_external_id(Some(source), external_id)
            .await?
            .pop())
    }
    /// A conversation's events, ordered by `at`, then arrival.
    async fn conversation_events(&self, id: i64) -> StoreResult<Vec<IncomingEvent>>;
    /// Ordered by `due_at` (none last), then most recently updated first.
    async fn list_conversations(&self, f: &ConversationFilter)
        -> StoreResult<Vec<ConversationRow>>;
    /// How many conversations `f` admits (its limit and offset aside), and the teams of those
    /// it admits with its team filter aside, by name: a page of the queue says where it is in
    /// the whole and which teams it can narrow to.
    async fn count_conversations(&self, f: &ConversationFilter) -> StoreResult<(i64, Vec<String>)>;
}

pub type DynStore = Arc<dyn Store>;

/// A change to record in the audit log.
#[derive(Debug, Clone)]
pub struct NewAuditEntry {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub actor_id: Option<i64>,
    pub entity: promptly::audit::Entity,
    pub entity_id: Option<String>,
    pub action: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

/// Which audit entries to list: all filters optional; `before_id` pages back from an
/// entry (exclusive); `limit` at most.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub entity: Option<promptly::audit::Entity>,
    pub actor: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub before_id: Option<i64>,
    pub limit: i64,
}

/// An integration token (only its hash is stored; the token is shown once at creation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    /// The integration it sends for: event and conversation ids are unique within it (the
    /// tokens of one integration share them; a new token can take over from a revoked one).
    pub source: String,
    /// What the token may do.
    #[schema(value_type = Vec<promptly::account::Scope>)]
    pub scopes: promptly::account::Scopes,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A business-hours calendar as stored; `definition` is the `sla check` calendar shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CalendarRecord {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub definition: CalendarDefinition,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CalendarInput {
    pub name: String,
    pub description: String,
    pub definition: CalendarDefinition,
}

/// One version of an SLA policy; `policy` is the `sla check` policy shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PolicyRecord {
    pub id: i64,
    pub version: i64,
    pub name: String,
    pub description: String,
    pub calendar_id: Option<i64>,
    pub policy: Policy,
    pub created_at: DateTime<Utc>,
}

/// A conversation created today, as the live service level reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveRow {
    pub facts: promptly::compliance::ConversationFacts,
    /// Its targets' breaches so far (missed, or running past the deadline).
    pub breaches: i64,
}

/// Open conversations of a team and channel waiting for their first response now.
#[derive(Debug, Clone, PartialEq)]
pub struct Waiting {
    pub team: Option<String>,
    pub channel: String,
    pub count: i64,
    /// When the longest wait began (unix seconds).
    pub oldest_s: i64,
}

/// What `Store::live_snapshot` reads.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LiveSnapshot {
    pub today: Vec<LiveRow>,
    pub waiting: Vec<Waiting>,
    /// (team, agents owning an open conversation of it).
    pub agents: Vec<(Option<String>, i64)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PolicyInput {
    pub name: String,
    pub description: String,
    pub calendar_id: Option<i64>,
    pub policy: Policy,
}

/// An automation rule as stored. Its JSON is the rule's own (`name`, `enabled`, `event`,
/// `match`, `conditions`, `actions`, `stop`, ...) with `id`, `position` and the timestamps.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = StoredRule)]
pub struct RuleRecord {
    pub id: i64,
    /// Its place in the order (rules run by position, then id).
    pub position: i64,
    #[serde(flatten)]
    pub definition: RuleDefinition,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A conversation row: its identity, its policy version, and what was folded from its
/// events (the SLA is evaluated from the events when read).
#[derive(Debug, Clone)]
pub struct ConversationRow {
    pub id: i64,
    /// The integration whose id `external_id` is.
    pub source: String,
    pub external_id: String,
    pub policy_id: Option<i64>,
    pub policy_version: Option<i64>,
    pub summary: ConversationSummary,
    /// The most urgent running clock's deadline when last derived, for sorting the queue.
    pub due_at: Option<DateTime<Utc>>,
    /// The next SLA instant (warning, breach, overdue level) the automation worker must
    /// handle: the earliest after `sla_done_until`.
    pub next_sla_at: Option<DateTime<Utc>>,
    /// The worker has fired every SLA instant up to here.
    pub sla_done_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The compliance facts when just derived (never read back: the store writes them to
    /// `conversation_facts` with the derived columns).
    pub facts: Option<FactsRecord>,
    /// What all its events fold into when just derived from them (written with the derived
    /// columns, `None` clearing it; read back only by the ingest, not with the row).
    pub checkpoint: Option<promptly::conversation::Checkpoint>,
}

pub use promptly::channels::{AccountDefinition, ChannelHealth, ChannelKind};

/// A stored channel account, its secrets in clear (the API shows it through a view that
/// masks them).
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelAccountRecord {
    pub id: i64,
    pub kind: ChannelKind,
    pub definition: AccountDefinition,
    pub health: ChannelHealth,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A stored contract.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContractRecord {
    pub id: i64,
    pub contract: Contract,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Which department a team belongs to (teams compare trimmed and ignoring case).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TeamDepartment {
    #[schema(schema_with = promptly::schema::team)]
    pub team: String,
    #[schema(schema_with = promptly::schema::team)]
    pub department: String,
}

pub use promptly::compliance::DrillRow;

/// How a login key is throttled: at most `max` failures within `window_s` seconds; past
/// that, refused until the window has moved on (`spacing_s: None`, for an address), or
/// admitted once every `spacing_s` seconds (an account: a delay, not a lock-out an attacker
/// could hold for ever).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttle {
    pub max: i64,
    pub window_s: i64,
    pub spacing_s: Option<i64>,
}

/// Rows are equal when their stored columns are: `facts` and `checkpoint` are write-only
/// carriers, not read back with the row.
impl PartialEq for ConversationRow {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
            && self.source == other.source
            && self.external_id == other.external_id
            && self.policy_id == other.policy_id
            && self.policy_version == other.policy_version
            && self.summary == other.summary
            && self.due_at == other.due_at
            && self.next_sla_at == other.next_sla_at
            && self.sla_done_until == other.sla_done_until
            && self.created_at == other.created_at
            && self.updated_at == other.updated_at
    }
}

/// What the ingest transaction needs from the service: a conversation's derived columns.
#[derive(Debug)]
pub struct Derived {
    pub summary: ConversationSummary,
    pub due_at: Option<DateTime<Utc>>,
    /// Every SLA instant of its clocks (see `promptly::automation::sla_instants`), and the
    /// first of its events still to happen at the instant derived at (its clocks' instants
    /// are known only then); the store keeps the earliest one after `sla_done_until` as
    /// `next_sla_at`.
    pub sla_instants: Vec<DateTime<Utc>>,
    /// What compliance reads of it (`conversation_facts`).
    pub facts: Option<FactsRecord>,
}

impl ConversationRow {
    /// Sets `next_sla_at` from the clocks' instants: the earliest not yet handled.
    pub fn schedule(&mut self, instants: &[DateTime<Utc>]) {
        self.next_sla_at = instants
            .iter()
            .copied()
            .filter(|t| self.sla_done_until.is_none_or(|d| *t > d))
            .min();
    }

    /// Takes derived columns.
    pub fn apply(&mut self, d: Derived) {
        self.summary = d.summary;
        self.due_at = d.due_at;
        self.schedule(&d.sla_instants);
        self.facts = d.facts;
    }
}

/// Computes a conversation's derived columns from its events, inside the ingest
/// transaction (pure code: the fold and the SLA engine).
pub trait Deriver: Send + Sync {
    /// The policy version a new conversation starts with (the default policy's current one).
    fn initial_policy(&self) -> Option<(i64, i64)>;
    /// `policy` is the conversation's (policy id, version); `events` all its events.
    fn derive(&self, policy: Option<(i64, i64)>, events: &[IncomingEvent]) -> Option<Derived>;
    /// Whether an accepted event goes to the automation worker (an enabled rule listens
    /// to its kind).
    fn wants_rules(&self, _event: &IncomingEvent) -> bool {
        false
    }
}

/// One SLA event fired for a conversation (unique per metric, cycle, event and level).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlaFiring {
    pub metric: String,
    pub cycle: i64,
    pub event: String,
    pub level: i64,
    /// The instant it was due.
    pub due_at: DateTime<Utc>,
    /// Fired more than a second after it was due (e.g. the server was down).
    pub late: bool,
}

/// A delivery to make: a rule's webhook, or a system message to the channel's webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOutbox {
    pub kind: &'static str,
    pub rule_id: Option<i64>,
    /// A send through a channel account: its credentials, read at each attempt.
    pub account_id: Option<i64>,
    pub url: String,
    /// The host and port of `url` (`crate::outbox::receiver_of`).
    pub receiver: String,
    pub secret: String,
    pub body: String,
    /// The timeline message a send through an account carries (its event id).
    pub message_id: Option<String>,
}

/// A stored delivery: a rule's webhook or a message to a channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = Delivery)]
pub struct OutboxItem {
    /// Also sent as X-Promptly-Delivery, so a receiver can ignore a repeat.
    pub id: i64,
    #[schema(schema_with = delivery_kind)]
    pub kind: String,
    pub rule_id: Option<i64>,
    pub conversation_id: i64,
    /// A message sent through this channel account (else a webhook's or a channel's URL).
    pub account_id: Option<i64>,
    /// The platform's id for the message once a send was taken.
    pub sent_id: Option<String>,
    /// The timeline message a send through an account carries (its event id).
    pub message_id: Option<String>,
    /// The platform's latest receipt for a send it took.
    #[schema(schema_with = receipt_status)]
    pub receipt: Option<String>,
    pub receipt_at: Option<DateTime<Utc>>,
    /// Why the platform failed it, or that a template went instead.
    pub receipt_note: Option<String>,
    pub url: String,
    /// The host and port deliveries are limited by.
    #[serde(skip)]
    pub receiver: String,
    #[serde(skip)]
    pub secret: String,
    /// The JSON body sent (signed).
    pub body: String,
    #[schema(schema_with = delivery_status)]
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

fn delivery_kind() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    promptly::schema::words("", ["webhook", "message"])
}

fn receipt_status() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    promptly::schema::optional_words("", ["delivered", "read", "failed"])
}

fn delivery_status() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    promptly::schema::words("", ["pending", "delivered", "failed"])
}

/// How a delivery attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboxOutcome {
    Delivered,
    /// Delivered through a channel account, which named the message `id`; `note` says what
    /// went instead of what was asked (a template outside WhatsApp's 24-hour window).
    Sent {
        id: String,
        note: Option<String>,
    },
    /// Failed; tried again at `retry_at`, or given up (`None`).
    Failed {
        error: String,
        retry_at: Option<DateTime<Utc>>,
    },
}

/// A channel's outbound webhook (system messages are delivered through it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelOutbound {
    pub channel: String,
    pub url: String,
    #[serde(skip_serializing)]
    pub secret: String,
}

/// One conversation as the automation worker sees it, inside the transaction that holds it.
pub struct AutomationInput<'a> {
    pub row: &'a ConversationRow,
    /// All its events, ordered by `at`, then arrival.
    pub events: &'a [IncomingEvent],
    /// The events waiting for their rules, in arrival order.
    pub pending: &'a [IncomingEvent],
    /// The SLA events already fired: (metric, cycle, event, level).
    pub fired: &'a std::collections::HashSet<(String, i64, String, i64)>,
    pub now: DateTime<Utc>,
}

/// What the worker decided for one conversation; written in the same transaction.
#[derive(Debug, Default)]
pub struct AutomationOutput {
    /// Timeline events the rules added (ids derived from their cause: never twice).
    pub new_events: Vec<IncomingEvent>,
    /// The policy version the conversation moves to.
    pub policy: Option<(i64, i64)>,
    pub firings: Vec<SlaFiring>,
    /// (rule id, what triggered it) of every rule that ran.
    pub rule_runs: Vec<(i64, String)>,
    pub outbox: Vec<NewOutbox>,
    /// Notifications for people (warnings, breaches, rules' `notify`).
    pub notices: Vec<Notice>,
    /// The derived columns after the new events and the policy change.
    pub derived: Option<Derived>,
    /// Every SLA instant up to here is handled.
    pub done_until: Option<DateTime<Utc>>,
}

/// Runs the rules for a conversation (pure: the service's rules and SLA catalog).
pub trait Automator: Send + Sync {
    fn run(&self, input: AutomationInput<'_>) -> AutomationOutput;

    /// The catalog generation the rules were read at, if known. A pass whose transaction
    /// finds another one handles nothing and says so ([`AutomationPass::stale`]): events
    /// queued for a rule newer than these rules are never run against them.
    fn catalog_generation(&self) -> Option<i64> {
        None
    }
}

/// What one automation pass did.
#[derive(Debug, Default)]
pub struct AutomationPass {
    /// The conversations it changed, as committed, with all their events.
    pub touched: Vec<TouchedConversation>,
    /// How many conversations it handled, and SLA events it fired.
    pub handled: usize,
    pub firings: usize,
    /// The SLA events it fired, by conversation.
    pub fired: Vec<(i64, SlaFiring)>,
    /// Each handled conversation's next SLA instant.
    pub scheduled: Vec<(i64, Option<DateTime<Utc>>)>,
    /// Whether it queued deliveries.
    pub queued_deliveries: bool,
    /// The catalog moved since the automator's rules were read: nothing was handled; run
    /// the pass again with the catalog as it is now.
    pub stale: bool,
    /// The months (`facts::month_of` of their creation) of the conversations it handled,
    /// whose compliance facts it rewrote.
    pub months: Vec<i64>,
    /// The notifications it wrote, each with its user.
    pub notified: Vec<Notified>,
}

/// A notification written for a user.
#[derive(Debug, Clone, PartialEq)]
pub struct Notified {
    pub user_id: i64,
    pub notification: NotificationView,
}

/// What a band change that fired did: rule runs (rule id, trigger), deliveries and notices.
#[derive(Debug, Clone, Default)]
pub struct BandFiring {
    pub rule_runs: Vec<(i64, String)>,
    pub outbox: Vec<NewOutbox>,
    pub notices: Vec<Notice>,
}

/// What happened to each event of an ingest batch, in the batch's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum IngestOutcome {
    Accepted { conversation_id: i64 },
    Duplicate,
}

/// A conversation an ingest batch touched, as committed, with all its events.
#[derive(Debug, Clone)]
pub struct TouchedConversation {
    pub row: ConversationRow,
    pub events: Vec<IncomingEvent>,
    /// Whether its stored columns had to be updated after the insert (internal to the
    /// backends: created conversations are inserted with their final columns).
    pub stale: bool,
}

/// What an ingest batch did: each event's outcome in the batch's order, and the
/// conversations it touched in first-touched order.
#[derive(Debug, Clone, Default)]
pub struct IngestReport {
    pub outcomes: Vec<IngestOutcome>,
    pub touched: Vec<TouchedConversation>,
    /// How many accepted events wait for their rules.
    pub queued: usize,
}

/// Filters of the queue; all optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConversationFilter {
    /// Statuses to include (empty: all).
    pub statuses: Vec<String>,
    pub policy_id: Option<i64>,
    pub channel: Option<String>,
    pub team: Option<String>,
    /// `Some(None)`: unassigned only; `Some(Some(e))`: owned by `e`.
    pub owner: Option<Option<String>>,
    /// Only those whose most urgent deadline is before this instant.
    pub due_before: Option<DateTime<Utc>>,
    pub limit: i64,
    /// How many of the queue's first conversations to skip.
    pub offset: i64,
}

/// A connection pool's connections: open, of which idle, and the most it opens.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PoolUse {
    pub size: u64,
    pub idle: u64,
    pub max: u64,
}

/// Where the data lives, parsed from `PROMPTLY_DATABASE_URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(String),
    Postgres(String),
}

impl DatabaseUrl {
    /// Accepts `sqlite://path`, `sqlite:path`, `sqlite::memory:` and `postgres://` /
    /// `postgresql://` URLs; anything else is refused with a message that says so.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if let Some(rest) = raw
            .strip_prefix("sqlite://")
            .or_else(|| raw.strip_prefix("sqlite:"))
        {
            let path = rest.split('?').next().unwrap_or("");
            if path.is_empty() {
                return Err(format!(
                    "PROMPTLY_DATABASE_URL {raw:?} names no SQLite file (try sqlite://promptly.db)"
                ));
            }
            return Ok(DatabaseUrl::Sqlite(raw.to_string()));
        }
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            let parsed = url::Url::parse(raw)
                .map_err(|e| format!("PROMPTLY_DATABASE_URL is not a valid PostgreSQL URL: {e}"))?;
            if parsed.host_str().is_none_or(|h| h.is_empty()) {
                return Err("PROMPTLY_DATABASE_URL is not a valid PostgreSQL URL: no host".into());
            }
            return Ok(DatabaseUrl::Postgres(raw.to_string()));
        }
        Err(format!(
            "PROMPTLY_DATABASE_URL {raw:?} is not understood: use sqlite://FILE or postgres://USER@HOST/DB"
        ))
    }
}

/// Opens (creating a SQLite file if missing) and migrates the store.
pub async fn open(url: &DatabaseUrl) -> Result<DynStore, String> {
    let db = match url {
        DatabaseUrl::Sqlite(u) => db::Db::sqlite(
            sqlite::connect(u)
                .await
                .map_err(|e| format!("cannot open the SQLite database {u}: {e}"))?,
        ),
        DatabaseUrl::Postgres(u) => db::Db::Postgres(
            postgres::connect(u)
                .await
                .map_err(|e| format!("cannot reach the PostgreSQL database: {e}"))?,
        ),
    };
    let store: DynStore = Arc::new(sql_store::SqlStore::new(db));
    store
        .migrate()
        .await
        .map_err(|e| format!("cannot prepare the database: {e}"))?;
    Ok(store)
}

pub(crate) fn band_from_db(s: &str) -> Result<Band, sqlx::Error> {
    [
        Band::OnTarget,
        Band::Warning,
        Band::Act,
        Band::AllHands,
        Band::NoData,
    ]
    .into_iter()
    .find(|b| b.as_str() == s)
    .ok_or_else(|| sqlx::Error::Decode(format!("unknown band {s:?}").into()))
}

pub(crate) fn role_from_db(s: &str) -> Result<Role, sqlx::Error> {
    s.parse::<Role>().map_err(|e| sqlx::Error::Decode(e.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://promptly.db").unwrap(),
            DatabaseUrl::Sqlite("sqlite://promptly.db".into())
        );
        assert!(matches!(
            DatabaseUrl::parse("postgres://u@127.0.0.1:5432/db"),
            Ok(DatabaseUrl::Postgres(_))
        ));
        assert!(DatabaseUrl::parse("mysql://x").is_err());
        assert!(DatabaseUrl::parse("sqlite://").is_err());
        assert!(DatabaseUrl::parse("postgres://").is_err());
        assert!(DatabaseUrl::parse("").is_err());
    }
}
