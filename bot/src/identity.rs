//! Telling people apart by handle.
//!
//! Handles are lookup keys, platform ids are the identity; but a payer types
//! a handle, so a payee whose handle looks like another known one (`@bоb`
//! with a Cyrillic `о` next to `@bob`) gets a warning before confirmation.
//! The design decision to know: "looks like" is the Unicode TR39 skeleton,
//! case-folded. Handles are already lower case, and TR39 maps some
//! lower-case look-alikes to capitals (`0` → `O`), which would never meet a
//! lower-case handle; so the skeleton is lower-cased and skeletonised again.
//! That only merges more handles than TR39 alone: a false alarm costs one
//! warning, a miss can cost someone's money.

use crate::message::Handle;

/// The folded TR39 skeleton of a (normalised) handle: `b0b`, `bоb` (Cyrillic
/// `о`) and `bob` all give `bob`; `a1ice` gives `alice`; `mary` gives
/// `rnary`, like `rnary`.
pub fn skeleton(handle: &Handle) -> String {
    let tr39: String = unicode_security::skeleton(handle.as_str()).collect();
    let folded: String = tr39.chars().flat_map(char::to_lowercase).collect();
    unicode_security::skeleton(&folded).collect()
}

/// The first handle in `known`, other than `payee` itself, that has the same
/// [`skeleton`] as `payee`, if any. `known` is the caller's bounded list
/// (e.g. the members seen in this chat); each entry costs one skeleton of at
/// most `HANDLE_CHARS_MAX` characters.
pub fn confusable_with<'a>(
    payee: &Handle,
    known: impl IntoIterator<Item = &'a Handle>,
) -> Option<&'a Handle> {
    let wanted = skeleton(payee);
    known
        .into_iter()
        .find(|other| *other != payee && skeleton(other) == wanted)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::as_conversions)]
    use super::*;

    fn handle(text: &str) -> Handle {
        Handle::parse(text).unwrap()
    }

    /// Pairs that TR39 (after folding) maps together.
    const LOOK_ALIKES: &[(&str, &str)] = &[
        ("bob", "b\u{43e}b"),         // Cyrillic о
        ("alice", "\u{430}lice"),     // Cyrillic а
        ("pete", "p\u{435}t\u{435}"), // Cyrillic е
        ("oscar", "\u{3bf}scar"),     // Greek ο
        ("sam", "\u{455}am"),         // Cyrillic ѕ
        ("alice", "a1ice"),           // 1 → l
        ("paypal", "paypa1"),
        ("mary", "rnary"),      // m → rn
        ("bob", "b0b"),         // 0 → O, folded to o
        ("ivan", "\u{131}van"), // dotless ı
        ("dan", "\u{501}an"),   // Cyrillic ԁ
    ];

    #[test]
    fn skeletons_fold_known_look_alikes() {
        assert_eq!(skeleton(&handle("b0b")), "bob");
        assert_eq!(skeleton(&handle("a1ice")), "alice");
        assert_eq!(skeleton(&handle("mary")), "rnary");
        assert_eq!(skeleton(&handle("@Bob")), "bob");
        for (plain, look_alike) in LOOK_ALIKES {
            let (plain, look_alike) = (handle(plain), handle(look_alike));
            assert_ne!(plain, look_alike, "{look_alike:?} is a distinct handle");
            assert_eq!(
                skeleton(&plain),
                skeleton(&look_alike),
                "{plain:?} vs {look_alike:?}"
            );
        }
    }

    #[test]
    fn a_look_alike_payee_is_flagged() {
        for (plain, look_alike) in LOOK_ALIKES {
            let (plain, look_alike) = (handle(plain), handle(look_alike));
            let known = [handle("zed"), plain.clone()];
            assert_eq!(confusable_with(&look_alike, &known), Some(&plain));
            let known = [look_alike.clone()];
            assert_eq!(
                confusable_with(&plain, &known),
                Some(&look_alike),
                "both ways"
            );
        }
    }

    #[test]
    fn different_looking_handles_are_not_flagged() {
        for (a, b) in [
            ("bob", "rob"),
            ("ann", "anna"),
            ("alice", "alicia"),
            ("bob_1", "bob_2"),
            ("al", "ai"),
        ] {
            let (a, b) = (handle(a), handle(b));
            assert_ne!(skeleton(&a), skeleton(&b), "{a:?} vs {b:?}");
            assert_eq!(confusable_with(&a, [&b]), None);
        }
    }

    #[test]
    fn the_payee_itself_is_not_a_look_alike() {
        let bob = handle("bob");
        assert_eq!(
            confusable_with(&bob, [&handle("@Bob"), &handle("ｂｏｂ")]),
            None,
            "same handle after normalisation"
        );
        assert_eq!(confusable_with(&bob, []), None);
        let b0b = handle("b0b");
        let known = [handle("bob"), handle("b0b"), handle("b\u{43e}b")];
        assert_eq!(
            confusable_with(&b0b, &known),
            Some(&known[0]),
            "the first look-alike"
        );
    }
}
