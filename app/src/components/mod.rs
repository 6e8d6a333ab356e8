//! Pieces shared by pages: the app shell with navigation, the live indicator, the role guard.

pub mod badge;
pub mod form;
pub mod guard;
pub mod live;
pub mod shell;
