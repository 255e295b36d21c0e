//! Bad settings stop paybot before it does anything, naming the key, the
//! problem and where the value came from.

use super::support::{paybot, run, serve};

#[test]
fn a_bad_env_value_names_the_key_and_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&mut serve(
        dir.path(),
        &[("PAYBOT_HTTP__ADDR", "notanaddr")],
    ));
    assert_eq!(out.code(), Some(2), "{out:?}");
    assert!(out.stderr.contains("`http.addr`"), "{}", out.stderr);
    assert!(out.stderr.contains("\"notanaddr\""), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("environment variable PAYBOT_HTTP__ADDR"),
        "{}",
        out.stderr
    );
    assert!(
        !dir.path().join("data").exists(),
        "nothing is created on a bad start"
    );
}

#[test]
fn an_unknown_key_in_the_config_file_names_the_key_and_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("custom.toml");
    std::fs::write(&config, "[http]\nadress = \"127.0.0.1:0\"\n").unwrap();
    let out = run(paybot(dir.path())
        .arg("--config")
        .arg(&config)
        .arg("verify"));
    assert_eq!(out.code(), Some(2), "{out:?}");
    assert!(out.stderr.contains("`http.adress`"), "{}", out.stderr);
    assert!(out.stderr.contains("no such setting"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains(&format!("config file {}", config.display())),
        "{}",
        out.stderr
    );
}

#[test]
fn an_out_of_range_value_names_its_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("custom.toml");
    std::fs::write(&config, "[database]\npool_connections_max = 1000\n").unwrap();
    let out = run(paybot(dir.path())
        .arg("migrate")
        .arg("--config")
        .arg(&config));
    assert_eq!(out.code(), Some(2), "{out:?}");
    assert!(
        out.stderr
            .contains("`database.pool_connections_max` = 1000"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("between 1 and 256"), "{}", out.stderr);
    assert!(
        out.stderr.contains(&config.display().to_string()),
        "{}",
        out.stderr
    );
}

#[test]
fn a_missing_config_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(paybot(dir.path()).args(["--config", "missing.toml", "migrate"]));
    assert_eq!(out.code(), Some(2), "{out:?}");
    assert!(
        out.stderr.contains("config file missing.toml"),
        "{}",
        out.stderr
    );
}

#[test]
fn the_database_password_is_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on port 1: connecting fails, and the error is printed.
    let url = "postgres://paybot:hunter2@127.0.0.1:1/paybot";
    let out = run(paybot(dir.path())
        .arg("verify")
        .env("PAYBOT_DATABASE__URL", url));
    assert_eq!(out.code(), Some(2), "{out:?}");
    assert!(
        out.stderr.contains("postgres://127.0.0.1:1/paybot"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("hunter2"), "{}", out.stderr);
    assert!(!out.stdout.contains("hunter2"), "{}", out.stdout);
}

#[test]
fn the_hold_timeout_and_the_limits_are_bounded_at_start() {
    for (variable, value, key, bounds) in [
        (
            "PAYBOT_TRUST__HOLDS__TIMEOUT_SECS",
            "1209601",
            "`trust.holds.timeout_secs` = 1209601",
            "between 3600 and 1209600",
        ),
        (
            "PAYBOT_LIMITS__COMMANDS_BURST_MAX",
            "0",
            "`limits.commands_burst_max` = 0",
            "between 1 and 1000",
        ),
        (
            "PAYBOT_LIMITS__COMMANDS_PER_MINUTE_MAX",
            "6001",
            "`limits.commands_per_minute_max` = 6001",
            "between 1 and 6000",
        ),
        (
            "PAYBOT_LIMITS__REQUESTS_SENT_PER_HOUR_MAX",
            "0",
            "`limits.requests_sent_per_hour_max` = 0",
            "between 1 and 10000",
        ),
        (
            "PAYBOT_LIMITS__REQUESTS_RECEIVED_PER_HOUR_MAX",
            "10001",
            "`limits.requests_received_per_hour_max` = 10001",
            "between 1 and 10000",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = run(paybot(dir.path()).arg("migrate").env(variable, value));
        assert_eq!(out.code(), Some(2), "{variable}: {out:?}");
        assert!(out.stderr.contains(key), "{variable}: {}", out.stderr);
        assert!(out.stderr.contains(bounds), "{variable}: {}", out.stderr);
        assert!(out.stderr.contains(variable), "{variable}: {}", out.stderr);
    }
}
