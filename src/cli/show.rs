//! `steward show RUN [--output json]`

use std::fmt::Write as _;
use std::path::Path;

use crate::store::{RunDetail, RunStore};

use super::exit;
use super::history::render_table;
use crate::duration::human_ms;

/// Arguments of `show`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run id (see `steward history`).
    run: String,
    /// `text` or `json` (the run with its steps).
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    output: String,
}

pub fn run(project_dir: Option<&Path>, store: Option<&str>, args: Args) -> anyhow::Result<u8> {
    let (_project, store) = match super::project_store(project_dir, store) {
        Ok(found) => found,
        Err(code) => return Ok(code),
    };
    let detail = match super::stored(&store, &args.run, store.get_run(&args.run)) {
        Ok(d) => d,
        Err(code) => return Ok(code),
    };
    if args.output == "json" {
        super::write_stdout(&serde_json::to_string_pretty(&detail)?)?;
    } else {
        super::write_stdout(text(&detail).trim_end())?;
    }
    Ok(exit::OK)
}

fn text(d: &RunDetail) -> String {
    let r = &d.run;
    let mut s = String::new();
    let _ = writeln!(s, "run:      {}", r.id);
    let _ = writeln!(s, "runbook:  {} ({})", r.runbook, r.source_path);
    let _ = writeln!(s, "status:   {}", r.status);
    let origin = r
        .origin
        .as_deref()
        .map(|o| format!(", {o}"))
        .unwrap_or_default();
    let _ = writeln!(s, "trigger:  {} by {}{origin}", r.trigger_kind, r.actor);
    if let (Some(parent), Some(step)) = (&r.parent_run_id, &r.parent_step) {
        let _ = writeln!(s, "parent:   run {parent}, step {step}");
    }
    let _ = writeln!(s, "started:  {}", r.started_at);
    if let Some(f) = &r.finished_at {
        let took = r.duration_ms.map(human_ms).unwrap_or_default();
        let _ = writeln!(s, "finished: {f} ({took})");
    }
    let _ = writeln!(s, "inputs:   {}", r.inputs);
    if let Some(o) = &r.outputs {
        let _ = writeln!(s, "outputs:  {o}");
    }
    if let Some(e) = &r.error {
        let _ = writeln!(s, "error:    {e}");
    }
    for a in &d.approvals {
        let verdict = match &a.decision {
            None => "waiting for a decision".to_owned(),
            Some(dec) => format!(
                "{} by {} ({}) at {}{}",
                if dec.approved { "approved" } else { "rejected" },
                dec.by,
                dec.via,
                dec.decided_at,
                dec.comment
                    .as_deref()
                    .map(|c| format!(": {c}"))
                    .unwrap_or_default()
            ),
        };
        let _ = writeln!(s, "approval: {} \"{}\": {verdict}", a.step, a.message);
    }
    for child in &d.children {
        let step = child.parent_step.as_deref().unwrap_or("?");
        let _ = writeln!(
            s,
            "child:    run {} of {} (step {step}): {}",
            child.id, child.runbook, child.status
        );
    }
    if d.steps.is_empty() {
        return s;
    }
    s.push('\n');
    let header = ["STEP", "STATUS", "ATTEMPTS", "DURATION", "ERROR"].map(str::to_owned);
    let rows: Vec<[String; 5]> = d
        .steps
        .iter()
        .map(|st| {
            let o = &st.outcome;
            [
                st.step.clone(),
                o.status.to_string(),
                o.attempts.to_string(),
                if o.status.has_ended() {
                    human_ms(o.duration_ms)
                } else {
                    "-".to_owned()
                },
                o.error
                    .as_deref()
                    .and_then(|e| e.lines().next())
                    .unwrap_or("")
                    .to_owned(),
            ]
        })
        .collect();
    s.push_str(&render_table(&header, &rows));
    s
}
