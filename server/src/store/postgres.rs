//! The database for teams that outgrow one machine: several Promptly servers on one
//! PostgreSQL, which tell each other about changed conversations with `NOTIFY`.

use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use sqlx::PgPool;
use std::str::FromStr;
use std::time::Duration;

/// The `NOTIFY` channel on which servers announce changed conversations.
pub const CHANGES_CHANNEL: &str = "promptly_changes";

/// The longest a statement may run, and a transaction may sit idle, before PostgreSQL ends
/// it: a query gone wrong or a stuck transaction fails with an error instead of holding
/// locks and connections for ever. (The slowest statement the benchmarks know, a month's
/// compliance over 1,000,000 conversations, takes about half a second.)
pub const STATEMENT_TIMEOUT: &str = "60s";

/// Connects to the database of `url`.
pub async fn connect(url: &str) -> Result<PgPool, sqlx::Error> {
    // The compliance query inlines quoted text (`facts::lit`): only standard strings
    // make a backslash plain.
    let opts = PgConnectOptions::from_str(url)?.options([
        ("standard_conforming_strings", "on"),
        ("statement_timeout", STATEMENT_TIMEOUT),
        ("idle_in_transaction_session_timeout", STATEMENT_TIMEOUT),
    ]);
    // One direct connection first: its error says why (refused, auth, no database),
    // where the pool would only report a timeout.
    use sqlx::Connection;
    sqlx::PgConnection::connect_with(&opts)
        .await?
        .close()
        .await?;
    PgPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(opts)
        .await
}

/// A listener on [`CHANGES_CHANNEL`] (its own connection).
pub async fn listen(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut l = PgListener::connect_with(pool).await?;
    l.listen(CHANGES_CHANNEL).await?;
    Ok(l)
}

/// Tells the other servers that these conversations changed.
/// Tells the other servers about notifications written here (`{"origin", "ids": [],
/// "notifications": [...]}`), so that each pushes its users' to their browsers.
pub async fn announce_notifications(
    pool: &PgPool,
    origin: &str,
    ids: &[i64],
) -> Result<(), sqlx::Error> {
    for chunk in ids.chunks(500) {
        let payload =
            serde_json::json!({ "origin": origin, "ids": [], "notifications": chunk }).to_string();
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANGES_CHANNEL)
            .bind(payload)
            .execute(pool)
            .await?;
    }
    Ok(())
}

pub async fn announce(pool: &PgPool, origin: &str, ids: &[i64]) -> Result<(), sqlx::Error> {
    // NOTIFY payloads stay under 8,000 bytes: ids in slices.
    for chunk in ids.chunks(500) {
        let payload = serde_json::json!({ "origin": origin, "ids": chunk }).to_string();
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANGES_CHANNEL)
            .bind(payload)
            .execute(pool)
            .await?;
    }
    Ok(())
}
