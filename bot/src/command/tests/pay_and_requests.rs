//! `/pay`, its memos, amounts and targets, `/confirm`, `/cancel`,
//! `/approve`, `/decline` and `/request`.

use super::*;

#[test]
fn pay_with_a_target() {
    parses(&[
        ("/pay @bob 20", pay(Some(handle("bob")), usd(2000), None)),
        (
            "/pay @alice.b_99 0.01",
            pay(Some(handle("alice.b_99")), usd(1), None),
        ),
        (
            "/pay @bob €5",
            pay(Some(handle("bob")), money(500, Currency::EUR), None),
        ),
        (
            "/pay @bob 5 eur",
            pay(Some(handle("bob")), money(500, Currency::EUR), None),
        ),
        (
            "/pay @bob 20,50 EUR for 🍕 and 🍺",
            pay(
                Some(handle("bob")),
                money(2050, Currency::EUR),
                memo("🍕 and 🍺"),
            ),
        ),
        (
            "/pay @bob ¥500",
            pay(Some(handle("bob")), money(500, Currency::JPY), None),
        ),
        (
            "/pay @bob 12.345 bhd",
            pay(
                Some(handle("bob")),
                money(12_345, Currency::from_code("BHD").unwrap()),
                None,
            ),
        ),
        (
            "/pay @bob 1000000000",
            pay(Some(handle("bob")), usd(100_000_000_000), None),
        ),
    ]);
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
    parses(&[
        ("/pay 20", pay(None, usd(2000), None)),
        ("/pay 20 for pizza", pay(None, usd(2000), memo("pizza"))),
        (
            "/send €5 for coffee",
            pay(None, money(500, Currency::EUR), memo("coffee")),
        ),
    ]);
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
    problems(&[
        ("/pay @bob 20 for", UsageProblem::Memo(MemoError::Empty)),
        (
            "/pay @bob 20 for \u{1}\u{2}",
            UsageProblem::Memo(MemoError::Empty),
        ),
    ]);
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
    problems(&[
        ("/pay @bob ٢٠", UsageProblem::NonAsciiDigits),
        ("/pay @bob ２０", UsageProblem::NonAsciiDigits),
        ("/pay @bob", UsageProblem::MissingAmount),
        ("/pay", UsageProblem::MissingAmount),
        ("/pay @bob for pizza", UsageProblem::MissingAmount),
        ("/pay @bob usd", UsageProblem::MissingAmount),
        (
            "/pay @bob 20 XYZ",
            UsageProblem::UnknownCurrency("XYZ".into()),
        ),
    ]);
}

#[test]
fn amount_error_lines_read_well() {
    assert_eq!(
        err("/pay @bob 20.505").to_string(),
        "`20.505` has 3 decimals, but USD has 2 (its smallest amount is 0.01); I never round, so write at most 2, like 20.50. Usage: /pay @handle AMOUNT [CURRENCY] [every PERIOD] [for MEMO], e.g. /pay @bob 20 for pizza"
    );
    errors_start(&[
        (
            "/pay @bob 5.5 JPY",
            "`5.5` has 1 decimal, but JPY has none (its smallest amount is 1); I never round, so write a whole number, like 5. Usage:",
        ),
        (
            "/pay @bob 0",
            "The amount must be more than zero. Usage: /pay",
        ),
        (
            "/pay @bob 20 XYZ",
            "Unknown currency `XYZ`; I know USD, EUR, GBP, JPY",
        ),
        (
            "/pay @bob 2000000000",
            "The amount is above the limit of $1,000,000,000.00. Usage:",
        ),
        (
            "/pay @bob ٢٠",
            "Write the amount with the digits 0-9. Usage:",
        ),
        ("/pay @bob", "Missing the amount. Usage:"),
    ]);
}

#[test]
fn target_errors() {
    problems(&[
        ("/pay bob 20", UsageProblem::BareHandle("bob".into())),
        ("/pay bob", UsageProblem::BareHandle("bob".into())),
        ("/request bob 20", UsageProblem::BareHandle("bob".into())),
    ]);
    assert!(
        err("/pay bob 20")
            .to_string()
            .starts_with("Put @ before the handle: @bob. Usage:")
    );
    problems(&[
        ("/pay @ 20", UsageProblem::InvalidHandle("@".into())),
        ("/pay @bob! 20", UsageProblem::InvalidHandle("@bob!".into())),
        ("/pay @@bob 20", UsageProblem::InvalidHandle("@@bob".into())),
        ("/request 20 @bob", UsageProblem::NotATarget("20".into())),
        ("/request", UsageProblem::MissingTarget),
        ("/request for x", UsageProblem::MissingTarget),
        // A second payee needs their own amount (see `pay_many`).
        ("/pay @bob 20 @carol", UsageProblem::MissingAmount),
        (
            "/request @bob 20 @carol",
            UsageProblem::ExtraTarget("@carol".into()),
        ),
    ]);
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
    problems(&[
        (
            "/pay @bob 20 usd pizza",
            UsageProblem::Unexpected("pizza".into()),
        ),
        ("/cancel P7K2QX now", UsageProblem::Leftover("now".into())),
        ("/approve P7K2QX x", UsageProblem::Leftover("x".into())),
        ("/history 5 6", UsageProblem::Leftover("6".into())),
        ("/split status S1S2 x", UsageProblem::Leftover("x".into())),
    ]);
}

#[test]
fn confirm() {
    let command = ok("/confirm 012345");
    assert_eq!(
        command,
        Command::Confirm {
            code: OtpCode::parse("012345").unwrap(),
            second_factor: None,
        }
    );
    assert_eq!(
        ok("/confirm 012345 654321"),
        Command::Confirm {
            code: OtpCode::parse("012345").unwrap(),
            second_factor: TotpOrRecovery::parse("654321"),
        }
    );
    assert_eq!(
        ok("/confirm 012345 abcde-fghij"),
        Command::Confirm {
            code: OtpCode::parse("012345").unwrap(),
            second_factor: TotpOrRecovery::parse("ABCDEFGHIJ"),
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
    problems(&[
        ("/confirm", UsageProblem::MissingCode),
        (
            "/confirm 123456 789",
            UsageProblem::InvalidAuthenticatorCode,
        ),
        ("/confirm 123456 654321 1", UsageProblem::LeftoverAfterCode),
    ]);
}

#[test]
fn secrets_are_never_shown() {
    let code = OtpCode::parse("987654").unwrap();
    assert_eq!(format!("{code:?}"), "OtpCode(******)");
    let command = ok("/confirm 987654");
    assert!(!format!("{command:?}").contains("987654"));
    for text in [
        "/confirm 111111 987654",
        "/2fa confirm 987654",
        "/2fa off 987654",
        "/link confirm 987654",
    ] {
        assert!(!format!("{:?}", ok(text)).contains("987654"), "{text}");
    }
    let link = LinkCode::parse("k7mp2qxa").unwrap();
    assert_eq!(format!("{link:?}"), "LinkCode(********)");
    assert!(!format!("{:?}", ok("/link K7MP2QXA")).contains("K7MP2QXA"));
    for text in [
        "/confirm 98765",
        "/confirm 9876543",
        "/confirm 987654 987654 987654",
        "/confirm 987654 98765",
        "/2fa off 98765",
        "/2fa confirm 98765x",
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
    parses(&[
        ("/cancel", Command::Cancel { payment: None }),
        (
            "/cancel p7k2qx",
            Command::Cancel {
                payment: Some(short_ref("P7K2QX")),
            },
        ),
    ]);
    assert_eq!(short_ref("p7k2qx").as_str(), "P7K2QX");
    parses(&[
        (
            "/approve R3D8KM",
            Command::Approve {
                request: short_ref("R3D8KM"),
            },
        ),
        (
            "/decline@paybot r3d8km",
            Command::Decline {
                request: short_ref("R3D8KM"),
            },
        ),
    ]);
    problems(&[
        ("/approve", UsageProblem::MissingRef),
        ("/decline", UsageProblem::MissingRef),
    ]);
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
    parses(&[
        (
            "/request @alice 15 for tickets",
            Command::Request {
                payer: handle("alice"),
                amount: usd(1500),
                memo: memo("tickets"),
            },
        ),
        (
            "/REQUEST@paybot   @Alice   15.5   eur",
            Command::Request {
                payer: handle("alice"),
                amount: money(1550, Currency::EUR),
                memo: None,
            },
        ),
    ]);
    assert_eq!(problem("/request @alice"), UsageProblem::MissingAmount);
    assert!(
        err("/request @alice 0")
            .to_string()
            .contains("Usage: /request @handle AMOUNT")
    );
}
