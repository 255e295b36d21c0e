//! `bot::command::parse` on arbitrary UTF-8 text.
//!
//! Asserts, under two contexts (USD with a bot username; JPY, an exponent-0
//! currency, with none):
//! - it never panics;
//! - a parsed command, rendered back to text by [`render`] (the command
//!   has no `Display`; this is the canonical spelling the grammar in
//!   `bot/src/command.rs` documents), parses again to the same command, in
//!   either context (the rendering names its currency and no bot);
//! - a usage error is one line of at most `USAGE_ERROR_CHARS_MAX`
//!   characters with no control or bidirectional-formatting characters
//!   (user input is quoted only through `echo`), and an error of `/card` or
//!   `/cards` never contains a card number.
#![no_main]

use std::fmt::Write as _;

use bot::card::contains_card_number;
use bot::command::{self, Command, CommandName, ParseContext, USAGE_ERROR_CHARS_MAX};
use ledger::{Amount, Currency};
use libfuzzer_sys::fuzz_target;

const CONTEXTS: [ParseContext<'static>; 2] = [
    ParseContext {
        bot_username: Some("PayBot"),
        default_currency: Currency::USD,
    },
    ParseContext {
        bot_username: None,
        default_currency: Currency::JPY,
    },
];

fuzz_target!(|text: &str| {
    for ctx in &CONTEXTS {
        check(text, ctx);
    }
});

fn check(text: &str, ctx: &ParseContext<'_>) {
    match command::parse(text, ctx) {
        Ok(None) => {}
        Ok(Some(parsed)) => {
            let rendered = render(&parsed);
            for again_ctx in &CONTEXTS {
                match command::parse(&rendered, again_ctx) {
                    Ok(Some(again)) => assert_eq!(
                        again, parsed,
                        "{text:?} parsed, rendered as {rendered:?}, parsed differently"
                    ),
                    other => panic!(
                        "{text:?} parsed to {parsed:?}, rendered as {rendered:?}, which gave {other:?}"
                    ),
                }
            }
        }
        Err(error) => {
            let line = error.to_string();
            assert!(
                line.chars().count() <= USAGE_ERROR_CHARS_MAX,
                "{text:?}: error longer than {USAGE_ERROR_CHARS_MAX} characters: {line:?}"
            );
            assert!(
                !line.chars().any(is_unshown),
                "{text:?}: error with a control or formatting character: {line:?}"
            );
            if matches!(
                error.command(),
                Some(CommandName::Card | CommandName::Cards)
            ) {
                assert!(
                    !contains_card_number(&line),
                    "{text:?}: a card command's error quotes a card number: {line:?}"
                );
            }
        }
    }
}

/// Characters that break or hide part of a line: controls, the line and
/// paragraph separators, the bidirectional controls `echo` removes.
fn is_unshown(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{061C}' | '\u{200E}' | '\u{200F}'
                | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        )
}

/// The command as a person would type it: `/name` and its arguments in the
/// documented order, amounts with their currency.
fn render(parsed: &Command) -> String {
    let mut out = format!("/{}", parsed.name().as_str());
    // `write!` to a String cannot fail.
    let mut push = |args: std::fmt::Arguments<'_>| {
        let _ = out.write_fmt(args);
    };
    match parsed {
        Command::Start { payload } => {
            if let Some(payload) = payload {
                push(format_args!(" {}", payload.as_str()));
            }
        }
        Command::Help { topic } => {
            if let Some(topic) = topic {
                push(format_args!(" {}", topic.as_str()));
            }
        }
        Command::Balance | Command::Limits | Command::Cards => {}
        Command::Pay {
            payee,
            amount,
            memo,
        } => {
            if let Some(payee) = payee {
                push(format_args!(" {payee}"));
            }
            push(format_args!(" {}", one_word(*amount)));
            if let Some(memo) = memo {
                push(format_args!(" for {memo}"));
            }
        }
        Command::PayMany { legs, memo } => {
            // The pairs form (`@bob 5 @carol 7`) spells every leg; the
            // parser turns `each` into the same legs.
            for leg in legs {
                push(format_args!(" {} {}", leg.payee, one_word(leg.amount)));
            }
            if let Some(memo) = memo {
                push(format_args!(" for {memo}"));
            }
        }
        Command::Undo { payment } => {
            if let Some(payment) = payment {
                push(format_args!(" {payment}"));
            }
        }
        Command::Confirm {
            code,
            second_factor,
        } => {
            push(format_args!(" {}", code.as_str()));
            if let Some(second) = second_factor {
                push(format_args!(" {}", second.expose()));
            }
        }
        Command::Cancel { payment } => {
            if let Some(payment) = payment {
                push(format_args!(" {payment}"));
            }
        }
        Command::Request {
            payer,
            amount,
            memo,
        } => {
            push(format_args!(" {payer} {}", one_word(*amount)));
            if let Some(memo) = memo {
                push(format_args!(" for {memo}"));
            }
        }
        Command::Approve { request } | Command::Decline { request } => {
            push(format_args!(" {request}"));
        }
        Command::Split {
            total,
            shares,
            memo,
        } => {
            push(format_args!(" {}", one_word(*total)));
            for share in shares {
                push(format_args!(" {}", share.target));
                if let Some(amount) = share.amount {
                    push(format_args!(":{}", one_word(amount)));
                }
            }
            if let Some(memo) = memo {
                push(format_args!(" for {memo}"));
            }
        }
        Command::SplitStatus { split } => {
            push(format_args!(" status"));
            if let Some(split) = split {
                push(format_args!(" {split}"));
            }
        }
        Command::History { limit } => {
            if let Some(limit) = limit {
                push(format_args!(" {limit}"));
            }
        }
        Command::Link { code } => {
            if let Some(code) = code {
                push(format_args!(" {}", code.as_str()));
            }
        }
        Command::LinkConfirm { second_factor } => {
            push(format_args!(" confirm"));
            if let Some(second) = second_factor {
                push(format_args!(" {}", second.expose()));
            }
        }
        Command::SecondFactorStatus | Command::Bills => {}
        Command::SecondFactorSetup => push(format_args!(" setup")),
        Command::SecondFactorConfirm { code } => push(format_args!(" confirm {}", code.as_str())),
        Command::SecondFactorOff { code } => push(format_args!(" off {}", code.expose())),
        Command::LinkCancel => push(format_args!(" cancel")),
        Command::Unlink { confirm } => {
            if *confirm {
                push(format_args!(" confirm"));
            }
        }
        Command::CardAdd { card, expiry } => {
            // MM/YYYY: `Expiry`'s Display (MM/YY) drops the century.
            push(format_args!(
                " add {} {:02}/{:04}",
                card.expose(),
                expiry.month(),
                expiry.year()
            ));
        }
        Command::CardRemove { index } => push(format_args!(" remove {index}")),
        Command::PayScheduled {
            payee,
            amount,
            recurrence,
            memo,
        }
        | Command::RequestScheduled {
            payer: payee,
            amount,
            recurrence,
            memo,
        } => {
            push(format_args!(
                " {payee} {} {}",
                one_word(*amount),
                bot::store::standing::rule_text(*recurrence)
            ));
            if let Some(memo) = memo {
                push(format_args!(" for {memo}"));
            }
        }
        Command::TimeZone { zone } => {
            if let Some(zone) = zone {
                push(format_args!(" {}", zone.name()));
            }
        }
        Command::Scheduled { action } => {
            if let Some((action, reference)) = action {
                let word = match action {
                    bot::command::StandingAction::Pause => "pause",
                    bot::command::StandingAction::Resume => "resume",
                    bot::command::StandingAction::Skip { .. } => "skip",
                    bot::command::StandingAction::Cancel => "cancel",
                };
                push(format_args!(" {word} {reference}"));
                if let bot::command::StandingAction::Skip { due: Some(due) } = action {
                    push(format_args!(" {due}"));
                }
            }
        }
        Command::Requests => {}
        Command::Remind { request } => push(format_args!(" {request}")),
        Command::HistoryExport => push(format_args!(" export")),
        Command::Expense {
            total,
            shares,
            payers,
            memo,
            recurrence,
        } => {
            use bot::command::ExpenseShares;
            push(format_args!(" {}", one_word(*total)));
            match shares {
                ExpenseShares::Group => {}
                ExpenseShares::Among(targets) => {
                    push(format_args!(" split"));
                    for target in targets {
                        push(format_args!(" {target}"));
                    }
                }
                ExpenseShares::Exact(parts) => {
                    for (target, amount) in parts {
                        match amount {
                            Some(amount) => push(format_args!(" {target}:{}", one_word(*amount))),
                            None => push(format_args!(" {target}")),
                        }
                    }
                }
                ExpenseShares::Weights(parts) => {
                    for (target, weight) in parts {
                        push(format_args!(" {target}:{weight}"));
                    }
                    push(format_args!(" shares"));
                }
                ExpenseShares::Percents(parts) => {
                    for (target, hundredths) in parts {
                        push(format_args!(
                            " {target}:{}.{:02}%",
                            hundredths / 100,
                            hundredths % 100
                        ));
                    }
                }
                // Written after the payers, with the memo.
                ExpenseShares::Itemised { .. } => {}
            }
            if let Some(recurrence) = recurrence {
                push(format_args!(
                    " {}",
                    bot::store::standing::rule_text(*recurrence)
                ));
            }
            if !payers.is_empty() {
                push(format_args!(" paid by"));
                for payer in payers {
                    match payer.amount {
                        Some(amount) => {
                            push(format_args!(" {}:{}", payer.target, one_word(amount)));
                        }
                        None => push(format_args!(" {}", payer.target)),
                    }
                }
            }
            if let ExpenseShares::Itemised { items, rest } = shares {
                match memo {
                    Some(memo) => push(format_args!(" for {memo}:")),
                    None => push(format_args!(" items:")),
                }
                for item in items {
                    for target in &item.targets {
                        push(format_args!(" {target}"));
                    }
                    push(format_args!(" {}", one_word(item.amount)));
                    if let Some(what) = &item.memo {
                        push(format_args!(" {what}"));
                    }
                    push(format_args!(","));
                }
                push(format_args!(" rest"));
                if let bot::command::ItemRest::Among(targets) = rest {
                    for target in targets {
                        push(format_args!(" {target}"));
                    }
                }
            } else if let Some(memo) = memo {
                push(format_args!(" for {memo}"));
            }
        }
        Command::ExpenseUndo { expense } => push(format_args!(" undo {expense}")),
        Command::ExpenseEdit {
            expense,
            total,
            memo,
        } => {
            push(format_args!(" edit {expense} {}", one_word(*total)));
            if let Some(memo) = memo {
                push(format_args!(" for {memo}"));
            }
        }
        Command::Settle {
            creditor,
            amount,
            cash,
        } => {
            if let Some(creditor) = creditor {
                push(format_args!(" {creditor}"));
            }
            if let Some(amount) = amount {
                push(format_args!(" {}", one_word(*amount)));
            }
            if *cash {
                push(format_args!(" cash"));
            }
        }
        Command::SettleAnswer { settlement, accept } => {
            let word = if *accept { "confirm" } else { "reject" };
            push(format_args!(" {word} {settlement}"));
        }
        Command::SettleCancel { settlement } => push(format_args!(" cancel {settlement}")),
        Command::ExpenseRecurring => push(format_args!(" recurring")),
        Command::ExpenseStop { recurring } => push(format_args!(" stop {recurring}")),
        Command::Tab { view } => match view {
            bot::command::TabView::Simplified => {}
            bot::command::TabView::Member(target) => push(format_args!(" {target}")),
            bot::command::TabView::History => push(format_args!(" history")),
            bot::command::TabView::Export => push(format_args!(" export")),
        },
        Command::TopUp { amount, card } | Command::CashOut { amount, card } => {
            push(format_args!(" {}", one_word(*amount)));
            if let Some(card) = card {
                push(format_args!(" card {card}"));
            }
        }
        Command::Autopay { action } => match action {
            bot::command::AutopayAction::List => {}
            bot::command::AutopayAction::On { biller, cap } => {
                push(format_args!(" {biller} up to {}", one_word(*cap)));
            }
            bot::command::AutopayAction::Off { biller } => push(format_args!(" off {biller}")),
        },
    }
    out
}

/// An amount as one word, for a split share (`@carol:25.00USD`): its
/// `Display` when that is one word (`$25.00`), else decimal and code.
/// An amount as one word that parses back to it: as paybot writes it,
/// unless that has a space (`12.345 BHD`) or is `¥1,000` (one grouping
/// comma and no decimal point, which the parser refuses as ambiguous).
fn one_word(amount: Amount) -> String {
    let shown = amount.to_string();
    let ambiguous = shown.matches(',').count() == 1 && !shown.contains('.');
    if shown.contains(char::is_whitespace) || ambiguous {
        format!("{}{}", amount.to_decimal(), amount.currency().code())
    } else {
        shown
    }
}
