//! Showing a run in the terminal: a live view of the steps on a TTY, plain
//! timestamped lines otherwise (CI logs). Both write to stderr, so stdout
//! stays for data (`--output json`, outputs). [`junit`] writes a finished
//! run as a JUnit XML file for CI systems.

pub mod junit;
mod live;

use std::io::Write;
use std::sync::Mutex;

use anstyle::{AnsiColor, Style};

use crate::events::{EventSink, OutputStream, RunEvent};
use crate::outcome::{RunStatus, StepStatus};

pub use live::Live;

/// Timestamped lines, one per event; step output prefixed by the step id.
pub struct Plain {
    out: Mutex<anstream::Stderr>,
    /// Annotate for GitHub Actions (`::group::`, `::error::`).
    github: bool,
    /// Steps whose `::group::` is open.
    groups: Mutex<std::collections::HashSet<String>>,
}

impl Plain {
    /// Lines on stderr; colours only where the terminal takes them.
    pub fn new(github: bool) -> Self {
        Plain {
            out: Mutex::new(anstream::stderr()),
            github,
            groups: Mutex::default(),
        }
    }
}

fn color(c: AnsiColor) -> Style {
    Style::new().fg_color(Some(c.into())).bold()
}

/// A step's colour and mark.
pub(crate) fn step_style(status: StepStatus) -> (Style, &'static str) {
    match status {
        StepStatus::Succeeded => (color(AnsiColor::Green), "✓"),
        StepStatus::Failed => (color(AnsiColor::Red), "✗"),
        StepStatus::Cancelled => (color(AnsiColor::Yellow), "⊘"),
        StepStatus::Skipped => (Style::new().dimmed(), "-"),
        StepStatus::Running | StepStatus::Waiting => (Style::new(), "…"),
    }
}

/// A run's colour (and mark, as a step's).
fn run_style(status: RunStatus) -> (Style, &'static str) {
    match status {
        RunStatus::Succeeded => (color(AnsiColor::Green), "✓"),
        RunStatus::Failed | RunStatus::TimedOut => (color(AnsiColor::Red), "✗"),
        RunStatus::Cancelled => (color(AnsiColor::Yellow), "⊘"),
        RunStatus::Interrupted => (color(AnsiColor::Yellow), "!"),
        RunStatus::Running | RunStatus::Waiting => (Style::new(), "…"),
    }
}

/// One line describing an event, or `None` for events not shown.
pub(crate) fn describe(event: &RunEvent) -> Option<String> {
    Some(match event {
        RunEvent::RunStarted {
            runbook,
            run_id,
            trigger,
            ..
        } => {
            format!(
                "run {run_id} of {runbook} started by {} ({})",
                trigger.actor, trigger.kind
            )
        }
        RunEvent::RunResumed { by, finished_steps } => format!(
            "run resumed by {} ({}); {finished_steps} finished {} kept",
            by.actor,
            by.kind,
            if *finished_steps == 1 {
                "step"
            } else {
                "steps"
            }
        ),
        RunEvent::ConcurrencyWaiting { key, holder } => match holder {
            Some(run) => format!("waiting: run {run} holds the concurrency key `{key}`"),
            None => format!("waiting: another run holds the concurrency key `{key}`"),
        },
        RunEvent::ConcurrencyAcquired { key, waited_ms } => {
            if *waited_ms == 0 {
                return None;
            }
            format!("concurrency key `{key}` acquired after {waited_ms}ms")
        }
        RunEvent::ApprovalRequested {
            step,
            message,
            approvers,
        } => {
            let who = if approvers.is_empty() {
                String::new()
            } else {
                format!(" (approvers: {})", approvers.join(", "))
            };
            format!("{step} waits for approval{who}: {message}")
        }
        RunEvent::ApprovalDecided {
            step,
            approved,
            by,
            comment,
            via,
            ..
        } => {
            let verdict = if *approved { "approved" } else { "rejected" };
            let comment = comment
                .as_deref()
                .map(|c| format!(": {c}"))
                .unwrap_or_default();
            format!("{step} {verdict} by {by} ({via}){comment}")
        }
        RunEvent::AttemptStarted {
            step,
            attempt,
            item,
            detail,
        } => {
            let first = detail.lines().next().unwrap_or_default();
            let more = if detail.lines().nth(1).is_some() {
                " …"
            } else {
                ""
            };
            format!(
                "{}{} started: {first}{more}",
                label(step, *item),
                attempt_note(*attempt)
            )
        }
        RunEvent::AttemptFinished {
            step,
            attempt,
            item,
            status,
            error,
            retry_in_ms,
            duration_ms,
            ..
        } => {
            if *status == StepStatus::Succeeded {
                return None;
            }
            let mut s = format!(
                "{}{} {status} after {}ms",
                label(step, *item),
                attempt_note(*attempt),
                duration_ms
            );
            if let Some(e) = error {
                s.push_str(&format!(": {e}"));
            }
            if let Some(ms) = retry_in_ms {
                s.push_str(&format!(" (retry in {ms}ms)"));
            }
            s
        }
        RunEvent::StepFinished { step, outcome } => {
            let status = outcome.status;
            let mut s = format!("{} {step} {status}", step_style(status).1);
            if status != StepStatus::Skipped {
                s.push_str(&format!(" in {}ms", outcome.duration_ms));
            }
            if outcome.attempts > 1 {
                s.push_str(&format!(" ({} attempts)", outcome.attempts));
            }
            if let Some(e) = &outcome.error {
                s.push_str(&format!(": {e}"));
            }
            s
        }
        RunEvent::Phase { phase } => format!("-- {phase}"),
        RunEvent::RunFinished(outcome) => {
            let mut s = format!("run {} in {}ms", outcome.status, outcome.duration_ms);
            if let Some(e) = &outcome.error {
                s.push_str(&format!(": {e}"));
            }
            s
        }
        RunEvent::Output { .. } => return None,
    })
}

fn label(step: &str, item: Option<usize>) -> String {
    match item {
        Some(i) => format!("{step}[{i}]"),
        None => step.to_owned(),
    }
}

fn attempt_note(attempt: u32) -> String {
    if attempt > 1 {
        format!(" attempt {attempt}")
    } else {
        String::new()
    }
}

impl EventSink for Plain {
    fn emit(&self, event: &RunEvent) {
        let Ok(mut out) = self.out.lock() else { return };
        let ts = chrono::Utc::now().format("%H:%M:%S%.3f");
        if let RunEvent::Output { step, stream, line } = event {
            let mark = if *stream == OutputStream::Stderr {
                "!"
            } else {
                "|"
            };
            let _ = writeln!(out, "{ts} {step} {mark} {line}");
            return;
        }
        if self.github {
            let mut groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
            match event {
                RunEvent::AttemptStarted { step, .. } if !groups.contains(step) => {
                    groups.insert(step.clone());
                    let _ = writeln!(out, "::group::{step}");
                }
                RunEvent::StepFinished { step, outcome } => {
                    if groups.remove(step) {
                        let _ = writeln!(out, "::endgroup::");
                    }
                    if outcome.status == StepStatus::Failed {
                        let msg = outcome.error.clone().unwrap_or_default();
                        let msg = msg.replace('\n', "%0A");
                        let _ = writeln!(out, "::error title=step {step} failed::{msg}");
                    }
                }
                _ => {}
            }
        }
        if let Some(text) = describe(event) {
            let style = match event {
                RunEvent::StepFinished { outcome, .. } => Some(step_style(outcome.status).0),
                RunEvent::RunFinished(outcome) => Some(run_style(outcome.status).0),
                _ => None,
            };
            let styled = match style {
                Some(style) => format!("{}{text}{}", style.render(), style.render_reset()),
                None => text,
            };
            let _ = writeln!(out, "{ts} {styled}");
        }
    }
}
