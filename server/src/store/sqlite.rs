//! The embedded default database: one SQLite file in WAL mode.

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use std::str::FromStr;
use std::time::Duration;

/// Opens (creating it if missing) the SQLite file of `url`.
pub async fn connect(url: &str) -> Result<SqlitePool, sqlx::Error> {
    let opts = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        // Savepoint sub-journals (each group-committed ingest batch runs in a savepoint) and
        // statement journals in memory, not in temporary files: a batch's savepoint wrote
        // every page it changed to a file first (a sixth of an ingest profile's samples).
        .pragma("temp_store", "memory")
        // A statement's rows cross from SQLite's worker thread in a channel: room for a whole
        // batch's `RETURNING` rows (an ingest batch's 100 events), so the worker never stops
        // half-way to wait for the async side (the default is 50).
        .row_buffer_size(1024)
        .busy_timeout(Duration::from_secs(5));
    SqlitePoolOptions::new()
        .max_connections(8)
        .connect_with(opts)
        .await
}
