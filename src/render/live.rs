//! The live view on a TTY: one line per step with a spinner, its state,
//! attempts and elapsed time; step output scrolls above.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{describe, step_style};
use crate::events::{EventSink, RunEvent};
use crate::outcome::StepStatus;

/// The live DAG view.
pub struct Live {
    multi: MultiProgress,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl Default for Live {
    fn default() -> Self {
        Live {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            bars: Mutex::new(HashMap::new()),
        }
    }
}

impl Live {
    fn bar(&self, step: &str) -> ProgressBar {
        let mut bars = match self.bars.lock() {
            Ok(b) => b,
            Err(p) => p.into_inner(),
        };
        bars.entry(step.to_owned())
            .or_insert_with(|| {
                let bar = self.multi.add(ProgressBar::new_spinner());
                let style = ProgressStyle::with_template(
                    "{spinner:.cyan} {prefix:.bold} {msg} {elapsed:.dim}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_spinner());
                bar.set_style(style);
                bar.set_prefix(step.to_owned());
                bar.enable_steady_tick(Duration::from_millis(100));
                bar
            })
            .clone()
    }
}

impl EventSink for Live {
    fn emit(&self, event: &RunEvent) {
        match event {
            RunEvent::Output { step, line, .. } => {
                let _ = self.multi.println(format!("  {step} | {line}"));
            }
            RunEvent::AttemptStarted {
                step,
                attempt,
                item,
                ..
            } => {
                let bar = self.bar(step);
                let mut msg = String::from("running");
                if *attempt > 1 {
                    msg.push_str(&format!(" (attempt {attempt})"));
                }
                if let Some(i) = item {
                    msg.push_str(&format!(" item {i}"));
                }
                bar.set_message(msg);
            }
            RunEvent::AttemptFinished {
                step,
                status: StepStatus::Failed,
                retry_in_ms: Some(ms),
                attempt,
                ..
            } => {
                self.bar(step)
                    .set_message(format!("retrying in {ms}ms (attempt {attempt} failed)"));
            }
            RunEvent::StepFinished { step, outcome } => {
                let bar = self.bar(step);
                let (style, mark) = step_style(outcome.status);
                let text = describe(event).unwrap_or_default();
                bar.set_style(
                    ProgressStyle::with_template("{msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                let text = text.trim_start_matches(mark).trim_start();
                bar.finish_with_message(format!(
                    "{}{mark}{} {text}",
                    style.render(),
                    style.render_reset()
                ));
            }
            other => {
                if let Some(text) = describe(other) {
                    let _ = self.multi.println(text);
                }
            }
        }
    }
}
