//! The command grammar: the text of one chat message in, a [`Command`] out.
//!
//! [`parse`] is one pure function (no I/O, no clock, no store). It returns
//! `Ok(None)` for text that is not a command for this bot (in a group it
//! gets no reply; in a direct chat, a pointer to `/help`),
//! `Ok(Some(command))`, or a [`UsageError`] whose `Display` is one short line
//! for the chat user: what is wrong, the usage line and one real example.
//!
//! The design decision to know: everything that must be valid is parsed here
//! into its own type (an [`Amount`], a [`Handle`], an [`OtpCode`], a
//! [`ShortRef`], a [`Memo`], ...), so the core never handles raw text. What
//! needs the store (does `@bob` exist, does `P7K2QX` belong to the sender) is
//! left to the core.
//!
//! The grammar, in short (words are separated by any whitespace; the command
//! name is case-insensitive and may carry this bot's `@username`):
//!
//! ```text
//! /start [PAYLOAD]            /help [COMMAND]          /balance    /limits
//! /pay TARGET AMOUNT [CURRENCY] [for MEMO]   (alias /send)
//! /pay AMOUNT [CURRENCY] [for MEMO]          (as a reply to the payee)
//! /pay TARGET TARGET... AMOUNT [CURRENCY] each [for MEMO]
//! /pay TARGET AMOUNT [CURRENCY] TARGET AMOUNT... [for MEMO]
//! /undo [REF]
//! /confirm CODE [AUTHCODE]    /cancel [REF]
//! /request TARGET AMOUNT [CURRENCY] [for MEMO]
//! /approve REF                /decline REF
//! /split TOTAL [CURRENCY] TARGET[:AMOUNT]... [for MEMO]
//! /split status [REF]         /history [N | export]
//! /requests                   /remind REF
//! /link [CODE | confirm | cancel]                    /unlink [confirm]
//! /card add NUMBER MM/YY      /card remove N           /cards   (alias /card list)
//! /topup AMOUNT [CURRENCY] [card N]                  /cashout AMOUNT [CURRENCY] [card N]
//! /2fa [setup | confirm AUTHCODE | off AUTHCODE]
//! /pay TARGET AMOUNT [CURRENCY] every ... [until DATE | times N] [for MEMO]
//! /request TARGET AMOUNT [CURRENCY] every ... [until DATE | times N] [for MEMO]
//! /tz [ZONE]                  /scheduled [pause | resume | skip | cancel REF]
//! /autopay [TARGET | REF] up to AMOUNT [CURRENCY]   /autopay off TARGET | REF   /autopay
//! /expense TOTAL [CURRENCY] [split TARGET... | TARGET:AMOUNT... | TARGET:N... shares | TARGET:P%...]
//!          [paid by TARGET[:AMOUNT]...] [for MEMO[: ITEM, ITEM..., rest [TARGET...]]]
//!          ITEM = TARGET... AMOUNT [WHAT]                 /expense undo REF
//! /expense TOTAL [CURRENCY] [SHARES] [paid by ...] every ... [until DATE | times N] [for MEMO]
//! /expense recurring          /expense stop REF
//! /tab [TARGET | history]
//! AUTHCODE = 6 digits from the authenticator app | a recovery code (`/confirm`, `/link confirm`, `/2fa off`)
//! TARGET = @handle | <@ID> | <@!ID>
//! ```

//!
//! The module's rooms: `grammar.rs` (the regexes and [`parse`]), `args.rs`
//! (the argument types), `help.rs` (the command names and their usage,
//! example and summary lines), `usage.rs` (what is wrong with a command, and
//! the one-line reply that says so), `recurring.rs` (`/autopay` and
//! `/scheduled`). Limits that belong to a domain live
//! with it ([`CARDS_PER_USER_MAX`] in `card`, [`HISTORY_ENTRIES_MAX`] in
//! `history`, [`SPLIT_MENTIONS_MAX`] in `split`) and are re-exported here.

use std::fmt;

use ledger::Amount;

use crate::card::{CardNumber, Expiry};
use crate::message::{Handle, PlatformUserId};
use crate::recurrence::{Recurrence, UserTimeZone};
use crate::trust::second_factor::{TotpCode, TotpOrRecovery};

mod args;
mod expense;
mod grammar;
mod help;
mod pay_many;
mod recurring;
mod usage;

pub use crate::card::CARDS_PER_USER_MAX;
pub use crate::history::HISTORY_ENTRIES_MAX;
pub use crate::split::SPLIT_MENTIONS_MAX;
pub use crate::tab::{EXPENSE_ITEMS_MAX, EXPENSE_PARTICIPANTS_MAX, EXPENSE_PAYERS_MAX, WEIGHT_MAX};
pub use args::{
    InvalidLinkCode, InvalidOtpCode, InvalidShortRef, InvalidStartPayload, LINK_CODE_ALPHABET,
    LINK_CODE_CHARS, LinkCode, MEMO_CHARS_MAX, MEMO_WITHHELD_TEXT, Memo, MemoError, OtpCode,
    SHORT_REF_CHARS_MAX, SHORT_REF_CHARS_MIN, START_PAYLOAD_BYTES_MAX, ShortRef, StartPayload,
};
pub use grammar::{
    BOT_USERNAME_BYTES_MAX, COMMAND_NAME_BYTES_MAX, COMMAND_TEXT_BYTES_MAX, MENTION_ID_BYTES_MAX,
    ParseContext, parse,
};
pub use help::CommandName;
pub use pay_many::PAY_PAYEES_MAX;
pub use usage::{USAGE_ERROR_CHARS_MAX, UsageError, UsageProblem};

// ---------------------------------------------------------------------------
// Commands.

/// Every command paybot understands. Built only by [`parse`] in practice;
/// every field is already valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `/start [PAYLOAD]`; the payload comes from a deep link.
    Start { payload: Option<StartPayload> },
    /// `/help [COMMAND]`.
    Help { topic: Option<CommandName> },
    /// `/balance`.
    Balance,
    /// `/limits`: the sender's limits, privately.
    Limits,
    /// `/pay TARGET AMOUNT ...`, or `/pay AMOUNT ...` as a reply to the payee
    /// (`payee: None`: the core takes the author of the replied-to message).
    Pay {
        payee: Option<Target>,
        amount: Amount,
        memo: Option<Memo>,
    },
    /// `/pay @bob @carol 5 each [for MEMO]` or `/pay @bob 5 @carol 7`: one
    /// payment to several people, confirmed with one code, all or nothing.
    ///
    /// Parsed guarantees: 2 to [`PAY_PAYEES_MAX`] legs, no payee twice,
    /// every amount in one currency.
    PayMany {
        legs: Vec<PayLeg>,
        memo: Option<Memo>,
    },
    /// `/undo [REF]`: take back a payment confirmed a moment ago (without a
    /// reference, the sender's latest).
    Undo { payment: Option<ShortRef> },
    /// `/confirm CODE [AUTHCODE]`: the code sent privately, and the
    /// second factor when the action needs it.
    Confirm {
        code: OtpCode,
        second_factor: Option<TotpOrRecovery>,
    },
    /// `/cancel [REF]`; without a reference, the sender's pending payment.
    Cancel { payment: Option<ShortRef> },
    /// `/request TARGET AMOUNT ...`: ask `payer` to pay the sender.
    Request {
        payer: Target,
        amount: Amount,
        memo: Option<Memo>,
    },
    /// `/approve REF`: pay a request.
    Approve { request: ShortRef },
    /// `/decline REF`: turn a request down.
    Decline { request: ShortRef },
    /// `/split TOTAL [CURRENCY] TARGET[:AMOUNT]... [for MEMO]`.
    ///
    /// Parsed guarantees: 1 to [`SPLIT_MENTIONS_MAX`] shares, no target
    /// twice, every exact share in the total's currency, exact shares adding
    /// up to at most the total, and to less than the total when some share
    /// is not exact.
    Split {
        total: Amount,
        shares: Vec<SplitShare>,
        memo: Option<Memo>,
    },
    /// `/split status [REF]`.
    SplitStatus { split: Option<ShortRef> },
    /// `/bills`: invoices and requests waiting for the user.
    Bills,
    /// `/history [N]`, N in `1..=HISTORY_ENTRIES_MAX`.
    History { limit: Option<u8> },
    /// `/link [CODE]`: without a code, make one for this wallet; with one,
    /// ask to confirm joining the wallet it belongs to.
    Link { code: Option<LinkCode> },
    /// `/link confirm [AUTHCODE]`: join the wallet of the code sent before.
    LinkConfirm {
        second_factor: Option<TotpOrRecovery>,
    },
    /// `/link cancel`: drop the link waiting for confirmation.
    LinkCancel,
    /// `/unlink [confirm]`: leave a shared wallet for a new, empty one;
    /// without `confirm`, only say what that would do.
    Unlink { confirm: bool },
    /// `/card add NUMBER MM/YY`. The expiry's shape is checked; whether it
    /// is in the future is the core's check (it has the clock).
    CardAdd { card: CardNumber, expiry: Expiry },
    /// `/card remove N`, N in `1..=CARDS_PER_USER_MAX` as `/cards` numbers
    /// them.
    CardRemove { index: u8 },
    /// `/cards` or `/card list`.
    Cards,
    /// `/topup AMOUNT [card N]`: card → wallet.
    TopUp { amount: Amount, card: Option<u8> },
    /// `/cashout AMOUNT [card N]`: wallet → card.
    CashOut { amount: Amount, card: Option<u8> },
    /// `/2fa`: whether the second factor is on.
    SecondFactorStatus,
    /// `/2fa setup`: enrol an authenticator app.
    SecondFactorSetup,
    /// `/2fa confirm AUTHCODE`: the first code, which turns it on.
    SecondFactorConfirm { code: TotpCode },
    /// `/2fa off AUTHCODE`: turn it off with a code or a recovery code.
    SecondFactorOff { code: TotpOrRecovery },
    /// `/pay TARGET AMOUNT [CURRENCY] every ... [for MEMO]`: a standing
    /// order, paid on `recurrence` until cancelled or its end.
    PayScheduled {
        payee: Target,
        amount: Amount,
        recurrence: Recurrence,
        memo: Option<Memo>,
    },
    /// `/request TARGET AMOUNT [CURRENCY] every ... [for MEMO]`: ask
    /// `payer` for money each period of `recurrence`.
    RequestScheduled {
        payer: Target,
        amount: Amount,
        recurrence: Recurrence,
        memo: Option<Memo>,
    },
    /// `/tz [ZONE]`: set the sender's time zone, or (`None`) show it.
    TimeZone { zone: Option<UserTimeZone> },
    /// `/scheduled [pause|resume|cancel REF]`: list the sender's standing
    /// orders, or change one.
    Scheduled {
        action: Option<(StandingAction, ShortRef)>,
    },
    /// `/autopay`, `/autopay TARGET up to AMOUNT`, `/autopay off TARGET`.
    Autopay { action: AutopayAction },
    /// `/expense TOTAL [CURRENCY] [SHARES] [paid by PAYERS] [for MEMO]`: an
    /// expense on the group's tab; no money moves.
    ///
    /// Parsed guarantees: no person twice among the shares nor among the
    /// payers, at most [`EXPENSE_PARTICIPANTS_MAX`] shares and
    /// [`EXPENSE_PAYERS_MAX`] payers, every amount in the total's currency.
    /// Whether the parts add up is the core's check (`tab`).
    Expense {
        total: Amount,
        shares: ExpenseShares,
        /// Empty: the sender paid it all.
        payers: Vec<ExpensePayer>,
        memo: Option<Memo>,
        /// `every month` (any schedule `/pay ... every` takes): added to
        /// the tab on each period instead of once.
        recurrence: Option<Recurrence>,
    },
    /// `/expense recurring`: the group's recurring expenses.
    ExpenseRecurring,
    /// `/expense stop REF`: end a recurring expense (its author).
    ExpenseStop { recurring: ShortRef },
    /// `/expense undo REF`: take an expense off the tab (its author, for a
    /// while after adding it).
    ExpenseUndo { expense: ShortRef },
    /// `/tab`, `/tab @bob`, `/tab history`, `/tab export`.
    Tab { view: TabView },
    /// `/settle [TARGET [AMOUNT [CURRENCY]] [cash]]`: pay one's part of the
    /// group's tab (all of it, or toward one creditor), or with `cash`
    /// record a payment made outside paybot, which counts once the creditor
    /// confirms it. Parsed guarantees: `cash` only with a creditor and an
    /// amount.
    Settle {
        creditor: Option<Target>,
        amount: Option<Amount>,
        cash: bool,
    },
    /// `/settle confirm REF` or `/settle reject REF`: the creditor's answer
    /// to a cash settlement.
    SettleAnswer { settlement: ShortRef, accept: bool },
    /// `/settle cancel REF`: the payer withdraws a cash settlement its
    /// creditor has not answered.
    SettleCancel { settlement: ShortRef },
    /// `/expense edit REF TOTAL [for MEMO]`: a new total (and memo) for an
    /// expense, shared and paid in the same proportions (its author, within
    /// the undo window).
    ExpenseEdit {
        expense: ShortRef,
        total: Amount,
        memo: Option<Memo>,
    },
    /// `/requests`: what the sender was asked and what they asked,
    /// privately.
    Requests,
    /// `/remind REF`: send an open request of the sender's to its payer
    /// again.
    Remind { request: ShortRef },
    /// `/history export`: the sender's history as a CSV file, privately.
    HistoryExport,
}

/// What `/autopay` does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AutopayAction {
    /// List the sender's autopays.
    List,
    /// Pay `biller`'s invoices (or a recurring request's) by themselves,
    /// up to `cap` a month.
    On { biller: AutopayFor, cap: Amount },
    /// Stop paying them by themselves.
    Off { biller: AutopayFor },
}

/// What an autopay pays: a biller's invoices, or the requests of one
/// recurring request (its reference, as its requests show it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AutopayFor {
    Biller(Target),
    Series(ShortRef),
}

impl fmt::Display for AutopayFor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AutopayFor::Biller(target) => write!(f, "{target}"),
            AutopayFor::Series(reference) => write!(f, "{reference}"),
        }
    }
}

/// Who shares an expense, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpenseShares {
    /// Nobody named: equally among the group's members who use paybot.
    Group,
    /// `split @a @b` (or just `@a @b`): equally among these.
    Among(Vec<Target>),
    /// `@a:20 @b`: exact amounts; those without one share the rest equally.
    Exact(Vec<(Target, Option<Amount>)>),
    /// `@a:2 @b:1 shares`: in proportion to the weights (1 to
    /// [`WEIGHT_MAX`]).
    Weights(Vec<(Target, u32)>),
    /// `@a:50% @b:50%`: percents in hundredths (`50%` is 5000, `12.5%` is
    /// 1250), each more than 0; adding up to 100% is the core's check.
    Percents(Vec<(Target, u32)>),
    /// `for dinner: @bob 18 pizza, @carol @dave 12 wine, rest`: each item
    /// charged to its people (equally among them), and what the items
    /// leave of the total (tax, tip) shared equally by `rest`. Parsed
    /// guarantees: 1 to [`EXPENSE_ITEMS_MAX`] items, each with 1 to
    /// [`EXPENSE_PARTICIPANTS_MAX`] people named once and an amount in the
    /// total's currency. Whether the items fit in the total is the core's
    /// check (`tab`).
    Itemised {
        items: Vec<ExpenseItem>,
        rest: ItemRest,
    },
}

/// One item of an itemised expense: `@bob @carol 12 wine`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpenseItem {
    pub targets: Vec<Target>,
    pub amount: Amount,
    /// What it was (`wine`), if said.
    pub memo: Option<Memo>,
}

/// Who shares what an itemised expense's items leave of its total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemRest {
    /// `rest` (or `rest shared`, or nothing said): the whole group, like
    /// `/expense 60`.
    Group,
    /// `rest @a @b` (or `split @a @b` before `for`): equally among these.
    Among(Vec<Target>),
}

/// One payer of an expense: `paid by @alice:30`; without an amount, the
/// payers without one paid the rest in equal parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpensePayer {
    pub target: Target,
    pub amount: Option<Amount>,
}

/// What `/tab` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TabView {
    /// Who owes whom, simplified.
    Simplified,
    /// One member's part of it.
    Member(Target),
    /// The recent expenses.
    History,
    /// The expenses and settlements as a CSV file, privately.
    Export,
}

/// What `/scheduled ACTION REF` does to a standing order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StandingAction {
    /// No runs until resumed.
    Pause,
    /// Runs again from the next period after now.
    Resume,
    /// Skips the next run only; with `due` (its local date, as the
    /// notice's button sends it), only if that run is still the next one, so
    /// a late or repeated tap skips nothing else.
    Skip { due: Option<jiff::civil::Date> },
    /// No more runs, ever.
    Cancel,
}

impl Command {
    /// The command as named in menus and usage lines.
    pub fn name(&self) -> CommandName {
        match self {
            Command::Start { .. } => CommandName::Start,
            Command::Help { .. } => CommandName::Help,
            Command::Balance => CommandName::Balance,
            Command::Limits => CommandName::Limits,
            Command::Pay { .. } | Command::PayMany { .. } => CommandName::Pay,
            Command::Undo { .. } => CommandName::Undo,
            Command::Confirm { .. } => CommandName::Confirm,
            Command::Cancel { .. } => CommandName::Cancel,
            Command::Request { .. } => CommandName::Request,
            Command::Approve { .. } => CommandName::Approve,
            Command::Decline { .. } => CommandName::Decline,
            Command::Split { .. } | Command::SplitStatus { .. } => CommandName::Split,
            Command::Bills => CommandName::Bills,
            Command::History { .. } => CommandName::History,
            Command::Link { .. } | Command::LinkConfirm { .. } | Command::LinkCancel => {
                CommandName::Link
            }
            Command::Unlink { .. } => CommandName::Unlink,
            Command::CardAdd { .. } | Command::CardRemove { .. } => CommandName::Card,
            Command::Cards => CommandName::Cards,
            Command::TopUp { .. } => CommandName::TopUp,
            Command::CashOut { .. } => CommandName::CashOut,
            Command::SecondFactorStatus
            | Command::SecondFactorSetup
            | Command::SecondFactorConfirm { .. }
            | Command::SecondFactorOff { .. } => CommandName::SecondFactor,
            Command::PayScheduled { .. } => CommandName::Pay,
            Command::RequestScheduled { .. } => CommandName::Request,
            Command::TimeZone { .. } => CommandName::TimeZone,
            Command::Scheduled { .. } => CommandName::Scheduled,
            Command::Autopay { .. } => CommandName::Autopay,
            Command::Expense { .. }
            | Command::ExpenseUndo { .. }
            | Command::ExpenseEdit { .. }
            | Command::ExpenseRecurring
            | Command::ExpenseStop { .. } => CommandName::Expense,
            Command::Tab { .. } => CommandName::Tab,
            Command::Settle { .. }
            | Command::SettleAnswer { .. }
            | Command::SettleCancel { .. } => CommandName::Settle,
            Command::Requests => CommandName::Requests,
            Command::Remind { .. } => CommandName::Remind,
            Command::HistoryExport => CommandName::History,
        }
    }
}

/// One person in a split, with an exact share or `None` for "an equal part
/// of the rest".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitShare {
    pub target: Target,
    pub amount: Option<Amount>,
}

/// One payee of a payment to several people, and what they get.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayLeg {
    pub payee: Target,
    pub amount: Amount,
}

/// A person named in a command.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// `@bob`, normalised; the core looks the handle up.
    Handle(Handle),
    /// `<@123>` or `<@!123>`: a mention by platform id (Discord; and users
    /// without a handle, whose mentions adapters rewrite to this form).
    Id(PlatformUserId),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Handle(handle) => write!(f, "{handle}"),
            Target::Id(id) => write!(f, "<@{id}>"),
        }
    }
}

#[cfg(test)]
mod tests;
