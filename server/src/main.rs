//! The `promptly` command: `serve` (the default), `migrate`, `sla check`, `bench`, `user`,
//! `token`, `backup`, `restore`.

use clap::Parser;
use promptly_server::config::{
    BenchCommand, Cli, Command, DbArgs, ServeArgs, SlaCommand, TokenCommand, UserCommand,
};
use promptly_server::store::{self, DatabaseUrl, DynStore};
use promptly_server::{auth, backup, bench, demo, http, state::AppState};
use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

/// mimalloc for every Rust allocation of the binary (SQLite keeps its own `malloc`): glibc's
/// allocator took about a seventh of an ingest profile (`BENCHMARKS.md`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Bad input or configuration: one clear line on stderr and exit code 2.
struct Usage(String);

/// A bench's outcome: its result line printed, or its failure as a usage error.
fn print_line(result: Result<String, String>) -> Result<(), Usage> {
    result.map(|line| println!("{line}")).map_err(Usage)
}

use promptly_server::services::audit::{as_actor, Actor};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&cli.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Some(Command::Sla {
            command: SlaCommand::Check { file },
        }) => sla_check(&file),
        Some(Command::Bench {
            command: BenchCommand::Calendar { cases },
        }) => print_line(bench::calendar::run(&cases)),
        Some(Command::Bench {
            command: BenchCommand::Staffing { cases },
        }) => print_line(bench::staffing::run(&cases)),
        other => {
            let runtime = match tokio::runtime::Runtime::new() {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("promptly: cannot start the async runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            runtime.block_on(async move {
                match other {
                    None => serve(cli.db, ServeArgs::parse_default()).await,
                    Some(Command::Serve(args)) => serve(cli.db, args).await,
                    Some(Command::Migrate) => migrate(cli.db).await,
                    // Changes made with the command are the audit log's `cli`.
                    Some(Command::User { command }) => {
                        as_actor(Actor::named("cli"), user(cli.db, command)).await
                    }
                    Some(Command::Token { command }) => {
                        as_actor(Actor::named("cli"), token(cli.db, command)).await
                    }
                    Some(Command::Backup { file }) => backup(cli.db, &file).await,
                    Some(Command::Restore { file }) => restore(cli.db, &file).await,
                    Some(Command::Bench {
                        command:
                            BenchCommand::Ingest {
                                events,
                                batch,
                                concurrency,
                                postgres,
                                contracts,
                                repeats,
                            },
                    }) => print_line(
                        bench::http::ingest(
                            events,
                            batch,
                            concurrency,
                            postgres,
                            contracts,
                            repeats,
                        )
                        .await,
                    ),
                    Some(Command::Bench {
                        command:
                            BenchCommand::Automation {
                                clocks,
                                due,
                                window,
                            },
                    }) => print_line(bench::automation::run(clocks, due, window).await),
                    Some(Command::Bench {
                        command: BenchCommand::Channels { webhooks },
                    }) => print_line(bench::http::channels(webhooks).await),
                    Some(Command::Bench {
                        command: BenchCommand::History { events, appended },
                    }) => print_line(bench::history::run(events, appended).await),
                    Some(Command::Bench {
                        command:
                            BenchCommand::Compliance {
                                conversations,
                                repeats,
                                months,
                            },
                    }) => print_line(bench::compliance::run(conversations, repeats, months).await),
                    Some(Command::Bench {
                        command:
                            BenchCommand::WhatIf {
                                conversations,
                                stored,
                            },
                    }) => print_line(bench::whatif::run(conversations, stored).await),
                    Some(Command::Bench {
                        command: BenchCommand::Memory { conversations },
                    }) => print_line(bench::http::memory(conversations).await),
                    Some(Command::Bench {
                        command: BenchCommand::Live { clients, rounds },
                    }) => print_line(bench::http::live(clients, rounds).await),
                    Some(_) => unreachable!("handled above"),
                }
            })
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Usage(msg)) => {
            eprintln!("promptly: {msg}");
            ExitCode::from(2)
        }
    }
}

trait ParseDefault {
    fn parse_default() -> Self;
}

impl ParseDefault for ServeArgs {
    /// `promptly` with no subcommand serves with the flags' environment defaults.
    fn parse_default() -> Self {
        #[derive(clap::Parser)]
        struct Only {
            #[command(flatten)]
            serve: ServeArgs,
        }
        Only::parse_from(["promptly"]).serve
    }
}

fn sla_check(file: &str) -> Result<(), Usage> {
    let input = if file == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| Usage(format!("cannot read standard input: {e}")))?;
        s
    } else {
        std::fs::read_to_string(file).map_err(|e| Usage(format!("cannot read {file}: {e}")))?
    };
    let out = promptly::check::run_check(&input).map_err(|e| Usage(e.to_string()))?;
    println!(
        "{}",
        serde_json::to_string(&out).map_err(|e| Usage(format!("cannot write output: {e}")))?
    );
    Ok(())
}

async fn open_store(db: &DbArgs) -> Result<DynStore, Usage> {
    let url = DatabaseUrl::parse(&db.database_url).map_err(Usage)?;
    if let DatabaseUrl::Sqlite(_) = url {
        // Held until the process exits: `promptly restore` refuses to replace a database
        // in use, and nothing opens one while it is being restored.
        if let Ok(file) = backup::sqlite_file(&url) {
            let lock = backup::lock_shared(&file).map_err(Usage)?;
            std::mem::forget(lock);
        }
    }
    store::open(&url).await.map_err(Usage)
}

async fn backup(db: DbArgs, file: &std::path::Path) -> Result<(), Usage> {
    let url = DatabaseUrl::parse(&db.database_url).map_err(Usage)?;
    let source = backup::sqlite_file(&url).map_err(Usage)?;
    let store = open_store(&db).await?;
    let bytes = backup::backup(store.as_ref(), file).await.map_err(Usage)?;
    println!(
        "promptly: backed up {} to {} ({bytes} bytes)",
        source.display(),
        file.display()
    );
    Ok(())
}

async fn restore(db: DbArgs, file: &std::path::Path) -> Result<(), Usage> {
    let url = DatabaseUrl::parse(&db.database_url).map_err(Usage)?;
    let target = backup::sqlite_file(&url).map_err(Usage)?;
    let version = backup::restore(&target, file).await.map_err(Usage)?;
    println!(
        "promptly: restored {} into {} (migration version {version}); the next start applies \
         any newer migrations",
        file.display(),
        target.display()
    );
    Ok(())
}

async fn migrate(db: DbArgs) -> Result<(), Usage> {
    let store = open_store(&db).await?;
    println!("promptly: the {} database is up to date", store.backend());
    Ok(())
}

async fn user(db: DbArgs, command: UserCommand) -> Result<(), Usage> {
    match command {
        UserCommand::Create {
            email,
            role,
            name,
            password_stdin,
        } => {
            if !password_stdin {
                return Err(Usage(
                    "--password-stdin is required (the password is read from standard input)"
                        .into(),
                ));
            }
            let mut password = String::new();
            std::io::stdin()
                .read_to_string(&mut password)
                .map_err(|e| Usage(format!("cannot read the password: {e}")))?;
            let password = password.trim_end_matches(['\n', '\r']).to_string();
            let store = open_store(&db).await?;
            let fields = promptly_server::services::accounts::NewUserFields {
                email,
                name,
                role,
                password,
            };
            match promptly_server::services::accounts::create_user(
                store.as_ref(),
                &fields,
                chrono::Utc::now(),
            )
            .await
            {
                Ok(u) => {
                    println!("created user {} ({}) with id {}", u.email, u.role, u.id);
                    Ok(())
                }
                Err(promptly_server::services::accounts::UserAdminError::Fields(errs)) => {
                    Err(Usage(
                        errs.iter()
                            .map(|e| {
                                // `scopes[1]` is the second --scope.
                                let flag = match e.field.split('[').next().unwrap_or_default() {
                                    "scopes" => "scope",
                                    f => f,
                                };
                                format!("--{flag}: {}", e.message)
                            })
                            .collect::<Vec<_>>()
                            .join("; "),
                    ))
                }
                Err(e) => Err(Usage(e.to_string())),
            }
        }
    }
}

async fn token(db: DbArgs, command: TokenCommand) -> Result<(), Usage> {
    match command {
        TokenCommand::Create {
            name,
            source,
            scopes,
            role,
        } => {
            let store = open_store(&db).await?;
            let grant = promptly_server::services::tokens::Grant {
                source: source.as_deref(),
                role: role.as_deref(),
                scopes: (!scopes.is_empty()).then_some(scopes.as_slice()),
            };
            match promptly_server::services::tokens::create_token(
                store.as_ref(),
                &name,
                grant,
                chrono::Utc::now(),
            )
            .await
            {
                Ok(t) => {
                    println!("{}", t.token);
                    eprintln!(
                        "promptly: created token {:?} (source {:?}, scopes: {}) with id {}; it is not shown again",
                        t.info.name, t.info.source, t.info.scopes, t.info.id
                    );
                    Ok(())
                }
                Err(http::error::ApiError::Unprocessable { errors }) => Err(Usage(
                    errors
                        .iter()
                        .map(|e| {
                            // `scopes[1]` is the second --scope.
                            let flag = match e.field.split('[').next().unwrap_or_default() {
                                "scopes" => "scope",
                                f => f,
                            };
                            format!("--{flag}: {}", e.message)
                        })
                        .collect::<Vec<_>>()
                        .join("; "),
                )),
                Err(e) => Err(Usage(e.to_string())),
            }
        }
    }
}

/// Where the compiled site (pkg/) is: the flag, cargo-leptos's variable, ./target/site, or
/// next to the binary (target/release/promptly → target/site).
fn site_root(flag: Option<PathBuf>) -> PathBuf {
    if let Some(p) = flag.or_else(|| std::env::var_os("LEPTOS_SITE_ROOT").map(PathBuf::from)) {
        return p;
    }
    let cwd = PathBuf::from("target/site");
    if cwd.join("pkg").exists() {
        return cwd;
    }
    if let Some(beside) = std::env::current_exe()
        .ok()
        .and_then(|exe| {
            exe.parent()
                .and_then(|d| d.parent())
                .map(|t| t.join("site"))
        })
        .filter(|p| p.join("pkg").exists())
    {
        return beside;
    }
    cwd
}

/// The list of the site's hashed asset names (`hash.txt`, which `cargo leptos build` writes
/// next to the binary when `LEPTOS_HASH_FILES` is on; or one shipped in the site root),
/// when there is one: the pages then name the hashed files, served as immutable.
fn hash_file(site: &std::path::Path) -> Option<PathBuf> {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join("hash.txt")));
    beside
        .into_iter()
        .chain([site.join("hash.txt")])
        .find(|p| p.is_file())
}

async fn seed_demo(state: &AppState) -> Result<(), Usage> {
    let seeded = demo::seed(state)
        .await
        .map_err(|e| Usage(format!("cannot seed demo data: {e}")))?;
    for (email, role) in seeded.created_users {
        println!("demo: {email} / {} ({role})", demo::DEMO_PASSWORD);
    }
    let began = std::time::Instant::now();
    let history = demo::seed_history(state, demo::PER_OPEN_HOUR)
        .await
        .map_err(|e| Usage(format!("cannot seed the demo's past quarter: {e}")))?;
    if history.conversations > 0 {
        println!(
            "demo: {} conversations of the past {} days ({} surveys, {} abandoned) in {:.1} s",
            history.conversations,
            demo::HISTORY_DAYS,
            history.surveys,
            history.abandoned,
            began.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

async fn serve(db: DbArgs, args: ServeArgs) -> Result<(), Usage> {
    // Settings first: a bad CA file is reported before the database is touched.
    let egress = args.egress.egress().map_err(Usage)?;
    let store = open_store(&db).await?;
    let clock = promptly_server::clock::Clock::real();
    let created = auth::ensure_first_admin(
        store.as_ref(),
        args.admin_email.as_deref(),
        args.admin_password.as_deref(),
        clock.now(),
    )
    .await
    .map_err(Usage)?;
    if let Some((email, password)) = created {
        println!(
            "promptly: created the first admin {email} with one-time password: {password}\n\
             promptly: log in and keep it safe; it is not shown again"
        );
    }

    let public_url = args.public_url.clone();
    let secure = public_url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://"));
    let epoch = store
        .next_stream_epoch()
        .await
        .map_err(|e| Usage(format!("cannot prepare the database: {e}")))?;
    let mut state = AppState::new(store.clone(), secure)
        .with_clock(clock)
        .with_stream_epoch(epoch)
        .with_egress(egress);
    if args.demo {
        seed_demo(&state).await?;
    }
    state.trusted_proxies = std::sync::Arc::new(args.trusted_proxies.clone());
    state.metrics_from = std::sync::Arc::new(args.metrics_from.clone().unwrap_or_default());
    state.allowed_hosts = std::sync::Arc::new(promptly_server::http::guard::AllowedHosts::new(
        &args.allowed_hosts,
        public_url.as_deref(),
    ));
    if args.max_requests == 0 || args.max_streams == 0 {
        return Err(Usage(
            "--max-requests and --max-streams must be at least 1".into(),
        ));
    }
    state.in_flight = std::sync::Arc::new(tokio::sync::Semaphore::new(args.max_requests));
    state.streams = std::sync::Arc::new(tokio::sync::Semaphore::new(args.max_streams));
    let window = promptly::conversation::EventWindow::default();
    state.event_window = promptly::conversation::EventWindow {
        back: args.event_window_back.unwrap_or(window.back),
        ahead: args.event_window_ahead.unwrap_or(window.ahead),
    };
    let site = site_root(args.site_root.clone());
    if !site.join("pkg").exists() {
        tracing::warn!(site = %site.display(), "no compiled site found: pages render without styles or hydration (run `cargo leptos build --release`)");
    }
    let hashes = hash_file(&site);
    let leptos_options = leptos::prelude::LeptosOptions::builder()
        .output_name("promptly")
        .site_root(site.to_string_lossy().to_string())
        .site_pkg_dir("pkg")
        .site_addr(args.addr)
        .hash_files(hashes.is_some())
        .hash_file(std::sync::Arc::<str>::from(
            hashes
                .map(|h| h.to_string_lossy().to_string())
                .unwrap_or_else(|| "hash.txt".into()),
        ))
        .build();
    let link_base = public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", args.addr));
    let app = http::router(state.clone(), leptos_options, public_url);
    promptly_server::automation::start(&state, link_base);
    promptly_server::retention::start(&state, args.retention);
    promptly_server::reports::start(&state);
    {
        let state = state.clone();
        tokio::spawn(async move {
            match promptly_server::services::conversations::backfill_facts(&state).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(conversations = n, "compliance facts backfilled"),
                Err(e) => tracing::error!(error = %e, "compliance facts backfill failed"),
            }
        });
    }

    // A large backlog: a reconnect storm of hundreds of browsers must not wait for TCP retries.
    let socket = if args.addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()
    } else {
        tokio::net::TcpSocket::new_v6()
    }
    .map_err(|e| Usage(format!("cannot open a socket: {e}")))?;
    let _ = socket.set_reuseaddr(true);
    socket
        .bind(args.addr)
        .map_err(|e| Usage(format!("cannot listen on {}: {e}", args.addr)))?;
    let listener = socket
        .listen(4096)
        .map_err(|e| Usage(format!("cannot listen on {}: {e}", args.addr)))?;
    println!(
        "promptly: serving on http://{} ({} database)",
        args.addr,
        store.backend()
    );

    // After the bind succeeded, so a failed start adds no traffic.
    if args.demo {
        // Detached: it stops with the runtime when the server shuts down.
        demo::spawn_simulator(state.clone());
    }

    // Every ten minutes (housekeeping, not business time: a real interval); what expired
    // is judged on the server's clock.
    let housekeeping = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(600));
        loop {
            tick.tick().await;
            if let Err(e) = housekeeping
                .store
                .purge_expired(housekeeping.clock.now())
                .await
            {
                tracing::warn!(error = %e, "purging expired sessions failed");
            }
        }
    });

    // On SIGTERM or Ctrl-C: stop accepting, end the streams, let in-flight requests finish
    // (an accepted event is committed before its answer), and exit within the deadline.
    let stopping = state.clone();
    let serve = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown().await;
        tracing::info!("shutting down");
        stopping.shut_down();
    });
    let down = state.shutdown_signal();
    tokio::select! {
        served = serve => served.map_err(|e| Usage(format!("server error: {e}"))),
        () = async {
            down.await;
            tokio::time::sleep(SHUTDOWN_DEADLINE).await;
        } => {
            tracing::warn!("requests still open after {SHUTDOWN_DEADLINE:?}; exiting");
            Ok(())
        }
    }
}

/// How long in-flight requests may take to finish once a shutdown began.
const SHUTDOWN_DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
