//! The server's counters, as `GET /metrics` shows them: Prometheus text
//! exposition format (version 0.0.4), written by hand. Counters cover the
//! runs this server process started (and the webhooks it refused) since it
//! started.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use crate::events::{EventSink, RunEvent};

/// Upper bounds (seconds) of the step duration histogram's buckets.
pub const DURATION_BUCKETS: [f64; 8] = [0.01, 0.1, 0.5, 1.0, 5.0, 30.0, 120.0, 600.0];

/// The content type of the text format.
pub const CONTENT_TYPE_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Default, Clone)]
struct Histogram {
    /// Per bucket (not cumulative), same order as [`DURATION_BUCKETS`].
    buckets: [u64; DURATION_BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, value: f64) {
        if let Some(i) = DURATION_BUCKETS.iter().position(|le| value <= *le) {
            self.buckets[i] += 1;
        }
        self.sum += value;
        self.count += 1;
    }
}

#[derive(Default)]
struct Inner {
    started: BTreeMap<String, u64>,
    finished: BTreeMap<(String, String), u64>,
    durations: BTreeMap<String, Histogram>,
    retries: BTreeMap<String, u64>,
    rejections: BTreeMap<(String, String), u64>,
    limited: BTreeMap<String, u64>,
}

/// The server's metrics, shared by every request and run.
#[derive(Default)]
pub(crate) struct Metrics {
    inner: Mutex<Inner>,
}

impl Metrics {
    fn with(&self, f: impl FnOnce(&mut Inner)) {
        if let Ok(mut inner) = self.inner.lock() {
            f(&mut inner);
        }
    }

    /// A webhook delivery was refused; `reason` is one of a few fixed words.
    pub(crate) fn rejection(&self, hook: &str, reason: &str) {
        self.with(|m| {
            *m.rejections
                .entry((hook.to_owned(), reason.to_owned()))
                .or_default() += 1;
        });
    }

    /// A request was refused by a limit; `reason` is one of a few fixed
    /// words (`token_rate`, `hook_rate`, `body_timeout`, `request_timeout`).
    pub(crate) fn limited(&self, reason: &str) {
        self.with(|m| *m.limited.entry(reason.to_owned()).or_default() += 1);
    }

    fn record(&self, runbook: &str, event: &RunEvent) {
        match event {
            RunEvent::RunStarted { .. } => self.with(|m| {
                *m.started.entry(runbook.to_owned()).or_default() += 1;
            }),
            RunEvent::AttemptStarted { attempt, .. } if *attempt > 1 => self.with(|m| {
                *m.retries.entry(runbook.to_owned()).or_default() += 1;
            }),
            // Steps that ran (a skipped step made no attempt).
            RunEvent::StepFinished { outcome, .. } if outcome.attempts > 0 => self.with(|m| {
                m.durations
                    .entry(runbook.to_owned())
                    .or_default()
                    .observe(outcome.duration_ms as f64 / 1000.0);
            }),
            RunEvent::RunFinished(outcome) => self.with(|m| {
                *m.finished
                    .entry((runbook.to_owned(), outcome.status.as_str().to_owned()))
                    .or_default() += 1;
            }),
            _ => {}
        }
    }

    /// The text exposition, with `running` runs in progress.
    pub(crate) fn render(&self, running: usize) -> String {
        let inner = match self.inner.lock() {
            Ok(inner) => inner,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut out = String::new();
        family(
            &mut out,
            "steward_runs_started_total",
            "Runs started by this server, by runbook.",
            "counter",
        );
        for (runbook, n) in &inner.started {
            sample(
                &mut out,
                "steward_runs_started_total",
                &[("runbook", runbook)],
                *n,
            );
        }
        family(
            &mut out,
            "steward_runs_finished_total",
            "Runs started by this server that ended, by runbook and final status.",
            "counter",
        );
        for ((runbook, status), n) in &inner.finished {
            sample(
                &mut out,
                "steward_runs_finished_total",
                &[("runbook", runbook), ("status", status)],
                *n,
            );
        }
        family(
            &mut out,
            "steward_step_duration_seconds",
            "Duration of the steps that ran (all attempts), by runbook.",
            "histogram",
        );
        for (runbook, h) in &inner.durations {
            let mut cumulative = 0;
            for (le, n) in DURATION_BUCKETS.iter().zip(h.buckets) {
                cumulative += n;
                sample(
                    &mut out,
                    "steward_step_duration_seconds_bucket",
                    &[("runbook", runbook), ("le", &le.to_string())],
                    cumulative,
                );
            }
            sample(
                &mut out,
                "steward_step_duration_seconds_bucket",
                &[("runbook", runbook), ("le", "+Inf")],
                h.count,
            );
            sample(
                &mut out,
                "steward_step_duration_seconds_sum",
                &[("runbook", runbook)],
                h.sum,
            );
            sample(
                &mut out,
                "steward_step_duration_seconds_count",
                &[("runbook", runbook)],
                h.count,
            );
        }
        family(
            &mut out,
            "steward_step_retries_total",
            "Step attempts beyond the first, by runbook.",
            "counter",
        );
        for (runbook, n) in &inner.retries {
            sample(
                &mut out,
                "steward_step_retries_total",
                &[("runbook", runbook)],
                *n,
            );
        }
        family(
            &mut out,
            "steward_webhook_rejections_total",
            "Webhook deliveries refused, by hook and reason.",
            "counter",
        );
        for ((hook, reason), n) in &inner.rejections {
            sample(
                &mut out,
                "steward_webhook_rejections_total",
                &[("hook", hook), ("reason", reason)],
                *n,
            );
        }
        family(
            &mut out,
            "steward_requests_limited_total",
            "Requests refused by a rate or time limit, by reason.",
            "counter",
        );
        for (reason, n) in &inner.limited {
            sample(
                &mut out,
                "steward_requests_limited_total",
                &[("reason", reason)],
                *n,
            );
        }
        family(
            &mut out,
            "steward_runs_running",
            "Runs hosted by this server in progress (running or waiting).",
            "gauge",
        );
        sample(&mut out, "steward_runs_running", &[], running);
        out
    }
}

fn family(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (key, value)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{key}=\"{}\"", escape(value));
        }
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}

/// A label value escaped as the text format wants: backslash, double
/// quote and line feed.
pub(crate) fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Records a hosted run's events into the server's metrics.
pub(crate) struct MetricsSink {
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) runbook: String,
}

impl EventSink for MetricsSink {
    fn emit(&self, event: &RunEvent) {
        self.metrics.record(&self.runbook, event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::{RunOutcome, RunStatus, StepOutcome, StepStatus};

    #[test]
    fn escapes_label_values() {
        assert_eq!(escape(r#"a\b"c"#), r#"a\\b\"c"#);
        assert_eq!(escape("x\ny"), "x\\ny");
    }

    #[test]
    fn renders_counters_and_histograms() {
        let m = Metrics::default();
        let finished = |status| {
            RunEvent::RunFinished(RunOutcome {
                status,
                duration_ms: 5,
                outputs: serde_json::Value::Null,
                error: None,
            })
        };
        m.record("d\"x", &finished(RunStatus::Failed));
        m.record(
            "d",
            &RunEvent::StepFinished {
                step: "s".into(),
                outcome: StepOutcome {
                    duration_ms: 200,
                    ..StepOutcome::new(StepStatus::Succeeded, 1)
                },
            },
        );
        m.rejection("gh", "mismatch");
        let text = m.render(3);
        assert!(
            text.contains("steward_runs_finished_total{runbook=\"d\\\"x\",status=\"failed\"} 1\n")
        );
        assert!(
            text.contains("steward_step_duration_seconds_bucket{runbook=\"d\",le=\"0.1\"} 0\n")
        );
        assert!(
            text.contains("steward_step_duration_seconds_bucket{runbook=\"d\",le=\"0.5\"} 1\n")
        );
        assert!(
            text.contains("steward_step_duration_seconds_bucket{runbook=\"d\",le=\"+Inf\"} 1\n")
        );
        assert!(text.contains("steward_step_duration_seconds_sum{runbook=\"d\"} 0.2\n"));
        assert!(
            text.contains("steward_webhook_rejections_total{hook=\"gh\",reason=\"mismatch\"} 1\n")
        );
        assert!(text.contains("# TYPE steward_runs_running gauge\nsteward_runs_running 3\n"));
    }
}
