//! `/metrics`: what an operator's Prometheus scrapes, in the Prometheus
//! text format (version 0.0.4), encoded by the `prometheus` crate.
//!
//! The one design decision to know: **nothing is recorded here; a scrape
//! reads**. The core counts in plain atomics (`bot::stats`, read with
//! `Bot::stats`), the ledger's writer in its own (`Ledger::writer_stats`),
//! and what is state rather than history (payments not yet final, the
//! outbox's backlog) is read from the database at scrape time, each query
//! bounded by [`METRICS_ROWS_COUNTED_MAX`] and
//! [`METRICS_DATABASE_TIMEOUT_MS`]. Each scrape builds its metric families
//! afresh from those figures, so no registry or global lives in the process.
//!
//! Never public by default ([`crate::settings::MetricsSettings`]): on the
//! main listener `/metrics` exists only when `metrics.token` or
//! `api.operator_token` is set and answers only that bearer token (compared
//! as a digest in constant time, wrong ones throttled as the API's are);
//! on its own listener (`metrics.listen`, off by default) it asks for
//! `metrics.token` when that is set.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bot::Bot;
use bot::stats::BotStats;
use ledger::{BATCH_SIZE_BUCKETS, COMMIT_LATENCY_BOUNDS_US, Ledger, WriterStats};
use prometheus::proto::{
    Bucket, Counter, Gauge, Histogram, LabelPair, Metric, MetricFamily, MetricType,
};
use tracing::warn;

use crate::api::{ApiToken, AuthThrottle};
use crate::logging::EveryInterval;

/// Where the metrics are served, on either listener.
pub const METRICS_PATH: &str = "/metrics";
/// The most rows one database figure counts (payments not yet final, the
/// outbox's backlog): a scrape's queries stay bounded however large the
/// tables grow.
pub const METRICS_ROWS_COUNTED_MAX: u32 = 100_000;
/// How long a scrape waits for the database, in milliseconds; past it the
/// database's figures are left out and `paybot_metrics_database_up` is 0.
pub const METRICS_DATABASE_TIMEOUT_MS: u64 = 2_000;
/// Open connections on the metrics listener (`metrics.listen`).
pub const METRICS_CONNECTIONS_MAX: usize = 16;
/// Scrapes answered at once on the metrics listener.
pub const METRICS_REQUESTS_IN_FLIGHT_MAX: usize = 4;
/// At most one warning about wrong metrics tokens per this many seconds.
pub const METRICS_AUTH_FAILURE_LOG_INTERVAL_SECS: u64 = 10;

/// What a scrape reads.
#[derive(Debug, Clone)]
pub struct Metrics {
    bot: Arc<Bot>,
    ledger: Ledger,
}

impl Metrics {
    pub fn new(bot: Arc<Bot>, ledger: Ledger) -> Metrics {
        Metrics { bot, ledger }
    }

    /// Every metric, in the Prometheus text format.
    pub async fn render(&self) -> String {
        let mut families = Vec::new();
        bot_families(&mut families, &self.bot.stats());
        ledger_families(&mut families, &self.ledger.writer_stats());
        let database_up = self.database_families(&mut families).await;
        families.push(gauge_family(
            "paybot_metrics_database_up",
            "1 when this scrape read the database's figures in time, else 0 (they are left out)",
            vec![gauge(&[], if database_up { 1.0 } else { 0.0 })],
        ));
        process_families(&mut families);
        let encoder = prometheus::TextEncoder::new();
        encoder.encode_to_string(&families).unwrap_or_else(|e| {
            warn!(error = %e, "cannot encode the metrics");
            String::new()
        })
    }

    /// The figures read from the database; `false` when they could not be.
    async fn database_families(&self, families: &mut Vec<MetricFamily>) -> bool {
        let read = async {
            let payments = self.bot.open_payments(METRICS_ROWS_COUNTED_MAX).await;
            let backlog = self.ledger.outbox_backlog(METRICS_ROWS_COUNTED_MAX).await;
            (payments, backlog)
        };
        let limit = Duration::from_millis(METRICS_DATABASE_TIMEOUT_MS);
        let (payments, backlog) = match tokio::time::timeout(limit, read).await {
            Ok((Ok(payments), Ok(backlog))) => (payments, backlog),
            Ok((Err(e), _)) => {
                warn!(error = %e, "metrics: cannot count open payments");
                return false;
            }
            Ok((_, Err(e))) => {
                warn!(error = %e, "metrics: cannot read the outbox backlog");
                return false;
            }
            Err(_) => {
                warn!(
                    timeout_ms = METRICS_DATABASE_TIMEOUT_MS,
                    "metrics: the database did not answer in time"
                );
                return false;
            }
        };
        let open = bot::store::PaymentState::ALL
            .into_iter()
            .filter(|state| !state.is_final())
            .map(|state| {
                let count = payments
                    .iter()
                    .find(|(s, _)| *s == state)
                    .map_or(0, |(_, n)| *n);
                gauge(&[("state", state.as_str())], as_f64(count))
            })
            .collect();
        families.push(gauge_family(
            "paybot_payments_open",
            "Payments not yet final, by state (awaiting_code, escrowed, held), read from the database",
            open,
        ));
        families.push(gauge_family(
            "paybot_outbox_backlog_messages",
            "Outbox messages written and not yet delivered",
            vec![gauge(&[], as_f64(backlog.messages))],
        ));
        let oldest_age_ms = backlog
            .oldest_created_at_ms
            .map_or(0, |at| self.ledger.now_ms().saturating_sub(at).max(0));
        families.push(gauge_family(
            "paybot_outbox_oldest_age_seconds",
            "How long the oldest undelivered outbox message has waited (0 when none waits)",
            vec![gauge(&[], ms_to_secs(oldest_age_ms))],
        ));
        true
    }
}

fn bot_families(families: &mut Vec<MetricFamily>, stats: &BotStats) {
    families.push(counter_family(
        "paybot_messages_total",
        "Chat messages handled, by platform and outcome (handled, replayed, in_progress, failed)",
        stats
            .messages
            .iter()
            .map(|(platform, outcome, n)| {
                counter(
                    &[
                        ("platform", platform.as_str()),
                        ("outcome", outcome.as_str()),
                    ],
                    *n,
                )
            })
            .collect(),
    ));
    families.push(counter_family(
        "paybot_payments_ended_total",
        "Payments this process recorded in a final state, by that state",
        stats
            .payments_ended
            .iter()
            .map(|(state, n)| counter(&[("state", state.as_str())], *n))
            .collect(),
    ));
    families.push(counter_family(
        "paybot_card_rail_calls_total",
        "Calls to the card rail, by call and result (approved, declined, pending, refused, error)",
        stats
            .rail_calls
            .iter()
            .map(|(call, result, n)| {
                counter(&[("call", call.as_str()), ("result", result.as_str())], *n)
            })
            .collect(),
    ));
    let lag = &stats.outbox_lag;
    let buckets = lag
        .buckets
        .iter()
        .map(|(bound_ms, count)| {
            (
                ms_to_secs(i64::try_from(*bound_ms).unwrap_or(i64::MAX)),
                *count,
            )
        })
        .collect::<Vec<_>>();
    families.push(histogram_family(
        "paybot_outbox_delivery_lag_seconds",
        "Outbox messages delivered, by the time from their commit to their delivery",
        &buckets,
        ms_to_secs(i64::try_from(lag.sum_ms).unwrap_or(i64::MAX)),
        lag.count,
    ));
}

/// The ledger writer's figures. A commit-latency histogram goes here as
/// one more [`histogram_family`] once `WriterStats` carries one.
fn ledger_families(families: &mut Vec<MetricFamily>, stats: &WriterStats) {
    families.push(counter_family(
        "paybot_ledger_batches_total",
        "Database transactions committed by the ledger's group-commit writer",
        vec![counter(&[], stats.batches)],
    ));
    families.push(counter_family(
        "paybot_ledger_failed_batches_total",
        "Writer batches that failed as a whole (every submitter got the error)",
        vec![counter(&[], stats.failed_batches)],
    ));
    let mut cumulative = 0_u64;
    let buckets = (0..BATCH_SIZE_BUCKETS)
        .map(|index| {
            cumulative =
                cumulative.saturating_add(stats.batch_groups.get(index).copied().unwrap_or(0));
            let (_, high) = WriterStats::bucket_bounds(index);
            (as_f64(u64::try_from(high).unwrap_or(u64::MAX)), cumulative)
        })
        .collect::<Vec<_>>();
    families.push(histogram_family(
        "paybot_ledger_batch_groups",
        "Linked groups (payments, transfers) per committed writer batch",
        &buckets,
        as_f64(stats.groups),
        stats.batches,
    ));
    let mut cumulative = 0_u64;
    let buckets = COMMIT_LATENCY_BOUNDS_US
        .iter()
        .enumerate()
        .map(|(index, bound_us)| {
            cumulative =
                cumulative.saturating_add(stats.commit_latency.get(index).copied().unwrap_or(0));
            (us_to_secs(*bound_us), cumulative)
        })
        .collect::<Vec<_>>();
    families.push(histogram_family(
        "paybot_ledger_commit_seconds",
        "Time a committed writer batch took, from taking its connection to the durable commit",
        &buckets,
        us_to_secs(stats.commit_us_total),
        stats.batches,
    ));
}

/// `process_*`: CPU time, memory, open files, threads, start time (Linux).
#[cfg(target_os = "linux")]
fn process_families(families: &mut Vec<MetricFamily>) {
    use prometheus::core::Collector;
    families.extend(prometheus::process_collector::ProcessCollector::for_self().collect());
}

#[cfg(not(target_os = "linux"))]
fn process_families(_families: &mut Vec<MetricFamily>) {}

// Metric values are `f64` in the format; counts below 2^53 are exact.
#[allow(clippy::as_conversions, clippy::cast_precision_loss)]
fn as_f64(n: u64) -> f64 {
    n as f64
}

fn us_to_secs(us: u64) -> f64 {
    as_f64(us) / 1_000_000.0
}

#[allow(clippy::as_conversions, clippy::cast_precision_loss)]
fn ms_to_secs(ms: i64) -> f64 {
    ms as f64 / 1_000.0
}

fn labels(pairs: &[(&str, &str)]) -> Vec<LabelPair> {
    pairs
        .iter()
        .map(|(name, value)| {
            let mut label = LabelPair::default();
            label.set_name((*name).to_owned());
            label.set_value((*value).to_owned());
            label
        })
        .collect()
}

fn counter(pairs: &[(&str, &str)], value: u64) -> Metric {
    let mut counter = Counter::default();
    counter.set_value(as_f64(value));
    let mut metric = Metric::from_label(labels(pairs));
    metric.set_counter(counter);
    metric
}

fn gauge(pairs: &[(&str, &str)], value: f64) -> Metric {
    let mut gauge = Gauge::default();
    gauge.set_value(value);
    let mut metric = Metric::from_label(labels(pairs));
    metric.set_gauge(gauge);
    metric
}

fn family(name: &str, help: &str, kind: MetricType, metrics: Vec<Metric>) -> MetricFamily {
    let mut family = MetricFamily::default();
    family.set_name(name.to_owned());
    family.set_help(help.to_owned());
    family.set_field_type(kind);
    family.set_metric(metrics);
    family
}

fn counter_family(name: &str, help: &str, metrics: Vec<Metric>) -> MetricFamily {
    family(name, help, MetricType::COUNTER, metrics)
}

fn gauge_family(name: &str, help: &str, metrics: Vec<Metric>) -> MetricFamily {
    family(name, help, MetricType::GAUGE, metrics)
}

/// A histogram from cumulative `(upper bound, count)` buckets (ascending;
/// `+Inf` is `count`).
fn histogram_family(
    name: &str,
    help: &str,
    buckets: &[(f64, u64)],
    sum: f64,
    count: u64,
) -> MetricFamily {
    let mut histogram = Histogram::default();
    histogram.set_bucket(
        buckets
            .iter()
            .map(|(bound, cumulative)| {
                let mut bucket = Bucket::default();
                bucket.set_upper_bound(*bound);
                bucket.set_cumulative_count(*cumulative);
                bucket
            })
            .collect(),
    );
    histogram.set_sample_sum(sum);
    histogram.set_sample_count(count);
    let mut metric = Metric::default();
    metric.set_histogram(histogram);
    family(name, help, MetricType::HISTOGRAM, vec![metric])
}

/// Who may scrape: the bearer tokens `/metrics` answers (none: anyone who
/// reaches the listener).
#[derive(Debug)]
struct Access {
    tokens: Vec<ApiToken>,
    throttle: AuthThrottle,
    failures_log: EveryInterval,
}

/// `GET /metrics`, answering only `tokens` when any is given. Mount it on
/// the main listener only with a token ([`crate::server`] does).
pub fn router(metrics: Metrics, tokens: Vec<ApiToken>) -> Router {
    let access = Arc::new(Access {
        tokens,
        throttle: AuthThrottle::default(),
        failures_log: EveryInterval::new(Duration::from_secs(
            METRICS_AUTH_FAILURE_LOG_INTERVAL_SECS,
        )),
    });
    Router::new()
        .route(METRICS_PATH, get(scrape))
        .with_state(metrics)
        .layer(middleware::from_fn_with_state(access, authorize))
}

async fn scrape(State(metrics): State<Metrics>) -> Response {
    let body = metrics.render().await;
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

async fn authorize(State(access): State<Arc<Access>>, request: Request, next: Next) -> Response {
    if access.tokens.is_empty() {
        return next.run(request).await;
    }
    let address = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip());
    let now = Instant::now();
    if let Err(retry_after_secs) = access.throttle.check(address, now) {
        let mut response = (
            StatusCode::TOO_MANY_REQUESTS,
            format!("too many requests with a wrong token; try again in {retry_after_secs} s\n"),
        )
            .into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        return response;
    }
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, credentials)| credentials.trim().as_bytes());
    // Every token is compared, each in constant time.
    let matched = presented.is_some_and(|presented| {
        access
            .tokens
            .iter()
            .fold(false, |found, token| token.matches(presented) | found)
    });
    if matched {
        access.throttle.succeeded(address, now);
        return next.run(request).await;
    }
    access.throttle.failed(address, now);
    if let Some(failures) = access.failures_log.hit() {
        let client = address.map(|a| a.to_string()).unwrap_or_default();
        warn!(
            failures,
            interval_secs = METRICS_AUTH_FAILURE_LOG_INTERVAL_SECS,
            client,
            "metrics: scrapes with no or a wrong token refused"
        );
    }
    let mut response = (
        StatusCode::UNAUTHORIZED,
        "send the metrics token as `Authorization: Bearer <token>`\n",
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}
