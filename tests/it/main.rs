//! The root package's integration tests, as one test binary: one module per
//! area, the shared set-up and the fakes of Telegram and Discord in
//! `support` (compiled once, not once per binary). Every test links the
//! whole stack, so one binary means one link instead of one per file.
//!
//! Tests run in parallel threads of this one process: none may set an
//! environment variable of the process or rely on a global of its own. Each
//! test has its own tokio runtime, database (`TestDb`) and ports (port 0);
//! a test that runs the built `paybot` binary hands its settings to the
//! child, never to this process. The one test that stops PostgreSQL (the
//! bank test, `torture`) stops a server of its own, never the one the
//! others use.
// Test code throughout, helpers too (see clippy.toml).
#![cfg(test)]

mod autopay;
mod bench;
mod bills;
mod bot_core;
mod card_restart;
mod conversations;
mod discord;
mod e2e;
mod fake_discord_selftest;
mod limits;
mod mock_chat;
mod operator;
mod rules;
mod sanctions;
mod second_factor;
mod standing;
mod support;
mod telegram;
mod tidy;
mod torture;
