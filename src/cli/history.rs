//! `steward history [--runbook N] [--status S] [--limit N] [--output json]`

use std::path::Path;

use crate::store::{RunFilter, RunRecord, RunStore};

use super::exit;
use crate::duration::human_ms;

/// Arguments of `history`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only runs of this runbook.
    #[arg(long, value_name = "NAME")]
    runbook: Option<String>,
    /// Only runs with this status (`running`, `waiting`, `interrupted`,
    /// `succeeded`, `failed`, `cancelled`, `timed_out`).
    #[arg(long, value_name = "STATUS")]
    status: Option<String>,
    /// At most this many runs (the newest).
    #[arg(long, default_value_t = 20, value_name = "N")]
    limit: usize,
    /// `text` (a table) or `json` (an array of runs).
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    output: String,
}

pub fn run(project_dir: Option<&Path>, store: Option<&str>, args: Args) -> anyhow::Result<u8> {
    let (_project, store) = match super::project_store(project_dir, store) {
        Ok(found) => found,
        Err(code) => return Ok(code),
    };
    let runs = match args.status.as_deref().map(str::parse).transpose() {
        Ok(status) => store.list_runs(&RunFilter {
            runbook: args.runbook,
            status,
            limit: Some(args.limit),
            parent: None,
        }),
        // A status no run can have matches no run.
        Err(_) => Ok(Vec::new()),
    };
    let runs = match runs {
        Ok(runs) => runs,
        Err(e) => {
            super::print_error(&e.to_string(), None);
            return Ok(exit::FAILED);
        }
    };
    if args.output == "json" {
        super::write_stdout(&serde_json::to_string_pretty(&runs)?)?;
    } else if runs.is_empty() {
        super::write_stdout("no runs")?;
    } else {
        super::write_stdout(table(&runs).trim_end())?;
    }
    Ok(exit::OK)
}

/// The runs as an aligned table with a header.
fn table(runs: &[RunRecord]) -> String {
    let header = [
        "RUN",
        "RUNBOOK",
        "STATUS",
        "STARTED (UTC)",
        "DURATION",
        "TRIGGER",
    ]
    .map(str::to_owned);
    let rows: Vec<[String; 6]> = runs
        .iter()
        .map(|r| {
            [
                r.id.clone(),
                // A child run names its parent's step.
                match (&r.parent_step, &r.parent_run_id) {
                    (Some(step), Some(_)) => format!("{} (child of step {step})", r.runbook),
                    _ => r.runbook.clone(),
                },
                r.status.to_string(),
                chrono::DateTime::parse_from_rfc3339(&r.started_at).map_or_else(
                    |_| r.started_at.clone(),
                    |t| t.to_utc().format("%Y-%m-%d %H:%M:%S").to_string(),
                ),
                r.duration_ms.map_or_else(|| "-".to_owned(), human_ms),
                format!("{} ({})", r.trigger_kind, r.actor),
            ]
        })
        .collect();
    render_table(&header, &rows)
}

/// Left-aligned columns, two spaces apart.
pub(crate) fn render_table<const N: usize>(header: &[String; N], rows: &[[String; N]]) -> String {
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(header).chain(rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}
