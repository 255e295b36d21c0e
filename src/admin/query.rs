//! What the CLI (`paybot admin`) and the HTTP API (`/api/v1/admin`) share:
//! reading "since when" and showing a user's report and a hold as JSON.

use bot::calendar::UtcMoment;
use bot::trust::holds::HoldView;
use bot::trust::operator::UserReport;
use serde_json::{Value, json};

/// The longest "since" a duration may say: ten years, in seconds.
pub const SINCE_SECS_MAX: i64 = 10 * 366 * 86_400;

/// `since` as ms since the epoch: a duration back from `now_ms` (`90s`,
/// `30m`, `24h`, `7d`, `2w`), a date (`2026-12-03`, midnight UTC) or a
/// date and time in UTC (`2026-12-03T18:00`, `2026-12-03T18:00:05Z`, a
/// space instead of `T`).
pub fn parse_since(text: &str, now_ms: i64) -> Result<i64, String> {
    let text = text.trim();
    let refused = || {
        format!(
            "`{text}` is not a time: give a duration back from now (30m, 24h, 7d, 2w) or a UTC date (2026-12-03) or date and time (2026-12-03T18:00Z)"
        )
    };
    if let Some(secs) = duration_secs(text) {
        if secs > SINCE_SECS_MAX {
            return Err(format!("`{text}` is too long ago (at most ten years)"));
        }
        return Ok(now_ms.saturating_sub(secs.saturating_mul(1_000)));
    }
    datetime_ms(text).ok_or_else(refused)
}

/// `24h` → 86400; `None` unless digits then one of s, m, h, d, w.
fn duration_secs(text: &str) -> Option<i64> {
    let unit = text.chars().last()?;
    let digits = text.get(..text.len().checked_sub(1)?)?;
    if digits.is_empty() || digits.len() > 12 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: i64 = digits.parse().ok()?;
    let unit_secs = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3_600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        _ => return None,
    };
    n.checked_mul(unit_secs)
}

/// `YYYY-MM-DD[(T| )HH:MM[:SS]][Z]`, UTC.
fn datetime_ms(text: &str) -> Option<i64> {
    let text = text.strip_suffix('Z').unwrap_or(text);
    let (date, time) = match text.split_once(['T', ' ']) {
        Some((date, time)) => (date, Some(time)),
        None => (text, None),
    };
    let mut parts = date.split('-');
    let year = number(parts.next()?, 4)?;
    let month = number(parts.next()?, 2)?;
    let day = number(parts.next()?, 2)?;
    if parts.next().is_some() || !(1970..=9999).contains(&year) {
        return None;
    }
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let secs_of_day = match time {
        None => 0,
        Some(time) => {
            let mut parts = time.split(':');
            let hour = number(parts.next()?, 2)?;
            let minute = number(parts.next()?, 2)?;
            let second = match parts.next() {
                Some(s) => number(s, 2)?,
                None => 0,
            };
            if parts.next().is_some() || hour > 23 || minute > 59 || second > 59 {
                return None;
            }
            hour * 3_600 + minute * 60 + second
        }
    };
    let days = days_from_civil(year, month, day);
    Some((days * 86_400 + secs_of_day) * 1_000)
}

/// Exactly `len` ASCII digits.
fn number(text: &str, len: usize) -> Option<i64> {
    (text.len() == len && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// A time as people read it: `2026-12-03T18:00:05Z`.
pub fn moment(ms: i64) -> String {
    UtcMoment::from_unix_ms(ms).map_or_else(|| ms.to_string(), |t| format!("{t}Z"))
}

/// A hold as the API and `--json` show it.
pub fn hold_json(hold: &HoldView) -> Value {
    json!({
        "id": hold.id.as_str(),
        "kind": hold.kind.as_str(),
        "user": hold.user.0,
        "amount": hold.amount.map(|a| a.minor()),
        "currency": hold.amount.map(|a| a.currency().code()),
        "amount_text": hold.amount.map(|a| a.to_string()),
        "reason": hold.reason,
        "opened_at_ms": hold.opened_at_ms,
        "due_at_ms": hold.due_at_ms,
    })
}

/// A user's report as the API shows it.
pub fn report_json(report: &UserReport) -> Value {
    json!({
        "user": report.user.0,
        "identities": report.identities.iter().map(|i| json!({
            "platform": i.platform.as_str(),
            "id": i.id.as_str(),
            "handle": i.handle.as_ref().map(|h| h.as_str()),
            "display_name": i.display_name,
            "last_seen_ms": i.last_seen_ms,
        })).collect::<Vec<_>>(),
        "tier": report.tier.get(),
        "tier_name": report.tier_name,
        "tier_set": report.tier_set.as_ref().map(|t| json!({
            "tier": t.tier.get(),
            "reason": t.reason,
            "actor": t.actor.to_text(),
            "at_ms": t.set_at_ms,
        })),
        "legal_name": report.legal_name,
        "recent_audit": report.recent_audit.iter().map(bot::trust::AuditRecord::to_json).collect::<Vec<_>>(),
        "holds": report.holds.iter().map(hold_json).collect::<Vec<_>>(),
        "limits": report.limits.iter().map(|l| json!({
            "limit": l.kind.name(),
            "currency": l.currency.code(),
            "limit_minor": l.limit,
            "used_minor": l.used,
            "left_minor": l.left,
            "frees_at_ms": l.frees_at_ms,
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW_MS: i64 = 1_796_320_800_000; // 2026-12-03T18:00:00Z

    #[test]
    fn durations_count_back_from_now() {
        assert_eq!(parse_since("24h", NOW_MS), Ok(NOW_MS - 86_400_000));
        assert_eq!(parse_since("30m", NOW_MS), Ok(NOW_MS - 1_800_000));
        assert_eq!(parse_since("2w", NOW_MS), Ok(NOW_MS - 14 * 86_400_000));
        assert_eq!(parse_since("90s", NOW_MS), Ok(NOW_MS - 90_000));
        assert!(parse_since("99999999999d", NOW_MS).is_err());
        assert!(parse_since("h", NOW_MS).is_err());
        assert!(parse_since("5y", NOW_MS).is_err());
    }

    #[test]
    fn dates_and_times_are_utc() {
        assert_eq!(moment(NOW_MS), "2026-12-03T18:00:00Z");
        assert_eq!(
            parse_since("2026-12-03", NOW_MS),
            Ok(NOW_MS - 18 * 3_600_000)
        );
        assert_eq!(parse_since("2026-12-03T18:00", NOW_MS), Ok(NOW_MS));
        assert_eq!(
            parse_since("2026-12-03 18:00:05Z", NOW_MS),
            Ok(NOW_MS + 5_000)
        );
        assert_eq!(parse_since("1970-01-01", NOW_MS), Ok(0));
        assert_eq!(
            parse_since("2024-02-29", NOW_MS).map(moment),
            Ok("2024-02-29T00:00:00Z".to_owned())
        );
        for bad in [
            "2025-02-29",
            "2026-13-01",
            "2026-12-03T24:00",
            "26-12-03",
            "yesterday",
        ] {
            assert!(parse_since(bad, NOW_MS).is_err(), "{bad}");
        }
    }
}
