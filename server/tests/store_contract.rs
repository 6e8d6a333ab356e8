//! One contract for the store, run against SQLite and against PostgreSQL: both backends
//! must behave the same for every case.

mod support;

use chrono::{Duration, TimeZone, Utc};
use promptly::account::Role;
use promptly_server::store::{DynStore, NewUser, StoreError};
use support::{postgres_store, sqlite_store, PgCluster};

fn new_user(email: &str, role: Role) -> NewUser {
    NewUser {
        email: email.into(),
        name: format!("Name of {email}"),
        role,
        password_hash: "$argon2id$fake".into(),
    }
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
    assert!(
        matches!(dup, Err(StoreError::Conflict { field: "email" })),
        "{dup:?}"
    );
    assert_eq!(store.count_users().await.unwrap(), 2);

    let emails: Vec<_> = store
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.email)
        .collect();
    assert_eq!(emails, vec!["a@x.io", "b@x.io"]);
    assert_eq!(
        store.user_by_email("a@x.io").await.unwrap().unwrap().id,
        a.id
    );
    assert!(store.user_by_email("nobody@x.io").await.unwrap().is_none());
    assert!(store.user_by_id(a.id + b.id + 100).await.unwrap().is_none());

    assert_eq!(store.count_active_admins().await.unwrap(), 1);
    store.set_user_role(a.id, Role::Admin).await.unwrap();
    assert_eq!(store.count_active_admins().await.unwrap(), 2);
    assert_eq!(
        store.user_by_id(a.id).await.unwrap().unwrap().role,
        Role::Admin
    );
    assert!(matches!(
        store.set_user_role(9999, Role::Agent).await,
        Err(StoreError::NotFound)
    ));

    store
        .set_user_password(a.id, "$argon2id$other")
        .await
        .unwrap();
    assert_eq!(
        store.user_by_id(a.id).await.unwrap().unwrap().password_hash,
        "$argon2id$other"
    );
}

async fn sessions_end_on_expiry_logout_and_deactivation(store: DynStore) {
    let u = store
        .create_user(new_user("s@x.io", Role::Agent), t0())
        .await
        .unwrap();
    store
        .create_session("h1", u.id, t0(), t0() + Duration::hours(1))
        .await
        .unwrap();
    store
        .create_session("h2", u.id, t0(), t0() + Duration::hours(1))
        .await
        .unwrap();
    store
        .create_session("old", u.id, t0(), t0() + Duration::minutes(1))
        .await
        .unwrap();

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

    store
        .create_session("h3", u.id, t0(), t0() + Duration::hours(1))
        .await
        .unwrap();
    store
        .create_session("old2", u.id, t0(), t0() + Duration::minutes(1))
        .await
        .unwrap();
    let purged = store
        .purge_expired(t0() + Duration::minutes(30))
        .await
        .unwrap();
    assert_eq!(purged, 1, "only the expired session goes");
    assert!(store.session_user("h3", t0()).await.unwrap().is_some());
}

async fn login_failures_count_within_a_window(store: DynStore) {
    for s in [0, 10, 20, 70] {
        store
            .record_login_failure("email:a@x.io", t0() + Duration::seconds(s))
            .await
            .unwrap();
    }
    store
        .record_login_failure("ip:127.0.0.1", t0())
        .await
        .unwrap();
    let since = t0() + Duration::seconds(5);
    assert_eq!(
        store
            .count_login_failures("email:a@x.io", since)
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        store
            .oldest_login_failure("email:a@x.io", since)
            .await
            .unwrap(),
        Some(t0() + Duration::seconds(10))
    );
    assert_eq!(
        store.oldest_login_failure("nobody", since).await.unwrap(),
        None
    );
    store.clear_login_failures("email:a@x.io").await.unwrap();
    assert_eq!(
        store
            .count_login_failures("email:a@x.io", t0() - Duration::hours(1))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .count_login_failures("ip:127.0.0.1", t0() - Duration::hours(1))
            .await
            .unwrap(),
        1
    );
}

async fn migrations_can_run_again(store: DynStore) {
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    store.ping().await.unwrap();
}

macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        #[tokio::test]
        async fn sqlite_contract() {
            $( { let (store, _dir) = sqlite_store().await; $case(store).await; } )*
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn postgres_contract() {
            let cluster = PgCluster::start();
            $( { let store = postgres_store(&cluster).await; assert_eq!(store.backend(), "postgres"); $case(store).await; } )*
        }
    };
}

contract!(
    users_are_unique_ordered_and_editable,
    sessions_end_on_expiry_logout_and_deactivation,
    login_failures_count_within_a_window,
    migrations_can_run_again,
);
