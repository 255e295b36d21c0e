//! The HTTP server's limits, attacked through the real binary: a
//! slow-header connection is closed within the header timeout; idle
//! connections beyond the bound cannot lock `/healthz` out, even when the
//! process has few file descriptors; a request over the in-flight limit is
//! shed with 503 and one that takes too long is ended with 503; webhook
//! secrets and signature headers are checked before a large body is read.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::runtime::Runtime;

use super::support::{HTTP_TIMEOUT_SECS, Server, header_lines, http_get, paybot, serve_fresh};
use crate::support::fake_discord::{APPLICATION_ID, FakeDiscord, GUILD_ID};
use crate::support::fake_telegram::FakeTelegram;

/// How long a test waits for the server to do what it should, in seconds;
/// far above the timeouts the tests set (1 s), so a slow machine passes.
const WAIT_SECS: u64 = HTTP_TIMEOUT_SECS;

fn json_body(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body:?}"))
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(WAIT_SECS)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(WAIT_SECS)))
        .unwrap();
    stream
}

/// Reads until the server closes the connection (or `WAIT_SECS` pass:
/// `None`), returning what it sent.
fn read_until_closed(stream: &mut TcpStream) -> Option<String> {
    let mut answer = Vec::new();
    match stream.read_to_end(&mut answer) {
        Ok(_) => Some(String::from_utf8_lossy(&answer).into_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
            Some(String::from_utf8_lossy(&answer).into_owned())
        }
        Err(_) => None,
    }
}

/// The status code of a raw response, if it is one.
fn status_of(response: &str) -> Option<u16> {
    response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
}

#[test]
fn a_slow_header_connection_is_closed_within_the_header_timeout() {
    let (_dir, server) = serve_fresh(&[
        ("PAYBOT_HTTP__HEADER_READ_TIMEOUT_SECS", "1"),
        ("PAYBOT_HTTP__IDLE_TIMEOUT_SECS", "600"),
    ]);
    let mut stream = connect(server.addr);
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let started = Instant::now();
    stream.write_all(b"GET /healthz HTTP/1.1\r\n").unwrap();
    // One header line every 200 ms: never idle, never done.
    let closed = loop {
        if started.elapsed() > Duration::from_secs(WAIT_SECS) {
            break false;
        }
        if stream.write_all(b"X-Slow: 1\r\n").is_err() {
            break true;
        }
        let mut byte = [0_u8; 256];
        match stream.read(&mut byte) {
            Ok(0) => break true,
            // An answer (a 408, say) before the close is fine too.
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break true,
        }
    };
    assert!(
        closed,
        "a connection still sending its headers was open after {WAIT_SECS} s \
         (header timeout 1 s)"
    );
    assert_eq!(server.get("/healthz").0, 200);
}

#[test]
fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let (_dir, server) = serve_fresh(&[
        ("PAYBOT_HTTP__IDLE_TIMEOUT_SECS", "1"),
        ("PAYBOT_HTTP__HEADER_READ_TIMEOUT_SECS", "300"),
    ]);
    let mut stream = connect(server.addr);
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    // The answer, then nothing: the server closes the connection.
    let answer = read_until_closed(&mut stream)
        .unwrap_or_else(|| panic!("an idle connection was open after {WAIT_SECS} s"));
    assert_eq!(status_of(&answer), Some(200), "{answer}");
    assert!(answer.ends_with(r#"{"status":"ok"}"#), "{answer}");
}

/// `paybot serve` with at most `fds` open files (soft and hard), as a
/// small machine or a container would give it.
fn paybot_with_fd_limit(dir: &std::path::Path, fds: u32) -> Command {
    let template = paybot(dir);
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("ulimit -n {fds} && exec \"$0\" serve"))
        .arg(template.get_program());
    cmd.current_dir(dir).stdin(std::process::Stdio::null());
    for (name, value) in template.get_envs() {
        match value {
            Some(value) => cmd.env(name, value),
            None => cmd.env_remove(name),
        };
    }
    cmd
}

#[test]
fn idle_connections_beyond_the_bound_do_not_lock_out_healthz() {
    const FDS: u32 = 256;
    const IDLE_CONNECTIONS: usize = 400;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        paybot_with_fd_limit(dir.path(), FDS)
            .env("PAYBOT_HTTP__CONNECTIONS_MAX", "64")
            .env("PAYBOT_HTTP__REQUESTS_IN_FLIGHT_MAX", "16"),
    );
    // Held open, sending nothing; more than the process has descriptors.
    let mut idle: Vec<TcpStream> = Vec::new();
    for _ in 0..IDLE_CONNECTIONS {
        match TcpStream::connect_timeout(&server.addr, Duration::from_secs(WAIT_SECS)) {
            Ok(stream) => idle.push(stream),
            // The kernel's accept queue is full: the attack is at its peak.
            Err(_) => break,
        }
    }
    assert!(idle.len() > 200, "only {} connections opened", idle.len());
    let (status, body) = http_get(server.addr, "/healthz");
    assert_eq!((status, json_body(&body)), (200, json!({ "status": "ok" })));
    drop(idle);
    assert_eq!(server.get("/readyz").0, 200);
    assert!(!server.stderr().contains("panicked"), "{}", server.stderr());
}

#[test]
fn a_request_over_the_in_flight_limit_gets_503_and_a_slow_one_times_out() {
    let (_dir, server) = serve_fresh(&[
        ("PAYBOT_MOCK__ENABLED", "true"),
        ("PAYBOT_HTTP__REQUESTS_IN_FLIGHT_MAX", "1"),
        ("PAYBOT_HTTP__REQUEST_TIMEOUT_SECS", "2"),
    ]);
    // A request whose body never comes holds the one place in flight; the
    // server's `100 Continue` says its handler is reading the body.
    let mut slow = connect(server.addr);
    write!(
        slow,
        "POST /mock/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: 100\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut continued = [0_u8; 25];
    slow.read_exact(&mut continued).unwrap();
    assert_eq!(&continued, b"HTTP/1.1 100 Continue\r\n\r\n");
    let (status, body) = http_get(server.addr, "/readyz");
    assert_eq!(status, 503, "{body}");
    assert_eq!(json_body(&body)["error"]["code"], "overloaded", "{body}");
    // Liveness is never shed.
    assert_eq!(server.get("/healthz").0, 200);

    // The slow request itself is ended by the request timeout.
    let answer = read_until_closed(&mut slow).expect("the slow request was never ended");
    assert_eq!(status_of(&answer), Some(503), "{answer}");
    let (_, body) = answer.split_once("\r\n\r\n").unwrap();
    assert_eq!(json_body(body)["error"]["code"], "timeout", "{answer}");
    // The place is free again.
    assert_eq!(server.get("/readyz").0, 200);
}

/// Sends a POST head announcing a body of `content_length` bytes and no
/// body at all; the answer
/// must come without the body (`None`: none came).
fn post_head_only(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    content_length: usize,
) -> Option<u16> {
    let mut stream = connect(addr);
    let headers = header_lines(headers);
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Content-Type: application/json\r\n{headers}Content-Length: {content_length}\r\n\r\n"
    )
    .unwrap();
    let mut answer = [0_u8; 512];
    let read = stream.read(&mut answer).ok()?;
    status_of(&String::from_utf8_lossy(answer.get(..read)?))
}

#[test]
fn webhook_secrets_and_signature_headers_are_checked_before_the_body_is_read() {
    let rt = Runtime::new().unwrap();
    let telegram = rt.block_on(FakeTelegram::start());
    let discord = rt.block_on(FakeDiscord::start());
    let key_hex = discord.signing_key.public_key_hex();
    let (_dir, server) = serve_fresh(&[
        (
            "PAYBOT_TELEGRAM__TOKEN",
            crate::support::fake_telegram::TOKEN,
        ),
        ("PAYBOT_TELEGRAM__API_URL", &telegram.url),
        ("PAYBOT_TELEGRAM__MODE", "webhook"),
        (
            "PAYBOT_TELEGRAM__WEBHOOK_URL",
            "https://pay.example/telegram/webhook",
        ),
        (
            "PAYBOT_TELEGRAM__WEBHOOK_SECRET",
            "e2e-webhook-secret-abcdef0123456789",
        ),
        ("PAYBOT_DISCORD__TOKEN", crate::support::fake_discord::TOKEN),
        (
            "PAYBOT_DISCORD__APPLICATION_ID",
            &APPLICATION_ID.to_string(),
        ),
        ("PAYBOT_DISCORD__PUBLIC_KEY", &key_hex),
        ("PAYBOT_DISCORD__API_URL", &discord.url),
        ("PAYBOT_DISCORD__GUILD_ID", &GUILD_ID.to_string()),
    ]);
    let telegram_cases: [&[(&str, &str)]; 2] = [
        &[],
        &[(
            "X-Telegram-Bot-Api-Secret-Token",
            "e2e-webhook-secret-abcdef012345678X",
        )],
    ];
    for headers in telegram_cases {
        assert_eq!(
            post_head_only(server.addr, "/telegram/webhook", headers, 1_000_000),
            Some(401),
            "telegram {headers:?}"
        );
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let stale = (now - 3_600).to_string();
    let signature = "ab".repeat(64);
    let discord_cases: [&[(&str, &str)]; 3] = [
        &[],
        &[("X-Signature-Timestamp", &stale)],
        &[
            ("X-Signature-Ed25519", &signature),
            ("X-Signature-Timestamp", &stale),
        ],
    ];
    for headers in discord_cases {
        assert_eq!(
            post_head_only(server.addr, "/discord/interactions", headers, 1_000_000),
            Some(401),
            "discord {headers:?}"
        );
    }
    // A body over the bound with fresh headers is refused unread.
    let fresh = now.to_string();
    let headers = [
        ("X-Signature-Ed25519", signature.as_str()),
        ("X-Signature-Timestamp", fresh.as_str()),
    ];
    assert_eq!(
        post_head_only(server.addr, "/discord/interactions", &headers, 2_000_000),
        Some(413)
    );
    let headers = [(
        "X-Telegram-Bot-Api-Secret-Token",
        "e2e-webhook-secret-abcdef0123456789",
    )];
    assert_eq!(
        post_head_only(server.addr, "/telegram/webhook", &headers, 2_000_000),
        Some(413)
    );
}

#[test]
fn slow_unsigned_discord_bodies_cannot_take_every_request_slot() {
    let rt = Runtime::new().unwrap();
    let discord = rt.block_on(FakeDiscord::start());
    let key_hex = discord.signing_key.public_key_hex();
    let (_dir, server) = serve_fresh(&[
        ("PAYBOT_HTTP__REQUESTS_IN_FLIGHT_MAX", "36"),
        ("PAYBOT_DISCORD__TOKEN", crate::support::fake_discord::TOKEN),
        (
            "PAYBOT_DISCORD__APPLICATION_ID",
            &APPLICATION_ID.to_string(),
        ),
        ("PAYBOT_DISCORD__PUBLIC_KEY", &key_hex),
        ("PAYBOT_DISCORD__API_URL", &discord.url),
        ("PAYBOT_DISCORD__GUILD_ID", &GUILD_ID.to_string()),
    ]);
    // Headers anyone can make (a signature-shaped value, a fresh timestamp
    // of the attacker's choosing), then a body that never comes: the
    // signature cannot be checked before the body is read.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let head = format!(
        "POST /discord/interactions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         X-Signature-Ed25519: {}\r\nX-Signature-Timestamp: {now}\r\nContent-Length: 1000\r\n\r\n{{",
        "ab".repeat(64)
    );
    let mut slow: Vec<TcpStream> = (0..40)
        .map(|_| {
            let mut stream = connect(server.addr);
            stream.write_all(head.as_bytes()).unwrap();
            stream
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    // Everyone else is still served.
    assert_eq!(http_get(server.addr, "/readyz").0, 200);
    // And each slow body is ended well before the request timeout (30 s).
    let started = Instant::now();
    let answer = read_until_closed(slow.first_mut().unwrap()).unwrap_or_default();
    assert!(
        started.elapsed() < Duration::from_secs(WAIT_SECS),
        "a slow unsigned body held its slot for {:?}",
        started.elapsed()
    );
    assert!(matches!(status_of(&answer), Some(408 | 503)), "{answer:?}");
}
