//! Policy what-if: a period's conversations of a policy replayed under a draft and under the
//! policy's current version (`promptly::whatif`), with target advice. Never changes a stored
//! outcome. Runs as a job: a request waits for it up to `Jobs::answer_within` and otherwise
//! answers with the job, which keeps going (cancellable) and holds the answer when done.

use super::policies;
use crate::http::error::ApiError;
use crate::state::AppState;
use crate::store::{DynStore, StoreResult};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use promptly::account::FieldError;
use promptly::conversation::fold;
use promptly::job::JobView;
use promptly::whatif::{Replay, ReplayConversation, ReplayScope, Replayed, WhatIf};
use promptly::{BusinessCalendar, Policy};

/// Conversations read and replayed per step (one query of their events).
pub const CHUNK: usize = 2000;
/// The period when a request names none: the last 90 days (a quarter).
pub const DEFAULT_DAYS: i64 = 90;
/// The longest period a what-if replays.
pub const LONGEST_DAYS: i64 = 400;

/// A what-if request, checked: the draft (as `POST /api/v1/policies` reads it), the period
/// `[from, to)`, the scope and the attainment levels to advise for.
pub struct WhatIfRequest {
    pub draft: Policy,
    pub draft_calendar: Option<i64>,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub scope: ReplayScope,
    pub levels: Vec<f64>,
}

/// A what-if's answer, or the job computing it.
pub enum WhatIfOutcome {
    Done(Box<WhatIf>),
    Running(JobView),
}

/// An instant (RFC 3339) or a date (its midnight UTC; as `to`, the next midnight, so that
/// the day is included).
fn instant(v: &serde_json::Value, end: bool) -> Result<DateTime<Utc>, String> {
    let text = v
        .as_str()
        .ok_or("must be a date (YYYY-MM-DD) or an RFC 3339 instant")?;
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let day = if end {
            day.succ_opt().unwrap_or(day)
        } else {
            day
        };
        return Ok(day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    }
    promptly::instant::parse_rfc3339(text)
}

/// Reads a what-if body; every problem as a field error (the draft's as the policy form's).
pub async fn parse(
    state: &AppState,
    mut body: serde_json::Value,
) -> Result<WhatIfRequest, ApiError> {
    let now = state.clock.now();
    let mut errors: Vec<FieldError> = Vec::new();
    let Some(obj) = body.as_object_mut() else {
        return Err(ApiError::field("body", "must be a JSON object"));
    };
    let draft = obj.remove("draft");
    let from = obj.remove("from");
    let to = obj.remove("to");
    let scope = obj.remove("scope");
    let levels = obj.remove("attainment");
    for key in obj.keys() {
        errors.push(FieldError::new(
            key.as_str(),
            "unknown field (expected draft, from, to, scope, attainment)",
        ));
    }
    let mut read = |v: Option<serde_json::Value>, field: &str, end: bool| match v {
        None | Some(serde_json::Value::Null) => None,
        Some(v) => instant(&v, end)
            .map_err(|m| errors.push(FieldError::new(field, m)))
            .ok(),
    };
    let to_at = read(to, "to", true).unwrap_or(now);
    let from_at = read(from, "from", false).unwrap_or(to_at - Duration::days(DEFAULT_DAYS));
    if from_at >= to_at {
        errors.push(FieldError::new("from", "must be before `to`"));
    } else if to_at - from_at > Duration::days(LONGEST_DAYS) {
        errors.push(FieldError::new(
            "to",
            format!("the period is at most {LONGEST_DAYS} days"),
        ));
    }
    let scope = match scope {
        None | Some(serde_json::Value::Null) => ReplayScope::default(),
        Some(v) => super::calendars::with_path(v, "scope").unwrap_or_else(|e| {
            errors.push(e);
            ReplayScope::default()
        }),
    };
    let levels = match levels {
        None | Some(serde_json::Value::Null) => promptly::whatif::DEFAULT_ADVICE_LEVELS.to_vec(),
        Some(v) => match serde_json::from_value::<Vec<f64>>(v) {
            Ok(l) if !l.is_empty() && l.len() <= 5 && l.iter().all(|p| *p > 0.0 && *p <= 100.0) => {
                l
            }
            _ => {
                errors.push(FieldError::new(
                    "attainment",
                    "must be 1 to 5 percentages, each above 0 and at most 100",
                ));
                Vec::new()
            }
        },
    };
    // The draft is read exactly as `POST /api/v1/policies` reads a body.
    let draft = match draft {
        Some(v) => match policies::parse(state, v).await {
            Ok(input) => Some(input),
            Err(ApiError::Unprocessable { errors: e }) => {
                errors.extend(e);
                None
            }
            Err(e) => return Err(e),
        },
        None => {
            errors.push(FieldError::missing("draft", "the draft policy is required"));
            None
        }
    };
    match draft {
        Some(input) if errors.is_empty() => Ok(WhatIfRequest {
            draft: input.policy,
            draft_calendar: input.calendar_id,
            from: from_at,
            to: to_at,
            scope,
            levels,
        }),
        _ => Err(ApiError::Unprocessable { errors }),
    }
}

async fn calendar(store: &DynStore, id: Option<i64>) -> StoreResult<Option<BusinessCalendar>> {
    let Some(id) = id else { return Ok(None) };
    Ok(store
        .calendar(id)
        .await?
        .and_then(|c| BusinessCalendar::new(c.definition).ok()))
}

/// Replays policy `policy_id`'s conversations of the request's period (404 for an unknown
/// policy): the answer when it comes within `Jobs::answer_within`, else the running job.
pub async fn what_if(
    state: &AppState,
    policy_id: i64,
    body: serde_json::Value,
) -> Result<WhatIfOutcome, ApiError> {
    let current = state
        .store
        .policy(policy_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let request = parse(state, body).await?;
    let ids = state
        .store
        .policy_conversations(policy_id, request.from.timestamp(), request.to.timestamp())
        .await?;
    let current_calendar = calendar(&state.store, current.calendar_id).await?;
    let draft_calendar = calendar(&state.store, request.draft_calendar).await?;
    let job = state
        .jobs()
        .start("Replaying conversations under the draft policy", ids.len());
    let (tx, rx) = tokio::sync::oneshot::channel();
    let task_state = state.clone();
    tokio::spawn(async move {
        let state = task_state;
        let current_policy = current.policy;
        let replay = Replay::new(
            Replayed {
                policy: &current_policy,
                calendar: current_calendar.as_ref(),
            },
            Replayed {
                policy: &request.draft,
                calendar: draft_calendar.as_ref(),
            },
            request.scope.clone(),
            state.clock.now(),
        );
        let outcome = run(&state.store, replay, &ids, &request.levels, |done| {
            let mut jobs = state.jobs();
            jobs.update(job, |j| j.done = done);
            !jobs.is_cancelled(job)
        })
        .await;
        let answer = match outcome {
            Ok(Some(answer)) => {
                let value = serde_json::to_value(&answer).ok();
                state.jobs().update(job, |j| {
                    j.finished = true;
                    j.result = value;
                });
                Some(answer)
            }
            Ok(None) => {
                state.jobs().update(job, |j| j.finished = true);
                None
            }
            Err(e) => {
                tracing::error!(error = %e, "a what-if failed");
                state.jobs().update(job, |j| {
                    j.finished = true;
                    j.error = Some("The database refused a step; try again.".into());
                });
                None
            }
        };
        let _ = tx.send(answer);
    });
    let wait = state.jobs().answer_within;
    match tokio::time::timeout(wait, rx).await {
        Ok(Ok(Some(answer))) => Ok(WhatIfOutcome::Done(Box::new(answer))),
        Ok(_) => Err(ApiError::Internal(anyhow::anyhow!("the what-if failed"))),
        Err(_) => Ok(WhatIfOutcome::Running(
            state.jobs().get(job).ok_or(ApiError::NotFound)?,
        )),
    }
}

/// Replays conversations `ids` in chunks of [`CHUNK`], telling `step` how many are done after
/// each; `step` answering false stops it (`None`).
pub async fn run(
    store: &DynStore,
    mut replay: Replay<'_>,
    ids: &[i64],
    levels: &[f64],
    mut step: impl FnMut(usize) -> bool,
) -> StoreResult<Option<WhatIf>> {
    let mut done = 0;
    for chunk in ids.chunks(CHUNK) {
        let mut events = store.events_of(chunk).await?;
        for id in chunk {
            let Some(events) = events.remove(id) else {
                continue;
            };
            let Some((summary, timeline)) = fold(&events) else {
                continue;
            };
            replay.add(&ReplayConversation {
                id: *id,
                channel: summary.channel,
                team: summary.team,
                priority: summary.priority,
                visibility: summary.visibility,
                labels: summary.labels,
                events: timeline,
            });
        }
        done += chunk.len();
        if !step(done) {
            return Ok(None);
        }
        tokio::task::yield_now().await;
    }
    Ok(Some(replay.finish(levels)))
}
