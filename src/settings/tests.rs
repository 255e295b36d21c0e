//! The loader's unit tests: layering, provenance in every message, bounds,
//! secrets never echoed.

use std::net::SocketAddr;

use super::*;

const NO_ENV: [(&str, &str); 0] = [];

/// The settings from `file` and exactly the `PAYBOT_*` variables of `env`
/// (others this process may have are filtered out), read by the real
/// environment provider inside figment's jail, which restores the
/// environment after and lets one test in at a time.
// The jail takes a closure returning figment's own (large) error type.
#[allow(clippy::result_large_err)]
pub(crate) fn load_with_env<'a>(
    file: Option<&Path>,
    env: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<Settings, SettingsError> {
    let mut loaded = None;
    figment::Jail::expect_with(|jail| {
        let mut keys = Vec::new();
        for (name, value) in env {
            jail.set_env(name, value);
            if let Some(rest) = name.strip_prefix(ENV_PREFIX) {
                keys.push(rest.replace(ENV_LEVEL_SEPARATOR, "."));
            }
        }
        let given = super::env().filter(move |key| keys.iter().any(|k| key == k.as_str()));
        loaded = Some(layers(file, given).and_then(|figment| read(&figment)));
        Ok(())
    });
    loaded.unwrap()
}

fn load<const N: usize>(file: Option<&Path>, env: [(&str, &str); N]) -> Result<Settings, String> {
    load_with_env(file, env).map_err(|e| e.to_string())
}

fn file_with(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    std::io::Write::write_all(&mut file, text.as_bytes()).unwrap();
    file
}

#[test]
fn defaults_alone_are_the_documented_values() {
    let s = load(None, NO_ENV).unwrap();
    assert_eq!(s.database.url.expose(), "sqlite:data/paybot.db");
    assert_eq!(
        s.database.url.sqlite_path(),
        Some(Path::new("data/paybot.db"))
    );
    assert_eq!(s.database.sqlite_sync, SqliteSync::Full);
    assert_eq!(s.database.pool_connections_max, 8);
    assert_eq!(s.http.addr, "127.0.0.1:8080".parse::<SocketAddr>().unwrap());
    assert_eq!(s.http.shutdown_grace_secs, 10);
    assert_eq!(s.ledger.sweep_interval_ms, 1000);
    assert_eq!(s.log.filter, "info");
}

#[test]
fn file_overrides_defaults_and_env_overrides_file() {
    let file = file_with(
        "[http]\naddr = \"0.0.0.0:9000\"\n[database]\npool_connections_max = 4\n\
         sqlite_sync = \"normal\"\n",
    );
    let env = [
        ("PAYBOT_HTTP__ADDR", "127.0.0.1:0"),
        ("PAYBOT_LEDGER__SWEEP_INTERVAL_MS", "250"),
        ("PATH", "/usr/bin"),
        ("NOT_PAYBOT_HTTP__ADDR", "ignored"),
    ];
    let s = load(Some(file.path()), env).unwrap();
    assert_eq!(s.http.addr, "127.0.0.1:0".parse::<SocketAddr>().unwrap());
    assert_eq!(s.ledger.sweep_interval_ms, 250);
    assert_eq!(s.database.pool_connections_max, 4);
    assert_eq!(s.database.sqlite_sync, SqliteSync::Normal);
    // Untouched keys keep their defaults.
    assert_eq!(s.http.shutdown_grace_secs, 10);
    assert_eq!(s.log.filter, "info");
}

#[test]
fn bad_env_value_names_key_value_and_variable() {
    let err = load(None, [("PAYBOT_HTTP__ADDR", "notanaddr")]).unwrap_err();
    assert!(err.contains("`http.addr`"), "{err}");
    assert!(err.contains("\"notanaddr\""), "{err}");
    assert!(
        err.contains("environment variable PAYBOT_HTTP__ADDR"),
        "{err}"
    );
    assert!(err.contains("invalid socket address"), "{err}");
}

#[test]
fn bad_file_value_names_the_file() {
    let file = file_with("[database]\npool_connections_max = \"many\"\n");
    let err = load(Some(file.path()), NO_ENV).unwrap_err();
    assert!(err.contains("`database.pool_connections_max`"), "{err}");
    assert!(
        err.contains(&format!("config file {}", file.path().display())),
        "{err}"
    );
    assert!(err.contains("u32"), "{err}");
}

#[test]
fn unknown_key_in_file_is_named_with_the_file() {
    let file = file_with("[http]\nadr = \"127.0.0.1:1\"\n");
    let err = load(Some(file.path()), NO_ENV).unwrap_err();
    assert!(err.contains("`http.adr`"), "{err}");
    assert!(
        err.contains(&format!("config file {}", file.path().display())),
        "{err}"
    );
    assert!(err.contains("no such setting"), "{err}");
    assert!(
        err.contains("addr, shutdown_grace_secs, header_read_timeout_secs"),
        "{err}"
    );
}

#[test]
fn unknown_section_and_unknown_env_key_are_errors() {
    let file = file_with("[htp]\naddr = \"127.0.0.1:1\"\n");
    let err = load(Some(file.path()), NO_ENV).unwrap_err();
    assert!(err.contains("`htp`"), "{err}");
    assert!(err.contains("the top level has"), "{err}");

    let err = load(None, [("PAYBOT_LOG__LEVEL", "debug")]).unwrap_err();
    assert!(err.contains("`log.level`"), "{err}");
    assert!(
        err.contains("environment variable PAYBOT_LOG__LEVEL"),
        "{err}"
    );
}

#[test]
fn missing_config_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nope.toml");
    let err = load(Some(&path), NO_ENV).unwrap_err();
    assert!(err.contains(&path.display().to_string()), "{err}");
}

#[test]
fn toml_syntax_error_names_the_file() {
    let file = file_with("[http\naddr = 1\n");
    let err = load(Some(file.path()), NO_ENV).unwrap_err();
    assert!(
        err.contains(&format!("config file {}", file.path().display())),
        "{err}"
    );
    assert!(err.contains("not valid TOML"), "{err}");
}

#[test]
fn bounds_are_checked_with_provenance_and_all_reported() {
    let file = file_with("[database]\npool_connections_max = 0\n");
    let env = [
        ("PAYBOT_LEDGER__SWEEP_INTERVAL_MS", "5"),
        ("PAYBOT_HTTP__SHUTDOWN_GRACE_SECS", "601"),
    ];
    let err = load(Some(file.path()), env).unwrap_err();
    assert!(err.starts_with("3 invalid settings:"), "{err}");
    assert!(
        err.contains(&format!(
            "setting `database.pool_connections_max` = 0 (from config file {}): \
             must be between 1 and 256 connections",
            file.path().display()
        )),
        "{err}"
    );
    assert!(
        err.contains(
            "setting `ledger.sweep_interval_ms` = 5 (from environment variable \
             PAYBOT_LEDGER__SWEEP_INTERVAL_MS): must be between 10 and 60000 milliseconds"
        ),
        "{err}"
    );
    assert!(err.contains("`http.shutdown_grace_secs` = 601"), "{err}");

    // The edges are allowed.
    let env = [
        ("PAYBOT_DATABASE__POOL_CONNECTIONS_MAX", "256"),
        ("PAYBOT_LEDGER__SWEEP_INTERVAL_MS", "10"),
        ("PAYBOT_HTTP__SHUTDOWN_GRACE_SECS", "0"),
    ];
    load(None, env).unwrap();
}

#[test]
fn negative_and_huge_numbers_are_refused() {
    let err = load(None, [("PAYBOT_DATABASE__POOL_CONNECTIONS_MAX", "-1")]).unwrap_err();
    assert!(
        err.contains("`database.pool_connections_max` = -1"),
        "{err}"
    );
    let err = load(
        None,
        [("PAYBOT_DATABASE__POOL_CONNECTIONS_MAX", "99999999999")],
    )
    .unwrap_err();
    assert!(err.contains("`database.pool_connections_max`"), "{err}");
}

#[test]
fn bad_enum_names_the_choices() {
    let err = load(None, [("PAYBOT_DATABASE__SQLITE_SYNC", "sometimes")]).unwrap_err();
    assert!(
        err.contains("`database.sqlite_sync` = \"sometimes\""),
        "{err}"
    );
    assert!(err.contains("`full`"), "{err}");
    assert!(err.contains("`normal`"), "{err}");
}

#[test]
fn bad_log_filter_is_refused_at_load() {
    let err = load(None, [("PAYBOT_LOG__FILTER", "info,[[[")]).unwrap_err();
    assert!(err.contains("`log.filter`"), "{err}");
    assert!(err.contains("PAYBOT_LOG__FILTER"), "{err}");
}

#[test]
fn cashout_fee_percent_from_the_environment_is_exact() {
    // figment reads `1.5` from the environment as a float.
    let s = load(None, [("PAYBOT_CARDS__CASHOUT_FEE_PERCENT", "1.5")]).unwrap();
    assert_eq!(s.cards.cashout_fee_percent, PercentSetting(150));
    let s = load(None, [("PAYBOT_CARDS__CASHOUT_FEE_PERCENT", "2")]).unwrap();
    assert_eq!(s.cards.cashout_fee_percent, PercentSetting(200));
    for refused in ["1.505", "101", "-1", "1e-7", "one"] {
        let err = load(None, [("PAYBOT_CARDS__CASHOUT_FEE_PERCENT", refused)]).unwrap_err();
        assert!(
            err.contains("`cards.cashout_fee_percent`"),
            "{refused}: {err}"
        );
    }
}

#[test]
fn acquirer_fields_are_settings_checked_at_load() {
    let s = load(None, NO_ENV).unwrap();
    assert_eq!(s.cards.acquirer().bin(), "408999");
    let s = load(None, [("PAYBOT_CARDS__ACQUIRING_BIN", "41234567")]).unwrap();
    assert_eq!(s.cards.acquirer().bin(), "41234567");
    for (var, value, key) in [
        (
            "PAYBOT_CARDS__ACQUIRING_BIN",
            "40a999",
            "`cards.acquiring_bin`",
        ),
        (
            "PAYBOT_CARDS__ACQUIRER_COUNTRY_CODE",
            "US",
            "`cards.acquirer_country_code`",
        ),
        (
            "PAYBOT_CARDS__TERMINAL_ID",
            "TOO-LONG-ID",
            "`cards.terminal_id`",
        ),
        ("PAYBOT_CARDS__COUNTRY", "usa", "`cards.country`"),
    ] {
        let err = load(None, [(var, value)]).unwrap_err();
        assert!(err.contains(key), "{var}={value}: {err}");
    }
}

#[test]
fn database_url_is_secret_in_debug_logs_and_errors() {
    let url = "postgres://paybot:hunter2@db.example:5432/paybot?password=hunter2";
    let s = load(None, [("PAYBOT_DATABASE__URL", url)]).unwrap();
    assert_eq!(s.database.url.expose(), url);
    assert_eq!(
        s.database.url.redacted(),
        "postgres://db.example:5432/paybot"
    );
    assert_eq!(s.database.url.sqlite_path(), None);
    let debug = format!("{s:?}");
    assert!(!debug.contains("hunter2"), "{debug}");
    assert!(debug.contains("db.example"), "{debug}");

    let err = load(
        None,
        [("PAYBOT_DATABASE__URL", "mysql://root:hunter2@db/x")],
    )
    .unwrap_err();
    assert!(!err.contains("hunter2"), "{err}");
    assert!(err.contains("`database.url` (from environment variable PAYBOT_DATABASE__URL)"));
    assert!(err.contains("unsupported database URL"), "{err}");
}

#[test]
fn api_token_is_off_by_default_checked_and_never_echoed() {
    let s = load(None, NO_ENV).unwrap();
    assert!(s.api.tokens().is_none());

    let short = "hunter2hunter2";
    let err = load(None, [("PAYBOT_API__TOKEN", short)]).unwrap_err();
    assert!(err.contains("`api.token`"), "{err}");
    assert!(err.contains("PAYBOT_API__TOKEN"), "{err}");
    assert!(err.contains("32 to 256 bytes"), "{err}");
    assert!(!err.contains(short), "{err}");

    let token = "k".repeat(40);
    let s = load(None, [("PAYBOT_API__TOKEN", token.as_str())]).unwrap();
    let tokens = s.api.tokens().unwrap();
    assert_eq!(
        tokens.scope_of(token.as_bytes()),
        Some(crate::api::Scope::Issuance)
    );
    assert!(!format!("{s:?}").contains(&token));
}

#[test]
fn api_tokens_have_scopes_come_from_the_environment_only_and_differ() {
    let (read, transfer) = ("r".repeat(40), "t".repeat(40));
    let s = load(
        None,
        [
            ("PAYBOT_API__READ_TOKEN", read.as_str()),
            ("PAYBOT_API__TRANSFER_TOKEN", transfer.as_str()),
        ],
    )
    .unwrap();
    let tokens = s.api.tokens().unwrap();
    assert_eq!(
        tokens.scope_of(read.as_bytes()),
        Some(crate::api::Scope::Read)
    );
    assert_eq!(
        tokens.scope_of(transfer.as_bytes()),
        Some(crate::api::Scope::Transfer)
    );
    assert_eq!(tokens.scope_of(b"nope"), None);

    let file = file_with(&format!("[api]\nissuance_token = \"{read}\"\n"));
    let err = load(Some(file.path()), NO_ENV).unwrap_err();
    assert!(err.contains("`api.issuance_token`"), "{err}");
    assert!(
        err.contains("PAYBOT_API__ISSUANCE_TOKEN, never in a file"),
        "{err}"
    );
    assert!(!err.contains(&read), "{err}");

    let err = load(
        None,
        [
            ("PAYBOT_API__READ_TOKEN", read.as_str()),
            ("PAYBOT_API__ISSUANCE_TOKEN", read.as_str()),
        ],
    )
    .unwrap_err();
    assert!(err.contains("the same token as `api.read_token`"), "{err}");
    assert!(!err.contains(&read), "{err}");
}

#[test]
fn http_limits_are_bounded() {
    let s = load(None, NO_ENV).unwrap();
    assert!(s.http.requests_in_flight_max < s.http.connections_max);
    let err = load(
        None,
        [
            ("PAYBOT_HTTP__HEADER_READ_TIMEOUT_SECS", "0"),
            ("PAYBOT_HTTP__CONNECTIONS_MAX", "64"),
            ("PAYBOT_HTTP__REQUESTS_IN_FLIGHT_MAX", "64"),
        ],
    )
    .unwrap_err();
    assert!(err.contains("`http.header_read_timeout_secs` = 0"), "{err}");
    assert!(
        err.contains(
            "`http.requests_in_flight_max` = 64 (from environment variable \
             PAYBOT_HTTP__REQUESTS_IN_FLIGHT_MAX): must be below http.connections_max (64)"
        ),
        "{err}"
    );
}

#[test]
fn redacted_forms() {
    let redact = |url: &str| DatabaseUrl::parse(url.to_owned()).unwrap().redacted();
    assert_eq!(redact("sqlite:data/paybot.db"), "sqlite:data/paybot.db");
    assert_eq!(redact("sqlite://data/p.db?mode=rwc"), "sqlite://data/p.db");
    assert_eq!(redact("postgresql://u@h/d"), "postgresql://h/d");
    assert_eq!(redact("postgres://h:5432/d"), "postgres://h:5432/d");
    assert_eq!(redact("postgres://u:p@ss@h/d"), "postgres://h/d");
    assert!(DatabaseUrl::parse("sqlite:".to_owned()).is_err());
    assert!(DatabaseUrl::parse("sqlite::memory:".to_owned()).is_err());
}

#[test]
fn the_operator_token_is_its_own_scope_a_secret_and_production() {
    let (operator, read) = ("o".repeat(40), "r".repeat(40));
    let s = load(
        None,
        [
            ("PAYBOT_API__OPERATOR_TOKEN", operator.as_str()),
            ("PAYBOT_API__READ_TOKEN", read.as_str()),
            ("PAYBOT_API__OPERATOR_NAME", "ops-desk"),
        ],
    )
    .unwrap();
    let tokens = s.api.tokens().unwrap();
    assert_eq!(
        tokens.grant_of(operator.as_bytes()),
        Some(crate::api::Grant::Operator)
    );
    assert_eq!(
        tokens.scope_of(operator.as_bytes()),
        None,
        "no ledger scope"
    );
    assert_eq!(
        tokens.grant_of(read.as_bytes()),
        Some(crate::api::Grant::Ledger(crate::api::Scope::Read))
    );
    assert_eq!(s.api.operator_name.as_str(), "ops-desk");
    let deployment = crate::deployment::Deployment::of(&s).unwrap();
    assert!(deployment.is_production());
    assert!(!format!("{s:?}").contains(&operator));

    let file = file_with(&format!("[api]\noperator_token = \"{operator}\"\n"));
    let err = load(Some(file.path()), NO_ENV).unwrap_err();
    assert!(
        err.contains("PAYBOT_API__OPERATOR_TOKEN, never in a file"),
        "{err}"
    );
    assert!(!err.contains(&operator), "{err}");
    let err = load(
        None,
        [
            ("PAYBOT_API__READ_TOKEN", read.as_str()),
            ("PAYBOT_API__OPERATOR_TOKEN", read.as_str()),
        ],
    )
    .unwrap_err();
    assert!(err.contains("the same token as `api.read_token`"), "{err}");
    let err = load(None, [("PAYBOT_API__OPERATOR_NAME", "two words")]).unwrap_err();
    assert!(err.contains("`api.operator_name`"), "{err}");
}

#[test]
fn verification_settings_are_bounded_and_the_secret_is_secret() {
    let s = load(None, NO_ENV).unwrap();
    assert!(s.trust.verification.secret.is_none(), "off by default");
    assert_eq!(s.trust.verification.tolerance_secs, 300);
    assert_eq!(s.trust.policy().highest_tier().get(), 2);
    let short = "tooshort";
    let err = load(None, [("PAYBOT_TRUST__VERIFICATION__SECRET", short)]).unwrap_err();
    assert!(err.contains("`trust.verification.secret`"), "{err}");
    assert!(!err.contains(short), "{err}");
    let err = load(None, [("PAYBOT_TRUST__VERIFICATION__TOLERANCE_SECS", "0")]).unwrap_err();
    assert!(err.contains("must be between 1 and 3600 seconds"), "{err}");
    let file = file_with("[trust]\ndefault_tier = 3\n");
    let err = load(Some(file.path()), NO_ENV).unwrap_err();
    assert!(err.contains("`trust.default_tier`"), "{err}");
    // The secret does not make a deployment production.
    let secret = "s".repeat(40);
    let s = load(
        None,
        [("PAYBOT_TRUST__VERIFICATION__SECRET", secret.as_str())],
    )
    .unwrap();
    assert!(
        !crate::deployment::Deployment::of(&s)
            .unwrap()
            .is_production()
    );
    assert!(!format!("{s:?}").contains(&secret));
}

#[test]
fn trust_limits_defaults_are_the_core_defaults_and_bad_figures_are_named() {
    let s = load(None, NO_ENV).unwrap();
    assert_eq!(
        s.trust.limits.policy(),
        bot::trust::limits::LimitsPolicy::default()
    );
    let s = load(
        None,
        [(
            "PAYBOT_TRUST__LIMITS__TIERS__0__CURRENCIES__USD__SENT_7D",
            "100.5",
        )],
    )
    .unwrap();
    let t0 = s
        .trust
        .limits
        .policy()
        .table(bot::trust::Tier::ZERO, ledger::Currency::USD)
        .copied()
        .unwrap();
    assert_eq!(t0.sent_7d.minor(), 10_050);
    for (value, named) in [
        ("100.555", "tiers.0.currencies.usd.sent_7d"),
        ("-5", "tiers.0.currencies.usd.sent_7d"),
        ("0", "tiers.0.currencies.usd.sent_7d"),
    ] {
        let err = load(
            None,
            [(
                "PAYBOT_TRUST__LIMITS__TIERS__0__CURRENCIES__USD__SENT_7D",
                value,
            )],
        )
        .unwrap_err();
        assert!(err.contains(named), "{value}: {err}");
    }
    let file = file_with("[trust.limits.tiers.12]\nname = \"x\"\n");
    let err = load(Some(file.path()), NO_ENV).unwrap_err();
    assert!(err.contains("tiers.12"), "{err}");
    let file = file_with(
        "[trust.limits.tiers.3]\nname = \"vip\"\n[trust.limits.tiers.3.currencies.JPY]\nsent_24h = \"1\"\n",
    );
    let err = load(Some(file.path()), NO_ENV).unwrap_err();
    assert!(err.contains("sent_7d"), "{err}");
}

#[test]
fn second_factor_defaults_and_refusals() {
    let s = load(None, NO_ENV).unwrap();
    let sf = &s.trust.second_factor;
    assert!(sf.key.is_none());
    assert_eq!(sf.key_file, Path::new("data/second_factor_key"));
    let policy = sf.policy();
    assert_eq!(
        (policy.wrong_codes_max, policy.wrong_codes_window_secs),
        (5, 900)
    );
    let usd = ledger::Currency::USD;
    let tier = |n| bot::trust::Tier::new(n).unwrap();
    assert_eq!(
        policy.code_above(tier(0), usd).map(ledger::Amount::minor),
        Some(25_000)
    );
    assert_eq!(
        policy
            .refuse_unenrolled_above(tier(9), usd)
            .map(ledger::Amount::minor),
        Some(100_000)
    );
    // The key is a secret: a bad one is named, never shown.
    let error = load(
        None,
        [("PAYBOT_TRUST__SECOND_FACTOR__KEY", "tooshort-secretvalue")],
    )
    .unwrap_err();
    assert!(error.contains("trust.second_factor.key"), "{error}");
    assert!(!error.contains("tooshort-secretvalue"), "{error}");
    let error = load(
        None,
        [("PAYBOT_TRUST__SECOND_FACTOR__WRONG_CODES_MAX", "0")],
    )
    .unwrap_err();
    assert!(error.contains("between 1 and 20 codes"), "{error}");
    let file = file_with(
        "[[trust.second_factor.tier]]\ntier = 1\n[[trust.second_factor.tier]]\ntier = 0\n",
    );
    let error = load(Some(file.path()), NO_ENV).unwrap_err();
    assert!(error.contains("ascending order of tier"), "{error}");
    let file =
        file_with("[[trust.second_factor.tier]]\ntier = 0\ncode_above = [\"1 USD\", \"2 USD\"]\n");
    let error = load(Some(file.path()), NO_ENV).unwrap_err();
    assert!(error.contains("each currency at most once"), "{error}");
}

#[test]
fn metrics_are_off_by_default_and_the_token_is_a_secret_of_its_own() {
    let s = load(None, NO_ENV).unwrap();
    assert_eq!(s.metrics.listen, None, "no listener by default");
    assert!(s.metrics.token.is_none());
    assert!(
        s.metrics.main_listener_tokens(&s.api).is_empty(),
        "not on the main listener without a token"
    );

    let token = "m".repeat(40);
    let s = load(
        None,
        [
            ("PAYBOT_METRICS__TOKEN", token.as_str()),
            ("PAYBOT_METRICS__LISTEN", "127.0.0.1:9464"),
        ],
    )
    .unwrap();
    assert_eq!(
        s.metrics.listen,
        Some("127.0.0.1:9464".parse::<SocketAddr>().unwrap())
    );
    assert_eq!(s.metrics.main_listener_tokens(&s.api).len(), 1);
    assert_eq!(s.metrics.own_listener_tokens().len(), 1);
    assert!(!format!("{s:?}").contains(&token));
    let deployment = crate::deployment::Deployment::of(&s).unwrap();
    assert!(!deployment.is_production(), "scraping is not production");

    let file = file_with(&format!("[metrics]\ntoken = \"{token}\"\n"));
    let err = load(Some(file.path()), NO_ENV).unwrap_err();
    assert!(
        err.contains("PAYBOT_METRICS__TOKEN, never in a file"),
        "{err}"
    );
    assert!(!err.contains(&token), "{err}");

    let err = load(None, [("PAYBOT_METRICS__TOKEN", "short")]).unwrap_err();
    assert!(err.contains("`metrics.token`"), "{err}");
    assert!(err.contains("32 to 256 bytes"), "{err}");
    assert!(!err.contains("short\""), "{err}");

    let err = load(
        None,
        [
            ("PAYBOT_API__OPERATOR_TOKEN", token.as_str()),
            ("PAYBOT_METRICS__TOKEN", token.as_str()),
        ],
    )
    .unwrap_err();
    assert!(
        err.contains("the same token as `api.operator_token`"),
        "{err}"
    );

    let err = load(
        None,
        [
            ("PAYBOT_HTTP__ADDR", "127.0.0.1:8080"),
            ("PAYBOT_METRICS__LISTEN", "127.0.0.1:8080"),
        ],
    )
    .unwrap_err();
    assert!(err.contains("`metrics.listen`"), "{err}");
    assert!(err.contains("must differ from http.addr"), "{err}");
    let err = load(None, [("PAYBOT_METRICS__LISTEN", "nowhere")]).unwrap_err();
    assert!(err.contains("`metrics.listen` = \"nowhere\""), "{err}");

    let s = load(None, [("PAYBOT_API__OPERATOR_TOKEN", token.as_str())]).unwrap();
    assert_eq!(
        s.metrics.main_listener_tokens(&s.api).len(),
        1,
        "the operator's token scrapes the main listener"
    );
    assert!(s.metrics.own_listener_tokens().is_empty());
}
