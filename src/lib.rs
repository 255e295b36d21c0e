//! The `paybot` service as a library: settings, database wiring, the axum
//! server. The binary (`main.rs`) is a thin command line
//! over it; end-to-end tests drive the same functions in-process.
//!
//! The one design decision to know: **settings are loaded once, by the
//! caller, and passed down**; no module reads the environment or a global.

pub mod admin;
pub mod api;
pub mod app;
pub mod bench;
pub mod bills;
pub mod cli;
pub mod database;
pub mod deployment;
pub mod dev_biller;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod sanctions;
pub mod server;
pub mod settings;
pub mod torture;
