//! Runs every conversation script in `tests/conversations/` (see
//! `paybot_mock::script` for the format) against the real bot on a fresh
//! database, once on SQLite and once on PostgreSQL, with the card rail
//! simulator in process. A script with `#! ` lines runs with the shipped
//! trust settings plus those lines (see [`trust_of`]). After each script: the ledger's invariants hold
//! (`verify` is clean), no group message carried a code or a balance, no
//! message at all carried a full test card number, no group still shows a
//! message holding one (the bot deleted each), on SQLite no byte of the
//! database file or its WAL holds one (however it was written), and the
//! simulator's record of money moved matches the card-clearing account.

use std::path::PathBuf;
use std::sync::Arc;

use bot::otp::{OsRandom, Pepper, SeededRandom};
use bot::service::CardPolicy;
use bot::trust::limits::{CurrencyLimits, LimitsPolicy};
use bot::trust::second_factor::{SecondFactorPolicy, SecondFactorTier};
use bot::trust::{Tier, TrustConfig};
use bot::{Bot, BotConfig};
use ledger::testing::{TestBackend, TestDb};
use ledger::{Amount, Currency};
use paybot_cards::{Acquirer, ApiKey, Simulator, VisaDirectClient};
use paybot_mock::MockChat;
use paybot_store::{BOT_MIGRATIONS, SqlStore};

use crate::support::cases;

fn scripts() -> Vec<(String, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/conversations");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "chat"))
        .collect();
    files.sort();
    // `PAYBOT_SCRIPTS=75_` runs only the scripts whose names contain it.
    if let Ok(only) = std::env::var("PAYBOT_SCRIPTS") {
        files.retain(|p| p.to_string_lossy().contains(&only));
    }
    assert!(!files.is_empty(), "no scripts in {}", dir.display());
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect()
}

async fn run_all(backend: TestBackend) {
    let mut failures = Vec::new();
    let mut ran = 0;
    for (name, text) in scripts() {
        let script = match paybot_mock::script::parse(&text) {
            Ok(script) => script,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        let trust = match trust_of(&text) {
            Ok(trust) => trust,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        let Some(db) = TestDb::fresh(backend).await else {
            return; // PostgreSQL absent outside CI: skipped loudly by TestDb.
        };
        db.ledger.migrate(BOT_MIGRATIONS).await.unwrap();
        let store = Arc::new(SqlStore::new(&db.ledger));
        // The synthetic SDN list (invented names) is what screening searches.
        crate::sanctions::load(&store, "", db.ledger.now_ms()).await;
        let config = BotConfig {
            mock_opening_balance: Some(Amount::from_minor(10_000, Currency::USD).unwrap()),
            // 1.5%, at least $0.25.
            cards: CardPolicy {
                cashout_fee_basis_points: 150,
                cashout_fee_min: Some(Amount::from_minor(25, Currency::USD).unwrap()),
            },
            trust,
            ..BotConfig::default()
        };
        let key = ApiKey::parse("conversation-test-key-0001").unwrap();
        let simulator = Simulator::new(&key);
        let bot = Bot::builder(
            db.ledger.clone(),
            store,
            config,
            Pepper::generate(&OsRandom),
            Arc::new(SeededRandom::new(7)),
        )
        .card_rail(Arc::new(VisaDirectClient::in_process(
            &simulator,
            key,
            Acquirer::sandbox(),
        )))
        .build();
        let chat = MockChat::new(bot);
        let clock = Arc::clone(&db.clock);
        let outcome = paybot_mock::script::run(&chat, &script, &move |by| clock.advance(by)).await;
        match outcome {
            Ok(transcript) => {
                let leaks = transcript.leaks();
                if !leaks.is_empty() {
                    failures.push(format!(
                        "{name}: private things in a group:\n  {}",
                        leaks.join("\n  ")
                    ));
                }
            }
            Err(e) => failures.push(format!("{name}: {e}")),
        }
        for (to, text) in chat_card_numbers(&chat, &text) {
            failures.push(format!("{name}: a card number reached {to}: {text}"));
        }
        if let Some(path) = db.url.strip_prefix("sqlite:") {
            for (file, card) in stored_card_numbers(std::path::Path::new(path)) {
                failures.push(format!("{name}: card number {card} is stored in {file}"));
            }
        }
        let clearing = crate::support::card_clearing(&db).await;
        let net = simulator
            .totals()
            .currencies
            .get("USD")
            .map_or(0, |t| t.net_minor);
        // Money the rail took in (pulls) left clearing for wallets; money
        // it paid out (pushes) came into clearing from wallets.
        if clearing.posted != -net {
            failures.push(format!(
                "{name}: card clearing shows {} posted but the simulator moved {net} net",
                clearing.posted
            ));
        }
        let violations = db.ledger.verify().await.unwrap();
        if !violations.is_empty() {
            let list: Vec<String> = violations.iter().map(ToString::to_string).collect();
            failures.push(format!(
                "{name}: ledger invariants broken:\n  {}",
                list.join("\n  ")
            ));
        }
        ran += 1;
        db.cleanup().await;
    }
    assert!(
        failures.is_empty(),
        "{} of {ran} conversations failed on {backend:?}:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// A script's trust settings: the core's defaults with the scripts' limits
/// ([`script_limits`]), unless the script has `#! ` lines; then the
/// shipped settings (`config/paybot.toml`) with those lines, a settings
/// file's text, on top (`#! [trust.holds]`, `#! timeout_secs = 3600`).
fn trust_of(script: &str) -> Result<TrustConfig, String> {
    let lines: Vec<&str> = script
        .lines()
        .filter_map(|line| line.strip_prefix("#!"))
        .map(str::trim)
        .collect();
    if lines.is_empty() {
        return Ok(TrustConfig {
            limits: script_limits(),
            second_factor: script_second_factor(),
            ..TrustConfig::default()
        });
    }
    paybot::settings::from_toml(&lines.join("\n"))
        .map(|settings| settings.trust.policy())
        .map_err(|e| format!("its settings: {e}"))
}

/// The second factor for the scripts (60-64) without settings of their
/// own: with an app, payments above $50 need its code; without one,
/// payments and cash-outs above $1,000 are refused.
fn script_second_factor() -> SecondFactorPolicy {
    SecondFactorPolicy {
        tiers: vec![SecondFactorTier {
            tier: Tier::ZERO,
            code_above: vec![Amount::from_minor(5_000, Currency::USD).unwrap()],
            refuse_unenrolled_above: vec![Amount::from_minor(100_000, Currency::USD).unwrap()],
        }],
        ..SecondFactorPolicy::default()
    }
}

/// The shipped limits, but tier 0 in USD small enough, and each figure
/// apart, for the scripts (`50_*` to `54_*`) to reach every limit with
/// play money: one payment $120, sent $150 / 24 h, $250 / 7 days, $350 /
/// 30 days, received $400 / 30 days, a balance of $450, cash-outs $100 /
/// 24 h, top-ups $80 / 24 h.
fn script_limits() -> LimitsPolicy {
    let usd = |minor| Amount::from_minor(minor, Currency::USD).unwrap();
    let table = CurrencyLimits {
        single_payment: usd(12_000),
        sent_24h: usd(15_000),
        sent_7d: usd(25_000),
        sent_30d: usd(35_000),
        received_30d: usd(40_000),
        balance: usd(45_000),
        cashout_24h: usd(10_000),
        topup_24h: usd(8_000),
    };
    LimitsPolicy::default().with_table(Tier::ZERO, table)
}

/// The test cards every script may use.
const CARDS: [&str; 9] = [
    "4111111111111111",
    "5555555555554444",
    "4000000000000002",
    "4000000000009995",
    "4000000000000069",
    "4000000000000119",
    "4000000000000259",
    "4000000000000598",
    "4000000000000614",
];

/// Test card numbers found in the raw bytes of the SQLite database at
/// `path` and of its WAL and rollback journal, written in any way the
/// scripts write them: digits (ASCII or full-width) with spaces, dashes,
/// dots, underscores or invisible characters between them. Names the file
/// and the card's last 4 digits.
fn stored_card_numbers(path: &std::path::Path) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for suffix in ["", "-wal", "-journal"] {
        let file = PathBuf::from(format!("{}{suffix}", path.display()));
        let Ok(bytes) = std::fs::read(&file) else {
            assert!(!suffix.is_empty(), "cannot read {}", file.display());
            continue;
        };
        let squeezed: String = String::from_utf8_lossy(&bytes)
            .chars()
            .filter_map(|c| match c {
                '\u{FF10}'..='\u{FF19}' => char::from_digit(u32::from(c) - 0xFF10, 10),
                ' '
                | '-'
                | '.'
                | '_'
                | '\u{FF0E}'
                | '\u{200B}'..='\u{200D}'
                | '\u{2060}'
                | '\u{FEFF}' => None,
                c => Some(c),
            })
            .collect();
        for card in CARDS {
            if squeezed.contains(card) {
                let last4 = card.get(12..).unwrap_or_default();
                found.push((file.display().to_string(), format!("ending {last4}")));
            }
        }
    }
    found
}

/// Test card numbers (with or without spaces) found in anything any user of
/// the script received, or still shown in a group.
fn chat_card_numbers(chat: &MockChat, script: &str) -> Vec<(String, String)> {
    let users: std::collections::BTreeSet<&str> = script
        .lines()
        .filter_map(|l| l.strip_prefix("> "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let holds_card = |text: &str| {
        let squeezed: String = text
            .chars()
            .filter(|c| !c.is_whitespace() && !matches!(c, '-' | '.' | '_'))
            .collect();
        CARDS.iter().any(|card| squeezed.contains(card)) || bot::card::contains_card_number(text)
    };
    let mut found = Vec::new();
    for user in users {
        for delivery in chat.messages_of(user).unwrap_or_default() {
            if holds_card(&delivery.text) {
                found.push((user.to_owned(), delivery.text));
            }
        }
    }
    for group in chat.group_names() {
        for posted in chat.chat_messages(&group).unwrap_or_default() {
            if !posted.deleted && holds_card(&posted.text) {
                found.push((
                    format!("everyone in {group} (from {})", posted.from),
                    posted.text,
                ));
            }
        }
    }
    found
}

cases!(run_all {
    conversations_on_sqlite(TestBackend::Sqlite),
    conversations_on_postgres(TestBackend::Postgres),
});
