//! The server's integration tests, one binary: one link and one copy of the helpers instead
//! of fourteen (each test binary holds the whole server). `support` starts throwaway
//! PostgreSQL clusters and stores; `server_support` starts a server over real HTTP. Run one
//! part with its module name, e.g. `cargo test -p server --test suite -- roles::`.

mod server_support;
mod support;

mod admin_pages;
mod audit;
mod automation;
mod backup_restore;
mod channel_accounts;
mod channel_hooks;
mod channel_pages;
mod channel_platforms;
mod checkpoints;
mod compliance_pages;
mod contracts_api;
mod fault_two_servers;
mod http;
mod kill;
mod live_level;
mod metrics;
mod notifications;
mod openapi;
mod passwords;
mod queue_api;
mod retention;
mod roles;
mod rules_api;
mod rules_pages;
mod shutdown;
mod sla_schedule;
mod staffing_api;
mod store_contract;
mod time_zones;
mod token_forms;
mod webhooks;
mod what_if;
