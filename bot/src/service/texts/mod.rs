//! What the core says to chat users, one file per command family, so the
//! sentences can be read, reviewed and later translated in one place.
//!
//! The decision to know: texts are plain constants and functions of
//! already-formatted values; the flows decide what to say, these files only
//! how it is worded.

pub(crate) mod cards;
