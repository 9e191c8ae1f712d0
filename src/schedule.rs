//! Cron schedules in IANA time zones, for `triggers.schedule`.
//!
//! Expressions have five fields (`minute hour day-of-month month
//! day-of-week`), or six with seconds first (handy in tests), or are one of
//! the `@hourly`/`@daily`/`@weekly`/`@monthly`/`@yearly` nicknames. Day of
//! month and day of week combine as in Vixie cron: when both are restricted,
//! either matching is enough. Parsing and evaluation are [`croner`]'s, time
//! zones [`chrono_tz`]'s.
//!
//! Ticks are matched in local wall-clock time of the schedule's zone and
//! returned in UTC. Across daylight saving changes (croner's behaviour, pinned
//! by the tests below):
//! - **spring forward**: a fixed time inside the skipped hour (e.g. `30 2 * * *`
//!   in Europe/Berlin on the last Sunday of March, when 02:00 jumps to 03:00)
//!   fires once, at the first valid minute after the gap (03:00 local); ticks
//!   of wildcard or stepped hours that fall in the gap are skipped;
//! - **fall back**: a fixed time in the repeated hour fires once, at its first
//!   occurrence; wildcard or stepped hours fire in both passes.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use thiserror::Error;

/// A parsed cron expression in a time zone.
#[derive(Debug, Clone)]
pub struct Schedule {
    cron: Cron,
    tz: Tz,
}

/// Why a schedule didn't parse.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ScheduleError {
    /// The expression is empty.
    #[error("empty cron expression")]
    Empty,
    /// Not five or six fields.
    #[error("cron expression `{expr}` has {found} fields, expected 5 or 6")]
    FieldCount { expr: String, found: usize },
    /// One field is wrong.
    #[error("cron expression `{expr}`: invalid {field} field `{value}`")]
    Field {
        expr: String,
        field: &'static str,
        value: String,
        /// The values the field allows.
        allowed: &'static str,
    },
    /// Wrong in a way no single field explains.
    #[error("invalid cron expression `{expr}`: {reason}")]
    Invalid { expr: String, reason: String },
    /// Valid fields that no date satisfies, e.g. `0 0 31 2 *`.
    #[error("cron expression `{expr}` never fires")]
    NeverFires { expr: String },
    /// Not an IANA time zone name.
    #[error("unknown time zone `{name}`")]
    UnknownTimeZone {
        name: String,
        /// The closest known name, if one is close.
        suggestion: Option<&'static str>,
    },
}

impl ScheduleError {
    /// A line telling how to fix it.
    pub fn hint(&self) -> Option<String> {
        match self {
            ScheduleError::Empty | ScheduleError::FieldCount { .. } => Some(
                "write five fields: `minute hour day-of-month month day-of-week`, \
                 e.g. `0 3 * * *` for 03:00 every day (six with seconds first)"
                    .to_owned(),
            ),
            ScheduleError::Field { field, allowed, .. } => Some(format!(
                "the {field} field takes {allowed}, `*`, lists `a,b`, ranges `a-b` and steps `*/n`"
            )),
            ScheduleError::Invalid { .. } => None,
            ScheduleError::NeverFires { .. } => {
                Some("no date has these day, month and weekday together".to_owned())
            }
            ScheduleError::UnknownTimeZone { suggestion, .. } => Some(match suggestion {
                Some(s) => format!(
                    "did you mean `{s}`? Time zones are IANA names like `Europe/Berlin` or `UTC`"
                ),
                None => "time zones are IANA names like `Europe/Berlin`, \
                         `America/New_York` or `UTC`"
                    .to_owned(),
            }),
        }
    }
}

const FIVE: [(&str, &str); 5] = [
    ("minute", "0-59"),
    ("hour", "0-23"),
    ("day-of-month", "1-31 (and `L`, `W`)"),
    ("month", "1-12 or JAN-DEC"),
    (
        "day-of-week",
        "0-7 or SUN-SAT (0 and 7 are Sunday; and `L`, `#`)",
    ),
];
const SECOND: (&str, &str) = ("second", "0-59");

fn parser() -> CronParser {
    CronParser::builder()
        .seconds(Seconds::Optional)
        .year(Year::Disallowed)
        .build()
}

/// Parses an IANA time zone name; `None` is UTC.
pub fn parse_timezone(name: Option<&str>) -> Result<Tz, ScheduleError> {
    let Some(name) = name else {
        return Ok(Tz::UTC);
    };
    Tz::from_str(name.trim()).map_err(|_| {
        let lower = name.trim().to_ascii_lowercase();
        let suggestion = chrono_tz::TZ_VARIANTS
            .iter()
            .map(|tz| tz.name())
            .map(|n| (strsim::jaro_winkler(&n.to_ascii_lowercase(), &lower), n))
            .filter(|(score, _)| *score > 0.85)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, n)| n);
        ScheduleError::UnknownTimeZone {
            name: name.to_owned(),
            suggestion,
        }
    })
}

impl Schedule {
    /// Parses `cron` in `timezone` (an IANA name; `None` is UTC).
    pub fn parse(cron: &str, timezone: Option<&str>) -> Result<Schedule, ScheduleError> {
        let expr = cron.trim();
        if expr.is_empty() {
            return Err(ScheduleError::Empty);
        }
        let fields: Vec<&str> = expr.split_whitespace().collect();
        let named: Vec<(&str, &str)> = match fields.len() {
            _ if expr.starts_with('@') => Vec::new(),
            5 => FIVE.to_vec(),
            6 => std::iter::once(SECOND).chain(FIVE).collect(),
            found => {
                return Err(ScheduleError::FieldCount {
                    expr: expr.to_owned(),
                    found,
                });
            }
        };
        let cron = parser().parse(expr).map_err(|e| {
            // Find the field at fault: each one alone, the others `*`.
            for (i, (field, allowed)) in named.iter().enumerate() {
                let alone: Vec<&str> = (0..named.len())
                    .map(|j| if i == j { fields[j] } else { "*" })
                    .collect();
                if parser().parse(&alone.join(" ")).is_err() {
                    return ScheduleError::Field {
                        expr: expr.to_owned(),
                        field,
                        value: fields[i].to_owned(),
                        allowed,
                    };
                }
            }
            ScheduleError::Invalid {
                expr: expr.to_owned(),
                reason: e.to_string(),
            }
        })?;
        let tz = parse_timezone(timezone)?;
        let schedule = Schedule { cron, tz };
        // Over 2000–2027 every valid day/month/weekday combination comes up
        // (Feb 29 included).
        // 2000-01-01T00:00:00Z (the fallback, 1970, would do as well).
        let start = DateTime::<Utc>::from_timestamp(946_684_800, 0).unwrap_or_default();
        if schedule.next_after(start).is_none() {
            return Err(ScheduleError::NeverFires {
                expr: expr.to_owned(),
            });
        }
        Ok(schedule)
    }

    /// The time zone ticks are matched in.
    pub fn timezone(&self) -> Tz {
        self.tz
    }

    /// The first tick strictly after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron
            .find_next_occurrence(&t.with_timezone(&self.tz), false)
            .ok()
            .map(|d| d.with_timezone(&Utc))
    }

    /// The last tick in `(last_run, now]`, if any: the one tick `catch_up`
    /// runs for a server that was down.
    pub fn missed(&self, last_run: DateTime<Utc>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if now <= last_run {
            return None;
        }
        self.cron
            .find_previous_occurrence(&now.with_timezone(&self.tz), true)
            .ok()
            .map(|d| d.with_timezone(&Utc))
            .filter(|d| *d > last_run)
    }
}

#[cfg(test)]
mod tests;
