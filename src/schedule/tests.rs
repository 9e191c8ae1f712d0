use super::*;
use chrono::TimeZone;

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
}

#[test]
fn daily_at_three_in_berlin_stays_at_three_local_across_dst() {
    let s = Schedule::parse("0 3 * * *", Some("Europe/Berlin")).unwrap();
    // 2025-03-30: CET (+1) → CEST (+2) at 02:00 local.
    assert_eq!(
        s.next_after(utc(2025, 3, 29, 12, 0, 0)),
        Some(utc(2025, 3, 30, 1, 0, 0))
    );
    assert_eq!(
        s.next_after(utc(2025, 3, 28, 12, 0, 0)),
        Some(utc(2025, 3, 29, 2, 0, 0))
    );
    assert_eq!(
        s.next_after(utc(2025, 3, 30, 1, 0, 0)),
        Some(utc(2025, 3, 31, 1, 0, 0))
    );
    // 2025-10-26: CEST → CET at 03:00 local; 03:00 CET is 02:00 UTC.
    assert_eq!(
        s.next_after(utc(2025, 10, 25, 12, 0, 0)),
        Some(utc(2025, 10, 26, 2, 0, 0))
    );
    assert_eq!(
        s.next_after(utc(2025, 10, 24, 12, 0, 0)),
        Some(utc(2025, 10, 25, 1, 0, 0))
    );
}

#[test]
fn a_time_in_the_spring_forward_gap_fires_right_after_it() {
    // 02:30 doesn't exist in Berlin on 2025-03-30: it fires at 03:00 CEST
    // (01:00 UTC), once, and at 02:30 CEST (00:30 UTC) the next day.
    let s = Schedule::parse("30 2 * * *", Some("Europe/Berlin")).unwrap();
    assert_eq!(
        s.next_after(utc(2025, 3, 29, 12, 0, 0)),
        Some(utc(2025, 3, 30, 1, 0, 0))
    );
    assert_eq!(
        s.next_after(utc(2025, 3, 30, 1, 0, 0)),
        Some(utc(2025, 3, 31, 0, 30, 0))
    );
}

#[test]
fn a_time_in_the_fall_back_overlap_fires_once() {
    // 02:30 happens twice in Berlin on 2025-10-26 (00:30 and 01:30 UTC).
    let s = Schedule::parse("30 2 * * *", Some("Europe/Berlin")).unwrap();
    assert_eq!(
        s.next_after(utc(2025, 10, 25, 12, 0, 0)),
        Some(utc(2025, 10, 26, 0, 30, 0))
    );
    assert_eq!(
        s.next_after(utc(2025, 10, 26, 0, 30, 0)),
        Some(utc(2025, 10, 27, 1, 30, 0))
    );
}

#[test]
fn every_six_hours() {
    let s = Schedule::parse("0 */6 * * *", None).unwrap();
    let mut t = utc(2025, 1, 1, 1, 0, 0);
    let mut ticks = Vec::new();
    for _ in 0..5 {
        t = s.next_after(t).unwrap();
        ticks.push(t);
    }
    assert_eq!(
        ticks,
        [
            utc(2025, 1, 1, 6, 0, 0),
            utc(2025, 1, 1, 12, 0, 0),
            utc(2025, 1, 1, 18, 0, 0),
            utc(2025, 1, 2, 0, 0, 0),
            utc(2025, 1, 2, 6, 0, 0),
        ]
    );
    // Strictly after: a tick at `t` itself isn't returned.
    assert_eq!(
        s.next_after(utc(2025, 1, 1, 6, 0, 0)),
        Some(utc(2025, 1, 1, 12, 0, 0))
    );
}

#[test]
fn per_second_cron_for_tests() {
    let s = Schedule::parse("*/2 * * * * *", None).unwrap();
    assert_eq!(
        s.next_after(utc(2025, 1, 1, 0, 0, 0)),
        Some(utc(2025, 1, 1, 0, 0, 2))
    );
    assert_eq!(
        s.next_after(utc(2025, 1, 1, 0, 0, 3)),
        Some(utc(2025, 1, 1, 0, 0, 4))
    );
}

#[test]
fn missed_is_the_last_tick_in_the_half_open_window() {
    let s = Schedule::parse("0 3 * * *", Some("Europe/Berlin")).unwrap();
    let last = utc(2025, 1, 1, 2, 0, 0); // 03:00 CET, a tick itself.
    // Three days down: only the latest tick.
    assert_eq!(
        s.missed(last, utc(2025, 1, 4, 12, 0, 0)),
        Some(utc(2025, 1, 4, 2, 0, 0))
    );
    // `now` on a tick counts; `last_run` on one doesn't.
    assert_eq!(
        s.missed(last, utc(2025, 1, 2, 2, 0, 0)),
        Some(utc(2025, 1, 2, 2, 0, 0))
    );
    assert_eq!(s.missed(last, utc(2025, 1, 2, 1, 59, 59)), None);
    assert_eq!(s.missed(last, last), None);
    assert_eq!(s.missed(last, utc(2024, 12, 1, 0, 0, 0)), None);
}

#[test]
fn nicknames_and_names() {
    let s = Schedule::parse("@daily", Some("UTC")).unwrap();
    assert_eq!(
        s.next_after(utc(2025, 1, 1, 5, 0, 0)),
        Some(utc(2025, 1, 2, 0, 0, 0))
    );
    let s = Schedule::parse("0 9 * JAN MON-FRI", None).unwrap();
    // 2025-01-04 is a Saturday.
    assert_eq!(
        s.next_after(utc(2025, 1, 4, 0, 0, 0)),
        Some(utc(2025, 1, 6, 9, 0, 0))
    );
    assert_eq!(s.timezone(), Tz::UTC);
    // Feb 29 is a valid, rare date.
    assert!(Schedule::parse("0 0 29 2 *", None).is_ok());
}

#[test]
fn invalid_expressions_name_the_field() {
    let field = |cron: &str| match Schedule::parse(cron, None).unwrap_err() {
        ScheduleError::Field { field, value, .. } => (field, value),
        e => panic!("{cron}: {e:?}"),
    };
    assert_eq!(field("60 * * * *"), ("minute", "60".to_owned()));
    assert_eq!(field("0 24 * * *"), ("hour", "24".to_owned()));
    assert_eq!(field("0 0 32 * *"), ("day-of-month", "32".to_owned()));
    assert_eq!(field("0 0 * 13 *"), ("month", "13".to_owned()));
    assert_eq!(field("0 0 * * MOX"), ("day-of-week", "MOX".to_owned()));
    assert_eq!(field("61 0 0 * * *"), ("second", "61".to_owned()));
    assert_eq!(field("x 3 * * *"), ("minute", "x".to_owned()));

    let e = Schedule::parse("0 25 * * *", None).unwrap_err();
    assert_eq!(
        e.to_string(),
        "cron expression `0 25 * * *`: invalid hour field `25`"
    );
    assert!(e.hint().unwrap().contains("0-23"));

    assert_eq!(
        Schedule::parse("  ", None).unwrap_err(),
        ScheduleError::Empty
    );
    assert_eq!(
        Schedule::parse("0 3 * *", None).unwrap_err(),
        ScheduleError::FieldCount {
            expr: "0 3 * *".to_owned(),
            found: 4
        }
    );
    assert!(matches!(
        Schedule::parse("0 0 0 1 1 * 2030", None).unwrap_err(),
        ScheduleError::FieldCount { found: 7, .. }
    ));
    assert!(matches!(
        Schedule::parse("0 0 31 2 *", None).unwrap_err(),
        ScheduleError::NeverFires { .. }
    ));
    assert!(Schedule::parse("@sometimes", None).is_err());
}

#[test]
fn invalid_time_zones_suggest_a_name() {
    let e = Schedule::parse("0 3 * * *", Some("Europe/Berln")).unwrap_err();
    assert_eq!(
        e,
        ScheduleError::UnknownTimeZone {
            name: "Europe/Berln".to_owned(),
            suggestion: Some("Europe/Berlin")
        }
    );
    assert_eq!(e.to_string(), "unknown time zone `Europe/Berln`");
    assert!(
        e.hint()
            .unwrap()
            .starts_with("did you mean `Europe/Berlin`?")
    );
    let e = Schedule::parse("0 3 * * *", Some("CEST+2")).unwrap_err();
    assert!(matches!(e, ScheduleError::UnknownTimeZone { .. }));
    assert!(e.hint().unwrap().contains("IANA"));
    assert!(Schedule::parse("0 3 * * *", Some("America/New_York")).is_ok());
}
