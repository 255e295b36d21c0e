//! The ledger's money parsers, `ledger::parse_money` (what the command
//! parser uses: symbols and codes) and `ledger::Amount::parse` (a plain
//! decimal), on arbitrary UTF-8 text, with every registered currency as the
//! default.
//!
//! Asserts: no panic; a parsed amount is positive and at most its
//! currency's `max_minor()`; `Amount::parse` keeps the currency it was
//! given, and `parse_money` agrees with it on what it accepts; the amount's
//! `Display` (`$20.50`, `12.345 BHD`) parses back with `parse_money` to the
//! same amount whatever the default currency, and its decimal
//! (`to_decimal()`) with `Amount::parse` in its currency.
#![no_main]

use ledger::{Amount, Currency, parse_money};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    for default in Currency::all() {
        if let Ok(amount) = parse_money(text, default) {
            check_amount(text, amount);
        }
        if let Ok(amount) = Amount::parse(text, default) {
            assert_eq!(amount.currency(), default, "{text:?}");
            assert_eq!(
                parse_money(text, default),
                Ok(amount),
                "{text:?}: Amount::parse accepts it, parse_money differs"
            );
            check_amount(text, amount);
        }
    }
});

fn check_amount(text: &str, amount: Amount) {
    let currency = amount.currency();
    assert!(amount.minor() > 0, "{text:?} gave {amount:?}");
    assert!(
        amount.minor() <= currency.max_minor(),
        "{text:?} gave {amount:?}, above {}",
        currency.max_minor()
    );
    let shown = amount.to_string();
    for default in Currency::all() {
        assert_eq!(
            parse_money(&shown, default),
            Ok(amount),
            "{text:?} gave {amount:?}, shown as {shown:?}"
        );
    }
    let decimal = amount.to_decimal().to_string();
    assert_eq!(
        Amount::parse(&decimal, currency),
        Ok(amount),
        "{text:?} gave {amount:?}, decimal {decimal:?}"
    );
}
