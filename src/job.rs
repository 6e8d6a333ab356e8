//! Background jobs as the API and the pages show them: what runs, how far it is.

use serde::{Deserialize, Serialize};

/// Progress of a background job (re-evaluating open conversations after a policy change, a
/// policy what-if), and its answer once it has one.
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
    /// Stopped on request (`DELETE /api/v1/jobs/{id}`) before it finished its work.
    #[serde(default)]
    pub cancelled: bool,
    /// What it computed, once finished, for jobs that answer a question (a what-if's
    /// answer, as the request that started it would have had it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub result: Option<serde_json::Value>,
}
