//! The adapter's settings, parsed: an API key that is a key, a rail URL that
//! is a URL, acquirer fields of the shapes Visa takes. paybot's settings
//! loader calls these parsers so a bad value fails at start, naming the key.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
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
#[derive(Clone)]
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
    pub fn parse(settings: &AcquirerSettings) -> Result<Acquirer, ConfigError> {
        let digits = |text: &str| text.bytes().all(|b| b.is_ascii_digit());
        let id_chars = |text: &str| text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        let bad = |key, problem| Err(ConfigError::BadAcquirer { key, problem });
        let s = settings;
        if !(6..=11).contains(&s.acquiring_bin.len()) || !digits(&s.acquiring_bin) {
            return bad("acquiring_bin", "must be 6 to 11 digits");
        }
        if s.acquirer_country_code.len() != 3 || !digits(&s.acquirer_country_code) {
            return bad(
                "acquirer_country_code",
                "must be an ISO 3166 numeric code (3 digits, e.g. 840)",
            );
        }
        let name_chars = s.card_acceptor_name.chars().count();
        if !(1..=CARD_ACCEPTOR_NAME_CHARS_MAX).contains(&name_chars)
            || !s
                .card_acceptor_name
                .bytes()
                .all(|b| b == b' ' || b.is_ascii_graphic())
        {
            return bad(
                "card_acceptor_name",
                "must be 1 to 25 printable ASCII characters",
            );
        }
        if !(1..=TERMINAL_ID_CHARS_MAX).contains(&s.terminal_id.len()) || !id_chars(&s.terminal_id)
        {
            return bad("terminal_id", "must be 1 to 8 letters, digits or `-`");
        }
        if !(1..=ID_CODE_CHARS_MAX).contains(&s.id_code.len()) || !id_chars(&s.id_code) {
            return bad("id_code", "must be 1 to 15 letters, digits or `-`");
        }
        if s.country.len() != 3 || !s.country.bytes().all(|b| b.is_ascii_uppercase()) {
            return bad(
                "country",
                "must be an ISO 3166 alpha-3 code (3 capital letters, e.g. USA)",
            );
        }
        Ok(Acquirer(fields_of(s)))
    }

    /// Visa's sandbox acquirer, [`AcquirerSettings::default`] (valid: a
    /// unit test parses it).
    pub fn sandbox() -> Acquirer {
        Acquirer(fields_of(&AcquirerSettings::default()))
    }

    /// `acquiringBin`.
    pub fn bin(&self) -> &str {
        &self.0.acquiring_bin
    }

    pub(crate) fn fields(&self) -> &AcquirerFields {
        &self.0
    }
}

fn fields_of(settings: &AcquirerSettings) -> AcquirerFields {
    AcquirerFields {
        acquiring_bin: settings.acquiring_bin.clone(),
        acquirer_country_code: settings.acquirer_country_code.clone(),
        card_acceptor: CardAcceptor {
            name: settings.card_acceptor_name.clone(),
            terminal_id: settings.terminal_id.clone(),
            id_code: settings.id_code.clone(),
            address: CardAcceptorAddress {
                country: settings.country.clone(),
            },
        },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
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
