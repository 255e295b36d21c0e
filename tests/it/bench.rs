//! `paybot bench`, run tiny through the built binary on both backends: the
//! report has its figures, says how commits are made durable, ends with a
//! passed invariant check, and leaves no scratch database behind. Speed is
//! printed, never asserted.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use sqlx::Connection as _;

/// `paybot bench ARGS...` run in `dir` with temporary files there too, and
/// a clean environment for its settings.
fn bench(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_paybot"));
    cmd.current_dir(dir)
        .stdin(Stdio::null())
        .env("TMPDIR", dir)
        .env_remove("RUST_LOG")
        .arg("bench")
        .args(args);
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(|n| n.starts_with("PAYBOT_")) {
            cmd.env_remove(name);
        }
    }
    cmd.output().unwrap()
}

/// `paybot bench ledger` on the given backend with 20 accounts, 200
/// transfers and 4 submitters: the run both backends' tests make.
fn small_ledger_bench(dir: &Path, backend: &[&str]) -> Output {
    let mut args = vec!["ledger"];
    args.extend_from_slice(backend);
    args.extend_from_slice(&[
        "--accounts",
        "20",
        "--transfers",
        "200",
        "--concurrency",
        "4",
    ]);
    bench(dir, &args)
}

/// The report on stdout of a run that must have succeeded.
fn report_of(output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn assert_has(report: &str, needles: &[&str]) {
    for needle in needles {
        assert!(report.contains(needle), "no {needle:?} in:\n{report}");
    }
}

/// The figures every ledger report has.
const LEDGER_FIGURES: &[&str] = &[
    "throughput: ",
    " transfers/s",
    "submit latency: p50 ",
    ", p99 ",
    ", p999 ",
    "batches: ",
    " groups per commit; sizes ",
    "peak RSS: ",
    " MiB",
];

const CHAT_FIGURES: &[&str] = &[
    "confirmed payments/s",
    "payment latency (/pay to done): p50 ",
    ", p99 ",
    "/start of each new user (wallet, limits, opening balance; 16 in turn per task): p50 ",
    "first payment of each payer (a new user's): p50 ",
    "message latency: p50 ",
    "batches: ",
    "commit latency: mean ",
    "notification lag (payer's answer to payee's delivery): p50 ",
    "outbox backlog: ",
    " left after draining for ",
    "peak RSS: ",
];

const SOUND: &str = "invariants: OK (ledger verified: no violations";

fn files_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn ledger_bench_on_sqlite_reports_figures_and_a_sound_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let output = small_ledger_bench(dir.path(), &["--backend", "sqlite"]);
    let report = report_of(&output);
    assert_has(&report, LEDGER_FIGURES);
    assert_has(
        &report,
        &[
            "4 concurrent submitters",
            "durability: SQLite journal_mode=wal synchronous=FULL: durable",
            // Funded with $1M each, $100 at most per transfer: none refused.
            "transfers: 200 created, 0 refused",
            SOUND,
        ],
    );
    assert!(
        report
            .trim_end()
            .ends_with("every acknowledged transfer accounted for)"),
        "{report}"
    );
    // The scratch SQLite folder is gone.
    assert_eq!(files_in(dir.path()), Vec::<String>::new());
}

#[test]
fn two_phase_ledger_bench_posts_or_voids_every_pending_transfer() {
    let dir = tempfile::tempdir().unwrap();
    let output = bench(
        dir.path(),
        &[
            "ledger",
            "--accounts",
            "10",
            "--transfers",
            "100",
            "--concurrency",
            "8",
            "--two-phase",
        ],
    );
    let report = report_of(&output);
    assert_has(&report, LEDGER_FIGURES);
    // Each payment is a pending transfer and its post or void: 200 rows.
    assert_has(
        &report,
        &[
            "two-phase payments (pending, then post; 1 in 10 voided)",
            "transfers: 200 created, 0 refused",
            "(100 two-phase payments)",
            "two-phase payments/s",
            SOUND,
        ],
    );
}

#[test]
fn chat_bench_on_sqlite_confirms_every_payment_and_notifies_every_payee() {
    let dir = tempfile::tempdir().unwrap();
    let output = bench(
        dir.path(),
        &[
            "chat",
            "--backend",
            "sqlite",
            "--payments",
            "40",
            "--concurrency",
            "4",
        ],
    );
    let report = report_of(&output);
    assert_has(&report, CHAT_FIGURES);
    assert_has(
        &report,
        &[
            "4 users, 4 paying at once",
            "synchronous=FULL: durable",
            "payments: 40 confirmed",
            // /pay and /confirm for each.
            "(80 messages to the bot)",
            "notifications: 40 \"paid you\" messages delivered",
            "every payee told: 40 of 40 payments",
            SOUND,
        ],
    );
    assert_eq!(files_in(dir.path()), Vec::<String>::new());
}

#[test]
fn chat_bench_through_the_mock_chat_http_api_confirms_and_notifies_every_payment() {
    let dir = tempfile::tempdir().unwrap();
    let output = bench(
        dir.path(),
        &[
            "chat",
            "--backend",
            "sqlite",
            "--payments",
            "40",
            "--concurrency",
            "4",
            "--via",
            "http",
        ],
    );
    let report = report_of(&output);
    assert_has(&report, CHAT_FIGURES);
    assert_has(
        &report,
        &[
            "4 paying at once through the mock chat's HTTP API",
            "payments: 40 confirmed",
            "(80 messages to the bot)",
            "every payee told: 40 of 40 payments",
            "0 left after draining",
            SOUND,
        ],
    );
    assert_eq!(files_in(dir.path()), Vec::<String>::new());
}

#[test]
fn bench_refuses_no_submitters_and_unknown_backends() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["ledger", "--concurrency", "0"][..],
        &["ledger", "--backend", "mysql"],
        &["chat", "--payments", "0"],
    ] {
        let output = bench(dir.path(), args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(output.stdout.is_empty(), "{args:?}");
    }
}

/// The PostgreSQL server the tests use, or `None` (skipped loudly; a
/// failure with `CI=true`) when it is unreachable. The bench makes and
/// drops its own scratch database there.
async fn postgres_server() -> Option<String> {
    let (_, admin_url, name) = ledger::testing::fresh_postgres_database().await?;
    ledger::testing::drop_postgres_database(&admin_url, &name).await;
    Some(admin_url)
}

#[tokio::test]
async fn ledger_and_chat_benches_on_postgres_report_figures_and_a_sound_ledger() {
    let Some(server) = postgres_server().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let ledger_run = small_ledger_bench(dir.path(), &["--backend", "postgres", "--url", &server]);
    let report = report_of(&ledger_run);
    assert_has(&report, LEDGER_FIGURES);
    assert_has(
        &report,
        &[
            "durability: PostgreSQL synchronous_commit=on fsync=on: durable",
            "transfers: 200 created, 0 refused",
            SOUND,
        ],
    );

    let chat_run = bench(
        dir.path(),
        &[
            "chat",
            "--backend",
            "postgres",
            "--url",
            &server,
            "--payments",
            "20",
            "--concurrency",
            "4",
        ],
    );
    let report = report_of(&chat_run);
    assert_has(&report, CHAT_FIGURES);
    assert_has(
        &report,
        &[
            "payments: 20 confirmed",
            "every payee told: 20 of 20 payments",
            SOUND,
        ],
    );
    // The scratch databases the two runs named are dropped.
    let printed = |r: &str| {
        r.lines()
            .find_map(|l| l.strip_prefix("database: "))
            .map(|u| u.rsplit('/').next().unwrap_or_default().to_owned())
            .unwrap()
    };
    let ours = [printed(&report_of(&ledger_run)), printed(&report)];
    let mut conn = sqlx::PgConnection::connect(&format!("{server}/postgres"))
        .await
        .unwrap();
    for name in ours {
        assert!(name.starts_with("paybot_bench_"), "{name}");
        let exists: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pg_database WHERE datname = $1")
            .bind(&name)
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(exists, 0, "{name} left behind");
    }
}
