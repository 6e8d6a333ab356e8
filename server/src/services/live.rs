//! The live service level (`GET /api/v1/live`, the `/live` wallboard): today's "X % answered
//! within Y" per interval for everyone, each team, each channel and each contract with a
//! service-level metric (`promptly::compliance::live`), with what waits now.
//!
//! The day and its intervals are in the time zone of the default policy's calendar (UTC
//! without one). Team and channel rows take Y, the target and the formula from the first
//! contract with a service-level metric, or the defaults; a contract's row takes its own and
//! only the conversations in its scope.

use crate::catalog::SlaCatalog;
use crate::state::AppState;
use crate::store::{BandFiring, LiveSnapshot, StoreResult};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use promptly::compliance::Band;
use promptly::compliance::{
    by_group, day_intervals, service_level_today, Board, BoardRow, ConversationFacts,
    IntervalLength, LiveDay, LiveSpec, ServiceLevelFormula, DEFAULT_TARGET, DEFAULT_WITHIN_S,
};
use promptly::notify::{Audience, Notice, NotificationKind};
use promptly::rules::{
    band_changes, band_effects, evaluate_band, BandChange, BandContext, RuleEvent, SideEffect,
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

/// How often the bands are looked at with nothing changing (waiting contacts pass Y as time
/// goes by), on the state's clock.
const BAND_LOOK: chrono::Duration = chrono::Duration::seconds(15);
/// At most one look per this much real time however busy the ingest (a rate limit).
const BAND_GAP: std::time::Duration = std::time::Duration::from_secs(1);

/// What a band change that fired does: its rules' runs, webhooks and notifications, and
/// the managers' notification.
fn band_firing(catalog: &SlaCatalog, change: &BandChange) -> BandFiring {
    let now = catalog.now();
    let open_now = |id: i64| catalog.calendar(id).map(|c| c.is_open_at(now));
    let ctx = BandContext::new(change, &open_now);
    let outcome = evaluate_band(catalog.rules(), change, &ctx);
    let mut firing = BandFiring {
        rule_runs: outcome
            .fired
            .iter()
            .map(|f| (f.id, RuleEvent::BandChanged.as_str().to_string()))
            .collect(),
        ..BandFiring::default()
    };
    let level = change
        .service_level
        .map_or("nothing measured".to_string(), |l| format!("{l:.1} %"));
    firing.notices.push(Notice {
        kind: NotificationKind::BandChanged,
        audience: Audience::Managers,
        title: change.title(),
        body: format!(
            "{level} answered within {} today (target {} %): {}",
            promptly::duration::badge_text(change.within_s),
            change.target,
            change.to.action()
        ),
        link: "/live".into(),
        conversation_id: None,
        cause: format!("band:{}", change.key()),
        at: change.at,
    });
    for (n, effect) in band_effects(&outcome, change).into_iter().enumerate() {
        match effect {
            SideEffect::Webhook {
                rule,
                url,
                secret,
                body,
            } => firing.outbox.push(crate::automation::delivery(
                "webhook", rule, url, secret, body,
            )),
            SideEffect::Notify {
                rule,
                users,
                team,
                text,
            } => firing.notices.push(Notice {
                kind: NotificationKind::Rule,
                audience: match team {
                    Some(team) => Audience::Team(team),
                    None => Audience::Users(users),
                },
                title: text,
                body: change.title(),
                link: "/live".into(),
                conversation_id: None,
                cause: format!("rule:band:{}:{rule}:{n}", change.key()),
                at: change.at,
            }),
            SideEffect::SendMessage { .. } => {}
        }
    }
    firing
}

/// Looks at the live service level once: rows whose band moved since any server last looked
/// fire `service_level.band_changed` (once per change and interval, across servers).
/// Returns the changes fired here.
pub async fn look_at_bands(state: &AppState) -> StoreResult<Vec<BandChange>> {
    let board = board(state, IntervalLength::Min30).await?;
    let last = state.store.band_states().await?;
    let changes = band_changes(&board, &last);
    let seen: Vec<(String, Band)> = board
        .rows
        .iter()
        .filter(|r| r.live.total.band != Band::NoData)
        .map(|r| (BandChange::row_id(r), r.live.total.band))
        .filter(|(key, band)| last.get(key) != Some(band))
        .collect();
    if seen.is_empty() {
        return Ok(Vec::new());
    }
    let catalog = SlaCatalog::cached(state, board.at).await?;
    let fire = |change: &BandChange| band_firing(&catalog, change);
    let (fired, notified) = state
        .store
        .record_bands(&seen, &changes, &fire, board.at)
        .await?;
    if !fired.is_empty() {
        state.outbox_bell.notify_one();
    }
    crate::automation::publish_notified(state, notified).await;
    Ok(fired)
}

/// The band watcher: looks when conversations change (at most once per [`BAND_GAP`]) and
/// every [`BAND_LOOK`] of the state's clock.
pub async fn run_band_watch(state: AppState) {
    loop {
        let until = state.clock.now() + BAND_LOOK;
        tokio::select! {
            _ = state.clock.sleep_until(until) => {}
            _ = state.band_bell.notified() => {}
        }
        if let Err(e) = look_at_bands(&state).await {
            tracing::warn!(error = %e, "looking at the service level's bands failed");
        }
        tokio::time::sleep(BAND_GAP).await;
    }
}
