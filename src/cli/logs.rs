//! `steward logs RUN [--step ID]`

use std::path::Path;

use crate::store::RunStore;

use super::exit;

/// Arguments of `logs`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run id (see `steward history`).
    run: String,
    /// Only this step's lines.
    #[arg(long, value_name = "ID")]
    step: Option<String>,
}

pub fn run(project_dir: Option<&Path>, store: Option<&str>, args: Args) -> anyhow::Result<u8> {
    let (_project, store) = match super::project_store(project_dir, store) {
        Ok(found) => found,
        Err(code) => return Ok(code),
    };
    let found = store.get_run(&args.run).and_then(|run| match run {
        Some(_) => store.logs(&args.run).map(Some),
        None => Ok(None),
    });
    let lines = match super::stored(&store, &args.run, found) {
        Ok(lines) => lines,
        Err(code) => return Ok(code),
    };
    let text: Vec<String> = lines
        .iter()
        .filter(|l| args.step.as_deref().is_none_or(|s| s == l.step))
        .map(|l| {
            let mark = if l.stream == "stderr" { "!" } else { "|" };
            format!("{} {mark} {}", l.step, l.line)
        })
        .collect();
    if !text.is_empty() {
        super::write_stdout(&text.join("\n"))?;
    }
    Ok(exit::OK)
}
