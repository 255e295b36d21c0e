//! What the core knows about one chat platform: the bot's username there,
//! whether a user must open a direct chat with the bot before it can write
//! to them, and whether private replies are shown where the command was
//! typed.
//!
//! The design decision to know: each adapter describes its platform in one
//! [`PlatformProfile`] and hands it to the core when it registers
//! ([`crate::Bot::register_platform`]); the core has no per-setting setters.
//! A platform with no profile behaves as a plain chat (no username known,
//! no invite needed, private replies sent as direct messages).

use crate::message::Platform;

/// One platform's behaviour, as its adapter knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformProfile {
    platform: Platform,
    username: Option<String>,
    dm_invite_url: Option<String>,
    private_in_place: bool,
}

impl PlatformProfile {
    /// A plain chat on `platform`: username unknown, no invite needed,
    /// private replies sent as direct messages.
    pub fn new(platform: Platform) -> PlatformProfile {
        PlatformProfile {
            platform,
            username: None,
            dm_invite_url: None,
            private_in_place: false,
        }
    }

    /// The bot's username on the platform, so the parser recognises
    /// `/pay@Name` as ours (and ignores `/pay@OtherBot`), and `@Name` is
    /// refused as a payee.
    #[must_use]
    pub fn with_username(mut self, username: impl Into<String>) -> PlatformProfile {
        self.username = Some(username.into());
        self
    }

    /// The bot cannot open a direct chat by itself (Telegram): a user must
    /// write to it there first. A command typed in a group (other than
    /// `/help`) by someone who never wrote to the bot directly
    /// ([`crate::store::Identity::dm_open`]) does nothing but answer, in
    /// the group, that they should open `invite_url` (a deep link that
    /// sends `/start` [`crate::DM_START_PAYLOAD`] in a direct chat) and
    /// send the command again.
    #[must_use]
    pub fn with_dm_invite(mut self, invite_url: impl Into<String>) -> PlatformProfile {
        self.dm_invite_url = Some(invite_url.into());
        self
    }

    /// A command typed in a group is seen by the bot only (Discord's slash
    /// commands: the options are not shown to the channel), and a private
    /// reply to its sender is shown to them where they typed it, to nobody
    /// else (Discord's ephemeral messages). So the group is not told "I
    /// sent you a DM", and a code or link code sent there is not treated as
    /// leaked. Messages to other users are still sent privately.
    #[must_use]
    pub fn with_private_in_place(mut self) -> PlatformProfile {
        self.private_in_place = true;
        self
    }

    pub fn platform(&self) -> Platform {
        self.platform
    }

    pub fn username(&self) -> Option<&str> {
        self.username.as_deref()
    }

    pub fn dm_invite_url(&self) -> Option<&str> {
        self.dm_invite_url.as_deref()
    }

    pub fn private_in_place(&self) -> bool {
        self.private_in_place
    }
}
