//! Fires the runbooks' `triggers.schedule` inside `steward serve`.
//!
//! At start the valid runbooks are compiled once (a changed schedule takes a
//! restart); each tick then starts a run the way `POST /api/v1/runs` does,
//! with the trigger `schedule`. The last handled tick of every schedule is
//! kept in the run store, so a tick is missed only while no server runs;
//! recording it is a compare-and-set, so of several servers sharing the
//! store only one fires each tick.

mod ticks;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use indexmap::IndexMap;

use crate::events::{Fanout, Trigger};
use crate::inputs::{RawInput, resolve_inputs};
use crate::schedule::Schedule;
use crate::server::log::log;
use crate::server::service::{Failure, Service, Start, StartError, blocking};

use ticks::{AtStart, MISSED_COUNTED, at_start, due};

/// The longest nap between two looks at the clock, so that a wall clock
/// set forward or back is noticed.
const MAX_NAP: Duration = Duration::from_secs(60);

/// One schedule of one runbook.
struct Entry {
    runbook: String,
    cron: String,
    schedule: Schedule,
    catch_up: bool,
    inputs: IndexMap<String, serde_json::Value>,
    /// Its name in the store: the expression, time zone and inputs.
    key: String,
    /// The next tick to fire.
    next: Option<DateTime<Utc>>,
}

/// A tick in UTC, as origins name it.
fn utc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl Entry {
    /// `RUNBOOK `CRON` (ZONE)`, how log lines name the schedule.
    fn describe(&self) -> String {
        format!(
            "{} `{}` ({})",
            self.runbook,
            self.cron,
            self.schedule.timezone()
        )
    }

    /// A tick in the schedule's time zone.
    fn local(&self, t: DateTime<Utc>) -> String {
        t.with_timezone(&self.schedule.timezone())
            .to_rfc3339_opts(SecondsFormat::Secs, true)
    }
}

/// The schedules of the project's valid runbooks.
fn entries(service: &Service, now: DateTime<Utc>) -> Result<Vec<Entry>, Failure> {
    let project = service.project();
    let (library, _) = project.library()?;
    let mut entries: Vec<Entry> = Vec::new();
    for path in project.runbook_files() {
        let plan = match project.compile_file(&path, &library) {
            Ok((_, Some(plan))) => plan,
            Ok((report, None)) => {
                log(&format!(
                    "schedule: {} is invalid, its schedules don't fire; `steward validate` shows why",
                    report.path
                ));
                continue;
            }
            Err(e) => {
                log(&format!("schedule: {e}"));
                continue;
            }
        };
        let Some(specs) = &plan.triggers.schedule else {
            continue;
        };
        for spec in &specs.0 {
            let spec = &spec.value.0;
            // Compiling checked the expression and zone.
            let Ok(schedule) = Schedule::parse(&spec.cron, spec.timezone.as_deref()) else {
                continue;
            };
            let cron = spec.cron.trim().to_owned();
            let mut key = format!("{cron} {}", schedule.timezone());
            if !spec.inputs.is_empty() {
                key.push(' ');
                key.push_str(&serde_json::to_string(&spec.inputs).unwrap_or_default());
            }
            let entry = Entry {
                runbook: plan.name.clone(),
                cron,
                next: schedule.next_after(now),
                schedule,
                catch_up: spec.catch_up,
                inputs: spec.inputs.clone(),
                key,
            };
            if entries
                .iter()
                .any(|e| e.runbook == entry.runbook && e.key == entry.key)
            {
                log(&format!(
                    "schedule: {} is listed twice with the same inputs; it fires once",
                    entry.describe()
                ));
                continue;
            }
            check_inputs(&plan, &entry);
            entries.push(entry);
        }
    }
    Ok(entries)
}

/// Says at start, not at the first tick, when a schedule's inputs are
/// refused; each tick checks them again (the runbook may change).
fn check_inputs(plan: &crate::plan::Plan, entry: &Entry) {
    let raw: IndexMap<String, RawInput> = entry
        .inputs
        .iter()
        .map(|(k, v)| (k.clone(), RawInput::Json(v.clone())))
        .collect();
    if let Err(problems) = resolve_inputs(&plan.inputs, &raw) {
        let problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
        log(&format!(
            "schedule: {}: its inputs are refused, its ticks won't run until they are fixed: {}",
            entry.describe(),
            problems.join("; ")
        ));
    }
}

/// Runs the scheduler until the server stops.
pub(crate) async fn run(service: Arc<Service>) {
    let now = Utc::now();
    let service2 = service.clone();
    let mut entries = match blocking(move || entries(&service2, now)).await {
        Ok(entries) => entries,
        Err(e) => return log(&format!("schedule: can't read the runbooks: {e}")),
    };
    for entry in &entries {
        let next = entry.next.map_or("never".to_owned(), |t| entry.local(t));
        log(&format!(
            "schedule: {}{}, next tick {next}",
            entry.describe(),
            if entry.catch_up { ", catch_up" } else { "" }
        ));
    }
    for entry in &entries {
        start(&service, entry, now).await;
    }
    loop {
        let Some(earliest) = entries.iter().filter_map(|e| e.next).min() else {
            return;
        };
        let nap = (earliest - Utc::now())
            .to_std()
            .unwrap_or(Duration::ZERO)
            .min(MAX_NAP);
        tokio::select! {
            _ = service.stopping().cancelled() => return,
            _ = tokio::time::sleep(nap) => {}
        }
        let now = Utc::now();
        for entry in &mut entries {
            let Some((tick, next)) = entry.next.and_then(|n| due(&entry.schedule, n, now)) else {
                continue;
            };
            entry.next = next;
            fire(&service, entry, tick, false).await;
        }
    }
}

/// What a schedule does at start: records its baseline, catches up or
/// says what was skipped.
async fn start(service: &Arc<Service>, entry: &Entry, now: DateTime<Utc>) {
    let store = service.store().clone();
    let (runbook, key) = (entry.runbook.clone(), entry.key.clone());
    let last = blocking(move || Ok::<_, Failure>(store.last_tick(&runbook, &key)?)).await;
    let last = match last {
        Ok(last) => last,
        Err(e) => {
            return log(&format!(
                "schedule: {}: can't read its last tick: {e}",
                entry.describe(),
            ));
        }
    };
    match at_start(&entry.schedule, last, now, entry.catch_up) {
        AtStart::Baseline => {
            // Another server starting too may have set it: either will do.
            if let Err(e) = advance(service, entry, now).await {
                log(&format!(
                    "schedule: {}: can't record its first start: {e}",
                    entry.describe()
                ));
            }
        }
        AtStart::UpToDate => {}
        AtStart::CatchUp(tick) => {
            log(&format!(
                "schedule: {}: catching up the tick of {} missed while no server ran",
                entry.describe(),
                entry.local(tick)
            ));
            fire(service, entry, tick, true).await;
        }
        AtStart::Skip { count, first, last } => {
            let count = if count >= MISSED_COUNTED {
                format!("{MISSED_COUNTED} or more ticks")
            } else {
                format!("{count} tick(s)")
            };
            log(&format!(
                "schedule: {}: skipped {count} missed while no server ran (from {} to {}); \
                 `catch_up: true` would run the last one at start",
                entry.describe(),
                entry.local(first),
                entry.local(last)
            ));
        }
    }
}

/// Records `tick` as the schedule's last handled one if the stored tick is
/// older: whether this server recorded it.
async fn advance(
    service: &Arc<Service>,
    entry: &Entry,
    tick: DateTime<Utc>,
) -> Result<bool, Failure> {
    let store = service.store().clone();
    let (runbook, key) = (entry.runbook.clone(), entry.key.clone());
    blocking(move || Ok(store.advance_tick(&runbook, &key, tick)?)).await
}

/// Starts the run of `tick` unless the server is stopping or another server
/// fired it.
async fn fire(service: &Arc<Service>, entry: &Entry, tick: DateTime<Utc>, catch_up: bool) {
    if service.is_stopping() {
        return;
    }
    match advance(service, entry, tick).await {
        Ok(true) => {}
        Ok(false) => {
            return log(&format!(
                "schedule: {}: tick {} already handled by another server; skipped",
                entry.describe(),
                entry.local(tick)
            ));
        }
        Err(e) => {
            return log(&format!(
                "schedule: {}: tick {} not fired, can't record it: {e}",
                entry.describe(),
                entry.local(tick)
            ));
        }
    }
    let origin = format!(
        "cron \"{}\" {}, {}{}",
        entry.cron,
        entry.schedule.timezone(),
        if catch_up {
            "catch-up of missed tick "
        } else {
            "tick "
        },
        utc(tick)
    );
    let trigger = Trigger {
        kind: "schedule".into(),
        actor: "schedule".into(),
        origin: Some(origin),
    };
    let start = Start {
        runbook: entry.runbook.clone(),
        inputs: entry.inputs.clone(),
        trigger,
    };
    let prepared = match service.prepare(start).await {
        Ok(prepared) => prepared,
        Err(e) => {
            return log(&format!(
                "schedule: {}: tick {} not run: {}",
                entry.describe(),
                entry.local(tick),
                message(&e)
            ));
        }
    };
    if let Err(e) = service.launch(prepared, Fanout::default()).await {
        log(&format!(
            "schedule: {}: tick {} did not start: {}",
            entry.describe(),
            entry.local(tick),
            message(&e)
        ));
    }
}

/// Why a tick's run did not start, as one line: the reason and each
/// problem.
fn message(e: &StartError) -> String {
    let mut line = e.headline();
    let details = e.details();
    if !details.is_empty() {
        line.push_str(": ");
        line.push_str(&details.join("; "));
    }
    line
}
