//! The live queue's logic between the HTTP API and the store: the SLA catalog (policies and
//! calendars as the engine needs them), ingest, and conversation views evaluated now.

use crate::catalog::{CatalogData, SlaCatalog};
use crate::http::error::ApiError;
use crate::state::AppState;
use crate::store::{
    ConversationRow, IngestOutcome, NewOutbox, Store, StoreResult, TouchedConversation,
};
use chrono::{DateTime, Utc};
use promptly::account::FieldError;
use promptly::conversation::{ConversationView, IncomingEvent};
use promptly::job::JobView;
use promptly::stream::StreamEvent;
use std::sync::Arc;

/// The catalog cache's reader, beside the actions that react when it changes.
impl SlaCatalog {
    /// The catalog from the server's cache: one cheap query checks that no calendar, policy
    /// or setting was written since (by this server or another on the same database).
    pub async fn cached(state: &AppState, now: DateTime<Utc>) -> StoreResult<SlaCatalog> {
        let store = state.store.as_ref();
        let generation = store.catalog_generation().await?;
        let hit = {
            let cache = state.catalog.lock().unwrap_or_else(|p| p.into_inner());
            cache
                .as_ref()
                .filter(|(g, _)| *g == generation)
                .map(|(_, d)| d.clone())
        };
        let data = match hit {
            Some(d) => d,
            None => {
                // Loaded after reading the generation, so never older than it.
                let d = Arc::new(CatalogData::load(store).await?);
                let before = state
                    .catalog
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .replace((generation, d.clone()));
                // Calendars or overdue levels changed: the open conversations' SLA instants
                // move, so their schedule is planned again (in the background).
                if let Some((_, old)) = before {
                    if old.plan_key != d.plan_key {
                        spawn_replan(state.clone());
                    }
                }
                d
            }
        };
        Ok(SlaCatalog::of(data, now, generation))
    }
}

/// A stored conversation by Promptly's id or, failing that, by the id integration `source`
/// gave it (any integration's for `None`, a person looking: an id that several use is a
/// conflict naming them).
pub async fn find(
    store: &dyn Store,
    source: Option<&str>,
    id: &str,
) -> Result<Option<ConversationRow>, ApiError> {
    if let Ok(n) = id.parse::<i64>() {
        if let Some(row) = store.conversation(n).await? {
            return Ok(Some(row));
        }
    }
    let mut rows = store.conversations_by_external_id(source, id).await?;
    if rows.len() > 1 {
        let sources: Vec<String> = rows.iter().map(|r| format!("{:?}", r.source)).collect();
        return Err(ApiError::Conflict(format!(
            "Conversation id {id:?} is used by several integrations ({}); use Promptly's id",
            sources.join(", ")
        )));
    }
    Ok(rows.pop())
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

/// How many conversations one re-evaluation transaction takes.
const REDERIVE_CHUNK: usize = 500;

/// What "apply to open conversations" did: all of it (this many), or a job that goes on in
/// the background (large queues), whose progress `GET /api/v1/jobs/{id}` and the policies
/// page show.
pub enum Reevaluation {
    Done(usize),
    Started(JobView),
}

/// Re-evaluates conversations `ids` (moved to a new policy version) in transactions of
/// [`REDERIVE_CHUNK`] and tells the browsers; up to one chunk is done at once, more in a
/// background job.
pub async fn reevaluate(state: &AppState, ids: Vec<i64>) -> StoreResult<Reevaluation> {
    if ids.len() <= REDERIVE_CHUNK {
        let n = reevaluate_chunk(state, &ids).await?;
        return Ok(Reevaluation::Done(n));
    }
    let id = state
        .jobs()
        .start("Re-evaluating open conversations", ids.len());
    let view = state.jobs().get(id).expect("just started");
    let state = state.clone();
    tokio::spawn(async move {
        for chunk in ids.chunks(REDERIVE_CHUNK) {
            match reevaluate_chunk(&state, chunk).await {
                Ok(_) => state.jobs().update(id, |j| j.done += chunk.len()),
                Err(e) => {
                    tracing::error!(error = %e, "re-evaluating open conversations failed");
                    state.jobs().update(id, |j| {
                        j.error = Some("The database refused a step; try again.".into());
                        j.finished = true;
                    });
                    return;
                }
            }
        }
        state.jobs().update(id, |j| j.finished = true);
    });
    Ok(Reevaluation::Started(view))
}

/// Starts [`replan_open`] in the background.
fn spawn_replan(state: AppState) {
    let task: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> =
        Box::pin(async move {
            if let Err(e) = replan_open(&state).await {
                tracing::error!(error = %e, "re-planning SLA instants failed");
            }
        });
    tokio::spawn(task);
}

/// Plans the SLA instants of every open conversation again (after a calendar or an
/// overdue level changed), in the background for large queues.
pub async fn replan_open(state: &AppState) -> StoreResult<()> {
    let ids = state.store.open_conversation_ids().await?;
    if !ids.is_empty() {
        tracing::info!(conversations = ids.len(), "re-planning SLA instants");
        reevaluate(state, ids).await?;
    }
    Ok(())
}

/// The month a conversation's compliance facts are filed under.
pub fn month_of(row: &crate::store::ConversationRow) -> i64 {
    crate::store::facts::month_of(row.summary.created_at.timestamp())
}

/// Gives conversations stored before compliance existed their `conversation_facts` rows
/// (re-derived in chunks; run once at start-up). Returns how many got them.
pub async fn backfill_facts(state: &AppState) -> StoreResult<usize> {
    let mut total = 0;
    loop {
        let ids = state.store.conversations_without_facts(500).await?;
        if ids.is_empty() {
            return Ok(total);
        }
        let n = reevaluate_chunk(state, &ids).await?;
        if n == 0 {
            // Only conversations without any event are left: nothing to derive.
            return Ok(total);
        }
        total += n;
    }
}

async fn reevaluate_chunk(state: &AppState, ids: &[i64]) -> StoreResult<usize> {
    let now = state.clock.now();
    let store = state.store.as_ref();
    let mut catalog = SlaCatalog::cached(state, now).await?;
    let touched = store.rederive_many(ids, &catalog, now).await?;
    state
        .compliance
        .bump_months(touched.iter().map(|t| month_of(&t.row)));
    let n = touched.len();
    settle(state, &mut catalog, touched, false, now).await?;
    Ok(n)
}

/// What follows a change to conversations: the worker learns their next SLA instants (and
/// whether automation work was queued), the other servers hear of them, and the browsers
/// get their views as of `now`.
async fn settle(
    state: &AppState,
    catalog: &mut SlaCatalog,
    touched: Vec<TouchedConversation>,
    queued: bool,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    state.worker.note(
        touched.iter().map(|t| (t.row.id, t.row.next_sla_at)),
        queued,
    );
    let ids: Vec<i64> = touched.iter().map(|t| t.row.id).collect();
    publish_views(state, catalog, touched, now).await?;
    state.announce(&ids).await;
    Ok(())
}

/// Tells the browsers about each touched conversation: its view as of `now`.
pub(crate) async fn publish_views(
    state: &AppState,
    catalog: &mut SlaCatalog,
    touched: Vec<TouchedConversation>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    for t in touched {
        catalog
            .ensure(
                state.store.as_ref(),
                t.row.policy_id.zip(t.row.policy_version),
            )
            .await?;
        let view = catalog.view(t.row, &t.events, now);
        state.publish(StreamEvent::conversation(view));
        state.band_bell.notify_one();
    }
    Ok(())
}

/// Views of many conversations at once (the queue): their events in one query.
pub async fn conversation_views(
    store: &dyn Store,
    catalog: &mut SlaCatalog,
    rows: Vec<ConversationRow>,
    now: DateTime<Utc>,
) -> StoreResult<Vec<ConversationView>> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut events = store.events_of(&ids).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        catalog
            .ensure(store, row.policy_id.zip(row.policy_version))
            .await?;
        let evs = events.remove(&row.id).unwrap_or_default();
        out.push(catalog.view(row, &evs, now));
    }
    Ok(out)
}

/// Reads the events of a request (`items`, each at `events[i]` when `batched`): every
/// problem with its field's path, an `at` outside the server's window included. Nothing is
/// stored.
pub fn read_events(
    state: &AppState,
    items: &[&serde_json::Value],
    batched: bool,
    now: DateTime<Utc>,
) -> Result<Vec<IncomingEvent>, Vec<FieldError>> {
    let mut errors: Vec<FieldError> = Vec::new();
    let mut events = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let path = if batched {
            format!("events[{i}]")
        } else {
            String::new()
        };
        let field = |name: &str| format!("{path}.{name}").trim_start_matches('.').to_string();
        match promptly::conversation::parse_incoming(item, &path, now) {
            Ok(e) => match state.event_window.check(e.at, now) {
                Ok(()) => events.push(e),
                Err(m) => errors.push(FieldError::new(field("at"), m)),
            },
            Err(errs) => errors.extend(errs.into_iter().map(|mut e| {
                e.field = e.field.trim_start_matches('.').to_string();
                e
            })),
        }
    }
    if errors.is_empty() {
        Ok(events)
    } else {
        Err(errors)
    }
}

/// Stores a validated batch that integration `source` sent (its ids are its own) and tells
/// the browsers about each touched conversation, from what the transaction committed
/// (nothing is read back).
pub async fn ingest(
    state: &AppState,
    source: &str,
    events: &[IncomingEvent],
) -> StoreResult<Vec<IngestOutcome>> {
    ingest_and_send(state, source, events, &[]).await
}

/// [`ingest`], queueing `sends` (conversation id, delivery) in the same transaction and
/// waking the deliveries.
pub async fn ingest_and_send(
    state: &AppState,
    source: &str,
    events: &[IncomingEvent],
    sends: &[(i64, NewOutbox)],
) -> StoreResult<Vec<IngestOutcome>> {
    let now = state.clock.now();
    let store = state.store.as_ref();
    let mut catalog = SlaCatalog::cached(state, now).await?;
    let report = store
        .ingest_and_send(source, events, sends, &catalog, now)
        .await?;
    if !sends.is_empty() {
        state.outbox_bell.notify_one();
    }
    after_ingest(state, &mut catalog, report, now).await
}

/// What follows a committed ingest: the compliance cache, the metrics, and the touched
/// conversations' schedule, streams and rules ([`settle`]). The events' outcomes.
async fn after_ingest(
    state: &AppState,
    catalog: &mut SlaCatalog,
    report: crate::store::IngestReport,
    now: DateTime<Utc>,
) -> StoreResult<Vec<IngestOutcome>> {
    // A late event may move a conversation into an earlier month: its events' months cover
    // where it was and where it is.
    state
        .compliance
        .bump_months(report.touched.iter().flat_map(|t| {
            std::iter::once(month_of(&t.row)).chain(
                t.events
                    .iter()
                    .map(|e| crate::store::facts::month_of(e.at.timestamp())),
            )
        }));
    let accepted = report
        .outcomes
        .iter()
        .filter(|o| matches!(o, IngestOutcome::Accepted { .. }))
        .count() as u64;
    state
        .metrics
        .ingested(accepted, report.outcomes.len() as u64 - accepted);
    settle(state, catalog, report.touched, report.queued > 0, now).await?;
    Ok(report.outcomes)
}

/// "Take next" for `me`: the unassigned open conversation of their teams (of any team for a
/// user in none) with the nearest deadline is assigned to them (`Store::take_next`, atomic
/// across servers) and returned, or `None` when nothing waits. The queue's button and
/// `POST /api/v1/conversations/take-next` call this.
pub async fn take_next(
    state: &AppState,
    me: &promptly::account::UserView,
) -> StoreResult<Option<ConversationRow>> {
    let now = state.clock.now();
    let mut catalog = SlaCatalog::cached(state, now).await?;
    let taken = state
        .store
        .take_next(&me.email, &me.teams, &new_event_id("take"), &catalog, now)
        .await?;
    let Some((id, report)) = taken else {
        return Ok(None);
    };
    // The row as the transaction wrote it: nothing is read back.
    let row = report
        .touched
        .iter()
        .find(|t| t.row.id == id)
        .map(|t| t.row.clone());
    after_ingest(state, &mut catalog, report, now).await?;
    match row {
        Some(row) => Ok(Some(row)),
        None => state.store.conversation(id).await,
    }
}

/// A new id for an event a person makes on Promptly's pages or API.
pub fn new_event_id(prefix: &str) -> String {
    use rand::RngCore;
    let mut b = [0u8; 12];
    rand::thread_rng().fill_bytes(&mut b);
    format!("{prefix}-{}", crate::signing::hex(&b))
}

/// What became of a reply.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Reply {
    /// The event's id on the conversation's timeline.
    pub id: String,
    pub conversation_id: i64,
    /// Whether it goes to the customer through the conversation's channel account (a
    /// delivery listed under `/deliveries`); false for a private note, or a conversation
    /// that no account brought.
    pub sent: bool,
}

/// An agent's reply (or, `private`, a note) on `conversation`, by `agent_email`: recorded
/// at once (a public reply stops the clock) and, when a channel account brought the
/// conversation, sent to the customer through it, queued in the same transaction. The
/// conversation page's reply form and `POST /api/v1/conversations/{id}/messages` call this.
pub async fn reply(
    state: &AppState,
    conversation: &ConversationRow,
    agent_email: Option<String>,
    text: &str,
    private: bool,
) -> Result<Reply, ApiError> {
    use promptly::limits::MESSAGE_TEXT_LEN;
    let text = promptly::schema::trim(text);
    if text.is_empty() {
        return Err(ApiError::field("text", "is required"));
    }
    if text.chars().count() > MESSAGE_TEXT_LEN {
        return Err(ApiError::field(
            "text",
            format!("must be at most {MESSAGE_TEXT_LEN} characters"),
        ));
    }
    let event = IncomingEvent {
        id: new_event_id("ui"),
        conversation: conversation.external_id.clone(),
        at: state.clock.now(),
        body: promptly::conversation::EventBody::Message {
            author: promptly::timeline::Author::Agent,
            private,
            text: text.to_string(),
            agent_email,
        },
    };
    let mut sends = Vec::new();
    if !private {
        let accounts = state.store.list_channel_accounts().await?;
        if let Some(send) = crate::channel_sends::account_for(&accounts, conversation)
            .and_then(|a| crate::channel_sends::send_of(a, conversation, &event.id, text))
        {
            sends.push((conversation.id, send));
        }
    }
    ingest_and_send(
        state,
        &conversation.source,
        std::slice::from_ref(&event),
        &sends,
    )
    .await?;
    Ok(Reply {
        id: event.id,
        conversation_id: conversation.id,
        sent: !sends.is_empty(),
    })
}

/// A private system note on the conversation of send `item`: "Not delivered to the
/// customer: {error}" (the platform refused it for good).
pub async fn note_failed_send(
    state: &AppState,
    item: &crate::store::OutboxItem,
    error: &str,
) -> StoreResult<()> {
    let text = format!("Not delivered to the customer: {error}");
    note_on_send(state, item, &format!("send-failed:{}", item.id), text, None).await
}

/// A private system note `text` (event id `id`) on the conversation of send `item`, with
/// `send` queued in the same transaction when there is one.
pub async fn note_on_send(
    state: &AppState,
    item: &crate::store::OutboxItem,
    id: &str,
    text: String,
    send: Option<NewOutbox>,
) -> StoreResult<()> {
    let Some(row) = state.store.conversation(item.conversation_id).await? else {
        return Ok(());
    };
    let event = IncomingEvent {
        id: id.to_string(),
        conversation: row.external_id.clone(),
        at: state.clock.now(),
        body: promptly::conversation::EventBody::Message {
            author: promptly::timeline::Author::System,
            private: true,
            text,
            agent_email: None,
        },
    };
    let sends: Vec<(i64, NewOutbox)> = send.into_iter().map(|s| (row.id, s)).collect();
    match ingest_and_send(state, &row.source, &[event], &sends).await {
        Ok(_) => Ok(()),
        // A conversation past its caps keeps the failure on the delivery alone.
        Err(crate::store::StoreError::Refused(_)) => Ok(()),
        Err(e) => Err(e),
    }
}
