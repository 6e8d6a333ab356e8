//! Promptly's domain: the types and rules that the server and the browser share.
//!
//! Everything here is plain Rust with no I/O and no system clock, so it compiles for the
//! server and for `wasm32-unknown-unknown` alike; the browser computes countdown badges with
//! exactly the code the server uses to schedule warnings and breaches.
//!
//! A guided tour:
//! - [`account`]: users, roles and what each role may open.
//! - [`automation`]: SLA instants (warning, breach, overdue) and what a rule run adds to a timeline.
//! - [`badge`]: countdown badges carried forward second by second in the browser.
//! - [`duration`]: SLA durations ("1h30m") and the human text on badges ("1h 05m", "-5m").
//! - [`calendar`]: business-hours calendars in an IANA zone and counting open time.
//! - [`policy`]: SLA policies (targets, business-hours flag, warning threshold, pauses).
//! - [`timeline`]: a conversation's events: messages, statuses, hand-over, policy changes.
//! - [`clock`]: the SLA engine; a conversation's timeline in, each target's state out.
//! - [`whatif`]: replaying a period's conversations under a draft policy; target advice.
//! - [`conversation`]: the ingest API's events and the fold into what the queue shows.
//! - [`rules`]: automation rules (event, conditions, actions): validation, evaluation, dry run.
//! - [`check`]: the `promptly sla check` input and output shapes.
//! - [`instant`]: instants on the wire (RFC 3339) and the whole seconds the engine counts.
//! - [`job`]: background jobs' progress as the API and the pages show it.
//! - [`limits`]: every limit on input, once (validators, pages and the API schema read it).
//! - [`stream`]: events pushed to browsers over server-sent events.
//! - [`staffing`]: agents needed for a service-level target (Erlang C as pyworkforce, Erlang A).
//! - [`compliance`]: contracts, their metrics per period (UTC), bands, credits and bonuses.

/// Implements `Serialize` as the type's `Display` text; with `from_str`, also `Deserialize`
/// from a string through `FromStr`, its error as the message.
macro_rules! serde_as_text {
    ($t:ty) => {
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }
    };
    ($t:ty, from_str) => {
        serde_as_text!($t);

        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <String as serde::Deserialize>::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

pub mod account;
pub mod audit;
pub mod automation;
pub mod badge;
pub mod calendar;
pub mod channels;
pub mod check;
pub mod clock;
pub mod compliance;
pub mod conversation;
pub mod duration;
// The fuzz targets' checks (`fuzz/`, `tests/fuzz_corpora.rs`); not for the browser.
#[cfg(not(target_arch = "wasm32"))]
#[doc(hidden)]
pub mod fuzzing;
pub mod instant;
pub mod job;
pub mod limits;
pub mod local_time;
pub mod notify;
pub mod policy;
pub mod rules;
pub mod schema;
pub mod staffing;
pub mod stream;
pub mod timeline;
pub mod whatif;

pub use calendar::{BusinessCalendar, CalendarDefinition, CalendarError, TimeWindow, WeeklyHours};
pub use clock::{
    cycles, evaluate, next_change, ClockState, Cycle, CycleTarget, Judgement, Metric, MetricStatus,
    SlaState,
};
pub use duration::{badge_text, SlaDuration, Target};
pub use policy::{PauseOn, Policy, WarningThreshold};
pub use timeline::{Author, ConversationStatus, Event, EventKind, Timeline};
