//! Unit tests of `command`: the shared helpers, the grammar's tolerance,
//! and the usage and help texts here; each command family in `tests/`.

use std::sync::LazyLock;

use ledger::{Amount, AmountError, Currency};

use crate::card::{CardError, ExpiryError};
use crate::trust::second_factor::TotpOrRecovery;

use super::grammar::{
    CURRENCY_CODE_RE, ECHO_CHARS_MAX, HEAD_RE, LINK_CODE_RE, MENTION_RE, NUMBER_RE, OTP_CODE_RE,
    SHORT_REF_RE, START_PAYLOAD_RE, echo,
};
use super::*;

mod cards_links_splits;
mod inbox;
mod pay_and_requests;
mod pay_many;
mod standing;
mod tab;
mod tab_items;

const CTX: ParseContext<'static> = ParseContext {
    bot_username: Some("PayBot"),
    default_currency: Currency::USD,
};

fn ok(text: &str) -> Command {
    match parse(text, &CTX) {
        Ok(Some(command)) => command,
        other => panic!("{text:?} gave {other:?}"),
    }
}

fn err(text: &str) -> UsageError {
    match parse(text, &CTX) {
        Err(error) => {
            let line = error.to_string();
            assert!(!line.contains('\n'), "{line}");
            assert!(line.chars().count() <= USAGE_ERROR_CHARS_MAX, "{line}");
            error
        }
        other => panic!("{text:?} gave {other:?}"),
    }
}

fn problem(text: &str) -> UsageProblem {
    match err(text) {
        UsageError::Invalid { problem, .. } => problem,
        other => panic!("{text:?} gave {other:?}"),
    }
}

/// Each text parses to its command, as one `assert_eq!` each.
fn parses(cases: &[(&str, Command)]) {
    for (text, expected) in cases {
        assert_eq!(&ok(text), expected, "{text:?}");
    }
}

/// Each text is refused with its problem, as one `assert_eq!` each.
fn problems(cases: &[(&str, UsageProblem)]) {
    for (text, expected) in cases {
        assert_eq!(&problem(text), expected, "{text:?}");
    }
}

/// Each text is refused with a line starting with its prefix.
fn errors_start(cases: &[(&str, &str)]) {
    for (text, prefix) in cases {
        assert!(err(text).to_string().starts_with(prefix), "{text:?}");
    }
}

fn handle(text: &str) -> Target {
    Target::Handle(Handle::parse(text).unwrap())
}

fn id(text: &str) -> Target {
    Target::Id(PlatformUserId::new(text).unwrap())
}

fn usd(minor: i64) -> Amount {
    Amount::from_minor(minor, Currency::USD).unwrap()
}

fn money(minor: i64, currency: Currency) -> Amount {
    Amount::from_minor(minor, currency).unwrap()
}

fn memo(text: &str) -> Option<Memo> {
    Some(Memo::parse(text).unwrap())
}

fn pay(payee: Option<Target>, amount: Amount, memo: Option<Memo>) -> Command {
    Command::Pay {
        payee,
        amount,
        memo,
    }
}

fn short_ref(text: &str) -> ShortRef {
    ShortRef::parse(text).unwrap()
}

#[test]
fn every_regex_compiles() {
    for regex in [
        &HEAD_RE,
        &MENTION_RE,
        &OTP_CODE_RE,
        &LINK_CODE_RE,
        &SHORT_REF_RE,
        &START_PAYLOAD_RE,
        &NUMBER_RE,
        &CURRENCY_CODE_RE,
    ] {
        assert!(LazyLock::force(regex).is_some());
    }
}

// --- not for us ------------------------------------------------------

#[test]
fn plain_text_is_not_a_command() {
    for text in [
        "",
        "   ",
        "hello",
        "pay @bob 20",
        "I paid /pay @bob",
        "/",
        "/ pay",
        "//pay",
        "/pay@",
        "/pay,@bob",
        "/päy @bob 20",
        "/usr/bin",
        "🍕",
    ] {
        assert_eq!(parse(text, &CTX), Ok(None), "{text:?}");
    }
}

#[test]
fn commands_for_another_bot_are_not_ours() {
    assert_eq!(parse("/pay@OtherBot @bob 20", &CTX), Ok(None));
    assert_eq!(parse("/foo@OtherBot", &CTX), Ok(None));
    assert_eq!(parse("/pay@OtherBot nonsense !!", &CTX), Ok(None));
    let long = format!("/pay@OtherBot {}", "x ".repeat(2_000));
    assert_eq!(parse(&long, &CTX), Ok(None));
    let nameless = ParseContext {
        bot_username: None,
        default_currency: Currency::USD,
    };
    assert_eq!(parse("/pay@paybot @bob 20", &nameless), Ok(None));
    assert!(matches!(parse("/pay @bob 20", &nameless), Ok(Some(_))));
}

#[test]
fn long_plain_text_is_ignored_not_refused() {
    assert_eq!(parse(&"a".repeat(10_000), &CTX), Ok(None));
    assert_eq!(parse(&format!("/{}", "a".repeat(10_000)), &CTX), Ok(None));
}

// --- tolerance ---------------------------------------------------------

#[test]
fn tolerates_bot_suffix_case_and_whitespace() {
    let expected = pay(Some(handle("bob")), usd(2000), memo("pizza"));
    for text in [
        "/pay @bob 20 for pizza",
        "/pay@paybot @bob 20 for pizza",
        "/pay@PAYBOT @bob 20 for pizza",
        "/PAY @bob 20 for pizza",
        "/Pay @Bob 20 FOR pizza",
        "  /pay   @bob\t20  for   pizza  ",
        "\n/pay\n@bob\n20\nfor\npizza\n",
        "/pay\u{a0}@bob\u{a0}20 for pizza",
        "/send @bob 20 for pizza",
        "/SEND@paybot @bob 20 For pizza",
        "/pay @bob $20 for pizza",
        "/pay @bob 20 usd for pizza",
        "/pay @bob 20 USD for pizza",
        "/pay @bob usd 20 for pizza",
        "/pay @bob $ 20 for pizza",
        "/pay @bob 20usd for pizza",
        "/pay @bob 20.00 for pizza",
    ] {
        assert_eq!(ok(text), expected, "{text:?}");
    }
    let with_at = ParseContext {
        bot_username: Some("@paybot"),
        default_currency: Currency::USD,
    };
    assert_eq!(
        parse("/pay@PayBot @bob 20 for pizza", &with_at),
        Ok(Some(expected))
    );
}

#[test]
fn mentions_by_id() {
    parses(&[
        ("/pay <@123456> 5", pay(Some(id("123456")), usd(500), None)),
        ("/pay <@!123456> 5", pay(Some(id("123456")), usd(500), None)),
        (
            "/request <@42> 1",
            Command::Request {
                payer: id("42"),
                amount: usd(100),
                memo: None,
            },
        ),
    ]);
    for bad in ["<@&123>", "<#123>", "<@>", "<@12 3>", "<@123", "<bob>"] {
        assert!(
            matches!(
                problem(&format!("/pay {bad} 5")),
                UsageProblem::InvalidMention(_)
            ),
            "{bad}"
        );
    }
}

// --- each command --------------------------------------------------------

#[test]
fn start() {
    parses(&[
        ("/start", Command::Start { payload: None }),
        (
            "/start link_AbC-9",
            Command::Start {
                payload: Some(StartPayload::parse("link_AbC-9").unwrap()),
            },
        ),
        ("/start@paybot", Command::Start { payload: None }),
    ]);
    assert_eq!(problem("/start a+b"), UsageProblem::InvalidStartPayload);
    assert_eq!(
        problem(&format!("/start {}", "a".repeat(65))),
        UsageProblem::InvalidStartPayload
    );
    assert_eq!(
        problem("/start abc def"),
        UsageProblem::Leftover("def".into())
    );
    assert_eq!(
        format!("{:?}", StartPayload::parse("secret").unwrap()),
        "StartPayload(6 bytes)"
    );
}

#[test]
fn help() {
    assert_eq!(ok("/help"), Command::Help { topic: None });
    for topic in ["pay", "/pay", "PAY", "send"] {
        assert_eq!(
            ok(&format!("/help {topic}")),
            Command::Help {
                topic: Some(CommandName::Pay)
            }
        );
    }
    assert_eq!(
        ok("/help split"),
        Command::Help {
            topic: Some(CommandName::Split)
        }
    );
    problems(&[
        ("/help /foo", UsageProblem::UnknownTopic("foo".into())),
        ("/help pay now", UsageProblem::Leftover("now".into())),
    ]);
}

#[test]
fn balance() {
    parses(&[
        ("/balance", Command::Balance),
        ("/BALANCE@paybot  ", Command::Balance),
    ]);
    assert_eq!(
        problem("/balance please"),
        UsageProblem::Leftover("please".into())
    );
}

#[test]
fn unknown_commands() {
    assert_eq!(err("/foo").to_string(), "Unknown command /foo. Try /help.");
    assert_eq!(
        err("/Foo@paybot bar").to_string(),
        "Unknown command /Foo. Try /help."
    );
    assert_eq!(err("/foo").command(), None);
    let long = format!("/{}", "f".repeat(COMMAND_NAME_BYTES_MAX));
    assert!(matches!(err(&long), UsageError::UnknownCommand { .. }));
}

#[test]
fn too_long_is_refused() {
    let text = format!("/pay @bob 20 for {}", "x ".repeat(COMMAND_TEXT_BYTES_MAX));
    assert_eq!(problem(&text), UsageProblem::TooLong);
    assert_eq!(err(&text).command(), Some(CommandName::Pay));
    let exactly = format!("/balance{}", " ".repeat(COMMAND_TEXT_BYTES_MAX - 8));
    assert_eq!(ok(&exactly), Command::Balance);
}

#[test]
fn quoted_input_is_cut_and_cleaned() {
    let line = err(&format!("/pay @bob 20 {}", "p".repeat(500))).to_string();
    assert!(
        line.contains(&format!("`{}…`", "p".repeat(ECHO_CHARS_MAX))),
        "{line}"
    );
    let line = err("/pay @bob 20 a\u{202E}b`c\u{1}").to_string();
    assert!(line.starts_with("Unexpected `a?b'c?`"), "{line}");
}

#[test]
fn card_commands_parse_and_never_quote_digits() {
    let Command::CardAdd { card, expiry } = ok("/card add 4111 1111 1111 1111 08/29") else {
        panic!("not a card add");
    };
    assert_eq!(card, CardNumber::parse("4111111111111111").unwrap());
    assert_eq!(expiry, Expiry::new(2029, 8).unwrap());
    assert!(matches!(
        ok("/CARD add 5555555555554444 12/2030"),
        Command::CardAdd { .. }
    ));
    parses(&[
        ("/card remove 2", Command::CardRemove { index: 2 }),
        ("/card list", Command::Cards),
        ("/cards", Command::Cards),
    ]);
    let usd = |minor| Amount::from_minor(minor, Currency::USD).unwrap();
    parses(&[
        (
            "/topup 20",
            Command::TopUp {
                amount: usd(2_000),
                card: None,
            },
        ),
        (
            "/cashout $5.50 card 2",
            Command::CashOut {
                amount: usd(550),
                card: Some(2),
            },
        ),
    ]);
    problems(&[
        (
            "/card add 4111111111111112 08/29",
            UsageProblem::Card(CardError::Checksum),
        ),
        ("/card add 4111111111111111", UsageProblem::MissingExpiry),
        (
            "/card add 4111111111111111 13/29",
            UsageProblem::Expiry(ExpiryError::Month),
        ),
        ("/card remove 9", UsageProblem::CardIndex),
        ("/card 4111111111111111 08/29", UsageProblem::CardSubcommand),
        ("/topup 20 4111111111111111", UsageProblem::CardSelector),
        ("/cards 4111111111111111", UsageProblem::LeftoverNotQuoted),
    ]);
    assert!(matches!(problem("/topup 20.001"), UsageProblem::Amount(_)));
    for text in [
        "/card add 4111111111111112 08/29",
        "/card add 4111 1111 1111 1111",
        "/card 4111111111111111 08/29",
        "/card remove 4111111111111111",
        "/topup 20 4111111111111111",
        "/topup 20 card 4111111111111111",
        "/cards 4111111111111111",
    ] {
        let line = err(text).to_string();
        assert!(!line.contains("1111"), "{text}: {line}");
        assert!(!crate::card::contains_card_number(&line), "{text}: {line}");
    }
}

#[test]
fn command_names_are_complete_and_documented() {
    assert_eq!(CommandName::ALL.len(), 29);
    for name in CommandName::ALL {
        assert_eq!(CommandName::from_word(name.as_str()), Some(name));
        assert!(name.summary().chars().count() <= 60, "{name}");
        assert!(name.usage().starts_with(&name.to_string()), "{name}");
        assert!(name.example().starts_with(&name.to_string()), "{name}");
        let parsed = ok(name.example());
        assert_eq!(parsed.name(), name, "{}", name.example());
        for (example, _) in name.more_examples() {
            assert_eq!(ok(example).name(), name, "{example}");
        }
    }
    assert_eq!(CommandName::from_word("/SEND"), Some(CommandName::Pay));
    assert_eq!(CommandName::from_word("foo"), None);
}

#[test]
fn every_usage_error_names_usage_and_example() {
    for name in CommandName::ALL {
        let error = UsageError::Invalid {
            command: name,
            problem: UsageProblem::Leftover("x".repeat(ECHO_CHARS_MAX)),
        };
        let line = error.to_string();
        assert!(
            line.contains(name.usage()) && line.contains(name.example()),
            "{line}"
        );
        assert!(line.chars().count() <= USAGE_ERROR_CHARS_MAX, "{line}");
    }
}

#[test]
fn the_longest_errors_fit() {
    let word = "w".repeat(ECHO_CHARS_MAX + 5);
    let problems = [
        UsageProblem::BareWord(echo(&word)),
        UsageProblem::UnknownCurrency(echo(&word)),
        UsageProblem::InvalidRef(echo(&word)),
        UsageProblem::InvalidHandle(echo(&word)),
        UsageProblem::ExtraTarget(echo(&word)),
        UsageProblem::NotATarget(echo(&word)),
        UsageProblem::ShareCurrency {
            target: echo(&word),
            share: Currency::EUR,
            total: Currency::USD,
        },
        UsageProblem::SharesLeaveNothing,
        UsageProblem::Amount(AmountError::AmbiguousSeparator(word.clone())),
        UsageProblem::Amount(AmountError::UnknownCurrency(word.clone())),
        UsageProblem::Amount(AmountError::TooManyDecimals {
            text: word.clone(),
            currency: Currency::USD,
            exponent: 2,
        }),
        UsageProblem::SharesExceedTotal {
            shares_minor: i64::MAX,
            total: usd(100_000_000_000),
        },
    ];
    for problem in problems {
        for command in CommandName::ALL {
            let line = UsageError::Invalid {
                command,
                problem: problem.clone(),
            }
            .to_string();
            assert!(line.chars().count() <= USAGE_ERROR_CHARS_MAX, "{line}");
            assert!(!line.contains('\n'), "{line}");
        }
    }
}

#[test]
fn autopay_is_listed_turned_on_with_a_cap_and_off() {
    parses(&[
        (
            "/autopay",
            Command::Autopay {
                action: AutopayAction::List,
            },
        ),
        (
            "/autopay @power up to 80",
            Command::Autopay {
                action: AutopayAction::On {
                    biller: AutopayFor::Biller(handle("@power")),
                    cap: usd(8_000),
                },
            },
        ),
        (
            "/AUTOPAY@PayBot  @Power  UP TO $80.50",
            Command::Autopay {
                action: AutopayAction::On {
                    biller: AutopayFor::Biller(handle("@power")),
                    cap: usd(8_050),
                },
            },
        ),
        (
            "/autopay @power 80",
            Command::Autopay {
                action: AutopayAction::On {
                    biller: AutopayFor::Biller(handle("@power")),
                    cap: usd(8_000),
                },
            },
        ),
        (
            "/autopay off @power",
            Command::Autopay {
                action: AutopayAction::Off {
                    biller: AutopayFor::Biller(handle("@power")),
                },
            },
        ),
    ]);
    parses(&[(
        "/autopay o7k2qxm up to 10",
        Command::Autopay {
            action: AutopayAction::On {
                biller: AutopayFor::Series(ShortRef::parse("O7K2QXM").unwrap()),
                cap: usd(1_000),
            },
        },
    )]);
    problems(&[
        ("/autopay power up to 80", UsageProblem::MissingTarget),
        ("/autopay R7K2QXM up to 80", UsageProblem::MissingTarget),
        ("/autopay off", UsageProblem::MissingTarget),
        ("/autopay @power up", UsageProblem::MissingAmount),
        ("/autopay @power up to", UsageProblem::MissingAmount),
    ]);
    assert!(matches!(
        problem("/autopay @power up to 0"),
        UsageProblem::Amount(_)
    ));
    assert!(matches!(
        problem("/autopay @power up to 80 please"),
        UsageProblem::Leftover(_)
    ));
}
