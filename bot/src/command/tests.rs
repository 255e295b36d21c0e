//! Unit tests of `command.rs`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
use super::*;

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
    assert_eq!(
        ok("/pay <@123456> 5"),
        pay(Some(id("123456")), usd(500), None)
    );
    assert_eq!(
        ok("/pay <@!123456> 5"),
        pay(Some(id("123456")), usd(500), None)
    );
    assert_eq!(
        ok("/request <@42> 1"),
        Command::Request {
            payer: id("42"),
            amount: usd(100),
            memo: None
        }
    );
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
    assert_eq!(ok("/start"), Command::Start { payload: None });
    assert_eq!(
        ok("/start link_AbC-9"),
        Command::Start {
            payload: Some(StartPayload::parse("link_AbC-9").unwrap())
        }
    );
    assert_eq!(ok("/start@paybot"), Command::Start { payload: None });
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
    assert_eq!(
        problem("/help /foo"),
        UsageProblem::UnknownTopic("foo".into())
    );
    assert_eq!(
        problem("/help pay now"),
        UsageProblem::Leftover("now".into())
    );
}

#[test]
fn balance() {
    assert_eq!(ok("/balance"), Command::Balance);
    assert_eq!(ok("/BALANCE@paybot  "), Command::Balance);
    assert_eq!(
        problem("/balance please"),
        UsageProblem::Leftover("please".into())
    );
}

#[test]
fn pay_with_a_target() {
    assert_eq!(
        ok("/pay @bob 20"),
        pay(Some(handle("bob")), usd(2000), None)
    );
    assert_eq!(
        ok("/pay @alice.b_99 0.01"),
        pay(Some(handle("alice.b_99")), usd(1), None)
    );
    assert_eq!(
        ok("/pay @bob €5"),
        pay(Some(handle("bob")), money(500, Currency::EUR), None)
    );
    assert_eq!(
        ok("/pay @bob 5 eur"),
        pay(Some(handle("bob")), money(500, Currency::EUR), None)
    );
    assert_eq!(
        ok("/pay @bob 20,50 EUR for 🍕 and 🍺"),
        pay(
            Some(handle("bob")),
            money(2050, Currency::EUR),
            memo("🍕 and 🍺")
        )
    );
    assert_eq!(
        ok("/pay @bob ¥500"),
        pay(Some(handle("bob")), money(500, Currency::JPY), None)
    );
    assert_eq!(
        ok("/pay @bob 12.345 bhd"),
        pay(
            Some(handle("bob")),
            money(12_345, Currency::from_code("BHD").unwrap()),
            None
        )
    );
    assert_eq!(
        ok("/pay @bob 1000000000"),
        pay(Some(handle("bob")), usd(100_000_000_000), None)
    );
}

#[test]
fn pay_uses_the_default_currency() {
    let eur = ParseContext {
        bot_username: Some("paybot"),
        default_currency: Currency::EUR,
    };
    assert_eq!(
        parse("/pay @bob 20", &eur),
        Ok(Some(pay(
            Some(handle("bob")),
            money(2000, Currency::EUR),
            None
        )))
    );
    assert_eq!(
        parse("/pay @bob $20", &eur),
        Ok(Some(pay(Some(handle("bob")), usd(2000), None)))
    );
}

#[test]
fn pay_as_a_reply() {
    assert_eq!(ok("/pay 20"), pay(None, usd(2000), None));
    assert_eq!(ok("/pay 20 for pizza"), pay(None, usd(2000), memo("pizza")));
    assert_eq!(
        ok("/send €5 for coffee"),
        pay(None, money(500, Currency::EUR), memo("coffee"))
    );
    assert_eq!(
        problem("/pay 20 @bob"),
        UsageProblem::TargetAfterAmount("@bob".into())
    );
}

#[test]
fn memos() {
    assert_eq!(
        ok("/pay @bob 20 for  pizza \n and\tbeer  "),
        pay(Some(handle("bob")), usd(2000), memo("pizza and beer"))
    );
    // Everything after the first `for` is the memo, `for` included.
    assert_eq!(
        ok("/pay @bob 20 for for @carol 30 USD"),
        pay(Some(handle("bob")), usd(2000), memo("for @carol 30 USD"))
    );
    let cleaned = Memo::parse("a\u{7}b\u{202E}c\u{0}d").unwrap();
    assert_eq!(cleaned.as_str(), "abcd");
    assert_eq!(
        Memo::parse(&"é".repeat(140))
            .unwrap()
            .as_str()
            .chars()
            .count(),
        140
    );
    assert_eq!(
        Memo::parse(&"é".repeat(141)),
        Err(MemoError::TooLong { chars: 141 })
    );
    assert_eq!(Memo::parse(" \u{7} \n"), Err(MemoError::Empty));
}

#[test]
fn memos_cannot_pass_for_the_bot() {
    // Invisible characters go; fillers do not make room.
    assert_eq!(
        Memo::parse("lu\u{200B}n\u{2060}c\u{FEFF}h\u{E0041}")
            .unwrap()
            .as_str(),
        "lunch"
    );
    assert_eq!(
        Memo::parse("pizza”\u{3164}\u{3164}\u{3164} paybot: Done")
            .unwrap()
            .as_str(),
        "pizza' paybot: Done"
    );
    assert_eq!(
        Memo::parse("\u{200B}\u{3164}\u{2800}"),
        Err(MemoError::Empty)
    );
    // Emoji sequences stay whole.
    let family = "👨\u{200D}👩\u{200D}👧 🏴\u{E0067}\u{E0062}\u{E0077}\u{E006C}\u{E0073}\u{E007F}";
    assert_eq!(Memo::parse(family).unwrap().as_str(), family);
    // The limit counts what is left.
    let padded = format!("{}{}", "x".repeat(MEMO_CHARS_MAX), "\u{200B}".repeat(50));
    assert_eq!(
        Memo::parse(&padded).unwrap().as_str().chars().count(),
        MEMO_CHARS_MAX
    );
}

#[test]
fn memos_never_hold_a_card_number() {
    for text in [
        "4111 1111 1111 1111",
        "card 4111.1111.1111.1111 thanks",
        "4111_1111_1111_1111",
        "4111\u{200B}1111\u{200B}1111\u{200B}1111",
    ] {
        assert_eq!(Memo::parse(text), Err(MemoError::CardNumber), "{text}");
        assert_eq!(
            problem(&format!("/pay @bob 5 for {text}")),
            UsageProblem::Memo(MemoError::CardNumber)
        );
        let line = err(&format!("/request @bob 5 for {text}")).to_string();
        assert!(!line.contains("1111"), "{line}");
        assert_eq!(
            Memo::from_stored(text).unwrap().as_str(),
            MEMO_WITHHELD_TEXT
        );
    }
    assert_eq!(
        Memo::parse("order 12345678, room 1234.5678")
            .unwrap()
            .as_str(),
        "order 12345678, room 1234.5678"
    );
    assert_eq!(Memo::from_stored("pizza").unwrap().as_str(), "pizza");
    assert_eq!(Memo::from_stored(" "), None);
}

#[test]
fn memo_errors() {
    assert_eq!(
        problem("/pay @bob 20 for"),
        UsageProblem::Memo(MemoError::Empty)
    );
    assert_eq!(
        problem("/pay @bob 20 for \u{1}\u{2}"),
        UsageProblem::Memo(MemoError::Empty)
    );
    let long = format!("/pay @bob 20 for {}", "x".repeat(141));
    assert_eq!(
        problem(&long),
        UsageProblem::Memo(MemoError::TooLong { chars: 141 })
    );
    assert!(err(&long).to_string().starts_with(
        "The memo is 141 characters long; the limit is 140. Usage: /pay @handle AMOUNT"
    ));
}

#[test]
fn amount_errors() {
    let amount = |text: &str| match problem(text) {
        UsageProblem::Amount(error) => error,
        other => panic!("{text:?} gave {other:?}"),
    };
    assert_eq!(amount("/pay @bob 0"), AmountError::NotPositive);
    assert_eq!(amount("/pay @bob 0.00"), AmountError::NotPositive);
    assert_eq!(amount("/pay @bob -5"), AmountError::NotPositive);
    assert!(matches!(
        amount("/pay @bob 20.505"),
        AmountError::TooManyDecimals { .. }
    ));
    assert!(matches!(
        amount("/pay @bob 5.5 JPY"),
        AmountError::TooManyDecimals { .. }
    ));
    assert!(matches!(
        amount("/pay @bob ¥5.5"),
        AmountError::TooManyDecimals { .. }
    ));
    assert!(matches!(
        amount("/pay @bob 5xyz"),
        AmountError::UnknownCurrency(_)
    ));
    assert!(matches!(
        amount("/pay @bob 1000000000.01"),
        AmountError::TooLarge { .. }
    ));
    assert!(matches!(
        amount(&format!("/pay @bob {}", "9".repeat(40))),
        AmountError::TooLarge { .. }
    ));
    assert!(matches!(
        amount(&format!("/pay @bob {}", "9".repeat(80))),
        AmountError::TooLong
    ));
    assert!(matches!(
        amount("/pay @bob 1,000"),
        AmountError::AmbiguousSeparator(_)
    ));
    assert!(matches!(amount("/pay @bob 1e3"), AmountError::Malformed(_)));
    assert_eq!(
        amount("/pay @bob abc"),
        AmountError::Malformed("abc".into())
    );
    assert_eq!(
        amount("/pay @bob NaN"),
        AmountError::Malformed("NaN".into())
    );
    assert_eq!(problem("/pay @bob $"), UsageProblem::MissingAmount);
    assert!(matches!(
        amount("/pay @bob $20 EUR"),
        AmountError::ConflictingCurrencies(..)
    ));
    assert_eq!(problem("/pay @bob ٢٠"), UsageProblem::NonAsciiDigits);
    assert_eq!(problem("/pay @bob ２０"), UsageProblem::NonAsciiDigits);
    assert_eq!(problem("/pay @bob"), UsageProblem::MissingAmount);
    assert_eq!(problem("/pay"), UsageProblem::MissingAmount);
    assert_eq!(problem("/pay @bob for pizza"), UsageProblem::MissingAmount);
    assert_eq!(problem("/pay @bob usd"), UsageProblem::MissingAmount);
    assert_eq!(
        problem("/pay @bob 20 XYZ"),
        UsageProblem::UnknownCurrency("XYZ".into())
    );
}

#[test]
fn amount_error_lines_read_well() {
    assert_eq!(
        err("/pay @bob 20.505").to_string(),
        "`20.505` has 3 decimals; USD has 2. Usage: /pay @handle AMOUNT [CURRENCY] [for MEMO], e.g. /pay @bob 20 for pizza"
    );
    assert!(
        err("/pay @bob 5.5 JPY")
            .to_string()
            .starts_with("`5.5` has 1 decimal; JPY has none. Usage:")
    );
    assert!(
        err("/pay @bob 0")
            .to_string()
            .starts_with("The amount must be more than zero. Usage: /pay")
    );
    assert!(
        err("/pay @bob 20 XYZ")
            .to_string()
            .starts_with("Unknown currency `XYZ`; I know USD, EUR, GBP, JPY")
    );
    assert!(
        err("/pay @bob 2000000000")
            .to_string()
            .starts_with("The amount is above the limit of $1000000000.00. Usage:")
    );
    assert!(
        err("/pay @bob ٢٠")
            .to_string()
            .starts_with("Write the amount with the digits 0-9. Usage:")
    );
    assert!(
        err("/pay @bob")
            .to_string()
            .starts_with("Missing the amount. Usage:")
    );
}

#[test]
fn target_errors() {
    assert_eq!(
        problem("/pay bob 20"),
        UsageProblem::BareHandle("bob".into())
    );
    assert_eq!(problem("/pay bob"), UsageProblem::BareHandle("bob".into()));
    assert_eq!(
        problem("/request bob 20"),
        UsageProblem::BareHandle("bob".into())
    );
    assert!(
        err("/pay bob 20")
            .to_string()
            .starts_with("Put @ before the handle: @bob. Usage:")
    );
    assert_eq!(
        problem("/pay @ 20"),
        UsageProblem::InvalidHandle("@".into())
    );
    assert_eq!(
        problem("/pay @bob! 20"),
        UsageProblem::InvalidHandle("@bob!".into())
    );
    assert_eq!(
        problem("/pay @@bob 20"),
        UsageProblem::InvalidHandle("@@bob".into())
    );
    assert_eq!(
        problem("/request 20 @bob"),
        UsageProblem::NotATarget("20".into())
    );
    assert_eq!(problem("/request"), UsageProblem::MissingTarget);
    assert_eq!(problem("/request for x"), UsageProblem::MissingTarget);
    assert_eq!(
        problem("/pay @bob 20 @carol"),
        UsageProblem::ExtraTarget("@carol".into())
    );
}

#[test]
fn leftover_words_are_refused() {
    assert_eq!(
        problem("/pay @bob 20 pizza"),
        UsageProblem::Unexpected("pizza".into())
    );
    assert!(
        err("/pay @bob 20 pizza")
            .to_string()
            .starts_with("Unexpected `pizza`; put a memo after `for`. Usage:")
    );
    assert_eq!(
        problem("/pay @bob 20 usd pizza"),
        UsageProblem::Unexpected("pizza".into())
    );
    assert_eq!(
        problem("/cancel P7K2QX now"),
        UsageProblem::Leftover("now".into())
    );
    assert_eq!(
        problem("/approve P7K2QX x"),
        UsageProblem::Leftover("x".into())
    );
    assert_eq!(problem("/history 5 6"), UsageProblem::Leftover("6".into()));
    assert_eq!(
        problem("/split status S1S2 x"),
        UsageProblem::Leftover("x".into())
    );
}

#[test]
fn confirm() {
    let command = ok("/confirm 012345");
    assert_eq!(
        command,
        Command::Confirm {
            code: OtpCode::parse("012345").unwrap()
        }
    );
    assert_eq!(
        ok("/confirm@paybot   123456  ").name(),
        CommandName::Confirm
    );
    for bad in [
        "12345",
        "1234567",
        "12a456",
        "١٢٣٤٥٦",
        "12345 6",
        "-12345",
        "１２３４５６",
    ] {
        assert_eq!(
            problem(&format!("/confirm {bad}")),
            UsageProblem::InvalidCode,
            "{bad}"
        );
    }
    assert_eq!(problem("/confirm"), UsageProblem::MissingCode);
    assert_eq!(
        problem("/confirm 123456 789"),
        UsageProblem::LeftoverAfterCode
    );
}

#[test]
fn secrets_are_never_shown() {
    let code = OtpCode::parse("987654").unwrap();
    assert_eq!(format!("{code:?}"), "OtpCode(******)");
    let command = ok("/confirm 987654");
    assert!(!format!("{command:?}").contains("987654"));
    let link = LinkCode::parse("k7mp2qxa").unwrap();
    assert_eq!(format!("{link:?}"), "LinkCode(********)");
    assert!(!format!("{:?}", ok("/link K7MP2QXA")).contains("K7MP2QXA"));
    for text in [
        "/confirm 98765",
        "/confirm 9876543",
        "/confirm 987654 987654",
        "/link K7MP2QX",
        "/link K7MP2QXA K7MP2QXA",
        "/start secret+token",
    ] {
        let error = err(text);
        for secret in ["98765", "K7MP2QX", "secret"] {
            assert!(!error.to_string().contains(secret), "{text}: {error}");
            assert!(!format!("{error:?}").contains(secret), "{text}: {error:?}");
        }
    }
}

#[test]
fn cancel_approve_decline() {
    assert_eq!(ok("/cancel"), Command::Cancel { payment: None });
    assert_eq!(
        ok("/cancel p7k2qx"),
        Command::Cancel {
            payment: Some(short_ref("P7K2QX"))
        }
    );
    assert_eq!(short_ref("p7k2qx").as_str(), "P7K2QX");
    assert_eq!(
        ok("/approve R3D8KM"),
        Command::Approve {
            request: short_ref("R3D8KM")
        }
    );
    assert_eq!(
        ok("/decline@paybot r3d8km"),
        Command::Decline {
            request: short_ref("R3D8KM")
        }
    );
    assert_eq!(problem("/approve"), UsageProblem::MissingRef);
    assert_eq!(problem("/decline"), UsageProblem::MissingRef);
    for bad in ["abc", "ABCDEFGHJKLMN", "P7K-2Q", "P7K2Q✓"] {
        assert!(
            matches!(
                problem(&format!("/approve {bad}")),
                UsageProblem::InvalidRef(_)
            ),
            "{bad}"
        );
    }
    assert!(ShortRef::parse("ABCD").is_ok());
    assert!(ShortRef::parse("ABCDEFGHJKLM").is_ok());
}

#[test]
fn request() {
    assert_eq!(
        ok("/request @alice 15 for tickets"),
        Command::Request {
            payer: handle("alice"),
            amount: usd(1500),
            memo: memo("tickets")
        }
    );
    assert_eq!(
        ok("/REQUEST@paybot   @Alice   15.5   eur"),
        Command::Request {
            payer: handle("alice"),
            amount: money(1550, Currency::EUR),
            memo: None
        }
    );
    assert_eq!(problem("/request @alice"), UsageProblem::MissingAmount);
    assert!(
        err("/request @alice 0")
            .to_string()
            .contains("Usage: /request @handle AMOUNT")
    );
}

#[test]
fn split() {
    assert_eq!(
        ok("/split 60 @bob @carol for dinner"),
        Command::Split {
            total: usd(6000),
            shares: vec![
                SplitShare {
                    target: handle("bob"),
                    amount: None
                },
                SplitShare {
                    target: handle("carol"),
                    amount: None
                },
            ],
            memo: memo("dinner"),
        }
    );
    assert_eq!(
        ok("/split 60 EUR @bob:25 <@77>:€10.50"),
        Command::Split {
            total: money(6000, Currency::EUR),
            shares: vec![
                SplitShare {
                    target: handle("bob"),
                    amount: Some(money(2500, Currency::EUR))
                },
                SplitShare {
                    target: id("77"),
                    amount: Some(money(1050, Currency::EUR))
                },
            ],
            memo: None,
        }
    );
    // Exact shares may use the whole total: the sender pays nothing.
    assert!(matches!(
        ok("/split 60 @bob:30 @carol:30"),
        Command::Split { .. }
    ));
    let twenty = (0..SPLIT_MENTIONS_MAX)
        .map(|i| format!("@user{i}"))
        .collect::<Vec<_>>()
        .join(" ");
    match ok(&format!("/split 100 {twenty}")) {
        Command::Split { shares, .. } => assert_eq!(shares.len(), SPLIT_MENTIONS_MAX),
        other => panic!("{other:?}"),
    }
}

#[test]
fn split_errors() {
    assert_eq!(problem("/split"), UsageProblem::MissingAmount);
    assert_eq!(problem("/split 60"), UsageProblem::NoParticipants);
    assert_eq!(
        problem("/split 60 for dinner"),
        UsageProblem::NoParticipants
    );
    assert_eq!(problem("/split @bob 60"), UsageProblem::TotalFirst);
    assert_eq!(
        problem("/split 60 @bob @Bob"),
        UsageProblem::DuplicateParticipant("@bob".into())
    );
    assert_eq!(
        problem("/split 60 <@1> <@!1>"),
        UsageProblem::DuplicateParticipant("<@1>".into())
    );
    let too_many = (0..=SPLIT_MENTIONS_MAX)
        .map(|i| format!("@user{i}"))
        .collect::<Vec<_>>()
        .join(" ");
    assert_eq!(
        problem(&format!("/split 100 {too_many}")),
        UsageProblem::TooManyParticipants
    );
    assert_eq!(
        problem("/split 60 @bob:€10"),
        UsageProblem::ShareCurrency {
            target: "@bob".into(),
            share: Currency::EUR,
            total: Currency::USD
        }
    );
    assert_eq!(
        problem("/split 60 EUR @bob:10usd"),
        UsageProblem::ShareCurrency {
            target: "@bob".into(),
            share: Currency::USD,
            total: Currency::EUR
        }
    );
    assert_eq!(
        problem("/split 60 @bob:"),
        UsageProblem::ShareMissingAmount("@bob".into())
    );
    assert_eq!(
        problem("/split 60 @bob:0"),
        UsageProblem::Amount(AmountError::NotPositive)
    );
    assert_eq!(problem("/split 60 @bob:٢"), UsageProblem::NonAsciiDigits);
    assert_eq!(
        problem("/split 60 @bob:40 @carol:30"),
        UsageProblem::SharesExceedTotal {
            shares_minor: 7000,
            total: usd(6000)
        }
    );
    assert!(
        err("/split 60 @bob:40 @carol:30")
            .to_string()
            .starts_with("The shares add up to $70.00, more than the total $60.00. Usage: /split")
    );
    assert_eq!(
        problem("/split 60 @bob:60 @carol"),
        UsageProblem::SharesLeaveNothing
    );
    assert_eq!(
        problem("/split 60 bob"),
        UsageProblem::BareHandle("bob".into())
    );
    assert_eq!(
        problem("/split 60 @bob dinner"),
        UsageProblem::BareWord("dinner".into())
    );
    assert_eq!(
        problem("/split 60 XYZ @bob"),
        UsageProblem::UnknownCurrency("XYZ".into())
    );
    assert_eq!(
        problem("/split 60 20 @bob"),
        UsageProblem::NotATarget("20".into())
    );
    assert_eq!(
        problem("/split 60 @bob for"),
        UsageProblem::Memo(MemoError::Empty)
    );
}

#[test]
fn split_status() {
    assert_eq!(ok("/split status"), Command::SplitStatus { split: None });
    assert_eq!(
        ok("/split STATUS s4m9qx"),
        Command::SplitStatus {
            split: Some(short_ref("S4M9QX"))
        }
    );
    assert!(matches!(
        problem("/split status ??"),
        UsageProblem::InvalidRef(_)
    ));
}

#[test]
fn history() {
    assert_eq!(ok("/history"), Command::History { limit: None });
    assert_eq!(ok("/history 1"), Command::History { limit: Some(1) });
    assert_eq!(ok("/history 050"), Command::History { limit: Some(50) });
    for bad in ["0", "51", "255", "256", "99999999999999999999"] {
        assert_eq!(
            problem(&format!("/history {bad}")),
            UsageProblem::HistoryOutOfRange,
            "{bad}"
        );
    }
    assert_eq!(
        problem("/history ten"),
        UsageProblem::NotANumber("ten".into())
    );
    assert_eq!(
        problem("/history -5"),
        UsageProblem::NotANumber("-5".into())
    );
    assert_eq!(
        problem("/history ５"),
        UsageProblem::NotANumber("５".into())
    );
}

#[test]
fn link() {
    assert_eq!(ok("/link"), Command::Link { code: None });
    let command = ok("/link k7mp2qxa");
    assert_eq!(
        command,
        Command::Link {
            code: Some(LinkCode::parse("K7MP2QXA").unwrap())
        }
    );
    if let Command::Link { code: Some(code) } = command {
        assert_eq!(code.as_str(), "K7MP2QXA");
    }
    // O, 0, I and 1 are not in the alphabet; lengths other than 8 fail.
    for bad in [
        "K7MP2QXO",
        "K7MP2QX0",
        "K7MP2QXI",
        "K7MP2QX1",
        "K7MP2QX",
        "K7MP2QXAB",
        "K7MP2QXé",
    ] {
        assert_eq!(
            problem(&format!("/link {bad}")),
            UsageProblem::InvalidLinkCode,
            "{bad}"
        );
    }
}

#[test]
fn link_confirm_cancel_and_unlink() {
    assert_eq!(ok("/link confirm"), Command::LinkConfirm);
    assert_eq!(ok("/LINK Confirm"), Command::LinkConfirm);
    assert_eq!(ok("/link cancel"), Command::LinkCancel);
    assert_eq!(
        problem("/link confirm now"),
        UsageProblem::LeftoverAfterCode
    );
    assert_eq!(ok("/unlink"), Command::Unlink { confirm: false });
    assert_eq!(ok("/unlink CONFIRM"), Command::Unlink { confirm: true });
    assert_eq!(ok("/unlink").name(), CommandName::Unlink);
    assert_eq!(
        problem("/unlink please"),
        UsageProblem::Leftover("please".to_owned())
    );
    assert_eq!(
        problem("/unlink confirm please"),
        UsageProblem::Leftover("please".to_owned())
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
    assert_eq!(ok("/card remove 2"), Command::CardRemove { index: 2 });
    assert_eq!(ok("/card list"), Command::Cards);
    assert_eq!(ok("/cards"), Command::Cards);
    let usd = |minor| Amount::from_minor(minor, Currency::USD).unwrap();
    assert_eq!(
        ok("/topup 20"),
        Command::TopUp {
            amount: usd(2_000),
            card: None
        }
    );
    assert_eq!(
        ok("/cashout $5.50 card 2"),
        Command::CashOut {
            amount: usd(550),
            card: Some(2)
        }
    );
    assert_eq!(
        problem("/card add 4111111111111112 08/29"),
        UsageProblem::Card(CardError::Checksum)
    );
    assert_eq!(
        problem("/card add 4111111111111111"),
        UsageProblem::MissingExpiry
    );
    assert_eq!(
        problem("/card add 4111111111111111 13/29"),
        UsageProblem::Expiry(ExpiryError::Month)
    );
    assert_eq!(problem("/card remove 9"), UsageProblem::CardIndex);
    assert_eq!(
        problem("/card 4111111111111111 08/29"),
        UsageProblem::CardSubcommand
    );
    assert_eq!(
        problem("/topup 20 4111111111111111"),
        UsageProblem::CardSelector
    );
    assert_eq!(
        problem("/cards 4111111111111111"),
        UsageProblem::LeftoverNotQuoted
    );
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
    assert_eq!(CommandName::ALL.len(), 17);
    for name in CommandName::ALL {
        assert_eq!(CommandName::from_word(name.as_str()), Some(name));
        assert!(name.summary().chars().count() <= 60, "{name}");
        assert!(name.usage().starts_with(&name.to_string()), "{name}");
        assert!(name.example().starts_with(&name.to_string()), "{name}");
        let parsed = ok(name.example());
        assert_eq!(parsed.name(), name, "{}", name.example());
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
