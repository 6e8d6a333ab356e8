//! Group commit (SQLite): concurrent ingest batches share one write transaction and one
//! commit (one fsync), each batch in its own savepoint, and each caller is answered only
//! after the commit that made its events durable. (PostgreSQL runs concurrent batches in
//! transactions of their own and groups their WAL flushes itself.)
//!
//! A batch joins the group that is forming, or starts one. A group's leader (a task of its
//! own, so that no caller going away can leave a transaction open) waits for the writer
//! before it (the previous group, or an automation pass) to end, begins, lets its members run one at a time, and commits once every member
//! has finished. Nothing waits on purpose: a lone batch begins at once; under load the
//! batches that arrive while a group commits form the next one. A member's failure rolls
//! back to its savepoint and is its own; a member that goes away or panics mid-batch spoils
//! the group (rolled back; the others run again in a new group).

use super::db::{Db, Tx};
use super::{StoreError, StoreResult};
use std::sync::{Arc, Mutex as SyncMutex};
use tokio::sync::{watch, Mutex, MutexGuard, Notify};

/// Most batches in one group.
pub const MAX_MEMBERS: usize = 64;

/// How often a batch runs again when the group it ran in could not commit.
const RETRIES: usize = 3;

/// The groups of one store.
#[derive(Default)]
pub struct GroupCommit {
    /// The group still taking members, if any.
    forming: Arc<SyncMutex<Option<Arc<Group>>>>,
    stats: Arc<Stats>,
}

/// What the groups of a store committed so far.
#[derive(Default)]
struct Stats {
    commits: std::sync::atomic::AtomicU64,
    batches: std::sync::atomic::AtomicU64,
}

#[derive(Default)]
struct Counts {
    joined: usize,
    finished: usize,
    /// Members whose batch succeeded.
    ok: usize,
    /// No more members (the leader is committing).
    closed: bool,
    /// A member stopped half-way: the group must not commit.
    spoiled: bool,
}

struct Group {
    tx: Mutex<Option<Tx>>,
    counts: SyncMutex<Counts>,
    /// `Some` once the transaction began (`Ok`) or could not (`Err`, the reason).
    ready: watch::Sender<Option<Result<(), String>>>,
    /// `Some` once the group committed (`Ok`) or did not (`Err`: whether running again may
    /// help, and the reason).
    done: watch::Sender<Option<Result<(), (bool, String)>>>,
    finished: Notify,
}

impl Group {
    fn new() -> Arc<Group> {
        Arc::new(Group {
            tx: Mutex::new(None),
            counts: SyncMutex::new(Counts {
                joined: 1,
                ..Counts::default()
            }),
            ready: watch::channel(None).0,
            done: watch::channel(None).0,
            finished: Notify::new(),
        })
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A batch that runs in a group's transaction (its inputs borrowed for the call).
pub trait Batch: Send {
    type Output: Send;
    fn run<'t>(
        &'t mut self,
        tx: &'t mut Tx,
    ) -> futures::future::BoxFuture<'t, StoreResult<Self::Output>>;
}

/// One batch's place in a group.
pub struct Member {
    group: Arc<Group>,
    finished: bool,
    in_batch: bool,
}

/// What became of a batch run in a group.
enum Outcome<T> {
    /// Its own result, made durable by the group's commit when `Ok`.
    Done(StoreResult<T>),
    /// The group could not commit for a reason that was not this batch's: run it again.
    Again(String),
}

impl GroupCommit {
    /// Counts a batch committed in a transaction of its own.
    pub fn count_alone(&self) {
        use std::sync::atomic::Ordering::Relaxed;
        self.stats.commits.fetch_add(1, Relaxed);
        self.stats.batches.fetch_add(1, Relaxed);
    }

    /// (commits, batches they made durable) since the store opened: batches per commit is
    /// what grouping saves.
    pub fn stats(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (
            self.stats.commits.load(Relaxed),
            self.stats.batches.load(Relaxed),
        )
    }

    /// Runs a batch in a group: `batch` gets the shared transaction inside a savepoint of its
    /// own; the result is returned once the group committed. A batch whose group could not
    /// commit (another member went away, a deadlock between servers) runs again, at most
    /// [`RETRIES`] times.
    pub async fn run<B: Batch>(&self, db: &Db, batch: &mut B) -> StoreResult<B::Output> {
        let mut last = String::new();
        for _ in 0..=RETRIES {
            match self.once(db, batch).await {
                Outcome::Done(r) => return r,
                Outcome::Again(why) => last = why,
            }
        }
        Err(StoreError::Database(sqlx::Error::Protocol(format!(
            "the batch's transaction could not commit: {last}"
        ))))
    }

    async fn once<B: Batch>(&self, db: &Db, batch: &mut B) -> Outcome<B::Output> {
        let mut member = self.join(db);
        let mut ready = member.group.ready.subscribe();
        match ready.wait_for(Option::is_some).await {
            Ok(r) if matches!(*r, Some(Ok(()))) => {}
            Ok(r) => {
                let why = r.clone().and_then(Result::err).unwrap_or_default();
                return Outcome::Done(Err(StoreError::Database(sqlx::Error::Protocol(why))));
            }
            Err(_) => return Outcome::Again("the group's leader stopped".into()),
        }
        let result = {
            let mut slot: MutexGuard<'_, Option<Tx>> = member.group.tx.lock().await;
            let Some(tx) = slot.as_mut() else {
                return Outcome::Again("the group's transaction is gone".into());
            };
            member.in_batch = true;
            if let Err(e) = db.query("SAVEPOINT batch").execute(&mut *tx).await {
                return Outcome::Done(Err(e.into()));
            }
            let result = batch.run(tx).await;
            let end = if result.is_ok() {
                "RELEASE SAVEPOINT batch"
            } else {
                "ROLLBACK TO SAVEPOINT batch"
            };
            if let Err(e) = db.query(end).execute(&mut *tx).await {
                return Outcome::Done(Err(e.into()));
            }
            if result.is_err() {
                if let Err(e) = db.query("RELEASE SAVEPOINT batch").execute(&mut *tx).await {
                    return Outcome::Done(Err(e.into()));
                }
            }
            member.in_batch = false;
            if result.is_ok() {
                member.group.counts().ok += 1;
            }
            result
        };
        member.finish();
        let mut done = member.group.done.subscribe();
        let committed = match done.wait_for(Option::is_some).await {
            Ok(d) => d.clone().unwrap_or(Err((true, String::new()))),
            Err(_) => Err((true, "the group's leader stopped".into())),
        };
        match committed {
            Ok(()) => Outcome::Done(result),
            // Nothing of a failed batch was kept, whatever became of the group.
            Err(_) if result.is_err() => Outcome::Done(result),
            Err((true, why)) => Outcome::Again(why),
            Err((false, why)) => {
                Outcome::Done(Err(StoreError::Database(sqlx::Error::Protocol(why))))
            }
        }
    }

    /// Joins the forming group, or starts one (and its leader).
    fn join(&self, db: &Db) -> Member {
        let mut forming = self.forming.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(g) = forming.as_ref() {
            let mut c = g.counts();
            if !c.closed && c.joined < MAX_MEMBERS {
                c.joined += 1;
                drop(c);
                return Member {
                    group: g.clone(),
                    finished: false,
                    in_batch: false,
                };
            }
        }
        let group = Group::new();
        *forming = Some(group.clone());
        tokio::spawn(lead(
            db.clone(),
            self.forming.clone(),
            group.clone(),
            self.stats.clone(),
        ));
        Member {
            group,
            finished: false,
            in_batch: false,
        }
    }
}

impl Member {
    fn finish(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        let mut c = self.group.counts();
        c.finished += 1;
        c.spoiled |= self.in_batch;
        drop(c);
        self.group.finished.notify_one();
    }
}

impl Drop for Member {
    /// A caller that went away (or panicked) still counts as finished; half-way through its
    /// batch, it spoils the group.
    fn drop(&mut self) {
        self.finish();
    }
}

/// A group's leader: begins once the writer before it ended, waits for every member, and
/// commits (or rolls back a spoiled group).
async fn lead(
    db: Db,
    forming: Arc<SyncMutex<Option<Arc<Group>>>>,
    group: Arc<Group>,
    stats: Arc<Stats>,
) {
    // `begin_write` waits in the process's line of SQLite writers: while the previous group
    // commits, the next one forms.
    match db.begin_write().await {
        Ok(tx) => {
            *group.tx.lock().await = Some(tx);
            group.ready.send_replace(Some(Ok(())));
        }
        Err(e) => {
            group
                .ready
                .send_replace(Some(Err(format!("cannot begin: {e}"))));
        }
    }
    loop {
        {
            let mut forming = forming.lock().unwrap_or_else(|e| e.into_inner());
            let mut c = group.counts();
            if c.finished == c.joined {
                c.closed = true;
                if forming.as_ref().is_some_and(|g| Arc::ptr_eq(g, &group)) {
                    *forming = None;
                }
                break;
            }
        }
        group.finished.notified().await;
    }
    let tx = group.tx.lock().await.take();
    let spoiled = group.counts().spoiled;
    let result = match tx {
        None => Err((false, "the transaction did not begin".to_string())),
        Some(tx) if spoiled => {
            drop(tx);
            Err((
                true,
                "a batch in the same transaction stopped half-way".into(),
            ))
        }
        Some(tx) => tx
            .commit()
            .await
            .map_err(|e| (retryable(&e), e.to_string())),
    };
    if result.is_ok() {
        use std::sync::atomic::Ordering::Relaxed;
        stats.commits.fetch_add(1, Relaxed);
        stats.batches.fetch_add(group.counts().ok as u64, Relaxed);
    }
    group.done.send_replace(Some(result));
}

/// Whether a failed commit may succeed when run again (PostgreSQL's serialization failures
/// and deadlocks).
fn retryable(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if matches!(d.code().as_deref(), Some("40001" | "40P01")))
}
