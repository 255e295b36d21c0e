use jiff::civil::{Date, Time, Weekday, date, time};
use proptest::prelude::*;

use super::*;

fn paris() -> UserTimeZone {
    UserTimeZone::parse("Europe/Paris").unwrap()
}

/// Unix ms of a local wall-clock time in `zone`.
fn local_ms(zone: &str, d: Date, t: Time) -> i64 {
    TimeZone::get(zone)
        .unwrap()
        .to_timestamp(d.to_datetime(t))
        .unwrap()
        .as_millisecond()
}

fn utc_ms(d: Date, t: Time) -> i64 {
    local_ms("UTC", d, t)
}

fn schedule(text: &str, zone: UserTimeZone, at: Time, now_ms: i64) -> Schedule {
    Schedule::starting(Recurrence::parse(text).unwrap(), zone, at, now_ms).unwrap()
}

fn dates(s: &Schedule, n: u32) -> Vec<Date> {
    (0..n).map_while(|k| s.run_date(k)).collect()
}

#[test]
fn every_form_of_the_phrase_parses_to_its_rule() {
    let monthly = |every, day| Frequency::Monthly { every, day };
    let weekly = |every, weekday| Frequency::Weekly { every, weekday };
    let cases: &[(&str, Frequency)] = &[
        ("every day", Frequency::Daily { every: 1 }),
        ("daily", Frequency::Daily { every: 1 }),
        ("every 3 days", Frequency::Daily { every: 3 }),
        ("every week", weekly(1, None)),
        ("weekly on fri", weekly(1, Some(Weekday::Friday))),
        ("every week on friday", weekly(1, Some(Weekday::Friday))),
        ("Every  FRIDAY", weekly(1, Some(Weekday::Friday))),
        (
            "every other week on mondays",
            weekly(2, Some(Weekday::Monday)),
        ),
        ("every 2 weeks", weekly(2, None)),
        ("every month", monthly(1, None)),
        ("monthly on the 15th", monthly(1, Some(15))),
        ("every month on the 1st", monthly(1, Some(1))),
        ("every month on the 31st", monthly(1, Some(31))),
        ("every month on the last day", monthly(1, Some(31))),
        ("every 3 months on 2", monthly(3, Some(2))),
    ];
    for (text, frequency) in cases {
        let parsed = Recurrence::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(parsed.frequency(), *frequency, "{text}");
        assert_eq!(parsed.ends(), Ends::Never, "{text}");
    }
    assert_eq!(
        Recurrence::parse("every month on the 1st until 2027-06-30")
            .unwrap()
            .ends(),
        Ends::Until(date(2027, 6, 30))
    );
    assert_eq!(
        Recurrence::parse("every day times 10").unwrap().ends(),
        Ends::Times(10)
    );
    assert_eq!(
        Recurrence::parse("weekly 4 times").unwrap().ends(),
        Ends::Times(4)
    );
}

#[test]
fn a_phrase_that_is_not_a_schedule_is_refused_with_what_was_wrong() {
    let refused = |text: &str| Recurrence::parse(text).unwrap_err();
    assert_eq!(refused("sometimes"), RecurrenceError::Unrecognised);
    assert_eq!(
        refused("every fortnight"),
        RecurrenceError::UnexpectedWord("fortnight".into())
    );
    assert_eq!(
        refused("every 0 days"),
        RecurrenceError::Interval("0 days".into(), EVERY_DAYS_MAX)
    );
    assert_eq!(
        refused("every 13 months"),
        RecurrenceError::Interval("13 months".into(), 12)
    );
    assert_eq!(
        refused("every month on the 32nd"),
        RecurrenceError::DayOfMonth("32nd".into())
    );
    assert_eq!(
        refused("every month on the 2st"),
        RecurrenceError::DayOfMonth("2st".into())
    );
    assert_eq!(
        refused("every week on funday"),
        RecurrenceError::Weekday("funday".into())
    );
    assert_eq!(
        refused("every day until 30/06/2027"),
        RecurrenceError::Date("30/06/2027".into())
    );
    assert_eq!(
        refused("every day until 2027-02-30"),
        RecurrenceError::Date("2027-02-30".into())
    );
    assert_eq!(refused("every day times 0"), RecurrenceError::Times);
    assert_eq!(refused("every day times 1001"), RecurrenceError::Times);
    assert_eq!(
        refused("every day times 2 until 2027-01-01"),
        RecurrenceError::TwoEnds
    );
    assert_eq!(
        refused("every day for rent"),
        RecurrenceError::UnexpectedWord("for".into())
    );
    assert_eq!(refused(&"every day ".repeat(20)), RecurrenceError::TooLong);
    // Every refusal has a line for the user.
    assert!(refused("every 13 months").to_string().contains("1 to 12"));
}

#[test]
fn the_31st_runs_on_the_last_day_of_shorter_months_and_comes_back() {
    let now = utc_ms(date(2027, 1, 5), time(12, 0, 0, 0));
    let s = schedule(
        "every month on the 31st",
        UserTimeZone::utc(),
        time(9, 0, 0, 0),
        now,
    );
    assert_eq!(
        dates(&s, 6),
        [
            date(2027, 1, 31),
            date(2027, 2, 28),
            date(2027, 3, 31),
            date(2027, 4, 30),
            date(2027, 5, 31),
            date(2027, 6, 30)
        ]
    );
    // A leap year's February has its 29th.
    let now = utc_ms(date(2028, 1, 31), time(10, 0, 0, 0));
    let s = schedule(
        "monthly on the 30th",
        UserTimeZone::utc(),
        time(9, 0, 0, 0),
        now,
    );
    assert_eq!(
        dates(&s, 3),
        [date(2028, 2, 29), date(2028, 3, 30), date(2028, 4, 30)]
    );
}

#[test]
fn an_order_made_on_february_29th_keeps_its_day_in_later_months() {
    let now = utc_ms(date(2028, 2, 29), time(8, 0, 0, 0));
    let s = schedule("every month", UserTimeZone::utc(), time(9, 0, 0, 0), now);
    assert_eq!(
        dates(&s, 3),
        [date(2028, 2, 29), date(2028, 3, 29), date(2028, 4, 29)]
    );
    // Every 12 months: 2029 has no 29 February, so the 28th.
    let s = schedule(
        "every 12 months",
        UserTimeZone::utc(),
        time(9, 0, 0, 0),
        now,
    );
    assert_eq!(
        dates(&s, 3),
        [date(2028, 2, 29), date(2029, 2, 28), date(2030, 2, 28)]
    );
}

#[test]
fn a_weekly_order_keeps_its_local_time_across_a_daylight_saving_change() {
    // Europe/Paris moves to summer time on Sunday 28 March 2027.
    let now = local_ms("Europe/Paris", date(2027, 3, 20), time(12, 0, 0, 0));
    let s = schedule("every week on friday", paris(), time(9, 0, 0, 0), now);
    let first = s.run_at_ms(0).unwrap();
    let second = s.run_at_ms(1).unwrap();
    assert_eq!(
        first,
        utc_ms(date(2027, 3, 26), time(8, 0, 0, 0)),
        "09:00 CET"
    );
    assert_eq!(
        second,
        utc_ms(date(2027, 4, 2), time(7, 0, 0, 0)),
        "09:00 CEST"
    );
    assert_eq!(second - first, 167 * 3_600_000, "a week one hour short");
}

#[test]
fn a_local_time_skipped_or_repeated_by_daylight_saving_is_run_once() {
    // 02:30 does not exist in Paris on 28 March 2027: it runs at 03:30 CEST.
    let now = local_ms("Europe/Paris", date(2027, 3, 27), time(12, 0, 0, 0));
    let s = schedule("every day", paris(), time(2, 30, 0, 0), now);
    assert_eq!(s.run_date(0), Some(date(2027, 3, 28)));
    assert_eq!(
        s.run_at_ms(0),
        Some(utc_ms(date(2027, 3, 28), time(1, 30, 0, 0)))
    );
    // 02:30 happens twice on 31 October 2027: the first one (CEST) only.
    let now = local_ms("Europe/Paris", date(2027, 10, 30), time(12, 0, 0, 0));
    let s = schedule("every day", paris(), time(2, 30, 0, 0), now);
    assert_eq!(
        s.run_at_ms(0),
        Some(utc_ms(date(2027, 10, 31), time(0, 30, 0, 0)))
    );
    assert_eq!(
        s.run_at_ms(1),
        Some(utc_ms(date(2027, 11, 1), time(1, 30, 0, 0)))
    );
}

#[test]
fn the_first_run_is_the_next_date_the_rule_names() {
    let zone = UserTimeZone::utc;
    let nine = time(9, 0, 0, 0);
    // Made on Friday 4 December 2026 at 10:00, after today's 09:00.
    let now = utc_ms(date(2026, 12, 4), time(10, 0, 0, 0));
    assert_eq!(
        schedule("every day", zone(), nine, now).run_date(0),
        Some(date(2026, 12, 5))
    );
    assert_eq!(
        schedule("every friday", zone(), nine, now).run_date(0),
        Some(date(2026, 12, 11))
    );
    assert_eq!(
        schedule("every week", zone(), nine, now).run_date(0),
        Some(date(2026, 12, 11))
    );
    assert_eq!(
        schedule("every month", zone(), nine, now).run_date(0),
        Some(date(2027, 1, 4))
    );
    assert_eq!(
        schedule("every 3 months on the 1st", zone(), nine, now).run_date(0),
        Some(date(2027, 1, 1))
    );
    // Before today's time: today.
    let early = utc_ms(date(2026, 12, 4), time(8, 0, 0, 0));
    assert_eq!(
        schedule("every friday", zone(), nine, early).run_date(0),
        Some(date(2026, 12, 4))
    );
    let s = schedule("every other week", zone(), nine, early);
    assert_eq!(
        dates(&s, 3),
        [date(2026, 12, 4), date(2026, 12, 18), date(2027, 1, 1)]
    );
}

#[test]
fn an_order_ends_at_its_last_run() {
    let now = utc_ms(date(2027, 1, 1), time(0, 0, 0, 0));
    let nine = time(9, 0, 0, 0);
    let s = schedule(
        "every month on the 1st times 3",
        UserTimeZone::utc(),
        nine,
        now,
    );
    assert_eq!(
        dates(&s, 10),
        [date(2027, 1, 1), date(2027, 2, 1), date(2027, 3, 1)]
    );
    let s = schedule(
        "every week on friday until 2027-01-15",
        UserTimeZone::utc(),
        nine,
        now,
    );
    assert_eq!(
        dates(&s, 10),
        [date(2027, 1, 1), date(2027, 1, 8), date(2027, 1, 15)]
    );
    assert_eq!(
        s.period_at_or_after(utc_ms(date(2027, 1, 15), time(9, 0, 1, 0))),
        None
    );
    let open = schedule("every day", UserTimeZone::utc(), nine, now);
    // Open-ended: ten years on, then no more runs.
    assert_eq!(open.period_at_or_after(i64::MAX), None);
    let last = open.period_at_or_after(utc_ms(date(2037, 1, 1), nine));
    assert_eq!(last.and_then(|k| open.run_date(k)), Some(date(2037, 1, 1)));
    assert_eq!(last.and_then(|k| open.run_date(k + 1)), None);

    let refused = |text: &str| {
        Schedule::starting(
            Recurrence::parse(text).unwrap(),
            UserTimeZone::utc(),
            nine,
            now,
        )
    };
    assert_eq!(
        refused("every day until 2026-12-31"),
        Err(RecurrenceError::EndsBeforeStart("2027-01-01".into()))
    );
    assert_eq!(
        refused("every day until 2040-01-01"),
        Err(RecurrenceError::TooFar)
    );
    // `times N` cannot reach past the horizon either (first run 2027-01-01,
    // the eleventh on 2037-01-01 is the last the horizon holds).
    assert_eq!(
        refused("every 12 months on the 1st times 12"),
        Err(RecurrenceError::TooFar)
    );
    assert!(refused("every 12 months on the 1st times 11").is_ok());
}

#[test]
fn time_zones_are_iana_names_only() {
    assert_eq!(
        UserTimeZone::parse(" Europe/Paris ").unwrap().name(),
        "Europe/Paris"
    );
    assert_eq!(UserTimeZone::parse("UTC").unwrap().name(), "UTC");
    for bad in [
        "",
        "Mars/Olympus",
        "+02:00",
        "EST5EDT,M3.2.0,M11.1.0",
        "Europe/Pärîs",
    ] {
        assert!(
            matches!(UserTimeZone::parse(bad), Err(RecurrenceError::TimeZone(_))),
            "{bad:?} accepted"
        );
    }
    assert!(UserTimeZone::parse(&"a".repeat(300)).is_err());
}

#[test]
fn the_rule_reads_back_as_the_user_wrote_it() {
    let shown = |text: &str| Recurrence::parse(text).unwrap().to_string();
    assert_eq!(shown("every month on the 1st"), "every month on the 1st");
    assert_eq!(
        shown("monthly on 30"),
        "every month on the 30th (the last day in shorter months)"
    );
    assert_eq!(
        shown("every month on the 31st"),
        "every month on the last day"
    );
    assert_eq!(
        shown("every 2 weeks on fri until 2027-06-30"),
        "every other week on Friday until 2027-06-30"
    );
    assert_eq!(shown("every 3 days times 4"), "every 3 days, 4 times");
    assert_eq!(shown("every 22 days"), "every 22 days");
}

fn zones() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "UTC",
        "Europe/Paris",
        "America/New_York",
        "Australia/Lord_Howe",
        "Asia/Kolkata",
    ])
}

fn phrases() -> impl Strategy<Value = String> {
    prop_oneof![
        (1u16..=30).prop_map(|n| format!("every {n} days")),
        (1u16..=8, 0usize..7).prop_map(|(n, d)| {
            let day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][d];
            format!("every {n} weeks on {day}")
        }),
        (1u16..=12, 1u8..=31).prop_map(|(n, d)| format!("every {n} months on {d}")),
    ]
}

proptest! {
    #[test]
    fn runs_strictly_increase_and_the_search_finds_each(
        phrase in phrases(),
        zone in zones(),
        // 2026..2030, any second.
        now_s in 1_767_225_600i64..1_893_456_000,
        hour in 0i8..24,
        minute in 0i8..60,
        k in 0u32..200,
    ) {
        let zone = UserTimeZone::parse(zone).unwrap();
        let s = schedule(&phrase, zone, time(hour, minute, 0, 0), now_s * 1000);
        let first = s.run_at_ms(0).unwrap();
        prop_assert!(first > now_s * 1000, "the first run is after the order was made");
        if let (Some(a), Some(b)) = (s.run_at_ms(k), s.run_at_ms(k + 1)) {
            prop_assert!(a < b);
            prop_assert_eq!(s.period_at_or_after(a), Some(k));
            prop_assert_eq!(s.period_at_or_after(a + 1), Some(k + 1));
        }
    }
}
