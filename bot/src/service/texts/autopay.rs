//! What autopay (`/autopay`, and the scheduler's notices about the
//! invoices it pays) says.

pub(crate) fn not_known(biller: &str) -> String {
    format!("I don't know {biller}. Autopay is for a biller whose invoices you get from me.")
}

pub(crate) fn not_a_biller(biller: &str) -> String {
    format!(
        "{biller} is not a biller, so it sends no invoices to pay. For payments on a schedule, use /pay @handle AMOUNT every month."
    )
}

pub(crate) fn too_many(max: usize) -> String {
    format!(
        "You have {max} autopays (or autopays waiting for a code), the most I keep. Turn one off with /autopay off @biller first."
    )
}

pub(crate) const NOT_FOR_REVIEW: &str = "I can't set up that autopay: its payments would need a review first. Pay each invoice with /approve instead.";

pub(crate) fn code_to_confirm(biller: &str, cap: &str, code: &str, code_ttl: &str) -> String {
    format!(
        "To pay {biller}'s invoices by themselves on their due date, up to {cap} a month, send me: /confirm {code}\n\
         The code works once and expires in {code_ttl}. Never type it in a group.\n\
         Changed your mind? Just let the code expire."
    )
}

pub(crate) fn code_to_confirm_redacted(biller: &str, cap: &str) -> String {
    format!(
        "To pay {biller}'s invoices by themselves, up to {cap} a month, send me: /confirm (the code I sent you)"
    )
}

pub(crate) fn active(reference: &str, biller: &str, cap: &str, notice: &str) -> String {
    format!(
        "Autopay {reference} is on: I'll pay each new invoice from {biller} on its due date while this month's autopaid invoices stay within {cap}. I'll tell you {notice} before each one. Stop it with /autopay off {biller}."
    )
}

pub(crate) fn active_series(reference: &str, series: &str, requester: &str, cap: &str) -> String {
    format!(
        "Autopay {reference} is on: I'll pay each request of {series} from {requester} when it comes, while this month's autopaid ones stay within {cap}. Stop it with /autopay off {series}."
    )
}

/// `/autopay off REF` of a recurring request that has ended (`state`:
/// `cancelled`, `finished`); `was_on`: an autopay for it was on and is now
/// off.
pub(crate) fn series_ended(reference: &str, state: &str, was_on: bool) -> String {
    if was_on {
        format!(
            "Recurring request {reference} is {state}: it asks you for nothing more. Your autopay for it is off now."
        )
    } else {
        format!(
            "Recurring request {reference} is {state}: it asks you for nothing more, and no autopay of yours is on for it."
        )
    }
}

/// An autopay set-up whose code nobody confirmed in time.
pub(crate) fn code_ran_out(reference: &str, biller: &str, cap: &str) -> String {
    format!(
        "Autopay {reference} for {biller} (up to {cap} a month) was not confirmed in time, so it is not on; nothing will be paid by it. Send /autopay again if you still want it."
    )
}

pub(crate) fn no_such_series(reference: &str) -> String {
    format!("{reference} is not a recurring request that asks you for money.")
}

pub(crate) fn paid_payee(payer: &str, amount: &str, memo: &str) -> String {
    format!("{payer} paid you {amount}{memo} (autopay).")
}

pub(crate) fn replaced(biller: &str, old_cap: &str) -> String {
    format!("(Your earlier autopay for {biller}, up to {old_cap} a month, is replaced.)")
}

pub(crate) fn code_expired(reference: &str) -> String {
    format!(
        "That code expired, so autopay {reference} was not turned on. Send /autopay again for a new one."
    )
}

pub(crate) fn locked_out(reference: &str) -> String {
    format!("Too many wrong codes: autopay {reference} was not turned on.")
}

pub(crate) fn wrong_code(reference: &str, tries: &str) -> String {
    format!("Wrong code for autopay {reference}: {tries} left.")
}

pub(crate) fn leaked(reference: &str) -> String {
    format!(
        "You typed the code for autopay {reference} where others can see it, so it was not turned on. Send /autopay again in this private chat."
    )
}

pub(crate) fn cannot_confirm(reference: &str) -> String {
    format!("Autopay {reference} changed meanwhile; send /autopay again.")
}

pub(crate) fn off(biller: &str) -> String {
    format!(
        "Autopay for {biller} is off. Its invoices wait for you now (/bills); ones I told you I'd pay wait too."
    )
}

pub(crate) fn none_for(biller: &str) -> String {
    format!("You have no autopay for {biller}.")
}

pub(crate) const NONE: &str =
    "You have no autopays. Turn one on with /autopay @biller up to AMOUNT.";

pub(crate) const LIST_HEAD: &str = "Your autopays:";

pub(crate) fn list_line(reference: &str, biller: &str, cap: &str, waiting: bool) -> String {
    if waiting {
        format!("{reference} {biller}: up to {cap} a month (waiting for its code)")
    } else {
        format!("{reference} {biller}: up to {cap} a month")
    }
}

pub(crate) const LIST_FOOT: &str = "Turn one off with /autopay off @biller.";

pub(crate) fn on_invoice(cap: &str, pay_at: &str) -> String {
    format!("Autopay is on for these (up to {cap} a month): I'll pay it on {pay_at} if it fits.")
}

pub(crate) fn coming_up(request: &str, biller: &str, amount: &str, pay_at: &str) -> String {
    format!(
        "Autopay: I'll pay invoice {request} from {biller}, {amount}, on {pay_at}. To stop it, /decline {request} or /autopay off {biller}."
    )
}

pub(crate) fn paid_payer(request: &str, biller: &str, amount: &str) -> String {
    format!("Autopay paid {request}: {amount} to {biller}.")
}

pub(crate) fn above_cap(request: &str, amount: &str, cap: &str, biller: &str) -> String {
    format!(
        "Invoice {request} ({amount}) is above your autopay cap of {cap} for {biller}, so I did not pay it. Pay it yourself with /approve {request}."
    )
}

pub(crate) fn turned_off(request: &str, amount: &str, biller: &str) -> String {
    format!(
        "Your autopay for {biller} is off, so I did not pay invoice {request} ({amount}); it waits for you. Pay it yourself with /approve {request}."
    )
}

pub(crate) fn other_currency(request: &str, amount: &str, cap: &str, biller: &str) -> String {
    format!(
        "Invoice {request} is in another currency ({amount}) than your autopay cap of {cap} for {biller}, so I did not pay it. Pay it yourself with /approve {request}."
    )
}

pub(crate) fn refused(request: &str, amount: &str, biller: &str, why: &str) -> String {
    format!(
        "Autopay did not pay invoice {request} ({amount} to {biller}): {why} It waits for you: /approve {request}."
    )
}

pub(crate) fn short_will_retry(request: &str, amount: &str, biller: &str, retry: &str) -> String {
    format!(
        "Autopay: not enough money to pay invoice {request} ({amount} to {biller}). I'll try again {retry}; top up before then."
    )
}

pub(crate) fn short_gave_up(request: &str, amount: &str, biller: &str) -> String {
    format!(
        "Autopay: still not enough money, so I did not pay invoice {request} ({amount} to {biller}). It waits for you: /approve {request}."
    )
}

pub(crate) const HELD_FOR_REVIEW: &str = "it would need a review first.";
pub(crate) const SECOND_FACTOR_AT_RUN: &str =
    "it now needs your authenticator app, which autopay cannot ask for.";
pub(crate) const COULD_NOT: &str = "I could not make the payment.";
pub(crate) const MOVED: &str = "the account that set up autopay no longer uses this wallet.";

pub(crate) fn bills_line(reference: &str, biller: &str, cap: &str) -> String {
    format!("Autopay {reference}: {biller}, up to {cap} a month")
}
