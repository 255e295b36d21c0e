//! Running the binary: one-shot commands with a time limit, a server
//! handle that finds its port from the log and never outlives the test,
//! a raw HTTP/1.1 GET, and a throwaway PostgreSQL database.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a one-shot command (`migrate`, `verify`, a refused start) may take.
pub(crate) const COMMAND_TIMEOUT_SECS: u64 = 60;
/// How long `serve` may take to log `listening on ADDR`.
pub(crate) const START_TIMEOUT_SECS: u64 = 60;
/// How long `serve` may take to exit after SIGINT or SIGTERM.
pub(crate) const EXIT_TIMEOUT_SECS: u64 = 10;
/// Read and connect timeout of the test HTTP client.
pub(crate) const HTTP_TIMEOUT_SECS: u64 = 10;

/// `paybot` run in `dir`, with a clean environment for its settings.
pub(crate) fn paybot(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_paybot"));
    cmd.current_dir(dir).stdin(Stdio::null());
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(|n| n.starts_with("PAYBOT_")) {
            cmd.env_remove(name);
        }
    }
    cmd.env_remove("RUST_LOG")
        .env("PAYBOT_HTTP__ADDR", "127.0.0.1:0");
    cmd
}

/// `paybot serve` started in a fresh folder with these settings from the
/// environment; the folder lives as long as the test holds it.
pub(crate) fn serve_fresh(vars: &[(&str, &str)]) -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&mut serve(dir.path(), vars));
    (dir, server)
}

/// `paybot serve` run in `dir` with these settings from the environment.
pub(crate) fn serve(dir: &Path, vars: &[(&str, &str)]) -> Command {
    let mut cmd = paybot(dir);
    cmd.arg("serve").envs(vars.iter().copied());
    cmd
}

/// What a finished command printed.
#[derive(Debug)]
pub(crate) struct Finished {
    pub(crate) status: ExitStatus,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Finished {
    pub(crate) fn code(&self) -> Option<i32> {
        self.status.code()
    }
}

/// Runs `cmd` to completion, killing it after [`COMMAND_TIMEOUT_SECS`].
pub(crate) fn run(cmd: &mut Command) -> Finished {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = drain(child.stdout.take().unwrap());
    let stderr = drain(child.stderr.take().unwrap());
    let status = wait_for_exit(&mut child, Duration::from_secs(COMMAND_TIMEOUT_SECS));
    let stdout = stdout.join().unwrap();
    let stderr = stderr.join().unwrap();
    let Some(status) = status else {
        panic!("paybot did not finish in {COMMAND_TIMEOUT_SECS} s; stderr:\n{stderr}");
    };
    Finished {
        status,
        stdout,
        stderr,
    }
}

fn drain(mut from: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = from.read_to_string(&mut text);
        text
    })
}

/// Waits for `child` to exit; kills and reaps it after `limit`.
fn wait_for_exit(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// A running `paybot serve`. Killed on drop if still running.
pub(crate) struct Server {
    child: Child,
    pub(crate) addr: SocketAddr,
    stderr: Arc<Mutex<String>>,
    reader: Option<JoinHandle<()>>,
}

impl Server {
    /// Spawns `cmd` and waits for its `listening on ADDR` log line.
    /// Standard output is kept with the log (see [`Server::stderr`]).
    pub(crate) fn start(cmd: &mut Command) -> Server {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let stdout = child.stdout.take().unwrap();
        let out = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                out.lock().unwrap().push_str(&format!("{line}\n"));
            }
        });
        let (lines, listening) = mpsc::channel();
        let pipe = child.stderr.take().unwrap();
        let log = Arc::clone(&stderr);
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                log.lock().unwrap().push_str(&format!("{line}\n"));
                if let Some((_, addr)) = line.split_once("listening on ") {
                    let _ = lines.send(addr.trim().to_owned());
                }
            }
        });
        let mut server = Server {
            child,
            addr: SocketAddr::from(([0, 0, 0, 0], 0)),
            stderr,
            reader: Some(reader),
        };
        match listening.recv_timeout(Duration::from_secs(START_TIMEOUT_SECS)) {
            Ok(addr) => server.addr = addr.parse().unwrap(),
            Err(_) => {
                let _ = server.child.kill();
                let _ = server.child.wait();
                panic!(
                    "paybot did not start listening; stderr:\n{}",
                    server.stderr()
                );
            }
        }
        server
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything logged (and printed) so far.
    pub(crate) fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Sends a signal by name (`TERM`, `INT`) with kill(1).
    pub(crate) fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits for the process to exit on its own, at most `EXIT_TIMEOUT_SECS`;
    /// returns its status and its whole log.
    pub(crate) fn wait_for_exit(mut self) -> (ExitStatus, String) {
        let status = wait_for_exit(&mut self.child, Duration::from_secs(EXIT_TIMEOUT_SECS));
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        let log = self.stderr();
        let Some(status) = status else {
            panic!("paybot did not exit within {EXIT_TIMEOUT_SECS} s; stderr:\n{log}");
        };
        (status, log)
    }

    /// `GET path`: the status code and the body.
    pub(crate) fn get(&self, path: &str) -> (u16, String) {
        http_get(self.addr, path)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A minimal HTTP/1.1 GET: one request per connection, `Connection: close`.
pub(crate) fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    http_request(addr, "GET", path, &[], "")
}

/// A minimal HTTP/1.1 GET with these header lines.
pub(crate) fn http_get_with_headers(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, String) {
    http_request(addr, "GET", path, headers, "")
}

/// A raw HTTP/1.1 POST of `body` with `content_type` (`None`: no header).
pub(crate) fn http_post(
    addr: SocketAddr,
    path: &str,
    content_type: Option<&str>,
    body: &str,
) -> (u16, String) {
    let headers: Vec<(&str, &str)> = content_type
        .map(|t| vec![("Content-Type", t)])
        .unwrap_or_default();
    http_request(addr, "POST", path, &headers, body)
}

/// A raw HTTP/1.1 POST of `body` with these header lines.
pub(crate) fn http_post_with_headers(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    http_request(addr, "POST", path, headers, body)
}

/// A raw HTTP/1.1 request of any method, with these header lines.
pub(crate) fn http_call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    http_request(addr, method, path, headers, body)
}

fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let timeout = Duration::from_secs(HTTP_TIMEOUT_SECS);
    let mut stream = TcpStream::connect_timeout(&addr, timeout).unwrap();
    stream.set_read_timeout(Some(timeout)).unwrap();
    let headers = header_lines(headers);
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{headers}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.split(' ').nth(1).and_then(|code| code.parse().ok());
    let Some(status) = status else {
        panic!("not an HTTP response: {response:?}")
    };
    (status, body.to_owned())
}

/// A database of its own on the local PostgreSQL, made by the ledger's test
/// support (`PAYBOT_TEST_POSTGRES_URL`; a loud SKIP without a server, a
/// failure with `CI=true`), dropped on drop, also when the test panics.
pub(crate) struct PgDatabase {
    pub(crate) url: String,
    admin_url: String,
    name: String,
}

impl PgDatabase {
    pub(crate) async fn create() -> Option<PgDatabase> {
        let (url, admin_url, name) = ledger::testing::fresh_postgres_database().await?;
        Some(PgDatabase {
            url,
            admin_url,
            name,
        })
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        ledger::testing::drop_postgres_database_from_drop(&self.admin_url, &self.name);
    }
}

pub(crate) use crate::support::word_after;

/// Request header lines, each ended by CRLF.
pub(crate) fn header_lines(headers: &[(&str, &str)]) -> String {
    headers
        .iter()
        .map(|(name, value)| format!("{name}: {value}\r\n"))
        .collect()
}
