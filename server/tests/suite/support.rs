//! Test support: a throwaway PostgreSQL cluster and fresh stores, so `cargo test` needs
//! nothing running beforehand.
#![allow(dead_code)]

use promptly_server::store::{self, DatabaseUrl, DynStore};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A PostgreSQL 15 cluster in a temp dir on a free loopback port, stopped on drop.
pub struct PgCluster {
    dir: tempfile::TempDir,
    pub port: u16,
    as_postgres: bool,
}

fn bin(name: &str) -> PathBuf {
    for dir in ["/usr/local/bin", "/usr/lib/postgresql/15/bin", "/usr/bin"] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    PathBuf::from(name)
}

fn run(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl PgCluster {
    pub fn start() -> PgCluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // initdb refuses to run as root: run the cluster as the postgres user then.
        let as_postgres = is_root();
        if as_postgres {
            run(Command::new("chown")
                .arg("postgres:postgres")
                .arg(dir.path()));
        }
        let cluster = PgCluster {
            dir,
            port,
            as_postgres,
        };
        let data = cluster.dir.path().join("data");
        cluster.pg(&bin("initdb"), |c| {
            c.arg("-D").arg(&data).args([
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-locale",
            ]);
        });
        let opts = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            cluster.dir.path().display()
        );
        cluster.pg(&bin("pg_ctl"), |c| {
            c.arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(cluster.dir.path().join("server.log"))
                .args(["-o", &opts, "-w", "start"]);
        });
        cluster
    }

    fn pg(&self, program: &Path, args: impl FnOnce(&mut Command)) {
        let mut c = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        };
        args(&mut c);
        run(&mut c);
    }

    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// A new empty database in this cluster.
    pub async fn fresh_database(&self) -> String {
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "t{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&self.url("postgres"))
            .await
            .expect("connect to the test cluster");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create database");
        self.url(&name)
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let mut c = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(bin("pg_ctl"));
            c
        } else {
            Command::new(bin("pg_ctl"))
        };
        let _ = c
            .arg("-D")
            .arg(&data)
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }
}

/// A migrated SQLite store in a temp dir (kept alive by the returned guard).
/// One cluster for the tests of a binary that run at the same time (each takes its own
/// database): started by the first, stopped when the last lets go.
pub fn shared_cluster() -> std::sync::Arc<PgCluster> {
    use std::sync::{Arc, Mutex, Weak};
    static SHARED: Mutex<Weak<PgCluster>> = Mutex::new(Weak::new());
    let mut shared = SHARED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(c) = shared.upgrade() {
        return c;
    }
    let c = Arc::new(PgCluster::start());
    *shared = Arc::downgrade(&c);
    c
}

pub async fn sqlite_store() -> (DynStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("promptly.db").display());
    let store = store::open(&DatabaseUrl::parse(&url).unwrap())
        .await
        .expect("open sqlite");
    (store, dir)
}

pub async fn postgres_store(cluster: &PgCluster) -> DynStore {
    let url = cluster.fresh_database().await;
    store::open(&DatabaseUrl::parse(&url).unwrap())
        .await
        .expect("open postgres")
}

/// The longest any test's HTTP request may take (a hung server fails the test instead of
/// stalling the suite).
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// An HTTP client for tests: requests time out after [`REQUEST_TIMEOUT`].
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .expect("an HTTP client")
}

/// A free loopback port for a server the test starts.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A free loopback port outside the system's range for outgoing connections, for a server
/// that is restarted on the same port: while it is down, a client retrying a port of that
/// range can be given the very port as its own (a TCP self-connection), and the restarted
/// server then cannot listen on it.
pub fn restart_port() -> u16 {
    let (low, high) = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| {
            let mut it = r.split_whitespace().map(|n| n.parse::<u16>().ok());
            Some((it.next()??, it.next()??))
        })
        .unwrap_or((32768, 60999));
    // Below the range if there is room (it starts above 10,000 on Linux), else above it.
    let candidates: Vec<u16> = if low > 12_000 {
        (10_000..low).collect()
    } else {
        (high.saturating_add(1)..=65_000).collect()
    };
    let start = (std::process::id() as usize * 7919) % candidates.len();
    for i in 0..candidates.len() {
        let port = candidates[(start + i * 104_729) % candidates.len()];
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    free_port()
}

/// Polls a real server's `/healthz` on `port` until it answers, for at most 20 s.
pub async fn wait_up(client: &reqwest::Client, port: u16) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if client
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "server on {port} did not start"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A child process (a server under test) killed when the test ends, passed or failed, so
/// that a failing test leaves nothing running.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `promptly token create --name NAME [--role ROLE]` on the database `db`: the token (without
/// a role, one that may only post events).
pub fn cli_token(db: &str, name: &str, role: Option<&str>) -> String {
    let mut args = vec!["token", "create", "--name", name];
    args.extend(role.map(|r| ["--role", r]).into_iter().flatten());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_promptly"))
        .args(args)
        .env("PROMPTLY_DATABASE_URL", db)
        .env("PROMPTLY_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A `promptly serve` process of this build on database `db` and loopback `port`, killed
/// (SIGKILL) when dropped.
pub struct Promptly {
    pub child: std::process::Child,
    pub port: u16,
}

impl Promptly {
    /// Starts it (with a first admin for an empty database); [`wait_up`] says when it
    /// serves.
    pub fn start(db: &str, port: u16) -> Promptly {
        let child = Command::new(env!("CARGO_BIN_EXE_promptly"))
            .arg("serve")
            .env("PROMPTLY_DATABASE_URL", db)
            .env("PROMPTLY_ADDR", format!("127.0.0.1:{port}"))
            // Not the binary's "no compiled site" warning: tests need no pages' assets.
            .env("PROMPTLY_LOG", "warn,promptly=error")
            .env("PROMPTLY_ADMIN_EMAIL", "admin@real.test")
            .env("PROMPTLY_ADMIN_PASSWORD", "real-password-1")
            // The tests' webhook receivers listen on this machine.
            .env("PROMPTLY_EGRESS_ALLOW", "127.0.0.1/32")
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("start promptly serve");
        Promptly { child, port }
    }

    /// SIGKILL, and waits for the process to be gone.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, and waits (at most 20 s) for the process to exit.
    pub async fn terminate(&mut self) {
        let term = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(term.success());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while self.child.try_wait().unwrap().is_none() {
            assert!(
                std::time::Instant::now() < deadline,
                "the server did not exit after SIGTERM"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Promptly {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// `promptly ARGS` on database `db`: (exit code, stdout, stderr).
pub async fn cli(db: &str, args: &[&str]) -> (i32, String, String) {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_promptly"));
    cmd.args(args)
        .env("PROMPTLY_DATABASE_URL", db)
        .env("PROMPTLY_LOG", "warn");
    let out = cmd.output().await.expect("run promptly");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every conversation's stored summary is what its stored events fold into, and each has
/// its compliance facts: nothing was written half.
pub async fn assert_consistent(store: &DynStore) {
    let rows = store
        .list_conversations(&promptly_server::store::ConversationFilter {
            limit: 1_000_000,
            ..Default::default()
        })
        .await
        .unwrap();
    for row in &rows {
        let events = store.conversation_events(row.id).await.unwrap();
        let (summary, _) = promptly::conversation::fold(&events)
            .unwrap_or_else(|| panic!("{} has no events", row.external_id));
        assert_eq!(summary, row.summary, "{}'s summary", row.external_id);
    }
    assert_eq!(
        store.conversations_without_facts(10).await.unwrap(),
        Vec::<i64>::new(),
        "every conversation has its compliance facts"
    );
}

/// SQLite's own check of a database file (`sqlite://...`): "ok".
pub async fn sqlite_integrity(db: &str) -> String {
    use sqlx::Connection;
    let mut conn = sqlx::SqliteConnection::connect(db).await.unwrap();
    let problems: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    problems.join("; ")
}
