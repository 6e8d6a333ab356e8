//! `promptly bench what-if`: a quarter of N conversations replayed under a draft policy and
//! the current one (`promptly::whatif::Replay`), on an office calendar with business hours
//! counted. Timed in memory: the replay with a draft that counts time as the current version
//! does (one measurement per conversation, judged twice), with one that counts differently
//! (two measurements), against the baseline of evaluating each conversation once under the
//! current policy (what its stored outcome cost). Then end to end on SQLite for a stored
//! subset: the ids of the period, the events read in chunks, folded and replayed, as
//! `POST /api/v1/policies/{id}/what-if` runs it.

use crate::catalog::SlaCatalog;
use crate::store::{self, CalendarInput, DatabaseUrl, PolicyInput};
use chrono::{DateTime, Duration, Utc};
use promptly::conversation::{parse_incoming, Channel, IncomingEvent, Priority, Visibility};
use promptly::whatif::{Replay, ReplayConversation, ReplayScope, Replayed, DEFAULT_ADVICE_LEVELS};
use promptly::{evaluate, Author, BusinessCalendar, ConversationStatus, Event, Policy};
use serde_json::json;
use std::hint::black_box;
use std::time::Instant;

const CALENDAR: &str = r#"{"timezone": "Europe/Amsterdam",
    "hours": {"mon": ["09:00-17:00"], "tue": ["09:00-17:00"], "wed": ["09:00-17:00"],
              "thu": ["09:00-17:00"], "fri": ["09:00-17:00"]},
    "holidays": ["2026-10-05", "2026-11-11"]}"#;

fn current() -> Policy {
    serde_json::from_value(json!({"first_response": "30m", "next_response": "1h",
        "resolution": "8h", "business_hours_only": true, "pause_on": ["pending"]}))
    .expect("a valid policy")
}

/// The quarter replayed: September to November 2026; outcomes judged on 1 December.
fn quarter() -> (DateTime<Utc>, DateTime<Utc>) {
    (
        promptly::instant::utc("2026-09-01T00:00:00Z"),
        promptly::instant::utc("2026-12-01T00:00:00Z"),
    )
}

/// One generated conversation: what it is and its events as offsets from its creation.
struct Plan {
    created: DateTime<Utc>,
    channel: Channel,
    team: &'static str,
    priority: Priority,
    steps: Vec<(i64, Step)>,
}

#[derive(Clone, Copy)]
enum Step {
    Customer,
    Agent,
    Status(ConversationStatus),
}

/// Conversation `i` of `n`, spread evenly over the quarter (at all hours), with a fixed
/// pseudo-random reply time, follow-ups, pending spells and resolutions.
fn plan(i: usize, n: usize) -> Plan {
    let (start, end) = quarter();
    let mut seed = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    let mut next = |m: i64| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((seed >> 33) % m as u64) as i64
    };
    let span = (end - start).num_seconds() - 3 * 86_400;
    let created = start + Duration::seconds(span * i as i64 / n.max(1) as i64);
    let channels = [
        Channel::Whatsapp,
        Channel::Email,
        Channel::Instagram,
        Channel::Webchat,
    ];
    let mut steps: Vec<(i64, Step)> = vec![(0, Step::Customer)];
    let mut t: i64 = 0;
    if next(10) > 0 {
        // Replies after a minute to most of a day, mostly soon.
        t += 60 + next(600) * next(120);
        steps.push((t, Step::Agent));
        for _ in 0..next(3) {
            t += 300 + next(7200);
            steps.push((t, Step::Customer));
            if next(4) == 0 {
                t += 600;
                steps.push((t, Step::Status(ConversationStatus::Pending)));
            }
            t += 60 + next(300) * next(60);
            steps.push((t, Step::Agent));
        }
        if next(5) > 0 {
            t += next(86_400);
            steps.push((t, Step::Status(ConversationStatus::Resolved)));
        }
    }
    Plan {
        created,
        channel: channels[i % channels.len()],
        team: ["billing", "tech", "sales"][i % 3],
        priority: if i.is_multiple_of(7) {
            Priority::Urgent
        } else {
            Priority::Normal
        },
        steps,
    }
}

impl Plan {
    fn replay(&self, id: i64) -> ReplayConversation {
        let mut events = vec![Event::created(self.created)];
        for (offset, step) in &self.steps {
            let at = self.created + Duration::seconds(*offset);
            events.push(match step {
                Step::Customer => Event::message(at, Author::Customer),
                Step::Agent => Event::message(at, Author::Agent),
                Step::Status(s) => Event::status(at, *s),
            });
        }
        ReplayConversation {
            id,
            channel: self.channel,
            team: Some(self.team.to_string()),
            priority: self.priority,
            visibility: Visibility::Direct,
            labels: Vec::new(),
            events,
        }
    }

    fn incoming(&self, id: usize) -> Result<Vec<IncomingEvent>, String> {
        let c = format!("c{id}");
        let at = |offset: i64| (self.created + Duration::seconds(offset)).to_rfc3339();
        let mut out = vec![json!({"id": format!("{c}-0"), "conversation": c,
            "type": "conversation.created", "at": at(0), "channel": self.channel.as_str(),
            "team": self.team, "priority": self.priority.as_str()})];
        for (n, (offset, step)) in self.steps.iter().enumerate() {
            let id = format!("{c}-{}", n + 1);
            out.push(match step {
                Step::Customer => json!({"id": id, "conversation": c, "at": at(*offset),
                    "type": "message.created", "author": "customer", "text": "Hello"}),
                Step::Agent => json!({"id": id, "conversation": c, "at": at(*offset),
                    "type": "message.created", "author": "agent", "text": "Hi",
                    "agent_email": "ada@example.com"}),
                Step::Status(s) => json!({"id": id, "conversation": c, "at": at(*offset),
                    "type": "conversation.updated", "status": s}),
            });
        }
        let (_, end) = quarter();
        out.iter()
            .map(|v| parse_incoming(v, "event", end).map_err(|e| format!("{e:?}")))
            .collect()
    }
}

fn replay_all(
    conversations: &[ReplayConversation],
    current: Replayed,
    draft: Replayed,
    at: DateTime<Utc>,
) -> (f64, u64) {
    let began = Instant::now();
    let mut replay = Replay::new(current, draft, ReplayScope::default(), at);
    for c in conversations {
        replay.add(c);
    }
    let answer = replay.finish(&DEFAULT_ADVICE_LEVELS);
    (
        began.elapsed().as_secs_f64(),
        black_box(answer).changed_count,
    )
}

/// Runs the benchmark; one line of figures.
pub async fn run(conversations: usize, stored: usize) -> Result<String, String> {
    if conversations == 0 {
        return Err("need --conversations >= 1".into());
    }
    let calendar: BusinessCalendar = serde_json::from_str(CALENDAR).map_err(|e| e.to_string())?;
    let (_, end) = quarter();
    let policy = current();
    let mut later = policy;
    later.first_response = promptly::SlaDuration::from_hours(1).map(promptly::Target::Counted);
    let mut all_hours = later;
    all_hours.business_hours_only = false;
    let made = Instant::now();
    let items: Vec<ReplayConversation> = (0..conversations)
        .map(|i| plan(i, conversations).replay(i as i64))
        .collect();
    let made_s = made.elapsed().as_secs_f64();
    let cur = Replayed {
        policy: &policy,
        calendar: Some(&calendar),
    };
    let draft = Replayed {
        policy: &later,
        calendar: Some(&calendar),
    };
    // Warm the calendar's tables once, as a running server has them.
    replay_all(&items[..items.len().min(1000)], cur, cur, end);
    let (shared_s, changed) = replay_all(&items, cur, draft, end);
    // Again: what a server that has replayed before pays (the first run in a fresh process
    // also pays for the memory its tallies grow into).
    let (again_s, _) = replay_all(&items, cur, draft, end);
    let (two_s, _) = replay_all(
        &items,
        cur,
        Replayed {
            policy: &all_hours,
            calendar: Some(&calendar),
        },
        end,
    );
    let began = Instant::now();
    let mut checksum = 0u64;
    for c in &items {
        let state = evaluate(&policy, Some(&calendar), &c.events, end);
        checksum += state
            .metrics
            .iter()
            .map(|m| u64::from(m.breaches))
            .sum::<u64>();
    }
    black_box(checksum);
    let baseline_s = began.elapsed().as_secs_f64();
    drop(items);

    let (stored_n, stored_s, seed_s) = if stored > 0 {
        stored_replay(stored, &later).await?
    } else {
        (0, 0.0, 0.0)
    };
    let n = conversations as f64;
    Ok(format!(
        "conversations={conversations} generated_s={made_s:.2} replay_s={shared_s:.3} \
         replay_per_s={:.0} replay_again_s={again_s:.3} replay_two_rules_s={two_s:.3} evaluate_once_s={baseline_s:.3} \
         replay_vs_evaluate_once={:.2} changed={changed} stored={stored_n} stored_seed_s={seed_s:.1} \
         stored_replay_s={stored_s:.3} stored_per_s={:.0}",
        n / shared_s,
        shared_s / baseline_s,
        if stored_s > 0.0 {
            stored_n as f64 / stored_s
        } else {
            0.0
        },
    ))
}

/// Ingests `n` conversations into a fresh SQLite store and times the API's what-if path on
/// them: (conversations replayed, seconds, seeding seconds).
async fn stored_replay(n: usize, draft: &Policy) -> Result<(usize, f64, f64), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let url = format!("sqlite://{}", dir.path().join("whatif.db").display());
    let store = store::open(&DatabaseUrl::parse(&url)?).await?;
    let e = |e: store::StoreError| e.to_string();
    let (start, end) = quarter();
    let cal = store
        .create_calendar(
            &CalendarInput {
                name: "Office".into(),
                description: String::new(),
                definition: serde_json::from_str(CALENDAR).map_err(|e| e.to_string())?,
            },
            start,
        )
        .await
        .map_err(e)?;
    let policy = store
        .create_policy(
            &PolicyInput {
                name: "Standard".into(),
                description: String::new(),
                calendar_id: Some(cal.id),
                policy: current(),
            },
            start,
        )
        .await
        .map_err(e)?;
    store.set_default_policy(Some(policy.id)).await.map_err(e)?;
    let catalog = SlaCatalog::load(store.as_ref(), end)
        .await
        .map_err(|e| e.to_string())?;
    let seeding = Instant::now();
    let mut batch = Vec::new();
    for i in 0..n {
        batch.extend(plan(i, n).incoming(i)?);
        if batch.len() >= 500 || i + 1 == n {
            store
                .ingest_batch("bench", &batch, &catalog, end)
                .await
                .map_err(e)?;
            batch.clear();
        }
    }
    let seed_s = seeding.elapsed().as_secs_f64();
    let calendar = BusinessCalendar::new(cal.definition).map_err(|e| e.to_string())?;
    let current = current();
    let began = Instant::now();
    let ids = store
        .policy_conversations(policy.id, start.timestamp(), end.timestamp())
        .await
        .map_err(e)?;
    let replay = Replay::new(
        Replayed {
            policy: &current,
            calendar: Some(&calendar),
        },
        Replayed {
            policy: draft,
            calendar: Some(&calendar),
        },
        ReplayScope::default(),
        end,
    );
    let answer =
        crate::services::whatif::run(&store, replay, &ids, &DEFAULT_ADVICE_LEVELS, |_| true)
            .await
            .map_err(e)?
            .ok_or("the replay stopped")?;
    let s = began.elapsed().as_secs_f64();
    if answer.current.conversations as usize != n {
        return Err(format!(
            "replayed {} stored conversations of {n}",
            answer.current.conversations
        ));
    }
    Ok((n, s, seed_s))
}
