//! The live service level (`GET /api/v1/live`, the `/live` wallboard): today's "X % answered
//! within Y" per interval for everyone, each team, each channel and each contract with a
//! service-level metric (`promptly::compliance::live`), with what waits now.
//!
//! The day and its intervals are in the time zone of the default policy's calendar (UTC
//! without one). Team and channel rows take Y, the target and the formula from the first
//! contract with a service-level metric, or the defaults; a contract's row takes its own and
//! only the conversations in its scope.

use crate::state::AppState;
use crate::store::{LiveSnapshot, StoreResult};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use promptly::compliance::{
    by_group, day_intervals, service_level_today, Board, BoardRow, ConversationFacts,
    IntervalLength, LiveDay, LiveSpec, ServiceLevelFormula, DEFAULT_TARGET, DEFAULT_WITHIN_S,
};

/// The time zone of the default policy's calendar, or UTC.
async fn zone(state: &AppState) -> StoreResult<Tz> {
    let Some(policy) = state.store.default_policy().await? else {
        return Ok(chrono_tz::UTC);
    };
    let Some(calendar) = state
        .store
        .policy(policy)
        .await?
        .and_then(|p| p.calendar_id)
    else {
        return Ok(chrono_tz::UTC);
    };
    Ok(state
        .store
        .calendar(calendar)
        .await?
        .map_or(chrono_tz::UTC, |c| c.definition.timezone))
}

/// Breaches, waiting and agents of the rows whose conversations `pick` keeps.
struct Extras {
    breaches: i64,
    waiting_now: i64,
    oldest: Option<i64>,
    agents: Option<i64>,
}

fn row(
    kind: &str,
    key: Option<String>,
    label: String,
    spec: &LiveSpec,
    live: LiveDay,
    extras: Extras,
    now: DateTime<Utc>,
) -> BoardRow {
    BoardRow {
        kind: kind.to_string(),
        key,
        label,
        within_s: spec.within_s,
        target: spec.target,
        formula: spec.formula,
        live,
        waiting_now: extras.waiting_now,
        longest_wait_s: extras.oldest.map(|o| (now.timestamp() - o).max(0)),
        breaches: extras.breaches,
        agents: extras.agents,
    }
}

fn extras(snapshot: &LiveSnapshot, team: Option<Option<&str>>, channel: Option<&str>) -> Extras {
    let keep_team = |t: &Option<String>| team.is_none_or(|want| t.as_deref() == want);
    let keep_channel = |c: &str| channel.is_none_or(|want| c == want);
    let waiting = snapshot
        .waiting
        .iter()
        .filter(|w| keep_team(&w.team) && keep_channel(&w.channel));
    let (mut waiting_now, mut oldest) = (0, None::<i64>);
    for w in waiting {
        waiting_now += w.count;
        oldest = Some(oldest.map_or(w.oldest_s, |o| o.min(w.oldest_s)));
    }
    let breaches = snapshot
        .today
        .iter()
        .filter(|r| keep_team(&r.facts.team) && keep_channel(r.facts.channel.as_str()))
        .map(|r| r.breaches)
        .sum();
    let agents = channel.is_none().then(|| {
        snapshot
            .agents
            .iter()
            .filter(|(t, _)| keep_team(t))
            .map(|(_, n)| n)
            .sum()
    });
    Extras {
        breaches,
        waiting_now,
        oldest,
        agents,
    }
}

/// The wallboard now, in intervals of `interval`.
pub async fn board(state: &AppState, interval: IntervalLength) -> StoreResult<Board> {
    let now = state.clock.now();
    let zone = zone(state).await?;
    let today = now.with_timezone(&zone).date_naive();
    let since = day_intervals(zone, today, interval)
        .first()
        .map_or(now, |(start, _)| *start);
    let snapshot = state
        .store
        .live_snapshot(since.timestamp(), now.timestamp())
        .await?;
    let facts: Vec<ConversationFacts> = snapshot.today.iter().map(|r| r.facts.clone()).collect();
    let contracts = state.store.list_contracts().await?;
    let contract_specs: Vec<(i64, String, LiveSpec, &promptly::compliance::Contract)> = contracts
        .iter()
        .filter_map(|c| {
            c.contract
                .metrics
                .iter()
                .find_map(|m| LiveSpec::of_metric(zone, interval, m))
                .map(|spec| (c.id, c.contract.name.clone(), spec, &c.contract))
        })
        .collect();
    let (house, spec_from) = match contract_specs.first() {
        Some((_, name, spec, _)) => (*spec, Some(name.clone())),
        None => (
            LiveSpec {
                zone,
                interval,
                within_s: DEFAULT_WITHIN_S,
                formula: ServiceLevelFormula::AbandonedAfterCountMissed,
                target: DEFAULT_TARGET,
            },
            None,
        ),
    };
    let mut rows = vec![row(
        "all",
        None,
        "Everyone".into(),
        &house,
        service_level_today(&house, &facts, now),
        extras(&snapshot, None, None),
        now,
    )];
    for g in by_group(&house, &facts, now, |f| f.team.clone()) {
        let label = g.key.clone().unwrap_or_else(|| "No team".into());
        let e = extras(&snapshot, Some(g.key.as_deref()), None);
        rows.push(row("team", g.key, label, &house, g.live, e, now));
    }
    for g in by_group(&house, &facts, now, |f| {
        Some(f.channel.as_str().to_string())
    }) {
        let word = g.key.clone().unwrap_or_default();
        let label = promptly::conversation::Channel::parse(&word)
            .map_or(word.clone(), |c| c.label().to_string());
        let e = extras(&snapshot, None, Some(&word));
        rows.push(row("channel", g.key, label, &house, g.live, e, now));
    }
    for (id, name, spec, contract) in &contract_specs {
        let mine: Vec<&crate::store::LiveRow> = snapshot
            .today
            .iter()
            .filter(|r| contract.scope.matches(&r.facts.subject()))
            .collect();
        let facts: Vec<ConversationFacts> = mine.iter().map(|r| r.facts.clone()).collect();
        let live = service_level_today(spec, &facts, now);
        let e = Extras {
            breaches: mine.iter().map(|r| r.breaches).sum(),
            waiting_now: live.total.waiting,
            oldest: None,
            agents: None,
        };
        rows.push(row(
            "contract",
            Some(id.to_string()),
            name.clone(),
            spec,
            live,
            e,
            now,
        ));
    }
    Ok(Board {
        at: now,
        zone: zone.name().to_string(),
        interval,
        spec_from,
        rows,
    })
}
