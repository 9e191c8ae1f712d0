//! `steward list [--output json]`

use std::io::Write;
use std::path::Path;

use crate::plan::Plan;

use super::{exit, open_project, print_reports};

/// Arguments of `list`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// `text` (default) or `json`.
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    output: String,
}

pub fn run(project_dir: Option<&Path>, args: Args) -> anyhow::Result<u8> {
    let project = match open_project(project_dir) {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let (library, _) = match project.library() {
        Ok(l) => l,
        Err(e) => {
            super::print_project_error(&e);
            return Ok(exit::INVALID);
        }
    };
    let mut plans = Vec::new();
    let mut invalid = Vec::new();
    for path in project.runbook_files() {
        match project.compile_file(&path, &library) {
            Ok((_, Some(plan))) => plans.push(plan),
            Ok((report, None)) => invalid.push(report),
            Err(e) => super::print_project_error(&e),
        }
    }
    let mut out = String::new();
    if args.output == "json" {
        let list: Vec<_> = plans.iter().map(Plan::summary).collect();
        out = serde_json::to_string_pretty(&list)?;
    } else {
        use std::fmt::Write as _;
        for plan in &plans {
            writeln!(out, "{}", plan.name)?;
            if let Some(d) = &plan.description {
                writeln!(out, "    {}", d.trim())?;
            }
            for (name, input) in &plan.inputs {
                let mut line = format!("    -i {name}: {}", input.kind.name());
                if input.required {
                    line.push_str(" (required)");
                }
                if let Some(default) = &input.default {
                    line.push_str(&format!(" = {default}"));
                }
                if let Some(allowed) = &input.allowed {
                    let list: Vec<String> = allowed.iter().map(|a| a.to_string()).collect();
                    line.push_str(&format!(" one of {}", list.join(", ")));
                }
                writeln!(out, "{line}")?;
            }
            for trigger in triggers(plan) {
                writeln!(out, "    trigger: {trigger}")?;
            }
        }
    }
    super::write_stdout(out.trim_end())?;
    if !invalid.is_empty() {
        print_reports(&invalid);
        let _ = writeln!(
            anstream::stderr(),
            "{} invalid {} left out; run `steward validate`",
            invalid.len(),
            super::plural(invalid.len(), "runbook")
        );
        return Ok(exit::INVALID);
    }
    Ok(exit::OK)
}

fn triggers(plan: &Plan) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(schedules) = &plan.triggers.schedule {
        for s in &schedules.0 {
            let tz = s.value.timezone.as_deref().unwrap_or("UTC");
            out.push(format!("schedule \"{}\" ({tz})", s.value.cron));
        }
    }
    if let Some(chat) = &plan.triggers.chat {
        let command = chat.command.clone().unwrap_or_else(|| plan.name.clone());
        out.push(format!("chat /runbook {command}"));
    }
    out
}
