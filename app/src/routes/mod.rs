//! One module per page.

pub mod account;
pub mod audit;
pub mod calendars;
pub mod channels;
pub mod compliance;
pub mod conversation;
pub mod errors;
pub mod live;
pub mod login;
pub mod logout;
pub mod notifications;
pub mod policies;
pub mod queue;
pub mod rules;
pub mod users;
