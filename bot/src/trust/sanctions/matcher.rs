//! Name matching: normalisation, and the in-memory index of the stored list
//! that screening searches.
//!
//! A name is folded to lowercase ASCII-like words: accents and diacritics
//! dropped (NFKD, combining marks removed; ß, æ, ø, ł and the like spelled
//! out), apostrophes dropped ("O'Neil" is "oneil"), any other punctuation a
//! word break ("AL-HASSAN" is "al hassan"). Two names are then scored with
//! Jaro-Winkler similarity, part by part: each word of one name paired with
//! the most similar unpaired word of the other (pairs under
//! [`PAIR_SIMILARITY_MIN`] do not pair), the pairs' similarities averaged
//! weighted by length, with unpaired words counting
//! [`UNPAIRED_WORD_WEIGHT`] of their length against the score. Order does
//! not matter ("LASTNAME, Firstname" is "Firstname Lastname"), a missing
//! middle name costs a little. Parts count only when at least two words
//! pair (or both names are one word): one shared surname is not a match.
//!
//! Names split into words differently ("Abdel Rahman", "ABDELRAHMAN") are
//! also compared whole, with the spaces taken out, when about as long (the list's "LASTNAME,
//! Firstname" turned to "Firstname LASTNAME" too), and the higher score
//! counts. Only then: Jaro-Winkler over a whole name favours a shared start,
//! so two names with the same first name and different surnames would score
//! near the threshold.
//!
//! A weak name (a chat display name) is held to more: its own, higher
//! threshold, at least two words, and parts count only when every word of
//! both names pairs (the whole name, in any order).
//!
//! To keep a screening cheap, a query is scored only against the listed
//! names holding at least one word that pairs with one of its words (the
//! index keeps each distinct word once, with the names that hold it).
//!
//! Short names would match everything: a name of under
//! [`NAME_LETTERS_MIN`] letters is not compared at all, and one of at most
//! [`SHORT_NAME_LETTERS_MAX`] letters (on either side) matches only when
//! equal after folding.

use std::collections::HashMap;

use unicode_normalization::UnicodeNormalization;

use super::{
    EntNum, NameSource, SanctionsHit, SanctionsList, SanctionsPolicy, ScreenedName, Similarity,
};

/// Names with fewer letters are never compared.
pub const NAME_LETTERS_MIN: usize = 4;
/// Names with at most this many letters match only when equal (after
/// folding case, accents and punctuation).
pub const SHORT_NAME_LETTERS_MAX: usize = 6;
/// Two words pair only when at least this similar.
pub const PAIR_SIMILARITY_MIN: f64 = 0.80;
/// How much of its length an unpaired word counts against a parts score.
pub const UNPAIRED_WORD_WEIGHT: f64 = 0.25;
/// Names split into words differently are compared whole only when the
/// shorter has at least this share of the longer's letters.
pub const JOINED_LENGTH_RATIO_MIN: f64 = 0.8;
/// Most hits one screening returns (the best, one per listing).
pub const SCREENING_HITS_MAX: usize = 20;
/// Most words of a name compared part by part (the rest are ignored).
pub const NAME_WORDS_MAX: usize = 12;

/// `name` folded to words: lowercase, no accents, no punctuation, one space
/// between words.
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut pending_space = false;
    for c in name.nfkd() {
        if unicode_normalization::char::is_combining_mark(c) || is_apostrophe(c) {
            continue;
        }
        let spelled = spell_out(c);
        if spelled.is_none() && !c.is_alphanumeric() {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        match spelled {
            Some(text) => out.push_str(text),
            None => out.extend(c.to_lowercase()),
        }
    }
    out
}

fn is_apostrophe(c: char) -> bool {
    matches!(
        c,
        '\'' | '\u{2019}' | '\u{2018}' | '\u{02BC}' | '`' | '\u{00B4}'
    )
}

/// Letters NFKD leaves whole, spelled the way names are transliterated.
fn spell_out(c: char) -> Option<&'static str> {
    Some(match c {
        'ß' | 'ẞ' => "ss",
        'æ' | 'Æ' => "ae",
        'œ' | 'Œ' => "oe",
        'ø' | 'Ø' => "o",
        'ł' | 'Ł' => "l",
        'đ' | 'Đ' | 'ð' | 'Ð' => "d",
        'þ' | 'Þ' => "th",
        'ı' => "i",
        _ => return None,
    })
}

/// A name ready to compare.
#[derive(Clone, Debug)]
struct Form {
    /// The words with nothing between.
    joined: String,
    /// "LASTNAME, Firstname" as "firstnamelastname", when written so.
    turned: Option<String>,
    words: Vec<String>,
    letters: usize,
}

impl Form {
    fn of(name: &str) -> Form {
        let whole = normalize(name);
        let turned = name.split_once(',').and_then(|(last, first)| {
            let turned = normalize(&format!("{first} {last}")).replace(' ', "");
            (!turned.is_empty()).then_some(turned)
        });
        let joined = whole.replace(' ', "");
        let words: Vec<String> = whole
            .split(' ')
            .filter(|w| !w.is_empty())
            .take(NAME_WORDS_MAX)
            .map(str::to_owned)
            .collect();
        let letters = words.iter().map(|w| w.chars().count()).sum();
        Form {
            joined,
            turned,
            words,
            letters,
        }
    }
}

/// How similar two names are (0 to 1), by the rules of this module.
/// `whole`: every word must pair (a weak name's rule).
fn similarity(query: &Form, listed: &Form, whole: bool) -> f64 {
    if query.letters < NAME_LETTERS_MIN || listed.letters < NAME_LETTERS_MIN {
        return 0.0;
    }
    if query.letters <= SHORT_NAME_LETTERS_MAX || listed.letters <= SHORT_NAME_LETTERS_MAX {
        let same = listed.joined == query.joined
            || listed.turned.as_deref() == Some(query.joined.as_str())
            || same_words(&query.words, &listed.words);
        return if same { 1.0 } else { 0.0 };
    }
    let mut best = parts(&query.words, &listed.words, whole);
    if query.words.len() != listed.words.len() && similar_lengths(query, listed) {
        best = best.max(strsim::jaro_winkler(&query.joined, &listed.joined));
        if let Some(turned) = &listed.turned {
            best = best.max(strsim::jaro_winkler(&query.joined, turned));
        }
    }
    best
}

/// Whether the two names' letters are within [`JOINED_LENGTH_RATIO_MIN`]
/// of each other (a name and a longer one that starts with it are not
/// compared whole).
fn similar_lengths(a: &Form, b: &Form) -> bool {
    let (short, long) = (a.letters.min(b.letters), a.letters.max(b.letters));
    // Letters are bounded by the name bounds: exact in f64.
    let ratio = |n: usize| u32::try_from(n).map_or(f64::MAX, f64::from);
    ratio(short) >= JOINED_LENGTH_RATIO_MIN * ratio(long)
}

fn same_words(a: &[String], b: &[String]) -> bool {
    let mut a: Vec<&String> = a.iter().collect();
    let mut b: Vec<&String> = b.iter().collect();
    a.sort();
    b.sort();
    a == b
}

/// The parts score (see the module docs); `whole`: 0 unless every word of
/// both names pairs.
fn parts(query: &[String], listed: &[String], whole: bool) -> f64 {
    let mut pairs: Vec<(f64, usize, usize)> = Vec::new();
    for (i, q) in query.iter().enumerate() {
        for (j, l) in listed.iter().enumerate() {
            let s = strsim::jaro_winkler(q, l);
            if s >= PAIR_SIMILARITY_MIN {
                pairs.push((s, i, j));
            }
        }
    }
    pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut query_paired = vec![false; query.len()];
    let mut listed_paired = vec![false; listed.len()];
    let (mut score, mut weight, mut paired) = (0.0, 0.0, 0_usize);
    for (s, i, j) in pairs {
        let (Some(qp), Some(lp)) = (query_paired.get_mut(i), listed_paired.get_mut(j)) else {
            continue;
        };
        if *qp || *lp {
            continue;
        }
        (*qp, *lp) = (true, true);
        let length = length(query.get(i)) + length(listed.get(j));
        score += s * length;
        weight += length;
        paired += 1;
    }
    let both_single = query.len() == 1 && listed.len() == 1;
    let all_paired = paired == query.len() && paired == listed.len();
    if paired == 0 || (paired < 2 && !both_single) || (whole && !all_paired) {
        return 0.0;
    }
    let unpaired = |words: &[String], flags: &[bool]| -> f64 {
        words
            .iter()
            .zip(flags)
            .filter(|(_, paired)| !**paired)
            .map(|(w, _)| length(Some(w)))
            .sum()
    };
    weight +=
        UNPAIRED_WORD_WEIGHT * (unpaired(query, &query_paired) + unpaired(listed, &listed_paired));
    if weight > 0.0 { score / weight } else { 0.0 }
}

fn length(word: Option<&String>) -> f64 {
    // Word lengths are bounded by the name bounds: exact in f64.
    word.map_or(0, |w| w.chars().count())
        .try_into()
        .map_or(0.0, |n: u32| f64::from(n))
}

/// One name of the list: a listing's primary name or an alias.
#[derive(Debug)]
struct Listed {
    /// Index into [`SanctionsIndex::entries`].
    entry: usize,
    alias: Option<i64>,
    name: String,
    form: Form,
}

/// What the index keeps of a listing.
#[derive(Debug)]
struct IndexedEntry {
    ent_num: EntNum,
    name: String,
    sdn_type: Option<String>,
    program: Option<String>,
}

/// The stored list, ready to search: every primary name and alias
/// normalised once. Built from the list by [`SanctionsIndex::build`];
/// `list_id` says which stored list it was built from.
#[derive(Debug)]
pub struct SanctionsIndex {
    list_id: i64,
    entries: Vec<IndexedEntry>,
    names: Vec<Listed>,
    /// Every distinct word of the list's names, and the names (indexes
    /// into `names`) that hold it: a name is scored only if one of its
    /// words is similar to one of the query's.
    words: Vec<(String, Vec<usize>)>,
}

impl SanctionsIndex {
    pub fn build(list_id: i64, list: &SanctionsList) -> SanctionsIndex {
        let mut positions = HashMap::with_capacity(list.entries().len());
        let mut entries = Vec::with_capacity(list.entries().len());
        let mut names = Vec::with_capacity(list.entries().len() + list.aliases().len());
        for (position, entry) in list.entries().iter().enumerate() {
            positions.insert(entry.ent_num, position);
            entries.push(IndexedEntry {
                ent_num: entry.ent_num,
                name: entry.name.clone(),
                sdn_type: entry.sdn_type.clone(),
                program: entry.program.clone(),
            });
            names.push(Listed {
                entry: position,
                alias: None,
                name: entry.name.clone(),
                form: Form::of(&entry.name),
            });
        }
        for alias in list.aliases() {
            // A list holds no alias without its entry (SanctionsList::new).
            if let Some(&position) = positions.get(&alias.ent_num) {
                names.push(Listed {
                    entry: position,
                    alias: Some(alias.alt_num),
                    name: alias.name.clone(),
                    form: Form::of(&alias.name),
                });
            }
        }
        let mut word_ids: HashMap<&str, usize> = HashMap::new();
        let mut words: Vec<(String, Vec<usize>)> = Vec::new();
        for (position, listed) in names.iter().enumerate() {
            for word in &listed.form.words {
                let id = *word_ids.entry(word.as_str()).or_insert_with(|| {
                    words.push((word.clone(), Vec::new()));
                    words.len() - 1
                });
                if let Some((_, holders)) = words.get_mut(id)
                    && holders.last() != Some(&position)
                {
                    holders.push(position);
                }
            }
        }
        SanctionsIndex {
            list_id,
            entries,
            names,
            words,
        }
    }

    /// The id of the stored list this index was built from.
    pub fn list_id(&self) -> i64 {
        self.list_id
    }

    /// Names indexed (primary names and aliases).
    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The names worth scoring against `query`: those holding a word at
    /// least [`PAIR_SIMILARITY_MIN`] similar to one of its words (without
    /// one, no word pairs and the names differ), each once.
    fn candidates<'a>(&'a self, query: &Form) -> impl Iterator<Item = &'a Listed> + 'a {
        let mut marked = vec![false; self.names.len()];
        for (word, holders) in &self.words {
            let similar = query
                .words
                .iter()
                .any(|q| strsim::jaro_winkler(q, word) >= PAIR_SIMILARITY_MIN);
            if similar {
                for &position in holders {
                    if let Some(mark) = marked.get_mut(position) {
                        *mark = true;
                    }
                }
            }
        }
        self.names
            .iter()
            .zip(marked)
            .filter_map(|(listed, marked)| marked.then_some(listed))
    }

    /// The listings `names` match under `policy`: at most
    /// [`SCREENING_HITS_MAX`], one per listing (its best-scoring name),
    /// best first. A weak name of one word is not screened.
    pub fn screen(&self, policy: &SanctionsPolicy, names: &[ScreenedName]) -> Vec<SanctionsHit> {
        let mut best: HashMap<usize, SanctionsHit> = HashMap::new();
        for screened in names {
            let query = Form::of(screened.name());
            if screened.source() == NameSource::DisplayName && query.words.len() < 2 {
                continue;
            }
            let threshold = policy.threshold_for(screened.source()).get();
            let whole = !screened.source().is_strong();
            for listed in self.candidates(&query) {
                let score = similarity(&query, &listed.form, whole);
                if score < threshold {
                    continue;
                }
                let better = best
                    .get(&listed.entry)
                    .is_none_or(|hit| score > hit.score.get());
                let (Some(entry), Some(score), true) = (
                    self.entries.get(listed.entry),
                    Similarity::new(score),
                    better,
                ) else {
                    continue;
                };
                best.insert(
                    listed.entry,
                    SanctionsHit {
                        ent_num: entry.ent_num,
                        name: entry.name.clone(),
                        matched_name: listed.name.clone(),
                        alias: listed.alias,
                        sdn_type: entry.sdn_type.clone(),
                        program: entry.program.clone(),
                        score,
                        screened: screened.clone(),
                    },
                );
            }
        }
        let mut hits: Vec<SanctionsHit> = best.into_values().collect();
        hits.sort_by(|a, b| {
            b.score
                .get()
                .total_cmp(&a.score.get())
                .then(a.ent_num.cmp(&b.ent_num))
        });
        hits.truncate(SCREENING_HITS_MAX);
        hits
    }
}

#[cfg(test)]
mod tests {
    use super::super::{ListDate, SdnAlias, SdnEntry};
    use super::*;

    #[test]
    fn names_fold_case_accents_and_punctuation() {
        assert_eq!(
            normalize("QUILLFEATHER, Bartholomew"),
            "quillfeather bartholomew"
        );
        assert_eq!(normalize("Zoë  Ångström-Łukasz"), "zoe angstrom lukasz");
        assert_eq!(normalize("O'Dubhghaill"), "odubhghaill");
        assert_eq!(normalize("Straße Æsir"), "strasse aesir");
        assert_eq!(normalize("  ..AL-ZEPHYR.. "), "al zephyr");
        assert_eq!(normalize("ＦＵＬＬ width"), "full width");
        assert_eq!(normalize("!!!"), "");
    }

    fn entry(n: i64, name: &str) -> SdnEntry {
        SdnEntry {
            ent_num: EntNum::new(n).unwrap(),
            name: name.to_owned(),
            sdn_type: Some("individual".to_owned()),
            program: Some("FICTION".to_owned()),
        }
    }

    /// Invented names only.
    fn index() -> SanctionsIndex {
        let entries = vec![
            entry(1, "QUILLFEATHER, Bartholomew Zephyr"),
            entry(2, "VANTABLOOM, Ottoline"),
            entry(3, "GLIMMERWICK TRADING COMPANY"),
            entry(4, "ZÓRVANDÉ, Ísidro"),
            entry(5, "PRAXOBEL"),
            entry(6, "NOX, Ida"),
        ];
        let aliases = vec![SdnAlias {
            ent_num: EntNum::new(2).unwrap(),
            alt_num: 20,
            alt_type: Some("aka".to_owned()),
            name: "THE MARMALADE COUNTESS".to_owned(),
        }];
        let list =
            SanctionsList::new(ListDate::new(2026, 1, 1).unwrap(), entries, aliases).unwrap();
        SanctionsIndex::build(7, &list)
    }

    fn legal(name: &str) -> ScreenedName {
        ScreenedName::new(NameSource::LegalName, name)
    }

    fn display(name: &str) -> ScreenedName {
        ScreenedName::new(NameSource::DisplayName, name)
    }

    fn hit_ents(names: &[ScreenedName]) -> Vec<i64> {
        index()
            .screen(&SanctionsPolicy::default(), names)
            .iter()
            .map(|h| h.ent_num.get())
            .collect()
    }

    #[test]
    fn the_same_name_reordered_hits() {
        let hits = index().screen(
            &SanctionsPolicy::default(),
            &[legal("Bartholomew Zephyr Quillfeather")],
        );
        let hit = hits.first().unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(hit.ent_num.get(), 1);
        assert_eq!(hit.name, "QUILLFEATHER, Bartholomew Zephyr");
        assert_eq!(hit.program.as_deref(), Some("FICTION"));
        assert!(hit.score.get() > 0.99, "{}", hit.score);
        assert_eq!(hit.screened.source(), NameSource::LegalName);
        assert_eq!(
            hit_ents(&[legal("quillfeather bartholomew zephyr")]),
            vec![1]
        );
        assert_eq!(
            hit_ents(&[legal("Zephyr, Bartholomew QUILLFEATHER")]),
            vec![1]
        );
    }

    #[test]
    fn names_split_into_words_differently_hit() {
        assert_eq!(hit_ents(&[legal("Vanta Bloom Ottoline")]), vec![2]);
        assert_eq!(hit_ents(&[legal("Ottoline Vanta-Bloom")]), vec![2]);
        assert_eq!(hit_ents(&[legal("Glimmerwicktrading Company")]), vec![3]);
    }

    #[test]
    fn a_typo_or_a_missing_middle_name_still_hits() {
        assert_eq!(hit_ents(&[legal("Bartholomew Quilfeather")]), vec![1]);
        assert_eq!(
            hit_ents(&[legal("Bartolomew Zephyr Quillfeather")]),
            vec![1]
        );
        assert_eq!(hit_ents(&[legal("Ottoline Vantablum")]), vec![2]);
    }

    #[test]
    fn diacritics_do_not_hide_a_name() {
        assert_eq!(hit_ents(&[legal("Isidro Zorvande")]), vec![4]);
        assert_eq!(
            hit_ents(&[legal("Bártholomew Zéphyr Qüillfeather")]),
            vec![1]
        );
    }

    #[test]
    fn an_alias_hits_and_says_so() {
        let hits = index().screen(
            &SanctionsPolicy::default(),
            &[ScreenedName::new(
                NameSource::CardHolder,
                "The Marmalade Countess",
            )],
        );
        let hit = hits.first().unwrap();
        assert_eq!(hit.ent_num.get(), 2);
        assert_eq!(hit.alias, Some(20));
        assert_eq!(hit.matched_name, "THE MARMALADE COUNTESS");
        assert_eq!(hit.name, "VANTABLOOM, Ottoline");
    }

    #[test]
    fn near_misses_stay_below_the_threshold() {
        for name in [
            "Bartholomew Smith",
            "Ottoline Brown",
            "Quentin Vandermeer",
            "Glimmer Wickham",
            "Isabel Zorro",
            "Barbara Quill",
        ] {
            assert_eq!(hit_ents(&[legal(name)]), Vec::<i64>::new(), "{name}");
        }
    }

    #[test]
    fn short_names_do_not_match_everything() {
        // One shared word is not a match, nor is a short near-name.
        assert_eq!(hit_ents(&[legal("Ida Quillfeather")]), Vec::<i64>::new());
        assert_eq!(hit_ents(&[legal("Ida Nix")]), Vec::<i64>::new());
        assert_eq!(hit_ents(&[legal("Nox")]), Vec::<i64>::new());
        assert_eq!(hit_ents(&[legal("Ab")]), Vec::<i64>::new());
        // But a short name that is the same, in any order, does.
        assert_eq!(hit_ents(&[legal("Ida Nox")]), vec![6]);
        assert_eq!(hit_ents(&[legal("PRAXOBEL")]), vec![5]);
        assert_eq!(hit_ents(&[legal("Praxobell")]), vec![5]);
    }

    #[test]
    fn a_display_name_is_a_weak_signal() {
        // The same typo that hits as a legal name does not as a display name.
        assert_eq!(hit_ents(&[legal("Bartholomew Quilfeather")]), vec![1]);
        assert_eq!(
            hit_ents(&[display("Bartholomew Quilfeather")]),
            Vec::<i64>::new()
        );
        // The whole name, as written or reordered, does.
        assert_eq!(
            hit_ents(&[display("Bartholomew Zephyr Quillfeather")]),
            vec![1]
        );
        // One word is never screened as a display name.
        assert_eq!(hit_ents(&[display("Praxobel")]), Vec::<i64>::new());
    }

    #[test]
    fn each_listing_is_hit_once_with_its_best_name() {
        let hits = index().screen(
            &SanctionsPolicy::default(),
            &[
                legal("Ottoline Vantabloom"),
                display("Marmalade Countess"),
                legal("Glimmerwick Trading Co"),
            ],
        );
        let ents: Vec<i64> = hits.iter().map(|h| h.ent_num.get()).collect();
        assert_eq!(ents, vec![2, 3]);
        assert_eq!(hits.first().unwrap().screened.name(), "Ottoline Vantabloom");
    }

    #[test]
    fn the_threshold_is_a_setting() {
        let strict = SanctionsPolicy {
            threshold: Similarity::new(0.99).unwrap(),
            ..SanctionsPolicy::default()
        };
        let name = [legal("Bartholomew Quilfeather")];
        assert!(index().screen(&strict, &name).is_empty());
        assert_eq!(index().screen(&SanctionsPolicy::default(), &name).len(), 1);
    }
}
