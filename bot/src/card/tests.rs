//! Unit tests of `card.rs`.

use crate::otp::Pepper;

use crate::calendar::UtcMoment;

use super::*;

const VISA: &str = "4111111111111111";
const MASTERCARD: &str = "5555555555554444";

fn month(year: u16, month: u8) -> YearMonth {
    YearMonth::new(year, month).unwrap()
}

#[test]
fn luhn_accepts_known_numbers_and_rejects_typos() {
    for good in [
        VISA,
        MASTERCARD,
        "378282246310005",
        "6011111111111117",
        "4000000000000002",
        "4000000000009995",
        "4000000000000069",
        "4000000000000119",
        "4000000000000259",
        "0",
        "18",
    ] {
        assert!(luhn_valid(good), "{good}");
    }
    for bad in [
        "4111111111111112",
        "5555555555554445",
        "",
        "41111x1111111111",
        "４",
    ] {
        assert!(!luhn_valid(bad), "{bad}");
    }
    // Every single-digit change of a valid number is caught.
    let digits: Vec<u8> = VISA.bytes().collect();
    for at in 0..digits.len() {
        for replacement in b'0'..=b'9' {
            if replacement == digits[at] {
                continue;
            }
            let mut changed = digits.clone();
            changed[at] = replacement;
            assert!(!luhn_valid(std::str::from_utf8(&changed).unwrap()));
        }
    }
}

#[test]
fn brands_come_from_the_leading_digits() {
    let cases = [
        ("4111111111111111", Some(Brand::Visa)),
        ("5105105105105100", Some(Brand::Mastercard)),
        ("5555555555554444", Some(Brand::Mastercard)),
        ("2221000000000009", Some(Brand::Mastercard)),
        ("2720990000000000", Some(Brand::Mastercard)),
        ("2220990000000000", None),
        ("2721000000000000", None),
        ("5000000000000000", None),
        ("5600000000000000", None),
        ("340000000000009", Some(Brand::Amex)),
        ("378282246310005", Some(Brand::Amex)),
        ("350000000000000", None),
        ("6011111111111117", Some(Brand::Discover)),
        ("6440000000000000", Some(Brand::Discover)),
        ("6490000000000000", Some(Brand::Discover)),
        ("6500000000000000", Some(Brand::Discover)),
        ("6012000000000000", None),
        ("6430000000000000", None),
        ("3530111333300000", None),
        ("", None),
        ("2", None),
    ];
    for (digits, brand) in cases {
        assert_eq!(Brand::detect(digits), brand, "{digits}");
    }
    for brand in Brand::ALL {
        assert_eq!(Brand::from_code(brand.code()), Some(brand));
    }
    assert_eq!(Brand::from_code("jcb"), None);
    assert_eq!(Brand::Amex.to_string(), "American Express");
}

#[test]
fn card_numbers_parse_with_single_separators() {
    for text in [
        "4111111111111111",
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "  4111 1111-1111 1111 ",
        "41 11 11 11 11 11 11 11",
    ] {
        let card = CardNumber::parse(text).unwrap();
        assert_eq!(card.expose(), VISA);
        assert_eq!(card.brand(), Brand::Visa);
        assert_eq!(card.last4().to_string(), "1111");
    }
    for text in [
        "4111  1111 1111 1111",
        "4111--1111-1111-1111",
        "4111 -1111 1111 1111",
        "-4111111111111111",
        "4111111111111111-",
        "4111.1111.1111.1111",
        "4111111111111111a",
        "４１１１１１１１１１１１１１１１",
        "٤١١١١١١١١١١١١١١١",
    ] {
        assert_eq!(
            CardNumber::parse(text).unwrap_err(),
            CardError::Malformed,
            "{text}"
        );
    }
    assert_eq!(CardNumber::parse("  ").unwrap_err(), CardError::Empty);
    assert_eq!(
        CardNumber::parse(&"4".repeat(CARD_TEXT_BYTES_MAX + 1)).unwrap_err(),
        CardError::TooLong
    );
    assert_eq!(
        CardNumber::parse("41111111111").unwrap_err(),
        CardError::Length { digits: 11 }
    );
    assert_eq!(
        CardNumber::parse("41111111111111111111").unwrap_err(),
        CardError::Length { digits: 20 }
    );
    assert_eq!(
        CardNumber::parse("4111111111111112").unwrap_err(),
        CardError::Checksum
    );
    // JCB: Luhn-valid, not a brand paybot takes.
    assert_eq!(
        CardNumber::parse("3530111333300000").unwrap_err(),
        CardError::UnsupportedBrand
    );
}

#[test]
fn each_brand_has_its_lengths() {
    let amex = CardNumber::parse("3782 822463 10005").unwrap();
    assert_eq!(
        (amex.brand(), amex.last4().to_string()),
        (Brand::Amex, "0005".to_owned())
    );
    let sixteen = luhn_completed("340000000000000");
    assert_eq!(sixteen.len(), 16);
    assert_eq!(
        CardNumber::parse(&sixteen).unwrap_err(),
        CardError::BrandLength {
            brand: Brand::Amex,
            expected: "15",
            digits: 16
        }
    );
    // Visa: 13, 16 and 19 digits; not 15.
    for len in [13, 16, 19] {
        let number = luhn_completed(&format!("4{}", "0".repeat(len - 2)));
        assert_eq!(
            CardNumber::parse(&number).unwrap().brand(),
            Brand::Visa,
            "{len}"
        );
    }
    let visa15 = luhn_completed(&format!("4{}", "1".repeat(13)));
    assert!(matches!(
        CardNumber::parse(&visa15).unwrap_err(),
        CardError::BrandLength {
            brand: Brand::Visa,
            digits: 15,
            ..
        }
    ));
    // Mastercard, 2-series included: 16 only.
    let mc2 = luhn_completed("222100000000000");
    assert_eq!(CardNumber::parse(&mc2).unwrap().brand(), Brand::Mastercard);
    let mc2_27 = luhn_completed("272099000000000");
    assert_eq!(
        CardNumber::parse(&mc2_27).unwrap().brand(),
        Brand::Mastercard
    );
    let mc19 = luhn_completed("555555555555444400");
    assert!(matches!(
        CardNumber::parse(&mc19).unwrap_err(),
        CardError::BrandLength {
            brand: Brand::Mastercard,
            ..
        }
    ));
    // Discover: 16 to 19.
    for len in 16..=19 {
        let number = luhn_completed(&format!("65{}", "0".repeat(len - 3)));
        assert_eq!(CardNumber::parse(&number).unwrap().brand(), Brand::Discover);
    }
}

/// `prefix` with the check digit that makes it Luhn-valid appended.
fn luhn_completed(prefix: &str) -> String {
    (0..=9)
        .map(|d| format!("{prefix}{d}"))
        .find(|candidate| luhn_valid(candidate))
        .unwrap()
}

#[test]
fn debug_and_display_never_show_the_number() {
    let card = CardNumber::parse("4111 1111 1111 1111").unwrap();
    let debug = format!("{card:?}");
    let display = card.to_string();
    assert_eq!(debug, "CardNumber(visa ending 1111)");
    assert_eq!(display, "Visa ending 1111");
    for shown in [&debug, &display] {
        assert!(shown.matches(char::is_numeric).count() <= 4, "{shown}");
    }
    let wrapped = format!("{:?}", Some(vec![card.clone()]));
    assert!(!wrapped.contains("41111"));
    // Errors quote no digits either.
    for bad in [
        "4111111111111112",
        "3530111333300000",
        "4111 1111 1111 111x",
    ] {
        let text = CardNumber::parse(bad).unwrap_err().to_string();
        assert!(!text.contains("1111") && !text.contains("3530"), "{text}");
    }
    let errors = [
        CardError::Empty,
        CardError::TooLong,
        CardError::Malformed,
        CardError::Length { digits: 20 },
        CardError::Checksum,
        CardError::UnsupportedBrand,
        CardError::BrandLength {
            brand: Brand::Amex,
            expected: "15",
            digits: 16,
        },
    ];
    for error in errors {
        assert!(!contains_card_number(&error.to_string()), "{error}");
    }
    let token = CardToken::new("9876543210123456").unwrap();
    assert_eq!(format!("{token:?}"), "CardToken(..3456)");
}

#[test]
fn fingerprints_are_keyed_and_stable() {
    let pepper =
        |byte: u8| Pepper::from_bytes((0..32).map(|i| byte.wrapping_add(i)).collect()).unwrap();
    let a = CardNumber::parse(VISA).unwrap();
    let a_spaced = CardNumber::parse("4111 1111 1111 1111").unwrap();
    let b = CardNumber::parse(MASTERCARD).unwrap();
    assert_eq!(a.fingerprint(&pepper(1)), a_spaced.fingerprint(&pepper(1)));
    assert_ne!(a.fingerprint(&pepper(1)), b.fingerprint(&pepper(1)));
    assert_ne!(a.fingerprint(&pepper(1)), a.fingerprint(&pepper(2)));
    let print = a.fingerprint(&pepper(1));
    assert_eq!(CardFingerprint::from_hex(&print.to_hex()), Some(print));
    assert_eq!(CardFingerprint::from_bytes(&print.to_bytes()), Some(print));
    assert_eq!(CardFingerprint::from_hex("zz"), None);
    assert_eq!(CardFingerprint::from_bytes(&[0; 31]), None);
    assert_eq!(format!("{print:?}"), "CardFingerprint(..)");
}

#[test]
fn expiry_is_through_the_end_of_its_month() {
    let now = month(2026, 5);
    let parse = |text: &str| Expiry::parse(text, now);
    assert_eq!(parse("05/26").unwrap(), Expiry::new(2026, 5).unwrap());
    assert_eq!(parse("5/26").unwrap(), Expiry::new(2026, 5).unwrap());
    assert_eq!(parse(" 12/2030 ").unwrap(), Expiry::new(2030, 12).unwrap());
    assert_eq!(parse("06/26").unwrap().to_string(), "06/26");
    assert_eq!(
        parse("04/26").unwrap_err(),
        ExpiryError::Expired(Expiry::new(2026, 4).unwrap())
    );
    assert!(matches!(
        parse("12/25").unwrap_err(),
        ExpiryError::Expired(_)
    ));
    assert_eq!(parse("13/27").unwrap_err(), ExpiryError::Month);
    assert_eq!(parse("00/27").unwrap_err(), ExpiryError::Month);
    for bad in [
        "",
        "0527",
        "05-27",
        "05/7",
        "05/027",
        "005/27",
        "a5/27",
        "05/27/1",
        "０５/27",
    ] {
        assert_eq!(parse(bad).unwrap_err(), ExpiryError::Malformed, "{bad}");
    }
    assert_eq!(parse("01/2046").unwrap(), Expiry::new(2046, 1).unwrap());
    assert_eq!(parse("01/2047").unwrap_err(), ExpiryError::TooFar);
    assert_eq!(parse("01/99").unwrap_err(), ExpiryError::TooFar);
    // Year boundaries: December of the year before is over in January.
    let january = month(2027, 1);
    assert!(!Expiry::new(2026, 12).unwrap().is_valid_at(january));
    assert!(Expiry::new(2027, 1).unwrap().is_valid_at(january));
    assert_eq!(
        ExpiryError::Expired(Expiry::new(2026, 4).unwrap()).to_string(),
        "that card expired at the end of 04/26"
    );
}

#[test]
fn utc_dates_come_from_unix_milliseconds() {
    let at = |ms: i64| UtcMoment::from_unix_ms(ms).unwrap();
    assert_eq!(at(0).to_string(), "1970-01-01T00:00:00");
    // 2024-02-29T23:59:59.999Z (a leap day).
    assert_eq!(at(1_709_251_199_999).to_string(), "2024-02-29T23:59:59");
    assert_eq!(at(1_709_251_200_000).to_string(), "2024-03-01T00:00:00");
    // 2025-12-31T23:59:59Z, then the new year.
    assert_eq!(at(1_767_225_599_000).year_month(), month(2025, 12));
    assert_eq!(at(1_767_225_600_000).year_month(), month(2026, 1));
    assert_eq!(at(1_767_225_600_000).unix_ms(), 1_767_225_600_000);
    // 9999-12-31T23:59:59Z is the last moment held.
    assert_eq!(at(253_402_300_799_000).to_string(), "9999-12-31T23:59:59");
    assert_eq!(UtcMoment::from_unix_ms(253_402_300_800_000), None);
    assert_eq!(UtcMoment::from_unix_ms(-1), None);
    assert_eq!(UtcMoment::from_unix_ms(i64::MAX), None);
    assert_eq!(
        YearMonth::from_unix_ms(1_767_225_600_000),
        Some(month(2026, 1))
    );
    assert_eq!(YearMonth::new(2026, 13), None);
    assert_eq!(YearMonth::new(1969, 12), None);
}

#[test]
fn card_numbers_are_spotted_in_chat_text() {
    for text in [
        "4111111111111111",
        "my card is 4111 1111 1111 1111 thanks",
        "4111-1111-1111-1111",
        "card:5555555555554444.",
        "amex 3782 822463 10005 exp 12/30",
        "４１１１１１１１１１１１１１１１",
        "4111111111111111 20",
        "pay 20 to 4111111111111111",
        "4111\u{2013}1111\u{2013}1111\u{2013}1111",
        // Dots, underscores, other marks, and mixes of them.
        "4111.1111.1111.1111",
        "4111_1111_1111_1111",
        "4111.1111-1111_1111",
        "4111 - 1111 - 1111 - 1111",
        "4111 -1111- 1111 .1111",
        "4111/1111/1111/1111",
        "4111,1111,1111,1111",
        "4111·1111•1111∙1111",
        "４１１１．１１１１＿１１１１－１１１１",
        // Invisible characters or combining marks in between.
        "4111\u{200B}1111\u{2060}1111\u{FEFF}1111",
        "4\u{200B}1\u{200B}1\u{200B}1\u{200B}1111 1111 1111",
        "4111\u{3164}1111\u{E0041}1111\u{00AD}1111",
        "4\u{0332}1\u{0332}11 1111 1111 1111",
        // Any brand, as long as the check digit matches.
        "3530111333300000",
        // 12 digits, Luhn-valid.
        &luhn_completed("12345678901"),
        // Run into other digits in one group: the expiry or the CVV
        // typed straight after it, a stray digit before it.
        "41111111111111111225",
        "4111111111111111122030",
        "4111111111111111123",
        "94111111111111111",
        "pay 5 for 41111111111111111225",
    ] {
        assert!(contains_card_number(text), "{text}");
    }
    for text in [
        "",
        "20",
        "/pay @bob 20 for pizza",
        "1,000.50",
        "$1,000,000.00",
        "123456",
        "123 456",
        "my code is 123456, 654321",
        "4111111111111112",
        "4111 1111 1111 1112",
        // Groups joined by two spaces, or two marks, are not one number.
        "4111  1111  1111  1111",
        "4111..1111..1111..1111",
        "4111 -- 1111 -- 1111 -- 1111",
        "4111 x 1111 x 1111 x 1111",
        // A very long number is not searched for a lucky window.
        "411111111111111100000000",
        "4111111111111111000000000000",
        "call 555 123 4567",
        "12/30",
    ] {
        assert!(!contains_card_number(text), "{text}");
    }
    // Luhn-invalid 16-digit runs are not flagged; about one in ten
    // random ones would be (the check digit is all there is).
    let flagged = (0..100_u64)
        .map(|i| format!("{:016}", 4_000_000_000_000_000 + i * 7_919))
        .filter(|text| contains_card_number(text))
        .count();
    assert!((3..=20).contains(&flagged), "{flagged}");
}

#[test]
fn rail_values_have_their_shapes() {
    assert!(CardToken::new("tok_ABC-123").is_ok());
    assert!(CardToken::new("").is_err());
    assert!(CardToken::new("has space").is_err());
    assert!(CardToken::new(&"a".repeat(CARD_TOKEN_BYTES_MAX + 1)).is_err());
    // The rail's references and codes are opaque text to the core: kept
    // as given, printable ASCII without spaces, bounded.
    let reference = RailReference::new("push:st_42:000000000042").unwrap();
    assert_eq!(reference.to_string(), "push:st_42:000000000042");
    assert_eq!(RailReference::new(reference.as_str()).unwrap(), reference);
    assert!(RailReference::new("").is_err());
    assert!(RailReference::new("has space").is_err());
    assert!(RailReference::new(&"a".repeat(RAIL_REFERENCE_BYTES_MAX + 1)).is_err());
    assert_eq!(DeclineCode::new("51").unwrap().as_str(), "51");
    assert!(DeclineCode::new("").is_err());
    assert!(DeclineCode::new("5\n").is_err());
    assert!(DeclineCode::new(&"5".repeat(DECLINE_CODE_BYTES_MAX + 1)).is_err());
}

#[test]
fn decline_reasons_read_as_sentences() {
    let all = [
        DeclineReason::DoNotHonor,
        DeclineReason::InvalidCard,
        DeclineReason::InsufficientFunds,
        DeclineReason::ExpiredCard,
        DeclineReason::SuspectedFraud,
        DeclineReason::OverLimit,
        DeclineReason::Other,
    ];
    for reason in all {
        let text = reason.user_text();
        assert_eq!(reason.to_string(), text);
        assert!(text.starts_with(|c: char| c.is_ascii_lowercase()), "{text}");
        assert!(!text.ends_with('.'), "{text}");
        assert!(!text.contains(|c: char| c.is_ascii_digit()), "{text}");
    }
    assert_eq!(
        DeclineReason::InsufficientFunds.user_text(),
        "the card does not have enough funds"
    );
}

proptest::proptest! {
    /// The shortcut for texts that are NFKC already and short of digits
    /// gives the same answer as normalising every text.
    #[test]
    fn the_shortcut_agrees_with_normalising_everything(
        parts in proptest::collection::vec(
            proptest::sample::select(vec![
                "4111", "1111", "5555", "4444", "1", "20", " ", "  ", "-", ".", "_", "/",
                "\u{2013}", "\u{00B7}", "\u{200B}", "\u{0332}", "\u{00AD}", "４", "１",
                "\u{2460}", "\u{FF0E}", "a", "pay", "@bob", "é", "e\u{0301}", "💸", "\u{FB01}",
            ]),
            0..24,
        )
    ) {
        let text: String = parts.concat();
        proptest::prop_assert_eq!(
            contains_card_number(&text),
            super::detect::contains_card_number_normalising(&text),
            "{:?}", text
        );
    }
}
