//! Autopay for a biller, with a monthly cap, over months of a frozen
//! clock: the test is the biller (registered as `paybot admin biller-add`
//! does, invoices sent with `Bot::send_invoice` as the API does) and the
//! payer talks through the mock chat. Within the cap an invoice is paid on
//! its due date once, even with two processes sweeping at once; above the
//! cap it waits and the payer is told why; `/autopay off` and a decline
//! stop it; short of money it is tried again, then left open and told.
//! Both backends.

use std::sync::Arc;
use std::time::Duration;

use bot::command::Memo;
use bot::message::{Handle, Platform, PlatformUserId};
use bot::otp::{OsRandom, Pepper};
use bot::store::{Identity, Store};
use bot::{Bot, BotConfig};
use ledger::testing::{TestBackend, TestDb};
use ledger::{Amount, Currency, Ledger};
use paybot_mock::{DM, MockChat, Outgoing};
use paybot_store::SqlStore;

use crate::support::{self, cases};

/// 2026-01-01 00:00 UTC, where the test clock starts, plus `days` and
/// `hours`, in milliseconds.
fn at(days: i64, hours: i64) -> i64 {
    ledger::testing::CLOCK_START_MS + (days * 24 + hours) * 3_600_000
}

async fn say(chat: &MockChat, from: &str, text: &str) -> String {
    let out = Outgoing {
        from: from.to_owned(),
        chat: DM.to_owned(),
        text: text.to_owned(),
        id: None,
        reply_to: None,
    };
    chat.send(&out)
        .await
        .unwrap()
        .iter()
        .map(|d| d.text.clone())
        .collect::<Vec<_>>()
        .join("\n")
}

/// What the sweep caused, delivered: every text, joined.
async fn tick(chat: &MockChat) -> String {
    chat.tick()
        .await
        .unwrap()
        .iter()
        .map(|d| format!("{}: {}", d.to, d.text))
        .collect::<Vec<_>>()
        .join("\n")
}

fn code_in(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|word| word.len() == 6)
        .unwrap_or_else(|| panic!("no code in {text:?}"))
        .to_owned()
}

struct World {
    db: TestDb,
    bot: Arc<Bot>,
    store: Arc<SqlStore>,
    chat: Arc<MockChat>,
    biller: Identity,
}

async fn world(backend: TestBackend) -> Option<World> {
    let (db, bot, store) = support::bot_on(backend).await?;
    let chat = MockChat::new(Arc::clone(&bot));
    let url = url::Url::parse("http://127.0.0.1:9/hook").unwrap();
    let handle = Handle::parse("power").unwrap();
    // The secret is sealed under a key of this test's own: autopay never
    // reads it.
    let sealer = paybot::bills::WebhookSealer::new(
        &bot::otp::Pepper::from_bytes((1..=32).collect()).unwrap(),
    );
    paybot::bills::register(
        &store,
        &sealer,
        "Power Co",
        &handle,
        &url,
        true,
        db.ledger.now_ms(),
    )
    .await
    .unwrap();
    let id = PlatformUserId::new(format!("{}power", paybot::bills::BILLER_ID_PREFIX)).unwrap();
    let biller = store.identity(Platform::Mock, &id).await.unwrap().unwrap();
    Some(World {
        db,
        bot,
        store,
        chat,
        biller,
    })
}

impl World {
    async fn user(&self, name: &str) -> Identity {
        let id = PlatformUserId::new(name).unwrap();
        self.store
            .identity(Platform::Mock, &id)
            .await
            .unwrap()
            .unwrap()
    }

    /// Sends `name` an invoice of `dollars` due at `due_at_ms`; returns
    /// its request's reference and what the payer read.
    async fn invoice(
        &self,
        name: &str,
        key: &str,
        dollars: i64,
        due_at_ms: i64,
    ) -> (String, String) {
        let payer = self.user(name).await;
        let amount = Amount::from_minor(dollars * 100, Currency::USD).unwrap();
        let memo = Memo::from_stored(&format!("bill {key}")).unwrap();
        let request = self
            .bot
            .send_invoice(&self.biller, &payer, amount, memo, due_at_ms, key)
            .await
            .unwrap()
            .unwrap();
        let delivered = tick(&self.chat).await;
        (request.reference.to_string(), delivered)
    }

    fn advance_to(&self, at_ms: i64) {
        let now = self.db.ledger.now_ms();
        assert!(at_ms >= now, "the clock only moves on");
        self.db
            .clock
            .advance(Duration::from_millis(u64::try_from(at_ms - now).unwrap()));
    }

    async fn autopay_on(&self, name: &str, text: &str) -> String {
        let asked = say(&self.chat, name, text).await;
        say(&self.chat, name, &format!("/confirm {}", code_in(&asked))).await
    }
}

fn second_bot(ledger: &Ledger) -> Arc<Bot> {
    let config = BotConfig {
        mock_opening_balance: Some(Amount::from_minor(10_000, Currency::USD).unwrap()),
        ..BotConfig::default()
    };
    Bot::new(
        ledger.clone(),
        Arc::new(SqlStore::new(ledger)),
        config,
        Pepper::generate(&OsRandom),
        Arc::new(OsRandom),
    )
}

async fn within_the_cap_is_paid_once_above_it_waits(backend: TestBackend) {
    let Some(w) = world(backend).await else {
        return; // PostgreSQL absent outside CI: skipped loudly by TestDb.
    };
    let second = w.db.second_process().await;
    let two = second_bot(&second);
    say(&w.chat, "alice", "/start").await;

    let not_biller = say(&w.chat, "alice", "/autopay @alice up to 80").await;
    assert!(not_biller.contains("is not a biller"), "{not_biller}");
    let on = w.autopay_on("alice", "/autopay @power up to 80").await;
    assert!(on.contains("is on") && on.contains("$80.00"), "{on}");
    let listed = say(&w.chat, "alice", "/autopay").await;
    assert!(listed.contains("@power: up to $80.00 a month"), "{listed}");

    // January: $50 due on the 11th fits; $40 due on the 20th would make $90.
    let (r1, text) = w.invoice("alice", "jan-1", 50, at(10, 12)).await;
    assert!(text.contains("Autopay is on"), "{text}");
    assert!(text.contains("Sun 2026-01-11 06:00 UTC"), "{text}");
    let (r2, _) = w.invoice("alice", "jan-2", 40, at(19, 12)).await;

    w.advance_to(at(9, 12));
    let ahead = tick(&w.chat).await;
    assert!(
        ahead.contains(&format!("I'll pay invoice {r1} from @power, $50.00")),
        "{ahead}"
    );

    // Due: both processes sweep several times at once; paid once.
    w.advance_to(at(10, 12));
    let bots = [&w.bot, &two, &w.bot, &two, &w.bot, &two];
    let sweeps: Vec<_> = bots
        .into_iter()
        .map(|bot| {
            let bot = Arc::clone(bot);
            tokio::spawn(async move { bot.sweep().await.map(|_| ()) })
        })
        .collect();
    for sweep in sweeps {
        sweep.await.unwrap().unwrap();
    }
    let paid = tick(&w.chat).await;
    let alice_msgs: Vec<String> = w
        .chat
        .messages_of("alice")
        .unwrap()
        .into_iter()
        .map(|d| d.text)
        .filter(|t| t.contains(&format!("Autopay paid {r1}")))
        .collect();
    assert_eq!(alice_msgs.len(), 1, "{alice_msgs:?} / {paid}");
    let balance = say(&w.chat, "alice", "/balance").await;
    assert!(balance.contains("$50.00"), "{balance}");

    // The $40 invoice: above the cap, told why, left open.
    w.advance_to(at(18, 12));
    let told = tick(&w.chat).await;
    assert!(
        told.contains(&format!(
            "Invoice {r2} ($40.00) is above your autopay cap of $80.00 for @power"
        )),
        "{told}"
    );
    w.advance_to(at(20, 0));
    tick(&w.chat).await;
    let balance = say(&w.chat, "alice", "/balance").await;
    assert!(balance.contains("$50.00"), "{balance}");
    let bills = say(&w.chat, "alice", "/bills").await;
    assert!(
        bills.contains(&r2) && bills.contains("Autopay U"),
        "{bills}"
    );

    // February is a new month: $30 fits again.
    let (_r3, _) = w.invoice("alice", "feb-1", 30, at(35, 12)).await;
    // One declined, one after autopay is off: neither is paid.
    let (r4, _) = w.invoice("alice", "feb-2", 5, at(35, 18)).await;
    let declined = say(&w.chat, "alice", &format!("/decline {r4}")).await;
    assert!(declined.contains(&r4), "{declined}");
    w.advance_to(at(36, 0));
    tick(&w.chat).await;
    let balance = say(&w.chat, "alice", "/balance").await;
    assert!(balance.contains("$20.00"), "{balance}");
    // One she is paying by hand when it comes due (autopay would pay it two
    // minutes from now, inside her code's lifetime): paid once, by her.
    let (r6, text) = w.invoice("alice", "feb-4", 8, at(36, 6) + 120_000).await;
    assert!(text.contains("Fri 2026-02-06 00:02 UTC"), "{text}");
    let asked = say(&w.chat, "alice", &format!("/approve {r6}")).await;
    w.advance_to(at(36, 0) + 180_000);
    tick(&w.chat).await;
    // $8 reserved by her payment waiting for its code; autopay added nothing.
    let balance = say(&w.chat, "alice", "/balance").await;
    assert!(balance.contains("$12.00"), "{balance}");
    let confirmed = say(&w.chat, "alice", &format!("/confirm {}", code_in(&asked))).await;
    assert!(confirmed.contains("$8.00"), "{confirmed}");
    w.advance_to(at(37, 0));
    tick(&w.chat).await;
    let balance = say(&w.chat, "alice", "/balance").await;
    assert!(balance.contains("$12.00"), "{balance}");
    let off = say(&w.chat, "alice", "/autopay off @power").await;
    assert!(off.contains("Autopay for @power is off"), "{off}");
    let (r5, text) = w.invoice("alice", "feb-3", 6, at(39, 12)).await;
    assert!(!text.contains("Autopay is on"), "{text}");
    w.advance_to(at(45, 0));
    tick(&w.chat).await;
    let balance = say(&w.chat, "alice", "/balance").await;
    assert!(balance.contains("$12.00"), "{balance}");
    let bills = say(&w.chat, "alice", "/bills").await;
    assert!(bills.contains(&r5) && !bills.contains(&r4), "{bills}");

    let violations = w.db.ledger.verify().await.unwrap();
    assert!(violations.is_empty(), "{violations:?}");
    second.close().await;
    w.db.cleanup().await;
}

cases!(within_the_cap_is_paid_once_above_it_waits {
    autopay_within_the_cap_is_paid_once_on_sqlite(TestBackend::Sqlite),
    autopay_within_the_cap_is_paid_once_on_postgres(TestBackend::Postgres),
});

async fn short_of_money_is_tried_again_then_left_open(backend: TestBackend) {
    let Some(w) = world(backend).await else {
        return;
    };
    say(&w.chat, "alice", "/start").await;
    say(&w.chat, "bob", "/start").await;
    w.autopay_on("alice", "/autopay @power up to 80").await;
    let asked = say(&w.chat, "alice", "/pay @bob 60").await;
    say(&w.chat, "alice", &format!("/confirm {}", code_in(&asked))).await;
    let (r1, _) = w.invoice("alice", "jan-1", 50, at(10, 12)).await;

    w.advance_to(at(10, 6));
    let first = tick(&w.chat).await;
    assert!(
        first.contains(&format!("not enough money to pay invoice {r1}"))
            && first.contains("in 2 hours"),
        "{first}"
    );
    w.advance_to(at(10, 8));
    let second = tick(&w.chat).await;
    assert!(second.contains("not enough money"), "{second}");
    w.advance_to(at(10, 10));
    let last = tick(&w.chat).await;
    assert!(
        last.contains(&format!(
            "still not enough money, so I did not pay invoice {r1}"
        )) && last.contains(&format!("/approve {r1}")),
        "{last}"
    );
    w.advance_to(at(11, 0));
    assert_eq!(tick(&w.chat).await, "");
    let balance = say(&w.chat, "alice", "/balance").await;
    assert!(balance.contains("$40.00"), "{balance}");
    // Still hers to pay by hand.
    let approve = say(&w.chat, "alice", &format!("/approve {r1}")).await;
    assert!(!approve.contains("already"), "{approve}");
    let violations = w.db.ledger.verify().await.unwrap();
    assert!(violations.is_empty(), "{violations:?}");
    w.db.cleanup().await;
}

cases!(short_of_money_is_tried_again_then_left_open {
    autopay_short_of_money_is_left_open_on_sqlite(TestBackend::Sqlite),
    autopay_short_of_money_is_left_open_on_postgres(TestBackend::Postgres),
});

/// Issue 18 review: a replaced autopay's month counts under the new cap,
/// the invoices it was to pay move to the new one, and an autopay turned
/// off tells the payer the invoices it was to pay now wait for her.
async fn replacing_counts_the_month_and_keeps_its_invoices(backend: TestBackend) {
    let Some(w) = world(backend).await else {
        return;
    };
    say(&w.chat, "alice", "/start").await;
    w.autopay_on("alice", "/autopay @power up to 80").await;
    let (r1, _) = w.invoice("alice", "jan-1", 50, at(10, 12)).await;
    let (r2, _) = w.invoice("alice", "jan-2", 5, at(19, 12)).await;
    w.advance_to(at(10, 12));
    let paid = tick(&w.chat).await;
    assert!(paid.contains(&format!("Autopay paid {r1}")), "{paid}");

    // A lower cap: the $50 paid this month counts against it.
    let on = w.autopay_on("alice", "/autopay @power up to 60").await;
    assert!(on.contains("is replaced"), "{on}");
    let (r3, _) = w.invoice("alice", "jan-3", 20, at(15, 12)).await;
    w.advance_to(at(15, 12));
    let told = tick(&w.chat).await;
    assert!(
        told.contains(&format!(
            "Invoice {r3} ($20.00) is above your autopay cap of $60.00 for @power"
        )),
        "{told}"
    );
    // The $5 invoice the old autopay was to pay: paid by the new one.
    w.advance_to(at(19, 12));
    let paid = tick(&w.chat).await;
    assert!(paid.contains(&format!("Autopay paid {r2}")), "{paid}");
    let balance = say(&w.chat, "alice", "/balance").await;
    assert!(balance.contains("$45.00"), "{balance}");

    // One she starts paying by hand when it comes due, then lets her code
    // expire: autopay puts it off while her payment is open, then pays it.
    let (r5, _) = w.invoice("alice", "jan-4", 4, at(25, 6) + 120_000).await;
    w.advance_to(at(25, 0));
    tick(&w.chat).await;
    let asked = say(&w.chat, "alice", &format!("/approve {r5}")).await;
    assert!(asked.contains("code"), "{asked}");
    w.advance_to(at(25, 0) + 180_000);
    let put_off = tick(&w.chat).await;
    assert!(!put_off.contains(&r5), "{put_off}");
    w.advance_to(at(25, 1));
    tick(&w.chat).await;
    w.advance_to(at(26, 0));
    let paid = tick(&w.chat).await;
    assert!(paid.contains(&format!("Autopay paid {r5}")), "{paid}");
    let balance = say(&w.chat, "alice", "/balance").await;
    assert!(balance.contains("$41.00"), "{balance}");

    // Turned off with an invoice pending: she is told it waits for her.
    let (r4, _) = w.invoice("alice", "feb-1", 7, at(40, 12)).await;
    let off = say(&w.chat, "alice", "/autopay off @power").await;
    assert!(off.contains("Autopay for @power is off"), "{off}");
    w.advance_to(at(41, 0));
    let told = tick(&w.chat).await;
    assert!(
        told.contains(&format!("did not pay invoice {r4}"))
            && told.contains(&format!("/approve {r4}")),
        "{told}"
    );
    let balance = say(&w.chat, "alice", "/balance").await;
    assert!(balance.contains("$41.00"), "{balance}");
    let violations = w.db.ledger.verify().await.unwrap();
    assert!(violations.is_empty(), "{violations:?}");
    w.db.cleanup().await;
}

cases!(replacing_counts_the_month_and_keeps_its_invoices {
    autopay_replacing_keeps_the_month_and_invoices_on_sqlite(TestBackend::Sqlite),
    autopay_replacing_keeps_the_month_and_invoices_on_postgres(TestBackend::Postgres),
});

/// Issue 18 review: a `/confirm` replacing an autopay while a run of the
/// old one is being paid (another process sweeping) leaves exactly one on.
async fn replacing_during_a_run_leaves_one_on(backend: TestBackend) {
    let Some(w) = world(backend).await else {
        return;
    };
    let second = w.db.second_process().await;
    let two = second_bot(&second);
    say(&w.chat, "alice", "/start").await;
    w.autopay_on("alice", "/autopay @power up to 80").await;
    for (round, cap) in [(0_i64, 70), (1, 60), (2, 50)] {
        let due = at(10 + round * 31, 12);
        let (r, _) = w.invoice("alice", &format!("round-{round}"), 5, due).await;
        w.advance_to(due - 6 * 3_600_000);
        let asked = say(&w.chat, "alice", &format!("/autopay @power up to {cap}")).await;
        let code = code_in(&asked);
        let sweep = {
            let two = Arc::clone(&two);
            tokio::spawn(async move { two.sweep().await.map(|_| ()) })
        };
        let on = say(&w.chat, "alice", &format!("/confirm {code}")).await;
        sweep.await.unwrap().unwrap();
        assert!(on.contains("is on"), "{on}");
        w.advance_to(due);
        tick(&w.chat).await;
        let listed = say(&w.chat, "alice", "/autopay").await;
        assert_eq!(listed.matches("@power: up to").count(), 1, "{listed}");
        assert!(listed.contains(&format!("up to ${cap}.00")), "{listed}");
        let paid: Vec<String> = w
            .chat
            .messages_of("alice")
            .unwrap()
            .into_iter()
            .map(|d| d.text)
            .filter(|t| t.contains(&format!("Autopay paid {r}")))
            .collect();
        assert_eq!(paid.len(), 1, "{paid:?}");
    }
    let violations = w.db.ledger.verify().await.unwrap();
    assert!(violations.is_empty(), "{violations:?}");
    second.close().await;
    w.db.cleanup().await;
}

cases!(replacing_during_a_run_leaves_one_on {
    autopay_replacing_during_a_run_leaves_one_on_sqlite(TestBackend::Sqlite),
    autopay_replacing_during_a_run_leaves_one_on_postgres(TestBackend::Postgres),
});

/// What `name` was told, every message, joined.
fn told(w: &World, name: &str) -> String {
    w.chat
        .messages_of(name)
        .unwrap()
        .into_iter()
        .map(|d| d.text)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Issue 18 review: the monthly cap counts an invoice in the calendar
/// month of its *due date* on the payer's clock, not of the moment it is
/// paid. An invoice due on 1 February at 03:00 UTC is paid on the evening
/// of 31 January (its last try leaves room before the due instant): for a
/// payer in UTC it counts in February (January's room does not matter, and
/// February's is used), for one in New York it is due on 31 January and
/// counts in January.
async fn the_cap_counts_the_due_month_on_the_payers_clock(backend: TestBackend) {
    let Some(w) = world(backend).await else {
        return;
    };
    say(&w.chat, "alice", "/start").await;
    say(&w.chat, "bob", "/start").await;
    let zone = say(&w.chat, "bob", "/tz America/New_York").await;
    assert!(zone.contains("America/New_York"), "{zone}");
    w.autopay_on("alice", "/autopay @power up to 80").await;
    w.autopay_on("bob", "/autopay @power up to 80").await;

    let (a_jan, _) = w.invoice("alice", "a-jan", 50, at(19, 12)).await;
    let (a_feb1, text) = w.invoice("alice", "a-feb1", 50, at(31, 3)).await;
    // Paid on 31 January, 21:00 UTC.
    assert!(text.contains("Sat 2026-01-31 21:00 UTC"), "{text}");
    let (a_feb10, _) = w.invoice("alice", "a-feb10", 40, at(40, 12)).await;
    let (b_jan, _) = w.invoice("bob", "b-jan", 50, at(19, 12)).await;
    let (b_feb1, _) = w.invoice("bob", "b-feb1", 50, at(31, 3)).await;

    w.advance_to(at(20, 0));
    tick(&w.chat).await;
    assert!(told(&w, "alice").contains(&format!("Autopay paid {a_jan}")));
    assert!(told(&w, "bob").contains(&format!("Autopay paid {b_jan}")));

    // 1 February, 06:00 UTC: alice's was paid on 31 January, counted in
    // February; bob's is due on 31 January in New York: above January's cap.
    w.advance_to(at(31, 6));
    tick(&w.chat).await;
    let alice = told(&w, "alice");
    assert!(alice.contains(&format!("Autopay paid {a_feb1}")), "{alice}");
    let bob = told(&w, "bob");
    assert!(!bob.contains(&format!("Autopay paid {b_feb1}")), "{bob}");
    assert!(
        bob.contains(&format!(
            "Invoice {b_feb1} ($50.00) is above your autopay cap of $80.00 for @power"
        )),
        "{bob}"
    );
    // February's $40 on top of the $50 counted in February: above the cap.
    w.advance_to(at(41, 0));
    tick(&w.chat).await;
    let alice = told(&w, "alice");
    assert!(
        !alice.contains(&format!("Autopay paid {a_feb10}")),
        "{alice}"
    );
    assert!(
        alice.contains(&format!(
            "Invoice {a_feb10} ($40.00) is above your autopay cap of $80.00 for @power"
        )),
        "{alice}"
    );
    let balance = say(&w.chat, "alice", "/balance").await;
    assert!(balance.contains("$0.00"), "{balance}");
    let balance = say(&w.chat, "bob", "/balance").await;
    assert!(balance.contains("$50.00"), "{balance}");
    let violations = w.db.ledger.verify().await.unwrap();
    assert!(violations.is_empty(), "{violations:?}");
    w.db.cleanup().await;
}

cases!(the_cap_counts_the_due_month_on_the_payers_clock {
    autopay_cap_counts_the_due_month_on_sqlite(TestBackend::Sqlite),
    autopay_cap_counts_the_due_month_on_postgres(TestBackend::Postgres),
});
