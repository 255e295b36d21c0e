//! The trust tables on both backends: the audit log refuses UPDATE and
//! DELETE in the database itself, and its reads filter and page; the
//! verification provider's events are claimed once per event id.
// Test code throughout, helpers too (see clippy.toml).
#![cfg(test)]

use std::sync::Arc;

use bot::message::{Platform, PlatformUserId};
use bot::store::{SeenUser, Store, UserId};
use bot::trust::operator::{OperatorReason, UserTarget};
use bot::trust::verification::{
    BodyDigest, LegalName, ProviderEventId, VerificationClaim, VerificationEvent, VerificationStore,
};
use bot::trust::{Actor, AuditEntry, AuditFilter, AuditKind, Tier, TrustStore};
use ledger::testing::{CLOCK_START_MS, TestBackend, TestDb};
use paybot_store::{BOT_MIGRATIONS, SqlStore};

const T0: i64 = CLOCK_START_MS;
const LEASE_MS: i64 = 60_000;

async fn run(backend: TestBackend, case: impl AsyncFnOnce(&TestDb, Arc<SqlStore>)) {
    let Some(db) = TestDb::fresh(backend).await else {
        return;
    };
    db.ledger.migrate(BOT_MIGRATIONS).await.unwrap();
    let store = Arc::new(SqlStore::new(&db.ledger));
    case(&db, Arc::clone(&store)).await;
    store.close().await;
    db.cleanup().await;
}

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)] async fn $case() {
                super::run(super::TestBackend::Sqlite, super::cases::$case).await
            })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)] async fn $case() {
                super::run(super::TestBackend::Postgres, super::cases::$case).await
            })*
        }
    };
}

conformance!(
    the_audit_log_refuses_update_and_delete,
    audit_entries_filter_and_page,
    recent_audit_is_newest_first_per_user,
    a_verification_event_is_claimed_once,
    a_dead_claim_is_taken_over_after_its_lease,
    concurrent_claims_of_one_event_have_one_winner,
    legal_names_are_kept_per_user,
);

async fn user(store: &SqlStore, id: &str) -> UserId {
    let seen = SeenUser {
        platform: Platform::Mock,
        id: PlatformUserId::new(id).unwrap(),
        handle: None,
        skeleton: None,
        display_name: id.to_owned(),
        speaking: true,
        direct: false,
    };
    store.upsert_identity(&seen, T0).await.unwrap().0.user
}

fn entry(at_ms: i64, user: UserId, kind: AuditKind, subject: &str) -> AuditEntry {
    AuditEntry::new(at_ms, Actor::Operator("ana".to_owned()), kind)
        .user(user)
        .subject(subject)
        .detail("n", at_ms)
}

fn event(id: &str, digest_byte: char) -> VerificationEvent {
    VerificationEvent {
        event_id: ProviderEventId::parse(id).unwrap(),
        target: UserTarget::Id {
            platform: Platform::Mock,
            id: PlatformUserId::new("alice").unwrap(),
        },
        tier: Tier::new(1).unwrap(),
        legal_name: Some(LegalName::parse("Alice Liddell").unwrap()),
        reason: OperatorReason::parse("documents checked").unwrap(),
        body_digest: BodyDigest::from_hex(&digest_byte.to_string().repeat(64)).unwrap(),
    }
}

mod cases {
    use super::*;

    pub(super) async fn the_audit_log_refuses_update_and_delete(db: &TestDb, store: Arc<SqlStore>) {
        let alice = user(&store, "alice").await;
        let id = store
            .append_audit(&entry(T0, alice, AuditKind::TierChanged, "s"))
            .await
            .unwrap();
        let before = store.audit_entries(&AuditFilter::default()).await.unwrap();
        assert_eq!(before.len(), 1);
        for sql in [
            "UPDATE bot_audit_log SET actor = 'system'",
            "UPDATE bot_audit_log SET details = '{}' WHERE id = 1",
            "DELETE FROM bot_audit_log",
            "DELETE FROM bot_audit_log WHERE id = 1",
        ] {
            let refused = db.execute(sql).await.unwrap_err();
            assert!(refused.contains("append-only"), "{sql}: {refused}");
        }
        if db.backend == TestBackend::Postgres {
            let refused = db.execute("TRUNCATE bot_audit_log").await.unwrap_err();
            assert!(refused.contains("append-only"), "{refused}");
        }
        let after = store.audit_entries(&AuditFilter::default()).await.unwrap();
        assert_eq!(after, before);
        assert_eq!(after.first().unwrap().id, id);
    }

    pub(super) async fn audit_entries_filter_and_page(_db: &TestDb, store: Arc<SqlStore>) {
        let alice = user(&store, "alice").await;
        let bob = user(&store, "bob").await;
        let mut ids = Vec::new();
        for i in 0..30_i64 {
            let (who, kind) = match i % 3 {
                0 => (alice, AuditKind::TierChanged),
                1 => (bob, AuditKind::HoldOpened),
                _ => (alice, AuditKind::RuleFired),
            };
            let id = store
                .append_audit(&entry(T0 + i * 1_000, who, kind, &format!("s{}", i % 5)))
                .await
                .unwrap();
            ids.push(id);
        }
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids grow: {ids:?}");
        let read = |filter: AuditFilter| {
            let store = Arc::clone(&store);
            async move { store.audit_entries(&filter).await.unwrap() }
        };
        let all = read(AuditFilter::default()).await;
        assert_eq!(all.len(), 30);
        assert_eq!(all.iter().map(|r| r.id).collect::<Vec<_>>(), ids);
        let first = all.first().unwrap();
        assert_eq!(first.entry, entry(T0, alice, AuditKind::TierChanged, "s0"));

        let of_bob = read(AuditFilter {
            user: Some(bob),
            ..AuditFilter::default()
        })
        .await;
        assert_eq!(of_bob.len(), 10);
        assert!(of_bob.iter().all(|r| r.entry.user == Some(bob)));

        let rules = read(AuditFilter {
            kind: Some(AuditKind::RuleFired),
            ..AuditFilter::default()
        })
        .await;
        assert_eq!(rules.len(), 10);

        let since = read(AuditFilter {
            since_ms: Some(T0 + 25_000),
            ..AuditFilter::default()
        })
        .await;
        assert_eq!(since.len(), 5, "25 s to 29 s, the bound included");

        let subject = read(AuditFilter {
            subject: Some("s3".to_owned()),
            user: Some(alice),
            ..AuditFilter::default()
        })
        .await;
        assert!(!subject.is_empty());
        assert!(
            subject
                .iter()
                .all(|r| r.entry.subject.as_deref() == Some("s3") && r.entry.user == Some(alice))
        );

        // Pages of 7 with `after_id` read everything once, in order.
        let mut paged = Vec::new();
        let mut after = None;
        loop {
            let page = read(AuditFilter {
                after_id: after,
                limit: 7,
                ..AuditFilter::default()
            })
            .await;
            assert!(page.len() <= 7);
            let Some(last) = page.last() else { break };
            after = Some(last.id);
            paged.extend(page.iter().map(|r| r.id));
        }
        assert_eq!(paged, ids);

        // Filters and paging together.
        let page = read(AuditFilter {
            user: Some(alice),
            kind: Some(AuditKind::TierChanged),
            after_id: ids.get(10).copied(),
            limit: 2,
            ..AuditFilter::default()
        })
        .await;
        assert_eq!(
            page.iter().map(|r| r.id).collect::<Vec<_>>(),
            vec![ids[12], ids[15]]
        );
    }

    pub(super) async fn recent_audit_is_newest_first_per_user(_db: &TestDb, store: Arc<SqlStore>) {
        let alice = user(&store, "alice").await;
        let bob = user(&store, "bob").await;
        for i in 0..6 {
            let who = if i % 2 == 0 { alice } else { bob };
            store
                .append_audit(&entry(T0 + i, who, AuditKind::TierChanged, "x"))
                .await
                .unwrap();
        }
        let recent = store.recent_audit_of(alice, 2).await.unwrap();
        assert_eq!(
            recent.iter().map(|r| r.entry.at_ms).collect::<Vec<_>>(),
            vec![T0 + 4, T0 + 2]
        );
    }

    pub(super) async fn a_verification_event_is_claimed_once(_db: &TestDb, store: Arc<SqlStore>) {
        let alice = user(&store, "alice").await;
        let first = event("evt_1", 'a');
        let claim = |e: VerificationEvent, at: i64| {
            let store = Arc::clone(&store);
            async move {
                store
                    .claim_verification_event(&e, "acme", at, LEASE_MS)
                    .await
                    .unwrap()
            }
        };
        assert_eq!(claim(first.clone(), T0).await, VerificationClaim::New);
        assert_eq!(
            claim(first.clone(), T0 + 1).await,
            VerificationClaim::InProgress
        );
        assert_eq!(
            claim(event("evt_1", 'b'), T0 + 1).await,
            VerificationClaim::OtherBody
        );
        store
            .finish_verification_event(&first.event_id, alice, "{\"tier\":1}", T0 + 2)
            .await
            .unwrap();
        assert_eq!(
            claim(first.clone(), T0 + 3).await,
            VerificationClaim::Done("{\"tier\":1}".to_owned())
        );
        // Long after, still answered, never claimed again.
        assert_eq!(
            claim(first.clone(), T0 + 10 * LEASE_MS).await,
            VerificationClaim::Done("{\"tier\":1}".to_owned())
        );
        assert_eq!(
            claim(event("evt_1", 'b'), T0 + 3).await,
            VerificationClaim::OtherBody
        );
        // A finished event is not released; a released one is new again.
        store
            .release_verification_event(&first.event_id)
            .await
            .unwrap();
        assert!(matches!(
            claim(first.clone(), T0 + 4).await,
            VerificationClaim::Done(_)
        ));
        let second = event("evt_2", 'c');
        assert_eq!(claim(second.clone(), T0).await, VerificationClaim::New);
        store
            .release_verification_event(&second.event_id)
            .await
            .unwrap();
        assert_eq!(claim(second, T0 + 1).await, VerificationClaim::New);
    }

    pub(super) async fn a_dead_claim_is_taken_over_after_its_lease(
        _db: &TestDb,
        store: Arc<SqlStore>,
    ) {
        let e = event("evt_dead", 'a');
        let claim = |at: i64| {
            let store = Arc::clone(&store);
            let e = e.clone();
            async move {
                store
                    .claim_verification_event(&e, "acme", at, LEASE_MS)
                    .await
                    .unwrap()
            }
        };
        assert_eq!(claim(T0).await, VerificationClaim::New);
        assert_eq!(
            claim(T0 + LEASE_MS - 1).await,
            VerificationClaim::InProgress
        );
        assert_eq!(claim(T0 + LEASE_MS).await, VerificationClaim::New);
        assert_eq!(
            claim(T0 + LEASE_MS + 1).await,
            VerificationClaim::InProgress
        );
    }

    pub(super) async fn concurrent_claims_of_one_event_have_one_winner(
        _db: &TestDb,
        store: Arc<SqlStore>,
    ) {
        let e = event("evt_race", 'a');
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let store = Arc::clone(&store);
            let e = e.clone();
            tasks.push(tokio::spawn(async move {
                store
                    .claim_verification_event(&e, "acme", T0, LEASE_MS)
                    .await
                    .unwrap()
            }));
        }
        let mut new = 0;
        for task in tasks {
            match task.await.unwrap() {
                VerificationClaim::New => new += 1,
                VerificationClaim::InProgress => {}
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(new, 1);
    }

    pub(super) async fn legal_names_are_kept_per_user(_db: &TestDb, store: Arc<SqlStore>) {
        let alice = user(&store, "alice").await;
        let bob = user(&store, "bob").await;
        assert_eq!(store.legal_name_of(alice).await.unwrap(), None);
        let id = ProviderEventId::parse("evt_1").unwrap();
        let name = LegalName::parse("Alice Liddell").unwrap();
        store
            .set_legal_name(alice, &name, "acme", &id, T0)
            .await
            .unwrap();
        let renamed = LegalName::parse("Alice P. Liddell").unwrap();
        store
            .set_legal_name(alice, &renamed, "acme", &id, T0 + 1)
            .await
            .unwrap();
        assert_eq!(
            store.legal_name_of(alice).await.unwrap().as_deref(),
            Some("Alice P. Liddell")
        );
        assert_eq!(store.legal_name_of(bob).await.unwrap(), None);
    }
}
