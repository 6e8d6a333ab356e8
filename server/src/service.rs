//! The live queue's logic between the HTTP API and the store: the SLA catalog (policies and
//! calendars as the engine needs them), ingest, and conversation views evaluated now.

use crate::state::AppState;
use crate::store::{
    ConversationRow, Derived, Deriver, IngestOutcome, PolicyRecord, Store, StoreResult,
};
use chrono::{DateTime, Utc};
use promptly::conversation::{fold, ConversationView, IncomingEvent};
use promptly::stream::StreamEvent;
use promptly::timeline::Event as TimelineEvent;
use promptly::{evaluate, BusinessCalendar, MetricStatus, Policy, SlaState};
use std::collections::HashMap;

/// Every policy version and calendar, loaded for one request: the engine's inputs.
pub struct SlaCatalog {
    policies: HashMap<(i64, i64), PolicyRecord>,
    calendars: HashMap<i64, BusinessCalendar>,
    default: Option<(i64, i64)>,
    now: DateTime<Utc>,
}

impl SlaCatalog {
    pub async fn load(store: &dyn Store, now: DateTime<Utc>) -> StoreResult<SlaCatalog> {
        let mut policies = HashMap::new();
        for current in store.list_policies().await? {
            for v in store.policy_versions(current.id).await? {
                policies.insert((v.id, v.version), v);
            }
        }
        let mut calendars = HashMap::new();
        for c in store.list_calendars().await? {
            // Stored definitions were validated on the way in.
            if let Ok(cal) = BusinessCalendar::new(c.definition) {
                calendars.insert(c.id, cal);
            }
        }
        let default = match store.default_policy().await? {
            Some(id) => store.policy(id).await?.map(|p| (p.id, p.version)),
            None => None,
        };
        Ok(SlaCatalog {
            policies,
            calendars,
            default,
            now,
        })
    }

    /// Loads a version of a deleted policy that conversations still use.
    pub async fn ensure(&mut self, store: &dyn Store, key: Option<(i64, i64)>) -> StoreResult<()> {
        if let Some((id, v)) = key {
            if let std::collections::hash_map::Entry::Vacant(slot) = self.policies.entry((id, v)) {
                if let Some(p) = store.policy_version(id, v).await? {
                    slot.insert(p);
                }
            }
        }
        Ok(())
    }

    fn engine_inputs(&self, key: Option<(i64, i64)>) -> (Policy, Option<&BusinessCalendar>) {
        match key.and_then(|k| self.policies.get(&k)) {
            Some(p) => (p.policy, p.calendar_id.and_then(|c| self.calendars.get(&c))),
            None => (Policy::default(), None),
        }
    }

    /// The SLA of a folded timeline under a policy version, at `at`.
    fn evaluate_timeline(
        &self,
        key: Option<(i64, i64)>,
        timeline: &[TimelineEvent],
        at: DateTime<Utc>,
    ) -> SlaState {
        let (policy, calendar) = self.engine_inputs(key);
        evaluate(&policy, calendar, timeline, at)
    }

    /// The SLA of a conversation's events under a policy version, at `at`.
    pub fn evaluate(
        &self,
        key: Option<(i64, i64)>,
        events: &[IncomingEvent],
        at: DateTime<Utc>,
    ) -> SlaState {
        let timeline = fold(events).map(|(_, t)| t).unwrap_or_default();
        self.evaluate_timeline(key, &timeline, at)
    }

    /// A conversation as the API shows it, evaluated at `at` (the events are folded once).
    pub fn view(
        &self,
        row: ConversationRow,
        events: &[IncomingEvent],
        at: DateTime<Utc>,
    ) -> ConversationView {
        let key = row.policy_id.zip(row.policy_version);
        let (summary, timeline) = fold(events).unwrap_or((row.summary, Vec::new()));
        ConversationView {
            id: row.id,
            external_id: row.external_id,
            policy_id: row.policy_id,
            policy_version: row.policy_version,
            summary,
            sla: self.evaluate_timeline(key, &timeline, at),
        }
    }
}

impl Deriver for SlaCatalog {
    fn initial_policy(&self) -> Option<(i64, i64)> {
        self.default
    }

    fn derive(&self, policy: Option<(i64, i64)>, events: &[IncomingEvent]) -> Option<Derived> {
        let (summary, timeline) = fold(events)?;
        let sla = self.evaluate_timeline(policy, &timeline, self.now);
        let due_at = MetricStatus::most_urgent(&sla.metrics).and_then(|m| m.due_at);
        Some(Derived { summary, due_at })
    }
}

/// Loads a conversation's events and evaluates it now; returns the view and the events
/// (the timeline the conversation page and API show).
pub async fn conversation_detail(
    store: &dyn Store,
    catalog: &mut SlaCatalog,
    row: ConversationRow,
    now: DateTime<Utc>,
) -> StoreResult<(ConversationView, Vec<IncomingEvent>)> {
    catalog
        .ensure(store, row.policy_id.zip(row.policy_version))
        .await?;
    let events = store.conversation_events(row.id).await?;
    let view = catalog.view(row, &events, now);
    Ok((view, events))
}

/// Loads a conversation with its events and evaluates it now.
pub async fn conversation_view(
    store: &dyn Store,
    catalog: &mut SlaCatalog,
    row: ConversationRow,
    now: DateTime<Utc>,
) -> StoreResult<ConversationView> {
    Ok(conversation_detail(store, catalog, row, now).await?.0)
}

/// Stores a validated batch and tells the browsers about each touched conversation.
pub async fn ingest(state: &AppState, events: &[IncomingEvent]) -> StoreResult<Vec<IngestOutcome>> {
    let now = Utc::now();
    let store = state.store.as_ref();
    let mut catalog = SlaCatalog::load(store, now).await?;
    let outcomes = store.ingest(events, &catalog, now).await?;
    let mut touched: Vec<i64> = Vec::new();
    for o in &outcomes {
        if let IngestOutcome::Accepted { conversation_id } = o {
            if !touched.contains(conversation_id) {
                touched.push(*conversation_id);
            }
        }
    }
    for id in touched {
        if let Some(row) = store.conversation(id).await? {
            let view = conversation_view(store, &mut catalog, row, now).await?;
            state.publish(StreamEvent::Conversation {
                conversation: Box::new(view),
            });
        }
    }
    Ok(outcomes)
}
