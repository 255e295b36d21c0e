//! The command names and their help texts: the usage line, one real
//! example and a one-line summary of each, for `/help`, menus and usage
//! errors.
//!
//! The decision to know: [`CommandName::ALL`] is the menu order, and every
//! name has all three texts (a unit test checks it), so an adapter can build
//! its menu from this list alone.

use std::fmt;

/// The names of the commands, for help, menus and usage errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CommandName {
    Start,
    Help,
    Balance,
    Limits,
    Pay,
    Confirm,
    Cancel,
    Request,
    Approve,
    Decline,
    Split,
    History,
    Bills,
    Link,
    Unlink,
    Card,
    Cards,
    TopUp,
    CashOut,
    SecondFactor,
    TimeZone,
    Scheduled,
    Autopay,
    Expense,
    Tab,
    Settle,
    Requests,
    Remind,
    Undo,
}

impl CommandName {
    /// Every command, in menu order.
    pub const ALL: [CommandName; 29] = [
        CommandName::Pay,
        CommandName::Confirm,
        CommandName::Cancel,
        CommandName::Undo,
        CommandName::Request,
        CommandName::Approve,
        CommandName::Decline,
        CommandName::Requests,
        CommandName::Remind,
        CommandName::Split,
        CommandName::Expense,
        CommandName::Tab,
        CommandName::Settle,
        CommandName::Balance,
        CommandName::History,
        CommandName::Bills,
        CommandName::Autopay,
        CommandName::Limits,
        CommandName::Scheduled,
        CommandName::TimeZone,
        CommandName::TopUp,
        CommandName::CashOut,
        CommandName::Cards,
        CommandName::Card,
        CommandName::Link,
        CommandName::Unlink,
        CommandName::SecondFactor,
        CommandName::Help,
        CommandName::Start,
    ];

    /// The word after `/`, lower case: `pay`.
    pub fn as_str(self) -> &'static str {
        match self {
            CommandName::Start => "start",
            CommandName::Help => "help",
            CommandName::Balance => "balance",
            CommandName::Limits => "limits",
            CommandName::Pay => "pay",
            CommandName::Confirm => "confirm",
            CommandName::Cancel => "cancel",
            CommandName::Request => "request",
            CommandName::Approve => "approve",
            CommandName::Decline => "decline",
            CommandName::Split => "split",
            CommandName::History => "history",
            CommandName::Bills => "bills",
            CommandName::Link => "link",
            CommandName::Unlink => "unlink",
            CommandName::Card => "card",
            CommandName::Cards => "cards",
            CommandName::TopUp => "topup",
            CommandName::CashOut => "cashout",
            CommandName::SecondFactor => "2fa",
            CommandName::TimeZone => "tz",
            CommandName::Scheduled => "scheduled",
            CommandName::Autopay => "autopay",
            CommandName::Expense => "expense",
            CommandName::Tab => "tab",
            CommandName::Settle => "settle",
            CommandName::Requests => "requests",
            CommandName::Remind => "remind",
            CommandName::Undo => "undo",
        }
    }

    /// A command by its word or alias, any case, with or without the `/`:
    /// `pay`, `/PAY`, `send`.
    pub fn from_word(word: &str) -> Option<CommandName> {
        let word = word.strip_prefix('/').unwrap_or(word);
        if word.eq_ignore_ascii_case("send") {
            return Some(CommandName::Pay);
        }
        CommandName::ALL
            .into_iter()
            .find(|name| name.as_str().eq_ignore_ascii_case(word))
    }

    /// The usage line.
    pub fn usage(self) -> &'static str {
        match self {
            CommandName::Start => "/start",
            CommandName::Help => "/help [COMMAND]",
            CommandName::Balance => "/balance",
            CommandName::Limits => "/limits",
            CommandName::Pay => "/pay @handle AMOUNT [CURRENCY] [every PERIOD] [for MEMO]",
            CommandName::Confirm => "/confirm CODE [AUTHCODE]",
            CommandName::Cancel => "/cancel [REF]",
            CommandName::Request => "/request @handle AMOUNT [CURRENCY] [every ...] [for MEMO]",
            CommandName::Approve => "/approve REF",
            CommandName::Decline => "/decline REF",
            CommandName::Split => {
                "/split TOTAL [CURRENCY] @handle[:AMOUNT]... [for MEMO] or /split status [REF]"
            }
            CommandName::History => "/history [N | export]",
            CommandName::Bills => "/bills",
            CommandName::Link => "/link [CODE | confirm | cancel]",
            CommandName::Unlink => "/unlink [confirm]",
            CommandName::Card => "/card add NUMBER MM/YY or /card remove N",
            CommandName::Cards => "/cards",
            CommandName::TopUp => "/topup AMOUNT [card N]",
            CommandName::CashOut => "/cashout AMOUNT [card N]",
            CommandName::SecondFactor => "/2fa [setup | confirm AUTHCODE | off AUTHCODE]",
            CommandName::TimeZone => "/tz [ZONE]",
            CommandName::Scheduled => "/scheduled [pause | resume | skip | cancel REF]",
            CommandName::Autopay => {
                "/autopay [@biller | REF] up to AMOUNT, /autopay off @biller | REF"
            }
            CommandName::Expense => {
                "/expense TOTAL [@a @b | @a:20 | @a:2 shares | @a:50%] [paid by @a] [every ...] [for MEMO]"
            }
            CommandName::Tab => "/tab [@handle | history | export]",
            CommandName::Settle => {
                "/settle [@handle [AMOUNT] [cash]] or /settle confirm | reject | cancel REF"
            }
            CommandName::Requests => "/requests",
            CommandName::Remind => "/remind REF",
            CommandName::Undo => "/undo [REF]",
        }
    }

    /// One real example; it parses.
    pub fn example(self) -> &'static str {
        match self {
            CommandName::Start => "/start",
            CommandName::Help => "/help pay",
            CommandName::Balance => "/balance",
            CommandName::Limits => "/limits",
            CommandName::Pay => "/pay @bob 20 for pizza",
            CommandName::Confirm => "/confirm 493817",
            CommandName::Cancel => "/cancel P7K2QX",
            CommandName::Request => "/request @alice 15 for tickets",
            CommandName::Approve => "/approve R3D8KM",
            CommandName::Decline => "/decline R3D8KM",
            CommandName::Split => "/split 60 @bob @carol:25 for dinner",
            CommandName::History => "/history 10",
            CommandName::Bills => "/bills",
            CommandName::Link => "/link HX4N9TQW",
            CommandName::Unlink => "/unlink",
            CommandName::Card => "/card remove 2",
            CommandName::Cards => "/cards",
            CommandName::TopUp => "/topup 20",
            CommandName::CashOut => "/cashout 15 card 2",
            CommandName::SecondFactor => "/2fa setup",
            CommandName::TimeZone => "/tz Europe/Paris",
            CommandName::Scheduled => "/scheduled pause S7K2QX",
            CommandName::Autopay => "/autopay @power up to 80",
            CommandName::Expense => "/expense 60 @bob @carol for dinner",
            CommandName::Tab => "/tab @bob",
            CommandName::Settle => "/settle @alice 20",
            CommandName::Requests => "/requests",
            CommandName::Remind => "/remind R3D8KM",
            CommandName::Undo => "/undo P7K2QX",
        }
    }

    /// Further examples `/help COMMAND` shows after [`CommandName::example`],
    /// each with what it does: what the one example cannot show. Each
    /// parses.
    pub fn more_examples(self) -> &'static [(&'static str, &'static str)] {
        match self {
            CommandName::Pay => &[
                (
                    "/pay @bob @carol 5 each for lunch",
                    "several people at once: one code, one confirmation, all paid or none",
                ),
                (
                    "/pay @bob 5 @carol 7.50",
                    "a different amount each (at most 8 people)",
                ),
                (
                    "/pay @landlord 500 every month on the 1st for rent",
                    "a standing order: confirmed once, then paid on schedule; see /scheduled",
                ),
                (
                    "/pay @bob 10 every week on friday times 4",
                    "also every day, every 2 weeks, until 2026-12-31",
                ),
            ],
            CommandName::Settle => &[
                (
                    "/settle",
                    "pay your whole part of the tab, everyone you owe at once, confirmed with one code sent to you privately",
                ),
                (
                    "/settle @alice 20 cash",
                    "you paid @alice outside paybot: it counts once she confirms",
                ),
                (
                    "/settle confirm T7K2QX",
                    "as the one paid in cash: yes, I got it (or /settle reject T7K2QX)",
                ),
                (
                    "/settle cancel T7K2QX",
                    "withdraw your cash settlement while it is unanswered",
                ),
            ],
            CommandName::Expense => &[
                (
                    "/expense edit E7K2QX 80 for dinner and wine",
                    "a new total for your expense, shared in the same proportions",
                ),
                (
                    "/expense 60 for dinner: @bob 18 pizza, @carol @dave 10 wine, rest",
                    "itemised: each item to its people, the rest (tax, tip) shared by everyone",
                ),
                (
                    "/expense 1200 split @a @b every month for rent",
                    "added to the tab every month; /expense recurring lists them, /expense stop G7K2QX ends one",
                ),
            ],
            CommandName::Tab => &[(
                "/tab export",
                "the expenses and settlements as a CSV file, sent to you privately",
            )],
            CommandName::History => &[(
                "/history export",
                "all of it as a CSV file (date, direction, counterparty, amount, currency, memo, state, reference), sent privately",
            )],
            _ => &[],
        }
    }

    /// More on the command for `/help COMMAND`, where its usage line
    /// cannot say it all.
    pub fn details(self) -> Option<&'static str> {
        match self {
            CommandName::Expense => Some(
                "Adds an expense to this group's tab; no money moves. Without names it is shared equally by everyone who has written here; `paid by @a:30 @b:30` for several payers. /expense undo REF takes it off (its author, within a day); /expense edit REF TOTAL [for MEMO] changes its total, same people, same proportions. /tab shows who owes whom.",
            ),
            CommandName::Undo => Some(
                "Takes back a payment you confirmed a few minutes ago (5 by default), if their balance still covers it (a balance check: money they received since counts): it goes back to you and they are told. Without a reference, the payment you confirmed last; a payment to several people is taken back from all of them or none. Money held for someone who has not joined yet is taken back with /cancel REF; paying a request cannot be undone (ask them to send it back).",
            ),
            CommandName::Tab => Some(
                "Who owes whom in this group, per currency, simplified to the fewest transfers; /tab @bob for one person's part, /tab history for the last expenses, /tab export for a CSV of everything, sent to you privately. /settle pays your part.",
            ),
            CommandName::Settle => Some(
                "Settles the group's tab with real money. /settle: if you owe, you are sent one code privately that pays everyone you owe (one currency at a time; /settle @alice pays just @alice); if you do not, everyone who owes is asked privately (each at most once an hour). /settle @alice 20 pays @alice 20 toward the tab (never more than you owe her). /settle @alice 20 cash records a payment made outside paybot; it counts once @alice confirms.",
            ),
            CommandName::Requests => Some(
                "Lists, privately, the requests you were asked to pay and those you made: open ones first, then the most recent, each with its reference, amount, who and when. A request expires if nobody answers it in time (both of you are told); invoices and recurring requests have their own dates.",
            ),
            CommandName::Remind => Some(
                "Sends one of your open requests to its payer again, privately: at most 3 times per request, and at most once an hour. /requests shows your requests and their references.",
            ),
            CommandName::History => Some(
                "Your payments, newest first, sent privately, each with its date (in your time zone if you set one with /tz, else UTC). A payment the other side never saw (cancelled before its code was used) is not in their history. /history export sends them all as a CSV file.",
            ),
            _ => None,
        }
    }

    /// A one-line description for command menus, at most 60 characters.
    pub fn summary(self) -> &'static str {
        match self {
            CommandName::Start => "What paybot does and how to begin",
            CommandName::Help => "How to use a command",
            CommandName::Balance => "Your balance, sent to you privately",
            CommandName::Limits => "What you can still send, receive and hold, privately",
            CommandName::Pay => "Pay someone: name an @handle or reply to them",
            CommandName::Confirm => "Confirm a payment with the code sent to you",
            CommandName::Cancel => "Cancel a payment that is not confirmed yet",
            CommandName::Request => "Ask someone to pay you",
            CommandName::Approve => "Pay a request someone sent you",
            CommandName::Decline => "Turn down a request someone sent you",
            CommandName::Split => "Split a bill between several people",
            CommandName::History => "Your recent payments, sent to you privately",
            CommandName::Bills => "Invoices and requests waiting for you",
            CommandName::Link => "Use one wallet from several chat accounts",
            CommandName::Unlink => "Stop sharing a wallet: this account gets its own",
            CommandName::Card => "Link or remove a card (in a private chat only)",
            CommandName::Cards => "Your linked cards, privately",
            CommandName::TopUp => "Add money to your wallet from a linked card",
            CommandName::CashOut => "Send money from your wallet to a linked card",
            CommandName::SecondFactor => "Protect your wallet with an authenticator app",
            CommandName::TimeZone => "Your time zone, for standing orders",
            CommandName::Scheduled => "Your standing orders (/pay ... every month)",
            CommandName::Autopay => "Pay invoices or a recurring request by themselves",
            CommandName::Expense => "Add an expense to the group's tab (no money moves)",
            CommandName::Tab => "Who owes whom in this group, simplified",
            CommandName::Settle => "Pay your part of the group's tab",
            CommandName::Requests => "Requests you were asked and made, privately",
            CommandName::Remind => "Remind someone of a request you sent them",
            CommandName::Undo => "Take back a payment you just confirmed",
        }
    }
}

impl fmt::Display for CommandName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "/{}", self.as_str())
    }
}
