//! Spotting a card number in chat text ([`contains_card_number`]), to
//! refuse a command that holds one, warn about a group message, and
//! withhold a reply.
//!
//! The decision to know: a false alarm costs one refusal, a miss leaves a
//! card number in a group or in storage, so any Luhn-valid run of whole
//! digit groups counts, whatever its brand.

use secrecy::zeroize::Zeroize;
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfkc_quick};

use super::number::luhn_valid;
use super::{CARD_DIGITS_MAX, CARD_DIGITS_MIN};

/// Most characters between two digit groups of one number: a space, a
/// punctuation separator, a space (`4111 - 1111`).
const SEPARATOR_GAP_CHARS_MAX: usize = 3;

/// A punctuation character that people put between the digit groups of a
/// card number: dashes (any width), dots, underscores, commas, slashes and
/// middle dots or bullets (after NFKC, so full-width forms are these too).
fn is_separator_mark(c: char) -> bool {
    matches!(
        c,
        '-' | '.'
            | '_'
            | ','
            | '/'
            | '\u{00B7}'
            | '\u{2010}'..='\u{2015}'
            | '\u{2022}'
            | '\u{2024}'..='\u{2027}'
            | '\u{2212}'
            | '\u{2219}'
            | '\u{30FB}'
    )
}

/// Whether the characters between two digit groups join them into one
/// number: one whitespace character, or one separator mark with at most
/// one whitespace character on each side (`4111 1111`, `4111.1111`,
/// `4111_1111`, `4111 - 1111`). Two spaces, or two marks, do not.
fn joins_groups(gap: &[char]) -> bool {
    match gap {
        [c] => c.is_whitespace() || is_separator_mark(*c),
        [a, b] => {
            (a.is_whitespace() && is_separator_mark(*b))
                || (is_separator_mark(*a) && b.is_whitespace())
        }
        [a, b, c] => a.is_whitespace() && is_separator_mark(*b) && c.is_whitespace(),
        _ => false,
    }
}

/// Characters that are skipped when looking for digits: whatever is not
/// seen ([`crate::text::is_invisible`], a zero-width space between two
/// digits, say) and combining marks drawn over a digit.
fn is_skipped(c: char) -> bool {
    crate::text::is_invisible(c) || unicode_normalization::char::is_combining_mark(c)
}

/// Whether `text` contains something that is probably a card number: a run
/// of [`CARD_DIGITS_MIN`] to [`CARD_DIGITS_MAX`] digits, in groups split by
/// single spaces or separator marks (dashes, dots, underscores, ..., see
/// `joins_groups`), that passes the Luhn check. Used to refuse a command
/// that holds one, to warn about (and, where the platform allows, delete) a
/// group message, and to withhold a reply; it never says which digits it
/// saw.
///
/// Decisions: the text is NFKC-normalised first, so full-width digits and
/// marks count, and invisible characters and combining marks are skipped,
/// so `4111\u{200B}1111...` is seen as typed. A candidate is made of whole
/// digit groups (`4111 1111 1111 1111 20` finds the card and ignores the
/// trailing `20`), never a slice of a group, so a long number (an order id,
/// a hash) is not searched for a lucky 16-digit window. Any Luhn-valid
/// candidate counts, whatever its brand: a false alarm costs one refusal
/// or warning, a miss leaves a card number in a group or in storage.
/// One exception: a single group of 17 to [`RUN_INTO_DIGITS_MAX`] digits
/// is also searched at its two ends (a prefix or suffix of 15 or 16
/// digits), because that is how a card number typed straight into its
/// expiry or CVV, or after a stray digit, looks (`41111111111111111225`);
/// longer groups are ids or hashes and are not searched.
/// Amounts (`20`, `1,000.50`) and 6-digit codes are far too short. The
/// text is bounded upstream by `MESSAGE_TEXT_BYTES_MAX`; the work is linear
/// in it (each group starts at most one candidate of at most 19 digits,
/// plus at most 4 windows at a group's ends).
pub fn contains_card_number(text: &str) -> bool {
    // Most texts are NFKC already (any ASCII text is): normalising them
    // changes nothing, and if they hold fewer digits than any card number
    // has, there is nothing to look for. The answer is the same; only the
    // work is skipped.
    let normalised = matches!(is_nfkc_quick(text.chars()), IsNormalized::Yes);
    if normalised && text.bytes().filter(u8::is_ascii_digit).count() < CARD_DIGITS_MIN {
        return false;
    }
    let normal: String = if normalised {
        text.chars().filter(|c| !is_skipped(*c)).collect()
    } else {
        text.nfkc().filter(|c| !is_skipped(*c)).collect()
    };
    found_in(normal)
}

/// [`contains_card_number`] without its shortcut: always normalised.
#[cfg(test)]
pub(super) fn contains_card_number_normalising(text: &str) -> bool {
    found_in(text.nfkc().filter(|c| !is_skipped(*c)).collect())
}

/// Whether `normal` (NFKC, skipped characters gone) holds a card number;
/// `normal` is wiped.
fn found_in(mut normal: String) -> bool {
    let mut groups = digit_groups(&normal);
    normal.zeroize();
    let run_into = groups
        .iter()
        .any(|group| ends_hold_a_card_number(&group.digits));
    let found = run_into
        || groups.iter().enumerate().any(|(start, _)| {
            let mut candidate = String::with_capacity(CARD_DIGITS_MAX);
            let mut hit = false;
            for group in groups.iter().skip(start) {
                if group.joined_to_previous || candidate.is_empty() {
                    candidate.push_str(&group.digits);
                } else {
                    break;
                }
                if candidate.len() > CARD_DIGITS_MAX {
                    break;
                }
                if candidate.len() >= CARD_DIGITS_MIN && luhn_valid(&candidate) {
                    hit = true;
                    break;
                }
            }
            candidate.zeroize();
            hit
        });
    groups.iter_mut().for_each(|group| group.digits.zeroize());
    found
}

/// The longest single digit group whose ends are searched for a card
/// number run into other digits: a 19-digit number and a 4-digit expiry.
pub const RUN_INTO_DIGITS_MAX: usize = CARD_DIGITS_MAX + 4;
/// The card number lengths searched for at a group's ends: the common
/// ones (Amex 15, Visa, Mastercard and most others 16). Fewer windows,
/// fewer false alarms on ordinary long numbers.
const RUN_INTO_CARD_DIGITS: [usize; 2] = [15, 16];

/// Whether `digits` (a group of 17 to [`RUN_INTO_DIGITS_MAX`] digits)
/// starts or ends with a Luhn-valid card number of a common length.
fn ends_hold_a_card_number(digits: &str) -> bool {
    let len = digits.len();
    if len <= 16 || len > RUN_INTO_DIGITS_MAX {
        return false;
    }
    RUN_INTO_CARD_DIGITS.iter().any(|&window| {
        let prefix = digits.get(..window);
        let suffix = digits.get(len - window..);
        prefix.is_some_and(luhn_valid) || suffix.is_some_and(luhn_valid)
    })
}

/// A maximal run of ASCII digits, and whether the characters before it
/// join it to the run before (`joins_groups`).
struct DigitGroup {
    digits: String,
    joined_to_previous: bool,
}

fn digit_groups(text: &str) -> Vec<DigitGroup> {
    let mut groups: Vec<DigitGroup> = Vec::new();
    let mut current = String::new();
    let mut joined = false;
    // The characters since the previous group ended (one more than can
    // join, so a longer gap is seen as too long).
    let mut gap: Vec<char> = Vec::with_capacity(SEPARATOR_GAP_CHARS_MAX + 1);
    let mut gap_too_long = false;
    for c in text.chars() {
        if c.is_ascii_digit() {
            if current.is_empty() {
                joined = !groups.is_empty() && !gap_too_long && joins_groups(&gap);
            }
            current.push(c);
        } else {
            if !current.is_empty() {
                groups.push(DigitGroup {
                    digits: std::mem::take(&mut current),
                    joined_to_previous: joined,
                });
                gap.clear();
                gap_too_long = false;
            }
            if gap.len() < SEPARATOR_GAP_CHARS_MAX {
                gap.push(c);
            } else {
                gap_too_long = true;
            }
        }
    }
    if !current.is_empty() {
        groups.push(DigitGroup {
            digits: current,
            joined_to_previous: joined,
        });
    }
    groups
}
