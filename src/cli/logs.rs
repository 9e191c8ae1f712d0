//! `steward logs RUN [--step ID] [--follow]`

use std::path::Path;

use crate::outcome::RunStatus;
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
    /// Keep printing new lines until the run ends (or its process dies).
    #[arg(long, short = 'f')]
    follow: bool,
}

pub fn run(project_dir: Option<&Path>, store: Option<&str>, args: Args) -> anyhow::Result<u8> {
    let (_project, store) = match super::project_store(project_dir, store) {
        Ok(found) => found,
        Err(code) => return Ok(code),
    };
    let found = store.get_run(&args.run).and_then(|run| match run {
        Some(_) => store.logs_after(&args.run, 0).map(Some),
        None => Ok(None),
    });
    let (lines, mut cursor) = match super::stored(&store, &args.run, found) {
        Ok(found) => found,
        Err(code) => return Ok(code),
    };
    print(&lines, args.step.as_deref())?;
    if !args.follow {
        return Ok(exit::OK);
    }
    loop {
        // Read the status before the lines: a run that ended after this
        // read has its last lines read below, and the loop then ends.
        let ended = match store.get_run(&args.run) {
            Ok(Some(d)) => !matches!(d.run.status, RunStatus::Running | RunStatus::Waiting),
            Ok(None) => true,
            Err(e) => {
                super::print_error(&e.to_string(), None);
                return Ok(exit::FAILED);
            }
        };
        match store.logs_after(&args.run, cursor) {
            Ok((lines, next)) => {
                print(&lines, args.step.as_deref())?;
                cursor = next;
            }
            Err(e) => {
                super::print_error(&e.to_string(), None);
                return Ok(exit::FAILED);
            }
        }
        if ended {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    Ok(exit::OK)
}

fn print(lines: &[crate::store::LogLine], step: Option<&str>) -> anyhow::Result<()> {
    let text: Vec<String> = lines
        .iter()
        .filter(|l| step.is_none_or(|s| s == l.step))
        .map(|l| {
            let mark = if l.stream == "stderr" { "!" } else { "|" };
            format!("{} {mark} {}", l.step, l.line)
        })
        .collect();
    if !text.is_empty() {
        super::write_stdout(&text.join("\n"))?;
    }
    Ok(())
}
