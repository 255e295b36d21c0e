//! End-to-end tests of the `paybot` binary: each test runs the real
//! executable in a fresh temporary directory with its own database, an
//! HTTP port chosen by the kernel (`http.addr = 127.0.0.1:0`), and no
//! inherited `PAYBOT_*` or `RUST_LOG` variables.

mod api;
mod at_rest;
mod bills;
mod cards;
mod deployment;
mod discord;
mod http;
mod metrics;
mod mock;
mod openapi;
mod operator;
mod sanctions;
mod serve;
mod settings;
mod support;
mod telegram;
mod verify;
