//! `promptly backup` and `promptly restore` for SQLite, and the lock that tells a restore
//! whether a server uses the database.
//!
//! - **The lock**: every `promptly` command that opens a SQLite database (a server, `migrate`,
//!   `user`, `token`, `backup`) first takes a shared `flock` on `FILE.promptly-lock` beside it
//!   and holds it until it exits; a restore takes it exclusively. The kernel releases it
//!   when a process ends, also after a crash or `kill -9`, so no stale lock survives, and a
//!   server cannot start while a restore is replacing its file.
//! - **Backup**: `VACUUM INTO` a temporary file beside the target (one read transaction:
//!   the database as of one instant, while the server goes on writing), synced, then linked
//!   to its name, which must not exist.
//! - **Restore**: with the exclusive lock, the backup is copied beside the database, checked
//!   there (`PRAGMA integrity_check`, sqlx's migrations table, every migration one this
//!   binary has with the same checksum) and turned into a single file (rollback journal),
//!   the old database's `-wal` and `-shm` (which belong to the file being replaced and must
//!   never be applied to the restored one) are removed, and the copy is renamed over it.

use crate::store::db::Dialect;
use crate::store::{DatabaseUrl, Store};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::Row;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// What `promptly backup` and `restore` say for a PostgreSQL database.
pub const POSTGRES_BACKUP: &str = "the database is PostgreSQL: back it up with pg_dump \
     (pg_dump --format=custom --file=promptly.dump \"$PROMPTLY_DATABASE_URL\") and restore it \
     with pg_restore; promptly backup and restore copy SQLite files";

/// The SQLite file a database URL names; `Err` (a sentence) for PostgreSQL or a database in
/// memory.
pub fn sqlite_file(url: &DatabaseUrl) -> Result<PathBuf, String> {
    let raw = match url {
        DatabaseUrl::Postgres(_) => return Err(POSTGRES_BACKUP.into()),
        DatabaseUrl::Sqlite(raw) => raw,
    };
    let opts = SqliteConnectOptions::from_str(raw)
        .map_err(|e| format!("PROMPTLY_DATABASE_URL is not a SQLite URL: {e}"))?;
    let file = opts.get_filename();
    if raw.contains(":memory:")
        || raw.contains("mode=memory")
        || file.to_string_lossy().starts_with("file:sqlx-in-memory")
    {
        return Err("the database is in memory: there is no file to back up or restore".into());
    }
    Ok(file.to_path_buf())
}

/// The lock file beside a database.
pub fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".promptly-lock");
    PathBuf::from(name)
}

/// A held lock on a database's lock file (released when dropped, or when the process
/// ends).
#[derive(Debug)]
pub struct DbLock {
    _file: File,
}

fn open_lock(db: &Path) -> Result<File, String> {
    let path = lock_path(db);
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| format!("cannot open the lock file {}: {e}", path.display()))
}

/// Takes the database's lock shared (a server or a command using it). Refused while a
/// restore replaces the file.
pub fn lock_shared(db: &Path) -> Result<DbLock, String> {
    let file = open_lock(db)?;
    match file.try_lock_shared() {
        Ok(()) => Ok(DbLock { _file: file }),
        Err(std::fs::TryLockError::WouldBlock) => Err(format!(
            "{} is being restored (promptly restore holds {}); try again when it is done",
            db.display(),
            lock_path(db).display()
        )),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(format!("cannot lock {}: {e}", lock_path(db).display()))
        }
    }
}

/// Takes the database's lock exclusively (a restore). Refused while any server or command
/// uses the database.
pub fn lock_exclusive(db: &Path) -> Result<DbLock, String> {
    let file = open_lock(db)?;
    match file.try_lock() {
        Ok(()) => Ok(DbLock { _file: file }),
        Err(std::fs::TryLockError::WouldBlock) => Err(format!(
            "{} is in use by a running promptly server or command (it holds {}): stop it \
             before restoring",
            db.display(),
            lock_path(db).display()
        )),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(format!("cannot lock {}: {e}", lock_path(db).display()))
        }
    }
}

/// A name beside `path` for a file being written: `.NAME.WHAT-PID`.
fn beside(path: &Path, what: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "promptly.db".into());
    path.with_file_name(format!(".{name}.{what}-{}", std::process::id()))
}

/// The folder a file is in ("." for a bare name).
fn folder_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Makes a rename or a new name in `dir` durable.
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

fn sync_file(path: &Path) -> Result<(), String> {
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| format!("cannot sync {}: {e}", path.display()))
}

/// Copies the store's database into `file`, which must not exist; returns its size in
/// bytes.
pub async fn backup(store: &dyn Store, file: &Path) -> Result<u64, String> {
    if file.exists() {
        return Err(format!(
            "{} already exists: a backup never overwrites a file (choose a new name)",
            file.display()
        ));
    }
    let dir = folder_of(file);
    if !dir.is_dir() {
        return Err(format!(
            "cannot write {}: no folder {}",
            file.display(),
            dir.display()
        ));
    }
    let partial = beside(file, "partial");
    let _ = std::fs::remove_file(&partial);
    let result = async {
        let path = partial
            .to_str()
            .ok_or_else(|| format!("{} is not a UTF-8 path", partial.display()))?;
        store
            .backup_into(path)
            .await
            .map_err(|e| format!("the backup failed: {e}"))?;
        sync_file(&partial)?;
        // A link, not a rename: a file that appeared meanwhile is never replaced.
        std::fs::hard_link(&partial, file).map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => format!(
                "{} already exists: a backup never overwrites a file (choose a new name)",
                file.display()
            ),
            _ => format!("cannot write {}: {e}", file.display()),
        })?;
        sync_dir(&dir);
        std::fs::metadata(file)
            .map(|m| m.len())
            .map_err(|e| format!("cannot read {}: {e}", file.display()))
    }
    .await;
    let _ = std::fs::remove_file(&partial);
    result
}

/// Checks that `file` is a sound Promptly SQLite database this binary can open (not made by
/// a newer one) and leaves it as a single file; returns its latest migration version.
async fn check_backup(file: &Path) -> Result<i64, String> {
    let opts = SqliteConnectOptions::new()
        .filename(file)
        .create_if_missing(false);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(opts)
        .await
        .map_err(|e| format!("cannot open it as a SQLite database: {e}"))?;
    let result = async {
        let not_sqlite = |e: sqlx::Error| format!("it is not a SQLite database ({e})");
        let problems: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_all(&pool)
            .await
            .map_err(not_sqlite)?;
        if problems != ["ok"] {
            let shown: Vec<&str> = problems.iter().take(3).map(String::as_str).collect();
            return Err(format!(
                "it fails SQLite's integrity check: {}",
                shown.join("; ")
            ));
        }
        let has_migrations: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
        )
        .fetch_one(&pool)
        .await
        .map_err(not_sqlite)?;
        if has_migrations == 0 {
            return Err("it is not a Promptly database (it has no _sqlx_migrations table)".into());
        }
        let ours =
            crate::store::migrations::migrations(Dialect::Sqlite).map_err(|e| e.to_string())?;
        let rows =
            sqlx::query("SELECT version, success, checksum FROM _sqlx_migrations ORDER BY version")
                .fetch_all(&pool)
                .await
                .map_err(|e| format!("its migrations table cannot be read: {e}"))?;
        let mut latest = 0;
        for r in &rows {
            let version: i64 = r.get("version");
            let success: bool = r.get("success");
            let checksum: Vec<u8> = r.get("checksum");
            let Some(known) = ours.iter().find(|m| m.version == version) else {
                return Err(format!(
                    "it was made by a newer Promptly (its migration {version} is unknown to \
                     this binary, whose latest is {}): restore it with that version",
                    ours.last().map_or(0, |m| m.version)
                ));
            };
            if !success {
                return Err(format!(
                    "its migration {version} failed and was never completed"
                ));
            }
            if known.checksum.as_ref() != checksum.as_slice() {
                return Err(format!(
                    "its migration {version} differs from this binary's ({}): it is not a \
                     database of this Promptly",
                    known.description
                ));
            }
            latest = latest.max(version);
        }
        if latest == 0 {
            return Err("it is not a Promptly database (no migration was applied to it)".into());
        }
        // One file: the copy's WAL, if any, is written into it and removed.
        sqlx::query("PRAGMA journal_mode = DELETE")
            .execute(&pool)
            .await
            .map_err(|e| format!("cannot prepare it: {e}"))?;
        Ok(latest)
    }
    .await;
    pool.close().await;
    result
}

/// Puts backup `file` in place of database `target`; returns the backup's migration
/// version. Refused while a server or command uses `target`.
pub async fn restore(target: &Path, file: &Path) -> Result<i64, String> {
    if !file.is_file() {
        return Err(format!(
            "{} does not exist or is not a file",
            file.display()
        ));
    }
    if let (Ok(a), Ok(b)) = (file.canonicalize(), target.canonicalize()) {
        if a == b {
            return Err(format!("{} is the database itself", file.display()));
        }
    }
    let dir = folder_of(target);
    if !dir.is_dir() {
        return Err(format!(
            "no folder {} for {}",
            dir.display(),
            target.display()
        ));
    }
    // Held until the restored file is in place: no server starts on a half-replaced one.
    let _lock = lock_exclusive(target)?;
    let copy = beside(target, "restore");
    let cleanup = |p: &Path| {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut name = p.as_os_str().to_owned();
            name.push(suffix);
            let _ = std::fs::remove_file(PathBuf::from(name));
        }
    };
    cleanup(&copy);
    let result = async {
        std::fs::copy(file, &copy)
            .map_err(|e| format!("cannot copy {} beside the database: {e}", file.display()))?;
        let version = check_backup(&copy)
            .await
            .map_err(|e| format!("{} cannot be restored: {e}", file.display()))?;
        sync_file(&copy)?;
        // The replaced database's log must never be applied to the restored file.
        for suffix in ["-wal", "-shm", "-journal"] {
            let mut name = target.as_os_str().to_owned();
            name.push(suffix);
            let path = PathBuf::from(name);
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(format!("cannot remove {}: {e}", path.display())),
            }
        }
        std::fs::rename(&copy, target)
            .map_err(|e| format!("cannot put the copy in place of {}: {e}", target.display()))?;
        sync_dir(&dir);
        Ok(version)
    }
    .await;
    cleanup(&copy);
    result
}
