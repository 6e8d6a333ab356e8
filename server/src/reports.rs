//! Contract compliance as the API and the pages read it: a contract's period evaluated
//! from the store's group counts (`Store::compliance_groups`: its rollups plus the
//! conversations with a clock running) with the team → department mapping, its trend over
//! earlier periods, and the conversations behind a number; and the upkeep of the rollups
//! (one definition per live contract, compacted every few seconds).

use crate::state::AppState;
use crate::store::facts::{key, GroupFilter, RollupDef};
use crate::store::{ContractRecord, DrillRow, Store, StoreResult};
use chrono::{DateTime, Utc};
use promptly::compliance::{
    Compliance, Contract, Dimension, GroupCounts, MetricBreakdowns, PeriodKey,
};
use std::collections::HashMap;
use std::sync::Arc;

/// Team key → department.
pub struct Departments(HashMap<String, String>);

impl Departments {
    pub async fn load(store: &dyn Store) -> StoreResult<Self> {
        Ok(Departments(
            store
                .team_departments()
                .await?
                .into_iter()
                .map(|m| (key(&m.team), m.department))
                .collect(),
        ))
    }

    pub fn of(&self, team: &str) -> Option<String> {
        self.0.get(&key(team)).cloned()
    }

    /// The drill-down filter of a breakdown group (`group = None`: the "none" group).
    pub fn filter(&self, dimension: Dimension, group: Option<&str>) -> GroupFilter {
        match dimension {
            Dimension::Department => {
                let teams_of = |d: Option<&str>| -> Vec<String> {
                    self.0
                        .iter()
                        .filter(|(_, dept)| d.is_none_or(|d| dept.as_str() == d))
                        .map(|(team, _)| team.clone())
                        .collect()
                };
                match group {
                    Some(d) => GroupFilter::Teams(teams_of(Some(d))),
                    None => GroupFilter::NotTeams(teams_of(None)),
                }
            }
            Dimension::Team => GroupFilter::Team(group.map(str::to_string)),
            Dimension::Agent => GroupFilter::Owner(group.map(str::to_string)),
            Dimension::Channel => GroupFilter::Channel(group.unwrap_or_default().to_string()),
        }
    }
}

/// The period a contract's page opens on: the one containing `now`, as long as its first
/// metric's period.
pub fn default_period(contract: &Contract, now: DateTime<Utc>) -> PeriodKey {
    let kind = contract
        .metrics
        .first()
        .map_or(promptly::compliance::Period::Month, |m| m.period);
    PeriodKey::containing(kind, now)
}

/// A contract's group counts in `period` judged at `now`: from the server's cache while no
/// conversation changed since (see `state::ComplianceCache`), else from the store.
pub async fn groups(
    state: &AppState,
    contract: &Contract,
    period: PeriodKey,
    now: DateTime<Utc>,
) -> StoreResult<Arc<Vec<GroupCounts>>> {
    let key = format!("{}|{period}", RollupDef::of(contract).key());
    let months = crate::store::facts::months_of(period);
    cached(state, key, &months, || {
        state.store.compliance_groups(contract, period, now)
    })
    .await
}

/// Counts under `key` from the server's cache while no conversation created in `months`
/// changed since (see `state::ComplianceCache`), else from `read`, then cached.
async fn cached<F, Fut>(
    state: &AppState,
    key: String,
    months: &[i64],
    read: F,
) -> StoreResult<Arc<Vec<GroupCounts>>>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = StoreResult<Vec<GroupCounts>>>,
{
    let hit = state.compliance.get(&key, months);
    state.metrics.compliance_lookup(hit.is_some());
    if let Some(hit) = hit {
        return Ok(hit);
    }
    let seen = state.compliance.snapshot(months);
    let counts = Arc::new(read().await?);
    state.compliance.put(key, seen, counts.clone());
    Ok(counts)
}

/// A contract's compliance in `period`, judged at `now`, with every metric's breakdowns.
pub async fn evaluate(
    state: &AppState,
    departments: &Departments,
    contract: &Contract,
    period: PeriodKey,
    now: DateTime<Utc>,
) -> StoreResult<(Compliance, Vec<MetricBreakdowns>)> {
    let groups = groups(state, contract, period, now).await?;
    Ok(contract.evaluate_groups(period, &groups, |t| departments.of(t)))
}

/// Each contract's current period (see [`default_period`]) and its compliance there, without
/// breakdowns: what the contracts lists show.
pub async fn current(
    state: &AppState,
    contracts: Vec<ContractRecord>,
    now: DateTime<Utc>,
) -> StoreResult<Vec<(ContractRecord, PeriodKey, Compliance)>> {
    let mut out = Vec::with_capacity(contracts.len());
    for rec in contracts {
        let period = default_period(&rec.contract, now);
        let groups = groups(state, &rec.contract, period, now).await?;
        let c = rec.contract.evaluate_groups(period, &groups, |_| None).0;
        out.push((rec, period, c));
    }
    Ok(out)
}

/// The compliance of the `n` periods up to and including `period`, oldest first (without
/// breakdowns): their totals in one read (`Store::compliance_totals`), cached like a
/// period's groups.
pub async fn trend(
    state: &AppState,
    contract: &Contract,
    period: PeriodKey,
    n: usize,
    now: DateTime<Utc>,
) -> StoreResult<Vec<Compliance>> {
    let periods = period.previous(n);
    let key = format!("trend|{}|{period}|{n}", RollupDef::of(contract).key());
    let mut months: Vec<i64> = periods
        .iter()
        .flat_map(|p| crate::store::facts::months_of(*p))
        .collect();
    months.dedup();
    let totals = cached(state, key, &months, || {
        state.store.compliance_totals(contract, &periods, now)
    })
    .await?;
    Ok(periods
        .iter()
        .zip(totals.iter())
        .map(|(p, t)| {
            contract
                .evaluate_groups(*p, std::slice::from_ref(t), |_| None)
                .0
        })
        .collect())
}

/// The conversations behind metric `metric` (an index into the contract's metrics),
/// optionally of one breakdown group; worst first, at most `limit`.
#[allow(clippy::too_many_arguments)]
pub async fn drill(
    store: &dyn Store,
    departments: &Departments,
    record: &ContractRecord,
    metric: usize,
    period: PeriodKey,
    group: Option<(Dimension, Option<&str>)>,
    now: DateTime<Utc>,
    limit: i64,
) -> StoreResult<Vec<DrillRow>> {
    let Some(m) = record.contract.metrics.get(metric) else {
        return Ok(Vec::new());
    };
    let filter = group.map(|(d, g)| departments.filter(d, g));
    store
        .compliance_conversations(
            &record.contract,
            m.kind,
            period,
            filter.as_ref(),
            now,
            limit,
        )
        .await
}

/// How often a server merges the rollup rows written since its last compaction.
pub const COMPACT_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// Keeps one rollup definition per live contract: builds the missing ones and drops the
/// others (those of deleted contracts and of terms since changed).
pub async fn sync_rollups(store: &dyn Store) -> StoreResult<()> {
    let defs: Vec<RollupDef> = store
        .list_contracts()
        .await?
        .iter()
        .map(|r| RollupDef::of(&r.contract))
        .collect();
    store.retain_rollups(&defs).await?;
    for def in &defs {
        store.build_rollups(def).await?;
    }
    Ok(())
}

/// [`sync_rollups`] in the background (after a contract changed): building a definition
/// reads every facts row, and the request need not wait for it (a page read first builds
/// it itself).
pub fn sync_rollups_soon(state: &AppState) {
    let store = state.store.clone();
    tokio::spawn(async move {
        if let Err(e) = sync_rollups(store.as_ref()).await {
            tracing::warn!(error = %e, "the compliance rollups could not be brought up to date");
        }
    });
}

/// The rollups' upkeep: brought up to date at start, then compacted every
/// [`COMPACT_EVERY`] (it changes how many rows a read sums, never what they sum to).
pub fn start(state: &AppState) {
    let store = state.store.clone();
    tokio::spawn(async move {
        if let Err(e) = sync_rollups(store.as_ref()).await {
            tracing::warn!(error = %e, "the compliance rollups could not be brought up to date");
        }
        let mut every = tokio::time::interval(COMPACT_EVERY);
        loop {
            every.tick().await;
            if let Err(e) = store.compact_rollups().await {
                tracing::warn!(error = %e, "compacting the compliance rollups failed");
            }
        }
    });
}
