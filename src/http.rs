//! The HTTP server's connection handling: paybot's own accept loop over
//! hyper-util's connection builder (what `axum::serve` does, plus limits).
//!
//! The one design decision to know: **every connection is either busy (a
//! request is being answered) or idle, and only idle ones are closed to make
//! room**. An idle connection waits for its next request for at most
//! `http.idle_timeout_secs`; once its first byte arrives it has
//! `http.header_read_timeout_secs` to finish the headers; from then on the
//! request (body included) has `http.request_timeout_secs`, and at most
//! `http.requests_in_flight_max` are answered at once (more get 503 at
//! once). At `http.connections_max` open connections, a new one closes the
//! connection idle the longest, as nginx reuses keep-alive connections, so
//! an attacker holding thousands of idle or slow-header connections cannot
//! lock anyone out. The bound is kept below the open-file limit, which is
//! raised to its hard limit at start.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde_json::json;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower::ServiceExt as _;
use tracing::{debug, info, warn};

use crate::logging::EveryInterval;
use crate::settings::HttpSettings;

/// File descriptors kept free of connections: the database pool, the
/// SQLite files, the log, outgoing HTTP clients, the listener.
pub const FDS_RESERVED: u64 = 128;
/// After an accept error other than a refused connection (out of file
/// descriptors, say), how long the loop pauses, in milliseconds.
pub const ACCEPT_ERROR_PAUSE_MS: u64 = 100;
/// How often a warning about shed or closed connections is logged, at
/// most, in seconds.
pub const LIMIT_WARNING_INTERVAL_SECS: u64 = 10;
/// The path never shed by the in-flight limit (liveness).
pub const HEALTHZ_PATH: &str = "/healthz";
/// `Retry-After` of a shed request, in seconds.
pub const SHED_RETRY_AFTER_SECS: u64 = 1;

/// The server's limits, from `[http]`.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub request_timeout: Duration,
    pub connections_max: usize,
    pub requests_in_flight_max: usize,
}

impl Limits {
    pub fn from_settings(http: &HttpSettings) -> Limits {
        Limits {
            header_read_timeout: Duration::from_secs(http.header_read_timeout_secs),
            idle_timeout: Duration::from_secs(http.idle_timeout_secs),
            request_timeout: Duration::from_secs(http.request_timeout_secs),
            connections_max: http.connections_max,
            requests_in_flight_max: http.requests_in_flight_max,
        }
    }
}

/// Raises the soft open-file limit to the hard one; the soft limit after
/// (`None` where it cannot be read).
pub fn raise_open_file_limit() -> Option<u64> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => Some(limit),
        Err(e) => {
            warn!(error = %e, "cannot raise the open-file limit");
            rlimit::getrlimit(rlimit::Resource::NOFILE)
                .ok()
                .map(|(soft, _)| soft)
        }
    }
}

/// `connections_max`, lowered to leave [`FDS_RESERVED`] descriptors free
/// under `open_files_max` (at least one connection).
pub fn connections_bound(connections_max: usize, open_files_max: Option<u64>) -> usize {
    let Some(open_files_max) = open_files_max else {
        return connections_max;
    };
    let room = usize::try_from(open_files_max.saturating_sub(FDS_RESERVED)).unwrap_or(usize::MAX);
    connections_max.min(room).max(1)
}

/// Wraps every route but [`HEALTHZ_PATH`] in the in-flight limit and the
/// request timeout; both answer 503 with a JSON error.
pub fn guard_requests(router: Router, limits: &Limits) -> Router {
    let guard = Arc::new(RequestGuard {
        permits: Arc::new(Semaphore::new(limits.requests_in_flight_max)),
        timeout: limits.request_timeout,
        shed: EveryInterval::new(Duration::from_secs(LIMIT_WARNING_INTERVAL_SECS)),
        timed_out: EveryInterval::new(Duration::from_secs(LIMIT_WARNING_INTERVAL_SECS)),
    });
    router.layer(middleware::from_fn_with_state(guard, guard_request))
}

#[derive(Debug)]
struct RequestGuard {
    permits: Arc<Semaphore>,
    timeout: Duration,
    shed: EveryInterval,
    timed_out: EveryInterval,
}

async fn guard_request(
    State(guard): State<Arc<RequestGuard>>,
    request: Request,
    next: Next,
) -> Response {
    if request.uri().path() == HEALTHZ_PATH {
        return next.run(request).await;
    }
    let permit: OwnedSemaphorePermit = match Arc::clone(&guard.permits).try_acquire_owned() {
        Ok(permit) => permit,
        Err(_) => {
            if let Some(count) = guard.shed.hit() {
                warn!(
                    shed = count,
                    interval_secs = LIMIT_WARNING_INTERVAL_SECS,
                    "requests shed: http.requests_in_flight_max are being answered"
                );
            }
            return unavailable("overloaded", "too many requests at once; retry in a moment");
        }
    };
    let answered = tokio::time::timeout(guard.timeout, next.run(request)).await;
    drop(permit);
    match answered {
        Ok(response) => response,
        Err(_) => {
            if let Some(count) = guard.timed_out.hit() {
                warn!(
                    timed_out = count,
                    timeout_secs = guard.timeout.as_secs(),
                    "requests ended by http.request_timeout_secs"
                );
            }
            unavailable("timeout", "the request took too long; retry in a moment")
        }
    }
}

fn unavailable(code: &str, message: &str) -> Response {
    let body = json!({ "error": { "code": code, "message": message } });
    let mut response = (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response();
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(SHED_RETRY_AFTER_SECS),
    );
    response
}

/// Serves `router` on `listener` until `stopped` turns true, then stops
/// accepting, lets busy connections finish their request and closes idle
/// ones, and returns once every connection is closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    mut stopped: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let open_files_max = raise_open_file_limit();
    let bound = connections_bound(limits.connections_max, open_files_max);
    if bound < limits.connections_max {
        warn!(
            connections_max = limits.connections_max,
            open_files_max, bound, "http.connections_max lowered to fit the open-file limit"
        );
    }
    info!(
        connections_max = bound,
        requests_in_flight_max = limits.requests_in_flight_max,
        header_read_timeout_secs = limits.header_read_timeout.as_secs(),
        idle_timeout_secs = limits.idle_timeout.as_secs(),
        request_timeout_secs = limits.request_timeout.as_secs(),
        open_files_max,
        "HTTP limits"
    );
    let registry = Arc::new(Registry::new(bound));
    let mut connections = JoinSet::new();
    let accept_errors = EveryInterval::new(Duration::from_secs(LIMIT_WARNING_INTERVAL_SECS));
    let for_connections = stopped.clone();
    loop {
        if *stopped.borrow_and_update() {
            break;
        }
        tokio::select! {
            biased;
            changed = stopped.changed() => {
                // An error means the sender is gone: stop as well.
                if changed.is_err() {
                    break;
                }
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let Some(connection) = registry.admit() else {
                        // Every connection is busy: this one waits for nothing.
                        drop(stream);
                        continue;
                    };
                    connections.spawn(run_connection(
                        stream,
                        peer,
                        connection,
                        Arc::clone(&registry),
                        router.clone(),
                        limits,
                        for_connections.clone(),
                    ));
                }
                Err(e) if is_connection_error(&e) => {}
                Err(e) => {
                    if let Some(count) = accept_errors.hit() {
                        warn!(error = %e, errors = count, "cannot accept connections");
                    }
                    tokio::time::sleep(Duration::from_millis(ACCEPT_ERROR_PAUSE_MS)).await;
                }
            }
        }
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
    Ok(())
}

fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind as K;
    matches!(
        e.kind(),
        K::ConnectionRefused | K::ConnectionAborted | K::ConnectionReset
    )
}

/// The open connections, and which are idle, oldest first.
#[derive(Debug)]
struct Registry {
    bound: usize,
    epoch: Instant,
    inner: Mutex<RegistryInner>,
    closed: EveryInterval,
}

#[derive(Debug, Default)]
struct RegistryInner {
    next_id: u64,
    next_seq: u64,
    open: HashMap<u64, Open>,
    /// Idle connections by the order they became idle: first = oldest.
    idle: BTreeMap<u64, u64>,
}

#[derive(Debug)]
struct Open {
    connection: Arc<Connection>,
    /// Its key in `idle` while idle.
    idle_seq: Option<u64>,
}

impl Registry {
    fn new(bound: usize) -> Registry {
        Registry {
            bound,
            epoch: Instant::now(),
            inner: Mutex::new(RegistryInner::default()),
            closed: EveryInterval::new(Duration::from_secs(LIMIT_WARNING_INTERVAL_SECS)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, RegistryInner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// A place for a new connection: at the bound, the connection idle the
    /// longest is told to close. `None` when every open one is busy.
    fn admit(&self) -> Option<Arc<Connection>> {
        let mut inner = self.lock();
        if inner.open.len() >= self.bound {
            let (_, oldest) = inner.idle.pop_first()?;
            if let Some(evicted) = inner.open.remove(&oldest) {
                evicted.connection.close.notify_one();
            }
            if let Some(count) = self.closed.hit() {
                warn!(
                    closed = count,
                    connections_max = self.bound,
                    "at http.connections_max: closed the longest-idle connections"
                );
            }
        }
        inner.next_id = inner.next_id.wrapping_add(1);
        inner.next_seq = inner.next_seq.wrapping_add(1);
        let (id, seq) = (inner.next_id, inner.next_seq);
        let connection = Arc::new(Connection {
            id,
            idle_since_ms: AtomicU64::new(self.now_ms()),
            first_byte_ms: AtomicU64::new(0),
            busy: AtomicBool::new(false),
            close: Notify::new(),
            activity: Notify::new(),
        });
        inner.open.insert(
            id,
            Open {
                connection: Arc::clone(&connection),
                idle_seq: Some(seq),
            },
        );
        inner.idle.insert(seq, id);
        Some(connection)
    }

    fn busy(&self, connection: &Connection) {
        connection.busy.store(true, Ordering::SeqCst);
        let mut inner = self.lock();
        if let Some(seq) = inner
            .open
            .get_mut(&connection.id)
            .and_then(|open| open.idle_seq.take())
        {
            inner.idle.remove(&seq);
        }
    }

    fn idle(&self, connection: &Connection) {
        connection.first_byte_ms.store(0, Ordering::SeqCst);
        connection
            .idle_since_ms
            .store(self.now_ms(), Ordering::SeqCst);
        connection.busy.store(false, Ordering::SeqCst);
        let mut inner = self.lock();
        inner.next_seq = inner.next_seq.wrapping_add(1);
        let seq = inner.next_seq;
        if let Some(open) = inner.open.get_mut(&connection.id) {
            if let Some(old) = open.idle_seq.replace(seq) {
                inner.idle.remove(&old);
            }
            inner.idle.insert(seq, connection.id);
        }
        connection.activity.notify_one();
    }

    fn remove(&self, connection: &Connection) {
        let mut inner = self.lock();
        if let Some(open) = inner.open.remove(&connection.id)
            && let Some(seq) = open.idle_seq
        {
            inner.idle.remove(&seq);
        }
    }

    /// When `connection` is due to close if nothing happens (`None`: busy).
    fn deadline(&self, connection: &Connection, limits: &Limits) -> Option<Instant> {
        if connection.busy.load(Ordering::SeqCst) {
            return None;
        }
        let first_byte = connection.first_byte_ms.load(Ordering::SeqCst);
        let (since_ms, allowed) = if first_byte > 0 {
            (first_byte, limits.header_read_timeout)
        } else {
            (
                connection.idle_since_ms.load(Ordering::SeqCst),
                limits.idle_timeout,
            )
        };
        Some(self.epoch + Duration::from_millis(since_ms) + allowed)
    }
}

/// One open connection's state, shared by its task, its reads and its
/// requests.
#[derive(Debug)]
struct Connection {
    id: u64,
    /// When it last became idle, ms after the registry's epoch.
    idle_since_ms: AtomicU64,
    /// When the first byte of its next request came, ms after the epoch
    /// (at least 1); 0: none yet.
    first_byte_ms: AtomicU64,
    busy: AtomicBool,
    /// Told to close (to make room).
    close: Notify,
    /// Something changed its deadline.
    activity: Notify,
}

async fn run_connection(
    stream: TcpStream,
    peer: SocketAddr,
    connection: Arc<Connection>,
    registry: Arc<Registry>,
    router: Router,
    limits: Limits,
    mut stopped: watch::Receiver<bool>,
) {
    let io = TokioIo::new(Watched {
        inner: stream,
        connection: Arc::clone(&connection),
        registry: Arc::clone(&registry),
    });
    let service = Tracked {
        router,
        peer,
        connection: Arc::clone(&connection),
        registry: Arc::clone(&registry),
    };
    let mut builder = auto::Builder::new(TokioExecutor::new()).http1_only();
    // The header timeout is ours (it starts at a request's first byte, not
    // while the connection idles).
    builder.http1().header_read_timeout(None);
    let mut served = pin!(builder.serve_connection(io, service));
    let mut stopping = false;
    loop {
        let deadline = registry
            .deadline(&connection, &limits)
            .unwrap_or_else(|| Instant::now() + limits.idle_timeout);
        tokio::select! {
            result = served.as_mut() => {
                if let Err(e) = result {
                    debug!(error = %e, %peer, "connection ended with an error");
                }
                break;
            }
            () = connection.close.notified() => {
                debug!(%peer, "closed to make room for a new connection");
                break;
            }
            changed = stopped.changed(), if !stopping => {
                let _ = changed;
                stopping = true;
                if !connection.busy.load(Ordering::SeqCst) {
                    break;
                }
                served.as_mut().graceful_shutdown();
            }
            () = tokio::time::sleep_until(deadline) => {
                let due = registry.deadline(&connection, &limits);
                if due.is_some_and(|due| due <= Instant::now()) {
                    debug!(%peer, "closed: idle or header timeout");
                    break;
                }
            }
            () = connection.activity.notified() => {}
        }
    }
    registry.remove(&connection);
}

/// The connection's socket, noting the first byte of each request.
#[derive(Debug)]
struct Watched {
    inner: TcpStream,
    connection: Arc<Connection>,
    registry: Arc<Registry>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            let connection = &self.connection;
            if !connection.busy.load(Ordering::SeqCst)
                && connection.first_byte_ms.load(Ordering::SeqCst) == 0
            {
                let now = self.registry.now_ms().max(1);
                connection.first_byte_ms.store(now, Ordering::SeqCst);
                connection.activity.notify_one();
            }
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// The router, for one connection: marks it busy while a request is
/// answered and gives handlers the peer's address (`ConnectInfo`).
#[derive(Debug, Clone)]
struct Tracked {
    router: Router,
    peer: SocketAddr,
    connection: Arc<Connection>,
    registry: Arc<Registry>,
}

/// Marks the connection idle again when the answer is done or dropped.
struct BusyGuard {
    connection: Arc<Connection>,
    registry: Arc<Registry>,
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.registry.idle(&self.connection);
    }
}

type Answer = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

impl hyper::service::Service<hyper::Request<Incoming>> for Tracked {
    type Response = Response;
    type Error = Infallible;
    type Future = Answer;

    fn call(&self, request: hyper::Request<Incoming>) -> Answer {
        self.registry.busy(&self.connection);
        let guard = BusyGuard {
            connection: Arc::clone(&self.connection),
            registry: Arc::clone(&self.registry),
        };
        let mut request = request.map(Body::new);
        request.extensions_mut().insert(ConnectInfo(self.peer));
        let router = self.router.clone();
        Box::pin(async move {
            let response = router.oneshot(request).await;
            drop(guard);
            response
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_bound_leaves_descriptors_free() {
        assert_eq!(connections_bound(10_000, None), 10_000);
        assert_eq!(connections_bound(10_000, Some(1_048_576)), 10_000);
        assert_eq!(connections_bound(10_000, Some(1_024)), 1_024 - 128);
        assert_eq!(connections_bound(64, Some(256)), 64);
        assert_eq!(connections_bound(64, Some(100)), 1);
    }

    #[tokio::test]
    async fn at_the_bound_the_longest_idle_connection_is_closed() {
        let registry = Registry::new(3);
        let a = registry.admit().unwrap();
        let b = registry.admit().unwrap();
        let c = registry.admit().unwrap();
        // a is answering a request; b became idle after c.
        registry.busy(&a);
        registry.busy(&b);
        registry.idle(&b);
        let d = registry.admit().unwrap();
        // c was idle the longest: it is told to close, a (busy) is not.
        tokio::time::timeout(Duration::from_secs(1), c.close.notified())
            .await
            .unwrap();
        assert_eq!(registry.lock().open.len(), 3);
        registry.busy(&b);
        registry.busy(&d);
        // Every connection busy: no place.
        assert!(registry.admit().is_none());
        registry.remove(&a);
        assert!(registry.admit().is_some());
    }
}
