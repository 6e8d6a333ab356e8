//! Background jobs as the API and the pages show them: what runs, how far it is.

use serde::{Deserialize, Serialize};

/// Progress of a background job (re-evaluating open conversations after a policy change).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = Job)]
pub struct JobView {
    pub id: u64,
    /// What it does, in words.
    pub kind: String,
    pub total: usize,
    pub done: usize,
    pub finished: bool,
    /// Why it stopped early, if it failed.
    pub error: Option<String>,
}
