//! The SLA catalog: every policy version, the calendars compiled, the default policy and the
//! automation rules, as the engine needs them, shared by requests until the store's catalog
//! generation moves. Plain data and lookups: no state, no I/O but loading.

use crate::store::{ConversationRow, Derived, Deriver, PolicyRecord, Store, StoreResult};
use chrono::{DateTime, Utc};
use promptly::compliance::FactsRecord;
use promptly::conversation::{fold, ConversationView, IncomingEvent};
use promptly::timeline::Event as TimelineEvent;
use promptly::{evaluate, BusinessCalendar, MetricStatus, Policy, SlaState};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Every version of the policies not deleted, the calendars, and the default policy: the
/// engine's inputs, shared by requests until the store's catalog generation moves.
#[derive(Default)]
pub struct CatalogData {
    policies: HashMap<(i64, i64), PolicyRecord>,
    calendars: HashMap<i64, BusinessCalendar>,
    default: Option<(i64, i64)>,
    /// The escalation levels (seconds after a breach) of the enabled `sla.overdue` rules.
    overdue_levels: Vec<i64>,
    /// The automation rules in order.
    rules: Vec<(i64, promptly::rules::RuleDefinition)>,
    /// What the open conversations' SLA instants depend on besides their own policy
    /// version: the calendars' definitions and the overdue levels.
    pub(crate) plan_key: String,
}

/// The last catalog loaded and the generation it was loaded at (see
/// `migrations/0003_catalog_generation.sql`; rule writes move it too, `0004_rules.sql`).
pub type CatalogCache = Arc<Mutex<Option<(i64, Arc<CatalogData>)>>>;

/// The SLA catalog for one request: the shared data, versions of deleted policies that
/// conversations still use (loaded on demand), and the request's instant.
pub struct SlaCatalog {
    data: Arc<CatalogData>,
    extra: HashMap<(i64, i64), PolicyRecord>,
    now: DateTime<Utc>,
    /// The catalog generation `data` was read at, when known (from the cache).
    generation: Option<i64>,
}

impl SlaCatalog {
    /// The catalog of shared data, for a request at `now`.
    pub(crate) fn of(data: Arc<CatalogData>, now: DateTime<Utc>, generation: i64) -> SlaCatalog {
        SlaCatalog {
            data,
            extra: HashMap::new(),
            now,
            generation: Some(generation),
        }
    }

    /// The catalog generation this catalog was read at (`None`: loaded around the cache).
    pub fn generation(&self) -> Option<i64> {
        self.generation
    }
}

impl CatalogData {
    pub(crate) async fn load(store: &dyn Store) -> StoreResult<CatalogData> {
        let mut policies = HashMap::new();
        for current in store.list_policies().await? {
            for v in store.policy_versions(current.id).await? {
                policies.insert((v.id, v.version), v);
            }
        }
        let mut calendars = HashMap::new();
        let mut calendar_defs = Vec::new();
        for c in store.list_calendars().await? {
            calendar_defs.push((c.id, c.updated_at));
            // Stored definitions were validated on the way in.
            if let Ok(cal) = BusinessCalendar::new(c.definition) {
                calendars.insert(c.id, cal);
            }
        }
        let default = match store.default_policy().await? {
            Some(id) => store.policy(id).await?.map(|p| (p.id, p.version)),
            None => None,
        };
        let rules: Vec<(i64, promptly::rules::RuleDefinition)> = store
            .list_rules()
            .await?
            .into_iter()
            .map(|r| (r.id, r.definition))
            .collect();
        let mut overdue_levels: Vec<i64> = rules
            .iter()
            .filter(|(_, r)| r.enabled)
            .filter_map(|(_, r)| r.after.map(|a| a.as_secs()))
            .collect();
        overdue_levels.sort_unstable();
        overdue_levels.dedup();
        let plan_key =
            serde_json::json!({"calendars": calendar_defs, "overdue": overdue_levels}).to_string();
        Ok(CatalogData {
            policies,
            calendars,
            default,
            overdue_levels,
            rules,
            plan_key,
        })
    }
}

impl SlaCatalog {
    /// Loads the catalog from the store, bypassing the cache.
    pub async fn load(store: &dyn Store, now: DateTime<Utc>) -> StoreResult<SlaCatalog> {
        Ok(SlaCatalog {
            data: Arc::new(CatalogData::load(store).await?),
            extra: HashMap::new(),
            now,
            generation: None,
        })
    }

    /// Loads a version of a deleted policy that conversations still use.
    pub async fn ensure(&mut self, store: &dyn Store, key: Option<(i64, i64)>) -> StoreResult<()> {
        if let Some(k) = key {
            if !self.data.policies.contains_key(&k) && !self.extra.contains_key(&k) {
                if let Some(p) = store.policy_version(k.0, k.1).await? {
                    self.extra.insert(k, p);
                }
            }
        }
        Ok(())
    }

    /// The automation rules in order, and the overdue levels of the enabled ones.
    pub fn rules(&self) -> &[(i64, promptly::rules::RuleDefinition)] {
        &self.data.rules
    }

    pub fn overdue_levels(&self) -> &[i64] {
        &self.data.overdue_levels
    }

    /// The current version of a policy that is not deleted.
    pub fn current_version(&self, policy_id: i64) -> Option<i64> {
        self.data
            .policies
            .keys()
            .filter(|(id, _)| *id == policy_id)
            .map(|(_, v)| *v)
            .max()
    }

    /// The instant the catalog evaluates at.
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// The SLA of a conversation's events under a policy version, at the catalog's instant,
    /// with its summary.
    pub fn state_of(
        &self,
        key: Option<(i64, i64)>,
        events: &[IncomingEvent],
    ) -> Option<(promptly::conversation::ConversationSummary, SlaState)> {
        let (summary, timeline) = fold(events)?;
        Some((summary, self.evaluate_timeline(key, &timeline, self.now)))
    }

    /// A calendar of the catalog, compiled (for "is it open now?").
    pub fn calendar(&self, id: i64) -> Option<&BusinessCalendar> {
        self.data.calendars.get(&id)
    }

    fn policy(&self, key: (i64, i64)) -> Option<&PolicyRecord> {
        self.data
            .policies
            .get(&key)
            .or_else(|| self.extra.get(&key))
    }

    fn engine_inputs(&self, key: Option<(i64, i64)>) -> (Policy, Option<&BusinessCalendar>) {
        match key.and_then(|k| self.policy(k)) {
            Some(p) => (
                p.policy,
                p.calendar_id.and_then(|c| self.data.calendars.get(&c)),
            ),
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
            source: row.source,
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
        self.data.default
    }

    fn wants_rules(&self, event: &IncomingEvent) -> bool {
        let Some(kind) = promptly::automation::trigger_of(event).map(|f| f.kind()) else {
            return false;
        };
        self.data
            .rules
            .iter()
            .any(|(_, r)| r.enabled && r.event == kind)
    }

    fn derive(&self, policy: Option<(i64, i64)>, events: &[IncomingEvent]) -> Option<Derived> {
        let (summary, timeline) = fold(events)?;
        let sla = self.evaluate_timeline(policy, &timeline, self.now);
        let due_at = MetricStatus::most_urgent(&sla.metrics).and_then(|m| m.due_at);
        let mut sla_instants: Vec<DateTime<Utc>> =
            promptly::automation::sla_instants(&sla, &self.data.overdue_levels)
                .iter()
                .map(|i| i.at)
                .collect();
        // An event after the instant evaluated at has not happened for the engine yet, so
        // the clocks it starts have no instants: the worker looks again when it happens.
        // (A channel's clock ahead of this server's; or a transaction whose instant was read
        // before it began, deriving events committed meanwhile.) Without this, such a
        // conversation was never scheduled and its warnings and breaches never fired.
        sla_instants.extend(
            timeline
                .iter()
                .map(|e| e.at)
                .filter(|t| *t > self.now)
                .min(),
        );
        // A channel account's test conversation counts for no contract.
        let external = events.first().map_or("", |e| e.conversation.as_str());
        let facts = (!promptly::channels::is_test(external, &summary.labels))
            .then(|| FactsRecord::derive(&summary, &timeline, &sla.metrics, policy.map(|p| p.0)));
        Some(Derived {
            summary,
            due_at,
            sla_instants,
            facts,
        })
    }
}
