//! One contract for the store, run against SQLite and against PostgreSQL: both backends
//! must behave the same for every case.

use crate::support;

use chrono::{Duration, TimeZone, Utc};
use promptly::account::{Role, Scopes};
use promptly::compliance::{
    group_counts, ClockRecord, Contract, FactsRecord, PeriodKey, ServiceLevelFormula,
};
use promptly::conversation::{fold, parse_incoming, Channel, IncomingEvent};
use promptly::rules::{parse_rule, RuleDefinition};
use promptly::{CalendarDefinition, ConversationStatus, Policy};
use promptly_server::store::{
    AutomationInput, AutomationOutput, Automator, CalendarInput, CalendarRecord,
    ConversationFilter, ConversationRow, Derived, Deriver, DynStore, IngestOutcome, NewOutbox,
    NewUser, OutboxOutcome, PolicyInput, PolicyRecord, StoreError, TeamDepartment,
};
use serde_json::json;
use support::{postgres_store, sqlite_store};

/// The integration these tests send as.
const SOURCE: &str = "test";

fn new_user(email: &str, role: Role) -> NewUser {
    NewUser {
        email: email.into(),
        name: format!("Name of {email}"),
        role,
        password_hash: "$argon2id$fake".into(),
        must_change_password: false,
    }
}

/// `res` is a refusal for a conflict on `field`.
fn assert_conflict<T: std::fmt::Debug>(res: Result<T, StoreError>, field: &str) {
    assert!(
        matches!(&res, Err(StoreError::Conflict { field: f }) if *f == field),
        "{res:?}"
    );
}

/// `res` is a refusal for a missing record.
fn assert_not_found<T: std::fmt::Debug>(res: Result<T, StoreError>) {
    assert!(matches!(res, Err(StoreError::NotFound)), "{res:?}");
}

fn t0() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0).unwrap()
}

async fn users_are_unique_ordered_and_editable(store: DynStore) {
    assert_eq!(store.count_users().await.unwrap(), 0);
    let b = store
        .create_user(new_user("b@x.io", Role::Admin), t0())
        .await
        .unwrap();
    let a = store
        .create_user(new_user("a@x.io", Role::Agent), t0())
        .await
        .unwrap();
    assert_ne!(a.id, b.id);
    assert_eq!(a.created_at, t0());
    assert!(a.active);
    let dup = store
        .create_user(new_user("a@x.io", Role::Manager), t0())
        .await;
    assert_conflict(dup, "email");
    assert_eq!(store.count_users().await.unwrap(), 2);

    let emails = each(store.list_users().await.unwrap(), |u| u.email);
    assert_eq!(emails, vec!["a@x.io", "b@x.io"]);
    assert_eq!(
        store.user_by_email("a@x.io").await.unwrap().unwrap().id,
        a.id
    );
    assert!(store.user_by_email("nobody@x.io").await.unwrap().is_none());
    assert!(store.user_by_id(a.id + b.id + 100).await.unwrap().is_none());

    assert_eq!(active_admins(&store).await, 1);
    store.set_user_role(a.id, Role::Admin).await.unwrap();
    assert_eq!(active_admins(&store).await, 2);
    assert_eq!(
        store.user_by_id(a.id).await.unwrap().unwrap().role,
        Role::Admin
    );
    assert_not_found(store.set_user_role(9999, Role::Agent).await);

    // A new password (forced to change, as after a reset) ends the user's sessions but the
    // one kept; the flag is lifted by the next change.
    let t0s = t0();
    for hash in ["keep", "other"] {
        store
            .create_session(hash, a.id, t0s, t0s + chrono::Duration::days(1))
            .await
            .unwrap();
    }
    store
        .set_user_password(a.id, "$argon2id$other", true, Some("keep"))
        .await
        .unwrap();
    let after = store.user_by_id(a.id).await.unwrap().unwrap();
    assert_eq!(after.password_hash, "$argon2id$other");
    assert!(after.must_change_password);
    assert!(store.session_user("keep", t0s).await.unwrap().is_some());
    assert!(store.session_user("other", t0s).await.unwrap().is_none());
    store
        .set_user_password(a.id, "$argon2id$mine", false, None)
        .await
        .unwrap();
    assert!(
        !store
            .user_by_id(a.id)
            .await
            .unwrap()
            .unwrap()
            .must_change_password
    );
    assert!(store.session_user("keep", t0s).await.unwrap().is_none());
    assert_not_found(store.set_user_password(9999, "x", false, None).await);

    // The two admins take each other out at the same time: one change passes, the other
    // would leave no active admin and is refused.
    let (ra, rb) = tokio::join!(
        store.set_user_role(a.id, Role::Agent),
        store.set_user_active(b.id, false)
    );
    assert_eq!(
        usize::from(ra.is_ok()) + usize::from(rb.is_ok()),
        1,
        "{ra:?} {rb:?}"
    );
    for refused in [ra, rb].into_iter().filter(Result::is_err) {
        assert_conflict(refused, "last_admin");
    }
    assert_eq!(active_admins(&store).await, 1);
    // The last one stays, whichever way it is asked.
    let last = store
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.role == Role::Admin && u.active)
        .unwrap();
    assert_conflict(
        store.set_user_role(last.id, Role::Manager).await,
        "last_admin",
    );
    assert_conflict(store.set_user_active(last.id, false).await, "last_admin");
    store.set_user_role(last.id, Role::Admin).await.unwrap();
    assert_eq!(active_admins(&store).await, 1);
}

/// Sessions of `user` by their hash, each starting at `t0()` and lasting its duration.
async fn create_sessions(store: &DynStore, user: i64, sessions: &[(&str, Duration)]) {
    for (hash, lasts) in sessions {
        store
            .create_session(hash, user, t0(), t0() + *lasts)
            .await
            .unwrap();
    }
}

async fn sessions_end_on_expiry_logout_and_deactivation(store: DynStore) {
    let u = store
        .create_user(new_user("s@x.io", Role::Agent), t0())
        .await
        .unwrap();
    let hour = Duration::hours(1);
    create_sessions(
        &store,
        u.id,
        &[("h1", hour), ("h2", hour), ("old", Duration::minutes(1))],
    )
    .await;

    let found = store.session_user("h1", t0()).await.unwrap().unwrap();
    assert_eq!(found.email, "s@x.io");
    assert!(store.session_user("unknown", t0()).await.unwrap().is_none());
    // Expired exactly at its expiry instant.
    assert!(store
        .session_user("old", t0() + Duration::minutes(1))
        .await
        .unwrap()
        .is_none());

    store.delete_session("h1").await.unwrap();
    assert!(store.session_user("h1", t0()).await.unwrap().is_none());
    assert!(store.session_user("h2", t0()).await.unwrap().is_some());

    // A role change shows on the next lookup.
    store.set_user_role(u.id, Role::Manager).await.unwrap();
    assert_eq!(
        store.session_user("h2", t0()).await.unwrap().unwrap().role,
        Role::Manager
    );

    store.set_user_active(u.id, false).await.unwrap();
    assert!(store.session_user("h2", t0()).await.unwrap().is_none());
    store.set_user_active(u.id, true).await.unwrap();
    // Deactivation ended the session for good.
    assert!(store.session_user("h2", t0()).await.unwrap().is_none());

    create_sessions(
        &store,
        u.id,
        &[("h3", hour), ("old2", Duration::minutes(1))],
    )
    .await;
    let purged = store
        .purge_expired(t0() + Duration::minutes(30))
        .await
        .unwrap();
    assert_eq!(purged, 1, "only the expired session goes");
    assert!(store.session_user("h3", t0()).await.unwrap().is_some());
}

async fn login_failures_count_within_a_window(store: DynStore) {
    // Claims: all keys or none; a strict key refuses until its window moves on, a spaced
    // one admits again after its spacing; a forgotten claim no longer counts.
    use promptly_server::store::Throttle;
    let strict = Throttle {
        max: 2,
        window_s: 60,
        spacing_s: None,
    };
    let spaced = Throttle {
        spacing_s: Some(5),
        ..strict
    };
    let keys = [
        ("ip:10.0.0.9".to_string(), strict),
        ("email:c@x.io".to_string(), spaced),
    ];
    let first = store
        .claim_login_attempt(&keys, t0())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.len(), 2);
    store
        .claim_login_attempt(&keys, t0())
        .await
        .unwrap()
        .unwrap();
    let refused = store
        .claim_login_attempt(&keys, t0() + Duration::seconds(10))
        .await
        .unwrap();
    assert_eq!(refused, Err(50), "the address waits for its window");
    let only_account = &keys[1..];
    assert_eq!(
        store
            .claim_login_attempt(only_account, t0() + Duration::seconds(2))
            .await
            .unwrap(),
        Err(3)
    );
    store
        .claim_login_attempt(only_account, t0() + Duration::seconds(5))
        .await
        .unwrap()
        .unwrap();
    store.forget_login_attempts(&first).await.unwrap();
    store
        .claim_login_attempt(&keys[..1], t0() + Duration::seconds(10))
        .await
        .unwrap()
        .unwrap();
    // Two claims stand on the address (the second at t0 and this one): nothing of the
    // refused claims was kept, and the window runs from the oldest standing one.
    assert_eq!(
        store
            .claim_login_attempt(&keys[..1], t0() + Duration::seconds(10))
            .await
            .unwrap(),
        Err(50),
    );
    // Cleared (a right password), the key starts over.
    store.clear_login_failures("ip:10.0.0.9").await.unwrap();
    store
        .claim_login_attempt(&keys[..1], t0() + Duration::seconds(10))
        .await
        .unwrap()
        .unwrap();
}

/// The active admins, as the last-admin rule counts them.
async fn active_admins(store: &DynStore) -> usize {
    store
        .list_users()
        .await
        .unwrap()
        .iter()
        .filter(|u| u.active && u.role == Role::Admin)
        .count()
}

async fn migrations_can_run_again(store: DynStore) {
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    store.ping().await.unwrap();
}

fn minutes(m: i64) -> chrono::DateTime<Utc> {
    t0() + Duration::minutes(m)
}

fn office_hours() -> CalendarDefinition {
    serde_json::from_value(json!({
        "timezone": "Europe/Amsterdam",
        "hours": {"mon": ["09:00-17:00"], "tue": ["09:00-12:00", "13:00-17:00"]},
        "holidays": ["2026-12-25"],
        "overrides": {"2026-12-24": ["09:00-13:00"]}
    }))
    .unwrap()
}

fn calendar_input(name: &str) -> CalendarInput {
    CalendarInput {
        name: name.into(),
        description: format!("About {name}"),
        definition: office_hours(),
    }
}

/// A calendar named `name` with [`office_hours`], created at `t0()`.
async fn new_calendar(store: &DynStore, name: &str) -> CalendarRecord {
    store
        .create_calendar(&calendar_input(name), t0())
        .await
        .unwrap()
}

fn sla(first_response: &str) -> Policy {
    serde_json::from_value(json!({"first_response": first_response, "resolution": "8h"})).unwrap()
}

fn policy_input(name: &str, first_response: &str, calendar_id: Option<i64>) -> PolicyInput {
    PolicyInput {
        name: name.into(),
        description: format!("About {name}"),
        calendar_id,
        policy: sla(first_response),
    }
}

/// A policy created at `t0()` (version 1).
async fn new_policy(
    store: &DynStore,
    name: &str,
    first_response: &str,
    calendar_id: Option<i64>,
) -> PolicyRecord {
    store
        .create_policy(&policy_input(name, first_response, calendar_id), t0())
        .await
        .unwrap()
}

/// One conversation (`c1`, by e-mail) starting at `t0()` on version 1 of the policy
/// `policy_id`: that version is in use from then on.
async fn open_one_conversation(store: &DynStore, policy_id: i64) {
    store
        .ingest(
            SOURCE,
            &[created("e1", "c1", 0, "email")],
            &on(Some((policy_id, 1))),
            t0(),
        )
        .await
        .unwrap();
}

/// What `pick` takes from each item of a listing.
fn each<T, U>(items: Vec<T>, pick: impl FnMut(T) -> U) -> Vec<U> {
    items.into_iter().map(pick).collect()
}

/// An event `m` minutes after `t0()`; `body` has its `type` and the fields of that type.
fn event(id: &str, conversation: &str, m: i64, body: serde_json::Value) -> IncomingEvent {
    let mut v = body;
    v["id"] = json!(id);
    v["conversation"] = json!(conversation);
    v["at"] = json!(minutes(m).to_rfc3339());
    parse_incoming(&v, "event", t0()).unwrap()
}

fn created(id: &str, conversation: &str, m: i64, channel: &str) -> IncomingEvent {
    event(
        id,
        conversation,
        m,
        json!({"type": "conversation.created", "channel": channel}),
    )
}

fn message(id: &str, conversation: &str, m: i64, author: &str, text: &str) -> IncomingEvent {
    let mut body = json!({"type": "message.created", "author": author, "text": text});
    if author == "agent" {
        body["agent_email"] = json!("a@x.io");
    }
    event(id, conversation, m, body)
}

fn updated(id: &str, conversation: &str, m: i64, fields: serde_json::Value) -> IncomingEvent {
    let mut body = fields;
    body["type"] = json!("conversation.updated");
    event(id, conversation, m, body)
}

/// Folds the events, and is due the policy version's number of hours after the first
/// event (an hour without a policy); a resolved conversation is due never.
struct TestDeriver {
    initial: Option<(i64, i64)>,
}

fn on(initial: Option<(i64, i64)>) -> TestDeriver {
    TestDeriver { initial }
}

impl Deriver for TestDeriver {
    fn initial_policy(&self) -> Option<(i64, i64)> {
        self.initial
    }

    fn derive(&self, policy: Option<(i64, i64)>, events: &[IncomingEvent]) -> Option<Derived> {
        let (summary, timeline) = fold(events)?;
        let first = events.iter().map(|e| e.at).min()?;
        let hours = policy.map_or(1, |(_, version)| version);
        let due_at = (summary.status != ConversationStatus::Resolved)
            .then(|| first + Duration::hours(hours));
        let mut facts = FactsRecord::derive(&summary, &timeline, &[], policy.map(|p| p.0));
        // Clock outcomes vary with the conversation id (the SLA engine is not under test).
        let h: u32 = events[0].conversation.bytes().map(u32::from).sum();
        set_test_clocks(&mut facts, h);
        Some(Derived {
            facts: Some(facts),
            summary,
            due_at,
            sla_instants: due_at.into_iter().collect(),
        })
    }
}

/// Clock outcomes (met, missed, running with a deadline around `t0()`) picked by `h`.
fn set_test_clocks(facts: &mut FactsRecord, h: u32) {
    {
        facts.frt = ClockRecord {
            met: h % 2,
            missed: u32::from(h.is_multiple_of(2) && h.is_multiple_of(3)),
            due: (h.is_multiple_of(2) && !h.is_multiple_of(3))
                .then(|| t0() + Duration::minutes(i64::from(h % 7) * 10 - 30)),
        };
        facts.nrt = ClockRecord {
            met: h % 4,
            missed: h % 3,
            due: (h % 5 < 2).then(|| t0() + Duration::minutes(i64::from(h % 11) * 5 - 20)),
        };
        facts.rt = ClockRecord {
            met: u32::from(h % 5 == 1),
            missed: u32::from(h % 5 == 2),
            due: (h % 5 > 2).then(|| t0() + Duration::minutes(i64::from(h % 13) * 7 - 40)),
        };
    }
}

/// [`TestDeriver`] without a policy, whose clocks also vary with the number of events: as
/// events arrive a conversation's clocks start, stop, run out and change their outcomes.
struct EvolvingDeriver;

impl Deriver for EvolvingDeriver {
    fn initial_policy(&self) -> Option<(i64, i64)> {
        None
    }

    fn derive(&self, policy: Option<(i64, i64)>, events: &[IncomingEvent]) -> Option<Derived> {
        let mut d = on(None).derive(policy, events)?;
        let h: u32 =
            events[0].conversation.bytes().map(u32::from).sum::<u32>() + 7 * events.len() as u32;
        if let Some(f) = d.facts.as_mut() {
            set_test_clocks(f, h);
        }
        Some(d)
    }
}

/// Fails half-way through a batch: after its events are written, before they are derived.
struct PanickingDeriver;

impl Deriver for PanickingDeriver {
    fn initial_policy(&self) -> Option<(i64, i64)> {
        None
    }

    fn derive(&self, _: Option<(i64, i64)>, _: &[IncomingEvent]) -> Option<Derived> {
        panic!("the deriver fails on purpose");
    }
}

fn accepted(outcome: IngestOutcome) -> i64 {
    match outcome {
        IngestOutcome::Accepted { conversation_id } => conversation_id,
        IngestOutcome::Duplicate => panic!("a duplicate where an acceptance was expected"),
    }
}

async fn by_external_id(store: &DynStore, external_id: &str) -> ConversationRow {
    store
        .conversation_by_external_id(SOURCE, external_id)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no conversation {external_id}"))
}

async fn api_tokens_are_found_by_hash_until_revoked(store: DynStore) {
    assert!(store.list_api_tokens().await.unwrap().is_empty());
    let zap = store
        .create_api_token("Zapier", "zapier", Scopes::DEFAULT, "hash-zap", t0())
        .await
        .unwrap();
    let crm = store
        .create_api_token(
            "CRM",
            "crm",
            Scopes::of_role(Role::Manager),
            "hash-crm",
            minutes(1),
        )
        .await
        .unwrap();
    assert_ne!(zap.id, crm.id);
    assert_eq!(
        (
            zap.name.as_str(),
            zap.scopes,
            zap.created_at,
            zap.revoked_at
        ),
        ("Zapier", Scopes::DEFAULT, t0(), None)
    );
    assert_eq!(
        store.list_api_tokens().await.unwrap(),
        vec![zap.clone(), crm.clone()]
    );
    assert_eq!(
        store.api_token_by_hash("hash-crm").await.unwrap(),
        Some(crm.clone())
    );
    assert_eq!(store.api_token_by_hash("hash-none").await.unwrap(), None);

    store.revoke_api_token(zap.id, minutes(10)).await.unwrap();
    assert_eq!(store.api_token_by_hash("hash-zap").await.unwrap(), None);
    assert_eq!(
        store.api_token_by_hash("hash-crm").await.unwrap(),
        Some(crm.clone()),
        "only the revoked token goes"
    );
    // Revoking again keeps the first revocation's instant.
    store.revoke_api_token(zap.id, minutes(20)).await.unwrap();
    let listed = store.list_api_tokens().await.unwrap();
    assert_eq!(listed.len(), 2, "a revoked token is still listed");
    assert_eq!(listed[0].id, zap.id);
    assert_eq!(listed[0].revoked_at, Some(minutes(10)));
    assert_eq!(listed[1].revoked_at, None);

    let missing = store.revoke_api_token(crm.id + zap.id + 100, t0()).await;
    assert_not_found(missing);
}

async fn calendars_are_ordered_editable_and_kept_while_used(store: DynStore) {
    let support = new_calendar(&store, "Support").await;
    let after_a = new_calendar(&store, "After hours").await;
    let after_b = new_calendar(&store, "After hours").await;
    assert_eq!(support.definition, office_hours());
    assert_eq!((support.created_at, support.updated_at), (t0(), t0()));
    assert_eq!(
        store.calendar(support.id).await.unwrap(),
        Some(support.clone())
    );
    assert_eq!(store.calendar(after_b.id + 100).await.unwrap(), None);
    let ids = each(store.list_calendars().await.unwrap(), |c| c.id);
    assert_eq!(ids, vec![after_a.id, after_b.id, support.id]);

    let mut edit = calendar_input("Weekend");
    edit.definition =
        serde_json::from_value(json!({"timezone": "UTC", "hours": {"sat": ["10:00-14:00"]}}))
            .unwrap();
    let edited = store
        .update_calendar(after_b.id, &edit, minutes(60))
        .await
        .unwrap();
    assert_eq!(
        (edited.name.as_str(), edited.created_at, edited.updated_at),
        ("Weekend", t0(), minutes(60))
    );
    assert_eq!(edited.definition, edit.definition);
    assert_eq!(store.calendar(after_b.id).await.unwrap(), Some(edited));
    let missing = store.update_calendar(after_b.id + 100, &edit, t0()).await;
    assert_not_found(missing);

    // A policy's current version keeps its calendar.
    let policy = new_policy(&store, "Standard", "30m", Some(support.id)).await;
    let kept = store.delete_calendar(support.id).await;
    assert_conflict(kept, "calendar");
    assert!(store.calendar(support.id).await.unwrap().is_some());
    store.delete_calendar(after_a.id).await.unwrap();
    assert_eq!(store.calendar(after_a.id).await.unwrap(), None);
    let again = store.delete_calendar(after_a.id).await;
    assert_not_found(again);

    // So does an old version a conversation is still on.
    open_one_conversation(&store, policy.id).await;
    let v2 = store
        .update_policy(policy.id, &policy_input("Standard", "30m", None), t0())
        .await
        .unwrap();
    assert_eq!(v2.version, 2);
    let kept = store.delete_calendar(support.id).await;
    assert_conflict(kept, "calendar");
    // Once no conversation is on it, the old version loses the calendar instead.
    store.move_open_conversations(policy.id, 2).await.unwrap();
    store.delete_calendar(support.id).await.unwrap();
    assert_eq!(store.calendar(support.id).await.unwrap(), None);
    let v1 = store.policy_version(policy.id, 1).await.unwrap().unwrap();
    assert_eq!(v1.calendar_id, None);
    assert_eq!(v1.policy, sla("30m"));

    // A deleted policy's current version does not keep its calendar.
    let weekend = new_policy(&store, "Weekend", "2h", Some(after_b.id)).await;
    store.delete_policy(weekend.id).await.unwrap();
    store.delete_calendar(after_b.id).await.unwrap();
    assert!(store.list_calendars().await.unwrap().is_empty());
}

async fn policies_add_a_version_only_once_a_conversation_uses_one(store: DynStore) {
    let p = new_policy(&store, "Standard", "30m", None).await;
    assert_eq!(
        (p.version, p.name.as_str(), p.calendar_id, p.created_at),
        (1, "Standard", None, t0())
    );
    assert_eq!(p.policy, sla("30m"));
    assert_eq!(store.policy(p.id).await.unwrap(), Some(p.clone()));

    // No conversation uses version 1 yet: it changes in place.
    let cal = new_calendar(&store, "Office").await;
    let same = store
        .update_policy(
            p.id,
            &policy_input("Standard+", "20m", Some(cal.id)),
            minutes(5),
        )
        .await
        .unwrap();
    assert_eq!(
        (
            same.version,
            same.name.as_str(),
            same.calendar_id,
            same.created_at
        ),
        (1, "Standard+", Some(cal.id), t0())
    );
    assert_eq!(same.policy, sla("20m"));
    assert_eq!(
        store.policy_versions(p.id).await.unwrap(),
        vec![same.clone()]
    );

    open_one_conversation(&store, p.id).await;
    let v2 = store
        .update_policy(p.id, &policy_input("Standard", "10m", None), minutes(60))
        .await
        .unwrap();
    assert_eq!((v2.id, v2.version, v2.created_at), (p.id, 2, minutes(60)));
    assert_eq!(v2.policy, sla("10m"));
    assert_eq!(store.policy(p.id).await.unwrap(), Some(v2.clone()));
    assert_eq!(
        store.policy_version(p.id, 1).await.unwrap(),
        Some(same.clone()),
        "the conversation keeps its version"
    );
    assert_eq!(store.policy_version(p.id, 3).await.unwrap(), None);
    assert_eq!(
        store.policy_versions(p.id).await.unwrap(),
        vec![same.clone(), v2.clone()]
    );
    // Version 2 has no conversation yet: the next edit is again in place.
    let v2b = store
        .update_policy(p.id, &policy_input("Standard", "15m", None), minutes(90))
        .await
        .unwrap();
    assert_eq!((v2b.version, v2b.created_at), (2, minutes(60)));
    assert_eq!(store.policy_versions(p.id).await.unwrap().len(), 2);

    let a = new_policy(&store, "Alpha", "1h", None).await;
    let z = new_policy(&store, "Standard", "1h", None).await;
    let names = each(store.list_policies().await.unwrap(), |r| (r.id, r.version));
    assert_eq!(names, vec![(a.id, 1), (p.id, 2), (z.id, 1)]);
    let missing = store
        .update_policy(z.id + 100, &policy_input("X", "1h", None), t0())
        .await;
    assert_not_found(missing);
    assert_eq!(store.policy(z.id + 100).await.unwrap(), None);

    // The default policy stays until it is no longer the default.
    assert_eq!(store.default_policy().await.unwrap(), None);
    store.set_default_policy(Some(p.id)).await.unwrap();
    store.set_default_policy(Some(a.id)).await.unwrap();
    store.set_default_policy(Some(p.id)).await.unwrap();
    assert_eq!(store.default_policy().await.unwrap(), Some(p.id));
    let kept = store.delete_policy(p.id).await;
    assert_conflict(kept, "policy");
    assert!(store.policy(p.id).await.unwrap().is_some());
    store.delete_policy(a.id).await.unwrap();
    store.set_default_policy(None).await.unwrap();
    assert_eq!(store.default_policy().await.unwrap(), None);
    store.delete_policy(p.id).await.unwrap();

    assert_eq!(store.policy(p.id).await.unwrap(), None);
    let ids = each(store.list_policies().await.unwrap(), |r| r.id);
    assert_eq!(ids, vec![z.id]);
    assert_eq!(
        store.policy_version(p.id, 1).await.unwrap(),
        Some(same),
        "a deleted policy's versions stay readable"
    );
    assert_eq!(store.policy_versions(p.id).await.unwrap().len(), 2);
    for res in [
        store.delete_policy(p.id).await,
        store
            .update_policy(p.id, &policy_input("X", "1h", None), t0())
            .await
            .map(|_| ()),
        store.set_default_policy(Some(p.id)).await,
    ] {
        assert_not_found(res);
    }
}

async fn ingest_stores_each_event_once_and_derives_its_conversation(store: DynStore) {
    let p = new_policy(&store, "Standard", "30m", None).await;
    let deriver = on(Some((p.id, 1)));
    let first = store
        .ingest(
            SOURCE,
            &[
                created("e1", "c1", 0, "whatsapp"),
                message("e2", "c1", 5, "customer", "Where is my order?"),
                message("e3", "c2", 1, "customer", "Hello"),
                created("e1", "c1", 0, "whatsapp"),
            ],
            &deriver,
            minutes(10),
        )
        .await
        .unwrap();
    assert_eq!(first.len(), 4);
    let c1 = accepted(first[0]);
    assert_eq!(
        first[1],
        IngestOutcome::Accepted {
            conversation_id: c1
        }
    );
    let c2 = accepted(first[2]);
    assert_ne!(c1, c2);
    assert_eq!(
        first[3],
        IngestOutcome::Duplicate,
        "repeated within the batch"
    );

    let second = store
        .ingest(
            SOURCE,
            &[
                message("e4", "c1", 2, "agent", "Let me look."),
                message("e2", "c1", 5, "customer", "Where is my order?"),
                message("e3", "ghost", 1, "customer", "Hello"),
                message("e5", "c1", 2, "customer", "Thanks"),
            ],
            &deriver,
            minutes(20),
        )
        .await
        .unwrap();
    assert_eq!(
        second,
        vec![
            IngestOutcome::Accepted {
                conversation_id: c1
            },
            IngestOutcome::Duplicate,
            IngestOutcome::Duplicate,
            IngestOutcome::Accepted {
                conversation_id: c1
            },
        ]
    );
    assert_eq!(
        store
            .conversation_by_external_id(SOURCE, "ghost")
            .await
            .unwrap(),
        None,
        "a duplicate event creates no conversation"
    );

    let events = store.conversation_events(c1).await.unwrap();
    let ids: Vec<_> = events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(
        ids,
        vec!["e1", "e4", "e5", "e2"],
        "ordered by `at`, then arrival"
    );
    assert_eq!(events[1], message("e4", "c1", 2, "agent", "Let me look."));
    assert_eq!(
        store.conversation_events(c2 + c1 + 100).await.unwrap(),
        vec![]
    );

    let row = by_external_id(&store, "c1").await;
    assert_eq!(store.conversation(c1).await.unwrap(), Some(row.clone()));
    assert_eq!(
        (row.id, row.policy_id, row.policy_version),
        (c1, Some(p.id), Some(1))
    );
    assert_eq!(row.summary, fold(&events).unwrap().0);
    assert_eq!(row.summary.channel, Channel::Whatsapp);
    assert_eq!(row.summary.owner.as_deref(), Some("a@x.io"));
    assert_eq!(row.due_at, Some(minutes(60)));
    assert_eq!((row.created_at, row.updated_at), (minutes(10), minutes(20)));

    let row2 = store.conversation(c2).await.unwrap().unwrap();
    assert_eq!(row2.external_id, "c2");
    assert_eq!(row2.summary.channel, Channel::Webchat);
    assert_eq!(row2.summary.last_message.as_deref(), Some("Hello"));
    assert_eq!(
        (row2.due_at, row2.updated_at),
        (Some(minutes(61)), minutes(10))
    );
    assert_eq!(store.conversation(c2 + c1 + 100).await.unwrap(), None);
    assert_eq!(
        store
            .conversation_by_external_id(SOURCE, "c9")
            .await
            .unwrap(),
        None
    );

    // The status column follows the summary.
    store
        .ingest(
            SOURCE,
            &[updated("e6", "c2", 30, json!({"status": "resolved"}))],
            &deriver,
            minutes(30),
        )
        .await
        .unwrap();
    let row2 = store.conversation(c2).await.unwrap().unwrap();
    assert_eq!(row2.summary.status, ConversationStatus::Resolved);
    assert_eq!(row2.due_at, None);
    let resolved = store
        .list_conversations(&ConversationFilter {
            statuses: vec!["resolved".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(resolved, vec![row2]);

    // A batch that fails half-way leaves nothing behind.
    let failing = vec![
        message("e7", "c1", 40, "customer", "Hello?"),
        created("e8", "c9", 41, "sms"),
    ];
    let task = {
        let store = store.clone();
        let failing = failing.clone();
        tokio::spawn(async move {
            store
                .ingest(SOURCE, &failing, &PanickingDeriver, minutes(40))
                .await
        })
    };
    assert!(task.await.is_err(), "the deriver panicked");
    assert_eq!(store.conversation_events(c1).await.unwrap(), events);
    assert_eq!(
        store
            .conversation_by_external_id(SOURCE, "c9")
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.conversation(c1).await.unwrap(), Some(row));
    let retried = store
        .ingest(SOURCE, &failing, &on(None), minutes(50))
        .await
        .unwrap();
    assert_eq!(
        retried[0],
        IngestOutcome::Accepted {
            conversation_id: c1
        }
    );
    let c9 = by_external_id(&store, "c9").await;
    assert_eq!(
        retried[1],
        IngestOutcome::Accepted {
            conversation_id: c9.id
        }
    );
    assert_eq!((c9.policy_id, c9.policy_version), (None, None));
    assert_eq!(c9.due_at, Some(minutes(41 + 60)));
}

async fn the_queue_filters_and_orders_conversations(store: DynStore) {
    let (p, q) = (Some((1, 1)), Some((2, 1)));
    for (events, policy, now) in [
        // due t0+60m, team billing, on p
        (
            vec![event(
                "a1",
                "a",
                0,
                json!({"type": "conversation.created", "channel": "whatsapp", "team": "billing"}),
            )],
            p,
            t0(),
        ),
        // due t0+30m, owned by a@x.io, on p
        (
            vec![
                created("b1", "b", -30, "email"),
                message("b2", "b", -20, "agent", "Hi"),
            ],
            p,
            t0(),
        ),
        // resolved (never due), updated at t0
        (
            vec![
                created("c1", "c", -120, "webchat"),
                updated("c2", "c", -100, json!({"status": "resolved"})),
            ],
            q,
            t0(),
        ),
        // due t0+70m, pending, on q
        (
            vec![
                created("d1", "d", 10, "sms"),
                updated(
                    "d2",
                    "d",
                    11,
                    json!({"status": "pending", "team": "billing"}),
                ),
            ],
            q,
            t0(),
        ),
        // resolved (never due), updated later than c
        (
            vec![
                created("e1", "e", -200, "webchat"),
                updated("e2", "e", -190, json!({"status": "resolved"})),
            ],
            q,
            minutes(5),
        ),
    ] {
        store
            .ingest(SOURCE, &events, &on(policy), now)
            .await
            .unwrap();
    }

    let filter = |change: fn(&mut ConversationFilter)| {
        let mut f = ConversationFilter::default();
        change(&mut f);
        f
    };
    let cases: [(ConversationFilter, &[&str]); 15] = [
        (filter(|_| {}), &["b", "a", "d", "e", "c"]),
        (filter(|f| f.limit = 2), &["b", "a"]),
        // A page of the queue further down, and past its end.
        (
            filter(|f| {
                f.limit = 2;
                f.offset = 2;
            }),
            &["d", "e"],
        ),
        (filter(|f| f.offset = 4), &["c"]),
        (filter(|f| f.offset = 5), &[]),
        (filter(|f| f.statuses = vec!["open".into()]), &["b", "a"]),
        (
            filter(|f| f.statuses = vec!["pending".into(), "resolved".into()]),
            &["d", "e", "c"],
        ),
        (filter(|f| f.policy_id = Some(2)), &["d", "e", "c"]),
        (filter(|f| f.channel = Some("email".into())), &["b"]),
        (filter(|f| f.team = Some("billing".into())), &["a", "d"]),
        (filter(|f| f.owner = Some(Some("a@x.io".into()))), &["b"]),
        (filter(|f| f.owner = Some(None)), &["a", "d", "e", "c"]),
        // Strictly before.
        (filter(|f| f.due_before = Some(minutes(60))), &["b"]),
        (
            filter(|f| {
                f.statuses = vec!["open".into(), "pending".into()];
                f.team = Some("billing".into());
                f.policy_id = Some(1);
                f.owner = Some(None);
                f.due_before = Some(minutes(61));
            }),
            &["a"],
        ),
        (filter(|f| f.channel = Some("fax".into())), &[]),
    ];
    for (f, expected) in cases {
        let queue = each(store.list_conversations(&f).await.unwrap(), |r| {
            r.external_id
        });
        assert_eq!(queue, expected, "{f:?}");
    }
    // The count and the teams ignore the page: what the whole queue under the filter holds.
    let counted = [
        (filter(|f| f.limit = 1), (5, vec!["billing".to_string()])),
        (
            filter(|f| {
                f.offset = 3;
                f.channel = Some("email".into());
            }),
            (1, vec![]),
        ),
        (
            filter(|f| f.statuses = vec!["open".into(), "pending".into()]),
            (3, vec!["billing".to_string()]),
        ),
        (filter(|f| f.channel = Some("fax".into())), (0, vec![])),
        (
            filter(|f| f.team = Some("billing".into())),
            (2, vec!["billing".to_string()]),
        ),
        (
            filter(|f| f.team = Some("sales".into())),
            (0, vec!["billing".to_string()]),
        ),
    ];
    for (f, expected) in counted {
        assert_eq!(
            store.count_conversations(&f).await.unwrap(),
            expected,
            "{f:?}"
        );
    }
}

async fn open_conversations_move_to_a_new_version_and_rederive(store: DynStore) {
    let p = new_policy(&store, "Standard", "30m", None).await;
    let v1 = on(Some((p.id, 1)));
    let other = on(Some((p.id + 1, 1)));
    let ids = |o: Vec<IngestOutcome>| o.into_iter().map(accepted).collect::<Vec<_>>();
    let open = ids(store
        .ingest(
            SOURCE,
            &[
                created("x1", "x", 0, "email"),
                created("y1", "y", 0, "email"),
                updated("y2", "y", 1, json!({"status": "resolved"})),
                created("w1", "w", 2, "email"),
                updated("w2", "w", 3, json!({"status": "snoozed"})),
            ],
            &v1,
            t0(),
        )
        .await
        .unwrap());
    let (x, y, w) = (open[0], open[1], open[3]);
    let z = ids(store
        .ingest(SOURCE, &[created("z1", "z", 0, "email")], &other, t0())
        .await
        .unwrap())[0];
    let v2 = store
        .update_policy(p.id, &policy_input("Standard", "10m", None), minutes(10))
        .await
        .unwrap();
    assert_eq!(v2.version, 2);

    let mut expected = vec![x, w];
    expected.sort_unstable();
    assert_eq!(
        store.move_open_conversations(p.id, 2).await.unwrap(),
        expected
    );
    let version = |id: i64| {
        let store = store.clone();
        async move {
            store
                .conversation(id)
                .await
                .unwrap()
                .unwrap()
                .policy_version
        }
    };
    assert_eq!(version(x).await, Some(2));
    assert_eq!(version(w).await, Some(2));
    assert_eq!(version(y).await, Some(1), "resolved conversations stay");
    assert_eq!(version(z).await, Some(1), "another policy's stay");
    assert_eq!(
        store.conversation(z).await.unwrap().unwrap().policy_id,
        Some(p.id + 1)
    );

    // Moving does not derive; rederive does, with the new version.
    let before = store.conversation(x).await.unwrap().unwrap();
    assert_eq!(before.due_at, Some(minutes(60)));
    store.rederive(x, &v1, minutes(30)).await.unwrap();
    let after = store.conversation(x).await.unwrap().unwrap();
    assert_eq!(after.due_at, Some(minutes(120)));
    assert_eq!(after.updated_at, minutes(30));
    assert_eq!(after.summary, before.summary);
    let missing = store.rederive(x + y + z + w + 100, &v1, t0()).await;
    assert_not_found(missing);

    // Many at once: each as committed, with its events; unknown ids are skipped.
    let v3 = on(Some((p.id, 3)));
    let many = store
        .rederive_many(&[y, x, x + y + z + w + 100], &v3, minutes(40))
        .await
        .unwrap();
    let mut ids: Vec<i64> = many.iter().map(|t| t.row.id).collect();
    ids.sort();
    let mut want = vec![x, y];
    want.sort();
    assert_eq!(ids, want);
    for t in &many {
        let stored = store.conversation(t.row.id).await.unwrap().unwrap();
        assert_eq!(stored, t.row);
        assert_eq!(stored.updated_at, minutes(40));
        assert_eq!(t.events, store.conversation_events(t.row.id).await.unwrap());
    }
    let x_row = store.conversation(x).await.unwrap().unwrap();
    assert_eq!(
        x_row.due_at,
        Some(minutes(120)),
        "derived under the version the conversation is on (2), not the deriver's initial one"
    );
    assert!(store
        .move_open_conversations(p.id + 100, 2)
        .await
        .unwrap()
        .is_empty());
}

async fn ingest_reports_what_it_committed_and_writes_move_the_catalog_generation(store: DynStore) {
    let g0 = store.catalog_generation().await.unwrap();
    let cal = new_calendar(&store, "Office").await;
    let g1 = store.catalog_generation().await.unwrap();
    assert!(g1 > g0, "creating a calendar moves the generation");
    let p = new_policy(&store, "Gold", "20m", Some(cal.id)).await;
    let g2 = store.catalog_generation().await.unwrap();
    assert!(g2 > g1, "creating a policy moves the generation");
    store.set_default_policy(Some(p.id)).await.unwrap();
    let g3 = store.catalog_generation().await.unwrap();
    assert!(g3 > g2, "the default policy moves the generation");

    let deriver = on(Some((p.id, p.version)));
    let first = store
        .ingest_batch(
            SOURCE,
            &[
                message("r1", "a", 3, "customer", "Hi"),
                created("r0", "a", 0, "email"),
                message("r2", "b", 1, "customer", "Hello"),
            ],
            &deriver,
            minutes(5),
        )
        .await
        .unwrap();
    assert_eq!(
        store.catalog_generation().await.unwrap(),
        g3,
        "ingest leaves the catalog alone"
    );
    let touched: Vec<(&str, Vec<&str>)> = first
        .touched
        .iter()
        .map(|t| {
            (
                t.row.external_id.as_str(),
                t.events.iter().map(|e| e.id.as_str()).collect(),
            )
        })
        .collect();
    assert_eq!(touched, vec![("a", vec!["r1", "r0"]), ("b", vec!["r2"])]);
    for t in &first.touched {
        assert_eq!(
            store.conversation(t.row.id).await.unwrap().as_ref(),
            Some(&t.row),
            "the report holds the row as committed"
        );
    }
    let a = first.touched[0].row.id;
    let b = first.touched[1].row.id;
    assert_eq!(first.touched[0].row.summary.channel, Channel::Email);

    // A later batch reports the stored events too, and only the touched conversations.
    let second = store
        .ingest_batch(
            SOURCE,
            &[
                message("r3", "a", 1, "agent", "Hello, how can I help?"),
                message("r1", "a", 3, "customer", "Hi"),
            ],
            &deriver,
            minutes(6),
        )
        .await
        .unwrap();
    assert_eq!(second.touched.len(), 1);
    let mut ids: Vec<&str> = second.touched[0]
        .events
        .iter()
        .map(|e| e.id.as_str())
        .collect();
    ids.sort();
    assert_eq!(ids, vec!["r0", "r1", "r3"]);
    assert_eq!(
        store.conversation(a).await.unwrap().as_ref(),
        Some(&second.touched[0].row)
    );
    assert_eq!(second.touched[0].row.updated_at, minutes(6));

    let all = store.events_of(&[b, a, a + b + 100]).await.unwrap();
    assert_eq!(all.len(), 2, "conversations without events are absent");
    let order: Vec<&str> = all[&a].iter().map(|e| e.id.as_str()).collect();
    assert_eq!(
        order,
        vec!["r0", "r3", "r1"],
        "ordered by `at`, then arrival"
    );
    assert_eq!(all[&a], store.conversation_events(a).await.unwrap());
    assert_eq!(all[&b].len(), 1);
    assert!(store.events_of(&[]).await.unwrap().is_empty());

    // Two writers racing with the same batch: every event is stored exactly once.
    let batch: Vec<IncomingEvent> = (0..200)
        .map(|i| {
            message(
                &format!("race{i}"),
                &format!("rc{}", i % 7),
                i,
                "customer",
                "x",
            )
        })
        .collect();
    let tasks: Vec<_> = (0..2)
        .map(|_| {
            let store = store.clone();
            let batch = batch.clone();
            tokio::spawn(async move { store.ingest(SOURCE, &batch, &on(None), minutes(7)).await })
        })
        .collect();
    let mut accepted_total = 0;
    for t in tasks {
        let outcomes = t.await.unwrap().unwrap();
        accepted_total += outcomes
            .iter()
            .filter(|o| matches!(o, IngestOutcome::Accepted { .. }))
            .count();
    }
    assert_eq!(accepted_total, 200, "each event accepted once in all");
    let mut stored = 0;
    for c in 0..7 {
        let row = by_external_id(&store, &format!("rc{c}")).await;
        let events = store.conversation_events(row.id).await.unwrap();
        assert_eq!(row.summary, fold(&events).unwrap().0);
        stored += events.len();
    }
    assert_eq!(stored, 200);
}

/// A rule named `name` that labels urgent new conversations (and signs a webhook).
fn rule(name: &str) -> RuleDefinition {
    parse_rule(
        &json!({"name": name, "enabled": true, "event": "conversation.created", "match": "all",
            "conditions": [{"field": "priority", "op": "is", "value": "urgent"}],
            "actions": [{"type": "add_label", "label": "vip"},
                        {"type": "webhook", "url": "https://hooks.example/a", "secret": "s3cret"}],
            "stop": false}),
        |_| true,
        |_| true,
    )
    .unwrap()
}

async fn rule_names(store: &DynStore) -> Vec<(String, i64)> {
    each(store.list_rules().await.unwrap(), |r| {
        (r.definition.name, r.position)
    })
}

async fn rules_keep_their_order_and_count_their_runs(store: DynStore) {
    assert!(store.list_rules().await.unwrap().is_empty());
    let g0 = store.catalog_generation().await.unwrap();
    let a = store.create_rule(&rule("A"), t0()).await.unwrap();
    let g1 = store.catalog_generation().await.unwrap();
    assert!(g1 > g0, "creating a rule moves the catalog generation");
    let b = store.create_rule(&rule("B"), minutes(1)).await.unwrap();
    let c = store.create_rule(&rule("C"), minutes(2)).await.unwrap();
    assert_eq!((a.position, b.position, c.position), (0, 1, 2));
    assert_eq!(a.definition, rule("A"), "the definition reads back whole");
    assert_eq!((a.created_at, a.updated_at), (t0(), t0()));
    assert_eq!(store.rule(a.id).await.unwrap(), Some(a.clone()));
    assert_eq!(store.rule(a.id + b.id + c.id).await.unwrap(), None);
    assert_eq!(
        rule_names(&store).await,
        vec![("A".into(), 0), ("B".into(), 1), ("C".into(), 2)]
    );

    // An update keeps the rule's place and creation time.
    let g2 = store.catalog_generation().await.unwrap();
    let b2 = store
        .update_rule(b.id, &rule("B2"), minutes(5))
        .await
        .unwrap();
    assert_eq!(
        (b2.id, b2.position, b2.created_at, b2.updated_at),
        (b.id, 1, minutes(1), minutes(5))
    );
    assert_eq!(b2.definition, rule("B2"));
    assert!(store.catalog_generation().await.unwrap() > g2);
    let missing = store.update_rule(9999, &rule("X"), minutes(5)).await;
    assert_not_found(missing);

    // Reordering sets positions 0.. in the order given.
    store.reorder_rules(&[c.id, a.id, b.id]).await.unwrap();
    assert_eq!(
        rule_names(&store).await,
        vec![("C".into(), 0), ("A".into(), 1), ("B2".into(), 2)]
    );
    // Anything but every rule exactly once is refused, and nothing changes.
    for bad in [
        vec![c.id, a.id],
        vec![c.id, a.id, b.id, b.id],
        vec![c.id, a.id, 9999],
        vec![c.id, a.id, a.id],
        vec![],
    ] {
        let res = store.reorder_rules(&bad).await;
        assert!(
            matches!(res, Err(StoreError::Invalid { field: "ids", .. })),
            "{bad:?}: {res:?}"
        );
    }
    assert_eq!(
        rule_names(&store).await,
        vec![("C".into(), 0), ("A".into(), 1), ("B2".into(), 2)]
    );

    // Deleting (a mark: runs and deliveries keep naming it); a new rule goes after the last.
    store.delete_rule(a.id, minutes(5)).await.unwrap();
    let again = store.delete_rule(a.id, minutes(5)).await;
    assert_not_found(again);
    assert_eq!(store.rule(a.id).await.unwrap(), None);
    assert_not_found(store.update_rule(a.id, &rule("A again"), minutes(5)).await);
    let d = store.create_rule(&rule("D"), minutes(6)).await.unwrap();
    assert_eq!(d.position, 3);
    assert_eq!(
        rule_names(&store).await,
        vec![("C".into(), 0), ("B2".into(), 2), ("D".into(), 3)]
    );
    store.reorder_rules(&[d.id, b.id, c.id]).await.unwrap();
    assert_eq!(
        rule_names(&store).await,
        vec![("D".into(), 0), ("B2".into(), 1), ("C".into(), 2)]
    );

    // Runs are counted per rule from an instant on (inclusive); they leave the catalog alone.
    let g3 = store.catalog_generation().await.unwrap();
    for (rule_id, conversation, trigger, at) in [
        (c.id, 1, "conversation.created", minutes(-5)),
        (c.id, 1, "conversation.created", minutes(10)),
        (c.id, 2, "message.created", minutes(20)),
        (b.id, 1, "sla.breached", minutes(30)),
    ] {
        store
            .record_rule_run(rule_id, conversation, trigger, at)
            .await
            .unwrap();
    }
    assert_eq!(store.catalog_generation().await.unwrap(), g3);
    let counts = store.rule_fire_counts(minutes(0)).await.unwrap();
    assert_eq!(counts, [(c.id, 2), (b.id, 1)].into_iter().collect());
    let counts = store.rule_fire_counts(minutes(20)).await.unwrap();
    assert_eq!(counts, [(c.id, 1), (b.id, 1)].into_iter().collect());
    assert!(store
        .rule_fire_counts(minutes(31))
        .await
        .unwrap()
        .is_empty());
}

/// Queues a delivery to each of `receivers` (in order) for any conversation it is run on.
struct QueuesDeliveries(&'static [&'static str]);

impl Automator for QueuesDeliveries {
    fn run(&self, input: AutomationInput<'_>) -> AutomationOutput {
        AutomationOutput {
            outbox: self
                .0
                .iter()
                .map(|receiver| NewOutbox {
                    kind: "webhook",
                    rule_id: None,
                    account_id: None,
                    url: format!("https://{receiver}/hook"),
                    receiver: receiver.to_string(),
                    secret: "s3cret".into(),
                    body: "{}".into(),
                    message_id: None,
                })
                .collect(),
            done_until: Some(input.now),
            ..AutomationOutput::default()
        }
    }
}

/// Handles any conversation it is run on, with rules read at `generation`.
struct RulesAt(i64);

impl Automator for RulesAt {
    fn run(&self, input: AutomationInput<'_>) -> AutomationOutput {
        AutomationOutput {
            done_until: Some(input.now),
            ..AutomationOutput::default()
        }
    }

    fn catalog_generation(&self) -> Option<i64> {
        Some(self.0)
    }
}

async fn a_pass_with_rules_older_than_the_catalog_handles_nothing(store: DynStore) {
    store
        .ingest(SOURCE, &[created("s0", "s", 0, "email")], &on(None), t0())
        .await
        .unwrap();
    let generation = store.catalog_generation().await.unwrap();
    let at = minutes(61);
    // A rule was written after these rules were read: the due conversation is left alone.
    let pass = store
        .automation_pass(&RulesAt(generation - 1), at, 10)
        .await
        .unwrap();
    assert!(pass.stale);
    assert_eq!(pass.handled, 0);
    assert_eq!(store.sla_schedule().await.unwrap().len(), 1, "still due");
    let pass = store
        .automation_pass(&RulesAt(generation), at, 10)
        .await
        .unwrap();
    assert!(!pass.stale);
    assert_eq!(pass.handled, 1);
}

async fn deliveries_are_claimed_by_receiver_and_finished_under_their_lease(store: DynStore) {
    store
        .ingest(SOURCE, &[created("d0", "d", 0, "email")], &on(None), t0())
        .await
        .unwrap();
    // Due an hour after its first event (TestDeriver): the pass queues four deliveries.
    let at = minutes(61);
    let pass = store
        .automation_pass(
            &QueuesDeliveries(&[
                "a.example:443",
                "a.example:443",
                "b.example:443",
                "a.example:443",
            ]),
            at,
            10,
        )
        .await
        .unwrap();
    assert!(pass.queued_deliveries);
    let due = store.due_outbox(at, &[], 10).await.unwrap();
    let ids: Vec<i64> = due.iter().map(|d| d.0).collect();
    assert_eq!(
        due.iter().map(|d| d.1.as_str()).collect::<Vec<_>>(),
        [
            "a.example:443",
            "a.example:443",
            "b.example:443",
            "a.example:443"
        ],
        "oldest first, with their receivers"
    );
    // A full receiver is passed over.
    let others = store
        .due_outbox(at, &["a.example:443".to_string()], 10)
        .await
        .unwrap();
    assert_eq!(others, [(ids[2], "b.example:443".to_string())]);
    assert_eq!(store.due_outbox(at, &[], 2).await.unwrap().len(), 2);

    // A claim takes what is still due; a second claim of the same ones gets nothing.
    let lease_until = at + Duration::seconds(60);
    let claimed = store
        .claim_outbox(&ids[..2], at, lease_until, "lease-1")
        .await
        .unwrap();
    assert_eq!(claimed.iter().map(|c| c.id).collect::<Vec<_>>(), ids[..2]);
    assert_eq!(claimed[0].receiver, "a.example:443");
    assert_eq!(claimed[0].next_attempt_at, lease_until);
    let again = store
        .claim_outbox(&ids[..2], at, lease_until, "lease-2")
        .await
        .unwrap();
    assert!(again.is_empty(), "held by the first claim");
    assert_eq!(
        store.due_outbox(at, &[], 10).await.unwrap().len(),
        2,
        "claimed deliveries are not due"
    );

    // An outcome is recorded only under the claim that holds the delivery.
    let failed = OutboxOutcome::Failed {
        error: "the receiver answered 500".into(),
        retry_at: Some(at + Duration::seconds(10)),
    };
    assert!(!store
        .finish_outbox(ids[0], "lease-2", &OutboxOutcome::Delivered, at)
        .await
        .unwrap());
    assert!(store
        .finish_outbox(ids[0], "lease-1", &failed, at)
        .await
        .unwrap());
    assert!(
        !store
            .finish_outbox(ids[0], "lease-1", &OutboxOutcome::Delivered, at)
            .await
            .unwrap(),
        "once recorded, the claim is spent"
    );
    // When a lease runs out, another claim takes the delivery, and the stale claim's outcome
    // no longer counts.
    let after = lease_until + Duration::seconds(1);
    let retaken = store
        .claim_outbox(&ids[1..2], after, after + Duration::seconds(60), "lease-3")
        .await
        .unwrap();
    assert_eq!(retaken.len(), 1);
    assert!(!store
        .finish_outbox(ids[1], "lease-1", &OutboxOutcome::Delivered, after)
        .await
        .unwrap());
    assert!(store
        .finish_outbox(ids[1], "lease-3", &OutboxOutcome::Delivered, after)
        .await
        .unwrap());
    let listed = store.list_outbox(None, 10).await.unwrap();
    let by_id = |id: i64| listed.iter().find(|o| o.id == id).unwrap();
    assert_eq!(by_id(ids[0]).status, "pending");
    assert_eq!(by_id(ids[0]).attempts, 1);
    assert_eq!(
        by_id(ids[0]).last_error.as_deref(),
        Some("the receiver answered 500")
    );
    assert_eq!(by_id(ids[0]).next_attempt_at, at + Duration::seconds(10));
    assert_eq!(by_id(ids[1]).status, "delivered");
    assert_eq!(by_id(ids[1]).attempts, 1, "one attempt recorded, not two");
}

/// 400 conversations over late October and November, of every kind the compliance query
/// distinguishes: answered, resolved or left unanswered, still waiting, surveyed.
fn compliance_events() -> Vec<IncomingEvent> {
    let channels = ["whatsapp", "email", "webchat", "sms"];
    let teams = [json!(null), json!("T1"), json!(" t1"), json!("billing")];
    let labels = [
        json!(["vip"]),
        json!([]),
        json!(["VIP", "x"]),
        json!(["o'brien"]),
    ];
    let contacts = [
        json!({"email": "a@bigcorp.com"}),
        json!({"email": "b@eu.bigcorp.com"}),
        json!({"email": "c@other.com"}),
        json!(null),
    ];
    let mut out = Vec::new();
    for i in 0..400usize {
        let conv = format!("comp-{i}");
        let m = -((i as i64 * 137) % 50_000);
        out.push(event(
            &format!("{conv}-c"),
            &conv,
            m,
            json!({"type": "conversation.created", "channel": channels[i % 4],
                   "team": teams[(i / 4) % 4], "labels": labels[(i / 3) % 4],
                   "contact": contacts[(i / 5) % 4]}),
        ));
        let wait = (i % 9) as i64;
        match i % 5 {
            0 | 4 => out.push(message(
                &format!("{conv}-a"),
                &conv,
                m + wait,
                "agent",
                "hi",
            )),
            1 => out.push(updated(
                &format!("{conv}-r"),
                &conv,
                m + wait,
                json!({"status": "resolved"}),
            )),
            2 => out.push(event(
                &format!("{conv}-l"),
                &conv,
                m + wait,
                json!({"type": "conversation.left"}),
            )),
            _ => {}
        }
        if i % 5 == 4 {
            let kind = ["csat", "nps", "ces"][(i / 5) % 3];
            out.push(event(
                &format!("{conv}-s"),
                &conv,
                m + 30,
                json!({"type": "survey.submitted", "survey": kind, "score": (i % 6) as i64}),
            ));
        }
        if i % 3 == 0 {
            out.push(updated(
                &format!("{conv}-o"),
                &conv,
                m + 1,
                json!({"owner": format!("agent{}@x.io", i % 2)}),
            ));
        }
    }
    out
}

async fn compliance_counts_agree_with_the_domain_tally(store: DynStore) {
    let events = compliance_events();
    for chunk in events.chunks(250) {
        store.ingest(SOURCE, chunk, &on(None), t0()).await.unwrap();
    }
    assert!(store
        .conversations_without_facts(10)
        .await
        .unwrap()
        .is_empty());
    // The facts as the domain computes them.
    let mut by_conv: std::collections::BTreeMap<&str, Vec<IncomingEvent>> = Default::default();
    for e in &events {
        by_conv
            .entry(e.conversation.as_str())
            .or_default()
            .push(e.clone());
    }
    let records: Vec<FactsRecord> = by_conv
        .values()
        .map(|evs| on(None).derive(None, evs).unwrap().facts.unwrap())
        .collect();
    // Every metric kind, the service level under each formula (ASA is metric 7).
    let metrics = every_metric();
    let scopes = [
        json!({}),
        json!({"teams": ["t1"]}),
        json!({"channels": ["email", "sms"], "labels": ["vip", "O'Brien"]}),
        json!({"email_domains": ["bigcorp.com"]}),
        json!({"email_domains": [".bigcorp.com"]}),
        json!({"email_domains": ["@bigcorp.com"], "teams": ["billing", "T1"]}),
    ];
    let mut nonempty = 0;
    for scope in scopes {
        let contract = Contract::from_json(json!({
            "name": "c", "counterparty_kind": "client", "counterparty": "X",
            "review_date": "2027-01-01", "scope": scope, "metrics": metrics,
            "remedies": {"currency": "EUR"}
        }))
        .unwrap();
        for period in ["2026-11", "2026-10", "2026-W47"] {
            let period = PeriodKey::parse(period).unwrap();
            for now in [t0() - Duration::minutes(20), t0() + Duration::hours(2)] {
                let facts: Vec<_> = records.iter().map(|r| r.at(now, None)).collect();
                let expected = group_counts(&contract.metrics, contract.select(period, &facts));
                let mut got = store
                    .compliance_groups(&contract, period, now)
                    .await
                    .unwrap();
                got.sort_by(|a, b| {
                    (&a.team, &a.owner, a.channel.as_str()).cmp(&(
                        &b.team,
                        &b.owner,
                        b.channel.as_str(),
                    ))
                });
                assert_eq!(
                    got, expected,
                    "scope {:?}, period {period}, now {now}",
                    contract.scope
                );
                nonempty += usize::from(!got.is_empty());
            }
        }
    }
    assert!(nonempty > 20, "{nonempty}");

    // The drill-down lists what a metric counts, worst first.
    let contract = Contract::from_json(json!({
        "name": "c", "counterparty_kind": "client", "counterparty": "X",
        "review_date": "2027-01-01", "metrics": metrics, "remedies": {"currency": "EUR"}
    }))
    .unwrap();
    let period = PeriodKey::parse("2026-11").unwrap();
    let asa = contract.metrics[7].kind;
    let rows = store
        .compliance_conversations(&contract, asa, period, None, t0(), 1000)
        .await
        .unwrap();
    let groups = store
        .compliance_groups(&contract, period, t0())
        .await
        .unwrap();
    let answered: i64 = groups.iter().map(|g| g.tallies[7].1).sum();
    assert_eq!(rows.len() as i64, answered);
    assert!(rows.windows(2).all(|w| w[0].numerator >= w[1].numerator));
    let by_team = store
        .compliance_conversations(
            &contract,
            asa,
            period,
            Some(&promptly_server::store::facts::GroupFilter::Teams(vec![
                "T1".into(),
            ])),
            t0(),
            1000,
        )
        .await
        .unwrap();
    assert!(!by_team.is_empty() && by_team.len() < rows.len());
    assert!(
        by_team
            .iter()
            .all(|r| r.team.as_deref().map(str::trim) == Some("t1")
                || r.team.as_deref() == Some("T1"))
    );
}

/// One change the rollups property test makes (indexes pick from small fixed lists).
#[derive(Debug, Clone)]
enum RollupStep {
    /// A conversation's first event `m` minutes after `t0()` (a later one moves its start).
    Create {
        conv: u8,
        channel: u8,
        team: u8,
        labels: u8,
        contact: u8,
        m: i64,
    },
    Message {
        conv: u8,
        agent: bool,
        m: i64,
    },
    Update {
        conv: u8,
        team: u8,
        owner: u8,
        labels: u8,
        resolve: bool,
        m: i64,
    },
    Survey {
        conv: u8,
        kind: u8,
        score: u8,
        m: i64,
    },
    Compact,
    /// A contract is added (its rollups are built from the facts as they are).
    AddContract,
    /// The last contract added is deleted and its rollups dropped.
    DropContract,
}

fn rollup_steps() -> impl proptest::strategy::Strategy<Value = Vec<RollupStep>> {
    use proptest::prelude::*;
    // From late September to `t0()`, so that conversations fall in and move between
    // months, quarters and weeks.
    let m = || -86_400i64..=0;
    let conv = || 0u8..24;
    let step = prop_oneof![
        4 => (conv(), 0u8..4, 0u8..4, 0u8..4, 0u8..4, m()).prop_map(
            |(conv, channel, team, labels, contact, m)| RollupStep::Create {
                conv, channel, team, labels, contact, m
            }
        ),
        3 => (conv(), any::<bool>(), m())
            .prop_map(|(conv, agent, m)| RollupStep::Message { conv, agent, m }),
        3 => (conv(), 0u8..4, 0u8..3, 0u8..4, any::<bool>(), m()).prop_map(
            |(conv, team, owner, labels, resolve, m)| RollupStep::Update {
                conv, team, owner, labels, resolve, m
            }
        ),
        1 => (conv(), 0u8..3, 0u8..11, m())
            .prop_map(|(conv, kind, score, m)| RollupStep::Survey { conv, kind, score, m }),
        1 => Just(RollupStep::Compact),
        1 => Just(RollupStep::AddContract),
        1 => Just(RollupStep::DropContract),
    ];
    proptest::collection::vec(step, 1..14)
}

/// Every metric kind, the service level under each formula.
fn every_metric() -> Vec<serde_json::Value> {
    let service_levels = ServiceLevelFormula::ALL.map(|formula| {
        json!({"kind": "service_level", "within_s": 240, "formula": formula, "target": 80, "period": "month"})
    });
    [
        json!({"kind": "frt_attainment", "target": 90, "period": "month"}),
        json!({"kind": "nrt_attainment", "target": 90, "period": "month"}),
        json!({"kind": "rt_attainment", "target": 90, "period": "month"}),
    ]
    .into_iter()
    .chain(service_levels)
    .chain([
        json!({"kind": "asa", "target": 60, "period": "month"}),
        json!({"kind": "abandonment_rate", "short_abandon_s": 120, "target": 5, "period": "month"}),
        json!({"kind": "csat", "target": 80, "period": "month"}),
        json!({"kind": "nps", "target": 20, "period": "month"}),
        json!({"kind": "ces", "target": 3, "period": "month"}),
    ])
    .collect()
}

/// Compliance read from the rollups equals the plain aggregate over the facts rows after
/// any sequence of changes: conversations created, answered, moved between teams, owners,
/// labels, months and weeks, resolved, surveyed; clocks started, stopped and run out;
/// rollups compacted; contracts added (built from the data) and dropped.
async fn compliance_rollups_equal_the_aggregate_after_any_changes(store: DynStore) {
    use proptest::strategy::{Strategy, ValueTree};
    let scopes = [
        json!({}),
        json!({"teams": ["t1", "Billing"], "channels": ["email", "whatsapp", "sms"]}),
        json!({"labels": ["vip"], "email_domains": [".bigcorp.com"]}),
        json!({"channels": ["webchat"]}),
        json!({"email_domains": ["@bigcorp.com"], "labels": ["o'brien", "x"]}),
    ];
    let metrics = every_metric();
    let contract_of = |scope: &serde_json::Value, n: usize| {
        // Contracts of different widths: the first n metrics.
        Contract::from_json(json!({
            "name": "c", "counterparty_kind": "client", "counterparty": "X",
            "review_date": "2027-01-01", "scope": scope, "metrics": metrics[..n],
            "remedies": {"currency": "EUR"}
        }))
        .unwrap()
    };
    let periods = [
        "2026-11", "2026-10", "2026-09", "2026-Q4", "2026-W47", "2026-W44",
    ]
    .map(|p| PeriodKey::parse(p).unwrap());
    let nows = [t0() - Duration::minutes(30), t0() + Duration::days(1)];
    let agree = |store: DynStore, contracts: Vec<Contract>, all: bool, at: String| async move {
        for c in &contracts {
            for (i, period) in periods.iter().enumerate() {
                for (j, now) in nows.iter().enumerate() {
                    if !all && (i > 0 && i != 4 || j > 0) {
                        continue;
                    }
                    let rolled = store.compliance_groups(c, *period, *now).await.unwrap();
                    let plain = store
                        .compliance_groups_aggregate(c, *period, *now)
                        .await
                        .unwrap();
                    assert_eq!(rolled, plain, "{at}: scope {:?}, {period}, {now}", c.scope);
                }
            }
            if !all {
                continue;
            }
            // Trends: each period's totals equal the sums of its aggregate groups.
            for (last, n) in [("2026-11", 3), ("2026-W47", 4), ("2026-Q4", 2)] {
                let periods = PeriodKey::parse(last).unwrap().previous(n);
                for now in nows {
                    let totals = store.compliance_totals(c, &periods, now).await.unwrap();
                    assert_eq!(totals.len(), n);
                    for (p, t) in periods.iter().zip(&totals) {
                        let plain = store.compliance_groups_aggregate(c, *p, now).await.unwrap();
                        let conversations: i64 = plain.iter().map(|g| g.conversations).sum();
                        let tallies: Vec<(i64, i64)> = (0..c.metrics.len())
                            .map(|i| {
                                plain.iter().fold((0, 0), |a, g| {
                                    (a.0 + g.tallies[i].0, a.1 + g.tallies[i].1)
                                })
                            })
                            .collect();
                        assert_eq!(
                            (t.conversations, &t.tallies),
                            (conversations, &tallies),
                            "{at}: trend to {last}, {p}, {now}, scope {:?}",
                            c.scope
                        );
                    }
                }
            }
        }
    };
    let teams = [json!(null), json!("T1"), json!(" t1"), json!("billing")];
    let labels = [
        json!(["vip"]),
        json!([]),
        json!(["VIP", "x"]),
        json!(["o'brien"]),
    ];
    let contacts = [
        json!({"email": "a@bigcorp.com"}),
        json!({"email": "b@eu.bigcorp.com"}),
        json!({"email": "c@other.com"}),
        json!(null),
    ];
    let channels = ["whatsapp", "email", "webchat", "sms"];
    let owners = [json!(null), json!("ada@x.io"), json!("bo@x.io")];
    let surveys = ["csat", "nps", "ces"];
    // CSAT 0–5, NPS 0–10, CES 1–7.
    let score_of = |kind: u8, score: u8| [score % 6, score, 1 + score % 7][kind as usize];
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut seq = 0usize;
    let mut compared = 0usize;
    for case in 0..6 {
        let steps = rollup_steps().new_tree(&mut runner).unwrap().current();
        // Contracts whose rollups exist before the case's changes, kept up by every write.
        let mut contracts: Vec<Contract> = vec![
            contract_of(&scopes[0], 12),
            contract_of(&scopes[1 + case % 4], 3 + case),
        ];
        for c in &contracts {
            store.compliance_groups(c, periods[0], t0()).await.unwrap();
        }
        for (k, step) in steps.iter().enumerate() {
            seq += 1;
            let id = format!("p{seq}");
            let conv = |c: &u8| format!("rc{case}-{c}");
            let event = match step {
                RollupStep::Create {
                    conv: c,
                    channel,
                    team,
                    labels: l,
                    contact,
                    m,
                } => Some(event(
                    &id,
                    &conv(c),
                    *m,
                    json!({"type": "conversation.created", "channel": channels[*channel as usize],
                           "team": teams[*team as usize], "labels": labels[*l as usize],
                           "contact": contacts[*contact as usize]}),
                )),
                RollupStep::Message { conv: c, agent, m } => Some(message(
                    &id,
                    &conv(c),
                    *m,
                    if *agent { "agent" } else { "customer" },
                    "hi",
                )),
                RollupStep::Update {
                    conv: c,
                    team,
                    owner,
                    labels: l,
                    resolve,
                    m,
                } => {
                    let mut fields = json!({"team": teams[*team as usize],
                        "owner": owners[*owner as usize],
                        "labels": labels[*l as usize]});
                    if *resolve {
                        fields["status"] = json!("resolved");
                    }
                    Some(updated(&id, &conv(c), *m, fields))
                }
                RollupStep::Survey {
                    conv: c,
                    kind,
                    score,
                    m,
                } => Some(event(
                    &id,
                    &conv(c),
                    *m,
                    json!({"type": "survey.submitted", "survey": surveys[*kind as usize],
                           "score": score_of(*kind, *score)}),
                )),
                RollupStep::Compact => {
                    store.compact_rollups().await.unwrap();
                    None
                }
                RollupStep::AddContract => {
                    let c = contract_of(&scopes[(seq + case) % scopes.len()], 1 + seq % 12);
                    store
                        .build_rollups(&promptly_server::store::facts::RollupDef::of(&c))
                        .await
                        .unwrap();
                    contracts.push(c);
                    None
                }
                RollupStep::DropContract => {
                    if contracts.len() > 2 {
                        contracts.pop();
                    }
                    let keep: Vec<_> = contracts
                        .iter()
                        .map(promptly_server::store::facts::RollupDef::of)
                        .collect();
                    store.retain_rollups(&keep).await.unwrap();
                    None
                }
            };
            if let Some(e) = event {
                store
                    .ingest(SOURCE, &[e], &EvolvingDeriver, t0())
                    .await
                    .unwrap();
            }
            agree(
                store.clone(),
                contracts.clone(),
                k + 1 == steps.len(),
                format!("case {case}, step {k} {step:?}"),
            )
            .await;
            compared += 1;
        }
    }
    assert!(compared >= 12, "{compared}");
    // The facts really were spread over the periods, some with clocks running.
    let c = contract_of(&scopes[0], 12);
    let mut nonempty = 0;
    for period in periods {
        nonempty += usize::from(
            !store
                .compliance_groups(&c, period, t0())
                .await
                .unwrap()
                .is_empty(),
        );
    }
    assert!(nonempty >= 4, "{nonempty}");
}

/// Concurrent batches share commits on SQLite (group commit; PostgreSQL runs them side by
/// side), and each caller is answered once its own events are stored; a batch that fails half-way (its deriver panics) keeps nothing of
/// its own and takes nothing of the others with it.
async fn concurrent_batches_commit_together_and_fail_alone(store: DynStore) {
    let (commits0, batches0) = store.ingest_commits();
    let mut tasks = Vec::new();
    for i in 0..12 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let conv = format!("g{i}");
            let events = [
                created(&format!("g{i}-1"), &conv, 0, "email"),
                message(&format!("g{i}-2"), &conv, 1, "customer", "hi"),
            ];
            if i == 5 {
                store.ingest(SOURCE, &events, &PanickingDeriver, t0()).await
            } else {
                store.ingest(SOURCE, &events, &on(None), t0()).await
            }
        }));
    }
    for (i, task) in tasks.into_iter().enumerate() {
        match task.await {
            Ok(outcomes) => {
                assert_ne!(i, 5, "the panicking batch does not answer");
                let outcomes = outcomes.unwrap();
                assert!(outcomes
                    .iter()
                    .all(|o| matches!(o, IngestOutcome::Accepted { .. })));
            }
            Err(e) => assert!(i == 5 && e.is_panic(), "batch {i}: {e}"),
        }
    }
    for i in 0..12 {
        let found = store
            .conversation_by_external_id(SOURCE, &format!("g{i}"))
            .await
            .unwrap();
        assert_eq!(found.is_some(), i != 5, "conversation g{i}");
    }
    let (commits, batches) = store.ingest_commits();
    let (commits, batches) = (commits - commits0, batches - batches0);
    assert_eq!(batches, 11, "each good batch made durable once");
    if store.backend() == "sqlite" {
        assert!(commits < batches, "{batches} batches in {commits} commits");
    } else {
        // Side by side in transactions of their own.
        assert_eq!(commits, batches);
    }
}

async fn contracts_and_departments_are_stored(store: DynStore) {
    let mut contract = Contract::from_json(json!({
        "name": "Zeta support", "counterparty_kind": "client", "counterparty": "Zeta",
        "review_date": "2027-01-01",
        "metrics": [{"kind": "frt_attainment", "target": 90, "period": "month"}],
        "remedies": {"currency": "EUR"}
    }))
    .unwrap();
    let z = store.create_contract(&contract, t0()).await.unwrap();
    contract.name = "alpha desk".into();
    let a = store.create_contract(&contract, t0()).await.unwrap();
    let names: Vec<String> = store
        .list_contracts()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.contract.name)
        .collect();
    assert_eq!(names, ["alpha desk", "Zeta support"]);
    contract.counterparty = "Zeta GmbH".into();
    let later = t0() + Duration::hours(1);
    let updated = store.update_contract(z.id, &contract, later).await.unwrap();
    assert_eq!(updated.contract.counterparty, "Zeta GmbH");
    assert_eq!((updated.created_at, updated.updated_at), (t0(), later));
    assert_eq!(
        store.contract(z.id).await.unwrap().unwrap().contract,
        contract
    );
    store.delete_contract(a.id, later).await.unwrap();
    assert_not_found(store.delete_contract(a.id, later).await);
    assert!(store
        .list_contracts()
        .await
        .unwrap()
        .iter()
        .all(|c| c.id != a.id));
    assert_not_found(store.update_contract(a.id, &contract, later).await);
    assert!(store.contract(a.id).await.unwrap().is_none());

    let mapping = vec![
        TeamDepartment {
            team: " Billing".into(),
            department: "Finance".into(),
        },
        TeamDepartment {
            team: "T1".into(),
            department: "Support".into(),
        },
    ];
    store.set_team_departments(&mapping).await.unwrap();
    let stored = store.team_departments().await.unwrap();
    assert_eq!(stored[0].team, "Billing");
    assert_eq!(stored.len(), 2);
    store.set_team_departments(&mapping[1..]).await.unwrap();
    assert_eq!(store.team_departments().await.unwrap(), mapping[1..]);
}

/// Queues a webhook and records a rule run for every conversation it is handed.
struct OneWebhookEach;

impl Automator for OneWebhookEach {
    fn run(&self, input: AutomationInput<'_>) -> AutomationOutput {
        AutomationOutput {
            outbox: vec![NewOutbox {
                kind: "webhook",
                rule_id: Some(1),
                account_id: None,
                url: "http://127.0.0.1:9/hook".into(),
                receiver: "127.0.0.1:9".into(),
                secret: "s".into(),
                body: format!("{{\"conversation\": {}}}", input.row.id),
                message_id: None,
            }],
            rule_runs: vec![(1, "sla.breached".into())],
            done_until: Some(input.now),
            ..Default::default()
        }
    }
}

async fn epochs_backups_and_retention(store: DynStore) {
    // Each start takes a new stream epoch.
    let e1 = store.next_stream_epoch().await.unwrap();
    assert_eq!(store.next_stream_epoch().await.unwrap(), e1 + 1);

    // A copy while the store is open: a SQLite file; PostgreSQL has pg_dump.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.db");
    let copied = store.backup_into(copy.to_str().unwrap()).await;
    match store.backend() {
        "sqlite" => {
            copied.unwrap();
            assert!(std::fs::metadata(&copy).unwrap().len() > 0);
        }
        _ => assert!(
            matches!(
                copied,
                Err(StoreError::Invalid {
                    field: "database",
                    ..
                })
            ),
            "{copied:?}"
        ),
    }

    // c1 resolved at t0; c2 and c3 open and due an hour later.
    let resolved = updated("e1r", "c1", 0, json!({"status": "resolved"}));
    let events = [
        created("e1", "c1", 0, "email"),
        message("e1m", "c1", 0, "customer", "Hello"),
        resolved,
        created("e2", "c2", 0, "sms"),
        created("e3", "c3", 0, "sms"),
    ];
    store
        .ingest(SOURCE, &events, &on(None), t0())
        .await
        .unwrap();
    let pass = store
        .automation_pass(&OneWebhookEach, t0() + Duration::hours(2), 100)
        .await
        .unwrap();
    assert_eq!(pass.handled, 2);
    let due: Vec<i64> = store
        .due_outbox(t0() + Duration::hours(2), &[], 10)
        .await
        .unwrap()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let claimed = store
        .claim_outbox(
            &due,
            t0() + Duration::hours(2),
            t0() + Duration::hours(3),
            "purge",
        )
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2);
    let delivered_at = t0() + Duration::hours(2);
    store
        .finish_outbox(
            claimed[0].id,
            "purge",
            &OutboxOutcome::Delivered,
            delivered_at,
        )
        .await
        .unwrap();
    let failed = OutboxOutcome::Failed {
        error: "refused".into(),
        retry_at: None,
    };
    store
        .finish_outbox(claimed[1].id, "purge", &failed, delivered_at)
        .await
        .unwrap();

    // Delivered before the cut-off go, in batches; failed ones stay.
    assert_eq!(store.purge_delivered(delivered_at, 10).await.unwrap(), 0);
    let later = delivered_at + Duration::hours(1);
    assert_eq!(store.purge_delivered(later, 10).await.unwrap(), 1);
    assert_eq!(store.purge_delivered(later, 10).await.unwrap(), 0);
    let left = store.list_outbox(None, 10).await.unwrap();
    assert_eq!(each(left, |o| o.status), vec!["failed"]);
    assert_eq!(store.purge_rule_runs(delivered_at, 10).await.unwrap(), 0);
    assert_eq!(store.purge_rule_runs(later, 1).await.unwrap(), 1);
    assert_eq!(store.purge_rule_runs(later, 1).await.unwrap(), 1);
    assert_eq!(store.purge_rule_runs(later, 1).await.unwrap(), 0);
    assert!(store.rule_fire_counts(t0()).await.unwrap().is_empty());

    // Resolved before the cut-off: its events become one archive; open ones keep theirs.
    let c1 = by_external_id(&store, "c1").await;
    let day = |d: i64| t0() + Duration::days(d);
    assert_eq!(
        store.archive_resolved(day(1), 10, day(40)).await.unwrap(),
        1
    );
    let archived = store.conversation_events(c1.id).await.unwrap();
    assert_eq!(archived.len(), 1);
    assert!(matches!(
        archived[0].body,
        promptly::conversation::EventBody::Archived { events: 3, .. }
    ));
    assert_eq!(fold(&archived).unwrap().0, c1.summary);
    assert_eq!(
        by_external_id(&store, "c1").await,
        c1,
        "the row is as it was"
    );
    assert_eq!(
        store.archive_resolved(day(1), 10, day(41)).await.unwrap(),
        0
    );
    let c2 = by_external_id(&store, "c2").await;
    assert_eq!(store.conversation_events(c2.id).await.unwrap().len(), 1);

    // Resolved later: archived once that is long enough ago, one batch at a time.
    let c3_resolved = [updated("e3r", "c3", 0, json!({"status": "resolved"}))];
    store
        .ingest(SOURCE, &c3_resolved, &on(None), day(50))
        .await
        .unwrap();
    let c2_resolved = [updated("e2r", "c2", 0, json!({"status": "resolved"}))];
    store
        .ingest(SOURCE, &c2_resolved, &on(None), day(50))
        .await
        .unwrap();
    assert_eq!(
        store.archive_resolved(day(45), 10, day(60)).await.unwrap(),
        0
    );
    assert_eq!(
        store.archive_resolved(day(55), 1, day(60)).await.unwrap(),
        1
    );
    assert_eq!(
        store.archive_resolved(day(55), 1, day(60)).await.unwrap(),
        1
    );
    assert_eq!(
        store.archive_resolved(day(55), 1, day(60)).await.unwrap(),
        0
    );

    // Reopened, it goes on from the archive, and is archived again (all of it) later.
    let reopen = [message("e1n", "c1", 0, "customer", "Again")];
    store
        .ingest(SOURCE, &reopen, &on(None), day(70))
        .await
        .unwrap();
    let c1 = by_external_id(&store, "c1").await;
    assert_eq!(c1.summary.status, ConversationStatus::Open);
    assert_eq!(c1.summary.last_message.as_deref(), Some("Again"));
    assert_eq!(store.conversation_events(c1.id).await.unwrap().len(), 2);
    let close = [updated("e1z", "c1", 0, json!({"status": "resolved"}))];
    store
        .ingest(SOURCE, &close, &on(None), day(71))
        .await
        .unwrap();
    assert_eq!(
        store.archive_resolved(day(80), 10, day(110)).await.unwrap(),
        1
    );
    let again = store.conversation_events(c1.id).await.unwrap();
    assert!(matches!(
        again[..],
        [IncomingEvent {
            body: promptly::conversation::EventBody::Archived { events: 5, .. },
            ..
        }]
    ));
    assert_eq!(
        fold(&again).unwrap().0,
        by_external_id(&store, "c1").await.summary
    );
}

/// One test per contract case per backend, so that one failure does not hide the rest.
/// Ids are the sending integration's own: the same event and conversation ids from two
/// sources are two conversations with their own events; within a source a repeated event id
/// is a duplicate and a conversation id names the same conversation.
async fn ids_are_unique_per_source(store: DynStore) {
    let deriver = on(None);
    let batch = [
        created("1", "1", 0, "whatsapp"),
        message("2", "1", 1, "customer", "Hello"),
    ];
    let whatsapp = store
        .ingest("whatsapp", &batch, &deriver, minutes(1))
        .await
        .unwrap();
    let email = store
        .ingest("email-bridge", &batch, &deriver, minutes(2))
        .await
        .unwrap();
    let id_of = |o: &IngestOutcome| match o {
        IngestOutcome::Accepted { conversation_id } => *conversation_id,
        IngestOutcome::Duplicate => panic!("{o:?}"),
    };
    let (a, b) = (id_of(&whatsapp[0]), id_of(&email[0]));
    assert_ne!(a, b, "two sources, two conversations");
    assert_eq!(id_of(&email[1]), b);
    for (source, id) in [("whatsapp", a), ("email-bridge", b)] {
        let row = store
            .conversation_by_external_id(source, "1")
            .await
            .unwrap()
            .unwrap();
        assert_eq!((row.id, row.source.as_str()), (id, source));
        assert_eq!(store.conversation_events(id).await.unwrap().len(), 2);
    }
    assert_eq!(
        store
            .conversation_by_external_id(SOURCE, "1")
            .await
            .unwrap(),
        None
    );

    // Again from the first source: duplicates; a new event joins its own conversation.
    let again = store
        .ingest(
            "whatsapp",
            &[batch[1].clone(), message("3", "1", 3, "agent", "Hi!")],
            &deriver,
            minutes(3),
        )
        .await
        .unwrap();
    assert_eq!(again[0], IngestOutcome::Duplicate);
    assert_eq!(id_of(&again[1]), a);
    assert_eq!(store.conversation_events(a).await.unwrap().len(), 3);
    assert_eq!(store.conversation_events(b).await.unwrap().len(), 2);
}

/// A conversation's new events are folded onto its checkpoint when none is before the
/// events it already has (the report then holds the checkpoint and the new events); a late
/// event reads the whole history again. Either way the row is what deriving all its events
/// gives.
async fn ingest_resumes_from_the_checkpoint_unless_an_event_is_late(store: DynStore) {
    let deriver = on(None);
    let ingest = |batch: Vec<IncomingEvent>, m: i64| {
        let store = store.clone();
        async move {
            let report = store
                .ingest_batch(SOURCE, &batch, &on(None), minutes(m))
                .await
                .unwrap();
            let t = report.touched.into_iter().next().unwrap();
            let ids: Vec<String> = t.events.iter().map(|e| e.id.clone()).collect();
            (t.row, ids)
        }
    };
    let (row, ids) = ingest(
        vec![
            created("k0", "k", 0, "email"),
            message("k1", "k", 1, "customer", "Hi"),
        ],
        1,
    )
    .await;
    assert_eq!(ids, ["k0", "k1"], "a new conversation has no history");
    let (row2, ids) = ingest(vec![message("k2", "k", 5, "agent", "Hello")], 5).await;
    assert_eq!(ids, ["checkpoint", "k2"], "in order: onto the checkpoint");
    assert_eq!(row2.id, row.id);
    // Same instant as the latest event: still in order.
    let (_, ids) = ingest(vec![message("k3", "k", 5, "customer", "Thanks")], 6).await;
    assert_eq!(ids, ["checkpoint", "k3"]);
    let (late, mut ids) = ingest(vec![message("k4", "k", 3, "customer", "Oh")], 7).await;
    ids.sort();
    assert_eq!(
        ids,
        ["k0", "k1", "k2", "k3", "k4"],
        "a late event: the whole history"
    );
    let all = store.conversation_events(row.id).await.unwrap();
    let expected = deriver.derive(None, &all).unwrap();
    assert_eq!(late.summary, expected.summary);
    assert_eq!(late.summary.last_message.as_deref(), Some("Thanks"));
    let (after, ids) = ingest(vec![message("k5", "k", 9, "agent", "Bye")], 9).await;
    assert_eq!(ids, ["checkpoint", "k5"], "and a checkpoint again after it");
    let all = store.conversation_events(row.id).await.unwrap();
    assert_eq!(after.summary, deriver.derive(None, &all).unwrap().summary);
    assert_eq!(
        store.conversation(row.id).await.unwrap().unwrap().summary,
        after.summary
    );
}

/// "Take next" assigns the unassigned open conversation with the nearest deadline (urgent,
/// then direct, first at an equal deadline), records the assignment on its timeline, skips
/// those taken, owned, pending or of other teams, and finds nothing once all are taken.
async fn take_next_assigns_the_nearest_deadline_first(store: DynStore) {
    let p = new_policy(&store, "Standard", "30m", None).await;
    let deriver = on(Some((p.id, 1)));
    let made = |id: &str, m: i64, priority: &str, visibility: &str| {
        event(
            &format!("{id}-1"),
            id,
            m,
            json!({"type": "conversation.created", "channel": "whatsapp",
                   "priority": priority, "visibility": visibility, "team": "Support"}),
        )
    };
    store
        .ingest(
            SOURCE,
            &[
                made("later", 5, "urgent", "direct"),
                made("plain", 0, "normal", "public"),
                made("direct", 0, "normal", "direct"),
                made("urgent", 0, "urgent", "public"),
                made("owned", -10, "urgent", "direct"),
                made("pending", -10, "urgent", "direct"),
                made("billing", -10, "urgent", "direct"),
                updated("owned-2", "owned", -9, json!({"owner": "someone@t.io"})),
                updated("pending-2", "pending", -9, json!({"status": "pending"})),
                updated("billing-2", "billing", -9, json!({"team": "Billing"})),
            ],
            &deriver,
            minutes(10),
        )
        .await
        .unwrap();
    let support = vec!["Support".to_string()];
    let mut taken = Vec::new();
    for i in 0..5 {
        match store
            .take_next(
                "ada@t.io",
                &support,
                &format!("take-{i}"),
                &deriver,
                minutes(11),
            )
            .await
            .unwrap()
        {
            Some((id, _)) => taken.push(store.conversation(id).await.unwrap().unwrap()),
            None => break,
        }
    }
    let order: Vec<&str> = taken.iter().map(|c| c.external_id.as_str()).collect();
    assert_eq!(order, ["urgent", "direct", "plain", "later"]);
    for c in &taken {
        assert_eq!(
            c.summary.owner.as_deref(),
            Some("ada@t.io"),
            "{}",
            c.external_id
        );
        let events = store.conversation_events(c.id).await.unwrap();
        assert!(
            events.iter().any(|e| e.id.starts_with("take-")),
            "the assignment is on {}'s timeline",
            c.external_id
        );
    }
    // Any team's when the caller is in none: only the Billing one is left unassigned and open.
    let (id, _) = store
        .take_next("bo@t.io", &[], "take-any", &deriver, minutes(12))
        .await
        .unwrap()
        .expect("the Billing conversation");
    assert_eq!(
        store.conversation(id).await.unwrap().unwrap().external_id,
        "billing"
    );
    assert!(store
        .take_next("bo@t.io", &[], "take-none", &deriver, minutes(12))
        .await
        .unwrap()
        .is_none());
}

/// A user's teams are stored as given and read back with the user; a new user works in none.
async fn users_work_in_teams(store: DynStore) {
    let u = store
        .create_user(new_user("tia@t.io", Role::Agent), t0())
        .await
        .unwrap();
    assert!(u.teams.is_empty());
    let teams = vec!["Support".to_string(), "Billing".to_string()];
    store.set_user_teams(u.id, &teams).await.unwrap();
    assert_eq!(store.user_by_id(u.id).await.unwrap().unwrap().teams, teams);
    assert_eq!(
        store
            .user_by_email("tia@t.io")
            .await
            .unwrap()
            .unwrap()
            .view()
            .teams,
        teams
    );
    assert!(matches!(
        store.set_user_teams(9_999, &teams).await,
        Err(StoreError::NotFound)
    ));
}

macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    let (store, _dir) = super::sqlite_store().await;
                    assert_eq!(store.backend(), "sqlite");
                    super::$case(store).await;
                }
            )*
        }

        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let cluster = tokio::task::spawn_blocking(super::support::shared_cluster)
                        .await
                        .unwrap();
                    let store = super::postgres_store(&cluster).await;
                    assert_eq!(store.backend(), "postgres");
                    super::$case(store).await;
                }
            )*
        }
    };
}

contract!(
    users_are_unique_ordered_and_editable,
    sessions_end_on_expiry_logout_and_deactivation,
    login_failures_count_within_a_window,
    migrations_can_run_again,
    api_tokens_are_found_by_hash_until_revoked,
    calendars_are_ordered_editable_and_kept_while_used,
    policies_add_a_version_only_once_a_conversation_uses_one,
    ingest_stores_each_event_once_and_derives_its_conversation,
    ids_are_unique_per_source,
    ingest_resumes_from_the_checkpoint_unless_an_event_is_late,
    the_queue_filters_and_orders_conversations,
    open_conversations_move_to_a_new_version_and_rederive,
    ingest_reports_what_it_committed_and_writes_move_the_catalog_generation,
    rules_keep_their_order_and_count_their_runs,
    deliveries_are_claimed_by_receiver_and_finished_under_their_lease,
    a_pass_with_rules_older_than_the_catalog_handles_nothing,
    compliance_counts_agree_with_the_domain_tally,
    compliance_rollups_equal_the_aggregate_after_any_changes,
    concurrent_batches_commit_together_and_fail_alone,
    contracts_and_departments_are_stored,
    epochs_backups_and_retention,
    take_next_assigns_the_nearest_deadline_first,
    users_work_in_teams,
);

/// On PostgreSQL every connection of the pool bounds its statements and idle transactions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_connections_bound_statements_and_idle_transactions() {
    let cluster = tokio::task::spawn_blocking(support::shared_cluster)
        .await
        .unwrap();
    let url = cluster.fresh_database().await;
    let pool = promptly_server::store::postgres::connect(&url)
        .await
        .unwrap();
    for setting in ["statement_timeout", "idle_in_transaction_session_timeout"] {
        let value: String = sqlx::query_scalar(&format!("SHOW {setting}"))
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(value, "1min", "{setting}");
    }
}

/// On PostgreSQL a server refreshes the planner's statistics of what ingest reads by key once
/// it has ingested 1,000 events, and not before: a new database's prepared statements would
/// otherwise keep a plan made while `events` was nearly empty (`SqlStore::analyze_when_grown`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_statistics_are_refreshed_once_events_grow() {
    let cluster = tokio::task::spawn_blocking(support::shared_cluster)
        .await
        .unwrap();
    let url = cluster.fresh_database().await;
    let store =
        promptly_server::store::open(&promptly_server::store::DatabaseUrl::parse(&url).unwrap())
            .await
            .unwrap();
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let analyzed = || async {
        sqlx::query_scalar::<_, bool>(
            "SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'events'",
        )
        .fetch_one(&pool)
        .await
        .unwrap()
    };
    let p = new_policy(&store, "Standard", "30m", None).await;
    let deriver = on(Some((p.id, 1)));
    let batch = |from: usize| {
        (from..from + 100)
            .map(|i| created(&format!("e{i}"), &format!("c{i}"), 0, "sms"))
            .collect::<Vec<_>>()
    };
    for b in 0..9 {
        store
            .ingest(SOURCE, &batch(b * 100), &deriver, minutes(10))
            .await
            .unwrap();
    }
    assert!(!analyzed().await, "900 events: not yet");
    for b in 9..11 {
        store
            .ingest(SOURCE, &batch(b * 100), &deriver, minutes(10))
            .await
            .unwrap();
    }
    crate::server_support::eventually(
        std::time::Duration::from_secs(30),
        "the statistics of events after 1,100 events",
        || async { analyzed().await.then_some(()) },
    )
    .await;
}

/// 20 agents press "take next" at once, on two servers (two stores on one database): each of
/// the 20 conversations with the nearest deadlines is assigned once, to one of them.
async fn twenty_takers_on_two_servers(a: DynStore, b: DynStore) {
    let p = new_policy(&a, "Standard", "30m", None).await;
    let deriver = std::sync::Arc::new(on(Some((p.id, 1))));
    let events: Vec<IncomingEvent> = (0..30)
        .map(|i| created(&format!("e{i}"), &format!("c{i:02}"), i, "sms"))
        .collect();
    a.ingest(SOURCE, &events, deriver.as_ref(), minutes(40))
        .await
        .unwrap();
    let takers: Vec<_> = (0..20)
        .map(|i| {
            let store = if i % 2 == 0 { a.clone() } else { b.clone() };
            let deriver = deriver.clone();
            tokio::spawn(async move {
                let agent = format!("agent{i}@t.io");
                let taken = store
                    .take_next(
                        &agent,
                        &[],
                        &format!("take-{i}"),
                        deriver.as_ref(),
                        minutes(41),
                    )
                    .await
                    .unwrap();
                (agent, taken.map(|(id, _)| id))
            })
        })
        .collect();
    let mut owners = std::collections::HashMap::new();
    for t in takers {
        let (agent, id) = t.await.unwrap();
        let id = id.unwrap_or_else(|| panic!("{agent} got nothing"));
        assert!(
            owners.insert(id, agent).is_none(),
            "conversation {id} taken twice"
        );
    }
    let mut taken: Vec<String> = Vec::new();
    for (id, agent) in &owners {
        let c = a.conversation(*id).await.unwrap().unwrap();
        assert_eq!(c.summary.owner.as_ref(), Some(agent));
        taken.push(c.external_id);
    }
    taken.sort();
    let nearest: Vec<String> = (0..20).map(|i| format!("c{i:02}")).collect();
    assert_eq!(taken, nearest, "the 20 nearest deadlines");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_agents_take_next_at_once_on_two_sqlite_servers() {
    let dir = tempfile::tempdir().unwrap();
    let url = promptly_server::store::DatabaseUrl::parse(&format!(
        "sqlite://{}",
        dir.path().join("promptly.db").display()
    ))
    .unwrap();
    let a = promptly_server::store::open(&url).await.unwrap();
    let b = promptly_server::store::open(&url).await.unwrap();
    twenty_takers_on_two_servers(a, b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_agents_take_next_at_once_on_two_postgres_servers() {
    let cluster = tokio::task::spawn_blocking(support::shared_cluster)
        .await
        .unwrap();
    let url = promptly_server::store::DatabaseUrl::parse(&cluster.fresh_database().await).unwrap();
    let a = promptly_server::store::open(&url).await.unwrap();
    let b = promptly_server::store::open(&url).await.unwrap();
    twenty_takers_on_two_servers(a, b).await;
}
