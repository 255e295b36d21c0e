//! The bank test's short run (`paybot torture`), on SQLite and then on
//! PostgreSQL: the built binary kills its server at least 3 times (and
//! stops PostgreSQL with `-m immediate` once) and must find no violation.
//!
//! Both backends run one after the other inside one test, so PostgreSQL's
//! stop never overlaps another test of this binary; a guard starts
//! PostgreSQL again when the test ends, also on failure. Without a
//! PostgreSQL server the PostgreSQL half is skipped loudly, unless
//! `CI=true`, where it fails.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long the short run sends transfers, in seconds.
const RUN_SECS: u64 = 12;
/// Server SIGKILLs per run.
const CRASHES: u32 = 3;
/// How long one whole run may take before the test fails, in seconds.
const RUN_TIMEOUT_SECS: u64 = 240;
/// The PostgreSQL server the run makes its database on.
const POSTGRES_URL_DEFAULT: &str = "postgres://postgres@127.0.0.1:5432";

/// What one run printed and how it ended.
struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Outcome {
    /// The number after `name: ` on its line.
    fn count(&self, name: &str) -> u64 {
        let prefix = format!("{name}: ");
        let line = self
            .stdout
            .lines()
            .find_map(|line| line.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("no `{name}:` line in:\n{}", self.stdout));
        line.split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("`{name}:` is not a count: {line}"))
    }

    fn assert_sound(&self, backend: &str) {
        assert_eq!(
            self.code,
            Some(0),
            "{backend}: exit status {:?}\nstdout:\n{}\nstderr (tail):\n{}",
            self.code,
            self.stdout,
            tail(&self.stderr)
        );
        assert!(
            self.stdout.lines().any(|l| l == "violations: none"),
            "{backend}:\n{}",
            self.stdout
        );
        assert!(
            self.count("acknowledged") > 0,
            "{backend}:\n{}",
            self.stdout
        );
        assert!(
            self.count("crashes") >= u64::from(CRASHES),
            "{backend}:\n{}",
            self.stdout
        );
        assert!(
            self.count("transfers in db") > 0,
            "{backend}:\n{}",
            self.stdout
        );
    }
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

fn torture(args: &[&str]) -> Outcome {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_paybot"));
    cmd.arg("torture")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(|n| n.starts_with("PAYBOT_")) {
            cmd.env_remove(name);
        }
    }
    cmd.env_remove("RUST_LOG");
    let mut child = cmd.spawn().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + Duration::from_secs(RUN_TIMEOUT_SECS);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let outcome = Outcome {
        code: status.and_then(|s| s.code()),
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    };
    assert!(
        status.is_some(),
        "paybot torture did not finish in {RUN_TIMEOUT_SECS} s\nstdout:\n{}\nstderr:\n{}",
        outcome.stdout,
        tail(&outcome.stderr)
    );
    outcome
}

/// Starts PostgreSQL when dropped if it does not accept connections (the
/// run stops it; a failed run must not leave it down).
struct PostgresBackUp {
    url: String,
}

impl Drop for PostgresBackUp {
    fn drop(&mut self) {
        if !postgres_reachable(&self.url) {
            let _ = Command::new("sh")
                .arg("-c")
                .arg(paybot::torture::PG_START_CMD_DEFAULT)
                .status();
        }
    }
}

fn postgres_reachable(url: &str) -> bool {
    let url = format!("{url}/postgres");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        use sqlx::Connection;
        match sqlx::PgConnection::connect(&url).await {
            Ok(conn) => {
                let _ = conn.close().await;
                true
            }
            Err(_) => false,
        }
    })
}

#[test]
fn short_bank_runs_on_both_backends_lose_nothing() {
    let duration = RUN_SECS.to_string();
    let crashes = CRASHES.to_string();
    let common = [
        "--duration",
        &duration,
        "--crashes",
        &crashes,
        "--workers",
        "6",
    ];

    let sqlite = torture(&[&["--backend", "sqlite"][..], &common].concat());
    sqlite.assert_sound("sqlite");

    let url = std::env::var("PAYBOT_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| POSTGRES_URL_DEFAULT.to_owned());
    let required = std::env::var("CI").is_ok_and(|v| v == "true");
    if !postgres_reachable(&url) {
        assert!(!required, "CI=true and PostgreSQL at {url} is unreachable");
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIPPED: the PostgreSQL bank test: cannot reach {url}. \
             Start PostgreSQL or set PAYBOT_TEST_POSTGRES_URL; with CI=true this fails. ***\n"
        );
        return;
    }
    let _back_up = PostgresBackUp { url: url.clone() };
    let postgres = torture(
        &[
            &[
                "--backend",
                "postgres",
                "--pg-url",
                &url,
                "--pg-crashes",
                "1",
            ][..],
            &common,
        ]
        .concat(),
    );
    postgres.assert_sound("postgres");
    assert!(
        postgres.count("pg restarts") >= 1,
        "postgres:\n{}",
        postgres.stdout
    );
}
