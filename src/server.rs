//! `paybot serve`: the ledger, its expiry sweeper and the HTTP server, with
//! graceful shutdown.
//!
//! The one design decision to know: **one watch channel stops everything**.
//! SIGINT or SIGTERM flips it; the HTTP server (`crate::http`: timeouts and
//! connection bounds) stops accepting, closes idle connections and finishes
//! the requests in flight (for at most `http.shutdown_grace_secs`), the
//! sweeper ends its round, the outcomes of the messages handled are
//! committed, and only then is the ledger closed.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use ledger::{Ledger, Transfer};
use paybot_mock::MockChat;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::{info, warn};

use crate::database::{self, Open};
use crate::settings::Settings;

/// How long `/readyz` waits for the database to answer, in milliseconds.
pub const READY_PING_TIMEOUT_MS: u64 = 1_000;
/// How long shutdown waits for the sweeper to end its round, in seconds.
pub const SWEEPER_STOP_TIMEOUT_SECS: u64 = 10;
/// How often the outbox is checked for messages to deliver when nothing
/// woke the dispatcher, in milliseconds.
pub const OUTBOX_POLL_INTERVAL_MS: u64 = 1_000;

/// What the HTTP handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    pub ledger: Ledger,
}

/// The HTTP routes: health checks, and the mock chat when `mock` is given.
pub fn router(state: AppState, mock: Option<Arc<MockChat>>) -> Router {
    let router = Router::new()
        .route(crate::http::HEALTHZ_PATH, get(healthz))
        .route("/readyz", get(readyz))
        .with_state(state);
    match mock {
        Some(chat) => router.merge(paybot_mock::router(chat)),
        None => router,
    }
}

/// Liveness: answers 200 as long as the process serves HTTP at all.
async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Readiness: 200 only while the database answers a ping in time.
async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let limit = Duration::from_millis(READY_PING_TIMEOUT_MS);
    let reason = match tokio::time::timeout(limit, state.ledger.ping()).await {
        Ok(Ok(())) => return (StatusCode::OK, Json(json!({ "status": "ready" }))),
        Ok(Err(e)) => {
            // The detail goes to the log, not to whoever asked.
            warn!(error = %e, "not ready: the database ping failed");
            "the database ping failed".to_owned()
        }
        Err(_) => {
            warn!(
                timeout_ms = READY_PING_TIMEOUT_MS,
                "not ready: the database did not answer"
            );
            format!("the database did not answer within {READY_PING_TIMEOUT_MS} ms")
        }
    };
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({ "status": "unavailable", "reason": reason })),
    )
}

/// Runs until SIGINT or SIGTERM, then shuts down in order.
pub async fn serve(settings: &Settings) -> anyhow::Result<()> {
    // Installed first, so a signal during start-up is not the default kill.
    let mut signals = ShutdownSignals::install().context("cannot install signal handlers")?;
    let ledger = database::open(&settings.database, Open::CreateIfMissing).await?;
    let served = serve_ledger(settings, &ledger, &mut signals).await;
    ledger.close().await;
    info!("ledger closed");
    served
}

async fn serve_ledger(
    settings: &Settings,
    ledger: &Ledger,
    signals: &mut ShutdownSignals,
) -> anyhow::Result<()> {
    let app = crate::app::build(settings, ledger).await?;
    let listener = TcpListener::bind(settings.http.addr)
        .await
        .with_context(|| format!("cannot listen on http.addr = {}", settings.http.addr))?;
    let addr = listener
        .local_addr()
        .context("cannot read the bound address")?;

    let (stop, stopped) = watch::channel(false);
    let sweep_interval = Duration::from_millis(settings.ledger.sweep_interval_ms);
    let sweeper = ledger.spawn_sweeper(sweep_interval, stopped.clone(), log_expired);
    let bot_sweeper = app.bot.spawn_sweeper(
        Duration::from_millis(settings.bot.sweep_interval_ms),
        stopped.clone(),
    );
    let dispatcher = app.bot.dispatcher().spawn(
        Duration::from_millis(OUTBOX_POLL_INTERVAL_MS),
        stopped.clone(),
    );
    let (telegram_polling, telegram_routes) = start_telegram(settings, &app, &stopped).await?;
    let (discord_gateway, discord_routes) = start_discord(settings, &app, &stopped).await?;
    app.deployment.announce();
    let mock = app.deployment.mock_chat.then(|| Arc::clone(&app.mock));
    if mock.is_some() {
        info!("mock chat enabled: POST /mock/messages, GET /mock/users/{{name}}/messages");
    }

    let mut routes = router(
        AppState {
            ledger: ledger.clone(),
        },
        mock,
    );
    let simulator_routes = app.simulator.as_ref().map(paybot_cards::Simulator::router);
    let api_routes = crate::api::router(
        ledger_api(settings, ledger, &app.bot),
        callback(settings, &app.bot),
        Some(crate::api::billers::BillerApi {
            store: app.store.clone(),
            bot: Arc::clone(&app.bot),
            throttle: Arc::default(),
        }),
    );
    let bills_worker = crate::bills::spawn_worker(
        app.store.clone(),
        Arc::clone(&app.bot),
        Arc::clone(&app.webhook_sealer),
        stopped.clone(),
    );
    let metrics = crate::metrics::Metrics::new(Arc::clone(&app.bot), ledger.clone());
    let metrics_routes = metrics_router(settings, &metrics);
    let metrics_listener = spawn_metrics_listener(settings, metrics, &stopped).await?;
    for adapter in [
        telegram_routes,
        discord_routes,
        simulator_routes,
        Some(api_routes),
        metrics_routes,
    ]
    .into_iter()
    .flatten()
    {
        routes = routes.merge(adapter);
    }
    let limits = crate::http::Limits::from_settings(&settings.http);
    let routes = crate::http::guard_requests(routes, &limits);
    let http = crate::http::serve(listener, routes, limits, stopped.clone());
    let mut http = tokio::spawn(http);
    info!("listening on {addr}");

    let served = tokio::select! {
        signal = signals.recv() => {
            info!(signal, "shutting down: no new connections, finishing requests in flight");
            stop.send_replace(true);
            let grace = Duration::from_secs(settings.http.shutdown_grace_secs);
            match tokio::time::timeout(grace, &mut http).await {
                Ok(joined) => joined.context("the HTTP server panicked")?.context("HTTP server"),
                Err(_) => {
                    warn!(
                        grace_secs = settings.http.shutdown_grace_secs,
                        "requests still in flight after the grace period; dropping them"
                    );
                    http.abort();
                    Ok(())
                }
            }
        }
        joined = &mut http => {
            let outcome = joined.context("the HTTP server panicked")?.context("HTTP server");
            outcome.and_then(|()| Err(anyhow::anyhow!("the HTTP server stopped on its own")))
        }
    };

    stop.send_replace(true);
    let mut tasks = vec![
        ("bot sweeper", bot_sweeper),
        ("outbox dispatcher", dispatcher),
        ("bill pay worker", bills_worker),
    ];
    if let Some(polling) = telegram_polling {
        tasks.push(("telegram polling", polling));
    }
    if let Some(gateway) = discord_gateway {
        tasks.push(("discord gateway", gateway));
    }
    if let Some(listener) = metrics_listener {
        tasks.push(("metrics listener", listener));
    }
    for (name, task) in tasks {
        match tokio::time::timeout(Duration::from_secs(SWEEPER_STOP_TIMEOUT_SECS), task).await {
            Ok(Ok(())) => info!("{name} stopped"),
            Ok(Err(e)) => warn!(error = %e, "the {name} failed"),
            Err(_) => warn!(
                timeout_secs = SWEEPER_STOP_TIMEOUT_SECS,
                "the {name} did not stop"
            ),
        }
    }
    match tokio::time::timeout(Duration::from_secs(SWEEPER_STOP_TIMEOUT_SECS), sweeper).await {
        Ok(Ok(())) => info!("expiry sweeper stopped"),
        Ok(Err(e)) => warn!(error = %e, "the expiry sweeper failed"),
        Err(_) => warn!(
            timeout_secs = SWEEPER_STOP_TIMEOUT_SECS,
            "the expiry sweeper did not stop"
        ),
    }
    // The answers already sent are kept for redeliveries before the
    // database closes.
    let outcomes = Duration::from_secs(SWEEPER_STOP_TIMEOUT_SECS);
    if tokio::time::timeout(outcomes, app.bot.outcomes_committed())
        .await
        .is_err()
    {
        warn!(
            timeout_secs = SWEEPER_STOP_TIMEOUT_SECS,
            "some handled messages' outcomes were not committed; their redeliveries are handled again"
        );
    }
    app.store.close().await;
    served
}

/// The HTTP API when an `api.*token` is set; none otherwise. The
/// operator's routes answer only the operator's token.
fn ledger_api(
    settings: &Settings,
    ledger: &Ledger,
    bot: &Arc<bot::Bot>,
) -> Option<crate::api::LedgerApi> {
    settings.api.tokens().map(|tokens| {
        info!(prefix = crate::api::API_PREFIX, "ledger API enabled");
        let admin = settings.api.operator_token.is_some().then(|| {
            info!("operator API enabled: /api/v1/admin/...");
            crate::api::admin::AdminApi {
                bot: Arc::clone(bot),
                operator: settings.api.operator_name.clone(),
            }
        });
        info!(
            path = crate::api::openapi::OPENAPI_PATH,
            "OpenAPI document enabled, behind the API's tokens"
        );
        crate::api::LedgerApi {
            ledger: ledger.clone(),
            tokens,
            admin,
        }
    })
}

/// `/metrics` on the main listener: only when `metrics.token` or
/// `api.operator_token` is set, answering only those tokens.
fn metrics_router(settings: &Settings, metrics: &crate::metrics::Metrics) -> Option<Router> {
    let tokens = settings.metrics.main_listener_tokens(&settings.api);
    (!tokens.is_empty()).then(|| {
        info!(
            path = crate::metrics::METRICS_PATH,
            "metrics enabled on the main listener, behind a token"
        );
        crate::metrics::router(metrics.clone(), tokens)
    })
}

/// `/metrics` on a listener of its own when `metrics.listen` is set,
/// served until `stopped` turns true.
async fn spawn_metrics_listener(
    settings: &Settings,
    metrics: crate::metrics::Metrics,
    stopped: &watch::Receiver<bool>,
) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
    let Some(addr) = settings.metrics.listen else {
        return Ok(None);
    };
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on metrics.listen = {addr}"))?;
    let bound = listener
        .local_addr()
        .context("cannot read the metrics listener's address")?;
    let tokens = settings.metrics.own_listener_tokens();
    if tokens.is_empty() && !bound.ip().is_loopback() {
        warn!(
            %bound,
            "metrics.listen is not a loopback address and metrics.token is not set: \
             anyone who reaches it can scrape"
        );
    }
    let limits = crate::http::Limits {
        connections_max: crate::metrics::METRICS_CONNECTIONS_MAX,
        requests_in_flight_max: crate::metrics::METRICS_REQUESTS_IN_FLIGHT_MAX,
        ..crate::http::Limits::from_settings(&settings.http)
    };
    let routes = crate::http::guard_requests(crate::metrics::router(metrics, tokens), &limits);
    let served = crate::http::serve(listener, routes, limits, stopped.clone());
    // Not "listening on": that line names the main listener.
    info!(
        "metrics: serving {} on {bound}",
        crate::metrics::METRICS_PATH
    );
    Ok(Some(tokio::spawn(async move {
        if let Err(e) = served.await {
            warn!(error = %e, "the metrics listener failed");
        }
    })))
}

/// The verification provider's callback: on when
/// `trust.verification.secret` is set, else a 404.
fn callback(
    settings: &Settings,
    bot: &Arc<bot::Bot>,
) -> Option<crate::api::verification::Callback> {
    let verification = &settings.trust.verification;
    verification.secret.clone().map(|secret| {
        info!(
            path = crate::api::verification::CALLBACK_PATH,
            provider = %verification.provider_name,
            "verification callback enabled"
        );
        crate::api::verification::Callback {
            bot: Arc::clone(bot),
            secret,
            provider: verification.provider_name.clone(),
            tolerance_secs: verification.tolerance_secs,
        }
    })
}

/// Starts the Telegram adapter when `telegram.token` is set: its polling
/// task, or the webhook routes to serve.
async fn start_telegram(
    settings: &Settings,
    app: &crate::app::App,
    stopped: &watch::Receiver<bool>,
) -> anyhow::Result<(Option<tokio::task::JoinHandle<()>>, Option<Router>)> {
    let config = settings
        .telegram
        .config()
        .map_err(|(key, e)| anyhow::anyhow!("invalid setting `telegram.{key}`: {e}"))?;
    let Some(config) = config else {
        if settings.telegram.webhook_given() {
            warn!("telegram webhook settings are given but telegram.token is not: Telegram is off");
        }
        return Ok((None, None));
    };
    let telegram = paybot_telegram::Telegram::start(Arc::clone(&app.bot), &config)
        .await
        .context("cannot start the Telegram adapter")?;
    Ok(match &config.mode {
        paybot_telegram::Mode::Polling => (Some(telegram.spawn_polling(stopped.clone())), None),
        paybot_telegram::Mode::Webhook { secret, .. } => {
            info!(
                path = paybot_telegram::WEBHOOK_PATH,
                "telegram webhook mode: serving updates"
            );
            (None, Some(telegram.webhook_router(secret)))
        }
    })
}

/// Starts the Discord adapter when `discord.token` is set: its gateway
/// client, or the interactions route to serve.
async fn start_discord(
    settings: &Settings,
    app: &crate::app::App,
    stopped: &watch::Receiver<bool>,
) -> anyhow::Result<(Option<tokio::task::JoinHandle<()>>, Option<Router>)> {
    let config = settings
        .discord
        .config()
        .map_err(|(key, e)| anyhow::anyhow!("invalid setting `discord.{key}`: {e}"))?;
    let Some(config) = config else {
        if settings.discord.application_given() {
            warn!("discord settings are given but discord.token is not: Discord is off");
        }
        return Ok((None, None));
    };
    let discord = paybot_discord::Discord::start(Arc::clone(&app.bot), &config)
        .await
        .context("cannot start the Discord adapter")?;
    Ok(match &config.mode {
        paybot_discord::Mode::Gateway => (
            Some(paybot_discord::Gateway::spawn(&discord, stopped.clone())),
            None,
        ),
        paybot_discord::Mode::Interactions(key) => {
            info!(
                path = paybot_discord::INTERACTIONS_PATH,
                "discord interactions mode: serving interactions"
            );
            (None, Some(discord.router(key)))
        }
    })
}

fn log_expired(transfer: &Transfer) {
    let pending = transfer
        .pending_id
        .map(|id| id.to_string())
        .unwrap_or_default();
    info!(transfer = %transfer.id, %pending, "pending transfer expired");
}

/// SIGINT and SIGTERM, registered once.
#[derive(Debug)]
struct ShutdownSignals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl ShutdownSignals {
    #[cfg(unix)]
    fn install() -> std::io::Result<ShutdownSignals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(ShutdownSignals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    #[cfg(not(unix))]
    fn install() -> std::io::Result<ShutdownSignals> {
        Ok(ShutdownSignals {})
    }

    /// The name of the first signal received.
    #[cfg(unix)]
    async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.interrupt.recv() => "SIGINT",
            _ = self.terminate.recv() => "SIGTERM",
        }
    }

    #[cfg(not(unix))]
    async fn recv(&mut self) -> &'static str {
        let _ = tokio::signal::ctrl_c().await;
        "ctrl-c"
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::body::Body;
    use axum::http::Request;
    use ledger::{LedgerConfig, SystemClock};
    use tower::ServiceExt;

    use super::*;

    async fn sqlite_ledger(dir: &tempfile::TempDir) -> Ledger {
        let url = format!("sqlite:{}", dir.path().join("t.db").display());
        let ledger = Ledger::connect(&LedgerConfig::new(url), Arc::new(SystemClock))
            .await
            .unwrap();
        ledger.migrate(&[]).await.unwrap();
        ledger
    }

    async fn get(ledger: &Ledger, path: &str) -> (StatusCode, Value) {
        let app = router(
            AppState {
                ledger: ledger.clone(),
            },
            None,
        );
        let request = Request::get(path).body(Body::empty()).unwrap();
        let response = app.oneshot(request).await.unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 64 * 1024)
            .await
            .unwrap();
        (status, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn healthz_and_readyz_answer_ok_with_a_live_database() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = sqlite_ledger(&dir).await;
        assert_eq!(
            get(&ledger, "/healthz").await,
            (StatusCode::OK, json!({ "status": "ok" }))
        );
        assert_eq!(
            get(&ledger, "/readyz").await,
            (StatusCode::OK, json!({ "status": "ready" }))
        );
        ledger.close().await;
    }

    #[tokio::test]
    async fn readyz_is_503_with_a_reason_when_the_database_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = sqlite_ledger(&dir).await;
        ledger.close().await;
        let (status, body) = get(&ledger, "/readyz").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["status"], "unavailable");
        assert_eq!(body["reason"], "the database ping failed");
        // Liveness does not depend on the database.
        assert_eq!(get(&ledger, "/healthz").await.0, StatusCode::OK);
    }

    #[tokio::test]
    async fn unknown_path_is_404() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = sqlite_ledger(&dir).await;
        let app = router(
            AppState {
                ledger: ledger.clone(),
            },
            None,
        );
        let response = app
            .oneshot(Request::get("/nope").body(Body::empty()).unwrap())
            .await;
        assert_eq!(response.unwrap().status(), StatusCode::NOT_FOUND);
        ledger.close().await;
    }
}
