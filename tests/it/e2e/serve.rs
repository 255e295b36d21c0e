//! `paybot serve`: starts on a fresh directory, answers its probes, and
//! shuts down cleanly on SIGTERM and SIGINT.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::support::{EXIT_TIMEOUT_SECS, Server, paybot, run, serve};

fn json_body(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body:?}"))
}

#[test]
fn serve_answers_probes_and_exits_0_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    // The default database, sqlite:data/paybot.db, relative to the directory.
    let server = Server::start(&mut serve(dir.path(), &[]));
    assert!(server.addr.port() != 0, "the log names the bound port");
    assert!(
        dir.path().join("data/paybot.db").is_file(),
        "first run creates ./data/"
    );

    let (status, body) = server.get("/healthz");
    assert_eq!(status, 200);
    assert_eq!(json_body(&body), json!({ "status": "ok" }));
    let (status, body) = server.get("/readyz");
    assert_eq!(status, 200, "{body}");
    assert_eq!(json_body(&body)["status"], "ready");
    assert_eq!(server.get("/nope").0, 404);

    let asked = Instant::now();
    server.signal("TERM");
    let (status, log) = server.wait_for_exit();
    assert!(status.success(), "exit status {status}; stderr:\n{log}");
    assert!(asked.elapsed() < Duration::from_secs(EXIT_TIMEOUT_SECS));
    assert!(log.contains("signal=\"SIGTERM\""), "{log}");
    assert!(log.contains("expiry sweeper stopped"), "{log}");
    assert!(log.contains("ledger closed"), "{log}");
    assert!(!log.contains("ERROR"), "{log}");
}

#[test]
fn bare_paybot_serves_with_a_config_file_and_stops_on_sigint() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("paybot.toml");
    std::fs::write(
        &config,
        "[database]\nurl = \"sqlite:state/ledger.db\"\nsqlite_sync = \"normal\"\n\
         [ledger]\nsweep_interval_ms = 50\n",
    )
    .unwrap();
    let server = Server::start(paybot(dir.path()).arg("--config").arg(&config));
    assert!(
        dir.path().join("state/ledger.db").is_file(),
        "the file's database.url is used"
    );
    assert_eq!(server.get("/readyz").0, 200);

    server.signal("INT");
    let (status, log) = server.wait_for_exit();
    assert!(status.success(), "exit status {status}; stderr:\n{log}");
    assert!(log.contains("signal=\"SIGINT\""), "{log}");
}

#[test]
fn an_address_in_use_is_a_clear_start_error() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = run(&mut serve(dir.path(), &[("PAYBOT_HTTP__ADDR", &addr)]));
    assert_eq!(out.code(), Some(2), "{out:?}");
    assert!(
        out.stderr
            .contains(&format!("cannot listen on http.addr = {addr}")),
        "{}",
        out.stderr
    );
}
