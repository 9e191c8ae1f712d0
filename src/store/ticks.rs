//! The last handled tick of each runbook schedule, for `steward serve`'s
//! scheduler: read at start (what was missed while no server ran) and
//! advanced with a compare-and-set before each tick fires.

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, OptionalExtension, params};

/// The stored last tick of `schedule` of `runbook`, if any.
pub(super) fn last(
    conn: &Connection,
    runbook: &str,
    schedule: &str,
) -> rusqlite::Result<Option<DateTime<Utc>>> {
    let ms: Option<i64> = conn
        .prepare_cached("SELECT tick_ms FROM schedule_ticks WHERE runbook = ?1 AND schedule = ?2")?
        .query_row(params![runbook, schedule], |r| r.get(0))
        .optional()?;
    Ok(ms.and_then(DateTime::<Utc>::from_timestamp_millis))
}

/// Stores `tick` if no tick is stored or the stored one is older, in one
/// statement (atomic across processes); whether it was stored.
pub(super) fn advance(
    conn: &Connection,
    runbook: &str,
    schedule: &str,
    tick: DateTime<Utc>,
) -> rusqlite::Result<bool> {
    let changed = conn
        .prepare_cached(
            "INSERT INTO schedule_ticks (runbook, schedule, tick_ms, tick_at, recorded_at) \
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (runbook, schedule) DO UPDATE SET \
             tick_ms = excluded.tick_ms, tick_at = excluded.tick_at, \
             recorded_at = excluded.recorded_at \
             WHERE schedule_ticks.tick_ms < excluded.tick_ms",
        )?
        .execute(params![
            runbook,
            schedule,
            tick.timestamp_millis(),
            tick.to_rfc3339_opts(SecondsFormat::Millis, true),
            Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
        ])?;
    Ok(changed == 1)
}
