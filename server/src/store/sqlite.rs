//! The embedded default store: one SQLite file in WAL mode.

use super::facts::{self, FactColumns, FACT_BINDS, FACT_COLUMNS, FACT_UPDATES};
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
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection, SqlitePool};
use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::time::Duration;

pub struct SqliteStore {
    pool: SqlitePool,
}

/// Timestamps are stored as fixed-width RFC 3339 UTC text so that text order is time order.
fn ts(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

fn parse_ts(s: &str) -> Result<DateTime<Utc>, sqlx::Error> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

fn user_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<User, sqlx::Error> {
    Ok(User {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        name: row.try_get("name")?,
        role: role_from_db(row.try_get::<&str, _>("role")?)?,
        password_hash: row.try_get("password_hash")?,
        active: row.try_get("active")?,
        created_at: parse_ts(row.try_get::<&str, _>("created_at")?)?,
    })
}

fn parse_opt_ts(s: Option<&str>) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    s.map(parse_ts).transpose()
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

fn is_foreign_key_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_foreign_key_violation())
}

const TOKEN_COLUMNS: &str = "id, name, role, created_at, revoked_at";

fn token_from_row(row: &SqliteRow) -> Result<ApiToken, sqlx::Error> {
    Ok(ApiToken {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        role: role_from_db(row.try_get::<&str, _>("role")?)?,
        created_at: parse_ts(row.try_get::<&str, _>("created_at")?)?,
        revoked_at: parse_opt_ts(row.try_get::<Option<&str>, _>("revoked_at")?)?,
    })
}

const CALENDAR_COLUMNS: &str = "id, name, description, definition, created_at, updated_at";

fn calendar_from_row(row: &SqliteRow) -> Result<CalendarRecord, sqlx::Error> {
    Ok(CalendarRecord {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        definition: from_json(row.try_get::<&str, _>("definition")?)?,
        created_at: parse_ts(row.try_get::<&str, _>("created_at")?)?,
        updated_at: parse_ts(row.try_get::<&str, _>("updated_at")?)?,
    })
}

/// A policy version's columns, from `policy_versions v`.
const POLICY_COLUMNS: &str =
    "v.policy_id, v.version, v.name, v.description, v.calendar_id, v.definition, v.created_at";

fn policy_from_row(row: &SqliteRow) -> Result<PolicyRecord, sqlx::Error> {
    Ok(PolicyRecord {
        id: row.try_get("policy_id")?,
        version: row.try_get("version")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        calendar_id: row.try_get("calendar_id")?,
        policy: from_json(row.try_get::<&str, _>("definition")?)?,
        created_at: parse_ts(row.try_get::<&str, _>("created_at")?)?,
    })
}

fn rule_from_row(row: &SqliteRow) -> Result<RuleRecord, sqlx::Error> {
    Ok(RuleRecord {
        id: row.try_get("id")?,
        position: row.try_get("position")?,
        definition: from_json(row.try_get::<&str, _>("definition")?)?,
        created_at: parse_ts(row.try_get::<&str, _>("created_at")?)?,
        updated_at: parse_ts(row.try_get::<&str, _>("updated_at")?)?,
    })
}

const CONVERSATION_COLUMNS: &str = "id, external_id, policy_id, policy_version, summary, due_at, \
     next_sla_at, sla_done_until, created_at, updated_at";

fn contract_from_row(row: &SqliteRow) -> Result<ContractRecord, sqlx::Error> {
    Ok(ContractRecord {
        id: row.try_get("id")?,
        contract: from_json(row.try_get::<&str, _>("definition")?)?,
        created_at: parse_ts(row.try_get::<&str, _>("created_at")?)?,
        updated_at: parse_ts(row.try_get::<&str, _>("updated_at")?)?,
    })
}

fn conversation_from_row(row: &SqliteRow) -> Result<ConversationRow, sqlx::Error> {
    Ok(ConversationRow {
        id: row.try_get("id")?,
        external_id: row.try_get("external_id")?,
        policy_id: row.try_get("policy_id")?,
        policy_version: row.try_get("policy_version")?,
        summary: from_json(row.try_get::<&str, _>("summary")?)?,
        due_at: parse_opt_ts(row.try_get::<Option<&str>, _>("due_at")?)?,
        next_sla_at: parse_opt_ts(row.try_get::<Option<&str>, _>("next_sla_at")?)?,
        sla_done_until: parse_opt_ts(row.try_get::<Option<&str>, _>("sla_done_until")?)?,
        created_at: parse_ts(row.try_get::<&str, _>("created_at")?)?,
        updated_at: parse_ts(row.try_get::<&str, _>("updated_at")?)?,
        facts: None,
    })
}

const OUTBOX_COLUMNS: &str = "id, kind, rule_id, conversation_id, url, secret, body, status, \
     attempts, next_attempt_at, last_error, created_at, delivered_at";

fn outbox_from_row(row: &SqliteRow) -> Result<OutboxItem, sqlx::Error> {
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
        next_attempt_at: parse_ts(row.try_get::<&str, _>("next_attempt_at")?)?,
        last_error: row.try_get("last_error")?,
        created_at: parse_ts(row.try_get::<&str, _>("created_at")?)?,
        delivered_at: parse_opt_ts(row.try_get::<Option<&str>, _>("delivered_at")?)?,
    })
}

/// Writes that read first take the write lock up front (`BEGIN IMMEDIATE`): a deferred
/// transaction could fail to upgrade its read lock when another connection wrote meanwhile.
const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";

async fn policy_version_in(
    conn: &mut SqliteConnection,
    id: i64,
    version: i64,
) -> Result<Option<PolicyRecord>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {POLICY_COLUMNS} FROM policy_versions v WHERE v.policy_id = ? AND v.version = ?"
    ))
    .bind(id)
    .bind(version)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(policy_from_row).transpose()
}

async fn events_in(
    conn: &mut SqliteConnection,
    conversation_id: i64,
) -> Result<Vec<IncomingEvent>, sqlx::Error> {
    let payloads: Vec<String> =
        sqlx::query_scalar("SELECT payload FROM events WHERE conversation_id = ? ORDER BY at, id")
            .bind(conversation_id)
            .fetch_all(conn)
            .await?;
    payloads.iter().map(|p| from_json(p)).collect()
}

/// Writes the derived columns of `rows` (status, channel, team, owner, summary, due_at,
/// updated_at) in multi-row updates.
async fn write_derived(
    conn: &mut SqliteConnection,
    rows: &[&ConversationRow],
) -> Result<(), sqlx::Error> {
    for chunk in rows.chunks(MAX_BINDS / 12) {
        let mut summaries = Vec::with_capacity(chunk.len());
        for c in chunk {
            summaries.push(to_json(&c.summary)?);
        }
        let mut q = QueryBuilder::<Sqlite>::new(
            "WITH v(id, policy_id, policy_version, status, channel, team, owner, summary, \
             due_at, next_sla_at, sla_done_until, updated_at) AS (",
        );
        q.push_values(chunk.iter().zip(summaries), |mut b, (c, summary)| {
            let s = &c.summary;
            b.push_bind(c.id)
                .push_bind(c.policy_id)
                .push_bind(c.policy_version)
                .push_bind(shared::status_word(s.status))
                .push_bind(s.channel.as_str())
                .push_bind(s.team.clone())
                .push_bind(s.owner.clone())
                .push_bind(summary)
                .push_bind(c.due_at.map(ts))
                .push_bind(c.next_sla_at.map(ts))
                .push_bind(c.sla_done_until.map(ts))
                .push_bind(ts(c.updated_at));
        });
        q.push(
            ") UPDATE conversations SET policy_id = v.policy_id, \
             policy_version = v.policy_version, status = v.status, channel = v.channel, \
             team = v.team, owner = v.owner, summary = v.summary, due_at = v.due_at, \
             next_sla_at = v.next_sla_at, sla_done_until = v.sla_done_until, \
             updated_at = v.updated_at FROM v WHERE conversations.id = v.id",
        );
        q.build().execute(&mut *conn).await?;
    }
    write_facts(conn, rows).await
}

/// Upserts the compliance facts of the rows that were just derived.
async fn write_facts(
    conn: &mut SqliteConnection,
    rows: &[&ConversationRow],
) -> Result<(), sqlx::Error> {
    let cols: Vec<FactColumns> = rows
        .iter()
        .filter_map(|r| r.facts.as_ref().map(|f| FactColumns::new(r.id, f)))
        .collect();
    for chunk in cols.chunks(MAX_BINDS / FACT_BINDS) {
        let mut q = QueryBuilder::<Sqlite>::new(format!(
            "INSERT INTO conversation_facts ({FACT_COLUMNS}) "
        ));
        q.push_values(chunk, |mut b, c| {
            b.push_bind(c.conversation_id)
                .push_bind(c.created_s)
                .push_bind(c.month)
                .push_bind(c.channel)
                .push_bind(c.team.clone())
                .push_bind(c.team.clone().unwrap_or_default())
                .push_bind(c.team_key.clone())
                .push_bind(c.owner.clone())
                .push_bind(c.owner.clone().unwrap_or_default())
                .push_bind(c.policy_id)
                .push_bind(c.email_host.clone())
                .push_bind(c.labels_key.clone())
                .push_bind(c.first_response_s)
                .push_bind(c.abandoned_s);
            for (met, missed, due) in c.clocks {
                b.push_bind(met).push_bind(missed).push_bind(due);
            }
            for (n, sum) in c.surveys {
                b.push_bind(n).push_bind(sum);
            }
        });
        q.push(format!(
            " ON CONFLICT (conversation_id) DO UPDATE SET {FACT_UPDATES}"
        ));
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// How many values one statement binds at most (SQLite allows 32,766).
const MAX_BINDS: usize = 30_000;

/// The events of several conversations, each ordered by `at`, then arrival.
async fn events_of_in(
    conn: &mut SqliteConnection,
    ids: &[i64],
) -> Result<HashMap<i64, Vec<IncomingEvent>>, sqlx::Error> {
    let mut out: HashMap<i64, Vec<IncomingEvent>> = HashMap::new();
    for chunk in ids.chunks(MAX_BINDS) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "SELECT conversation_id, payload FROM events WHERE conversation_id IN (",
        );
        let mut list = q.separated(", ");
        for id in chunk {
            list.push_bind(*id);
        }
        q.push(") ORDER BY conversation_id, at, id");
        for r in q.build().fetch_all(&mut *conn).await? {
            let id: i64 = r.try_get("conversation_id")?;
            out.entry(id)
                .or_default()
                .push(from_json(r.try_get::<&str, _>("payload")?)?);
        }
    }
    Ok(out)
}

/// Recomputes a conversation's derived columns from all its events; `NotFound` when there
/// is no such conversation. Nothing changes when the deriver has nothing to say.
async fn derive_in(
    conn: &mut SqliteConnection,
    id: i64,
    deriver: &dyn Deriver,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let found = sqlx::query(&format!(
        "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = ?"
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

impl SqliteStore {
    pub async fn connect(url: &str) -> Result<Self, sqlx::Error> {
        let opts = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(opts)
            .await?;
        Ok(SqliteStore { pool })
    }
}

const USER_COLUMNS: &str = "id, email, name, role, password_hash, active, created_at";

#[async_trait]
impl Store for SqliteStore {
    async fn migrate(&self) -> StoreResult<()> {
        sqlx::migrate!("../migrations/sqlite")
            .run(&self.pool)
            .await?;
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "sqlite"
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
        let res = sqlx::query(
            "INSERT INTO users (email, name, role, password_hash, active, created_at) \
             VALUES (?, ?, ?, ?, 1, ?)",
        )
        .bind(&user.email)
        .bind(&user.name)
        .bind(user.role.as_str())
        .bind(&user.password_hash)
        .bind(ts(now))
        .execute(&self.pool)
        .await;
        match res {
            Ok(done) => self
                .user_by_id(done.last_insert_rowid())
                .await?
                .ok_or(StoreError::NotFound),
            Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict { field: "email" }),
            Err(e) => Err(e.into()),
        }
    }

    async fn user_by_id(&self, id: i64) -> StoreResult<Option<User>> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(user_from_row).transpose()?)
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE email = ?"))
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
        let done = sqlx::query("UPDATE users SET role = ? WHERE id = ?")
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
        let done = sqlx::query("UPDATE users SET active = ? WHERE id = ?")
            .bind(active)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        if !active {
            sqlx::query("DELETE FROM sessions WHERE user_id = ?")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn set_user_password(&self, id: i64, password_hash: &str) -> StoreResult<()> {
        let done = sqlx::query("UPDATE users SET password_hash = ? WHERE id = ?")
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
            "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(ts(now))
        .bind(ts(expires_at))
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
             WHERE s.token_hash = ? AND s.expires_at > ? AND u.active",
        )
        .bind(token_hash)
        .bind(ts(now))
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(user_from_row).transpose()?)
    }

    async fn delete_session(&self, token_hash: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = ?")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn purge_expired(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let a = sqlx::query("DELETE FROM sessions WHERE expires_at <= ?")
            .bind(ts(now))
            .execute(&self.pool)
            .await?
            .rows_affected();
        let b = sqlx::query("DELETE FROM login_failures WHERE at <= ?")
            .bind(ts(now - chrono::Duration::hours(1)))
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(a + b)
    }

    async fn record_login_failure(&self, key: &str, at: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query("INSERT INTO login_failures (key, at) VALUES (?, ?)")
            .bind(key)
            .bind(ts(at))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn count_login_failures(&self, key: &str, since: DateTime<Utc>) -> StoreResult<i64> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM login_failures WHERE key = ? AND at > ?")
                .bind(key)
                .bind(ts(since))
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn oldest_login_failure(
        &self,
        key: &str,
        since: DateTime<Utc>,
    ) -> StoreResult<Option<DateTime<Utc>>> {
        let v: Option<String> =
            sqlx::query_scalar("SELECT MIN(at) FROM login_failures WHERE key = ? AND at > ?")
                .bind(key)
                .bind(ts(since))
                .fetch_one(&self.pool)
                .await?;
        Ok(v.as_deref().map(parse_ts).transpose()?)
    }

    async fn clear_login_failures(&self, key: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM login_failures WHERE key = ?")
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
            "INSERT INTO api_tokens (name, role, token_hash, created_at) VALUES (?, ?, ?, ?) \
             RETURNING {TOKEN_COLUMNS}"
        ))
        .bind(name)
        .bind(role.as_str())
        .bind(token_hash)
        .bind(ts(now))
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
        let done =
            sqlx::query("UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?")
                .bind(ts(now))
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
            "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL"
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
             VALUES (?, ?, ?, ?, ?) RETURNING {CALENDAR_COLUMNS}"
        ))
        .bind(&c.name)
        .bind(&c.description)
        .bind(to_json(&c.definition)?)
        .bind(ts(now))
        .bind(ts(now))
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
            "UPDATE calendars SET name = ?, description = ?, definition = ?, updated_at = ? \
             WHERE id = ? RETURNING {CALENDAR_COLUMNS}"
        ))
        .bind(&c.name)
        .bind(&c.description)
        .bind(to_json(&c.definition)?)
        .bind(ts(now))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        Ok(calendar_from_row(&row)?)
    }

    async fn calendar(&self, id: i64) -> StoreResult<Option<CalendarRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {CALENDAR_COLUMNS} FROM calendars WHERE id = ?"
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
        let mut tx = self.pool.begin_with(BEGIN_WRITE).await?;
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM calendars WHERE id = ?")
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
        sqlx::query("UPDATE policy_versions SET calendar_id = NULL WHERE calendar_id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM calendars WHERE id = ?")
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
        let mut tx = self.pool.begin_with(BEGIN_WRITE).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO policies (current_version, deleted, created_at) VALUES (1, 0, ?) \
             RETURNING id",
        )
        .bind(ts(now))
        .fetch_one(&mut *tx)
        .await?;
        let res = sqlx::query(
            "INSERT INTO policy_versions \
             (policy_id, version, name, description, calendar_id, definition, created_at) \
             VALUES (?, 1, ?, ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(&p.name)
        .bind(&p.description)
        .bind(p.calendar_id)
        .bind(to_json(&p.policy)?)
        .bind(ts(now))
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
        let mut tx = self.pool.begin_with(BEGIN_WRITE).await?;
        let current: i64 =
            sqlx::query_scalar("SELECT current_version FROM policies WHERE id = ? AND NOT deleted")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(StoreError::NotFound)?;
        let in_use: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM conversations WHERE policy_id = ? AND policy_version = ?)",
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
                 VALUES (?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(id)
            .bind(version)
            .bind(&p.name)
            .bind(&p.description)
            .bind(p.calendar_id)
            .bind(to_json(&p.policy)?)
            .bind(ts(now))
            .execute(&mut *tx)
            .await
        } else {
            sqlx::query(
                "UPDATE policy_versions SET name = ?, description = ?, calendar_id = ?, \
                 definition = ? WHERE policy_id = ? AND version = ?",
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
            sqlx::query("UPDATE policies SET current_version = ? WHERE id = ?")
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
             WHERE p.id = ? AND NOT p.deleted"
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
            "SELECT {POLICY_COLUMNS} FROM policy_versions v WHERE v.policy_id = ? ORDER BY v.version"
        ))
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(policy_from_row).collect::<Result<_, _>>()?)
    }

    async fn delete_policy(&self, id: i64) -> StoreResult<()> {
        let mut tx = self.pool.begin_with(BEGIN_WRITE).await?;
        let live: Option<i64> =
            sqlx::query_scalar("SELECT id FROM policies WHERE id = ? AND NOT deleted")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        if live.is_none() {
            return Err(StoreError::NotFound);
        }
        let default: Option<String> =
            sqlx::query_scalar("SELECT value FROM settings WHERE key = ?")
                .bind(DEFAULT_POLICY_KEY)
                .fetch_optional(&mut *tx)
                .await?;
        if default.is_some_and(|v| v == id.to_string()) {
            return Err(StoreError::Conflict { field: "policy" });
        }
        sqlx::query("UPDATE policies SET deleted = 1 WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn move_open_conversations(&self, policy_id: i64, version: i64) -> StoreResult<Vec<i64>> {
        let mut ids: Vec<i64> = sqlx::query_scalar(
            "UPDATE conversations SET policy_version = ? \
             WHERE policy_id = ? AND status <> 'resolved' RETURNING id",
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
        let row = sqlx::query(&format!("SELECT {RULE_COLUMNS} FROM rules WHERE id = ?"))
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
        // One statement: the position after the last is read under the write lock.
        let row = sqlx::query(&format!(
            "INSERT INTO rules (position, definition, created_at, updated_at) \
             SELECT COALESCE(MAX(position) + 1, 0), ?, ?, ? FROM rules RETURNING {RULE_COLUMNS}"
        ))
        .bind(to_json(rule)?)
        .bind(ts(now))
        .bind(ts(now))
        .fetch_one(&self.pool)
        .await?;
        Ok(rule_from_row(&row)?)
    }

    async fn update_rule(
        &self,
        id: i64,
        rule: &RuleDefinition,
        now: DateTime<Utc>,
    ) -> StoreResult<RuleRecord> {
        let row = sqlx::query(&format!(
            "UPDATE rules SET definition = ?, updated_at = ? WHERE id = ? RETURNING {RULE_COLUMNS}"
        ))
        .bind(to_json(rule)?)
        .bind(ts(now))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        Ok(rule_from_row(&row)?)
    }

    async fn delete_rule(&self, id: i64) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM rules WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn reorder_rules(&self, ids: &[i64]) -> StoreResult<()> {
        let mut tx = self.pool.begin_with(BEGIN_WRITE).await?;
        let existing: Vec<i64> = sqlx::query_scalar("SELECT id FROM rules")
            .fetch_all(&mut *tx)
            .await?;
        shared::check_permutation(&existing, ids)?;
        for (position, id) in ids.iter().enumerate() {
            sqlx::query("UPDATE rules SET position = ? WHERE id = ? AND position <> ?")
                .bind(position as i64)
                .bind(id)
                .bind(position as i64)
                .execute(&mut *tx)
                .await?;
        }
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
             VALUES (?, ?, ?, ?)",
        )
        .bind(rule_id)
        .bind(conversation_id)
        .bind(trigger)
        .bind(ts(at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn rule_fire_counts(&self, since: DateTime<Utc>) -> StoreResult<HashMap<i64, i64>> {
        let rows: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT rule_id, COUNT(*) FROM rule_runs WHERE fired_at >= ? GROUP BY rule_id",
        )
        .bind(ts(since))
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
            "SELECT id, definition, created_at, updated_at FROM contracts WHERE id = ?",
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
            "INSERT INTO contracts (definition, created_at, updated_at) VALUES (?, ?, ?) \
             RETURNING id, definition, created_at, updated_at",
        )
        .bind(to_json(contract)?)
        .bind(ts(now))
        .bind(ts(now))
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
            "UPDATE contracts SET definition = ?, updated_at = ? WHERE id = ? \
             RETURNING id, definition, created_at, updated_at",
        )
        .bind(to_json(contract)?)
        .bind(ts(now))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        Ok(contract_from_row(&row)?)
    }

    async fn delete_contract(&self, id: i64) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM contracts WHERE id = ?")
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
        let mut tx = self.pool.begin_with(BEGIN_WRITE).await?;
        sqlx::query("DELETE FROM team_departments")
            .execute(&mut *tx)
            .await?;
        for m in mapping {
            sqlx::query(
                "INSERT INTO team_departments (team_key, team, department) VALUES (?, ?, ?) \
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
        // The channels in two halves, aggregated on two connections at once (SQLite runs a
        // statement on one core).
        let parts = facts::channel_parts(&contract.scope, 2);
        let queries = parts.iter().map(|chs| {
            let sql = facts::groups_sql_of(&contract.scope, &kinds, period, now, Some(chs));
            let pool = self.pool.clone();
            async move { sqlx::query(&sql).fetch_all(&pool).await }
        });
        let rows: Vec<SqliteRow> = futures::future::try_join_all(queries)
            .await?
            .into_iter()
            .flatten()
            .collect();
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
             ORDER BY id LIMIT ?",
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
            sqlx::query("DELETE FROM settings WHERE key = ?")
                .bind(DEFAULT_POLICY_KEY)
                .execute(&self.pool)
                .await?;
            return Ok(());
        };
        let mut tx = self.pool.begin_with(BEGIN_WRITE).await?;
        let live: Option<i64> =
            sqlx::query_scalar("SELECT id FROM policies WHERE id = ? AND NOT deleted")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        if live.is_none() {
            return Err(StoreError::NotFound);
        }
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES (?, ?) \
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
        let mut tx = self.pool.begin_with(BEGIN_WRITE).await?;
        // Which ids are known. The write lock is held, so nothing changes until commit.
        let mut seen = HashSet::new();
        for ids in IngestPlan::distinct_ids(events).chunks(MAX_BINDS) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "SELECT external_id FROM events WHERE external_id IN (",
            );
            let mut list = q.separated(", ");
            for id in ids {
                list.push_bind(*id);
            }
            q.push(")");
            let found: Vec<String> = q.build_query_scalar().fetch_all(&mut *tx).await?;
            seen.extend(found);
        }
        let plan = IngestPlan::new(events, &seen);
        if plan.fresh.is_empty() {
            tx.commit().await?;
            return Ok(IngestReport {
                outcomes: vec![IngestOutcome::Duplicate; events.len()],
                ..Default::default()
            });
        }
        // The conversations that exist, and their stored events.
        let mut rows: HashMap<&str, (ConversationRow, bool)> = HashMap::new();
        for chunk in plan.conversations.chunks(MAX_BINDS) {
            let mut q = QueryBuilder::<Sqlite>::new(format!(
                "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE external_id IN ("
            ));
            let mut list = q.separated(", ");
            for c in chunk {
                list.push_bind(*c);
            }
            q.push(")");
            for r in q.build().fetch_all(&mut *tx).await? {
                let row = conversation_from_row(&r)?;
                if let Some(key) = chunk.iter().find(|c| **c == row.external_id) {
                    rows.insert(*key, (row, false));
                }
            }
        }
        let existing: Vec<i64> = rows.values().map(|(r, _)| r.id).collect();
        let stored = events_of_in(&mut tx, &existing).await?;
        // The new conversations, inserted with their final columns.
        let created: Vec<ConversationRow> = plan
            .conversations
            .iter()
            .filter(|c| !rows.contains_key(**c))
            .map(|c| plan.new_conversation(c, deriver, now))
            .collect();
        for chunk in created.chunks(MAX_BINDS / 12) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO conversations (external_id, policy_id, policy_version, status, \
                 channel, team, owner, summary, due_at, next_sla_at, created_at, updated_at) ",
            );
            let mut summaries = Vec::with_capacity(chunk.len());
            for c in chunk {
                summaries.push(to_json(&c.summary)?);
            }
            q.push_values(chunk.iter().zip(summaries), |mut b, (c, summary)| {
                let s = &c.summary;
                b.push_bind(c.external_id.clone())
                    .push_bind(c.policy_id)
                    .push_bind(c.policy_version)
                    .push_bind(shared::status_word(s.status))
                    .push_bind(s.channel.as_str())
                    .push_bind(s.team.clone())
                    .push_bind(s.owner.clone())
                    .push_bind(summary)
                    .push_bind(c.due_at.map(ts))
                    .push_bind(c.next_sla_at.map(ts))
                    .push_bind(ts(now))
                    .push_bind(ts(now));
            });
            q.push(" RETURNING id, external_id");
            for r in q.build().fetch_all(&mut *tx).await? {
                let id: i64 = r.try_get("id")?;
                let ext: String = r.try_get("external_id")?;
                if let Some(row) = chunk.iter().find(|c| c.external_id == ext) {
                    let key = plan.conversations.iter().find(|c| **c == ext).copied();
                    if let Some(key) = key {
                        let mut row = row.clone();
                        row.id = id;
                        rows.insert(key, (row, true));
                    }
                }
            }
        }
        // The events, in batch order (so that ids follow arrival).
        let fresh: Vec<&IncomingEvent> = plan.fresh_events().collect();
        let mut inserted = HashSet::with_capacity(fresh.len());
        let mut row_ids: HashMap<String, i64> = HashMap::with_capacity(fresh.len());
        for chunk in fresh.chunks(MAX_BINDS / 5) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO events (external_id, conversation_id, at, payload, received_at) ",
            );
            let mut payloads = Vec::with_capacity(chunk.len());
            for e in chunk {
                payloads.push(to_json(*e)?);
            }
            q.push_values(chunk.iter().zip(payloads), |mut b, (e, payload)| {
                let conversation_id = rows.get(e.conversation.as_str()).map(|(r, _)| r.id);
                b.push_bind(e.id.clone())
                    .push_bind(conversation_id)
                    .push_bind(ts(e.at))
                    .push_bind(payload)
                    .push_bind(ts(now));
            });
            q.push(" ON CONFLICT (external_id) DO NOTHING RETURNING id, external_id");
            for r in q.build().fetch_all(&mut *tx).await? {
                let ext: String = r.try_get("external_id")?;
                let id: i64 = r.try_get("id")?;
                row_ids.insert(ext.clone(), id);
                inserted.insert(ext);
            }
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
        for chunk in queued.chunks(MAX_BINDS / 3) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO automation_queue (event_id, conversation_id, enqueued_at) ",
            );
            q.push_values(chunk, |mut b, (event, conversation)| {
                b.push_bind(*event)
                    .push_bind(*conversation)
                    .push_bind(ts(now));
            });
            q.build().execute(&mut *tx).await?;
        }
        let (outcomes, touched, orphans) = plan.finish(rows, stored, &inserted, deriver, now);
        for id in orphans {
            sqlx::query("DELETE FROM conversations WHERE id = ?")
                .bind(id)
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
        let mut tx = self.pool.begin_with(BEGIN_WRITE).await?;
        let mut rows = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(MAX_BINDS) {
            let mut q = QueryBuilder::<Sqlite>::new(format!(
                "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id IN ("
            ));
            let mut list = q.separated(", ");
            for id in chunk {
                list.push_bind(*id);
            }
            q.push(") ORDER BY id");
            for r in q.build().fetch_all(&mut *tx).await? {
                rows.push(conversation_from_row(&r)?);
            }
        }
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
        let mut tx = self.pool.begin_with(BEGIN_WRITE).await?;
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM conversations WHERE next_sla_at <= ? \
             UNION SELECT conversation_id FROM automation_queue ORDER BY 1 LIMIT ?",
        )
        .bind(ts(now))
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        if ids.is_empty() {
            tx.commit().await?;
            return Ok(AutomationPass::default());
        }
        let in_list = |q: &mut QueryBuilder<'_, Sqlite>| {
            let mut list = q.separated(", ");
            for id in &ids {
                list.push_bind(*id);
            }
        };
        let mut q = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id IN ("
        ));
        in_list(&mut q);
        q.push(") ORDER BY id");
        let rows = q
            .build()
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(conversation_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let mut events = events_of_in(&mut tx, &ids).await?;
        let mut q = QueryBuilder::<Sqlite>::new(
            "SELECT q.event_id, q.conversation_id, e.payload FROM automation_queue q \
             JOIN events e ON e.id = q.event_id WHERE q.conversation_id IN (",
        );
        in_list(&mut q);
        q.push(") ORDER BY q.event_id");
        let mut pending: HashMap<i64, Vec<IncomingEvent>> = HashMap::new();
        let mut queue_ids = Vec::new();
        for r in q.build().fetch_all(&mut *tx).await? {
            queue_ids.push(r.try_get::<i64, _>("event_id")?);
            pending
                .entry(r.try_get("conversation_id")?)
                .or_default()
                .push(from_json(r.try_get::<&str, _>("payload")?)?);
        }
        let mut q = QueryBuilder::<Sqlite>::new(
            "SELECT conversation_id, metric, cycle, event, level FROM sla_firings \
             WHERE conversation_id IN (",
        );
        in_list(&mut q);
        q.push(")");
        let mut fired: HashMap<i64, HashSet<(String, i64, String, i64)>> = HashMap::new();
        for r in q.build().fetch_all(&mut *tx).await? {
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
        for (conversation_id, e) in &work.new_events {
            sqlx::query(
                "INSERT INTO events (external_id, conversation_id, at, payload, received_at) \
                 VALUES (?, ?, ?, ?, ?) ON CONFLICT (external_id) DO NOTHING",
            )
            .bind(&e.id)
            .bind(conversation_id)
            .bind(ts(e.at))
            .bind(to_json(e)?)
            .bind(ts(now))
            .execute(&mut *tx)
            .await?;
        }
        for (conversation_id, f) in &work.pass.fired {
            sqlx::query(
                "INSERT INTO sla_firings (conversation_id, metric, cycle, event, level, due_at, \
                 fired_at, late) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            )
            .bind(conversation_id)
            .bind(&f.metric)
            .bind(f.cycle)
            .bind(&f.event)
            .bind(f.level)
            .bind(ts(f.due_at))
            .bind(ts(now))
            .bind(f.late)
            .execute(&mut *tx)
            .await?;
        }
        for (conversation_id, rule_id, trigger) in &work.rule_runs {
            sqlx::query(
                "INSERT INTO rule_runs (rule_id, conversation_id, trigger, fired_at) \
                 VALUES (?, ?, ?, ?)",
            )
            .bind(rule_id)
            .bind(conversation_id)
            .bind(trigger)
            .bind(ts(now))
            .execute(&mut *tx)
            .await?;
        }
        for (conversation_id, o) in &work.outbox {
            sqlx::query(
                "INSERT INTO outbox (kind, rule_id, conversation_id, url, secret, body, status, \
                 attempts, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?)",
            )
            .bind(o.kind)
            .bind(o.rule_id)
            .bind(conversation_id)
            .bind(&o.url)
            .bind(&o.secret)
            .bind(&o.body)
            .bind(ts(now))
            .bind(ts(now))
            .execute(&mut *tx)
            .await?;
        }
        for chunk in queue_ids.chunks(MAX_BINDS) {
            let mut q =
                QueryBuilder::<Sqlite>::new("DELETE FROM automation_queue WHERE event_id IN (");
            let mut list = q.separated(", ");
            for id in chunk {
                list.push_bind(*id);
            }
            q.push(")");
            q.build().execute(&mut *tx).await?;
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
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("id")?,
                    parse_ts(r.try_get::<&str, _>("next_sla_at")?)?,
                ))
            })
            .collect()
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
        let mut tx = self.pool.begin_with(BEGIN_WRITE).await?;
        let rows = sqlx::query(&format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE status = 'pending' \
             AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?"
        ))
        .bind(ts(now))
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        let items = rows
            .iter()
            .map(outbox_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        for item in &items {
            sqlx::query("UPDATE outbox SET next_attempt_at = ? WHERE id = ?")
                .bind(ts(lease_until))
                .bind(item.id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(items)
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
                     delivered_at = ?, last_error = NULL WHERE id = ?",
                )
                .bind(ts(now))
                .bind(id)
                .execute(&self.pool)
                .await?;
            }
            OutboxOutcome::Failed { error, retry_at } => {
                sqlx::query(
                    "UPDATE outbox SET attempts = attempts + 1, last_error = ?, \
                     status = CASE WHEN ? IS NULL THEN 'failed' ELSE 'pending' END, \
                     next_attempt_at = COALESCE(?, next_attempt_at) WHERE id = ?",
                )
                .bind(error)
                .bind(retry_at.map(ts))
                .bind(retry_at.map(ts))
                .bind(id)
                .execute(&self.pool)
                .await?;
            }
        }
        Ok(())
    }

    async fn list_outbox(&self, status: Option<&str>, limit: i64) -> StoreResult<Vec<OutboxItem>> {
        let rows = sqlx::query(&format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE (? IS NULL OR status = ?) \
             ORDER BY id DESC LIMIT ?"
        ))
        .bind(status)
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
                     VALUES (?, ?, ?, ?) ON CONFLICT (channel) DO UPDATE SET url = excluded.url, \
                     secret = excluded.secret, updated_at = excluded.updated_at",
                )
                .bind(channel)
                .bind(url)
                .bind(secret)
                .bind(ts(now))
                .execute(&self.pool)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM channel_outbound WHERE channel = ?")
                    .bind(channel)
                    .execute(&self.pool)
                    .await?;
            }
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
        let mut tx = self.pool.begin_with(BEGIN_WRITE).await?;
        derive_in(&mut tx, id, deriver, now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn conversation(&self, id: i64) -> StoreResult<Option<ConversationRow>> {
        let row = sqlx::query(&format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = ?"
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
            "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE external_id = ?"
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
            shared::queue_query::<Sqlite, String>(CONVERSATION_COLUMNS, f, f.due_before.map(ts));
        let rows = qb.build().fetch_all(&self.pool).await?;
        Ok(rows
            .iter()
            .map(conversation_from_row)
            .collect::<Result<_, _>>()?)
    }
}
