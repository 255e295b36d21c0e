//! Unit tests of `otp.rs`.

#![allow(clippy::as_conversions)]
use super::*;

const BINDING: &[u8] = b"transfer-0001";
const NOW_MS: i64 = 1_700_000_000_000;

fn pepper(byte: u8) -> Pepper {
    Pepper::from_bytes((0..32).map(|i| byte.wrapping_add(i)).collect()).unwrap()
}

/// Replays the given `u32` draws, then repeats the last one.
#[derive(Debug)]
struct Draws(Mutex<Vec<u32>>);

impl RandomSource for Draws {
    fn fill_bytes(&self, buf: &mut [u8]) {
        let mut draws = self.0.lock().unwrap();
        let draw = if draws.len() > 1 {
            draws.remove(0)
        } else {
            draws[0]
        };
        for (i, byte) in buf.iter_mut().enumerate() {
            *byte = draw.to_le_bytes()[i % 4];
        }
    }
}

#[test]
fn codes_are_six_ascii_digits() {
    let rng = SeededRandom::new(7);
    for _ in 0..1_000 {
        let code = generate(&rng).unwrap();
        assert_eq!(code.expose().len(), OTP_DIGITS);
        assert!(code.expose().bytes().all(|b| b.is_ascii_digit()));
    }
    let code = generate(&OsRandom).unwrap();
    assert!(is_code_shape(code.expose()));
}

#[test]
fn seeded_source_replays() {
    let first = generate(&SeededRandom::new(42)).unwrap();
    let rng = SeededRandom::new(42);
    let again = generate(&rng).unwrap();
    assert_eq!(again.expose(), first.expose());
    assert_ne!(
        generate(&rng).unwrap().expose(),
        again.expose(),
        "the stream moves on"
    );
}

#[test]
fn every_digit_position_is_roughly_uniform() {
    // Chi-square over 10 digits (9 degrees of freedom) per position; the
    // 0.1% critical value is 27.88. The seed is fixed, so not flaky.
    let rng = SeededRandom::new(2024);
    let mut counts = [[0_u32; 10]; OTP_DIGITS];
    let draws = 10_000;
    for _ in 0..draws {
        let code = generate(&rng).unwrap();
        for (position, digit) in code.expose().bytes().enumerate() {
            counts[position][usize::from(digit - b'0')] += 1;
        }
    }
    let expected = f64::from(draws) / 10.0;
    for (position, row) in counts.iter().enumerate() {
        let chi2: f64 = row
            .iter()
            .map(|&n| (f64::from(n) - expected).powi(2) / expected)
            .sum();
        assert!(chi2 < 27.88, "position {position}: {row:?} chi2 {chi2}");
    }
}

#[test]
fn draws_above_the_zone_are_rejected_not_folded() {
    let rng = Draws(Mutex::new(vec![u32::MAX, OTP_DRAW_ZONE, 123]));
    assert_eq!(generate(&rng).unwrap().expose(), "000123");
    let rng = Draws(Mutex::new(vec![OTP_DRAW_ZONE - 1]));
    assert_eq!(generate(&rng).unwrap().expose(), "999999");
    assert_eq!(OTP_DRAW_ZONE, 4_294_000_000);
}

#[test]
fn a_stuck_source_is_an_error_not_a_hang() {
    let rng = Draws(Mutex::new(vec![u32::MAX]));
    assert_eq!(generate(&rng).unwrap_err(), OtpError::RandomnessExhausted);
}

#[test]
fn debug_never_shows_secrets() {
    let rng = SeededRandom::new(1);
    let code = generate(&rng).unwrap();
    let shown = format!("{code:?}");
    assert!(
        shown.contains("[REDACTED]") && !shown.contains(code.expose()),
        "{shown}"
    );

    let pepper = Pepper::from_bytes(vec![0xAB; 31].into_iter().chain([0xCD]).collect()).unwrap();
    let shown = format!("{pepper:?} {:#?}", pepper);
    assert!(shown.contains("[REDACTED]"), "{shown}");
    assert!(
        !shown.contains("171") && !shown.to_lowercase().contains("ab"),
        "{shown}"
    );

    let hash = code.hash(&pepper, BINDING);
    assert_eq!(format!("{hash:?}"), "OtpHash(..)");
    let challenge = OtpChallenge::new(hash, NOW_MS);
    assert!(!format!("{challenge:?}").contains(code.expose()));
}

#[test]
fn peppers_are_bounded_and_not_placeholders() {
    assert_eq!(
        Pepper::from_bytes(vec![1; 31]).unwrap_err(),
        OtpError::PepperLength { bytes: 31 }
    );
    assert_eq!(
        Pepper::from_bytes(vec![1; 65]).unwrap_err(),
        OtpError::PepperLength { bytes: 65 }
    );
    assert_eq!(
        Pepper::from_bytes(vec![0; 32]).unwrap_err(),
        OtpError::PepperConstant
    );
    assert!(Pepper::from_bytes((0..64).collect()).is_ok());
    let generated = Pepper::generate(&SeededRandom::new(3));
    assert_eq!(generated.0.expose_secret().len(), PEPPER_BYTES_GENERATED);
}

#[test]
fn keyed_mac_is_standard_hmac_sha256() {
    // RFC 4231 test case 2 (a 4-byte key, padded like any short key).
    let tag = keyed_mac(b"Jefe")
        .chain_update(b"what do ya want for nothing?")
        .finalize()
        .into_bytes();
    let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        hex,
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
    for len in [PEPPER_BYTES_MIN, 48, PEPPER_BYTES_MAX] {
        let key: Vec<u8> = (0..len).map(|i| u8::try_from(i).unwrap()).collect();
        let ours = keyed_mac(&key).chain_update(b"x").finalize().into_bytes();
        let reference = HmacSha256::new_from_slice(&key)
            .unwrap()
            .chain_update(b"x")
            .finalize()
            .into_bytes();
        assert_eq!(ours, reference, "{len}-byte key");
    }
}

#[test]
fn a_hash_binds_code_payment_and_pepper() {
    let (p1, p2) = (pepper(1), pepper(2));
    let hash = OtpHash::hash(&p1, BINDING, "042042");
    assert!(hash.matches(&p1, BINDING, "042042"));
    assert!(!hash.matches(&p1, BINDING, "042043"), "other code");
    assert!(
        !hash.matches(&p1, b"transfer-0002", "042042"),
        "other payment"
    );
    assert!(!hash.matches(&p2, BINDING, "042042"), "other pepper");
    for malformed in ["42042", "0420420", " 042042", "042 042", "04204２", ""] {
        assert!(!hash.matches(&p1, BINDING, malformed), "{malformed:?}");
    }
    // The separator byte keeps binding and digits apart.
    let shifted = OtpHash::hash(&p1, b"transfer-00010", "42042\0");
    assert!(!shifted.matches(&p1, BINDING, "042042"));
}

#[test]
fn hashes_survive_storage() {
    let p = pepper(9);
    let code = generate(&SeededRandom::new(5)).unwrap();
    let stored = code.hash(&p, BINDING).to_bytes();
    let loaded = OtpHash::from_bytes(&stored).unwrap();
    assert!(loaded.matches(&p, BINDING, code.expose()));
    assert_eq!(
        OtpHash::from_bytes(&stored[..31]).unwrap_err(),
        OtpError::HashLength { bytes: 31 }
    );
}

struct Case {
    pepper: Pepper,
    policy: OtpPolicy,
    challenge: OtpChallenge,
}

fn case() -> Case {
    let pepper = pepper(4);
    let challenge = OtpChallenge::new(OtpHash::hash(&pepper, BINDING, "314159"), NOW_MS);
    Case {
        pepper,
        policy: OtpPolicy::default(),
        challenge,
    }
}

impl Case {
    fn try_code(&self, code: &str, now_ms: i64) -> Verdict {
        self.challenge
            .verdict(&self.policy, &self.pepper, BINDING, code, now_ms)
    }
}

#[test]
fn policy_defaults() {
    assert_eq!(
        OtpPolicy::default(),
        OtpPolicy {
            ttl_secs: 300,
            attempts_max: 5
        }
    );
    assert_eq!(OtpPolicy::default().ttl_ms(), 300_000);
}

#[test]
fn the_right_code_in_time_confirms() {
    let case = case();
    assert_eq!(case.try_code("314159", NOW_MS), Verdict::Confirmed);
    assert_eq!(
        case.try_code("314159", NOW_MS + 299_999),
        Verdict::Confirmed
    );
    assert_eq!(
        case.try_code("314 159", NOW_MS),
        Verdict::Wrong { attempts_left: 4 }
    );
    let other_payment =
        case.challenge
            .verdict(&case.policy, &case.pepper, b"other", "314159", NOW_MS);
    assert_eq!(other_payment, Verdict::Wrong { attempts_left: 4 });
}

#[test]
fn wrong_codes_count_down_and_the_fifth_locks_out() {
    let mut case = case();
    for attempts_left in [4, 3, 2, 1] {
        assert_eq!(
            case.try_code("000000", NOW_MS + 1_000),
            Verdict::Wrong { attempts_left }
        );
        case.challenge = case.challenge.after_wrong();
    }
    assert_eq!(case.challenge.failed_attempts, 4);
    assert_eq!(case.try_code("000000", NOW_MS + 1_000), Verdict::LockedOut);
    assert_eq!(
        case.try_code("314159", NOW_MS + 1_000),
        Verdict::Confirmed,
        "the 5th try may still be right"
    );
    case.challenge = case.challenge.after_wrong();
    assert_eq!(
        case.try_code("314159", NOW_MS + 1_000),
        Verdict::LockedOut,
        "right code after lockout"
    );
    case.challenge.failed_attempts = u8::MAX;
    assert_eq!(case.try_code("314159", NOW_MS + 1_000), Verdict::LockedOut);
}

#[test]
fn expiry_wins() {
    let mut case = case();
    let at_ttl = NOW_MS + 300_000;
    assert_eq!(case.challenge.expires_at_ms(&case.policy), at_ttl);
    assert_eq!(case.try_code("314159", at_ttl - 1), Verdict::Confirmed);
    assert_eq!(
        case.try_code("314159", at_ttl),
        Verdict::Expired,
        "exactly at the TTL"
    );
    assert_eq!(case.try_code("000000", at_ttl + 1), Verdict::Expired);
    case.challenge.failed_attempts = 5;
    assert_eq!(
        case.try_code("314159", at_ttl),
        Verdict::Expired,
        "expiry before lockout"
    );
}

#[test]
fn clock_skew_is_tolerated_within_a_bound() {
    let case = case();
    assert_eq!(
        case.try_code("314159", NOW_MS - OTP_CLOCK_SKEW_MS_MAX),
        Verdict::Confirmed
    );
    assert_eq!(
        case.try_code("314159", NOW_MS - OTP_CLOCK_SKEW_MS_MAX - 1),
        Verdict::Expired
    );
    assert!(case.challenge.is_expired(&case.policy, i64::MIN));
    assert!(case.challenge.is_expired(&case.policy, i64::MAX));
}

#[test]
fn odd_policies_stay_closed() {
    let mut case = case();
    case.policy = OtpPolicy {
        ttl_secs: 0,
        attempts_max: 5,
    };
    assert_eq!(case.try_code("314159", NOW_MS), Verdict::Expired);
    case.policy = OtpPolicy {
        ttl_secs: 300,
        attempts_max: 0,
    };
    assert_eq!(case.try_code("314159", NOW_MS), Verdict::LockedOut);
    case.policy = OtpPolicy {
        ttl_secs: 300,
        attempts_max: 1,
    };
    assert_eq!(case.try_code("000000", NOW_MS), Verdict::LockedOut);
    case.policy = OtpPolicy {
        ttl_secs: u32::MAX,
        attempts_max: u8::MAX,
    };
    assert_eq!(
        case.try_code("000000", NOW_MS),
        Verdict::Wrong { attempts_left: 254 }
    );
}

fn found(text: &str) -> Vec<String> {
    find_codes(text).collect()
}

#[test]
fn codes_are_found_in_chat_text() {
    assert_eq!(found("my code is 123456"), ["123456"]);
    assert_eq!(found("123 456 pls"), ["123456"]);
    assert_eq!(found("(123-456)"), ["123456"]);
    assert_eq!(found("123456"), ["123456"]);
    assert_eq!(found("a 000001 b 999999"), ["000001", "999999"]);
    assert_eq!(found("full width １２３４５６"), ["123456"]);
    assert_eq!(found("id123456x"), ["123456"]);
    assert_eq!(
        found("paid 20.123456"),
        ["123456"],
        "decimals are candidates too"
    );
    assert_eq!(
        found("call 020 123 456"),
        ["020123", "123456"],
        "overlaps are all candidates"
    );
}

#[test]
fn other_numbers_are_not_codes() {
    for text in [
        "",
        "no digits",
        "12345",
        "1234567",
        "pay 20",
        "1,234,567",
        "123  456",
        "123 - 456",
        "1234 56",
        "123 4567",
        "123_456",
        "123.456",
        "20.00",
    ] {
        assert_eq!(found(text), Vec::<String>::new(), "{text:?}");
    }
}
