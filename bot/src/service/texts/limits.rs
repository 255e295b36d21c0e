//! Verification-tier limits: refusals and `/limits`.

use crate::trust::limits::LimitKind;

/// What a limit is about, as a user reads it ("payments you send in 24
/// hours").
pub(crate) fn limit_name(kind: LimitKind) -> &'static str {
    match kind {
        LimitKind::Sent24h => "payments you send in 24 hours",
        LimitKind::Sent7d => "payments you send in 7 days",
        LimitKind::Sent30d => "payments you send in 30 days",
        LimitKind::Received30d => "payments you receive in 30 days",
        LimitKind::Balance => "what your wallet can hold",
        LimitKind::CashOut24h => "cash-outs in 24 hours",
        LimitKind::TopUp24h => "top-ups in 24 hours",
        LimitKind::SinglePayment => "a single payment",
    }
}

/// The same limit, when it is someone else's (named without figures).
fn their_limit_name(kind: LimitKind) -> &'static str {
    match kind {
        LimitKind::Received30d => "what their wallet can receive in 30 days",
        LimitKind::Balance => "what their wallet can hold",
        _ => "a limit on their wallet",
    }
}

/// The user's own limit refused a movement. `frees` is
/// [`frees_from`]'s sentence or empty.
pub(crate) fn over_your_limit(
    kind: LimitKind,
    limit: &str,
    asked: &str,
    left: &str,
    frees: &str,
    tier: &str,
) -> String {
    let what = limit_name(kind);
    format!(
        "That would go over your limit on {what} ({limit} for {tier} wallets): you asked for {asked} and {left} is left.{frees} Nothing was moved. /limits shows all your limits."
    )
}

/// A payment over the single-payment limit.
pub(crate) fn over_single_payment(limit: &str, asked: &str, tier: &str) -> String {
    format!(
        "One payment can be at most {limit} for {tier} wallets, and this one is {asked}. Nothing was moved. /limits shows all your limits."
    )
}

/// " More becomes available from 14:05 UTC on 2026-01-02."
pub(crate) fn frees_from(at: &str) -> String {
    format!(" More becomes available from {at}.")
}

/// The payee's limit refused a payment: no figures of theirs are shown.
pub(crate) fn over_their_limit(payee: &str, kind: LimitKind, asked: &str) -> String {
    let what = their_limit_name(kind);
    format!(
        "{payee} can't receive {asked} right now: it would go over their limit on {what}. Nothing was sent."
    )
}

/// The user's tier has no limits for this currency: it is not offered.
pub(crate) fn currency_not_offered(currency: &str, tier: &str) -> String {
    format!(
        "Wallets at your verification level ({tier}) can't use {currency} here yet. Nothing was moved. /limits shows what you can use."
    )
}

/// The payee's tier has no limits for this currency.
pub(crate) fn payee_currency_not_offered(payee: &str, currency: &str) -> String {
    format!("{payee} can't receive {currency} here yet. Nothing was sent.")
}

/// The heading of `/limits`.
pub(crate) fn heading(tier: &str) -> String {
    format!("Your limits ({tier} wallet):")
}

/// One currency's heading in `/limits`.
pub(crate) fn currency_heading(currency: &str) -> String {
    format!("{currency}:")
}

/// One limit in `/limits`; `frees` is [`frees_line`] or empty.
pub(crate) fn limit_line(kind: LimitKind, limit: &str, left: &str, frees: &str) -> String {
    let what = limit_name(kind);
    match kind {
        LimitKind::SinglePayment => format!("\u{2022} {what}: up to {limit}"),
        _ => format!("\u{2022} {what}: {left} left of {limit}{frees}"),
    }
}

/// Appended to a `/limits` line with usage that frees up.
pub(crate) fn frees_line(at: &str) -> String {
    format!(", more from {at}")
}

/// `/limits` for a currency with no table.
pub(crate) fn currency_not_offered_line(currency: &str) -> String {
    format!("{currency}: not available for your wallet")
}
