//! Splitting a bill between people, exactly, in minor units.
//!
//! The design decision to know: shares are integers that always add up to
//! the total, never rounded floats. An equal split gives everyone
//! `total / n` and hands the `total % n` leftover units, one each, to the
//! first participants in the order given, so the same split always comes out
//! the same way: 10.00 between 3 people is 3.34, 3.33, 3.33.
//!
//! Convention for [`with_exact_shares`]: the caller lists every participant
//! who shares the bill, in order, the sender included; a participant whose
//! share was not given (usually the sender) is `None`, and the `None`s split
//! what the fixed shares leave. When every *other* participant's share is
//! fixed, the caller leaves the sender out: the shares then add up to at most
//! the total, and `total - sum` (possibly 0) is the sender's own part.

/// Most people in one split, not counting the sender (the most `/split`
/// may name).
pub const SPLIT_MENTIONS_MAX: usize = 20;
/// The most people in one split: the sender plus 20.
pub const SPLIT_PARTICIPANTS_MAX: usize = SPLIT_MENTIONS_MAX + 1;

/// Why a split cannot be made. Each maps to one usage reply in the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    #[error("a split needs at least one participant")]
    NoParticipants,
    #[error("a split has at most {SPLIT_PARTICIPANTS_MAX} participants, not {count}")]
    TooManyParticipants { count: usize },
    #[error("the total must be more than zero")]
    TotalNotPositive,
    #[error("{total_minor} minor units cannot give each of {participants} participants at least 1")]
    TotalTooSmall {
        total_minor: i64,
        participants: usize,
    },
    #[error("participant {index}'s fixed share must be more than zero")]
    FixedShareNotPositive { index: usize },
    #[error("the fixed shares add up to more than the total")]
    FixedSharesExceedTotal,
    #[error("the {rest_minor} minor units left cannot give each of {open} participants at least 1")]
    RestTooSmall { rest_minor: i64, open: usize },
}

/// Splits `total_minor` between `participants` people: shares differ by at
/// most 1 unit, add up to exactly `total_minor`, and the larger ones come
/// first (`equal_shares(1000, 3)` is `[334, 333, 333]`). Nobody may owe 0.
pub fn equal_shares(total_minor: i64, participants: usize) -> Result<Vec<i64>, SplitError> {
    check_participants(participants)?;
    if total_minor <= 0 {
        return Err(SplitError::TotalNotPositive);
    }
    split_evenly(total_minor, participants).ok_or(SplitError::TotalTooSmall {
        total_minor,
        participants,
    })
}

/// Splits `total_minor` with some shares fixed: `Some(x)` is a share of `x`
/// units, and the `None`s split the rest as [`equal_shares`] would (the
/// leftover units to the first `None`s in order), at least 1 unit each. The
/// result has one share per entry of `exact`, in order.
///
/// If any entry is `None`, the shares add up to exactly `total_minor`. If
/// every entry is fixed, they add up to at most `total_minor` and the
/// difference (possibly 0) is the caller's own part (see the module docs).
pub fn with_exact_shares(total_minor: i64, exact: &[Option<i64>]) -> Result<Vec<i64>, SplitError> {
    check_participants(exact.len())?;
    if total_minor <= 0 {
        return Err(SplitError::TotalNotPositive);
    }
    let mut fixed_minor: i64 = 0;
    for (index, share) in exact.iter().enumerate() {
        if let Some(share) = *share {
            if share <= 0 {
                return Err(SplitError::FixedShareNotPositive { index });
            }
            fixed_minor = fixed_minor
                .checked_add(share)
                .filter(|sum| *sum <= total_minor)
                .ok_or(SplitError::FixedSharesExceedTotal)?;
        }
    }
    let open = exact.iter().filter(|share| share.is_none()).count();
    if open == 0 {
        return Ok(exact.iter().flatten().copied().collect());
    }
    let rest_minor = total_minor - fixed_minor;
    let mut evens = split_evenly(rest_minor, open)
        .ok_or(SplitError::RestTooSmall { rest_minor, open })?
        .into_iter();
    // `evens` has exactly one share per `None`, so the fallback never runs.
    Ok(exact
        .iter()
        .map(|share| share.or_else(|| evens.next()).unwrap_or(0))
        .collect())
}

fn check_participants(count: usize) -> Result<(), SplitError> {
    match count {
        0 => Err(SplitError::NoParticipants),
        n if n > SPLIT_PARTICIPANTS_MAX => Err(SplitError::TooManyParticipants { count }),
        _ => Ok(()),
    }
}

/// `amount` in `count` shares differing by at most 1, larger first; `None`
/// unless every share is at least 1.
fn split_evenly(amount: i64, count: usize) -> Option<Vec<i64>> {
    let n = i64::try_from(count).ok()?;
    if n == 0 || amount < n {
        return None;
    }
    let (base, leftover) = (amount / n, amount % n);
    Some((0..n).map(|i| base + i64::from(i < leftover)).collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::as_conversions)]
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn leftover_units_go_to_the_first_participants() {
        assert_eq!(equal_shares(1000, 3).unwrap(), [334, 333, 333]);
        assert_eq!(equal_shares(1001, 3).unwrap(), [334, 334, 333]);
        assert_eq!(equal_shares(999, 3).unwrap(), [333, 333, 333]);
        assert_eq!(equal_shares(1000, 1).unwrap(), [1000]);
        assert_eq!(equal_shares(21, 21).unwrap(), vec![1; 21]);
        let huge = equal_shares(i64::MAX, SPLIT_PARTICIPANTS_MAX).unwrap();
        assert_eq!(
            huge.iter().map(|&s| i128::from(s)).sum::<i128>(),
            i128::from(i64::MAX)
        );
    }

    #[test]
    fn impossible_equal_splits_are_refused() {
        assert_eq!(equal_shares(1000, 0), Err(SplitError::NoParticipants));
        assert_eq!(
            equal_shares(1000, 22),
            Err(SplitError::TooManyParticipants { count: 22 })
        );
        assert_eq!(equal_shares(0, 2), Err(SplitError::TotalNotPositive));
        assert_eq!(equal_shares(-5, 2), Err(SplitError::TotalNotPositive));
        assert_eq!(
            equal_shares(2, 3),
            Err(SplitError::TotalTooSmall {
                total_minor: 2,
                participants: 3
            })
        );
    }

    #[test]
    fn open_shares_split_what_fixed_ones_leave() {
        // /split 60.00 @bob 20.00 @carol: sender and carol split 40.00.
        assert_eq!(
            with_exact_shares(6000, &[None, Some(2000), None]).unwrap(),
            [2000, 2000, 2000]
        );
        assert_eq!(
            with_exact_shares(6001, &[None, Some(1000), None]).unwrap(),
            [2501, 1000, 2500]
        );
        assert_eq!(
            with_exact_shares(6000, &[None, None, None]).unwrap(),
            equal_shares(6000, 3).unwrap()
        );
        assert_eq!(
            with_exact_shares(6000, &[Some(5999), None]).unwrap(),
            [5999, 1]
        );
    }

    #[test]
    fn all_fixed_leaves_the_rest_to_the_sender() {
        assert_eq!(
            with_exact_shares(6000, &[Some(3000), Some(3000)]).unwrap(),
            [3000, 3000]
        );
        let shares = with_exact_shares(6000, &[Some(2000), Some(2500)]).unwrap();
        assert_eq!(shares, [2000, 2500]);
        assert_eq!(6000 - shares.iter().sum::<i64>(), 1500, "the sender's part");
    }

    #[test]
    fn impossible_exact_splits_are_refused() {
        assert_eq!(with_exact_shares(100, &[]), Err(SplitError::NoParticipants));
        assert_eq!(
            with_exact_shares(100, &[None; 22]),
            Err(SplitError::TooManyParticipants { count: 22 })
        );
        assert_eq!(
            with_exact_shares(0, &[None]),
            Err(SplitError::TotalNotPositive)
        );
        assert_eq!(
            with_exact_shares(100, &[None, Some(0)]),
            Err(SplitError::FixedShareNotPositive { index: 1 })
        );
        assert_eq!(
            with_exact_shares(100, &[Some(-1), None]),
            Err(SplitError::FixedShareNotPositive { index: 0 })
        );
        assert_eq!(
            with_exact_shares(100, &[Some(60), Some(41)]),
            Err(SplitError::FixedSharesExceedTotal)
        );
        assert_eq!(
            with_exact_shares(100, &[Some(i64::MAX), Some(i64::MAX)]),
            Err(SplitError::FixedSharesExceedTotal),
            "no overflow"
        );
        assert_eq!(
            with_exact_shares(100, &[None, Some(100)]),
            Err(SplitError::RestTooSmall {
                rest_minor: 0,
                open: 1
            })
        );
        assert_eq!(
            with_exact_shares(100, &[None, Some(99), None]),
            Err(SplitError::RestTooSmall {
                rest_minor: 1,
                open: 2
            })
        );
    }

    fn spread(shares: &[i64]) -> i64 {
        shares.iter().max().unwrap() - shares.iter().min().unwrap()
    }

    proptest! {
        #[test]
        fn equal_splits_are_exact_fair_and_deterministic(
            participants in 1..=SPLIT_PARTICIPANTS_MAX,
            total_minor in 1..=i64::MAX,
        ) {
            match equal_shares(total_minor, participants) {
                Ok(shares) => {
                    prop_assert_eq!(shares.len(), participants);
                    let sum = shares.iter().map(|&s| i128::from(s)).sum::<i128>();
                    prop_assert_eq!(sum, i128::from(total_minor));
                    prop_assert!(spread(&shares) <= 1);
                    prop_assert!(shares.iter().all(|&s| s >= 1));
                    prop_assert!(shares.windows(2).all(|w| w[0] >= w[1]), "larger shares first");
                    prop_assert_eq!(equal_shares(total_minor, participants).unwrap(), shares);
                }
                Err(error) => {
                    prop_assert!(total_minor < participants as i64);
                    prop_assert_eq!(error, SplitError::TotalTooSmall { total_minor, participants });
                }
            }
        }

        #[test]
        fn small_equal_splits_are_exact(
            participants in 1..=SPLIT_PARTICIPANTS_MAX,
            total_minor in 1..10_000_i64,
        ) {
            if let Ok(shares) = equal_shares(total_minor, participants) {
                prop_assert_eq!(shares.iter().sum::<i64>(), total_minor);
                prop_assert!(spread(&shares) <= 1);
            }
        }

        #[test]
        fn exact_splits_add_up(
            exact in prop::collection::vec(
                prop::option::of(1..1_000_000_i64),
                1..=SPLIT_PARTICIPANTS_MAX,
            ),
            extra_minor in 0..1_000_000_i64,
        ) {
            let fixed: i64 = exact.iter().flatten().sum();
            let open = exact.iter().filter(|s| s.is_none()).count() as i64;
            // Enough for every open share to get at least 1.
            let total_minor = fixed + open + extra_minor;
            let shares = with_exact_shares(total_minor, &exact).unwrap();
            prop_assert_eq!(shares.len(), exact.len());
            for (share, wanted) in shares.iter().zip(&exact) {
                if let Some(wanted) = wanted {
                    prop_assert_eq!(share, wanted);
                }
            }
            let opens: Vec<i64> = shares
                .iter()
                .zip(&exact)
                .filter(|(_, wanted)| wanted.is_none())
                .map(|(share, _)| *share)
                .collect();
            if opens.is_empty() {
                prop_assert!(shares.iter().sum::<i64>() <= total_minor);
            } else {
                prop_assert_eq!(shares.iter().sum::<i64>(), total_minor);
                prop_assert!(spread(&opens) <= 1);
                prop_assert!(opens.iter().all(|&s| s >= 1));
                let rest_split = equal_shares(total_minor - fixed, opens.len()).unwrap();
                prop_assert_eq!(opens, rest_split);
            }
            prop_assert_eq!(with_exact_shares(total_minor, &exact).unwrap(), shares);
        }

        #[test]
        fn exact_splits_never_panic(
            total_minor in any::<i64>(),
            exact in prop::collection::vec(
                prop::option::of(any::<i64>()),
                0..=SPLIT_PARTICIPANTS_MAX + 2,
            ),
        ) {
            if let Ok(shares) = with_exact_shares(total_minor, &exact) {
                let sum = shares.iter().map(|&s| i128::from(s)).sum::<i128>();
                prop_assert!(sum <= i128::from(total_minor));
                prop_assert!(shares.iter().all(|&s| s >= 1));
            }
        }
    }
}
