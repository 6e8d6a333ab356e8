//! The audit log's shapes: who changed what, when, and the record before and after. The
//! server appends an entry after every change an admin (or a manager, for contracts) makes
//! to settings and accounts; nothing edits or removes one.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What kind of record a change was made to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = AuditEntity)]
pub enum Entity {
    User,
    Token,
    Calendar,
    Policy,
    DefaultPolicy,
    Rule,
    Contract,
    Departments,
    Channel,
    ChannelAccount,
}

impl Entity {
    pub const ALL: [Entity; 10] = [
        Entity::User,
        Entity::Token,
        Entity::Calendar,
        Entity::Policy,
        Entity::DefaultPolicy,
        Entity::Rule,
        Entity::Contract,
        Entity::Departments,
        Entity::Channel,
        Entity::ChannelAccount,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Entity::User => "user",
            Entity::Token => "token",
            Entity::Calendar => "calendar",
            Entity::Policy => "policy",
            Entity::DefaultPolicy => "default_policy",
            Entity::Rule => "rule",
            Entity::Contract => "contract",
            Entity::Departments => "departments",
            Entity::Channel => "channel",
            Entity::ChannelAccount => "channel_account",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Entity::User => "Users",
            Entity::Token => "Integration tokens",
            Entity::Calendar => "Calendars",
            Entity::Policy => "Policies",
            Entity::DefaultPolicy => "Default policy",
            Entity::Rule => "Rules",
            Entity::Contract => "Contracts",
            Entity::Departments => "Departments",
            Entity::Channel => "Channel webhooks",
            Entity::ChannelAccount => "Channel accounts",
        }
    }
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Entity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Entity::ALL
            .into_iter()
            .find(|e| e.as_str() == s.trim())
            .ok_or_else(|| {
                let known: Vec<&str> = Entity::ALL.iter().map(|e| e.as_str()).collect();
                format!("use one of {}", known.join(", "))
            })
    }
}

/// One change, as the audit log shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub id: i64,
    /// When the change was made (RFC 3339, UTC).
    #[serde(with = "crate::instant::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: chrono::DateTime<chrono::Utc>,
    /// Who made it: a user's e-mail, `token:NAME` for an integration token, `cli` for the
    /// `promptly` command, `system` for the server itself.
    pub actor: String,
    /// The user's id (negative: a token's), when a user or token made it.
    pub actor_id: Option<i64>,
    pub entity: Entity,
    /// The record's id (absent for settings that are one of a kind).
    pub entity_id: Option<String>,
    /// What was done: `create`, `update`, `delete`, `revoke`, `role`, `activate`,
    /// `deactivate`, `reset_password`, `change_password`, `enable`, `disable`, `reorder`, ...
    pub action: String,
    /// The record before the change, as the API shows it (secrets masked); absent for a
    /// creation.
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    /// The record after the change; absent for a deletion.
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
}
