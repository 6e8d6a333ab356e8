//! The audit log: every service that changes settings or accounts appends who did what,
//! with the record before and after (as the API shows it, secrets masked), once the change
//! has committed. Who is asking travels with the request ([`as_actor`], set by the session
//! middleware, the CLI and the demo seed), so the services need no extra argument.
//!
//! An entry is written after its change commits: a crash between the two loses the entry,
//! never records a change that did not happen. Entries are never changed or removed (the
//! database refuses it).

use crate::state::AppState;
use crate::store::{NewAuditEntry, Store};
use promptly::account::UserView;
use promptly::audit::Entity;
use serde::Serialize;
use std::future::Future;

/// Who makes a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// An e-mail, `token:NAME`, `cli` or `system`.
    pub name: String,
    /// The user's id (a token's is negative), for a user or token.
    pub id: Option<i64>,
}

impl Actor {
    pub fn of(user: &UserView) -> Self {
        Actor {
            name: user.email.clone(),
            id: Some(user.id),
        }
    }

    pub fn named(name: &str) -> Self {
        Actor {
            name: name.to_string(),
            id: None,
        }
    }
}

tokio::task_local! {
    static ACTOR: Actor;
}

/// Runs `f` with `actor` as the one who makes its changes.
pub async fn as_actor<F: Future>(actor: Actor, f: F) -> F::Output {
    ACTOR.scope(actor, f).await
}

/// Who makes the current changes (`system` outside any request or command).
pub fn actor() -> Actor {
    ACTOR
        .try_with(Actor::clone)
        .unwrap_or_else(|_| Actor::named("system"))
}

/// What the log keeps of a record: its API shape, with every `secret` masked and no
/// password hash or token.
fn snapshot(value: &impl Serialize) -> Option<serde_json::Value> {
    fn scrub(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(map) => {
                map.retain(|k, _| k != "password_hash" && k != "token" && k != "password");
                for (k, v) in map.iter_mut() {
                    if k == "secret" && v.as_str().is_some_and(|s| !s.is_empty()) {
                        *v = serde_json::Value::from(crate::services::rules::MASK);
                    } else {
                        scrub(v);
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(scrub),
            _ => {}
        }
    }
    let mut v = serde_json::to_value(value).ok()?;
    scrub(&mut v);
    Some(v)
}

/// One change to record: `entity` `id` got `action`, from `before` to `after`.
pub struct Change<'a, B: Serialize, A: Serialize> {
    pub entity: Entity,
    pub id: Option<String>,
    pub action: &'a str,
    pub before: Option<&'a B>,
    pub after: Option<&'a A>,
}

/// Appends a change made by the current [`actor`]. A failure to write is logged, not
/// returned: the change itself has committed.
pub async fn record<B: Serialize, A: Serialize>(state: &AppState, change: Change<'_, B, A>) {
    append(state.store.as_ref(), state.clock.now(), change).await
}

/// [`record`] for record `id` of `entity`.
pub async fn record_id<B: Serialize, A: Serialize>(
    state: &AppState,
    entity: Entity,
    id: i64,
    action: &str,
    before: Option<&B>,
    after: Option<&A>,
) {
    let change = Change {
        entity,
        id: Some(id.to_string()),
        action,
        before,
        after,
    };
    record(state, change).await
}

/// [`record`] on a store with an explicit instant (the CLI, which has no server state).
pub async fn append<B: Serialize, A: Serialize>(
    store: &dyn Store,
    at: chrono::DateTime<chrono::Utc>,
    change: Change<'_, B, A>,
) {
    let who = actor();
    let entry = NewAuditEntry {
        at,
        actor: who.name,
        actor_id: who.id,
        entity: change.entity,
        entity_id: change.id,
        action: change.action.to_string(),
        before: change.before.and_then(snapshot),
        after: change.after.and_then(snapshot),
    };
    if let Err(e) = store.append_audit(&entry).await {
        tracing::error!(error = %e, entity = %entry.entity, action = %entry.action, "the audit log could not be written");
    }
}

/// No record on this side of a change (`before` of a creation, `after` of a deletion).
pub const NONE: Option<&()> = None;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_mask_secrets_and_drop_credentials() {
        let v = serde_json::json!({
            "name": "r", "password_hash": "$argon2", "token": "pt_x",
            "actions": [{"type": "webhook", "url": "https://x", "secret": "s3cret"}, {"secret": ""}],
        });
        let s = snapshot(&v).unwrap();
        assert_eq!(
            s,
            serde_json::json!({
                "name": "r",
                "actions": [{"type": "webhook", "url": "https://x", "secret": "********"}, {"secret": ""}],
            })
        );
    }

    #[tokio::test]
    async fn the_actor_travels_with_the_task() {
        assert_eq!(actor().name, "system");
        let inner = as_actor(Actor::named("cli"), async { actor() }).await;
        assert_eq!(inner.name, "cli");
    }
}
