//! Properties of the command grammar: `parse` never panics and keeps its
//! contract on any input, valid commands survive rendering with random
//! whitespace, case and `@paybot`, and every error is one short line.
// Test code throughout, helpers too (see clippy.toml).
#![cfg(test)]

use bot::command::{
    COMMAND_TEXT_BYTES_MAX, Command, EXPENSE_ITEMS_MAX, ExpenseItem, ExpenseShares,
    HISTORY_ENTRIES_MAX, ItemRest, LinkCode, MEMO_CHARS_MAX, Memo, OtpCode, ParseContext,
    SPLIT_MENTIONS_MAX, ShortRef, SplitShare, Target, USAGE_ERROR_CHARS_MAX, parse,
};
use bot::message::{Handle, PlatformUserId};
use ledger::{Amount, Currency};
use proptest::prelude::*;

const CTX: ParseContext<'static> = ParseContext {
    bot_username: Some("PayBot"),
    default_currency: Currency::USD,
};

/// The contract of `parse`, checked on any input.
fn check_contract(text: &str) {
    let result = parse(text, &CTX);
    if !text.trim_start().starts_with('/') {
        assert_eq!(result, Ok(None), "{text:?}");
    }
    match result {
        Ok(None) => {}
        Ok(Some(command)) => {
            assert!(text.len() <= COMMAND_TEXT_BYTES_MAX, "{text:?}");
            check_command(&command);
        }
        Err(error) => {
            let line = error.to_string();
            assert!(!line.contains(['\n', '\r']), "{line:?}");
            assert!(line.chars().count() < 300, "{line:?}");
            assert!(line.chars().count() <= USAGE_ERROR_CHARS_MAX, "{line:?}");
            assert!(!line.chars().any(char::is_control), "{line:?}");
            assert!(!line.contains("Error") && !line.contains("{ "), "{line:?}");
        }
    }
}

fn check_memo(memo: Option<&Memo>) {
    if let Some(memo) = memo {
        let text = memo.as_str();
        let chars = text.chars().count();
        assert!((1..=MEMO_CHARS_MAX).contains(&chars), "{text:?}");
        assert!(!text.chars().any(char::is_control), "{text:?}");
        assert_eq!(text, text.trim());
        // Nothing in it could pass for the bot: cleaning is done (and
        // changes nothing more), no double quote mark, no card number.
        assert_eq!(bot::text::clean_free_text(text), text);
        assert!(!text.chars().any(bot::text::is_double_quote), "{text:?}");
        assert!(
            !text.chars().any(|c| bot::text::is_invisible(c)
                && !matches!(c, '\u{200C}' | '\u{200D}' | '\u{E0020}'..='\u{E007F}')),
            "{text:?}"
        );
        assert!(!bot::card::contains_card_number(text), "{text:?}");
    }
}

fn check_command(command: &Command) {
    match command {
        Command::Pay { memo, .. } | Command::Request { memo, .. } => check_memo(memo.as_ref()),
        Command::Split {
            total,
            shares,
            memo,
        } => {
            check_memo(memo.as_ref());
            assert!((1..=SPLIT_MENTIONS_MAX).contains(&shares.len()));
            let mut exact = 0_i64;
            for (i, share) in shares.iter().enumerate() {
                assert!(!shares[..i].iter().any(|s| s.target == share.target));
                if let Some(amount) = share.amount {
                    assert_eq!(amount.currency(), total.currency());
                    exact += amount.minor();
                }
            }
            assert!(exact <= total.minor());
        }
        Command::History { limit: Some(limit) } => {
            assert!((1..=HISTORY_ENTRIES_MAX).contains(limit));
        }
        Command::Confirm { code, .. } => {
            assert!(code.as_str().len() == 6 && code.as_str().bytes().all(|b| b.is_ascii_digit()));
        }
        _ => {}
    }
}

// --- arbitrary and command-shaped input -------------------------------------

fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        proptest::collection::vec(any::<char>(), 0..300).prop_map(String::from_iter),
        proptest::collection::vec(any::<char>(), 1000..3000).prop_map(String::from_iter),
    ]
}

fn command_word() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "pay", "send", "PAY", "Request", "split", "confirm", "link", "start", "help",
            "history", "cancel", "approve", "decline", "balance", "foo",
        ])
        .prop_map(str::to_owned),
        "[A-Za-z0-9_]{1,40}",
    ]
}

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        "@[a-zA-Z0-9_.!]{0,34}",
        "<@!?[0-9a-z&]{0,5}>?",
        "-?[0-9]{1,14}([.,][0-9]{0,4})?",
        "[$€¥£₩]?[0-9]{1,4}",
        "(usd|EUR|jpy|XYZ|bhd|krw|tip)",
        "(for|FOR|status|STATUS)",
        "[A-Za-z0-9]{3,13}",
        "(@[a-z]{1,5}|<@[0-9]{1,3}>):[$€]?[0-9]{0,4}([.][0-9]{1,3})?",
        "[٠-٩０-９]{1,6}",
        "\\PC{1,8}",
        proptest::collection::vec(any::<char>(), 1..6).prop_map(String::from_iter),
        // What a memo might use to pass for the bot, or to carry a card.
        "[a-zé🍕👨👩🏴\u{200B}\u{200C}\u{200D}\u{2060}\u{FEFF}\u{3164}\u{FFA0}\u{2800}\u{E0041}\u{E0067}\u{E007F}\"“”„«»＂]{1,8}",
        "4111[ ._-]?1111[ ._\u{200B}-]?1111[ ._-]?111[0-9]",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    /// A memo that parses is clean, whatever was typed.
    #[test]
    fn memos_are_clean(words in proptest::collection::vec((separator(), word()), 1..12)) {
        let text: String = words.into_iter().flat_map(|(sep, word)| [sep.to_owned(), word]).collect();
        if let Ok(memo) = Memo::parse(&text) {
            check_memo(Some(&memo));
        }
        check_contract(&format!("/pay @bob 5 for {text}"));
        check_contract(&format!("/split 9 @bob @carol for {text}"));
    }
}

fn separator() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        " ", "  ", "\t", "\n", " \r\n ", "\u{a0}", "\u{2028}", "\u{3000}",
    ])
}

fn command_shaped() -> impl Strategy<Value = String> {
    (
        command_word(),
        prop::option::of("(paybot|PAYBOT|otherbot|[a-z_]{0,34})"),
        proptest::collection::vec((separator(), word()), 0..30),
        prop::option::of(any::<String>()),
    )
        .prop_map(|(name, bot, words, tail)| {
            let mut text = format!("/{name}");
            if let Some(bot) = bot {
                text.push('@');
                text.push_str(&bot);
            }
            for (sep, word) in words {
                text.push_str(sep);
                text.push_str(&word);
            }
            if let Some(tail) = tail {
                text.push_str(&tail);
            }
            text
        })
}

// --- valid commands and how people type them ---------------------------------

#[derive(Debug, Clone)]
struct Style {
    /// Bit i: upper-case character i of names, handles and codes.
    case_bits: u64,
    bot_suffix: Option<&'static str>,
    separators: Vec<&'static str>,
    leading: &'static str,
    trailing: &'static str,
    /// How amounts are written, per amount.
    amount_forms: Vec<u8>,
}

fn style() -> impl Strategy<Value = Style> {
    (
        any::<u64>(),
        prop::option::of(prop::sample::select(vec!["paybot", "PayBot", "PAYBOT"])),
        proptest::collection::vec(separator(), 1..8),
        prop::sample::select(vec!["", " ", "\n", "\t "]),
        prop::sample::select(vec!["", " ", "\n", " \t\n"]),
        proptest::collection::vec(0_u8..4, 1..8),
    )
        .prop_map(
            |(case_bits, bot_suffix, separators, leading, trailing, amount_forms)| Style {
                case_bits,
                bot_suffix,
                separators,
                leading,
                trailing,
                amount_forms,
            },
        )
}

impl Style {
    fn case(&self, text: &str) -> String {
        text.chars()
            .enumerate()
            .map(|(i, c)| {
                if self.case_bits >> (i % 64) & 1 == 1 {
                    c.to_ascii_uppercase()
                } else {
                    c
                }
            })
            .collect()
    }

    fn sep(&self, i: usize) -> &'static str {
        self.separators[i % self.separators.len()]
    }

    /// Joins words with this style's separators, after `/name[@bot]`.
    fn render(&self, name: &str, words: &[String]) -> String {
        let mut text = format!("{}/{}", self.leading, self.case(name));
        if let Some(bot) = self.bot_suffix {
            text.push('@');
            text.push_str(bot);
        }
        for (i, word) in words.iter().enumerate() {
            text.push_str(self.sep(i));
            text.push_str(word);
        }
        text.push_str(self.trailing);
        text
    }

    /// An amount as one or two words; `default` is the context's currency.
    fn amount(&self, amount: Amount, i: usize, default: Currency) -> Vec<String> {
        let number = amount.to_decimal().to_string();
        let code = amount.currency().code();
        match self.amount_forms[i % self.amount_forms.len()] {
            0 if amount.currency() == default => vec![number],
            1 => vec![number, self.case(&code.to_ascii_lowercase())],
            2 => vec![self.case(&code.to_ascii_lowercase()), number],
            // As paybot writes it, unless that is `¥1,000` (a currency
            // without decimals, one comma): refused as ambiguous, since a
            // decimal-comma locale reads it as ¥1.
            _ if single_grouping_comma(&amount.to_string()) => vec![number, code.to_owned()],
            _ => amount.to_string().split(' ').map(str::to_owned).collect(),
        }
    }

    /// A split share's amount, as one word in the total's currency.
    fn share_amount(&self, amount: Amount, i: usize) -> String {
        let number = amount.to_decimal().to_string();
        match self.amount_forms[i % self.amount_forms.len()] {
            0 => number,
            1 => format!("{number}{}", amount.currency().code().to_ascii_lowercase()),
            _ => {
                let shown = amount.to_string();
                if shown.contains(' ') || single_grouping_comma(&shown) {
                    number
                } else {
                    shown
                }
            }
        }
    }

    fn target(&self, target: &Target, raw_handle: &str, bang: bool) -> String {
        match target {
            Target::Handle(_) => format!("@{}", self.case(raw_handle)),
            Target::Id(id) if bang => format!("<@!{id}>"),
            Target::Id(id) => format!("<@{id}>"),
        }
    }

    fn memo_words(&self, memo: Option<&Memo>) -> Vec<String> {
        match memo {
            None => Vec::new(),
            Some(memo) => {
                let mut words = vec![self.case("for")];
                words.extend(memo.as_str().split(' ').map(str::to_owned));
                words
            }
        }
    }
}

/// A target and the handle text it was made from (for random case).
fn target() -> impl Strategy<Value = (Target, String, bool)> {
    prop_oneof![
        "[a-z0-9_][a-z0-9_.]{0,31}"
            .prop_map(|raw| { (Target::Handle(Handle::parse(&raw).unwrap()), raw, false,) }),
        ("[0-9]{1,20}", any::<bool>()).prop_map(|(id, bang)| {
            (
                Target::Id(PlatformUserId::new(id).unwrap()),
                String::new(),
                bang,
            )
        }),
    ]
}

fn currency() -> impl Strategy<Value = Currency> {
    prop::sample::select(Currency::all().collect::<Vec<_>>())
}

fn amount() -> impl Strategy<Value = Amount> {
    currency().prop_flat_map(|currency| {
        prop_oneof![1_i64..=1_000_000, 1_i64..=currency.max_minor()]
            .prop_map(move |minor| Amount::from_minor(minor, currency).unwrap())
    })
}

fn memo() -> impl Strategy<Value = Option<Memo>> {
    prop::option::of(
        proptest::collection::vec("[a-zA-Z0-9éü🍕@:$.,!?<>-]{1,10}", 1..8)
            .prop_map(|words| Memo::parse(&words.join(" ")).unwrap()),
    )
}

/// A valid command and its words after `/name`, in a given style.
#[derive(Debug, Clone)]
enum Valid {
    Pay {
        name: &'static str,
        payee: Option<(Target, String, bool)>,
        amount: Amount,
        memo: Option<Memo>,
    },
    Request {
        payer: (Target, String, bool),
        amount: Amount,
        memo: Option<Memo>,
    },
    Split {
        total_extra: i64,
        currency: Currency,
        shares: Vec<((Target, String, bool), Option<i64>)>,
        memo: Option<Memo>,
    },
    /// `/expense TOTAL for MEMO: @a 18 pizza, @b @c 12, rest [@d]`.
    Itemised {
        rest_minor: i64,
        currency: Currency,
        items: Vec<Item>,
        rest: Option<Vec<(Target, String, bool)>>,
        memo: Option<Memo>,
    },
    Simple(Command, &'static str, Vec<String>),
}

/// An itemised expense's item as generated: its people (each a target,
/// how it is written, whether written as a mention), its amount in minor
/// units, and what it was.
type Item = (Vec<(Target, String, bool)>, i64, Option<String>);

fn valid() -> impl Strategy<Value = Valid> {
    let simple = prop_oneof![
        Just(Valid::Simple(Command::Balance, "balance", vec![])),
        "[0-9]{6}".prop_map(|code| Valid::Simple(
            Command::Confirm {
                code: OtpCode::parse(&code).unwrap(),
                second_factor: None,
            },
            "confirm",
            vec![code]
        )),
        "[A-Za-z0-9]{4,12}".prop_map(|r| Valid::Simple(
            Command::Approve {
                request: ShortRef::parse(&r).unwrap()
            },
            "approve",
            vec![r]
        )),
        "[A-Za-z0-9]{4,12}".prop_map(|r| Valid::Simple(
            Command::Decline {
                request: ShortRef::parse(&r).unwrap()
            },
            "decline",
            vec![r]
        )),
        prop::option::of("[A-Za-z0-9]{4,12}").prop_map(|r| Valid::Simple(
            Command::Cancel {
                payment: r.as_deref().map(|r| ShortRef::parse(r).unwrap())
            },
            "cancel",
            r.into_iter().collect()
        )),
        prop::option::of("[A-Za-z0-9]{4,12}").prop_map(|r| {
            let mut words = vec!["status".to_owned()];
            words.extend(r.clone());
            Valid::Simple(
                Command::SplitStatus {
                    split: r.as_deref().map(|r| ShortRef::parse(r).unwrap()),
                },
                "split",
                words,
            )
        }),
        prop::option::of(1_u8..=HISTORY_ENTRIES_MAX).prop_map(|n| Valid::Simple(
            Command::History { limit: n },
            "history",
            n.map(|n| n.to_string()).into_iter().collect()
        )),
        prop::option::of("[ABCDEFGHJKLMNPQRSTUVWXYZ23456789]{8}").prop_map(|c| Valid::Simple(
            Command::Link {
                code: c.as_deref().map(|c| LinkCode::parse(c).unwrap())
            },
            "link",
            c.map(|c| c.to_ascii_lowercase()).into_iter().collect()
        )),
    ];
    prop_oneof![
        (
            prop::sample::select(vec!["pay", "send"]),
            prop::option::of(target()),
            amount(),
            memo()
        )
            .prop_map(|(name, payee, amount, memo)| Valid::Pay {
                name,
                payee,
                amount,
                memo
            }),
        (target(), amount(), memo()).prop_map(|(payer, amount, memo)| Valid::Request {
            payer,
            amount,
            memo
        }),
        (
            1_i64..=100_000,
            currency(),
            proptest::collection::vec((target(), prop::option::of(1_i64..=1_000)), 1..=6),
            memo()
        )
            .prop_map(|(total_extra, currency, shares, memo)| Valid::Split {
                total_extra,
                currency,
                shares,
                memo
            }),
        (
            0_i64..=100_000,
            currency(),
            proptest::collection::vec(
                (
                    proptest::collection::vec(target(), 1..=3),
                    1_i64..=1_000_000,
                    prop::option::of("[a-z]{1,8}"),
                ),
                1..=EXPENSE_ITEMS_MAX,
            ),
            prop::option::of(proptest::collection::vec(target(), 1..=3)),
            memo(),
        )
            .prop_map(
                |(rest_minor, currency, items, rest, memo)| Valid::Itemised {
                    rest_minor,
                    currency,
                    items,
                    rest,
                    memo,
                }
            ),
        simple,
    ]
}

/// The targets as typed and as parsed, each once.
fn distinct(targets: &[(Target, String, bool)], style: &Style) -> (Vec<String>, Vec<Target>) {
    let mut words = Vec::new();
    let mut parsed: Vec<Target> = Vec::new();
    for (target, raw, bang) in targets {
        if !parsed.contains(target) {
            parsed.push(target.clone());
            words.push(style.target(target, raw, *bang));
        }
    }
    (words, parsed)
}

/// The expected command and the text a person might type for it.
/// `¥1,000`: one comma and no decimal point, which the parser refuses as
/// ambiguous (a thousand, or one in a decimal-comma locale).
fn single_grouping_comma(shown: &str) -> bool {
    shown.matches(',').count() == 1 && !shown.contains('.')
}

fn render(valid: &Valid, style: &Style) -> Option<(Command, String)> {
    let default = CTX.default_currency;
    Some(match valid {
        Valid::Pay {
            name,
            payee,
            amount,
            memo,
        } => {
            let mut words = Vec::new();
            if let Some((target, raw, bang)) = payee {
                words.push(style.target(target, raw, *bang));
            }
            words.extend(style.amount(*amount, 0, default));
            words.extend(style.memo_words(memo.as_ref()));
            let command = Command::Pay {
                payee: payee.as_ref().map(|(target, _, _)| target.clone()),
                amount: *amount,
                memo: memo.clone(),
            };
            (command, style.render(name, &words))
        }
        Valid::Request {
            payer,
            amount,
            memo,
        } => {
            let mut words = vec![style.target(&payer.0, &payer.1, payer.2)];
            words.extend(style.amount(*amount, 0, default));
            words.extend(style.memo_words(memo.as_ref()));
            let command = Command::Request {
                payer: payer.0.clone(),
                amount: *amount,
                memo: memo.clone(),
            };
            (command, style.render("request", &words))
        }
        Valid::Split {
            total_extra,
            currency,
            shares,
            memo,
        } => {
            let mut seen: Vec<&Target> = Vec::new();
            let mut expected = Vec::new();
            let mut share_words = Vec::new();
            let mut exact = 0;
            for (i, ((target, raw, bang), minor)) in shares.iter().enumerate() {
                if seen.contains(&target) {
                    continue;
                }
                seen.push(target);
                let amount = minor.map(|m| Amount::from_minor(m, *currency).unwrap());
                exact += minor.unwrap_or(0);
                let mut word = style.target(target, raw, *bang);
                if let Some(amount) = amount {
                    word.push(':');
                    word.push_str(&style.share_amount(amount, i + 1));
                }
                share_words.push(word);
                expected.push(SplitShare {
                    target: target.clone(),
                    amount,
                });
            }
            let total = Amount::from_minor(exact + total_extra, *currency).ok()?;
            let mut words = style.amount(total, 0, default);
            words.extend(share_words);
            words.extend(style.memo_words(memo.as_ref()));
            let command = Command::Split {
                total,
                shares: expected,
                memo: memo.clone(),
            };
            (command, style.render("split", &words))
        }
        Valid::Itemised {
            rest_minor,
            currency,
            items,
            rest,
            memo,
        } => {
            // A memo with a colon or a comma would read differently here.
            if memo
                .as_ref()
                .is_some_and(|m| m.as_str().contains([':', ',']))
            {
                return None;
            }
            let mut expected = Vec::new();
            let mut segments = Vec::new();
            let mut items_minor = 0;
            for (i, (targets, minor, what)) in items.iter().enumerate() {
                let (mut words, parsed) = distinct(targets, style);
                let amount = Amount::from_minor(*minor, *currency).unwrap();
                items_minor += minor;
                words.push(style.share_amount(amount, i + 1));
                words.extend(what.clone());
                segments.push(words);
                expected.push(ExpenseItem {
                    targets: parsed,
                    amount,
                    memo: what.as_deref().map(|w| Memo::parse(w).unwrap()),
                });
            }
            let rest_sharers = match rest {
                Some(targets) => {
                    let (mut words, parsed) = distinct(targets, style);
                    words.insert(0, style.case("rest"));
                    segments.push(words);
                    ItemRest::Among(parsed)
                }
                None => ItemRest::Group,
            };
            let total = Amount::from_minor(items_minor + rest_minor, *currency).ok()?;
            let mut words = style.amount(total, 0, default);
            match memo {
                Some(memo) => {
                    let mut memo_words = style.memo_words(Some(memo));
                    if let Some(last) = memo_words.last_mut() {
                        last.push(':');
                    }
                    words.extend(memo_words);
                }
                None => words.push(style.case("items:")),
            }
            for (i, segment) in segments.iter().enumerate() {
                let mut text = segment.join(style.sep(i));
                if i + 1 < segments.len() {
                    text.push(',');
                }
                words.push(text);
            }
            let command = Command::Expense {
                total,
                shares: ExpenseShares::Itemised {
                    items: expected,
                    rest: rest_sharers,
                },
                payers: vec![],
                memo: memo.clone(),
                recurrence: None,
            };
            let text = style.render("expense", &words);
            if text.len() > COMMAND_TEXT_BYTES_MAX {
                return None;
            }
            (command, text)
        }
        Valid::Simple(command, name, words) => (command.clone(), style.render(name, words)),
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn never_panics_on_any_text(text in any_text()) {
        check_contract(&text);
    }

    #[test]
    fn never_panics_on_command_shaped_text(text in command_shaped()) {
        check_contract(&text);
    }

    #[test]
    fn valid_commands_round_trip(valid in valid(), style in style()) {
        if let Some((expected, text)) = render(&valid, &style) {
            prop_assert_eq!(parse(&text, &CTX), Ok(Some(expected)), "{:?}", text);
        }
    }

    #[test]
    fn other_bots_commands_are_ignored(valid in valid(), style in style()) {
        if let Some((_, text)) = render(&valid, &Style { bot_suffix: Some("OtherBot"), ..style }) {
            prop_assert_eq!(parse(&text, &CTX), Ok(None), "{:?}", text);
        }
    }
}
