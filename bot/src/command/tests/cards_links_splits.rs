//! `/split`, `/history`, `/link`, `/unlink` and the card commands.

use super::*;

#[test]
fn split() {
    parses(&[
        (
            "/split 60 @bob @carol for dinner",
            Command::Split {
                total: usd(6000),
                shares: vec![
                    SplitShare {
                        target: handle("bob"),
                        amount: None,
                    },
                    SplitShare {
                        target: handle("carol"),
                        amount: None,
                    },
                ],
                memo: memo("dinner"),
            },
        ),
        (
            "/split 60 EUR @bob:25 <@77>:€10.50",
            Command::Split {
                total: money(6000, Currency::EUR),
                shares: vec![
                    SplitShare {
                        target: handle("bob"),
                        amount: Some(money(2500, Currency::EUR)),
                    },
                    SplitShare {
                        target: id("77"),
                        amount: Some(money(1050, Currency::EUR)),
                    },
                ],
                memo: None,
            },
        ),
    ]);
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
    problems(&[
        ("/split", UsageProblem::MissingAmount),
        ("/split 60", UsageProblem::NoParticipants),
        ("/split 60 for dinner", UsageProblem::NoParticipants),
        ("/split @bob 60", UsageProblem::TotalFirst),
        (
            "/split 60 @bob @Bob",
            UsageProblem::DuplicateParticipant("@bob".into()),
        ),
        (
            "/split 60 <@1> <@!1>",
            UsageProblem::DuplicateParticipant("<@1>".into()),
        ),
    ]);
    let too_many = (0..=SPLIT_MENTIONS_MAX)
        .map(|i| format!("@user{i}"))
        .collect::<Vec<_>>()
        .join(" ");
    assert_eq!(
        problem(&format!("/split 100 {too_many}")),
        UsageProblem::TooManyParticipants
    );
    problems(&[
        (
            "/split 60 @bob:€10",
            UsageProblem::ShareCurrency {
                target: "@bob".into(),
                share: Currency::EUR,
                total: Currency::USD,
            },
        ),
        (
            "/split 60 EUR @bob:10usd",
            UsageProblem::ShareCurrency {
                target: "@bob".into(),
                share: Currency::USD,
                total: Currency::EUR,
            },
        ),
        (
            "/split 60 @bob:",
            UsageProblem::ShareMissingAmount("@bob".into()),
        ),
        (
            "/split 60 @bob:0",
            UsageProblem::Amount(AmountError::NotPositive),
        ),
        ("/split 60 @bob:٢", UsageProblem::NonAsciiDigits),
        (
            "/split 60 @bob:40 @carol:30",
            UsageProblem::SharesExceedTotal {
                shares_minor: 7000,
                total: usd(6000),
            },
        ),
    ]);
    assert!(
        err("/split 60 @bob:40 @carol:30")
            .to_string()
            .starts_with("The shares add up to $70.00, more than the total $60.00. Usage: /split")
    );
    problems(&[
        ("/split 60 @bob:60 @carol", UsageProblem::SharesLeaveNothing),
        ("/split 60 bob", UsageProblem::BareHandle("bob".into())),
        (
            "/split 60 @bob dinner",
            UsageProblem::BareWord("dinner".into()),
        ),
        (
            "/split 60 XYZ @bob",
            UsageProblem::UnknownCurrency("XYZ".into()),
        ),
        ("/split 60 20 @bob", UsageProblem::NotATarget("20".into())),
        ("/split 60 @bob for", UsageProblem::Memo(MemoError::Empty)),
    ]);
}

#[test]
fn split_status() {
    parses(&[
        ("/split status", Command::SplitStatus { split: None }),
        (
            "/split STATUS s4m9qx",
            Command::SplitStatus {
                split: Some(short_ref("S4M9QX")),
            },
        ),
    ]);
    assert!(matches!(
        problem("/split status ??"),
        UsageProblem::InvalidRef(_)
    ));
}

#[test]
fn history() {
    parses(&[
        ("/history", Command::History { limit: None }),
        ("/history 1", Command::History { limit: Some(1) }),
        ("/history 050", Command::History { limit: Some(50) }),
    ]);
    for bad in ["0", "51", "255", "256", "99999999999999999999"] {
        assert_eq!(
            problem(&format!("/history {bad}")),
            UsageProblem::HistoryOutOfRange,
            "{bad}"
        );
    }
    problems(&[
        ("/history ten", UsageProblem::NotANumber("ten".into())),
        ("/history -5", UsageProblem::NotANumber("-5".into())),
        ("/history ５", UsageProblem::NotANumber("５".into())),
    ]);
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
    parses(&[
        (
            "/link confirm",
            Command::LinkConfirm {
                second_factor: None,
            },
        ),
        (
            "/LINK Confirm",
            Command::LinkConfirm {
                second_factor: None,
            },
        ),
        (
            "/link confirm 123456",
            Command::LinkConfirm {
                second_factor: TotpOrRecovery::parse("123456"),
            },
        ),
        ("/link cancel", Command::LinkCancel),
    ]);
    assert_eq!(
        problem("/link confirm now"),
        UsageProblem::InvalidAuthenticatorCode
    );
    parses(&[
        ("/unlink", Command::Unlink { confirm: false }),
        ("/unlink CONFIRM", Command::Unlink { confirm: true }),
    ]);
    assert_eq!(ok("/unlink").name(), CommandName::Unlink);
    problems(&[
        (
            "/unlink please",
            UsageProblem::Leftover("please".to_owned()),
        ),
        (
            "/unlink confirm please",
            UsageProblem::Leftover("please".to_owned()),
        ),
    ]);
}

#[test]
fn second_factor() {
    parses(&[
        ("/2fa", Command::SecondFactorStatus),
        ("/2FA status", Command::SecondFactorStatus),
        ("/2fa Setup", Command::SecondFactorSetup),
        (
            "/2fa confirm 012345",
            Command::SecondFactorConfirm {
                code: crate::trust::second_factor::TotpCode::parse("012345").unwrap(),
            },
        ),
        (
            "/2fa off 012345",
            Command::SecondFactorOff {
                code: TotpOrRecovery::parse("012345").unwrap(),
            },
        ),
        (
            "/2fa off abcde-fghij",
            Command::SecondFactorOff {
                code: TotpOrRecovery::parse("ABCDEFGHIJ").unwrap(),
            },
        ),
    ]);
    assert_eq!(ok("/2fa").name(), CommandName::SecondFactor);
    problems(&[
        ("/2fa on", UsageProblem::SecondFactorSubcommand),
        ("/2fa confirm", UsageProblem::MissingAuthenticatorCode),
        (
            "/2fa confirm abcde-fghij",
            UsageProblem::InvalidAuthenticatorCode,
        ),
        ("/2fa off 12345", UsageProblem::InvalidAuthenticatorCode),
        ("/2fa off 123456 1", UsageProblem::LeftoverAfterCode),
    ]);
}
