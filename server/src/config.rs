//! Command-line flags and `PROMPTLY_*` environment variables.

use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "promptly",
    version,
    about = "SLA management for support teams on messaging channels"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub db: DbArgs,
    /// Log level or filter (error, warn, info, debug, trace, or a tracing filter).
    #[arg(long, env = "PROMPTLY_LOG", default_value = "info", global = true)]
    pub log: String,
}

#[derive(Debug, Args, Clone)]
pub struct DbArgs {
    /// Where data lives: sqlite://FILE (created if missing) or postgres://USER@HOST/DB.
    #[arg(
        long = "database-url",
        env = "PROMPTLY_DATABASE_URL",
        default_value = "sqlite://promptly.db",
        global = true
    )]
    pub database_url: String,
}

// Parsed once per process: the size of the `serve` variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the web server (the default).
    Serve(ServeArgs),
    /// Apply database migrations and exit.
    Migrate,
    /// SLA tools.
    Sla {
        #[command(subcommand)]
        command: SlaCommand,
    },
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage integration tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Copy the SQLite database into a new FILE, consistent while a server runs.
    Backup { file: PathBuf },
    /// Put a backup FILE in place of the SQLite database (no server may be using it).
    Restore { file: PathBuf },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token for a channel or helpdesk; it is printed once.
    Create {
        #[arg(long)]
        name: String,
        /// The integration it sends for: its event and conversation ids are its own, shared
        /// by the tokens of the same source (give a replacement token its predecessor's).
        /// Default: the name; `default` continues what was sent before namespaces.
        #[arg(long)]
        source: Option<String>,
        /// What the token may do; repeat for more: events:write, conversations:read,
        /// conversations:write, catalog:read, reports:read, contracts:write, admin (grants
        /// all). Without --scope or --role: events:write only.
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<String>,
        /// Shorthand for a role's scopes (agent, manager or admin); not with --scope.
        #[arg(long)]
        role: Option<String>,
    },
}

#[derive(Debug, Args, Clone)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "PROMPTLY_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,
    /// The public URL browsers use (decides the Secure cookie flag and the allowed Origin).
    #[arg(long, env = "PROMPTLY_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Folder with the compiled site (pkg/ with the wasm, JS and CSS).
    #[arg(long, env = "PROMPTLY_SITE_ROOT")]
    pub site_root: Option<PathBuf>,
    /// Reverse proxies (IP addresses, comma-separated) whose `X-Forwarded-For` names the
    /// client: login throttling by address then counts the client's address, not theirs.
    #[arg(long, env = "PROMPTLY_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Addresses that may read `/metrics` without a token (a Prometheus server): comma-
    /// separated IP addresses and CIDR ranges, e.g. `127.0.0.1/32,10.0.0.0/8`. Otherwise
    /// admins and tokens with the `metrics:read` scope read it.
    #[arg(
        long = "metrics-from",
        env = "PROMPTLY_METRICS_FROM",
        value_name = "RANGES"
    )]
    pub metrics_from: Option<crate::egress::AllowList>,
    /// How long before the server's time a posted event's `at` may lie (e.g. "7d", "12h";
    /// default 7 days). Older history is imported, not posted.
    #[arg(long, env = "PROMPTLY_EVENT_WINDOW_BACK")]
    pub event_window_back: Option<promptly::duration::SlaDuration>,
    /// How far after the server's time a posted event's `at` may lie (clock skew; default
    /// 5 minutes).
    #[arg(long, env = "PROMPTLY_EVENT_WINDOW_AHEAD")]
    pub event_window_ahead: Option<promptly::duration::SlaDuration>,
    /// Host names this server answers to, comma-separated (besides the public URL's host,
    /// `localhost` and IP addresses); a request naming another host gets 400.
    #[arg(long, env = "PROMPTLY_ALLOWED_HOSTS", value_delimiter = ',')]
    pub allowed_hosts: Vec<String>,
    /// Requests served at once; more wait up to 5 s for a turn, then get 503.
    #[arg(long, env = "PROMPTLY_MAX_REQUESTS", default_value_t = crate::state::MAX_REQUESTS)]
    pub max_requests: usize,
    /// Live streams (`/api/v1/stream`) open at once; more get 503.
    #[arg(long, env = "PROMPTLY_MAX_STREAMS", default_value_t = crate::state::MAX_STREAMS)]
    pub max_streams: usize,
    /// Seed demo data (a team, a calendar, policies and a traffic simulator).
    #[arg(long, env = "PROMPTLY_DEMO", value_parser = clap::builder::BoolishValueParser::new())]
    pub demo: bool,
    /// E-mail of the first admin, created on an empty database.
    #[arg(long, env = "PROMPTLY_ADMIN_EMAIL")]
    pub admin_email: Option<String>,
    /// Password of the first admin (else a one-time password is printed).
    #[arg(long, env = "PROMPTLY_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,
    #[command(flatten)]
    pub retention: RetentionArgs,
    #[command(flatten)]
    pub egress: EgressArgs,
}

/// Where webhooks may go, and whom they trust (`crate::egress`).
#[derive(Debug, Args, Clone, Default)]
pub struct EgressArgs {
    /// Hosts and networks that webhooks may reach although they are not public (loopback,
    /// private, link-local, ...): comma-separated host names, `*.domain`, IP addresses and
    /// CIDR ranges, e.g. `127.0.0.1/32,hooks.internal,10.1.0.0/16`.
    #[arg(
        long = "egress-allow",
        env = "PROMPTLY_EGRESS_ALLOW",
        value_name = "HOSTS_AND_RANGES"
    )]
    pub allow: Option<crate::egress::AllowList>,
    /// A PEM file of CA certificates that webhook receivers' HTTPS certificates may also be
    /// issued by (an on-premise CA), besides the built-in Mozilla roots.
    #[arg(
        long = "egress-ca-file",
        env = "PROMPTLY_EGRESS_CA_FILE",
        value_name = "PEM_FILE"
    )]
    pub ca_file: Option<PathBuf>,
}

impl EgressArgs {
    /// The guard and client these settings make; a CA file that cannot be read is an error.
    pub fn egress(&self) -> Result<crate::egress::Egress, String> {
        crate::egress::Egress::new(
            self.allow.clone().unwrap_or_default(),
            self.ca_file.as_deref(),
        )
    }
}

#[derive(Debug, Subcommand)]
pub enum SlaCommand {
    /// Evaluate a policy on a conversation's timeline (FILE or - for stdin).
    Check { file: String },
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Business-hours deadlines over the cases of shared/bench/calendar_peers.py.
    Calendar { cases: PathBuf },
    /// Erlang C staffing over the grid of shared/bench/erlang_peer.py (same sha256).
    Staffing { cases: PathBuf },
    /// Events/s through POST /api/v1/events vs raw sqlx inserts (loopback HTTP; SQLite, or
    /// PostgreSQL given an admin URL: two scratch databases are created and dropped).
    Ingest {
        #[arg(long, default_value_t = 20_000)]
        events: usize,
        #[arg(long, default_value_t = 100)]
        batch: usize,
        /// How many clients post batches at once.
        #[arg(long, default_value_t = 1)]
        concurrency: usize,
        /// postgres://USER@HOST:PORT/DB of a server where the bench may create databases.
        #[arg(long)]
        postgres: Option<String>,
        /// Contracts covering every conversation (each write of facts keeps their
        /// compliance rollups up).
        #[arg(long, default_value_t = 0)]
        contracts: usize,
        /// Pairs of runs (the API, then the baseline, on fresh databases); the figures
        /// are their medians.
        #[arg(long, default_value_t = 3)]
        repeats: usize,
    },
    /// Delay from SLA instants to their recorded firing with a large schedule (SQLite).
    Automation {
        /// Running clocks scheduled in all.
        #[arg(long, default_value_t = 100_000)]
        clocks: usize,
        /// Of those, how many breach during the window.
        #[arg(long, default_value_t = 2_000)]
        due: usize,
        /// Seconds over which they breach.
        #[arg(long, default_value_t = 20)]
        window: i64,
    },
    /// Signed WhatsApp webhooks of 10 messages each vs the same events through
    /// POST /api/v1/events (loopback HTTP, SQLite, one client each).
    Channels {
        #[arg(long, default_value_t = 500)]
        webhooks: usize,
    },
    /// One more event on a long conversation: folded onto its checkpoint (in order) against
    /// reading and folding its whole history (a late event; every event before
    /// checkpoints), SQLite.
    History {
        /// The conversations' length before the measured events.
        #[arg(long, default_value_t = 5_000)]
        events: usize,
        /// Measured events per conversation.
        #[arg(long, default_value_t = 200)]
        appended: usize,
    },
    /// One month's contract compliance over N conversations a month on SQLite, from the
    /// rollups (first load, repeats, after a change) against the plain aggregate over the
    /// same rows; and the 12-period trend both ways.
    Compliance {
        #[arg(long, default_value_t = 1_000_000)]
        conversations: usize,
        #[arg(long, default_value_t = 5)]
        repeats: usize,
        /// Months seeded up to November 2026 (12 for a year behind the trend).
        #[arg(long, default_value_t = 1)]
        months: usize,
    },
    /// A quarter of N conversations replayed under a draft policy and the current one
    /// (policy what-if) in memory, against evaluating each once; and the API's path end to
    /// end on SQLite over a stored subset.
    #[command(name = "what-if")]
    WhatIf {
        #[arg(long, default_value_t = 1_000_000)]
        conversations: usize,
        /// Conversations stored in SQLite for the end-to-end figure (0: skip it).
        #[arg(long, default_value_t = 20_000)]
        stored: usize,
    },
    /// Resident memory of a `promptly serve` process holding N open conversations.
    Memory {
        #[arg(long, default_value_t = 100_000)]
        conversations: usize,
    },
    /// Latency from an ingest POST to the change reaching N stream clients.
    Live {
        #[arg(long, default_value_t = 500)]
        clients: usize,
        #[arg(long, default_value_t = 20)]
        rounds: usize,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is read from standard input.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "agent")]
        role: String,
        #[arg(long, default_value = "")]
        name: String,
        /// Read the password from standard input (required).
        #[arg(long)]
        password_stdin: bool,
    },
}

/// How long what piles up is kept; the server purges the rest in small batches
/// (`retention`). 0 keeps it for ever.
#[derive(Debug, Args, Clone, Copy, PartialEq, Eq)]
pub struct RetentionArgs {
    /// Days to keep delivered webhooks and channel messages (the deliveries list); failed
    /// ones are kept (0: keep all).
    #[arg(
        long = "retain-deliveries-days",
        env = "PROMPTLY_RETAIN_DELIVERIES_DAYS",
        default_value_t = 90
    )]
    pub deliveries_days: u32,
    /// Days to keep the record of each rule's firings (the rules page counts today's).
    #[arg(
        long = "retain-rule-runs-days",
        env = "PROMPTLY_RETAIN_RULE_RUNS_DAYS",
        default_value_t = 90
    )]
    pub rule_runs_days: u32,
    /// Days after a conversation was resolved (and last changed) before its raw events
    /// (message texts and every change) are replaced by its summary and SLA timeline
    /// (0, the default: keep them).
    #[arg(
        long = "retain-events-days",
        env = "PROMPTLY_RETAIN_EVENTS_DAYS",
        default_value_t = 0
    )]
    pub events_days: u32,
}

impl RetentionArgs {
    /// Nothing is ever purged.
    pub const KEEP_ALL: RetentionArgs = RetentionArgs {
        deliveries_days: 0,
        rule_runs_days: 0,
        events_days: 0,
    };
}
