//! Persistence: one [`Store`] trait with a SQLite and a PostgreSQL backend.
//!
//! Each backend has its own migrations (`migrations/sqlite`, `migrations/postgres`) and the
//! same behaviour, checked by one contract test suite run against both
//! (`server/tests/store_contract.rs`).

pub mod postgres;
pub mod sqlite;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use promptly::account::{Role, UserView};
use std::sync::Arc;

/// What the store can fail with. `Conflict` carries the field that must be unique.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{field} is already taken")]
    Conflict { field: &'static str },
    #[error("not found")]
    NotFound,
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
    pub created_at: DateTime<Utc>,
}

impl User {
    pub fn view(&self) -> UserView {
        UserView {
            id: self.id,
            email: self.email.clone(),
            name: self.name.clone(),
            role: self.role,
            active: self.active,
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: String,
    pub name: String,
    pub role: Role,
    pub password_hash: String,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Applies the backend's pending migrations.
    async fn migrate(&self) -> StoreResult<()>;
    /// Which backend this is, for logs and `/healthz`.
    fn backend(&self) -> &'static str;
    async fn ping(&self) -> StoreResult<()>;

    async fn count_users(&self) -> StoreResult<i64>;
    async fn count_active_admins(&self) -> StoreResult<i64>;
    /// Creates a user; a taken e-mail is `Conflict { field: "email" }`.
    async fn create_user(&self, user: NewUser, now: DateTime<Utc>) -> StoreResult<User>;
    async fn user_by_id(&self, id: i64) -> StoreResult<Option<User>>;
    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>>;
    /// All users, ordered by e-mail.
    async fn list_users(&self) -> StoreResult<Vec<User>>;
    async fn set_user_role(&self, id: i64, role: Role) -> StoreResult<()>;
    /// Deactivating also ends the user's sessions, so it takes effect at once.
    async fn set_user_active(&self, id: i64, active: bool) -> StoreResult<()>;
    async fn set_user_password(&self, id: i64, password_hash: &str) -> StoreResult<()>;

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

    async fn record_login_failure(&self, key: &str, at: DateTime<Utc>) -> StoreResult<()>;
    async fn count_login_failures(&self, key: &str, since: DateTime<Utc>) -> StoreResult<i64>;
    /// The oldest failure since `since`, to tell a throttled user how long to wait.
    async fn oldest_login_failure(
        &self,
        key: &str,
        since: DateTime<Utc>,
    ) -> StoreResult<Option<DateTime<Utc>>>;
    async fn clear_login_failures(&self, key: &str) -> StoreResult<()>;
}

pub type DynStore = Arc<dyn Store>;

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
    let store: DynStore = match url {
        DatabaseUrl::Sqlite(u) => Arc::new(
            sqlite::SqliteStore::connect(u)
                .await
                .map_err(|e| format!("cannot open the SQLite database {u}: {e}"))?,
        ),
        DatabaseUrl::Postgres(u) => Arc::new(
            postgres::PostgresStore::connect(u)
                .await
                .map_err(|e| format!("cannot reach the PostgreSQL database: {e}"))?,
        ),
    };
    store
        .migrate()
        .await
        .map_err(|e| format!("cannot prepare the database: {e}"))?;
    Ok(store)
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
