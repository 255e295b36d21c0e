//! The chat core's sections: `[bot]`, `[otp]`, `[escrow]`, `[mock]`,
//! `[cards]` and `[limits]`, each value parsed into its type as it is read.
//!
//! The one decision to know: money settings are never floats. A percentage
//! is read as decimal text into basis points, and an environment variable
//! `1.5` (which arrives as a float) is read back from its shortest
//! round-trip text, exactly.

use std::path::PathBuf;

use paybot_cards::{
    AcceptorCountry, Acquirer, AcquirerCountryCode, AcquirerParts, AcquiringBin, ApiKey,
    CardAcceptorName, IdCode, TerminalId,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer};
use url::Url;

use super::bounds::{
    CashSettleTtl, CommandsBurst, CommandsPerMinute, EscrowTtl, LateGrace, NoticeBefore,
    OtpAttempts, OtpTtl, RequestTtl, RequestsPerHour, SweepInterval, UndoWindow, within,
};

/// `[bot]`: the chat core.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BotSettings {
    /// The currency of amounts typed without one.
    pub default_currency: CurrencySetting,
    /// How often expired codes and unclaimed escrow are ended, in ms.
    #[serde(deserialize_with = "within::<_, SweepInterval>")]
    pub sweep_interval_ms: u64,
    /// How long a request (`/request`, a share of a `/split`) stays open
    /// before it expires, both sides told, in seconds.
    #[serde(deserialize_with = "within::<_, RequestTtl>")]
    pub request_ttl_secs: u32,
    /// How long after a payment is confirmed its payer may `/undo` it, in
    /// seconds (0: never).
    #[serde(deserialize_with = "within::<_, UndoWindow>")]
    pub undo_window_secs: u32,
    /// How long a cash settlement on a group's tab waits for its payee's
    /// answer before it expires, both sides told, in seconds.
    #[serde(deserialize_with = "within::<_, CashSettleTtl>")]
    pub cash_settle_ttl_secs: u32,
}

/// `[otp]`: one-time confirmation codes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtpSettings {
    #[serde(deserialize_with = "within::<_, OtpTtl>")]
    pub ttl_secs: u32,
    #[serde(deserialize_with = "within::<_, OtpAttempts>")]
    pub attempts_max: u8,
    /// The key codes are hashed with (32 to 64 bytes of text). Secret. When
    /// unset, `pepper_file` holds it (generated on first run).
    #[serde(default, deserialize_with = "secret_key")]
    pub pepper: Option<SecretString>,
    pub pepper_file: PathBuf,
}

/// `[escrow]`: payments to handles nobody has claimed yet.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscrowSettings {
    #[serde(deserialize_with = "within::<_, EscrowTtl>")]
    pub ttl_secs: u32,
}

/// `[scheduled]`: standing orders (`/pay @bob 20 every month`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduledSettings {
    /// The time zone of a user who never set one with `/tz`.
    pub default_time_zone: TimeZoneSetting,
    /// The local time of day runs are due at (`"09:00"`).
    pub run_at: TimeOfDaySetting,
    /// How late a run may still be made after paybot was down at its
    /// time; later, it is skipped and both sides told.
    #[serde(deserialize_with = "within::<_, LateGrace>")]
    pub late_grace_secs: u32,
    /// How long before each run the payer is told of it (0: not told).
    #[serde(deserialize_with = "within::<_, NoticeBefore>")]
    pub notice_before_secs: u32,
}

/// An IANA time zone (`"Europe/Paris"`), checked against the bundled
/// database.
#[derive(Debug, Clone)]
pub struct TimeZoneSetting(pub bot::recurrence::UserTimeZone);

impl<'de> Deserialize<'de> for TimeZoneSetting {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        bot::recurrence::UserTimeZone::parse(&name)
            .map(TimeZoneSetting)
            .map_err(serde::de::Error::custom)
    }
}

/// A time of day, `HH:MM` on a 24-hour clock.
#[derive(Debug, Clone, Copy)]
pub struct TimeOfDaySetting(pub jiff::civil::Time);

impl<'de> Deserialize<'de> for TimeOfDaySetting {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let refuse =
            || serde::de::Error::custom("not a time of day: write it as HH:MM, e.g. 09:00");
        let (hour, minute) = text.split_once(':').ok_or_else(refuse)?;
        let digits = |s: &str| s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(hour) || !digits(minute) {
            return Err(refuse());
        }
        let hour: i8 = hour.parse().map_err(|_| refuse())?;
        let minute: i8 = minute.parse().map_err(|_| refuse())?;
        jiff::civil::Time::new(hour, minute, 0, 0)
            .map(TimeOfDaySetting)
            .map_err(|_| refuse())
    }
}

/// `[mock]`: the developer's chat.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MockSettings {
    /// Serve the mock chat (`/mock/*`, `paybot chat`). Unset: on in
    /// development, off in production. See
    /// [`crate::deployment::Deployment`].
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Play money for each mock user's first `/start`.
    pub opening_balance: AmountSetting,
}

/// `[limits]`: how fast one person can make the bot work and reach others.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSettings {
    /// Commands one chat account may send at once.
    #[serde(deserialize_with = "within::<_, CommandsBurst>")]
    pub commands_burst_max: u32,
    /// Commands one chat account may send per minute, on average.
    #[serde(deserialize_with = "within::<_, CommandsPerMinute>")]
    pub commands_per_minute_max: u32,
    /// Requests (a `/request`, each share of a `/split`) one wallet may
    /// make in any hour.
    #[serde(deserialize_with = "within::<_, RequestsPerHour>")]
    pub requests_sent_per_hour_max: u32,
    /// Requests one wallet may receive, from everyone together, in any hour.
    #[serde(deserialize_with = "within::<_, RequestsPerHour>")]
    pub requests_received_per_hour_max: u32,
}

/// `[cards]`: linked cards, top-ups and cash-outs over the card rail. The
/// rail's own values are the card adapter's types, parsed as read.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardsSettings {
    /// Offer the card commands. Unset: on in development (with the
    /// simulator when there is no `rail_url`), and in production only with
    /// a `rail_url`. See [`crate::deployment::Deployment`].
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Where the rail is (Visa, or `paybot card-sim`). Unset: a simulator
    /// inside paybot, served at `/visadirect/...` and `/simulator/totals`.
    #[serde(default, deserialize_with = "paybot_cards::deserialize_rail_url")]
    pub rail_url: Option<Url>,
    /// The rail's API key. Secret (`PAYBOT_CARDS__API_KEY`). Required with
    /// `rail_url`; generated at start for the in-process simulator.
    #[serde(default)]
    pub api_key: Option<ApiKey>,
    /// The key card fingerprints (which spot a card linked twice) are made
    /// with: 32 to 64 bytes of text. Secret
    /// (`PAYBOT_CARDS__FINGERPRINT_KEY`). When unset, `fingerprint_key_file`
    /// holds it (generated on first run, owner-only).
    #[serde(default, deserialize_with = "secret_key")]
    pub fingerprint_key: Option<SecretString>,
    pub fingerprint_key_file: PathBuf,
    /// The instant-payout fee, as a percentage of the amount (`"1.5"`).
    pub cashout_fee_percent: PercentSetting,
    /// The smallest cash-out fee (`"0.25 USD"`), for cash-outs in its
    /// currency.
    pub cashout_fee_min: AmountOrZeroSetting,
    /// `acquiringBin`, sent with every rail request: 6 to 11 digits.
    pub acquiring_bin: AcquiringBin,
    /// `acquirerCountryCode`: ISO 3166 numeric (`"840"`).
    pub acquirer_country_code: AcquirerCountryCode,
    /// `cardAcceptor.name`: 1 to 25 printable ASCII characters.
    pub card_acceptor_name: CardAcceptorName,
    /// `cardAcceptor.terminalId`: 1 to 8 letters, digits or `-`.
    pub terminal_id: TerminalId,
    /// `cardAcceptor.idCode`: 1 to 15 letters, digits or `-`.
    pub id_code: IdCode,
    /// `cardAcceptor.address.country`: ISO 3166 alpha-3 (`"USA"`).
    pub country: AcceptorCountry,
}

impl CardsSettings {
    /// The acquirer sent with every rail request, from fields already
    /// checked as they were read.
    pub fn acquirer(&self) -> Acquirer {
        Acquirer::new(AcquirerParts {
            acquiring_bin: self.acquiring_bin.clone(),
            acquirer_country_code: self.acquirer_country_code.clone(),
            card_acceptor_name: self.card_acceptor_name.clone(),
            terminal_id: self.terminal_id.clone(),
            id_code: self.id_code.clone(),
            country: self.country.clone(),
        })
    }
}

/// A secret key given as text (`otp.pepper`, `cards.fingerprint_key`): 32
/// to 64 bytes. The message never holds the value.
pub(super) fn secret_key<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<SecretString>, D::Error> {
    let key = SecretString::deserialize(deserializer)?;
    let bytes = key.expose_secret().len();
    if (bot::otp::PEPPER_BYTES_MIN..=bot::otp::PEPPER_BYTES_MAX).contains(&bytes) {
        Ok(Some(key))
    } else {
        Err(serde::de::Error::custom(format!(
            "must be {} to {} bytes of text, e.g. the output of `openssl rand -hex 32`",
            bot::otp::PEPPER_BYTES_MIN,
            bot::otp::PEPPER_BYTES_MAX
        )))
    }
}

/// A currency code setting (`"USD"`).
#[derive(Debug, Clone, Copy)]
pub struct CurrencySetting(pub ledger::Currency);

impl<'de> Deserialize<'de> for CurrencySetting {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        ledger::Currency::from_code(&code.to_ascii_uppercase())
            .map(CurrencySetting)
            .map_err(|_| {
                let known: Vec<&str> = ledger::Currency::all().map(|c| c.code()).collect();
                serde::de::Error::custom(format!(
                    "not a currency paybot knows; one of {}",
                    known.join(", ")
                ))
            })
    }
}

/// An amount with its currency (`"100.00 USD"`).
#[derive(Debug, Clone, Copy)]
pub struct AmountSetting(pub ledger::Amount);

impl<'de> Deserialize<'de> for AmountSetting {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        ledger::parse_money(&text, ledger::Currency::USD)
            .map(AmountSetting)
            .map_err(|e| {
                serde::de::Error::custom(format!("not an amount ({e}); e.g. \"100.00 USD\""))
            })
    }
}

/// A percentage from 0 to 100 with at most 2 decimals, written as a string
/// (`"1.5"`) or a whole number (`2`); held in basis points. Never a float.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PercentSetting(pub u32);

impl<'de> Deserialize<'de> for PercentSetting {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Whole(u32),
            // An environment variable `1.5` arrives as a float: its shortest
            // round-trip text ("1.5") is read as decimal text, exactly.
            Float(f64),
            Text(String),
        }
        let refused = || {
            serde::de::Error::custom(
                "not a percentage from 0 to 100 with at most 2 decimals; write it as a string, e.g. \"1.5\"",
            )
        };
        let bp = match Raw::deserialize(deserializer).map_err(|_| refused())? {
            Raw::Whole(n) => n.checked_mul(100),
            Raw::Float(f) => percent_basis_points(&f.to_string()),
            Raw::Text(text) => percent_basis_points(text.trim()),
        };
        bp.filter(|bp| *bp <= bot::service::FEE_BASIS_POINTS_MAX)
            .map(PercentSetting)
            .ok_or_else(refused)
    }
}

/// `"1.5"` → 150.
fn percent_basis_points(text: &str) -> Option<u32> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty()
        || whole.len() > 3
        || fraction.len() > 2
        || !digits(whole)
        || !digits(fraction)
    {
        return None;
    }
    let whole: u32 = whole.parse().ok()?;
    let fraction: u32 = format!("{fraction:0<2}").parse().ok()?;
    whole.checked_mul(100)?.checked_add(fraction)
}

/// An amount with its currency, or zero (`"0"`, `"0.00 USD"`: none).
#[derive(Debug, Clone, Copy)]
pub struct AmountOrZeroSetting(pub Option<ledger::Amount>);

impl<'de> Deserialize<'de> for AmountOrZeroSetting {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let number = text
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .trim_start_matches('$');
        if !number.is_empty() && number.bytes().all(|b| b == b'0' || b == b'.') {
            return Ok(AmountOrZeroSetting(None));
        }
        ledger::parse_money(&text, ledger::Currency::USD)
            .map(|a| AmountOrZeroSetting(Some(a)))
            .map_err(|e| {
                serde::de::Error::custom(format!("not an amount ({e}); e.g. \"0.25 USD\""))
            })
    }
}
