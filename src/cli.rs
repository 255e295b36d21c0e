//! The command line: `paybot [--config FILE] [serve | chat | migrate | verify
//! | admin ... | card-sim | bench | torture]`.
//!
//! Parsing only; what each command does lives in `main.rs` and the modules
//! it calls. Bare `paybot` means `paybot serve`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Chat payments on a double-entry ledger.
#[derive(Debug, Parser)]
#[command(name = "paybot", version, about)]
pub struct Cli {
    /// A TOML file of settings overriding the built-in defaults (see
    /// config/paybot.toml); PAYBOT_* environment variables override it.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Run paybot (the default): migrate the database, expire timed-out
    /// payments and serve HTTP until SIGINT or SIGTERM.
    Serve,
    /// Chat with paybot in this terminal as mock users (`:as bob`, `:in
    /// party`, `:dm`), on the configured database, with no server.
    Chat,
    /// Apply the database migrations and exit.
    Migrate,
    /// The SDN list that sanctions screening searches: `load FILE`,
    /// `status`, `check NAME`.
    Sanctions(crate::sanctions::SanctionsArgs),
    /// Check the ledger's invariants on the live database, and that every
    /// held transfer has its audit record. Prints each broken one on its own
    /// line; exits 0 if none, 1 if any, 2 on errors.
    Verify,
    /// The operator's commands: tiers, a user's report, the audit log,
    /// holds for review.
    Admin(crate::admin::AdminArgs),
    /// Run the card rail simulator on its own (Visa Direct-shaped, test
    /// cards only) until SIGINT; point `cards.rail_url` at it. Its API key
    /// comes from PAYBOT_CARDS__API_KEY.
    CardSim {
        /// Where to listen, e.g. 127.0.0.1:8090 (port 0: any free port).
        #[arg(long, value_name = "ADDR")]
        addr: SocketAddr,
    },
    /// Development only: register a play-money biller, send a mock user an
    /// invoice through the running server, and print the signed webhooks
    /// it receives on a local port (with whether each signature verifies).
    DevBiller(crate::dev_biller::DevBillerArgs),
    /// Measure throughput and latency; prints figures, asserts nothing.
    Bench(crate::bench::BenchArgs),
    /// The bank test: run `paybot serve` as a child, send transfers through
    /// its ledger API while killing it with SIGKILL, then check that no money
    /// was lost, created or applied twice. Exits 0 if none, 1 if any.
    Torture(crate::torture::TortureArgs),
}

impl Cli {
    /// The command to run: `serve` when none is given.
    pub fn command_or_serve(&self) -> Command {
        self.command.clone().unwrap_or(Command::Serve)
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn bare_paybot_serves() {
        let cli = Cli::try_parse_from(["paybot"]).unwrap();
        assert_eq!(cli.command_or_serve(), Command::Serve);
        assert_eq!(cli.config, None);
    }

    #[test]
    fn config_is_global() {
        for args in [
            ["paybot", "--config", "x.toml", "verify"],
            ["paybot", "verify", "--config", "x.toml"],
        ] {
            let cli = Cli::try_parse_from(args).unwrap();
            assert_eq!(cli.command_or_serve(), Command::Verify);
            assert_eq!(cli.config, Some(PathBuf::from("x.toml")));
        }
        let cli = Cli::try_parse_from(["paybot", "migrate"]).unwrap();
        assert_eq!(cli.command_or_serve(), Command::Migrate);
    }

    #[test]
    fn card_sim_takes_an_address() {
        let cli = Cli::try_parse_from(["paybot", "card-sim", "--addr", "127.0.0.1:0"]).unwrap();
        assert_eq!(
            cli.command_or_serve(),
            Command::CardSim {
                addr: "127.0.0.1:0".parse().unwrap()
            }
        );
        assert!(Cli::try_parse_from(["paybot", "card-sim"]).is_err());
    }

    #[test]
    fn admin_commands_parse_their_arguments() {
        use crate::admin::AdminCommand;
        let cli = Cli::try_parse_from([
            "paybot",
            "admin",
            "tier",
            "telegram:42",
            "1",
            "--reason",
            "passport",
            "--by",
            "ana",
        ])
        .unwrap();
        let Command::Admin(args) = cli.command_or_serve() else {
            panic!("not admin")
        };
        let AdminCommand::Tier {
            user,
            tier,
            reason,
            by,
        } = args.command
        else {
            panic!("not tier")
        };
        assert_eq!(user.to_string(), "telegram:42");
        assert_eq!(tier.get(), 1);
        assert_eq!(reason.as_str(), "passport");
        assert_eq!(by.as_str(), "ana");
        for bad in [
            vec![
                "paybot", "admin", "tier", "bob", "1", "--reason", "x", "--by", "ana",
            ],
            vec![
                "paybot", "admin", "tier", "@bob", "10", "--reason", "x", "--by", "ana",
            ],
            vec![
                "paybot", "admin", "tier", "@bob", "1", "--reason", " ", "--by", "ana",
            ],
            vec![
                "paybot", "admin", "tier", "@bob", "1", "--reason", "x", "--by", "a b",
            ],
            vec!["paybot", "admin", "audit", "--kind", "nonsense"],
            vec![
                "paybot", "admin", "approve", "!!", "--reason", "x", "--by", "ana",
            ],
        ] {
            assert!(Cli::try_parse_from(&bad).is_err(), "{bad:?}");
        }
        let cli =
            Cli::try_parse_from(["paybot", "admin", "audit", "--json", "--since", "24h"]).unwrap();
        assert!(matches!(
            cli.command_or_serve(),
            Command::Admin(crate::admin::AdminArgs {
                command: AdminCommand::Audit { json: true, .. }
            })
        ));
    }

    #[test]
    fn sanctions_load_takes_a_file_and_options() {
        use crate::sanctions::{SanctionsArgs, SanctionsCommand};
        let cli = Cli::try_parse_from([
            "paybot",
            "sanctions",
            "load",
            "sdn.csv",
            "--date",
            "2026-11-30",
            "--by",
            "ana",
        ])
        .unwrap();
        let Command::Sanctions(SanctionsArgs {
            command:
                SanctionsCommand::Load {
                    file,
                    alt,
                    date,
                    by,
                },
        }) = cli.command_or_serve()
        else {
            panic!("not a load: {cli:?}");
        };
        assert_eq!(file, PathBuf::from("sdn.csv"));
        assert_eq!(alt, None);
        assert_eq!(date.map(|d| d.to_string()).as_deref(), Some("2026-11-30"));
        assert_eq!(by.as_deref(), Some("ana"));
        assert!(
            Cli::try_parse_from(["paybot", "sanctions", "load", "x", "--date", "30.11.2026"])
                .is_err()
        );
        assert!(Cli::try_parse_from(["paybot", "sanctions", "load"]).is_err());
        assert!(Cli::try_parse_from(["paybot", "sanctions", "status"]).is_ok());
        let cli =
            Cli::try_parse_from(["paybot", "sanctions", "check", "A B", "--display-name"]).unwrap();
        assert_eq!(
            cli.command_or_serve(),
            Command::Sanctions(SanctionsArgs {
                command: SanctionsCommand::Check {
                    name: "A B".to_owned(),
                    display_name: true
                }
            })
        );
    }

    #[test]
    fn unknown_command_is_refused() {
        assert!(Cli::try_parse_from(["paybot", "launch"]).is_err());
    }
}
