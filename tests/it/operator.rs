//! The operator's core methods on both backends, in-process: a handle two
//! wallets share is refused, racing deliveries of one verification event
//! change the tier once, and `paybot verify`'s hold check.

use std::sync::Arc;

use bot::message::{Handle, Platform, PlatformUserId};
use bot::service::CallbackOutcome;
use bot::store::{SeenUser, Store, UserId};
use bot::trust::operator::{ActorName, OperatorReason, OperatorRefusal, UserTarget};
use bot::trust::verification::{BodyDigest, LegalName, ProviderEventId, VerificationEvent};
use bot::trust::{Actor, AuditFilter, AuditKind, Tier, TrustStore};
use ledger::testing::TestBackend;
use paybot_store::SqlStore;

use crate::support::{self, cases};

async fn seen(store: &SqlStore, platform: Platform, id: &str, handle: &str) -> UserId {
    let seen = SeenUser {
        platform,
        id: PlatformUserId::new(id).unwrap(),
        handle: Some(Handle::parse(handle).unwrap()),
        skeleton: None,
        display_name: handle.to_owned(),
        speaking: true,
        direct: true,
    };
    store.upsert_identity(&seen, 1_000).await.unwrap().0.user
}

fn reason(text: &str) -> OperatorReason {
    OperatorReason::parse(text).unwrap()
}

async fn a_handle_two_wallets_share_is_refused(backend: TestBackend) {
    let Some((db, bot, store)) = support::bot_on(backend).await else {
        return;
    };
    let on_telegram = seen(&store, Platform::Telegram, "111", "sam").await;
    let on_discord = seen(&store, Platform::Discord, "222", "sam").await;
    assert_ne!(on_telegram, on_discord);
    let one = Tier::new(1).unwrap();
    let operator = Actor::Operator("ana".to_owned());

    let bare = UserTarget::parse("@sam").unwrap();
    let refused = bot
        .set_tier(&bare, one, &reason("checked"), operator.clone())
        .await
        .unwrap()
        .unwrap_err();
    let OperatorRefusal::AmbiguousHandle { candidates, .. } = &refused else {
        panic!("{refused:?}")
    };
    let mut candidates = candidates.clone();
    candidates.sort();
    assert_eq!(candidates, ["discord:222", "telegram:111"]);
    assert!(
        refused.to_string().contains("name one as PLATFORM:ID"),
        "{refused}"
    );

    let change = bot
        .set_tier(
            &UserTarget::parse("telegram:@sam").unwrap(),
            one,
            &reason("checked"),
            operator,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (change.user, change.from, change.to),
        (on_telegram, Tier::ZERO, one)
    );
    let report = bot
        .user_report(&UserTarget::parse("discord:222").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(report.tier, Tier::ZERO, "the other wallet is untouched");
    assert!(report.recent_audit.is_empty());

    // No holds: verify's check says nothing and passes.
    let mut out = Vec::new();
    let verdict = paybot::admin::holds_audited(&bot, &mut out).await.unwrap();
    assert_eq!(verdict, paybot::admin::HoldsVerdict::Sound);
    assert!(out.is_empty());
    db.cleanup().await;
}

fn event(body: char) -> VerificationEvent {
    VerificationEvent {
        event_id: ProviderEventId::parse("evt_race").unwrap(),
        target: UserTarget::parse("telegram:111").unwrap(),
        tier: Tier::new(2).unwrap(),
        legal_name: Some(LegalName::parse("Sam Vimes").unwrap()),
        reason: reason("verification approved"),
        body_digest: BodyDigest::from_hex(&body.to_string().repeat(64)).unwrap(),
    }
}

async fn racing_deliveries_of_one_event_change_the_tier_once(backend: TestBackend) {
    let Some((db, bot, store)) = support::bot_on(backend).await else {
        return;
    };
    let sam = seen(&store, Platform::Telegram, "111", "sam").await;
    let provider = ActorName::parse("acme").unwrap();
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let bot = Arc::clone(&bot);
        let provider = provider.clone();
        tasks.push(tokio::spawn(async move {
            bot.verification_callback(&event('a'), &provider)
                .await
                .unwrap()
        }));
    }
    let mut applied = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            CallbackOutcome::Applied(result) => applied.push(result),
            CallbackOutcome::Replayed(_) | CallbackOutcome::InProgress => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(applied.len(), 1, "{applied:?}");
    let stored = serde_json::to_string(&applied[0]).unwrap();
    assert_eq!(
        bot.verification_callback(&event('a'), &provider)
            .await
            .unwrap(),
        CallbackOutcome::Replayed(stored)
    );
    assert_eq!(
        bot.verification_callback(&event('b'), &provider)
            .await
            .unwrap(),
        CallbackOutcome::OtherBody
    );
    let changes = store
        .audit_entries(&AuditFilter {
            user: Some(sam),
            kind: Some(AuditKind::TierChanged),
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].entry.actor, Actor::Provider("acme".to_owned()));
    assert_eq!(changes[0].entry.subject.as_deref(), Some("evt_race"));
    let report = bot
        .user_report(&UserTarget::parse("@sam").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(report.tier, Tier::new(2).unwrap());
    assert_eq!(report.tier_name.as_deref(), Some("enhanced"));
    assert_eq!(report.legal_name.as_deref(), Some("Sam Vimes"));
    db.cleanup().await;
}

cases!(a_handle_two_wallets_share_is_refused {
    a_handle_two_wallets_share_is_refused_on_sqlite(TestBackend::Sqlite),
    a_handle_two_wallets_share_is_refused_on_postgres(TestBackend::Postgres),
});

cases!(racing_deliveries_of_one_event_change_the_tier_once {
    racing_deliveries_change_the_tier_once_on_sqlite(TestBackend::Sqlite),
    racing_deliveries_change_the_tier_once_on_postgres(TestBackend::Postgres),
});
