//! `/settle` and the Settle button, as the review of issue 19 found them:
//! a second tap while the sender's own debts wait, a redelivered group
//! payment, the line about what is left after a refusal, the private asks.

use super::*;
use bot::store::tab::SettlementStore;

/// Alice, Bob, Carol and Dave on a group tab: Bob owes Alice $30.00 and
/// Carol $20.00; Dave owes Alice $10.00.
async fn bob_owes_two_dave_owes_one(bot: &Bot) {
    for (who, event) in [
        ("alice", "r-s1"),
        ("bob", "r-s2"),
        ("carol", "r-s3"),
        ("dave", "r-s4"),
    ] {
        bot.handle(&dm(who, event, "/start")).await;
    }
    for who in ["bob", "carol", "dave"] {
        bot.handle(&group(who, &format!("r-hi-{who}"), "hi")).await;
    }
    for (who, event, text) in [
        ("alice", "r-e1", "/expense 30 split @bob for pizza"),
        ("carol", "r-e2", "/expense 20 split @bob for cab"),
        ("alice", "r-e3", "/expense 10 split @dave for tea"),
    ] {
        let added = text_of(&bot.handle(&group(who, event, text)).await);
        assert!(added.contains("on the tab"), "{added}");
    }
}

/// Waits until every outcome is in the database and out of the bot's
/// memory, then forgets them all: a redelivery is then handled afresh, as
/// after a crash.
async fn lose_outcomes(bot: &Bot, store: &SqlStore) {
    bot.outcomes_committed().await;
    store.forget_events(i64::MAX).await.unwrap();
}

/// The private asks to settle handed to the platform so far, by debtor.
fn asks_to(outbox: &Recorder, who: &str) -> usize {
    outbox
        .handed()
        .iter()
        .filter(|r| {
            r.text.contains("asks everyone to settle")
                && r.audience == Audience::Private(PlatformUserId::new(who).unwrap())
        })
        .count()
}

/// Settle pressed again while everything the sender owes waits for their
/// code: they are told it waits; they are not taken for someone who owes
/// nothing (no "square", nobody asked on their behalf).
async fn second_settle_while_own_debts_wait(backend: TestBackend) {
    let Some((db, bot, _store)) = setup_with_store(backend).await else {
        return;
    };
    let outbox = Recorder::new(None);
    bot.dispatcher()
        .register(Platform::Mock, Arc::<Recorder>::clone(&outbox));
    bob_owes_two_dave_owes_one(&bot).await;
    let first = bot.handle(&group("bob", "r-settle1", "/settle")).await;
    assert_eq!(codes_asked(&first), 1, "{first:?}");
    let again = bot.handle(&group("bob", "r-settle2", "/settle")).await;
    let text = text_of(&again);
    assert!(text.contains("is already waiting"), "{text}");
    assert!(!text.contains("square"), "{text}");
    assert!(!text.contains("You owe nothing"), "{text}");
    assert!(
        !again
            .iter()
            .any(|r| matches!(r.audience, Audience::Chat(_)) && r.text.contains("already")),
        "told privately: {again:?}"
    );
    bot.dispatcher().drain().await.unwrap();
    assert_eq!(asks_to(&outbox, "dave"), 0);
    assert!(db.ledger.verify().await.unwrap().is_empty());
    db.cleanup().await;
}

cases!(second_settle_while_own_debts_wait {
    a_second_settle_while_own_debts_wait_says_so_on_sqlite(TestBackend::Sqlite),
    a_second_settle_while_own_debts_wait_says_so_on_postgres(TestBackend::Postgres),
});

/// A `/pay` to several people handled again (its outcome lost) reaches
/// its stored group even when, counting itself, the payer now has the
/// most groups waiting: it gets a fresh code, not a refusal.
async fn redelivered_pay_many_reaches_its_group(backend: TestBackend) {
    let Some((db, bot, store)) = setup_with_store(backend).await else {
        return;
    };
    for (who, event) in [("alice", "p-s1"), ("bob", "p-s2"), ("carol", "p-s3")] {
        bot.handle(&dm(who, event, "/start")).await;
    }
    for who in ["bob", "carol"] {
        bot.handle(&group(who, &format!("p-hi-{who}"), "hi")).await;
    }
    for n in 0..3 {
        let started = bot
            .handle(&group(
                "alice",
                &format!("p-pay{n}"),
                "/pay @bob @carol 1 each",
            ))
            .await;
        assert_eq!(codes_asked(&started), 1, "{started:?}");
    }
    lose_outcomes(&bot, &store).await;
    let again = bot
        .handle(&group("alice", "p-pay2", "/pay @bob @carol 1 each"))
        .await;
    let text = text_of(&again);
    assert!(!text.contains("waiting for a code"), "{text}");
    assert!(text.contains("(total $2.00)"), "{text}");
    let code = code_in(&text);
    let done = text_of(
        &bot.handle(&dm("alice", "p-confirm", &format!("/confirm {code}")))
            .await,
    );
    assert!(
        done.contains("Done: you paid @bob $1.00, @carol $1.00"),
        "{text}\n{done}"
    );
    assert!(
        balance_text(&bot, "bob", "p-bal")
            .await
            .contains("$101.00 available")
    );
    assert!(db.ledger.verify().await.unwrap().is_empty());
    db.cleanup().await;
}

cases!(redelivered_pay_many_reaches_its_group {
    a_redelivered_pay_many_reaches_its_stored_group_on_sqlite(TestBackend::Sqlite),
    a_redelivered_pay_many_reaches_its_stored_group_on_postgres(TestBackend::Postgres),
});

/// A redelivered `/settle` to two people reaches its stored group too.
async fn redelivered_settle_many_reaches_its_group(backend: TestBackend) {
    let Some((db, bot, store)) = setup_with_store(backend).await else {
        return;
    };
    bob_owes_two_dave_owes_one(&bot).await;
    let first = bot.handle(&group("bob", "r-settle", "/settle")).await;
    assert_eq!(codes_asked(&first), 1, "{first:?}");
    for n in 0..2 {
        let started = bot
            .handle(&group(
                "bob",
                &format!("r-pay{n}"),
                "/pay @alice @dave 1 each",
            ))
            .await;
        assert_eq!(codes_asked(&started), 1, "{started:?}");
    }
    lose_outcomes(&bot, &store).await;
    let again = text_of(&bot.handle(&group("bob", "r-settle", "/settle")).await);
    assert!(again.contains("(total $50.00)"), "{again}");
    let code = code_in(&again);
    let done = text_of(
        &bot.handle(&dm("bob", "r-confirm", &format!("/confirm {code}")))
            .await,
    );
    assert!(done.contains("Done: you paid @alice"), "{done}");
    let tab = text_of(&bot.handle(&group("alice", "r-tab", "/tab")).await);
    assert!(!tab.contains("@bob owes"), "{tab}");
    assert!(db.ledger.verify().await.unwrap().is_empty());
    db.cleanup().await;
}

cases!(redelivered_settle_many_reaches_its_group {
    a_redelivered_settle_many_reaches_its_stored_group_on_sqlite(TestBackend::Sqlite),
    a_redelivered_settle_many_reaches_its_stored_group_on_postgres(TestBackend::Postgres),
});

/// When the first currency's settlement is refused, the reply does not
/// go on about "/settle again" for the rest as if something started.
async fn no_rest_line_after_a_refusal(backend: TestBackend) {
    let Some((db, bot, _store)) = setup_with_store(backend).await else {
        return;
    };
    for (who, event) in [("alice", "x-s1"), ("bob", "x-s2"), ("carol", "x-s3")] {
        bot.handle(&dm(who, event, "/start")).await;
    }
    for who in ["bob", "carol"] {
        bot.handle(&group(who, &format!("x-hi-{who}"), "hi")).await;
    }
    for (who, event, text) in [
        ("alice", "x-e1", "/expense 200 EUR split @bob for hotel"),
        ("carol", "x-e2", "/expense 20 split @bob for cab"),
    ] {
        let added = text_of(&bot.handle(&group(who, event, text)).await);
        assert!(added.contains("on the tab"), "{added}");
    }
    let refused = bot.handle(&group("bob", "x-settle", "/settle")).await;
    let text = text_of(&refused);
    assert_eq!(codes_asked(&refused), 0, "{text}");
    assert!(!text.contains("You also owe"), "{text}");
    assert!(db.ledger.verify().await.unwrap().is_empty());
    db.cleanup().await;
}

cases!(no_rest_line_after_a_refusal {
    no_settle_again_line_after_a_refused_settle_on_sqlite(TestBackend::Sqlite),
    no_settle_again_line_after_a_refused_settle_on_postgres(TestBackend::Postgres),
});

/// The Settle ask is limited per debtor from when they were last asked,
/// not by clock hour: presses two seconds apart across the hour ask once,
/// and the second reply does not claim to have asked anyone.
async fn settle_ask_is_a_sliding_window(backend: TestBackend) {
    let Some((db, bot, _store)) = setup_with_store(backend).await else {
        return;
    };
    let outbox = Recorder::new(None);
    bot.dispatcher()
        .register(Platform::Mock, Arc::<Recorder>::clone(&outbox));
    bob_owes_two_dave_owes_one(&bot).await;
    // Just before the hour (the clock starts on one).
    db.clock
        .advance(std::time::Duration::from_secs(59 * 60 + 59));
    let first = text_of(&bot.handle(&group("alice", "w-1", "/settle")).await);
    assert!(first.contains("I asked @bob, @dave privately"), "{first}");
    db.clock.advance(std::time::Duration::from_secs(2));
    let second = text_of(&bot.handle(&group("alice", "w-2", "/settle")).await);
    assert!(!second.contains("I asked"), "{second}");
    assert!(
        second.contains("asked within the last 1 hour already"),
        "{second}"
    );
    bot.dispatcher().drain().await.unwrap();
    assert_eq!(asks_to(&outbox, "bob"), 1);
    assert_eq!(asks_to(&outbox, "dave"), 1);
    // An hour after the first ask, they are asked again.
    db.clock.advance(std::time::Duration::from_secs(60 * 60));
    let third = text_of(&bot.handle(&group("alice", "w-3", "/settle")).await);
    assert!(third.contains("I asked @bob, @dave privately"), "{third}");
    bot.dispatcher().drain().await.unwrap();
    assert_eq!(asks_to(&outbox, "bob"), 2);
    db.cleanup().await;
}

cases!(settle_ask_is_a_sliding_window {
    the_settle_ask_is_once_per_hour_since_the_last_on_sqlite(TestBackend::Sqlite),
    the_settle_ask_is_once_per_hour_since_the_last_on_postgres(TestBackend::Postgres),
});

/// Bob owes Alice $30.00 and Carol $20.00 (through `bob_owes_two_dave_owes_one`);
/// the tab as it was, and `/settle` still starts a fresh group.
async fn tab_as_it_was(bot: &Bot, round: &str) {
    let tab = text_of(
        &bot.handle(&group("alice", &format!("{round}-tab"), "/tab"))
            .await,
    );
    assert!(tab.contains("@bob owes"), "{tab}");
    assert!(!tab.contains("counted"), "{tab}");
    let balance = balance_text(bot, "bob", &format!("{round}-bal")).await;
    assert!(balance.contains("$100.00 available."), "{balance}");
    let again = bot
        .handle(&group("bob", &format!("{round}-again"), "/settle"))
        .await;
    assert_eq!(codes_asked(&again), 1, "{again:?}");
    let payment = reference_after(&text_of(&again), "/cancel ");
    bot.handle(&dm(
        "bob",
        &format!("{round}-cancel"),
        &format!("/cancel {payment}"),
    ))
    .await;
}

/// A `/settle` to two whose code ends without paying (five wrong codes,
/// its code expiring and swept, or the payment undone after it counted):
/// its settlements lapse, the tab is as it was, the ledger balances.
async fn settle_group_ended_without_paying(backend: TestBackend) {
    let Some((db, bot, _store)) = setup_with_store(backend).await else {
        return;
    };
    bob_owes_two_dave_owes_one(&bot).await;
    // Five wrong codes.
    let started = text_of(&bot.handle(&group("bob", "l-1", "/settle")).await);
    let code = code_in(&started);
    let wrong: String = code
        .chars()
        .map(|c| if c == '1' { '2' } else { '1' })
        .collect();
    for n in 0..5 {
        bot.handle(&dm("bob", &format!("l-w{n}"), &format!("/confirm {wrong}")))
            .await;
    }
    let late = text_of(
        &bot.handle(&dm("bob", "l-late", &format!("/confirm {code}")))
            .await,
    );
    assert!(!late.contains("Done"), "{late}");
    tab_as_it_was(&bot, "l-a").await;
    // Its code expires and the sweep ends it.
    let started = text_of(&bot.handle(&group("bob", "l-2", "/settle")).await);
    let code = code_in(&started);
    let ttl = bot::BotConfig::default().otp.ttl_secs;
    db.clock
        .advance(std::time::Duration::from_secs(u64::from(ttl) + 1));
    bot.sweep().await.unwrap();
    let late = text_of(
        &bot.handle(&dm("bob", "l-late2", &format!("/confirm {code}")))
            .await,
    );
    assert!(!late.contains("Done"), "{late}");
    tab_as_it_was(&bot, "l-b").await;
    // Confirmed, then undone: the settlements no longer count.
    let started = text_of(&bot.handle(&group("bob", "l-3", "/settle")).await);
    let code = code_in(&started);
    let group_ref = reference_after(&started, "/cancel ");
    let done = text_of(
        &bot.handle(&dm("bob", "l-ok", &format!("/confirm {code}")))
            .await,
    );
    assert!(done.contains("Done"), "{done}");
    let tab = text_of(&bot.handle(&group("alice", "l-tab", "/tab")).await);
    assert!(tab.contains("2 settlements counted"), "{tab}");
    let undone = text_of(
        &bot.handle(&dm("bob", "l-undo", &format!("/undo {group_ref}")))
            .await,
    );
    assert!(undone.to_lowercase().contains("undone"), "{undone}");
    tab_as_it_was(&bot, "l-c").await;
    assert!(db.ledger.verify().await.unwrap().is_empty());
    db.cleanup().await;
}

cases!(settle_group_ended_without_paying {
    a_settle_group_ended_unpaid_leaves_the_tab_as_it_was_on_sqlite(TestBackend::Sqlite),
    a_settle_group_ended_unpaid_leaves_the_tab_as_it_was_on_postgres(TestBackend::Postgres),
});

/// An expense undone while a settlement covering it waits for its code:
/// the settlement's payment (all of a payment to several people) is
/// cancelled and the payer told privately; the old code pays nothing, and
/// the tab shows what is owed now.
async fn undo_under_a_waiting_settlement(backend: TestBackend) {
    let Some((db, bot, _store)) = setup_with_store(backend).await else {
        return;
    };
    let outbox = Recorder::new(None);
    bot.dispatcher()
        .register(Platform::Mock, Arc::<Recorder>::clone(&outbox));
    bob_owes_two_dave_owes_one(&bot).await;
    let started = text_of(&bot.handle(&group("bob", "u-1", "/settle")).await);
    let code = code_in(&started);
    let group_ref = reference_after(&started, "/cancel ");
    // Alice's $30.00 pizza for Bob is undone.
    let history = text_of(&bot.handle(&group("alice", "u-h", "/tab history")).await);
    let pizza = history
        .lines()
        .find(|l| l.contains("pizza"))
        .unwrap_or_else(|| panic!("{history}"));
    let expense = reference_after(&format!(" {pizza}"), " ");
    let expense = if expense.starts_with('E') {
        expense
    } else {
        let at = pizza.find(" E").unwrap_or_else(|| panic!("{pizza}"));
        reference_after(&pizza[at..], " ")
    };
    let undone = text_of(
        &bot.handle(&group(
            "alice",
            "u-undo",
            &format!("/expense undo {expense}"),
        ))
        .await,
    );
    assert!(undone.contains(&expense), "{undone}");
    bot.dispatcher().drain().await.unwrap();
    let told = outbox.handed();
    let notice = told
        .iter()
        .find(|r| r.text.contains("was cancelled before it was paid"))
        .unwrap_or_else(|| panic!("bob not told: {told:?}"));
    assert_eq!(
        notice.audience,
        Audience::Private(PlatformUserId::new("bob").unwrap())
    );
    assert!(notice.text.contains(&group_ref), "{}", notice.text);
    let late = text_of(
        &bot.handle(&dm("bob", "u-late", &format!("/confirm {code}")))
            .await,
    );
    assert!(!late.contains("Done"), "{late}");
    let balance = balance_text(&bot, "bob", "u-bal").await;
    assert!(balance.contains("$100.00 available."), "{balance}");
    let balance = balance_text(&bot, "alice", "u-bal2").await;
    assert!(balance.contains("$100.00 available."), "{balance}");
    let tab = text_of(&bot.handle(&group("carol", "u-tab", "/tab")).await);
    assert!(tab.contains("@bob owes @carol $20.00"), "{tab}");
    assert!(!tab.contains("@bob owes @alice"), "{tab}");
    assert!(db.ledger.verify().await.unwrap().is_empty());
    db.cleanup().await;
}

cases!(undo_under_a_waiting_settlement {
    an_undo_cancels_the_waiting_settlement_it_unfits_on_sqlite(TestBackend::Sqlite),
    an_undo_cancels_the_waiting_settlement_it_unfits_on_postgres(TestBackend::Postgres),
});

/// `/settle` (to everyone) and `/settle @alice` at once: what covers
/// Alice's debt starts once. Which way depends on who commits first: the
/// one to everyone pays Alice and Carol and `/settle @alice` is told it
/// waits; or `/settle @alice` starts first, and the one to everyone either
/// collides with it (told it waits) or, having read the tab after it,
/// pays only Carol, as a `/settle` after a `/settle @alice` does. Every
/// code confirmed, Alice is paid once.
async fn settle_group_races_single(backend: TestBackend) {
    let Some((db, bot, _store)) = setup_with_store(backend).await else {
        return;
    };
    bob_owes_two_dave_owes_one(&bot).await;
    let all = group("bob", "g-all", "/settle");
    let one = group("bob", "g-one", "/settle @alice");
    let (a, b) = tokio::join!(bot.handle(&all), bot.handle(&one));
    let both: Vec<Reply> = a.iter().chain(&b).cloned().collect();
    let asked: Vec<String> = private(&both)
        .into_iter()
        .filter(|r| r.text.contains("/confirm "))
        .map(|r| r.text.clone())
        .collect();
    assert_eq!(
        asked.iter().filter(|text| text.contains("@alice")).count(),
        1,
        "Alice's debt is in exactly one payment: {a:?} {b:?}"
    );
    if asked.len() == 1 {
        let text = text_of(&both);
        assert!(text.contains("is already waiting"), "{text}");
    }
    for (n, text) in asked.iter().enumerate() {
        let code = code_in(text);
        let done = text_of(
            &bot.handle(&dm(
                "bob",
                &format!("g-ok-{n}"),
                &format!("/confirm {code}"),
            ))
            .await,
        );
        assert!(done.contains("Done"), "{done}");
    }
    let balance = balance_text(&bot, "alice", "g-alice").await;
    assert!(balance.contains("$140.00 available."), "{balance}");
    let tab = text_of(&bot.handle(&group("carol", "g-tab", "/tab")).await);
    assert!(!tab.contains("@alice owes @bob"), "{tab}");
    assert!(!tab.contains("@bob owes @alice"), "{tab}");
    assert!(db.ledger.verify().await.unwrap().is_empty());
    db.cleanup().await;
}

cases!(settle_group_races_single {
    settle_to_all_and_to_alice_at_once_start_one_on_sqlite(TestBackend::Sqlite),
    settle_to_all_and_to_alice_at_once_start_one_on_postgres(TestBackend::Postgres),
});

/// The sweep expiring a cash settlement while its payee confirms it: it
/// either counts (the payee told so) or expired (the payee told so),
/// never both.
async fn cash_expiry_races_confirm(backend: TestBackend) {
    let Some((db, bot, store)) = setup_with_store(backend).await else {
        return;
    };
    let reference = bot_owes_alice_cash(&bot).await;
    let ttl = bot::BotConfig::default().cash_settle_ttl_secs;
    db.clock
        .advance(std::time::Duration::from_secs(u64::from(ttl) + 1));
    let confirm = dm(
        "alice",
        "c-confirm",
        &format!("/settle confirm {reference}"),
    );
    let (swept, answered) = tokio::join!(bot.sweep(), bot.handle(&confirm));
    swept.unwrap();
    bot.sweep().await.unwrap();
    let answered = text_of(&answered);
    let stored = store
        .settlement(&bot::command::ShortRef::parse(&reference).unwrap())
        .await
        .unwrap()
        .unwrap();
    let tab = text_of(&bot.handle(&group("alice", "c-tab", "/tab")).await);
    if answered.contains("Confirmed") {
        assert_eq!(stored.state, bot::store::tab::SettlementState::Counted);
        assert!(tab.contains("@bob owes @alice $10.00"), "{tab}");
    } else {
        assert!(answered.contains("expired"), "{answered}");
        assert_eq!(stored.state, bot::store::tab::SettlementState::Expired);
        assert!(tab.contains("@bob owes @alice $30.00"), "{tab}");
    }
    assert!(db.ledger.verify().await.unwrap().is_empty());
    db.cleanup().await;
}

/// Bob owes Alice $30.00 and says he paid $20.00 of it in cash: the
/// settlement's reference.
async fn bot_owes_alice_cash(bot: &Bot) -> String {
    for (who, event) in [("alice", "c-s1"), ("bob", "c-s2")] {
        bot.handle(&dm(who, event, "/start")).await;
    }
    bot.handle(&group("bob", "c-hi", "hi")).await;
    let added = text_of(
        &bot.handle(&group("alice", "c-e1", "/expense 30 split @bob for pizza"))
            .await,
    );
    assert!(added.contains("on the tab"), "{added}");
    let cash = text_of(
        &bot.handle(&group("bob", "c-cash", "/settle @alice 20 cash"))
            .await,
    );
    assert!(cash.contains("outside paybot"), "{cash}");
    reference_after(&cash, "Settlement ")
}

cases!(cash_expiry_races_confirm {
    a_cash_settlement_expiring_while_confirmed_has_one_outcome_on_sqlite(TestBackend::Sqlite),
    a_cash_settlement_expiring_while_confirmed_has_one_outcome_on_postgres(TestBackend::Postgres),
});
