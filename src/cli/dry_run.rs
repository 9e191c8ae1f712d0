//! The text form of `run --dry-run`.

use std::io::Write;

use crate::engine::DryRun;

/// Prints a dry run for an operator to review.
pub fn print(dry: &DryRun) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "dry run of {} (nothing is executed)", dry.runbook);
    let _ = writeln!(out, "inputs: {}", dry.inputs);
    let _ = writeln!(out, "vars:   {}", dry.vars);
    if let Some(c) = &dry.concurrency {
        let _ = writeln!(out, "concurrency key: {c}");
    }
    if let Some(t) = &dry.timeout {
        let _ = writeln!(out, "run timeout: {t}");
    }
    if let Some(m) = dry.max_parallel {
        let _ = writeln!(out, "max_parallel: {m}");
    }
    let mut section = "";
    let mut n = 0;
    for step in &dry.steps {
        if step.section == "undo" {
            let _ = writeln!(out, "     undo step {}:", step.id);
            for line in step.action.lines() {
                let _ = writeln!(
                    out,
                    "       {} {line}",
                    if step.rendered { "$" } else { "?" }
                );
            }
            continue;
        }
        n += 1;
        if step.section != section {
            section = step.section;
            let _ = writeln!(out, "\n[{section}]");
        }
        let needs = if step.needs.is_empty() {
            String::new()
        } else {
            format!(" (after {})", step.needs.join(", "))
        };
        let _ = writeln!(out, "{n:>3}. {} — {}{needs}", step.id, step.kind);
        if let Some(w) = &step.when {
            let _ = writeln!(out, "     when: {w}");
        }
        if let Some(f) = &step.for_each {
            let _ = writeln!(out, "     for_each: {f}");
        }
        for line in step.action.lines() {
            let _ = writeln!(out, "     {} {line}", if step.rendered { "$" } else { "?" });
        }
        for g in &step.gates {
            let _ = writeln!(out, "     gate: {g}");
        }
    }
}
