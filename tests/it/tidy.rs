//! The invariants of ARCHITECTURE.md that a machine can check, checked: the
//! way crates depend on each other (from `cargo metadata` and `cargo tree`,
//! run with the `cargo` that runs these tests), where SQL may be written,
//! and how long the core's files may grow. Each failure names the crate or
//! file and the rule it breaks.
//!
//! The decision to know: what `bot` links is read from `cargo tree -p bot`,
//! not from the resolve graph of `cargo metadata`. That graph is the whole
//! workspace's, with features unified: a crate that turns on a storage
//! feature of `ledger` would show a database driver under `bot` there,
//! though a build of `bot` never compiles one. `cargo tree -p bot` resolves
//! features as a build of `bot` alone does. The other rules are about the
//! workspace's own manifests and read `cargo metadata --no-deps`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// Crates `bot` may not link, by family (each name also stands for its
/// `NAME-*` sub-crates, such as `sqlx-core` or `teloxide-core`).
const BOT_FORBIDDEN: &[(&str, &str)] = &[
    ("teloxide", "a chat SDK"),
    ("serenity", "a chat SDK"),
    ("axum", "an HTTP framework"),
    ("hyper", "an HTTP framework"),
    ("tower-http", "an HTTP framework"),
    ("sqlx", "a database driver"),
    ("rusqlite", "a database driver"),
    ("libsqlite3-sys", "a database driver"),
    ("tokio-postgres", "a database driver"),
    ("postgres", "a database driver"),
    ("reqwest", "an HTTP client"),
];

/// A path into the database driver, as code names it (spelt in two pieces
/// so that this file does not name it).
const SQL_NEEDLE: &str = concat!("sqlx", "::");

/// Where [`SQL_NEEDLE`] belongs: the ledger and the bot's SQL store.
const SQL_HOMES: &[&str] = &["ledger/", "adapters/store/"];

/// Files outside [`SQL_HOMES`] that may name [`SQL_NEEDLE`], each with its
/// reason.
/// A file listed here that no longer names it is reported too, so the list
/// stays exact.
const SQL_EXCEPTIONS: &[(&str, &str)] = &[
    (
        "src/bench/mod.rs",
        "the benchmark makes and drops its scratch PostgreSQL database",
    ),
    (
        "src/torture/cluster.rs",
        "the bank test's independent checker reads the database directly, not through the code it checks",
    ),
    (
        "src/torture/chat_db.rs",
        "the chat bank test's independent checker reads the database directly, not through the code it checks",
    ),
    (
        "tests/it/bench.rs",
        "a test: checks that the benchmark dropped its scratch database",
    ),
    (
        "tests/it/discord.rs",
        "a test: holds SQLite's write lock to make the core slow",
    ),
    (
        "tests/it/e2e/deployment.rs",
        "a test: reads what the binary stored, from outside",
    ),
];

/// The longest a source file of the core may be, in lines.
const BOT_FILE_LINES_MAX: usize = 800;

/// The workspace's root folder.
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `cargo ARGS` in the workspace root and returns its stdout.
fn cargo(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO"))
        .args(args)
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "cargo {} failed:\n{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// One crate of this workspace, from its manifest.
struct Member {
    name: String,
    /// The folder of its `Cargo.toml`, relative to the workspace root, with
    /// `/` separators ("" for the root package).
    dir: String,
    /// The workspace crates it depends on (any kind: normal, build, dev),
    /// itself excluded.
    workspace_deps: BTreeSet<String>,
}

fn members() -> Vec<Member> {
    let metadata: Value =
        serde_json::from_str(&cargo(&["metadata", "--format-version", "1", "--no-deps"])).unwrap();
    let root = root();
    let packages = metadata["packages"].as_array().unwrap();
    let names: BTreeSet<String> = packages
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect();
    packages
        .iter()
        .map(|p| {
            let name = p["name"].as_str().unwrap().to_owned();
            let manifest = PathBuf::from(p["manifest_path"].as_str().unwrap());
            let dir = manifest
                .parent()
                .unwrap()
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let workspace_deps = p["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["path"].is_string())
                .map(|d| d["name"].as_str().unwrap().to_owned())
                .filter(|d| names.contains(d) && *d != name)
                .collect();
            Member {
                name,
                dir,
                workspace_deps,
            }
        })
        .collect()
}

/// The crate whose name is `name` or `name-*` in `family`, if any.
fn family_of(name: &str) -> Option<(&'static str, &'static str)> {
    BOT_FORBIDDEN.iter().copied().find(|(family, _)| {
        name == *family
            || name
                .strip_prefix(family)
                .is_some_and(|rest| rest.starts_with('-'))
    })
}

#[test]
fn bot_links_no_chat_sdk_http_framework_database_driver_or_http_client() {
    // One line per package as `DEPTH NAME vVERSION ...`, depth first, so
    // the path to each crate is the last crate seen at each smaller depth.
    let tree = cargo(&[
        "tree", "-p", "bot", "-e", "normal", "--prefix", "depth", "--format", " {p}",
    ]);
    let mut path: Vec<String> = Vec::new();
    let mut seen = BTreeSet::new();
    let mut failures = BTreeSet::new();
    for line in tree.lines() {
        let Some((depth, package)) = line.split_once(' ') else {
            continue;
        };
        let (Ok(depth), Some(name)) = (depth.parse::<usize>(), package.split_whitespace().next())
        else {
            continue;
        };
        path.truncate(depth);
        path.push(name.to_owned());
        if let Some((family, what)) = family_of(name)
            && seen.insert(name.to_owned())
        {
            failures.insert(format!(
                "bot links {what} ({family}): {} (rule: `bot` depends on no chat SDK, HTTP \
                 framework, database driver or HTTP client; ports in `bot`, implementations \
                 in adapters)",
                path.join(" -> ")
            ));
        }
    }
    assert!(
        path.first().is_some_and(|name| name == "bot"),
        "cargo tree -p bot printed no tree:\n{tree}"
    );
    assert!(failures.is_empty(), "{}", lines(&failures));
}

#[test]
fn no_adapter_depends_on_another_adapter() {
    let members = members();
    let adapters: BTreeSet<&str> = members
        .iter()
        .filter(|m| m.dir.starts_with("adapters/"))
        .map(|m| m.name.as_str())
        .collect();
    assert!(!adapters.is_empty(), "no crate under adapters/");
    let mut failures = BTreeSet::new();
    for member in members
        .iter()
        .filter(|m| adapters.contains(m.name.as_str()))
    {
        for dep in &member.workspace_deps {
            if adapters.contains(dep.as_str()) {
                failures.insert(format!(
                    "{} ({}) depends on the adapter {dep} (rule: no adapter depends on another \
                     adapter; what two adapters share belongs in `bot` or `ledger`)",
                    member.name, member.dir
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", lines(&failures));
}

#[test]
fn ledger_depends_on_no_crate_of_this_workspace() {
    let members = members();
    let ledger = members.iter().find(|m| m.name == "ledger").unwrap();
    let failures: BTreeSet<String> = ledger
        .workspace_deps
        .iter()
        .map(|dep| {
            format!(
                "ledger depends on {dep} (rule: `ledger` depends on no crate of this workspace; \
                 it knows nothing of chats)"
            )
        })
        .collect();
    assert!(failures.is_empty(), "{}", lines(&failures));
}

#[test]
fn sqlx_is_named_only_in_the_ledger_and_the_store() {
    let root = root();
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let mut failures = BTreeSet::new();
    let mut named = BTreeSet::new();
    for file in &files {
        let relative = file
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let text = std::fs::read_to_string(file).unwrap();
        if !text.contains(SQL_NEEDLE) {
            continue;
        }
        named.insert(relative.clone());
        let home = SQL_HOMES.iter().any(|dir| relative.starts_with(dir));
        let excepted = SQL_EXCEPTIONS.iter().any(|(path, _)| *path == relative);
        if !home && !excepted {
            let line = text
                .lines()
                .position(|l| l.contains(SQL_NEEDLE))
                .map_or(0, |i| i + 1);
            failures.insert(format!(
                "{relative}:{line} names {SQL_NEEDLE} (rule: SQL lives in {}; a file that \
                 must reach the database itself is listed in SQL_EXCEPTIONS with its reason)",
                SQL_HOMES.join(" and ")
            ));
        }
    }
    for (path, _) in SQL_EXCEPTIONS {
        if !named.contains(*path) {
            failures.insert(format!(
                "{path} is in SQL_EXCEPTIONS but names no {SQL_NEEDLE} (rule: the exceptions \
                 stay exact; take it off the list)"
            ));
        }
    }
    assert!(!files.is_empty(), "no Rust file under {}", root.display());
    assert!(failures.is_empty(), "{}", lines(&failures));
}

#[test]
fn no_file_of_the_core_is_over_the_line_bound() {
    let root = root();
    let mut files = Vec::new();
    rust_files(&root.join("bot/src"), &mut files);
    assert!(!files.is_empty(), "no Rust file under bot/src");
    let failures: BTreeSet<String> = files
        .iter()
        .filter_map(|file| {
            let count = std::fs::read_to_string(file).unwrap().lines().count();
            (count > BOT_FILE_LINES_MAX).then(|| {
                format!(
                    "{} has {count} lines (rule: no file under bot/src is over \
                     {BOT_FILE_LINES_MAX} lines; split it by job)",
                    file.strip_prefix(&root).unwrap().display()
                )
            })
        })
        .collect();
    assert!(failures.is_empty(), "{}", lines(&failures));
}

/// Every `.rs` file under `dir`, build output, git's folder and hidden
/// folders skipped.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if name != "target" && !name.starts_with('.') {
                rust_files(&path, out);
            }
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

fn lines(failures: &BTreeSet<String>) -> String {
    failures.iter().fold(String::new(), |mut text, failure| {
        text.push_str("\n  ");
        text.push_str(failure);
        text
    })
}
