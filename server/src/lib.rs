//! Promptly's server: the `promptly` binary's HTTP service, store and commands.
//!
//! A guided tour:
//! - [`config`]: flags and `PROMPTLY_*` variables.
//! - [`demo`]: `serve --demo`: demo users, calendar and policies, and simulated traffic.
//! - [`store`]: the [`store::Store`] trait with its SQLite and PostgreSQL backends.
//! - [`auth`]: passwords (argon2), server-side sessions, the session and cross-site-request
//!   middleware, failed-login throttling, the first admin.
//! - [`http`]: the axum router: form endpoints, `/api/v1` by resource, `/healthz`, the
//!   server-sent-events stream, and the Leptos pages of the `app` crate.
//! - [`service`]: the live queue's logic: the SLA catalog, ingest, conversation views.
//! - [`reports`]: contract compliance from the store's aggregate, trends, drill-downs.
//! - [`state`]: what every handler shares, and the live stream's recent events.
//! - [`clock`]: the server's time source, real or a test clock that tests move.
//! - [`backup`]: `promptly backup` and `restore` (SQLite), and the lock a restore checks.
//! - [`retention`]: the purge of old deliveries, rule runs and resolved conversations' events.
//! - [`automation`]: the worker that runs rules for events and SLA instants.
//! - [`outbox`]: deliveries of webhooks, signed, a few at a time per receiver.
//! - [`egress`]: where outbound calls may go (no private addresses unless allowed) and the
//!   one HTTP client that makes them.

#![recursion_limit = "256"]

pub mod auth;
pub mod automation;
pub mod backup;
pub mod bench;
pub mod catalog;
pub mod channel_sends;
pub mod clock;
pub mod config;
pub mod demo;
pub mod egress;
pub mod http;
pub mod metrics;
pub mod outbox;
pub mod reports;
pub mod retention;
pub mod schedule;
pub mod services;
pub mod signing;
pub mod state;
pub mod store;
