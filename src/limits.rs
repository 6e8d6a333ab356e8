//! Every limit on what users and integrations may send, once. The validators in this
//! crate, the pages' `maxlength` / `min` / `max` attributes, the server's handlers and the
//! published API schema all read these constants; none of them types the number again.
//! Lengths count characters (Unicode scalar values), not bytes.

// Accounts and integration tokens.
/// Longest e-mail address (RFC 5321's path limit).
pub const EMAIL_LEN: usize = 254;
pub const MIN_PASSWORD_LEN: usize = 8;
pub const PASSWORD_LEN: usize = 128;
/// Longest name of a user, a calendar, a policy, an integration token or a department.
pub const NAME_LEN: usize = 100;
/// Longest description of a calendar or a policy.
pub const DESCRIPTION_LEN: usize = 2_000;

// SLA targets.
/// Most business days a target may count ("365bd"): a longer target is surely a typo.
pub const BUSINESS_DAYS: u16 = 365;

// Events (`POST /api/v1/events`).
/// Most events in one batch.
pub const EVENT_BATCH: usize = 1_000;
/// Longest event or conversation id.
pub const EVENT_ID_LEN: usize = 200;
/// How long before the server's time an event's `at` may lie by default (7 days): older
/// history is imported, not posted (`PROMPTLY_EVENT_WINDOW_BACK`).
pub const EVENT_WINDOW_BACK_S: i64 = 7 * 24 * 3600;
/// How far after the server's time an event's `at` may lie by default (5 minutes: clock
/// skew between a channel and Promptly) (`PROMPTLY_EVENT_WINDOW_AHEAD`).
pub const EVENT_WINDOW_AHEAD_S: i64 = 5 * 60;
/// A contact's name or handle.
pub const CONTACT_TEXT_LEN: usize = 200;
/// Longest message text.
pub const MESSAGE_TEXT_LEN: usize = 65_536;
/// How much of a conversation's last message the live stream carries (the queue's preview);
/// the whole text is on the conversation's page.
pub const PREVIEW_LEN: usize = 280;
/// Most events one conversation keeps; past it, its events are refused (422) and the
/// channel starts a new conversation.
pub const CONVERSATION_EVENTS: usize = 10_000;
/// Most survey answers on one conversation.
pub const CONVERSATION_SURVEYS: usize = 50;
/// Most labels on a conversation, and the longest label.
pub const LABELS: usize = 50;
pub const LABEL_LEN: usize = 100;
/// Longest team name (conversations, rules, departments).
pub const TEAM_LEN: usize = 100;
/// Most teams a user works in.
pub const USER_TEAMS: usize = 20;

// Automation rules.
pub const RULE_NAME_LEN: usize = 200;
pub const RULE_CONDITIONS: usize = 50;
pub const RULE_ACTIONS: usize = 20;
/// Most entries in an `in`, `not_in` or `contains_any` list.
pub const RULE_VALUES: usize = 100;
/// Longest text of one condition value (an e-mail address is at most 254).
pub const RULE_VALUE_LEN: usize = 254;
/// Longest message or webhook template.
pub const TEMPLATE_LEN: usize = 4_000;
/// Longest webhook URL.
pub const URL_LEN: usize = 2_048;
/// Longest webhook signing secret.
pub const SECRET_LEN: usize = 256;

// Contracts.
/// Longest contract name and counterparty name.
pub const CONTRACT_NAME_LEN: usize = 200;
/// Longest textual component (service description, responsibilities, terms).
pub const CONTRACT_TEXT_LEN: usize = 20_000;
/// Most metrics one contract may have.
pub const CONTRACT_METRICS: usize = 50;
/// Longest scope entry (team, label, e-mail domain).
pub const SCOPE_ENTRY_LEN: usize = 100;
/// Largest money amount a contract's remedies may name (fee, per-point rate, cap), in its
/// currency: amounts stay finite however far a period is from target.
pub const MONEY_MAX: f64 = 1e12;

/// A list's page size: `default` when the request names none, refused above `max`.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub default: i64,
    pub max: i64,
}

impl Page {
    /// The page size for a requested `limit`, or the field error's message.
    pub fn limit(self, requested: Option<i64>) -> Result<i64, String> {
        match requested {
            None => Ok(self.default),
            Some(n) if (1..=self.max).contains(&n) => Ok(n),
            Some(_) => Err(format!("must be from 1 to {}", self.max)),
        }
    }
}

/// `GET /conversations` (the queue).
pub const CONVERSATIONS_PAGE: Page = Page {
    default: 500,
    max: 5_000,
};
/// The queue page: the rows the server renders (a screenful, and a page of the links that
/// work without JavaScript), and the most one fetch on scrolling asks for.
pub const QUEUE_PAGE: Page = Page {
    default: 50,
    max: 500,
};
/// The furthest `offset` into the queue a request may start at.
pub const QUEUE_OFFSET_MAX: i64 = 1_000_000;
/// `GET /deliveries` (the outbox).
pub const DELIVERIES_PAGE: Page = Page {
    default: 100,
    max: 1_000,
};
/// `GET /audit` (the audit log, newest first).
pub const AUDIT_PAGE: Page = Page {
    default: 100,
    max: 1_000,
};
/// `GET /contracts/{id}/conversations` (a compliance figure's conversations).
pub const CONTRACT_CONVERSATIONS_PAGE: Page = Page {
    default: 200,
    max: 1_000,
};
