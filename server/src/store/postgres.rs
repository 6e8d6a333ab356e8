//! The store for teams that outgrow one machine: several Promptly servers on one PostgreSQL.

use super::facts::{self, FactColumns, FACT_COLUMNS, FACT_UPDATES};
use super::shared::{
    self, from_json, to_json, IngestPlan, DEFAULT_POLICY_KEY, RULE_COLUMNS, RULE_ORDER,
};
use super::{
    role_from_db, ApiToken, AutomationPass, Automator, CalendarInput, CalendarRecord,
    ChannelOutbound, ContractRecord, ConversationFilter, ConversationRow, Deriver, DrillRow,
    IngestOutcome, IngestReport, NewUser, OutboxItem, OutboxOutcome, PolicyInput, PolicyRecord,
    RuleRecord, Store, StoreError, StoreResult, TeamDepartment, TouchedConversation, User,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use promptly::account::Role;
use promptly::compliance::{Contract, GroupCounts, MetricKind, PeriodKey};
use promptly::conversation::IncomingEvent;
use promptly::rules::RuleDefinition;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{PgConnection, PgPool, Postgres, Row};
use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::time::Duration;

pub struct PostgresStore {
    pool: PgPool,
}

/// The `NOTIFY` channel on which servers announce changed conversations.
pub const CHANGES_CHANNEL: &str = "promptly_changes";

impl PostgresStore {
    /// A listener on [`CHANGES_CHANNEL`] (its own connection).
    pub async fn listen(&self) -> Result<sqlx::postgres::PgListener, sqlx::Error> {
        let mut l = sqlx::postgres::PgListener::connect_with(&self.pool).await?;
        l.listen(CHANGES_CHANNEL).await?;
        Ok(l)
    }
}

fn user_from_row(row: &sqlx::postgres::PgRow) -> Result<User, sqlx::Error> {
    Ok(User {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        name: row.try_get("name")?,
        role: role_from_db(row.try_get::<&str, _>("role")?)?,
        password_hash: row.try_get("password_hash")?,
        active: row.try_get("active")?,
        created_at: row.try_get("created_at")?,
    })
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

fn is_foreign_key_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_foreign_key_violation())
}

const TOKEN_COLUMNS: &str = "id, name, role, created_at, revoked_at";

fn token_from_row(row: &PgRow) -> Result<ApiToken, sqlx::Error> {
    Ok(ApiToken {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        role: role_from_db(row.try_get::<&str, _>("role")?)?,
        created_at: row.try_get("created_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

const CALENDAR_COLUMNS: &str = "id, name, description, definition, created_at, updated_at";

fn calendar_from_row(row: &PgRow) -> Result<CalendarRecord, sqlx::Error> {
    Ok(CalendarRecord {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        definition: from_json(row.try_get::<&str, _>("definition")?)?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// A policy version's columns, from `policy_versions v`.
const POLICY_COLUMNS: &str =
    "v.policy_id, v.version, v.name, v.description, v.calendar_id, v.definition, v.created_at";

fn policy_from_row(row: &PgRow) -> Result<PolicyRecord, sqlx::Error> {
    Ok(PolicyRecord {
        id: row.try_get("policy_id")?,
        version: row.try_get("version")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        calendar_id: row.try_get("calendar_id")?,
        policy: from_json(row.try_get::<&str, _>("definition")?)?,
        created_at: row.try_get("created_at")?,
    })
}

fn rule_from_row(row: &PgRow) -> Result<RuleRecord, sqlx::Error> {
    Ok(RuleRecord {
        id: row.try_get("id")?,
        position: row.try_get("position")?,
        definition: from_json(row.try_get::<&str, _>("definition")?)?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

const OUTBOX_COLUMNS: &str = "id, kind, rule_id, conversation_id, url, secret, body, status, \
     attempts, next_attempt_at, last_error, created_at, delivered_at";

fn outbox_from_row(row: &PgRow) -> Result<OutboxItem, sqlx::Error> {
    Ok(OutboxItem {
        id: row.try_get("id")?,
        kind: row.try_get("kind")?,
        rule_id: row.try_get("rule_id")?,
        conversation_id: row.try_get("conversation_id")?,
        url: row.try_get("url")?,
        secret: row.try_get("secret")?,
        body: row.try_get("body")?,
        status: row.try_get("status")?,
        attempts: row.try_get("attempts")?,
        next_attempt_at: row.try_get("next_attempt_at")?,
        last_error: row.try_get("last_error")?,
        created_at: row.try_get("created_at")?,
        delivered_at: row.try_get("delivered_at")?,
    })
}

/// Serialises the writes that depend on the set of rules (append, reorder) across servers;
/// reads go on.
const LOCK_RULES: &str = "LOCK TABLE rules IN EXCLUSIVE MODE";

const CONVERSATION_COLUMNS: &str = "id, external_id, policy_id, policy_version, summary, due_at, \
     next_sla_at, sla_done_until, created_at, updated_at";

fn contract_from_row(row: &PgRow) -> Result<ContractRecord, sqlx::Error> {
    Ok(ContractRecord {
        id: row.try_get("id")?,
        contract: from_json(row.try_get::<&str, _>("definition")?)?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn conversation_from_row(row: &PgRow) -> Result<ConversationRow, sqlx::Error> {
    Ok(ConversationRow {
        id: row.try_get("id")?,
        external_id: row.try_get("external_id")?,
        policy_id: row.try_get("policy_id")?,
        policy_version: row.try_get("policy_version")?,
        summary: from_json(row.try_get::<&str, _>("summary")?)?,
        due_at: row.try_get("due_at")?,
        next_sla_at: row.try_get("next_sla_at")?,
        sla_done_until: row.try_get("sla_done_until")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        facts: None,
    })
}

async fn policy_version_in(
    conn: &mut PgConnection,
    id: i64,
    version: i64,
) -> Result<Option<PolicyRecord>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {POLICY_COLUMNS} FROM policy_versions v WHERE v.policy_id = $1 AND v.version = $2"
    ))
    .bind(id)
    .bind(version)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(policy_from_row).transpose()
}

async fn events_in(
    conn: &mut PgConnection,
    conversation_id: i64,
) -> Result<Vec<IncomingEvent>, sqlx::Error> {
    let payloads: Vec<String> =
        sqlx::query_scalar("SELECT payload FROM events WHERE conversation_id = $1 ORDER BY at, id")
            .bind(conversation_id)
            .fetch_all(conn)
            .await?;
    payloads.iter().map(|p| from_json(p)).collect()
}

/// The events of several conversations, each ordered by `at`, then arrival.
async fn events_of_in(
    conn: &mut PgConnection,
    ids: &[i64],
) -> Result<HashMap<i64, Vec<IncomingEvent>>, sqlx::Error> {
    let mut out: HashMap<i64, Vec<IncomingEvent>> = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let rows = sqlx::query(
        "SELECT conversation_id, payload FROM events WHERE conversation_id = ANY($1) \
         ORDER BY conversation_id, at, id",
    )
    .bind(ids)
    .fetch_all(&mut *conn)
    .await?;
    for r in rows {
        let id: i64 = r.try_get("conversation_id")?;
        out.entry(id)
            .or_default()
            .push(from_json(r.try_get::<&str, _>("payload")?)?);
    }
    Ok(out)
}

/// Writes the columns a conversation's events and policy decide (policy, status, channel,
/// team, owner, summary, due_at, next_sla_at, sla_done_until, updated_at) in one statement.
async fn write_derived(
    conn: &mut PgConnection,
    rows: &[&ConversationRow],
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut summaries = Vec::with_capacity(rows.len());
    for c in rows {
        summaries.push(to_json(&c.summary)?);
    }
    let col = |f: fn(&ConversationRow) -> Option<String>| -> Vec<Option<String>> {
        rows.iter().map(|c| f(c)).collect()
    };
    sqlx::query(
        "UPDATE conversations c SET policy_id = v.policy_id, policy_version = v.policy_version, \
         status = v.status, channel = v.channel, team = v.team, owner = v.owner, \
         summary = v.summary, due_at = v.due_at, next_sla_at = v.next_sla_at, \
         sla_done_until = v.sla_done_until, updated_at = v.updated_at \
         FROM UNNEST($1::int8[], $2::int8[], $3::int8[], $4::text[], $5::text[], $6::text[], \
         $7::text[], $8::text[], $9::timestamptz[], $10::timestamptz[], $11::timestamptz[], \
         $12::timestamptz[]) AS v(id, policy_id, policy_version, status, channel, team, owner, \
         summary, due_at, next_sla_at, sla_done_until, updated_at) WHERE c.id = v.id",
    )
    .bind(rows.iter().map(|c| c.id).collect::<Vec<_>>())
    .bind(rows.iter().map(|c| c.policy_id).collect::<Vec<_>>())
    .bind(rows.iter().map(|c| c.policy_version).collect::<Vec<_>>())
    .bind(col(|c| {
        Some(shared::status_word(c.summary.status).to_string())
    }))
    .bind(col(|c| Some(c.summary.channel.as_str().to_string())))
    .bind(col(|c| c.summary.team.clone()))
    .bind(col(|c| c.summary.owner.clone()))
    .bind(&summaries)
    .bind(rows.iter().map(|c| c.due_at).collect::<Vec<_>>())
    .bind(rows.iter().map(|c| c.next_sla_at).collect::<Vec<_>>())
    .bind(rows.iter().map(|c| c.sla_done_until).collect::<Vec<_>>())
    .bind(rows.iter().map(|c| c.updated_at).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await?;
    write_facts(conn, rows).await
}

/// Upserts the compliance facts of the rows that were just derived, in one statement.
async fn write_facts(
    conn: &mut PgConnection,
    rows: &[&ConversationRow],
) -> Result<(), sqlx::Error> {
    let cols: Vec<FactColumns> = rows
        .iter()
        .filter_map(|r| r.facts.as_ref().map(|f| FactColumns::new(r.id, f)))
        .collect();
    if cols.is_empty() {
        return Ok(());
    }
    let ints = |f: fn(&FactColumns) -> i64| -> Vec<i64> { cols.iter().map(f).collect() };
    let opt_ints =
        |f: fn(&FactColumns) -> Option<i64>| -> Vec<Option<i64>> { cols.iter().map(f).collect() };
    let texts = |f: fn(&FactColumns) -> Option<String>| -> Vec<Option<String>> {
        cols.iter().map(f).collect()
    };
    let mut types = String::new();
    for (i, t) in [
        "int8", "int8", "int8", "text", "text", "text", "text", "text", "text", "int8", "text",
        "text", "int8", "int8", "int8", "int8", "int8", "int8", "int8", "int8", "int8", "int8",
        "int8", "int8", "int8", "int8", "int8", "int8", "int8",
    ]
    .iter()
    .enumerate()
    {
        if i > 0 {
            types.push_str(", ");
        }
        types.push_str(&format!("${}::{t}[]", i + 1));
    }
    sqlx::query(&format!(
        "INSERT INTO conversation_facts ({FACT_COLUMNS}) SELECT * FROM UNNEST({types}) \
         ON CONFLICT (conversation_id) DO UPDATE SET {FACT_UPDATES}"
    ))
    .bind(ints(|c| c.conversation_id))
    .bind(ints(|c| c.created_s))
    .bind(ints(|c| c.month))
    .bind(texts(|c| Some(c.channel.to_string())))
    .bind(texts(|c| c.team.clone()))
    .bind(texts(|c| Some(c.team.clone().unwrap_or_default())))
    .bind(texts(|c| c.team_key.clone()))
    .bind(texts(|c| c.owner.clone()))
    .bind(texts(|c| Some(c.owner.clone().unwrap_or_default())))
    .bind(opt_ints(|c| c.policy_id))
    .bind(texts(|c| c.email_host.clone()))
    .bind(texts(|c| Some(c.labels_key.clone())))
    .bind(opt_ints(|c| c.first_response_s))
    .bind(opt_ints(|c| c.abandoned_s))
    .bind(ints(|c| c.clocks[0].0))
    .bind(ints(|c| c.clocks[0].1))
    .bind(opt_ints(|c| c.clocks[0].2))
    .bind(ints(|c| c.clocks[1].0))
    .bind(ints(|c| c.clocks[1].1))
    .bind(opt_ints(|c| c.clocks[1].2))
    .bind(ints(|c| c.clocks[2].0))
    .bind(ints(|c| c.clocks[2].1))
    .bind(opt_ints(|c| c.clocks[2].2))
    .bind(ints(|c| c.surveys[0].0))
    .bind(ints(|c| c.surveys[0].1))
    .bind(ints(|c| c.surveys[1].0))
    .bind(ints(|c| c.surveys[1].1))
    .bind(ints(|c| c.surveys[2].0))
    .bind(ints(|c| c.surveys[2].1))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Locks the named conversations (`external_ids` sorted) and adds the ones that exist to
/// `rows`, keyed by the plan's own strings.
async fn lock_conversations<'a>(
    conn: &mut PgConnection,
    plan: &IngestPlan<'a>,
    external_ids: &[&str],
    rows: &mut HashMap<&'a str, (ConversationRow, bool)>,
) -> Result<(), sqlx::Error> {
    let found = sqlx::query(&format!(
        "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE external_id = ANY($1) \
         ORDER BY external_id FOR UPDATE"
    ))
    .bind(external_ids)
    .fetch_all(&mut *conn)
    .await?;
    for r in found {
        let row = conversation_from_row(&r)?;
        if let Some(key) = plan.conversations.iter().find(|c| **c == row.external_id) {
            rows.insert(*key, (row, false));
        }
    }
    Ok(())
}

/// Recomputes a conversation's derived columns from all its events, holding its row lock
/// so that two servers cannot each write a summary missing the other's events; `NotFound`
/// when there is no such conversation. Nothing changes when the deriver has nothing to say.
async fn derive_in(
    conn: &mut PgConnection,
    id: i64,
    deriver: &dyn Deriver,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let found = sqlx::query(&format!(
        "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = $1 FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(StoreError::NotFound)?;
    let mut row = conversation_from_row(&found)?;
    let events = events_in(&mut *conn, id).await?;
    let Some(derived) = deriver.derive(row.policy_id.zip(row.policy_version), &events) else {
        return Ok(());
    };
    row.apply(derived);
    row.updated_at = now;
    write_derived(conn, &[&row]).await?;
    Ok(())
}

impl PostgresStore {
    pub async fn connect(url: &str) -> Result<Self, sqlx::Error> {
        // The compliance query inlines quoted text (`facts::lit`): only standard strings
        // make a backslash plain.
        let opts =
            PgConnectOptions::from_str(url)?.options([("standard_conforming_strings", "on")]);
        // One direct connection first: its error says why (refused, auth, no database),
        // where the pool would only report a timeout.
        use sqlx::Connection;
        sqlx::PgConnection::connect_with(&opts)
            .await?
            .close()
            .await?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(opts)
            .await?;
        Ok(PostgresStore { pool })
    }
}

const USER_COLUMNS: &str = "id, email, name, role, password_hash, active, created_at";

#[async_trait]
impl Store for PostgresStore {
    async fn migrate(&self) -> StoreResult<()> {
        sqlx::migrate!("../migrations/postgres")
            .run(&self.pool)
            .await?;
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn count_users(&self) -> StoreResult<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&self.pool)
            .await?)
    }

    async fn count_active_admins(&self) -> StoreResult<i64> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = 'admin' AND active")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn create_user(&self, user: NewUser, now: DateTime<Utc>) -> StoreResult<User> {
        let res = sqlx::query(&format!(
            "INSERT INTO users (email, name, role, password_hash, active, created_at) \
             VALUES ($1, $2, $3, $4, TRUE, $5) RETURNING {USER_COLUMNS}"
        ))
        .bind(&user.email)
        .bind(&user.name)
        .bind(user.role.as_str())
        .bind(&user.password_hash)
        .bind(now)
        .fetch_one(&self.pool)
        .await;
        match res {
            Ok(row) => Ok(user_from_row(&row)?),
            Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict { field: "email" }),
            Err(e) => Err(e.into()),
        }
    }

    async fn user_by_id(&self, id: i64) -> StoreResult<Option<User>> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(user_from_row).transpose()?)
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE email = $1"
        ))
        .bind(email)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(user_from_row).transpose()?)
    }

    async fn list_users(&self) -> StoreResult<Vec<User>> {
        let rows = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY email"))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(user_from_row).collect::<Result<_, _>>()?)
    }

    async fn set_user_role(&self, id: i64, role: Role) -> StoreResult<()> {
        let done = sqlx::query("UPDATE users SET role = $1 WHERE id = $2")
            .bind(role.as_str())
            .bind(id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn set_user_active(&self, id: i64, active: bool) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("UPDATE users SET active = $1 WHERE id = $2")
            .bind(active)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        if !active {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn set_user_password(&self, id: i64, password_hash: &str) -> StoreResult<()> {
        let done = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(password_hash)
            .bind(id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn create_session(
        &self,
        token_hash: &str,
        user_id: i64,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(now)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn session_user(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<User>> {
        let row = sqlx::query(
            "SELECT u.id, u.email, u.name, u.role, u.password_hash, u.active, u.created_at \
             FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.active",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(user_from_row).transpose()?)
    }

    async fn delete_session(&self, token_hash: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn purge_expired(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let a = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?
            .rows_affected();
        let b = sqlx::query("DELETE FROM login_failures WHERE at <= $1")
            .bind(now - chrono::Duration::hours(1))
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(a + b)
    }

    async fn record_login_failure(&self, key: &str, at: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query("INSERT INTO login_failures (key, at) VALUES ($1, $2)")
            .bind(key)
            .bind(at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn count_login_failures(&self, key: &str, since: DateTime<Utc>) -> StoreResult<i64> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM login_failures WHERE key = $1 AND at > $2")
                .bind(key)
                .bind(since)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn oldest_login_failure(
        &self,
        key: &str,
        since: DateTime<Utc>,
    ) -> StoreResult<Option<DateTime<Utc>>> {
        Ok(
            sqlx::query_scalar("SELECT MIN(at) FROM login_failures WHERE key = $1 AND at > $2")
                .bind(key)
                .bind(since)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn clear_login_failures(&self, key: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM login_failures WHERE key = $1")
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn create_api_token(
        &self,
        name: &str,
        role: Role,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<ApiToken> {
        let res = sqlx::query(&format!(
            "INSERT INTO api_tokens (name, role, token_hash, created_at) VALUES ($1, $2, $3, $4) \
             RETURNING {TOKEN_COLUMNS}"
        ))
        .bind(name)
        .bind(role.as_str())
        .bind(token_hash)
        .bind(now)
        .fetch_one(&self.pool)
        .await;
        match res {
            Ok(row) => Ok(token_from_row(&row)?),
            Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict { field: "token" }),
            Err(e) => Err(e.into()),
        }
    }

    async fn list_api_tokens(&self) -> StoreResult<Vec<ApiToken>> {
        let rows = sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens ORDER BY id"
        ))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(token_from_row).collect::<Result<_, _>>()?)
    }

    async fn revoke_api_token(&self, id: i64, now: DateTime<Utc>) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2",
        )
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn api_token_by_hash(&self, token_hash: &str) -> StoreResult<Option<ApiToken>> {
        let row = sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL"
        ))
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(token_from_row).transpose()?)
    }

    async fn create_calendar(
        &self,
        c: &CalendarInput,
        now: DateTime<Utc>,
    ) -> StoreResult<CalendarRecord> {
        let row = sqlx::query(&format!(
            "INSERT INTO calendars (name, description, definition, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $4) RETURNING {CALENDAR_COLUMNS}"
        ))
        .bind(&c.name)
        .bind(&c.description)
        .bind(to_json(&c.definition)?)
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        Ok(calendar_from_row(&row)?)
    }

    async fn update_calendar(
        &self,
        id: i64,
        c: &CalendarInput,
        now: DateTime<Utc>,
    ) -> StoreResult<CalendarRecord> {
        let row = sqlx::query(&format!(
            "UPDATE calendars SET name = $1, description = $2, definition = $3, updated_at = $4 \
             WHERE id = $5 RETURNING {CALENDAR_COLUMNS}"
        ))
        .bind(&c.name)
        .bind(&c.description)
        .bind(to_json(&c.definition)?)
        .bind(now)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        Ok(calendar_from_row(&row)?)
    }

    async fn calendar(&self, id: i64) -> StoreResult<Option<CalendarRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {CALENDAR_COLUMNS} FROM calendars WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(calendar_from_row).transpose()?)
    }

    async fn list_calendars(&self) -> StoreResult<Vec<CalendarRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {CALENDAR_COLUMNS} FROM calendars ORDER BY name, id"
        ))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(calendar_from_row)
            .collect::<Result<_, _>>()?)
    }

    async fn delete_calendar(&self, id: i64) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        // The row lock keeps a concurrent delete or update of it out until this one is done.
        let exists: Option<i64> =
            sqlx::query_scalar("SELECT id FROM calendars WHERE id = $1 FOR UPDATE")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        if exists.is_none() {
            return Err(StoreError::NotFound);
        }
        let in_use: bool = sqlx::query_scalar(shared::CALENDAR_IN_USE)
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        if in_use {
            return Err(StoreError::Conflict { field: "calendar" });
        }
        sqlx::query("UPDATE policy_versions SET calendar_id = NULL WHERE calendar_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM calendars WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn create_policy(
        &self,
        p: &PolicyInput,
        now: DateTime<Utc>,
    ) -> StoreResult<PolicyRecord> {
        let mut tx = self.pool.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO policies (current_version, deleted, created_at) VALUES (1, FALSE, $1) \
             RETURNING id",
        )
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let res = sqlx::query(
            "INSERT INTO policy_versions \
             (policy_id, version, name, description, calendar_id, definition, created_at) \
             VALUES ($1, 1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(&p.name)
        .bind(&p.description)
        .bind(p.calendar_id)
        .bind(to_json(&p.policy)?)
        .bind(now)
        .execute(&mut *tx)
        .await;
        match res {
            Ok(_) => {}
            // The calendar is gone.
            Err(e) if is_foreign_key_violation(&e) => return Err(StoreError::NotFound),
            Err(e) => return Err(e.into()),
        }
        let rec = policy_version_in(&mut tx, id, 1)
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
        let mut tx = self.pool.begin().await?;
        // The row lock orders concurrent updates, and waits for an ingest that is putting
        // a new conversation on this policy (it holds a share lock on the row).
        let current: i64 = sqlx::query_scalar(
            "SELECT current_version FROM policies WHERE id = $1 AND NOT deleted FOR UPDATE",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        let in_use: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM conversations \
             WHERE policy_id = $1 AND policy_version = $2)",
        )
        .bind(id)
        .bind(current)
        .fetch_one(&mut *tx)
        .await?;
        let version = if in_use { current + 1 } else { current };
        let res = if in_use {
            sqlx::query(
                "INSERT INTO policy_versions \
                 (policy_id, version, name, description, calendar_id, definition, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(id)
            .bind(version)
            .bind(&p.name)
            .bind(&p.description)
            .bind(p.calendar_id)
            .bind(to_json(&p.policy)?)
            .bind(now)
            .execute(&mut *tx)
            .await
        } else {
            sqlx::query(
                "UPDATE policy_versions SET name = $1, description = $2, calendar_id = $3, \
                 definition = $4 WHERE policy_id = $5 AND version = $6",
            )
            .bind(&p.name)
            .bind(&p.description)
            .bind(p.calendar_id)
            .bind(to_json(&p.policy)?)
            .bind(id)
            .bind(version)
            .execute(&mut *tx)
            .await
        };
        match res {
            Ok(_) => {}
            Err(e) if is_foreign_key_violation(&e) => return Err(StoreError::NotFound),
            Err(e) => return Err(e.into()),
        }
        if in_use {
            sqlx::query("UPDATE policies SET current_version = $1 WHERE id = $2")
                .bind(version)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        let rec = policy_version_in(&mut tx, id, version)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await?;
        Ok(rec)
    }

    async fn policy(&self, id: i64) -> StoreResult<Option<PolicyRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {POLICY_COLUMNS} FROM policies p \
             JOIN policy_versions v ON v.policy_id = p.id AND v.version = p.current_version \
             WHERE p.id = $1 AND NOT p.deleted"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(policy_from_row).transpose()?)
    }

    async fn policy_version(&self, id: i64, version: i64) -> StoreResult<Option<PolicyRecord>> {
        let mut conn = self.pool.acquire().await?;
        Ok(policy_version_in(&mut conn, id, version).await?)
    }

    async fn list_policies(&self) -> StoreResult<Vec<PolicyRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {POLICY_COLUMNS} FROM policies p \
             JOIN policy_versions v ON v.policy_id = p.id AND v.version = p.current_version \
             WHERE NOT p.deleted ORDER BY v.name, p.id"
        ))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(policy_from_row).collect::<Result<_, _>>()?)
    }

    async fn policy_versions(&self, id: i64) -> StoreResult<Vec<PolicyRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {POLICY_COLUMNS} FROM policy_versions v WHERE v.policy_id = $1 \
             ORDER BY v.version"
        ))
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(policy_from_row).collect::<Result<_, _>>()?)
    }

    async fn delete_policy(&self, id: i64) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        // Conflicts with the share lock `set_default_policy` takes, so the check below holds.
        let live: Option<i64> =
            sqlx::query_scalar("SELECT id FROM policies WHERE id = $1 AND NOT deleted FOR UPDATE")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        if live.is_none() {
            return Err(StoreError::NotFound);
        }
        let default: Option<String> =
            sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
                .bind(DEFAULT_POLICY_KEY)
                .fetch_optional(&mut *tx)
                .await?;
        if default.is_some_and(|v| v == id.to_string()) {
            return Err(StoreError::Conflict { field: "policy" });
        }
        sqlx::query("UPDATE policies SET deleted = TRUE WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn move_open_conversations(&self, policy_id: i64, version: i64) -> StoreResult<Vec<i64>> {
        let mut ids: Vec<i64> = sqlx::query_scalar(
            "UPDATE conversations SET policy_version = $1 \
             WHERE policy_id = $2 AND status <> 'resolved' RETURNING id",
        )
        .bind(version)
        .bind(policy_id)
        .fetch_all(&self.pool)
        .await?;
        ids.sort_unstable();
        Ok(ids)
    }

    async fn list_rules(&self) -> StoreResult<Vec<RuleRecord>> {
        let rows = sqlx::query(&format!("SELECT {RULE_COLUMNS} FROM rules {RULE_ORDER}"))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(rule_from_row).collect::<Result<_, _>>()?)
    }

    async fn rule(&self, id: i64) -> StoreResult<Option<RuleRecord>> {
        let row = sqlx::query(&format!("SELECT {RULE_COLUMNS} FROM rules WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(rule_from_row).transpose()?)
    }

    async fn create_rule(
        &self,
        rule: &RuleDefinition,
        now: DateTime<Utc>,
    ) -> StoreResult<RuleRecord> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(LOCK_RULES).execute(&mut *tx).await?;
        let row = sqlx::query(&format!(
            "INSERT INTO rules (position, definition, created_at, updated_at) \
             SELECT COALESCE(MAX(position) + 1, 0), $1, $2, $2 FROM rules \
             RETURNING {RULE_COLUMNS}"
        ))
        .bind(to_json(rule)?)
        .bind(now)
        .fetch_one(&mut *tx)
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
        let row = sqlx::query(&format!(
            "UPDATE rules SET definition = $1, updated_at = $2 WHERE id = $3 \
             RETURNING {RULE_COLUMNS}"
        ))
        .bind(to_json(rule)?)
        .bind(now)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        Ok(rule_from_row(&row)?)
    }

    async fn delete_rule(&self, id: i64) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM rules WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn reorder_rules(&self, ids: &[i64]) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(LOCK_RULES).execute(&mut *tx).await?;
        let existing: Vec<i64> = sqlx::query_scalar("SELECT id FROM rules")
            .fetch_all(&mut *tx)
            .await?;
        shared::check_permutation(&existing, ids)?;
        // One statement: each id gets its index in the list.
        sqlx::query(
            "UPDATE rules SET position = o.position - 1 \
             FROM UNNEST($1::BIGINT[]) WITH ORDINALITY AS o(id, position) \
             WHERE rules.id = o.id AND rules.position <> o.position - 1",
        )
        .bind(ids)
        .execute(&mut *tx)
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
        sqlx::query(
            "INSERT INTO rule_runs (rule_id, conversation_id, trigger, fired_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(rule_id)
        .bind(conversation_id)
        .bind(trigger)
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn rule_fire_counts(&self, since: DateTime<Utc>) -> StoreResult<HashMap<i64, i64>> {
        let rows: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT rule_id, COUNT(*) FROM rule_runs WHERE fired_at >= $1 GROUP BY rule_id",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().collect())
    }

    async fn list_contracts(&self) -> StoreResult<Vec<ContractRecord>> {
        let rows =
            sqlx::query("SELECT id, definition, created_at, updated_at FROM contracts ORDER BY id")
                .fetch_all(&self.pool)
                .await?;
        let mut out = rows
            .iter()
            .map(contract_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        shared::sort_contracts(&mut out);
        Ok(out)
    }

    async fn contract(&self, id: i64) -> StoreResult<Option<ContractRecord>> {
        let row = sqlx::query(
            "SELECT id, definition, created_at, updated_at FROM contracts WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(contract_from_row).transpose()?)
    }

    async fn create_contract(
        &self,
        contract: &Contract,
        now: DateTime<Utc>,
    ) -> StoreResult<ContractRecord> {
        let row = sqlx::query(
            "INSERT INTO contracts (definition, created_at, updated_at) VALUES ($1, $2, $3) \
             RETURNING id, definition, created_at, updated_at",
        )
        .bind(to_json(contract)?)
        .bind(now)
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        Ok(contract_from_row(&row)?)
    }

    async fn update_contract(
        &self,
        id: i64,
        contract: &Contract,
        now: DateTime<Utc>,
    ) -> StoreResult<ContractRecord> {
        let row = sqlx::query(
            "UPDATE contracts SET definition = $1, updated_at = $2 WHERE id = $3 \
             RETURNING id, definition, created_at, updated_at",
        )
        .bind(to_json(contract)?)
        .bind(now)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        Ok(contract_from_row(&row)?)
    }

    async fn delete_contract(&self, id: i64) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM contracts WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn team_departments(&self) -> StoreResult<Vec<TeamDepartment>> {
        let rows = sqlx::query("SELECT team, department FROM team_departments ORDER BY team_key")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|r| {
                Ok(TeamDepartment {
                    team: r.try_get("team")?,
                    department: r.try_get("department")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()?)
    }

    async fn set_team_departments(&self, mapping: &[TeamDepartment]) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("LOCK TABLE team_departments IN EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM team_departments")
            .execute(&mut *tx)
            .await?;
        for m in mapping {
            sqlx::query(
                "INSERT INTO team_departments (team_key, team, department) VALUES ($1, $2, $3) \
                 ON CONFLICT (team_key) DO UPDATE SET team = excluded.team, \
                 department = excluded.department",
            )
            .bind(facts::key(&m.team))
            .bind(m.team.trim())
            .bind(m.department.trim())
            .execute(&mut *tx)
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
        let kinds: Vec<MetricKind> = contract.metrics.iter().map(|m| m.kind).collect();
        let sql = facts::groups_sql(&contract.scope, &kinds, period, now);
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let channel: String = r.try_get(2)?;
            let mut tallies = Vec::with_capacity(kinds.len());
            for i in 0..kinds.len() {
                tallies.push((r.try_get(4 + 2 * i)?, r.try_get(5 + 2 * i)?));
            }
            out.push(GroupCounts {
                team: r.try_get(0)?,
                owner: r.try_get(1)?,
                channel: shared::channel_of(&channel)?,
                conversations: r.try_get(3)?,
                tallies,
            });
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
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        Ok(rows
            .iter()
            .map(|r| {
                Ok(DrillRow {
                    conversation_id: r.try_get("conversation_id")?,
                    external_id: r.try_get("external_id")?,
                    created_at: shared::from_unix(r.try_get("created_s")?),
                    channel: r.try_get("channel")?,
                    team: r.try_get("team")?,
                    owner: r.try_get("owner")?,
                    first_response_s: r.try_get("first_response_s")?,
                    abandoned_s: r.try_get("abandoned_s")?,
                    numerator: r.try_get("num")?,
                    denominator: r.try_get("den")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()?)
    }

    async fn conversations_without_facts(&self, limit: i64) -> StoreResult<Vec<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM conversations c WHERE NOT EXISTS \
             (SELECT 1 FROM conversation_facts f WHERE f.conversation_id = c.id) \
             ORDER BY id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn default_policy(&self) -> StoreResult<Option<i64>> {
        Ok(sqlx::query_scalar(shared::DEFAULT_POLICY)
            .bind(DEFAULT_POLICY_KEY)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn set_default_policy(&self, id: Option<i64>) -> StoreResult<()> {
        let Some(id) = id else {
            sqlx::query("DELETE FROM settings WHERE key = $1")
                .bind(DEFAULT_POLICY_KEY)
                .execute(&self.pool)
                .await?;
            return Ok(());
        };
        let mut tx = self.pool.begin().await?;
        let live: Option<i64> =
            sqlx::query_scalar("SELECT id FROM policies WHERE id = $1 AND NOT deleted FOR SHARE")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        if live.is_none() {
            return Err(StoreError::NotFound);
        }
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(DEFAULT_POLICY_KEY)
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn ingest_batch(
        &self,
        events: &[IncomingEvent],
        deriver: &dyn Deriver,
        now: DateTime<Utc>,
    ) -> StoreResult<IngestReport> {
        if events.is_empty() {
            return Ok(IngestReport::default());
        }
        let mut tx = self.pool.begin().await?;
        let ids = IngestPlan::distinct_ids(events);
        let seen: HashSet<String> =
            sqlx::query_scalar("SELECT external_id FROM events WHERE external_id = ANY($1)")
                .bind(&ids)
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .collect();
        let plan = IngestPlan::new(events, &seen);
        if plan.fresh.is_empty() {
            tx.commit().await?;
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
        lock_conversations(&mut tx, &plan, &sorted, &mut rows).await?;
        let missing: Vec<&str> = plan
            .conversations
            .iter()
            .copied()
            .filter(|c| !rows.contains_key(c))
            .collect();
        if !missing.is_empty() {
            if let Some((policy_id, _)) = deriver.initial_policy() {
                // Until commit, an update of this policy sees the new conversations on its
                // current version (and adds a version instead of editing it).
                sqlx::query("SELECT id FROM policies WHERE id = $1 FOR SHARE")
                    .bind(policy_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            }
            let created: Vec<ConversationRow> = missing
                .iter()
                .map(|c| plan.new_conversation(c, deriver, now))
                .collect();
            let mut summaries = Vec::with_capacity(created.len());
            for c in &created {
                summaries.push(to_json(&c.summary)?);
            }
            let returned = sqlx::query(
                "INSERT INTO conversations (external_id, policy_id, policy_version, status, \
                 channel, team, owner, summary, due_at, next_sla_at, created_at, updated_at) \
                 SELECT u.*, $10, $10 FROM UNNEST($1::text[], $2::int8[], $3::int8[], \
                 $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], \
                 $9::timestamptz[], $11::timestamptz[]) AS u ON CONFLICT (external_id) DO NOTHING \
                 RETURNING id, external_id",
            )
            .bind(
                created
                    .iter()
                    .map(|c| c.external_id.clone())
                    .collect::<Vec<_>>(),
            )
            .bind(created.iter().map(|c| c.policy_id).collect::<Vec<_>>())
            .bind(created.iter().map(|c| c.policy_version).collect::<Vec<_>>())
            .bind(
                created
                    .iter()
                    .map(|c| shared::status_word(c.summary.status))
                    .collect::<Vec<_>>(),
            )
            .bind(
                created
                    .iter()
                    .map(|c| c.summary.channel.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(
                created
                    .iter()
                    .map(|c| c.summary.team.clone())
                    .collect::<Vec<_>>(),
            )
            .bind(
                created
                    .iter()
                    .map(|c| c.summary.owner.clone())
                    .collect::<Vec<_>>(),
            )
            .bind(&summaries)
            .bind(created.iter().map(|c| c.due_at).collect::<Vec<_>>())
            .bind(now)
            .bind(created.iter().map(|c| c.next_sla_at).collect::<Vec<_>>())
            .fetch_all(&mut *tx)
            .await?;
            let mut by_ext: HashMap<String, ConversationRow> = created
                .into_iter()
                .map(|c| (c.external_id.clone(), c))
                .collect();
            for r in returned {
                let ext: String = r.try_get("external_id")?;
                if let (Some(mut row), Some(key)) = (
                    by_ext.remove(&ext),
                    missing.iter().find(|c| **c == ext).copied(),
                ) {
                    row.id = r.try_get("id")?;
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
                lock_conversations(&mut tx, &plan, &raced, &mut rows).await?;
            }
        }
        let existing: Vec<i64> = rows
            .values()
            .filter(|(_, created)| !created)
            .map(|(r, _)| r.id)
            .collect();
        let stored = events_of_in(&mut tx, &existing).await?;
        // The events, in batch order (so that ids follow arrival).
        let fresh: Vec<&IncomingEvent> = plan.fresh_events().collect();
        let mut payloads = Vec::with_capacity(fresh.len());
        for e in &fresh {
            payloads.push(to_json(*e)?);
        }
        let stored_events = sqlx::query(
            "INSERT INTO events (external_id, conversation_id, at, payload, received_at) \
             SELECT u.external_id, u.conversation_id, u.at, u.payload, $5 \
             FROM UNNEST($1::text[], $2::int8[], $3::timestamptz[], $4::text[]) \
             WITH ORDINALITY AS u(external_id, conversation_id, at, payload, n) ORDER BY n \
             ON CONFLICT (external_id) DO NOTHING RETURNING id, external_id",
        )
        .bind(fresh.iter().map(|e| e.id.clone()).collect::<Vec<_>>())
        .bind(
            fresh
                .iter()
                .map(|e| rows.get(e.conversation.as_str()).map(|(r, _)| r.id))
                .collect::<Vec<_>>(),
        )
        .bind(fresh.iter().map(|e| e.at).collect::<Vec<_>>())
        .bind(&payloads)
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        let mut inserted = HashSet::with_capacity(stored_events.len());
        let mut row_ids: HashMap<String, i64> = HashMap::with_capacity(stored_events.len());
        for r in stored_events {
            let ext: String = r.try_get("external_id")?;
            row_ids.insert(ext.clone(), r.try_get("id")?);
            inserted.insert(ext);
        }
        // The events an enabled rule listens to wait for the automation worker.
        let queued: Vec<(i64, i64)> = fresh
            .iter()
            .filter(|e| deriver.wants_rules(e))
            .filter_map(|e| {
                let event = *row_ids.get(&e.id)?;
                let conversation = rows.get(e.conversation.as_str())?.0.id;
                Some((event, conversation))
            })
            .collect();
        if !queued.is_empty() {
            sqlx::query(
                "INSERT INTO automation_queue (event_id, conversation_id, enqueued_at) \
                 SELECT u.e, u.c, $3 FROM UNNEST($1::int8[], $2::int8[]) AS u(e, c)",
            )
            .bind(queued.iter().map(|q| q.0).collect::<Vec<_>>())
            .bind(queued.iter().map(|q| q.1).collect::<Vec<_>>())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        let (outcomes, touched, orphans) = plan.finish(rows, stored, &inserted, deriver, now);
        if !orphans.is_empty() {
            sqlx::query("DELETE FROM conversations WHERE id = ANY($1)")
                .bind(&orphans)
                .execute(&mut *tx)
                .await?;
        }
        let stale: Vec<&ConversationRow> =
            touched.iter().filter(|t| t.stale).map(|t| &t.row).collect();
        write_derived(&mut tx, &stale).await?;
        let created: Vec<&ConversationRow> = touched
            .iter()
            .filter(|t| !t.stale)
            .map(|t| &t.row)
            .collect();
        write_facts(&mut tx, &created).await?;
        tx.commit().await?;
        Ok(IngestReport {
            outcomes,
            touched,
            queued: queued.len(),
        })
    }

    async fn rederive_many(
        &self,
        ids: &[i64],
        deriver: &dyn Deriver,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<TouchedConversation>> {
        let mut tx = self.pool.begin().await?;
        let found = sqlx::query(&format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = ANY($1) \
             ORDER BY id FOR UPDATE"
        ))
        .bind(ids)
        .fetch_all(&mut *tx)
        .await?;
        let rows = found
            .iter()
            .map(conversation_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let row_ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let mut events = events_of_in(&mut tx, &row_ids).await?;
        let touched = shared::rederived(rows, &mut events, deriver, now);
        let changed: Vec<&ConversationRow> = touched.iter().map(|t| &t.row).collect();
        write_derived(&mut tx, &changed).await?;
        tx.commit().await?;
        Ok(touched)
    }

    async fn automation_pass(
        &self,
        automator: &dyn Automator,
        now: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<AutomationPass> {
        let mut tx = self.pool.begin().await?;
        // Conversations another server holds are skipped: each is handled by one.
        let found = sqlx::query(&format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id IN ( \
             SELECT id FROM conversations WHERE next_sla_at <= $1 \
             UNION SELECT conversation_id FROM automation_queue) \
             ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED"
        ))
        .bind(now)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        let rows = found
            .iter()
            .map(conversation_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        if rows.is_empty() {
            tx.commit().await?;
            return Ok(AutomationPass::default());
        }
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let mut events = events_of_in(&mut tx, &ids).await?;
        let mut pending: HashMap<i64, Vec<IncomingEvent>> = HashMap::new();
        let mut queue_ids: Vec<i64> = Vec::new();
        for r in sqlx::query(
            "SELECT q.event_id, q.conversation_id, e.payload FROM automation_queue q \
             JOIN events e ON e.id = q.event_id WHERE q.conversation_id = ANY($1) \
             ORDER BY q.event_id",
        )
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await?
        {
            queue_ids.push(r.try_get("event_id")?);
            pending
                .entry(r.try_get("conversation_id")?)
                .or_default()
                .push(from_json(r.try_get::<&str, _>("payload")?)?);
        }
        let mut fired: HashMap<i64, HashSet<(String, i64, String, i64)>> = HashMap::new();
        for r in sqlx::query(
            "SELECT conversation_id, metric, cycle, event, level FROM sla_firings \
             WHERE conversation_id = ANY($1)",
        )
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await?
        {
            fired
                .entry(r.try_get("conversation_id")?)
                .or_default()
                .insert((
                    r.try_get("metric")?,
                    r.try_get("cycle")?,
                    r.try_get("event")?,
                    r.try_get("level")?,
                ));
        }
        let mut work = shared::AutomationWork::default();
        for row in rows {
            let evs = events.remove(&row.id).unwrap_or_default();
            let pend = pending.remove(&row.id).unwrap_or_default();
            let done = fired.remove(&row.id).unwrap_or_default();
            work.run(automator, row, evs, &pend, &done, now);
        }
        if !work.new_events.is_empty() {
            let mut payloads = Vec::with_capacity(work.new_events.len());
            for (_, e) in &work.new_events {
                payloads.push(to_json(e)?);
            }
            sqlx::query(
                "INSERT INTO events (external_id, conversation_id, at, payload, received_at) \
                 SELECT u.external_id, u.conversation_id, u.at, u.payload, $5 \
                 FROM UNNEST($1::text[], $2::int8[], $3::timestamptz[], $4::text[]) \
                 WITH ORDINALITY AS u(external_id, conversation_id, at, payload, n) ORDER BY n \
                 ON CONFLICT (external_id) DO NOTHING",
            )
            .bind(
                work.new_events
                    .iter()
                    .map(|(_, e)| e.id.clone())
                    .collect::<Vec<_>>(),
            )
            .bind(work.new_events.iter().map(|(c, _)| *c).collect::<Vec<_>>())
            .bind(
                work.new_events
                    .iter()
                    .map(|(_, e)| e.at)
                    .collect::<Vec<_>>(),
            )
            .bind(&payloads)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        let fired = &work.pass.fired;
        if !fired.is_empty() {
            sqlx::query(
                "INSERT INTO sla_firings (conversation_id, metric, cycle, event, level, due_at, \
                 fired_at, late) SELECT u.c, u.m, u.cy, u.e, u.l, u.d, $8, u.late \
                 FROM UNNEST($1::int8[], $2::text[], $3::int8[], $4::text[], $5::int8[], \
                 $6::timestamptz[], $7::bool[]) AS u(c, m, cy, e, l, d, late) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(fired.iter().map(|(c, _)| *c).collect::<Vec<_>>())
            .bind(
                fired
                    .iter()
                    .map(|(_, f)| f.metric.clone())
                    .collect::<Vec<_>>(),
            )
            .bind(fired.iter().map(|(_, f)| f.cycle).collect::<Vec<_>>())
            .bind(
                fired
                    .iter()
                    .map(|(_, f)| f.event.clone())
                    .collect::<Vec<_>>(),
            )
            .bind(fired.iter().map(|(_, f)| f.level).collect::<Vec<_>>())
            .bind(fired.iter().map(|(_, f)| f.due_at).collect::<Vec<_>>())
            .bind(fired.iter().map(|(_, f)| f.late).collect::<Vec<_>>())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        if !work.rule_runs.is_empty() {
            sqlx::query(
                "INSERT INTO rule_runs (rule_id, conversation_id, trigger, fired_at) \
                 SELECT u.r, u.c, u.t, $4 FROM UNNEST($1::int8[], $2::int8[], $3::text[]) \
                 AS u(r, c, t)",
            )
            .bind(work.rule_runs.iter().map(|r| r.1).collect::<Vec<_>>())
            .bind(work.rule_runs.iter().map(|r| r.0).collect::<Vec<_>>())
            .bind(
                work.rule_runs
                    .iter()
                    .map(|r| r.2.clone())
                    .collect::<Vec<_>>(),
            )
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        for (conversation_id, o) in &work.outbox {
            sqlx::query(
                "INSERT INTO outbox (kind, rule_id, conversation_id, url, secret, body, status, \
                 attempts, next_attempt_at, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7)",
            )
            .bind(o.kind)
            .bind(o.rule_id)
            .bind(conversation_id)
            .bind(&o.url)
            .bind(&o.secret)
            .bind(&o.body)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        if !queue_ids.is_empty() {
            sqlx::query("DELETE FROM automation_queue WHERE event_id = ANY($1)")
                .bind(&queue_ids)
                .execute(&mut *tx)
                .await?;
        }
        let rows: Vec<&ConversationRow> = work.rows.iter().collect();
        write_derived(&mut tx, &rows).await?;
        tx.commit().await?;
        Ok(work.finish())
    }

    async fn sla_schedule(&self) -> StoreResult<Vec<(i64, DateTime<Utc>)>> {
        let rows =
            sqlx::query("SELECT id, next_sla_at FROM conversations WHERE next_sla_at IS NOT NULL")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .iter()
            .map(|r| Ok::<_, sqlx::Error>((r.try_get("id")?, r.try_get("next_sla_at")?)))
            .collect::<Result<_, _>>()?)
    }

    async fn automation_pending(&self) -> StoreResult<bool> {
        Ok(
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM automation_queue)")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn claim_outbox(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<OutboxItem>> {
        let rows = sqlx::query(&format!(
            "UPDATE outbox SET next_attempt_at = $2 WHERE id IN ( \
             SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= $1 \
             ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED) \
             RETURNING {OUTBOX_COLUMNS}"
        ))
        .bind(now)
        .bind(lease_until)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(outbox_from_row).collect::<Result<_, _>>()?)
    }

    async fn finish_outbox(
        &self,
        id: i64,
        outcome: &OutboxOutcome,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        match outcome {
            OutboxOutcome::Delivered => {
                sqlx::query(
                    "UPDATE outbox SET status = 'delivered', attempts = attempts + 1, \
                     delivered_at = $1, last_error = NULL WHERE id = $2",
                )
                .bind(now)
                .bind(id)
                .execute(&self.pool)
                .await?;
            }
            OutboxOutcome::Failed { error, retry_at } => {
                sqlx::query(
                    "UPDATE outbox SET attempts = attempts + 1, last_error = $1, \
                     status = CASE WHEN $2::timestamptz IS NULL THEN 'failed' ELSE 'pending' END, \
                     next_attempt_at = COALESCE($2, next_attempt_at) WHERE id = $3",
                )
                .bind(error)
                .bind(retry_at)
                .bind(id)
                .execute(&self.pool)
                .await?;
            }
        }
        Ok(())
    }

    async fn list_outbox(&self, status: Option<&str>, limit: i64) -> StoreResult<Vec<OutboxItem>> {
        let rows = sqlx::query(&format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE ($1::text IS NULL OR status = $1) \
             ORDER BY id DESC LIMIT $2"
        ))
        .bind(status)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(outbox_from_row).collect::<Result<_, _>>()?)
    }

    async fn channel_outbounds(&self) -> StoreResult<Vec<ChannelOutbound>> {
        let rows =
            sqlx::query("SELECT channel, url, secret FROM channel_outbound ORDER BY channel")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .iter()
            .map(|r| {
                Ok::<_, sqlx::Error>(ChannelOutbound {
                    channel: r.try_get("channel")?,
                    url: r.try_get("url")?,
                    secret: r.try_get("secret")?,
                })
            })
            .collect::<Result<_, _>>()?)
    }

    async fn set_channel_outbound(
        &self,
        channel: &str,
        target: Option<(&str, &str)>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        match target {
            Some((url, secret)) => {
                sqlx::query(
                    "INSERT INTO channel_outbound (channel, url, secret, updated_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (channel) DO UPDATE SET \
                     url = excluded.url, secret = excluded.secret, updated_at = excluded.updated_at",
                )
                .bind(channel)
                .bind(url)
                .bind(secret)
                .bind(now)
                .execute(&self.pool)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM channel_outbound WHERE channel = $1")
                    .bind(channel)
                    .execute(&self.pool)
                    .await?;
            }
        }
        Ok(())
    }

    async fn change_listener(&self) -> StoreResult<Option<sqlx::postgres::PgListener>> {
        Ok(Some(self.listen().await?))
    }

    async fn announce(&self, origin: &str, ids: &[i64]) -> StoreResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        // NOTIFY payloads stay under 8,000 bytes: ids in slices.
        for chunk in ids.chunks(500) {
            let payload = serde_json::json!({ "origin": origin, "ids": chunk }).to_string();
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANGES_CHANNEL)
                .bind(payload)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    async fn open_conversation_ids(&self) -> StoreResult<Vec<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM conversations WHERE status <> 'resolved' ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    async fn count_sla_firings(&self) -> StoreResult<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM sla_firings")
            .fetch_one(&self.pool)
            .await?)
    }

    async fn events_of(&self, ids: &[i64]) -> StoreResult<HashMap<i64, Vec<IncomingEvent>>> {
        let mut conn = self.pool.acquire().await?;
        Ok(events_of_in(&mut conn, ids).await?)
    }

    async fn catalog_generation(&self) -> StoreResult<i64> {
        Ok(
            sqlx::query_scalar("SELECT generation FROM catalog_generation WHERE id = 1")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn rederive(
        &self,
        id: i64,
        deriver: &dyn Deriver,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        derive_in(&mut tx, id, deriver, now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn conversation(&self, id: i64) -> StoreResult<Option<ConversationRow>> {
        let row = sqlx::query(&format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(conversation_from_row).transpose()?)
    }

    async fn conversation_by_external_id(
        &self,
        external_id: &str,
    ) -> StoreResult<Option<ConversationRow>> {
        let row = sqlx::query(&format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE external_id = $1"
        ))
        .bind(external_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(conversation_from_row).transpose()?)
    }

    async fn conversation_events(&self, id: i64) -> StoreResult<Vec<IncomingEvent>> {
        let mut conn = self.pool.acquire().await?;
        Ok(events_in(&mut conn, id).await?)
    }

    async fn list_conversations(
        &self,
        f: &ConversationFilter,
    ) -> StoreResult<Vec<ConversationRow>> {
        let mut qb =
            shared::queue_query::<Postgres, DateTime<Utc>>(CONVERSATION_COLUMNS, f, f.due_before);
        let rows = qb.build().fetch_all(&self.pool).await?;
        Ok(rows
            .iter()
            .map(conversation_from_row)
            .collect::<Result<_, _>>()?)
    }
}
