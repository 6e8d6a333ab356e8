//! The automation worker: rules run for incoming events and for SLA warnings, breaches and
//! overdue levels the second they are due, each exactly once, on one server or several.
//!
//! - Every conversation stores its next SLA instant (`next_sla_at`, computed from the engine
//!   whenever its events change). Each server keeps those instants in an in-memory heap,
//!   loaded from the store at start, fed by its own ingests and, on PostgreSQL, by the
//!   other servers' (LISTEN/NOTIFY), and sleeps until the earliest one: SLA events fire
//!   within a second of their instant, not at the next sweep.
//! - A pass ([`Store::automation_pass`]) holds the due conversations in one transaction
//!   (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so each is handled by exactly one server), fires
//!   what is due with durable firing records (unique per conversation, metric, cycle, event
//!   and level, so nothing fires twice), runs the rules, and writes what they did in the same
//!   transaction: timeline events with ids derived from their cause, a policy change, rule
//!   runs and outbox rows. A crash before the commit leaves everything to the next pass;
//!   after a restart, what came due meanwhile fires at once, marked late.
//! - The outbox is delivered by [`crate::outbox`]: webhooks signed with HMAC-SHA256 over a
//!   timestamp and the body, retried with backoff, failures kept and shown, through the
//!   egress guard of [`crate::egress`].

use crate::catalog::SlaCatalog;
use crate::state::AppState;
use crate::store::{
    AutomationInput, AutomationOutput, Automator, ConversationRow, Deriver, NewOutbox, SlaFiring,
    StoreResult,
};
use chrono::Duration;
use promptly::automation::{
    sla_instants, system_message, trigger_of, update_event, SlaEventKind, SlaInstant,
};
use promptly::conversation::{ConversationSummary, EventBody, IncomingEvent};
use promptly::notify::{Audience, Notice, NotificationKind};
use promptly::rules::{
    evaluate, ActionEnv, ConversationState, FiredEvent, RuleContext, SideEffect, SlaFacts,
};
use promptly::stream::StreamEvent;
use std::collections::HashMap;

/// A firing counts as late when it comes more than this after its instant.
const LATE_AFTER_MS: i64 = 2_000;
/// How many conversations one pass takes.
const PASS_LIMIT: i64 = 500;
/// How often a pass is tried again in a row when the catalog moved under it.
const STALE_TRIES: usize = 3;
/// With nothing scheduled, the worker still looks this often (a safety net for a lost
/// notification between servers; the schedule itself is exact).
const IDLE_LOOK: std::time::Duration = std::time::Duration::from_secs(30);

/// The rules and the SLA catalog, applied to one conversation at a time.
pub struct Automation<'a> {
    pub catalog: &'a SlaCatalog,
    /// The public origin links in messages start with.
    pub link_base: &'a str,
    /// Each channel's outbound webhook: (url, secret).
    pub channels: &'a HashMap<String, (String, String)>,
    /// The channel accounts: a system message to a conversation one of them brought goes
    /// out through it (the channel's webhook serves the others).
    pub accounts: &'a [crate::store::ChannelAccountRecord],
}

impl Automation<'_> {
    /// Runs the rules for one event and records what they did into `out`; `events` and
    /// `state` are the conversation as it stands (they change with the actions).
    #[allow(clippy::too_many_arguments)]
    fn fire(
        &self,
        row: &ConversationRow,
        cause: &str,
        fired: FiredEvent,
        context_events: &[IncomingEvent],
        trigger: Option<&IncomingEvent>,
        events: &mut Vec<IncomingEvent>,
        policy: &mut Option<(i64, i64)>,
        out: &mut AutomationOutput,
    ) {
        let now = self.catalog.now();
        let Some((summary_then, _)) = self.catalog.state_of(*policy, context_events) else {
            return;
        };
        let open_now = |id: i64| self.catalog.calendar(id).map(|c| c.is_open_at(now));
        let mut ctx = RuleContext::new(&summary_then).with_business_hours(&open_now);
        if let Some(IncomingEvent {
            body: EventBody::Message { author, text, .. },
            ..
        }) = trigger
        {
            ctx = ctx.with_message(*author, text);
        }
        let outcome = evaluate(self.catalog.rules(), &fired, &ctx);
        if outcome.fired.is_empty() {
            return;
        }
        let Some((summary, sla)) = self.catalog.state_of(*policy, events) else {
            return;
        };
        let before = ConversationState::of(&summary, policy.map(|p| p.0));
        let env = ActionEnv {
            conversation_id: row.id,
            conversation: &summary,
            link_base: self.link_base,
            event: fired,
            at: now,
            sla: SlaFacts::pick(&sla, &fired),
        };
        let applied = outcome.apply(&before, &env);
        for f in &outcome.fired {
            out.rule_runs
                .push((f.id, fired.kind().as_str().to_string()));
        }
        if let Some(e) = update_event(
            format!("auto:{cause}:update"),
            &row.external_id,
            now,
            &before,
            &applied.state,
        ) {
            out.new_events.push(e.clone());
            events.push(e);
        }
        if applied.state.policy != before.policy {
            if let Some(id) = applied.state.policy {
                if let Some(version) = self.catalog.current_version(id) {
                    *policy = Some((id, version));
                    out.policy = Some((id, version));
                }
            }
        }
        for (n, effect) in applied.effects.into_iter().enumerate() {
            match effect {
                SideEffect::SendMessage { rule, text } => {
                    let id = format!("auto:{cause}:message:{rule}:{n}");
                    let message = system_message(id.clone(), &row.external_id, now, text.clone());
                    let through_account = crate::channel_sends::account_for(self.accounts, row)
                        .and_then(|a| crate::channel_sends::send_of(a, row, &id, &text));
                    if let Some(send) = through_account {
                        out.outbox.push(NewOutbox {
                            rule_id: Some(rule),
                            ..send
                        });
                    } else if let Some((url, secret)) = self.channels.get(summary.channel.as_str())
                    {
                        let body = serde_json::json!({
                            "type": "message.send",
                            "id": id,
                            "conversation": row.external_id,
                            "source": row.source,
                            "promptly_id": row.id,
                            "channel": summary.channel.as_str(),
                            "contact": summary.contact,
                            "text": text,
                            "at": now,
                        });
                        out.outbox.push(delivery(
                            "message",
                            rule,
                            url.clone(),
                            secret.clone(),
                            body.to_string(),
                        ));
                    }
                    out.new_events.push(message.clone());
                    events.push(message);
                }
                SideEffect::Webhook {
                    rule,
                    url,
                    secret,
                    body,
                } => out
                    .outbox
                    .push(delivery("webhook", rule, url, secret, body)),
                SideEffect::Notify {
                    rule,
                    users,
                    team,
                    text,
                } => {
                    let name = outcome
                        .fired
                        .iter()
                        .find(|f| f.id == rule)
                        .map_or("", |f| f.rule.name.as_str());
                    out.notices.push(Notice {
                        kind: NotificationKind::Rule,
                        audience: match team {
                            Some(team) => Audience::Team(team),
                            None => Audience::Users(users),
                        },
                        title: text,
                        body: format!("{name} · {}", conversation_words(&summary)),
                        link: format!("/conversations/{}", row.id),
                        conversation_id: Some(row.id),
                        cause: format!("rule:{cause}:{rule}:{n}"),
                        at: now,
                    });
                }
            }
        }
    }
}

/// "Ada Lovelace on WhatsApp": who a conversation is with, for notifications.
fn conversation_words(summary: &ConversationSummary) -> String {
    let c = &summary.contact;
    let who = [&c.name, &c.handle, &c.email]
        .into_iter()
        .flatten()
        .map(|s| s.trim())
        .find(|s| !s.is_empty())
        .unwrap_or("A customer");
    format!("{who} on {}", summary.channel.label())
}

/// The notice of an SLA warning or breach, for the conversation's owner or its queue.
fn sla_notice(
    id: i64,
    summary: &ConversationSummary,
    instant: &SlaInstant,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<Notice> {
    let metric = match instant.metric {
        promptly::clock::Metric::FirstResponse => "First response",
        promptly::clock::Metric::NextResponse => "Next response",
        promptly::clock::Metric::Resolution => "Resolution",
    };
    let (kind, what) = match instant.kind {
        SlaEventKind::Warning => (NotificationKind::Warning, "running out"),
        SlaEventKind::Breached => (NotificationKind::Breach, "breached"),
        SlaEventKind::Overdue(_) => return None,
    };
    Some(Notice {
        kind,
        audience: Audience::Conversation {
            owner: summary.owner.clone(),
            team: summary.team.clone(),
        },
        title: format!("{metric} {what}: {}", conversation_words(summary)),
        body: summary.last_message.clone().unwrap_or_default(),
        link: format!("/conversations/{id}"),
        conversation_id: Some(id),
        cause: format!("sla:{id}:{}", instant.key()),
        at: now,
    })
}

/// A delivery for the outbox, with the receiver it counts against.
pub(crate) fn delivery(
    kind: &'static str,
    rule: i64,
    url: String,
    secret: String,
    body: String,
) -> NewOutbox {
    NewOutbox {
        kind,
        rule_id: Some(rule),
        account_id: None,
        receiver: crate::outbox::receiver_of(&url),
        url,
        secret,
        body,
        message_id: None,
    }
}

impl Automator for Automation<'_> {
    fn catalog_generation(&self) -> Option<i64> {
        self.catalog.generation()
    }

    fn run(&self, input: AutomationInput<'_>) -> AutomationOutput {
        let row = input.row;
        let now = input.now;
        let mut out = AutomationOutput::default();
        let mut events: Vec<IncomingEvent> = input.events.to_vec();
        let mut policy = row.policy_id.zip(row.policy_version);

        // Events waiting for their rules, in arrival order; each sees the conversation as
        // it was with that event (its events up to it, by time).
        for trigger in input.pending {
            let Some(fired) = trigger_of(trigger) else {
                continue;
            };
            let upto: Vec<IncomingEvent> = input
                .events
                .iter()
                .filter(|e| e.at <= trigger.at)
                .cloned()
                .collect();
            self.fire(
                row,
                &trigger.id,
                fired,
                &upto,
                Some(trigger),
                &mut events,
                &mut policy,
                &mut out,
            );
        }

        // SLA instants that are due and have not fired, oldest first.
        if let Some((_, sla)) = self.catalog.state_of(policy, &events) {
            let mut due: Vec<SlaInstant> = sla_instants(&sla, self.catalog.overdue_levels())
                .into_iter()
                .filter(|i| i.at <= now)
                .filter(|i| {
                    !input.fired.contains(&(
                        i.metric.as_str().to_string(),
                        i64::from(i.cycle),
                        i.kind.name().to_string(),
                        i.kind.level(),
                    ))
                })
                .collect();
            due.sort_by_key(|i| i.at);
            for instant in due {
                out.firings.push(SlaFiring {
                    metric: instant.metric.as_str().to_string(),
                    cycle: i64::from(instant.cycle),
                    event: instant.kind.name().to_string(),
                    level: instant.kind.level(),
                    due_at: instant.at,
                    late: (now - instant.at).num_milliseconds() > LATE_AFTER_MS,
                });
                let cause = format!("sla:{}:{}", row.id, instant.key());
                if let Some((summary, _)) = self.catalog.state_of(policy, &events) {
                    out.notices
                        .extend(sla_notice(row.id, &summary, &instant, now));
                }
                let context = events.clone();
                self.fire(
                    row,
                    &cause,
                    instant.event(),
                    &context,
                    None,
                    &mut events,
                    &mut policy,
                    &mut out,
                );
            }
        }

        out.done_until = Some(now);
        out.derived = self.catalog.derive(policy, &events);
        out
    }
}

/// One pass and what follows from it: publish the changed conversations, update the
/// schedule. Returns how many conversations were handled.
pub async fn run_pass(state: &AppState, link_base: &str) -> StoreResult<usize> {
    let now = state.clock.now();
    let store = state.store.as_ref();
    let channels: HashMap<String, (String, String)> = store
        .channel_outbounds()
        .await?
        .into_iter()
        .map(|c| (c.channel, (c.url, c.secret)))
        .collect();
    let accounts = store.list_channel_accounts().await?;
    // The rules a pass runs are at least as new as the events it takes (a rule created
    // while the catalog loaded would otherwise miss the events queued for it).
    let mut tries = 0;
    let (mut catalog, pass) = loop {
        let catalog = SlaCatalog::cached(state, now).await?;
        let automation = Automation {
            catalog: &catalog,
            link_base,
            channels: &channels,
            accounts: &accounts,
        };
        let pass = store.automation_pass(&automation, now, PASS_LIMIT).await?;
        tries += 1;
        if !pass.stale {
            break (catalog, pass);
        }
        if tries == STALE_TRIES {
            // The catalog keeps moving: the worker looks again at once.
            state.worker.wake.notify_one();
            return Ok(0);
        }
    };
    if !pass.fired.is_empty() {
        // Committed now (what follows, publishing to browsers, is not part of the delay).
        let recorded = state.clock.now();
        for (_, f) in &pass.fired {
            let delay = (recorded - f.due_at).num_microseconds().unwrap_or(0) as f64 / 1e6;
            state.metrics.fired(&f.event, delay);
        }
        let mut stats = state.firing_stats.lock().unwrap_or_else(|p| p.into_inner());
        for (_, f) in pass.fired.iter().filter(|(_, f)| f.event == "sla.breached") {
            stats.record(recorded, f.due_at);
        }
    }
    state.compliance.bump_months(pass.months.iter().copied());
    state.worker.note(pass.scheduled.iter().copied(), false);
    if pass.firings > 0 {
        tracing::debug!(
            firings = pass.firings,
            handled = pass.handled,
            "automation pass"
        );
    }
    let handled = pass.handled;
    publish_notified(state, pass.notified).await;
    if pass.queued_deliveries {
        state.outbox_bell.notify_one();
    }
    let published: Vec<i64> = pass.touched.iter().map(|t| t.row.id).collect();
    crate::services::conversations::publish_views(state, &mut catalog, pass.touched, now).await?;
    state.announce(&published).await;
    Ok(handled)
}

/// Pushes notifications written here to their users' streams, and tells the other servers.
pub async fn publish_notified(state: &AppState, notified: Vec<crate::store::Notified>) {
    if notified.is_empty() {
        return;
    }
    let ids: Vec<i64> = notified.iter().map(|n| n.notification.id).collect();
    for n in notified {
        state.publish_notification(n.user_id, n.notification);
    }
    if let Err(e) = state
        .store
        .announce_notifications(&state.server_id, &ids)
        .await
    {
        tracing::warn!(error = %e, "announcing notifications to the other servers failed");
    }
}

/// The worker loop: loads the schedule, then sleeps until the earliest instant (on the
/// state's clock, so a test clock moved past it wakes it) or a bell, and runs passes until
/// nothing is due.
pub async fn run_worker(state: AppState, link_base: String) {
    match state.store.sla_schedule().await {
        Ok(all) => state
            .worker
            .note(all.into_iter().map(|(id, t)| (id, Some(t))), true),
        Err(e) => tracing::error!(error = %e, "loading the SLA schedule failed"),
    }
    loop {
        let next = {
            let mut s = state
                .worker
                .schedule
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            s.earliest()
        };
        let now = state.clock.now();
        let idle_until = now + Duration::from_std(IDLE_LOOK).unwrap_or_default();
        let until = match next {
            Some(t) if t <= now => None,
            Some(t) => Some(t.min(idle_until)),
            None => Some(idle_until),
        };
        if let Some(until) = until {
            tokio::select! {
                _ = state.clock.sleep_until(until) => {}
                _ = state.worker.wake.notified() => {}
            }
        }
        let now = state.clock.now();
        state
            .worker
            .schedule
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take_due(now);
        loop {
            match run_pass(&state, &link_base).await {
                Ok(n) if n as i64 >= PASS_LIMIT => continue,
                Ok(_) => break,
                Err(e) => {
                    tracing::error!(error = %e, "automation pass failed; retrying in a second");
                    // Nothing was written; the due conversations stay due. The database's
                    // trouble is in real time, whatever the business clock says (a test
                    // clock that stands still must not stop the retry).
                    tokio::time::sleep(RETRY_AFTER_ERROR).await;
                }
            }
        }
    }
}

/// How long the worker waits (in real time) before trying again after the database failed it.
const RETRY_AFTER_ERROR: std::time::Duration = std::time::Duration::from_secs(1);

/// Starts the worker, the outbox delivery and (PostgreSQL) the change listener.
pub fn start(state: &AppState, link_base: String) {
    tokio::spawn(run_worker(state.clone(), link_base));
    tokio::spawn(crate::outbox::run_outbox(state.clone()));
    tokio::spawn(run_listener(state.clone()));
    tokio::spawn(crate::services::live::run_band_watch(state.clone()));
}

/// Listens for the other servers' announcements (PostgreSQL): each changed conversation
/// is read and pushed to this server's streams, and its next SLA instant scheduled here.
pub async fn run_listener(state: AppState) {
    loop {
        let mut listener = match state.store.change_listener().await {
            Ok(Some(l)) => l,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for other servers' changes; retrying");
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                continue;
            }
        };
        // Changes announced while not listening are caught up by a pass and the schedule;
        // cached compliance may have missed them.
        state.compliance.bump();
        if let Ok(all) = state.store.sla_schedule().await {
            state
                .worker
                .note(all.into_iter().map(|(id, t)| (id, Some(t))), true);
        }
        loop {
            let n = match listener.recv().await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "the change listener dropped; reconnecting");
                    break;
                }
            };
            let Ok(v) = serde_json::from_str::<serde_json::Value>(n.payload()) else {
                continue;
            };
            if v["origin"].as_str() == Some(state.server_id.as_str()) {
                continue;
            }
            let ids: Vec<i64> = v["ids"]
                .as_array()
                .map(|a| a.iter().filter_map(|x| x.as_i64()).collect())
                .unwrap_or_default();
            if let Some(list) = v["notifications"].as_array() {
                let ids: Vec<i64> = list.iter().filter_map(|x| x.as_i64()).collect();
                match state.store.notifications_by_id(&ids).await {
                    Ok(found) => {
                        for n in found {
                            state.publish_notification(n.user_id, n.notification);
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "reading announced notifications failed"),
                }
                continue;
            }
            if let Err(e) = publish_changed(&state, &ids).await {
                tracing::warn!(error = %e, "reading announced changes failed");
            }
        }
    }
}

/// Reads conversations another server changed, pushes them to this server's streams and
/// schedules their next SLA instants here.
async fn publish_changed(state: &AppState, ids: &[i64]) -> StoreResult<()> {
    let now = state.clock.now();
    let store = state.store.as_ref();
    let mut catalog = SlaCatalog::cached(state, now).await?;
    let mut events = store.events_of(ids).await?;
    let mut scheduled = Vec::with_capacity(ids.len());
    for row in store.conversations(ids).await? {
        let id = row.id;
        scheduled.push((row.id, row.next_sla_at));
        state
            .compliance
            .bump_months([crate::services::conversations::month_of(&row)]);
        catalog
            .ensure(store, row.policy_id.zip(row.policy_version))
            .await?;
        let evs = events.remove(&id).unwrap_or_default();
        let view = catalog.view(row, &evs, now);
        state.publish(StreamEvent::conversation(view));
    }
    state.worker.note(scheduled, true);
    Ok(())
}
