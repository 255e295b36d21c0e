//! The operator's surfaces: who an operator names (a user by platform id or
//! by handle), the reason they give, the name they act under, and what a
//! tier change and a user's report are. The CLI (`paybot admin`) and the
//! HTTP API parse into these types at their edge; the core acts on them
//! (`service/operator.rs`).
//!
//! The design decision to know: an operator's action names a user the way
//! the chat shows them (a handle) or the way a platform does (its id), and
//! a handle that more than one wallet has is refused, naming the platform
//! ids to use instead: an operator never changes the wrong person's tier.

use std::fmt;

use super::audit::{ACTOR_NAME_BYTES_MAX, AuditRecord};
use super::holds::HoldView;
use super::tier::{TIER_REASON_CHARS_MAX, Tier, TierRecord};
use crate::message::{Handle, Platform, PlatformUserId};
use crate::store::{Identity, UserId};
use crate::text::clean_free_text;

/// Audit entries about a user that `paybot admin user` shows, newest first.
pub const REPORT_AUDIT_ENTRIES_MAX: u32 = 20;
/// Most holds `paybot admin user` lists for one user.
pub const REPORT_HOLDS_MAX: u32 = 1_000;
/// Most wallets one handle may match before the operator is asked for a
/// platform id (the rest are not listed).
pub const AMBIGUOUS_USERS_LISTED_MAX: usize = 10;

/// The most bytes of a reason read before cleaning: four bytes a
/// character, and as much again of invisible characters cleaning removes.
pub const REASON_BYTES_READ_MAX: usize = TIER_REASON_CHARS_MAX * 4 * 4;

/// Every platform, in the order a bare `@handle` is looked up.
pub const PLATFORMS: [Platform; 3] = [Platform::Telegram, Platform::Discord, Platform::Mock];

/// A user as an operator names them: `PLATFORM:ID` (the platform's user
/// id), `PLATFORM:@handle`, or `@handle` on any platform.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserTarget {
    Id {
        platform: Platform,
        id: PlatformUserId,
    },
    Handle {
        /// `None`: every platform.
        platform: Option<Platform>,
        handle: Handle,
    },
}

/// Why text does not name a user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("`{0}` is not a platform; use telegram, discord or mock")]
    UnknownPlatform(String),
    #[error("`{0}` is not a handle")]
    InvalidHandle(String),
    #[error("`{0}` is not a platform user id")]
    InvalidId(String),
    #[error("name a user as @handle, PLATFORM:@handle or PLATFORM:ID (e.g. telegram:12345)")]
    Form,
}

impl UserTarget {
    /// `@bob`, `telegram:@bob` or `telegram:12345`.
    pub fn parse(text: &str) -> Result<UserTarget, TargetError> {
        let text = text.trim();
        if text.starts_with('@') {
            return Handle::parse(text)
                .map(|handle| UserTarget::Handle {
                    platform: None,
                    handle,
                })
                .map_err(|_| TargetError::InvalidHandle(text.to_owned()));
        }
        let Some((platform, rest)) = text.split_once(':') else {
            return Err(TargetError::Form);
        };
        let platform = Platform::from_str_opt(&platform.to_ascii_lowercase())
            .ok_or_else(|| TargetError::UnknownPlatform(platform.to_owned()))?;
        UserTarget::on(platform, rest)
    }

    /// `rest` on `platform`: `@handle` or a platform user id.
    pub fn on(platform: Platform, rest: &str) -> Result<UserTarget, TargetError> {
        if rest.starts_with('@') {
            let handle =
                Handle::parse(rest).map_err(|_| TargetError::InvalidHandle(rest.to_owned()))?;
            return Ok(UserTarget::Handle {
                platform: Some(platform),
                handle,
            });
        }
        let id = PlatformUserId::new(rest).map_err(|_| TargetError::InvalidId(rest.to_owned()))?;
        Ok(UserTarget::Id { platform, id })
    }
}

impl fmt::Display for UserTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UserTarget::Id { platform, id } => write!(f, "{platform}:{id}"),
            UserTarget::Handle {
                platform: Some(platform),
                handle,
            } => write!(f, "{platform}:{handle}"),
            UserTarget::Handle {
                platform: None,
                handle,
            } => write!(f, "{handle}"),
        }
    }
}

/// Why an operator's reason is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReasonError {
    #[error("give a reason (1 to {TIER_REASON_CHARS_MAX} characters)")]
    Empty,
    #[error("the reason is {chars} characters long; the limit is {TIER_REASON_CHARS_MAX}")]
    TooLong { chars: usize },
}

/// Why an operator did something (a tier change, a hold's decision): 1 to
/// [`TIER_REASON_CHARS_MAX`] characters after cleaning
/// ([`clean_free_text`]); longer is refused, never cut.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperatorReason(String);

impl OperatorReason {
    pub fn parse(text: &str) -> Result<OperatorReason, ReasonError> {
        // Bounded before the work.
        if text.len() > REASON_BYTES_READ_MAX {
            return Err(ReasonError::TooLong {
                chars: text.chars().count(),
            });
        }
        let clean = clean_free_text(text);
        match clean.chars().count() {
            0 => Err(ReasonError::Empty),
            chars if chars > TIER_REASON_CHARS_MAX => Err(ReasonError::TooLong { chars }),
            _ => Ok(OperatorReason(clean)),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OperatorReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a name cannot stand for an operator or a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "a name is 1 to {ACTOR_NAME_BYTES_MAX} bytes of letters, digits and . _ - @ (no spaces or colons)"
)]
pub struct InvalidActorName;

/// The name an operator (`--by`, the API's `api.operator_name`) or a
/// verification provider acts under, as the audit log shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActorName(String);

impl ActorName {
    pub fn parse(text: &str) -> Result<ActorName, InvalidActorName> {
        let ok = !text.is_empty()
            && text.len() <= ACTOR_NAME_BYTES_MAX
            && text
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
        if ok {
            Ok(ActorName(text.to_owned()))
        } else {
            Err(InvalidActorName)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ActorName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An operator's action that was not done, and why (none of these changed
/// anything).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OperatorRefusal {
    #[error("no user {0} is known to paybot (they must have written to the bot or been mentioned)")]
    UnknownUser(String),
    #[error(
        "{target} matches more than one wallet: {}; name one as PLATFORM:ID",
        .candidates.join(", ")
    )]
    AmbiguousHandle {
        target: String,
        /// `PLATFORM:ID` of each match, at most
        /// [`AMBIGUOUS_USERS_LISTED_MAX`].
        candidates: Vec<String>,
    },
    #[error("tier {tier} is not configured; the tiers are 0 to {highest} (trust.limits.tiers)")]
    TierNotConfigured { tier: Tier, highest: Tier },
}

/// What a tier change did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TierChange {
    pub user: UserId,
    pub from: Tier,
    pub to: Tier,
    /// The audit entry that records it.
    pub audit_id: i64,
    /// Whether the user was sent a message about it (not when the tier
    /// stayed the same).
    pub told: bool,
}

/// What an operator sees of one user (`paybot admin user`,
/// `GET /api/v1/admin/users/...`).
#[derive(Clone, Debug, PartialEq)]
pub struct UserReport {
    pub user: UserId,
    /// Every chat account of the wallet, most recently seen first.
    pub identities: Vec<Identity>,
    /// The tier in force (the default when never set).
    pub tier: Tier,
    /// Its name from the settings.
    pub tier_name: Option<String>,
    /// By whom, when and why it was last set; `None`: never.
    pub tier_set: Option<TierRecord>,
    /// The legal name a verification provider gave, if any.
    pub legal_name: Option<String>,
    /// The newest audit entries about the user, newest first, at most
    /// [`REPORT_AUDIT_ENTRIES_MAX`].
    pub recent_audit: Vec<AuditRecord>,
    /// The user's holds waiting for an operator.
    pub holds: Vec<HoldView>,
    /// Each limit of the user's tier in each currency they hold: what is
    /// left and when more frees up.
    pub limits: Vec<crate::service::LimitLine>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_and_print_back() {
        for text in [
            "@bob",
            "telegram:@bob",
            "telegram:12345",
            "discord:99",
            "mock:alice",
        ] {
            let target = UserTarget::parse(text).unwrap();
            assert_eq!(target.to_string(), text);
        }
        assert_eq!(
            UserTarget::parse("Telegram:@Bob").unwrap().to_string(),
            "telegram:@bob"
        );
        assert_eq!(UserTarget::parse("bob"), Err(TargetError::Form));
        assert!(matches!(
            UserTarget::parse("icq:1"),
            Err(TargetError::UnknownPlatform(_))
        ));
        assert!(matches!(
            UserTarget::parse("@bad handle"),
            Err(TargetError::InvalidHandle(_))
        ));
        assert!(matches!(
            UserTarget::parse("telegram:"),
            Err(TargetError::InvalidId(_))
        ));
    }

    #[test]
    fn reasons_are_cleaned_and_bounded() {
        assert_eq!(
            OperatorReason::parse("  passport\n checked \u{200b}")
                .unwrap()
                .as_str(),
            "passport checked"
        );
        assert_eq!(OperatorReason::parse(" \u{200b} "), Err(ReasonError::Empty));
        let long = "x".repeat(TIER_REASON_CHARS_MAX + 1);
        assert_eq!(
            OperatorReason::parse(&long),
            Err(ReasonError::TooLong {
                chars: TIER_REASON_CHARS_MAX + 1
            })
        );
        assert!(OperatorReason::parse(&"x".repeat(TIER_REASON_CHARS_MAX)).is_ok());
    }

    #[test]
    fn actor_names_are_plain() {
        assert!(ActorName::parse("ana").is_ok());
        assert!(ActorName::parse("ana.b@ops-1").is_ok());
        for bad in ["", "ana b", "a:b", &"x".repeat(ACTOR_NAME_BYTES_MAX + 1)] {
            assert_eq!(ActorName::parse(bad), Err(InvalidActorName), "{bad}");
        }
    }
}
