//! Which tick a schedule fires: at start (a first start, a catch-up, missed
//! ticks skipped) and while the server runs. Pure: the clock is a parameter.

use chrono::{DateTime, Utc};

use crate::schedule::Schedule;

/// Missed ticks counted at most for the log line.
pub(crate) const MISSED_COUNTED: usize = 1000;

/// What a schedule does when the server starts, given its stored last tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AtStart {
    /// No tick was ever recorded: now is the baseline, nothing is caught up.
    Baseline,
    /// No tick was missed.
    UpToDate,
    /// `catch_up`: run this tick, the last one missed, once.
    CatchUp(DateTime<Utc>),
    /// Ticks were missed and are not run.
    Skip {
        /// How many, at most [`MISSED_COUNTED`].
        count: usize,
        /// The first missed.
        first: DateTime<Utc>,
        /// The last missed.
        last: DateTime<Utc>,
    },
}

/// Decides what a schedule whose last handled tick is `last` does at `now`.
pub(crate) fn at_start(
    schedule: &Schedule,
    last: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    catch_up: bool,
) -> AtStart {
    let Some(last) = last else {
        return AtStart::Baseline;
    };
    let Some(latest) = schedule.missed(last, now) else {
        return AtStart::UpToDate;
    };
    if catch_up {
        return AtStart::CatchUp(latest);
    }
    let ticks = std::iter::successors(schedule.next_after(last), |t| schedule.next_after(*t))
        .take_while(|t| *t <= now)
        .take(MISSED_COUNTED);
    let (count, first) = ticks.fold((0, latest), |(n, first), t| {
        (n + 1, if n == 0 { t } else { first })
    });
    AtStart::Skip {
        count,
        first,
        last: latest,
    }
}

/// The tick to fire at `now` for a schedule whose next tick was `next`:
/// `next` once it is due, and the tick after that one.
pub(crate) fn due(
    schedule: &Schedule,
    next: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<(DateTime<Utc>, Option<DateTime<Utc>>)> {
    // Ticks passed while the server lagged behind (a suspended machine)
    // are not fired in a burst: the following one is after `now`.
    (next <= now).then(|| (next, schedule.next_after(now.max(next))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    #[test]
    fn first_start_is_a_baseline_and_catches_nothing_up() {
        let s = Schedule::parse("0 3 * * *", None).unwrap();
        let now = utc(2026, 1, 10, 12, 0);
        assert_eq!(at_start(&s, None, now, true), AtStart::Baseline);
        assert_eq!(at_start(&s, None, now, false), AtStart::Baseline);
    }

    #[test]
    fn nothing_missed_since_the_last_tick() {
        let s = Schedule::parse("0 3 * * *", None).unwrap();
        let last = utc(2026, 1, 10, 3, 0);
        assert_eq!(
            at_start(&s, Some(last), utc(2026, 1, 11, 2, 59), true),
            AtStart::UpToDate
        );
        // A baseline between ticks, the clock set back: nothing either.
        assert_eq!(
            at_start(&s, Some(last), utc(2026, 1, 9, 0, 0), true),
            AtStart::UpToDate
        );
    }

    #[test]
    fn catch_up_runs_only_the_last_missed_tick() {
        let s = Schedule::parse("0 3 * * *", Some("Europe/Berlin")).unwrap();
        // Down from Jan 10 to Jan 13 noon: three ticks missed, 03:00 CET.
        let last = utc(2026, 1, 10, 2, 0);
        let now = utc(2026, 1, 13, 12, 0);
        assert_eq!(
            at_start(&s, Some(last), now, true),
            AtStart::CatchUp(utc(2026, 1, 13, 2, 0))
        );
        assert_eq!(
            at_start(&s, Some(last), now, false),
            AtStart::Skip {
                count: 3,
                first: utc(2026, 1, 11, 2, 0),
                last: utc(2026, 1, 13, 2, 0),
            }
        );
    }

    #[test]
    fn skipped_ticks_are_counted_up_to_a_bound() {
        let s = Schedule::parse("* * * * * *", None).unwrap();
        let last = utc(2026, 1, 1, 0, 0);
        let AtStart::Skip { count, first, .. } =
            at_start(&s, Some(last), utc(2026, 1, 2, 0, 0), false)
        else {
            panic!("nothing skipped");
        };
        assert_eq!(count, MISSED_COUNTED);
        assert_eq!(first, last + chrono::Duration::seconds(1));
    }

    #[test]
    fn a_tick_is_due_once_its_time_came() {
        let s = Schedule::parse("0 */6 * * *", None).unwrap();
        let next = utc(2026, 1, 1, 6, 0);
        assert_eq!(due(&s, next, utc(2026, 1, 1, 5, 59)), None);
        assert_eq!(
            due(&s, next, next),
            Some((next, Some(utc(2026, 1, 1, 12, 0))))
        );
        // Woken late past further ticks: one fires, the next is ahead.
        assert_eq!(
            due(&s, next, utc(2026, 1, 2, 1, 0)),
            Some((next, Some(utc(2026, 1, 2, 6, 0))))
        );
    }
}
