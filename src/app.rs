//! Wiring: the ledger, the bot's store, the bot and its adapters, built from
//! settings. `serve` and `chat` both start here.
//!
//! The one design decision to know: the OTP pepper and the card fingerprint
//! key are secrets that the out-of-the-box run needs, so when one is not set
//! (`otp.pepper`, `cards.fingerprint_key`) it is generated once into its file
//! (`otp.pepper_file`, `cards.fingerprint_key_file`, owner-only) and read
//! from there afterwards ([`load_secret`]); no secret value ships with
//! paybot.

use std::io::{ErrorKind, Read as _, Write as _};
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use bot::card::CardRail;
use bot::otp::{OsRandom, OtpPolicy, PEPPER_BYTES_GENERATED, Pepper, RandomSource};
use bot::{Bot, BotConfig};
use ledger::Ledger;
use paybot_mock::MockChat;
use paybot_store::{BOT_MIGRATIONS, SqlStore};
use secrecy::ExposeSecret;
use tracing::info;

use crate::deployment::{CardRailChoice, Deployment, DevPart};
use crate::settings::{CardsSettings, OtpSettings, Settings};

/// The longest secret file read (OTP pepper, card fingerprint key), in
/// bytes.
pub const SECRET_FILE_BYTES_MAX: u64 = 1_024;

/// Everything a running paybot holds.
#[derive(Debug, Clone)]
pub struct App {
    pub ledger: Ledger,
    /// The bot's store (the bot holds it too; clones share one pool), kept
    /// here to be closed before the ledger.
    pub store: SqlStore,
    pub bot: Arc<Bot>,
    /// Development or production, and what of development runs.
    pub deployment: Deployment,
    /// The mock chat, always built; its HTTP routes are served, and
    /// `paybot chat` runs, only when [`Deployment::mock_chat`].
    pub mock: Arc<MockChat>,
    /// The card rail simulator running inside paybot (cards enabled, no
    /// `cards.rail_url`); its routes are served with paybot's.
    pub simulator: Option<paybot_cards::Simulator>,
    /// Seals and opens the billers' webhook secrets (with a key from the
    /// second factor's key setting).
    pub webhook_sealer: Arc<crate::bills::WebhookSealer>,
}

/// The deployment the settings describe. [`crate::settings::load`] refused
/// every mix already; this repeats the check for settings built otherwise.
pub fn deployment(settings: &Settings) -> anyhow::Result<Deployment> {
    Deployment::of(settings).map_err(|mixes| {
        let lines: Vec<String> = mixes
            .iter()
            .map(|mix| format!("setting `{}` {mix}", mix.key))
            .collect();
        anyhow::anyhow!(lines.join("; "))
    })
}

/// The bot's settings, from paybot's. Play money only where the mock chat
/// runs.
pub fn bot_config(settings: &Settings, deployment: &Deployment) -> BotConfig {
    BotConfig {
        default_currency: settings.bot.default_currency.0,
        otp: OtpPolicy {
            ttl_secs: settings.otp.ttl_secs,
            attempts_max: settings.otp.attempts_max,
        },
        escrow_ttl_secs: settings.escrow.ttl_secs,
        request_ttl_secs: settings.bot.request_ttl_secs,
        mock_opening_balance: deployment
            .mock_chat
            .then_some(settings.mock.opening_balance.0),
        cards: bot::service::CardPolicy {
            cashout_fee_basis_points: settings.cards.cashout_fee_percent.0,
            cashout_fee_min: settings.cards.cashout_fee_min.0,
        },
        limits: bot::limits::Limits {
            commands_burst_max: settings.limits.commands_burst_max,
            commands_per_minute_max: settings.limits.commands_per_minute_max,
            requests_sent_per_hour_max: settings.limits.requests_sent_per_hour_max,
            requests_received_per_hour_max: settings.limits.requests_received_per_hour_max,
        },
        trust: settings.trust.policy(),
        standing: bot::service::StandingPolicy {
            default_zone: settings.scheduled.default_time_zone.0.clone(),
            run_at: settings.scheduled.run_at.0,
            late_grace_secs: settings.scheduled.late_grace_secs,
            notice_before_secs: settings.scheduled.notice_before_secs,
        },
        undo_window_secs: settings.bot.undo_window_secs,
        cash_settle_ttl_secs: settings.bot.cash_settle_ttl_secs,
    }
}

/// Migrates the bot's tables and builds the bot and the mock chat on
/// `ledger`.
pub async fn build(settings: &Settings, ledger: &Ledger) -> anyhow::Result<App> {
    let deployment = deployment(settings)?;
    ledger
        .migrate(BOT_MIGRATIONS)
        .await
        .context("cannot migrate the database")?;
    let pepper = load_pepper(&settings.otp, &OsRandom)?;
    let fingerprint_key = load_fingerprint_key(&settings.cards, &OsRandom)?;
    let second_factor_key = load_second_factor_key(&settings.trust.second_factor, &OsRandom)?;
    let webhook_sealer = Arc::new(crate::bills::WebhookSealer::new(&second_factor_key));
    let store = SqlStore::new(ledger);
    // Webhook secrets an earlier version stored in clear are sealed before
    // anything reads them.
    let sealed = crate::bills::seal_clear_secrets(&store, &webhook_sealer)
        .await
        .context("cannot seal the billers' webhook secrets")?;
    if sealed > 0 {
        tracing::info!(sealed, "sealed billers' webhook secrets stored in clear");
    }
    guard_the_database(&deployment, &store, ledger.now_ms()).await?;
    warn_without_sanctions_list(settings, &deployment, &store).await?;
    let ChosenRail { rail, simulator } = card_rail(settings, deployment.cards)?;
    let mut builder = Bot::builder(
        ledger.clone(),
        Arc::new(store.clone()),
        bot_config(settings, &deployment),
        pepper,
        Arc::new(OsRandom),
    )
    .card_fingerprint_key(fingerprint_key)
    .second_factor_key(second_factor_key);
    if let Some(rail) = rail {
        builder = builder.card_rail(rail);
    }
    let bot = builder.build();
    let mock = MockChat::new(Arc::clone(&bot));
    Ok(App {
        ledger: ledger.clone(),
        store,
        bot,
        deployment,
        mock,
        simulator,
        webhook_sealer,
    })
}

/// The bot for the operator's commands (`paybot admin ...`) and for
/// `paybot verify`'s check of holds, on `ledger` (not migrated here): no
/// platform, no mock chat, no sweeper, nothing of development, so it may
/// run against a production database with any settings. Its card rail is
/// the remote one when `cards.rail_url` is set (approving a held cash-out
/// sends it on), else none. Its OTP pepper is random for this process:
/// these commands issue and check no codes.
pub async fn operator_bot(
    settings: &Settings,
    ledger: &Ledger,
) -> anyhow::Result<(SqlStore, Arc<Bot>)> {
    let deployment = deployment(settings)?;
    let mut pepper = vec![0_u8; PEPPER_BYTES_GENERATED];
    OsRandom.fill_bytes(&mut pepper);
    let pepper = Pepper::from_bytes(pepper).context("generating a pepper")?;
    let store = SqlStore::new(ledger);
    let mut config = bot_config(settings, &deployment);
    config.mock_opening_balance = None;
    let mut builder = Bot::builder(
        ledger.clone(),
        Arc::new(store.clone()),
        config,
        pepper,
        Arc::new(OsRandom),
    );
    if deployment.cards == CardRailChoice::Remote {
        let ChosenRail { rail, .. } = card_rail(settings, CardRailChoice::Remote)?;
        if let Some(rail) = rail {
            builder = builder.card_rail(rail);
        }
    }
    Ok((store, builder.build()))
}

/// A database that has served production never runs development (the
/// mock chat, play money, the card simulator): the situation is decided
/// per process from its settings, so a `paybot chat` or `paybot serve` run
/// without the service's tokens against its database would otherwise be
/// development there. Production marks the database on every start.
async fn guard_the_database(
    deployment: &Deployment,
    store: &SqlStore,
    now_ms: i64,
) -> anyhow::Result<()> {
    if deployment.is_production() {
        return store
            .mark_production(now_ms)
            .await
            .context("cannot record the deployment in the database");
    }
    let since = store
        .production_since()
        .await
        .context("cannot read the deployment from the database")?;
    if let Some(since_ms) = since {
        bail!(
            "this database has served a production deployment (first at {} UTC), and development (the mock chat, play money, the card simulator) never runs on it: give development a database of its own (database.url), or start with the production settings",
            bot::calendar::UtcMoment::from_unix_ms(since_ms)
                .map_or_else(|| since_ms.to_string(), |t| t.to_string())
        );
    }
    Ok(())
}

/// In production with screening on, warns at start when no SDN list was
/// ever loaded: screening then finds nothing.
async fn warn_without_sanctions_list(
    settings: &Settings,
    deployment: &Deployment,
    store: &SqlStore,
) -> anyhow::Result<()> {
    use bot::trust::sanctions::SanctionsStore as _;

    if !deployment.is_production() || !settings.trust.sanctions.enabled {
        return Ok(());
    }
    let info = store
        .sanctions_list_info()
        .await
        .context("cannot read the sanctions list's record")?;
    match info {
        None => tracing::warn!(
            "sanctions screening is on but no SDN list is loaded: screening finds nothing until `paybot sanctions load FILE`"
        ),
        Some(info) => info!(
            published = %info.published,
            entries = info.entries,
            aliases = info.aliases,
            "sanctions list"
        ),
    }
    Ok(())
}

/// The card rail chosen for the bot, and the in-process simulator behind
/// it if that is what was chosen (its routes are served).
#[derive(Default)]
struct ChosenRail {
    rail: Option<Arc<dyn CardRail>>,
    simulator: Option<paybot_cards::Simulator>,
}

/// The bot's card rail as `choice` says: the client of `cards.rail_url`,
/// or a simulator in this process with a key generated now unless
/// `cards.api_key` is set, or none (the card commands answer that cards
/// are off).
fn card_rail(settings: &Settings, choice: CardRailChoice) -> anyhow::Result<ChosenRail> {
    let cards = &settings.cards;
    if choice == CardRailChoice::Off {
        return Ok(ChosenRail::default());
    }
    let acquirer = cards.acquirer();
    let configured_key = cards.api_key.clone();
    if let (CardRailChoice::Remote, Some(url)) = (choice, &cards.rail_url) {
        let key =
            configured_key.context("setting `cards.api_key`: required with cards.rail_url")?;
        let client = paybot_cards::VisaDirectClient::new(url, key, acquirer)
            .context("cannot build the card rail client")?;
        info!(rail = %url.origin().ascii_serialization(), "card rail: remote");
        return Ok(ChosenRail {
            rail: Some(Arc::new(client)),
            simulator: None,
        });
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
    Ok(ChosenRail {
        rail: Some(Arc::new(client)),
        simulator: Some(simulator),
    })
}

/// A secret that has a setting of its own and, when that is unset, a file
/// generated on first run.
#[derive(Debug, Clone, Copy)]
pub struct SecretSource<'a> {
    /// What it is, for messages: "OTP pepper".
    pub what: &'static str,
    /// Its setting (`otp.pepper`) and value.
    pub key: &'static str,
    pub value: Option<&'a secrecy::SecretString>,
    /// Its file's setting (`otp.pepper_file`) and path.
    pub file_key: &'static str,
    pub file: &'a Path,
}

/// The pepper from `otp.pepper`, else from `otp.pepper_file`.
pub fn load_pepper(otp: &OtpSettings, rng: &dyn RandomSource) -> anyhow::Result<Pepper> {
    load_secret(
        &SecretSource {
            what: "OTP pepper",
            key: "otp.pepper",
            value: otp.pepper.as_ref(),
            file_key: "otp.pepper_file",
            file: &otp.pepper_file,
        },
        rng,
    )
}

/// The card fingerprint key from `cards.fingerprint_key`, else from
/// `cards.fingerprint_key_file`.
pub fn load_fingerprint_key(
    cards: &CardsSettings,
    rng: &dyn RandomSource,
) -> anyhow::Result<Pepper> {
    load_secret(
        &SecretSource {
            what: "card fingerprint key",
            key: "cards.fingerprint_key",
            value: cards.fingerprint_key.as_ref(),
            file_key: "cards.fingerprint_key_file",
            file: &cards.fingerprint_key_file,
        },
        rng,
    )
}

/// The key authenticator secrets are sealed with, from
/// `trust.second_factor.key`, else from `trust.second_factor.key_file`.
pub fn load_second_factor_key(
    second_factor: &crate::settings::trust::SecondFactorSettings,
    rng: &dyn RandomSource,
) -> anyhow::Result<Pepper> {
    load_secret(
        &SecretSource {
            what: "second factor key",
            key: "trust.second_factor.key",
            value: second_factor.key.as_ref(),
            file_key: "trust.second_factor.key_file",
            file: &second_factor.key_file,
        },
        rng,
    )
}

/// The secret from its setting, else from its file, creating that file
/// (mode 0600, its folder 0700) with a random secret when it does not
/// exist. A file others can read is refused.
pub fn load_secret(source: &SecretSource<'_>, rng: &dyn RandomSource) -> anyhow::Result<Pepper> {
    let SecretSource {
        what,
        key,
        file_key,
        file: path,
        ..
    } = *source;
    if let Some(secret) = source.value {
        return Pepper::from_bytes(secret.expose_secret().as_bytes().to_vec())
            .with_context(|| format!("setting `{key}`"));
    }
    match read_secret_file(path) {
        Ok(secret) => return Ok(secret),
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => {
            return Err(e).with_context(|| {
                format!(
                    "cannot read the {what} file {} ({file_key})",
                    path.display()
                )
            });
        }
    }
    let mut bytes = vec![0_u8; PEPPER_BYTES_GENERATED];
    rng.fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::database::create_private_dir(dir)
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
                .with_context(|| format!("cannot write the {what} file {}", path.display()))?;
            info!(file = %path.display(), "generated the {what} (keep this file secret and backed up)");
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
        Err(e) => {
            return Err(e).with_context(|| {
                format!(
                    "cannot create the {what} file {} ({file_key})",
                    path.display()
                )
            });
        }
    }
    read_secret_file(path)
        .with_context(|| format!("cannot read the {what} file {}", path.display()))
}

fn read_secret_file(path: &Path) -> std::io::Result<Pepper> {
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
    file.take(SECRET_FILE_BYTES_MAX).read_to_string(&mut text)?;
    Pepper::from_bytes(text.trim().as_bytes().to_vec())
        .map_err(|e| std::io::Error::new(ErrorKind::InvalidData, e.to_string()))
}

/// `paybot chat`: the mock chat in this terminal, on the configured
/// database.
pub async fn chat(settings: &Settings) -> anyhow::Result<()> {
    let deployment = deployment(settings)?;
    if !deployment.mock_chat {
        if deployment.is_production() {
            bail!(
                "`paybot chat` is the mock chat, for development, and this is a production deployment ({} set); for a staging server, allow it with deployment.allow_in_production = [\"{}\"]",
                deployment.real.join(", "),
                DevPart::MockChat
            );
        }
        bail!("`paybot chat` is the mock chat, and mock.enabled is false");
    }
    deployment.announce();
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
    app.store.close().await;
    ledger.close().await;
    if let Err(e) = ended {
        bail!("the terminal failed: {e}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source<'a>(value: Option<&'a secrecy::SecretString>, file: &'a Path) -> SecretSource<'a> {
        SecretSource {
            what: "test secret",
            key: "test.secret",
            value,
            file_key: "test.secret_file",
            file,
        }
    }

    #[test]
    fn a_secret_is_generated_owner_only_once_and_a_readable_file_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("new/secret");
        let first = load_secret(&source(None, &file), &OsRandom).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&file), 0o600);
        assert_eq!(mode(&dir.path().join("new")), 0o700);
        let again = load_secret(&source(None, &file), &OsRandom).unwrap();
        let binding = b"test";
        assert_eq!(
            bot::otp::OtpHash::hash(&first, binding, "x").to_bytes(),
            bot::otp::OtpHash::hash(&again, binding, "x").to_bytes()
        );

        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = format!(
            "{:#}",
            load_secret(&source(None, &file), &OsRandom).unwrap_err()
        );
        assert!(err.contains("readable by others"), "{err}");
        assert!(err.contains("test.secret_file"), "{err}");

        let given = secrecy::SecretString::from("given-secret-0123456789abcdef0123456789");
        let other = dir.path().join("unused");
        load_secret(&source(Some(&given), &other), &OsRandom).unwrap();
        assert!(!other.exists());
    }
}
