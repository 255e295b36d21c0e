//! `paybot-cards`: the card rail, shaped like Visa Direct's Funds Transfer
//! API. [`VisaDirectClient`] implements the core's port
//! [`bot::card::CardRail`] (tokenize a card, pull to top up, push to cash
//! out, reverse a pull, ask about a slow request) over HTTP, and
//! [`Simulator`] answers the same endpoints for development and tests,
//! in-process or standalone ([`serve`], `paybot card-sim`).
//!
//! The design decision to know: Visa's JSON lives in `convert.rs` and its
//! vocabulary (trace numbers, action codes, status ids, its date format) in
//! [`visa`]; neither leaves this crate as a core type: the core sees only
//! its own (`CardToken`, `CardTransfer`, `RailOutcome` with a
//! `DeclineReason` and opaque `RailReference`s, `RailError`). A full card
//! number reaches this crate only in a tokenization call, and goes nowhere
//! but the rail: pulls and pushes carry the token, and no card number,
//! token or key is logged. Every request carries trace numbers derived
//! from the core's transfer id, so a resend after a crash is recognised as
//! the same request and answered with the first decision, never paid twice.

mod client;
mod config;
mod convert;
pub mod simulator;
pub mod visa;

pub use client::{
    RAIL_CONNECT_TIMEOUT_MS, RAIL_REQUEST_TIMEOUT_MS, RAIL_RESPONSE_BYTES_MAX, VisaDirectClient,
};
pub use config::{
    API_KEY_CHARS_MAX, API_KEY_CHARS_MIN, API_KEY_HEADER, AcceptorCountry, Acquirer,
    AcquirerCountryCode, AcquirerParts, AcquirerSettings, AcquiringBin, ApiKey,
    CARD_ACCEPTOR_NAME_CHARS_MAX, CardAcceptorName, ConfigError, ID_CODE_CHARS_MAX, IdCode,
    TERMINAL_ID_CHARS_MAX, TerminalId, deserialize_rail_url, parse_rail_url,
};
pub use simulator::{Simulator, SimulatorTotals, serve, test_cards};
