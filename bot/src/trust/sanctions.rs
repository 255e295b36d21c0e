//! Sanctions screening: OFAC's SDN list (its published CSV files, `sdn.csv`
//! and the aliases in `alt.csv`), stored whole and replaced atomically, and
//! the names paybot knows of a user screened against it with Jaro-Winkler
//! similarity.
//!
//! The design decision to know: a name is compared both whole (as written,
//! and "LASTNAME, Firstname" turned to "Firstname LASTNAME") and part by
//! part (each word paired with its most similar word of the other name,
//! whatever the order), after folding case, accents and punctuation; the
//! higher score counts. Names are not all worth the same: a legal name and a
//! card holder name are strong and hit at [`SanctionsPolicy::threshold`]; a
//! chat display name is weak (anyone can type any display name) and hits
//! only at [`SanctionsPolicy::weak_threshold`] and only when it has two
//! words or more. A screening hit is never acted on here: the policy point
//! holds the action for review ([`super::Verdict::Hold`]).
//!
//! Layout: this file holds the types, the settings and the store port;
//! `sanctions/parse.rs` reads the CSV files (with their bounds), and
//! `sanctions/matcher.rs` normalises names and builds the in-memory index
//! the bot screens against (cached in the bot, rebuilt when the stored
//! list's id changes).

mod matcher;
mod parse;

use std::fmt;

use async_trait::async_trait;

use crate::calendar::UtcMoment;
use crate::store::StoreError;

pub use matcher::{
    JOINED_LENGTH_RATIO_MIN, NAME_LETTERS_MIN, NAME_WORDS_MAX, PAIR_SIMILARITY_MIN,
    SCREENING_HITS_MAX, SHORT_NAME_LETTERS_MAX, SanctionsIndex, UNPAIRED_WORD_WEIGHT, normalize,
};
pub use parse::{
    ALIAS_NAME_CHARS_MAX, ParseError, SDN_ALIASES_MAX, SDN_ENTRIES_MAX, SDN_FILE_BYTES_MAX,
    SDN_NAME_CHARS_MAX, SDN_PROGRAM_CHARS_MAX, SDN_TYPE_CHARS_MAX, parse_alt, parse_sdn,
};

/// The lowest similarity a setting may name (below it, common names match
/// each other).
pub const SIMILARITY_SETTING_MIN: f64 = 0.80;
/// The default [`SanctionsPolicy::threshold`].
pub const THRESHOLD_DEFAULT: f64 = 0.88;
/// The default [`SanctionsPolicy::weak_threshold`].
pub const WEAK_THRESHOLD_DEFAULT: f64 = 0.95;
/// The longest name screened, in characters (longer ones are cut here).
pub const SCREENED_NAME_CHARS_MAX: usize = 256;

/// A Jaro-Winkler similarity: 0 (nothing alike) to 1 (the same).
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
pub struct Similarity(f64);

impl Similarity {
    /// `None` unless `0 <= value <= 1` (NaN is refused).
    pub fn new(value: f64) -> Option<Similarity> {
        (0.0..=1.0).contains(&value).then_some(Similarity(value))
    }

    pub fn get(self) -> f64 {
        self.0
    }
}

impl fmt::Display for Similarity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.3}", self.0)
    }
}

/// This area's settings (`[trust.sanctions]`).
#[derive(Debug, Clone, PartialEq)]
pub struct SanctionsPolicy {
    /// Screening runs at all. Off, [`crate::Bot`]'s screening finds nothing.
    pub enabled: bool,
    /// A strong name (legal name, card holder name) hits at or above this.
    pub threshold: Similarity,
    /// A weak name (a chat display name) hits at or above this, and only
    /// with two words or more.
    pub weak_threshold: Similarity,
}

impl Default for SanctionsPolicy {
    fn default() -> SanctionsPolicy {
        SanctionsPolicy {
            enabled: true,
            threshold: Similarity(THRESHOLD_DEFAULT),
            weak_threshold: Similarity(WEAK_THRESHOLD_DEFAULT),
        }
    }
}

impl SanctionsPolicy {
    /// The similarity at which a name of `source` hits.
    pub fn threshold_for(&self, source: NameSource) -> Similarity {
        if source.is_strong() {
            self.threshold
        } else {
            self.weak_threshold
        }
    }
}

/// An SDN list entry's number (`ent_num`): OFAC's unique id of a listing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntNum(i64);

impl EntNum {
    /// `None` unless positive.
    pub fn new(value: i64) -> Option<EntNum> {
        (value > 0).then_some(EntNum(value))
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for EntNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// One listing of `sdn.csv` (the columns screening needs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SdnEntry {
    pub ent_num: EntNum,
    /// `SDN_Name`: individuals as "LASTNAME, Firstname".
    pub name: String,
    /// `SDN_Type`: "individual", "vessel", "aircraft"; null for an entity.
    pub sdn_type: Option<String>,
    /// `Program`: the sanctions programs, e.g. "SDGT] [IRGC".
    pub program: Option<String>,
}

/// One alias of `alt.csv`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SdnAlias {
    /// The listing it belongs to.
    pub ent_num: EntNum,
    /// `alt_num`: the alias's own id.
    pub alt_num: i64,
    /// `alt_type`: "aka", "fka", "nka".
    pub alt_type: Option<String>,
    pub name: String,
}

/// A calendar date (UTC), `YYYY-MM-DD`: the list's publication date.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ListDate {
    year: u16,
    month: u8,
    day: u8,
}

impl ListDate {
    /// `None` unless a real day of the calendar, years 1970 to 9999.
    pub fn new(year: u16, month: u8, day: u8) -> Option<ListDate> {
        let leap =
            year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
        let days = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        ((1970..=9999).contains(&year) && (1..=days).contains(&day)).then_some(ListDate {
            year,
            month,
            day,
        })
    }

    /// Reads `YYYY-MM-DD`.
    pub fn parse(text: &str) -> Option<ListDate> {
        let mut parts = text.split('-');
        let (year, month, day) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some()
            || year.len() != 4
            || month.len() != 2
            || day.len() != 2
            || !text.bytes().all(|b| b.is_ascii_digit() || b == b'-')
        {
            return None;
        }
        ListDate::new(year.parse().ok()?, month.parse().ok()?, day.parse().ok()?)
    }

    /// The UTC day of a Unix time in milliseconds.
    pub fn from_unix_ms(unix_ms: i64) -> Option<ListDate> {
        let moment = UtcMoment::from_unix_ms(unix_ms)?;
        ListDate::new(moment.year(), moment.month(), moment.day())
    }
}

impl fmt::Display for ListDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl fmt::Debug for ListDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A whole list, as parsed and as stored: every alias belongs to an entry
/// of the list, ent_nums and alt_nums are unique, and there is at least one
/// entry (see [`SanctionsList::new`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SanctionsList {
    published: ListDate,
    entries: Vec<SdnEntry>,
    aliases: Vec<SdnAlias>,
}

/// Why a list does not hold together (the parser names the line instead).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ListError {
    #[error("the list has no entries")]
    Empty,
    #[error("over {max} entries")]
    TooManyEntries { max: usize },
    #[error("over {max} aliases")]
    TooManyAliases { max: usize },
    #[error("ent_num {0} is listed twice")]
    DuplicateEntry(EntNum),
    #[error("alt_num {0} is listed twice")]
    DuplicateAlias(i64),
    #[error("alias {alt_num} belongs to ent_num {ent_num}, which is not in the list")]
    OrphanAlias { alt_num: i64, ent_num: EntNum },
}

impl SanctionsList {
    pub fn new(
        published: ListDate,
        entries: Vec<SdnEntry>,
        aliases: Vec<SdnAlias>,
    ) -> Result<SanctionsList, ListError> {
        if entries.is_empty() {
            return Err(ListError::Empty);
        }
        if entries.len() > SDN_ENTRIES_MAX {
            return Err(ListError::TooManyEntries {
                max: SDN_ENTRIES_MAX,
            });
        }
        if aliases.len() > SDN_ALIASES_MAX {
            return Err(ListError::TooManyAliases {
                max: SDN_ALIASES_MAX,
            });
        }
        let mut ents = std::collections::HashSet::with_capacity(entries.len());
        for entry in &entries {
            if !ents.insert(entry.ent_num) {
                return Err(ListError::DuplicateEntry(entry.ent_num));
            }
        }
        let mut alts = std::collections::HashSet::with_capacity(aliases.len());
        for alias in &aliases {
            if !ents.contains(&alias.ent_num) {
                return Err(ListError::OrphanAlias {
                    alt_num: alias.alt_num,
                    ent_num: alias.ent_num,
                });
            }
            if !alts.insert(alias.alt_num) {
                return Err(ListError::DuplicateAlias(alias.alt_num));
            }
        }
        Ok(SanctionsList {
            published,
            entries,
            aliases,
        })
    }

    pub fn published(&self) -> ListDate {
        self.published
    }

    pub fn entries(&self) -> &[SdnEntry] {
        &self.entries
    }

    pub fn aliases(&self) -> &[SdnAlias] {
        &self.aliases
    }
}

/// What is recorded of the stored list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SanctionsListInfo {
    /// Grows with every load: the index is rebuilt when it changes.
    pub id: i64,
    pub published: ListDate,
    pub entries: u32,
    pub aliases: u32,
    pub loaded_at_ms: i64,
}

/// Where a screened name comes from, and so how much it is worth.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NameSource {
    /// The legal name given at verification (strong).
    LegalName,
    /// The name on a card, as the card rail returned it (strong).
    CardHolder,
    /// A chat display name (weak: anyone can type any name).
    DisplayName,
}

impl NameSource {
    pub fn is_strong(self) -> bool {
        !matches!(self, NameSource::DisplayName)
    }

    /// As in the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            NameSource::LegalName => "legal_name",
            NameSource::CardHolder => "card_holder",
            NameSource::DisplayName => "display_name",
        }
    }
}

/// A name to screen and where it came from. Cut to
/// [`SCREENED_NAME_CHARS_MAX`] characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScreenedName {
    source: NameSource,
    name: String,
}

impl ScreenedName {
    pub fn new(source: NameSource, name: &str) -> ScreenedName {
        ScreenedName {
            source,
            name: name.trim().chars().take(SCREENED_NAME_CHARS_MAX).collect(),
        }
    }

    pub fn source(&self) -> NameSource {
        self.source
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

/// A name that matched the list.
#[derive(Clone, Debug, PartialEq)]
pub struct SanctionsHit {
    pub ent_num: EntNum,
    /// The listing's primary name.
    pub name: String,
    /// The list's name that matched: the primary name or an alias.
    pub matched_name: String,
    /// The alias's `alt_num` when an alias matched.
    pub alias: Option<i64>,
    pub sdn_type: Option<String>,
    pub program: Option<String>,
    pub score: Similarity,
    /// The name of the user that matched, and its source.
    pub screened: ScreenedName,
}

/// The stored SDN list: replaced whole, read whole.
#[async_trait]
pub trait SanctionsStore: Send + Sync {
    /// Replaces the stored list with `list` in one transaction (a failure
    /// keeps the old list whole) and records its date, counts and
    /// `loaded_at_ms`. Returns what was recorded.
    async fn replace_sanctions_list(
        &self,
        list: &SanctionsList,
        loaded_at_ms: i64,
    ) -> Result<SanctionsListInfo, StoreError>;

    /// What is recorded of the stored list; `None` if none was ever loaded.
    /// One small read: the bot calls it before each screening.
    async fn sanctions_list_info(&self) -> Result<Option<SanctionsListInfo>, StoreError>;

    /// The stored list, whole, with its info (read in one transaction, so
    /// the two agree); `None` if none was ever loaded.
    async fn sanctions_list(
        &self,
    ) -> Result<Option<(SanctionsListInfo, SanctionsList)>, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_back_and_refuse_nonsense() {
        let date = ListDate::parse("2024-02-29").unwrap();
        assert_eq!(date.to_string(), "2024-02-29");
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "2024-1-01",
            "24-01-01",
            "2024-01-01-",
            "2024-00-10",
            "+024-01-01",
            "",
        ] {
            assert_eq!(ListDate::parse(bad), None, "{bad}");
        }
        assert_eq!(
            ListDate::from_unix_ms(1_700_000_000_000)
                .unwrap()
                .to_string(),
            "2023-11-14"
        );
    }

    fn entry(n: i64) -> SdnEntry {
        SdnEntry {
            ent_num: EntNum::new(n).unwrap(),
            name: format!("NAME {n}"),
            sdn_type: None,
            program: None,
        }
    }

    fn alias(ent: i64, alt: i64) -> SdnAlias {
        SdnAlias {
            ent_num: EntNum::new(ent).unwrap(),
            alt_num: alt,
            alt_type: Some("aka".to_owned()),
            name: "OTHER".to_owned(),
        }
    }

    #[test]
    fn a_list_holds_together() {
        let date = ListDate::new(2026, 1, 2).unwrap();
        assert!(SanctionsList::new(date, vec![entry(1)], vec![alias(1, 5)]).is_ok());
        assert_eq!(
            SanctionsList::new(date, vec![], vec![]),
            Err(ListError::Empty)
        );
        assert!(matches!(
            SanctionsList::new(date, vec![entry(1), entry(1)], vec![]),
            Err(ListError::DuplicateEntry(_))
        ));
        assert!(matches!(
            SanctionsList::new(date, vec![entry(1)], vec![alias(2, 5)]),
            Err(ListError::OrphanAlias { alt_num: 5, .. })
        ));
        assert!(matches!(
            SanctionsList::new(date, vec![entry(1)], vec![alias(1, 5), alias(1, 5)]),
            Err(ListError::DuplicateAlias(5))
        ));
    }

    #[test]
    fn similarity_is_bounded() {
        assert!(Similarity::new(f64::NAN).is_none());
        assert!(Similarity::new(1.01).is_none());
        assert_eq!(Similarity::new(0.9).map(Similarity::get), Some(0.9));
    }
}
