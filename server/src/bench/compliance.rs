//! `promptly bench compliance`: one month's compliance of a contract (every metric kind,
//! breakdowns by department, team, agent and channel) over N conversations a month on
//! SQLite, read from the rollups (first load, repeats, after a change) against the plain
//! aggregate over the same facts rows (the ratio's base, and the figures it must equal); and
//! the contract page's trend over the months seeded, both ways.

use crate::reports::{self, Departments};
use crate::store::facts::{RollupDef, FACT_BINDS, FACT_COLUMNS};
use crate::store::{self, DatabaseUrl, TeamDepartment};
use chrono::Utc;
use promptly::compliance::{Contract, PeriodKey};
use serde_json::json;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{QueryBuilder, Sqlite, SqlitePool};
use std::str::FromStr;
use std::time::Instant;

fn contract() -> Contract {
    Contract::from_json(json!({
        "name": "Bench", "counterparty_kind": "client", "counterparty": "Bench Corp",
        "review_date": "2027-06-30",
        "metrics": [
            {"kind": "frt_attainment", "target": 95, "period": "month"},
            {"kind": "nrt_attainment", "target": 90, "period": "month"},
            {"kind": "rt_attainment", "target": 85, "period": "month"},
            {"kind": "service_level", "within_s": 60, "formula": "abandoned_after_count_missed", "target": 80, "period": "month"},
            {"kind": "asa", "target": 45, "period": "month"},
            {"kind": "abandonment_rate", "short_abandon_s": 10, "target": 5, "period": "month"},
            {"kind": "csat", "target": 85, "period": "month"},
            {"kind": "nps", "target": 30, "period": "month"},
            {"kind": "ces", "target": 3, "period": "month"}
        ],
        "remedies": {"fee_per_period": 10000, "credit_per_point": 100, "credit_cap": 1500,
                     "bonus_per_point": 50, "bonus_cap": 500, "currency": "EUR"}
    }))
    .expect("a valid contract")
}

/// Writes `n` conversations' facts a month for `months` months up to November 2026 (with one
/// month, a tenth as many in October, outside the period) straight into
/// `conversation_facts`. One in a hundred of November's is still open with a clock running
/// (10,000 of 1,000,000: the queue's scale), its deadline past (each needs the late
/// correction when read); the others are decided.
async fn seed(pool: &SqlitePool, n: usize, months: usize) -> Result<(), sqlx::Error> {
    let channels = [
        "whatsapp",
        "messenger",
        "instagram",
        "twitter",
        "email",
        "webchat",
        "sms",
    ];
    let teams = [
        "billing", "tech", "sales", "vip", "returns", "eu", "us", "apac",
    ];
    let november = PeriodKey::parse("2026-11").expect("a month");
    // Each month's start and length in seconds, November first.
    let spans: Vec<(i64, i64)> = (0..months as i64)
        .map(|back| {
            let (start, end) = november.shift(-back).expect("a month").range();
            (start.timestamp(), end.timestamp() - start.timestamp())
        })
        .collect();
    let start = spans[0].0;
    let mut x: u64 = 42;
    let mut next = move |m: u64| {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (x >> 33) % m
    };
    let total = if months == 1 { n + n / 10 } else { n * months };
    let mut tx = pool.begin().await?;
    let rows_per = 32_766 / FACT_BINDS;
    let mut id = 0i64;
    while (id as usize) < total {
        let k = rows_per.min(total - id as usize);
        let mut q = QueryBuilder::<Sqlite>::new(format!(
            "INSERT INTO conversation_facts ({FACT_COLUMNS}) "
        ));
        let mut rows = Vec::with_capacity(k);
        for _ in 0..k {
            id += 1;
            let k = (id as usize - 1) / n;
            let created = if k < months {
                spans[k].0 + next(spans[k].1 as u64) as i64
            } else {
                start - 1 - next(20 * 86_400) as i64
            };
            let team = (next(10) < 9).then(|| teams[next(8) as usize].to_string());
            let owner = (next(10) < 8).then(|| format!("agent{}@bench.example", next(60)));
            let outcome = next(20);
            let (first, abandoned) = match outcome {
                0 => (None, Some(next(300) as i64)),
                1 => (None, None),
                _ => (Some(next(180) as i64), None),
            };
            // Open conversations are recent: by a month later the automation has written
            // a clock that ran out as missed.
            let open = next(100) == 0 && k == 0;
            let frt = match next(20) {
                0 => (0, 1, None),
                1 if open => (0, 0, Some(created + 3600)),
                _ => (1, 0, None),
            };
            let nrt = (next(4) as i64, next(2) as i64, None::<i64>);
            let rt = if open {
                (0, 0, Some(created + 86_400))
            } else if next(8) == 0 {
                (0, 1, None)
            } else {
                (1, 0, None)
            };
            let csat = if next(4) == 0 {
                (1, i64::from(next(10) < 8))
            } else {
                (0, 0)
            };
            let nps = if next(5) == 0 {
                let s = next(11);
                (
                    1,
                    if s >= 9 {
                        1
                    } else if s <= 6 {
                        -1
                    } else {
                        0
                    },
                )
            } else {
                (0, 0)
            };
            let ces = if next(6) == 0 {
                (1, 1 + next(7) as i64)
            } else {
                (0, 0)
            };
            rows.push((
                id,
                created,
                channels[next(7) as usize],
                team,
                owner,
                first,
                abandoned,
                [frt, nrt, rt],
                [csat, nps, ces],
            ));
        }
        q.push_values(rows, |mut b, r| {
            b.push_bind(r.0)
                .push_bind(r.1)
                .push_bind(crate::store::facts::month_of(r.1))
                .push_bind(r.2)
                .push_bind(r.3.clone())
                .push_bind(r.3.clone().unwrap_or_default())
                .push_bind(r.3)
                .push_bind(r.4.clone())
                .push_bind(r.4.unwrap_or_default())
                .push_bind(None::<i64>)
                .push_bind(Some("bench.example"))
                .push_bind("|")
                .push_bind(r.5)
                .push_bind(r.6);
            for (met, missed, due) in r.7 {
                b.push_bind(met).push_bind(missed).push_bind(due);
            }
            for (count, sum) in r.8 {
                b.push_bind(count).push_bind(sum);
            }
        });
        q.build().execute(&mut *tx).await?;
    }
    tx.commit().await
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

pub async fn run(conversations: usize, repeats: usize, months: usize) -> Result<String, String> {
    if conversations == 0 || repeats == 0 || months == 0 {
        return Err("need --conversations, --repeats and --months > 0".into());
    }
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let path = dir.path().join("compliance.db");
    let url = format!("sqlite://{}", path.display());
    {
        let store = store::open(&DatabaseUrl::parse(&url)?).await?;
        store
            .set_team_departments(&[
                TeamDepartment {
                    team: "billing".into(),
                    department: "Finance".into(),
                },
                TeamDepartment {
                    team: "tech".into(),
                    department: "Engineering".into(),
                },
            ])
            .await
            .map_err(|e| e.to_string())?;
    }
    let raw = SqlitePool::connect_with(
        SqliteConnectOptions::from_str(&url)
            .map_err(|e| e.to_string())?
            .foreign_keys(false),
    )
    .await
    .map_err(|e| e.to_string())?;
    let t = Instant::now();
    seed(&raw, conversations, months)
        .await
        .map_err(|e| e.to_string())?;
    let seeded_s = t.elapsed().as_secs_f64();
    raw.close().await;
    let contract = contract();
    // What saving the contract starts: its rollups built from every facts row.
    let built_s = {
        let store = store::open(&DatabaseUrl::parse(&url)?).await?;
        let t = Instant::now();
        store
            .build_rollups(&RollupDef::of(&contract))
            .await
            .map_err(|e| e.to_string())?;
        t.elapsed().as_secs_f64()
    };

    // A fresh store: the first load pays for opening the database and warming its pages.
    let store = store::open(&DatabaseUrl::parse(&url)?).await?;
    let state = crate::state::AppState::new(store.clone(), false);
    let period = PeriodKey::parse("2026-11").expect("a month");
    let now = Utc::now();
    let ms = |t: Instant| t.elapsed().as_secs_f64() * 1000.0;
    let once = || async {
        let t = Instant::now();
        let departments = Departments::load(store.as_ref())
            .await
            .map_err(|e| e.to_string())?;
        let (c, b) = reports::evaluate(&state, &departments, &contract, period, now)
            .await
            .map_err(|e| e.to_string())?;
        Ok::<_, String>((ms(t), c, b))
    };
    let (first_ms, c, b) = once().await?;
    let mut repeat = Vec::with_capacity(repeats);
    for _ in 0..repeats {
        repeat.push(once().await?.0);
    }
    // The same with the cache emptied each time (what a load after any change costs).
    let mut uncached = Vec::with_capacity(repeats);
    for _ in 0..repeats {
        state.compliance.bump();
        uncached.push(once().await?.0);
    }
    // The base: the same page from the plain aggregate over the period's facts rows.
    let mut base = Vec::with_capacity(repeats);
    for _ in 0..repeats {
        let t = Instant::now();
        let departments = Departments::load(store.as_ref())
            .await
            .map_err(|e| e.to_string())?;
        let groups = store
            .compliance_groups_aggregate(&contract, period, now)
            .await
            .map_err(|e| e.to_string())?;
        let (plain, plain_b) = contract.evaluate_groups(period, &groups, |t| departments.of(t));
        base.push(ms(t));
        if (&plain, &plain_b) != (&c, &b) {
            return Err("the rollups and the plain aggregate disagree".into());
        }
    }
    // The contract page's trend: 12 periods up to November, cold.
    let periods = 12;
    state.compliance.bump();
    let t = Instant::now();
    let trend = reports::trend(&state, &contract, period, periods, now)
        .await
        .map_err(|e| e.to_string())?;
    let trend_ms = ms(t);
    let t = Instant::now();
    for (p, rolled) in period.previous(periods).into_iter().zip(&trend) {
        let groups = store
            .compliance_groups_aggregate(&contract, p, now)
            .await
            .map_err(|e| e.to_string())?;
        if &contract.evaluate_groups(p, &groups, |_| None).0 != rolled {
            return Err(format!(
                "the trend's {p} disagrees with the plain aggregate"
            ));
        }
    }
    let trend_base_ms = ms(t);
    let counted: usize = trend.iter().map(|c| c.conversations).sum();
    let repeat_ms = median(repeat);
    let uncached_ms = median(uncached);
    let base_ms = median(base);
    let groups: usize = b.first().map_or(0, |b| b.agent.len());
    Ok(format!(
        "compliance of 2026-11 over {} conversations ({} metrics, 4 breakdowns, {} agents; \
         {months} month(s) seeded in {:.1} s; rollups built in {:.1} s): first load {:.1} ms; \
         repeat (cached) median {:.2} ms; after a change (cache emptied) median {:.1} ms, of {} \
         each; plain aggregate median {:.1} ms (same figures); ratios first/aggregate {:.3}, \
         after-change/aggregate {:.3}; 12-period trend ({} conversations) cold {:.1} ms vs \
         {:.1} ms from 12 aggregates (ratio {:.3}); band {}",
        c.conversations,
        c.metrics.len(),
        groups,
        seeded_s,
        built_s,
        first_ms,
        repeat_ms,
        uncached_ms,
        repeats,
        base_ms,
        first_ms / base_ms,
        uncached_ms / base_ms,
        counted,
        trend_ms,
        trend_base_ms,
        trend_ms / trend_base_ms,
        Contract::worst_band(&c.metrics).as_str()
    ))
}
