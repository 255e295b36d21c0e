//! The second factor's pure parts: RFC 6238's vector, skew, sealing,
//! base32, recovery codes, the QR picture and the per-tier thresholds.

use super::*;
use crate::otp::SeededRandom;

fn rfc_secret() -> TotpSecret {
    TotpSecret::from_bytes(b"12345678901234567890".to_vec()).unwrap()
}

#[test]
fn rfc6238_sha1_vector() {
    // RFC 6238 appendix B: T = 59 s, SHA-1, 8 digits: 94287082.
    let totp = totp_rs::Builder::new()
        .with_algorithm(totp_rs::Algorithm::SHA1)
        .with_digits(8)
        .with_secret(b"12345678901234567890".to_vec())
        .build()
        .unwrap();
    assert_eq!(totp.generate(59).to_string(), "94287082");
    assert_eq!(totp.generate(1_111_111_109).to_string(), "07081804");
    // Ours: the same, truncated to 6 digits.
    assert_eq!(rfc_secret().code_at(59_000).unwrap(), "287082");
}

#[test]
fn codes_are_accepted_within_one_step_of_skew() {
    let secret = rfc_secret();
    let now_ms = 1_700_000_000_000;
    let code = TotpCode::parse(&secret.code_at(now_ms).unwrap()).unwrap();
    let step = secret.step_of(&code, now_ms).unwrap().unwrap();
    assert_eq!(step, now_ms / 30_000);
    assert_eq!(secret.step_of(&code, now_ms + 30_000).unwrap(), Some(step));
    assert_eq!(secret.step_of(&code, now_ms - 30_000).unwrap(), Some(step));
    assert_eq!(secret.step_of(&code, now_ms + 90_000).unwrap(), None);
}

#[test]
fn secrets_seal_and_open_only_for_their_user_and_key() {
    let rng = SeededRandom::new(7);
    let key = SealKey::derive(&Pepper::generate(&rng));
    let other_key = SealKey::derive(&Pepper::generate(&rng));
    let secret = TotpSecret::generate(&rng);
    let sealed = seal(&key, UserId(1), &secret, &rng).unwrap();
    assert_eq!(sealed.ciphertext.len(), SEALED_SECRET_BYTES);
    assert_ne!(
        &sealed.ciphertext[..TOTP_SECRET_BYTES],
        secret.0.expose_secret()
    );
    let opened = unseal(&key, UserId(1), &sealed).unwrap();
    assert_eq!(opened.base32(), secret.base32());
    assert_eq!(
        unseal(&key, UserId(2), &sealed).unwrap_err(),
        SecondFactorError::Unseal
    );
    assert_eq!(
        unseal(&other_key, UserId(1), &sealed).unwrap_err(),
        SecondFactorError::Unseal
    );
    let mut tampered = sealed.clone();
    tampered.ciphertext[0] ^= 1;
    assert!(unseal(&key, UserId(1), &tampered).is_err());
}

#[test]
fn base32_round_trips_and_groups() {
    let secret = TotpSecret::generate(&SeededRandom::new(3));
    let text = secret.base32();
    assert_eq!(text.len(), TOTP_SECRET_BASE32_CHARS);
    let grouped = secret.grouped();
    assert_eq!(grouped.split(' ').count(), 8);
    let back = TotpSecret::from_base32(&grouped.to_lowercase()).unwrap();
    assert_eq!(back.base32(), text);
    assert!(
        secret
            .otpauth_uri("@alice b")
            .starts_with("otpauth://totp/paybot:@alice%20b?secret=")
    );
}

#[test]
fn recovery_codes_parse_in_any_case_with_or_without_the_dash() {
    let code = RecoveryCode::generate(&SeededRandom::new(5));
    let grouped = code.grouped();
    assert_eq!(grouped.len(), RECOVERY_CODE_CHARS + 1);
    assert_eq!(RecoveryCode::parse(&grouped), Some(code.clone()));
    assert_eq!(
        RecoveryCode::parse(&grouped.to_lowercase()),
        Some(code.clone())
    );
    assert_eq!(RecoveryCode::parse(&grouped.replace('-', "")), Some(code));
    assert_eq!(RecoveryCode::parse("ABCDE-FGHI1"), None);
    assert_eq!(RecoveryCode::parse("ABCDE"), None);
    assert!(matches!(
        TotpOrRecovery::parse("123456"),
        Some(TotpOrRecovery::Totp(_))
    ));
    assert_eq!(TotpOrRecovery::parse("12345"), None);
}

#[test]
fn qr_code_is_a_png() {
    let png = qr_png(&SecretString::from("otpauth://totp/paybot:x?secret=AAAA")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
}

#[test]
fn thresholds_come_from_the_highest_row_at_or_below_the_tier() {
    let usd = |minor| Amount::from_minor(minor, Currency::USD).unwrap();
    let policy = SecondFactorPolicy {
        tiers: vec![
            SecondFactorTier {
                tier: Tier::ZERO,
                code_above: vec![usd(10_000)],
                refuse_unenrolled_above: vec![usd(5_000)],
            },
            SecondFactorTier {
                tier: Tier::new(2).unwrap(),
                code_above: vec![usd(100_000)],
                refuse_unenrolled_above: vec![],
            },
        ],
        ..SecondFactorPolicy::default()
    };
    assert_eq!(
        policy.code_above(Tier::new(1).unwrap(), Currency::USD),
        Some(usd(10_000))
    );
    assert_eq!(
        policy.code_above(Tier::new(3).unwrap(), Currency::USD),
        Some(usd(100_000))
    );
    assert_eq!(
        policy.refuse_unenrolled_above(Tier::new(2).unwrap(), Currency::USD),
        None
    );
    assert_eq!(policy.code_above(Tier::ZERO, Currency::EUR), None);
}

#[test]
fn an_amount_no_tier_would_stop_is_known_without_a_tier() {
    let usd = |minor| Amount::from_minor(minor, Currency::USD).unwrap();
    let eur = |minor| Amount::from_minor(minor, Currency::EUR).unwrap();
    let policy = SecondFactorPolicy {
        tiers: vec![
            SecondFactorTier {
                tier: Tier::ZERO,
                code_above: vec![usd(10_000)],
                refuse_unenrolled_above: vec![usd(5_000)],
            },
            SecondFactorTier {
                tier: Tier::new(2).unwrap(),
                code_above: vec![usd(100_000)],
                refuse_unenrolled_above: vec![],
            },
        ],
        ..SecondFactorPolicy::default()
    };
    // At or below every tier's threshold: no tier asks or refuses.
    assert!(!policy.code_above_at_some_tier(usd(10_000)));
    assert!(!policy.refuses_unenrolled_at_some_tier(usd(5_000)));
    // Above one tier's threshold: that tier would.
    assert!(policy.code_above_at_some_tier(usd(10_001)));
    assert!(policy.refuses_unenrolled_at_some_tier(usd(5_001)));
    // A currency no tier lists is never stopped.
    assert!(!policy.code_above_at_some_tier(eur(1_000_000)));
    assert!(!policy.refuses_unenrolled_at_some_tier(eur(1_000_000)));
    // Agrees with the per-tier answer on every tier.
    for amount in [usd(1), usd(5_001), usd(10_001), usd(100_001)] {
        let some_tier = (0..=crate::trust::TIER_MAX).any(|t| {
            let tier = Tier::new(t).unwrap();
            policy
                .code_above(tier, Currency::USD)
                .is_some_and(|above| amount.minor() > above.minor())
        });
        assert_eq!(policy.code_above_at_some_tier(amount), some_tier);
    }
}
