//! `paybot-mock`: the developer's chat, with no tokens and no network.
//!
//! In-process for tests (conversation scripts as data files), `paybot chat`
//! in a terminal, and an HTTP API plus a web page on the paybot server. The
//! design decision to know: mock users are platform `mock` with handle = name,
//! and everything else goes through the same `bot` core as real platforms.
//!
//! Arrives with the bot core issue.
