//! Wiring: the ledger, the bot's store, the bot and its adapters, built from
//! settings. `serve` and `chat` both start here.
//!
//! The one design decision to know: the OTP pepper is a secret that the
//! out-of-the-box run needs, so when `otp.pepper` is not set it is generated
//! once into `otp.pepper_file` (owner-only) and read from there afterwards;
//! no secret value ships with paybot.

use std::io::{ErrorKind, Read as _, Write as _};
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use bot::otp::{OsRandom, OtpPolicy, PEPPER_BYTES_GENERATED, Pepper, RandomSource};
use bot::{Bot, BotConfig};
use ledger::Ledger;
use paybot_mock::MockChat;
use secrecy::ExposeSecret;
use tracing::info;

use crate::settings::{OtpSettings, Settings};
use crate::store::{BOT_MIGRATIONS, SqlStore};

/// The longest pepper file read, in bytes.
pub const PEPPER_FILE_BYTES_MAX: u64 = 1_024;

/// Everything a running paybot holds.
#[derive(Debug, Clone)]
pub struct App {
    pub ledger: Ledger,
    pub bot: Arc<Bot>,
    /// The mock chat, always built (`paybot chat` uses it); its HTTP routes
    /// are served only when `mock.enabled`.
    pub mock: Arc<MockChat>,
    /// The card rail simulator running inside paybot (cards enabled, no
    /// `cards.rail_url`); its routes are served with paybot's.
    pub simulator: Option<paybot_cards::Simulator>,
}

/// The bot's settings, from paybot's.
pub fn bot_config(settings: &Settings) -> BotConfig {
    BotConfig {
        default_currency: settings.bot.default_currency.0,
        otp: OtpPolicy {
            ttl_secs: settings.otp.ttl_secs,
            attempts_max: settings.otp.attempts_max,
        },
        escrow_ttl_secs: settings.escrow.ttl_secs,
        mock_opening_balance: Some(settings.mock.opening_balance.0),
        cards: bot::service::CardPolicy {
            cashout_fee_basis_points: settings.cards.cashout_fee_percent.0,
            cashout_fee_min: settings.cards.cashout_fee_min.0,
            new_card_hold_secs: settings.cards.new_card_hold_secs,
        },
        limits: bot::limits::Limits {
            commands_burst_max: settings.limits.commands_burst_max,
            commands_per_minute_max: settings.limits.commands_per_minute_max,
            requests_sent_per_hour_max: settings.limits.requests_sent_per_hour_max,
            requests_received_per_hour_max: settings.limits.requests_received_per_hour_max,
        },
    }
}

/// Migrates the bot's tables and builds the bot and the mock chat on
/// `ledger`.
pub async fn build(settings: &Settings, ledger: &Ledger) -> anyhow::Result<App> {
    ledger
        .migrate(BOT_MIGRATIONS)
        .await
        .context("cannot migrate the database")?;
    let pepper = load_pepper(&settings.otp, &OsRandom)?;
    let store = Arc::new(SqlStore::new(ledger));
    let bot = Bot::new(
        ledger.clone(),
        store,
        bot_config(settings),
        pepper,
        Arc::new(OsRandom),
    );
    let simulator = attach_card_rail(settings, &bot)?;
    let mock = MockChat::new(Arc::clone(&bot));
    Ok(App {
        ledger: ledger.clone(),
        bot,
        mock,
        simulator,
    })
}

/// Gives the bot its card rail: the client of `cards.rail_url`, or a
/// simulator in this process (returned, so its routes can be served) with a
/// key generated now unless `cards.api_key` is set.
pub fn attach_card_rail(
    settings: &Settings,
    bot: &Bot,
) -> anyhow::Result<Option<paybot_cards::Simulator>> {
    let cards = &settings.cards;
    if !cards.enabled {
        return Ok(None);
    }
    let acquirer = cards
        .acquirer()
        .context("setting `cards` acquirer fields")?;
    let configured_key = cards
        .api_key
        .as_ref()
        .map(|key| paybot_cards::ApiKey::parse(key.expose_secret()))
        .transpose()
        .context("setting `cards.api_key`")?;
    if let Some(url) = &cards.rail_url {
        let url = paybot_cards::parse_rail_url(url).context("setting `cards.rail_url`")?;
        let key =
            configured_key.context("setting `cards.api_key`: required with cards.rail_url")?;
        let client = paybot_cards::VisaDirectClient::new(&url, key, acquirer)
            .context("cannot build the card rail client")?;
        info!(rail = %url.origin().ascii_serialization(), "card rail: remote");
        bot.set_card_rail(Arc::new(client));
        return Ok(None);
    }
    let key = match configured_key {
        Some(key) => key,
        None => {
            let mut bytes = [0_u8; 24];
            OsRandom.fill_bytes(&mut bytes);
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            paybot_cards::ApiKey::parse(&hex).context("generating the simulator's API key")?
        }
    };
    let simulator = paybot_cards::Simulator::new(&key);
    let client = paybot_cards::VisaDirectClient::in_process(&simulator, key, acquirer);
    info!("card rail: the in-process simulator (test cards only; GET /simulator/totals)");
    bot.set_card_rail(Arc::new(client));
    Ok(Some(simulator))
}

/// The pepper from `otp.pepper`, else from `otp.pepper_file`, creating that
/// file (mode 0600) with a random pepper when it does not exist.
pub fn load_pepper(otp: &OtpSettings, rng: &dyn RandomSource) -> anyhow::Result<Pepper> {
    if let Some(secret) = &otp.pepper {
        return Pepper::from_bytes(secret.expose_secret().as_bytes().to_vec())
            .context("setting `otp.pepper`");
    }
    let path = otp.pepper_file.as_path();
    match read_pepper_file(path) {
        Ok(pepper) => return Ok(pepper),
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => {
            return Err(e).with_context(|| {
                format!(
                    "cannot read the OTP pepper file {} (otp.pepper_file)",
                    path.display()
                )
            });
        }
    }
    let mut bytes = vec![0_u8; PEPPER_BYTES_GENERATED];
    rng.fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(dir)
            .with_context(|| format!("cannot create the folder {}", dir.display()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(hex.as_bytes())
                .and_then(|()| file.sync_all())
                .with_context(|| format!("cannot write the OTP pepper file {}", path.display()))?;
            info!(file = %path.display(), "generated the OTP pepper (keep this file secret and backed up)");
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
        Err(e) => {
            return Err(e).with_context(|| {
                format!(
                    "cannot create the OTP pepper file {} (otp.pepper_file)",
                    path.display()
                )
            });
        }
    }
    read_pepper_file(path)
        .with_context(|| format!("cannot read the OTP pepper file {}", path.display()))
}

fn read_pepper_file(path: &Path) -> std::io::Result<Pepper> {
    let file = std::fs::File::open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = file.metadata()?.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(std::io::Error::new(
                ErrorKind::PermissionDenied,
                format!(
                    "it is readable by others (mode {:o}); run `chmod 600 {}`",
                    mode & 0o777,
                    path.display()
                ),
            ));
        }
    }
    let mut text = String::new();
    file.take(PEPPER_FILE_BYTES_MAX).read_to_string(&mut text)?;
    Pepper::from_bytes(text.trim().as_bytes().to_vec())
        .map_err(|e| std::io::Error::new(ErrorKind::InvalidData, e.to_string()))
}

/// `paybot chat`: the mock chat in this terminal, on the configured
/// database.
pub async fn chat(settings: &Settings) -> anyhow::Result<()> {
    let ledger =
        crate::database::open(&settings.database, crate::database::Open::CreateIfMissing).await?;
    let app = build(settings, &ledger).await?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let sweeper = app.bot.spawn_sweeper(
        std::time::Duration::from_millis(settings.bot.sweep_interval_ms),
        stopped,
    );
    let stdin = tokio::io::BufReader::new(tokio::io::stdin());
    let mut stdout = std::io::stdout();
    let ended = paybot_mock::repl(&app.mock, stdin, &mut stdout).await;
    stop.send_replace(true);
    let _ = sweeper.await;
    ledger.close().await;
    if let Err(e) = ended {
        bail!("the terminal failed: {e}");
    }
    Ok(())
}
