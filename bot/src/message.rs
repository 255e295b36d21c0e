//! What the core receives from a chat platform and what it answers.
//!
//! Adapters convert their platform's updates into an [`Incoming`] and deliver
//! each [`Reply`] to its [`Audience`]. Nothing here names a chat SDK.

use std::fmt;

use unicode_normalization::UnicodeNormalization;

/// The longest handle, in characters (Telegram and Discord both stop at 32).
pub const HANDLE_CHARS_MAX: usize = 32;
/// The longest platform user, chat or event id, in bytes.
pub const PLATFORM_ID_BYTES_MAX: usize = 128;
/// The longest message text the core looks at, in bytes.
pub const MESSAGE_TEXT_BYTES_MAX: usize = 4_096;

/// A chat platform paybot speaks on.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub enum Platform {
    Mock,
    Telegram,
    Discord,
}

impl Platform {
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Mock => "mock",
            Platform::Telegram => "telegram",
            Platform::Discord => "discord",
        }
    }

    pub fn from_str_opt(text: &str) -> Option<Platform> {
        match text {
            "mock" => Some(Platform::Mock),
            "telegram" => Some(Platform::Telegram),
            "discord" => Some(Platform::Discord),
            _ => None,
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a piece of platform input was refused at the edge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("a handle is 1 to {HANDLE_CHARS_MAX} letters, digits, `_` or `.`")]
    InvalidHandle,
    #[error("an id is 1 to {PLATFORM_ID_BYTES_MAX} printable bytes")]
    InvalidId,
    #[error("the message is longer than {MESSAGE_TEXT_BYTES_MAX} bytes")]
    TextTooLong,
}

/// A user's handle (`@bob`), normalised: NFKC, lower case, without the `@`.
/// Handles are lookup keys; [`PlatformUserId`]s are the identity.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Handle(String);

impl Handle {
    /// Accepts `bob`, `@Bob`, `@bob_99`, `alice.b`; refuses empty, too long,
    /// spaces, punctuation other than `_` and `.`.
    pub fn parse(text: &str) -> Result<Handle, InputError> {
        let bare = text.strip_prefix('@').unwrap_or(text);
        if bare.is_empty() || bare.len() > HANDLE_CHARS_MAX * 4 {
            return Err(InputError::InvalidHandle);
        }
        let normal: String = bare.nfkc().flat_map(char::to_lowercase).collect();
        let valid = (1..=HANDLE_CHARS_MAX).contains(&normal.chars().count())
            && normal
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '.');
        if valid {
            Ok(Handle(normal))
        } else {
            Err(InputError::InvalidHandle)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "@{}", self.0)
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Handle(@{})", self.0)
    }
}

fn valid_id(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= PLATFORM_ID_BYTES_MAX
        && text.chars().all(|c| !c.is_control() && !c.is_whitespace())
}

macro_rules! platform_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
        pub struct $name(String);

        impl $name {
            pub fn new(text: impl Into<String>) -> Result<$name, InputError> {
                let text = text.into();
                if valid_id(&text) { Ok($name(text)) } else { Err(InputError::InvalidId) }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

platform_id!(
    /// A user's stable id on one platform (Telegram's numeric user id,
    /// Discord's snowflake, the mock user's name). Never a display name.
    PlatformUserId
);
platform_id!(
    /// A chat's id on one platform.
    ChatId
);
platform_id!(
    /// A message's id on its platform, as far as a bot may act on it:
    /// Telegram's `message_id` (unique within its chat), the mock chat's
    /// message number.
    MessageId
);
platform_id!(
    /// The platform's id of one event (Telegram `update_id`, Discord
    /// interaction id). A redelivered event has the same id.
    EventId
);

impl EventId {
    /// Where this event falls in its platform's order: the number its id
    /// ends with (Telegram's `update_id` after the bot's id, Discord's
    /// snowflake, a mock client's counter), if it ends with one that fits
    /// 64 bits. Ids derived from events in order sort in that order (see
    /// `TransferId::derive_ordered`). A hint for where rows go, never an
    /// identity: events may share it.
    pub fn order(&self) -> Option<u64> {
        let text = self.0.as_str();
        let head = text.trim_end_matches(|c: char| c.is_ascii_digit());
        // The digits are ASCII, one byte each: `head.len()` is a char
        // boundary.
        text.get(head.len()..)
            .filter(|digits| !digits.is_empty())
            .and_then(|digits| digits.parse().ok())
    }
}

/// Direct (one-to-one with the bot) or a group of people.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum ChatKind {
    Direct,
    Group,
}

/// The chat a message came from.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Chat {
    pub id: ChatId,
    pub kind: ChatKind,
    /// The group's name, for messages that mention it.
    pub title: Option<String>,
}

/// A user as the platform describes them.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct User {
    pub id: PlatformUserId,
    /// Not every user has one (Telegram users without a username).
    pub handle: Option<Handle>,
    pub display_name: String,
    pub is_bot: bool,
}

/// A mention in the text that the platform resolved to a user. `token` is
/// how it appears in [`Incoming::text`]: `@bob`, or `<@ID>` for platforms
/// that mention by id (Discord) and for users without a handle (adapters
/// rewrite a Telegram `text_mention` into `<@ID>`).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Mention {
    pub token: String,
    pub user: User,
}

/// One message to the core, platform-neutral.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Incoming {
    pub platform: Platform,
    pub event_id: EventId,
    pub chat: Chat,
    pub sender: User,
    pub text: String,
    pub mentions: Vec<Mention>,
    /// The author of the message this one replies to.
    pub reply_to: Option<User>,
    /// The message itself, when the platform shows it to others and lets a
    /// bot delete it ([`Reply::deletion`]). `None` where there is nothing
    /// to act on: a Discord slash command is seen by the bot only.
    pub message_id: Option<MessageId>,
}

/// Who sees a reply.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Audience {
    /// Everyone in the chat the message came from: only public things.
    Chat(ChatId),
    /// One user, privately (a DM; on Discord, ephemeral when possible).
    Private(PlatformUserId),
}

/// A one-tap action offered with a reply: pressing it sends `command` as if the user had typed it. The reply's text always names the command too, for platforms without buttons.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Button {
    pub label: String,
    pub command: String,
}

impl Button {
    pub fn new(label: impl Into<String>, command: impl Into<String>) -> Button {
        Button {
            label: label.into(),
            command: command.into(),
        }
    }
}

/// One message from the core.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Reply {
    pub platform: Platform,
    pub audience: Audience,
    pub text: String,
    /// The text to keep when this reply is stored (a redelivered event gets
    /// the stored replies back). `Some` when `text` holds a secret, such as
    /// a one-time code: only its hash may be stored.
    pub redacted: Option<String>,
    /// One-tap actions offered with the reply (never a secret: codes are
    /// typed, not tapped). Empty for most replies.
    pub buttons: Vec<Button>,
    /// Delete a message before sending this reply (a card number posted in
    /// a group). `None` for most replies.
    pub deletion: Option<Deletion>,
    /// A picture sent with the reply where the platform can show one (the
    /// second factor's setup QR code). `None` for most replies.
    pub image: Option<Image>,
    /// A file sent with the reply (a CSV export), to the sender privately
    /// only. `None` for most replies.
    pub document: Option<Document>,
}

/// The most bytes of an [`Image`] (Telegram takes photos up to 10 MB; a
/// QR code is a few kilobytes).
pub const IMAGE_BYTES_MAX: usize = 512 * 1024;

/// A PNG picture carried by a [`Reply`]. It may show a secret (a QR code
/// of an authenticator secret): it is never stored (a redelivered event's
/// replies come back without it), never put in the outbox and never
/// logged; Debug shows only its size.
#[derive(Clone, PartialEq, Eq)]
pub struct Image {
    png: Vec<u8>,
    /// What it shows, in words (`QR code`): for transcripts, and the
    /// caption where the platform wants one.
    pub alt: String,
}

impl Image {
    /// `None` when over [`IMAGE_BYTES_MAX`] or not a PNG.
    pub fn png(bytes: Vec<u8>, alt: impl Into<String>) -> Option<Image> {
        const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
        (bytes.len() <= IMAGE_BYTES_MAX && bytes.starts_with(SIGNATURE)).then(|| Image {
            png: bytes,
            alt: alt.into(),
        })
    }

    /// The PNG file's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.png
    }
}

impl fmt::Debug for Image {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Image")
            .field("alt", &self.alt)
            .field("bytes", &self.png.len())
            .finish()
    }
}

/// The most bytes of a [`Document`]: far under Telegram's 50 MB and
/// Discord's 10 MB for a bot's upload, and a bound on what one command
/// may make the bot build in memory.
pub const DOCUMENT_BYTES_MAX: usize = 1024 * 1024;
/// The longest file name of a [`Document`], in bytes.
pub const DOCUMENT_NAME_BYTES_MAX: usize = 64;

/// A file carried by a [`Reply`] (`paybot-history-2026-12-05.csv`). It
/// holds private history: it goes to the sender privately only (an adapter
/// drops one addressed to a chat), is never stored (a redelivered event's
/// replies come back without it, their text saying so), never put in the
/// outbox and never logged; Debug shows only its name and size.
#[derive(Clone, PartialEq, Eq)]
pub struct Document {
    name: String,
    media_type: &'static str,
    bytes: Vec<u8>,
}

impl Document {
    /// A CSV file (`text/csv`). `None` when `text` is over
    /// [`DOCUMENT_BYTES_MAX`] or `name` is not a plain file name ending in
    /// `.csv` of at most [`DOCUMENT_NAME_BYTES_MAX`] bytes (letters,
    /// digits, `-`, `_`, `.`).
    pub fn csv(name: impl Into<String>, text: String) -> Option<Document> {
        let name = name.into();
        let plain_name = name.len() <= DOCUMENT_NAME_BYTES_MAX
            && name.ends_with(".csv")
            && !name.starts_with('.')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        (plain_name && text.len() <= DOCUMENT_BYTES_MAX).then(|| Document {
            name,
            media_type: "text/csv",
            bytes: text.into_bytes(),
        })
    }

    /// The file's name, with its extension.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its media type (`text/csv`).
    pub fn media_type(&self) -> &'static str {
        self.media_type
    }

    /// The file's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl fmt::Debug for Document {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Document")
            .field("name", &self.name)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

/// A request, carried by a [`Reply`] to the chat, to delete a message in
/// that chat before the reply is sent.
///
/// Deleting is best effort: a platform may refuse (a Telegram bot needs to
/// be a group admin allowed to delete messages). So the reply's own
/// [`Reply::text`] is the one for when the message is still there (it asks
/// its author to delete it), and `text_if_deleted` replaces it once the
/// platform confirmed the deletion. An adapter that cannot delete simply
/// sends [`Reply::text`], which is then true.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Deletion {
    /// The message to delete, in the reply's chat.
    pub message: MessageId,
    /// What to send instead of [`Reply::text`] when the message was deleted.
    pub text_if_deleted: String,
}

impl Reply {
    /// The text to send for this reply, given whether its
    /// [`Reply::deletion`] (if any) succeeded.
    pub fn text_after_deletion(&self, deleted: bool) -> &str {
        match &self.deletion {
            Some(deletion) if deleted => &deletion.text_if_deleted,
            _ => &self.text,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_normalised() {
        assert_eq!(
            Handle::parse("@Bob").unwrap(),
            Handle::parse("bob").unwrap()
        );
        assert_eq!(Handle::parse("@ｂｏｂ").unwrap().as_str(), "bob");
        assert_eq!(
            Handle::parse("alice.b_99").unwrap().to_string(),
            "@alice.b_99"
        );
        for bad in ["", "@", "a b", "bob!", "@@bob", &"x".repeat(33)] {
            assert_eq!(
                Handle::parse(bad),
                Err(InputError::InvalidHandle),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn documents_are_bounded_plain_csv_files() {
        let file = Document::csv("paybot-history-2026-12-05.csv", "a,b\n1,2".into()).unwrap();
        assert_eq!(file.name(), "paybot-history-2026-12-05.csv");
        assert_eq!(file.media_type(), "text/csv");
        assert_eq!(file.bytes(), b"a,b\n1,2");
        assert_eq!(
            format!("{file:?}"),
            "Document { name: \"paybot-history-2026-12-05.csv\", bytes: 7 }"
        );
        for bad in ["", ".csv", "a/b.csv", "a b.csv", "x.txt", "é.csv"] {
            assert!(Document::csv(bad, String::new()).is_none(), "{bad:?}");
        }
        assert!(Document::csv(format!("{}.csv", "x".repeat(61)), String::new()).is_none());
        assert!(Document::csv("big.csv", "x".repeat(DOCUMENT_BYTES_MAX + 1)).is_none());
        assert!(Document::csv("big.csv", "x".repeat(DOCUMENT_BYTES_MAX)).is_some());
    }

    #[test]
    fn ids_are_bounded_and_printable() {
        assert!(PlatformUserId::new("12345").is_ok());
        assert!(PlatformUserId::new("").is_err());
        assert!(PlatformUserId::new("a\nb").is_err());
        assert!(EventId::new("x".repeat(129)).is_err());
    }

    #[test]
    fn an_event_id_ending_in_a_number_gives_its_order() {
        let order = |text: &str| EventId::new(text).unwrap().order();
        assert_eq!(order("8123456:900000123"), Some(900_000_123), "Telegram");
        assert_eq!(
            order("1182398722112233444"),
            Some(1_182_398_722_112_233_444),
            "Discord"
        );
        assert_eq!(order("alice:e17"), Some(17), "a mock client's counter");
        assert_eq!(order("alice:007"), Some(7));
        assert_eq!(order("mock-abc"), None, "no number at the end");
        assert_eq!(order("x:123456789012345678901"), None, "more than 64 bits");
        assert_eq!(order("ünï:42"), Some(42));
    }
}
