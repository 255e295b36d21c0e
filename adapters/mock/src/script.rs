//! Conversation scripts: who says what in which chat, and what each user
//! then sees, as a readable text file.
//!
//! ```text
//! # Alice pays Bob in a group.
//! > bob in dm: /start
//! > alice in party: /pay @bob 5 for coffee
//!   party sees: @alice, I sent you a DM with a code
//!   alice in dm sees: /confirm {code:c}
//!   party does not see: {c}
//! > alice in dm: /confirm {c}
//!   bob in dm sees: @alice paid you $5.00
//! ! wait 5m
//! ```
//!
//! - `> USER in CHAT: TEXT` sends TEXT as USER in CHAT (`dm` or a group
//!   name). Options before the colon: `[id=EVENT]` fixes the event id (send
//!   the same id twice to redeliver), `replying to USER` makes it a reply.
//! - The lines after a send check what that one message caused:
//!   `USER in CHAT sees: TEXT` (a delivery to USER in CHAT contains TEXT),
//!   `CHAT sees: TEXT` (a message to the group CHAT contains TEXT),
//!   `USER in CHAT does not see: TEXT`, `CHAT does not see: TEXT`,
//!   `USER sees nothing`, `nothing` (it caused no message at all), and
//!   `deleted` / `not deleted` (the bot did or did not delete the message
//!   just sent from its chat).
//! - In TEXT, `{code:NAME}` matches a 6-digit code and remembers it as NAME,
//!   `{ref:NAME}` a payment, request or split reference (`P7K2QXM`), and
//!   (or a `/link` code) and `{NAME}` stands for what was remembered. `{NAME}` works in sent text
//!   too.
//! - `{secret:NAME}` matches an authenticator key as `/2fa setup` shows it
//!   (8 groups of 4) and `{recovery:NAME}` a recovery code (`ABCDE-FGHIJ`);
//!   in sent text, `{totp:NAME}` is the code an authenticator app holding
//!   the key NAME shows now (the bot's clock).
//! - `! wait 90s` (or `m`, `h`, `d`) moves the clock on, then lets the bot
//!   sweep (expiries, refunds) and deliver; its lines check what that caused.
//! - `! approve REF: REASON` and `! reject REF: REASON` decide a hold for
//!   review as an operator would (`paybot admin approve|reject`), then let
//!   the bot deliver; its lines check what that caused. REF may be
//!   `{NAME}`. The step fails unless the hold was approved or rejected.
//! - `! verify USER tier N as LEGAL NAME` plays a verification provider's
//!   callback for the mock user USER (their tier, and the legal name that
//!   is screened against the sanctions list), then lets the bot deliver.
//! - `\u{HEX}` in TEXT (sent or expected) is the character U+HEX, so a
//!   script can show invisible characters (`\u{200B}`).
//! - `#` starts a comment; blank lines are ignored.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::LazyLock;
use std::time::Duration;

use bot::command::ShortRef;
use bot::service::CallbackOutcome;
use bot::trust::holds::{HoldDecision, HoldOutcome};
use bot::trust::operator::{ActorName, OperatorReason, UserTarget};
use bot::trust::verification::{BodyDigest, LegalName, ProviderEventId, VerificationEvent};
use bot::trust::{Actor, Tier};
use regex::Regex;

use bot::trust::second_factor::TotpSecret;

use crate::{DM, Delivery, MockChat, Outgoing};

/// The longest script, in lines.
pub const SCRIPT_LINES_MAX: usize = 10_000;

/// One step of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Send {
        line: usize,
        out: Outgoing,
        checks: Vec<Check>,
    },
    Wait {
        line: usize,
        by: Duration,
        checks: Vec<Check>,
    },
    /// A verification provider's callback.
    Verify {
        line: usize,
        user: String,
        tier: u8,
        legal_name: String,
        checks: Vec<Check>,
    },
    /// An operator's decision on a hold for review.
    Decide {
        line: usize,
        approve: bool,
        reference: String,
        reason: String,
        checks: Vec<Check>,
    },
}

/// One expectation about what a step caused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub line: usize,
    pub kind: CheckKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckKind {
    /// `to` (None: anyone) in `chat` received a message containing `text`.
    Sees {
        to: Option<String>,
        chat: String,
        text: String,
    },
    DoesNotSee {
        to: Option<String>,
        chat: String,
        text: String,
    },
    SeesNothing {
        to: String,
    },
    Nothing,
    /// The message sent was deleted (`true`) or was not (`false`).
    Deleted(bool),
}

/// A parsed script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    pub steps: Vec<Step>,
}

fn compile(pattern: &str) -> Option<Regex> {
    Regex::new(pattern).ok()
}

static SEND: LazyLock<Option<Regex>> = LazyLock::new(|| {
    compile(
        r"^>\s*(?P<from>[\w.]+) in (?P<chat>[\w.-]+)(?:\s+\[id=(?P<id>[^\]\s]+)\])?(?:\s+replying to (?P<reply>[\w.]+))?:\s?(?P<text>.*)$",
    )
});
static WAIT: LazyLock<Option<Regex>> =
    LazyLock::new(|| compile(r"^!\s*wait\s+(?P<n>\d{1,7})(?P<unit>s|m|h|d)$"));
static DECIDE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    compile(r"^!\s*(?P<verb>approve|reject)\s+(?P<reference>\S+):\s*(?P<reason>.+)$")
});
static VERIFY: LazyLock<Option<Regex>> = LazyLock::new(|| {
    compile(r"^!\s*verify\s+(?P<user>[\w.]+)\s+tier\s+(?P<tier>\d)\s+as\s+(?P<name>.+)$")
});
static USER_SEES: LazyLock<Option<Regex>> = LazyLock::new(|| {
    compile(r"^(?P<to>[\w.]+) in (?P<chat>[\w.-]+) (?P<verb>sees|does not see): ?(?P<text>.*)$")
});
static CHAT_SEES: LazyLock<Option<Regex>> =
    LazyLock::new(|| compile(r"^(?P<chat>[\w.-]+) (?P<verb>sees|does not see): ?(?P<text>.*)$"));
static SEES_NOTHING: LazyLock<Option<Regex>> =
    LazyLock::new(|| compile(r"^(?P<to>[\w.]+) sees nothing$"));
static PLACEHOLDER: LazyLock<Option<Regex>> = LazyLock::new(|| {
    compile(r"\{(?:(?P<kind>code|ref|secret|recovery|totp):)?(?P<name>[A-Za-z_][A-Za-z0-9_]*)\}")
});
/// `\u{HEX}`: a character written by its code point.
static ESCAPE: LazyLock<Option<Regex>> =
    LazyLock::new(|| compile(r"\\u\{(?P<hex>[0-9A-Fa-f]{1,6})\}"));
/// A code as the bot sends it: after `/confirm `.
static SENT_CODE: LazyLock<Option<Regex>> = LazyLock::new(|| compile(r"/confirm (\d{6})"));

fn captures<'t>(re: &LazyLock<Option<Regex>>, text: &'t str) -> Option<regex::Captures<'t>> {
    re.as_ref().and_then(|re| re.captures(text))
}

fn group(caps: &regex::Captures<'_>, name: &str) -> String {
    caps.name(name)
        .map(|m| m.as_str().to_owned())
        .unwrap_or_default()
}

/// Replaces each `\u{HEX}` in `text` with its character.
fn unescape(text: &str, line: usize) -> Result<String, String> {
    let Some(re) = ESCAPE.as_ref() else {
        return Ok(text.to_owned());
    };
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for caps in re.captures_iter(text) {
        let Some(whole) = caps.get(0) else { continue };
        out.push_str(text.get(last..whole.start()).unwrap_or_default());
        let c = u32::from_str_radix(&group(&caps, "hex"), 16)
            .ok()
            .and_then(char::from_u32)
            .ok_or_else(|| format!("line {line}: `{}` is no character", whole.as_str()))?;
        out.push(c);
        last = whole.end();
    }
    out.push_str(text.get(last..).unwrap_or_default());
    Ok(out)
}

/// Parses a script; the error names the line.
pub fn parse(text: &str) -> Result<Script, String> {
    let mut steps: Vec<Step> = Vec::new();
    for (index, raw) in text.lines().enumerate().take(SCRIPT_LINES_MAX) {
        let line = index + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if let Some(caps) = captures(&SEND, trimmed) {
            let id = caps.name("id").map(|m| m.as_str().to_owned());
            let reply_to = caps.name("reply").map(|m| m.as_str().to_owned());
            steps.push(Step::Send {
                line,
                out: Outgoing {
                    from: group(&caps, "from"),
                    chat: group(&caps, "chat"),
                    text: unescape(&group(&caps, "text"), line)?,
                    id,
                    reply_to,
                },
                checks: Vec::new(),
            });
            continue;
        }
        if let Some(caps) = captures(&WAIT, trimmed) {
            let n: u64 = group(&caps, "n")
                .parse()
                .map_err(|_| format!("line {line}: bad number"))?;
            let secs = match group(&caps, "unit").as_str() {
                "s" => n,
                "m" => n * 60,
                "h" => n * 3_600,
                _ => n * 86_400,
            };
            steps.push(Step::Wait {
                line,
                by: Duration::from_secs(secs),
                checks: Vec::new(),
            });
            continue;
        }
        if let Some(caps) = captures(&VERIFY, trimmed) {
            steps.push(Step::Verify {
                line,
                user: group(&caps, "user"),
                tier: group(&caps, "tier")
                    .parse()
                    .map_err(|_| format!("line {line}: bad tier"))?,
                legal_name: group(&caps, "name"),
                checks: Vec::new(),
            });
            continue;
        }
        if let Some(caps) = captures(&DECIDE, trimmed) {
            steps.push(Step::Decide {
                line,
                approve: group(&caps, "verb") == "approve",
                reference: group(&caps, "reference"),
                reason: group(&caps, "reason"),
                checks: Vec::new(),
            });
            continue;
        }
        let kind = if trimmed == "nothing" {
            CheckKind::Nothing
        } else if trimmed == "deleted" || trimmed == "not deleted" {
            if !matches!(steps.last(), Some(Step::Send { .. })) {
                return Err(format!("line {line}: `{trimmed}` checks a message sent"));
            }
            CheckKind::Deleted(trimmed == "deleted")
        } else if let Some(caps) = captures(&SEES_NOTHING, trimmed) {
            CheckKind::SeesNothing {
                to: group(&caps, "to"),
            }
        } else if let Some(caps) = captures(&USER_SEES, trimmed) {
            let (to, chat, text) = (
                Some(group(&caps, "to")),
                group(&caps, "chat"),
                unescape(&group(&caps, "text"), line)?,
            );
            if group(&caps, "verb") == "sees" {
                CheckKind::Sees { to, chat, text }
            } else {
                CheckKind::DoesNotSee { to, chat, text }
            }
        } else if let Some(caps) = captures(&CHAT_SEES, trimmed) {
            let (chat, text) = (group(&caps, "chat"), unescape(&group(&caps, "text"), line)?);
            if group(&caps, "verb") == "sees" {
                CheckKind::Sees {
                    to: None,
                    chat,
                    text,
                }
            } else {
                CheckKind::DoesNotSee {
                    to: None,
                    chat,
                    text,
                }
            }
        } else {
            return Err(format!("line {line}: cannot read `{trimmed}`"));
        };
        let check = Check { line, kind };
        match steps.last_mut() {
            Some(
                Step::Send { checks, .. }
                | Step::Wait { checks, .. }
                | Step::Decide { checks, .. }
                | Step::Verify { checks, .. },
            ) => checks.push(check),
            None => return Err(format!("line {line}: a check before any message")),
        }
    }
    Ok(Script { steps })
}

/// What a finished script saw, for the checks the runner makes on every
/// script.
#[derive(Debug, Default)]
pub struct Transcript {
    /// Every delivery, in order.
    pub deliveries: Vec<Delivery>,
}

impl Transcript {
    /// Group messages that carry something private: a code that was sent
    /// to someone privately, or a balance.
    pub fn leaks(&self) -> Vec<String> {
        let codes: Vec<String> = self
            .deliveries
            .iter()
            .filter(|d| d.chat == DM)
            .flat_map(|d| {
                SENT_CODE
                    .as_ref()
                    .map(|re| {
                        re.captures_iter(&d.text)
                            .filter_map(|c| c.get(1).map(|m| m.as_str().to_owned()))
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default()
            })
            .collect();
        self.deliveries
            .iter()
            .filter(|d| d.chat != DM)
            .filter(|d| {
                codes.iter().any(|c| d.text.contains(c.as_str()))
                    || d.text.to_lowercase().contains("balance:")
                    || d.text.contains("available")
            })
            .map(|d| format!("to {} in {}: {}", d.to, d.chat, d.text))
            .collect()
    }
}

/// Substitutes `{NAME}` from `vars`, and `{totp:NAME}` with the code an
/// authenticator app holding the secret remembered as NAME shows at
/// `now_ms`; an unknown name is an error.
fn substitute(
    text: &str,
    vars: &HashMap<String, String>,
    line: usize,
    now_ms: i64,
) -> Result<String, String> {
    let Some(re) = PLACEHOLDER.as_ref() else {
        return Ok(text.to_owned());
    };
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for caps in re.captures_iter(text) {
        let Some(whole) = caps.get(0) else { continue };
        out.push_str(text.get(last..whole.start()).unwrap_or_default());
        let name = group(&caps, "name");
        let value = vars
            .get(&name)
            .ok_or_else(|| format!("line {line}: nothing remembered as {{{name}}}"))?;
        if caps.name("kind").is_some_and(|m| m.as_str() == "totp") {
            let code = TotpSecret::from_base32(value)
                .and_then(|secret| secret.code_at(now_ms))
                .map_err(|e| format!("line {line}: {{{name}}} is not a TOTP secret: {e}"))?;
            out.push_str(&code);
        } else {
            out.push_str(value);
        }
        last = whole.end();
    }
    out.push_str(text.get(last..).unwrap_or_default());
    Ok(out)
}

/// A regex for an expected TEXT: literal, with placeholders; the capture
/// names of new ones.
fn pattern(
    text: &str,
    vars: &HashMap<String, String>,
    line: usize,
) -> Result<(Regex, Vec<String>), String> {
    let mut source = String::new();
    let mut names = Vec::new();
    let mut last = 0;
    if let Some(re) = PLACEHOLDER.as_ref() {
        for caps in re.captures_iter(text) {
            let Some(whole) = caps.get(0) else { continue };
            source.push_str(&regex::escape(
                text.get(last..whole.start()).unwrap_or_default(),
            ));
            let name = group(&caps, "name");
            match caps.name("kind").map(|m| m.as_str()) {
                Some("code") => {
                    let _ = write!(source, r"(?P<{name}>\d{{6}})");
                    names.push(name);
                }
                Some("secret") => {
                    let _ = write!(source, r"(?P<{name}>[A-Z2-7]{{4}}(?: [A-Z2-7]{{4}}){{7}})");
                    names.push(name);
                }
                Some("recovery") => {
                    let _ = write!(source, r"(?P<{name}>[A-Z2-7]{{5}}-[A-Z2-7]{{5}})");
                    names.push(name);
                }
                Some("totp") => {
                    return Err(format!(
                        "line {line}: {{totp:{name}}} is for sent text, not expected text"
                    ));
                }
                Some(_) => {
                    let _ = write!(source, r"(?P<{name}>[A-Z0-9]{{7,12}})");
                    names.push(name);
                }
                None => {
                    let value = vars
                        .get(&name)
                        .ok_or_else(|| format!("line {line}: nothing remembered as {{{name}}}"))?;
                    source.push_str(&regex::escape(value));
                }
            }
            last = whole.end();
        }
    }
    source.push_str(&regex::escape(text.get(last..).unwrap_or_default()));
    let re = Regex::new(&source).map_err(|e| format!("line {line}: {e}"))?;
    Ok((re, names))
}

fn render(deliveries: &[Delivery]) -> String {
    if deliveries.is_empty() {
        return "  (nothing)".to_owned();
    }
    deliveries
        .iter()
        .map(|d| {
            format!(
                "  [{} in {}] {}",
                d.to,
                d.chat,
                d.text.replace('\n', "\n      ")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `deleted`: whether the step's message was deleted (a wait: `false`).
fn check(
    check: &Check,
    caused: &[Delivery],
    deleted: bool,
    vars: &mut HashMap<String, String>,
) -> Result<(), String> {
    let line = check.line;
    let fail = |what: String| {
        Err(format!(
            "line {line}: {what}\nwhat that message caused:\n{}",
            render(caused)
        ))
    };
    match &check.kind {
        CheckKind::Nothing => {
            if !caused.is_empty() {
                return fail("expected no message".to_owned());
            }
        }
        CheckKind::Deleted(expected) => {
            if deleted != *expected {
                return fail(format!(
                    "expected the message {}to be deleted",
                    if *expected { "" } else { "not " }
                ));
            }
        }
        CheckKind::SeesNothing { to } => {
            if caused.iter().any(|d| &d.to == to) {
                return fail(format!("expected {to} to receive nothing"));
            }
        }
        CheckKind::Sees { to, chat, text } => {
            let (re, names) = pattern(text, vars, line)?;
            let found = caused
                .iter()
                .filter(|d| &d.chat == chat && to.as_ref().is_none_or(|to| &d.to == to))
                .find_map(|d| re.captures(&d.text));
            let Some(caps) = found else {
                let who = to.as_deref().unwrap_or("anyone");
                return fail(format!("expected {who} in {chat} to see `{text}`"));
            };
            for name in names {
                if let Some(m) = caps.name(&name) {
                    vars.insert(name, m.as_str().to_owned());
                }
            }
        }
        CheckKind::DoesNotSee { to, chat, text } => {
            let (re, _) = pattern(text, vars, line)?;
            if caused
                .iter()
                .filter(|d| &d.chat == chat && to.as_ref().is_none_or(|to| &d.to == to))
                .any(|d| re.is_match(&d.text))
            {
                let who = to.as_deref().unwrap_or("anyone");
                return fail(format!("expected {who} in {chat} not to see `{text}`"));
            }
        }
    }
    Ok(())
}

/// Runs `script` against `chat`. `advance` moves the clock the bot reads.
/// Stops at the first failed check, with a message naming its line and
/// showing what was delivered.
pub async fn run(
    chat: &MockChat,
    script: &Script,
    advance: &(dyn Fn(Duration) + Sync),
) -> Result<Transcript, String> {
    let mut vars: HashMap<String, String> = HashMap::new();
    let mut transcript = Transcript::default();
    for step in &script.steps {
        let (caused, deleted, checks) = match step {
            Step::Send { line, out, checks } => {
                let mut out = out.clone();
                out.text = substitute(&out.text, &vars, *line, chat.bot().now_ms())?;
                let sent = chat
                    .send_message(&out)
                    .await
                    .map_err(|e| format!("line {line}: the mock refused the message: {e}"))?;
                let deleted = sent.deleted.contains(&sent.message);
                (sent.deliveries, deleted, checks)
            }
            Step::Wait { line, by, checks } => {
                advance(*by);
                let caused = chat.tick().await.map_err(|e| format!("line {line}: {e}"))?;
                (caused, false, checks)
            }
            Step::Verify {
                line,
                user,
                tier,
                legal_name,
                checks,
            } => {
                let event = verification_event(*line, user, *tier, legal_name)?;
                let provider =
                    ActorName::parse("script").map_err(|e| format!("line {line}: {e}"))?;
                let outcome = chat
                    .bot()
                    .verification_callback(&event, &provider)
                    .await
                    .map_err(|e| format!("line {line}: {e}"))?;
                if !matches!(outcome, CallbackOutcome::Applied(_)) {
                    return Err(format!("line {line}: the callback answered {outcome:?}"));
                }
                let caused = chat.tick().await.map_err(|e| format!("line {line}: {e}"))?;
                (caused, false, checks)
            }
            Step::Decide {
                line,
                approve,
                reference,
                reason,
                checks,
            } => {
                let reference = substitute(reference, &vars, *line, chat.bot().now_ms())?;
                let id = ShortRef::parse(&reference)
                    .map_err(|e| format!("line {line}: `{reference}`: {e}"))?;
                let (decision, wanted) = if *approve {
                    (HoldDecision::Approve, HoldOutcome::Approved)
                } else {
                    (HoldDecision::Reject, HoldOutcome::Rejected)
                };
                let outcome = chat
                    .bot()
                    .decide_hold(&id, decision, Actor::Operator("script".to_owned()), reason)
                    .await
                    .map_err(|e| format!("line {line}: {e}"))?;
                if outcome != wanted {
                    return Err(format!(
                        "line {line}: the hold decision answered {outcome:?}"
                    ));
                }
                let caused = chat.tick().await.map_err(|e| format!("line {line}: {e}"))?;
                (caused, false, checks)
            }
        };
        for c in checks {
            check(c, &caused, deleted, &mut vars)?;
        }
        transcript.deliveries.extend(caused);
    }
    Ok(transcript)
}

/// The provider's event a `! verify` line plays.
fn verification_event(
    line: usize,
    user: &str,
    tier: u8,
    legal_name: &str,
) -> Result<VerificationEvent, String> {
    let bad = |what: &str| format!("line {line}: bad {what}");
    Ok(VerificationEvent {
        event_id: ProviderEventId::parse(&format!("script-line-{line}"))
            .map_err(|_| bad("event id"))?,
        target: UserTarget::parse(&format!("mock:{user}")).map_err(|_| bad("user"))?,
        tier: Tier::new(tier).ok_or_else(|| bad("tier"))?,
        legal_name: Some(LegalName::parse(legal_name).map_err(|_| bad("legal name"))?),
        reason: OperatorReason::parse("verified by the script").map_err(|_| bad("reason"))?,
        body_digest: BodyDigest::from_hex(&format!("{line:064x}")).ok_or_else(|| bad("digest"))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_line_kind() {
        let script = parse(
            "# c\n> alice in party [id=e1] replying to bob: /pay 5\n  party sees: DM\n  alice in dm sees: /confirm {code:c}\n  bob sees nothing\n  party does not see: {c}\n! wait 5m\n  nothing\n",
        )
        .unwrap();
        assert_eq!(script.steps.len(), 2);
        let Step::Send { out, checks, .. } = &script.steps[0] else {
            panic!()
        };
        assert_eq!(out.id.as_deref(), Some("e1"));
        assert_eq!(out.reply_to.as_deref(), Some("bob"));
        assert_eq!(out.text, "/pay 5");
        assert_eq!(checks.len(), 4);
        let Step::Wait { by, checks, .. } = &script.steps[1] else {
            panic!()
        };
        assert_eq!(*by, Duration::from_secs(300));
        assert_eq!(checks[0].kind, CheckKind::Nothing);
    }

    #[test]
    fn deletion_checks_follow_a_message() {
        let script = parse("> alice in party: hi\n  deleted\n  not deleted\n").unwrap();
        let Step::Send { checks, .. } = &script.steps[0] else {
            panic!()
        };
        assert_eq!(checks[0].kind, CheckKind::Deleted(true));
        assert_eq!(checks[1].kind, CheckKind::Deleted(false));
        assert!(
            parse("> bob in dm: /start\n! wait 1m\n  deleted\n")
                .unwrap_err()
                .contains("line 3")
        );
        let c = Check {
            line: 4,
            kind: CheckKind::Deleted(true),
        };
        let mut vars = HashMap::new();
        assert!(check(&c, &[], true, &mut vars).is_ok());
        assert!(
            check(&c, &[], false, &mut vars)
                .unwrap_err()
                .contains("line 4")
        );
    }

    #[test]
    fn escapes_name_characters() {
        let script =
            parse("> alice in dm: a\\u{200B}b\\u{1F355}\n  alice in dm sees: \\u{41}\n").unwrap();
        let Step::Send { out, checks, .. } = &script.steps[0] else {
            panic!()
        };
        assert_eq!(out.text, "a\u{200B}b\u{1F355}");
        assert!(matches!(&checks[0].kind, CheckKind::Sees { text, .. } if text == "A"));
        assert!(
            parse("> alice in dm: \\u{D800}\n")
                .unwrap_err()
                .contains("line 1")
        );
    }

    #[test]
    fn refuses_unreadable_lines() {
        assert!(parse("alice says hi").unwrap_err().contains("line 1"));
        assert!(parse("party sees: x").unwrap_err().contains("before any"));
    }

    #[test]
    fn totp_placeholders_compute_the_code_at_the_bot_clock() {
        let mut vars = HashMap::new();
        // RFC 6238's SHA-1 key, "12345678901234567890", as /2fa setup shows it.
        let caused = vec![Delivery {
            to: "alice".into(),
            chat: "dm".into(),
            text: "key:\nGEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ\nrecovery:\nABCDE-FGH23".into(),
            image_png_base64: None,
            file: None,
        }];
        let c = Check {
            line: 1,
            kind: CheckKind::Sees {
                to: Some("alice".into()),
                chat: "dm".into(),
                text: "{secret:k}".into(),
            },
        };
        check(&c, &caused, false, &mut vars).unwrap();
        let c = Check {
            line: 2,
            kind: CheckKind::Sees {
                to: Some("alice".into()),
                chat: "dm".into(),
                text: "{recovery:r}".into(),
            },
        };
        check(&c, &caused, false, &mut vars).unwrap();
        assert_eq!(vars["r"], "ABCDE-FGH23");
        assert_eq!(
            substitute("/2fa confirm {totp:k}", &vars, 3, 59_000).unwrap(),
            "/2fa confirm 287082"
        );
    }

    #[test]
    fn placeholders_capture_and_substitute() {
        let mut vars = HashMap::new();
        let caused = vec![Delivery {
            to: "alice".into(),
            chat: "dm".into(),
            text: "send me: /confirm 123456 (payment PABCDEF)".into(),
            image_png_base64: None,
            file: None,
        }];
        let c = Check {
            line: 1,
            kind: CheckKind::Sees {
                to: Some("alice".into()),
                chat: "dm".into(),
                text: "/confirm {code:c} (payment {ref:p})".into(),
            },
        };
        check(&c, &caused, false, &mut vars).unwrap();
        assert_eq!(vars["c"], "123456");
        assert_eq!(vars["p"], "PABCDEF");
        assert_eq!(
            substitute("/confirm {c}", &vars, 1, 0).unwrap(),
            "/confirm 123456"
        );
        assert!(
            substitute("{nope}", &vars, 3, 0)
                .unwrap_err()
                .contains("line 3")
        );
    }
}
