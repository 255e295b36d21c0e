//! `paybot-cards`: linked cards, top-up and cash-out over a rail shaped like
//! Visa Direct's funds-transfer API, and a simulator of that rail.
//!
//! The design decision to know: a full card number and CVV reach only the
//! rail; paybot keeps a token, brand, last 4 digits, expiry and a keyed
//! fingerprint, and money enters and leaves the ledger only through the
//! card-clearing system account.
//!
//! Arrives with the wallet funding issue.
