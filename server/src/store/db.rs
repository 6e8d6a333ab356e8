//! The one place where statements meet a database: each statement is written once, with
//! `$n` placeholders (PostgreSQL's, which SQLite also reads), and runs on either backend.
//!
//! What the two dialects do differently lives here and nowhere else: how a value is bound
//! (SQLite keeps timestamps as fixed-width RFC 3339 text, lists as JSON), how a list is
//! matched (`= ANY($n)` / `IN (SELECT value FROM json_each($n))`), how many rows go in one
//! statement ([`Bulk`]: PostgreSQL `UNNEST` of typed arrays, SQLite multi-row `VALUES` in
//! chunks under its bind limit), how a write transaction starts (SQLite takes the write lock
//! up front) and which row locks exist (`FOR UPDATE`, `SKIP LOCKED`: PostgreSQL only; SQLite
//! has one writer at a time). Rows are read through [`Row`], which turns each dialect's
//! timestamps back into `DateTime<Utc>`.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::{PgConnection, PgPool, Postgres, Sqlite, SqliteConnection, SqlitePool};
use std::sync::Arc;

/// Which SQL dialect a statement is rendered for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A row lock a statement can take where the dialect has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lock {
    /// `FOR UPDATE`: concurrent writers of these rows wait.
    Update,
    /// `FOR UPDATE SKIP LOCKED`: rows another transaction holds are passed over.
    UpdateSkipLocked,
    /// `FOR SHARE`: the rows stay as read until commit.
    Share,
}

impl Dialect {
    /// The clause for `lock` (with a leading space), or nothing on SQLite, where a write
    /// transaction already holds the only write lock.
    pub fn lock(self, lock: Lock) -> &'static str {
        match (self, lock) {
            (Dialect::Sqlite, _) => "",
            (Dialect::Postgres, Lock::Update) => " FOR UPDATE",
            (Dialect::Postgres, Lock::UpdateSkipLocked) => " FOR UPDATE SKIP LOCKED",
            (Dialect::Postgres, Lock::Share) => " FOR SHARE",
        }
    }
}

/// A connection pool of either backend.
#[derive(Clone)]
pub enum Db {
    /// With the line this process's SQLite writers wait in (see [`Db::begin_write`]).
    Sqlite(SqlitePool, Arc<tokio::sync::Mutex<()>>),
    Postgres(PgPool),
}

/// How long a SQLite writer waits in line before it tries SQLite's own lock anyway (as long
/// as SQLite's busy timeout, `store::sqlite`).
const WRITER_LINE: std::time::Duration = std::time::Duration::from_secs(5);

impl Db {
    pub fn sqlite(pool: SqlitePool) -> Db {
        Db::Sqlite(pool, Arc::default())
    }

    pub fn dialect(&self) -> Dialect {
        match self {
            Db::Sqlite(..) => Dialect::Sqlite,
            Db::Postgres(_) => Dialect::Postgres,
        }
    }

    /// A statement for this database.
    pub fn query(&self, sql: impl Into<String>) -> Query {
        Query::new(self.dialect(), sql)
    }

    /// A transaction that will write. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`): a deferred one could fail to upgrade its read lock when another
    /// connection wrote meanwhile. The process's SQLite writers first wait in one fair line
    /// until the one before them ends: SQLite's busy handler only polls, so a writer that
    /// keeps coming back (a busy ingest's group commits) could starve the others (the
    /// automation's passes).
    pub async fn begin_write(&self) -> Result<Tx, sqlx::Error> {
        Ok(match self {
            Db::Sqlite(p, line) => {
                let turn = tokio::time::timeout(WRITER_LINE, line.clone().lock_owned())
                    .await
                    .ok();
                Tx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?, turn)
            }
            Db::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }

    /// Holds `table` against other writers until the transaction ends (PostgreSQL; on
    /// SQLite the write transaction already does).
    pub async fn lock_table(&self, tx: &mut Tx, table: &str) -> Result<(), sqlx::Error> {
        if self.dialect() == Dialect::Postgres {
            self.query(format!("LOCK TABLE {table} IN EXCLUSIVE MODE"))
                .execute(tx)
                .await?;
        }
        Ok(())
    }
}

/// An open transaction; dropped without [`Tx::commit`], it rolls back. A SQLite one holds
/// its turn in the writers' line until it ends.
pub enum Tx {
    Sqlite(
        sqlx::Transaction<'static, Sqlite>,
        Option<tokio::sync::OwnedMutexGuard<()>>,
    ),
    Postgres(sqlx::Transaction<'static, Postgres>),
}

impl Tx {
    pub fn dialect(&self) -> Dialect {
        match self {
            Tx::Sqlite(..) => Dialect::Sqlite,
            Tx::Postgres(_) => Dialect::Postgres,
        }
    }

    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(t, turn) => {
                let done = t.commit().await;
                drop(turn);
                done
            }
            Tx::Postgres(t) => t.commit().await,
        }
    }
}

/// Where a statement runs: a pool or a transaction.
pub enum On<'a> {
    SqlitePool(&'a SqlitePool),
    PgPool(&'a PgPool),
    Sqlite(&'a mut SqliteConnection),
    Postgres(&'a mut PgConnection),
}

impl<'a> From<&'a Db> for On<'a> {
    fn from(db: &'a Db) -> Self {
        match db {
            Db::Sqlite(p, _) => On::SqlitePool(p),
            Db::Postgres(p) => On::PgPool(p),
        }
    }
}

impl<'a> From<&'a mut Tx> for On<'a> {
    fn from(tx: &'a mut Tx) -> Self {
        match tx {
            Tx::Sqlite(t, _) => On::Sqlite(t),
            Tx::Postgres(t) => On::Postgres(t),
        }
    }
}

/// Timestamps on SQLite: fixed-width RFC 3339 UTC text, so that text order is time order.
pub fn sqlite_ts(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

fn parse_ts(s: &str) -> Result<DateTime<Utc>, sqlx::Error> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

/// A bound value. Each variant knows its type, so that a NULL is typed on PostgreSQL.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Int(Option<i64>),
    Bool(Option<bool>),
    Text(Option<String>),
    Ts(Option<DateTime<Utc>>),
    /// A list for [`Query::push_in`]: an array on PostgreSQL, JSON on SQLite.
    Ints(Vec<i64>),
    Texts(Vec<String>),
    /// A [`Bulk`] column on PostgreSQL.
    Array(PgArray),
}

/// One column of a [`Bulk`] as a PostgreSQL array.
#[derive(Debug, Clone, PartialEq)]
pub enum PgArray {
    Int(Vec<Option<i64>>),
    Text(Vec<Option<String>>),
    Ts(Vec<Option<DateTime<Utc>>>),
    Bool(Vec<Option<bool>>),
}

impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Arg::Int(Some(v))
    }
}
impl From<&i64> for Arg {
    fn from(v: &i64) -> Self {
        Arg::Int(Some(*v))
    }
}
impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Self {
        Arg::Int(v)
    }
}
impl From<bool> for Arg {
    fn from(v: bool) -> Self {
        Arg::Bool(Some(v))
    }
}
impl From<String> for Arg {
    fn from(v: String) -> Self {
        Arg::Text(Some(v))
    }
}
impl From<&String> for Arg {
    fn from(v: &String) -> Self {
        Arg::Text(Some(v.clone()))
    }
}
impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Arg::Text(Some(v.to_string()))
    }
}
impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Self {
        Arg::Text(v)
    }
}
impl From<Option<&str>> for Arg {
    fn from(v: Option<&str>) -> Self {
        Arg::Text(v.map(str::to_string))
    }
}
impl From<&Option<String>> for Arg {
    fn from(v: &Option<String>) -> Self {
        Arg::Text(v.clone())
    }
}
impl From<DateTime<Utc>> for Arg {
    fn from(v: DateTime<Utc>) -> Self {
        Arg::Ts(Some(v))
    }
}
impl From<Option<DateTime<Utc>>> for Arg {
    fn from(v: Option<DateTime<Utc>>) -> Self {
        Arg::Ts(v)
    }
}
impl From<&[i64]> for Arg {
    fn from(v: &[i64]) -> Self {
        Arg::Ints(v.to_vec())
    }
}
impl From<Vec<i64>> for Arg {
    fn from(v: Vec<i64>) -> Self {
        Arg::Ints(v)
    }
}
impl From<Vec<String>> for Arg {
    fn from(v: Vec<String>) -> Self {
        Arg::Texts(v)
    }
}
impl From<&[&str]> for Arg {
    fn from(v: &[&str]) -> Self {
        Arg::Texts(v.iter().map(|s| s.to_string()).collect())
    }
}

fn json_list<T: serde::Serialize>(v: &[T]) -> String {
    serde_json::to_string(v).expect("a list of numbers or strings is JSON")
}

type SqliteQuery<'q> = sqlx::query::Query<'q, Sqlite, SqliteArguments<'q>>;
type PgQuery<'q> = sqlx::query::Query<'q, Postgres, PgArguments>;

fn bind_sqlite(q: SqliteQuery<'_>, arg: Arg) -> SqliteQuery<'_> {
    match arg {
        Arg::Int(v) => q.bind(v),
        Arg::Bool(v) => q.bind(v),
        Arg::Text(v) => q.bind(v),
        Arg::Ts(v) => q.bind(v.map(sqlite_ts)),
        Arg::Ints(v) => q.bind(json_list(&v)),
        Arg::Texts(v) => q.bind(json_list(&v)),
        Arg::Array(_) => unreachable!("a bulk renders VALUES on SQLite"),
    }
}

fn bind_pg(q: PgQuery<'_>, arg: Arg) -> PgQuery<'_> {
    match arg {
        Arg::Int(v) => q.bind(v),
        Arg::Bool(v) => q.bind(v),
        Arg::Text(v) => q.bind(v),
        Arg::Ts(v) => q.bind(v),
        Arg::Ints(v) => q.bind(v),
        Arg::Texts(v) => q.bind(v),
        Arg::Array(PgArray::Int(v)) => q.bind(v),
        Arg::Array(PgArray::Text(v)) => q.bind(v),
        Arg::Array(PgArray::Ts(v)) => q.bind(v),
        Arg::Array(PgArray::Bool(v)) => q.bind(v),
    }
}

/// A statement and its values. Fixed statements name their placeholders (`$1`, `$2`, a
/// number may repeat) and bind with [`Query::arg`]; built ones add text with
/// [`Query::push`] and values with [`Query::push_bind`], which writes the next `$n`.
#[derive(Debug)]
pub struct Query {
    dialect: Dialect,
    sql: String,
    args: Vec<Arg>,
}

impl Query {
    pub fn new(dialect: Dialect, sql: impl Into<String>) -> Query {
        Query {
            dialect,
            sql: sql.into(),
            args: Vec::new(),
        }
    }

    /// Binds the next numbered placeholder.
    pub fn arg(mut self, v: impl Into<Arg>) -> Query {
        self.args.push(v.into());
        self
    }

    pub fn push(&mut self, sql: &str) -> &mut Query {
        self.sql.push_str(sql);
        self
    }

    /// Writes `$n` for a new value.
    pub fn push_bind(&mut self, v: impl Into<Arg>) -> &mut Query {
        self.args.push(v.into());
        self.sql.push_str(&format!("${}", self.args.len()));
        self
    }

    /// `column` is one of `list`: `= ANY($n)` with one array on PostgreSQL; on SQLite
    /// `IN ($a, $b, ...)` for up to [`INLINE_LIST`] items, else `IN (SELECT value FROM
    /// json_each($n))` with one JSON value.
    pub fn push_in(&mut self, column: &str, list: impl Into<Arg>) -> &mut Query {
        let list = list.into();
        // SQLite reads a short list fastest as values of its own.
        let items: Option<Vec<Arg>> = match (&self.dialect, &list) {
            (Dialect::Sqlite, Arg::Ints(v)) if v.len() <= INLINE_LIST => {
                Some(v.iter().map(Arg::from).collect())
            }
            (Dialect::Sqlite, Arg::Texts(v)) if v.len() <= INLINE_LIST => {
                Some(v.iter().map(Arg::from).collect())
            }
            _ => None,
        };
        if let Some(items) = items {
            self.sql.push_str(&format!("{column} IN ("));
            for (i, item) in items.into_iter().enumerate() {
                if i > 0 {
                    self.sql.push_str(", ");
                }
                self.push_bind(item);
            }
            self.sql.push(')');
            return self;
        }
        self.args.push(list);
        let n = self.args.len();
        match self.dialect {
            Dialect::Postgres => self.sql.push_str(&format!("{column} = ANY(${n})")),
            Dialect::Sqlite => self
                .sql
                .push_str(&format!("{column} IN (SELECT value FROM json_each(${n}))")),
        }
        self
    }

    /// The row lock's clause where the dialect has one.
    pub fn push_lock(&mut self, lock: Lock) -> &mut Query {
        self.sql.push_str(self.dialect.lock(lock));
        self
    }

    /// The statement as SQLite runs it: SQLite looks a named or numbered parameter up in a
    /// list for each bind (quadratic in the number of parameters), so it gets plain `?` in
    /// the order of appearance ([`positional`]).
    fn into_sqlite(self) -> (String, Vec<Arg>) {
        positional(&self.sql, self.args)
    }

    pub async fn fetch_all<'a>(self, on: impl Into<On<'a>>) -> Result<Vec<Row>, sqlx::Error> {
        let on = on.into();
        if let On::SqlitePool(_) | On::Sqlite(_) = on {
            let (sql, args) = self.into_sqlite();
            let q = args.into_iter().fold(sqlx::query(&sql), bind_sqlite);
            return Ok(match on {
                On::SqlitePool(p) => wrap(q.fetch_all(p).await?, Row::Sqlite),
                On::Sqlite(c) => wrap(q.fetch_all(c).await?, Row::Sqlite),
                _ => unreachable!(),
            });
        }
        let q = self.args.into_iter().fold(sqlx::query(&self.sql), bind_pg);
        Ok(match on {
            On::PgPool(p) => wrap(q.fetch_all(p).await?, Row::Postgres),
            On::Postgres(c) => wrap(q.fetch_all(c).await?, Row::Postgres),
            _ => unreachable!(),
        })
    }

    pub async fn fetch_optional<'a>(
        self,
        on: impl Into<On<'a>>,
    ) -> Result<Option<Row>, sqlx::Error> {
        let on = on.into();
        if let On::SqlitePool(_) | On::Sqlite(_) = on {
            let (sql, args) = self.into_sqlite();
            let q = args.into_iter().fold(sqlx::query(&sql), bind_sqlite);
            return Ok(match on {
                On::SqlitePool(p) => q.fetch_optional(p).await?.map(Row::Sqlite),
                On::Sqlite(c) => q.fetch_optional(c).await?.map(Row::Sqlite),
                _ => unreachable!(),
            });
        }
        let q = self.args.into_iter().fold(sqlx::query(&self.sql), bind_pg);
        Ok(match on {
            On::PgPool(p) => q.fetch_optional(p).await?.map(Row::Postgres),
            On::Postgres(c) => q.fetch_optional(c).await?.map(Row::Postgres),
            _ => unreachable!(),
        })
    }

    pub async fn fetch_one<'a>(self, on: impl Into<On<'a>>) -> Result<Row, sqlx::Error> {
        self.fetch_optional(on)
            .await?
            .ok_or(sqlx::Error::RowNotFound)
    }

    /// How many rows the statement changed.
    pub async fn execute<'a>(self, on: impl Into<On<'a>>) -> Result<u64, sqlx::Error> {
        let on = on.into();
        if let On::SqlitePool(_) | On::Sqlite(_) = on {
            let (sql, args) = self.into_sqlite();
            let q = args.into_iter().fold(sqlx::query(&sql), bind_sqlite);
            return Ok(match on {
                On::SqlitePool(p) => q.execute(p).await?.rows_affected(),
                On::Sqlite(c) => q.execute(c).await?.rows_affected(),
                _ => unreachable!(),
            });
        }
        let q = self.args.into_iter().fold(sqlx::query(&self.sql), bind_pg);
        Ok(match on {
            On::PgPool(p) => q.execute(p).await?.rows_affected(),
            On::Postgres(c) => q.execute(c).await?.rows_affected(),
            _ => unreachable!(),
        })
    }

    /// The first column of each row.
    pub async fn fetch_column<'a, T: Column>(
        self,
        on: impl Into<On<'a>>,
    ) -> Result<Vec<T>, sqlx::Error> {
        self.fetch_all(on)
            .await?
            .iter()
            .map(|r| T::read(r, 0))
            .collect()
    }

    /// The first column of the one row the statement returns.
    pub async fn fetch_scalar<'a, T: Column>(
        self,
        on: impl Into<On<'a>>,
    ) -> Result<T, sqlx::Error> {
        T::read(&self.fetch_one(on).await?, 0)
    }

    /// The first column of the first row, if there is a row.
    pub async fn fetch_optional_scalar<'a, T: Column>(
        self,
        on: impl Into<On<'a>>,
    ) -> Result<Option<T>, sqlx::Error> {
        self.fetch_optional(on)
            .await?
            .map(|r| T::read(&r, 0))
            .transpose()
    }
}

/// A statement with `$n` placeholders (repeated or out of order) as plain `?` in the order
/// they appear, with the values to bind in that order. Text in quotes is left alone.
pub fn positional(sql: &str, args: Vec<Arg>) -> (String, Vec<Arg>) {
    let bytes = sql.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut order = Vec::with_capacity(args.len());
    let mut quote = 0u8;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if quote != 0 {
            if c == quote {
                quote = 0;
            }
            out.push(c);
            i += 1;
        } else if c == b'\'' || c == b'"' {
            quote = c;
            out.push(c);
            i += 1;
        } else if c == b'$' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
            let start = i + 1;
            let mut end = start;
            while end < bytes.len() && bytes[end].is_ascii_digit() {
                end += 1;
            }
            let n: usize = sql[start..end].parse().expect("digits");
            assert!((1..=args.len()).contains(&n), "${n} has no value in: {sql}");
            order.push(n - 1);
            out.push(b'?');
            i = end;
        } else {
            out.push(c);
            i += 1;
        }
    }
    // Each value moves to its last use and is copied for the earlier ones.
    let mut uses = vec![0usize; args.len()];
    for k in &order {
        uses[*k] += 1;
    }
    let mut slots: Vec<Option<Arg>> = args.into_iter().map(Some).collect();
    let binds = order
        .into_iter()
        .map(|k| {
            uses[k] -= 1;
            if uses[k] == 0 {
                slots[k].take().expect("a value is moved once")
            } else {
                slots[k]
                    .clone()
                    .expect("a value is there until its last use")
            }
        })
        .collect();
    (
        String::from_utf8(out).expect("only ASCII was replaced"),
        binds,
    )
}

fn wrap<R>(rows: Vec<R>, f: fn(R) -> Row) -> Vec<Row> {
    rows.into_iter().map(f).collect()
}

/// A row of either backend.
pub enum Row {
    Sqlite(SqliteRow),
    Postgres(PgRow),
}

/// A column index: a name or a position.
pub trait Index: sqlx::ColumnIndex<SqliteRow> + sqlx::ColumnIndex<PgRow> + Copy {}
impl<T: sqlx::ColumnIndex<SqliteRow> + sqlx::ColumnIndex<PgRow> + Copy> Index for T {}

impl Row {
    /// A column whose type both backends decode alike (integers, text, booleans, floats).
    pub fn get<T, I: Index>(&self, i: I) -> Result<T, sqlx::Error>
    where
        T: for<'r> sqlx::Decode<'r, Sqlite>
            + sqlx::Type<Sqlite>
            + for<'r> sqlx::Decode<'r, Postgres>
            + sqlx::Type<Postgres>,
    {
        use sqlx::Row as _;
        match self {
            Row::Sqlite(r) => r.try_get(i),
            Row::Postgres(r) => r.try_get(i),
        }
    }

    /// A timestamp column (text on SQLite, `timestamptz` on PostgreSQL).
    pub fn ts<I: Index>(&self, i: I) -> Result<DateTime<Utc>, sqlx::Error> {
        use sqlx::Row as _;
        match self {
            Row::Sqlite(r) => parse_ts(r.try_get::<&str, _>(i)?),
            Row::Postgres(r) => r.try_get(i),
        }
    }

    pub fn opt_ts<I: Index>(&self, i: I) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
        use sqlx::Row as _;
        match self {
            Row::Sqlite(r) => r.try_get::<Option<&str>, _>(i)?.map(parse_ts).transpose(),
            Row::Postgres(r) => r.try_get(i),
        }
    }

    /// A JSON text column, parsed.
    pub fn json<T: DeserializeOwned, I: Index>(&self, i: I) -> Result<T, sqlx::Error> {
        use sqlx::Row as _;
        let text = match self {
            Row::Sqlite(r) => r.try_get::<&str, _>(i)?,
            Row::Postgres(r) => r.try_get::<&str, _>(i)?,
        };
        super::shared::from_json(text)
    }
}

/// What [`Query::fetch_column`] and [`Query::fetch_scalar`] read.
pub trait Column: Sized {
    fn read(row: &Row, i: usize) -> Result<Self, sqlx::Error>;
}

macro_rules! plain_columns {
    ($($t:ty),*) => {$(
        impl Column for $t {
            fn read(row: &Row, i: usize) -> Result<Self, sqlx::Error> {
                row.get(i)
            }
        }
    )*};
}
plain_columns!(i64, Option<i64>, bool, String, Option<String>);

impl Column for DateTime<Utc> {
    fn read(row: &Row, i: usize) -> Result<Self, sqlx::Error> {
        row.ts(i)
    }
}

impl Column for Option<DateTime<Utc>> {
    fn read(row: &Row, i: usize) -> Result<Self, sqlx::Error> {
        row.opt_ts(i)
    }
}

/// A column's type in a [`Bulk`] (PostgreSQL needs it for the array).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Int,
    Text,
    Ts,
    Bool,
}

/// The longest list SQLite gets as values of its own in [`Query::push_in`].
pub const INLINE_LIST: usize = 2_000;

/// How many values one SQLite statement binds at most (SQLite allows 32,766).
pub const SQLITE_MAX_BINDS: usize = 30_000;

/// What a [`Bulk`]'s rows are for.
#[derive(Debug, Clone, Copy)]
pub enum Use<'a> {
    /// `INSERT INTO table (columns) <rows> tail`, the rows inserted in the order added.
    Insert { table: &'a str, tail: &'a str },
    /// `WITH name(columns, n) AS (<rows>) statement`, for statements that join the rows
    /// (`UPDATE ... FROM name`); `n` numbers them 1, 2, ... in the order added.
    With(&'a str),
}

/// Many rows in one statement. On PostgreSQL the rows are one `UNNEST` of typed arrays (one
/// statement, whatever the count); on SQLite a multi-row `VALUES`, in as many statements as
/// its bind limit needs.
#[derive(Clone)]
pub struct Bulk {
    name: &'static str,
    columns: &'static [(&'static str, Ty)],
    values: Vec<Arg>,
}

impl Bulk {
    pub fn new(name: &'static str, columns: &'static [(&'static str, Ty)]) -> Bulk {
        Bulk {
            name,
            columns,
            values: Vec::new(),
        }
    }

    /// Adds a row: one value per column, in the columns' order.
    pub fn row<const N: usize>(&mut self, values: [Arg; N]) {
        debug_assert_eq!(
            N,
            self.columns.len(),
            "one value per column of {}",
            self.name
        );
        self.values.extend(values);
    }

    pub fn len(&self) -> usize {
        self.values.len() / self.columns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    fn column_list(&self) -> String {
        let cols: Vec<&str> = self.columns.iter().map(|c| c.0).collect();
        cols.join(", ")
    }

    /// The statements for these rows; nothing when there are none.
    pub fn statements(self, dialect: Dialect, purpose: Use<'_>) -> Vec<Query> {
        if self.is_empty() {
            return Vec::new();
        }
        let width = self.columns.len();
        let cols = self.column_list();
        match dialect {
            Dialect::Postgres => {
                let arrays: Vec<String> = self
                    .columns
                    .iter()
                    .enumerate()
                    .map(|(j, (_, ty))| {
                        let t = match ty {
                            Ty::Int => "int8",
                            Ty::Text => "text",
                            Ty::Ts => "timestamptz",
                            Ty::Bool => "bool",
                        };
                        format!("${}::{t}[]", j + 1)
                    })
                    .collect();
                let unnest = format!("UNNEST({}) WITH ORDINALITY", arrays.join(", "));
                let name = self.name;
                let sql = match purpose {
                    Use::Insert { table, tail } => format!(
                        "INSERT INTO {table} ({cols}) SELECT {cols} FROM {unnest} \
                         AS {name}({cols}, n) ORDER BY n {tail}"
                    ),
                    Use::With(statement) => {
                        format!("WITH {name}({cols}, n) AS (SELECT * FROM {unnest}) {statement}")
                    }
                };
                let mut q = Query::new(dialect, sql);
                for (j, (_, ty)) in self.columns.iter().enumerate() {
                    q.args.push(Arg::Array(self.column_array(j, *ty)));
                }
                vec![q]
            }
            Dialect::Sqlite => {
                let per = (SQLITE_MAX_BINDS / width).max(1);
                let name = self.name;
                let mut values = self.values.into_iter();
                let rows = values.len() / width;
                (0..rows.div_ceil(per))
                    .map(|c| {
                        let chunk: Vec<Vec<Arg>> = (0..per.min(rows - c * per))
                            .map(|_| values.by_ref().take(width).collect())
                            .collect();
                        let head = match purpose {
                            Use::Insert { table, .. } => {
                                format!("INSERT INTO {table} ({cols}) VALUES ")
                            }
                            Use::With(_) => format!("WITH {name}({cols}, n) AS (VALUES "),
                        };
                        let mut q = Query::new(dialect, head);
                        for (i, row) in chunk.into_iter().enumerate() {
                            q.push(if i == 0 { "(" } else { ", (" });
                            for (k, v) in row.into_iter().enumerate() {
                                if k > 0 {
                                    q.push(", ");
                                }
                                q.push_bind(v);
                            }
                            if let Use::With(_) = purpose {
                                q.push(&format!(", {}", c * per + i + 1));
                            }
                            q.push(")");
                        }
                        match purpose {
                            Use::Insert { tail, .. } => q.push(" ").push(tail),
                            Use::With(statement) => q.push(") ").push(statement),
                        };
                        q
                    })
                    .collect()
            }
        }
    }

    /// Column `j` of every row as one typed array (PostgreSQL).
    fn column_array(&self, j: usize, ty: Ty) -> PgArray {
        let width = self.columns.len();
        let cells = self.values.iter().skip(j).step_by(width);
        // Each type's array holds the values of its own variant; the `Ty`, `Arg` and
        // `PgArray` variants share their names.
        macro_rules! array {
            ($($variant:ident),*) => {
                match ty {
                    $(Ty::$variant => PgArray::$variant(
                        cells
                            .map(|a| match a {
                                Arg::$variant(v) => v.to_owned(),
                                _ => None,
                            })
                            .collect(),
                    ),)*
                }
            };
        }
        array!(Int, Text, Ts, Bool)
    }

    /// Runs the statements and returns the rows they return (all chunks').
    pub async fn fetch_all(self, tx: &mut Tx, purpose: Use<'_>) -> Result<Vec<Row>, sqlx::Error> {
        let mut out = Vec::new();
        for q in self.statements(tx.dialect(), purpose) {
            out.extend(q.fetch_all(&mut *tx).await?);
        }
        Ok(out)
    }

    /// Runs the statements; how many rows they changed.
    pub async fn execute(self, tx: &mut Tx, purpose: Use<'_>) -> Result<u64, sqlx::Error> {
        let mut n = 0;
        for q in self.statements(tx.dialect(), purpose) {
            n += q.execute(&mut *tx).await?;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_placeholders_become_positional_in_order_of_appearance() {
        let args = vec![Arg::from(1), Arg::from("two"), Arg::from(3)];
        let (sql, binds) = positional(
            "UPDATE t SET a = $2 WHERE b = '$1 stays' AND c = $1 OR d = $2 AND \"$3\" = $10",
            [args.clone(), (4..=10).map(Arg::from).collect()].concat(),
        );
        assert_eq!(
            sql,
            "UPDATE t SET a = ? WHERE b = '$1 stays' AND c = ? OR d = ? AND \"$3\" = ?"
        );
        assert_eq!(
            binds,
            vec![
                args[1].clone(),
                args[0].clone(),
                args[1].clone(),
                Arg::from(10)
            ]
        );
    }

    #[test]
    fn a_bulk_numbers_its_rows_and_binds_each_value_once() {
        let mut b = Bulk::new("v", &[("id", Ty::Int), ("name", Ty::Text)]);
        b.row([1.into(), "a".into()]);
        b.row([2.into(), Arg::Text(None)]);
        let q = b
            .clone()
            .statements(Dialect::Sqlite, Use::With("SELECT * FROM v"));
        assert_eq!(q.len(), 1);
        assert_eq!(
            q[0].sql,
            "WITH v(id, name, n) AS (VALUES ($1, $2, 1), ($3, $4, 2)) SELECT * FROM v"
        );
        let insert = Use::Insert {
            table: "t",
            tail: "RETURNING id",
        };
        assert_eq!(
            b.clone().statements(Dialect::Sqlite, insert)[0].sql,
            "INSERT INTO t (id, name) VALUES ($1, $2), ($3, $4) RETURNING id"
        );
        let pg = b
            .clone()
            .statements(Dialect::Postgres, Use::With("SELECT * FROM v"));
        assert_eq!(
            pg[0].sql,
            "WITH v(id, name, n) AS (SELECT * FROM UNNEST($1::int8[], $2::text[]) WITH ORDINALITY) SELECT * FROM v"
        );
        assert_eq!(
            b.statements(Dialect::Postgres, insert)[0].sql,
            "INSERT INTO t (id, name) SELECT id, name FROM UNNEST($1::int8[], $2::text[]) WITH ORDINALITY AS v(id, name, n) ORDER BY n RETURNING id"
        );
        assert_eq!(
            pg[0].args,
            vec![
                Arg::Array(PgArray::Int(vec![Some(1), Some(2)])),
                Arg::Array(PgArray::Text(vec![Some("a".into()), None])),
            ]
        );
    }
}
