//! The bank test's short run (`paybot torture`), on SQLite and then on
//! PostgreSQL: the built binary kills its server at least 3 times (and
//! stops PostgreSQL with `-m immediate` once) and must find no violation.
//! The same for the chat path (`paybot torture --chat`): mock users paying
//! each other through the mock chat's HTTP API while the server is killed
//! twice. And for standing orders (`paybot torture --standing`): their
//! first run comes due while the servers are killed, one server on SQLite,
//! two `paybot serve` processes on one PostgreSQL database; each backend a
//! test of its own, so their waits for the run time overlap.
//!
//! The PostgreSQL it stops is a server of the test's own (`initdb` into a
//! temporary folder, a port of its own, stopped and removed when the test
//! ends, also on failure), never the server the other tests of this binary
//! use at the same time. Without PostgreSQL's server programs (`initdb`,
//! `pg_ctl`) the PostgreSQL half is skipped loudly, unless `CI=true`, where
//! it fails.

use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long the short run sends transfers, in seconds.
const RUN_SECS: u64 = 12;
/// Server SIGKILLs per run.
const CRASHES: u32 = 3;
/// How long one whole run may take before the test fails, in seconds.
const RUN_TIMEOUT_SECS: u64 = 300;
/// How long the chat run's users pay each other, in seconds.
const CHAT_RUN_SECS: u64 = 10;
/// Server SIGKILLs per chat run.
const CHAT_CRASHES: u32 = 2;
/// How long after the orders' run time the standing run's kills may come,
/// in seconds.
const STANDING_CHAOS_SECS: u64 = 3;
/// Server SIGKILLs per standing run (each of one server or of all).
const STANDING_CRASHES: u32 = 3;
/// Where Debian and Ubuntu install PostgreSQL's server programs, one folder
/// per major version, when they are not on `PATH`.
const POSTGRES_LIB_DIR: &str = "/usr/lib/postgresql";

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

impl Outcome {
    fn assert_chat_sound(&self, backend: &str) {
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
            self.stdout
                .lines()
                .any(|l| l.starts_with("outbox drained: yes")),
            "{backend}:\n{}",
            self.stdout
        );
        for name in ["seen paid", "posted"] {
            assert!(
                self.count(name) > 0,
                "{backend}: no {name}:\n{}",
                self.stdout
            );
        }
        assert!(
            self.count("crashes") >= u64::from(CHAT_CRASHES),
            "{backend}:\n{}",
            self.stdout
        );
    }
}

impl Outcome {
    fn assert_standing_sound(&self, backend: &str) {
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
            self.stdout.lines().any(|l| l.starts_with("settled: yes")),
            "{backend}:\n{}",
            self.stdout
        );
        let due = self.count("runs due");
        assert!(due > 0, "{backend}: no run came due:\n{}", self.stdout);
        assert_eq!(
            self.count("runs posted"),
            due,
            "{backend}:\n{}",
            self.stdout
        );
        assert!(
            self.count("crashes") >= u64::from(STANDING_CRASHES),
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

/// A PostgreSQL server of this test's own, in a temporary folder: made with
/// `initdb`, started with `pg_ctl`, stopped and removed when dropped. Run as
/// the `postgres` user when the test runs as root (PostgreSQL refuses
/// root).
struct PrivateCluster {
    folder: tempfile::TempDir,
    port: u16,
    /// `pg_ctl` as a shell command, with `runuser` in front when needed.
    pg_ctl: String,
}

impl PrivateCluster {
    /// `None` when PostgreSQL's server programs are not installed.
    fn start() -> Option<PrivateCluster> {
        let bin = postgres_bin_dir()?;
        let folder = tempfile::tempdir().unwrap();
        let as_root = std::fs::metadata(folder.path()).unwrap().uid() == 0;
        let prefix = if as_root {
            let chown = Command::new("chown")
                .arg("postgres:")
                .arg(folder.path())
                .status()
                .unwrap();
            assert!(chown.success(), "chown postgres: {chown}");
            "runuser -u postgres -- ".to_owned()
        } else {
            String::new()
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = folder.path().display().to_string();
        let initdb =
            format!("{prefix}{bin}initdb -D {dir}/data -U postgres --auth=trust -E UTF8 --no-sync");
        let pg_ctl = format!("{prefix}{bin}pg_ctl -D {dir}/data -l {dir}/log");
        let cluster = PrivateCluster {
            folder,
            port,
            pg_ctl,
        };
        sh(&initdb);
        sh(&cluster.start_cmd());
        Some(cluster)
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}", self.port)
    }

    fn start_cmd(&self) -> String {
        format!(
            "{} -w -o \"-p {} -k {} -c listen_addresses=127.0.0.1\" start",
            self.pg_ctl,
            self.port,
            self.folder.path().display()
        )
    }

    fn crash_cmd(&self) -> String {
        format!("{} -w stop -m immediate", self.pg_ctl)
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        let _ = Command::new("sh")
            .arg("-c")
            .arg(self.crash_cmd())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Runs `command` with `sh -c`; it must succeed.
fn sh(command: &str) {
    let output = Command::new("sh").arg("-c").arg(command).output().unwrap();
    assert!(
        output.status.success(),
        "{command}: {}\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The folder of `initdb` and `pg_ctl` with a trailing `/`, or "" when they
/// are on `PATH`; `None` when neither.
fn postgres_bin_dir() -> Option<String> {
    let on_path = Command::new("initdb")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if on_path {
        return Some(String::new());
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(POSTGRES_LIB_DIR)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            Some((version, e.path().join("bin")))
        })
        .filter(|(_, bin)| bin.join("initdb").is_file())
        .collect();
    versions.sort();
    let (_, bin) = versions.pop()?;
    Some(format!("{}/", bin.display()))
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

    let required = std::env::var("CI").is_ok_and(|v| v == "true");
    let Some(cluster) = PrivateCluster::start() else {
        assert!(
            !required,
            "CI=true and PostgreSQL's initdb is neither on PATH nor under {POSTGRES_LIB_DIR}"
        );
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIPPED: the PostgreSQL bank test: no initdb on PATH or under \
             {POSTGRES_LIB_DIR}. Install PostgreSQL's server; with CI=true this fails. ***\n"
        );
        return;
    };
    let (url, crash_cmd, start_cmd) = (cluster.url(), cluster.crash_cmd(), cluster.start_cmd());
    let postgres = torture(
        &[
            &[
                "--backend",
                "postgres",
                "--pg-url",
                &url,
                "--pg-crashes",
                "1",
                "--pg-crash-cmd",
                &crash_cmd,
                "--pg-start-cmd",
                &start_cmd,
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

#[test]
fn short_chat_bank_runs_on_both_backends_pay_each_payment_once() {
    let duration = CHAT_RUN_SECS.to_string();
    let crashes = CHAT_CRASHES.to_string();
    let common = [
        "--chat",
        "--duration",
        &duration,
        "--crashes",
        &crashes,
        "--workers",
        "4",
        "--users",
        "16",
    ];

    let sqlite = torture(&[&["--backend", "sqlite"][..], &common].concat());
    sqlite.assert_chat_sound("sqlite");

    let required = std::env::var("CI").is_ok_and(|v| v == "true");
    let Some(cluster) = PrivateCluster::start() else {
        assert!(
            !required,
            "CI=true and PostgreSQL's initdb is neither on PATH nor under {POSTGRES_LIB_DIR}"
        );
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIPPED: the PostgreSQL chat bank test: no initdb on PATH or under \
             {POSTGRES_LIB_DIR}. Install PostgreSQL's server; with CI=true this fails. ***\n"
        );
        return;
    };
    let (url, crash_cmd, start_cmd) = (cluster.url(), cluster.crash_cmd(), cluster.start_cmd());
    let postgres = torture(
        &[
            &[
                "--backend",
                "postgres",
                "--pg-url",
                &url,
                "--pg-crashes",
                "1",
                "--pg-crash-cmd",
                &crash_cmd,
                "--pg-start-cmd",
                &start_cmd,
            ][..],
            &common,
        ]
        .concat(),
    );
    postgres.assert_chat_sound("postgres");
    assert!(
        postgres.count("pg restarts") >= 1,
        "postgres:\n{}",
        postgres.stdout
    );
}

fn standing_args(backend: &str, servers: &str) -> Vec<String> {
    [
        "--standing",
        "--backend",
        backend,
        "--servers",
        servers,
        "--duration",
        &STANDING_CHAOS_SECS.to_string(),
        "--crashes",
        &STANDING_CRASHES.to_string(),
        "--workers",
        "4",
        "--users",
        "16",
    ]
    .map(str::to_owned)
    .to_vec()
}

#[test]
fn standing_orders_through_crashes_run_each_due_run_once_on_sqlite() {
    let args = standing_args("sqlite", "1");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    torture(&args).assert_standing_sound("sqlite");
}

/// Two servers on one PostgreSQL database (the tests' own server, where
/// the run makes and drops a database of its own), killed one or both at
/// a time.
#[test]
fn standing_orders_through_crashes_run_each_due_run_once_with_two_servers_on_postgres() {
    let url = std::env::var("PAYBOT_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned());
    let mut args = standing_args("postgres", "2");
    args.extend(["--pg-url".to_owned(), url.clone()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let outcome = torture(&args);
    let required = std::env::var("CI").is_ok_and(|v| v == "true");
    if !required && outcome.stderr.contains("cannot reach PostgreSQL") {
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIPPED: the PostgreSQL standing-order crash test: cannot reach {url}. \
             Start PostgreSQL or set PAYBOT_TEST_POSTGRES_URL; with CI=true this fails. ***\n"
        );
        return;
    }
    outcome.assert_standing_sound("postgres");
    assert_eq!(outcome.count("servers"), 2, "{}", outcome.stdout);
}
