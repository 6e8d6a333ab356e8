//! The [`Store`] on SQL: every statement written once and run on SQLite or PostgreSQL
//! through the dialect layer ([`super::db`]); row mapping written once.

use super::db::{Bulk, Db, Dialect, Lock, On, Query, Row, Tx, Ty, Use};
use super::facts::{self, FACT_TYPES, FACT_UPDATES};
use super::group;
use super::shared::{
    self, from_json, to_json, IngestPlan, DEFAULT_POLICY_KEY, RULE_COLUMNS, RULE_ORDER,
};
use super::{
    band_from_db, role_from_db, AccountDefinition, ApiToken, AuditQuery, AutomationPass, Automator,
    BandFiring, CalendarInput, CalendarRecord, ChannelAccountRecord, ChannelHealth, ChannelKind,
    ChannelOutbound, ContractRecord, ConversationFilter, ConversationRow, Deriver, DrillRow,
    IngestOutcome, IngestReport, NewAuditEntry, NewOutbox, NewUser, Notified, OutboxItem,
    OutboxOutcome, PolicyInput, PolicyRecord, RuleRecord, Store, StoreError, StoreResult,
    TeamDepartment, Throttle, TouchedConversation, User,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use promptly::account::Role;
use promptly::compliance::{Band, Contract, GroupCounts, MetricKind, PeriodKey};
use promptly::conversation::IncomingEvent;
use promptly::notify::{
    recipients, Member, Notice, NotificationKind, NotificationList, NotificationSettings,
    NotificationView,
};
use promptly::rules::{BandChange, RuleDefinition};
use std::collections::{HashMap, HashSet};

/// The store over one database of either kind.
pub struct SqlStore {
    db: Db,
    /// Ingest batches that share a transaction and a commit.
    group: group::GroupCommit,
    /// The highest `compliance_rollups` id this server has compacted up to.
    compacted: std::sync::atomic::AtomicI64,
    /// PostgreSQL: events this server ingested, and the count at which it next refreshes the
    /// planner's statistics ([`SqlStore::analyze_when_grown`]).
    ingested: std::sync::atomic::AtomicU64,
    next_analyze: std::sync::atomic::AtomicU64,
}

/// Events ingested before the first `ANALYZE`; each later one waits for four times as many.
const FIRST_ANALYZE: u64 = 1_000;

impl SqlStore {
    /// Refuses (`Conflict { field: "last_admin" }`) taking user `id` out of the active
    /// admins when it is the last one. The active admins are read with a row lock on
    /// PostgreSQL (the write transaction holds SQLite's one write lock), so two such changes
    /// at once cannot both pass.
    async fn keep_an_admin(&self, tx: &mut Tx, id: i64) -> StoreResult<()> {
        let mut q = self.q("SELECT id FROM users WHERE role = 'admin' AND active ORDER BY id");
        q.push_lock(Lock::Update);
        let admins: Vec<i64> = q.fetch_column(&mut *tx).await?;
        if admins == [id] {
            return Err(StoreError::Conflict {
                field: "last_admin",
            });
        }
        Ok(())
    }

    pub fn new(db: Db) -> SqlStore {
        SqlStore {
            db,
            group: group::GroupCommit::default(),
            compacted: std::sync::atomic::AtomicI64::new(0),
            ingested: std::sync::atomic::AtomicU64::new(0),
            next_analyze: std::sync::atomic::AtomicU64::new(FIRST_ANALYZE),
        }
    }

    /// PostgreSQL: refreshes the statistics of the tables ingest reads by key, in the
    /// background, when this server's ingested events pass 1,000, 4,000, 16,000, ... A
    /// prepared statement gets a generic plan after five runs, made from the statistics of
    /// the moment; on a new database autovacuum's first ANALYZE comes while `events` is
    /// nearly empty and the next a minute later at the earliest, so the ingest's duplicate
    /// check and lock (`external_id = ANY($2)`) kept a sequential scan that grew with the
    /// table (21 ms a batch after 20,000 events, `BENCHMARKS.md`). The new statistics
    /// invalidate those plans on every connection. Autovacuum takes over as the table grows.
    fn analyze_when_grown(&self, events: usize) {
        use std::sync::atomic::Ordering::Relaxed;
        let Db::Postgres(pool) = &self.db else {
            return;
        };
        let total = self.ingested.fetch_add(events as u64, Relaxed) + events as u64;
        let next = self.next_analyze.load(Relaxed);
        if total < next
            || self
                .next_analyze
                .compare_exchange(next, next.saturating_mul(4), Relaxed, Relaxed)
                .is_err()
        {
            return;
        }
        let pool = pool.clone();
        tokio::spawn(async move {
            if let Err(e) = sqlx::query("ANALYZE events, conversations")
                .execute(&pool)
                .await
            {
                tracing::warn!("could not refresh the statistics of events: {e}");
            }
        });
    }

    fn q(&self, sql: impl Into<String>) -> Query {
        self.db.query(sql)
    }

    /// Every row `sql` selects, each mapped by `f`.
    async fn rows<T>(&self, sql: impl Into<String>, f: Mapper<T>) -> StoreResult<Vec<T>> {
        all(self.q(sql).fetch_all(&self.db).await?, f)
    }

    /// The row of `table` with this id, its `columns` mapped by `f`.
    async fn by_id<T>(
        &self,
        columns: &str,
        table: &str,
        id: i64,
        f: Mapper<T>,
    ) -> StoreResult<Option<T>> {
        let q = self.q(format!("SELECT {columns} FROM {table} WHERE id = $1"));
        one(q.arg(id).fetch_optional(&self.db).await?, f)
    }

    /// Row `id` of a soft-deleted `table` (rules, contracts), unless it was deleted.
    async fn live_by_id<T>(
        &self,
        columns: &str,
        table: &str,
        id: i64,
        f: Mapper<T>,
    ) -> StoreResult<Option<T>> {
        let q = self.q(format!(
            "SELECT {columns} FROM {table} WHERE id = $1 AND deleted_at IS NULL"
        ));
        one(q.arg(id).fetch_optional(&self.db).await?, f)
    }

    /// Marks row `id` of a soft-deleted `table` deleted at `now`; `NotFound` when there is
    /// no such row or it was deleted already.
    async fn soft_delete(&self, table: &str, id: i64, now: DateTime<Utc>) -> StoreResult<()> {
        let q = self.q(format!(
            "UPDATE {table} SET deleted_at = $1 WHERE id = $2 AND deleted_at IS NULL"
        ));
        found(q.arg(now).arg(id).execute(&self.db).await?)
    }

    /// Replaces the JSON `definition` of row `id` of `table` (rules, contracts) and stamps
    /// `updated_at`; `NotFound` when there is no such row or it was deleted.
    async fn update_definition<T>(
        &self,
        (table, columns): (&str, &str),
        id: i64,
        definition: String,
        now: DateTime<Utc>,
        f: Mapper<T>,
    ) -> StoreResult<T> {
        let row = self
            .q(format!(
                "UPDATE {table} SET definition = $1, updated_at = $2 \
                 WHERE id = $3 AND deleted_at IS NULL RETURNING {columns}"
            ))
            .arg(definition)
            .arg(now)
            .arg(id)
            .fetch_optional(&self.db)
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok(f(&row)?)
    }
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

fn is_foreign_key_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_foreign_key_violation())
}

/// Maps a "referenced row is gone" failure to `NotFound`.
fn missing_reference(res: Result<u64, sqlx::Error>) -> StoreResult<()> {
    match res {
        Ok(_) => Ok(()),
        Err(e) if is_foreign_key_violation(&e) => Err(StoreError::NotFound),
        Err(e) => Err(e.into()),
    }
}

/// The row an insert returned, or `Conflict` on `field` when it broke a unique constraint.
fn unique<T>(res: Result<Row, sqlx::Error>, field: &'static str, f: Mapper<T>) -> StoreResult<T> {
    match res {
        Ok(row) => Ok(f(&row)?),
        Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict { field }),
        Err(e) => Err(e.into()),
    }
}

/// `NotFound` when a write changed no row.
fn found(changed: u64) -> StoreResult<()> {
    if changed == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

/// Reads a record from a row.
type Mapper<T> = fn(&Row) -> Result<T, sqlx::Error>;

fn all<T>(rows: Vec<Row>, f: Mapper<T>) -> StoreResult<Vec<T>> {
    Ok(rows.iter().map(f).collect::<Result<_, _>>()?)
}

fn one<T>(row: Option<Row>, f: Mapper<T>) -> StoreResult<Option<T>> {
    Ok(row.as_ref().map(f).transpose()?)
}

fn audit_from_row(r: &Row) -> Result<promptly::audit::AuditEntry, sqlx::Error> {
    let json = |col: &str| -> Result<Option<serde_json::Value>, sqlx::Error> {
        r.get::<Option<String>, _>(col)?
            .map(|t| serde_json::from_str(&t).map_err(|e| sqlx::Error::Decode(e.into())))
            .transpose()
    };
    Ok(promptly::audit::AuditEntry {
        id: r.get("id")?,
        at: r.ts("at")?,
        actor: r.get("actor")?,
        actor_id: r.get("actor_id")?,
        entity: r
            .get::<String, _>("entity")?
            .parse()
            .map_err(|e: String| sqlx::Error::Decode(e.into()))?,
        entity_id: r.get("entity_id")?,
        action: r.get("action")?,
        before: json("before")?,
        after: json("after")?,
    })
}

const USER_COLUMNS: &str =
    "id, email, name, role, password_hash, active, must_change_password, created_at, teams, timezone";

fn user_from_row(row: &Row) -> Result<User, sqlx::Error> {
    Ok(User {
        id: row.get("id")?,
        email: row.get("email")?,
        name: row.get("name")?,
        role: role_from_db(&row.get::<String, _>("role")?)?,
        password_hash: row.get("password_hash")?,
        active: row.get("active")?,
        must_change_password: row.get("must_change_password")?,
        created_at: row.ts("created_at")?,
        teams: row.json("teams")?,
        timezone: row.get("timezone")?,
    })
}

const TOKEN_COLUMNS: &str = "id, name, source, scopes, created_at, revoked_at";

fn token_from_row(row: &Row) -> Result<ApiToken, sqlx::Error> {
    Ok(ApiToken {
        id: row.get("id")?,
        name: row.get("name")?,
        source: row.get("source")?,
        scopes: promptly::account::Scopes::parse(&row.get::<String, _>("scopes")?)
            .map_err(|e| sqlx::Error::Decode(e.into()))?,
        created_at: row.ts("created_at")?,
        revoked_at: row.opt_ts("revoked_at")?,
    })
}

const CALENDAR_COLUMNS: &str = "id, name, description, definition, created_at, updated_at";

fn calendar_from_row(row: &Row) -> Result<CalendarRecord, sqlx::Error> {
    Ok(CalendarRecord {
        id: row.get("id")?,
        name: row.get("name")?,
        description: row.get("description")?,
        definition: row.json("definition")?,
        created_at: row.ts("created_at")?,
        updated_at: row.ts("updated_at")?,
    })
}

/// A policy version's columns, from `policy_versions v`.
const POLICY_COLUMNS: &str =
    "v.policy_id, v.version, v.name, v.description, v.calendar_id, v.definition, v.created_at";

fn policy_from_row(row: &Row) -> Result<PolicyRecord, sqlx::Error> {
    Ok(PolicyRecord {
        id: row.get("policy_id")?,
        version: row.get("version")?,
        name: row.get("name")?,
        description: row.get("description")?,
        calendar_id: row.get("calendar_id")?,
        policy: row.json("definition")?,
        created_at: row.ts("created_at")?,
    })
}

fn rule_from_row(row: &Row) -> Result<RuleRecord, sqlx::Error> {
    Ok(RuleRecord {
        id: row.get("id")?,
        position: row.get("position")?,
        definition: row.json("definition")?,
        created_at: row.ts("created_at")?,
        updated_at: row.ts("updated_at")?,
    })
}

const CONTRACT_COLUMNS: &str = "id, definition, created_at, updated_at";

const CHANNEL_ACCOUNT_COLUMNS: &str = "id, kind, definition, created_at, updated_at, \
     last_webhook_at, last_error, last_error_at, webhooks, failures";

fn channel_account_from_row(row: &Row) -> Result<ChannelAccountRecord, sqlx::Error> {
    let kind: String = row.get("kind")?;
    Ok(ChannelAccountRecord {
        id: row.get("id")?,
        kind: ChannelKind::parse(&kind)
            .ok_or_else(|| sqlx::Error::Decode(format!("channel kind {kind:?}").into()))?,
        definition: row.json("definition")?,
        health: ChannelHealth {
            last_webhook_at: row.opt_ts("last_webhook_at")?,
            webhooks: row.get("webhooks")?,
            failures: row.get("failures")?,
            last_error: row.get("last_error")?,
            last_error_at: row.opt_ts("last_error_at")?,
        },
        created_at: row.ts("created_at")?,
        updated_at: row.ts("updated_at")?,
    })
}

fn contract_from_row(row: &Row) -> Result<ContractRecord, sqlx::Error> {
    Ok(ContractRecord {
        id: row.get("id")?,
        contract: row.json("definition")?,
        created_at: row.ts("created_at")?,
        updated_at: row.ts("updated_at")?,
    })
}

const CONVERSATION_COLUMNS: &str =
    "id, source, external_id, policy_id, policy_version, summary, due_at, \
     next_sla_at, sla_done_until, created_at, updated_at";

fn conversation_from_row(row: &Row) -> Result<ConversationRow, sqlx::Error> {
    Ok(ConversationRow {
        id: row.get("id")?,
        source: row.get("source")?,
        external_id: row.get("external_id")?,
        policy_id: row.get("policy_id")?,
        policy_version: row.get("policy_version")?,
        summary: row.json("summary")?,
        due_at: row.opt_ts("due_at")?,
        next_sla_at: row.opt_ts("next_sla_at")?,
        sla_done_until: row.opt_ts("sla_done_until")?,
        created_at: row.ts("created_at")?,
        updated_at: row.ts("updated_at")?,
        facts: None,
        checkpoint: None,
    })
}

const OUTBOX_COLUMNS: &str = "id, kind, rule_id, conversation_id, account_id, sent_id, url, \
     receiver, secret, body, status, attempts, next_attempt_at, last_error, created_at, \
     delivered_at, message_id, receipt, receipt_at, receipt_note";

fn outbox_from_row(row: &Row) -> Result<OutboxItem, sqlx::Error> {
    Ok(OutboxItem {
        id: row.get("id")?,
        kind: row.get("kind")?,
        rule_id: row.get("rule_id")?,
        conversation_id: row.get("conversation_id")?,
        account_id: row.get("account_id")?,
        sent_id: row.get("sent_id")?,
        message_id: row.get("message_id")?,
        receipt: row.get("receipt")?,
        receipt_at: row.opt_ts("receipt_at")?,
        receipt_note: row.get("receipt_note")?,
        url: row.get("url")?,
        receiver: row.get("receiver")?,
        secret: row.get("secret")?,
        body: row.get("body")?,
        status: row.get("status")?,
        attempts: row.get("attempts")?,
        next_attempt_at: row.ts("next_attempt_at")?,
        last_error: row.get("last_error")?,
        created_at: row.ts("created_at")?,
        delivered_at: row.opt_ts("delivered_at")?,
    })
}

fn drill_from_row(r: &Row) -> Result<DrillRow, sqlx::Error> {
    Ok(DrillRow {
        conversation_id: r.get("conversation_id")?,
        external_id: r.get("external_id")?,
        created_at: shared::from_unix(r.get("created_s")?),
        channel: r.get("channel")?,
        team: r.get("team")?,
        owner: r.get("owner")?,
        first_response_s: r.get("first_response_s")?,
        abandoned_s: r.get("abandoned_s")?,
        numerator: r.get("num")?,
        denominator: r.get("den")?,
    })
}

/// A row of the compliance aggregate: team, owner, channel, conversations, then a
/// (numerator, denominator) pair per metric.
/// A group of `facts::rollup_read_sql` or `facts::late_groups_sql`: team, owner, channel
/// and the counts packed in one column.
fn group_from_packed_row(r: &Row, metrics: usize) -> Result<GroupCounts, sqlx::Error> {
    let counts = packed_counts(r, 3, metrics)?;
    Ok(GroupCounts {
        team: r.get(0)?,
        owner: r.get(1)?,
        channel: shared::channel_of(&r.get::<String, _>(2)?)?,
        conversations: counts[0],
        tallies: counts[1..].chunks(2).map(|p| (p[0], p[1])).collect(),
    })
}

/// Column `i`'s packed counts (`facts::unpack`): conversations, then a numerator and a
/// denominator for each of `metrics`.
fn packed_counts(r: &Row, i: usize, metrics: usize) -> Result<Vec<i64>, sqlx::Error> {
    let text: String = r.get(i)?;
    facts::unpack(&text)
        .filter(|c| c.len() == 1 + 2 * metrics)
        .ok_or_else(|| sqlx::Error::Decode(format!("packed counts {text:?}").into()))
}

fn group_from_row(r: &Row, metrics: usize) -> Result<GroupCounts, sqlx::Error> {
    let mut tallies = Vec::with_capacity(metrics);
    for i in 0..metrics {
        tallies.push((r.get(4 + 2 * i)?, r.get(5 + 2 * i)?));
    }
    Ok(GroupCounts {
        team: r.get(0)?,
        owner: r.get(1)?,
        channel: shared::channel_of(&r.get::<String, _>(2)?)?,
        conversations: r.get(3)?,
        tallies,
    })
}

/// The statements that run inside a transaction, shared by several store methods.
impl SqlStore {
    /// `NotFound` unless `sql` (selecting an id by `$1`) finds the row, which `lock` then
    /// holds until commit.
    async fn lock_row(&self, tx: &mut Tx, sql: &str, id: i64, lock: Lock) -> StoreResult<()> {
        let mut q = self.q(sql);
        q.push_lock(lock);
        let found: Option<i64> = q.arg(id).fetch_optional_scalar(tx).await?;
        found.map(|_| ()).ok_or(StoreError::NotFound)
    }

    async fn policy_version_on<'a>(
        &self,
        on: impl Into<On<'a>>,
        id: i64,
        version: i64,
    ) -> Result<Option<PolicyRecord>, sqlx::Error> {
        let row = self
            .q(format!(
                "SELECT {POLICY_COLUMNS} FROM policy_versions v \
                 WHERE v.policy_id = $1 AND v.version = $2"
            ))
            .arg(id)
            .arg(version)
            .fetch_optional(on)
            .await?;
        row.as_ref().map(policy_from_row).transpose()
    }

    /// The events of several conversations, each ordered by `at`, then arrival.
    async fn events_of_in<'a>(
        &self,
        on: impl Into<On<'a>>,
        ids: &[i64],
    ) -> Result<HashMap<i64, Vec<IncomingEvent>>, sqlx::Error> {
        let mut out: HashMap<i64, Vec<IncomingEvent>> = HashMap::new();
        if ids.is_empty() {
            return Ok(out);
        }
        let mut q = self.q("SELECT conversation_id, payload FROM events WHERE ");
        q.push_in("conversation_id", ids)
            .push(" ORDER BY conversation_id, at, id");
        for r in q.fetch_all(on).await? {
            out.entry(r.get("conversation_id")?)
                .or_default()
                .push(r.json("payload")?);
        }
        Ok(out)
    }

    /// The conversations with these ids, ordered by id.
    fn conversations_query(&self, ids: &[i64]) -> Query {
        let mut q = self.q(format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE "
        ));
        q.push_in("id", ids).push(" ORDER BY id");
        q
    }

    /// The conversations with these ids, ordered by id, held until commit (PostgreSQL).
    async fn conversations_locked(
        &self,
        tx: &mut Tx,
        ids: &[i64],
    ) -> Result<Vec<ConversationRow>, sqlx::Error> {
        let mut q = self.conversations_query(ids);
        q.push_lock(Lock::Update);
        q.fetch_all(tx)
            .await?
            .iter()
            .map(conversation_from_row)
            .collect()
    }

    /// Locks the named conversations (`external_ids` sorted, so that concurrent batches
    /// wait for each other instead of deadlocking) and adds the ones that exist to `rows`,
    /// keyed by the plan's own strings.
    async fn lock_conversations<'a>(
        &self,
        tx: &mut Tx,
        plan: &IngestPlan<'a>,
        source: &str,
        external_ids: &[&str],
        rows: &mut HashMap<&'a str, (ConversationRow, bool)>,
    ) -> Result<(), sqlx::Error> {
        let mut q = self.q(format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE source = "
        ));
        q.push_bind(source).push(" AND ");
        q.push_in("external_id", external_ids)
            .push(" ORDER BY external_id")
            .push_lock(Lock::Update);
        for r in q.fetch_all(tx).await? {
            let row = conversation_from_row(&r)?;
            if let Some(key) = plan.conversations.iter().find(|c| **c == row.external_id) {
                rows.insert(*key, (row, false));
            }
        }
        Ok(())
    }

    /// Writes the columns a conversation's events and policy decide (policy, status,
    /// channel, team, owner, summary, due_at, next_sla_at, sla_done_until, updated_at,
    /// checkpoint), then its compliance facts.
    async fn write_derived(
        &self,
        tx: &mut Tx,
        rows: &[&ConversationRow],
    ) -> Result<(), sqlx::Error> {
        let mut v = Bulk::new(
            "v",
            &[
                ("id", Ty::Int),
                ("policy_id", Ty::Int),
                ("policy_version", Ty::Int),
                ("status", Ty::Text),
                ("channel", Ty::Text),
                ("team", Ty::Text),
                ("owner", Ty::Text),
                ("summary", Ty::Text),
                ("due_at", Ty::Ts),
                ("next_sla_at", Ty::Ts),
                ("sla_done_until", Ty::Ts),
                ("updated_at", Ty::Ts),
                ("checkpoint", Ty::Text),
            ],
        );
        for c in rows {
            let s = &c.summary;
            let checkpoint = c.checkpoint.as_ref().map(to_json).transpose()?;
            v.row([
                c.id.into(),
                c.policy_id.into(),
                c.policy_version.into(),
                shared::status_word(s.status).into(),
                s.channel.as_str().into(),
                s.team.clone().into(),
                s.owner.clone().into(),
                to_json(s)?.into(),
                c.due_at.into(),
                c.next_sla_at.into(),
                c.sla_done_until.into(),
                c.updated_at.into(),
                checkpoint.into(),
            ]);
        }
        v.execute(
            tx,
            Use::With(
                "UPDATE conversations SET policy_id = v.policy_id, \
             policy_version = v.policy_version, status = v.status, channel = v.channel, \
             team = v.team, owner = v.owner, summary = v.summary, due_at = v.due_at, \
             next_sla_at = v.next_sla_at, sla_done_until = v.sla_done_until, \
             updated_at = v.updated_at, checkpoint = v.checkpoint \
             FROM v WHERE conversations.id = v.id",
            ),
        )
        .await?;
        self.write_facts(tx, rows).await
    }

    /// The rollup definitions whose rows every write of facts keeps up. On PostgreSQL the
    /// read holds the table's share lock until commit, so that a definition being built
    /// ([`SqlStore::build_rollup_rows`]) waits for this write and the next write sees it.
    async fn rollup_defs(&self, tx: &mut Tx) -> Result<Vec<(i64, facts::RollupDef)>, sqlx::Error> {
        let mut q = self.q("SELECT id, def FROM compliance_rollup_defs ORDER BY id");
        q.push_lock(Lock::Share);
        let rows = q.fetch_all(&mut *tx).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let def: String = r.get(1)?;
            match facts::RollupDef::parse(&def) {
                Some(d) => out.push((r.get(0)?, d)),
                None => {
                    return Err(sqlx::Error::Decode(
                        format!("rollup definition {def}").into(),
                    ))
                }
            }
        }
        Ok(out)
    }

    /// Appends the rollup rows of conversations `ids` (their settled facts rows as stored
    /// now) times `sign`.
    async fn roll_up(
        &self,
        tx: &mut Tx,
        defs: &[(i64, facts::RollupDef)],
        sign: i64,
        ids: Option<&[i64]>,
    ) -> Result<(), sqlx::Error> {
        let mut q = self.q("");
        if facts::push_rollup_insert(&mut q, defs, sign, ids) {
            q.execute(tx).await?;
        }
        Ok(())
    }

    /// Upserts the compliance facts of the rows that were just derived, and keeps the
    /// rollups up: minus the rows' old counts, plus their new ones.
    async fn write_facts(&self, tx: &mut Tx, rows: &[&ConversationRow]) -> Result<(), sqlx::Error> {
        let mut f = Bulk::new("f", FACT_TYPES);
        let mut ids = Vec::with_capacity(rows.len());
        for r in rows {
            if let Some(facts) = r.facts.as_ref() {
                f.row(facts::fact_row(r.id, facts));
                ids.push(r.id);
            }
        }
        if ids.is_empty() {
            return Ok(());
        }
        let defs = self.rollup_defs(tx).await?;
        self.roll_up(tx, &defs, -1, Some(&ids)).await?;
        f.execute(
            tx,
            Use::Insert {
                table: "conversation_facts",
                tail: &format!("ON CONFLICT (conversation_id) DO UPDATE SET {FACT_UPDATES}"),
            },
        )
        .await?;
        self.roll_up(tx, &defs, 1, Some(&ids)).await
    }

    /// The rows of a rollup read and of its late corrections (none when no metric counts
    /// deadlines), read on two connections at once.
    async fn rolled_and_late(
        &self,
        rolled: String,
        late: Option<String>,
    ) -> Result<(Vec<Row>, Vec<Row>), sqlx::Error> {
        futures::future::try_join(self.q(rolled).fetch_all(&self.db), async {
            match late {
                Some(sql) => self.q(sql).fetch_all(&self.db).await,
                None => Ok(Vec::new()),
            }
        })
        .await
    }

    /// The id of a rollup definition, building its rows first when it has none.
    async fn rollup_def_id(&self, def: &facts::RollupDef) -> StoreResult<i64> {
        let found: Option<i64> = self
            .q("SELECT id FROM compliance_rollup_defs WHERE def = $1")
            .arg(def.key())
            .fetch_optional_scalar(&self.db)
            .await?;
        match found {
            Some(id) => Ok(id),
            None => self.build_rollup_rows(def).await,
        }
    }

    /// Takes the rollup definitions' table for a change (PostgreSQL): waits at most 200 ms
    /// behind the writes of facts in flight, then lets them go and tries again, so that a
    /// write waiting behind this one for a row the other holds cannot deadlock.
    async fn lock_rollup_defs(&self) -> StoreResult<Tx> {
        let mut tries = 0;
        loop {
            let mut tx = self.db.begin_write().await?;
            if self.db.dialect() == Dialect::Sqlite {
                return Ok(tx);
            }
            self.q("SET LOCAL lock_timeout = '200ms'")
                .execute(&mut tx)
                .await?;
            match self
                .q("LOCK TABLE compliance_rollup_defs IN EXCLUSIVE MODE")
                .execute(&mut tx)
                .await
            {
                Ok(_) => {
                    self.q("SET LOCAL lock_timeout = 0")
                        .execute(&mut tx)
                        .await?;
                    return Ok(tx);
                }
                Err(e) if tries < 100 => {
                    tracing::debug!(error = %e, "rollup definitions busy; trying again");
                    tries += 1;
                    drop(tx);
                    tokio::time::sleep(std::time::Duration::from_millis(20 * tries)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Builds the rollup rows of a definition from every facts row (unless another server
    /// just did); returns its id.
    async fn build_rollup_rows(&self, def: &facts::RollupDef) -> StoreResult<i64> {
        let key = def.key();
        let mut tx = self.lock_rollup_defs().await?;
        let found: Option<i64> = self
            .q("SELECT id FROM compliance_rollup_defs WHERE def = $1")
            .arg(key.as_str())
            .fetch_optional_scalar(&mut tx)
            .await?;
        if let Some(id) = found {
            tx.commit().await?;
            return Ok(id);
        }
        let id: i64 = self
            .q("INSERT INTO compliance_rollup_defs (def) VALUES ($1) RETURNING id")
            .arg(key.as_str())
            .fetch_scalar(&mut tx)
            .await?;
        self.roll_up(&mut tx, &[(id, def.clone())], 1, None).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Inserts timeline events (conversation, its source, event) in the order given (so
    /// that ids follow arrival); an id its source already used is skipped. Returns (row id,
    /// external id) of those inserted.
    async fn insert_events(
        &self,
        tx: &mut Tx,
        events: &[(Option<i64>, &str, &IncomingEvent)],
        now: DateTime<Utc>,
    ) -> Result<Vec<(i64, String)>, sqlx::Error> {
        let mut u = Bulk::new(
            "u",
            &[
                ("source", Ty::Text),
                ("external_id", Ty::Text),
                ("conversation_id", Ty::Int),
                ("at", Ty::Ts),
                ("payload", Ty::Text),
                ("received_at", Ty::Ts),
            ],
        );
        for (conversation, source, e) in events {
            u.row([
                source.to_string().into(),
                e.id.clone().into(),
                (*conversation).into(),
                e.at.into(),
                to_json(*e)?.into(),
                now.into(),
            ]);
        }
        u.fetch_all(
            tx,
            Use::Insert {
                table: "events",
                tail: "ON CONFLICT (source, external_id) DO NOTHING RETURNING id, external_id",
            },
        )
        .await?
        .iter()
        .map(|r| Ok((r.get("id")?, r.get("external_id")?)))
        .collect()
    }

    /// Queues deliveries (conversation id, delivery), due now.
    async fn insert_outbox(
        &self,
        tx: &mut Tx,
        items: &[(i64, NewOutbox)],
        now: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        for (conversation_id, o) in items {
            self.q(
                "INSERT INTO outbox (kind, rule_id, conversation_id, url, receiver, secret, body, \
                 status, attempts, next_attempt_at, created_at, account_id, message_id) \
                 VALUES ($1, $2, $3, $4, $8, $5, $6, 'pending', 0, $7, $7, $9, $10)",
            )
            .arg(o.kind)
            .arg(o.rule_id)
            .arg(*conversation_id)
            .arg(&o.url)
            .arg(&o.secret)
            .arg(&o.body)
            .arg(now)
            .arg(&o.receiver)
            .arg(o.account_id)
            .arg(o.message_id.as_deref())
            .execute(&mut *tx)
            .await?;
        }
        Ok(())
    }

    /// Recomputes a conversation's derived columns from all its events, holding its row
    /// lock so that two servers cannot each write a summary missing the other's events;
    /// `NotFound` when there is no such conversation. Nothing changes when the deriver has
    /// nothing to say.
    async fn derive_in(
        &self,
        tx: &mut Tx,
        id: i64,
        deriver: &dyn Deriver,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut row = self
            .conversations_locked(tx, &[id])
            .await?
            .pop()
            .ok_or(StoreError::NotFound)?;
        let events = self
            .events_of_in(&mut *tx, &[id])
            .await?
            .remove(&id)
            .unwrap_or_default();
        let Some(derived) = deriver.derive(row.policy_id.zip(row.policy_version), &events) else {
            return Ok(());
        };
        row.apply(derived);
        row.updated_at = now;
        row.checkpoint = promptly::conversation::Checkpoint::of(&events);
        self.write_derived(tx, &[&row]).await?;
        Ok(())
    }
}

#[async_trait]
impl Store for SqlStore {
    async fn migrate(&self) -> StoreResult<()> {
        let migrator = super::migrations::migrator(self.db.dialect()).await?;
        match &self.db {
            Db::Sqlite(p, _) => migrator.run(p).await?,
            Db::Postgres(p) => migrator.run(p).await?,
        }
        Ok(())
    }

    fn backend(&self) -> &'static str {
        match self.db.dialect() {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
        }
    }

    async fn ping(&self) -> StoreResult<()> {
        self.q("SELECT 1").execute(&self.db).await?;
        Ok(())
    }

    fn pool_use(&self) -> super::PoolUse {
        let (size, idle, max) = match &self.db {
            Db::Sqlite(p, _) => (p.size(), p.num_idle(), p.options().get_max_connections()),
            Db::Postgres(p) => (p.size(), p.num_idle(), p.options().get_max_connections()),
        };
        super::PoolUse {
            size: size.into(),
            idle: idle as u64,
            max: max.into(),
        }
    }

    async fn outbox_backlog(&self) -> StoreResult<Vec<(String, i64)>> {
        let sql = "SELECT receiver, COUNT(*) AS n FROM outbox WHERE status = 'pending' \
                   GROUP BY receiver ORDER BY receiver";
        self.rows(sql, |r| Ok((r.get("receiver")?, r.get("n")?)))
            .await
    }

    async fn count_users(&self) -> StoreResult<i64> {
        Ok(self
            .q("SELECT COUNT(*) FROM users")
            .fetch_scalar(&self.db)
            .await?)
    }

    async fn create_user(&self, user: NewUser, now: DateTime<Utc>) -> StoreResult<User> {
        let res = self
            .q(format!(
                "INSERT INTO users \
                 (email, name, role, password_hash, active, must_change_password, created_at) \
                 VALUES ($1, $2, $3, $4, TRUE, $5, $6) RETURNING {USER_COLUMNS}"
            ))
            .arg(&user.email)
            .arg(&user.name)
            .arg(user.role.as_str())
            .arg(&user.password_hash)
            .arg(user.must_change_password)
            .arg(now)
            .fetch_one(&self.db)
            .await;
        unique(res, "email", user_from_row)
    }

    async fn user_by_id(&self, id: i64) -> StoreResult<Option<User>> {
        self.by_id(USER_COLUMNS, "users", id, user_from_row).await
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        let q = self.q(format!("SELECT {USER_COLUMNS} FROM users WHERE email = $1"));
        one(q.arg(email).fetch_optional(&self.db).await?, user_from_row)
    }

    async fn list_users(&self) -> StoreResult<Vec<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY email");
        self.rows(sql, user_from_row).await
    }

    async fn set_user_role(&self, id: i64, role: Role) -> StoreResult<()> {
        let mut tx = self.db.begin_write().await?;
        if role != Role::Admin {
            self.keep_an_admin(&mut tx, id).await?;
        }
        let q = self.q("UPDATE users SET role = $1 WHERE id = $2");
        found(q.arg(role.as_str()).arg(id).execute(&mut tx).await?)?;
        tx.commit().await?;
        Ok(())
    }

    async fn set_user_teams(&self, id: i64, teams: &[String]) -> StoreResult<()> {
        let q = self.q("UPDATE users SET teams = $1 WHERE id = $2");
        found(q.arg(to_json(&teams)?).arg(id).execute(&self.db).await?)?;
        Ok(())
    }

    async fn set_user_timezone(&self, id: i64, timezone: Option<&str>) -> StoreResult<()> {
        let q = self.q("UPDATE users SET timezone = $1 WHERE id = $2");
        found(q.arg(timezone).arg(id).execute(&self.db).await?)?;
        Ok(())
    }

    async fn set_user_active(&self, id: i64, active: bool) -> StoreResult<()> {
        let mut tx = self.db.begin_write().await?;
        if !active {
            self.keep_an_admin(&mut tx, id).await?;
        }
        let q = self.q("UPDATE users SET active = $1 WHERE id = $2");
        found(q.arg(active).arg(id).execute(&mut tx).await?)?;
        if !active {
            self.q("DELETE FROM sessions WHERE user_id = $1")
                .arg(id)
                .execute(&mut tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn set_user_password(
        &self,
        id: i64,
        password_hash: &str,
        must_change: bool,
        keep_session: Option<&str>,
    ) -> StoreResult<()> {
        let mut tx = self.db.begin_write().await?;
        let q =
            self.q("UPDATE users SET password_hash = $1, must_change_password = $2 WHERE id = $3");
        found(
            q.arg(password_hash)
                .arg(must_change)
                .arg(id)
                .execute(&mut tx)
                .await?,
        )?;
        self.q("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
            .arg(id)
            .arg(keep_session.unwrap_or(""))
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn create_session(
        &self,
        token_hash: &str,
        user_id: i64,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.q(
            "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .arg(token_hash)
        .arg(user_id)
        .arg(now)
        .arg(expires_at)
        .execute(&self.db)
        .await?;
        Ok(())
    }

    async fn session_user(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<User>> {
        let q = self.q(
            "SELECT u.id, u.email, u.name, u.role, u.password_hash, u.active, \
             u.must_change_password, u.created_at, u.teams, u.timezone \
             FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.active",
        );
        let row = q.arg(token_hash).arg(now).fetch_optional(&self.db).await?;
        one(row, user_from_row)
    }

    async fn delete_session(&self, token_hash: &str) -> StoreResult<()> {
        self.q("DELETE FROM sessions WHERE token_hash = $1")
            .arg(token_hash)
            .execute(&self.db)
            .await?;
        Ok(())
    }

    async fn purge_expired(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let a = self
            .q("DELETE FROM sessions WHERE expires_at <= $1")
            .arg(now)
            .execute(&self.db)
            .await?;
        let b = self
            .q("DELETE FROM login_failures WHERE at <= $1")
            .arg(now - chrono::Duration::hours(1))
            .execute(&self.db)
            .await?;
        Ok(a + b)
    }

    async fn claim_login_attempt(
        &self,
        keys: &[(String, Throttle)],
        now: DateTime<Utc>,
    ) -> StoreResult<Result<Vec<i64>, i64>> {
        let mut tx = self.db.begin_write().await?;
        self.db.lock_table(&mut tx, "login_failures").await?;
        for (key, rule) in keys {
            let since = now - chrono::Duration::seconds(rule.window_s);
            let window = |sql: &str| self.q(sql).arg(key.as_str()).arg(since);
            let count: i64 =
                window("SELECT COUNT(*) FROM login_failures WHERE key = $1 AND at > $2")
                    .fetch_scalar(&mut tx)
                    .await?;
            if count < rule.max {
                continue;
            }
            let wait_until = match rule.spacing_s {
                None => {
                    let oldest: Option<DateTime<Utc>> =
                        window("SELECT MIN(at) FROM login_failures WHERE key = $1 AND at > $2")
                            .fetch_scalar(&mut tx)
                            .await?;
                    oldest.unwrap_or(now) + chrono::Duration::seconds(rule.window_s)
                }
                Some(spacing) => {
                    let latest: Option<DateTime<Utc>> =
                        window("SELECT MAX(at) FROM login_failures WHERE key = $1 AND at > $2")
                            .fetch_scalar(&mut tx)
                            .await?;
                    latest.unwrap_or(now) + chrono::Duration::seconds(spacing)
                }
            };
            if wait_until > now {
                return Ok(Err((wait_until - now).num_seconds().max(1)));
            }
        }
        let mut ids = Vec::with_capacity(keys.len());
        for (key, _) in keys {
            let id: i64 = self
                .q("INSERT INTO login_failures (key, at) VALUES ($1, $2) RETURNING id")
                .arg(key.as_str())
                .arg(now)
                .fetch_scalar(&mut tx)
                .await?;
            ids.push(id);
        }
        tx.commit().await?;
        Ok(Ok(ids))
    }

    async fn forget_login_attempts(&self, ids: &[i64]) -> StoreResult<()> {
        let mut q = self.q("DELETE FROM login_failures WHERE ");
        q.push_in("id", ids);
        q.execute(&self.db).await?;
        Ok(())
    }

    async fn clear_login_failures(&self, key: &str) -> StoreResult<()> {
        self.q("DELETE FROM login_failures WHERE key = $1")
            .arg(key)
            .execute(&self.db)
            .await?;
        Ok(())
    }

    async fn append_audit(&self, e: &NewAuditEntry) -> StoreResult<()> {
        let text = |v: &Option<serde_json::Value>| v.as_ref().map(|v| v.to_string());
        self.q("INSERT INTO audit_log \
             (at, actor, actor_id, entity, entity_id, action, before, after) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
            .arg(e.at)
            .arg(e.actor.as_str())
            .arg(e.actor_id)
            .arg(e.entity.as_str())
            .arg(e.entity_id.as_deref())
            .arg(e.action.as_str())
            .arg(text(&e.before))
            .arg(text(&e.after))
            .execute(&self.db)
            .await?;
        Ok(())
    }

    async fn list_audit(&self, f: &AuditQuery) -> StoreResult<Vec<promptly::audit::AuditEntry>> {
        let q = self.q(
            "SELECT id, at, actor, actor_id, entity, entity_id, action, before, after \
             FROM audit_log WHERE ($1 IS NULL OR entity = $1) AND ($2 IS NULL OR LOWER(actor) = LOWER($2)) \
             AND ($3 IS NULL OR at >= $3) AND ($4 IS NULL OR id < $4) \
             ORDER BY id DESC LIMIT $5",
        );
        let rows = q
            .arg(f.entity.map(|e| e.as_str()))
            .arg(f.actor.as_deref())
            .arg(f.since)
            .arg(f.before_id)
            .arg(f.limit)
            .fetch_all(&self.db)
            .await?;
        all(rows, audit_from_row)
    }

    async fn create_api_token(
        &self,
        name: &str,
        source: &str,
        scopes: promptly::account::Scopes,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<ApiToken> {
        let res = self
            .q(format!(
                "INSERT INTO api_tokens (name, source, scopes, token_hash, created_at) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING {TOKEN_COLUMNS}"
            ))
            .arg(name)
            .arg(source)
            .arg(scopes.to_string())
            .arg(token_hash)
            .arg(now)
            .fetch_one(&self.db)
            .await;
        unique(res, "token", token_from_row)
    }

    async fn list_api_tokens(&self) -> StoreResult<Vec<ApiToken>> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens ORDER BY id");
        self.rows(sql, token_from_row).await
    }

    async fn revoke_api_token(&self, id: i64, now: DateTime<Utc>) -> StoreResult<()> {
        let q = self.q("UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2");
        found(q.arg(now).arg(id).execute(&self.db).await?)
    }

    async fn api_token_by_hash(&self, token_hash: &str) -> StoreResult<Option<ApiToken>> {
        let q = self.q(format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL"
        ));
        one(
            q.arg(token_hash).fetch_optional(&self.db).await?,
            token_from_row,
        )
    }

    async fn create_calendar(
        &self,
        c: &CalendarInput,
        now: DateTime<Utc>,
    ) -> StoreResult<CalendarRecord> {
        let row = self
            .q(format!(
                "INSERT INTO calendars (name, description, definition, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $4) RETURNING {CALENDAR_COLUMNS}"
            ))
            .arg(&c.name)
            .arg(&c.description)
            .arg(to_json(&c.definition)?)
            .arg(now)
            .fetch_one(&self.db)
            .await?;
        Ok(calendar_from_row(&row)?)
    }

    async fn update_calendar(
        &self,
        id: i64,
        c: &CalendarInput,
        now: DateTime<Utc>,
    ) -> StoreResult<CalendarRecord> {
        let row = self
            .q(format!(
                "UPDATE calendars SET name = $1, description = $2, definition = $3, \
                 updated_at = $4 WHERE id = $5 RETURNING {CALENDAR_COLUMNS}"
            ))
            .arg(&c.name)
            .arg(&c.description)
            .arg(to_json(&c.definition)?)
            .arg(now)
            .arg(id)
            .fetch_optional(&self.db)
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok(calendar_from_row(&row)?)
    }

    async fn calendar(&self, id: i64) -> StoreResult<Option<CalendarRecord>> {
        self.by_id(CALENDAR_COLUMNS, "calendars", id, calendar_from_row)
            .await
    }

    async fn list_calendars(&self) -> StoreResult<Vec<CalendarRecord>> {
        let sql = format!("SELECT {CALENDAR_COLUMNS} FROM calendars ORDER BY name, id");
        self.rows(sql, calendar_from_row).await
    }

    async fn delete_calendar(&self, id: i64) -> StoreResult<()> {
        let mut tx = self.db.begin_write().await?;
        // The row lock keeps a concurrent delete or update of it out until this one is done.
        let sql = "SELECT id FROM calendars WHERE id = $1";
        self.lock_row(&mut tx, sql, id, Lock::Update).await?;
        let in_use: bool = self
            .q(shared::CALENDAR_IN_USE)
            .arg(id)
            .fetch_scalar(&mut tx)
            .await?;
        if in_use {
            return Err(StoreError::Conflict { field: "calendar" });
        }
        self.q("UPDATE policy_versions SET calendar_id = NULL WHERE calendar_id = $1")
            .arg(id)
            .execute(&mut tx)
            .await?;
        self.q("DELETE FROM calendars WHERE id = $1")
            .arg(id)
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn create_policy(
        &self,
        p: &PolicyInput,
        now: DateTime<Utc>,
    ) -> StoreResult<PolicyRecord> {
        let mut tx = self.db.begin_write().await?;
        let id: i64 = self
            .q(
                "INSERT INTO policies (current_version, deleted, created_at) \
                 VALUES (1, FALSE, $1) RETURNING id",
            )
            .arg(now)
            .fetch_scalar(&mut tx)
            .await?;
        let res = self
            .q("INSERT INTO policy_versions \
                 (policy_id, version, name, description, calendar_id, definition, created_at) \
                 VALUES ($1, 1, $2, $3, $4, $5, $6)")
            .arg(id)
            .arg(&p.name)
            .arg(&p.description)
            .arg(p.calendar_id)
            .arg(to_json(&p.policy)?)
            .arg(now)
            .execute(&mut tx)
            .await;
        // The calendar is gone: NotFound.
        missing_reference(res)?;
        let rec = self
            .policy_version_on(&mut tx, id, 1)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await?;
        Ok(rec)
    }

    async fn update_policy(
        &self,
        id: i64,
        p: &PolicyInput,
        now: DateTime<Utc>,
    ) -> StoreResult<PolicyRecord> {
        let mut tx = self.db.begin_write().await?;
        // The row lock orders concurrent updates, and waits for an ingest that is putting
        // a new conversation on this policy (it holds a share lock on the row).
        let mut q = self.q("SELECT current_version FROM policies WHERE id = $1 AND NOT deleted");
        q.push_lock(Lock::Update);
        let current: i64 = q
            .arg(id)
            .fetch_optional_scalar(&mut tx)
            .await?
            .ok_or(StoreError::NotFound)?;
        let in_use: bool = self
            .q("SELECT EXISTS (SELECT 1 FROM conversations \
                 WHERE policy_id = $1 AND policy_version = $2)")
            .arg(id)
            .arg(current)
            .fetch_scalar(&mut tx)
            .await?;
        let version = if in_use { current + 1 } else { current };
        let write = if in_use {
            "INSERT INTO policy_versions \
             (policy_id, version, name, description, calendar_id, definition, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)"
        } else {
            "UPDATE policy_versions SET name = $3, description = $4, calendar_id = $5, \
             definition = $6 WHERE policy_id = $1 AND version = $2"
        };
        let mut q = self
            .q(write)
            .arg(id)
            .arg(version)
            .arg(&p.name)
            .arg(&p.description)
            .arg(p.calendar_id)
            .arg(to_json(&p.policy)?);
        if in_use {
            q = q.arg(now);
        }
        let res = q.execute(&mut tx).await;
        missing_reference(res)?;
        if in_use {
            self.q("UPDATE policies SET current_version = $1 WHERE id = $2")
                .arg(version)
                .arg(id)
                .execute(&mut tx)
                .await?;
        }
        let rec = self
            .policy_version_on(&mut tx, id, version)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await?;
        Ok(rec)
    }

    async fn policy(&self, id: i64) -> StoreResult<Option<PolicyRecord>> {
        let q = self.q(format!(
            "SELECT {POLICY_COLUMNS} FROM policies p \
             JOIN policy_versions v ON v.policy_id = p.id AND v.version = p.current_version \
             WHERE p.id = $1 AND NOT p.deleted"
        ));
        one(q.arg(id).fetch_optional(&self.db).await?, policy_from_row)
    }

    async fn policy_version(&self, id: i64, version: i64) -> StoreResult<Option<PolicyRecord>> {
        Ok(self.policy_version_on(&self.db, id, version).await?)
    }

    async fn list_policies(&self) -> StoreResult<Vec<PolicyRecord>> {
        let sql = format!(
            "SELECT {POLICY_COLUMNS} FROM policies p \
             JOIN policy_versions v ON v.policy_id = p.id AND v.version = p.current_version \
             WHERE NOT p.deleted ORDER BY v.name, p.id"
        );
        self.rows(sql, policy_from_row).await
    }

    async fn policy_versions(&self, id: i64) -> StoreResult<Vec<PolicyRecord>> {
        let q = self.q(format!(
            "SELECT {POLICY_COLUMNS} FROM policy_versions v WHERE v.policy_id = $1 \
             ORDER BY v.version"
        ));
        all(q.arg(id).fetch_all(&self.db).await?, policy_from_row)
    }

    async fn delete_policy(&self, id: i64) -> StoreResult<()> {
        let mut tx = self.db.begin_write().await?;
        // Conflicts with the share lock `set_default_policy` takes, so the check below holds.
        let sql = "SELECT id FROM policies WHERE id = $1 AND NOT deleted";
        self.lock_row(&mut tx, sql, id, Lock::Update).await?;
        let default: Option<String> = self
            .q("SELECT value FROM settings WHERE key = $1")
            .arg(DEFAULT_POLICY_KEY)
            .fetch_optional_scalar(&mut tx)
            .await?;
        if default.is_some_and(|v| v == id.to_string()) {
            return Err(StoreError::Conflict { field: "policy" });
        }
        self.q("UPDATE policies SET deleted = TRUE WHERE id = $1")
            .arg(id)
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn move_open_conversations(&self, policy_id: i64, version: i64) -> StoreResult<Vec<i64>> {
        let mut ids: Vec<i64> = self
            .q("UPDATE conversations SET policy_version = $1 \
                 WHERE policy_id = $2 AND status <> 'resolved' RETURNING id")
            .arg(version)
            .arg(policy_id)
            .fetch_column(&self.db)
            .await?;
        ids.sort_unstable();
        Ok(ids)
    }

    async fn list_rules(&self) -> StoreResult<Vec<RuleRecord>> {
        let sql = format!("SELECT {RULE_COLUMNS} FROM rules WHERE deleted_at IS NULL {RULE_ORDER}");
        self.rows(sql, rule_from_row).await
    }

    async fn rule(&self, id: i64) -> StoreResult<Option<RuleRecord>> {
        self.live_by_id(RULE_COLUMNS, "rules", id, rule_from_row)
            .await
    }

    async fn create_rule(
        &self,
        rule: &RuleDefinition,
        now: DateTime<Utc>,
    ) -> StoreResult<RuleRecord> {
        let mut tx = self.db.begin_write().await?;
        // The position after the last is read while no other writer can append.
        self.db.lock_table(&mut tx, "rules").await?;
        let row = self
            .q(format!(
                "INSERT INTO rules (position, definition, created_at, updated_at) \
                 SELECT COALESCE(MAX(position) + 1, 0), $1, $2, $2 FROM rules \
                 RETURNING {RULE_COLUMNS}"
            ))
            .arg(to_json(rule)?)
            .arg(now)
            .fetch_one(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(rule_from_row(&row)?)
    }

    async fn update_rule(
        &self,
        id: i64,
        rule: &RuleDefinition,
        now: DateTime<Utc>,
    ) -> StoreResult<RuleRecord> {
        let table = ("rules", RULE_COLUMNS);
        self.update_definition(table, id, to_json(rule)?, now, rule_from_row)
            .await
    }

    async fn delete_rule(&self, id: i64, now: DateTime<Utc>) -> StoreResult<()> {
        self.soft_delete("rules", id, now).await
    }

    async fn reorder_rules(&self, ids: &[i64]) -> StoreResult<()> {
        let mut tx = self.db.begin_write().await?;
        self.db.lock_table(&mut tx, "rules").await?;
        let existing: Vec<i64> = self
            .q("SELECT id FROM rules WHERE deleted_at IS NULL")
            .fetch_column(&mut tx)
            .await?;
        shared::check_permutation(&existing, ids)?;
        // One statement: each id gets its index in the list.
        let mut o = Bulk::new("o", &[("id", Ty::Int)]);
        for id in ids {
            o.row([id.into()]);
        }
        o.execute(
            &mut tx,
            Use::With(
                "UPDATE rules SET position = o.n - 1 FROM o \
                 WHERE rules.id = o.id AND rules.position <> o.n - 1",
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn record_rule_run(
        &self,
        rule_id: i64,
        conversation_id: i64,
        trigger: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.q(
            "INSERT INTO rule_runs (rule_id, conversation_id, trigger, fired_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .arg(rule_id)
        .arg(conversation_id)
        .arg(trigger)
        .arg(at)
        .execute(&self.db)
        .await?;
        Ok(())
    }

    async fn rule_fire_counts(&self, since: DateTime<Utc>) -> StoreResult<HashMap<i64, i64>> {
        let rows = self
            .q("SELECT rule_id, COUNT(*) FROM rule_runs WHERE fired_at >= $1 GROUP BY rule_id")
            .arg(since)
            .fetch_all(&self.db)
            .await?;
        Ok(rows
            .iter()
            .map(|r| Ok((r.get(0)?, r.get(1)?)))
            .collect::<Result<_, sqlx::Error>>()?)
    }

    async fn list_contracts(&self) -> StoreResult<Vec<ContractRecord>> {
        let sql = format!(
            "SELECT {CONTRACT_COLUMNS} FROM contracts WHERE deleted_at IS NULL ORDER BY id"
        );
        let mut out = self.rows(sql, contract_from_row).await?;
        shared::sort_contracts(&mut out);
        Ok(out)
    }

    async fn contract(&self, id: i64) -> StoreResult<Option<ContractRecord>> {
        self.live_by_id(CONTRACT_COLUMNS, "contracts", id, contract_from_row)
            .await
    }

    async fn create_contract(
        &self,
        contract: &Contract,
        now: DateTime<Utc>,
    ) -> StoreResult<ContractRecord> {
        let row = self
            .q(format!(
                "INSERT INTO contracts (definition, created_at, updated_at) VALUES ($1, $2, $2) \
                 RETURNING {CONTRACT_COLUMNS}"
            ))
            .arg(to_json(contract)?)
            .arg(now)
            .fetch_one(&self.db)
            .await?;
        Ok(contract_from_row(&row)?)
    }

    async fn update_contract(
        &self,
        id: i64,
        contract: &Contract,
        now: DateTime<Utc>,
    ) -> StoreResult<ContractRecord> {
        let table = ("contracts", CONTRACT_COLUMNS);
        self.update_definition(table, id, to_json(contract)?, now, contract_from_row)
            .await
    }

    async fn delete_contract(&self, id: i64, now: DateTime<Utc>) -> StoreResult<()> {
        self.soft_delete("contracts", id, now).await
    }

    async fn create_channel_account(
        &self,
        kind: ChannelKind,
        definition: &AccountDefinition,
        now: DateTime<Utc>,
    ) -> StoreResult<ChannelAccountRecord> {
        let row = self
            .q(format!(
                "INSERT INTO channel_accounts (kind, definition, created_at, updated_at) \
                 VALUES ($1, $2, $3, $3) RETURNING {CHANNEL_ACCOUNT_COLUMNS}"
            ))
            .arg(kind.as_str())
            .arg(to_json(definition)?)
            .arg(now)
            .fetch_one(&self.db)
            .await?;
        Ok(channel_account_from_row(&row)?)
    }

    async fn list_channel_accounts(&self) -> StoreResult<Vec<ChannelAccountRecord>> {
        let sql = format!(
            "SELECT {CHANNEL_ACCOUNT_COLUMNS} FROM channel_accounts WHERE deleted_at IS NULL \
             ORDER BY id"
        );
        self.rows(sql, channel_account_from_row).await
    }

    async fn channel_account(&self, id: i64) -> StoreResult<Option<ChannelAccountRecord>> {
        self.live_by_id(
            CHANNEL_ACCOUNT_COLUMNS,
            "channel_accounts",
            id,
            channel_account_from_row,
        )
        .await
    }

    async fn update_channel_account(
        &self,
        id: i64,
        definition: &AccountDefinition,
        now: DateTime<Utc>,
    ) -> StoreResult<ChannelAccountRecord> {
        let table = ("channel_accounts", CHANNEL_ACCOUNT_COLUMNS);
        self.update_definition(
            table,
            id,
            to_json(definition)?,
            now,
            channel_account_from_row,
        )
        .await
    }

    async fn delete_channel_account(&self, id: i64, now: DateTime<Utc>) -> StoreResult<()> {
        self.soft_delete("channel_accounts", id, now).await
    }

    async fn threads_of(&self, source: &str, ids: &[String]) -> StoreResult<Vec<(String, String)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let mut found = Vec::new();
        for (message, from, source_of) in [
            ("e.external_id", "events e", "e.source"),
            ("e.sent_id", "outbox e", "c.source"),
        ] {
            let mut q = self.q(format!(
                "SELECT {message} AS message, c.external_id AS conversation FROM {from} \
                 JOIN conversations c ON c.id = e.conversation_id WHERE {source_of} = "
            ));
            q.push_bind(source);
            q.push(" AND ");
            q.push_in(message, ids.as_slice());
            for row in q.fetch_all(&self.db).await? {
                found.push((row.get("message")?, row.get("conversation")?));
            }
        }
        Ok(found)
    }

    async fn record_receipts(
        &self,
        account_id: i64,
        receipts: &[promptly::channels::Receipt],
    ) -> StoreResult<Vec<OutboxItem>> {
        let mut failed = Vec::new();
        for r in receipts {
            // A later state only: delivered, then read; failed whenever it comes, and again
            // (a platform sending a failure again after we answered 503 gets its follow-up:
            // the note's and the template's ids make a repeat do nothing).
            let status = r.status.as_str();
            let q = self
                .q(format!(
                    "UPDATE outbox SET receipt = $1, receipt_at = $2, \
                     receipt_note = COALESCE($3, receipt_note) \
                     WHERE account_id = $4 AND sent_id = $5 AND (receipt IS NULL \
                     OR (receipt = 'delivered' AND $1 IN ('read', 'failed')) \
                     OR (receipt = 'read' AND $1 = 'failed') \
                     OR (receipt = 'failed' AND $1 = 'failed')) RETURNING {OUTBOX_COLUMNS}"
                ))
                .arg(status)
                .arg(r.at)
                .arg(r.error.as_deref())
                .arg(account_id)
                .arg(r.id.as_str());
            for row in q.fetch_all(&self.db).await? {
                if r.status == promptly::channels::ReceiptStatus::Failed {
                    failed.push(outbox_from_row(&row)?);
                }
            }
        }
        Ok(failed)
    }

    async fn record_watermarks(
        &self,
        account_id: i64,
        source: &str,
        watermarks: &[promptly::channels::Watermark],
    ) -> StoreResult<()> {
        for w in watermarks {
            self.q("UPDATE outbox SET receipt = $1, receipt_at = $2 \
                 WHERE account_id = $3 AND status = 'delivered' AND created_at <= $2 \
                 AND conversation_id IN \
                 (SELECT id FROM conversations WHERE source = $4 AND external_id = $5) \
                 AND (receipt IS NULL OR (receipt = 'delivered' AND $1 = 'read'))")
                .arg(w.status.as_str())
                .arg(w.up_to)
                .arg(account_id)
                .arg(source)
                .arg(w.conversation.as_str())
                .execute(&self.db)
                .await?;
        }
        Ok(())
    }

    async fn conversation_sends(&self, conversation_id: i64) -> StoreResult<Vec<OutboxItem>> {
        let q = self.q(format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE conversation_id = $1 \
             AND message_id IS NOT NULL ORDER BY id"
        ));
        all(
            q.arg(conversation_id).fetch_all(&self.db).await?,
            outbox_from_row,
        )
    }

    async fn sent_message_ids(&self, ids: &[String]) -> StoreResult<HashSet<String>> {
        if ids.is_empty() {
            return Ok(HashSet::new());
        }
        let mut q = self.q("SELECT sent_id FROM outbox WHERE ");
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        q.push_in("sent_id", ids.as_slice());
        Ok(q.fetch_column(&self.db).await?.into_iter().collect())
    }

    async fn record_channel_webhook(
        &self,
        id: i64,
        outcome: Result<(), &str>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let q = match outcome {
            Ok(()) => self
                .q(
                    "UPDATE channel_accounts SET webhooks = webhooks + 1, last_webhook_at = $1 \
                    WHERE id = $2",
                )
                .arg(now)
                .arg(id),
            Err(error) => self
                .q(
                    "UPDATE channel_accounts SET failures = failures + 1, last_error = $1, \
                    last_error_at = $2 WHERE id = $3",
                )
                .arg(error.chars().take(1_000).collect::<String>())
                .arg(now)
                .arg(id),
        };
        q.execute(&self.db).await?;
        Ok(())
    }

    async fn team_departments(&self) -> StoreResult<Vec<TeamDepartment>> {
        let sql = "SELECT team, department FROM team_departments ORDER BY team_key";
        self.rows(sql, |r| {
            Ok(TeamDepartment {
                team: r.get("team")?,
                department: r.get("department")?,
            })
        })
        .await
    }

    async fn set_team_departments(&self, mapping: &[TeamDepartment]) -> StoreResult<()> {
        let mut tx = self.db.begin_write().await?;
        self.db.lock_table(&mut tx, "team_departments").await?;
        self.q("DELETE FROM team_departments")
            .execute(&mut tx)
            .await?;
        for m in mapping {
            self.q(
                "INSERT INTO team_departments (team_key, team, department) VALUES ($1, $2, $3) \
                 ON CONFLICT (team_key) DO UPDATE SET team = excluded.team, \
                 department = excluded.department",
            )
            .arg(facts::key(&m.team))
            .arg(m.team.trim())
            .arg(m.department.trim())
            .execute(&mut tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn compliance_groups(
        &self,
        contract: &Contract,
        period: PeriodKey,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<GroupCounts>> {
        let def = facts::RollupDef::of(contract);
        let id = self.rollup_def_id(&def).await?;
        let width = def.kinds.len();
        let (rolled, late) = self
            .rolled_and_late(
                facts::rollup_read_sql(id, width, period),
                facts::late_groups_sql(self.db.dialect(), &contract.scope, &def.kinds, period, now),
            )
            .await?;
        let mut out = Vec::with_capacity(rolled.len() + late.len());
        for r in rolled.iter().chain(&late) {
            out.push(group_from_packed_row(r, width)?);
        }
        Ok(facts::merge_groups(out))
    }

    async fn build_rollups(&self, def: &facts::RollupDef) -> StoreResult<i64> {
        self.rollup_def_id(def).await
    }

    fn ingest_commits(&self) -> (u64, u64) {
        self.group.stats()
    }

    async fn compliance_totals(
        &self,
        contract: &Contract,
        periods: &[PeriodKey],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<GroupCounts>> {
        let def = facts::RollupDef::of(contract);
        let id = self.rollup_def_id(&def).await?;
        let width = def.kinds.len();
        let (rolled, late) = self
            .rolled_and_late(
                facts::rollup_totals_sql(id, width, periods),
                facts::late_totals_sql(
                    self.db.dialect(),
                    &contract.scope,
                    &def.kinds,
                    periods,
                    now,
                ),
            )
            .await?;
        let mut period_of = HashMap::new();
        for (i, p) in periods.iter().enumerate() {
            for b in facts::rollup_buckets(*p).1 {
                period_of.insert(b, i);
            }
        }
        let mut out: Vec<GroupCounts> = periods
            .iter()
            .map(|_| GroupCounts {
                team: None,
                owner: None,
                channel: promptly::conversation::Channel::ALL[0],
                conversations: 0,
                tallies: vec![(0, 0); width],
            })
            .collect();
        for r in rolled.iter().chain(&late) {
            let bucket: i64 = r.get(0)?;
            let counts = packed_counts(r, 1, width)?;
            let Some(g) = period_of.get(&bucket).map(|i| &mut out[*i]) else {
                continue;
            };
            g.conversations += counts[0];
            for (t, c) in g.tallies.iter_mut().zip(counts[1..].chunks(2)) {
                t.0 += c[0];
                t.1 += c[1];
            }
        }
        Ok(out)
    }

    async fn retain_rollups(&self, keep: &[facts::RollupDef]) -> StoreResult<()> {
        let keep: HashSet<String> = keep.iter().map(|d| d.key()).collect();
        let defs: Vec<(i64, String)> = {
            let rows = self
                .q("SELECT id, def FROM compliance_rollup_defs")
                .fetch_all(&self.db)
                .await?;
            let mut v = Vec::with_capacity(rows.len());
            for r in &rows {
                v.push((r.get(0)?, r.get(1)?));
            }
            v
        };
        let gone: Vec<i64> = defs
            .into_iter()
            .filter(|(_, d)| !keep.contains(d))
            .map(|(id, _)| id)
            .collect();
        if gone.is_empty() {
            return Ok(());
        }
        let mut tx = self.lock_rollup_defs().await?;
        for (table, column) in [
            ("compliance_rollups", "def_id"),
            ("compliance_rollup_defs", "id"),
        ] {
            let mut q = self.q(format!("DELETE FROM {table} WHERE "));
            q.push_in(column, gone.clone());
            q.execute(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn compact_rollups(&self) -> StoreResult<u64> {
        use std::sync::atomic::Ordering;
        let upto: i64 = self
            .q("SELECT COALESCE(MAX(id), 0) FROM compliance_rollups")
            .fetch_scalar(&self.db)
            .await?;
        let from = self.compacted.load(Ordering::Relaxed);
        if upto <= from {
            return Ok(0);
        }
        let rows = self
            .q(
                "SELECT DISTINCT def_id, span, bucket FROM compliance_rollups \
                WHERE id > $1 AND id <= $2",
            )
            .arg(from)
            .arg(upto)
            .fetch_all(&self.db)
            .await?;
        let mut keys = Vec::with_capacity(rows.len());
        for r in &rows {
            keys.push((r.get(0)?, r.get(1)?, r.get(2)?));
        }
        for chunk in keys.chunks(100) {
            let mut tx = self.db.begin_write().await?;
            for sql in facts::compaction_sql(self.db.dialect(), chunk, upto) {
                self.q(sql).execute(&mut tx).await?;
            }
            tx.commit().await?;
        }
        self.compacted.fetch_max(upto, Ordering::Relaxed);
        Ok(keys.len() as u64)
    }

    async fn compliance_groups_aggregate(
        &self,
        contract: &Contract,
        period: PeriodKey,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<GroupCounts>> {
        let kinds: Vec<MetricKind> = contract.metrics.iter().map(|m| m.kind).collect();
        let statements: Vec<String> = match self.db.dialect() {
            Dialect::Postgres => vec![facts::groups_sql(&contract.scope, &kinds, period, now)],
            // SQLite runs a statement on one core: the channels in two halves, aggregated
            // on two connections at once.
            Dialect::Sqlite => facts::channel_parts(&contract.scope, 2)
                .iter()
                .map(|chs| facts::groups_sql_of(&contract.scope, &kinds, period, now, Some(chs)))
                .collect(),
        };
        let queries = statements.into_iter().map(|sql| {
            let db = self.db.clone();
            async move { db.query(sql).fetch_all(&db).await }
        });
        let mut out = Vec::new();
        for rows in futures::future::try_join_all(queries).await? {
            for r in &rows {
                out.push(group_from_row(r, kinds.len())?);
            }
        }
        Ok(facts::merge_groups(out))
    }

    async fn compliance_conversations(
        &self,
        contract: &Contract,
        metric: MetricKind,
        period: PeriodKey,
        group: Option<&facts::GroupFilter>,
        now: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<DrillRow>> {
        let sql = facts::drill_sql(&contract.scope, metric, period, group, now, limit);
        self.rows(sql, drill_from_row).await
    }

    async fn live_snapshot(&self, since: i64, now: i64) -> StoreResult<super::LiveSnapshot> {
        use promptly::compliance::ConversationFacts;
        let months = (facts::month_of(since), facts::month_of(now));
        let rows = self
            .q("SELECT created_s, channel, team, owner, policy_id, labels_key, email_host, first_response_s, \
                 abandoned_s, frt_met, frt_missed, nrt_met, nrt_missed, rt_met, rt_missed \
                 FROM conversation_facts WHERE month >= $1 AND month <= $2 AND created_s >= $3 \
                 AND created_s <= $4")
            .arg(months.0)
            .arg(months.1)
            .arg(since)
            .arg(now)
            .fetch_all(&self.db)
            .await?;
        let mut today = Vec::with_capacity(rows.len());
        for r in rows {
            let channel: String = r.get("channel")?;
            let Some(channel) = promptly::conversation::Channel::parse(&channel) else {
                continue;
            };
            let created = r.get::<i64, _>("created_s")?;
            let mut f = ConversationFacts::new(
                DateTime::from_timestamp(created, 0).unwrap_or_default(),
                channel,
            );
            f.team = r.get("team")?;
            f.owner = r.get("owner")?;
            f.policy_id = r.get("policy_id")?;
            let labels: String = r.get("labels_key")?;
            f.labels = labels
                .split('|')
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect();
            // Scopes look at the address's domain only: the facts keep no more of it.
            f.contact_email = r
                .get::<Option<String>, _>("email_host")?
                .map(|h| format!("contact@{h}"));
            f.first_response_s = r.get("first_response_s")?;
            f.abandoned_after_s = r.get("abandoned_s")?;
            let outcome = |met: i64, missed: i64| match (met, missed) {
                (_, m) if m > 0 => Some(false),
                (m, _) if m > 0 => Some(true),
                _ => None,
            };
            let get = |c: &str| r.get::<i64, _>(c);
            f.frt_met = outcome(get("frt_met")?, get("frt_missed")?);
            f.rt_met = outcome(get("rt_met")?, get("rt_missed")?);
            f.nrt_met = u32::try_from(get("nrt_met")?).unwrap_or(0);
            f.nrt_missed = u32::try_from(get("nrt_missed")?).unwrap_or(0);
            let breaches = get("frt_missed")? + get("nrt_missed")? + get("rt_missed")?;
            today.push(super::LiveRow { facts: f, breaches });
        }
        let waiting = self
            .q(
                "SELECT f.team, f.channel, COUNT(*) AS n, MIN(f.created_s) AS oldest \
                 FROM conversation_facts f JOIN conversations c ON c.id = f.conversation_id \
                 WHERE c.status = 'open' AND f.first_response_s IS NULL AND f.abandoned_s IS NULL \
                 GROUP BY f.team, f.channel ORDER BY f.team, f.channel",
            )
            .fetch_all(&self.db)
            .await?
            .into_iter()
            .map(|r| {
                Ok(super::Waiting {
                    team: r.get("team")?,
                    channel: r.get("channel")?,
                    count: r.get("n")?,
                    oldest_s: r.get("oldest")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        let agents = self
            .q(
                "SELECT team, COUNT(DISTINCT owner) AS n FROM conversations \
                 WHERE status <> 'resolved' AND owner IS NOT NULL GROUP BY team ORDER BY team",
            )
            .fetch_all(&self.db)
            .await?
            .into_iter()
            .map(|r| Ok((r.get("team")?, r.get("n")?)))
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        Ok(super::LiveSnapshot {
            today,
            waiting,
            agents,
        })
    }

    async fn policy_conversations(
        &self,
        policy_id: i64,
        from: i64,
        to: i64,
    ) -> StoreResult<Vec<i64>> {
        if to <= from {
            return Ok(Vec::new());
        }
        // The month bounds let the (month, created_s) index narrow the scan.
        let months = (facts::month_of(from), facts::month_of(to - 1));
        Ok(self
            .q("SELECT conversation_id FROM conversation_facts \
                 WHERE month >= $1 AND month <= $2 AND created_s >= $3 AND created_s < $4 \
                 AND policy_id = $5 ORDER BY conversation_id")
            .arg(months.0)
            .arg(months.1)
            .arg(from)
            .arg(to)
            .arg(policy_id)
            .fetch_column(&self.db)
            .await?)
    }

    async fn conversations_without_facts(&self, limit: i64) -> StoreResult<Vec<i64>> {
        Ok(self
            .q("SELECT id FROM conversations c WHERE NOT EXISTS \
                 (SELECT 1 FROM conversation_facts f WHERE f.conversation_id = c.id) \
                 ORDER BY id LIMIT $1")
            .arg(limit)
            .fetch_column(&self.db)
            .await?)
    }

    async fn default_policy(&self) -> StoreResult<Option<i64>> {
        Ok(self
            .q(shared::DEFAULT_POLICY)
            .arg(DEFAULT_POLICY_KEY)
            .fetch_optional_scalar(&self.db)
            .await?)
    }

    async fn set_default_policy(&self, id: Option<i64>) -> StoreResult<()> {
        let Some(id) = id else {
            self.q("DELETE FROM settings WHERE key = $1")
                .arg(DEFAULT_POLICY_KEY)
                .execute(&self.db)
                .await?;
            return Ok(());
        };
        let mut tx = self.db.begin_write().await?;
        let sql = "SELECT id FROM policies WHERE id = $1 AND NOT deleted";
        self.lock_row(&mut tx, sql, id, Lock::Share).await?;
        self.q("INSERT INTO settings (key, value) VALUES ($1, $2) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .arg(DEFAULT_POLICY_KEY)
            .arg(id.to_string())
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn ingest_and_send(
        &self,
        source: &str,
        events: &[IncomingEvent],
        sends: &[(i64, NewOutbox)],
        deriver: &dyn Deriver,
        now: DateTime<Utc>,
    ) -> StoreResult<IngestReport> {
        if events.is_empty() {
            return Ok(IngestReport::default());
        }
        if self.db.dialect() == Dialect::Postgres {
            // PostgreSQL runs concurrent batches side by side and flushes their commits
            // together itself; one shared transaction would put them in a line (8 clients:
            // 0.42 of raw against 0.70, see BENCHMARKS.md).
            let mut tx = self.db.begin_write().await?;
            let report = self
                .ingest_in(&mut tx, source, events, sends, deriver, now)
                .await?;
            tx.commit().await?;
            self.group.count_alone();
            self.analyze_when_grown(events.len());
            return Ok(report);
        }
        // SQLite has one writer: batches that arrive together share its transaction.
        let mut batch = IngestBatch {
            store: self,
            source,
            events,
            sends,
            deriver,
            now,
        };
        self.group.run(&self.db, &mut batch).await
    }

    async fn take_next(
        &self,
        owner: &str,
        teams: &[String],
        event_id: &str,
        deriver: &dyn Deriver,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<(i64, IngestReport)>> {
        let (priority, visibility) = match self.db.dialect() {
            Dialect::Sqlite => (
                "json_extract(summary, '$.priority')",
                "json_extract(summary, '$.visibility')",
            ),
            Dialect::Postgres => (
                "(summary::jsonb ->> 'priority')",
                "(summary::jsonb ->> 'visibility')",
            ),
        };
        let mut tx = self.db.begin_write().await?;
        let mut q = self.q(format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations \
             WHERE status = 'open' AND owner IS NULL"
        ));
        if !teams.is_empty() {
            q.push(" AND ").push_in("team", teams.to_vec());
        }
        q.push(&format!(
            " ORDER BY due_at IS NULL, due_at, \
             CASE WHEN {priority} = 'urgent' THEN 0 ELSE 1 END, \
             CASE WHEN {visibility} = 'direct' THEN 0 ELSE 1 END, created_at, id LIMIT 1"
        ));
        // Another server's taker holds its row: this one takes the next.
        q.push_lock(Lock::UpdateSkipLocked);
        let Some(row) = q.fetch_optional(&mut tx).await? else {
            tx.commit().await?;
            return Ok(None);
        };
        let row = conversation_from_row(&row)?;
        let event = IncomingEvent {
            id: event_id.to_string(),
            conversation: row.external_id.clone(),
            at: now,
            body: promptly::conversation::EventBody::Updated {
                status: None,
                priority: None,
                owner: Some(Some(owner.to_string())),
                team: None,
                labels: None,
            },
        };
        let report = self
            .ingest_in(
                &mut tx,
                &row.source,
                std::slice::from_ref(&event),
                &[],
                deriver,
                now,
            )
            .await?;
        tx.commit().await?;
        Ok(Some((row.id, report)))
    }

    async fn rederive_many(
        &self,
        ids: &[i64],
        deriver: &dyn Deriver,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<TouchedConversation>> {
        let mut tx = self.db.begin_write().await?;
        let rows = self.conversations_locked(&mut tx, ids).await?;
        let row_ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let mut events = self.events_of_in(&mut tx, &row_ids).await?;
        let touched = shared::rederived(rows, &mut events, deriver, now);
        let changed: Vec<&ConversationRow> = touched.iter().map(|t| &t.row).collect();
        self.write_derived(&mut tx, &changed).await?;
        tx.commit().await?;
        Ok(touched)
    }

    async fn automation_pass(
        &self,
        automator: &dyn Automator,
        now: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<AutomationPass> {
        let mut tx = self.db.begin_write().await?;
        // Conversations another server holds are skipped: each is handled by one.
        let mut q = self.q(format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id IN ( \
             SELECT id FROM conversations WHERE next_sla_at <= $1 \
             UNION SELECT conversation_id FROM automation_queue) \
             ORDER BY id LIMIT $2"
        ));
        q.push_lock(Lock::UpdateSkipLocked);
        let rows = all(
            q.arg(now).arg(limit).fetch_all(&mut tx).await?,
            conversation_from_row,
        )?;
        if rows.is_empty() {
            tx.commit().await?;
            return Ok(AutomationPass::default());
        }
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let mut events = self.events_of_in(&mut tx, &ids).await?;
        let mut pending: HashMap<i64, Vec<IncomingEvent>> = HashMap::new();
        let mut queue_ids: Vec<i64> = Vec::new();
        let mut q = self.q(
            "SELECT q.event_id, q.conversation_id, e.payload FROM automation_queue q \
             JOIN events e ON e.id = q.event_id WHERE ",
        );
        q.push_in("q.conversation_id", ids.as_slice())
            .push(" ORDER BY q.event_id");
        for r in q.fetch_all(&mut tx).await? {
            queue_ids.push(r.get("event_id")?);
            pending
                .entry(r.get("conversation_id")?)
                .or_default()
                .push(r.json("payload")?);
        }
        // Read after the queue: an event queued for a rule newer than the automator's rules
        // was committed with (or after) that rule, so the generation read now has moved.
        if let Some(expected) = automator.catalog_generation() {
            let generation: i64 = self
                .q("SELECT generation FROM catalog_generation WHERE id = 1")
                .fetch_scalar(&mut tx)
                .await?;
            if generation != expected {
                tx.commit().await?;
                return Ok(AutomationPass {
                    stale: true,
                    ..AutomationPass::default()
                });
            }
        }
        let mut fired: HashMap<i64, HashSet<(String, i64, String, i64)>> = HashMap::new();
        let mut q =
            self.q("SELECT conversation_id, metric, cycle, event, level FROM sla_firings WHERE ");
        q.push_in("conversation_id", ids.as_slice());
        for r in q.fetch_all(&mut tx).await? {
            fired.entry(r.get("conversation_id")?).or_default().insert((
                r.get("metric")?,
                r.get("cycle")?,
                r.get("event")?,
                r.get("level")?,
            ));
        }
        let mut work = shared::AutomationWork::default();
        for row in rows {
            let evs = events.remove(&row.id).unwrap_or_default();
            let pend = pending.remove(&row.id).unwrap_or_default();
            let done = fired.remove(&row.id).unwrap_or_default();
            work.run(automator, row, evs, &pend, &done, now);
        }
        let new_events: Vec<(Option<i64>, &str, &IncomingEvent)> = work
            .new_events
            .iter()
            .map(|(c, source, e)| (Some(*c), source.as_str(), e))
            .collect();
        self.insert_events(&mut tx, &new_events, now).await?;
        let mut u = Bulk::new(
            "u",
            &[
                ("conversation_id", Ty::Int),
                ("metric", Ty::Text),
                ("cycle", Ty::Int),
                ("event", Ty::Text),
                ("level", Ty::Int),
                ("due_at", Ty::Ts),
                ("fired_at", Ty::Ts),
                ("late", Ty::Bool),
            ],
        );
        for (c, f) in &work.pass.fired {
            u.row([
                c.into(),
                f.metric.clone().into(),
                f.cycle.into(),
                f.event.clone().into(),
                f.level.into(),
                f.due_at.into(),
                now.into(),
                f.late.into(),
            ]);
        }
        u.execute(
            &mut tx,
            Use::Insert {
                table: "sla_firings",
                tail: "ON CONFLICT DO NOTHING",
            },
        )
        .await?;
        let mut u = Bulk::new(
            "u",
            &[
                ("rule_id", Ty::Int),
                ("conversation_id", Ty::Int),
                ("trigger", Ty::Text),
                ("fired_at", Ty::Ts),
            ],
        );
        for (conversation_id, rule_id, trigger) in &work.rule_runs {
            u.row([
                rule_id.into(),
                conversation_id.into(),
                trigger.into(),
                now.into(),
            ]);
        }
        u.execute(
            &mut tx,
            Use::Insert {
                table: "rule_runs",
                tail: "",
            },
        )
        .await?;
        self.insert_outbox(&mut tx, &work.outbox, now).await?;
        let notified = self.write_notices(&mut tx, &work.notices).await?;
        if !queue_ids.is_empty() {
            let mut q = self.q("DELETE FROM automation_queue WHERE ");
            q.push_in("event_id", queue_ids);
            q.execute(&mut tx).await?;
        }
        let rows: Vec<&ConversationRow> = work.rows.iter().collect();
        self.write_derived(&mut tx, &rows).await?;
        tx.commit().await?;
        let mut pass = work.finish();
        pass.notified = notified;
        Ok(pass)
    }

    async fn band_states(&self) -> StoreResult<HashMap<String, Band>> {
        self.rows("SELECT row_key, band FROM band_states", |r| {
            let band: String = r.get("band")?;
            Ok((r.get("row_key")?, band_from_db(&band)?))
        })
        .await
        .map(|rows| rows.into_iter().collect())
    }

    async fn record_bands(
        &self,
        seen: &[(String, Band)],
        changes: &[BandChange],
        fire: &(dyn for<'c> Fn(&'c BandChange) -> BandFiring + Send + Sync),
        now: DateTime<Utc>,
    ) -> StoreResult<(Vec<BandChange>, Vec<Notified>)> {
        let mut tx = self.db.begin_write().await?;
        let mut fired = Vec::new();
        let mut notices = Vec::new();
        let mut outbox = Vec::new();
        for change in changes {
            let inserted = self
                .q("INSERT INTO band_changes (change_key, row_key, from_band, to_band, payload, at) \
                    VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (change_key) DO NOTHING")
                .arg(change.key())
                .arg(change.row_key())
                .arg(change.from.as_str())
                .arg(change.to.as_str())
                .arg(to_json(change)?)
                .arg(now)
                .execute(&mut tx)
                .await?;
            if inserted == 0 {
                continue;
            }
            let firing = fire(change);
            for (rule_id, trigger) in &firing.rule_runs {
                self.q(
                    "INSERT INTO rule_runs (rule_id, conversation_id, trigger, fired_at) \
                        VALUES ($1, 0, $2, $3)",
                )
                .arg(*rule_id)
                .arg(trigger.as_str())
                .arg(now)
                .execute(&mut tx)
                .await?;
            }
            outbox.extend(firing.outbox.into_iter().map(|o| (0, o)));
            notices.extend(firing.notices);
            fired.push(change.clone());
        }
        self.insert_outbox(&mut tx, &outbox, now).await?;
        let notified = self.write_notices(&mut tx, &notices).await?;
        for (row_key, band) in seen {
            self.q(
                "INSERT INTO band_states (row_key, band, updated_at) VALUES ($1, $2, $3) \
                    ON CONFLICT (row_key) DO UPDATE SET band = excluded.band, \
                    updated_at = excluded.updated_at",
            )
            .arg(row_key.as_str())
            .arg(band.as_str())
            .arg(now)
            .execute(&mut tx)
            .await?;
        }
        tx.commit().await?;
        Ok((fired, notified))
    }

    async fn notifications(&self, user_id: i64, limit: i64) -> StoreResult<NotificationList> {
        let sql = format!(
            "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE user_id = $1 \
             ORDER BY id DESC LIMIT $2"
        );
        let items = self
            .q(sql)
            .arg(user_id)
            .arg(limit)
            .fetch_all(&self.db)
            .await?
            .iter()
            .map(|r| notified_from_row(r).map(|n| n.notification))
            .collect::<Result<_, sqlx::Error>>()?;
        let unread = self
            .q("SELECT COUNT(*) FROM notifications WHERE user_id = $1 AND read_at IS NULL")
            .arg(user_id)
            .fetch_scalar(&self.db)
            .await?;
        Ok(NotificationList { unread, items })
    }

    async fn notifications_by_id(&self, ids: &[i64]) -> StoreResult<Vec<Notified>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = self.q(format!(
            "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE "
        ));
        q.push_in("id", ids).push(" ORDER BY id");
        Ok(q.fetch_all(&self.db)
            .await?
            .iter()
            .map(notified_from_row)
            .collect::<Result<_, sqlx::Error>>()?)
    }

    async fn mark_notifications_read(
        &self,
        user_id: i64,
        ids: Option<&[i64]>,
        now: DateTime<Utc>,
    ) -> StoreResult<i64> {
        let mut q = self.q("UPDATE notifications SET read_at = ");
        q.push_bind(now)
            .push(" WHERE user_id = ")
            .push_bind(user_id)
            .push(" AND read_at IS NULL");
        if let Some(ids) = ids {
            if ids.is_empty() {
                return Ok(0);
            }
            q.push(" AND ");
            q.push_in("id", ids);
        }
        Ok(q.execute(&self.db).await? as i64)
    }

    async fn notification_settings(&self, user_id: i64) -> StoreResult<NotificationSettings> {
        let text: Option<String> = self
            .q("SELECT settings FROM notification_settings WHERE user_id = $1")
            .arg(user_id)
            .fetch_optional_scalar(&self.db)
            .await?;
        Ok(text.map(|t| from_json(&t)).transpose()?.unwrap_or_default())
    }

    async fn set_notification_settings(
        &self,
        user_id: i64,
        settings: &NotificationSettings,
    ) -> StoreResult<()> {
        self.q(
            "INSERT INTO notification_settings (user_id, settings) VALUES ($1, $2) \
                ON CONFLICT (user_id) DO UPDATE SET settings = excluded.settings",
        )
        .arg(user_id)
        .arg(to_json(settings)?)
        .execute(&self.db)
        .await?;
        Ok(())
    }

    async fn announce_notifications(&self, origin: &str, ids: &[i64]) -> StoreResult<()> {
        if let Db::Postgres(p) = &self.db {
            super::postgres::announce_notifications(p, origin, ids).await?;
        }
        Ok(())
    }

    async fn sla_schedule(&self) -> StoreResult<Vec<(i64, DateTime<Utc>)>> {
        let sql = "SELECT id, next_sla_at FROM conversations WHERE next_sla_at IS NOT NULL";
        self.rows(sql, |r| Ok((r.get("id")?, r.ts("next_sla_at")?)))
            .await
    }

    async fn automation_pending(&self) -> StoreResult<bool> {
        Ok(self
            .q("SELECT EXISTS (SELECT 1 FROM automation_queue)")
            .fetch_scalar(&self.db)
            .await?)
    }

    async fn due_outbox(
        &self,
        now: DateTime<Utc>,
        full: &[String],
        limit: i64,
    ) -> StoreResult<Vec<(i64, String)>> {
        let mut q = self
            .q("SELECT id, receiver FROM outbox \
                WHERE status = 'pending' AND next_attempt_at <= $1")
            .arg(now);
        if !full.is_empty() {
            q.push(" AND NOT (")
                .push_in("receiver", full.to_vec())
                .push(")");
        }
        q.push(" ORDER BY next_attempt_at, id LIMIT ")
            .push_bind(limit);
        let rows = q.fetch_all(&self.db).await?;
        all(rows, |r| Ok((r.get("id")?, r.get("receiver")?)))
    }

    async fn claim_outbox(
        &self,
        ids: &[i64],
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        lease: &str,
    ) -> StoreResult<Vec<OutboxItem>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // Still pending and due: another server may have claimed some since they were read
        // (PostgreSQL checks the condition again on the row it waited for).
        let mut q = self
            .q("UPDATE outbox SET next_attempt_at = $1, lease = $2 \
                WHERE status = 'pending' AND next_attempt_at <= $3 AND ")
            .arg(lease_until)
            .arg(lease)
            .arg(now);
        q.push_in("id", ids.to_vec())
            .push(&format!(" RETURNING {OUTBOX_COLUMNS}"));
        let rows = q.fetch_all(&self.db).await?;
        let mut items = all(rows, outbox_from_row)?;
        items.sort_by_key(|i| i.id);
        Ok(items)
    }

    async fn finish_outbox(
        &self,
        id: i64,
        lease: &str,
        outcome: &OutboxOutcome,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let q = match outcome {
            OutboxOutcome::Delivered => self
                .q(
                    "UPDATE outbox SET status = 'delivered', attempts = attempts + 1, \
                     delivered_at = $1, last_error = NULL, lease = NULL \
                     WHERE id = $2 AND lease = $3 AND status = 'pending'",
                )
                .arg(now)
                .arg(id)
                .arg(lease),
            OutboxOutcome::Sent { id: sent, note } => self
                .q(
                    "UPDATE outbox SET status = 'delivered', attempts = attempts + 1, \
                     delivered_at = $1, last_error = NULL, lease = NULL, sent_id = $4, \
                     receipt_note = $5 WHERE id = $2 AND lease = $3 AND status = 'pending'",
                )
                .arg(now)
                .arg(id)
                .arg(lease)
                .arg(sent.as_str())
                .arg(note.as_deref()),
            OutboxOutcome::Failed { error, retry_at } => self
                .q(
                    "UPDATE outbox SET attempts = attempts + 1, last_error = $1, lease = NULL, \
                     status = CASE WHEN $2 IS NULL THEN 'failed' ELSE 'pending' END, \
                     next_attempt_at = COALESCE($2, next_attempt_at) \
                     WHERE id = $3 AND lease = $4 AND status = 'pending'",
                )
                .arg(error.as_str())
                .arg(*retry_at)
                .arg(id)
                .arg(lease),
        };
        Ok(q.execute(&self.db).await? == 1)
    }

    async fn list_outbox(&self, status: Option<&str>, limit: i64) -> StoreResult<Vec<OutboxItem>> {
        let q = self.q(format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE ($1 IS NULL OR status = $1) \
             ORDER BY id DESC LIMIT $2"
        ));
        all(
            q.arg(status).arg(limit).fetch_all(&self.db).await?,
            outbox_from_row,
        )
    }

    async fn channel_outbounds(&self) -> StoreResult<Vec<ChannelOutbound>> {
        let sql = "SELECT channel, url, secret FROM channel_outbound ORDER BY channel";
        self.rows(sql, |r| {
            Ok(ChannelOutbound {
                channel: r.get("channel")?,
                url: r.get("url")?,
                secret: r.get("secret")?,
            })
        })
        .await
    }

    async fn set_channel_outbound(
        &self,
        channel: &str,
        target: Option<(&str, &str)>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let q = match target {
            Some((url, secret)) => self
                .q(
                    "INSERT INTO channel_outbound (channel, url, secret, updated_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (channel) DO UPDATE SET \
                     url = excluded.url, secret = excluded.secret, \
                     updated_at = excluded.updated_at",
                )
                .arg(channel)
                .arg(url)
                .arg(secret)
                .arg(now),
            None => self
                .q("DELETE FROM channel_outbound WHERE channel = $1")
                .arg(channel),
        };
        q.execute(&self.db).await?;
        Ok(())
    }

    async fn change_listener(&self) -> StoreResult<Option<sqlx::postgres::PgListener>> {
        match &self.db {
            Db::Sqlite(..) => Ok(None),
            Db::Postgres(p) => Ok(Some(super::postgres::listen(p).await?)),
        }
    }

    async fn announce(&self, origin: &str, ids: &[i64]) -> StoreResult<()> {
        if let Db::Postgres(p) = &self.db {
            super::postgres::announce(p, origin, ids).await?;
        }
        Ok(())
    }

    async fn open_conversation_ids(&self) -> StoreResult<Vec<i64>> {
        Ok(self
            .q("SELECT id FROM conversations WHERE status <> 'resolved' ORDER BY id")
            .fetch_column(&self.db)
            .await?)
    }

    async fn count_sla_firings(&self) -> StoreResult<i64> {
        Ok(self
            .q("SELECT COUNT(*) FROM sla_firings")
            .fetch_scalar(&self.db)
            .await?)
    }

    async fn next_stream_epoch(&self) -> StoreResult<i64> {
        Ok(self
            .q("UPDATE stream_epoch SET epoch = epoch + 1 WHERE id = 1 RETURNING epoch")
            .fetch_scalar(&self.db)
            .await?)
    }

    async fn backup_into(&self, path: &str) -> StoreResult<()> {
        if self.db.dialect() != Dialect::Sqlite {
            return Err(StoreError::Invalid {
                field: "database",
                message: "a PostgreSQL database is backed up with pg_dump",
            });
        }
        // One read transaction: the copy is the database as of its start, whatever is
        // written meanwhile.
        self.q("VACUUM INTO $1").arg(path).execute(&self.db).await?;
        Ok(())
    }

    async fn purge_delivered(&self, before: DateTime<Utc>, limit: i64) -> StoreResult<u64> {
        Ok(self
            .q("DELETE FROM outbox WHERE id IN (SELECT id FROM outbox \
                 WHERE status = 'delivered' AND delivered_at < $1 ORDER BY delivered_at LIMIT $2)")
            .arg(before)
            .arg(limit)
            .execute(&self.db)
            .await?)
    }

    async fn purge_rule_runs(&self, before: DateTime<Utc>, limit: i64) -> StoreResult<u64> {
        Ok(self
            .q(
                "DELETE FROM rule_runs WHERE id IN (SELECT id FROM rule_runs \
                 WHERE fired_at < $1 ORDER BY fired_at LIMIT $2)",
            )
            .arg(before)
            .arg(limit)
            .execute(&self.db)
            .await?)
    }

    async fn archive_resolved(
        &self,
        before: DateTime<Utc>,
        limit: i64,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let mut tx = self.db.begin_write().await?;
        // Held until commit (PostgreSQL): an ingest for one of them waits and then reads
        // the archive; one another server holds is left for the next batch.
        let mut q = self.q(
            "SELECT id, source FROM conversations c WHERE status = 'resolved' AND updated_at < $1 \
             AND (events_archived_at IS NULL OR events_archived_at < updated_at) \
             AND NOT EXISTS (SELECT 1 FROM automation_queue q WHERE q.conversation_id = c.id) \
             ORDER BY updated_at, id LIMIT $2",
        );
        q.push_lock(Lock::UpdateSkipLocked);
        let found: Vec<(i64, String)> = q
            .arg(before)
            .arg(limit)
            .fetch_all(&mut tx)
            .await?
            .iter()
            .map(|r| Ok((r.get("id")?, r.get("source")?)))
            .collect::<Result<_, sqlx::Error>>()?;
        let ids: Vec<i64> = found.iter().map(|(id, _)| *id).collect();
        if ids.is_empty() {
            tx.commit().await?;
            return Ok(0);
        }
        let events = self.events_of_in(&mut tx, &ids).await?;
        // A new id each time (a conversation archived again replaces its archive too).
        let archives: Vec<(Option<i64>, &str, IncomingEvent)> = found
            .iter()
            .filter_map(|(id, source)| {
                let evs = events.get(id)?;
                let name = format!("archived:{id}:{}", now.timestamp());
                let archive = promptly::conversation::archive(name, evs)?;
                Some((Some(*id), source.as_str(), archive))
            })
            .collect();
        let refs: Vec<(Option<i64>, &str, &IncomingEvent)> =
            archives.iter().map(|(c, s, e)| (*c, *s, e)).collect();
        let inserted = self.insert_events(&mut tx, &refs, now).await?;
        let kept: Vec<i64> = inserted.iter().map(|(id, _)| *id).collect();
        let stored: HashSet<&str> = inserted.iter().map(|(_, ext)| ext.as_str()).collect();
        // An archive id a channel happened to use already: those events stay as they are.
        let archived: Vec<i64> = archives
            .iter()
            .filter(|(_, _, e)| stored.contains(e.id.as_str()))
            .filter_map(|(c, _, _)| *c)
            .collect();
        if !archived.is_empty() {
            let mut q = self.q("DELETE FROM events WHERE ");
            q.push_in("conversation_id", archived.as_slice())
                .push(" AND NOT (")
                .push_in("id", kept)
                .push(")");
            q.execute(&mut tx).await?;
        }
        let handled = ids.len() as u64;
        let mut q = self.q("UPDATE conversations SET events_archived_at = ");
        q.push_bind(now).push(" WHERE ").push_in("id", ids);
        q.execute(&mut tx).await?;
        tx.commit().await?;
        Ok(handled)
    }

    async fn events_of(&self, ids: &[i64]) -> StoreResult<HashMap<i64, Vec<IncomingEvent>>> {
        Ok(self.events_of_in(&self.db, ids).await?)
    }

    async fn catalog_generation(&self) -> StoreResult<i64> {
        Ok(self
            .q("SELECT generation FROM catalog_generation WHERE id = 1")
            .fetch_scalar(&self.db)
            .await?)
    }

    async fn rederive(
        &self,
        id: i64,
        deriver: &dyn Deriver,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.db.begin_write().await?;
        self.derive_in(&mut tx, id, deriver, now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn conversation(&self, id: i64) -> StoreResult<Option<ConversationRow>> {
        self.by_id(
            CONVERSATION_COLUMNS,
            "conversations",
            id,
            conversation_from_row,
        )
        .await
    }

    async fn conversations(&self, ids: &[i64]) -> StoreResult<Vec<ConversationRow>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let q = self.conversations_query(ids);
        all(q.fetch_all(&self.db).await?, conversation_from_row)
    }

    async fn conversations_by_external_id(
        &self,
        source: Option<&str>,
        external_id: &str,
    ) -> StoreResult<Vec<ConversationRow>> {
        let q = self.q(format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations \
             WHERE external_id = $1 AND ($2 IS NULL OR source = $2) ORDER BY id"
        ));
        let rows = q.arg(external_id).arg(source).fetch_all(&self.db).await?;
        all(rows, conversation_from_row)
    }

    async fn conversation_events(&self, id: i64) -> StoreResult<Vec<IncomingEvent>> {
        Ok(self
            .events_of_in(&self.db, &[id])
            .await?
            .remove(&id)
            .unwrap_or_default())
    }

    async fn list_conversations(
        &self,
        f: &ConversationFilter,
    ) -> StoreResult<Vec<ConversationRow>> {
        let q = shared::queue_query(self.db.dialect(), CONVERSATION_COLUMNS, f);
        all(q.fetch_all(&self.db).await?, conversation_from_row)
    }

    async fn count_conversations(&self, f: &ConversationFilter) -> StoreResult<(i64, Vec<String>)> {
        let dialect = self.db.dialect();
        let count = shared::queue_count(dialect, f)
            .fetch_scalar(&self.db)
            .await?;
        let teams = shared::queue_teams(dialect, f)
            .fetch_column(&self.db)
            .await?;
        Ok((count, teams))
    }
}

/// One ingest batch as a member of a group commit (`group::GroupCommit`).
struct IngestBatch<'a> {
    store: &'a SqlStore,
    source: &'a str,
    events: &'a [IncomingEvent],
    sends: &'a [(i64, NewOutbox)],
    deriver: &'a dyn Deriver,
    now: DateTime<Utc>,
}

impl group::Batch for IngestBatch<'_> {
    type Output = IngestReport;

    fn run<'t>(
        &'t mut self,
        tx: &'t mut Tx,
    ) -> futures::future::BoxFuture<'t, StoreResult<IngestReport>> {
        Box::pin(self.store.ingest_in(
            tx,
            self.source,
            self.events,
            self.sends,
            self.deriver,
            self.now,
        ))
    }
}

const NOTIFICATION_COLUMNS: &str =
    "id, user_id, kind, title, body, link, conversation_id, created_at, read_at";

fn notified_from_row(row: &Row) -> Result<Notified, sqlx::Error> {
    let kind: String = row.get("kind")?;
    Ok(Notified {
        user_id: row.get("user_id")?,
        notification: NotificationView {
            id: row.get("id")?,
            kind: NotificationKind::parse(&kind).ok_or_else(|| {
                sqlx::Error::Decode(format!("unknown notification kind {kind:?}").into())
            })?,
            title: row.get("title")?,
            body: row.get("body")?,
            link: row.get("link")?,
            conversation_id: row.get("conversation_id")?,
            created_at: row.ts("created_at")?,
            read: row.opt_ts("read_at")?.is_some(),
        },
    })
}

impl SqlStore {
    /// Writes `notices` in `tx` for their recipients among the users (`notify::recipients`),
    /// once per user and cause; returns the notifications written.
    async fn write_notices(
        &self,
        tx: &mut Tx,
        notices: &[Notice],
    ) -> Result<Vec<Notified>, sqlx::Error> {
        if notices.is_empty() {
            return Ok(Vec::new());
        }
        let members: Vec<Member> = self
            .q(
                "SELECT u.id, u.email, u.role, u.active, u.teams, s.settings FROM users u \
                LEFT JOIN notification_settings s ON s.user_id = u.id ORDER BY u.id",
            )
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| {
                let settings: Option<String> = r.get("settings")?;
                Ok(Member {
                    id: r.get("id")?,
                    email: r.get("email")?,
                    role: role_from_db(&r.get::<String, _>("role")?)?,
                    active: r.get("active")?,
                    teams: r.json("teams")?,
                    settings: settings
                        .map(|s| from_json(&s))
                        .transpose()?
                        .unwrap_or_default(),
                })
            })
            .collect::<Result<_, sqlx::Error>>()?;
        let mut written = Vec::new();
        for notice in notices {
            for user in recipients(notice, &members) {
                let sql = format!(
                    "INSERT INTO notifications (user_id, kind, title, body, link, \
                     conversation_id, cause, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                     ON CONFLICT (user_id, cause) DO NOTHING RETURNING {NOTIFICATION_COLUMNS}"
                );
                let row = self
                    .q(sql)
                    .arg(user)
                    .arg(notice.kind.as_str())
                    .arg(&notice.title)
                    .arg(&notice.body)
                    .arg(&notice.link)
                    .arg(notice.conversation_id)
                    .arg(&notice.cause)
                    .arg(notice.at)
                    .fetch_optional(&mut *tx)
                    .await?;
                if let Some(row) = row {
                    written.push(notified_from_row(&row)?);
                }
            }
        }
        Ok(written)
    }

    /// An ingest batch in `tx` (see `Store::ingest_and_send`), committed by its group.
    async fn ingest_in(
        &self,
        tx: &mut Tx,
        source: &str,
        events: &[IncomingEvent],
        sends: &[(i64, NewOutbox)],
        deriver: &dyn Deriver,
        now: DateTime<Utc>,
    ) -> StoreResult<IngestReport> {
        let ids = IngestPlan::distinct_ids(events);
        let mut q = self.q("SELECT external_id FROM events WHERE source = ");
        q.push_bind(source).push(" AND ");
        q.push_in("external_id", ids.as_slice());
        let seen: HashSet<String> = q.fetch_column(&mut *tx).await?.into_iter().collect();
        let plan = IngestPlan::new(events, &seen);
        if plan.fresh.is_empty() {
            return Ok(IngestReport {
                outcomes: vec![IngestOutcome::Duplicate; events.len()],
                ..Default::default()
            });
        }
        // Lock the batch's known conversations in one order, so that concurrent batches
        // touching the same conversations wait for each other instead of deadlocking, and
        // no other server writes a summary missing this batch's events.
        let mut rows: HashMap<&str, (ConversationRow, bool)> = HashMap::new();
        let mut sorted = plan.conversations.clone();
        sorted.sort_unstable();
        self.lock_conversations(&mut *tx, &plan, source, &sorted, &mut rows)
            .await?;
        let missing: Vec<&str> = plan
            .conversations
            .iter()
            .copied()
            .filter(|c| !rows.contains_key(c))
            .collect();
        if !missing.is_empty() {
            if let Some((policy_id, _)) = deriver.initial_policy() {
                if self.db.dialect() == Dialect::Postgres {
                    // Until commit, an update of this policy sees the new conversations on
                    // its current version (and adds a version instead of editing it).
                    let mut q = self.q("SELECT id FROM policies WHERE id = $1");
                    q.push_lock(Lock::Share);
                    q.arg(policy_id).fetch_optional(&mut *tx).await?;
                }
            }
            let created: Vec<ConversationRow> = missing
                .iter()
                .map(|c| plan.new_conversation(source, c, deriver, now))
                .collect();
            let mut u = Bulk::new(
                "u",
                &[
                    ("source", Ty::Text),
                    ("external_id", Ty::Text),
                    ("policy_id", Ty::Int),
                    ("policy_version", Ty::Int),
                    ("status", Ty::Text),
                    ("channel", Ty::Text),
                    ("team", Ty::Text),
                    ("owner", Ty::Text),
                    ("summary", Ty::Text),
                    ("due_at", Ty::Ts),
                    ("next_sla_at", Ty::Ts),
                    ("created_at", Ty::Ts),
                    ("updated_at", Ty::Ts),
                    ("checkpoint", Ty::Text),
                ],
            );
            for c in &created {
                let s = &c.summary;
                let checkpoint = c.checkpoint.as_ref().map(to_json).transpose()?;
                u.row([
                    c.source.clone().into(),
                    c.external_id.clone().into(),
                    c.policy_id.into(),
                    c.policy_version.into(),
                    shared::status_word(s.status).into(),
                    s.channel.as_str().into(),
                    s.team.clone().into(),
                    s.owner.clone().into(),
                    to_json(s)?.into(),
                    c.due_at.into(),
                    c.next_sla_at.into(),
                    now.into(),
                    now.into(),
                    checkpoint.into(),
                ]);
            }
            let returned = u
                .fetch_all(
                    &mut *tx,
                    Use::Insert {
                        table: "conversations",
                        tail: "ON CONFLICT (source, external_id) DO NOTHING \
                               RETURNING id, external_id",
                    },
                )
                .await?;
            let mut by_ext: HashMap<String, ConversationRow> = created
                .into_iter()
                .map(|c| (c.external_id.clone(), c))
                .collect();
            for r in returned {
                let ext: String = r.get("external_id")?;
                if let (Some(mut row), Some(key)) = (
                    by_ext.remove(&ext),
                    missing.iter().find(|c| **c == ext).copied(),
                ) {
                    row.id = r.get("id")?;
                    rows.insert(key, (row, true));
                }
            }
            // Created by another server meanwhile (and committed): lock them as known ones.
            let raced: Vec<&str> = missing
                .iter()
                .copied()
                .filter(|c| !rows.contains_key(c))
                .collect();
            if !raced.is_empty() {
                self.lock_conversations(&mut *tx, &plan, source, &raced, &mut rows)
                    .await?;
            }
        }
        // The existing conversations' histories: a checkpoint where it covers all of this
        // batch's events for the conversation, else every stored event.
        let existing: HashMap<i64, &str> = rows
            .iter()
            .filter(|(_, (_, created))| !created)
            .map(|(c, (r, _))| (r.id, *c))
            .collect();
        let ids: Vec<i64> = existing.keys().copied().collect();
        let mut resumed: HashMap<i64, Vec<IncomingEvent>> = HashMap::new();
        let checkpoints = if ids.is_empty() {
            // A batch of new conversations only: no round trip to the database.
            Vec::new()
        } else {
            let mut q = self
                .q("SELECT id, checkpoint FROM conversations WHERE checkpoint IS NOT NULL AND ");
            q.push_in("id", ids.as_slice());
            q.fetch_all(&mut *tx).await?
        };
        for r in checkpoints {
            let id: i64 = r.get("id")?;
            let cp: promptly::conversation::Checkpoint = r.json("checkpoint")?;
            let ext = existing.get(&id).copied().unwrap_or_default();
            if cp.covers(plan.fresh_events().filter(|e| e.conversation == ext)) {
                resumed.insert(id, vec![cp.archive]);
            }
        }
        let replay: Vec<i64> = ids
            .into_iter()
            .filter(|id| !resumed.contains_key(id))
            .collect();
        let mut stored = self.events_of_in(&mut *tx, &replay).await?;
        stored.extend(resumed);
        let ids: HashMap<&str, i64> = rows.iter().map(|(c, (r, _))| (*c, r.id)).collect();
        let over = plan.over_caps(&ids, &stored);
        if !over.is_empty() {
            // Dropped unfinished, the transaction takes back the conversations it created.
            return Err(StoreError::Refused(over));
        }
        // The events, in batch order (so that ids follow arrival).
        let fresh: Vec<(Option<i64>, &str, &IncomingEvent)> = plan
            .fresh_events()
            .map(|e| {
                let id = rows.get(e.conversation.as_str()).map(|(r, _)| r.id);
                (id, source, e)
            })
            .collect();
        let stored_events = self.insert_events(&mut *tx, &fresh, now).await?;
        let mut inserted = HashSet::with_capacity(stored_events.len());
        let mut row_ids: HashMap<String, i64> = HashMap::with_capacity(stored_events.len());
        for (id, ext) in stored_events {
            row_ids.insert(ext.clone(), id);
            inserted.insert(ext);
        }
        // The events an enabled rule listens to wait for the automation worker.
        let mut queued = Bulk::new(
            "u",
            &[
                ("event_id", Ty::Int),
                ("conversation_id", Ty::Int),
                ("enqueued_at", Ty::Ts),
            ],
        );
        for (conversation, _, e) in &fresh {
            if let (Some(event), Some(conversation)) = (row_ids.get(&e.id), conversation) {
                if deriver.wants_rules(e) {
                    queued.row([event.into(), conversation.into(), now.into()]);
                }
            }
        }
        let queued_n = queued.len();
        queued
            .execute(
                &mut *tx,
                Use::Insert {
                    table: "automation_queue",
                    tail: "",
                },
            )
            .await?;
        let (outcomes, touched, orphans) = plan.finish(rows, stored, &inserted, deriver, now);
        if !orphans.is_empty() {
            let mut q = self.q("DELETE FROM conversations WHERE ");
            q.push_in("id", orphans);
            q.execute(&mut *tx).await?;
        }
        let stale: Vec<&ConversationRow> =
            touched.iter().filter(|t| t.stale).map(|t| &t.row).collect();
        self.write_derived(&mut *tx, &stale).await?;
        let created: Vec<&ConversationRow> = touched
            .iter()
            .filter(|t| !t.stale)
            .map(|t| &t.row)
            .collect();
        self.write_facts(&mut *tx, &created).await?;
        self.insert_outbox(&mut *tx, sends, now).await?;
        Ok(IngestReport {
            outcomes,
            touched,
            queued: queued_n,
        })
    }
}
