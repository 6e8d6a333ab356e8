//! The schema's history: each migration is written once (`migrations/000N_name.sql`, see
//! `migrations/README.md`) and rendered for the dialect of the database it runs on, then
//! applied by sqlx's [`Migrator`] (which takes its lock and records each version in
//! `_sqlx_migrations`, as `sqlx::migrate!` did).
//!
//! A migration file is SQL with a few placeholders, `{name}` or `{name:argument}`:
//!
//! | placeholder            | SQLite                              | PostgreSQL              |
//! |------------------------|-------------------------------------|-------------------------|
//! | `{id}`                 | `INTEGER PRIMARY KEY AUTOINCREMENT` | `BIGSERIAL PRIMARY KEY` |
//! | `{bigint}`             | `INTEGER`                           | `BIGINT`                |
//! | `{ts}`                 | `TEXT` (RFC 3339, UTC)              | `TIMESTAMPTZ`           |
//! | `{true}` / `{false}`   | `1` / `0`                           | `TRUE` / `FALSE`        |
//! | `{catalog_bump:table}` | a row trigger per kind of write     | a statement trigger     |
//!
//! and lines that only one dialect reads, between `-- @sqlite` (or `-- @postgres`) and
//! `-- @end`; a `-- @postgres` line may also end a `-- @sqlite` block and start its own.
//!
//! Versions 1–6 were once two files each (`migrations/sqlite/`, `migrations/postgres/`), and
//! the databases they created hold those files' SHA-384 checksums. These versions keep them
//! ([`FROZEN`]), so that such databases open as before; a test checks that each version still
//! renders to the very statements its old files held. Later versions are checksummed from
//! their rendered text, like any sqlx migration.

use super::db::Dialect;
use sqlx::migrate::{MigrateError, Migration, MigrationSource, MigrationType, Migrator};
use std::borrow::Cow;

macro_rules! files {
    ($($file:literal),* $(,)?) => {
        &[$(($file, include_str!(concat!("../../../migrations/", $file)))),*]
    };
}

/// Every migration file (name, text), in the order they apply.
const FILES: &[(&str, &str)] = files![
    "0001_accounts.sql",
    "0002_queue.sql",
    "0003_catalog_generation.sql",
    "0004_rules.sql",
    "0005_automation.sql",
    "0006_compliance.sql",
    "0007_token_scopes.sql",
    "0008_password_changes.sql",
    "0009_audit_log.sql",
    "0010_soft_delete.sql",
    "0011_durability.sql",
    "0012_outbox_receivers.sql",
    "0013_id_namespaces.sql",
    "0014_checkpoints.sql",
    "0015_channel_accounts.sql",
    "0016_channel_sends.sql",
    "0017_send_receipts.sql",
    "0018_compliance_rollups.sql",
    "0019_user_teams.sql",
    "0020_notifications.sql",
    "0021_user_timezone.sql",
];

/// Version, SQLite checksum, PostgreSQL checksum (SHA-384, hex) of the migrations that were
/// written once per dialect, as recorded in the `_sqlx_migrations` of the databases they made.
const FROZEN: &[(i64, &str, &str)] = &[
    (
        1,
        "5a931eb61b0cc10582de25102556f564e9a4b7e1fa381e72f1e29dd756b809970982db5ad7b785c52259a8cbc8aab793",
        "611f1e7be2c2225620c003157de7a064e5a572ecd7b47aa7c64cb38f5c226a40f62b278b8c78d9d1c365101cb317d5f7",
    ),
    (
        2,
        "41132dccc3eeb86ee7d2a7e2c4812d19b7fa2122a9d72864c7a4011a9f4869f2f9c24c84700cd99f535813402b7fc10e",
        "5cdf31ae3c06c29428c1f000868c231b0969ca60868c681c0ce37388923a028fb3c147583e699fb54b103f74e1da459a",
    ),
    (
        3,
        "60bb3213271dd07795c0d57cd850f04363245fcface16dc3562fffd1d44d4097866e1d3d5ad66406098dbd26d54e3a40",
        "a1a36b1401d7a98445410b6fb50c9027ae3021684c6d105a23fcb04f5f0c50e842cb0ba43e27e4bb7e31dbd39910d73b",
    ),
    (
        4,
        "0b02102e1698a46ad04de11ad65c52ce2798ace0c9048faab2ba4791c8be82f3e73e753d5e5046116a9528028655c01d",
        "264cb57d351082ac29a4be9456245f7ea2a4b6c3216dab9c6dbc34e3b78c3a76795c00939a1f508f631a943cc4593a5a",
    ),
    (
        5,
        "44f12650663a94b16059f0a37f237ffcd3a90e4d4923abfdb344194cc039fb4d71f8a5de086f3866dee47dcf91a48c95",
        "fea24b8fc4b69c9e4e4bb20b61b14fb716d227a153028a1ba45db0396f7b6355b22036568722791558be866237bf5885",
    ),
    (
        6,
        "0dd6b3c493c1542f80fa196923d06163d6521f8082387d4c194acd83c2b3db6bbda71eadf2c24361223ac8f688bf04f4",
        "db51e197584128d67127a9874f00812f6bcb7199bdc489f9adce9c2354de212f785435ca6b38fe7983253c1a7ba4a564",
    ),
];

/// A migration file that cannot be rendered: its name and what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("migration {file}: {message}")]
pub struct RenderError {
    file: String,
    message: String,
}

/// The migrator of `dialect`: every migration, rendered for it.
pub async fn migrator(dialect: Dialect) -> Result<Migrator, MigrateError> {
    Migrator::new(Rendered(dialect)).await
}

/// The migrations of `dialect`, in order.
pub fn migrations(dialect: Dialect) -> Result<Vec<Migration>, RenderError> {
    FILES
        .iter()
        .map(|(file, text)| migration(file, text, dialect))
        .collect()
}

/// The migrations rendered for a dialect, as a source for [`Migrator::new`].
#[derive(Debug)]
struct Rendered(Dialect);

impl MigrationSource<'static> for Rendered {
    fn resolve(
        self,
    ) -> futures::future::BoxFuture<'static, Result<Vec<Migration>, sqlx::error::BoxDynError>> {
        Box::pin(async move { Ok(migrations(self.0)?) })
    }
}

/// One file as sqlx would have read it from a folder of `dialect`'s SQL: version and
/// description from the name (`0003_catalog_generation.sql`: 3, "catalog generation").
fn migration(file: &str, text: &str, dialect: Dialect) -> Result<Migration, RenderError> {
    let error = |message: String| RenderError {
        file: file.to_string(),
        message,
    };
    let (version, description) = file
        .strip_suffix(".sql")
        .and_then(|stem| stem.split_once('_'))
        .and_then(|(v, d)| Some((v.parse::<i64>().ok()?, d.replace('_', " "))))
        .ok_or_else(|| error("the name is not NNNN_description.sql".into()))?;
    let sql = render(text, dialect).map_err(error)?;
    let no_tx = sql.starts_with("-- no-transaction");
    let mut migration = Migration::new(
        version,
        Cow::Owned(description),
        MigrationType::Simple,
        Cow::Owned(sql),
        no_tx,
    );
    if let Some(&(_, sqlite, postgres)) = FROZEN.iter().find(|(v, ..)| *v == version) {
        let hex = match dialect {
            Dialect::Sqlite => sqlite,
            Dialect::Postgres => postgres,
        };
        migration.checksum = Cow::Owned(from_hex(hex));
    }
    Ok(migration)
}

fn from_hex(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("a frozen checksum is hex"))
        .collect()
}

/// `text` with its placeholders replaced and only `dialect`'s blocks kept.
pub fn render(text: &str, dialect: Dialect) -> Result<String, String> {
    let mut out = String::with_capacity(text.len() + text.len() / 4);
    let mut only: Option<Dialect> = None;
    for (n, line) in text.lines().enumerate() {
        let at = |message: String| format!("line {}: {message}", n + 1);
        if let Some(marker) = line.trim().strip_prefix("-- @") {
            only = match (marker, only) {
                ("sqlite", None) => Some(Dialect::Sqlite),
                ("postgres", None | Some(Dialect::Sqlite)) => Some(Dialect::Postgres),
                ("end", Some(_)) => None,
                _ => return Err(at(format!("unexpected `-- @{marker}`"))),
            };
            continue;
        }
        if only.is_some_and(|d| d != dialect) {
            continue;
        }
        let mut rest = line;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let close = rest[open..]
                .find('}')
                .ok_or_else(|| at("`{` without `}`".into()))?;
            let placeholder = &rest[open + 1..open + close];
            out.push_str(&expand(placeholder, dialect).map_err(at)?);
            rest = &rest[open + close + 1..];
        }
        out.push_str(rest);
        out.push('\n');
    }
    match only {
        Some(_) => Err("a `-- @sqlite` or `-- @postgres` block has no `-- @end`".into()),
        None => Ok(out),
    }
}

/// What `placeholder` (between the braces) stands for in `dialect`.
fn expand(placeholder: &str, dialect: Dialect) -> Result<String, String> {
    let sqlite = dialect == Dialect::Sqlite;
    let pick = |s: &str, p: &str| if sqlite { s } else { p }.to_string();
    Ok(match placeholder.split_once(':') {
        None => match placeholder {
            "id" => pick("INTEGER PRIMARY KEY AUTOINCREMENT", "BIGSERIAL PRIMARY KEY"),
            "bigint" => pick("INTEGER", "BIGINT"),
            "ts" => pick("TEXT", "TIMESTAMPTZ"),
            "true" => pick("1", "TRUE"),
            "false" => pick("0", "FALSE"),
            _ => return Err(format!("unknown placeholder `{{{placeholder}}}`")),
        },
        Some(("catalog_bump", table))
            if !table.is_empty()
                && table
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') =>
        {
            catalog_bump(table, dialect)
        }
        Some(_) => return Err(format!("unknown placeholder `{{{placeholder}}}`")),
    })
}

/// The triggers that bump `catalog_generation` on every write to `table`
/// (`migrations/0003_catalog_generation.sql`).
fn catalog_bump(table: &str, dialect: Dialect) -> String {
    match dialect {
        Dialect::Sqlite => ["insert", "update", "delete"]
            .iter()
            .map(|write| {
                format!(
                    "CREATE TRIGGER {table}_{write}_bump AFTER {} ON {table}\n\
                     BEGIN UPDATE catalog_generation SET generation = generation + 1; END;",
                    write.to_uppercase()
                )
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Dialect::Postgres => format!(
            "CREATE TRIGGER {table}_bump AFTER INSERT OR UPDATE OR DELETE ON {table}\n    \
             FOR EACH STATEMENT EXECUTE FUNCTION bump_catalog_generation();"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha384};

    const BOTH: [Dialect; 2] = [Dialect::Sqlite, Dialect::Postgres];

    use crate::signing::hex;

    /// The statements of a SQL text, without its comments and layout.
    fn statements(sql: &str) -> String {
        let code: Vec<&str> = sql
            .lines()
            .map(|l| l.split_once("--").map_or(l, |(code, _)| code))
            .collect();
        code.join("\n")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// SHA-384 of [`statements`] of the old per-dialect files of versions 1–6 (SQLite,
    /// PostgreSQL), computed from those files before they were merged.
    const OLD_STATEMENTS: &[(i64, &str, &str)] = &[
        (
            1,
            "924d5ef8797495067391752d49cbc139ddfe54db4a3c195ebf007b025115b432c0a332e48bf6a7347ae4f12376f2fca5",
            "addbefad5235e3618b864cf4a048dba64832226ad17b62ae97b7a6a50bec480d24357a2e266af4d169719a36fca9f82c",
        ),
        (
            2,
            "f5163df8fc529dd2ccbf0c99fbed90507c547137c9a98980e9fb034591b4aac5eff239eb43d91f20c56e8a6fdb1330d4",
            "e73354f14f8a547a2e75712b7b8f51f7db4e0bedac5fa39a1d273f4e65b156e893d65c67fe48e97480ccc8304f13b04c",
        ),
        (
            3,
            "4b1629e6ccc06bfb74ce4af1fddc6fa30797ede97a2bb7416053c50790f7ed440fb1c24a6d501675f714b14d6308e7b9",
            "52c52abc833812da11f690dc658025f372181aea260dcf9bf0789e996926128c7a7ca3db9891b53f3b6562dd3b8a9fd2",
        ),
        (
            4,
            "91cfb9e527a66fe2e31f236eb05a65fbe053ae3d0d98d595d7796d1d1abca0bc12e59e0b0295322e7d1c1c603a3ad90a",
            "13d3208e0075386a0e49f28ddf8fa526ad17df863b5e75c842edc8981defe923cb36e3803843e030017d556dd8121e38",
        ),
        (
            5,
            "33a232b4704c08ac7f4124926038ac0a34dc16324a952da4f768582e55dc4c540bdc6fafbf792ecfbc9d3391275a19c2",
            "4937d2e4a73c0d987fb6364eb2d24a2931cc0d522581170490a46141309dd0a2afa4af1676492870c53f9670103c8b99",
        ),
        (
            6,
            "fc26f0510f9ac3eaf80697ddf734da56c3df6283aeb035955ccc8f64be00ddd4b6b0ca69e1ad98915ec9db8cb637ff26",
            "debcb582c4e29a32773841909438bf9cfebd20cd511a0a3765dab397db92f4e3be38157a36d016c049d6d3c163c3e6ca",
        ),
    ];

    /// The frozen checksums stand for the old files only while each version still renders to
    /// the statements those files held: a change to a landed migration fails here.
    #[test]
    fn frozen_versions_render_to_the_old_statements() {
        assert_eq!(OLD_STATEMENTS.len(), FROZEN.len());
        for (dialect, pick) in [(Dialect::Sqlite, 1), (Dialect::Postgres, 2)] {
            let migrations = migrations(dialect).unwrap();
            for old in OLD_STATEMENTS {
                let (version, want) = (old.0, if pick == 1 { old.1 } else { old.2 });
                let m = migrations.iter().find(|m| m.version == version).unwrap();
                let got = hex(&Sha384::digest(statements(&m.sql).as_bytes()));
                assert_eq!(got, want, "version {version} on {dialect:?}:\n{}", m.sql);
                let frozen = FROZEN.iter().find(|f| f.0 == version).unwrap();
                let checksum = if pick == 1 { frozen.1 } else { frozen.2 };
                assert_eq!(hex(&m.checksum), checksum);
            }
        }
    }

    #[test]
    fn later_versions_are_checksummed_from_their_rendered_text() {
        for dialect in BOTH {
            for m in migrations(dialect).unwrap() {
                if m.version > FROZEN.len() as i64 {
                    assert_eq!(m.checksum, Sha384::digest(m.sql.as_bytes()).as_slice());
                }
            }
        }
    }

    #[test]
    fn every_file_in_the_folder_is_listed_in_order() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../migrations");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".sql"))
            .collect();
        on_disk.sort();
        let listed: Vec<&str> = FILES.iter().map(|(name, _)| *name).collect();
        assert_eq!(on_disk, listed);
        for dialect in BOTH {
            let versions: Vec<i64> = migrations(dialect)
                .unwrap()
                .iter()
                .map(|m| m.version)
                .collect();
            assert_eq!(versions, (1..=FILES.len() as i64).collect::<Vec<_>>());
        }
    }

    #[test]
    fn descriptions_are_sqlx_s() {
        let m = migrations(Dialect::Sqlite).unwrap();
        assert_eq!(m[2].description, "catalog generation");
        assert!(!m[2].no_tx);
    }

    #[test]
    fn rendering() {
        let text = "a {id}, b {ts} DEFAULT {true}\n-- @sqlite\nlite\n-- @postgres\npg\n-- @end\n{catalog_bump:t}\n";
        assert_eq!(
            render(text, Dialect::Postgres).unwrap(),
            "a BIGSERIAL PRIMARY KEY, b TIMESTAMPTZ DEFAULT TRUE\npg\n\
             CREATE TRIGGER t_bump AFTER INSERT OR UPDATE OR DELETE ON t\n    \
             FOR EACH STATEMENT EXECUTE FUNCTION bump_catalog_generation();\n"
        );
        let sqlite = render(text, Dialect::Sqlite).unwrap();
        assert!(sqlite.starts_with("a INTEGER PRIMARY KEY AUTOINCREMENT, b TEXT DEFAULT 1\nlite\n"));
        assert!(sqlite.contains("CREATE TRIGGER t_delete_bump AFTER DELETE ON t\n"));
        for bad in [
            "{nope}",
            "{catalog_bump:}",
            "{catalog_bump:x; DROP}",
            "{id",
            "-- @sqlite\n",
            "-- @end\n",
            "-- @postgres\n-- @sqlite\n-- @end\n",
        ] {
            assert!(render(bad, Dialect::Sqlite).is_err(), "{bad:?}");
        }
    }

    /// Version 7 gives the tokens made before it their role's scopes, as `--role` does now.
    #[tokio::test]
    async fn tokens_made_before_scopes_keep_what_their_role_allowed() {
        use promptly::account::{Role, Scopes};
        use sqlx::{Connection, Row};
        let mut conn = sqlx::SqliteConnection::connect("sqlite::memory:")
            .await
            .unwrap();
        for m in migrations(Dialect::Sqlite).unwrap() {
            if m.version == 7 {
                for role in Role::ALL {
                    sqlx::query(
                        "INSERT INTO api_tokens (name, role, token_hash, created_at) \
                         VALUES (?1, ?1, ?1, '2026-01-01T00:00:00Z')",
                    )
                    .bind(role.as_str())
                    .execute(&mut conn)
                    .await
                    .unwrap();
                }
            }
            sqlx::raw_sql(&m.sql).execute(&mut conn).await.unwrap();
        }
        for role in Role::ALL {
            let row = sqlx::query("SELECT scopes FROM api_tokens WHERE name = ?1")
                .bind(role.as_str())
                .fetch_one(&mut conn)
                .await
                .unwrap();
            let scopes = Scopes::parse(row.get::<&str, _>("scopes")).unwrap();
            assert_eq!(scopes, Scopes::of_role(role), "{role}");
        }
    }

    /// Version 13 rebuilds SQLite's conversations and events with ids unique per source:
    /// what was stored before keeps its rows, ids and references in the `default` source,
    /// ids deleted before are not handed out again, and another source may reuse an id.
    #[tokio::test]
    async fn conversations_and_events_stored_before_sources_keep_their_rows() {
        use sqlx::{Connection, Row};
        let mut conn = sqlx::SqliteConnection::connect("sqlite::memory:")
            .await
            .unwrap();
        for m in migrations(Dialect::Sqlite).unwrap() {
            if m.version == 13 {
                for sql in [
                    "INSERT INTO conversations (external_id, status, channel, summary, \
                     created_at, updated_at) VALUES ('c1', 'open', 'email', '{}', 't', 't'), \
                     ('c2', 'open', 'email', '{}', 't', 't'), ('gone', 'open', 'email', '{}', 't', 't')",
                    "DELETE FROM conversations WHERE external_id = 'gone'",
                    "INSERT INTO events (external_id, conversation_id, at, payload, received_at) \
                     VALUES ('e1', 1, 't', '{}', 't'), ('e2', 2, 't', '{}', 't')",
                    "INSERT INTO automation_queue (event_id, conversation_id, enqueued_at) \
                     VALUES (2, 2, 't')",
                ] {
                    sqlx::query(sql).execute(&mut conn).await.unwrap();
                }
            }
            // In a transaction of its own, as sqlx's migrator runs it.
            let mut tx = conn.begin().await.unwrap();
            sqlx::raw_sql(&m.sql).execute(&mut *tx).await.unwrap();
            tx.commit().await.unwrap();
        }
        let rows: Vec<(i64, String, String)> =
            sqlx::query("SELECT id, source, external_id FROM conversations ORDER BY id")
                .fetch_all(&mut conn)
                .await
                .unwrap()
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2)))
                .collect();
        let default = promptly::conversation::DEFAULT_SOURCE.to_string();
        assert_eq!(
            rows,
            [
                (1, default.clone(), "c1".into()),
                (2, default.clone(), "c2".into())
            ]
        );
        let events: Vec<(i64, String, i64)> =
            sqlx::query("SELECT id, source, conversation_id FROM events ORDER BY id")
                .fetch_all(&mut conn)
                .await
                .unwrap()
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2)))
                .collect();
        assert_eq!(events, [(1, default.clone(), 1), (2, default, 2)]);
        let broken = sqlx::query("PRAGMA foreign_key_check")
            .fetch_all(&mut conn)
            .await
            .unwrap();
        assert!(broken.is_empty(), "references still hold");
        let on: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(on, 1, "foreign keys are on again");
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO conversations (source, external_id, status, channel, summary, \
             created_at, updated_at) VALUES ('whatsapp', 'c1', 'open', 'email', '{}', 't', 't') \
             RETURNING id",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        assert_eq!(id, 4, "id 3 was used before");
        let again = sqlx::query(
            "INSERT INTO conversations (source, external_id, status, channel, summary, \
             created_at, updated_at) VALUES ('whatsapp', 'c1', 'open', 'email', '{}', 't', 't')",
        )
        .execute(&mut conn)
        .await;
        assert!(again.is_err(), "unique within a source");
        let dangling = sqlx::query(
            "INSERT INTO events (external_id, conversation_id, at, payload, received_at) \
             VALUES ('e9', 99, 't', '{}', 't')",
        )
        .execute(&mut conn)
        .await;
        assert!(dangling.is_err(), "events still reference conversations");
    }

    /// The audit log takes rows and refuses to change or remove them.
    #[tokio::test]
    async fn the_audit_log_is_append_only() {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect("sqlite::memory:")
            .await
            .unwrap();
        for m in migrations(Dialect::Sqlite).unwrap() {
            sqlx::raw_sql(&m.sql).execute(&mut conn).await.unwrap();
        }
        sqlx::query(
            "INSERT INTO audit_log (at, actor, entity, action) \
             VALUES ('2026-12-01T00:00:00Z', 'a@b.c', 'user', 'create')",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        for sql in [
            "UPDATE audit_log SET actor = 'someone else'",
            "DELETE FROM audit_log",
        ] {
            let e = sqlx::query(sql).execute(&mut conn).await.unwrap_err();
            assert!(e.to_string().contains("append-only"), "{sql}: {e}");
        }
    }
}
