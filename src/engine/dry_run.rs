//! `--dry-run`: what a run would do, step by step, with nothing executed.

use std::sync::Arc;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::RunRequest;
use super::shared::Shared;
use crate::duration::human;
use crate::events::Recorder;
use crate::plan::{ForEach, Section, Step};
use crate::retry::{Backoff, RetryOn};

/// The reviewed plan of a run.
#[derive(Debug, Clone, Serialize)]
pub struct DryRun {
    /// Runbook name.
    pub runbook: String,
    /// Inputs, resolved, secrets masked.
    pub inputs: serde_json::Value,
    /// Vars, resolved, secrets masked (or the error).
    pub vars: serde_json::Value,
    /// The concurrency key, rendered.
    pub concurrency: Option<String>,
    /// The run's timeout.
    pub timeout: Option<String>,
    /// Step limit.
    pub max_parallel: Option<usize>,
    /// Every step in an order that respects `needs`.
    pub steps: Vec<DryStep>,
}

/// One step as it would run.
#[derive(Debug, Clone, Serialize)]
pub struct DryStep {
    /// Step id.
    pub id: String,
    /// `steps`, `on_failure`, `finally` or `undo`.
    pub section: &'static str,
    /// The kind, or the template it expands.
    pub kind: String,
    /// Steps it waits for.
    pub needs: Vec<String>,
    /// The rendered command or what it does; or the template when it
    /// depends on values known only at run time.
    pub action: String,
    /// Whether the action is fully rendered.
    pub rendered: bool,
    /// The condition and whether it is decided already.
    pub when: Option<String>,
    /// Iteration.
    pub for_each: Option<String>,
    /// Gates: retry policy, timeout, continue_on_error, asserts.
    pub gates: Vec<String>,
    /// Its compensation.
    pub undo: Option<String>,
}

/// Builds the dry run of a request. Executes nothing.
pub fn dry_run(request: &RunRequest) -> DryRun {
    let events: Arc<dyn crate::events::EventSink> = Arc::new(Recorder::default());
    let mut shared = Shared::new(request, events);
    let vars = match shared.prepare() {
        Ok(()) => {
            let mut v = crate::template::to_json(&shared.vars).unwrap_or_default();
            shared.redactor.redact_json(&mut v);
            v
        }
        Err(e) => serde_json::json!({ "error": e }),
    };
    let mut inputs = serde_json::to_value(&request.inputs).unwrap_or_default();
    shared.redactor.redact_json(&mut inputs);
    let ctx = shared.context(None, None, None);
    let concurrency = shared.plan.concurrency.as_ref().map(|c| {
        let key = shared
            .renderer
            .render(&c.key, &ctx)
            .unwrap_or_else(|e| format!("<{e}>"));
        format!("{} (on conflict: {:?})", shared.redact(&key), c.on_conflict).to_lowercase()
    });
    let plan = shared.plan.clone();
    let mut steps = Vec::new();
    for list in [&plan.steps, &plan.on_failure, &plan.finally] {
        for i in topological(list) {
            steps.push(describe(&shared, &list[i], list));
            if let Some(undo) = &list[i].undo {
                steps.push(describe(&shared, undo, &[]));
            }
        }
    }
    DryRun {
        runbook: plan.name.clone(),
        inputs,
        vars,
        concurrency,
        timeout: plan.timeout.map(human),
        max_parallel: plan.max_parallel,
        steps,
    }
}

fn topological(steps: &[Step]) -> Vec<usize> {
    let dag = crate::plan::dag_of(steps);
    match petgraph::algo::toposort(&dag, None) {
        Ok(order) => order.into_iter().map(|n| n.index()).collect(),
        Err(_) => (0..steps.len()).collect(),
    }
}

fn describe(shared: &Shared, step: &Step, list: &[Step]) -> DryStep {
    let cancel = CancellationToken::new();
    let base = shared.context(None, None, None);
    let params = step.template.as_ref().and_then(|t| {
        let mut map = serde_json::Map::new();
        for (name, value) in &t.params {
            map.insert(name.clone(), shared.renderer.value(value, &base).ok()?);
        }
        Some(minijinja::Value::from_serialize(&map))
    });
    let item = step
        .for_each
        .as_ref()
        .map(|_| minijinja::Value::from("<item>"));
    let ctx = shared.context(item.as_ref(), params.as_ref(), None);
    let step_ctx = shared.step_context(step, &ctx, &cancel);
    let (action, rendered) = match step.kind.describe(&step_ctx) {
        Ok(text) => (text, true),
        Err(e) => (
            format!(
                "{}\n(rendered at run time: {})",
                step.kind.source(),
                shared.redact(&e.to_string())
            ),
            false,
        ),
    };
    let when = step
        .when
        .as_ref()
        .map(|w| match shared.renderer.eval(w, &ctx) {
            Ok(v) if v.is_true() => format!("{} → true now: will run", w.source),
            Ok(_) => format!("{} → false now: will be skipped", w.source),
            Err(_) => format!("{} → decided at run time", w.source),
        });
    let for_each = step.for_each.as_ref().map(|f| match f {
        ForEach::Expr(e) => match shared.renderer.eval(e, &ctx) {
            Ok(v) => format!("{} → {} items", e.source, v.len().unwrap_or(0)),
            Err(_) => format!("{} → decided at run time", e.source),
        },
        ForEach::Items(items) => format!("{} items", items.len()),
    });
    let mut gates = Vec::new();
    let r = &step.retry;
    if r.attempts > 1 {
        let backoff = match r.backoff {
            Backoff::Fixed => "fixed",
            Backoff::Exponential => "exponential",
        };
        let mut g = format!(
            "retry: {} attempts, {} {backoff}",
            r.attempts,
            human(r.delay)
        );
        if let Some(max) = r.max_delay {
            g.push_str(&format!(", max {}", human(max)));
        }
        if let RetryOn::Only(on) = &r.on {
            g.push_str(&format!(
                ", on {}",
                serde_json::to_string(on).unwrap_or_default()
            ));
        }
        if let Some(d) = r.deadline {
            g.push_str(&format!(", deadline {}", human(d)));
        }
        gates.push(g);
    }
    if let Some(t) = step.timeout {
        gates.push(format!("timeout: {}", human(t)));
    }
    if step.continue_on_error {
        gates.push("continue_on_error".into());
    }
    for a in &step.assert {
        gates.push(format!("assert: {}", a.source));
    }
    DryStep {
        id: step.id.clone(),
        section: match step.section {
            Section::Main => "steps",
            Section::OnFailure => "on_failure",
            Section::Finally => "finally",
            Section::Undo => "undo",
        },
        kind: match &step.template {
            Some(t) => format!("uses {}", t.name),
            None => step.kind.name().to_owned(),
        },
        needs: step
            .needs
            .iter()
            .filter_map(|&n| list.get(n).map(|s| s.id.clone()))
            .collect(),
        action,
        rendered,
        when,
        for_each,
        gates,
        undo: step.undo.as_ref().map(|u| u.id.clone()),
    }
}
