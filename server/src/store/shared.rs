//! What both backends share: JSON columns, the words stored for enums, the first summary of
//! a new conversation, and the queue's filters and order.

use super::db::{Dialect, Query};
use super::{
    AutomationInput, AutomationPass, Automator, ConversationFilter, ConversationRow, Deriver,
    IngestOutcome, NewOutbox, StoreError, TouchedConversation,
};
use chrono::{DateTime, Utc};
use promptly::account::FieldError;
use promptly::conversation::{fold, tally, Checkpoint, ConversationSummary, IncomingEvent};
use promptly::ConversationStatus;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::{HashMap, HashSet};

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

/// An ingest batch after the duplicate check, planned before anything is written.
///
/// Both backends run the same few set-based statements per batch (whatever its size):
/// which event ids are known, which conversations exist, one multi-row insert of the new
/// conversations (with their derived columns already computed), the stored events of the
/// existing ones, one multi-row insert of the events, one multi-row update of the
/// existing conversations. This type holds the pure parts between those statements.
pub(super) struct IngestPlan<'a> {
    events: &'a [IncomingEvent],
    /// Batch indexes of the events not seen before (the first of repeats within the batch).
    pub fresh: Vec<usize>,
    /// The fresh events' conversation ids, distinct, in first-seen order.
    pub conversations: Vec<&'a str>,
}

impl<'a> IngestPlan<'a> {
    /// `seen`: the batch's event ids that are already stored.
    pub fn new(events: &'a [IncomingEvent], seen: &HashSet<String>) -> Self {
        let mut fresh = Vec::with_capacity(events.len());
        let mut ids: HashSet<&str> = HashSet::with_capacity(events.len());
        let mut conversations = Vec::new();
        let mut convs: HashSet<&str> = HashSet::new();
        for (i, e) in events.iter().enumerate() {
            if seen.contains(&e.id) || !ids.insert(e.id.as_str()) {
                continue;
            }
            fresh.push(i);
            if convs.insert(e.conversation.as_str()) {
                conversations.push(e.conversation.as_str());
            }
        }
        IngestPlan {
            events,
            fresh,
            conversations,
        }
    }

    /// The batch's event ids, distinct (for the duplicate check).
    pub fn distinct_ids(events: &[IncomingEvent]) -> Vec<&str> {
        let mut set = HashSet::with_capacity(events.len());
        events
            .iter()
            .map(|e| e.id.as_str())
            .filter(|id| set.insert(*id))
            .collect()
    }

    pub fn fresh_events(&self) -> impl Iterator<Item = &'a IncomingEvent> + '_ {
        self.fresh.iter().map(|&i| &self.events[i])
    }

    /// Refusals for the fresh events that would take their conversation past its caps
    /// ([`CONVERSATION_EVENTS`] events, [`CONVERSATION_SURVEYS`] survey answers), counted
    /// on top of what is `stored` (by conversation id; `ids`: the batch's conversations'
    /// ids): the first such event of each conversation, as `events[i].conversation`.
    pub fn over_caps(
        &self,
        ids: &HashMap<&str, i64>,
        stored: &HashMap<i64, Vec<IncomingEvent>>,
    ) -> Vec<FieldError> {
        use promptly::conversation::EventBody;
        use promptly::limits::{CONVERSATION_EVENTS, CONVERSATION_SURVEYS};
        let is_survey = |e: &IncomingEvent| matches!(e.body, EventBody::Survey { .. });
        // What is stored may be a checkpoint or a purged conversation's archive: each
        // counts the events it stands for.
        let mut counts: HashMap<&str, (usize, usize)> = HashMap::new();
        let mut refused: HashSet<&str> = HashSet::new();
        let mut errors = Vec::new();
        for &i in &self.fresh {
            let e = &self.events[i];
            let c = e.conversation.as_str();
            let (events, surveys) = counts.entry(c).or_insert_with(|| {
                let before = ids.get(c).and_then(|id| stored.get(id));
                before.map_or((0, 0), |evs| tally(evs))
            });
            *events += 1;
            *surveys += usize::from(is_survey(e));
            let over = if *events > CONVERSATION_EVENTS {
                Some(format!("{CONVERSATION_EVENTS} events"))
            } else if *surveys > CONVERSATION_SURVEYS {
                Some(format!("{CONVERSATION_SURVEYS} survey answers"))
            } else {
                None
            };
            if let Some(limit) = over {
                if refused.insert(c) {
                    errors.push(FieldError::new(
                        format!("events[{i}].conversation"),
                        format!(
                            "conversation {c:?} has reached its limit of {limit}; start a new conversation"
                        ),
                    ));
                }
            }
        }
        errors
    }

    /// The fresh events of one conversation, in batch order.
    fn fresh_of(&self, conversation: &str) -> Vec<IncomingEvent> {
        self.fresh_events()
            .filter(|e| e.conversation == conversation)
            .cloned()
            .collect()
    }

    /// The row a conversation that this batch creates is inserted with: its derived columns
    /// computed from the batch's events (`id` is filled in by the insert).
    pub fn new_conversation(
        &self,
        source: &str,
        external_id: &str,
        deriver: &dyn Deriver,
        now: DateTime<Utc>,
    ) -> ConversationRow {
        let policy = deriver.initial_policy();
        let events = self.fresh_of(external_id);
        let mut row = ConversationRow {
            id: 0,
            source: source.to_string(),
            external_id: external_id.to_string(),
            policy_id: policy.map(|p| p.0),
            policy_version: policy.map(|p| p.1),
            summary: first_summary(&events[0]),
            due_at: None,
            next_sla_at: None,
            sla_done_until: None,
            created_at: now,
            updated_at: now,
            facts: None,
            checkpoint: Checkpoint::of(&events),
        };
        if let Some(d) = deriver.derive(policy, &events) {
            row.apply(d);
        }
        row
    }

    /// After the inserts: each event's outcome, and each touched conversation with all its
    /// events and its derived columns. `rows` holds every conversation of the batch (by
    /// external id) and whether this batch created it; `stored` the events that existing
    /// conversations had before; `inserted` the event ids the insert actually stored (a
    /// concurrent writer may have stored some meanwhile: those are duplicates).
    /// A touched conversation is `stale` when its stored columns must be updated: it
    /// existed before, or this batch created it but lost some of its events to a
    /// concurrent writer (then its columns were computed from events that are not its own).
    /// A created conversation left with no event at all is returned in the second list, to
    /// be deleted.
    pub fn finish(
        &self,
        rows: HashMap<&str, (ConversationRow, bool)>,
        mut stored: HashMap<i64, Vec<IncomingEvent>>,
        inserted: &HashSet<String>,
        deriver: &dyn Deriver,
        now: DateTime<Utc>,
    ) -> (Vec<IngestOutcome>, Vec<TouchedConversation>, Vec<i64>) {
        let mut outcomes = vec![IngestOutcome::Duplicate; self.events.len()];
        let mut per_conv: HashMap<&str, Vec<IncomingEvent>> = HashMap::new();
        let mut lost: HashSet<&str> = HashSet::new();
        for &i in &self.fresh {
            let e = &self.events[i];
            if inserted.contains(&e.id) {
                if let Some((row, _)) = rows.get(e.conversation.as_str()) {
                    outcomes[i] = IngestOutcome::Accepted {
                        conversation_id: row.id,
                    };
                    per_conv
                        .entry(e.conversation.as_str())
                        .or_default()
                        .push(e.clone());
                }
            } else {
                lost.insert(e.conversation.as_str());
            }
        }
        let mut touched = Vec::new();
        let mut orphans = Vec::new();
        let mut rows = rows;
        for conv in &self.conversations {
            let Some((mut row, created)) = rows.remove(conv) else {
                continue;
            };
            let new_events = per_conv.remove(conv).unwrap_or_default();
            if new_events.is_empty() {
                if created {
                    orphans.push(row.id);
                }
                continue;
            }
            let stale = !created || lost.contains(conv);
            let mut events = stored.remove(&row.id).unwrap_or_default();
            events.extend(new_events);
            if stale {
                if let Some(d) = deriver.derive(row.policy_id.zip(row.policy_version), &events) {
                    row.apply(d);
                }
                row.updated_at = now;
                // Events lost to a concurrent writer leave this list short of the
                // conversation's: no checkpoint then (the next ingest reads them all).
                row.checkpoint = if lost.contains(conv) {
                    None
                } else {
                    Checkpoint::of(&events)
                };
            }
            touched.push(TouchedConversation { row, events, stale });
        }
        (outcomes, touched, orphans)
    }
}

/// The conversations `rows` re-derived from their `events` (taken out of the map), with
/// `updated_at` set to `now`; those without events are left out.
pub(super) fn rederived(
    rows: Vec<ConversationRow>,
    events: &mut HashMap<i64, Vec<IncomingEvent>>,
    deriver: &dyn Deriver,
    now: DateTime<Utc>,
) -> Vec<TouchedConversation> {
    let mut out = Vec::with_capacity(rows.len());
    for mut row in rows {
        let Some(evs) = events.remove(&row.id) else {
            continue;
        };
        if let Some(d) = deriver.derive(row.policy_id.zip(row.policy_version), &evs) {
            row.apply(d);
            row.updated_at = now;
            row.checkpoint = Checkpoint::of(&evs);
            out.push(TouchedConversation {
                row,
                events: evs,
                stale: true,
            });
        }
    }
    out
}

/// What an automation pass decided for the conversations it handled, gathered for the
/// backend to write in its transaction.
#[derive(Default)]
pub(super) struct AutomationWork {
    /// Every handled conversation with its new columns.
    pub rows: Vec<ConversationRow>,
    /// (conversation id, its source, event) the rules added to timelines.
    pub new_events: Vec<(i64, String, IncomingEvent)>,
    /// (conversation id, rule id, trigger).
    pub rule_runs: Vec<(i64, i64, String)>,
    pub outbox: Vec<(i64, NewOutbox)>,
    pub notices: Vec<promptly::notify::Notice>,
    pub pass: AutomationPass,
}

impl AutomationWork {
    /// Runs the automator for one conversation and gathers what it decided.
    pub fn run(
        &mut self,
        automator: &dyn Automator,
        mut row: ConversationRow,
        events: Vec<IncomingEvent>,
        pending: &[IncomingEvent],
        fired: &HashSet<(String, i64, String, i64)>,
        now: DateTime<Utc>,
    ) {
        let out = automator.run(AutomationInput {
            row: &row,
            events: &events,
            pending,
            fired,
            now,
        });
        let policy_changed = out
            .policy
            .is_some_and(|p| Some(p) != row.policy_id.zip(row.policy_version));
        let changed = !out.new_events.is_empty() || policy_changed;
        if let Some((id, version)) = out.policy {
            row.policy_id = Some(id);
            row.policy_version = Some(version);
        }
        if let Some(d) = out.done_until {
            row.sla_done_until = Some(d);
        }
        match out.derived {
            Some(d) => row.apply(d),
            None => row.schedule(&[]),
        }
        if changed {
            row.updated_at = now;
        }
        self.pass.handled += 1;
        for f in out.firings {
            self.pass.firings += 1;
            self.pass.fired.push((row.id, f));
        }
        for (rule, trigger) in out.rule_runs {
            self.rule_runs.push((row.id, rule, trigger));
        }
        for o in out.outbox {
            self.outbox.push((row.id, o));
        }
        self.notices.extend(out.notices);
        let mut all = events;
        for e in out.new_events {
            self.new_events
                .push((row.id, row.source.clone(), e.clone()));
            all.push(e);
        }
        row.checkpoint = Checkpoint::of(&all);
        self.pass.scheduled.push((row.id, row.next_sla_at));
        let month = super::facts::month_of(row.summary.created_at.timestamp());
        if !self.pass.months.contains(&month) {
            self.pass.months.push(month);
        }
        if !self.outbox.is_empty() {
            self.pass.queued_deliveries = true;
        }
        if changed {
            self.pass.touched.push(TouchedConversation {
                row: row.clone(),
                events: all,
                stale: true,
            });
        }
        self.rows.push(row);
    }

    pub fn finish(self) -> AutomationPass {
        self.pass
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

/// The columns of a rule row, in the order `RuleRecord` is read from.
pub(super) const RULE_COLUMNS: &str = "id, position, definition, created_at, updated_at";

/// Rules in the order they run.
pub(super) const RULE_ORDER: &str = "ORDER BY position, id";

/// Whether `ids` lists every id of `existing` exactly once (and nothing else): a reorder's
/// precondition. The error is the one `reorder_rules` returns.
pub(super) fn check_permutation(existing: &[i64], ids: &[i64]) -> Result<(), StoreError> {
    let mut want: Vec<i64> = existing.to_vec();
    let mut got: Vec<i64> = ids.to_vec();
    want.sort_unstable();
    got.sort_unstable();
    if want == got {
        Ok(())
    } else {
        Err(StoreError::Invalid {
            field: "ids",
            message: "must list every rule's id exactly once",
        })
    }
}

/// How many rows a queue query returns when the filter sets no (positive) limit.
pub(super) const DEFAULT_QUEUE_LIMIT: i64 = 500;

/// `SELECT {columns} FROM conversations` with `f`'s filters, in queue order: the earliest
/// deadline first (none last), then the most recently updated, then by id; `f.limit` rows
/// from `f.offset`. `due_before` is the filter's instant as the backend binds timestamps.
pub(super) fn queue_query(dialect: Dialect, columns: &str, f: &ConversationFilter) -> Query {
    let mut q = queue_where(dialect, &format!("SELECT {columns}"), f);
    q.push(" ORDER BY due_at IS NULL, due_at, updated_at DESC, id LIMIT ")
        .push_bind(if f.limit <= 0 {
            DEFAULT_QUEUE_LIMIT
        } else {
            f.limit
        });
    if f.offset > 0 {
        q.push(" OFFSET ").push_bind(f.offset);
    }
    q
}

/// How many conversations `f`'s filters admit (its limit and offset aside).
pub(super) fn queue_count(dialect: Dialect, f: &ConversationFilter) -> Query {
    queue_where(dialect, "SELECT COUNT(*)", f)
}

/// The teams of the conversations `f`'s filters admit, its team filter aside, by name.
pub(super) fn queue_teams(dialect: Dialect, f: &ConversationFilter) -> Query {
    let any_team = ConversationFilter {
        team: None,
        ..f.clone()
    };
    let mut q = queue_where(dialect, "SELECT DISTINCT team", &any_team);
    q.push(" AND team IS NOT NULL ORDER BY team");
    q
}

/// `{select} FROM conversations WHERE` `f`'s filters.
fn queue_where(dialect: Dialect, select: &str, f: &ConversationFilter) -> Query {
    let mut q = Query::new(dialect, format!("{select} FROM conversations WHERE TRUE"));
    if !f.statuses.is_empty() {
        q.push(" AND ").push_in("status", f.statuses.clone());
    }
    if let Some(p) = f.policy_id {
        q.push(" AND policy_id = ").push_bind(p);
    }
    if let Some(c) = &f.channel {
        q.push(" AND channel = ").push_bind(c.as_str());
    }
    if let Some(t) = &f.team {
        q.push(" AND team = ").push_bind(t.as_str());
    }
    match &f.owner {
        None => {}
        Some(None) => {
            q.push(" AND owner IS NULL");
        }
        Some(Some(o)) => {
            q.push(" AND owner = ").push_bind(o.as_str());
        }
    }
    if let Some(t) = f.due_before {
        q.push(" AND due_at < ").push_bind(t);
    }
    q
}

/// Contracts by name (ignoring case), then id.
pub(super) fn sort_contracts(contracts: &mut [super::ContractRecord]) {
    contracts.sort_by(|a, b| {
        (a.contract.name.to_lowercase(), a.id).cmp(&(b.contract.name.to_lowercase(), b.id))
    });
}

/// A stored channel word.
pub(super) fn channel_of(word: &str) -> Result<promptly::conversation::Channel, sqlx::Error> {
    promptly::conversation::Channel::parse(word)
        .ok_or_else(|| sqlx::Error::Decode(format!("unknown channel {word:?}").into()))
}

/// A stored Unix second.
pub(super) fn from_unix(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).unwrap_or_default()
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
    fn a_reorder_lists_every_rule_once() {
        assert!(check_permutation(&[1, 2, 3], &[3, 1, 2]).is_ok());
        assert!(check_permutation(&[], &[]).is_ok());
        for bad in [&[1, 2][..], &[1, 2, 3, 3], &[1, 2, 4], &[1, 1, 2], &[]] {
            assert!(
                matches!(
                    check_permutation(&[1, 2, 3], bad),
                    Err(StoreError::Invalid { field: "ids", .. })
                ),
                "{bad:?}"
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

    fn event(id: &str, conversation: &str, kind: &str) -> IncomingEvent {
        let mut v = serde_json::json!({"id": id, "type": kind, "conversation": conversation});
        if kind == "survey.submitted" {
            v["survey"] = "csat".into();
            v["score"] = 5.into();
        } else {
            v["author"] = "customer".into();
            v["text"] = "hello".into();
        }
        promptly::conversation::parse_incoming(&v, "e", chrono::Utc::now()).unwrap()
    }

    /// A conversation takes events up to its caps, counted on top of what it has stored;
    /// the first event past a cap is named, and other conversations are not held back.
    #[test]
    fn conversations_are_refused_past_their_caps() {
        use promptly::limits::{CONVERSATION_EVENTS, CONVERSATION_SURVEYS};
        let message = event("m", "full", "message.created");
        let survey = event("s", "full", "survey.submitted");
        let ids = HashMap::from([("full", 7)]);
        let batch = vec![
            event("a", "other", "message.created"),
            event("b", "full", "message.created"),
            event("c", "full", "message.created"),
        ];
        let plan = IngestPlan::new(&batch, &HashSet::new());
        // One below the cap: one more fits, the second is refused.
        let stored = HashMap::from([(7, vec![message.clone(); CONVERSATION_EVENTS - 1])]);
        let errors = plan.over_caps(&ids, &stored);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].field, "events[2].conversation");
        assert!(
            errors[0].message.contains("limit of 10000 events"),
            "{}",
            errors[0].message
        );
        let roomy = HashMap::from([(7, vec![message; CONVERSATION_EVENTS - 2])]);
        assert!(plan.over_caps(&ids, &roomy).is_empty());

        let batch = vec![event("t", "full", "survey.submitted")];
        let plan = IngestPlan::new(&batch, &HashSet::new());
        let stored = HashMap::from([(7, vec![survey; CONVERSATION_SURVEYS])]);
        let errors = plan.over_caps(&ids, &stored);
        assert_eq!(errors[0].field, "events[0].conversation");
        assert!(errors[0].message.contains("50 survey answers"));
    }
}
