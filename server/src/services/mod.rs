//! One function per action: each validates its input (the API's body shape), stores it and
//! announces what changed. The JSON handlers (`http/`), the HTML forms, the demo seed and
//! the command line only translate their input into these calls and the result back; who
//! may call them is decided before, by the route's entry in `http::access::ROUTES`.

pub mod accounts;
pub mod audit;
pub mod calendars;
pub mod channels;
pub mod contracts;
pub mod conversations;
pub mod live;
pub mod notifications;
pub mod policies;
pub mod rules;
pub mod tokens;
pub mod whatif;
