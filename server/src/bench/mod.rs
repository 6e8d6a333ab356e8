//! The `promptly bench ...` commands: each measures one hot path over real I/O against its
//! baseline or peer in the same run (figures in `BENCHMARKS.md`). Benchmarks keep wall time.

pub mod automation;
pub mod calendar;
pub mod compliance;
pub mod history;
pub mod http;
pub mod staffing;
pub mod whatif;
