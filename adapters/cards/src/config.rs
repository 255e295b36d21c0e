//! The adapter's settings, parsed: an API key that is a key, a rail URL that
//! is a URL, acquirer fields of the shapes Visa takes.
//!
//! The one decision to know: each of these types deserializes itself (the
//! key with `try_from`, each acquirer field as a newtype), so paybot's
//! `[cards]` settings hold them parsed, once, where they are read; a bad
//! value fails at start naming its key, and [`Acquirer::new`] only
//! assembles fields already checked.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer};
use url::Url;

use crate::convert::{AcquirerFields, CardAcceptor, CardAcceptorAddress};

/// The shortest API key accepted, in characters.
pub const API_KEY_CHARS_MIN: usize = 16;
/// The longest API key accepted, in characters.
pub const API_KEY_CHARS_MAX: usize = 256;
/// The header that carries the API key on every call to the rail.
pub const API_KEY_HEADER: &str = "x-api-key";
/// The longest card acceptor name Visa takes, in characters.
pub const CARD_ACCEPTOR_NAME_CHARS_MAX: usize = 25;
/// The longest terminal id Visa takes, in characters.
pub const TERMINAL_ID_CHARS_MAX: usize = 8;
/// The longest card acceptor id code Visa takes, in characters.
pub const ID_CODE_CHARS_MAX: usize = 15;

/// Why a cards setting is refused. `Display` is the message for the
/// operator; it never contains a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "the API key must be {API_KEY_CHARS_MIN} to {API_KEY_CHARS_MAX} visible ASCII characters without spaces, e.g. the output of `openssl rand -hex 32`"
    )]
    BadApiKey,
    #[error("not an http:// or https:// URL with a host and no query: {0}")]
    BadRailUrl(String),
    #[error("`{key}` {problem}")]
    BadAcquirer {
        key: &'static str,
        problem: &'static str,
    },
    #[error("the HTTP client could not be built: {0}")]
    Client(String),
}

/// The key the rail checks in [`API_KEY_HEADER`]. Secret: `Debug` prints
/// `[REDACTED]`, and it is never logged.
#[derive(Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct ApiKey(SecretString);

impl ApiKey {
    pub fn parse(text: &str) -> Result<ApiKey, ConfigError> {
        let ok = (API_KEY_CHARS_MIN..=API_KEY_CHARS_MAX).contains(&text.len())
            && text.bytes().all(|b| b.is_ascii_graphic());
        if ok {
            Ok(ApiKey(SecretString::from(text.to_owned())))
        } else {
            Err(ConfigError::BadApiKey)
        }
    }

    pub(crate) fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl TryFrom<String> for ApiKey {
    type Error = ConfigError;
    fn try_from(text: String) -> Result<ApiKey, ConfigError> {
        ApiKey::parse(&text)
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey([REDACTED])")
    }
}

/// `cards.rail_url`: where the rail is (Visa's sandbox, a standalone
/// `paybot card-sim`, or a test's simulator). Paths are appended to it.
pub fn parse_rail_url(text: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(text).map_err(|e| ConfigError::BadRailUrl(e.to_string()))?;
    let ok = matches!(url.scheme(), "http" | "https")
        && url.host().is_some()
        && url.query().is_none()
        && url.fragment().is_none()
        && url.username().is_empty()
        && url.password().is_none();
    if ok {
        Ok(url)
    } else {
        Err(ConfigError::BadRailUrl(
            "use scheme://host[:port][/path], without credentials or a query".to_owned(),
        ))
    }
}

/// The acquirer's fields sent with every request, as plain settings. The
/// defaults are Visa's sandbox values and a paybot card acceptor, so a
/// development run needs none of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcquirerSettings {
    /// `acquiringBin`: 6 to 11 digits.
    pub acquiring_bin: String,
    /// `acquirerCountryCode`: ISO 3166 numeric, 3 digits (`840`).
    pub acquirer_country_code: String,
    /// `cardAcceptor.name`: 1 to 25 printable ASCII characters.
    pub card_acceptor_name: String,
    /// `cardAcceptor.terminalId`: 1 to 8 letters, digits or `-`.
    pub terminal_id: String,
    /// `cardAcceptor.idCode`: 1 to 15 letters, digits or `-`.
    pub id_code: String,
    /// `cardAcceptor.address.country`: ISO 3166 alpha-3 (`USA`).
    pub country: String,
}

impl Default for AcquirerSettings {
    fn default() -> AcquirerSettings {
        AcquirerSettings {
            acquiring_bin: "408999".to_owned(),
            acquirer_country_code: "840".to_owned(),
            card_acceptor_name: "paybot".to_owned(),
            terminal_id: "PAYBOT01".to_owned(),
            id_code: "PAYBOT-WALLET".to_owned(),
            country: "USA".to_owned(),
        }
    }
}

/// [`AcquirerSettings`] checked against the shapes Visa takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acquirer(AcquirerFields);

impl Acquirer {
    /// The acquirer from plain text; the error names the first bad field.
    pub fn parse(s: &AcquirerSettings) -> Result<Acquirer, ConfigError> {
        Ok(Acquirer::new(AcquirerParts {
            acquiring_bin: AcquiringBin::parse(&s.acquiring_bin)?,
            acquirer_country_code: AcquirerCountryCode::parse(&s.acquirer_country_code)?,
            card_acceptor_name: CardAcceptorName::parse(&s.card_acceptor_name)?,
            terminal_id: TerminalId::parse(&s.terminal_id)?,
            id_code: IdCode::parse(&s.id_code)?,
            country: AcceptorCountry::parse(&s.country)?,
        }))
    }

    /// The acquirer from fields already parsed (as settings read them).
    pub fn new(parts: AcquirerParts) -> Acquirer {
        Acquirer(fields_of(AcquirerSettings {
            acquiring_bin: parts.acquiring_bin.0,
            acquirer_country_code: parts.acquirer_country_code.0,
            card_acceptor_name: parts.card_acceptor_name.0,
            terminal_id: parts.terminal_id.0,
            id_code: parts.id_code.0,
            country: parts.country.0,
        }))
    }

    /// Visa's sandbox acquirer, [`AcquirerSettings::default`] (valid: a
    /// unit test parses it).
    pub fn sandbox() -> Acquirer {
        Acquirer(fields_of(AcquirerSettings::default()))
    }

    /// `acquiringBin`.
    pub fn bin(&self) -> &str {
        &self.0.acquiring_bin
    }

    pub(crate) fn fields(&self) -> &AcquirerFields {
        &self.0
    }
}

/// The acquirer's fields, each parsed: what [`Acquirer::new`] takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcquirerParts {
    pub acquiring_bin: AcquiringBin,
    pub acquirer_country_code: AcquirerCountryCode,
    pub card_acceptor_name: CardAcceptorName,
    pub terminal_id: TerminalId,
    pub id_code: IdCode,
    pub country: AcceptorCountry,
}

/// The request fields of settings already checked.
fn fields_of(s: AcquirerSettings) -> AcquirerFields {
    AcquirerFields {
        acquiring_bin: s.acquiring_bin,
        acquirer_country_code: s.acquirer_country_code,
        card_acceptor: CardAcceptor {
            name: s.card_acceptor_name,
            terminal_id: s.terminal_id,
            id_code: s.id_code,
            address: CardAcceptorAddress { country: s.country },
        },
    }
}

fn digits(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_digit())
}

fn id_chars(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// One acquirer field: a newtype whose `parse` checks Visa's shape and
/// whose `Deserialize` (text, or digits that an environment variable
/// delivers as a number) does the same, with the problem as the message.
macro_rules! acquirer_field {
    ($(#[$doc:meta])* $name:ident, $key:literal, $ok:expr, $problem:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            pub fn parse(text: &str) -> Result<$name, ConfigError> {
                let ok: fn(&str) -> bool = $ok;
                if ok(text) {
                    Ok($name(text.to_owned()))
                } else {
                    Err(ConfigError::BadAcquirer {
                        key: $key,
                        problem: $problem,
                    })
                }
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = text_or_digits(deserializer)?;
                $name::parse(&text).map_err(|_| serde::de::Error::custom($problem))
            }
        }
    };
}

acquirer_field!(
    /// `acquiringBin`: 6 to 11 digits.
    AcquiringBin,
    "acquiring_bin",
    |t| (6..=11).contains(&t.len()) && digits(t),
    "must be 6 to 11 digits"
);
acquirer_field!(
    /// `acquirerCountryCode`: ISO 3166 numeric, 3 digits (`840`).
    AcquirerCountryCode,
    "acquirer_country_code",
    |t| t.len() == 3 && digits(t),
    "must be an ISO 3166 numeric code (3 digits, e.g. 840)"
);
acquirer_field!(
    /// `cardAcceptor.name`: 1 to 25 printable ASCII characters.
    CardAcceptorName,
    "card_acceptor_name",
    |t| {
        (1..=CARD_ACCEPTOR_NAME_CHARS_MAX).contains(&t.chars().count())
            && t.bytes().all(|b| b == b' ' || b.is_ascii_graphic())
    },
    "must be 1 to 25 printable ASCII characters"
);
acquirer_field!(
    /// `cardAcceptor.terminalId`: 1 to 8 letters, digits or `-`.
    TerminalId,
    "terminal_id",
    |t| (1..=TERMINAL_ID_CHARS_MAX).contains(&t.len()) && id_chars(t),
    "must be 1 to 8 letters, digits or `-`"
);
acquirer_field!(
    /// `cardAcceptor.idCode`: 1 to 15 letters, digits or `-`.
    IdCode,
    "id_code",
    |t| (1..=ID_CODE_CHARS_MAX).contains(&t.len()) && id_chars(t),
    "must be 1 to 15 letters, digits or `-`"
);
acquirer_field!(
    /// `cardAcceptor.address.country`: ISO 3166 alpha-3 (`USA`).
    AcceptorCountry,
    "country",
    |t| t.len() == 3 && t.bytes().all(|b| b.is_ascii_uppercase()),
    "must be an ISO 3166 alpha-3 code (3 capital letters, e.g. USA)"
);

/// Text, or a whole number written back as its digits (an environment
/// variable of digits, `PAYBOT_CARDS__ACQUIRING_BIN=408999`, arrives as a
/// number).
fn text_or_digits<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    struct Visitor;
    impl serde::de::Visitor<'_> for Visitor {
        type Value = String;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("text or digits")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_owned())
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<String, E> {
            Ok(v.to_string())
        }
    }
    deserializer.deserialize_any(Visitor)
}

/// `cards.rail_url`, read as settings read it.
pub fn deserialize_rail_url<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Url>, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse_rail_url(&text)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_urls_are_checked() {
        let key = ApiKey::parse("0123456789abcdef0123").unwrap();
        assert_eq!(format!("{key:?}"), "ApiKey([REDACTED])");
        assert_eq!(ApiKey::parse("short").unwrap_err(), ConfigError::BadApiKey);
        assert_eq!(
            ApiKey::parse("has a space in it, long enough").unwrap_err(),
            ConfigError::BadApiKey
        );
        assert!(ApiKey::parse(&"k".repeat(API_KEY_CHARS_MAX + 1)).is_err());
        assert!(parse_rail_url("http://127.0.0.1:8090").is_ok());
        assert!(parse_rail_url("https://sandbox.api.visa.com").is_ok());
        assert!(parse_rail_url("https://user:pw@sandbox.api.visa.com").is_err());
        assert!(parse_rail_url("ftp://x").is_err());
        assert!(parse_rail_url("sandbox.api.visa.com").is_err());
    }

    #[test]
    fn acquirer_fields_have_visa_shapes() {
        assert_eq!(
            Acquirer::parse(&AcquirerSettings::default()).unwrap(),
            Acquirer::sandbox()
        );
        let with = |edit: fn(&mut AcquirerSettings)| {
            let mut settings = AcquirerSettings::default();
            edit(&mut settings);
            Acquirer::parse(&settings)
        };
        let key_of = |result: Result<Acquirer, ConfigError>| match result {
            Err(ConfigError::BadAcquirer { key, .. }) => key,
            _ => "",
        };
        assert_eq!(
            key_of(with(|s| s.acquiring_bin = "4089".to_owned())),
            "acquiring_bin"
        );
        assert_eq!(
            key_of(with(|s| s.acquirer_country_code = "US".to_owned())),
            "acquirer_country_code"
        );
        assert_eq!(
            key_of(with(|s| s.card_acceptor_name = String::new())),
            "card_acceptor_name"
        );
        assert_eq!(
            key_of(with(|s| s.terminal_id = "TERMINAL-1".to_owned())),
            "terminal_id"
        );
        assert_eq!(
            key_of(with(|s| s.id_code = "id code".to_owned())),
            "id_code"
        );
        assert_eq!(key_of(with(|s| s.country = "usa".to_owned())), "country");
    }
}
