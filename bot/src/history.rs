//! A user's history: the list `/history` shows of their payments, newest
//! first, always sent privately.
//!
//! The decision to know: the list is bounded by [`HISTORY_ENTRIES_MAX`] at
//! the grammar (`/history N` refuses more), so no request can ask the store
//! for an unbounded page.

/// Most entries `/history N` may ask for.
pub const HISTORY_ENTRIES_MAX: u8 = 50;
