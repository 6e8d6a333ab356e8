pub mod badge;
pub mod editor;
pub mod form;
pub mod guard;
pub mod live;
pub mod notice;
pub mod shell;
pub mod table;
