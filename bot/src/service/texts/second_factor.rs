//! `/2fa` and the second factor asked for by payments, cash-outs, card
//! adds and `/link confirm`. Nothing secret is ever said in a group: every
//! text here with a code or a secret goes by DM only.

use crate::limits::utc_minute_text;

/// `/2fa ...` typed in a group.
pub(crate) const IN_PRIVATE_ONLY: &str = "Set up and manage your authenticator app in a private chat with me: send /2fa there. Nothing about it is shown in a group.";

/// `/2fa` with no second factor.
pub(crate) const STATUS_OFF: &str = "Your authenticator app is not set up. Send /2fa setup to protect your wallet: big payments, cash-outs, new cards and /link then also need a code from the app.";

/// `/2fa` with a setup waiting for its first code.
pub(crate) const STATUS_PENDING: &str = "Your authenticator app is set up but not turned on yet: send /2fa confirm CODE with the 6-digit code the app shows. Lost the setup message? Send /2fa setup again.";

/// `/2fa` when it is on.
pub(crate) fn status_on(since_ms: i64, recovery_left: u32) -> String {
    format!(
        "Your authenticator app is on (since {}). You have {recovery_left} unused recovery code{}. Big payments, cash-outs, new cards and /link ask for a code from the app: add it after the confirmation code, like /confirm 123456 654321. To turn it off: /2fa off CODE.",
        utc_minute_text(since_ms),
        if recovery_left == 1 { "" } else { "s" }
    )
}

/// `/2fa setup` when it is already on.
pub(crate) const ALREADY_ON: &str = "Your authenticator app is already on. To move it to a new app, turn it off first with /2fa off CODE, then /2fa setup again.";

/// What `/2fa setup` sends: the URI, the secret to type, and how to finish.
pub(crate) fn setup(uri: &str, grouped_secret: &str, with_picture: bool, ttl: &str) -> String {
    let scan = if with_picture {
        "Scan the QR code with your authenticator app (Google Authenticator, Authy, 1Password, ...), or open this link on your phone:"
    } else {
        "Open this link on your phone with your authenticator app (Google Authenticator, Authy, 1Password, ...):"
    };
    format!(
        "{scan}\n{uri}\n\nOr type this key into the app (time-based, 6 digits):\n{grouped_secret}\n\nThen send /2fa confirm CODE with the 6-digit code the app shows, within {ttl}. Keep this key to yourself: anyone with it can make your codes. Delete this message once the app has it."
    )
}

/// The setup message as kept (a redelivery gets this).
pub(crate) const SETUP_REDACTED: &str = "I sent you a key for your authenticator app (not repeated here). Send /2fa setup again for a new one.";

/// The picture's description.
pub(crate) const QR_ALT: &str = "QR code";

/// `/2fa confirm` with nothing set up.
pub(crate) const NOTHING_TO_CONFIRM: &str =
    "There is no authenticator setup waiting for a code. Send /2fa setup to start.";

/// `/2fa confirm` after the setup ran out.
pub(crate) fn setup_expired(ttl: &str) -> String {
    format!(
        "That setup ran out (a setup waits {ttl} for its first code). Send /2fa setup for a new key, and remove the old paybot entry from your app."
    )
}

/// The first code was right: it is on, and the recovery codes, once.
pub(crate) fn enabled(recovery_codes: &[String]) -> String {
    format!(
        "Your authenticator app is on. From now on, big payments, cash-outs, new cards and /link also need a code from the app: add it after the confirmation code, like /confirm 123456 654321.\n\nYour recovery codes, each usable once instead of an app code if you lose your phone. Keep them somewhere safe; I will not show them again:\n{}",
        recovery_codes.join("\n")
    )
}

/// The enabled message as kept.
pub(crate) const ENABLED_REDACTED: &str =
    "Your authenticator app is on. (Your recovery codes were shown once and are not repeated.)";

/// The setup changed while the code was checked (a second setup).
pub(crate) const SETUP_CHANGED: &str =
    "Your setup changed meanwhile. Send /2fa to see where it is.";

/// A wrong code at `/2fa confirm`.
pub(crate) fn wrong_setup_code(max: u32, window: &str) -> String {
    format!(
        "That is not the code your app shows for this key. Check that the phone's clock is right and try again with the newest code. After {max} wrong codes within {window}, codes are refused for a while."
    )
}

/// A wrong code or recovery code (confirmations, `/2fa off`).
pub(crate) fn wrong_code(max: u32, window: &str) -> String {
    format!(
        "That authenticator code is not right (or was used already: each code works once). Wait for the next code and try again. After {max} wrong codes within {window}, codes are refused for a while. Nothing was done."
    )
}

/// Too many wrong codes.
pub(crate) fn locked(until_ms: i64) -> String {
    format!(
        "Too many wrong authenticator codes. For your safety, codes are refused until {}. Nothing was done; try again then.",
        utc_minute_text(until_ms)
    )
}

/// `/2fa off` with nothing set up.
pub(crate) const NOTHING_TO_TURN_OFF: &str =
    "Your authenticator app is not set up, so there is nothing to turn off.";

/// `/2fa off` with only a setup waiting: it is dropped.
pub(crate) const SETUP_DROPPED: &str = "The authenticator setup waiting for its first code is cancelled. Remove the paybot entry from your app.";

/// `/2fa off` done.
pub(crate) const TURNED_OFF: &str = "Your authenticator app is off, and your recovery codes no longer work. Remove the paybot entry from the app. Send /2fa setup to turn it on again.";

/// Appended when a recovery code was used.
pub(crate) fn recovery_used(left: u32) -> String {
    format!(
        "You used a recovery code; it will not work again. {left} left. If you lost your phone, turn the app off with a recovery code and set it up again on the new one."
    )
}

/// The action needs the app's code and none (or a wrong shape) came.
pub(crate) fn code_needed(what: &str, example: &str) -> String {
    format!(
        "{what} also needs the code from your authenticator app. Send it after the confirmation code: {example}. Your confirmation code still works until it expires."
    )
}

/// What the action is, for [`code_needed`] and [`enrol_first`].
pub(crate) fn payment_what(amount: &str) -> String {
    format!("A payment of {amount}")
}

pub(crate) fn cashout_what(amount: &str) -> String {
    format!("A cash-out of {amount}")
}

pub(crate) const CARD_ADD_WHAT: &str = "Adding a card";

pub(crate) const LINK_WHAT: &str = "Linking chat accounts";

pub(crate) const CONFIRM_EXAMPLE: &str = "/confirm CODE AUTHCODE";

pub(crate) const LINK_CONFIRM_EXAMPLE: &str = "/link confirm AUTHCODE";

/// A user without a second factor, above the amount allowed without one.
pub(crate) fn enrol_first(what: &str, above: &str) -> String {
    format!(
        "{what} is more than {above}, the most you can move without an authenticator app. Nothing was reserved or sent. Set one up in a private chat with me: send /2fa setup (it takes a minute), then try again."
    )
}

/// A rule asked for the second factor and the user has none.
pub(crate) fn enrol_for_rule(what: &str) -> String {
    format!(
        "{what} needs a code from an authenticator app this time, and you have not set one up. Nothing was sent. Send /2fa setup in a private chat with me, then try again."
    )
}

/// The wrong-code window, in words.
pub(crate) fn window_text(secs: u32) -> String {
    super::minutes(secs)
}
