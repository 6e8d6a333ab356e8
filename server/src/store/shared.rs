//! What both backends share: JSON columns, the words stored for enums, the first summary of
//! a new conversation, and the queue's filters and order.

use super::ConversationFilter;
use promptly::conversation::{fold, ConversationSummary, IncomingEvent};
use promptly::ConversationStatus;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::{Database, Encode, QueryBuilder, Type};

/// The serde_json text stored in a JSON column.
pub(super) fn to_json<T: Serialize>(value: &T) -> Result<String, sqlx::Error> {
    serde_json::to_string(value).map_err(|e| sqlx::Error::Encode(Box::new(e)))
}

/// A JSON column read back; a value that does not parse is a decode error.
pub(super) fn from_json<T: DeserializeOwned>(text: &str) -> Result<T, sqlx::Error> {
    serde_json::from_str(text).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

/// The `conversations.status` word: the status's serde name.
pub(super) fn status_word(status: ConversationStatus) -> &'static str {
    match status {
        ConversationStatus::Open => "open",
        ConversationStatus::Pending => "pending",
        ConversationStatus::Snoozed => "snoozed",
        ConversationStatus::Resolved => "resolved",
    }
}

/// The summary a conversation is created with, before the batch's derive overwrites it:
/// what its first event says (the channel of a `conversation.created`, else web chat), open.
pub(super) fn first_summary(first: &IncomingEvent) -> ConversationSummary {
    let (mut summary, _) = fold(std::slice::from_ref(first)).expect("one event folds");
    summary.status = ConversationStatus::Open;
    summary
}

/// Adds `id` to the conversations a batch touched, keeping first-seen order.
pub(super) fn touch(touched: &mut Vec<i64>, id: i64) {
    if !touched.contains(&id) {
        touched.push(id);
    }
}

/// The key 'default_policy' of `settings` holds the default policy's id as text.
pub(super) const DEFAULT_POLICY_KEY: &str = "default_policy";

/// The default policy's id, if it names a policy that is not deleted (bind the key).
pub(super) const DEFAULT_POLICY: &str = "SELECT p.id FROM settings s \
     JOIN policies p ON CAST(p.id AS TEXT) = s.value WHERE s.key = $1 AND NOT p.deleted";

/// Whether a calendar (bind its id) must stay: the current version of a policy that is not
/// deleted uses it, or a version that a conversation is on does. Other (unused, old)
/// versions only lose their reference when it goes.
pub(super) const CALENDAR_IN_USE: &str = "SELECT EXISTS (SELECT 1 FROM policy_versions v \
     JOIN policies p ON p.id = v.policy_id WHERE v.calendar_id = $1 \
     AND ((NOT p.deleted AND v.version = p.current_version) OR EXISTS (SELECT 1 FROM \
     conversations c WHERE c.policy_id = v.policy_id AND c.policy_version = v.version)))";

/// How many rows a queue query returns when the filter sets no (positive) limit.
pub(super) const DEFAULT_QUEUE_LIMIT: i64 = 500;

/// `SELECT {columns} FROM conversations` with `f`'s filters, in queue order: the earliest
/// deadline first (none last), then the most recently updated, then by id. `due_before` is
/// the filter's instant as the backend binds timestamps.
pub(super) fn queue_query<'a, DB, T>(
    columns: &str,
    f: &ConversationFilter,
    due_before: Option<T>,
) -> QueryBuilder<'a, DB>
where
    DB: Database,
    DB::Arguments<'a>: Default,
    String: Encode<'a, DB> + Type<DB>,
    i64: Encode<'a, DB> + Type<DB>,
    T: 'a + Encode<'a, DB> + Type<DB>,
{
    let mut qb = QueryBuilder::new(format!("SELECT {columns} FROM conversations WHERE TRUE"));
    if !f.statuses.is_empty() {
        qb.push(" AND status IN (");
        let mut list = qb.separated(", ");
        for s in &f.statuses {
            list.push_bind(s.clone());
        }
        qb.push(")");
    }
    if let Some(p) = f.policy_id {
        qb.push(" AND policy_id = ").push_bind(p);
    }
    if let Some(c) = &f.channel {
        qb.push(" AND channel = ").push_bind(c.clone());
    }
    if let Some(t) = &f.team {
        qb.push(" AND team = ").push_bind(t.clone());
    }
    match &f.owner {
        None => {}
        Some(None) => {
            qb.push(" AND owner IS NULL");
        }
        Some(Some(o)) => {
            qb.push(" AND owner = ").push_bind(o.clone());
        }
    }
    if let Some(t) = due_before {
        qb.push(" AND due_at < ").push_bind(t);
    }
    qb.push(" ORDER BY due_at IS NULL, due_at, updated_at DESC, id LIMIT ")
        .push_bind(if f.limit <= 0 {
            DEFAULT_QUEUE_LIMIT
        } else {
            f.limit
        });
    qb
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_words_are_the_serde_names() {
        for s in [
            ConversationStatus::Open,
            ConversationStatus::Pending,
            ConversationStatus::Snoozed,
            ConversationStatus::Resolved,
        ] {
            assert_eq!(
                serde_json::to_value(s).unwrap(),
                serde_json::Value::from(status_word(s))
            );
        }
    }

    #[test]
    fn a_bad_json_column_is_a_decode_error() {
        assert!(matches!(
            from_json::<ConversationSummary>("{"),
            Err(sqlx::Error::Decode(_))
        ));
    }
}
