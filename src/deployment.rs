//! Development or production: which situation this paybot is in, decided
//! once from the settings, and what of development runs in it.
//!
//! The one design decision to know: **the situation is derived, never
//! declared**. A deployment that talks to anything real (a chat platform's
//! token, the ledger API's token, a card rail's URL) is production, and
//! there the parts meant for development (the mock chat with its play
//! money, the in-process card simulator) are off. Switching one on by name
//! in production is a mix and stops the start, unless the operator allows
//! that part in `deployment.allow_in_production`; an allowed part then logs
//! a warning at every start. No setting can call a deployment with a real
//! token "development".

use std::fmt;

use serde::Deserialize;
use tracing::{info, warn};

use crate::settings::Settings;

/// A part of paybot meant for development only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DevPart {
    /// The mock chat (`/mock/*`, `paybot chat`) and its play money.
    MockChat,
    /// The card rail simulator inside paybot, which approves test cards.
    CardSimulator,
}

impl DevPart {
    /// Every part, in the order the settings document them.
    pub const ALL: [DevPart; 2] = [DevPart::MockChat, DevPart::CardSimulator];

    /// The name used in `deployment.allow_in_production`.
    pub fn name(self) -> &'static str {
        match self {
            DevPart::MockChat => "mock_chat",
            DevPart::CardSimulator => "card_simulator",
        }
    }

    fn from_name(name: &str) -> Option<DevPart> {
        DevPart::ALL.into_iter().find(|part| part.name() == name)
    }

    /// What the part is, for people.
    fn describe(self) -> &'static str {
        match self {
            DevPart::MockChat => {
                "the mock chat (anyone who reaches /mock/* acts as any mock user, with play money)"
            }
            DevPart::CardSimulator => {
                "the card simulator (test cards top up wallets with money no bank sent)"
            }
        }
    }
}

impl fmt::Display for DevPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `deployment.allow_in_production`: development parts an operator lets
/// run in production (a staging server). A list (`["mock_chat"]`) or, from
/// an environment variable, names separated by commas
/// (`PAYBOT_DEPLOYMENT__ALLOW_IN_PRODUCTION=mock_chat,card_simulator`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedDevParts(Vec<DevPart>);

impl AllowedDevParts {
    pub fn contains(&self, part: DevPart) -> bool {
        self.0.contains(&part)
    }
}

impl<'de> Deserialize<'de> for AllowedDevParts {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            List(Vec<String>),
            Text(String),
        }
        let names = match Raw::deserialize(deserializer)? {
            Raw::List(names) => names,
            Raw::Text(text) => text
                .split(',')
                .map(str::trim)
                .filter(|name| !name.is_empty())
                .map(str::to_owned)
                .collect(),
        };
        let mut parts = Vec::new();
        for name in names {
            let Some(part) = DevPart::from_name(name.trim()) else {
                let choices: Vec<&str> = DevPart::ALL.iter().map(|p| p.name()).collect();
                return Err(serde::de::Error::custom(format!(
                    "{name:?} is not a development part; the choices are {}",
                    choices.join(", ")
                )));
            };
            if !parts.contains(&part) {
                parts.push(part);
            }
        }
        Ok(AllowedDevParts(parts))
    }
}

/// How the card commands reach a card network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardRailChoice {
    /// No card commands.
    Off,
    /// The rail at `cards.rail_url`.
    Remote,
    /// The simulator inside paybot.
    Simulator,
}

/// The situation, and what of development runs in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    /// The settings that make this production (`telegram.token`, ...);
    /// empty in development.
    pub real: Vec<&'static str>,
    /// The mock chat (and its play money) runs.
    pub mock_chat: bool,
    pub cards: CardRailChoice,
}

/// A development part where it must not run: switched on by name in
/// production and not allowed there, or the mock chat beside a real card
/// rail (allowed or not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mix {
    /// The setting to change.
    pub key: &'static str,
    pub part: DevPart,
    /// What makes the deployment production.
    pub real: Vec<&'static str>,
    /// The mock chat beside a real card rail: play money could be cashed
    /// out to a card. Never allowed.
    pub beside_rail: bool,
}

impl fmt::Display for Mix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.beside_rail {
            return write!(
                f,
                "allows the mock chat, but cards.rail_url is set: mock users would turn play money into money on a real card with /cashout. The mock chat never runs beside a card rail: remove \"{}\" from it, or turn cards off (cards.enabled = false)",
                self.part.name()
            );
        }
        let how = match self.part {
            DevPart::MockChat => "turns on the mock chat, which is for development",
            DevPart::CardSimulator => {
                "with no cards.rail_url turns on the card simulator, which is for development"
            }
        };
        write!(
            f,
            "{how}, but this is a production deployment ({}). Unset it, or set it to false (for cards: set cards.rail_url to your card network), or, for a staging server only, allow it with deployment.allow_in_production = [\"{}\"]",
            because(&self.real),
            self.part.name()
        )
    }
}

fn because(real: &[&str]) -> String {
    let list = real.join(", ");
    if real.len() == 1 {
        format!("{list} is set")
    } else {
        format!("{list} are set")
    }
}

impl Deployment {
    /// The situation `settings` describe; a development part switched on
    /// by name in production and not allowed there is a [`Mix`].
    pub fn of(settings: &Settings) -> Result<Deployment, Vec<Mix>> {
        let cards_on = settings.cards.enabled;
        let mut real = Vec::new();
        if settings.telegram.token.is_some() {
            real.push("telegram.token");
        }
        if settings.discord.token.is_some() {
            real.push("discord.token");
        }
        for (key, token, _) in settings.api.keys() {
            if token.is_some() {
                real.push(key);
            }
        }
        if settings.cards.rail_url.is_some() && cards_on != Some(false) {
            real.push("cards.rail_url");
        }
        let production = !real.is_empty();
        let allowed = &settings.deployment.allow_in_production;
        let mut mixes = Vec::new();
        // A part runs in development unless switched off; in production
        // only when allowed, and switching it on by name without that is a
        // mix.
        let mut part_runs =
            |part: DevPart, key: &'static str, asked: Option<bool>| match (asked, production) {
                (Some(false), _) => false,
                (_, false) => true,
                (_, true) if allowed.contains(part) => true,
                (None, true) => false,
                (Some(true), true) => {
                    mixes.push(Mix {
                        key,
                        part,
                        real: real.clone(),
                        beside_rail: false,
                    });
                    false
                }
            };
        let mock_chat = part_runs(DevPart::MockChat, "mock.enabled", settings.mock.enabled);
        let cards = if cards_on == Some(false) {
            CardRailChoice::Off
        } else if settings.cards.rail_url.is_some() {
            CardRailChoice::Remote
        } else if part_runs(DevPart::CardSimulator, "cards.enabled", cards_on) {
            CardRailChoice::Simulator
        } else {
            CardRailChoice::Off
        };
        if mock_chat && cards == CardRailChoice::Remote {
            mixes.push(Mix {
                key: "deployment.allow_in_production",
                part: DevPart::MockChat,
                real: real.clone(),
                beside_rail: true,
            });
        }
        if mixes.is_empty() {
            Ok(Deployment {
                real,
                mock_chat,
                cards,
            })
        } else {
            Err(mixes)
        }
    }

    pub fn is_production(&self) -> bool {
        !self.real.is_empty()
    }

    /// The development parts running in production (allowed by name).
    pub fn dev_parts_in_production(&self) -> Vec<DevPart> {
        if !self.is_production() {
            return Vec::new();
        }
        let mut parts = Vec::new();
        if self.mock_chat {
            parts.push(DevPart::MockChat);
        }
        if self.cards == CardRailChoice::Simulator {
            parts.push(DevPart::CardSimulator);
        }
        parts
    }

    /// Says at start which situation this is and what runs; a warning for
    /// each development part allowed in production.
    pub fn announce(&self) {
        if !self.is_production() {
            info!(
                "deployment: development (no chat platform token, API token or card rail is set): the mock chat, play money and the card simulator are on; none of it is real money"
            );
            return;
        }
        info!("deployment: production ({})", because(&self.real));
        info!(
            "mock chat: {}",
            if self.mock_chat {
                "on (allowed by deployment.allow_in_production)"
            } else {
                "off (development only)"
            }
        );
        match self.cards {
            CardRailChoice::Off => info!(
                "cards: off (production needs cards.rail_url and cards.api_key; the card simulator is for development)"
            ),
            CardRailChoice::Remote => info!("cards: the card rail at cards.rail_url"),
            CardRailChoice::Simulator => info!(
                "cards: the in-process card simulator (allowed by deployment.allow_in_production)"
            ),
        }
        for part in self.dev_parts_in_production() {
            warn!(
                "production with a development part allowed by deployment.allow_in_production: {}. Fine for a staging server; never for one real people use",
                part.describe()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::tests::load_with_env;

    /// The deployment `env` describes; a refused start's message.
    fn deployment(env: &[(&str, &str)]) -> Result<Deployment, String> {
        let settings = load_with_env(None, env.iter().copied()).map_err(|e| e.to_string())?;
        Ok(Deployment::of(&settings).unwrap())
    }

    const TOKEN: (&str, &str) = (
        "PAYBOT_TELEGRAM__TOKEN",
        "4242:AAEfakeTokenForTestsOnly_0123456789ab",
    );

    #[test]
    fn nothing_real_is_development_with_everything_on() {
        let d = deployment(&[]).unwrap();
        assert!(!d.is_production());
        assert!(d.mock_chat);
        assert_eq!(d.cards, CardRailChoice::Simulator);
        assert!(d.dev_parts_in_production().is_empty());
    }

    #[test]
    fn a_token_is_production_with_development_off() {
        let d = deployment(&[TOKEN]).unwrap();
        assert_eq!(d.real, vec!["telegram.token"]);
        assert!(!d.mock_chat);
        assert_eq!(d.cards, CardRailChoice::Off);
    }

    #[test]
    fn a_rail_url_is_production_and_the_rail() {
        let key = "k".repeat(32);
        let d = deployment(&[
            ("PAYBOT_CARDS__RAIL_URL", "http://127.0.0.1:9/"),
            ("PAYBOT_CARDS__API_KEY", key.as_str()),
        ])
        .unwrap();
        assert_eq!(d.real, vec!["cards.rail_url"]);
        assert_eq!(d.cards, CardRailChoice::Remote);
        assert!(!d.mock_chat);
    }

    #[test]
    fn switching_a_part_on_by_name_in_production_is_a_mix() {
        let text = deployment(&[
            TOKEN,
            ("PAYBOT_MOCK__ENABLED", "true"),
            ("PAYBOT_CARDS__ENABLED", "true"),
        ])
        .unwrap_err();
        for needle in [
            "mock.enabled",
            "environment variable PAYBOT_MOCK__ENABLED",
            "cards.enabled",
            "telegram.token is set",
            "[\"mock_chat\"]",
            "[\"card_simulator\"]",
        ] {
            assert!(text.contains(needle), "{needle}: {text}");
        }
        assert!(!text.contains(TOKEN.1), "the token was printed: {text}");
    }

    #[test]
    fn allowed_parts_run_in_production_and_are_listed() {
        let d = deployment(&[
            TOKEN,
            ("PAYBOT_MOCK__ENABLED", "true"),
            (
                "PAYBOT_DEPLOYMENT__ALLOW_IN_PRODUCTION",
                "card_simulator, mock_chat",
            ),
        ])
        .unwrap();
        assert!(d.mock_chat);
        assert_eq!(d.cards, CardRailChoice::Simulator);
        assert_eq!(
            d.dev_parts_in_production(),
            vec![DevPart::MockChat, DevPart::CardSimulator]
        );
    }

    #[test]
    fn the_mock_chat_never_runs_beside_a_real_card_rail() {
        // Play money, a real card and /cashout: money from nothing.
        let key = "k".repeat(32);
        let text = deployment(&[
            ("PAYBOT_CARDS__RAIL_URL", "http://127.0.0.1:9/"),
            ("PAYBOT_CARDS__API_KEY", key.as_str()),
            ("PAYBOT_DEPLOYMENT__ALLOW_IN_PRODUCTION", "mock_chat"),
        ])
        .unwrap_err();
        for needle in ["mock_chat", "cards.rail_url", "play money"] {
            assert!(text.contains(needle), "{needle}: {text}");
        }
        // With cards off, a staging server may still have its mock chat.
        let d = deployment(&[
            ("PAYBOT_CARDS__RAIL_URL", "http://127.0.0.1:9/"),
            ("PAYBOT_CARDS__ENABLED", "false"),
            ("PAYBOT_API__READ_TOKEN", key.as_str()),
            ("PAYBOT_DEPLOYMENT__ALLOW_IN_PRODUCTION", "mock_chat"),
        ])
        .unwrap();
        assert!(d.mock_chat);
        assert_eq!(d.cards, CardRailChoice::Off);
    }

    #[test]
    fn unknown_parts_are_refused_naming_the_choices() {
        let text =
            deployment(&[("PAYBOT_DEPLOYMENT__ALLOW_IN_PRODUCTION", "everything")]).unwrap_err();
        assert!(text.contains("mock_chat, card_simulator"), "{text}");
    }

    #[test]
    fn switched_off_stays_off_even_when_allowed() {
        let d = deployment(&[
            TOKEN,
            ("PAYBOT_MOCK__ENABLED", "false"),
            ("PAYBOT_DEPLOYMENT__ALLOW_IN_PRODUCTION", "mock_chat"),
        ])
        .unwrap();
        assert!(!d.mock_chat);
        let d = deployment(&[("PAYBOT_CARDS__ENABLED", "false")]).unwrap();
        assert_eq!(d.cards, CardRailChoice::Off);
        assert!(d.mock_chat, "development keeps the mock chat");
    }
}
